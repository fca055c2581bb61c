/*  ml4t_event: bars, events and their validation. */
#include "ml4t/event.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ml4t_bars_init(ml4t_bars_t *bars)
{
    memset(bars, 0, sizeof *bars);
}

void ml4t_bars_destroy(ml4t_bars_t *bars)
{
    if (!bars)
        return;
    free(bars->ts);
    free(bars->open);
    free(bars->high);
    free(bars->low);
    free(bars->close);
    free(bars->volume);
    free(bars->buy_volume);
    memset(bars, 0, sizeof *bars);
}

static int s_grow(void **p, size_t elem, size_t cap)
{
    void *q = realloc(*p, elem * cap);
    if (!q)
        return -1;
    *p = q;
    return 0;
}

ml4t_err_t ml4t_bars_reserve(ml4t_bars_t *bars, size_t cap)
{
    if (cap <= bars->cap)
        return ML4T_OK;
    if (cap > SIZE_MAX / sizeof(double))
        return ML4T_ENOMEM;
    /* each column grows independently; on failure the old buffers stay valid */
    if (s_grow((void **)&bars->ts, sizeof(uint64_t), cap) ||
        s_grow((void **)&bars->open, sizeof(double), cap) ||
        s_grow((void **)&bars->high, sizeof(double), cap) ||
        s_grow((void **)&bars->low, sizeof(double), cap) ||
        s_grow((void **)&bars->close, sizeof(double), cap) ||
        s_grow((void **)&bars->volume, sizeof(double), cap) ||
        s_grow((void **)&bars->buy_volume, sizeof(double), cap))
        return ML4T_ENOMEM;
    bars->cap = cap;
    return ML4T_OK;
}

void ml4t_bars_clear(ml4t_bars_t *bars)
{
    bars->n = 0;
}

ml4t_err_t ml4t_bars_push(ml4t_bars_t *bars, uint64_t ts, double open, double high, double low,
                          double close, double volume, double buy_volume)
{
    if (bars->n == bars->cap) {
        ml4t_err_t rc = ml4t_bars_reserve(bars, bars->cap ? bars->cap * 2 : 128);
        if (rc)
            return rc;
    }
    size_t i = bars->n++;
    bars->ts[i] = ts;
    bars->open[i] = open;
    bars->high[i] = high;
    bars->low[i] = low;
    bars->close[i] = close;
    bars->volume[i] = volume;
    bars->buy_volume[i] = buy_volume;
    return ML4T_OK;
}

ml4t_err_t ml4t_bars_append(ml4t_bars_t *dst, const ml4t_bars_t *src, size_t from, size_t count)
{
    if (from > src->n || count > src->n - from)
        return ML4T_ERANGE;
    ml4t_err_t rc = ml4t_bars_reserve(dst, dst->n + count);
    if (rc)
        return rc;
    size_t at = dst->n;
    memcpy(dst->ts + at, src->ts + from, count * sizeof(uint64_t));
    memcpy(dst->open + at, src->open + from, count * sizeof(double));
    memcpy(dst->high + at, src->high + from, count * sizeof(double));
    memcpy(dst->low + at, src->low + from, count * sizeof(double));
    memcpy(dst->close + at, src->close + from, count * sizeof(double));
    memcpy(dst->volume + at, src->volume + from, count * sizeof(double));
    memcpy(dst->buy_volume + at, src->buy_volume + from, count * sizeof(double));
    dst->n += count;
    return ML4T_OK;
}

static ml4t_err_t s_bad_bar(ml4t_error_t *err, ml4t_err_t code, size_t i, const char *col,
                            const char *why, double v)
{
    char field[ML4T_ERROR_FIELD_MAX];
    snprintf(field, sizeof field, "bars[%zu].%s", i, col);
    return ml4t_error_set(err, code, field, "bar %zu: %s %s (got %g)", i, col, why, v);
}

/* The rules of ml4t_bars_validate in one branch-free pass: true exactly when
   every bar passes (NaN fails every comparison). Only a failing array takes
   the walk that names the first bad field. The price rules are selects on
   doubles, a min reduction that vectorizes on any x86-64. */
static bool s_bars_all_valid(const ml4t_bars_t *bars)
{
    const double *restrict op = bars->open, *restrict hp = bars->high, *restrict lp = bars->low,
                           *restrict cp = bars->close, *restrict vp = bars->volume,
                           *restrict bp = bars->buy_volume;
    const uint64_t *restrict ts = bars->ts;
    size_t n = bars->n;
    double ok = 1.0;
#pragma omp simd reduction(min : ok)
    for (size_t i = 0; i < n; i++) {
        double o = op[i], h = hp[i], l = lp[i], c = cp[i], v = vp[i], bv = bp[i];
        double g = l > 0.0 ? 1.0 : 0.0; /* with l <= h < inf: low and high finite, > 0 */
        g = l <= h ? g : 0.0;
        g = h < INFINITY ? g : 0.0;
        g = o >= l ? g : 0.0;
        g = o <= h ? g : 0.0;
        g = c >= l ? g : 0.0;
        g = c <= h ? g : 0.0;
        g = v >= 0.0 ? g : 0.0;
        g = v < INFINITY ? g : 0.0;
        double gb = bv >= 0.0 ? g : 0.0; /* buy_volume: NaN (absent), or in [0, volume] */
        gb = bv <= v * (1.0 + 1e-9) + 1e-12 ? gb : 0.0;
        g = isnan(bv) ? g : gb;
        ok = ok < g ? ok : g;
    }
    int good = ok > 0.0;
    for (size_t i = 1; i < n; i++)
        good &= ts[i] > ts[i - 1];
    return good != 0;
}

