/*  ml4t_model: XGBoost booster, flat evaluator, manifest, load/save. */
#include "ml4t/model.h"
#include "ml4t/hmm.h"
#include "ml4t/clock.h"
#include "ml4t/forest.h"
#include "ml4t/sha256.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xgboost/c_api.h>

#ifndef ML4T_VERSION_STRING
#define ML4T_VERSION_STRING "0.1.0" /* keep in step with project() in CMakeLists.txt */
#endif

#define S_MANIFEST_MAX (16u << 20)     /* refuse larger manifest files */
#define S_BOOSTER_MAX  (1024ull << 20) /* refuse larger booster files */

struct ml4t_model {
    atomic_int refs;
    BoosterHandle booster;
    pthread_mutex_t xgb_lock; /* serializes predict_xgb and save on the booster */
    ml4t_forest_t *forest;    /* the flat evaluator, read-only */
    /* manifest */
    ml4t_model_manifest_t man;
    char **names;
    char booster_file[256]; /* file name of the booster, "model.ubj" until saved or loaded */
    cJSON *labels, *metrics, *params;
    ml4t_hmm_t *hmm; /* the regime filter shipped with the model, or NULL; owned */
};

/* ---------------------------------------------------------------- XGBoost calls */

/* Every XGBoost call goes through S_XGB: 0 is success, otherwise the text of
   XGBGetLastError() (its first line; the rest is a stack trace) lands in err. */
static ml4t_err_t s_xgb_fail(const char *fn, ml4t_error_t *err)
{
    const char *e = XGBGetLastError();
    if (!e)
        e = "no detail";
    int len = (int)strcspn(e, "\n");
    return ml4t_error_set(err, ML4T_EMODEL, "xgboost", "%s failed: %.*s", fn, len, e);
}

#define S_XGB(err, fn, args) ((fn args) == 0 ? ML4T_OK : s_xgb_fail(#fn, (err)))

/* ---------------------------------------------------------------- parameters */

void ml4t_model_params_default(ml4t_model_params_t *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->objective, sizeof p->objective, "binary:logistic");
    snprintf(p->tree_method, sizeof p->tree_method, "hist");
    p->n_estimators = 100;
    p->max_depth = 5;
    p->eta = 0.1;
    p->subsample = 0.8;
    p->colsample_bytree = 1.0;
    p->min_child_weight = 1.0;
    p->seed = 42;
    p->nthread = 0;
    p->balance = ML4T_MODEL_BALANCE_SCALE_POS_WEIGHT;
}

typedef struct {
    ml4t_error_t *err;
    ml4t_err_t code;
    size_t used;
} s_violations_t;

/* Records "name=value: rule" into err->msg; err->field keeps the first name. */
static void s_violation(s_violations_t *v, ml4t_err_t code, const char *name, const char *value,
                        const char *rule)
{
    if (v->code == ML4T_OK) {
        v->code = code;
        ml4t_error_set(v->err, code, name, "%s", "");
        v->used = 0;
    }
    if (!v->err || v->used >= sizeof v->err->msg)
        return;
    int w = snprintf(v->err->msg + v->used, sizeof v->err->msg - v->used, "%s%s=%s: %s",
                     v->used ? "; " : "", name, value, rule);
    if (w > 0)
        v->used += (size_t)w;
}

static void s_check_range(s_violations_t *v, const char *name, double x, double lo, double hi,
                          bool lo_open, const char *rule)
{
    /* exact bounds: the rules are stated on the values as given, no tolerance */
    bool ok = !isnan(x) && (lo_open ? x > lo : x >= lo) && x <= hi;
    if (!ok) {
        char buf[48];
        snprintf(buf, sizeof buf, "%g", x);
        s_violation(v, ML4T_ERANGE, name, buf, rule);
    }
}

ml4t_err_t ml4t_model_params_validate(const ml4t_model_params_t *p, ml4t_error_t *err)
{
    s_violations_t v = {err, ML4T_OK, 0};
    ml4t_error_clear(err);
    if (strcmp(p->objective, "binary:logistic") != 0)
        s_violation(&v, ML4T_EINVAL, "objective", p->objective, "must be binary:logistic");
    if (strcmp(p->tree_method, "hist") != 0 && strcmp(p->tree_method, "approx") != 0 &&
        strcmp(p->tree_method, "exact") != 0)
        s_violation(&v, ML4T_EINVAL, "tree_method", p->tree_method,
                    "must be hist, approx or exact");
    s_check_range(&v, "n_estimators", p->n_estimators, 1, 100000, false, "must be in [1, 100000]");
    s_check_range(&v, "max_depth", p->max_depth, 1, ML4T_FOREST_MAX_DEPTH, false,
                  "must be in [1, 12]");
    s_check_range(&v, "eta", p->eta, 0, 1, true, "must be in (0, 1]");
    s_check_range(&v, "subsample", p->subsample, 0, 1, true, "must be in (0, 1]");
    s_check_range(&v, "colsample_bytree", p->colsample_bytree, 0, 1, true, "must be in (0, 1]");
    s_check_range(&v, "min_child_weight", p->min_child_weight, 0, 1e300, false,
                  "must be >= 0 and finite");
    s_check_range(&v, "nthread", p->nthread, 0, 4096, false, "must be in [0, 4096] (0 = all)");
    if (p->balance != ML4T_MODEL_BALANCE_SCALE_POS_WEIGHT &&
        p->balance != ML4T_MODEL_BALANCE_NONE) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", (int)p->balance);
        s_violation(&v, ML4T_EINVAL, "balance", buf, "must be SCALE_POS_WEIGHT or NONE");
    }
    return v.code;
}

static const char *s_balance_name(ml4t_model_balance_t b)
{
    return b == ML4T_MODEL_BALANCE_NONE ? "none" : "scale_pos_weight";
}

/* ---------------------------------------------------------------- evaluator */

void ml4t_model_predict_row(const ml4t_model_t *m, const double *x, double *p_out)
{
    *p_out = ml4t_forest_predict(m->forest, x);
}

void ml4t_model_predict_batch(const ml4t_model_t *m, const double *X, size_t n, double *out)
{
    size_t k = m->man.n_features;
    for (size_t i = 0; i < n; i++)
        out[i] = ml4t_forest_predict(m->forest, X + i * k);
}

