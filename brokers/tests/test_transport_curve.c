/*  CURVE on the ZeroMQ transport: a node-like server (SUB and XPUB bound, both
    CURVE servers) and strategy/consumer clients over tcp://127.0.0.1.

    "Refused" is observed, not waited for: the server's health counts each
    refused handshake, and an allowed client on the same server shows the
    traffic was flowing while the refused one got or gave nothing. */
#include "ml4t/curve.h"
#include "ml4t/transport.h"

#include <czmq.h>
#include <unistd.h>

#include "redis_server.h" /* t_sleep_ms, t_now_ms */
#include "testutil.h"

typedef struct {
    char root[64];    /* a fresh directory per case */
    char clients[96]; /* root/clients: the allowed public certificates */
    char keys[96];    /* root/keys: every key pair */
    char server[160]; /* keys/node_secret */
    char server_pub[160];
} t_pki_t;

/* node, alice (allowed), mallory (not allowed). */
static bool t_pki_init(t_pki_t *p)
{
    snprintf(p->root, sizeof p->root, "/tmp/ml4t-curve-XXXXXX");
    if (!mkdtemp(p->root))
        return false;
    snprintf(p->clients, sizeof p->clients, "%s/clients", p->root);
    snprintf(p->keys, sizeof p->keys, "%s/keys", p->root);
    snprintf(p->server, sizeof p->server, "%s/node_secret", p->keys);
    snprintf(p->server_pub, sizeof p->server_pub, "%s/node", p->keys);
    if (zsys_dir_create("%s", p->clients) || zsys_dir_create("%s", p->keys))
        return false;
    const char *names[] = {"node", "alice", "mallory"};
    for (size_t i = 0; i < 3; i++)
        if (ml4t_curve_cert_create(p->keys, names[i], NULL) != ML4T_OK)
            return false;
    char from[200], to[200];
    snprintf(from, sizeof from, "%s/alice", p->keys);
    snprintf(to, sizeof to, "%s/alice", p->clients);
    return link(from, to) == 0;
}

static void t_pki_destroy(t_pki_t *p)
{
    const char *dirs[] = {p->clients, p->keys};
    for (size_t d = 0; d < 2; d++) {
        zdir_t *dir = zdir_new(dirs[d], NULL);
        zfile_t **files = dir ? zdir_flatten(dir) : NULL;
        for (size_t i = 0; files && files[i]; i++)
            zfile_remove(files[i]);
        zdir_flatten_free(&files);
        zdir_destroy(&dir);
        rmdir(dirs[d]);
    }
    rmdir(p->root);
}

static ml4t_transport_t *t_open(const char *pub, const char *sub,
                                void (*curve)(ml4t_transport_config_t *, const void *),
                                const void *arg, ml4t_error_t *err)
{
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    snprintf(cfg.zmq.pub_endpoint, sizeof cfg.zmq.pub_endpoint, "%s", pub);
    snprintf(cfg.zmq.sub_endpoint, sizeof cfg.zmq.sub_endpoint, "%s", sub);
    if (curve)
        curve(&cfg, arg);
    return ml4t_transport_new(&ml4t_transport_zmq, &cfg, err);
}

static void t_as_server(ml4t_transport_config_t *cfg, const void *arg)
{
    const t_pki_t *p = arg;
    snprintf(cfg->zmq.curve_server_cert, sizeof cfg->zmq.curve_server_cert, "%s", p->server);
    snprintf(cfg->zmq.curve_clients_dir, sizeof cfg->zmq.curve_clients_dir, "%s", p->clients);
}

typedef struct {
    const t_pki_t *pki;
    const char *who;        /* a key pair in pki->keys */
    const char *server_key; /* NULL: the node's public certificate */
} t_client_t;

static void t_as_client(ml4t_transport_config_t *cfg, const void *arg)
{
    const t_client_t *c = arg;
    snprintf(cfg->zmq.curve_client_cert, sizeof cfg->zmq.curve_client_cert, "%s/%s_secret",
             c->pki->keys, c->who);
    snprintf(cfg->zmq.curve_server_key, sizeof cfg->zmq.curve_server_key, "%s",
             c->server_key ? c->server_key : c->pki->server_pub);
}

/* ">" + the resolved endpoint of one side of the server. */
static void t_connect_to(ml4t_transport_t *server, ml4t_transport_dir_t dir, char *ep, size_t size)
{
    ep[0] = '>';
    ml4t_transport_endpoint(server, dir, ep + 1, size - 1);
}

