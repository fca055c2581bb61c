/*  Loads the bundled month of Binance 1m klines for the analytics tests,
    through the project's own reader (ml4t_csv). */
#ifndef ML4T_ANALYTICS_DATA_H_INCLUDED
#define ML4T_ANALYTICS_DATA_H_INCLUDED

#include <stdio.h>

#include "ml4t/csv.h"
#include "ml4t/event.h"

/* Appends every bar of the gzip CSV at path; returns the bars read, 0 on failure. */
static size_t t_load_klines(const char *path, ml4t_bars_t *bars)
{
    size_t before = bars->n;
    ml4t_error_t err;
    if (ml4t_csv_load(path, bars, NULL, &err) != ML4T_OK) {
        fprintf(stderr, "  %s\n", err.msg);
        return 0;
    }
    return bars->n - before;
}

#endif
