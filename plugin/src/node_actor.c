/*  ml4t_node_actor: the hot path as a czmq actor.

    One thread: transport in, codec, orchestrator, codec, transport out. The
    loop waits on nothing but input: the pipe, the control socket and the
    supervisor's replies are looked at without waiting, every S_LOOK_NS or
    every S_BURST messages, whichever comes first (a look is a poll(2) of its
    own: once per message it cost as much as the recv), and a receive waits
    until the next look is due. An idle node wakes once per look, and the
    wake-up with its look costs 60-90 us of CPU here, most of it in the
    kernel (the poll alone about 4 us): at one look every 1 ms an idle node
    used 4 % of a core; at one every 5 ms, 1-2 %. */
#include "ml4t/node.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <strings.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "ml4t/clock.h"
#include "ml4t/codec.h"
#include "ml4t/curve.h"
#include "ml4t/sched.h"

#define S_BURST   64         /* messages handled between two looks at the pipe */
#define S_LOOK_NS 5000000ull /* ... or this long: a receive waits until the next look */

typedef enum { S_IN_OTHER = 0, S_IN_SIGNAL, S_IN_OUTCOME, S_IN_RISK } s_in_t;

/* An answer to a Streams entry that could not be published (Redis away): it is
   published again before anything new is read, and only then acked. A reply
   (the entry's own answer) goes again through publish_reply, which writes it
   only if the first attempt did not, so every entry is answered once even
   when Redis died after writing the answer but before saying so. */
typedef struct {
    bool active;
    bool reply; /* published with publish_reply, keyed by frame */
    char topic[ML4T_CONFIG_CHANNEL_MAX + ML4T_INSTRUMENT_MAX + 2];
    uint8_t *buf;
    size_t len, cap;
    ml4t_frame_t frame; /* id and origin; source points at source below */
    char source[ML4T_TRANSPORT_NAME_MAX];
} s_held_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *control;            /* ROUTER; NULL when not configured */
    ml4t_curve_t *control_curve; /* the transport's CURVE settings, for the control socket */
    zactor_t *sup_actor;         /* owns the supervisor */
    zpoller_t *poller;           /* pipe, control, sup_actor */
    ml4t_node_config_t cfg;
    ml4t_store_t *store;
    ml4t_orchestrator_t *orch;
    ml4t_supervisor_t *sup; /* borrowed from sup_actor: request() and stats() are thread-safe */
    ml4t_transport_t *tr;
    ml4t_codec_t *codec;
    ml4t_signal_t sig;
    ml4t_enriched_t enr;
    char topic[ML4T_CONFIG_CHANNEL_MAX + ML4T_INSTRUMENT_MAX + 2];
    size_t len_signals, len_outcomes, len_risk;
    uint64_t received, signals, outcomes, risk_states, published, publish_failed;
    uint64_t errors[ML4T_ERR_COUNT_];
    uint64_t errors_published, policy_changes, policy_published;
    const ml4t_frame_t *cur_frame; /* the frame being handled, NULL outside s_on_frame */
    bool replied;                  /* cur_frame's answer went out: anything more is plain */
    s_held_t held;
    uint64_t held_count;    /* answers held back while the broker was away */
    uint64_t encode_ns_est; /* the last answer's encode time, reported in the next */
    uint64_t next_stats_ns, started_ns;
    bool terminated;
    char failed[ML4T_ERROR_MSG_MAX]; /* why the node could not start, "" when running */
    char policy_path[256];           /* <data_dir>/policy_history.json */
} s_self_t;

/* ---- errors and publishing ------------------------------------------------------- */

static void s_hold(s_self_t *self, const char *topic, const uint8_t *buf, size_t len, bool reply)
{
    s_held_t *h = &self->held;
    if (len > h->cap) {
        uint8_t *nb = realloc(h->buf, len);
        if (!nb)
            return; /* the answer is lost, the entry still acked: counted as dropped */
        h->buf = nb;
        h->cap = len;
    }
    memcpy(h->buf, buf, len);
    h->len = len;
    snprintf(h->topic, sizeof h->topic, "%s", topic);
    h->frame = *self->cur_frame;
    snprintf(h->source, sizeof h->source, "%s",
             self->cur_frame->source ? self->cur_frame->source : "");
    h->frame.source = self->cur_frame->source ? h->source : NULL;
    h->frame.topic = NULL;
    h->frame.payload = NULL;
    h->reply = reply;
    h->active = true;
    self->held_count++;
}

/* reply: this is the answer to cur_frame (its EnrichedSignalEvent, or the
   ErrorEvent refusing it). One reply per entry: the transport writes a second
   reply for the same entry never, so anything after the first goes out plain. */
static void s_publish_as(s_self_t *self, const char *topic, const uint8_t *buf, size_t len,
                         bool reply)
{
    ml4t_error_t err;
    reply = reply && self->cur_frame && self->cur_frame->id[0] && !self->replied;
    ml4t_err_t rc =
        reply ? ml4t_transport_publish_reply(self->tr, self->cur_frame, topic, buf, len, &err)
              : ml4t_transport_publish(self->tr, topic, buf, len, &err);
    if (reply)
        self->replied = true;
    if (rc == ML4T_OK) {
        self->published++;
        return;
    }
    self->publish_failed++; /* the transport counts it in health.dropped */
    if (rc == ML4T_EIO && self->cur_frame && self->cur_frame->id[0] && !self->held.active)
        s_hold(self, topic, buf, len, reply);
}