/* A strategy (publishes into the server's SUB) and a consumer (subscribes to
   the server's XPUB), both with one identity. */
typedef struct {
    ml4t_transport_t *strategy, *consumer;
} t_peer_t;

static bool t_peer_open(t_peer_t *peer, ml4t_transport_t *server, const t_client_t *c)
{
    char in[ML4T_TRANSPORT_ENDPOINT_MAX + 1], out[ML4T_TRANSPORT_ENDPOINT_MAX + 1];
    t_connect_to(server, ML4T_TRANSPORT_IN, in, sizeof in);
    t_connect_to(server, ML4T_TRANSPORT_OUT, out, sizeof out);
    ml4t_error_t err;
    peer->strategy = t_open(in, "", c ? t_as_client : NULL, c, &err);
    peer->consumer = t_open("", out, c ? t_as_client : NULL, c, &err);
    if (!peer->strategy || !peer->consumer) {
        fprintf(stderr, "  client init: %s: %s\n", err.field, err.msg);
        return false;
    }
    return ml4t_transport_subscribe(peer->consumer, "nautilus:", NULL) == ML4T_OK;
}

static void t_peer_close(t_peer_t *peer)
{
    ml4t_transport_destroy(&peer->strategy);
    ml4t_transport_destroy(&peer->consumer);
}

static uint64_t t_auth_failures(ml4t_transport_t *t)
{
    ml4t_transport_health_t h;
    ml4t_transport_health(t, &h);
    return h.auth_failures;
}

/* Both ways: the peer's signals reach the server, the server's output reaches
   the peer. Gives up after 5 s. */
static bool t_traffic_flows(ml4t_transport_t *server, t_peer_t *peer)
{
    ml4t_frame_t f;
    bool in = false, out = false;
    for (long long end = t_now_ms() + 5000; !(in && out) && t_now_ms() < end;) {
        ml4t_transport_publish(peer->strategy, "nautilus:signals", "sig", 3, NULL);
        ml4t_transport_publish(server, "nautilus:enriched_signals", "enr", 3, NULL);
        if (ml4t_transport_recv(server, &f, 10, NULL) == ML4T_OK)
            in = in || memcmp(f.payload, "sig", 3) == 0;
        if (ml4t_transport_recv(peer->consumer, &f, 10, NULL) == ML4T_OK)
            out = out || memcmp(f.payload, "enr", 3) == 0;
    }
    return in && out;
}

/* The server keeps publishing and receiving with a good peer until both of
   `bad`'s sockets have been refused (a ZAP refusal is final, a failed
   cryptographic handshake is retried: at least one each) and the good peer
   has moved 50 more frames; `bad` must have got nothing and the server
   nothing from it. */
static void t_check_refused(ml4t_transport_t *server, t_peer_t *good, t_peer_t *bad,
                            ml4t_transport_t *counted, uint64_t before)
{
    int from_bad = 0, to_bad = 0, good_in = 0, good_out = 0;
    ml4t_frame_t f;
    for (long long end = t_now_ms() + 10000;
         t_now_ms() < end && (t_auth_failures(counted) < before + 2 || good_in < 50);) {
        ml4t_transport_publish(bad->strategy, "nautilus:signals", "bad", 3, NULL);
        ml4t_transport_publish(good->strategy, "nautilus:signals", "sig", 3, NULL);
        ml4t_transport_publish(server, "nautilus:enriched_signals", "enr", 3, NULL);
        while (ml4t_transport_recv(server, &f, 0, NULL) == ML4T_OK) {
            from_bad += memcmp(f.payload, "bad", 3) == 0;
            good_in += memcmp(f.payload, "sig", 3) == 0;
        }
        while (ml4t_transport_recv(good->consumer, &f, 0, NULL) == ML4T_OK)
            good_out++;
        while (ml4t_transport_recv(bad->consumer, &f, 0, NULL) == ML4T_OK)
            to_bad++;
        t_sleep_ms(5);
    }
    CHECK(t_auth_failures(counted) >= before + 2);
    CHECK(good_in >= 50);
    CHECK(good_out > 0);
    CHECK_EQ_INT(from_bad, 0);
    CHECK_EQ_INT(to_bad, 0);
}

static ml4t_transport_t *t_server(const t_pki_t *p)
{
    ml4t_error_t err;
    ml4t_transport_t *s = t_open("@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*", t_as_server, p, &err);
    if (!s)
        fprintf(stderr, "  server init: %s: %s\n", err.field, err.msg);
    else
        ml4t_transport_subscribe(s, "nautilus:", NULL);
    return s;
}

