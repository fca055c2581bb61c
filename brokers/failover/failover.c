/*  ml4t_transport_failover: a primary and a fallback transport behind one table.

    Publishing goes to the active side. The primary's health is read at most
    every check_interval_ms: when it reports not connected, the fallback
    becomes active at once; when the primary has been connected again for
    failback_ms without a break, it becomes active again (the delay keeps a
    flapping link from bouncing traffic, and lets ZeroMQ subscriptions arrive
    before frames do).

    Receiving listens on both sides, so nothing sent on either is missed while
    the peers switch at different moments. The active side is waited on; the
    other is looked at every poll_slice_ms. Subscriptions go to both. A frame
    remembers which side delivered it, and ack goes back to that side, as
    does publish_reply while that side is the active one. */
#include "ml4t/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    ml4t_transport_t *side[2]; /* 0 primary, 1 fallback */
    int active;
    int check_interval_ms, failback_ms, poll_slice_ms;
    int64_t next_check_ms;
    int64_t healthy_since_ms; /* -1 while the primary is down */
    ml4t_transport_health_t health;
} s_failover_t;

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_close(void **state)
{
    if (!state || !*state)
        return;
    s_failover_t *self = *state;
    ml4t_transport_destroy(&self->side[0]);
    ml4t_transport_destroy(&self->side[1]);
    free(self);
    *state = NULL;
}

static ml4t_err_t s_init(void **state, const ml4t_transport_config_t *cfg, ml4t_error_t *err)
{
    const ml4t_transport_ops_t *ops[2] = {cfg->failover.primary_ops, cfg->failover.fallback_ops};
    const ml4t_transport_config_t *cfgs[2] = {cfg->failover.primary, cfg->failover.fallback};
    const char *fields[2] = {"failover.primary", "failover.fallback"};
    if (!ops[0])
        ops[0] = &ml4t_transport_zmq;
    if (!ops[1])
        ops[1] = &ml4t_transport_redis_pubsub;
    for (int i = 0; i < 2; i++) {
        if (!cfgs[i])
            cfgs[i] = cfg;
        if (ops[i] == &ml4t_transport_failover && cfgs[i] == cfg)
            return ml4t_error_set(err, ML4T_EINVAL, fields[i],
                                  "a failover cannot wrap itself with the same configuration");
    }
    if (cfg->failover.poll_slice_ms < 1 || cfg->failover.check_interval_ms < 0 ||
        cfg->failover.failback_ms < 0)
        return ml4t_error_set(err, ML4T_ERANGE, "failover.poll_slice_ms",
                              "failover.poll_slice_ms=%d must be >= 1, check_interval_ms=%d and "
                              "failback_ms=%d >= 0",
                              cfg->failover.poll_slice_ms, cfg->failover.check_interval_ms,
                              cfg->failover.failback_ms);
    s_failover_t *self = calloc(1, sizeof *self);
    if (!self)
        return ml4t_error_set(err, ML4T_ENOMEM, "failover", "cannot allocate the failover");
    self->check_interval_ms = cfg->failover.check_interval_ms;
    self->failback_ms = cfg->failover.failback_ms;
    self->poll_slice_ms = cfg->failover.poll_slice_ms;
    self->healthy_since_ms = s_now_ms();
    for (int i = 0; i < 2; i++) {
        self->side[i] = ml4t_transport_new(ops[i], cfgs[i], err);
        if (!self->side[i]) {
            void *p = self;
            s_close(&p);
            return err ? err->code : ML4T_EINVAL;
        }
    }
    *state = self;
    return ML4T_OK;
}

/* Move traffic by the primary's health (rate-limited by check_interval_ms). */
static void s_check(s_failover_t *self)
{
    int64_t now = s_now_ms();
    if (now < self->next_check_ms)
        return;
    self->next_check_ms = now + self->check_interval_ms;
    ml4t_transport_health_t h;
    bool up = ml4t_transport_health(self->side[0], &h) == ML4T_OK && h.connected;
    int want = self->active;
    if (!up) {
        self->healthy_since_ms = -1;
        want = 1;
    } else {
        if (self->healthy_since_ms < 0)
            self->healthy_since_ms = now;
        if (now - self->healthy_since_ms >= self->failback_ms)
            want = 0;
    }
    if (want != self->active) {
        self->active = want;
        self->health.switches++;
    }
}

static ml4t_err_t s_publish(void *state, const char *topic, const void *data, size_t len,
                            ml4t_error_t *err)
{
    s_failover_t *self = state;
    s_check(self);
    return ml4t_transport_publish(self->side[self->active], topic, data, len, err);
}

