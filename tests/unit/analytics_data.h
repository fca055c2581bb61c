/*  Loads the bundled month of Binance 1m klines for the analytics tests.

    Private to the analytics tests (static functions): the columns needed are
    open_time, open, high, low, close, volume and taker_buy_volume. */
#ifndef ML4T_ANALYTICS_DATA_H_INCLUDED
#define ML4T_ANALYTICS_DATA_H_INCLUDED

#include <stdlib.h>
#include <zlib.h>

#include "ml4t/event.h"

/* Appends every bar of the gzip CSV at path; returns the bars read, 0 on failure. */
static size_t t_load_klines(const char *path, ml4t_bars_t *bars)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return 0;
    char line[512];
    size_t n = 0;
    while (gzgets(gz, line, sizeof line)) {
        if (line[0] < '0' || line[0] > '9')
            continue; /* header */
        double col[12];
        char *p = line;
        int k = 0;
        for (; k < 12 && *p; k++) {
            char *end;
            col[k] = strtod(p, &end);
            if (end == p)
                break;
            p = *end == ',' ? end + 1 : end;
        }
        if (k < 10)
            continue;
        uint64_t ts = (uint64_t)col[0] * 1000000ull;
        if (ml4t_bars_push(bars, ts, col[1], col[2], col[3], col[4], col[5], col[9]) != ML4T_OK)
            break;
        n++;
    }
    gzclose(gz);
    return n;
}

#endif
