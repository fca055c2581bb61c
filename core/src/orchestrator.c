/*  ml4t_orchestrator: a signal in, an enriched signal out. */
#include "ml4t/orchestrator.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ml4t/clock.h"
#include "ml4t/hmm.h"

#define S_LAT_RING 8192 /* latencies kept for percentiles */
/* Relative difference under which two bars with one timestamp are the same bar:
   prices travel as float64 through msgpack and come back exact; anything larger
   is a genuinely different bar. */
#define S_BAR_TOLERANCE 1e-12

typedef struct {
    uint64_t ts;
    double open, high, low, close, volume, buy_volume;
} s_bar_t;

/* The history ring's price and volume columns, in s_bar_t's order. */
enum { S_OPEN, S_HIGH, S_LOW, S_CLOSE, S_VOLUME, S_BUY, S_COLS };

typedef struct {
    uint64_t bar_index; /* absolute index of the bar the signal was made on */
    uint64_t ts_event;
    double entry_close;
    double atr;
    double confidence;
    int side;
    bool model_available;
    bool live; /* false once labeled (by an outcome or by the barrier) */
    char signal_id[ML4T_ID_MAX + 1];
} s_pending_t;

typedef struct {
    char id[ML4T_INSTRUMENT_MAX + 1];
    bool used;
    ml4t_features_state_t *feat;
    ml4t_vpin_t *vpin;
    bool vpin_ready; /* bucket volume known */
    ml4t_hmm_filter_t hmm;
    const ml4t_hmm_t *hmm_for; /* the model the filter was made for; NULL = none */
    /* the history ring, by column (ring_mask + 1 slots each, one allocation):
       bar k sits at slot k & ring_mask of every column */
    double *col[S_COLS];
    uint64_t *ts;
    uint64_t count;    /* bars merged so far */
    s_pending_t *pend; /* FIFO of max_pending, ordered by bar_index */
    size_t pend_head, pend_n;
    uint64_t wins, losses; /* primary signals' outcomes, for the policy's symbol tags */
    double sum_ret;
} s_instr_t;

struct ml4t_orchestrator {
    ml4t_orchestrator_config_t cfg;
    ml4t_store_t *store;
    ml4t_model_slot_t *slot;
    ml4t_monitor_t *monitor;
    ml4t_policy_engine_t *policy;
    bool policy_changed;
    uint64_t policy_last_update_ns;
    ml4t_policy_risk_state_t risk;
    ml4t_policy_regime_t regime; /* inputs derived at the last update */
    ml4t_policy_volatility_t volatility;
    ml4t_policy_symbol_perf_t *symbols; /* scratch for policy inputs */
    ml4t_trigger_fn *trigger_fn;
    void *trigger_ud;

    s_instr_t *table; /* open addressing, table_cap a power of two */
    size_t table_cap, n_instr;
    uint64_t ring_mask; /* ring size - 1: history_bars rounded up to a power of two */

    int feat_idx[ML4T_FEATURES_MAX]; /* configured feature -> full vector index */
    double hmm_weights[ML4T_HMM_MAX_STATES];

    ml4t_model_t *seen_model; /* a reference to the last model seen on the slot */
    bool seen_model_ok;       /* its features match */
    bool warned_cold;
    bool warming;      /* replaying stored bars: do not store them again */
    uint64_t wall_now; /* the wall clock when the signal in hand arrived */

    ml4t_bars_t scratch;                    /* VPIN warm-up */
    double *lab_high, *lab_low, *lab_close; /* max_holding_bars each */

    uint64_t lat[S_LAT_RING];
    uint64_t lat_n;
    ml4t_orchestrator_stats_t st;
};

void ml4t_orchestrator_config_default(ml4t_orchestrator_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    ml4t_config_defaults(&cfg->base);
    cfg->features = ml4t_features_config_default();
    cfg->labels = ml4t_labels_config_default();
    cfg->vpin = ml4t_vpin_config_default();
    cfg->sizer = ml4t_sizer_config_default();
    cfg->regime = ml4t_regime_config_default();
    ml4t_monitor_config_default(&cfg->monitor);
    cfg->policy_enabled = true;
    ml4t_policy_config_default(&cfg->policy);
    cfg->policy_update_interval_s = 1.0;
    cfg->trending_threshold = 1.0;
    cfg->history_bars = 1024;
    cfg->max_instruments = 4096;
    cfg->max_pending = 1024;
    cfg->load_model = true;
}

ml4t_err_t ml4t_orchestrator_config_validate(const ml4t_orchestrator_config_t *cfg,
                                             ml4t_error_t *err)
{
    ml4t_err_t rc;
    if ((rc = ml4t_config_validate(&cfg->base, err)) ||
        (rc = ml4t_features_config_validate(&cfg->features, err)) ||
        (rc = ml4t_labels_config_validate(&cfg->labels, err)) ||
        (rc = ml4t_vpin_config_validate(&cfg->vpin, err)) ||
        (rc = ml4t_sizer_config_validate(&cfg->sizer, err)) ||
        (rc = ml4t_monitor_config_validate(&cfg->monitor, err)))
        return rc;
    if (cfg->policy_enabled && (rc = ml4t_policy_config_validate(&cfg->policy, err)))
        return rc;
    if (cfg->history_bars < cfg->labels.max_holding_bars + 2 || cfg->history_bars > 1000000)
        return ml4t_error_set(err, ML4T_ERANGE, "history_bars",
                              "history_bars=%zu: must be in [max_holding_bars + 2, 1000000]",
                              cfg->history_bars);
    if (cfg->max_instruments < 1 || cfg->max_instruments > 1000000)
        return ml4t_error_set(err, ML4T_ERANGE, "max_instruments",
                              "max_instruments=%zu: must be in [1, 1000000]", cfg->max_instruments);
    if (cfg->max_pending < 1 || cfg->max_pending > 1000000)
        return ml4t_error_set(err, ML4T_ERANGE, "max_pending",
                              "max_pending=%zu: must be in [1, 1000000]", cfg->max_pending);
    if (!(cfg->policy_update_interval_s >= 0.0) || !isfinite(cfg->policy_update_interval_s))
        return ml4t_error_set(err, ML4T_ERANGE, "policy_update_interval_s",
                              "policy_update_interval_s=%g: must be >= 0",
                              cfg->policy_update_interval_s);
    if (!isfinite(cfg->trending_threshold) || cfg->trending_threshold < 0)
        return ml4t_error_set(err, ML4T_ERANGE, "trending_threshold",
                              "trending_threshold=%g: must be >= 0", cfg->trending_threshold);
    return ML4T_OK;
}

