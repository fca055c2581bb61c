/*  ml4t_monitor tests: rolling accuracy, baseline, each trigger. */
#include "ml4t/monitor.h"

#include "testutil.h"

static ml4t_monitor_t *s_new(size_t window, size_t min_samples, double thr, size_t min_new,
                             size_t interval)
{
    ml4t_monitor_config_t cfg;
    ml4t_monitor_config_default(&cfg);
    cfg.window = window;
    cfg.min_samples = min_samples;
    cfg.drop_threshold = thr;
    cfg.retrain_min_samples = min_new;
    cfg.retrain_interval_bars = interval;
    return ml4t_monitor_new(&cfg, NULL);
}

/* Feed n outcomes with the given accuracy, spread evenly (k correct out of each 10). */
static int s_feed(ml4t_monitor_t *m, size_t n, int correct_per_10, ml4t_trigger_t *last)
{
    int fired = 0;
    ml4t_trigger_t t = {0};
    for (size_t i = 0; i < n; i++) {
        if (ml4t_monitor_record(m, (int)(i % 10) < correct_per_10, i, &t)) {
            fired++;
            *last = t;
        }
    }
    return fired;
}

static void t_nothing_before_min_samples(void)
{
    ml4t_monitor_t *m = s_new(1000, 100, 0.10, 0, 0);
    REQUIRE(m);
    ml4t_monitor_deploy(m, 0.9);
    ml4t_trigger_t t = {0};
    CHECK_EQ_INT(s_feed(m, 99, 0, &t), 0); /* all wrong, but too few */
    CHECK(isnan(ml4t_monitor_accuracy(m)));
    CHECK_EQ_INT(s_feed(m, 1, 0, &t), 1);
    CHECK_EQ_INT(t.reason, ML4T_TRIGGER_ACCURACY_DROP);
    ml4t_monitor_destroy(&m);
    ml4t_monitor_destroy(&m);
}

static void t_drop_060_to_050_triggers_at_010(void)
{
    ml4t_monitor_t *m = s_new(1000, 100, 0.10, 0, 0);
    REQUIRE(m);
    ml4t_monitor_deploy(m, 0.60);
    ml4t_trigger_t t = {0};
    CHECK_EQ_INT(s_feed(m, 1000, 5, &t), 1);
    CHECK_EQ_INT(t.reason, ML4T_TRIGGER_ACCURACY_DROP);
    CHECK_NEAR(t.baseline, 0.60, 1e-12);
    CHECK_NEAR(t.current, 0.50, 1e-12);
    CHECK_NEAR(t.drop, 0.10, 1e-12);
    CHECK_EQ_INT(t.priority, 2);
    ml4t_monitor_destroy(&m);
}

static void t_small_drop_does_not_trigger(void)
{
    ml4t_monitor_t *m = s_new(1000, 100, 0.10, 0, 0);
    REQUIRE(m);
    ml4t_monitor_deploy(m, 0.60);
    ml4t_trigger_t t = {0};
    /* 0.6 -> 0.51: a drop of 0.09 */
    int fired = 0;
    for (size_t i = 0; i < 2000; i++)
        fired += ml4t_monitor_record(m, (i % 100) < 51, i, &t);
    CHECK_EQ_INT(fired, 0);
    CHECK_NEAR(ml4t_monitor_accuracy(m), 0.51, 1e-12);
    ml4t_monitor_destroy(&m);
}

static void t_baseline_from_first_window(void)
{
    ml4t_monitor_t *m = s_new(100, 50, 0.10, 0, 0);
    REQUIRE(m);
    ml4t_monitor_deploy(m, NAN);
    ml4t_trigger_t t = {0};
    CHECK_EQ_INT(s_feed(m, 100, 7, &t), 0);
    CHECK_NEAR(ml4t_monitor_baseline(m), 0.70, 1e-12);
    CHECK_EQ_INT(s_feed(m, 100, 5, &t), 1); /* window slides down to 0.5 */
    CHECK_NEAR(t.baseline, 0.70, 1e-12);
    CHECK(t.current <= 0.60 + 1e-12);
    ml4t_monitor_destroy(&m);
}

