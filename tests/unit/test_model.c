/*  ml4t_model tests: parameters, training, the flat evaluator against XGBoost
    on real rows, save/load, corrupt files, reference counting. */
#include "ml4t/model.h"
#include "ml4t/sha256.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xgboost/c_api.h>

#include "model_fixture.h"
#include "testutil.h"

/* Flat evaluator vs XGBoost: both sum float32 leaves in the same order, so the
   probabilities differ only by the final sigmoid (double here, float in
   XGBoost): a few 1e-8. The brief's bound is 1e-6. */
#define S_TOL 1e-6

#define S_TRAIN_ROWS 20000
#define S_CHECK_ROWS 10000

static struct {
    size_t n;
    float *X, *y;
    uint64_t *ts;
    double *Xd;
    ml4t_model_t *model; /* 100 trees, depth 5, trained on the first S_TRAIN_ROWS rows */
} s_fx;

/* Run as the last case rather than from atexit(): XGBoost's thread-local
   state is gone by the time exit handlers run, and freeing a booster then
   crashes. When a single case runs, the fixture stays reachable (no leak). */
static void t_release_fixture(void)
{
    ml4t_model_unref(&s_fx.model);
    free(s_fx.X);
    free(s_fx.y);
    free(s_fx.ts);
    free(s_fx.Xd);
    memset(&s_fx, 0, sizeof s_fx);
}

/* Rows from the bundled month and the default model, built once per process. */
static int s_fixture(void)
{
    if (s_fx.model)
        return 0;
    s_fx.n = t_rows_load(T_DATA_FILE, 100000, &s_fx.X, &s_fx.y, &s_fx.ts);
    if (s_fx.n < S_TRAIN_ROWS + S_CHECK_ROWS)
        return -1;
    s_fx.Xd = t_rows_to_double(s_fx.X, s_fx.n);
    ml4t_model_params_t p;
    ml4t_model_params_default(&p);
    p.nthread = 1; /* OpenMP threads spin-wait badly on a busy 2-core machine */
    ml4t_error_t err;
    s_fx.model =
        ml4t_model_train(s_fx.X, s_fx.y, NULL, S_TRAIN_ROWS, T_ROW_K, t_row_names(), &p, &err);
    if (!s_fx.model) {
        fprintf(stderr, "  train: %s: %s\n", err.field, err.msg);
        return -1;
    }
    return 0;
}

static ml4t_model_t *s_small_model(int trees, uint32_t seed)
{
    ml4t_model_params_t p;
    ml4t_model_params_default(&p);
    p.nthread = 1; /* OpenMP threads spin-wait badly on a busy 2-core machine */
    p.n_estimators = trees;
    p.max_depth = 3;
    p.seed = seed;
    return ml4t_model_train(s_fx.X, s_fx.y, NULL, 3000, T_ROW_K, t_row_names(), &p, NULL);
}

/* ---------------------------------------------------------------- temp dirs */

static void s_tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/ml4t_test_model_XXXXXX");
    if (!mkdtemp(buf))
        buf[0] = '\0';
}

static void s_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            s_rmtree(path);
        else
            unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static char *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

static int s_spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    fclose(f);
    return w == len ? 0 : -1;
}

/* ---------------------------------------------------------------- parameters */

static void t_params_defaults(void)
{
    ml4t_model_params_t p;
    ml4t_model_params_default(&p);
    CHECK_STR(p.objective, "binary:logistic");
    CHECK_STR(p.tree_method, "hist");
    CHECK_EQ_INT(p.n_estimators, 100);
    CHECK_EQ_INT(p.max_depth, 5);
    CHECK_NEAR(p.eta, 0.1, 0);
    CHECK_NEAR(p.subsample, 0.8, 0);
    CHECK_NEAR(p.colsample_bytree, 1.0, 0);
    CHECK_NEAR(p.min_child_weight, 1.0, 0);
    CHECK_EQ_INT(p.seed, 42);
    CHECK_EQ_INT(p.nthread, 0);
    CHECK_EQ_INT(p.balance, ML4T_MODEL_BALANCE_SCALE_POS_WEIGHT);
    CHECK(p.on_tree == NULL);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_model_params_validate(&p, &err), ML4T_OK);
}

