/*  ml4t_forest: a boosted tree ensemble compiled into flat arrays.

    Built once from XGBoost's JSON model (a gbtree with binary:logistic or
    reg:logistic objective, numerical splits), then evaluated without XGBoost:
    about half a microsecond for 100 trees of depth 5. It reproduces XGBoost's
    arithmetic: inputs rounded to float32, a split sends x left when
    x < threshold (float compare), a missing value (NaN) follows the node's
    default direction, the margin is logit(base_score) plus the leaf values
    summed in float in tree order, and the probability is its sigmoid.

    Immutable after construction: evaluation is thread-safe and allocates
    nothing. ml4t_model owns one per model; see docs/model.md for the layout. */
#ifndef ML4T_FOREST_H_INCLUDED
#define ML4T_FOREST_H_INCLUDED

#include <stddef.h>

#include <cjson/cJSON.h>

#include "ml4t/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_FOREST_MAX_DEPTH    12   /* deeper trees are refused */
#define ML4T_FOREST_MAX_FEATURES 1024 /* the per-row buffer lives on the stack */

typedef struct ml4t_forest ml4t_forest_t;

/* Compiles the model JSON that XGBoosterSaveModelToBuffer({"format":"json"})
   produces. n_features is the row width the caller will pass; the booster's
   num_feature must equal it. Refuses (NULL, err naming "booster") a malformed
   tree (child out of range, cycle, shared node), an unsupported objective or
   booster, categorical splits, trees deeper than ML4T_FOREST_MAX_DEPTH.
   Caller owns the result. */
ml4t_forest_t *ml4t_forest_from_xgboost_json(const cJSON *model, size_t n_features,
                                             ml4t_error_t *err);

void ml4t_forest_destroy(ml4t_forest_t **self_p);

/* Raw score (log-odds) of one row of n_features values, NaN = missing. */
float ml4t_forest_margin(const ml4t_forest_t *f, const double *x);

/* Probability of label 1: the sigmoid of the margin (computed in double). */
double ml4t_forest_predict(const ml4t_forest_t *f, const double *x);

size_t ml4t_forest_n_trees(const ml4t_forest_t *f);
size_t ml4t_forest_n_features(const ml4t_forest_t *f);
/* Bytes of the split and leaf arrays (what the evaluator touches per row). */
size_t ml4t_forest_bytes(const ml4t_forest_t *f);

#ifdef __cplusplus
}
#endif
#endif
