/*  ml4t_bocd: Bayesian online changepoint detection with a Normal-Gamma model.

    Per run length r the model keeps the posterior mean mu[r] and rate beta[r];
    kappa_r = kappa0 + r and alpha_r = alpha0 + r/2 depend on r only, so every
    term of the Student-t predictive that depends on them is tabulated at new().
    The log predictive of z under run r is
        lconst[r] + alpha_r * log(beta[r]) - (alpha_r + 1/2) * log(beta'[r])
    where beta'[r] = beta[r] + kappa_r (z - mu[r])^2 / (2 (kappa_r + 1)) is also
    the updated rate of the grown run: one log and one exp per run length. The
    posterior stays in linear space, the predictives rescaled by their maximum
    (no underflow), and masses under S_FLUSH are set to zero (no denormals). */
#include "ml4t/bocd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Masses below this are dropped to 0: far below any probability that could
   matter, far above the denormal range that makes arithmetic slow. */
#define S_FLUSH 1e-250
/* Standardized inputs are clamped to this magnitude: beyond it every run's
   predictive is negligible anyway and squares stay finite. */
#define S_Z_MAX 1e4
/* Inputs beyond this magnitude are refused so running variances stay finite. */
#define S_X_MAX 1e150

#define S_PI 3.14159265358979323846

struct ml4t_bocd {
    ml4t_bocd_config_t cfg;
    size_t cap;       /* max_run_length + 1 */
    size_t active;    /* run lengths in use, 1..cap */
    double *block;    /* one allocation for every array below */
    double *post;     /* run-length posterior, sums to 1 */
    double *mu;       /* posterior mean per run length */
    double *beta;     /* posterior rate per run length */
    double *logbeta;  /* log(beta), carried to save a log per update */
    double *lp;       /* scratch: log predictive per run length */
    double *lconst;   /* tabulated: lgamma terms and the kappa-only normalizer */
    double *alpha;    /* tabulated: alpha_r */
    double *kfac;     /* tabulated: kappa_r / (2 (kappa_r + 1)) */
    double *inv_k1;   /* tabulated: 1 / (kappa_r + 1) */
    double *warm;     /* the warm-up observations, replayed once it ends */
    size_t count;     /* observations seen */
    double mean, var; /* standardizer */
    double cp, prev_cp;
    size_t map;
    bool alarm;
    bool armed; /* a crossing not yet reported */
    size_t since_alarm;
};

#define S_ARRAYS 9 /* doubles per run length in the block */

ml4t_bocd_config_t ml4t_bocd_config_default(void)
{
    ml4t_bocd_config_t cfg = {
        .hazard = 1.0 / 250.0,
        .max_run_length = 500,
        .mu0 = 0.0,
        .kappa0 = 100.0,
        .alpha0 = 1.0,
        .beta0 = 1.0,
        .short_run = 25,
        .alarm_threshold = 0.65,
        .refractory_bars = 20,
        .warmup = 20,
        .standardize_span = 1000,
    };
    return cfg;
}

static bool s_positive(double v)
{
    return isfinite(v) && v > 0.0;
}

ml4t_err_t ml4t_bocd_config_validate(const ml4t_bocd_config_t *c, ml4t_error_t *err)
{
    if (!c)
        return ml4t_error_set(err, ML4T_EINVAL, "config", "bocd config is NULL");
    if (!(c->hazard > 0.0 && c->hazard < 1.0))
        return ml4t_error_set(err, ML4T_EINVAL, "hazard", "hazard=%g: must be in (0, 1)",
                              c->hazard);
    if (c->max_run_length < 2 || c->max_run_length > 100000)
        return ml4t_error_set(err, ML4T_EINVAL, "max_run_length",
                              "max_run_length=%zu: must be in [2, 100000]", c->max_run_length);
    if (!isfinite(c->mu0))
        return ml4t_error_set(err, ML4T_EINVAL, "mu0", "mu0=%g: must be finite", c->mu0);
    if (!s_positive(c->kappa0))
        return ml4t_error_set(err, ML4T_EINVAL, "kappa0", "kappa0=%g: must be > 0", c->kappa0);
    if (!s_positive(c->alpha0))
        return ml4t_error_set(err, ML4T_EINVAL, "alpha0", "alpha0=%g: must be > 0", c->alpha0);
    if (!s_positive(c->beta0))
        return ml4t_error_set(err, ML4T_EINVAL, "beta0", "beta0=%g: must be > 0", c->beta0);
    if (c->short_run < 1 || c->short_run > c->max_run_length)
        return ml4t_error_set(err, ML4T_EINVAL, "short_run",
                              "short_run=%zu: must be in [1, max_run_length=%zu]", c->short_run,
                              c->max_run_length);
    if (!(c->alarm_threshold > 0.0 && c->alarm_threshold < 1.0))
        return ml4t_error_set(err, ML4T_EINVAL, "alarm_threshold",
                              "alarm_threshold=%g: must be in (0, 1)", c->alarm_threshold);
    if (c->warmup < 2 || c->warmup > c->max_run_length)
        return ml4t_error_set(err, ML4T_EINVAL, "warmup",
                              "warmup=%zu: must be in [2, max_run_length=%zu]", c->warmup,
                              c->max_run_length);
    if (c->standardize_span < c->warmup)
        return ml4t_error_set(err, ML4T_EINVAL, "standardize_span",
                              "standardize_span=%zu: must be >= warmup=%zu", c->standardize_span,
                              c->warmup);
    return ML4T_OK;
}