ml4t_err_t ml4t_bars_validate(const ml4t_bars_t *bars, ml4t_error_t *err)
{
    if (s_bars_all_valid(bars))
        return ML4T_OK;
    for (size_t i = 0; i < bars->n; i++) {
        const double px[4] = {bars->open[i], bars->high[i], bars->low[i], bars->close[i]};
        static const char *names[4] = {"open", "high", "low", "close"};
        for (int k = 0; k < 4; k++) {
            if (!isfinite(px[k]))
                return s_bad_bar(err, ML4T_ERANGE, i, names[k], "is not finite", px[k]);
            if (px[k] <= 0.0)
                return s_bad_bar(err, ML4T_ERANGE, i, names[k], "must be positive", px[k]);
        }
        double lo = bars->low[i], hi = bars->high[i];
        if (lo > hi)
            return s_bad_bar(err, ML4T_ERANGE, i, "low", "is above high", lo);
        if (bars->open[i] < lo || bars->open[i] > hi)
            return s_bad_bar(err, ML4T_ERANGE, i, "open", "is outside [low, high]", bars->open[i]);
        if (bars->close[i] < lo || bars->close[i] > hi)
            return s_bad_bar(err, ML4T_ERANGE, i, "close", "is outside [low, high]",
                             bars->close[i]);
        double v = bars->volume[i];
        if (!isfinite(v) || v < 0.0)
            return s_bad_bar(err, ML4T_ERANGE, i, "volume", "must be finite and >= 0", v);
        double bv = bars->buy_volume[i];
        if (!isnan(bv)) {
            if (!isfinite(bv) || bv < 0.0)
                return s_bad_bar(err, ML4T_ERANGE, i, "buy_volume", "must be finite and >= 0", bv);
            /* relative tolerance: exchanges round taker volume independently */
            if (bv > v * (1.0 + 1e-9) + 1e-12)
                return s_bad_bar(err, ML4T_ERANGE, i, "buy_volume", "exceeds volume", bv);
        }
        if (i > 0 && bars->ts[i] <= bars->ts[i - 1])
            return s_bad_bar(err, ML4T_ERANGE, i, "ts", "is not after the previous bar's",
                             (double)bars->ts[i]);
    }
    return ML4T_OK;
}

void ml4t_signal_init(ml4t_signal_t *sig)
{
    memset(sig, 0, sizeof *sig);
    ml4t_bars_init(&sig->bars);
}

void ml4t_signal_destroy(ml4t_signal_t *sig)
{
    if (!sig)
        return;
    ml4t_bars_destroy(&sig->bars);
}

void ml4t_signal_clear(ml4t_signal_t *sig)
{
    sig->instrument_id[0] = '\0';
    sig->strategy_id[0] = '\0';
    sig->signal_id[0] = '\0';
    sig->signal = 0;
    sig->ts_event = 0;
    ml4t_bars_clear(&sig->bars);
}

ml4t_err_t ml4t_signal_validate(const ml4t_signal_t *sig, size_t min_bars, size_t max_bars,
                                ml4t_error_t *err)
{
    if (sig->instrument_id[0] == '\0')
        return ml4t_error_set(err, ML4T_EMISSING, "instrument_id", "instrument_id is empty");
    if (sig->signal < -1 || sig->signal > 1)
        return ml4t_error_set(err, ML4T_ERANGE, "signal", "signal must be -1, 0 or 1 (got %d)",
                              sig->signal);
    if (sig->bars.n < min_bars)
        return ml4t_error_set(err, ML4T_ENODATA, "bars", "%zu bars given, at least %zu needed",
                              sig->bars.n, min_bars);
    if (sig->bars.n > max_bars)
        return ml4t_error_set(err, ML4T_ELIMIT, "bars", "%zu bars given, at most %zu allowed",
                              sig->bars.n, max_bars);
    return ml4t_bars_validate(&sig->bars, err);
}

const char *ml4t_toxicity_level_name(ml4t_toxicity_level_t level)
{
    switch (level) {
    case ML4T_TOXICITY_LOW:
        return "LOW";
    case ML4T_TOXICITY_MEDIUM:
        return "MEDIUM";
    case ML4T_TOXICITY_HIGH:
        return "HIGH";
    default:
        return "UNKNOWN";
    }
}

ml4t_err_t ml4t_copy_id(char *dst, size_t dst_size, const char *src, size_t len, const char *field,
                        ml4t_error_t *err)
{
    if (len >= dst_size)
        return ml4t_error_set(err, ML4T_ELIMIT, field, "%s is %zu bytes, at most %zu allowed",
                              field, len, dst_size - 1);
    if (memchr(src, '\0', len))
        return ml4t_error_set(err, ML4T_EFORMAT, field, "%s contains a NUL byte", field);
    memcpy(dst, src, len);
    dst[len] = '\0';
    return ML4T_OK;
}