/* ---- models ---------------------------------------------------------------------- */

ml4t_err_t ml4t_orchestrator_check_model(const ml4t_orchestrator_t *self, const ml4t_model_t *model,
                                         ml4t_error_t *err)
{
    const ml4t_config_t *b = &self->cfg.base;
    size_t n = ml4t_model_n_features(model);
    if (n != b->n_features)
        return ml4t_error_set(err, ML4T_EMISMATCH, "features",
                              "model %s has %zu features, the node is configured for %zu",
                              ml4t_model_version(model), n, b->n_features);
    for (size_t i = 0; i < n; i++) {
        const char *name = ml4t_model_feature_name(model, i);
        if (!name || strcmp(name, b->features[i]) != 0)
            return ml4t_error_set(err, ML4T_EMISMATCH, "features",
                                  "model %s feature %zu is '%s', the node expects '%s'",
                                  ml4t_model_version(model), i, name ? name : "(none)",
                                  b->features[i]);
    }
    return ML4T_OK;
}

static double s_manifest_accuracy(const ml4t_model_t *m)
{
    const ml4t_model_manifest_t *man = ml4t_model_manifest(m);
    if (!man || !man->metrics)
        return NAN;
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(man->metrics, "accuracy");
    return cJSON_IsNumber(acc) ? acc->valuedouble : NAN;
}

/* A model we have not seen before is on the slot: check it once, re-baseline the
   monitor on its validation accuracy. Holding a reference makes the pointer
   comparison safe (no reuse of a freed address). */
static void s_on_new_model(ml4t_orchestrator_t *self, ml4t_model_t *m)
{
    ml4t_model_unref(&self->seen_model);
    self->seen_model = ml4t_model_ref(m);
    ml4t_error_t e;
    self->seen_model_ok = ml4t_orchestrator_check_model(self, m, &e) == ML4T_OK;
    if (!self->seen_model_ok)
        fprintf(stderr, "ml4t: model refused on the hot path: %s\n", e.msg);
    else
        ml4t_monitor_deploy(self->monitor, s_manifest_accuracy(m));
    self->st.model_changes++;
}

ml4t_err_t ml4t_orchestrator_hot_swap(ml4t_orchestrator_t *self, ml4t_model_t *model,
                                      ml4t_error_t *err)
{
    if (!model)
        return ml4t_error_set(err, ML4T_EINVAL, "model", "no model given");
    ml4t_err_t rc = ml4t_orchestrator_check_model(self, model, err);
    if (rc)
        return rc;
    ml4t_model_slot_swap(self->slot, model);
    return ML4T_OK;
}

ml4t_model_slot_t *ml4t_orchestrator_slot(ml4t_orchestrator_t *self)
{
    return self->slot;
}

static void s_load_initial_model(ml4t_orchestrator_t *self)
{
    const ml4t_config_t *b = &self->cfg.base;
    FILE *f = fopen(b->model_path, "rb");
    if (!f) {
        fprintf(stderr, "ml4t: no model at %s: cold start, confidence %.2f until one is trained\n",
                b->model_path, b->default_confidence);
        self->warned_cold = true;
        return;
    }
    fclose(f);
    const char *names[ML4T_FEATURES_MAX];
    for (size_t i = 0; i < b->n_features; i++)
        names[i] = b->features[i];
    ml4t_error_t e;
    ml4t_model_t *m = ml4t_model_load(b->model_path, names, b->n_features, &e);
    if (!m) {
        fprintf(stderr, "ml4t: model %s refused (%s): cold start\n", b->model_path, e.msg);
        self->warned_cold = true;
        return;
    }
    ml4t_model_slot_swap(self->slot, m);
}

/* ---- the instrument table ------------------------------------------------------- */

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void s_instr_free(s_instr_t *in)
{
    ml4t_features_state_destroy(&in->feat);
    ml4t_vpin_destroy(&in->vpin);
    if (in->hmm_for)
        ml4t_hmm_filter_destroy(&in->hmm);
    free(in->ts);
    free(in->pend);
    memset(in, 0, sizeof *in);
}

static s_instr_t *s_lookup(ml4t_orchestrator_t *self, const char *id, bool create,
                           ml4t_error_t *err)
{
    size_t mask = self->table_cap - 1;
    for (size_t i = s_hash(id) & mask;; i = (i + 1) & mask) {
        s_instr_t *in = &self->table[i];
        if (in->used && strcmp(in->id, id) == 0)
            return in;
        if (in->used)
            continue;
        if (!create)
            return NULL;
        if (self->n_instr >= self->cfg.max_instruments) {
            ml4t_error_set(err, ML4T_ELIMIT, "instrument_id",
                           "instrument %s refused: already tracking max_instruments=%zu", id,
                           self->cfg.max_instruments);
            return NULL;
        }
        snprintf(in->id, sizeof in->id, "%s", id);
        in->feat = ml4t_features_state_new(&self->cfg.features, err);
        in->vpin = ml4t_vpin_new(&self->cfg.vpin, err);
        size_t slots = self->ring_mask + 1;
        in->ts = calloc(slots * (1 + S_COLS), sizeof(uint64_t));
        for (size_t c = 0; in->ts && c < S_COLS; c++)
            in->col[c] = (double *)(void *)(in->ts + slots * (1 + c));
        in->pend = calloc(self->cfg.max_pending, sizeof *in->pend);
        if (!in->feat || !in->vpin || !in->ts || !in->pend) {
            s_instr_free(in);
            ml4t_error_set(err, ML4T_ENOMEM, "instrument_id", "no memory for instrument %s", id);
            return NULL;
        }
        in->vpin_ready = self->cfg.vpin.bucket_volume > 0;
        in->used = true;
        self->n_instr++;
        return in;
    }
}

/* ---- bars, history and self-labeling -------------------------------------------- */

