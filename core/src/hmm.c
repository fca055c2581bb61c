/*  ml4t_hmm: Gaussian HMM regimes: observations, Baum-Welch fit, forward filter,
    Viterbi, regime weight, JSON persistence. */
#include "ml4t/hmm.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAXK ML4T_HMM_MAX_STATES
#define S_MAXD ML4T_HMM_MAX_DIM

/* Transition and start probabilities are floored here so every state stays
   reachable: then the forward normalizer is never 0 and no log is -inf. */
#define S_PROB_FLOOR 1e-12
/* A state whose total responsibility falls below one bar has emptied. */
#define S_EMPTY_MASS 1.0
/* Reseeds of emptied states allowed in one run before the run is abandoned. */
#define S_MAX_RESEEDS 10
/* Squared standardized distances are capped so a wild observation gives a very
   small, finite density instead of an overflow. */
#define S_Z2_CAP 1e300
/* Tolerance on transition and start rows summing to 1 in files and ml4t_hmm_new. */
#define S_ROW_SUM_TOL 1e-6
#define S_FILE_MAX    (1024 * 1024)

struct ml4t_hmm {
    size_t K, dim, vol_window, vol_column;
    double start[S_MAXK];
    double trans[S_MAXK * S_MAXK];
    double means[S_MAXK * S_MAXD];
    double vars[S_MAXK * S_MAXD];
    /* derived by s_derive */
    double log_start[S_MAXK];
    double log_trans[S_MAXK * S_MAXK];
    double inv_var[S_MAXK * S_MAXD];
    double log_norm[S_MAXK]; /* -0.5 sum_d log(2 pi var_d) */
    /* fit summary */
    double loglik;
    size_t n_iter, n_obs;
    bool converged;
};

/* ---- small numerics ------------------------------------------------------- */

static uint64_t s_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct {
    uint64_t s[4];
} s_rng_t;

static void s_rng_seed(s_rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = s_splitmix64(&seed);
}

static uint64_t s_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t s_rng_next(s_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t out = s_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl(s[3], 45);
    return out;
}

