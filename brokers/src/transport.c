/*  ml4t_transport: configuration defaults, overrides by key, and the handle. */
#include "ml4t/transport.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ml4t_transport_config_defaults(ml4t_transport_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->zmq.sub_endpoint, sizeof cfg->zmq.sub_endpoint, "@tcp://127.0.0.1:5555");
    snprintf(cfg->zmq.pub_endpoint, sizeof cfg->zmq.pub_endpoint, "@tcp://127.0.0.1:5556");
    cfg->zmq.sndhwm = 10000;
    cfg->zmq.rcvhwm = 10000;
    cfg->zmq.heartbeat_ivl_ms = 1000;
    cfg->zmq.heartbeat_timeout_ms = 3000;

    snprintf(cfg->redis.host, sizeof cfg->redis.host, "127.0.0.1");
    cfg->redis.port = 6379;
    cfg->redis.connect_timeout_ms = 1000;
    cfg->redis.io_timeout_ms = 2000;
    cfg->redis.backoff_min_ms = 50;
    cfg->redis.backoff_max_ms = 2000;
    snprintf(cfg->redis.group, sizeof cfg->redis.group, "ml4t");
    snprintf(cfg->redis.group_start_id, sizeof cfg->redis.group_start_id, "0");
    cfg->redis.count = 64;
    cfg->redis.block_ms = 1000;
    cfg->redis.claim_min_idle_ms = 30000;
    cfg->redis.claim_interval_ms = 5000;
    cfg->redis.maxlen = 0;
    cfg->redis.dedup_window = 65536;
    cfg->redis.answer_ttl_ms = 600000;
    cfg->redis.pipeline = -1; /* the adapter's own: 64 pub/sub, 256 Streams */

    cfg->failover.check_interval_ms = 20;
    cfg->failover.failback_ms = 1000;
    cfg->failover.poll_slice_ms = 5;
}

typedef enum { S_STR, S_INT, S_I64 } s_kind_t;

typedef struct {
    const char *key;
    s_kind_t kind;
    size_t offset;
    size_t size;        /* S_STR: buffer size */
    long long min, max; /* S_INT, S_I64 */
} s_field_t;

#define S_STRF(k, m)                                                                               \
    {                                                                                              \
        k, S_STR, offsetof(ml4t_transport_config_t, m), sizeof(((ml4t_transport_config_t *)0)->m), \
            0, 0                                                                                   \
    }
#define S_INTF(k, m, lo, hi)                                                                       \
    {                                                                                              \
        k, S_INT, offsetof(ml4t_transport_config_t, m), 0, lo, hi                                  \
    }
#define S_I64F(k, m, lo, hi)                                                                       \
    {                                                                                              \
        k, S_I64, offsetof(ml4t_transport_config_t, m), 0, lo, hi                                  \
    }

static const s_field_t s_fields[] = {
    S_STRF("zmq.sub_endpoint", zmq.sub_endpoint),
    S_STRF("zmq.pub_endpoint", zmq.pub_endpoint),
    S_INTF("zmq.sndhwm", zmq.sndhwm, 0, INT_MAX),
    S_INTF("zmq.rcvhwm", zmq.rcvhwm, 0, INT_MAX),
    S_INTF("zmq.heartbeat_ivl_ms", zmq.heartbeat_ivl_ms, 0, 3600000),
    S_INTF("zmq.heartbeat_timeout_ms", zmq.heartbeat_timeout_ms, 0, 3600000),
    S_STRF("zmq.curve_server_cert", zmq.curve_server_cert),
    S_STRF("zmq.curve_clients_dir", zmq.curve_clients_dir),
    S_STRF("zmq.curve_client_cert", zmq.curve_client_cert),
    S_STRF("zmq.curve_server_key", zmq.curve_server_key),
    S_STRF("redis.host", redis.host),
    S_INTF("redis.port", redis.port, 1, 65535),
    S_STRF("redis.username", redis.username),
    S_STRF("redis.password", redis.password),
    S_INTF("redis.connect_timeout_ms", redis.connect_timeout_ms, 1, 3600000),
    S_INTF("redis.io_timeout_ms", redis.io_timeout_ms, 1, 3600000),
    S_INTF("redis.backoff_min_ms", redis.backoff_min_ms, 1, 3600000),
    S_INTF("redis.backoff_max_ms", redis.backoff_max_ms, 1, 3600000),
    S_STRF("redis.stream_publish", redis.stream_publish),
    S_STRF("redis.group", redis.group),
    S_STRF("redis.consumer", redis.consumer),
    S_STRF("redis.group_start_id", redis.group_start_id),
    S_INTF("redis.count", redis.count, 1, 100000),
    S_INTF("redis.block_ms", redis.block_ms, 1, 3600000),
    S_INTF("redis.claim_min_idle_ms", redis.claim_min_idle_ms, 0, INT_MAX),
    S_INTF("redis.claim_interval_ms", redis.claim_interval_ms, 0, INT_MAX),
    S_I64F("redis.maxlen", redis.maxlen, 0, INT64_MAX),
    S_INTF("redis.dedup_window", redis.dedup_window, 0, 1 << 24),
    S_INTF("redis.answer_ttl_ms", redis.answer_ttl_ms, 0, INT_MAX),
    S_INTF("redis.pipeline", redis.pipeline, -1, 65536),
    S_INTF("failover.check_interval_ms", failover.check_interval_ms, 0, 3600000),
    S_INTF("failover.failback_ms", failover.failback_ms, 0, 3600000),
    S_INTF("failover.poll_slice_ms", failover.poll_slice_ms, 1, 1000),
};

