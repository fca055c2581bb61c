/*  ml4t_transport_redis_pubsub and ml4t_transport_redis_streams (hiredis 0.14).

    Both keep two connections: pub/sub because a subscribed connection cannot
    publish; Streams so that acks and XADDs never queue behind a blocked
    XREADGROUP. Replies are read only after poll() says the socket is readable:
    hiredis 0.14 marks a blocking context dead when a read times out, so we
    never let a read time out. Writes are ours, with MSG_NOSIGNAL (a peer that
    vanished gives EPIPE, never SIGPIPE), and a write Redis does not take
    within io_timeout_ms fails (SO_SNDTIMEO) and drops the link.

    Pipelining: the publishing connection (pub/sub's PUBLISH; Streams' XADD,
    answer scripts and XACK) writes each command at once and reads replies
    later, whenever it is used and without waiting, so a publish costs a
    write, not a round trip. With a backlog, commands are written together:
    a publish made while the next frame is already read (pub/sub: in this
    transport's buffer; Streams: in the batch XREADGROUP brought) waits for
    the answers after it, up to S_BATCH_MAX, and they go in one sendmsg when
    a receive next needs the socket. A read takes up to 64 kB. Nothing waits
    when the next frame is not already here. Every command stays in a ring until its reply is
    read; at redis.pipeline unanswered commands a publish waits for replies
    (back-pressure). Error replies are counted when they arrive; those that
    mean "not now" (LOADING, OOM, ...) close the link, and the command goes
    again on the next one. A synchronous command (AUTH, XGROUP, XPENDING, ...)
    first waits for every reply ahead of it.

    Reconnects: a dropped connection is retried at once (after backoff_min
    when it never carried a reply), then after backoff_min doubling up to
    backoff_max; the wait happens inside recv, within its timeout. A new
    publishing connection first writes again every command whose reply had
    not been read: pub/sub is at least once across a reconnect (a PUBLISH
    Redis ran before the link broke goes out twice), Streams answers stay
    exactly once (the script's marker) and XACK is idempotent. After a
    reconnect, pub/sub re-subscribes and Streams recreates a missing group,
    resends acks taken while Redis was away, and re-reads its own pending
    entries (a reply lost in flight may have moved entries there).

    Streams delivery: at least once from Redis; this transport remembers the
    last dedup_window ids it delivered and delivers none of them twice, so an
    application that acks what it handled sees each entry once (see
    docs/brokers.md for the exact conditions).

    Streams answers (publish_reply): one Lua script writes the answer, a marker
    keyed by group, stream and entry id, and the XACK, or, when the marker is
    already there, only the XACK. A script's effects reach the AOF as one
    MULTI/EXEC block, so after a crash either all of them exist or none: an
    answer retried because its reply was lost, or given again by another
    consumer that claimed the entry, finds the marker and is not written. */
#define _GNU_SOURCE /* POLLRDHUP */
#include "ml4t/transport.h"

#include <assert.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- connection */

/* A command written to Redis whose reply has not been read yet. It stays in
   its connection's ring until the reply comes, so that a new connection can
   write it again. The buffer grows to the largest command and is reused. */
typedef struct {
    int kind;                          /* the owner's: what the reply means */
    uint32_t stream;                   /* Streams: the index of the request's stream */
    char id[ML4T_TRANSPORT_ID_MAX];    /* Streams: the entry answered or acked */
    char key[ML4T_TRANSPORT_NAME_MAX]; /* the stream written to, for error messages */
    char *buf;                         /* the command in RESP */
    size_t len, cap;
    int argc;
    size_t args_off; /* where the arguments after the second begin (EVALSHA -> EVAL) */
} s_rec_t;

typedef enum {
    S_REPLY_OK = 0, /* taken */
    S_REPLY_FAILED, /* an error reply: the frame is dropped (last_error says why) */
    S_REPLY_AGAIN   /* the owner rewrote the command: write it again */
} s_verdict_t;

/* Called with each reply of the pipeline, oldest first; must not free r. */
typedef s_verdict_t (*s_reply_fn)(void *owner, s_rec_t *rec, const redisReply *r);

typedef struct {
    redisContext *c; /* NULL while disconnected */
    const ml4t_transport_config_t *cfg;
    ml4t_transport_health_t *health;
    int64_t next_attempt_ms;
    int backoff_ms;
    bool ever_connected;
    bool fresh; /* connected since the owner last looked: re-subscribe, re-read pending */
    bool heard; /* a reply came on this connection */
    bool hup;   /* s_next_reply's last poll: Redis closed its end */
    /* Bytes read from the socket and not yet given to hiredis's reader: one
       read takes up to S_READ_MAX, the reader is fed S_FEED_MAX at a time. */
    char *rbuf;
    size_t rpos, rlen;
    /* The pipeline (publishing connections only; recs NULL otherwise). The ring
       holds n commands from head, oldest first; the first `live` of them were
       written on the current connection. The rest are written by the next
       s_pipe_push: they wait there while the caller has more input already
       read (s_pipe_commit's defer), or for the next connection. */
    s_rec_t *recs;
    size_t ring, head, n, live;
    size_t depth;    /* cfg->redis.pipeline, or the adapter's own when that is -1 */
    uint64_t failed; /* error replies so far */
    s_reply_fn on_reply;
    void *owner;
} s_conn_t;

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t s_left_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t d = deadline - s_now_ms();
    return d > 0 ? d : 0;
}

static void s_conn_init(s_conn_t *conn, const ml4t_transport_config_t *cfg,
                        ml4t_transport_health_t *health)
{
    memset(conn, 0, sizeof *conn);
    conn->cfg = cfg;
    conn->health = health;
    conn->backoff_ms = cfg->redis.backoff_min_ms;
}

/* Pipeline depths when redis.pipeline is -1. Pub/sub keeps fewer in flight:
   its answers are small, so Redis's receive buffer for them stays small, and
   256 of them closed its window for 0.2 s at a time (docs/brokers.md,
   "Pipeline depth"). Streams answers are scripts, slower to reply, and 64
   cost them throughput. */
#define S_PUBSUB_DEPTH  64
#define S_STREAMS_DEPTH 256

/* Make conn a pipelined connection whose replies go to on_reply(owner, ...);
   depth is the adapter's own, used when redis.pipeline is -1. */
static bool s_conn_pipe_init(s_conn_t *conn, s_reply_fn on_reply, void *owner, size_t depth)
{
    int want = conn->cfg->redis.pipeline;
    conn->depth = want < 0 ? depth : (size_t)want;
    /* depth 0 still carries one command; one spare slot lets a command be
       rewritten and queued again while its old slot is being released */
    conn->ring = (conn->depth ? conn->depth : 1) + 1;
    conn->recs = calloc(conn->ring, sizeof *conn->recs);
    conn->on_reply = on_reply;
    conn->owner = owner;
    return conn->recs != NULL;
}

static void s_conn_free(s_conn_t *conn)
{
    if (conn->c)
        redisFree(conn->c);
    conn->c = NULL;
    free(conn->rbuf);
    conn->rbuf = NULL;
    conn->rpos = conn->rlen = 0;
    for (size_t i = 0; conn->recs && i < conn->ring; i++)
        free(conn->recs[i].buf);
    free(conn->recs);
    conn->recs = NULL;
}

static void s_conn_backoff(s_conn_t *conn);

/* The first retry is immediate, unless the connection died before Redis
   answered anything on it (a proxy whose server is down accepts and closes
   at once): then it waits out the backoff instead of spinning. */
static void s_conn_drop(s_conn_t *conn, const char *why)
{
    if (conn->c) {
        ml4t_error_set(&conn->health->last_error, ML4T_EIO, "redis", "connection lost: %s", why);
        if (!conn->heard) {
            s_conn_backoff(conn);
            return;
        }
        redisFree(conn->c);
        conn->c = NULL;
        conn->rpos = conn->rlen = 0; /* what the old connection brought goes with it */
        conn->live = 0;              /* the ring keeps them for the next connection */
        conn->next_attempt_ms = s_now_ms();
    }
}

/* Close and schedule the next attempt after the current backoff, which doubles. */
static void s_conn_backoff(s_conn_t *conn)
{
    if (conn->c)
        redisFree(conn->c);
    conn->c = NULL;
    conn->rpos = conn->rlen = 0;
    conn->live = 0;
    conn->next_attempt_ms = s_now_ms() + conn->backoff_ms;
    conn->backoff_ms *= 2;
    if (conn->backoff_ms > conn->cfg->redis.backoff_max_ms)
        conn->backoff_ms = conn->cfg->redis.backoff_max_ms;
}

static void s_conn_fail(s_conn_t *conn, const char *field, const char *why)
{
    ml4t_error_set(&conn->health->last_error, ML4T_EIO, field, "%s:%d: %s", conn->cfg->redis.host,
                   conn->cfg->redis.port, why);
    s_conn_backoff(conn);
}

static void s_conn_error(redisContext *c, int type, const char *why)
{
    c->err = type;
    snprintf(c->errstr, sizeof c->errstr, "%s", why);
}

/* Write the n buffers of iov to Redis, in order (iov is consumed), counting
   the system calls in *calls. The socket blocks, and SO_SNDTIMEO bounds a
   write Redis does not take (EAGAIN: an error here, as in hiredis's own
   blocking writes). MSG_NOSIGNAL: a peer that vanished gives EPIPE, never
   SIGPIPE, without touching the thread's signal mask. A failure is left in
   the context the way hiredis leaves its own. */
static int s_conn_writev(redisContext *c, struct iovec *iov, int n, uint64_t *calls)
{
    while (n > 0) {
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t done = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        (*calls)++;
        if (done < 0) {
            if (errno == EINTR)
                continue;
            s_conn_error(c, REDIS_ERR_IO, strerror(errno));
            return REDIS_ERR;
        }
        while (n > 0 && (size_t)done >= iov->iov_len) {
            done -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= (size_t)done;
        }
    }
    return REDIS_OK;
}

