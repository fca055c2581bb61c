/*  ml4t_policy: trading-policy rules, stability, verdicts, history. */
#include "ml4t/policy.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ names */

static const char *const s_regime_names[] = {"UNKNOWN", "TRENDING", "RANGING"};
static const char *const s_vol_names[] = {"LOW", "NORMAL", "HIGH", "EXTREME"};
static const char *const s_profile_names[] = {"NORMAL", "REDUCED", "NO_NEW_TRADES"};
static const char *const s_entry_names[] = {"NORMAL", "DEFENSIVE", "AGGRESSIVE"};
static const char *const s_exit_names[] = {"TREND_FOLLOW", "FAST_TP", "DEFENSIVE_TRAIL"};
static const char *const s_tag_names[] = {"NEUTRAL", "GOOD", "BAD"};
static const char *const s_cost_names[] = {"LOW", "NORMAL", "HIGH"};
static const char *const s_decision_names[] = {"none", "applied", "applied_blocking",
                                               "held_interval", "held_similar"};
/* in bit order of ml4t_policy_rule_t */
static const char *const s_rule_names[ML4T_POLICY_RULE_COUNT] = {
    "volatility_extreme",   "volatility_high",    "trending",     "ranging",    "drawdown_limit",
    "losing_streak",        "max_open_positions", "max_exposure", "high_costs", "bad_symbols",
    "low_ensemble_quality", "confidence_clamped"};

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *s_name(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : "?";
}

static ml4t_err_t s_parse(const char *const *names, size_t n, const char *name, int *out)
{
    if (!name)
        return ML4T_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(names[i], name) == 0) {
            *out = (int)i;
            return ML4T_OK;
        }
    return ML4T_EINVAL;
}

/* One name/parse pair per enum, all from the tables above. */
#define S_ENUM_FUNCS(fn, type, table)                                                              \
    const char *ml4t_policy_##fn##_name(type v)                                                    \
    {                                                                                              \
        return s_name(table, S_COUNT(table), (int)v);                                              \
    }                                                                                              \
    ml4t_err_t ml4t_policy_##fn##_parse(const char *name, type *out)                               \
    {                                                                                              \
        int v;                                                                                     \
        ml4t_err_t rc = s_parse(table, S_COUNT(table), name, &v);                                  \
        if (rc == ML4T_OK)                                                                         \
            *out = (type)v;                                                                        \
        return rc;                                                                                 \
    }

S_ENUM_FUNCS(regime, ml4t_policy_regime_t, s_regime_names)
S_ENUM_FUNCS(volatility, ml4t_policy_volatility_t, s_vol_names)
S_ENUM_FUNCS(risk_profile, ml4t_policy_risk_profile_t, s_profile_names)
S_ENUM_FUNCS(entry_mode, ml4t_policy_entry_mode_t, s_entry_names)
S_ENUM_FUNCS(exit_mode, ml4t_policy_exit_mode_t, s_exit_names)
S_ENUM_FUNCS(symbol_tag, ml4t_policy_symbol_tag_t, s_tag_names)
S_ENUM_FUNCS(cost_level, ml4t_policy_cost_level_t, s_cost_names)

const char *ml4t_policy_decision_name(ml4t_policy_decision_t d)
{
    return s_name(s_decision_names, S_COUNT(s_decision_names), (int)d);
}

const char *ml4t_policy_rule_name(uint32_t rule)
{
    for (int i = 0; i < ML4T_POLICY_RULE_COUNT; i++)
        if (rule == (1u << i))
            return s_rule_names[i];
    return "?";
}

ml4t_err_t ml4t_policy_rule_parse(const char *name, uint32_t *out)
{
    int v;
    ml4t_err_t rc = s_parse(s_rule_names, ML4T_POLICY_RULE_COUNT, name, &v);
    if (rc == ML4T_OK)
        *out = 1u << v;
    return rc;
}

/* ----------------------------------------------------------------- config */

typedef struct {
    const char *key;
    const char *env; /* NULL: no environment override */
    bool is_int;
    size_t offset;
    double lo, hi;
    bool lo_open; /* lo excluded */
    const char *rule;
} s_cfg_field_t;

#define S_CFG(k, env, is_int, lo, hi, lo_open, rule)                                               \
    {                                                                                              \
#k, env, is_int, offsetof(ml4t_policy_config_t, k), lo, hi, lo_open, rule                  \
    }

static const s_cfg_field_t s_cfg_fields[] = {
    S_CFG(base_confidence, "ORCH_BASE_CONFIDENCE", false, 0, 1, false, "must be in [0, 1]"),
    S_CFG(base_risk_pct, "ORCH_BASE_RISK_PCT", false, 0, 100, true, "must be in (0, 100]"),
    S_CFG(daily_dd_limit_pct, "ORCH_DAILY_DD_LIMIT", false, 0, 100, true, "must be in (0, 100]"),
    S_CFG(losing_streak_limit, "ORCH_LOSING_STREAK_LIMIT", true, 1, 1e6, false,
          "must be a whole number in [1, 1000000]"),
    S_CFG(max_open_positions, "ORCH_MAX_OPEN_POSITIONS", true, 1, 1e6, false,
          "must be a whole number in [1, 1000000]"),
    S_CFG(total_exposure_limit_pct, "ORCH_TOTAL_EXPOSURE_LIMIT", false, 0, 1e4, true,
          "must be in (0, 10000]"),
    S_CFG(update_interval_s, NULL, false, 0, 86400, false, "must be in [0, 86400]"),
    S_CFG(similarity_threshold, NULL, false, 0, 1, false, "must be in [0, 1]"),
};

void ml4t_policy_config_default(ml4t_policy_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->base_confidence = 0.50;
    cfg->base_risk_pct = 1.0;
    cfg->daily_dd_limit_pct = 3.0;
    cfg->losing_streak_limit = 5;
    cfg->max_open_positions = 8;
    cfg->total_exposure_limit_pct = 15.0;
    cfg->update_interval_s = 60.0;
    cfg->similarity_threshold = 0.95;
}

static double s_cfg_get(const ml4t_policy_config_t *cfg, const s_cfg_field_t *f)
{
    const char *base = (const char *)cfg + f->offset;
    return f->is_int ? (double)*(const int64_t *)base : *(const double *)base;
}

static bool s_cfg_in_range(const s_cfg_field_t *f, double v)
{
    if (!isfinite(v) || v > f->hi)
        return false;
    if (f->is_int && v != floor(v))
        return false;
    return f->lo_open ? v > f->lo : v >= f->lo;
}

ml4t_err_t ml4t_policy_config_validate(const ml4t_policy_config_t *cfg, ml4t_error_t *err)
{
    char msg[ML4T_ERROR_MSG_MAX] = "";
    const char *first = NULL;
    for (size_t i = 0; i < S_COUNT(s_cfg_fields); i++) {
        const s_cfg_field_t *f = &s_cfg_fields[i];
        double v = s_cfg_get(cfg, f);
        if (s_cfg_in_range(f, v))
            continue;
        if (!first)
            first = f->key;
        size_t used = strlen(msg);
        if (used + 1 < sizeof msg)
            snprintf(msg + used, sizeof msg - used, "%s%s=%g: %s", used ? "; " : "", f->key, v,
                     f->rule);
    }
    if (!first)
        return ML4T_OK;
    return ml4t_error_set(err, ML4T_EINVAL, first, "invalid policy configuration: %s", msg);
}

