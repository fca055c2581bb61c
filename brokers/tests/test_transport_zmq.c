/*  ml4t_transport_zmq over real tcp://127.0.0.1 sockets on system-chosen ports. */
#include "ml4t/transport.h"

#include <czmq.h>

#include "redis_server.h" /* t_sleep_ms, t_now_ms */
#include "testutil.h"

/* A publisher bound on a free port, or a subscriber connected to `connect_to`. */
static ml4t_transport_t *t_zmq(const char *pub, const char *sub, int hwm)
{
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    snprintf(cfg.zmq.pub_endpoint, sizeof cfg.zmq.pub_endpoint, "%s", pub);
    snprintf(cfg.zmq.sub_endpoint, sizeof cfg.zmq.sub_endpoint, "%s", sub);
    if (hwm > 0)
        cfg.zmq.sndhwm = cfg.zmq.rcvhwm = hwm;
    ml4t_error_t err;
    ml4t_transport_t *t = ml4t_transport_new(&ml4t_transport_zmq, &cfg, &err);
    if (!t)
        fprintf(stderr, "  zmq init: %s: %s\n", err.field, err.msg);
    return t;
}

static ml4t_transport_t *t_sub_of(ml4t_transport_t *pub, int hwm)
{
    char ep[ML4T_TRANSPORT_ENDPOINT_MAX + 1];
    ep[0] = '>';
    if (ml4t_transport_endpoint(pub, ML4T_TRANSPORT_OUT, ep + 1, sizeof ep - 1) != ML4T_OK)
        return NULL;
    return t_zmq("", ep, hwm);
}

/* PUB/SUB joins late: publish probes until one arrives (or 5 s pass). */
static bool t_joined(ml4t_transport_t *pub, ml4t_transport_t *sub, const char *topic)
{
    ml4t_frame_t f;
    for (long long end = t_now_ms() + 5000; t_now_ms() < end;) {
        ml4t_transport_publish(pub, topic, "probe", 5, NULL);
        if (ml4t_transport_recv(sub, &f, 20, NULL) == ML4T_OK) {
            while (ml4t_transport_recv(sub, &f, 20, NULL) == ML4T_OK)
                ; /* later probes */
            return true;
        }
    }
    return false;
}

static void t_roundtrip_binary_frames(void)
{
    ml4t_transport_t *pub = t_zmq("@tcp://127.0.0.1:*", "", 0);
    REQUIRE(pub);
    ml4t_transport_t *sub = t_sub_of(pub, 0);
    REQUIRE(sub);
    CHECK_EQ_INT(ml4t_transport_subscribe(sub, "nautilus:signals", NULL), ML4T_OK);
    REQUIRE(t_joined(pub, sub, "nautilus:signals"));
    ml4t_transport_health_t before;
    ml4t_transport_health(sub, &before);
    enum { N = 1000 };
    for (int i = 0; i < N; i++) {
        unsigned char payload[64];
        for (size_t j = 0; j < sizeof payload; j++)
            payload[j] = (unsigned char)(i * 31 + j); /* includes NUL bytes */
        char topic[64];
        snprintf(topic, sizeof topic, "nautilus:signals:INST%d", i % 7);
        CHECK_EQ_INT(ml4t_transport_publish(pub, topic, payload, (size_t)(i % 64), NULL), ML4T_OK);
    }
    for (int i = 0; i < N; i++) {
        ml4t_frame_t f;
        ml4t_error_t err;
        REQUIRE(ml4t_transport_recv(sub, &f, 2000, &err) == ML4T_OK);
        char topic[64];
        snprintf(topic, sizeof topic, "nautilus:signals:INST%d", i % 7);
        CHECK_STR(f.topic, topic);
        CHECK_EQ_INT(f.topic_len, strlen(topic));
        CHECK_EQ_INT(f.payload_len, i % 64);
        const unsigned char *p = f.payload;
        for (size_t j = 0; j < f.payload_len; j++)
            if (p[j] != (unsigned char)(i * 31 + j)) {
                CHECK(!"payload byte differs");
                break;
            }
        CHECK_STR(f.id, ""); /* no acknowledgement on ZeroMQ */
    }
    ml4t_transport_health_t h;
    ml4t_transport_health(sub, &h);
    CHECK_EQ_INT(h.received - before.received, N);
    CHECK_EQ_INT(h.active, -1);
    ml4t_transport_destroy(&sub);
    ml4t_transport_destroy(&pub);
}

