/*  ml4t_features: meta-features from a bar window. */
#include "ml4t/features.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_names[ML4T_F_COUNT] = {
    "volatility",       "natr",           "momentum",     "vol_of_vol",
    "trend_strength",   "mean_reversion", "volume_ratio", "buy_imbalance",
    "changepoint_prob", "run_length",     "side",
};

size_t ml4t_features_count(void)
{
    return ML4T_F_COUNT;
}

const char *ml4t_features_name(size_t i)
{
    return i < ML4T_F_COUNT ? s_names[i] : NULL;
}

int ml4t_features_find(const char *name)
{
    for (int i = 0; i < ML4T_F_COUNT; i++)
        if (strcmp(s_names[i], name) == 0)
            return i;
    return -1;
}

/* ---- computation ---------------------------------------------------------- */

ml4t_features_config_t ml4t_features_config_default(void)
{
    ml4t_features_config_t cfg = {
        .lookback = 20,
        .atr_period = 14,
        .vol_window = 5,
        .vol_ref_span = 1440,
        .bocd = ml4t_bocd_config_default(),
    };
    return cfg;
}

ml4t_err_t ml4t_features_config_validate(const ml4t_features_config_t *cfg, ml4t_error_t *err)
{
    if (!cfg)
        return ml4t_error_set(err, ML4T_EINVAL, "config", "features config is NULL");
    if (cfg->lookback < 2 || cfg->lookback > 10000)
        return ml4t_error_set(err, ML4T_EINVAL, "lookback", "lookback=%zu: must be in [2, 10000]",
                              cfg->lookback);
    if (cfg->atr_period < 1 || cfg->atr_period > 10000)
        return ml4t_error_set(err, ML4T_EINVAL, "atr_period",
                              "atr_period=%zu: must be in [1, 10000]", cfg->atr_period);
    if (cfg->vol_window < 2 || cfg->vol_window > 1000)
        return ml4t_error_set(err, ML4T_EINVAL, "vol_window",
                              "vol_window=%zu: must be in [2, 1000]", cfg->vol_window);
    if (cfg->vol_ref_span < 1)
        return ml4t_error_set(err, ML4T_EINVAL, "vol_ref_span", "vol_ref_span=0: must be >= 1");
    ml4t_err_t rc = ml4t_bocd_config_validate(&cfg->bocd, err);
    if (rc && err) { /* name the nested field */
        char inner[ML4T_ERROR_FIELD_MAX];
        snprintf(inner, sizeof inner, "%s", err->field);
        snprintf(err->field, sizeof err->field, "bocd.%.48s", inner);
    }
    return rc;
}

/* Bars the window features look at. */
static size_t s_window_bars(const ml4t_features_config_t *cfg)
{
    size_t a = cfg->lookback + cfg->vol_window, b = cfg->atr_period + 1;
    return a > b ? a : b;
}

static double s_finite_or_zero(double v)
{
    return isfinite(v) ? v : 0.0;
}

static double s_log_return(double close, double prev)
{
    return s_finite_or_zero(log(close / prev));
}

static double s_mean(const double *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return n ? s / (double)n : 0.0;
}

/* Population standard deviation, two passes (no cancellation). */
static double s_pop_std(const double *x, size_t n)
{
    if (n < 2)
        return 0.0;
    double m = s_mean(x, n), ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (double)n);
}

/* The last nb bars, oldest first, and their log returns (ret[b] from bar b-1
   to b, valid for b >= 1). When nb is below the full window the view starts
   at the first bar of the series, so bar 0's true range is high - low. */
typedef struct {
    const double *close, *high, *low, *volume, *buy, *ret;
    const double *vroll; /* v_b for each bar (below), kept by the incremental
                            state; NULL: computed here */
    size_t nb;
    double *vols; /* scratch: lookback values */
} s_view_t;

/* Population std, over the window's returns, of the rolling volatility
   v_b = pop std of ret[max(1, b-w+1) .. b] (vols: room for m values). */
static double s_roll_vol(size_t w, const double *ret, size_t b)
{
    size_t from = b + 1 > w ? b + 1 - w : 1;
    return b >= from ? s_pop_std(ret + from, b + 1 - from) : 0.0;
}

/* The incremental state computes v_b once, when bar b arrives, and keeps it:
   the window's m values are then the same numbers the batch path computes
   (the view holds lookback + vol_window bars, so no window is cut short). */
static double s_vol_of_vol(size_t w, const s_view_t *v, size_t m, double *vols)
{
    if (v->vroll)
        return s_pop_std(v->vroll + v->nb - m, m);
    for (size_t k = 0; k < m; k++)
        vols[k] = s_roll_vol(w, v->ret, v->nb - m + k); /* b >= 1: m <= nb - 1 */
    return s_pop_std(vols, m);
}

