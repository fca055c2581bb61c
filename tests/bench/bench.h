/*  ml4t-bench: shared pieces for benchmark suites.

    A suite collects figures into a report; the report prints as an aligned
    table, or with --json as one JSON object {"suite":..., "figures":{...}}.
    Timing figures are measured, printed and never asserted. */
#ifndef ML4T_BENCH_H_INCLUDED
#define ML4T_BENCH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    bool json; /* --json given */
    int argc;  /* arguments after the suite name (suite-specific options) */
    char **argv;
} ml4t_bench_opts_t;

typedef struct {
    const char *name;
    int (*run)(const ml4t_bench_opts_t *opts);
    const char *usage; /* its options, one per line; "": it prints its own on --help */
} ml4t_bench_suite_t;

#define ML4T_BENCH_MAX_FIGURES 256

typedef struct {
    const char *suite;
    bool json;
    size_t n;
    struct {
        char name[96];
        double value;
        char unit[24];
        char text[160]; /* when non-empty: a string figure */
    } fig[ML4T_BENCH_MAX_FIGURES];
} ml4t_bench_report_t;

void ml4t_bench_report_init(ml4t_bench_report_t *r, const char *suite,
                            const ml4t_bench_opts_t *opts);
void ml4t_bench_report_add(ml4t_bench_report_t *r, const char *name, double value,
                           const char *unit);
void ml4t_bench_report_text(ml4t_bench_report_t *r, const char *name, const char *text);
/* Prints the report (table or JSON) to stdout. */
void ml4t_bench_report_print(const ml4t_bench_report_t *r);

/* Sorts samples in place and returns the p-th percentile (p in [0, 100]). */
double ml4t_bench_percentile(uint64_t *samples, size_t n, double p);
/* Adds name_p50, name_p99, name_p999 (and mean) of samples in ns. Sorts in place. */
void ml4t_bench_report_latency(ml4t_bench_report_t *r, const char *name, uint64_t *samples,
                               size_t n);

/* Path of the bundled month of real bars. */
#define ML4T_BENCH_DATA_FILE ML4T_SOURCE_DIR "/examples/data/FILUSDT-1m-2023-11.csv.gz"
/* Directory of the larger shared data set (may be absent). */
#define ML4T_BENCH_SHARED_DATA ML4T_SOURCE_DIR "/../shared/data/binance-1m"

/* Keeps the compiler from optimizing a result away. */
void ml4t_bench_sink(double v);

#endif