/* Two nodes shard a mesh by subscribing to instrument-suffixed topics. */
static void t_prefix_sharding(void)
{
    ml4t_transport_t *pub = t_zmq("@tcp://127.0.0.1:*", "", 0);
    REQUIRE(pub);
    ml4t_transport_t *btc = t_sub_of(pub, 0), *eth = t_sub_of(pub, 0);
    REQUIRE(btc && eth);
    ml4t_transport_subscribe(btc, "nautilus:signals:BTCUSDT", NULL);
    ml4t_transport_subscribe(eth, "nautilus:signals:ETHUSDT", NULL);
    REQUIRE(t_joined(pub, btc, "nautilus:signals:BTCUSDT"));
    REQUIRE(t_joined(pub, eth, "nautilus:signals:ETHUSDT"));
    for (int i = 0; i < 100; i++)
        ml4t_transport_publish(pub, i % 2 ? "nautilus:signals:ETHUSDT" : "nautilus:signals:BTCUSDT",
                               &i, sizeof i, NULL);
    ml4t_transport_publish(pub, "nautilus:enriched_signals:BTCUSDT", "x", 1, NULL);
    int got[2] = {0, 0};
    ml4t_transport_t *subs[2] = {btc, eth};
    for (int s = 0; s < 2; s++) {
        ml4t_frame_t f;
        while (ml4t_transport_recv(subs[s], &f, 200, NULL) == ML4T_OK) {
            int i;
            memcpy(&i, f.payload, sizeof i);
            CHECK_EQ_INT(i % 2, s);
            CHECK_EQ_INT(i, 2 * got[s] + s); /* in order, none missing */
            got[s]++;
        }
    }
    CHECK_EQ_INT(got[0], 50);
    CHECK_EQ_INT(got[1], 50);
    ml4t_transport_destroy(&btc);
    ml4t_transport_destroy(&eth);
    ml4t_transport_destroy(&pub);
}

/* A subscriber that never reads: the publisher must not block, and every frame
   it could not hand over is counted. */
static void t_slow_consumer_drops_counted(void)
{
    ml4t_transport_t *pub = t_zmq("@tcp://127.0.0.1:*", "", 10);
    REQUIRE(pub);
    ml4t_transport_t *sub = t_sub_of(pub, 10);
    REQUIRE(sub);
    ml4t_transport_subscribe(sub, "t", NULL);
    REQUIRE(t_joined(pub, sub, "t"));
    ml4t_transport_health_t before;
    ml4t_transport_health(pub, &before);
    enum { N = 20000 };
    static char payload[4096];
    int ok = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        ml4t_err_t rc = ml4t_transport_publish(pub, "t", payload, sizeof payload, NULL);
        ok += rc == ML4T_OK;
        busy += rc == ML4T_EBUSY;
    }
    ml4t_transport_health_t h;
    ml4t_transport_health(pub, &h);
    CHECK(busy > 0); /* 80 MB cannot fit in 10 + 10 messages plus socket buffers */
    CHECK_EQ_INT(ok + busy, N);
    CHECK_EQ_INT(h.dropped - before.dropped, busy);
    CHECK_EQ_INT(h.sent - before.sent, ok);
    CHECK_EQ_INT(h.last_error.code, ML4T_EBUSY);
    ml4t_transport_destroy(&sub);
    ml4t_transport_destroy(&pub);
}

