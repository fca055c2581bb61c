/*  ml4t_supervisor tests: retrain from stored bars, validation, registry,
    rollback, restore after a restart, coalescing. */
/* ctest-labels: threaded */
#include "ml4t/csv.h"
#include "ml4t/supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

typedef struct {
    char dir[64];
    ml4t_store_t *store;
    ml4t_orchestrator_t *orch;
    ml4t_supervisor_t *sup;
} s_fixture_t;

static ml4t_bars_t s_month;
static double s_min_interval = 60.0; /* supervisor.min_interval_s of the next s_open */

static bool s_open(s_fixture_t *f, bool fill, double auc_tolerance)
{
    ml4t_error_t err;
    if (!f->dir[0]) {
        snprintf(f->dir, sizeof f->dir, "/tmp/ml4t-sup-XXXXXX");
        if (!mkdtemp(f->dir))
            return false;
    }
    f->store = ml4t_store_open(f->dir, NULL, &err);
    if (!f->store)
        return false;
    if (fill) {
        if (s_month.n == 0) {
            ml4t_bars_init(&s_month);
            ml4t_csv_stats_t st;
            if (ml4t_csv_load(T_DATA_FILE, &s_month, &st, NULL))
                return false;
        }
        /* two weeks of real bars is plenty for a test run */
        for (size_t i = 0; i < 20000; i++)
            ml4t_store_put_bar(f->store, "FILUSDT", s_month.ts[i], s_month.open[i], s_month.high[i],
                               s_month.low[i], s_month.close[i], s_month.volume[i],
                               s_month.buy_volume[i]);
        for (size_t i = 0; i < 500; i++)
            ml4t_store_put_bar(f->store, "NEARUSDT", s_month.ts[i], 1, 1, 1, 1, 1, 1);
        if (ml4t_store_flush(f->store, 10000))
            return false;
    }
    ml4t_orchestrator_config_t oc;
    ml4t_orchestrator_config_default(&oc);
    snprintf(oc.base.model_path, sizeof oc.base.model_path, "%s/none.ubj", f->dir);
    oc.policy_enabled = false;
    f->orch = ml4t_orchestrator_new(&oc, f->store, &err);
    if (!f->orch)
        return false;
    ml4t_supervisor_config_t sc;
    ml4t_supervisor_config_default(&sc);
    snprintf(sc.data_dir, sizeof sc.data_dir, "%s", f->dir);
    sc.auc_tolerance = auc_tolerance;
    sc.keep_versions = 3;
    sc.min_interval_s = s_min_interval;
    sc.train.model.n_trees = 20;
    sc.train.model.nthread = 1;
    f->sup = ml4t_supervisor_new(&sc, f->orch, f->store, &err);
    if (!f->sup)
        fprintf(stderr, "  supervisor_new: %s\n", err.msg);
    return f->sup != NULL;
}

static void s_close(s_fixture_t *f, bool remove)
{
    ml4t_supervisor_destroy(&f->sup);
    ml4t_orchestrator_destroy(&f->orch);
    ml4t_store_close(&f->store);
    if (remove && f->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", f->dir);
    }
}

static void s_retrain(s_fixture_t *f)
{
    ml4t_trigger_t t = {0};
    t.reason = ML4T_TRIGGER_MANUAL;
    ml4t_supervisor_request(f->sup, &t);
    ml4t_supervisor_wait_idle(f->sup, 120000);
}