/* A booster that records feature names must record the manifest's. */
static ml4t_err_t s_booster_names_check(const ml4t_model_t *m, const cJSON *root, ml4t_error_t *err)
{
    const cJSON *learner = cJSON_GetObjectItemCaseSensitive(root, "learner");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(learner, "feature_names");
    if (!cJSON_IsArray(fn) || cJSON_GetArraySize(fn) == 0)
        return ML4T_OK;
    size_t i = 0;
    for (const cJSON *e = fn->child; e; e = e->next, i++)
        if (i >= m->man.n_features || !cJSON_IsString(e) ||
            strcmp(e->valuestring, m->names[i]) != 0)
            return ml4t_error_set(err, ML4T_EMISMATCH, "features",
                                  "booster feature %zu is \"%.64s\", manifest says \"%s\"", i,
                                  cJSON_IsString(e) ? e->valuestring : "?",
                                  i < m->man.n_features ? m->names[i] : "(none)");
    return ML4T_OK;
}

/* Dumps the booster as JSON and compiles the flat evaluator from it. */
static ml4t_err_t s_compile(ml4t_model_t *m, ml4t_error_t *err)
{
    bst_ulong len = 0;
    const char *buf = NULL;
    ml4t_err_t rc =
        S_XGB(err, XGBoosterSaveModelToBuffer, (m->booster, "{\"format\":\"json\"}", &len, &buf));
    if (rc)
        return rc;
    cJSON *root = cJSON_ParseWithLength(buf, (size_t)len);
    if (!root)
        return ml4t_error_set(err, ML4T_EFORMAT, "booster", "XGBoost's JSON dump did not parse");
    ml4t_error_t local;
    ml4t_error_t *e = err ? err : &local;
    rc = s_booster_names_check(m, root, e);
    if (!rc && !(m->forest = ml4t_forest_from_xgboost_json(root, m->man.n_features, e)))
        rc = e->code;
    cJSON_Delete(root);
    return rc;
}

/* ---------------------------------------------------------------- life cycle */

static ml4t_model_t *s_model_alloc(void)
{
    ml4t_model_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    atomic_init(&m->refs, 1);
    pthread_mutex_init(&m->xgb_lock, NULL);
    m->labels = cJSON_CreateObject();
    m->metrics = cJSON_CreateObject();
    m->params = cJSON_CreateObject();
    m->man.schema_version = ML4T_MODEL_SCHEMA_VERSION;
    snprintf(m->booster_file, sizeof m->booster_file, "model.ubj");
    snprintf(m->man.ml4t_version, sizeof m->man.ml4t_version, "%s", ML4T_VERSION_STRING);
    snprintf(m->man.balance_method, sizeof m->man.balance_method, "none");
    m->man.scale_pos_weight = 1.0;
    m->man.labels = m->labels;
    m->man.metrics = m->metrics;
    m->man.params = m->params;
    if (!m->labels || !m->metrics || !m->params) {
        ml4t_model_t *dead = m;
        ml4t_model_destroy(&dead);
        return NULL;
    }
    return m;
}

static void s_model_free(ml4t_model_t *m)
{
    if (m->booster)
        XGBoosterFree(m->booster);
    pthread_mutex_destroy(&m->xgb_lock);
    ml4t_forest_destroy(&m->forest);
    for (size_t i = 0; m->names && i < m->man.n_features; i++)
        free(m->names[i]);
    free(m->names);
    cJSON_Delete(m->labels);
    cJSON_Delete(m->metrics);
    cJSON_Delete(m->params);
    ml4t_hmm_destroy(&m->hmm);
    free(m);
}

ml4t_model_t *ml4t_model_ref(ml4t_model_t *m)
{
    /* a reference can only be copied from a live one, so relaxed is enough:
       nothing is published by taking a reference */
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void ml4t_model_unref(ml4t_model_t **m_p)
{
    if (!m_p || !*m_p)
        return;
    ml4t_model_t *m = *m_p;
    *m_p = NULL;
    /* acq_rel: the last owner must see every other owner's writes before
       freeing (a standalone fence would do, but ThreadSanitizer ignores fences) */
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        s_model_free(m);
}

void ml4t_model_destroy(ml4t_model_t **m_p)
{
    ml4t_model_unref(m_p);
}

int ml4t_model_refcount(const ml4t_model_t *m)
{
    return atomic_load_explicit(&((ml4t_model_t *)m)->refs, memory_order_relaxed);
}

/* ---------------------------------------------------------------- accessors, setters */

const ml4t_model_manifest_t *ml4t_model_manifest(const ml4t_model_t *m)
{
    return &m->man;
}

const char *ml4t_model_version(const ml4t_model_t *m)
{
    return m->man.model_version;
}

size_t ml4t_model_n_features(const ml4t_model_t *m)
{
    return m->man.n_features;
}

const char *ml4t_model_feature_name(const ml4t_model_t *m, size_t i)
{
    return i < m->man.n_features ? m->names[i] : NULL;
}

size_t ml4t_model_n_trees(const ml4t_model_t *m)
{
    return ml4t_forest_n_trees(m->forest);
}

void *ml4t_model_booster(const ml4t_model_t *m)
{
    return m->booster;
}

static bool s_version_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n < 1 || n > ML4T_MODEL_VERSION_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && !strchr("._:+-", v[i]))
            return false;
    return true;
}

ml4t_err_t ml4t_model_set_version(ml4t_model_t *m, const char *version, ml4t_error_t *err)
{
    if (!s_version_ok(version))
        return ml4t_error_set(err, ML4T_EINVAL, "model_version",
                              "model_version \"%.80s\" must be 1..%d characters of "
                              "[A-Za-z0-9._:+-]",
                              version ? version : "(null)", ML4T_MODEL_VERSION_MAX);
    snprintf(m->man.model_version, sizeof m->man.model_version, "%s", version);
    return ML4T_OK;
}

ml4t_err_t ml4t_model_set_window(ml4t_model_t *m, uint64_t first_ts_ns, uint64_t last_ts_ns,
                                 uint64_t n_samples, ml4t_error_t *err)
{
    if (first_ts_ns > last_ts_ns)
        return ml4t_error_set(err, ML4T_ERANGE, "training_window",
                              "first_ts_ns=%" PRIu64 " is after last_ts_ns=%" PRIu64, first_ts_ns,
                              last_ts_ns);
    m->man.window_first_ts_ns = first_ts_ns;
    m->man.window_last_ts_ns = last_ts_ns;
    m->man.n_samples = n_samples;
    return ML4T_OK;
}

/* Replaces *slot with a deep copy of obj (a JSON object). */
static ml4t_err_t s_set_object(cJSON **slot, const cJSON **view, const cJSON *obj,
                               const char *field, ml4t_error_t *err)
{
    if (!cJSON_IsObject(obj))
        return ml4t_error_set(err, ML4T_EINVAL, field, "%s must be a JSON object", field);
    cJSON *copy = cJSON_Duplicate(obj, 1);
    if (!copy)
        return ml4t_error_set(err, ML4T_ENOMEM, field, "out of memory copying %s", field);
    cJSON_Delete(*slot);
    *slot = copy;
    *view = copy;
    return ML4T_OK;
}

