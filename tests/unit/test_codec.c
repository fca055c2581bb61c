/*  ml4t_codec tests: golden vectors, round trips, limits, truncation at every
    offset, a seeded mutation loop cross-checked against msgpack-c's own
    decoder, and no allocation on the hot path after warm-up. */
#include "ml4t/codec.h"
#include "ml4t/policy.h"

#include <dirent.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "testutil.h"

#include "../tools/codec_json.h"
#include "codec_ref.h"

#define VECTOR_DIR ML4T_SOURCE_DIR "/schemas/vectors"

/* ---- allocation counting (glibc, outside sanitizer builds) ---- */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define S_COUNT_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define S_COUNT_ALLOCS 0
#endif
#endif
#if !defined(S_COUNT_ALLOCS) && defined(__GLIBC__)
#define S_COUNT_ALLOCS 1
#endif
#ifndef S_COUNT_ALLOCS
#define S_COUNT_ALLOCS 0
#endif

static size_t s_allocs;
#if S_COUNT_ALLOCS
extern void *__libc_malloc(size_t n);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_calloc(size_t a, size_t b);
void *malloc(size_t n)
{
    s_allocs++;
    return __libc_malloc(n);
}
void *realloc(void *p, size_t n)
{
    s_allocs++;
    return __libc_realloc(p, n);
}
void *calloc(size_t a, size_t b)
{
    s_allocs++;
    return __libc_calloc(a, b);
}
#endif

/* Under valgrind the malloc family is replaced for the whole process, these
   wrappers included (its preload library is named in LD_PRELOAD). */
static int s_allocs_observable(void)
{
    const char *preload = getenv("LD_PRELOAD");
    return S_COUNT_ALLOCS && !(preload && strstr(preload, "vgpreload"));
}

/* ---- fixtures ---- */

static void s_fill_signal(ml4t_signal_t *s, size_t n, bool buy)
{
    ml4t_signal_clear(s);
    snprintf(s->instrument_id, sizeof s->instrument_id, "FILUSDT");
    snprintf(s->strategy_id, sizeof s->strategy_id, "sma_cross");
    snprintf(s->signal_id, sizeof s->signal_id, "sig-42");
    s->signal = -1;
    s->ts_event = 1700000000123456789ull;
    for (size_t i = 0; i < n; i++) {
        double p = 3.8 + 0.001 * (double)(i % 17);
        ml4t_bars_push(&s->bars, 1700000000000000000ull + 60000000000ull * i, p, p + 0.01, p - 0.01,
                       p + 0.003, 1000.0 + (double)i,
                       buy ? (i % 5 ? 400.0 + (double)i : NAN) : NAN);
    }
}

static void s_fill_enriched(ml4t_enriched_t *e, bool verdict)
{
    memset(e, 0, sizeof *e);
    snprintf(e->instrument_id, sizeof e->instrument_id, "FILUSDT");
    snprintf(e->signal_id, sizeof e->signal_id, "sig-42");
    snprintf(e->model_version, sizeof e->model_version, "m-7");
    e->signal = 1;
    e->ts_event = UINT64_MAX;
    e->meta_confidence = 0.61;
    e->model_available = true;
    e->regime_weight = 0.9;
    e->toxicity = verdict ? 0.44 : NAN;
    e->toxicity_level = verdict ? ML4T_TOXICITY_MEDIUM : ML4T_TOXICITY_UNKNOWN;
    e->changepoint_prob = 1e-300;
    e->size = (ml4t_size_t){0.37, 1, 0.37, 1.0, 0.61, 0.9, 0.56, 0.25, false, true};
    e->verdict = (ml4t_verdict_t){verdict, true, "ok", 0.55, 2.0};
    e->latency_ns = 51234;
    e->latency_decode_ns = 800;
    e->latency_features_ns = 11000;
    e->latency_predict_ns = 30000;
    e->latency_encode_ns = 300;
    e->ts_enriched = 1700000000123507000ull;
}

/* Bit-equal values, except that any NaN equals any NaN: NaN means "unknown"
   and a re-encode writes buy_volume's NaN as nil, which decodes to one NaN. */
static bool s_same_column(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0 && !(isnan(a[i]) && isnan(b[i])))
            return false;
    return true;
}

static bool s_same_signal(const ml4t_signal_t *a, const ml4t_signal_t *b)
{
    const ml4t_bars_t *x = &a->bars, *y = &b->bars;
    size_t n = x->n;
    return strcmp(a->instrument_id, b->instrument_id) == 0 &&
           strcmp(a->strategy_id, b->strategy_id) == 0 && strcmp(a->signal_id, b->signal_id) == 0 &&
           a->signal == b->signal && a->ts_event == b->ts_event && x->n == y->n &&
           (n == 0 || memcmp(x->ts, y->ts, n * sizeof *x->ts) == 0) &&
           s_same_column(x->open, y->open, n) && s_same_column(x->high, y->high, n) &&
           s_same_column(x->low, y->low, n) && s_same_column(x->close, y->close, n) &&
           s_same_column(x->volume, y->volume, n) && s_same_column(x->buy_volume, y->buy_volume, n);
}

static bool s_same_double(double a, double b)
{
    return a == b || (isnan(a) && isnan(b)); /* exact: the wire carries all 64 bits */
}

