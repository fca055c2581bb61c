/*  ml4t_train: walk-forward training of the meta-model. */
#include "ml4t/train.h"

#include <cjson/cJSON.h>
#include <xgboost/c_api.h>

#include "ml4t/clock.h"
#include "ml4t/features.h"
#include "ml4t/labels.h"
#include "ml4t/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ml4t_train_config_default(ml4t_train_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->pt_multiplier = 2.0;
    cfg->sl_multiplier = 1.0;
    cfg->max_holding_bars = 10;
    cfg->atr_period = 14;
    cfg->ema_fast = ML4T_PRIMARY_FAST_DEFAULT;
    cfg->ema_slow = ML4T_PRIMARY_SLOW_DEFAULT;
    cfg->primary_mode = ML4T_PRIMARY_CROSS;
    ml4t_folds_config_default(&cfg->folds);
    cfg->model = (ml4t_train_model_params_t){
        .n_trees = 200,
        .max_depth = 4,
        .learning_rate = 0.05,
        .subsample = 0.8,
        .colsample = 0.8,
        .min_child_weight = 5.0,
        .nthread = 0,
        .seed = 42,
        .balance_classes = true,
    };
    cfg->shuffle_seed = 1;
}

static bool s_in(double v, double lo, double hi, bool lo_open)
{
    return isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi;
}

static ml4t_err_t s_validate_model(const ml4t_train_model_params_t *m, ml4t_error_t *err)
{
    if (m->n_trees < 1 || m->n_trees > 10000)
        return ml4t_error_set(err, ML4T_EINVAL, "model.n_trees",
                              "n_trees must be in [1, 10000], got %d", m->n_trees);
    if (m->max_depth < 1 || m->max_depth > 16)
        return ml4t_error_set(err, ML4T_EINVAL, "model.max_depth",
                              "max_depth must be in [1, 16], got %d", m->max_depth);
    if (!s_in(m->learning_rate, 0.0, 1.0, true))
        return ml4t_error_set(err, ML4T_EINVAL, "model.learning_rate",
                              "learning_rate must be in (0, 1], got %g", m->learning_rate);
    if (!s_in(m->subsample, 0.0, 1.0, true))
        return ml4t_error_set(err, ML4T_EINVAL, "model.subsample",
                              "subsample must be in (0, 1], got %g", m->subsample);
    if (!s_in(m->colsample, 0.0, 1.0, true))
        return ml4t_error_set(err, ML4T_EINVAL, "model.colsample",
                              "colsample must be in (0, 1], got %g", m->colsample);
    if (!s_in(m->min_child_weight, 0.0, 1e9, false))
        return ml4t_error_set(err, ML4T_EINVAL, "model.min_child_weight",
                              "min_child_weight must be finite and >= 0, got %g",
                              m->min_child_weight);
    if (m->nthread < 0 || m->nthread > 1024)
        return ml4t_error_set(err, ML4T_EINVAL, "model.nthread",
                              "nthread must be in [0, 1024] (0 = every core), got %d", m->nthread);
    return ML4T_OK;
}

