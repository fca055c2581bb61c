/*  ml4t_report: a training run as report.json, report.html and a text table. */
#include "ml4t/report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- json */

static void s_iso8601(uint64_t ts_ns, char *buf, size_t size)
{
    time_t secs = (time_t)(ts_ns / 1000000000ull);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(buf, size, "?");
        return;
    }
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* NaN and infinities have no JSON spelling: null. */
static void s_num(cJSON *obj, const char *name, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(obj, name, v);
    else
        cJSON_AddNullToObject(obj, name);
}

static void s_ts(cJSON *obj, const char *name, uint64_t ts)
{
    char buf[40];
    s_iso8601(ts, buf, sizeof buf);
    cJSON_AddStringToObject(obj, name, buf);
}

static cJSON *s_metrics_json(const ml4t_metrics_t *m)
{
    cJSON *o = cJSON_CreateObject();
    s_num(o, "n", (double)m->n);
    s_num(o, "n_positive", (double)m->n_pos);
    s_num(o, "n_kept", (double)m->n_pred_pos);
    s_num(o, "base_rate", m->base_rate);
    s_num(o, "accuracy", m->accuracy);
    s_num(o, "auc", m->auc);
    s_num(o, "precision", m->precision);
    s_num(o, "recall", m->recall);
    s_num(o, "log_loss", m->log_loss);
    s_num(o, "brier", m->brier);
    s_num(o, "precision_primary", m->base_rate);
    s_num(o, "precision_filtered", m->precision);
    s_num(o, "tp", (double)m->tp);
    s_num(o, "fp", (double)m->fp);
    s_num(o, "tn", (double)m->tn);
    s_num(o, "fn", (double)m->fn);
    return o;
}

static cJSON *s_config_json(const ml4t_train_config_t *c, bool default_primary)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *l = cJSON_AddObjectToObject(o, "labels");
    s_num(l, "pt_multiplier", c->pt_multiplier);
    s_num(l, "sl_multiplier", c->sl_multiplier);
    s_num(l, "max_holding_bars", (double)c->max_holding_bars);
    s_num(l, "atr_period", (double)c->atr_period);
    cJSON *p = cJSON_AddObjectToObject(o, "primary");
    cJSON_AddStringToObject(p, "source", default_primary ? "ema_crossover" : "given");
    if (default_primary) {
        s_num(p, "ema_fast", (double)c->ema_fast);
        s_num(p, "ema_slow", (double)c->ema_slow);
        cJSON_AddStringToObject(p, "mode", ml4t_primary_mode_name(c->primary_mode));
    }
    cJSON *f = cJSON_AddObjectToObject(o, "folds");
    cJSON_AddStringToObject(f, "scheme", ml4t_folds_scheme_name(c->folds.scheme));
    s_num(f, "n_folds", (double)c->folds.n_folds);
    s_num(f, "embargo_bars", (double)c->folds.embargo_bars);
    s_num(f, "train_window", (double)c->folds.train_window);
    cJSON *m = cJSON_AddObjectToObject(o, "model");
    s_num(m, "n_trees", c->model.n_trees);
    s_num(m, "max_depth", c->model.max_depth);
    s_num(m, "learning_rate", c->model.learning_rate);
    s_num(m, "subsample", c->model.subsample);
    s_num(m, "colsample", c->model.colsample);
    s_num(m, "min_child_weight", c->model.min_child_weight);
    cJSON_AddBoolToObject(m, "balance_classes", c->model.balance_classes);
    s_num(m, "nthread", c->model.nthread);
    s_num(m, "seed", (double)c->model.seed);
    cJSON_AddBoolToObject(o, "shuffle_labels", c->shuffle_labels);
    return o;
}

