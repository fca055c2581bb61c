/*  ml4t_forest tests: hand-written XGBoost JSON models with answers worked out
    by hand, and malformed models that must be refused. */
#include "ml4t/forest.h"

#include <stdbool.h>

#include "testutil.h"

/* One tree as XGBoost writes it. Leaves carry their value in split_conditions. */
typedef struct {
    int n;
    int left[16], right[16], feat[16], dl[16], type[16];
    float cond[16];
} s_tree_t;

static cJSON *s_int_array(const int *v, int n)
{
    return cJSON_CreateIntArray(v, n);
}

static cJSON *s_tree_json(const s_tree_t *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "left_children", s_int_array(t->left, t->n));
    cJSON_AddItemToObject(o, "right_children", s_int_array(t->right, t->n));
    cJSON_AddItemToObject(o, "split_indices", s_int_array(t->feat, t->n));
    cJSON_AddItemToObject(o, "default_left", s_int_array(t->dl, t->n));
    cJSON_AddItemToObject(o, "split_type", s_int_array(t->type, t->n));
    cJSON_AddItemToObject(o, "split_conditions", cJSON_CreateFloatArray(t->cond, t->n));
    return o;
}

/* A model document around trees; objective/booster/base_score/num_feature as given. */
static cJSON *s_model(const s_tree_t *trees, int n, const char *objective, const char *booster,
                      const char *base_score, const char *num_feature)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *learner = cJSON_AddObjectToObject(root, "learner");
    cJSON *mp = cJSON_AddObjectToObject(learner, "learner_model_param");
    cJSON_AddStringToObject(mp, "base_score", base_score);
    cJSON_AddStringToObject(mp, "num_class", "0");
    cJSON_AddStringToObject(mp, "num_feature", num_feature);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(learner, "objective"), "name", objective);
    cJSON *gb = cJSON_AddObjectToObject(learner, "gradient_booster");
    cJSON_AddStringToObject(gb, "name", booster);
    cJSON *arr = cJSON_AddArrayToObject(cJSON_AddObjectToObject(gb, "model"), "trees");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, s_tree_json(&trees[i]));
    return root;
}

/* x0 < 0.5 ? -1 : +1; missing goes left when dl */
static s_tree_t s_stump(int feature, float thr, int dl, float lo, float hi)
{
    s_tree_t t = {.n = 3,
                  .left = {1, -1, -1},
                  .right = {2, -1, -1},
                  .feat = {feature, 0, 0},
                  .dl = {dl, 0, 0},
                  .cond = {thr, lo, hi}};
    return t;
}

static ml4t_forest_t *s_compile(const s_tree_t *trees, int n, size_t k, ml4t_error_t *err)
{
    char nf[16];
    snprintf(nf, sizeof nf, "%zu", k);
    cJSON *doc = s_model(trees, n, "binary:logistic", "gbtree", "5E-1", nf);
    ml4t_forest_t *f = ml4t_forest_from_xgboost_json(doc, k, err);
    cJSON_Delete(doc);
    return f;
}

static void t_stump_known_answers(void)
{
    s_tree_t t = s_stump(0, 0.5f, 1, -1.0f, 1.0f);
    ml4t_error_t err;
    ml4t_forest_t *f = s_compile(&t, 1, 2, &err);
    REQUIRE(f);
    double x[2] = {0.4, 0};
    /* base_score 0.5: margin 0 plus the leaf */
    CHECK_NEAR(ml4t_forest_margin(f, x), -1.0, 0);
    x[0] = 0.5; /* x < 0.5 is false: right */
    CHECK_NEAR(ml4t_forest_margin(f, x), 1.0, 0);
    x[0] = NAN; /* default left */
    CHECK_NEAR(ml4t_forest_margin(f, x), -1.0, 0);
    x[0] = -INFINITY;
    CHECK_NEAR(ml4t_forest_margin(f, x), -1.0, 0);
    x[0] = INFINITY;
    CHECK_NEAR(ml4t_forest_margin(f, x), 1.0, 0);
    CHECK_NEAR(ml4t_forest_predict(f, x), 1.0 / (1.0 + exp(-1.0)), 1e-15);
    CHECK_EQ_INT(ml4t_forest_n_trees(f), 1);
    CHECK_EQ_INT(ml4t_forest_n_features(f), 2);
    ml4t_forest_destroy(&f);
    CHECK(f == NULL);

    t.dl[0] = 0; /* missing now goes right */
    f = s_compile(&t, 1, 2, &err);
    REQUIRE(f);
    x[0] = NAN;
    CHECK_NEAR(ml4t_forest_margin(f, x), 1.0, 0);
    ml4t_forest_destroy(&f);
}

/* The input is rounded to float before the compare, as in XGBoost: a double
   just below a float threshold that rounds up to it goes right. */
