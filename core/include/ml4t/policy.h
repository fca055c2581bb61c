/*  ml4t_policy: the trading-policy engine.

    Besides enriching each signal, the node decides whether new trades are
    allowed at all, how much risk each may take, what confidence it must reach
    and which symbols are barred. That decision is a trading policy
    (ml4t_trading_policy_t), computed by fixed rules from a few inputs the node
    derives: the regime tag, the volatility level, the account's risk state,
    per-symbol performance, and optionally the ensemble's quality and the cost
    levels. See docs/policy.md for every rule and formula.

    Three layers:
      - ml4t_policy_compute: the pure rules, inputs -> policy.
      - ml4t_policy_engine: keeps the current policy and replaces it only when
        the stability rules allow (update interval, similarity), except that a
        policy which blocks trading takes effect at once. It keeps the last
        ML4T_POLICY_HISTORY_MAX policies and saves/loads them as JSON.
      - ml4t_policy_verdict: the hot-path gate for one signal; reads a policy,
        allocates nothing.

    Time is injected: every function that needs "now" takes now_ns (Unix-epoch
    nanoseconds, UTC; the node passes ml4t_clock_wall_ns()).

    Threading: an engine belongs to one thread (the node actor). A policy is a
    plain value: copy it freely, read it from anywhere once copied. */
#ifndef ML4T_POLICY_H_INCLUDED
#define ML4T_POLICY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml4t/error.h"
#include "ml4t/event.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON; /* cjson/cJSON.h; only ml4t_policy_to_json/from_json use it */

#define ML4T_POLICY_SYMBOLS_MAX 256 /* capacity of each symbol set and of the inputs' list */
#define ML4T_POLICY_HISTORY_MAX 100 /* policies kept by an engine */
#define ML4T_POLICY_NOTE_MAX    1024
#define ML4T_POLICY_REASON_MAX  96

/* ---- enums and their names (the names are the JSON and wire spellings) ---- */

typedef enum {
    ML4T_POLICY_REGIME_UNKNOWN = 0, /* not yet known: no regime rule fires */
    ML4T_POLICY_REGIME_TRENDING,
    ML4T_POLICY_REGIME_RANGING
} ml4t_policy_regime_t;

typedef enum {
    ML4T_POLICY_VOL_LOW = 0,
    ML4T_POLICY_VOL_NORMAL,
    ML4T_POLICY_VOL_HIGH,
    ML4T_POLICY_VOL_EXTREME
} ml4t_policy_volatility_t;

typedef enum {
    ML4T_POLICY_RISK_NORMAL = 0,
    ML4T_POLICY_RISK_REDUCED,      /* a rule scaled max_risk_pct below base_risk_pct */
    ML4T_POLICY_RISK_NO_NEW_TRADES /* exactly when allow_new_trades is false */
} ml4t_policy_risk_profile_t;

typedef enum {
    ML4T_POLICY_ENTRY_NORMAL = 0,
    ML4T_POLICY_ENTRY_DEFENSIVE,
    ML4T_POLICY_ENTRY_AGGRESSIVE
} ml4t_policy_entry_mode_t;

typedef enum {
    ML4T_POLICY_EXIT_TREND_FOLLOW = 0, /* the base policy's exit */
    ML4T_POLICY_EXIT_FAST_TP,
    ML4T_POLICY_EXIT_DEFENSIVE_TRAIL /* no rule selects it yet; kept for the wire */
} ml4t_policy_exit_mode_t;

typedef enum {
    ML4T_POLICY_TAG_NEUTRAL = 0,
    ML4T_POLICY_TAG_GOOD,
    ML4T_POLICY_TAG_BAD
} ml4t_policy_symbol_tag_t;

typedef enum {
    ML4T_POLICY_COST_LOW = 0,
    ML4T_POLICY_COST_NORMAL,
    ML4T_POLICY_COST_HIGH
} ml4t_policy_cost_level_t;