static double s_rng_uniform(s_rng_t *r)
{
    return (double)(s_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Floor each entry of a probability row and renormalize it to sum 1. */
static void s_prob_row_fix(double *row, size_t n)
{
    double sum = 0;
    for (size_t j = 0; j < n; j++) {
        if (!(row[j] >= S_PROB_FLOOR))
            row[j] = S_PROB_FLOOR;
        sum += row[j];
    }
    for (size_t j = 0; j < n; j++)
        row[j] /= sum;
}

/* Stationary distribution of a positive transition matrix: the rows of A^(2^60)
   (renormalized after each squaring) all equal it; their average is returned so a
   nearly reducible chain still gives a distribution. */
static void s_stationary(const double *A, size_t K, double *pi)
{
    double P[S_MAXK * S_MAXK], Q[S_MAXK * S_MAXK];
    memcpy(P, A, K * K * sizeof *P);
    for (int it = 0; it < 60; it++) {
        for (size_t i = 0; i < K; i++)
            for (size_t j = 0; j < K; j++) {
                double s = 0;
                for (size_t k = 0; k < K; k++)
                    s += P[i * K + k] * P[k * K + j];
                Q[i * K + j] = s;
            }
        for (size_t i = 0; i < K; i++)
            s_prob_row_fix(&Q[i * K], K);
        memcpy(P, Q, K * K * sizeof *P);
    }
    for (size_t j = 0; j < K; j++) {
        pi[j] = 0;
        for (size_t i = 0; i < K; i++)
            pi[j] += P[i * K + j] / (double)K;
    }
    s_prob_row_fix(pi, K);
}

/* ---- the model -------------------------------------------------------------- */

static void s_derive(ml4t_hmm_t *h)
{
    size_t K = h->K, D = h->dim;
    for (size_t i = 0; i < K; i++) {
        h->log_start[i] = log(h->start[i]);
        for (size_t j = 0; j < K; j++)
            h->log_trans[i * K + j] = log(h->trans[i * K + j]);
        double ln = 0;
        for (size_t d = 0; d < D; d++) {
            ln += log(2.0 * M_PI * h->vars[i * D + d]);
            h->inv_var[i * D + d] = 1.0 / h->vars[i * D + d];
        }
        h->log_norm[i] = -0.5 * ln;
    }
}

static double s_state_key(const ml4t_hmm_t *h, size_t k)
{
    return h->dim >= 2 ? h->means[k * h->dim + h->vol_column] : h->vars[k * h->dim];
}

/* Reorder states by volatility (ascending): state 0 is the calmest. */
static void s_sort_states(ml4t_hmm_t *h)
{
    size_t K = h->K, D = h->dim, perm[S_MAXK];
    for (size_t i = 0; i < K; i++)
        perm[i] = i;
    for (size_t i = 1; i < K; i++) /* insertion sort: stable, K <= 8 */
        for (size_t j = i; j > 0 && s_state_key(h, perm[j]) < s_state_key(h, perm[j - 1]); j--) {
            size_t t = perm[j];
            perm[j] = perm[j - 1];
            perm[j - 1] = t;
        }
    ml4t_hmm_t o = *h;
    for (size_t r = 0; r < K; r++) {
        h->start[r] = o.start[perm[r]];
        for (size_t s = 0; s < K; s++)
            h->trans[r * K + s] = o.trans[perm[r] * K + perm[s]];
        memcpy(&h->means[r * D], &o.means[perm[r] * D], D * sizeof(double));
        memcpy(&h->vars[r * D], &o.vars[perm[r] * D], D * sizeof(double));
    }
}

/* log N(x | state k) for every state into lb; returns the largest. */
static double s_log_emission(const ml4t_hmm_t *h, const double *x, double *lb)
{
    size_t K = h->K, D = h->dim;
    double best = -DBL_MAX;
    for (size_t k = 0; k < K; k++) {
        double q = 0;
        for (size_t d = 0; d < D; d++) {
            double z = x[d] - h->means[k * D + d];
            q += fmin(z * z * h->inv_var[k * D + d], S_Z2_CAP);
        }
        lb[k] = h->log_norm[k] - 0.5 * q;
        if (lb[k] > best)
            best = lb[k];
    }
    return best;
}

/* Emission densities scaled by their largest (so the largest is 1 and none
   underflows all together); returns the log of that scale. */
static double s_scaled_emission(const ml4t_hmm_t *h, const double *x, double *b)
{
    double m = s_log_emission(h, x, b);
    for (size_t k = 0; k < h->K; k++)
        b[k] = exp(b[k] - m);
    return m;
}

/* One forward step shared by the batch pass, the fit and the online filter, so
   they agree bit for bit. prev NULL means the first bar (use start). Writes the
   normalized filtered probabilities to out and returns the normalizer. */
static double s_forward_step(const ml4t_hmm_t *h, const double *prev, const double *b, double *out)
{
    size_t K = h->K;
    double c = 0;
    for (size_t j = 0; j < K; j++) {
        double pred = 0;
        if (prev)
            for (size_t i = 0; i < K; i++)
                pred += prev[i] * h->trans[i * K + j];
        else
            pred = h->start[j];
        out[j] = pred * b[j];
        c += out[j];
    }
    if (!(c > 0)) { /* unreachable with floored probabilities; kept as a guard */
        c = 0;
        for (size_t j = 0; j < K; j++)
            c += (out[j] = b[j] / (double)K);
    }
    for (size_t j = 0; j < K; j++)
        out[j] /= c;
    return c;
}

static ml4t_err_t s_check_obs(const double *obs, size_t rows, size_t dim, ml4t_error_t *err)
{
    for (size_t t = 0; t < rows; t++)
        for (size_t d = 0; d < dim; d++)
            if (!isfinite(obs[t * dim + d]))
                return ml4t_error_set(err, ML4T_EINVAL, "obs", "obs[%zu][%zu] is %g, not finite", t,
                                      d, obs[t * dim + d]);
    return ML4T_OK;
}

/* Shapes, probabilities and variances of explicit parameters. */
static ml4t_err_t s_check_params(size_t K, size_t D, const double *start, const double *trans,
                                 const double *means, const double *vars, size_t vol_window,
                                 size_t vol_column, ml4t_error_t *err)
{
    if (K < 2 || K > S_MAXK)
        return ml4t_error_set(err, ML4T_ERANGE, "n_states", "n_states=%zu must be in [2, %d]", K,
                              S_MAXK);
    if (D < 1 || D > S_MAXD)
        return ml4t_error_set(err, ML4T_ERANGE, "dim", "dim=%zu must be in [1, %d]", D, S_MAXD);
    if (vol_window > ML4T_HMM_MAX_VOL_WINDOW || vol_window == 1)
        return ml4t_error_set(err, ML4T_ERANGE, "vol_window",
                              "vol_window=%zu must be 0 or in [2, %d]", vol_window,
                              ML4T_HMM_MAX_VOL_WINDOW);
    if (D >= 2 && vol_column >= D)
        return ml4t_error_set(err, ML4T_ERANGE, "vol_column", "vol_column=%zu must be < dim=%zu",
                              vol_column, D);
    for (size_t i = 0; i <= K; i++) {
        const double *row = i < K ? &trans[i * K] : start;
        double sum = 0;
        for (size_t j = 0; j < K; j++) {
            if (!(row[j] >= 0 && row[j] <= 1))
                return ml4t_error_set(err, ML4T_ERANGE, i < K ? "transmat" : "start_probs",
                                      "entry [%zu] of row %zu is %g, not in [0, 1]", j, i, row[j]);
            sum += row[j];
        }
        if (fabs(sum - 1.0) > S_ROW_SUM_TOL)
            return ml4t_error_set(err, ML4T_ERANGE, i < K ? "transmat" : "start_probs",
                                  "row %zu sums to %.12g, not 1 (tolerance %g)", i, sum,
                                  S_ROW_SUM_TOL);
    }
    for (size_t i = 0; i < K * D; i++) {
        if (!isfinite(means[i]))
            return ml4t_error_set(err, ML4T_ERANGE, "means", "means[%zu][%zu] is %g, not finite",
                                  i / D, i % D, means[i]);
        if (!(vars[i] > 0) || !isfinite(vars[i]) || !isfinite(1.0 / vars[i]))
            return ml4t_error_set(err, ML4T_ERANGE, "variances",
                                  "variances[%zu][%zu] is %g, must be finite and > 0", i / D, i % D,
                                  vars[i]);
    }
    return ML4T_OK;
}

/* Validate and adopt explicit parameters into a fresh model. */
static ml4t_hmm_t *s_model_new(size_t K, size_t D, const double *start, const double *trans,
                               const double *means, const double *vars, size_t vol_window,
                               size_t vol_column, ml4t_error_t *err)
{
    if (s_check_params(K, D, start, trans, means, vars, vol_window, vol_column, err))
        return NULL;
    ml4t_hmm_t *h = calloc(1, sizeof *h);
    if (!h) {
        ml4t_error_set(err, ML4T_ENOMEM, "hmm", "cannot allocate a model");
        return NULL;
    }
    h->K = K;
    h->dim = D;
    h->vol_window = vol_window;
    h->vol_column = D >= 2 ? vol_column : 0;
    memcpy(h->start, start, K * sizeof(double));
    memcpy(h->trans, trans, K * K * sizeof(double));
    memcpy(h->means, means, K * D * sizeof(double));
    memcpy(h->vars, vars, K * D * sizeof(double));
    for (size_t i = 0; i < K; i++)
        s_prob_row_fix(&h->trans[i * K], K);
    s_prob_row_fix(h->start, K);
    s_sort_states(h);
    s_derive(h);
    h->loglik = NAN;
    return h;
}

ml4t_hmm_t *ml4t_hmm_new(size_t n_states, size_t dim, const double *start, const double *transmat,
                         const double *means, const double *variances, size_t vol_window,
                         ml4t_error_t *err)
{
    if (!start || !transmat || !means || !variances) {
        ml4t_error_set(err, ML4T_EINVAL, "params", "start, transmat, means, variances required");
        return NULL;
    }
    return s_model_new(n_states, dim, start, transmat, means, variances, vol_window,
                       dim >= 2 ? 1 : 0, err);
}

void ml4t_hmm_destroy(ml4t_hmm_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

size_t ml4t_hmm_n_states(const ml4t_hmm_t *h)
{
    return h->K;
}
size_t ml4t_hmm_dim(const ml4t_hmm_t *h)
{
    return h->dim;
}
size_t ml4t_hmm_vol_window(const ml4t_hmm_t *h)
{
    return h->vol_window;
}
size_t ml4t_hmm_vol_column(const ml4t_hmm_t *h)
{
    return h->vol_column;
}
const double *ml4t_hmm_means(const ml4t_hmm_t *h)
{
    return h->means;
}
const double *ml4t_hmm_variances(const ml4t_hmm_t *h)
{
    return h->vars;
}
const double *ml4t_hmm_transmat(const ml4t_hmm_t *h)
{
    return h->trans;
}
const double *ml4t_hmm_start_probs(const ml4t_hmm_t *h)
{
    return h->start;
}
double ml4t_hmm_log_likelihood(const ml4t_hmm_t *h)
{
    return h->loglik;
}
size_t ml4t_hmm_n_iter(const ml4t_hmm_t *h)
{
    return h->n_iter;
}
bool ml4t_hmm_converged(const ml4t_hmm_t *h)
{
    return h->converged;
}
size_t ml4t_hmm_n_obs(const ml4t_hmm_t *h)
{
    return h->n_obs;
}

const char *ml4t_hmm_state_label(const ml4t_hmm_t *h, size_t state)
{
    if (!h || state >= h->K)
        return "UNKNOWN";
    if (state == 0)
        return "LOW";
    return state == h->K - 1 ? "HIGH" : "MEDIUM";
}

/* ---- observations --------------------------------------------------------------- */

static void s_roll_clear(ml4t_hmm_roll_t *r)
{
    r->count = r->head = r->since_exact = 0;
    r->sum = r->sumsq = 0;
}

/* Push one log return; when the window is full store its population standard
   deviation in *vol and return true. Both the batch builder and the filter call
   this, so their volatilities are identical. */
static bool s_roll_push(ml4t_hmm_roll_t *r, double x, double *vol)
{
    if (r->count == r->window) {
        double old = r->ring[r->head];
        r->sum -= old;
        r->sumsq -= old * old;
    } else {
        r->count++;
    }
    r->ring[r->head] = x;
    r->head = (r->head + 1) % r->window;
    r->sum += x;
    r->sumsq += x * x;
    if (++r->since_exact >= r->window) { /* drop accumulated rounding */
        size_t first = r->count == r->window ? r->head : 0;
        r->sum = r->sumsq = 0;
        for (size_t i = 0; i < r->count; i++) {
            double v = r->ring[(first + i) % r->window];
            r->sum += v;
            r->sumsq += v * v;
        }
        r->since_exact = 0;
    }
    if (r->count < r->window)
        return false;
    double n = (double)r->window, mean = r->sum / n;
    double var = r->sumsq / n - mean * mean;
    *vol = sqrt(var > 0 ? var : 0); /* rounding can leave a tiny negative */
    return true;
}

size_t ml4t_hmm_observations_rows(size_t n, size_t vol_window)
{
    return n > vol_window ? n - vol_window : 0;
}

ml4t_err_t ml4t_hmm_observations(const double *close, size_t n, size_t vol_window, double *out,
                                 size_t *rows, ml4t_error_t *err)
{
    if (rows)
        *rows = 0;
    if (vol_window < 2 || vol_window > ML4T_HMM_MAX_VOL_WINDOW)
        return ml4t_error_set(err, ML4T_EINVAL, "vol_window", "vol_window=%zu must be in [2, %d]",
                              vol_window, ML4T_HMM_MAX_VOL_WINDOW);
    if (n <= vol_window)
        return ml4t_error_set(err, ML4T_ENODATA, "n",
                              "n=%zu closes give no row: need more than vol_window=%zu", n,
                              vol_window);
    if (!close || !out)
        return ml4t_error_set(err, ML4T_EINVAL, close ? "out" : "close", "must not be NULL");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(close[i]) || !(close[i] > 0))
            return ml4t_error_set(err, ML4T_EINVAL, "close", "close[%zu]=%g must be finite and > 0",
                                  i, close[i]);
    ml4t_hmm_roll_t r = {.window = vol_window};
    r.ring = malloc(vol_window * sizeof *r.ring);
    if (!r.ring)
        return ml4t_error_set(err, ML4T_ENOMEM, "vol_window", "cannot allocate the window");
    s_roll_clear(&r);
    size_t row = 0;
    for (size_t t = 1; t < n; t++) {
        double ret = log(close[t] / close[t - 1]), vol;
        if (s_roll_push(&r, ret, &vol)) {
            out[row * 2] = ret;
            out[row * 2 + 1] = vol;
            row++;
        }
    }
    free(r.ring);
    if (rows)
        *rows = row;
    return ML4T_OK;
}

ml4t_err_t ml4t_hmm_observations_bars(const ml4t_bars_t *bars, size_t vol_window, double *out,
                                      size_t *rows, ml4t_error_t *err)
{
    if (!bars)
        return ml4t_error_set(err, ML4T_EINVAL, "bars", "must not be NULL");
    return ml4t_hmm_observations(bars->close, bars->n, vol_window, out, rows, err);
}

/* ---- configuration ----------------------------------------------------------------- */

void ml4t_hmm_config_default(ml4t_hmm_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->n_states = 3;
    cfg->n_init = 5;
    cfg->max_iter = 200;
    cfg->tol = 1e-6;
    cfg->seed = 42;
    cfg->vol_window = 20;
    cfg->var_floor = 1e-4;
    cfg->init = ML4T_HMM_INIT_MIXED;
    cfg->vol_column = 1;
}

ml4t_err_t ml4t_hmm_config_validate(const ml4t_hmm_config_t *cfg, ml4t_error_t *err)
{
    if (!cfg)
        return ml4t_error_set(err, ML4T_EINVAL, "cfg", "must not be NULL");
    if (cfg->n_states < 2 || cfg->n_states > S_MAXK)
        return ml4t_error_set(err, ML4T_EINVAL, "cfg.n_states", "n_states=%zu must be in [2, %d]",
                              cfg->n_states, S_MAXK);
    if (cfg->n_init < 1 || cfg->n_init > 100)
        return ml4t_error_set(err, ML4T_EINVAL, "cfg.n_init", "n_init=%zu must be in [1, 100]",
                              cfg->n_init);
    if (cfg->max_iter < 1 || cfg->max_iter > 100000)
        return ml4t_error_set(err, ML4T_EINVAL, "cfg.max_iter",
                              "max_iter=%zu must be in [1, 100000]", cfg->max_iter);
    if (!(cfg->tol > 0) || !isfinite(cfg->tol))
        return ml4t_error_set(err, ML4T_EINVAL, "cfg.tol", "tol=%g must be finite and > 0",
                              cfg->tol);
    if (cfg->vol_window < 2 || cfg->vol_window > ML4T_HMM_MAX_VOL_WINDOW)
        return ml4t_error_set(err, ML4T_EINVAL, "cfg.vol_window",
                              "vol_window=%zu must be in [2, %d]", cfg->vol_window,
                              ML4T_HMM_MAX_VOL_WINDOW);
    if (!(cfg->var_floor > 0 && cfg->var_floor < 1))
        return ml4t_error_set(err, ML4T_EINVAL, "cfg.var_floor", "var_floor=%g must be in (0, 1)",
                              cfg->var_floor);
    if (cfg->init != ML4T_HMM_INIT_MIXED && cfg->init != ML4T_HMM_INIT_KMEANSPP &&
        cfg->init != ML4T_HMM_INIT_QUANTILE)
        return ml4t_error_set(err, ML4T_EINVAL, "cfg.init", "init=%d is not a known method",
                              (int)cfg->init);
    return ML4T_OK;
}

/* ---- fitting: shared state ------------------------------------------------------------ */

typedef struct {
    double key;
    size_t idx;
} s_keyed_t;

typedef struct {
    const double *obs;
    size_t rows, K, D;
    const ml4t_hmm_config_t *cfg;
    double colmean[S_MAXD], colvar[S_MAXD], floor[S_MAXD];
    double *B;     /* rows x K scaled emission densities */
    double *alpha; /* rows x K filtered probabilities, then posteriors */
    double *c;     /* rows forward normalizers */
    double *m;     /* rows log emission scales */
    int *labels;   /* rows: initial partition */
    double *d2;    /* rows: k-means distances */
    double *feat;  /* rows x D: the scale features k-means++ clusters */
    double featvar[S_MAXD];
    s_keyed_t *keyed;
} s_fit_t;

typedef struct {
    double gsum[S_MAXK];        /* sum_t gamma_t(i) */
    double xi[S_MAXK * S_MAXK]; /* sum_t xi_t(i, j) */
} s_acc_t;

static void s_fit_free(s_fit_t *ft)
{
    free(ft->B);
    free(ft->alpha);
    free(ft->c);
    free(ft->m);
    free(ft->labels);
    free(ft->d2);
    free(ft->keyed);
    free(ft->feat);
}

static ml4t_err_t s_fit_alloc(s_fit_t *ft, ml4t_error_t *err)
{
    size_t T = ft->rows, K = ft->K;
    ft->B = malloc(T * K * sizeof(double));
    ft->alpha = malloc(T * K * sizeof(double));
    ft->c = malloc(T * sizeof(double));
    ft->m = malloc(T * sizeof(double));
    ft->labels = malloc(T * sizeof(int));
    ft->d2 = malloc(T * sizeof(double));
    ft->keyed = malloc(T * sizeof(s_keyed_t));
    ft->feat = malloc(T * ft->D * sizeof(double));
    if (!ft->B || !ft->alpha || !ft->c || !ft->m || !ft->labels || !ft->d2 || !ft->keyed ||
        !ft->feat) {
        s_fit_free(ft);
        return ml4t_error_set(err, ML4T_ENOMEM, "rows", "cannot allocate work buffers for %zu rows",
                              T);
    }
    return ML4T_OK;
}

/* Column means and variances; a constant column or fewer than K distinct rows
   leaves nothing to separate into states. */
static ml4t_err_t s_fit_check_data(s_fit_t *ft, ml4t_error_t *err)
{
    size_t T = ft->rows, D = ft->D;
    for (size_t d = 0; d < D; d++) {
        double s = 0, ss = 0;
        for (size_t t = 0; t < T; t++)
            s += ft->obs[t * D + d];
        double mean = s / (double)T;
        for (size_t t = 0; t < T; t++) {
            double z = ft->obs[t * D + d] - mean;
            ss += z * z;
        }
        ft->colmean[d] = mean;
        ft->colvar[d] = ss / (double)T;
        /* constant up to rounding: std <= 1e-12 relative to the column's magnitude */
        if (sqrt(ft->colvar[d]) <= 1e-12 * fmax(1.0, fabs(mean)))
            return ml4t_error_set(err, ML4T_ENODATA, "obs",
                                  "column %zu is constant (std %g): nothing to separate into "
                                  "regimes (from prices: the price never moved)",
                                  d, sqrt(ft->colvar[d]));
        ft->floor[d] = ft->cfg->var_floor * ft->colvar[d];
    }
    size_t found[S_MAXK], nf = 0;
    for (size_t t = 0; t < T && nf < ft->K; t++) {
        bool seen = false;
        for (size_t f = 0; f < nf && !seen; f++) {
            seen = true;
            for (size_t d = 0; d < D; d++)
                if (ft->obs[t * D + d] != ft->obs[found[f] * D + d])
                    seen = false;
        }
        if (!seen)
            found[nf++] = t;
    }
    if (nf < ft->K)
        return ml4t_error_set(err, ML4T_ENODATA, "obs",
                              "only %zu distinct rows, fewer than n_states=%zu", nf, ft->K);
    return ML4T_OK;
}

/* ---- fitting: initialization -------------------------------------------------------------- */

/* Parameters from a hard partition: per-label means and floored variances,
   transitions counted along the label sequence (plus one per cell), uniform start. */
static void s_init_from_labels(const s_fit_t *ft, ml4t_hmm_t *h)
{
    size_t T = ft->rows, K = ft->K, D = ft->D;
    double n[S_MAXK] = {0}, cnt[S_MAXK * S_MAXK];
    memset(h->means, 0, sizeof h->means);
    memset(h->vars, 0, sizeof h->vars);
    for (size_t i = 0; i < K * K; i++)
        cnt[i] = 1.0;
    for (size_t t = 0; t < T; t++) {
        int k = ft->labels[t];
        n[k] += 1;
        for (size_t d = 0; d < D; d++)
            h->means[k * D + d] += ft->obs[t * D + d];
        if (t + 1 < T)
            cnt[k * K + (size_t)ft->labels[t + 1]] += 1;
    }
    for (size_t k = 0; k < K; k++)
        for (size_t d = 0; d < D; d++)
            h->means[k * D + d] = n[k] > 0 ? h->means[k * D + d] / n[k] : ft->colmean[d];
    for (size_t t = 0; t < T; t++) {
        int k = ft->labels[t];
        for (size_t d = 0; d < D; d++) {
            double z = ft->obs[t * D + d] - h->means[k * D + d];
            h->vars[k * D + d] += z * z;
        }
    }
    for (size_t k = 0; k < K; k++) {
        for (size_t d = 0; d < D; d++) {
            double v = n[k] > 0 ? h->vars[k * D + d] / n[k] : ft->colvar[d];
            h->vars[k * D + d] = v > ft->floor[d] ? v : ft->floor[d];
        }
        double rs = 0;
        for (size_t j = 0; j < K; j++)
            rs += cnt[k * K + j];
        for (size_t j = 0; j < K; j++)
            h->trans[k * K + j] = cnt[k * K + j] / rs;
        s_prob_row_fix(&h->trans[k * K], K);
        h->start[k] = 1.0 / (double)K;
    }
    s_derive(h);
}

static int s_cmp_keyed(const void *a, const void *b)
{
    const s_keyed_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Equal-count groups by volatility: the vol column, or |x - mean| in one dimension. */
static void s_init_quantile(s_fit_t *ft, ml4t_hmm_t *h)
{
    size_t T = ft->rows, D = ft->D, vc = ft->cfg->vol_column;
    for (size_t t = 0; t < T; t++) {
        ft->keyed[t].key = D >= 2 ? ft->obs[t * D + vc] : fabs(ft->obs[t] - ft->colmean[0]);
        ft->keyed[t].idx = t;
    }
    qsort(ft->keyed, T, sizeof *ft->keyed, s_cmp_keyed);
    for (size_t r = 0; r < T; r++)
        ft->labels[ft->keyed[r].idx] = (int)(r * ft->K / T);
    s_init_from_labels(ft, h);
}

/* Squared distance in units of each column's standard deviation. */
static double s_dist2(const s_fit_t *ft, const double *x, const double *c)
{
    double s = 0;
    for (size_t d = 0; d < ft->D; d++) {
        double z = x[d] - c[d];
        s += z * z / ft->featvar[d];
    }
    return s;
}

static size_t s_kmeanspp_pick(s_fit_t *ft, s_rng_t *rng)
{
    double total = 0;
    for (size_t t = 0; t < ft->rows; t++)
        total += ft->d2[t];
    if (!(total > 0))
        return (size_t)(s_rng_next(rng) % ft->rows);
    double u = s_rng_uniform(rng) * total, acc = 0;
    for (size_t t = 0; t < ft->rows; t++) {
        acc += ft->d2[t];
        if (acc > u && ft->d2[t] > 0)
            return t;
    }
    for (size_t t = ft->rows; t-- > 0;) /* rounding left u at the very end */
        if (ft->d2[t] > 0)
            return t;
    return 0;
}

/* Assign every row to its nearest center; returns how many labels changed. */
static size_t s_lloyd_assign(s_fit_t *ft, const double *C)
{
    size_t changed = 0;
    for (size_t t = 0; t < ft->rows; t++) {
        const double *x = &ft->feat[t * ft->D];
        int best = 0;
        double bd = s_dist2(ft, x, C);
        for (size_t k = 1; k < ft->K; k++) {
            double dk = s_dist2(ft, x, &C[k * ft->D]);
            if (dk < bd) {
                bd = dk;
                best = (int)k;
            }
        }
        changed += ft->labels[t] != best;
        ft->labels[t] = best;
        ft->d2[t] = bd;
    }
    return changed;
}

static void s_lloyd_update(s_fit_t *ft, double *C)
{
    size_t K = ft->K, D = ft->D;
    double n[S_MAXK] = {0};
    memset(C, 0, K * D * sizeof *C);
    for (size_t t = 0; t < ft->rows; t++) {
        n[ft->labels[t]] += 1;
        for (size_t d = 0; d < D; d++)
            C[(size_t)ft->labels[t] * D + d] += ft->feat[t * D + d];
    }
    for (size_t k = 0; k < K; k++) {
        if (n[k] > 0) {
            for (size_t d = 0; d < D; d++)
                C[k * D + d] /= n[k];
            continue;
        }
        size_t far = 0; /* an empty cluster takes the worst-fitted row */
        for (size_t t = 1; t < ft->rows; t++)
            if (ft->d2[t] > ft->d2[far])
                far = t;
        memcpy(&C[k * D], &ft->feat[far * D], D * sizeof *C);
        ft->labels[far] = (int)k;
        ft->d2[far] = 0;
    }
}

/* Regimes differ in scale, not in mean return: clustering raw returns splits the
   volatile state by the sign of its returns (a local optimum EM does not leave).
   So k-means++ clusters scale features: the volatility column as it is, every
   other column as |x - mean|. Each feature is then standardized. */
static void s_scale_features(s_fit_t *ft)
{
    size_t T = ft->rows, D = ft->D, vc = ft->cfg->vol_column;
    for (size_t d = 0; d < D; d++) {
        double s = 0, ss = 0;
        for (size_t t = 0; t < T; t++) {
            double x = ft->obs[t * D + d];
            s += (ft->feat[t * D + d] = D >= 2 && d == vc ? x : fabs(x - ft->colmean[d]));
        }
        double mean = s / (double)T;
        for (size_t t = 0; t < T; t++)
            ss += (ft->feat[t * D + d] - mean) * (ft->feat[t * D + d] - mean);
        /* a feature with no spread cannot separate anything: unit scale keeps it inert */
        ft->featvar[d] = ss > 0 ? ss / (double)T : 1.0;
    }
}

/* k-means++ seeding on the scale features, a few Lloyd iterations, then
   parameters from the clusters. */
static void s_init_kmeanspp(s_fit_t *ft, ml4t_hmm_t *h, s_rng_t *rng)
{
    size_t K = ft->K, D = ft->D, T = ft->rows;
    double C[S_MAXK * S_MAXD];
    size_t first = (size_t)(s_rng_next(rng) % T);
    memcpy(C, &ft->feat[first * D], D * sizeof *C);
    for (size_t t = 0; t < T; t++)
        ft->d2[t] = s_dist2(ft, &ft->feat[t * D], C);
    for (size_t k = 1; k < K; k++) {
        size_t pick = s_kmeanspp_pick(ft, rng);
        memcpy(&C[k * D], &ft->feat[pick * D], D * sizeof *C);
        for (size_t t = 0; t < T; t++) {
            double dk = s_dist2(ft, &ft->feat[t * D], &C[k * D]);
            if (dk < ft->d2[t])
                ft->d2[t] = dk;
        }
    }
    for (size_t t = 0; t < T; t++)
        ft->labels[t] = -1;
    for (int it = 0; it < 20; it++) {
        if (s_lloyd_assign(ft, C) == 0 && it > 0)
            break;
        s_lloyd_update(ft, C);
    }
    s_lloyd_assign(ft, C); /* labels match the final centers, none empty after update */
    s_lloyd_update(ft, C);
    s_init_from_labels(ft, h);
}

/* ---- fitting: Baum-Welch ------------------------------------------------------------------ */

/* Forward pass (scaled, shared step), then a backward pass that accumulates the
   expected transitions and overwrites alpha with the posteriors gamma. Returns
   log p(obs). */
static double s_estep(s_fit_t *ft, const ml4t_hmm_t *h, s_acc_t *acc)
{
    size_t T = ft->rows, K = ft->K, D = ft->D;
    double ll = 0;
    for (size_t t = 0; t < T; t++) {
        double *b = &ft->B[t * K];
        ft->m[t] = s_scaled_emission(h, &ft->obs[t * D], b);
        ft->c[t] = s_forward_step(h, t ? &ft->alpha[(t - 1) * K] : NULL, b, &ft->alpha[t * K]);
        ll += log(ft->c[t]) + ft->m[t];
    }
    memset(acc, 0, sizeof *acc);
    double beta[S_MAXK], w[S_MAXK];
    for (size_t i = 0; i < K; i++)
        beta[i] = 1.0;
    for (size_t t = T; t-- > 0;) {
        double *a = &ft->alpha[t * K];
        if (t + 1 < T) {
            const double *b1 = &ft->B[(t + 1) * K];
            for (size_t j = 0; j < K; j++)
                w[j] = b1[j] * beta[j] / ft->c[t + 1];
            for (size_t i = 0; i < K; i++) {
                double s = 0;
                for (size_t j = 0; j < K; j++) {
                    double v = h->trans[i * K + j] * w[j];
                    acc->xi[i * K + j] += a[i] * v;
                    s += v;
                }
                beta[i] = s;
            }
        }
        double gs = 0;
        for (size_t i = 0; i < K; i++)
            gs += (a[i] *= beta[i]);
        for (size_t i = 0; i < K; i++) {
            a[i] /= gs; /* sums to 1 up to rounding */
            acc->gsum[i] += a[i];
        }
    }
    return ll;
}

/* Re-estimate transitions, means and floored variances from the posteriors. */
static void s_mstep(const s_fit_t *ft, ml4t_hmm_t *h, const s_acc_t *acc)
{
    size_t T = ft->rows, K = ft->K, D = ft->D;
    for (size_t i = 0; i < K; i++) {
        double rs = 0;
        for (size_t j = 0; j < K; j++)
            rs += acc->xi[i * K + j];
        for (size_t j = 0; j < K; j++)
            h->trans[i * K + j] = rs > 0 ? acc->xi[i * K + j] / rs : 1.0 / (double)K;
        s_prob_row_fix(&h->trans[i * K], K);
    }
    memset(h->means, 0, sizeof h->means);
    memset(h->vars, 0, sizeof h->vars);
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < K; i++)
            for (size_t d = 0; d < D; d++)
                h->means[i * D + d] += ft->alpha[t * K + i] * ft->obs[t * D + d];
    for (size_t i = 0; i < K; i++)
        for (size_t d = 0; d < D; d++)
            h->means[i * D + d] /= acc->gsum[i];
    for (size_t t = 0; t < T; t++) /* second pass: no cancellation in E[x^2] - E[x]^2 */
        for (size_t i = 0; i < K; i++)
            for (size_t d = 0; d < D; d++) {
                double z = ft->obs[t * D + d] - h->means[i * D + d];
                h->vars[i * D + d] += ft->alpha[t * K + i] * z * z;
            }
    for (size_t i = 0; i < K; i++)
        for (size_t d = 0; d < D; d++) {
            double v = h->vars[i * D + d] / acc->gsum[i];
            h->vars[i * D + d] = v > ft->floor[d] ? v : ft->floor[d];
        }
    s_derive(h);
}

/* Restart an emptied state at the row the model explains worst, with the data's
   variance, a sticky-but-open transition row, and a little inflow from the others. */
static void s_reseed(const s_fit_t *ft, ml4t_hmm_t *h, size_t k)
{
    size_t T = ft->rows, K = ft->K, D = ft->D, worst = 0;
    for (size_t t = 1; t < T; t++)
        if (ft->m[t] < ft->m[worst])
            worst = t;
    for (size_t d = 0; d < D; d++) {
        h->means[k * D + d] = ft->obs[worst * D + d];
        h->vars[k * D + d] = ft->colvar[d];
    }
    for (size_t j = 0; j < K; j++)
        h->trans[k * K + j] = j == k ? 0.5 : 0.5 / (double)(K - 1);
    for (size_t i = 0; i < K; i++)
        if (i != k) {
            h->trans[i * K + k] += 0.01;
            s_prob_row_fix(&h->trans[i * K], K);
        }
    s_derive(h);
}

static int s_empty_state(const s_fit_t *ft, const s_acc_t *acc)
{
    for (size_t i = 0; i < ft->K; i++)
        if (!(acc->gsum[i] >= S_EMPTY_MASS))
            return (int)i;
    return -1;
}

/* One EM run from the parameters in h. Stops when the log-likelihood per row
   gains less than tol, or after max_iter updates. false when it cannot keep K
   states alive or the likelihood stops being finite. */
static bool s_em(s_fit_t *ft, ml4t_hmm_t *h)
{
    s_acc_t acc;
    double prev = -INFINITY;
    size_t reseeds = 0;
    bool have_prev = false;
    h->n_iter = 0;
    h->converged = false;
    for (;;) {
        double ll = s_estep(ft, h, &acc);
        if (!isfinite(ll))
            return false;
        int k = s_empty_state(ft, &acc);
        if (k >= 0) {
            if (++reseeds > S_MAX_RESEEDS)
                return false;
            s_reseed(ft, h, (size_t)k);
            have_prev = false;
            continue;
        }
        h->loglik = ll;
        if (have_prev && (ll - prev) / (double)ft->rows < ft->cfg->tol) {
            h->converged = true;
            return true;
        }
        if (h->n_iter == ft->cfg->max_iter)
            return true;
        prev = ll;
        have_prev = true;
        s_mstep(ft, h, &acc);
        h->n_iter++;
    }
}

static ml4t_err_t s_fit_prepare(s_fit_t *ft, const double *obs, size_t rows, size_t dim,
                                const ml4t_hmm_config_t *cfg, ml4t_error_t *err)
{
    ml4t_err_t rc = ml4t_hmm_config_validate(cfg, err);
    if (rc)
        return rc;
    if (dim < 1 || dim > S_MAXD)
        return ml4t_error_set(err, ML4T_EINVAL, "dim", "dim=%zu must be in [1, %d]", dim, S_MAXD);
    if (dim >= 2 && cfg->vol_column >= dim)
        return ml4t_error_set(err, ML4T_EINVAL, "cfg.vol_column",
                              "vol_column=%zu must be < dim=%zu", cfg->vol_column, dim);
    size_t need = ML4T_HMM_MIN_ROWS_PER_STATE * cfg->n_states;
    if (rows < need)
        return ml4t_error_set(err, ML4T_ENODATA, "rows",
                              "rows=%zu is too few to fit %zu states: need at least %zu", rows,
                              cfg->n_states, need);
    if (!obs)
        return ml4t_error_set(err, ML4T_EINVAL, "obs", "must not be NULL");
    rc = s_check_obs(obs, rows, dim, err);
    if (rc)
        return rc;
    memset(ft, 0, sizeof *ft);
    ft->obs = obs;
    ft->rows = rows;
    ft->K = cfg->n_states;
    ft->D = dim;
    ft->cfg = cfg;
    rc = s_fit_check_data(ft, err);
    if (!rc)
        rc = s_fit_alloc(ft, err);
    if (!rc)
        s_scale_features(ft);
    return rc;
}

/* Log-likelihood of obs under h (the shared forward step); alpha is rows x K scratch. */
static double s_loglik(const ml4t_hmm_t *h, const double *obs, size_t rows, double *alpha)
{
    double b[S_MAXK], ll = 0;
    for (size_t t = 0; t < rows; t++) {
        double m = s_scaled_emission(h, &obs[t * h->dim], b);
        double c = s_forward_step(h, t ? &alpha[(t - 1) * h->K] : NULL, b, &alpha[t * h->K]);
        ll += log(c) + m;
    }
    return ll;
}

ml4t_hmm_t *ml4t_hmm_fit(const double *obs, size_t rows, size_t dim, const ml4t_hmm_config_t *cfg,
                         ml4t_error_t *err)
{
    ml4t_hmm_config_t defaults;
    if (!cfg) {
        ml4t_hmm_config_default(&defaults);
        cfg = &defaults;
    }
    s_fit_t ft;
    if (s_fit_prepare(&ft, obs, rows, dim, cfg, err))
        return NULL;
    ml4t_hmm_t best = {0}, run;
    bool have_best = false;
    size_t runs = cfg->init == ML4T_HMM_INIT_QUANTILE ? 1 : cfg->n_init;
    for (size_t r = 0; r < runs; r++) {
        memset(&run, 0, sizeof run);
        run.K = ft.K;
        run.dim = dim;
        run.vol_column = dim >= 2 ? cfg->vol_column : 0;
        if (r == 0 && cfg->init != ML4T_HMM_INIT_KMEANSPP) {
            s_init_quantile(&ft, &run);
        } else {
            uint64_t sm = cfg->seed ^ (0x9e3779b97f4a7c15ull * (r + 1));
            s_rng_t rng;
            s_rng_seed(&rng, s_splitmix64(&sm));
            s_init_kmeanspp(&ft, &run, &rng);
        }
        if (s_em(&ft, &run) && (!have_best || run.loglik > best.loglik)) {
            best = run;
            have_best = true;
        }
    }
    ml4t_hmm_t *h = NULL;
    if (!have_best) {
        ml4t_error_set(err, ML4T_EMODEL, "fit",
                       "every one of %zu initializations lost a state (emptied more than %d "
                       "times): the data do not support n_states=%zu; try fewer",
                       runs, S_MAX_RESEEDS, ft.K);
        goto out_free_work;
    }
    /* the filter starts at an arbitrary bar, so the stationary distribution is the
       start that matches it; the likelihood is recomputed under that start */
    s_sort_states(&best);
    s_stationary(best.trans, best.K, best.start);
    s_derive(&best);
    best.loglik = s_loglik(&best, obs, rows, ft.alpha);
    best.n_obs = rows;
    best.vol_window = dim == ML4T_HMM_OBS_DIM ? cfg->vol_window : 0;
    h = malloc(sizeof *h);
    if (!h) {
        ml4t_error_set(err, ML4T_ENOMEM, "hmm", "cannot allocate a model");
        goto out_free_work;
    }
    *h = best;
out_free_work:
    s_fit_free(&ft);
    return h;
}

ml4t_hmm_t *ml4t_hmm_fit_closes(const double *close, size_t n, const ml4t_hmm_config_t *cfg,
                                ml4t_error_t *err)
{
    ml4t_hmm_config_t defaults;
    if (!cfg) {
        ml4t_hmm_config_default(&defaults);
        cfg = &defaults;
    }
    if (ml4t_hmm_config_validate(cfg, err))
        return NULL;
    size_t rows = ml4t_hmm_observations_rows(n, cfg->vol_window);
    double *obs = malloc((rows ? rows : 1) * ML4T_HMM_OBS_DIM * sizeof *obs);
    if (!obs) {
        ml4t_error_set(err, ML4T_ENOMEM, "n", "cannot allocate %zu observation rows", rows);
        return NULL;
    }
    ml4t_hmm_t *h = NULL;
    if (ml4t_hmm_observations(close, n, cfg->vol_window, obs, &rows, err) == ML4T_OK)
        h = ml4t_hmm_fit(obs, rows, ML4T_HMM_OBS_DIM, cfg, err);
    free(obs);
    return h;
}

/* ---- offline analysis ------------------------------------------------------------------ */

ml4t_err_t ml4t_hmm_forward_batch(const ml4t_hmm_t *h, const double *obs, size_t rows,
                                  double *probs_out, double *loglik, ml4t_error_t *err)
{
    if (!h || !obs || !probs_out)
        return ml4t_error_set(err, ML4T_EINVAL,
                              !h     ? "h"
                              : !obs ? "obs"
                                     : "probs_out",
                              "must not be NULL");
    if (rows == 0)
        return ml4t_error_set(err, ML4T_EINVAL, "rows", "rows must be > 0");
    ml4t_err_t rc = s_check_obs(obs, rows, h->dim, err);
    if (rc)
        return rc;
    double ll = s_loglik(h, obs, rows, probs_out);
    if (loglik)
        *loglik = ll;
    return ML4T_OK;
}

ml4t_err_t ml4t_hmm_viterbi(const ml4t_hmm_t *h, const double *obs, size_t rows, int *states_out,
                            double *log_prob, ml4t_error_t *err)
{
    if (!h || !obs || !states_out)
        return ml4t_error_set(err, ML4T_EINVAL,
                              !h     ? "h"
                              : !obs ? "obs"
                                     : "states_out",
                              "must not be NULL");
    if (rows == 0)
        return ml4t_error_set(err, ML4T_EINVAL, "rows", "rows must be > 0");
    ml4t_err_t rc = s_check_obs(obs, rows, h->dim, err);
    if (rc)
        return rc;
    size_t K = h->K;
    unsigned char *psi = malloc(rows * K); /* back-pointers; K <= 8 fits a byte */
    if (!psi)
        return ml4t_error_set(err, ML4T_ENOMEM, "rows", "cannot allocate %zu back-pointers",
                              rows * K);
    double delta[S_MAXK] = {0}, next[S_MAXK], lb[S_MAXK];
    s_log_emission(h, obs, lb);
    for (size_t j = 0; j < K; j++)
        delta[j] = h->log_start[j] + lb[j];
    for (size_t t = 1; t < rows; t++) {
        s_log_emission(h, &obs[t * h->dim], lb);
        for (size_t j = 0; j < K; j++) {
            size_t arg = 0;
            double best = delta[0] + h->log_trans[j];
            for (size_t i = 1; i < K; i++) {
                double v = delta[i] + h->log_trans[i * K + j];
                if (v > best) {
                    best = v;
                    arg = i;
                }
            }
            next[j] = best + lb[j];
            psi[t * K + j] = (unsigned char)arg;
        }
        memcpy(delta, next, K * sizeof *delta);
    }
    size_t s = 0;
    for (size_t j = 1; j < K; j++)
        if (delta[j] > delta[s])
            s = j;
    if (log_prob)
        *log_prob = delta[s];
    for (size_t t = rows; t-- > 0;) {
        states_out[t] = (int)s;
        if (t > 0)
            s = psi[t * K + s];
    }
    free(psi);
    return ML4T_OK;
}

/* ---- online filter ------------------------------------------------------------------------ */

ml4t_err_t ml4t_hmm_filter_init(ml4t_hmm_filter_t *f, const ml4t_hmm_t *h, ml4t_error_t *err)
{
    memset(f, 0, sizeof *f);
    if (!h)
        return ml4t_error_set(err, ML4T_EINVAL, "h", "must not be NULL");
    f->n_states = h->K;
    f->dim = h->dim;
    f->roll.window = h->vol_window;
    if (h->vol_window >= 2) {
        f->roll.ring = malloc(h->vol_window * sizeof *f->roll.ring);
        if (!f->roll.ring)
            return ml4t_error_set(err, ML4T_ENOMEM, "vol_window", "cannot allocate the window");
    }
    ml4t_hmm_filter_reset(f);
    return ML4T_OK;
}

void ml4t_hmm_filter_destroy(ml4t_hmm_filter_t *f)
{
    if (!f)
        return;
    free(f->roll.ring);
    f->roll.ring = NULL;
}

void ml4t_hmm_filter_reset(ml4t_hmm_filter_t *f)
{
    for (size_t k = 0; k < ML4T_HMM_MAX_STATES; k++)
        f->probs[k] = 0;
    f->started = false;
    f->n_updates = 0;
    f->last_return = NAN;
    f->last_vol = NAN;
    f->prev_close = NAN;
    s_roll_clear(&f->roll);
}

ml4t_err_t ml4t_hmm_filter_update(ml4t_hmm_filter_t *f, const ml4t_hmm_t *h, const double *obs)
{
    assert(f && h && obs);
    if (h->K != f->n_states || h->dim != f->dim)
        return ML4T_EMISMATCH;
    for (size_t d = 0; d < h->dim; d++)
        if (!isfinite(obs[d]))
            return ML4T_EINVAL;
    double b[S_MAXK], prev[S_MAXK];
    s_scaled_emission(h, obs, b);
    memcpy(prev, f->probs, sizeof prev);
    s_forward_step(h, f->started ? prev : NULL, b, f->probs);
    f->started = true;
    f->n_updates++;
    return ML4T_OK;
}

ml4t_err_t ml4t_hmm_filter_push_close(ml4t_hmm_filter_t *f, const ml4t_hmm_t *h, double close)
{
    assert(f && h);
    if (h->dim != ML4T_HMM_OBS_DIM || h->K != f->n_states || !f->roll.ring ||
        h->vol_window != f->roll.window)
        return ML4T_EMISMATCH;
    if (!isfinite(close) || !(close > 0))
        return ML4T_EINVAL;
    double prev = f->prev_close;
    f->prev_close = close;
    if (isnan(prev))
        return ML4T_OK;
    double obs[ML4T_HMM_OBS_DIM];
    obs[0] = log(close / prev); /* the same expression as ml4t_hmm_observations */
    f->last_return = obs[0];
    if (!s_roll_push(&f->roll, obs[0], &obs[1]))
        return ML4T_OK;
    f->last_vol = obs[1];
    return ml4t_hmm_filter_update(f, h, obs);
}

const double *ml4t_hmm_filter_probs(const ml4t_hmm_filter_t *f)
{
    return f && f->started ? f->probs : NULL;
}

int ml4t_hmm_filter_state(const ml4t_hmm_filter_t *f)
{
    if (!f || !f->started)
        return -1;
    size_t s = 0;
    for (size_t k = 1; k < f->n_states; k++)
        if (f->probs[k] > f->probs[s])
            s = k;
    return (int)s;
}

/* ---- regime weight and volatility level --------------------------------------------------- */

void ml4t_hmm_state_weights(size_t n_states, double *out)
{
    if (n_states == 1) {
        out[0] = ML4T_HMM_UNKNOWN_WEIGHT;
        return;
    }
    for (size_t k = 0; k < n_states; k++) /* K = 3: 1.2, 0.8, 0.4 */
        out[k] = 1.2 - 0.8 * (double)k / (double)(n_states - 1);
}

double ml4t_hmm_regime_weight(const double *probs, size_t n_states, const double *state_weights,
                              double cp_damping)
{
    double defw[S_MAXK];
    size_t K = n_states >= 1 && n_states <= S_MAXK ? n_states : 3;
    if (K != n_states)
        probs = NULL;
    const double *w = state_weights;
    double wmax = 0;
    for (size_t k = 0; w && k < K; k++) {
        if (!isfinite(w[k]) || w[k] < 0) {
            w = NULL;
            break;
        }
        wmax = fmax(wmax, w[k]);
    }
    if (!w || !(wmax > 0)) {
        ml4t_hmm_state_weights(K, defw);
        w = defw;
        wmax = defw[0];
    }
    double e = ML4T_HMM_UNKNOWN_WEIGHT, ps = 0, pw = 0;
    for (size_t k = 0; probs && k < K; k++) {
        if (!isfinite(probs[k]) || probs[k] < 0) {
            ps = 0;
            break;
        }
        ps += probs[k];
        pw += probs[k] * w[k];
    }
    if (ps > 0 && isfinite(ps))
        e = pw / ps;
    double x = e / wmax;
    x = x < 0 ? 0 : x > 1 ? 1 : x;
    double d = isnan(cp_damping) ? 1.0 : cp_damping < 0 ? 0.0 : cp_damping > 1 ? 1.0 : cp_damping;
    return x * d;
}

double ml4t_hmm_filter_regime_weight(const ml4t_hmm_filter_t *f, const double *state_weights,
                                     double cp_damping)
{
    size_t K = f ? f->n_states : 3;
    return ml4t_hmm_regime_weight(ml4t_hmm_filter_probs(f), K, state_weights, cp_damping);
}

ml4t_hmm_vol_level_t ml4t_hmm_vol_level(const ml4t_hmm_t *h, const double *probs,
                                        double current_vol, double k_sigma)
{
    if (!h || !probs)
        return ML4T_HMM_VOL_UNKNOWN;
    size_t K = h->K, s = 0;
    for (size_t k = 0; k < K; k++)
        if (!isfinite(probs[k]))
            return ML4T_HMM_VOL_UNKNOWN;
    for (size_t k = 1; k < K; k++)
        if (probs[k] > probs[s])
            s = k;
    if (h->dim >= 2 && probs[K - 1] > 0.9 && isfinite(current_vol) && isfinite(k_sigma)) {
        size_t i = (K - 1) * h->dim + h->vol_column;
        if (current_vol > h->means[i] + k_sigma * sqrt(h->vars[i]))
            return ML4T_HMM_VOL_EXTREME;
    }
    if (s == 0)
        return ML4T_HMM_VOL_LOW;
    return s == K - 1 ? ML4T_HMM_VOL_HIGH : ML4T_HMM_VOL_NORMAL;
}

const char *ml4t_hmm_vol_level_name(ml4t_hmm_vol_level_t level)
{
    switch (level) {
    case ML4T_HMM_VOL_LOW:
        return "LOW";
    case ML4T_HMM_VOL_NORMAL:
        return "NORMAL";
    case ML4T_HMM_VOL_HIGH:
        return "HIGH";
    case ML4T_HMM_VOL_EXTREME:
        return "EXTREME";
    default:
        return "UNKNOWN";
    }
}

/* ---- persistence ----------------------------------------------------------------------------- */

/* cJSON prints 15 significant digits whenever they come within an epsilon of the
   value; %.17g always reads back to the same double, so a model round-trips exactly. */
static cJSON *s_json_number(double v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.17g", v);
    return cJSON_CreateRaw(buf);
}

static cJSON *s_json_vector(const double *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) {
        cJSON *x = s_json_number(v[i]);
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static cJSON *s_json_matrix(const double *v, size_t rows, size_t cols)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t r = 0; a && r < rows; r++) {
        cJSON *row = s_json_vector(&v[r * cols], cols);
        if (!row || !cJSON_AddItemToArray(a, row)) {
            cJSON_Delete(row);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

char *ml4t_hmm_to_json(const ml4t_hmm_t *h, ml4t_error_t *err)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "format", "ml4t-hmm") &&
              cJSON_AddNumberToObject(o, "version", ML4T_HMM_FILE_VERSION) &&
              cJSON_AddNumberToObject(o, "n_states", (double)h->K) &&
              cJSON_AddNumberToObject(o, "dim", (double)h->dim) &&
              cJSON_AddNumberToObject(o, "vol_window", (double)h->vol_window) &&
              cJSON_AddNumberToObject(o, "vol_column", (double)h->vol_column) &&
              cJSON_AddItemToObject(o, "start_probs", s_json_vector(h->start, h->K)) &&
              cJSON_AddItemToObject(o, "transmat", s_json_matrix(h->trans, h->K, h->K)) &&
              cJSON_AddItemToObject(o, "means", s_json_matrix(h->means, h->K, h->dim)) &&
              cJSON_AddItemToObject(o, "variances", s_json_matrix(h->vars, h->K, h->dim)) &&
              cJSON_AddNumberToObject(o, "n_iter", (double)h->n_iter) &&
              cJSON_AddBoolToObject(o, "converged", h->converged) &&
              cJSON_AddNumberToObject(o, "n_obs", (double)h->n_obs);
    if (ok && isfinite(h->loglik)) /* JSON has no NaN: absent means "not fitted" */
        ok = cJSON_AddItemToObject(o, "log_likelihood", s_json_number(h->loglik));
    char *text = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!text)
        ml4t_error_set(err, ML4T_ENOMEM, "hmm", "cannot render the model as JSON");
    return text;
}

static ml4t_err_t s_get_number(const cJSON *o, const char *key, bool required, double *out,
                               ml4t_error_t *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it)
        return required ? ml4t_error_set(err, ML4T_EMISSING, key, "field '%s' is missing", key)
                        : ML4T_OK;
    if (!cJSON_IsNumber(it))
        return ml4t_error_set(err, ML4T_ETYPE, key, "field '%s' must be a number", key);
    if (!isfinite(it->valuedouble))
        return ml4t_error_set(err, ML4T_ERANGE, key, "field '%s' is not finite", key);
    *out = it->valuedouble;
    return ML4T_OK;
}

