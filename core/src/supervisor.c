/*  ml4t_supervisor: retraining, validation, registry and hot swap, off the hot path. */
#include "ml4t/supervisor.h"

#include <cjson/cJSON.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ml4t/clock.h"
#include "ml4t/hmm.h"
#include "ml4t/model.h"
#include "ml4t/sched.h"

struct ml4t_supervisor {
    ml4t_supervisor_config_t cfg;
    ml4t_orchestrator_t *orch;
    ml4t_store_t *store;
    pthread_t thread;
    bool started;
    sem_t wake;
    _Atomic bool stop;
    _Atomic uint32_t pending;  /* S_AUTO | S_MANUAL: requests not yet taken by the thread */
    _Atomic uint32_t deferred; /* an automatic request waits for min_interval_s */
    _Atomic uint32_t busy;     /* a run is in progress */
    _Atomic uint64_t requests;
    pthread_mutex_t lock; /* stats and the registry's version counter */
    ml4t_supervisor_stats_t st;
    unsigned next_seq;
};

void ml4t_supervisor_config_default(ml4t_supervisor_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "data");
    cfg->keep_versions = 5;
    cfg->auc_tolerance = 0.02;
    cfg->max_train_bars = 400000;
    cfg->fit_hmm = true;
    cfg->min_interval_s = 60.0;
    cfg->nice = 10;
    ml4t_train_config_default(&cfg->train);
}

ml4t_err_t ml4t_supervisor_config_validate(const ml4t_supervisor_config_t *cfg, ml4t_error_t *err)
{
    if (!cfg->data_dir[0])
        return ml4t_error_set(err, ML4T_EINVAL, "data_dir", "data_dir is empty");
    if (cfg->keep_versions < 2 || cfg->keep_versions > 1000)
        return ml4t_error_set(err, ML4T_ERANGE, "keep_versions",
                              "keep_versions=%zu: must be in [2, 1000]", cfg->keep_versions);
    if (!(cfg->auc_tolerance >= 0.0 && cfg->auc_tolerance <= 0.5))
        return ml4t_error_set(err, ML4T_ERANGE, "auc_tolerance",
                              "auc_tolerance=%g: must be in [0, 0.5]", cfg->auc_tolerance);
    if (cfg->max_train_bars < 1000)
        return ml4t_error_set(err, ML4T_ERANGE, "max_train_bars",
                              "max_train_bars=%zu: must be >= 1000", cfg->max_train_bars);
    if (cfg->nice < ML4T_SCHED_NICE_MIN || cfg->nice > ML4T_SCHED_NICE_MAX)
        return ml4t_error_set(err, ML4T_ERANGE, "nice", "nice=%d: must be in [%d, %d]", cfg->nice,
                              ML4T_SCHED_NICE_MIN, ML4T_SCHED_NICE_MAX);
    if (!(cfg->min_interval_s >= 0.0 && cfg->min_interval_s <= 604800.0))
        return ml4t_error_set(err, ML4T_ERANGE, "min_interval_s",
                              "min_interval_s=%g: must be in [0, 604800] seconds",
                              cfg->min_interval_s);
    return ml4t_train_config_validate(&cfg->train, err);
}

/* A failed run: counted, and its reason kept for STATUS and logged. */
static void s_failed(ml4t_supervisor_t *self, const char *what, const char *why)
{
    pthread_mutex_lock(&self->lock);
    self->st.failed++;
    snprintf(self->st.last_result, sizeof self->st.last_result, "failed: %.40s%.100s", what, why);
    pthread_mutex_unlock(&self->lock);
    fprintf(stderr, "ml4t supervisor: failed: %s%s\n", what, why);
}

