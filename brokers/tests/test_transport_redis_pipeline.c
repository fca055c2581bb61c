/*  Pipelined publishing of ml4t_transport_redis_pubsub and _streams against a
    real redis-server on a free loopback port: order and completeness at full
    speed, back-pressure at redis.pipeline and each adapter's own depth,
    commands in flight when Redis dies
    (sent again, answers still exactly once), error replies counted, close
    answering everything it accepted, and a backlog's answers written
    together while no answer waits without one.
    ctest-labels: integration */
#include "ml4t/transport.h"

#include "redis_server.h"
#include "redis_transport.h"
#include "testutil.h"

/* The payload of message i: its index, then bytes that depend on it (NULs
   included); every 100th is as large as a 100-bar signal. */
static size_t t_payload(int i, unsigned char *buf, size_t cap)
{
    size_t len = i % 100 == 0 ? 6600 : 64;
    if (len > cap)
        len = cap;
    memcpy(buf, &i, sizeof i);
    for (size_t j = sizeof i; j < len; j++)
        buf[j] = (unsigned char)(i * 31 + j);
    return len;
}

/* -1 unless f carries message i's payload (whole, or cut at 64 bytes when
   it was written into a 64-byte buffer). */
static int t_payload_index(const ml4t_frame_t *f)
{
    int i = -1;
    if (f->payload_len < 64)
        return -1;
    memcpy(&i, f->payload, sizeof i);
    size_t whole = i % 100 == 0 ? 6600 : 64;
    if (f->payload_len != whole && f->payload_len != 64)
        return -1;
    const unsigned char *p = f->payload;
    for (size_t j = sizeof i; j < f->payload_len; j++)
        if (p[j] != (unsigned char)(i * 31 + j))
            return -1;
    return i;
}

static uint64_t t_sent(ml4t_transport_t *t)
{
    ml4t_transport_health_t h;
    ml4t_transport_health(t, &h);
    return h.sent;
}

/* Take whatever the subscriber has now; false at the first frame out of order. */
static bool t_take(ml4t_transport_t *sub, int *next, int timeout_ms)
{
    ml4t_frame_t f;
    while (ml4t_transport_recv(sub, &f, timeout_ms, NULL) == ML4T_OK) {
        int i = t_payload_index(&f);
        if (i != *next) {
            fprintf(stderr, "  expected message %d, got %d\n", *next, i);
            return false;
        }
        (*next)++;
    }
    return true;
}

/* A subscriber and a publisher on cfg's Redis, the subscription in place and
   the publisher's first commands answered; sent0: what it had sent by then.
   False (the failure reported) when any of that did not happen. */
static bool t_pubsub_open(const ml4t_transport_config_t *cfg, ml4t_transport_t **sub,
                          ml4t_transport_t **pub, uint64_t *sent0)
{
    *sub = t_new(&ml4t_transport_redis_pubsub, cfg);
    *pub = t_new(&ml4t_transport_redis_pubsub, cfg);
    if (!*sub || !*pub)
        return false;
    ml4t_transport_subscribe(*sub, "nautilus:signals", NULL);
    bool up = t_joined(*pub, *sub, "nautilus:signals") && t_settle(*pub);
    CHECK(up);
    *sent0 = t_sent(*pub);
    return up;
}

/* 50,000 PUBLISHes as fast as the adapter takes them: all arrive, in order,
   intact, and never more than redis.pipeline are unanswered. */
