/*  netbench: the end-to-end network benchmark behind the `zmq`, `redis` and
    `streams` suites of ml4t-bench.

    Three or four processes on one machine, over TCP loopback:

        sender ──► middle ──► receiver           (+ redis-server for Redis)

    The sender publishes real SignalEvents (pre-encoded from the bundled month)
    at a target rate; the middle is either the node (build/bin/ml4t-node) or
    the floor, a bare forwarder that republishes each signal's bytes unchanged
    on the enriched channel; the receiver subscribes to the enriched channel
    and records, per sequence number, the time from the signal's send to the
    answer's receipt. Sequence number and send time travel in the signal's
    signal_id, which the node echoes in its EnrichedSignalEvent, so floor and
    node are measured by the same clients in the same way. Both processes read
    CLOCK_MONOTONIC on the same machine, so their readings are comparable.

    The roles run in forked children of ml4t-bench (netbench_roles.c); the
    node is exec'd. netbench.c orchestrates runs, the rate search and the
    report. Results come back through a shared anonymous mapping. */
#ifndef ML4T_NETBENCH_H_INCLUDED
#define ML4T_NETBENCH_H_INCLUDED

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include "ml4t/error.h"

#define NB_INSTRUMENTS 10
/* signal_id: kind ('w' warm-up, 'm' measured), 9-digit sequence, '-', 20-digit
   CLOCK_MONOTONIC ns of the send. 31 bytes: one msgpack fixstr. */
#define NB_ID_LEN      31
#define NB_BAR_NS      60000000000ull /* 1-minute bars */
#define NB_CH_SIGNALS  "nautilus:signals"
#define NB_CH_ENRICHED "nautilus:enriched_signals"
#define NB_CH_ERRORS   "nautilus:errors"

typedef enum { NB_ZMQ = 0, NB_REDIS, NB_STREAMS } nb_transport_t;

/* Pre-encoded signals for NB_INSTRUMENTS instruments ("FILUSDT-0".."-9").
   Each instrument's series is its own stretch of per_instr real bars of the
   month, repeated; its k-th signal carries the `bars` bars ending at bar k.
   Message j of a run is instrument j % 10's (j / 10)-th signal: its bar
   timestamps are rewritten before the send so they keep increasing, one
   minute apart, however long the run, and a bar of a given time has the same
   prices in every message that carries it (a node merging the overlapping
   windows into its history sees one consistent series). */
typedef struct {
    size_t bars;       /* bars per message (100 or 1) */
    size_t per_instr;  /* messages per instrument */
    size_t count;      /* NB_INSTRUMENTS * per_instr */
    uint8_t *data;     /* all messages back to back */
    size_t *off, *len; /* per message */
    uint32_t *ts_off;  /* per message, bars + 1 offsets: ts_event, then each bar's ts */
    uint32_t *id_off;  /* per message: offset of the signal_id's NB_ID_LEN characters */
    uint64_t t0;       /* the month's first bar time, ns */
    double mean_len;   /* mean message size, bytes */
} nb_pool_t;

/* Build a pool from the bundled month. Caller owns; nb_pool_destroy frees. */
ml4t_err_t nb_pool_build(nb_pool_t *pool, size_t bars, ml4t_error_t *err);
void nb_pool_destroy(nb_pool_t *pool);
/* Message j with its timestamps rewritten (the pool is the caller's copy:
   each process writes only its own pages). Valid until the next call. */
uint8_t *nb_pool_message(nb_pool_t *pool, uint64_t j, size_t *len, uint32_t *id_off);
/* Offset of the first occurrence of needle in hay[from, len), or -1. */
long nb_find(const uint8_t *hay, size_t len, size_t from, const uint8_t *needle, size_t n);
/* Write the signal_id characters at msg + id_off. */
void nb_stamp_id(uint8_t *msg, uint32_t id_off, char kind, uint64_t seq, uint64_t send_ns);
/* Find the signal_id in any message (signal or enriched) and parse it.
 *hint caches the offset of the last hit. false when absent or not ours. */
bool nb_parse_id(const uint8_t *msg, size_t len, size_t *hint, char *kind, uint64_t *seq,
                 uint64_t *send_ns);
/* The node's own time for a signal: its answer's latency_ns (decode to
   encode, in the node's hot thread). false when absent (a floor's answer is
   the signal itself, which has none). *hint as for nb_parse_id. */
bool nb_parse_own_ns(const uint8_t *msg, size_t len, size_t *hint, uint64_t *own_ns);

/* One run's setup, read by every role. */
typedef struct {
    nb_transport_t transport;
    int port_in, port_out, port_ctl; /* ZeroMQ: signals, enriched, node control */
    int redis_port;
    int hwm;     /* ZeroMQ SNDHWM/RCVHWM, Streams MAXLEN ~ */
    double rate; /* measured messages per second */
    uint64_t n;  /* measured messages */
    nb_pool_t *pool;
} nb_run_t;

/* Shared between the orchestrator and the roles (MAP_SHARED). */
typedef struct {
    atomic_int joined;      /* receiver: an answer to a warm-up signal came back */
    atomic_int go;          /* orchestrator: start the measured sends */
    atomic_int sender_done; /* sender: last measured send made */
    atomic_int stop;        /* orchestrator: the floor must exit */
    /* sender */
    uint64_t sent, send_failed, warmup_sent;
    uint64_t first_send_ns, last_send_ns, max_lag_ns, late_sends; /* late: > 1 ms behind */
    /* receiver */
    uint64_t received, duplicates, foreign, warmup_received, last_recv_ns;
    uint64_t errors;    /* ErrorEvents heard (ZeroMQ and pub/sub only) */
    uint64_t own_found; /* answers that carried the node's latency_ns */
    /* any role: why it failed */
    char error[256];
    /* 2 x n entries: [0, n) send -> receipt per sequence number, 0 = not
       received; [n, 2n) the node's own time for it (nb_parse_own_ns), 0 =
       none. nb_own_ns() points at the second half. */
    uint64_t lat_ns[];
} nb_shared_t;

static inline uint64_t *nb_own_ns(nb_shared_t *sh, uint64_t n)
{
    return sh->lat_ns + n;
}

/* Roles, each run in a forked child; each returns the child's exit status. */
int nb_role_sender(const nb_run_t *run, nb_shared_t *sh);
int nb_role_receiver(const nb_run_t *run, nb_shared_t *sh);
int nb_role_floor(const nb_run_t *run, nb_shared_t *sh);

/* The suite entry shared by bench_zmq.c, bench_redis.c, bench_streams.c. */
int nb_main(const char *suite, nb_transport_t transport, const ml4t_bench_opts_t *opts);

#endif
