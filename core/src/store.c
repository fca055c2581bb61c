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

/* An instrument's bars as stored: how many, the newest timestamp (a bar not
   newer is ignored), and, for the writer, its group in the current batch. */
typedef struct {
    char id[ML4T_INSTRUMENT_MAX + 1]; /* "" = free slot */
    uint64_t n;
    uint64_t last_ts;      /* meaningful when n > 0 */
    uint32_t batch, group; /* group is this batch's when batch is the writer's epoch */
} s_count_t;

/* Bars are stored in blocks: one row of bar_blocks per instrument and
   transaction, its bars packed in data, S_BAR_BYTES each (ts as a
   little-endian int64, then open, high, low, close, volume, buy_volume as
   little-endian IEEE doubles; NaN for an unknown buy volume). A row per bar
   cost the writer 3-3.5 us here, most of a one-bar signal's history. */
#define S_BAR_BYTES       56u
#define S_ROWS_PER_INSERT 16 /* predictions or outcomes in one INSERT statement */
typedef struct {             /* a bar the writer took into the current batch */
    uint64_t ts;
    double v[6];
    uint32_t group;
} s_bar_t;
typedef struct { /* one instrument's bars in the current batch */
    char id[ML4T_INSTRUMENT_MAX + 1];
    uint32_t n, at;
} s_group_t;

struct ml4t_store {
    ml4t_store_config_t cfg;
    char path[512];
    sqlite3 *wdb; /* writer thread's connection */
    sqlite3 *rdb; /* readers' connection, under rlock */
    pthread_mutex_t rlock;
    sqlite3_stmt *ins_block, *ins_pred, *ins_out;
    sqlite3_stmt *ins_pred_n, *ins_out_n; /* S_ROWS_PER_INSERT rows a statement */
    /* the writer's batch of predictions and outcomes, written at its end */
    s_record_t *rows;
    size_t rows_n, rows_cap;
    /* the writer's batch of bars, grouped by instrument into blocks */
    s_bar_t *bars;
    uint32_t *order;
    size_t bars_n, bars_cap, order_cap;
    s_group_t *groups;
    size_t groups_n, groups_cap;
    uint8_t *blob;
    size_t blob_cap;
    uint32_t epoch;

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
    bool counts_stale; /* a commit failed: the writer recounts before its next batch */
};

static const char *s_schema =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA journal_size_limit=67108864;"
    "CREATE TABLE IF NOT EXISTS bar_blocks(instrument TEXT NOT NULL, ts_first INTEGER NOT NULL,"
    " ts_last INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY(instrument, ts_first)) WITHOUT ROWID;"
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

static double s_col_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
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

/* id's slot, made when it is new. Under clock. NULL for "" or out of memory.
   A new slot can move the others: a pointer into the table lasts until the
   next call. */
static s_count_t *s_count_get(ml4t_store_t *self, const char *id)
{
    if (!id[0])
        return NULL;
    if ((self->counts_n + 1) * 2 > self->counts_cap) { /* keep the load under 1/2 */
        size_t cap = self->counts_cap ? self->counts_cap * 2 : 64;
        s_count_t *t = calloc(cap, sizeof *t);
        if (!t)
            return NULL;
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
    return c;
}

/* Counts and newest timestamps from the table itself: at open, and after a
   failed commit. Takes clock; the caller holds whatever guards db. */
static ml4t_err_t s_count_seed(ml4t_store_t *self, sqlite3 *db, ml4t_error_t *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT instrument, sum(n), max(ts_last) FROM bar_blocks"
                           " GROUP BY instrument",
                           -1, &st, NULL) != SQLITE_OK)
        return s_db_error(err, db, "count bars");
    pthread_mutex_lock(&self->clock);
    if (self->counts) /* none before the first bar */
        memset(self->counts, 0, self->counts_cap * sizeof *self->counts);
    self->counts_n = 0;
    int step;
    bool ok = true;
    while (ok && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        s_count_t *c = s_count_get(self, id ? id : "");
        if (!c) {
            if (id && id[0]) /* "" is never stored; this is out of memory */
                ok = false;
            continue;
        }
        c->n = (uint64_t)sqlite3_column_int64(st, 1);
        c->last_ts = (uint64_t)sqlite3_column_int64(st, 2);
    }
    self->counts_stale = !ok || step != SQLITE_DONE;
    pthread_mutex_unlock(&self->clock);
    sqlite3_finalize(st);
    if (!ok)
        return ml4t_error_set(err, ML4T_ENOMEM, "store", "no memory for bar counts");
    return step == SQLITE_DONE ? ML4T_OK : s_db_error(err, db, "count bars");
}

