/*  ml4t_transport: the ops table every broker adapter fills, its configuration,
    and a thin handle that dispatches to it.

    A transport moves opaque byte frames, each with a topic. It never looks
    inside a payload: only ml4t_codec knows the wire format. Topics are the
    channel names of the wire format ("nautilus:signals"), optionally followed
    by ":<instrument>" so several nodes can shard a mesh by subscription.

    Adapters (each one file exporting exactly one table, or two for Redis):
        ml4t_transport_zmq            ZeroMQ SUB in, XPUB out (through czmq)
        ml4t_transport_redis_pubsub   Redis PUBLISH / PSUBSCRIBE
        ml4t_transport_redis_streams  Redis Streams with a consumer group
        ml4t_transport_failover       wraps a primary and a fallback transport

    Tables are append-only and versioned: a field is added at the end and the
    ABI version raised, a signature never changes. A table built for an older
    ABI (down to ML4T_TRANSPORT_ABI_MIN) is still accepted: the entries it
    lacks are read as NULL. A NULL entry means the adapter does not support
    that operation (the dispatch helpers then return ML4T_EUNSUPPORTED, or
    fall back where they say so).

    Threading: one transport instance belongs to one thread at a time. No
    entry is re-entrant on the same state; different instances are
    independent. No entry calls back into the caller. */
#ifndef ML4T_TRANSPORT_H_INCLUDED
#define ML4T_TRANSPORT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml4t/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_TRANSPORT_ABI_VERSION  2 /* 2: publish_reply */
#define ML4T_TRANSPORT_ABI_MIN      1 /* the oldest table ml4t_transport_new accepts */
#define ML4T_TRANSPORT_ENDPOINT_MAX 256
#define ML4T_TRANSPORT_NAME_MAX     128 /* host, stream, group, consumer, user, password */
#define ML4T_TRANSPORT_ID_MAX       48  /* a stream entry id "<ms>-<seq>" fits with room */
#define ML4T_TRANSPORT_PATH_MAX     256 /* certificate files and directories */

/* One received message. Every pointer is owned by the transport that filled
   it and stays valid until the next recv on that transport, or its close.
   ack does not invalidate a frame. Copy what must outlive that. */
typedef struct ml4t_frame {
    const char *topic;              /* read-only; NUL-terminated, binary topics are not supported */
    size_t topic_len;               /* read-only */
    const void *payload;            /* read-only; may contain any bytes */
    size_t payload_len;             /* read-only */
    char id[ML4T_TRANSPORT_ID_MAX]; /* read-only: stream entry id, "" when the transport
                                       has no acknowledgement */
    const char *source;             /* read-only: the stream key for Streams, NULL otherwise */
    uint32_t origin;                /* private: which wrapped transport delivered it (failover) */
} ml4t_frame_t;

/* Counters since init. All counters only grow. */
typedef struct ml4t_transport_health {
    bool connected;          /* the link can carry traffic now (meaning per adapter, see docs) */
    uint64_t sent;           /* frames handed to the broker */
    uint64_t received;       /* frames returned by recv */
    uint64_t dropped;        /* outgoing frames given up (HWM, broker down) */
    uint64_t malformed;      /* incoming messages discarded as not a frame */
    uint64_t reconnects;     /* successful connections after the first */
    uint64_t acked;          /* acknowledgements confirmed by the broker */
    uint64_t duplicates;     /* re-deliveries suppressed (Streams) */
    uint64_t claimed;        /* entries taken over from other consumers (Streams) */
    uint64_t switches;       /* failover: moves between primary and fallback */
    uint32_t peers;          /* ZeroMQ: live connections over all sockets */
    uint32_t ack_backlog;    /* Streams: acks accepted while Redis was away, not yet sent */
    int active;              /* failover: 0 primary, 1 fallback; -1 for plain adapters */
    ml4t_error_t last_error; /* the last failure seen, code ML4T_OK when none */
    uint64_t auth_failures;  /* ZeroMQ: handshakes refused (CURVE key not allowed, wrong
                                server key, plain peer on a CURVE socket) */
    uint32_t pipelined;      /* Redis: commands accepted whose reply has not been read yet
                                (sent again after a reconnect); not a counter */
    uint64_t writes;         /* Redis: system calls that wrote pipelined commands; below
                                the commands' count when several went in one write */
} ml4t_transport_health_t;