static ml4t_err_t s_cfg_set_env(ml4t_policy_config_t *cfg, const s_cfg_field_t *f,
                                const char *value, ml4t_error_t *err)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    while (end && isspace((unsigned char)*end))
        end++;
    if (end == value || (end && *end) || errno == ERANGE)
        return ml4t_error_set(err, ML4T_EINVAL, f->env, "%s=\"%.60s\": not a number", f->env,
                              value);
    if (f->is_int && v != floor(v))
        return ml4t_error_set(err, ML4T_EINVAL, f->env, "%s=\"%.60s\": not a whole number", f->env,
                              value);
    if (!s_cfg_in_range(f, v))
        return ml4t_error_set(err, ML4T_ERANGE, f->env, "%s=\"%.60s\": %s", f->env, value, f->rule);
    char *base = (char *)cfg + f->offset;
    if (f->is_int)
        *(int64_t *)base = (int64_t)v;
    else
        *(double *)base = v;
    return ML4T_OK;
}

ml4t_err_t ml4t_policy_config_from_env(ml4t_policy_config_t *cfg, ml4t_error_t *err)
{
    ml4t_policy_config_t tmp = *cfg;
    for (size_t i = 0; i < S_COUNT(s_cfg_fields); i++) {
        const s_cfg_field_t *f = &s_cfg_fields[i];
        const char *v = f->env ? getenv(f->env) : NULL;
        if (!v)
            continue;
        ml4t_err_t rc = s_cfg_set_env(&tmp, f, v, err);
        if (rc)
            return rc;
    }
    *cfg = tmp;
    return ML4T_OK;
}

/* ----------------------------------------------------------------- inputs */

void ml4t_policy_inputs_init(ml4t_policy_inputs_t *in)
{
    memset(in, 0, sizeof *in);
    in->regime = ML4T_POLICY_REGIME_UNKNOWN;
    in->volatility = ML4T_POLICY_VOL_NORMAL;
    in->spread_level = ML4T_POLICY_COST_NORMAL;
    in->slippage_level = ML4T_POLICY_COST_NORMAL;
}

static int s_cmp_perf_ptr(const void *a, const void *b)
{
    const ml4t_policy_symbol_perf_t *const *pa = a, *const *pb = b;
    return strcmp((*pa)->instrument_id, (*pb)->instrument_id);
}

static ml4t_err_t s_validate_risk(const ml4t_policy_risk_state_t *r, ml4t_error_t *err)
{
    if (!isfinite(r->daily_pnl_pct))
        return ml4t_error_set(err, ML4T_ERANGE, "risk.daily_pnl_pct",
                              "risk.daily_pnl_pct=%g: must be finite", r->daily_pnl_pct);
    if (!isfinite(r->drawdown_pct))
        return ml4t_error_set(err, ML4T_ERANGE, "risk.drawdown_pct",
                              "risk.drawdown_pct=%g: must be finite", r->drawdown_pct);
    if (r->losing_streak < 0)
        return ml4t_error_set(err, ML4T_ERANGE, "risk.losing_streak",
                              "risk.losing_streak=%" PRId64 ": must be >= 0", r->losing_streak);
    if (r->open_positions < 0)
        return ml4t_error_set(err, ML4T_ERANGE, "risk.open_positions",
                              "risk.open_positions=%" PRId64 ": must be >= 0", r->open_positions);
    if (!isfinite(r->exposure_pct) || r->exposure_pct < 0)
        return ml4t_error_set(err, ML4T_ERANGE, "risk.exposure_pct",
                              "risk.exposure_pct=%g: must be finite and >= 0", r->exposure_pct);
    return ML4T_OK;
}

/* Checks the symbol list and fills sorted[] with pointers into it, ordered by id. */
static ml4t_err_t s_validate_symbols(const ml4t_policy_inputs_t *in,
                                     const ml4t_policy_symbol_perf_t **sorted, ml4t_error_t *err)
{
    if (in->n_symbols > ML4T_POLICY_SYMBOLS_MAX)
        return ml4t_error_set(err, ML4T_ELIMIT, "symbols", "symbols: %zu entries, at most %d",
                              in->n_symbols, ML4T_POLICY_SYMBOLS_MAX);
    if (in->n_symbols && !in->symbols)
        return ml4t_error_set(err, ML4T_EINVAL, "symbols", "symbols: NULL with n_symbols=%zu",
                              in->n_symbols);
    for (size_t i = 0; i < in->n_symbols; i++) {
        const ml4t_policy_symbol_perf_t *s = &in->symbols[i];
        char field[40];
        snprintf(field, sizeof field, "symbols[%zu]", i);
        const char *nul = memchr(s->instrument_id, '\0', sizeof s->instrument_id);
        if (!nul || nul == s->instrument_id)
            return ml4t_error_set(err, ML4T_EINVAL, field,
                                  "%s.instrument_id: must be 1 to %d bytes, NUL-terminated", field,
                                  ML4T_INSTRUMENT_MAX);
        if ((int)s->tag < 0 || (size_t)s->tag >= S_COUNT(s_tag_names))
            return ml4t_error_set(err, ML4T_EINVAL, field, "%s.tag=%d: not a symbol tag", field,
                                  (int)s->tag);
        sorted[i] = s;
    }
    qsort(sorted, in->n_symbols, sizeof *sorted, s_cmp_perf_ptr);
    for (size_t i = 1; i < in->n_symbols; i++)
        if (strcmp(sorted[i - 1]->instrument_id, sorted[i]->instrument_id) == 0)
            return ml4t_error_set(err, ML4T_EINVAL, "symbols", "symbols: '%s' listed twice",
                                  sorted[i]->instrument_id);
    return ML4T_OK;
}

static ml4t_err_t s_validate(const ml4t_policy_inputs_t *in,
                             const ml4t_policy_symbol_perf_t **sorted, ml4t_error_t *err)
{
    if ((int)in->regime < 0 || (size_t)in->regime >= S_COUNT(s_regime_names))
        return ml4t_error_set(err, ML4T_EINVAL, "regime", "regime=%d: not a regime tag",
                              (int)in->regime);
    if ((int)in->volatility < 0 || (size_t)in->volatility >= S_COUNT(s_vol_names))
        return ml4t_error_set(err, ML4T_EINVAL, "volatility", "volatility=%d: not a level",
                              (int)in->volatility);
    ml4t_err_t rc = s_validate_risk(&in->risk, err);
    if (rc)
        return rc;
    if (in->has_ensemble_quality && !(in->ensemble_quality >= 0.0 && in->ensemble_quality <= 1.0))
        return ml4t_error_set(err, ML4T_ERANGE, "ensemble_quality",
                              "ensemble_quality=%g: must be in [0, 1]", in->ensemble_quality);
    if (in->has_costs) {
        if ((int)in->spread_level < 0 || (size_t)in->spread_level >= S_COUNT(s_cost_names))
            return ml4t_error_set(err, ML4T_EINVAL, "spread_level",
                                  "spread_level=%d: not a cost level", (int)in->spread_level);
        if ((int)in->slippage_level < 0 || (size_t)in->slippage_level >= S_COUNT(s_cost_names))
            return ml4t_error_set(err, ML4T_EINVAL, "slippage_level",
                                  "slippage_level=%d: not a cost level", (int)in->slippage_level);
    }
    return s_validate_symbols(in, sorted, err);
}

