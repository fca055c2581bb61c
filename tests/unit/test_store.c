/*  ml4t_store tests: queue, batched writes, read-back after restart, registry. */
/* ctest-labels: threaded */
#include "ml4t/store.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <unistd.h>

#include "testutil.h"

static void s_tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/ml4t-store-XXXXXX");
    if (!mkdtemp(buf))
        buf[0] = '\0';
}

static void s_rm(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* The store's database in dir, opened as another program would; NULL when it
   cannot be. */
static sqlite3 *s_open_history(const char *dir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/history.sqlite3", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* A store in a fresh directory with a small queue; NULL when it cannot open. */
static ml4t_store_t *s_open_small(char *dir, size_t dir_size, size_t capacity, bool paused)
{
    s_tmpdir(dir, dir_size);
    if (!dir[0])
        return NULL;
    ml4t_store_config_t cfg;
    ml4t_store_config_default(&cfg);
    cfg.queue_capacity = capacity;
    cfg.start_paused = paused;
    cfg.flush_interval_ms = 20; /* the writer wakes soon after a record, unasked */
    return ml4t_store_open(dir, &cfg, NULL);
}

static void t_write_and_read_back_after_restart(void)
{
    char dir[64];
    s_tmpdir(dir, sizeof dir);
    REQUIRE(dir[0]);
    ml4t_error_t err;
    ml4t_store_t *st = ml4t_store_open(dir, NULL, &err);
    REQUIRE(st);
    for (uint64_t i = 1; i <= 500; i++) {
        CHECK(ml4t_store_put_bar(st, "FILUSDT", i * 60, 10 + i, 11 + i, 9 + i, 10.5 + i, 100,
                                 i % 2 ? NAN : 40.0));
        CHECK(ml4t_store_put_bar(st, "NEARUSDT", i * 60, 1, 2, 0.5, 1.5, 10, 5));
    }
    CHECK(ml4t_store_put_bar(st, "FILUSDT", 60, 99, 99, 99, 99, 1, 1)); /* duplicate ts */
    CHECK(ml4t_store_put_prediction(st, "FILUSDT", "s-1", 600, 1, 0.73, "v0001", 601));
    CHECK(ml4t_store_put_outcome(st, "FILUSDT", "s-1", 600, 1, 0.012, true, 1200));
    CHECK_EQ_INT(ml4t_store_flush(st, 5000), ML4T_OK);
    ml4t_store_stats_t stats;
    ml4t_store_stats(st, &stats);
    CHECK_EQ_INT(stats.enqueued, 1003);
    CHECK_EQ_INT(stats.stored, 1003);
    CHECK_EQ_INT(stats.dropped, 0);
    CHECK_EQ_INT(stats.queue_depth, 0);
    CHECK(stats.transactions >= 1 && stats.transactions < stats.stored / 10); /* in batches */
    CHECK(stats.cache_bytes > 0);         /* the writer's pages are cached */
    CHECK(stats.cache_bytes < 64u << 20); /* and bounded by cache_size */
    ml4t_store_close(&st);
    CHECK(st == NULL);

    st = ml4t_store_open(dir, NULL, &err);
    REQUIRE(st);
    uint64_t n = 0;
    CHECK_EQ_INT(ml4t_store_count(st, "bars", &n, &err), ML4T_OK);
    CHECK_EQ_INT(n, 1000); /* the duplicate was ignored */
    CHECK_EQ_INT(ml4t_store_count(st, "predictions", &n, &err), ML4T_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ml4t_store_count(st, "outcomes", &n, &err), ML4T_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ml4t_store_count(st, "nope; DROP TABLE bars", &n, &err), ML4T_EINVAL);
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    CHECK_EQ_INT(ml4t_store_load_bars(st, "FILUSDT", 100, &bars, &err), ML4T_OK);
    CHECK_EQ_INT(bars.n, 100);
    CHECK_EQ_INT(bars.ts[0], 401 * 60); /* the newest 100, oldest first */
    CHECK_EQ_INT(bars.ts[99], 500 * 60);
    CHECK_NEAR(bars.close[99], 510.5, 0);
    CHECK(isnan(bars.buy_volume[0])); /* 401 is odd: unknown survives as NaN */
    CHECK_NEAR(bars.buy_volume[1], 40.0, 0);
    CHECK_EQ_INT(ml4t_bars_validate(&bars, &err), ML4T_OK);
    char ids[4][ML4T_INSTRUMENT_MAX + 1];
    size_t nid = 0;
    CHECK_EQ_INT(ml4t_store_instruments(st, ids, 4, &nid, &err), ML4T_OK);
    CHECK_EQ_INT(nid, 2);
    CHECK_STR(ids[0], "FILUSDT");
    CHECK_EQ_INT(ml4t_store_integrity_check(st, &err), ML4T_OK);
    ml4t_bars_destroy(&bars);
    ml4t_store_close(&st);
    s_rm(dir);
}

static void t_full_queue_drops_and_counts(void)
{
    char dir[64];
    ml4t_store_t *st = s_open_small(dir, sizeof dir, 64, true);
    REQUIRE(st);
    int accepted = 0;
    for (uint64_t i = 1; i <= 100; i++)
        accepted += ml4t_store_put_bar(st, "X", i, 1, 1, 1, 1, 1, NAN);
    CHECK_EQ_INT(accepted, 64);
    ml4t_store_stats_t stats;
    ml4t_store_stats(st, &stats);
    CHECK_EQ_INT(stats.dropped, 36);
    CHECK_EQ_INT(stats.queue_depth, 64);
    ml4t_store_resume(st);
    CHECK_EQ_INT(ml4t_store_flush(st, 5000), ML4T_OK);
    /* room again after the writer drained */
    CHECK(ml4t_store_put_bar(st, "X", 1000, 1, 1, 1, 1, 1, NAN));
    CHECK_EQ_INT(ml4t_store_flush(st, 5000), ML4T_OK);
    ml4t_store_stats(st, &stats);
    CHECK_EQ_INT(stats.stored, 65);
    ml4t_store_close(&st);
    s_rm(dir);
}

static void t_registry_live_and_retire(void)
{
    char dir[64];
    s_tmpdir(dir, sizeof dir);
    REQUIRE(dir[0]);
    ml4t_error_t err;
    ml4t_store_t *st = ml4t_store_open(dir, NULL, &err);
    REQUIRE(st);
    ml4t_registry_entry_t e = {0};
    CHECK_EQ_INT(ml4t_store_registry_live(st, &e, &err), ML4T_ENOTFOUND);
    for (int i = 1; i <= 3; i++) {
        memset(&e, 0, sizeof e);
        snprintf(e.version, sizeof e.version, "v%04d", i);
        snprintf(e.path, sizeof e.path, "%s/models/v%04d/model.ubj", dir, i);
        e.created_ns = (uint64_t)i * 1000;
        e.auc = 0.5 + i * 0.01;
        e.accuracy = NAN;
        CHECK_EQ_INT(ml4t_store_registry_add(st, &e, &err), ML4T_OK);
    }
    CHECK_EQ_INT(ml4t_store_registry_set_live(st, "v0002", &err), ML4T_OK);
    CHECK_EQ_INT(ml4t_store_registry_set_live(st, "v0003", &err), ML4T_OK);
    CHECK_EQ_INT(ml4t_store_registry_set_live(st, "v9999", &err), ML4T_ENOTFOUND);
    CHECK_STR(err.field, "version");
    ml4t_store_close(&st);

    st = ml4t_store_open(dir, NULL, &err);
    REQUIRE(st);
    CHECK_EQ_INT(ml4t_store_registry_live(st, &e, &err), ML4T_OK);
    CHECK_STR(e.version, "v0003");
    CHECK_NEAR(e.auc, 0.53, 1e-12);
    CHECK(isnan(e.accuracy));
    ml4t_registry_entry_t list[8];
    size_t n = 0;
    CHECK_EQ_INT(ml4t_store_registry_list(st, list, 8, &n, &err), ML4T_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_STR(list[0].version, "v0003");
    CHECK_STR(list[1].status, "retired");
    CHECK_STR(list[2].status, "candidate");
    CHECK_EQ_INT(ml4t_store_registry_remove(st, "v0001", &err), ML4T_OK);
    CHECK_EQ_INT(ml4t_store_registry_list(st, list, 8, &n, &err), ML4T_OK);
    CHECK_EQ_INT(n, 2);
    ml4t_store_close(&st);
    s_rm(dir);
}

/* The busiest instrument: new bars counted, duplicates not, ties to the first
   id, and the counts rebuilt from the table after a restart. */
static void t_busiest_instrument(void)
{
    char dir[64];
    s_tmpdir(dir, sizeof dir);
    ml4t_error_t err;
    ml4t_store_t *st = ml4t_store_open(dir, NULL, &err);
    REQUIRE(st);
    char id[ML4T_INSTRUMENT_MAX + 1] = "";
    uint64_t n = 0;
    CHECK_EQ_INT(ml4t_store_busiest_instrument(st, id, &n, &err), ML4T_ENODATA);
    for (uint64_t t = 1; t <= 50; t++) {
        ml4t_store_put_bar(st, "CUSDT", t, 1, 1, 1, 1, 1, 1);
        ml4t_store_put_bar(st, "BUSDT", t, 1, 1, 1, 1, 1, 1);
        ml4t_store_put_bar(st, "BUSDT", t, 2, 2, 2, 2, 2, 2); /* a duplicate: ignored */
        if (t <= 30)
            ml4t_store_put_bar(st, "AUSDT", t, 1, 1, 1, 1, 1, 1);
    }
    CHECK_EQ_INT(ml4t_store_flush(st, 5000), ML4T_OK);
    CHECK_EQ_INT(ml4t_store_busiest_instrument(st, id, &n, &err), ML4T_OK);
    CHECK_STR(id, "BUSDT"); /* 50 each: the first id wins the tie */
    CHECK_EQ_INT(n, 50);
    ml4t_store_close(&st);
    st = ml4t_store_open(dir, NULL, &err); /* counts rebuilt from the table */
    REQUIRE(st);
    CHECK_EQ_INT(ml4t_store_busiest_instrument(st, id, &n, &err), ML4T_OK);
    CHECK_STR(id, "BUSDT");
    CHECK_EQ_INT(n, 50);
    ml4t_store_put_bar(st, "CUSDT", 51, 1, 1, 1, 1, 1, 1);
    CHECK_EQ_INT(ml4t_store_flush(st, 5000), ML4T_OK);
    CHECK_EQ_INT(ml4t_store_busiest_instrument(st, id, &n, &err), ML4T_OK);
    CHECK_STR(id, "CUSDT");
    CHECK_EQ_INT(n, 51);
    ml4t_store_close(&st);
    s_rm(dir);
}

/* A small ring wraps many times: records of every size (1- to 64-byte ids)
   come out whole and in order, skips at the ring's end included. */
static void t_packed_ring_wraps_whole_records(void)
{
    char dir[64];
    /* 16 records: 1,536 bytes, a few records before the end */
    ml4t_store_t *st = s_open_small(dir, sizeof dir, 16, false);
    REQUIRE(st);
    char inst[3][ML4T_INSTRUMENT_MAX + 1], sig[ML4T_ID_MAX + 1], ver[ML4T_ID_MAX + 1];
    snprintf(inst[0], sizeof inst[0], "I");
    memset(inst[1], 'L', ML4T_INSTRUMENT_MAX);
    inst[1][ML4T_INSTRUMENT_MAX] = '\0';
    snprintf(inst[2], sizeof inst[2], "ETHUSDT");
    memset(ver, 'v', ML4T_ID_MAX);
    ver[ML4T_ID_MAX] = '\0';
    enum { N = 600 };
    size_t preds = 0;
    for (int i = 0; i < N; i++) {
        const char *id = inst[i % 3];
        uint64_t ts = (uint64_t)(i / 3 + 1) * 60;
        while (!ml4t_store_put_bar(st, id, ts, 100 + i, 101 + i, 99 + i, 100.5 + i, i, i / 2.0))
            ml4t_store_flush(st, 1000); /* full: let the writer catch up */
        size_t sl = 1 + (size_t)i % ML4T_ID_MAX;
        memset(sig, 'a' + i % 26, sl);
        sig[sl] = '\0';
        ver[1 + (i * 7) % ML4T_ID_MAX] = '\0';
        while (!ml4t_store_put_prediction(st, id, sig, ts, i % 3 - 1, 0.5, ver, ts + 1))
            ml4t_store_flush(st, 1000);
        memset(ver, 'v', ML4T_ID_MAX);
        preds++;
    }
    CHECK_EQ_INT(ml4t_store_flush(st, 10000), ML4T_OK);
    ml4t_store_stats_t stats;
    ml4t_store_stats(st, &stats);
    CHECK_EQ_INT(stats.stored, 2 * N);
    CHECK_EQ_INT(stats.write_errors, 0);
    ml4t_error_t err;
    uint64_t n = 0;
    CHECK_EQ_INT(ml4t_store_count(st, "predictions", &n, &err), ML4T_OK);
    CHECK_EQ_INT(n, preds);
    for (int k = 0; k < 3; k++) {
        ml4t_bars_t bars;
        ml4t_bars_init(&bars);
        CHECK_EQ_INT(ml4t_store_load_bars(st, inst[k], N, &bars, &err), ML4T_OK);
        CHECK_EQ_INT(bars.n, N / 3);
        for (size_t j = 0; j < bars.n; j++) {
            int i = (int)j * 3 + k; /* the i that wrote this bar */
            CHECK_EQ_INT(bars.ts[j], (j + 1) * 60);
            CHECK_NEAR(bars.open[j], 100 + i, 0);
            CHECK_NEAR(bars.close[j], 100.5 + i, 0);
            CHECK_NEAR(bars.volume[j], i, 0);
            CHECK_NEAR(bars.buy_volume[j], i / 2.0, 0);
        }
        ml4t_bars_destroy(&bars);
    }
    ml4t_store_close(&st);
    s_rm(dir);
}

static void t_unwritable_dir_is_an_error(void)
{
    ml4t_error_t err;
    ml4t_store_t *st = ml4t_store_open("/proc/ml4t-no-such-dir/x", NULL, &err);
    CHECK(st == NULL);
    CHECK_STR(err.field, "data_dir");
    ml4t_store_config_t cfg;
    ml4t_store_config_default(&cfg);
    cfg.queue_capacity = 1;
    CHECK(ml4t_store_open("/tmp", &cfg, &err) == NULL);
    CHECK_STR(err.field, "queue_capacity");
    ml4t_store_config_default(&cfg);
    cfg.nice = 20;
    CHECK(ml4t_store_open("/tmp", &cfg, &err) == NULL);
    CHECK_STR(err.field, "nice");
    ml4t_store_config_default(&cfg);
    cfg.batch_max = 0;
    CHECK(ml4t_store_open("/tmp", &cfg, &err) == NULL);
    CHECK_STR(err.field, "batch_max");
    int bad_intervals[] = {0, -5, 60001};
    for (size_t i = 0; i < sizeof bad_intervals / sizeof bad_intervals[0]; i++) {
        ml4t_store_config_default(&cfg);
        cfg.flush_interval_ms = bad_intervals[i];
        CHECK(ml4t_store_open("/tmp", &cfg, &err) == NULL);
        CHECK_STR(err.field, "flush_interval_ms");
    }
}

/* Waits up to 5 s for the store to have stored n records; false if it did not. */
static bool s_wait_stored(ml4t_store_t *st, uint64_t n)
{
    ml4t_store_stats_t stats;
    for (int i = 0; i < 500; i++) {
        ml4t_store_stats(st, &stats);
        if (stats.stored >= n)
            return stats.stored == n;
        usleep(10000);
    }
    return false;
}

/* When the writer commits. A full batch wakes it (the producer posts), and
   anything less waits for its timer: each commit writes its pages to the WAL
   again, so a few records a transaction cost several times the CPU a record.
   Here the timer is a minute away, so what the writer commits before it came
   from a full batch. */
static void t_writer_commits_full_batches_and_waits_for_the_rest(void)
{
    char dir[64];
    s_tmpdir(dir, sizeof dir);
    REQUIRE(dir[0]);
    ml4t_store_config_t cfg;
    ml4t_store_config_default(&cfg);
    CHECK_EQ_INT(cfg.flush_interval_ms, 200);
    cfg.flush_interval_ms = 60000;
    cfg.batch_max = 8;
    cfg.queue_capacity = 64;
    ml4t_store_t *st = ml4t_store_open(dir, &cfg, NULL);
    REQUIRE(st);
    usleep(100000); /* the writer is waiting on its timer */
    for (uint64_t i = 1; i <= 8; i++)
        CHECK(ml4t_store_put_bar(st, "X", i, 1, 1, 1, 1, 1, NAN));
    CHECK(s_wait_stored(st, 8)); /* the eighth record woke it, long before its timer */
    usleep(100000);              /* and it is back on its timer */
    for (uint64_t i = 9; i <= 11; i++)
        CHECK(ml4t_store_put_bar(st, "X", i, 1, 1, 1, 1, 1, NAN));
    usleep(300000);
    ml4t_store_stats_t stats;
    ml4t_store_stats(st, &stats);
    CHECK_EQ_INT(stats.stored, 8); /* three records are not a batch: they wait */
    CHECK_EQ_INT(stats.queue_depth, 3);
    CHECK_EQ_INT(ml4t_store_flush(st, 5000), ML4T_OK); /* a flush takes them at once */
    ml4t_store_stats(st, &stats);
    CHECK_EQ_INT(stats.stored, 11);
    CHECK_EQ_INT(stats.transactions, 2);
    ml4t_store_close(&st);

    /* a short timer commits a lone record by itself */
    cfg.flush_interval_ms = 20;
    REQUIRE((st = ml4t_store_open(dir, &cfg, NULL)));
    CHECK(ml4t_store_put_bar(st, "X", 12, 1, 1, 1, 1, 1, NAN));
    CHECK(s_wait_stored(st, 1));
    ml4t_store_close(&st);
    s_rm(dir);
}

#ifdef __linux__
/* A thread's /proc/self/task/<tid>/<file>, as text ("" when unreadable). */
static void s_task_read(const char *tid, const char *file, char *buf, size_t size)
{
    char path[300];
    snprintf(path, sizeof path, "/proc/self/task/%s/%s", tid, file);
    FILE *f = fopen(path, "r");
    size_t len = f ? fread(buf, 1, size - 1, f) : 0;
    if (f)
        fclose(f);
    buf[len] = '\0';
}

/* How many of this process's threads match (match(tid, arg) is true). */
static int s_threads_count(bool (*match)(const char *tid, const void *arg), const void *arg)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            n += match(e->d_name, arg);
    closedir(d);
    return n;
}

typedef struct {
    int field, value;
} s_stat_field_t;

static bool s_stat_has(const char *tid, const void *arg)
{
    const s_stat_field_t *want = arg;
    char buf[1024];
    s_task_read(tid, "stat", buf, sizeof buf);
    /* after the ")" that ends the name: state is field 3 */
    const char *p = strrchr(buf, ')');
    int at = 2;
    for (; p && *p && at < want->field; p++)
        if (*p == ' ')
            at++;
    return p && at == want->field && atoi(p) == want->value;
}

/* How many of this process's threads have value in field of their
   /proc/self/task/<tid>/stat (19: nice, 41: scheduling policy). */
static int s_threads_with(int field, int value)
{
    s_stat_field_t want = {field, value};
    return s_threads_count(s_stat_has, &want);
}

static bool s_comm_is(const char *tid, const void *name)
{
    char buf[32];
    s_task_read(tid, "comm", buf, sizeof buf);
    buf[strcspn(buf, "\n")] = '\0';
    return strcmp(buf, name) == 0;
}

/* How many of this process's threads are called name. */
static int s_threads_named(const char *name)
{
    return s_threads_count(s_comm_is, name);
}

static void t_writer_runs_niced(void)
{
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);
    REQUIRE(!(base == -1 && errno));
    int want = base + 3 > 19 ? 19 : base + 3;
    int before = s_threads_with(19, want);
    char dir[64];
    s_tmpdir(dir, sizeof dir);
    REQUIRE(dir[0]);
    ml4t_store_config_t cfg;
    ml4t_store_config_default(&cfg);
    cfg.nice = 3;
    cfg.idle = false;
    ml4t_store_t *st = ml4t_store_open(dir, &cfg, NULL);
    REQUIRE(st);
    int now = before;
    for (int i = 0; i < 200 && now <= before; i++) { /* the writer lowers itself as it starts */
        usleep(10000);
        now = s_threads_with(19, want);
    }
    CHECK_EQ_INT(now, before + 1);                    /* the new writer thread */
    CHECK_EQ_INT(getpriority(PRIO_PROCESS, 0), base); /* the caller's thread is untouched */
    ml4t_store_close(&st);
    s_rm(dir);
}

static void t_writer_runs_idle_by_default(void)
{
    const int idle = 5; /* SCHED_IDLE */
    int before = s_threads_with(41, idle);
    char dir[64];
    ml4t_store_t *st = s_open_small(dir, sizeof dir, 64, false);
    REQUIRE(st);
    int now = before;
    for (int i = 0; i < 200 && now <= before; i++) {
        usleep(10000);
        now = s_threads_with(41, idle);
    }
    CHECK_EQ_INT(now, before + 1); /* the writer, and only it */
    ml4t_store_close(&st);
    s_rm(dir);
}
/* The writer carries its name (ps -L, top -H), and goes with the store. */
static void t_writer_is_named(void)
{
    int before = s_threads_named("ml4t-store");
    REQUIRE(before >= 0);
    char dir[64];
    ml4t_store_t *st = s_open_small(dir, sizeof dir, 64, false);
    REQUIRE(st);
    int now = before;
    for (int i = 0; i < 200 && now <= before; i++) { /* it names itself as it starts */
        usleep(10000);
        now = s_threads_named("ml4t-store");
    }
    CHECK_EQ_INT(now, before + 1);
    ml4t_store_close(&st);
    CHECK_EQ_INT(s_threads_named("ml4t-store"), before); /* close joins it */
    s_rm(dir);
}
#endif

typedef struct {
    ml4t_store_t *st;
    ml4t_store_stats_t stats;
    atomic_bool done;
} s_stats_call_t;

static void *s_stats_thread(void *arg)
{
    s_stats_call_t *c = arg;
    ml4t_store_stats(c->st, &c->stats);
    atomic_store(&c->done, true);
    return NULL;
}

/* Stats are read on the node's hot path: they must never wait for the writer,
   even while its transaction is stuck (here on another connection's write
   lock, which SQLite waits out for up to its 5 s busy timeout; on a real
   machine, a commit blocked on the disk). */
static void t_stats_do_not_wait_for_the_writer(void)
{
    char dir[64];
    ml4t_store_t *st = s_open_small(dir, sizeof dir, 64, false);
    REQUIRE(st);
    sqlite3 *other = s_open_history(dir);
    REQUIRE(other);
    REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(ml4t_store_put_bar(st, "X", 1, 1, 1, 1, 1, 1, NAN));
    usleep(200000); /* the writer wakes within 20 ms and blocks on the lock */
    s_stats_call_t call = {.st = st};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, s_stats_thread, &call) == 0);
    for (int i = 0; i < 200 && !atomic_load(&call.done); i++)
        usleep(10000);
    CHECK(atomic_load(&call.done)); /* within 2 s, while the writer still waits */
    CHECK_EQ_INT(call.stats.stored, 0);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    pthread_join(t, NULL);
    CHECK_EQ_INT(ml4t_store_flush(st, 10000), ML4T_OK);
    ml4t_store_stats_t stats;
    ml4t_store_stats(st, &stats);
    CHECK_EQ_INT(stats.stored, 1); /* nothing lost once the lock went */
    ml4t_store_close(&st);
    s_rm(dir);
}