static cJSON *s_folds_json(const ml4t_train_result_t *res)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t k = 0; k < res->n_folds; k++) {
        const ml4t_train_fold_result_t *fr = &res->folds[k];
        cJSON *o = cJSON_CreateObject();
        s_num(o, "fold", (double)(k + 1));
        s_num(o, "test_begin", (double)fr->fold.test_begin);
        s_num(o, "test_end", (double)fr->fold.test_end);
        s_num(o, "test_first_bar", (double)fr->fold.test_first_bar);
        s_num(o, "test_last_bar", (double)fr->fold.test_last_bar);
        s_ts(o, "ts_test_first", fr->ts_test_first);
        s_ts(o, "ts_test_last", fr->ts_test_last);
        s_num(o, "n_train", (double)fr->fold.n_train);
        s_num(o, "n_test", (double)(fr->fold.test_end - fr->fold.test_begin));
        s_num(o, "n_purged", (double)fr->fold.n_purged);
        s_num(o, "n_embargoed", (double)fr->fold.n_embargoed);
        cJSON_AddItemToObject(o, "metrics", s_metrics_json(&fr->metrics));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *s_curves_json(const ml4t_train_result_t *res, cJSON *root)
{
    cJSON *roc = cJSON_AddArrayToObject(root, "roc");
    for (size_t i = 0; i < res->n_roc; i++) {
        cJSON *o = cJSON_CreateObject();
        s_num(o, "fpr", res->roc[i].fpr);
        s_num(o, "tpr", res->roc[i].tpr);
        s_num(o, "threshold", res->roc[i].threshold);
        cJSON_AddItemToArray(roc, o);
    }
    cJSON *cal = cJSON_AddArrayToObject(root, "calibration");
    for (size_t b = 0; b < (res->overall.n ? ML4T_TRAIN_CALIB_BINS : 0); b++) {
        cJSON *o = cJSON_CreateObject();
        s_num(o, "lo", res->calib[b].lo);
        s_num(o, "hi", res->calib[b].hi);
        s_num(o, "count", (double)res->calib[b].count);
        s_num(o, "mean_pred", res->calib[b].mean_pred);
        s_num(o, "frac_pos", res->calib[b].frac_pos);
        cJSON_AddItemToArray(cal, o);
    }
    cJSON *imp = cJSON_AddArrayToObject(root, "feature_importance");
    for (size_t i = 0; i < res->n_features; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "feature", res->feature_names[i]);
        s_num(o, "gain", res->importance_gain[i]);
        cJSON_AddItemToArray(imp, o);
    }
    return root;
}

static cJSON *s_report_json(const ml4t_train_result_t *res, const ml4t_report_info_t *info)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "ml4t.train.report/1");
    if (info && info->title)
        cJSON_AddStringToObject(root, "title", info->title);
    if (info && info->sources)
        cJSON_AddStringToObject(root, "sources", info->sources);
    if (info && info->model)
        cJSON_AddStringToObject(root, "model", info->model);
    cJSON *d = cJSON_AddObjectToObject(root, "data");
    s_num(d, "bars", (double)res->n_bars);
    s_ts(d, "ts_first", res->ts_first);
    s_ts(d, "ts_last", res->ts_last);
    s_num(d, "signals", (double)res->n_signals);
    s_num(d, "unresolved", (double)res->n_unresolved);
    s_num(d, "samples", (double)res->n_samples);
    s_num(d, "long", (double)res->n_long);
    s_num(d, "short", (double)res->n_short);
    cJSON_AddItemToObject(root, "config", s_config_json(&res->config, res->default_primary));
    cJSON *ov = s_metrics_json(&res->overall);
    s_num(ov, "kept_share", ml4t_train_result_kept_share(res));
    cJSON_AddItemToObject(root, "overall", ov);
    cJSON_AddBoolToObject(root, "meets_minimum_accuracy_0_55",
                          ml4t_train_result_meets_minimum_accuracy(res, 0.55));
    cJSON_AddItemToObject(root, "folds", s_folds_json(res));
    cJSON_AddItemToObject(root, "in_sample", s_metrics_json(&res->in_sample));
    s_curves_json(res, root);
    cJSON *t = cJSON_AddObjectToObject(root, "seconds");
    s_num(t, "features", res->seconds_features);
    s_num(t, "folds", res->seconds_folds);
    s_num(t, "final", res->seconds_final);
    s_num(t, "total", res->seconds_total);
    return root;
}

char *ml4t_report_json(const ml4t_train_result_t *res, const ml4t_report_info_t *info,
                       ml4t_error_t *err)
{
    cJSON *root = s_report_json(res, info);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        ml4t_error_set(err, ML4T_ENOMEM, "report", "no memory to build the JSON report");
    return text;
}