ml4t_err_t ml4t_train_config_validate(const ml4t_train_config_t *cfg, ml4t_error_t *err)
{
    if (!s_in(cfg->pt_multiplier, 0.0, 1e6, true))
        return ml4t_error_set(err, ML4T_EINVAL, "pt_multiplier",
                              "pt_multiplier must be finite and > 0, got %g", cfg->pt_multiplier);
    if (!s_in(cfg->sl_multiplier, 0.0, 1e6, true))
        return ml4t_error_set(err, ML4T_EINVAL, "sl_multiplier",
                              "sl_multiplier must be finite and > 0, got %g", cfg->sl_multiplier);
    if (cfg->max_holding_bars < 1)
        return ml4t_error_set(err, ML4T_EINVAL, "max_holding_bars",
                              "max_holding_bars must be >= 1");
    if (cfg->atr_period < 1)
        return ml4t_error_set(err, ML4T_EINVAL, "atr_period", "atr_period must be >= 1");
    if (cfg->ema_fast < 1)
        return ml4t_error_set(err, ML4T_EINVAL, "ema_fast", "ema_fast must be >= 1");
    if (cfg->ema_slow <= cfg->ema_fast)
        return ml4t_error_set(err, ML4T_EINVAL, "ema_slow",
                              "ema_slow (%zu) must exceed ema_fast (%zu)", cfg->ema_slow,
                              cfg->ema_fast);
    if (!ml4t_primary_mode_name(cfg->primary_mode))
        return ml4t_error_set(err, ML4T_EINVAL, "primary_mode", "unknown primary mode %d",
                              (int)cfg->primary_mode);
    ml4t_err_t rc = ml4t_folds_config_validate(&cfg->folds, err);
    if (rc) {
        if (err) {
            char field[ML4T_ERROR_FIELD_MAX];
            snprintf(field, sizeof field, "folds.%.40s", err->field);
            snprintf(err->field, sizeof err->field, "%s", field);
        }
        return rc;
    }
    return s_validate_model(&cfg->model, err);
}

bool ml4t_train_result_meets_minimum_accuracy(const ml4t_train_result_t *res, double min_accuracy)
{
    return res && res->overall.n > 0 && isfinite(res->overall.accuracy) &&
           res->overall.accuracy >= min_accuracy;
}

double ml4t_train_result_kept_share(const ml4t_train_result_t *res)
{
    if (!res || res->overall.n == 0)
        return NAN;
    return (double)res->overall.n_pred_pos / (double)res->overall.n;
}

const char *ml4t_train_stage_name(ml4t_train_stage_t stage)
{
    switch (stage) {
    case ML4T_TRAIN_STAGE_SIGNALS:
        return "signals";
    case ML4T_TRAIN_STAGE_LABELS:
        return "labels";
    case ML4T_TRAIN_STAGE_FEATURES:
        return "features";
    case ML4T_TRAIN_STAGE_FOLD:
        return "fold";
    case ML4T_TRAIN_STAGE_FINAL:
        return "final";
    case ML4T_TRAIN_STAGE_DONE:
        return "done";
    }
    return "unknown";
}

/* ---------------------------------------------------------------- the pipeline */

/* Working memory of one run, freed together. */
typedef struct {
    int *signals_owned; /* the EMA crossover's signals, when the caller gave none */
    ml4t_label_t *labels;
    double *features; /* n_bars x k, from ml4t_features_matrix */
    size_t *entry, *end, *idx;
    int *y, *side;
    float *X, *X_fold, *y_fold;
    double *X_test, *p_oos, *p_in;
} s_work_t;

static void s_work_free(s_work_t *w)
{
    free(w->signals_owned);
    free(w->labels);
    free(w->features);
    free(w->entry);
    free(w->end);
    free(w->idx);
    free(w->y);
    free(w->side);
    free(w->X);
    free(w->X_fold);
    free(w->y_fold);
    free(w->X_test);
    free(w->p_oos);
    free(w->p_in);
    memset(w, 0, sizeof *w);
}

typedef struct {
    const ml4t_train_config_t *cfg;
    ml4t_train_progress_t p;
} s_progress_t;

static void s_report(s_progress_t *pr, ml4t_train_stage_t stage)
{
    pr->p.stage = stage;
    pr->p.trees = 0;
    if (pr->cfg->progress)
        pr->cfg->progress(&pr->p, pr->cfg->progress_ctx);
}

static void s_on_tree(void *ud, int done, int total)
{
    s_progress_t *pr = ud;
    pr->p.trees = (size_t)done;
    pr->p.trees_total = (size_t)total;
    if (pr->cfg->progress)
        pr->cfg->progress(&pr->p, pr->cfg->progress_ctx);
}

