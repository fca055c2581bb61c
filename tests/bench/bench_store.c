/*  ml4t-bench store: the history writer's cost per signal.

    A one-bar signal leaves two records in the history store: its bar and its
    prediction. This suite feeds a store at a fixed rate, as the node's hot
    path does (bars of the bundled month, round-robin over ten instruments,
    and a prediction per signal), flushes it, and reports what the writer
    thread took: CPU per signal, transactions, records per transaction, and
    the bytes written (the WAL and its checkpoints) per signal. Each flush
    interval is measured at each rate, in a fresh directory under TMPDIR.

    The writer's CPU is the process's less the producer's own thread. */
#include "bench.h"

#include "ml4t/clock.h"
#include "ml4t/csv.h"
#include "ml4t/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_LIST    8
#define S_INSTRUMENTS 10

const char ml4t_bench_store_usage[] =
    "--seconds S        how long each rate is fed (default 5)\n"
    "--rates R,...      signals per second, a bar and a prediction each (default 1000,10000)\n"
    "--intervals MS,... the writer's flush_interval_ms settings compared (default 20,200)\n"
    "--batch N          records per transaction at most, and per wake-up (default 4096)";

/* This thread's CPU time, s. */
static double s_thread_cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double s_process_cpu(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

/* Bytes this process has passed to write(2) and its kin (/proc/self/io). */
static double s_written(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    double v = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "wchar:", 6) == 0)
            v = atof(line + 6);
    if (f)
        fclose(f);
    return v;
}

/* A comma-separated list of positive numbers; its length, 0 when invalid. */
static size_t s_list(const char *arg, double *out)
{
    size_t n = 0;
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        double v = strtod(tok, &end);
        if (*end || !(v > 0) || n == S_MAX_LIST)
            return 0;
        out[n++] = v;
    }
    return n;
}

typedef struct {
    double cpu_us, tx, records, written;
    uint64_t signals, dropped;
} s_result_t;

/* Feeds one store at rate for seconds, flushes it; false when it cannot run. */
static bool s_feed(const ml4t_bars_t *month, int interval_ms, size_t batch, double rate,
                   double seconds, s_result_t *res)
{
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/ml4t-bench-store-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(path)) {
        fprintf(stderr, "bench store: cannot create a directory like %s\n", path);
        return false;
    }
    ml4t_store_config_t cfg;
    ml4t_store_config_default(&cfg);
    cfg.flush_interval_ms = interval_ms;
    cfg.batch_max = batch;
    ml4t_error_t err;
    ml4t_store_t *st = ml4t_store_open(path, &cfg, &err);
    if (!st) {
        fprintf(stderr, "bench store: %s\n", err.msg);
        return false;
    }
    char ids[S_INSTRUMENTS][16], sid[32];
    for (int i = 0; i < S_INSTRUMENTS; i++)
        snprintf(ids[i], sizeof ids[i], "BENCH%dUSDT", i);
    const uint64_t t0_ns = 1700000000000000000ull, bar_ns = 60000000000ull;
    double w0 = s_written(), cpu0 = s_process_cpu(), own0 = s_thread_cpu();
    uint64_t start = ml4t_clock_mono_ns();
    uint64_t n = 0;
    for (;;) {
        double el = (double)(ml4t_clock_mono_ns() - start) / 1e9;
        if (el >= seconds)
            break;
        for (uint64_t due = (uint64_t)(el * rate); n < due; n++) {
            size_t i = n % S_INSTRUMENTS, k = n / S_INSTRUMENTS, r = k % month->n;
            uint64_t ts = t0_ns + k * bar_ns;
            ml4t_store_put_bar(st, ids[i], ts, month->open[r], month->high[r], month->low[r],
                               month->close[r], month->volume[r], month->buy_volume[r]);
            snprintf(sid, sizeof sid, "sig-%llu", (unsigned long long)n);
            ml4t_store_put_prediction(st, ids[i], sid, ts + bar_ns, n % 2 ? 1 : -1, 0.6,
                                      "v0001-20231105T120000Z", ts + bar_ns);
        }
        struct timespec nap = {0, 100000};
        nanosleep(&nap, NULL);
    }
    bool flushed = ml4t_store_flush(st, 600000) == ML4T_OK;
    double cpu = s_process_cpu() - cpu0 - (s_thread_cpu() - own0);
    double written = s_written() - w0;
    ml4t_store_stats_t ss;
    ml4t_store_stats(st, &ss);
    ml4t_store_close(&st);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "bench store: could not remove %s\n", path);
    if (!flushed || n == 0) {
        fprintf(stderr, "bench store: the writer did not drain the queue\n");
        return false;
    }
    res->signals = n;
    res->dropped = ss.dropped;
    res->cpu_us = cpu * 1e6 / (double)n;
    res->tx = (double)ss.transactions;
    res->records = (double)ss.stored;
    res->written = written / (double)n;
    return true;
}