static void t_allowed_client_served(void)
{
    t_pki_t p;
    REQUIRE(t_pki_init(&p));
    ml4t_transport_t *server = t_server(&p);
    REQUIRE(server);
    t_client_t alice = {&p, "alice", NULL};
    t_peer_t a;
    REQUIRE(t_peer_open(&a, server, &alice));
    CHECK(t_traffic_flows(server, &a));
    CHECK_EQ_INT(t_auth_failures(server), 0);
    /* the server's public key given as Z85 text instead of a file */
    zcert_t *node = zcert_load(p.server_pub);
    REQUIRE(node);
    t_client_t alice_z85 = {&p, "alice", zcert_public_txt(node)};
    t_peer_t b;
    REQUIRE(t_peer_open(&b, server, &alice_z85));
    CHECK(t_traffic_flows(server, &b));
    t_peer_close(&b);
    zcert_destroy(&node);
    t_peer_close(&a);
    ml4t_transport_destroy(&server);
    t_pki_destroy(&p);
}

/* mallory has a valid key pair and the right server key, but her public key
   is not in the clients directory. */
static void t_unknown_client_refused(void)
{
    t_pki_t p;
    REQUIRE(t_pki_init(&p));
    ml4t_transport_t *server = t_server(&p);
    REQUIRE(server);
    t_client_t alice = {&p, "alice", NULL}, mallory = {&p, "mallory", NULL};
    t_peer_t a, m;
    REQUIRE(t_peer_open(&a, server, &alice));
    REQUIRE(t_traffic_flows(server, &a));
    uint64_t before = t_auth_failures(server);
    REQUIRE(t_peer_open(&m, server, &mallory));
    t_check_refused(server, &a, &m, server, before);
    ml4t_transport_health_t h;
    ml4t_transport_health(server, &h);
    CHECK_EQ_INT(h.last_error.code, ML4T_EMISMATCH);
    CHECK_STR(h.last_error.field, "zmq.curve_clients_dir");
    CHECK(t_auth_failures(m.strategy) > 0); /* the client learns it too */
    t_peer_close(&m);
    t_peer_close(&a);
    ml4t_transport_destroy(&server);
    t_pki_destroy(&p);
}

/* alice's key is allowed but she expects another server: the handshake fails. */
static void t_wrong_server_key_refused(void)
{
    t_pki_t p;
    REQUIRE(t_pki_init(&p));
    ml4t_transport_t *server = t_server(&p);
    REQUIRE(server);
    char impostor[200];
    snprintf(impostor, sizeof impostor, "%s/mallory", p.keys);
    t_client_t alice = {&p, "alice", NULL}, fooled = {&p, "alice", impostor};
    t_peer_t a, f;
    REQUIRE(t_peer_open(&a, server, &alice));
    REQUIRE(t_traffic_flows(server, &a));
    uint64_t before = t_auth_failures(server);
    REQUIRE(t_peer_open(&f, server, &fooled));
    t_check_refused(server, &a, &f, server, before);
    t_peer_close(&f);
    t_peer_close(&a);
    ml4t_transport_destroy(&server);
    t_pki_destroy(&p);
}

/* A client without CURVE cannot talk to a CURVE node at all. */
static void t_plain_client_refused(void)
{
    t_pki_t p;
    REQUIRE(t_pki_init(&p));
    ml4t_transport_t *server = t_server(&p);
    REQUIRE(server);
    t_client_t alice = {&p, "alice", NULL};
    t_peer_t a, plain;
    REQUIRE(t_peer_open(&a, server, &alice));
    REQUIRE(t_traffic_flows(server, &a));
    uint64_t before = t_auth_failures(server);
    REQUIRE(t_peer_open(&plain, server, NULL));
    t_check_refused(server, &a, &plain, server, before);
    t_peer_close(&plain);
    t_peer_close(&a);
    ml4t_transport_destroy(&server);
    t_pki_destroy(&p);
}

/* A public certificate dropped into the directory admits its owner without
   restarting the server. */
