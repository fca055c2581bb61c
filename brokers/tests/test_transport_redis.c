/*  ml4t_transport_redis_pubsub and _streams against a real redis-server that
    each case starts on a free loopback port (and kills, restarts, wipes).
    ctest-labels: integration */
#include "ml4t/transport.h"

#include "redis_server.h"
#include "redis_transport.h"
#include "testutil.h"

static void t_pubsub_roundtrip(void)
{
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *sub = t_new(&ml4t_transport_redis_pubsub, &cfg);
    ml4t_transport_t *pub = t_new(&ml4t_transport_redis_pubsub, &cfg);
    if (sub && pub) {
        CHECK_EQ_INT(ml4t_transport_subscribe(sub, "nautilus:signals", NULL), ML4T_OK);
        CHECK(t_joined(pub, sub, "nautilus:signals"));
        for (int i = 0; i < 500; i++) {
            unsigned char payload[40];
            for (size_t j = 0; j < sizeof payload; j++)
                payload[j] = (unsigned char)(i + j * 7); /* NUL bytes included */
            char topic[64];
            snprintf(topic, sizeof topic, "nautilus:signals:I%d", i % 3);
            CHECK_EQ_INT(ml4t_transport_publish(pub, topic, payload, sizeof payload, NULL),
                         ML4T_OK);
        }
        ml4t_transport_publish(pub, "nautilus:enriched_signals", "no", 2, NULL);
        for (int i = 0; i < 500; i++) {
            ml4t_frame_t f;
            if (ml4t_transport_recv(sub, &f, 2000, NULL) != ML4T_OK) {
                CHECK(!"frame missing");
                break;
            }
            char topic[64];
            snprintf(topic, sizeof topic, "nautilus:signals:I%d", i % 3);
            CHECK_STR(f.topic, topic);
            CHECK_EQ_INT(f.payload_len, 40);
            CHECK(((const unsigned char *)f.payload)[39] == (unsigned char)(i + 39 * 7));
        }
        ml4t_frame_t f;
        CHECK_EQ_INT(ml4t_transport_recv(sub, &f, 100, NULL), ML4T_ETIMEOUT);
        ml4t_transport_health_t h;
        ml4t_transport_health(sub, &h);
        CHECK(h.connected);
        CHECK_EQ_INT(h.reconnects, 0);
    }
    ml4t_transport_destroy(&sub);
    ml4t_transport_destroy(&pub);
    t_redis_stop(&r);
}

/* A prefix with glob characters matches literally. */
static void t_pubsub_prefix_is_literal(void)
{
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *sub = t_new(&ml4t_transport_redis_pubsub, &cfg);
    ml4t_transport_t *pub = t_new(&ml4t_transport_redis_pubsub, &cfg);
    if (sub && pub) {
        ml4t_transport_subscribe(sub, "a*[b]?", NULL);
        CHECK(t_joined(pub, sub, "a*[b]?"));
        ml4t_transport_publish(pub, "aXbY", "glob", 4, NULL);
        ml4t_transport_publish(pub, "a*[b]?:BTC", "literal", 7, NULL);
        ml4t_frame_t f;
        CHECK_EQ_INT(ml4t_transport_recv(sub, &f, 2000, NULL), ML4T_OK);
        CHECK_STR(f.topic, "a*[b]?:BTC");
        CHECK_EQ_INT(ml4t_transport_recv(sub, &f, 100, NULL), ML4T_ETIMEOUT);
    }
    ml4t_transport_destroy(&sub);
    ml4t_transport_destroy(&pub);
    t_redis_stop(&r);
}

static void t_pubsub_reconnects_and_resubscribes(void)
{
    t_redis_t r = {.aof = true};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *sub = t_new(&ml4t_transport_redis_pubsub, &cfg);
    ml4t_transport_t *pub = t_new(&ml4t_transport_redis_pubsub, &cfg);
    if (sub && pub) {
        ml4t_transport_subscribe(sub, "nautilus:signals", NULL);
        CHECK(t_joined(pub, sub, "nautilus:signals"));
        t_redis_kill(&r, SIGKILL);
        ml4t_frame_t f;
        CHECK_EQ_INT(ml4t_transport_recv(sub, &f, 50, NULL), ML4T_ETIMEOUT);
        CHECK(ml4t_transport_publish(pub, "nautilus:signals", "x", 1, NULL) != ML4T_OK);
        ml4t_transport_health_t h;
        ml4t_transport_health(pub, &h);
        CHECK(!h.connected);
        CHECK(h.dropped >= 1);
        REQUIRE(t_redis_start(&r)); /* same port */
        CHECK(t_joined(pub, sub, "nautilus:signals"));
        for (int i = 0; i < 100; i++)
            ml4t_transport_publish(pub, "nautilus:signals", &i, sizeof i, NULL);
        for (int i = 0; i < 100; i++) {
            int v = -1;
            if (ml4t_transport_recv(sub, &f, 2000, NULL) == ML4T_OK)
                memcpy(&v, f.payload, sizeof v);
            CHECK_EQ_INT(v, i);
        }
        ml4t_transport_health(sub, &h);
        CHECK(h.connected);
        CHECK(h.reconnects >= 1);
    }
    ml4t_transport_destroy(&sub);
    ml4t_transport_destroy(&pub);
    t_redis_stop(&r);
}

