/*  ml4t_store: the history store.

    SQLite in WAL mode at <dir>/history.sqlite3: bars per instrument (in blocks:
    a row of bar_blocks per instrument and transaction; docs/runtime.md gives the
    layout), predictions, outcomes and the model registry. The hot path only enqueues: put_* packs a
    record into a bounded single-producer/single-consumer ring and returns at
    once (no allocation); a writer thread drains the ring in batched transactions.
    When the ring is full the record is dropped and counted, and the caller keeps
    serving. Reads and registry updates go through a second connection guarded by
    a mutex: they are for the supervisor and the control path, never the hot path.

    Threading: put_* from ONE producer thread (the node's hot path); every other
    function from any thread. */
#ifndef ML4T_STORE_H_INCLUDED
#define ML4T_STORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml4t/error.h"
#include "ml4t/event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ml4t_store ml4t_store_t;

typedef struct ml4t_store_config {
    size_t queue_capacity; /* records in flight; 262144 (96 bytes each: 24 MiB) */
    size_t batch_max;      /* records per transaction; 4096; a full batch wakes the writer */
    int flush_interval_ms; /* the writer wakes at least this often; 200; [1, 60000] */
    bool start_paused;     /* writer waits for ml4t_store_resume (tests, maintenance) */
    int nice;              /* added to the writer's niceness (Linux); 5; ML4T_SCHED_NICE_* */
    bool idle;             /* the writer runs under SCHED_IDLE (Linux): only on a free core */
    bool history;          /* true: put_* queue bars, predictions, outcomes; false: they
                              keep nothing (the registry and reads work as ever) */
} ml4t_store_config_t;

typedef struct ml4t_store_stats {
    uint64_t enqueued;     /* accepted by put_* */
    uint64_t stored;       /* committed to the database */
    uint64_t dropped;      /* refused by put_* because the queue was full */
    uint64_t write_errors; /* records lost to a failed write (logged) */
    uint64_t transactions;
    uint64_t slowest_tx_us; /* the longest transaction so far, its commit included */
    size_t queue_depth;
    size_t cache_bytes; /* SQLite's page caches of the two connections (bounded) */
} ml4t_store_stats_t;

typedef struct ml4t_registry_entry {
    char version[ML4T_ID_MAX + 1]; /* unique, e.g. "v0003-20231105T120000Z" */
    char path[256];                /* the model's .ubj file */
    uint64_t created_ns;
    double auc;      /* out-of-sample; NaN when unknown */
    double accuracy; /* out-of-sample; NaN when unknown */
    char status[16]; /* "live", "retired", "refused", "candidate" */
    char note[160];  /* why refused, trigger reason, ... */
} ml4t_registry_entry_t;

void ml4t_store_config_default(ml4t_store_config_t *cfg);

/* Open (creating dir and schema as needed) and start the writer thread.
   cfg may be NULL for defaults. Caller owns the result. */
ml4t_store_t *ml4t_store_open(const char *dir, const ml4t_store_config_t *cfg, ml4t_error_t *err);

/* Flush what is queued, stop the writer, close. NULL-safe; sets *self_p NULL. */
void ml4t_store_close(ml4t_store_t **self_p);

/* Let a writer opened with start_paused begin writing. */
void ml4t_store_resume(ml4t_store_t *self);

/* Hot path: enqueue, never block. Return false when the queue was full (counted).
   With history off (config) they keep nothing and return true. The writer
   ignores a bar not newer than the newest stored for its instrument (a
   duplicate, or a late one): an instrument's stored bars only go forward. */
bool ml4t_store_put_bar(ml4t_store_t *self, const char *instrument_id, uint64_t ts, double open,
                        double high, double low, double close, double volume, double buy_volume);
bool ml4t_store_put_prediction(ml4t_store_t *self, const char *instrument_id, const char *signal_id,
                               uint64_t ts_event, int signal, double confidence,
                               const char *model_version, uint64_t ts);
bool ml4t_store_put_outcome(ml4t_store_t *self, const char *instrument_id, const char *signal_id,
                            uint64_t ts_event, int label, double realized_return, bool correct,
                            uint64_t ts);

/* Wait until everything enqueued before the call is written (or failed), waking
   the writer at once. ML4T_ETIMEOUT after timeout_ms. Any thread: from one
   other than the producer's, records put meanwhile may or may not be waited
   for. */
ml4t_err_t ml4t_store_flush(ml4t_store_t *self, int timeout_ms);

/* self is not const: this loads the store's atomics, and C11 declares
   atomic_load for a pointer to non-const (some compilers refuse const). */
void ml4t_store_stats(ml4t_store_t *self, ml4t_store_stats_t *out);

/* The newest max_bars bars of an instrument, oldest first, appended to out.
   ML4T_EIO naming "bars" when a stored block is damaged (its data does not
   hold the bars it counts). */
ml4t_err_t ml4t_store_load_bars(ml4t_store_t *self, const char *instrument_id, size_t max_bars,
                                ml4t_bars_t *out, ml4t_error_t *err);

/* Instruments with stored bars; fills up to cap ids, *n gets the total. */
ml4t_err_t ml4t_store_instruments(ml4t_store_t *self, char (*ids)[ML4T_INSTRUMENT_MAX + 1],
                                  size_t cap, size_t *n, ml4t_error_t *err);

/* The instrument with the most stored bars and their count; ML4T_ENODATA when
   no bar is stored. */
ml4t_err_t ml4t_store_busiest_instrument(ml4t_store_t *self, char id[ML4T_INSTRUMENT_MAX + 1],
                                         uint64_t *n_bars, ml4t_error_t *err);

/* Counts, for status and tests. table: "bars" (bars, not blocks), "predictions",
   "outcomes", "models". */
ml4t_err_t ml4t_store_count(ml4t_store_t *self, const char *table, uint64_t *n, ml4t_error_t *err);

/* Model registry. add inserts or replaces by version. set_live marks one version
   live and the previous live one retired, in one transaction. */
ml4t_err_t ml4t_store_registry_add(ml4t_store_t *self, const ml4t_registry_entry_t *e,
                                   ml4t_error_t *err);
ml4t_err_t ml4t_store_registry_set_live(ml4t_store_t *self, const char *version, ml4t_error_t *err);
/* ML4T_ENOTFOUND when no version is live. */
ml4t_err_t ml4t_store_registry_live(ml4t_store_t *self, ml4t_registry_entry_t *out,
                                    ml4t_error_t *err);
/* Newest first: up to cap entries, *n gets how many were filled. */
ml4t_err_t ml4t_store_registry_list(ml4t_store_t *self, ml4t_registry_entry_t *out, size_t cap,
                                    size_t *n, ml4t_error_t *err);
/* Delete a registry row (the caller removes the files). */
ml4t_err_t ml4t_store_registry_remove(ml4t_store_t *self, const char *version, ml4t_error_t *err);

/* PRAGMA integrity_check; ML4T_EIO with SQLite's first complaint on failure. */
ml4t_err_t ml4t_store_integrity_check(ml4t_store_t *self, ml4t_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