static void s_tabulate(ml4t_bocd_t *self)
{
    const ml4t_bocd_config_t *c = &self->cfg;
    for (size_t r = 0; r < self->cap; r++) {
        double kappa = c->kappa0 + (double)r, alpha = c->alpha0 + 0.5 * (double)r;
        self->alpha[r] = alpha;
        self->kfac[r] = kappa / (2.0 * (kappa + 1.0));
        self->inv_k1[r] = 1.0 / (kappa + 1.0);
        self->lconst[r] =
            lgamma(alpha + 0.5) - lgamma(alpha) - 0.5 * log(2.0 * S_PI * (kappa + 1.0) / kappa);
    }
}

/* Points every array into the block. */
static void s_layout(ml4t_bocd_t *self)
{
    double **arrays[S_ARRAYS + 1] = {&self->post,   &self->mu,     &self->beta,  &self->logbeta,
                                     &self->lp,     &self->lconst, &self->alpha, &self->kfac,
                                     &self->inv_k1, &self->warm};
    for (size_t i = 0; i < S_ARRAYS + 1; i++)
        *arrays[i] = self->block + i * self->cap;
}

ml4t_bocd_t *ml4t_bocd_new(const ml4t_bocd_config_t *cfg, ml4t_error_t *err)
{
    ml4t_bocd_config_t def = ml4t_bocd_config_default();
    if (!cfg)
        cfg = &def;
    if (ml4t_bocd_config_validate(cfg, err))
        return NULL;
    ml4t_bocd_t *self = calloc(1, sizeof *self);
    if (!self)
        goto out_nomem;
    self->cfg = *cfg;
    self->cap = cfg->max_run_length + 1;
    self->block = malloc((S_ARRAYS * self->cap + cfg->warmup) * sizeof(double));
    if (!self->block)
        goto out_free_self;
    s_layout(self);
    s_tabulate(self);
    ml4t_bocd_reset(self);
    return self;

out_free_self:
    free(self);
out_nomem:
    ml4t_error_set(err, ML4T_ENOMEM, "max_run_length", "no memory for max_run_length=%zu",
                   cfg->max_run_length);
    return NULL;
}

void ml4t_bocd_destroy(ml4t_bocd_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->block);
    free(*self_p);
    *self_p = NULL;
}

static void s_posterior_reset(ml4t_bocd_t *self)
{
    memset(self->post, 0, self->cap * sizeof *self->post);
    self->active = 1;
    self->post[0] = 1.0;
    self->mu[0] = self->cfg.mu0;
    self->beta[0] = self->cfg.beta0;
    self->logbeta[0] = log(self->cfg.beta0);
}

void ml4t_bocd_reset(ml4t_bocd_t *self)
{
    s_posterior_reset(self);
    self->count = 0;
    self->mean = 0.0;
    self->var = 0.0;
    self->cp = 0.0;
    self->prev_cp = 0.0;
    self->map = 0;
    self->alarm = false;
    self->armed = false;
    self->since_alarm = self->cfg.refractory_bars;
}

/* Log predictives of z under every active run, and the grown runs' statistics
   shifted up by one (top bucket: the grown r = max-1 replaces it). */
static double s_predict_and_grow(ml4t_bocd_t *self, double z)
{
    size_t n = self->active, top = n < self->cap ? n : self->cap - 1;
    double best = -INFINITY;
    if (top < n) { /* full: the top bucket's own predictive, its statistics are replaced */
        size_t r = top;
        double d = z - self->mu[r], bn = self->beta[r] + self->kfac[r] * d * d;
        self->lp[r] =
            self->lconst[r] + self->alpha[r] * self->logbeta[r] - (self->alpha[r] + 0.5) * log(bn);
        if (self->post[r] > 0.0)
            best = self->lp[r];
    }
    for (size_t r = top; r-- > 0;) {
        double d = z - self->mu[r], bn = self->beta[r] + self->kfac[r] * d * d, lbn = log(bn);
        self->lp[r] =
            self->lconst[r] + self->alpha[r] * self->logbeta[r] - (self->alpha[r] + 0.5) * lbn;
        if (self->post[r] > 0.0 && self->lp[r] > best)
            best = self->lp[r];
        self->mu[r + 1] = self->mu[r] + d * self->inv_k1[r];
        self->beta[r + 1] = bn;
        self->logbeta[r + 1] = lbn;
    }
    self->mu[0] = self->cfg.mu0;
    self->beta[0] = self->cfg.beta0;
    self->logbeta[0] = log(self->cfg.beta0);
    return best;
}