static ml4t_err_t s_close(FILE *f, const char *path, ml4t_error_t *err)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return ml4t_error_set(err, ML4T_EIO, path, "could not write %s: %s", path, strerror(errno));
    return ML4T_OK;
}

ml4t_err_t ml4t_report_write_json(const ml4t_train_result_t *res, const ml4t_report_info_t *info,
                                  const char *path, ml4t_error_t *err)
{
    char *text = ml4t_report_json(res, info, err);
    if (!text)
        return ML4T_ENOMEM;
    FILE *f = fopen(path, "w");
    if (!f) {
        free(text);
        return ml4t_error_set(err, ML4T_EIO, path, "cannot create %s: %s", path, strerror(errno));
    }
    fputs(text, f);
    fputc('\n', f);
    free(text);
    return s_close(f, path, err);
}

ml4t_err_t ml4t_report_write_html(const ml4t_train_result_t *res, const ml4t_report_info_t *info,
                                  const char *path, ml4t_error_t *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return ml4t_error_set(err, ML4T_EIO, path, "cannot create %s: %s", path, strerror(errno));
    ml4t_report_html(res, info, f);
    return s_close(f, path, err);
}

/* ---------------------------------------------------------------- table */

static void s_cell(FILE *out, double v, int width)
{
    if (isfinite(v))
        fprintf(out, " %*.4f", width, v);
    else
        fprintf(out, " %*s", width, "-");
}

static void s_table_row(FILE *out, const char *name, size_t n_train, const ml4t_metrics_t *m)
{
    if (n_train == SIZE_MAX) /* the pooled row has no training set of its own */
        fprintf(out, "%-7s %8s %7zu", name, "-", m->n);
    else
        fprintf(out, "%-7s %8zu %7zu", name, n_train, m->n);
    s_cell(out, m->base_rate, 7);
    s_cell(out, m->accuracy, 7);
    s_cell(out, m->auc, 7);
    s_cell(out, m->precision, 7);
    s_cell(out, m->recall, 7);
    s_cell(out, m->log_loss, 7);
    s_cell(out, m->brier, 7);
    fprintf(out, " %6zu\n", m->n_pred_pos);
}

void ml4t_report_print_table(const ml4t_train_result_t *res, FILE *out)
{
    fprintf(out, "%-7s %8s %7s %7s %7s %7s %7s %7s %7s %7s %6s\n", "fold", "train", "test", "base",
            "acc", "auc", "prec", "recall", "logloss", "brier", "kept");
    for (size_t k = 0; k < res->n_folds; k++) {
        char name[48];
        snprintf(name, sizeof name, "%zu/%zu", k + 1, res->n_folds);
        s_table_row(out, name, res->folds[k].fold.n_train, &res->folds[k].metrics);
    }
    s_table_row(out, "all", SIZE_MAX, &res->overall);
    fprintf(out, "precision of primary signals: %.4f (%zu signals)\n", res->overall.base_rate,
            res->overall.n);
    fprintf(out, "precision after filtering:    ");
    if (isfinite(res->overall.precision))
        fprintf(out, "%.4f (%zu kept, %.1f%%)\n", res->overall.precision, res->overall.n_pred_pos,
                100.0 * ml4t_train_result_kept_share(res));
    else
        fprintf(out, "- (no signal kept)\n");
}

/* ---------------------------------------------------------------- html */

#define S_W  440.0 /* every plot's SVG size and margins, in px */
#define S_H  320.0
#define S_ML 52.0
#define S_MR 16.0
#define S_MT 34.0
#define S_MB 44.0

static const char *s_blue = "#4c78a8", *s_orange = "#f58518";