static bool s_same_enriched(const ml4t_enriched_t *a, const ml4t_enriched_t *b)
{
    const ml4t_size_t *x = &a->size, *y = &b->size;
    bool v = a->verdict.present == b->verdict.present &&
             (!a->verdict.present || (a->verdict.allowed == b->verdict.allowed &&
                                      strcmp(a->verdict.reason, b->verdict.reason) == 0 &&
                                      a->verdict.min_confidence == b->verdict.min_confidence &&
                                      a->verdict.max_risk_pct == b->verdict.max_risk_pct));
    return v && strcmp(a->instrument_id, b->instrument_id) == 0 &&
           strcmp(a->strategy_id, b->strategy_id) == 0 && strcmp(a->signal_id, b->signal_id) == 0 &&
           strcmp(a->model_version, b->model_version) == 0 && a->signal == b->signal &&
           a->ts_event == b->ts_event && a->meta_confidence == b->meta_confidence &&
           a->model_available == b->model_available && a->regime_weight == b->regime_weight &&
           s_same_double(a->toxicity, b->toxicity) && a->toxicity_level == b->toxicity_level &&
           a->changepoint_prob == b->changepoint_prob && x->size == y->size &&
           x->direction == y->direction && x->raw == y->raw && x->f_signal == y->f_signal &&
           x->f_meta == y->f_meta && x->f_regime == y->f_regime && x->f_toxicity == y->f_toxicity &&
           x->f_kelly == y->f_kelly && x->capped == y->capped && x->below_min == y->below_min &&
           a->latency_ns == b->latency_ns && a->latency_decode_ns == b->latency_decode_ns &&
           a->latency_features_ns == b->latency_features_ns &&
           a->latency_predict_ns == b->latency_predict_ns &&
           a->latency_encode_ns == b->latency_encode_ns && a->ts_enriched == b->ts_enriched;
}

static bool s_contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return true;
    return false;
}

/* Copies an encoded message out of the codec's buffer (valid until next encode). */
static size_t s_encode_signal(ml4t_codec_t *c, const ml4t_signal_t *s, ml4t_bars_encoding_t enc,
                              uint8_t *dst, size_t cap)
{
    const uint8_t *out = NULL;
    size_t len = 0;
    ml4t_error_t err;
    if (ml4t_codec_encode_signal(c, s, enc, &out, &len, &err) || len > cap)
        return 0;
    memcpy(dst, out, len);
    return len;
}

/* ---- golden vectors ---- */

static uint8_t *s_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Exact structural equality; numbers compare as doubles (uint64 above 2^53
   to the nearest double: exactness there is checked against msgpack-c and by
   the Python interop test, which parses JSON integers exactly). */
static bool s_json_same(const cJSON *a, const cJSON *b, const char *where)
{
    if ((a->type & 0xff) != (b->type & 0xff)) {
        fprintf(stderr, "    %s: JSON types differ\n", where);
        return false;
    }
    if (cJSON_IsNumber(a) && a->valuedouble != b->valuedouble) {
        fprintf(stderr, "    %s: %.17g != %.17g\n", where, a->valuedouble, b->valuedouble);
        return false;
    }
    if (cJSON_IsString(a) && strcmp(a->valuestring, b->valuestring) != 0) {
        fprintf(stderr, "    %s: \"%s\" != \"%s\"\n", where, a->valuestring, b->valuestring);
        return false;
    }
    if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) {
            fprintf(stderr, "    %s: sizes differ\n", where);
            return false;
        }
        const cJSON *x, *y = b->child;
        cJSON_ArrayForEach(x, a)
        {
            const cJSON *other =
                cJSON_IsObject(a) ? cJSON_GetObjectItemCaseSensitive(b, x->string) : y;
            if (!other || !s_json_same(x, other, x->string ? x->string : where))
                return false;
            y = y ? y->next : NULL;
        }
    }
    return true;
}

static bool s_check_vector(ml4t_codec_t *c, cj_any_t *m, const char *name)
{
    char path[512];
    size_t len, jlen;
    snprintf(path, sizeof path, "%s/%s.msgpack", VECTOR_DIR, name);
    uint8_t *buf = s_read_file(path, &len);
    snprintf(path, sizeof path, "%s/%s.json", VECTOR_DIR, name);
    char *text = (char *)s_read_file(path, &jlen);
    cJSON *want = text ? cJSON_Parse(text) : NULL;
    bool ok = buf && want;
    ml4t_error_t err;
    ml4t_error_clear(&err);
    ml4t_err_t rc = ok ? cj_decode_any(c, buf, len, m, &err) : ML4T_EIO;
    const cJSON *werr = cJSON_GetObjectItemCaseSensitive(want, "error");
    if (ok && werr) {
        const char *code = cJSON_GetObjectItemCaseSensitive(werr, "code")->valuestring;
        const char *field = cJSON_GetObjectItemCaseSensitive(werr, "field")->valuestring;
        ok = rc != ML4T_OK && strcmp(ml4t_err_reason(rc), code) == 0 &&
             strcmp(err.field, field) == 0 && err.code == rc;
        if (!ok)
            fprintf(stderr, "    got %s \"%s\" (%s), want %s \"%s\"\n", ml4t_err_reason(rc),
                    err.field, err.msg, code, field);
    } else if (ok) {
        char *out = NULL;
        size_t outlen = 0;
        FILE *f = open_memstream(&out, &outlen);
        if (rc == ML4T_OK)
            cj_any(f, m);
        fclose(f);
        cJSON *got = cJSON_Parse(out);
        ok = rc == ML4T_OK && got && s_json_same(want, got, "message");
        if (rc)
            fprintf(stderr, "    unexpected error %s \"%s\": %s\n", ml4t_err_reason(rc), err.field,
                    err.msg);
        cJSON_Delete(got);
        free(out);
    }
    cJSON_Delete(want);
    free(text);
    free(buf);
    return ok;
}

