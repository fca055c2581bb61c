/*  ml4t_labels tests: ATR against hand computations, triple-barrier known answers,
    the short side mirrored, unresolved tails, and the incremental form. */
#include "ml4t/labels.h"

#include <stdint.h>

#include "analytics_data.h"
#include "testutil.h"

#define N_KNOWN 10
static const double s_known_close[N_KNOWN] = {100, 101, 102, 101, 103, 105, 104, 106, 107, 108};

static void t_config_defaults_and_validation(void)
{
    ml4t_labels_config_t cfg = ml4t_labels_config_default();
    CHECK_NEAR(cfg.pt_multiplier, 2.0, 0);
    CHECK_NEAR(cfg.sl_multiplier, 1.0, 0);
    CHECK_EQ_INT(cfg.max_holding_bars, 10);
    CHECK_EQ_INT(cfg.atr_period, 14);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_labels_config_validate(&cfg, &err), ML4T_OK);
    cfg.sl_multiplier = NAN;
    CHECK_EQ_INT(ml4t_labels_config_validate(&cfg, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "sl_multiplier");
    cfg = ml4t_labels_config_default();
    cfg.max_holding_bars = 0;
    CHECK_EQ_INT(ml4t_labels_config_validate(&cfg, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "max_holding_bars");
    cfg = ml4t_labels_config_default();
    cfg.pt_multiplier = -1;
    CHECK_EQ_INT(ml4t_labels_config_validate(&cfg, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "pt_multiplier");
}

/* Wilder ATR, period 3, worked by hand:
   TR0 = 11-9 = 2 (no previous close)
   TR1 = max(13-10, |13-10|, |10-10|) = 3
   TR2 = max(12-9, |12-12|, |9-12|) = 3
   TR3 = max(12-10, |12-10|, |10-10|) = 2
   TR4 = max(16-12, |16-11|, |12-11|) = 5 (the gap from the previous close wins)
   ATR2 = (2+3+3)/3 = 8/3 (seed); ATR3 = (8/3*2 + 2)/3 = 22/9; ATR4 = (22/9*2 + 5)/3 = 89/27 */
static void t_atr_hand_computed(void)
{
    const double high[5] = {11, 13, 12, 12, 16};
    const double low[5] = {9, 10, 9, 10, 12};
    const double close[5] = {10, 12, 10, 11, 15};
    double out[5];
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_labels_atr(high, low, close, 5, 3, out, &err), ML4T_OK);
    CHECK(isnan(out[0]) && isnan(out[1]));
    CHECK_NEAR(out[2], 8.0 / 3.0, 1e-12);
    CHECK_NEAR(out[3], 22.0 / 9.0, 1e-12);
    CHECK_NEAR(out[4], 89.0 / 27.0, 1e-12);
}

static void t_atr_period_one_is_true_range(void)
{
    const double high[3] = {5, 7, 6}, low[3] = {4, 6, 3}, close[3] = {4.5, 6.5, 5};
    double out[3];
    CHECK_EQ_INT(ml4t_labels_atr(high, low, close, 3, 1, out, NULL), ML4T_OK);
    CHECK_NEAR(out[0], 1.0, 0);
    CHECK_NEAR(out[1], 2.5, 0); /* |7 - 4.5| beats 7 - 6 */
    CHECK_NEAR(out[2], 3.5, 0); /* |3 - 6.5| */
}

static void t_atr_errors_name_the_value(void)
{
    const double high[3] = {5, NAN, 6}, low[3] = {4, 6, 7}, close[3] = {4.5, 6.5, 6.5};
    double out[3];
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_labels_atr(high, low, close, 3, 2, out, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "high[1]");
    const double high2[3] = {5, 7, 6};
    CHECK_EQ_INT(ml4t_labels_atr(high2, low, close, 3, 2, out, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "low[2]");
    CHECK_EQ_INT(ml4t_labels_atr(high2, low, close, 3, 0, out, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "period");
}

static void t_known_answer_close_only(void)
{
    ml4t_labels_config_t cfg = ml4t_labels_config_default();
    double atr[N_KNOWN];
    for (size_t i = 0; i < N_KNOWN; i++)
        atr[i] = 2.0;
    const int signals[N_KNOWN] = {0, 1, 0, 0, 1, 0, 0, -1, 0, 0};
    const int expect[N_KNOWN] = {0, 1, 0, 0, 1, 0, 0, -1, 0, 0};
    ml4t_label_t out[N_KNOWN];
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_labels_triple_barrier(&cfg, s_known_close, s_known_close, s_known_close, atr,
                                            signals, N_KNOWN, out, &err),
                 ML4T_OK);
    for (size_t i = 0; i < N_KNOWN; i++)
        CHECK_EQ_INT(out[i].label, expect[i]);
    /* long at 101: take-profit 105 reached at bar 5 */
    CHECK_EQ_INT(out[1].barrier, ML4T_BARRIER_PROFIT_TAKE);
    CHECK_EQ_INT(out[1].end_index, 5);
    CHECK_NEAR(out[1].ret, 4.0 / 101.0, 1e-15);
    /* long at 103: take-profit 107 at bar 8 */
    CHECK_EQ_INT(out[4].end_index, 8);
    /* short at 106: stop 108 at bar 9; a losing short is not a correct signal */
    CHECK_EQ_INT(out[7].barrier, ML4T_BARRIER_STOP_LOSS);
    CHECK_EQ_INT(out[7].end_index, 9);
    CHECK_EQ_INT(out[7].meta, 0);
    CHECK(out[7].resolved);
    CHECK_EQ_INT(out[1].meta, 1);
    CHECK_EQ_INT(out[4].meta, 1);
    for (size_t i = 0; i < N_KNOWN; i++) {
        if (signals[i] == 0) {
            CHECK_EQ_INT(out[i].meta, 0);
            CHECK_EQ_INT(out[i].barrier, ML4T_BARRIER_NONE);
            CHECK_EQ_INT(out[i].end_index, i);
        }
    }
}

static void t_short_mirrored(void)
{
    ml4t_labels_config_t cfg = ml4t_labels_config_default();
    /* falling prices: a short wins (take-profit below), a long at the same bar loses */
    const double close[6] = {100, 99, 98, 97, 96, 95};
    const double atr[6] = {1, 1, 1, 1, 1, 1};
    const int sig_short[6] = {-1, 0, 0, 0, 0, 0};
    const int sig_long[6] = {1, 0, 0, 0, 0, 0};
    ml4t_label_t s[6], l[6];
    CHECK_EQ_INT(ml4t_labels_triple_barrier(&cfg, close, close, close, atr, sig_short, 6, s, NULL),
                 ML4T_OK);
    CHECK_EQ_INT(ml4t_labels_triple_barrier(&cfg, close, close, close, atr, sig_long, 6, l, NULL),
                 ML4T_OK);
    CHECK_EQ_INT(s[0].label, 1);
    CHECK_EQ_INT(s[0].barrier, ML4T_BARRIER_PROFIT_TAKE);
    CHECK_EQ_INT(s[0].end_index, 2); /* 100 - 2*1 = 98 */
    CHECK_EQ_INT(s[0].meta, 1);
    CHECK_EQ_INT(l[0].label, -1);
    CHECK_EQ_INT(l[0].barrier, ML4T_BARRIER_STOP_LOSS);
    CHECK_EQ_INT(l[0].end_index, 1); /* 100 - 1*1 = 99 */
    CHECK_EQ_INT(l[0].meta, 0);
}

static void t_both_touched_same_bar_counts_stop(void)
{
    ml4t_labels_config_t cfg = ml4t_labels_config_default();
    /* bar 1's range [95, 110] covers both 104 (pt) and 98 (sl) */
    const double high[3] = {100, 110, 100}, low[3] = {100, 95, 100}, close[3] = {100, 100, 100};
    const double atr[3] = {2, 2, 2};
    const int sig_long[3] = {1, 0, 0}, sig_short[3] = {-1, 0, 0};
    ml4t_label_t out[3];
    CHECK_EQ_INT(ml4t_labels_triple_barrier(&cfg, high, low, close, atr, sig_long, 3, out, NULL),
                 ML4T_OK);
    CHECK_EQ_INT(out[0].label, -1);
    CHECK_EQ_INT(out[0].barrier, ML4T_BARRIER_STOP_LOSS);
    CHECK_EQ_INT(out[0].end_index, 1);
    CHECK_EQ_INT(ml4t_labels_triple_barrier(&cfg, high, low, close, atr, sig_short, 3, out, NULL),
                 ML4T_OK);
    CHECK_EQ_INT(out[0].label, -1);
    CHECK_EQ_INT(out[0].meta, 0);
}

static void t_vertical_barrier_sign(void)
{
    ml4t_labels_config_t cfg = ml4t_labels_config_default();
    cfg.max_holding_bars = 3;
    /* barriers far away (atr 100): only the vertical barrier at bar 3 decides */
    const double up[5] = {100, 101, 99, 100.5, 200};
    const double flat[5] = {100, 101, 99, 100, 200};
    const double atr[5] = {100, 100, 100, 100, 100};
    const int sig[5] = {1, 0, 0, 0, 0}, sig_short[5] = {-1, 0, 0, 0, 0};
    ml4t_label_t out[5];
    CHECK_EQ_INT(ml4t_labels_triple_barrier(&cfg, up, up, up, atr, sig, 5, out, NULL), ML4T_OK);
    CHECK_EQ_INT(out[0].barrier, ML4T_BARRIER_VERTICAL);
    CHECK_EQ_INT(out[0].label, 1);
    CHECK_EQ_INT(out[0].end_index, 3); /* bar 4's jump is after the barrier */
    CHECK_NEAR(out[0].ret, 0.005, 1e-15);
    CHECK_EQ_INT(ml4t_labels_triple_barrier(&cfg, up, up, up, atr, sig_short, 5, out, NULL),
                 ML4T_OK);
    CHECK_EQ_INT(out[0].label, -1);
    CHECK_EQ_INT(out[0].meta, 0);
    CHECK_EQ_INT(ml4t_labels_triple_barrier(&cfg, flat, flat, flat, atr, sig, 5, out, NULL),
                 ML4T_OK);
    CHECK_EQ_INT(out[0].barrier, ML4T_BARRIER_VERTICAL);
    CHECK_EQ_INT(out[0].label, 0);
    CHECK_EQ_INT(out[0].meta, 0);
    CHECK(out[0].resolved);
}

static void t_unresolved_tail(void)
{
    ml4t_labels_config_t cfg = ml4t_labels_config_default(); /* holding 10 */
    const double close[6] = {100, 100.5, 101, 100.5, 100, 100.2};
    const double atr[6] = {2, 2, 2, 2, 2, 2};
    const int sig[6] = {0, 1, 0, 0, -1, 1};
    ml4t_label_t out[6];
    CHECK_EQ_INT(ml4t_labels_triple_barrier(&cfg, close, close, close, atr, sig, 6, out, NULL),
                 ML4T_OK);
    for (size_t i = 1; i < 6; i++) {
        if (sig[i] == 0)
            continue;
        CHECK(!out[i].resolved);
        CHECK_EQ_INT(out[i].barrier, ML4T_BARRIER_PENDING);
        CHECK_EQ_INT(out[i].label, 0);
        CHECK_EQ_INT(out[i].meta, 0);
        CHECK_EQ_INT(out[i].end_index, i + 10); /* the latest bar that can decide it */
    }
    CHECK(out[0].resolved);
}

static void t_no_atr_is_unresolved(void)
{
    ml4t_labels_config_t cfg = ml4t_labels_config_default();
    const double close[3] = {100, 90, 80};
    const double atr[3] = {NAN, 0.0, 1.0};
    const int sig[3] = {1, 1, 0};
    ml4t_label_t out[3];
    CHECK_EQ_INT(ml4t_labels_triple_barrier(&cfg, close, close, close, atr, sig, 3, out, NULL),
                 ML4T_OK);
    CHECK_EQ_INT(out[0].barrier, ML4T_BARRIER_NO_ATR);
    CHECK_EQ_INT(out[1].barrier, ML4T_BARRIER_NO_ATR);
    CHECK(!out[0].resolved && !out[1].resolved);
}

static void t_bad_signal_named(void)
{
    ml4t_labels_config_t cfg = ml4t_labels_config_default();
    const double close[3] = {100, 90, 80}, atr[3] = {1, 1, 1};
    const int sig[3] = {0, 2, 0};
    ml4t_label_t out[3];
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_labels_triple_barrier(&cfg, close, close, close, atr, sig, 3, out, &err),
                 ML4T_ERANGE);
    CHECK_STR(err.field, "signals[1]");
    CHECK_EQ_INT(ml4t_labels_resolve_one(&cfg, 1, -5.0, 1.0, NULL, NULL, NULL, 0, out, &err),
                 ML4T_ERANGE);
    CHECK_STR(err.field, "entry_close");
    CHECK_EQ_INT(ml4t_labels_resolve_one(&cfg, 3, 5.0, 1.0, NULL, NULL, NULL, 0, out, &err),
                 ML4T_ERANGE);
    CHECK_STR(err.field, "side");
}

/* The incremental form, fed bar by bar, agrees with the batch labels and
   resolves exactly when the batch says the outcome was decided. */
static void t_resolve_one_matches_batch(void)
{
    ml4t_labels_config_t cfg = ml4t_labels_config_default();
    double atr[N_KNOWN];
    for (size_t i = 0; i < N_KNOWN; i++)
        atr[i] = 2.0;
    const int signals[N_KNOWN] = {0, 1, 0, 0, 1, 0, 0, -1, 0, 0};
    ml4t_label_t batch[N_KNOWN];
    CHECK_EQ_INT(ml4t_labels_triple_barrier(&cfg, s_known_close, s_known_close, s_known_close, atr,
                                            signals, N_KNOWN, batch, NULL),
                 ML4T_OK);
    for (size_t i = 0; i < N_KNOWN; i++) {
        if (!signals[i])
            continue;
        const double *later = s_known_close + i + 1;
        for (size_t k = 0; k <= N_KNOWN - 1 - i; k++) {
            ml4t_label_t one;
            CHECK_EQ_INT(ml4t_labels_resolve_one(&cfg, signals[i], s_known_close[i], atr[i], later,
                                                 later, later, k, &one, NULL),
                         ML4T_OK);
            bool decided = i + k >= batch[i].end_index;
            CHECK_EQ_INT(one.resolved, decided);
            if (decided) {
                CHECK_EQ_INT(one.label, batch[i].label);
                CHECK_EQ_INT(one.bars_held, batch[i].end_index - i);
                CHECK_EQ_INT(one.meta, batch[i].meta);
            }
        }
    }
}

/* Real data: every resolved label is consistent with its barrier, nothing was
   touched before the deciding bar, and the incremental form agrees. */
static void t_real_month_invariants(void)
{
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    REQUIRE(t_load_klines(T_DATA_FILE, &bars) == 43200);
    int *sig = calloc(bars.n, sizeof *sig);
    ml4t_label_t *out = calloc(bars.n, sizeof *out);
    double *atr = calloc(bars.n, sizeof *atr);
    REQUIRE(sig && out && atr);
    for (size_t i = 0; i < bars.n; i++)
        sig[i] = (int)(i % 3) - 1;
    ml4t_labels_config_t cfg = ml4t_labels_config_default();
    CHECK_EQ_INT(ml4t_labels_from_bars(&cfg, &bars, sig, out, NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_labels_atr(bars.high, bars.low, bars.close, bars.n, 14, atr, NULL), ML4T_OK);
    size_t checked = 0, kinds[6] = {0};
    for (size_t i = 0; i < bars.n; i++) {
        const ml4t_label_t *l = &out[i];
        kinds[l->barrier]++;
        if (!sig[i] || !l->resolved)
            continue;
        double e = bars.close[i], sd = sig[i];
        double pt = e + sd * 2 * atr[i], sl = e - sd * atr[i];
        for (size_t j = i + 1; j < l->end_index; j++) {
            CHECK(!(sig[i] > 0 ? bars.high[j] >= pt : bars.low[j] <= pt));
            CHECK(!(sig[i] > 0 ? bars.low[j] <= sl : bars.high[j] >= sl));
        }
        size_t j = l->end_index;
        if (l->barrier == ML4T_BARRIER_STOP_LOSS)
            CHECK(sig[i] > 0 ? bars.low[j] <= sl : bars.high[j] >= sl);
        if (l->barrier == ML4T_BARRIER_PROFIT_TAKE)
            CHECK(sig[i] > 0 ? bars.high[j] >= pt : bars.low[j] <= pt);
        CHECK(l->end_index - i <= cfg.max_holding_bars);
        CHECK_EQ_INT(l->meta, l->label == 1);
        if (l->barrier == ML4T_BARRIER_VERTICAL) {
            CHECK_EQ_INT(l->end_index - i, cfg.max_holding_bars);
            double r = sd * (bars.close[j] - e);
            CHECK_EQ_INT(l->label, (r > 0) - (r < 0));
        }
        if (i % 101 == 0) {
            ml4t_label_t one;
            size_t later = bars.n - 1 - i;
            CHECK_EQ_INT(ml4t_labels_resolve_one(&cfg, sig[i], e, atr[i], bars.high + i + 1,
                                                 bars.low + i + 1, bars.close + i + 1,
                                                 later < 10 ? later : 10, &one, NULL),
                         ML4T_OK);
            CHECK_EQ_INT(one.label, l->label);
            CHECK_EQ_INT(one.end_index + i, l->end_index);
        }
        checked++;
    }
    /* every outcome kind occurs in a month of real bars; the first 13 entries lack an ATR */
    CHECK(kinds[ML4T_BARRIER_PROFIT_TAKE] > 1000 && kinds[ML4T_BARRIER_STOP_LOSS] > 1000);
    CHECK(kinds[ML4T_BARRIER_VERTICAL] > 100);
    CHECK(kinds[ML4T_BARRIER_NO_ATR] > 0 && kinds[ML4T_BARRIER_NO_ATR] <= 13);
    CHECK(kinds[ML4T_BARRIER_PENDING] > 0 && kinds[ML4T_BARRIER_PENDING] <= 10);
    CHECK(checked > 25000);
    free(sig);
    free(out);
    free(atr);
    ml4t_bars_destroy(&bars);
}

static const t_case_t cases[] = {
    T_CASE(t_config_defaults_and_validation),
    T_CASE(t_atr_hand_computed),
    T_CASE(t_atr_period_one_is_true_range),
    T_CASE(t_atr_errors_name_the_value),
    T_CASE(t_known_answer_close_only),
    T_CASE(t_short_mirrored),
    T_CASE(t_both_touched_same_bar_counts_stop),
    T_CASE(t_vertical_barrier_sign),
    T_CASE(t_unresolved_tail),
    T_CASE(t_no_atr_is_unresolved),
    T_CASE(t_bad_signal_named),
    T_CASE(t_resolve_one_matches_batch),
    T_CASE(t_real_month_invariants),
};

T_MAIN(cases)