int ml4t_bench_store(const ml4t_bench_opts_t *opts)
{
    double seconds = 5, rates[S_MAX_LIST] = {1000, 10000}, intervals[S_MAX_LIST] = {20, 200};
    size_t n_rates = 2, n_intervals = 2, batch = 4096;
    for (int i = 0; i < opts->argc; i += 2) { /* an option and its value */
        const char *a = opts->argv[i], *v = i + 1 < opts->argc ? opts->argv[i + 1] : NULL;
        bool ok = v != NULL;
        if (ok && !strcmp(a, "--seconds"))
            ok = (seconds = atof(v)) >= 0.5 && seconds <= 600;
        else if (ok && !strcmp(a, "--rates"))
            ok = (n_rates = s_list(v, rates)) > 0;
        else if (ok && !strcmp(a, "--intervals")) {
            ok = (n_intervals = s_list(v, intervals)) > 0;
            for (size_t k = 0; ok && k < n_intervals; k++)
                ok = intervals[k] >= 1 && intervals[k] <= 60000;
        } else if (ok && !strcmp(a, "--batch"))
            ok = (batch = (size_t)atol(v)) >= 1 && batch <= 1000000;
        else
            ok = false;
        if (!ok) {
            fprintf(stderr, "bench store: bad option %s%s%s\nusage: ml4t-bench store %s\n", a,
                    v ? " " : "", v ? v : "",
                    "[--seconds S] [--rates R,...] [--intervals MS,...]"
                    " [--batch N]");
            return 2;
        }
    }
    ml4t_bars_t month;
    ml4t_bars_init(&month);
    ml4t_csv_stats_t cs;
    ml4t_error_t err;
    if (ml4t_csv_load(ML4T_BENCH_DATA_FILE, &month, &cs, &err) || month.n == 0) {
        fprintf(stderr, "bench store: %s\n", err.msg);
        ml4t_bars_destroy(&month);
        return 1;
    }
    ml4t_bench_report_t r;
    ml4t_bench_report_init(&r, "store", opts);
    if (!opts->json)
        printf("history writer, one-bar signals (a bar and a prediction each), %g s per rate, "
               "batch %zu\n%10s %8s | %12s %8s %11s %13s %8s\n",
               seconds, batch, "flush ms", "rate/s", "cpu us/sig", "tx/s", "records/tx",
               "bytes out/sig", "dropped");
    int rc = 0;
    for (size_t a = 0; a < n_intervals && rc == 0; a++)
        for (size_t b = 0; b < n_rates && rc == 0; b++) {
            s_result_t res;
            if (!s_feed(&month, (int)intervals[a], batch, rates[b], seconds, &res)) {
                rc = 1;
                break;
            }
            double tx_s = res.tx / seconds, per_tx = res.tx > 0 ? res.records / res.tx : 0;
            if (!opts->json)
                printf("%10.0f %8.0f | %12.2f %8.1f %11.0f %13.0f %8llu\n", intervals[a], rates[b],
                       res.cpu_us, tx_s, per_tx, res.written, (unsigned long long)res.dropped);
            char name[96];
            snprintf(name, sizeof name, "flush%.0fms_%.0f_cpu_us_per_signal", intervals[a],
                     rates[b]);
            ml4t_bench_report_add(&r, name, res.cpu_us, "us");
            snprintf(name, sizeof name, "flush%.0fms_%.0f_tx_per_s", intervals[a], rates[b]);
            ml4t_bench_report_add(&r, name, tx_s, "");
            snprintf(name, sizeof name, "flush%.0fms_%.0f_bytes_per_signal", intervals[a],
                     rates[b]);
            ml4t_bench_report_add(&r, name, res.written, "B");
            snprintf(name, sizeof name, "flush%.0fms_%.0f_dropped", intervals[a], rates[b]);
            ml4t_bench_report_add(&r, name, (double)res.dropped, "");
        }
    if (opts->json && rc == 0)
        ml4t_bench_report_print(&r);
    ml4t_bars_destroy(&month);
    return rc;
}