static ml4t_err_t s_check_inputs(const ml4t_train_config_t *cfg, const ml4t_bars_t *bars,
                                 const int *signals, ml4t_error_t *err)
{
    ml4t_err_t rc = ml4t_train_config_validate(cfg, err);
    if (rc)
        return rc;
    if (!bars || bars->n < ML4T_TRAIN_MIN_BARS)
        return ml4t_error_set(err, ML4T_ENODATA, "bars", "training needs at least %d bars, got %zu",
                              ML4T_TRAIN_MIN_BARS, bars ? bars->n : 0);
    rc = ml4t_bars_validate(bars, err);
    if (rc)
        return rc;
    for (size_t i = 0; signals && i < bars->n; i++) {
        if (signals[i] < -1 || signals[i] > 1) {
            char field[ML4T_ERROR_FIELD_MAX];
            snprintf(field, sizeof field, "signals[%zu]", i);
            return ml4t_error_set(err, ML4T_ERANGE, field,
                                  "primary signal %zu must be -1, 0 or +1, got %d", i, signals[i]);
        }
    }
    return ML4T_OK;
}

static ml4t_err_t s_nomem(ml4t_error_t *err, const char *what)
{
    return ml4t_error_set(err, ML4T_ENOMEM, "train", "out of memory for %s", what);
}

/* splitmix64: a seeded permutation that is the same on every platform */
static uint64_t s_mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void s_shuffle(int *y, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(s_mix(&s) % i);
        int t = y[i - 1];
        y[i - 1] = y[j];
        y[j] = t;
    }
}

/* Primary signals, labels and the samples: resolved nonzero signals, in time order. */
static ml4t_err_t s_samples(const ml4t_train_config_t *cfg, const ml4t_bars_t *bars,
                            const int **signals, s_work_t *w, ml4t_train_result_t *res,
                            s_progress_t *pr, ml4t_error_t *err)
{
    size_t n = bars->n;
    ml4t_err_t rc;
    s_report(pr, ML4T_TRAIN_STAGE_SIGNALS);
    if (!*signals) {
        w->signals_owned = malloc(n * sizeof *w->signals_owned);
        if (!w->signals_owned)
            return s_nomem(err, "primary signals");
        rc = ml4t_primary_ema_crossover(bars->close, n, cfg->ema_fast, cfg->ema_slow,
                                        cfg->primary_mode, w->signals_owned, err);
        if (rc)
            return rc;
        *signals = w->signals_owned;
        res->default_primary = true;
    }
    s_report(pr, ML4T_TRAIN_STAGE_LABELS);
    ml4t_labels_config_t lc = ml4t_labels_config_default();
    lc.pt_multiplier = cfg->pt_multiplier;
    lc.sl_multiplier = cfg->sl_multiplier;
    lc.max_holding_bars = cfg->max_holding_bars;
    lc.atr_period = cfg->atr_period;
    w->labels = malloc(n * sizeof *w->labels);
    if (!w->labels)
        return s_nomem(err, "labels");
    rc = ml4t_labels_from_bars(&lc, bars, *signals, w->labels, err);
    if (rc)
        return rc;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        res->n_signals += (*signals)[i] != 0;
        m += (*signals)[i] != 0 && w->labels[i].resolved;
    }
    res->n_samples = m;
    res->n_unresolved = res->n_signals - m;
    w->entry = malloc((m ? m : 1) * sizeof *w->entry);
    w->end = malloc((m ? m : 1) * sizeof *w->end);
    w->y = malloc((m ? m : 1) * sizeof *w->y);
    w->side = malloc((m ? m : 1) * sizeof *w->side);
    if (!w->entry || !w->end || !w->y || !w->side)
        return s_nomem(err, "samples");
    for (size_t i = 0, j = 0; i < n; i++) {
        if ((*signals)[i] == 0 || !w->labels[i].resolved)
            continue;
        w->entry[j] = i;
        w->end[j] = w->labels[i].end_index;
        w->y[j] = w->labels[i].meta;
        w->side[j] = (*signals)[i];
        res->n_long += (*signals)[i] > 0;
        res->n_short += (*signals)[i] < 0;
        j++;
    }
    pr->p.samples = m;
    return ML4T_OK;
}