static void s_publish(s_self_t *self, const char *topic, const uint8_t *buf, size_t len)
{
    s_publish_as(self, topic, buf, len, false);
}

/* True when the held answer (if any) is out and its entry acked. */
static bool s_release_held(s_self_t *self)
{
    s_held_t *h = &self->held;
    if (!h->active)
        return true;
    ml4t_error_t err;
    ml4t_err_t rc =
        h->reply ? ml4t_transport_publish_reply(self->tr, &h->frame, h->topic, h->buf, h->len, &err)
                 : ml4t_transport_publish(self->tr, h->topic, h->buf, h->len, &err);
    if (rc != ML4T_OK)
        return false;
    self->published++;
    ml4t_transport_ack(self->tr, &h->frame, &err);
    h->active = false;
    return true;
}

/* An ErrorEvent for a refused message; counted by reason, never fatal. */
static void s_error(s_self_t *self, const ml4t_error_t *err, const char *instrument)
{
    ml4t_err_t code = err->code > ML4T_OK && err->code < ML4T_ERR_COUNT_ ? err->code : ML4T_EINVAL;
    self->errors[code]++;
    ml4t_error_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.code = code;
    snprintf(ev.message, sizeof ev.message, "%s", err->msg[0] ? err->msg : ml4t_strerror(code));
    snprintf(ev.key, sizeof ev.key, "%s", err->field);
    if (instrument)
        snprintf(ev.instrument_id, sizeof ev.instrument_id, "%s", instrument);
    ev.ts = ml4t_clock_wall_ns();
    const uint8_t *out;
    size_t len;
    ml4t_error_t e2;
    if (ml4t_codec_encode_error(self->codec, &ev, &out, &len, &e2) == ML4T_OK) {
        s_publish_as(self, self->cfg.channel_errors, out, len, true);
        self->errors_published++;
    }
}

/* The trading policy goes out on channel_policy whenever it changes. */
static void s_publish_policy(s_self_t *self, const ml4t_trading_policy_t *pol)
{
    self->policy_changes++;
    const uint8_t *out;
    size_t len;
    ml4t_error_t err;
    if (ml4t_codec_encode_policy(self->codec, pol, &out, &len, &err) != ML4T_OK) {
        fprintf(stderr, "ml4t-node: warning: policy not published: %s\n", err.msg);
        return;
    }
    s_publish(self, self->cfg.channel_policy, out, len);
    self->policy_published++;
}

static void s_check_policy(s_self_t *self)
{
    bool changed = false;
    const ml4t_trading_policy_t *pol = ml4t_orchestrator_policy(self->orch, &changed);
    if (pol && changed)
        s_publish_policy(self, pol);
}

/* ---- the hot path ---------------------------------------------------------------- */

static void s_on_signal(s_self_t *self, const ml4t_frame_t *f)
{
    ml4t_error_t err;
    self->signals++;
    uint64_t t0 = ml4t_clock_mono_ns();
    ml4t_err_t rc =
        ml4t_codec_decode_signal(self->codec, f->payload, f->payload_len, &self->sig, &err);
    uint64_t t1 = ml4t_clock_mono_ns();
    if (rc) {
        /* the instrument is reported only when it was read before the fault */
        bool known = self->sig.instrument_id[0] && strcmp(err.field, "instrument_id") != 0;
        s_error(self, &err, known ? self->sig.instrument_id : NULL);
        ml4t_signal_clear(&self->sig);
        return;
    }
    if (ml4t_orchestrator_process_decoded(self->orch, &self->sig, &self->enr, &err)) {
        s_error(self, &err, self->sig.instrument_id);
        return;
    }
    ml4t_enriched_t *e = &self->enr;
    e->latency_decode_ns = t1 - t0;
    e->latency_encode_ns = self->encode_ns_est;
    e->latency_ns += e->latency_decode_ns + e->latency_encode_ns;
    const uint8_t *out;
    size_t len;
    uint64_t t2 = ml4t_clock_mono_ns();
    rc = ml4t_codec_encode_enriched(self->codec, e, &out, &len, &err);
    self->encode_ns_est = ml4t_clock_mono_ns() - t2;
    if (rc) {
        s_error(self, &err, e->instrument_id);
        return;
    }
    const char *topic = self->cfg.orch.base.channel_enriched;
    if (self->cfg.enriched_by_instrument &&
        ml4t_codec_channel(self->topic, sizeof self->topic, topic, e->instrument_id) == ML4T_OK)
        topic = self->topic;
    s_publish_as(self, topic, out, len, true);
    s_check_policy(self);
}

static void s_on_outcome(s_self_t *self, const ml4t_frame_t *f)
{
    ml4t_error_t err;
    ml4t_outcome_t o;
    self->outcomes++;
    if (ml4t_codec_decode_outcome(self->codec, f->payload, f->payload_len, &o, &err)) {
        s_error(self, &err, NULL);
        return;
    }
    if (ml4t_orchestrator_process_outcome(self->orch, &o, &err))
        s_error(self, &err, o.instrument_id);
    s_check_policy(self);
}

