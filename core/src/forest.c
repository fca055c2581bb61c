/*  ml4t_forest: XGBoost trees compiled into complete binary trees in flat arrays.

    Layout. Trees are evaluated in groups of S_GROUP, in booster order. Every
    tree of a group is stored as a complete binary tree of the group's depth D
    (the deepest tree in the group): 2^D - 1 splits in heap order (children of
    i at 2i+1 and 2i+2), then 2^D leaf values. A leaf of the original tree above
    the bottom level is copied into every bottom slot beneath it, and the splits
    in between are zero: whichever way they route, the value is the same. So a
    walk is exactly D steps of `i = 2i + 1 + (x >= threshold)`: no child
    pointers to load, no data-dependent branch, and the S_GROUP walks of a
    group are independent, so the CPU overlaps them. The trees of a group are
    interleaved node by node (node i of tree j at i*S_GROUP + j): the group's
    roots share one cache line, and one index register per tree suffices.

    Missing values. A row is first widened into 2k floats: xf[j] is x[j] with
    NaN replaced by -inf, xf[k + j] the same with +inf. A split whose missing
    values go left reads xf[j] (-inf < any finite threshold: left), one whose
    missing values go right reads xf[k + j] (+inf: right). Non-missing values
    are identical in both halves, and `x >= t` is `!(x < t)` for them, which is
    XGBoost's test. Thresholds are finite (checked at load).

    Arithmetic. The margin starts at base_margin (XGBoost's ProbToMargin of
    base_score, in float) and adds each tree's leaf in float, in booster order:
    the same operations in the same order as XGBoost's CPU predictor, so the
    margins agree bit for bit. */
#include "ml4t/forest.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S_GROUP     8
#define S_MAX_BYTES (1ull << 30) /* refuse a compiled forest larger than 1 GiB */

typedef struct {
    float thr;     /* go right when xf[feat] >= thr */
    uint32_t feat; /* index into the widened row: j, or k + j when missing goes right */
} s_split_t;

typedef struct {
    uint32_t depth;     /* D: steps per walk */
    uint32_t split_off; /* split i of tree j of the group: splits[split_off + i*S_GROUP + j] */
    uint32_t leaf_off;  /* leaf l of tree j of the group: leaves[leaf_off + l*S_GROUP + j] */
} s_group_t;

struct ml4t_forest {
    size_t n_features;
    size_t n_trees;
    size_t n_groups;
    float base_margin;
    s_group_t *groups;
    s_split_t *splits;
    size_t n_splits;
    float *leaves; /* padding trees of the last group are all-zero leaves */
    size_t n_leaves;
};

/* ---------------------------------------------------------------- evaluation */

/* One level for tree j of the group. p is the interleaved position i*S_GROUP + j
   of the tree's current node i; the child 2i + 1 + r sits at 2p + S_GROUP - j +
   S_GROUP*r. */
#define S_STEP(j)                                                                                  \
    p##j = 2 * p##j + (S_GROUP - j) + S_GROUP * (size_t)(xf[s[p##j].feat] >= s[p##j].thr)

float ml4t_forest_margin(const ml4t_forest_t *f, const double *x)
{
    float xf[2 * ML4T_FOREST_MAX_FEATURES];
    const size_t k = f->n_features;
    for (size_t j = 0; j < k; j++) {
        bool missing = isnan(x[j]);
        float v = (float)x[j]; /* XGBoost's float32 conversion */
        xf[j] = missing ? -INFINITY : v;
        xf[k + j] = missing ? INFINITY : v;
    }
    float margin = f->base_margin;
    for (size_t g = 0; g < f->n_groups; g++) {
        const s_group_t *gr = &f->groups[g];
        const s_split_t *s = f->splits + gr->split_off;
        size_t p0 = 0, p1 = 1, p2 = 2, p3 = 3, p4 = 4, p5 = 5, p6 = 6, p7 = 7;
        for (uint32_t level = 0; level < gr->depth; level++) {
            S_STEP(0);
            S_STEP(1);
            S_STEP(2);
            S_STEP(3);
            S_STEP(4);
            S_STEP(5);
            S_STEP(6);
            S_STEP(7);
        }
        /* leaves are interleaved the same way, after the 2^D - 1 split levels */
        const size_t off = ((1u << gr->depth) - 1) * S_GROUP;
        const float *lv = f->leaves + gr->leaf_off;
        margin += lv[p0 - off];
        margin += lv[p1 - off];
        margin += lv[p2 - off];
        margin += lv[p3 - off];
        margin += lv[p4 - off];
        margin += lv[p5 - off];
        margin += lv[p6 - off];
        margin += lv[p7 - off];
    }
    return margin;
}