/* Upper-case names ("TRENDING", "NO_NEW_TRADES", ...); "?" when out of range. */
const char *ml4t_policy_regime_name(ml4t_policy_regime_t v);
const char *ml4t_policy_volatility_name(ml4t_policy_volatility_t v);
const char *ml4t_policy_risk_profile_name(ml4t_policy_risk_profile_t v);
const char *ml4t_policy_entry_mode_name(ml4t_policy_entry_mode_t v);
const char *ml4t_policy_exit_mode_name(ml4t_policy_exit_mode_t v);
const char *ml4t_policy_symbol_tag_name(ml4t_policy_symbol_tag_t v);
const char *ml4t_policy_cost_level_name(ml4t_policy_cost_level_t v);

/* Parse a name (case-insensitive). ML4T_EINVAL, *out unchanged, when unknown. */
ml4t_err_t ml4t_policy_regime_parse(const char *name, ml4t_policy_regime_t *out);
ml4t_err_t ml4t_policy_volatility_parse(const char *name, ml4t_policy_volatility_t *out);
ml4t_err_t ml4t_policy_risk_profile_parse(const char *name, ml4t_policy_risk_profile_t *out);
ml4t_err_t ml4t_policy_entry_mode_parse(const char *name, ml4t_policy_entry_mode_t *out);
ml4t_err_t ml4t_policy_exit_mode_parse(const char *name, ml4t_policy_exit_mode_t *out);
ml4t_err_t ml4t_policy_symbol_tag_parse(const char *name, ml4t_policy_symbol_tag_t *out);
ml4t_err_t ml4t_policy_cost_level_parse(const char *name, ml4t_policy_cost_level_t *out);

/* The rules, as bits of ml4t_trading_policy_t.rules (in the order they apply). */
typedef enum {
    ML4T_POLICY_RULE_VOL_EXTREME = 1u << 0, /* blocks */
    ML4T_POLICY_RULE_VOL_HIGH = 1u << 1,
    ML4T_POLICY_RULE_TRENDING = 1u << 2, /* TRENDING with NORMAL volatility */
    ML4T_POLICY_RULE_RANGING = 1u << 3,
    ML4T_POLICY_RULE_DRAWDOWN = 1u << 4, /* blocks */
    ML4T_POLICY_RULE_LOSING_STREAK = 1u << 5,
    ML4T_POLICY_RULE_MAX_POSITIONS = 1u << 6, /* blocks */
    ML4T_POLICY_RULE_MAX_EXPOSURE = 1u << 7,  /* blocks */
    ML4T_POLICY_RULE_HIGH_COSTS = 1u << 8,
    ML4T_POLICY_RULE_BAD_SYMBOLS = 1u << 9,
    ML4T_POLICY_RULE_LOW_ENSEMBLE = 1u << 10,
    ML4T_POLICY_RULE_CONF_CLAMPED = 1u << 11 /* min_confidence clamped into [0, 1] */
} ml4t_policy_rule_t;

#define ML4T_POLICY_RULES_BLOCKING                                                                 \
    (ML4T_POLICY_RULE_VOL_EXTREME | ML4T_POLICY_RULE_DRAWDOWN | ML4T_POLICY_RULE_MAX_POSITIONS |   \
     ML4T_POLICY_RULE_MAX_EXPOSURE)
#define ML4T_POLICY_RULE_COUNT 12

/* snake_case name of one rule bit ("volatility_high"); "?" when not a single rule. */
const char *ml4t_policy_rule_name(uint32_t rule);
/* Parse a rule name into its bit. ML4T_EINVAL when unknown. */
ml4t_err_t ml4t_policy_rule_parse(const char *name, uint32_t *out);

/* ---- configuration ---- */

typedef struct ml4t_policy_config {
    double base_confidence;          /* 0.50, [0, 1]      ORCH_BASE_CONFIDENCE */
    double base_risk_pct;            /* 1.0, (0, 100]     ORCH_BASE_RISK_PCT */
    double daily_dd_limit_pct;       /* 3.0, (0, 100]     ORCH_DAILY_DD_LIMIT */
    int64_t losing_streak_limit;     /* 5, [1, 1000000]   ORCH_LOSING_STREAK_LIMIT */
    int64_t max_open_positions;      /* 8, [1, 1000000]   ORCH_MAX_OPEN_POSITIONS */
    double total_exposure_limit_pct; /* 15.0, (0, 10000]  ORCH_TOTAL_EXPOSURE_LIMIT */
    double update_interval_s;        /* 60, [0, 86400] */
    double similarity_threshold;     /* 0.95, [0, 1] */
} ml4t_policy_config_t;

