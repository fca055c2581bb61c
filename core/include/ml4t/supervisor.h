/*  ml4t_supervisor: keeps the meta-model fresh without touching the hot path.

    A thread of its own. A retrain request (from the monitor's triggers, or a
    manual TRAIN) only sets a flag and posts a semaphore: it never blocks, and
    requests that arrive while a training runs coalesce into one more run. A run
    snapshots stored bars, trains walk-forward (ml4t_train_run), fits the HMM
    regime filter on the same bars, and validates the candidate: it is refused,
    logged and counted, when its out-of-sample AUC is below the live model's by
    more than auc_tolerance. An accepted model is saved atomically into the
    registry under <data_dir>/models/<version>/, recorded in the store, marked
    live and hot-swapped in; only the last keep_versions versions are kept.

    The supervisor uses only the orchestrator's thread-safe functions (model
    check and slot) and the store's reader side. */
#ifndef ML4T_SUPERVISOR_H_INCLUDED
#define ML4T_SUPERVISOR_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "ml4t/error.h"
#include "ml4t/monitor.h"
#include "ml4t/orchestrator.h"
#include "ml4t/store.h"
#include "ml4t/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ml4t_supervisor ml4t_supervisor_t;

typedef struct ml4t_supervisor_config {
    char data_dir[256];    /* registry under <data_dir>/models/ */
    size_t keep_versions;  /* 5: versions kept on disk and in the registry, >= 2 */
    double auc_tolerance;  /* 0.02: refuse a candidate whose AUC < live AUC - this */
    size_t max_train_bars; /* 400000: newest stored bars used for a run */
    char train_instrument[ML4T_INSTRUMENT_MAX + 1]; /* "" = the one with most bars */
    bool fit_hmm;              /* true: fit and ship the HMM regime filter with the model */
    int nice;                  /* 10: added to the node's niceness for the supervisor thread
                                  and the training workers it starts (Linux keeps it per
                                  thread), capped at 19: retraining yields the cores to
                                  the hot path; 0 = same priority; in [0, 19] */
    double min_interval_s;     /* 60: wall-clock seconds from the end of a run to the start
                                  of the next automatic one (a trigger in between waits,
                                  coalesced); manual requests are exempt; 0 = none */
    ml4t_train_config_t train; /* labels, folds, model params (features from the node) */
} ml4t_supervisor_config_t;

typedef struct ml4t_supervisor_stats {
    uint64_t requests; /* triggers received */
    uint64_t runs;     /* trainings started */
    uint64_t accepted;
    uint64_t refused; /* candidate worse than the live model */
    uint64_t skipped; /* not enough stored history yet for a run */
    uint64_t failed;  /* training or saving failed */
    uint64_t rollbacks;
    bool busy;
    bool deferred;         /* an automatic request waits for min_interval_s */
    double last_auc;       /* the last candidate's out-of-sample AUC */
    double last_seconds;   /* the last run's wall time */
    uint64_t last_ts_ns;   /* when the last run ended (wall clock) */
    char last_trigger[24]; /* reason of the last request */
    char last_result[160]; /* "accepted v0003 ...", "refused: ...", "failed: ..." */
    char live_version[ML4T_ID_MAX + 1];
} ml4t_supervisor_stats_t;

void ml4t_supervisor_config_default(ml4t_supervisor_config_t *cfg);
ml4t_err_t ml4t_supervisor_config_validate(const ml4t_supervisor_config_t *cfg, ml4t_error_t *err);

/* Start the supervisor thread. orch and store must outlive it. */
ml4t_supervisor_t *ml4t_supervisor_new(const ml4t_supervisor_config_t *cfg,
                                       ml4t_orchestrator_t *orch, ml4t_store_t *store,
                                       ml4t_error_t *err);
/* Stop the thread (a run in progress finishes first). NULL-safe. */
void ml4t_supervisor_destroy(ml4t_supervisor_t **self_p);

/* Ask for a retrain; never blocks (any thread). Matches ml4t_trigger_fn, so it can
   be given to ml4t_orchestrator_set_trigger_fn with the supervisor as ud. */
void ml4t_supervisor_request(void *self, const ml4t_trigger_t *trigger);

/* Put the registry's live model back into the slot (after a restart). ML4T_ENOTFOUND
   when the registry has none; other errors when its files are refused. */
ml4t_err_t ml4t_supervisor_restore(ml4t_supervisor_t *self, ml4t_error_t *err);

/* Swap in the version before the live one (the newest retired one that loads). */
ml4t_err_t ml4t_supervisor_rollback(ml4t_supervisor_t *self, ml4t_error_t *err);

/* Validate a model file as any model is validated, then swap it in and record
   it in the registry as live. */
ml4t_err_t ml4t_supervisor_swap_file(ml4t_supervisor_t *self, const char *path, ml4t_error_t *err);

/* Wait until no run is pending or busy, up to timeout_ms (tests, shutdown). */
ml4t_err_t ml4t_supervisor_wait_idle(ml4t_supervisor_t *self, int timeout_ms);

void ml4t_supervisor_stats(ml4t_supervisor_t *self, ml4t_supervisor_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