static void t_params_errors_name_the_parameter(void)
{
    ml4t_model_params_t p;
    ml4t_error_t err;
    struct {
        const char *field;
        int which;
    } cases[] = {{"n_estimators", 0},
                 {"max_depth", 1},
                 {"eta", 2},
                 {"eta", 3},
                 {"subsample", 4},
                 {"colsample_bytree", 5},
                 {"min_child_weight", 6},
                 {"nthread", 7},
                 {"objective", 8},
                 {"tree_method", 9},
                 {"balance", 10},
                 {"max_depth", 11}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ml4t_model_params_default(&p);
        switch (cases[i].which) {
        case 0:
            p.n_estimators = 0;
            break;
        case 1:
            p.max_depth = 0;
            break;
        case 2:
            p.eta = 0;
            break;
        case 3:
            p.eta = 1.5;
            break;
        case 4:
            p.subsample = 0;
            break;
        case 5:
            p.colsample_bytree = 1.01;
            break;
        case 6:
            p.min_child_weight = -1;
            break;
        case 7:
            p.nthread = -1;
            break;
        case 8:
            snprintf(p.objective, sizeof p.objective, "reg:squarederror");
            break;
        case 9:
            snprintf(p.tree_method, sizeof p.tree_method, "gpu_hist");
            break;
        case 10:
            p.balance = (ml4t_model_balance_t)7;
            break;
        case 11:
            p.max_depth = 33;
            break;
        }
        CHECK(ml4t_model_params_validate(&p, &err) != ML4T_OK);
        CHECK_STR(err.field, cases[i].field);
        CHECK(strstr(err.msg, cases[i].field) != NULL);
    }
    /* several at once: the first is named, all are listed */
    ml4t_model_params_default(&p);
    p.nthread = 1; /* OpenMP threads spin-wait badly on a busy 2-core machine */
    p.eta = -1;
    p.subsample = 2;
    CHECK_EQ_INT(ml4t_model_params_validate(&p, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "eta");
    CHECK(strstr(err.msg, "eta=-1") != NULL);
    CHECK(strstr(err.msg, "subsample=2") != NULL);
}

/* ---------------------------------------------------------------- training */

static void t_train_rejects_bad_input(void)
{
    REQUIRE(s_fixture() == 0);
    ml4t_model_params_t p;
    ml4t_model_params_default(&p);
    p.nthread = 1; /* OpenMP threads spin-wait badly on a busy 2-core machine */
    p.n_estimators = 2;
    ml4t_error_t err;
    const char *const *names = t_row_names();
    size_t n = 500;
    float *X = malloc(n * T_ROW_K * sizeof *X), *y = malloc(n * sizeof *y);
    REQUIRE(X && y);
    memcpy(X, s_fx.X, n * T_ROW_K * sizeof *X);
    memcpy(y, s_fx.y, n * sizeof *y);

    CHECK(ml4t_model_train(NULL, y, NULL, n, T_ROW_K, names, &p, &err) == NULL);
    CHECK_STR(err.field, "X");
    CHECK(ml4t_model_train(X, y, NULL, 0, T_ROW_K, names, &p, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_EINVAL);
    p.max_depth = 0;
    CHECK(ml4t_model_train(X, y, NULL, n, T_ROW_K, names, &p, &err) == NULL);
    CHECK_STR(err.field, "max_depth");
    p.max_depth = 3;

    y[17] = 2.0f;
    CHECK(ml4t_model_train(X, y, NULL, n, T_ROW_K, names, &p, &err) == NULL);
    CHECK_STR(err.field, "y");
    CHECK(strstr(err.msg, "y[17]=2") != NULL);
    y[17] = 0.0f;

    X[5 * T_ROW_K + 2] = INFINITY;
    CHECK(ml4t_model_train(X, y, NULL, n, T_ROW_K, names, &p, &err) == NULL);
    CHECK_STR(err.field, "X");
    CHECK(strstr(err.msg, "X[5][2]") != NULL);
    X[5 * T_ROW_K + 2] = 0.0f;

    float *w = malloc(n * sizeof *w);
    REQUIRE(w);
    for (size_t i = 0; i < n; i++)
        w[i] = 1.0f;
    w[3] = -1.0f;
    CHECK(ml4t_model_train(X, y, w, n, T_ROW_K, names, &p, &err) == NULL);
    CHECK_STR(err.field, "weights");
    free(w);

    const char *dup[T_ROW_K];
    memcpy(dup, names, sizeof dup);
    dup[4] = dup[1];
    CHECK(ml4t_model_train(X, y, NULL, n, T_ROW_K, dup, &p, &err) == NULL);
    CHECK_STR(err.field, "feature_names");
    CHECK(strstr(err.msg, "repeats") != NULL);
    dup[4] = "bad[name]";
    CHECK(ml4t_model_train(X, y, NULL, n, T_ROW_K, dup, &p, &err) == NULL);
    CHECK_STR(err.field, "feature_names");
    dup[4] = NULL;
    CHECK(ml4t_model_train(X, y, NULL, n, T_ROW_K, dup, &p, &err) == NULL);
    CHECK_STR(err.field, "feature_names");

    for (size_t i = 0; i < n; i++)
        y[i] = 1.0f;
    CHECK(ml4t_model_train(X, y, NULL, n, T_ROW_K, names, &p, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_ENODATA);
    CHECK_STR(err.field, "y");
    free(X);
    free(y);
}

typedef struct {
    int calls, last_done, total, in_order;
} s_progress_t;

static void s_on_tree(void *ud, int done, int total)
{
    s_progress_t *p = ud;
    p->in_order += done == p->last_done + 1;
    p->calls++;
    p->last_done = done;
    p->total = total;
}

static void t_progress_callback(void)
{
    REQUIRE(s_fixture() == 0);
    ml4t_model_params_t p;
    ml4t_model_params_default(&p);
    p.nthread = 1; /* OpenMP threads spin-wait badly on a busy 2-core machine */
    p.n_estimators = 12;
    s_progress_t prog = {0};
    p.on_tree = s_on_tree;
    p.on_tree_ud = &prog;
    ml4t_model_t *m =
        ml4t_model_train(s_fx.X, s_fx.y, NULL, 2000, T_ROW_K, t_row_names(), &p, NULL);
    REQUIRE(m);
    CHECK_EQ_INT(prog.calls, 12);
    CHECK_EQ_INT(prog.in_order, 12);
    CHECK_EQ_INT(prog.last_done, 12);
    CHECK_EQ_INT(prog.total, 12);
    CHECK_EQ_INT(ml4t_model_n_trees(m), 12);
    ml4t_model_unref(&m);
}

static void t_class_balance_in_manifest(void)
{
    REQUIRE(s_fixture() == 0);
    size_t pos = 0;
    for (size_t i = 0; i < S_TRAIN_ROWS; i++)
        pos += s_fx.y[i] == 1.0f;
    const ml4t_model_manifest_t *man = ml4t_model_manifest(s_fx.model);
    double rate = (double)pos / S_TRAIN_ROWS;
    /* up bars are fewer than down-or-flat bars in 1m data: a real imbalance */
    CHECK(rate > 0.3 && rate < 0.5);
    CHECK_NEAR(man->positive_rate, rate, 1e-12);
    CHECK_NEAR(man->scale_pos_weight, (double)(S_TRAIN_ROWS - pos) / (double)pos, 1e-12);
    CHECK_STR(man->balance_method, "scale_pos_weight");
    CHECK_EQ_INT(man->n_samples, S_TRAIN_ROWS);

    /* sample weights count in the balance; "none" leaves scale_pos_weight at 1 */
    size_t n = 3000;
    float *w = malloc(n * sizeof *w);
    REQUIRE(w);
    double wp = 0, wn = 0;
    for (size_t i = 0; i < n; i++) {
        w[i] = 0.5f + (float)(i % 4);
        *(s_fx.y[i] == 1.0f ? &wp : &wn) += w[i];
    }
    ml4t_model_params_t p;
    ml4t_model_params_default(&p);
    p.nthread = 1; /* OpenMP threads spin-wait badly on a busy 2-core machine */
    p.n_estimators = 3;
    ml4t_model_t *m = ml4t_model_train(s_fx.X, s_fx.y, w, n, T_ROW_K, t_row_names(), &p, NULL);
    REQUIRE(m);
    CHECK_NEAR(ml4t_model_manifest(m)->positive_rate, wp / (wp + wn), 1e-12);
    CHECK_NEAR(ml4t_model_manifest(m)->scale_pos_weight, wn / wp, 1e-12);
    ml4t_model_unref(&m);
    p.balance = ML4T_MODEL_BALANCE_NONE;
    m = ml4t_model_train(s_fx.X, s_fx.y, w, n, T_ROW_K, t_row_names(), &p, NULL);
    REQUIRE(m);
    CHECK_STR(ml4t_model_manifest(m)->balance_method, "none");
    CHECK_NEAR(ml4t_model_manifest(m)->scale_pos_weight, 1.0, 0);
    ml4t_model_unref(&m);
    free(w);
}

/* ---------------------------------------------------------------- evaluator */

static double s_max_diff(const double *a, const double *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

static void t_flat_matches_xgboost_on_real_rows(void)
{
    REQUIRE(s_fixture() == 0);
    const double *X = s_fx.Xd + (size_t)S_TRAIN_ROWS * T_ROW_K; /* out of sample */
    size_t n = S_CHECK_ROWS, with_nan = 0;
    for (size_t i = 0; i < n * T_ROW_K; i += T_ROW_K)
        for (size_t j = 0; j < T_ROW_K; j++)
            if (isnan(X[i + j])) {
                with_nan++;
                break;
            }
    CHECK(with_nan > n / 20); /* the missing-value path is exercised */
    double *flat = malloc(n * sizeof *flat), *xgb = malloc(n * sizeof *xgb);
    REQUIRE(flat && xgb);
    ml4t_error_t err = {0};
    CHECK_EQ_INT(ml4t_model_n_trees(s_fx.model), 100);
    for (size_t i = 0; i < n; i++)
        ml4t_model_predict_row(s_fx.model, X + i * T_ROW_K, &flat[i]);
    CHECK_EQ_INT(ml4t_model_predict_xgb(s_fx.model, X, n, xgb, &err), ML4T_OK);
    if (err.code)
        printf("  %s: %s\n", err.field, err.msg);
    double d = s_max_diff(flat, xgb, n);
    printf("  max |flat - xgboost| over %zu real rows (%zu with NaN): %.3g\n", n, with_nan, d);
    CHECK(d <= S_TOL);
    /* the model is not constant: predictions spread */
    double lo = 1, hi = 0;
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, flat[i]);
        hi = fmax(hi, flat[i]);
    }
    CHECK(hi - lo > 0.1);
    free(flat);
    free(xgb);
}

static void t_batch_equals_row(void)
{
    REQUIRE(s_fixture() == 0);
    size_t n = 2000;
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    REQUIRE(a && b);
    ml4t_model_predict_batch(s_fx.model, s_fx.Xd, n, a);
    for (size_t i = 0; i < n; i++)
        ml4t_model_predict_row(s_fx.model, s_fx.Xd + i * T_ROW_K, &b[i]);
    CHECK(memcmp(a, b, n * sizeof *a) == 0);
    free(a);
    free(b);
}

/* Split thresholds read from the booster's own JSON dump. */
static size_t s_thresholds(ml4t_model_t *m, int *feat, float *thr, size_t max)
{
    bst_ulong len = 0;
    const char *buf = NULL;
    if (XGBoosterSaveModelToBuffer(ml4t_model_booster(m), "{\"format\":\"json\"}", &len, &buf))
        return 0;
    cJSON *root = cJSON_ParseWithLength(buf, (size_t)len);
    cJSON *trees = cJSON_GetObjectItem(
        cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(root, "learner"), "gradient_booster"), "model"),
        "trees");
    size_t n = 0;
    for (cJSON *t = trees ? trees->child : NULL; t && n < max; t = t->next) {
        cJSON *lc = cJSON_GetObjectItem(t, "left_children")->child;
        cJSON *si = cJSON_GetObjectItem(t, "split_indices")->child;
        cJSON *sc = cJSON_GetObjectItem(t, "split_conditions")->child;
        for (; lc && n < max; lc = lc->next, si = si->next, sc = sc->next)
            if (lc->valueint != -1) {
                feat[n] = si->valueint;
                thr[n++] = (float)sc->valuedouble;
            }
    }
    cJSON_Delete(root);
    return n;
}

