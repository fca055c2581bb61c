/*  ml4t_transport_rtt: round trip of small frames over each transport on loopback.

    One thread plays both ends: a client publishes "ping", the node receives it
    and answers "pong" with publish_reply (and acks, on Streams), the client
    receives that. So a figure is two one-way trips plus both ends' work,
    with no thread hand-off. Starts its own redis-server (no persistence) on a free port.

    Usage: ml4t_transport_rtt [rounds]   (default 10000) */
#include "ml4t/clock.h"
#include "ml4t/transport.h"

#include "redis_server.h"

typedef struct {
    const char *name;
    ml4t_transport_t *node, *client;
} t_pair_t;

static int t_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One ping-pong; false when a frame did not come within a second. */
static bool t_round(t_pair_t *p, const char *payload, size_t len)
{
    ml4t_frame_t f;
    if (ml4t_transport_publish(p->client, "ping", payload, len, NULL) != ML4T_OK ||
        ml4t_transport_recv(p->node, &f, 1000, NULL) != ML4T_OK)
        return false;
    /* as the node answers: idempotent on Streams (one script: XADD, marker, XACK) */
    ml4t_transport_publish_reply(p->node, &f, "pong", f.payload, f.payload_len, NULL);
    ml4t_transport_ack(p->node, &f, NULL);
    return ml4t_transport_recv(p->client, &f, 1000, NULL) == ML4T_OK;
}

static void t_run(t_pair_t *p, int rounds)
{
    if (!p->node || !p->client) {
        printf("%-14s could not start\n", p->name);
        return;
    }
    ml4t_transport_subscribe(p->node, "ping", NULL);
    ml4t_transport_subscribe(p->client, "pong", NULL);
    char payload[64];
    memset(payload, 'x', sizeof payload);
    bool joined = false; /* subscriptions propagate asynchronously */
    for (long long end = t_now_ms() + 5000; !joined && t_now_ms() < end;)
        joined = t_round(p, "probe", 5);
    ml4t_frame_t f;
    while (ml4t_transport_recv(p->node, &f, 50, NULL) == ML4T_OK)
        ml4t_transport_ack(p->node, &f, NULL);
    while (ml4t_transport_recv(p->client, &f, 50, NULL) == ML4T_OK)
        ml4t_transport_ack(p->client, &f, NULL);
    for (int i = 0; i < 200; i++)
        t_round(p, payload, sizeof payload);
    uint64_t *ns = calloc((size_t)rounds, sizeof *ns);
    int done = 0;
    uint64_t t0 = ml4t_clock_mono_ns();
    for (; ns && done < rounds; done++) {
        uint64_t a = ml4t_clock_mono_ns();
        if (!t_round(p, payload, sizeof payload))
            break;
        ns[done] = ml4t_clock_mono_ns() - a;
    }
    double total_s = (double)(ml4t_clock_mono_ns() - t0) / 1e9;
    if (done > 0) {
        qsort(ns, (size_t)done, sizeof *ns, t_cmp);
        printf("%-14s rounds=%d  p50=%7.1f us  p99=%7.1f us  p99.9=%7.1f us  %.0f round trips/s\n",
               p->name, done, ns[done / 2] / 1e3, ns[(size_t)(done * 0.99)] / 1e3,
               ns[(size_t)(done * 0.999)] / 1e3, done / total_s);
    }
    if (done < rounds)
        printf("%-14s stopped after %d rounds\n", p->name, done);
    free(ns);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 10000;
    t_redis_t r = {0};
    if (!t_redis_start(&r)) {
        fprintf(stderr, "cannot start %s\n", T_REDIS_BIN);
        return 1;
    }
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    cfg.redis.port = r.port;
    snprintf(cfg.zmq.sub_endpoint, sizeof cfg.zmq.sub_endpoint, "@tcp://127.0.0.1:*");
    snprintf(cfg.zmq.pub_endpoint, sizeof cfg.zmq.pub_endpoint, "@tcp://127.0.0.1:*");
    printf("payload 64 bytes, %d round trips each, one thread, loopback\n", rounds);

    t_pair_t zmq = {"zmq", ml4t_transport_new(&ml4t_transport_zmq, &cfg, NULL), NULL};
    if (zmq.node) {
        ml4t_transport_config_t c = cfg;
        c.zmq.sub_endpoint[0] = c.zmq.pub_endpoint[0] = '>';
        ml4t_transport_endpoint(zmq.node, ML4T_TRANSPORT_OUT, c.zmq.sub_endpoint + 1, 200);
        ml4t_transport_endpoint(zmq.node, ML4T_TRANSPORT_IN, c.zmq.pub_endpoint + 1, 200);
        zmq.client = ml4t_transport_new(&ml4t_transport_zmq, &c, NULL);
    }
    t_run(&zmq, rounds);
    ml4t_transport_destroy(&zmq.node);
    ml4t_transport_destroy(&zmq.client);

    t_pair_t ps = {"redis-pubsub", ml4t_transport_new(&ml4t_transport_redis_pubsub, &cfg, NULL),
                   ml4t_transport_new(&ml4t_transport_redis_pubsub, &cfg, NULL)};
    t_run(&ps, rounds);
    ml4t_transport_destroy(&ps.node);
    ml4t_transport_destroy(&ps.client);

    ml4t_transport_config_t sn = cfg, sc = cfg;
    snprintf(sn.redis.consumer, sizeof sn.redis.consumer, "node");
    snprintf(sc.redis.consumer, sizeof sc.redis.consumer, "client");
    t_pair_t st = {"redis-streams", ml4t_transport_new(&ml4t_transport_redis_streams, &sn, NULL),
                   ml4t_transport_new(&ml4t_transport_redis_streams, &sc, NULL)};
    t_run(&st, rounds);
    ml4t_transport_destroy(&st.node);
    ml4t_transport_destroy(&st.client);

    t_redis_stop(&r);
    return 0;
}