static void t_pubsub_50k_in_order(void)
{
    enum { N = 50000 };
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *sub, *pub;
    uint64_t sent0;
    static unsigned char buf[6600];
    if (!t_pubsub_open(&cfg, &sub, &pub, &sent0))
        goto out;
    int next = 0, ok = 0;
    uint32_t most = 0;
    bool in_order = true;
    for (int i = 0; i < N && in_order; i++) {
        size_t len = t_payload(i, buf, sizeof buf);
        ok += ml4t_transport_publish(pub, "nautilus:signals:BTC", buf, len, NULL) == ML4T_OK;
        if (i % 64 == 0) {
            ml4t_transport_health_t h;
            ml4t_transport_health(pub, &h);
            most = h.pipelined > most ? h.pipelined : most;
        }
        if (i % 1000 == 999) /* keep Redis's buffer for the subscriber small */
            in_order = t_take(sub, &next, 0);
    }
    CHECK_EQ_INT(ok, N);
    while (in_order && next < N) {
        int before = next;
        in_order = t_take(sub, &next, 2000);
        if (next == before)
            break; /* nothing more within 2 s */
    }
    CHECK(in_order);
    CHECK_EQ_INT(next, N);
    CHECK(most <= 64); /* pub/sub's own depth: redis.pipeline is -1 */
    CHECK(t_settle(pub));
    ml4t_transport_health_t h;
    ml4t_transport_health(pub, &h);
    CHECK_EQ_INT(h.sent - sent0, N);
    CHECK_EQ_INT(h.dropped, 0);
    CHECK_EQ_INT(h.reconnects, 0);
out:
    ml4t_transport_destroy(&sub);
    ml4t_transport_destroy(&pub);
    t_redis_stop(&r);
}

/* Redis stops answering: redis.pipeline commands are accepted, the next
   publish waits io_timeout_ms for a reply and is dropped. Redis is killed
   with those commands unanswered and restarted: the new connection sends
   them again, before anything newer, and the subscriber gets them in order. */
static void t_pubsub_backpressure_and_resend(void)
{
    enum { DEPTH = 8 };
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    cfg.redis.pipeline = DEPTH;
    cfg.redis.io_timeout_ms = 300;
    ml4t_transport_t *sub, *pub;
    uint64_t sent0;
    unsigned char buf[64];
    if (!t_pubsub_open(&cfg, &sub, &pub, &sent0))
        goto out;

    kill(r.pid, SIGSTOP);
    for (int i = 0; i < DEPTH; i++)
        CHECK_EQ_INT(
            ml4t_transport_publish(pub, "nautilus:signals", buf, t_payload(i, buf, 64), NULL),
            ML4T_OK);
    ml4t_transport_health_t h;
    ml4t_transport_health(pub, &h);
    CHECK_EQ_INT(h.pipelined, DEPTH);
    CHECK_EQ_INT(h.sent, sent0); /* written, not answered */
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_transport_publish(pub, "nautilus:signals", "late", 4, &err), ML4T_EIO);
    ml4t_transport_health(pub, &h);
    CHECK_EQ_INT(h.dropped, 1);
    CHECK_EQ_INT(h.pipelined, DEPTH); /* kept for the next connection */
    CHECK(!h.connected);

    t_redis_kill(&r, SIGKILL);
    REQUIRE(t_redis_start(&r)); /* same port, nothing persisted */
    ml4t_frame_t f;
    for (long long end = t_now_ms() + 5000; t_now_ms() < end;) {
        ml4t_transport_recv(sub, &f, 20, NULL); /* reconnects and subscribes again */
        if (t_redis_int(&r, "PUBSUB NUMPAT", NULL, NULL) >= 1)
            break;
    }
    CHECK(t_publish(pub, "nautilus:signals", buf, t_payload(DEPTH, buf, 64)));
    int next = 0;
    CHECK(t_take(sub, &next, 2000));
    CHECK_EQ_INT(next, DEPTH + 1); /* the eight unanswered, then the new one */
    CHECK(t_settle(pub));
    ml4t_transport_health(pub, &h);
    CHECK_EQ_INT(h.sent - sent0, DEPTH + 1);
    CHECK_EQ_INT(h.dropped, 1);
    CHECK(h.reconnects >= 1);
out:
    ml4t_transport_destroy(&sub);
    ml4t_transport_destroy(&pub);
    t_redis_stop(&r);
}

/* redis.pipeline -1, the default, is each adapter's own depth: with Redis
   stopped, pub/sub accepts 64 commands and Streams 256; the next publish
   waits io_timeout_ms for a reply and is dropped. A value set is used as is. */