/* Bar k of the history, by value. */
static s_bar_t s_bar_at(const ml4t_orchestrator_t *self, const s_instr_t *in, uint64_t k)
{
    size_t j = k & self->ring_mask;
    return (s_bar_t){in->ts[j],         in->col[S_OPEN][j],  in->col[S_HIGH][j],
                     in->col[S_LOW][j], in->col[S_CLOSE][j], in->col[S_VOLUME][j],
                     in->col[S_BUY][j]};
}

static uint64_t s_ts_at(const ml4t_orchestrator_t *self, const s_instr_t *in, uint64_t k)
{
    return in->ts[k & self->ring_mask];
}

static double s_col_at(const ml4t_orchestrator_t *self, const s_instr_t *in, int c, uint64_t k)
{
    return in->col[c][k & self->ring_mask];
}

/* The ring index of a bar with timestamp ts, or -1 (binary search: ts increase). */
static int64_t s_find_ts(const ml4t_orchestrator_t *self, const s_instr_t *in, uint64_t ts)
{
    uint64_t held = in->count < self->cfg.history_bars ? in->count : self->cfg.history_bars;
    uint64_t lo = in->count - held, hi = in->count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        uint64_t t = s_ts_at(self, in, mid);
        if (t == ts)
            return (int64_t)mid;
        if (t < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static bool s_same(double a, double b)
{
    if (a == b) /* the common case: the same bar sent again, bit for bit */
        return true;
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return fabs(a - b) <= S_BAR_TOLERANCE * fmax(fabs(a), fabs(b));
}

static void s_record_outcome(ml4t_orchestrator_t *self, s_instr_t *in, s_pending_t *p, int label,
                             double ret, uint64_t ts)
{
    p->live = false;
    if (label > 0)
        in->wins++;
    else if (label < 0)
        in->losses++;
    in->sum_ret += ret;
    bool correct = (p->confidence >= 0.5) == (label > 0);
    if (self->store && !ml4t_store_put_outcome(self->store, in->id, p->signal_id, p->ts_event,
                                               label, ret, correct, ts))
        self->st.store_dropped++;
    ml4t_trigger_t t;
    if (p->model_available && ml4t_monitor_record(self->monitor, correct, ts, &t)) {
        self->st.triggers++;
        if (self->trigger_fn)
            self->trigger_fn(self->trigger_ud, &t);
    }
}

/* Label every pending prediction whose max_holding_bars later bars have arrived. */
static void s_self_label(ml4t_orchestrator_t *self, s_instr_t *in)
{
    size_t h = self->cfg.labels.max_holding_bars;
    while (in->pend_n) {
        s_pending_t *p = &in->pend[in->pend_head];
        if (p->live && p->bar_index + h >= in->count)
            return; /* FIFO by bar_index: the rest are younger */
        if (p->live) {
            for (size_t j = 0; j < h; j++) {
                uint64_t k = p->bar_index + 1 + j;
                self->lab_high[j] = s_col_at(self, in, S_HIGH, k);
                self->lab_low[j] = s_col_at(self, in, S_LOW, k);
                self->lab_close[j] = s_col_at(self, in, S_CLOSE, k);
            }
            ml4t_label_t lab;
            if (ml4t_labels_resolve_one(&self->cfg.labels, p->side, p->entry_close, p->atr,
                                        self->lab_high, self->lab_low, self->lab_close, h, &lab,
                                        NULL) == ML4T_OK &&
                lab.resolved) {
                s_record_outcome(self, in, p, lab.label, lab.ret,
                                 s_ts_at(self, in, p->bar_index + h));
                self->st.self_labeled++;
            }
            p->live = false;
        }
        in->pend_head = (in->pend_head + 1) % self->cfg.max_pending;
        in->pend_n--;
    }
}

static void s_hmm_push(ml4t_orchestrator_t *self, s_instr_t *in, const ml4t_hmm_t *h, double close)
{
    (void)self;
    if (!h)
        return;
    if (in->hmm_for != h) {
        if (in->hmm_for)
            ml4t_hmm_filter_destroy(&in->hmm);
        in->hmm_for = NULL;
        if (ml4t_hmm_filter_init(&in->hmm, h, NULL) != ML4T_OK)
            return;
        in->hmm_for = h;
    }
    ml4t_hmm_filter_push_close(&in->hmm, h, close);
}

/* VPIN with an automatic bucket size starts once min_bars bars are known: the
   bucket is their average daily volume / 50. */
static void s_vpin_start(ml4t_orchestrator_t *self, s_instr_t *in)
{
    if ((int64_t)in->count < self->cfg.base.min_bars)
        return;
    uint64_t held = in->count < self->cfg.history_bars ? in->count : self->cfg.history_bars;
    ml4t_bars_clear(&self->scratch);
    for (uint64_t k = in->count - held; k < in->count; k++) {
        s_bar_t b = s_bar_at(self, in, k);
        if (ml4t_bars_push(&self->scratch, b.ts, b.open, b.high, b.low, b.close, b.volume,
                           b.buy_volume))
            return;
    }
    in->vpin_ready = ml4t_vpin_update_bars(in->vpin, &self->scratch, NULL) == ML4T_OK;
}

static ml4t_err_t s_append_bar(ml4t_orchestrator_t *self, s_instr_t *in, const ml4t_bars_t *b,
                               size_t i, const ml4t_hmm_t *hmm, ml4t_error_t *err)
{
    bool store_it = self->store && !self->warming;
    if (ml4t_features_state_update(in->feat, b->ts[i], b->open[i], b->high[i], b->low[i],
                                   b->close[i], b->volume[i], b->buy_volume[i]))
        return ml4t_error_set(err, ML4T_ERANGE, "bars", "bar at ts %llu refused by features",
                              (unsigned long long)b->ts[i]);
    if (in->count >= 2) {
        uint64_t prev = s_ts_at(self, in, in->count - 1);
        uint64_t step = prev - s_ts_at(self, in, in->count - 2);
        /* a gap: more than one and a half of the last bar interval is missing */
        if (b->ts[i] - prev > step + step / 2)
            self->st.gaps++;
    }
    size_t j = in->count & self->ring_mask;
    in->ts[j] = b->ts[i];
    in->col[S_OPEN][j] = b->open[i];
    in->col[S_HIGH][j] = b->high[i];
    in->col[S_LOW][j] = b->low[i];
    in->col[S_CLOSE][j] = b->close[i];
    in->col[S_VOLUME][j] = b->volume[i];
    in->col[S_BUY][j] = b->buy_volume[i];
    in->count++;
    if (in->vpin_ready)
        ml4t_vpin_update(in->vpin, b->close[i], b->volume[i], b->buy_volume[i], NULL);
    else
        s_vpin_start(self, in);
    s_hmm_push(self, in, hmm, b->close[i]);
    if (store_it && !ml4t_store_put_bar(self->store, in->id, b->ts[i], b->open[i], b->high[i],
                                        b->low[i], b->close[i], b->volume[i], b->buy_volume[i]))
        self->st.store_dropped++;
    ml4t_trigger_t t;
    if (!self->warming && ml4t_monitor_on_bar(self->monitor, b->ts[i], &t)) {
        self->st.triggers++;
        if (self->trigger_fn)
            self->trigger_fn(self->trigger_ud, &t);
    }
    self->st.bars_merged++;
    s_self_label(self, in);
    return ML4T_OK;
}

static bool s_same_bar(const s_bar_t *o, const ml4t_bars_t *b, size_t i)
{
    return s_same(o->open, b->open[i]) && s_same(o->high, b->high[i]) &&
           s_same(o->low, b->low[i]) && s_same(o->close, b->close[i]) &&
           s_same(o->volume, b->volume[i]);
}

/* How many of the signal's bars are not after the newest bar held (bars are
   sorted: an upper-bound search). */
static size_t s_known_count(const ml4t_bars_t *b, uint64_t last)
{
    size_t lo = 0, hi = b->n;
    if (hi > 0 && b->ts[hi - 1] > last && (hi < 2 || b->ts[hi - 2] <= last))
        return hi - 1; /* the usual signal: one new bar after the ones we have */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->ts[mid] <= last)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* n slots of a ring column from slot j on, against src: bitwise, in at most
   two pieces (the ring wraps). */
static bool s_ring_equal(const void *col, size_t slots, size_t j, const void *src, size_t n)
{
    size_t first = slots - j < n ? slots - j : n;
    const char *c = col, *s = src;
    return memcmp(c + j * 8, s, first * 8) == 0 &&
           (first == n || memcmp(c, s + first * 8, (n - first) * 8) == 0);
}

/* True when the signal's first m bars are the newest m bars held, bit for
   bit: the common case of a strategy that sends its whole window with every
   signal, checked column by column. Anything else takes the careful walk. */
static bool s_overlap_exact(const ml4t_orchestrator_t *self, const s_instr_t *in,
                            const ml4t_bars_t *b, size_t m)
{
    size_t slots = self->ring_mask + 1, j = (in->count - m) & self->ring_mask;
    return s_ring_equal(in->ts, slots, j, b->ts, m) &&
           s_ring_equal(in->col[S_CLOSE], slots, j, b->close, m) &&
           s_ring_equal(in->col[S_OPEN], slots, j, b->open, m) &&
           s_ring_equal(in->col[S_HIGH], slots, j, b->high, m) &&
           s_ring_equal(in->col[S_LOW], slots, j, b->low, m) &&
           s_ring_equal(in->col[S_VOLUME], slots, j, b->volume, m);
}

/* Merge a signal's bars: new ones (after the last known) are appended; known
   ones are compared and a different bar under a known timestamp is counted as a
   conflict (the first version is kept: history does not change under a model).
   Both sequences are sorted, so the overlap is one search and a linear walk. */
static ml4t_err_t s_merge(ml4t_orchestrator_t *self, s_instr_t *in, const ml4t_bars_t *b,
                          const ml4t_hmm_t *hmm, ml4t_error_t *err)
{
    size_t i = 0;
    if (in->count > 0) {
        uint64_t held = in->count < self->cfg.history_bars ? in->count : self->cfg.history_bars;
        size_t m = s_known_count(b, s_ts_at(self, in, in->count - 1));
        if (m > 0 && m <= held && s_overlap_exact(self, in, b, m)) {
            self->st.bars_duplicate += m;
            i = m;
        }
    }
    if (i == 0 && in->count > 0) {
        uint64_t last = s_ts_at(self, in, in->count - 1);
        uint64_t held = in->count < self->cfg.history_bars ? in->count : self->cfg.history_bars;
        uint64_t k = in->count - held; /* walks the ring in step with the bars */
        for (; i < b->n && b->ts[i] <= last; i++) {
            if (i == 0 || k >= in->count) {
                int64_t at = s_find_ts(self, in, b->ts[i]);
                if (at < 0)
                    continue; /* older than what we hold, or never had: ignored */
                k = (uint64_t)at;
            }
            while (k < in->count && s_ts_at(self, in, k) < b->ts[i])
                k++;
            if (k == in->count || s_ts_at(self, in, k) != b->ts[i])
                continue; /* a bar we never had inside known history: ignored */
            s_bar_t o = s_bar_at(self, in, k);
            if (s_same_bar(&o, b, i))
                self->st.bars_duplicate++;
            else
                self->st.bars_conflicting++;
        }
    }
    for (; i < b->n; i++) {
        ml4t_err_t rc = s_append_bar(self, in, b, i, hmm, err);
        if (rc)
            return rc;
    }
    return ML4T_OK;
}

/* ---- the trading policy ---------------------------------------------------------- */

/* Volatility level without an HMM: the window's volatility against the
   instrument's long-run reference. */
static ml4t_policy_volatility_t s_vol_level(const double *full, double vol_ref)
{
    double v = full[ML4T_F_VOLATILITY];
    if (!(vol_ref > 0.0) || !isfinite(v))
        return ML4T_POLICY_VOL_NORMAL;
    double r = v / vol_ref;
    if (r < 0.75)
        return ML4T_POLICY_VOL_LOW;
    if (r < 1.5)
        return ML4T_POLICY_VOL_NORMAL;
    if (r < 3.0)
        return ML4T_POLICY_VOL_HIGH;
    return ML4T_POLICY_VOL_EXTREME;
}

static ml4t_policy_volatility_t s_vol_level_hmm(const s_instr_t *in, const ml4t_hmm_t *h)
{
    switch (ml4t_hmm_vol_level(h, ml4t_hmm_filter_probs(&in->hmm), in->hmm.last_vol, 3.0)) {
    case ML4T_HMM_VOL_LOW:
        return ML4T_POLICY_VOL_LOW;
    case ML4T_HMM_VOL_HIGH:
        return ML4T_POLICY_VOL_HIGH;
    case ML4T_HMM_VOL_EXTREME:
        return ML4T_POLICY_VOL_EXTREME;
    default:
        return ML4T_POLICY_VOL_NORMAL;
    }
}

/* Symbols with at least this many labeled primary signals get a tag. */
#define S_TAG_MIN_OUTCOMES 20

static size_t s_symbol_perf(ml4t_orchestrator_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->table_cap && n < ML4T_POLICY_SYMBOLS_MAX; i++) {
        const s_instr_t *in = &self->table[i];
        uint64_t total = in->wins + in->losses;
        if (!in->used || total == 0)
            continue;
        ml4t_policy_symbol_perf_t *p = &self->symbols[n++];
        snprintf(p->instrument_id, sizeof p->instrument_id, "%s", in->id);
        p->win_rate = (double)in->wins / (double)total;
        p->avg_r = in->sum_ret / (double)total;
        p->cum_pnl = in->sum_ret;
        p->tag = ML4T_POLICY_TAG_NEUTRAL;
        if (total >= S_TAG_MIN_OUTCOMES && p->win_rate < 0.35)
            p->tag = ML4T_POLICY_TAG_BAD;
        else if (total >= S_TAG_MIN_OUTCOMES && p->win_rate > 0.55)
            p->tag = ML4T_POLICY_TAG_GOOD;
    }
    return n;
}

/* Re-derive the policy inputs from the instrument that just reported and the
   monitor, and let the engine decide whether the policy changes. */
static void s_policy_update(ml4t_orchestrator_t *self, const s_instr_t *in, const double *full,
                            const ml4t_hmm_t *hmm, uint64_t now_ns)
{
    ml4t_policy_inputs_t pin;
    ml4t_policy_inputs_init(&pin);
    if (in && full) {
        self->regime = full[ML4T_F_TREND_STRENGTH] > self->cfg.trending_threshold
                           ? ML4T_POLICY_REGIME_TRENDING
                           : ML4T_POLICY_REGIME_RANGING;
        self->volatility = hmm && in->hmm_for == hmm && in->hmm.started
                               ? s_vol_level_hmm(in, hmm)
                               : s_vol_level(full, ml4t_features_state_vol_ref(in->feat));
    }
    pin.regime = self->regime;
    pin.volatility = self->volatility;
    pin.risk = self->risk;
    pin.symbols = self->symbols;
    pin.n_symbols = s_symbol_perf(self);
    double acc = ml4t_monitor_accuracy(self->monitor);
    pin.has_ensemble_quality = !isnan(acc);
    pin.ensemble_quality = isnan(acc) ? 0.0 : acc;
    bool changed = false;
    ml4t_error_t e;
    if (ml4t_policy_engine_update(self->policy, &pin, now_ns, &changed, &e) == ML4T_OK && changed)
        self->policy_changed = true;
    self->policy_last_update_ns = now_ns;
}

const ml4t_trading_policy_t *ml4t_orchestrator_policy(ml4t_orchestrator_t *self, bool *changed)
{
    if (changed) {
        *changed = self->policy_changed;
        self->policy_changed = false;
    }
    return self->policy ? ml4t_policy_engine_current(self->policy) : NULL;
}

ml4t_err_t ml4t_orchestrator_process_risk_state(ml4t_orchestrator_t *self,
                                                const ml4t_risk_state_t *risk, uint64_t now_ns,
                                                bool *changed, ml4t_error_t *err)
{
    if (changed)
        *changed = false;
    const double nums[] = {risk->daily_pnl_pct, risk->drawdown_pct, risk->total_exposure_pct};
    static const char *names[] = {"daily_pnl_pct", "drawdown_pct", "total_exposure_pct"};
    for (size_t i = 0; i < 3; i++)
        if (!isfinite(nums[i]))
            return ml4t_error_set(err, ML4T_ERANGE, names[i], "%s is not finite", names[i]);
    if (risk->losing_streak < 0 || risk->open_positions < 0)
        return ml4t_error_set(err, ML4T_ERANGE,
                              risk->losing_streak < 0 ? "losing_streak" : "open_positions",
                              "counts must be >= 0");
    if (!self->policy)
        return ML4T_OK;
    self->risk.daily_pnl_pct = risk->daily_pnl_pct;
    self->risk.drawdown_pct = risk->drawdown_pct;
    self->risk.losing_streak = risk->losing_streak;
    self->risk.open_positions = risk->open_positions;
    self->risk.exposure_pct = risk->total_exposure_pct;
    /* the regime inputs stay those of the last update: only the risk state is new */
    s_policy_update(self, NULL, NULL, NULL, now_ns);
    ml4t_orchestrator_policy(self, changed);
    return ML4T_OK;
}

/* ---- the hot path ---------------------------------------------------------------- */

static void s_remember(ml4t_orchestrator_t *self, s_instr_t *in, const ml4t_signal_t *sig,
                       const double *full, double confidence, bool model_available)
{
    if (sig->signal == 0 || in->count == 0)
        return;
    if (in->pend_n == self->cfg.max_pending) { /* full: the oldest goes unlabeled */
        in->pend_head = (in->pend_head + 1) % self->cfg.max_pending;
        in->pend_n--;
    }
    s_pending_t *p = &in->pend[(in->pend_head + in->pend_n) % self->cfg.max_pending];
    double last_close = s_col_at(self, in, S_CLOSE, in->count - 1);
    p->bar_index = in->count - 1;
    p->ts_event = sig->ts_event;
    p->entry_close = last_close;
    p->atr = full[ML4T_F_NATR] * last_close;
    p->confidence = confidence;
    p->side = sig->signal;
    p->model_available = model_available;
    p->live = true;
    memcpy(p->signal_id, sig->signal_id, sizeof p->signal_id);
    in->pend_n++;
}

static ml4t_err_t s_fail(ml4t_orchestrator_t *self, ml4t_err_t rc)
{
    if ((int)rc > 0 && rc < ML4T_ERR_COUNT_)
        self->st.errors[rc]++;
    return rc;
}

/* Predict with the model held for this message (NULL = none). */
static void s_predict(ml4t_orchestrator_t *self, ml4t_model_t *m, const double *full,
                      ml4t_enriched_t *out)
{
    const ml4t_config_t *b = &self->cfg.base;
    if (m && self->seen_model_ok) {
        double x[ML4T_FEATURES_MAX];
        for (size_t i = 0; i < b->n_features; i++)
            x[i] = full[self->feat_idx[i]];
        ml4t_model_predict_row(m, x, &out->meta_confidence);
        out->model_available = true;
        const char *v = ml4t_model_version(m);
        size_t n = strnlen(v, sizeof out->model_version - 1);
        memcpy(out->model_version, v, n);
        out->model_version[n] = '\0';
        return;
    }
    out->meta_confidence = b->default_confidence;
    out->model_available = false;
    out->model_version[0] = '\0';
    self->st.cold_start++;
    if (!self->warned_cold) {
        fprintf(stderr, "ml4t: no usable model: answering with default confidence %.2f\n",
                b->default_confidence);
        self->warned_cold = true;
    }
}

static void s_identity(const ml4t_signal_t *sig, ml4t_enriched_t *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->instrument_id, sig->instrument_id, sizeof out->instrument_id);
    memcpy(out->strategy_id, sig->strategy_id, sizeof out->strategy_id);
    memcpy(out->signal_id, sig->signal_id, sizeof out->signal_id);
    out->signal = sig->signal;
    out->ts_event = sig->ts_event;
}