double ml4t_forest_predict(const ml4t_forest_t *f, const double *x)
{
    return 1.0 / (1.0 + exp(-(double)ml4t_forest_margin(f, x)));
}

size_t ml4t_forest_n_trees(const ml4t_forest_t *f)
{
    return f->n_trees;
}

size_t ml4t_forest_n_features(const ml4t_forest_t *f)
{
    return f->n_features;
}

size_t ml4t_forest_bytes(const ml4t_forest_t *f)
{
    return f->n_splits * sizeof *f->splits + f->n_leaves * sizeof *f->leaves +
           f->n_groups * sizeof *f->groups;
}

void ml4t_forest_destroy(ml4t_forest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ml4t_forest_t *f = *self_p;
    *self_p = NULL;
    free(f->groups);
    free(f->splits);
    free(f->leaves);
    free(f);
}

/* ---------------------------------------------------------------- reading XGBoost's JSON */

/* A tree's arrays from the booster JSON, converted once. */
typedef struct {
    size_t n;
    int32_t *left, *right, *feature;
    float *cond;
    uint8_t *default_left;
} s_tree_arrays_t;

static void s_tree_arrays_free(s_tree_arrays_t *t)
{
    free(t->left);
    free(t->right);
    free(t->feature);
    free(t->cond);
    free(t->default_left);
    memset(t, 0, sizeof *t);
}

static ml4t_err_t s_json_array(const cJSON *tree, const char *key, size_t want, const cJSON **out,
                               size_t tree_no, ml4t_error_t *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(tree, key);
    if (!cJSON_IsArray(a))
        return ml4t_error_set(err, ML4T_EFORMAT, "booster", "tree %zu: \"%s\" is not an array",
                              tree_no, key);
    if ((size_t)cJSON_GetArraySize(a) != want)
        return ml4t_error_set(err, ML4T_EFORMAT, "booster",
                              "tree %zu: \"%s\" has %d entries, left_children has %zu", tree_no,
                              key, cJSON_GetArraySize(a), want);
    *out = a;
    return ML4T_OK;
}

/* Integral entries in [lo, hi], converted to int32. */
static ml4t_err_t s_json_ints(const cJSON *a, int32_t *out, double lo, double hi, const char *key,
                              size_t tree_no, ml4t_error_t *err)
{
    size_t i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        double d = cJSON_IsNumber(e) ? e->valuedouble : NAN;
        if (!(d >= lo && d <= hi) || d != floor(d))
            return ml4t_error_set(err, ML4T_EFORMAT, "booster",
                                  "tree %zu: %s[%zu] is not an integer in [%g, %g]", tree_no, key,
                                  i, lo, hi);
        out[i] = (int32_t)d;
    }
    return ML4T_OK;
}

