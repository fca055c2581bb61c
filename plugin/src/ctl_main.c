/*  ml4t-ctl: talk to a running node over its control socket. */
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

static void s_help(FILE *out)
{
    fprintf(out,
            "usage: ml4t-ctl [--control ENDPOINT] [--timeout MS] [--curve-client-cert FILE\n"
            "                --curve-server-key KEY] COMMAND [ARG]\n"
            "\n"
            "Sends one command to a running ml4t-node and prints its JSON reply.\n"
            "\n"
            "Commands:\n"
            "  status       counters, errors by reason, drops, latency percentiles, model,\n"
            "               supervisor, policy and transport health (JSON)\n"
            "  stats        the same document\n"
            "  train        request a retrain (answered at once; see status for the result)\n"
            "  swap PATH    validate the model file PATH and swap it in (waits for the result)\n"
            "  rollback     back to the previous model version in the registry\n"
            "  reload       swap in the configured model_path again\n"
            "\n"
            "Options:\n"
            "  --control ENDPOINT  the node's control socket [tcp://127.0.0.1:5557]\n"
            "                      (also ML4T_CONTROL; a leading '@' or '>' is ignored)\n"
            "  --timeout MS        how long to wait for the answer [5000; swap, rollback,\n"
            "                      reload: 60000]\n"
            "  --curve-client-cert FILE  this client's secret certificate, for a node\n"
            "                      running with CURVE (also ML4T_CTL_CURVE_CLIENT_CERT)\n"
            "  --curve-server-key KEY  the node's public certificate file or Z85 key\n"
            "                      (also ML4T_CTL_CURVE_SERVER_KEY)\n"
            "  --help              this text\n"
            "\n"
            "Exit codes: 0 the node answered ok, 1 the node answered with an error\n"
            "(\"ok\": false), 2 usage error, 3 no answer within the timeout.\n");
}

/* CURVE client settings on sock; false (after saying why) when they cannot be read. */
static bool s_curve_client(zsock_t *sock, const char *cert_path, const char *server_key)
{
    if (!cert_path && !server_key)
        return true;
    if (!cert_path || !server_key) {
        fprintf(stderr, "ml4t-ctl: CURVE needs both --curve-client-cert and --curve-server-key\n");
        return false;
    }
    zcert_t *cert = zsys_file_exists(cert_path) ? zcert_load(cert_path) : NULL;
    if (!cert) {
        fprintf(stderr, "ml4t-ctl: --curve-client-cert %s: not a readable certificate\n",
                cert_path);
        return false;
    }
    char key[41] = "";
    if (zsys_file_exists(server_key)) {
        zcert_t *server = zcert_load(server_key);
        if (server)
            snprintf(key, sizeof key, "%s", zcert_public_txt(server));
        zcert_destroy(&server);
    } else if (strlen(server_key) == 40) {
        snprintf(key, sizeof key, "%s", server_key);
    }
    byte bin[32];
    if (!key[0] || !zmq_z85_decode(bin, key)) {
        fprintf(stderr, "ml4t-ctl: --curve-server-key: neither a certificate file nor a Z85 key\n");
        zcert_destroy(&cert);
        return false;
    }
    zcert_apply(cert, sock);
    zsock_set_curve_serverkey(sock, key);
    zcert_destroy(&cert);
    return true;
}

int main(int argc, char **argv)
{
    const char *control = getenv("ML4T_CONTROL") ? getenv("ML4T_CONTROL") : "tcp://127.0.0.1:5557";
    const char *curve_cert = getenv("ML4T_CTL_CURVE_CLIENT_CERT");
    const char *curve_server = getenv("ML4T_CTL_CURVE_SERVER_KEY");
    long timeout = -1;
    const char *cmd = NULL, *arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_help(stdout);
            return 0;
        } else if (strcmp(argv[i], "--control") == 0 && i + 1 < argc) {
            control = argv[++i];
        } else if (strcmp(argv[i], "--curve-client-cert") == 0 && i + 1 < argc) {
            curve_cert = argv[++i];
        } else if (strcmp(argv[i], "--curve-server-key") == 0 && i + 1 < argc) {
            curve_server = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            char *end;
            timeout = strtol(argv[++i], &end, 10);
            if (*end || timeout <= 0) {
                fprintf(stderr, "ml4t-ctl: --timeout: expected milliseconds > 0, got '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (!cmd && argv[i][0] != '-') {
            cmd = argv[i];
        } else if (cmd && !arg && argv[i][0] != '-') {
            arg = argv[i];
        } else {
            fprintf(stderr, "ml4t-ctl: unexpected argument '%s' (ml4t-ctl --help)\n", argv[i]);
            return 2;
        }
    }
    static const char *const known[] = {"status",   "stats",  "train", "swap",
                                        "rollback", "reload", NULL};
    bool ok = false;
    for (size_t i = 0; cmd && known[i]; i++)
        ok = ok || strcmp(cmd, known[i]) == 0;
    if (!ok) {
        fprintf(stderr, "ml4t-ctl: %s%s%s (status, stats, train, swap PATH, rollback, reload)\n",
                cmd ? "unknown command '" : "no command given", cmd ? cmd : "", cmd ? "'" : "");
        return 2;
    }
    if (strcmp(cmd, "swap") == 0 && !arg) {
        fprintf(stderr, "ml4t-ctl: swap needs a model file path\n");
        return 2;
    }
    if (arg && strcmp(cmd, "swap") != 0) {
        fprintf(stderr, "ml4t-ctl: %s takes no argument\n", cmd);
        return 2;
    }
    if (timeout < 0)
        timeout =
            (strcmp(cmd, "swap") == 0 || strcmp(cmd, "rollback") == 0 || strcmp(cmd, "reload") == 0)
                ? 60000
                : 5000;
    zsys_handler_set(NULL);
    if (*control == '@' || *control == '>')
        control++;
    zsock_t *req = zsock_new(ZMQ_REQ);
    if (req && !s_curve_client(req, curve_cert, curve_server)) {
        zsock_destroy(&req);
        return 2;
    }
    if (!req || zsock_connect(req, "%s", control) != 0) {
        fprintf(stderr, "ml4t-ctl: cannot connect to '%s'\n", control);
        zsock_destroy(&req);
        return 2;
    }
    zsock_set_linger(req, 0);
    /* A REQ socket's send blocks while it has no usable peer (no node yet, or a
       handshake the node refused), so the send shares the one time budget with
       the receive: ml4t-ctl never waits longer than --timeout in all. */
    int64_t deadline = zclock_mono() + timeout;
    zsock_set_sndtimeo(req, (int)timeout);
    char line[1200];
    snprintf(line, sizeof line, "%s%s%s", cmd, arg ? " " : "", arg ? arg : "");
    char *reply = NULL;
    if (zstr_send(req, line) == 0) {
        int64_t left = deadline - zclock_mono();
        if (left > 0) {
            zsock_set_rcvtimeo(req, (int)left);
            reply = zstr_recv(req);
        }
    }
    zsock_destroy(&req);
    if (!reply) {
        fprintf(stderr,
                "ml4t-ctl: no answer from a node at %s within %ld ms (is ml4t-node "
                "running with --control %s?)\n",
                control, timeout, control);
        return 3;
    }
    printf("%s\n", reply);
    int rc = strstr(reply, "\"ok\":false") ? 1 : 0;
    free(reply);
    return rc;
}
