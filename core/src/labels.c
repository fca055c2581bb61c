/*  ml4t_labels: ATR, triple-barrier labels and meta-labels. */
#include "ml4t/labels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

ml4t_labels_config_t ml4t_labels_config_default(void)
{
    ml4t_labels_config_t cfg = {
        .pt_multiplier = 2.0,
        .sl_multiplier = 1.0,
        .max_holding_bars = 10,
        .atr_period = 14,
    };
    return cfg;
}

ml4t_err_t ml4t_labels_config_validate(const ml4t_labels_config_t *cfg, ml4t_error_t *err)
{
    if (!cfg)
        return ml4t_error_set(err, ML4T_EINVAL, "config", "labels config is NULL");
    if (!(cfg->pt_multiplier > 0.0) || !isfinite(cfg->pt_multiplier))
        return ml4t_error_set(err, ML4T_EINVAL, "pt_multiplier",
                              "pt_multiplier=%g: must be finite and > 0", cfg->pt_multiplier);
    if (!(cfg->sl_multiplier > 0.0) || !isfinite(cfg->sl_multiplier))
        return ml4t_error_set(err, ML4T_EINVAL, "sl_multiplier",
                              "sl_multiplier=%g: must be finite and > 0", cfg->sl_multiplier);
    if (cfg->max_holding_bars == 0)
        return ml4t_error_set(err, ML4T_EINVAL, "max_holding_bars",
                              "max_holding_bars=0: must be >= 1");
    if (cfg->atr_period == 0)
        return ml4t_error_set(err, ML4T_EINVAL, "atr_period", "atr_period=0: must be >= 1");
    return ML4T_OK;
}

static ml4t_err_t s_bad_value(ml4t_error_t *err, const char *col, size_t i, const char *why,
                              double v)
{
    char field[ML4T_ERROR_FIELD_MAX];
    snprintf(field, sizeof field, "%s[%zu]", col, i);
    return ml4t_error_set(err, ML4T_ERANGE, field, "%s[%zu]=%g: %s", col, i, v, why);
}

static double s_true_range(double high, double low, double prev_close)
{
    double tr = high - low;
    double up = fabs(high - prev_close), down = fabs(low - prev_close);
    if (up > tr)
        tr = up;
    if (down > tr)
        tr = down;
    return tr;
}

ml4t_err_t ml4t_labels_atr(const double *high, const double *low, const double *close, size_t n,
                           size_t period, double *out, ml4t_error_t *err)
{
    if (period == 0)
        return ml4t_error_set(err, ML4T_EINVAL, "period", "period=0: must be >= 1");
    if (n > 0 && (!high || !low || !close || !out))
        return ml4t_error_set(err, ML4T_EINVAL, "out", "high, low, close and out must be given");
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(high[i]))
            return s_bad_value(err, "high", i, "not finite", high[i]);
        if (!isfinite(low[i]))
            return s_bad_value(err, "low", i, "not finite", low[i]);
        if (!isfinite(close[i]))
            return s_bad_value(err, "close", i, "not finite", close[i]);
        if (low[i] > high[i])
            return s_bad_value(err, "low", i, "above high", low[i]);
    }
    double sum = 0.0, atr = NAN;
    for (size_t i = 0; i < n; i++) {
        double tr = i == 0 ? high[0] - low[0] : s_true_range(high[i], low[i], close[i - 1]);
        if (i + 1 < period) {
            sum += tr;
            out[i] = NAN;
        } else if (i + 1 == period) {
            atr = (sum + tr) / (double)period;
            out[i] = atr;
        } else {
            atr = (atr * (double)(period - 1) + tr) / (double)period;
            out[i] = atr;
        }
    }
    return ML4T_OK;
}

static void s_set(ml4t_label_t *out, int side, ml4t_barrier_t barrier, size_t end, double ret)
{
    out->barrier = barrier;
    out->end_index = end;
    out->bars_held = end;
    out->resolved = barrier != ML4T_BARRIER_PENDING && barrier != ML4T_BARRIER_NO_ATR;
    out->ret = out->resolved ? ret : 0.0;
    switch (barrier) {
    case ML4T_BARRIER_PROFIT_TAKE:
        out->label = 1;
        break;
    case ML4T_BARRIER_STOP_LOSS:
        out->label = -1;
        break;
    case ML4T_BARRIER_VERTICAL:
        out->label = (ret > 0.0) - (ret < 0.0);
        break;
    default:
        out->label = 0;
    }
    out->meta = side != 0 && out->resolved && out->label == 1;
}