/* History off: put_* keep nothing and say so truthfully (true, no drop), what
   was stored before stays readable, and the registry works as ever. */
static void t_history_off_keeps_nothing_new(void)
{
    char dir[64];
    s_tmpdir(dir, sizeof dir);
    REQUIRE(dir[0]);
    ml4t_error_t err;
    ml4t_store_t *st = ml4t_store_open(dir, NULL, &err);
    REQUIRE(st);
    for (uint64_t i = 1; i <= 10; i++)
        CHECK(ml4t_store_put_bar(st, "FILUSDT", i * 60, 10, 11, 9, 10.5, 100, 40));
    ml4t_store_close(&st);

    ml4t_store_config_t cfg;
    ml4t_store_config_default(&cfg);
    CHECK(cfg.history); /* on unless asked */
    cfg.history = false;
    cfg.queue_capacity = 4; /* would drop past 4 if anything were queued */
    st = ml4t_store_open(dir, &cfg, &err);
    REQUIRE(st);
    for (uint64_t i = 11; i <= 100; i++) {
        CHECK(ml4t_store_put_bar(st, "FILUSDT", i * 60, 10, 11, 9, 10.5, 100, 40));
        CHECK(ml4t_store_put_prediction(st, "FILUSDT", "s-1", i * 60, 1, 0.7, "v0001", i));
        CHECK(ml4t_store_put_outcome(st, "FILUSDT", "s-1", i * 60, 1, 0.01, true, i));
    }
    CHECK_EQ_INT(ml4t_store_flush(st, 5000), ML4T_OK);
    ml4t_store_stats_t stats;
    ml4t_store_stats(st, &stats);
    CHECK_EQ_INT(stats.enqueued, 0);
    CHECK_EQ_INT(stats.dropped, 0);
    CHECK_EQ_INT(stats.stored, 0);
    uint64_t n = 0;
    CHECK_EQ_INT(ml4t_store_count(st, "bars", &n, &err), ML4T_OK);
    CHECK_EQ_INT(n, 10); /* the ten stored before, no more */
    CHECK_EQ_INT(ml4t_store_count(st, "predictions", &n, &err), ML4T_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ml4t_store_count(st, "outcomes", &n, &err), ML4T_OK);
    CHECK_EQ_INT(n, 0);
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    CHECK_EQ_INT(ml4t_store_load_bars(st, "FILUSDT", 100, &bars, &err), ML4T_OK);
    CHECK_EQ_INT(bars.n, 10);
    ml4t_bars_destroy(&bars);
    ml4t_registry_entry_t e = {0};
    snprintf(e.version, sizeof e.version, "v0001");
    snprintf(e.path, sizeof e.path, "%s/models/v0001/model.ubj", dir);
    e.auc = NAN;
    e.accuracy = NAN;
    CHECK_EQ_INT(ml4t_store_registry_add(st, &e, &err), ML4T_OK);
    CHECK_EQ_INT(ml4t_store_registry_set_live(st, "v0001", &err), ML4T_OK);
    CHECK_EQ_INT(ml4t_store_registry_live(st, &e, &err), ML4T_OK);
    CHECK_STR(e.version, "v0001");
    ml4t_store_close(&st);
    s_rm(dir);
}