static ml4t_err_t s_tree_arrays_read(const cJSON *tree, size_t tree_no, s_tree_arrays_t *t,
                                     ml4t_error_t *err)
{
    const cJSON *lc = cJSON_GetObjectItemCaseSensitive(tree, "left_children");
    const cJSON *rc = NULL, *si = NULL, *sc = NULL, *dl = NULL, *st = NULL;
    if (!cJSON_IsArray(lc) || cJSON_GetArraySize(lc) < 1)
        return ml4t_error_set(err, ML4T_EFORMAT, "booster",
                              "tree %zu: \"left_children\" is missing or empty", tree_no);
    size_t n = (size_t)cJSON_GetArraySize(lc);
    ml4t_err_t rcode;
    if ((rcode = s_json_array(tree, "right_children", n, &rc, tree_no, err)) ||
        (rcode = s_json_array(tree, "split_indices", n, &si, tree_no, err)) ||
        (rcode = s_json_array(tree, "split_conditions", n, &sc, tree_no, err)) ||
        (rcode = s_json_array(tree, "default_left", n, &dl, tree_no, err)))
        return rcode;
    t->n = n;
    t->left = malloc(n * sizeof *t->left);
    t->right = malloc(n * sizeof *t->right);
    t->feature = malloc(n * sizeof *t->feature);
    t->cond = malloc(n * sizeof *t->cond);
    t->default_left = malloc(n);
    int32_t *tmp = malloc(n * sizeof *tmp);
    if (!t->left || !t->right || !t->feature || !t->cond || !t->default_left || !tmp) {
        free(tmp);
        return ml4t_error_set(err, ML4T_ENOMEM, "booster", "tree %zu: out of memory", tree_no);
    }
    if ((rcode = s_json_ints(lc, t->left, -1, (double)n - 1, "left_children", tree_no, err)) ||
        (rcode = s_json_ints(rc, t->right, -1, (double)n - 1, "right_children", tree_no, err)) ||
        (rcode = s_json_ints(si, t->feature, 0, INT32_MAX, "split_indices", tree_no, err)) ||
        (rcode = s_json_ints(dl, tmp, 0, 1, "default_left", tree_no, err)))
        goto out_free_tmp;
    for (size_t i = 0; i < n; i++)
        t->default_left[i] = (uint8_t)tmp[i];
    /* categorical splits are not compiled: refuse rather than mispredict */
    st = cJSON_GetObjectItemCaseSensitive(tree, "split_type");
    if (st && cJSON_IsArray(st) && cJSON_GetArraySize(st) > 0) {
        if ((rcode = s_json_array(tree, "split_type", n, &st, tree_no, err)) ||
            (rcode = s_json_ints(st, tmp, 0, 0, "split_type", tree_no, err))) {
            rcode = ml4t_error_set(err, ML4T_EUNSUPPORTED, "booster",
                                   "tree %zu: categorical splits are not supported", tree_no);
            goto out_free_tmp;
        }
    }
    size_t i = 0;
    for (const cJSON *e = sc->child; e; e = e->next, i++) {
        /* XGBoost writes float32 values in shortest round-trip decimal; strtod
           then the float cast gives back the same float */
        float f = cJSON_IsNumber(e) ? (float)e->valuedouble : NAN;
        if (!isfinite(f)) {
            rcode = ml4t_error_set(err, ML4T_EFORMAT, "booster",
                                   "tree %zu: split_conditions[%zu] is not a finite number",
                                   tree_no, i);
            goto out_free_tmp;
        }
        t->cond[i] = f;
    }
out_free_tmp:
    free(tmp);
    return rcode;
}

static const cJSON *s_obj(const cJSON *o, const char *key)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsObject(c) ? c : NULL;
}

static const char *s_str(const cJSON *o, const char *key)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

/* Checks that the arrays form one tree reachable from node 0: children in
   range, every node reached once (no cycle, no shared subtree), leaves with
   both children -1, split features < n_features. Writes the tree's depth. */
static ml4t_err_t s_tree_check(const s_tree_arrays_t *t, size_t tree_no, size_t n_features,
                               unsigned *depth_out, ml4t_error_t *err)
{
    size_t n = t->n, qlen = 1;
    int32_t *queue = malloc(n * sizeof *queue);
    uint8_t *depth = malloc(n), *seen = calloc(n, 1);
    ml4t_err_t rc = ML4T_OK;
    unsigned max_depth = 0;
    if (!queue || !depth || !seen) {
        rc = ml4t_error_set(err, ML4T_ENOMEM, "booster", "tree %zu: out of memory", tree_no);
        goto out;
    }
    queue[0] = 0;
    depth[0] = 0;
    seen[0] = 1;
    for (size_t q = 0; q < qlen; q++) {
        int32_t o = queue[q], l = t->left[o], r = t->right[o];
        if (l == -1 && r == -1) {
            max_depth = depth[o] > max_depth ? depth[o] : max_depth;
            continue;
        }
        if (l < 0 || r < 0 || l == r || seen[l] || seen[r]) {
            rc = ml4t_error_set(err, ML4T_EFORMAT, "booster",
                                "tree %zu: node %d has children %d and %d: not a tree", tree_no, o,
                                l, r);
            goto out;
        }
        if ((size_t)t->feature[o] >= n_features) {
            rc = ml4t_error_set(err, ML4T_EFORMAT, "booster",
                                "tree %zu: node %d splits on feature %d of %zu", tree_no, o,
                                t->feature[o], n_features);
            goto out;
        }
        if (depth[o] >= ML4T_FOREST_MAX_DEPTH) {
            rc =
                ml4t_error_set(err, ML4T_EUNSUPPORTED, "booster",
                               "tree %zu is deeper than %d levels", tree_no, ML4T_FOREST_MAX_DEPTH);
            goto out;
        }
        seen[l] = seen[r] = 1;
        depth[l] = depth[r] = (uint8_t)(depth[o] + 1);
        queue[qlen++] = l;
        queue[qlen++] = r;
    }
    *depth_out = max_depth;
out:
    free(queue);
    free(depth);
    free(seen);
    return rc;
}