static void s_on_risk_state(s_self_t *self, const ml4t_frame_t *f)
{
    ml4t_error_t err;
    ml4t_risk_state_t r;
    self->risk_states++;
    bool changed = false;
    if (ml4t_codec_decode_risk_state(self->codec, f->payload, f->payload_len, &r, &err) ||
        ml4t_orchestrator_process_risk_state(self->orch, &r, ml4t_clock_wall_ns(), &changed,
                                             &err)) {
        s_error(self, &err, NULL);
        return;
    }
    const ml4t_trading_policy_t *pol = ml4t_orchestrator_policy(self->orch, NULL);
    if (changed && pol)
        s_publish_policy(self, pol);
}

static s_in_t s_channel_kind(const s_self_t *self, const ml4t_frame_t *f)
{
    if (strncmp(f->topic, self->cfg.orch.base.channel_signals, self->len_signals) == 0)
        return S_IN_SIGNAL;
    if (strncmp(f->topic, self->cfg.channel_outcomes, self->len_outcomes) == 0)
        return S_IN_OUTCOME;
    if (strncmp(f->topic, self->cfg.channel_risk_state, self->len_risk) == 0)
        return S_IN_RISK;
    return S_IN_OTHER;
}

static void s_on_frame(s_self_t *self, const ml4t_frame_t *f)
{
    ml4t_error_t err;
    ml4t_msg_type_t type;
    self->received++;
    self->cur_frame = f;
    self->replied = false;
    s_in_t kind = s_channel_kind(self, f);
    static const ml4t_msg_type_t expect[] = {ML4T_MSG_UNKNOWN, ML4T_MSG_SIGNAL, ML4T_MSG_OUTCOME,
                                             ML4T_MSG_RISK_STATE};
    if (ml4t_codec_peek_type(self->codec, f->payload, f->payload_len, &type, &err)) {
        s_error(self, &err, NULL);
    } else if (kind == S_IN_OTHER || type != expect[kind]) {
        ml4t_error_set(&err, ML4T_EMISMATCH, "type", "a %s on channel '%s' is not handled here",
                       ml4t_msg_type_name(type), f->topic);
        s_error(self, &err, NULL);
    } else if (kind == S_IN_SIGNAL) {
        s_on_signal(self, f);
    } else if (kind == S_IN_OUTCOME) {
        s_on_outcome(self, f);
    } else {
        s_on_risk_state(self, f);
    }
    self->cur_frame = NULL;
    /* handled, answered or refused: it leaves the pending list, unless its
       answer waits for the broker */
    if (!self->held.active)
        ml4t_transport_ack(self->tr, f, &err);
}

/* ---- status ---------------------------------------------------------------------- */

/* Written as an integer: a double would round counters and timestamps above 2^53. */
static void s_add_u64(cJSON *o, const char *k, uint64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)v);
    cJSON_AddRawToObject(o, k, text);
}

static void s_add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *s_transport_json(s_self_t *self, uint64_t *dropped)
{
    ml4t_transport_health_t h;
    memset(&h, 0, sizeof h);
    cJSON *t = cJSON_CreateObject();
    if (ml4t_transport_health(self->tr, &h) != ML4T_OK)
        return t;
    *dropped = h.dropped;
    cJSON_AddStringToObject(t, "name", self->tr->ops->name);
    cJSON_AddBoolToObject(t, "connected", h.connected);
    s_add_u64(t, "sent", h.sent);
    s_add_u64(t, "received", h.received);
    s_add_u64(t, "dropped", h.dropped);
    s_add_u64(t, "malformed", h.malformed);
    s_add_u64(t, "reconnects", h.reconnects);
    s_add_u64(t, "acked", h.acked);
    s_add_u64(t, "duplicates", h.duplicates);
    s_add_u64(t, "claimed", h.claimed);
    s_add_u64(t, "switches", h.switches);
    s_add_u64(t, "peers", h.peers);
    s_add_u64(t, "ack_backlog", h.ack_backlog);
    s_add_u64(t, "auth_failures", h.auth_failures);
    s_add_u64(t, "pipelined", h.pipelined);
    s_add_u64(t, "writes", h.writes);
    cJSON_AddNumberToObject(t, "active", h.active);
    cJSON_AddStringToObject(t, "last_error", h.last_error.code ? h.last_error.msg : "");
    return t;
}

static cJSON *s_supervisor_json(s_self_t *self)
{
    ml4t_supervisor_stats_t s;
    ml4t_supervisor_stats(self->sup, &s);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "enabled", self->cfg.supervisor);
    cJSON_AddBoolToObject(o, "busy", s.busy);
    cJSON_AddBoolToObject(o, "deferred", s.deferred);
    s_add_u64(o, "requests", s.requests);
    s_add_u64(o, "runs", s.runs);
    s_add_u64(o, "accepted", s.accepted);
    s_add_u64(o, "refused", s.refused);
    s_add_u64(o, "skipped", s.skipped);
    s_add_u64(o, "failed", s.failed);
    s_add_u64(o, "rollbacks", s.rollbacks);
    s_add_num(o, "last_auc", s.last_auc);
    s_add_num(o, "last_seconds", s.last_seconds);
    s_add_u64(o, "last_retrain_ts_ns", s.last_ts_ns);
    cJSON_AddStringToObject(o, "last_trigger", s.last_trigger);
    cJSON_AddStringToObject(o, "last_result", s.last_result);
    cJSON_AddStringToObject(o, "live_version", s.live_version);
    return o;
}

