/*  ml4t-bench SUITE [--json] [suite options]: benchmarks that print figures. */
#include "bench.h"
#include "ml4t/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_suites.h"

static volatile double s_sink;

void ml4t_bench_sink(double v)
{
    s_sink += v;
}

void ml4t_bench_report_init(ml4t_bench_report_t *r, const char *suite,
                            const ml4t_bench_opts_t *opts)
{
    memset(r, 0, sizeof *r);
    r->suite = suite;
    r->json = opts->json;
}

static void *s_slot(ml4t_bench_report_t *r, const char *name)
{
    if (r->n == ML4T_BENCH_MAX_FIGURES)
        return NULL;
    snprintf(r->fig[r->n].name, sizeof r->fig[r->n].name, "%s", name);
    return &r->fig[r->n++];
}

void ml4t_bench_report_add(ml4t_bench_report_t *r, const char *name, double value, const char *unit)
{
    if (!s_slot(r, name))
        return;
    r->fig[r->n - 1].value = value;
    snprintf(r->fig[r->n - 1].unit, sizeof r->fig[r->n - 1].unit, "%s", unit ? unit : "");
}

void ml4t_bench_report_text(ml4t_bench_report_t *r, const char *name, const char *text)
{
    if (!s_slot(r, name))
        return;
    snprintf(r->fig[r->n - 1].text, sizeof r->fig[r->n - 1].text, "%s", text);
}

static void s_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

void ml4t_bench_report_print(const ml4t_bench_report_t *r)
{
    if (r->json) {
        printf("{\"suite\":");
        s_json_string(r->suite);
        printf(",\"figures\":{");
        for (size_t i = 0; i < r->n; i++) {
            printf(i ? "," : "");
            s_json_string(r->fig[i].name);
            putchar(':');
            if (r->fig[i].text[0])
                s_json_string(r->fig[i].text);
            else
                printf("%.6g", r->fig[i].value);
        }
        printf("}}\n");
        return;
    }
    printf("ml4t-bench %s\n", r->suite);
    for (size_t i = 0; i < r->n; i++) {
        if (r->fig[i].text[0])
            printf("  %-44s %s\n", r->fig[i].name, r->fig[i].text);
        else
            printf("  %-44s %14.6g %s\n", r->fig[i].name, r->fig[i].value, r->fig[i].unit);
    }
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

double ml4t_bench_percentile(uint64_t *samples, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    qsort(samples, n, sizeof *samples, s_cmp_u64);
    size_t idx = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    if (idx >= n)
        idx = n - 1;
    return (double)samples[idx];
}

void ml4t_bench_report_latency(ml4t_bench_report_t *r, const char *name, uint64_t *samples,
                               size_t n)
{
    char key[96];
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)samples[i];
    static const struct {
        const char *suffix;
        double p;
    } ps[] = {{"p50", 50.0}, {"p99", 99.0}, {"p999", 99.9}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "%s_%s_ns", name, ps[i].suffix);
        ml4t_bench_report_add(r, key, ml4t_bench_percentile(samples, n, ps[i].p), "ns");
    }
    snprintf(key, sizeof key, "%s_mean_ns", name);
    ml4t_bench_report_add(r, key, n ? sum / (double)n : 0.0, "ns");
}

static void s_usage(FILE *out)
{
    fprintf(out, "usage: ml4t-bench SUITE [--json] [suite options]\n"
                 "Runs one benchmark suite and prints its figures (a table, or one JSON "
                 "object with --json).\nsuites:");
    for (size_t i = 0; s_suites[i].name; i++)
        fprintf(out, " %s", s_suites[i].name);
    fprintf(out, "\n'ml4t-bench SUITE --help' lists a suite's options.\n");
}

int main(int argc, char **argv)
{
    ml4t_sched_passive_openmp(argv); /* returns only when it did not re-execute */
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    ml4t_bench_opts_t opts = {false, 0, NULL};
    char **rest = calloc((size_t)argc, sizeof *rest);
    if (!rest)
        return 1;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            opts.json = true;
        else
            rest[opts.argc++] = argv[i];
    }
    opts.argv = rest;
    for (size_t i = 0; s_suites[i].name; i++) {
        if (strcmp(s_suites[i].name, argv[1]) != 0)
            continue;
        for (int k = 0; s_suites[i].usage[0] && k < opts.argc; k++) {
            if (strcmp(rest[k], "--help") == 0 || strcmp(rest[k], "-h") == 0) {
                printf("usage: ml4t-bench %s [--json] [options]\n%s\n", s_suites[i].name,
                       s_suites[i].usage);
                free(rest);
                return 0;
            }
        }
        int rc = s_suites[i].run(&opts);
        free(rest);
        return rc;
    }
    fprintf(stderr, "ml4t-bench: unknown suite '%s'\n", argv[1]);
    s_usage(stderr);
    free(rest);
    return 2;
}