/* Grows *p to hold want items of size each; false when out of memory. */
static bool s_reserve(void **p, size_t *cap, size_t want, size_t size)
{
    if (want <= *cap)
        return true;
    size_t n = *cap ? *cap : 64;
    while (n < want)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* Binds a prediction's or an outcome's 7 columns from parameter base + 1. */
static void s_bind_row(sqlite3_stmt *st, int base, const s_record_t *r)
{
    s_bind_text(st, base + 1, r->instrument_id);
    s_bind_text(st, base + 2, r->signal_id);
    sqlite3_bind_int64(st, base + 3, (sqlite3_int64)r->ts);
    sqlite3_bind_int(st, base + 4, r->ival);
    s_bind_real(st, base + 5, r->v[0]);
    if (r->kind == S_REC_PREDICTION)
        s_bind_text(st, base + 6, r->model_version);
    else
        sqlite3_bind_int(st, base + 6, r->correct);
    sqlite3_bind_int64(st, base + 7, (sqlite3_int64)r->ts_write);
}

/* Runs st once with the rows bound (their strings are bound static: they
   live in self->rows until the batch is written). 0 or -1. */
static int s_insert_rows(sqlite3_stmt *st, const s_record_t *const *r, int n)
{
    for (int i = 0; i < n; i++)
        s_bind_row(st, 7 * i, r[i]);
    int rc = sqlite3_step(st);
    sqlite3_reset(st); /* every parameter is bound again for the next use */
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Writes the batch's predictions and outcomes, each table's in the order
   they came, S_ROWS_PER_INSERT rows a statement (a third less of the
   writer's time a row than one row a statement), the rest one by one.
   Returns how many could not be written. */
static uint64_t s_write_rows(ml4t_store_t *self)
{
    uint64_t bad = 0;
    static const s_kind_t kinds[2] = {S_REC_PREDICTION, S_REC_OUTCOME};
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *one = k ? self->ins_out : self->ins_pred;
        sqlite3_stmt *many = k ? self->ins_out_n : self->ins_pred_n;
        const s_record_t *chunk[S_ROWS_PER_INSERT];
        int n = 0;
        for (size_t i = 0; i < self->rows_n; i++) {
            if (self->rows[i].kind != kinds[k])
                continue;
            chunk[n++] = &self->rows[i];
            if (n == S_ROWS_PER_INSERT) {
                if (s_insert_rows(many, chunk, n))
                    bad += (uint64_t)n;
                n = 0;
            }
        }
        for (int i = 0; i < n; i++)
            if (s_insert_rows(one, &chunk[i], 1))
                bad++;
    }
    self->rows_n = 0;
    return bad;
}

/* Room for a batch of n records, whatever their kinds; false when out of memory. */
static bool s_reserve_batch(ml4t_store_t *self, size_t n)
{
    return s_reserve((void **)&self->rows, &self->rows_cap, n, sizeof *self->rows) &&
           s_reserve((void **)&self->bars, &self->bars_cap, n, sizeof *self->bars) &&
           s_reserve((void **)&self->groups, &self->groups_cap, n, sizeof *self->groups);
}

/* Takes a bar into the batch's block of its instrument. A bar not newer than
   the newest stored or taken for its instrument is ignored (0, as a duplicate
   was when bars were rows); -1 when there is no memory or no instrument.
   The batch has room for it (s_reserve_batch). */
static int s_take_bar(ml4t_store_t *self, const s_record_t *r)
{
    pthread_mutex_lock(&self->clock);
    s_count_t *c = s_count_get(self, r->instrument_id);
    if (!c) {
        pthread_mutex_unlock(&self->clock);
        return -1;
    }
    if (c->n > 0 && r->ts <= c->last_ts) {
        pthread_mutex_unlock(&self->clock);
        return 0;
    }
    c->last_ts = r->ts;
    c->n++;
    if (c->batch != self->epoch) {
        c->batch = self->epoch;
        c->group = (uint32_t)self->groups_n++;
        s_group_t *g = &self->groups[c->group];
        memcpy(g->id, c->id, sizeof g->id);
        g->n = g->at = 0;
    }
    s_bar_t *b = &self->bars[self->bars_n++];
    b->group = c->group;
    pthread_mutex_unlock(&self->clock);
    b->ts = r->ts;
    memcpy(b->v, r->v, sizeof b->v);
    self->groups[b->group].n++;
    return 0;
}

static void s_put_le64(uint8_t *p, uint64_t x)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(x >> (8 * i));
}

static uint64_t s_get_le64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)p[i] << (8 * i);
    return x;
}

