/*  ml4t-bench policy: the trading-policy engine.

    verdict: the per-signal gate, against a policy with the full 256 symbols
    (a quarter disallowed); timed in batches of 256 calls (a single call is
    near the clock's resolution), reported per call.
    compute / update / similarity: the rules and the stability decision with
    256 symbols of performance data. history_save: 100 full policies as JSON. */
#include "bench.h"

#include "ml4t/clock.h"
#include "ml4t/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_BATCH 256

static void s_symbols(ml4t_policy_symbol_perf_t *perf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memset(&perf[i], 0, sizeof perf[i]);
        snprintf(perf[i].instrument_id, sizeof perf[i].instrument_id, "SYM%03zuUSDT", i);
        perf[i].tag = i % 4 == 0 ? ML4T_POLICY_TAG_BAD : ML4T_POLICY_TAG_GOOD;
    }
}

static void s_bench_verdict(ml4t_bench_report_t *r, const ml4t_trading_policy_t *pol,
                            uint64_t *samples, size_t n)
{
    ml4t_verdict_t v;
    double sink = 0;
    for (size_t s = 0; s < n; s++) {
        uint64_t t = ml4t_clock_mono_ns();
        for (size_t i = 0; i < S_BATCH; i++) {
            ml4t_policy_verdict(pol, pol->allowed[i % pol->n_allowed], 0.4 + 0.001 * (double)i, &v);
            sink += v.allowed;
        }
        samples[s] = (ml4t_clock_mono_ns() - t) / S_BATCH;
    }
    ml4t_bench_sink(sink);
    ml4t_bench_report_latency(r, "verdict", samples, n);
}

static void s_bench_rules(ml4t_bench_report_t *r, const ml4t_policy_inputs_t *in, uint64_t *samples,
                          size_t n)
{
    ml4t_policy_config_t cfg;
    ml4t_policy_config_default(&cfg);
    ml4t_trading_policy_t *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    if (!a || !b)
        goto out;
    for (size_t s = 0; s < n; s++) {
        uint64_t t = ml4t_clock_mono_ns();
        ml4t_policy_compute(&cfg, in, s, a, NULL);
        samples[s] = ml4t_clock_mono_ns() - t;
    }
    ml4t_bench_report_latency(r, "compute_256_symbols", samples, n);
    memcpy(b, a, sizeof *a);
    double sink = 0;
    for (size_t s = 0; s < n; s++) {
        uint64_t t = ml4t_clock_mono_ns();
        sink += ml4t_policy_similarity(a, b);
        samples[s] = ml4t_clock_mono_ns() - t;
    }
    ml4t_bench_sink(sink);
    ml4t_bench_report_latency(r, "similarity_256_symbols", samples, n);
out:
    free(a);
    free(b);
}

static void s_bench_engine(ml4t_bench_report_t *r, ml4t_policy_engine_t *eng,
                           const ml4t_policy_inputs_t *in, uint64_t *samples, size_t n)
{
    uint64_t now = ml4t_clock_wall_ns();
    for (size_t s = 0; s < n; s++) {
        uint64_t t = ml4t_clock_mono_ns();
        ml4t_policy_engine_update(eng, in, now + s * 1000000000ull, NULL, NULL);
        samples[s] = ml4t_clock_mono_ns() - t;
    }
    ml4t_bench_report_latency(r, "update_held_256_symbols", samples, n);
}

static void s_bench_save(ml4t_bench_report_t *r, const ml4t_policy_inputs_t *in)
{
    ml4t_policy_config_t cfg;
    ml4t_policy_config_default(&cfg);
    cfg.update_interval_s = 0;
    cfg.similarity_threshold = 1.0;
    ml4t_policy_engine_t *eng = ml4t_policy_engine_new(&cfg, NULL);
    if (!eng)
        return;
    ml4t_policy_inputs_t alt = *in;
    for (int i = 0; i < ML4T_POLICY_HISTORY_MAX; i++) {
        alt.regime = i % 2 ? ML4T_POLICY_REGIME_RANGING : ML4T_POLICY_REGIME_TRENDING;
        ml4t_policy_engine_update(eng, &alt, (uint64_t)i * 1000000000ull, NULL, NULL);
    }
    char path[256];
    snprintf(path, sizeof path, "%s/bench_policy_%ld.json", ML4T_BINARY_DIR, (long)getpid());
    uint64_t samples[5];
    for (size_t s = 0; s < 5; s++) {
        uint64_t t = ml4t_clock_mono_ns();
        ml4t_policy_history_save(eng, path, NULL);
        samples[s] = ml4t_clock_mono_ns() - t;
    }
    FILE *f = fopen(path, "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        ml4t_bench_report_add(r, "history_file_bytes", (double)ftell(f), "B");
        fclose(f);
    }
    ml4t_bench_report_add(r, "history_save_100_p50_ms", ml4t_bench_percentile(samples, 5, 50) / 1e6,
                          "ms");
    uint64_t t = ml4t_clock_mono_ns();
    ml4t_policy_history_load(eng, path, NULL);
    ml4t_bench_report_add(r, "history_load_100_ms", (double)(ml4t_clock_mono_ns() - t) / 1e6, "ms");
    unlink(path);
    ml4t_policy_engine_destroy(&eng);
}

const char ml4t_bench_policy_usage[] = "no options";

int ml4t_bench_policy(const ml4t_bench_opts_t *opts)
{
    ml4t_bench_report_t *r = malloc(sizeof *r);
    static ml4t_policy_symbol_perf_t perf[ML4T_POLICY_SYMBOLS_MAX];
    size_t n = 20000;
    uint64_t *samples = malloc(n * sizeof *samples);
    ml4t_policy_engine_t *eng = ml4t_policy_engine_new(NULL, NULL);
    if (!r || !samples || !eng) {
        fprintf(stderr, "bench policy: out of memory\n");
        return 1;
    }
    ml4t_bench_report_init(r, "policy", opts);
    s_symbols(perf, ML4T_POLICY_SYMBOLS_MAX);
    ml4t_policy_inputs_t in;
    ml4t_policy_inputs_init(&in);
    in.regime = ML4T_POLICY_REGIME_TRENDING;
    in.volatility = ML4T_POLICY_VOL_HIGH;
    in.symbols = perf;
    in.n_symbols = ML4T_POLICY_SYMBOLS_MAX;
    ml4t_policy_engine_update(eng, &in, 1, NULL, NULL);
    s_bench_verdict(r, ml4t_policy_engine_current(eng), samples, n);
    s_bench_rules(r, &in, samples, 5000);
    s_bench_engine(r, eng, &in, samples, 5000);
    s_bench_save(r, &in);
    ml4t_bench_report_print(r);
    ml4t_policy_engine_destroy(&eng);
    free(samples);
    free(r);
    return 0;
}