static void s_window_features(const ml4t_features_config_t *cfg, const s_view_t *v, double *out)
{
    size_t nb = v->nb, last = nb - 1, L = cfg->lookback;
    size_t m = last < L ? last : L; /* returns in the window */
    size_t nl = nb < L ? nb : L;    /* bars in the window */
    double c = v->close[last];
    double vol = s_pop_std(v->ret + nb - m, m);
    double mom = c / v->close[last - m] - 1.0;
    size_t q = nb < cfg->atr_period ? nb : cfg->atr_period;
    double tr_sum = 0.0;
    for (size_t b = nb - q; b < nb; b++) {
        double tr = v->high[b] - v->low[b];
        if (b > 0) {
            double up = fabs(v->high[b] - v->close[b - 1]), dn = fabs(v->low[b] - v->close[b - 1]);
            tr = up > tr ? up : tr;
            tr = dn > tr ? dn : tr;
        }
        tr_sum += tr;
    }
    double sma = s_mean(v->close + nb - nl, nl);
    double vol_sum = 0.0, imb = 0.0;
    for (size_t b = nb - nl; b < nb; b++) {
        vol_sum += v->volume[b];
        if (isfinite(v->buy[b])) /* unknown taker volume: no contribution */
            imb += 2.0 * v->buy[b] - v->volume[b];
    }
    out[ML4T_F_VOLATILITY] = s_finite_or_zero(vol);
    out[ML4T_F_NATR] = s_finite_or_zero(tr_sum / (double)q / c);
    out[ML4T_F_MOMENTUM] = s_finite_or_zero(mom);
    out[ML4T_F_VOL_OF_VOL] = s_finite_or_zero(s_vol_of_vol(cfg->vol_window, v, m, v->vols));
    out[ML4T_F_TREND_STRENGTH] = s_finite_or_zero(fabs(mom) / vol);
    out[ML4T_F_MEAN_REVERSION] = s_finite_or_zero((c - sma) / sma / vol);
    out[ML4T_F_VOLUME_RATIO] = s_finite_or_zero(v->volume[last] / (vol_sum / (double)nl));
    out[ML4T_F_BUY_IMBALANCE] = s_finite_or_zero(imb / vol_sum);
}

static double s_sign(int side)
{
    return (double)((side > 0) - (side < 0));
}

static void s_bocd_features(const ml4t_bocd_t *b, double *out)
{
    out[ML4T_F_CHANGEPOINT] = ml4t_bocd_cp_prob(b);
    out[ML4T_F_RUN_LENGTH] =
        (double)ml4t_bocd_map_run_length(b) / (double)ml4t_bocd_config(b)->max_run_length;
}

/* ---- incremental ------------------------------------------------------------ */

#define S_RINGS 7 /* close, high, low, volume, buy, ret, vroll: each mirrored, 2 * cap */

struct ml4t_features_state {
    ml4t_features_config_t cfg;
    size_t cap;   /* bars the window features need */
    size_t pos;   /* next slot, 0..cap-1 */
    size_t count; /* bars seen */
    uint64_t last_ts;
    double *block; /* the rings, then lookback scratch values */
    double *ring[S_RINGS];
    double *vols;
    ml4t_bocd_t *bocd;
    double window[ML4T_F_COUNT]; /* features after the last update */
    double vol_ref;
    size_t vol_ref_n;
};

enum { S_CLOSE, S_HIGH, S_LOW, S_VOLUME, S_BUY, S_RET, S_VROLL };

static void s_state_clear(ml4t_features_state_t *self)
{
    self->pos = 0;
    self->count = 0;
    self->last_ts = 0;
    memset(self->window, 0, sizeof self->window);
    self->vol_ref = NAN;
    self->vol_ref_n = 0;
}

ml4t_features_state_t *ml4t_features_state_new(const ml4t_features_config_t *cfg, ml4t_error_t *err)
{
    ml4t_features_config_t def = ml4t_features_config_default();
    if (!cfg)
        cfg = &def;
    if (ml4t_features_config_validate(cfg, err))
        return NULL;
    ml4t_features_state_t *self = calloc(1, sizeof *self);
    if (!self)
        goto out_nomem;
    self->cfg = *cfg;
    self->cap = s_window_bars(cfg);
    self->block = calloc(S_RINGS * 2 * self->cap + cfg->lookback, sizeof(double));
    if (!self->block)
        goto out_free_self;
    for (size_t i = 0; i < S_RINGS; i++)
        self->ring[i] = self->block + i * 2 * self->cap;
    self->vols = self->block + S_RINGS * 2 * self->cap;
    self->bocd = ml4t_bocd_new(&cfg->bocd, err);
    if (!self->bocd)
        goto out_free_block;
    s_state_clear(self);
    return self;

out_free_block:
    free(self->block);
out_free_self:
    free(self);
    return NULL;
out_nomem:
    ml4t_error_set(err, ML4T_ENOMEM, "lookback", "no memory for the features state");
    return NULL;
}

