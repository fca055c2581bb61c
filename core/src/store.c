/*  ml4t_store: SQLite history store fed through a bounded SPSC ring. */
#include "ml4t/store.h"
#include "ml4t/clock.h"
#include "ml4t/sched.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef enum { S_REC_BAR = 1, S_REC_PREDICTION, S_REC_OUTCOME } s_kind_t;

/* A record as the writer binds it (s_unpack). In the ring it is packed (s_push): its
   strings take their length, not their maximum, so a bar takes about 88 bytes
   instead of this struct's 288 and the queue holds four times as many records
   in a little more memory (a disk that stalls for a second at 40,000 records/s
   needs that depth). */
typedef struct {
    s_kind_t kind;
    char instrument_id[ML4T_INSTRUMENT_MAX + 1];
    char signal_id[ML4T_ID_MAX + 1];
    char model_version[ML4T_ID_MAX + 1];
    uint64_t ts;       /* bar ts, or ts_event */
    uint64_t ts_write; /* prediction/outcome time */
    int ival;          /* signal or label */
    int correct;
    double v[7]; /* bar o,h,l,c,v,bv; v[0] = confidence or return */
} s_record_t;

/* The header of a packed record; then its numbers, then its strings. */
typedef struct {
    uint32_t len;             /* bytes, this header included; kind 0: skip to the ring's end */
    uint8_t kind, il, sl, ml; /* the strings' lengths */
    int32_t ival, correct;
    uint64_t ts, ts_write;
} s_packed_t;

#define S_ALIGN(n)   (((n) + 7u) & ~(size_t)7u)
#define S_SKIP_BYTES offsetof(s_packed_t, ival) /* len and kind: a skip record */
/* Ring bytes per record of queue_capacity: a bar packs into ~88 bytes, a
   prediction with short ids into ~96 (long ids take more, and a full ring of
   them holds fewer records: the queue is full when either runs out). */
#define S_BYTES_PER_RECORD 96u
#define S_PACKED_MAX                                                                               \
    S_ALIGN(sizeof(s_packed_t) + 6 * sizeof(double) + ML4T_INSTRUMENT_MAX + 2 * ML4T_ID_MAX)

typedef struct {
    char id[ML4T_INSTRUMENT_MAX + 1]; /* "" = free slot */
    uint64_t n;
} s_count_t;

struct ml4t_store {
    ml4t_store_config_t cfg;
    char path[512];
    sqlite3 *wdb; /* writer thread's connection */
    sqlite3 *rdb; /* readers' connection, under rlock */
    pthread_mutex_t rlock;
    sqlite3_stmt *ins_bar, *ins_pred, *ins_out;

    uint8_t *ring; /* packed records, 8-byte aligned, none wraps around the end */
    size_t ring_bytes;
    size_t capacity;             /* records in flight at most */
    size_t wake_mask;            /* the producer wakes the writer every wake_mask + 1 records */
    _Atomic size_t head, head_b; /* producer: records and bytes written */
    _Atomic size_t tail, tail_b; /* consumer: records and bytes taken */

    _Atomic uint64_t enqueued, stored, dropped, write_errors, transactions, slowest_tx_us;
    /* SQLite's page cache of each connection, noted by the connection's own
       user after its work. Both connections are opened NOMUTEX and belong to
       one thread at a time (the writer; readers under rlock): stats, read on
       the hot path, must not touch them (sqlite3_db_status on the writer's
       connection from another thread raced with its transaction). */
    _Atomic size_t cache_w, cache_r;
    struct { /* the writer's: the slowest transaction since the last log line */
        uint64_t us, logged_ns, commit_ms, run_ms, wait_ms, blocked_ms;
        size_t n;
    } slow;
    _Atomic bool stop;
    _Atomic bool paused;
    sem_t wake;
    pthread_t writer;
    bool writer_started;
    int schedstat_fd; /* the writer's /proc/thread-self/schedstat, -1 when there is none */

    /* bars stored per instrument, kept by the writer as it inserts (seeded by
       one scan at open), so picking the busiest instrument scans nothing */
    pthread_mutex_t clock;
    s_count_t *counts; /* open addressing, counts_cap a power of two */
    size_t counts_cap, counts_n;
    bool counts_stale; /* a commit failed: recount at the next read */
};

static const char *s_schema =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA journal_size_limit=67108864;"
    "CREATE TABLE IF NOT EXISTS bars(instrument TEXT NOT NULL, ts INTEGER NOT NULL,"
    " open REAL, high REAL, low REAL, close REAL, volume REAL, buy_volume REAL,"
    " PRIMARY KEY(instrument, ts)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS predictions(id INTEGER PRIMARY KEY, instrument TEXT NOT NULL,"
    " signal_id TEXT, ts_event INTEGER, signal INTEGER, confidence REAL, model_version TEXT,"
    " ts INTEGER);"
    "CREATE TABLE IF NOT EXISTS outcomes(id INTEGER PRIMARY KEY, instrument TEXT NOT NULL,"
    " signal_id TEXT, ts_event INTEGER, label INTEGER, realized_return REAL, correct INTEGER,"
    " ts INTEGER);"
    "CREATE TABLE IF NOT EXISTS models(version TEXT PRIMARY KEY, path TEXT, created_ns INTEGER,"
    " auc REAL, accuracy REAL, status TEXT, note TEXT);";

