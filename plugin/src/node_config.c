/*  ml4t_node_config: every option of the node, by key, from a ZPL file, the
    environment and flags, with every problem collected before anything starts. */
#include "ml4t/node.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ml4t/sched.h"

void ml4t_node_config_default(ml4t_node_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    ml4t_orchestrator_config_default(&cfg->orch);
    ml4t_supervisor_config_default(&cfg->sup);
    ml4t_transport_config_defaults(&cfg->transport);
    ml4t_store_config_default(&cfg->store);
    snprintf(cfg->transport_name, sizeof cfg->transport_name, "zmq");
    snprintf(cfg->control_endpoint, sizeof cfg->control_endpoint, "@tcp://127.0.0.1:5557");
    snprintf(cfg->channel_outcomes, sizeof cfg->channel_outcomes, ML4T_CHANNEL_OUTCOMES);
    snprintf(cfg->channel_risk_state, sizeof cfg->channel_risk_state, ML4T_CHANNEL_RISK_STATE);
    snprintf(cfg->channel_errors, sizeof cfg->channel_errors, ML4T_CHANNEL_ERRORS);
    snprintf(cfg->channel_stats, sizeof cfg->channel_stats, ML4T_CHANNEL_STATS);
    snprintf(cfg->channel_policy, sizeof cfg->channel_policy, ML4T_CHANNEL_POLICY);
    cfg->stats_interval_s = 10;
    cfg->supervisor = true;
}

/* ---- the option table ------------------------------------------------------------ */

typedef enum { K_BASE, K_TRANSPORT, K_STR, K_INT, K_I64, K_SIZE, K_DOUBLE, K_BOOL } s_kind_t;

typedef struct {
    const char *key;
    s_kind_t kind;
    size_t offset, size; /* into ml4t_node_config_t; size: string buffers */
    double min, max;     /* numbers, inclusive */
    const char *help;
} s_opt_t;

#define S_OFF(m) offsetof(ml4t_node_config_t, m)
#define S_SZ(m)  sizeof(((ml4t_node_config_t *)0)->m)
#define OB(k, h)                                                                                   \
    {                                                                                              \
        k, K_BASE, 0, 0, 0, 0, h                                                                   \
    }
#define OT(k, m, h)                                                                                \
    {                                                                                              \
        k, K_TRANSPORT, S_OFF(m), S_SZ(m), 0, 0, h                                                 \
    }
#define OS(k, m, h)                                                                                \
    {                                                                                              \
        k, K_STR, S_OFF(m), S_SZ(m), 0, 0, h                                                       \
    }
#define ON(k, kind, m, lo, hi, h)                                                                  \
    {                                                                                              \
        k, kind, S_OFF(m), S_SZ(m), lo, hi, h                                                      \
    }

