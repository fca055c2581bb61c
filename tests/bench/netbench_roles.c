/*  netbench roles: the message pool, the sender, the receiver and the floor
    forwarder. Each role runs in its own forked child (see netbench.h). */
#include "netbench.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "ml4t/clock.h"
#include "ml4t/codec.h"
#include "ml4t/csv.h"
#include "ml4t/transport.h"

#define S_WARMUP_GAP_NS   1000000ull     /* one warm-up signal per ms */
#define S_WARMUP_LIMIT_NS 60000000000ull /* the orchestrator gives up earlier */
#define S_DRAIN_IDLE_NS   2000000000ull  /* receiver: quiet this long after the last send: done */
#define S_DRAIN_LIMIT_NS  15000000000ull /* receiver: hard stop after the last send */
#define S_FLUSH_LIMIT_NS  10000000000ull /* sender: Redis output still unwritten: give up */

/* ---------------------------------------------------------------- pool */

static void s_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* A uint64 is encoded 0xcf + 8 big-endian bytes: every timestamp from 1970+4 s on. */
static long s_find_ts(const uint8_t *msg, size_t len, size_t from, uint64_t ts)
{
    uint8_t pat[9] = {0xcf};
    s_put_be64(pat + 1, ts);
    return nb_find(msg, len, from, pat, sizeof pat);
}

static ml4t_err_t s_pool_grow(nb_pool_t *pool, size_t *cap, size_t need, ml4t_error_t *err)
{
    if (need <= *cap)
        return ML4T_OK;
    size_t ncap = *cap ? *cap * 2 : 1 << 20;
    while (ncap < need)
        ncap *= 2;
    uint8_t *d = realloc(pool->data, ncap);
    if (!d)
        return ml4t_error_set(err, ML4T_ENOMEM, "pool", "cannot grow the pool to %zu bytes", ncap);
    pool->data = d;
    *cap = ncap;
    return ML4T_OK;
}

/* Encode message m (window k of the instrument whose bars start at month row
   base) and record where its timestamps and id sit. */
static ml4t_err_t s_pool_add(nb_pool_t *pool, ml4t_codec_t *codec, ml4t_signal_t *s,
                             const ml4t_bars_t *month, size_t base, size_t m, size_t k, size_t *cap,
                             ml4t_error_t *err)
{
    ml4t_bars_clear(&s->bars);
    size_t first = base + k % pool->per_instr, last = first;
    for (size_t b = 0; b < pool->bars; b++) {
        /* The instrument's series repeats every per_instr bars, so a bar of a
           given time has the same prices in every message that carries it. */
        size_t r = last = base + (k + b) % pool->per_instr;
        ml4t_err_t rc =
            ml4t_bars_push(&s->bars, pool->t0 + (k + b) * NB_BAR_NS, month->open[r], month->high[r],
                           month->low[r], month->close[r], month->volume[r], month->buy_volume[r]);
        if (rc != ML4T_OK)
            return ml4t_error_set(err, rc, "pool", "cannot hold %zu bars", pool->bars);
    }
    double move = month->close[last] - month->open[first];
    s->signal = move > 0 ? 1 : move < 0 ? -1 : 0;
    s->ts_event = pool->t0 + (k + pool->bars) * NB_BAR_NS;
    const uint8_t *enc;
    size_t len;
    ml4t_err_t rc = ml4t_codec_encode_signal(codec, s, ML4T_BARS_PLAIN, &enc, &len, err);
    if (rc != ML4T_OK)
        return rc;
    size_t off = m ? pool->off[m - 1] + pool->len[m - 1] : 0;
    if ((rc = s_pool_grow(pool, cap, off + len, err)) != ML4T_OK)
        return rc;
    memcpy(pool->data + off, enc, len);
    pool->off[m] = off;
    pool->len[m] = len;
    const uint8_t *msg = pool->data + off;
    long at = nb_find(msg, len, 0, (const uint8_t *)s->signal_id, NB_ID_LEN);
    long ev = s_find_ts(msg, len, 0, s->ts_event);
    if (at < 0 || ev < 0)
        return ml4t_error_set(err, ML4T_EFORMAT, "pool", "signal_id or ts_event not found");
    pool->id_off[m] = (uint32_t)at;
    uint32_t *ts = pool->ts_off + m * (pool->bars + 1);
    ts[0] = (uint32_t)ev;
    size_t pos = 0;
    for (size_t b = 0; b < pool->bars; b++) {
        long p = s_find_ts(msg, len, pos, s->bars.ts[b]);
        if (p < 0)
            return ml4t_error_set(err, ML4T_EFORMAT, "pool", "bar %zu's ts not found", b);
        ts[b + 1] = (uint32_t)p;
        pos = (size_t)p + 9;
    }
    return ML4T_OK;
}

