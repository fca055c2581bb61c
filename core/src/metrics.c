/*  ml4t_metrics: scores of a binary classifier's probabilities. */
#include "ml4t/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double p;
    int y;
} s_scored_t;

static ml4t_err_t s_check(const double *p, const int *y, size_t n, ml4t_error_t *err)
{
    if (!p)
        return ml4t_error_set(err, ML4T_EINVAL, "p", "probabilities must not be NULL");
    if (!y)
        return ml4t_error_set(err, ML4T_EINVAL, "y", "labels must not be NULL");
    if (n == 0)
        return ml4t_error_set(err, ML4T_ENODATA, "n", "no samples to score");
    for (size_t i = 0; i < n; i++) {
        char field[ML4T_ERROR_FIELD_MAX];
        if (!isfinite(p[i]) || p[i] < 0.0 || p[i] > 1.0) {
            snprintf(field, sizeof field, "p[%zu]", i);
            return ml4t_error_set(err, ML4T_ERANGE, field,
                                  "probability %zu must be finite and in [0, 1], got %g", i, p[i]);
        }
        if (y[i] != 0 && y[i] != 1) {
            snprintf(field, sizeof field, "y[%zu]", i);
            return ml4t_error_set(err, ML4T_ERANGE, field, "label %zu must be 0 or 1, got %d", i,
                                  y[i]);
        }
    }
    return ML4T_OK;
}

static int s_cmp_ascending(const void *a, const void *b)
{
    double x = ((const s_scored_t *)a)->p, y = ((const s_scored_t *)b)->p;
    return (x > y) - (x < y);
}

/* Pairs sorted by p ascending; caller frees. */
static s_scored_t *s_sorted(const double *p, const int *y, size_t n)
{
    s_scored_t *s = malloc(n * sizeof *s);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++)
        s[i] = (s_scored_t){p[i], y[i]};
    qsort(s, n, sizeof *s, s_cmp_ascending);
    return s;
}

/* Mann-Whitney: tied scores share the mean of the ranks they span. */
static double s_auc_sorted(const s_scored_t *s, size_t n, size_t n_pos)
{
    size_t n_neg = n - n_pos;
    if (n_pos == 0 || n_neg == 0)
        return NAN;
    double rank_sum = 0.0;
    for (size_t i = 0; i < n;) {
        size_t j = i, pos = 0;
        while (j < n && s[j].p == s[i].p)
            pos += (size_t)s[j++].y;
        double avg_rank = ((double)(i + 1) + (double)j) / 2.0; /* ranks i+1 .. j */
        rank_sum += avg_rank * (double)pos;
        i = j;
    }
    double u = rank_sum - (double)n_pos * ((double)n_pos + 1.0) / 2.0;
    return u / ((double)n_pos * (double)n_neg);
}

ml4t_err_t ml4t_metrics_auc(const double *p, const int *y, size_t n, double *auc, ml4t_error_t *err)
{
    *auc = NAN;
    ml4t_err_t rc = s_check(p, y, n, err);
    if (rc)
        return rc;
    s_scored_t *s = s_sorted(p, y, n);
    if (!s)
        return ml4t_error_set(err, ML4T_ENOMEM, "n", "no memory to sort %zu scores", n);
    size_t n_pos = 0;
    for (size_t i = 0; i < n; i++)
        n_pos += (size_t)y[i];
    *auc = s_auc_sorted(s, n, n_pos);
    free(s);
    return ML4T_OK;
}

static void s_clear(ml4t_metrics_t *m)
{
    memset(m, 0, sizeof *m);
    m->base_rate = m->accuracy = m->precision = m->recall = NAN;
    m->auc = m->log_loss = m->brier = NAN;
}

ml4t_err_t ml4t_metrics_compute(const double *p, const int *y, size_t n, ml4t_metrics_t *out,
                                ml4t_error_t *err)
{
    s_clear(out);
    ml4t_err_t rc = ml4t_metrics_auc(p, y, n, &out->auc, err);
    if (rc)
        return rc;
    double ll = 0.0, brier = 0.0;
    for (size_t i = 0; i < n; i++) {
        int pred = p[i] >= ML4T_METRICS_THRESHOLD;
        out->tp += (size_t)(pred && y[i]);
        out->fp += (size_t)(pred && !y[i]);
        out->tn += (size_t)(!pred && !y[i]);
        out->fn += (size_t)(!pred && y[i]);
        double q = fmin(fmax(p[i], ML4T_METRICS_EPS), 1.0 - ML4T_METRICS_EPS);
        ll -= y[i] ? log(q) : log1p(-q);
        brier += (p[i] - y[i]) * (p[i] - y[i]);
    }
    out->n = n;
    out->n_pos = out->tp + out->fn;
    out->n_pred_pos = out->tp + out->fp;
    out->base_rate = (double)out->n_pos / (double)n;
    out->accuracy = (double)(out->tp + out->tn) / (double)n;
    out->precision = out->n_pred_pos ? (double)out->tp / (double)out->n_pred_pos : NAN;
    out->recall = out->n_pos ? (double)out->tp / (double)out->n_pos : NAN;
    out->log_loss = ll / (double)n;
    out->brier = brier / (double)n;
    return ML4T_OK;
}