/* Fill cfg with the defaults above. */
void ml4t_policy_config_default(ml4t_policy_config_t *cfg);

/* Check every field. ML4T_EINVAL; err->field names the first bad field and
   err->msg lists every violation as "field=value: rule". */
ml4t_err_t ml4t_policy_config_validate(const ml4t_policy_config_t *cfg, ml4t_error_t *err);

/* Apply the ORCH_* environment variables that are set. Stops at the first bad
   one: ML4T_EINVAL (not a number, not a whole number) or ML4T_ERANGE, err->field
   is the variable's name and err->msg shows its value. cfg is unchanged on error. */
ml4t_err_t ml4t_policy_config_from_env(ml4t_policy_config_t *cfg, ml4t_error_t *err);

/* ---- inputs ---- */

typedef struct ml4t_policy_risk_state {
    double daily_pnl_pct;  /* recorded; no rule reads it */
    double drawdown_pct;   /* current drawdown; the sign is ignored (-3.2 == 3.2) */
    int64_t losing_streak; /* consecutive losing trades, >= 0 */
    int64_t open_positions;
    double exposure_pct; /* total exposure, % of equity, >= 0 */
} ml4t_policy_risk_state_t;

typedef struct ml4t_policy_symbol_perf {
    char instrument_id[ML4T_INSTRUMENT_MAX + 1];
    double win_rate;              /* informational */
    double avg_r;                 /* informational */
    double cum_pnl;               /* informational */
    ml4t_policy_symbol_tag_t tag; /* BAD -> disallowed, otherwise allowed */
} ml4t_policy_symbol_perf_t;

typedef struct ml4t_policy_inputs {
    ml4t_policy_regime_t regime;
    ml4t_policy_volatility_t volatility;
    ml4t_policy_risk_state_t risk;
    const ml4t_policy_symbol_perf_t *symbols; /* caller owns; read during the call only */
    size_t n_symbols;                         /* <= ML4T_POLICY_SYMBOLS_MAX, no repeats */
    bool has_ensemble_quality;
    double ensemble_quality; /* [0, 1] when has_ensemble_quality */
    bool has_costs;
    ml4t_policy_cost_level_t spread_level;   /* when has_costs */
    ml4t_policy_cost_level_t slippage_level; /* when has_costs */
} ml4t_policy_inputs_t;

/* Neutral inputs: regime UNKNOWN, volatility NORMAL, zero risk, no symbols, no
   ensemble quality, no costs. With these the base policy comes out unchanged. */
void ml4t_policy_inputs_init(ml4t_policy_inputs_t *in);

/* Check enums, finite numbers, ranges, the symbol list (ids 1..64 bytes,
   NUL-terminated, no repeats, at most ML4T_POLICY_SYMBOLS_MAX: ML4T_ELIMIT
   beyond). err->field names the input, e.g. "risk.drawdown_pct", "symbols[3]". */
ml4t_err_t ml4t_policy_inputs_validate(const ml4t_policy_inputs_t *in, ml4t_error_t *err);

/* ---- the policy ---- */

typedef struct ml4t_trading_policy {
    bool allow_new_trades;
    ml4t_policy_risk_profile_t risk_profile;
    double max_risk_pct;   /* base x multipliers; 0 when !allow_new_trades */
    double min_confidence; /* base + adjustments, clamped to [0, 1] */
    ml4t_policy_entry_mode_t entry_mode;
    ml4t_policy_exit_mode_t exit_mode;
    /* Sorted (strcmp), no repeats. allowed: symbols with performance data not
       tagged BAD; disallowed: those tagged BAD. A symbol in neither set has no
       data yet and is not barred. */
    size_t n_allowed;
    char allowed[ML4T_POLICY_SYMBOLS_MAX][ML4T_INSTRUMENT_MAX + 1];
    size_t n_disallowed;
    char disallowed[ML4T_POLICY_SYMBOLS_MAX][ML4T_INSTRUMENT_MAX + 1];
    uint32_t rules;                            /* ml4t_policy_rule_t bits that fired */
    char block_reason[ML4T_POLICY_REASON_MAX]; /* first blocking rule, "" when allowed */
    char note[ML4T_POLICY_NOTE_MAX];           /* every rule that fired, "; "-separated */
    double base_risk_pct;                      /* the configuration it was computed with */
    double base_confidence;
    uint64_t ts_ns; /* when computed, Unix-epoch ns UTC; 0 for the engine's initial policy */
} ml4t_trading_policy_t;