ml4t_err_t ml4t_policy_inputs_validate(const ml4t_policy_inputs_t *in, ml4t_error_t *err)
{
    const ml4t_policy_symbol_perf_t *sorted[ML4T_POLICY_SYMBOLS_MAX];
    return s_validate(in, sorted, err);
}

/* ------------------------------------------------------------------ rules */

void ml4t_policy_base(const ml4t_policy_config_t *cfg, uint64_t now_ns, ml4t_trading_policy_t *out)
{
    out->allow_new_trades = true;
    out->risk_profile = ML4T_POLICY_RISK_NORMAL;
    out->max_risk_pct = cfg->base_risk_pct;
    out->min_confidence = cfg->base_confidence;
    out->entry_mode = ML4T_POLICY_ENTRY_NORMAL;
    out->exit_mode = ML4T_POLICY_EXIT_TREND_FOLLOW;
    out->n_allowed = 0;
    out->n_disallowed = 0;
    out->rules = 0;
    out->block_reason[0] = '\0';
    snprintf(out->note, sizeof out->note, "base policy");
    out->base_risk_pct = cfg->base_risk_pct;
    out->base_confidence = cfg->base_confidence;
    out->ts_ns = now_ns;
}

/* The rules' working state. Confidence adjustments are whole hundredths and
   summed as integers, so 0.50 + 0.16 is one rounding, not five. */
typedef struct {
    ml4t_trading_policy_t *p;
    double risk_mult;
    int conf_hundredths;
    size_t note_len;
} s_work_t;