/* One Adams-MacKay step on a standardized value. */
static void s_step(ml4t_bocd_t *self, double z)
{
    double h = self->cfg.hazard, best = s_predict_and_grow(self, z);
    size_t n = self->active, top = n < self->cap ? n : self->cap - 1;
    double total = 0.0, carry = 0.0;
    if (top < n) {
        carry = self->post[top] * exp(self->lp[top] - best);
        total = carry;
    }
    for (size_t r = top; r-- > 0;) {
        double w = self->post[r] * exp(self->lp[r] - best);
        total += w;
        self->post[r + 1] = (1.0 - h) * (w + carry);
        carry = 0.0;
    }
    self->post[0] = h * total;
    self->active = top + 1;
    /* total >= the mass of the best run (> S_FLUSH) times exp(0) = 1 */
    double inv = 1.0 / total, cp = 0.0, pmax = -1.0;
    size_t map = 0, k = self->cfg.short_run;
    for (size_t r = 0; r < self->active; r++) {
        double p = self->post[r] * inv;
        p = p < S_FLUSH ? 0.0 : p;
        self->post[r] = p;
        if (r < k)
            cp += p;
        if (p > pmax) {
            pmax = p;
            map = r;
        }
    }
    self->cp = cp < 1.0 ? cp : 1.0;
    self->map = map;
}

static double s_standardize(const ml4t_bocd_t *self, double x)
{
    double sd = sqrt(self->var), d = x - self->mean;
    if (!(sd > 0.0))
        return d == 0.0 ? 0.0 : copysign(S_Z_MAX, d);
    double z = d / sd;
    return z > S_Z_MAX ? S_Z_MAX : z < -S_Z_MAX ? -S_Z_MAX : z;
}

static void s_standardizer_add(ml4t_bocd_t *self, double x)
{
    self->count++;
    double a = self->count <= self->cfg.warmup ? 1.0 / (double)self->count
                                               : 1.0 / (double)self->cfg.standardize_span;
    double d = x - self->mean;
    self->mean += a * d;
    self->var = (1.0 - a) * (self->var + a * d * d);
}

/* End of warm-up: the buffered observations, standardized by the warm-up's
   own estimates, give the posterior a history so the first live update does
   not see every run as new (which would read as a changepoint). */
static void s_replay_warmup(ml4t_bocd_t *self)
{
    for (size_t i = 0; i < self->cfg.warmup; i++)
        s_step(self, s_standardize(self, self->warm[i]));
    self->prev_cp = self->cp;
}

ml4t_err_t ml4t_bocd_update(ml4t_bocd_t *self, double x)
{
    if (!isfinite(x) || fabs(x) > S_X_MAX)
        return ML4T_ERANGE;
    self->alarm = false;
    if (self->count < self->cfg.warmup) {
        self->warm[self->count] = x;
        s_standardizer_add(self, x);
        if (self->count == self->cfg.warmup)
            s_replay_warmup(self);
        return ML4T_OK;
    }
    double z = s_standardize(self, x);
    s_standardizer_add(self, x);
    s_step(self, z);
    if (self->since_alarm < self->cfg.refractory_bars)
        self->since_alarm++;
    /* A rising crossing arms the alarm; it fires once the refractory period is
       over if the mass is still above the threshold, so a break that starts
       just after a false alarm is still reported. Exact threshold comparisons. */
    double thr = self->cfg.alarm_threshold;
    if (self->cp < thr)
        self->armed = false;
    else if (self->prev_cp < thr)
        self->armed = true;
    if (self->armed && self->since_alarm >= self->cfg.refractory_bars) {
        self->alarm = true;
        self->armed = false;
        self->since_alarm = 0;
    }
    self->prev_cp = self->cp;
    return ML4T_OK;
}

double ml4t_bocd_cp_prob(const ml4t_bocd_t *self)
{
    return self->cp;
}

size_t ml4t_bocd_map_run_length(const ml4t_bocd_t *self)
{
    return self->map;
}

bool ml4t_bocd_alarm(const ml4t_bocd_t *self)
{
    return self->alarm;
}

bool ml4t_bocd_ready(const ml4t_bocd_t *self)
{
    return self->count >= self->cfg.warmup;
}

size_t ml4t_bocd_count(const ml4t_bocd_t *self)
{
    return self->count;
}

const double *ml4t_bocd_posterior(const ml4t_bocd_t *self, size_t *n_out)
{
    if (n_out)
        *n_out = self->cap;
    return self->post;
}

const ml4t_bocd_config_t *ml4t_bocd_config(const ml4t_bocd_t *self)
{
    return &self->cfg;
}

ml4t_err_t ml4t_bocd_copy(ml4t_bocd_t *dst, const ml4t_bocd_t *src)
{
    if (dst == src)
        return ML4T_OK;
    if (dst->cap != src->cap || dst->cfg.warmup != src->cfg.warmup)
        return ML4T_EMISMATCH;
    double *block = dst->block;
    memcpy(block, src->block, (S_ARRAYS * src->cap + src->cfg.warmup) * sizeof(double));
    *dst = *src;
    dst->block = block;
    s_layout(dst);
    return ML4T_OK;
}