static void t_golden_vectors(void)
{
    ml4t_codec_t *c = ml4t_codec_new(NULL);
    cj_any_t m;
    cj_any_init(&m);
    DIR *dir = opendir(VECTOR_DIR);
    REQUIRE(dir);
    int checked = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t n = strlen(de->d_name);
        if (n < 9 || strcmp(de->d_name + n - 8, ".msgpack") != 0)
            continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(n - 8), de->d_name);
        if (!s_check_vector(c, &m, name)) {
            fprintf(stderr, "  vector %s failed\n", name);
            CHECK(!"golden vector");
        }
        checked++;
    }
    closedir(dir);
    printf("  %d golden vectors checked\n", checked);
    CHECK(checked >= 60);
    cj_any_destroy(&m);
    ml4t_codec_destroy(&c);
}

/* Every vector: when the pull decoder accepts a signal, msgpack-c's object
   tree yields the same values bit for bit; when msgpack-c cannot parse the
   bytes as one whole object, the pull decoder refuses them too. */
static void t_vectors_agree_with_msgpack_c(void)
{
    ml4t_codec_t *c = ml4t_codec_new(NULL);
    ml4t_signal_t a, b;
    ml4t_signal_init(&a);
    ml4t_signal_init(&b);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    DIR *dir = opendir(VECTOR_DIR);
    REQUIRE(dir);
    int signals = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t n = strlen(de->d_name), len;
        if (n < 9 || strcmp(de->d_name + n - 8, ".msgpack") != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", VECTOR_DIR, de->d_name);
        uint8_t *buf = s_read_file(path, &len);
        REQUIRE(buf);
        size_t off = 0;
        bool whole =
            msgpack_unpack_next(&u, (const char *)buf, len, &off) == MSGPACK_UNPACK_SUCCESS &&
            off == len;
        cj_any_t m;
        cj_any_init(&m);
        ml4t_err_t rc = cj_decode_any(c, buf, len, &m, NULL);
        if (!whole && rc == ML4T_OK)
            fprintf(stderr, "  %s: accepted, msgpack-c cannot parse it\n", de->d_name);
        CHECK(whole || rc != ML4T_OK);
        if (rc == ML4T_OK && m.type == ML4T_MSG_SIGNAL) {
            CHECK_EQ_INT(ml4t_codec_decode_signal(c, buf, len, &a, NULL), ML4T_OK);
            CHECK_EQ_INT(ref_decode_signal(&u, buf, len, &b), 0);
            CHECK(s_same_signal(&a, &b));
            signals++;
        }
        cj_any_destroy(&m);
        free(buf);
    }
    closedir(dir);
    CHECK(signals >= 10);
    msgpack_unpacked_destroy(&u);
    ml4t_signal_destroy(&a);
    ml4t_signal_destroy(&b);
    ml4t_codec_destroy(&c);
}

/* ---- round trips ---- */

static void t_round_trip_signal(void)
{
    ml4t_codec_t *c = ml4t_codec_new(NULL);
    ml4t_signal_t s, d;
    ml4t_signal_init(&s);
    ml4t_signal_init(&d);
    static uint8_t buf[64 * 1024];
    for (int buy = 0; buy < 2; buy++) {
        for (int enc = 0; enc < 2; enc++) {
            size_t sizes[] = {0, 1, 100, 1000};
            for (size_t k = 0; k < 4; k++) {
                s_fill_signal(&s, sizes[k], buy);
                size_t len = s_encode_signal(c, &s, (ml4t_bars_encoding_t)enc, buf, sizeof buf);
                REQUIRE(len > 0);
                ml4t_error_t err;
                CHECK_EQ_INT(ml4t_codec_decode_signal(c, buf, len, &d, &err), ML4T_OK);
                CHECK(s_same_signal(&s, &d));
            }
        }
    }
    /* optional ids absent on the wire when empty, and back as "" */
    s_fill_signal(&s, 3, false);
    s.strategy_id[0] = s.signal_id[0] = '\0';
    size_t len = s_encode_signal(c, &s, ML4T_BARS_PLAIN, buf, sizeof buf);
    CHECK(!s_contains(buf, len, "signal_id"));
    CHECK_EQ_INT(ml4t_codec_decode_signal(c, buf, len, &d, NULL), ML4T_OK);
    CHECK(s_same_signal(&s, &d));
    ml4t_signal_destroy(&s);
    ml4t_signal_destroy(&d);
    ml4t_codec_destroy(&c);
}

static void t_round_trip_enriched(void)
{
    ml4t_codec_t *c = ml4t_codec_new(NULL);
    for (int verdict = 0; verdict < 2; verdict++) {
        ml4t_enriched_t e, d;
        s_fill_enriched(&e, verdict);
        const uint8_t *out;
        size_t len;
        CHECK_EQ_INT(ml4t_codec_encode_enriched(c, &e, &out, &len, NULL), ML4T_OK);
        CHECK(s_contains(out, len, "verdict") == (verdict == 1));
        ml4t_error_t err;
        CHECK_EQ_INT(ml4t_codec_decode_enriched(c, out, len, &d, &err), ML4T_OK);
        CHECK(s_same_enriched(&e, &d));
    }
    ml4t_codec_destroy(&c);
}