static void s_note(s_work_t *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void s_note(s_work_t *w, const char *fmt, ...)
{
    char *note = w->p->note;
    size_t size = sizeof w->p->note;
    if (w->note_len + 3 >= size)
        return;
    if (w->note_len) {
        memcpy(note + w->note_len, "; ", 3);
        w->note_len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(note + w->note_len, size - w->note_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        w->note_len += (size_t)n < size - w->note_len ? (size_t)n : size - w->note_len - 1;
}

static void s_block(s_work_t *w, uint32_t rule, const char *reason)
{
    w->p->rules |= rule;
    if (w->p->allow_new_trades)
        snprintf(w->p->block_reason, sizeof w->p->block_reason, "%s", reason);
    w->p->allow_new_trades = false;
    s_note(w, "%s: no new trades", reason);
}

/* DEFENSIVE wins over AGGRESSIVE whatever the order the rules fire in. */
static void s_entry(s_work_t *w, ml4t_policy_entry_mode_t mode)
{
    if (w->p->entry_mode != ML4T_POLICY_ENTRY_DEFENSIVE)
        w->p->entry_mode = mode;
}

static void s_rule_volatility(s_work_t *w, const ml4t_policy_inputs_t *in)
{
    if (in->volatility == ML4T_POLICY_VOL_EXTREME) {
        s_block(w, ML4T_POLICY_RULE_VOL_EXTREME, "volatility EXTREME");
    } else if (in->volatility == ML4T_POLICY_VOL_HIGH) {
        w->p->rules |= ML4T_POLICY_RULE_VOL_HIGH;
        w->risk_mult *= 0.5;
        w->conf_hundredths += 3;
        s_note(w, "volatility HIGH: risk x0.5, confidence +0.03");
    }
}

static void s_rule_regime(s_work_t *w, const ml4t_policy_inputs_t *in)
{
    /* The TRENDING rule needs NORMAL volatility; RANGING fires at any level. */
    if (in->regime == ML4T_POLICY_REGIME_TRENDING && in->volatility == ML4T_POLICY_VOL_NORMAL) {
        w->p->rules |= ML4T_POLICY_RULE_TRENDING;
        s_entry(w, ML4T_POLICY_ENTRY_AGGRESSIVE);
        w->p->exit_mode = ML4T_POLICY_EXIT_TREND_FOLLOW;
        w->conf_hundredths -= 3;
        s_note(w, "regime TRENDING with NORMAL volatility: entry AGGRESSIVE, exit TREND_FOLLOW, "
                  "confidence -0.03");
    } else if (in->regime == ML4T_POLICY_REGIME_RANGING) {
        w->p->rules |= ML4T_POLICY_RULE_RANGING;
        s_entry(w, ML4T_POLICY_ENTRY_DEFENSIVE);
        w->p->exit_mode = ML4T_POLICY_EXIT_FAST_TP;
        w->risk_mult *= 0.7;
        w->conf_hundredths += 5;
        s_note(w, "regime RANGING: entry DEFENSIVE, exit FAST_TP, risk x0.7, confidence +0.05");
    }
}

/* Limits compare with a tolerance of 1e-9 percentage points (or positions), so
   a value equal to its limit up to rounding counts as reaching it. */
#define S_LIMIT_TOL 1e-9

static void s_rule_risk(s_work_t *w, const ml4t_policy_config_t *cfg,
                        const ml4t_policy_risk_state_t *r)
{
    char reason[ML4T_POLICY_REASON_MAX];
    double dd = fabs(r->drawdown_pct);
    if (dd >= cfg->daily_dd_limit_pct - S_LIMIT_TOL) {
        snprintf(reason, sizeof reason, "drawdown %.1f%% >= limit %.1f%%", dd,
                 cfg->daily_dd_limit_pct);
        s_block(w, ML4T_POLICY_RULE_DRAWDOWN, reason);
    }
    if (r->losing_streak >= cfg->losing_streak_limit) {
        w->p->rules |= ML4T_POLICY_RULE_LOSING_STREAK;
        w->risk_mult *= 0.3;
        s_entry(w, ML4T_POLICY_ENTRY_DEFENSIVE);
        w->conf_hundredths += 5;
        s_note(w,
               "losing streak %" PRId64 " >= limit %" PRId64
               ": risk x0.3, entry DEFENSIVE, confidence +0.05",
               r->losing_streak, cfg->losing_streak_limit);
    }
    if (r->open_positions >= cfg->max_open_positions) {
        snprintf(reason, sizeof reason, "open positions %" PRId64 " >= max %" PRId64,
                 r->open_positions, cfg->max_open_positions);
        s_block(w, ML4T_POLICY_RULE_MAX_POSITIONS, reason);
    }
    if (r->exposure_pct >= cfg->total_exposure_limit_pct - S_LIMIT_TOL) {
        snprintf(reason, sizeof reason, "exposure %.1f%% >= limit %.1f%%", r->exposure_pct,
                 cfg->total_exposure_limit_pct);
        s_block(w, ML4T_POLICY_RULE_MAX_EXPOSURE, reason);
    }
}

static void s_rule_costs(s_work_t *w, const ml4t_policy_inputs_t *in)
{
    if (!in->has_costs)
        return;
    if (in->spread_level != ML4T_POLICY_COST_HIGH && in->slippage_level != ML4T_POLICY_COST_HIGH)
        return;
    w->p->rules |= ML4T_POLICY_RULE_HIGH_COSTS;
    s_entry(w, ML4T_POLICY_ENTRY_DEFENSIVE);
    w->conf_hundredths += 3;
    s_note(w, "costs HIGH (spread %s, slippage %s): entry DEFENSIVE, confidence +0.03",
           s_cost_names[in->spread_level], s_cost_names[in->slippage_level]);
}

/* sorted: the validated list in id order, so both sets come out sorted. */
static void s_rule_symbols(s_work_t *w, const ml4t_policy_symbol_perf_t *const *sorted, size_t n)
{
    ml4t_trading_policy_t *p = w->p;
    for (size_t i = 0; i < n; i++) {
        if (sorted[i]->tag == ML4T_POLICY_TAG_BAD)
            memcpy(p->disallowed[p->n_disallowed++], sorted[i]->instrument_id,
                   sizeof p->disallowed[0]);
        else
            memcpy(p->allowed[p->n_allowed++], sorted[i]->instrument_id, sizeof p->allowed[0]);
    }
    if (p->n_disallowed) {
        p->rules |= ML4T_POLICY_RULE_BAD_SYMBOLS;
        s_note(w, "%zu symbol%s tagged BAD: disallowed", p->n_disallowed,
               p->n_disallowed == 1 ? "" : "s");
    }
}

static void s_rule_ensemble(s_work_t *w, const ml4t_policy_inputs_t *in)
{
    /* strictly below 0.40: a quality of exactly 0.40 does not fire */
    if (!in->has_ensemble_quality || !(in->ensemble_quality < 0.40))
        return;
    w->p->rules |= ML4T_POLICY_RULE_LOW_ENSEMBLE;
    w->conf_hundredths += 5;
    s_note(w, "ensemble quality %.2f < 0.40: confidence +0.05", in->ensemble_quality);
}

static void s_finish(s_work_t *w, const ml4t_policy_config_t *cfg)
{
    ml4t_trading_policy_t *p = w->p;
    double conf = cfg->base_confidence + (double)w->conf_hundredths / 100.0;
    if (conf < 0.0 || conf > 1.0) {
        conf = conf < 0.0 ? 0.0 : 1.0;
        p->rules |= ML4T_POLICY_RULE_CONF_CLAMPED;
        s_note(w, "min confidence clamped to %.2f", conf);
    }
    p->min_confidence = conf;
    p->max_risk_pct = cfg->base_risk_pct * w->risk_mult;
    if (!p->allow_new_trades) {
        p->risk_profile = ML4T_POLICY_RISK_NO_NEW_TRADES;
        p->max_risk_pct = 0.0;
    } else if (w->risk_mult < 1.0) {
        p->risk_profile = ML4T_POLICY_RISK_REDUCED;
    } else {
        p->risk_profile = ML4T_POLICY_RISK_NORMAL;
    }
}

/* Rules apply from the base policy in a fixed order: volatility, regime, risk
   state, costs, symbols, ensemble. Risk multipliers compound; confidence
   adjustments add.

   The design document's "everything at once" example (HIGH volatility,
   RANGING, losing streak 6, high costs) printed min_confidence 0.61, but its
   own rules give 0.50 + 0.03 + 0.05 + 0.05 + 0.03 = 0.66. We follow the rules:
   0.66 (tests/unit/test_policy.c, t_scenario_everything_at_once). Its risk,
   1.0 x 0.5 x 0.7 x 0.3 = 0.105 %, agrees. */
ml4t_err_t ml4t_policy_compute(const ml4t_policy_config_t *cfg, const ml4t_policy_inputs_t *in,
                               uint64_t now_ns, ml4t_trading_policy_t *out, ml4t_error_t *err)
{
    const ml4t_policy_symbol_perf_t *sorted[ML4T_POLICY_SYMBOLS_MAX];
    ml4t_err_t rc = s_validate(in, sorted, err);
    if (rc)
        return rc;
    ml4t_policy_base(cfg, now_ns, out);
    out->note[0] = '\0';
    s_work_t w = {out, 1.0, 0, 0};
    s_rule_volatility(&w, in);
    s_rule_regime(&w, in);
    s_rule_risk(&w, cfg, &in->risk);
    s_rule_costs(&w, in);
    s_rule_symbols(&w, sorted, in->n_symbols);
    s_rule_ensemble(&w, in);
    s_finish(&w, cfg);
    if (w.note_len == 0)
        snprintf(out->note, sizeof out->note, "base policy");
    return ML4T_OK;
}

/* ------------------------------------------------------------- similarity */

/* Two numbers agree when they differ by at most 10 % of the larger magnitude
   (symmetric). The scale has a floor of 0.01 so values near zero compare
   absolutely; the 1e-9 absorbs rounding so "exactly 10 % apart" agrees. */
static bool s_num_agree(double a, double b)
{
    double scale = fmax(fmax(fabs(a), fabs(b)), 0.01);
    return fabs(a - b) <= 0.10 * scale + 1e-9;
}

static bool s_set_equal(const char (*a)[ML4T_INSTRUMENT_MAX + 1], size_t na,
                        const char (*b)[ML4T_INSTRUMENT_MAX + 1], size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

double ml4t_policy_similarity(const ml4t_trading_policy_t *a, const ml4t_trading_policy_t *b)
{
    /* weights in hundredths, summed as integers so a score is exact (0.95 is 95/100) */
    int score = 0;
    score += a->allow_new_trades == b->allow_new_trades ? 20 : 0;
    score += a->risk_profile == b->risk_profile ? 15 : 0;
    score += s_num_agree(a->max_risk_pct, b->max_risk_pct) ? 15 : 0;
    score += s_num_agree(a->min_confidence, b->min_confidence) ? 15 : 0;
    score += a->entry_mode == b->entry_mode ? 10 : 0;
    score += a->exit_mode == b->exit_mode ? 10 : 0;
    score += s_set_equal(a->allowed, a->n_allowed, b->allowed, b->n_allowed) ? 10 : 0;
    score += s_set_equal(a->disallowed, a->n_disallowed, b->disallowed, b->n_disallowed) ? 5 : 0;
    return (double)score / 100.0;
}

/* --------------------------------------------------------------- verdicts */

static int s_cmp_id(const void *key, const void *row)
{
    return strcmp((const char *)key, (const char *)row);
}

bool ml4t_policy_is_disallowed(const ml4t_trading_policy_t *pol, const char *instrument)
{
    return bsearch(instrument, pol->disallowed, pol->n_disallowed, sizeof pol->disallowed[0],
                   s_cmp_id) != NULL;
}

bool ml4t_policy_is_allowed(const ml4t_trading_policy_t *pol, const char *instrument)
{
    return bsearch(instrument, pol->allowed, pol->n_allowed, sizeof pol->allowed[0], s_cmp_id) !=
           NULL;
}

static void s_rules_text(uint32_t rules, char *buf, size_t size, const char *prefix)
{
    size_t used = (size_t)snprintf(buf, size, "%s", prefix);
    const char *sep = " (";
    for (int i = 0; i < ML4T_POLICY_RULE_COUNT && used + 1 < size; i++) {
        if (!(rules & (1u << i)))
            continue;
        used += (size_t)snprintf(buf + used, size - used, "%s%s", sep, s_rule_names[i]);
        sep = ", ";
    }
    if (rules && used + 1 < size)
        snprintf(buf + used, size - used, ")");
}

/* Confidence passes at min_confidence - 1e-9: a model output equal to the
   threshold up to rounding is allowed. NaN never passes. */
#define S_CONF_TOL 1e-9

/* "confidence 0.4514 < min 0.5": printf's float formatting costs more than
   the rest of the verdict on the hot path, so four decimals are written by hand.
   Values are probabilities; anything outside [0, 1] or NaN is clamped for the text. */
static char *s_put_prob(char *p, double v)
{
    if (!(v >= 0.0))
        v = 0.0;
    if (v > 1.0)
        v = 1.0;
    unsigned n = (unsigned)(v * 10000.0 + 0.5); /* 0 .. 10000 */
    *p++ = (char)('0' + n / 10000);
    *p++ = '.';
    *p++ = (char)('0' + n / 1000 % 10);
    *p++ = (char)('0' + n / 100 % 10);
    *p++ = (char)('0' + n / 10 % 10);
    *p++ = (char)('0' + n % 10);
    while (p[-1] == '0') /* as %.4g writes it: 0.48, 0.5, 1 */
        p--;
    if (p[-1] == '.')
        p--;
    return p;
}

static void s_confidence_reason(char *buf, size_t size, double conf, double min)
{
    static const char a[] = "confidence ", b[] = " < min ";
    if (size < sizeof a + sizeof b + 13)
        return;
    char *p = buf;
    memcpy(p, a, sizeof a - 1);
    p = s_put_prob(p + sizeof a - 1, conf);
    memcpy(p, b, sizeof b - 1);
    p = s_put_prob(p + sizeof b - 1, min);
    *p = '\0';
}

void ml4t_policy_verdict(const ml4t_trading_policy_t *pol, const char *instrument,
                         double meta_confidence, ml4t_verdict_t *out)
{
    if (!pol) {
        out->present = false;
        out->allowed = true;
        snprintf(out->reason, sizeof out->reason, "no policy");
        out->min_confidence = 0.0;
        out->max_risk_pct = 0.0;
        return;
    }
    out->present = true;
    out->min_confidence = pol->min_confidence;
    out->max_risk_pct = pol->max_risk_pct;
    out->allowed = false;
    if (!pol->allow_new_trades)
        snprintf(out->reason, sizeof out->reason, "no new trades: %.100s", pol->block_reason);
    else if (instrument && ml4t_policy_is_disallowed(pol, instrument))
        snprintf(out->reason, sizeof out->reason, "symbol disallowed: tagged BAD");
    else if (!(meta_confidence >= pol->min_confidence - S_CONF_TOL))
        s_confidence_reason(out->reason, sizeof out->reason, meta_confidence, pol->min_confidence);
    else {
        out->allowed = true;
        s_rules_text(pol->rules, out->reason, sizeof out->reason, "allowed");
    }
}

double ml4t_policy_size_scale(const ml4t_trading_policy_t *pol, double base_risk_pct)
{
    if (!pol || !pol->allow_new_trades || !(base_risk_pct > 0.0) || !(pol->max_risk_pct > 0.0))
        return 0.0;
    double f = pol->max_risk_pct / base_risk_pct;
    return f < 1.0 ? f : 1.0;
}

/* ------------------------------------------------------------------- JSON */

static void s_iso_time(uint64_t ts_ns, char *buf, size_t size)
{
    time_t secs = (time_t)(ts_ns / 1000000000u);
    struct tm tm;
    char date[40];
    if (!gmtime_r(&secs, &tm) || strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(buf, size, "?");
        return;
    }
    snprintf(buf, size, "%s.%09" PRIu64 "Z", date, ts_ns % 1000000000u);
}

static bool s_add_symbols(cJSON *o, const char *key, const char (*rows)[ML4T_INSTRUMENT_MAX + 1],
                          size_t n)
{
    cJSON *arr = cJSON_AddArrayToObject(o, key);
    if (!arr)
        return false;
    for (size_t i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateString(rows[i]);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            return false;
        }
    }
    return true;
}

static bool s_add_rules(cJSON *o, uint32_t rules)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "rules");
    if (!arr)
        return false;
    for (int i = 0; i < ML4T_POLICY_RULE_COUNT; i++) {
        if (!(rules & (1u << i)))
            continue;
        cJSON *s = cJSON_CreateString(s_rule_names[i]);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            return false;
        }
    }
    return true;
}

