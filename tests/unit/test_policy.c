/*  ml4t_policy tests: each rule alone, the design's four scenarios, similarity,
    the update interval and its blocking exception, history files, verdicts,
    configuration from the environment. Expected numbers come from the rules as
    written in the issue (base 0.50 / 1.0 %, the listed multipliers and
    confidence steps), not from running the code. */
#include "ml4t/policy.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

#define SEC 1000000000ull
#define T0  (1700000000ull * SEC) /* 2023-11-14T22:13:20Z */

/* Exact decimal answers (0.47, 0.105) computed in binary floating point. */
#define TOL 1e-12

static ml4t_policy_config_t s_cfg(void)
{
    ml4t_policy_config_t cfg;
    ml4t_policy_config_default(&cfg);
    return cfg;
}

static ml4t_policy_inputs_t s_in(ml4t_policy_regime_t regime, ml4t_policy_volatility_t vol)
{
    ml4t_policy_inputs_t in;
    ml4t_policy_inputs_init(&in);
    in.regime = regime;
    in.volatility = vol;
    return in;
}

/* Computes with the default configuration; REQUIRE-style failure is a CHECK. */
static void s_compute(const ml4t_policy_inputs_t *in, ml4t_trading_policy_t *out)
{
    ml4t_policy_config_t cfg = s_cfg();
    ml4t_error_t err;
    ml4t_err_t rc = ml4t_policy_compute(&cfg, in, T0, out, &err);
    if (rc)
        fprintf(stderr, "  compute failed: %s (%s)\n", err.msg, err.field);
    CHECK_EQ_INT(rc, ML4T_OK);
}

static void s_perf(ml4t_policy_symbol_perf_t *p, const char *id, ml4t_policy_symbol_tag_t tag)
{
    memset(p, 0, sizeof *p);
    snprintf(p->instrument_id, sizeof p->instrument_id, "%s", id);
    p->tag = tag;
}

/* ------------------------------------------------------------ configuration */

static void t_config_defaults(void)
{
    ml4t_policy_config_t cfg = s_cfg();
    CHECK_NEAR(cfg.base_confidence, 0.50, 0);
    CHECK_NEAR(cfg.base_risk_pct, 1.0, 0);
    CHECK_NEAR(cfg.daily_dd_limit_pct, 3.0, 0);
    CHECK_EQ_INT(cfg.losing_streak_limit, 5);
    CHECK_EQ_INT(cfg.max_open_positions, 8);
    CHECK_NEAR(cfg.total_exposure_limit_pct, 15.0, 0);
    CHECK_NEAR(cfg.update_interval_s, 60.0, 0);
    CHECK_NEAR(cfg.similarity_threshold, 0.95, 0);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_policy_config_validate(&cfg, &err), ML4T_OK);
}

static void t_config_validate_names_fields(void)
{
    ml4t_policy_config_t cfg = s_cfg();
    cfg.base_confidence = 1.5;
    cfg.losing_streak_limit = 0;
    cfg.similarity_threshold = -0.1;
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_policy_config_validate(&cfg, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "base_confidence");
    CHECK(strstr(err.msg, "base_confidence=1.5") != NULL);
    CHECK(strstr(err.msg, "losing_streak_limit=0") != NULL);
    CHECK(strstr(err.msg, "similarity_threshold=-0.1") != NULL);
    CHECK(ml4t_policy_engine_new(&cfg, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_EINVAL);
}

static const char *const s_env_names[] = {"ORCH_BASE_CONFIDENCE",    "ORCH_BASE_RISK_PCT",
                                          "ORCH_DAILY_DD_LIMIT",     "ORCH_LOSING_STREAK_LIMIT",
                                          "ORCH_MAX_OPEN_POSITIONS", "ORCH_TOTAL_EXPOSURE_LIMIT"};

static void s_env_clear(void)
{
    for (size_t i = 0; i < sizeof s_env_names / sizeof s_env_names[0]; i++)
        unsetenv(s_env_names[i]);
}

static void t_env_overrides(void)
{
    s_env_clear();
    setenv("ORCH_BASE_CONFIDENCE", "0.42", 1);
    setenv("ORCH_BASE_RISK_PCT", "1.5", 1);
    setenv("ORCH_DAILY_DD_LIMIT", "5.0", 1);
    setenv("ORCH_LOSING_STREAK_LIMIT", "6", 1);
    setenv("ORCH_MAX_OPEN_POSITIONS", "10", 1);
    setenv("ORCH_TOTAL_EXPOSURE_LIMIT", " 20 ", 1);
    ml4t_policy_config_t cfg = s_cfg();
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_policy_config_from_env(&cfg, &err), ML4T_OK);
    CHECK_NEAR(cfg.base_confidence, 0.42, 0);
    CHECK_NEAR(cfg.base_risk_pct, 1.5, 0);
    CHECK_NEAR(cfg.daily_dd_limit_pct, 5.0, 0);
    CHECK_EQ_INT(cfg.losing_streak_limit, 6);
    CHECK_EQ_INT(cfg.max_open_positions, 10);
    CHECK_NEAR(cfg.total_exposure_limit_pct, 20.0, 0);
    CHECK_NEAR(cfg.update_interval_s, 60.0, 0); /* no variable: untouched */
    s_env_clear();
}

/* One bad variable: its error code, that the error names it and shows the
   value, and that cfg (including good variables set alongside) is unchanged. */
static void s_env_bad(const char *name, const char *value, ml4t_err_t code)
{
    s_env_clear();
    setenv("ORCH_BASE_CONFIDENCE", "0.42", 1);
    setenv(name, value, 1);
    ml4t_policy_config_t cfg = s_cfg();
    ml4t_error_t err;
    ml4t_error_clear(&err);
    CHECK_EQ_INT(ml4t_policy_config_from_env(&cfg, &err), code);
    CHECK_STR(err.field, name);
    CHECK(strstr(err.msg, name) != NULL);
    CHECK(strstr(err.msg, value) != NULL);
    CHECK_NEAR(cfg.base_confidence, 0.50, 0);
    s_env_clear();
}

static void t_env_validation_errors(void)
{
    s_env_bad("ORCH_BASE_CONFIDENCE", "abc", ML4T_EINVAL);
    s_env_bad("ORCH_BASE_CONFIDENCE", "1.2", ML4T_ERANGE);
    s_env_bad("ORCH_BASE_RISK_PCT", "0", ML4T_ERANGE);
    s_env_bad("ORCH_BASE_RISK_PCT", "", ML4T_EINVAL);
    s_env_bad("ORCH_DAILY_DD_LIMIT", "3.0x", ML4T_EINVAL);
    s_env_bad("ORCH_DAILY_DD_LIMIT", "-1", ML4T_ERANGE);
    s_env_bad("ORCH_LOSING_STREAK_LIMIT", "2.5", ML4T_EINVAL);
    s_env_bad("ORCH_LOSING_STREAK_LIMIT", "0", ML4T_ERANGE);
    s_env_bad("ORCH_MAX_OPEN_POSITIONS", "-3", ML4T_ERANGE);
    s_env_bad("ORCH_TOTAL_EXPOSURE_LIMIT", "inf", ML4T_ERANGE);
    s_env_bad("ORCH_TOTAL_EXPOSURE_LIMIT", "nan", ML4T_ERANGE);
}