/* Inputs exactly on a threshold, one float ulp either side, NaN everywhere,
   and huge magnitudes: the comparison semantics, not just typical rows. */
static void t_flat_matches_xgboost_on_edges(void)
{
    REQUIRE(s_fixture() == 0);
    enum { MAXT = 600 };
    int feat[MAXT];
    float thr[MAXT];
    size_t nt = s_thresholds(s_fx.model, feat, thr, MAXT);
    CHECK(nt > 300);
    size_t n = nt * 4 + 3;
    double *X = malloc(n * T_ROW_K * sizeof *X), *flat = malloc(n * sizeof *flat),
           *xgb = malloc(n * sizeof *xgb);
    REQUIRE(X && flat && xgb);
    for (size_t r = 0; r < n; r++)
        memcpy(X + r * T_ROW_K, s_fx.Xd + (r % 5000) * T_ROW_K, T_ROW_K * sizeof *X);
    for (size_t i = 0; i < nt; i++) {
        float t = thr[i];
        X[(4 * i) * T_ROW_K + feat[i]] = t;
        X[(4 * i + 1) * T_ROW_K + feat[i]] = nextafterf(t, -INFINITY);
        X[(4 * i + 2) * T_ROW_K + feat[i]] = nextafterf(t, INFINITY);
        /* a double between the float below and the threshold rounds to it */
        X[(4 * i + 3) * T_ROW_K + feat[i]] = ((double)t + nextafterf(t, -INFINITY)) / 2;
    }
    for (size_t j = 0; j < T_ROW_K; j++) {
        X[(n - 3) * T_ROW_K + j] = NAN;
        X[(n - 2) * T_ROW_K + j] = 1e30;
        X[(n - 1) * T_ROW_K + j] = -1e30;
    }
    for (size_t i = 0; i < n; i++)
        ml4t_model_predict_row(s_fx.model, X + i * T_ROW_K, &flat[i]);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_model_predict_xgb(s_fx.model, X, n, xgb, &err), ML4T_OK);
    double d = s_max_diff(flat, xgb, n);
    printf("  max |flat - xgboost| over %zu edge rows: %.3g\n", n, d);
    CHECK(d <= S_TOL);
    free(X);
    free(flat);
    free(xgb);
}