/* Write all of p (one buffer: s_conn_writev's, uncounted). */
static int s_conn_write(redisContext *c, const char *p, size_t len)
{
    struct iovec iov = {(void *)(uintptr_t)p, len};
    uint64_t calls = 0;
    return s_conn_writev(c, &iov, len ? 1 : 0, &calls);
}

/* Write what hiredis has buffered (commands appended with redisAppend*). */
static int s_conn_flush(s_conn_t *conn)
{
    redisContext *c = conn->c;
    size_t len = sdslen(c->obuf);
    if (len == 0)
        return REDIS_OK;
    if (s_conn_write(c, c->obuf, len) != REDIS_OK)
        return REDIS_ERR;
    sdsclear(c->obuf);
    return REDIS_OK;
}

static ml4t_err_t s_conn_send(s_conn_t *conn, int argc, const char **argv, const size_t *lens)
{
    if (!conn->c)
        return ML4T_EIO;
    if (redisAppendCommandArgv(conn->c, argc, argv, lens) != REDIS_OK ||
        s_conn_flush(conn) != REDIS_OK) {
        s_conn_drop(conn, conn->c->errstr[0] ? conn->c->errstr : "write failed");
        return ML4T_EIO;
    }
    return ML4T_OK;
}

/* ---------------------------------------------------------------- pipeline */

static bool s_rec_reserve(s_rec_t *rec, size_t need)
{
    if (need <= rec->cap)
        return true;
    size_t cap = rec->cap ? 2 * rec->cap : 256;
    while (cap < need)
        cap *= 2;
    char *grown = realloc(rec->buf, cap);
    if (!grown)
        return false;
    rec->buf = grown;
    rec->cap = cap;
    return true;
}

/* The command in RESP (what redisFormatCommandArgv writes), into the record's
   own buffer so that the hot path allocates nothing after warm-up. */
static bool s_rec_format(s_rec_t *rec, int argc, const char **argv, const size_t *lens)
{
    size_t need = 16;
    for (int i = 0; i < argc; i++)
        need += lens[i] + 26; /* "$" <= 20 digits "\r\n" ... "\r\n" */
    if (!s_rec_reserve(rec, need))
        return false;
    char *p = rec->buf, *end = rec->buf + rec->cap;
    p += snprintf(p, (size_t)(end - p), "*%d\r\n", argc);
    rec->args_off = 0;
    for (int i = 0; i < argc; i++) {
        p += snprintf(p, (size_t)(end - p), "$%zu\r\n", lens[i]);
        memcpy(p, argv[i], lens[i]);
        p += lens[i];
        *p++ = '\r';
        *p++ = '\n';
        if (i == 1)
            rec->args_off = (size_t)(p - rec->buf);
    }
    rec->len = (size_t)(p - rec->buf);
    rec->argc = argc;
    return true;
}

/* Replace the first two arguments (EVALSHA <sha>) with EVAL <script>. */
static bool s_rec_to_eval(s_rec_t *rec, const char *script, size_t script_len)
{
    char head[64];
    int h = snprintf(head, sizeof head, "*%d\r\n$4\r\nEVAL\r\n$%zu\r\n", rec->argc, script_len);
    size_t rest = rec->len - rec->args_off;
    size_t len = (size_t)h + script_len + 2 + rest;
    char *buf = malloc(len > rec->cap ? len : rec->cap); /* rare: after a script cache flush */
    if (!buf)
        return false;
    memcpy(buf, head, (size_t)h);
    memcpy(buf + h, script, script_len);
    memcpy(buf + h + script_len, "\r\n", 2);
    memcpy(buf + h + script_len + 2, rec->buf + rec->args_off, rest);
    free(rec->buf);
    rec->buf = buf;
    rec->cap = len > rec->cap ? len : rec->cap;
    rec->len = len;
    rec->args_off = (size_t)h + script_len + 2;
    return true;
}

/* Most commands one s_pipe_push writes with one sendmsg. */
#define S_IOV_MAX 64

/* Write the commands not written yet on this connection ([live, n) of the
   ring), straight from their records, as few system calls as it takes.
   Failing, the connection is dropped and the ring keeps them all for the
   next one. */
static ml4t_err_t s_pipe_push(s_conn_t *conn)
{
    if (conn->live >= conn->n)
        return ML4T_OK;
    if (!conn->c)
        return ML4T_EIO;
    /* hiredis's own buffer is empty between calls: flushed, it costs nothing */
    int ok = s_conn_flush(conn);
    while (ok == REDIS_OK && conn->live < conn->n) {
        struct iovec iov[S_IOV_MAX];
        int k = 0;
        size_t i = conn->live;
        for (; i < conn->n && k < S_IOV_MAX; i++, k++) {
            const s_rec_t *rec = &conn->recs[(conn->head + i) % conn->ring];
            iov[k].iov_base = rec->buf;
            iov[k].iov_len = rec->len;
        }
        ok = s_conn_writev(conn->c, iov, k, &conn->health->writes);
        if (ok == REDIS_OK)
            conn->live = i;
    }
    if (ok != REDIS_OK) {
        s_conn_drop(conn, conn->c->errstr[0] ? conn->c->errstr : "write failed");
        return ML4T_EIO;
    }
    return ML4T_OK;
}

/* A new connection writes again, in order, every command still unanswered. */
static ml4t_err_t s_pipe_replay(s_conn_t *conn)
{
    for (size_t i = 0; i < conn->n; i++) {
        const s_rec_t *rec = &conn->recs[(conn->head + i) % conn->ring];
        if (redisAppendFormattedCommand(conn->c, rec->buf, rec->len) != REDIS_OK)
            break;
    }
    if (conn->c->err || s_conn_flush(conn) != REDIS_OK) {
        s_conn_fail(conn, "redis", conn->c->errstr[0] ? conn->c->errstr : "write failed");
        return ML4T_EIO;
    }
    conn->live = conn->n;
    return ML4T_OK;
}

/* Error replies that mean "not now" rather than "never" (a server loading
   its AOF after a restart, a long script, out of memory, a replica that
   cannot take writes yet). */
static bool s_reply_transient(const redisReply *r)
{
    static const char *const words[] = {"LOADING",    "BUSY",        "TRYAGAIN",
                                        "MASTERDOWN", "CLUSTERDOWN", "NOREPLICAS",
                                        "OOM",        "MISCONF",     "READONLY"};
    if (r->type != REDIS_REPLY_ERROR)
        return false;
    size_t n = strcspn(r->str, " ");
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i]) == n && strncmp(r->str, words[i], n) == 0)
            return true;
    return false;
}

/* r answers the oldest command: the owner takes it. An error reply counts
   as a dropped frame here, except at depth 0, where the caller is waiting
   for this very reply and reports it itself. A transient error keeps the
   command: the connection is closed as if it had broken, and the next one,
   after the backoff, writes it again with everything after it. */
static void s_pipe_take(s_conn_t *conn, redisReply *r)
{
    if (s_reply_transient(r)) {
        ml4t_error_set(&conn->health->last_error, ML4T_EIO, "redis", "%s (sent again after %d ms)",
                       r->str, conn->backoff_ms);
        freeReplyObject(r);
        s_conn_backoff(conn);
        return;
    }
    s_rec_t *rec = &conn->recs[conn->head];
    conn->head = (conn->head + 1) % conn->ring;
    conn->n--;
    conn->live--;
    s_verdict_t v = conn->on_reply(conn->owner, rec, r);
    freeReplyObject(r);
    if (v == S_REPLY_FAILED) {
        conn->failed++;
        if (conn->depth > 0)
            conn->health->dropped++;
    } else if (v == S_REPLY_AGAIN) {
        /* to the tail: the slot there is free (n < ring - 1), swap buffers with it */
        s_rec_t *tail = &conn->recs[(conn->head + conn->n) % conn->ring];
        s_rec_t t = *tail;
        *tail = *rec;
        *rec = t;
        conn->n++;
        /* after any not written yet; a failure keeps it for the next connection */
        s_pipe_push(conn);
    }
}

#define S_BUFFERED (-2) /* s_next_reply's deadline: what is already read, no syscall */

/* A read from the socket takes up to S_READ_MAX bytes: with a backlog, one
   read brings about ten 6.6 KB signals instead of two (hiredis's own read
   takes 16 kB). hiredis's reader is fed S_FEED_MAX bytes at a time, because
   it moves what it holds down after each reply: fed 64 kB at once, the same
   bytes would be moved once for every reply ahead of them. */
#define S_READ_MAX (64 * 1024)
#define S_FEED_MAX (16 * 1024)

/* One read, after poll() said the socket is readable (what hiredis's
   redisBufferRead does, with a larger buffer of the connection's own).
   Everything read before was fed to the reader. */
static int s_conn_fill(s_conn_t *conn)
{
    redisContext *c = conn->c;
    if (!conn->rbuf && !(conn->rbuf = malloc(S_READ_MAX))) {
        s_conn_error(c, REDIS_ERR_OOM, "Out of memory");
        return REDIS_ERR;
    }
    ssize_t n = recv(c->fd, conn->rbuf, S_READ_MAX, 0);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return REDIS_OK; /* nothing after all: poll again */
        s_conn_error(c, REDIS_ERR_IO, strerror(errno));
        return REDIS_ERR;
    }
    if (n == 0) {
        s_conn_error(c, REDIS_ERR_EOF, "Server closed the connection");
        return REDIS_ERR;
    }
    conn->rpos = 0;
    conn->rlen = (size_t)n;
    return REDIS_OK;
}

/* The next S_FEED_MAX bytes of what was read, to hiredis's reader. */
static int s_conn_feed(s_conn_t *conn)
{
    size_t n = conn->rlen - conn->rpos;
    if (n > S_FEED_MAX)
        n = S_FEED_MAX;
    if (redisReaderFeed(conn->c->reader, conn->rbuf + conn->rpos, n) != REDIS_OK) {
        s_conn_error(conn->c, REDIS_ERR_OOM, "Out of memory");
        return REDIS_ERR;
    }
    conn->rpos += n;
    return REDIS_OK;
}