static void t_each_adapter_has_its_own_depth(void)
{
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    const ml4t_transport_ops_t *ops[] = {
        &ml4t_transport_redis_pubsub, &ml4t_transport_redis_streams, &ml4t_transport_redis_streams};
    const int set[] = {-1, -1, 16}, want[] = {64, 256, 16};
    for (int k = 0; k < 3; k++) {
        ml4t_transport_config_t cfg;
        t_cfg(&cfg, &r);
        CHECK_EQ_INT(cfg.redis.pipeline, -1);
        cfg.redis.pipeline = set[k];
        cfg.redis.io_timeout_ms = 200;
        ml4t_transport_t *pub = t_new(ops[k], &cfg);
        REQUIRE(pub);
        CHECK(t_publish(pub, "nautilus:enriched", "x", 1)); /* connected */
        CHECK(t_settle(pub));
        kill(r.pid, SIGSTOP);
        int accepted = 0;
        while (accepted <= want[k] &&
               ml4t_transport_publish(pub, "nautilus:enriched", "x", 1, NULL) == ML4T_OK)
            accepted++;
        kill(r.pid, SIGCONT);
        CHECK_EQ_INT(accepted, want[k]);
        ml4t_transport_destroy(&pub); /* writes and answers what it accepted */
    }
    t_redis_stop(&r);
}

static long long t_pending_of(const t_redis_t *r, const char *stream, const char *group)
{
    redisReply *x = t_redis_cmd(r, "XPENDING %s %s", stream, group);
    long long n = x && x->type == REDIS_REPLY_ARRAY && x->elements >= 1 &&
                          x->element[0]->type == REDIS_REPLY_INTEGER
                      ? x->element[0]->integer
                      : -1;
    if (x)
        freeReplyObject(x);
    return n;
}

/* How often each index 0..n-1 was answered in the stream "out". */
static bool t_answers(const t_redis_t *r, int *count, int n)
{
    redisReply *x = t_redis_cmd(r, "XRANGE out - +");
    bool ok = x && x->type == REDIS_REPLY_ARRAY;
    for (size_t k = 0; ok && k < x->elements; k++) {
        const redisReply *fields = x->element[k]->element[1];
        int i = -1;
        for (size_t j = 0; j + 1 < fields->elements; j += 2)
            if (strcmp(fields->element[j]->str, "payload") == 0 &&
                fields->element[j + 1]->len == sizeof i)
                memcpy(&i, fields->element[j + 1]->str, sizeof i);
        if (i >= 0 && i < n)
            count[i]++;
        else
            ok = false;
    }
    if (x)
        freeReplyObject(x);
    return ok;
}

/* A Streams producer on cfg's Redis, and a consumer "c1" that reads count
   entries at a time and answers to the stream "out" (cfg is changed for it).
   False when either could not be made; the caller destroys both. */
static bool t_streams_open(ml4t_transport_config_t *cfg, int count, ml4t_transport_t **prod,
                           ml4t_transport_t **c)
{
    *prod = t_new(&ml4t_transport_redis_streams, cfg);
    snprintf(cfg->redis.stream_publish, sizeof cfg->redis.stream_publish, "out");
    snprintf(cfg->redis.consumer, sizeof cfg->redis.consumer, "c1");
    cfg->redis.count = count;
    *c = t_new(&ml4t_transport_redis_streams, cfg);
    return *prod && *c;
}

/* How many of the indexes 0..n-1 were answered exactly once in "out" (each
   other one is reported); -1 when "out" holds something else. */
static int t_answered_once(const t_redis_t *r, int *count, int n)
{
    memset(count, 0, (size_t)n * sizeof *count);
    if (!t_answers(r, count, n))
        return -1;
    int once = 0;
    for (int i = 0; i < n; i++) {
        once += count[i] == 1;
        if (count[i] != 1)
            fprintf(stderr, "  entry %d answered %d times\n", i, count[i]);
    }
    return once;
}

/* A consumer answers every entry with publish_reply, pipelined. Redis stops
   with answers in flight and is SIGKILLed, then restarted from its AOF: the
   answers it never ran are sent again on the new connection, and every entry
   ends up answered exactly once and acknowledged. An answer refused while
   Redis is away is retried by the caller, as the node does. */