static ml4t_err_t s_size(ml4t_orchestrator_t *self, const ml4t_signal_t *sig, ml4t_enriched_t *out,
                         ml4t_error_t *err)
{
    ml4t_sizer_input_t si = ml4t_sizer_input((double)sig->signal);
    si.has_meta = true;
    si.meta_confidence = out->meta_confidence;
    si.has_regime = true;
    si.regime_weight = out->regime_weight;
    si.has_toxicity = out->toxicity_level != ML4T_TOXICITY_UNKNOWN;
    si.toxicity = si.has_toxicity ? out->toxicity : 0.0;
    if (out->verdict.present) {
        si.has_max_size = true;
        const ml4t_trading_policy_t *pol = ml4t_policy_engine_current(self->policy);
        si.max_size = out->verdict.allowed
                          ? self->cfg.sizer.max_size *
                                ml4t_policy_size_scale(pol, self->cfg.policy.base_risk_pct)
                          : 0.0;
    }
    ml4t_err_t rc = ml4t_sizer_compute(&self->cfg.sizer, &si, &out->size, err);
    if (rc == ML4T_OK && out->verdict.present && !out->verdict.allowed) {
        out->size.size = 0.0;
        out->size.direction = 0;
    }
    return rc;
}

static void s_enrich(ml4t_orchestrator_t *self, s_instr_t *in, const ml4t_hmm_t *hmm,
                     const double *full, ml4t_enriched_t *out)
{
    out->changepoint_prob = full[ML4T_F_CHANGEPOINT];
    bool vpin_ok = in->vpin_ready && ml4t_vpin_valid(in->vpin);
    out->toxicity = vpin_ok ? ml4t_vpin_value(in->vpin) : NAN;
    out->toxicity_level = vpin_ok ? ml4t_vpin_level(in->vpin) : ML4T_TOXICITY_UNKNOWN;
    size_t max_run = self->cfg.features.bocd.max_run_length;
    if (hmm && in->hmm_for == hmm && in->hmm.started) {
        double run = full[ML4T_F_RUN_LENGTH] * (double)max_run;
        double d =
            ml4t_regime_cp_damping(full[ML4T_F_CHANGEPOINT], run, self->cfg.regime.half_life_bars,
                                   self->cfg.regime.min_damping);
        out->regime_weight = ml4t_hmm_filter_regime_weight(&in->hmm, self->hmm_weights, d);
    } else {
        out->regime_weight = ml4t_regime_weight(&self->cfg.regime, full,
                                                ml4t_features_state_vol_ref(in->feat), max_run);
    }
    if (self->policy) {
        uint64_t now = self->wall_now;
        if ((double)(now - self->policy_last_update_ns) >= self->cfg.policy_update_interval_s * 1e9)
            s_policy_update(self, in, full, hmm, now);
        ml4t_policy_verdict(ml4t_policy_engine_current(self->policy), in->id, out->meta_confidence,
                            &out->verdict);
        if (!out->verdict.allowed)
            self->st.policy_blocked++;
    }
}