/* Every bar's feature row, then the samples' rows as float32 (inf -> NaN: missing). */
static ml4t_err_t s_features(const ml4t_features_config_t *features, const ml4t_bars_t *bars,
                             const int *signals, s_work_t *w, size_t m, size_t k, ml4t_error_t *err)
{
    w->features = malloc(bars->n * k * sizeof *w->features);
    w->X = malloc((m ? m : 1) * k * sizeof *w->X);
    if (!w->features || !w->X)
        return s_nomem(err, "the feature matrix");
    ml4t_err_t rc = ml4t_features_matrix(features, bars, signals, w->features, err);
    if (rc)
        return rc;
    for (size_t j = 0; j < m; j++) {
        const double *row = w->features + w->entry[j] * k;
        for (size_t c = 0; c < k; c++)
            w->X[j * k + c] = isfinite(row[c]) ? (float)row[c] : NAN;
    }
    free(w->features); /* the largest buffer: gone before training */
    w->features = NULL;
    return ML4T_OK;
}

/* nthread 0 is automatic: one thread for small training sets, where OpenMP's
   synchronisation on every tree costs more than the second core gives back
   (seven FIL months, ~5,000 rows a fold: the five folds take 0.5 s on one
   thread and 4.5 to 15 s on two on a busy 2-core machine); every core above. */
#define S_SMALL_TRAINING_SET 20000

static void s_model_params(const ml4t_train_config_t *cfg, s_progress_t *pr, size_t rows,
                           ml4t_model_params_t *mp)
{
    ml4t_model_params_default(mp);
    mp->n_estimators = cfg->model.n_trees;
    mp->max_depth = cfg->model.max_depth;
    mp->eta = cfg->model.learning_rate;
    mp->subsample = cfg->model.subsample;
    mp->colsample_bytree = cfg->model.colsample;
    mp->min_child_weight = cfg->model.min_child_weight;
    mp->nthread = cfg->model.nthread;
    if (mp->nthread == 0 && rows < S_SMALL_TRAINING_SET)
        mp->nthread = 1;
    mp->seed = cfg->model.seed;
    mp->balance =
        cfg->model.balance_classes ? ML4T_MODEL_BALANCE_SCALE_POS_WEIGHT : ML4T_MODEL_BALANCE_NONE;
    mp->on_tree = s_on_tree;
    mp->on_tree_ud = pr;
}

/* Rows idx[0..r) of the samples: float features and labels for training, or
   double features for prediction (X_test may be NULL). */
static void s_gather(const s_work_t *w, const size_t *idx, size_t r, size_t k, float *X, float *y,
                     double *X_test)
{
    for (size_t j = 0; j < r; j++) {
        const float *src = w->X + idx[j] * k;
        if (X) {
            memcpy(X + j * k, src, k * sizeof *X);
            y[j] = (float)w->y[idx[j]];
        }
        for (size_t c = 0; X_test && c < k; c++)
            X_test[j * k + c] = src[c];
    }
}

static ml4t_err_t s_one_fold(const ml4t_train_config_t *cfg, const ml4t_bars_t *bars, s_work_t *w,
                             size_t m, size_t k, const char *const *names,
                             ml4t_train_fold_result_t *fr, s_progress_t *pr, ml4t_error_t *err)
{
    ml4t_fold_t *f = &fr->fold;
    size_t r = ml4t_folds_train_set(&cfg->folds, f, w->entry, w->end, m, w->idx);
    s_gather(w, w->idx, r, k, w->X_fold, w->y_fold, NULL);
    ml4t_model_params_t mp;
    s_model_params(cfg, pr, r, &mp);
    ml4t_model_t *model = ml4t_model_train(w->X_fold, w->y_fold, NULL, r, k, names, &mp, err);
    if (!model) {
        if (err) { /* say which fold: the usual cause is a training set with one class */
            char msg[ML4T_ERROR_MSG_MAX];
            snprintf(msg, sizeof msg, "fold %zu (%zu training samples): %.180s", pr->p.fold, r,
                     err->msg);
            snprintf(err->msg, sizeof err->msg, "%s", msg);
        }
        return err ? err->code : ML4T_EMODEL;
    }
    size_t nt = f->test_end - f->test_begin;
    for (size_t j = 0; j < nt; j++)
        w->idx[j] = f->test_begin + j;
    s_gather(w, w->idx, nt, k, NULL, NULL, w->X_test);
    ml4t_model_predict_batch(model, w->X_test, nt, w->p_oos + f->test_begin);
    ml4t_model_unref(&model);
    fr->ts_test_first = bars->ts[w->entry[f->test_begin]];
    fr->ts_test_last = bars->ts[w->entry[f->test_end - 1]];
    return ml4t_metrics_compute(w->p_oos + f->test_begin, w->y + f->test_begin, nt, &fr->metrics,
                                err);
}