static ml4t_err_t s_pool_fill(nb_pool_t *pool, const ml4t_bars_t *month, ml4t_error_t *err)
{
    ml4t_codec_t *codec = ml4t_codec_new(NULL);
    ml4t_signal_t s;
    ml4t_signal_init(&s);
    ml4t_err_t rc = codec ? ML4T_OK : ML4T_ENOMEM;
    size_t cap = 0, stride = month->n / NB_INSTRUMENTS, total = 0;
    snprintf(s.strategy_id, sizeof s.strategy_id, "netbench");
    nb_stamp_id((uint8_t *)s.signal_id, 0, 'w', 0, 0);
    s.signal_id[NB_ID_LEN] = '\0';
    for (size_t i = 0; rc == ML4T_OK && i < NB_INSTRUMENTS; i++) {
        snprintf(s.instrument_id, sizeof s.instrument_id, "FILUSDT-%zu", i);
        for (size_t k = 0; rc == ML4T_OK && k < pool->per_instr; k++) {
            size_t m = i * pool->per_instr + k;
            rc = s_pool_add(pool, codec, &s, month, i * stride, m, k, &cap, err);
            total += rc == ML4T_OK ? pool->len[m] : 0;
        }
    }
    pool->mean_len = (double)total / (double)pool->count;
    ml4t_signal_destroy(&s);
    ml4t_codec_destroy(&codec);
    return rc;
}

ml4t_err_t nb_pool_build(nb_pool_t *pool, size_t bars, ml4t_error_t *err)
{
    memset(pool, 0, sizeof *pool);
    pool->bars = bars;
    /* ~27 MB of 100-bar messages, ~10 MB of 1-bar ones */
    pool->per_instr = bars > 1 ? 400 : 4000;
    pool->count = NB_INSTRUMENTS * pool->per_instr;
    ml4t_bars_t month;
    ml4t_bars_init(&month);
    ml4t_err_t rc = ml4t_csv_load(ML4T_BENCH_DATA_FILE, &month, NULL, err);
    if (rc == ML4T_OK && month.n / NB_INSTRUMENTS < pool->per_instr)
        rc = ml4t_error_set(err, ML4T_ENODATA, "pool", "%zu bars are too few", month.n);
    if (rc == ML4T_OK) {
        pool->t0 = month.ts[0];
        pool->off = calloc(pool->count, sizeof *pool->off);
        pool->len = calloc(pool->count, sizeof *pool->len);
        pool->id_off = calloc(pool->count, sizeof *pool->id_off);
        pool->ts_off = calloc(pool->count * (bars + 1), sizeof *pool->ts_off);
        if (!pool->off || !pool->len || !pool->id_off || !pool->ts_off)
            rc = ml4t_error_set(err, ML4T_ENOMEM, "pool", "cannot index %zu messages", pool->count);
    }
    if (rc == ML4T_OK)
        rc = s_pool_fill(pool, &month, err);
    ml4t_bars_destroy(&month);
    if (rc != ML4T_OK)
        nb_pool_destroy(pool);
    return rc;
}

void nb_pool_destroy(nb_pool_t *pool)
{
    free(pool->data);
    free(pool->off);
    free(pool->len);
    free(pool->id_off);
    free(pool->ts_off);
    memset(pool, 0, sizeof *pool);
}

