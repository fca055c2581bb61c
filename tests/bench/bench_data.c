/*  ml4t-bench data: CSV loading, VPIN per bar, sizer per call. */
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ml4t/clock.h"
#include "ml4t/csv.h"
#include "ml4t/sizer.h"
#include "ml4t/vpin.h"

#define S_LOAD_RUNS   5
#define S_VPIN_PASSES 21
#define S_SIZER_BATCH 64
#define S_SIZER_N     20000

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double s_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, s_cmp_double);
    return v[n / 2];
}

/* Median wall time of S_LOAD_RUNS loads of paths; rows accepted in *rows. */
static int s_bench_load(ml4t_bench_report_t *r, const char *name, const char *const *paths,
                        size_t n, size_t *rows)
{
    double ms[S_LOAD_RUNS];
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    ml4t_error_t err;
    ml4t_csv_stats_t st;
    for (int i = 0; i < S_LOAD_RUNS; i++) {
        ml4t_bars_destroy(&bars); /* each run pays for its allocations too */
        uint64_t t0 = ml4t_clock_mono_ns();
        if (ml4t_csv_load_many(paths, n, &bars, &st, &err) != ML4T_OK) {
            fprintf(stderr, "bench data: %s\n", err.msg);
            ml4t_bars_destroy(&bars);
            return -1;
        }
        ms[i] = (double)(ml4t_clock_mono_ns() - t0) / 1e6;
    }
    *rows = bars.n;
    double med = s_median(ms, S_LOAD_RUNS);
    char key[96];
    snprintf(key, sizeof key, "%s_files", name);
    ml4t_bench_report_add(r, key, (double)n, "");
    snprintf(key, sizeof key, "%s_rows", name);
    ml4t_bench_report_add(r, key, (double)bars.n, "rows");
    snprintf(key, sizeof key, "%s_rejected", name);
    ml4t_bench_report_add(r, key, (double)st.rows_rejected, "rows");
    snprintf(key, sizeof key, "%s_load_median_ms", name);
    ml4t_bench_report_add(r, key, med, "ms");
    snprintf(key, sizeof key, "%s_rows_per_s", name);
    ml4t_bench_report_add(r, key, (double)bars.n / (med / 1e3), "rows/s");
    ml4t_bars_destroy(&bars);
    return 0;
}

static void s_bench_shared(ml4t_bench_report_t *r)
{
    glob_t g;
    int rc = glob(ML4T_BENCH_SHARED_DATA "/FILUSDT-1m-*.csv.gz", 0, NULL, &g);
    if (rc != 0 || g.gl_pathc == 0) {
        fprintf(stderr, "bench data: %s not present: the 7-month FILUSDT load is skipped\n",
                ML4T_BENCH_SHARED_DATA);
        ml4t_bench_report_text(r, "fil_7m", "skipped: ../shared/data/binance-1m not present");
        if (rc == 0)
            globfree(&g);
        return;
    }
    size_t rows;
    if (s_bench_load(r, "fil_7m", (const char *const *)g.gl_pathv, g.gl_pathc, &rows) != 0)
        ml4t_bench_report_text(r, "fil_7m", "failed to load (see stderr)");
    globfree(&g);
}

/* ns per bar over whole passes of the month (a per-bar clock read would cost
   more than the update); the median pass is reported. */
static void s_bench_vpin(ml4t_bench_report_t *r, const ml4t_bars_t *bars, bool force_bvc,
                         const char *name)
{
    ml4t_vpin_config_t cfg = ml4t_vpin_config_default();
    cfg.bucket_volume = ml4t_vpin_bucket_volume_from_bars(bars);
    cfg.force_bvc = force_bvc;
    ml4t_vpin_t *v = ml4t_vpin_new(&cfg, NULL);
    if (!v)
        return;
    double per_bar[S_VPIN_PASSES];
    for (int p = 0; p < S_VPIN_PASSES; p++) {
        ml4t_vpin_reset(v);
        uint64_t t0 = ml4t_clock_mono_ns();
        for (size_t i = 0; i < bars->n; i++)
            ml4t_vpin_update(v, bars->close[i], bars->volume[i], bars->buy_volume[i], NULL);
        per_bar[p] = (double)(ml4t_clock_mono_ns() - t0) / (double)bars->n;
        ml4t_bench_sink(ml4t_vpin_value(v));
    }
    char key[96];
    snprintf(key, sizeof key, "%s_ns_per_bar_median", name);
    ml4t_bench_report_add(r, key, s_median(per_bar, S_VPIN_PASSES), "ns");
    snprintf(key, sizeof key, "%s_ns_per_bar_max", name);
    ml4t_bench_report_add(r, key, per_bar[S_VPIN_PASSES - 1], "ns");
    ml4t_vpin_destroy(&v);
}

/* Per-call latency from batches of S_SIZER_BATCH calls over varied inputs
   (one clock read per call would dominate a ~20 ns call). */
static void s_bench_sizer(ml4t_bench_report_t *r)
{
    enum { N_IN = 4096 };
    ml4t_sizer_input_t *in = malloc(N_IN * sizeof *in);
    uint64_t *samples = malloc(S_SIZER_N * sizeof *samples);
    if (!in || !samples)
        goto out;
    srand(1);
    for (size_t i = 0; i < N_IN; i++) {
        in[i] = ml4t_sizer_input(2.0 * rand() / RAND_MAX - 1.0);
        in[i].has_meta = in[i].has_toxicity = true;
        in[i].meta_confidence = (double)rand() / RAND_MAX;
        in[i].toxicity = (double)rand() / RAND_MAX;
        in[i].has_regime = i % 2;
        in[i].regime_weight = 0.9;
    }
    ml4t_sizer_config_t cfg = ml4t_sizer_config_default();
    ml4t_size_t out;
    size_t k = 0;
    double sink = 0.0;
    for (size_t s = 0; s < S_SIZER_N; s++) {
        uint64_t t0 = ml4t_clock_mono_ns();
        for (int j = 0; j < S_SIZER_BATCH; j++, k = (k + 1) % N_IN) {
            ml4t_sizer_compute(&cfg, &in[k], &out, NULL);
            sink += out.size;
        }
        samples[s] = (ml4t_clock_mono_ns() - t0 + S_SIZER_BATCH / 2) / S_SIZER_BATCH;
    }
    ml4t_bench_sink(sink);
    ml4t_bench_report_latency(r, "sizer_call", samples, S_SIZER_N);
out:
    free(in);
    free(samples);
}

const char ml4t_bench_data_usage[] = "no options";

int ml4t_bench_data(const ml4t_bench_opts_t *opts)
{
    ml4t_bench_report_t *r = malloc(sizeof *r);
    if (!r)
        return 1;
    ml4t_bench_report_init(r, "data", opts);
    const char *month[1] = {ML4T_BENCH_DATA_FILE};
    size_t rows = 0;
    if (s_bench_load(r, "month", month, 1, &rows) != 0) {
        free(r);
        return 1;
    }
    s_bench_shared(r);

    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    ml4t_error_t err;
    if (ml4t_csv_load(ML4T_BENCH_DATA_FILE, &bars, NULL, &err) != ML4T_OK) {
        fprintf(stderr, "bench data: %s\n", err.msg);
        free(r);
        return 1;
    }
    s_bench_vpin(r, &bars, false, "vpin_real_buy");
    s_bench_vpin(r, &bars, true, "vpin_bvc");
    ml4t_bars_destroy(&bars);
    s_bench_sizer(r);
    ml4t_bench_report_print(r);
    free(r);
    return 0;
}
