/*  ml4t_orchestrator: a signal in, an enriched signal out.

    Ties the classes together on the hot path: merge the signal's bars into the
    instrument's state (deduplicated by timestamp; gaps and conflicting bars
    counted), incremental features, the meta-model from the model slot, VPIN,
    changepoint and regime, the trading policy's verdict, the size. It remembers
    each prediction and labels it with the triple barrier once max_holding_bars
    later bars of that instrument have arrived (or when an OutcomeEvent names it),
    feeding the retrain monitor; triggers go to a callback (the supervisor's
    non-blocking request), never interrupting inference.

    Threading: process_* and the stats/policy getters belong to ONE thread (the
    node actor's). ml4t_orchestrator_hot_swap and ml4t_orchestrator_slot may be
    used from any thread: the model slot is lock-free for readers. */
#ifndef ML4T_ORCHESTRATOR_H_INCLUDED
#define ML4T_ORCHESTRATOR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml4t/config.h"
#include "ml4t/error.h"
#include "ml4t/event.h"
#include "ml4t/features.h"
#include "ml4t/labels.h"
#include "ml4t/model.h"
#include "ml4t/model_slot.h"
#include "ml4t/monitor.h"
#include "ml4t/policy.h"
#include "ml4t/regime.h"
#include "ml4t/sizer.h"
#include "ml4t/store.h"
#include "ml4t/vpin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ml4t_orchestrator ml4t_orchestrator_t;

/* Called on the hot thread when the monitor fires; must not block. */
typedef void(ml4t_trigger_fn)(void *ud, const ml4t_trigger_t *trigger);

typedef struct ml4t_orchestrator_config {
    ml4t_config_t base; /* model_path, default_confidence, min/max bars, features... */
    ml4t_features_config_t features;
    ml4t_labels_config_t labels;
    ml4t_vpin_config_t vpin; /* bucket_volume 0: per instrument, ADV/50 of its first bars */
    ml4t_sizer_config_t sizer;
    ml4t_regime_config_t regime;
    ml4t_monitor_config_t monitor; /* drop threshold, min samples from base at new() */
    bool policy_enabled;           /* true */
    ml4t_policy_config_t policy;
    double policy_update_interval_s; /* 1: how often signals may re-derive policy inputs */
    double trending_threshold;       /* 1.0: trend_strength above it is TRENDING */
    size_t history_bars;             /* 1024: bars kept per instrument for labels and conflicts */
    size_t max_instruments;          /* 4096 */
    size_t max_pending;              /* 1024: predictions per instrument awaiting a label */
    bool load_model;                 /* true: load base.model_path at new() when it exists */
} ml4t_orchestrator_config_t;

typedef struct ml4t_orchestrator_stats {
    uint64_t received;                /* signals handed to process_signal */
    uint64_t enriched;                /* answered with an enriched signal */
    uint64_t errors[ML4T_ERR_COUNT_]; /* refused signals/outcomes, by error code */
    uint64_t cold_start;              /* answered without a model */
    uint64_t over_budget;             /* answered later than base.inference_timeout_ms */
    uint64_t bars_merged, bars_duplicate, bars_conflicting, gaps;
    uint64_t self_labeled, outcomes_matched, outcomes_unmatched;
    uint64_t triggers;
    uint64_t policy_blocked;
    uint64_t store_dropped; /* records the history store refused (queue full) */
    uint64_t model_changes; /* models seen on the slot since start */
    size_t instruments;
    double latency_p50_ns, latency_p99_ns, latency_p999_ns; /* last 8192 signals */
    double accuracy;                     /* monitor's rolling accuracy, NaN before min_samples */
    double baseline;                     /* monitor's baseline, NaN when unknown */
    char model_version[ML4T_ID_MAX + 1]; /* "" when no model */
} ml4t_orchestrator_stats_t;

void ml4t_orchestrator_config_default(ml4t_orchestrator_config_t *cfg);
ml4t_err_t ml4t_orchestrator_config_validate(const ml4t_orchestrator_config_t *cfg,
                                             ml4t_error_t *err);

/* store may be NULL (no history kept). The orchestrator does not own the store.
   A missing model file is a cold start (one warning on stderr), a refused one
   too, with the reason in the warning: neither is an error. */
ml4t_orchestrator_t *ml4t_orchestrator_new(const ml4t_orchestrator_config_t *cfg,
                                           ml4t_store_t *store, ml4t_error_t *err);
