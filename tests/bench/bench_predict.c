/*  ml4t-bench predict: single-row and batch prediction, flat evaluator vs
    XGBoost's inplace prediction, and model load time.

    The model: 100 trees of depth 5 (the defaults) trained on real feature rows
    of the bundled month. XGBoost is given its best single-row setup: nthread=1,
    the array-interface and config strings built once, one proxy DMatrix reused
    (without it every call allocates one), the row already in float32 outside
    the timed region. The flat evaluator also gets its row in a fixed (double)
    buffer; its timing includes the double->float conversion. Rows are visited
    in a scattered order. Options: [rows N] limits the rows used. */
#include "bench.h"

#include "ml4t/clock.h"
#include "ml4t/model.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xgboost/c_api.h>

#include "../unit/model_fixture.h"

#define S_SINGLE_SAMPLES 200000
#define S_XGB_SAMPLES    50000
#define S_LOADS          20

static uint64_t *s_samples(size_t n)
{
    return malloc(n * sizeof(uint64_t));
}

static void s_bench_flat_single(ml4t_bench_report_t *r, const ml4t_model_t *m, const double *Xd,
                                size_t n)
{
    uint64_t *t = s_samples(S_SINGLE_SAMPLES);
    double p, sum = 0;
    for (size_t i = 0; i < 20000; i++) { /* warm caches and branch predictors */
        ml4t_model_predict_row(m, Xd + (i % n) * T_ROW_K, &p);
        sum += p;
    }
    double x[T_ROW_K];
    for (size_t i = 0; i < S_SINGLE_SAMPLES; i++) {
        /* the row in a fixed buffer, as a freshly computed feature row would be */
        memcpy(x, Xd + ((i * 7919) % n) * T_ROW_K, sizeof x);
        uint64_t t0 = ml4t_clock_mono_ns();
        ml4t_model_predict_row(m, x, &p);
        t[i] = ml4t_clock_mono_ns() - t0;
        sum += p;
    }
    ml4t_bench_sink(sum);
    ml4t_bench_report_latency(r, "flat_single_row", t, S_SINGLE_SAMPLES);
    free(t);
}

typedef struct {
    BoosterHandle booster;
    DMatrixHandle proxy;
    float row[T_ROW_K];
    char iface[160];
    const char *config;
} s_xgb_single_t;

static int s_xgb_single_predict(s_xgb_single_t *s, float *out)
{
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    if (XGBoosterPredictFromDense(s->booster, s->iface, s->config, s->proxy, &shape, &dim, &res))
        return -1;
    *out = res[0];
    return 0;
}

static void s_bench_xgb_single(ml4t_bench_report_t *r, const ml4t_model_t *m, const float *X,
                               const double *Xd, size_t n)
{
    s_xgb_single_t s = {.booster = ml4t_model_booster(m)};
    s.config = "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
               "\"strict_shape\":false,\"missing\":NaN,\"cache_id\":0}";
    snprintf(s.iface, sizeof s.iface,
             "{\"data\":[%" PRIuPTR ",true],\"shape\":[1,%d],\"typestr\":\"<f4\",\"version\":3}",
             (uintptr_t)s.row, T_ROW_K);
    if (XGBoosterSetParam(s.booster, "nthread", "1") || XGProxyDMatrixCreate(&s.proxy)) {
        fprintf(stderr, "bench predict: %s\n", XGBGetLastError());
        return;
    }
    uint64_t *t = s_samples(S_XGB_SAMPLES);
    float p;
    double sum = 0, maxdiff = 0;
    size_t errors = 0;
    for (size_t i = 0; i < 2000; i++) {
        memcpy(s.row, X + (i % n) * T_ROW_K, sizeof s.row);
        if (s_xgb_single_predict(&s, &p) == 0)
            sum += p;
    }
    for (size_t i = 0; i < S_XGB_SAMPLES; i++) {
        memcpy(s.row, X + ((i * 7919) % n) * T_ROW_K, sizeof s.row);
        uint64_t t0 = ml4t_clock_mono_ns();
        int rc = s_xgb_single_predict(&s, &p);
        t[i] = ml4t_clock_mono_ns() - t0;
        sum += rc == 0 ? p : 0;
        errors += rc != 0;
        if (i % 97 == 0 && rc == 0) { /* the timed calls did predict this row */
            double want;
            ml4t_model_predict_row(m, Xd + ((i * 7919) % n) * T_ROW_K, &want);
            maxdiff = fmax(maxdiff, fabs(want - p));
        }
    }
    ml4t_bench_report_add(r, "xgb_single_row_errors", (double)errors, "");
    ml4t_bench_report_add(r, "xgb_single_row_max_abs_diff", maxdiff, "");
    ml4t_bench_sink(sum);
    ml4t_bench_report_latency(r, "xgb_inplace_single_row", t, S_XGB_SAMPLES);
    free(t);
    XGDMatrixFree(s.proxy);
}

