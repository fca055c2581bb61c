/*  ml4t_csv tests: formats, timestamp units, row rejection, files and ordering. */
#include "ml4t/csv.h"

#include <dirent.h>
#include <stdint.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"

#define MIN_NS UINT64_C(60000000000)

static char s_dir[64];

static void s_rm_tmpdir(void)
{
    DIR *d = opendir(s_dir);
    char path[512];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", s_dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    rmdir(s_dir);
}

/* A private scratch directory, removed with its contents at exit. */
static const char *s_tmpdir(void)
{
    if (!s_dir[0]) {
        snprintf(s_dir, sizeof s_dir, "/tmp/ml4t-test-csv-XXXXXX");
        if (!mkdtemp(s_dir))
            s_dir[0] = '\0';
        else
            atexit(s_rm_tmpdir);
    }
    return s_dir;
}

/* Write text to <tmpdir>/name, gzip-compressed when gz; returns the path (static). */
static const char *s_write(const char *name, const char *text, size_t len, int gz)
{
    static char path[4][256];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 256, "%s/%s", s_tmpdir(), name);
    if (gz) {
        gzFile f = gzopen(p, "wb");
        if (!f || gzwrite(f, text, (unsigned)len) != (int)len)
            return NULL;
        gzclose(f);
    } else {
        FILE *f = fopen(p, "wb");
        if (!f || fwrite(text, 1, len, f) != len)
            return NULL;
        fclose(f);
    }
    return p;
}

static ml4t_err_t s_parse(const char *text, ml4t_bars_t *out, ml4t_csv_stats_t *st,
                          ml4t_error_t *err)
{
    return ml4t_csv_parse_buffer(text, strlen(text), out, st, err);
}

static void t_bundled_month(void)
{
    ml4t_bars_t b;
    ml4t_bars_init(&b);
    ml4t_csv_stats_t st;
    ml4t_error_t err;
    REQUIRE(ml4t_csv_load(T_DATA_FILE, &b, &st, &err) == ML4T_OK);
    /* 30 days of minutes, no gaps in this month (README of the data set) */
    CHECK_EQ_INT(b.n, 43200);
    CHECK_EQ_INT(st.rows_read, 43200);
    CHECK_EQ_INT(st.rows_rejected, 0);
    CHECK_EQ_INT(st.lines, 43201);
    CHECK_EQ_INT(st.ts_units[1], 43200);
    /* first and last rows as printed by zcat | head -2 / tail -1 */
    CHECK(b.ts[0] == UINT64_C(1698796800000) * 1000000);
    CHECK_NEAR(b.open[0], 3.831, 0);
    CHECK_NEAR(b.high[0], 3.832, 0);
    CHECK_NEAR(b.low[0], 3.826, 0);
    CHECK_NEAR(b.close[0], 3.828, 0);
    CHECK_NEAR(b.volume[0], 47252.6, 0);
    CHECK_NEAR(b.buy_volume[0], 17067.6, 0);
    CHECK(b.ts[b.n - 1] == UINT64_C(1701388740000) * 1000000);
    CHECK_NEAR(b.buy_volume[b.n - 1], 8222.1, 0);
    CHECK_EQ_INT(ml4t_bars_validate(&b, &err), ML4T_OK);
    ml4t_bars_destroy(&b);
}

