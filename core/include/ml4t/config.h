/*  ml4t_config: the orchestrator's configuration.

    Defaults, validation that names every bad field with its value, and overrides
    by key (the same path serves environment variables ML4T_<FIELD>, the node's
    config file and its command-line flags). */
#ifndef ML4T_CONFIG_H_INCLUDED
#define ML4T_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml4t/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_CONFIG_PATH_MAX    256
#define ML4T_CONFIG_CHANNEL_MAX 128
#define ML4T_FEATURES_MAX       32
#define ML4T_FEATURE_NAME_MAX   32

typedef struct ml4t_config {
    char model_path[ML4T_CONFIG_PATH_MAX];      /* "models/meta_model.ubj" */
    char data_dir[ML4T_CONFIG_PATH_MAX];        /* "data": history store, model registry */
    double default_confidence;                  /* 0.5, in [0, 1] */
    double retrain_accuracy_drop_threshold;     /* 0.10, in (0, 0.5] */
    int64_t retrain_min_samples;                /* 1000, >= 100 */
    int64_t retrain_interval_bars;              /* 0 = off, >= 0 */
    bool redis_enabled;                         /* false */
    char channel_signals[ML4T_CONFIG_CHANNEL_MAX];  /* "nautilus:signals" */
    char channel_enriched[ML4T_CONFIG_CHANNEL_MAX]; /* "nautilus:enriched_signals" */
    double inference_timeout_ms;                /* 10, > 0 */
    size_t n_features;                          /* features used by the model, in order */
    char features[ML4T_FEATURES_MAX][ML4T_FEATURE_NAME_MAX];
    int64_t min_bars;                           /* 100, >= 2, <= max_bars */
    int64_t max_bars;                           /* 10000, hard limit per signal, <= 1000000 */
    int64_t max_message_bytes;                  /* 4 MiB, limit on one wire message */
} ml4t_config_t;

/* Fill cfg with the defaults. */
void ml4t_config_defaults(ml4t_config_t *cfg);

/* Check every field. On failure returns ML4T_EINVAL (or ERANGE), err->field names
   the first bad field and err->msg lists every violation, "field=value: rule". */
ml4t_err_t ml4t_config_validate(const ml4t_config_t *cfg, ml4t_error_t *err);

/* Set one field from text ("model_path", "default_confidence", "features" as a
   comma-separated list, ...). Parses and range-checks the value; an unknown key
   or unparsable value is an error naming the key. cfg is unchanged on error. */
ml4t_err_t ml4t_config_set(ml4t_config_t *cfg, const char *key, const char *value,
                           ml4t_error_t *err);

/* Apply every ML4T_<FIELD> environment variable that is set (upper-case field
   name). Stops at the first bad one and names the variable. */
ml4t_err_t ml4t_config_from_env(ml4t_config_t *cfg, ml4t_error_t *err);

/* The field names, NULL-terminated, in declaration order (for --help and docs). */
const char *const *ml4t_config_keys(void);

/* Render a field's current value as text into buf. ML4T_ENOTFOUND for unknown key. */
ml4t_err_t ml4t_config_get(const ml4t_config_t *cfg, const char *key, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