static void s_esc(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static double s_px(double v, double lo, double hi)
{
    return S_ML + (v - lo) / (hi - lo) * (S_W - S_ML - S_MR);
}

static double s_py(double v, double lo, double hi)
{
    return S_H - S_MB - (v - lo) / (hi - lo) * (S_H - S_MT - S_MB);
}

static void s_svg_open(FILE *out, const char *title, const char *xlabel, const char *ylabel)
{
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
            "<text x=\"%.0f\" y=\"20\" class=\"title\">",
            S_W, S_H, S_W, S_H, S_W / 2);
    s_esc(out, title);
    fprintf(out, "</text>\n<text x=\"%.0f\" y=\"%.0f\" class=\"axis\">", (S_W + S_ML) / 2, S_H - 8);
    s_esc(out, xlabel);
    fprintf(out, "</text>\n<text transform=\"translate(14 %.0f) rotate(-90)\" class=\"axis\">",
            (S_H - S_MB + S_MT) / 2);
    s_esc(out, ylabel);
    fputs("</text>\n", out);
}

/* Frame, grid and tick labels of [xlo, xhi] x [ylo, yhi]; xticks 0 draws none. */
static void s_axes(FILE *out, double xlo, double xhi, int xticks, double ylo, double yhi,
                   int yticks)
{
    for (int i = 0; i <= yticks; i++) {
        double v = ylo + (yhi - ylo) * i / yticks, y = s_py(v, ylo, yhi);
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" class=\"tick l\">%.2f</text>\n",
                S_ML, y, S_W - S_MR, y, S_ML - 5, y + 4, v);
    }
    for (int i = 0; xticks && i <= xticks; i++) {
        double v = xlo + (xhi - xlo) * i / xticks, x = s_px(v, xlo, xhi);
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\">%.1f</text>\n",
                x, S_MT, x, S_H - S_MB, x, S_H - S_MB + 16, v);
    }
    fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>\n",
            S_ML, S_MT, S_W - S_ML - S_MR, S_H - S_MT - S_MB);
}

static void s_diagonal(FILE *out)
{
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"ref\"/>\n",
            s_px(0, 0, 1), s_py(0, 0, 1), s_px(1, 0, 1), s_py(1, 0, 1));
}

static void s_plot_roc(const ml4t_train_result_t *res, FILE *out)
{
    char title[80];
    snprintf(title, sizeof title, "ROC curve, out of sample (AUC %.3f)", res->overall.auc);
    s_svg_open(out, title, "false positive rate", "true positive rate");
    s_axes(out, 0, 1, 5, 0, 1, 5);
    s_diagonal(out);
    fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", s_blue);
    for (size_t i = 0; i < res->n_roc; i++)
        fprintf(out, "%.1f,%.1f ", s_px(res->roc[i].fpr, 0, 1), s_py(res->roc[i].tpr, 0, 1));
    fputs("\"/>\n</svg>\n", out);
}

static void s_plot_calibration(const ml4t_train_result_t *res, FILE *out)
{
    s_svg_open(out, "Calibration (out of sample)", "mean predicted probability",
               "observed share of good signals");
    s_axes(out, 0, 1, 5, 0, 1, 5);
    s_diagonal(out);
    size_t max = 1;
    for (size_t b = 0; b < ML4T_TRAIN_CALIB_BINS; b++)
        if (res->calib[b].count > max)
            max = res->calib[b].count;
    /* light bars along the bottom: how many predictions fell in each bin */
    for (size_t b = 0; b < ML4T_TRAIN_CALIB_BINS; b++) {
        const ml4t_calib_bin_t *c = &res->calib[b];
        double h = 0.25 * (double)c->count / (double)max;
        fprintf(out,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"hist\">"
                "<title>[%.1f, %.1f): %zu predictions</title></rect>\n",
                s_px(c->lo, 0, 1) + 1, s_py(h, 0, 1), s_px(c->hi, 0, 1) - s_px(c->lo, 0, 1) - 2,
                s_py(0, 0, 1) - s_py(h, 0, 1), c->lo, c->hi, c->count);
    }
    fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", s_blue);
    for (size_t b = 0; b < ML4T_TRAIN_CALIB_BINS; b++)
        if (res->calib[b].count)
            fprintf(out, "%.1f,%.1f ", s_px(res->calib[b].mean_pred, 0, 1),
                    s_py(res->calib[b].frac_pos, 0, 1));
    fputs("\"/>\n", out);
    for (size_t b = 0; b < ML4T_TRAIN_CALIB_BINS; b++) {
        const ml4t_calib_bin_t *c = &res->calib[b];
        if (!c->count)
            continue;
        fprintf(out,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"><title>predicted %.3f, "
                "observed %.3f, %zu signals</title></circle>\n",
                s_px(c->mean_pred, 0, 1), s_py(c->frac_pos, 0, 1),
                2.5 + 5.0 * sqrt((double)c->count / (double)max), s_blue, c->mean_pred, c->frac_pos,
                c->count);
    }
    fputs("</svg>\n", out);
}

