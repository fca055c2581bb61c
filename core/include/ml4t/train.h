/*  ml4t_train: walk-forward training of the meta-model.

    The pipeline (ml4t_train_run), from bars alone or bars plus primary signals:
      1. primary signals: the caller's, or the default EMA 20/50 crossover
         (ml4t_primary, CROSS mode) when none are given;
      2. triple-barrier labels for every bar with a nonzero signal (ml4t_labels);
         the meta-label is 1 when the primary signal was right. Only resolved
         signals become samples; their label horizon [entry, end] is kept;
      3. the feature row of every sample (ml4t_features), float32, row-major;
      4. walk-forward folds with purging and an embargo (ml4t_folds): a model per
         fold trained on its training set, predicting its test fold once;
      5. metrics per fold and over all out-of-sample predictions (ml4t_metrics),
         including the precision of the primary signals alone (the base rate) and
         of the ones the meta-model keeps (p >= 0.5);
      6. the final model, fitted once on every sample, with its gain importance.

    Usable from any thread: it touches no global state except XGBoost's own; a
    supervisor can call it on a snapshot of stored bars. Not re-entrant on the
    same result. */
#ifndef ML4T_TRAIN_H_INCLUDED
#define ML4T_TRAIN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml4t/config.h"
#include "ml4t/error.h"
#include "ml4t/event.h"
#include "ml4t/features.h"
#include "ml4t/folds.h"
#include "ml4t/metrics.h"
#include "ml4t/primary.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_TRAIN_MIN_BARS   1000 /* fewer bars is an error (ML4T_ENODATA "bars") */
#define ML4T_TRAIN_ROC_POINTS 201  /* the pooled ROC curve, thinned */
#define ML4T_TRAIN_CALIB_BINS 10

typedef enum {
    ML4T_TRAIN_STAGE_SIGNALS = 0, /* primary signals */
    ML4T_TRAIN_STAGE_LABELS,
    ML4T_TRAIN_STAGE_FEATURES,
    ML4T_TRAIN_STAGE_FOLD, /* fold k of n: trees built so far */
    ML4T_TRAIN_STAGE_FINAL,
    ML4T_TRAIN_STAGE_DONE
} ml4t_train_stage_t;

typedef struct ml4t_train_progress {
    ml4t_train_stage_t stage;
    size_t fold, n_folds;      /* FOLD: 1-based fold; n_folds always set */
    size_t trees, trees_total; /* FOLD/FINAL: trees built in the current model */
    size_t samples;            /* samples known so far (0 before LABELS ends) */
} ml4t_train_progress_t;

/* Called on the training thread; must not call back into the pipeline. */
typedef void (*ml4t_train_progress_fn)(const ml4t_train_progress_t *p, void *ctx);

typedef struct ml4t_train_model_params {
    int n_trees;             /* 200, [1, 10000] boosting rounds */
    int max_depth;           /* 4, [1, 16] */
    double learning_rate;    /* 0.05, (0, 1] */
    double subsample;        /* 0.8, (0, 1] */
    double colsample;        /* 0.8, (0, 1] per tree */
    double min_child_weight; /* 5, >= 0 */
    int nthread;             /* 0 = auto: 1 below 20,000 training rows, else every core */
    uint32_t seed;           /* 42 */
    /* true: positives weighted by negatives/positives (scale_pos_weight), so that
       p >= 0.5 means "better odds than the average signal"; false: raw odds */
    bool balance_classes;
} ml4t_train_model_params_t;

typedef struct ml4t_train_config {
    /* labels (see ml4t_labels) */
    double pt_multiplier;    /* 2.0 */
    double sl_multiplier;    /* 1.0 */
    size_t max_holding_bars; /* 10 */
    size_t atr_period;       /* 14 */
    /* default primary strategy, used when no signals are given */
    size_t ema_fast, ema_slow;        /* 20, 50 */
    ml4t_primary_mode_t primary_mode; /* CROSS */
    ml4t_folds_config_t folds;        /* expanding walk-forward, 5 folds, no embargo */
    /* the meta-features (borrowed; NULL = ml4t_features_config_default()): they
       must be the ones the node computes when it serves the model */
    const ml4t_features_config_t *features;
    ml4t_train_model_params_t model;
    /* Leakage control: permute the meta-labels (seeded) before training. An honest
       pipeline then scores AUC near 0.5 out of sample. */
    bool shuffle_labels;
    uint64_t shuffle_seed;
    ml4t_train_progress_fn progress; /* NULL = silent */
    void *progress_ctx;
} ml4t_train_config_t;

