/*  ml4t_config tests. */
#include "ml4t/config.h"
#include "ml4t/features.h"

#include <stdlib.h>

#include "testutil.h"

static void t_defaults_are_valid(void)
{
    ml4t_config_t cfg;
    ml4t_config_defaults(&cfg);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_config_validate(&cfg, &err), ML4T_OK);
    CHECK_STR(cfg.model_path, "models/meta_model.ubj");
    CHECK_STR(cfg.channel_signals, "nautilus:signals");
    CHECK_STR(cfg.channel_enriched, "nautilus:enriched_signals");
    CHECK_NEAR(cfg.default_confidence, 0.5, 0);
    CHECK_NEAR(cfg.retrain_accuracy_drop_threshold, 0.10, 0);
    CHECK_EQ_INT(cfg.retrain_min_samples, 1000);
    CHECK_EQ_INT(cfg.retrain_interval_bars, 0);
    CHECK(!cfg.redis_enabled);
    CHECK_NEAR(cfg.inference_timeout_ms, 10.0, 0);
    CHECK_EQ_INT(cfg.min_bars, 100);
    CHECK_EQ_INT(cfg.max_bars, 10000);
    CHECK_EQ_INT(cfg.n_features, ml4t_features_count());
    CHECK_STR(cfg.features[0], "volatility");
}

static void t_validate_names_each_bad_field(void)
{
    ml4t_config_t cfg;
    ml4t_config_defaults(&cfg);
    cfg.default_confidence = 1.5;
    cfg.retrain_min_samples = 10;
    cfg.inference_timeout_ms = 0;
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_config_validate(&cfg, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "default_confidence");
    CHECK(strstr(err.msg, "default_confidence=1.5") != NULL);
    CHECK(strstr(err.msg, "retrain_min_samples=10") != NULL);
    CHECK(strstr(err.msg, "inference_timeout_ms=0") != NULL);
}

static void t_threshold_bounds(void)
{
    ml4t_config_t cfg;
    ml4t_config_defaults(&cfg);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_config_set(&cfg, "retrain_accuracy_drop_threshold", "0", &err), ML4T_ERANGE);
    CHECK_STR(err.field, "retrain_accuracy_drop_threshold");
    CHECK_EQ_INT(ml4t_config_set(&cfg, "retrain_accuracy_drop_threshold", "0.5", &err), ML4T_OK);
    CHECK_EQ_INT(ml4t_config_set(&cfg, "retrain_accuracy_drop_threshold", "0.51", &err),
                 ML4T_ERANGE);
    CHECK_NEAR(cfg.retrain_accuracy_drop_threshold, 0.5, 0);
}

static void t_set_parses_and_rejects(void)
{
    ml4t_config_t cfg;
    ml4t_config_defaults(&cfg);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_config_set(&cfg, "default_confidence", "abc", &err), ML4T_EINVAL);
    CHECK_STR(err.field, "default_confidence");
    CHECK_EQ_INT(ml4t_config_set(&cfg, "default_confidence", "nan", &err), ML4T_ERANGE);
    CHECK_EQ_INT(ml4t_config_set(&cfg, "min_bars", "50.5", &err), ML4T_EINVAL);
    CHECK_EQ_INT(ml4t_config_set(&cfg, "no_such_key", "1", &err), ML4T_ENOTFOUND);
    CHECK_STR(err.field, "no_such_key");
    CHECK_EQ_INT(ml4t_config_set(&cfg, "redis_enabled", "yes", &err), ML4T_OK);
    CHECK(cfg.redis_enabled);
    CHECK_EQ_INT(ml4t_config_set(&cfg, "redis_enabled", "maybe", &err), ML4T_EINVAL);
    CHECK_EQ_INT(ml4t_config_set(&cfg, "model_path", "", &err), ML4T_EINVAL);
    CHECK_EQ_INT(ml4t_config_set(&cfg, "max_bars", "5000", &err), ML4T_OK);
    CHECK_EQ_INT(cfg.max_bars, 5000);
    /* min_bars above max_bars is caught by validate */
    CHECK_EQ_INT(ml4t_config_set(&cfg, "min_bars", "6000", &err), ML4T_OK);
    CHECK_EQ_INT(ml4t_config_validate(&cfg, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "min_bars");
}

static void t_features_list(void)
{
    ml4t_config_t cfg;
    ml4t_config_defaults(&cfg);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_config_set(&cfg, "features", "volatility, natr,side", &err), ML4T_OK);
    CHECK_EQ_INT(cfg.n_features, 3);
    CHECK_STR(cfg.features[1], "natr");
    CHECK_EQ_INT(ml4t_config_set(&cfg, "features", "volatility,bogus", &err), ML4T_EINVAL);
    CHECK(strstr(err.msg, "bogus") != NULL);
    CHECK_EQ_INT(cfg.n_features, 3); /* unchanged on error */
    CHECK_EQ_INT(ml4t_config_set(&cfg, "features", "natr,natr", &err), ML4T_EINVAL);
    CHECK_EQ_INT(ml4t_config_set(&cfg, "features", "", &err), ML4T_EINVAL);
    char buf[256];
    CHECK_EQ_INT(ml4t_config_get(&cfg, "features", buf, sizeof buf), ML4T_OK);
    CHECK_STR(buf, "volatility,natr,side");
}

static void t_env_overrides(void)
{
    ml4t_config_t cfg;
    ml4t_config_defaults(&cfg);
    ml4t_error_t err;
    setenv("ML4T_DEFAULT_CONFIDENCE", "0.42", 1);
    setenv("ML4T_CHANNEL_SIGNALS", "desk:signals", 1);
    CHECK_EQ_INT(ml4t_config_from_env(&cfg, &err), ML4T_OK);
    CHECK_NEAR(cfg.default_confidence, 0.42, 1e-15);
    CHECK_STR(cfg.channel_signals, "desk:signals");
    setenv("ML4T_RETRAIN_MIN_SAMPLES", "99", 1);
    CHECK(ml4t_config_from_env(&cfg, &err) != ML4T_OK);
    CHECK_STR(err.field, "ML4T_RETRAIN_MIN_SAMPLES");
    CHECK_EQ_INT(cfg.retrain_min_samples, 1000);
    unsetenv("ML4T_DEFAULT_CONFIDENCE");
    unsetenv("ML4T_CHANNEL_SIGNALS");
    unsetenv("ML4T_RETRAIN_MIN_SAMPLES");
}

static void t_keys_and_get(void)
{
    const char *const *keys = ml4t_config_keys();
    size_t n = 0;
    ml4t_config_t cfg;
    ml4t_config_defaults(&cfg);
    char buf[256];
    for (; keys[n]; n++)
        CHECK_EQ_INT(ml4t_config_get(&cfg, keys[n], buf, sizeof buf), ML4T_OK);
    CHECK(n >= 13);
    CHECK_EQ_INT(ml4t_config_get(&cfg, "nope", buf, sizeof buf), ML4T_ENOTFOUND);
}

static const t_case_t cases[] = {
    T_CASE(t_defaults_are_valid), T_CASE(t_validate_names_each_bad_field),
    T_CASE(t_threshold_bounds),   T_CASE(t_set_parses_and_rejects),
    T_CASE(t_features_list),      T_CASE(t_env_overrides),
    T_CASE(t_keys_and_get),
};
T_MAIN(cases)