/* The base policy: trades allowed, NORMAL, base risk and confidence, entry
   NORMAL, exit TREND_FOLLOW, empty symbol sets, note "base policy". */
void ml4t_policy_base(const ml4t_policy_config_t *cfg, uint64_t now_ns, ml4t_trading_policy_t *out);

/* The pure rules: validate inputs, start from the base policy, apply every rule
   (docs/policy.md). out is written only on success. cfg must be valid. */
ml4t_err_t ml4t_policy_compute(const ml4t_policy_config_t *cfg, const ml4t_policy_inputs_t *in,
                               uint64_t now_ns, ml4t_trading_policy_t *out, ml4t_error_t *err);

/* Similarity in [0, 1] of two policies: the sum of the weights of the parts
   that agree (allow 0.20, risk profile 0.15, max risk 0.15, min confidence
   0.15, entry 0.10, exit 0.10, allowed set 0.10, disallowed set 0.05). Numbers
   agree within 10 % relative, symmetrically. Symmetric in a and b. */
double ml4t_policy_similarity(const ml4t_trading_policy_t *a, const ml4t_trading_policy_t *b);

/* True when instrument is in the policy's disallowed / allowed set (bsearch). */
bool ml4t_policy_is_disallowed(const ml4t_trading_policy_t *pol, const char *instrument);
bool ml4t_policy_is_allowed(const ml4t_trading_policy_t *pol, const char *instrument);

/* The verdict on one signal; hot path, allocates nothing. In order: trading
   blocked -> "no new trades: <block_reason>"; instrument disallowed -> "symbol
   disallowed: tagged BAD"; meta_confidence below min_confidence (tolerance
   1e-9; NaN fails) -> "confidence 0.48 < min 0.53". Otherwise allowed, with the
   names of the rules that shaped the policy in reason. min_confidence and
   max_risk_pct are copied. pol NULL: present = false, allowed = true. */
void ml4t_policy_verdict(const ml4t_trading_policy_t *pol, const char *instrument,
                         double meta_confidence, ml4t_verdict_t *out);

/* Factor in [0, 1] to multiply a position size by so it honours max_risk_pct:
   min(1, max_risk_pct / base_risk_pct); 0 when trading is blocked or
   base_risk_pct <= 0. base_risk_pct is the risk a full-size position carries
   (normally the configuration's base_risk_pct, which pol->base_risk_pct holds). */
double ml4t_policy_size_scale(const ml4t_trading_policy_t *pol, double base_risk_pct);

/* The policy as a JSON object (names as the enum names, "ts_ns" as a decimal
   string, "timestamp" as ISO 8601 UTC). Caller owns: cJSON_Delete. NULL on
   out-of-memory. */
struct cJSON *ml4t_policy_to_json(const ml4t_trading_policy_t *pol);

/* Read a policy written by ml4t_policy_to_json. ML4T_EMISSING / ML4T_ETYPE /
   ML4T_EINVAL / ML4T_ELIMIT with err->field naming the member. out is written
   only on success. */
ml4t_err_t ml4t_policy_from_json(const struct cJSON *json, ml4t_trading_policy_t *out,
                                 ml4t_error_t *err);

/* ---- the engine ---- */

typedef struct ml4t_policy_engine ml4t_policy_engine_t;

typedef enum {
    ML4T_POLICY_NONE = 0,         /* no update yet */
    ML4T_POLICY_APPLIED,          /* the candidate replaced the current policy */
    ML4T_POLICY_APPLIED_BLOCKING, /* ... at once, as it blocks trading */
    ML4T_POLICY_HELD_INTERVAL,    /* within update_interval_s of the last change */
    ML4T_POLICY_HELD_SIMILAR      /* similarity >= similarity_threshold */
} ml4t_policy_decision_t;

const char *ml4t_policy_decision_name(ml4t_policy_decision_t d);