ml4t_err_t ml4t_orchestrator_process_signal(ml4t_orchestrator_t *self, const ml4t_signal_t *sig,
                                            ml4t_enriched_t *out, ml4t_error_t *err)
{
    /* a signal may carry as few as one bar when the history fills the window */
    ml4t_err_t rc = ml4t_signal_validate(sig, 1, (size_t)self->cfg.base.max_bars, err);
    if (rc) {
        self->st.received++;
        return s_fail(self, rc);
    }
    return ml4t_orchestrator_process_decoded(self, sig, out, err);
}

ml4t_err_t ml4t_orchestrator_process_decoded(ml4t_orchestrator_t *self, const ml4t_signal_t *sig,
                                             ml4t_enriched_t *out, ml4t_error_t *err)
{
    /* five clock reads per signal: the wall clock once, the others derived */
    uint64_t t0 = ml4t_clock_mono_ns();
    self->wall_now = ml4t_clock_wall_ns();
    const ml4t_config_t *b = &self->cfg.base;
    ml4t_err_t rc = ML4T_OK;
    self->st.received++;
    if (sig->bars.n == 0 || sig->bars.n > (size_t)b->max_bars)
        return s_fail(self, ml4t_error_set(err, sig->bars.n ? ML4T_ELIMIT : ML4T_ENODATA, "bars",
                                           "%zu bars given, 1 to max_bars=%lld accepted",
                                           sig->bars.n, (long long)b->max_bars));
    s_instr_t *in = s_lookup(self, sig->instrument_id, true, err);
    if (!in)
        return s_fail(self, err ? err->code : ML4T_ELIMIT);
    s_identity(sig, out);

    /* one model reference for the whole message: merge (its HMM) and predict */
    ml4t_model_t *m = ml4t_model_slot_acquire(self->slot);
    if (m && m != self->seen_model)
        s_on_new_model(self, m);
    const ml4t_hmm_t *hmm = m && self->seen_model_ok ? ml4t_model_hmm(m) : NULL;
    double full[ML4T_F_COUNT];
    uint64_t t1 = 0, t2 = 0;
    rc = s_merge(self, in, &sig->bars, hmm, err);
    if (rc)
        goto out_release;
    if ((int64_t)in->count < b->min_bars) {
        rc = ml4t_error_set(err, ML4T_ENODATA, "bars",
                            "%llu bars known for %s, min_bars=%lld needed: send more bars",
                            (unsigned long long)in->count, in->id, (long long)b->min_bars);
        goto out_release;
    }
    ml4t_features_state_get(in->feat, sig->signal, full);
    t1 = ml4t_clock_mono_ns();
    s_predict(self, m, full, out);
    t2 = ml4t_clock_mono_ns();
    s_enrich(self, in, hmm, full, out);
    rc = s_size(self, sig, out, err);
out_release:
    ml4t_model_slot_release(self->slot, &m);
    if (rc)
        return s_fail(self, rc);

    s_remember(self, in, sig, full, out->meta_confidence, out->model_available);
    if (self->store &&
        !ml4t_store_put_prediction(self->store, in->id, sig->signal_id, sig->ts_event, sig->signal,
                                   out->meta_confidence, out->model_version, self->wall_now))
        self->st.store_dropped++;

    uint64_t t3 = ml4t_clock_mono_ns();
    out->latency_features_ns = t1 - t0;
    out->latency_predict_ns = t2 - t1;
    out->latency_ns = t3 - t0;
    out->ts_enriched = self->wall_now + out->latency_ns;
    self->lat[self->lat_n++ % S_LAT_RING] = out->latency_ns;
    /* a budget, not a deadline: the answer is computed already, sending it late is
       better than not at all; the count tells the operator the node is too slow */
    if ((double)out->latency_ns > self->cfg.base.inference_timeout_ms * 1e6)
        self->st.over_budget++;
    self->st.enriched++;
    return ML4T_OK;
}