/* -------------------------------------------------------------- rules alone */

static void t_neutral_inputs_give_base_policy(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_NORMAL);
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK(p.allow_new_trades);
    CHECK_EQ_INT(p.risk_profile, ML4T_POLICY_RISK_NORMAL);
    CHECK_NEAR(p.max_risk_pct, 1.0, 0);
    CHECK_NEAR(p.min_confidence, 0.50, 0);
    CHECK_EQ_INT(p.entry_mode, ML4T_POLICY_ENTRY_NORMAL);
    CHECK_EQ_INT(p.exit_mode, ML4T_POLICY_EXIT_TREND_FOLLOW);
    CHECK_EQ_INT(p.rules, 0);
    CHECK_STR(p.note, "base policy");
    CHECK_EQ_INT(p.ts_ns, T0);
    /* LOW volatility fires nothing either */
    in.volatility = ML4T_POLICY_VOL_LOW;
    s_compute(&in, &p);
    CHECK_EQ_INT(p.rules, 0);
}

static void t_rule_volatility_extreme(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_EXTREME);
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK(!p.allow_new_trades);
    CHECK_EQ_INT(p.risk_profile, ML4T_POLICY_RISK_NO_NEW_TRADES);
    CHECK_NEAR(p.max_risk_pct, 0.0, 0);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_VOL_EXTREME);
    CHECK_STR(p.block_reason, "volatility EXTREME");
    CHECK(strstr(p.note, "volatility EXTREME: no new trades") != NULL);
}

static void t_rule_volatility_high(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_HIGH);
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK(p.allow_new_trades);
    CHECK_EQ_INT(p.risk_profile, ML4T_POLICY_RISK_REDUCED);
    CHECK_NEAR(p.max_risk_pct, 0.5, TOL);
    CHECK_NEAR(p.min_confidence, 0.53, TOL);
    CHECK_EQ_INT(p.entry_mode, ML4T_POLICY_ENTRY_NORMAL);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_VOL_HIGH);
}

static void t_rule_trending_needs_normal_volatility(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_NORMAL);
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK_EQ_INT(p.entry_mode, ML4T_POLICY_ENTRY_AGGRESSIVE);
    CHECK_EQ_INT(p.exit_mode, ML4T_POLICY_EXIT_TREND_FOLLOW);
    CHECK_NEAR(p.min_confidence, 0.47, TOL);
    CHECK_NEAR(p.max_risk_pct, 1.0, 0);
    CHECK_EQ_INT(p.risk_profile, ML4T_POLICY_RISK_NORMAL);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_TRENDING);
    in.volatility = ML4T_POLICY_VOL_LOW;
    s_compute(&in, &p);
    CHECK_EQ_INT(p.rules, 0);
    CHECK_EQ_INT(p.entry_mode, ML4T_POLICY_ENTRY_NORMAL);
    CHECK_NEAR(p.min_confidence, 0.50, 0);
}

static void t_rule_ranging(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_RANGING, ML4T_POLICY_VOL_NORMAL);
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK_EQ_INT(p.entry_mode, ML4T_POLICY_ENTRY_DEFENSIVE);
    CHECK_EQ_INT(p.exit_mode, ML4T_POLICY_EXIT_FAST_TP);
    CHECK_NEAR(p.max_risk_pct, 0.7, TOL);
    CHECK_NEAR(p.min_confidence, 0.55, TOL);
    /* REDUCED: a rule scaled the risk below base */
    CHECK_EQ_INT(p.risk_profile, ML4T_POLICY_RISK_REDUCED);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_RANGING);
}

static void t_rule_drawdown(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_NORMAL);
    ml4t_trading_policy_t p;
    in.risk.drawdown_pct = 3.0; /* at the limit */
    s_compute(&in, &p);
    CHECK(!p.allow_new_trades);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_DRAWDOWN);
    in.risk.drawdown_pct = 3.2;
    s_compute(&in, &p);
    CHECK(!p.allow_new_trades);
    CHECK_STR(p.block_reason, "drawdown 3.2% >= limit 3.0%");
    CHECK_EQ_INT(p.risk_profile, ML4T_POLICY_RISK_NO_NEW_TRADES);
    in.risk.drawdown_pct = -3.2; /* sign ignored */
    s_compute(&in, &p);
    CHECK(!p.allow_new_trades);
    in.risk.drawdown_pct = 2.99;
    s_compute(&in, &p);
    CHECK(p.allow_new_trades);
    CHECK_EQ_INT(p.rules, 0);
}

static void t_rule_losing_streak(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_NORMAL);
    ml4t_trading_policy_t p;
    in.risk.losing_streak = 5;
    s_compute(&in, &p);
    CHECK(p.allow_new_trades);
    CHECK_NEAR(p.max_risk_pct, 0.3, TOL);
    CHECK_EQ_INT(p.entry_mode, ML4T_POLICY_ENTRY_DEFENSIVE);
    CHECK_NEAR(p.min_confidence, 0.55, TOL);
    CHECK_EQ_INT(p.risk_profile, ML4T_POLICY_RISK_REDUCED);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_LOSING_STREAK);
    in.risk.losing_streak = 4;
    s_compute(&in, &p);
    CHECK_EQ_INT(p.rules, 0);
}

static void t_rule_open_positions(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_NORMAL);
    ml4t_trading_policy_t p;
    in.risk.open_positions = 8;
    s_compute(&in, &p);
    CHECK(!p.allow_new_trades);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_MAX_POSITIONS);
    CHECK_STR(p.block_reason, "open positions 8 >= max 8");
    in.risk.open_positions = 7;
    s_compute(&in, &p);
    CHECK(p.allow_new_trades);
}

static void t_rule_exposure(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_NORMAL);
    ml4t_trading_policy_t p;
    in.risk.exposure_pct = 15.0;
    s_compute(&in, &p);
    CHECK(!p.allow_new_trades);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_MAX_EXPOSURE);
    CHECK_STR(p.block_reason, "exposure 15.0% >= limit 15.0%");
    in.risk.exposure_pct = 14.9;
    s_compute(&in, &p);
    CHECK(p.allow_new_trades);
}

static void t_rule_high_costs(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_NORMAL);
    ml4t_trading_policy_t p;
    in.has_costs = true;
    in.spread_level = ML4T_POLICY_COST_HIGH;
    s_compute(&in, &p);
    CHECK_EQ_INT(p.entry_mode, ML4T_POLICY_ENTRY_DEFENSIVE);
    CHECK_NEAR(p.min_confidence, 0.53, TOL);
    CHECK_NEAR(p.max_risk_pct, 1.0, 0);
    CHECK_EQ_INT(p.risk_profile, ML4T_POLICY_RISK_NORMAL);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_HIGH_COSTS);
    in.spread_level = ML4T_POLICY_COST_LOW;
    in.slippage_level = ML4T_POLICY_COST_HIGH;
    s_compute(&in, &p);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_HIGH_COSTS);
    in.slippage_level = ML4T_POLICY_COST_NORMAL;
    s_compute(&in, &p);
    CHECK_EQ_INT(p.rules, 0);
    /* costs are optional: levels without has_costs are ignored */
    in.has_costs = false;
    in.spread_level = ML4T_POLICY_COST_HIGH;
    s_compute(&in, &p);
    CHECK_EQ_INT(p.rules, 0);
}

