/*  ml4t_codec: msgpack wire format. A bounded pull decoder reads the bytes
    directly (see docs/codec.md for why not msgpack-c's object tree); msgpack-c's
    packer writes them. */
#include "ml4t/codec.h"
#include "ml4t/policy.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#define S_DEPTH_CAP 64 /* recursion bound of the skipper, whatever the limits say */

struct ml4t_codec {
    ml4t_codec_limits_t limits;
    msgpack_sbuffer sbuf; /* encode output, reused: cleared, never shrunk */
    msgpack_packer pk;
};

static const char *const s_type_names[] = {
    "",           "SignalEvent",    "EnrichedSignalEvent", "OutcomeEvent",
    "ErrorEvent", "RiskStateEvent", "TradingPolicy"};
#define S_NTYPES (sizeof s_type_names / sizeof s_type_names[0])

const char *ml4t_msg_type_name(ml4t_msg_type_t type)
{
    if ((int)type < 0 || (size_t)type >= S_NTYPES)
        return "";
    return s_type_names[type];
}

void ml4t_codec_limits_default(ml4t_codec_limits_t *limits)
{
    limits->max_message_bytes = 4u * 1024u * 1024u;
    limits->max_bars = 10000;
    limits->max_string_bytes = 256;
    limits->max_depth = 16;
}

void ml4t_codec_limits_from_config(ml4t_codec_limits_t *limits, const ml4t_config_t *cfg)
{
    ml4t_codec_limits_default(limits);
    if (cfg->max_message_bytes > 0)
        limits->max_message_bytes = (size_t)cfg->max_message_bytes;
    if (cfg->max_bars > 0)
        limits->max_bars = (size_t)cfg->max_bars;
}

ml4t_codec_t *ml4t_codec_new(const ml4t_codec_limits_t *limits)
{
    ml4t_codec_limits_t lim;
    if (limits)
        lim = *limits;
    else
        ml4t_codec_limits_default(&lim);
    if (!lim.max_message_bytes || !lim.max_bars || !lim.max_string_bytes || !lim.max_depth)
        return NULL;
    if (lim.max_depth > S_DEPTH_CAP)
        lim.max_depth = S_DEPTH_CAP;
    ml4t_codec_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->limits = lim;
    msgpack_sbuffer_init(&self->sbuf);
    msgpack_packer_init(&self->pk, &self->sbuf, msgpack_sbuffer_write);
    return self;
}

void ml4t_codec_destroy(ml4t_codec_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    msgpack_sbuffer_destroy(&(*self_p)->sbuf);
    free(*self_p);
    *self_p = NULL;
}

const ml4t_codec_limits_t *ml4t_codec_limits(const ml4t_codec_t *self)
{
    return &self->limits;
}

ml4t_err_t ml4t_codec_channel(char *buf, size_t size, const char *base, const char *instrument_id)
{
    int n;
    if (instrument_id && instrument_id[0])
        n = snprintf(buf, size, "%s:%s", base, instrument_id);
    else
        n = snprintf(buf, size, "%s", base);
    return (n < 0 || (size_t)n >= size) ? ML4T_ELIMIT : ML4T_OK;
}

/* ======================================================================
   Pull reader: one msgpack value at a time, never past c->end.
   ====================================================================== */

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} s_cur_t;

typedef enum {
    K_NIL,
    K_BOOL,
    K_UINT,
    K_INT,
    K_FLOAT,
    K_STR,
    K_BIN,
    K_ARRAY,
    K_MAP,
    K_EXT
} s_kind_t;

typedef enum {
    S_OK = 0,
    S_TRUNC, /* the input ends inside a value's header */
    S_SHORT, /* str/bin/ext: header read, but the payload runs past the end */
    S_BAD,   /* 0xc1, the one byte msgpack never uses */
    S_DEEP,  /* nesting above max_depth */
    S_TYPE,  /* fast paths: a value of another kind */
} s_status_t;

typedef struct {
    s_kind_t kind;
    uint32_t len;        /* str/bin/ext payload bytes; array/map entries */
    const uint8_t *data; /* str/bin/ext payload; inside the input when status is S_OK */
    uint64_t u;          /* K_UINT (also non-negative signed formats), K_BOOL */
    int64_t i;           /* K_INT: always negative */
    double d;            /* K_FLOAT */
} s_val_t;

static const char *const s_kind_names[] = {
    "nil", "bool", "integer", "negative integer", "float", "string", "bin", "array", "map", "ext"};

static inline size_t s_left(const s_cur_t *c)
{
    return (size_t)(c->end - c->p);
}

/* A big-endian integer of 1, 2, 4 or 8 bytes: one load and a byte swap (the
   bars of a plain-encoded signal are hundreds of these). */
static inline uint64_t s_be(const uint8_t *p, int bytes)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    switch (bytes) {
    case 1:
        return p[0];
    case 2: {
        uint16_t v;
        memcpy(&v, p, sizeof v);
        return __builtin_bswap16(v);
    }
    case 4: {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return __builtin_bswap32(v);
    }
    case 8: {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return __builtin_bswap64(v);
    }
    default:
        break;
    }
#endif
    uint64_t v = 0;
    for (int k = 0; k < bytes; k++)
        v = (v << 8) | p[k];
    return v;
}

