/*  ml4t_config: defaults, validation, overrides by key and environment. */
#include "ml4t/config.h"
#include "ml4t/features.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { S_DOUBLE, S_INT, S_BOOL, S_STRING, S_FEATURES } s_kind_t;

typedef struct {
    const char *key;
    s_kind_t kind;
    size_t offset;
    size_t size;  /* strings: buffer size */
    double lo;    /* numeric range */
    double hi;
    bool lo_open; /* lo excluded */
    const char *rule;
} s_field_t;

#define F_NUM(k, kind, lo, hi, lo_open, rule)                                                      \
    {#k, kind, offsetof(ml4t_config_t, k), 0, lo, hi, lo_open, rule}
#define F_STR(k, rule) {#k, S_STRING, offsetof(ml4t_config_t, k), sizeof(((ml4t_config_t *)0)->k), 0, 0, false, rule}

static const s_field_t s_fields[] = {
    F_STR(model_path, "a path, not empty"),
    F_STR(data_dir, "a directory path, not empty"),
    F_NUM(default_confidence, S_DOUBLE, 0.0, 1.0, false, "must be in [0, 1]"),
    F_NUM(retrain_accuracy_drop_threshold, S_DOUBLE, 0.0, 0.5, true, "must be in (0, 0.5]"),
    F_NUM(retrain_min_samples, S_INT, 100, 1e12, false, "must be >= 100"),
    F_NUM(retrain_interval_bars, S_INT, 0, 1e12, false, "must be >= 0 (0 = off)"),
    F_NUM(redis_enabled, S_BOOL, 0, 1, false, "must be true or false"),
    F_STR(channel_signals, "a channel name, not empty"),
    F_STR(channel_enriched, "a channel name, not empty"),
    F_NUM(inference_timeout_ms, S_DOUBLE, 0.0, 1e9, true, "must be > 0"),
    {"features", S_FEATURES, offsetof(ml4t_config_t, features), 0, 0, 0, false,
     "a comma-separated list of known feature names, no repeats"},
    F_NUM(min_bars, S_INT, 2, 1e6, false, "must be in [2, max_bars]"),
    F_NUM(max_bars, S_INT, 2, 1e6, false, "must be in [min_bars, 1000000]"),
    F_NUM(max_message_bytes, S_INT, 1024, 1073741824.0, false, "must be in [1024, 1 GiB]"),
};
#define S_NFIELDS (sizeof s_fields / sizeof s_fields[0])

static const char *s_keys[S_NFIELDS + 1];

const char *const *ml4t_config_keys(void)
{
    if (!s_keys[0]) /* idempotent; same values from any thread */
        for (size_t i = 0; i < S_NFIELDS; i++)
            s_keys[i] = s_fields[i].key;
    return s_keys;
}

void ml4t_config_defaults(ml4t_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->model_path, sizeof cfg->model_path, "models/meta_model.ubj");
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "data");
    cfg->default_confidence = 0.5;
    cfg->retrain_accuracy_drop_threshold = 0.10;
    cfg->retrain_min_samples = 1000;
    cfg->retrain_interval_bars = 0;
    cfg->redis_enabled = false;
    snprintf(cfg->channel_signals, sizeof cfg->channel_signals, "nautilus:signals");
    snprintf(cfg->channel_enriched, sizeof cfg->channel_enriched, "nautilus:enriched_signals");
    cfg->inference_timeout_ms = 10.0;
    size_t n = ml4t_features_count();
    for (size_t i = 0; i < n && i < ML4T_FEATURES_MAX; i++)
        snprintf(cfg->features[i], ML4T_FEATURE_NAME_MAX, "%s", ml4t_features_name(i));
    cfg->n_features = n < ML4T_FEATURES_MAX ? n : ML4T_FEATURES_MAX;
    cfg->min_bars = 100;
    cfg->max_bars = 10000;
    cfg->max_message_bytes = 4 * 1024 * 1024;
}

static const s_field_t *s_find(const char *key)
{
    for (size_t i = 0; i < S_NFIELDS; i++)
        if (strcmp(s_fields[i].key, key) == 0)
            return &s_fields[i];
    return NULL;
}

