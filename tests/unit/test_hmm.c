/*  ml4t_hmm tests: parameter recovery on a known 3-state HMM, forward filter
    against the batch pass and brute-force enumeration, Viterbi, degenerate data,
    persistence and corrupt files, the regime weight, and the bundled real month. */
#include "ml4t/csv.h"
#include "ml4t/hmm.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* ---- deterministic randomness, independent of the library's generator ---- */

static uint64_t s_sm_state;

static uint64_t s_next(void)
{
    uint64_t z = (s_sm_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double s_unif(void) /* (0, 1) */
{
    return ((double)(s_next() >> 11) + 0.5) * 0x1.0p-53;
}

static double s_gauss(void) /* Box-Muller */
{
    return sqrt(-2.0 * log(s_unif())) * cos(2.0 * M_PI * s_unif());
}

/* ---- a known 3-state model, deliberately NOT in volatility order ---------- */

/* given order: medium, high, low; sorted order is low (2), medium (0), high (1) */
static const double TRUE_MEANS[3][2] = {{0.10, 2.0}, {-0.30, 4.0}, {0.05, 1.0}};
static const double TRUE_SD[3][2] = {{2.0, 0.30}, {4.0, 0.60}, {1.0, 0.15}};
static const double TRUE_TRANS[3][3] = {{0.97, 0.02, 0.01}, {0.04, 0.95, 0.01}, {0.02, 0.01, 0.97}};
static const int SORTED_OF[3] = {1, 2, 0}; /* given state -> its volatility rank */

/* Draw T rows from the true model; states_out gets the volatility rank of each. */
static void s_draw(uint64_t seed, size_t T, double *obs, int *states_out)
{
    s_sm_state = seed;
    int s = 0;
    for (size_t t = 0; t < T; t++) {
        if (t > 0) {
            double u = s_unif(), acc = 0;
            int next = 2;
            for (int j = 0; j < 3; j++) {
                acc += TRUE_TRANS[s][j];
                if (u < acc) {
                    next = j;
                    break;
                }
            }
            s = next;
        }
        for (int d = 0; d < 2; d++)
            obs[t * 2 + d] = TRUE_MEANS[s][d] + TRUE_SD[s][d] * s_gauss();
        states_out[t] = SORTED_OF[s];
    }
}

static ml4t_hmm_t *s_true_model(void)
{
    double start[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3}, vars[6];
    for (int i = 0; i < 6; i++)
        vars[i] = TRUE_SD[i / 2][i % 2] * TRUE_SD[i / 2][i % 2];
    return ml4t_hmm_new(3, 2, start, &TRUE_TRANS[0][0], &TRUE_MEANS[0][0], vars, 0, NULL);
}

/* ---- the bundled real month ------------------------------------------------- */

static double *s_load_closes(size_t *n)
{
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    double *c = NULL;
    *n = 0;
    if (ml4t_csv_load(T_DATA_FILE, &bars, NULL, NULL) == ML4T_OK &&
        (c = malloc(bars.n * sizeof *c)) != NULL) {
        memcpy(c, bars.close, bars.n * sizeof *c);
        *n = bars.n;
    }
    ml4t_bars_destroy(&bars);
    return c;
}

static double s_pop_std(const double *x, size_t n, size_t stride)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++)
        m += x[i * stride];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        s += (x[i * stride] - m) * (x[i * stride] - m);
    return sqrt(s / (double)n);
}

/* ---- cases ------------------------------------------------------------------- */