void ml4t_features_state_destroy(ml4t_features_state_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ml4t_bocd_destroy(&(*self_p)->bocd);
    free((*self_p)->block);
    free(*self_p);
    *self_p = NULL;
}

static void s_push(ml4t_features_state_t *self, int ring, double v)
{
    self->ring[ring][self->pos] = v;
    self->ring[ring][self->pos + self->cap] = v;
}

/* The newest min(count, cap) bars as contiguous arrays: the mirrored half
   makes them one slice ending at pos + cap - 1. */
static s_view_t s_state_view(const ml4t_features_state_t *self)
{
    size_t nb = self->count < self->cap ? self->count : self->cap;
    size_t from = self->pos + self->cap - nb;
    s_view_t v = {
        .close = self->ring[S_CLOSE] + from,
        .high = self->ring[S_HIGH] + from,
        .low = self->ring[S_LOW] + from,
        .volume = self->ring[S_VOLUME] + from,
        .buy = self->ring[S_BUY] + from,
        .ret = self->ring[S_RET] + from,
        .vroll = self->ring[S_VROLL] + from,
        .nb = nb,
        .vols = self->vols,
    };
    return v;
}

static void s_vol_ref_add(ml4t_features_state_t *self, double vol)
{
    self->vol_ref_n++;
    double a = self->vol_ref_n < self->cfg.vol_ref_span ? 1.0 / (double)self->vol_ref_n
                                                        : 1.0 / (double)self->cfg.vol_ref_span;
    self->vol_ref = self->vol_ref_n == 1 ? vol : self->vol_ref + a * (vol - self->vol_ref);
}

ml4t_err_t ml4t_features_state_update(ml4t_features_state_t *self, uint64_t ts, double open,
                                      double high, double low, double close, double volume,
                                      double buy_volume)
{
    (void)open; /* no feature reads the open; kept for a stable signature */
    if (self->count > 0 && ts <= self->last_ts)
        return ML4T_ERANGE;
    size_t prev = (self->pos + self->cap - 1) % self->cap;
    double ret = self->count > 0 ? s_log_return(close, self->ring[S_CLOSE][prev]) : 0.0;
    s_push(self, S_CLOSE, close);
    s_push(self, S_HIGH, high);
    s_push(self, S_LOW, low);
    s_push(self, S_VOLUME, volume);
    s_push(self, S_BUY, buy_volume);
    s_push(self, S_RET, ret);
    size_t at = self->pos;
    self->pos = (self->pos + 1) % self->cap;
    self->count++;
    self->last_ts = ts;
    s_view_t v = s_state_view(self);
    double vr = s_roll_vol(self->cfg.vol_window, v.ret, v.nb - 1);
    self->ring[S_VROLL][at] = vr;
    self->ring[S_VROLL][at + self->cap] = vr;
    s_window_features(&self->cfg, &v, self->window);
    if (self->count > 1) {
        ml4t_bocd_update(self->bocd, ret); /* finite by construction */
        s_vol_ref_add(self, self->window[ML4T_F_VOLATILITY]);
    }
    return ML4T_OK;
}

void ml4t_features_state_get(const ml4t_features_state_t *self, int side, double out[ML4T_F_COUNT])
{
    memcpy(out, self->window, sizeof self->window);
    s_bocd_features(self->bocd, out);
    out[ML4T_F_SIDE] = s_sign(side);
}

size_t ml4t_features_state_count(const ml4t_features_state_t *self)
{
    return self->count;
}

uint64_t ml4t_features_state_last_ts(const ml4t_features_state_t *self)
{
    return self->last_ts;
}

double ml4t_features_state_vol_ref(const ml4t_features_state_t *self)
{
    return self->vol_ref;
}

const ml4t_bocd_t *ml4t_features_state_bocd(const ml4t_features_state_t *self)
{
    return self->bocd;
}

void ml4t_features_state_reset(ml4t_features_state_t *self)
{
    s_state_clear(self);
    ml4t_bocd_reset(self->bocd);
}