static const s_opt_t s_opts[] = {
    /* node */
    OS("transport", transport_name,
       "zmq | redis | streams | failover (ZeroMQ primary, Redis "
       "pub/sub fallback)"),
    OT("signals", transport.zmq.sub_endpoint, "ZeroMQ signals in (@ binds, > connects)"),
    OT("enriched", transport.zmq.pub_endpoint, "ZeroMQ enriched signals, errors, stats out"),
    OS("control", control_endpoint, "control socket for ml4t-ctl (ROUTER); \"\" = none"),
    ON("stats_interval", K_DOUBLE, stats_interval_s, 0, 86400,
       "seconds between stats on channel_stats; 0 = off"),
    ON("policy", K_BOOL, orch.policy_enabled, 0, 1, "trading-policy engine on/off"),
    ON("retrain", K_BOOL, supervisor, 0, 1, "supervisor (retraining, TRAIN) on/off"),
    ON("enriched_by_instrument", K_BOOL, enriched_by_instrument, 0, 1,
       "publish on <channel_enriched>:<instrument>"),
    OS("channel_outcomes", channel_outcomes, "OutcomeEvents in"),
    OS("channel_risk_state", channel_risk_state, "RiskStateEvents in"),
    OS("channel_errors", channel_errors, "ErrorEvents out"),
    OS("channel_stats", channel_stats, "stats (JSON text) out"),
    OS("channel_policy", channel_policy, "TradingPolicy out, whenever it changes"),
    ON("quiet", K_BOOL, quiet, 0, 1, "no startup lines on stderr"),
    /* model (ml4t_config) */
    OB("model_path", "model served at start when the registry has no live model"),
    OB("data_dir", "history store and model registry"),
    OB("default_confidence", "meta_confidence answered without a model"),
    OB("retrain_accuracy_drop_threshold", "accuracy drop below baseline that triggers a retrain"),
    OB("retrain_min_samples", "retrain after this many newly labelled predictions (>= 100)"),
    OB("retrain_interval_bars", "retrain every N bars; 0 = off"),
    OB("channel_signals", "SignalEvents in (subscribed by prefix)"),
    OB("channel_enriched", "EnrichedSignalEvents out"),
    OB("inference_timeout_ms",
       "enrichment budget per signal: slower answers are still sent, and counted (over_budget)"),
    OB("features", "meta-features, comma-separated, in model order"),
    OB("min_bars", "bars known for an instrument before it is answered"),
    OB("max_bars", "bars accepted in one signal"),
    OB("max_message_bytes", "largest wire message accepted"),
    /* transports */
    OT("zmq.sndhwm", transport.zmq.sndhwm, "send high-water mark; a full peer drops (counted)"),
    OT("zmq.rcvhwm", transport.zmq.rcvhwm, "receive high-water mark"),
    OT("zmq.heartbeat_ivl_ms", transport.zmq.heartbeat_ivl_ms, "ZMTP heartbeat; 0 = off"),
    OT("zmq.heartbeat_timeout_ms", transport.zmq.heartbeat_timeout_ms,
       "a silent peer is dropped after this"),
    OT("zmq.curve_server_cert", transport.zmq.curve_server_cert,
       "CURVE: this node's secret certificate (ml4t-cert new); \"\" = plain ZMTP"),
    OT("zmq.curve_clients_dir", transport.zmq.curve_clients_dir,
       "CURVE: directory of allowed client public certificates; \"*\" = any key"),
    OT("zmq.curve_client_cert", transport.zmq.curve_client_cert,
       "CURVE client role (connecting to a CURVE server): own secret certificate"),
    OT("zmq.curve_server_key", transport.zmq.curve_server_key,
       "CURVE client role: the server's public certificate file or Z85 key"),
    OT("redis.host", transport.redis.host, "Redis host"),
    OT("redis.port", transport.redis.port, "Redis port"),
    OT("redis.username", transport.redis.username, "ACL user (with password)"),
    OT("redis.password", transport.redis.password, "AUTH password; \"\" = none"),
    OT("redis.connect_timeout_ms", transport.redis.connect_timeout_ms, ""),
    OT("redis.io_timeout_ms", transport.redis.io_timeout_ms, ""),
    OT("redis.backoff_min_ms", transport.redis.backoff_min_ms, "first reconnect delay"),
    OT("redis.backoff_max_ms", transport.redis.backoff_max_ms, "reconnect delay cap"),
    OT("redis.stream_publish", transport.redis.stream_publish,
       "Streams: \"\" = XADD to the stream named by the channel"),
    OT("redis.group", transport.redis.group, "Streams consumer group"),
    OT("redis.consumer", transport.redis.consumer, "Streams consumer; \"\" = <host>-<pid>"),
    OT("redis.group_start_id", transport.redis.group_start_id, "where a new group starts"),
    OT("redis.count", transport.redis.count, "entries per XREADGROUP"),
    OT("redis.block_ms", transport.redis.block_ms, "XREADGROUP BLOCK"),
    OT("redis.claim_min_idle_ms", transport.redis.claim_min_idle_ms,
       "others' pending entries idle this long are claimed"),
    OT("redis.claim_interval_ms", transport.redis.claim_interval_ms,
       "how often to look for them; 0 = never"),
    OT("redis.maxlen", transport.redis.maxlen, "XADD MAXLEN ~; 0 = unbounded"),
    OT("redis.dedup_window", transport.redis.dedup_window, "stream ids remembered"),
    OT("redis.answer_ttl_ms", transport.redis.answer_ttl_ms,
       "Streams: an answered entry's marker lives this long; 0 = at-least-once answers"),
    OT("redis.pipeline", transport.redis.pipeline,
       "commands in flight to Redis before a publish waits; 0 = wait for each reply;"
       " -1 = 64 for pub/sub, 256 for Streams"),
    OT("failover.check_interval_ms", transport.failover.check_interval_ms, ""),
    OT("failover.failback_ms", transport.failover.failback_ms,
       "primary healthy this long before traffic moves back"),
    OT("failover.poll_slice_ms", transport.failover.poll_slice_ms, ""),
    /* policy */
    ON("policy.base_confidence", K_DOUBLE, orch.policy.base_confidence, 0, 1, ""),
    ON("policy.base_risk_pct", K_DOUBLE, orch.policy.base_risk_pct, 1e-12, 100, ""),
    ON("policy.daily_dd_limit_pct", K_DOUBLE, orch.policy.daily_dd_limit_pct, 1e-12, 100,
       "drawdown that blocks new trades"),
    ON("policy.losing_streak_limit", K_I64, orch.policy.losing_streak_limit, 1, 1e6, ""),
    ON("policy.max_open_positions", K_I64, orch.policy.max_open_positions, 1, 1e6, ""),
    ON("policy.total_exposure_limit_pct", K_DOUBLE, orch.policy.total_exposure_limit_pct, 1e-12,
       1e4, ""),
    ON("policy.update_interval_s", K_DOUBLE, orch.policy.update_interval_s, 0, 86400, ""),
    ON("policy.similarity_threshold", K_DOUBLE, orch.policy.similarity_threshold, 0, 1, ""),
    /* history store */
    ON("store.queue_capacity", K_SIZE, store.queue_capacity, 2, 67108864,
       "records queued for the writer (about 96 bytes each); a full queue drops and counts"),
    ON("store.flush_interval_ms", K_INT, store.flush_interval_ms, 1, 60000,
       "the history writer commits what is queued this often, and at every full batch "
       "(store.batch_max); a kill -9 loses what is queued, SIGTERM nothing"),
    ON("store.batch_max", K_SIZE, store.batch_max, 1, 1000000,
       "records per history transaction at most; a full batch wakes the writer"),
    ON("store.history", K_BOOL, store.history, 0, 1,
       "record every bar, prediction and outcome in the history store; off: nothing is "
       "recorded (the model registry stays) and a restart warms up on the bars stored "
       "before: for a node that only serves, so retrain must be off too"),
    ON("store.idle", K_BOOL, store.idle, 0, 1,
       "the history writer runs only on a core nothing else wants (SCHED_IDLE, Linux)"),
    ON("store.nice", K_INT, store.nice, ML4T_SCHED_NICE_MIN, ML4T_SCHED_NICE_MAX,
       "added to the node's niceness for the history writer thread when store.idle is off"),
    /* supervisor and training */
    ON("supervisor.keep_versions", K_SIZE, sup.keep_versions, 2, 1000, "model versions kept"),
    ON("supervisor.auc_tolerance", K_DOUBLE, sup.auc_tolerance, 0, 1,
       "refuse a candidate whose AUC < live AUC - this"),
    ON("supervisor.max_train_bars", K_SIZE, sup.max_train_bars, 1000, 1e8,
       "newest stored bars used by a run"),
    OS("supervisor.train_instrument", sup.train_instrument, "\"\" = the busiest instrument"),
    ON("supervisor.fit_hmm", K_BOOL, sup.fit_hmm, 0, 1, "ship an HMM regime filter"),
    ON("supervisor.nice", K_INT, sup.nice, ML4T_SCHED_NICE_MIN, ML4T_SCHED_NICE_MAX,
       "added to the node's niceness for training threads (Linux)"),
    ON("supervisor.min_interval_s", K_DOUBLE, sup.min_interval_s, 0, 604800,
       "seconds from the start or a run's end to the next automatic one (TRAIN exempt); 0 = none"),
    ON("train.trees", K_INT, sup.train.model.n_trees, 1, 10000, "boosting rounds"),
    ON("train.max_depth", K_INT, sup.train.model.max_depth, 1, 16, ""),
    ON("train.learning_rate", K_DOUBLE, sup.train.model.learning_rate, 1e-9, 1, ""),
    ON("train.threads", K_INT, sup.train.model.nthread, 0, 256, "0 = auto"),
    ON("train.folds", K_SIZE, sup.train.folds.n_folds, 2, 64, "walk-forward folds"),
    {NULL, K_STR, 0, 0, 0, 0, NULL}};