cJSON *ml4t_policy_to_json(const ml4t_trading_policy_t *pol)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char ts[24], iso[64];
    /* a decimal string: ns since the epoch exceed a double's 53-bit mantissa */
    snprintf(ts, sizeof ts, "%" PRIu64, pol->ts_ns);
    s_iso_time(pol->ts_ns, iso, sizeof iso);
    bool ok =
        cJSON_AddBoolToObject(o, "allow_new_trades", pol->allow_new_trades) &&
        cJSON_AddStringToObject(o, "risk_profile",
                                ml4t_policy_risk_profile_name(pol->risk_profile)) &&
        cJSON_AddNumberToObject(o, "max_risk_pct", pol->max_risk_pct) &&
        cJSON_AddNumberToObject(o, "min_confidence", pol->min_confidence) &&
        cJSON_AddStringToObject(o, "entry_mode", ml4t_policy_entry_mode_name(pol->entry_mode)) &&
        cJSON_AddStringToObject(o, "exit_mode", ml4t_policy_exit_mode_name(pol->exit_mode)) &&
        s_add_symbols(o, "allowed_symbols", pol->allowed, pol->n_allowed) &&
        s_add_symbols(o, "disallowed_symbols", pol->disallowed, pol->n_disallowed) &&
        s_add_rules(o, pol->rules) &&
        cJSON_AddStringToObject(o, "block_reason", pol->block_reason) &&
        cJSON_AddStringToObject(o, "note", pol->note) &&
        cJSON_AddNumberToObject(o, "base_risk_pct", pol->base_risk_pct) &&
        cJSON_AddNumberToObject(o, "base_confidence", pol->base_confidence) &&
        cJSON_AddStringToObject(o, "timestamp", iso) && cJSON_AddStringToObject(o, "ts_ns", ts);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static const cJSON *s_member(const cJSON *o, const char *key, ml4t_error_t *err)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!m)
        ml4t_error_set(err, ML4T_EMISSING, key, "%s: missing", key);
    return m;
}