ml4t_err_t ml4t_orchestrator_process_outcome(ml4t_orchestrator_t *self, const ml4t_outcome_t *o,
                                             ml4t_error_t *err)
{
    if (!o->has_label && !o->has_return)
        return s_fail(self, ml4t_error_set(err, ML4T_EMISSING, "label",
                                           "an outcome needs a label or a realized return"));
    if (o->has_label && (o->label < -1 || o->label > 1))
        return s_fail(self, ml4t_error_set(err, ML4T_ERANGE, "label",
                                           "label must be -1, 0 or 1 (got %d)", o->label));
    if (o->has_return && !isfinite(o->realized_return))
        return s_fail(self, ml4t_error_set(err, ML4T_ERANGE, "realized_return",
                                           "realized_return is not finite"));
    s_instr_t *in = s_lookup(self, o->instrument_id, false, err);
    for (size_t i = 0; in && i < in->pend_n; i++) {
        s_pending_t *p = &in->pend[(in->pend_head + i) % self->cfg.max_pending];
        bool match = p->live && (o->signal_id[0] ? strcmp(p->signal_id, o->signal_id) == 0
                                                 : p->ts_event == o->ts_event);
        if (!match)
            continue;
        int label = o->has_label ? o->label : (o->realized_return > 0) - (o->realized_return < 0);
        s_record_outcome(self, in, p, label, o->has_return ? o->realized_return : 0.0,
                         o->ts_outcome ? o->ts_outcome : ml4t_clock_wall_ns());
        self->st.outcomes_matched++;
        return ML4T_OK;
    }
    self->st.outcomes_unmatched++;
    return s_fail(self,
                  ml4t_error_set(err, ML4T_ENOTFOUND, o->signal_id[0] ? "signal_id" : "ts_event",
                                 "no prediction awaiting a label for %s %s", o->instrument_id,
                                 o->signal_id[0] ? o->signal_id : "at that ts_event"));
}

