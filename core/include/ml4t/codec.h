/*  ml4t_codec: the wire format. Every message that crosses a broker is msgpack,
    and this class is the only place in ml4t that reads or writes it. The format
    itself is specified, language-neutral, in schemas/README.md.

    Decoding is a bounded, validating pull decoder over the msgpack bytes (no
    object tree, no allocation per message): it never reads outside [buf,
    buf+len), checks every length prefix against the limits and the bytes left
    before using it, and names the key at fault in err->field ("instrument_id",
    "bars[3][4]", "bars.close", "size_factors.kelly"). Encoding uses msgpack-c's
    packer into a buffer owned by the codec.

    Thread safety: none. A codec holds one encode buffer; use one codec per
    thread. Decoders and encoders may be interleaved freely on one thread. */
#ifndef ML4T_CODEC_H_INCLUDED
#define ML4T_CODEC_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "ml4t/config.h"
#include "ml4t/error.h"
#include "ml4t/event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default channel (topic) names. A publisher may append ":<instrument_id>" to
   shard by instrument (see ml4t_codec_channel). */
#define ML4T_CHANNEL_SIGNALS    "nautilus:signals"
#define ML4T_CHANNEL_ENRICHED   "nautilus:enriched_signals"
#define ML4T_CHANNEL_OUTCOMES   "nautilus:outcomes"
#define ML4T_CHANNEL_ERRORS     "nautilus:errors"
#define ML4T_CHANNEL_RISK_STATE "nautilus:risk_state"

typedef enum {
    ML4T_MSG_UNKNOWN = 0,
    ML4T_MSG_SIGNAL,     /* "SignalEvent" */
    ML4T_MSG_ENRICHED,   /* "EnrichedSignalEvent" */
    ML4T_MSG_OUTCOME,    /* "OutcomeEvent" */
    ML4T_MSG_ERROR,      /* "ErrorEvent" */
    ML4T_MSG_RISK_STATE, /* "RiskStateEvent" */
    ML4T_MSG_POLICY,     /* "TradingPolicy": encoded only (the node publishes it) */
} ml4t_msg_type_t;

/* The wire name of a message type ("SignalEvent"); "" for ML4T_MSG_UNKNOWN. */
const char *ml4t_msg_type_name(ml4t_msg_type_t type);

typedef enum {
    ML4T_BARS_PLAIN = 0, /* array of [ts, open, high, low, close, volume(, buy_volume)] */
    ML4T_BARS_COLUMNAR,  /* map of little-endian bin columns */
} ml4t_bars_encoding_t;

typedef struct ml4t_codec_limits {
    size_t max_message_bytes; /* whole message; default 4 MiB (config max_message_bytes) */
    size_t max_bars;          /* bars per SignalEvent; default 10000 (config max_bars) */
    size_t max_string_bytes;  /* any string field, further capped by its struct field */
    size_t max_depth;         /* nesting of maps/arrays, counting the message map; <= 64 */
} ml4t_codec_limits_t;

/* Defaults: 4 MiB, 10000 bars, 256 string bytes, depth 16. */
void ml4t_codec_limits_default(ml4t_codec_limits_t *limits);
/* Defaults, with max_message_bytes and max_bars taken from cfg. */
void ml4t_codec_limits_from_config(ml4t_codec_limits_t *limits, const ml4t_config_t *cfg);

typedef struct ml4t_codec ml4t_codec_t;

/* New codec with the given limits (NULL: defaults). NULL on allocation failure
   or when a limit is 0. Caller owns; free with ml4t_codec_destroy. */
ml4t_codec_t *ml4t_codec_new(const ml4t_codec_limits_t *limits);
void ml4t_codec_destroy(ml4t_codec_t **self_p);
/* The limits in force (read-only, valid while the codec lives). */
const ml4t_codec_limits_t *ml4t_codec_limits(const ml4t_codec_t *self);

/* Channel name for a base channel and an optional instrument suffix:
   "nautilus:signals" + "BTCUSDT" -> "nautilus:signals:BTCUSDT". instrument_id
   may be NULL or "" (no suffix). ML4T_ELIMIT when buf is too small. */
ml4t_err_t ml4t_codec_channel(char *buf, size_t size, const char *base, const char *instrument_id);