uint8_t *nb_pool_message(nb_pool_t *pool, uint64_t j, size_t *len, uint32_t *id_off)
{
    uint64_t i = j % NB_INSTRUMENTS, k = j / NB_INSTRUMENTS;
    size_t m = (size_t)(i * pool->per_instr + k % pool->per_instr);
    uint8_t *msg = pool->data + pool->off[m];
    const uint32_t *ts = pool->ts_off + m * (pool->bars + 1);
    s_put_be64(msg + ts[0] + 1, pool->t0 + (k + pool->bars) * NB_BAR_NS);
    for (size_t b = 0; b < pool->bars; b++)
        s_put_be64(msg + ts[b + 1] + 1, pool->t0 + (k + b) * NB_BAR_NS);
    *len = pool->len[m];
    *id_off = pool->id_off[m];
    return msg;
}

/* ---------------------------------------------------------------- helpers */

static void s_fail(nb_shared_t *sh, const char *what, const ml4t_error_t *err)
{
    snprintf(sh->error, sizeof sh->error, "%s%s%.160s", what, err && err->msg[0] ? ": " : "",
             err ? err->msg : "");
}

static void s_sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

/* Sleep most of the way (timer slack is 1 ns, see the sender), spin the rest. */
static uint64_t s_wait_until(uint64_t target)
{
    for (;;) {
        uint64_t now = ml4t_clock_mono_ns();
        if (now >= target)
            return now;
        if (target - now > 40000)
            s_sleep_ns(target - now - 25000);
    }
}

static void s_config(const nb_run_t *run, ml4t_transport_config_t *cfg)
{
    ml4t_transport_config_defaults(cfg);
    cfg->zmq.sub_endpoint[0] = cfg->zmq.pub_endpoint[0] = '\0';
    cfg->zmq.sndhwm = cfg->zmq.rcvhwm = run->hwm;
    cfg->redis.port = run->redis_port;
    cfg->redis.maxlen = run->hwm;
}

/* ---------------------------------------------------------------- Redis pipeline */

/* A hiredis connection used without blocking: commands are appended and
   written at once, replies read when they come. A strategy that publishes
   this way is never held up by Redis's round trip, so the sender is not what
   limits the rate. */
typedef struct {
    redisContext *c;
    uint64_t pending; /* commands written, reply not yet read */
    uint64_t errors;  /* error replies */
    bool unwritten;   /* output buffer not yet empty */
} s_pipe_t;