/* ---- life cycle and stats -------------------------------------------------------- */

ml4t_orchestrator_t *ml4t_orchestrator_new(const ml4t_orchestrator_config_t *cfg,
                                           ml4t_store_t *store, ml4t_error_t *err)
{
    if (ml4t_orchestrator_config_validate(cfg, err))
        return NULL;
    ml4t_orchestrator_t *self = calloc(1, sizeof *self);
    if (!self) {
        ml4t_error_set(err, ML4T_ENOMEM, "orchestrator", "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->cfg.monitor.drop_threshold = cfg->base.retrain_accuracy_drop_threshold;
    self->cfg.monitor.retrain_min_samples = (size_t)cfg->base.retrain_min_samples;
    self->cfg.monitor.retrain_interval_bars = (size_t)cfg->base.retrain_interval_bars;
    self->store = store;
    for (size_t i = 0; i < cfg->base.n_features; i++)
        self->feat_idx[i] = ml4t_features_find(cfg->base.features[i]);
    ml4t_hmm_state_weights(3, self->hmm_weights);
    ml4t_bars_init(&self->scratch);
    self->ring_mask = 1;
    while (self->ring_mask < cfg->history_bars)
        self->ring_mask <<= 1;
    self->ring_mask -= 1;
    self->table_cap = 2;
    while (self->table_cap < 2 * cfg->max_instruments)
        self->table_cap <<= 1;
    size_t h = cfg->labels.max_holding_bars;
    self->table = calloc(self->table_cap, sizeof *self->table);
    self->symbols = calloc(ML4T_POLICY_SYMBOLS_MAX, sizeof *self->symbols);
    self->lab_high = calloc(h, sizeof(double));
    self->lab_low = calloc(h, sizeof(double));
    self->lab_close = calloc(h, sizeof(double));
    self->slot = ml4t_model_slot_new(NULL);
    if (!self->table || !self->symbols || !self->lab_high || !self->lab_low || !self->lab_close ||
        !self->slot) {
        ml4t_error_set(err, ML4T_ENOMEM, "orchestrator", "out of memory");
        goto out_destroy;
    }
    if (!(self->monitor = ml4t_monitor_new(&self->cfg.monitor, err)))
        goto out_destroy;
    if (cfg->policy_enabled) {
        if (!(self->policy = ml4t_policy_engine_new(&cfg->policy, err)))
            goto out_destroy;
        s_policy_update(self, NULL, NULL, NULL, ml4t_clock_wall_ns());
        self->policy_changed = true; /* publish the first policy */
    }
    if (cfg->load_model)
        s_load_initial_model(self);
    return self;
out_destroy:
    ml4t_orchestrator_destroy(&self);
    return NULL;
}

void ml4t_orchestrator_destroy(ml4t_orchestrator_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ml4t_orchestrator_t *self = *self_p;
    for (size_t i = 0; self->table && i < self->table_cap; i++)
        if (self->table[i].used)
            s_instr_free(&self->table[i]);
    free(self->table);
    free(self->symbols);
    free(self->lab_high);
    free(self->lab_low);
    free(self->lab_close);
    ml4t_bars_destroy(&self->scratch);
    ml4t_model_unref(&self->seen_model);
    ml4t_model_slot_destroy(&self->slot);
    ml4t_monitor_destroy(&self->monitor);
    ml4t_policy_engine_destroy(&self->policy);
    free(self);
    *self_p = NULL;
}

void ml4t_orchestrator_set_trigger_fn(ml4t_orchestrator_t *self, ml4t_trigger_fn *fn, void *ud)
{
    self->trigger_fn = fn;
    self->trigger_ud = ud;
}

void ml4t_orchestrator_request_retrain(ml4t_orchestrator_t *self, uint64_t now_ns)
{
    ml4t_trigger_t t;
    ml4t_monitor_manual(self->monitor, now_ns, &t);
    self->st.triggers++;
    if (self->trigger_fn)
        self->trigger_fn(self->trigger_ud, &t);
}

const ml4t_orchestrator_config_t *ml4t_orchestrator_config(const ml4t_orchestrator_t *self)
{
    return &self->cfg;
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void ml4t_orchestrator_stats(ml4t_orchestrator_t *self, ml4t_orchestrator_stats_t *out)
{
    *out = self->st;
    out->instruments = self->n_instr;
    out->accuracy = ml4t_monitor_accuracy(self->monitor);
    out->baseline = ml4t_monitor_baseline(self->monitor);
    size_t n = self->lat_n < S_LAT_RING ? (size_t)self->lat_n : S_LAT_RING;
    out->latency_p50_ns = out->latency_p99_ns = out->latency_p999_ns = NAN;
    uint64_t *copy = n ? malloc(n * sizeof *copy) : NULL;
    if (copy) {
        memcpy(copy, self->lat, n * sizeof *copy);
        qsort(copy, n, sizeof *copy, s_cmp_u64);
        out->latency_p50_ns = (double)copy[(size_t)(0.5 * (double)(n - 1))];
        out->latency_p99_ns = (double)copy[(size_t)(0.99 * (double)(n - 1))];
        out->latency_p999_ns = (double)copy[(size_t)(0.999 * (double)(n - 1))];
        free(copy);
    }
    ml4t_model_slot_version(self->slot, out->model_version, sizeof out->model_version);
}

ml4t_err_t ml4t_orchestrator_warm_from_store(ml4t_orchestrator_t *self, size_t *n_instruments,
                                             ml4t_error_t *err)
{
    *n_instruments = 0;
    if (!self->store)
        return ML4T_OK;
    char(*ids)[ML4T_INSTRUMENT_MAX + 1] = calloc(self->cfg.max_instruments, sizeof *ids);
    if (!ids)
        return ml4t_error_set(err, ML4T_ENOMEM, "store", "out of memory");
    size_t n = 0;
    ml4t_err_t rc = ml4t_store_instruments(self->store, ids, self->cfg.max_instruments, &n, err);
    if (n > self->cfg.max_instruments)
        n = self->cfg.max_instruments;
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    ml4t_model_t *m = ml4t_model_slot_acquire(self->slot);
    if (m && m != self->seen_model)
        s_on_new_model(self, m);
    const ml4t_hmm_t *hmm = m && self->seen_model_ok ? ml4t_model_hmm(m) : NULL;
    self->warming = true;
    ml4t_err_t unread = ML4T_OK; /* the first instrument whose bars could not be read */
    for (size_t i = 0; rc == ML4T_OK && i < n; i++) {
        ml4t_bars_clear(&bars);
        /* more than the ring holds: VPIN needs ~1,500 one-minute bars for its buckets */
        size_t want = self->cfg.history_bars > 4096 ? self->cfg.history_bars : 4096;
        ml4t_err_t lrc =
            ml4t_store_load_bars(self->store, ids[i], want, &bars, unread ? NULL : err);
        if (lrc && !unread)
            unread = lrc; /* the others are still warmed */
        if (lrc || bars.n == 0 || ml4t_bars_validate(&bars, NULL) != ML4T_OK)
            continue; /* a stored series that does not validate is not replayed */
        s_instr_t *in = s_lookup(self, ids[i], true, err);
        if (!in) {
            rc = err ? err->code : ML4T_ELIMIT;
            break;
        }
        if (s_merge(self, in, &bars, hmm, err) == ML4T_OK)
            (*n_instruments)++;
    }
    self->warming = false;
    ml4t_model_slot_release(self->slot, &m);
    ml4t_bars_destroy(&bars);
    free(ids);
    return rc ? rc : unread;
}

ml4t_err_t ml4t_orchestrator_policy_save(const ml4t_orchestrator_t *self, const char *path,
                                         ml4t_error_t *err)
{
    return self->policy ? ml4t_policy_history_save(self->policy, path, err) : ML4T_OK;
}

ml4t_err_t ml4t_orchestrator_policy_load(ml4t_orchestrator_t *self, const char *path,
                                         ml4t_error_t *err)
{
    if (!self->policy)
        return ML4T_OK;
    if (access(path, F_OK) != 0)
        return ml4t_error_set(err, ML4T_ENOTFOUND, "policy_history", "no %s yet", path);
    ml4t_err_t rc = ml4t_policy_history_load(self->policy, path, err);
    if (rc == ML4T_OK)
        self->policy_changed = true; /* publish the restored policy */
    return rc;
}