void ml4t_store_config_default(ml4t_store_config_t *cfg)
{
    cfg->queue_capacity = 262144;
    cfg->batch_max = 4096;
    cfg->flush_interval_ms = 200;
    cfg->start_paused = false;
    cfg->nice = 5;
    cfg->idle = true;
    cfg->history = true;
}

static ml4t_err_t s_db_error(ml4t_error_t *err, sqlite3 *db, const char *what)
{
    return ml4t_error_set(err, ML4T_EIO, "store", "%s: %s", what,
                          db ? sqlite3_errmsg(db) : "cannot open");
}

static sqlite3 *s_open_db(const char *path, ml4t_error_t *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        ml4t_error_set(err, ML4T_EIO, "data_dir", "cannot open %s: %s", path,
                       db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* Binds s without a copy (SQLITE_STATIC): the caller keeps it unchanged until
   the statement's reset. */
static void s_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s && s[0])
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void s_bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isnan(v))
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, v);
}

static uint64_t s_hash(const char *id)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *id; id++)
        h = (h ^ (uint8_t)*id) * 1099511628211ull;
    return h;
}

/* The slot of id (found, or the free one where it would go). Under clock. */
static s_count_t *s_count_slot(s_count_t *t, size_t cap, const char *id)
{
    for (size_t i = s_hash(id) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!t[i].id[0] || strcmp(t[i].id, id) == 0)
            return &t[i];
}

/* Adds k bars to id's count. Under clock. False when out of memory. */
static bool s_count_add(ml4t_store_t *self, const char *id, uint64_t k)
{
    if (!id[0])
        return true;
    if ((self->counts_n + 1) * 2 > self->counts_cap) { /* keep the load under 1/2 */
        size_t cap = self->counts_cap ? self->counts_cap * 2 : 64;
        s_count_t *t = calloc(cap, sizeof *t);
        if (!t)
            return false;
        for (size_t i = 0; i < self->counts_cap; i++)
            if (self->counts[i].id[0])
                *s_count_slot(t, cap, self->counts[i].id) = self->counts[i];
        free(self->counts);
        self->counts = t;
        self->counts_cap = cap;
    }
    s_count_t *c = s_count_slot(self->counts, self->counts_cap, id);
    if (!c->id[0]) {
        snprintf(c->id, sizeof c->id, "%s", id);
        self->counts_n++;
    }
    c->n += k;
    return true;
}

/* Counts from the table itself: at open, and after a failed commit. Takes
   clock; the caller holds whatever guards db. */
static ml4t_err_t s_count_seed(ml4t_store_t *self, sqlite3 *db, ml4t_error_t *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT instrument, count(*) FROM bars GROUP BY instrument", -1, &st,
                           NULL) != SQLITE_OK)
        return s_db_error(err, db, "count bars");
    pthread_mutex_lock(&self->clock);
    if (self->counts) /* none before the first bar */
        memset(self->counts, 0, self->counts_cap * sizeof *self->counts);
    self->counts_n = 0;
    int step;
    bool ok = true;
    while (ok && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        ok = s_count_add(self, id ? id : "", (uint64_t)sqlite3_column_int64(st, 1));
    }
    self->counts_stale = !ok || step != SQLITE_DONE;
    pthread_mutex_unlock(&self->clock);
    sqlite3_finalize(st);
    if (!ok)
        return ml4t_error_set(err, ML4T_ENOMEM, "store", "no memory for bar counts");
    return step == SQLITE_DONE ? ML4T_OK : s_db_error(err, db, "count bars");
}

static int s_write_one(ml4t_store_t *self, const s_record_t *r)
{
    sqlite3_stmt *st = NULL;
    switch (r->kind) {
    case S_REC_BAR:
        st = self->ins_bar;
        s_bind_text(st, 1, r->instrument_id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)r->ts);
        for (int k = 0; k < 6; k++)
            s_bind_real(st, 3 + k, r->v[k]);
        break;
    case S_REC_PREDICTION:
        st = self->ins_pred;
        s_bind_text(st, 1, r->instrument_id);
        s_bind_text(st, 2, r->signal_id);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)r->ts);
        sqlite3_bind_int(st, 4, r->ival);
        s_bind_real(st, 5, r->v[0]);
        s_bind_text(st, 6, r->model_version);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)r->ts_write);
        break;
    case S_REC_OUTCOME:
        st = self->ins_out;
        s_bind_text(st, 1, r->instrument_id);
        s_bind_text(st, 2, r->signal_id);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)r->ts);
        sqlite3_bind_int(st, 4, r->ival);
        s_bind_real(st, 5, r->v[0]);
        sqlite3_bind_int(st, 6, r->correct);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)r->ts_write);
        break;
    }
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE && r->kind == S_REC_BAR && sqlite3_changes(self->wdb) > 0) {
        pthread_mutex_lock(&self->clock); /* a new bar, not a duplicate ignored */
        if (!s_count_add(self, r->instrument_id, 1))
            self->counts_stale = true;
        pthread_mutex_unlock(&self->clock);
    }
    sqlite3_reset(st); /* every parameter is bound again for the next record */
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Where a writer's transaction spent its time: the clock, the thread's time
   on a core and waiting for one (Linux's /proc/thread-self/schedstat; zeros
   where there is none). The rest of the clock time it was blocked: the disk,
   a lock. */