/* One reply: what was already read, else what the socket brings before
   deadline (ms on s_now_ms's clock; -1: no limit; now: no waiting;
   S_BUFFERED: not even a poll). ML4T_OK with *reply, ML4T_ETIMEOUT, or
   ML4T_EIO with the connection dropped. A poll that finds Redis has closed
   its end (data may still be there to read) sets conn->hup. */
static ml4t_err_t s_next_reply(s_conn_t *conn, void **reply, int64_t deadline)
{
    for (;;) {
        if (!conn->c)
            return ML4T_EIO;
        *reply = NULL;
        if (redisGetReplyFromReader(conn->c, reply) != REDIS_OK) {
            s_conn_drop(conn, conn->c->errstr);
            return ML4T_EIO;
        }
        if (*reply)
            return ML4T_OK;
        if (conn->rpos < conn->rlen) {
            if (s_conn_feed(conn) != REDIS_OK) {
                s_conn_drop(conn, conn->c->errstr);
                return ML4T_EIO;
            }
            continue;
        }
        if (deadline == S_BUFFERED)
            return ML4T_ETIMEOUT;
        struct pollfd pfd = {conn->c->fd, POLLIN | POLLRDHUP, 0};
        int n = poll(&pfd, 1, (int)s_left_ms(deadline));
        if (n == 0)
            return ML4T_ETIMEOUT;
        if (n < 0)
            continue; /* EINTR */
        if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))
            conn->hup = true;
        if (s_conn_fill(conn) != REDIS_OK) {
            s_conn_drop(conn, conn->c->errstr);
            return ML4T_EIO;
        }
    }
}

/* Take the replies that have arrived; with wait_ms != 0 wait that long
   (-1 = forever) for the first. One poll and one read bring what Redis has
   sent; what hiredis then holds is taken without asking the socket again
   (more that came meanwhile waits for the next call), unless Redis closed
   its end: then the socket is read to its end, so that every reply it sent
   is taken before the link is dropped. ETIMEOUT when none came, EIO when the
   connection broke (the unanswered commands stay in the ring). */
static ml4t_err_t s_pipe_read(s_conn_t *conn, int64_t wait_ms)
{
    int64_t deadline = wait_ms < 0 ? -1 : s_now_ms() + wait_ms;
    bool got = false;
    conn->hup = false;
    for (;;) {
        void *r = NULL;
        int64_t until = !got ? deadline : conn->hup ? s_now_ms() : S_BUFFERED;
        ml4t_err_t rc = s_next_reply(conn, &r, until);
        if (rc == ML4T_ETIMEOUT)
            return got ? ML4T_OK : ML4T_ETIMEOUT;
        if (rc != ML4T_OK)
            return rc;
        if (conn->live == 0) {
            freeReplyObject(r);
            s_conn_drop(conn, "a reply to no command");
            return ML4T_EIO;
        }
        conn->heard = true;
        s_pipe_take(conn, r);
        got = true;
    }
}

/* Without waiting: take what has arrived, and notice a closed connection. */
static void s_pipe_poll(s_conn_t *conn)
{
    if (conn->c && conn->recs)
        s_pipe_read(conn, 0);
}

/* Wait until at most `keep` commands are unanswered; each reply may take
   io_timeout_ms, past which the connection is dropped (EIO). */
static ml4t_err_t s_pipe_wait(s_conn_t *conn, size_t keep)
{
    if (conn->n > keep && s_pipe_push(conn) != ML4T_OK)
        return ML4T_EIO;
    while (conn->n > keep) {
        ml4t_err_t rc = s_pipe_read(conn, conn->cfg->redis.io_timeout_ms);
        if (rc == ML4T_ETIMEOUT) {
            s_conn_drop(conn, "no reply within redis.io_timeout_ms");
            return ML4T_EIO;
        }
        if (rc != ML4T_OK)
            return rc;
    }
    return ML4T_OK;
}

/* One reply within timeout_ms (-1 = forever), on a connection with nothing
   pipelined. ETIMEOUT leaves the context usable. */
static ml4t_err_t s_conn_read(s_conn_t *conn, redisReply **reply, int64_t timeout_ms)
{
    void *r = NULL;
    ml4t_err_t rc = s_next_reply(conn, &r, timeout_ms < 0 ? -1 : s_now_ms() + timeout_ms);
    if (rc == ML4T_OK) {
        conn->heard = true;
        *reply = r;
    }
    return rc;
}

/* A synchronous command, after every pipelined reply ahead of it. A reply
   not back within io_timeout_ms leaves the connection out of step with its
   replies, so it is dropped. */
static ml4t_err_t s_conn_cmd(s_conn_t *conn, int argc, const char **argv, const size_t *lens,
                             redisReply **reply)
{
    /* live == 0: nothing written on this connection yet (AUTH before the
       replay, or every command not written yet: they follow this one) */
    ml4t_err_t rc = ML4T_OK;
    if (conn->live > 0)
        rc = s_pipe_push(conn) == ML4T_OK ? s_pipe_wait(conn, 0) : ML4T_EIO;
    if (rc == ML4T_OK)
        rc = s_conn_send(conn, argc, argv, lens);
    if (rc == ML4T_OK)
        rc = s_conn_read(conn, reply, conn->cfg->redis.io_timeout_ms);
    if (rc == ML4T_ETIMEOUT) {
        s_conn_drop(conn, "no reply within redis.io_timeout_ms");
        rc = ML4T_EIO;
    }
    return rc;
}

static ml4t_err_t s_conn_cmdv(s_conn_t *conn, redisReply **reply, int argc, const char **argv)
{
    size_t lens[64];
    assert(argc <= 64);
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return s_conn_cmd(conn, argc, argv, lens, reply);
}