/* Writes the subtree at `node` as dense node i (at `level`) of a complete tree
   of the given depth; the tree's entries are S_GROUP apart (interleaved). */
static void s_fill(const s_tree_arrays_t *t, int32_t node, uint32_t i, unsigned level,
                   unsigned depth, size_t k, s_split_t *splits, float *leaves)
{
    if (t->left[node] == -1) {
        uint32_t span = 1u << (depth - level);
        uint32_t first = (i + 1) * span - 1 - ((1u << depth) - 1);
        for (uint32_t u = 0; u < span; u++)
            leaves[(first + u) * S_GROUP] = t->cond[node];
        return;
    }
    uint32_t feat = (uint32_t)t->feature[node] + (t->default_left[node] ? 0u : (uint32_t)k);
    splits[i * S_GROUP] = (s_split_t){t->cond[node], feat};
    s_fill(t, t->left[node], 2 * i + 1, level + 1, depth, k, splits, leaves);
    s_fill(t, t->right[node], 2 * i + 2, level + 1, depth, k, splits, leaves);
}

/* Objective, base score, class count and feature count of the learner. */
static ml4t_err_t s_learner_check(ml4t_forest_t *f, const cJSON *learner, ml4t_error_t *err)
{
    const char *obj = s_str(s_obj(learner, "objective"), "name");
    if (!obj || (strcmp(obj, "binary:logistic") != 0 && strcmp(obj, "reg:logistic") != 0))
        return ml4t_error_set(err, ML4T_EUNSUPPORTED, "booster",
                              "objective %s is not supported (binary:logistic only)",
                              obj ? obj : "(missing)");
    const cJSON *mp = s_obj(learner, "learner_model_param");
    const char *bs = s_str(mp, "base_score"), *nf = s_str(mp, "num_feature");
    const char *nc = s_str(mp, "num_class");
    char *end = NULL;
    float base = bs ? strtof(bs, &end) : NAN;
    if (!bs || *end || !(base > 0.0f && base < 1.0f))
        return ml4t_error_set(err, ML4T_EFORMAT, "booster",
                              "base_score %s is not a probability in (0, 1)",
                              bs ? bs : "(missing)");
    /* LogisticRegression::ProbToMargin, in float as XGBoost computes it */
    f->base_margin = -logf(1.0f / base - 1.0f);
    if (nc && strcmp(nc, "0") != 0 && strcmp(nc, "1") != 0)
        return ml4t_error_set(err, ML4T_EUNSUPPORTED, "booster", "num_class %s: not binary", nc);
    if (!nf || strtoull(nf, NULL, 10) != f->n_features)
        return ml4t_error_set(err, ML4T_EMISMATCH, "features",
                              "booster has %s features, expected %zu", nf ? nf : "(missing)",
                              f->n_features);
    return ML4T_OK;
}

/* Reads and checks every tree; depths[i] gets tree i's depth. */
static ml4t_err_t s_read_trees(const cJSON *trees, size_t k, s_tree_arrays_t *arr, unsigned *depths,
                               ml4t_error_t *err)
{
    size_t i = 0;
    for (const cJSON *t = trees->child; t; t = t->next, i++) {
        ml4t_err_t rc = s_tree_arrays_read(t, i, &arr[i], err);
        if (rc || (rc = s_tree_check(&arr[i], i, k, &depths[i], err)))
            return rc;
    }
    return ML4T_OK;
}