typedef struct {
    uint64_t wall_ns, run_ns, wait_ns;
} s_sample_t;

static void s_sample(const ml4t_store_t *self, s_sample_t *c)
{
    c->run_ns = c->wait_ns = 0;
    char buf[96];
    ssize_t n = self->schedstat_fd >= 0 ? pread(self->schedstat_fd, buf, sizeof buf - 1, 0) : -1;
    if (n > 0) {
        buf[n] = '\0';
        unsigned long long run = 0, wait = 0;
        if (sscanf(buf, "%llu %llu", &run, &wait) == 2)
            c->run_ns = run, c->wait_ns = wait;
    }
    c->wall_ns = ml4t_clock_mono_ns();
}

/* Keeps the longest transaction, and says so when one took long enough to put
   the queue at risk: at most once every S_SLOW_LOG_NS, naming the worst since
   the last line and where its time went. */
#define S_SLOW_TX_US  250000u
#define S_SLOW_LOG_NS 10000000000ull
static void s_note_duration(ml4t_store_t *self, size_t n, const s_sample_t *t0, uint64_t commit_ns)
{
    s_sample_t t1;
    s_sample(self, &t1);
    uint64_t us = (t1.wall_ns - t0->wall_ns) / 1000u;
    if (us > atomic_load_explicit(&self->slowest_tx_us, memory_order_relaxed))
        atomic_store_explicit(&self->slowest_tx_us, us, memory_order_relaxed);
    if (us < S_SLOW_TX_US)
        return;
    if (us > self->slow.us) {
        uint64_t run = t1.run_ns - t0->run_ns, wait = t1.wait_ns - t0->wait_ns;
        uint64_t wall = t1.wall_ns - t0->wall_ns;
        self->slow.us = us;
        self->slow.n = n;
        self->slow.commit_ms = commit_ns / 1000000u;
        self->slow.run_ms = run / 1000000u;
        self->slow.wait_ms = wait / 1000000u;
        self->slow.blocked_ms = wall > run + wait ? (wall - run - wait) / 1000000u : 0;
    }
    if (self->slow.logged_ns && t1.wall_ns < self->slow.logged_ns + S_SLOW_LOG_NS)
        return;
    fprintf(stderr,
            "ml4t_store: a transaction of %zu records took %llu ms (its commit %llu ms; on a "
            "core %llu ms, waiting for one %llu ms, blocked %llu ms); queue %zu of %zu\n",
            self->slow.n, (unsigned long long)(self->slow.us / 1000u),
            (unsigned long long)self->slow.commit_ms, (unsigned long long)self->slow.run_ms,
            (unsigned long long)self->slow.wait_ms, (unsigned long long)self->slow.blocked_ms,
            atomic_load(&self->head) - atomic_load(&self->tail), self->capacity);
    self->slow.logged_ns = t1.wall_ns;
    self->slow.us = 0;
}

/* Consumer side: unpacks the record at byte offset at into r, passing over a
   skip record. Returns the bytes taken. */
static size_t s_unpack(const ml4t_store_t *self, size_t at, s_record_t *r)
{
    size_t taken = 0;
    s_packed_t h;
    for (;;) {
        memcpy(&h, self->ring + (at + taken) % self->ring_bytes, S_SKIP_BYTES);
        if (h.kind != 0)
            break;
        taken += h.len;
    }
    memcpy(&h, self->ring + (at + taken) % self->ring_bytes, sizeof h);
    const uint8_t *p = self->ring + (at + taken) % self->ring_bytes + sizeof h;
    size_t nv = h.kind == S_REC_BAR ? 6 : 1;
    r->kind = (s_kind_t)h.kind;
    r->ival = h.ival;
    r->correct = h.correct;
    r->ts = h.ts;
    r->ts_write = h.ts_write;
    memcpy(r->v, p, nv * sizeof(double));
    p += nv * sizeof(double);
    memcpy(r->instrument_id, p, h.il);
    r->instrument_id[h.il] = '\0';
    memcpy(r->signal_id, p + h.il, h.sl);
    r->signal_id[h.sl] = '\0';
    memcpy(r->model_version, p + h.il + h.sl, h.ml);
    r->model_version[h.ml] = '\0';
    return taken + h.len;
}

static size_t s_cache_used(sqlite3 *db)
{
    int cur = 0, hi = 0;
    if (!db || sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_USED, &cur, &hi, 0) != SQLITE_OK ||
        cur < 0)
        return 0;
    return (size_t)cur;
}

