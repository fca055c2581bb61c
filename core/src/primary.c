/*  ml4t_primary: the default primary strategy, an EMA crossover. */
#include "ml4t/primary.h"

#include <math.h>
#include <stdio.h>

const char *ml4t_primary_mode_name(ml4t_primary_mode_t mode)
{
    switch (mode) {
    case ML4T_PRIMARY_CROSS:
        return "cross";
    case ML4T_PRIMARY_POSITION:
        return "position";
    }
    return NULL;
}

ml4t_err_t ml4t_primary_ema_crossover(const double *close, size_t n, size_t fast, size_t slow,
                                      ml4t_primary_mode_t mode, int *out, ml4t_error_t *err)
{
    if (!close)
        return ml4t_error_set(err, ML4T_EINVAL, "close", "close prices must not be NULL");
    if (!out)
        return ml4t_error_set(err, ML4T_EINVAL, "out", "output must not be NULL");
    if (fast < 1)
        return ml4t_error_set(err, ML4T_EINVAL, "fast", "fast EMA period must be >= 1, got %zu",
                              fast);
    if (slow <= fast)
        return ml4t_error_set(err, ML4T_EINVAL, "slow",
                              "slow EMA period must exceed the fast one (%zu), got %zu", fast,
                              slow);
    if (!ml4t_primary_mode_name(mode))
        return ml4t_error_set(err, ML4T_EINVAL, "mode", "unknown primary mode %d", (int)mode);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(close[i]) || close[i] <= 0.0) {
            char field[ML4T_ERROR_FIELD_MAX];
            snprintf(field, sizeof field, "close[%zu]", i);
            return ml4t_error_set(err, ML4T_ERANGE, field,
                                  "close %zu must be finite and positive, got %g", i, close[i]);
        }
    }
    double af = 2.0 / ((double)fast + 1.0), as = 2.0 / ((double)slow + 1.0);
    double ef = n ? close[0] : 0.0, es = ef;
    int state = 0, prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            ef += af * (close[i] - ef);
            es += as * (close[i] - es);
        }
        prev = state;
        if (ef > es)
            state = 1;
        else if (ef < es)
            state = -1;
        if (i < slow)
            out[i] = 0;
        else if (mode == ML4T_PRIMARY_POSITION)
            out[i] = state;
        else
            out[i] = (state != prev && prev != 0) ? state : 0;
    }
    return ML4T_OK;
}
