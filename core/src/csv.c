/*  ml4t_csv: Binance kline and plain OHLCV CSV into ml4t_bars_t. */
#include "ml4t/csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define S_CHUNK     (256 * 1024) /* decompressed bytes per gzread; > ML4T_CSV_LINE_MAX */
#define S_MAX_COLS  16
#define S_BINANCE_N 12
#define S_BUFFER    "<buffer>"

static const char *s_binance_header[S_BINANCE_N] = {"open_time",
                                                    "open",
                                                    "high",
                                                    "low",
                                                    "close",
                                                    "volume",
                                                    "close_time",
                                                    "quote_volume",
                                                    "count",
                                                    "taker_buy_volume",
                                                    "taker_buy_quote_volume",
                                                    "ignore"};

typedef struct {
    ml4t_bars_t *out;
    ml4t_csv_stats_t *st;
    const char *name;      /* path or "<buffer>", for messages */
    size_t file_index;     /* in the caller's list, for stats->reject_file */
    size_t file_start_n;   /* out->n when this file began: bars before it came earlier */
    size_t line_no;        /* 1-based number of the line being handled */
    size_t accepted;       /* rows of this file accepted */
    bool seen_first;       /* the first non-blank line decides header or not */
    int ncols;             /* columns a row must have; 0 = any of 6, 7, 12 */
    bool stop_after_first; /* peek: stop at the first accepted row */
    ml4t_error_t *err;
    char line[ML4T_CSV_LINE_MAX + 1];
} s_parser_t;

/* --- numbers ------------------------------------------------------------ */

static const double s_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Decimal [+-]digits[.digits][e[+-]digits], s NUL-terminated at s[len]. Mantissas
   below 2^53 with |exponent| <= 22 are converted exactly (one correctly rounded
   multiply or divide of two exact doubles, Clinger's fast path), which is what
   strtod returns; anything else goes to strtod. */
static bool s_parse_double(const char *s, size_t len, double *out)
{
    const char *q = s, *end = s + len;
    bool neg = false, any = false;
    uint64_t m = 0;
    int sig = 0, exp10 = 0;
    if (q < end && (*q == '+' || *q == '-'))
        neg = *q++ == '-';
    for (; q < end && isdigit((unsigned char)*q); q++, any = true) {
        if (m || *q != '0') {
            m = sig < 19 ? m * 10 + (uint64_t)(*q - '0') : m;
            exp10 += sig >= 19;
            sig++;
        }
    }
    if (q < end && *q == '.') {
        for (q++; q < end && isdigit((unsigned char)*q); q++, any = true) {
            if (m || *q != '0') {
                if (sig < 19) {
                    m = m * 10 + (uint64_t)(*q - '0');
                    exp10--;
                }
                sig++;
            } else {
                exp10--;
            }
        }
    }
    if (!any)
        return false;
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        bool eneg = false;
        int e = 0;
        if (q < end && (*q == '+' || *q == '-'))
            eneg = *q++ == '-';
        if (q == end || !isdigit((unsigned char)*q))
            return false;
        for (; q < end && isdigit((unsigned char)*q); q++)
            e = e < 100000 ? e * 10 + (*q - '0') : e; /* saturate: strtod decides */
        exp10 += eneg ? -e : e;
    }
    if (q != end)
        return false;
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return true;
    }
    if (sig <= 19 && m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)m;
        d = exp10 < 0 ? d / s_pow10[-exp10] : d * s_pow10[exp10];
        *out = neg ? -d : d;
        return true;
    }
    char *e;
    *out = strtod(s, &e);
    return e == end;
}

static bool s_parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

ml4t_err_t ml4t_csv_ts_to_ns(uint64_t v, uint64_t *ns, int *unit)
{
    static const uint64_t limit[3] = {UINT64_C(100000000000), UINT64_C(100000000000000),
                                      UINT64_C(100000000000000000)};
    static const uint64_t scale[4] = {1000000000u, 1000000u, 1000u, 1u};
    int u = 3;
    for (int i = 0; i < 3; i++) {
        if (v < limit[i]) {
            u = i;
            break;
        }
    }
    if (v > UINT64_MAX / scale[u])
        return ML4T_ERANGE;
    *ns = v * scale[u];
    if (unit)
        *unit = u;
    return ML4T_OK;
}

