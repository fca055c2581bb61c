/*  ml4t_csv: loads bars from CSV files into an ml4t_bars_t.

    Formats (detected from the header line; without a header, from each row's
    column count):
      - Binance kline CSV, 12 columns: open_time,open,high,low,close,volume,
        close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,
        ignore. buy_volume = taker_buy_volume; the other extra columns are ignored.
      - plain CSV: ts,open,high,low,close,volume[,buy_volume] (6 or 7 columns;
        the first header name may be ts, timestamp, time or open_time). An empty
        or "nan" buy_volume means unknown (NaN).
    Files may be gzip-compressed or not (zlib reads both). Timestamps are
    unsigned integers in seconds, milliseconds, microseconds or nanoseconds,
    the unit decided for every value by its magnitude, and stored as ns.

    Every row is checked with the rules of ml4t_bars_validate, including "ts
    strictly after the last bar already in out". A bad row is rejected, never
    truncated or guessed at, and counted in ml4t_csv_stats_t with its line
    number and the first reason; so after a successful load, out always passes
    ml4t_bars_validate. A whole file is refused (an error naming the file, and
    the line when there is one) when it is missing or unreadable, its header
    is unknown, or it holds no valid row. On error, out is left as it was. */
#ifndef ML4T_CSV_H_INCLUDED
#define ML4T_CSV_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "ml4t/error.h"
#include "ml4t/event.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_CSV_LINE_MAX     4096 /* bytes per line, without the newline; longer is rejected */
#define ML4T_CSV_REJECTS_KEPT 8    /* rejected line numbers remembered */

typedef enum {
    ML4T_CSV_FORMAT_NONE = 0, /* no header seen (format decided per row) */
    ML4T_CSV_FORMAT_BINANCE,  /* Binance kline header */
    ML4T_CSV_FORMAT_PLAIN     /* ts,open,high,low,close,volume[,buy_volume] header */
} ml4t_csv_format_t;

/* What one call read. Reset by every load/parse call (totals over all files
   for ml4t_csv_load_many). */
typedef struct ml4t_csv_stats {
    size_t files;         /* files (or buffers) read */
    size_t lines;         /* physical lines, header and blank lines included */
    size_t rows_read;     /* data rows: lines that are neither blank nor a header */
    size_t rows_accepted; /* appended to out */
    size_t rows_rejected; /* rows_read - rows_accepted */
    size_t rows_overlap;  /* of rows_rejected: at or before the last bar of an earlier file
                             (or of the bars already in out) */
    size_t rows_too_long; /* of rows_rejected: longer than ML4T_CSV_LINE_MAX */
    size_t ts_units[4];   /* accepted rows with timestamps in s, ms, us, ns */
    /* The first ML4T_CSV_REJECTS_KEPT rejected rows: 1-based line number and the
       index of the file in the paths given (0 for ml4t_csv_load and buffers). */
    size_t n_rejects_kept;
    size_t reject_line[ML4T_CSV_REJECTS_KEPT];
    size_t reject_file[ML4T_CSV_REJECTS_KEPT];
    /* "path:line: why" of the first rejected row, "" when none; NUL-terminated */
    char first_reason[ML4T_ERROR_MSG_MAX];
} ml4t_csv_stats_t;

/* Load one file and append its valid rows to out (an initialised ml4t_bars_t;
   caller owns it). stats may be NULL. Returns ML4T_OK when at least one row was
   accepted (rejected rows are in stats, not an error); ML4T_ENOTFOUND or
   ML4T_EIO (unreadable, corrupt or truncated gzip), ML4T_EFORMAT (unknown
   header), ML4T_ENODATA (no valid row), ML4T_ENOMEM. err->field is the path,
   err->msg names the path and line. */
ml4t_err_t ml4t_csv_load(const char *path, ml4t_bars_t *out, ml4t_csv_stats_t *stats,
                         ml4t_error_t *err);

/* Load n files as one series in time order, whatever the order of paths: files
   are sorted by their first valid timestamp, then appended; a row at or before
   the last bar of an earlier file (an overlap or duplicate) is rejected and
   counted in stats->rows_overlap. Any file that would fail ml4t_csv_load fails
   the whole call, naming it, with out unchanged. */
ml4t_err_t ml4t_csv_load_many(const char *const *paths, size_t n, ml4t_bars_t *out,
                              ml4t_csv_stats_t *stats, ml4t_error_t *err);

/* Parse in-memory CSV text (len bytes, need not be NUL-terminated; may hold
   NUL bytes, which make their row invalid). Same rules and errors as
   ml4t_csv_load, with "<buffer>" as the file name. */
ml4t_err_t ml4t_csv_parse_buffer(const char *buf, size_t len, ml4t_bars_t *out,
                                 ml4t_csv_stats_t *stats, ml4t_error_t *err);

/* Convert a timestamp of unknown unit to ns by its magnitude: v < 1e11 is
   seconds, < 1e14 milliseconds, < 1e17 microseconds, else nanoseconds (so any
   date from 1973 on reads right in any unit). Sets *unit to 0..3 (s, ms, us,
   ns) when unit is non-NULL. ML4T_ERANGE when the value in ns would exceed
   UINT64_MAX (past the year 2554). */
ml4t_err_t ml4t_csv_ts_to_ns(uint64_t v, uint64_t *ns, int *unit);

#ifdef __cplusplus
}
#endif
#endif