static cJSON *s_policy_json(s_self_t *self)
{
    const ml4t_trading_policy_t *p = ml4t_orchestrator_policy(self->orch, NULL);
    if (!p)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "allow_new_trades", p->allow_new_trades);
    cJSON_AddStringToObject(o, "risk_profile", ml4t_policy_risk_profile_name(p->risk_profile));
    s_add_num(o, "max_risk_pct", p->max_risk_pct);
    s_add_num(o, "min_confidence", p->min_confidence);
    cJSON_AddStringToObject(o, "block_reason", p->block_reason);
    cJSON_AddStringToObject(o, "note", p->note);
    s_add_u64(o, "changes", self->policy_changes);
    s_add_u64(o, "published", self->policy_published);
    return o;
}

/* The STATUS document. Caller frees the text. */
static char *s_status(s_self_t *self)
{
    ml4t_orchestrator_stats_t st;
    ml4t_orchestrator_stats(self->orch, &st);
    ml4t_store_stats_t ss;
    ml4t_store_stats(self->store, &ss);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "state", "running");
    s_add_num(o, "uptime_s", (double)(ml4t_clock_mono_ns() - self->started_ns) / 1e9);
    s_add_u64(o, "received", self->received);
    s_add_u64(o, "signals", self->signals);
    s_add_u64(o, "enriched", st.enriched);
    s_add_u64(o, "outcomes", self->outcomes);
    s_add_u64(o, "risk_states", self->risk_states);
    cJSON *errs = cJSON_AddObjectToObject(o, "errors");
    uint64_t total = 0;
    for (int c = 1; c < ML4T_ERR_COUNT_; c++) {
        total += self->errors[c];
        if (self->errors[c])
            s_add_u64(errs, ml4t_err_reason((ml4t_err_t)c), self->errors[c]);
    }
    s_add_u64(o, "errors_total", total);
    uint64_t tr_dropped = 0;
    cJSON *tr = s_transport_json(self, &tr_dropped);
    cJSON *drop = cJSON_AddObjectToObject(o, "dropped");
    s_add_u64(drop, "transport", tr_dropped);
    s_add_u64(drop, "store", ss.dropped);
    s_add_u64(drop, "total", tr_dropped + ss.dropped);
    s_add_u64(o, "held_for_broker", self->held_count);
    s_add_u64(o, "stored", ss.stored);
    cJSON_AddBoolToObject(o, "store_history", self->cfg.store.history);
    s_add_u64(o, "store_queue", ss.queue_depth);
    s_add_u64(o, "store_transactions", ss.transactions);
    s_add_u64(o, "store_cache_bytes", ss.cache_bytes);
    s_add_num(o, "store_slowest_tx_ms", (double)ss.slowest_tx_us / 1e3);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    /* the allocator's view: what is in use, what it holds free (fragmentation);
       all zero when malloc is not glibc's (a sanitizer's): left out then */
    struct mallinfo2 mi = mallinfo2();
    if (mi.uordblks || mi.hblkhd) {
        cJSON *mem = cJSON_AddObjectToObject(o, "memory");
        s_add_u64(mem, "heap_in_use_bytes", mi.uordblks);
        s_add_u64(mem, "heap_free_bytes", mi.fordblks);
        s_add_u64(mem, "mmapped_bytes", mi.hblkhd);
    }
#endif
    cJSON *lat = cJSON_AddObjectToObject(o, "latency_ns");
    s_add_num(lat, "p50", st.latency_p50_ns);
    s_add_num(lat, "p99", st.latency_p99_ns);
    s_add_num(lat, "p999", st.latency_p999_ns);
    cJSON *model = cJSON_AddObjectToObject(o, "model");
    cJSON_AddStringToObject(model, "version", st.model_version);
    cJSON_AddBoolToObject(model, "available", st.model_version[0] != '\0');
    s_add_u64(model, "changes", st.model_changes);
    s_add_u64(model, "cold_start_answers", st.cold_start);
    s_add_u64(model, "over_budget", st.over_budget);
    s_add_num(model, "accuracy", st.accuracy);
    s_add_num(model, "baseline", st.baseline);
    s_add_u64(o, "instruments", st.instruments);
    s_add_u64(o, "policy_blocked", st.policy_blocked);
    s_add_u64(o, "outcomes_matched", st.outcomes_matched);
    s_add_u64(o, "self_labeled", st.self_labeled);
    s_add_u64(o, "triggers", st.triggers);
    cJSON_AddItemToObject(o, "supervisor", s_supervisor_json(self));
    cJSON_AddItemToObject(o, "policy", s_policy_json(self));
    cJSON_AddItemToObject(o, "transport", tr);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static char *s_reply(bool ok, const char *key, const char *text)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", ok);
    cJSON_AddStringToObject(o, key, text);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void s_publish_stats(s_self_t *self)
{
    char *text = s_status(self);
    if (text)
        s_publish(self, self->cfg.channel_stats, (const uint8_t *)text, strlen(text));
    free(text);
}