/* --- rows and headers ----------------------------------------------------- */

static void s_reject(s_parser_t *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void s_reject(s_parser_t *p, const char *fmt, ...)
{
    ml4t_csv_stats_t *st = p->st;
    st->rows_rejected++;
    if (st->n_rejects_kept < ML4T_CSV_REJECTS_KEPT) {
        st->reject_line[st->n_rejects_kept] = p->line_no;
        st->reject_file[st->n_rejects_kept] = p->file_index;
        st->n_rejects_kept++;
    }
    if (st->first_reason[0])
        return;
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(st->first_reason, sizeof st->first_reason, "%.72s:%zu: %s", p->name, p->line_no, why);
}

/* Split s in place on commas, trimming blanks; returns the column count, or
   S_MAX_COLS + 1 when there are more. */
static int s_split(char *s, char **col, size_t *len)
{
    int n = 0;
    for (;;) {
        if (n == S_MAX_COLS)
            return S_MAX_COLS + 1;
        while (*s == ' ' || *s == '\t')
            s++;
        char *c = strchr(s, ',');
        char *e = c ? c : s + strlen(s);
        char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        *t = '\0';
        col[n] = s;
        len[n] = (size_t)(t - s);
        n++;
        if (!c)
            return n;
        s = c + 1;
    }
}

static bool s_is_ts_name(const char *s)
{
    return !strcasecmp(s, "ts") || !strcasecmp(s, "timestamp") || !strcasecmp(s, "time") ||
           !strcasecmp(s, "open_time");
}

/* 0 = unknown header; else the column count rows must have. */
static int s_header_columns(char *line)
{
    char *col[S_MAX_COLS];
    size_t len[S_MAX_COLS];
    int n = s_split(line, col, len);
    if (n == S_BINANCE_N) {
        for (int i = 0; i < n; i++)
            if (strcasecmp(col[i], s_binance_header[i]))
                return 0;
        return S_BINANCE_N;
    }
    static const char *plain[6] = {"", "open", "high", "low", "close", "volume"};
    if (n != 6 && n != 7)
        return 0;
    if (!s_is_ts_name(col[0]))
        return 0;
    for (int i = 1; i < 6; i++)
        if (strcasecmp(col[i], plain[i]))
            return 0;
    if (n == 7 && strcasecmp(col[6], "buy_volume") && strcasecmp(col[6], "taker_buy_volume"))
        return 0;
    return n;
}

/* Rows obey ml4t_bars_validate's rules by running it on a one-row view. */
static bool s_row_valid(s_parser_t *p, uint64_t ts, double *v)
{
    ml4t_bars_t one = {&ts, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], 1, 1};
    ml4t_error_t e;
    if (ml4t_bars_validate(&one, &e) != ML4T_OK) {
        const char *why = strncmp(e.msg, "bar 0: ", 7) ? e.msg : e.msg + 7;
        s_reject(p, "%s", why);
        return false;
    }
    const ml4t_bars_t *out = p->out;
    if (out->n && ts <= out->ts[out->n - 1]) {
        bool overlap = out->n <= p->file_start_n;
        p->st->rows_overlap += overlap;
        s_reject(p, "ts %llu ns is not after the previous bar's %llu%s", (unsigned long long)ts,
                 (unsigned long long)out->ts[out->n - 1],
                 overlap ? " (overlaps an earlier file)" : "");
        return false;
    }
    return true;
}