static ml4t_err_t s_conn_auth(s_conn_t *conn)
{
    const ml4t_transport_config_t *cfg = conn->cfg;
    if (cfg->redis.password[0] == '\0')
        return ML4T_OK;
    /* hiredis 0.14 has no redisOptions: an ACL user is just AUTH's first argument */
    const char *argv[3] = {"AUTH", cfg->redis.username, cfg->redis.password};
    int argc = 3;
    if (cfg->redis.username[0] == '\0') {
        argv[1] = cfg->redis.password;
        argc = 2;
    }
    redisReply *r = NULL;
    ml4t_err_t rc = s_conn_cmdv(conn, &r, argc, argv);
    if (rc == ML4T_OK && r->type == REDIS_REPLY_ERROR) {
        ml4t_error_set(&conn->health->last_error, ML4T_EINVAL, "redis.password", "AUTH: %s",
                       r->str);
        rc = ML4T_EINVAL;
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

/* Connected now, or ML4T_EIO (and the time of the next attempt is set). A
   new connection carries the commands the last one left unanswered. */
static ml4t_err_t s_conn_ensure(s_conn_t *conn)
{
    if (conn->c)
        return ML4T_OK;
    if (s_now_ms() < conn->next_attempt_ms)
        return ML4T_EIO;
    int ms = conn->cfg->redis.connect_timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    conn->c = redisConnectWithTimeout(conn->cfg->redis.host, conn->cfg->redis.port, tv);
    if (!conn->c || conn->c->err) {
        s_conn_fail(conn, "redis.host", conn->c ? conn->c->errstr : "out of memory");
        return ML4T_EIO;
    }
    /* a write Redis does not take within io_timeout_ms fails instead of blocking */
    ms = conn->cfg->redis.io_timeout_ms;
    struct timeval snd = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(conn->c->fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof snd);
    conn->live = 0;
    conn->rpos = conn->rlen = 0;
    conn->heard = false;
    if (s_conn_auth(conn) != ML4T_OK) {
        s_conn_backoff(conn); /* a refused AUTH is retried too: the password may be fixed */
        return ML4T_EIO;
    }
    if (conn->n > 0 && s_pipe_replay(conn) != ML4T_OK)
        return ML4T_EIO;
    conn->backoff_ms = conn->cfg->redis.backoff_min_ms;
    if (conn->ever_connected)
        conn->health->reconnects++;
    conn->ever_connected = true;
    conn->fresh = true;
    return ML4T_OK;
}

/* The slot for one more command: connected, below the depth (waiting for
   replies at it). NULL when Redis is away; last_error says why. look: take
   the replies that have arrived first, which also notices a connection the
   server closed (a system call; a command that will wait in the ring for
   more, s_pipe_commit's defer, skips it). */
static s_rec_t *s_pipe_slot(s_conn_t *conn, bool look)
{
    if (look)
        s_pipe_poll(conn);
    if (s_conn_ensure(conn) != ML4T_OK)
        return NULL;
    size_t cap = conn->depth ? conn->depth : 1;
    if (conn->n >= cap && s_pipe_wait(conn, cap - 1) != ML4T_OK)
        return NULL;
    return &conn->recs[(conn->head + conn->n) % conn->ring];
}

/* Commands that wait in the ring for one write together (s_pipe_commit's
   defer): at most this many. */
#define S_BATCH_MAX 16

/* Accept the command formatted in the slot. ML4T_OK: it is Redis's to answer
   (depth 0: it was answered without an error). ML4T_EIO: not written (the
   caller counts the drop), or answered with an error at depth 0.

   defer: the caller has more input already read (no system call between it
   and the next frame), so the command waits in the ring and goes out with
   the next ones in one write: with a backlog, one sendmsg for up to
   S_BATCH_MAX answers instead of one each. Whatever waits is written by the
   next commit that does not defer, the next receive that needs the socket
   (s_pipe_push), a synchronous command, or close. */
static ml4t_err_t s_pipe_commit(s_conn_t *conn, bool defer)
{
    conn->n++;
    if (defer && conn->depth > 0 && conn->n - conn->live < S_BATCH_MAX)
        return ML4T_OK;
    if (s_pipe_push(conn) != ML4T_OK) {
        conn->n--; /* not accepted; those before it wait for the next connection */
        return ML4T_EIO;
    }
    if (conn->depth > 0)
        return ML4T_OK;
    uint64_t failed = conn->failed;
    if (s_pipe_wait(conn, 0) != ML4T_OK) {
        conn->n = 0; /* synchronous: the caller was told, it retries */
        return ML4T_EIO;
    }
    return conn->failed == failed ? ML4T_OK : ML4T_EIO;
}

/* Take the replies that have arrived, and connect again when an attempt is
   due (unanswered commands then go out again). Never waits for Redis. */
static void s_pipe_pump(s_conn_t *conn)
{
    s_pipe_poll(conn);
    if (!conn->c)
        s_conn_ensure(conn);
}

/* Before the connection is freed: every accepted command written and
   answered (each reply within io_timeout_ms); one connection attempt when
   the link is down. */
static void s_pipe_finish(s_conn_t *conn)
{
    if (!conn->recs || conn->n == 0)
        return;
    if (!conn->c) {
        conn->next_attempt_ms = 0;
        s_conn_ensure(conn);
    }
    if (conn->c)
        s_pipe_wait(conn, 0);
}

/* Milliseconds until the connection may be tried again (0 = now). */
static int64_t s_conn_wait_ms(const s_conn_t *conn)
{
    int64_t d = conn->next_attempt_ms - s_now_ms();
    return d > 0 ? d : 0;
}

/* Wait for the next reconnect attempt, within the deadline. false when out of time. */
static bool s_backoff_wait(const s_conn_t *conn, int64_t deadline)
{
    int64_t left = s_left_ms(deadline);
    if (left == 0)
        return false;
    int64_t wait = s_conn_wait_ms(conn);
    s_sleep_ms(left < 0 || wait < left ? wait : left);
    return true;
}

/* A frame not handed over: counted, err says why. */
static ml4t_err_t s_dropped(ml4t_transport_health_t *health, ml4t_error_t *err, const char *what)
{
    health->dropped++;
    return ml4t_error_set(err, ML4T_EIO, "redis", "%s: %s", what, health->last_error.msg);
}

static ml4t_err_t s_check_config(const ml4t_transport_config_t *cfg, ml4t_error_t *err)
{
    if (cfg->redis.host[0] == '\0')
        return ml4t_error_set(err, ML4T_EINVAL, "redis.host", "redis.host is empty");
    if (cfg->redis.port < 1 || cfg->redis.port > 65535)
        return ml4t_error_set(err, ML4T_ERANGE, "redis.port", "redis.port=%d: not in [1, 65535]",
                              cfg->redis.port);
    if (cfg->redis.backoff_min_ms < 1 || cfg->redis.backoff_max_ms < cfg->redis.backoff_min_ms)
        return ml4t_error_set(
            err, ML4T_ERANGE, "redis.backoff_max_ms",
            "redis.backoff_min_ms=%d, redis.backoff_max_ms=%d: need 1 <= min <= max",
            cfg->redis.backoff_min_ms, cfg->redis.backoff_max_ms);
    if (cfg->redis.io_timeout_ms < 1 || cfg->redis.connect_timeout_ms < 1)
        return ml4t_error_set(err, ML4T_ERANGE, "redis.io_timeout_ms",
                              "redis.io_timeout_ms and redis.connect_timeout_ms must be >= 1");
    if (cfg->redis.pipeline < -1 || cfg->redis.pipeline > 65536)
        return ml4t_error_set(err, ML4T_ERANGE, "redis.pipeline",
                              "redis.pipeline=%d: not in [-1, 65536]", cfg->redis.pipeline);
    return ML4T_OK;
}

static void s_fill_frame(ml4t_frame_t *frame, const redisReply *topic, const redisReply *payload)
{
    frame->topic = topic->str;
    frame->topic_len = topic->len;
    frame->payload = payload->str;
    frame->payload_len = payload->len;
    frame->id[0] = '\0';
    frame->source = NULL;
    frame->origin = 0;
}

/* ---------------------------------------------------------------- pub/sub */

typedef struct {
    ml4t_transport_config_t cfg;
    ml4t_transport_health_t health;
    s_conn_t sub, pub;
    char **patterns; /* escaped prefix + "*", re-sent after each reconnect */
    size_t n_patterns;
    redisReply *last;   /* backs the last frame */
    redisReply *peeked; /* the next push, already read: recv returns it first */
} s_pubsub_t;

static void s_pubsub_close(void **state)
{
    if (!state || !*state)
        return;
    s_pubsub_t *self = *state;
    if (self->last)
        freeReplyObject(self->last);
    if (self->peeked)
        freeReplyObject(self->peeked);
    s_pipe_finish(&self->pub); /* nothing accepted is left unwritten or unanswered */
    s_conn_free(&self->sub);
    s_conn_free(&self->pub);
    for (size_t i = 0; i < self->n_patterns; i++)
        free(self->patterns[i]);
    free(self->patterns);
    free(self);
    *state = NULL;
}

/* A PUBLISH answered: the number of receivers, or an error. */
static s_verdict_t s_pubsub_on_reply(void *owner, s_rec_t *rec, const redisReply *r)
{
    s_pubsub_t *self = owner;
    (void)rec;
    if (r->type == REDIS_REPLY_ERROR) {
        ml4t_error_set(&self->health.last_error, ML4T_EIO, "publish", "PUBLISH: %s", r->str);
        return S_REPLY_FAILED;
    }
    self->health.sent++;
    return S_REPLY_OK;
}

static ml4t_err_t s_pubsub_init(void **state, const ml4t_transport_config_t *cfg, ml4t_error_t *err)
{
    ml4t_err_t rc = s_check_config(cfg, err);
    if (rc != ML4T_OK)
        return rc;
    s_pubsub_t *self = calloc(1, sizeof *self);
    if (!self)
        return ml4t_error_set(err, ML4T_ENOMEM, "redis", "cannot allocate the Redis transport");
    self->cfg = *cfg;
    self->health.active = -1;
    s_conn_init(&self->sub, &self->cfg, &self->health);
    s_conn_init(&self->pub, &self->cfg, &self->health);
    if (!s_conn_pipe_init(&self->pub, s_pubsub_on_reply, self, S_PUBSUB_DEPTH)) {
        void *p = self;
        s_pubsub_close(&p);
        return ml4t_error_set(err, ML4T_ENOMEM, "redis.pipeline",
                              "cannot allocate a pipeline of %d commands", cfg->redis.pipeline);
    }
    s_conn_ensure(&self->sub); /* Redis being down now is not an error: we retry */
    s_conn_ensure(&self->pub);
    *state = self;
    return ML4T_OK;
}

static ml4t_err_t s_psubscribe(s_pubsub_t *self, const char *pattern)
{
    const char *argv[2] = {"PSUBSCRIBE", pattern};
    size_t lens[2] = {10, strlen(pattern)};
    return s_conn_send(&self->sub, 2, argv, lens); /* the confirmation is skipped by recv */
}

static ml4t_err_t s_pubsub_subscribe(void *state, const char *prefix, ml4t_error_t *err)
{
    s_pubsub_t *self = state;
    size_t n = strlen(prefix);
    char *pattern = malloc(2 * n + 2);
    char **grown = realloc(self->patterns, (self->n_patterns + 1) * sizeof *grown);
    if (!pattern || !grown) {
        free(pattern);
        if (grown)
            self->patterns = grown;
        return ml4t_error_set(err, ML4T_ENOMEM, "subscribe", "cannot store a subscription");
    }
    self->patterns = grown;
    char *p = pattern;
    for (size_t i = 0; i < n; i++) {
        if (strchr("*?[]\\", prefix[i])) /* a prefix, not a glob */
            *p++ = '\\';
        *p++ = prefix[i];
    }
    *p++ = '*';
    *p = '\0';
    self->patterns[self->n_patterns++] = pattern;
    if (self->sub.c)
        s_psubscribe(self, pattern);
    return ML4T_OK;
}

/* Whether the next push from Redis is already read (nothing to wait for,
   no system call): it is parsed now and kept for recv. */
static bool s_pubsub_peek(s_pubsub_t *self)
{
    if (self->peeked)
        return true;
    void *r = NULL;
    if (!self->sub.c || s_next_reply(&self->sub, &r, S_BUFFERED) != ML4T_OK)
        return false;
    self->sub.heard = true;
    self->peeked = r;
    return true;
}

static ml4t_err_t s_pubsub_publish(void *state, const char *topic, const void *data, size_t len,
                                   ml4t_error_t *err)
{
    s_pubsub_t *self = state;
    const char *argv[3] = {"PUBLISH", topic, data};
    size_t lens[3] = {7, strlen(topic), len};
    /* the next frame already read: this goes out with its answer */
    bool defer = s_pubsub_peek(self);
    s_rec_t *rec = s_pipe_slot(&self->pub, !defer);
    if (!rec)
        return s_dropped(&self->health, err, "frame dropped");
    if (!s_rec_format(rec, 3, argv, lens)) {
        ml4t_error_set(&self->health.last_error, ML4T_ENOMEM, "publish",
                       "cannot buffer a frame of %zu bytes", len);
        return s_dropped(&self->health, err, "frame dropped");
    }
    if (s_pipe_commit(&self->pub, defer) != ML4T_OK)
        return s_dropped(&self->health, err, "frame dropped");
    return ML4T_OK; /* counted in sent when Redis answers */
}

/* A pub/sub push that carries a message: pmessage (4 parts) or message (3). */
static bool s_pubsub_take(s_pubsub_t *self, redisReply *r, ml4t_frame_t *frame)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return false;
    const char *kind = r->element[0]->str;
    size_t t = 0;
    if (strcmp(kind, "pmessage") == 0 && r->elements == 4)
        t = 2;
    else if (strcmp(kind, "message") == 0 && r->elements == 3)
        t = 1;
    if (t == 0 || r->element[t]->type != REDIS_REPLY_STRING ||
        r->element[t + 1]->type != REDIS_REPLY_STRING)
        return false;
    s_fill_frame(frame, r->element[t], r->element[t + 1]);
    self->last = r;
    self->health.received++;
    return true;
}

static ml4t_err_t s_pubsub_recv(void *state, ml4t_frame_t *frame, int timeout_ms, ml4t_error_t *err)
{
    s_pubsub_t *self = state;
    if (self->last) {
        freeReplyObject(self->last);
        self->last = NULL;
    }
    /* What is already read comes first, without a system call (publishes
       meanwhile wait in the pipeline: s_pipe_commit's defer). */
    while (s_pubsub_peek(self)) {
        redisReply *r = self->peeked;
        self->peeked = NULL;
        if (s_pubsub_take(self, r, frame))
            return ML4T_OK;
        freeReplyObject(r); /* psubscribe confirmations */
    }
    s_pipe_push(&self->pub); /* before waiting on the socket: what waited goes out */
    s_pipe_pump(&self->pub);
    int64_t deadline = timeout_ms < 0 ? -1 : s_now_ms() + timeout_ms;
    for (;;) {
        if (s_conn_ensure(&self->sub) != ML4T_OK) {
            if (!s_backoff_wait(&self->sub, deadline))
                break;
            continue;
        }
        if (self->sub.fresh) {
            self->sub.fresh = false;
            for (size_t i = 0; i < self->n_patterns && self->sub.c; i++)
                s_psubscribe(self, self->patterns[i]);
            continue;
        }
        redisReply *r = NULL;
        ml4t_err_t rc = s_conn_read(&self->sub, &r, s_left_ms(deadline));
        if (rc == ML4T_ETIMEOUT)
            break;
        if (rc != ML4T_OK)
            continue;
        if (s_pubsub_take(self, r, frame))
            return ML4T_OK;
        freeReplyObject(r); /* psubscribe confirmations */
    }
    return ml4t_error_set(err, ML4T_ETIMEOUT, "recv", "no frame within %d ms", timeout_ms);
}

static ml4t_err_t s_pubsub_health(void *state, ml4t_transport_health_t *out)
{
    s_pubsub_t *self = state;
    s_pipe_push(&self->pub);
    s_pipe_poll(&self->pub);
    self->health.connected = self->sub.c != NULL && self->pub.c != NULL;
    self->health.pipelined = (uint32_t)self->pub.n;
    *out = self->health;
    return ML4T_OK;
}

static ml4t_err_t s_redis_endpoint(const ml4t_transport_config_t *cfg, char *buf, size_t size)
{
    snprintf(buf, size, "redis://%s:%d", cfg->redis.host, cfg->redis.port);
    return ML4T_OK;
}

static ml4t_err_t s_pubsub_endpoint(void *state, ml4t_transport_dir_t dir, char *buf, size_t size)
{
    (void)dir;
    return s_redis_endpoint(&((s_pubsub_t *)state)->cfg, buf, size);
}

const ml4t_transport_ops_t ml4t_transport_redis_pubsub = {
    .abi_version = ML4T_TRANSPORT_ABI_VERSION,
    .name = "redis-pubsub",
    .init = s_pubsub_init,
    .close = s_pubsub_close,
    .publish = s_pubsub_publish,
    .subscribe = s_pubsub_subscribe,
    .recv = s_pubsub_recv,
    .ack = NULL,
    .health = s_pubsub_health,
    .endpoint = s_pubsub_endpoint,
};

/* ---------------------------------------------------------------- Streams */

#define S_STREAMS_MAX 16

/* ANSWERED: acked inside publish_reply's script, so ack has nothing left to send */
enum { S_SEEN_NONE = 0, S_SEEN_DELIVERED = 1, S_SEEN_ACKED = 2, S_SEEN_ANSWERED = 3 };

typedef struct {
    uint64_t ms, seq;
    uint32_t stream;
    uint32_t state; /* S_SEEN_*; 0 marks an empty slot */
} s_id_t;

/* The last `window` delivered ids: a ring gives the eviction order, an
   open-addressing table (linear probing, backward-shift deletion) the lookup. */
typedef struct {
    s_id_t *slots;
    size_t mask;
    s_id_t *ring;
    size_t window, head, n;
} s_seen_t;

static size_t s_id_hash(const s_id_t *k)
{
    uint64_t h = k->ms * 0x9E3779B97F4A7C15ull ^ (k->seq + k->stream) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 31;
    return (size_t)(h * 0x94D049BB133111EBull >> 17);
}

static bool s_id_eq(const s_id_t *a, const s_id_t *b)
{
    return a->ms == b->ms && a->seq == b->seq && a->stream == b->stream;
}

static bool s_seen_init(s_seen_t *seen, size_t window)
{
    memset(seen, 0, sizeof *seen);
    if (window == 0)
        return true;
    size_t cap = 2;
    while (cap < 2 * window)
        cap *= 2;
    seen->slots = calloc(cap, sizeof *seen->slots);
    seen->ring = calloc(window, sizeof *seen->ring);
    seen->mask = cap - 1;
    seen->window = window;
    return seen->slots && seen->ring;
}

static void s_seen_destroy(s_seen_t *seen)
{
    free(seen->slots);
    free(seen->ring);
}

static s_id_t *s_seen_find(s_seen_t *seen, const s_id_t *key)
{
    if (!seen->window)
        return NULL;
    for (size_t i = s_id_hash(key) & seen->mask;; i = (i + 1) & seen->mask) {
        if (seen->slots[i].state == S_SEEN_NONE)
            return NULL;
        if (s_id_eq(&seen->slots[i], key))
            return &seen->slots[i];
    }
}

static void s_seen_delete(s_seen_t *seen, s_id_t *slot)
{
    size_t i = (size_t)(slot - seen->slots);
    for (;;) {
        seen->slots[i].state = S_SEEN_NONE;
        size_t j = i;
        for (;;) {
            j = (j + 1) & seen->mask;
            if (seen->slots[j].state == S_SEEN_NONE)
                return;
            size_t k = s_id_hash(&seen->slots[j]) & seen->mask;
            bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays)
                break;
        }
        seen->slots[i] = seen->slots[j];
        i = j;
    }
}

