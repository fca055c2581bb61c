/*  ml4t_features: meta-features from a bar window. */
#include "ml4t/features.h"

#include <string.h>

static const char *s_names[ML4T_F_COUNT] = {
    "volatility",     "natr",          "momentum",         "vol_of_vol",
    "trend_strength", "mean_reversion", "volume_ratio",    "buy_imbalance",
    "changepoint_prob", "run_length",  "side",
};

size_t ml4t_features_count(void)
{
    return ML4T_F_COUNT;
}

const char *ml4t_features_name(size_t i)
{
    return i < ML4T_F_COUNT ? s_names[i] : NULL;
}

int ml4t_features_find(const char *name)
{
    for (int i = 0; i < ML4T_F_COUNT; i++)
        if (strcmp(s_names[i], name) == 0)
            return i;
    return -1;
}
