/*  ml4t_transport: configuration, the handle, and the failover's switching
    logic against two scripted transports whose health the test controls. */
#include "ml4t/transport.h"

#include "testutil.h"

/* ------------------------------------------------------------ a scripted transport */

typedef struct {
    bool up;       /* what health reports */
    int published; /* frames given to publish */
    int replied;   /* frames given to publish_reply */
    int acked;
    int subscribed;
    const char *next_topic; /* recv returns this once when set */
} t_fake_t;

static t_fake_t t_fakes[2];
static int t_fake_inits;

static ml4t_err_t t_fake_init(void **state, const ml4t_transport_config_t *cfg, ml4t_error_t *err)
{
    (void)cfg;
    (void)err;
    *state = &t_fakes[t_fake_inits++ % 2];
    return ML4T_OK;
}

static void t_fake_close(void **state)
{
    *state = NULL;
}

static ml4t_err_t t_fake_publish(void *state, const char *topic, const void *data, size_t len,
                                 ml4t_error_t *err)
{
    (void)topic, (void)data, (void)len, (void)err;
    ((t_fake_t *)state)->published++;
    return ML4T_OK;
}

static ml4t_err_t t_fake_publish_reply(void *state, const ml4t_frame_t *request, const char *topic,
                                       const void *data, size_t len, ml4t_error_t *err)
{
    (void)topic, (void)data, (void)len, (void)err;
    if (request->origin != 0)
        return ML4T_EINVAL; /* the failover hands back the inner frame */
    ((t_fake_t *)state)->replied++;
    return ML4T_OK;
}

static ml4t_err_t t_fake_subscribe(void *state, const char *prefix, ml4t_error_t *err)
{
    (void)prefix, (void)err;
    ((t_fake_t *)state)->subscribed++;
    return ML4T_OK;
}

static ml4t_err_t t_fake_recv(void *state, ml4t_frame_t *frame, int timeout_ms, ml4t_error_t *err)
{
    (void)timeout_ms;
    t_fake_t *self = state;
    if (!self->next_topic)
        return ml4t_error_set(err, ML4T_ETIMEOUT, "recv", "nothing");
    memset(frame, 0, sizeof *frame);
    frame->topic = self->next_topic;
    frame->topic_len = strlen(self->next_topic);
    frame->origin = 77; /* the failover must overwrite it */
    self->next_topic = NULL;
    return ML4T_OK;
}

static ml4t_err_t t_fake_ack(void *state, const ml4t_frame_t *frame, ml4t_error_t *err)
{
    (void)err;
    if (frame->origin != 0)
        return ML4T_EINVAL; /* the failover hands back the inner frame */
    ((t_fake_t *)state)->acked++;
    return ML4T_OK;
}

static ml4t_err_t t_fake_health(void *state, ml4t_transport_health_t *out)
{
    memset(out, 0, sizeof *out);
    out->connected = ((t_fake_t *)state)->up;
    out->sent = (uint64_t)((t_fake_t *)state)->published;
    return ML4T_OK;
}

static const ml4t_transport_ops_t t_fake_ops = {
    .abi_version = ML4T_TRANSPORT_ABI_VERSION,
    .name = "fake",
    .init = t_fake_init,
    .close = t_fake_close,
    .publish = t_fake_publish,
    .subscribe = t_fake_subscribe,
    .recv = t_fake_recv,
    .ack = t_fake_ack,
    .health = t_fake_health,
    .publish_reply = t_fake_publish_reply,
};

static ml4t_transport_t *t_fake_failover(int failback_ms)
{
    memset(t_fakes, 0, sizeof t_fakes);
    t_fake_inits = 0;
    t_fakes[0].up = t_fakes[1].up = true;
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    cfg.failover.primary_ops = &t_fake_ops;
    cfg.failover.fallback_ops = &t_fake_ops;
    cfg.failover.check_interval_ms = 0; /* read health on every call */
    cfg.failover.failback_ms = failback_ms;
    return ml4t_transport_new(&ml4t_transport_failover, &cfg, NULL);
}

/* ------------------------------------------------------------ cases */

static void t_defaults(void)
{
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    CHECK_STR(cfg.zmq.sub_endpoint, "@tcp://127.0.0.1:5555");
    CHECK_STR(cfg.zmq.pub_endpoint, "@tcp://127.0.0.1:5556");
    CHECK_EQ_INT(cfg.redis.port, 6379);
    CHECK_EQ_INT(cfg.redis.backoff_min_ms, 50);
    CHECK_EQ_INT(cfg.redis.backoff_max_ms, 2000);
    CHECK_STR(cfg.redis.group_start_id, "0");
    CHECK_STR(cfg.redis.group, "ml4t");
    CHECK(cfg.failover.primary_ops == NULL && cfg.failover.fallback_ops == NULL);
}

