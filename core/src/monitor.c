/*  ml4t_monitor: live accuracy and retrain triggers. */
#include "ml4t/monitor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ml4t_monitor {
    ml4t_monitor_config_t cfg;
    unsigned char *ring; /* 1 = correct; window entries */
    size_t head;         /* next write position */
    size_t count;        /* entries in the ring, <= window */
    size_t correct;      /* correct entries in the ring */
    size_t total;        /* outcomes since deployment */
    double baseline;     /* NaN until known */
    bool drop_fired;
    bool samples_fired;
    uint64_t bars; /* since the last interval trigger */
    uint64_t last_changepoint_ns;
    bool changepoint_seen;
};

void ml4t_monitor_config_default(ml4t_monitor_config_t *cfg)
{
    cfg->window = 1000;
    cfg->min_samples = 100;
    cfg->drop_threshold = 0.10;
    cfg->retrain_min_samples = 1000;
    cfg->retrain_interval_bars = 0;
    cfg->changepoint_cooldown_ns = 3600ull * 1000000000ull;
}

ml4t_err_t ml4t_monitor_config_validate(const ml4t_monitor_config_t *cfg, ml4t_error_t *err)
{
    if (cfg->window < 10 || cfg->window > 10000000)
        return ml4t_error_set(err, ML4T_ERANGE, "window", "window=%zu: must be in [10, 1e7]",
                              cfg->window);
    if (cfg->min_samples < 1 || cfg->min_samples > cfg->window)
        return ml4t_error_set(err, ML4T_ERANGE, "min_samples",
                              "min_samples=%zu: must be in [1, window=%zu]", cfg->min_samples,
                              cfg->window);
    if (!(cfg->drop_threshold > 0.0 && cfg->drop_threshold <= 0.5))
        return ml4t_error_set(err, ML4T_ERANGE, "drop_threshold",
                              "drop_threshold=%g: must be in (0, 0.5]", cfg->drop_threshold);
    return ML4T_OK;
}

ml4t_monitor_t *ml4t_monitor_new(const ml4t_monitor_config_t *cfg, ml4t_error_t *err)
{
    if (ml4t_monitor_config_validate(cfg, err))
        return NULL;
    ml4t_monitor_t *self = calloc(1, sizeof *self);
    if (!self || !(self->ring = calloc(cfg->window, 1))) {
        free(self);
        ml4t_error_set(err, ML4T_ENOMEM, "window", "no memory for a window of %zu", cfg->window);
        return NULL;
    }
    self->cfg = *cfg;
    ml4t_monitor_deploy(self, NAN);
    return self;
}

void ml4t_monitor_destroy(ml4t_monitor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->ring);
    free(*self_p);
    *self_p = NULL;
}

void ml4t_monitor_deploy(ml4t_monitor_t *self, double validation_accuracy)
{
    self->head = self->count = self->correct = self->total = 0;
    self->baseline = isfinite(validation_accuracy) ? validation_accuracy : NAN;
    self->drop_fired = self->samples_fired = false;
}

double ml4t_monitor_accuracy(const ml4t_monitor_t *self)
{
    if (self->count < self->cfg.min_samples)
        return NAN;
    return (double)self->correct / (double)self->count;
}

static void s_fill(const ml4t_monitor_t *self, ml4t_trigger_reason_t reason, uint64_t ts,
                   int priority, ml4t_trigger_t *out)
{
    memset(out, 0, sizeof *out);
    out->reason = reason;
    out->baseline = self->baseline;
    out->current = ml4t_monitor_accuracy(self);
    out->drop = out->baseline - out->current; /* NaN propagates when unknown */
    out->ts_ns = ts;
    out->priority = priority;
}

bool ml4t_monitor_record(ml4t_monitor_t *self, bool correct, uint64_t ts_ns, ml4t_trigger_t *out)
{
    size_t w = self->cfg.window;
    if (self->count == w)
        self->correct -= self->ring[self->head];
    else
        self->count++;
    self->ring[self->head] = correct ? 1 : 0;
    self->correct += correct ? 1 : 0;
    self->head = (self->head + 1) % w;
    self->total++;

    if (isnan(self->baseline) && self->count == w)
        self->baseline = (double)self->correct / (double)w;

    double acc = ml4t_monitor_accuracy(self);
    if (!self->drop_fired && !isnan(acc) && !isnan(self->baseline) &&
        self->baseline - acc >= self->cfg.drop_threshold - ML4T_MONITOR_DROP_TOLERANCE) {
        self->drop_fired = true;
        s_fill(self, ML4T_TRIGGER_ACCURACY_DROP, ts_ns, 2, out);
        return true;
    }
    if (!self->samples_fired && self->cfg.retrain_min_samples &&
        self->total >= self->cfg.retrain_min_samples) {
        self->samples_fired = true;
        s_fill(self, ML4T_TRIGGER_SAMPLE_COUNT, ts_ns, 1, out);
        return true;
    }
    return false;
}

bool ml4t_monitor_on_bar(ml4t_monitor_t *self, uint64_t ts_ns, ml4t_trigger_t *out)
{
    if (!self->cfg.retrain_interval_bars)
        return false;
    if (++self->bars < self->cfg.retrain_interval_bars)
        return false;
    self->bars = 0;
    s_fill(self, ML4T_TRIGGER_INTERVAL, ts_ns, 1, out);
    return true;
}

bool ml4t_monitor_on_changepoint(ml4t_monitor_t *self, const char *instrument_id, uint64_t ts_ns,
                                 ml4t_trigger_t *out)
{
    if (self->changepoint_seen && ts_ns >= self->last_changepoint_ns &&
        ts_ns - self->last_changepoint_ns < self->cfg.changepoint_cooldown_ns)
        return false;
    self->changepoint_seen = true;
    self->last_changepoint_ns = ts_ns;
    s_fill(self, ML4T_TRIGGER_CHANGEPOINT, ts_ns, 2, out);
    snprintf(out->instrument_id, sizeof out->instrument_id, "%s",
             instrument_id ? instrument_id : "");
    return true;
}

void ml4t_monitor_manual(ml4t_monitor_t *self, uint64_t ts_ns, ml4t_trigger_t *out)
{
    s_fill(self, ML4T_TRIGGER_MANUAL, ts_ns, 3, out);
}

double ml4t_monitor_baseline(const ml4t_monitor_t *self)
{
    return self->baseline;
}

size_t ml4t_monitor_samples(const ml4t_monitor_t *self)
{
    return self->count;
}

size_t ml4t_monitor_total(const ml4t_monitor_t *self)
{
    return self->total;
}

const char *ml4t_trigger_reason_name(ml4t_trigger_reason_t reason)
{
    switch (reason) {
    case ML4T_TRIGGER_ACCURACY_DROP:
        return "accuracy_drop";
    case ML4T_TRIGGER_SAMPLE_COUNT:
        return "sample_count";
    case ML4T_TRIGGER_INTERVAL:
        return "interval";
    case ML4T_TRIGGER_CHANGEPOINT:
        return "changepoint";
    case ML4T_TRIGGER_MANUAL:
        return "manual";
    default:
        return "none";
    }
}