static void t_streams_kill_with_answers_in_flight(void)
{
    enum { N = 600, STOP_AT = 425 };
    t_redis_t r = {.aof = true};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *prod, *c;
    static int count[N];
    if (!t_streams_open(&cfg, 50, &prod, &c))
        goto out;
    for (int i = 0; i < N; i++)
        CHECK(t_publish(prod, "nautilus:signals", &i, sizeof i));
    REQUIRE(t_settle(prod));
    ml4t_transport_subscribe(c, "s", NULL);
    int done = 0;
    bool stopped = false, killed = false, have = false;
    ml4t_frame_t f;
    for (long long end = t_now_ms() + 20000; done < N && t_now_ms() < end;) {
        if (!have) {
            if (ml4t_transport_recv(c, &f, 200, NULL) == ML4T_OK) {
                have = true;
            } else if (stopped) { /* the batch is used up: answers wait in the pipeline */
                ml4t_transport_health_t h;
                ml4t_transport_health(c, &h);
                CHECK(h.pipelined > 0);
                t_redis_kill(&r, SIGKILL);
                REQUIRE(t_redis_start(&r));
                stopped = false;
                killed = true;
            }
            continue;
        }
        int i = -1;
        memcpy(&i, f.payload, f.payload_len == sizeof i ? sizeof i : 0);
        if (ml4t_transport_publish_reply(c, &f, "nautilus:enriched", &i, sizeof i, NULL) !=
            ML4T_OK) {
            t_sleep_ms(5); /* held: the same answer again, Redis is coming back */
            continue;
        }
        ml4t_transport_ack(c, &f, NULL);
        have = false;
        if (++done == STOP_AT && !killed) {
            kill(r.pid, SIGSTOP);
            stopped = true;
        }
    }
    CHECK(killed);
    CHECK_EQ_INT(done, N);
    CHECK(t_settle(c));
    CHECK_EQ_INT(t_answered_once(&r, count, N), N);
    CHECK_EQ_INT(t_pending_of(&r, "s", "g"), 0);
    ml4t_transport_health_t h;
    ml4t_transport_health(c, &h);
    CHECK(h.reconnects >= 1);
out:
    ml4t_transport_destroy(&prod);
    ml4t_transport_destroy(&c);
    t_redis_stop(&r);
}

/* An error reply to a pipelined command is counted in dropped and named in
   last_error, as it was when publish waited for it; at redis.pipeline 0 the
   publish itself returns it. */