/* The walk over later bars; inputs already checked. */
static void s_resolve(const ml4t_labels_config_t *cfg, int side, double entry, double atr,
                      const double *hi, const double *lo, const double *cl, size_t n_later,
                      ml4t_label_t *out)
{
    if (side == 0) {
        s_set(out, 0, ML4T_BARRIER_NONE, 0, 0.0);
        return;
    }
    if (!isfinite(atr) || !(atr > 0.0)) {
        s_set(out, side, ML4T_BARRIER_NO_ATR, cfg->max_holding_bars, 0.0);
        return;
    }
    double s = (double)side;
    double pt_dist = cfg->pt_multiplier * atr, sl_dist = cfg->sl_multiplier * atr;
    double pt = entry + s * pt_dist, sl = entry - s * sl_dist;
    size_t last = n_later < cfg->max_holding_bars ? n_later : cfg->max_holding_bars;
    for (size_t k = 0; k < last; k++) {
        /* the barrier against the position is checked first: a bar that touches
           both has an unknown order inside it, so the stop is assumed */
        bool stop = side > 0 ? lo[k] <= sl : hi[k] >= sl;
        if (stop) {
            s_set(out, side, ML4T_BARRIER_STOP_LOSS, k + 1, -sl_dist / entry);
            return;
        }
        bool take = side > 0 ? hi[k] >= pt : lo[k] <= pt;
        if (take) {
            s_set(out, side, ML4T_BARRIER_PROFIT_TAKE, k + 1, pt_dist / entry);
            return;
        }
    }
    if (last == cfg->max_holding_bars)
        s_set(out, side, ML4T_BARRIER_VERTICAL, last, s * (cl[last - 1] - entry) / entry);
    else
        s_set(out, side, ML4T_BARRIER_PENDING, cfg->max_holding_bars, 0.0);
}

ml4t_err_t ml4t_labels_resolve_one(const ml4t_labels_config_t *cfg, int side, double entry_close,
                                   double atr, const double *later_high, const double *later_low,
                                   const double *later_close, size_t n_later, ml4t_label_t *out,
                                   ml4t_error_t *err)
{
    ml4t_err_t rc = ml4t_labels_config_validate(cfg, err);
    if (rc)
        return rc;
    if (!out)
        return ml4t_error_set(err, ML4T_EINVAL, "out", "out is NULL");
    if (side < -1 || side > 1)
        return ml4t_error_set(err, ML4T_ERANGE, "side", "side=%d: must be -1, 0 or 1", side);
    if (!isfinite(entry_close) || !(entry_close > 0.0))
        return ml4t_error_set(err, ML4T_ERANGE, "entry_close",
                              "entry_close=%g: must be finite and > 0", entry_close);
    if (n_later > 0 && (!later_high || !later_low || !later_close))
        return ml4t_error_set(err, ML4T_EINVAL, "later_close", "later bars are NULL");
    s_resolve(cfg, side, entry_close, atr, later_high, later_low, later_close, n_later, out);
    return ML4T_OK;
}

ml4t_err_t ml4t_labels_triple_barrier(const ml4t_labels_config_t *cfg, const double *high,
                                      const double *low, const double *close, const double *atr,
                                      const int *signals, size_t n, ml4t_label_t *out,
                                      ml4t_error_t *err)
{
    ml4t_err_t rc = ml4t_labels_config_validate(cfg, err);
    if (rc)
        return rc;
    if (n > 0 && (!high || !low || !close || !atr || !out))
        return ml4t_error_set(err, ML4T_EINVAL, "out",
                              "high, low, close, atr and out must be given");
    for (size_t i = 0; i < n; i++) {
        int s = signals ? signals[i] : 0;
        if (s < -1 || s > 1) {
            char field[ML4T_ERROR_FIELD_MAX];
            snprintf(field, sizeof field, "signals[%zu]", i);
            return ml4t_error_set(err, ML4T_ERANGE, field, "signals[%zu]=%d: must be -1, 0 or 1", i,
                                  s);
        }
        if (s != 0 && (!isfinite(close[i]) || !(close[i] > 0.0)))
            return s_bad_value(err, "close", i, "must be finite and > 0", close[i]);
    }
    for (size_t i = 0; i < n; i++) {
        int s = signals ? signals[i] : 0;
        s_resolve(cfg, s, close[i], atr[i], high + i + 1, low + i + 1, close + i + 1, n - 1 - i,
                  &out[i]);
        out[i].end_index += i;
    }
    return ML4T_OK;
}

ml4t_err_t ml4t_labels_from_bars(const ml4t_labels_config_t *cfg, const ml4t_bars_t *bars,
                                 const int *signals, ml4t_label_t *out, ml4t_error_t *err)
{
    ml4t_err_t rc = ml4t_labels_config_validate(cfg, err);
    if (rc)
        return rc;
    if (!bars)
        return ml4t_error_set(err, ML4T_EINVAL, "bars", "bars is NULL");
    if (bars->n == 0)
        return ML4T_OK;
    double *atr = malloc(bars->n * sizeof *atr);
    if (!atr)
        return ml4t_error_set(err, ML4T_ENOMEM, "atr", "no memory for %zu ATR rows", bars->n);
    rc = ml4t_labels_atr(bars->high, bars->low, bars->close, bars->n, cfg->atr_period, atr, err);
    if (rc == ML4T_OK)
        rc = ml4t_labels_triple_barrier(cfg, bars->high, bars->low, bars->close, atr, signals,
                                        bars->n, out, err);
    free(atr);
    return rc;
}
