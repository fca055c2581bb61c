/*  ml4t_report: a training run as report.json, report.html and a text table.

    report.json holds every figure of an ml4t_train_result_t (schema
    "ml4t.train.report/1"; NaN is written as null, timestamps as ISO-8601 UTC
    strings). report.html is one self-contained page: the metrics tables and
    inline SVG plots drawn here (ROC curve, AUC and accuracy per fold, precision
    of the primary signals alone and after filtering per fold, feature
    importance, calibration). It loads no script, font, style sheet or image. */
#ifndef ML4T_REPORT_H_INCLUDED
#define ML4T_REPORT_H_INCLUDED

#include <stdio.h>

#include "ml4t/error.h"
#include "ml4t/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the result does not know: where the bars came from. Fields may be NULL. */
typedef struct ml4t_report_info {
    const char *title;   /* "ml4t training report" when NULL */
    const char *sources; /* input files, one string (e.g. comma-separated) */
    const char *model;   /* model file written, e.g. "model.ubj" */
} ml4t_report_info_t;

/* The report as JSON text (pretty-printed, NUL-terminated); caller frees with
   free(). NULL (and err ML4T_ENOMEM) when out of memory. info may be NULL. */
char *ml4t_report_json(const ml4t_train_result_t *res, const ml4t_report_info_t *info,
                       ml4t_error_t *err);

/* Write report.json / report.html at path (replaced). ML4T_EIO naming the path. */
ml4t_err_t ml4t_report_write_json(const ml4t_train_result_t *res, const ml4t_report_info_t *info,
                                  const char *path, ml4t_error_t *err);
ml4t_err_t ml4t_report_write_html(const ml4t_train_result_t *res, const ml4t_report_info_t *info,
                                  const char *path, ml4t_error_t *err);

/* The page to a stream (what write_html writes). */
void ml4t_report_html(const ml4t_train_result_t *res, const ml4t_report_info_t *info, FILE *out);

/* The metrics table for a terminal: one row per fold and the pooled row, then
   the precision of the primary signals alone and after filtering. */
void ml4t_report_print_table(const ml4t_train_result_t *res, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