/* '-' and '_' are one character, '.' matches '_' as well. */
static bool s_key_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a == '-' || *a == '.') ? '_' : (char)tolower((unsigned char)*a);
        char y = (*b == '-' || *b == '.') ? '_' : (char)tolower((unsigned char)*b);
        if (x != y)
            return false;
    }
    return *a == *b;
}

static const s_opt_t *s_find(const char *key)
{
    for (const s_opt_t *o = s_opts; o->key; o++)
        if (s_key_eq(o->key, key))
            return o;
    return NULL;
}

static bool s_parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return (*out = true);
        if (strcasecmp(v, no[i]) == 0)
            return !(*out = false);
    }
    return false;
}

static ml4t_err_t s_set_number(ml4t_node_config_t *cfg, const s_opt_t *o, const char *value,
                               ml4t_error_t *err)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(value, &end);
    bool whole = o->kind != K_DOUBLE;
    if (!*value || *end || errno || !isfinite(d) || (whole && d != floor(d)))
        return ml4t_error_set(err, ML4T_EINVAL, o->key, "%s: expected %s, got '%s'", o->key,
                              whole ? "a whole number" : "a number", value);
    if (whole && (d < o->min || d > o->max))
        return ml4t_error_set(err, ML4T_ERANGE, o->key, "%s must be in [%.0f, %.0f], got %s",
                              o->key, o->min, o->max, value);
    if (d < o->min || d > o->max)
        return ml4t_error_set(err, ML4T_ERANGE, o->key, "%s must be in [%g, %g], got %s", o->key,
                              o->min, o->max, value);
    char *p = (char *)cfg + o->offset;
    switch (o->kind) {
    case K_INT:
        *(int *)p = (int)d;
        break;
    case K_I64:
        *(int64_t *)p = (int64_t)d;
        break;
    case K_SIZE:
        *(size_t *)p = (size_t)d;
        break;
    default:
        *(double *)p = d;
    }
    return ML4T_OK;
}