static void t_retrain_registry_rollback_restore(void)
{
    s_fixture_t f = {0};
    REQUIRE(s_open(&f, true, 0.5));
    ml4t_model_slot_t *slot = ml4t_orchestrator_slot(f.orch);
    char v1[ML4T_ID_MAX + 1] = "", v2[ML4T_ID_MAX + 1] = "";
    s_retrain(&f);
    ml4t_supervisor_stats_t st;
    ml4t_supervisor_stats(f.sup, &st);
    CHECK_EQ_INT(st.accepted, 1);
    CHECK_STR(st.last_trigger, "manual");
    CHECK(strstr(st.last_result, "FILUSDT") != NULL); /* the instrument with most bars */
    ml4t_model_slot_version(slot, v1, sizeof v1);
    CHECK(strncmp(v1, "v0001-", 6) == 0);
    char path[200];
    snprintf(path, sizeof path, "%s/models/%s/manifest.json", f.dir, v1);
    CHECK(access(path, R_OK) == 0);
    snprintf(path, sizeof path, "%s/models/%s/hmm.json", f.dir, v1);
    CHECK(access(path, R_OK) == 0);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_supervisor_rollback(f.sup, &err), ML4T_ENOTFOUND);

    s_retrain(&f);
    ml4t_model_slot_version(slot, v2, sizeof v2);
    CHECK(strncmp(v2, "v0002-", 6) == 0);
    CHECK_EQ_INT(ml4t_supervisor_rollback(f.sup, &err), ML4T_OK);
    char now[ML4T_ID_MAX + 1];
    ml4t_model_slot_version(slot, now, sizeof now);
    CHECK_STR(now, v1);
    ml4t_registry_entry_t live;
    CHECK_EQ_INT(ml4t_store_registry_live(f.store, &live, &err), ML4T_OK);
    CHECK_STR(live.version, v1);
    s_close(&f, false);

    /* a restart: the registry's live model comes back */
    REQUIRE(s_open(&f, false, 0.5));
    CHECK_EQ_INT(ml4t_supervisor_restore(f.sup, &err), ML4T_OK);
    ml4t_model_slot_version(ml4t_orchestrator_slot(f.orch), now, sizeof now);
    CHECK_STR(now, v1);
    /* numbering continues after the registry's */
    s_retrain(&f);
    ml4t_model_slot_version(ml4t_orchestrator_slot(f.orch), now, sizeof now);
    CHECK(strncmp(now, "v0003-", 6) == 0);
    s_close(&f, true);
}

static void t_worse_candidate_is_refused(void)
{
    s_fixture_t f = {0};
    REQUIRE(s_open(&f, true, 0.0));
    s_retrain(&f);
    char v1[ML4T_ID_MAX + 1];
    ml4t_model_slot_t *slot = ml4t_orchestrator_slot(f.orch);
    ml4t_model_slot_version(slot, v1, sizeof v1);
    /* make the live model claim a better AUC than any candidate can reach */
    ml4t_model_t *live = ml4t_model_slot_acquire(slot);
    REQUIRE(live);
    ml4t_model_t *copy = NULL;
    char p[200];
    snprintf(p, sizeof p, "%s/models/%s/model.ubj", f.dir, v1);
    const ml4t_config_t *b = &ml4t_orchestrator_config(f.orch)->base;
    const char *names[ML4T_FEATURES_MAX];
    for (size_t i = 0; i < b->n_features; i++)
        names[i] = b->features[i];
    copy = ml4t_model_load(p, names, b->n_features, NULL);
    ml4t_model_slot_release(slot, &live);
    REQUIRE(copy);
    ml4t_model_set_metric(copy, "auc", 0.999, NULL);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_orchestrator_hot_swap(f.orch, copy, &err), ML4T_OK);
    s_retrain(&f);
    ml4t_supervisor_stats_t st;
    ml4t_supervisor_stats(f.sup, &st);
    CHECK_EQ_INT(st.refused, 1);
    CHECK(strstr(st.last_result, "refused") != NULL);
    char now[ML4T_ID_MAX + 1];
    ml4t_model_slot_version(slot, now, sizeof now);
    CHECK_STR(now, v1); /* the live model kept serving */
    s_close(&f, true);
}

static void t_requests_coalesce(void)
{
    s_fixture_t f = {0};
    s_min_interval = 0.0; /* no waiting: requests coalesce only by arriving during a run */
    REQUIRE(s_open(&f, true, 0.5));
    s_min_interval = 60.0;
    ml4t_trigger_t t = {0};
    t.reason = ML4T_TRIGGER_ACCURACY_DROP;
    for (int i = 0; i < 50; i++)
        ml4t_supervisor_request(f.sup, &t);
    CHECK_EQ_INT(ml4t_supervisor_wait_idle(f.sup, 120000), ML4T_OK);
    ml4t_supervisor_stats_t st;
    ml4t_supervisor_stats(f.sup, &st);
    CHECK_EQ_INT(st.requests, 50);
    CHECK(st.runs >= 1 && st.runs <= 2); /* one run, plus one for requests made during it */
    s_close(&f, true);
}

