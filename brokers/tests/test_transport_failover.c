/*  ml4t_transport_failover with real parts: ZeroMQ primary on loopback, Redis
    pub/sub fallback on a redis-server started here. The primary is stopped
    mid-stream and brought back.
    ctest-labels: integration */
#include "ml4t/transport.h"

#include "redis_server.h"
#include "testutil.h"

static void t_cfg(ml4t_transport_config_t *cfg, const t_redis_t *r, const char *pub,
                  const char *sub)
{
    ml4t_transport_config_defaults(cfg);
    snprintf(cfg->zmq.pub_endpoint, sizeof cfg->zmq.pub_endpoint, "%s", pub);
    snprintf(cfg->zmq.sub_endpoint, sizeof cfg->zmq.sub_endpoint, "%s", sub);
    cfg->redis.port = r->port;
    cfg->redis.backoff_min_ms = 10;
    cfg->redis.backoff_max_ms = 200;
    cfg->failover.check_interval_ms = 5;
    cfg->failover.failback_ms = 200;
}

static ml4t_transport_t *t_new(const ml4t_transport_ops_t *ops, const ml4t_transport_config_t *cfg)
{
    ml4t_error_t err;
    ml4t_transport_t *t = ml4t_transport_new(ops, cfg, &err);
    if (!t)
        fprintf(stderr, "  %s init: %s: %s\n", ops->name, err.field, err.msg);
    return t;
}

static int t_active(ml4t_transport_t *t)
{
    ml4t_transport_health_t h;
    ml4t_transport_health(t, &h);
    return h.active;
}

static bool t_wait_active(ml4t_transport_t *t, int side)
{
    for (long long end = t_now_ms() + 5000; t_now_ms() < end; t_sleep_ms(5))
        if (t_active(t) == side)
            return true;
    return false;
}

static int t_index_of(const ml4t_frame_t *f)
{
    int i = -1;
    if (f->payload_len == sizeof i)
        memcpy(&i, f->payload, sizeof i);
    return i;
}

/* Receive until quiet; checks the indices are exactly [first, to) in order,
   first in [from - slack, from]. Slack 0 where the start is known; 1 where it
   is known only to about one message: the test reads the failover's active
   side just before each publish, and the switch can come inside that publish.
   Returns first (from when nothing arrived). */
static int t_expect_range(ml4t_transport_t *t, int from, int slack, int to, const char *what)
{
    ml4t_frame_t f;
    int first = -1, next = -1;
    while (ml4t_transport_recv(t, &f, 300, NULL) == ML4T_OK) {
        int i = t_index_of(&f);
        if (i < 0)
            continue; /* a probe */
        if (first < 0) {
            first = next = i;
            if (i > from || i < from - slack) {
                if (slack == 0)
                    fprintf(stderr, "  %s: started at %d, expected %d (range [%d, %d))\n", what, i,
                            from, from, to);
                else
                    fprintf(stderr, "  %s: started at %d, expected %d to %d\n", what, i,
                            from - slack, from);
                CHECK(i <= from && i >= from - slack);
            }
        }
        if (i != next) {
            fprintf(stderr, "  %s: got %d, expected %d (range [%d, %d))\n", what, i, next, first,
                    to);
            CHECK(i == next);
        }
        next = i + 1;
    }
    if (first < 0) /* nothing arrived: right only for the empty range */
        first = next = from;
    if (next != to)
        fprintf(stderr, "  %s: stopped at %d, expected [%d, %d)\n", what, next, first, to);
    CHECK_EQ_INT(next, to);
    return first;
}

static ml4t_transport_t *t_zmq_sub_of(ml4t_transport_t *node, const char *topic)
{
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    cfg.zmq.pub_endpoint[0] = '\0';
    cfg.zmq.sub_endpoint[0] = '>';
    if (ml4t_transport_endpoint(node, ML4T_TRANSPORT_OUT, cfg.zmq.sub_endpoint + 1,
                                sizeof cfg.zmq.sub_endpoint - 1) != ML4T_OK)
        return NULL;
    ml4t_transport_t *z = t_new(&ml4t_transport_zmq, &cfg);
    if (z)
        ml4t_transport_subscribe(z, topic, NULL);
    return z;
}

/* Publish indices from *next, one per millisecond, until the failover reports
   `side` active, then `after` more. Returns the first index sent on `side`. */
static int t_publish_until(ml4t_transport_t *node, int side, int *next, int after)
{
    int at = -1;
    for (long long end = t_now_ms() + 5000; t_now_ms() < end; t_sleep_ms(1)) {
        if (at < 0 && t_active(node) == side)
            at = *next;
        if (at >= 0 && *next >= at + after)
            break;
        int i = (*next)++;
        ml4t_transport_publish(node, "nautilus:enriched_signals", &i, sizeof i, NULL);
    }
    return at;
}