static void t_plain_formats(void)
{
    ml4t_bars_t b;
    ml4t_bars_init(&b);
    ml4t_csv_stats_t st;
    ml4t_error_t err;
    CHECK_EQ_INT(s_parse("ts,open,high,low,close,volume\n"
                         "1700000000,1,2,0.5,1.5,10\n"
                         "1700000060,1.5,2,1,1,20\n",
                         &b, &st, &err),
                 ML4T_OK);
    CHECK_EQ_INT(b.n, 2);
    CHECK(b.ts[0] == UINT64_C(1700000000) * 1000000000);
    CHECK(isnan(b.buy_volume[0]));
    CHECK_EQ_INT(st.ts_units[0], 2);
    /* 7 columns, no header; an empty or "nan" buy_volume is unknown */
    ml4t_bars_clear(&b);
    CHECK_EQ_INT(s_parse("1700000000000,1,2,0.5,1.5,10,4\n"
                         "1700000060000,1,2,0.5,1.5,10,\n"
                         "1700000120000,1,2,0.5,1.5,10,NaN\n",
                         &b, &st, &err),
                 ML4T_OK);
    CHECK_EQ_INT(b.n, 3);
    CHECK_NEAR(b.buy_volume[0], 4, 0);
    CHECK(isnan(b.buy_volume[1]) && isnan(b.buy_volume[2]));
    /* header names are case-insensitive, timestamp/buy_volume spelled variously */
    ml4t_bars_clear(&b);
    CHECK_EQ_INT(s_parse("Timestamp,Open,High,Low,Close,Volume,Taker_Buy_Volume\n"
                         "1700000000,1,2,0.5,1.5,10,3\n",
                         &b, &st, &err),
                 ML4T_OK);
    CHECK_NEAR(b.buy_volume[0], 3, 0);
    /* a header fixes the column count: a 7-column row under a 6-column header is bad */
    ml4t_bars_clear(&b);
    CHECK_EQ_INT(s_parse("ts,open,high,low,close,volume\n"
                         "1700000000,1,2,0.5,1.5,10,3\n"
                         "1700000060,1,2,0.5,1.5,10\n",
                         &b, &st, &err),
                 ML4T_OK);
    CHECK_EQ_INT(b.n, 1);
    CHECK_EQ_INT(st.rows_rejected, 1);
    CHECK(strstr(st.first_reason, "7 columns, expected 6") != NULL);
    ml4t_bars_destroy(&b);
}

static void t_binance_without_header(void)
{
    ml4t_bars_t b;
    ml4t_bars_init(&b);
    ml4t_csv_stats_t st;
    ml4t_error_t err;
    CHECK_EQ_INT(s_parse("1680307200000,5.685,5.695,5.684,5.692,28753.6,1680307259999,"
                         "163610.5208,335,22787.7,129658.0900,0\r\n"
                         "1680307260000,5.692,5.695,5.686,5.686,20288.2,1680307319999,"
                         "115479.0445,401,7356.1,41880.8677,0\r\n",
                         &b, &st, &err),
                 ML4T_OK);
    CHECK_EQ_INT(b.n, 2);
    CHECK_NEAR(b.volume[1], 20288.2, 0);
    CHECK_NEAR(b.buy_volume[1], 7356.1, 0);
    CHECK(b.ts[1] - b.ts[0] == MIN_NS);
    ml4t_bars_destroy(&b);
}

static void t_ts_units_per_value(void)
{
    ml4t_bars_t b;
    ml4t_bars_init(&b);
    ml4t_csv_stats_t st;
    ml4t_error_t err;
    /* the same minute grid written in s, ms, us and ns, switching mid-file as
       Binance did when it moved some files from ms to us */
    CHECK_EQ_INT(s_parse("1700000000,1,1,1,1,1\n"
                         "1700000060000,1,1,1,1,1\n"
                         "1700000120000000,1,1,1,1,1\n"
                         "1700000180000000000,1,1,1,1,1\n"
                         "1700000240000000,1,1,1,1,1\n",
                         &b, &st, &err),
                 ML4T_OK);
    REQUIRE(b.n == 5);
    for (size_t i = 0; i < 5; i++)
        CHECK(b.ts[i] == UINT64_C(1700000000) * 1000000000 + i * MIN_NS);
    CHECK_EQ_INT(st.ts_units[0], 1);
    CHECK_EQ_INT(st.ts_units[1], 1);
    CHECK_EQ_INT(st.ts_units[2], 2);
    CHECK_EQ_INT(st.ts_units[3], 1);
    /* range boundaries: below 1e11 is seconds, which overflow u64 ns past 2554 */
    uint64_t ns;
    int unit;
    CHECK_EQ_INT(ml4t_csv_ts_to_ns(UINT64_C(18446744073), &ns, &unit), ML4T_OK);
    CHECK(ns == UINT64_C(18446744073000000000) && unit == 0);
    CHECK_EQ_INT(ml4t_csv_ts_to_ns(UINT64_C(18446744074), &ns, &unit), ML4T_ERANGE);
    CHECK_EQ_INT(ml4t_csv_ts_to_ns(UINT64_C(100000000000), &ns, &unit), ML4T_OK);
    CHECK(unit == 1 && ns == UINT64_C(100000000000000000));
    CHECK_EQ_INT(ml4t_csv_ts_to_ns(UINT64_C(18446744073709551), &ns, &unit), ML4T_OK);
    CHECK(unit == 2 && ns == UINT64_C(18446744073709551000));
    CHECK_EQ_INT(ml4t_csv_ts_to_ns(UINT64_C(18446744073709552), &ns, &unit), ML4T_ERANGE);
    CHECK_EQ_INT(ml4t_csv_ts_to_ns(UINT64_C(100000000000000000), &ns, &unit), ML4T_OK);
    CHECK(unit == 3 && ns == UINT64_C(100000000000000000));
    CHECK_EQ_INT(ml4t_csv_ts_to_ns(UINT64_MAX, &ns, &unit), ML4T_OK);
    CHECK(unit == 3 && ns == UINT64_MAX);
    ml4t_bars_destroy(&b);
}