static void t_float_rounding_of_inputs(void)
{
    float thr = 0.1f; /* 0.100000001490116... */
    s_tree_t t = s_stump(0, thr, 0, -1.0f, 1.0f);
    ml4t_forest_t *f = s_compile(&t, 1, 1, NULL);
    REQUIRE(f);
    double below = (double)thr - 1e-12; /* < thr as a double, == thr as a float */
    CHECK(below < (double)thr && (float)below == thr);
    CHECK_NEAR(ml4t_forest_margin(f, &below), 1.0, 0);
    double clearly_below = (double)nextafterf(thr, 0.0f);
    CHECK_NEAR(ml4t_forest_margin(f, &clearly_below), -1.0, 0);
    ml4t_forest_destroy(&f);
}

/* Trees of different depths in one group, a shallow leaf beside a deep
   branch, base_score 0.25, more than one group of trees. */
static void t_mixed_depths_and_base_score(void)
{
    /* depth 3: f0 < 0 ? 0.5 : (f1 < 1 ? (f2 < 2 ? 0.25 : 0.125) : 2) */
    s_tree_t deep = {.n = 7,
                     .left = {1, -1, 3, 5, -1, -1, -1},
                     .right = {2, -1, 4, 6, -1, -1, -1},
                     .feat = {0, 0, 1, 2, 0, 0, 0},
                     .dl = {1, 0, 0, 1, 0, 0, 0},
                     .cond = {0.0f, 0.5f, 1.0f, 2.0f, 2.0f, 0.25f, 0.125f}};
    s_tree_t trees[11];
    for (int i = 0; i < 11; i++)
        trees[i] = i % 2 ? deep : s_stump(2, 5.0f, 0, 0.0625f, -0.0625f);
    cJSON *doc = s_model(trees, 11, "binary:logistic", "gbtree", "2.5E-1", "3");
    ml4t_error_t err;
    ml4t_forest_t *f = ml4t_forest_from_xgboost_json(doc, 3, &err);
    cJSON_Delete(doc);
    REQUIRE(f);
    /* base margin: logit(0.25) = -log(3) */
    const struct {
        double x[3];
        double deep, stump;
    } rows[] = {
        {{-1, 0, 0}, 0.5, 0.0625},     {{1, 0, 1}, 0.25, 0.0625},    {{1, 0, 3}, 0.125, 0.0625},
        {{1, 5, 3}, 2.0, 0.0625},      {{1, 0, 6}, 0.125, -0.0625},  {{NAN, 0, NAN}, 0.5, -0.0625},
        {{1, NAN, NAN}, 2.0, -0.0625}, {{1, 0, NAN}, 0.25, -0.0625},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        double want = -log(3.0) + 5 * rows[r].deep + 6 * rows[r].stump;
        /* float accumulation of 11 leaves: within a few float ulps of the sum */
        CHECK_NEAR(ml4t_forest_margin(f, rows[r].x), want, 1e-5);
    }
    CHECK_EQ_INT(ml4t_forest_n_trees(f), 11);
    ml4t_forest_destroy(&f);
}

static void s_refused(const s_tree_t *t, size_t k, ml4t_err_t code, const char *what)
{
    ml4t_error_t err;
    ml4t_forest_t *f = s_compile(t, 1, k, &err);
    if (f) {
        fprintf(stderr, "  %s: accepted\n", what);
        ml4t_forest_destroy(&f);
    }
    CHECK(f == NULL);
    CHECK_EQ_INT(err.code, code);
    CHECK(err.field[0] != '\0');
}

static void t_malformed_trees_refused(void)
{
    s_tree_t t = s_stump(0, 0.5f, 1, -1.0f, 1.0f);
    t.left[0] = 0; /* cycle to the root */
    s_refused(&t, 1, ML4T_EFORMAT, "cycle");
    t = s_stump(0, 0.5f, 1, -1.0f, 1.0f);
    t.right[0] = 1; /* both children the same node */
    s_refused(&t, 1, ML4T_EFORMAT, "shared child");
    t = s_stump(0, 0.5f, 1, -1.0f, 1.0f);
    t.right[0] = 3; /* out of range */
    s_refused(&t, 1, ML4T_EFORMAT, "child out of range");
    t = s_stump(0, 0.5f, 1, -1.0f, 1.0f);
    t.left[1] = -1;
    t.right[1] = 2; /* half a leaf */
    s_refused(&t, 1, ML4T_EFORMAT, "half leaf");
    t = s_stump(4, 0.5f, 1, -1.0f, 1.0f);
    s_refused(&t, 2, ML4T_EFORMAT, "feature out of range");
    t = s_stump(0, 0.5f, 1, -1.0f, 1.0f);
    t.type[0] = 1;
    s_refused(&t, 1, ML4T_EUNSUPPORTED, "categorical");
    t = s_stump(0, 0.5f, 1, -1.0f, 1.0f);
    t.cond[2] = NAN;
    s_refused(&t, 1, ML4T_EFORMAT, "NaN leaf");
    t = s_stump(0, 0.5f, 2, -1.0f, 1.0f);
    s_refused(&t, 1, ML4T_EFORMAT, "default_left 2");
}

