/*  ml4t_regime: volatility scaling and changepoint damping of the position size. */
#include "ml4t/regime.h"

#include <assert.h>
#include <math.h>

#define S_HALF_LIFE   50.0
#define S_MIN_DAMPING 0.2

ml4t_regime_config_t ml4t_regime_config_default(void)
{
    ml4t_regime_config_t cfg = {.half_life_bars = S_HALF_LIFE, .min_damping = S_MIN_DAMPING};
    return cfg;
}

static double s_clamp01(double v)
{
    return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v;
}

double ml4t_regime_cp_damping(double cp_prob, double run_length_bars, double half_life_bars,
                              double min_damping)
{
    double cp = isnan(cp_prob) ? 1.0 : s_clamp01(cp_prob);
    double run = isnan(run_length_bars) || run_length_bars < 0.0 ? 0.0 : run_length_bars;
    double hl = isfinite(half_life_bars) && half_life_bars > 0.0 ? half_life_bars : S_HALF_LIFE;
    double floor = isnan(min_damping) ? S_MIN_DAMPING : s_clamp01(min_damping);
    double fresh = exp2(-run / hl); /* run = +inf gives 0 */
    double s = cp > fresh ? cp : fresh;
    return s_clamp01(1.0 - (1.0 - floor) * s);
}

double ml4t_regime_vol_factor(double volatility, double vol_ref)
{
    if (isnan(volatility) || isnan(vol_ref) || volatility < 0.0 || !(vol_ref > 0.0) ||
        isinf(vol_ref))
        return 1.0;
    if (isinf(volatility))
        return 0.0;
    return volatility <= vol_ref ? 1.0 : s_clamp01(vol_ref / volatility);
}

double ml4t_regime_weight(const ml4t_regime_config_t *cfg, const double features[ML4T_F_COUNT],
                          double vol_ref, size_t max_run_length)
{
    assert(features);
    ml4t_regime_config_t def = ml4t_regime_config_default();
    if (!cfg)
        cfg = &def;
    double age = features[ML4T_F_RUN_LENGTH] * (double)max_run_length;
    double d = ml4t_regime_cp_damping(features[ML4T_F_CHANGEPOINT], age, cfg->half_life_bars,
                                      cfg->min_damping);
    return s_clamp01(ml4t_regime_vol_factor(features[ML4T_F_VOLATILITY], vol_ref) * d);
}