ml4t_err_t ml4t_model_set_labels(ml4t_model_t *m, const cJSON *labels, ml4t_error_t *err)
{
    return s_set_object(&m->labels, &m->man.labels, labels, "labels", err);
}

ml4t_err_t ml4t_model_set_metrics(ml4t_model_t *m, const cJSON *metrics, ml4t_error_t *err)
{
    return s_set_object(&m->metrics, &m->man.metrics, metrics, "metrics", err);
}

/* Sets obj[key] = value (a new number), replacing any previous value. */
static ml4t_err_t s_set_number(cJSON *obj, const char *key, double value, const char *field,
                               ml4t_error_t *err)
{
    if (!key || !*key)
        return ml4t_error_set(err, ML4T_EINVAL, field, "%s: a name is required", field);
    if (!isfinite(value))
        return ml4t_error_set(err, ML4T_ERANGE, field, "%s.%s=%g must be finite", field, key,
                              value);
    cJSON *num = cJSON_CreateNumber(value);
    if (!num)
        return ml4t_error_set(err, ML4T_ENOMEM, field, "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddItemToObject(obj, key, num);
    return ML4T_OK;
}

ml4t_err_t ml4t_model_set_metric(ml4t_model_t *m, const char *name, double value, ml4t_error_t *err)
{
    return s_set_number(m->metrics, name, value, "metrics", err);
}

ml4t_err_t ml4t_model_set_label_barriers(ml4t_model_t *m, double pt_multiplier,
                                         double sl_multiplier, int64_t max_holding_bars,
                                         ml4t_error_t *err)
{
    if (!(pt_multiplier >= 0) || !(sl_multiplier >= 0) || max_holding_bars < 1)
        return ml4t_error_set(err, ML4T_ERANGE, "labels",
                              "pt_multiplier=%g and sl_multiplier=%g must be >= 0, "
                              "max_holding_bars=%" PRId64 " >= 1",
                              pt_multiplier, sl_multiplier, max_holding_bars);
    ml4t_err_t rc;
    if ((rc = s_set_number(m->labels, "pt_multiplier", pt_multiplier, "labels", err)) ||
        (rc = s_set_number(m->labels, "sl_multiplier", sl_multiplier, "labels", err)) ||
        (rc = s_set_number(m->labels, "max_holding_bars", (double)max_holding_bars, "labels", err)))
        return rc;
    return ML4T_OK;
}

/* ---------------------------------------------------------------- manifest */

/* "2023-11-30T23:59:00.123456789Z" */
static void s_utc_iso(uint64_t ns, char *buf, size_t size)
{
    time_t sec = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char day[24];
    if (strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        day[0] = '\0';
    day[19] = '\0'; /* years beyond 9999 do not occur in uint64 ns */
    snprintf(buf, size, "%s.%09uZ", day, (unsigned)(ns % 1000000000u));
}

/* ns values exceed a double's 53 bits, so they are written as decimal strings */
static cJSON *s_add_u64(cJSON *obj, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_AddStringToObject(obj, key, buf);
}

static bool s_add_window(cJSON *root, const ml4t_model_manifest_t *man)
{
    char first[40], last[40];
    cJSON *w = cJSON_AddObjectToObject(root, "training_window");
    s_utc_iso(man->window_first_ts_ns, first, sizeof first);
    s_utc_iso(man->window_last_ts_ns, last, sizeof last);
    return w && s_add_u64(w, "first_ts_ns", man->window_first_ts_ns) &&
           s_add_u64(w, "last_ts_ns", man->window_last_ts_ns) &&
           cJSON_AddStringToObject(w, "first_utc", first) &&
           cJSON_AddStringToObject(w, "last_utc", last) &&
           cJSON_AddNumberToObject(w, "n_samples", (double)man->n_samples);
}

static bool s_add_copy(cJSON *root, const char *key, const cJSON *obj)
{
    cJSON *copy = cJSON_Duplicate(obj, 1);
    if (!copy)
        return false;
    cJSON_AddItemToObject(root, key, copy);
    return true;
}

cJSON *ml4t_model_manifest_json(const ml4t_model_t *m)
{
    const ml4t_model_manifest_t *man = &m->man;
    cJSON *root = cJSON_CreateObject();
    cJSON *created = cJSON_AddObjectToObject(root, "created");
    cJSON *booster = cJSON_AddObjectToObject(root, "booster");
    cJSON *balance = cJSON_AddObjectToObject(root, "class_balance");
    cJSON *features = cJSON_CreateStringArray((const char *const *)m->names, (int)man->n_features);
    bool ok = root && created && booster && balance && features;
    if (features)
        cJSON_AddItemToObject(root, "features", features);
    ok = ok && cJSON_AddNumberToObject(root, "schema_version", man->schema_version) &&
         cJSON_AddStringToObject(root, "ml4t_version", man->ml4t_version) &&
         cJSON_AddStringToObject(root, "model_version", man->model_version) &&
         cJSON_AddStringToObject(root, "objective", "binary:logistic") &&
         cJSON_AddStringToObject(created, "utc", man->created_utc) &&
         s_add_u64(created, "ns", man->created_ns) &&
         cJSON_AddStringToObject(booster, "file", m->booster_file) &&
         cJSON_AddStringToObject(booster, "format", "ubj") &&
         cJSON_AddNumberToObject(booster, "bytes", (double)man->booster_bytes) &&
         cJSON_AddStringToObject(booster, "sha256", man->booster_sha256) &&
         s_add_window(root, man) &&
         cJSON_AddStringToObject(balance, "method", man->balance_method) &&
         cJSON_AddNumberToObject(balance, "positive_rate", man->positive_rate) &&
         cJSON_AddNumberToObject(balance, "scale_pos_weight", man->scale_pos_weight) &&
         s_add_copy(root, "labels", m->labels) && s_add_copy(root, "params", m->params) &&
         s_add_copy(root, "metrics", m->metrics);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* Looks up parent.key with the wanted type; the error names "parent.key". */
static const cJSON *s_field(const cJSON *parent, const char *path, const char *key,
                            cJSON_bool (*is)(const cJSON *), const char *type, ml4t_err_t *rc,
                            ml4t_error_t *err)
{
    char name[ML4T_ERROR_FIELD_MAX];
    snprintf(name, sizeof name, "%s%s%s", path, *path ? "." : "", key);
    if (*rc)
        return NULL;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (!c) {
        *rc = ml4t_error_set(err, ML4T_EMISSING, name, "manifest field %s is missing", name);
        return NULL;
    }
    if (!is(c)) {
        *rc = ml4t_error_set(err, ML4T_ETYPE, name, "manifest field %s must be %s", name, type);
        return NULL;
    }
    return c;
}

#define S_FIELD_OBJ(p, path, key) s_field(p, path, key, cJSON_IsObject, "an object", &rc, err)
#define S_FIELD_STR(p, path, key) s_field(p, path, key, cJSON_IsString, "a string", &rc, err)
#define S_FIELD_NUM(p, path, key) s_field(p, path, key, cJSON_IsNumber, "a number", &rc, err)

static ml4t_err_t s_copy_str(const cJSON *c, char *dst, size_t size, size_t min_len,
                             const char *field, ml4t_error_t *err)
{
    size_t n = strlen(c->valuestring);
    if (n < min_len || n >= size)
        return ml4t_error_set(err, ML4T_ERANGE, field,
                              "manifest field %s must be %zu..%zu characters, has %zu", field,
                              min_len, size - 1, n);
    memcpy(dst, c->valuestring, n + 1);
    return ML4T_OK;
}

static ml4t_err_t s_parse_u64(const cJSON *c, uint64_t *out, const char *field, ml4t_error_t *err)
{
    const char *s = c->valuestring;
    size_t n = strlen(s);
    errno = 0;
    char *end = NULL;
    unsigned long long v = n && n <= 20 && strspn(s, "0123456789") == n ? strtoull(s, &end, 10) : 0;
    if (!end || *end || errno)
        return ml4t_error_set(err, ML4T_ETYPE, field,
                              "manifest field %s must be a decimal string of an unsigned "
                              "64-bit integer",
                              field);
    *out = (uint64_t)v;
    return ML4T_OK;
}

/* A number that is an integer in [0, 2^53]. */
static ml4t_err_t s_parse_count(const cJSON *c, uint64_t *out, const char *field, ml4t_error_t *err)
{
    double d = c->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d))
        return ml4t_error_set(err, ML4T_ERANGE, field,
                              "manifest field %s=%g must be a non-negative integer", field, d);
    *out = (uint64_t)d;
    return ML4T_OK;
}

/* Feature names: 1..63 bytes of [A-Za-z0-9_.:+-] (safe in CSV, JSON and
   XGBoost, which refuses "[", "]" and "<"), all distinct. */
static ml4t_err_t s_names_check(const char *const *names, size_t k, const char *field,
                                ml4t_error_t *err)
{
    if (k < 1 || k > ML4T_MODEL_FEATURES_MAX)
        return ml4t_error_set(err, ML4T_ERANGE, field, "%s: %zu names, want 1..%d", field, k,
                              ML4T_MODEL_FEATURES_MAX);
    for (size_t i = 0; i < k; i++) {
        const char *s = names[i];
        size_t n = s ? strlen(s) : 0;
        bool ok = n >= 1 && n <= ML4T_MODEL_FEATURE_NAME_MAX;
        for (size_t j = 0; ok && j < n; j++)
            ok = isalnum((unsigned char)s[j]) || strchr("_.:+-", s[j]);
        if (!ok)
            return ml4t_error_set(err, ML4T_EINVAL, field,
                                  "%s[%zu] \"%.64s\" must be 1..%d characters of "
                                  "[A-Za-z0-9_.:+-]",
                                  field, i, s ? s : "(null)", ML4T_MODEL_FEATURE_NAME_MAX);
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[j], s) == 0)
                return ml4t_error_set(err, ML4T_EINVAL, field, "%s[%zu] \"%s\" repeats %s[%zu]",
                                      field, i, s, field, j);
    }
    return ML4T_OK;
}

