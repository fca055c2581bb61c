/*  ml4t_hmm: a Gaussian hidden Markov model of market regimes.

    K hidden states (default 3) emit observation vectors of `dim` columns through
    Gaussians with diagonal covariances. The usual observations are two columns per
    bar, (log return, rolling volatility), built by ml4t_hmm_observations() from
    close prices. The model is fitted by Baum-Welch (EM with per-bar scaling) from
    several seeded initializations and keeps the run with the highest
    log-likelihood. States are sorted by volatility, so state 0 is always the
    calmest and state K-1 the most volatile.

    A fitted model is immutable: every function taking `const ml4t_hmm_t *` only
    reads it, so one model may be shared by any number of threads and filters.

    The hot path uses an ml4t_hmm_filter_t per instrument: a stack object that
    updates the filtered state probabilities P(state_t | obs_1..t) one bar at a
    time in O(K^2), with no allocation after init. Viterbi and the batch forward
    pass serve offline analysis.

    The regime weight handed to the sizer is the expected state weight under the
    filtered probabilities, divided by the largest state weight (so it lies in
    [0, 1]), times the changepoint damping from BOCD. See docs/hmm.md. */
#ifndef ML4T_HMM_H_INCLUDED
#define ML4T_HMM_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml4t/error.h"
#include "ml4t/event.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_HMM_MAX_STATES         8
#define ML4T_HMM_MAX_DIM            8
#define ML4T_HMM_MAX_VOL_WINDOW     100000
#define ML4T_HMM_OBS_DIM            2   /* columns from ml4t_hmm_observations */
#define ML4T_HMM_MIN_ROWS_PER_STATE 50  /* fit needs rows >= 50 * K */
#define ML4T_HMM_UNKNOWN_WEIGHT     0.8 /* state weight used when no state is known */
#define ML4T_HMM_FILE_VERSION       1

typedef struct ml4t_hmm ml4t_hmm_t;

/* ---- observations ---------------------------------------------------------- */

/* Rows that ml4t_hmm_observations produces from n closes: n - vol_window when
   n > vol_window, else 0. */
size_t ml4t_hmm_observations_rows(size_t n, size_t vol_window);

/* Turn n close prices into rows of (log return, rolling volatility).
   Row j belongs to close[vol_window + j]: column 0 is log(close[t] / close[t-1])
   and column 1 the population standard deviation of the vol_window log returns
   ending at t (that one included). The first vol_window closes only warm the
   window up, so *rows = n - vol_window. out holds at least that many rows x 2
   (caller owns it). Errors: ML4T_EINVAL naming "vol_window" (must be in
   [2, ML4T_HMM_MAX_VOL_WINDOW]) or "close[i]" (not finite and > 0), ML4T_ENODATA
   naming "n" when n <= vol_window. The online filter's ml4t_hmm_filter_push_close
   computes bit-identical values. */
ml4t_err_t ml4t_hmm_observations(const double *close, size_t n, size_t vol_window, double *out,
                                 size_t *rows, ml4t_error_t *err);
/* The same from bars (bars->close). */
ml4t_err_t ml4t_hmm_observations_bars(const ml4t_bars_t *bars, size_t vol_window, double *out,
                                      size_t *rows, ml4t_error_t *err);

/* ---- configuration and fitting ---------------------------------------------- */

typedef enum {
    ML4T_HMM_INIT_MIXED = 0, /* run 0 from volatility quantiles, the rest k-means++ */
    ML4T_HMM_INIT_KMEANSPP,  /* every run k-means++ with its own seed */
    ML4T_HMM_INIT_QUANTILE   /* one deterministic run from volatility quantiles */
} ml4t_hmm_init_t;

