/*  ml4t-bench inprocess: in-process enrichment on the bundled real data.

    A 100-tree depth-5 meta-model (trained here on the month), 10 instruments
    replaying the month (each its own id, starting at its own offset), one
    signal per instrument per bar carrying the last 100 bars (or only the newest
    bar, `--bars 1`). Latency of ml4t_orchestrator_process_decoded per signal
    (the codec excluded), and of decode + process + encode (plain and columnar
    bars), then single-thread throughput. Options: --bars N, --signals N. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml4t/clock.h"
#include "ml4t/codec.h"
#include "ml4t/csv.h"
#include "ml4t/orchestrator.h"

#define S_INSTRUMENTS 10

static ml4t_model_t *s_model(const ml4t_bars_t *d)
{
    ml4t_features_config_t fc = ml4t_features_config_default();
    size_t n = d->n, k = ML4T_F_COUNT, rows = 0;
    double *full = malloc(n * k * sizeof *full);
    int *sides = malloc(n * sizeof *sides);
    float *X = malloc(n * k * sizeof *X), *y = malloc(n * sizeof *y);
    ml4t_model_t *m = NULL;
    if (!full || !sides || !X || !y)
        goto out;
    for (size_t i = 0; i < n; i++)
        sides[i] = (i / 7) % 2 ? 1 : -1;
    if (ml4t_features_matrix(&fc, d, sides, full, NULL))
        goto out;
    for (size_t i = 100; i + 10 < n; i++, rows++) {
        for (size_t j = 0; j < k; j++)
            X[rows * k + j] = (float)full[i * k + j];
        y[rows] = (float)((d->close[i + 10] > d->close[i]) == (sides[i] > 0));
    }
    const char *names[ML4T_F_COUNT];
    for (size_t j = 0; j < k; j++)
        names[j] = ml4t_features_name(j);
    ml4t_model_params_t p;
    ml4t_model_params_default(&p);
    p.n_estimators = 100;
    p.max_depth = 5;
    m = ml4t_model_train(X, y, NULL, rows, k, names, &p, NULL);
out:
    free(full);
    free(sides);
    free(X);
    free(y);
    return m;
}

/* The signal of instrument j at bar i: the window of `bars` bars ending at i. */
static void s_fill(ml4t_signal_t *sig, const ml4t_bars_t *d, size_t j, size_t i, size_t bars,
                   uint64_t seq)
{
    ml4t_signal_clear(sig);
    snprintf(sig->instrument_id, sizeof sig->instrument_id, "SYM%02zu", j);
    snprintf(sig->signal_id, sizeof sig->signal_id, "%llu", (unsigned long long)seq);
    sig->signal = ((i + j) / 5) % 3 - 1;
    ml4t_bars_append(&sig->bars, d, i + 1 - bars, bars);
    sig->ts_event = d->ts[i] + 60000000000ull;
}

static size_t s_arg(const ml4t_bench_opts_t *o, const char *name, size_t dflt)
{
    for (int i = 0; i + 1 < o->argc; i++)
        if (strcmp(o->argv[i], name) == 0)
            return (size_t)strtoull(o->argv[i + 1], NULL, 10);
    return dflt;
}

typedef enum { S_NO_CODEC, S_PLAIN, S_COLUMNAR } s_mode_t;