static void s_seen_put(s_seen_t *seen, const s_id_t *key, uint32_t state)
{
    if (!seen->window)
        return;
    s_id_t *slot = s_seen_find(seen, key);
    if (slot) {
        slot->state = state;
        return;
    }
    if (seen->n == seen->window) {
        s_id_t *old = s_seen_find(seen, &seen->ring[seen->head]);
        if (old)
            s_seen_delete(seen, old);
        seen->head = (seen->head + 1) % seen->window;
        seen->n--;
    }
    seen->ring[(seen->head + seen->n++) % seen->window] = *key;
    size_t i = s_id_hash(key) & seen->mask;
    while (seen->slots[i].state != S_SEEN_NONE)
        i = (i + 1) & seen->mask;
    seen->slots[i] = *key;
    seen->slots[i].state = state;
}

static bool s_id_parse(const char *id, uint32_t stream, s_id_t *out)
{
    char *end = NULL;
    out->ms = strtoull(id, &end, 10);
    if (end == id || *end != '-')
        return false;
    const char *p = end + 1;
    out->seq = strtoull(p, &end, 10);
    out->stream = stream;
    out->state = S_SEEN_NONE;
    return end != p && *end == '\0';
}

typedef struct {
    char key[ML4T_TRANSPORT_NAME_MAX];
    char cursor[ML4T_TRANSPORT_ID_MAX]; /* where the re-read of our pending entries stands */
    bool need_pending;
} s_stream_t;

typedef struct {
    uint32_t stream;
    char id[ML4T_TRANSPORT_ID_MAX];
} s_ack_t;

typedef struct {
    uint32_t stream;
    const redisReply *entry; /* [id, [field, value, ...]] inside batch */
} s_item_t;

typedef struct {
    ml4t_transport_config_t cfg;
    ml4t_transport_health_t health;
    s_conn_t rd;  /* XREADGROUP ... BLOCK only */
    s_conn_t cmd; /* everything else */
    s_stream_t streams[S_STREAMS_MAX];
    size_t n_streams;
    bool groups_ready;
    bool read_inflight;
    redisReply *batch; /* backs the frames of the current batch */
    s_item_t *items;
    size_t n_items, pos, cap_items;
    s_seen_t seen;
    s_ack_t *acks; /* acks to send (taken while Redis was away, or re-acks) */
    size_t n_acks, cap_acks;
    int64_t next_claim_ms;
    char reply_sha[48]; /* SCRIPT LOAD's answer for S_REPLY_LUA, "" until known */
} s_streams_t;

static void s_batch_free(s_streams_t *self)
{
    if (self->batch)
        freeReplyObject(self->batch);
    self->batch = NULL;
    self->n_items = self->pos = 0;
}

static ml4t_err_t s_acks_flush(s_streams_t *self, bool defer);

static void s_streams_close(void **state)
{
    if (!state || !*state)
        return;
    s_streams_t *self = *state;
    s_batch_free(self);
    if (self->cmd.recs && (self->n_acks > 0 || self->cmd.n > 0)) {
        /* what was accepted goes out, answered, before the connection is freed */
        self->cmd.next_attempt_ms = 0;
        s_acks_flush(self, false);
        s_pipe_finish(&self->cmd);
    }
    s_conn_free(&self->rd);
    s_conn_free(&self->cmd);
    s_seen_destroy(&self->seen);
    free(self->items);
    free(self->acks);
    free(self);
    *state = NULL;
}

static ml4t_err_t s_streams_check(ml4t_transport_config_t *cfg, ml4t_error_t *err)
{
    ml4t_err_t rc = s_check_config(cfg, err);
    if (rc != ML4T_OK)
        return rc;
    if (cfg->redis.group[0] == '\0')
        return ml4t_error_set(err, ML4T_EINVAL, "redis.group", "redis.group is empty");
    if (cfg->redis.count < 1 || cfg->redis.block_ms < 1)
        return ml4t_error_set(err, ML4T_ERANGE, "redis.count",
                              "redis.count=%d and redis.block_ms=%d must be >= 1", cfg->redis.count,
                              cfg->redis.block_ms);
    if (cfg->redis.dedup_window < 0)
        return ml4t_error_set(err, ML4T_ERANGE, "redis.dedup_window",
                              "redis.dedup_window=%d: must be >= 0", cfg->redis.dedup_window);
    if (cfg->redis.consumer[0] == '\0') {
        char host[64] = "ml4t";
        gethostname(host, sizeof host - 1);
        snprintf(cfg->redis.consumer, sizeof cfg->redis.consumer, "%s-%ld", host, (long)getpid());
    }
    return ML4T_OK;
}