ml4t_err_t ml4t_transport_config_set(ml4t_transport_config_t *cfg, const char *key,
                                     const char *value, ml4t_error_t *err)
{
    for (size_t i = 0; i < sizeof s_fields / sizeof s_fields[0]; i++) {
        const s_field_t *f = &s_fields[i];
        if (strcmp(f->key, key) != 0)
            continue;
        char *p = (char *)cfg + f->offset;
        if (f->kind == S_STR) {
            if (strlen(value) >= f->size)
                return ml4t_error_set(err, ML4T_ELIMIT, key, "%s is longer than %zu bytes", key,
                                      f->size - 1);
            memcpy(p, value, strlen(value) + 1);
            return ML4T_OK;
        }
        char *end = NULL;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0')
            return ml4t_error_set(err, ML4T_EINVAL, key, "%s=%s: not an integer", key, value);
        if (v < f->min || v > f->max)
            return ml4t_error_set(err, ML4T_ERANGE, key, "%s=%s: must be in [%lld, %lld]", key,
                                  value, f->min, f->max);
        if (f->kind == S_INT)
            *(int *)(void *)p = (int)v;
        else
            *(int64_t *)(void *)p = (int64_t)v;
        return ML4T_OK;
    }
    return ml4t_error_set(err, ML4T_ENOTFOUND, key, "unknown transport setting %s", key);
}

const ml4t_transport_ops_t *ml4t_transport_ops_by_name(const char *name)
{
    const ml4t_transport_ops_t *all[] = {&ml4t_transport_zmq, &ml4t_transport_redis_pubsub,
                                         &ml4t_transport_redis_streams, &ml4t_transport_failover};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (name && strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

ml4t_transport_t *ml4t_transport_new(const ml4t_transport_ops_t *ops,
                                     const ml4t_transport_config_t *cfg, ml4t_error_t *err)
{
    if (!ops || !cfg) {
        ml4t_error_set(err, ML4T_EINVAL, "transport", "no adapter or no configuration given");
        return NULL;
    }
    if (ops->abi_version < ML4T_TRANSPORT_ABI_MIN ||
        ops->abi_version > ML4T_TRANSPORT_ABI_VERSION || !ops->init || !ops->close) {
        ml4t_error_set(err, ML4T_EMISMATCH, "transport",
                       "adapter %s is built for transport ABI %u, this library takes %d to %d",
                       ops->name ? ops->name : "?", (unsigned)ops->abi_version,
                       ML4T_TRANSPORT_ABI_MIN, ML4T_TRANSPORT_ABI_VERSION);
        return NULL;
    }
    ml4t_transport_t *self = calloc(1, sizeof *self);
    if (!self) {
        ml4t_error_set(err, ML4T_ENOMEM, "transport", "cannot allocate a transport");
        return NULL;
    }
    self->ops = ops;
    if (ops->init(&self->state, cfg, err) != ML4T_OK) {
        free(self);
        return NULL;
    }
    return self;
}

void ml4t_transport_destroy(ml4t_transport_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ml4t_transport_t *self = *self_p;
    self->ops->close(&self->state);
    free(self);
    *self_p = NULL;
}
