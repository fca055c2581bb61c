/*  ml4t-bench analytics: features, changepoint detection and labels on the
    bundled month of real 1m bars (43,200 bars).

    Figures:
      features_incremental_ns_per_bar  state update + get, BOCD included, month average
      features_incremental_*           per-bar update+get percentiles
      bocd_ns_per_bar                  ml4t_bocd_update alone, month average
      bocd_update_*                    per-update percentiles
      features_batch_100bars_*         ml4t_features_compute on a 100-bar window
      labels_ns_per_bar                ATR + triple barrier over the month, per bar
    Other analytics figures are added as further s_bench_* steps in the table
    at the bottom. Usage: ml4t-bench analytics [--json] */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ml4t/bocd.h"
#include "ml4t/clock.h"
#include "ml4t/csv.h"
#include "ml4t/features.h"
#include "ml4t/vpin.h"
#include "ml4t/labels.h"

static size_t s_load(const char *path, ml4t_bars_t *bars)
{
    ml4t_error_t err;
    if (ml4t_csv_load(path, bars, NULL, &err) != ML4T_OK)
        fprintf(stderr, "ml4t-bench analytics: %s\n", err.msg);
    return bars->n;
}

typedef struct {
    ml4t_bench_report_t *report;
    const ml4t_bars_t *bars;
    uint64_t *samples; /* bars->n slots */
} s_ctx_t;

static int s_bench_features_incremental(s_ctx_t *c)
{
    const ml4t_bars_t *b = c->bars;
    ml4t_features_state_t *st = ml4t_features_state_new(NULL, NULL);
    if (!st)
        return -1;
    double f[ML4T_F_COUNT];
    uint64_t t0 = ml4t_clock_mono_ns();
    for (size_t i = 0; i < b->n; i++) {
        ml4t_features_state_update(st, b->ts[i], b->open[i], b->high[i], b->low[i], b->close[i],
                                   b->volume[i], b->buy_volume[i]);
        ml4t_features_state_get(st, 1, f);
        ml4t_bench_sink(f[0]);
    }
    uint64_t total = ml4t_clock_mono_ns() - t0;
    ml4t_bench_report_add(c->report, "features_incremental_ns_per_bar",
                          (double)total / (double)b->n, "ns");
    ml4t_features_state_reset(st);
    for (size_t i = 0; i < b->n; i++) {
        uint64_t s = ml4t_clock_mono_ns();
        ml4t_features_state_update(st, b->ts[i], b->open[i], b->high[i], b->low[i], b->close[i],
                                   b->volume[i], b->buy_volume[i]);
        ml4t_features_state_get(st, 1, f);
        c->samples[i] = ml4t_clock_mono_ns() - s;
        ml4t_bench_sink(f[0]);
    }
    ml4t_bench_report_latency(c->report, "features_incremental", c->samples, b->n);
    ml4t_features_state_destroy(&st);
    return 0;
}