static void t_sample_count_trigger_once(void)
{
    ml4t_monitor_t *m = s_new(1000, 100, 0.10, 300, 0);
    REQUIRE(m);
    ml4t_monitor_deploy(m, 0.5);
    ml4t_trigger_t t = {0};
    CHECK_EQ_INT(s_feed(m, 299, 5, &t), 0);
    CHECK_EQ_INT(s_feed(m, 500, 5, &t), 1);
    CHECK_EQ_INT(t.reason, ML4T_TRIGGER_SAMPLE_COUNT);
    ml4t_monitor_deploy(m, 0.5); /* a new model re-arms */
    CHECK_EQ_INT(ml4t_monitor_total(m), 0);
    CHECK_EQ_INT(s_feed(m, 300, 5, &t), 1);
    ml4t_monitor_destroy(&m);
}

static void t_interval_rearms(void)
{
    ml4t_monitor_t *m = s_new(1000, 100, 0.10, 0, 50);
    REQUIRE(m);
    ml4t_trigger_t t = {0};
    int fired = 0;
    for (uint64_t i = 0; i < 175; i++)
        fired += ml4t_monitor_on_bar(m, i, &t);
    CHECK_EQ_INT(fired, 3);
    CHECK_EQ_INT(t.reason, ML4T_TRIGGER_INTERVAL);
    ml4t_monitor_t *off = s_new(1000, 100, 0.10, 0, 0);
    CHECK(!ml4t_monitor_on_bar(off, 1, &t));
    ml4t_monitor_destroy(&off);
    ml4t_monitor_destroy(&m);
}

static void t_changepoint_cooldown_and_manual(void)
{
    ml4t_monitor_t *m = s_new(1000, 100, 0.10, 0, 0);
    REQUIRE(m);
    ml4t_trigger_t t = {0};
    const uint64_t s = 1000000000ull;
    CHECK(ml4t_monitor_on_changepoint(m, "FILUSDT", 10 * s, &t));
    CHECK_STR(t.instrument_id, "FILUSDT");
    CHECK_EQ_INT(t.reason, ML4T_TRIGGER_CHANGEPOINT);
    CHECK(!ml4t_monitor_on_changepoint(m, "NEARUSDT", 20 * s, &t));
    CHECK(ml4t_monitor_on_changepoint(m, "NEARUSDT", 10 * s + 3601 * s, &t));
    ml4t_monitor_manual(m, 5, &t);
    CHECK_EQ_INT(t.reason, ML4T_TRIGGER_MANUAL);
    CHECK_EQ_INT(t.priority, 3);
    CHECK_STR(ml4t_trigger_reason_name(t.reason), "manual");
    ml4t_monitor_destroy(&m);
}

static void t_bad_config_named(void)
{
    ml4t_monitor_config_t cfg;
    ml4t_monitor_config_default(&cfg);
    ml4t_error_t err;
    cfg.drop_threshold = 0.0;
    CHECK(ml4t_monitor_new(&cfg, &err) == NULL);
    CHECK_STR(err.field, "drop_threshold");
    ml4t_monitor_config_default(&cfg);
    cfg.min_samples = 5000;
    CHECK(ml4t_monitor_new(&cfg, &err) == NULL);
    CHECK_STR(err.field, "min_samples");
}

static const t_case_t cases[] = {
    T_CASE(t_nothing_before_min_samples),      T_CASE(t_drop_060_to_050_triggers_at_010),
    T_CASE(t_small_drop_does_not_trigger),     T_CASE(t_baseline_from_first_window),
    T_CASE(t_sample_count_trigger_once),       T_CASE(t_interval_rearms),
    T_CASE(t_changepoint_cooldown_and_manual), T_CASE(t_bad_config_named),
};
T_MAIN(cases)