static bool s_pipe_open(s_pipe_t *p, int port)
{
    memset(p, 0, sizeof *p);
    struct timeval tv = {2, 0};
    p->c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!p->c || p->c->err)
        return false;
    int fl = fcntl(p->c->fd, F_GETFL);
    if (fl < 0 || fcntl(p->c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return false;
    /* hiredis 0.14 treats EAGAIN as "try later" only without REDIS_BLOCK */
    p->c->flags &= ~REDIS_BLOCK;
    return true;
}

static bool s_pipe_pump(s_pipe_t *p)
{
    int done = 0;
    if (redisBufferWrite(p->c, &done) != REDIS_OK)
        return false;
    p->unwritten = !done;
    struct pollfd pfd = {p->c->fd, POLLIN, 0};
    if (p->pending == 0 || poll(&pfd, 1, 0) <= 0)
        return true;
    if (redisBufferRead(p->c) != REDIS_OK)
        return false;
    void *r = NULL;
    while (redisGetReplyFromReader(p->c, &r) == REDIS_OK && r) {
        p->errors += ((redisReply *)r)->type == REDIS_REPLY_ERROR;
        p->pending--;
        freeReplyObject(r);
        r = NULL;
    }
    return true;
}

static bool s_pipe_flush(s_pipe_t *p, uint64_t limit_ns)
{
    uint64_t end = ml4t_clock_mono_ns() + limit_ns;
    while (p->pending || p->unwritten) {
        if (!s_pipe_pump(p) || ml4t_clock_mono_ns() > end)
            return false;
        struct pollfd pfd = {p->c->fd, (short)(POLLIN | (p->unwritten ? POLLOUT : 0)), 0};
        poll(&pfd, 1, 10);
    }
    return true;
}

static void s_pipe_close(s_pipe_t *p)
{
    if (p->c)
        redisFree(p->c);
    p->c = NULL;
}

/* ---------------------------------------------------------------- sender */

typedef struct {
    const nb_run_t *run;
    ml4t_transport_t *zmq;
    s_pipe_t pipe;
    char maxlen[24];
} s_out_t;

static bool s_out_open(s_out_t *o, const nb_run_t *run, nb_shared_t *sh)
{
    memset(o, 0, sizeof *o);
    o->run = run;
    snprintf(o->maxlen, sizeof o->maxlen, "%d", run->hwm);
    if (run->transport != NB_ZMQ) {
        if (s_pipe_open(&o->pipe, run->redis_port))
            return true;
        snprintf(sh->error, sizeof sh->error, "sender: cannot connect to Redis on port %d",
                 run->redis_port);
        return false;
    }
    ml4t_transport_config_t cfg;
    ml4t_error_t err = {0};
    s_config(run, &cfg);
    snprintf(cfg.zmq.pub_endpoint, sizeof cfg.zmq.pub_endpoint, ">tcp://127.0.0.1:%d",
             run->port_in);
    o->zmq = ml4t_transport_new(&ml4t_transport_zmq, &cfg, &err);
    if (!o->zmq)
        s_fail(sh, "sender: cannot open its ZeroMQ socket", &err);
    return o->zmq != NULL;
}

/* false: the frame was not handed over (a drop). */
static bool s_out_send(s_out_t *o, const uint8_t *msg, size_t len)
{
    if (o->zmq)
        return ml4t_transport_publish(o->zmq, NB_CH_SIGNALS, msg, len, NULL) == ML4T_OK;
    if (o->run->transport == NB_REDIS) {
        const char *argv[] = {"PUBLISH", NB_CH_SIGNALS, (const char *)msg};
        size_t lens[] = {7, strlen(NB_CH_SIGNALS), len};
        redisAppendCommandArgv(o->pipe.c, 3, argv, lens);
    } else {
        const char *argv[] = {"XADD", NB_CH_SIGNALS, "MAXLEN",      "~",       o->maxlen,
                              "*",    "topic",       NB_CH_SIGNALS, "payload", (const char *)msg};
        size_t lens[] = {4, strlen(NB_CH_SIGNALS), 6, 1,  strlen(o->maxlen), 1,
                         5, strlen(NB_CH_SIGNALS), 7, len};
        redisAppendCommandArgv(o->pipe.c, 10, argv, lens);
    }
    o->pipe.pending++;
    return s_pipe_pump(&o->pipe);
}

static void s_out_close(s_out_t *o)
{
    ml4t_transport_destroy(&o->zmq);
    s_pipe_close(&o->pipe);
}

/* Warm-up signals, one per ms, until the orchestrator says go. */
static bool s_warmup(s_out_t *o, const nb_run_t *run, nb_shared_t *sh, uint64_t *j)
{
    uint64_t start = ml4t_clock_mono_ns(), next = start;
    while (!atomic_load(&sh->go)) {
        if (atomic_load(&sh->stop) || ml4t_clock_mono_ns() - start > S_WARMUP_LIMIT_NS)
            return false;
        size_t len;
        uint32_t id;
        uint8_t *msg = nb_pool_message(run->pool, (*j)++, &len, &id);
        nb_stamp_id(msg, id, 'w', sh->warmup_sent, ml4t_clock_mono_ns());
        s_out_send(o, msg, len);
        sh->warmup_sent++;
        next += S_WARMUP_GAP_NS;
        s_wait_until(next);
    }
    return true;
}

static void s_measured(s_out_t *o, const nb_run_t *run, nb_shared_t *sh, uint64_t j)
{
    double period = 1e9 / run->rate;
    uint64_t t0 = ml4t_clock_mono_ns() + 1000000;
    for (uint64_t seq = 0; seq < run->n; seq++) {
        uint64_t target = t0 + (uint64_t)((double)seq * period);
        s_wait_until(target);
        size_t len;
        uint32_t id;
        uint8_t *msg = nb_pool_message(run->pool, j++, &len, &id);
        uint64_t now = ml4t_clock_mono_ns();
        nb_stamp_id(msg, id, 'm', seq, now);
        if (s_out_send(o, msg, len))
            sh->sent++;
        else
            sh->send_failed++;
        uint64_t lag = now - target;
        sh->max_lag_ns = lag > sh->max_lag_ns ? lag : sh->max_lag_ns;
        sh->late_sends += lag > 1000000;
        if (seq == 0)
            sh->first_send_ns = now;
        sh->last_send_ns = now;
    }
}

int nb_role_sender(const nb_run_t *run, nb_shared_t *sh)
{
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    s_out_t o;
    if (!s_out_open(&o, run, sh)) {
        s_out_close(&o);
        return 1;
    }
    uint64_t j = 0;
    int rc = 0;
    if (!s_warmup(&o, run, sh, &j)) {
        if (!atomic_load(&sh->stop))
            snprintf(sh->error, sizeof sh->error, "sender: no go within %llu s",
                     (unsigned long long)(S_WARMUP_LIMIT_NS / 1000000000ull));
        rc = 1;
    } else {
        s_measured(&o, run, sh, j);
        if (o.zmq == NULL && !s_pipe_flush(&o.pipe, S_FLUSH_LIMIT_NS)) {
            snprintf(sh->error, sizeof sh->error, "sender: Redis did not take every command");
            rc = 1;
        }
        if (o.zmq == NULL)
            sh->send_failed += o.pipe.errors;
    }
    atomic_store(&sh->sender_done, 1);
    /* czmq closes sockets with linger 0: frames still queued would be lost */
    for (uint64_t end = ml4t_clock_mono_ns() + S_WARMUP_LIMIT_NS;
         rc == 0 && !atomic_load(&sh->stop) && ml4t_clock_mono_ns() < end;)
        s_sleep_ns(1000000);
    s_out_close(&o);
    return rc;
}

/* ---------------------------------------------------------------- receiver */

typedef struct {
    const nb_run_t *run;
    nb_shared_t *sh;
    size_t hint, own_hint;
} s_rx_t;

static void s_rx_one(s_rx_t *rx, const void *payload, size_t len, uint64_t now)
{
    char kind;
    uint64_t seq, sent;
    nb_shared_t *sh = rx->sh;
    if (!nb_parse_id(payload, len, &rx->hint, &kind, &seq, &sent)) {
        sh->foreign++;
        return;
    }
    if (kind == 'w') {
        sh->warmup_received++;
        atomic_store(&sh->joined, 1);
        return;
    }
    if (seq >= rx->run->n) {
        sh->foreign++;
        return;
    }
    if (sh->lat_ns[seq]) {
        sh->duplicates++;
        return;
    }
    sh->lat_ns[seq] = now > sent ? now - sent : 1;
    uint64_t own;
    if (nb_parse_own_ns(payload, len, &rx->own_hint, &own)) {
        nb_own_ns(sh, rx->run->n)[seq] = own ? own : 1;
        sh->own_found++;
    }
    sh->received++;
    sh->last_recv_ns = now;
}

/* Streams are read with plain XREAD (no group, no acks): the receiver's cost
   stays small beside the middle's. */
static int s_rx_xread(s_rx_t *rx, redisContext *c, char *last, size_t last_size)
{
    redisReply *r =
        redisCommand(c, "XREAD COUNT 1000 BLOCK 50 STREAMS %s %s", NB_CH_ENRICHED, last);
    uint64_t now = ml4t_clock_mono_ns();
    if (!r)
        return -1;
    int got = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2) {
        redisReply *entries = r->element[0]->element[1];
        for (size_t i = 0; i < entries->elements; i++) {
            redisReply *e = entries->element[i];
            if (e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
                continue;
            snprintf(last, last_size, "%s", e->element[0]->str);
            redisReply *f = e->element[1];
            for (size_t k = 0; k + 1 < f->elements; k += 2)
                if (strcmp(f->element[k]->str, "payload") == 0)
                    s_rx_one(rx, f->element[k + 1]->str, f->element[k + 1]->len, now);
            got++;
        }
    }
    freeReplyObject(r);
    return got;
}

static bool s_rx_finished(const s_rx_t *rx, uint64_t now)
{
    const nb_shared_t *sh = rx->sh;
    if (atomic_load(&sh->stop) || sh->received == rx->run->n)
        return true;
    if (!atomic_load(&sh->sender_done))
        return false;
    uint64_t last = sh->last_recv_ns > sh->last_send_ns ? sh->last_recv_ns : sh->last_send_ns;
    return now - last > S_DRAIN_IDLE_NS || now - sh->last_send_ns > S_DRAIN_LIMIT_NS;
}

static int s_rx_transport(s_rx_t *rx, const nb_run_t *run, nb_shared_t *sh)
{
    ml4t_transport_config_t cfg;
    ml4t_error_t err = {0};
    s_config(run, &cfg);
    snprintf(cfg.zmq.sub_endpoint, sizeof cfg.zmq.sub_endpoint, ">tcp://127.0.0.1:%d",
             run->port_out);
    const ml4t_transport_ops_t *ops =
        run->transport == NB_ZMQ ? &ml4t_transport_zmq : &ml4t_transport_redis_pubsub;
    ml4t_transport_t *t = ml4t_transport_new(ops, &cfg, &err);
    if (!t || ml4t_transport_subscribe(t, NB_CH_ENRICHED, &err) != ML4T_OK ||
        ml4t_transport_subscribe(t, NB_CH_ERRORS, &err) != ML4T_OK) {
        s_fail(sh, "receiver: cannot subscribe", &err);
        ml4t_transport_destroy(&t);
        return 1;
    }
    ml4t_frame_t f;
    for (;;) {
        ml4t_err_t rc = ml4t_transport_recv(t, &f, 50, NULL);
        uint64_t now = ml4t_clock_mono_ns();
        if (rc == ML4T_OK && strncmp(f.topic, NB_CH_ERRORS, strlen(NB_CH_ERRORS)) == 0)
            sh->errors += atomic_load(&sh->go) != 0; /* a refused signal: no answer */
        else if (rc == ML4T_OK)
            s_rx_one(rx, f.payload, f.payload_len, now);
        if (s_rx_finished(rx, now))
            break;
    }
    ml4t_transport_destroy(&t);
    return 0;
}

int nb_role_receiver(const nb_run_t *run, nb_shared_t *sh)
{
    s_rx_t rx = {run, sh, 0, 0};
    if (run->transport != NB_STREAMS)
        return s_rx_transport(&rx, run, sh);
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", run->redis_port, tv);
    if (!c || c->err) {
        snprintf(sh->error, sizeof sh->error, "receiver: cannot connect to Redis");
        if (c)
            redisFree(c);
        return 1;
    }
    char last[64] = "0";
    int rc = 0;
    while (!s_rx_finished(&rx, ml4t_clock_mono_ns())) {
        if (s_rx_xread(&rx, c, last, sizeof last) < 0) {
            snprintf(sh->error, sizeof sh->error, "receiver: XREAD failed: %s", c->errstr);
            rc = 1;
            break;
        }
    }
    redisFree(c);
    return rc;
}

/* ---------------------------------------------------------------- floor */

/* The bare forwarder: what the node's transport does with no work between. */
int nb_role_floor(const nb_run_t *run, nb_shared_t *sh)
{
    ml4t_transport_config_t cfg;
    ml4t_error_t err = {0};
    s_config(run, &cfg);
    snprintf(cfg.zmq.sub_endpoint, sizeof cfg.zmq.sub_endpoint, "@tcp://127.0.0.1:%d",
             run->port_in);
    snprintf(cfg.zmq.pub_endpoint, sizeof cfg.zmq.pub_endpoint, "@tcp://127.0.0.1:%d",
             run->port_out);
    snprintf(cfg.redis.consumer, sizeof cfg.redis.consumer, "floor");
    const ml4t_transport_ops_t *ops = run->transport == NB_ZMQ     ? &ml4t_transport_zmq
                                      : run->transport == NB_REDIS ? &ml4t_transport_redis_pubsub
                                                                   : &ml4t_transport_redis_streams;
    ml4t_transport_t *t = ml4t_transport_new(ops, &cfg, &err);
    if (!t || ml4t_transport_subscribe(t, NB_CH_SIGNALS, &err) != ML4T_OK) {
        s_fail(sh, "floor: cannot open its transport", &err);
        ml4t_transport_destroy(&t);
        return 1;
    }
    ml4t_frame_t f;
    while (!atomic_load(&sh->stop)) {
        if (ml4t_transport_recv(t, &f, 50, NULL) != ML4T_OK)
            continue;
        ml4t_transport_publish(t, NB_CH_ENRICHED, f.payload, f.payload_len, NULL);
        ml4t_transport_ack(t, &f, NULL);
    }
    ml4t_transport_destroy(&t);
    return 0;
}