static void t_rule_bad_symbols(void)
{
    ml4t_policy_symbol_perf_t perf[4];
    s_perf(&perf[0], "ETHUSDT", ML4T_POLICY_TAG_GOOD);
    s_perf(&perf[1], "FILUSDT", ML4T_POLICY_TAG_BAD);
    s_perf(&perf[2], "BTCUSDT", ML4T_POLICY_TAG_NEUTRAL);
    s_perf(&perf[3], "DOGEUSDT", ML4T_POLICY_TAG_BAD);
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_NORMAL);
    in.symbols = perf;
    in.n_symbols = 4;
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK(p.allow_new_trades);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_BAD_SYMBOLS);
    CHECK_NEAR(p.min_confidence, 0.50, 0);
    CHECK_NEAR(p.max_risk_pct, 1.0, 0);
    REQUIRE(p.n_allowed == 2 && p.n_disallowed == 2);
    CHECK_STR(p.allowed[0], "BTCUSDT"); /* sorted */
    CHECK_STR(p.allowed[1], "ETHUSDT");
    CHECK_STR(p.disallowed[0], "DOGEUSDT");
    CHECK_STR(p.disallowed[1], "FILUSDT");
    CHECK(ml4t_policy_is_disallowed(&p, "FILUSDT"));
    CHECK(!ml4t_policy_is_disallowed(&p, "ETHUSDT"));
    CHECK(ml4t_policy_is_allowed(&p, "ETHUSDT"));
    CHECK(!ml4t_policy_is_allowed(&p, "SOLUSDT")); /* no data: in neither set */
    CHECK(!ml4t_policy_is_disallowed(&p, "SOLUSDT"));
    CHECK(strstr(p.note, "2 symbols tagged BAD") != NULL);
}

static void t_rule_low_ensemble_quality(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_NORMAL);
    ml4t_trading_policy_t p;
    in.has_ensemble_quality = true;
    in.ensemble_quality = 0.39;
    s_compute(&in, &p);
    CHECK_NEAR(p.min_confidence, 0.55, TOL);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_LOW_ENSEMBLE);
    CHECK_NEAR(p.max_risk_pct, 1.0, 0);
    in.ensemble_quality = 0.40; /* strictly below fires */
    s_compute(&in, &p);
    CHECK_EQ_INT(p.rules, 0);
    in.has_ensemble_quality = false; /* optional */
    in.ensemble_quality = 0.0;
    s_compute(&in, &p);
    CHECK_EQ_INT(p.rules, 0);
}

static void t_defensive_wins_over_aggressive(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_NORMAL);
    in.risk.losing_streak = 5;
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK_EQ_INT(p.entry_mode, ML4T_POLICY_ENTRY_DEFENSIVE);
    CHECK_EQ_INT(p.exit_mode, ML4T_POLICY_EXIT_TREND_FOLLOW);
    CHECK_NEAR(p.min_confidence, 0.50 - 0.03 + 0.05, TOL);
    CHECK_NEAR(p.max_risk_pct, 0.3, TOL);
}

static void t_confidence_clamped(void)
{
    ml4t_policy_config_t cfg = s_cfg();
    ml4t_trading_policy_t p;
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_HIGH);
    cfg.base_confidence = 0.99;
    CHECK_EQ_INT(ml4t_policy_compute(&cfg, &in, T0, &p, NULL), ML4T_OK);
    CHECK_NEAR(p.min_confidence, 1.0, 0);
    CHECK(p.rules & ML4T_POLICY_RULE_CONF_CLAMPED);
    in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_NORMAL);
    cfg.base_confidence = 0.01;
    CHECK_EQ_INT(ml4t_policy_compute(&cfg, &in, T0, &p, NULL), ML4T_OK);
    CHECK_NEAR(p.min_confidence, 0.0, 0);
    CHECK(p.rules & ML4T_POLICY_RULE_CONF_CLAMPED);
}

static void t_first_block_reason_kept(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_EXTREME);
    in.risk.drawdown_pct = 4.0;
    in.risk.open_positions = 9;
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK_STR(p.block_reason, "volatility EXTREME");
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_VOL_EXTREME | ML4T_POLICY_RULE_DRAWDOWN |
                              ML4T_POLICY_RULE_MAX_POSITIONS);
    /* the note names every rule that fired */
    CHECK(strstr(p.note, "volatility EXTREME") != NULL);
    CHECK(strstr(p.note, "drawdown 4.0% >= limit 3.0%") != NULL);
    CHECK(strstr(p.note, "open positions 9 >= max 8") != NULL);
}

/* ---------------------------------------------------------------- scenarios */

static void t_scenario_normal(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_NORMAL);
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK(p.allow_new_trades);
    CHECK_NEAR(p.min_confidence, 0.47, TOL);
    CHECK_EQ_INT(p.entry_mode, ML4T_POLICY_ENTRY_AGGRESSIVE);
    CHECK_EQ_INT(p.exit_mode, ML4T_POLICY_EXIT_TREND_FOLLOW);
}

/* TRENDING with HIGH volatility: the TRENDING rule needs NORMAL volatility, so
   only the HIGH rule fires. (RANGING would add x0.7 and +0.05.) */
static void t_scenario_high_volatility(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_HIGH);
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK(p.allow_new_trades);
    CHECK_EQ_INT(p.risk_profile, ML4T_POLICY_RISK_REDUCED);
    CHECK_NEAR(p.max_risk_pct, 0.5, TOL);
    CHECK_NEAR(p.min_confidence, 0.53, TOL);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_VOL_HIGH);
}

static void t_scenario_drawdown(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_NORMAL);
    in.risk.daily_pnl_pct = -3.5;
    in.risk.drawdown_pct = 3.5;
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK(!p.allow_new_trades);
    CHECK_EQ_INT(p.risk_profile, ML4T_POLICY_RISK_NO_NEW_TRADES);
    ml4t_verdict_t v;
    ml4t_policy_verdict(&p, "FILUSDT", 0.99, &v);
    CHECK(!v.allowed);
    CHECK_STR(v.reason, "no new trades: drawdown 3.5% >= limit 3.0%");
}

/* The design document printed min_confidence 0.61 for this example; its own
   rules give 0.50 + 0.03 (HIGH) + 0.05 (RANGING) + 0.05 (streak) + 0.03
   (costs) = 0.66, which is what we implement. Risk 1.0 x 0.5 x 0.7 x 0.3. */