ml4t_err_t ml4t_features_state_copy(ml4t_features_state_t *dst, const ml4t_features_state_t *src)
{
    if (dst == src)
        return ML4T_OK;
    if (dst->cap != src->cap || dst->cfg.lookback != src->cfg.lookback)
        return ML4T_EMISMATCH;
    ml4t_err_t rc = ml4t_bocd_copy(dst->bocd, src->bocd);
    if (rc)
        return rc;
    memcpy(dst->block, src->block, (S_RINGS * 2 * src->cap + src->cfg.lookback) * sizeof(double));
    dst->cfg = src->cfg;
    dst->pos = src->pos;
    dst->count = src->count;
    dst->last_ts = src->last_ts;
    memcpy(dst->window, src->window, sizeof src->window);
    dst->vol_ref = src->vol_ref;
    dst->vol_ref_n = src->vol_ref_n;
    return ML4T_OK;
}

/* ---- batch, matrix, selection -------------------------------------------------- */

ml4t_err_t ml4t_features_compute(const ml4t_features_config_t *cfg, const ml4t_bars_t *bars,
                                 size_t end, int side, double out[ML4T_F_COUNT], ml4t_error_t *err)
{
    ml4t_features_config_t def = ml4t_features_config_default();
    if (!cfg)
        cfg = &def;
    ml4t_err_t rc = ml4t_features_config_validate(cfg, err);
    if (rc)
        return rc;
    if (!bars || !out)
        return ml4t_error_set(err, ML4T_EINVAL, "bars", "bars and out must be given");
    if (end >= bars->n)
        return ml4t_error_set(err, ML4T_ERANGE, "end", "end=%zu: only %zu bars", end, bars->n);
    size_t cap = s_window_bars(cfg), nb = end + 1 < cap ? end + 1 : cap, first = end + 1 - nb;
    double *scratch = malloc((nb + cfg->lookback) * sizeof *scratch);
    ml4t_bocd_t *bocd = ml4t_bocd_new(&cfg->bocd, err);
    if (!scratch || !bocd) {
        rc = ml4t_error_set(err, ML4T_ENOMEM, "bars", "no memory for a %zu-bar window", nb);
        goto out_free;
    }
    double *ret = scratch;
    ret[0] = 0.0;
    for (size_t b = 1; b < nb; b++)
        ret[b] = s_log_return(bars->close[first + b], bars->close[first + b - 1]);
    s_view_t v = {
        .close = bars->close + first,
        .high = bars->high + first,
        .low = bars->low + first,
        .volume = bars->volume + first,
        .buy = bars->buy_volume + first,
        .ret = ret,
        .nb = nb,
        .vols = scratch + nb,
    };
    s_window_features(cfg, &v, out);
    for (size_t i = 1; i <= end; i++)
        ml4t_bocd_update(bocd, s_log_return(bars->close[i], bars->close[i - 1]));
    s_bocd_features(bocd, out);
    out[ML4T_F_SIDE] = s_sign(side);
out_free:
    ml4t_bocd_destroy(&bocd);
    free(scratch);
    return rc;
}

ml4t_err_t ml4t_features_matrix(const ml4t_features_config_t *cfg, const ml4t_bars_t *bars,
                                const int *sides, double *out, ml4t_error_t *err)
{
    if (!bars || (bars->n > 0 && !out))
        return ml4t_error_set(err, ML4T_EINVAL, "bars", "bars and out must be given");
    ml4t_features_config_t def = ml4t_features_config_default();
    ml4t_err_t rc = ml4t_features_config_validate(cfg ? cfg : &def, err);
    if (rc)
        return rc;
    ml4t_features_state_t *st = ml4t_features_state_new(cfg, err);
    if (!st)
        return ML4T_ENOMEM;
    for (size_t i = 0; i < bars->n; i++) {
        rc = ml4t_features_state_update(st, bars->ts[i], bars->open[i], bars->high[i], bars->low[i],
                                        bars->close[i], bars->volume[i], bars->buy_volume[i]);
        if (rc) {
            char field[ML4T_ERROR_FIELD_MAX];
            snprintf(field, sizeof field, "bars[%zu].ts", i);
            ml4t_error_set(err, rc, field, "bar %zu: ts is not after the previous bar's", i);
            break;
        }
        ml4t_features_state_get(st, sides ? sides[i] : 0, out + i * ML4T_F_COUNT);
    }
    ml4t_features_state_destroy(&st);
    return rc;
}

ml4t_err_t ml4t_features_select(const double full[ML4T_F_COUNT], const int *idx, size_t n,
                                double *out, ml4t_error_t *err)
{
    for (size_t k = 0; k < n; k++) {
        if (idx[k] < 0 || idx[k] >= ML4T_F_COUNT) {
            char field[ML4T_ERROR_FIELD_MAX];
            snprintf(field, sizeof field, "idx[%zu]", k);
            return ml4t_error_set(err, ML4T_ERANGE, field, "idx[%zu]=%d: not a feature index", k,
                                  idx[k]);
        }
        out[k] = full[idx[k]];
    }
    return ML4T_OK;
}