/* Full curve into pts (room for n + 1); returns the point count. s is ascending. */
static size_t s_roc_full(const s_scored_t *s, size_t n, size_t n_pos, ml4t_roc_point_t *pts)
{
    double P = (double)n_pos, N = (double)(n - n_pos);
    size_t k = 0, tp = 0, fp = 0;
    pts[k++] = (ml4t_roc_point_t){INFINITY, 0.0, 0.0};
    for (size_t j = n; j > 0;) {
        double thr = s[j - 1].p;
        while (j > 0 && s[j - 1].p == thr) {
            tp += (size_t)s[j - 1].y;
            fp += (size_t)!s[j - 1].y;
            j--;
        }
        pts[k++] = (ml4t_roc_point_t){thr, (double)fp / N, (double)tp / P};
    }
    return k;
}

ml4t_err_t ml4t_metrics_roc(const double *p, const int *y, size_t n, ml4t_roc_point_t *points,
                            size_t max_points, size_t *n_points, ml4t_error_t *err)
{
    *n_points = 0;
    if (max_points < 2)
        return ml4t_error_set(err, ML4T_EINVAL, "max_points",
                              "need room for at least 2 points, got %zu", max_points);
    ml4t_err_t rc = s_check(p, y, n, err);
    if (rc)
        return rc;
    size_t n_pos = 0;
    for (size_t i = 0; i < n; i++)
        n_pos += (size_t)y[i];
    if (n_pos == 0 || n_pos == n)
        return ml4t_error_set(err, ML4T_ENODATA, "y",
                              "a ROC curve needs both classes; %zu of %zu "
                              "labels are 1",
                              n_pos, n);
    s_scored_t *s = s_sorted(p, y, n);
    ml4t_roc_point_t *full = malloc((n + 1) * sizeof *full);
    if (!s || !full) {
        free(s);
        free(full);
        return ml4t_error_set(err, ML4T_ENOMEM, "n", "no memory for a ROC curve of %zu scores", n);
    }
    size_t total = s_roc_full(s, n, n_pos, full);
    if (total <= max_points) {
        memcpy(points, full, total * sizeof *full);
        *n_points = total;
    } else {
        for (size_t j = 0; j < max_points; j++) {
            size_t at = (size_t)((double)j * (double)(total - 1) / (double)(max_points - 1) + 0.5);
            points[j] = full[at];
        }
        *n_points = max_points;
    }
    free(full);
    free(s);
    return ML4T_OK;
}

ml4t_err_t ml4t_metrics_calibration(const double *p, const int *y, size_t n, size_t n_bins,
                                    ml4t_calib_bin_t *bins, ml4t_error_t *err)
{
    if (n_bins == 0)
        return ml4t_error_set(err, ML4T_EINVAL, "n_bins", "need at least one bin");
    ml4t_err_t rc = s_check(p, y, n, err);
    if (rc)
        return rc;
    double *sum_p = calloc(n_bins, sizeof *sum_p), *sum_y = calloc(n_bins, sizeof *sum_y);
    if (!sum_p || !sum_y) {
        free(sum_p);
        free(sum_y);
        return ml4t_error_set(err, ML4T_ENOMEM, "n_bins", "no memory for %zu bins", n_bins);
    }
    for (size_t b = 0; b < n_bins; b++)
        bins[b] = (ml4t_calib_bin_t){(double)b / (double)n_bins, (double)(b + 1) / (double)n_bins,
                                     0, NAN, NAN};
    for (size_t i = 0; i < n; i++) {
        size_t b = (size_t)(p[i] * (double)n_bins);
        if (b >= n_bins) /* p == 1 belongs to the last, closed bin */
            b = n_bins - 1;
        bins[b].count++;
        sum_p[b] += p[i];
        sum_y[b] += y[i];
    }
    for (size_t b = 0; b < n_bins; b++) {
        if (bins[b].count) {
            bins[b].mean_pred = sum_p[b] / (double)bins[b].count;
            bins[b].frac_pos = sum_y[b] / (double)bins[b].count;
        }
    }
    free(sum_p);
    free(sum_y);
    return ML4T_OK;
}
