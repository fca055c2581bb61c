/*  ml4t-bench train: end-to-end ml4t-train on the seven FILUSDT months of the
    shared data (the bundled month when that is absent): wall time, peak RSS,
    bars, samples, walk-forward AUC, precision unfiltered vs filtered.

    The command runs as a child process so that its wall time and peak RSS
    (wait4) are the command's own. Extra suite arguments go to ml4t-train
    (e.g. `ml4t-bench train --threads 1`). */
#include "bench.h"

#include <cjson/cJSON.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ml4t/clock.h"

#define S_TRAIN_BIN ML4T_BINARY_DIR "/bin/ml4t-train"

/* Run argv with stdout into a malloc'd string; wall seconds and peak RSS (KiB). */
static int s_run(char **argv, char **out, double *wall, long *maxrss_kib)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    uint64_t t0 = ml4t_clock_mono_ns();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    ssize_t got;
    while (buf && (got = read(fds[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)got;
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    close(fds[0]);
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) {
        free(buf);
        return -1;
    }
    *wall = (double)(ml4t_clock_mono_ns() - t0) / 1e9;
    *maxrss_kib = ru.ru_maxrss;
    if (buf)
        buf[len] = '\0';
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static double s_num(const cJSON *root, const char *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        obj ? cJSON_GetObjectItemCaseSensitive(root, obj) : root, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void s_figures(ml4t_bench_report_t *r, const cJSON *rep)
{
    ml4t_bench_report_add(r, "bars", s_num(rep, "data", "bars"), "");
    ml4t_bench_report_add(r, "primary_signals", s_num(rep, "data", "signals"), "");
    ml4t_bench_report_add(r, "samples", s_num(rep, "data", "samples"), "");
    ml4t_bench_report_add(r, "oos_samples", s_num(rep, "overall", "n"), "");
    ml4t_bench_report_add(r, "walk_forward_auc", s_num(rep, "overall", "auc"), "");
    ml4t_bench_report_add(r, "walk_forward_accuracy", s_num(rep, "overall", "accuracy"), "");
    ml4t_bench_report_add(r, "precision_unfiltered", s_num(rep, "overall", "precision_primary"),
                          "");
    ml4t_bench_report_add(r, "precision_filtered", s_num(rep, "overall", "precision_filtered"), "");
    ml4t_bench_report_add(r, "signals_kept", s_num(rep, "overall", "n_kept"), "");
    ml4t_bench_report_add(r, "log_loss", s_num(rep, "overall", "log_loss"), "");
    ml4t_bench_report_add(r, "brier", s_num(rep, "overall", "brier"), "");
    ml4t_bench_report_add(r, "stage_features_s", s_num(rep, "seconds", "features"), "s");
    ml4t_bench_report_add(r, "stage_folds_s", s_num(rep, "seconds", "folds"), "s");
    ml4t_bench_report_add(r, "stage_final_s", s_num(rep, "seconds", "final"), "s");
}

const char ml4t_bench_train_usage[] =
    "any further arguments are passed to ml4t-train (see ml4t-train --help)";

int ml4t_bench_train(const ml4t_bench_opts_t *opts)
{
    ml4t_bench_report_t r;
    ml4t_bench_report_init(&r, "train", opts);
    glob_t g;
    int found = glob(ML4T_BENCH_SHARED_DATA "/FILUSDT-1m-*.csv.gz", 0, NULL, &g) == 0;
    if (!found)
        fprintf(stderr,
                "ml4t-bench train: shared data %s absent: running on the bundled month "
                "only\n",
                ML4T_BENCH_SHARED_DATA);
    ml4t_bench_report_text(&r, "data", found ? "shared FILUSDT months" : "bundled month only");
    char dir[] = "/tmp/ml4t_bench_train_XXXXXX";
    if (!mkdtemp(dir)) {
        if (found)
            globfree(&g);
        return 1;
    }
    size_t n_files = found ? g.gl_pathc : 1;
    char **argv = calloc(n_files + (size_t)opts->argc + 8, sizeof *argv);
    size_t a = 0;
    argv[a++] = (char *)S_TRAIN_BIN;
    argv[a++] = (char *)"--bars";
    for (size_t i = 0; i < n_files; i++)
        argv[a++] = found ? g.gl_pathv[i] : (char *)ML4T_BENCH_DATA_FILE;
    argv[a++] = (char *)"--out";
    argv[a++] = dir;
    argv[a++] = (char *)"--json";
    argv[a++] = (char *)"--quiet";
    for (int i = 0; i < opts->argc; i++)
        argv[a++] = opts->argv[i];
    char *out = NULL;
    double wall = 0;
    long rss = 0;
    int rc = s_run(argv, &out, &wall, &rss);
    ml4t_bench_report_add(&r, "files", (double)n_files, "");
    ml4t_bench_report_add(&r, "wall_time_s", wall, "s");
    ml4t_bench_report_add(&r, "peak_rss_mib", (double)rss / 1024.0, "MiB");
    cJSON *rep = rc == 0 && out ? cJSON_Parse(out) : NULL;
    if (rep)
        s_figures(&r, rep);
    else
        fprintf(stderr, "ml4t-bench train: %s exited with %d\n", S_TRAIN_BIN, rc);
    ml4t_bench_report_print(&r);
    cJSON_Delete(rep);
    free(out);
    free(argv);
    static const char *files[] = {"model.ubj", "manifest.json", "report.json", "report.html"};
    char path[sizeof dir + 32];
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    if (found)
        globfree(&g);
    return rep ? 0 : 1;
}