/* Messages that are not [topic, payload] are discarded and counted. */
static void t_malformed_counted(void)
{
    ml4t_transport_t *sub = t_zmq("", "@tcp://127.0.0.1:*", 0);
    REQUIRE(sub);
    char ep[ML4T_TRANSPORT_ENDPOINT_MAX];
    REQUIRE(ml4t_transport_endpoint(sub, ML4T_TRANSPORT_IN, ep, sizeof ep) == ML4T_OK);
    CHECK(strncmp(ep, "tcp://127.0.0.1:", 16) == 0 && strchr(ep, '*') == NULL);
    ml4t_transport_subscribe(sub, "", NULL);
    zsock_t *raw = zsock_new(ZMQ_PUB);
    REQUIRE(raw);
    REQUIRE(zsock_connect(raw, "%s", ep) == 0);
    ml4t_frame_t f;
    bool joined = false;
    for (long long end = t_now_ms() + 5000; !joined && t_now_ms() < end;) {
        zstr_sendm(raw, "probe");
        zstr_send(raw, "p");
        joined = ml4t_transport_recv(sub, &f, 20, NULL) == ML4T_OK;
    }
    REQUIRE(joined);
    while (ml4t_transport_recv(sub, &f, 20, NULL) == ML4T_OK)
        ;
    ml4t_transport_health_t before;
    ml4t_transport_health(sub, &before);
    zstr_send(raw, "one frame only");
    zstr_sendx(raw, "three", "frames", "here", NULL);
    zstr_sendx(raw, "good", "payload", NULL);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_transport_recv(sub, &f, 2000, &err), ML4T_OK);
    CHECK_STR(f.topic, "good");
    CHECK_EQ_INT(f.payload_len, 7);
    CHECK(memcmp(f.payload, "payload", 7) == 0);
    ml4t_transport_health_t h;
    ml4t_transport_health(sub, &h);
    CHECK_EQ_INT(h.malformed - before.malformed, 2);
    CHECK_EQ_INT(ml4t_transport_recv(sub, &f, 0, &err), ML4T_ETIMEOUT);
    CHECK_EQ_INT(err.code, ML4T_ETIMEOUT);
    zsock_destroy(&raw);
    ml4t_transport_destroy(&sub);
}

static bool t_wait_connected(ml4t_transport_t *t, bool want)
{
    ml4t_transport_health_t h;
    for (long long end = t_now_ms() + 5000; t_now_ms() < end; t_sleep_ms(5))
        if (ml4t_transport_health(t, &h) == ML4T_OK && h.connected == want)
            return true;
    return false;
}

/* Health follows the peers: none, one, gone. */
static void t_health_follows_peers(void)
{
    ml4t_transport_t *pub = t_zmq("@tcp://127.0.0.1:*", "", 0);
    REQUIRE(pub);
    ml4t_transport_health_t h;
    ml4t_transport_health(pub, &h);
    CHECK(!h.connected);
    CHECK_EQ_INT(h.peers, 0);
    ml4t_transport_t *sub = t_sub_of(pub, 0);
    REQUIRE(sub);
    CHECK(t_wait_connected(pub, true));
    CHECK(t_wait_connected(sub, true));
    ml4t_transport_health(pub, &h);
    CHECK_EQ_INT(h.peers, 1);
    ml4t_transport_destroy(&sub);
    CHECK(t_wait_connected(pub, false));
    ml4t_transport_health(pub, &h);
    CHECK_EQ_INT(h.peers, 0);
    ml4t_transport_destroy(&pub);
}

static const t_case_t cases[] = {
    T_CASE(t_roundtrip_binary_frames),     T_CASE(t_prefix_sharding),
    T_CASE(t_slow_consumer_drops_counted), T_CASE(t_malformed_counted),
    T_CASE(t_health_follows_peers),
};
T_MAIN(cases)