static ml4t_err_t s_walk_forward(const ml4t_train_config_t *cfg, const ml4t_bars_t *bars,
                                 s_work_t *w, size_t m, size_t k, const char *const *names,
                                 ml4t_train_result_t *res, s_progress_t *pr, ml4t_error_t *err)
{
    ml4t_fold_t folds[ML4T_FOLDS_MAX];
    ml4t_err_t rc = ml4t_folds_split(&cfg->folds, w->entry, w->end, m, folds, err);
    if (rc == ML4T_ENODATA)
        return ml4t_error_set(err, ML4T_ENODATA, "samples",
                              "%zu resolved primary signals in %zu bars are too few for %zu "
                              "folds",
                              m, bars->n, cfg->folds.n_folds);
    if (rc)
        return rc;
    w->idx = malloc(m * sizeof *w->idx);
    w->X_fold = malloc(m * k * sizeof *w->X_fold);
    w->y_fold = malloc(m * sizeof *w->y_fold);
    w->X_test = malloc(m * k * sizeof *w->X_test);
    w->p_oos = malloc(m * sizeof *w->p_oos);
    if (!w->idx || !w->X_fold || !w->y_fold || !w->X_test || !w->p_oos)
        return s_nomem(err, "the folds");
    res->n_folds = cfg->folds.n_folds;
    for (size_t f = 0; f < res->n_folds; f++) {
        res->folds[f].fold = folds[f];
        pr->p.fold = f + 1;
        s_report(pr, ML4T_TRAIN_STAGE_FOLD);
        rc = s_one_fold(cfg, bars, w, m, k, names, &res->folds[f], pr, err);
        if (rc)
            return rc;
    }
    /* every out-of-sample prediction, pooled */
    size_t first = folds[0].test_begin, n_oos = m - first;
    rc = ml4t_metrics_compute(w->p_oos + first, w->y + first, n_oos, &res->overall, err);
    if (!rc && res->overall.n_pos > 0 && res->overall.n_pos < n_oos)
        rc = ml4t_metrics_roc(w->p_oos + first, w->y + first, n_oos, res->roc,
                              ML4T_TRAIN_ROC_POINTS, &res->n_roc, err);
    if (!rc)
        rc = ml4t_metrics_calibration(w->p_oos + first, w->y + first, n_oos, ML4T_TRAIN_CALIB_BINS,
                                      res->calib, err);
    return rc;
}

/* Share of the total gain of the final model's splits per feature (XGBoost's
   "total_gain", normalised); features never split on get 0. */