static void t_error_replies_counted(void)
{
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    redisReply *x = t_redis_cmd(&r, "ACL SETUSER nopub on >pw ~* &* +@all -publish");
    REQUIRE(x && x->type == REDIS_REPLY_STATUS);
    freeReplyObject(x);
    x = t_redis_cmd(&r, "SET out not-a-stream");
    REQUIRE(x && x->type == REDIS_REPLY_STATUS);
    freeReplyObject(x);
    for (int depth = 256; depth >= 0; depth -= 256) {
        ml4t_transport_config_t cfg;
        t_cfg(&cfg, &r);
        cfg.redis.pipeline = depth;
        ml4t_error_t err;
        ml4t_transport_health_t h;

        /* PUBLISH refused by ACL */
        snprintf(cfg.redis.username, sizeof cfg.redis.username, "nopub");
        snprintf(cfg.redis.password, sizeof cfg.redis.password, "pw");
        ml4t_transport_t *pub = t_new(&ml4t_transport_redis_pubsub, &cfg);
        REQUIRE(pub);
        ml4t_err_t rc = ml4t_transport_publish(pub, "t", "x", 1, &err);
        CHECK_EQ_INT(rc, depth ? ML4T_OK : ML4T_EIO);
        CHECK(t_settle(pub));
        ml4t_transport_health(pub, &h);
        CHECK_EQ_INT(h.dropped, 1);
        CHECK_EQ_INT(h.sent, 0);
        CHECK(strstr(h.last_error.msg, "NOPERM") != NULL);
        CHECK(depth || strstr(err.msg, "NOPERM") != NULL);
        ml4t_transport_destroy(&pub);

        /* XADD to a key that is not a stream */
        t_cfg(&cfg, &r);
        cfg.redis.pipeline = depth;
        snprintf(cfg.redis.stream_publish, sizeof cfg.redis.stream_publish, "out");
        ml4t_transport_t *prod = t_new(&ml4t_transport_redis_streams, &cfg);
        REQUIRE(prod);
        rc = ml4t_transport_publish(prod, "t", "x", 1, &err);
        CHECK_EQ_INT(rc, depth ? ML4T_OK : ML4T_EIO);
        CHECK(t_settle(prod));
        ml4t_transport_health(prod, &h);
        CHECK_EQ_INT(h.dropped, 1);
        CHECK(strstr(h.last_error.msg, "XADD out: WRONGTYPE") != NULL);
        ml4t_transport_destroy(&prod);

        /* an answer the script cannot write: no marker, the entry stays pending */
        char in[16];
        snprintf(in, sizeof in, "in%d", depth);
        t_cfg(&cfg, &r);
        snprintf(cfg.redis.stream_publish, sizeof cfg.redis.stream_publish, "%s", in);
        prod = t_new(&ml4t_transport_redis_streams, &cfg);
        cfg.redis.pipeline = depth;
        snprintf(cfg.redis.stream_publish, sizeof cfg.redis.stream_publish, "out");
        ml4t_transport_t *c = t_new(&ml4t_transport_redis_streams, &cfg);
        REQUIRE(prod && c);
        CHECK(t_publish(prod, "nautilus:signals", "q", 1));
        ml4t_transport_subscribe(c, in, NULL);
        ml4t_frame_t f;
        if (ml4t_transport_recv(c, &f, 2000, NULL) == ML4T_OK) {
            rc = ml4t_transport_publish_reply(c, &f, "t", "A", 1, &err);
            CHECK_EQ_INT(rc, depth ? ML4T_OK : ML4T_EIO);
            if (depth)
                ml4t_transport_ack(c, &f, NULL); /* sends nothing: the answer acks */
            CHECK(t_settle(c));
            ml4t_transport_health(c, &h);
            CHECK_EQ_INT(h.dropped, 1);
            CHECK_EQ_INT(h.sent, 0);
            CHECK(strstr(h.last_error.msg, "WRONGTYPE") != NULL);
            CHECK_EQ_INT(t_pending_of(&r, in, "g"), 1);
            char marker[128];
            snprintf(marker, sizeof marker, "ml4t:answered:g:%s:%s", in, f.id);
            CHECK_EQ_INT(t_redis_int(&r, "EXISTS %s", marker, NULL), 0);
        } else {
            CHECK(!"no entry delivered");
        }
        ml4t_transport_destroy(&c);
        ml4t_transport_destroy(&prod);
    }
    t_redis_stop(&r);
}

/* Redis says "not now" (OOM under maxmemory; LOADING after a restart is the
   same case): the command is kept, not dropped, and goes again with what
   came after it once Redis takes writes. */
static bool t_said(ml4t_transport_t *t, const char *what)
{
    ml4t_transport_health_t h;
    for (long long end = t_now_ms() + 5000; t_now_ms() < end; t_sleep_ms(5))
        if (ml4t_transport_health(t, &h) == ML4T_OK && strstr(h.last_error.msg, what))
            return true;
    return false;
}