typedef struct ml4t_hmm_config {
    size_t n_states;      /* K, 3, in [2, ML4T_HMM_MAX_STATES] */
    size_t n_init;        /* 5, in [1, 100]: initializations, the best log-likelihood wins */
    size_t max_iter;      /* 200, in [1, 100000]: EM iterations per initialization */
    double tol;           /* 1e-6, > 0: stop when the log-likelihood per row gains less */
    uint64_t seed;        /* 42: run i seeds its generator from seed and i */
    size_t vol_window;    /* 20, in [2, ML4T_HMM_MAX_VOL_WINDOW]: bars of rolling volatility */
    double var_floor;     /* 1e-4, in (0, 1): variance floor as a fraction of each column's */
    ml4t_hmm_init_t init; /* ML4T_HMM_INIT_MIXED */
    size_t vol_column;    /* 1: the column whose state mean orders the states (dim >= 2) */
} ml4t_hmm_config_t;

void ml4t_hmm_config_default(ml4t_hmm_config_t *cfg);
/* ML4T_EINVAL naming the first bad field. */
ml4t_err_t ml4t_hmm_config_validate(const ml4t_hmm_config_t *cfg, ml4t_error_t *err);

/* Fit a model to rows x dim observations (row-major; caller keeps ownership).
   cfg NULL means the defaults. Returns a new model (caller owns; free with
   ml4t_hmm_destroy) or NULL with err filled:
   ML4T_EINVAL  "cfg.<field>", "dim", "obs[i]" (not finite);
   ML4T_ENODATA "rows" (fewer than ML4T_HMM_MIN_ROWS_PER_STATE * K),
                "obs" (a column is constant, e.g. prices that never move, or fewer
                than K distinct rows);
   ML4T_EMODEL  "fit" when every initialization failed (a state kept emptying);
   ML4T_ENOMEM. */
ml4t_hmm_t *ml4t_hmm_fit(const double *obs, size_t rows, size_t dim, const ml4t_hmm_config_t *cfg,
                         ml4t_error_t *err);
/* Build the observations from closes with cfg->vol_window, then fit. Errors as
   for ml4t_hmm_observations and ml4t_hmm_fit. */
ml4t_hmm_t *ml4t_hmm_fit_closes(const double *close, size_t n, const ml4t_hmm_config_t *cfg,
                                ml4t_error_t *err);

/* A model from explicit parameters (tests, tools, persistence). Arrays are copied:
   start K, transmat K x K (rows sum to 1 within 1e-6, then renormalized), means and
   variances K x dim (finite; variances > 0). States are reordered by volatility.
   vol_window 0 means the model was not fitted on ml4t_hmm_observations output.
   Caller owns the result. */
ml4t_hmm_t *ml4t_hmm_new(size_t n_states, size_t dim, const double *start, const double *transmat,
                         const double *means, const double *variances, size_t vol_window,
                         ml4t_error_t *err);
void ml4t_hmm_destroy(ml4t_hmm_t **self_p);

/* ---- getters (pointers valid as long as the model lives) ---------------------- */

size_t ml4t_hmm_n_states(const ml4t_hmm_t *h);
size_t ml4t_hmm_dim(const ml4t_hmm_t *h);
size_t ml4t_hmm_vol_window(const ml4t_hmm_t *h);
size_t ml4t_hmm_vol_column(const ml4t_hmm_t *h);
const double *ml4t_hmm_means(const ml4t_hmm_t *h);       /* K x dim, row-major */
const double *ml4t_hmm_variances(const ml4t_hmm_t *h);   /* K x dim, row-major */
const double *ml4t_hmm_transmat(const ml4t_hmm_t *h);    /* K x K, row i = from state i */
const double *ml4t_hmm_start_probs(const ml4t_hmm_t *h); /* K: stationary distribution */
double ml4t_hmm_log_likelihood(const ml4t_hmm_t *h);     /* of the fit data; NaN if not fitted */
size_t ml4t_hmm_n_iter(const ml4t_hmm_t *h);             /* EM iterations of the kept run */
bool ml4t_hmm_converged(const ml4t_hmm_t *h);            /* the kept run met tol */
size_t ml4t_hmm_n_obs(const ml4t_hmm_t *h);              /* rows it was fitted on */
/* "LOW", "MEDIUM" (every middle state) or "HIGH" by volatility order;
   "UNKNOWN" for a NULL model or a state out of range. Static strings. */