static void t_scenario_everything_at_once(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_RANGING, ML4T_POLICY_VOL_HIGH);
    in.risk.losing_streak = 6;
    in.has_costs = true;
    in.spread_level = ML4T_POLICY_COST_HIGH;
    in.slippage_level = ML4T_POLICY_COST_HIGH;
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK(p.allow_new_trades);
    CHECK_NEAR(p.max_risk_pct, 0.105, TOL);
    CHECK_EQ_INT(p.entry_mode, ML4T_POLICY_ENTRY_DEFENSIVE);
    CHECK_EQ_INT(p.exit_mode, ML4T_POLICY_EXIT_FAST_TP);
    CHECK_NEAR(p.min_confidence, 0.66, TOL);
    CHECK(fabs(p.min_confidence - 0.61) > 0.04); /* not the design document's figure */
    CHECK_EQ_INT(p.risk_profile, ML4T_POLICY_RISK_REDUCED);
    CHECK_EQ_INT(p.rules, ML4T_POLICY_RULE_VOL_HIGH | ML4T_POLICY_RULE_RANGING |
                              ML4T_POLICY_RULE_LOSING_STREAK | ML4T_POLICY_RULE_HIGH_COSTS);
}

/* ----------------------------------------------------------------- inputs */

static void s_bad_input(const ml4t_policy_inputs_t *in, ml4t_err_t code, const char *field)
{
    ml4t_policy_config_t cfg = s_cfg();
    ml4t_trading_policy_t p;
    p.min_confidence = -7.0; /* sentinel: out is written only on success */
    ml4t_error_t err;
    ml4t_error_clear(&err);
    CHECK_EQ_INT(ml4t_policy_compute(&cfg, in, T0, &p, &err), code);
    CHECK_STR(err.field, field);
    CHECK_NEAR(p.min_confidence, -7.0, 0);
    CHECK_EQ_INT(ml4t_policy_inputs_validate(in, NULL), code);
}

static void t_inputs_validation(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_NORMAL);
    in.regime = (ml4t_policy_regime_t)7;
    s_bad_input(&in, ML4T_EINVAL, "regime");
    in = s_in(ML4T_POLICY_REGIME_UNKNOWN, (ml4t_policy_volatility_t)4);
    s_bad_input(&in, ML4T_EINVAL, "volatility");
    in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_NORMAL);
    in.risk.drawdown_pct = NAN;
    s_bad_input(&in, ML4T_ERANGE, "risk.drawdown_pct");
    in.risk.drawdown_pct = 0;
    in.risk.losing_streak = -1;
    s_bad_input(&in, ML4T_ERANGE, "risk.losing_streak");
    in.risk.losing_streak = 0;
    in.risk.exposure_pct = -1;
    s_bad_input(&in, ML4T_ERANGE, "risk.exposure_pct");
    in.risk.exposure_pct = 0;
    in.has_ensemble_quality = true;
    in.ensemble_quality = 1.5;
    s_bad_input(&in, ML4T_ERANGE, "ensemble_quality");
    in.has_ensemble_quality = false;
    in.has_costs = true;
    in.slippage_level = (ml4t_policy_cost_level_t)9;
    s_bad_input(&in, ML4T_EINVAL, "slippage_level");
}

static void t_inputs_symbol_list_errors(void)
{
    static ml4t_policy_symbol_perf_t perf[ML4T_POLICY_SYMBOLS_MAX + 1];
    for (size_t i = 0; i < ML4T_POLICY_SYMBOLS_MAX + 1; i++) {
        char id[32];
        snprintf(id, sizeof id, "SYM%03zuUSDT", i);
        s_perf(&perf[i], id, i % 3 == 0 ? ML4T_POLICY_TAG_BAD : ML4T_POLICY_TAG_GOOD);
    }
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_NORMAL);
    in.symbols = perf;
    in.n_symbols = ML4T_POLICY_SYMBOLS_MAX; /* exactly the capacity fits */
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK_EQ_INT(p.n_allowed + p.n_disallowed, ML4T_POLICY_SYMBOLS_MAX);
    CHECK_EQ_INT(p.n_disallowed, (ML4T_POLICY_SYMBOLS_MAX + 2) / 3);
    in.n_symbols = ML4T_POLICY_SYMBOLS_MAX + 1; /* overflow is an error, not truncation */
    s_bad_input(&in, ML4T_ELIMIT, "symbols");
    in.n_symbols = 3;
    snprintf(perf[2].instrument_id, sizeof perf[2].instrument_id, "%s", perf[0].instrument_id);
    s_bad_input(&in, ML4T_EINVAL, "symbols");
    perf[1].instrument_id[0] = '\0';
    s_bad_input(&in, ML4T_EINVAL, "symbols[1]");
    memset(perf[1].instrument_id, 'A', sizeof perf[1].instrument_id); /* no NUL */
    s_bad_input(&in, ML4T_EINVAL, "symbols[1]");
    s_perf(&perf[1], "X", (ml4t_policy_symbol_tag_t)5);
    s_bad_input(&in, ML4T_EINVAL, "symbols[1]");
}

/* ------------------------------------------------------------- similarity */

static void t_similarity_identical(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_RANGING, ML4T_POLICY_VOL_HIGH);
    ml4t_trading_policy_t a, b;
    s_compute(&in, &a);
    s_compute(&in, &b);
    CHECK_NEAR(ml4t_policy_similarity(&a, &b), 1.0, 0);
    CHECK_NEAR(ml4t_policy_similarity(&a, &a), 1.0, 0);
}

static void t_similarity_small_changes(void)
{
    ml4t_policy_symbol_perf_t perf[2];
    s_perf(&perf[0], "ETHUSDT", ML4T_POLICY_TAG_GOOD);
    s_perf(&perf[1], "FILUSDT", ML4T_POLICY_TAG_BAD);
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_NORMAL);
    in.symbols = perf;
    in.n_symbols = 1;
    ml4t_trading_policy_t a, b;
    s_compute(&in, &a);
    /* one more symbol barred, confidence 0.47 -> 0.50 (6 %), risk 1.0 -> 0.95 */
    b = a;
    b.min_confidence = 0.50;
    b.max_risk_pct = 0.95;
    snprintf(b.disallowed[0], sizeof b.disallowed[0], "FILUSDT");
    b.n_disallowed = 1;
    double s = ml4t_policy_similarity(&a, &b);
    CHECK(s >= 0.9);
    CHECK_NEAR(s, 0.95, TOL); /* only the disallowed set (0.05) differs */
    b = a;
    b.entry_mode = ML4T_POLICY_ENTRY_NORMAL;
    CHECK_NEAR(ml4t_policy_similarity(&a, &b), 0.90, TOL);
}

static void t_similarity_completely_different(void)
{
    ml4t_policy_symbol_perf_t good, bad;
    s_perf(&good, "ETHUSDT", ML4T_POLICY_TAG_GOOD);
    s_perf(&bad, "ETHUSDT", ML4T_POLICY_TAG_BAD);
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_NORMAL);
    in.symbols = &good;
    in.n_symbols = 1;
    ml4t_trading_policy_t a, b;
    s_compute(&in, &a);
    in = s_in(ML4T_POLICY_REGIME_RANGING, ML4T_POLICY_VOL_EXTREME);
    in.symbols = &bad;
    in.n_symbols = 1;
    in.risk.losing_streak = 9;
    s_compute(&in, &b);
    double s = ml4t_policy_similarity(&a, &b);
    CHECK(s < 0.3);
    CHECK_NEAR(s, 0.0, 0); /* every part differs */
    CHECK_NEAR(ml4t_policy_similarity(&b, &a), s, 0);
}