static ml4t_err_t s_get_number(const cJSON *o, const char *key, double lo, double hi, double *out,
                               ml4t_error_t *err)
{
    const cJSON *m = s_member(o, key, err);
    if (!m)
        return ML4T_EMISSING;
    if (!cJSON_IsNumber(m))
        return ml4t_error_set(err, ML4T_ETYPE, key, "%s: must be a number", key);
    if (!(m->valuedouble >= lo && m->valuedouble <= hi))
        return ml4t_error_set(err, ML4T_ERANGE, key, "%s=%g: must be in [%g, %g]", key,
                              m->valuedouble, lo, hi);
    *out = m->valuedouble;
    return ML4T_OK;
}

/* A string member that fits in size bytes with its NUL. */
static ml4t_err_t s_get_string(const cJSON *o, const char *key, char *buf, size_t size,
                               ml4t_error_t *err)
{
    const cJSON *m = s_member(o, key, err);
    if (!m)
        return ML4T_EMISSING;
    if (!cJSON_IsString(m) || !m->valuestring)
        return ml4t_error_set(err, ML4T_ETYPE, key, "%s: must be a string", key);
    size_t len = strlen(m->valuestring);
    if (len >= size)
        return ml4t_error_set(err, ML4T_ELIMIT, key, "%s: %zu bytes, at most %zu", key, len,
                              size - 1);
    memcpy(buf, m->valuestring, len + 1);
    return ML4T_OK;
}

static ml4t_err_t s_get_enum(const cJSON *o, const char *key, const char *const *names, size_t n,
                             int *out, ml4t_error_t *err)
{
    char buf[32];
    ml4t_err_t rc = s_get_string(o, key, buf, sizeof buf, err);
    if (rc == ML4T_ELIMIT || (rc == ML4T_OK && s_parse(names, n, buf, out) != ML4T_OK))
        return ml4t_error_set(err, ML4T_EINVAL, key, "%s: \"%.40s\" is not a known name", key,
                              rc == ML4T_OK ? buf : "(too long)");
    return rc;
}

static ml4t_err_t s_get_symbols(const cJSON *o, const char *key,
                                char (*rows)[ML4T_INSTRUMENT_MAX + 1], size_t *n, ml4t_error_t *err)
{
    const cJSON *arr = s_member(o, key, err);
    if (!arr)
        return ML4T_EMISSING;
    if (!cJSON_IsArray(arr))
        return ml4t_error_set(err, ML4T_ETYPE, key, "%s: must be an array of strings", key);
    if (cJSON_GetArraySize(arr) > ML4T_POLICY_SYMBOLS_MAX)
        return ml4t_error_set(err, ML4T_ELIMIT, key, "%s: %d symbols, at most %d", key,
                              cJSON_GetArraySize(arr), ML4T_POLICY_SYMBOLS_MAX);
    size_t count = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, arr)
    {
        size_t len = cJSON_IsString(s) && s->valuestring ? strlen(s->valuestring) : 0;
        if (len == 0 || len > ML4T_INSTRUMENT_MAX)
            return ml4t_error_set(err, ML4T_EINVAL, key,
                                  "%s[%zu]: must be a string of 1 to %d bytes", key, count,
                                  ML4T_INSTRUMENT_MAX);
        memcpy(rows[count++], s->valuestring, len + 1);
    }
    qsort(rows, count, sizeof rows[0], s_cmp_id);
    for (size_t i = 1; i < count; i++)
        if (strcmp(rows[i - 1], rows[i]) == 0)
            return ml4t_error_set(err, ML4T_EINVAL, key, "%s: '%s' listed twice", key, rows[i]);
    *n = count;
    return ML4T_OK;
}

static ml4t_err_t s_get_rules(const cJSON *o, uint32_t *out, ml4t_error_t *err)
{
    const cJSON *arr = s_member(o, "rules", err);
    if (!arr)
        return ML4T_EMISSING;
    if (!cJSON_IsArray(arr))
        return ml4t_error_set(err, ML4T_ETYPE, "rules", "rules: must be an array of names");
    uint32_t rules = 0, bit;
    const cJSON *s;
    cJSON_ArrayForEach(s, arr)
    {
        if (!cJSON_IsString(s) || ml4t_policy_rule_parse(s->valuestring, &bit) != ML4T_OK)
            return ml4t_error_set(err, ML4T_EINVAL, "rules", "rules: \"%.40s\" is not a rule",
                                  cJSON_IsString(s) ? s->valuestring : "(not a string)");
        rules |= bit;
    }
    *out = rules;
    return ML4T_OK;
}

static ml4t_err_t s_get_ts(const cJSON *o, uint64_t *out, ml4t_error_t *err)
{
    char buf[24];
    ml4t_err_t rc = s_get_string(o, "ts_ns", buf, sizeof buf, err);
    if (rc == ML4T_EMISSING || rc == ML4T_ETYPE)
        return rc;
    bool ok = rc == ML4T_OK && isdigit((unsigned char)buf[0]);
    unsigned long long v = 0;
    if (ok) {
        char *end = NULL;
        errno = 0;
        v = strtoull(buf, &end, 10);
        ok = *end == '\0' && errno != ERANGE;
    }
    if (!ok)
        return ml4t_error_set(err, ML4T_EINVAL, "ts_ns",
                              "ts_ns: must be a decimal string of nanoseconds since the epoch");
    *out = (uint64_t)v;
    return ML4T_OK;
}

static ml4t_err_t s_from_json(const cJSON *o, ml4t_trading_policy_t *p, ml4t_error_t *err)
{
    const cJSON *allow = s_member(o, "allow_new_trades", err);
    if (!allow)
        return ML4T_EMISSING;
    if (!cJSON_IsBool(allow))
        return ml4t_error_set(err, ML4T_ETYPE, "allow_new_trades",
                              "allow_new_trades: must be true or false");
    p->allow_new_trades = cJSON_IsTrue(allow);
    int profile = 0, entry = 0, exit_mode = 0;
    ml4t_err_t rc;
    if ((rc = s_get_enum(o, "risk_profile", s_profile_names, S_COUNT(s_profile_names), &profile,
                         err)) ||
        (rc = s_get_enum(o, "entry_mode", s_entry_names, S_COUNT(s_entry_names), &entry, err)) ||
        (rc = s_get_enum(o, "exit_mode", s_exit_names, S_COUNT(s_exit_names), &exit_mode, err)) ||
        (rc = s_get_number(o, "max_risk_pct", 0, 100, &p->max_risk_pct, err)) ||
        (rc = s_get_number(o, "min_confidence", 0, 1, &p->min_confidence, err)) ||
        (rc = s_get_number(o, "base_risk_pct", 0, 100, &p->base_risk_pct, err)) ||
        (rc = s_get_number(o, "base_confidence", 0, 1, &p->base_confidence, err)) ||
        (rc = s_get_symbols(o, "allowed_symbols", p->allowed, &p->n_allowed, err)) ||
        (rc = s_get_symbols(o, "disallowed_symbols", p->disallowed, &p->n_disallowed, err)) ||
        (rc = s_get_rules(o, &p->rules, err)) ||
        (rc = s_get_string(o, "block_reason", p->block_reason, sizeof p->block_reason, err)) ||
        (rc = s_get_string(o, "note", p->note, sizeof p->note, err)) ||
        (rc = s_get_ts(o, &p->ts_ns, err)))
        return rc;
    p->risk_profile = (ml4t_policy_risk_profile_t)profile;
    p->entry_mode = (ml4t_policy_entry_mode_t)entry;
    p->exit_mode = (ml4t_policy_exit_mode_t)exit_mode;
    if (p->allow_new_trades != (p->risk_profile != ML4T_POLICY_RISK_NO_NEW_TRADES))
        return ml4t_error_set(err, ML4T_EINVAL, "risk_profile",
                              "risk_profile: NO_NEW_TRADES exactly when allow_new_trades is false");
    return ML4T_OK;
}

