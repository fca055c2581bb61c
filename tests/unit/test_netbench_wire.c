/*  The network benchmark's reading of messages (tests/bench/netbench_wire.c),
    checked against the codec's real encodings: the signal_id it stamps and
    finds again, and the node's own time it reads from an answer. */
#include "netbench.h"

#include "ml4t/codec.h"
#include "ml4t/event.h"
#include "testutil.h"

static ml4t_codec_t *s_codec(void)
{
    ml4t_codec_limits_t lim;
    ml4t_codec_limits_default(&lim);
    return ml4t_codec_new(&lim);
}

static void s_stamped_id(char *id, uint64_t seq, uint64_t send_ns)
{
    memset(id, 'x', NB_ID_LEN);
    id[NB_ID_LEN] = '\0';
    nb_stamp_id((uint8_t *)id, 0, 'm', seq, send_ns);
}

static void s_fill_enriched(ml4t_enriched_t *e, uint64_t own_ns)
{
    memset(e, 0, sizeof *e);
    snprintf(e->instrument_id, sizeof e->instrument_id, "FILUSDT-3");
    s_stamped_id(e->signal_id, 123456789, 98765432109876543ull);
    snprintf(e->model_version, sizeof e->model_version, "m-1");
    e->signal = 1;
    e->ts_event = 1700000000123456789ull;
    e->meta_confidence = 0.6;
    e->toxicity = 0.4;
    e->latency_ns = own_ns;
    /* the other latencies differ, so a parser that read one of them fails */
    e->latency_decode_ns = 777;
    e->latency_features_ns = 888888;
    e->latency_predict_ns = 99999999;
    e->latency_encode_ns = 3;
    e->ts_enriched = 1700000000123507000ull;
}

/* Every msgpack width of an unsigned integer, at both edges. */
static void t_own_ns_every_width(void)
{
    static const uint64_t values[] = {0,     1,     127,   128,        255,        256,
                                      65535, 65536, 41234, 4294967295, 4294967296, UINT64_MAX};
    ml4t_codec_t *c = s_codec();
    CHECK(c);
    ml4t_enriched_t e;
    for (size_t i = 0; c && i < sizeof values / sizeof values[0]; i++) {
        s_fill_enriched(&e, values[i]);
        const uint8_t *out;
        size_t len, hint = 0, id_hint = 0;
        CHECK(ml4t_codec_encode_enriched(c, &e, &out, &len, NULL) == ML4T_OK);
        uint64_t own = 42;
        CHECK(nb_parse_own_ns(out, len, &hint, &own));
        if (own != values[i])
            fprintf(stderr, "  latency_ns %llu read as %llu\n", (unsigned long long)values[i],
                    (unsigned long long)own);
        CHECK(own == values[i]);
        char kind = 0;
        uint64_t seq = 0, sent = 0;
        CHECK(nb_parse_id(out, len, &id_hint, &kind, &seq, &sent));
        CHECK(kind == 'm' && seq == 123456789 && sent == 98765432109876543ull);
    }
    ml4t_codec_destroy(&c);
}

/* A hint left by one message does not mislead the reading of the next,
   whose field is elsewhere (a longer instrument name shifts everything). */
static void t_own_ns_hint_moves(void)
{
    ml4t_codec_t *c = s_codec();
    ml4t_enriched_t e;
    const uint8_t *out;
    size_t len, hint = 0;
    uint64_t own = 0;
    s_fill_enriched(&e, 5000);
    CHECK(ml4t_codec_encode_enriched(c, &e, &out, &len, NULL) == ML4T_OK);
    CHECK(nb_parse_own_ns(out, len, &hint, &own) && own == 5000);
    size_t first = hint;
    s_fill_enriched(&e, 70000);
    snprintf(e.instrument_id, sizeof e.instrument_id, "A-MUCH-LONGER-INSTRUMENT-NAME");
    CHECK(ml4t_codec_encode_enriched(c, &e, &out, &len, NULL) == ML4T_OK);
    CHECK(nb_parse_own_ns(out, len, &hint, &own) && own == 70000);
    CHECK(hint != first);
    ml4t_codec_destroy(&c);
}

/* The floor forwards the signal itself: it has an id and no own time. */
static void t_signal_has_no_own_ns(void)
{
    ml4t_codec_t *c = s_codec();
    ml4t_signal_t s;
    ml4t_signal_init(&s);
    snprintf(s.instrument_id, sizeof s.instrument_id, "FILUSDT-0");
    s_stamped_id(s.signal_id, 7, 1234);
    s.signal = -1;
    s.ts_event = 1700000000000000000ull;
    ml4t_bars_push(&s.bars, 1700000000000000000ull, 3.8, 3.9, 3.7, 3.85, 1000.0, 400.0);
    const uint8_t *out;
    size_t len, hint = 0, id_hint = 0;
    CHECK(ml4t_codec_encode_signal(c, &s, ML4T_BARS_PLAIN, &out, &len, NULL) == ML4T_OK);
    uint64_t own = 42, seq = 0, sent = 0;
    char kind = 0;
    CHECK(!nb_parse_own_ns(out, len, &hint, &own));
    CHECK(own == 42);
    CHECK(nb_parse_id(out, len, &id_hint, &kind, &seq, &sent) && seq == 7 && sent == 1234);
    ml4t_signal_destroy(&s);
    ml4t_codec_destroy(&c);
}

/* An answer cut anywhere inside its latency_ns is refused, never read past
   its end (AddressSanitizer checks the copies below, each exactly its length). */
static void t_own_ns_truncated(void)
{
    ml4t_codec_t *c = s_codec();
    ml4t_enriched_t e;
    const uint8_t *out;
    size_t len, hint = 0;
    uint64_t own = 0;
    s_fill_enriched(&e, 4294967296ull); /* 0xcf and 8 bytes */
    CHECK(ml4t_codec_encode_enriched(c, &e, &out, &len, NULL) == ML4T_OK);
    CHECK(nb_parse_own_ns(out, len, &hint, &own));
    size_t value_end = hint + 11 + 9;
    for (size_t cut = hint; cut < value_end; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, out, cut);
        size_t h = hint; /* the hint points at a key the copy may not hold */
        CHECK(!nb_parse_own_ns(copy, cut, &h, &own));
        h = 0;
        CHECK(!nb_parse_own_ns(copy, cut, &h, &own));
        free(copy);
    }
    ml4t_codec_destroy(&c);
}

static const t_case_t cases[] = {
    T_CASE(t_own_ns_every_width),
    T_CASE(t_own_ns_hint_moves),
    T_CASE(t_signal_has_no_own_ns),
    T_CASE(t_own_ns_truncated),
};

T_MAIN(cases)
