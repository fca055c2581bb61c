/*  ml4t_metrics tests: hand-computed answers and independent references. */
#include "ml4t/metrics.h"

#include <stdint.h>

#include "testutil.h"

/* p = {0.1, 0.4, 0.35, 0.8}, y = {0, 0, 1, 1}: positives win 3 of 4 pairs. */
static const double s_p4[4] = {0.1, 0.4, 0.35, 0.8};
static const int s_y4[4] = {0, 0, 1, 1};

static void t_hand_computed(void)
{
    ml4t_metrics_t m;
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_metrics_compute(s_p4, s_y4, 4, &m, &err), ML4T_OK);
    CHECK_EQ_INT(m.n, 4);
    CHECK_EQ_INT(m.n_pos, 2);
    CHECK_NEAR(m.auc, 0.75, 1e-15);
    CHECK_NEAR(m.base_rate, 0.5, 0);
    /* predictions 0,0,0,1: three right */
    CHECK_NEAR(m.accuracy, 0.75, 0);
    CHECK_EQ_INT(m.tp, 1);
    CHECK_EQ_INT(m.fp, 0);
    CHECK_EQ_INT(m.tn, 2);
    CHECK_EQ_INT(m.fn, 1);
    CHECK_EQ_INT(m.n_pred_pos, 1);
    CHECK_NEAR(m.precision, 1.0, 0);
    CHECK_NEAR(m.recall, 0.5, 0);
    /* -(ln .9 + ln .6 + ln .35 + ln .8) / 4 */
    CHECK_NEAR(m.log_loss, 0.47228795380917615, 1e-12);
    /* (.01 + .16 + .4225 + .04) / 4 */
    CHECK_NEAR(m.brier, 0.158125, 1e-15);
}

static void t_auc_ties_average_ranks(void)
{
    double auc;
    /* the 0.6 positive ties the 0.6 negative: counts one half -> (1 + .5 + 1 + 1) / 4 */
    const double p[4] = {0.2, 0.6, 0.6, 0.9};
    const int y[4] = {0, 0, 1, 1};
    CHECK_EQ_INT(ml4t_metrics_auc(p, y, 4, &auc, NULL), ML4T_OK);
    CHECK_NEAR(auc, 0.875, 1e-15);
    const double flat[4] = {0.5, 0.5, 0.5, 0.5};
    const int y2[4] = {0, 1, 0, 1};
    CHECK_EQ_INT(ml4t_metrics_auc(flat, y2, 4, &auc, NULL), ML4T_OK);
    CHECK_NEAR(auc, 0.5, 1e-15);
    /* perfectly reversed scores */
    const double rev[4] = {0.9, 0.8, 0.2, 0.1};
    CHECK_EQ_INT(ml4t_metrics_auc(rev, y, 4, &auc, NULL), ML4T_OK);
    CHECK_NEAR(auc, 0.0, 0);
}

static uint64_t s_rng = 88172645463325252ull;
static double s_uniform(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return (double)(s_rng >> 11) / 9007199254740992.0;
}

/* Brute force over every positive/negative pair: an independent definition. */
static double s_auc_pairs(const double *p, const int *y, size_t n)
{
    double wins = 0, pairs = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (y[i] == 1 && y[j] == 0) {
                wins += p[i] > p[j] ? 1.0 : p[i] == p[j] ? 0.5 : 0.0;
                pairs += 1;
            }
    return wins / pairs;
}

static void t_auc_matches_pair_count_and_roc_area(void)
{
    enum { N = 600 };
    static double p[N];
    static int y[N];
    for (size_t i = 0; i < N; i++) {
        /* two decimals: many ties; labels correlated with p */
        p[i] = floor(s_uniform() * 100.0) / 100.0;
        y[i] = s_uniform() < 0.3 + 0.4 * p[i];
    }
    double auc;
    CHECK_EQ_INT(ml4t_metrics_auc(p, y, N, &auc, NULL), ML4T_OK);
    CHECK_NEAR(auc, s_auc_pairs(p, y, N), 1e-12);
    static ml4t_roc_point_t roc[N + 1];
    size_t k;
    CHECK_EQ_INT(ml4t_metrics_roc(p, y, N, roc, N + 1, &k, NULL), ML4T_OK);
    CHECK(k <= 101); /* 100 distinct scores at most, plus the origin */
    double area = 0;
    for (size_t i = 1; i < k; i++) {
        CHECK(roc[i].fpr >= roc[i - 1].fpr && roc[i].tpr >= roc[i - 1].tpr);
        CHECK(roc[i].threshold < roc[i - 1].threshold);
        area += (roc[i].fpr - roc[i - 1].fpr) * (roc[i].tpr + roc[i - 1].tpr) / 2.0;
    }
    /* the trapezoids under the tie-aware curve are exactly the rank AUC */
    CHECK_NEAR(area, auc, 1e-12);
    CHECK_NEAR(roc[k - 1].fpr, 1.0, 0);
    CHECK_NEAR(roc[k - 1].tpr, 1.0, 0);
}