static void s_request(s_fixture_t *f, ml4t_trigger_reason_t why)
{
    ml4t_trigger_t t = {0};
    t.reason = why;
    ml4t_supervisor_request(f->sup, &t);
}

static ml4t_supervisor_stats_t s_stats(s_fixture_t *f)
{
    ml4t_supervisor_stats_t st;
    ml4t_supervisor_stats(f->sup, &st);
    return st;
}

/* Wait (up to 30 s) until the supervisor has finished n runs. */
static bool s_wait_runs(s_fixture_t *f, unsigned n)
{
    for (int i = 0; i < 600; i++) {
        ml4t_supervisor_stats_t st = s_stats(f);
        if (st.runs >= n && !st.busy)
            return true;
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    return false;
}

/* Automatic triggers wait min_interval_s after the start and after a run;
   TRAIN does not. */
static void t_min_interval_defers_automatic_runs(void)
{
    s_fixture_t f = {0};
    s_min_interval = 3.0;
    REQUIRE(s_open(&f, true, 0.5));
    s_min_interval = 60.0;
    struct timespec nap = {0, 300000000};
    s_request(&f, ML4T_TRIGGER_SAMPLE_COUNT); /* just started: it waits too */
    nanosleep(&nap, NULL);
    CHECK_EQ_INT(s_stats(&f).runs, 0);
    CHECK(s_stats(&f).deferred);
    CHECK(s_wait_runs(&f, 1)); /* ... and runs 3 s after the start */
    CHECK_EQ_INT(s_stats(&f).runs, 1);
    CHECK(!s_stats(&f).deferred);
    s_request(&f, ML4T_TRIGGER_ACCURACY_DROP);
    s_request(&f, ML4T_TRIGGER_SAMPLE_COUNT);
    nanosleep(&nap, NULL);
    ml4t_supervisor_stats_t st = s_stats(&f);
    CHECK_EQ_INT(st.runs, 1); /* 0.3 s after a run: both wait */
    CHECK(st.deferred);
    s_request(&f, ML4T_TRIGGER_MANUAL); /* exempt, and it serves the waiting ones too */
    CHECK_EQ_INT(ml4t_supervisor_wait_idle(f.sup, 120000), ML4T_OK);
    st = s_stats(&f);
    CHECK_EQ_INT(st.runs, 2);
    CHECK(!st.deferred);
    s_request(&f, ML4T_TRIGGER_CHANGEPOINT);
    nanosleep(&nap, NULL);
    CHECK_EQ_INT(s_stats(&f).runs, 2);
    CHECK(s_stats(&f).deferred);
    /* ... and runs once the interval is over, without another request */
    CHECK(s_wait_runs(&f, 3));
    CHECK_EQ_INT(s_stats(&f).runs, 3);
    CHECK(!s_stats(&f).deferred);
    CHECK_EQ_INT(s_stats(&f).requests, 5);
    s_close(&f, true);
}

/* How many threads of this process have the nice value want (/proc/self/task). */
static int s_threads_with_nice(int want)
{
    int found = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], line[512];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(line, sizeof line, f)) {
            const char *p = strrchr(line, ')'); /* the name may hold spaces */
            int field = 2, nice = 0;            /* after ')' comes field 3, the state */
            for (; p && *p; p++)
                if (*p == ' ' && ++field == 19) {
                    nice = atoi(p + 1);
                    break;
                }
            found += field == 19 && nice == want;
        }
        fclose(f);
    }
    if (d)
        closedir(d);
    return found;
}

/* Training runs below the hot path: the supervisor thread (and the workers
   it starts) carry nice + 10; the caller's thread keeps its own. */
static void t_training_runs_below_the_hot_path(void)
{
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);
    REQUIRE(!(base == -1 && errno));
    int want = base + 10 > 19 ? 19 : base + 10;
    REQUIRE(want > base);
    int before = s_threads_with_nice(want);
    s_fixture_t f = {0};
    REQUIRE(s_open(&f, false, 0.5));
    int after = 0;
    for (int i = 0; i < 100 && after <= before; i++) {
        nanosleep(&(struct timespec){0, 10000000}, NULL);
        after = s_threads_with_nice(want);
    }
    CHECK_EQ_INT(after, before + 1);
    CHECK_EQ_INT(getpriority(PRIO_PROCESS, 0), base);
    s_close(&f, true);
}

