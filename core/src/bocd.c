/*  ml4t_bocd: Bayesian online changepoint detection with a Normal-Gamma model.

    Per run length r the model keeps the posterior mean mu[r] and rate beta[r];
    kappa_r = kappa0 + r and alpha_r = alpha0 + r/2 depend on r only, so every
    term of the Student-t predictive that depends on them is tabulated at new().
    The log predictive of z under run r is
        lconst[r] + alpha_r * log(beta[r]) - (alpha_r + 1/2) * log(beta'[r])
    where beta'[r] = beta[r] + kappa_r (z - mu[r])^2 / (2 (kappa_r + 1)) is also
    the updated rate of the grown run: one log and one exp per run length. The
    posterior stays in linear space, the predictives rescaled by their maximum
    (no underflow), and masses under S_FLUSH are set to zero (no denormals).

    Speed. The per-run state (post, mu, beta, logbeta) lives in sliding arrays:
    run length r sits at index base + r, and an update moves base down by one,
    so a run that grows from r to r + 1 keeps its slot and every loop is an
    element-wise pass over contiguous memory with no shift. When base reaches
    0 the window is moved back to the top (once per S_SLIDE * cap updates).
    The three passes (predict and grow, weigh, normalize) are `omp simd`
    loops compiled three times: for AVX-512 and for AVX2 + FMA with inline,
    branch-free exp and log (within 1 ulp of glibc's), and a base set with
    libm's scalar calls for other CPUs; s_kernels_pick chooses at new(). No
    run length is pruned: on the real month a mean of 404 of the 501 run
    lengths hold more than 1e-12 of the mass, so pruning would save about a
    fifth of the work for an approximation. */
#include "ml4t/bocd.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The kernels' helpers must be inlined into the target-specific kernels,
   which GCC only does across a different target when told to. */
#define S_INLINE static inline __attribute__((always_inline))

/* Masses below this are dropped to 0: far below any probability that could
   matter, far above the denormal range that makes arithmetic slow. */
#define S_FLUSH 1e-250
/* Standardized inputs are clamped to this magnitude: beyond it every run's
   predictive is negligible anyway and squares stay finite. */
#define S_Z_MAX 1e4
/* Inputs beyond this magnitude are refused so running variances stay finite. */
#define S_X_MAX 1e150
/* Sliding arrays hold (1 + S_SLIDE) * cap slots: the window is moved once per
   S_SLIDE * cap updates (a 16 kB memmove at the default cap, rarer than one
   update in a thousand so it stays out of the p99.9). */
#define S_SLIDE 3

#define S_PI 3.14159265358979323846
/* exp's argument is clamped to [S_EXP_MIN, 0]: exp(-708) is about 3e-308,
   still normal, and any mass it scales is below S_FLUSH of the total. */
#define S_EXP_MIN (-708.0)

/* One kernel set per instruction set, picked once by s_kernels_pick. */
typedef struct {
    const char *name;
    double (*predict_and_grow)(ml4t_bocd_t *self, double z, size_t n);
    double (*weigh)(ml4t_bocd_t *self, double best, size_t n);
    void (*normalize)(ml4t_bocd_t *self, double total, size_t m);
} s_kernels_t;

static const s_kernels_t *s_kernels_pick(void);

struct ml4t_bocd {
    ml4t_bocd_config_t cfg;
    size_t cap;    /* max_run_length + 1 */
    size_t active; /* run lengths in use, 1..cap */
    size_t base;   /* slot of run length 0 in the sliding arrays, 0..S_SLIDE * cap */
    double *block; /* one allocation for every array below */
    /* sliding arrays, (1 + S_SLIDE) * cap slots, run length r at [base + r] */
    double *post;    /* run-length posterior, sums to 1 */
    double *mu;      /* posterior mean per run length */
    double *beta;    /* posterior rate per run length */
    double *logbeta; /* log(beta), carried to save a log per update */
    /* cap slots, indexed by run length */
    double *lp;     /* scratch: log predictive per run length */
    double *lconst; /* tabulated: lgamma terms and the kappa-only normalizer */
    double *alpha;  /* tabulated: alpha_r */
    double *kfac;   /* tabulated: kappa_r / (2 (kappa_r + 1)) */
    double *inv_k1; /* tabulated: 1 / (kappa_r + 1) */
    double *warm;   /* warmup slots: the warm-up observations, replayed once it ends */
    double logbeta0;
    const s_kernels_t *kernels; /* the update's loops for this CPU */
    size_t count;               /* observations seen */
    double mean, var;           /* standardizer */
    double cp, prev_cp;
    size_t map;
    bool alarm;
    bool armed; /* a crossing not yet reported */
    size_t since_alarm;
};

