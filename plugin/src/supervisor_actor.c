/*  ml4t_supervisor_actor: model work that may block (loading a file, rolling
    back) on its own thread, so the node's hot path never waits on it. */
#include "ml4t/node.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml4t/sched.h"

static char *s_result(ml4t_supervisor_t *sup, ml4t_err_t rc, const ml4t_error_t *err,
                      const char *what)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", rc == ML4T_OK);
    if (rc) {
        cJSON_AddStringToObject(o, "error", err->msg[0] ? err->msg : ml4t_strerror(rc));
        cJSON_AddStringToObject(o, "reason", ml4t_err_reason(rc));
    } else {
        cJSON_AddStringToObject(o, "result", what);
    }
    ml4t_supervisor_stats_t st;
    ml4t_supervisor_stats(sup, &st);
    cJSON_AddStringToObject(o, "live_version", st.live_version);
    cJSON_AddStringToObject(o, "last_result", st.last_result);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static char *s_do(ml4t_supervisor_actor_args_t *a, const char *cmd, const char *arg)
{
    ml4t_error_t err;
    ml4t_error_clear(&err);
    ml4t_err_t rc;
    if (strcmp(cmd, "SWAP") == 0 || strcmp(cmd, "RELOAD") == 0) {
        const char *path = strcmp(cmd, "RELOAD") == 0 ? a->model_path : arg;
        if (!path || !*path)
            rc = ml4t_error_set(&err, ML4T_EINVAL, "path", "SWAP needs a model file path");
        else
            rc = ml4t_supervisor_swap_file(a->supervisor, path, &err);
        return s_result(a->supervisor, rc, &err, "swapped in");
    }
    if (strcmp(cmd, "ROLLBACK") == 0) {
        rc = ml4t_supervisor_rollback(a->supervisor, &err);
        return s_result(a->supervisor, rc, &err, "rolled back");
    }
    if (strcmp(cmd, "TRAIN") == 0) {
        ml4t_trigger_t t;
        memset(&t, 0, sizeof t);
        t.reason = ML4T_TRIGGER_MANUAL;
        t.priority = 3;
        ml4t_supervisor_request(a->supervisor, &t);
        return s_result(a->supervisor, ML4T_OK, &err, "retrain requested");
    }
    if (strcmp(cmd, "STATUS") == 0)
        return s_result(a->supervisor, ML4T_OK, &err, "status");
    rc = ml4t_error_set(&err, ML4T_EINVAL, "command", "unknown supervisor command '%.40s'", cmd);
    return s_result(a->supervisor, rc, &err, "");
}

void ml4t_supervisor_actor(zsock_t *pipe, void *args)
{
    ml4t_supervisor_actor_args_t a = *(ml4t_supervisor_actor_args_t *)args;
    ml4t_sched_name("ml4t-sup-actor");
    zsock_signal(pipe, 0);
    for (;;) {
        zmsg_t *msg = zmsg_recv(pipe);
        if (!msg)
            break;
        if (zmsg_size(msg) == 1) { /* $TERM */
            char *cmd = zmsg_popstr(msg);
            bool term = cmd && strcmp(cmd, "$TERM") == 0;
            free(cmd);
            zmsg_destroy(&msg);
            if (term)
                break;
            continue;
        }
        zframe_t *to = zmsg_pop(msg);
        char *cmd = zmsg_popstr(msg);
        char *arg = zmsg_popstr(msg);
        char *text = s_do(&a, cmd ? cmd : "", arg);
        zmsg_t *reply = zmsg_new();
        zmsg_append(reply, &to);
        zmsg_addstr(reply, text ? text : "{\"ok\":false}");
        zmsg_send(&reply, pipe);
        free(text);
        free(cmd);
        free(arg);
        zmsg_destroy(&msg);
    }
    ml4t_supervisor_destroy(&a.supervisor);
}