ml4t_err_t ml4t_node_config_set(ml4t_node_config_t *cfg, const char *key, const char *value,
                                ml4t_error_t *err)
{
    const s_opt_t *o = s_find(key);
    if (!o)
        return ml4t_error_set(err, ML4T_EINVAL, key, "unknown option '%s'", key);
    char *p = (char *)cfg + o->offset;
    switch (o->kind) {
    case K_BASE:
        return ml4t_config_set(&cfg->orch.base, o->key, value, err);
    case K_TRANSPORT: {
        const char *tkey = o->key;
        if (strcmp(tkey, "signals") == 0)
            tkey = "zmq.sub_endpoint";
        else if (strcmp(tkey, "enriched") == 0)
            tkey = "zmq.pub_endpoint";
        return ml4t_transport_config_set(&cfg->transport, tkey, value, err);
    }
    case K_STR:
        if (strlen(value) >= o->size)
            return ml4t_error_set(err, ML4T_ELIMIT, o->key, "%s: at most %zu bytes, got %zu",
                                  o->key, o->size - 1, strlen(value));
        snprintf(p, o->size, "%s", value);
        return ML4T_OK;
    case K_BOOL: {
        bool b;
        if (!s_parse_bool(value, &b))
            return ml4t_error_set(err, ML4T_EINVAL, o->key,
                                  "%s: expected on/off, true/false, yes/no or 1/0, got '%s'",
                                  o->key, value);
        *(bool *)p = b;
        return ML4T_OK;
    }
    default:
        return s_set_number(cfg, o, value, err);
    }
}

ml4t_err_t ml4t_node_config_get(const ml4t_node_config_t *cfg, const char *key, char *buf,
                                size_t size)
{
    const s_opt_t *o = s_find(key);
    if (!o)
        return ML4T_ENOTFOUND;
    if (o->kind == K_BASE)
        return ml4t_config_get(&cfg->orch.base, o->key, buf, size);
    const char *p = (const char *)cfg + o->offset;
    s_kind_t kind = o->kind;
    if (kind == K_TRANSPORT) /* the transport's fields are strings, ints or one int64 */
        kind = o->size == sizeof(int) ? K_INT : o->size == sizeof(int64_t) ? K_I64 : K_STR;
    switch (kind) {
    case K_STR:
        snprintf(buf, size, "%s", p);
        break;
    case K_INT:
        snprintf(buf, size, "%d", *(const int *)p);
        break;
    case K_I64:
        snprintf(buf, size, "%lld", (long long)*(const int64_t *)p);
        break;
    case K_SIZE:
        snprintf(buf, size, "%zu", *(const size_t *)p);
        break;
    case K_BOOL:
        snprintf(buf, size, "%s", *(const bool *)p ? "on" : "off");
        break;
    default:
        snprintf(buf, size, "%g", *(const double *)p);
    }
    return ML4T_OK;
}