/* ---- commands (pipe and control socket) ------------------------------------------ */

/* Answer to whoever asked: reply_to NULL or empty is the pipe, else a control
   client's routing id. */
static void s_answer(s_self_t *self, zframe_t *reply_to, const char *text)
{
    if (!reply_to || zframe_size(reply_to) == 0) {
        zstr_send(self->pipe, text ? text : "");
        return;
    }
    if (!self->control)
        return;
    zmsg_t *m = zmsg_new();
    zmsg_append(m, &(zframe_t *){zframe_dup(reply_to)});
    zmsg_addstr(m, "");
    zmsg_addstr(m, text ? text : "");
    zmsg_send(&m, self->control);
}

/* cmd is upper-cased in place. reply_to is borrowed. */
static void s_command(s_self_t *self, zframe_t *reply_to, char *cmd, const char *arg)
{
    for (char *c = cmd; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    char *text = NULL;
    if (strcmp(cmd, "STATUS") == 0 || strcmp(cmd, "STATS") == 0) {
        text = s_status(self);
    } else if (strcmp(cmd, "ERROR") == 0) {
        s_answer(self, reply_to, "");
        return;
    } else if (strcmp(cmd, "TRAIN") == 0) {
        if (self->cfg.supervisor) {
            ml4t_orchestrator_request_retrain(self->orch, ml4t_clock_wall_ns());
            text = s_reply(true, "result", "retrain requested");
        } else {
            text = s_reply(false, "error", "retraining is off (retrain=off)");
        }
    } else if (strcmp(cmd, "SWAP") == 0 || strcmp(cmd, "ROLLBACK") == 0 ||
               strcmp(cmd, "RELOAD") == 0) {
        /* model files are loaded on the supervisor's actor, never here */
        zmsg_t *m = zmsg_new();
        zmsg_append(m, &(zframe_t *){reply_to ? zframe_dup(reply_to) : zframe_new_empty()});
        zmsg_addstr(m, cmd);
        zmsg_addstr(m, arg ? arg : "");
        zmsg_send(&m, self->sup_actor);
        return;
    } else {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "unknown command '%.60s' (status, stats, train, swap PATH, "
                 "rollback, reload)",
                 cmd);
        text = s_reply(false, "error", msg);
    }
    s_answer(self, reply_to, text);
    free(text);
}

static void s_handle_pipe(s_self_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    if (!msg) {
        self->terminated = true;
        return;
    }
    char *cmd = zmsg_popstr(msg);
    char *arg = NULL;
    if (cmd && strncmp(cmd, "$TERM", 5) == 0) {
        self->terminated = true;
    } else if (cmd) {
        /* "SWAP path" as one string, or as two frames */
        char *space = strchr(cmd, ' ');
        if (space) {
            *space = '\0';
            arg = strdup(space + 1);
        } else {
            arg = zmsg_popstr(msg);
        }
        s_command(self, NULL, cmd, arg);
    }
    free(cmd);
    free(arg);
    zmsg_destroy(&msg);
}

static void s_handle_control(s_self_t *self)
{
    zmsg_t *msg = zmsg_recv(self->control);
    if (!msg)
        return;
    zframe_t *id = zmsg_pop(msg);
    zframe_t *first = zmsg_first(msg);
    if (first && zframe_size(first) == 0) /* REQ's delimiter */
        zframe_destroy(&(zframe_t *){zmsg_pop(msg)});
    char *line = zmsg_popstr(msg);
    if (id && zframe_size(id) > 0 && line) {
        char *arg = strchr(line, ' ');
        if (arg)
            *arg++ = '\0';
        s_command(self, id, line, arg);
    }
    free(line);
    zframe_destroy(&id);
    zmsg_destroy(&msg);
}

static void s_handle_supervisor(s_self_t *self)
{
    zmsg_t *msg = zmsg_recv(self->sup_actor);
    if (!msg)
        return;
    zframe_t *to = zmsg_pop(msg);
    char *text = zmsg_popstr(msg);
    s_answer(self, to, text);
    free(text);
    zframe_destroy(&to);
    zmsg_destroy(&msg);
}

static void s_handle_commands(s_self_t *self)
{
    void *which;
    while (!self->terminated && (which = zpoller_wait(self->poller, 0)) != NULL) {
        if (which == self->pipe)
            s_handle_pipe(self);
        else if (which == self->control)
            s_handle_control(self);
        else
            s_handle_supervisor(self);
    }
}

/* ---- life cycle ------------------------------------------------------------------ */

static bool s_loopback(const char *ep)
{
    const char *host = strstr(ep, "tcp://");
    if (!host)
        return true; /* inproc, ipc */
    host += 6;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost", 9) == 0 ||
           strncmp(host, "[::1]", 5) == 0;
}

