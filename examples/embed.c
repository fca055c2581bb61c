/*  Embedding the node in a C program: start ml4t_node_actor with zactor_new,
    ask it for its STATUS over the actor pipe, and stop it.

    build/bin/ml4t-example-embed [DATA_DIR]

    The node binds ephemeral loopback ports here ("*"), so it runs beside
    anything else on the machine. */
#include <stdlib.h>

#include "ml4t/node.h"

int main(int argc, char **argv)
{
    static ml4t_node_config_t cfg; /* large: off the stack */
    ml4t_node_config_default(&cfg);
    ml4t_error_t err;
    const char *dir = argc > 1 ? argv[1] : "/tmp/ml4t-embed";
    if (ml4t_node_config_set(&cfg, "data_dir", dir, &err) ||
        ml4t_node_config_set(&cfg, "signals", "@tcp://127.0.0.1:*", &err) ||
        ml4t_node_config_set(&cfg, "enriched", "@tcp://127.0.0.1:*", &err) ||
        ml4t_node_config_set(&cfg, "control", "", &err) ||
        ml4t_node_config_set(&cfg, "model_path", "/nonexistent/model.ubj", &err)) {
        fprintf(stderr, "embed: %s\n", err.msg);
        return 2;
    }
    cfg.quiet = true;

    /* the plain czmq way: zactor_new, then talk over the pipe */
    zactor_t *node = zactor_new(ml4t_node_actor, &cfg);
    zstr_send(node, "ERROR");
    char *why = zstr_recv(node);
    if (!why || *why) {
        fprintf(stderr, "embed: the node could not start: %s\n", why ? why : "?");
        free(why);
        zactor_destroy(&node);
        return 1;
    }
    free(why);
    zstr_send(node, "STATUS");
    char *status = zstr_recv(node);
    printf("embed: STATUS %s\n", status ? status : "(none)");
    int rc = status && strstr(status, "\"state\":\"running\"") ? 0 : 1;
    free(status);
    zactor_destroy(&node); /* $TERM: flush the store, stop the supervisor, close */
    printf("embed: node stopped\n");
    return rc;
}