static void t_auth_password_and_acl_user(void)
{
    t_redis_t r = {0};
    snprintf(r.password, sizeof r.password, "s3cret");
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    snprintf(cfg.redis.password, sizeof cfg.redis.password, "wrong");
    ml4t_transport_t *bad = t_new(&ml4t_transport_redis_pubsub, &cfg);
    if (bad) {
        ml4t_transport_health_t h;
        ml4t_transport_health(bad, &h);
        CHECK(!h.connected);
        CHECK_STR(h.last_error.field, "redis.password");
        CHECK(ml4t_transport_publish(bad, "t", "x", 1, NULL) != ML4T_OK);
    }
    ml4t_transport_destroy(&bad);
    const char *users[2] = {"", "default"}; /* AUTH <pass>, and the ACL form AUTH <user> <pass> */
    for (int u = 0; u < 2; u++) {
        t_cfg(&cfg, &r);
        snprintf(cfg.redis.password, sizeof cfg.redis.password, "s3cret");
        snprintf(cfg.redis.username, sizeof cfg.redis.username, "%s", users[u]);
        ml4t_transport_t *sub = t_new(&ml4t_transport_redis_pubsub, &cfg);
        ml4t_transport_t *pub = t_new(&ml4t_transport_redis_pubsub, &cfg);
        if (sub && pub) {
            ml4t_transport_subscribe(sub, "t", NULL);
            CHECK(t_joined(pub, sub, "t"));
            ml4t_transport_health_t h;
            ml4t_transport_health(pub, &h);
            CHECK(h.connected);
        }
        ml4t_transport_destroy(&sub);
        ml4t_transport_destroy(&pub);
    }
    t_redis_stop(&r);
}

/* A refused AUTH (plain and ACL form, pub/sub and Streams) and an unreachable
   server with a password set: the password shows nowhere, neither on stderr
   (fd 2 is captured for the whole episode) nor in any error the caller sees. */
