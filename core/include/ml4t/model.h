/*  ml4t_model: the meta-model, an XGBoost binary classifier, with its manifest.

    A model is trained from plain float matrices (row-major, NaN = missing) or
    loaded from a model directory, and is immutable once published: it is shared
    between threads by reference counting (ml4t_model_ref / ml4t_model_unref) and
    freed when the last reference goes. Only the setters change a model; call
    them before the model is shared (a trainer fills the manifest, then saves).

    Prediction has two paths that agree to within 1e-6:
    - ml4t_model_predict_row / _batch: the booster's trees compiled into a flat
      array evaluator at train/load time. Thread-safe, allocation-free, about
      half a microsecond per row for 100 trees of depth 5. This is the hot path.
    - ml4t_model_predict_xgb: XGBoost's own inplace prediction, for checking.

    Files: one model per directory. A model path names the booster file, written
    as XGBoost UBJSON (e.g. "models/m1/model.ubj"); the manifest is
    "<same directory>/manifest.json" and records the feature names in order, the
    training window, label settings, metrics, class balance, creation time, the
    model version and the SHA-256 of the booster bytes. Loading refuses a model
    whose checksum or feature list does not match. See docs/model.md. */
#ifndef ML4T_MODEL_H_INCLUDED
#define ML4T_MODEL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ml4t/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_MODEL_SCHEMA_VERSION   1    /* manifest.json "schema_version" */
#define ML4T_MODEL_VERSION_MAX      64   /* bytes of a model version, without the NUL */
#define ML4T_MODEL_FEATURE_NAME_MAX 63   /* bytes of a feature name, without the NUL */
#define ML4T_MODEL_FEATURES_MAX     1024 /* = ML4T_FOREST_MAX_FEATURES */

typedef struct ml4t_model ml4t_model_t;

/* How training compensates for unequal classes (recorded in the manifest). */
typedef enum {
    /* scale_pos_weight = (weighted) negatives / positives, from the labels */
    ML4T_MODEL_BALANCE_SCALE_POS_WEIGHT = 0,
    /* nothing beyond the caller's sample weights, if any */
    ML4T_MODEL_BALANCE_NONE = 1,
} ml4t_model_balance_t;

typedef struct ml4t_model_params {
    char objective[32];           /* "binary:logistic" (the only one supported) */
    char tree_method[16];         /* "hist" | "approx" | "exact" */
    int n_estimators;             /* 100, boosting rounds, in [1, 100000] */
    int max_depth;                /* 5, in [1, 12] (ML4T_FOREST_MAX_DEPTH) */
    double eta;                   /* 0.1, in (0, 1] */
    double subsample;             /* 0.8, in (0, 1] */
    double colsample_bytree;      /* 1.0, in (0, 1] */
    double min_child_weight;      /* 1, >= 0 */
    uint32_t seed;                /* 42 */
    int nthread;                  /* 0 = all cores, >= 0 */
    ml4t_model_balance_t balance; /* ML4T_MODEL_BALANCE_SCALE_POS_WEIGHT */
    /* Optional progress: called after each tree with (ud, trees built, total),
       on the training thread. NULL = none. */
    void (*on_tree)(void *ud, int done, int total);
    void *on_tree_ud;
} ml4t_model_params_t;

/* The manifest, read-only; every pointer is owned by the model and valid while
   the caller holds a reference and calls no setter. */
typedef struct ml4t_model_manifest {
    int schema_version;    /* ML4T_MODEL_SCHEMA_VERSION */
    char ml4t_version[32]; /* library version that wrote it */
    char model_version[ML4T_MODEL_VERSION_MAX + 1];
    size_t n_features;
    const char *const *feature_names; /* n_features names, model's column order */
    uint64_t window_first_ts_ns;      /* training window, 0 = not set */
    uint64_t window_last_ts_ns;
    uint64_t n_samples;      /* rows trained on */
    double positive_rate;    /* (weighted) share of label 1 */
    double scale_pos_weight; /* 1 when balance is "none" */
    char balance_method[24]; /* "scale_pos_weight" | "none" */
    char created_utc[32];    /* "2023-11-30T23:59:00.123456789Z" */
    uint64_t created_ns;     /* same instant, ns since the epoch */
    char booster_sha256[65]; /* hex SHA-256 of the UBJSON booster bytes */
    uint64_t booster_bytes;
    const cJSON *labels;  /* object: label settings, never NULL */
    const cJSON *metrics; /* object: trainer's metrics, never NULL */
    const cJSON *params;  /* object: training parameters, never NULL */
} ml4t_model_manifest_t;

/* Fill p with the defaults listed beside each field. */
void ml4t_model_params_default(ml4t_model_params_t *p);

/* Check every parameter. ML4T_EINVAL/ERANGE with err->field naming the first bad
   one and err->msg listing every violation as "name=value: rule". */
ml4t_err_t ml4t_model_params_validate(const ml4t_model_params_t *p, ml4t_error_t *err);

/* Train a binary classifier. X: n x k row-major, NaN = missing (infinities are
   refused); y: labels 0 or 1; weights: n non-negative sample weights or NULL;
   feature_names: k distinct non-empty names (copied). Both classes must occur.
   Returns a new model with one reference (caller owns), or NULL with err set.
   The manifest gets n_samples, class balance, params, the creation time and a
   version "<UTC yyyymmddThhmmssZ>-<first 8 hex of the booster SHA-256>"; the
   caller adds the training window, label settings and metrics with the setters. */
ml4t_model_t *ml4t_model_train(const float *X, const float *y, const float *weights, size_t n,
                               size_t k, const char *const *feature_names,
                               const ml4t_model_params_t *p, ml4t_error_t *err);

