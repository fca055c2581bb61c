/*  ml4t-bench codec [--json] [--iters N]: wire-format figures.

    Decode + validate of a 100-bar SignalEvent (real FILUSDT bars) in each bar
    encoding, encode of an EnrichedSignalEvent and of the signal, each timed
    per call over N iterations (default 1,000,000) and reported as p50/p99.
    Each single-call sample includes one clock read; that overhead is reported
    as timer_overhead, and the enriched encode (the shortest call) is also
    timed in batches of 100 calls. The msgpack-c object-tree decode of the same
    message, the design alternative, is measured over N/10 iterations. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ml4t/clock.h"
#include "ml4t/codec.h"

#include "../unit/codec_ref.h"

#define S_BARS 100

static int s_load_bars(ml4t_signal_t *s, size_t n)
{
    gzFile f = gzopen(ML4T_BENCH_DATA_FILE, "rb");
    if (!f)
        return -1;
    char line[512];
    if (!gzgets(f, line, sizeof line)) { /* header */
        gzclose(f);
        return -1;
    }
    while (s->bars.n < n && gzgets(f, line, sizeof line)) {
        unsigned long long ms;
        double o, h, l, c, v, qv, bv;
        unsigned long long close_ms, count;
        if (sscanf(line, "%llu,%lf,%lf,%lf,%lf,%lf,%llu,%lf,%llu,%lf", &ms, &o, &h, &l, &c, &v,
                   &close_ms, &qv, &count, &bv) != 10)
            break;
        ml4t_bars_push(&s->bars, (uint64_t)ms * 1000000ull, o, h, l, c, v, bv);
    }
    gzclose(f);
    return s->bars.n == n ? 0 : -1;
}

static void s_enriched(ml4t_enriched_t *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->instrument_id, sizeof e->instrument_id, "FILUSDT");
    snprintf(e->strategy_id, sizeof e->strategy_id, "sma_cross");
    snprintf(e->signal_id, sizeof e->signal_id, "sig-000123");
    snprintf(e->model_version, sizeof e->model_version, "20231101T000000-a1b2c3");
    e->signal = 1;
    e->ts_event = 1698802800000000000ull;
    e->meta_confidence = 0.6123;
    e->model_available = true;
    e->regime_weight = 0.87;
    e->toxicity = 0.41;
    e->toxicity_level = ML4T_TOXICITY_MEDIUM;
    e->changepoint_prob = 0.012;
    e->size = (ml4t_size_t){0.31, 1, 0.31, 1.0, 0.6123, 0.87, 0.59, 0.25, false, false};
    e->verdict = (ml4t_verdict_t){true, true, "within limits", 0.55, 2.0};
    e->latency_ns = 48211;
    e->ts_enriched = 1698802800000048211ull;
}

typedef enum {
    OP_DECODE_PLAIN,
    OP_DECODE_COLUMNAR,
    OP_ENCODE_ENRICHED,
    OP_ENCODE_SIGNAL_COLUMNAR,
    OP_VALIDATE,
    OP_REF_PLAIN,
    OP_REF_COLUMNAR,
    OP_NOTHING
} s_op_t;

typedef struct {
    ml4t_codec_t *codec;
    ml4t_signal_t sig, out;
    ml4t_enriched_t enriched;
    uint8_t *plain, *cols;
    size_t plain_len, cols_len;
    msgpack_unpacked unpacked;
    int failures;
} s_ctx_t;

static inline void s_run(s_ctx_t *x, s_op_t op)
{
    const uint8_t *out;
    size_t len;
    switch (op) {
    case OP_DECODE_PLAIN:
        x->failures += ml4t_codec_decode_signal(x->codec, x->plain, x->plain_len, &x->out, NULL);
        break;
    case OP_DECODE_COLUMNAR:
        x->failures += ml4t_codec_decode_signal(x->codec, x->cols, x->cols_len, &x->out, NULL);
        break;
    case OP_ENCODE_ENRICHED:
        x->failures += ml4t_codec_encode_enriched(x->codec, &x->enriched, &out, &len, NULL);
        break;
    case OP_ENCODE_SIGNAL_COLUMNAR:
        x->failures +=
            ml4t_codec_encode_signal(x->codec, &x->sig, ML4T_BARS_COLUMNAR, &out, &len, NULL);
        break;
    case OP_VALIDATE:
        x->failures += ml4t_signal_validate(&x->sig, 0, 10000, NULL);
        break;
    case OP_REF_PLAIN:
        x->failures += ref_decode_signal(&x->unpacked, x->plain, x->plain_len, &x->out) != 0;
        break;
    case OP_REF_COLUMNAR:
        x->failures += ref_decode_signal(&x->unpacked, x->cols, x->cols_len, &x->out) != 0;
        break;
    case OP_NOTHING:
        break;
    }
}

/* Times each call (batch == 1) or batches of calls (per-call mean of each batch). */
static void s_time(ml4t_bench_report_t *r, s_ctx_t *x, const char *name, s_op_t op, size_t calls,
                   size_t batch, uint64_t *samples)
{
    for (size_t i = 0; i < 1000; i++) /* warm-up: buffers grow, caches fill */
        s_run(x, op);
    size_t n = calls / batch;
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = ml4t_clock_mono_ns();
        for (size_t k = 0; k < batch; k++)
            s_run(x, op);
        samples[i] = (ml4t_clock_mono_ns() - t0) / batch;
    }
    ml4t_bench_report_latency(r, name, samples, n);
}