static ml4t_err_t s_set_names(ml4t_model_t *m, const char *const *names, size_t k,
                              ml4t_error_t *err)
{
    m->names = calloc(k, sizeof *m->names);
    if (!m->names)
        return ml4t_error_set(err, ML4T_ENOMEM, "features", "out of memory");
    m->man.n_features = k;
    m->man.feature_names = (const char *const *)m->names;
    for (size_t i = 0; i < k; i++)
        if (!(m->names[i] = strdup(names[i])))
            return ml4t_error_set(err, ML4T_ENOMEM, "features", "out of memory");
    return ML4T_OK;
}

static ml4t_err_t s_parse_features(ml4t_model_t *m, const cJSON *root, ml4t_error_t *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "features");
    if (!a)
        return ml4t_error_set(err, ML4T_EMISSING, "features",
                              "manifest field features is "
                              "missing");
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    if (n < 1 || n > ML4T_MODEL_FEATURES_MAX)
        return ml4t_error_set(err, ML4T_ETYPE, "features",
                              "manifest field features must be an array of 1..%d strings",
                              ML4T_MODEL_FEATURES_MAX);
    const char **names = calloc((size_t)n, sizeof *names);
    if (!names)
        return ml4t_error_set(err, ML4T_ENOMEM, "features", "out of memory");
    int i = 0;
    for (const cJSON *e = a->child; e; e = e->next)
        names[i++] = cJSON_IsString(e) ? e->valuestring : NULL;
    ml4t_err_t rc = s_names_check(names, (size_t)n, "features", err);
    if (!rc)
        rc = s_set_names(m, names, (size_t)n, err);
    free(names);
    return rc;
}

static ml4t_err_t s_parse_header(ml4t_model_t *m, const cJSON *root, ml4t_error_t *err)
{
    ml4t_err_t rc = ML4T_OK;
    ml4t_model_manifest_t *man = &m->man;
    const cJSON *sv = S_FIELD_NUM(root, "", "schema_version");
    const cJSON *lv = S_FIELD_STR(root, "", "ml4t_version");
    const cJSON *mv = S_FIELD_STR(root, "", "model_version");
    const cJSON *cr = S_FIELD_OBJ(root, "", "created");
    const cJSON *utc = S_FIELD_STR(cr, "created", "utc");
    const cJSON *ns = S_FIELD_STR(cr, "created", "ns");
    if (rc)
        return rc;
    if (sv->valuedouble != floor(sv->valuedouble) || sv->valuedouble < 1)
        return ml4t_error_set(err, ML4T_ERANGE, "schema_version",
                              "schema_version=%g must be a positive integer", sv->valuedouble);
    if (sv->valuedouble > ML4T_MODEL_SCHEMA_VERSION)
        return ml4t_error_set(err, ML4T_EUNSUPPORTED, "schema_version",
                              "schema_version=%g is newer than this library reads (%d)",
                              sv->valuedouble, ML4T_MODEL_SCHEMA_VERSION);
    man->schema_version = (int)sv->valuedouble;
    if ((rc =
             s_copy_str(lv, man->ml4t_version, sizeof man->ml4t_version, 1, "ml4t_version", err)) ||
        (rc = ml4t_model_set_version(m, mv->valuestring, err)) ||
        (rc = s_copy_str(utc, man->created_utc, sizeof man->created_utc, 1, "created.utc", err)))
        return rc;
    return s_parse_u64(ns, &man->created_ns, "created.ns", err);
}