/* Bars go into one row of bar_blocks per instrument and transaction, in the
   documented layout, and read back across blocks; a bar not newer than its
   instrument's newest is ignored. */
static void t_bars_are_stored_in_blocks(void)
{
    char dir[64];
    ml4t_store_t *st = s_open_small(dir, sizeof dir, 1 << 14, true);
    REQUIRE(st);
    ml4t_error_t err;
    static const char *inst[3] = {"AUSDT", "BUSDT", "CUSDT"};
    /* three rounds of 1,000 bars per instrument, each flushed (the first put
       while the writer is paused) */
    for (int tx = 0; tx < 3; tx++) {
        for (uint64_t i = 1; i <= 1000; i++)
            for (int k = 0; k < 3; k++) {
                uint64_t t = (uint64_t)tx * 1000 + i;
                CHECK(ml4t_store_put_bar(st, inst[k], t * 60, 10 + k, 11 + k, 9 + k, 10.5 + k,
                                         (double)t, t % 3 ? 0.25 * (double)t : NAN));
            }
        CHECK(ml4t_store_put_bar(st, "AUSDT", 60 * 500, 1, 1, 1, 1, 1, 1)); /* older: ignored */
        ml4t_store_resume(st);
        CHECK_EQ_INT(ml4t_store_flush(st, 5000), ML4T_OK);
    }
    ml4t_store_stats_t stats;
    ml4t_store_stats(st, &stats);
    CHECK_EQ_INT(stats.stored, 9003); /* the ignored ones count as handled */
    CHECK_EQ_INT(stats.write_errors, 0);
    uint64_t n = 0;
    CHECK_EQ_INT(ml4t_store_count(st, "bars", &n, &err), ML4T_OK);
    CHECK_EQ_INT(n, 9000);
    /* the table as another program sees it */
    sqlite3 *db = s_open_history(dir);
    REQUIRE(db);
    sqlite3_stmt *q = NULL;
    REQUIRE(sqlite3_prepare_v2(db,
                               "SELECT instrument, ts_first, ts_last, n, data FROM bar_blocks"
                               " ORDER BY instrument, ts_first",
                               -1, &q, NULL) == SQLITE_OK);
    int rows = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        rows++;
        CHECK(sqlite3_column_int64(q, 2) > sqlite3_column_int64(q, 1));
        int nb = sqlite3_column_int(q, 3);
        CHECK_EQ_INT(sqlite3_column_bytes(q, 4), nb * 56);
        const uint8_t *d = sqlite3_column_blob(q, 4);
        uint64_t ts = 0, close_bits = 0;
        for (int b = 0; b < 8; b++) { /* little-endian: ts, then close at byte 32 */
            ts |= (uint64_t)d[b] << (8 * b);
            close_bits |= (uint64_t)d[32 + b] << (8 * b);
        }
        double close;
        memcpy(&close, &close_bits, sizeof close);
        CHECK_EQ_INT(ts, sqlite3_column_int64(q, 1));
        const char *id = (const char *)sqlite3_column_text(q, 0);
        CHECK_NEAR(close, 10.5 + (id[0] - 'A'), 0);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    /* a block per instrument and transaction: nine when each flush was one
       transaction (the writer, awake after the first, may also commit part
       of a round while it is put) */
    CHECK(rows >= 9 && (uint64_t)rows <= 3 * stats.transactions);
    CHECK(rows <= 90); /* so 100 bars a block at least, on average */
    /* across blocks: the newest 1,500 start inside a block */
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    CHECK_EQ_INT(ml4t_store_load_bars(st, "BUSDT", 1500, &bars, &err), ML4T_OK);
    CHECK_EQ_INT(bars.n, 1500);
    CHECK_EQ_INT(bars.ts[0], 1501 * 60);
    CHECK_EQ_INT(bars.ts[1499], 3000 * 60);
    CHECK_NEAR(bars.volume[0], 1501, 0);
    CHECK_NEAR(bars.buy_volume[0], 0.25 * 1501, 0);
    CHECK(isnan(bars.buy_volume[2])); /* 1503 % 3 == 0 */
    CHECK_EQ_INT(ml4t_bars_validate(&bars, &err), ML4T_OK);
    bars.n = 0;
    CHECK_EQ_INT(ml4t_store_load_bars(st, "AUSDT", 100000, &bars, &err), ML4T_OK);
    CHECK_EQ_INT(bars.n, 3000); /* all, the older bars not among them */
    bool increasing = true;
    for (size_t i = 1; i < bars.n; i++)
        increasing = increasing && bars.ts[i] == bars.ts[i - 1] + 60;
    CHECK(increasing);
    bars.n = 0;
    CHECK_EQ_INT(ml4t_store_load_bars(st, "AUSDT", 0, &bars, &err), ML4T_OK);
    CHECK_EQ_INT(bars.n, 0);
    CHECK_EQ_INT(ml4t_store_load_bars(st, "NOPE", 10, &bars, &err), ML4T_OK);
    CHECK_EQ_INT(bars.n, 0);
    ml4t_bars_destroy(&bars);
    ml4t_store_close(&st);
    s_rm(dir);
}