static double s_metric(const ml4t_model_t *m, const char *name)
{
    const ml4t_model_manifest_t *man = m ? ml4t_model_manifest(m) : NULL;
    const cJSON *v =
        man && man->metrics ? cJSON_GetObjectItemCaseSensitive(man->metrics, name) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int s_mkdirs(const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static void s_remove_version_files(const char *model_path)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s", model_path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return;
    *slash = '\0';
    static const char *files[] = {"model.ubj", "manifest.json", "hmm.json"};
    char f[400];
    for (size_t i = 0; i < 3; i++) {
        snprintf(f, sizeof f, "%s/%s", dir, files[i]);
        unlink(f);
    }
    rmdir(dir);
}

#define S_REGISTRY_MAX 1024 /* versions read back from the registry, newest first */

/* The registry, newest first, in a list the caller frees; NULL on failure (err). */
static ml4t_registry_entry_t *s_registry(ml4t_store_t *store, size_t *n, ml4t_error_t *err)
{
    ml4t_registry_entry_t *list = calloc(S_REGISTRY_MAX, sizeof *list);
    *n = 0;
    if (!list) {
        ml4t_error_set(err, ML4T_ENOMEM, "registry", "out of memory");
        return NULL;
    }
    if (ml4t_store_registry_list(store, list, S_REGISTRY_MAX, n, err) != ML4T_OK) {
        free(list);
        return NULL;
    }
    return list;
}

/* Keep the newest keep_versions versions (the live one always). */
static void s_prune(ml4t_supervisor_t *self)
{
    size_t n;
    ml4t_registry_entry_t *list = s_registry(self->store, &n, NULL);
    if (!list)
        return;
    for (size_t i = self->cfg.keep_versions; i < n; i++) {
        if (strcmp(list[i].status, "live") == 0)
            continue;
        s_remove_version_files(list[i].path);
        ml4t_store_registry_remove(self->store, list[i].version, NULL);
    }
    free(list);
}

/* Record an accepted model as live and swap it in. Takes the caller's reference. */
static ml4t_err_t s_deploy(ml4t_supervisor_t *self, ml4t_model_t *m, const char *path,
                           const char *note, ml4t_error_t *err)
{
    ml4t_registry_entry_t e;
    memset(&e, 0, sizeof e);
    snprintf(e.version, sizeof e.version, "%s", ml4t_model_version(m));
    snprintf(e.path, sizeof e.path, "%s", path);
    e.created_ns = ml4t_clock_wall_ns();
    e.auc = s_metric(m, "auc");
    e.accuracy = s_metric(m, "accuracy");
    snprintf(e.status, sizeof e.status, "candidate");
    snprintf(e.note, sizeof e.note, "%s", note);
    ml4t_err_t rc = ml4t_orchestrator_hot_swap(self->orch, m, err);
    if (rc) {
        ml4t_model_unref(&m);
        return rc;
    }
    if ((rc = ml4t_store_registry_add(self->store, &e, err)) ||
        (rc = ml4t_store_registry_set_live(self->store, e.version, err)))
        fprintf(stderr, "ml4t supervisor: model %s is live but the registry did not record it\n",
                e.version);
    pthread_mutex_lock(&self->lock);
    snprintf(self->st.live_version, sizeof self->st.live_version, "%s", e.version);
    pthread_mutex_unlock(&self->lock);
    s_prune(self);
    return rc;
}

/* The instrument to train on: the configured one, or the one with most bars. */
static ml4t_err_t s_snapshot(ml4t_supervisor_t *self, ml4t_bars_t *bars, char *which,
                             ml4t_error_t *err)
{
    /* the bars the writer holds for its next commit (up to flush_interval_ms
       of them) belong in this run too; a writer kept from every core for a
       second leaves them to the next */
    (void)ml4t_store_flush(self->store, 1000);
    if (self->cfg.train_instrument[0]) {
        snprintf(which, ML4T_INSTRUMENT_MAX + 1, "%s", self->cfg.train_instrument);
    } else {
        uint64_t n = 0;
        ml4t_err_t rc = ml4t_store_busiest_instrument(self->store, which, &n, err);
        if (rc)
            return rc;
    }
    return ml4t_store_load_bars(self->store, which, self->cfg.max_train_bars, bars, err);
}

static unsigned s_next_seq(ml4t_supervisor_t *self)
{
    pthread_mutex_lock(&self->lock);
    unsigned seq = ++self->next_seq;
    pthread_mutex_unlock(&self->lock);
    return seq;
}

static void s_version_name(unsigned seq, char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(buf, size, "v%04u-%s", seq, stamp);
}

/* One training run: snapshot, train, validate, save, deploy. */
static void s_run(ml4t_supervisor_t *self)
{
    uint64_t t0 = ml4t_clock_mono_ns();
    ml4t_error_t err;
    ml4t_error_clear(&err);
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    ml4t_train_result_t *res = calloc(1, sizeof *res);
    ml4t_model_t *cand = NULL;
    char which[ML4T_INSTRUMENT_MAX + 1] = "";
    pthread_mutex_lock(&self->lock);
    self->st.runs++;
    pthread_mutex_unlock(&self->lock);

    if (!res || s_snapshot(self, &bars, which, &err) ||
        ml4t_train_run(&self->cfg.train, &bars, NULL, res, &cand, &err)) {
        if (err.code == ML4T_ENODATA) {
            /* too little history yet: nothing is wrong, the next trigger tries again */
            pthread_mutex_lock(&self->lock);
            self->st.skipped++;
            snprintf(self->st.last_result, sizeof self->st.last_result,
                     "skipped: not enough history yet (%.120s)", err.msg);
            pthread_mutex_unlock(&self->lock);
            fprintf(stderr, "ml4t supervisor: %s\n", self->st.last_result);
        } else {
            s_failed(self, "", err.msg[0] ? err.msg : "out of memory");
        }
        goto out;
    }
    double auc = res->overall.auc;
    ml4t_model_t *live = ml4t_model_slot_acquire(ml4t_orchestrator_slot(self->orch));
    double live_auc = s_metric(live, "auc");
    ml4t_model_slot_release(ml4t_orchestrator_slot(self->orch), &live);
    pthread_mutex_lock(&self->lock);
    self->st.last_auc = auc;
    pthread_mutex_unlock(&self->lock);
    /* NaN AUC (one class only) never beats anything; a NaN live AUC never blocks */
    if (!(auc >= live_auc - self->cfg.auc_tolerance) && !isnan(live_auc)) {
        pthread_mutex_lock(&self->lock);
        self->st.refused++;
        snprintf(self->st.last_result, sizeof self->st.last_result,
                 "refused: candidate AUC %.4f below live AUC %.4f - tolerance %.3f", auc, live_auc,
                 self->cfg.auc_tolerance);
        pthread_mutex_unlock(&self->lock);
        fprintf(stderr, "ml4t supervisor: %s\n", self->st.last_result);
        goto out;
    }
    if (self->cfg.fit_hmm) {
        ml4t_hmm_config_t hc;
        ml4t_hmm_config_default(&hc);
        ml4t_hmm_t *h = ml4t_hmm_fit_closes(bars.close, bars.n, &hc, &err);
        if (h)
            ml4t_model_attach_hmm(cand, h);
        else
            fprintf(stderr, "ml4t supervisor: HMM not fitted (%s): model ships without it\n",
                    err.msg);
    }
    char version[ML4T_ID_MAX + 1], dir[340], path[360];
    s_version_name(s_next_seq(self), version, sizeof version);
    snprintf(dir, sizeof dir, "%.255s/models/%.64s", self->cfg.data_dir, version);
    snprintf(path, sizeof path, "%s/model.ubj", dir);
    if (ml4t_model_set_version(cand, version, &err) || s_mkdirs(dir) ||
        ml4t_model_save(cand, path, &err)) {
        s_failed(self, "cannot save the model: ", err.msg[0] ? err.msg : strerror(errno));
        goto out;
    }
    char note[160];
    snprintf(note, sizeof note, "trained on %zu bars of %s, %zu samples, AUC %.4f", bars.n, which,
             res->n_samples, auc);
    ml4t_model_t *m = cand;
    cand = NULL;
    if (s_deploy(self, m, path, note, &err)) {
        s_failed(self, "", err.msg);
        goto out;
    }
    pthread_mutex_lock(&self->lock);
    self->st.accepted++;
    snprintf(self->st.last_result, sizeof self->st.last_result, "accepted %.32s: %.110s", version,
             note);
    pthread_mutex_unlock(&self->lock);
    fprintf(stderr, "ml4t supervisor: %s\n", self->st.last_result);
out:
    ml4t_model_unref(&cand);
    ml4t_bars_destroy(&bars);
    free(res);
#ifdef __GLIBC__
    /* a training run frees its matrices and trees across the training threads' malloc
       arenas; hand the free pages back so the node's RSS stays flat from one
       retrain to the next instead of keeping each run's high-water mark */
    malloc_trim(0);
#endif
    pthread_mutex_lock(&self->lock);
    self->st.last_seconds = (double)(ml4t_clock_mono_ns() - t0) / 1e9;
    self->st.last_ts_ns = ml4t_clock_wall_ns();
    pthread_mutex_unlock(&self->lock);
}

enum { S_AUTO = 1, S_MANUAL = 2 };

/* Sleep until woken, or until the monotonic time due_ns when it is not 0. */
static void s_wait(ml4t_supervisor_t *self, uint64_t due_ns)
{
    if (!due_ns) {
        while (sem_wait(&self->wake) == -1 && errno == EINTR)
            ;
        return;
    }
    uint64_t now = ml4t_clock_mono_ns();
    if (due_ns <= now)
        return;
    struct timespec ts; /* sem_timedwait takes CLOCK_REALTIME */
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t at = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + (due_ns - now);
    ts.tv_sec = (time_t)(at / 1000000000ull);
    ts.tv_nsec = (long)(at % 1000000000ull);
    while (sem_timedwait(&self->wake, &ts) == -1 && errno == EINTR)
        ;
}

/* Lower this thread's priority by cfg.nice (ml4t/sched.h); threads it creates
   inherit it, so XGBoost's OpenMP workers for a run started here share it. */
static void s_lower_priority(const ml4t_supervisor_t *self)
{
    int rc = ml4t_sched_nice(self->cfg.nice);
    if (rc && rc != ENOSYS)
        fprintf(stderr, "ml4t supervisor: cannot lower the training priority: %s\n", strerror(rc));
}

static void *s_thread(void *arg)
{
    ml4t_supervisor_t *self = arg;
    ml4t_sched_name("ml4t-supervisor");
    s_lower_priority(self);
    const uint64_t interval = (uint64_t)(self->cfg.min_interval_s * 1e9);
    /* The interval also runs from the start: a node that has just started is
       busiest catching up, and its first changepoints and accuracy figures come
       from a few bars of warm-up. */
    uint64_t last_end = ml4t_clock_mono_ns(); /* monotonic end of the last run */
    bool deferred = false;
    while (!atomic_load(&self->stop)) {
        s_wait(self, deferred ? last_end + interval : 0);
        if (atomic_load(&self->stop))
            break;
        /* every request that arrived so far is served by one run */
        uint32_t p = atomic_exchange(&self->pending, 0);
        deferred = deferred || (p & S_AUTO);
        bool due = deferred && ml4t_clock_mono_ns() >= last_end + interval;
        if (!(p & S_MANUAL) && !due) {
            atomic_store(&self->deferred, deferred);
            continue;
        }
        deferred = false;
        atomic_store(&self->deferred, 0);
        atomic_store(&self->busy, 1);
        s_run(self);
        atomic_store(&self->busy, 0);
        last_end = ml4t_clock_mono_ns();
    }
    return NULL;
}

void ml4t_supervisor_request(void *ud, const ml4t_trigger_t *trigger)
{
    ml4t_supervisor_t *self = ud;
    atomic_fetch_add(&self->requests, 1);
    /* the stats lock is only ever held briefly; if it is taken, skip the label */
    if (trigger && pthread_mutex_trylock(&self->lock) == 0) {
        snprintf(self->st.last_trigger, sizeof self->st.last_trigger, "%s",
                 ml4t_trigger_reason_name(trigger->reason));
        pthread_mutex_unlock(&self->lock);
    }
    uint32_t bit = !trigger || trigger->reason == ML4T_TRIGGER_MANUAL ? S_MANUAL : S_AUTO;
    if (atomic_fetch_or(&self->pending, bit) == 0)
        sem_post(&self->wake);
}

/* Load a model file with the node's feature list (checksum, manifest, HMM). */
static ml4t_model_t *s_load(ml4t_supervisor_t *self, const char *path, ml4t_error_t *err)
{
    const ml4t_config_t *b = &ml4t_orchestrator_config(self->orch)->base;
    const char *names[ML4T_FEATURES_MAX];
    for (size_t i = 0; i < b->n_features; i++)
        names[i] = b->features[i];
    return ml4t_model_load(path, names, b->n_features, err);
}

ml4t_err_t ml4t_supervisor_restore(ml4t_supervisor_t *self, ml4t_error_t *err)
{
    ml4t_registry_entry_t e;
    ml4t_err_t rc = ml4t_store_registry_live(self->store, &e, err);
    if (rc)
        return rc;
    ml4t_model_t *m = s_load(self, e.path, err);
    if (!m)
        return err ? err->code : ML4T_EMODEL;
    if ((rc = ml4t_orchestrator_hot_swap(self->orch, m, err))) {
        ml4t_model_unref(&m);
        return rc;
    }
    pthread_mutex_lock(&self->lock);
    snprintf(self->st.live_version, sizeof self->st.live_version, "%s", e.version);
    pthread_mutex_unlock(&self->lock);
    return ML4T_OK;
}

ml4t_err_t ml4t_supervisor_rollback(ml4t_supervisor_t *self, ml4t_error_t *err)
{
    size_t n;
    ml4t_registry_entry_t *list = s_registry(self->store, &n, err);
    ml4t_err_t rc = list ? ML4T_OK : (err ? err->code : ML4T_EIO);
    bool past_live = false;
    for (size_t i = 0; rc == ML4T_OK && i < n; i++) {
        if (strcmp(list[i].status, "live") == 0) {
            past_live = true;
            continue;
        }
        if (!past_live || strcmp(list[i].status, "retired") != 0)
            continue;
        ml4t_error_t e;
        ml4t_model_t *m = s_load(self, list[i].path, &e);
        if (!m) {
            fprintf(stderr, "ml4t supervisor: rollback skips %s: %s\n", list[i].version, e.msg);
            continue;
        }
        if ((rc = ml4t_orchestrator_hot_swap(self->orch, m, err))) {
            ml4t_model_unref(&m);
            break;
        }
        rc = ml4t_store_registry_set_live(self->store, list[i].version, err);
        pthread_mutex_lock(&self->lock);
        self->st.rollbacks++;
        snprintf(self->st.live_version, sizeof self->st.live_version, "%s", list[i].version);
        snprintf(self->st.last_result, sizeof self->st.last_result, "rolled back to %s",
                 list[i].version);
        pthread_mutex_unlock(&self->lock);
        free(list);
        return rc;
    }
    free(list);
    return rc ? rc
              : ml4t_error_set(err, ML4T_ENOTFOUND, "registry",
                               "no earlier model version to roll back to");
}

ml4t_err_t ml4t_supervisor_swap_file(ml4t_supervisor_t *self, const char *path, ml4t_error_t *err)
{
    ml4t_model_t *m = s_load(self, path, err);
    if (!m)
        return err ? err->code : ML4T_EMODEL;
    return s_deploy(self, m, path, "swapped in by request", err);
}

ml4t_err_t ml4t_supervisor_wait_idle(ml4t_supervisor_t *self, int timeout_ms)
{
    struct timespec nap = {0, 5000000};
    for (int waited = 0; atomic_load(&self->pending) || atomic_load(&self->busy); waited += 5) {
        if (waited >= timeout_ms)
            return ML4T_ETIMEOUT;
        nanosleep(&nap, NULL);
    }
    return ML4T_OK;
}

void ml4t_supervisor_stats(ml4t_supervisor_t *self, ml4t_supervisor_stats_t *out)
{
    pthread_mutex_lock(&self->lock);
    *out = self->st;
    pthread_mutex_unlock(&self->lock);
    out->requests = atomic_load(&self->requests);
    out->busy = atomic_load(&self->busy) != 0;
    out->deferred = atomic_load(&self->deferred) != 0;
}

/* The next version number continues the registry's. */
static unsigned s_registry_seq(ml4t_store_t *store)
{
    size_t n;
    ml4t_registry_entry_t *list = s_registry(store, &n, NULL);
    unsigned best = 0;
    if (list)
        for (size_t i = 0; i < n; i++) {
            unsigned v = 0;
            if (sscanf(list[i].version, "v%u", &v) == 1 && v > best)
                best = v;
        }
    free(list);
    return best;
}

ml4t_supervisor_t *ml4t_supervisor_new(const ml4t_supervisor_config_t *cfg,
                                       ml4t_orchestrator_t *orch, ml4t_store_t *store,
                                       ml4t_error_t *err)
{
    if (ml4t_supervisor_config_validate(cfg, err))
        return NULL;
    if (!orch || !store) {
        ml4t_error_set(err, ML4T_EINVAL, orch ? "store" : "orchestrator",
                       "the supervisor needs an orchestrator and a store");
        return NULL;
    }
    ml4t_supervisor_t *self = calloc(1, sizeof *self);
    if (!self) {
        ml4t_error_set(err, ML4T_ENOMEM, "supervisor", "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    /* the model must be computed exactly as the node computes features */
    self->cfg.train.features = &ml4t_orchestrator_config(orch)->features;
    self->orch = orch;
    self->store = store;
    self->st.last_auc = NAN;
    self->next_seq = s_registry_seq(store);
    pthread_mutex_init(&self->lock, NULL);
    sem_init(&self->wake, 0, 0);
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0) {
        ml4t_error_set(err, ML4T_ESTATE, "supervisor", "cannot start the supervisor thread");
        ml4t_supervisor_destroy(&self);
        return NULL;
    }
    self->started = true;
    return self;
}

void ml4t_supervisor_destroy(ml4t_supervisor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ml4t_supervisor_t *self = *self_p;
    if (self->started) {
        atomic_store(&self->stop, true);
        sem_post(&self->wake);
        pthread_join(self->thread, NULL);
    }
    sem_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}
