/*  ml4t_transport_zmq: ZeroMQ SUB in, XPUB out, through czmq.

    A message is two frames: the topic, then the payload. SUB filters by topic
    prefix. The out side is an XPUB with ZMQ_XPUB_NODROP so that a peer at its
    high-water mark makes the send fail with EAGAIN instead of vanishing: every
    drop is counted, and with ZMQ_DONTWAIT the caller never blocks. The price:
    a frame refused for one slow subscriber is refused for all subscribers of
    that topic.

    Health: a socket monitor counts live peers (ACCEPTED/CONNECTED minus
    DISCONNECTED); ZMTP heartbeats turn a silently dead peer into a
    DISCONNECTED. The link is "connected" when every open side has a peer.

    Security: with the zmq.curve_* fields set, every socket is a CURVE server
    or client (ml4t/curve.h) before it binds or connects. A handshake the
    other side refuses (key not allowed, wrong server key, a plain peer on a
    CURVE socket) is counted in health.auth_failures and named in
    health.last_error; a refused peer never gets or gives a frame. */
#include "ml4t/curve.h"
#include "ml4t/transport.h"

#include <czmq.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define S_TOPIC_MAX     256
#define S_MONITOR_EVERY 64

typedef struct {
    zsock_t *sock;    /* SUB or XPUB, NULL when that side is closed */
    zsock_t *monitor; /* PAIR receiving the socket's monitor events */
    uint32_t peers;
    uint64_t auth_failures;
    char endpoint[ML4T_TRANSPORT_ENDPOINT_MAX];
} s_side_t;

typedef struct {
    s_side_t in, out;
    ml4t_curve_t *curve;         /* the CURVE role of both sides; "off" without curve fields */
    zmq_msg_t part;              /* reused receive buffer for the payload */
    char topic[S_TOPIC_MAX + 1]; /* the received topic, NUL-terminated */
    uint64_t publishes;          /* paces draining of XPUB subscription messages */
    uint64_t receives;           /* paces draining of the in side's monitor */
    int rcvtimeo;                /* ZMQ_RCVTIMEO now set on the in socket (-1: libzmq's default) */
    ml4t_transport_health_t health;
} s_zmq_t;

static void s_monitor_drain(s_side_t *side)
{
    if (!side->monitor)
        return;
    void *m = zsock_resolve(side->monitor);
    zmq_msg_t ev;
    zmq_msg_init(&ev);
    while (zmq_msg_recv(&ev, m, ZMQ_DONTWAIT) >= 0) {
        uint16_t event = 0;
        if (zmq_msg_size(&ev) >= 6)
            memcpy(&event, zmq_msg_data(&ev), sizeof event);
        while (zmq_msg_more(&ev) && zmq_msg_recv(&ev, m, ZMQ_DONTWAIT) >= 0)
            ; /* the endpoint frame */
        if (event == ZMQ_EVENT_ACCEPTED || event == ZMQ_EVENT_CONNECTED)
            side->peers++;
        else if (event == ZMQ_EVENT_DISCONNECTED && side->peers > 0)
            side->peers--;
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
                 event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            side->auth_failures++;
    }
    zmq_msg_close(&ev);
}

