/*  ml4t-bench hmm [--bars N]: Gaussian HMM regime filter.

    Fit time on N bars (default 100,000) of real FILUSDT 1-minute closes from
    ../shared/data/binance-1m (months in order; when that folder is absent, the
    bundled month repeated, each copy rescaled to start where the last ended),
    nanoseconds per online update (push_close and update, p50/p99), and the
    batch forward pass and Viterbi per bar. */
#include "bench.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ml4t/clock.h"
#include "ml4t/hmm.h"

typedef struct {
    double *v;
    size_t n, cap;
} s_series_t;

static int s_push(s_series_t *s, double x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 65536;
        double *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return 0;
}

/* Append the close column of one Binance kline CSV (gzip). */
static int s_load_file(const char *path, s_series_t *s, size_t limit)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return -1;
    char line[512];
    while (s->n < limit && gzgets(gz, line, sizeof line)) {
        if (line[0] < '0' || line[0] > '9')
            continue;
        char *p = line;
        for (int f = 0; f < 4 && p; f++) {
            p = strchr(p, ',');
            p = p ? p + 1 : NULL;
        }
        if (p && s_push(s, strtod(p, NULL)) != 0)
            break;
    }
    gzclose(gz);
    return 0;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* FILUSDT months from the shared folder, in date order; returns the count used. */
static int s_load_shared(s_series_t *s, size_t limit)
{
    DIR *dir = opendir(ML4T_BENCH_SHARED_DATA);
    if (!dir)
        return 0;
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && n < 64)
        if (strncmp(e->d_name, "FILUSDT-1m-", 11) == 0 && strstr(e->d_name, ".csv.gz"))
            names[n++] = strdup(e->d_name);
    closedir(dir);
    qsort(names, (size_t)n, sizeof *names, s_cmp_str);
    int used = 0;
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", ML4T_BENCH_SHARED_DATA, names[i]);
        if (s->n < limit && s_load_file(path, s, limit) == 0)
            used++;
        free(names[i]);
    }
    return used;
}

/* The bundled month repeated; each copy is rescaled to continue the last close. */
static int s_load_bundled(s_series_t *s, size_t limit)
{
    s_series_t month = {0};
    if (s_load_file(ML4T_BENCH_DATA_FILE, &month, (size_t)-1) != 0 || month.n < 2) {
        free(month.v);
        return -1;
    }
    double scale = 1.0;
    while (s->n < limit) {
        for (size_t i = 0; i < month.n && s->n < limit; i++)
            s_push(s, month.v[i] * scale);
        scale = s->v[s->n - 1] / month.v[0];
    }
    free(month.v);
    return 0;
}

static void s_bench_online(ml4t_bench_report_t *r, const ml4t_hmm_t *h, const s_series_t *c,
                           const double *obs, size_t rows, uint64_t *samples)
{
    ml4t_hmm_filter_t f;
    if (ml4t_hmm_filter_init(&f, h, NULL) != ML4T_OK)
        return;
    size_t m = 0;
    for (size_t i = 0; i < c->n; i++) {
        uint64_t t0 = ml4t_clock_mono_ns();
        ml4t_hmm_filter_push_close(&f, h, c->v[i]);
        uint64_t t1 = ml4t_clock_mono_ns();
        if (f.started)
            samples[m++] = t1 - t0;
    }
    ml4t_bench_sink(f.probs[0]);
    ml4t_bench_report_latency(r, "online_push_close", samples, m);
    ml4t_hmm_filter_reset(&f);
    for (size_t i = 0; i < rows; i++) {
        uint64_t t0 = ml4t_clock_mono_ns();
        ml4t_hmm_filter_update(&f, h, &obs[i * 2]);
        samples[i] = ml4t_clock_mono_ns() - t0;
    }
    ml4t_bench_sink(f.probs[0]);
    ml4t_bench_report_latency(r, "online_update", samples, rows);
    /* the same loop without timing calls: mean cost with no clock overhead */
    ml4t_hmm_filter_reset(&f);
    uint64_t t0 = ml4t_clock_mono_ns();
    for (size_t i = 0; i < c->n; i++)
        ml4t_hmm_filter_push_close(&f, h, c->v[i]);
    uint64_t t1 = ml4t_clock_mono_ns();
    ml4t_bench_sink(f.probs[0]);
    ml4t_bench_report_add(r, "online_push_close_untimed_mean_ns", (double)(t1 - t0) / (double)c->n,
                          "ns");
    for (size_t i = 0; i < 10000; i++) { /* clock overhead included in the p50/p99 */
        uint64_t a = ml4t_clock_mono_ns();
        samples[i] = ml4t_clock_mono_ns() - a;
    }
    ml4t_bench_report_add(r, "clock_overhead_p50_ns", ml4t_bench_percentile(samples, 10000, 50),
                          "ns");
    ml4t_hmm_filter_destroy(&f);
}

static void s_bench_batch(ml4t_bench_report_t *r, const ml4t_hmm_t *h, const double *obs,
                          size_t rows)
{
    size_t K = ml4t_hmm_n_states(h);
    double *probs = malloc(rows * K * sizeof *probs);
    int *states = malloc(rows * sizeof *states);
    uint64_t fwd[5], vit[5];
    for (int rep = 0; rep < 5 && probs && states; rep++) {
        uint64_t t0 = ml4t_clock_mono_ns();
        ml4t_hmm_forward_batch(h, obs, rows, probs, NULL, NULL);
        uint64_t t1 = ml4t_clock_mono_ns();
        ml4t_hmm_viterbi(h, obs, rows, states, NULL, NULL);
        uint64_t t2 = ml4t_clock_mono_ns();
        fwd[rep] = t1 - t0;
        vit[rep] = t2 - t1;
        ml4t_bench_sink(probs[rows * K - 1] + states[rows - 1]);
    }
    if (probs && states) {
        ml4t_bench_report_add(r, "forward_batch_ns_per_bar",
                              ml4t_bench_percentile(fwd, 5, 50) / (double)rows, "ns");
        ml4t_bench_report_add(r, "viterbi_ns_per_bar",
                              ml4t_bench_percentile(vit, 5, 50) / (double)rows, "ns");
    }
    free(probs);
    free(states);
}