/* 10 % of the larger value, whichever side it is on: 1.0 vs 0.9 agree both
   ways (an asymmetric |a-b|/b would give 11 % one way and 10 % the other). */
static void t_similarity_numbers_symmetric(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_UNKNOWN, ML4T_POLICY_VOL_NORMAL);
    ml4t_trading_policy_t a, b;
    s_compute(&in, &a);
    b = a;
    b.max_risk_pct = 0.9;
    CHECK_NEAR(ml4t_policy_similarity(&a, &b), 1.0, 0);
    CHECK_NEAR(ml4t_policy_similarity(&b, &a), 1.0, 0);
    b.max_risk_pct = 0.89;
    CHECK_NEAR(ml4t_policy_similarity(&a, &b), 0.85, TOL);
    CHECK_NEAR(ml4t_policy_similarity(&b, &a), 0.85, TOL);
}

/* ------------------------------------------------------------------ engine */

static ml4t_policy_engine_t *s_engine(double interval_s)
{
    ml4t_policy_config_t cfg = s_cfg();
    cfg.update_interval_s = interval_s;
    ml4t_error_t err;
    ml4t_policy_engine_t *eng = ml4t_policy_engine_new(&cfg, &err);
    if (!eng)
        fprintf(stderr, "  engine_new: %s\n", err.msg);
    return eng;
}

static bool s_update(ml4t_policy_engine_t *eng, const ml4t_policy_inputs_t *in, uint64_t now)
{
    bool changed = false;
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_policy_engine_update(eng, in, now, &changed, &err), ML4T_OK);
    return changed;
}

static void t_engine_starts_with_base_policy(void)
{
    ml4t_policy_engine_t *eng = ml4t_policy_engine_new(NULL, NULL);
    REQUIRE(eng);
    const ml4t_trading_policy_t *cur = ml4t_policy_engine_current(eng);
    CHECK(cur->allow_new_trades);
    CHECK_NEAR(cur->min_confidence, 0.50, 0);
    CHECK_EQ_INT(cur->ts_ns, 0);
    CHECK(ml4t_policy_engine_candidate(eng) == NULL);
    CHECK_EQ_INT(ml4t_policy_engine_history_count(eng), 0);
    CHECK_EQ_INT(ml4t_policy_engine_last_decision(eng), ML4T_POLICY_NONE);
    ml4t_policy_engine_destroy(&eng);
    CHECK(eng == NULL);
    ml4t_policy_engine_destroy(&eng); /* harmless twice */
}

static void t_engine_interval_holds(void)
{
    ml4t_policy_engine_t *eng = s_engine(60);
    REQUIRE(eng);
    ml4t_policy_inputs_t trending = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_NORMAL);
    ml4t_policy_inputs_t ranging = s_in(ML4T_POLICY_REGIME_RANGING, ML4T_POLICY_VOL_NORMAL);
    CHECK(s_update(eng, &trending, T0));
    CHECK_EQ_INT(ml4t_policy_engine_last_decision(eng), ML4T_POLICY_APPLIED);
    CHECK(!s_update(eng, &ranging, T0 + 30 * SEC));
    CHECK_EQ_INT(ml4t_policy_engine_last_decision(eng), ML4T_POLICY_HELD_INTERVAL);
    CHECK_EQ_INT(ml4t_policy_engine_current(eng)->entry_mode, ML4T_POLICY_ENTRY_AGGRESSIVE);
    CHECK_EQ_INT(ml4t_policy_engine_candidate(eng)->entry_mode, ML4T_POLICY_ENTRY_DEFENSIVE);
    CHECK(!s_update(eng, &ranging, T0 + 60 * SEC - 1));
    CHECK(s_update(eng, &ranging, T0 + 60 * SEC)); /* the interval has passed */
    CHECK_EQ_INT(ml4t_policy_engine_current(eng)->entry_mode, ML4T_POLICY_ENTRY_DEFENSIVE);
    CHECK_EQ_INT(ml4t_policy_engine_current(eng)->ts_ns, T0 + 60 * SEC);
    CHECK_EQ_INT(ml4t_policy_engine_history_count(eng), 2);
    ml4t_policy_stats_t st;
    ml4t_policy_engine_stats(eng, &st);
    CHECK_EQ_INT(st.updates, 4);
    CHECK_EQ_INT(st.changes, 2);
    CHECK_EQ_INT(st.held_interval, 2);
    ml4t_policy_engine_destroy(&eng);
}

static void t_engine_similar_policy_holds(void)
{
    ml4t_policy_engine_t *eng = s_engine(60);
    REQUIRE(eng);
    ml4t_policy_symbol_perf_t perf[2];
    s_perf(&perf[0], "ETHUSDT", ML4T_POLICY_TAG_GOOD);
    s_perf(&perf[1], "FILUSDT", ML4T_POLICY_TAG_BAD);
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_NORMAL);
    in.symbols = perf;
    in.n_symbols = 1;
    CHECK(s_update(eng, &in, T0));
    CHECK(!s_update(eng, &in, T0 + 120 * SEC)); /* identical: 1.0 */
    CHECK_EQ_INT(ml4t_policy_engine_last_decision(eng), ML4T_POLICY_HELD_SIMILAR);
    /* a newly seen BAD symbol changes only the disallowed set: 0.95 >= 0.95 */
    in.n_symbols = 2;
    CHECK(!s_update(eng, &in, T0 + 240 * SEC));
    CHECK_EQ_INT(ml4t_policy_engine_last_decision(eng), ML4T_POLICY_HELD_SIMILAR);
    CHECK_EQ_INT(ml4t_policy_engine_current(eng)->n_disallowed, 0);
    /* a losing streak changes risk, profile, entry and the set: 0.55 < 0.95 */
    in.risk.losing_streak = 5;
    CHECK(s_update(eng, &in, T0 + 360 * SEC));
    CHECK_EQ_INT(ml4t_policy_engine_current(eng)->n_disallowed, 1);
    ml4t_policy_engine_destroy(&eng);
}

/* A blocking candidate replaces a trading policy at once, whatever the
   interval (1 s after a change, interval 60 s) or the similarity. */
static void s_blocking(void (*make)(ml4t_policy_inputs_t *), uint32_t rule)
{
    ml4t_policy_engine_t *eng = s_engine(60);
    REQUIRE(eng);
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_NORMAL);
    CHECK(s_update(eng, &in, T0));
    make(&in);
    CHECK(s_update(eng, &in, T0 + 1 * SEC));
    CHECK_EQ_INT(ml4t_policy_engine_last_decision(eng), ML4T_POLICY_APPLIED_BLOCKING);
    const ml4t_trading_policy_t *cur = ml4t_policy_engine_current(eng);
    CHECK(!cur->allow_new_trades);
    CHECK(cur->rules & rule);
    ml4t_policy_stats_t st;
    ml4t_policy_engine_stats(eng, &st);
    CHECK_EQ_INT(st.blocking_changes, 1);
    ml4t_policy_engine_destroy(&eng);
}