static void t_empty_store_fails_cleanly(void)
{
    s_fixture_t f = {0};
    REQUIRE(s_open(&f, false, 0.5));
    s_retrain(&f);
    ml4t_supervisor_stats_t st;
    ml4t_supervisor_stats(f.sup, &st);
    CHECK_EQ_INT(st.skipped, 1);
    CHECK_EQ_INT(st.failed, 0);
    CHECK(strstr(st.last_result, "skipped") != NULL);
    CHECK(strstr(st.last_result, "no bars") != NULL);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_supervisor_restore(f.sup, &err), ML4T_ENOTFOUND);
    CHECK_EQ_INT(ml4t_supervisor_swap_file(f.sup, "/nonexistent/model.ubj", &err) != ML4T_OK, 1);
    s_close(&f, true);
}

/* In a child process (the limit must not reach the other cases): a live model,
   then a file-size limit that makes the next save fail, and a corrupt model
   file pushed for a swap. The live model keeps serving; both failures are
   reported. The child's exit status is its number of failed checks. */
static void t_failed_save_and_corrupt_file_keep_live_model(void)
{
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        s_fixture_t f = {0};
        int before = t_failed_checks;
        if (!s_open(&f, true, 0.5))
            _exit(99);
        ml4t_model_slot_t *slot = ml4t_orchestrator_slot(f.orch);
        s_retrain(&f);
        char v1[ML4T_ID_MAX + 1] = "", now[ML4T_ID_MAX + 1] = "";
        ml4t_model_slot_version(slot, v1, sizeof v1);
        CHECK(v1[0] != '\0');
        /* a corrupt model: the live one's booster with bytes flipped */
        char good[160], bad_dir[160], cmd[700];
        snprintf(good, sizeof good, "%s/models/%s", f.dir, v1);
        snprintf(bad_dir, sizeof bad_dir, "%s/corrupt", f.dir);
        snprintf(cmd, sizeof cmd,
                 "cp -r %s %s && printf 'XXXX' | dd of=%s/model.ubj bs=1 seek=100 conv=notrunc "
                 "status=none",
                 good, bad_dir, bad_dir);
        CHECK_EQ_INT(system(cmd), 0);
        char bad[240];
        snprintf(bad, sizeof bad, "%s/model.ubj", bad_dir);
        ml4t_error_t err;
        CHECK(ml4t_supervisor_swap_file(f.sup, bad, &err) != ML4T_OK);
        fprintf(stderr, "  corrupt model refused: [%s] %s\n", err.field, err.msg);
        CHECK(strstr(err.msg, "SHA-256") != NULL && err.code != ML4T_OK);
        ml4t_model_slot_version(slot, now, sizeof now);
        CHECK_STR(now, v1);
        /* a disk that refuses to grow files: the next save fails */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {1024, 1024};
        CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &rl), 0);
        s_retrain(&f);
        ml4t_supervisor_stats_t st;
        ml4t_supervisor_stats(f.sup, &st);
        CHECK_EQ_INT(st.failed, 1);
        CHECK(strstr(st.last_result, "cannot save") != NULL);
        ml4t_model_slot_version(slot, now, sizeof now);
        CHECK_STR(now, v1);
        /* and it still predicts */
        ml4t_model_t *m = ml4t_model_slot_acquire(slot);
        CHECK(m != NULL);
        ml4t_model_slot_release(slot, &m);
        rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
        setrlimit(RLIMIT_FSIZE, &rl);
        s_close(&f, true);
        _exit(t_failed_checks - before);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ_INT(WEXITSTATUS(status), 0);
}

static void t_cleanup(void)
{
    ml4t_bars_destroy(&s_month);
}

static const t_case_t cases[] = {
    T_CASE(t_retrain_registry_rollback_restore),
    T_CASE(t_worse_candidate_is_refused),
    T_CASE(t_requests_coalesce),
    T_CASE(t_min_interval_defers_automatic_runs),
    T_CASE(t_training_runs_below_the_hot_path),
    T_CASE(t_empty_store_fails_cleanly),
    T_CASE(t_failed_save_and_corrupt_file_keep_live_model),
    T_CASE(t_cleanup),
};
T_MAIN(cases)
