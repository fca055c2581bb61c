/*  ml4t_bocd tests: detection of volatility switches, false-alarm rate on
    stationary noise, scale invariance, the posterior's invariants, snapshot
    and reset, and agreement with a direct log-space implementation. */
#include "ml4t/bocd.h"

#include <stdint.h>

#include "analytics_data.h"
#include "testutil.h"

/* xorshift64 and Box-Muller: fixed seeds give the same noise everywhere */
typedef struct {
    uint64_t s;
    bool has_spare;
    double spare;
} t_rng_t;

static void t_rng_seed(t_rng_t *r, uint64_t seed)
{
    r->s = 0x9E3779B97F4A7C15ull * (seed + 1);
    r->has_spare = false;
}

static double t_uniform(t_rng_t *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return ((double)(r->s >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
}

static double t_gauss(t_rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double u = t_uniform(r), v = t_uniform(r), m = sqrt(-2.0 * log(u));
    r->spare = m * sin(2.0 * 3.14159265358979323846 * v);
    r->has_spare = true;
    return m * cos(2.0 * 3.14159265358979323846 * v);
}

static void t_config_validation(void)
{
    ml4t_bocd_config_t c = ml4t_bocd_config_default();
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_bocd_config_validate(&c, &err), ML4T_OK);
    CHECK_NEAR(c.hazard, 1.0 / 250.0, 0);
    CHECK_EQ_INT(c.max_run_length, 500);
    c.hazard = 1.0;
    CHECK(ml4t_bocd_new(&c, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_EINVAL);
    CHECK_STR(err.field, "hazard");
    c = ml4t_bocd_config_default();
    c.short_run = 600;
    CHECK_EQ_INT(ml4t_bocd_config_validate(&c, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "short_run");
    c = ml4t_bocd_config_default();
    c.beta0 = 0;
    CHECK_EQ_INT(ml4t_bocd_config_validate(&c, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "beta0");
    c = ml4t_bocd_config_default();
    c.standardize_span = 5;
    CHECK_EQ_INT(ml4t_bocd_config_validate(&c, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "standardize_span");
    ml4t_bocd_t *b = ml4t_bocd_new(NULL, &err);
    CHECK(b != NULL);
    ml4t_bocd_destroy(&b);
    CHECK(b == NULL);
    ml4t_bocd_destroy(&b); /* no-op on NULL */
}

/* sigma 0.01 -> 0.03 -> 0.01, switching at bars 100 and 200, 100 seeds: at
   least 95% of the switches raise an alarm within 15 bars (98% measured, see
   docs/analytics.md). The misses are paths on which the drop back to 0.01 is
   dated ambiguously by the posterior itself, not alarms lost to the logic. */
static void t_detects_volatility_switches(void)
{
    ml4t_bocd_t *b = ml4t_bocd_new(NULL, NULL);
    REQUIRE(b);
    t_rng_t rng;
    int within15 = 0;
    for (uint64_t seed = 0; seed < 100; seed++) {
        t_rng_seed(&rng, seed);
        ml4t_bocd_reset(b);
        int first[2] = {-1, -1};
        for (int i = 0; i < 300; i++) {
            double sigma = i >= 100 && i < 200 ? 0.03 : 0.01;
            CHECK_EQ_INT(ml4t_bocd_update(b, sigma * t_gauss(&rng)), ML4T_OK);
            for (int k = 0; k < 2; k++) {
                int at = 100 * (k + 1);
                if (ml4t_bocd_alarm(b) && first[k] < 0 && i >= at && i < at + 100)
                    first[k] = i - at;
            }
        }
        for (int k = 0; k < 2; k++) {
            within15 += first[k] >= 0 && first[k] <= 15;
            if (first[k] < 0 || first[k] > 15)
                printf("  seed %d: switch at %d flagged after %d bars\n", (int)seed, 100 * (k + 1),
                       first[k]);
        }
    }
    printf("  %d/200 switches flagged within 15 bars\n", within15);
    CHECK(within15 >= 190);
    ml4t_bocd_destroy(&b);
}

/* Stationary Gaussian noise: at most one alarm per 1,000 bars on each of five
   10,000-bar series. */
static void t_stationary_false_alarms(void)
{
    ml4t_bocd_t *b = ml4t_bocd_new(NULL, NULL);
    REQUIRE(b);
    t_rng_t rng;
    for (uint64_t seed = 100; seed < 105; seed++) {
        t_rng_seed(&rng, seed);
        ml4t_bocd_reset(b);
        int alarms = 0;
        for (int i = 0; i < 10000; i++) {
            ml4t_bocd_update(b, 0.01 * t_gauss(&rng));
            alarms += ml4t_bocd_alarm(b);
        }
        CHECK(alarms <= 10);
    }
    ml4t_bocd_destroy(&b);
}

/* One break raises one alarm: after an alarm none follows within the
   refractory period, whatever the data. */
static void t_alarm_is_edge_triggered(void)
{
    ml4t_bocd_t *b = ml4t_bocd_new(NULL, NULL);
    REQUIRE(b);
    t_rng_t rng;
    t_rng_seed(&rng, 7);
    long last = -1000;
    int alarms = 0;
    for (long i = 0; i < 3000; i++) {
        /* a new volatility every 60 bars: many breaks, close together */
        double sigma = 0.01 * (1.0 + 4.0 * (double)((i / 60) % 2));
        ml4t_bocd_update(b, sigma * t_gauss(&rng));
        if (ml4t_bocd_alarm(b)) {
            CHECK(i - last >= 20);
            last = i;
            alarms++;
        }
    }
    CHECK(alarms >= 40); /* 49 breaks */
    ml4t_bocd_destroy(&b);
}

/* The input's scale does not matter: x and 100 x give the same sequence. */
static void t_scale_invariant(void)
{
    ml4t_bocd_t *a = ml4t_bocd_new(NULL, NULL), *b = ml4t_bocd_new(NULL, NULL);
    REQUIRE(a && b);
    t_rng_t rng;
    t_rng_seed(&rng, 3);
    double worst = 0;
    for (int i = 0; i < 5000; i++) {
        double sigma = (i / 400) % 2 ? 0.02 : 0.005;
        double x = sigma * t_gauss(&rng) + 1e-4;
        ml4t_bocd_update(a, x);
        ml4t_bocd_update(b, 100.0 * x);
        double d = fabs(ml4t_bocd_cp_prob(a) - ml4t_bocd_cp_prob(b));
        worst = d > worst ? d : worst;
        CHECK_EQ_INT(ml4t_bocd_alarm(a), ml4t_bocd_alarm(b));
    }
    CHECK(worst <= 1e-9);
    ml4t_bocd_destroy(&a);
    ml4t_bocd_destroy(&b);
}

/* The posterior sums to 1, cp_prob is its mass below short_run, the MAP is
   its argmax; P(r = 0) is the hazard (why it is not the detector). */
static void t_posterior_invariants(void)
{
    ml4t_bocd_config_t c = ml4t_bocd_config_default();
    c.max_run_length = 50; /* the top bucket fills and absorbs */
    ml4t_bocd_t *b = ml4t_bocd_new(&c, NULL);
    REQUIRE(b);
    t_rng_t rng;
    t_rng_seed(&rng, 11);
    CHECK(!ml4t_bocd_ready(b));
    for (int i = 0; i < 400; i++) {
        ml4t_bocd_update(b, (i % 150 < 75 ? 1.0 : 4.0) * t_gauss(&rng));
        if (!ml4t_bocd_ready(b)) {
            CHECK_NEAR(ml4t_bocd_cp_prob(b), 0.0, 0);
            continue;
        }
        size_t n;
        const double *p = ml4t_bocd_posterior(b, &n);
        CHECK_EQ_INT(n, 51);
        double sum = 0, shorts = 0, best = -1;
        size_t map = 0;
        for (size_t r = 0; r < n; r++) {
            CHECK(p[r] >= 0.0 && p[r] <= 1.0);
            sum += p[r];
            shorts += r < c.short_run ? p[r] : 0;
            if (p[r] > best) {
                best = p[r];
                map = r;
            }
        }
        CHECK_NEAR(sum, 1.0, 1e-12); /* rounding over 51 terms */
        CHECK_NEAR(ml4t_bocd_cp_prob(b), shorts, 1e-12);
        CHECK_EQ_INT(ml4t_bocd_map_run_length(b), map);
        CHECK_NEAR(p[0], c.hazard, 1e-12);
    }
    CHECK_EQ_INT(ml4t_bocd_count(b), 400);
    CHECK_EQ_INT(ml4t_bocd_update(b, NAN), ML4T_ERANGE);
    CHECK_EQ_INT(ml4t_bocd_update(b, INFINITY), ML4T_ERANGE);
    CHECK_EQ_INT(ml4t_bocd_count(b), 400);
    ml4t_bocd_destroy(&b);
}

/* A direct log-space Adams-MacKay with the same standardizer and truncation,
   written from the textbook formulas (lgamma per step, no tabulation). */
#define T_REF_CAP 501 /* max_run_length + 1 at most */
typedef struct {
    double logr[T_REF_CAP], mu[T_REF_CAP], kappa[T_REF_CAP], alpha[T_REF_CAP], beta[T_REF_CAP];
    size_t n;
} t_ref_t;

static double t_lse(double a, double b)
{
    if (a == -INFINITY)
        return b;
    double m = a > b ? a : b;
    return m + log(exp(a - m) + exp(b - m));
}

static void t_ref_step(t_ref_t *s, const ml4t_bocd_config_t *c, double z)
{
    double lw[T_REF_CAP], total = -INFINITY;
    for (size_t r = 0; r < s->n; r++) {
        double nu = 2 * s->alpha[r];
        double s2 = s->beta[r] * (s->kappa[r] + 1) / (s->alpha[r] * s->kappa[r]);
        double d = z - s->mu[r];
        double lp = lgamma((nu + 1) / 2) - lgamma(nu / 2) -
                    0.5 * log(nu * 3.14159265358979323846 * s2) -
                    (nu + 1) / 2 * log(1 + d * d / (nu * s2));
        lw[r] = s->logr[r] + lp;
        total = t_lse(total, lw[r]);
    }
    size_t cap = c->max_run_length + 1, n = s->n < cap ? s->n + 1 : cap;
    static t_ref_t nx; /* 20 kB: off the stack */
    nx.n = n;
    for (size_t r = 0; r < n; r++)
        nx.logr[r] = -INFINITY;
    nx.logr[0] = total + log(c->hazard);
    nx.mu[0] = c->mu0, nx.kappa[0] = c->kappa0, nx.alpha[0] = c->alpha0, nx.beta[0] = c->beta0;
    for (size_t r = 0; r < s->n; r++) {
        size_t to = r + 1 < cap ? r + 1 : cap - 1;
        nx.logr[to] = t_lse(nx.logr[to], lw[r] + log(1 - c->hazard));
        if (r + 1 < cap) {
            double d = z - s->mu[r];
            nx.mu[to] = (s->kappa[r] * s->mu[r] + z) / (s->kappa[r] + 1);
            nx.kappa[to] = s->kappa[r] + 1;
            nx.alpha[to] = s->alpha[r] + 0.5;
            nx.beta[to] = s->beta[r] + s->kappa[r] * d * d / (2 * (s->kappa[r] + 1));
        }
    }
    for (size_t r = 0; r < n; r++)
        nx.logr[r] -= total;
    *s = nx;
}

static void t_matches_direct_implementation(void)
{
    ml4t_bocd_config_t c = ml4t_bocd_config_default();
    c.max_run_length = 40;
    c.warmup = 10;
    c.standardize_span = 30;
    c.short_run = 5;
    ml4t_bocd_t *b = ml4t_bocd_new(&c, NULL);
    REQUIRE(b);
    t_ref_t ref = {.n = 1};
    ref.logr[0] = 0, ref.mu[0] = c.mu0, ref.kappa[0] = c.kappa0, ref.alpha[0] = c.alpha0,
    ref.beta[0] = c.beta0;
    double xs[300], mean = 0, var = 0;
    t_rng_t rng;
    t_rng_seed(&rng, 5);
    for (size_t t = 0; t < 300; t++) {
        xs[t] = (t / 70 % 2 ? 0.05 : 0.01) * t_gauss(&rng) + (t > 150 ? 0.02 : 0.0);
        ml4t_bocd_update(b, xs[t]);
        /* the standardizer, as documented: running moments during warm-up, then EWMA */
        double z = (xs[t] - mean) / sqrt(var);
        double a = t + 1 <= c.warmup ? 1.0 / (double)(t + 1) : 1.0 / (double)c.standardize_span;
        double d = xs[t] - mean;
        mean += a * d;
        var = (1 - a) * (var + a * d * d);
        if (t + 1 < c.warmup)
            continue;
        if (t + 1 == c.warmup) { /* warm-up replayed with its own final estimates */
            for (size_t k = 0; k < c.warmup; k++)
                t_ref_step(&ref, &c, (xs[k] - mean) / sqrt(var));
        } else {
            t_ref_step(&ref, &c, z);
        }
        size_t n;
        const double *p = ml4t_bocd_posterior(b, &n);
        double cp = 0;
        for (size_t r = 0; r < ref.n; r++) {
            CHECK_NEAR(p[r], exp(ref.logr[r]), 1e-9);
            cp += r < c.short_run ? exp(ref.logr[r]) : 0;
        }
        CHECK_NEAR(ml4t_bocd_cp_prob(b), cp, 1e-9);
    }
    ml4t_bocd_destroy(&b);
}

/* The update's loops (vectorized, with their own exp and log on AVX2 and
   AVX-512) against the direct log-space implementation above at the default
   max_run_length 500, on the first 4,000 real 1m returns (the posterior fills
   the cap at bar 520 and the sliding arrays wrap twice). Every kernel set
   this CPU runs is checked: ML4T_BOCD_KERNELS caps the choice. */
static void t_kernels_match_direct_on_real_data(void)
{
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    REQUIRE(t_load_klines(T_DATA_FILE, &bars) == 43200);
    ml4t_bocd_config_t c = ml4t_bocd_config_default();
    REQUIRE(c.max_run_length + 1 == T_REF_CAP);
    static const char *caps[] = {"base", "avx2", NULL};
    ml4t_bocd_t *b[3];
    for (int i = 0; i < 3; i++) {
        if (caps[i])
            setenv("ML4T_BOCD_KERNELS", caps[i], 1);
        else
            unsetenv("ML4T_BOCD_KERNELS");
        b[i] = ml4t_bocd_new(&c, NULL);
        REQUIRE(b[i]);
        printf("  detector %d runs the %s kernels\n", i, ml4t_bocd_kernels(b[i]));
    }
    CHECK_STR(ml4t_bocd_kernels(b[0]), "base");
    static t_ref_t ref;
    ref.n = 1, ref.logr[0] = 0, ref.mu[0] = c.mu0, ref.kappa[0] = c.kappa0, ref.alpha[0] = c.alpha0,
    ref.beta[0] = c.beta0;
    double xs[20], mean = 0, var = 0, worst_p = 0, worst_cp = 0;
    for (size_t t = 0; t < 4000; t++) {
        double x = log(bars.close[t + 1] / bars.close[t]);
        for (int i = 0; i < 3; i++)
            CHECK_EQ_INT(ml4t_bocd_update(b[i], x), ML4T_OK);
        /* the documented standardizer, as in t_matches_direct_implementation */
        double z = (x - mean) / sqrt(var);
        double a = t + 1 <= c.warmup ? 1.0 / (double)(t + 1) : 1.0 / (double)c.standardize_span;
        double d = x - mean;
        mean += a * d;
        var = (1 - a) * (var + a * d * d);
        if (t < c.warmup)
            xs[t] = x;
        if (t + 1 < c.warmup)
            continue;
        if (t + 1 == c.warmup) {
            for (size_t k = 0; k < c.warmup; k++)
                t_ref_step(&ref, &c, (xs[k] - mean) / sqrt(var));
        } else {
            t_ref_step(&ref, &c, z);
        }
        double cp = 0;
        for (size_t r = 0; r < c.short_run && r < ref.n; r++)
            cp += exp(ref.logr[r]);
        for (int i = 0; i < 3; i++) {
            size_t n;
            const double *p = ml4t_bocd_posterior(b[i], &n);
            for (size_t r = 0; r < n; r++) {
                double e = fabs(p[r] - (r < ref.n ? exp(ref.logr[r]) : 0.0));
                worst_p = e > worst_p ? e : worst_p;
            }
            double e = fabs(ml4t_bocd_cp_prob(b[i]) - cp);
            worst_cp = e > worst_cp ? e : worst_cp;
        }
    }
    printf("  largest difference: posterior %.2g, cp_prob %.2g\n", worst_p, worst_cp);
    CHECK(worst_p <= 1e-9); /* as t_matches_direct_implementation */
    CHECK(worst_cp <= 1e-9);
    unsetenv("ML4T_BOCD_KERNELS");
    for (int i = 0; i < 3; i++)
        ml4t_bocd_destroy(&b[i]);
    ml4t_bars_destroy(&bars);
}

static void t_copy_and_reset(void)
{
    ml4t_bocd_t *a = ml4t_bocd_new(NULL, NULL), *b = ml4t_bocd_new(NULL, NULL);
    ml4t_bocd_config_t small = ml4t_bocd_config_default();
    small.max_run_length = 100;
    ml4t_bocd_t *c = ml4t_bocd_new(&small, NULL);
    REQUIRE(a && b && c);
    t_rng_t rng;
    t_rng_seed(&rng, 9);
    for (int i = 0; i < 700; i++)
        ml4t_bocd_update(a, 0.01 * t_gauss(&rng));
    CHECK_EQ_INT(ml4t_bocd_copy(b, a), ML4T_OK);
    CHECK_EQ_INT(ml4t_bocd_copy(c, a), ML4T_EMISMATCH);
    /* the snapshot evolves exactly like the original */
    for (int i = 0; i < 300; i++) {
        double x = (i < 150 ? 0.01 : 0.05) * t_gauss(&rng);
        ml4t_bocd_update(a, x);
        ml4t_bocd_update(b, x);
        CHECK(ml4t_bocd_cp_prob(a) == ml4t_bocd_cp_prob(b));
        CHECK_EQ_INT(ml4t_bocd_map_run_length(a), ml4t_bocd_map_run_length(b));
        CHECK_EQ_INT(ml4t_bocd_alarm(a), ml4t_bocd_alarm(b));
    }
    /* reset gives the same sequence as a fresh detector */
    ml4t_bocd_reset(a);
    ml4t_bocd_t *fresh = ml4t_bocd_new(NULL, NULL);
    REQUIRE(fresh);
    CHECK_EQ_INT(ml4t_bocd_count(a), 0);
    for (int i = 0; i < 200; i++) {
        double x = 0.01 * t_gauss(&rng);
        ml4t_bocd_update(a, x);
        ml4t_bocd_update(fresh, x);
        CHECK(ml4t_bocd_cp_prob(a) == ml4t_bocd_cp_prob(fresh));
    }
    ml4t_bocd_destroy(&a);
    ml4t_bocd_destroy(&b);
    ml4t_bocd_destroy(&c);
    ml4t_bocd_destroy(&fresh);
}

/* Flat input (zero variance) and extreme jumps stay finite and bounded. */
static void t_degenerate_inputs(void)
{
    ml4t_bocd_t *b = ml4t_bocd_new(NULL, NULL);
    REQUIRE(b);
    for (int i = 0; i < 100; i++)
        CHECK_EQ_INT(ml4t_bocd_update(b, 0.0), ML4T_OK);
    CHECK(ml4t_bocd_cp_prob(b) >= 0.0 && ml4t_bocd_cp_prob(b) <= 1.0);
    CHECK_EQ_INT(ml4t_bocd_update(b, 1e100), ML4T_OK);
    CHECK_EQ_INT(ml4t_bocd_update(b, -1e100), ML4T_OK);
    CHECK_EQ_INT(ml4t_bocd_update(b, 1e200), ML4T_ERANGE);
    for (int i = 0; i < 100; i++)
        CHECK_EQ_INT(ml4t_bocd_update(b, 1e-300 * i), ML4T_OK);
    double cp = ml4t_bocd_cp_prob(b);
    CHECK(isfinite(cp) && cp >= 0.0 && cp <= 1.0);
    ml4t_bocd_destroy(&b);
}

/* Real 1m log returns of a month: the detector stays quiet most of the time
   (fat tails make it fire more often than on Gaussian noise, but a changepoint
   per bar would make the feature useless). */
static void t_real_month_log_returns(void)
{
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    REQUIRE(t_load_klines(T_DATA_FILE, &bars) == 43200);
    ml4t_bocd_t *b = ml4t_bocd_new(NULL, NULL);
    REQUIRE(b);
    size_t alarms = 0;
    double mean_cp = 0;
    for (size_t i = 1; i < bars.n; i++) {
        CHECK_EQ_INT(ml4t_bocd_update(b, log(bars.close[i] / bars.close[i - 1])), ML4T_OK);
        alarms += ml4t_bocd_alarm(b);
        mean_cp += ml4t_bocd_cp_prob(b);
    }
    mean_cp /= (double)(bars.n - 1);
    printf("  real month: %zu alarms in %zu bars, mean cp_prob %.4f\n", alarms, bars.n - 1,
           mean_cp);
    CHECK(alarms > 0);
    CHECK(alarms < bars.n / 50);
    CHECK(mean_cp < 0.3);
    ml4t_bocd_destroy(&b);
    ml4t_bars_destroy(&bars);
}

static const t_case_t cases[] = {
    T_CASE(t_config_validation),
    T_CASE(t_detects_volatility_switches),
    T_CASE(t_stationary_false_alarms),
    T_CASE(t_alarm_is_edge_triggered),
    T_CASE(t_scale_invariant),
    T_CASE(t_posterior_invariants),
    T_CASE(t_matches_direct_implementation),
    T_CASE(t_kernels_match_direct_on_real_data),
    T_CASE(t_copy_and_reset),
    T_CASE(t_degenerate_inputs),
    T_CASE(t_real_month_log_returns),
};

T_MAIN(cases)