static void t_config_defaults_and_validate(void)
{
    ml4t_hmm_config_t cfg;
    ml4t_hmm_config_default(&cfg);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_hmm_config_validate(&cfg, &err), ML4T_OK);
    CHECK_EQ_INT(cfg.n_states, 3);
    CHECK_EQ_INT(cfg.n_init, 5);
    CHECK_EQ_INT(cfg.max_iter, 200);
    CHECK_NEAR(cfg.tol, 1e-6, 0);
    CHECK_EQ_INT(cfg.vol_window, 20);
    cfg.n_states = 9;
    CHECK_EQ_INT(ml4t_hmm_config_validate(&cfg, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "cfg.n_states");
    ml4t_hmm_config_default(&cfg);
    cfg.tol = NAN;
    CHECK_EQ_INT(ml4t_hmm_config_validate(&cfg, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "cfg.tol");
    ml4t_hmm_config_default(&cfg);
    cfg.var_floor = 0;
    CHECK_EQ_INT(ml4t_hmm_config_validate(&cfg, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "cfg.var_floor");
    ml4t_hmm_config_default(&cfg);
    cfg.vol_window = 1;
    CHECK_EQ_INT(ml4t_hmm_config_validate(&cfg, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "cfg.vol_window");
}

static void t_observations_known_answer(void)
{
    const double close[] = {100, 101, 99, 102, 100, 100};
    double out[16], r[6];
    size_t rows = 99;
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_hmm_observations(close, 6, 2, out, &rows, &err), ML4T_OK);
    CHECK_EQ_INT(rows, 4);
    CHECK_EQ_INT(ml4t_hmm_observations_rows(6, 2), 4);
    for (int t = 1; t < 6; t++)
        r[t] = log(close[t] / close[t - 1]);
    for (size_t j = 0; j < rows; j++) {
        size_t t = j + 2; /* row j belongs to close[vol_window + j] */
        double a = r[t - 1], b = r[t], m = (a + b) / 2;
        double sd = sqrt(((a - m) * (a - m) + (b - m) * (b - m)) / 2);
        CHECK_NEAR(out[j * 2], r[t], 1e-15);
        CHECK_NEAR(out[j * 2 + 1], sd, 1e-15); /* rounding of running sums: 1e-15 absolute */
    }
    CHECK_EQ_INT(ml4t_hmm_observations(close, 2, 2, out, &rows, &err), ML4T_ENODATA);
    CHECK_STR(err.field, "n");
    CHECK_EQ_INT(ml4t_hmm_observations(close, 6, 1, out, &rows, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "vol_window");
    const double bad[] = {100, 101, -1, 102};
    CHECK_EQ_INT(ml4t_hmm_observations(bad, 4, 2, out, &rows, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "close");
    CHECK(strstr(err.msg, "close[2]") != NULL);
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    for (int i = 0; i < 6; i++)
        ml4t_bars_push(&bars, (uint64_t)(i + 1) * 60000000000ull, close[i], close[i], close[i],
                       close[i], 1.0, 0.5);
    double out2[16];
    CHECK_EQ_INT(ml4t_hmm_observations_bars(&bars, 2, out2, &rows, &err), ML4T_OK);
    CHECK(memcmp(out, out2, 8 * sizeof(double)) == 0);
    ml4t_bars_destroy(&bars);
}

/* The running sums must not drift over a long series: compare with a direct
   two-pass standard deviation on every row of the real month. */
static void t_observations_no_drift_real(void)
{
    size_t n = 0;
    double *c = s_load_closes(&n);
    REQUIRE(c && n > 40000);
    size_t W = 20, rows;
    double *obs = malloc(ml4t_hmm_observations_rows(n, W) * 2 * sizeof *obs);
    double *r = malloc(n * sizeof *r);
    REQUIRE(obs && r);
    CHECK_EQ_INT(ml4t_hmm_observations(c, n, W, obs, &rows, NULL), ML4T_OK);
    CHECK_EQ_INT(rows, n - W);
    for (size_t t = 1; t < n; t++)
        r[t] = log(c[t] / c[t - 1]);
    double worst = 0;
    for (size_t j = 0; j < rows; j++) {
        double sd = s_pop_std(&r[j + 1], W, 1);
        worst = fmax(worst, fabs(obs[j * 2 + 1] - sd));
        CHECK(obs[j * 2] == r[j + W]);
    }
    /* 1-minute volatilities are ~1e-3; 1e-12 absolute is ~1e-9 relative */
    CHECK(worst < 1e-12);
    free(r);
    free(obs);
    free(c);
}

static void t_recover_synthetic_parameters(void)
{
    const size_t T = 20000;
    double *obs = malloc(T * 2 * sizeof *obs);
    int *truth = malloc(T * sizeof *truth), *vit = malloc(T * sizeof *vit);
    REQUIRE(obs && truth && vit);
    s_draw(20240611, T, obs, truth);
    ml4t_error_t err;
    ml4t_hmm_t *h = ml4t_hmm_fit(obs, T, 2, NULL, &err);
    REQUIRE(h);
    CHECK_EQ_INT(ml4t_hmm_n_states(h), 3);
    CHECK(ml4t_hmm_converged(h));
    const double *mu = ml4t_hmm_means(h), *var = ml4t_hmm_variances(h), *A = ml4t_hmm_transmat(h);
    for (int g = 0; g < 3; g++) { /* g: given state; k: where the fit must put it */
        int k = SORTED_OF[g];
        for (int d = 0; d < 2; d++) {
            /* means within 0.1 sd (about 5-7 standard errors at these counts) */
            CHECK_NEAR(mu[k * 2 + d], TRUE_MEANS[g][d], 0.1 * TRUE_SD[g][d]);
            /* variances within 10 % (about 5 standard errors) */
            double v = TRUE_SD[g][d] * TRUE_SD[g][d];
            CHECK_NEAR(var[k * 2 + d] / v, 1.0, 0.10);
        }
        for (int j = 0; j < 3; j++) /* transition probabilities within 0.015 absolute */
            CHECK_NEAR(A[k * 3 + SORTED_OF[j]], TRUE_TRANS[g][j], 0.015);
    }
    CHECK_EQ_INT(ml4t_hmm_viterbi(h, obs, T, vit, NULL, &err), ML4T_OK);
    size_t hit = 0;
    for (size_t t = 0; t < T; t++)
        hit += vit[t] == truth[t];
    printf("  state accuracy %.4f, loglik %.3f, n_iter %zu\n", (double)hit / (double)T,
           ml4t_hmm_log_likelihood(h), ml4t_hmm_n_iter(h));
    CHECK((double)hit / (double)T >= 0.90);
    /* a maximum-likelihood fit explains its sample at least as well as the truth
       (1 nat of slack over 20,000 rows for the different start distributions) */
    ml4t_hmm_t *truth_model = s_true_model();
    REQUIRE(truth_model);
    double *probs = malloc(T * 3 * sizeof *probs), ll_true, ll_fit;
    REQUIRE(probs);
    CHECK_EQ_INT(ml4t_hmm_forward_batch(truth_model, obs, T, probs, &ll_true, NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_hmm_forward_batch(h, obs, T, probs, &ll_fit, NULL), ML4T_OK);
    CHECK(ll_fit >= ll_true - 1.0);
    CHECK_NEAR(ll_fit, ml4t_hmm_log_likelihood(h), 1e-9 * fabs(ll_fit));
    free(probs);
    ml4t_hmm_destroy(&truth_model);
    ml4t_hmm_destroy(&h);
    CHECK(h == NULL);
    ml4t_hmm_destroy(&h); /* twice is a no-op */
    free(obs);
    free(truth);
    free(vit);
}

static void t_fit_is_deterministic_and_inits_agree(void)
{
    const size_t T = 5000;
    double *obs = malloc(T * 2 * sizeof *obs);
    int *truth = malloc(T * sizeof *truth);
    REQUIRE(obs && truth);
    s_draw(7, T, obs, truth);
    ml4t_hmm_config_t cfg;
    ml4t_hmm_config_default(&cfg);
    ml4t_hmm_t *a = ml4t_hmm_fit(obs, T, 2, &cfg, NULL), *b = ml4t_hmm_fit(obs, T, 2, &cfg, NULL);
    cfg.init = ML4T_HMM_INIT_QUANTILE;
    ml4t_hmm_t *q = ml4t_hmm_fit(obs, T, 2, &cfg, NULL);
    cfg.init = ML4T_HMM_INIT_KMEANSPP;
    cfg.seed = 99;
    ml4t_hmm_t *k = ml4t_hmm_fit(obs, T, 2, &cfg, NULL);
    REQUIRE(a && b && q && k);
    CHECK(memcmp(ml4t_hmm_means(a), ml4t_hmm_means(b), 6 * sizeof(double)) == 0);
    CHECK(memcmp(ml4t_hmm_transmat(a), ml4t_hmm_transmat(b), 9 * sizeof(double)) == 0);
    /* well-separated states: quantile and k-means++ starts reach the same optimum
       (k-means++ clusters scale features; on raw returns it split the volatile state) */
    for (int i = 0; i < 6; i++) {
        CHECK_NEAR(ml4t_hmm_means(q)[i], ml4t_hmm_means(a)[i], 1e-3);
        CHECK_NEAR(ml4t_hmm_means(k)[i], ml4t_hmm_means(a)[i], 1e-3);
    }
    printf("  loglik mixed %.3f quantile %.3f k-means++ %.3f\n", ml4t_hmm_log_likelihood(a),
           ml4t_hmm_log_likelihood(q), ml4t_hmm_log_likelihood(k));
    /* the default keeps the best of its runs, one of which is the quantile start */
    CHECK(ml4t_hmm_log_likelihood(a) >= ml4t_hmm_log_likelihood(q) - 1e-9);
    ml4t_hmm_destroy(&a);
    ml4t_hmm_destroy(&b);
    ml4t_hmm_destroy(&q);
    ml4t_hmm_destroy(&k);
    free(obs);
    free(truth);
}

static void t_filter_matches_batch(void)
{
    const size_t T = 3000;
    double *obs = malloc(T * 2 * sizeof *obs), *probs = malloc(T * 3 * sizeof *probs);
    int *truth = malloc(T * sizeof *truth);
    REQUIRE(obs && probs && truth);
    s_draw(11, T, obs, truth);
    ml4t_hmm_t *h = ml4t_hmm_fit(obs, T, 2, NULL, NULL);
    REQUIRE(h);
    CHECK_EQ_INT(ml4t_hmm_forward_batch(h, obs, T, probs, NULL, NULL), ML4T_OK);
    ml4t_hmm_filter_t f;
    REQUIRE(ml4t_hmm_filter_init(&f, h, NULL) == ML4T_OK);
    CHECK(ml4t_hmm_filter_probs(&f) == NULL);
    CHECK_EQ_INT(ml4t_hmm_filter_state(&f), -1);
    double worst = 0, worst_sum = 0;
    for (size_t t = 0; t < T; t++) {
        CHECK_EQ_INT(ml4t_hmm_filter_update(&f, h, &obs[t * 2]), ML4T_OK);
        const double *p = ml4t_hmm_filter_probs(&f);
        double s = 0;
        for (int k = 0; k < 3; k++) {
            worst = fmax(worst, fabs(p[k] - probs[t * 3 + k]));
            s += p[k];
        }
        worst_sum = fmax(worst_sum, fabs(s - 1));
    }
    CHECK(worst <= 1e-9);
    CHECK(worst_sum <= 1e-12);
    CHECK_EQ_INT(f.n_updates, T);
    ml4t_hmm_filter_destroy(&f);
    ml4t_hmm_destroy(&h);
    free(obs);
    free(probs);
    free(truth);
}

/* Filtered probabilities, likelihood and the Viterbi path against enumeration of
   every state path of a short sequence. */
static void t_forward_and_viterbi_brute_force(void)
{
    double start[2] = {0.6, 0.4}, A[4] = {0.8, 0.2, 0.3, 0.7}, mu[2] = {0.0, 1.0},
           var[2] = {0.5, 2.0};
    ml4t_hmm_t *h = ml4t_hmm_new(2, 1, start, A, mu, var, 0, NULL);
    REQUIRE(h);
    const double x[7] = {0.1, -0.4, 2.5, 1.8, 0.2, 3.1, -0.2};
    enum { T = 7 };
    double probs[T * 2], ll;
    int path[T];
    CHECK_EQ_INT(ml4t_hmm_forward_batch(h, x, T, probs, &ll, NULL), ML4T_OK);
    double vlp;
    CHECK_EQ_INT(ml4t_hmm_viterbi(h, x, T, path, &vlp, NULL), ML4T_OK);
    for (int t = 0; t < T; t++) {
        double mass[2] = {0, 0}, best = -INFINITY;
        int best_code = 0;
        for (int code = 0; code < (1 << (t + 1)); code++) {
            double lp = 0;
            for (int s = 0; s <= t; s++) {
                int k = (code >> s) & 1, prev = s ? (code >> (s - 1)) & 1 : 0;
                lp += s ? log(A[prev * 2 + k]) : log(start[k]);
                double z = x[s] - mu[k];
                lp += -0.5 * log(2 * M_PI * var[k]) - 0.5 * z * z / var[k];
            }
            mass[(code >> t) & 1] += exp(lp);
            if (lp > best) {
                best = lp;
                best_code = code;
            }
        }
        double tot = mass[0] + mass[1];
        CHECK_NEAR(probs[t * 2], mass[0] / tot, 1e-12);
        CHECK_NEAR(probs[t * 2 + 1], mass[1] / tot, 1e-12);
        if (t == T - 1) {
            CHECK_NEAR(ll, log(tot), 1e-10);
            CHECK_NEAR(vlp, best, 1e-10);
            for (int s = 0; s < T; s++)
                CHECK_EQ_INT(path[s], (best_code >> s) & 1);
        }
    }
    ml4t_hmm_destroy(&h);
}

static ml4t_hmm_t *s_real_model(const double *c, size_t n)
{
    ml4t_error_t err;
    ml4t_hmm_t *h = ml4t_hmm_fit_closes(c, n, NULL, &err);
    if (!h)
        fprintf(stderr, "  fit failed: %s: %s\n", err.field, err.msg);
    return h;
}

/* On the real month: the high state's realized volatility exceeds the low
   state's, and feeding closes one at a time reproduces the batch pass. */
static void t_real_data_states_and_online(void)
{
    size_t n = 0;
    double *c = s_load_closes(&n);
    REQUIRE(c && n > 40000);
    ml4t_hmm_t *h = s_real_model(c, n);
    REQUIRE(h);
    size_t K = ml4t_hmm_n_states(h), rows = ml4t_hmm_observations_rows(n, 20);
    double *obs = malloc(rows * 2 * sizeof *obs), *probs = malloc(rows * K * sizeof *probs);
    int *st = malloc(rows * sizeof *st);
    REQUIRE(obs && probs && st);
    CHECK_EQ_INT(ml4t_hmm_observations(c, n, 20, obs, &rows, NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_hmm_viterbi(h, obs, rows, st, NULL, NULL), ML4T_OK);
    double ss[8] = {0}, cnt[8] = {0};
    for (size_t t = 0; t < rows; t++) {
        ss[st[t]] += obs[t * 2] * obs[t * 2];
        cnt[st[t]] += 1;
    }
    for (size_t k = 0; k < K; k++)
        printf("  state %zu %-6s bars %6.0f realized vol %.6f mean vol %.6f\n", k,
               ml4t_hmm_state_label(h, k), cnt[k], sqrt(ss[k] / fmax(cnt[k], 1)),
               ml4t_hmm_means(h)[k * 2 + 1]);
    REQUIRE(cnt[0] > 0 && cnt[K - 1] > 0);
    CHECK(sqrt(ss[K - 1] / cnt[K - 1]) > sqrt(ss[0] / cnt[0]));
    for (size_t k = 1; k < K; k++)
        CHECK(ml4t_hmm_means(h)[k * 2 + 1] > ml4t_hmm_means(h)[(k - 1) * 2 + 1]);
    /* online from closes vs the batch forward pass */
    CHECK_EQ_INT(ml4t_hmm_forward_batch(h, obs, rows, probs, NULL, NULL), ML4T_OK);
    ml4t_hmm_filter_t f;
    REQUIRE(ml4t_hmm_filter_init(&f, h, NULL) == ML4T_OK);
    double worst = 0;
    size_t j = 0;
    for (size_t t = 0; t < n; t++) {
        CHECK_EQ_INT(ml4t_hmm_filter_push_close(&f, h, c[t]), ML4T_OK);
        CHECK(f.started == (t >= 20));
        if (!f.started)
            continue;
        CHECK(f.last_vol == obs[j * 2 + 1]);
        for (size_t k = 0; k < K; k++)
            worst = fmax(worst, fabs(f.probs[k] - probs[j * K + k]));
        j++;
    }
    CHECK_EQ_INT(j, rows);
    CHECK(worst <= 1e-9);
    double w = ml4t_hmm_filter_regime_weight(&f, NULL, 1.0);
    CHECK(w >= 1.0 / 3 - 1e-12 && w <= 1.0 + 1e-12);
    ml4t_hmm_filter_destroy(&f);
    ml4t_hmm_destroy(&h);
    free(obs);
    free(probs);
    free(st);
    free(c);
}

static void t_constant_prices_clear_error(void)
{
    double c[500];
    for (int i = 0; i < 500; i++)
        c[i] = 10.0;
    double obs[1000];
    size_t rows;
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_hmm_observations(c, 500, 20, obs, &rows, &err), ML4T_OK);
    for (size_t i = 0; i < rows * 2; i++)
        CHECK(obs[i] == 0.0); /* no NaN from a zero variance */
    CHECK(ml4t_hmm_fit(obs, rows, 2, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_ENODATA);
    CHECK_STR(err.field, "obs");
    CHECK(strstr(err.msg, "constant") != NULL);
    CHECK(ml4t_hmm_fit_closes(c, 500, NULL, &err) == NULL);
    CHECK_STR(err.field, "obs");
    /* a fitted model filtering constant prices stays finite */
    ml4t_hmm_t *h = s_true_model();
    REQUIRE(h);
    double start[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3}, mu[6], var[6];
    for (int i = 0; i < 6; i++) {
        mu[i] = (i % 2 ? 1e-3 : 0.0) * (1 + i / 2);
        var[i] = 1e-6 * (1 + i / 2) * (1 + i / 2);
    }
    ml4t_hmm_t *g = ml4t_hmm_new(3, 2, start, ml4t_hmm_transmat(h), mu, var, 20, &err);
    REQUIRE(g);
    ml4t_hmm_filter_t f;
    REQUIRE(ml4t_hmm_filter_init(&f, g, NULL) == ML4T_OK);
    for (int i = 0; i < 500; i++)
        CHECK_EQ_INT(ml4t_hmm_filter_push_close(&f, g, c[i]), ML4T_OK);
    for (int k = 0; k < 3; k++)
        CHECK(isfinite(f.probs[k]));
    CHECK_EQ_INT(ml4t_hmm_filter_state(&f), 0); /* zero volatility is the calmest state */
    ml4t_hmm_filter_destroy(&f);
    ml4t_hmm_destroy(&g);
    ml4t_hmm_destroy(&h);
}

static void t_too_few_bars_names_argument(void)
{
    double obs[2 * 149], c[100];
    s_sm_state = 3;
    for (int i = 0; i < 298; i++)
        obs[i] = s_gauss();
    for (int i = 0; i < 100; i++)
        c[i] = 10.0 + s_unif();
    ml4t_error_t err;
    CHECK(ml4t_hmm_fit(obs, 149, 2, NULL, &err) == NULL); /* needs 50 * K = 150 */
    CHECK_EQ_INT(err.code, ML4T_ENODATA);
    CHECK_STR(err.field, "rows");
    CHECK(ml4t_hmm_fit_closes(c, 100, NULL, &err) == NULL);
    CHECK_STR(err.field, "rows");
    CHECK(ml4t_hmm_fit_closes(c, 15, NULL, &err) == NULL);
    CHECK_STR(err.field, "n");
    CHECK(ml4t_hmm_fit(obs, 149, 0, NULL, &err) == NULL);
    CHECK_STR(err.field, "dim");
}

static void t_degenerate_observations(void)
{
    enum { T = 600 };
    static double obs[T * 2];
    ml4t_error_t err;
    for (int t = 0; t < T; t++) { /* two distinct rows only */
        obs[t * 2] = t % 2 ? 1.0 : -1.0;
        obs[t * 2 + 1] = t % 2 ? 2.0 : 1.0;
    }
    CHECK(ml4t_hmm_fit(obs, T, 2, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_ENODATA);
    CHECK_STR(err.field, "obs");
    CHECK(strstr(err.msg, "distinct") != NULL);
    obs[77 * 2 + 1] = NAN;
    CHECK(ml4t_hmm_fit(obs, T, 2, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_EINVAL);
    CHECK(strstr(err.msg, "obs[77][1]") != NULL);
    /* two tight clusters asked for three states: a fit with finite parameters */
    s_sm_state = 5;
    for (int t = 0; t < T; t++) {
        double c = (t / 50) % 2 ? 5.0 : 0.0;
        obs[t * 2] = c + 0.1 * s_gauss();
        obs[t * 2 + 1] = c + 0.1 * s_gauss();
    }
    ml4t_hmm_t *h = ml4t_hmm_fit(obs, T, 2, NULL, &err);
    REQUIRE(h);
    for (int i = 0; i < 6; i++)
        CHECK(isfinite(ml4t_hmm_means(h)[i]) && ml4t_hmm_variances(h)[i] > 0);
    for (int i = 0; i < 3; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++)
            s += ml4t_hmm_transmat(h)[i * 3 + j];
        CHECK_NEAR(s, 1.0, 1e-12);
    }
    CHECK(isfinite(ml4t_hmm_log_likelihood(h)));
    ml4t_hmm_destroy(&h);
}

static void t_persistence_round_trip(void)
{
    const size_t T = 2000;
    double *obs = malloc(T * 2 * sizeof *obs), *p1 = malloc(T * 3 * sizeof *p1),
           *p2 = malloc(T * 3 * sizeof *p2);
    int *truth = malloc(T * sizeof *truth);
    REQUIRE(obs && p1 && p2 && truth);
    s_draw(13, T, obs, truth);
    ml4t_hmm_t *h = ml4t_hmm_fit(obs, T, 2, NULL, NULL);
    REQUIRE(h);
    char dir[] = "/tmp/ml4t_hmm_XXXXXX";
    REQUIRE(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/hmm.json", dir);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_hmm_save(h, path, &err), ML4T_OK);
    CHECK_EQ_INT(ml4t_hmm_save(h, path, &err), ML4T_OK); /* replaces */
    ml4t_hmm_t *g = ml4t_hmm_load(path, &err);
    REQUIRE(g);
    CHECK(memcmp(ml4t_hmm_means(g), ml4t_hmm_means(h), 6 * sizeof(double)) == 0);
    CHECK(memcmp(ml4t_hmm_variances(g), ml4t_hmm_variances(h), 6 * sizeof(double)) == 0);
    CHECK(memcmp(ml4t_hmm_start_probs(g), ml4t_hmm_start_probs(h), 3 * sizeof(double)) == 0);
    for (int i = 0; i < 9; i++) /* rows are renormalized on load: 1 ulp */
        CHECK_NEAR(ml4t_hmm_transmat(g)[i], ml4t_hmm_transmat(h)[i], 1e-15);
    CHECK(ml4t_hmm_log_likelihood(g) == ml4t_hmm_log_likelihood(h));
    CHECK_EQ_INT(ml4t_hmm_n_iter(g), ml4t_hmm_n_iter(h));
    CHECK_EQ_INT(ml4t_hmm_n_obs(g), T);
    CHECK_EQ_INT(ml4t_hmm_vol_window(g), 20);
    CHECK(ml4t_hmm_converged(g) == ml4t_hmm_converged(h));
    CHECK_EQ_INT(ml4t_hmm_forward_batch(h, obs, T, p1, NULL, NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_hmm_forward_batch(g, obs, T, p2, NULL, NULL), ML4T_OK);
    double worst = 0;
    for (size_t i = 0; i < T * 3; i++)
        worst = fmax(worst, fabs(p1[i] - p2[i]));
    CHECK(worst <= 1e-12);
    /* only hmm.json is left: no temporary files */
    char probe[300];
    snprintf(probe, sizeof probe, "ls %s | wc -l | grep -qx 1", dir);
    CHECK(system(probe) == 0);
    CHECK_EQ_INT(ml4t_hmm_save(h, "/nonexistent-dir/x/hmm.json", &err), ML4T_EIO);
    CHECK_STR(err.field, "path");
    unlink(path);
    rmdir(dir);
    ml4t_hmm_destroy(&g);
    ml4t_hmm_destroy(&h);
    free(obs);
    free(p1);
    free(p2);
    free(truth);
}

/* Edit one field of a valid document and expect an error naming it. */
static void s_expect_bad(const char *good, const char *key, cJSON *value, ml4t_err_t code,
                         const char *field)
{
    cJSON *o = cJSON_Parse(good);
    if (value) {
        if (!cJSON_ReplaceItemInObjectCaseSensitive(o, key, value))
            cJSON_AddItemToObject(o, key, value);
    } else
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    char *text = cJSON_PrintUnformatted(o);
    ml4t_error_t err;
    ml4t_hmm_t *h = ml4t_hmm_from_json(text, strlen(text), &err);
    if (h || err.code != code || strcmp(err.field, field) != 0)
        fprintf(stderr, "  editing '%s': got code %d field '%s' (%s)\n", key, (int)err.code,
                err.field, err.msg);
    CHECK(h == NULL);
    CHECK_EQ_INT(err.code, code);
    CHECK_STR(err.field, field);
    ml4t_hmm_destroy(&h);
    free(text);
    cJSON_Delete(o);
}

static void t_persistence_corrupt_files(void)
{
    ml4t_hmm_t *h = s_true_model();
    REQUIRE(h);
    char *good = ml4t_hmm_to_json(h, NULL);
    REQUIRE(good);
    ml4t_error_t err;
    ml4t_hmm_t *ok = ml4t_hmm_from_json(good, strlen(good), &err);
    CHECK(ok != NULL);
    ml4t_hmm_destroy(&ok);
    for (size_t cut = 0; cut < strlen(good); cut += 7) { /* every truncation is an error */
        ml4t_hmm_t *t = ml4t_hmm_from_json(good, cut, &err);
        CHECK(t == NULL);
        ml4t_hmm_destroy(&t);
    }
    CHECK(ml4t_hmm_from_json("\x01\xff garbage", 10, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_EFORMAT);
    s_expect_bad(good, "transmat", NULL, ML4T_EMISSING, "transmat");
    s_expect_bad(good, "variances", cJSON_Parse("[[1,1],[1,null],[1,1]]"), ML4T_ETYPE, "variances");
    s_expect_bad(good, "means", cJSON_CreateRaw("[[1,1],[1,1e999],[1,1]]"), ML4T_ERANGE, "means");
    s_expect_bad(good, "variances", cJSON_Parse("[[1,1],[1,-2],[1,1]]"), ML4T_ERANGE, "variances");
    s_expect_bad(good, "variances", cJSON_Parse("[[1,1],[1,1]]"), ML4T_ETYPE, "variances");
    s_expect_bad(good, "transmat", cJSON_Parse("[[0.9,0.05,0.04],[0,1,0],[0,0,1]]"), ML4T_ERANGE,
                 "transmat");
    s_expect_bad(good, "start_probs", cJSON_Parse("[0.5,0.5,0.5]"), ML4T_ERANGE, "start_probs");
    s_expect_bad(good, "n_states", cJSON_CreateNumber(99), ML4T_ERANGE, "n_states");
    s_expect_bad(good, "n_states", cJSON_CreateString("3"), ML4T_ETYPE, "n_states");
    s_expect_bad(good, "dim", cJSON_CreateNumber(1.5), ML4T_ERANGE, "dim");
    s_expect_bad(good, "version", cJSON_CreateNumber(2), ML4T_EUNSUPPORTED, "version");
    s_expect_bad(good, "format", cJSON_CreateString("xgboost"), ML4T_EFORMAT, "format");
    s_expect_bad(good, "log_likelihood", cJSON_CreateNull(), ML4T_ETYPE, "log_likelihood");
    /* files: missing, empty, truncated */
    CHECK(ml4t_hmm_load("/nonexistent/hmm.json", &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_ENOTFOUND);
    CHECK_STR(err.field, "path");
    char path[] = "/tmp/ml4t_hmm_bad_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    CHECK(ml4t_hmm_load(path, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_EFORMAT);
    CHECK(write(fd, good, strlen(good) / 2) > 0);
    close(fd);
    CHECK(ml4t_hmm_load(path, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_EFORMAT);
    unlink(path);
    free(good);
    ml4t_hmm_destroy(&h);
}

static void t_regime_weight(void)
{
    double w3[3];
    ml4t_hmm_state_weights(3, w3);
    CHECK_NEAR(w3[0], 1.2, 1e-15);
    CHECK_NEAR(w3[1], 0.8, 1e-15);
    CHECK_NEAR(w3[2], 0.4, 1e-15);
    const double low[3] = {1, 0, 0}, mid[3] = {0, 1, 0}, high[3] = {0, 0, 1};
    const double mix[3] = {0.5, 0.25, 0.25}; /* (0.6 + 0.2 + 0.1) / 1.2 = 0.75 */
    CHECK_NEAR(ml4t_hmm_regime_weight(low, 3, NULL, 1.0), 1.0, 1e-15);
    CHECK_NEAR(ml4t_hmm_regime_weight(mid, 3, NULL, 1.0), 0.8 / 1.2, 1e-15);
    CHECK_NEAR(ml4t_hmm_regime_weight(high, 3, NULL, 1.0), 0.4 / 1.2, 1e-15);
    CHECK_NEAR(ml4t_hmm_regime_weight(mix, 3, NULL, 1.0), 0.75, 1e-15);
    CHECK_NEAR(ml4t_hmm_regime_weight(mix, 3, NULL, 0.5), 0.375, 1e-15);
    CHECK_NEAR(ml4t_hmm_regime_weight(NULL, 3, NULL, 1.0), 0.8 / 1.2, 1e-15); /* unknown */
    CHECK_NEAR(ml4t_hmm_regime_weight(NULL, 0, NULL, 0.25), 0.8 / 1.2 * 0.25, 1e-15);
    const double nanp[3] = {NAN, 0.5, 0.5};
    CHECK_NEAR(ml4t_hmm_regime_weight(nanp, 3, NULL, 1.0), 0.8 / 1.2, 1e-15);
    CHECK_NEAR(ml4t_hmm_regime_weight(low, 3, NULL, NAN), 1.0, 1e-15);
    CHECK_NEAR(ml4t_hmm_regime_weight(low, 3, NULL, -3.0), 0.0, 0);
    CHECK_NEAR(ml4t_hmm_regime_weight(low, 3, NULL, 7.0), 1.0, 1e-15);
    const double unnorm[3] = {2, 0, 2}; /* renormalized: (1.2 + 0.4) / 2 / 1.2 */
    CHECK_NEAR(ml4t_hmm_regime_weight(unnorm, 3, NULL, 1.0), 0.8 / 1.2, 1e-15);
    const double custom[3] = {2.0, 1.0, 0.0};
    CHECK_NEAR(ml4t_hmm_regime_weight(mid, 3, custom, 1.0), 0.5, 1e-15);
    const double badw[3] = {2.0, -1.0, 0.0}; /* invalid: defaults */
    CHECK_NEAR(ml4t_hmm_regime_weight(mid, 3, badw, 1.0), 0.8 / 1.2, 1e-15);
    CHECK_NEAR(ml4t_hmm_filter_regime_weight(NULL, NULL, 1.0), 0.8 / 1.2, 1e-15);
    s_sm_state = 17; /* bounds over random inputs, including hostile ones */
    for (int i = 0; i < 10000; i++) {
        double p[4], w[4], d = s_unif() * 3 - 1;
        for (int k = 0; k < 4; k++) {
            p[k] = s_unif() < 0.05 ? -s_unif() : s_unif();
            w[k] = s_unif() * 5;
        }
        double r = ml4t_hmm_regime_weight(p, 4, i % 2 ? w : NULL, i % 7 ? d : NAN);
        CHECK(isfinite(r) && r >= 0 && r <= 1);
    }
}

static void t_labels_and_vol_level(void)
{
    ml4t_hmm_t *h = s_true_model();
    REQUIRE(h);
    CHECK_STR(ml4t_hmm_state_label(h, 0), "LOW");
    CHECK_STR(ml4t_hmm_state_label(h, 1), "MEDIUM");
    CHECK_STR(ml4t_hmm_state_label(h, 2), "HIGH");
    CHECK_STR(ml4t_hmm_state_label(h, 3), "UNKNOWN");
    CHECK_STR(ml4t_hmm_state_label(NULL, 0), "UNKNOWN");
    /* sorted on the way in: means of the volatility column ascend */
    CHECK_NEAR(ml4t_hmm_means(h)[1], 1.0, 0);
    CHECK_NEAR(ml4t_hmm_means(h)[3], 2.0, 0);
    CHECK_NEAR(ml4t_hmm_means(h)[5], 4.0, 0);
    CHECK_NEAR(ml4t_hmm_transmat(h)[0], 0.97, 1e-15);         /* low -> low */
    CHECK_NEAR(ml4t_hmm_transmat(h)[2 * 3 + 1], 0.04, 1e-15); /* high -> medium */
    const double low[3] = {0.8, 0.1, 0.1}, mid[3] = {0.2, 0.5, 0.3}, hi[3] = {0.0, 0.05, 0.95};
    CHECK_EQ_INT(ml4t_hmm_vol_level(h, low, NAN, 2.0), ML4T_HMM_VOL_LOW);
    CHECK_EQ_INT(ml4t_hmm_vol_level(h, mid, NAN, 2.0), ML4T_HMM_VOL_NORMAL);
    CHECK_EQ_INT(ml4t_hmm_vol_level(h, hi, NAN, 2.0), ML4T_HMM_VOL_HIGH);
    /* high state: mean 4.0, sd 0.6; 2 sd above is 5.2 */
    CHECK_EQ_INT(ml4t_hmm_vol_level(h, hi, 5.1, 2.0), ML4T_HMM_VOL_HIGH);
    CHECK_EQ_INT(ml4t_hmm_vol_level(h, hi, 5.3, 2.0), ML4T_HMM_VOL_EXTREME);
    CHECK_EQ_INT(ml4t_hmm_vol_level(h, mid, 50.0, 2.0), ML4T_HMM_VOL_NORMAL);
    CHECK_EQ_INT(ml4t_hmm_vol_level(NULL, hi, 5.3, 2.0), ML4T_HMM_VOL_UNKNOWN);
    CHECK_STR(ml4t_hmm_vol_level_name(ML4T_HMM_VOL_EXTREME), "EXTREME");
    ml4t_hmm_destroy(&h);
}

static void t_filter_errors_and_reset(void)
{
    ml4t_hmm_t *h = s_true_model();
    REQUIRE(h);
    ml4t_hmm_filter_t f;
    REQUIRE(ml4t_hmm_filter_init(&f, h, NULL) == ML4T_OK);
    const double x[2] = {0.0, 3.9}, bad[2] = {0.0, NAN};
    CHECK_EQ_INT(ml4t_hmm_filter_update(&f, h, x), ML4T_OK);
    CHECK_EQ_INT(ml4t_hmm_filter_state(&f), 2);
    double before[3];
    memcpy(before, f.probs, sizeof before);
    CHECK_EQ_INT(ml4t_hmm_filter_update(&f, h, bad), ML4T_EINVAL);
    CHECK(memcmp(before, f.probs, sizeof before) == 0);
    CHECK_EQ_INT(ml4t_hmm_filter_push_close(&f, h, 10.0), ML4T_EMISMATCH); /* vol_window 0 */
    double s2[2] = {0.5, 0.5}, A2[4] = {0.9, 0.1, 0.1, 0.9}, m2[4] = {0, 1, 0, 2},
           v2[4] = {1, 1, 1, 1};
    ml4t_hmm_t *g = ml4t_hmm_new(2, 2, s2, A2, m2, v2, 5, NULL);
    REQUIRE(g);
    CHECK_EQ_INT(ml4t_hmm_filter_update(&f, g, x), ML4T_EMISMATCH);
    ml4t_hmm_filter_t f2;
    REQUIRE(ml4t_hmm_filter_init(&f2, g, NULL) == ML4T_OK);
    CHECK_EQ_INT(ml4t_hmm_filter_push_close(&f2, g, -1.0), ML4T_EINVAL);
    CHECK_EQ_INT(ml4t_hmm_filter_push_close(&f2, g, INFINITY), ML4T_EINVAL);
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(ml4t_hmm_filter_push_close(&f2, g, 10.0 + i), ML4T_OK);
    CHECK(f2.started);
    CHECK(isfinite(f2.last_vol));
    ml4t_hmm_filter_reset(&f2);
    CHECK(!f2.started && ml4t_hmm_filter_probs(&f2) == NULL && isnan(f2.last_vol));
    ml4t_hmm_filter_destroy(&f2);
    ml4t_hmm_filter_destroy(&f2); /* idempotent */
    ml4t_hmm_filter_destroy(&f);
    ml4t_hmm_destroy(&g);
    ml4t_hmm_destroy(&h);
}

static void t_new_validates_and_path_beside(void)
{
    double s[2] = {0.5, 0.5}, A[4] = {0.9, 0.2, 0.1, 0.9}, m[2] = {0, 1}, v[2] = {1, 0};
    ml4t_error_t err;
    CHECK(ml4t_hmm_new(2, 1, s, A, m, v, 0, &err) == NULL);
    CHECK_STR(err.field, "transmat");
    A[1] = 0.1;
    CHECK(ml4t_hmm_new(2, 1, s, A, m, v, 0, &err) == NULL);
    CHECK_STR(err.field, "variances");
    v[1] = 1;
    CHECK(ml4t_hmm_new(9, 1, s, A, m, v, 0, &err) == NULL);
    CHECK_STR(err.field, "n_states");
    ml4t_hmm_t *h = ml4t_hmm_new(2, 1, s, A, m, v, 0, &err);
    CHECK(h != NULL);
    CHECK(isnan(ml4t_hmm_log_likelihood(h)));
    ml4t_hmm_destroy(&h);
    char buf[64];
    CHECK_EQ_INT(ml4t_hmm_path_beside("models/meta_model.ubj", buf, sizeof buf, &err), ML4T_OK);
    CHECK_STR(buf, "models/hmm.json");
    CHECK_EQ_INT(ml4t_hmm_path_beside("meta.ubj", buf, sizeof buf, &err), ML4T_OK);
    CHECK_STR(buf, "hmm.json");
    CHECK_EQ_INT(ml4t_hmm_path_beside("/a/very/long/directory/name/model.ubj", buf, 16, &err),
                 ML4T_ELIMIT);
    CHECK_STR(err.field, "model_path");
}

static const t_case_t cases[] = {
    T_CASE(t_config_defaults_and_validate),
    T_CASE(t_observations_known_answer),
    T_CASE(t_observations_no_drift_real),
    T_CASE(t_recover_synthetic_parameters),
    T_CASE(t_fit_is_deterministic_and_inits_agree),
    T_CASE(t_filter_matches_batch),
    T_CASE(t_forward_and_viterbi_brute_force),
    T_CASE(t_real_data_states_and_online),
    T_CASE(t_constant_prices_clear_error),
    T_CASE(t_too_few_bars_names_argument),
    T_CASE(t_degenerate_observations),
    T_CASE(t_persistence_round_trip),
    T_CASE(t_persistence_corrupt_files),
    T_CASE(t_regime_weight),
    T_CASE(t_labels_and_vol_level),
    T_CASE(t_filter_errors_and_reset),
    T_CASE(t_new_validates_and_path_beside),
};
T_MAIN(cases)