/* ---------------------------------------------------------------- save / load */

static void t_save_load_roundtrip(void)
{
    REQUIRE(s_fixture() == 0);
    char dir[64], path[128];
    s_tmpdir(dir, sizeof dir);
    REQUIRE(dir[0]);
    snprintf(path, sizeof path, "%s/m1/model.ubj", dir); /* m1/ is created */
    ml4t_model_t *m = s_fx.model;
    ml4t_error_t err;
    CHECK_EQ_INT(
        ml4t_model_set_window(m, s_fx.ts[0], s_fx.ts[S_TRAIN_ROWS - 1], S_TRAIN_ROWS, &err),
        ML4T_OK);
    CHECK_EQ_INT(ml4t_model_set_label_barriers(m, 2.0, 1.0, 60, &err), ML4T_OK);
    CHECK_EQ_INT(ml4t_model_set_metric(m, "auc", 0.5312, &err), ML4T_OK);
    CHECK_EQ_INT(ml4t_model_set_metric(m, "accuracy", 0.61, &err), ML4T_OK);
    CHECK_EQ_INT(ml4t_model_save(m, path, &err), ML4T_OK);

    ml4t_model_t *l = ml4t_model_load(path, t_row_names(), T_ROW_K, &err);
    REQUIRE(l);
    const ml4t_model_manifest_t *a = ml4t_model_manifest(m), *b = ml4t_model_manifest(l);
    CHECK_STR(ml4t_model_version(l), ml4t_model_version(m));
    CHECK_EQ_INT(ml4t_model_n_features(l), T_ROW_K);
    CHECK_STR(ml4t_model_feature_name(l, 9), "ret_60");
    CHECK(ml4t_model_feature_name(l, 10) == NULL);
    CHECK_EQ_INT(b->window_first_ts_ns, s_fx.ts[0]);
    CHECK_EQ_INT(b->window_first_ts_ns, 1698796800000000000ull + 60ull * 60000000000ull);
    CHECK_EQ_INT(b->window_last_ts_ns, s_fx.ts[S_TRAIN_ROWS - 1]);
    CHECK_EQ_INT(b->n_samples, S_TRAIN_ROWS);
    CHECK_EQ_INT(b->created_ns, a->created_ns);
    CHECK_STR(b->created_utc, a->created_utc);
    CHECK_STR(b->booster_sha256, a->booster_sha256);
    CHECK_NEAR(b->positive_rate, a->positive_rate, 1e-15);
    CHECK_NEAR(b->scale_pos_weight, a->scale_pos_weight, 1e-15);
    CHECK_NEAR(cJSON_GetObjectItem(b->metrics, "auc")->valuedouble, 0.5312, 0);
    CHECK_NEAR(cJSON_GetObjectItem(b->labels, "max_holding_bars")->valuedouble, 60, 0);
    CHECK_NEAR(cJSON_GetObjectItem(b->params, "max_depth")->valuedouble, 5, 0);
    size_t n = 3000;
    double *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
    REQUIRE(pa && pb);
    ml4t_model_predict_batch(m, s_fx.Xd, n, pa);
    ml4t_model_predict_batch(l, s_fx.Xd, n, pb);
    CHECK(memcmp(pa, pb, n * sizeof *pa) == 0);
    free(pa);
    free(pb);
    ml4t_model_unref(&l);
    s_rmtree(dir);
}