static inline double s_bits_to_f64(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* str/bin/ext payload of len bytes at the cursor; S_SHORT leaves the cursor. */
static s_status_t s_payload(s_cur_t *c, s_val_t *v, s_kind_t kind, uint64_t len)
{
    v->kind = kind;
    v->len = (uint32_t)len;
    v->data = c->p;
    if (s_left(c) < len)
        return S_SHORT;
    c->p += len;
    return S_OK;
}

/* Reads an n-byte big-endian length that follows the format byte. */
static s_status_t s_len(s_cur_t *c, int bytes, uint64_t *len)
{
    if (s_left(c) < (size_t)bytes)
        return S_TRUNC;
    *len = s_be(c->p, bytes);
    c->p += bytes;
    return S_OK;
}

static s_status_t s_number(s_cur_t *c, uint8_t b, s_val_t *v)
{
    static const int width[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8}; /* 0xca..0xd3 */
    int w = width[b - 0xca];
    if (s_left(c) < (size_t)w)
        return S_TRUNC;
    uint64_t raw = s_be(c->p, w);
    c->p += w;
    if (b == 0xca) {
        float f;
        uint32_t r32 = (uint32_t)raw;
        memcpy(&f, &r32, sizeof f);
        v->kind = K_FLOAT;
        v->d = f;
    } else if (b == 0xcb) {
        v->kind = K_FLOAT;
        v->d = s_bits_to_f64(raw);
    } else if (b <= 0xcf) {
        v->kind = K_UINT;
        v->u = raw;
    } else {
        int shift = 64 - 8 * w; /* sign-extend through the unsigned type */
        int64_t s = (int64_t)(raw << shift);
        s = s >> shift; /* arithmetic shift on every supported compiler */
        if (s >= 0) {
            v->kind = K_UINT;
            v->u = (uint64_t)s;
        } else {
            v->kind = K_INT;
            v->i = s;
        }
    }
    return S_OK;
}

static s_status_t s_ext(s_cur_t *c, uint8_t b, s_val_t *v)
{
    uint64_t len = 0;
    s_status_t st = S_OK;
    if (b >= 0xd4)
        len = 1u << (b - 0xd4); /* fixext 1, 2, 4, 8, 16 */
    else
        st = s_len(c, 1 << (b - 0xc7), &len); /* ext 8, 16, 32 */
    if (st)
        return st;
    if (s_left(c) < 1)
        return S_TRUNC;
    c->p++; /* the ext type byte: no ext type is part of the format */
    return s_payload(c, v, K_EXT, len);
}

/* The next value's header (and, for str/bin/ext, its bounds-checked payload). */
static s_status_t s_next(s_cur_t *c, s_val_t *v)
{
    if (c->p >= c->end)
        return S_TRUNC;
    uint8_t b = *c->p++;
    uint64_t len = 0;
    s_status_t st;
    if (b <= 0x7f) {
        v->kind = K_UINT;
        v->u = b;
        return S_OK;
    }
    if (b >= 0xe0) {
        v->kind = K_INT;
        v->i = (int8_t)b;
        return S_OK;
    }
    if (b <= 0x9f) {
        v->kind = b <= 0x8f ? K_MAP : K_ARRAY;
        v->len = b & 0x0f;
        return S_OK;
    }
    if (b <= 0xbf)
        return s_payload(c, v, K_STR, b & 0x1f);
    switch (b) {
    case 0xc0:
        v->kind = K_NIL;
        return S_OK;
    case 0xc2:
    case 0xc3:
        v->kind = K_BOOL;
        v->u = b == 0xc3;
        return S_OK;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        st = s_len(c, 1 << (b - 0xc4), &len);
        return st ? st : s_payload(c, v, K_BIN, len);
    case 0xd9:
    case 0xda:
    case 0xdb:
        st = s_len(c, 1 << (b - 0xd9), &len);
        return st ? st : s_payload(c, v, K_STR, len);
    case 0xdc:
    case 0xdd:
    case 0xde:
    case 0xdf:
        st = s_len(c, (b & 1) ? 4 : 2, &len);
        v->kind = b <= 0xdd ? K_ARRAY : K_MAP;
        v->len = (uint32_t)len;
        return st;
    case 0xc1:
        return S_BAD;
    default:
        break;
    }
    if (b >= 0xca && b <= 0xd3)
        return s_number(c, b, v);
    return s_ext(c, b, v); /* 0xc7..0xc9, 0xd4..0xd8 */
}

/* Skips one value; depth is that of the container holding it. Every element
   costs at least a byte, so an announced count is first held against the
   bytes left: a forged header cannot make this loop spin. */
static s_status_t s_skip(s_cur_t *c, size_t depth, size_t max_depth)
{
    s_val_t v;
    s_status_t st = s_next(c, &v);
    if (st == S_SHORT)
        return S_TRUNC;
    if (st)
        return st;
    if (v.kind != K_ARRAY && v.kind != K_MAP)
        return S_OK;
    if (depth + 1 > max_depth)
        return S_DEEP;
    uint64_t n = v.kind == K_MAP ? 2ull * v.len : v.len;
    if (n > s_left(c))
        return S_TRUNC;
    for (uint64_t k = 0; k < n; k++)
        if ((st = s_skip(c, depth + 1, max_depth)) != S_OK)
            return st;
    return S_OK;
}

/* A number as double: floats, and integers where a float is expected. */
static inline bool s_as_f64(const s_val_t *v, double *x)
{
    if (v->kind == K_FLOAT)
        *x = v->d;
    else if (v->kind == K_UINT)
        *x = (double)v->u;
    else if (v->kind == K_INT)
        *x = (double)v->i;
    else
        return false;
    return true;
}

/* Hot-path float read: the common float64 inline, everything else via s_next. */
static inline s_status_t s_get_f64(s_cur_t *c, double *x, s_kind_t *kind)
{
    if (s_left(c) >= 9 && c->p[0] == 0xcb) {
        *x = s_bits_to_f64(s_be(c->p + 1, 8));
        c->p += 9;
        return S_OK;
    }
    s_val_t v;
    s_status_t st = s_next(c, &v);
    if (st == S_TRUNC || st == S_BAD)
        return st;
    *kind = v.kind;
    return s_as_f64(&v, x) ? S_OK : S_TYPE;
}

static inline s_status_t s_get_u64(s_cur_t *c, uint64_t *u, s_kind_t *kind)
{
    if (s_left(c) >= 9 && c->p[0] == 0xcf) { /* uint64: every ns timestamp since 1970 */
        *u = s_be(c->p + 1, 8);
        c->p += 9;
        return S_OK;
    }
    s_val_t v;
    s_status_t st = s_next(c, &v);
    if (st == S_TRUNC || st == S_BAD)
        return st;
    *kind = v.kind;
    if (v.kind != K_UINT)
        return S_TYPE;
    *u = v.u;
    return S_OK;
}

/* ======================================================================
   Decoder state and errors.
   ====================================================================== */

typedef struct {
    s_cur_t c;
    const ml4t_codec_limits_t *lim;
    ml4t_error_t *err;
    const char *expect;    /* type name the caller wants; NULL when peeking */
    ml4t_msg_type_t found; /* type named by the message, once read */
} s_dec_t;

static void s_field_name(char *out, size_t size, const char *prefix, const char *name)
{
    if (prefix && prefix[0] && name && name[0] && size > 0) {
        /* "prefix.name", cut at size - 1 (by hand: GCC's -O3 format checks
           refuse a snprintf that may truncate) */
        size_t k = 0, pl = strlen(prefix), nl = strlen(name);
        for (size_t i = 0; i < pl && k + 1 < size; i++)
            out[k++] = prefix[i];
        if (k + 1 < size)
            out[k++] = '.';
        for (size_t i = 0; i < nl && k + 1 < size; i++)
            out[k++] = name[i];
        out[k] = '\0';
    } else
        snprintf(out, size, "%s", prefix && prefix[0] ? prefix : (name ? name : ""));
}

static ml4t_err_t s_fail(s_dec_t *d, ml4t_err_t code, const char *field, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static ml4t_err_t s_fail(s_dec_t *d, ml4t_err_t code, const char *field, const char *fmt, ...)
{
    char msg[ML4T_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ml4t_error_set(d->err, code, field, "%s", msg);
}

/* A reader status as an error naming field. */
static ml4t_err_t s_fail_status(s_dec_t *d, s_status_t st, const char *field)
{
    const char *what = field[0] ? field : "message";
    switch (st) {
    case S_BAD:
        return s_fail(d, ML4T_EFORMAT, field, "%s: invalid msgpack byte 0xc1", what);
    case S_DEEP:
        return s_fail(d, ML4T_ELIMIT, field, "%s: nested deeper than %zu levels", what,
                      d->lim->max_depth);
    default:
        return s_fail(d, ML4T_EFORMAT, field, "%s: the message ends inside this value", what);
    }
}

static ml4t_err_t s_fail_type(s_dec_t *d, const char *field, const char *want, s_kind_t got)
{
    return s_fail(d, ML4T_ETYPE, field, "%s must be %s, got %s", field, want, s_kind_names[got]);
}

/* Printable copy of an unknown key, for error fields. */
static void s_key_text(char *out, size_t size, const s_val_t *key)
{
    size_t n = key->len < size - 1 ? key->len : size - 1;
    for (size_t k = 0; k < n; k++)
        out[k] = (key->data[k] >= 0x20 && key->data[k] < 0x7f) ? (char)key->data[k] : '?';
    out[n] = '\0';
}

/* ======================================================================
   Field tables: one per message and per nested map.
   ====================================================================== */

typedef enum {
    F_TYPE,     /* "type": the message type name */
    F_V,        /* "v": schema version, must be 1 */
    F_STR,      /* string into a char[size] */
    F_U64,      /* unsigned integer */
    F_INT,      /* integer in [lo, hi] into an int */
    F_F64,      /* float or integer */
    F_F64_NIL,  /* float, integer, or nil (NaN) */
    F_BOOL,     /* msgpack bool */
    F_TOXLEVEL, /* "UNKNOWN" | "LOW" | "MEDIUM" | "HIGH" */
    F_BARS,     /* plain or columnar bars */
    F_MAP,      /* nested map with its own table */
} s_ftype_t;

typedef struct s_table s_table_t;

typedef struct {
    const char *name;
    uint8_t name_len;
    uint8_t type;
    bool required;
    size_t offset;
    size_t size; /* F_STR buffer size */
    int lo, hi;  /* F_INT range */
    const s_table_t *sub;
} s_field_t;

struct s_table {
    const s_field_t *fields;
    size_t n;
    size_t present_offset; /* bool set when the map is decoded; SIZE_MAX: none */
};

#define S_FIELD(st, key, ftype, req, member, lo_, hi_, sub_)                                       \
    {                                                                                              \
        .name = key, .name_len = sizeof(key) - 1, .type = ftype, .required = req,                  \
        .offset = offsetof(st, member), .size = sizeof(((st *)0)->member), .lo = lo_, .hi = hi_,   \
        .sub = sub_                                                                                \
    }
#define S_NOFIELD(key, ftype)                                                                      \
    {                                                                                              \
        .name = key, .name_len = sizeof(key) - 1, .type = ftype, .required = true                  \
    }
#define S_TABLE(arr, present)                                                                      \
    {                                                                                              \
        arr, sizeof arr / sizeof arr[0], present                                                   \
    }

static const s_field_t *s_find(const s_table_t *t, const s_val_t *key)
{
    for (size_t k = 0; k < t->n; k++)
        if (t->fields[k].name_len == key->len &&
            memcmp(t->fields[k].name, key->data, key->len) == 0)
            return &t->fields[k];
    return NULL;
}

static ml4t_err_t s_decode_map(s_dec_t *d, const s_table_t *t, void *obj, size_t depth,
                               const char *prefix, uint32_t count, uint64_t *seen);

/* ---- bars ---- */

static const char *const s_cols[7] = {"ts", "open", "high", "low", "close", "volume", "buy_volume"};

static ml4t_err_t s_fail_bar(s_dec_t *d, s_status_t st, size_t i, int k, s_kind_t got)
{
    char field[ML4T_ERROR_FIELD_MAX];
    if (k < 0)
        snprintf(field, sizeof field, "bars[%zu]", i);
    else
        snprintf(field, sizeof field, "bars[%zu][%d]", i, k);
    if (st == S_TYPE)
        return s_fail_type(d, field, k == 0 ? "an unsigned integer (ns)" : "a number", got);
    return s_fail_status(d, st, field);
}

static ml4t_err_t s_bar_row(s_dec_t *d, ml4t_bars_t *b, size_t i)
{
    s_cur_t *c = &d->c;
    uint32_t width;
    s_kind_t kind = K_NIL;
    s_status_t st;
    if (s_left(c) >= 1 && (c->p[0] == 0x96 || c->p[0] == 0x97)) {
        width = c->p[0] & 0x0f;
        c->p++;
    } else {
        s_val_t v;
        if ((st = s_next(c, &v)) != S_OK && st != S_SHORT)
            return s_fail_bar(d, st, i, -1, K_NIL);
        if (v.kind != K_ARRAY)
            return s_fail_bar(d, S_TYPE, i, -1, v.kind);
        if (v.len != 6 && v.len != 7) {
            char field[ML4T_ERROR_FIELD_MAX];
            snprintf(field, sizeof field, "bars[%zu]", i);
            return s_fail(d, ML4T_EFORMAT, field,
                          "%s has %u values; a bar is [ts, open, high, "
                          "low, close, volume(, buy_volume)]",
                          field, v.len);
        }
        width = v.len;
    }
    if ((st = s_get_u64(c, &b->ts[i], &kind)) != S_OK)
        return s_fail_bar(d, st, i, 0, kind);
    double *cols[5] = {b->open, b->high, b->low, b->close, b->volume};
    for (int k = 0; k < 5; k++)
        if ((st = s_get_f64(c, &cols[k][i], &kind)) != S_OK)
            return s_fail_bar(d, st, i, k + 1, kind);
    b->buy_volume[i] = NAN;
    if (width == 7) {
        if (s_left(c) >= 1 && c->p[0] == 0xc0)
            c->p++; /* nil: unknown */
        else if ((st = s_get_f64(c, &b->buy_volume[i], &kind)) != S_OK)
            return s_fail_bar(d, st, i, 6, kind);
    }
    return ML4T_OK;
}

static ml4t_err_t s_bars_plain(s_dec_t *d, ml4t_bars_t *b, uint32_t n, size_t depth)
{
    if (n > d->lim->max_bars)
        return s_fail(d, ML4T_ELIMIT, "bars", "bars: %u bars, at most %zu allowed", n,
                      d->lim->max_bars);
    if (depth > d->lim->max_depth || (n > 0 && depth + 1 > d->lim->max_depth))
        return s_fail_status(d, S_DEEP, "bars");
    /* a bar takes at least 7 bytes: check before allocating for a forged count */
    if ((uint64_t)n * 7 > s_left(&d->c))
        return s_fail(d, ML4T_EFORMAT, "bars", "bars: %u bars announced, only %zu bytes left", n,
                      s_left(&d->c));
    if (ml4t_bars_reserve(b, n))
        return s_fail(d, ML4T_ENOMEM, "bars", "bars: no memory for %u bars", n);
    for (size_t i = 0; i < n; i++) {
        ml4t_err_t rc = s_bar_row(d, b, i);
        if (rc)
            return rc;
    }
    b->n = n;
    return ML4T_OK;
}

static void s_copy_le64(void *dst, const uint8_t *src, size_t rows)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (rows) /* with no rows yet, the columns may still be NULL */
        memcpy(dst, src, rows * 8);
#else
    uint64_t *out = dst;
    for (size_t i = 0; i < rows; i++) {
        uint64_t v = 0;
        for (int k = 7; k >= 0; k--)
            v = (v << 8) | src[8 * i + (size_t)k];
        out[i] = v;
    }
#endif
}

/* One bin column of the columnar encoding; *n is the row count so far (SIZE_MAX: none). */
static ml4t_err_t s_column(s_dec_t *d, ml4t_bars_t *b, int col, size_t *n)
{
    static const char *const names[7] = {"bars.ts",    "bars.open",   "bars.high",      "bars.low",
                                         "bars.close", "bars.volume", "bars.buy_volume"};
    const char *field = names[col];
    s_val_t v;
    s_status_t st = s_next(&d->c, &v);
    if (st == S_TRUNC || st == S_BAD)
        return s_fail_status(d, st, field);
    if (v.kind != K_BIN)
        return s_fail_type(d, field, "bin (little-endian 8-byte values)", v.kind);
    if (v.len % 8)
        return s_fail(d, ML4T_EFORMAT, field, "%s: %u bytes is not a whole number of 8-byte values",
                      field, v.len);
    size_t rows = v.len / 8;
    if (rows > d->lim->max_bars)
        return s_fail(d, ML4T_ELIMIT, "bars", "bars: %zu bars, at most %zu allowed", rows,
                      d->lim->max_bars);
    if (st == S_SHORT)
        return s_fail_status(d, st, field);
    if (*n == SIZE_MAX) {
        if (ml4t_bars_reserve(b, rows))
            return s_fail(d, ML4T_ENOMEM, "bars", "bars: no memory for %zu bars", rows);
        *n = rows;
    } else if (rows != *n) {
        return s_fail(d, ML4T_EFORMAT, field, "%s has %zu rows, an earlier column has %zu", field,
                      rows, *n);
    }
    void *dst[7] = {b->ts, b->open, b->high, b->low, b->close, b->volume, b->buy_volume};
    s_copy_le64(dst[col], v.data, rows);
    return ML4T_OK;
}

static ml4t_err_t s_bars_columnar(s_dec_t *d, ml4t_bars_t *b, uint32_t count, size_t depth)
{
    unsigned seen = 0;
    size_t n = SIZE_MAX;
    if (depth > d->lim->max_depth)
        return s_fail_status(d, S_DEEP, "bars");
    for (uint32_t k = 0; k < count; k++) {
        s_val_t key;
        s_status_t st = s_next(&d->c, &key);
        if (st)
            return s_fail_status(d, st == S_SHORT ? S_TRUNC : st, "bars");
        if (key.kind != K_STR)
            return s_fail(d, ML4T_EFORMAT, "bars", "bars: a column name is a %s, not a string",
                          s_kind_names[key.kind]);
        int col = -1;
        for (int j = 0; j < 7 && col < 0; j++)
            if (strlen(s_cols[j]) == key.len && memcmp(s_cols[j], key.data, key.len) == 0)
                col = j;
        if (col < 0) { /* unknown column: ignored, for forward compatibility */
            if ((st = s_skip(&d->c, depth, d->lim->max_depth)) != S_OK)
                return s_fail_status(d, st, "bars");
            continue;
        }
        if (seen & (1u << col))
            return s_fail(d, ML4T_EFORMAT, "bars", "bars: column %s appears twice", s_cols[col]);
        seen |= 1u << col;
        ml4t_err_t rc = s_column(d, b, col, &n);
        if (rc)
            return rc;
    }
    for (int j = 0; j < 6; j++) {
        if (!(seen & (1u << j))) {
            char field[32];
            snprintf(field, sizeof field, "bars.%s", s_cols[j]);
            return s_fail(d, ML4T_EMISSING, field, "%s is missing", field);
        }
    }
    if (!(seen & (1u << 6)))
        for (size_t i = 0; i < n; i++)
            b->buy_volume[i] = NAN;
    b->n = n;
    return ML4T_OK;
}

/* ---- scalar fields ---- */

static ml4t_err_t s_field_type(s_dec_t *d, const s_val_t *v)
{
    if (v->kind != K_STR)
        return s_fail_type(d, "type", "a string", v->kind);
    for (size_t t = 1; t < S_NTYPES; t++) {
        if (strlen(s_type_names[t]) != v->len || memcmp(s_type_names[t], v->data, v->len) != 0)
            continue;
        d->found = (ml4t_msg_type_t)t;
        if (d->expect && strcmp(d->expect, s_type_names[t]) != 0)
            return s_fail(d, ML4T_EMISMATCH, "type", "type is %s, expected %s", s_type_names[t],
                          d->expect);
        return ML4T_OK;
    }
    char text[48];
    s_key_text(text, sizeof text, v);
    return s_fail(d, ML4T_EUNSUPPORTED, "type", "unknown message type \"%s\"", text);
}

static ml4t_err_t s_field_v(s_dec_t *d, const s_val_t *v)
{
    if (v->kind != K_UINT && v->kind != K_INT)
        return s_fail_type(d, "v", "an integer", v->kind);
    if (v->kind == K_INT || v->u != ML4T_SCHEMA_VERSION)
        return s_fail(d, ML4T_EUNSUPPORTED, "v", "schema version %lld is not supported (only %d)",
                      v->kind == K_INT ? (long long)v->i : (long long)v->u, ML4T_SCHEMA_VERSION);
    return ML4T_OK;
}

static ml4t_err_t s_field_str(s_dec_t *d, const s_field_t *f, const s_val_t *v, s_status_t st,
                              char *dst, const char *field)
{
    if (v->kind != K_STR)
        return s_fail_type(d, field, "a string", v->kind);
    size_t limit = f->size - 1 < d->lim->max_string_bytes ? f->size - 1 : d->lim->max_string_bytes;
    if (v->len > limit)
        return s_fail(d, ML4T_ELIMIT, field, "%s is %u bytes, at most %zu allowed", field, v->len,
                      limit);
    if (st == S_SHORT)
        return s_fail_status(d, st, field);
    return ml4t_copy_id(dst, f->size, (const char *)v->data, v->len, field, d->err);
}

static ml4t_err_t s_field_int(s_dec_t *d, const s_field_t *f, const s_val_t *v, int *dst,
                              const char *field)
{
    if (v->kind != K_UINT && v->kind != K_INT)
        return s_fail_type(d, field, "an integer", v->kind);
    if ((v->kind == K_UINT && v->u > (uint64_t)f->hi) || (v->kind == K_INT && v->i < f->lo) ||
        (v->kind == K_UINT && (int64_t)v->u < f->lo))
        return s_fail(d, ML4T_ERANGE, field, "%s must be in [%d, %d], got %lld", field, f->lo,
                      f->hi, v->kind == K_INT ? (long long)v->i : (long long)v->u);
    *dst = v->kind == K_UINT ? (int)v->u : (int)v->i;
    return ML4T_OK;
}

static ml4t_err_t s_field_toxlevel(s_dec_t *d, const s_val_t *v, ml4t_toxicity_level_t *dst,
                                   const char *field)
{
    if (v->kind != K_STR)
        return s_fail_type(d, field, "a string", v->kind);
    for (int l = ML4T_TOXICITY_UNKNOWN; l <= ML4T_TOXICITY_HIGH; l++) {
        const char *name = ml4t_toxicity_level_name((ml4t_toxicity_level_t)l);
        if (strlen(name) == v->len && memcmp(name, v->data, v->len) == 0) {
            *dst = (ml4t_toxicity_level_t)l;
            return ML4T_OK;
        }
    }
    char text[48];
    s_key_text(text, sizeof text, v);
    return s_fail(d, ML4T_ERANGE, field, "%s must be UNKNOWN, LOW, MEDIUM or HIGH, got \"%s\"",
                  field, text);
}

static ml4t_err_t s_field_nested(s_dec_t *d, const s_field_t *f, const s_val_t *v, char *at,
                                 size_t depth, const char *field)
{
    if (f->type == F_BARS) {
        ml4t_bars_t *b = (ml4t_bars_t *)at;
        if (v->kind == K_ARRAY)
            return s_bars_plain(d, b, v->len, depth + 1);
        if (v->kind == K_MAP)
            return s_bars_columnar(d, b, v->len, depth + 1);
        return s_fail_type(d, field, "an array of bars or a map of columns", v->kind);
    }
    if (v->kind != K_MAP)
        return s_fail_type(d, field, "a map", v->kind);
    if (depth + 1 > d->lim->max_depth)
        return s_fail_status(d, S_DEEP, field);
    uint64_t seen = 0;
    ml4t_err_t rc = s_decode_map(d, f->sub, at, depth + 1, field, v->len, &seen);
    if (rc)
        return rc;
    if (f->sub->present_offset != SIZE_MAX)
        *(bool *)(at + f->sub->present_offset) = true;
    return ML4T_OK;
}

/* Decodes the value of known field f into obj; depth is that of the map holding it. */
static ml4t_err_t s_field(s_dec_t *d, const s_field_t *f, void *obj, size_t depth,
                          const char *prefix)
{
    /* top-level fields are named by their key; only nested ones need a
       composed name (formatting on every field would dominate the decode) */
    char composed[ML4T_ERROR_FIELD_MAX];
    const char *field = f->name;
    if (prefix[0]) {
        s_field_name(composed, sizeof composed, prefix, f->name);
        field = composed;
    }
    s_val_t v;
    s_status_t st = s_next(&d->c, &v);
    if (st == S_TRUNC || st == S_BAD)
        return s_fail_status(d, st, field);
    char *at = (char *)obj + f->offset;
    /* S_SHORT (a str/bin/ext cut short) reaches here: each case checks the kind
       first, so a wrong type is reported before a truncation */
    switch ((s_ftype_t)f->type) {
    case F_TYPE:
        return (st && v.kind == K_STR) ? s_fail_status(d, st, field) : s_field_type(d, &v);
    case F_V:
        return s_field_v(d, &v);
    case F_STR:
        return s_field_str(d, f, &v, st, at, field);
    case F_U64:
        if (v.kind == K_INT)
            return s_fail(d, ML4T_ERANGE, field, "%s must be >= 0, got %lld", field,
                          (long long)v.i);
        if (v.kind != K_UINT)
            return s_fail_type(d, field, "an unsigned integer", v.kind);
        *(uint64_t *)at = v.u;
        return ML4T_OK;
    case F_INT:
        return s_field_int(d, f, &v, (int *)at, field);
    case F_F64_NIL:
        if (v.kind == K_NIL) {
            *(double *)at = NAN;
            return ML4T_OK;
        }
        /* fall through */
    case F_F64:
        return s_as_f64(&v, (double *)at) ? ML4T_OK : s_fail_type(d, field, "a number", v.kind);
    case F_BOOL:
        if (v.kind != K_BOOL)
            return s_fail_type(d, field, "a bool", v.kind);
        *(bool *)at = v.u != 0;
        return ML4T_OK;
    case F_TOXLEVEL:
        return (st && v.kind == K_STR)
                   ? s_fail_status(d, st, field)
                   : s_field_toxlevel(d, &v, (ml4t_toxicity_level_t *)at, field);
    case F_BARS:
    case F_MAP:
        return s_field_nested(d, f, &v, at, depth, field);
    }
    return ML4T_OK;
}

static ml4t_err_t s_decode_map(s_dec_t *d, const s_table_t *t, void *obj, size_t depth,
                               const char *prefix, uint32_t count, uint64_t *seen)
{
    for (uint32_t k = 0; k < count; k++) {
        s_val_t key;
        s_status_t st = s_next(&d->c, &key);
        if (st)
            return s_fail_status(d, st == S_SHORT ? S_TRUNC : st, prefix);
        if (key.kind != K_STR)
            return s_fail(d, ML4T_EFORMAT, prefix, "%s: a map key is a %s, keys are strings",
                          prefix[0] ? prefix : "message", s_kind_names[key.kind]);
        const s_field_t *f = s_find(t, &key);
        if (!f) { /* unknown key: ignored, for forward compatibility */
            if ((st = s_skip(&d->c, depth, d->lim->max_depth)) != S_OK) {
                char name[ML4T_ERROR_FIELD_MAX / 2], field[ML4T_ERROR_FIELD_MAX];
                s_key_text(name, sizeof name, &key);
                s_field_name(field, sizeof field, prefix, name);
                return s_fail_status(d, st, field);
            }
            continue;
        }
        uint64_t bit = 1ull << (size_t)(f - t->fields);
        if (*seen & bit) {
            char field[ML4T_ERROR_FIELD_MAX];
            s_field_name(field, sizeof field, prefix, f->name);
            return s_fail(d, ML4T_EFORMAT, field, "%s appears twice", field);
        }
        *seen |= bit;
        ml4t_err_t rc = s_field(d, f, obj, depth, prefix);
        if (rc)
            return rc;
    }
    for (size_t k = 0; k < t->n; k++) {
        if (t->fields[k].required && !(*seen & (1ull << k))) {
            char field[ML4T_ERROR_FIELD_MAX];
            s_field_name(field, sizeof field, prefix, t->fields[k].name);
            return s_fail(d, ML4T_EMISSING, field, "required field %s is missing", field);
        }
    }
    return ML4T_OK;
}

/* ======================================================================
   Messages.
   ====================================================================== */

typedef ml4t_signal_t s_sig_t;
static const s_field_t s_signal_fields[] = {
    S_NOFIELD("type", F_TYPE),
    S_NOFIELD("v", F_V),
    S_FIELD(s_sig_t, "instrument_id", F_STR, true, instrument_id, 0, 0, NULL),
    S_FIELD(s_sig_t, "signal", F_INT, true, signal, -1, 1, NULL),
    S_FIELD(s_sig_t, "ts_event", F_U64, true, ts_event, 0, 0, NULL),
    S_FIELD(s_sig_t, "bars", F_BARS, true, bars, 0, 0, NULL),
    S_FIELD(s_sig_t, "strategy_id", F_STR, false, strategy_id, 0, 0, NULL),
    S_FIELD(s_sig_t, "signal_id", F_STR, false, signal_id, 0, 0, NULL),
};
static const s_table_t s_signal_table = S_TABLE(s_signal_fields, SIZE_MAX);

static const s_field_t s_factor_fields[] = {
    S_FIELD(ml4t_size_t, "raw", F_F64, false, raw, 0, 0, NULL),
    S_FIELD(ml4t_size_t, "signal", F_F64, false, f_signal, 0, 0, NULL),
    S_FIELD(ml4t_size_t, "meta", F_F64, false, f_meta, 0, 0, NULL),
    S_FIELD(ml4t_size_t, "regime", F_F64, false, f_regime, 0, 0, NULL),
    S_FIELD(ml4t_size_t, "toxicity", F_F64, false, f_toxicity, 0, 0, NULL),
    S_FIELD(ml4t_size_t, "kelly", F_F64, false, f_kelly, 0, 0, NULL),
    S_FIELD(ml4t_size_t, "capped", F_BOOL, false, capped, 0, 0, NULL),
    S_FIELD(ml4t_size_t, "below_min", F_BOOL, false, below_min, 0, 0, NULL),
};
static const s_table_t s_factor_table = S_TABLE(s_factor_fields, SIZE_MAX);

static const s_field_t s_verdict_fields[] = {
    S_FIELD(ml4t_verdict_t, "allowed", F_BOOL, true, allowed, 0, 0, NULL),
    S_FIELD(ml4t_verdict_t, "reason", F_STR, false, reason, 0, 0, NULL),
    S_FIELD(ml4t_verdict_t, "min_confidence", F_F64, false, min_confidence, 0, 0, NULL),
    S_FIELD(ml4t_verdict_t, "max_risk_pct", F_F64, false, max_risk_pct, 0, 0, NULL),
};
static const s_table_t s_verdict_table =
    S_TABLE(s_verdict_fields, offsetof(ml4t_verdict_t, present));

typedef ml4t_enriched_t s_enr_t;
static const s_field_t s_enriched_fields[] = {
    S_NOFIELD("type", F_TYPE),
    S_NOFIELD("v", F_V),
    S_FIELD(s_enr_t, "instrument_id", F_STR, true, instrument_id, 0, 0, NULL),
    S_FIELD(s_enr_t, "strategy_id", F_STR, false, strategy_id, 0, 0, NULL),
    S_FIELD(s_enr_t, "signal_id", F_STR, false, signal_id, 0, 0, NULL),
    S_FIELD(s_enr_t, "signal", F_INT, true, signal, -1, 1, NULL),
    S_FIELD(s_enr_t, "ts_event", F_U64, true, ts_event, 0, 0, NULL),
    S_FIELD(s_enr_t, "meta_confidence", F_F64, true, meta_confidence, 0, 0, NULL),
    S_FIELD(s_enr_t, "model_available", F_BOOL, true, model_available, 0, 0, NULL),
    S_FIELD(s_enr_t, "model_version", F_STR, false, model_version, 0, 0, NULL),
    S_FIELD(s_enr_t, "regime_weight", F_F64, true, regime_weight, 0, 0, NULL),
    S_FIELD(s_enr_t, "toxicity", F_F64_NIL, true, toxicity, 0, 0, NULL),
    S_FIELD(s_enr_t, "toxicity_level", F_TOXLEVEL, true, toxicity_level, 0, 0, NULL),
    S_FIELD(s_enr_t, "changepoint_prob", F_F64, true, changepoint_prob, 0, 0, NULL),
    S_FIELD(s_enr_t, "size", F_F64, true, size.size, 0, 0, NULL),
    S_FIELD(s_enr_t, "direction", F_INT, true, size.direction, -1, 1, NULL),
    S_FIELD(s_enr_t, "size_factors", F_MAP, false, size, 0, 0, &s_factor_table),
    S_FIELD(s_enr_t, "verdict", F_MAP, false, verdict, 0, 0, &s_verdict_table),
    S_FIELD(s_enr_t, "latency_ns", F_U64, true, latency_ns, 0, 0, NULL),
    S_FIELD(s_enr_t, "latency_decode_ns", F_U64, false, latency_decode_ns, 0, 0, NULL),
    S_FIELD(s_enr_t, "latency_features_ns", F_U64, false, latency_features_ns, 0, 0, NULL),
    S_FIELD(s_enr_t, "latency_predict_ns", F_U64, false, latency_predict_ns, 0, 0, NULL),
    S_FIELD(s_enr_t, "latency_encode_ns", F_U64, false, latency_encode_ns, 0, 0, NULL),
    S_FIELD(s_enr_t, "ts_enriched", F_U64, true, ts_enriched, 0, 0, NULL),
};
static const s_table_t s_enriched_table = S_TABLE(s_enriched_fields, SIZE_MAX);

typedef ml4t_outcome_t s_out_t;
static const s_field_t s_outcome_fields[] = {
    S_NOFIELD("type", F_TYPE),
    S_NOFIELD("v", F_V),
    S_FIELD(s_out_t, "instrument_id", F_STR, true, instrument_id, 0, 0, NULL),
    S_FIELD(s_out_t, "signal_id", F_STR, false, signal_id, 0, 0, NULL),
    S_FIELD(s_out_t, "ts_event", F_U64, false, ts_event, 0, 0, NULL),
    S_FIELD(s_out_t, "label", F_INT, false, label, -1, 1, NULL),
    S_FIELD(s_out_t, "realized_return", F_F64, false, realized_return, 0, 0, NULL),
    S_FIELD(s_out_t, "ts_outcome", F_U64, false, ts_outcome, 0, 0, NULL),
};
static const s_table_t s_outcome_table = S_TABLE(s_outcome_fields, SIZE_MAX);
enum { S_OUT_SIGNAL_ID = 3, S_OUT_TS_EVENT, S_OUT_LABEL, S_OUT_RETURN };

typedef ml4t_error_event_t s_errev_t;
static const s_field_t s_error_fields[] = {
    S_NOFIELD("type", F_TYPE),
    S_NOFIELD("v", F_V),
    S_FIELD(s_errev_t, "reason", F_STR, true, reason, 0, 0, NULL),
    S_FIELD(s_errev_t, "message", F_STR, true, message, 0, 0, NULL),
    S_FIELD(s_errev_t, "instrument_id", F_STR, false, instrument_id, 0, 0, NULL),
    S_FIELD(s_errev_t, "key", F_STR, false, key, 0, 0, NULL),
    S_FIELD(s_errev_t, "ts_event", F_U64, true, ts, 0, 0, NULL),
};
static const s_table_t s_error_table = S_TABLE(s_error_fields, SIZE_MAX);

typedef ml4t_risk_state_t s_risk_t;
static const s_field_t s_risk_fields[] = {
    S_NOFIELD("type", F_TYPE),
    S_NOFIELD("v", F_V),
    S_FIELD(s_risk_t, "daily_pnl_pct", F_F64, true, daily_pnl_pct, 0, 0, NULL),
    S_FIELD(s_risk_t, "drawdown_pct", F_F64, true, drawdown_pct, 0, 0, NULL),
    S_FIELD(s_risk_t, "losing_streak", F_INT, true, losing_streak, 0, INT_MAX, NULL),
    S_FIELD(s_risk_t, "open_positions", F_INT, true, open_positions, 0, INT_MAX, NULL),
    S_FIELD(s_risk_t, "total_exposure_pct", F_F64, true, total_exposure_pct, 0, 0, NULL),
    S_FIELD(s_risk_t, "ts_event", F_U64, true, ts_event, 0, 0, NULL),
};
static const s_table_t s_risk_table = S_TABLE(s_risk_fields, SIZE_MAX);

static void s_dec_init(s_dec_t *d, ml4t_codec_t *self, const uint8_t *buf, size_t len,
                       const char *expect, ml4t_error_t *err)
{
    d->c.p = buf;
    d->c.end = buf + len;
    d->lim = &self->limits;
    d->err = err;
    d->expect = expect;
    d->found = ML4T_MSG_UNKNOWN;
}

/* Scans the top-level map for type and v only, skipping everything else. */
static ml4t_err_t s_peek(s_dec_t *d)
{
    s_val_t map, key, v;
    s_status_t st = s_next(&d->c, &map);
    if (st || map.kind != K_MAP)
        return s_fail(d, ML4T_EFORMAT, "", "a message is a msgpack map%s",
                      st ? " (input empty or cut short)" : "");
    bool have_type = false, have_v = false;
    for (uint32_t k = 0; k < map.len && !(have_type && have_v); k++) {
        if ((st = s_next(&d->c, &key)) != S_OK || key.kind != K_STR)
            return s_fail(d, ML4T_EFORMAT, "", "message: bad key before type and v were found");
        bool is_type = key.len == 4 && memcmp(key.data, "type", 4) == 0;
        bool is_v = key.len == 1 && key.data[0] == 'v';
        if (!is_type && !is_v) {
            if ((st = s_skip(&d->c, 1, d->lim->max_depth)) != S_OK) {
                char name[ML4T_ERROR_FIELD_MAX];
                s_key_text(name, sizeof name, &key);
                return s_fail_status(d, st, name);
            }
            continue;
        }
        const char *field = is_type ? "type" : "v";
        if ((st = s_next(&d->c, &v)) == S_TRUNC || st == S_BAD)
            return s_fail_status(d, st, field);
        ml4t_err_t rc;
        if (!is_type)
            rc = s_field_v(d, &v);
        else
            rc = (st && v.kind == K_STR) ? s_fail_status(d, st, field) : s_field_type(d, &v);
        if (rc)
            return rc;
        have_type |= is_type;
        have_v |= is_v;
    }
    if (!have_type)
        return s_fail(d, ML4T_EMISSING, "type", "required field type is missing");
    if (!have_v)
        return s_fail(d, ML4T_EMISSING, "v", "required field v is missing");
    return ML4T_OK;
}

static ml4t_err_t s_decode_body(s_dec_t *d, const s_table_t *t, void *obj, uint64_t *seen)
{
    size_t len = s_left(&d->c);
    if (len > d->lim->max_message_bytes)
        return s_fail(d, ML4T_ELIMIT, "message", "message is %zu bytes, at most %zu allowed", len,
                      d->lim->max_message_bytes);
    s_val_t v;
    s_status_t st = s_next(&d->c, &v);
    if (st || v.kind != K_MAP)
        return s_fail(d, ML4T_EFORMAT, "", "a message is a msgpack map, got %s",
                      st ? "no complete value" : s_kind_names[v.kind]);
    ml4t_err_t rc = s_decode_map(d, t, obj, 1, "", v.len, seen);
    if (rc)
        return rc;
    if (s_left(&d->c))
        return s_fail(d, ML4T_EFORMAT, "", "%zu bytes follow the end of the message",
                      s_left(&d->c));
    return ML4T_OK;
}

static const uint8_t s_empty[1];

/* When a message fails, a wrong type or version explains it better than
   whatever broke first (a v2 message may change any field): look for one on
   the error path only, so the hot path makes a single pass. */
static ml4t_err_t s_prefer_type_error(ml4t_codec_t *self, const uint8_t *buf, size_t len,
                                      const char *expect, ml4t_err_t rc, ml4t_error_t *err)
{
    if (err && (strcmp(err->field, "type") == 0 || strcmp(err->field, "v") == 0))
        return rc;
    if (err && rc == ML4T_ELIMIT && strcmp(err->field, "message") == 0)
        return rc;
    ml4t_error_t perr;
    ml4t_error_clear(&perr);
    s_dec_t d;
    s_dec_init(&d, self, buf, len, expect, &perr);
    ml4t_err_t prc = s_peek(&d);
    bool on_type = strcmp(perr.field, "type") == 0 || strcmp(perr.field, "v") == 0;
    if (prc == ML4T_EUNSUPPORTED || prc == ML4T_EMISMATCH || (prc == ML4T_ETYPE && on_type)) {
        if (err)
            *err = perr;
        return prc;
    }
    return rc;
}

static ml4t_err_t s_decode(ml4t_codec_t *self, const uint8_t *buf, size_t len, ml4t_msg_type_t type,
                           const s_table_t *t, void *obj, uint64_t *seen, ml4t_error_t *err)
{
    assert(self && (buf || len == 0));
    if (!buf)
        buf = s_empty;
    s_dec_t d;
    s_dec_init(&d, self, buf, len, s_type_names[type], err);
    *seen = 0;
    ml4t_err_t rc = s_decode_body(&d, t, obj, seen);
    if (rc)
        return s_prefer_type_error(self, buf, len, s_type_names[type], rc, err);
    return ML4T_OK;
}

ml4t_err_t ml4t_codec_peek_type(ml4t_codec_t *self, const uint8_t *buf, size_t len,
                                ml4t_msg_type_t *type, ml4t_error_t *err)
{
    assert(self && type && (buf || len == 0));
    *type = ML4T_MSG_UNKNOWN;
    if (len > self->limits.max_message_bytes)
        return ml4t_error_set(err, ML4T_ELIMIT, "message",
                              "message is %zu bytes, at most %zu allowed", len,
                              self->limits.max_message_bytes);
    s_dec_t d;
    s_dec_init(&d, self, buf ? buf : s_empty, len, NULL, err);
    ml4t_err_t rc = s_peek(&d);
    if (rc)
        return rc;
    *type = d.found;
    return ML4T_OK;
}

ml4t_err_t ml4t_codec_decode_signal(ml4t_codec_t *self, const uint8_t *buf, size_t len,
                                    ml4t_signal_t *out, ml4t_error_t *err)
{
    uint64_t seen;
    ml4t_signal_clear(out);
    ml4t_err_t rc = s_decode(self, buf, len, ML4T_MSG_SIGNAL, &s_signal_table, out, &seen, err);
    if (rc)
        return rc;
    return ml4t_signal_validate(out, 0, self->limits.max_bars, err);
}

ml4t_err_t ml4t_codec_decode_enriched(ml4t_codec_t *self, const uint8_t *buf, size_t len,
                                      ml4t_enriched_t *out, ml4t_error_t *err)
{
    uint64_t seen;
    memset(out, 0, sizeof *out);
    return s_decode(self, buf, len, ML4T_MSG_ENRICHED, &s_enriched_table, out, &seen, err);
}

ml4t_err_t ml4t_codec_decode_outcome(ml4t_codec_t *self, const uint8_t *buf, size_t len,
                                     ml4t_outcome_t *out, ml4t_error_t *err)
{
    uint64_t seen;
    memset(out, 0, sizeof *out);
    ml4t_err_t rc = s_decode(self, buf, len, ML4T_MSG_OUTCOME, &s_outcome_table, out, &seen, err);
    if (rc)
        return rc;
    bool by_id = (seen >> S_OUT_SIGNAL_ID & 1) && out->signal_id[0];
    if (!by_id && !(seen >> S_OUT_TS_EVENT & 1))
        return ml4t_error_set(err, ML4T_EMISSING, "signal_id",
                              "an OutcomeEvent names its signal by signal_id or ts_event");
    out->has_label = seen >> S_OUT_LABEL & 1;
    out->has_return = seen >> S_OUT_RETURN & 1;
    if (!out->has_label && !out->has_return)
        return ml4t_error_set(err, ML4T_EMISSING, "label",
                              "an OutcomeEvent carries a label or a realized_return");
    if (out->has_return && !isfinite(out->realized_return))
        return ml4t_error_set(err, ML4T_ERANGE, "realized_return",
                              "realized_return must be finite, got %g", out->realized_return);
    return ML4T_OK;
}

ml4t_err_t ml4t_codec_decode_error(ml4t_codec_t *self, const uint8_t *buf, size_t len,
                                   ml4t_error_event_t *out, ml4t_error_t *err)
{
    uint64_t seen;
    memset(out, 0, sizeof *out);
    ml4t_err_t rc = s_decode(self, buf, len, ML4T_MSG_ERROR, &s_error_table, out, &seen, err);
    if (rc)
        return rc;
    out->code = ML4T_ERR_COUNT_;
    for (int c = 0; c < ML4T_ERR_COUNT_; c++)
        if (strcmp(ml4t_err_reason((ml4t_err_t)c), out->reason) == 0)
            out->code = (ml4t_err_t)c;
    return ML4T_OK;
}

ml4t_err_t ml4t_codec_decode_risk_state(ml4t_codec_t *self, const uint8_t *buf, size_t len,
                                        ml4t_risk_state_t *out, ml4t_error_t *err)
{
    uint64_t seen;
    memset(out, 0, sizeof *out);
    ml4t_err_t rc = s_decode(self, buf, len, ML4T_MSG_RISK_STATE, &s_risk_table, out, &seen, err);
    if (rc)
        return rc;
    const struct {
        const char *name;
        double v;
        bool nonneg;
    } checks[] = {{"daily_pnl_pct", out->daily_pnl_pct, false},
                  {"drawdown_pct", out->drawdown_pct, true},
                  {"total_exposure_pct", out->total_exposure_pct, true}};
    for (size_t k = 0; k < 3; k++)
        if (!isfinite(checks[k].v) || (checks[k].nonneg && checks[k].v < 0.0))
            return ml4t_error_set(err, ML4T_ERANGE, checks[k].name, "%s must be finite%s, got %g",
                                  checks[k].name, checks[k].nonneg ? " and >= 0" : "", checks[k].v);
    return ML4T_OK;
}

/* ======================================================================
   Encoders: msgpack-c's packer into the codec's reused sbuffer. Packer calls
   return 0 or -1 (allocation failure); they are OR-ed into one flag.
   ====================================================================== */

/* A key in one write (header and text together): half the packer calls of
   msgpack_pack_str_with_body, which matters at ~30 keys per message. */
static inline int s_key(msgpack_packer *pk, const char *lit, size_t n)
{
    char buf[32];
    assert(n < 32); /* fixstr */
    buf[0] = (char)(0xa0 | n);
    memcpy(buf + 1, lit, n);
    return pk->callback(pk->data, buf, n + 1);
}
#define S_KEY(pk, lit) s_key(pk, lit, sizeof(lit) - 1)

static int s_pack_text(msgpack_packer *pk, const char *s, size_t size)
{
    return msgpack_pack_str_with_body(pk, s, strnlen(s, size));
}
#define S_TEXT(pk, field) s_pack_text(pk, field, sizeof(field))

static int s_enc_begin(ml4t_codec_t *self, ml4t_msg_type_t type, size_t nkeys)
{
    msgpack_packer *pk = &self->pk;
    msgpack_sbuffer_clear(&self->sbuf);
    const char *name = s_type_names[type];
    return msgpack_pack_map(pk, nkeys) | S_KEY(pk, "type") |
           msgpack_pack_str_with_body(pk, name, strlen(name)) | S_KEY(pk, "v") |
           msgpack_pack_unsigned_int(pk, ML4T_SCHEMA_VERSION);
}

static ml4t_err_t s_enc_end(ml4t_codec_t *self, int bad, const uint8_t **out, size_t *out_len,
                            ml4t_error_t *err)
{
    if (bad)
        return ml4t_error_set(err, ML4T_ENOMEM, "message", "out of memory while encoding");
    if (self->sbuf.size > self->limits.max_message_bytes)
        return ml4t_error_set(err, ML4T_ELIMIT, "message",
                              "encoded message is %zu bytes, at most %zu allowed", self->sbuf.size,
                              self->limits.max_message_bytes);
    *out = (const uint8_t *)self->sbuf.data;
    *out_len = self->sbuf.size;
    return ML4T_OK;
}

static int s_pack_le64(msgpack_packer *pk, const void *col, size_t rows)
{
    int bad = msgpack_pack_bin(pk, rows * 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return bad | msgpack_pack_bin_body(pk, col, rows * 8);
#else
    const uint64_t *v = col;
    for (size_t i = 0; i < rows; i++) {
        uint8_t le[8];
        for (int k = 0; k < 8; k++)
            le[k] = (uint8_t)(v[i] >> (8 * k));
        bad |= msgpack_pack_bin_body(pk, le, 8);
    }
    return bad;
#endif
}

static int s_pack_bars(msgpack_packer *pk, const ml4t_bars_t *b, ml4t_bars_encoding_t enc)
{
    bool has_buy = false;
    for (size_t i = 0; i < b->n && !has_buy; i++)
        has_buy = !isnan(b->buy_volume[i]);
    int bad = 0;
    if (enc == ML4T_BARS_COLUMNAR) {
        const void *cols[7] = {b->ts, b->open, b->high, b->low, b->close, b->volume, b->buy_volume};
        bad |= msgpack_pack_map(pk, has_buy ? 7 : 6);
        for (int k = 0; k < (has_buy ? 7 : 6); k++)
            bad |= msgpack_pack_str_with_body(pk, s_cols[k], strlen(s_cols[k])) |
                   s_pack_le64(pk, cols[k], b->n);
        return bad;
    }
    bad |= msgpack_pack_array(pk, b->n);
    for (size_t i = 0; i < b->n; i++) {
        bad |= msgpack_pack_array(pk, has_buy ? 7 : 6) | msgpack_pack_uint64(pk, b->ts[i]) |
               msgpack_pack_double(pk, b->open[i]) | msgpack_pack_double(pk, b->high[i]) |
               msgpack_pack_double(pk, b->low[i]) | msgpack_pack_double(pk, b->close[i]) |
               msgpack_pack_double(pk, b->volume[i]);
        if (has_buy)
            bad |= isnan(b->buy_volume[i]) ? msgpack_pack_nil(pk)
                                           : msgpack_pack_double(pk, b->buy_volume[i]);
    }
    return bad;
}

ml4t_err_t ml4t_codec_encode_signal(ml4t_codec_t *self, const ml4t_signal_t *sig,
                                    ml4t_bars_encoding_t encoding, const uint8_t **out,
                                    size_t *out_len, ml4t_error_t *err)
{
    if (sig->bars.n > self->limits.max_bars)
        return ml4t_error_set(err, ML4T_ELIMIT, "bars", "bars: %zu bars, at most %zu allowed",
                              sig->bars.n, self->limits.max_bars);
    msgpack_packer *pk = &self->pk;
    bool sid = sig->strategy_id[0], gid = sig->signal_id[0];
    int bad = s_enc_begin(self, ML4T_MSG_SIGNAL, 6 + sid + gid);
    bad |= S_KEY(pk, "instrument_id") | S_TEXT(pk, sig->instrument_id);
    bad |= S_KEY(pk, "signal") | msgpack_pack_int(pk, sig->signal);
    bad |= S_KEY(pk, "ts_event") | msgpack_pack_uint64(pk, sig->ts_event);
    if (sid)
        bad |= S_KEY(pk, "strategy_id") | S_TEXT(pk, sig->strategy_id);
    if (gid)
        bad |= S_KEY(pk, "signal_id") | S_TEXT(pk, sig->signal_id);
    bad |= S_KEY(pk, "bars") | s_pack_bars(pk, &sig->bars, encoding);
    return s_enc_end(self, bad, out, out_len, err);
}

static int s_pack_factors(msgpack_packer *pk, const ml4t_size_t *s)
{
    return msgpack_pack_map(pk, 8) | S_KEY(pk, "raw") | msgpack_pack_double(pk, s->raw) |
           S_KEY(pk, "signal") | msgpack_pack_double(pk, s->f_signal) | S_KEY(pk, "meta") |
           msgpack_pack_double(pk, s->f_meta) | S_KEY(pk, "regime") |
           msgpack_pack_double(pk, s->f_regime) | S_KEY(pk, "toxicity") |
           msgpack_pack_double(pk, s->f_toxicity) | S_KEY(pk, "kelly") |
           msgpack_pack_double(pk, s->f_kelly) | S_KEY(pk, "capped") |
           (s->capped ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) | S_KEY(pk, "below_min") |
           (s->below_min ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
}

static int s_pack_verdict(msgpack_packer *pk, const ml4t_verdict_t *v)
{
    return msgpack_pack_map(pk, 4) | S_KEY(pk, "allowed") |
           (v->allowed ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) | S_KEY(pk, "reason") |
           S_TEXT(pk, v->reason) | S_KEY(pk, "min_confidence") |
           msgpack_pack_double(pk, v->min_confidence) | S_KEY(pk, "max_risk_pct") |
           msgpack_pack_double(pk, v->max_risk_pct);
}

static int s_pack_latency(msgpack_packer *pk, const ml4t_enriched_t *e)
{
    return S_KEY(pk, "latency_ns") | msgpack_pack_uint64(pk, e->latency_ns) |
           S_KEY(pk, "latency_decode_ns") | msgpack_pack_uint64(pk, e->latency_decode_ns) |
           S_KEY(pk, "latency_features_ns") | msgpack_pack_uint64(pk, e->latency_features_ns) |
           S_KEY(pk, "latency_predict_ns") | msgpack_pack_uint64(pk, e->latency_predict_ns) |
           S_KEY(pk, "latency_encode_ns") | msgpack_pack_uint64(pk, e->latency_encode_ns) |
           S_KEY(pk, "ts_enriched") | msgpack_pack_uint64(pk, e->ts_enriched);
}

ml4t_err_t ml4t_codec_encode_enriched(ml4t_codec_t *self, const ml4t_enriched_t *e,
                                      const uint8_t **out, size_t *out_len, ml4t_error_t *err)
{
    msgpack_packer *pk = &self->pk;
    bool sid = e->strategy_id[0], gid = e->signal_id[0];
    int bad = s_enc_begin(self, ML4T_MSG_ENRICHED, 21 + sid + gid + e->verdict.present);
    bad |= S_KEY(pk, "instrument_id") | S_TEXT(pk, e->instrument_id);
    if (sid)
        bad |= S_KEY(pk, "strategy_id") | S_TEXT(pk, e->strategy_id);
    if (gid)
        bad |= S_KEY(pk, "signal_id") | S_TEXT(pk, e->signal_id);
    bad |= S_KEY(pk, "signal") | msgpack_pack_int(pk, e->signal);
    bad |= S_KEY(pk, "ts_event") | msgpack_pack_uint64(pk, e->ts_event);
    bad |= S_KEY(pk, "meta_confidence") | msgpack_pack_double(pk, e->meta_confidence);
    bad |= S_KEY(pk, "model_available") |
           (e->model_available ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    bad |= S_KEY(pk, "model_version") | S_TEXT(pk, e->model_version);
    bad |= S_KEY(pk, "regime_weight") | msgpack_pack_double(pk, e->regime_weight);
    bad |= S_KEY(pk, "toxicity") |
           (isnan(e->toxicity) ? msgpack_pack_nil(pk) : msgpack_pack_double(pk, e->toxicity));
    const char *level = ml4t_toxicity_level_name(e->toxicity_level);
    bad |= S_KEY(pk, "toxicity_level") | msgpack_pack_str_with_body(pk, level, strlen(level));
    bad |= S_KEY(pk, "changepoint_prob") | msgpack_pack_double(pk, e->changepoint_prob);
    bad |= S_KEY(pk, "size") | msgpack_pack_double(pk, e->size.size);
    bad |= S_KEY(pk, "direction") | msgpack_pack_int(pk, e->size.direction);
    bad |= S_KEY(pk, "size_factors") | s_pack_factors(pk, &e->size);
    if (e->verdict.present)
        bad |= S_KEY(pk, "verdict") | s_pack_verdict(pk, &e->verdict);
    bad |= s_pack_latency(pk, e);
    return s_enc_end(self, bad, out, out_len, err);
}

ml4t_err_t ml4t_codec_encode_outcome(ml4t_codec_t *self, const ml4t_outcome_t *o,
                                     const uint8_t **out, size_t *out_len, ml4t_error_t *err)
{
    bool by_id = o->signal_id[0], by_ts = !by_id || o->ts_event != 0;
    if (!o->has_label && !o->has_return)
        return ml4t_error_set(err, ML4T_EINVAL, "label",
                              "an OutcomeEvent carries a label or a realized_return");
    msgpack_packer *pk = &self->pk;
    int bad = s_enc_begin(self, ML4T_MSG_OUTCOME, 4 + by_id + by_ts + o->has_label + o->has_return);
    bad |= S_KEY(pk, "instrument_id") | S_TEXT(pk, o->instrument_id);
    if (by_id)
        bad |= S_KEY(pk, "signal_id") | S_TEXT(pk, o->signal_id);
    if (by_ts)
        bad |= S_KEY(pk, "ts_event") | msgpack_pack_uint64(pk, o->ts_event);
    if (o->has_label)
        bad |= S_KEY(pk, "label") | msgpack_pack_int(pk, o->label);
    if (o->has_return)
        bad |= S_KEY(pk, "realized_return") | msgpack_pack_double(pk, o->realized_return);
    bad |= S_KEY(pk, "ts_outcome") | msgpack_pack_uint64(pk, o->ts_outcome);
    return s_enc_end(self, bad, out, out_len, err);
}

ml4t_err_t ml4t_codec_encode_error(ml4t_codec_t *self, const ml4t_error_event_t *e,
                                   const uint8_t **out, size_t *out_len, ml4t_error_t *err)
{
    bool known = (int)e->code >= 0 && e->code < ML4T_ERR_COUNT_;
    const char *reason = known ? ml4t_err_reason(e->code) : e->reason;
    size_t reason_len = known ? strlen(reason) : strnlen(e->reason, sizeof e->reason);
    bool inst = e->instrument_id[0], key = e->key[0];
    msgpack_packer *pk = &self->pk;
    int bad = s_enc_begin(self, ML4T_MSG_ERROR, 5 + inst + key);
    bad |= S_KEY(pk, "reason") | msgpack_pack_str_with_body(pk, reason, reason_len);
    bad |= S_KEY(pk, "message") | S_TEXT(pk, e->message);
    if (inst)
        bad |= S_KEY(pk, "instrument_id") | S_TEXT(pk, e->instrument_id);
    if (key)
        bad |= S_KEY(pk, "key") | S_TEXT(pk, e->key);
    bad |= S_KEY(pk, "ts_event") | msgpack_pack_uint64(pk, e->ts);
    return s_enc_end(self, bad, out, out_len, err);
}

ml4t_err_t ml4t_codec_encode_risk_state(ml4t_codec_t *self, const ml4t_risk_state_t *r,
                                        const uint8_t **out, size_t *out_len, ml4t_error_t *err)
{
    msgpack_packer *pk = &self->pk;
    int bad = s_enc_begin(self, ML4T_MSG_RISK_STATE, 8);
    bad |= S_KEY(pk, "daily_pnl_pct") | msgpack_pack_double(pk, r->daily_pnl_pct);
    bad |= S_KEY(pk, "drawdown_pct") | msgpack_pack_double(pk, r->drawdown_pct);
    bad |= S_KEY(pk, "losing_streak") | msgpack_pack_int(pk, r->losing_streak);
    bad |= S_KEY(pk, "open_positions") | msgpack_pack_int(pk, r->open_positions);
    bad |= S_KEY(pk, "total_exposure_pct") | msgpack_pack_double(pk, r->total_exposure_pct);
    bad |= S_KEY(pk, "ts_event") | msgpack_pack_uint64(pk, r->ts_event);
    return s_enc_end(self, bad, out, out_len, err);
}

static int s_pack_symbols(msgpack_packer *pk, size_t n, const char (*ids)[ML4T_INSTRUMENT_MAX + 1])
{
    int bad = msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        bad |= s_pack_text(pk, ids[i], ML4T_INSTRUMENT_MAX + 1);
    return bad;
}

ml4t_err_t ml4t_codec_encode_policy(ml4t_codec_t *self, const ml4t_trading_policy_t *pol,
                                    const uint8_t **out, size_t *out_len, ml4t_error_t *err)
{
    msgpack_packer *pk = &self->pk;
    size_t n_rules = 0;
    for (uint32_t bit = 0; bit < 32; bit++)
        n_rules += (pol->rules >> bit) & 1u;
    const char *risk = ml4t_policy_risk_profile_name(pol->risk_profile);
    const char *entry = ml4t_policy_entry_mode_name(pol->entry_mode);
    const char *exit_mode = ml4t_policy_exit_mode_name(pol->exit_mode);
    int bad = s_enc_begin(self, ML4T_MSG_POLICY, 14);
    bad |= S_KEY(pk, "allow_new_trades") |
           (pol->allow_new_trades ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    bad |= S_KEY(pk, "risk_profile") | msgpack_pack_str_with_body(pk, risk, strlen(risk));
    bad |= S_KEY(pk, "max_risk_pct") | msgpack_pack_double(pk, pol->max_risk_pct);
    bad |= S_KEY(pk, "min_confidence") | msgpack_pack_double(pk, pol->min_confidence);
    bad |= S_KEY(pk, "entry_mode") | msgpack_pack_str_with_body(pk, entry, strlen(entry));
    bad |= S_KEY(pk, "exit_mode") | msgpack_pack_str_with_body(pk, exit_mode, strlen(exit_mode));
    bad |= S_KEY(pk, "allowed_symbols") | s_pack_symbols(pk, pol->n_allowed, pol->allowed);
    bad |= S_KEY(pk, "disallowed_symbols") | s_pack_symbols(pk, pol->n_disallowed, pol->disallowed);
    bad |= S_KEY(pk, "rules") | msgpack_pack_array(pk, n_rules);
    for (uint32_t bit = 0; bit < 32; bit++) {
        if (!((pol->rules >> bit) & 1u))
            continue;
        const char *name = ml4t_policy_rule_name(1u << bit);
        bad |= msgpack_pack_str_with_body(pk, name, strlen(name));
    }
    bad |= S_KEY(pk, "block_reason") | S_TEXT(pk, pol->block_reason);
    bad |= S_KEY(pk, "note") | S_TEXT(pk, pol->note);
    return s_enc_end(self, bad | S_KEY(pk, "ts_policy") | msgpack_pack_uint64(pk, pol->ts_ns), out,
                     out_len, err);
}