/* Grouped bars, two series per group: one per fold, then "all". */
typedef struct {
    const char *title, *ylabel, *series[2];
    double (*value)(const ml4t_metrics_t *m, int series);
    double ref; /* dashed reference line; NaN for none */
} s_bars_t;

static double s_auc_acc(const ml4t_metrics_t *m, int s)
{
    return s == 0 ? m->auc : m->accuracy;
}

static double s_prec(const ml4t_metrics_t *m, int s)
{
    return s == 0 ? m->base_rate : m->precision;
}

/* y range: a tenth below the smallest bar and above the largest, inside [0, 1] */
static void s_bar_range(const ml4t_train_result_t *res, const s_bars_t *spec, double *lo,
                        double *hi)
{
    double mn = isfinite(spec->ref) ? spec->ref : 1.0, mx = isfinite(spec->ref) ? spec->ref : 0.0;
    for (size_t g = 0; g <= res->n_folds; g++) {
        const ml4t_metrics_t *m = g < res->n_folds ? &res->folds[g].metrics : &res->overall;
        for (int s = 0; s < 2; s++) {
            double v = spec->value(m, s);
            if (isfinite(v)) {
                mn = fmin(mn, v);
                mx = fmax(mx, v);
            }
        }
    }
    *lo = fmax(0.0, floor(mn * 10.0 - 1.0) / 10.0);
    *hi = fmin(1.0, ceil(mx * 10.0 + 1.0) / 10.0);
    if (*hi <= *lo)
        *lo = 0.0, *hi = 1.0;
}

static void s_plot_bars(const ml4t_train_result_t *res, const s_bars_t *spec, FILE *out)
{
    double lo, hi;
    s_bar_range(res, spec, &lo, &hi);
    s_svg_open(out, spec->title, "test fold", spec->ylabel);
    int ticks = (int)lround((hi - lo) * 10.0); /* a tick every 0.1 */
    s_axes(out, 0, 1, 0, lo, hi, ticks >= 2 ? ticks : 5);
    size_t groups = res->n_folds + 1;
    double gw = (S_W - S_ML - S_MR) / (double)groups, bw = gw * 0.36;
    const char *colors[2] = {s_blue, s_orange};
    for (size_t g = 0; g < groups; g++) {
        const ml4t_metrics_t *m = g < res->n_folds ? &res->folds[g].metrics : &res->overall;
        double x0 = S_ML + gw * (double)g + gw * 0.14;
        for (int s = 0; s < 2; s++) {
            double v = spec->value(m, s);
            if (!isfinite(v))
                continue;
            double y = s_py(fmax(v, lo), lo, hi);
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                    "<title>%s: %.4f</title></rect>\n",
                    x0 + bw * s, y, bw, s_py(lo, lo, hi) - y, colors[s], spec->series[s], v);
        }
        char label[24];
        snprintf(label, sizeof label, g < res->n_folds ? "%zu" : "all", g + 1);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\">%s</text>\n",
                S_ML + gw * ((double)g + 0.5), S_H - S_MB + 16, label);
    }
    if (isfinite(spec->ref))
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"ref\"/>\n",
                S_ML, s_py(spec->ref, lo, hi), S_W - S_MR, s_py(spec->ref, lo, hi));
    for (int s = 0; s < 2; s++) {
        double x = S_ML + 8 + 150.0 * s;
        fprintf(out,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">%s</text>\n",
                x, S_MT + 6, colors[s], x + 14, S_MT + 15, spec->series[s]);
    }
    fputs("</svg>\n", out);
}

