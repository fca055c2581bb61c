/*  Real feature rows for model tests, tools and benchmarks.

    Reads a Binance 1m kline CSV (gzip) with zlib and derives simple feature
    rows from the bars: lagged log returns, ranges, volume ratios, taker-buy
    share and candle body, with NaN where a value is undefined (a bar with
    high == low has no body ratio) and, every 11th row, a simulated feed gap in
    one column. The label is the sign of the next bar's return (1 = up).
    Kept independent of ml4t_features on purpose: the model is tested on plain
    matrices. Everything is static inline so each user compiles its own copy. */
#ifndef ML4T_MODEL_FIXTURE_H_INCLUDED
#define ML4T_MODEL_FIXTURE_H_INCLUDED

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct {
    size_t n;
    uint64_t *ts_ns;
    double *open, *high, *low, *close, *volume, *taker_buy;
} t_bars_t;

#define T_ROW_K 10 /* features per row */

static inline const char *const *t_row_names(void)
{
    static const char *const names[T_ROW_K] = {
        "ret_1",      "ret_2",        "ret_5",       "ret_15", "range",
        "range_avg5", "volume_ratio", "taker_share", "body",   "ret_60",
    };
    return names;
}

static inline void t_bars_free(t_bars_t *b)
{
    free(b->ts_ns);
    free(b->open);
    free(b->high);
    free(b->low);
    free(b->close);
    free(b->volume);
    free(b->taker_buy);
    memset(b, 0, sizeof *b);
}

/* Loads every bar of a gzip'd kline CSV; 0 on success. */
static inline int t_bars_load(const char *path, t_bars_t *b)
{
    memset(b, 0, sizeof *b);
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return -1;
    size_t cap = 0;
    char line[512];
    while (gzgets(gz, line, sizeof line)) {
        double ot, o, h, l, c, v, ct, qv, cnt, tb;
        if (sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &ot, &o, &h, &l, &c, &v, &ct,
                   &qv, &cnt, &tb) != 10)
            continue; /* the header */
        if (b->n == cap) {
            cap = cap ? cap * 2 : 4096;
            b->ts_ns = realloc(b->ts_ns, cap * sizeof *b->ts_ns);
            b->open = realloc(b->open, cap * sizeof(double));
            b->high = realloc(b->high, cap * sizeof(double));
            b->low = realloc(b->low, cap * sizeof(double));
            b->close = realloc(b->close, cap * sizeof(double));
            b->volume = realloc(b->volume, cap * sizeof(double));
            b->taker_buy = realloc(b->taker_buy, cap * sizeof(double));
            if (!b->ts_ns || !b->open || !b->high || !b->low || !b->close || !b->volume ||
                !b->taker_buy) {
                gzclose(gz);
                t_bars_free(b);
                return -1;
            }
        }
        b->ts_ns[b->n] = (uint64_t)ot * 1000000u; /* open_time is in ms */
        b->open[b->n] = o;
        b->high[b->n] = h;
        b->low[b->n] = l;
        b->close[b->n] = c;
        b->volume[b->n] = v;
        b->taker_buy[b->n] = tb;
        b->n++;
    }
    gzclose(gz);
    return b->n ? 0 : -1;
}

#define T_ROW_FIRST 60 /* bars needed before the first row (ret_60) */

/* Number of rows t_rows_build can produce from b. */
static inline size_t t_rows_count(const t_bars_t *b)
{
    return b->n > T_ROW_FIRST + 1 ? b->n - T_ROW_FIRST - 1 : 0;
}

/* Fills up to max_rows rows (row-major, T_ROW_K columns) from the oldest bar on;
   y (may be NULL) gets the next-bar direction, ts (may be NULL) the bar time.
   Returns the rows written. */
static inline size_t t_rows_build(const t_bars_t *b, float *X, float *y, uint64_t *ts,
                                  size_t max_rows)
{
    size_t n = t_rows_count(b) < max_rows ? t_rows_count(b) : max_rows;
    const double *c = b->close;
    for (size_t r = 0; r < n; r++) {
        size_t t = r + T_ROW_FIRST;
        float *x = X + r * T_ROW_K;
        double range_avg = 0, vol_avg = 0;
        for (size_t j = 0; j < 5; j++)
            range_avg += (b->high[t - j] - b->low[t - j]) / b->close[t - j] / 5.0;
        for (size_t j = 1; j <= 20; j++)
            vol_avg += b->volume[t - j] / 20.0;
        double hl = b->high[t] - b->low[t];
        x[0] = (float)log(c[t] / c[t - 1]);
        x[1] = (float)log(c[t - 1] / c[t - 2]);
        x[2] = (float)log(c[t] / c[t - 5]);
        x[3] = (float)log(c[t] / c[t - 15]);
        x[4] = (float)(hl / c[t]);
        x[5] = (float)range_avg;
        x[6] = vol_avg > 0 ? (float)(b->volume[t] / vol_avg) : NAN;
        x[7] = b->volume[t] > 0 ? (float)(b->taker_buy[t] / b->volume[t]) : NAN;
        x[8] = hl > 0 ? (float)((c[t] - b->open[t]) / hl) : NAN;
        x[9] = (float)log(c[t] / c[t - 60]);
        if (r % 11 == 3)
            x[(r / 11) % T_ROW_K] = NAN; /* simulated gap, rotating over columns */
        if (y)
            y[r] = c[t + 1] > c[t] ? 1.0f : 0.0f;
        if (ts)
            ts[r] = b->ts_ns[t];
    }
    return n;
}

/* Loads the file and builds up to max_rows rows into new arrays (caller frees
 *X, *y, *ts; ts may be NULL). Returns the rows, 0 on failure. */
static inline size_t t_rows_load(const char *path, size_t max_rows, float **X, float **y,
                                 uint64_t **ts)
{
    t_bars_t b;
    if (t_bars_load(path, &b) != 0)
        return 0;
    size_t n = t_rows_count(&b) < max_rows ? t_rows_count(&b) : max_rows;
    *X = malloc(n * T_ROW_K * sizeof **X);
    *y = malloc(n * sizeof **y);
    if (ts)
        *ts = malloc(n * sizeof **ts);
    if (!*X || !*y || (ts && !*ts))
        n = 0;
    else
        n = t_rows_build(&b, *X, *y, ts ? *ts : NULL, n);
    t_bars_free(&b);
    return n;
}

/* Widens float rows to the double rows the predict functions take. */
static inline double *t_rows_to_double(const float *X, size_t n)
{
    double *d = malloc(n * T_ROW_K * sizeof *d);
    for (size_t i = 0; d && i < n * T_ROW_K; i++)
        d[i] = X[i];
    return d;
}

#endif
