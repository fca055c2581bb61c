/*  Normalized JSON of decoded messages (the form of schemas/vectors/NAME.json):
    every field with its default filled in, NaN as null, bars as columns.
    Integers print exactly (uint64 in full), doubles with 17 significant digits
    so that they read back to the same bits. Shared by ml4t-codec-tool and
    test_codec; static, header-only. */
#ifndef ML4T_CODEC_JSON_H_INCLUDED
#define ML4T_CODEC_JSON_H_INCLUDED

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ml4t/codec.h"

static inline void cj_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static inline void cj_num(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.17g", x);
    else
        fputs("null", f);
}

static inline void cj_key(FILE *f, const char *k, int *first)
{
    fputs(*first ? "" : ",", f);
    *first = 0;
    cj_str(f, k);
    fputc(':', f);
}

#define CJ_S(f, k, v, first) (cj_key(f, k, first), cj_str(f, v))
#define CJ_U(f, k, v, first) (cj_key(f, k, first), fprintf(f, "%" PRIu64, (uint64_t)(v)))
#define CJ_I(f, k, v, first) (cj_key(f, k, first), fprintf(f, "%d", (int)(v)))
#define CJ_D(f, k, v, first) (cj_key(f, k, first), cj_num(f, v))
#define CJ_B(f, k, v, first) (cj_key(f, k, first), fputs((v) ? "true" : "false", f))

static inline void cj_head(FILE *f, ml4t_msg_type_t type, int *first)
{
    fputc('{', f);
    CJ_S(f, "type", ml4t_msg_type_name(type), first);
    CJ_I(f, "v", ML4T_SCHEMA_VERSION, first);
}

static inline void cj_column(FILE *f, const char *name, const double *col, size_t n, int *first)
{
    cj_key(f, name, first);
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? "," : "", f);
        cj_num(f, col[i]);
    }
    fputc(']', f);
}

static inline void cj_signal(FILE *f, const ml4t_signal_t *s)
{
    int first = 1, inner = 1;
    cj_head(f, ML4T_MSG_SIGNAL, &first);
    CJ_S(f, "instrument_id", s->instrument_id, &first);
    CJ_S(f, "strategy_id", s->strategy_id, &first);
    CJ_S(f, "signal_id", s->signal_id, &first);
    CJ_I(f, "signal", s->signal, &first);
    CJ_U(f, "ts_event", s->ts_event, &first);
    cj_key(f, "bars", &first);
    fputs("{\"ts\":[", f);
    for (size_t i = 0; i < s->bars.n; i++)
        fprintf(f, "%s%" PRIu64, i ? "," : "", s->bars.ts[i]);
    fputc(']', f);
    inner = 0;
    const ml4t_bars_t *b = &s->bars;
    cj_column(f, "open", b->open, b->n, &inner);
    cj_column(f, "high", b->high, b->n, &inner);
    cj_column(f, "low", b->low, b->n, &inner);
    cj_column(f, "close", b->close, b->n, &inner);
    cj_column(f, "volume", b->volume, b->n, &inner);
    cj_column(f, "buy_volume", b->buy_volume, b->n, &inner);
    fputs("}}", f);
}

static inline void cj_enriched(FILE *f, const ml4t_enriched_t *e)
{
    int first = 1, in = 1;
    cj_head(f, ML4T_MSG_ENRICHED, &first);
    CJ_S(f, "instrument_id", e->instrument_id, &first);
    CJ_S(f, "strategy_id", e->strategy_id, &first);
    CJ_S(f, "signal_id", e->signal_id, &first);
    CJ_I(f, "signal", e->signal, &first);
    CJ_U(f, "ts_event", e->ts_event, &first);
    CJ_D(f, "meta_confidence", e->meta_confidence, &first);
    CJ_B(f, "model_available", e->model_available, &first);
    CJ_S(f, "model_version", e->model_version, &first);
    CJ_D(f, "regime_weight", e->regime_weight, &first);
    CJ_D(f, "toxicity", e->toxicity, &first);
    CJ_S(f, "toxicity_level", ml4t_toxicity_level_name(e->toxicity_level), &first);
    CJ_D(f, "changepoint_prob", e->changepoint_prob, &first);
    CJ_D(f, "size", e->size.size, &first);
    CJ_I(f, "direction", e->size.direction, &first);
    cj_key(f, "size_factors", &first);
    fputc('{', f);
    CJ_D(f, "raw", e->size.raw, &in);
    CJ_D(f, "signal", e->size.f_signal, &in);
    CJ_D(f, "meta", e->size.f_meta, &in);
    CJ_D(f, "regime", e->size.f_regime, &in);
    CJ_D(f, "toxicity", e->size.f_toxicity, &in);
    CJ_D(f, "kelly", e->size.f_kelly, &in);
    CJ_B(f, "capped", e->size.capped, &in);
    CJ_B(f, "below_min", e->size.below_min, &in);
    fputc('}', f);
    cj_key(f, "verdict", &first);
    if (e->verdict.present) {
        in = 1;
        fputc('{', f);
        CJ_B(f, "allowed", e->verdict.allowed, &in);
        CJ_S(f, "reason", e->verdict.reason, &in);
        CJ_D(f, "min_confidence", e->verdict.min_confidence, &in);
        CJ_D(f, "max_risk_pct", e->verdict.max_risk_pct, &in);
        fputc('}', f);
    } else {
        fputs("null", f);
    }
    CJ_U(f, "latency_ns", e->latency_ns, &first);
    CJ_U(f, "latency_decode_ns", e->latency_decode_ns, &first);
    CJ_U(f, "latency_features_ns", e->latency_features_ns, &first);
    CJ_U(f, "latency_predict_ns", e->latency_predict_ns, &first);
    CJ_U(f, "latency_encode_ns", e->latency_encode_ns, &first);
    CJ_U(f, "ts_enriched", e->ts_enriched, &first);
    fputc('}', f);
}