static void t_bad_rows_rejected_and_counted(void)
{
    ml4t_bars_t b;
    ml4t_bars_init(&b);
    ml4t_csv_stats_t st;
    ml4t_error_t err;
    const char *text = "ts,open,high,low,close,volume,buy_volume\n" /* 1 */
                       "1700000000,1,2,0.5,1.5,10,4\n"              /* 2 ok */
                       "1700000060,1,0.9,0.5,1,10,4\n"              /* 3 high < open */
                       "1700000120,nan,2,0.5,1.5,10,4\n"            /* 4 NaN open */
                       "1700000180,1,2,0.5,1.5,-1,\n"               /* 5 negative volume */
                       "1700000240,1,2,0.5,1.5,10,11\n"             /* 6 buy > volume */
                       "\n"                                         /* 7 blank */
                       "1700000000,1,2,0.5,1.5,10,4\n"              /* 8 duplicate ts */
                       "1700000300,1,2,0.5,1.5,10\n"                /* 9 6 columns */
                       "1700000360,abc,2,0.5,1.5,10,4\n"            /* 10 not a number */
                       "-1700000420,1,2,0.5,1.5,10,4\n"             /* 11 negative ts */
                       "1700000480,0,2,0,1.5,10,4\n"                /* 12 zero price */
                       "1700000540,1,2,0.5,1.5,10,4\n";             /* 13 ok */
    CHECK_EQ_INT(s_parse(text, &b, &st, &err), ML4T_OK);
    CHECK_EQ_INT(b.n, 2);
    CHECK_EQ_INT(st.lines, 13);
    CHECK_EQ_INT(st.rows_read, 11);
    CHECK_EQ_INT(st.rows_accepted, 2);
    CHECK_EQ_INT(st.rows_rejected, 9);
    CHECK_EQ_INT(st.rows_overlap, 0);
    static const size_t lines[8] = {3, 4, 5, 6, 8, 9, 10, 11};
    CHECK_EQ_INT(st.n_rejects_kept, 8);
    for (size_t i = 0; i < 8; i++)
        CHECK_EQ_INT(st.reject_line[i], lines[i]);
    CHECK(strncmp(st.first_reason, "<buffer>:3: ", 12) == 0);
    CHECK(strstr(st.first_reason, "open") != NULL);
    CHECK_EQ_INT(ml4t_bars_validate(&b, &err), ML4T_OK);
    ml4t_bars_destroy(&b);
}

/* A valid row padded with leading blanks to exactly len bytes. */
static void s_padded_row(char *dst, size_t len, const char *row)
{
    size_t r = strlen(row);
    memset(dst, ' ', len - r);
    memcpy(dst + len - r, row, r);
    dst[len] = '\0';
}