typedef struct ml4t_train_fold_result {
    ml4t_fold_t fold;       /* sample ranges, bar span, train/purged/embargoed counts */
    uint64_t ts_test_first; /* ts of the first test sample's entry bar */
    uint64_t ts_test_last;  /* ts of the last test sample's entry bar */
    ml4t_metrics_t metrics; /* on the fold's test samples */
} ml4t_train_fold_result_t;

typedef struct ml4t_train_result {
    size_t n_bars;
    uint64_t ts_first, ts_last; /* bar open times */
    size_t n_signals;           /* bars with a nonzero primary signal */
    size_t n_unresolved;        /* of them, no outcome yet (not samples) */
    size_t n_samples;           /* resolved signals: training samples */
    size_t n_long, n_short;     /* samples by side */
    bool default_primary;       /* signals came from the EMA crossover */
    size_t n_folds;
    ml4t_train_fold_result_t folds[ML4T_FOLDS_MAX];
    /* every out-of-sample prediction pooled: overall.base_rate is the precision of
       the primary signals alone, overall.precision after filtering at p >= 0.5 */
    ml4t_metrics_t overall;
    size_t n_roc;
    ml4t_roc_point_t roc[ML4T_TRAIN_ROC_POINTS];
    ml4t_calib_bin_t calib[ML4T_TRAIN_CALIB_BINS];
    /* the final model, fitted on every sample */
    size_t n_features;
    char feature_names[ML4T_FEATURES_MAX][ML4T_FEATURE_NAME_MAX];
    double importance_gain[ML4T_FEATURES_MAX]; /* total gain share, sums to 1 */
    ml4t_metrics_t in_sample;                  /* final model on its own data */
    ml4t_train_config_t config;                /* as run (progress fields cleared) */
    double seconds_features, seconds_folds, seconds_final, seconds_total;
} ml4t_train_result_t;

void ml4t_train_config_default(ml4t_train_config_t *cfg);

/* ML4T_EINVAL naming the first bad field ("pt_multiplier", "folds.n_folds",
   "model.max_depth", ...). */
ml4t_err_t ml4t_train_config_validate(const ml4t_train_config_t *cfg, ml4t_error_t *err);

/* True when the pooled out-of-sample accuracy is at least min_accuracy (a NaN
   accuracy, i.e. no run, is false). Exact comparison: the accuracy is a ratio of
   counts and the caller's threshold is taken as given. */
bool ml4t_train_result_meets_minimum_accuracy(const ml4t_train_result_t *res, double min_accuracy);

/* Share of out-of-sample signals the meta-model keeps (p >= 0.5). */
double ml4t_train_result_kept_share(const ml4t_train_result_t *res);

const char *ml4t_train_stage_name(ml4t_train_stage_t stage);

typedef struct ml4t_model ml4t_model_t; /* see ml4t/model.h */

/* Run the pipeline on bars (at least ML4T_TRAIN_MIN_BARS, valid per
   ml4t_bars_validate) with primary signals[0 .. bars->n) in {-1, 0, +1}, or NULL
   for the default EMA crossover. Fills res (caller owns; overwritten). When
   model_out is non-NULL it gets the final model (one reference, caller owns; its
   manifest carries the training window, label settings and out-of-sample
   metrics; save it with ml4t_model_save). Errors: config errors; ML4T_ENODATA
   "bars" (too few bars) or "samples" (too few resolved signals for the folds);
   bar validation errors; ML4T_ERANGE "signals[i]"; ML4T_EMODEL from XGBoost,
   naming the fold; ML4T_ENOMEM. Allocates working memory for the call only
   (about n_bars * 12 doubles at its peak) and frees it. */
ml4t_err_t ml4t_train_run(const ml4t_train_config_t *cfg, const ml4t_bars_t *bars,
                          const int *signals, ml4t_train_result_t *res, ml4t_model_t **model_out,
                          ml4t_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