static s_verdict_t s_streams_on_reply(void *owner, s_rec_t *rec, const redisReply *r);

static ml4t_err_t s_streams_init(void **state, const ml4t_transport_config_t *cfg,
                                 ml4t_error_t *err)
{
    s_streams_t *self = calloc(1, sizeof *self);
    if (!self)
        return ml4t_error_set(err, ML4T_ENOMEM, "redis", "cannot allocate the Redis transport");
    self->cfg = *cfg;
    ml4t_err_t rc = s_streams_check(&self->cfg, err);
    if (rc != ML4T_OK) {
        free(self);
        return rc;
    }
    self->health.active = -1;
    s_conn_init(&self->rd, &self->cfg, &self->health);
    s_conn_init(&self->cmd, &self->cfg, &self->health);
    self->cap_items = (size_t)self->cfg.redis.count * S_STREAMS_MAX;
    self->items = calloc(self->cap_items, sizeof *self->items);
    void *p = self;
    if (!self->items || !s_seen_init(&self->seen, (size_t)self->cfg.redis.dedup_window) ||
        !s_conn_pipe_init(&self->cmd, s_streams_on_reply, self, S_STREAMS_DEPTH)) {
        s_streams_close(&p);
        return ml4t_error_set(err, ML4T_ENOMEM, "redis.dedup_window",
                              "cannot allocate the delivery window");
    }
    s_conn_ensure(&self->cmd); /* Redis being down now is not an error: we retry */
    *state = self;
    return ML4T_OK;
}

static int s_stream_index(const s_streams_t *self, const char *key)
{
    for (size_t i = 0; i < self->n_streams; i++)
        if (key == self->streams[i].key || strcmp(key, self->streams[i].key) == 0)
            return (int)i;
    return -1;
}

static ml4t_err_t s_streams_subscribe(void *state, const char *key, ml4t_error_t *err)
{
    s_streams_t *self = state;
    if (s_stream_index(self, key) >= 0)
        return ML4T_OK;
    if (self->n_streams == S_STREAMS_MAX)
        return ml4t_error_set(err, ML4T_ELIMIT, "subscribe", "more than %d streams", S_STREAMS_MAX);
    if (key[0] == '\0' || strlen(key) >= ML4T_TRANSPORT_NAME_MAX)
        return ml4t_error_set(err, ML4T_EINVAL, "subscribe", "a stream key must have 1 to %d bytes",
                              ML4T_TRANSPORT_NAME_MAX - 1);
    s_stream_t *s = &self->streams[self->n_streams++];
    snprintf(s->key, sizeof s->key, "%s", key);
    snprintf(s->cursor, sizeof s->cursor, "0");
    s->need_pending = true;
    self->groups_ready = false;
    return ML4T_OK;
}

/* What a pipelined command of the command connection is, for its reply. */
enum { S_REC_XADD = 0, S_REC_ANSWER = 1, S_REC_XACK = 2 };

/* Format argv into a slot of the command connection and write it; the frame
   is dropped (counted, err filled) when that cannot be done now. */
/* Entries of the current batch not delivered yet (already read: recv takes
   the next without a system call, so a command now can wait for it). */
static bool s_batch_more(const s_streams_t *self)
{
    return self->pos < self->n_items;
}

static ml4t_err_t s_streams_send(s_streams_t *self, s_rec_t *rec, int argc, const char **argv,
                                 const size_t *lens, ml4t_error_t *err, const char *what)
{
    if (!rec)
        return s_dropped(&self->health, err, what);
    if (!s_rec_format(rec, argc, argv, lens)) {
        ml4t_error_set(&self->health.last_error, ML4T_ENOMEM, "publish",
                       "cannot buffer a command of %zu bytes", lens[argc - 1]);
        return s_dropped(&self->health, err, what);
    }
    if (s_pipe_commit(&self->cmd, s_batch_more(self)) != ML4T_OK)
        return s_dropped(&self->health, err, what);
    return ML4T_OK;
}

static ml4t_err_t s_streams_publish(void *state, const char *topic, const void *data, size_t len,
                                    ml4t_error_t *err)
{
    s_streams_t *self = state;
    const char *key = self->cfg.redis.stream_publish[0] ? self->cfg.redis.stream_publish : topic;
    char maxlen[24];
    snprintf(maxlen, sizeof maxlen, "%lld", (long long)self->cfg.redis.maxlen);
    const char *argv[10] = {"XADD", key};
    size_t lens[10] = {4, strlen(key)};
    int argc = 2;
    if (self->cfg.redis.maxlen > 0) {
        argv[argc] = "MAXLEN", lens[argc++] = 6;
        argv[argc] = "~", lens[argc++] = 1;
        argv[argc] = maxlen, lens[argc++] = strlen(maxlen);
    }
    argv[argc] = "*", lens[argc++] = 1;
    argv[argc] = "topic", lens[argc++] = 5;
    argv[argc] = topic, lens[argc++] = strlen(topic);
    argv[argc] = "payload", lens[argc++] = 7;
    argv[argc] = data, lens[argc++] = len;
    s_rec_t *rec = s_pipe_slot(&self->cmd, !s_batch_more(self));
    if (rec) {
        rec->kind = S_REC_XADD;
        snprintf(rec->key, sizeof rec->key, "%s", key);
    }
    return s_streams_send(self, rec, argc, argv, lens, err, "frame dropped");
}

static s_verdict_t s_on_xadd(s_streams_t *self, const s_rec_t *rec, const redisReply *r)
{
    if (r->type == REDIS_REPLY_STRING) {
        self->health.sent++;
        return S_REPLY_OK;
    }
    ml4t_error_set(&self->health.last_error, ML4T_EIO, "publish", "XADD %s: %s", rec->key,
                   r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    return S_REPLY_FAILED;
}

static ml4t_err_t s_ack_push(s_streams_t *self, uint32_t stream, const char *id)
{
    if (self->n_acks == self->cap_acks) {
        size_t cap = self->cap_acks ? 2 * self->cap_acks : 64;
        s_ack_t *grown = realloc(self->acks, cap * sizeof *grown);
        if (!grown)
            return ML4T_ENOMEM;
        self->acks = grown;
        self->cap_acks = cap;
    }
    s_ack_t *a = &self->acks[self->n_acks++];
    a->stream = stream;
    snprintf(a->id, sizeof a->id, "%s", id);
    return ML4T_OK;
}

/* Write queued acks into the pipeline, oldest first; stops (keeping the
   rest) when Redis is away. defer: as s_pipe_commit's. */
static ml4t_err_t s_acks_flush(s_streams_t *self, bool defer)
{
    size_t done = 0;
    ml4t_err_t rc = ML4T_OK;
    while (done < self->n_acks) {
        const s_ack_t *a = &self->acks[done];
        const char *argv[4] = {"XACK", self->streams[a->stream].key, self->cfg.redis.group, a->id};
        size_t lens[4] = {4, strlen(argv[1]), strlen(argv[2]), strlen(argv[3])};
        s_rec_t *rec = s_pipe_slot(&self->cmd, !defer);
        if (!rec || !s_rec_format(rec, 4, argv, lens)) {
            rc = ML4T_EIO;
            break;
        }
        rec->kind = S_REC_XACK;
        rec->stream = a->stream;
        snprintf(rec->id, sizeof rec->id, "%s", a->id);
        rc = s_pipe_commit(&self->cmd, defer); /* an XACK's error reply is only reported */
        if (rc != ML4T_OK)
            break; /* not written: it stays queued */
        done++;
    }
    if (done > 0 && done < self->n_acks)
        memmove(self->acks, self->acks + done, (self->n_acks - done) * sizeof *self->acks);
    self->n_acks -= done;
    return rc;
}

static s_verdict_t s_on_xack(s_streams_t *self, const s_rec_t *rec, const redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER)
        self->health.acked += (uint64_t)r->integer;
    else if (r->type == REDIS_REPLY_ERROR)
        ml4t_error_set(&self->health.last_error, ML4T_EIO, "ack", "XACK %s: %s", rec->id,
                       r->str); /* NOGROUP: the entry's delivery state is gone with it */
    return S_REPLY_OK;
}

static ml4t_err_t s_streams_ack(void *state, const ml4t_frame_t *frame, ml4t_error_t *err)
{
    s_streams_t *self = state;
    int idx = frame->source ? s_stream_index(self, frame->source) : -1;
    s_id_t key;
    if (idx < 0 || !s_id_parse(frame->id, (uint32_t)idx, &key))
        return ml4t_error_set(err, ML4T_EINVAL, "frame",
                              "not a frame of this transport (stream %s, id \"%s\")",
                              frame->source ? frame->source : "(none)", frame->id);
    const s_id_t *seen = s_seen_find(&self->seen, &key);
    if (seen && seen->state == S_SEEN_ANSWERED)
        return ML4T_OK; /* publish_reply acked it together with the answer */
    s_seen_put(&self->seen, &key, S_SEEN_ACKED);
    if (s_ack_push(self, (uint32_t)idx, frame->id) != ML4T_OK)
        return ml4t_error_set(err, ML4T_ENOMEM, "ack", "cannot queue the ack of %s", frame->id);
    /* Written at once, with whatever waited for it (an ack is the caller
       saying "done": it does not wait for the rest of the batch). Redis
       away: it waits in the backlog and goes after reconnect. */
    s_acks_flush(self, false);
    return ML4T_OK;
}

/* KEYS: marker, answer stream, request stream. ARGV: ttl_ms, group, entry id,
   maxlen ("0" = none), topic, payload. Returns {1 written | 0 answered before,
   entries acked}. The XADD comes before the SET so that an XADD refused by
   Redis leaves no marker behind (a script is not rolled back on error). */