const char *ml4t_hmm_state_label(const ml4t_hmm_t *h, size_t state);

/* ---- offline analysis ------------------------------------------------------- */

/* Most likely state path (log space). states_out holds rows ints (caller owns).
   log_prob (may be NULL) receives the joint log-probability of that path.
   ML4T_EINVAL naming "obs[i]" or "rows", ML4T_ENOMEM. */
ml4t_err_t ml4t_hmm_viterbi(const ml4t_hmm_t *h, const double *obs, size_t rows, int *states_out,
                            double *log_prob, ml4t_error_t *err);
/* Filtered probabilities P(state_t | obs_0..t) for every row into probs_out
   (rows x K, caller owns); loglik (may be NULL) receives log p(obs). Same
   arithmetic as the online filter. ML4T_EINVAL naming "obs[i]" or "rows". */
ml4t_err_t ml4t_hmm_forward_batch(const ml4t_hmm_t *h, const double *obs, size_t rows,
                                  double *probs_out, double *loglik, ml4t_error_t *err);

/* ---- online filter (hot path) ---------------------------------------------------- */

/* private: the rolling volatility of the last `window` log returns, kept by running
   sums that are recomputed exactly every `window` pushes so rounding cannot drift. */
typedef struct ml4t_hmm_roll {
    double *ring; /* window log returns, oldest at head once full */
    size_t window, count, head, since_exact;
    double sum, sumsq;
} ml4t_hmm_roll_t;

typedef struct ml4t_hmm_filter {
    size_t n_states;                   /* read-only: K of the model it was made for */
    size_t dim;                        /* read-only */
    double probs[ML4T_HMM_MAX_STATES]; /* read-only: filtered probabilities */
    bool started;                      /* read-only: at least one observation filtered */
    uint64_t n_updates;                /* read-only */
    double last_return;                /* read-only: NaN until push_close has two closes */
    double last_vol;                   /* read-only: NaN until the window is full */
    double prev_close;                 /* private: NaN before the first close */
    ml4t_hmm_roll_t roll;              /* private */
} ml4t_hmm_filter_t;

/* Prepare a filter for models shaped like h (K, dim, vol_window). Allocates the
   rolling-volatility ring once; destroy frees it. ML4T_EINVAL, ML4T_ENOMEM. */
ml4t_err_t ml4t_hmm_filter_init(ml4t_hmm_filter_t *f, const ml4t_hmm_t *h, ml4t_error_t *err);
void ml4t_hmm_filter_destroy(ml4t_hmm_filter_t *f);
/* Forget everything: probabilities and the close history. */
void ml4t_hmm_filter_reset(ml4t_hmm_filter_t *f);
/* One bar: obs has dim values. O(K^2 + K dim), allocation-free. A refitted model
   with the same K and dim may replace h between calls (states keep their
   volatility order). ML4T_EINVAL naming "obs[d]" when not finite (state kept),
   ML4T_EMISMATCH when h's K or dim differs from the filter's. */
ml4t_err_t ml4t_hmm_filter_update(ml4t_hmm_filter_t *f, const ml4t_hmm_t *h, const double *obs);
/* One close price: keeps the log return and rolling volatility incrementally and,
   once vol_window returns are in, filters (log return, volatility). Until then
   the filter is not started. Needs a dim-2 model. ML4T_EINVAL naming "close"
   (not finite and > 0; state kept), ML4T_EMISMATCH. */
ml4t_err_t ml4t_hmm_filter_push_close(ml4t_hmm_filter_t *f, const ml4t_hmm_t *h, double close);
/* Filtered probabilities (K values, valid until the next update), or NULL when
   nothing has been filtered yet. */
