/*  ml4t-bench swap: a reader's acquire + predict + release latency through the
    model slot, with no swaps and with another thread swapping every millisecond,
    and the swapper's own swap latency.

    Two 100-tree depth-5 models trained on real feature rows; the reader runs
    for a fixed time per phase. Options: [seconds S] per phase (default 2). */
#include "bench.h"

#include "ml4t/clock.h"
#include "ml4t/model_slot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../unit/model_fixture.h"

#define S_MAX_SAMPLES 8000000
#define S_MAX_SWAPS   100000

typedef struct {
    ml4t_model_slot_t *slot;
    ml4t_model_t *models[2];
    atomic_bool stop;
    uint64_t *swap_ns;
    size_t n_swaps;
} s_swapper_t;

static void *s_swapper(void *arg)
{
    s_swapper_t *s = arg;
    struct timespec ms = {0, 1000000};
    while (!atomic_load(&s->stop) && s->n_swaps < S_MAX_SWAPS) {
        nanosleep(&ms, NULL);
        ml4t_model_t *next = ml4t_model_ref(s->models[(s->n_swaps + 1) % 2]);
        uint64_t t0 = ml4t_clock_mono_ns();
        ml4t_model_slot_swap(s->slot, next);
        s->swap_ns[s->n_swaps++] = ml4t_clock_mono_ns() - t0;
    }
    return NULL;
}

/* acquire + predict + release for `seconds`; returns the samples taken. */
static size_t s_reader(ml4t_model_slot_t *slot, const double *Xd, size_t n, double seconds,
                       uint64_t *t, bool predict)
{
    uint64_t end = ml4t_clock_mono_ns() + (uint64_t)(seconds * 1e9);
    size_t i = 0;
    double sum = 0;
    double x[T_ROW_K];
    for (; i < S_MAX_SAMPLES; i++) {
        /* a fresh feature row sits in cache; so does this copy (see bench_predict.c) */
        memcpy(x, Xd + ((i * 7919) % n) * T_ROW_K, sizeof x);
        uint64_t t0 = ml4t_clock_mono_ns();
        ml4t_model_t *m = ml4t_model_slot_acquire(slot);
        double p = 0;
        if (predict && m)
            ml4t_model_predict_row(m, x, &p);
        ml4t_model_slot_release(slot, &m);
        uint64_t t1 = ml4t_clock_mono_ns();
        t[i] = t1 - t0;
        sum += p;
        if ((i & 1023) == 0 && t1 > end)
            break;
    }
    ml4t_bench_sink(sum);
    return i;
}

static ml4t_model_t *s_train(const float *X, const float *y, size_t n, uint32_t seed)
{
    ml4t_model_params_t p;
    ml4t_model_params_default(&p);
    p.seed = seed;
    ml4t_error_t err;
    ml4t_model_t *m = ml4t_model_train(X, y, NULL, n, T_ROW_K, t_row_names(), &p, &err);
    if (!m)
        fprintf(stderr, "bench swap: train: %s\n", err.msg);
    return m;
}

const char ml4t_bench_swap_usage[] =
    "seconds S   how long the reader runs in each phase (default 2)";

int ml4t_bench_swap(const ml4t_bench_opts_t *opts)
{
    double seconds = 2.0;
    for (int i = 0; i + 1 < opts->argc; i++)
        if (!strcmp(opts->argv[i], "seconds"))
            seconds = atof(opts->argv[i + 1]);
    float *X = NULL, *y = NULL;
    size_t n = t_rows_load(ML4T_BENCH_DATA_FILE, 100000, &X, &y, NULL);
    if (n < 25000)
        return 1;
    double *Xd = t_rows_to_double(X, n);
    s_swapper_t sw = {0};
    sw.models[0] = s_train(X, y, 20000, 1);
    sw.models[1] = s_train(X + 20000 * T_ROW_K, y + 20000, n - 20000, 2);
    uint64_t *t = malloc(S_MAX_SAMPLES * sizeof *t);
    sw.swap_ns = malloc(S_MAX_SWAPS * sizeof *sw.swap_ns);
    if (!sw.models[0] || !sw.models[1] || !t || !sw.swap_ns)
        return 1;
    sw.slot = ml4t_model_slot_new(ml4t_model_ref(sw.models[0]));
    ml4t_bench_report_t r;
    ml4t_bench_report_init(&r, "swap", opts);

    size_t k = s_reader(sw.slot, Xd, n, seconds / 4, t, false);
    ml4t_bench_report_latency(&r, "acquire_release_no_swap", t, k);
    k = s_reader(sw.slot, Xd, n, seconds, t, true);
    ml4t_bench_report_latency(&r, "acquire_predict_release_no_swap", t, k);

    pthread_t th;
    atomic_init(&sw.stop, false);
    pthread_create(&th, NULL, s_swapper, &sw);
    k = s_reader(sw.slot, Xd, n, seconds, t, true);
    atomic_store(&sw.stop, true);
    pthread_join(th, NULL);
    ml4t_bench_report_latency(&r, "acquire_predict_release_swap_1ms", t, k);
    ml4t_bench_report_add(&r, "reader_samples_during_swaps", (double)k, "");
    ml4t_bench_report_add(&r, "swaps_during_reads", (double)sw.n_swaps, "");
    ml4t_bench_report_latency(&r, "swap", sw.swap_ns, sw.n_swaps);
    ml4t_bench_report_print(&r);

    ml4t_model_slot_destroy(&sw.slot);
    ml4t_model_unref(&sw.models[0]);
    ml4t_model_unref(&sw.models[1]);
    free(sw.swap_ns);
    free(t);
    free(X);
    free(y);
    free(Xd);
    return 0;
}