/* Replays n_signals through a fresh orchestrator; fills lat[] (ns per signal). */
static int s_replay(const ml4t_bars_t *d, ml4t_model_t *m, size_t bars, size_t n_signals,
                    s_mode_t mode, uint64_t *lat, double *seconds)
{
    ml4t_orchestrator_config_t cfg;
    ml4t_orchestrator_config_default(&cfg);
    cfg.load_model = false;
    ml4t_error_t err;
    ml4t_orchestrator_t *o = ml4t_orchestrator_new(&cfg, NULL, &err);
    ml4t_codec_t *codec = ml4t_codec_new(NULL);
    if (!o || !codec || ml4t_orchestrator_hot_swap(o, ml4t_model_ref(m), &err)) {
        fprintf(stderr, "inprocess: setup failed: %s\n", err.msg);
        return 1;
    }
    ml4t_signal_t sig, in;
    ml4t_signal_init(&sig);
    ml4t_signal_init(&in);
    ml4t_enriched_t out;
    /* warm-up: each instrument's history filled with 200 bars at its own offset */
    size_t offset[S_INSTRUMENTS];
    for (size_t j = 0; j < S_INSTRUMENTS; j++) {
        offset[j] = 300 + j * 3000;
        s_fill(&sig, d, j, offset[j], 200, 0);
        if (ml4t_orchestrator_process_signal(o, &sig, &out, &err)) {
            fprintf(stderr, "inprocess: warm-up failed: %s\n", err.msg);
            return 1;
        }
    }
    size_t step = 1, failed = 0;
    uint64_t t_start = ml4t_clock_mono_ns();
    for (size_t s = 0; s < n_signals; s++) {
        size_t j = s % S_INSTRUMENTS;
        if (j == 0 && s)
            step++;
        size_t i = offset[j] + step;
        if (i >= d->n)
            i = d->n - 1; /* past the month: the newest bar again (a duplicate) */
        s_fill(&sig, d, j, i, bars, s + 1);
        const uint8_t *buf;
        size_t len;
        if (mode != S_NO_CODEC &&
            ml4t_codec_encode_signal(codec, &sig,
                                     mode == S_PLAIN ? ML4T_BARS_PLAIN : ML4T_BARS_COLUMNAR, &buf,
                                     &len, NULL))
            return 1;
        /* the message bytes are ready before the clock starts, as off a socket */
        static uint8_t copy[1 << 20];
        if (mode != S_NO_CODEC)
            memcpy(copy, buf, len);
        uint64_t t0 = ml4t_clock_mono_ns();
        ml4t_err_t rc;
        if (mode == S_NO_CODEC) {
            rc = ml4t_orchestrator_process_decoded(o, &sig, &out, &err);
        } else {
            rc = ml4t_codec_decode_signal(codec, copy, len, &in, &err);
            if (!rc)
                rc = ml4t_orchestrator_process_decoded(o, &in, &out, &err);
            if (!rc)
                rc = ml4t_codec_encode_enriched(codec, &out, &buf, &len, &err);
        }
        lat[s] = ml4t_clock_mono_ns() - t0;
        failed += rc != ML4T_OK;
        ml4t_bench_sink(out.meta_confidence);
    }
    *seconds = (double)(ml4t_clock_mono_ns() - t_start) / 1e9;
    if (failed)
        fprintf(stderr, "inprocess: %zu signals refused (last: %s)\n", failed, err.msg);
    ml4t_signal_destroy(&sig);
    ml4t_signal_destroy(&in);
    ml4t_codec_destroy(&codec);
    ml4t_orchestrator_destroy(&o);
    return failed ? 1 : 0;
}

/* Throughput: signals per second on one thread, the clock read once. */
static double s_throughput(const ml4t_bars_t *d, ml4t_model_t *m, size_t bars, size_t n)
{
    uint64_t *lat = malloc(n * sizeof *lat);
    double secs = 0;
    if (!lat || s_replay(d, m, bars, n, S_NO_CODEC, lat, &secs)) {
        free(lat);
        return NAN;
    }
    free(lat);
    return (double)n / secs;
}

const char ml4t_bench_inprocess_usage[] = "--signals N  signals replayed (default 200000)\n--bars "
                                          "100|1  bars carried by each signal (default 100)";

int ml4t_bench_inprocess(const ml4t_bench_opts_t *opts)
{
    size_t bars = s_arg(opts, "--bars", 100);
    size_t n = s_arg(opts, "--signals", 200000);
    ml4t_bars_t d;
    ml4t_bars_init(&d);
    ml4t_csv_stats_t st;
    ml4t_error_t err;
    if (ml4t_csv_load(ML4T_BENCH_DATA_FILE, &d, &st, &err)) {
        fprintf(stderr, "inprocess: %s\n", err.msg);
        return 1;
    }
    if (bars < 1 || bars > 200 || n < 100) {
        fprintf(stderr, "inprocess: --bars must be in [1, 200], --signals >= 100\n");
        return 2;
    }
    ml4t_model_t *m = s_model(&d);
    uint64_t *lat = malloc(n * sizeof *lat);
    if (!m || !lat) {
        fprintf(stderr, "inprocess: could not train the model\n");
        return 1;
    }
    ml4t_bench_report_t r;
    ml4t_bench_report_init(&r, "inprocess", opts);
    ml4t_bench_report_add(&r, "bars_per_signal", (double)bars, "");
    ml4t_bench_report_add(&r, "signals", (double)n, "");
    ml4t_bench_report_add(&r, "instruments", S_INSTRUMENTS, "");
    ml4t_bench_report_add(&r, "model_trees", (double)ml4t_model_n_trees(m), "");
    static const struct {
        s_mode_t mode;
        const char *name;
    } modes[] = {{S_NO_CODEC, "enrich"},
                 {S_PLAIN, "decode_plain_enrich_encode"},
                 {S_COLUMNAR, "decode_columnar_enrich_encode"}};
    int rc = 0;
    for (size_t k = 0; k < 3 && !rc; k++) {
        double secs;
        rc = s_replay(&d, m, bars, n, modes[k].mode, lat, &secs);
        ml4t_bench_report_latency(&r, modes[k].name, lat, n);
    }
    double tput = s_throughput(&d, m, bars, n);
    ml4t_bench_report_add(&r, "throughput_one_thread", tput, "signals/s");
    ml4t_bench_report_print(&r);
    free(lat);
    ml4t_model_unref(&m);
    ml4t_bars_destroy(&d);
    return rc;
}