/* The files themselves, read independently of the loader. */
static void t_manifest_file_contents(void)
{
    REQUIRE(s_fixture() == 0);
    char dir[64], path[128], mpath[128];
    s_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/meta.ubj", dir);
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    ml4t_error_t err;
    REQUIRE(ml4t_model_save(s_fx.model, path, &err) == ML4T_OK);
    size_t blen = 0, mlen = 0;
    char *booster = s_slurp(path, &blen), *text = s_slurp(mpath, &mlen);
    REQUIRE(booster && text);
    uint8_t d[ML4T_SHA256_BYTES];
    char hex[ML4T_SHA256_HEX];
    ml4t_sha256(booster, blen, d);
    ml4t_sha256_hex(d, hex);
    CHECK(booster[0] == '{'); /* UBJSON object marker */
    cJSON *j = cJSON_Parse(text);
    REQUIRE(j);
    cJSON *b = cJSON_GetObjectItem(j, "booster");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(b, "sha256")), hex);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(b, "file")), "meta.ubj");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(b, "format")), "ubj");
    CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(b, "bytes")), (double)blen, 0);
    CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "schema_version")),
               ML4T_MODEL_SCHEMA_VERSION, 0);
    cJSON *f = cJSON_GetObjectItem(j, "features");
    CHECK_EQ_INT(cJSON_GetArraySize(f), T_ROW_K);
    for (int i = 0; i < T_ROW_K; i++)
        CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(f, i)), t_row_names()[i]);
    cJSON *created = cJSON_GetObjectItem(j, "created");
    const char *utc = cJSON_GetStringValue(cJSON_GetObjectItem(created, "utc"));
    CHECK(utc && strlen(utc) == 30 && utc[10] == 'T' && utc[29] == 'Z');
    CHECK(cJSON_IsString(cJSON_GetObjectItem(created, "ns")));
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "class_balance")));
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "training_window")));
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "metrics")));
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "labels")));
    /* no temporary files left behind */
    DIR *dd = opendir(dir);
    int files = 0;
    for (struct dirent *e; dd && (e = readdir(dd));)
        files += e->d_name[0] != '.';
    closedir(dd);
    CHECK_EQ_INT(files, 2);
    cJSON_Delete(j);
    free(booster);
    free(text);
    s_rmtree(dir);
}

/* A saved model directory for the corruption cases; returns 0 on success. */
static int s_saved(char *dir, size_t dsize, char *path, size_t psize)
{
    if (s_fixture() != 0)
        return -1;
    s_tmpdir(dir, dsize);
    snprintf(path, psize, "%s/model.ubj", dir);
    return ml4t_model_save(s_fx.model, path, NULL) == ML4T_OK ? 0 : -1;
}