static void t_client_added_while_running(void)
{
    t_pki_t p;
    REQUIRE(t_pki_init(&p));
    ml4t_transport_t *server = t_server(&p);
    REQUIRE(server);
    t_client_t mallory = {&p, "mallory", NULL};
    t_peer_t m;
    REQUIRE(t_peer_open(&m, server, &mallory));
    for (long long end = t_now_ms() + 5000; t_now_ms() < end && t_auth_failures(server) == 0;)
        t_sleep_ms(10);
    CHECK(t_auth_failures(server) > 0);
    t_peer_close(&m);
    char from[200], to[200];
    snprintf(from, sizeof from, "%s/mallory", p.keys);
    snprintf(to, sizeof to, "%s/mallory", p.clients);
    REQUIRE(link(from, to) == 0);
    REQUIRE(t_peer_open(&m, server, &mallory));
    CHECK(t_traffic_flows(server, &m));
    t_peer_close(&m);
    ml4t_transport_destroy(&server);
    t_pki_destroy(&p);
}

/* "*": encryption for every client, no allow list. */
static void t_allow_any_client(void)
{
    t_pki_t p;
    REQUIRE(t_pki_init(&p));
    snprintf(p.clients, sizeof p.clients, "*");
    ml4t_transport_t *server = t_server(&p);
    REQUIRE(server);
    t_client_t mallory = {&p, "mallory", NULL};
    t_peer_t m;
    REQUIRE(t_peer_open(&m, server, &mallory));
    CHECK(t_traffic_flows(server, &m));
    t_peer_close(&m);
    ml4t_transport_destroy(&server);
    snprintf(p.clients, sizeof p.clients, "%s/clients", p.root);
    t_pki_destroy(&p);
}

static void t_expect_error(ml4t_transport_config_t *cfg, ml4t_err_t code, const char *field)
{
    ml4t_error_t err;
    ml4t_transport_t *t = ml4t_transport_new(&ml4t_transport_zmq, cfg, &err);
    CHECK(t == NULL);
    ml4t_transport_destroy(&t);
    CHECK_EQ_INT(err.code, code);
    CHECK_STR(err.field, field);
    CHECK(strstr(err.msg, "secret-key") == NULL);
}

#define T_SET(cfg, field, ...) snprintf((cfg).zmq.field, sizeof(cfg).zmq.field, __VA_ARGS__)

static void t_bad_settings_named(void)
{
    t_pki_t p;
    REQUIRE(t_pki_init(&p));
    ml4t_transport_config_t base, cfg;
    ml4t_transport_config_defaults(&base);
    T_SET(base, sub_endpoint, "@tcp://127.0.0.1:*");
    base.zmq.pub_endpoint[0] = '\0';

    cfg = base;
    T_SET(cfg, curve_server_cert, "%s/nobody_secret", p.keys);
    T_SET(cfg, curve_clients_dir, "%s", p.clients);
    t_expect_error(&cfg, ML4T_ENOTFOUND, "zmq.curve_server_cert");

    cfg = base; /* a public certificate where the secret one belongs */
    T_SET(cfg, curve_server_cert, "%s/alice", p.clients);
    T_SET(cfg, curve_clients_dir, "%s", p.clients);
    t_expect_error(&cfg, ML4T_EINVAL, "zmq.curve_server_cert");

    cfg = base;
    T_SET(cfg, curve_server_cert, "%s", p.server);
    t_expect_error(&cfg, ML4T_EMISSING, "zmq.curve_clients_dir");

    cfg = base;
    T_SET(cfg, curve_server_cert, "%s", p.server);
    T_SET(cfg, curve_clients_dir, "%s/none", p.root);
    t_expect_error(&cfg, ML4T_ENOTFOUND, "zmq.curve_clients_dir");

    cfg = base;
    T_SET(cfg, curve_server_cert, "%s", p.server);
    T_SET(cfg, curve_clients_dir, "%s", p.clients);
    T_SET(cfg, curve_client_cert, "%s/alice_secret", p.keys);
    t_expect_error(&cfg, ML4T_EINVAL, "zmq.curve_client_cert");

    cfg = base;
    T_SET(cfg, curve_client_cert, "%s/alice_secret", p.keys);
    t_expect_error(&cfg, ML4T_EMISSING, "zmq.curve_server_key");

    cfg = base;
    T_SET(cfg, curve_client_cert, "%s/alice_secret", p.keys);
    T_SET(cfg, curve_server_key, "not a key and not a file");
    t_expect_error(&cfg, ML4T_ENOTFOUND, "zmq.curve_server_key");

    cfg = base; /* 40 characters, but '"' and ' ' are not Z85 */
    T_SET(cfg, curve_client_cert, "%s/alice_secret", p.keys);
    T_SET(cfg, curve_server_key, "\"  this is forty characters of no key  \"");
    t_expect_error(&cfg, ML4T_EFORMAT, "zmq.curve_server_key");

    /* one authenticator per process: a second, different directory is refused */
    cfg = base;
    T_SET(cfg, curve_server_cert, "%s", p.server);
    T_SET(cfg, curve_clients_dir, "%s", p.clients);
    ml4t_transport_t *first = ml4t_transport_new(&ml4t_transport_zmq, &cfg, NULL);
    CHECK(first != NULL);
    T_SET(cfg, curve_clients_dir, "%s", p.keys);
    t_expect_error(&cfg, ML4T_ESTATE, "zmq.curve_clients_dir");
    T_SET(cfg, curve_clients_dir, "%s", p.clients);
    ml4t_transport_t *second = ml4t_transport_new(&ml4t_transport_zmq, &cfg, NULL);
    CHECK(second != NULL); /* the same directory is shared */
    ml4t_transport_destroy(&second);
    ml4t_transport_destroy(&first);
    t_pki_destroy(&p);
}