static bool s_is_hex64(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static ml4t_err_t s_parse_booster(ml4t_model_t *m, const cJSON *root, const char *file_name,
                                  ml4t_error_t *err)
{
    ml4t_err_t rc = ML4T_OK;
    const cJSON *b = S_FIELD_OBJ(root, "", "booster");
    const cJSON *file = S_FIELD_STR(b, "booster", "file");
    const cJSON *format = S_FIELD_STR(b, "booster", "format");
    const cJSON *bytes = S_FIELD_NUM(b, "booster", "bytes");
    const cJSON *sha = S_FIELD_STR(b, "booster", "sha256");
    if (rc)
        return rc;
    if (strcmp(file->valuestring, file_name) != 0 || strlen(file_name) >= sizeof m->booster_file)
        return ml4t_error_set(err, ML4T_EMISMATCH, "booster.file",
                              "manifest describes booster file \"%.64s\", not \"%.64s\"",
                              file->valuestring, file_name);
    if (strcmp(format->valuestring, "ubj") != 0)
        return ml4t_error_set(err, ML4T_EUNSUPPORTED, "booster.format",
                              "booster.format \"%.32s\" is not supported (ubj only)",
                              format->valuestring);
    if (!s_is_hex64(sha->valuestring))
        return ml4t_error_set(err, ML4T_EFORMAT, "booster.sha256",
                              "booster.sha256 must be 64 lower-case hex digits");
    memcpy(m->man.booster_sha256, sha->valuestring, 65);
    snprintf(m->booster_file, sizeof m->booster_file, "%s", file_name);
    return s_parse_count(bytes, &m->man.booster_bytes, "booster.bytes", err);
}

static ml4t_err_t s_parse_window_balance(ml4t_model_t *m, const cJSON *root, ml4t_error_t *err)
{
    ml4t_err_t rc = ML4T_OK;
    ml4t_model_manifest_t *man = &m->man;
    const cJSON *w = S_FIELD_OBJ(root, "", "training_window");
    const cJSON *first = S_FIELD_STR(w, "training_window", "first_ts_ns");
    const cJSON *last = S_FIELD_STR(w, "training_window", "last_ts_ns");
    const cJSON *ns = S_FIELD_NUM(w, "training_window", "n_samples");
    const cJSON *cb = S_FIELD_OBJ(root, "", "class_balance");
    const cJSON *method = S_FIELD_STR(cb, "class_balance", "method");
    const cJSON *rate = S_FIELD_NUM(cb, "class_balance", "positive_rate");
    const cJSON *spw = S_FIELD_NUM(cb, "class_balance", "scale_pos_weight");
    uint64_t f = 0, l = 0, n = 0;
    if (rc || (rc = s_parse_u64(first, &f, "training_window.first_ts_ns", err)) ||
        (rc = s_parse_u64(last, &l, "training_window.last_ts_ns", err)) ||
        (rc = s_parse_count(ns, &n, "training_window.n_samples", err)) ||
        (rc = ml4t_model_set_window(m, f, l, n, err)))
        return rc;
    if (strcmp(method->valuestring, "scale_pos_weight") != 0 &&
        strcmp(method->valuestring, "none") != 0)
        return ml4t_error_set(err, ML4T_EINVAL, "class_balance.method",
                              "class_balance.method \"%.32s\" must be scale_pos_weight or none",
                              method->valuestring);
    if (!(rate->valuedouble >= 0 && rate->valuedouble <= 1) ||
        !(spw->valuedouble > 0 && isfinite(spw->valuedouble)))
        return ml4t_error_set(err, ML4T_ERANGE, "class_balance",
                              "class_balance: positive_rate=%g must be in [0, 1] and "
                              "scale_pos_weight=%g > 0",
                              rate->valuedouble, spw->valuedouble);
    snprintf(man->balance_method, sizeof man->balance_method, "%s", method->valuestring);
    man->positive_rate = rate->valuedouble;
    man->scale_pos_weight = spw->valuedouble;
    return ML4T_OK;
}

static ml4t_err_t s_parse_objects(ml4t_model_t *m, const cJSON *root, ml4t_error_t *err)
{
    ml4t_err_t rc = ML4T_OK;
    const cJSON *labels = S_FIELD_OBJ(root, "", "labels");
    const cJSON *metrics = S_FIELD_OBJ(root, "", "metrics");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
    if (rc || (rc = ml4t_model_set_labels(m, labels, err)) ||
        (rc = ml4t_model_set_metrics(m, metrics, err)))
        return rc;
    if (params) /* optional: informational */
        return s_set_object(&m->params, &m->man.params, params, "params", err);
    return ML4T_OK;
}

static ml4t_err_t s_manifest_parse(ml4t_model_t *m, const cJSON *root, const char *file_name,
                                   ml4t_error_t *err)
{
    if (!cJSON_IsObject(root))
        return ml4t_error_set(err, ML4T_ETYPE, "manifest", "manifest must be a JSON object");
    ml4t_err_t rc;
    if ((rc = s_parse_header(m, root, err)) || (rc = s_parse_features(m, root, err)) ||
        (rc = s_parse_booster(m, root, file_name, err)) ||
        (rc = s_parse_window_balance(m, root, err)) || (rc = s_parse_objects(m, root, err)))
        return rc;
    return ML4T_OK;
}

/* ---------------------------------------------------------------- files */

/* Splits path into its directory ("." when none) and file name. */
static ml4t_err_t s_split_path(const char *path, char *dir, size_t dir_size, const char **base,
                               ml4t_error_t *err)
{
    size_t n = path ? strlen(path) : 0;
    if (n == 0 || path[n - 1] == '/')
        return ml4t_error_set(err, ML4T_EINVAL, "path", "model path \"%s\" must name a file",
                              path ? path : "(null)");
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 1;
    if (dlen + 32 >= dir_size)
        return ml4t_error_set(err, ML4T_ELIMIT, "path", "model path is too long (%zu bytes)", n);
    if (!slash)
        memcpy(dir, ".", 2);
    else if (dlen == 0)
        memcpy(dir, "/", 2);
    else {
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
    }
    *base = slash ? slash + 1 : path;
    return ML4T_OK;
}

/* Reads a whole regular file of at most max bytes into a new buffer (caller
   frees); *len gets its size. A trailing NUL is added for text parsers. */
static ml4t_err_t s_read_file(const char *path, uint64_t max, char **out, size_t *len,
                              const char *field, ml4t_error_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ml4t_error_set(err, errno == ENOENT ? ML4T_ENOTFOUND : ML4T_EIO, field,
                              "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    ml4t_err_t rc = ML4T_OK;
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        rc = ml4t_error_set(err, ML4T_EIO, field,
                            "%s is not a regular file of at most %" PRIu64 " bytes", path, max);
        goto out_close;
    }
    size_t size = (size_t)st.st_size, got = 0;
    if (!(buf = malloc(size + 1))) {
        rc = ml4t_error_set(err, ML4T_ENOMEM, field, "out of memory reading %s", path);
        goto out_close;
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = ml4t_error_set(err, ML4T_EIO, field, "reading %s: %s", path,
                                r == 0 ? "file shrank" : strerror(errno));
            free(buf);
            buf = NULL;
            goto out_close;
        }
        got += (size_t)r;
    }
    buf[size] = '\0';
    *out = buf;
    *len = size;
out_close:
    close(fd);
    return rc;
}