static void t_load_refuses_feature_mismatch(void)
{
    char dir[64], path[128];
    REQUIRE(s_saved(dir, sizeof dir, path, sizeof path) == 0);
    ml4t_error_t err;
    const char *names[T_ROW_K];
    memcpy(names, t_row_names(), sizeof names);
    names[3] = t_row_names()[4];
    names[4] = t_row_names()[3];
    CHECK(ml4t_model_load(path, names, T_ROW_K, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_EMISMATCH);
    CHECK_STR(err.field, "features");
    CHECK(strstr(err.msg, "feature 3") != NULL);
    CHECK(ml4t_model_load(path, names, T_ROW_K - 1, &err) == NULL);
    CHECK_STR(err.field, "features");
    CHECK(strstr(err.msg, "expected 9") != NULL);
    ml4t_model_t *m = ml4t_model_load(path, NULL, 0, &err);
    CHECK(m != NULL);
    ml4t_model_unref(&m);
    s_rmtree(dir);
}

static void t_load_refuses_corrupt_booster(void)
{
    char dir[64], path[128];
    REQUIRE(s_saved(dir, sizeof dir, path, sizeof path) == 0);
    size_t len = 0;
    char *orig = s_slurp(path, &len);
    REQUIRE(orig && len > 1000);
    ml4t_error_t err;
    int refused = 0, tries = 0;
    /* truncated at many offsets, including 0 (empty) and len - 1 */
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : len / 97 + 1), tries++) {
        REQUIRE(s_spit(path, orig, cut) == 0);
        ml4t_model_t *m = ml4t_model_load(path, NULL, 0, &err);
        refused += m == NULL && err.code == ML4T_EMISMATCH && !strcmp(err.field, "booster.bytes");
        ml4t_model_unref(&m);
    }
    REQUIRE(s_spit(path, orig, len - 1) == 0);
    refused += ml4t_model_load(path, NULL, 0, &err) == NULL;
    CHECK_EQ_INT(refused, tries + 1);
    /* one flipped bit anywhere */
    refused = tries = 0;
    for (size_t at = 0; at < len; at += len / 101 + 1, tries++) {
        orig[at] ^= 0x10;
        REQUIRE(s_spit(path, orig, len) == 0);
        orig[at] ^= 0x10;
        ml4t_model_t *m = ml4t_model_load(path, NULL, 0, &err);
        refused += m == NULL && err.code == ML4T_EMISMATCH && !strcmp(err.field, "booster.sha256");
        ml4t_model_unref(&m);
    }
    CHECK_EQ_INT(refused, tries);
    /* missing booster */
    unlink(path);
    CHECK(ml4t_model_load(path, NULL, 0, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_ENOTFOUND);
    CHECK_STR(err.field, "booster");
    /* the original bytes load again */
    REQUIRE(s_spit(path, orig, len) == 0);
    ml4t_model_t *m = ml4t_model_load(path, NULL, 0, &err);
    CHECK(m != NULL);
    ml4t_model_unref(&m);
    free(orig);
    s_rmtree(dir);
}

