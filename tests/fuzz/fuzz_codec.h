/*  Shared body of the codec fuzz harnesses (one harness per decoder).

    For any input: the decoder must not crash, read out of bounds, leak or
    hang (the sanitizers and libFuzzer watch for that), an error must come with
    its code and a message, and a message that decodes must survive a
    re-encode and decode unchanged in its bar count and identity. A broken
    property traps, which libFuzzer reports as a finding. */
#ifndef ML4T_FUZZ_CODEC_H_INCLUDED
#define ML4T_FUZZ_CODEC_H_INCLUDED

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ml4t/codec.h"

typedef struct {
    ml4t_codec_t *codec;
    ml4t_signal_t signal, again;
    ml4t_enriched_t enriched;
    ml4t_outcome_t outcome;
    ml4t_error_event_t error;
    ml4t_risk_state_t risk;
} fuzz_state_t;

static fuzz_state_t *fuzz_state(void)
{
    static fuzz_state_t st; /* reused across inputs, as on the hot path */
    if (!st.codec) {
        st.codec = ml4t_codec_new(NULL);
        ml4t_signal_init(&st.signal);
        ml4t_signal_init(&st.again);
        if (!st.codec)
            abort();
    }
    return &st;
}

static void fuzz_require(int cond)
{
    if (!cond)
        __builtin_trap();
}

static void fuzz_signal_again(fuzz_state_t *st)
{
    for (int enc = 0; enc < 2; enc++) {
        const uint8_t *out;
        size_t len;
        fuzz_require(ml4t_codec_encode_signal(st->codec, &st->signal, (ml4t_bars_encoding_t)enc,
                                              &out, &len, NULL) == ML4T_OK);
        fuzz_require(ml4t_codec_decode_signal(st->codec, out, len, &st->again, NULL) == ML4T_OK);
        fuzz_require(st->again.bars.n == st->signal.bars.n &&
                     st->again.ts_event == st->signal.ts_event &&
                     strcmp(st->again.instrument_id, st->signal.instrument_id) == 0);
        fuzz_require(st->signal.bars.n == 0 ||
                     memcmp(st->again.bars.ts, st->signal.bars.ts, st->signal.bars.n * 8) == 0);
    }
}

static int fuzz_codec_one(ml4t_msg_type_t type, const uint8_t *data, size_t size)
{
    fuzz_state_t *st = fuzz_state();
    ml4t_error_t err;
    ml4t_error_clear(&err);
    ml4t_msg_type_t peeked;
    (void)ml4t_codec_peek_type(st->codec, data, size, &peeked, NULL);
    const uint8_t *out;
    size_t len;
    ml4t_err_t rc, again = ML4T_OK;
    switch (type) {
    case ML4T_MSG_SIGNAL:
        if ((rc = ml4t_codec_decode_signal(st->codec, data, size, &st->signal, &err)) == ML4T_OK)
            fuzz_signal_again(st);
        break;
    case ML4T_MSG_ENRICHED:
        if ((rc = ml4t_codec_decode_enriched(st->codec, data, size, &st->enriched, &err)) == 0)
            again = ml4t_codec_encode_enriched(st->codec, &st->enriched, &out, &len, NULL) ||
                    ml4t_codec_decode_enriched(st->codec, out, len, &st->enriched, NULL);
        break;
    case ML4T_MSG_OUTCOME:
        if ((rc = ml4t_codec_decode_outcome(st->codec, data, size, &st->outcome, &err)) == 0)
            again = ml4t_codec_encode_outcome(st->codec, &st->outcome, &out, &len, NULL) ||
                    ml4t_codec_decode_outcome(st->codec, out, len, &st->outcome, NULL);
        break;
    case ML4T_MSG_ERROR:
        if ((rc = ml4t_codec_decode_error(st->codec, data, size, &st->error, &err)) == 0)
            again = ml4t_codec_encode_error(st->codec, &st->error, &out, &len, NULL) ||
                    ml4t_codec_decode_error(st->codec, out, len, &st->error, NULL);
        break;
    default:
        if ((rc = ml4t_codec_decode_risk_state(st->codec, data, size, &st->risk, &err)) == 0)
            again = ml4t_codec_encode_risk_state(st->codec, &st->risk, &out, &len, NULL) ||
                    ml4t_codec_decode_risk_state(st->codec, out, len, &st->risk, NULL);
        break;
    }
    fuzz_require(again == ML4T_OK);
    if (rc != ML4T_OK)
        fuzz_require(err.code == rc && err.msg[0] != '\0' &&
                     memchr(err.field, '\0', sizeof err.field) != NULL);
    return 0;
}

#endif