const double *ml4t_hmm_filter_probs(const ml4t_hmm_filter_t *f);
/* The most probable state, or -1 when not started. */
int ml4t_hmm_filter_state(const ml4t_hmm_filter_t *f);

/* ---- regime weight and volatility level ------------------------------------------ */

/* Default state weights by volatility order: K = 3 gives 1.2, 0.8, 0.4; other K
   interpolate linearly from 1.2 (state 0) to 0.4 (state K-1). out holds K. */
void ml4t_hmm_state_weights(size_t n_states, double *out);
/* The sizer's regime factor, in [0, 1]:
       w = (sum_k probs[k] * state_weights[k]) / max_k state_weights[k] * d
   with d = cp_damping clamped to [0, 1] (NaN counts as 1: no BOCD, no damping).
   probs NULL, or not finite, or summing to <= 0 (no model / not warmed up) uses
   ML4T_HMM_UNKNOWN_WEIGHT in place of the expectation. probs are renormalized to
   sum 1. state_weights NULL, or with a value not finite or < 0, or all 0, means
   the defaults. Never NaN. */
double ml4t_hmm_regime_weight(const double *probs, size_t n_states, const double *state_weights,
                              double cp_damping);
/* Same from a filter (unknown when f is NULL or not started). */
double ml4t_hmm_filter_regime_weight(const ml4t_hmm_filter_t *f, const double *state_weights,
                                     double cp_damping);

typedef enum {
    ML4T_HMM_VOL_UNKNOWN = 0,
    ML4T_HMM_VOL_LOW,
    ML4T_HMM_VOL_NORMAL,
    ML4T_HMM_VOL_HIGH,
    ML4T_HMM_VOL_EXTREME
} ml4t_hmm_vol_level_t;

/* The policy engine's volatility level from filtered probabilities: the most
   probable state maps to LOW (state 0), HIGH (state K-1) or NORMAL (between);
   EXTREME when P(state K-1) > 0.9 and current_vol exceeds that state's mean of the
   volatility column by more than k_sigma of its standard deviations (current_vol
   NaN skips that test). UNKNOWN when h or probs is NULL. */
ml4t_hmm_vol_level_t ml4t_hmm_vol_level(const ml4t_hmm_t *h, const double *probs,
                                        double current_vol, double k_sigma);
const char *ml4t_hmm_vol_level_name(ml4t_hmm_vol_level_t level);

/* ---- persistence ----------------------------------------------------------------- */

/* The model as JSON text (format "ml4t-hmm", version 1; see docs/hmm.md). Caller
   frees with free(). NULL on ENOMEM. */
char *ml4t_hmm_to_json(const ml4t_hmm_t *h, ml4t_error_t *err);
/* Parse and validate JSON text of len bytes. A malformed document, a missing or
   mistyped field, a NaN/null or infinite number, a transition row not summing to 1
   within 1e-6, a variance <= 0, or K/dim out of range is an error naming the
   field (ML4T_EFORMAT, EMISSING, ETYPE, ERANGE, EUNSUPPORTED for another
   version). Caller owns the result. */
ml4t_hmm_t *ml4t_hmm_from_json(const char *text, size_t len, ml4t_error_t *err);
/* Write atomically: a temporary file beside path, fsync, rename, fsync of the
   directory. ML4T_EIO naming "path" on failure (path unchanged). */
ml4t_err_t ml4t_hmm_save(const ml4t_hmm_t *h, const char *path, ml4t_error_t *err);
/* Read a file written by ml4t_hmm_save (at most 1 MiB). ML4T_ENOTFOUND or
   ML4T_EIO naming "path", or any error of ml4t_hmm_from_json. */
ml4t_hmm_t *ml4t_hmm_load(const char *path, ml4t_error_t *err);
/* The conventional file beside a meta-model: "<dir of model_path>/hmm.json".
   ML4T_ELIMIT naming "model_path" when it does not fit in size. */
ml4t_err_t ml4t_hmm_path_beside(const char *model_path, char *buf, size_t size, ml4t_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