static ml4t_err_t s_get_size(const cJSON *o, const char *key, size_t lo, size_t hi, size_t *out,
                             ml4t_error_t *err)
{
    double v = 0;
    ml4t_err_t rc = s_get_number(o, key, true, &v, err);
    if (rc)
        return rc;
    if (v != floor(v) || v < (double)lo || v > (double)hi)
        return ml4t_error_set(err, ML4T_ERANGE, key, "%s=%g must be an integer in [%zu, %zu]", key,
                              v, lo, hi);
    *out = (size_t)v;
    return ML4T_OK;
}

/* rows x cols numbers into out; rows 0 means a flat array of cols. */
static ml4t_err_t s_get_array(const cJSON *o, const char *key, size_t rows, size_t cols,
                              double *out, ml4t_error_t *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!a)
        return ml4t_error_set(err, ML4T_EMISSING, key, "field '%s' is missing", key);
    size_t n_outer = rows ? rows : 1;
    if (rows && (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != rows))
        return ml4t_error_set(err, ML4T_ETYPE, key, "'%s' must be an array of %zu rows", key, rows);
    for (size_t r = 0; r < n_outer; r++) {
        const cJSON *row = rows ? cJSON_GetArrayItem(a, (int)r) : a;
        if (!cJSON_IsArray(row) || (size_t)cJSON_GetArraySize(row) != cols)
            return ml4t_error_set(err, ML4T_ETYPE, key, "'%s' row %zu must be %zu numbers", key, r,
                                  cols);
        for (size_t c = 0; c < cols; c++) {
            const cJSON *v = cJSON_GetArrayItem(row, (int)c);
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
                return ml4t_error_set(err, cJSON_IsNumber(v) ? ML4T_ERANGE : ML4T_ETYPE, key,
                                      "'%s'[%zu][%zu] must be a finite number", key, r, c);
            out[r * cols + c] = v->valuedouble;
        }
    }
    return ML4T_OK;
}