static const char S_REPLY_LUA[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  local a = redis.pcall('XACK', KEYS[3], ARGV[2], ARGV[3])\n"
    "  return {0, type(a) == 'number' and a or 0}\n"
    "end\n"
    "if ARGV[4] ~= '0' then\n"
    "  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'topic', ARGV[5], 'payload', "
    "ARGV[6])\n"
    "else\n"
    "  redis.call('XADD', KEYS[2], '*', 'topic', ARGV[5], 'payload', ARGV[6])\n"
    "end\n"
    "redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])\n"
    "local a = redis.pcall('XACK', KEYS[3], ARGV[2], ARGV[3])\n"
    "return {1, type(a) == 'number' and a or 0}\n";

/* The script's SHA1, asked of Redis once: EVALSHA then sends 40 bytes, not
   the script. Synchronous, so it waits for the pipeline: it runs once. */
static void s_reply_sha_load(s_streams_t *self)
{
    if (self->reply_sha[0])
        return;
    redisReply *r = NULL;
    const char *argv[3] = {"SCRIPT", "LOAD", S_REPLY_LUA};
    if (s_conn_cmdv(&self->cmd, &r, 3, argv) != ML4T_OK)
        return;
    if (r->type == REDIS_REPLY_STRING && r->len < sizeof self->reply_sha)
        memcpy(self->reply_sha, r->str, r->len + 1);
    freeReplyObject(r);
}

/* The answer is pipelined: the entry counts as answered from now on (its ack
   sends nothing), unless Redis refuses the script (s_on_answer). */
static ml4t_err_t s_streams_publish_reply(void *state, const ml4t_frame_t *request,
                                          const char *topic, const void *data, size_t len,
                                          ml4t_error_t *err)
{
    s_streams_t *self = state;
    if (self->cfg.redis.answer_ttl_ms <= 0 || !request || !request->id[0] || !request->source)
        return s_streams_publish(state, topic, data, len, err); /* nothing to key it by */
    const char *key = self->cfg.redis.stream_publish[0] ? self->cfg.redis.stream_publish : topic;
    char marker[2 * ML4T_TRANSPORT_NAME_MAX + ML4T_TRANSPORT_ID_MAX + 32], ttl[16], maxlen[24];
    snprintf(marker, sizeof marker, "ml4t:answered:%s:%s:%s", self->cfg.redis.group,
             request->source, request->id);
    snprintf(ttl, sizeof ttl, "%d", self->cfg.redis.answer_ttl_ms);
    snprintf(maxlen, sizeof maxlen, "%lld",
             (long long)(self->cfg.redis.maxlen > 0 ? self->cfg.redis.maxlen : 0));
    if (s_conn_ensure(&self->cmd) == ML4T_OK)
        s_reply_sha_load(self); /* failing, the script itself goes (EVAL) */
    const char *argv[12] = {"EVALSHA",   self->reply_sha, "3",   marker,
                            key,         request->source, ttl,   self->cfg.redis.group,
                            request->id, maxlen,          topic, data};
    size_t lens[12];
    for (int i = 0; i < 11; i++)
        lens[i] = strlen(argv[i]);
    lens[11] = len;
    if (!self->reply_sha[0]) {
        argv[0] = "EVAL", lens[0] = 4;
        argv[1] = S_REPLY_LUA, lens[1] = sizeof S_REPLY_LUA - 1;
    }
    int idx = s_stream_index(self, request->source);
    s_rec_t *rec = s_pipe_slot(&self->cmd, !s_batch_more(self));
    if (rec) {
        rec->kind = S_REC_ANSWER;
        rec->stream = idx >= 0 ? (uint32_t)idx : UINT32_MAX;
        snprintf(rec->id, sizeof rec->id, "%s", request->id);
        snprintf(rec->key, sizeof rec->key, "%s", request->source);
    }
    ml4t_err_t rc = s_streams_send(self, rec, 12, argv, lens, err, "answer not written");
    s_id_t id;
    if (rc == ML4T_OK && idx >= 0 && s_id_parse(request->id, (uint32_t)idx, &id))
        s_seen_put(&self->seen, &id, S_SEEN_ANSWERED);
    return rc;
}

/* The answer script's reply. NOSCRIPT (a restarted server, SCRIPT FLUSH)
   means nothing ran: the same answer goes again as EVAL. */
static s_verdict_t s_on_answer(s_streams_t *self, s_rec_t *rec, const redisReply *r)
{
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 &&
        s_rec_to_eval(rec, S_REPLY_LUA, sizeof S_REPLY_LUA - 1))
        return S_REPLY_AGAIN;
    bool shaped = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  r->element[0]->type == REDIS_REPLY_INTEGER &&
                  r->element[1]->type == REDIS_REPLY_INTEGER;
    if (shaped) {
        if (r->element[0]->integer == 1)
            self->health.sent++;
        else
            self->health.duplicates++;
        self->health.acked += (uint64_t)r->element[1]->integer;
        return S_REPLY_OK;
    }
    ml4t_error_set(&self->health.last_error, ML4T_EIO, "publish", "answer to %s %s: %s", rec->key,
                   rec->id, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    /* not answered, so not acked: the entry stays pending, for a claim or a re-read */
    s_id_t id;
    s_id_t *seen = rec->stream != UINT32_MAX && s_id_parse(rec->id, rec->stream, &id)
                       ? s_seen_find(&self->seen, &id)
                       : NULL;
    if (seen && seen->state == S_SEEN_ANSWERED)
        seen->state = S_SEEN_DELIVERED;
    return S_REPLY_FAILED;
}

static s_verdict_t s_streams_on_reply(void *owner, s_rec_t *rec, const redisReply *r)
{
    s_streams_t *self = owner;
    switch (rec->kind) {
    case S_REC_ANSWER:
        return s_on_answer(self, rec, r);
    case S_REC_XACK:
        return s_on_xack(self, rec, r);
    default:
        return s_on_xadd(self, rec, r);
    }
}

/* Index the entries of an XREADGROUP reply ([[key, [entry...]]...]) or, with
   stream >= 0, of an XCLAIM reply ([entry...]). Takes ownership of r. */
static size_t s_batch_load(s_streams_t *self, redisReply *r, int stream)
{
    s_batch_free(self);
    self->batch = r;
    if (r->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (stream >= 0) {
            if (self->n_items < self->cap_items)
                self->items[self->n_items++] = (s_item_t){(uint32_t)stream, e};
            continue;
        }
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        int idx = s_stream_index(self, e->element[0]->str);
        for (size_t j = 0; idx >= 0 && j < e->element[1]->elements; j++)
            if (self->n_items < self->cap_items)
                self->items[self->n_items++] = (s_item_t){(uint32_t)idx, e->element[1]->element[j]};
    }
    return self->n_items;
}

static const redisReply *s_field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (fields->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(fields->element[i]->str, name) == 0 &&
            fields->element[i + 1]->type == REDIS_REPLY_STRING)
            return fields->element[i + 1];
    return NULL;
}

/* The next entry of the batch that this transport has not delivered before. */
static bool s_next_frame(s_streams_t *self, ml4t_frame_t *frame)
{
    while (self->pos < self->n_items) {
        const s_item_t *it = &self->items[self->pos++];
        const redisReply *e = it->entry;
        s_id_t key;
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[0]->len >= ML4T_TRANSPORT_ID_MAX ||
            !s_id_parse(e->element[0]->str, it->stream, &key)) {
            self->health.malformed++;
            continue;
        }
        const char *id = e->element[0]->str;
        s_id_t *seen = s_seen_find(&self->seen, &key);
        if (seen) {
            self->health.duplicates++;
            if (seen->state >= S_SEEN_ACKED)
                s_ack_push(self, it->stream, id); /* our ack may have been lost */
            continue;
        }
        const redisReply *fields = e->element[1];
        const redisReply *payload =
            fields->type == REDIS_REPLY_ARRAY ? s_field(fields, "payload") : NULL;
        if (!payload) { /* deleted (nil) or not ours: acked so it leaves the pending list */
            if (fields->type == REDIS_REPLY_ARRAY)
                self->health.malformed++;
            s_ack_push(self, it->stream, id);
            continue;
        }
        const redisReply *topic = s_field(fields, "topic");
        s_seen_put(&self->seen, &key, S_SEEN_DELIVERED);
        frame->topic = topic ? topic->str : self->streams[it->stream].key;
        frame->topic_len = strlen(frame->topic);
        frame->payload = payload->str;
        frame->payload_len = payload->len;
        snprintf(frame->id, sizeof frame->id, "%s", id);
        frame->source = self->streams[it->stream].key;
        frame->origin = 0;
        self->health.received++;
        return true;
    }
    return false;
}

static bool s_is_nogroup(const redisReply *r)
{
    /* UNBLOCKED: the key or group went away under a blocked read (Redis >= 7.2) */
    return r->type == REDIS_REPLY_ERROR &&
           (strncmp(r->str, "NOGROUP", 7) == 0 || strncmp(r->str, "UNBLOCKED", 9) == 0);
}

/* Create every group that is missing (a new stream, or Redis restarted without
   it). A group is created at group_start_id: "0" replays what is already there. */
static ml4t_err_t s_groups_create(s_streams_t *self)
{
    for (size_t i = 0; i < self->n_streams; i++) {
        const char *argv[6] = {"XGROUP",
                               "CREATE",
                               self->streams[i].key,
                               self->cfg.redis.group,
                               self->cfg.redis.group_start_id,
                               "MKSTREAM"};
        redisReply *r = NULL;
        if (s_conn_cmdv(&self->cmd, &r, 6, argv) != ML4T_OK)
            return ML4T_EIO;
        bool ok = r->type != REDIS_REPLY_ERROR || strncmp(r->str, "BUSYGROUP", 9) == 0;
        if (!ok)
            ml4t_error_set(&self->health.last_error, ML4T_EINVAL, "redis.group",
                           "XGROUP CREATE %s %s: %s", self->streams[i].key, self->cfg.redis.group,
                           r->str);
        freeReplyObject(r);
        if (!ok)
            return ML4T_EINVAL;
    }
    self->groups_ready = true;
    return ML4T_OK;
}

static void s_need_pending(s_streams_t *self)
{
    for (size_t i = 0; i < self->n_streams; i++) {
        self->streams[i].need_pending = true;
        snprintf(self->streams[i].cursor, sizeof self->streams[i].cursor, "0");
    }
}

