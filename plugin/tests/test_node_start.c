/*  ml4t_node_start and zactor_new(ml4t_node_actor): a program that embeds the
    node gets the checks ml4t-node makes before it starts (every problem of
    ml4t_node_config_check refuses the start, the message naming it), and a
    configuration that passes them starts, answers STATUS and stops.
    ctest-labels: unit */
#include <unistd.h>

#include "ml4t/node.h"
#include "testutil.h"

/* A node on ephemeral loopback ports, no control socket, no model file (it
   serves the fallback), its store under a fresh directory. */
static void t_cfg(ml4t_node_config_t *cfg, char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/ml4t-test-node-start-XXXXXX");
    REQUIRE(mkdtemp(dir) != NULL);
    ml4t_node_config_default(cfg);
    ml4t_error_t err;
    REQUIRE(ml4t_node_config_set(cfg, "data_dir", dir, &err) == ML4T_OK);
    REQUIRE(ml4t_node_config_set(cfg, "signals", "@tcp://127.0.0.1:*", &err) == ML4T_OK);
    REQUIRE(ml4t_node_config_set(cfg, "enriched", "@tcp://127.0.0.1:*", &err) == ML4T_OK);
    REQUIRE(ml4t_node_config_set(cfg, "control", "", &err) == ML4T_OK);
    REQUIRE(ml4t_node_config_set(cfg, "model_path", "/nonexistent/model.ubj", &err) == ML4T_OK);
    cfg->quiet = true;
}

static void t_rmdir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* store.history off with retrain on: each value is valid alone, the pair is
   refused (ml4t-node's own check), and nothing starts. */
static void t_history_off_retrain_on_refused(void)
{
    static ml4t_node_config_t cfg;
    char dir[64];
    t_cfg(&cfg, dir, sizeof dir);
    ml4t_error_t err;
    REQUIRE(ml4t_node_config_set(&cfg, "store.history", "off", &err) == ML4T_OK);
    REQUIRE(ml4t_node_config_set(&cfg, "retrain", "on", &err) == ML4T_OK);
    zactor_t *node = ml4t_node_start(&cfg, &err);
    CHECK(node == NULL);
    CHECK(strstr(err.msg, "store.history=off") != NULL);
    CHECK(strstr(err.msg, "retrain=on") != NULL);
    fprintf(stderr, "  refused: %s\n", err.msg);
    zactor_destroy(&node);

    /* the plain czmq way: ERROR over the pipe names it; $TERM still stops it */
    node = zactor_new(ml4t_node_actor, &cfg);
    REQUIRE(node);
    zstr_send(node, "ERROR");
    char *why = zstr_recv(node);
    CHECK(why && strstr(why, "store.history=off") != NULL);
    free(why);
    zactor_destroy(&node);

    /* with retrain off too, the same node starts */
    REQUIRE(ml4t_node_config_set(&cfg, "retrain", "off", &err) == ML4T_OK);
    node = ml4t_node_start(&cfg, &err);
    CHECK(node != NULL);
    if (node) {
        zstr_send(node, "STATUS");
        char *status = zstr_recv(node);
        CHECK(status && strstr(status, "\"state\":\"running\"") != NULL);
        free(status);
    }
    zactor_destroy(&node);
    t_rmdir(dir);
}

/* Several problems: the first is named, and how many more there are. */
static void t_several_problems_counted(void)
{
    static ml4t_node_config_t cfg;
    char dir[64];
    t_cfg(&cfg, dir, sizeof dir);
    ml4t_error_t err;
    snprintf(cfg.transport_name, sizeof cfg.transport_name, "carrier-pigeon");
    REQUIRE(ml4t_node_config_set(&cfg, "store.history", "off", &err) == ML4T_OK);
    zactor_t *node = ml4t_node_start(&cfg, &err);
    CHECK(node == NULL);
    CHECK(strstr(err.msg, "transport=carrier-pigeon") != NULL);
    CHECK(strstr(err.msg, "and 1 more") != NULL);
    zactor_destroy(&node);
    t_rmdir(dir);
}

static const t_case_t cases[] = {
    T_CASE(t_history_off_retrain_on_refused),
    T_CASE(t_several_problems_counted),
};
T_MAIN(cases)