static ml4t_err_t s_row(s_parser_t *p, char *s)
{
    char *col[S_MAX_COLS];
    size_t len[S_MAX_COLS];
    int n = s_split(s, col, len);
    p->st->rows_read++;
    bool ok_cols = p->ncols ? n == p->ncols : (n == 6 || n == 7 || n == S_BINANCE_N);
    if (!ok_cols) {
        if (p->ncols)
            s_reject(p, "%d columns, expected %d", n > S_MAX_COLS ? S_MAX_COLS : n, p->ncols);
        else
            s_reject(p, "%s%d columns, expected 6, 7 or 12", n > S_MAX_COLS ? "over " : "",
                     n > S_MAX_COLS ? S_MAX_COLS : n);
        return ML4T_OK;
    }
    static const char *names[6] = {"open", "high", "low", "close", "volume", "buy_volume"};
    uint64_t raw, ts;
    int unit;
    if (!s_parse_u64(col[0], len[0], &raw)) {
        s_reject(p, "ts \"%.40s\" is not an unsigned integer", col[0]);
        return ML4T_OK;
    }
    if (ml4t_csv_ts_to_ns(raw, &ts, &unit) != ML4T_OK) {
        s_reject(p, "ts %llu is out of range in ns", (unsigned long long)raw);
        return ML4T_OK;
    }
    double v[6];
    int buy_col = n == S_BINANCE_N ? 9 : n == 7 ? 6 : -1;
    for (int k = 0; k < 6; k++) {
        int c = k < 5 ? k + 1 : buy_col;
        if (k == 5 && (c < 0 || len[c] == 0 || !strcasecmp(col[c], "nan"))) {
            v[k] = NAN; /* unknown buy volume */
        } else if (!s_parse_double(col[c], len[c], &v[k])) {
            s_reject(p, "%s \"%.40s\" is not a number", names[k], col[c]);
            return ML4T_OK;
        }
    }
    if (!s_row_valid(p, ts, v))
        return ML4T_OK;
    if (ml4t_bars_push(p->out, ts, v[0], v[1], v[2], v[3], v[4], v[5]) != ML4T_OK)
        return ml4t_error_set(p->err, ML4T_ENOMEM, "bars", "%s:%zu: out of memory after %zu bars",
                              p->name, p->line_no, p->out->n);
    p->st->ts_units[unit]++;
    p->st->rows_accepted++;
    p->accepted++;
    return ML4T_OK;
}

/* One physical line (without its '\n'). Returns non-OK only for a fatal error. */
static ml4t_err_t s_line(s_parser_t *p, const char *s, size_t len)
{
    p->line_no++;
    p->st->lines++;
    if (len > ML4T_CSV_LINE_MAX) {
        p->st->rows_read++;
        p->st->rows_too_long++;
        s_reject(p, "line is %zu bytes, longer than the %d allowed", len, ML4T_CSV_LINE_MAX);
        return ML4T_OK;
    }
    char *l = p->line;
    memcpy(l, s, len);
    l[len] = '\0';
    while (len && isspace((unsigned char)l[len - 1]))
        l[--len] = '\0';
    if (!p->seen_first && len >= 3 && !memcmp(l, "\xEF\xBB\xBF", 3))
        l += 3; /* UTF-8 byte order mark */
    while (*l == ' ' || *l == '\t')
        l++;
    if (*l == '\0')
        return ML4T_OK; /* blank */
    if (!p->seen_first) {
        p->seen_first = true;
        if (!isdigit((unsigned char)*l)) {
            char shown[64];
            snprintf(shown, sizeof shown, "%.63s", l);
            p->ncols = s_header_columns(l);
            if (!p->ncols)
                return ml4t_error_set(p->err, ML4T_EFORMAT, "header",
                                      "%s:%zu: unknown header \"%s\" (expected the Binance "
                                      "kline header or ts,open,high,low,close,volume[,buy_volume])",
                                      p->name, p->line_no, shown);
            return ML4T_OK;
        }
    }
    return s_row(p, l);
}

/* --- sources ----------------------------------------------------------------- */

static void s_parser_init(s_parser_t *p, ml4t_bars_t *out, ml4t_csv_stats_t *st, const char *name,
                          size_t file_index, ml4t_error_t *err)
{
    memset(p, 0, offsetof(s_parser_t, line));
    p->out = out;
    p->st = st;
    p->name = name;
    p->file_index = file_index;
    p->file_start_n = out->n;
    p->err = err;
    p->line[0] = '\0';
}