static void s_plot_importance(const ml4t_train_result_t *res, FILE *out)
{
    size_t order[ML4T_FEATURES_MAX], n = res->n_features;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++) /* insertion sort, largest gain first */
        for (size_t j = i;
             j > 0 && res->importance_gain[order[j]] > res->importance_gain[order[j - 1]]; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    double max = 0.0;
    for (size_t i = 0; i < n; i++)
        max = fmax(max, res->importance_gain[i]);
    double row = 22.0, h = S_MT + row * (double)n + 12, left = 130.0, width = S_W - left - 60;
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
            "<text x=\"%.0f\" y=\"20\" class=\"title\">Feature importance (share of total "
            "gain, final model)</text>\n",
            S_W, h, S_W, h, S_W / 2);
    for (size_t r = 0; r < n; r++) {
        size_t i = order[r];
        double v = res->importance_gain[i], y = S_MT + row * (double)r;
        double w = max > 0 && isfinite(v) ? width * v / max : 0.0;
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick l\">", left - 6, y + 14);
        s_esc(out, res->feature_names[i]);
        fprintf(out,
                "</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"16\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" class=\"tick r\">%.1f%%</text>\n",
                left, y + 2, w, s_blue, left + w + 4, y + 14, isfinite(v) ? 100.0 * v : 0.0);
    }
    fputs("</svg>\n", out);
}

static void s_td(FILE *out, double v, int digits)
{
    if (isfinite(v))
        fprintf(out, "<td>%.*f</td>", digits, v);
    else
        fputs("<td>&ndash;</td>", out);
}

static void s_metrics_row(FILE *out, const char *name, const char *window, size_t n_train,
                          size_t n_purged, const ml4t_metrics_t *m)
{
    fprintf(out, "<tr><th>%s</th><td>%s</td>", name, window);
    if (n_train == SIZE_MAX) /* the pooled row */
        fputs("<td>&ndash;</td><td>&ndash;</td>", out);
    else
        fprintf(out, "<td>%zu</td><td>%zu</td>", n_train, n_purged);
    fprintf(out, "<td>%zu</td>", m->n);
    s_td(out, m->base_rate, 4);
    s_td(out, m->accuracy, 4);
    s_td(out, m->auc, 4);
    s_td(out, m->precision, 4);
    s_td(out, m->recall, 4);
    s_td(out, m->log_loss, 4);
    s_td(out, m->brier, 4);
    fprintf(out, "<td>%zu</td></tr>\n", m->n_pred_pos);
}

static void s_html_tables(const ml4t_train_result_t *res, FILE *out)
{
    fputs("<table><tr><th>fold</th><th>test window (UTC)</th><th>train</th><th>purged</th>"
          "<th>test</th><th>base rate<br>(primary precision)</th><th>accuracy</th><th>ROC "
          "AUC</th><th>precision<br>(filtered)</th><th>recall</th><th>log-loss</th>"
          "<th>Brier</th><th>kept</th></tr>\n",
          out);
    for (size_t k = 0; k < res->n_folds; k++) {
        const ml4t_train_fold_result_t *fr = &res->folds[k];
        char name[24], a[40], b[40], window[128];
        snprintf(name, sizeof name, "%zu", k + 1);
        s_iso8601(fr->ts_test_first, a, sizeof a);
        s_iso8601(fr->ts_test_last, b, sizeof b);
        snprintf(window, sizeof window, "%.10s &ndash; %.10s", a, b);
        s_metrics_row(out, name, window, fr->fold.n_train, fr->fold.n_purged, &fr->metrics);
    }
    s_metrics_row(out, "all", "every test fold", SIZE_MAX, SIZE_MAX, &res->overall);
    fputs("</table>\n", out);
}