/* A data directory from before blocks: its rows of bars move into blocks when
   it opens, and read back as they were. */
static void t_bar_rows_move_into_blocks(void)
{
    char dir[64];
    s_tmpdir(dir, sizeof dir);
    REQUIRE(dir[0]);
    sqlite3 *db = s_open_history(dir);
    REQUIRE(db);
    REQUIRE(sqlite3_exec(db,
                         "CREATE TABLE bars(instrument TEXT NOT NULL, ts INTEGER NOT NULL,"
                         " open REAL, high REAL, low REAL, close REAL, volume REAL,"
                         " buy_volume REAL, PRIMARY KEY(instrument, ts)) WITHOUT ROWID;"
                         "BEGIN",
                         NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_stmt *ins = NULL;
    REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO bars VALUES(?,?,?,?,?,?,?,?)", -1, &ins, NULL) ==
            SQLITE_OK);
    /* 5,000 of one (two blocks: 4,096 and 904), 10 of another, inserted newest first */
    for (int k = 0; k < 2; k++)
        for (int i = k ? 10 : 5000; i >= 1; i--) {
            sqlite3_bind_text(ins, 1, k ? "NEARUSDT" : "FILUSDT", -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 2, (sqlite3_int64)i * 60);
            for (int c = 0; c < 5; c++)
                sqlite3_bind_double(ins, 3 + c, 10.0 + i);
            if (i % 2)
                sqlite3_bind_null(ins, 8);
            else
                sqlite3_bind_double(ins, 8, 4.0);
            REQUIRE(sqlite3_step(ins) == SQLITE_DONE);
            sqlite3_reset(ins);
        }
    sqlite3_finalize(ins);
    REQUIRE(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);

    ml4t_error_t err;
    ml4t_store_t *st = ml4t_store_open(dir, NULL, &err);
    REQUIRE(st);
    uint64_t n = 0;
    CHECK_EQ_INT(ml4t_store_count(st, "bars", &n, &err), ML4T_OK);
    CHECK_EQ_INT(n, 5010);
    char id[ML4T_INSTRUMENT_MAX + 1];
    CHECK_EQ_INT(ml4t_store_busiest_instrument(st, id, &n, &err), ML4T_OK);
    CHECK_STR(id, "FILUSDT");
    CHECK_EQ_INT(n, 5000);
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    CHECK_EQ_INT(ml4t_store_load_bars(st, "FILUSDT", 4200, &bars, &err), ML4T_OK);
    CHECK_EQ_INT(bars.n, 4200);
    CHECK_EQ_INT(bars.ts[0], 801 * 60);
    CHECK_EQ_INT(bars.ts[4199], 5000 * 60);
    CHECK_NEAR(bars.close[4199], 5010, 0);
    CHECK(isnan(bars.buy_volume[0])); /* 801 is odd: the NULL came back as NaN */
    CHECK_NEAR(bars.buy_volume[1], 4.0, 0);
    /* new bars follow on: one older than the newest is still ignored */
    CHECK(ml4t_store_put_bar(st, "FILUSDT", 5001 * 60, 1, 1, 1, 1, 1, 1));
    CHECK(ml4t_store_put_bar(st, "FILUSDT", 4000 * 60, 2, 2, 2, 2, 2, 2));
    CHECK_EQ_INT(ml4t_store_flush(st, 5000), ML4T_OK);
    CHECK_EQ_INT(ml4t_store_count(st, "bars", &n, &err), ML4T_OK);
    CHECK_EQ_INT(n, 5011);
    ml4t_bars_destroy(&bars);
    CHECK_EQ_INT(ml4t_store_integrity_check(st, &err), ML4T_OK);
    ml4t_store_close(&st);

    /* the old table is gone; opening again moves nothing */
    db = s_open_history(dir);
    REQUIRE(db);
    sqlite3_stmt *q = NULL;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name = 'bars'", -1, &q,
                               NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    st = ml4t_store_open(dir, NULL, &err);
    REQUIRE(st);
    CHECK_EQ_INT(ml4t_store_count(st, "bars", &n, &err), ML4T_OK);
    CHECK_EQ_INT(n, 5011);
    ml4t_store_close(&st);
    s_rm(dir);
}

/* A block whose data does not match its count is an error naming it, and the
   rest of the store reads as ever. */
static void t_damaged_block_is_an_error(void)
{
    char dir[64];
    ml4t_store_t *st = s_open_small(dir, sizeof dir, 1024, false);
    REQUIRE(st);
    ml4t_error_t err;
    for (uint64_t i = 1; i <= 10; i++) {
        CHECK(ml4t_store_put_bar(st, "FILUSDT", i * 60, 1, 1, 1, 1, 1, 1));
        CHECK(ml4t_store_put_bar(st, "NEARUSDT", i * 60, 1, 1, 1, 1, 1, 1));
    }
    CHECK_EQ_INT(ml4t_store_flush(st, 5000), ML4T_OK);
    sqlite3 *db = s_open_history(dir);
    REQUIRE(db);
    REQUIRE(sqlite3_exec(db,
                         "UPDATE bar_blocks SET data = substr(data, 1, 100)"
                         " WHERE instrument = 'FILUSDT'",
                         NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    CHECK_EQ_INT(ml4t_store_load_bars(st, "FILUSDT", 100, &bars, &err), ML4T_EIO);
    CHECK_STR(err.field, "bars");
    CHECK(strstr(err.msg, "FILUSDT") && strstr(err.msg, "damaged"));
    bars.n = 0;
    CHECK_EQ_INT(ml4t_store_load_bars(st, "NEARUSDT", 100, &bars, &err), ML4T_OK);
    CHECK_EQ_INT(bars.n, 10);
    ml4t_bars_destroy(&bars);
    ml4t_store_close(&st);
    s_rm(dir);
}

/* Predictions and outcomes go in several rows a statement: every field of
   every row, in order, across whole statements and the rest. */
static void t_rows_keep_their_fields_and_order(void)
{
    char dir[64];
    ml4t_store_t *st = s_open_small(dir, sizeof dir, 1024, true);
    REQUIRE(st);
    for (int i = 0; i < 37; i++) {
        char sid[16];
        snprintf(sid, sizeof sid, "s-%d", i);
        CHECK(ml4t_store_put_prediction(st, i % 2 ? "FILUSDT" : "NEARUSDT", sid, 1000 + i,
                                        i % 3 - 1, i == 5 ? NAN : 0.01 * i, i == 7 ? "" : "v0003",
                                        2000 + i));
        if (i % 2)
            CHECK(ml4t_store_put_outcome(st, "FILUSDT", sid, 1000 + i, i % 3 - 1, 0.001 * i,
                                         i % 4 == 1, 3000 + i));
    }
    ml4t_store_resume(st);
    CHECK_EQ_INT(ml4t_store_flush(st, 5000), ML4T_OK);
    ml4t_store_stats_t stats;
    ml4t_store_stats(st, &stats);
    CHECK_EQ_INT(stats.stored, 37 + 18);
    CHECK_EQ_INT(stats.write_errors, 0);
    CHECK_EQ_INT(stats.transactions, 1);
    ml4t_store_close(&st);
    sqlite3 *db = s_open_history(dir);
    REQUIRE(db);
    sqlite3_stmt *q = NULL;
    REQUIRE(sqlite3_prepare_v2(db,
                               "SELECT instrument, signal_id, ts_event, signal, confidence,"
                               " model_version, ts FROM predictions ORDER BY id",
                               -1, &q, NULL) == SQLITE_OK);
    int i = 0;
    for (; sqlite3_step(q) == SQLITE_ROW; i++) {
        char sid[16];
        snprintf(sid, sizeof sid, "s-%d", i);
        CHECK_STR((const char *)sqlite3_column_text(q, 0), i % 2 ? "FILUSDT" : "NEARUSDT");
        CHECK_STR((const char *)sqlite3_column_text(q, 1), sid);
        CHECK_EQ_INT(sqlite3_column_int64(q, 2), 1000 + i);
        CHECK_EQ_INT(sqlite3_column_int(q, 3), i % 3 - 1);
        if (i == 5)
            CHECK(sqlite3_column_type(q, 4) == SQLITE_NULL); /* NaN: unknown */
        else
            CHECK_NEAR(sqlite3_column_double(q, 4), 0.01 * i, 0);
        if (i == 7)
            CHECK(sqlite3_column_type(q, 5) == SQLITE_NULL); /* "": none */
        else
            CHECK_STR((const char *)sqlite3_column_text(q, 5), "v0003");
        CHECK_EQ_INT(sqlite3_column_int64(q, 6), 2000 + i);
    }
    sqlite3_finalize(q);
    CHECK_EQ_INT(i, 37);
    REQUIRE(sqlite3_prepare_v2(db,
                               "SELECT signal_id, ts_event, label, realized_return, correct, ts"
                               " FROM outcomes ORDER BY id",
                               -1, &q, NULL) == SQLITE_OK);
    int n = 0;
    for (i = 1; sqlite3_step(q) == SQLITE_ROW; i += 2, n++) {
        char sid[16];
        snprintf(sid, sizeof sid, "s-%d", i);
        CHECK_STR((const char *)sqlite3_column_text(q, 0), sid);
        CHECK_EQ_INT(sqlite3_column_int64(q, 1), 1000 + i);
        CHECK_EQ_INT(sqlite3_column_int(q, 2), i % 3 - 1);
        CHECK_NEAR(sqlite3_column_double(q, 3), 0.001 * i, 0);
        CHECK_EQ_INT(sqlite3_column_int(q, 4), i % 4 == 1);
        CHECK_EQ_INT(sqlite3_column_int64(q, 5), 3000 + i);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    CHECK_EQ_INT(n, 18);
    s_rm(dir);
}

static const t_case_t cases[] = {
    T_CASE(t_write_and_read_back_after_restart),
    T_CASE(t_full_queue_drops_and_counts),
    T_CASE(t_registry_live_and_retire),
    T_CASE(t_busiest_instrument),
    T_CASE(t_packed_ring_wraps_whole_records),
    T_CASE(t_unwritable_dir_is_an_error),
    T_CASE(t_writer_commits_full_batches_and_waits_for_the_rest),
    T_CASE(t_stats_do_not_wait_for_the_writer),
    T_CASE(t_history_off_keeps_nothing_new),
    T_CASE(t_bars_are_stored_in_blocks),
    T_CASE(t_bar_rows_move_into_blocks),
    T_CASE(t_damaged_block_is_an_error),
    T_CASE(t_rows_keep_their_fields_and_order),
#ifdef __linux__
    T_CASE(t_writer_runs_niced),
    T_CASE(t_writer_runs_idle_by_default),
    T_CASE(t_writer_is_named),
#endif
};
T_MAIN(cases)
