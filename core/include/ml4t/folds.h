/*  ml4t_folds: time-ordered train/test splits with purging and an embargo.

    Samples are events at bars: sample i enters at bar entry[i] and its label is
    decided at bar end[i] >= entry[i] (the label horizon is [entry[i], end[i]]).
    Entries must be strictly increasing, so sample order is time order.

    The samples are cut into contiguous blocks of (almost) equal size; each test
    fold is one block, and every sample of a tested block is predicted exactly
    once. A fold spans the bars [test_first_bar, test_last_bar] = [entry of its
    first sample, end of its last sample].

    Schemes:
      EXPANDING (default)  walk-forward: n_folds + 1 blocks; fold k (k = 1..n_folds)
                           tests block k and trains on every sample before it.
                           Block 0 only ever trains.
      SLIDING              as EXPANDING, but trains on at most train_window samples
                           immediately before the test fold.
      PURGED_KFOLD         n_folds blocks; fold k tests block k and trains on the
                           samples before and after it (not walk-forward; for
                           studies, not for the final figures).

    Every scheme then removes from a fold's training set:
      purge    any sample whose label horizon [entry, end] overlaps the fold's span
               [test_first_bar, test_last_bar]: its label would use test bars;
      embargo  any sample entering in (test_last_bar, test_last_bar + embargo_bars]:
               its features are computed from bars of the test fold.
    In the walk-forward schemes no training sample comes after its test fold, so
    the embargo removes nothing there; purging does the work (see docs/train.md).

    Pure index arithmetic on caller-owned arrays; nothing is allocated. */
#ifndef ML4T_FOLDS_H_INCLUDED
#define ML4T_FOLDS_H_INCLUDED

#include <stddef.h>

#include "ml4t/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_FOLDS_MAX 64

typedef enum {
    ML4T_FOLDS_EXPANDING = 0,
    ML4T_FOLDS_SLIDING,
    ML4T_FOLDS_PURGED_KFOLD
} ml4t_folds_scheme_t;

typedef struct ml4t_folds_config {
    ml4t_folds_scheme_t scheme; /* EXPANDING */
    size_t n_folds;             /* 5, in [2, ML4T_FOLDS_MAX] */
    size_t embargo_bars;        /* 0 */
    size_t train_window;        /* SLIDING only: samples, >= 1; 0 otherwise */
} ml4t_folds_config_t;

typedef struct ml4t_fold {
    size_t test_begin, test_end; /* samples [test_begin, test_end) */
    size_t test_first_bar;       /* entry[test_begin] */
    size_t test_last_bar;        /* end[test_end - 1]: the last bar the fold's labels use */
    size_t n_train;              /* filled by ml4t_folds_train_set */
    size_t n_purged;             /* candidates dropped by the purge */
    size_t n_embargoed;          /* candidates dropped by the embargo */
} ml4t_fold_t;

void ml4t_folds_config_default(ml4t_folds_config_t *cfg);
/* ML4T_EINVAL naming "scheme", "n_folds" or "train_window". */
ml4t_err_t ml4t_folds_config_validate(const ml4t_folds_config_t *cfg, ml4t_error_t *err);

/* Cut n samples into the test folds of cfg: folds[0 .. cfg->n_folds) (caller owns,
   room for n_folds). Each block needs at least 2 samples (ML4T_ENODATA "n").
   ML4T_ERANGE naming "entry[i]" when entries are not strictly increasing, or
   "end[i]" when end[i] < entry[i]. */
ml4t_err_t ml4t_folds_split(const ml4t_folds_config_t *cfg, const size_t *entry, const size_t *end,
                            size_t n, ml4t_fold_t *folds, ml4t_error_t *err);

/* The training samples of one fold, ascending, into idx (room for n; caller owns);
   sets fold->n_train, n_purged, n_embargoed and returns n_train. */
size_t ml4t_folds_train_set(const ml4t_folds_config_t *cfg, ml4t_fold_t *fold, const size_t *entry,
                            const size_t *end, size_t n, size_t *idx);

const char *ml4t_folds_scheme_name(ml4t_folds_scheme_t scheme);

#ifdef __cplusplus
}
#endif
#endif