typedef enum {
    ML4T_TRANSPORT_IN = 0, /* the subscribing side */
    ML4T_TRANSPORT_OUT = 1 /* the publishing side */
} ml4t_transport_dir_t;

struct ml4t_transport_ops;

/* What every adapter may need. ml4t_transport_config_defaults fills it; an
   adapter reads only its own part. Strings are copied at init: the config
   may be freed after init returns. */
typedef struct ml4t_transport_config {
    struct {
        /* czmq convention: "@" binds, ">" connects; "" leaves that side closed.
           Several endpoints may be given separated by commas. */
        char sub_endpoint[ML4T_TRANSPORT_ENDPOINT_MAX]; /* "@tcp://127.0.0.1:5555" (signals) */
        char pub_endpoint[ML4T_TRANSPORT_ENDPOINT_MAX]; /* "@tcp://127.0.0.1:5556" (enriched) */
        int sndhwm;               /* 10000 messages per peer; at the mark a send is dropped */
        int rcvhwm;               /* 10000 */
        int heartbeat_ivl_ms;     /* 1000: ZMTP PING interval, 0 = off */
        int heartbeat_timeout_ms; /* 3000: a peer silent this long is disconnected */
        /* CURVE (ml4t/curve.h). All "" = plain ZMTP, for loopback development.
           Server role: this node's secret certificate and the directory of
           allowed clients' public certificates ("*" = any client key). */
        char curve_server_cert[ML4T_TRANSPORT_PATH_MAX]; /* "" */
        char curve_clients_dir[ML4T_TRANSPORT_PATH_MAX]; /* "" */
        /* Client role: this side's secret certificate and the server's public
           certificate file (or its 40-character Z85 public key). */
        char curve_client_cert[ML4T_TRANSPORT_PATH_MAX]; /* "" */
        char curve_server_key[ML4T_TRANSPORT_PATH_MAX];  /* "" */
    } zmq;
    struct {
        char host[ML4T_TRANSPORT_NAME_MAX];     /* "127.0.0.1" */
        int port;                               /* 6379 */
        char username[ML4T_TRANSPORT_NAME_MAX]; /* "" = AUTH <password> (Redis 6 ACL otherwise) */
        char password[ML4T_TRANSPORT_NAME_MAX]; /* "" = no AUTH */
        int connect_timeout_ms;                 /* 1000 */
        int io_timeout_ms;                      /* 2000: limit on one command's reply */
        int backoff_min_ms;                     /* 50: first reconnect delay */
        int backoff_max_ms;                     /* 2000: the delay doubles up to this cap */
        /* Streams */
        char stream_publish[ML4T_TRANSPORT_NAME_MAX]; /* "" = XADD to a stream named by the
                                                         topic; else every publish goes here */
        char group[ML4T_TRANSPORT_NAME_MAX];          /* "ml4t" */
        char consumer[ML4T_TRANSPORT_NAME_MAX];       /* "" = "<hostname>-<pid>" */
        char group_start_id[ML4T_TRANSPORT_ID_MAX];   /* "0": a new group reads the whole stream */
        int count;                                    /* 64 entries per XREADGROUP */
        int block_ms;                                 /* 1000: XREADGROUP BLOCK */
        int claim_min_idle_ms; /* 30000: others' pending entries idle this long are claimed */
        int claim_interval_ms; /* 5000: how often to look for them, 0 = never */
        int64_t maxlen;        /* 0 = unbounded; else XADD MAXLEN ~ maxlen */
        int dedup_window;      /* 65536 recently delivered ids remembered per transport */
        int answer_ttl_ms;     /* 600000 (10 min): how long the marker of an answered entry lives
                                  (publish_reply); it must outlast the longest time an entry
                                  can stay pending; 0 = plain XADDs (at least once) */
        int pipeline;          /* commands (PUBLISH, XADD, answers, XACK) written to Redis whose
                                  reply has not been read, at most; at the cap a publish waits for
                                  replies. 0 = every command waits for its own reply; -1 (default) =
                                  the adapter's own: 64 for pub/sub, 256 for Streams (docs/brokers.md,
                                  "Pipeline depth") */
    } redis;
    struct {
        const struct ml4t_transport_ops *primary_ops;  /* borrowed; NULL = ml4t_transport_zmq */
        const struct ml4t_transport_config *primary;   /* borrowed during init; NULL = this */
        const struct ml4t_transport_ops *fallback_ops; /* NULL = ml4t_transport_redis_pubsub */
        const struct ml4t_transport_config *fallback;  /* borrowed during init; NULL = this */
        int check_interval_ms; /* 20: primary health is read at most this often */
        int failback_ms;       /* 1000: primary must stay healthy this long before moving back */
        int poll_slice_ms;     /* 5: longest wait on one side before looking at the other */
    } failover;
} ml4t_transport_config_t;