static ml4t_hmm_t *s_from_cjson(const cJSON *o, ml4t_error_t *err)
{
    double version = 0, ll = NAN, n_iter = 0, n_obs = 0;
    size_t K, D, vw, vc;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(o, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "ml4t-hmm") != 0) {
        ml4t_error_set(err, fmt ? ML4T_EFORMAT : ML4T_EMISSING, "format",
                       "field 'format' must be \"ml4t-hmm\"");
        return NULL;
    }
    if (s_get_number(o, "version", true, &version, err))
        return NULL;
    if (version != ML4T_HMM_FILE_VERSION) {
        ml4t_error_set(err, ML4T_EUNSUPPORTED, "version", "version %g is not supported (want %d)",
                       version, ML4T_HMM_FILE_VERSION);
        return NULL;
    }
    if (s_get_size(o, "n_states", 2, S_MAXK, &K, err) || s_get_size(o, "dim", 1, S_MAXD, &D, err) ||
        s_get_size(o, "vol_window", 0, ML4T_HMM_MAX_VOL_WINDOW, &vw, err) ||
        s_get_size(o, "vol_column", 0, D - 1, &vc, err))
        return NULL;
    double start[S_MAXK], trans[S_MAXK * S_MAXK], means[S_MAXK * S_MAXD], vars[S_MAXK * S_MAXD];
    if (s_get_array(o, "start_probs", 0, K, start, err) ||
        s_get_array(o, "transmat", K, K, trans, err) || s_get_array(o, "means", K, D, means, err) ||
        s_get_array(o, "variances", K, D, vars, err) ||
        s_get_number(o, "log_likelihood", false, &ll, err) ||
        s_get_number(o, "n_iter", false, &n_iter, err) ||
        s_get_number(o, "n_obs", false, &n_obs, err))
        return NULL;
    ml4t_hmm_t *h = s_model_new(K, D, start, trans, means, vars, vw, vc, err);
    if (!h)
        return NULL;
    h->loglik = ll;
    h->n_iter = n_iter >= 0 && n_iter < 1e15 ? (size_t)n_iter : 0;
    h->n_obs = n_obs >= 0 && n_obs < 1e15 ? (size_t)n_obs : 0;
    h->converged = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "converged"));
    return h;
}

