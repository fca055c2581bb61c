/*  ml4t_features: meta-features from a bar window.

    Names and order are fixed and exported: the model manifest records them and
    a model is refused when its list differs from the configured one. */
#ifndef ML4T_FEATURES_H_INCLUDED
#define ML4T_FEATURES_H_INCLUDED

#include <stddef.h>

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

#ifdef __cplusplus
}
#endif
#endif