static void t_round_trip_outcome_error_risk(void)
{
    ml4t_codec_t *c = ml4t_codec_new(NULL);
    const uint8_t *out;
    size_t len;
    ml4t_outcome_t o = {.instrument_id = "ETHUSDT",
                        .signal_id = "s1",
                        .has_label = true,
                        .label = -1,
                        .ts_outcome = 5},
                   od;
    CHECK_EQ_INT(ml4t_codec_encode_outcome(c, &o, &out, &len, NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_codec_decode_outcome(c, out, len, &od, NULL), ML4T_OK);
    CHECK_STR(od.signal_id, "s1");
    CHECK(od.has_label && !od.has_return && od.label == -1 && od.ts_event == 0);
    ml4t_outcome_t o2 = {
        .instrument_id = "ETHUSDT", .ts_event = 77, .has_return = true, .realized_return = -0.0123};
    CHECK_EQ_INT(ml4t_codec_encode_outcome(c, &o2, &out, &len, NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_codec_decode_outcome(c, out, len, &od, NULL), ML4T_OK);
    CHECK(!od.has_label && od.has_return && od.realized_return == -0.0123 && od.ts_event == 77);
    ml4t_outcome_t o3 = {.instrument_id = "ETHUSDT", .ts_event = 77};
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_codec_encode_outcome(c, &o3, &out, &len, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "label");

    ml4t_error_event_t e = {.code = ML4T_ELIMIT,
                            .message = "too many bars",
                            .instrument_id = "ETHUSDT",
                            .key = "bars",
                            .ts = 9},
                       ed;
    CHECK_EQ_INT(ml4t_codec_encode_error(c, &e, &out, &len, NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_codec_decode_error(c, out, len, &ed, NULL), ML4T_OK);
    CHECK_EQ_INT(ed.code, ML4T_ELIMIT);
    CHECK_STR(ed.reason, "limit_exceeded");
    CHECK_STR(ed.message, "too many bars");
    CHECK_STR(ed.key, "bars");
    CHECK_EQ_INT(ed.ts, 9);
    ml4t_error_event_t unknown = {.code = ML4T_ERR_COUNT_, .reason = "new_reason", .message = ""};
    CHECK_EQ_INT(ml4t_codec_encode_error(c, &unknown, &out, &len, NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_codec_decode_error(c, out, len, &ed, NULL), ML4T_OK);
    CHECK_EQ_INT(ed.code, ML4T_ERR_COUNT_);
    CHECK_STR(ed.reason, "new_reason");

    ml4t_risk_state_t r = {-2.5, 4.25, 3, 7, 120.0, UINT64_MAX - 1}, rd;
    CHECK_EQ_INT(ml4t_codec_encode_risk_state(c, &r, &out, &len, NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_codec_decode_risk_state(c, out, len, &rd, NULL), ML4T_OK);
    CHECK(rd.daily_pnl_pct == -2.5 && rd.drawdown_pct == 4.25 && rd.losing_streak == 3 &&
          rd.open_positions == 7 && rd.total_exposure_pct == 120.0 &&
          rd.ts_event == UINT64_MAX - 1);
    ml4t_codec_destroy(&c);
}

/* ---- peek, mismatch, channels ---- */

static void t_peek_and_mismatch(void)
{
    ml4t_codec_t *c = ml4t_codec_new(NULL);
    ml4t_enriched_t e;
    s_fill_enriched(&e, true);
    const uint8_t *out;
    size_t len;
    CHECK_EQ_INT(ml4t_codec_encode_enriched(c, &e, &out, &len, NULL), ML4T_OK);
    ml4t_msg_type_t t;
    CHECK_EQ_INT(ml4t_codec_peek_type(c, out, len, &t, NULL), ML4T_OK);
    CHECK_EQ_INT(t, ML4T_MSG_ENRICHED);
    CHECK_STR(ml4t_msg_type_name(t), "EnrichedSignalEvent");
    ml4t_signal_t s;
    ml4t_signal_init(&s);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_codec_decode_signal(c, out, len, &s, &err), ML4T_EMISMATCH);
    CHECK_STR(err.field, "type");
    ml4t_risk_state_t r = {0, 0, 0, 0, 0, 1};
    CHECK_EQ_INT(ml4t_codec_encode_risk_state(c, &r, &out, &len, NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_codec_peek_type(c, out, len, &t, NULL), ML4T_OK);
    CHECK_EQ_INT(t, ML4T_MSG_RISK_STATE);
    ml4t_outcome_t o;
    CHECK_EQ_INT(ml4t_codec_decode_outcome(c, out, len, &o, &err), ML4T_EMISMATCH);
    CHECK_STR(err.field, "type");
    CHECK_EQ_INT(ml4t_codec_peek_type(c, NULL, 0, &t, &err), ML4T_EFORMAT);
    CHECK_EQ_INT(t, ML4T_MSG_UNKNOWN);
    ml4t_signal_destroy(&s);
    ml4t_codec_destroy(&c);
}

static void t_channels(void)
{
    char buf[64];
    CHECK_EQ_INT(ml4t_codec_channel(buf, sizeof buf, ML4T_CHANNEL_SIGNALS, "BTCUSDT"), ML4T_OK);
    CHECK_STR(buf, "nautilus:signals:BTCUSDT");
    CHECK_EQ_INT(ml4t_codec_channel(buf, sizeof buf, ML4T_CHANNEL_ENRICHED, NULL), ML4T_OK);
    CHECK_STR(buf, "nautilus:enriched_signals");
    CHECK_EQ_INT(ml4t_codec_channel(buf, sizeof buf, ML4T_CHANNEL_RISK_STATE, ""), ML4T_OK);
    CHECK_STR(buf, "nautilus:risk_state");
    CHECK_EQ_INT(ml4t_codec_channel(buf, 10, ML4T_CHANNEL_OUTCOMES, "X"), ML4T_ELIMIT);
    CHECK_STR(ML4T_CHANNEL_ERRORS, "nautilus:errors");
}

/* ---- limits ---- */

static void t_limits_message_and_bars(void)
{
    ml4t_config_t cfg;
    ml4t_config_defaults(&cfg);
    cfg.max_bars = 50;
    cfg.max_message_bytes = 100000;
    ml4t_codec_limits_t lim;
    ml4t_codec_limits_from_config(&lim, &cfg);
    CHECK_EQ_INT(lim.max_bars, 50);
    CHECK_EQ_INT(lim.max_message_bytes, 100000);
    ml4t_codec_t *wide = ml4t_codec_new(NULL), *narrow = ml4t_codec_new(&lim);
    ml4t_signal_t s, d;
    ml4t_signal_init(&s);
    ml4t_signal_init(&d);
    static uint8_t buf[64 * 1024];
    ml4t_error_t err;
    s_fill_signal(&s, 100, true);
    for (int enc = 0; enc < 2; enc++) {
        size_t len = s_encode_signal(wide, &s, (ml4t_bars_encoding_t)enc, buf, sizeof buf);
        REQUIRE(len > 0);
        CHECK_EQ_INT(ml4t_codec_decode_signal(narrow, buf, len, &d, &err), ML4T_ELIMIT);
        CHECK_STR(err.field, "bars");
        CHECK(d.bars.cap < 100); /* refused before allocating */
    }
    const uint8_t *out;
    size_t len;
    CHECK_EQ_INT(ml4t_codec_encode_signal(narrow, &s, ML4T_BARS_PLAIN, &out, &len, &err),
                 ML4T_ELIMIT);
    CHECK_STR(err.field, "bars");
    lim.max_bars = 10000;
    lim.max_message_bytes = 1024;
    ml4t_codec_destroy(&narrow);
    narrow = ml4t_codec_new(&lim);
    len = s_encode_signal(wide, &s, ML4T_BARS_COLUMNAR, buf, sizeof buf);
    CHECK_EQ_INT(ml4t_codec_decode_signal(narrow, buf, len, &d, &err), ML4T_ELIMIT);
    CHECK_STR(err.field, "message");
    CHECK_EQ_INT(ml4t_codec_peek_type(narrow, buf, len, &(ml4t_msg_type_t){0}, &err), ML4T_ELIMIT);
    CHECK_EQ_INT(ml4t_codec_encode_signal(narrow, &s, ML4T_BARS_COLUMNAR, &out, &len, &err),
                 ML4T_ELIMIT);
    CHECK_STR(err.field, "message");
    ml4t_signal_destroy(&s);
    ml4t_signal_destroy(&d);
    ml4t_codec_destroy(&wide);
    ml4t_codec_destroy(&narrow);
}

static void t_limits_strings_and_depth(void)
{
    ml4t_codec_limits_t lim;
    ml4t_codec_limits_default(&lim);
    lim.max_string_bytes = 8;
    ml4t_codec_t *c = ml4t_codec_new(&lim);
    ml4t_signal_t s, d;
    ml4t_signal_init(&s);
    ml4t_signal_init(&d);
    static uint8_t buf[8192];
    ml4t_error_t err;
    s_fill_signal(&s, 3, false);
    s.strategy_id[0] = s.signal_id[0] = '\0';
    size_t len = s_encode_signal(c, &s, ML4T_BARS_PLAIN, buf, sizeof buf);
    CHECK_EQ_INT(ml4t_codec_decode_signal(c, buf, len, &d, &err), ML4T_OK); /* 7 bytes */
    snprintf(s.instrument_id, sizeof s.instrument_id, "FILUSDT-PERP");
    len = s_encode_signal(c, &s, ML4T_BARS_PLAIN, buf, sizeof buf);
    CHECK_EQ_INT(ml4t_codec_decode_signal(c, buf, len, &d, &err), ML4T_ELIMIT);
    CHECK_STR(err.field, "instrument_id");
    ml4t_codec_destroy(&c);

    /* plain bars sit at depth 3 (message map, bars array, bar array), columns at 2 */
    ml4t_codec_limits_default(&lim);
    lim.max_depth = 2;
    c = ml4t_codec_new(&lim);
    len = s_encode_signal(c, &s, ML4T_BARS_PLAIN, buf, sizeof buf);
    CHECK_EQ_INT(ml4t_codec_decode_signal(c, buf, len, &d, &err), ML4T_ELIMIT);
    CHECK_STR(err.field, "bars");
    len = s_encode_signal(c, &s, ML4T_BARS_COLUMNAR, buf, sizeof buf);
    CHECK_EQ_INT(ml4t_codec_decode_signal(c, buf, len, &d, &err), ML4T_OK);
    CHECK(ml4t_codec_new(&(ml4t_codec_limits_t){0, 1, 1, 1}) == NULL);
    ml4t_codec_destroy(&c);
    ml4t_codec_destroy(&c); /* NULL: no-op */
    ml4t_signal_destroy(&s);
    ml4t_signal_destroy(&d);
}

/* A forged count far below max_bars but far above the bytes present is refused
   before anything is allocated for it. */
static void t_forged_lengths_do_not_allocate(void)
{
    ml4t_codec_limits_t lim;
    ml4t_codec_limits_default(&lim);
    lim.max_bars = 1000000;
    ml4t_codec_t *c = ml4t_codec_new(&lim);
    ml4t_signal_t d;
    ml4t_signal_init(&d);
    ml4t_error_t err;
    static const uint8_t head[] = "\x85\xa4type\xabSignalEvent\xa1v\x01\xadinstrument_id\xa3"
                                  "FIL\xa6signal\x01";
    uint8_t msg[128];
    size_t n = sizeof head - 1;
    memcpy(msg, head, n);
    memcpy(msg + n,
           "\xa4"
           "bars\xdd\x00\x0f\x42\x40\x96\x01",
           12); /* 1,000,000 bars */
    CHECK_EQ_INT(ml4t_codec_decode_signal(c, msg, n + 12, &d, &err), ML4T_EFORMAT);
    CHECK_STR(err.field, "bars");
    CHECK(d.bars.cap == 0);
    /* columnar: a column announcing 8 MB with 8 bytes behind it */
    memcpy(msg + n,
           "\xa4"
           "bars\x81\xa2ts\xc6\x00\x70\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08",
           22);
    CHECK_EQ_INT(ml4t_codec_decode_signal(c, msg, n + 22, &d, &err), ML4T_EFORMAT);
    CHECK_STR(err.field, "bars.ts");
    CHECK(d.bars.cap == 0);
    ml4t_signal_destroy(&d);
    ml4t_codec_destroy(&c);
}

/* ---- truncation and mutation ---- */

enum { S_NSEEDS = 6 };
typedef struct {
    uint8_t *buf[S_NSEEDS];
    size_t len[S_NSEEDS];
    ml4t_msg_type_t type[S_NSEEDS];
} s_seeds_t;

static void s_seeds_make(ml4t_codec_t *c, s_seeds_t *sd)
{
    ml4t_signal_t s;
    ml4t_signal_init(&s);
    s_fill_signal(&s, 20, true);
    ml4t_enriched_t e;
    s_fill_enriched(&e, true);
    ml4t_outcome_t o = {.instrument_id = "FILUSDT",
                        .signal_id = "x",
                        .has_label = true,
                        .label = 1,
                        .ts_outcome = 3};
    ml4t_error_event_t ev = {.code = ML4T_ETYPE, .message = "m", .key = "bars[1][0]", .ts = 1};
    ml4t_risk_state_t r = {-1.0, 2.0, 1, 2, 30.0, 4};
    for (int k = 0; k < S_NSEEDS; k++) {
        const uint8_t *out = NULL;
        size_t len = 0;
        if (k < 2)
            ml4t_codec_encode_signal(c, &s, (ml4t_bars_encoding_t)k, &out, &len, NULL);
        else if (k == 2)
            ml4t_codec_encode_enriched(c, &e, &out, &len, NULL);
        else if (k == 3)
            ml4t_codec_encode_outcome(c, &o, &out, &len, NULL);
        else if (k == 4)
            ml4t_codec_encode_error(c, &ev, &out, &len, NULL);
        else
            ml4t_codec_encode_risk_state(c, &r, &out, &len, NULL);
        sd->buf[k] = malloc(len);
        memcpy(sd->buf[k], out, len);
        sd->len[k] = len;
        sd->type[k] = k < 2 ? ML4T_MSG_SIGNAL : (ml4t_msg_type_t)(k);
    }
    ml4t_signal_destroy(&s);
}

static void s_seeds_free(s_seeds_t *sd)
{
    for (int k = 0; k < S_NSEEDS; k++)
        free(sd->buf[k]);
}

static ml4t_err_t s_decode_as(ml4t_codec_t *c, ml4t_msg_type_t t, const uint8_t *buf, size_t len,
                              cj_any_t *m, ml4t_error_t *err)
{
    m->type = t;
    switch (t) {
    case ML4T_MSG_SIGNAL:
        return ml4t_codec_decode_signal(c, buf, len, &m->signal, err);
    case ML4T_MSG_ENRICHED:
        return ml4t_codec_decode_enriched(c, buf, len, &m->enriched, err);
    case ML4T_MSG_OUTCOME:
        return ml4t_codec_decode_outcome(c, buf, len, &m->outcome, err);
    case ML4T_MSG_ERROR:
        return ml4t_codec_decode_error(c, buf, len, &m->error, err);
    default:
        return ml4t_codec_decode_risk_state(c, buf, len, &m->risk, err);
    }
}

static void t_truncated_at_every_offset(void)
{
    ml4t_codec_t *c = ml4t_codec_new(NULL);
    s_seeds_t sd;
    s_seeds_make(c, &sd);
    cj_any_t m;
    cj_any_init(&m);
    size_t tried = 0;
    for (int k = 0; k < S_NSEEDS; k++) {
        for (size_t cut = 0; cut < sd.len[k]; cut++) {
            /* a heap copy of exactly cut bytes: ASan sees any read past it */
            uint8_t *p = malloc(cut ? cut : 1);
            memcpy(p, sd.buf[k], cut);
            ml4t_error_t err;
            ml4t_error_clear(&err);
            ml4t_err_t rc = s_decode_as(c, sd.type[k], p, cut, &m, &err);
            if (rc != ML4T_EFORMAT)
                fprintf(stderr, "  seed %d cut at %zu: %s %s\n", k, cut, ml4t_err_reason(rc),
                        err.msg);
            CHECK_EQ_INT(rc, ML4T_EFORMAT);
            ml4t_msg_type_t t;
            (void)ml4t_codec_peek_type(c, p, cut, &t, NULL);
            free(p);
            tried++;
        }
        CHECK_EQ_INT(s_decode_as(c, sd.type[k], sd.buf[k], sd.len[k], &m, NULL), ML4T_OK);
    }
    printf("  %zu truncated messages refused\n", tried);
    cj_any_destroy(&m);
    s_seeds_free(&sd);
    ml4t_codec_destroy(&c);
}

static uint64_t s_rng = 0x9e3779b97f4a7c15ull;
static uint64_t s_rand(void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 2685821657736338717ull;
}

static size_t s_mutate(uint8_t *p, size_t len, size_t cap)
{
    static const uint8_t interesting[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xc0, 0xc1, 0xc6,
                                          0xca, 0xcb, 0xcf, 0xd3, 0xdb, 0xdd, 0xdf, 0xff};
    int ops = 1 + (int)(s_rand() % 4);
    for (int k = 0; k < ops && len > 0; k++) {
        size_t at = s_rand() % len;
        switch (s_rand() % 6) {
        case 0:
            p[at] ^= (uint8_t)(1u << (s_rand() % 8));
            break;
        case 1:
            p[at] = interesting[s_rand() % sizeof interesting];
            break;
        case 2:
            p[at] = (uint8_t)s_rand();
            break;
        case 3:
            if (len < cap) {
                memmove(p + at + 1, p + at, len - at);
                p[at] = (uint8_t)s_rand();
                len++;
            }
            break;
        case 4:
            memmove(p + at, p + at + 1, len - at - 1);
            len--;
            break;
        default:
            len = at;
            break;
        }
    }
    return len;
}

/* After a successful decode: an independent decoder and a re-encode agree. */
static void s_check_accepted(ml4t_codec_t *c, cj_any_t *m, const uint8_t *p, size_t len,
                             msgpack_unpacked *u, ml4t_signal_t *ref)
{
    const uint8_t *out;
    size_t olen;
    cj_any_t again;
    cj_any_init(&again);
    ml4t_err_t rc = ML4T_EINVAL;
    if (m->type == ML4T_MSG_SIGNAL) {
        CHECK_EQ_INT(ref_decode_signal(u, p, len, ref), 0);
        CHECK(s_same_signal(&m->signal, ref));
        ml4t_error_t err;
        if (ml4t_codec_encode_signal(c, &m->signal, ML4T_BARS_PLAIN, &out, &olen, NULL) == 0)
            rc = s_decode_as(c, m->type, out, olen, &again, &err);
        if (rc)
            fprintf(stderr, "  re-decode: %s: %s\n", err.field, err.msg);
        CHECK(rc == ML4T_OK && s_same_signal(&m->signal, &again.signal));
    } else if (m->type == ML4T_MSG_ENRICHED) {
        if (ml4t_codec_encode_enriched(c, &m->enriched, &out, &olen, NULL) == 0)
            rc = s_decode_as(c, m->type, out, olen, &again, NULL);
        CHECK(rc == ML4T_OK && s_same_enriched(&m->enriched, &again.enriched));
    } else {
        if (m->type == ML4T_MSG_OUTCOME)
            rc = ml4t_codec_encode_outcome(c, &m->outcome, &out, &olen, NULL);
        else if (m->type == ML4T_MSG_ERROR)
            rc = ml4t_codec_encode_error(c, &m->error, &out, &olen, NULL);
        else
            rc = ml4t_codec_encode_risk_state(c, &m->risk, &out, &olen, NULL);
        CHECK(rc == ML4T_OK && s_decode_as(c, m->type, out, olen, &again, NULL) == ML4T_OK);
    }
    cj_any_destroy(&again);
}

static void t_mutation_loop(void)
{
    ml4t_codec_t *c = ml4t_codec_new(NULL);
    s_seeds_t sd;
    s_seeds_make(c, &sd);
    cj_any_t m;
    cj_any_init(&m);
    ml4t_signal_t ref;
    ml4t_signal_init(&ref);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t accepted = 0, iters = 30000;
    for (size_t it = 0; it < iters; it++) {
        int k = (int)(s_rand() % S_NSEEDS);
        size_t cap = sd.len[k] + 64;
        uint8_t *p = malloc(cap);
        memcpy(p, sd.buf[k], sd.len[k]);
        size_t len = s_mutate(p, sd.len[k], cap);
        uint8_t *exact = malloc(len ? len : 1); /* exact size: ASan catches overreads */
        memcpy(exact, p, len);
        for (int t = ML4T_MSG_SIGNAL; t <= ML4T_MSG_RISK_STATE; t++) {
            ml4t_error_t err;
            ml4t_error_clear(&err);
            ml4t_err_t rc = s_decode_as(c, (ml4t_msg_type_t)t, exact, len, &m, &err);
            if (rc == ML4T_OK) {
                accepted++;
                s_check_accepted(c, &m, exact, len, &u, &ref);
            } else {
                CHECK(err.code == rc && rc > 0 && rc < ML4T_ERR_COUNT_);
                CHECK(err.msg[0] != '\0' && memchr(err.field, '\0', sizeof err.field));
            }
        }
        ml4t_msg_type_t t;
        (void)ml4t_codec_peek_type(c, exact, len, &t, NULL);
        free(exact);
        free(p);
    }
    printf("  %zu mutated messages, %zu decodes accepted and cross-checked\n", iters, accepted);
    CHECK(accepted > 0);
    msgpack_unpacked_destroy(&u);
    ml4t_signal_destroy(&ref);
    cj_any_destroy(&m);
    s_seeds_free(&sd);
    ml4t_codec_destroy(&c);
}

/* ---- hot path: no allocation after warm-up ---- */

static void t_no_allocation_after_warmup(void)
{
    ml4t_codec_t *c = ml4t_codec_new(NULL);
    ml4t_signal_t s, d;
    ml4t_signal_init(&s);
    ml4t_signal_init(&d);
    s_fill_signal(&s, 100, true);
    static uint8_t plain[16384], cols[16384];
    size_t lp = s_encode_signal(c, &s, ML4T_BARS_PLAIN, plain, sizeof plain);
    size_t lc = s_encode_signal(c, &s, ML4T_BARS_COLUMNAR, cols, sizeof cols);
    ml4t_enriched_t e;
    s_fill_enriched(&e, true);
    const uint8_t *out;
    size_t len;
    int failures = 0;
    for (int round = 0; round < 2; round++) {
        size_t before = s_allocs; /* round 0 warms up, round 1 must allocate nothing */
        for (int i = 0; i < 1000; i++) {
            failures += ml4t_codec_decode_signal(c, plain, lp, &d, NULL) != ML4T_OK;
            failures += ml4t_codec_decode_signal(c, cols, lc, &d, NULL) != ML4T_OK;
            failures += ml4t_codec_encode_enriched(c, &e, &out, &len, NULL) != ML4T_OK;
            failures += ml4t_codec_encode_signal(c, &s, i % 2, &out, &len, NULL) != ML4T_OK;
        }
        if (round == 0 && s_allocs_observable()) /* the counter works: warm-up reserved bars */
            CHECK(s_allocs - before > 0);
        if (round == 1 && s_allocs_observable())
            CHECK_EQ_INT(s_allocs - before, 0);
    }
    if (!s_allocs_observable())
        printf("  allocation count not observable in this (sanitizer, valgrind) run\n");
    CHECK_EQ_INT(failures, 0);
    ml4t_signal_destroy(&s);
    ml4t_signal_destroy(&d);
    ml4t_codec_destroy(&c);
}

/* A map value by key from msgpack-c's object tree (the independent reader). */
static const msgpack_object *s_obj_get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static bool s_obj_str_is(const msgpack_object *o, const char *want)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(want) &&
           memcmp(o->via.str.ptr, want, o->via.str.size) == 0;
}

static void t_encode_policy(void)
{
    ml4t_policy_config_t cfg;
    ml4t_policy_config_default(&cfg);
    ml4t_policy_inputs_t in;
    ml4t_policy_inputs_init(&in);
    in.regime = ML4T_POLICY_REGIME_RANGING;
    in.volatility = ML4T_POLICY_VOL_HIGH;
    in.risk.drawdown_pct = 3.5;
    ml4t_policy_symbol_perf_t sym[2] = {{.instrument_id = "BADUSDT", .tag = ML4T_POLICY_TAG_BAD},
                                        {.instrument_id = "FILUSDT", .tag = ML4T_POLICY_TAG_GOOD}};
    in.symbols = sym;
    in.n_symbols = 2;
    ml4t_trading_policy_t pol;
    REQUIRE(ml4t_policy_compute(&cfg, &in, 1700000000000000000ull, &pol, NULL) == ML4T_OK);
    ml4t_codec_t *c = ml4t_codec_new(NULL);
    REQUIRE(c);
    const uint8_t *buf;
    size_t len;
    CHECK_EQ_INT(ml4t_codec_encode_policy(c, &pol, &buf, &len, NULL), ML4T_OK);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    REQUIRE(msgpack_unpack_next(&u, (const char *)buf, len, &off) == MSGPACK_UNPACK_SUCCESS);
    CHECK_EQ_INT(off, len);
    const msgpack_object *m = &u.data;
    CHECK(s_obj_str_is(s_obj_get(m, "type"), "TradingPolicy"));
    const msgpack_object *allow = s_obj_get(m, "allow_new_trades");
    CHECK(allow && allow->type == MSGPACK_OBJECT_BOOLEAN && !allow->via.boolean);
    CHECK(s_obj_str_is(s_obj_get(m, "risk_profile"), "NO_NEW_TRADES"));
    CHECK(s_obj_str_is(s_obj_get(m, "entry_mode"), ml4t_policy_entry_mode_name(pol.entry_mode)));
    const msgpack_object *dis = s_obj_get(m, "disallowed_symbols");
    CHECK(dis && dis->type == MSGPACK_OBJECT_ARRAY && dis->via.array.size == 1 &&
          s_obj_str_is(&dis->via.array.ptr[0], "BADUSDT"));
    const msgpack_object *rules = s_obj_get(m, "rules");
    CHECK(rules && rules->type == MSGPACK_OBJECT_ARRAY && rules->via.array.size >= 3);
    const msgpack_object *ts = s_obj_get(m, "ts_policy");
    CHECK(ts && ts->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
          ts->via.u64 == 1700000000000000000ull);
    const msgpack_object *reason = s_obj_get(m, "block_reason");
    CHECK(reason && reason->type == MSGPACK_OBJECT_STR && reason->via.str.size > 0);
    ml4t_msg_type_t type;
    CHECK_EQ_INT(ml4t_codec_peek_type(c, buf, len, &type, NULL), ML4T_OK);
    CHECK_EQ_INT(type, ML4T_MSG_POLICY);
    msgpack_unpacked_destroy(&u);
    ml4t_codec_destroy(&c);
}

static const t_case_t cases[] = {
    T_CASE(t_encode_policy),
    T_CASE(t_golden_vectors),
    T_CASE(t_vectors_agree_with_msgpack_c),
    T_CASE(t_round_trip_signal),
    T_CASE(t_round_trip_enriched),
    T_CASE(t_round_trip_outcome_error_risk),
    T_CASE(t_peek_and_mismatch),
    T_CASE(t_channels),
    T_CASE(t_limits_message_and_bars),
    T_CASE(t_limits_strings_and_depth),
    T_CASE(t_forged_lengths_do_not_allocate),
    T_CASE(t_truncated_at_every_offset),
    T_CASE(t_mutation_loop),
    T_CASE(t_no_allocation_after_warmup),
};
T_MAIN(cases)