const ml4t_node_option_t *ml4t_node_config_options(void)
{
    static ml4t_node_option_t list[sizeof s_opts / sizeof s_opts[0]];
    if (!list[0].key) /* built once; the table is constant */
        for (size_t i = 0; s_opts[i].key; i++)
            list[i] = (ml4t_node_option_t){s_opts[i].key, s_opts[i].help};
    return list;
}

void ml4t_node_config_env_name(const char *key, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "ML4T_");
    for (; *key && n + 1 < size; key++)
        buf[n++] = (*key == '.' || *key == '-') ? '_' : (char)toupper((unsigned char)*key);
    buf[n < size ? n : size - 1] = '\0';
}

/* ---- problems and sources -------------------------------------------------------- */

void ml4t_node_problems_add(ml4t_node_problems_t *p, const char *fmt, ...)
{
    size_t used = strlen(p->text);
    if (used + 2 >= sizeof p->text)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->text + used, sizeof p->text - used - 1, fmt, ap);
    va_end(ap);
    used = strlen(p->text);
    p->text[used] = '\n';
    p->text[used + 1] = '\0';
    p->n++;
}

/* A ZPL section other than node and model is the part before the dot of some
   option's key: the table says which there are. */
static bool s_is_section(const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; s_opts[i].key; i++)
        if (len && strncmp(s_opts[i].key, name, len) == 0 && s_opts[i].key[len] == '.')
            return true;
    return false;
}

/* "node, model, zmq, redis, ...": every section, each once, in the table's order. */
static void s_section_list(char *buf, size_t size)
{
    snprintf(buf, size, "node, model");
    for (size_t i = 0; s_opts[i].key; i++) {
        const char *dot = strchr(s_opts[i].key, '.');
        if (!dot)
            continue;
        int len = (int)(dot - s_opts[i].key);
        char name[32];
        snprintf(name, sizeof name, ", %.*s", len, s_opts[i].key);
        size_t n = strlen(name);
        const char *at = buf;
        while ((at = strstr(at, name)) && at[n] != ',' && at[n] != '\0')
            at += n; /* ", re" inside ", redis" is not ", re" */
        if (!at)
            snprintf(buf + strlen(buf), size - strlen(buf), "%s", name);
    }
}

/* Every entry of a parsed ZPL tree, as keys; `origin` names the source in problems. */
static void s_apply_zpl(ml4t_node_config_t *cfg, zconfig_t *root, const char *origin,
                        ml4t_node_problems_t *problems)
{
    for (zconfig_t *sec = zconfig_child(root); sec; sec = zconfig_next(sec)) {
        const char *sname = zconfig_name(sec) ? zconfig_name(sec) : "";
        bool bare = strcmp(sname, "node") == 0 || strcmp(sname, "model") == 0;
        if (!bare && !s_is_section(sname)) {
            char sections[160];
            s_section_list(sections, sizeof sections);
            ml4t_node_problems_add(problems, "%s: unknown section '%.64s' (%s)", origin, sname,
                                   sections);
            continue;
        }
        for (zconfig_t *item = zconfig_child(sec); item; item = zconfig_next(item)) {
            const char *iname = zconfig_name(item) ? zconfig_name(item) : "";
            char key[160];
            snprintf(key, sizeof key, "%s%s%.100s", bare ? "" : sname, bare ? "" : ".", iname);
            const char *value = zconfig_value(item) ? zconfig_value(item) : "";
            ml4t_error_t err;
            if (ml4t_node_config_set(cfg, key, value, &err))
                ml4t_node_problems_add(problems, "%s: [%s] %.64s: %s", origin, sname, iname,
                                       err.msg);
        }
    }
}

void ml4t_node_config_load_zpl(ml4t_node_config_t *cfg, const char *path,
                               ml4t_node_problems_t *problems)
{
    zconfig_t *root = zconfig_load(path);
    if (!root) {
        ml4t_node_problems_add(problems, "config file %s: cannot be read or parsed as ZPL", path);
        return;
    }
    s_apply_zpl(cfg, root, path, problems);
    zconfig_destroy(&root);
}