static void t_long_lines_rejected(void)
{
    const size_t big = 300 * 1024; /* longer than one gzread block of the loader */
    char *text = malloc(2 * ML4T_CSV_LINE_MAX + big + 256);
    REQUIRE(text);
    char *p = text;
    s_padded_row(p, ML4T_CSV_LINE_MAX, "1700000000,1,1,1,1,1"); /* line 1: at the limit */
    p += strlen(p);
    *p++ = '\n';
    s_padded_row(p, ML4T_CSV_LINE_MAX + 1, "1700000060,1,1,1,1,1"); /* 2: one over */
    p += strlen(p);
    *p++ = '\n';
    /* 3: a huge line whose tail would be a valid row if it were truncated */
    memset(p, '9', big);
    p += big;
    p += sprintf(p, "\n1700000120,1,1,1,1,1\n"); /* 4: fine */
    size_t len = (size_t)(p - text);
    for (int mode = 0; mode < 3; mode++) {
        ml4t_bars_t b;
        ml4t_bars_init(&b);
        ml4t_csv_stats_t st;
        ml4t_error_t err;
        ml4t_err_t rc;
        if (mode == 0) {
            rc = ml4t_csv_parse_buffer(text, len, &b, &st, &err);
        } else {
            const char *path =
                s_write(mode == 1 ? "long.csv" : "long.csv.gz", text, len, mode == 2);
            REQUIRE(path);
            rc = ml4t_csv_load(path, &b, &st, &err);
            unlink(path);
        }
        CHECK_EQ_INT(rc, ML4T_OK);
        CHECK_EQ_INT(b.n, 2);
        CHECK_EQ_INT(st.lines, 4);
        CHECK_EQ_INT(st.rows_too_long, 2);
        CHECK_EQ_INT(st.n_rejects_kept, 2);
        CHECK_EQ_INT(st.reject_line[0], 2);
        CHECK_EQ_INT(st.reject_line[1], 3);
        if (b.n == 2)
            CHECK(b.ts[1] == UINT64_C(1700000120) * 1000000000);
        ml4t_bars_destroy(&b);
    }
    free(text);
}

static void t_gzip_and_plain_files_agree(void)
{
    const char *text = "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                       "taker_buy_volume,taker_buy_quote_volume,ignore\n"
                       "1698796800000,3.831,3.832,3.826,3.828,47252.6,1698796859999,"
                       "180920.3482,382,17067.6,65348.1790,0\n"
                       "1698796860000,3.828,3.831,3.821,3.821,43207.6,1698796919999,"
                       "165344.4834,301,11683.9,44727.5304,0\n";
    const char *plain = s_write("a.csv", text, strlen(text), 0);
    const char *gz = s_write("a.csv.gz", text, strlen(text), 1);
    REQUIRE(plain && gz);
    ml4t_bars_t a, b;
    ml4t_bars_init(&a);
    ml4t_bars_init(&b);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_csv_load(plain, &a, NULL, &err), ML4T_OK);
    CHECK_EQ_INT(ml4t_csv_load(gz, &b, NULL, &err), ML4T_OK);
    CHECK_EQ_INT(a.n, 2);
    CHECK_EQ_INT(b.n, 2);
    for (size_t i = 0; i < a.n && i < b.n; i++) {
        CHECK(a.ts[i] == b.ts[i]);
        CHECK(a.close[i] == b.close[i] && a.buy_volume[i] == b.buy_volume[i]);
    }
    unlink(plain);
    unlink(gz);
    ml4t_bars_destroy(&a);
    ml4t_bars_destroy(&b);
}

static void t_file_errors_name_the_file(void)
{
    ml4t_bars_t b;
    ml4t_bars_init(&b);
    ml4t_csv_stats_t st;
    ml4t_error_t err;
    char missing[300];
    snprintf(missing, sizeof missing, "%s/no-such-file.csv", s_tmpdir());
    CHECK_EQ_INT(ml4t_csv_load(missing, &b, &st, &err), ML4T_ENOTFOUND);
    CHECK(strstr(err.msg, "no-such-file.csv") != NULL);

    const char *text = "date,o,h,l,c,v\n2023-01-01,1,1,1,1,1\n";
    const char *path = s_write("hdr.csv", text, strlen(text), 0);
    REQUIRE(path);
    CHECK_EQ_INT(ml4t_csv_load(path, &b, &st, &err), ML4T_EFORMAT);
    CHECK_STR(err.field, "header");
    CHECK(strstr(err.msg, "hdr.csv:1:") != NULL);
    unlink(path);

    text = "ts,open,high,low,close,volume\n";
    path = s_write("empty.csv", text, strlen(text), 0);
    CHECK_EQ_INT(ml4t_csv_load(path, &b, &st, &err), ML4T_ENODATA);
    CHECK(strstr(err.msg, "empty.csv") != NULL);
    unlink(path);

    text = "ts,open,high,low,close,volume\n1700000000,2,1,1,1,1\n";
    path = s_write("bad.csv", text, strlen(text), 0);
    CHECK_EQ_INT(ml4t_csv_load(path, &b, &st, &err), ML4T_ENODATA);
    CHECK(strstr(err.msg, "bad.csv:2:") != NULL); /* the first rejection, with its line */
    CHECK_EQ_INT(st.rows_rejected, 1);
    unlink(path);

    /* a truncated gzip stream is an error, not a quietly shorter series */
    const char *gz = s_write("full.csv.gz", "1700000000,1,1,1,1,1\n", 21, 1);
    REQUIRE(gz);
    FILE *f = fopen(gz, "rb");
    char raw[256];
    size_t n = f ? fread(raw, 1, sizeof raw, f) : 0;
    if (f)
        fclose(f);
    path = s_write("cut.csv.gz", raw, n - 6, 0);
    CHECK_EQ_INT(ml4t_csv_load(path, &b, &st, &err), ML4T_EIO);
    CHECK(strstr(err.msg, "cut.csv.gz") != NULL);
    unlink(gz);
    unlink(path);
    CHECK_EQ_INT(ml4t_csv_parse_buffer("", 0, &b, &st, &err), ML4T_ENODATA);
    CHECK_EQ_INT(b.n, 0);
    ml4t_bars_destroy(&b);
}

