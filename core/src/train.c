/*  ml4t_train: walk-forward training of the meta-model. */
#include "ml4t/train.h"

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
