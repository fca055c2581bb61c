/*  ml4t-codec-tool: the C side of the wire-format interop test.

      ml4t-codec-tool decode
          reads one hex-encoded message per stdin line, decodes it (peek the
          type, then that type's decoder) and prints one JSON line: the
          normalized content, or {"error":{"code","field","message"}}.
      ml4t-codec-tool random SEED N
          encodes N random messages of every type (signals in both bar
          encodings) and prints one line per message:
          {"hex":"<msgpack>","expect":<normalized content of what was encoded>} */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml4t/codec.h"

#include "codec_json.h"

static int s_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int s_decode_lines(void)
{
    ml4t_codec_t *codec = ml4t_codec_new(NULL);
    cj_any_t m;
    cj_any_init(&m);
    char *line = NULL;
    size_t cap = 0;
    uint8_t *buf = NULL;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        uint8_t *nb = realloc(buf, (size_t)n / 2 + 1);
        if (!nb) {
            rc = 1;
            break;
        }
        buf = nb;
        size_t len = 0;
        for (ssize_t i = 0; i + 1 < n; i += 2) {
            int hi = s_hexval(line[i]), lo = s_hexval(line[i + 1]);
            if (hi < 0 || lo < 0) {
                fprintf(stderr, "ml4t-codec-tool: bad hex input\n");
                rc = 2;
                goto out;
            }
            buf[len++] = (uint8_t)(hi << 4 | lo);
        }
        ml4t_error_t err;
        ml4t_error_clear(&err);
        if (cj_decode_any(codec, buf, len, &m, &err))
            cj_error(stdout, &err);
        else
            cj_any(stdout, &m);
        fputc('\n', stdout);
    }
out:
    free(line);
    free(buf);
    cj_any_destroy(&m);
    ml4t_codec_destroy(&codec);
    return rc;
}

/* xorshift64*: a fixed, portable sequence for a given seed */
static uint64_t s_rng;
static uint64_t s_next(void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 2685821657736338717ull;
}
static double s_unit(void) /* [0, 1) with all 53 bits */
{
    return (double)(s_next() >> 11) * 0x1.0p-53;
}
static int s_pm1(void)
{
    return (int)(s_next() % 3) - 1;
}

static void s_rand_id(char *dst, size_t size, bool may_be_empty)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                   "_-:./ \"\\\xc3\xa9";
    size_t n = may_be_empty ? s_next() % 12 : 1 + s_next() % 40;
    if (n >= size)
        n = size - 1;
    size_t k = 0;
    while (k < n) {
        char c = alphabet[s_next() % (sizeof alphabet - 1)];
        if ((unsigned char)c == 0xc3) { /* keep UTF-8 whole: é */
            if (k + 2 > n)
                break;
            dst[k++] = (char)0xc3;
            dst[k++] = (char)0xa9;
        } else if ((unsigned char)c != 0xa9) {
            dst[k++] = c;
        }
    }
    dst[k] = '\0';
}

static void s_rand_signal(ml4t_signal_t *s)
{
    ml4t_signal_clear(s);
    s_rand_id(s->instrument_id, sizeof s->instrument_id, false);
    s_rand_id(s->strategy_id, sizeof s->strategy_id, true);
    s_rand_id(s->signal_id, sizeof s->signal_id, true);
    s->signal = s_pm1();
    s->ts_event = s_next();
    size_t n = s_next() % 130;
    bool buy = s_next() % 2;
    uint64_t ts = s_next() >> 8;
    double px = 0.001 + s_unit() * 50000.0;
    for (size_t i = 0; i < n; i++) {
        double lo = px * (1.0 - 0.01 * s_unit()), hi = px * (1.0 + 0.01 * s_unit());
        double vol = s_unit() * 1e6, bv = buy && s_next() % 8 ? vol * s_unit() : NAN;
        ml4t_bars_push(&s->bars, ts, px, hi, lo, lo + (hi - lo) * s_unit(), vol, bv);
        ts += 1 + s_next() % 120000000000ull;
        px = lo + (hi - lo) * s_unit();
    }
}

static void s_rand_enriched(ml4t_enriched_t *e)
{
    memset(e, 0, sizeof *e);
    s_rand_id(e->instrument_id, sizeof e->instrument_id, false);
    s_rand_id(e->strategy_id, sizeof e->strategy_id, true);
    s_rand_id(e->signal_id, sizeof e->signal_id, true);
    s_rand_id(e->model_version, sizeof e->model_version, true);
    e->signal = s_pm1();
    e->ts_event = s_next();
    e->meta_confidence = s_unit();
    e->model_available = s_next() % 2;
    e->regime_weight = s_unit();
    e->toxicity = s_next() % 4 ? s_unit() : NAN;
    e->toxicity_level = (ml4t_toxicity_level_t)(s_next() % 4);
    e->changepoint_prob = s_unit();
    e->size = (ml4t_size_t){s_unit(), s_pm1(),  s_unit() * 2, s_unit(),     s_unit(),
                            s_unit(), s_unit(), s_unit(),     s_next() % 2, s_next() % 2};
    if ((e->verdict.present = s_next() % 2)) {
        e->verdict.allowed = s_next() % 2;
        s_rand_id(e->verdict.reason, sizeof e->verdict.reason, true);
        e->verdict.min_confidence = s_unit();
        e->verdict.max_risk_pct = s_unit() * 5;
    }
    e->latency_ns = s_next() >> 40;
    e->latency_decode_ns = s_next() >> 50;
    e->latency_features_ns = s_next() >> 48;
    e->latency_predict_ns = s_next() >> 46;
    e->latency_encode_ns = s_next() >> 52;
    e->ts_enriched = s_next();
}