static void t_publish_moves_to_fallback_and_back(void)
{
    const char *topic = "nautilus:enriched_signals";
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r, "@tcp://127.0.0.1:*", "");
    ml4t_transport_t *node = t_new(&ml4t_transport_failover, &cfg);
    ml4t_transport_t *red = t_new(&ml4t_transport_redis_pubsub, &cfg);
    ml4t_transport_t *zsub = node ? t_zmq_sub_of(node, topic) : NULL;
    if (!node || !red || !zsub)
        goto out;
    ml4t_transport_subscribe(red, topic, NULL);
    REQUIRE(t_wait_active(node, 0)); /* the ZeroMQ subscriber is connected */
    ml4t_frame_t f;
    bool joined = false;
    for (long long end = t_now_ms() + 5000; !joined && t_now_ms() < end;) {
        ml4t_transport_publish(node, topic, "probe", 5, NULL);
        joined = ml4t_transport_recv(zsub, &f, 20, NULL) == ML4T_OK;
    }
    REQUIRE(joined);
    t_sleep_ms(50); /* let the Redis subscription settle, then drain probes */
    while (ml4t_transport_recv(red, &f, 50, NULL) == ML4T_OK)
        ;
    while (ml4t_transport_recv(zsub, &f, 50, NULL) == ML4T_OK)
        ;
    ml4t_transport_health_t h0;
    ml4t_transport_health(node, &h0);

    int next = 0; /* A: on the primary */
    for (; next < 100; next++)
        CHECK_EQ_INT(ml4t_transport_publish(node, topic, &next, sizeof next, NULL), ML4T_OK);
    t_expect_range(zsub, 0, 0, 100, "zmq before the stop");

    ml4t_transport_destroy(&zsub); /* B: the primary link stops mid-stream */
    int down_at = t_publish_until(node, 1, &next, 100);
    REQUIRE(down_at >= 100);
    t_expect_range(red, down_at, 1, next, "redis after the stop");

    int resumed = next; /* C: the primary comes back */
    zsub = t_zmq_sub_of(node, topic);
    REQUIRE(zsub);
    int up_at = t_publish_until(node, 0, &next, 100);
    REQUIRE(up_at > resumed);
    /* each index exactly once: Redis up to where ZeroMQ takes over */
    int back_at = t_expect_range(zsub, up_at, 1, next, "zmq after recovery");
    t_expect_range(red, resumed, 0, back_at, "redis until the primary is back");

    ml4t_transport_health_t h;
    ml4t_transport_health(node, &h);
    CHECK_EQ_INT(h.switches - h0.switches, 2);
    CHECK_EQ_INT(h.active, 0);
    CHECK(h.connected);
out:
    ml4t_transport_destroy(&zsub);
    ml4t_transport_destroy(&red);
    ml4t_transport_destroy(&node);
    t_redis_stop(&r);
}

/* The node's receiving side hears both links, whichever its peers use. */
static void t_recv_hears_both_links(void)
{
    const char *topic = "nautilus:signals";
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r, "", "@tcp://127.0.0.1:*");
    ml4t_transport_t *node = t_new(&ml4t_transport_failover, &cfg);
    ml4t_transport_t *red = t_new(&ml4t_transport_redis_pubsub, &cfg);
    ml4t_transport_t *zpub = NULL;
    if (!node || !red)
        goto out;
    CHECK_EQ_INT(ml4t_transport_subscribe(node, topic, NULL), ML4T_OK);
    ml4t_transport_config_t zc;
    ml4t_transport_config_defaults(&zc);
    zc.zmq.sub_endpoint[0] = '\0';
    zc.zmq.pub_endpoint[0] = '>';
    REQUIRE(ml4t_transport_endpoint(node, ML4T_TRANSPORT_IN, zc.zmq.pub_endpoint + 1,
                                    sizeof zc.zmq.pub_endpoint - 1) == ML4T_OK);
    zpub = t_new(&ml4t_transport_zmq, &zc);
    REQUIRE(zpub);
    ml4t_frame_t f;
    bool joined[2] = {false, false};
    ml4t_transport_t *pubs[2] = {zpub, red};
    for (int s = 0; s < 2; s++)
        for (long long end = t_now_ms() + 5000; !joined[s] && t_now_ms() < end;) {
            ml4t_transport_publish(pubs[s], topic, "probe", 5, NULL);
            while (!joined[s] && ml4t_transport_recv(node, &f, 20, NULL) == ML4T_OK)
                joined[s] = f.origin == (uint32_t)s;
        }
    REQUIRE(joined[0] && joined[1]);
    while (ml4t_transport_recv(node, &f, 50, NULL) == ML4T_OK)
        ;
    int i = 0;
    for (; i < 50; i++)
        ml4t_transport_publish(zpub, topic, &i, sizeof i, NULL);
    for (int k = 0; k < 50; k++) {
        REQUIRE(ml4t_transport_recv(node, &f, 2000, NULL) == ML4T_OK);
        CHECK_EQ_INT(t_index_of(&f), k);
        CHECK_EQ_INT(f.origin, 0);
    }
    ml4t_transport_destroy(&zpub); /* the strategy's ZeroMQ link stops */
    CHECK(t_wait_active(node, 1));
    for (; i < 100; i++)
        ml4t_transport_publish(red, topic, &i, sizeof i, NULL);
    for (int k = 50; k < 100; k++) {
        REQUIRE(ml4t_transport_recv(node, &f, 2000, NULL) == ML4T_OK);
        CHECK_EQ_INT(t_index_of(&f), k);
        CHECK_EQ_INT(f.origin, 1);
        CHECK_EQ_INT(ml4t_transport_ack(node, &f, NULL), ML4T_OK); /* pub/sub: nothing to do */
    }
out:
    ml4t_transport_destroy(&zpub);
    ml4t_transport_destroy(&red);
    ml4t_transport_destroy(&node);
    t_redis_stop(&r);
}

static const t_case_t cases[] = {
    T_CASE(t_publish_moves_to_fallback_and_back),
    T_CASE(t_recv_hears_both_links),
};
T_MAIN(cases)