/* Write bars [from, to) of src as a plain CSV file with ms timestamps. */
static const char *s_write_slice(const char *name, const ml4t_bars_t *src, size_t from, size_t to)
{
    size_t cap = (to - from) * 160 + 64, len = 0;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    len += (size_t)snprintf(text, cap, "ts,open,high,low,close,volume,buy_volume\n");
    for (size_t i = from; i < to; i++)
        len +=
            (size_t)snprintf(text + len, cap - len, "%llu,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n",
                             (unsigned long long)(src->ts[i] / 1000000), src->open[i], src->high[i],
                             src->low[i], src->close[i], src->volume[i], src->buy_volume[i]);
    const char *path = s_write(name, text, len, 1);
    free(text);
    return path;
}

static void t_load_many_orders_and_rejects_overlap(void)
{
    ml4t_bars_t month, b;
    ml4t_bars_init(&month);
    ml4t_bars_init(&b);
    ml4t_error_t err;
    ml4t_csv_stats_t st;
    REQUIRE(ml4t_csv_load(T_DATA_FILE, &month, NULL, &err) == ML4T_OK);
    /* [0,1000) [900,2000) [2000,3000) and a duplicate of the first, shuffled */
    char p[4][256];
    snprintf(p[0], 256, "%s", s_write_slice("m3.csv.gz", &month, 2000, 3000));
    snprintf(p[1], 256, "%s", s_write_slice("m1dup.csv.gz", &month, 0, 1000));
    snprintf(p[2], 256, "%s", s_write_slice("m2.csv.gz", &month, 900, 2000));
    snprintf(p[3], 256, "%s", s_write_slice("m1.csv.gz", &month, 0, 1000));
    const char *paths[4] = {p[0], p[1], p[2], p[3]};
    CHECK_EQ_INT(ml4t_csv_load_many(paths, 4, &b, &st, &err), ML4T_OK);
    CHECK_EQ_INT(st.files, 4);
    CHECK_EQ_INT(b.n, 3000);
    CHECK_EQ_INT(st.rows_read, 4100);
    CHECK_EQ_INT(st.rows_accepted, 3000);
    CHECK_EQ_INT(st.rows_rejected, 1100);
    CHECK_EQ_INT(st.rows_overlap, 1100);
    int same = b.n == 3000;
    for (size_t i = 0; same && i < 3000; i++)
        same = b.ts[i] == month.ts[i] && b.open[i] == month.open[i] &&
               b.close[i] == month.close[i] && b.volume[i] == month.volume[i] &&
               b.buy_volume[i] == month.buy_volume[i];
    CHECK(same); /* %.17g round-trips every double exactly */
    CHECK_EQ_INT(ml4t_bars_validate(&b, &err), ML4T_OK);

    /* one bad file fails the call, names it, and leaves out as it was */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/absent.csv.gz", s_tmpdir());
    const char *bad[2] = {p[0], missing};
    size_t n_before = b.n;
    CHECK_EQ_INT(ml4t_csv_load_many(bad, 2, &b, &st, &err), ML4T_ENOTFOUND);
    CHECK(strstr(err.msg, "absent.csv.gz") != NULL);
    CHECK_EQ_INT(b.n, n_before);
    for (int i = 0; i < 4; i++)
        unlink(p[i]);
    ml4t_bars_destroy(&month);
    ml4t_bars_destroy(&b);
}