static void t_load_refuses_corrupt_manifest(void)
{
    char dir[64], path[128], mpath[128];
    REQUIRE(s_saved(dir, sizeof dir, path, sizeof path) == 0);
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    size_t len = 0;
    char *orig = s_slurp(mpath, &len);
    REQUIRE(orig);
    ml4t_error_t err;
    int refused = 0, tries = 0;
    for (size_t cut = 0; cut < len; cut += 7, tries++) {
        REQUIRE(s_spit(mpath, orig, cut) == 0);
        ml4t_model_t *m = ml4t_model_load(path, NULL, 0, &err);
        refused += m == NULL && err.code != ML4T_OK;
        ml4t_model_unref(&m);
    }
    CHECK_EQ_INT(refused, tries);
    unlink(mpath);
    CHECK(ml4t_model_load(path, NULL, 0, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_ENOTFOUND);
    CHECK_STR(err.field, "manifest");
    REQUIRE(s_spit(mpath, "[1,2,3]", 7) == 0);
    CHECK(ml4t_model_load(path, NULL, 0, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_ETYPE);
    free(orig);
    s_rmtree(dir);
}

/* Rewrites one manifest field (dotted path; NULL value = remove it) and loads. */
static ml4t_err_t s_load_edited(const char *dir, const char *path, const char *orig,
                                const char *parent, const char *key, cJSON *value,
                                ml4t_error_t *err)
{
    char mpath[128];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    cJSON *j = cJSON_Parse(orig);
    cJSON *obj = parent ? cJSON_GetObjectItem(j, parent) : j;
    if (value)
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
    else
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    char *text = cJSON_Print(j);
    s_spit(mpath, text, strlen(text));
    cJSON_free(text);
    cJSON_Delete(j);
    ml4t_model_t *m = ml4t_model_load(path, NULL, 0, err);
    ml4t_err_t rc = m ? ML4T_OK : err->code;
    ml4t_model_unref(&m);
    return rc;
}

static void t_load_refuses_bad_manifest_fields(void)
{
    char dir[64], path[128], mpath[128];
    REQUIRE(s_saved(dir, sizeof dir, path, sizeof path) == 0);
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    size_t len = 0;
    char *orig = s_slurp(mpath, &len);
    REQUIRE(orig);
    ml4t_error_t err;
    static const struct {
        const char *parent, *key, *field;
    } required[] = {
        {NULL, "schema_version", "schema_version"},
        {NULL, "ml4t_version", "ml4t_version"},
        {NULL, "model_version", "model_version"},
        {NULL, "features", "features"},
        {NULL, "created", "created"},
        {"created", "utc", "created.utc"},
        {"created", "ns", "created.ns"},
        {NULL, "booster", "booster"},
        {"booster", "sha256", "booster.sha256"},
        {"booster", "bytes", "booster.bytes"},
        {"booster", "file", "booster.file"},
        {"booster", "format", "booster.format"},
        {NULL, "training_window", "training_window"},
        {"training_window", "first_ts_ns", "training_window.first_ts_ns"},
        {"training_window", "n_samples", "training_window.n_samples"},
        {NULL, "class_balance", "class_balance"},
        {"class_balance", "scale_pos_weight", "class_balance.scale_pos_weight"},
        {NULL, "labels", "labels"},
        {NULL, "metrics", "metrics"},
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        ml4t_err_t rc =
            s_load_edited(dir, path, orig, required[i].parent, required[i].key, NULL, &err);
        CHECK_EQ_INT(rc, ML4T_EMISSING);
        CHECK_STR(err.field, required[i].field);
        /* and with the wrong type: a number where a string/object is due, or the reverse */
        bool is_num = !strcmp(required[i].key, "schema_version") ||
                      !strcmp(required[i].key, "bytes") || !strcmp(required[i].key, "n_samples") ||
                      !strcmp(required[i].key, "scale_pos_weight");
        cJSON *wrong = is_num ? cJSON_CreateString("12") : cJSON_CreateNumber(12);
        rc = s_load_edited(dir, path, orig, required[i].parent, required[i].key, wrong, &err);
        CHECK_EQ_INT(rc, ML4T_ETYPE);
        CHECK_STR(err.field, required[i].field);
    }
    /* right types, wrong values */
    CHECK_EQ_INT(
        s_load_edited(dir, path, orig, NULL, "schema_version", cJSON_CreateNumber(99), &err),
        ML4T_EUNSUPPORTED);
    CHECK_EQ_INT(
        s_load_edited(dir, path, orig, "booster", "sha256", cJSON_CreateString("abc"), &err),
        ML4T_EFORMAT);
    CHECK_EQ_INT(s_load_edited(dir, path, orig, "booster", "sha256",
                               cJSON_CreateString("00000000000000000000000000000000"
                                                  "00000000000000000000000000000000"),
                               &err),
                 ML4T_EMISMATCH);
    CHECK_STR(err.field, "booster.sha256");
    CHECK_EQ_INT(s_load_edited(dir, path, orig, "created", "ns", cJSON_CreateString("-5"), &err),
                 ML4T_ETYPE);
    CHECK_EQ_INT(s_load_edited(dir, path, orig, "booster", "bytes", cJSON_CreateNumber(-1), &err),
                 ML4T_ERANGE);
    CHECK_EQ_INT(
        s_load_edited(dir, path, orig, "booster", "file", cJSON_CreateString("other.ubj"), &err),
        ML4T_EMISMATCH);
    CHECK_EQ_INT(s_load_edited(dir, path, orig, NULL, "model_version",
                               cJSON_CreateString("has space"), &err),
                 ML4T_EINVAL);
    const char *dup[] = {"a", "b", "a"};
    CHECK_EQ_INT(
        s_load_edited(dir, path, orig, NULL, "features", cJSON_CreateStringArray(dup, 3), &err),
        ML4T_EINVAL);
    CHECK_STR(err.field, "features");
    /* a consistent manifest with fewer features than the booster uses */
    CHECK_EQ_INT(
        s_load_edited(dir, path, orig, NULL, "features", cJSON_CreateStringArray(dup, 2), &err),
        ML4T_EMISMATCH);
    /* the untouched manifest still loads */
    CHECK_EQ_INT(s_load_edited(dir, path, orig, NULL, "params", cJSON_CreateObject(), &err),
                 ML4T_OK);
    free(orig);
    s_rmtree(dir);
}

/* Saving writes the booster, then the manifest: a crash in between leaves the
   new booster beside the old manifest, which must be refused. */
static void t_crash_between_writes_is_refused(void)
{
    char dir[64], path[128], other_dir[64], other[128];
    REQUIRE(s_saved(dir, sizeof dir, path, sizeof path) == 0);
    ml4t_model_t *b = s_small_model(5, 7);
    REQUIRE(b);
    s_tmpdir(other_dir, sizeof other_dir);
    snprintf(other, sizeof other, "%s/model.ubj", other_dir);
    REQUIRE(ml4t_model_save(b, other, NULL) == ML4T_OK);
    size_t len = 0;
    char *bytes = s_slurp(other, &len);
    REQUIRE(bytes);
    REQUIRE(s_spit(path, bytes, len) == 0);
    ml4t_error_t err;
    CHECK(ml4t_model_load(path, NULL, 0, &err) == NULL);
    CHECK_EQ_INT(err.code, ML4T_EMISMATCH);
    CHECK(!strcmp(err.field, "booster.sha256") || !strcmp(err.field, "booster.bytes"));
    free(bytes);
    ml4t_model_unref(&b);
    s_rmtree(dir);
    s_rmtree(other_dir);
}

static void t_failed_load_leaves_model_alone(void)
{
    REQUIRE(s_fixture() == 0);
    ml4t_model_t *live = ml4t_model_ref(s_fx.model);
    double before, after;
    ml4t_model_predict_row(live, s_fx.Xd, &before);
    ml4t_error_t err;
    ml4t_model_t *m = ml4t_model_load("/nonexistent/dir/model.ubj", NULL, 0, &err);
    CHECK(m == NULL);
    CHECK_EQ_INT(err.code, ML4T_ENOTFOUND);
    CHECK(ml4t_model_load("", NULL, 0, &err) == NULL);
    CHECK_STR(err.field, "path");
    CHECK(ml4t_model_load("dir/", NULL, 0, &err) == NULL);
    ml4t_model_predict_row(live, s_fx.Xd, &after);
    CHECK(before == after);
    ml4t_model_unref(&live);
}

/* ---------------------------------------------------------------- references, setters */

static void t_reference_counting(void)
{
    REQUIRE(s_fixture() == 0);
    ml4t_model_t *m = s_small_model(2, 1);
    REQUIRE(m);
    CHECK_EQ_INT(ml4t_model_refcount(m), 1);
    ml4t_model_t *a = ml4t_model_ref(m), *b = ml4t_model_ref(m);
    CHECK(a == m && b == m);
    CHECK_EQ_INT(ml4t_model_refcount(m), 3);
    ml4t_model_unref(&a);
    CHECK(a == NULL);
    ml4t_model_unref(&a); /* NULL: nothing */
    ml4t_model_unref(NULL);
    CHECK_EQ_INT(ml4t_model_refcount(m), 2);
    ml4t_model_unref(&b);
    ml4t_model_destroy(&m); /* the last one frees (ASan reports a leak otherwise) */
    CHECK(m == NULL);
}

static void t_setters_validate(void)
{
    REQUIRE(s_fixture() == 0);
    ml4t_model_t *m = s_small_model(2, 2);
    REQUIRE(m);
    ml4t_error_t err;
    /* default version: <yyyymmddThhmmssZ>-<sha8> */
    const char *v = ml4t_model_version(m);
    CHECK(strlen(v) == 25 && v[8] == 'T' && v[15] == 'Z' && v[16] == '-');
    CHECK(strncmp(v + 17, ml4t_model_manifest(m)->booster_sha256, 8) == 0);
    CHECK_EQ_INT(ml4t_model_set_version(m, "meta-2024.1", &err), ML4T_OK);
    CHECK_STR(ml4t_model_version(m), "meta-2024.1");
    CHECK_EQ_INT(ml4t_model_set_version(m, "", &err), ML4T_EINVAL);
    CHECK_STR(err.field, "model_version");
    CHECK_EQ_INT(ml4t_model_set_version(m, "a/b", &err), ML4T_EINVAL);
    CHECK_STR(ml4t_model_version(m), "meta-2024.1");
    CHECK_EQ_INT(ml4t_model_set_window(m, 10, 5, 3, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "training_window");
    cJSON *arr = cJSON_CreateArray();
    CHECK_EQ_INT(ml4t_model_set_metrics(m, arr, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "metrics");
    CHECK_EQ_INT(ml4t_model_set_labels(m, arr, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "labels");
    cJSON_Delete(arr);
    CHECK_EQ_INT(ml4t_model_set_metric(m, "auc", NAN, &err), ML4T_ERANGE);
    CHECK_EQ_INT(ml4t_model_set_label_barriers(m, 1, -1, 10, &err), ML4T_ERANGE);
    cJSON *metrics = cJSON_Parse("{\"auc\":0.55,\"folds\":[0.5,0.6]}");
    CHECK_EQ_INT(ml4t_model_set_metrics(m, metrics, &err), ML4T_OK);
    cJSON_Delete(metrics); /* the model kept a copy */
    CHECK_EQ_INT(ml4t_model_set_metric(m, "auc", 0.56, &err), ML4T_OK);
    const cJSON *got = ml4t_model_manifest(m)->metrics;
    CHECK_NEAR(cJSON_GetObjectItem(got, "auc")->valuedouble, 0.56, 0);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(got, "folds")), 2);
    ml4t_model_unref(&m);
}

static const t_case_t cases[] = {
    T_CASE(t_params_defaults),
    T_CASE(t_params_errors_name_the_parameter),
    T_CASE(t_train_rejects_bad_input),
    T_CASE(t_progress_callback),
    T_CASE(t_class_balance_in_manifest),
    T_CASE(t_flat_matches_xgboost_on_real_rows),
    T_CASE(t_batch_equals_row),
    T_CASE(t_flat_matches_xgboost_on_edges),
    T_CASE(t_save_load_roundtrip),
    T_CASE(t_manifest_file_contents),
    T_CASE(t_load_refuses_feature_mismatch),
    T_CASE(t_load_refuses_corrupt_booster),
    T_CASE(t_load_refuses_corrupt_manifest),
    T_CASE(t_load_refuses_bad_manifest_fields),
    T_CASE(t_crash_between_writes_is_refused),
    T_CASE(t_failed_load_leaves_model_alone),
    T_CASE(t_reference_counting),
    T_CASE(t_setters_validate),
    T_CASE(t_release_fixture),
};
T_MAIN(cases)