static bool s_done(const s_parser_t *p)
{
    return p->stop_after_first && p->accepted > 0;
}

static ml4t_err_t s_feed_buffer(s_parser_t *p, const char *buf, size_t len)
{
    size_t pos = 0;
    while (pos < len && !s_done(p)) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        ml4t_err_t rc = s_line(p, buf + pos, end - pos);
        if (rc)
            return rc;
        pos = end + 1;
    }
    return ML4T_OK;
}

static ml4t_err_t s_gz_error(s_parser_t *p, gzFile gz, const char *what)
{
    int zerr = Z_OK;
    const char *zmsg = gzerror(gz, &zerr);
    return ml4t_error_set(p->err, ML4T_EIO, "path", "%s:%zu: %s (%s)", p->name, p->line_no + 1,
                          what, zerr != Z_OK && zmsg ? zmsg : "read error");
}

/* Reads whole lines out of S_CHUNK blocks; a partial line is carried to the
   next block, and one that outgrows ML4T_CSV_LINE_MAX is rejected at once and
   its remainder skipped, so no line length can overflow anything. */
static ml4t_err_t s_feed_gz(s_parser_t *p, gzFile gz, char *buf)
{
    size_t have = 0;
    bool skipping = false;
    for (;;) {
        int r = gzread(gz, buf + have, (unsigned)(S_CHUNK - have));
        if (r < 0)
            return s_gz_error(p, gz, "cannot read");
        have += (size_t)r;
        size_t pos = 0;
        for (const char *nl; !s_done(p) && (nl = memchr(buf + pos, '\n', have - pos));) {
            size_t end = (size_t)(nl - buf);
            ml4t_err_t rc = skipping ? ML4T_OK : s_line(p, buf + pos, end - pos);
            if (rc)
                return rc;
            skipping = false;
            pos = end + 1;
        }
        if (s_done(p))
            return ML4T_OK;
        memmove(buf, buf + pos, have - pos);
        have -= pos;
        if (r == 0)
            break;
        if (have > ML4T_CSV_LINE_MAX) {
            ml4t_err_t rc = skipping ? ML4T_OK : s_line(p, buf, have);
            if (rc)
                return rc;
            skipping = true;
            have = 0;
        }
    }
    int zerr = Z_OK;
    gzerror(gz, &zerr);
    if (zerr != Z_OK)
        return s_gz_error(p, gz, "corrupt or truncated gzip data");
    if (have && !skipping)
        return s_line(p, buf, have);
    return ML4T_OK;
}

static ml4t_err_t s_no_rows(const s_parser_t *p)
{
    const ml4t_csv_stats_t *st = p->st;
    return ml4t_error_set(p->err, ML4T_ENODATA, "rows",
                          "%s: no valid row (%zu lines, first rejection: %s)", p->name, p->line_no,
                          st->first_reason[0] ? st->first_reason : "none");
}

/* Parse the file at path into out. peek stops at the first accepted row;
   allow_empty lets a file whose rows all overlap earlier files pass. */
static ml4t_err_t s_load_file(const char *path, size_t index, ml4t_bars_t *out,
                              ml4t_csv_stats_t *st, bool peek, bool allow_empty, ml4t_error_t *err)
{
    s_parser_t p;
    s_parser_init(&p, out, st, path, index, err);
    p.stop_after_first = peek;
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        int e = errno;
        return ml4t_error_set(err, e == ENOENT ? ML4T_ENOTFOUND : ML4T_EIO, "path",
                              "%s: cannot open: %s", path, e ? strerror(e) : "out of memory");
    }
    ml4t_err_t rc = ML4T_ENOMEM;
    char *buf = malloc(S_CHUNK);
    if (!buf) {
        ml4t_error_set(err, rc, "path", "%s: out of memory for the read buffer", path);
        goto out_close;
    }
    gzbuffer(gz, 128 * 1024);
    st->files++;
    rc = s_feed_gz(&p, gz, buf);
    if (rc == ML4T_OK && p.accepted == 0 && !allow_empty)
        rc = s_no_rows(&p);
    free(buf);