/* Read the message's `type` (and check `v`) without decoding the rest. Errors:
   EFORMAT (not a msgpack map), EMISSING "type"/"v", ETYPE, EUNSUPPORTED "type"
   (unknown type) or "v" (version other than 1), ELIMIT "message". */
ml4t_err_t ml4t_codec_peek_type(ml4t_codec_t *self, const uint8_t *buf, size_t len,
                                ml4t_msg_type_t *type, ml4t_error_t *err);

/* --- decoders. buf is borrowed for the call only; nothing in out points into it.
   Every decoder rejects a message of another type (EMISMATCH "type"). */

/* Decode and validate a SignalEvent into a caller-owned signal (ml4t_signal_init
   first; its bar buffers are reused, so after warm-up this allocates nothing).
   Either bar encoding is accepted. After structural decoding, the values are
   validated with ml4t_signal_validate(out, 0, max_bars): instrument_id not
   empty, signal in {-1, 0, 1}, every bar sane (field "bars[i].low" etc.). The
   minimum bar count is the caller's policy, not checked here. On error *out is
   unspecified but safe to reuse and destroy. */
ml4t_err_t ml4t_codec_decode_signal(ml4t_codec_t *self, const uint8_t *buf, size_t len,
                                    ml4t_signal_t *out, ml4t_error_t *err);
ml4t_err_t ml4t_codec_decode_enriched(ml4t_codec_t *self, const uint8_t *buf, size_t len,
                                      ml4t_enriched_t *out, ml4t_error_t *err);
/* Requires signal_id or ts_event, and label or realized_return. */
ml4t_err_t ml4t_codec_decode_outcome(ml4t_codec_t *self, const uint8_t *buf, size_t len,
                                     ml4t_outcome_t *out, ml4t_error_t *err);
/* A reason this version does not know is kept in out->reason with
   out->code = ML4T_ERR_COUNT_. */
ml4t_err_t ml4t_codec_decode_error(ml4t_codec_t *self, const uint8_t *buf, size_t len,
                                   ml4t_error_event_t *out, ml4t_error_t *err);
/* Values are checked: finite numbers, drawdown/exposure/counts >= 0. */
ml4t_err_t ml4t_codec_decode_risk_state(ml4t_codec_t *self, const uint8_t *buf, size_t len,
                                        ml4t_risk_state_t *out, ml4t_error_t *err);

/* --- encoders. On success *out points into the codec's buffer: valid until the
   next encode call on this codec or its destruction; copy it to keep it.
   ELIMIT "message" when the result would exceed max_message_bytes (peers
   would refuse it), ELIMIT "bars" above max_bars, ENOMEM on allocation failure. */

/* Bars in the chosen encoding; buy_volume is sent only when some bar has it. */
ml4t_err_t ml4t_codec_encode_signal(ml4t_codec_t *self, const ml4t_signal_t *sig,
                                    ml4t_bars_encoding_t encoding, const uint8_t **out,
                                    size_t *out_len, ml4t_error_t *err);
/* The verdict map is written only when e->verdict.present. */
ml4t_err_t ml4t_codec_encode_enriched(ml4t_codec_t *self, const ml4t_enriched_t *e,
                                      const uint8_t **out, size_t *out_len, ml4t_error_t *err);
ml4t_err_t ml4t_codec_encode_outcome(ml4t_codec_t *self, const ml4t_outcome_t *o,
                                     const uint8_t **out, size_t *out_len, ml4t_error_t *err);
/* reason on the wire is ml4t_err_reason(e->code), or e->reason when code is
   not a known code. */
ml4t_err_t ml4t_codec_encode_error(ml4t_codec_t *self, const ml4t_error_event_t *e,
                                   const uint8_t **out, size_t *out_len, ml4t_error_t *err);
ml4t_err_t ml4t_codec_encode_risk_state(ml4t_codec_t *self, const ml4t_risk_state_t *r,
                                        const uint8_t **out, size_t *out_len, ml4t_error_t *err);

struct ml4t_trading_policy; /* see ml4t/policy.h */
/* The current trading policy, published on nautilus:policy when it changes
   (see schemas/README.md, "TradingPolicy"). */
ml4t_err_t ml4t_codec_encode_policy(ml4t_codec_t *self, const struct ml4t_trading_policy *pol,
                                    const uint8_t **out, size_t *out_len, ml4t_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