static ml4t_err_t s_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return ML4T_EIO;
        p += w;
        len -= (size_t)w;
    }
    return ML4T_OK;
}

static ml4t_err_t s_fsync_dir(const char *dir, ml4t_error_t *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        ml4t_err_t rc =
            ml4t_error_set(err, ML4T_EIO, "path", "fsync of %s: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    close(fd);
    return ML4T_OK;
}

/* Writes dir/name atomically: a reader sees the old file or the new one, and
   after return the new one survives a crash (file and directory fsynced). */
static ml4t_err_t s_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                                 ml4t_error_t *err)
{
    char final_path[4096], tmp[4096];
    snprintf(final_path, sizeof final_path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp.XXXXXX", dir, name);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return ml4t_error_set(err, ML4T_EIO, "path", "cannot create a file in %s: %s", dir,
                              strerror(errno));
    if (fchmod(fd, 0644) != 0 || s_write_all(fd, data, len) != ML4T_OK || fsync(fd) != 0) {
        ml4t_err_t rc =
            ml4t_error_set(err, ML4T_EIO, "path", "writing %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return rc;
    }
    if (close(fd) != 0 || rename(tmp, final_path) != 0) {
        ml4t_err_t rc = ml4t_error_set(err, ML4T_EIO, "path", "renaming %s to %s: %s", tmp,
                                       final_path, strerror(errno));
        unlink(tmp);
        return rc;
    }
    return s_fsync_dir(dir, err);
}

/* mkdir -p */
static ml4t_err_t s_mkdirs(const char *dir, ml4t_error_t *err)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return ml4t_error_set(err, ML4T_EIO, "path", "cannot create directory %s: %s", buf,
                                  strerror(errno));
        *p = c;
        if (c == '\0')
            return ML4T_OK;
    }
}

/* ---------------------------------------------------------------- booster bytes */

/* The booster as UBJSON, hashed. *bytes points into XGBoost's buffer: valid
   until the next XGBoost call on this thread; the caller holds xgb_lock. */
static ml4t_err_t s_booster_ubj(ml4t_model_t *m, const char **bytes, size_t *len, ml4t_error_t *err)
{
    bst_ulong n = 0;
    ml4t_err_t rc =
        S_XGB(err, XGBoosterSaveModelToBuffer, (m->booster, "{\"format\":\"ubj\"}", &n, bytes));
    if (rc)
        return rc;
    uint8_t digest[ML4T_SHA256_BYTES];
    char hex[ML4T_SHA256_HEX];
    ml4t_sha256(*bytes, (size_t)n, digest);
    ml4t_sha256_hex(digest, hex);
    /* write only on change: a published model's manifest is read without locks */
    if (strcmp(hex, m->man.booster_sha256) != 0)
        memcpy(m->man.booster_sha256, hex, sizeof hex);
    if (m->man.booster_bytes != (uint64_t)n)
        m->man.booster_bytes = (uint64_t)n;
    *len = (size_t)n;
    return ML4T_OK;
}

ml4t_err_t ml4t_model_save(ml4t_model_t *m, const char *path, ml4t_error_t *err)
{
    char dir[4096];
    const char *base = NULL;
    ml4t_err_t rc = s_split_path(path, dir, sizeof dir, &base, err);
    if (!rc && strlen(base) >= sizeof m->booster_file)
        rc = ml4t_error_set(err, ML4T_ELIMIT, "path", "file name \"%.40s...\" is too long", base);
    if (rc || (rc = s_mkdirs(dir, err)))
        return rc;
    const char *bytes = NULL;
    size_t len = 0;
    pthread_mutex_lock(&m->xgb_lock);
    rc = s_booster_ubj(m, &bytes, &len, err);
    /* booster first: a crash before the manifest is replaced leaves the old
       manifest, whose checksum refuses the new booster */
    if (!rc)
        rc = s_write_atomic(dir, base, bytes, len, err);
    pthread_mutex_unlock(&m->xgb_lock);
    if (rc)
        return rc;
    if (strcmp(m->booster_file, base) != 0)
        snprintf(m->booster_file, sizeof m->booster_file, "%s", base);
    /* the regime filter goes before the manifest too: the manifest is the commit point */
    char hmm_path[4200];
    snprintf(hmm_path, sizeof hmm_path, "%s/hmm.json", dir);
    if (m->hmm)
        rc = ml4t_hmm_save(m->hmm, hmm_path, err);
    else if (unlink(hmm_path) != 0 && errno != ENOENT)
        rc = ml4t_error_set(err, ML4T_EIO, "hmm", "cannot remove stale %s", hmm_path);
    if (rc)
        return rc;
    cJSON *json = ml4t_model_manifest_json(m);
    char *text = json ? cJSON_Print(json) : NULL;
    cJSON_Delete(json);
    if (!text)
        return ml4t_error_set(err, ML4T_ENOMEM, "manifest", "out of memory writing manifest");
    rc = s_write_atomic(dir, "manifest.json", text, strlen(text), err);
    cJSON_free(text);
    return rc;
}

/* ---------------------------------------------------------------- training */

static ml4t_err_t s_train_inputs_check(const float *X, const float *y, const float *w, size_t n,
                                       size_t k, const char *const *names, double *pos, double *neg,
                                       ml4t_error_t *err)
{
    if (!X || !y || n == 0)
        return ml4t_error_set(err, ML4T_EINVAL, !X ? "X" : "y", "X and y are required, n=%zu", n);
    ml4t_err_t rc = s_names_check(names, k, "feature_names", err);
    if (rc)
        return rc;
    *pos = *neg = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (y[i] != 0.0f && y[i] != 1.0f)
            return ml4t_error_set(err, ML4T_EINVAL, "y", "y[%zu]=%g must be 0 or 1", i, y[i]);
        if (!(wi >= 0) || !isfinite(wi))
            return ml4t_error_set(err, ML4T_EINVAL, "weights",
                                  "weights[%zu]=%g must be finite and >= 0", i, wi);
        *(y[i] == 1.0f ? pos : neg) += wi;
        for (size_t j = 0; j < k; j++)
            if (isinf(X[i * k + j]))
                return ml4t_error_set(err, ML4T_EINVAL, "X",
                                      "X[%zu][%zu] is infinite (use NaN for missing)", i, j);
    }
    if (!(*pos > 0) || !(*neg > 0))
        return ml4t_error_set(err, ML4T_ENODATA, "y",
                              "both classes need weight: positives %g, negatives %g", *pos, *neg);
    return ML4T_OK;
}