static size_t s_copy(const uint8_t *src, size_t len, uint8_t **dst)
{
    *dst = malloc(len);
    if (*dst)
        memcpy(*dst, src, len);
    return *dst ? len : 0;
}

static int s_sizes(ml4t_bench_report_t *r, s_ctx_t *x)
{
    const uint8_t *out;
    size_t len;
    if (ml4t_codec_encode_signal(x->codec, &x->sig, ML4T_BARS_PLAIN, &out, &len, NULL))
        return -1;
    x->plain_len = s_copy(out, len, &x->plain);
    if (ml4t_codec_encode_signal(x->codec, &x->sig, ML4T_BARS_COLUMNAR, &out, &len, NULL))
        return -1;
    x->cols_len = s_copy(out, len, &x->cols);
    ml4t_bench_report_add(r, "size_signal_100_plain", (double)x->plain_len, "bytes");
    ml4t_bench_report_add(r, "size_signal_100_columnar", (double)x->cols_len, "bytes");
    ml4t_signal_t one;
    ml4t_signal_init(&one);
    memcpy(one.instrument_id, x->sig.instrument_id, sizeof one.instrument_id);
    one.signal = 1;
    one.ts_event = x->sig.ts_event;
    ml4t_bars_append(&one.bars, &x->sig.bars, 0, 1);
    for (int enc = 0; enc < 2; enc++) {
        ml4t_codec_encode_signal(x->codec, &one, (ml4t_bars_encoding_t)enc, &out, &len, NULL);
        ml4t_bench_report_add(r, enc ? "size_signal_1_columnar" : "size_signal_1_plain",
                              (double)len, "bytes");
    }
    ml4t_signal_destroy(&one);
    ml4t_codec_encode_enriched(x->codec, &x->enriched, &out, &len, NULL);
    ml4t_bench_report_add(r, "size_enriched", (double)len, "bytes");
    return (x->plain_len && x->cols_len) ? 0 : -1;
}

const char ml4t_bench_codec_usage[] =
    "--iters N   iterations per figure (default 1000000, at least 1000)";

int ml4t_bench_codec(const ml4t_bench_opts_t *opts)
{
    size_t iters = 1000000;
    for (int i = 0; i + 1 < opts->argc; i++)
        if (strcmp(opts->argv[i], "--iters") == 0)
            iters = (size_t)strtoull(opts->argv[i + 1], NULL, 10);
    if (iters < 1000)
        iters = 1000;
    ml4t_bench_report_t r;
    ml4t_bench_report_init(&r, "codec", opts);
    s_ctx_t x = {0};
    x.codec = ml4t_codec_new(NULL);
    ml4t_signal_init(&x.sig);
    ml4t_signal_init(&x.out);
    msgpack_unpacked_init(&x.unpacked);
    snprintf(x.sig.instrument_id, sizeof x.sig.instrument_id, "FILUSDT");
    snprintf(x.sig.strategy_id, sizeof x.sig.strategy_id, "sma_cross");
    snprintf(x.sig.signal_id, sizeof x.sig.signal_id, "sig-000123");
    x.sig.signal = 1;
    x.sig.ts_event = 1698802800000000000ull;
    s_enriched(&x.enriched);
    uint64_t *samples = malloc(iters * sizeof *samples);
    int rc = 1;
    if (!x.codec || !samples || s_load_bars(&x.sig, S_BARS) || s_sizes(&r, &x)) {
        fprintf(stderr, "bench codec: setup failed (data file %s)\n", ML4T_BENCH_DATA_FILE);
        goto out;
    }
    ml4t_bench_report_add(&r, "iterations", (double)iters, "");
    s_time(&r, &x, "timer_overhead", OP_NOTHING, iters, 1, samples);
    s_time(&r, &x, "decode_signal_100_columnar", OP_DECODE_COLUMNAR, iters, 1, samples);
    s_time(&r, &x, "decode_signal_100_plain", OP_DECODE_PLAIN, iters, 1, samples);
    s_time(&r, &x, "encode_enriched", OP_ENCODE_ENRICHED, iters, 1, samples);
    s_time(&r, &x, "encode_enriched_batch100", OP_ENCODE_ENRICHED, iters, 100, samples);
    s_time(&r, &x, "encode_signal_100_columnar", OP_ENCODE_SIGNAL_COLUMNAR, iters, 1, samples);
    s_time(&r, &x, "validate_signal_100", OP_VALIDATE, iters, 1, samples);
    s_time(&r, &x, "msgpackc_tree_decode_100_plain", OP_REF_PLAIN, iters / 10, 1, samples);
    s_time(&r, &x, "msgpackc_tree_decode_100_columnar", OP_REF_COLUMNAR, iters / 10, 1, samples);
    ml4t_bench_report_add(&r, "failures", x.failures, "");
    ml4t_bench_report_print(&r);
    rc = x.failures ? 1 : 0;
out:
    free(samples);
    free(x.plain);
    free(x.cols);
    msgpack_unpacked_destroy(&x.unpacked);
    ml4t_signal_destroy(&x.sig);
    ml4t_signal_destroy(&x.out);
    ml4t_codec_destroy(&x.codec);
    return rc;
}