/* Counters since the engine was made or since the last reset_daily. */
typedef struct ml4t_policy_stats {
    uint64_t updates;          /* successful ml4t_policy_engine_update calls */
    uint64_t changes;          /* of which replaced the current policy */
    uint64_t blocking_changes; /* of which at once because they block trading */
    uint64_t held_interval;
    uint64_t held_similar;
    uint64_t input_errors; /* updates refused for bad inputs */
} ml4t_policy_stats_t;

/* A new engine whose current policy is the base policy (ts_ns 0) and whose
   history is empty. cfg is copied; NULL means the defaults. NULL with err set
   on an invalid cfg (ML4T_EINVAL) or out of memory. Caller owns: destroy. */
ml4t_policy_engine_t *ml4t_policy_engine_new(const ml4t_policy_config_t *cfg, ml4t_error_t *err);

/* Free the engine and set *self_p to NULL; nothing on NULL. */
void ml4t_policy_engine_destroy(ml4t_policy_engine_t **self_p);

/* Compute the candidate policy from in at now_ns and decide:
     1. the candidate blocks trading and the current does not -> apply at once;
     2. within update_interval_s of the last change -> keep the current;
     3. similarity(candidate, current) >= similarity_threshold -> keep;
     4. otherwise apply.
   Applying makes the candidate current, appends it to the history and restarts
   the interval. *changed (may be NULL) tells whether it was applied. On bad
   inputs the current policy stays and the error names the input. Allocates
   nothing. */
ml4t_err_t ml4t_policy_engine_update(ml4t_policy_engine_t *eng, const ml4t_policy_inputs_t *in,
                                     uint64_t now_ns, bool *changed, ml4t_error_t *err);

/* The current policy. Read-only, valid until the next update, load or destroy;
   copy it to keep it. */
const ml4t_trading_policy_t *ml4t_policy_engine_current(const ml4t_policy_engine_t *eng);

/* The candidate computed by the last successful update (applied or not), or
   NULL before the first. Valid as ml4t_policy_engine_current. */
const ml4t_trading_policy_t *ml4t_policy_engine_candidate(const ml4t_policy_engine_t *eng);

/* What the last successful update decided. */
ml4t_policy_decision_t ml4t_policy_engine_last_decision(const ml4t_policy_engine_t *eng);

const ml4t_policy_config_t *ml4t_policy_engine_config(const ml4t_policy_engine_t *eng);
void ml4t_policy_engine_stats(const ml4t_policy_engine_t *eng, ml4t_policy_stats_t *out);

/* Start a new trading day: the next update is not held by the update interval
   (so a policy blocked by the drawdown limit is recomputed at once from the
   caller's fresh risk state) and the stats counters go to zero. The current
   policy and the history stay. */
void ml4t_policy_engine_reset_daily(ml4t_policy_engine_t *eng);

/* History: the applied policies, oldest first, at most ML4T_POLICY_HISTORY_MAX
   (the oldest is dropped). at() returns NULL past the end; valid until the
   next update, load or destroy. */
size_t ml4t_policy_engine_history_count(const ml4t_policy_engine_t *eng);
const ml4t_trading_policy_t *ml4t_policy_engine_history_at(const ml4t_policy_engine_t *eng,
                                                           size_t i);

/* Write the history to path as JSON {"schema":"ml4t.policy_history","version":1,
   "policies":[...]}, atomically (path.tmp, fsync, rename). ML4T_EIO naming path. */
ml4t_err_t ml4t_policy_history_save(const ml4t_policy_engine_t *eng, const char *path,
                                    ml4t_error_t *err);

/* Replace the history with the file's; the newest policy in it becomes the
   current one and its ts_ns the time of the last change (so the interval runs
   from then). ML4T_EIO (cannot read), ML4T_EFORMAT (not JSON, wrong schema or
   version), ML4T_ELIMIT (more than ML4T_POLICY_HISTORY_MAX policies), or the
   error of the first bad policy with err->field "policies[i].<member>". The
   engine is unchanged on error. An empty list empties the history and keeps
   the current policy. */
ml4t_err_t ml4t_policy_history_load(ml4t_policy_engine_t *eng, const char *path, ml4t_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
