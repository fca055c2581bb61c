/*  ml4t_node: the signal-enrichment node as czmq actors.

    ml4t_node_actor is an ordinary czmq actor: any C program starts it with
    zactor_new(ml4t_node_actor, &cfg) and talks to it over its pipe. It owns
    the hot path: it receives SignalEvents (and OutcomeEvents, RiskStateEvents)
    from a transport (ZeroMQ, Redis pub/sub, Redis Streams, or failover between
    two), enriches each signal, and publishes the EnrichedSignalEvent. It also
    serves a control socket (ml4t-ctl) and publishes stats and the trading
    policy. Retraining runs on a second actor (ml4t_supervisor_actor) that the
    node starts and stops; the node holds its pipe.

    Pipe commands (strings; each gets one string reply):
        STATUS         -> the status as JSON (see docs/node.md)
        STATS          -> the same
        TRAIN          -> {"ok":true,...}: a retrain is requested, not awaited
        SWAP <path>    -> {"ok":...}: validate a model file and swap it in
        ROLLBACK       -> {"ok":...}: back to the previous registry version
        RELOAD         -> {"ok":...}: SWAP of the configured model_path
        ERROR          -> "" when the node runs, else why it could not start
        $TERM          -> stop: the current burst is finished, the history
                          store flushed, everything closed (no reply)

    A node that could not start (a port in use, a store it cannot open) still
    signals ready, so zactor_new returns: it answers ERROR with the reason and
    every other command with {"ok":false,"error":...}. ml4t_node_start does the
    zactor_new and that check in one call. */
#ifndef ML4T_NODE_H_INCLUDED
#define ML4T_NODE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <czmq.h>

#include "ml4t/codec.h"
#include "ml4t/error.h"
#include "ml4t/orchestrator.h"
#include "ml4t/store.h"
#include "ml4t/supervisor.h"
#include "ml4t/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_CHANNEL_STATS  "nautilus:stats"
#define ML4T_CHANNEL_POLICY "nautilus:policy"

typedef struct ml4t_node_config {
    ml4t_orchestrator_config_t orch; /* orch.base: model_path, data_dir, channels, ... */
    ml4t_supervisor_config_t sup;    /* data_dir is taken from orch.base.data_dir */
    ml4t_transport_config_t transport;
    ml4t_store_config_t store;    /* the history store's queue and writer */
    char transport_name[32];      /* "zmq": zmq | redis | streams | failover */
    char control_endpoint[256];   /* "@tcp://127.0.0.1:5557"; "" = no control socket */
    char channel_outcomes[128];   /* "nautilus:outcomes" */
    char channel_risk_state[128]; /* "nautilus:risk_state" */
    char channel_errors[128];     /* "nautilus:errors" */
    char channel_stats[128];      /* "nautilus:stats" */
    char channel_policy[128];     /* "nautilus:policy" */
    bool enriched_by_instrument;  /* false: publish on <channel_enriched>:<instrument> */
    double stats_interval_s;      /* 10; 0 = never published (STATUS still answers) */
    bool supervisor;              /* true: retraining on (triggers, TRAIN) */
    bool quiet;                   /* false: startup lines on stderr */
} ml4t_node_config_t;

/* Defaults as written beside each field (and those of every part). */
void ml4t_node_config_default(ml4t_node_config_t *cfg);

/* Set one option by key from text. Keys: every ml4t_config key ("model_path"),
   the node's ("transport", "signals", "enriched", "control", "stats_interval",
   "policy", ...), "zmq.*", "redis.*", "failover.*", "policy.*", "train.*",
   "supervisor.*" (see ml4t_node_config_keys). A key may be written with '-'
   or '_' for '_' and '.' or '_' after the section ("redis-port" ==
   "redis.port"). Unknown key or bad value: error naming the key, cfg unchanged. */
ml4t_err_t ml4t_node_config_set(ml4t_node_config_t *cfg, const char *key, const char *value,
                                ml4t_error_t *err);

/* Render a key's current value (for --help and the effective config). */
ml4t_err_t ml4t_node_config_get(const ml4t_node_config_t *cfg, const char *key, char *buf,
                                size_t size);

/* One option: its canonical key, and a line of help. */
typedef struct ml4t_node_option {
    const char *key;
    const char *help;
} ml4t_node_option_t;

/* Every option, terminated by a {NULL, NULL} entry. Static storage. */
const ml4t_node_option_t *ml4t_node_config_options(void);

/* The environment variable of a key: "ML4T_" + upper-case key with '.' -> '_'. */
void ml4t_node_config_env_name(const char *key, char *buf, size_t size);

/* A list of problems collected while loading a configuration. */
typedef struct ml4t_node_problems {
    size_t n;
    char text[4096]; /* one problem per line */
} ml4t_node_problems_t;

/* Apply a ZPL file (czmq zconfig). Sections map to key prefixes: `node` and
   `model` give bare keys, `zmq`, `redis`, `failover`, `policy`, `train`,
   `supervisor` give "<section>.<key>". Every bad entry is added to problems. */
void ml4t_node_config_load_zpl(ml4t_node_config_t *cfg, const char *path,
                               ml4t_node_problems_t *problems);
/* The same from ZPL text in memory (len bytes; parsing stops at a NUL, as for a
   file). origin names the source in problems ("<stdin>"). ML4T_EFORMAT when
   the text is not ZPL at all (also added to problems), ML4T_OK otherwise,
   whatever entries were refused. */
ml4t_err_t ml4t_node_config_load_zpl_text(ml4t_node_config_t *cfg, const char *text, size_t len,
                                          const char *origin, ml4t_node_problems_t *problems);
/* Apply every set ML4T_<KEY> variable; every bad one is added to problems. */
void ml4t_node_config_load_env(ml4t_node_config_t *cfg, ml4t_node_problems_t *problems);
/* Check the whole configuration (after all overrides); adds every violation. */
void ml4t_node_config_check(ml4t_node_config_t *cfg, ml4t_node_problems_t *problems);
void ml4t_node_problems_add(ml4t_node_problems_t *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The node actor. args: const ml4t_node_config_t * (copied before zactor_new
   returns; the caller may free it then). */
void ml4t_node_actor(zsock_t *pipe, void *args);

/* zactor_new(ml4t_node_actor, cfg) and the ERROR check: NULL with err filled
   when the node could not start. Caller owns the actor (zactor_destroy). */
zactor_t *ml4t_node_start(const ml4t_node_config_t *cfg, ml4t_error_t *err);

/* The supervisor actor's arguments. */
typedef struct ml4t_supervisor_actor_args {
    ml4t_supervisor_t *supervisor; /* the actor takes ownership and destroys it at $TERM */
    char model_path[256];          /* RELOAD swaps this file in */
} ml4t_supervisor_actor_args_t;

/* A thin actor around ml4t_supervisor_t, so blocking model work (rollback,
   swapping a file in) never runs on the hot thread. Commands: a zmsg of
   [reply-to][command][argument]; the reply is [reply-to][json]. Commands:
   TRAIN, ROLLBACK, SWAP <path>, RELOAD, STATUS. $TERM destroys the supervisor
   (a run in progress finishes first). */
void ml4t_supervisor_actor(zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif
#endif