typedef struct ml4t_hmm ml4t_hmm_t; /* see ml4t/hmm.h */

/* Ship an HMM regime filter with the model: the model takes ownership (and frees
   any previous one). Saved as hmm.json beside the booster, before the manifest;
   loaded with the model when present, and a hmm.json that does not load refuses
   the model. Attach before the model is shared: it is not synchronized. */
void ml4t_model_attach_hmm(ml4t_model_t *m, ml4t_hmm_t *hmm);
/* The model's regime filter, or NULL. Valid as long as the model. */
const ml4t_hmm_t *ml4t_model_hmm(const ml4t_model_t *m);

/* Probability of label 1 for one row of n_features values (NaN = missing), from
   the flat evaluator. Thread-safe, allocation-free, never fails. */
void ml4t_model_predict_row(const ml4t_model_t *m, const double *x, double *p_out);

/* n rows, row-major n x n_features, into out[n]. Same values as predict_row. */
void ml4t_model_predict_batch(const ml4t_model_t *m, const double *X, size_t n, double *out);

/* The same probabilities through XGBoost's inplace prediction (slow; for
   checking). Allocates a float copy of X. Serialized by a lock in the model. */
ml4t_err_t ml4t_model_predict_xgb(const ml4t_model_t *m, const double *X, size_t n, double *out,
                                  ml4t_error_t *err);

/* Write the booster to path (UBJSON) and manifest.json beside it, each atomically
   (temporary file, fsync, rename, fsync of the directory), booster first. Creates
   the directory if missing. Records the file name, size and checksum in the
   manifest (only written when they change: saving a shared model under the
   file name it was loaded from or saved to before touches nothing readers see). */
ml4t_err_t ml4t_model_save(ml4t_model_t *m, const char *path, ml4t_error_t *err);

/* Load the booster at path and <dir>/manifest.json. Refuses, with err naming the
   field: a missing/unreadable/malformed manifest, a booster whose size or
   SHA-256 differs from the manifest, a feature list that differs from
   expected_features (NULL = accept the manifest's list), an unsupported booster.
   Returns a new model with one reference (caller owns) or NULL; a failed load
   touches nothing else, so the model already in use stays in use. */
ml4t_model_t *ml4t_model_load(const char *path, const char *const *expected_features,
                              size_t n_expected, ml4t_error_t *err);

/* Take one more reference; returns m. Thread-safe. */
ml4t_model_t *ml4t_model_ref(ml4t_model_t *m);
/* Drop the reference *m_p and set *m_p = NULL; the model is freed with its last
   reference. Thread-safe. Nothing on NULL. Do not drop a last reference from an
   atexit() handler: XGBoost's thread-local state is gone by then and freeing a
   booster crashes; release models before main returns. */
void ml4t_model_unref(ml4t_model_t **m_p);
/* Same as ml4t_model_unref (the class convention's name). */
void ml4t_model_destroy(ml4t_model_t **m_p);
/* References held right now (a snapshot; for tests and diagnostics). */
int ml4t_model_refcount(const ml4t_model_t *m);

/* Read-only manifest; valid while the caller holds a reference. */
const ml4t_model_manifest_t *ml4t_model_manifest(const ml4t_model_t *m);
/* The manifest as JSON, exactly what ml4t_model_save writes. Caller owns
   (cJSON_Delete). NULL on allocation failure. */
cJSON *ml4t_model_manifest_json(const ml4t_model_t *m);

/* Model version string; valid while the caller holds a reference. */
const char *ml4t_model_version(const ml4t_model_t *m);
size_t ml4t_model_n_features(const ml4t_model_t *m);
/* Name of feature i, NULL when out of range; valid while a reference is held. */
const char *ml4t_model_feature_name(const ml4t_model_t *m, size_t i);
/* Number of trees in the booster. */
size_t ml4t_model_n_trees(const ml4t_model_t *m);
/* The XGBoost BoosterHandle, borrowed: valid while a reference is held. Not for
   changing the model (it would no longer match the flat evaluator). */
void *ml4t_model_booster(const ml4t_model_t *m);

/* Setters for a trainer, before the model is shared. Each copies its input. */
/* 1..64 bytes of [A-Za-z0-9._:+-]. */
ml4t_err_t ml4t_model_set_version(ml4t_model_t *m, const char *version, ml4t_error_t *err);
/* Training window [first_ts_ns, last_ts_ns] (ns since the epoch) and rows. */
ml4t_err_t ml4t_model_set_window(ml4t_model_t *m, uint64_t first_ts_ns, uint64_t last_ts_ns,
                                 uint64_t n_samples, ml4t_error_t *err);
/* Label settings as a JSON object, stored as given (the model does not read them);
   replaces the previous ones. */
ml4t_err_t ml4t_model_set_labels(ml4t_model_t *m, const cJSON *labels, ml4t_error_t *err);
/* Convenience: sets "pt_multiplier", "sl_multiplier", "max_holding_bars" in the
   label settings (other keys are kept). */
ml4t_err_t ml4t_model_set_label_barriers(ml4t_model_t *m, double pt_multiplier,
                                         double sl_multiplier, int64_t max_holding_bars,
                                         ml4t_error_t *err);
/* Metrics as a JSON object, stored as given; replaces the previous ones. */
ml4t_err_t ml4t_model_set_metrics(ml4t_model_t *m, const cJSON *metrics, ml4t_error_t *err);
/* Convenience: sets one numeric metric (e.g. "auc"), keeping the others. */
ml4t_err_t ml4t_model_set_metric(ml4t_model_t *m, const char *name, double value,
                                 ml4t_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