static void s_make_extreme(ml4t_policy_inputs_t *in)
{
    in->volatility = ML4T_POLICY_VOL_EXTREME;
}
static void s_make_drawdown(ml4t_policy_inputs_t *in)
{
    in->risk.drawdown_pct = 3.1;
}
static void s_make_positions(ml4t_policy_inputs_t *in)
{
    in->risk.open_positions = 8;
}
static void s_make_exposure(ml4t_policy_inputs_t *in)
{
    in->risk.exposure_pct = 16.0;
}

static void t_engine_blocking_takes_effect_at_once(void)
{
    s_blocking(s_make_extreme, ML4T_POLICY_RULE_VOL_EXTREME);
    s_blocking(s_make_drawdown, ML4T_POLICY_RULE_DRAWDOWN);
    s_blocking(s_make_positions, ML4T_POLICY_RULE_MAX_POSITIONS);
    s_blocking(s_make_exposure, ML4T_POLICY_RULE_MAX_EXPOSURE);
}

/* Blocking is at once; lifting the block waits for the interval, or for
   reset_daily, which releases the hold. */
static void t_engine_reset_daily(void)
{
    ml4t_policy_engine_t *eng = s_engine(60);
    REQUIRE(eng);
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_NORMAL);
    CHECK(s_update(eng, &in, T0));
    in.risk.drawdown_pct = 3.4;
    CHECK(s_update(eng, &in, T0 + 10 * SEC));
    in.risk.drawdown_pct = 0.0; /* the caller's new day */
    CHECK(!s_update(eng, &in, T0 + 20 * SEC));
    CHECK_EQ_INT(ml4t_policy_engine_last_decision(eng), ML4T_POLICY_HELD_INTERVAL);
    CHECK(!ml4t_policy_engine_current(eng)->allow_new_trades);
    ml4t_policy_engine_reset_daily(eng);
    ml4t_policy_stats_t st;
    ml4t_policy_engine_stats(eng, &st);
    CHECK_EQ_INT(st.updates, 0);
    CHECK_EQ_INT(st.changes, 0);
    CHECK_EQ_INT(ml4t_policy_engine_history_count(eng), 2); /* history stays */
    CHECK(s_update(eng, &in, T0 + 21 * SEC));
    CHECK(ml4t_policy_engine_current(eng)->allow_new_trades);
    ml4t_policy_engine_destroy(&eng);
}

static void t_engine_bad_inputs_keep_current(void)
{
    ml4t_policy_engine_t *eng = s_engine(0);
    REQUIRE(eng);
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_NORMAL);
    CHECK(s_update(eng, &in, T0));
    in.risk.exposure_pct = NAN;
    bool changed = true;
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_policy_engine_update(eng, &in, T0 + SEC, &changed, &err), ML4T_ERANGE);
    CHECK(!changed);
    CHECK_STR(err.field, "risk.exposure_pct");
    CHECK_EQ_INT(ml4t_policy_engine_current(eng)->entry_mode, ML4T_POLICY_ENTRY_AGGRESSIVE);
    CHECK_EQ_INT(ml4t_policy_engine_candidate(eng)->entry_mode, ML4T_POLICY_ENTRY_AGGRESSIVE);
    ml4t_policy_stats_t st;
    ml4t_policy_engine_stats(eng, &st);
    CHECK_EQ_INT(st.input_errors, 1);
    CHECK_EQ_INT(st.updates, 1);
    ml4t_policy_engine_destroy(&eng);
}

/* Alternating regimes with no interval: every update is a change. */
static void s_fill(ml4t_policy_engine_t *eng, int n, uint64_t t0)
{
    for (int i = 0; i < n; i++) {
        ml4t_policy_inputs_t in =
            s_in(i % 2 ? ML4T_POLICY_REGIME_RANGING : ML4T_POLICY_REGIME_TRENDING,
                 ML4T_POLICY_VOL_NORMAL);
        CHECK(s_update(eng, &in, t0 + (uint64_t)i * SEC));
    }
}

static void t_history_keeps_last_100(void)
{
    ml4t_policy_engine_t *eng = s_engine(0);
    REQUIRE(eng);
    s_fill(eng, 130, T0);
    CHECK_EQ_INT(ml4t_policy_engine_history_count(eng), ML4T_POLICY_HISTORY_MAX);
    CHECK_EQ_INT(ml4t_policy_engine_history_at(eng, 0)->ts_ns, T0 + 30 * SEC);
    CHECK_EQ_INT(ml4t_policy_engine_history_at(eng, 99)->ts_ns, T0 + 129 * SEC);
    CHECK(ml4t_policy_engine_history_at(eng, 100) == NULL);
    for (size_t i = 1; i < ML4T_POLICY_HISTORY_MAX; i++)
        CHECK(ml4t_policy_engine_history_at(eng, i)->ts_ns >
              ml4t_policy_engine_history_at(eng, i - 1)->ts_ns);
    ml4t_policy_engine_destroy(&eng);
}

static void s_check_same_policy(const ml4t_trading_policy_t *a, const ml4t_trading_policy_t *b)
{
    CHECK_EQ_INT(a->allow_new_trades, b->allow_new_trades);
    CHECK_EQ_INT(a->risk_profile, b->risk_profile);
    CHECK_NEAR(a->max_risk_pct, b->max_risk_pct, 0); /* cJSON prints doubles round-trip */
    CHECK_NEAR(a->min_confidence, b->min_confidence, 0);
    CHECK_EQ_INT(a->entry_mode, b->entry_mode);
    CHECK_EQ_INT(a->exit_mode, b->exit_mode);
    CHECK_EQ_INT(a->rules, b->rules);
    CHECK_STR(a->block_reason, b->block_reason);
    CHECK_STR(a->note, b->note);
    CHECK_NEAR(a->base_risk_pct, b->base_risk_pct, 0);
    CHECK_NEAR(a->base_confidence, b->base_confidence, 0);
    CHECK_EQ_INT(a->ts_ns, b->ts_ns);
    CHECK_EQ_INT(a->n_allowed, b->n_allowed);
    CHECK_EQ_INT(a->n_disallowed, b->n_disallowed);
    for (size_t i = 0; i < a->n_allowed && i < b->n_allowed; i++)
        CHECK_STR(a->allowed[i], b->allowed[i]);
    for (size_t i = 0; i < a->n_disallowed && i < b->n_disallowed; i++)
        CHECK_STR(a->disallowed[i], b->disallowed[i]);
    CHECK_NEAR(ml4t_policy_similarity(a, b), 1.0, 0);
}

static void s_tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/test_policy_%ld_%s", ML4T_BINARY_DIR, (long)getpid(), name);
}