static void s_put_bar(uint8_t *p, uint64_t ts, const double v[6])
{
    s_put_le64(p, ts);
    for (int k = 0; k < 6; k++) {
        uint64_t u;
        memcpy(&u, &v[k], sizeof u);
        s_put_le64(p + 8 + 8 * k, u);
    }
}

static uint64_t s_get_bar(const uint8_t *p, double v[6])
{
    for (int k = 0; k < 6; k++) {
        uint64_t u = s_get_le64(p + 8 + 8 * k);
        memcpy(&v[k], &u, sizeof u);
    }
    return s_get_le64(p);
}

/* Inserts one block of n bars. 0 or -1. */
static int s_insert_block(ml4t_store_t *self, const char *id, const uint8_t *data, size_t n)
{
    sqlite3_stmt *st = self->ins_block;
    s_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)s_get_le64(data));
    sqlite3_bind_int64(st, 3, (sqlite3_int64)s_get_le64(data + (n - 1) * S_BAR_BYTES));
    sqlite3_bind_int64(st, 4, (sqlite3_int64)n);
    sqlite3_bind_blob(st, 5, data, (int)(n * S_BAR_BYTES), SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Writes the batch's bars, a block per instrument, in the order they came.
   Returns how many bars could not be written. */
static uint64_t s_write_blocks(ml4t_store_t *self)
{
    uint64_t bad = 0;
    if (self->bars_n == 0)
        return 0;
    /* the bars in group order (a counting sort: stable, so each block's bars
       keep their order, which s_take_bar made increasing) */
    size_t at = 0, most = 0;
    for (size_t g = 0; g < self->groups_n; g++) {
        self->groups[g].at = (uint32_t)at;
        at += self->groups[g].n;
        if (self->groups[g].n > most)
            most = self->groups[g].n;
    }
    if (!s_reserve((void **)&self->order, &self->order_cap, self->bars_n, sizeof *self->order) ||
        !s_reserve((void **)&self->blob, &self->blob_cap, most * S_BAR_BYTES, 1)) {
        bad = self->bars_n;
        goto out;
    }
    for (size_t i = 0; i < self->bars_n; i++)
        self->order[self->groups[self->bars[i].group].at++] = (uint32_t)i;
    at = 0;
    for (size_t g = 0; g < self->groups_n; g++) {
        size_t n = self->groups[g].n;
        for (size_t k = 0; k < n; k++) {
            const s_bar_t *b = &self->bars[self->order[at + k]];
            s_put_bar(self->blob + k * S_BAR_BYTES, b->ts, b->v);
        }
        at += n;
        if (s_insert_block(self, self->groups[g].id, self->blob, n))
            bad += n;
    }
out:
    if (bad) {
        pthread_mutex_lock(&self->clock); /* its bars were counted */
        self->counts_stale = true;
        pthread_mutex_unlock(&self->clock);
    }
    self->bars_n = self->groups_n = 0;
    return bad;
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
    pthread_mutex_lock(&self->clock);
    bool stale = self->counts_stale;
    pthread_mutex_unlock(&self->clock);
    if (stale) /* a commit failed: the newest timestamps again, from what is stored */
        s_count_seed(self, self->wdb, NULL);
    if (++self->epoch == 0) /* 0 is every slot's batch after a seed */
        self->epoch = 1;
    bool room = s_reserve_batch(self, n);
    bool in_tx = sqlite3_exec(self->wdb, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    for (size_t i = 0; i < n; i++) {
        s_record_t spare; /* without room the records are only passed over */
        s_record_t *r = room ? &self->rows[self->rows_n] : &spare;
        tail_b += s_unpack(self, tail_b, r);
        if (!room)
            bad++;
        else if (r->kind != S_REC_BAR) /* a prediction or an outcome: kept where it is */
            self->rows_n++, ok++;
        else if (s_take_bar(self, r) == 0)
            ok++;
        else
            bad++;
    }
    uint64_t lost = s_write_rows(self) + s_write_blocks(self); /* counted in ok so far */
    ok -= lost;
    bad += lost;
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
    static const char *head[2] = {
        "INSERT INTO predictions(instrument, signal_id, ts_event, signal, confidence,"
        " model_version, ts) VALUES",
        "INSERT INTO outcomes(instrument, signal_id, ts_event, label, realized_return, correct,"
        " ts) VALUES"};
    sqlite3_stmt **one[2] = {&self->ins_pred, &self->ins_out};
    sqlite3_stmt **many[2] = {&self->ins_pred_n, &self->ins_out_n};
    if (sqlite3_prepare_v2(self->wdb, "INSERT INTO bar_blocks VALUES(?,?,?,?,?)", -1,
                           &self->ins_block, NULL) != SQLITE_OK)
        return s_db_error(err, self->wdb, "prepare");
    for (int k = 0; k < 2; k++) {
        char sql[256 + S_ROWS_PER_INSERT * 16];
        int at = snprintf(sql, sizeof sql, "%s(?,?,?,?,?,?,?)", head[k]);
        if (sqlite3_prepare_v2(self->wdb, sql, -1, one[k], NULL) != SQLITE_OK)
            return s_db_error(err, self->wdb, "prepare");
        for (int i = 1; i < S_ROWS_PER_INSERT; i++)
            at += snprintf(sql + at, sizeof sql - (size_t)at, ",(?,?,?,?,?,?,?)");
        if (sqlite3_prepare_v2(self->wdb, sql, -1, many[k], NULL) != SQLITE_OK)
            return s_db_error(err, self->wdb, "prepare");
    }
    return ML4T_OK;
}

/* A data directory from before bar blocks keeps its bars as rows, one per
   bar, in a table named bars: they move into blocks when it is first opened,
   in one transaction, and that table goes. */
#define S_MIGRATE_BLOCK 4096u
static ml4t_err_t s_migrate_bar_rows(ml4t_store_t *self, ml4t_error_t *err)
{
    sqlite3 *db = self->wdb;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'bars'", -1,
            &st, NULL) != SQLITE_OK)
        return s_db_error(err, db, "migrate bars");
    bool has = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    st = NULL;
    if (!has)
        return ML4T_OK;
    if (!s_reserve((void **)&self->blob, &self->blob_cap, S_MIGRATE_BLOCK * S_BAR_BYTES, 1))
        return ml4t_error_set(err, ML4T_ENOMEM, "store", "no memory to move bars into blocks");
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return s_db_error(err, db, "migrate bars");
    ml4t_err_t rc = ML4T_OK;
    if (sqlite3_prepare_v2(db,
                           "SELECT instrument, ts, open, high, low, close, volume, buy_volume"
                           " FROM bars ORDER BY instrument, ts",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = s_db_error(err, db, "migrate bars");
        goto out;
    }
    char id[ML4T_INSTRUMENT_MAX + 1] = "";
    size_t k = 0;
    uint64_t moved = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *inst = (const char *)sqlite3_column_text(st, 0);
        if (!inst || !inst[0] || strlen(inst) > ML4T_INSTRUMENT_MAX) {
            rc = ml4t_error_set(err, ML4T_EINVAL, "bars",
                                "cannot move stored bars into blocks: an instrument id is empty "
                                "or longer than %d bytes",
                                ML4T_INSTRUMENT_MAX);
            goto out;
        }
        if (k && (k == S_MIGRATE_BLOCK || strcmp(inst, id) != 0)) {
            if (s_insert_block(self, id, self->blob, k)) {
                rc = s_db_error(err, db, "migrate bars");
                goto out;
            }
            moved += k;
            k = 0;
        }
        snprintf(id, sizeof id, "%s", inst);
        double v[6];
        for (int c = 0; c < 6; c++)
            v[c] = s_col_real(st, 2 + c);
        s_put_bar(self->blob + k++ * S_BAR_BYTES, (uint64_t)sqlite3_column_int64(st, 1), v);
    }
    if (step != SQLITE_DONE || (k && s_insert_block(self, id, self->blob, k))) {
        rc = s_db_error(err, db, "migrate bars");
        goto out;
    }
    moved += k;
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_exec(db, "DROP TABLE bars", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = s_db_error(err, db, "migrate bars");
        goto out;
    }
    fprintf(stderr, "ml4t_store: moved %llu stored bars into blocks (table bar_blocks)\n",
            (unsigned long long)moved);
    return ML4T_OK;
out:
    sqlite3_finalize(st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void s_free(ml4t_store_t *self)
{
    sqlite3_finalize(self->ins_block);
    sqlite3_finalize(self->ins_pred);
    sqlite3_finalize(self->ins_out);
    sqlite3_finalize(self->ins_pred_n);
    sqlite3_finalize(self->ins_out_n);
    sqlite3_close(self->wdb);
    sqlite3_close(self->rdb);
    pthread_mutex_destroy(&self->rlock);
    pthread_mutex_destroy(&self->clock);
    sem_destroy(&self->wake);
    free(self->counts);
    free(self->bars);
    free(self->order);
    free(self->groups);
    free(self->blob);
    free(self->rows);
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
        s_migrate_bar_rows(self, err) || s_count_seed(self, self->wdb, err))
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

/* Appends the bars of one stored block to out, passing over the first *skip
   and any not newer than the last one this load appended (out->ts[first..]). */
static ml4t_err_t s_decode_block(sqlite3_stmt *st, const char *instrument_id, uint64_t *skip,
                                 ml4t_bars_t *out, size_t first, ml4t_error_t *err)
{
    sqlite3_int64 n = sqlite3_column_int64(st, 1);
    const uint8_t *data = sqlite3_column_blob(st, 2);
    int bytes = sqlite3_column_bytes(st, 2);
    if (n < 1 || !data || (sqlite3_int64)bytes != n * S_BAR_BYTES)
        return ml4t_error_set(err, ML4T_EIO, "bars",
                              "the stored block of %s from ts %lld is damaged: %d bytes for %lld "
                              "bars of %u",
                              instrument_id, (long long)sqlite3_column_int64(st, 0), bytes,
                              (long long)n, S_BAR_BYTES);
    for (sqlite3_int64 k = 0; k < n; k++) {
        if (*skip) {
            (*skip)--;
            continue;
        }
        double v[6];
        uint64_t ts = s_get_bar(data + k * S_BAR_BYTES, v);
        if (out->n > first && ts <= out->ts[out->n - 1])
            continue;
        if (ml4t_bars_push(out, ts, v[0], v[1], v[2], v[3], v[4], v[5]))
            return ml4t_error_set(err, ML4T_ENOMEM, "bars", "no memory for stored bars");
    }
    return ML4T_OK;
}

ml4t_err_t ml4t_store_load_bars(ml4t_store_t *self, const char *instrument_id, size_t max_bars,
                                ml4t_bars_t *out, ml4t_error_t *err)
{
    ml4t_err_t rc = ML4T_OK;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&self->rlock);
    /* one read transaction: both queries see the same blocks */
    bool in_tx = sqlite3_exec(self->rdb, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    if (!in_tx) {
        rc = s_db_error(err, self->rdb, "load bars");
        goto out;
    }
    /* the newest blocks that hold max_bars: the oldest of them, and how many
       of its bars to pass over */
    if (sqlite3_prepare_v2(self->rdb,
                           "SELECT ts_first, n FROM bar_blocks WHERE instrument = ?"
                           " ORDER BY ts_first DESC",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = s_db_error(err, self->rdb, "load bars");
        goto out;
    }
    sqlite3_bind_text(st, 1, instrument_id, -1, SQLITE_TRANSIENT);
    uint64_t total = 0;
    sqlite3_int64 from = 0;
    int step = SQLITE_DONE;
    while (total < max_bars && (step = sqlite3_step(st)) == SQLITE_ROW) {
        from = sqlite3_column_int64(st, 0);
        sqlite3_int64 n = sqlite3_column_int64(st, 1);
        total += n > 0 ? (uint64_t)n : 0;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = s_db_error(err, self->rdb, "load bars");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (total == 0)
        goto out;
    uint64_t skip = total > max_bars ? total - max_bars : 0;
    if (sqlite3_prepare_v2(self->rdb,
                           "SELECT ts_first, n, data FROM bar_blocks WHERE instrument = ?"
                           " AND ts_first >= ? ORDER BY ts_first",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = s_db_error(err, self->rdb, "load bars");
        goto out;
    }
    sqlite3_bind_text(st, 1, instrument_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, from);
    size_t first = out->n;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = s_decode_block(st, instrument_id, &skip, out, first, err);
    if (!rc && step != SQLITE_DONE)
        rc = s_db_error(err, self->rdb, "load bars");
out:
    sqlite3_finalize(st);
    if (in_tx)
        sqlite3_exec(self->rdb, "COMMIT", NULL, NULL, NULL);
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
    if (sqlite3_prepare_v2(self->rdb, "SELECT DISTINCT instrument FROM bar_blocks ORDER BY 1", -1,
                           &st, NULL) != SQLITE_OK) {
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
    /* After a failed commit the counts hold its bars until the writer's next
       batch counts again from what is stored. */
    ml4t_err_t rc = ML4T_OK;
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
    static const char *tables[][2] = {
        {"bars", "SELECT coalesce(sum(n), 0) FROM bar_blocks"}, /* bars, not blocks */
        {"predictions", "SELECT count(*) FROM predictions"},
        {"outcomes", "SELECT count(*) FROM outcomes"},
        {"models", "SELECT count(*) FROM models"}};
    const char *sql = NULL;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (strcmp(table, tables[i][0]) == 0)
            sql = tables[i][1];
    if (!sql)
        return ml4t_error_set(err, ML4T_EINVAL, "table", "unknown table '%s'", table);
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