static void t_config_set_names_the_key(void)
{
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_transport_config_set(&cfg, "redis.port", "6380", &err), ML4T_OK);
    CHECK_EQ_INT(cfg.redis.port, 6380);
    CHECK_EQ_INT(ml4t_transport_config_set(&cfg, "redis.port", "70000", &err), ML4T_ERANGE);
    CHECK_STR(err.field, "redis.port");
    CHECK_EQ_INT(cfg.redis.port, 6380);
    CHECK_EQ_INT(ml4t_transport_config_set(&cfg, "redis.port", "63x", &err), ML4T_EINVAL);
    CHECK_EQ_INT(ml4t_transport_config_set(&cfg, "zmq.sub_endpoint", ">tcp://10.0.0.1:7", &err),
                 ML4T_OK);
    CHECK_STR(cfg.zmq.sub_endpoint, ">tcp://10.0.0.1:7");
    char long_value[400];
    memset(long_value, 'x', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    CHECK_EQ_INT(ml4t_transport_config_set(&cfg, "redis.group", long_value, &err), ML4T_ELIMIT);
    CHECK_STR(err.field, "redis.group");
    CHECK_EQ_INT(ml4t_transport_config_set(&cfg, "redis.maxlen", "100000", &err), ML4T_OK);
    CHECK_EQ_INT(cfg.redis.maxlen, 100000);
    CHECK_EQ_INT(ml4t_transport_config_set(&cfg, "nope", "1", &err), ML4T_ENOTFOUND);
    CHECK_STR(err.field, "nope");
}

static void t_ops_by_name(void)
{
    CHECK(ml4t_transport_ops_by_name("zmq") == &ml4t_transport_zmq);
    CHECK(ml4t_transport_ops_by_name("redis-pubsub") == &ml4t_transport_redis_pubsub);
    CHECK(ml4t_transport_ops_by_name("redis-streams") == &ml4t_transport_redis_streams);
    CHECK(ml4t_transport_ops_by_name("failover") == &ml4t_transport_failover);
    CHECK(ml4t_transport_ops_by_name("kafka") == NULL);
    /* every table is built for this ABI and names itself */
    const ml4t_transport_ops_t *all[] = {&ml4t_transport_zmq, &ml4t_transport_redis_pubsub,
                                         &ml4t_transport_redis_streams, &ml4t_transport_failover};
    for (size_t i = 0; i < 4; i++) {
        CHECK_EQ_INT(all[i]->abi_version, ML4T_TRANSPORT_ABI_VERSION);
        CHECK(all[i]->init && all[i]->close && all[i]->health);
    }
    CHECK(ml4t_transport_zmq.ack == NULL);
    CHECK(ml4t_transport_redis_pubsub.ack == NULL);
    CHECK(ml4t_transport_redis_streams.ack != NULL);
}

