/*  Helpers for tests of the Redis transports against a real redis-server
    (redis_server.h): a configuration for it, and waits that make pipelined
    publishing observable from other connections. */
#ifndef ML4T_TEST_REDIS_TRANSPORT_H_INCLUDED
#define ML4T_TEST_REDIS_TRANSPORT_H_INCLUDED

#include "ml4t/transport.h"
#include "redis_server.h"

static inline void t_cfg(ml4t_transport_config_t *cfg, const t_redis_t *r)
{
    ml4t_transport_config_defaults(cfg);
    cfg->redis.port = r->port;
    cfg->redis.backoff_min_ms = 10;
    cfg->redis.backoff_max_ms = 200;
    cfg->redis.block_ms = 100;
    cfg->redis.claim_interval_ms = 0;
    snprintf(cfg->redis.group, sizeof cfg->redis.group, "g");
    snprintf(cfg->redis.stream_publish, sizeof cfg->redis.stream_publish, "s");
}

static inline ml4t_transport_t *t_new(const ml4t_transport_ops_t *ops,
                                      const ml4t_transport_config_t *cfg)
{
    ml4t_error_t err;
    ml4t_transport_t *t = ml4t_transport_new(ops, cfg, &err);
    if (!t)
        fprintf(stderr, "  %s init: %s: %s\n", ops->name, err.field, err.msg);
    return t;
}

/* Publish until it goes through (Redis may be coming back). */
static inline bool t_publish(ml4t_transport_t *t, const char *topic, const void *data, size_t len)
{
    for (long long end = t_now_ms() + 5000; t_now_ms() < end; t_sleep_ms(5))
        if (ml4t_transport_publish(t, topic, data, len, NULL) == ML4T_OK)
            return true;
    return false;
}

/* Publishes are pipelined: wait until every command t wrote has been
   answered, after which another connection sees its effects. */
static inline bool t_settle(ml4t_transport_t *t)
{
    ml4t_transport_health_t h;
    for (long long end = t_now_ms() + 5000; t_now_ms() < end; t_sleep_ms(1))
        if (ml4t_transport_health(t, &h) == ML4T_OK && h.pipelined == 0)
            return true;
    return false;
}

/* Pub/sub delivers only to subscriptions already in place: probe until one arrives. */
static inline bool t_joined(ml4t_transport_t *pub, ml4t_transport_t *sub, const char *topic)
{
    ml4t_frame_t f;
    for (long long end = t_now_ms() + 5000; t_now_ms() < end;) {
        ml4t_transport_publish(pub, topic, "probe", 5, NULL);
        if (ml4t_transport_recv(sub, &f, 20, NULL) == ML4T_OK) {
            while (ml4t_transport_recv(sub, &f, 20, NULL) == ML4T_OK)
                ;
            return true;
        }
    }
    return false;
}

#endif