static void t_history_round_trip(void)
{
    ml4t_policy_engine_t *eng = s_engine(0);
    REQUIRE(eng);
    s_fill(eng, 3, T0 + 123456789);
    ml4t_policy_symbol_perf_t perf[3];
    s_perf(&perf[0], "ETHUSDT", ML4T_POLICY_TAG_GOOD);
    s_perf(&perf[1], "FILUSDT", ML4T_POLICY_TAG_BAD);
    s_perf(&perf[2], "BTC/USDT \"perp\"", ML4T_POLICY_TAG_NEUTRAL); /* needs escaping */
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_RANGING, ML4T_POLICY_VOL_HIGH);
    in.symbols = perf;
    in.n_symbols = 3;
    in.risk.losing_streak = 7;
    CHECK(s_update(eng, &in, T0 + 100 * SEC));
    in.risk.drawdown_pct = 3.3;
    CHECK(s_update(eng, &in, T0 + 101 * SEC));
    char path[512], tmp[600];
    s_tmp_path(path, sizeof path, "history.json");
    ml4t_error_t err;
    REQUIRE(ml4t_policy_history_save(eng, path, &err) == ML4T_OK);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0); /* renamed into place */

    ml4t_policy_engine_t *back = s_engine(60);
    REQUIRE(back);
    CHECK_EQ_INT(ml4t_policy_history_load(back, path, &err), ML4T_OK);
    size_t n = ml4t_policy_engine_history_count(eng);
    CHECK_EQ_INT(ml4t_policy_engine_history_count(back), n);
    for (size_t i = 0; i < n && i < ml4t_policy_engine_history_count(back); i++)
        s_check_same_policy(ml4t_policy_engine_history_at(eng, i),
                            ml4t_policy_engine_history_at(back, i));
    s_check_same_policy(ml4t_policy_engine_current(eng), ml4t_policy_engine_current(back));
    /* the interval runs from the newest loaded policy */
    in.risk.drawdown_pct = 0;
    CHECK(!s_update(back, &in, T0 + 130 * SEC));
    CHECK_EQ_INT(ml4t_policy_engine_last_decision(back), ML4T_POLICY_HELD_INTERVAL);
    CHECK(s_update(back, &in, T0 + 161 * SEC));
    unlink(path);
    ml4t_policy_engine_destroy(&back);
    ml4t_policy_engine_destroy(&eng);
}

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

/* A history file whose one policy has member key set to raw JSON value. */
static void s_write_one_policy(const char *path, const char *key, const char *value)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_NORMAL);
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    cJSON *o = ml4t_policy_to_json(&p);
    cJSON_ReplaceItemInObject(o, key, cJSON_Parse(value));
    char *text = cJSON_PrintUnformatted(o);
    char buf[8192];
    snprintf(buf, sizeof buf,
             "{\"schema\":\"ml4t.policy_history\",\"version\":1,\"policies\":[%s]}", text);
    s_write(path, buf);
    cJSON_free(text);
    cJSON_Delete(o);
}

static void s_load_fails(ml4t_policy_engine_t *eng, const char *path, ml4t_err_t code,
                         const char *field)
{
    ml4t_error_t err;
    ml4t_error_clear(&err);
    CHECK_EQ_INT(ml4t_policy_history_load(eng, path, &err), code);
    CHECK_STR(err.field, field);
    CHECK_EQ_INT(ml4t_policy_engine_history_count(eng), 2); /* unchanged */
}

static void t_history_load_errors(void)
{
    ml4t_policy_engine_t *eng = s_engine(0);
    REQUIRE(eng);
    s_fill(eng, 2, T0);
    char path[512];
    s_tmp_path(path, sizeof path, "bad.json");
    unlink(path);
    s_load_fails(eng, path, ML4T_EIO, "path");
    s_write(path, "{\"schema\": \"ml4t.policy_history\", \"version\": 1, \"policies\": [");
    s_load_fails(eng, path, ML4T_EFORMAT, "path");
    s_write(path, "{\"schema\": \"other\", \"version\": 1, \"policies\": []}");
    s_load_fails(eng, path, ML4T_EFORMAT, "schema");
    s_write(path, "{\"schema\": \"ml4t.policy_history\", \"version\": 2, \"policies\": []}");
    s_load_fails(eng, path, ML4T_EFORMAT, "version");
    s_write_one_policy(path, "min_confidence", "\"high\"");
    s_load_fails(eng, path, ML4T_ETYPE, "policies[0].min_confidence");
    s_write_one_policy(path, "min_confidence", "1.5");
    s_load_fails(eng, path, ML4T_ERANGE, "policies[0].min_confidence");
    s_write_one_policy(path, "entry_mode", "\"RECKLESS\"");
    s_load_fails(eng, path, ML4T_EINVAL, "policies[0].entry_mode");
    s_write_one_policy(path, "ts_ns", "\"12x\"");
    s_load_fails(eng, path, ML4T_EINVAL, "policies[0].ts_ns");
    s_write_one_policy(path, "disallowed_symbols", "[\"A\", \"A\"]");
    s_load_fails(eng, path, ML4T_EINVAL, "policies[0].disallowed_symbols");
    s_write_one_policy(path, "allow_new_trades", "false"); /* profile still NORMAL */
    s_load_fails(eng, path, ML4T_EINVAL, "policies[0].risk_profile");
    /* more than the history holds */
    ml4t_policy_engine_t *big = s_engine(0);
    REQUIRE(big);
    s_fill(big, ML4T_POLICY_HISTORY_MAX, T0);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_policy_history_save(big, path, &err), ML4T_OK);
    ml4t_policy_engine_destroy(&big);
    FILE *f = fopen(path, "r+");
    REQUIRE(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    char *text = malloc((size_t)len + 1);
    REQUIRE(text);
    f = fopen(path, "r");
    size_t got = fread(text, 1, (size_t)len, f);
    fclose(f);
    text[got] = '\0';
    cJSON *root = cJSON_Parse(text);
    free(text);
    REQUIRE(root);
    cJSON *arr = cJSON_GetObjectItem(root, "policies");
    cJSON_AddItemToArray(arr, cJSON_Duplicate(cJSON_GetArrayItem(arr, 0), 1));
    text = cJSON_PrintUnformatted(root);
    s_write(path, text);
    cJSON_free(text);
    cJSON_Delete(root);
    s_load_fails(eng, path, ML4T_ELIMIT, "policies");
    unlink(path);
    ml4t_policy_engine_destroy(&eng);
}

static void t_policy_json(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_RANGING, ML4T_POLICY_VOL_HIGH);
    in.risk.losing_streak = 6;
    ml4t_trading_policy_t p, back;
    s_compute(&in, &p);
    p.ts_ns = T0 + 123456789; /* beyond a double's exact integers */
    cJSON *o = ml4t_policy_to_json(&p);
    REQUIRE(o);
    CHECK_STR(cJSON_GetObjectItem(o, "timestamp")->valuestring, "2023-11-14T22:13:20.123456789Z");
    CHECK_STR(cJSON_GetObjectItem(o, "ts_ns")->valuestring, "1700000000123456789");
    CHECK_STR(cJSON_GetObjectItem(o, "risk_profile")->valuestring, "REDUCED");
    CHECK_STR(cJSON_GetObjectItem(o, "exit_mode")->valuestring, "FAST_TP");
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "rules")), 3);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_policy_from_json(o, &back, &err), ML4T_OK);
    s_check_same_policy(&p, &back);
    cJSON_DeleteItemFromObject(o, "note");
    CHECK_EQ_INT(ml4t_policy_from_json(o, &back, &err), ML4T_EMISSING);
    CHECK_STR(err.field, "note");
    cJSON_Delete(o);
}