static ml4t_hmm_t *s_timed_fit(ml4t_bench_report_t *r, const char *name, const double *obs,
                               size_t rows, const ml4t_hmm_config_t *cfg)
{
    ml4t_error_t err;
    uint64_t t0 = ml4t_clock_mono_ns();
    ml4t_hmm_t *h = ml4t_hmm_fit(obs, rows, 2, cfg, &err);
    uint64_t t1 = ml4t_clock_mono_ns();
    char key[96];
    if (!h) {
        fprintf(stderr, "bench hmm: fit failed: %s: %s\n", err.field, err.msg);
        return NULL;
    }
    snprintf(key, sizeof key, "%s_ms", name);
    ml4t_bench_report_add(r, key, (double)(t1 - t0) / 1e6, "ms");
    snprintf(key, sizeof key, "%s_em_iterations_kept_run", name);
    ml4t_bench_report_add(r, key, (double)ml4t_hmm_n_iter(h), "");
    if (cfg->init == ML4T_HMM_INIT_QUANTILE) { /* one run: its E-steps are n_iter + 1 */
        snprintf(key, sizeof key, "%s_ns_per_bar_per_iteration", name);
        ml4t_bench_report_add(
            r, key, (double)(t1 - t0) / (double)rows / (double)(ml4t_hmm_n_iter(h) + 1), "ns");
    }
    return h;
}

static void s_report_states(ml4t_bench_report_t *r, const ml4t_hmm_t *h)
{
    char key[96];
    for (size_t k = 0; k < ml4t_hmm_n_states(h); k++) {
        snprintf(key, sizeof key, "state%zu_%s_mean_vol", k, ml4t_hmm_state_label(h, k));
        ml4t_bench_report_add(r, key, ml4t_hmm_means(h)[k * 2 + 1], "");
        snprintf(key, sizeof key, "state%zu_stay_prob", k);
        ml4t_bench_report_add(r, key, ml4t_hmm_transmat(h)[k * 3 + k], "");
    }
    ml4t_bench_report_add(r, "fit_log_likelihood", ml4t_hmm_log_likelihood(h), "");
}

const char ml4t_bench_hmm_usage[] = "--bars N    bars of real closes to fit on (default 100000)";

int ml4t_bench_hmm(const ml4t_bench_opts_t *opts)
{
    size_t bars = 100000;
    for (int i = 0; i + 1 < opts->argc; i++)
        if (strcmp(opts->argv[i], "--bars") == 0)
            bars = strtoull(opts->argv[i + 1], NULL, 10);
    ml4t_bench_report_t r;
    ml4t_bench_report_init(&r, "hmm", opts);
    s_series_t c = {0};
    char what[160];
    int months = s_load_shared(&c, bars);
    if (c.n >= bars) {
        snprintf(what, sizeof what, "FILUSDT 1m, %d months of ../shared/data/binance-1m", months);
    } else {
        size_t have = c.n;
        fprintf(stderr,
                "bench hmm: ../shared/data/binance-1m %s; using the bundled month repeated "
                "(rescaled copies)\n",
                months ? "has fewer FILUSDT bars than asked" : "is absent");
        c.n = 0;
        if (s_load_bundled(&c, bars) != 0) {
            fprintf(stderr, "bench hmm: cannot read %s\n", ML4T_BENCH_DATA_FILE);
            free(c.v);
            return 1;
        }
        if (months)
            snprintf(what, sizeof what,
                     "bundled FILUSDT month repeated to %zu bars (shared holds only %zu)", bars,
                     have);
        else
            snprintf(what, sizeof what,
                     "bundled FILUSDT month repeated to %zu bars (shared folder absent)", bars);
    }
    ml4t_bench_report_text(&r, "data", what);
    ml4t_bench_report_add(&r, "bars", (double)c.n, "");
    size_t rows = ml4t_hmm_observations_rows(c.n, 20);
    double *obs = malloc((rows ? rows : 1) * 2 * sizeof *obs);
    uint64_t *samples = malloc((c.n > 10000 ? c.n : 10000) * sizeof *samples);
    int rc = 1;
    ml4t_error_t err;
    if (!obs || !samples || ml4t_hmm_observations(c.v, c.n, 20, obs, &rows, &err) != ML4T_OK) {
        fprintf(stderr, "bench hmm: no observations from %zu bars: %s\n", c.n,
                obs && samples ? err.msg : "out of memory");
        goto out;
    }
    ml4t_bench_report_add(&r, "rows", (double)rows, "");
    ml4t_hmm_config_t cfg;
    ml4t_hmm_config_default(&cfg);
    ml4t_hmm_t *h = s_timed_fit(&r, "fit_default", obs, rows, &cfg);
    if (!h)
        goto out;
    cfg.init = ML4T_HMM_INIT_QUANTILE;
    ml4t_hmm_t *q = s_timed_fit(&r, "fit_quantile_single", obs, rows, &cfg);
    ml4t_hmm_destroy(&q);
    s_report_states(&r, h);
    s_bench_online(&r, h, &c, obs, rows, samples);
    s_bench_batch(&r, h, obs, rows);
    ml4t_hmm_destroy(&h);
    ml4t_bench_report_print(&r);
    rc = 0;
out:
    free(obs);
    free(samples);
    free(c.v);
    return rc;
}
