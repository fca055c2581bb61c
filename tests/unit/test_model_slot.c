/*  ml4t_model_slot tests: publication, references, and readers racing swaps. */
/* ctest-labels: threaded */
#include "ml4t/model_slot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "model_fixture.h"
#include "testutil.h"

/* ThreadSanitizer slows each prediction about tenfold (1M took 9 s): there the
   readers make 250k predictions instead of 1M (same threads, same 1,000 swaps). */
#if defined(__SANITIZE_THREAD__)
#define S_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define S_TSAN 1
#endif
#endif
#ifdef S_TSAN
#define S_PREDICTIONS 250000
#else
#define S_PREDICTIONS 1000000
#endif
#define S_READERS 4
#define S_SWAPS   1000
#define S_ROWS    512

static struct {
    float *X, *y;
    double *Xd;
    size_t n;
    ml4t_model_t *a, *b;
    double pa[S_ROWS], pb[S_ROWS]; /* each model's output per row, computed alone */
} s_fx;

static ml4t_model_t *s_train(uint32_t seed, int depth)
{
    ml4t_model_params_t p;
    ml4t_model_params_default(&p);
    p.n_estimators = 30;
    p.max_depth = depth;
    p.seed = seed;
    p.nthread = 1; /* see t_last_reader_frees */
    ml4t_error_t err;
    ml4t_model_t *m =
        ml4t_model_train(s_fx.X, s_fx.y, NULL, 4000, T_ROW_K, t_row_names(), &p, &err);
    if (!m)
        fprintf(stderr, "  train: %s\n", err.msg);
    return m;
}

static int s_fixture(void)
{
    if (s_fx.a)
        return 0;
    s_fx.n = t_rows_load(T_DATA_FILE, 6000, &s_fx.X, &s_fx.y, NULL);
    if (s_fx.n < 6000)
        return -1;
    s_fx.Xd = t_rows_to_double(s_fx.X, s_fx.n);
    s_fx.a = s_train(1, 3);
    s_fx.b = s_train(2, 4);
    if (!s_fx.a || !s_fx.b)
        return -1;
    for (size_t i = 0; i < S_ROWS; i++) {
        ml4t_model_predict_row(s_fx.a, s_fx.Xd + (4000 + i) * T_ROW_K, &s_fx.pa[i]);
        ml4t_model_predict_row(s_fx.b, s_fx.Xd + (4000 + i) * T_ROW_K, &s_fx.pb[i]);
    }
    return 0;
}

static void t_empty_slot(void)
{
    ml4t_model_slot_t *slot = ml4t_model_slot_new(NULL);
    REQUIRE(slot);
    CHECK(ml4t_model_slot_acquire(slot) == NULL);
    char buf[80] = "x";
    CHECK_EQ_INT(ml4t_model_slot_version(slot, buf, sizeof buf), ML4T_ENOTFOUND);
    CHECK_STR(buf, "");
    CHECK_EQ_INT(ml4t_model_slot_swaps(slot), 0);
    ml4t_model_t *none = NULL;
    ml4t_model_slot_release(slot, &none); /* NULL: nothing */
    ml4t_model_slot_destroy(&slot);
    CHECK(slot == NULL);
    ml4t_model_slot_destroy(&slot);
}

static void t_publish_and_references(void)
{
    REQUIRE(s_fixture() == 0);
    ml4t_model_slot_t *slot = ml4t_model_slot_new(ml4t_model_ref(s_fx.a));
    REQUIRE(slot);
    CHECK_EQ_INT(ml4t_model_refcount(s_fx.a), 2); /* ours and the slot's */
    ml4t_model_t *m = ml4t_model_slot_acquire(slot);
    CHECK(m == s_fx.a);
    CHECK_EQ_INT(ml4t_model_refcount(s_fx.a), 3);
    char buf[80];
    CHECK_EQ_INT(ml4t_model_slot_version(slot, buf, sizeof buf), ML4T_OK);
    CHECK_STR(buf, ml4t_model_version(s_fx.a));

    ml4t_model_slot_swap(slot, ml4t_model_ref(s_fx.b));
    CHECK_EQ_INT(ml4t_model_slot_swaps(slot), 1);
    /* the reader's reference keeps the old model; the slot let go of it */
    CHECK_EQ_INT(ml4t_model_refcount(s_fx.a), 2);
    double p;
    ml4t_model_predict_row(m, s_fx.Xd + 4000 * T_ROW_K, &p);
    CHECK(p == s_fx.pa[0]);
    ml4t_model_slot_release(slot, &m);
    CHECK(m == NULL);
    CHECK_EQ_INT(ml4t_model_refcount(s_fx.a), 1);

    m = ml4t_model_slot_acquire(slot);
    CHECK(m == s_fx.b);
    ml4t_model_slot_release(slot, &m);
    CHECK_EQ_INT(ml4t_model_slot_version(slot, buf, sizeof buf), ML4T_OK);
    CHECK_STR(buf, ml4t_model_version(s_fx.b));

    ml4t_model_slot_swap(slot, NULL); /* empty it */
    CHECK(ml4t_model_slot_acquire(slot) == NULL);
    CHECK_EQ_INT(ml4t_model_refcount(s_fx.b), 1);
    ml4t_model_slot_destroy(&slot);
}

/* A model only the slot and a reader hold is freed by the reader's release
   (ASan reports a leak or a use-after-free otherwise). */