ml4t_hmm_t *ml4t_hmm_from_json(const char *text, size_t len, ml4t_error_t *err)
{
    if (!text) {
        ml4t_error_set(err, ML4T_EINVAL, "text", "must not be NULL");
        return NULL;
    }
    cJSON *o = cJSON_ParseWithLength(text, len);
    if (!o || !cJSON_IsObject(o)) {
        ml4t_error_set(err, ML4T_EFORMAT, "json", "not a JSON object (corrupt or truncated)");
        cJSON_Delete(o);
        return NULL;
    }
    ml4t_hmm_t *h = s_from_cjson(o, err);
    cJSON_Delete(o);
    return h;
}

static ml4t_err_t s_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return ML4T_EIO;
        p += w;
        n -= (size_t)w;
    }
    return ML4T_OK;
}

/* fsync the directory holding path so the rename itself is durable. */
static void s_sync_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some file systems refuse fsync on directories */
        close(fd);
    }
}

ml4t_err_t ml4t_hmm_save(const ml4t_hmm_t *h, const char *path, ml4t_error_t *err)
{
    if (!h || !path || !path[0])
        return ml4t_error_set(err, ML4T_EINVAL, !h ? "h" : "path", "must not be NULL or empty");
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return ml4t_error_set(err, ML4T_ELIMIT, "path", "path is too long");
    char *text = ml4t_hmm_to_json(h, err);
    if (!text)
        return ML4T_ENOMEM;
    ml4t_err_t rc = ML4T_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = ml4t_error_set(err, ML4T_EIO, "path", "cannot create %s: %s", tmp, strerror(errno));
        goto out_free_text;
    }
    if (s_write_all(fd, text, strlen(text)) || fsync(fd) != 0) {
        rc = ml4t_error_set(err, ML4T_EIO, "path", "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        goto out_unlink;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        rc = ml4t_error_set(err, ML4T_EIO, "path", "cannot replace %s: %s", path, strerror(errno));
        goto out_unlink;
    }
    s_sync_dir(path);
    goto out_free_text;
out_unlink:
    unlink(tmp);
out_free_text:
    free(text);
    return rc;
}