static void t_config_keys(void)
{
    ml4t_transport_config_t cfg;
    ml4t_transport_config_defaults(&cfg);
    CHECK_STR(cfg.zmq.curve_server_cert, "");
    CHECK_STR(cfg.zmq.curve_client_cert, "");
    CHECK_EQ_INT(
        ml4t_transport_config_set(&cfg, "zmq.curve_server_cert", "/etc/ml4t/node_secret", NULL),
        ML4T_OK);
    CHECK_STR(cfg.zmq.curve_server_cert, "/etc/ml4t/node_secret");
    CHECK_EQ_INT(ml4t_transport_config_set(&cfg, "zmq.curve_clients_dir", "*", NULL), ML4T_OK);
    CHECK_STR(cfg.zmq.curve_clients_dir, "*");
    CHECK_EQ_INT(ml4t_transport_config_set(&cfg, "zmq.curve_client_cert", "a", NULL), ML4T_OK);
    CHECK_EQ_INT(ml4t_transport_config_set(&cfg, "zmq.curve_server_key", "b", NULL), ML4T_OK);
    char longer[ML4T_TRANSPORT_PATH_MAX + 1];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_transport_config_set(&cfg, "zmq.curve_server_cert", longer, &err),
                 ML4T_ELIMIT);
    CHECK_STR(err.field, "zmq.curve_server_cert");
    CHECK_STR(cfg.zmq.curve_server_cert, "/etc/ml4t/node_secret");
}

static void t_cert_files(void)
{
    char root[] = "/tmp/ml4t-cert-XXXXXX";
    REQUIRE(mkdtemp(root));
    CHECK_EQ_INT(ml4t_curve_cert_create(root, "strategy-1", NULL), ML4T_OK);
    char pub[64], sec[80];
    snprintf(pub, sizeof pub, "%s/strategy-1", root);
    snprintf(sec, sizeof sec, "%s/strategy-1_secret", root);
    zcert_t *a = zcert_load(pub), *b = zcert_load(sec);
    REQUIRE(a && b);
    CHECK_STR(zcert_public_txt(a), zcert_public_txt(b));
    struct stat st;
    CHECK(stat(sec, &st) == 0 && (st.st_mode & 077) == 0); /* nobody else reads a secret */
    zcert_destroy(&a);
    zcert_destroy(&b);
    /* the public file alone holds no secret (the _secret file is what loads one) */
    char moved[96];
    snprintf(moved, sizeof moved, "%s/elsewhere", root);
    REQUIRE(rename(pub, moved) == 0);
    zcert_t *c = zcert_load(moved);
    REQUIRE(c);
    static const byte zero[32];
    CHECK(memcmp(zcert_secret_key(c), zero, 32) == 0);
    zcert_destroy(&c);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_curve_cert_create(root, "a/b", &err), ML4T_EINVAL);
    CHECK_EQ_INT(ml4t_curve_cert_create("/nonexistent-dir", "x", &err), ML4T_ENOTFOUND);
    unlink(moved);
    unlink(sec);
    rmdir(root);
}

static const t_case_t cases[] = {
    T_CASE(t_allowed_client_served),
    T_CASE(t_unknown_client_refused),
    T_CASE(t_wrong_server_key_refused),
    T_CASE(t_plain_client_refused),
    T_CASE(t_client_added_while_running),
    T_CASE(t_allow_any_client),
    T_CASE(t_bad_settings_named),
    T_CASE(t_config_keys),
    T_CASE(t_cert_files),
};
T_MAIN(cases)