ml4t_err_t ml4t_policy_from_json(const cJSON *json, ml4t_trading_policy_t *out, ml4t_error_t *err)
{
    if (!cJSON_IsObject(json))
        return ml4t_error_set(err, ML4T_ETYPE, "", "a policy must be a JSON object");
    ml4t_trading_policy_t *p = malloc(sizeof *p); /* ~34 KB: not on the stack */
    if (!p)
        return ml4t_error_set(err, ML4T_ENOMEM, "", "out of memory");
    ml4t_err_t rc = s_from_json(json, p, err);
    if (rc == ML4T_OK)
        memcpy(out, p, sizeof *p);
    free(p);
    return rc;
}

/* ----------------------------------------------------------------- engine */

struct ml4t_policy_engine {
    ml4t_policy_config_t cfg;        /* private */
    ml4t_trading_policy_t current;   /* private */
    ml4t_trading_policy_t candidate; /* private: reused by every update */
    bool has_candidate;
    bool has_last_change; /* false: the next update is not held by the interval */
    uint64_t last_change_ns;
    ml4t_policy_decision_t decision;
    ml4t_policy_stats_t stats;
    ml4t_trading_policy_t *history; /* ring of ML4T_POLICY_HISTORY_MAX */
    size_t hist_start;
    size_t hist_count;
};

ml4t_policy_engine_t *ml4t_policy_engine_new(const ml4t_policy_config_t *cfg, ml4t_error_t *err)
{
    ml4t_policy_config_t defaults;
    if (!cfg) {
        ml4t_policy_config_default(&defaults);
        cfg = &defaults;
    }
    if (ml4t_policy_config_validate(cfg, err) != ML4T_OK)
        return NULL;
    ml4t_policy_engine_t *self = calloc(1, sizeof *self);
    if (!self)
        goto out_nomem;
    /* calloc: the pages of unused history slots are never touched */
    self->history = calloc(ML4T_POLICY_HISTORY_MAX, sizeof *self->history);
    if (!self->history)
        goto out_free_self;
    self->cfg = *cfg;
    ml4t_policy_base(cfg, 0, &self->current);
    return self;

out_free_self:
    free(self);
out_nomem:
    ml4t_error_set(err, ML4T_ENOMEM, "", "policy engine: out of memory");
    return NULL;
}

void ml4t_policy_engine_destroy(ml4t_policy_engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->history);
    free(*self_p);
    *self_p = NULL;
}

static void s_history_push(ml4t_policy_engine_t *self, const ml4t_trading_policy_t *pol)
{
    size_t slot;
    if (self->hist_count < ML4T_POLICY_HISTORY_MAX) {
        slot = (self->hist_start + self->hist_count++) % ML4T_POLICY_HISTORY_MAX;
    } else {
        slot = self->hist_start;
        self->hist_start = (self->hist_start + 1) % ML4T_POLICY_HISTORY_MAX;
    }
    memcpy(&self->history[slot], pol, sizeof *pol);
}

static bool s_within_interval(const ml4t_policy_engine_t *self, uint64_t now_ns)
{
    if (!self->has_last_change)
        return false;
    /* a clock that went backwards does not hold the policy forever */
    if (now_ns < self->last_change_ns)
        return false;
    double elapsed_s = (double)(now_ns - self->last_change_ns) / 1e9;
    return elapsed_s < self->cfg.update_interval_s;
}

static ml4t_policy_decision_t s_decide(const ml4t_policy_engine_t *self, uint64_t now_ns)
{
    const ml4t_trading_policy_t *cand = &self->candidate, *cur = &self->current;
    /* Blocking takes effect at once, whatever the interval or the similarity:
       the design this grew from let EXTREME volatility wait out the interval. */
    if (!cand->allow_new_trades && cur->allow_new_trades)
        return ML4T_POLICY_APPLIED_BLOCKING;
    if (s_within_interval(self, now_ns))
        return ML4T_POLICY_HELD_INTERVAL;
    /* scores are exact hundredths; 1e-9 keeps a threshold given in decimal
       (0.95) from missing an equal score by rounding */
    if (ml4t_policy_similarity(cand, cur) >= self->cfg.similarity_threshold - 1e-9)
        return ML4T_POLICY_HELD_SIMILAR;
    return ML4T_POLICY_APPLIED;
}

ml4t_err_t ml4t_policy_engine_update(ml4t_policy_engine_t *eng, const ml4t_policy_inputs_t *in,
                                     uint64_t now_ns, bool *changed, ml4t_error_t *err)
{
    if (changed)
        *changed = false;
    ml4t_err_t rc = ml4t_policy_compute(&eng->cfg, in, now_ns, &eng->candidate, err);
    if (rc) {
        eng->stats.input_errors++;
        return rc;
    }
    eng->has_candidate = true;
    eng->stats.updates++;
    eng->decision = s_decide(eng, now_ns);
    switch (eng->decision) {
    case ML4T_POLICY_APPLIED_BLOCKING:
        eng->stats.blocking_changes++;
        /* fall through */
    case ML4T_POLICY_APPLIED:
        eng->stats.changes++;
        memcpy(&eng->current, &eng->candidate, sizeof eng->current);
        s_history_push(eng, &eng->current);
        eng->has_last_change = true;
        eng->last_change_ns = now_ns;
        if (changed)
            *changed = true;
        break;
    case ML4T_POLICY_HELD_INTERVAL:
        eng->stats.held_interval++;
        break;
    default:
        eng->stats.held_similar++;
        break;
    }
    return ML4T_OK;
}

const ml4t_trading_policy_t *ml4t_policy_engine_current(const ml4t_policy_engine_t *eng)
{
    return &eng->current;
}

const ml4t_trading_policy_t *ml4t_policy_engine_candidate(const ml4t_policy_engine_t *eng)
{
    return eng->has_candidate ? &eng->candidate : NULL;
}

ml4t_policy_decision_t ml4t_policy_engine_last_decision(const ml4t_policy_engine_t *eng)
{
    return eng->decision;
}

const ml4t_policy_config_t *ml4t_policy_engine_config(const ml4t_policy_engine_t *eng)
{
    return &eng->cfg;
}

void ml4t_policy_engine_stats(const ml4t_policy_engine_t *eng, ml4t_policy_stats_t *out)
{
    *out = eng->stats;
}

void ml4t_policy_engine_reset_daily(ml4t_policy_engine_t *eng)
{
    eng->has_last_change = false;
    memset(&eng->stats, 0, sizeof eng->stats);
}