/* Group depths and array offsets; allocates the arrays. */
static ml4t_err_t s_layout(ml4t_forest_t *f, const unsigned *depths, ml4t_error_t *err)
{
    f->n_groups = (f->n_trees + S_GROUP - 1) / S_GROUP;
    f->groups = calloc(f->n_groups ? f->n_groups : 1, sizeof *f->groups);
    if (!f->groups)
        return ml4t_error_set(err, ML4T_ENOMEM, "booster", "out of memory");
    uint64_t splits = 0, leaves = 0;
    for (size_t g = 0; g < f->n_groups; g++) {
        unsigned d = 0;
        for (size_t i = g * S_GROUP; i < f->n_trees && i < (g + 1) * S_GROUP; i++)
            d = depths[i] > d ? depths[i] : d;
        f->groups[g] = (s_group_t){d, (uint32_t)splits, (uint32_t)leaves};
        splits += S_GROUP * ((1ull << d) - 1);
        leaves += S_GROUP * (1ull << d);
        if (splits * sizeof(s_split_t) + leaves * sizeof(float) > S_MAX_BYTES)
            return ml4t_error_set(err, ML4T_ELIMIT, "booster",
                                  "%zu trees compile to more than 1 GiB", f->n_trees);
    }
    f->n_splits = (size_t)splits;
    f->n_leaves = (size_t)leaves;
    f->splits = calloc(splits ? splits : 1, sizeof *f->splits);
    f->leaves = calloc(leaves ? leaves : 1, sizeof *f->leaves);
    if (!f->splits || !f->leaves)
        return ml4t_error_set(err, ML4T_ENOMEM, "booster", "out of memory for %zu trees",
                              f->n_trees);
    return ML4T_OK;
}

static ml4t_err_t s_compile(ml4t_forest_t *f, const cJSON *trees, ml4t_error_t *err)
{
    f->n_trees = (size_t)cJSON_GetArraySize(trees);
    s_tree_arrays_t *arr = calloc(f->n_trees ? f->n_trees : 1, sizeof *arr);
    unsigned *depths = calloc(f->n_trees ? f->n_trees : 1, sizeof *depths);
    ml4t_err_t rc = ML4T_OK;
    if (!arr || !depths)
        rc = ml4t_error_set(err, ML4T_ENOMEM, "booster", "out of memory");
    if (!rc)
        rc = s_read_trees(trees, f->n_features, arr, depths, err);
    if (!rc)
        rc = s_layout(f, depths, err);
    for (size_t i = 0; !rc && i < f->n_trees; i++) {
        const s_group_t *gr = &f->groups[i / S_GROUP];
        size_t j = i % S_GROUP;
        s_fill(&arr[i], 0, 0, 0, gr->depth, f->n_features, f->splits + gr->split_off + j,
               f->leaves + gr->leaf_off + j);
    }
    for (size_t i = 0; arr && i < f->n_trees; i++)
        s_tree_arrays_free(&arr[i]);
    free(arr);
    free(depths);
    return rc;
}

ml4t_forest_t *ml4t_forest_from_xgboost_json(const cJSON *model, size_t n_features,
                                             ml4t_error_t *err)
{
    if (n_features < 1 || n_features > ML4T_FOREST_MAX_FEATURES) {
        ml4t_error_set(err, ML4T_ERANGE, "features", "%zu features: want 1..%d", n_features,
                       ML4T_FOREST_MAX_FEATURES);
        return NULL;
    }
    const cJSON *learner = s_obj(model, "learner");
    const cJSON *gb = s_obj(learner, "gradient_booster");
    const char *gb_name = s_str(gb, "name");
    const cJSON *trees = cJSON_GetObjectItemCaseSensitive(s_obj(gb, "model"), "trees");
    if (!learner || !gb_name || strcmp(gb_name, "gbtree") != 0 || !cJSON_IsArray(trees)) {
        ml4t_error_set(err, ML4T_EUNSUPPORTED, "booster", "not a gbtree booster (%s)",
                       gb_name ? gb_name : "no gradient_booster");
        return NULL;
    }
    ml4t_forest_t *f = calloc(1, sizeof *f);
    if (!f) {
        ml4t_error_set(err, ML4T_ENOMEM, "booster", "out of memory");
        return NULL;
    }
    f->n_features = n_features;
    if (s_learner_check(f, learner, err) || s_compile(f, trees, err))
        ml4t_forest_destroy(&f);
    return f;
}