static void t_auth_password_never_shown(void)
{
    static const char *secret = "Zq7-never-print-me-41";
    t_redis_t r = {0};
    snprintf(r.password, sizeof r.password, "s3cret");
    REQUIRE(t_redis_start(&r));
    char log[] = "/tmp/ml4t-auth-stderr-XXXXXX";
    int fd = mkstemp(log);
    REQUIRE(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    REQUIRE(saved >= 0 && dup2(fd, 2) == 2);
    const ml4t_transport_ops_t *ops[2] = {&ml4t_transport_redis_pubsub,
                                          &ml4t_transport_redis_streams};
    const char *users[2] = {"", "default"};
    char seen[4096] = "";
    for (int i = 0; i < 6; i++) {
        ml4t_transport_config_t cfg;
        t_cfg(&cfg, &r);
        if (i >= 4)
            cfg.redis.port = t_free_port(); /* nobody there */
        snprintf(cfg.redis.password, sizeof cfg.redis.password, "%s", secret);
        snprintf(cfg.redis.username, sizeof cfg.redis.username, "%s", users[i % 2]);
        ml4t_error_t err = {0};
        ml4t_transport_t *t = ml4t_transport_new(ops[(i / 2) % 2], &cfg, &err);
        strncat(seen, err.msg, sizeof seen - strlen(seen) - 1);
        if (!t)
            continue;
        ml4t_frame_t f;
        ml4t_transport_subscribe(t, "s", &err);
        strncat(seen, err.msg, sizeof seen - strlen(seen) - 1);
        CHECK(ml4t_transport_publish(t, "s", "x", 1, &err) != ML4T_OK);
        strncat(seen, err.msg, sizeof seen - strlen(seen) - 1);
        ml4t_transport_recv(t, &f, 50, &err);
        strncat(seen, err.msg, sizeof seen - strlen(seen) - 1);
        ml4t_transport_health_t h;
        ml4t_transport_health(t, &h);
        CHECK(!h.connected);
        CHECK(h.last_error.code != ML4T_OK);
        strncat(seen, h.last_error.msg, sizeof seen - strlen(seen) - 1);
        ml4t_transport_destroy(&t);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char out[65536];
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    close(fd);
    unlink(log);
    out[n > 0 ? n : 0] = '\0';
    CHECK(strstr(out, secret) == NULL);
    CHECK(strstr(seen, secret) == NULL);
    CHECK(strstr(seen, "AUTH") != NULL); /* the refusal was seen and reported */
    t_redis_stop(&r);
}

/* --------------------------------------------------------------- Streams */

typedef struct {
    char id[ML4T_TRANSPORT_ID_MAX];
} t_saved_t;

static ml4t_frame_t t_frame_of(const t_saved_t *s)
{
    ml4t_frame_t f;
    memset(&f, 0, sizeof f);
    snprintf(f.id, sizeof f.id, "%s", s->id);
    f.source = "s";
    return f;
}

static long long t_pending(const t_redis_t *r)
{
    redisReply *x = t_redis_cmd(r, "XPENDING s g");
    long long n = x && x->type == REDIS_REPLY_ARRAY && x->elements >= 1 &&
                          x->element[0]->type == REDIS_REPLY_INTEGER
                      ? x->element[0]->integer
                      : -1;
    if (x)
        freeReplyObject(x);
    return n;
}

static int t_index_of(const ml4t_frame_t *f)
{
    int i = -1;
    if (f->payload_len == sizeof i)
        memcpy(&i, f->payload, sizeof i);
    return i;
}

static void t_streams_roundtrip(void)
{
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    snprintf(cfg.redis.consumer, sizeof cfg.redis.consumer, "c1");
    ml4t_transport_t *prod = t_new(&ml4t_transport_redis_streams, &cfg);
    ml4t_transport_t *cons = t_new(&ml4t_transport_redis_streams, &cfg);
    if (prod && cons) {
        /* written before the group exists: group_start_id "0" still delivers it */
        CHECK_EQ_INT(ml4t_transport_publish(prod, "nautilus:signals:BTC", "a\0b", 3, NULL),
                     ML4T_OK);
        CHECK_EQ_INT(ml4t_transport_subscribe(cons, "s", NULL), ML4T_OK);
        ml4t_frame_t f;
        CHECK_EQ_INT(ml4t_transport_recv(cons, &f, 2000, NULL), ML4T_OK);
        CHECK_STR(f.topic, "nautilus:signals:BTC");
        CHECK_EQ_INT(f.payload_len, 3);
        CHECK(memcmp(f.payload, "a\0b", 3) == 0);
        CHECK_STR(f.source, "s");
        CHECK(strchr(f.id, '-') != NULL);
        CHECK_EQ_INT(t_pending(&r), 1);
        CHECK_EQ_INT(ml4t_transport_ack(cons, &f, NULL), ML4T_OK);
        CHECK(t_settle(cons));
        CHECK_EQ_INT(t_pending(&r), 0);
        /* the stream holds NautilusTrader's two fields */
        redisReply *x = t_redis_cmd(&r, "XRANGE s - +");
        CHECK(x && x->type == REDIS_REPLY_ARRAY && x->elements == 1);
        if (x && x->elements == 1) {
            const redisReply *fields = x->element[0]->element[1];
            CHECK_EQ_INT(fields->elements, 4);
            CHECK_STR(fields->element[0]->str, "topic");
            CHECK_STR(fields->element[2]->str, "payload");
        }
        if (x)
            freeReplyObject(x);
        ml4t_error_t err;
        ml4t_frame_t foreign = t_frame_of(&(t_saved_t){"1-1"});
        foreign.source = "other";
        CHECK_EQ_INT(ml4t_transport_ack(cons, &foreign, &err), ML4T_EINVAL);
        CHECK_STR(err.field, "frame");
        ml4t_transport_health_t h;
        ml4t_transport_health(cons, &h);
        CHECK_EQ_INT(h.received, 1);
        CHECK_EQ_INT(h.acked, 1);
        CHECK(h.connected);
    }
    ml4t_transport_destroy(&prod);
    ml4t_transport_destroy(&cons);
    t_redis_stop(&r);
}

/* SIGKILL Redis mid-stream (a read blocked in flight, acks outstanding), restart
   it from its AOF: every entry written is delivered once and acked. */
static void t_streams_kill_restart_exactly_once(void)
{
    enum { N1 = 100, N = 200 };
    t_redis_t r = {.aof = true};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    cfg.redis.count = 8; /* several batches */
    snprintf(cfg.redis.consumer, sizeof cfg.redis.consumer, "c1");
    ml4t_transport_t *prod = t_new(&ml4t_transport_redis_streams, &cfg);
    ml4t_transport_t *cons = t_new(&ml4t_transport_redis_streams, &cfg);
    static int seen[N];
    static t_saved_t held[N1];
    memset(seen, 0, sizeof seen);
    if (!prod || !cons)
        goto out;
    ml4t_transport_subscribe(cons, "s", NULL);
    for (int i = 0; i < N1; i++)
        CHECK(t_publish(prod, "nautilus:signals", &i, sizeof i));
    ml4t_frame_t f;
    for (int k = 0; k < N1; k++) {
        if (ml4t_transport_recv(cons, &f, 2000, NULL) != ML4T_OK)
            break;
        int i = t_index_of(&f);
        REQUIRE(i >= 0 && i < N1);
        seen[i]++;
        snprintf(held[i].id, sizeof held[i].id, "%s", f.id);
        if (i < 80)
            ml4t_transport_ack(cons, &f, NULL); /* 80..99 still being worked on */
    }
    CHECK_EQ_INT(ml4t_transport_recv(cons, &f, 20, NULL), ML4T_ETIMEOUT); /* XREADGROUP in flight */

    t_redis_kill(&r, SIGKILL);
    for (int i = 80; i < 90; i++) { /* finished while Redis is away */
        ml4t_frame_t a = t_frame_of(&held[i]);
        CHECK_EQ_INT(ml4t_transport_ack(cons, &a, NULL), ML4T_OK);
    }
    ml4t_transport_health_t h;
    ml4t_transport_health(cons, &h);
    CHECK_EQ_INT(h.ack_backlog, 10);
    CHECK(ml4t_transport_publish(prod, "nautilus:signals", "lost", 4, NULL) == ML4T_EIO);
    CHECK_EQ_INT(ml4t_transport_recv(cons, &f, 100, NULL), ML4T_ETIMEOUT);
    REQUIRE(t_redis_start(&r));

    for (int i = N1; i < N; i++)
        CHECK(t_publish(prod, "nautilus:signals", &i, sizeof i));
    for (long long end = t_now_ms() + 10000; t_now_ms() < end;) {
        if (ml4t_transport_recv(cons, &f, 200, NULL) != ML4T_OK)
            continue;
        int i = t_index_of(&f);
        REQUIRE(i >= 0 && i < N);
        seen[i]++;
        ml4t_transport_ack(cons, &f, NULL);
        bool all = true;
        for (int j = 0; j < N && all; j++)
            all = seen[j] > 0;
        if (all)
            break;
    }
    for (int i = 90; i < N1; i++) { /* finished after the restart */
        ml4t_frame_t a = t_frame_of(&held[i]);
        CHECK_EQ_INT(ml4t_transport_ack(cons, &a, NULL), ML4T_OK);
    }
    CHECK_EQ_INT(ml4t_transport_recv(cons, &f, 300, NULL), ML4T_ETIMEOUT); /* nothing more */
    CHECK(t_settle(cons));
    for (int i = 0; i < N; i++)
        if (seen[i] != 1) {
            fprintf(stderr, "  entry %d delivered %d times\n", i, seen[i]);
            CHECK(seen[i] == 1);
        }
    CHECK_EQ_INT(t_pending(&r), 0); /* every entry acknowledged */
    CHECK_EQ_INT(t_redis_int(&r, "XLEN %s", "s", NULL), N);
    ml4t_transport_health(cons, &h);
    CHECK(h.reconnects >= 1);
    CHECK(h.duplicates >= 10); /* 90..99 came back from the pending list and were held back */
    CHECK_EQ_INT(h.ack_backlog, 0);
    CHECK_EQ_INT(h.received, N);
out:
    ml4t_transport_destroy(&prod);
    ml4t_transport_destroy(&cons);
    t_redis_stop(&r);
}

/* A consumer process is SIGKILLed holding entries; another in the same group
   claims exactly the ones it had not acknowledged. */
static void t_streams_takeover_from_killed_consumer(void)
{
    enum { N = 30, ACKED = 5, READ = 20 };
    t_redis_t r = {.aof = true};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *prod = t_new(&ml4t_transport_redis_streams, &cfg);
    REQUIRE(prod);
    for (int i = 0; i < N; i++)
        CHECK(t_publish(prod, "nautilus:signals", &i, sizeof i));
    int pipefd[2];
    REQUIRE(pipe(pipefd) == 0);
    pid_t child = fork();
    if (child == 0) { /* consumer "a": reads, acks a few, then hangs until killed */
        snprintf(cfg.redis.consumer, sizeof cfg.redis.consumer, "a");
        ml4t_transport_t *a = ml4t_transport_new(&ml4t_transport_redis_streams, &cfg, NULL);
        ml4t_frame_t f;
        int got = 0;
        if (a && ml4t_transport_subscribe(a, "s", NULL) == ML4T_OK)
            for (; got < READ && ml4t_transport_recv(a, &f, 2000, NULL) == ML4T_OK; got++)
                if (got < ACKED)
                    ml4t_transport_ack(a, &f, NULL);
        char done = got == READ ? 'y' : 'n';
        if (write(pipefd[1], &done, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    REQUIRE(child > 0);
    char done = 0;
    CHECK(read(pipefd[0], &done, 1) == 1 && done == 'y');
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(pipefd[0]);
    close(pipefd[1]);
    CHECK_EQ_INT(t_pending(&r), N - ACKED); /* a's whole batch is pending, minus its acks */

    snprintf(cfg.redis.consumer, sizeof cfg.redis.consumer, "b");
    cfg.redis.claim_min_idle_ms = 300;
    cfg.redis.claim_interval_ms = 50;
    ml4t_transport_t *b = t_new(&ml4t_transport_redis_streams, &cfg);
    int seen[N] = {0}, total = 0;
    if (b) {
        ml4t_transport_subscribe(b, "s", NULL);
        ml4t_frame_t f;
        for (long long end = t_now_ms() + 10000; total < N - ACKED && t_now_ms() < end;) {
            if (ml4t_transport_recv(b, &f, 200, NULL) != ML4T_OK)
                continue;
            int i = t_index_of(&f);
            REQUIRE(i >= 0 && i < N);
            seen[i]++;
            total++;
            ml4t_transport_ack(b, &f, NULL);
        }
        CHECK_EQ_INT(ml4t_transport_recv(b, &f, 300, NULL), ML4T_ETIMEOUT);
        CHECK(t_settle(b));
        for (int i = 0; i < N; i++)
            CHECK_EQ_INT(seen[i], i < ACKED ? 0 : 1);
        ml4t_transport_health_t h;
        ml4t_transport_health(b, &h);
        CHECK_EQ_INT(h.claimed, N - ACKED);
        CHECK_EQ_INT(h.acked, N - ACKED);
        CHECK_EQ_INT(t_pending(&r), 0);
    }
    ml4t_transport_destroy(&b);
    ml4t_transport_destroy(&prod);
    t_redis_stop(&r);
}

static int t_drain(ml4t_transport_t *t, int *seen, int n, int want)
{
    int got = 0;
    ml4t_frame_t f;
    for (long long end = t_now_ms() + 10000; got < want && t_now_ms() < end;) {
        if (ml4t_transport_recv(t, &f, 200, NULL) != ML4T_OK)
            continue;
        int i = t_index_of(&f);
        if (i >= 0 && i < n)
            seen[i]++;
        got++;
        ml4t_transport_ack(t, &f, NULL);
    }
    return got;
}

/* The group vanishes (XGROUP DESTROY, then a restart without persistence): it is
   recreated, and what was already handled is not handed out again. */
static void t_streams_group_recreated(void)
{
    t_redis_t r = {.aof = false};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    snprintf(cfg.redis.consumer, sizeof cfg.redis.consumer, "c1");
    ml4t_transport_t *prod = t_new(&ml4t_transport_redis_streams, &cfg);
    ml4t_transport_t *cons = t_new(&ml4t_transport_redis_streams, &cfg);
    int seen[20] = {0};
    if (prod && cons) {
        ml4t_transport_subscribe(cons, "s", NULL);
        for (int i = 0; i < 10; i++)
            t_publish(prod, "t", &i, sizeof i);
        CHECK_EQ_INT(t_drain(cons, seen, 20, 10), 10);
        CHECK_EQ_INT(t_redis_int(&r, "XGROUP DESTROY %s %s", "s", "g"), 1);
        for (int i = 10; i < 15; i++)
            t_publish(prod, "t", &i, sizeof i);
        CHECK_EQ_INT(t_drain(cons, seen, 20, 5), 5);
        ml4t_transport_health_t h;
        ml4t_transport_health(cons, &h);
        CHECK(h.duplicates >= 10); /* the new group starts at 0 and replays 0..9 */

        /* restart with nothing persisted: stream and group are gone */
        t_redis_stop(&r);
        r.pid = 0;
        REQUIRE(t_redis_start(&r));
        for (int i = 15; i < 20; i++)
            CHECK(t_publish(prod, "t", &i, sizeof i));
        CHECK_EQ_INT(t_drain(cons, seen, 20, 5), 5);
        ml4t_frame_t f;
        CHECK_EQ_INT(ml4t_transport_recv(cons, &f, 300, NULL), ML4T_ETIMEOUT);
        for (int i = 0; i < 20; i++)
            CHECK_EQ_INT(seen[i], 1);
        CHECK(t_settle(cons));
        CHECK_EQ_INT(t_pending(&r), 0);
    }
    ml4t_transport_destroy(&prod);
    ml4t_transport_destroy(&cons);
    t_redis_stop(&r);
}

/* ------------------------------------------------ answers (publish_reply) */

/* A consumer of "s" whose answers go to the stream "out". */
static ml4t_transport_t *t_replier(const t_redis_t *r, const char *consumer, const char *group)
{
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, r);
    snprintf(cfg.redis.stream_publish, sizeof cfg.redis.stream_publish, "out");
    snprintf(cfg.redis.consumer, sizeof cfg.redis.consumer, "%s", consumer);
    snprintf(cfg.redis.group, sizeof cfg.redis.group, "%s", group);
    cfg.redis.claim_min_idle_ms = 100;
    cfg.redis.claim_interval_ms = 50;
    ml4t_transport_t *t = t_new(&ml4t_transport_redis_streams, &cfg);
    if (t)
        ml4t_transport_subscribe(t, "s", NULL);
    return t;
}

static long long t_xlen(const t_redis_t *r, const char *key)
{
    return t_redis_int(r, "XLEN %s", key, NULL);
}

/* The same request answered again (a retry after a lost reply, another
   consumer, a later ack): one answer, acknowledged with it. */
static void t_streams_reply_once(void)
{
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *prod = t_new(&ml4t_transport_redis_streams, &cfg);
    ml4t_transport_t *c1 = t_replier(&r, "c1", "g");
    ml4t_transport_t *c2 = t_replier(&r, "c2", "g");
    ml4t_transport_t *other = t_replier(&r, "c1", "g2");
    if (!prod || !c1 || !c2 || !other)
        goto out;
    for (int i = 0; i < 2; i++)
        CHECK(t_publish(prod, "nautilus:signals", &i, sizeof i));
    ml4t_frame_t f;
    REQUIRE(ml4t_transport_recv(c1, &f, 2000, NULL) == ML4T_OK);
    CHECK_EQ_INT(t_pending(&r), 2); /* c1 read a batch of both */
    CHECK_EQ_INT(ml4t_transport_publish_reply(c1, &f, "nautilus:enriched", "A", 1, NULL), ML4T_OK);
    CHECK(t_settle(c1));
    CHECK_EQ_INT(t_xlen(&r, "out"), 1);
    CHECK_EQ_INT(t_pending(&r), 1); /* acknowledged together with the answer */
    char marker[128];
    snprintf(marker, sizeof marker, "ml4t:answered:g:s:%s", f.id);
    long long pttl = t_redis_int(&r, "PTTL %s", marker, NULL);
    CHECK(pttl > 600000 - 60000 && pttl <= 600000); /* the default 10 min, minus test time */

    CHECK_EQ_INT(ml4t_transport_publish_reply(c1, &f, "nautilus:enriched", "A", 1, NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_transport_publish_reply(c2, &f, "nautilus:enriched", "B", 1, NULL), ML4T_OK);
    CHECK(t_settle(c1) && t_settle(c2));
    CHECK_EQ_INT(t_xlen(&r, "out"), 1);
    ml4t_transport_health_t h;
    ml4t_transport_health(c1, &h);
    CHECK_EQ_INT(h.sent, 1);
    CHECK_EQ_INT(h.duplicates, 1);
    CHECK_EQ_INT(h.acked, 1);
    CHECK_EQ_INT(ml4t_transport_ack(c1, &f, NULL), ML4T_OK); /* nothing left to send */
    ml4t_transport_health(c1, &h);
    CHECK_EQ_INT(h.acked, 1);
    CHECK_EQ_INT(h.ack_backlog, 0);

    /* another group answers the same entry for itself */
    CHECK_EQ_INT(ml4t_transport_publish_reply(other, &f, "nautilus:enriched", "C", 1, NULL),
                 ML4T_OK);
    CHECK(t_settle(other));
    CHECK_EQ_INT(t_xlen(&r, "out"), 2);

    /* a server that forgot the script (restart, SCRIPT FLUSH) is sent it again */
    redisReply *x = t_redis_cmd(&r, "SCRIPT FLUSH");
    if (x)
        freeReplyObject(x);
    REQUIRE(ml4t_transport_recv(c1, &f, 2000, NULL) == ML4T_OK);
    CHECK_EQ_INT(ml4t_transport_publish_reply(c1, &f, "nautilus:enriched", "D", 1, NULL), ML4T_OK);
    CHECK(t_settle(c1)); /* NOSCRIPT came back, and the answer went again as EVAL */
    CHECK_EQ_INT(t_xlen(&r, "out"), 3);
    CHECK_EQ_INT(t_pending(&r), 0);

    /* a request without an entry id has nothing to key the answer by: plain XADD */
    ml4t_frame_t bare;
    memset(&bare, 0, sizeof bare);
    CHECK_EQ_INT(ml4t_transport_publish_reply(c1, &bare, "t", "E", 1, NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_transport_publish_reply(c1, &bare, "t", "E", 1, NULL), ML4T_OK);
    CHECK(t_settle(c1));
    CHECK_EQ_INT(t_xlen(&r, "out"), 5);
out:
    ml4t_transport_destroy(&prod);
    ml4t_transport_destroy(&c1);
    ml4t_transport_destroy(&c2);
    ml4t_transport_destroy(&other);
    t_redis_stop(&r);
}

/* answer_ttl_ms 0: answers are plain XADDs again (at least once), and ack sends XACK. */
static void t_streams_reply_off(void)
{
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *prod = t_new(&ml4t_transport_redis_streams, &cfg);
    snprintf(cfg.redis.stream_publish, sizeof cfg.redis.stream_publish, "out");
    cfg.redis.answer_ttl_ms = 0;
    ml4t_transport_t *c = t_new(&ml4t_transport_redis_streams, &cfg);
    if (prod && c) {
        ml4t_transport_subscribe(c, "s", NULL);
        CHECK(t_publish(prod, "nautilus:signals", "x", 1));
        ml4t_frame_t f;
        REQUIRE(ml4t_transport_recv(c, &f, 2000, NULL) == ML4T_OK);
        CHECK_EQ_INT(ml4t_transport_publish_reply(c, &f, "t", "A", 1, NULL), ML4T_OK);
        CHECK_EQ_INT(ml4t_transport_publish_reply(c, &f, "t", "A", 1, NULL), ML4T_OK);
        CHECK(t_settle(c));
        CHECK_EQ_INT(t_xlen(&r, "out"), 2);
        CHECK_EQ_INT(t_pending(&r), 1);
        CHECK_EQ_INT(ml4t_transport_ack(c, &f, NULL), ML4T_OK);
        CHECK(t_settle(c));
        CHECK_EQ_INT(t_pending(&r), 0);
    }
    ml4t_transport_destroy(&prod);
    ml4t_transport_destroy(&c);
    t_redis_stop(&r);
}

/* Redis SIGKILLed right after an answer: the answer and its marker come back
   together from the AOF, so the retry writes nothing. */
static void t_streams_reply_survives_kill(void)
{
    t_redis_t r = {.aof = true};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *prod = t_new(&ml4t_transport_redis_streams, &cfg);
    ml4t_transport_t *c = t_replier(&r, "c1", "g");
    if (prod && c) {
        CHECK(t_publish(prod, "nautilus:signals", "x", 1));
        ml4t_frame_t f;
        REQUIRE(ml4t_transport_recv(c, &f, 2000, NULL) == ML4T_OK);
        CHECK_EQ_INT(ml4t_transport_publish_reply(c, &f, "t", "A", 1, NULL), ML4T_OK);
        CHECK(t_settle(c)); /* answered: in the AOF before the kill */
        t_redis_kill(&r, SIGKILL);
        CHECK_EQ_INT(ml4t_transport_publish_reply(c, &f, "t", "A", 1, NULL), ML4T_EIO);
        REQUIRE(t_redis_start(&r));
        ml4t_err_t rc = ML4T_EIO;
        for (long long end = t_now_ms() + 5000; rc != ML4T_OK && t_now_ms() < end; t_sleep_ms(10))
            rc = ml4t_transport_publish_reply(c, &f, "t", "A", 1, NULL);
        CHECK_EQ_INT(rc, ML4T_OK);
        CHECK(t_settle(c));
        CHECK_EQ_INT(t_xlen(&r, "out"), 1);
        CHECK_EQ_INT(t_pending(&r), 0);
        ml4t_transport_health_t h;
        ml4t_transport_health(c, &h);
        CHECK_EQ_INT(h.duplicates, 1);
        CHECK_EQ_INT(ml4t_transport_recv(c, &f, 300, NULL), ML4T_ETIMEOUT); /* nothing pending */
    }
    ml4t_transport_destroy(&prod);
    ml4t_transport_destroy(&c);
    t_redis_stop(&r);
}

/* A slow consumer's entries are claimed and answered by another; when the
   slow one answers at last, nothing more is written. */
static void t_streams_reply_after_claim(void)
{
    enum { N = 10 };
    t_redis_t r = {0};
    REQUIRE(t_redis_start(&r));
    ml4t_transport_config_t cfg;
    t_cfg(&cfg, &r);
    ml4t_transport_t *prod = t_new(&ml4t_transport_redis_streams, &cfg);
    ml4t_transport_t *slow = t_replier(&r, "slow", "g");
    ml4t_transport_t *fast = t_replier(&r, "fast", "g");
    static ml4t_frame_t held[N];
    static char sources[N][8];
    if (!prod || !slow || !fast)
        goto out;
    for (int i = 0; i < N; i++)
        CHECK(t_publish(prod, "nautilus:signals", &i, sizeof i));
    int got = 0;
    for (; got < N && ml4t_transport_recv(slow, &held[got], 2000, NULL) == ML4T_OK; got++) {
        snprintf(sources[got], sizeof sources[got], "%s", held[got].source);
        held[got].source = sources[got]; /* kept past the next recv */
        held[got].payload = held[got].topic = NULL;
    }
    CHECK_EQ_INT(got, N);
    t_sleep_ms(150); /* longer than claim_min_idle_ms */
    ml4t_transport_health_t h;
    int answered = 0;
    ml4t_frame_t f;
    for (long long end = t_now_ms() + 5000; answered < N && t_now_ms() < end;) {
        if (ml4t_transport_recv(fast, &f, 200, NULL) != ML4T_OK)
            continue;
        if (ml4t_transport_publish_reply(fast, &f, "t", &answered, sizeof answered, NULL) ==
            ML4T_OK)
            answered++;
    }
    CHECK_EQ_INT(answered, N);
    CHECK(t_settle(fast));
    ml4t_transport_health(fast, &h);
    CHECK_EQ_INT(h.claimed, N);
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(ml4t_transport_publish_reply(slow, &held[i], "t", "late", 4, NULL), ML4T_OK);
    CHECK(t_settle(slow));
    CHECK_EQ_INT(t_xlen(&r, "out"), N);
    ml4t_transport_health(slow, &h);
    CHECK_EQ_INT(h.duplicates, N);
    CHECK_EQ_INT(h.sent, 0);
    CHECK_EQ_INT(t_pending(&r), 0);
out:
    ml4t_transport_destroy(&prod);
    ml4t_transport_destroy(&slow);
    ml4t_transport_destroy(&fast);
    t_redis_stop(&r);
}

static const t_case_t cases[] = {
    T_CASE(t_pubsub_roundtrip),
    T_CASE(t_pubsub_prefix_is_literal),
    T_CASE(t_pubsub_reconnects_and_resubscribes),
    T_CASE(t_auth_password_and_acl_user),
    T_CASE(t_auth_password_never_shown),
    T_CASE(t_streams_roundtrip),
    T_CASE(t_streams_kill_restart_exactly_once),
    T_CASE(t_streams_takeover_from_killed_consumer),
    T_CASE(t_streams_group_recreated),
    T_CASE(t_streams_reply_once),
    T_CASE(t_streams_reply_off),
    T_CASE(t_streams_reply_survives_kill),
    T_CASE(t_streams_reply_after_claim),
};
T_MAIN(cases)
