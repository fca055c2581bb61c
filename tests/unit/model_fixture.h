/*  Real feature rows for model tests, tools and benchmarks.

    Reads a Binance 1m kline CSV (gzip) with ml4t_csv_load and derives simple
    feature rows from the bars: lagged log returns, ranges, volume ratios, taker-buy
    share and candle body, with NaN where a value is undefined (a bar with
    high == low has no body ratio) and, every 11th row, a simulated feed gap in
    one column. The label is the sign of the next bar's return (1 = up).
    Kept independent of ml4t_features on purpose: the model is tested on plain
    matrices. Everything is static inline so each user compiles its own copy. */
#ifndef ML4T_MODEL_FIXTURE_H_INCLUDED
#define ML4T_MODEL_FIXTURE_H_INCLUDED

#include "ml4t/csv.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define T_ROW_K 10 /* features per row */

static inline const char *const *t_row_names(void)
{
    static const char *const names[T_ROW_K] = {
        "ret_1",      "ret_2",        "ret_5",       "ret_15", "range",
        "range_avg5", "volume_ratio", "taker_share", "body",   "ret_60",
    };
    return names;
}

#define T_ROW_FIRST 60 /* bars needed before the first row (ret_60) */

/* Number of rows t_rows_build can produce from b. */
static inline size_t t_rows_count(const ml4t_bars_t *b)
{
    return b->n > T_ROW_FIRST + 1 ? b->n - T_ROW_FIRST - 1 : 0;
}

/* Fills up to max_rows rows (row-major, T_ROW_K columns) from the oldest bar on;
   y (may be NULL) gets the next-bar direction, ts (may be NULL) the bar time.
   Returns the rows written. */
static inline size_t t_rows_build(const ml4t_bars_t *b, float *X, float *y, uint64_t *ts,
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
        x[7] = b->volume[t] > 0 ? (float)(b->buy_volume[t] / b->volume[t]) : NAN;
        x[8] = hl > 0 ? (float)((c[t] - b->open[t]) / hl) : NAN;
        x[9] = (float)log(c[t] / c[t - 60]);
        if (r % 11 == 3)
            x[(r / 11) % T_ROW_K] = NAN; /* simulated gap, rotating over columns */
        if (y)
            y[r] = c[t + 1] > c[t] ? 1.0f : 0.0f;
        if (ts)
            ts[r] = b->ts[t];
    }
    return n;
}

/* Loads the file and builds up to max_rows rows into new arrays (caller frees
 *X, *y, *ts; ts may be NULL). Returns the rows, 0 on failure. */
static inline size_t t_rows_load(const char *path, size_t max_rows, float **X, float **y,
                                 uint64_t **ts)
{
    ml4t_bars_t b;
    ml4t_bars_init(&b);
    if (ml4t_csv_load(path, &b, NULL, NULL) != ML4T_OK) {
        ml4t_bars_destroy(&b);
        return 0;
    }
    size_t n = t_rows_count(&b) < max_rows ? t_rows_count(&b) : max_rows;
    *X = malloc(n * T_ROW_K * sizeof **X);
    *y = malloc(n * sizeof **y);
    if (ts)
        *ts = malloc(n * sizeof **ts);
    if (!*X || !*y || (ts && !*ts))
        n = 0;
    else
        n = t_rows_build(&b, *X, *y, ts ? *ts : NULL, n);
    ml4t_bars_destroy(&b);
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