size_t ml4t_policy_engine_history_count(const ml4t_policy_engine_t *eng)
{
    return eng->hist_count;
}

const ml4t_trading_policy_t *ml4t_policy_engine_history_at(const ml4t_policy_engine_t *eng,
                                                           size_t i)
{
    if (i >= eng->hist_count)
        return NULL;
    return &eng->history[(eng->hist_start + i) % ML4T_POLICY_HISTORY_MAX];
}

/* ---------------------------------------------------------- history files */

#define S_HISTORY_SCHEMA   "ml4t.policy_history"
#define S_HISTORY_VERSION  1
#define S_HISTORY_FILE_MAX (64u << 20) /* far above 100 full policies (~7 MB as JSON) */

static ml4t_err_t s_write_atomic(const char *path, const char *data, size_t len, ml4t_error_t *err)
{
    ml4t_err_t rc = ML4T_OK;
    size_t tmp_size = strlen(path) + 5;
    char *tmp = malloc(tmp_size);
    if (!tmp)
        return ml4t_error_set(err, ML4T_ENOMEM, "path", "out of memory");
    snprintf(tmp, tmp_size, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = ml4t_error_set(err, ML4T_EIO, "path", "cannot create %s: %s", tmp, strerror(errno));
        goto out_free_tmp;
    }
    bool ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        rc = ml4t_error_set(err, ML4T_EIO, "path", "cannot write %s: %s", path, strerror(saved));
    }
out_free_tmp:
    free(tmp);
    return rc;
}

ml4t_err_t ml4t_policy_history_save(const ml4t_policy_engine_t *eng, const char *path,
                                    ml4t_error_t *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = NULL;
    bool ok = root && cJSON_AddStringToObject(root, "schema", S_HISTORY_SCHEMA) &&
              cJSON_AddNumberToObject(root, "version", S_HISTORY_VERSION) &&
              (arr = cJSON_AddArrayToObject(root, "policies")) != NULL;
    for (size_t i = 0; ok && i < eng->hist_count; i++) {
        cJSON *p = ml4t_policy_to_json(ml4t_policy_engine_history_at(eng, i));
        ok = p && cJSON_AddItemToArray(arr, p);
        if (!ok)
            cJSON_Delete(p);
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return ml4t_error_set(err, ML4T_ENOMEM, "path", "out of memory writing %s", path);
    ml4t_err_t rc = s_write_atomic(path, text, strlen(text), err);
    cJSON_free(text);
    return rc;
}

static ml4t_err_t s_read_file(const char *path, char **data, size_t *len, ml4t_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ml4t_error_set(err, ML4T_EIO, "path", "cannot open %s: %s", path, strerror(errno));
    ml4t_err_t rc = ML4T_OK;
    size_t used = 0, cap = 0;
    char *buf = NULL;
    for (;;) {
        if (used == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nbuf = ncap <= S_HISTORY_FILE_MAX ? realloc(buf, ncap) : NULL;
            if (!nbuf) {
                rc = ncap > S_HISTORY_FILE_MAX
                         ? ml4t_error_set(err, ML4T_ELIMIT, "path", "%s: larger than %u bytes",
                                          path, S_HISTORY_FILE_MAX)
                         : ml4t_error_set(err, ML4T_ENOMEM, "path", "out of memory");
                break;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t n = fread(buf + used, 1, cap - used, f);
        used += n;
        if (n == 0) {
            if (ferror(f))
                rc = ml4t_error_set(err, ML4T_EIO, "path", "cannot read %s", path);
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = used;
    return ML4T_OK;
}

/* The "policies" array of a parsed history file, checked for schema and size. */
static ml4t_err_t s_history_array(const cJSON *root, const char *path, const cJSON **arr,
                                  ml4t_error_t *err)
{
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    *arr = cJSON_GetObjectItemCaseSensitive(root, "policies");
    if (!cJSON_IsString(schema) || strcmp(schema->valuestring, S_HISTORY_SCHEMA) != 0)
        return ml4t_error_set(err, ML4T_EFORMAT, "schema", "%s: schema is not \"%s\"", path,
                              S_HISTORY_SCHEMA);
    if (!cJSON_IsNumber(version) || version->valuedouble != S_HISTORY_VERSION)
        return ml4t_error_set(err, ML4T_EFORMAT, "version", "%s: version is not %d", path,
                              S_HISTORY_VERSION);
    if (!cJSON_IsArray(*arr))
        return ml4t_error_set(err, ML4T_EFORMAT, "policies", "%s: policies is not an array", path);
    if (cJSON_GetArraySize(*arr) > ML4T_POLICY_HISTORY_MAX)
        return ml4t_error_set(err, ML4T_ELIMIT, "policies", "%s: %d policies, at most %d", path,
                              cJSON_GetArraySize(*arr), ML4T_POLICY_HISTORY_MAX);
    return ML4T_OK;
}

/* Parse every policy into a fresh array (*out, caller frees); the engine is untouched. */
static ml4t_err_t s_history_parse(const cJSON *arr, ml4t_trading_policy_t **out, size_t *n,
                                  ml4t_error_t *err)
{
    size_t count = (size_t)cJSON_GetArraySize(arr);
    ml4t_trading_policy_t *list = calloc(count ? count : 1, sizeof *list);
    if (!list)
        return ml4t_error_set(err, ML4T_ENOMEM, "policies", "out of memory");
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr)
    {
        ml4t_error_t e;
        ml4t_error_clear(&e);
        ml4t_err_t rc = ml4t_policy_from_json(item, &list[i], &e);
        if (rc) {
            free(list);
            char field[128]; /* ml4t_error_set truncates to ML4T_ERROR_FIELD_MAX */
            snprintf(field, sizeof field, "policies[%zu].%s", i, e.field);
            return ml4t_error_set(err, rc, field, "policies[%zu]: %s", i, e.msg);
        }
        i++;
    }
    *out = list;
    *n = count;
    return ML4T_OK;
}

ml4t_err_t ml4t_policy_history_load(ml4t_policy_engine_t *eng, const char *path, ml4t_error_t *err)
{
    char *data = NULL;
    size_t len = 0;
    ml4t_err_t rc = s_read_file(path, &data, &len, err);
    if (rc)
        return rc;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end, false);
    if (!root) {
        size_t at = end ? (size_t)(end - data) : 0;
        free(data);
        return ml4t_error_set(err, ML4T_EFORMAT, "path", "%s: not valid JSON (near byte %zu)", path,
                              at);
    }
    free(data);
    const cJSON *arr = NULL;
    ml4t_trading_policy_t *list = NULL;
    size_t n = 0;
    rc = s_history_array(root, path, &arr, err);
    if (rc == ML4T_OK)
        rc = s_history_parse(arr, &list, &n, err);
    cJSON_Delete(root);
    if (rc)
        return rc;
    memcpy(eng->history, list, n * sizeof *list);
    eng->hist_start = 0;
    eng->hist_count = n;
    if (n) {
        memcpy(&eng->current, &list[n - 1], sizeof eng->current);
        eng->has_last_change = true;
        eng->last_change_ns = list[n - 1].ts_ns;
    }
    free(list);
    return ML4T_OK;
}