ml4t_err_t ml4t_node_config_load_zpl_text(ml4t_node_config_t *cfg, const char *text, size_t len,
                                          const char *origin, ml4t_node_problems_t *problems)
{
    /* zconfig parses a C string: the text up to its first NUL, like a file's */
    char *copy = malloc(len + 1);
    if (!copy) {
        ml4t_node_problems_add(problems, "%s: out of memory", origin);
        return ML4T_ENOMEM;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    zconfig_t *root = zconfig_str_load(copy);
    free(copy);
    if (!root) {
        ml4t_node_problems_add(problems, "%s: cannot be parsed as ZPL", origin);
        return ML4T_EFORMAT;
    }
    s_apply_zpl(cfg, root, origin, problems);
    zconfig_destroy(&root);
    return ML4T_OK;
}

void ml4t_node_config_load_env(ml4t_node_config_t *cfg, ml4t_node_problems_t *problems)
{
    for (const s_opt_t *o = s_opts; o->key; o++) {
        char name[160];
        ml4t_node_config_env_name(o->key, name, sizeof name);
        const char *v = getenv(name);
        ml4t_error_t err;
        if (v && ml4t_node_config_set(cfg, o->key, v, &err))
            ml4t_node_problems_add(problems, "environment %s: %s", name, err.msg);
    }
}

static bool s_endpoint_ok(const char *ep)
{
    /* czmq convention; a comma-separated list of @/> endpoints */
    if (!*ep)
        return true;
    return (ep[0] == '@' || ep[0] == '>') && strstr(ep, "://") != NULL;
}

void ml4t_node_config_check(ml4t_node_config_t *cfg, ml4t_node_problems_t *problems)
{
    static const char *const names[] = {"zmq", "redis", "streams", "failover", NULL};
    bool name_ok = false;
    for (size_t i = 0; names[i]; i++)
        name_ok = name_ok || strcmp(cfg->transport_name, names[i]) == 0;
    if (!name_ok)
        ml4t_node_problems_add(problems, "transport=%s: must be zmq, redis, streams or failover",
                               cfg->transport_name);
    if (!s_endpoint_ok(cfg->control_endpoint) || strchr(cfg->control_endpoint, ','))
        ml4t_node_problems_add(problems,
                               "control=%s: one endpoint, '@' to bind or '>' to connect "
                               "(e.g. @tcp://127.0.0.1:5557)",
                               cfg->control_endpoint);
    const char *eps[] = {cfg->transport.zmq.sub_endpoint, cfg->transport.zmq.pub_endpoint};
    const char *names_ep[] = {"signals", "enriched"};
    for (size_t i = 0; i < 2; i++) {
        char list[ML4T_TRANSPORT_ENDPOINT_MAX];
        snprintf(list, sizeof list, "%s", eps[i]);
        char *save = NULL;
        for (char *one = strtok_r(list, ",", &save); one; one = strtok_r(NULL, ",", &save))
            if (!s_endpoint_ok(one))
                ml4t_node_problems_add(problems,
                                       "%s=%s: each endpoint starts with '@' (bind) or '>' "
                                       "(connect), e.g. @tcp://127.0.0.1:5555",
                                       names_ep[i], one);
    }
    ml4t_error_t err;
    if (ml4t_config_validate(&cfg->orch.base, &err))
        ml4t_node_problems_add(problems, "%s", err.msg);
    if (ml4t_orchestrator_config_validate(&cfg->orch, &err))
        ml4t_node_problems_add(problems, "%s", err.msg);
    snprintf(cfg->sup.data_dir, sizeof cfg->sup.data_dir, "%s", cfg->orch.base.data_dir);
    if (ml4t_supervisor_config_validate(&cfg->sup, &err))
        ml4t_node_problems_add(problems, "%s", err.msg);
    if (!cfg->store.history && cfg->supervisor)
        ml4t_node_problems_add(problems,
                               "store.history=off with retrain=on: the supervisor would train "
                               "again and again on stored bars that no longer grow; set retrain "
                               "off too (a node that only serves, taking models with swap), or "
                               "keep store.history on");
    const char *chans[] = {cfg->orch.base.channel_signals, cfg->channel_outcomes,
                           cfg->channel_risk_state};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = i + 1; j < 3; j++)
            if (strncmp(chans[i], chans[j], strlen(chans[i])) == 0 ||
                strncmp(chans[j], chans[i], strlen(chans[j])) == 0)
                ml4t_node_problems_add(problems,
                                       "input channels '%s' and '%s': one is a prefix of the "
                                       "other, so their messages cannot be told apart",
                                       chans[i], chans[j]);
}