static void t_last_reader_frees(void)
{
    REQUIRE(s_fixture() == 0);
    ml4t_model_params_t p;
    ml4t_model_params_default(&p);
    p.n_estimators = 3;
    p.nthread = 1; /* libgomp is not instrumented: OpenMP regions look racy to TSan */
    ml4t_model_t *own =
        ml4t_model_train(s_fx.X, s_fx.y, NULL, 1000, T_ROW_K, t_row_names(), &p, NULL);
    REQUIRE(own);
    ml4t_model_slot_t *slot = ml4t_model_slot_new(own);
    ml4t_model_t *m = ml4t_model_slot_acquire(slot);
    ml4t_model_slot_swap(slot, ml4t_model_ref(s_fx.a));
    CHECK_EQ_INT(ml4t_model_refcount(m), 1);
    double x;
    ml4t_model_predict_row(m, s_fx.Xd, &x);
    CHECK(x > 0 && x < 1);
    ml4t_model_slot_release(slot, &m);
    ml4t_model_slot_destroy(&slot);
    CHECK_EQ_INT(ml4t_model_refcount(s_fx.a), 1);
}

typedef struct {
    ml4t_model_slot_t *slot;
    size_t quota;
    size_t failed, saw_a, saw_b;
    unsigned seed;
} s_reader_t;

static atomic_int s_readers_done;

static void *s_reader(void *arg)
{
    s_reader_t *r = arg;
    unsigned x = r->seed;
    for (size_t i = 0; i < r->quota; i++) {
        x = x * 1103515245u + 12345u;
        size_t row = (x >> 8) % S_ROWS;
        ml4t_model_t *m = ml4t_model_slot_acquire(r->slot);
        if (!m) {
            r->failed++;
            continue;
        }
        double p;
        ml4t_model_predict_row(m, s_fx.Xd + (4000 + row) * T_ROW_K, &p);
        /* exact: the same code on the same model gives the same bits */
        if (p == s_fx.pa[row] && m == s_fx.a)
            r->saw_a++;
        else if (p == s_fx.pb[row] && m == s_fx.b)
            r->saw_b++;
        else
            r->failed++;
        ml4t_model_slot_release(r->slot, &m);
    }
    atomic_fetch_add(&s_readers_done, 1);
    return NULL;
}

typedef struct {
    ml4t_model_slot_t *slot;
    int swaps;
    int during_readers; /* swaps done while readers were still running */
} s_swapper_t;

static void *s_swapper(void *arg)
{
    s_swapper_t *s = arg;
    int during = -1;
    /* pace the swaps over the readers' run; finish them all even if the
       readers end first */
    struct timespec pause = {0, 20000};
    for (int i = 0; i < S_SWAPS; i++) {
        ml4t_model_slot_swap(s->slot, ml4t_model_ref(i % 2 ? s_fx.a : s_fx.b));
        s->swaps++;
        if (atomic_load(&s_readers_done) < S_READERS)
            nanosleep(&pause, NULL);
        else if (during < 0)
            during = s->swaps;
    }
    s->during_readers = during < 0 ? s->swaps : during;
    return NULL;
}

static void t_readers_race_swaps(void)
{
    REQUIRE(s_fixture() == 0);
    ml4t_model_slot_t *slot = ml4t_model_slot_new(ml4t_model_ref(s_fx.a));
    REQUIRE(slot);
    s_reader_t readers[S_READERS];
    pthread_t rt[S_READERS], st;
    s_swapper_t sw = {slot, 0, 0};
    atomic_store(&s_readers_done, 0);
    for (int i = 0; i < S_READERS; i++) {
        readers[i] = (s_reader_t){slot, S_PREDICTIONS / S_READERS, 0, 0, 0, 17u * (unsigned)i};
        REQUIRE(pthread_create(&rt[i], NULL, s_reader, &readers[i]) == 0);
    }
    REQUIRE(pthread_create(&st, NULL, s_swapper, &sw) == 0);
    size_t failed = 0, saw_a = 0, saw_b = 0;
    for (int i = 0; i < S_READERS; i++) {
        pthread_join(rt[i], NULL);
        failed += readers[i].failed;
        saw_a += readers[i].saw_a;
        saw_b += readers[i].saw_b;
    }
    pthread_join(st, NULL);
    printf("  %d readers, %zu predictions (%zu model A, %zu model B), %d swaps (%d while "
           "readers ran), %zu failed\n",
           S_READERS, saw_a + saw_b + failed, saw_a, saw_b, sw.swaps, sw.during_readers, failed);
    CHECK_EQ_INT(failed, 0);
    CHECK_EQ_INT(saw_a + saw_b, S_PREDICTIONS);
    CHECK(saw_a > 0 && saw_b > 0); /* the readers did run across swaps */
    CHECK_EQ_INT(sw.swaps, S_SWAPS);
    CHECK_EQ_INT(ml4t_model_slot_swaps(slot), S_SWAPS);
    /* every reference taken was given back: only ours and the slot's remain */
    CHECK_EQ_INT(ml4t_model_refcount(s_fx.a) + ml4t_model_refcount(s_fx.b), 3);
    ml4t_model_slot_destroy(&slot);
    CHECK_EQ_INT(ml4t_model_refcount(s_fx.a), 1);
    CHECK_EQ_INT(ml4t_model_refcount(s_fx.b), 1);
}

/* Last case, not atexit(): see test_model.c. */
static void t_release_fixture(void)
{
    ml4t_model_unref(&s_fx.a);
    ml4t_model_unref(&s_fx.b);
    free(s_fx.X);
    free(s_fx.y);
    free(s_fx.Xd);
    memset(&s_fx, 0, sizeof s_fx);
}

static const t_case_t cases[] = {
    T_CASE(t_empty_slot),         T_CASE(t_publish_and_references), T_CASE(t_last_reader_frees),
    T_CASE(t_readers_race_swaps), T_CASE(t_release_fixture),
};
T_MAIN(cases)
