/*  ml4t_features: meta-features from a bar window.

    Names and order are fixed and exported: the model manifest records them and
    a model is refused when its list differs from the configured one.

    Two ways to the same numbers:
    - batch (ml4t_features_compute): from a bar series and an end index, e.g.
      the bars carried by one signal;
    - incremental (ml4t_features_state_*): one bar at a time, O(lookback) per
      bar for the window features plus O(max_run_length) for the changepoint
      detector, allocation-free after new().
    The window features at a bar depend only on the last max(lookback +
    vol_window, atr_period + 1) bars, so both give bit-identical values for
    the same window; the changepoint features depend on every bar the detector
    has seen (batch: the series from its first bar). Formulas and warm-up rules
    are in docs/analytics.md. Non-finite intermediates (a zero volatility, a
    non-positive price) make the feature 0, silently. */
#ifndef ML4T_FEATURES_H_INCLUDED
#define ML4T_FEATURES_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "ml4t/bocd.h"
#include "ml4t/error.h"
#include "ml4t/event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ML4T_F_VOLATILITY = 0, /* population std of log returns over the lookback */
    ML4T_F_NATR,           /* ATR / close */
    ML4T_F_MOMENTUM,       /* close / close[lookback ago] - 1 */
    ML4T_F_VOL_OF_VOL,     /* std of rolling volatility */
    ML4T_F_TREND_STRENGTH, /* |momentum| / volatility */
    ML4T_F_MEAN_REVERSION, /* (close - SMA) / SMA / volatility */
    ML4T_F_VOLUME_RATIO,   /* volume / mean volume */
    ML4T_F_BUY_IMBALANCE,  /* (buy - sell) / volume over the lookback */
    ML4T_F_CHANGEPOINT,    /* BOCD: posterior mass on short run lengths */
    ML4T_F_RUN_LENGTH,     /* BOCD: MAP run length / max_run_length */
    ML4T_F_SIDE,           /* the primary signal's direction, -1/0/+1 */
    ML4T_F_COUNT
} ml4t_feature_id_t;

/* Number of features (ML4T_F_COUNT). */
size_t ml4t_features_count(void);
/* Name of feature i ("volatility", ...); NULL when out of range. */
const char *ml4t_features_name(size_t i);
/* Index of a feature by name, or -1. */
int ml4t_features_find(const char *name);

typedef struct ml4t_features_config {
    size_t lookback;         /* 20: bars in the window features, in [2, 10000] */
    size_t atr_period;       /* 14: true ranges averaged by natr, in [1, 10000] */
    size_t vol_window;       /* 5: returns per rolling volatility in vol_of_vol, in [2, 1000] */
    size_t vol_ref_span;     /* 1440: EWMA span of the long-run volatility reference, >= 1 */
    ml4t_bocd_config_t bocd; /* the changepoint detector on log returns */
} ml4t_features_config_t;

/* The defaults above (bocd: ml4t_bocd_config_default()). */
ml4t_features_config_t ml4t_features_config_default(void);

/* ML4T_EINVAL naming the first bad field ("lookback", "bocd.hazard", ...). */
ml4t_err_t ml4t_features_config_validate(const ml4t_features_config_t *cfg, ml4t_error_t *err);

/* Every feature at bar `end` (inclusive) of bars, side as the last feature
   (its sign). The changepoint detector runs over bars[0..end]; it and a
   scratch window are allocated and freed inside (ML4T_ENOMEM). cfg NULL means
   the defaults. Errors: ML4T_EINVAL (NULL bars/out), ML4T_ERANGE "end" when
   end >= bars->n. Bars are taken as given: validate them first. */
ml4t_err_t ml4t_features_compute(const ml4t_features_config_t *cfg, const ml4t_bars_t *bars,
                                 size_t end, int side, double out[ML4T_F_COUNT], ml4t_error_t *err);

typedef struct ml4t_features_state ml4t_features_state_t;

/* New incremental state (caller owns; free with _destroy). cfg NULL means the
   defaults. NULL on a bad config or no memory, with err filled. */
ml4t_features_state_t *ml4t_features_state_new(const ml4t_features_config_t *cfg,
                                               ml4t_error_t *err);

/* Frees, sets *self_p to NULL; nothing on NULL. */
void ml4t_features_state_destroy(ml4t_features_state_t **self_p);

/* Add one bar (buy_volume NaN when unknown). ts must be after the previous
   bar's (else ML4T_ERANGE and the state is unchanged); values are otherwise
   taken as given. Allocation-free. */
ml4t_err_t ml4t_features_state_update(ml4t_features_state_t *self, uint64_t ts, double open,
                                      double high, double low, double close, double volume,
                                      double buy_volume);

/* The features after the last update, side's sign as the last one. Before
   any bar every feature but side is 0. */
void ml4t_features_state_get(const ml4t_features_state_t *self, int side, double out[ML4T_F_COUNT]);

/* Bars seen since new() or reset. */
size_t ml4t_features_state_count(const ml4t_features_state_t *self);

/* Timestamp of the last bar, 0 before any. */
uint64_t ml4t_features_state_last_ts(const ml4t_features_state_t *self);

/* Long-run volatility reference: an EWMA (span vol_ref_span, a plain running
   mean before that many bars) of the volatility feature; NaN before the
   first return. Pass it to ml4t_regime_weight. */
double ml4t_features_state_vol_ref(const ml4t_features_state_t *self);

/* The changepoint detector inside (read-only; valid while the state lives). */
const ml4t_bocd_t *ml4t_features_state_bocd(const ml4t_features_state_t *self);

/* Back to the state right after new(). */
void ml4t_features_state_reset(ml4t_features_state_t *self);

/* Snapshot src into dst without allocating; both must come from equal
   window sizes and detector sizes (else ML4T_EMISMATCH, dst unchanged). */
ml4t_err_t ml4t_features_state_copy(ml4t_features_state_t *dst, const ml4t_features_state_t *src);

/* A training matrix: row i (bars->n rows of ML4T_F_COUNT, row-major, caller
   owns out) holds what an incremental state fed bars[0..i] gives, with side
   sides[i] (sides NULL: 0). Rows before the warm-up carry partial windows (see
   docs/analytics.md), they are not NaN. Errors: as state_new and update
   (field "bars[i].ts"). */
ml4t_err_t ml4t_features_matrix(const ml4t_features_config_t *cfg, const ml4t_bars_t *bars,
                                const int *sides, double *out, ml4t_error_t *err);

/* out[k] = full[idx[k]] for k < n: the configured feature list as model
   columns. ML4T_ERANGE naming "idx[k]" for an index outside [0, ML4T_F_COUNT). */
ml4t_err_t ml4t_features_select(const double full[ML4T_F_COUNT], const int *idx, size_t n,
                                double *out, ml4t_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