/* Drain up to batch_max records in one transaction. Returns how many it took. */
static size_t s_drain_batch(ml4t_store_t *self)
{
    size_t tail = atomic_load_explicit(&self->tail, memory_order_relaxed);
    size_t tail_b = atomic_load_explicit(&self->tail_b, memory_order_relaxed);
    size_t head = atomic_load_explicit(&self->head, memory_order_acquire);
    size_t n = head - tail;
    if (n == 0)
        return 0;
    if (n > self->cfg.batch_max)
        n = self->cfg.batch_max;
    uint64_t ok = 0, bad = 0;
    s_sample_t t0;
    s_sample(self, &t0);
    bool in_tx = sqlite3_exec(self->wdb, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    for (size_t i = 0; i < n; i++) {
        s_record_t r;
        tail_b += s_unpack(self, tail_b, &r);
        if (s_write_one(self, &r) == 0)
            ok++;
        else
            bad++;
    }
    uint64_t commit_ns = ml4t_clock_mono_ns();
    bool committed = !in_tx || sqlite3_exec(self->wdb, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    commit_ns = ml4t_clock_mono_ns() - commit_ns;
    if (!committed) {
        fprintf(stderr, "ml4t_store: commit failed: %s\n", sqlite3_errmsg(self->wdb));
        sqlite3_exec(self->wdb, "ROLLBACK", NULL, NULL, NULL);
        pthread_mutex_lock(&self->clock); /* the batch's bars were counted */
        self->counts_stale = true;
        pthread_mutex_unlock(&self->clock);
        bad += ok;
        ok = 0;
    }
    if (bad)
        fprintf(stderr, "ml4t_store: %llu records could not be written: %s\n",
                (unsigned long long)bad, sqlite3_errmsg(self->wdb));
    s_note_duration(self, n, &t0, commit_ns);
    atomic_store_explicit(&self->cache_w, s_cache_used(self->wdb), memory_order_relaxed);
    atomic_store_explicit(&self->tail_b, tail_b, memory_order_release);
    atomic_store_explicit(&self->tail, tail + n, memory_order_release);
    atomic_fetch_add(&self->stored, ok);
    atomic_fetch_add(&self->write_errors, bad);
    atomic_fetch_add(&self->transactions, 1);
    return n;
}

/* The writer yields to the hot path (ml4t/sched.h). With idle,
   SCHED_IDLE: the writer runs only on a core nothing else wants, and any
   other thread that wakes takes its core at once. Otherwise nice: a waking
   hot-path or I/O thread preempts it sooner. Either way the queue holds the
   records meanwhile; a writer that gets no core for long enough to fill it
   costs history records (dropped, counted), never an answer. */
static void s_lower_priority(const ml4t_store_t *self)
{
    int rc = self->cfg.idle ? ml4t_sched_idle() : 0;
    if (rc && rc != ENOSYS)
        fprintf(stderr, "ml4t_store: cannot run the writer under SCHED_IDLE: %s\n", strerror(rc));
    if (self->cfg.idle && rc == 0)
        return;
    rc = ml4t_sched_nice(self->cfg.nice);
    if (rc && rc != ENOSYS)
        fprintf(stderr, "ml4t_store: cannot lower the writer's priority: %s\n", strerror(rc));
}

static void *s_writer(void *arg)
{
    ml4t_store_t *self = arg;
    ml4t_sched_name("ml4t-store");
    s_lower_priority(self);
    /* opened here: thread-self is the thread that opens it; read with pread */
    self->schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    for (;;) {
        /* What is queued now goes in one transaction (more only when a batch is
           full): draining again at once would commit the few records that came
           in meanwhile, one small transaction after another, and every commit
           writes its pages to the WAL again. */
        while (!atomic_load(&self->paused) && s_drain_batch(self) == self->cfg.batch_max)
            ;
        if (atomic_load(&self->stop)) {
            while (s_drain_batch(self) > 0)
                ;
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)self->cfg.flush_interval_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        while (sem_timedwait(&self->wake, &ts) == -1 && errno == EINTR)
            ;
    }
    if (self->schedstat_fd >= 0)
        close(self->schedstat_fd);
    self->schedstat_fd = -1;
    return NULL;
}

static ml4t_err_t s_prepare(ml4t_store_t *self, ml4t_error_t *err)
{
    static const char *sql[3] = {
        "INSERT OR IGNORE INTO bars VALUES(?,?,?,?,?,?,?,?)",
        "INSERT INTO predictions(instrument, signal_id, ts_event, signal, confidence,"
        " model_version, ts) VALUES(?,?,?,?,?,?,?)",
        "INSERT INTO outcomes(instrument, signal_id, ts_event, label, realized_return, correct,"
        " ts) VALUES(?,?,?,?,?,?,?)"};
    sqlite3_stmt **st[3] = {&self->ins_bar, &self->ins_pred, &self->ins_out};
    for (int i = 0; i < 3; i++)
        if (sqlite3_prepare_v2(self->wdb, sql[i], -1, st[i], NULL) != SQLITE_OK)
            return s_db_error(err, self->wdb, "prepare");
    return ML4T_OK;
}

static void s_free(ml4t_store_t *self)
{
    sqlite3_finalize(self->ins_bar);
    sqlite3_finalize(self->ins_pred);
    sqlite3_finalize(self->ins_out);
    sqlite3_close(self->wdb);
    sqlite3_close(self->rdb);
    pthread_mutex_destroy(&self->rlock);
    pthread_mutex_destroy(&self->clock);
    sem_destroy(&self->wake);
    free(self->counts);
    free(self->ring);
    free(self);
}

ml4t_store_t *ml4t_store_open(const char *dir, const ml4t_store_config_t *cfg, ml4t_error_t *err)
{
    ml4t_store_config_t defaults;
    ml4t_store_config_default(&defaults);
    if (!cfg)
        cfg = &defaults;
    if (cfg->queue_capacity < 2 || cfg->queue_capacity > (1u << 26)) {
        ml4t_error_set(err, ML4T_ERANGE, "queue_capacity",
                       "queue_capacity=%zu: must be in [2, 2^26]", cfg->queue_capacity);
        return NULL;
    }
    if (cfg->batch_max < 1) {
        ml4t_error_set(err, ML4T_ERANGE, "batch_max", "batch_max=0: must be at least 1");
        return NULL;
    }
    if (cfg->flush_interval_ms < 1 || cfg->flush_interval_ms > 60000) {
        ml4t_error_set(err, ML4T_ERANGE, "flush_interval_ms",
                       "flush_interval_ms=%d: must be in [1, 60000]", cfg->flush_interval_ms);
        return NULL;
    }
    if (cfg->nice < ML4T_SCHED_NICE_MIN || cfg->nice > ML4T_SCHED_NICE_MAX) {
        ml4t_error_set(err, ML4T_ERANGE, "nice", "nice=%d: must be in [%d, %d]", cfg->nice,
                       ML4T_SCHED_NICE_MIN, ML4T_SCHED_NICE_MAX);
        return NULL;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        ml4t_error_set(err, ML4T_EIO, "data_dir", "cannot create %s: %s", dir, strerror(errno));
        return NULL;
    }
    ml4t_store_t *self = calloc(1, sizeof *self);
    if (!self) {
        ml4t_error_set(err, ML4T_ENOMEM, "store", "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->schedstat_fd = -1;
    atomic_store(&self->paused, cfg->start_paused);
    self->capacity = cfg->queue_capacity;
    /* the writer is woken for a full batch, or half the queue if that is less:
       the largest power of two in either */
    size_t wake =
        cfg->batch_max < cfg->queue_capacity / 2 ? cfg->batch_max : cfg->queue_capacity / 2;
    for (self->wake_mask = 1; self->wake_mask <= wake / 2; self->wake_mask *= 2)
        ;
    self->wake_mask--;
    self->ring_bytes = cfg->queue_capacity * S_BYTES_PER_RECORD;
    if (self->ring_bytes < 2 * S_PACKED_MAX) /* room for the longest record, wrapped */
        self->ring_bytes = 2 * S_PACKED_MAX;
    pthread_mutex_init(&self->rlock, NULL);
    pthread_mutex_init(&self->clock, NULL);
    sem_init(&self->wake, 0, 0);
    snprintf(self->path, sizeof self->path, "%s/history.sqlite3", dir);
    self->ring = malloc(self->ring_bytes);
    if (!self->ring) {
        ml4t_error_set(err, ML4T_ENOMEM, "queue_capacity", "no memory for %zu records",
                       cfg->queue_capacity);
        goto out_free;
    }
    /* touch every page now: the hot path takes no page faults filling it the
       first time round, and the node's RSS holds the whole queue from the start
       instead of growing by it over the first 262,144 records */
    for (size_t at = 0; at < self->ring_bytes; at += 4096) /* not memset: optimised into calloc */
        ((volatile uint8_t *)self->ring)[at] = 0;
    if (!(self->wdb = s_open_db(self->path, err)))
        goto out_free;
    if (sqlite3_exec(self->wdb, s_schema, NULL, NULL, NULL) != SQLITE_OK) {
        s_db_error(err, self->wdb, "create schema");
        goto out_free;
    }
    if (!(self->rdb = s_open_db(self->path, err)) || s_prepare(self, err) ||
        s_count_seed(self, self->wdb, err))
        goto out_free;
    atomic_store(&self->cache_w, s_cache_used(self->wdb));
    atomic_store(&self->cache_r, s_cache_used(self->rdb));
    if (pthread_create(&self->writer, NULL, s_writer, self) != 0) {
        ml4t_error_set(err, ML4T_ESTATE, "store", "cannot start the writer thread");
        goto out_free;
    }
    self->writer_started = true;
    return self;
out_free:
    s_free(self);
    return NULL;
}

void ml4t_store_close(ml4t_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ml4t_store_t *self = *self_p;
    if (self->writer_started) {
        atomic_store(&self->paused, false);
        atomic_store(&self->stop, true);
        sem_post(&self->wake);
        pthread_join(self->writer, NULL);
    }
    s_free(self);
    *self_p = NULL;
}

void ml4t_store_resume(ml4t_store_t *self)
{
    atomic_store(&self->paused, false);
    sem_post(&self->wake);
}

/* What a put_* call hands to s_push: its arguments as they are, no copy. */
typedef struct {
    s_kind_t kind;
    const char *instrument_id, *signal_id, *model_version; /* NULL: "" */
    int ival, correct;
    uint64_t ts, ts_write;
    const double *v; /* six for a bar, one otherwise */
} s_put_t;

/* A string's length as stored: at most max bytes (longer ones are cut there). */
static size_t s_len(const char *str, size_t max)
{
    return str ? strnlen(str, max) : 0;
}

/* Producer side. The record is packed straight into the ring's head: a
   header, the numbers (six for a bar, one otherwise) and the strings without
   their NULs. When it does not fit before the end of the ring, a skip record
   fills the rest and it goes at the start. False when the queue is full
   (counted). */
static bool s_push(ml4t_store_t *self, const s_put_t *r)
{
    if (!self->cfg.history)
        return true; /* kept nowhere, by request: not a drop */
    size_t il = s_len(r->instrument_id, ML4T_INSTRUMENT_MAX);
    size_t sl = s_len(r->signal_id, ML4T_ID_MAX), ml = s_len(r->model_version, ML4T_ID_MAX);
    size_t nv = r->kind == S_REC_BAR ? 6 : 1;
    size_t need = S_ALIGN(sizeof(s_packed_t) + nv * sizeof(double) + il + sl + ml);
    size_t head = atomic_load_explicit(&self->head, memory_order_relaxed);
    size_t head_b = atomic_load_explicit(&self->head_b, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&self->tail, memory_order_acquire);
    size_t tail_b = atomic_load_explicit(&self->tail_b, memory_order_acquire);
    size_t off = head_b % self->ring_bytes, to_end = self->ring_bytes - off;
    size_t pad = to_end < need ? to_end : 0;
    if (head - tail >= self->capacity || self->ring_bytes - (head_b - tail_b) < pad + need) {
        atomic_fetch_add_explicit(&self->dropped, 1, memory_order_relaxed);
        return false;
    }
    if (pad) { /* a multiple of 8: room for len and kind, the first 8 bytes of a header */
        s_packed_t skip = {.len = (uint32_t)pad, .kind = 0};
        memcpy(self->ring + off, &skip, S_SKIP_BYTES);
        off = 0;
    }
    s_packed_t h = {.len = (uint32_t)need,
                    .kind = (uint8_t)r->kind,
                    .il = (uint8_t)il,
                    .sl = (uint8_t)sl,
                    .ml = (uint8_t)ml,
                    .ival = r->ival,
                    .correct = r->correct,
                    .ts = r->ts,
                    .ts_write = r->ts_write};
    uint8_t *p = self->ring + off;
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    memcpy(p, r->v, nv * sizeof(double));
    p += nv * sizeof(double);
    if (il)
        memcpy(p, r->instrument_id, il);
    if (sl)
        memcpy(p + il, r->signal_id, sl);
    if (ml)
        memcpy(p + il + sl, r->model_version, ml);
    atomic_store_explicit(&self->head_b, head_b + pad + need, memory_order_release);
    atomic_store_explicit(&self->head, head + 1, memory_order_release);
    atomic_fetch_add_explicit(&self->enqueued, 1, memory_order_relaxed);
    /* wake the writer only when a batch is worth a transaction; it also wakes on its timer */
    if (((head + 1) & self->wake_mask) == 0)
        sem_post(&self->wake);
    return true;
}

bool ml4t_store_put_bar(ml4t_store_t *self, const char *instrument_id, uint64_t ts, double open,
                        double high, double low, double close, double volume, double buy_volume)
{
    const double v[6] = {open, high, low, close, volume, buy_volume};
    s_put_t r = {.kind = S_REC_BAR, .instrument_id = instrument_id, .ts = ts, .v = v};
    return s_push(self, &r);
}

bool ml4t_store_put_prediction(ml4t_store_t *self, const char *instrument_id, const char *signal_id,
                               uint64_t ts_event, int signal, double confidence,
                               const char *model_version, uint64_t ts)
{
    s_put_t r = {.kind = S_REC_PREDICTION,
                 .instrument_id = instrument_id,
                 .signal_id = signal_id,
                 .model_version = model_version,
                 .ts = ts_event,
                 .ival = signal,
                 .ts_write = ts,
                 .v = &confidence};
    return s_push(self, &r);
}

bool ml4t_store_put_outcome(ml4t_store_t *self, const char *instrument_id, const char *signal_id,
                            uint64_t ts_event, int label, double realized_return, bool correct,
                            uint64_t ts)
{
    s_put_t r = {.kind = S_REC_OUTCOME,
                 .instrument_id = instrument_id,
                 .signal_id = signal_id,
                 .ts = ts_event,
                 .ival = label,
                 .correct = correct ? 1 : 0,
                 .ts_write = ts,
                 .v = &realized_return};
    return s_push(self, &r);
}

ml4t_err_t ml4t_store_flush(ml4t_store_t *self, int timeout_ms)
{
    size_t target = atomic_load(&self->head);
    struct timespec nap = {0, 1000000};
    for (int waited = 0; atomic_load(&self->tail) < target; waited++) {
        if (waited >= timeout_ms)
            return ML4T_ETIMEOUT;
        sem_post(&self->wake);
        nanosleep(&nap, NULL);
    }
    return ML4T_OK;
}

void ml4t_store_stats(ml4t_store_t *self, ml4t_store_stats_t *out)
{
    out->enqueued = atomic_load(&self->enqueued);
    out->stored = atomic_load(&self->stored);
    out->dropped = atomic_load(&self->dropped);
    out->write_errors = atomic_load(&self->write_errors);
    out->transactions = atomic_load(&self->transactions);
    out->slowest_tx_us = atomic_load(&self->slowest_tx_us);
    out->queue_depth = atomic_load(&self->head) - atomic_load(&self->tail);
    out->cache_bytes = atomic_load(&self->cache_w) + atomic_load(&self->cache_r);
}

/* Ends a reader's turn on rdb, noting its cache while it still owns it. */
static void s_runlock(ml4t_store_t *self)
{
    atomic_store_explicit(&self->cache_r, s_cache_used(self->rdb), memory_order_relaxed);
    pthread_mutex_unlock(&self->rlock);
}

static double s_col_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

ml4t_err_t ml4t_store_load_bars(ml4t_store_t *self, const char *instrument_id, size_t max_bars,
                                ml4t_bars_t *out, ml4t_error_t *err)
{
    const char *sql = "SELECT * FROM (SELECT ts, open, high, low, close, volume, buy_volume"
                      " FROM bars WHERE instrument = ? ORDER BY ts DESC LIMIT ?) ORDER BY ts";
    ml4t_err_t rc = ML4T_OK;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&self->rlock);
    if (sqlite3_prepare_v2(self->rdb, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = s_db_error(err, self->rdb, "load bars");
        goto out;
    }
    sqlite3_bind_text(st, 1, instrument_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max_bars);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = ml4t_bars_push(out, (uint64_t)sqlite3_column_int64(st, 0), s_col_real(st, 1),
                            s_col_real(st, 2), s_col_real(st, 3), s_col_real(st, 4),
                            s_col_real(st, 5), s_col_real(st, 6));
        if (rc) {
            ml4t_error_set(err, rc, "bars", "no memory for stored bars");
            goto out;
        }
    }
    if (step != SQLITE_DONE)
        rc = s_db_error(err, self->rdb, "load bars");
out:
    sqlite3_finalize(st);
    s_runlock(self);
    return rc;
}

ml4t_err_t ml4t_store_instruments(ml4t_store_t *self, char (*ids)[ML4T_INSTRUMENT_MAX + 1],
                                  size_t cap, size_t *n, ml4t_error_t *err)
{
    sqlite3_stmt *st = NULL;
    ml4t_err_t rc = ML4T_OK;
    *n = 0;
    pthread_mutex_lock(&self->rlock);
    if (sqlite3_prepare_v2(self->rdb, "SELECT DISTINCT instrument FROM bars ORDER BY 1", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = s_db_error(err, self->rdb, "list instruments");
    } else {
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (*n < cap)
                snprintf(ids[*n], ML4T_INSTRUMENT_MAX + 1, "%s",
                         (const char *)sqlite3_column_text(st, 0));
            (*n)++;
        }
    }
    sqlite3_finalize(st);
    s_runlock(self);
    return rc;
}

ml4t_err_t ml4t_store_busiest_instrument(ml4t_store_t *self, char id[ML4T_INSTRUMENT_MAX + 1],
                                         uint64_t *n_bars, ml4t_error_t *err)
{
    ml4t_err_t rc = ML4T_OK;
    pthread_mutex_lock(&self->clock);
    bool stale = self->counts_stale;
    pthread_mutex_unlock(&self->clock);
    if (stale) { /* rare: recount from what is committed */
        pthread_mutex_lock(&self->rlock);
        rc = s_count_seed(self, self->rdb, err);
        s_runlock(self);
        if (rc)
            return rc;
    }
    pthread_mutex_lock(&self->clock);
    const s_count_t *best = NULL; /* most bars; ties: the first id in byte order */
    for (size_t i = 0; i < self->counts_cap; i++) {
        const s_count_t *c = &self->counts[i];
        if (c->id[0] && c->n > 0 &&
            (!best || c->n > best->n || (c->n == best->n && strcmp(c->id, best->id) < 0)))
            best = c;
    }
    if (best) {
        snprintf(id, ML4T_INSTRUMENT_MAX + 1, "%s", best->id);
        *n_bars = best->n;
    } else {
        rc = ml4t_error_set(err, ML4T_ENODATA, "bars", "no bars stored yet");
    }
    pthread_mutex_unlock(&self->clock);
    return rc;
}

ml4t_err_t ml4t_store_count(ml4t_store_t *self, const char *table, uint64_t *n, ml4t_error_t *err)
{
    static const char *tables[] = {"bars", "predictions", "outcomes", "models"};
    const char *t = NULL;
    for (size_t i = 0; i < 4; i++)
        if (strcmp(table, tables[i]) == 0)
            t = tables[i];
    if (!t)
        return ml4t_error_set(err, ML4T_EINVAL, "table", "unknown table '%s'", table);
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", t);
    sqlite3_stmt *st = NULL;
    ml4t_err_t rc = ML4T_OK;
    pthread_mutex_lock(&self->rlock);
    if (sqlite3_prepare_v2(self->rdb, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        rc = s_db_error(err, self->rdb, "count");
    else
        *n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    s_runlock(self);
    return rc;
}

ml4t_err_t ml4t_store_registry_add(ml4t_store_t *self, const ml4t_registry_entry_t *e,
                                   ml4t_error_t *err)
{
    if (!e->version[0])
        return ml4t_error_set(err, ML4T_EMISSING, "version", "registry entry without a version");
    sqlite3_stmt *st = NULL;
    ml4t_err_t rc = ML4T_OK;
    pthread_mutex_lock(&self->rlock);
    if (sqlite3_prepare_v2(self->rdb, "INSERT OR REPLACE INTO models VALUES(?,?,?,?,?,?,?)", -1,
                           &st, NULL) != SQLITE_OK) {
        rc = s_db_error(err, self->rdb, "registry add");
        goto out;
    }
    s_bind_text(st, 1, e->version);
    s_bind_text(st, 2, e->path);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)e->created_ns);
    s_bind_real(st, 4, e->auc);
    s_bind_real(st, 5, e->accuracy);
    s_bind_text(st, 6, e->status[0] ? e->status : "candidate");
    s_bind_text(st, 7, e->note);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = s_db_error(err, self->rdb, "registry add");
out:
    sqlite3_finalize(st);
    s_runlock(self);
    return rc;
}

ml4t_err_t ml4t_store_registry_set_live(ml4t_store_t *self, const char *version, ml4t_error_t *err)
{
    sqlite3_stmt *st = NULL;
    ml4t_err_t rc = ML4T_OK;
    pthread_mutex_lock(&self->rlock);
    if (sqlite3_exec(self->rdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = s_db_error(err, self->rdb, "registry set live");
        goto out;
    }
    if (sqlite3_prepare_v2(self->rdb, "UPDATE models SET status='live' WHERE version=?", -1, &st,
                           NULL) != SQLITE_OK)
        goto out_rollback;
    sqlite3_bind_text(st, 1, version, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto out_rollback;
    if (sqlite3_changes(self->rdb) == 0) {
        sqlite3_exec(self->rdb, "ROLLBACK", NULL, NULL, NULL);
        rc = ml4t_error_set(err, ML4T_ENOTFOUND, "version", "no model version '%s' in registry",
                            version);
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(self->rdb,
                           "UPDATE models SET status='retired' WHERE status='live' AND version<>?",
                           -1, &st, NULL) != SQLITE_OK)
        goto out_rollback;
    sqlite3_bind_text(st, 1, version, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE ||
        sqlite3_exec(self->rdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto out_rollback;
    goto out;
out_rollback:
    rc = s_db_error(err, self->rdb, "registry set live");
    sqlite3_exec(self->rdb, "ROLLBACK", NULL, NULL, NULL);
out:
    sqlite3_finalize(st);
    s_runlock(self);
    return rc;
}

static void s_read_entry(sqlite3_stmt *st, ml4t_registry_entry_t *e)
{
    memset(e, 0, sizeof *e);
    const char *t;
    if ((t = (const char *)sqlite3_column_text(st, 0)))
        snprintf(e->version, sizeof e->version, "%s", t);
    if ((t = (const char *)sqlite3_column_text(st, 1)))
        snprintf(e->path, sizeof e->path, "%s", t);
    e->created_ns = (uint64_t)sqlite3_column_int64(st, 2);
    e->auc = s_col_real(st, 3);
    e->accuracy = s_col_real(st, 4);
    if ((t = (const char *)sqlite3_column_text(st, 5)))
        snprintf(e->status, sizeof e->status, "%s", t);
    if ((t = (const char *)sqlite3_column_text(st, 6)))
        snprintf(e->note, sizeof e->note, "%s", t);
}

static ml4t_err_t s_registry_query(ml4t_store_t *self, const char *sql, ml4t_registry_entry_t *out,
                                   size_t cap, size_t *n, ml4t_error_t *err)
{
    sqlite3_stmt *st = NULL;
    ml4t_err_t rc = ML4T_OK;
    *n = 0;
    pthread_mutex_lock(&self->rlock);
    if (sqlite3_prepare_v2(self->rdb, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = s_db_error(err, self->rdb, "registry");
    } else {
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW && *n < cap)
            s_read_entry(st, &out[(*n)++]);
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = s_db_error(err, self->rdb, "registry");
    }
    sqlite3_finalize(st);
    s_runlock(self);
    return rc;
}

ml4t_err_t ml4t_store_registry_live(ml4t_store_t *self, ml4t_registry_entry_t *out,
                                    ml4t_error_t *err)
{
    size_t n = 0;
    ml4t_err_t rc = s_registry_query(
        self, "SELECT * FROM models WHERE status='live' ORDER BY created_ns DESC LIMIT 1", out, 1,
        &n, err);
    if (rc)
        return rc;
    if (n == 0)
        return ml4t_error_set(err, ML4T_ENOTFOUND, "registry", "no live model in the registry");
    return ML4T_OK;
}

ml4t_err_t ml4t_store_registry_list(ml4t_store_t *self, ml4t_registry_entry_t *out, size_t cap,
                                    size_t *n, ml4t_error_t *err)
{
    return s_registry_query(self, "SELECT * FROM models ORDER BY created_ns DESC, version DESC",
                            out, cap, n, err);
}

ml4t_err_t ml4t_store_registry_remove(ml4t_store_t *self, const char *version, ml4t_error_t *err)
{
    sqlite3_stmt *st = NULL;
    ml4t_err_t rc = ML4T_OK;
    pthread_mutex_lock(&self->rlock);
    if (sqlite3_prepare_v2(self->rdb, "DELETE FROM models WHERE version=?", -1, &st, NULL) !=
        SQLITE_OK) {
        rc = s_db_error(err, self->rdb, "registry remove");
    } else {
        sqlite3_bind_text(st, 1, version, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = s_db_error(err, self->rdb, "registry remove");
    }
    sqlite3_finalize(st);
    s_runlock(self);
    return rc;
}

ml4t_err_t ml4t_store_integrity_check(ml4t_store_t *self, ml4t_error_t *err)
{
    sqlite3_stmt *st = NULL;
    ml4t_err_t rc = ML4T_OK;
    pthread_mutex_lock(&self->rlock);
    if (sqlite3_prepare_v2(self->rdb, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = s_db_error(err, self->rdb, "integrity check");
    } else {
        const char *res = (const char *)sqlite3_column_text(st, 0);
        if (!res || strcmp(res, "ok") != 0)
            rc = ml4t_error_set(err, ML4T_EIO, "store", "integrity check failed: %s",
                                res ? res : "(null)");
    }
    sqlite3_finalize(st);
    s_runlock(self);
    return rc;
}