static void s_rand_other(cj_any_t *m, int kind)
{
    if (kind == 0) {
        ml4t_outcome_t *o = &m->outcome;
        memset(o, 0, sizeof *o);
        m->type = ML4T_MSG_OUTCOME;
        s_rand_id(o->instrument_id, sizeof o->instrument_id, false);
        s_rand_id(o->signal_id, sizeof o->signal_id, true);
        o->ts_event = o->signal_id[0] && s_next() % 2 ? 0 : s_next();
        o->has_label = s_next() % 2;
        o->label = o->has_label ? s_pm1() : 0;
        o->has_return = !o->has_label || s_next() % 2;
        o->realized_return = o->has_return ? (s_unit() - 0.5) * 0.2 : 0.0;
        o->ts_outcome = s_next();
    } else if (kind == 1) {
        ml4t_error_event_t *e = &m->error;
        memset(e, 0, sizeof *e);
        m->type = ML4T_MSG_ERROR;
        e->code = (ml4t_err_t)(1 + s_next() % (ML4T_ERR_COUNT_ - 1));
        snprintf(e->reason, sizeof e->reason, "%s", ml4t_err_reason(e->code));
        s_rand_id(e->message, sizeof e->message, false);
        s_rand_id(e->instrument_id, sizeof e->instrument_id, true);
        s_rand_id(e->key, sizeof e->key, true);
        e->ts = s_next();
    } else {
        ml4t_risk_state_t *r = &m->risk;
        m->type = ML4T_MSG_RISK_STATE;
        *r = (ml4t_risk_state_t){(s_unit() - 0.5) * 10, s_unit() * 20,  (int)(s_next() % 10),
                                 (int)(s_next() % 50),  s_unit() * 300, s_next()};
    }
}

static void s_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static int s_random(uint64_t seed, long count)
{
    ml4t_codec_t *codec = ml4t_codec_new(NULL);
    cj_any_t m;
    cj_any_init(&m);
    s_rng = seed ? seed : 1;
    int rc = 0;
    for (long i = 0; i < count && !rc; i++) {
        const uint8_t *out = NULL;
        size_t len = 0;
        ml4t_error_t err;
        int kind = (int)(i % 6);
        if (kind <= 1) {
            m.type = ML4T_MSG_SIGNAL;
            s_rand_signal(&m.signal);
            rc = ml4t_codec_encode_signal(
                codec, &m.signal, kind ? ML4T_BARS_COLUMNAR : ML4T_BARS_PLAIN, &out, &len, &err);
        } else if (kind == 2) {
            m.type = ML4T_MSG_ENRICHED;
            s_rand_enriched(&m.enriched);
            rc = ml4t_codec_encode_enriched(codec, &m.enriched, &out, &len, &err);
        } else {
            s_rand_other(&m, kind - 3);
            if (kind == 3)
                rc = ml4t_codec_encode_outcome(codec, &m.outcome, &out, &len, &err);
            else if (kind == 4)
                rc = ml4t_codec_encode_error(codec, &m.error, &out, &len, &err);
            else
                rc = ml4t_codec_encode_risk_state(codec, &m.risk, &out, &len, &err);
        }
        if (rc) {
            fprintf(stderr, "ml4t-codec-tool: encode failed: %s: %s\n", err.field, err.msg);
            break;
        }
        fputs("{\"hex\":\"", stdout);
        s_hex(out, len);
        fputs("\",\"expect\":", stdout);
        cj_any(stdout, &m);
        fputs("}\n", stdout);
    }
    cj_any_destroy(&m);
    ml4t_codec_destroy(&codec);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "decode") == 0)
        return s_decode_lines();
    if (argc == 4 && strcmp(argv[1], "random") == 0) {
        errno = 0;
        uint64_t seed = strtoull(argv[2], NULL, 10);
        long count = strtol(argv[3], NULL, 10);
        if (!errno && count >= 0)
            return s_random(seed, count);
    }
    fprintf(stderr, "usage: ml4t-codec-tool decode < hex-lines\n"
                    "       ml4t-codec-tool random SEED N\n");
    return 2;
}