#define S_SLIDING 4 /* sliding arrays, first in the block */
#define S_FIXED   5 /* arrays of cap slots after them */

/* Doubles in the block. */
static size_t s_block_len(size_t cap, size_t warmup)
{
    return S_SLIDING * (1 + S_SLIDE) * cap + S_FIXED * cap + warmup;
}

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
    double **sliding[S_SLIDING] = {&self->post, &self->mu, &self->beta, &self->logbeta};
    double **fixed[S_FIXED + 1] = {&self->lp,   &self->lconst, &self->alpha,
                                   &self->kfac, &self->inv_k1, &self->warm};
    double *at = self->block;
    for (size_t i = 0; i < S_SLIDING; i++, at += (1 + S_SLIDE) * self->cap)
        *sliding[i] = at;
    for (size_t i = 0; i < S_FIXED + 1; i++, at += self->cap)
        *fixed[i] = at;
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
    self->block = malloc(s_block_len(self->cap, cfg->warmup) * sizeof(double));
    if (!self->block)
        goto out_free_self;
    s_layout(self);
    s_tabulate(self);
    self->logbeta0 = log(cfg->beta0);
    self->kernels = s_kernels_pick();
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
    /* slots past the active run lengths stay 0 as the window slides down over
       them, so the posterior can be read as cap values at any time */
    self->base = S_SLIDE * self->cap;
    memset(self->post + self->base, 0, self->cap * sizeof *self->post);
    self->active = 1;
    self->post[self->base] = 1.0;
    self->mu[self->base] = self->cfg.mu0;
    self->beta[self->base] = self->cfg.beta0;
    self->logbeta[self->base] = self->logbeta0;
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

/* The window back to the top of the sliding arrays. Slots past the active
   run lengths are moved too: post's are 0 and must stay so. */
static void s_rebase(ml4t_bocd_t *self)
{
    double *sliding[S_SLIDING] = {self->post, self->mu, self->beta, self->logbeta};
    size_t to = S_SLIDE * self->cap;
    for (size_t i = 0; i < S_SLIDING; i++)
        memmove(sliding[i] + to, sliding[i] + self->base, self->cap * sizeof(double));
    self->base = to;
}

S_INLINE double s_bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

S_INLINE uint64_t s_double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* An integer that orders like x (for non-NaN x): max reductions over it
   vectorize with both gcc and clang, which FP max reductions do not without
   -ffast-math. Non-negative x keeps its bits; a negative x has the lower 63
   bits flipped so that larger magnitudes sort lower. */
S_INLINE int64_t s_order_key(double x)
{
    uint64_t u = s_double_bits(x), neg = 0 - (u >> 63);
    return (int64_t)(u ^ (neg >> 1));
}

S_INLINE double s_order_key_double(int64_t k)
{
    uint64_t u = (uint64_t)k, neg = 0 - (u >> 63);
    return s_bits_double(u ^ (neg >> 1));
}

/* exp(x) for x in [S_EXP_MIN, 0], within 1 ulp of glibc's (tested): inline
   and branch-free so the loops vectorize without a vector math library. The
   shift rounds x / ln 2 to k and leaves k in the low bits; r = x - k ln 2 with
   ln 2 split in two (the high part has 32 bits, so k * high is exact);
   |r| <= ln 2 / 2, where the degree-13 Taylor polynomial errs by < 5e-18. */