static void t_transient_error_sent_again(void)
{
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *prod = t_new(&ml4t_transport_redis_streams, &cfg);
    snprintf(cfg.redis.stream_publish, sizeof cfg.redis.stream_publish, "out");
    ml4t_transport_t *c = t_new(&ml4t_transport_redis_streams, &cfg);
    REQUIRE(prod && c);
    CHECK(t_publish(prod, "t", "q", 1));
    ml4t_transport_subscribe(c, "s", NULL);
    ml4t_frame_t f;
    REQUIRE(ml4t_transport_recv(c, &f, 2000, NULL) == ML4T_OK);
    long long out_before = t_redis_int(&r, "XLEN %s", "out", NULL);

    redisReply *x = t_redis_cmd(&r, "CONFIG SET maxmemory 1");
    REQUIRE(x && x->type == REDIS_REPLY_STATUS);
    freeReplyObject(x);
    CHECK_EQ_INT(ml4t_transport_publish(prod, "t", "A", 1, NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_transport_publish_reply(c, &f, "t", "answer", 6, NULL), ML4T_OK);
    CHECK(t_said(prod, "OOM"));
    CHECK(t_said(c, "OOM"));
    ml4t_transport_health_t h;
    ml4t_transport_health(prod, &h);
    CHECK_EQ_INT(h.dropped, 0);
    CHECK_EQ_INT(h.pipelined, 1); /* kept for the next connection */
    ml4t_transport_health(c, &h);
    CHECK_EQ_INT(h.dropped, 0);
    CHECK_EQ_INT(h.pipelined, 1);

    x = t_redis_cmd(&r, "CONFIG SET maxmemory 0");
    REQUIRE(x && x->type == REDIS_REPLY_STATUS);
    freeReplyObject(x);
    int refused = 0; /* while the connection waits out its backoff */
    for (long long end = t_now_ms() + 5000;
         ml4t_transport_publish(prod, "t", "B", 1, NULL) != ML4T_OK && t_now_ms() < end;
         t_sleep_ms(5))
        refused++;
    while (ml4t_transport_recv(c, &f, 100, NULL) == ML4T_OK) /* reconnects, answer goes again */
        ml4t_transport_ack(c, &f, NULL);                     /* A and B */
    CHECK(t_settle(prod) && t_settle(c));
    x = t_redis_cmd(&r, "XRANGE s - +");
    const char *want[3] = {"q", "A", "B"};
    CHECK(x && x->type == REDIS_REPLY_ARRAY && x->elements == 3);
    for (size_t k = 0; x && x->type == REDIS_REPLY_ARRAY && k < x->elements && k < 3; k++)
        CHECK_STR(x->element[k]->element[1]->element[3]->str, want[k]); /* topic t payload X */
    if (x)
        freeReplyObject(x);
    CHECK_EQ_INT(t_redis_int(&r, "XLEN %s", "out", NULL), out_before + 1);
    CHECK_EQ_INT(t_pending_of(&r, "s", "g"), 0);
    ml4t_transport_health(prod, &h);
    CHECK_EQ_INT(h.sent, 3);
    CHECK_EQ_INT(h.dropped, refused);
    ml4t_transport_destroy(&prod);
    ml4t_transport_destroy(&c);
    t_redis_stop(&r);
}

/* Destroying a transport right after publishing: every command it accepted
   has been written and answered when destroy returns. */
static void t_close_flushes(void)
{
    enum { N = 5000 };
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *prod = t_new(&ml4t_transport_redis_streams, &cfg);
    REQUIRE(prod);
    unsigned char buf[6600];
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok +=
            ml4t_transport_publish(prod, "t", buf, t_payload(i, buf, sizeof buf), NULL) == ML4T_OK;
    ml4t_transport_destroy(&prod);
    CHECK_EQ_INT(ok, N);
    CHECK_EQ_INT(t_redis_int(&r, "XLEN %s", "s", NULL), N);

    ml4t_transport_t *sub = t_new(&ml4t_transport_redis_pubsub, &cfg);
    ml4t_transport_t *pub = t_new(&ml4t_transport_redis_pubsub, &cfg);
    if (sub && pub) {
        ml4t_transport_subscribe(sub, "nautilus:signals", NULL);
        CHECK(t_joined(pub, sub, "nautilus:signals"));
        for (int i = 0; i < 2000; i++)
            ml4t_transport_publish(pub, "nautilus:signals", buf, t_payload(i, buf, 64), NULL);
        ml4t_transport_destroy(&pub);
        int next = 0;
        CHECK(t_take(sub, &next, 2000));
        CHECK_EQ_INT(next, 2000);
    }
    ml4t_transport_destroy(&sub);
    ml4t_transport_destroy(&pub);
    t_redis_stop(&r);
}

static uint64_t t_writes(ml4t_transport_t *t)
{
    ml4t_transport_health_t h;
    ml4t_transport_health(t, &h);
    return h.writes;
}

/* A producer, a forwarder (subscribed to nautilus:signals) and a consumer of
   its output (nautilus:enriched) on cfg's Redis, both subscriptions in place
   and the forwarder's probes answered. False (reported) when any of that
   did not happen; the caller destroys what was made. */
static bool t_forwarder_open(const ml4t_transport_config_t *cfg, ml4t_transport_t **prod,
                             ml4t_transport_t **mid, ml4t_transport_t **out)
{
    *prod = t_new(&ml4t_transport_redis_pubsub, cfg);
    *mid = t_new(&ml4t_transport_redis_pubsub, cfg);
    *out = t_new(&ml4t_transport_redis_pubsub, cfg);
    if (!*prod || !*mid || !*out)
        return false;
    ml4t_transport_subscribe(*mid, "nautilus:signals", NULL);
    ml4t_transport_subscribe(*out, "nautilus:enriched", NULL);
    bool up = t_joined(*prod, *mid, "nautilus:signals") &&
              t_joined(*mid, *out, "nautilus:enriched") && t_settle(*mid);
    CHECK(up);
    return up;
}

/* A forwarder between two pub/sub channels (the node's shape: recv, then
   publish) with a backlog already in its socket: everything arrives, in
   order, and the answers go out together, far fewer writes than answers
   (without batching there would be one each). */
static void t_pubsub_backlog_batched(void)
{
    enum { N = 400 };
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *prod, *mid, *out;
    static unsigned char buf[6600];
    if (!t_forwarder_open(&cfg, &prod, &mid, &out))
        goto done;
    for (int i = 0; i < N; i++)
        CHECK(t_publish(prod, "nautilus:signals", buf, t_payload(i, buf, sizeof buf)));
    REQUIRE(t_settle(prod));
    t_sleep_ms(100); /* Redis has written it all to mid's socket */
    uint64_t writes0 = t_writes(mid), sent0 = t_sent(mid);
    ml4t_frame_t f;
    int forwarded = 0;
    while (ml4t_transport_recv(mid, &f, 300, NULL) == ML4T_OK)
        forwarded += ml4t_transport_publish(mid, "nautilus:enriched", f.payload, f.payload_len,
                                            NULL) == ML4T_OK;
    CHECK_EQ_INT(forwarded, N);
    CHECK(t_settle(mid));
    CHECK_EQ_INT(t_sent(mid) - sent0, N);
    uint64_t writes = t_writes(mid) - writes0;
    fprintf(stderr, "  %d answers in %llu writes\n", N, (unsigned long long)writes);
    CHECK(writes >= N / 16); /* at most 16 wait for one write */
    CHECK(writes <= N / 4);
    int next = 0;
    CHECK(t_take(out, &next, 1000));
    CHECK_EQ_INT(next, N);
done:
    ml4t_transport_destroy(&prod);
    ml4t_transport_destroy(&mid);
    ml4t_transport_destroy(&out);
    t_redis_stop(&r);
}

/* Without a backlog nothing waits: each answer is written by its publish,
   and arrives while the forwarder does nothing more. Answers that did wait
   (more input was already read) go out when health is read, and when the
   transport is destroyed, without another receive. */
static void t_pubsub_answers_never_held(void)
{
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *prod, *mid, *out;
    unsigned char buf[64];
    ml4t_frame_t f;
    int next = 0;
    if (!t_forwarder_open(&cfg, &prod, &mid, &out))
        goto done;
    uint64_t writes0 = t_writes(mid);
    for (int i = 0; i < 20; i++) { /* one at a time */
        CHECK(t_publish(prod, "nautilus:signals", buf, t_payload(i + 1, buf, sizeof buf)));
        if (ml4t_transport_recv(mid, &f, 1000, NULL) != ML4T_OK) {
            CHECK(!"the forwarder got its input");
            break;
        }
        CHECK_EQ_INT(t_payload_index(&f), i + 1);
        ml4t_transport_publish(mid, "nautilus:enriched", f.payload, f.payload_len, NULL);
        CHECK(ml4t_transport_recv(out, &f, 1000, NULL) == ML4T_OK && t_payload_index(&f) == i + 1);
    }
    CHECK_EQ_INT(t_writes(mid) - writes0, 20);

    /* five at once: after three answers two frames are still read, not taken */
    for (int i = 0; i < 5; i++)
        CHECK(t_publish(prod, "nautilus:signals", buf, t_payload(100 + i, buf, sizeof buf)));
    REQUIRE(t_settle(prod));
    t_sleep_ms(100);
    for (int i = 0; i < 3; i++) {
        CHECK(ml4t_transport_recv(mid, &f, 1000, NULL) == ML4T_OK);
        ml4t_transport_publish(mid, "nautilus:enriched", f.payload, f.payload_len, NULL);
    }
    ml4t_transport_health_t h;
    ml4t_transport_health(mid, &h); /* writes what waited */
    next = 100;
    CHECK(t_take(out, &next, 500));
    CHECK_EQ_INT(next, 103);
    for (int i = 0; i < 1; i++) { /* one more answer, then destroy with one frame untaken */
        CHECK(ml4t_transport_recv(mid, &f, 1000, NULL) == ML4T_OK);
        ml4t_transport_publish(mid, "nautilus:enriched", f.payload, f.payload_len, NULL);
    }
    ml4t_transport_destroy(&mid);
    CHECK(t_take(out, &next, 500));
    CHECK_EQ_INT(next, 104);
done:
    ml4t_transport_destroy(&prod);
    ml4t_transport_destroy(&mid);
    ml4t_transport_destroy(&out);
    t_redis_stop(&r);
}

/* A Streams consumer answering a backlog with publish_reply (the node's
   way): every entry answered exactly once and acknowledged, the answers of a
   batch written together. */
static void t_streams_backlog_batched(void)
{
    enum { N = 300 };
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *prod, *c;
    static int count[N];
    if (!t_streams_open(&cfg, 100, &prod, &c))
        goto done;
    for (int i = 0; i < N; i++)
        CHECK(t_publish(prod, "nautilus:signals", &i, sizeof i));
    REQUIRE(t_settle(prod));
    ml4t_transport_subscribe(c, "s", NULL);
    REQUIRE(t_settle(c));
    uint64_t writes0 = t_writes(c);
    ml4t_frame_t f;
    int answered = 0;
    while (ml4t_transport_recv(c, &f, 300, NULL) == ML4T_OK) {
        int i = -1;
        memcpy(&i, f.payload, f.payload_len == sizeof i ? sizeof i : 0);
        answered +=
            ml4t_transport_publish_reply(c, &f, "nautilus:enriched", &i, sizeof i, NULL) == ML4T_OK;
        ml4t_transport_ack(c, &f, NULL); /* answered: nothing more to send */
    }
    CHECK_EQ_INT(answered, N);
    CHECK(t_settle(c));
    uint64_t writes = t_writes(c) - writes0;
    fprintf(stderr, "  %d answers in %llu writes\n", N, (unsigned long long)writes);
    CHECK(writes <= N / 4);
    CHECK_EQ_INT(t_answered_once(&r, count, N), N);
    CHECK_EQ_INT(t_pending_of(&r, "s", "g"), 0);
done:
    ml4t_transport_destroy(&prod);
    ml4t_transport_destroy(&c);
    t_redis_stop(&r);
}

static const t_case_t cases[] = {
    T_CASE(t_pubsub_50k_in_order),
    T_CASE(t_pubsub_backpressure_and_resend),
    T_CASE(t_each_adapter_has_its_own_depth),
    T_CASE(t_streams_kill_with_answers_in_flight),
    T_CASE(t_error_replies_counted),
    T_CASE(t_transient_error_sent_again),
    T_CASE(t_close_flushes),
    T_CASE(t_pubsub_backlog_batched),
    T_CASE(t_pubsub_answers_never_held),
    T_CASE(t_streams_backlog_batched),
};
T_MAIN(cases)