static ml4t_err_t s_importance(ml4t_model_t *model, ml4t_train_result_t *res, ml4t_error_t *err)
{
    bst_ulong n_out = 0, dim = 0;
    const char **names = NULL;
    const bst_ulong *shape = NULL;
    const float *scores = NULL;
    if (XGBoosterFeatureScore(ml4t_model_booster(model), "{\"importance_type\": \"total_gain\"}",
                              &n_out, &names, &dim, &shape, &scores) != 0)
        return ml4t_error_set(err, ML4T_EMODEL, "xgboost", "XGBoosterFeatureScore failed: %.200s",
                              XGBGetLastError());
    double total = 0.0;
    for (bst_ulong i = 0; i < n_out; i++) {
        int f = -1; /* the booster names columns by our names, or "f<column>" */
        for (size_t c = 0; c < res->n_features; c++)
            if (strcmp(names[i], res->feature_names[c]) == 0)
                f = (int)c;
        char *end;
        if (f < 0 && names[i][0] == 'f' && names[i][1] >= '0' && names[i][1] <= '9') {
            unsigned long c = strtoul(names[i] + 1, &end, 10);
            if (*end == '\0' && c < res->n_features)
                f = (int)c;
        }
        if (f >= 0 && isfinite(scores[i])) {
            res->importance_gain[f] += scores[i];
            total += scores[i];
        }
    }
    for (size_t c = 0; total > 0 && c < res->n_features; c++)
        res->importance_gain[c] /= total;
    return ML4T_OK;
}

static cJSON *s_manifest_labels(const ml4t_train_config_t *cfg, bool default_primary)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", "triple_barrier_meta");
    cJSON_AddNumberToObject(o, "pt_multiplier", cfg->pt_multiplier);
    cJSON_AddNumberToObject(o, "sl_multiplier", cfg->sl_multiplier);
    cJSON_AddNumberToObject(o, "max_holding_bars", (double)cfg->max_holding_bars);
    cJSON_AddNumberToObject(o, "atr_period", (double)cfg->atr_period);
    cJSON_AddStringToObject(o, "primary", default_primary ? "ema_crossover" : "given");
    if (default_primary) {
        cJSON_AddNumberToObject(o, "ema_fast", (double)cfg->ema_fast);
        cJSON_AddNumberToObject(o, "ema_slow", (double)cfg->ema_slow);
        cJSON_AddStringToObject(o, "primary_mode", ml4t_primary_mode_name(cfg->primary_mode));
    }
    return o;
}

static void s_add_metric(cJSON *o, const char *name, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static cJSON *s_manifest_metrics(const ml4t_train_result_t *res)
{
    const ml4t_metrics_t *m = &res->overall;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "evaluation", "walk_forward_out_of_sample");
    cJSON_AddStringToObject(o, "fold_scheme", ml4t_folds_scheme_name(res->config.folds.scheme));
    cJSON_AddNumberToObject(o, "n_folds", (double)res->n_folds);
    cJSON_AddNumberToObject(o, "embargo_bars", (double)res->config.folds.embargo_bars);
    cJSON_AddNumberToObject(o, "n_oos", (double)m->n);
    s_add_metric(o, "accuracy", m->accuracy);
    s_add_metric(o, "auc", m->auc);
    s_add_metric(o, "precision", m->precision);
    s_add_metric(o, "recall", m->recall);
    s_add_metric(o, "log_loss", m->log_loss);
    s_add_metric(o, "brier", m->brier);
    s_add_metric(o, "base_rate", m->base_rate);
    s_add_metric(o, "precision_primary", m->base_rate);
    s_add_metric(o, "precision_filtered", m->precision);
    cJSON *auc = cJSON_AddArrayToObject(o, "fold_auc");
    for (size_t f = 0; f < res->n_folds; f++)
        cJSON_AddItemToArray(auc, isfinite(res->folds[f].metrics.auc)
                                      ? cJSON_CreateNumber(res->folds[f].metrics.auc)
                                      : cJSON_CreateNull());
    return o;
}