/* A bind on a non-loopback address without CURVE lets anyone who can reach the
   port in: say so (even when quiet). One warning per such endpoint of a list. */
static void s_warn_open_binds(const s_self_t *self, bool zmq)
{
    const ml4t_node_config_t *c = &self->cfg;
    if (c->transport.zmq.curve_server_cert[0])
        return; /* the transport (checked at its init) and the control socket use it */
    const char *lists[] = {zmq ? c->transport.zmq.sub_endpoint : "",
                           zmq ? c->transport.zmq.pub_endpoint : "", c->control_endpoint};
    for (size_t i = 0; i < 3; i++) {
        char list[ML4T_TRANSPORT_ENDPOINT_MAX], *save = NULL;
        snprintf(list, sizeof list, "%s", lists[i]);
        for (char *ep = strtok_r(list, ",", &save); ep; ep = strtok_r(NULL, ",", &save)) {
            /* czmq: '@' binds, '>' connects; no prefix binds on the publishing side */
            bool binds = ep[0] == '@' || (ep[0] != '>' && i != 0);
            if (binds && !s_loopback(ep))
                fprintf(stderr,
                        "ml4t-node: warning: %s binds a non-loopback address without CURVE: "
                        "anyone who can reach it may send, read or control (set "
                        "zmq.curve_server_cert and zmq.curve_clients_dir)\n",
                        ep);
        }
    }
}

static void s_announce(s_self_t *self)
{
    const ml4t_node_config_t *c = &self->cfg;
    bool zmq = strcmp(c->transport_name, "zmq") == 0 || strcmp(c->transport_name, "failover") == 0;
    s_warn_open_binds(self, zmq);
    if (c->quiet)
        return;
    char in[ML4T_TRANSPORT_ENDPOINT_MAX] = "", out[ML4T_TRANSPORT_ENDPOINT_MAX] = "";
    if (zmq) {
        ml4t_transport_endpoint(self->tr, ML4T_TRANSPORT_IN, in, sizeof in);
        ml4t_transport_endpoint(self->tr, ML4T_TRANSPORT_OUT, out, sizeof out);
        fprintf(stderr, "ml4t-node: signals in    %s (%s*, %s*, %s*)\n", in,
                c->orch.base.channel_signals, c->channel_outcomes, c->channel_risk_state);
        fprintf(stderr, "ml4t-node: enriched out  %s (%s, %s, %s)\n", out,
                c->orch.base.channel_enriched, c->channel_errors, c->channel_stats);
    }
    if (!zmq || strcmp(c->transport_name, "failover") == 0)
        fprintf(stderr, "ml4t-node: redis         %s:%d (%s)\n", c->transport.redis.host,
                c->transport.redis.port, self->tr->ops->name);
    if (self->control)
        fprintf(stderr, "ml4t-node: control       %s\n", zsock_endpoint(self->control));
    if (c->transport.zmq.curve_server_cert[0])
        fprintf(stderr, "ml4t-node: security      CURVE server, clients allowed from %s\n",
                c->transport.zmq.curve_clients_dir);
    else if (c->transport.zmq.curve_client_cert[0])
        fprintf(stderr, "ml4t-node: security      CURVE client\n");
}

static const ml4t_transport_ops_t *s_ops(const char *name)
{
    if (strcmp(name, "redis") == 0)
        return &ml4t_transport_redis_pubsub;
    if (strcmp(name, "streams") == 0)
        return &ml4t_transport_redis_streams;
    if (strcmp(name, "failover") == 0)
        return &ml4t_transport_failover;
    return &ml4t_transport_zmq;
}

static void s_policy_path(const s_self_t *self, char *buf, size_t size)
{
    snprintf(buf, size, "%.200s/policy_history.json", self->cfg.orch.base.data_dir);
}

static ml4t_err_t s_open_model(s_self_t *self, ml4t_error_t *err)
{
    ml4t_registry_entry_t live;
    ml4t_error_t e;
    bool has_live = ml4t_store_registry_live(self->store, &live, &e) == ML4T_OK;
    self->cfg.orch.load_model = !has_live;
    self->orch = ml4t_orchestrator_new(&self->cfg.orch, self->store, err);
    if (!self->orch)
        return err ? err->code : ML4T_EINVAL;
    self->sup = ml4t_supervisor_new(&self->cfg.sup, self->orch, self->store, err);
    if (!self->sup)
        return err ? err->code : ML4T_EINVAL;
    if (has_live && ml4t_supervisor_restore(self->sup, &e) != ML4T_OK) {
        fprintf(stderr, "ml4t-node: warning: registry model %s refused (%s); trying %s\n",
                live.version, e.msg, self->cfg.orch.base.model_path);
        if (access(self->cfg.orch.base.model_path, R_OK) == 0 &&
            ml4t_supervisor_swap_file(self->sup, self->cfg.orch.base.model_path, &e) != ML4T_OK)
            fprintf(stderr, "ml4t-node: warning: %s\n", e.msg);
    }
    /* after a restart: the instruments' history and the last policies come back */
    size_t warmed = 0;
    if (ml4t_orchestrator_warm_from_store(self->orch, &warmed, &e) != ML4T_OK)
        fprintf(stderr, "ml4t-node: warning: history not restored: %s\n", e.msg);
    if (warmed)
        fprintf(stderr, "ml4t-node: restored the history of %zu instrument(s)\n", warmed);
    s_policy_path(self, self->policy_path, sizeof self->policy_path);
    ml4t_err_t prc = ml4t_orchestrator_policy_load(self->orch, self->policy_path, &e);
    if (prc != ML4T_OK && prc != ML4T_ENOTFOUND)
        fprintf(stderr, "ml4t-node: warning: policy history not restored: %s\n", e.msg);
    if (self->cfg.supervisor)
        ml4t_orchestrator_set_trigger_fn(self->orch, ml4t_supervisor_request, self->sup);
    ml4t_supervisor_actor_args_t args = {.supervisor = self->sup};
    snprintf(args.model_path, sizeof args.model_path, "%s", self->cfg.orch.base.model_path);
    self->sup_actor = zactor_new(ml4t_supervisor_actor, &args);
    return ML4T_OK;
}