static void t_abi_mismatch_refused(void)
{
    ml4t_transport_ops_t future = t_fake_ops;
    future.abi_version = ML4T_TRANSPORT_ABI_VERSION + 1;
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    ml4t_error_t err;
    CHECK(ml4t_transport_new(&future, &cfg, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_EMISMATCH);
    ml4t_transport_destroy(NULL);
}

/* A table built for ABI 1 has no publish_reply: whatever lies past its end is
   never read, and replies go out as plain publishes. */
static void t_older_abi_accepted(void)
{
    ml4t_transport_ops_t v1 = t_fake_ops;
    v1.abi_version = 1;
    v1.publish_reply = t_fake_publish_reply; /* stands for bytes past a v1 table */
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    memset(t_fakes, 0, sizeof t_fakes);
    t_fake_inits = 0;
    ml4t_transport_t *t = ml4t_transport_new(&v1, &cfg, NULL);
    REQUIRE(t);
    ml4t_frame_t req;
    memset(&req, 0, sizeof req);
    CHECK_EQ_INT(ml4t_transport_publish_reply(t, &req, "x", "y", 1, NULL), ML4T_OK);
    CHECK_EQ_INT(t_fakes[0].published, 1);
    CHECK_EQ_INT(t_fakes[0].replied, 0);
    ml4t_transport_destroy(&t);

    ml4t_transport_ops_t v2 = v1;
    v2.abi_version = 2;
    t_fake_inits = 0;
    t = ml4t_transport_new(&v2, &cfg, NULL);
    REQUIRE(t);
    CHECK_EQ_INT(ml4t_transport_publish_reply(t, &req, "x", "y", 1, NULL), ML4T_OK);
    CHECK_EQ_INT(t_fakes[0].replied, 1);
    CHECK_EQ_INT(t_fakes[0].published, 1);
    ml4t_transport_destroy(&t);

    ml4t_transport_ops_t v0 = v1;
    v0.abi_version = ML4T_TRANSPORT_ABI_MIN - 1;
    ml4t_error_t err;
    CHECK(ml4t_transport_new(&v0, &cfg, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_EMISMATCH);
}

static void t_unsupported_entries(void)
{
    ml4t_transport_ops_t bare = {.abi_version = ML4T_TRANSPORT_ABI_VERSION,
                                 .name = "bare",
                                 .init = t_fake_init,
                                 .close = t_fake_close};
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    ml4t_transport_t *t = ml4t_transport_new(&bare, &cfg, NULL);
    REQUIRE(t);
    ml4t_error_t err;
    ml4t_frame_t f;
    CHECK_EQ_INT(ml4t_transport_publish(t, "x", "y", 1, &err), ML4T_EUNSUPPORTED);
    CHECK_STR(err.field, "publish");
    CHECK_EQ_INT(ml4t_transport_recv(t, &f, 0, &err), ML4T_EUNSUPPORTED);
    CHECK_EQ_INT(ml4t_transport_ack(t, &f, &err), ML4T_OK); /* nothing to acknowledge */
    memset(&f, 0, sizeof f);
    CHECK_EQ_INT(ml4t_transport_publish_reply(t, &f, "x", "y", 1, &err), ML4T_EUNSUPPORTED);
    CHECK_STR(err.field, "publish");
    ml4t_transport_destroy(&t);
    CHECK(t == NULL);
    ml4t_transport_destroy(&t);
}

static void t_zmq_endpoint_needs_prefix(void)
{
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    snprintf(cfg.zmq.sub_endpoint, sizeof cfg.zmq.sub_endpoint, "tcp://127.0.0.1:5555");
    ml4t_error_t err;
    CHECK(ml4t_transport_new(&ml4t_transport_zmq, &cfg, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_EINVAL);
    CHECK_STR(err.field, "zmq.sub_endpoint");
    ml4t_transport_config_defaults(&cfg);
    snprintf(cfg.zmq.pub_endpoint, sizeof cfg.zmq.pub_endpoint, "@bogus://nowhere");
    cfg.zmq.sub_endpoint[0] = '\0';
    CHECK(ml4t_transport_new(&ml4t_transport_zmq, &cfg, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_EIO);
    CHECK_STR(err.field, "zmq.pub_endpoint");
}

static void t_redis_config_checked(void)
{
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    cfg.redis.backoff_max_ms = 10; /* below the minimum of 50 */
    ml4t_error_t err;
    CHECK(ml4t_transport_new(&ml4t_transport_redis_pubsub, &cfg, &err) == NULL);
    CHECK_STR(err.field, "redis.backoff_max_ms");
    ml4t_transport_config_defaults(&cfg);
    cfg.redis.group[0] = '\0';
    CHECK(ml4t_transport_new(&ml4t_transport_redis_streams, &cfg, &err) == NULL);
    CHECK_STR(err.field, "redis.group");
}

static void t_failover_refuses_itself(void)
{
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    cfg.failover.primary_ops = &ml4t_transport_failover;
    ml4t_error_t err;
    CHECK(ml4t_transport_new(&ml4t_transport_failover, &cfg, &err) == NULL);
    CHECK_STR(err.field, "failover.primary");
}

static void t_failover_moves_on_health(void)
{
    ml4t_transport_t *t = t_fake_failover(0);
    REQUIRE(t);
    ml4t_transport_health_t h;
    CHECK_EQ_INT(ml4t_transport_publish(t, "a", "x", 1, NULL), ML4T_OK);
    CHECK_EQ_INT(t_fakes[0].published, 1);
    CHECK_EQ_INT(t_fakes[1].published, 0);
    t_fakes[0].up = false;
    CHECK_EQ_INT(ml4t_transport_publish(t, "a", "x", 1, NULL), ML4T_OK);
    CHECK_EQ_INT(t_fakes[0].published, 1);
    CHECK_EQ_INT(t_fakes[1].published, 1);
    CHECK_EQ_INT(ml4t_transport_health(t, &h), ML4T_OK);
    CHECK_EQ_INT(h.active, 1);
    CHECK_EQ_INT(h.switches, 1);
    CHECK_EQ_INT(h.sent, 2); /* summed over both sides */
    t_fakes[0].up = true;    /* failback_ms 0: back at once */
    CHECK_EQ_INT(ml4t_transport_publish(t, "a", "x", 1, NULL), ML4T_OK);
    CHECK_EQ_INT(t_fakes[0].published, 2);
    CHECK_EQ_INT(ml4t_transport_health(t, &h), ML4T_OK);
    CHECK_EQ_INT(h.active, 0);
    CHECK_EQ_INT(h.switches, 2);
    ml4t_transport_destroy(&t);
}

static void t_failover_waits_before_failback(void)
{
    ml4t_transport_t *t = t_fake_failover(3600000);
    REQUIRE(t);
    t_fakes[0].up = false;
    ml4t_transport_publish(t, "a", "x", 1, NULL);
    t_fakes[0].up = true; /* healthy again, but not for an hour yet */
    for (int i = 0; i < 10; i++)
        ml4t_transport_publish(t, "a", "x", 1, NULL);
    CHECK_EQ_INT(t_fakes[1].published, 11);
    CHECK_EQ_INT(t_fakes[0].published, 0);
    ml4t_transport_health_t h;
    ml4t_transport_health(t, &h);
    CHECK_EQ_INT(h.active, 1);
    CHECK_EQ_INT(h.switches, 1);
    ml4t_transport_destroy(&t);
}

static void t_failover_recv_both_and_ack_origin(void)
{
    ml4t_transport_t *t = t_fake_failover(0);
    REQUIRE(t);
    CHECK_EQ_INT(ml4t_transport_subscribe(t, "nautilus:signals", NULL), ML4T_OK);
    CHECK_EQ_INT(t_fakes[0].subscribed, 1);
    CHECK_EQ_INT(t_fakes[1].subscribed, 1);
    ml4t_frame_t f;
    t_fakes[1].next_topic = "from-fallback"; /* the primary is active and silent */
    CHECK_EQ_INT(ml4t_transport_recv(t, &f, 50, NULL), ML4T_OK);
    CHECK_STR(f.topic, "from-fallback");
    CHECK_EQ_INT(f.origin, 1);
    CHECK_EQ_INT(ml4t_transport_ack(t, &f, NULL), ML4T_OK);
    CHECK_EQ_INT(t_fakes[1].acked, 1);
    CHECK_EQ_INT(t_fakes[0].acked, 0);
    t_fakes[0].next_topic = "from-primary";
    CHECK_EQ_INT(ml4t_transport_recv(t, &f, 50, NULL), ML4T_OK);
    CHECK_EQ_INT(f.origin, 0);
    CHECK_EQ_INT(ml4t_transport_ack(t, &f, NULL), ML4T_OK);
    CHECK_EQ_INT(t_fakes[0].acked, 1);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_transport_recv(t, &f, 0, &err), ML4T_ETIMEOUT);
    f.origin = 5;
    CHECK_EQ_INT(ml4t_transport_ack(t, &f, &err), ML4T_EINVAL);
    ml4t_transport_destroy(&t);
}

/* A reply is idempotent only on the side that delivered the request. */
static void t_failover_reply_goes_to_origin(void)
{
    ml4t_transport_t *t = t_fake_failover(0);
    REQUIRE(t);
    ml4t_frame_t req;
    memset(&req, 0, sizeof req);
    req.origin = 0;
    CHECK_EQ_INT(ml4t_transport_publish_reply(t, &req, "a", "x", 1, NULL), ML4T_OK);
    CHECK_EQ_INT(t_fakes[0].replied, 1);
    req.origin = 1; /* delivered by the fallback while the primary is active */
    CHECK_EQ_INT(ml4t_transport_publish_reply(t, &req, "a", "x", 1, NULL), ML4T_OK);
    CHECK_EQ_INT(t_fakes[0].replied, 1);
    CHECK_EQ_INT(t_fakes[0].published, 1);
    CHECK_EQ_INT(t_fakes[1].replied + t_fakes[1].published, 0);
    t_fakes[0].up = false; /* now the fallback is active: its own frames are replies */
    CHECK_EQ_INT(ml4t_transport_publish_reply(t, &req, "a", "x", 1, NULL), ML4T_OK);
    CHECK_EQ_INT(t_fakes[1].replied, 1);
    ml4t_transport_destroy(&t);
}

static const t_case_t cases[] = {
    T_CASE(t_defaults),
    T_CASE(t_config_set_names_the_key),
    T_CASE(t_ops_by_name),
    T_CASE(t_abi_mismatch_refused),
    T_CASE(t_older_abi_accepted),
    T_CASE(t_unsupported_entries),
    T_CASE(t_zmq_endpoint_needs_prefix),
    T_CASE(t_redis_config_checked),
    T_CASE(t_failover_refuses_itself),
    T_CASE(t_failover_moves_on_health),
    T_CASE(t_failover_reply_goes_to_origin),
    T_CASE(t_failover_waits_before_failback),
    T_CASE(t_failover_recv_both_and_ack_origin),
};
T_MAIN(cases)
