/*  ml4t_regime: the regime weight, a factor in [0, 1] on the position size.

    It is the product of two terms:
    - volatility: min(1, vol_ref / volatility), inverse-volatility scaling
      against a long-run reference (ml4t_features_state_vol_ref), so risk in
      a turbulent market is no larger than at the reference;
    - changepoint damping: low right after a changepoint, recovering as the
      new regime ages (ml4t_regime_cp_damping).
    The damping is exposed on its own because a regime filter with its own
    state weight combines it with that weight.

    Every function is total: any input, NaN and infinities included, gives a
    value in [0, 1], never NaN (fallbacks documented beside each). */
#ifndef ML4T_REGIME_H_INCLUDED
#define ML4T_REGIME_H_INCLUDED

#include <stddef.h>

#include "ml4t/features.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ml4t_regime_config {
    double half_life_bars; /* 50: regime age at which the damping has recovered half way, > 0 */
    double min_damping;    /* 0.2: damping right after a change, in [0, 1] */
} ml4t_regime_config_t;

/* The defaults above. */
ml4t_regime_config_t ml4t_regime_config_default(void);

/* Changepoint damping in [min_damping, 1]:
       fresh = 2^(-run_length_bars / half_life_bars)   (1 at a change, 1/2 at one half-life)
       d     = 1 - (1 - min_damping) * max(cp_prob, fresh)
   Fallbacks: cp_prob NaN counts as 1 (an unknown state is treated as a fresh
   change: the conservative side) and is clamped to [0, 1]; run_length_bars
   NaN or negative counts as 0, +inf as fully aged; half_life_bars not finite
   or <= 0 becomes 50; min_damping NaN becomes 0.2 and is clamped to [0, 1]. */
double ml4t_regime_cp_damping(double cp_prob, double run_length_bars, double half_life_bars,
                              double min_damping);

/* Volatility factor in [0, 1]: 1 when volatility <= vol_ref, vol_ref /
   volatility above it; non-increasing in volatility. Fallbacks: 1 (no
   volatility damping) when either value is NaN, negative or vol_ref is 0 or
   infinite (no reference yet); 0 when volatility is +inf. */
double ml4t_regime_vol_factor(double volatility, double vol_ref);

/* The regime weight from a feature vector (volatility, changepoint_prob,
   run_length * max_run_length as the regime age in bars) and a volatility
   reference: vol_factor * cp_damping. cfg NULL means the defaults. */
double ml4t_regime_weight(const ml4t_regime_config_t *cfg, const double features[ML4T_F_COUNT],
                          double vol_ref, size_t max_run_length);

#ifdef __cplusplus
}
#endif
#endif