static ml4t_err_t s_open_transport(s_self_t *self, ml4t_error_t *err)
{
    ml4t_node_config_t *c = &self->cfg;
    self->tr = ml4t_transport_new(s_ops(c->transport_name), &c->transport, err);
    if (!self->tr)
        return err ? err->code : ML4T_EIO;
    const char *subs[] = {c->orch.base.channel_signals, c->channel_outcomes, c->channel_risk_state};
    for (size_t i = 0; i < 3; i++) {
        ml4t_err_t rc = ml4t_transport_subscribe(self->tr, subs[i], err);
        if (rc)
            return rc;
    }
    self->len_signals = strlen(subs[0]);
    self->len_outcomes = strlen(subs[1]);
    self->len_risk = strlen(subs[2]);
    return ML4T_OK;
}

/* The checks ml4t-node makes before it starts (ml4t_node_config_check), for
   a program that starts the actor itself: the first problem, and how many
   there are (an error message holds one). */
static ml4t_err_t s_check(s_self_t *self, ml4t_error_t *err)
{
    ml4t_node_problems_t pr = {0};
    ml4t_node_config_check(&self->cfg, &pr);
    if (pr.n == 0)
        return ML4T_OK;
    int first = (int)strcspn(pr.text, "\n");
    if (pr.n == 1)
        return ml4t_error_set(err, ML4T_EINVAL, "config", "%.*s", first, pr.text);
    return ml4t_error_set(err, ML4T_EINVAL, "config",
                          "%.*s (and %zu more; ml4t_node_config_check lists all)", first, pr.text,
                          pr.n - 1);
}

static ml4t_err_t s_open(s_self_t *self, ml4t_error_t *err)
{
    ml4t_err_t rc = s_check(self, err);
    if (rc)
        return rc;
    snprintf(self->cfg.sup.data_dir, sizeof self->cfg.sup.data_dir, "%s",
             self->cfg.orch.base.data_dir);
    self->store = ml4t_store_open(self->cfg.orch.base.data_dir, &self->cfg.store, err);
    if (!self->store)
        return err ? err->code : ML4T_EIO;
    rc = s_open_model(self, err);
    if (rc)
        return rc;
    ml4t_codec_limits_t lim;
    ml4t_codec_limits_from_config(&lim, &self->cfg.orch.base);
    self->codec = ml4t_codec_new(&lim);
    if (!self->codec)
        return ml4t_error_set(err, ML4T_ENOMEM, "codec", "cannot create the codec");
    if ((rc = s_open_transport(self, err)))
        return rc;
    if (self->cfg.control_endpoint[0]) {
        /* the control socket can swap models: it answers only to allowed CURVE keys
           whenever the node is a CURVE server */
        if (self->cfg.transport.zmq.curve_server_cert[0]) {
            self->control_curve = ml4t_curve_new(&self->cfg.transport, err);
            if (!self->control_curve)
                return err ? err->code : ML4T_EINVAL;
        }
        self->control = zsock_new(ZMQ_ROUTER);
        if (self->control) {
            ml4t_curve_apply(self->control_curve, self->control);
            if (zsock_attach(self->control, self->cfg.control_endpoint, true) != 0)
                zsock_destroy(&self->control);
        }
        if (!self->control)
            return ml4t_error_set(err, ML4T_EIO, "control", "cannot attach the control socket %s",
                                  self->cfg.control_endpoint);
    }
    self->poller = zpoller_new(self->pipe, self->sup_actor, self->control, NULL);
    zpoller_set_nonstop(self->poller, true); /* the owner decides when the node stops */
    /* one encode before the first signal: its time seeds latency_encode_ns */
    memset(&self->enr, 0, sizeof self->enr);
    snprintf(self->enr.instrument_id, sizeof self->enr.instrument_id, "WARMUP");
    const uint8_t *out;
    size_t len;
    uint64_t t0 = ml4t_clock_mono_ns();
    ml4t_codec_encode_enriched(self->codec, &self->enr, &out, &len, NULL);
    self->encode_ns_est = ml4t_clock_mono_ns() - t0;
    return ML4T_OK;
}