static void t_roc_points_and_thinning(void)
{
    ml4t_roc_point_t roc[5];
    size_t k;
    CHECK_EQ_INT(ml4t_metrics_roc(s_p4, s_y4, 4, roc, 5, &k, NULL), ML4T_OK);
    CHECK_EQ_INT(k, 5);
    const double fpr[5] = {0, 0, 0.5, 0.5, 1}, tpr[5] = {0, 0.5, 0.5, 1, 1};
    const double thr[5] = {INFINITY, 0.8, 0.4, 0.35, 0.1};
    for (size_t i = 0; i < 5; i++) {
        CHECK_NEAR(roc[i].fpr, fpr[i], 0);
        CHECK_NEAR(roc[i].tpr, tpr[i], 0);
        CHECK(roc[i].threshold == thr[i]);
    }
    CHECK_EQ_INT(ml4t_metrics_roc(s_p4, s_y4, 4, roc, 3, &k, NULL), ML4T_OK);
    CHECK_EQ_INT(k, 3);
    CHECK_NEAR(roc[0].fpr, 0, 0);
    CHECK_NEAR(roc[1].fpr, 0.5, 0);
    CHECK_NEAR(roc[1].tpr, 0.5, 0);
    CHECK_NEAR(roc[2].tpr, 1, 0);
    ml4t_error_t err;
    const int ones[4] = {1, 1, 1, 1};
    CHECK_EQ_INT(ml4t_metrics_roc(s_p4, ones, 4, roc, 5, &k, &err), ML4T_ENODATA);
    CHECK_STR(err.field, "y");
    CHECK_EQ_INT(ml4t_metrics_roc(s_p4, s_y4, 4, roc, 1, &k, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "max_points");
}

static void t_threshold_clipping_and_undefined(void)
{
    ml4t_metrics_t m;
    /* p == 0.5 predicts 1; p == 0 for a positive costs -ln(1e-15) */
    const double p[2] = {0.5, 0.0};
    const int y[2] = {0, 1};
    CHECK_EQ_INT(ml4t_metrics_compute(p, y, 2, &m, NULL), ML4T_OK);
    CHECK_EQ_INT(m.fp, 1);
    CHECK_EQ_INT(m.fn, 1);
    CHECK_NEAR(m.accuracy, 0.0, 0);
    CHECK_NEAR(m.log_loss, (-log(0.5) - log(1e-15)) / 2.0, 1e-9);
    CHECK(isfinite(m.log_loss));
    const double low[3] = {0.1, 0.2, 0.3};
    const int y3[3] = {0, 0, 0};
    CHECK_EQ_INT(ml4t_metrics_compute(low, y3, 3, &m, NULL), ML4T_OK);
    CHECK(isnan(m.precision)); /* nothing kept */
    CHECK(isnan(m.recall));    /* no positive */
    CHECK(isnan(m.auc));       /* one class */
    CHECK_NEAR(m.accuracy, 1.0, 0);
    CHECK_NEAR(m.base_rate, 0.0, 0);
}

static void t_errors_name_the_field(void)
{
    ml4t_metrics_t m;
    ml4t_error_t err;
    const double p[3] = {0.1, 0.2, 0.3};
    const int y[3] = {0, 2, 1};
    CHECK_EQ_INT(ml4t_metrics_compute(p, y, 3, &m, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "y[1]");
    CHECK(isnan(m.auc));
    const double bad[2] = {0.2, 1.5};
    CHECK_EQ_INT(ml4t_metrics_compute(bad, s_y4, 2, &m, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "p[1]");
    const double nan_p[1] = {NAN};
    CHECK_EQ_INT(ml4t_metrics_compute(nan_p, s_y4, 1, &m, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "p[0]");
    CHECK_EQ_INT(ml4t_metrics_compute(p, y, 0, &m, &err), ML4T_ENODATA);
    CHECK_STR(err.field, "n");
    CHECK_EQ_INT(ml4t_metrics_compute(NULL, y, 3, &m, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "p");
}

static void t_calibration_bins(void)
{
    const double p[5] = {0.05, 0.15, 0.12, 0.95, 1.0};
    const int y[5] = {0, 1, 0, 1, 1};
    ml4t_calib_bin_t b[10];
    CHECK_EQ_INT(ml4t_metrics_calibration(p, y, 5, 10, b, NULL), ML4T_OK);
    CHECK_EQ_INT(b[0].count, 1);
    CHECK_NEAR(b[0].mean_pred, 0.05, 1e-15);
    CHECK_NEAR(b[0].frac_pos, 0.0, 0);
    CHECK_EQ_INT(b[1].count, 2);
    CHECK_NEAR(b[1].mean_pred, 0.135, 1e-15);
    CHECK_NEAR(b[1].frac_pos, 0.5, 0);
    CHECK_EQ_INT(b[9].count, 2); /* 1.0 falls in the last, closed bin */
    CHECK_NEAR(b[9].mean_pred, 0.975, 1e-15);
    CHECK_NEAR(b[9].frac_pos, 1.0, 0);
    CHECK_EQ_INT(b[5].count, 0);
    CHECK(isnan(b[5].mean_pred));
    CHECK_NEAR(b[3].lo, 0.3, 1e-15);
    CHECK_NEAR(b[3].hi, 0.4, 1e-15);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_metrics_calibration(p, y, 5, 0, b, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "n_bins");
}

static const t_case_t cases[] = {
    T_CASE(t_hand_computed),
    T_CASE(t_auc_ties_average_ranks),
    T_CASE(t_auc_matches_pair_count_and_roc_area),
    T_CASE(t_roc_points_and_thinning),
    T_CASE(t_threshold_clipping_and_undefined),
    T_CASE(t_errors_name_the_field),
    T_CASE(t_calibration_bins),
};
T_MAIN(cases)