typedef struct ml4t_transport_ops {
    uint32_t abi_version; /* ML4T_TRANSPORT_ABI_VERSION the table was built for */
    const char *name;     /* "zmq", "redis-pubsub", "redis-streams", "failover" */

    /* Create the adapter's state from cfg (borrowed; copied). On success *state
       owns sockets/connections and must be given to close. A broker that is
       down is not an error for Redis (the adapter reconnects); a bad endpoint
       or bad field is, naming the field. */
    ml4t_err_t (*init)(void **state, const ml4t_transport_config_t *cfg, ml4t_error_t *err);

    /* Release everything and set *state to NULL; nothing on NULL. Outstanding
       frames become invalid. */
    void (*close)(void **state);

    /* Send one frame. data is borrowed (copied or sent before returning).
       Never blocks on a slow consumer: a frame that cannot be handed over now
       is dropped, counted in health.dropped, and ML4T_EBUSY (flow control) or
       ML4T_EIO (broker unreachable) returned. */
    ml4t_err_t (*publish)(void *state, const char *topic, const void *data, size_t len,
                          ml4t_error_t *err);

    /* Receive frames whose topic starts with topic_prefix (Streams: the stream
       key, exact). Borrowed. Survives reconnects. */
    ml4t_err_t (*subscribe)(void *state, const char *topic_prefix, ml4t_error_t *err);

    /* Wait up to timeout_ms (0 = poll, -1 = forever) for one frame. ML4T_OK and
       *frame filled, or ML4T_ETIMEOUT. Reconnects happen inside, within the
       timeout. The frame's buffers belong to the transport (see ml4t_frame_t). */
    ml4t_err_t (*recv)(void *state, ml4t_frame_t *frame, int timeout_ms, ml4t_error_t *err);

    /* Acknowledge a frame this transport delivered (Streams: XACK). NULL for
       transports without acknowledgement. Does not invalidate frame. */
    ml4t_err_t (*ack)(void *state, const ml4t_frame_t *frame, ml4t_error_t *err);

    /* Fill *out (caller owns). Cheap: safe to call once per message. */
    ml4t_err_t (*health)(void *state, ml4t_transport_health_t *out);

    /* Write the resolved address of one side into buf (a port chosen by the
       system for "*" shows here). ML4T_ENOTFOUND when that side is closed. */
    ml4t_err_t (*endpoint)(void *state, ml4t_transport_dir_t dir, char *buf, size_t size);

    /* ---- ABI 2 ---- */

    /* Publish the answer to request (a frame this transport delivered; borrowed)
       idempotently: however often it is called for the same request, by this
       or any other consumer of the group, the answer is written once, and the
       request is acknowledged with it (a later ack is then a no-op). ML4T_OK
       also when the answer had been written before (counted in
       health.duplicates). Otherwise as publish. NULL: the dispatch helper
       publishes plainly. Streams: see docs/brokers.md, "Exactly-once answers". */
    ml4t_err_t (*publish_reply)(void *state, const ml4t_frame_t *request, const char *topic,
                                const void *data, size_t len, ml4t_error_t *err);
} ml4t_transport_ops_t;

extern const ml4t_transport_ops_t ml4t_transport_zmq;
extern const ml4t_transport_ops_t ml4t_transport_redis_pubsub;
extern const ml4t_transport_ops_t ml4t_transport_redis_streams;
extern const ml4t_transport_ops_t ml4t_transport_failover;

/* Fill cfg with the defaults written beside each field. */
void ml4t_transport_config_defaults(ml4t_transport_config_t *cfg);