static double s_numeric(const ml4t_config_t *cfg, const s_field_t *f)
{
    const char *base = (const char *)cfg + f->offset;
    switch (f->kind) {
    case S_DOUBLE:
        return *(const double *)base;
    case S_INT:
        return (double)*(const int64_t *)base;
    case S_BOOL:
        return *(const bool *)base ? 1.0 : 0.0;
    default:
        return 0.0;
    }
}

static bool s_in_range(const s_field_t *f, double v)
{
    if (!isfinite(v))
        return false;
    if (f->lo_open ? !(v > f->lo) : !(v >= f->lo))
        return false;
    return v <= f->hi;
}

/* Checks a features list; writes a reason into why on failure. */
static bool s_features_ok(const ml4t_config_t *cfg, char *why, size_t why_size)
{
    if (cfg->n_features == 0) {
        snprintf(why, why_size, "is empty");
        return false;
    }
    for (size_t i = 0; i < cfg->n_features; i++) {
        if (ml4t_features_find(cfg->features[i]) < 0) {
            snprintf(why, why_size, "'%s' is not a known feature", cfg->features[i]);
            return false;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->features[i], cfg->features[j]) == 0) {
                snprintf(why, why_size, "'%s' is listed twice", cfg->features[i]);
                return false;
            }
    }
    return true;
}

static void s_append(char *msg, size_t size, const char *text)
{
    size_t used = strlen(msg);
    if (used + 1 < size)
        snprintf(msg + used, size - used, "%s%s", used ? "; " : "", text);
}

ml4t_err_t ml4t_config_validate(const ml4t_config_t *cfg, ml4t_error_t *err)
{
    char msg[ML4T_ERROR_MSG_MAX] = "";
    const char *first = NULL;
    char line[160];
    for (size_t i = 0; i < S_NFIELDS; i++) {
        const s_field_t *f = &s_fields[i];
        bool ok = true;
        char value[96] = "";
        if (f->kind == S_STRING) {
            const char *s = (const char *)cfg + f->offset;
            ok = s[0] != '\0' && memchr(s, '\0', f->size) != NULL;
            snprintf(value, sizeof value, "\"%.60s\"", s);
        } else if (f->kind == S_FEATURES) {
            char why[80];
            ok = s_features_ok(cfg, why, sizeof why);
            snprintf(value, sizeof value, "%s", why);
        } else {
            double v = s_numeric(cfg, f);
            ok = s_in_range(f, v);
            snprintf(value, sizeof value, "%g", v);
        }
        if (ok)
            continue;
        if (!first)
            first = f->key;
        if (f->kind == S_FEATURES)
            snprintf(line, sizeof line, "features: %s", value);
        else
            snprintf(line, sizeof line, "%s=%s: %s", f->key, value, f->rule);
        s_append(msg, sizeof msg, line);
    }
    if (!first && cfg->min_bars > cfg->max_bars) {
        first = "min_bars";
        snprintf(line, sizeof line, "min_bars=%" PRId64 ": must not exceed max_bars=%" PRId64,
                 cfg->min_bars, cfg->max_bars);
        s_append(msg, sizeof msg, line);
    }
    if (!first)
        return ML4T_OK;
    return ml4t_error_set(err, ML4T_EINVAL, first, "invalid configuration: %s", msg);
}

static bool s_parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static ml4t_err_t s_set_features(ml4t_config_t *cfg, const char *value, ml4t_error_t *err)
{
    ml4t_config_t tmp = *cfg;
    tmp.n_features = 0;
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        size_t len = (size_t)(end - p);
        while (len && p[len - 1] == ' ')
            len--;
        if (tmp.n_features == ML4T_FEATURES_MAX)
            return ml4t_error_set(err, ML4T_ELIMIT, "features", "features: more than %d names",
                                  ML4T_FEATURES_MAX);
        if (len >= ML4T_FEATURE_NAME_MAX)
            return ml4t_error_set(err, ML4T_ELIMIT, "features", "features: name '%.*s' too long",
                                  (int)(len > 40 ? 40 : len), p);
        memcpy(tmp.features[tmp.n_features], p, len);
        tmp.features[tmp.n_features][len] = '\0';
        tmp.n_features++;
        p = end;
    }
    char why[80];
    if (!s_features_ok(&tmp, why, sizeof why))
        return ml4t_error_set(err, ML4T_EINVAL, "features", "features: %s", why);
    *cfg = tmp;
    return ML4T_OK;
}