/* Median over a few passes of ns per row. */
static void s_bench_batch(ml4t_bench_report_t *r, const ml4t_model_t *m, const float *X,
                          const double *Xd, size_t n)
{
    uint64_t flat[5], xgb[5];
    double *out = malloc(n * sizeof *out), maxdiff = 0;
    char iface[160];
    snprintf(iface, sizeof iface,
             "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%d],\"typestr\":\"<f4\",\"version\":3}",
             (uintptr_t)X, n, T_ROW_K);
    const char *config = "{\"type\":0,\"training\":false,\"iteration_begin\":0,"
                         "\"iteration_end\":0,\"strict_shape\":false,\"missing\":NaN,"
                         "\"cache_id\":0}";
    for (int pass = 0; pass < 5; pass++) {
        uint64_t t0 = ml4t_clock_mono_ns();
        ml4t_model_predict_batch(m, Xd, n, out);
        flat[pass] = ml4t_clock_mono_ns() - t0;
        const bst_ulong *shape;
        bst_ulong dim;
        const float *res = NULL;
        t0 = ml4t_clock_mono_ns();
        int rc = XGBoosterPredictFromDense(ml4t_model_booster(m), iface, config, NULL, &shape, &dim,
                                           &res);
        xgb[pass] = ml4t_clock_mono_ns() - t0;
        for (size_t i = 0; rc == 0 && i < n; i++)
            maxdiff = fmax(maxdiff, fabs(out[i] - res[i]));
    }
    ml4t_bench_report_add(r, "flat_batch_per_row_ns",
                          ml4t_bench_percentile(flat, 5, 50) / (double)n, "ns");
    ml4t_bench_report_add(r, "xgb_inplace_batch_per_row_ns",
                          ml4t_bench_percentile(xgb, 5, 50) / (double)n, "ns");
    ml4t_bench_report_add(r, "batch_rows", (double)n, "rows");
    ml4t_bench_report_add(r, "max_abs_diff_flat_vs_xgb", maxdiff, "");
    free(out);
}

static void s_bench_load(ml4t_bench_report_t *r, ml4t_model_t *m)
{
    char dir[] = "/tmp/ml4t_bench_predict_XXXXXX", path[128], mpath[128];
    if (!mkdtemp(dir))
        return;
    snprintf(path, sizeof path, "%s/model.ubj", dir);
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    ml4t_error_t err;
    uint64_t t[S_LOADS];
    uint64_t t0 = ml4t_clock_mono_ns();
    if (ml4t_model_save(m, path, &err) != ML4T_OK) {
        fprintf(stderr, "bench predict: save: %s\n", err.msg);
        return;
    }
    ml4t_bench_report_add(r, "save_ms", (double)(ml4t_clock_mono_ns() - t0) / 1e6, "ms");
    for (int i = 0; i < S_LOADS; i++) {
        t0 = ml4t_clock_mono_ns();
        ml4t_model_t *l = ml4t_model_load(path, t_row_names(), T_ROW_K, &err);
        t[i] = ml4t_clock_mono_ns() - t0;
        ml4t_model_unref(&l);
    }
    ml4t_bench_report_add(r, "load_p50_ms", ml4t_bench_percentile(t, S_LOADS, 50) / 1e6, "ms");
    ml4t_bench_report_add(r, "model_bytes", (double)ml4t_model_manifest(m)->booster_bytes, "bytes");
    unlink(path);
    unlink(mpath);
    rmdir(dir);
}

static void s_bench_timer(ml4t_bench_report_t *r)
{
    uint64_t t[10000];
    for (int i = 0; i < 10000; i++) {
        uint64_t t0 = ml4t_clock_mono_ns();
        t[i] = ml4t_clock_mono_ns() - t0;
    }
    ml4t_bench_report_add(r, "timer_overhead_p50_ns", ml4t_bench_percentile(t, 10000, 50), "ns");
}

const char ml4t_bench_predict_usage[] =
    "rows N      feature rows of the bundled data to predict (default 100000)";

int ml4t_bench_predict(const ml4t_bench_opts_t *opts)
{
    size_t max_rows = 100000;
    for (int i = 0; i + 1 < opts->argc; i++)
        if (!strcmp(opts->argv[i], "rows"))
            max_rows = strtoul(opts->argv[i + 1], NULL, 10);
    float *X = NULL, *y = NULL;
    size_t n = t_rows_load(ML4T_BENCH_DATA_FILE, max_rows, &X, &y, NULL);
    if (n < 1000) {
        fprintf(stderr, "bench predict: cannot build rows from %s\n", ML4T_BENCH_DATA_FILE);
        return 1;
    }
    double *Xd = t_rows_to_double(X, n);
    ml4t_bench_report_t r;
    ml4t_bench_report_init(&r, "predict", opts);
    ml4t_model_params_t p;
    ml4t_model_params_default(&p);
    ml4t_error_t err;
    uint64_t t0 = ml4t_clock_mono_ns();
    ml4t_model_t *m = ml4t_model_train(X, y, NULL, n, T_ROW_K, t_row_names(), &p, &err);
    if (!m) {
        fprintf(stderr, "bench predict: train: %s\n", err.msg);
        return 1;
    }
    ml4t_bench_report_add(&r, "train_ms", (double)(ml4t_clock_mono_ns() - t0) / 1e6, "ms");
    ml4t_bench_report_add(&r, "train_rows", (double)n, "rows");
    ml4t_bench_report_text(&r, "model", "100 trees, depth 5, 10 features, binary:logistic");
    s_bench_timer(&r);
    s_bench_flat_single(&r, m, Xd, n);
    s_bench_xgb_single(&r, m, X, Xd, n); /* sets the booster's nthread to 1 */
    s_bench_batch(&r, m, X, Xd, n);
    s_bench_load(&r, m);
    ml4t_bench_report_print(&r);
    ml4t_model_unref(&m);
    free(X);
    free(y);
    free(Xd);
    return 0;
}
