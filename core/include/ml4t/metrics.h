/*  ml4t_metrics: scores of a binary classifier's probabilities against 0/1 labels.

    Definitions (n samples, p[i] the predicted probability of label 1, y[i] in {0, 1}):
      base_rate  mean of y: the share of positives. For meta-labels that is the
                 precision of the primary signals taken alone.
      accuracy   share of samples with (p >= 0.5) == y.
      precision  TP / (TP + FP) at threshold 0.5 (p >= 0.5 predicts 1); NaN when
                 nothing is predicted positive. For meta-labels: the precision of
                 the primary signals the meta-model keeps.
      recall     TP / (TP + FN); NaN when there is no positive.
      auc        ROC AUC = P(score of a random positive > score of a random
                 negative), ties counted one half: the Mann-Whitney U statistic
                 from average ranks, U / (n_pos * n_neg). NaN when a class is absent.
      log_loss   -mean(y log q + (1 - y) log(1 - q)), q = p clipped to
                 [ML4T_METRICS_EPS, 1 - ML4T_METRICS_EPS] so one confident miss is
                 large but finite.
      brier      mean((p - y)^2).

    Functions take caller-owned arrays and never keep them. ml4t_metrics_compute
    and ml4t_metrics_roc allocate a sort index for the call and free it. */
#ifndef ML4T_METRICS_H_INCLUDED
#define ML4T_METRICS_H_INCLUDED

#include <stddef.h>

#include "ml4t/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_METRICS_EPS       1e-15 /* log-loss probability clip */
#define ML4T_METRICS_THRESHOLD 0.5   /* p >= this predicts 1 */

typedef struct ml4t_metrics {
    size_t n;          /* samples scored */
    size_t n_pos;      /* y == 1 */
    size_t n_pred_pos; /* p >= 0.5: the signals a meta-model keeps */
    size_t tp, fp, tn, fn;
    double base_rate;
    double accuracy;
    double precision; /* NaN when n_pred_pos == 0 */
    double recall;    /* NaN when n_pos == 0 */
    double auc;       /* NaN when n_pos == 0 or n_pos == n */
    double log_loss;
    double brier;
} ml4t_metrics_t;

typedef struct ml4t_roc_point {
    double threshold; /* samples with p >= threshold are called positive */
    double fpr;
    double tpr;
} ml4t_roc_point_t;

typedef struct ml4t_calib_bin {
    double lo, hi;    /* p in [lo, hi), the last bin closed at 1 */
    size_t count;     /* samples in the bin */
    double mean_pred; /* mean p in the bin; NaN when empty */
    double frac_pos;  /* mean y in the bin; NaN when empty */
} ml4t_calib_bin_t;

/* Every metric above. Errors: ML4T_EINVAL ("p"/"y") for NULL arrays, ML4T_ENODATA
   ("n") for n == 0, ML4T_ERANGE naming "p[i]" (not finite or outside [0, 1]) or
   "y[i]" (not 0 or 1), ML4T_ENOMEM. out is all zero/NaN on error. */
ml4t_err_t ml4t_metrics_compute(const double *p, const int *y, size_t n, ml4t_metrics_t *out,
                                ml4t_error_t *err);

/* ROC AUC alone, as defined above (same errors). */
ml4t_err_t ml4t_metrics_auc(const double *p, const int *y, size_t n, double *auc,
                            ml4t_error_t *err);

/* The ROC curve, one point per distinct score from the highest threshold down,
   starting at (0, 0) (threshold +inf) and ending at (1, 1): at most n + 1 points.
   When that is more than max_points the curve is thinned to max_points (>= 2)
   points spread evenly along it, keeping both ends. *n_points gets the count.
   Needs both classes (ML4T_ENODATA "y" otherwise). */
ml4t_err_t ml4t_metrics_roc(const double *p, const int *y, size_t n, ml4t_roc_point_t *points,
                            size_t max_points, size_t *n_points, ml4t_error_t *err);

/* n_bins equal-width bins over [0, 1] (n_bins >= 1, else ML4T_EINVAL "n_bins"). */
ml4t_err_t ml4t_metrics_calibration(const double *p, const int *y, size_t n, size_t n_bins,
                                    ml4t_calib_bin_t *bins, ml4t_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