static void s_html_summary(const ml4t_train_result_t *res, const ml4t_report_info_t *info,
                           FILE *out)
{
    char a[40], b[40];
    s_iso8601(res->ts_first, a, sizeof a);
    s_iso8601(res->ts_last, b, sizeof b);
    const ml4t_train_config_t *c = &res->config;
    fprintf(out,
            "<p class=\"lead\">Out of sample, the primary signals were right %.1f%% of the "
            "time; the ones the meta-model keeps (p &ge; 0.5, %.1f%% of them) were right ",
            100.0 * res->overall.base_rate, 100.0 * ml4t_train_result_kept_share(res));
    if (isfinite(res->overall.precision))
        fprintf(out, "%.1f%% of the time.", 100.0 * res->overall.precision);
    else
        fputs("&ndash; (none kept).", out);
    fprintf(out, " ROC AUC %.3f, accuracy %.3f.</p>\n<ul>\n", res->overall.auc,
            res->overall.accuracy);
    if (info && info->sources) {
        fputs("<li>bars from ", out);
        s_esc(out, info->sources);
        fputs("</li>\n", out);
    }
    fprintf(out,
            "<li>%zu bars, %s to %s; %zu primary signals (%s), %zu resolved into samples "
            "(%zu long, %zu short)</li>\n",
            res->n_bars, a, b, res->n_signals, res->default_primary ? "EMA crossover" : "given",
            res->n_samples, res->n_long, res->n_short);
    fprintf(out,
            "<li>labels: triple barrier, profit-take %g ATR, stop-loss %g ATR, at most %zu "
            "bars, ATR(%zu)</li>\n",
            c->pt_multiplier, c->sl_multiplier, c->max_holding_bars, c->atr_period);
    fprintf(out,
            "<li>folds: %s walk-forward, %zu test folds, embargo %zu bars, purged by label "
            "horizon</li>\n",
            ml4t_folds_scheme_name(c->folds.scheme), c->folds.n_folds, c->folds.embargo_bars);
    fprintf(out, "<li>model: gradient-boosted trees, %d trees, depth %d, learning rate %g%s</li>\n",
            c->model.n_trees, c->model.max_depth, c->model.learning_rate,
            c->shuffle_labels ? " &mdash; <b>meta-labels shuffled (leakage control)</b>" : "");
    if (info && info->model) {
        fputs("<li>final model: ", out);
        s_esc(out, info->model);
        fputs("</li>\n", out);
    }
    fputs("</ul>\n", out);
}

static const char *s_css =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;"
    "max-width:960px;color:#222;padding:0 12px}h1{font-size:1.5em}.lead{font-size:1.1em}"
    "table{border-collapse:collapse;font-size:.85em;margin:12px 0}"
    "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:right}"
    "th{background:#f4f4f4}.plots{display:flex;flex-wrap:wrap;gap:12px}"
    ".plot{border:1px solid #e4e4e4;background:#fff}.plot text{font-size:11px;fill:#333}"
    ".plot .title{font-size:13px;text-anchor:middle;font-weight:600}"
    ".plot .axis{font-size:11px;text-anchor:middle}.plot .tick{text-anchor:middle}"
    ".grid{stroke:#eee}.frame{fill:none;stroke:#999}.ref{stroke:#888;stroke-dasharray:4 3}"
    ".hist{fill:#c9d6e8}.plot .l{text-anchor:end}.plot .r{text-anchor:start}";

void ml4t_report_html(const ml4t_train_result_t *res, const ml4t_report_info_t *info, FILE *out)
{
    const char *title = info && info->title ? info->title : "ml4t training report";
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", out);
    s_esc(out, title);
    fprintf(out, "</title>\n<style>%s</style></head><body>\n<h1>", s_css);
    s_esc(out, title);
    fputs("</h1>\n", out);
    s_html_summary(res, info, out);
    s_html_tables(res, out);
    fputs("<div class=\"plots\">\n", out);
    if (res->n_roc)
        s_plot_roc(res, out);
    const s_bars_t auc = {
        "ROC AUC and accuracy per test fold", "score", {"ROC AUC", "accuracy"}, s_auc_acc, 0.5};
    s_plot_bars(res, &auc, out);
    const s_bars_t prec = {"Precision: all primary signals vs kept",
                           "share of good signals",
                           {"primary alone", "after filtering"},
                           s_prec,
                           NAN};
    s_plot_bars(res, &prec, out);
    if (res->overall.n)
        s_plot_calibration(res, out);
    if (res->n_features)
        s_plot_importance(res, out);
    fputs("</div>\n<p>Every figure is out of sample: each test fold was predicted once by a "
          "model trained only on earlier samples whose label horizons end before the fold "
          "begins. The final model is fitted on every sample.</p>\n</body></html>\n",
          out);
}