/* ---------------------------------------------------------------- verdicts */

static void t_verdict_reasons(void)
{
    ml4t_policy_symbol_perf_t perf[1];
    s_perf(&perf[0], "FILUSDT", ML4T_POLICY_TAG_BAD);
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_HIGH);
    in.symbols = perf;
    in.n_symbols = 1;
    ml4t_trading_policy_t p;
    s_compute(&in, &p); /* min confidence 0.53, max risk 0.5 */
    ml4t_verdict_t v;
    ml4t_policy_verdict(&p, "FILUSDT", 0.9, &v);
    CHECK(v.present);
    CHECK(!v.allowed);
    CHECK_STR(v.reason, "symbol disallowed: tagged BAD");
    ml4t_policy_verdict(&p, "ETHUSDT", 0.48, &v);
    CHECK(!v.allowed);
    CHECK_STR(v.reason, "confidence 0.48 < min 0.53");
    CHECK_NEAR(v.min_confidence, 0.53, TOL);
    CHECK_NEAR(v.max_risk_pct, 0.5, TOL);
    ml4t_policy_verdict(&p, "ETHUSDT", 0.53, &v); /* at the threshold passes */
    CHECK(v.allowed);
    CHECK_STR(v.reason, "allowed (volatility_high, bad_symbols)");
    ml4t_policy_verdict(&p, "ETHUSDT", NAN, &v);
    CHECK(!v.allowed);
    ml4t_policy_verdict(&p, "SOLUSDT", 0.6, &v); /* no performance data: not barred */
    CHECK(v.allowed);
    ml4t_policy_verdict(NULL, "SOLUSDT", 0.6, &v);
    CHECK(!v.present);
    CHECK(v.allowed);
}

static void t_size_scale(void)
{
    ml4t_policy_inputs_t in = s_in(ML4T_POLICY_REGIME_TRENDING, ML4T_POLICY_VOL_HIGH);
    ml4t_trading_policy_t p;
    s_compute(&in, &p);
    CHECK_NEAR(ml4t_policy_size_scale(&p, p.base_risk_pct), 0.5, TOL);
    CHECK_NEAR(ml4t_policy_size_scale(&p, 2.0), 0.25, TOL);
    CHECK_NEAR(ml4t_policy_size_scale(&p, 0.25), 1.0, 0); /* never above full size */
    CHECK_NEAR(ml4t_policy_size_scale(&p, 0.0), 0.0, 0);
    in.volatility = ML4T_POLICY_VOL_EXTREME;
    s_compute(&in, &p);
    CHECK_NEAR(ml4t_policy_size_scale(&p, 1.0), 0.0, 0);
}

static void t_names(void)
{
    for (int i = 0; i <= ML4T_POLICY_RISK_NO_NEW_TRADES; i++) {
        ml4t_policy_risk_profile_t v;
        CHECK_EQ_INT(ml4t_policy_risk_profile_parse(
                         ml4t_policy_risk_profile_name((ml4t_policy_risk_profile_t)i), &v),
                     ML4T_OK);
        CHECK_EQ_INT(v, i);
    }
    CHECK_STR(ml4t_policy_risk_profile_name(ML4T_POLICY_RISK_NO_NEW_TRADES), "NO_NEW_TRADES");
    CHECK_STR(ml4t_policy_exit_mode_name(ML4T_POLICY_EXIT_DEFENSIVE_TRAIL), "DEFENSIVE_TRAIL");
    CHECK_STR(ml4t_policy_volatility_name(ML4T_POLICY_VOL_EXTREME), "EXTREME");
    CHECK_STR(ml4t_policy_regime_name((ml4t_policy_regime_t)42), "?");
    ml4t_policy_regime_t r = ML4T_POLICY_REGIME_UNKNOWN;
    CHECK_EQ_INT(ml4t_policy_regime_parse("ranging", &r), ML4T_OK);
    CHECK_EQ_INT(r, ML4T_POLICY_REGIME_RANGING);
    CHECK_EQ_INT(ml4t_policy_regime_parse("SIDEWAYS", &r), ML4T_EINVAL);
    CHECK_EQ_INT(r, ML4T_POLICY_REGIME_RANGING);
    for (int i = 0; i < ML4T_POLICY_RULE_COUNT; i++) {
        uint32_t bit = 0;
        CHECK_EQ_INT(ml4t_policy_rule_parse(ml4t_policy_rule_name(1u << i), &bit), ML4T_OK);
        CHECK_EQ_INT(bit, 1u << i);
    }
    CHECK_STR(ml4t_policy_rule_name(3), "?");
}

static const t_case_t cases[] = {
    T_CASE(t_config_defaults),
    T_CASE(t_config_validate_names_fields),
    T_CASE(t_env_overrides),
    T_CASE(t_env_validation_errors),
    T_CASE(t_neutral_inputs_give_base_policy),
    T_CASE(t_rule_volatility_extreme),
    T_CASE(t_rule_volatility_high),
    T_CASE(t_rule_trending_needs_normal_volatility),
    T_CASE(t_rule_ranging),
    T_CASE(t_rule_drawdown),
    T_CASE(t_rule_losing_streak),
    T_CASE(t_rule_open_positions),
    T_CASE(t_rule_exposure),
    T_CASE(t_rule_high_costs),
    T_CASE(t_rule_bad_symbols),
    T_CASE(t_rule_low_ensemble_quality),
    T_CASE(t_defensive_wins_over_aggressive),
    T_CASE(t_confidence_clamped),
    T_CASE(t_first_block_reason_kept),
    T_CASE(t_scenario_normal),
    T_CASE(t_scenario_high_volatility),
    T_CASE(t_scenario_drawdown),
    T_CASE(t_scenario_everything_at_once),
    T_CASE(t_inputs_validation),
    T_CASE(t_inputs_symbol_list_errors),
    T_CASE(t_similarity_identical),
    T_CASE(t_similarity_small_changes),
    T_CASE(t_similarity_completely_different),
    T_CASE(t_similarity_numbers_symmetric),
    T_CASE(t_engine_starts_with_base_policy),
    T_CASE(t_engine_interval_holds),
    T_CASE(t_engine_similar_policy_holds),
    T_CASE(t_engine_blocking_takes_effect_at_once),
    T_CASE(t_engine_reset_daily),
    T_CASE(t_engine_bad_inputs_keep_current),
    T_CASE(t_history_keeps_last_100),
    T_CASE(t_history_round_trip),
    T_CASE(t_history_load_errors),
    T_CASE(t_policy_json),
    T_CASE(t_verdict_reasons),
    T_CASE(t_size_scale),
    T_CASE(t_names),
};
T_MAIN(cases)
