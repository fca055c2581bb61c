/*  ml4t_bocd: Bayesian online changepoint detection (Adams & MacKay, 2007).

    Each observation is first standardized by running estimates of its mean and
    variance (a plain running mean/variance until `standardize_span`
    observations, an EWMA of that span after), so the default prior fits
    returns of any scale. The standardized value z feeds a Gaussian model with
    unknown mean and variance under a Normal-Gamma prior (Student-t predictive)
    and a constant hazard. The run-length posterior is kept for run lengths
    0..max_run_length; the top bucket absorbs longer runs (its statistics are
    those of the last max_run_length observations), so no mass is dropped.

    Under a constant hazard H, P(r_t = 0) equals H after every update, so it
    says nothing. The detector reports instead
        changepoint_prob = P(r_t < short_run | x_1..t),
    the posterior mass on runs that started within the last short_run bars. An
    alarm is edge-triggered: a crossing of alarm_threshold from below arms it,
    and it fires on that update, or when the refractory_bars after the previous
    alarm are over if the mass is still above the threshold then. One break
    raises one alarm.

    All buffers are allocated by ml4t_bocd_new; update is O(max_run_length) and
    allocation-free, with vectorized loops (AVX-512 or AVX2 when the CPU has
    them; see ml4t_bocd_kernels). Not thread-safe: one owner per instance. */
#ifndef ML4T_BOCD_H_INCLUDED
#define ML4T_BOCD_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "ml4t/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ml4t_bocd_config {
    double hazard;           /* 1/250: prior probability of a change per bar, in (0, 1) */
    size_t max_run_length;   /* 500: run lengths kept, in [2, 100000] */
    double mu0;              /* 0: prior mean of z */
    double kappa0;           /* 100: prior pseudo-observations for the mean, > 0 */
    double alpha0;           /* 1: Gamma shape of the precision, > 0 */
    double beta0;            /* 1: Gamma rate of the precision, > 0 */
    size_t short_run;        /* 25: k in P(r < k), in [1, max_run_length] */
    double alarm_threshold;  /* 0.65: in (0, 1) */
    size_t refractory_bars;  /* 20: updates after an alarm during which none is raised */
    size_t warmup;           /* 20: observations that only feed the standardizer, >= 2 */
    size_t standardize_span; /* 1000: EWMA span of the running mean/variance, >= warmup */
} ml4t_bocd_config_t;

typedef struct ml4t_bocd ml4t_bocd_t;

/* The defaults above. */
ml4t_bocd_config_t ml4t_bocd_config_default(void);

/* ML4T_EINVAL naming the first bad field. */
ml4t_err_t ml4t_bocd_config_validate(const ml4t_bocd_config_t *cfg, ml4t_error_t *err);

/* New detector (caller owns; free with ml4t_bocd_destroy). cfg NULL means the
   defaults. NULL on a bad config or no memory, with err filled. */
ml4t_bocd_t *ml4t_bocd_new(const ml4t_bocd_config_t *cfg, ml4t_error_t *err);

/* Frees, sets *self_p to NULL; nothing on NULL. */
void ml4t_bocd_destroy(ml4t_bocd_t **self_p);

/* One observation. A non-finite x, or one beyond 1e150 in magnitude, is
   refused with ML4T_ERANGE and leaves the state unchanged (no err record: this
   is the per-bar hot path). During the warm-up the observation only feeds the
   standardizer: cp_prob stays 0 and no alarm is raised. */
ml4t_err_t ml4t_bocd_update(ml4t_bocd_t *self, double x);

/* P(r < short_run) after the last update; 0 before the first post-warm-up update. */
double ml4t_bocd_cp_prob(const ml4t_bocd_t *self);

/* The most probable run length (0..max_run_length); 0 before warm-up ends. */
size_t ml4t_bocd_map_run_length(const ml4t_bocd_t *self);

/* True when the last update raised an alarm (edge-triggered, see above). */
bool ml4t_bocd_alarm(const ml4t_bocd_t *self);

/* True once the warm-up is over and the posterior is live. */
bool ml4t_bocd_ready(const ml4t_bocd_t *self);

/* Observations seen (warm-up included). */
size_t ml4t_bocd_count(const ml4t_bocd_t *self);

/* The run-length posterior: n_out receives max_run_length + 1 and the pointer
   is valid until the next update, reset or destroy (read-only). */
const double *ml4t_bocd_posterior(const ml4t_bocd_t *self, size_t *n_out);

/* Back to the state right after new(). */
void ml4t_bocd_reset(ml4t_bocd_t *self);

/* Snapshot src into dst without allocating; both must have been created with
   the same max_run_length and warmup (else ML4T_EMISMATCH, dst unchanged).
   dst's other settings become src's. */
ml4t_err_t ml4t_bocd_copy(ml4t_bocd_t *dst, const ml4t_bocd_t *src);

/* The loops the update runs on this CPU: "avx512", "avx2" or "base" (scalar
   libm log and exp), picked at new(); the environment variable
   ML4T_BOCD_KERNELS=avx2 or base caps the choice. Static string. */
const char *ml4t_bocd_kernels(const ml4t_bocd_t *self);

/* The configuration in use. */
const ml4t_bocd_config_t *ml4t_bocd_config(const ml4t_bocd_t *self);

#ifdef __cplusplus
}
#endif
#endif