out_close:
    gzclose(gz);
    return rc;
}

ml4t_err_t ml4t_csv_load(const char *path, ml4t_bars_t *out, ml4t_csv_stats_t *stats,
                         ml4t_error_t *err)
{
    ml4t_csv_stats_t local;
    ml4t_csv_stats_t *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    if (!path || !out)
        return ml4t_error_set(err, ML4T_EINVAL, path ? "out" : "path", "%s is NULL",
                              path ? "out" : "path");
    size_t n0 = out->n;
    ml4t_err_t rc = s_load_file(path, 0, out, st, false, false, err);
    if (rc)
        out->n = n0;
    return rc;
}

ml4t_err_t ml4t_csv_parse_buffer(const char *buf, size_t len, ml4t_bars_t *out,
                                 ml4t_csv_stats_t *stats, ml4t_error_t *err)
{
    ml4t_csv_stats_t local;
    ml4t_csv_stats_t *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    if ((!buf && len) || !out)
        return ml4t_error_set(err, ML4T_EINVAL, out ? "buf" : "out", "%s is NULL",
                              out ? "buf" : "out");
    size_t n0 = out->n;
    s_parser_t p;
    s_parser_init(&p, out, st, S_BUFFER, 0, err);
    st->files = 1;
    ml4t_err_t rc = len ? s_feed_buffer(&p, buf, len) : ML4T_OK;
    if (rc == ML4T_OK && p.accepted == 0)
        rc = s_no_rows(&p);
    if (rc)
        out->n = n0;
    return rc;
}

typedef struct {
    uint64_t first_ts;
    size_t index;
} s_file_order_t;

static int s_cmp_order(const void *a, const void *b)
{
    const s_file_order_t *x = a, *y = b;
    if (x->first_ts != y->first_ts)
        return x->first_ts < y->first_ts ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* First pass: every file must open, have a known header and one valid row;
   its first valid timestamp orders it. */
static ml4t_err_t s_order_files(const char *const *paths, size_t n, s_file_order_t *order,
                                ml4t_error_t *err)
{
    ml4t_bars_t scratch;
    ml4t_bars_init(&scratch);
    ml4t_csv_stats_t st;
    ml4t_err_t rc = ML4T_OK;
    for (size_t i = 0; i < n && rc == ML4T_OK; i++) {
        memset(&st, 0, sizeof st);
        ml4t_bars_clear(&scratch);
        rc = paths[i] ? s_load_file(paths[i], i, &scratch, &st, true, false, err)
                      : ml4t_error_set(err, ML4T_EINVAL, "paths", "paths[%zu] is NULL", i);
        if (rc == ML4T_OK)
            order[i] = (s_file_order_t){scratch.ts[0], i};
    }
    ml4t_bars_destroy(&scratch);
    if (rc == ML4T_OK)
        qsort(order, n, sizeof *order, s_cmp_order);
    return rc;
}

ml4t_err_t ml4t_csv_load_many(const char *const *paths, size_t n, ml4t_bars_t *out,
                              ml4t_csv_stats_t *stats, ml4t_error_t *err)
{
    ml4t_csv_stats_t local;
    ml4t_csv_stats_t *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    if (!paths || n == 0 || !out)
        return ml4t_error_set(err, ML4T_EINVAL, out ? "paths" : "out", "%s",
                              out ? "no file given" : "out is NULL");
    s_file_order_t *order = malloc(n * sizeof *order);
    if (!order)
        return ml4t_error_set(err, ML4T_ENOMEM, "paths", "out of memory ordering %zu files", n);
    size_t n0 = out->n;
    ml4t_err_t rc = s_order_files(paths, n, order, err);
    for (size_t k = 0; k < n && rc == ML4T_OK; k++) {
        size_t i = order[k].index;
        rc = s_load_file(paths[i], i, out, st, false, true, err);
    }
    if (rc)
        out->n = n0;
    free(order);
    return rc;
}