static void t_depth_limit(void)
{
    /* a right-leaning chain of 13 splits (depth 13) needs 27 nodes */
    cJSON *doc = NULL;
    int n = 2 * 13 + 1;
    int left[27], right[27], feat[27] = {0}, dl[27] = {0};
    float cond[27];
    for (int i = 0; i < n; i++) {
        bool split = i % 2 == 0 && i < n - 1;
        left[i] = split ? i + 1 : -1;
        right[i] = split ? i + 2 : -1;
        cond[i] = (float)i;
    }
    for (int depth_ok = 0; depth_ok < 2; depth_ok++) {
        int nn = depth_ok ? 2 * 12 + 1 : n; /* 12 splits deep is accepted */
        if (depth_ok)
            left[nn - 1] = right[nn - 1] = -1;
        doc = cJSON_CreateObject();
        cJSON *learner = cJSON_AddObjectToObject(doc, "learner");
        cJSON *mp = cJSON_AddObjectToObject(learner, "learner_model_param");
        cJSON_AddStringToObject(mp, "base_score", "5E-1");
        cJSON_AddStringToObject(mp, "num_feature", "1");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(learner, "objective"), "name",
                                "binary:logistic");
        cJSON *gb = cJSON_AddObjectToObject(learner, "gradient_booster");
        cJSON_AddStringToObject(gb, "name", "gbtree");
        cJSON *trees = cJSON_AddArrayToObject(cJSON_AddObjectToObject(gb, "model"), "trees");
        cJSON *t = cJSON_CreateObject();
        cJSON_AddItemToObject(t, "left_children", cJSON_CreateIntArray(left, nn));
        cJSON_AddItemToObject(t, "right_children", cJSON_CreateIntArray(right, nn));
        cJSON_AddItemToObject(t, "split_indices", cJSON_CreateIntArray(feat, nn));
        cJSON_AddItemToObject(t, "default_left", cJSON_CreateIntArray(dl, nn));
        cJSON_AddItemToObject(t, "split_conditions", cJSON_CreateFloatArray(cond, nn));
        cJSON_AddItemToArray(trees, t);
        ml4t_error_t err;
        ml4t_forest_t *f = ml4t_forest_from_xgboost_json(doc, 1, &err);
        cJSON_Delete(doc);
        if (depth_ok) {
            REQUIRE(f);
            /* x = 100 goes right at every split (100 >= i): the last leaf */
            double x = 100;
            CHECK_NEAR(ml4t_forest_margin(f, &x), (double)(nn - 1), 0);
            x = 3; /* right at 0 and 2 (x >= i), left at 4: leaf node 5 */
            CHECK_NEAR(ml4t_forest_margin(f, &x), 5.0, 0);
            ml4t_forest_destroy(&f);
        } else {
            CHECK(f == NULL);
            CHECK_EQ_INT(err.code, ML4T_EUNSUPPORTED);
        }
    }
}

static void t_unsupported_models_refused(void)
{
    s_tree_t t = s_stump(0, 0.5f, 1, -1.0f, 1.0f);
    ml4t_error_t err;
    const struct {
        const char *objective, *booster, *base, *nf;
        size_t k;
        ml4t_err_t code;
    } bad[] = {
        {"reg:squarederror", "gbtree", "5E-1", "1", 1, ML4T_EUNSUPPORTED},
        {"binary:logistic", "dart", "5E-1", "1", 1, ML4T_EUNSUPPORTED},
        {"binary:logistic", "gbtree", "1", "1", 1, ML4T_EFORMAT},
        {"binary:logistic", "gbtree", "abc", "1", 1, ML4T_EFORMAT},
        {"binary:logistic", "gbtree", "5E-1", "2", 1, ML4T_EMISMATCH},
        {"binary:logistic", "gbtree", "5E-1", "1", 0, ML4T_ERANGE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *doc = s_model(&t, 1, bad[i].objective, bad[i].booster, bad[i].base, bad[i].nf);
        ml4t_forest_t *f = ml4t_forest_from_xgboost_json(doc, bad[i].k, &err);
        cJSON_Delete(doc);
        CHECK(f == NULL);
        CHECK_EQ_INT(err.code, bad[i].code);
        ml4t_forest_destroy(&f);
    }
    cJSON *empty = cJSON_CreateObject();
    CHECK(ml4t_forest_from_xgboost_json(empty, 1, &err) == NULL);
    cJSON_Delete(empty);
}

static const t_case_t cases[] = {
    T_CASE(t_stump_known_answers),
    T_CASE(t_float_rounding_of_inputs),
    T_CASE(t_mixed_depths_and_base_score),
    T_CASE(t_malformed_trees_refused),
    T_CASE(t_depth_limit),
    T_CASE(t_unsupported_models_refused),
};
T_MAIN(cases)
