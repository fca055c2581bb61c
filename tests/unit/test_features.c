/*  ml4t_features tests: names and order, known answers, a direct reference
    implementation of the documented formulas, incremental == batch on the
    bundled month, snapshot/reset, non-finite input, matrix and selection. */
#include "ml4t/features.h"

#include <stdint.h>

#include "analytics_data.h"
#include "testutil.h"

#define MINUTE_NS 60000000000ull

static bool t_rel_eq(double a, double b, double rel)
{
    double scale = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= rel * scale || fabs(a - b) <= 1e-300;
}

static void t_names_and_order_unchanged(void)
{
    static const char *expect[] = {
        "volatility",       "natr",           "momentum",     "vol_of_vol",
        "trend_strength",   "mean_reversion", "volume_ratio", "buy_imbalance",
        "changepoint_prob", "run_length",     "side"};
    CHECK_EQ_INT(ml4t_features_count(), 11);
    for (size_t i = 0; i < 11; i++) {
        CHECK_STR(ml4t_features_name(i), expect[i]);
        CHECK_EQ_INT(ml4t_features_find(expect[i]), (int)i);
    }
    CHECK(ml4t_features_name(11) == NULL);
    CHECK_EQ_INT(ml4t_features_find("nope"), -1);
}

static void t_config_validation(void)
{
    ml4t_features_config_t c = ml4t_features_config_default();
    ml4t_error_t err;
    CHECK_EQ_INT(c.lookback, 20);
    CHECK_EQ_INT(ml4t_features_config_validate(&c, &err), ML4T_OK);
    c.lookback = 1;
    CHECK_EQ_INT(ml4t_features_config_validate(&c, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "lookback");
    c = ml4t_features_config_default();
    c.bocd.hazard = 0;
    CHECK(ml4t_features_state_new(&c, &err) == NULL);
    CHECK_STR(err.field, "bocd.hazard");
    c = ml4t_features_config_default();
    c.vol_window = 1;
    CHECK_EQ_INT(ml4t_features_config_validate(&c, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "vol_window");
}

/* closes alternate 100, 110: every log return is +-ln 1.1 */
static void t_known_answers_alternating(void)
{
    ml4t_features_config_t c = ml4t_features_config_default();
    c.lookback = 4;
    c.vol_window = 2;
    c.atr_period = 3;
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    for (size_t i = 0; i < 30; i++) {
        double px = i % 2 ? 110.0 : 100.0;
        double vol = i == 29 ? 5.0 : 1.0;
        double buy = i == 27 ? NAN : 0.75 * vol;
        ml4t_bars_push(&bars, (i + 1) * MINUTE_NS, px, px, px, px, vol, buy);
    }
    double f[ML4T_F_COUNT];
    ml4t_error_t err;
    REQUIRE(ml4t_features_compute(&c, &bars, 29, -1, f, &err) == ML4T_OK);
    double a = log(1.1);
    CHECK_NEAR(f[ML4T_F_VOLATILITY], a, 1e-15);      /* mean 0, |r| = a */
    CHECK_NEAR(f[ML4T_F_NATR], 10.0 / 110.0, 1e-15); /* every true range is 10 */
    CHECK_NEAR(f[ML4T_F_MOMENTUM], 0.0, 1e-15);      /* 110 / 110 - 1 */
    CHECK_NEAR(f[ML4T_F_VOL_OF_VOL], 0.0, 1e-15);    /* every 2-return window: std a */
    CHECK_NEAR(f[ML4T_F_TREND_STRENGTH], 0.0, 1e-15);
    /* SMA of 100, 110, 100, 110 = 105: (110 - 105) / 105 / a */
    CHECK_NEAR(f[ML4T_F_MEAN_REVERSION], 5.0 / 105.0 / a, 1e-12);
    CHECK_NEAR(f[ML4T_F_VOLUME_RATIO], 5.0 / 2.0, 1e-15); /* 5 / mean(1, 1, 1, 5) */
    /* bars 26..29: buy 0.75 v except bar 27 unknown (no contribution):
       (0.5 + 0 + 0.5 + 2.5) / 8 */
    CHECK_NEAR(f[ML4T_F_BUY_IMBALANCE], 3.5 / 8.0, 1e-15);
    CHECK_NEAR(f[ML4T_F_SIDE], -1.0, 0);
    CHECK(f[ML4T_F_CHANGEPOINT] >= 0.0 && f[ML4T_F_CHANGEPOINT] <= 1.0);
    CHECK(f[ML4T_F_RUN_LENGTH] >= 0.0 && f[ML4T_F_RUN_LENGTH] <= 1.0);
    /* flat prices: zero volatility makes the ratios 0, not NaN */
    ml4t_bars_clear(&bars);
    for (size_t i = 0; i < 30; i++)
        ml4t_bars_push(&bars, (i + 1) * MINUTE_NS, 50.0, 50.5, 49.5, 50.0, 0.0, NAN);
    REQUIRE(ml4t_features_compute(&c, &bars, 29, 7, f, &err) == ML4T_OK);
    CHECK_NEAR(f[ML4T_F_VOLATILITY], 0.0, 0);
    CHECK_NEAR(f[ML4T_F_TREND_STRENGTH], 0.0, 0);
    CHECK_NEAR(f[ML4T_F_MEAN_REVERSION], 0.0, 0);
    CHECK_NEAR(f[ML4T_F_VOLUME_RATIO], 0.0, 0); /* 0 / 0 */
    CHECK_NEAR(f[ML4T_F_BUY_IMBALANCE], 0.0, 0);
    CHECK_NEAR(f[ML4T_F_NATR], 1.0 / 50.0, 1e-15);
    CHECK_NEAR(f[ML4T_F_SIDE], 1.0, 0);
    CHECK_EQ_INT(ml4t_features_compute(&c, &bars, 30, 0, f, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "end");
    ml4t_bars_destroy(&bars);
}

/* The documented formulas, written out directly over bars[0..t] (no rings,
   no shared code): the reference for the window features. */
static double t_std(const double *x, size_t n)
{
    if (n < 2)
        return 0;
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++)
        m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (double)n);
}

static double t_z(double v)
{
    return isfinite(v) ? v : 0.0;
}

static void t_reference(const ml4t_features_config_t *c, const ml4t_bars_t *b, size_t t, double *f)
{
    size_t L = c->lookback, W = c->vol_window, P = c->atr_period;
    const double *cl = b->close;
    double r[64], v[64];
    size_t m = t < L ? t : L;
    for (size_t k = 0; k < m; k++) {
        size_t j = t - m + 1 + k; /* return into bar j */
        r[k] = t_z(log(cl[j] / cl[j - 1]));
        size_t from = j >= W ? j - W + 1 : 1, n = 0;
        double w[64];
        for (size_t q = from < 1 ? 1 : from; q <= j; q++)
            w[n++] = t_z(log(cl[q] / cl[q - 1]));
        v[k] = t_std(w, n);
    }
    double vol = t_std(r, m), mom = cl[t] / cl[t - m] - 1;
    size_t q = t + 1 < P ? t + 1 : P;
    double atr = 0;
    for (size_t j = t + 1 - q; j <= t; j++) {
        double tr = b->high[j] - b->low[j];
        if (j > 0)
            tr = fmax(tr, fmax(fabs(b->high[j] - cl[j - 1]), fabs(b->low[j] - cl[j - 1])));
        atr += tr / (double)q;
    }
    size_t nl = t + 1 < L ? t + 1 : L;
    double sma = 0, vsum = 0, imb = 0;
    for (size_t j = t + 1 - nl; j <= t; j++) {
        sma += cl[j] / (double)nl;
        vsum += b->volume[j];
        imb += isnan(b->buy_volume[j]) ? 0 : 2 * b->buy_volume[j] - b->volume[j];
    }
    f[ML4T_F_VOLATILITY] = t_z(vol);
    f[ML4T_F_NATR] = t_z(atr / cl[t]);
    f[ML4T_F_MOMENTUM] = t_z(mom);
    f[ML4T_F_VOL_OF_VOL] = t_z(t_std(v, m));
    f[ML4T_F_TREND_STRENGTH] = t_z(fabs(mom) / vol);
    f[ML4T_F_MEAN_REVERSION] = t_z((cl[t] - sma) / sma / vol);
    f[ML4T_F_VOLUME_RATIO] = t_z(b->volume[t] / (vsum / (double)nl));
    f[ML4T_F_BUY_IMBALANCE] = t_z(imb / vsum);
}

static size_t t_month(ml4t_bars_t *bars)
{
    ml4t_bars_init(bars);
    return t_load_klines(T_DATA_FILE, bars);
}

/* The formulas as documented, on real bars, including the first bars of the
   series (partial windows). Summation orders differ from the library's, so
   the tolerance is relative 1e-9, or absolute 1e-12 where a difference of
   near-equal values (close - SMA, ~1e-16 of a price) is divided by a small
   volatility (~1e-3). */
static void t_matches_reference_formulas(void)
{
    ml4t_bars_t bars;
    REQUIRE(t_month(&bars) == 43200);
    ml4t_features_config_t c = ml4t_features_config_default();
    ml4t_features_state_t *st = ml4t_features_state_new(&c, NULL);
    REQUIRE(st);
    double f[ML4T_F_COUNT], ref[ML4T_F_COUNT];
    size_t bad = 0;
    for (size_t t = 0; t < 3000; t++) {
        REQUIRE(ml4t_features_state_update(st, bars.ts[t], bars.open[t], bars.high[t], bars.low[t],
                                           bars.close[t], bars.volume[t],
                                           bars.buy_volume[t]) == ML4T_OK);
        ml4t_features_state_get(st, 0, f);
        t_reference(&c, &bars, t, ref);
        for (int k = 0; k <= ML4T_F_BUY_IMBALANCE; k++) {
            if (!t_rel_eq(f[k], ref[k], 1e-9) && fabs(f[k] - ref[k]) > 1e-12) {
                if (bad++ < 5)
                    fprintf(stderr, "  bar %zu %s: %.17g vs reference %.17g\n", t,
                            ml4t_features_name((size_t)k), f[k], ref[k]);
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
    ml4t_features_state_destroy(&st);
    ml4t_bars_destroy(&bars);
}

/* Incremental over the whole month vs the batch on the 100 bars that end at
   the same bar (a signal's window): the window features agree to 1e-12
   relative at every 7th bar and over the first 100 bars. */
static void t_incremental_equals_batch_window(void)
{
    ml4t_bars_t bars, win;
    REQUIRE(t_month(&bars) == 43200);
    ml4t_bars_init(&win);
    ml4t_features_state_t *st = ml4t_features_state_new(NULL, NULL);
    REQUIRE(st);
    double inc[ML4T_F_COUNT], bat[ML4T_F_COUNT];
    size_t compared = 0, bad = 0;
    for (size_t t = 0; t < bars.n; t++) {
        REQUIRE(ml4t_features_state_update(st, bars.ts[t], bars.open[t], bars.high[t], bars.low[t],
                                           bars.close[t], bars.volume[t],
                                           bars.buy_volume[t]) == ML4T_OK);
        if (t >= 100 && t % 7 != 0)
            continue;
        size_t from = t >= 99 ? t - 99 : 0;
        ml4t_bars_clear(&win);
        REQUIRE(ml4t_bars_append(&win, &bars, from, t + 1 - from) == ML4T_OK);
        REQUIRE(ml4t_features_compute(NULL, &win, win.n - 1, 1, bat, NULL) == ML4T_OK);
        ml4t_features_state_get(st, 1, inc);
        for (int k = 0; k <= ML4T_F_BUY_IMBALANCE; k++)
            bad += !t_rel_eq(inc[k], bat[k], 1e-12);
        CHECK_NEAR(inc[ML4T_F_SIDE], bat[ML4T_F_SIDE], 0);
        compared++;
    }
    CHECK(compared > 6000);
    CHECK_EQ_INT(bad, 0);
    ml4t_features_state_destroy(&st);
    ml4t_bars_destroy(&win);
    ml4t_bars_destroy(&bars);
}

/* The changepoint features: batch over bars[0..end] equals the state fed the
   same bars; the matrix rows equal the state's vectors. */
static void t_changepoint_features_and_matrix(void)
{
    ml4t_bars_t bars;
    REQUIRE(t_month(&bars) == 43200);
    bars.n = 6000;
    double *m = malloc(bars.n * ML4T_F_COUNT * sizeof *m);
    int *sides = malloc(bars.n * sizeof *sides);
    REQUIRE(m && sides);
    for (size_t i = 0; i < bars.n; i++)
        sides[i] = (int)(i % 3) - 1;
    ml4t_error_t err;
    REQUIRE(ml4t_features_matrix(NULL, &bars, sides, m, &err) == ML4T_OK);
    static const size_t ends[] = {0, 1, 19, 20, 21, 25, 60, 777, 5999};
    double bat[ML4T_F_COUNT];
    size_t nonzero_cp = 0;
    for (size_t e = 0; e < sizeof ends / sizeof ends[0]; e++) {
        size_t t = ends[e];
        REQUIRE(ml4t_features_compute(NULL, &bars, t, sides[t], bat, NULL) == ML4T_OK);
        for (int k = 0; k < ML4T_F_COUNT; k++)
            CHECK(t_rel_eq(m[t * ML4T_F_COUNT + k], bat[k], 1e-12));
    }
    for (size_t i = 0; i < bars.n; i++) {
        const double *row = m + i * ML4T_F_COUNT;
        CHECK_NEAR(row[ML4T_F_SIDE], sides[i], 0);
        CHECK(row[ML4T_F_CHANGEPOINT] >= 0 && row[ML4T_F_CHANGEPOINT] <= 1);
        CHECK(row[ML4T_F_RUN_LENGTH] >= 0 && row[ML4T_F_RUN_LENGTH] <= 1);
        nonzero_cp += row[ML4T_F_CHANGEPOINT] > 0;
        for (int k = 0; k < ML4T_F_COUNT; k++)
            CHECK(isfinite(row[k]));
    }
    CHECK(nonzero_cp > 5900); /* live after the 20-return warm-up */
    /* before the warm-up the detector reports nothing */
    CHECK_NEAR(m[5 * ML4T_F_COUNT + ML4T_F_CHANGEPOINT], 0.0, 0);
    REQUIRE(ml4t_features_matrix(NULL, &bars, NULL, m, &err) == ML4T_OK);
    CHECK_NEAR(m[7 * ML4T_F_COUNT + ML4T_F_SIDE], 0.0, 0);
    bars.ts[10] = bars.ts[9];
    CHECK_EQ_INT(ml4t_features_matrix(NULL, &bars, NULL, m, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "bars[10].ts");
    bars.n = 43200;
    free(m);
    free(sides);
    ml4t_bars_destroy(&bars);
}

static void t_copy_and_reset(void)
{
    ml4t_bars_t bars;
    REQUIRE(t_month(&bars) == 43200);
    ml4t_features_state_t *a = ml4t_features_state_new(NULL, NULL);
    ml4t_features_state_t *b = ml4t_features_state_new(NULL, NULL);
    ml4t_features_config_t small = ml4t_features_config_default();
    small.lookback = 10;
    ml4t_features_state_t *c = ml4t_features_state_new(&small, NULL);
    REQUIRE(a && b && c);
    size_t t = 0;
    for (; t < 1000; t++)
        ml4t_features_state_update(a, bars.ts[t], bars.open[t], bars.high[t], bars.low[t],
                                   bars.close[t], bars.volume[t], bars.buy_volume[t]);
    CHECK_EQ_INT(ml4t_features_state_copy(b, a), ML4T_OK);
    CHECK_EQ_INT(ml4t_features_state_copy(c, a), ML4T_EMISMATCH);
    CHECK_EQ_INT(ml4t_features_state_count(b), 1000);
    CHECK(ml4t_features_state_last_ts(b) == bars.ts[999]);
    double fa[ML4T_F_COUNT], fb[ML4T_F_COUNT];
    for (; t < 1500; t++) {
        ml4t_features_state_update(a, bars.ts[t], bars.open[t], bars.high[t], bars.low[t],
                                   bars.close[t], bars.volume[t], bars.buy_volume[t]);
        ml4t_features_state_update(b, bars.ts[t], bars.open[t], bars.high[t], bars.low[t],
                                   bars.close[t], bars.volume[t], bars.buy_volume[t]);
        ml4t_features_state_get(a, 1, fa);
        ml4t_features_state_get(b, 1, fb);
        CHECK(memcmp(fa, fb, sizeof fa) == 0);
    }
    CHECK(ml4t_features_state_vol_ref(a) == ml4t_features_state_vol_ref(b));
    CHECK(ml4t_features_state_vol_ref(a) > 0);
    /* reset: the same as a fresh state fed the same bars */
    ml4t_features_state_reset(a);
    CHECK_EQ_INT(ml4t_features_state_count(a), 0);
    CHECK(isnan(ml4t_features_state_vol_ref(a)));
    ml4t_features_state_get(a, 0, fa);
    for (int k = 0; k < ML4T_F_COUNT; k++)
        CHECK_NEAR(fa[k], 0.0, 0);
    ml4t_features_state_t *fresh = ml4t_features_state_new(NULL, NULL);
    REQUIRE(fresh);
    for (t = 2000; t < 2300; t++) {
        ml4t_features_state_update(a, bars.ts[t], bars.open[t], bars.high[t], bars.low[t],
                                   bars.close[t], bars.volume[t], bars.buy_volume[t]);
        ml4t_features_state_update(fresh, bars.ts[t], bars.open[t], bars.high[t], bars.low[t],
                                   bars.close[t], bars.volume[t], bars.buy_volume[t]);
    }
    ml4t_features_state_get(a, 0, fa);
    ml4t_features_state_get(fresh, 0, fb);
    CHECK(memcmp(fa, fb, sizeof fa) == 0);
    ml4t_features_state_destroy(&a);
    ml4t_features_state_destroy(&b);
    ml4t_features_state_destroy(&c);
    ml4t_features_state_destroy(&fresh);
    CHECK(a == NULL);
    ml4t_features_state_destroy(&a);
    ml4t_bars_destroy(&bars);
}

/* Garbage bars never make a non-finite feature; out-of-order bars are refused. */
static void t_non_finite_and_order(void)
{
    ml4t_features_state_t *st = ml4t_features_state_new(NULL, NULL);
    REQUIRE(st);
    const double junk[] = {1.0, NAN, 0.0, -3.0, INFINITY, 1e-300, 1e300, 2.0};
    double f[ML4T_F_COUNT];
    for (size_t i = 0; i < 400; i++) {
        double c = junk[i % 8], v = junk[(i + 3) % 8];
        CHECK_EQ_INT(ml4t_features_state_update(st, (i + 1) * MINUTE_NS, c, c, c, c, v, v),
                     ML4T_OK);
        ml4t_features_state_get(st, 1, f);
        for (int k = 0; k < ML4T_F_COUNT; k++)
            CHECK(isfinite(f[k]));
    }
    CHECK_EQ_INT(ml4t_features_state_update(st, 400 * MINUTE_NS, 1, 1, 1, 1, 1, 1), ML4T_ERANGE);
    CHECK_EQ_INT(ml4t_features_state_count(st), 400);
    ml4t_features_state_destroy(&st);
}

static void t_select(void)
{
    double full[ML4T_F_COUNT], out[3];
    for (int k = 0; k < ML4T_F_COUNT; k++)
        full[k] = 10.0 * k;
    const int idx[3] = {ML4T_F_SIDE, ML4T_F_VOLATILITY, ML4T_F_CHANGEPOINT};
    CHECK_EQ_INT(ml4t_features_select(full, idx, 3, out, NULL), ML4T_OK);
    CHECK_NEAR(out[0], 100.0, 0);
    CHECK_NEAR(out[1], 0.0, 0);
    CHECK_NEAR(out[2], 80.0, 0);
    const int bad[2] = {1, ML4T_F_COUNT};
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_features_select(full, bad, 2, out, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "idx[1]");
}

static const t_case_t cases[] = {
    T_CASE(t_names_and_order_unchanged),
    T_CASE(t_config_validation),
    T_CASE(t_known_answers_alternating),
    T_CASE(t_matches_reference_formulas),
    T_CASE(t_incremental_equals_batch_window),
    T_CASE(t_changepoint_features_and_matrix),
    T_CASE(t_copy_and_reset),
    T_CASE(t_non_finite_and_order),
    T_CASE(t_select),
};

T_MAIN(cases)
