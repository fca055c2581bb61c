/*  ml4t_folds: time-ordered train/test splits with purging and an embargo. */
#include "ml4t/folds.h"

#include <stdio.h>

void ml4t_folds_config_default(ml4t_folds_config_t *cfg)
{
    cfg->scheme = ML4T_FOLDS_EXPANDING;
    cfg->n_folds = 5;
    cfg->embargo_bars = 0;
    cfg->train_window = 0;
}

const char *ml4t_folds_scheme_name(ml4t_folds_scheme_t scheme)
{
    switch (scheme) {
    case ML4T_FOLDS_EXPANDING:
        return "expanding";
    case ML4T_FOLDS_SLIDING:
        return "sliding";
    case ML4T_FOLDS_PURGED_KFOLD:
        return "purged_kfold";
    }
    return "unknown";
}

ml4t_err_t ml4t_folds_config_validate(const ml4t_folds_config_t *cfg, ml4t_error_t *err)
{
    if (cfg->scheme != ML4T_FOLDS_EXPANDING && cfg->scheme != ML4T_FOLDS_SLIDING &&
        cfg->scheme != ML4T_FOLDS_PURGED_KFOLD)
        return ml4t_error_set(err, ML4T_EINVAL, "scheme", "unknown fold scheme %d",
                              (int)cfg->scheme);
    if (cfg->n_folds < 2 || cfg->n_folds > ML4T_FOLDS_MAX)
        return ml4t_error_set(err, ML4T_EINVAL, "n_folds", "n_folds must be in [2, %d], got %zu",
                              ML4T_FOLDS_MAX, cfg->n_folds);
    if (cfg->scheme == ML4T_FOLDS_SLIDING && cfg->train_window == 0)
        return ml4t_error_set(err, ML4T_EINVAL, "train_window",
                              "the sliding scheme needs train_window >= 1 samples");
    return ML4T_OK;
}

static ml4t_err_t s_check_samples(const size_t *entry, const size_t *end, size_t n,
                                  ml4t_error_t *err)
{
    char field[ML4T_ERROR_FIELD_MAX];
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && entry[i] <= entry[i - 1]) {
            snprintf(field, sizeof field, "entry[%zu]", i);
            return ml4t_error_set(err, ML4T_ERANGE, field,
                                  "sample entries must be strictly increasing: entry[%zu] = %zu "
                                  "after %zu",
                                  i, entry[i], entry[i - 1]);
        }
        if (end[i] < entry[i]) {
            snprintf(field, sizeof field, "end[%zu]", i);
            return ml4t_error_set(err, ML4T_ERANGE, field,
                                  "label end %zu is before the entry %zu of sample %zu", end[i],
                                  entry[i], i);
        }
    }
    return ML4T_OK;
}

ml4t_err_t ml4t_folds_split(const ml4t_folds_config_t *cfg, const size_t *entry, const size_t *end,
                            size_t n, ml4t_fold_t *folds, ml4t_error_t *err)
{
    ml4t_err_t rc = ml4t_folds_config_validate(cfg, err);
    if (rc)
        return rc;
    size_t blocks = cfg->n_folds + (cfg->scheme == ML4T_FOLDS_PURGED_KFOLD ? 0 : 1);
    if (n < 2 * blocks)
        return ml4t_error_set(err, ML4T_ENODATA, "n",
                              "%zu samples cannot make %zu blocks of at least 2 samples", n,
                              blocks);
    rc = s_check_samples(entry, end, n, err);
    if (rc)
        return rc;
    size_t first = blocks - cfg->n_folds; /* walk-forward: block 0 only trains */
    for (size_t k = 0; k < cfg->n_folds; k++) {
        size_t b = first + k;
        ml4t_fold_t *f = &folds[k];
        f->test_begin = b * n / blocks;
        f->test_end = (b + 1) * n / blocks;
        f->test_first_bar = entry[f->test_begin];
        /* a sample's horizon may end after later samples begin: take the widest */
        f->test_last_bar = 0;
        for (size_t i = f->test_begin; i < f->test_end; i++)
            if (end[i] > f->test_last_bar)
                f->test_last_bar = end[i];
        f->n_train = f->n_purged = f->n_embargoed = 0;
    }
    return ML4T_OK;
}

size_t ml4t_folds_train_set(const ml4t_folds_config_t *cfg, ml4t_fold_t *fold, const size_t *entry,
                            const size_t *end, size_t n, size_t *idx)
{
    size_t lo = 0, hi = n; /* candidate range before exclusions */
    if (cfg->scheme != ML4T_FOLDS_PURGED_KFOLD)
        hi = fold->test_begin;
    if (cfg->scheme == ML4T_FOLDS_SLIDING && hi > cfg->train_window)
        lo = hi - cfg->train_window;
    size_t k = 0;
    fold->n_purged = fold->n_embargoed = 0;
    for (size_t i = lo; i < hi; i++) {
        if (i >= fold->test_begin && i < fold->test_end)
            continue;
        if (entry[i] <= fold->test_last_bar && end[i] >= fold->test_first_bar) {
            fold->n_purged++;
            continue;
        }
        if (entry[i] > fold->test_last_bar && entry[i] - fold->test_last_bar <= cfg->embargo_bars) {
            fold->n_embargoed++;
            continue;
        }
        idx[k++] = i;
    }
    fold->n_train = k;
    return k;
}