static ml4t_err_t s_final(const ml4t_train_config_t *cfg, const ml4t_bars_t *bars, s_work_t *w,
                          size_t m, size_t k, const char *const *names, ml4t_train_result_t *res,
                          s_progress_t *pr, ml4t_model_t **model_out, ml4t_error_t *err)
{
    s_report(pr, ML4T_TRAIN_STAGE_FINAL);
    for (size_t j = 0; j < m; j++)
        w->idx[j] = j;
    s_gather(w, w->idx, m, k, w->X_fold, w->y_fold, NULL);
    ml4t_model_params_t mp;
    s_model_params(cfg, pr, m, &mp);
    ml4t_model_t *model = ml4t_model_train(w->X_fold, w->y_fold, NULL, m, k, names, &mp, err);
    if (!model)
        return err ? err->code : ML4T_EMODEL;
    ml4t_err_t rc = s_importance(model, res, err);
    w->p_in = malloc(m * sizeof *w->p_in);
    if (!rc && !w->p_in)
        rc = s_nomem(err, "in-sample predictions");
    if (!rc) {
        s_gather(w, w->idx, m, k, NULL, NULL, w->X_test);
        ml4t_model_predict_batch(model, w->X_test, m, w->p_in);
        rc = ml4t_metrics_compute(w->p_in, w->y, m, &res->in_sample, err);
    }
    cJSON *labels = s_manifest_labels(cfg, res->default_primary);
    cJSON *metrics = s_manifest_metrics(res);
    if (!rc)
        rc = ml4t_model_set_window(model, bars->ts[0], bars->ts[bars->n - 1], m, err);
    if (!rc)
        rc = labels ? ml4t_model_set_labels(model, labels, err) : s_nomem(err, "the manifest");
    if (!rc)
        rc = metrics ? ml4t_model_set_metrics(model, metrics, err) : s_nomem(err, "the manifest");
    cJSON_Delete(labels);
    cJSON_Delete(metrics);
    if (rc || !model_out)
        ml4t_model_unref(&model);
    else
        *model_out = model;
    return rc;
}

static double s_seconds(uint64_t from)
{
    return (double)(ml4t_clock_mono_ns() - from) / 1e9;
}

ml4t_err_t ml4t_train_run(const ml4t_train_config_t *cfg, const ml4t_bars_t *bars,
                          const int *signals, ml4t_train_result_t *res, ml4t_model_t **model_out,
                          ml4t_error_t *err)
{
    uint64_t t0 = ml4t_clock_mono_ns();
    memset(res, 0, sizeof *res);
    if (model_out)
        *model_out = NULL;
    ml4t_err_t rc = s_check_inputs(cfg, bars, signals, err);
    if (rc)
        return rc;
    res->config = *cfg;
    res->config.progress = NULL;
    res->config.progress_ctx = NULL;
    res->n_bars = bars->n;
    res->ts_first = bars->ts[0];
    res->ts_last = bars->ts[bars->n - 1];
    size_t k = ml4t_features_count();
    const char *names[ML4T_FEATURES_MAX];
    res->n_features = k;
    for (size_t c = 0; c < k; c++) {
        names[c] = ml4t_features_name(c);
        snprintf(res->feature_names[c], ML4T_FEATURE_NAME_MAX, "%s", names[c]);
    }
    s_progress_t pr = {cfg, {.n_folds = cfg->folds.n_folds, .trees_total = 0}};
    pr.p.trees_total = (size_t)cfg->model.n_trees;
    s_work_t w = {0};
    rc = s_samples(cfg, bars, &signals, &w, res, &pr, err);
    if (rc)
        goto out_free_work;
    s_report(&pr, ML4T_TRAIN_STAGE_FEATURES);
    rc = s_features(cfg->features, bars, signals, &w, res->n_samples, k, err);
    res->seconds_features = s_seconds(t0);
    if (rc)
        goto out_free_work;
    if (cfg->shuffle_labels)
        s_shuffle(w.y, res->n_samples, cfg->shuffle_seed);
    uint64_t t1 = ml4t_clock_mono_ns();
    rc = s_walk_forward(cfg, bars, &w, res->n_samples, k, names, res, &pr, err);
    res->seconds_folds = s_seconds(t1);
    if (rc)
        goto out_free_work;
    uint64_t t2 = ml4t_clock_mono_ns();
    rc = s_final(cfg, bars, &w, res->n_samples, k, names, res, &pr, model_out, err);
    res->seconds_final = s_seconds(t2);
    res->seconds_total = s_seconds(t0);
    if (!rc)
        s_report(&pr, ML4T_TRAIN_STAGE_DONE);
out_free_work:
    s_work_free(&w);
    return rc;
}