S_INLINE double s_exp(double x)
{
    const double shift = 0x1.8p52;
    double kd = x * 1.4426950408889634 + shift;
    uint64_t k = s_double_bits(kd) - s_double_bits(shift);
    kd -= shift;
    double r = (x - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
    /* Estrin's scheme: a short dependency chain, the loop is not latency-bound */
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double a0 = 1.0 / 2.0 + r * (1.0 / 6.0), a1 = 1.0 / 24.0 + r * (1.0 / 120.0);
    double a2 = 1.0 / 720.0 + r * (1.0 / 5040.0), a3 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
    double a4 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
    double a5 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
    double q = (a0 + r2 * a1) + r4 * (a2 + r2 * a3) + r8 * (a4 + r2 * a5);
    double p = r + r2 * q;
    return s_bits_double((k + 1023) << 52) * (1.0 + p); /* 2^k, k >= -1022 */
}

/* log(x) for finite x > 0, within 1 ulp of glibc's (tested): fdlibm's
   e_log.c without branches. x = 2^k m with m in [sqrt(2)/2, sqrt(2)),
   f = m - 1, s = f / (2 + f), log(1 + f) = 2 atanh(s) by fdlibm's minimax
   polynomial in s^2 (error < 2^-58.45); subnormal x is scaled by 2^54 first. */
S_INLINE double s_log(double x)
{
    bool tiny = x < 0x1p-1022;
    x = tiny ? x * 0x1p54 : x;
    uint64_t u = s_double_bits(x) + ((uint64_t)(0x3ff00000 - 0x3fe6a09e) << 32);
    /* the exponent field, < 2048, as a double without an int64 conversion */
    double kd = s_bits_double(0x4330000000000000ull | (u >> 52)) - (0x1p52 + 1023.0);
    kd = tiny ? kd - 54.0 : kd;
    double f = s_bits_double((u & 0x000fffffffffffffull) + (0x3fe6a09eull << 32)) - 1.0;
    double hfsq = 0.5 * f * f, s = f / (2.0 + f), z = s * s, w = z * z;
    double t1 = w * (3.999999999940941908e-01 +
                     w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
    double t2 = z * (6.666666666666735130e-01 +
                     w * (2.857142874366239149e-01 +
                          w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    return s * (hfsq + t2 + t1) + kd * 1.90821492927058770002e-10 - hfsq + f +
           kd * 6.93147180369123816490e-01;
}

/* Log predictives of z under the n active runs into lp, each run's statistics
   grown by z in place; returns the largest log predictive of a run with mass.
   inline_math: s_log instead of libm's log (vectorizes). */
S_INLINE double s_predict_and_grow(ml4t_bocd_t *self, double z, size_t n, bool inline_math)
{
    size_t b = self->base;
    const double *restrict post = self->post + b, *restrict lconst = self->lconst,
                           *restrict alpha = self->alpha, *restrict kfac = self->kfac,
                           *restrict inv_k1 = self->inv_k1;
    double *restrict mu = self->mu + b, *restrict beta = self->beta + b,
                     *restrict logbeta = self->logbeta + b, *restrict lp = self->lp;
    int64_t best = INT64_MIN;
#pragma omp simd reduction(max : best)
    for (size_t r = 0; r < n; r++) {
        double d = z - mu[r], bn = beta[r] + kfac[r] * d * d;
        double lbn = inline_math ? s_log(bn) : log(bn);
        double l = lconst[r] + alpha[r] * logbeta[r] - (alpha[r] + 0.5) * lbn;
        int64_t cand = post[r] > 0.0 ? s_order_key(l) : INT64_MIN;
        best = cand > best ? cand : best;
        lp[r] = l;
        mu[r] += d * inv_k1[r];
        beta[r] = bn;
        logbeta[r] = lbn;
    }
    return s_order_key_double(best); /* some run has mass: not INT64_MIN */
}

/* post[r] <- (1 - h) post[r] exp(lp[r] - best) for the n active runs; returns
   the sum of post[r] exp(lp[r] - best), the evidence up to exp(best). */
S_INLINE double s_weigh(ml4t_bocd_t *self, double best, size_t n, bool inline_math)
{
    double *restrict post = self->post + self->base;
    const double *restrict lp = self->lp;
    double keep = 1.0 - self->cfg.hazard, total = 0.0;
#pragma omp simd reduction(+ : total)
    for (size_t r = 0; r < n; r++) {
        /* <= 0 for every run with mass; the upper clamp keeps a massless run
           whose predictive beats best from overflowing into inf * 0 */
        double e = lp[r] - best;
        e = e < 0.0 ? e : 0.0;
        e = e > S_EXP_MIN ? e : S_EXP_MIN;
        double w = post[r] * (inline_math ? s_exp(e) : exp(e));
        total += w;
        post[r] = keep * w;
    }
    return total;
}

/* Divides the m active masses by total, flushes the tiny ones; sets cp and
   the MAP run length. */
S_INLINE void s_normalize(ml4t_bocd_t *self, double total, size_t m)
{
    double *restrict post = self->post + self->base;
    /* total >= the mass of the best run (> S_FLUSH) times exp(0) = 1 */
    double inv = 1.0 / total;
    int64_t kmax = 0; /* s_order_key of the largest mass */
#pragma omp simd reduction(max : kmax)
    for (size_t r = 0; r < m; r++) {
        double p = post[r] * inv;
        p = p < S_FLUSH ? 0.0 : p;
        post[r] = p;
        int64_t key = s_order_key(p);
        kmax = key > kmax ? key : kmax;
    }
    double pmax = s_order_key_double(kmax);
    size_t k = self->cfg.short_run < m ? self->cfg.short_run : m;
    double cp = 0.0;
    for (size_t r = 0; r < k; r++)
        cp += post[r];
    /* the first argmax (exact comparison), as a branch-free min reduction */
    size_t map = m - 1;
#pragma omp simd reduction(min : map)
    for (size_t r = 0; r < m; r++) {
        size_t at = post[r] == pmax ? r : m - 1;
        map = at < map ? at : map;
    }
    self->cp = cp < 1.0 ? cp : 1.0;
    self->map = map;
}

#define S_KERNELS(isa, attr, inline_math)                                                          \
    attr static double s_predict_and_grow_##isa(ml4t_bocd_t *self, double z, size_t n)             \
    {                                                                                              \
        return s_predict_and_grow(self, z, n, inline_math);                                        \
    }                                                                                              \
    attr static double s_weigh_##isa(ml4t_bocd_t *self, double best, size_t n)                     \
    {                                                                                              \
        return s_weigh(self, best, n, inline_math);                                                \
    }                                                                                              \
    attr static void s_normalize_##isa(ml4t_bocd_t *self, double total, size_t m)                  \
    {                                                                                              \
        s_normalize(self, total, m);                                                               \
    }                                                                                              \
    static const s_kernels_t s_kernels_##isa = {                                                   \
        .name = #isa,                                                                              \
        .predict_and_grow = s_predict_and_grow_##isa,                                              \
        .weigh = s_weigh_##isa,                                                                    \
        .normalize = s_normalize_##isa,                                                            \
    };

/* Scalar libm log and exp: the inline ones would vectorize on SSE2 too, but
   without 64-bit integer compares and FMA they are slower than libm there. */
S_KERNELS(base, , false)
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define S_X86_KERNELS
S_KERNELS(avx2, __attribute__((target("avx2,fma"))), true)
S_KERNELS(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))), true)
#endif

