/*  ml4t_primary: the default primary strategy, an EMA crossover.

    Training needs primary signals to meta-label. When a caller has none (training
    from bars alone), these give them: a fast and a slow exponential moving average
    of the close, EMA[0] = close[0], EMA[i] = EMA[i-1] + a (close[i] - EMA[i-1]),
    a = 2 / (period + 1). The state at bar i is sign(fast[i] - slow[i]); an exact
    tie keeps the previous state.

      CROSS (the default)  +1 at the bar where the fast EMA crosses above the slow
                           one, -1 where it crosses below, 0 on every other bar: a
                           sparse series of entries, one per trend change.
      POSITION             the state itself on every bar (+1 while fast > slow,
                           -1 while below): a dense series, one signal per bar.

    No signal is given before bar `slow` (both EMAs still carry their seed), so
    bars [0, slow) are 0 in both modes and the first cross can come at bar slow. */
#ifndef ML4T_PRIMARY_H_INCLUDED
#define ML4T_PRIMARY_H_INCLUDED

#include <stddef.h>

#include "ml4t/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_PRIMARY_FAST_DEFAULT 20
#define ML4T_PRIMARY_SLOW_DEFAULT 50

typedef enum { ML4T_PRIMARY_CROSS = 0, ML4T_PRIMARY_POSITION } ml4t_primary_mode_t;

/* out[0..n) gets -1/0/+1 (caller owns). Errors: ML4T_EINVAL for NULL arrays
   ("close"/"out"), periods where 1 <= fast < slow does not hold ("fast"/"slow"),
   an unknown mode ("mode"); ML4T_ERANGE naming "close[i]" for a non-finite or
   non-positive close. Allocates nothing. */
ml4t_err_t ml4t_primary_ema_crossover(const double *close, size_t n, size_t fast, size_t slow,
                                      ml4t_primary_mode_t mode, int *out, ml4t_error_t *err);

/* "cross" / "position"; NULL for an unknown mode. */
const char *ml4t_primary_mode_name(ml4t_primary_mode_t mode);

#ifdef __cplusplus
}
#endif
#endif