static void t_appends_after_existing_bars(void)
{
    ml4t_bars_t b;
    ml4t_bars_init(&b);
    ml4t_csv_stats_t st;
    ml4t_error_t err;
    REQUIRE(s_parse("1700000060,1,1,1,1,1\n", &b, &st, &err) == ML4T_OK);
    CHECK_EQ_INT(s_parse("1700000000,1,1,1,1,1\n1700000060,1,1,1,1,1\n1700000120,1,1,1,1,1\n", &b,
                         &st, &err),
                 ML4T_OK);
    CHECK_EQ_INT(b.n, 2);
    CHECK_EQ_INT(st.rows_overlap, 2);
    CHECK_EQ_INT(ml4t_bars_validate(&b, &err), ML4T_OK);
    ml4t_bars_destroy(&b);
}

static void t_whitespace_bom_crlf(void)
{
    ml4t_bars_t b;
    ml4t_bars_init(&b);
    ml4t_csv_stats_t st;
    ml4t_error_t err;
    CHECK_EQ_INT(s_parse("\xEF\xBB\xBFts, open ,high,low,close,volume\r\n"
                         "\r\n"
                         "  1700000000 , 1.5 ,\t2,1 ,1.25,+10 \r\n"
                         "1700000060,1.5e0,2E0,1.0,1.25,1e1",
                         &b, &st, &err),
                 ML4T_OK);
    CHECK_EQ_INT(b.n, 2);
    CHECK_EQ_INT(st.rows_rejected, 0);
    if (b.n == 2) {
        CHECK_NEAR(b.open[0], 1.5, 0);
        CHECK_NEAR(b.close[0], 1.25, 0);
        CHECK_NEAR(b.volume[0], 10, 0);
        CHECK_NEAR(b.high[1], 2, 0);
        CHECK_NEAR(b.volume[1], 10, 0);
    }
    ml4t_bars_destroy(&b);
}

/* The loader's own decimal conversion must give strtod's bits for every input. */
static void t_numbers_match_strtod(void)
{
    srand(12345);
    char text[400], num[64];
    ml4t_bars_t b;
    ml4t_bars_init(&b);
    ml4t_error_t err;
    int mismatches = 0, tried = 0;
    for (int i = 0; i < 20000; i++) {
        int digits = 1 + rand() % 22, dot = rand() % (digits + 1), exp = rand() % 60 - 30;
        char *q = num;
        for (int d = 0; d < digits; d++) {
            if (d == dot && d > 0)
                *q++ = '.';
            *q++ = (char)('0' + (d == 0 ? 1 + rand() % 9 : rand() % 10));
        }
        if (rand() % 2)
            q += sprintf(q, "e%d", exp);
        *q = '\0';
        double want = strtod(num, NULL);
        if (!(isfinite(want) && want > 0))
            continue;
        snprintf(text, sizeof text, "1700000000,%s,%s,%s,%s,%s\n", num, num, num, num, num);
        ml4t_bars_clear(&b);
        if (ml4t_csv_parse_buffer(text, strlen(text), &b, NULL, &err) != ML4T_OK || b.n != 1) {
            mismatches++;
            continue;
        }
        tried++;
        if (memcmp(&b.open[0], &want, sizeof want) != 0) {
            if (mismatches < 5)
                fprintf(stderr, "  %s: got %.17g want %.17g\n", num, b.open[0], want);
            mismatches++;
        }
    }
    CHECK(tried > 15000);
    CHECK_EQ_INT(mismatches, 0);
    ml4t_bars_destroy(&b);
}

static const t_case_t cases[] = {
    T_CASE(t_bundled_month),
    T_CASE(t_plain_formats),
    T_CASE(t_binance_without_header),
    T_CASE(t_ts_units_per_value),
    T_CASE(t_bad_rows_rejected_and_counted),
    T_CASE(t_long_lines_rejected),
    T_CASE(t_gzip_and_plain_files_agree),
    T_CASE(t_file_errors_name_the_file),
    T_CASE(t_load_many_orders_and_rejects_overlap),
    T_CASE(t_appends_after_existing_bars),
    T_CASE(t_whitespace_bom_crlf),
    T_CASE(t_numbers_match_strtod),
};
T_MAIN(cases)