ml4t_hmm_t *ml4t_hmm_load(const char *path, ml4t_error_t *err)
{
    if (!path) {
        ml4t_error_set(err, ML4T_EINVAL, "path", "must not be NULL");
        return NULL;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        ml4t_error_set(err, errno == ENOENT ? ML4T_ENOTFOUND : ML4T_EIO, "path",
                       "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(S_FILE_MAX + 1);
    ml4t_hmm_t *h = NULL;
    if (!buf) {
        ml4t_error_set(err, ML4T_ENOMEM, "path", "cannot allocate a read buffer");
        goto out_close;
    }
    size_t n = fread(buf, 1, S_FILE_MAX + 1, fp);
    if (ferror(fp))
        ml4t_error_set(err, ML4T_EIO, "path", "cannot read %s", path);
    else if (n > S_FILE_MAX)
        ml4t_error_set(err, ML4T_ELIMIT, "path", "%s is larger than %d bytes", path, S_FILE_MAX);
    else
        h = ml4t_hmm_from_json(buf, n, err);
    free(buf);
out_close:
    fclose(fp);
    return h;
}

ml4t_err_t ml4t_hmm_path_beside(const char *model_path, char *buf, size_t size, ml4t_error_t *err)
{
    if (!model_path || !buf || size == 0)
        return ml4t_error_set(err, ML4T_EINVAL, "model_path", "must not be NULL");
    const char *slash = strrchr(model_path, '/');
    int dirlen = slash ? (int)(slash - model_path + 1) : 0;
    int n = snprintf(buf, size, "%.*shmm.json", dirlen, model_path);
    if (n < 0 || (size_t)n >= size)
        return ml4t_error_set(err, ML4T_ELIMIT, "model_path",
                              "'%s' leaves no room for hmm.json in %zu bytes", model_path, size);
    return ML4T_OK;
}
