/*  ml4t_regime tests: monotone in volatility, damped after a changepoint,
    recovering with the regime's age, bounded and never NaN for any input. */
#include "ml4t/regime.h"

#include "testutil.h"

static void t_vol_factor_monotone(void)
{
    double prev = 2.0;
    for (double v = 0.0; v < 0.05; v += 0.0005) {
        double f = ml4t_regime_vol_factor(v, 0.01);
        CHECK(f <= prev);
        CHECK(f >= 0.0 && f <= 1.0);
        prev = f;
    }
    CHECK_NEAR(ml4t_regime_vol_factor(0.005, 0.01), 1.0, 0);
    CHECK_NEAR(ml4t_regime_vol_factor(0.02, 0.01), 0.5, 1e-15);
    CHECK_NEAR(ml4t_regime_vol_factor(0.04, 0.01), 0.25, 1e-15);
    /* strictly lower above the reference */
    CHECK(ml4t_regime_vol_factor(0.03, 0.01) < ml4t_regime_vol_factor(0.02, 0.01));
}

static void t_weight_monotone_in_volatility(void)
{
    double f[ML4T_F_COUNT] = {0};
    f[ML4T_F_CHANGEPOINT] = 0.05;
    f[ML4T_F_RUN_LENGTH] = 0.8;
    double prev = 2.0;
    for (double v = 0.001; v < 0.1; v *= 1.1) {
        f[ML4T_F_VOLATILITY] = v;
        double w = ml4t_regime_weight(NULL, f, 0.01, 500);
        CHECK(w <= prev);
        prev = w;
    }
    CHECK(prev < 0.2);
}

static void t_damped_after_changepoint_and_recovers(void)
{
    ml4t_regime_config_t c = ml4t_regime_config_default();
    CHECK_NEAR(c.half_life_bars, 50.0, 0);
    CHECK_NEAR(c.min_damping, 0.2, 0);
    /* right after a change: the floor */
    CHECK_NEAR(ml4t_regime_cp_damping(0.9, 0.0, 50, 0.2), 0.2, 1e-15);
    /* a settled regime: close to 1 */
    double settled = ml4t_regime_cp_damping(0.02, 500.0, 50, 0.2);
    CHECK(settled > 0.98);
    /* changepoint mass alone damps */
    CHECK(ml4t_regime_cp_damping(0.8, 500.0, 50, 0.2) < 0.4);
    /* one half-life after the change (cp gone): half way back */
    CHECK_NEAR(ml4t_regime_cp_damping(0.0, 50.0, 50, 0.2), 1.0 - 0.8 * 0.5, 1e-15);
    /* recovery is monotone in the regime's age */
    double prev = -1.0;
    for (double run = 0; run <= 400; run += 5) {
        double d = ml4t_regime_cp_damping(0.05, run, 50, 0.2);
        CHECK(d >= prev);
        prev = d;
    }
    /* through the weight: a fresh changepoint lowers it at the same volatility */
    double f[ML4T_F_COUNT] = {0};
    f[ML4T_F_VOLATILITY] = 0.01;
    f[ML4T_F_CHANGEPOINT] = 0.05;
    f[ML4T_F_RUN_LENGTH] = 300.0 / 500.0;
    double calm = ml4t_regime_weight(NULL, f, 0.01, 500);
    f[ML4T_F_CHANGEPOINT] = 0.95;
    f[ML4T_F_RUN_LENGTH] = 3.0 / 500.0;
    double broken = ml4t_regime_weight(NULL, f, 0.01, 500);
    CHECK(calm > 0.9);
    CHECK(broken < 0.25);
}

static void t_bounded_for_any_input(void)
{
    const double vals[] = {NAN, INFINITY, -INFINITY, -1.0, 0.0, 1e-300, 0.3, 1.0, 2.0, 1e300};
    size_t n = sizeof vals / sizeof vals[0];
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++)
            for (size_t c = 0; c < n; c++)
                for (size_t d = 0; d < n; d++) {
                    double x = ml4t_regime_cp_damping(vals[a], vals[b], vals[c], vals[d]);
                    CHECK(x >= 0.0 && x <= 1.0);
                    double f[ML4T_F_COUNT] = {0};
                    f[ML4T_F_VOLATILITY] = vals[a];
                    f[ML4T_F_CHANGEPOINT] = vals[b];
                    f[ML4T_F_RUN_LENGTH] = vals[c];
                    double w = ml4t_regime_weight(NULL, f, vals[d], 500);
                    CHECK(w >= 0.0 && w <= 1.0);
                    double v = ml4t_regime_vol_factor(vals[a], vals[d]);
                    CHECK(v >= 0.0 && v <= 1.0);
                }
}

static void t_documented_fallbacks(void)
{
    /* unknown changepoint state: treated as a fresh change */
    CHECK_NEAR(ml4t_regime_cp_damping(NAN, 500.0, 50, 0.2), 0.2, 1e-15);
    /* unknown age: treated as 0 */
    CHECK_NEAR(ml4t_regime_cp_damping(0.0, NAN, 50, 0.2), 0.2, 1e-15);
    /* infinite age: fully recovered */
    CHECK_NEAR(ml4t_regime_cp_damping(0.0, INFINITY, 50, 0.2), 1.0, 0);
    /* bad half-life and floor: the defaults */
    CHECK_NEAR(ml4t_regime_cp_damping(0.0, 50.0, NAN, NAN), 0.6, 1e-15);
    CHECK_NEAR(ml4t_regime_cp_damping(0.0, 50.0, -1, 0.2), 0.6, 1e-15);
    /* no volatility reference yet: no volatility damping */
    CHECK_NEAR(ml4t_regime_vol_factor(0.05, NAN), 1.0, 0);
    CHECK_NEAR(ml4t_regime_vol_factor(NAN, 0.01), 1.0, 0);
    CHECK_NEAR(ml4t_regime_vol_factor(0.05, 0.0), 1.0, 0);
    CHECK_NEAR(ml4t_regime_vol_factor(INFINITY, 0.01), 0.0, 0);
}

static const t_case_t cases[] = {
    T_CASE(t_vol_factor_monotone),
    T_CASE(t_weight_monotone_in_volatility),
    T_CASE(t_damped_after_changepoint_and_recovers),
    T_CASE(t_bounded_for_any_input),
    T_CASE(t_documented_fallbacks),
};

T_MAIN(cases)