static ml4t_err_t s_booster_params(BoosterHandle b, const ml4t_model_params_t *p, double spw,
                                   ml4t_error_t *err)
{
    char v[9][32];
    snprintf(v[0], sizeof v[0], "%d", p->max_depth);
    snprintf(v[1], sizeof v[1], "%.17g", p->eta);
    snprintf(v[2], sizeof v[2], "%.17g", p->subsample);
    snprintf(v[3], sizeof v[3], "%.17g", p->colsample_bytree);
    snprintf(v[4], sizeof v[4], "%.17g", p->min_child_weight);
    snprintf(v[5], sizeof v[5], "%" PRIu32, p->seed);
    snprintf(v[6], sizeof v[6], "%d", p->nthread);
    snprintf(v[7], sizeof v[7], "%.17g", spw);
    const char *kv[][2] = {
        {"objective", p->objective}, {"tree_method", p->tree_method},
        {"max_depth", v[0]},         {"eta", v[1]},
        {"subsample", v[2]},         {"colsample_bytree", v[3]},
        {"min_child_weight", v[4]},  {"seed", v[5]},
        {"nthread", v[6]},           {"scale_pos_weight", v[7]},
        {"verbosity", "1"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        ml4t_err_t rc = S_XGB(err, XGBoosterSetParam, (b, kv[i][0], kv[i][1]));
        if (rc)
            return rc;
    }
    return ML4T_OK;
}

static ml4t_err_t s_dmatrix(const float *X, const float *y, const float *w, size_t n, size_t k,
                            const char *const *names, int nthread, DMatrixHandle *out,
                            ml4t_error_t *err)
{
    DMatrixHandle dm = NULL;
    ml4t_err_t rc =
        S_XGB(err, XGDMatrixCreateFromMat_omp, (X, (bst_ulong)n, (bst_ulong)k, NAN, &dm, nthread));
    if (rc)
        return rc;
    if ((rc = S_XGB(err, XGDMatrixSetFloatInfo, (dm, "label", y, (bst_ulong)n))) ||
        (w && (rc = S_XGB(err, XGDMatrixSetFloatInfo, (dm, "weight", w, (bst_ulong)n)))) ||
        (rc = S_XGB(err, XGDMatrixSetStrFeatureInfo,
                    (dm, "feature_name", (const char **)names, (bst_ulong)k)))) {
        XGDMatrixFree(dm);
        return rc;
    }
    *out = dm;
    return ML4T_OK;
}

static ml4t_err_t s_boost(ml4t_model_t *m, DMatrixHandle dm, const ml4t_model_params_t *p,
                          ml4t_error_t *err)
{
    ml4t_err_t rc = S_XGB(err, XGBoosterCreate, (&dm, 1, &m->booster));
    if (rc || (rc = s_booster_params(m->booster, p, m->man.scale_pos_weight, err)))
        return rc;
    for (int i = 0; i < p->n_estimators; i++) {
        if ((rc = S_XGB(err, XGBoosterUpdateOneIter, (m->booster, i, dm))))
            return rc;
        if (p->on_tree)
            p->on_tree(p->on_tree_ud, i + 1, p->n_estimators);
    }
    return ML4T_OK;
}

static bool s_params_json(cJSON *o, const ml4t_model_params_t *p)
{
    return cJSON_AddStringToObject(o, "objective", p->objective) &&
           cJSON_AddStringToObject(o, "tree_method", p->tree_method) &&
           cJSON_AddNumberToObject(o, "n_estimators", p->n_estimators) &&
           cJSON_AddNumberToObject(o, "max_depth", p->max_depth) &&
           cJSON_AddNumberToObject(o, "eta", p->eta) &&
           cJSON_AddNumberToObject(o, "subsample", p->subsample) &&
           cJSON_AddNumberToObject(o, "colsample_bytree", p->colsample_bytree) &&
           cJSON_AddNumberToObject(o, "min_child_weight", p->min_child_weight) &&
           cJSON_AddNumberToObject(o, "seed", p->seed) &&
           cJSON_AddNumberToObject(o, "nthread", p->nthread) &&
           cJSON_AddStringToObject(o, "balance", s_balance_name(p->balance));
}

/* Creation time, checksum and the default version "<yyyymmddThhmmssZ>-<sha8>". */
static ml4t_err_t s_stamp(ml4t_model_t *m, ml4t_error_t *err)
{
    const char *bytes;
    size_t len;
    m->man.created_ns = ml4t_clock_wall_ns();
    s_utc_iso(m->man.created_ns, m->man.created_utc, sizeof m->man.created_utc);
    ml4t_err_t rc = s_booster_ubj(m, &bytes, &len, err);
    if (rc)
        return rc;
    time_t sec = (time_t)(m->man.created_ns / 1000000000u);
    struct tm tm;
    char stamp[24];
    gmtime_r(&sec, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(m->man.model_version, sizeof m->man.model_version, "%s-%.8s", stamp,
             m->man.booster_sha256);
    return ML4T_OK;
}

ml4t_model_t *ml4t_model_train(const float *X, const float *y, const float *weights, size_t n,
                               size_t k, const char *const *feature_names,
                               const ml4t_model_params_t *p, ml4t_error_t *err)
{
    double pos = 0, neg = 0;
    DMatrixHandle dm = NULL;
    ml4t_model_t *m = NULL;
    ml4t_error_clear(err);
    if (ml4t_model_params_validate(p, err) ||
        s_train_inputs_check(X, y, weights, n, k, feature_names, &pos, &neg, err))
        return NULL;
    if (!(m = s_model_alloc())) {
        ml4t_error_set(err, ML4T_ENOMEM, "model", "out of memory");
        return NULL;
    }
    m->man.n_samples = n;
    m->man.positive_rate = pos / (pos + neg);
    if (p->balance == ML4T_MODEL_BALANCE_SCALE_POS_WEIGHT)
        m->man.scale_pos_weight = neg / pos;
    snprintf(m->man.balance_method, sizeof m->man.balance_method, "%s", s_balance_name(p->balance));
    if (s_set_names(m, feature_names, k, err) ||
        s_dmatrix(X, y, weights, n, k, feature_names, p->nthread, &dm, err))
        goto out_free_model;
    ml4t_err_t rc = s_boost(m, dm, p, err);
    XGDMatrixFree(dm);
    if (rc || s_compile(m, err) || s_stamp(m, err))
        goto out_free_model;
    if (!s_params_json(m->params, p)) {
        ml4t_error_set(err, ML4T_ENOMEM, "model", "out of memory");
        goto out_free_model;
    }
    return m;
out_free_model:
    ml4t_model_unref(&m);
    return NULL;
}

/* ---------------------------------------------------------------- loading */

static ml4t_err_t s_features_match(const ml4t_model_t *m, const char *const *expected, size_t n,
                                   ml4t_error_t *err)
{
    if (!expected)
        return ML4T_OK;
    if (n != m->man.n_features)
        return ml4t_error_set(err, ML4T_EMISMATCH, "features",
                              "model has %zu features, expected %zu", m->man.n_features, n);
    for (size_t i = 0; i < n; i++)
        if (!expected[i] || strcmp(expected[i], m->names[i]) != 0)
            return ml4t_error_set(err, ML4T_EMISMATCH, "features",
                                  "model feature %zu is \"%s\", expected \"%.64s\"", i, m->names[i],
                                  expected[i] ? expected[i] : "(null)");
    return ML4T_OK;
}

static ml4t_err_t s_load_manifest(ml4t_model_t *m, const char *dir, const char *base,
                                  ml4t_error_t *err)
{
    char path[4200];
    char *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    ml4t_err_t rc = s_read_file(path, S_MANIFEST_MAX, &text, &len, "manifest", err);
    if (rc)
        return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root)
        return ml4t_error_set(err, ML4T_EFORMAT, "manifest", "%s is not valid JSON", path);
    rc = s_manifest_parse(m, root, base, err);
    cJSON_Delete(root);
    return rc;
}

/* Reads the booster bytes, checks size and SHA-256 against the manifest before
   XGBoost sees them, and loads them. */
static ml4t_err_t s_load_booster(ml4t_model_t *m, const char *path, ml4t_error_t *err)
{
    char *bytes = NULL;
    size_t len = 0;
    ml4t_err_t rc = s_read_file(path, S_BOOSTER_MAX, &bytes, &len, "booster", err);
    if (rc)
        return rc;
    uint8_t digest[ML4T_SHA256_BYTES];
    char hex[ML4T_SHA256_HEX];
    ml4t_sha256(bytes, len, digest);
    ml4t_sha256_hex(digest, hex);
    if ((uint64_t)len != m->man.booster_bytes)
        rc = ml4t_error_set(err, ML4T_EMISMATCH, "booster.bytes",
                            "%s has %zu bytes, the manifest says %" PRIu64, path, len,
                            m->man.booster_bytes);
    else if (strcmp(hex, m->man.booster_sha256) != 0)
        rc = ml4t_error_set(err, ML4T_EMISMATCH, "booster.sha256",
                            "%s has SHA-256 %.16s..., the manifest says %.16s...", path, hex,
                            m->man.booster_sha256);
    else if (!(rc = S_XGB(err, XGBoosterCreate, (NULL, 0, &m->booster))))
        rc = S_XGB(err, XGBoosterLoadModelFromBuffer, (m->booster, bytes, (bst_ulong)len));
    free(bytes);
    return rc;
}

/* The regime filter beside the model, when there is one. A file that is there
   but does not load refuses the whole model: nothing half-checked goes live. */
static ml4t_err_t s_load_hmm(ml4t_model_t *m, const char *dir, ml4t_error_t *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/hmm.json", dir);
    if (access(path, F_OK) != 0)
        return ML4T_OK;
    ml4t_error_t e;
    m->hmm = ml4t_hmm_load(path, &e);
    if (!m->hmm)
        return ml4t_error_set(err, e.code ? e.code : ML4T_EFORMAT, "hmm", "%s refused: %s", path,
                              e.msg);
    return ML4T_OK;
}

ml4t_model_t *ml4t_model_load(const char *path, const char *const *expected_features,
                              size_t n_expected, ml4t_error_t *err)
{
    char dir[4096];
    const char *base = NULL;
    ml4t_error_clear(err);
    if (s_split_path(path, dir, sizeof dir, &base, err))
        return NULL;
    ml4t_model_t *m = s_model_alloc();
    if (!m) {
        ml4t_error_set(err, ML4T_ENOMEM, "model", "out of memory");
        return NULL;
    }
    if (s_load_manifest(m, dir, base, err) ||
        s_features_match(m, expected_features, n_expected, err) || s_load_booster(m, path, err) ||
        s_compile(m, err) || s_load_hmm(m, dir, err))
        ml4t_model_unref(&m);
    return m;
}

void ml4t_model_attach_hmm(ml4t_model_t *m, ml4t_hmm_t *hmm)
{
    ml4t_hmm_destroy(&m->hmm);
    m->hmm = hmm;
}

const ml4t_hmm_t *ml4t_model_hmm(const ml4t_model_t *m)
{
    return m ? m->hmm : NULL;
}

/* ---------------------------------------------------------------- XGBoost prediction */

ml4t_err_t ml4t_model_predict_xgb(const ml4t_model_t *m, const double *X, size_t n, double *out,
                                  ml4t_error_t *err)
{
    size_t k = m->man.n_features;
    if (n == 0)
        return ML4T_OK;
    float *xf = malloc(n * k * sizeof *xf);
    if (!xf)
        return ml4t_error_set(err, ML4T_ENOMEM, "X", "out of memory for %zu rows", n);
    for (size_t i = 0; i < n * k; i++)
        xf[i] = (float)X[i]; /* what XGBoost's own float32 conversion does */
    char iface[160];
    snprintf(iface, sizeof iface,
             "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\","
             "\"version\":3}",
             (uintptr_t)xf, n, k);
    const char *config = "{\"type\":0,\"training\":false,\"iteration_begin\":0,"
                         "\"iteration_end\":0,\"strict_shape\":false,\"missing\":NaN,"
                         "\"cache_id\":0}";
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    ml4t_model_t *mm = (ml4t_model_t *)m; /* the lock is not part of the model's value */
    pthread_mutex_lock(&mm->xgb_lock);
    ml4t_err_t rc = S_XGB(err, XGBoosterPredictFromDense,
                          (m->booster, iface, config, NULL, &shape, &dim, &res));
    if (!rc && (dim < 1 || shape[0] != n))
        rc = ml4t_error_set(err, ML4T_EMODEL, "xgboost", "prediction has an unexpected shape");
    for (size_t i = 0; !rc && i < n; i++)
        out[i] = res[i];
    pthread_mutex_unlock(&mm->xgb_lock);
    free(xf);
    return rc;
}