static inline void cj_outcome(FILE *f, const ml4t_outcome_t *o)
{
    int first = 1;
    cj_head(f, ML4T_MSG_OUTCOME, &first);
    CJ_S(f, "instrument_id", o->instrument_id, &first);
    CJ_S(f, "signal_id", o->signal_id, &first);
    CJ_U(f, "ts_event", o->ts_event, &first);
    cj_key(f, "label", &first);
    if (o->has_label)
        fprintf(f, "%d", o->label);
    else
        fputs("null", f);
    CJ_D(f, "realized_return", o->has_return ? o->realized_return : NAN, &first);
    CJ_U(f, "ts_outcome", o->ts_outcome, &first);
    fputc('}', f);
}

static inline void cj_error_event(FILE *f, const ml4t_error_event_t *e)
{
    int first = 1;
    cj_head(f, ML4T_MSG_ERROR, &first);
    CJ_S(f, "reason", e->reason, &first);
    CJ_S(f, "message", e->message, &first);
    CJ_S(f, "instrument_id", e->instrument_id, &first);
    CJ_S(f, "key", e->key, &first);
    CJ_U(f, "ts_event", e->ts, &first);
    fputc('}', f);
}

static inline void cj_risk_state(FILE *f, const ml4t_risk_state_t *r)
{
    int first = 1;
    cj_head(f, ML4T_MSG_RISK_STATE, &first);
    CJ_D(f, "daily_pnl_pct", r->daily_pnl_pct, &first);
    CJ_D(f, "drawdown_pct", r->drawdown_pct, &first);
    CJ_I(f, "losing_streak", r->losing_streak, &first);
    CJ_I(f, "open_positions", r->open_positions, &first);
    CJ_D(f, "total_exposure_pct", r->total_exposure_pct, &first);
    CJ_U(f, "ts_event", r->ts_event, &first);
    fputc('}', f);
}

static inline void cj_error(FILE *f, const ml4t_error_t *err)
{
    fputs("{\"error\":{\"code\":", f);
    cj_str(f, ml4t_err_reason(err->code));
    fputs(",\"field\":", f);
    cj_str(f, err->field);
    fputs(",\"message\":", f);
    cj_str(f, err->msg);
    fputs("}}", f);
}

/* Any decoded message: peek the type, decode with its decoder. */
typedef struct {
    ml4t_msg_type_t type;
    ml4t_signal_t signal; /* init/destroy with cj_any_init/cj_any_destroy */
    ml4t_enriched_t enriched;
    ml4t_outcome_t outcome;
    ml4t_error_event_t error;
    ml4t_risk_state_t risk;
} cj_any_t;

static inline void cj_any_init(cj_any_t *m)
{
    memset(m, 0, sizeof *m);
    ml4t_signal_init(&m->signal);
}

static inline void cj_any_destroy(cj_any_t *m)
{
    ml4t_signal_destroy(&m->signal);
}

static inline ml4t_err_t cj_decode_any(ml4t_codec_t *c, const uint8_t *buf, size_t len, cj_any_t *m,
                                       ml4t_error_t *err)
{
    ml4t_err_t rc = ml4t_codec_peek_type(c, buf, len, &m->type, err);
    if (rc)
        return rc;
    switch (m->type) {
    case ML4T_MSG_SIGNAL:
        return ml4t_codec_decode_signal(c, buf, len, &m->signal, err);
    case ML4T_MSG_ENRICHED:
        return ml4t_codec_decode_enriched(c, buf, len, &m->enriched, err);
    case ML4T_MSG_OUTCOME:
        return ml4t_codec_decode_outcome(c, buf, len, &m->outcome, err);
    case ML4T_MSG_ERROR:
        return ml4t_codec_decode_error(c, buf, len, &m->error, err);
    case ML4T_MSG_RISK_STATE:
        return ml4t_codec_decode_risk_state(c, buf, len, &m->risk, err);
    default:
        return ML4T_EUNSUPPORTED;
    }
}

static inline void cj_any(FILE *f, const cj_any_t *m)
{
    switch (m->type) {
    case ML4T_MSG_SIGNAL:
        cj_signal(f, &m->signal);
        break;
    case ML4T_MSG_ENRICHED:
        cj_enriched(f, &m->enriched);
        break;
    case ML4T_MSG_OUTCOME:
        cj_outcome(f, &m->outcome);
        break;
    case ML4T_MSG_ERROR:
        cj_error_event(f, &m->error);
        break;
    case ML4T_MSG_RISK_STATE:
        cj_risk_state(f, &m->risk);
        break;
    default:
        fputs("null", f);
    }
}

#endif