static int s_bench_bocd(s_ctx_t *c)
{
    const ml4t_bars_t *b = c->bars;
    ml4t_bocd_t *bocd = ml4t_bocd_new(NULL, NULL);
    if (!bocd)
        return -1;
    size_t n = b->n - 1;
    double *ret = malloc(n * sizeof *ret);
    if (!ret) {
        ml4t_bocd_destroy(&bocd);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        ret[i] = log(b->close[i + 1] / b->close[i]);
    size_t alarms = 0;
    uint64_t t0 = ml4t_clock_mono_ns();
    for (size_t i = 0; i < n; i++) {
        ml4t_bocd_update(bocd, ret[i]);
        alarms += ml4t_bocd_alarm(bocd);
    }
    uint64_t total = ml4t_clock_mono_ns() - t0;
    ml4t_bench_report_add(c->report, "bocd_ns_per_bar", (double)total / (double)n, "ns");
    ml4t_bench_report_add(c->report, "bocd_alarms_in_month", (double)alarms, "");
    ml4t_bocd_reset(bocd);
    for (size_t i = 0; i < n; i++) {
        uint64_t s = ml4t_clock_mono_ns();
        ml4t_bocd_update(bocd, ret[i]);
        c->samples[i] = ml4t_clock_mono_ns() - s;
    }
    ml4t_bench_sink(ml4t_bocd_cp_prob(bocd));
    ml4t_bench_report_latency(c->report, "bocd_update", c->samples, n);
    free(ret);
    ml4t_bocd_destroy(&bocd);
    return 0;
}

static int s_bench_features_batch(s_ctx_t *c)
{
    const ml4t_bars_t *b = c->bars;
    ml4t_bars_t win;
    ml4t_bars_init(&win);
    double f[ML4T_F_COUNT];
    size_t n = 0;
    /* windows ending every 20th bar: 2,155 calls over the month */
    for (size_t end = 99; end < b->n; end += 20) {
        ml4t_bars_clear(&win);
        if (ml4t_bars_append(&win, b, end - 99, 100) != ML4T_OK)
            break;
        uint64_t s = ml4t_clock_mono_ns();
        ml4t_features_compute(NULL, &win, 99, 1, f, NULL);
        c->samples[n++] = ml4t_clock_mono_ns() - s;
        ml4t_bench_sink(f[ML4T_F_CHANGEPOINT]);
    }
    ml4t_bench_report_latency(c->report, "features_batch_100bars", c->samples, n);
    ml4t_bars_destroy(&win);
    return 0;
}

static int s_bench_labels(s_ctx_t *c)
{
    const ml4t_bars_t *b = c->bars;
    int *sig = malloc(b->n * sizeof *sig);
    ml4t_label_t *out = malloc(b->n * sizeof *out);
    if (!sig || !out) {
        free(sig);
        free(out);
        return -1;
    }
    for (size_t i = 0; i < b->n; i++)
        sig[i] = (int)(i % 3) - 1; /* two bars in three carry a signal */
    ml4t_labels_config_t cfg = ml4t_labels_config_default();
    const int reps = 5;
    uint64_t best = UINT64_MAX;
    for (int r = 0; r < reps; r++) {
        uint64_t s = ml4t_clock_mono_ns();
        ml4t_labels_from_bars(&cfg, b, sig, out, NULL);
        uint64_t d = ml4t_clock_mono_ns() - s;
        best = d < best ? d : best;
    }
    size_t meta = 0;
    for (size_t i = 0; i < b->n; i++)
        meta += (size_t)out[i].meta;
    ml4t_bench_report_add(c->report, "labels_ns_per_bar", (double)best / (double)b->n, "ns");
    ml4t_bench_report_add(c->report, "labels_meta_positive_share",
                          (double)meta / (double)(b->n * 2 / 3), "");
    free(sig);
    free(out);
    return 0;
}

/* VPIN over the month: real taker-buy volume, then bulk volume classification. */
static int s_bench_vpin(s_ctx_t *c)
{
    const ml4t_bars_t *b = c->bars;
    static const struct {
        bool force_bvc;
        const char *name;
    } modes[] = {{false, "vpin_taker_buy_ns_per_bar"}, {true, "vpin_bvc_ns_per_bar"}};
    for (size_t k = 0; k < 2; k++) {
        ml4t_vpin_config_t cfg = ml4t_vpin_config_default();
        cfg.bucket_volume = ml4t_vpin_bucket_volume_from_bars(b);
        cfg.force_bvc = modes[k].force_bvc;
        ml4t_vpin_t *v = ml4t_vpin_new(&cfg, NULL);
        if (!v)
            return -1;
        uint64_t t0 = ml4t_clock_mono_ns();
        for (size_t i = 0; i < b->n; i++)
            ml4t_vpin_update(v, b->close[i], b->volume[i], b->buy_volume[i], NULL);
        uint64_t total = ml4t_clock_mono_ns() - t0;
        ml4t_bench_sink(ml4t_vpin_value(v));
        ml4t_bench_report_add(c->report, modes[k].name, (double)total / (double)b->n, "ns");
        ml4t_vpin_destroy(&v);
    }
    return 0;
}

static int (*const s_steps[])(s_ctx_t *) = {
    s_bench_vpin,   s_bench_features_incremental, s_bench_bocd, s_bench_features_batch,
    s_bench_labels,
};

const char ml4t_bench_analytics_usage[] = "no options";

int ml4t_bench_analytics(const ml4t_bench_opts_t *opts)
{
    ml4t_bench_report_t *report = malloc(sizeof *report);
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    int rc = 1;
    if (!report)
        goto out;
    ml4t_bench_report_init(report, "analytics", opts);
    if (s_load(ML4T_BENCH_DATA_FILE, &bars) < 1000) {
        fprintf(stderr, "ml4t-bench analytics: cannot read %s\n", ML4T_BENCH_DATA_FILE);
        goto out;
    }
    s_ctx_t ctx = {report, &bars, malloc(bars.n * sizeof(uint64_t))};
    if (!ctx.samples)
        goto out;
    ml4t_bench_report_add(report, "bars", (double)bars.n, "");
    rc = 0;
    for (size_t i = 0; i < sizeof s_steps / sizeof s_steps[0] && rc == 0; i++)
        rc = s_steps[i](&ctx) ? 1 : 0;
    free(ctx.samples);
    if (rc == 0)
        ml4t_bench_report_print(report);
out:
    ml4t_bars_destroy(&bars);
    free(report);
    return rc;
}