/* Set one field from text: "zmq.sub_endpoint", "redis.port", "redis.group", ...
   (the struct path). Unknown key or bad value: error naming the key; cfg is
   unchanged then. */
ml4t_err_t ml4t_transport_config_set(ml4t_transport_config_t *cfg, const char *key,
                                     const char *value, ml4t_error_t *err);

/* An adapter by name ("zmq", "redis-pubsub", "redis-streams", "failover"), or NULL. */
const ml4t_transport_ops_t *ml4t_transport_ops_by_name(const char *name);

/* A transport instance: its table and state. */
typedef struct ml4t_transport {
    const ml4t_transport_ops_t *ops; /* read-only */
    void *state;                     /* private */
} ml4t_transport_t;

/* Create an instance of ops with cfg. Caller owns the result (destroy it).
   NULL on failure, err says why. Refuses a table built for an ABI outside
   [ML4T_TRANSPORT_ABI_MIN, ML4T_TRANSPORT_ABI_VERSION]. */
ml4t_transport_t *ml4t_transport_new(const ml4t_transport_ops_t *ops,
                                     const ml4t_transport_config_t *cfg, ml4t_error_t *err);
/* Close and free; sets *self_p to NULL; nothing on NULL. */
void ml4t_transport_destroy(ml4t_transport_t **self_p);

static inline ml4t_err_t ml4t_transport_publish(ml4t_transport_t *t, const char *topic,
                                                const void *data, size_t len, ml4t_error_t *err)
{
    if (!t->ops->publish)
        return ml4t_error_set(err, ML4T_EUNSUPPORTED, "publish", "%s cannot publish", t->ops->name);
    return t->ops->publish(t->state, topic, data, len, err);
}

/* The answer to request: idempotent where the adapter can make it so, a plain
   publish otherwise (a table older than ABI 2, or publish_reply NULL). The
   caller should still ack request afterwards: that is harmless when the
   reply acknowledged it already. */
static inline ml4t_err_t ml4t_transport_publish_reply(ml4t_transport_t *t,
                                                      const ml4t_frame_t *request,
                                                      const char *topic, const void *data,
                                                      size_t len, ml4t_error_t *err)
{
    if (t->ops->abi_version < 2 || !t->ops->publish_reply)
        return ml4t_transport_publish(t, topic, data, len, err);
    return t->ops->publish_reply(t->state, request, topic, data, len, err);
}

static inline ml4t_err_t ml4t_transport_subscribe(ml4t_transport_t *t, const char *prefix,
                                                  ml4t_error_t *err)
{
    if (!t->ops->subscribe)
        return ml4t_error_set(err, ML4T_EUNSUPPORTED, "subscribe", "%s cannot subscribe",
                              t->ops->name);
    return t->ops->subscribe(t->state, prefix, err);
}

static inline ml4t_err_t ml4t_transport_recv(ml4t_transport_t *t, ml4t_frame_t *frame,
                                             int timeout_ms, ml4t_error_t *err)
{
    if (!t->ops->recv)
        return ml4t_error_set(err, ML4T_EUNSUPPORTED, "recv", "%s cannot receive", t->ops->name);
    return t->ops->recv(t->state, frame, timeout_ms, err);
}

/* ML4T_OK without doing anything when the transport has no acknowledgement,
   so a node may always ack what it has answered. */
static inline ml4t_err_t ml4t_transport_ack(ml4t_transport_t *t, const ml4t_frame_t *frame,
                                            ml4t_error_t *err)
{
    if (!t->ops->ack)
        return ML4T_OK;
    return t->ops->ack(t->state, frame, err);
}

static inline ml4t_err_t ml4t_transport_health(ml4t_transport_t *t, ml4t_transport_health_t *out)
{
    if (!t->ops->health)
        return ML4T_EUNSUPPORTED;
    return t->ops->health(t->state, out);
}

static inline ml4t_err_t ml4t_transport_endpoint(ml4t_transport_t *t, ml4t_transport_dir_t dir,
                                                 char *buf, size_t size)
{
    if (!t->ops->endpoint)
        return ML4T_EUNSUPPORTED;
    return t->ops->endpoint(t->state, dir, buf, size);
}

#ifdef __cplusplus
}
#endif
#endif
