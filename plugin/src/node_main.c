/*  ml4t-node: the node as a program. Configuration from a ZPL file, then
    ML4T_* environment variables, then flags; every invalid value is named in
    one message before anything starts. SIGINT/SIGTERM stop it cleanly. */
#include "ml4t/node.h"
#include "ml4t/sched.h"

#include <pthread.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void s_help(FILE *out)
{
    ml4t_node_config_t d;
    ml4t_node_config_default(&d);
    fprintf(out,
            "usage: ml4t-node [--config FILE.zpl] [--KEY VALUE | --KEY=VALUE]... [--print-config]\n"
            "\n"
            "The ml4t signal-enrichment node. It receives SignalEvents (and OutcomeEvents,\n"
            "RiskStateEvents), answers each signal with an EnrichedSignalEvent, publishes\n"
            "ErrorEvents for refused input, stats every stats_interval seconds, and serves\n"
            "a control socket for ml4t-ctl. See docs/node.md.\n"
            "\n"
            "Configuration, later sources overriding earlier ones:\n"
            "  1. defaults (below);\n"
            "  2. a ZPL file (--config FILE or ML4T_CONFIG=FILE): sections node and model\n"
            "     hold bare keys, sections zmq, redis, failover, policy, store, supervisor,\n"
            "     train hold the keys after their dot (e.g. [redis] port = 6380);\n"
            "  3. environment variables ML4T_<KEY> (upper case, '.' -> '_'), e.g.\n"
            "     ML4T_REDIS_PORT=6380, ML4T_MODEL_PATH=...;\n"
            "  4. flags --KEY VALUE, where '-' and '_' are the same and '.' may be\n"
            "     written '-' (--redis-port 6380, --model-path m.ubj). A boolean flag\n"
            "     given alone means on.\n"
            "Every invalid value is reported together, and the node exits with 2 before\n"
            "binding anything. Endpoints follow czmq: '@' binds, '>' connects.\n"
            "\n"
            "Other flags:\n"
            "  --config FILE    ZPL configuration file\n"
            "  --print-config   print the effective configuration and exit 0\n"
            "  --help           this text\n"
            "\n"
            "Signals: SIGINT or SIGTERM stop reading, finish the messages in hand, flush\n"
            "the history store and exit 0. Exit codes: 0 clean stop, 1 could not start\n"
            "(e.g. an endpoint in use), 2 invalid configuration.\n"
            "\n"
            "Options (default in brackets):\n");
    for (const ml4t_node_option_t *o = ml4t_node_config_options(); o->key; o++) {
        char def[512], env[160];
        ml4t_node_config_get(&d, o->key, def, sizeof def);
        ml4t_node_config_env_name(o->key, env, sizeof env);
        fprintf(out, "  --%-34s [%s]\n", o->key, def);
        fprintf(out, "      %s%s(%s)\n", o->help, o->help[0] ? " " : "", env);
    }
}

static void s_print_config(const ml4t_node_config_t *cfg)
{
    for (const ml4t_node_option_t *o = ml4t_node_config_options(); o->key; o++) {
        char v[512];
        ml4t_node_config_get(cfg, o->key, v, sizeof v);
        if (strstr(o->key, "password") && v[0])
            snprintf(v, sizeof v, "(set)");
        printf("%s = %s\n", o->key, v);
    }
}

static bool s_is_bool_option(const ml4t_node_config_t *cfg, const char *key)
{
    char v[16];
    return ml4t_node_config_get(cfg, key, v, sizeof v) == ML4T_OK &&
           (strcmp(v, "on") == 0 || strcmp(v, "off") == 0);
}

/* Flags over the configuration; every bad one goes to problems. */
static void s_flags(ml4t_node_config_t *cfg, int argc, char **argv, ml4t_node_problems_t *pr)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0 || strcmp(a, "--print-config") == 0) {
            i += strcmp(a, "--config") == 0;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            ml4t_node_problems_add(pr, "%s: expected --KEY VALUE", a);
            continue;
        }
        char key[160];
        snprintf(key, sizeof key, "%s", a + 2);
        const char *value = NULL;
        char *eq = strchr(key, '=');
        if (eq) {
            *eq = '\0';
            value = a + 2 + (eq - key) + 1;
        } else if (s_is_bool_option(cfg, key) &&
                   (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
            value = "on";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            ml4t_node_problems_add(pr, "--%s: needs a value", key);
            continue;
        }
        ml4t_error_t err;
        if (ml4t_node_config_set(cfg, key, value, &err))
            ml4t_node_problems_add(pr, "--%s: %s", key, err.msg);
    }
}

static const char *s_config_file(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0)
            return argv[i + 1];
    return getenv("ML4T_CONFIG");
}

int main(int argc, char **argv)
{
    ml4t_sched_passive_openmp(argv); /* returns only when it did not re-execute */
#ifdef __GLIBC__
    /* Blocks of 1 MiB and more get mappings of their own, returned when freed.
       By default glibc raises this threshold to the largest block freed, so
       after the first retrain every retrain's multi-megabyte matrices came out
       of the threads' arenas and the node's RSS crept up run after run
       (docs/reliability.md, soak runs 4-11). */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    bool print_only = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_help(stdout);
            return 0;
        }
        print_only = print_only || strcmp(argv[i], "--print-config") == 0;
    }
    static ml4t_node_config_t cfg; /* large: off the stack */
    ml4t_node_config_default(&cfg);
    ml4t_node_problems_t pr = {0};
    const char *file = s_config_file(argc, argv);
    if (argc > 1 && strcmp(argv[argc - 1], "--config") == 0)
        ml4t_node_problems_add(&pr, "--config: needs a file");
    if (file)
        ml4t_node_config_load_zpl(&cfg, file, &pr);
    ml4t_node_config_load_env(&cfg, &pr);
    s_flags(&cfg, argc, argv, &pr);
    ml4t_node_config_check(&cfg, &pr);
    if (pr.n) {
        fprintf(stderr, "ml4t-node: %zu invalid setting%s, nothing started:\n%s", pr.n,
                pr.n == 1 ? "" : "s", pr.text);
        fprintf(stderr, "(ml4t-node --help lists every option)\n");
        return 2;
    }
    if (print_only) {
        s_print_config(&cfg);
        return 0;
    }

    /* Signals are taken by this thread alone (sigtimedwait); every thread started
       from here inherits the mask, so no socket call elsewhere sees EINTR. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    zsys_handler_set(NULL);
    setenv("OMP_WAIT_POLICY", "passive", 0);
    /* A file-size limit (or quota) reached while saving a model or the history must
       fail that write (EFBIG, reported) rather than kill the node: SIGXFSZ's
       default action is to terminate. */
    signal(SIGXFSZ, SIG_IGN);

    ml4t_error_t err;
    zactor_t *node = ml4t_node_start(&cfg, &err);
    if (!node) {
        fprintf(stderr, "ml4t-node: cannot start: %s\n", err.msg);
        return 1;
    }
    if (!cfg.quiet)
        fprintf(stderr, "ml4t-node: running (pid %d); SIGINT or SIGTERM stops it\n", (int)getpid());
    int sig = 0;
    while (sig <= 0) {
        struct timespec ts = {1, 0};
        sig = sigtimedwait(&set, NULL, &ts);
    }
    if (!cfg.quiet)
        fprintf(stderr, "ml4t-node: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    zactor_destroy(&node); /* finishes the burst in hand, flushes the store, frees models */
    if (!cfg.quiet)
        fprintf(stderr, "ml4t-node: stopped\n");
    return 0;
}