static ml4t_err_t s_subscribe(void *state, const char *prefix, ml4t_error_t *err)
{
    s_failover_t *self = state;
    ml4t_err_t rc = ml4t_transport_subscribe(self->side[0], prefix, err);
    if (rc == ML4T_OK)
        rc = ml4t_transport_subscribe(self->side[1], prefix, err);
    return rc;
}

static ml4t_err_t s_try(s_failover_t *self, int side, ml4t_frame_t *frame, int timeout_ms)
{
    ml4t_err_t rc = ml4t_transport_recv(self->side[side], frame, timeout_ms, NULL);
    if (rc == ML4T_OK)
        frame->origin = (uint32_t)side;
    return rc;
}

static ml4t_err_t s_recv(void *state, ml4t_frame_t *frame, int timeout_ms, ml4t_error_t *err)
{
    s_failover_t *self = state;
    int64_t deadline = timeout_ms < 0 ? -1 : s_now_ms() + timeout_ms;
    for (;;) {
        s_check(self);
        int a = self->active;
        if (s_try(self, a, frame, 0) == ML4T_OK || s_try(self, 1 - a, frame, 0) == ML4T_OK)
            return ML4T_OK;
        int slice = self->poll_slice_ms;
        if (deadline >= 0) {
            int64_t left = deadline - s_now_ms();
            if (left <= 0)
                break;
            if (left < slice)
                slice = (int)left;
        }
        if (s_try(self, a, frame, slice) == ML4T_OK)
            return ML4T_OK;
    }
    return ml4t_error_set(err, ML4T_ETIMEOUT, "recv", "no frame within %d ms", timeout_ms);
}

static ml4t_err_t s_ack(void *state, const ml4t_frame_t *frame, ml4t_error_t *err)
{
    s_failover_t *self = state;
    if (frame->origin > 1)
        return ml4t_error_set(err, ML4T_EINVAL, "frame", "not a frame of this failover");
    ml4t_frame_t inner = *frame;
    inner.origin = 0;
    return ml4t_transport_ack(self->side[frame->origin], &inner, err);
}

/* An answer can be made idempotent only by the side that delivered its
   request; while the other side is active, it goes out there plainly. */
static ml4t_err_t s_publish_reply(void *state, const ml4t_frame_t *request, const char *topic,
                                  const void *data, size_t len, ml4t_error_t *err)
{
    s_failover_t *self = state;
    s_check(self);
    if (!request || (int)request->origin != self->active)
        return ml4t_transport_publish(self->side[self->active], topic, data, len, err);
    ml4t_frame_t inner = *request;
    inner.origin = 0;
    return ml4t_transport_publish_reply(self->side[self->active], &inner, topic, data, len, err);
}

static ml4t_err_t s_health(void *state, ml4t_transport_health_t *out)
{
    s_failover_t *self = state;
    s_check(self);
    ml4t_transport_health_t h[2];
    for (int i = 0; i < 2; i++)
        if (ml4t_transport_health(self->side[i], &h[i]) != ML4T_OK)
            h[i] = (ml4t_transport_health_t){0};
    *out = self->health;
    out->connected = h[self->active].connected;
    out->sent = h[0].sent + h[1].sent;
    out->received = h[0].received + h[1].received;
    out->dropped = h[0].dropped + h[1].dropped;
    out->malformed = h[0].malformed + h[1].malformed;
    out->reconnects = h[0].reconnects + h[1].reconnects;
    out->acked = h[0].acked + h[1].acked;
    out->duplicates = h[0].duplicates + h[1].duplicates;
    out->claimed = h[0].claimed + h[1].claimed;
    out->peers = h[0].peers + h[1].peers;
    out->ack_backlog = h[0].ack_backlog + h[1].ack_backlog;
    out->auth_failures = h[0].auth_failures + h[1].auth_failures;
    out->pipelined = h[0].pipelined + h[1].pipelined;
    out->writes = h[0].writes + h[1].writes;
    out->active = self->active;
    out->last_error = h[self->active].last_error.code ? h[self->active].last_error
                                                      : h[1 - self->active].last_error;
    return ML4T_OK;
}

/* The primary's address: the fallback's is in its own configuration. */
static ml4t_err_t s_endpoint(void *state, ml4t_transport_dir_t dir, char *buf, size_t size)
{
    s_failover_t *self = state;
    return ml4t_transport_endpoint(self->side[0], dir, buf, size);
}

const ml4t_transport_ops_t ml4t_transport_failover = {
    .abi_version = ML4T_TRANSPORT_ABI_VERSION,
    .name = "failover",
    .init = s_init,
    .close = s_close,
    .publish = s_publish,
    .subscribe = s_subscribe,
    .recv = s_recv,
    .ack = s_ack,
    .health = s_health,
    .endpoint = s_endpoint,
    .publish_reply = s_publish_reply,
};