static void s_close(s_self_t *self)
{
    if (self->store && ml4t_store_flush(self->store, 10000) != ML4T_OK)
        fprintf(stderr, "ml4t-node: warning: the history store did not flush within 10 s\n");
    ml4t_error_t e;
    if (self->orch && self->policy_path[0] &&
        ml4t_orchestrator_policy_save(self->orch, self->policy_path, &e) != ML4T_OK)
        fprintf(stderr, "ml4t-node: warning: policy history not saved: %s\n", e.msg);
    zpoller_destroy(&self->poller);
    /* the supervisor uses the orchestrator and the store: it goes first */
    zactor_destroy(&self->sup_actor);
    zsock_destroy(&self->control);
    ml4t_curve_destroy(&self->control_curve); /* after the socket: zauth outlives it */
    ml4t_transport_destroy(&self->tr);
    ml4t_codec_destroy(&self->codec);
    ml4t_orchestrator_destroy(&self->orch);
    ml4t_store_close(&self->store);
    ml4t_signal_destroy(&self->sig);
    free(self->held.buf);
}

/* A node that could not start answers until it is told to stop. */
static void s_failed_loop(s_self_t *self)
{
    while (!self->terminated) {
        zmsg_t *msg = zmsg_recv(self->pipe);
        if (!msg)
            break;
        char *cmd = zmsg_popstr(msg);
        if (!cmd || strncmp(cmd, "$TERM", 5) == 0) {
            self->terminated = true;
        } else if (strcasecmp(cmd, "ERROR") == 0) {
            zstr_send(self->pipe, self->failed);
        } else {
            char *text = s_reply(false, "error", self->failed);
            zstr_send(self->pipe, text);
            free(text);
        }
        free(cmd);
        zmsg_destroy(&msg);
    }
}

static void s_run(s_self_t *self)
{
    const double ivl = self->cfg.stats_interval_s;
    self->next_stats_ns = ivl > 0 ? ml4t_clock_mono_ns() + (uint64_t)(ivl * 1e9) : UINT64_MAX;
    ml4t_frame_t frame;
    ml4t_error_t err;
    uint64_t next_look = 0;
    int since_look = 0;
    while (!self->terminated) {
        uint64_t now = ml4t_clock_mono_ns();
        if (since_look >= S_BURST || now >= next_look) {
            s_handle_commands(self);
            next_look = ml4t_clock_mono_ns() + S_LOOK_NS;
            since_look = 0;
        }
        if (now >= self->next_stats_ns) {
            s_publish_stats(self);
            self->next_stats_ns = ml4t_clock_mono_ns() + (uint64_t)(ivl * 1e9);
        }
        if (self->terminated)
            break;
        if (!s_release_held(self)) {
            zclock_sleep(5); /* the broker is away; commands are still answered */
            next_look = 0;
            continue;
        }
        /* Every receive waits until the next look is due: a message that
           comes meanwhile is taken straight from the wait. */
        now = ml4t_clock_mono_ns();
        int wait_ms = next_look > now ? (int)((next_look - now + 999999) / 1000000) : 0;
        ml4t_err_t rc = ml4t_transport_recv(self->tr, &frame, wait_ms, &err);
        if (rc == ML4T_OK) {
            s_on_frame(self, &frame);
            since_look++;
        } else if (rc != ML4T_ETIMEOUT) {
            zclock_sleep(1); /* not expected from a live transport; never spin on it */
        }
    }
}

void ml4t_node_actor(zsock_t *pipe, void *args)
{
    ml4t_sched_name("ml4t-hot"); /* the hot path, as ps -L and top -H show it */
    s_self_t *self = calloc(1, sizeof *self);
    if (!self) {
        zsock_signal(pipe, 0);
        return; /* the shim signals again and closes the pipe */
    }
    self->pipe = pipe;
    self->cfg = *(const ml4t_node_config_t *)args;
    self->started_ns = ml4t_clock_mono_ns();
    ml4t_signal_init(&self->sig);
    ml4t_error_t err;
    ml4t_error_clear(&err);
    if (s_open(self, &err) != ML4T_OK)
        snprintf(self->failed, sizeof self->failed, "%s",
                 err.msg[0] ? err.msg : ml4t_strerror(err.code));
    else
        s_announce(self);
    zsock_signal(pipe, 0);
    if (self->failed[0])
        s_failed_loop(self);
    else
        s_run(self);
    s_close(self);
    free(self);
}

zactor_t *ml4t_node_start(const ml4t_node_config_t *cfg, ml4t_error_t *err)
{
    if (!getenv("OMP_WAIT_POLICY"))
        setenv("OMP_WAIT_POLICY", "passive", 0);
    zactor_t *node = zactor_new(ml4t_node_actor, (void *)cfg);
    if (!node) {
        ml4t_error_set(err, ML4T_ENOMEM, "node", "cannot start the node actor");
        return NULL;
    }
    zstr_send(node, "ERROR");
    char *why = zstr_recv(node);
    if (why && !*why) {
        free(why);
        return node;
    }
    ml4t_error_set(err, ML4T_EIO, "node", "%s", why ? why : "the node actor did not answer");
    free(why);
    zactor_destroy(&node);
    return NULL;
}