ml4t_err_t ml4t_config_set(ml4t_config_t *cfg, const char *key, const char *value,
                           ml4t_error_t *err)
{
    const s_field_t *f = s_find(key);
    if (!f)
        return ml4t_error_set(err, ML4T_ENOTFOUND, key, "unknown configuration key '%s'", key);
    char *base = (char *)cfg + f->offset;
    if (f->kind == S_FEATURES)
        return s_set_features(cfg, value, err);
    if (f->kind == S_STRING) {
        size_t len = strlen(value);
        if (len == 0 || len >= f->size)
            return ml4t_error_set(err, ML4T_EINVAL, key, "%s=\"%.60s\": %s (at most %zu bytes)",
                                  key, value, f->rule, f->size - 1);
        memcpy(base, value, len + 1);
        return ML4T_OK;
    }
    if (f->kind == S_BOOL) {
        bool b;
        if (!s_parse_bool(value, &b))
            return ml4t_error_set(err, ML4T_EINVAL, key, "%s=\"%.60s\": %s", key, value, f->rule);
        *(bool *)base = b;
        return ML4T_OK;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    while (end && isspace((unsigned char)*end))
        end++;
    if (end == value || (end && *end) || errno == ERANGE)
        return ml4t_error_set(err, ML4T_EINVAL, key, "%s=\"%.60s\": not a number", key, value);
    if (f->kind == S_INT && v != floor(v))
        return ml4t_error_set(err, ML4T_EINVAL, key, "%s=\"%.60s\": not a whole number", key,
                              value);
    if (!s_in_range(f, v))
        return ml4t_error_set(err, ML4T_ERANGE, key, "%s=%.60s: %s", key, value, f->rule);
    if (f->kind == S_DOUBLE)
        *(double *)base = v;
    else
        *(int64_t *)base = (int64_t)v;
    return ML4T_OK;
}

ml4t_err_t ml4t_config_from_env(ml4t_config_t *cfg, ml4t_error_t *err)
{
    for (size_t i = 0; i < S_NFIELDS; i++) {
        char name[96] = "ML4T_";
        size_t j = 5;
        for (const char *k = s_fields[i].key; *k && j + 1 < sizeof name; k++)
            name[j++] = (char)toupper((unsigned char)*k);
        name[j] = '\0';
        const char *v = getenv(name);
        if (!v)
            continue;
        ml4t_error_t e;
        ml4t_error_clear(&e);
        if (ml4t_config_set(cfg, s_fields[i].key, v, &e))
            return ml4t_error_set(err, e.code, name, "%s: %s", name, e.msg);
    }
    return ML4T_OK;
}

ml4t_err_t ml4t_config_get(const ml4t_config_t *cfg, const char *key, char *buf, size_t size)
{
    const s_field_t *f = s_find(key);
    if (!f)
        return ML4T_ENOTFOUND;
    const char *base = (const char *)cfg + f->offset;
    switch (f->kind) {
    case S_STRING:
        snprintf(buf, size, "%s", base);
        break;
    case S_BOOL:
        snprintf(buf, size, "%s", *(const bool *)base ? "true" : "false");
        break;
    case S_INT:
        snprintf(buf, size, "%" PRId64, *(const int64_t *)base);
        break;
    case S_DOUBLE:
        snprintf(buf, size, "%g", *(const double *)base);
        break;
    case S_FEATURES: {
        size_t used = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < cfg->n_features && used + 1 < size; i++)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? "," : "",
                                     cfg->features[i]);
        break;
    }
    }
    return ML4T_OK;
}