/* The command connection is up, groups exist, queued acks are out. */
static ml4t_err_t s_streams_prepare(s_streams_t *self)
{
    s_pipe_poll(&self->cmd); /* replies that arrived; a closed connection is noticed here */
    if (s_conn_ensure(&self->cmd) != ML4T_OK)
        return ML4T_EIO;
    if (self->cmd.fresh) {
        self->cmd.fresh = false;
        self->groups_ready = false;
        s_need_pending(self);
    }
    if (!self->groups_ready) {
        ml4t_err_t rc = s_groups_create(self);
        if (rc != ML4T_OK)
            return rc;
    }
    return s_acks_flush(self, false);
}

/* Our own pending entries of stream i from its cursor: what we were given but
   may never have seen. Loads a batch; an empty page ends the re-read. */
static ml4t_err_t s_read_pending(s_streams_t *self, size_t i)
{
    s_stream_t *s = &self->streams[i];
    char count[16];
    snprintf(count, sizeof count, "%d", self->cfg.redis.count);
    const char *argv[9] = {"XREADGROUP",
                           "GROUP",
                           self->cfg.redis.group,
                           self->cfg.redis.consumer,
                           "COUNT",
                           count,
                           "STREAMS",
                           s->key,
                           s->cursor};
    redisReply *r = NULL;
    if (s_conn_cmdv(&self->cmd, &r, 9, argv) != ML4T_OK)
        return ML4T_EIO;
    if (s_is_nogroup(r)) {
        self->groups_ready = false;
        freeReplyObject(r);
        return ML4T_EIO;
    }
    if (s_batch_load(self, r, -1) == 0) {
        s->need_pending = false;
        return ML4T_OK;
    }
    const redisReply *last = self->items[self->n_items - 1].entry;
    if (last->type == REDIS_REPLY_ARRAY && last->elements == 2 &&
        last->element[0]->type == REDIS_REPLY_STRING)
        snprintf(s->cursor, sizeof s->cursor, "%s", last->element[0]->str);
    else
        s->need_pending = false;
    return ML4T_OK;
}

/* Entries another consumer has held longer than claim_min_idle_ms become ours. */
static size_t s_claim(s_streams_t *self, size_t i)
{
    const char *key = self->streams[i].key, *group = self->cfg.redis.group;
    char count[16], idle[16];
    snprintf(count, sizeof count, "%d", self->cfg.redis.count);
    snprintf(idle, sizeof idle, "%d", self->cfg.redis.claim_min_idle_ms);
    redisReply *sum = NULL;
    if (s_conn_cmdv(&self->cmd, &sum, 3, (const char *[]){"XPENDING", key, group}) != ML4T_OK)
        return 0;
    size_t claimed = 0;
    if (sum->type == REDIS_REPLY_ARRAY && sum->elements == 4 &&
        sum->element[3]->type == REDIS_REPLY_ARRAY) {
        const redisReply *owners = sum->element[3];
        for (size_t o = 0; o < owners->elements && claimed == 0; o++) {
            const redisReply *owner = owners->element[o];
            if (owner->type != REDIS_REPLY_ARRAY || owner->elements < 1 ||
                owner->element[0]->type != REDIS_REPLY_STRING ||
                strcmp(owner->element[0]->str, self->cfg.redis.consumer) == 0)
                continue;
            const char *argv[7] = {"XPENDING", key, group, "-", "+", count, owner->element[0]->str};
            redisReply *list = NULL;
            if (s_conn_cmdv(&self->cmd, &list, 7, argv) != ML4T_OK)
                break;
            const char *cargv[64] = {"XCLAIM", key, group, self->cfg.redis.consumer, idle};
            int cargc = 5;
            for (size_t j = 0; list->type == REDIS_REPLY_ARRAY && j < list->elements && cargc < 64;
                 j++) {
                const redisReply *p = list->element[j];
                if (p->type == REDIS_REPLY_ARRAY && p->elements == 4 &&
                    p->element[0]->type == REDIS_REPLY_STRING &&
                    p->element[2]->type == REDIS_REPLY_INTEGER &&
                    p->element[2]->integer >= self->cfg.redis.claim_min_idle_ms)
                    cargv[cargc++] = p->element[0]->str;
            }
            redisReply *got = NULL;
            if (cargc > 5 && s_conn_cmdv(&self->cmd, &got, cargc, cargv) == ML4T_OK)
                claimed = s_batch_load(self, got, (int)i);
            freeReplyObject(list);
        }
    }
    freeReplyObject(sum);
    self->health.claimed += claimed;
    return claimed;
}

/* Send XREADGROUP ... BLOCK ... > over every stream on the read connection. */
static ml4t_err_t s_read_new_send(s_streams_t *self)
{
    char count[16], block[16];
    snprintf(count, sizeof count, "%d", self->cfg.redis.count);
    snprintf(block, sizeof block, "%d", self->cfg.redis.block_ms);
    const char *argv[9 + 2 * S_STREAMS_MAX] = {"XREADGROUP",
                                               "GROUP",
                                               self->cfg.redis.group,
                                               self->cfg.redis.consumer,
                                               "COUNT",
                                               count,
                                               "BLOCK",
                                               block,
                                               "STREAMS"};
    size_t lens[9 + 2 * S_STREAMS_MAX];
    int argc = 9;
    for (size_t i = 0; i < self->n_streams; i++)
        argv[argc++] = self->streams[i].key;
    for (size_t i = 0; i < self->n_streams; i++)
        argv[argc++] = ">";
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return s_conn_send(&self->rd, argc, argv, lens);
}

/* One step towards a batch: recovery work first (pending re-read, claims),
   then new entries. ML4T_OK when a step ran (maybe loading a batch), ETIMEOUT
   when the deadline passed, EIO when Redis is away. */
static ml4t_err_t s_fetch(s_streams_t *self, int64_t deadline)
{
    if (s_conn_ensure(&self->rd) != ML4T_OK)
        return ML4T_EIO;
    if (self->rd.fresh) { /* a reply lost with the old connection may have given us entries */
        self->rd.fresh = false;
        self->read_inflight = false;
        s_need_pending(self);
    }
    for (size_t i = 0; i < self->n_streams; i++)
        if (self->streams[i].need_pending)
            return s_read_pending(self, i);
    int64_t now = s_now_ms();
    if (self->cfg.redis.claim_interval_ms > 0 && now >= self->next_claim_ms) {
        self->next_claim_ms = now + self->cfg.redis.claim_interval_ms;
        for (size_t i = 0; i < self->n_streams; i++)
            if (s_claim(self, i) > 0)
                return ML4T_OK;
    }
    if (!self->read_inflight) {
        if (s_read_new_send(self) != ML4T_OK)
            return ML4T_EIO;
        self->read_inflight = true;
    }
    redisReply *r = NULL;
    ml4t_err_t rc = s_conn_read(&self->rd, &r, s_left_ms(deadline));
    if (rc == ML4T_ETIMEOUT)
        return rc; /* the read stays in flight; the next recv picks its reply up */
    self->read_inflight = false;
    if (rc != ML4T_OK)
        return rc;
    if (s_is_nogroup(r)) {
        self->groups_ready = false;
        freeReplyObject(r);
        return ML4T_OK;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        ml4t_error_set(&self->health.last_error, ML4T_EIO, "recv", "XREADGROUP: %s", r->str);
        freeReplyObject(r);
        return ML4T_EINVAL;
    }
    s_batch_load(self, r, -1);
    return ML4T_OK;
}

static ml4t_err_t s_streams_recv(void *state, ml4t_frame_t *frame, int timeout_ms,
                                 ml4t_error_t *err)
{
    s_streams_t *self = state;
    if (self->n_streams == 0)
        return ml4t_error_set(err, ML4T_ESTATE, "subscribe", "no stream subscribed");
    int64_t deadline = timeout_ms < 0 ? -1 : s_now_ms() + timeout_ms;
    for (;;) {
        if (s_next_frame(self, frame))
            return ML4T_OK;
        s_pipe_push(&self->cmd); /* the batch is done: what waited for it goes out */
        s_batch_free(self);
        ml4t_err_t rc = s_streams_prepare(self);
        const s_conn_t *away = &self->cmd;
        if (rc == ML4T_OK) {
            rc = s_fetch(self, deadline);
            away = &self->rd;
        }
        if (rc == ML4T_ETIMEOUT)
            break;
        if (rc == ML4T_EINVAL) {
            return ml4t_error_set(err, rc, self->health.last_error.field, "%s",
                                  self->health.last_error.msg);
        }
        if (rc == ML4T_EIO && !s_backoff_wait(away, deadline))
            break;
    }
    return ml4t_error_set(err, ML4T_ETIMEOUT, "recv", "no frame within %d ms", timeout_ms);
}

static ml4t_err_t s_streams_health(void *state, ml4t_transport_health_t *out)
{
    s_streams_t *self = state;
    s_pipe_push(&self->cmd);
    s_pipe_poll(&self->cmd);
    self->health.connected = self->cmd.c != NULL && (self->n_streams == 0 || self->rd.c != NULL);
    self->health.ack_backlog = (uint32_t)self->n_acks;
    self->health.pipelined = (uint32_t)self->cmd.n;
    *out = self->health;
    return ML4T_OK;
}

static ml4t_err_t s_streams_endpoint(void *state, ml4t_transport_dir_t dir, char *buf, size_t size)
{
    (void)dir;
    return s_redis_endpoint(&((s_streams_t *)state)->cfg, buf, size);
}

const ml4t_transport_ops_t ml4t_transport_redis_streams = {
    .abi_version = ML4T_TRANSPORT_ABI_VERSION,
    .name = "redis-streams",
    .init = s_streams_init,
    .close = s_streams_close,
    .publish = s_streams_publish,
    .subscribe = s_streams_subscribe,
    .recv = s_streams_recv,
    .ack = s_streams_ack,
    .health = s_streams_health,
    .endpoint = s_streams_endpoint,
    .publish_reply = s_streams_publish_reply,
};