/* The widest set this CPU runs; ML4T_BOCD_KERNELS=base or avx2 caps the
   choice, so the tests can run every set on one machine. */
static const s_kernels_t *s_kernels_pick(void)
{
    const char *cap = getenv("ML4T_BOCD_KERNELS");
    bool base_only = cap && strcmp(cap, "base") == 0;
    bool no_avx512 = base_only || (cap && strcmp(cap, "avx2") == 0);
#ifdef S_X86_KERNELS
    __builtin_cpu_init();
    if (!no_avx512 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
        return &s_kernels_avx512;
    if (!base_only && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return &s_kernels_avx2;
#else
    (void)no_avx512;
#endif
    return &s_kernels_base;
}

/* One Adams-MacKay step on a standardized value. Run r of the last step
   becomes run r + 1 by moving base down one slot; at the cap the top run's
   mass joins the run below it, which becomes the new top (its statistics are
   those of the last max_run_length observations). */
static void s_step(ml4t_bocd_t *self, double z)
{
    if (self->base == 0)
        s_rebase(self);
    size_t n = self->active;
    double best = self->kernels->predict_and_grow(self, z, n);
    double total = self->kernels->weigh(self, best, n);
    if (n == self->cap)
        self->post[self->base + n - 2] += self->post[self->base + n - 1];
    size_t b = --self->base;
    self->post[b] = self->cfg.hazard * total;
    self->mu[b] = self->cfg.mu0;
    self->beta[b] = self->cfg.beta0;
    self->logbeta[b] = self->logbeta0;
    self->active = n < self->cap ? n + 1 : n;
    self->kernels->normalize(self, total, self->active);
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
    return self->post + self->base;
}

const char *ml4t_bocd_kernels(const ml4t_bocd_t *self)
{
    return self->kernels->name;
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
    memcpy(block, src->block, s_block_len(src->cap, src->cfg.warmup) * sizeof(double));
    *dst = *src;
    dst->block = block;
    s_layout(dst);
    return ML4T_OK;
}
