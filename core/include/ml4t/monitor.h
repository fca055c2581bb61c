/*  ml4t_monitor: live accuracy and retrain triggers.

    A rolling window of correct/incorrect outcomes for the live model, a baseline
    set at deployment, and the triggers that ask the supervisor for a retrain:
    accuracy drop, enough new labeled samples, a bar interval, a changepoint on an
    instrument's returns, and a manual request. Recording an outcome or a bar only
    updates counters and may fill a trigger record for the caller to hand off: it
    never trains, never blocks and never touches the model, so inference goes on.

    Not thread-safe: owned by the thread that runs the hot path. */
#ifndef ML4T_MONITOR_H_INCLUDED
#define ML4T_MONITOR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml4t/error.h"
#include "ml4t/event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ML4T_TRIGGER_NONE = 0,
    ML4T_TRIGGER_ACCURACY_DROP,
    ML4T_TRIGGER_SAMPLE_COUNT,
    ML4T_TRIGGER_INTERVAL,
    ML4T_TRIGGER_CHANGEPOINT,
    ML4T_TRIGGER_MANUAL
} ml4t_trigger_reason_t;

typedef struct ml4t_trigger {
    ml4t_trigger_reason_t reason;
    double baseline; /* accuracy at deployment; NaN when not yet known */
    double current;  /* rolling accuracy; NaN before min_samples */
    double drop;     /* baseline - current; NaN when either is unknown */
    uint64_t ts_ns;  /* when it fired (the event's time) */
    int priority;    /* higher is more urgent: manual 3, drop 2, changepoint 2, others 1 */
    char instrument_id[ML4T_INSTRUMENT_MAX + 1]; /* changepoint: the instrument; else "" */
} ml4t_trigger_t;

typedef struct ml4t_monitor_config {
    size_t window;                    /* 1000 outcomes */
    size_t min_samples;               /* 100: no accuracy (and no drop trigger) before */
    double drop_threshold;            /* 0.10: fire when baseline - current >= this */
    size_t retrain_min_samples;       /* 1000 new labeled samples since deployment; 0 = off */
    size_t retrain_interval_bars;     /* 0 = off */
    uint64_t changepoint_cooldown_ns; /* one changepoint trigger per this time; 1 h */
} ml4t_monitor_config_t;

/* The tolerance of the drop comparison: a drop from 0.60 to 0.50 is 0.1 in
   decimal but 0.0999999999999999778 in binary; it must trigger at 0.10. */
#define ML4T_MONITOR_DROP_TOLERANCE 1e-9

typedef struct ml4t_monitor ml4t_monitor_t;

void ml4t_monitor_config_default(ml4t_monitor_config_t *cfg);
ml4t_err_t ml4t_monitor_config_validate(const ml4t_monitor_config_t *cfg, ml4t_error_t *err);

/* Caller owns the result; NULL with err filled on bad config or no memory. */
ml4t_monitor_t *ml4t_monitor_new(const ml4t_monitor_config_t *cfg, ml4t_error_t *err);
void ml4t_monitor_destroy(ml4t_monitor_t **self_p);

/* A model was deployed: clear the window and counters and set the baseline to
   its validation accuracy, or NaN to take the first full window as baseline. */
void ml4t_monitor_deploy(ml4t_monitor_t *self, double validation_accuracy);

/* Record one labeled prediction. Returns true and fills *out when a trigger
   fires (accuracy drop or sample count). Each reason fires once per deployment. */
bool ml4t_monitor_record(ml4t_monitor_t *self, bool correct, uint64_t ts_ns, ml4t_trigger_t *out);

/* Count one bar (any instrument). Returns true when the interval trigger fires;
   it re-arms every retrain_interval_bars bars. */
bool ml4t_monitor_on_bar(ml4t_monitor_t *self, uint64_t ts_ns, ml4t_trigger_t *out);

/* A changepoint was detected on an instrument's returns. Fires at most once per
   changepoint_cooldown_ns (any instrument). */
bool ml4t_monitor_on_changepoint(ml4t_monitor_t *self, const char *instrument_id, uint64_t ts_ns,
                                 ml4t_trigger_t *out);

/* A manual request: always fires. */
void ml4t_monitor_manual(ml4t_monitor_t *self, uint64_t ts_ns, ml4t_trigger_t *out);

double ml4t_monitor_accuracy(const ml4t_monitor_t *self); /* NaN before min_samples */
double ml4t_monitor_baseline(const ml4t_monitor_t *self); /* NaN when not yet known */
size_t ml4t_monitor_samples(const ml4t_monitor_t *self);  /* in the window */
size_t ml4t_monitor_total(const ml4t_monitor_t *self);    /* since deployment */

const char *ml4t_trigger_reason_name(ml4t_trigger_reason_t reason);

#ifdef __cplusplus
}
#endif
#endif