void ml4t_orchestrator_destroy(ml4t_orchestrator_t **self_p);

void ml4t_orchestrator_set_trigger_fn(ml4t_orchestrator_t *self, ml4t_trigger_fn *fn, void *ud);

/* The hot path. On success *out is filled (identity, confidence, regime,
   toxicity, changepoint, size, verdict, latency breakdown; latency_decode_ns and
   latency_encode_ns are left for the caller). On error nothing is answered, the
   error is counted by code, and err names the field. */
ml4t_err_t ml4t_orchestrator_process_signal(ml4t_orchestrator_t *self, const ml4t_signal_t *sig,
                                            ml4t_enriched_t *out, ml4t_error_t *err);

/* The same for a signal the caller has already validated with
   ml4t_signal_validate (ml4t_codec_decode_signal does): skips a second pass over
   the bars. Only the bar count is checked again. */
ml4t_err_t ml4t_orchestrator_process_decoded(ml4t_orchestrator_t *self, const ml4t_signal_t *sig,
                                             ml4t_enriched_t *out, ml4t_error_t *err);

/* An outcome from the mesh, naming a remembered prediction by signal_id or
   ts_event. ML4T_ENOTFOUND when no such prediction awaits a label. */
ml4t_err_t ml4t_orchestrator_process_outcome(ml4t_orchestrator_t *self,
                                             const ml4t_outcome_t *outcome, ml4t_error_t *err);

/* The strategies' risk state for the policy engine. *changed tells whether the
   current policy changed (publish it). */
ml4t_err_t ml4t_orchestrator_process_risk_state(ml4t_orchestrator_t *self,
                                                const ml4t_risk_state_t *risk, uint64_t now_ns,
                                                bool *changed, ml4t_error_t *err);

/* After a restart: replay each stored instrument's newest max(history_bars, 4096) bars into
   its state (features, VPIN, HMM filter), so that signals carrying only their
   newest bar are served at once. Call on the hot thread before the first
   signal, after the live model is in the slot. *n_instruments gets how many
   were warmed. An instrument whose stored bars cannot be read (a damaged
   block) is passed over: the others are warmed, and the first such error is
   returned with *n_instruments set. */
ml4t_err_t ml4t_orchestrator_warm_from_store(ml4t_orchestrator_t *self, size_t *n_instruments,
                                             ml4t_error_t *err);

/* The current trading policy (NULL when the policy engine is off), and whether it
   changed since the last call of this function (publish it when it did). */
const ml4t_trading_policy_t *ml4t_orchestrator_policy(ml4t_orchestrator_t *self, bool *changed);

/* The policy engine's history (the last 100 policies) to and from a JSON file
   (atomic write). Loading makes its newest policy current. ML4T_OK without a
   policy engine; ML4T_ENOTFOUND when the file does not exist. */
ml4t_err_t ml4t_orchestrator_policy_save(const ml4t_orchestrator_t *self, const char *path,
                                         ml4t_error_t *err);
ml4t_err_t ml4t_orchestrator_policy_load(ml4t_orchestrator_t *self, const char *path,
                                         ml4t_error_t *err);

/* Publish a new model (any thread). It must carry the configured feature list:
   ML4T_EMISMATCH otherwise, and the caller keeps its reference. On success the
   slot takes the caller's reference. */
ml4t_err_t ml4t_orchestrator_hot_swap(ml4t_orchestrator_t *self, ml4t_model_t *model,
                                      ml4t_error_t *err);

/* Check that a model's features equal the configured list (any thread). */
ml4t_err_t ml4t_orchestrator_check_model(const ml4t_orchestrator_t *self, const ml4t_model_t *model,
                                         ml4t_error_t *err);

/* The model slot, for a supervisor that swaps models itself (any thread). */
ml4t_model_slot_t *ml4t_orchestrator_slot(ml4t_orchestrator_t *self);

/* A manual retrain request through the monitor (hot thread). */
void ml4t_orchestrator_request_retrain(ml4t_orchestrator_t *self, uint64_t now_ns);

void ml4t_orchestrator_stats(ml4t_orchestrator_t *self, ml4t_orchestrator_stats_t *out);

/* The orchestrator's configuration (read-only). */
const ml4t_orchestrator_config_t *ml4t_orchestrator_config(const ml4t_orchestrator_t *self);

#ifdef __cplusplus
}
#endif
#endif