/* XPUB hands subscription messages up; nobody reads them but they must not pile up. */
static void s_xpub_drain(s_side_t *side)
{
    void *s = zsock_resolve(side->sock);
    char buf[64];
    while (zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
        ;
}

static ml4t_err_t s_side_open(s_side_t *side, int type, const char *endpoint, const char *field,
                              const ml4t_transport_config_t *cfg, const ml4t_curve_t *curve,
                              ml4t_error_t *err)
{
    if (endpoint[0] == '\0')
        return ML4T_OK;
    /* Without a prefix czmq binds a PUB and connects a SUB; we require explicitness. */
    if (endpoint[0] != '@' && endpoint[0] != '>')
        return ml4t_error_set(err, ML4T_EINVAL, field,
                              "%s=%s: must start with '@' (bind) or '>' (connect)", field,
                              endpoint);
    side->sock = zsock_new(type);
    side->monitor = zsock_new(ZMQ_PAIR);
    if (!side->sock || !side->monitor)
        return ml4t_error_set(err, ML4T_ENOMEM, field, "cannot create a ZeroMQ socket");
    void *s = zsock_resolve(side->sock);
    char addr[64];
    /* unique per process: a closed monitor's inproc name may linger a moment */
    static atomic_uint serial;
    snprintf(addr, sizeof addr, "inproc://ml4t-zmq-monitor-%u", atomic_fetch_add(&serial, 1));
    if (zmq_socket_monitor(s, addr,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) ||
        zsock_connect(side->monitor, "%s", addr))
        return ml4t_error_set(err, ML4T_EIO, field, "cannot monitor the socket: %s",
                              zmq_strerror(zmq_errno()));
    if (type == ZMQ_XPUB) {
        zsock_set_sndhwm(side->sock, cfg->zmq.sndhwm);
        zsock_set_xpub_nodrop(side->sock, 1);
    } else {
        zsock_set_rcvhwm(side->sock, cfg->zmq.rcvhwm);
    }
    if (cfg->zmq.heartbeat_ivl_ms > 0) {
        zsock_set_heartbeat_ivl(side->sock, cfg->zmq.heartbeat_ivl_ms);
        zsock_set_heartbeat_timeout(side->sock, cfg->zmq.heartbeat_timeout_ms);
    }
    ml4t_curve_apply(curve, side->sock);
    if (zsock_attach(side->sock, endpoint, type == ZMQ_XPUB) != 0)
        return ml4t_error_set(err, ML4T_EIO, field, "%s=%s: cannot attach: %s", field, endpoint,
                              zmq_strerror(zmq_errno()));
    char *last = zsock_last_endpoint(side->sock);
    snprintf(side->endpoint, sizeof side->endpoint, "%s", last ? last : endpoint + 1);
    zstr_free(&last);
    return ML4T_OK;
}

static void s_side_close(s_side_t *side)
{
    if (side->sock)
        zmq_socket_monitor(zsock_resolve(side->sock), NULL, 0);
    zsock_destroy(&side->sock);
    zsock_destroy(&side->monitor);
}

static void s_close(void **state)
{
    if (!state || !*state)
        return;
    s_zmq_t *self = *state;
    s_side_close(&self->in);
    s_side_close(&self->out);
    ml4t_curve_destroy(&self->curve); /* after the sockets: zauth must outlive them */
    zmq_msg_close(&self->part);
    free(self);
    *state = NULL;
}

static ml4t_err_t s_init(void **state, const ml4t_transport_config_t *cfg, ml4t_error_t *err)
{
    s_zmq_t *self = calloc(1, sizeof *self);
    if (!self)
        return ml4t_error_set(err, ML4T_ENOMEM, "zmq", "cannot allocate the ZeroMQ transport");
    zmq_msg_init(&self->part);
    self->rcvtimeo = -1;
    self->health.active = -1;
    self->curve = ml4t_curve_new(cfg, err);
    ml4t_err_t rc = self->curve ? ML4T_OK : (err ? err->code : ML4T_EINVAL);
    if (rc == ML4T_OK)
        rc = s_side_open(&self->in, ZMQ_SUB, cfg->zmq.sub_endpoint, "zmq.sub_endpoint", cfg,
                         self->curve, err);
    if (rc == ML4T_OK)
        rc = s_side_open(&self->out, ZMQ_XPUB, cfg->zmq.pub_endpoint, "zmq.pub_endpoint", cfg,
                         self->curve, err);
    if (rc != ML4T_OK) {
        void *p = self;
        s_close(&p);
        return rc;
    }
    *state = self;
    return ML4T_OK;
}

static ml4t_err_t s_fail(s_zmq_t *self, ml4t_error_t *err, ml4t_err_t code, const char *field,
                         const char *why)
{
    ml4t_error_set(&self->health.last_error, code, field, "%s", why);
    return ml4t_error_set(err, code, field, "%s", why);
}

static ml4t_err_t s_publish(void *state, const char *topic, const void *data, size_t len,
                            ml4t_error_t *err)
{
    s_zmq_t *self = state;
    if (!self->out.sock)
        return ml4t_error_set(err, ML4T_ESTATE, "zmq.pub_endpoint", "the out side is closed");
    if ((self->publishes++ & 63) == 0) {
        s_xpub_drain(&self->out);
        s_monitor_drain(&self->out);
    }
    void *s = zsock_resolve(self->out.sock);
    /* Multipart is atomic: once the first part is queued the rest cannot hit the mark. */
    if (zmq_send(s, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        self->health.dropped++;
        if (zmq_errno() == EAGAIN)
            return s_fail(self, err, ML4T_EBUSY, "zmq.sndhwm",
                          "a subscriber is at its high-water mark: frame dropped");
        return s_fail(self, err, ML4T_EIO, "zmq.pub_endpoint", zmq_strerror(zmq_errno()));
    }
    if (zmq_send(s, data, len, ZMQ_DONTWAIT) < 0) {
        self->health.dropped++;
        return s_fail(self, err, ML4T_EIO, "zmq.pub_endpoint", zmq_strerror(zmq_errno()));
    }
    self->health.sent++;
    return ML4T_OK;
}

static ml4t_err_t s_subscribe(void *state, const char *prefix, ml4t_error_t *err)
{
    s_zmq_t *self = state;
    if (!self->in.sock)
        return ml4t_error_set(err, ML4T_ESTATE, "zmq.sub_endpoint", "the in side is closed");
    zsock_set_subscribe(self->in.sock, prefix);
    return ML4T_OK;
}

/* Read one whole message, waiting up to timeout_ms for its first part (0: only
   what is already queued, -1: forever). A blocking receive is one trip through
   libzmq's mailbox: a zero-timeout check followed by zmq_poll costs two more
   system calls per message. ML4T_OK with a frame, ETIMEOUT when nothing came
   (or a signal cut the wait short), EFORMAT when a message was discarded, EIO
   when the socket failed. */
static ml4t_err_t s_read_one(s_zmq_t *self, ml4t_frame_t *frame, int timeout_ms)
{
    void *s = zsock_resolve(self->in.sock);
    if (timeout_ms != 0 && timeout_ms != self->rcvtimeo) {
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
        self->rcvtimeo = timeout_ms;
    }
    int n = zmq_msg_recv(&self->part, s, timeout_ms == 0 ? ZMQ_DONTWAIT : 0);
    if (n < 0)
        return zmq_errno() == EAGAIN || zmq_errno() == EINTR ? ML4T_ETIMEOUT : ML4T_EIO;
    bool ok = zmq_msg_more(&self->part) && (size_t)n <= S_TOPIC_MAX &&
              memchr(zmq_msg_data(&self->part), '\0', (size_t)n) == NULL;
    if (ok) {
        memcpy(self->topic, zmq_msg_data(&self->part), (size_t)n);
        self->topic[n] = '\0';
        frame->topic_len = (size_t)n;
        zmq_msg_recv(&self->part, s, 0); /* the rest of a multipart message is already here */
        ok = !zmq_msg_more(&self->part);
    }
    while (zmq_msg_more(&self->part))
        zmq_msg_recv(&self->part, s, 0);
    if (!ok) {
        self->health.malformed++;
        return ML4T_EFORMAT;
    }
    frame->topic = self->topic;
    frame->payload = zmq_msg_data(&self->part);
    frame->payload_len = zmq_msg_size(&self->part);
    frame->id[0] = '\0';
    frame->source = NULL;
    frame->origin = 0;
    self->health.received++;
    return ML4T_OK;
}

static ml4t_err_t s_recv(void *state, ml4t_frame_t *frame, int timeout_ms, ml4t_error_t *err)
{
    s_zmq_t *self = state;
    if (!self->in.sock)
        return ml4t_error_set(err, ML4T_ESTATE, "zmq.sub_endpoint", "the in side is closed");
    /* Peer events are few; looking for them costs two system calls, so only
       every S_MONITOR_EVERY receives (health() always looks). */
    if ((self->receives++ % S_MONITOR_EVERY) == 0)
        s_monitor_drain(&self->in);
    int64_t deadline = timeout_ms < 0 ? -1 : zclock_mono() + timeout_ms;
    int wait = timeout_ms;
    for (;;) {
        ml4t_err_t rc = s_read_one(self, frame, wait);
        if (rc == ML4T_OK)
            return ML4T_OK;
        if (rc == ML4T_ETIMEOUT && wait == 0)
            break;
        if (rc == ML4T_EIO)
            return s_fail(self, err, ML4T_EIO, "zmq.sub_endpoint", zmq_strerror(zmq_errno()));
        if (deadline >= 0) {
            int64_t left = deadline - zclock_mono();
            wait = left > 0 ? (int)left : 0; /* a last look without waiting */
        }
    }
    s_monitor_drain(&self->in); /* idle: a good moment */
    return ml4t_error_set(err, ML4T_ETIMEOUT, "recv", "no frame within %d ms", timeout_ms);
}

static ml4t_err_t s_health(void *state, ml4t_transport_health_t *out)
{
    s_zmq_t *self = state;
    s_monitor_drain(&self->in);
    s_monitor_drain(&self->out);
    if (self->out.sock)
        s_xpub_drain(&self->out);
    self->health.peers = self->in.peers + self->out.peers;
    uint64_t refused = self->in.auth_failures + self->out.auth_failures;
    if (refused > self->health.auth_failures) {
        bool server = ml4t_curve_role(self->curve) == ML4T_CURVE_SERVER;
        ml4t_error_set(&self->health.last_error, ML4T_EMISMATCH,
                       server ? "zmq.curve_clients_dir" : "zmq.curve_server_key",
                       server ? "a peer was refused: its key is not among the allowed clients "
                                "or it does not speak CURVE"
                              : "the handshake failed: wrong server key, or this key is not "
                                "allowed, or the security settings of the two sides differ");
        self->health.auth_failures = refused;
    }
    self->health.connected = (!self->in.sock || self->in.peers > 0) &&
                             (!self->out.sock || self->out.peers > 0) &&
                             (self->in.sock || self->out.sock);
    *out = self->health;
    return ML4T_OK;
}

static ml4t_err_t s_endpoint(void *state, ml4t_transport_dir_t dir, char *buf, size_t size)
{
    s_zmq_t *self = state;
    const s_side_t *side = dir == ML4T_TRANSPORT_IN ? &self->in : &self->out;
    if (!side->sock)
        return ML4T_ENOTFOUND;
    snprintf(buf, size, "%s", side->endpoint);
    return ML4T_OK;
}

const ml4t_transport_ops_t ml4t_transport_zmq = {
    .abi_version = ML4T_TRANSPORT_ABI_VERSION,
    .name = "zmq",
    .init = s_init,
    .close = s_close,
    .publish = s_publish,
    .subscribe = s_subscribe,
    .recv = s_recv,
    .ack = NULL,
    .health = s_health,
    .endpoint = s_endpoint,
};
