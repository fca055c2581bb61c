/*  ml4t_vpin: volume-synchronized probability of informed trading.

    Bars are poured into equal-volume buckets; a bar that crosses a bucket
    boundary is split across buckets in proportion to its volume, keeping its
    buy fraction. A closed bucket's order imbalance is |V_B - V_S| / V_bucket,
    and VPIN is the mean imbalance of the last n_buckets buckets. It is invalid
    (NaN, level UNKNOWN) until n_buckets buckets have closed.

    The buy volume of a bar is its taker-buy volume when known (not NaN), else
    bulk volume classification (BVC): V_B = V * Phi(dP / sigma_dP), with dP the
    close-to-close change and sigma_dP the square root of an exponentially
    weighted mean of dP^2 (span sigma_window bars, alpha = 2 / (span + 1),
    including the current bar, seeded with the first change; zero mean assumed,
    as 1-minute changes have a mean far below their spread). Before the first
    change, or while sigma_dP is 0, a bar splits 50/50.

    Cost: O(1) per bar (a bar spanning many buckets writes at most n_buckets
    ring slots), no allocation after ml4t_vpin_new. Not thread-safe: one
    owner per object (the node actor keeps one per instrument). */
#ifndef ML4T_VPIN_H_INCLUDED
#define ML4T_VPIN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml4t/error.h"
#include "ml4t/event.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_VPIN_BUCKETS_PER_DAY 50 /* auto bucket volume = mean daily volume / 50 */
#define ML4T_VPIN_MAX_BUCKETS     100000

typedef struct ml4t_vpin ml4t_vpin_t;

typedef struct ml4t_vpin_config {
    double bucket_volume; /* volume per bucket, > 0; 0 = auto (default): set from the
                             first bars given to ml4t_vpin_update_bars, see
                             ml4t_vpin_bucket_volume_from_bars */
    size_t n_buckets;     /* 50: buckets averaged, in [1, ML4T_VPIN_MAX_BUCKETS] */
    size_t sigma_window;  /* 50: EWMA span in bars of the BVC sigma_dP, >= 1 */
    bool force_bvc;       /* false: classify with BVC even when buy_volume is known */
} ml4t_vpin_config_t;

/* The defaults above. */
ml4t_vpin_config_t ml4t_vpin_config_default(void);

/* ML4T_EINVAL naming the first bad field ("bucket_volume", "n_buckets",
   "sigma_window") with its value. */
ml4t_err_t ml4t_vpin_config_validate(const ml4t_vpin_config_t *cfg, ml4t_error_t *err);

/* Mean daily volume of bars / ML4T_VPIN_BUCKETS_PER_DAY. The days covered are
   (ts[n-1] - ts[0]) * n / (n - 1), the span plus one mean bar interval, so
   43,200 one-minute bars count as 30 days. NaN when bars has fewer than two
   bars or no volume. */
double ml4t_vpin_bucket_volume_from_bars(const ml4t_bars_t *bars);

/* New estimator; caller owns it (ml4t_vpin_destroy). NULL on a bad config
   (err names the field) or out of memory. */
ml4t_vpin_t *ml4t_vpin_new(const ml4t_vpin_config_t *cfg, ml4t_error_t *err);

/* Free *self_p and set it to NULL; nothing on NULL. */
void ml4t_vpin_destroy(ml4t_vpin_t **self_p);

/* Add one bar. buy_volume is NaN when unknown. close must be finite and > 0,
   volume finite and >= 0, buy_volume NaN or finite in [0, volume] (a relative
   excess of 1e-9 is rounding and clamped). On error (ML4T_ERANGE naming the
   field; ML4T_ESTATE "bucket_volume" when it is auto and not yet set) the state
   is unchanged. */
ml4t_err_t ml4t_vpin_update(ml4t_vpin_t *self, double close, double volume, double buy_volume,
                            ml4t_error_t *err);

/* Add every bar of bars, oldest first (each bar should be given once). When the
   bucket volume is auto and not yet set, it is first set from these bars. The
   bars are validated first (ml4t_bars_validate): on error nothing is added. */
ml4t_err_t ml4t_vpin_update_bars(ml4t_vpin_t *self, const ml4t_bars_t *bars, ml4t_error_t *err);

/* Current VPIN in [0, 1]; NaN while fewer than n_buckets buckets have closed. */
double ml4t_vpin_value(const ml4t_vpin_t *self);
bool ml4t_vpin_valid(const ml4t_vpin_t *self);
/* Toxicity level of the current value (UNKNOWN while invalid). */
ml4t_toxicity_level_t ml4t_vpin_level(const ml4t_vpin_t *self);
/* LOW below 0.3, MEDIUM in [0.3, 0.7), HIGH from 0.7; UNKNOWN for NaN. */
ml4t_toxicity_level_t ml4t_vpin_level_of(double vpin);

/* Bucket volume in use; 0 while auto and not yet set. */
double ml4t_vpin_bucket_volume(const ml4t_vpin_t *self);
/* Buckets closed since new() or reset(). */
uint64_t ml4t_vpin_buckets(const ml4t_vpin_t *self);

/* Forget all data, as after new() (an auto bucket volume is unset again). */
void ml4t_vpin_reset(ml4t_vpin_t *self);

/* Copy src's whole state (config included) into dst, allocation-free.
   ML4T_EMISMATCH ("n_buckets") when their n_buckets differ. */
ml4t_err_t ml4t_vpin_copy(ml4t_vpin_t *dst, const ml4t_vpin_t *src, ml4t_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
