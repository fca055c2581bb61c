/*  ml4t_report tests: report.json round trip, a self-contained report.html. */
#include "ml4t/report.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <unistd.h>

#include "ml4t/features.h"
#include "testutil.h"

/* A result built by hand from synthetic predictions (no training needed). */
static void s_fake_result(ml4t_train_result_t *res)
{
    enum { N = 400 };
    static double p[N];
    static int y[N];
    uint64_t s = 12345;
    for (size_t i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (double)(s >> 11) / 9007199254740992.0;
        y[i] = p[i] > 0.3 + 0.4 * (double)((s >> 3) % 100) / 100.0;
    }
    memset(res, 0, sizeof *res);
    ml4t_train_config_default(&res->config);
    res->n_bars = 43200;
    res->ts_first = 1698796800000000000ull; /* 2023-11-01T00:00:00Z */
    res->ts_last = res->ts_first + 43199ull * 60000000000ull;
    res->n_signals = res->n_samples = N + 80;
    res->n_long = 240;
    res->n_short = 240;
    res->default_primary = true;
    res->n_folds = 4;
    for (size_t k = 0; k < 4; k++) {
        ml4t_train_fold_result_t *f = &res->folds[k];
        f->fold.test_begin = 80 + k * 100;
        f->fold.test_end = f->fold.test_begin + 100;
        f->fold.n_train = f->fold.test_begin - 3;
        f->fold.n_purged = 3;
        f->ts_test_first = res->ts_first + k * 600000000000ull;
        f->ts_test_last = f->ts_test_first + 500000000000ull;
        ml4t_metrics_compute(p + k * 100, y + k * 100, 100, &f->metrics, NULL);
    }
    ml4t_metrics_compute(p, y, N, &res->overall, NULL);
    ml4t_metrics_roc(p, y, N, res->roc, ML4T_TRAIN_ROC_POINTS, &res->n_roc, NULL);
    ml4t_metrics_calibration(p, y, N, ML4T_TRAIN_CALIB_BINS, res->calib, NULL);
    res->n_features = ml4t_features_count();
    for (size_t i = 0; i < res->n_features; i++) {
        snprintf(res->feature_names[i], ML4T_FEATURE_NAME_MAX, "%s", ml4t_features_name(i));
        res->importance_gain[i] = (double)(i + 1) / 66.0; /* 1 + ... + 11 = 66 */
    }
    res->in_sample = res->overall;
}

static double s_get(const cJSON *o, const char *path1, const char *path2)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, path1);
    const cJSON *b = path2 ? cJSON_GetObjectItemCaseSensitive(a, path2) : a;
    return cJSON_IsNumber(b) ? b->valuedouble : NAN;
}

static void t_json_round_trip(void)
{
    ml4t_train_result_t res;
    s_fake_result(&res);
    ml4t_report_info_t info = {"FIL <test>", "a.csv.gz,b.csv", "model.ubj"};
    char *text = ml4t_report_json(&res, &info, NULL);
    REQUIRE(text);
    cJSON *root = cJSON_Parse(text);
    free(text);
    REQUIRE(root);
    CHECK_STR(cJSON_GetObjectItem(root, "schema")->valuestring, "ml4t.train.report/1");
    CHECK_STR(cJSON_GetObjectItem(root, "sources")->valuestring, "a.csv.gz,b.csv");
    CHECK_NEAR(s_get(root, "overall", "auc"), res.overall.auc, 1e-12);
    CHECK_NEAR(s_get(root, "overall", "precision_primary"), res.overall.base_rate, 1e-12);
    CHECK_NEAR(s_get(root, "overall", "precision_filtered"), res.overall.precision, 1e-12);
    CHECK_NEAR(s_get(root, "overall", "n"), 400, 0);
    CHECK_NEAR(s_get(root, "data", "bars"), 43200, 0);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "data"), "ts_first")->valuestring,
              "2023-11-01T00:00:00Z");
    const cJSON *folds = cJSON_GetObjectItem(root, "folds");
    CHECK_EQ_INT(cJSON_GetArraySize(folds), 4);
    const cJSON *f2 = cJSON_GetArrayItem(folds, 2);
    CHECK_NEAR(s_get(f2, "n_test", NULL), 100, 0);
    CHECK_NEAR(s_get(f2, "n_purged", NULL), 3, 0);
    CHECK_NEAR(s_get(cJSON_GetObjectItem(f2, "metrics"), "auc", NULL), res.folds[2].metrics.auc,
               1e-12);
    const cJSON *roc = cJSON_GetObjectItem(root, "roc");
    CHECK_EQ_INT(cJSON_GetArraySize(roc), (int)res.n_roc);
    /* the +inf threshold of the origin has no JSON number: null */
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(roc, 0), "threshold")));
    const cJSON *imp = cJSON_GetObjectItem(root, "feature_importance");
    CHECK_EQ_INT(cJSON_GetArraySize(imp), (int)ml4t_features_count());
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(imp, 0), "feature")->valuestring,
              "volatility");
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "calibration")), 10);
    CHECK(cJSON_IsBool(cJSON_GetObjectItem(root, "meets_minimum_accuracy_0_55")));
    cJSON_Delete(root);
}

static void t_nan_is_null(void)
{
    ml4t_train_result_t res;
    s_fake_result(&res);
    res.overall.precision = NAN; /* nothing kept */
    char *text = ml4t_report_json(&res, NULL, NULL);
    REQUIRE(text);
    CHECK(strstr(text, "nan") == NULL && strstr(text, "inf") == NULL);
    cJSON *root = cJSON_Parse(text);
    free(text);
    REQUIRE(root);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "overall"), "precision")));
    cJSON_Delete(root);
}

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

static size_t s_count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void t_html_self_contained(void)
{
    ml4t_train_result_t res;
    s_fake_result(&res);
    char path[] = "/tmp/ml4t_report_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    ml4t_report_info_t info = {"FIL <test> & co", NULL, NULL};
    CHECK_EQ_INT(ml4t_report_write_html(&res, &info, path, NULL), ML4T_OK);
    char *html = s_slurp(path);
    unlink(path);
    REQUIRE(html);
    CHECK(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    CHECK(strstr(html, "</html>") != NULL);
    /* ROC, AUC/accuracy per fold, precision per fold, calibration, importance */
    CHECK_EQ_INT(s_count(html, "<svg "), 5);
    CHECK_EQ_INT(s_count(html, "</svg>"), 5);
    CHECK(strstr(html, "ROC curve") != NULL);
    CHECK(strstr(html, "Calibration") != NULL);
    CHECK(strstr(html, "Feature importance") != NULL);
    CHECK(strstr(html, "per test fold") != NULL);
    CHECK(strstr(html, "FIL &lt;test&gt; &amp; co") != NULL);
    CHECK(strstr(html, "<test>") == NULL);
    /* nothing fetched: the only URL is the SVG namespace */
    CHECK(strstr(html, "<script") == NULL);
    CHECK(strstr(html, "<link") == NULL);
    CHECK(strstr(html, "src=") == NULL);
    CHECK(strstr(html, "url(") == NULL);
    CHECK_EQ_INT(s_count(html, "http"), s_count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK(strstr(html, "nan") == NULL);
    /* every feature has a bar */
    for (size_t i = 0; i < res.n_features; i++)
        CHECK(strstr(html, res.feature_names[i]) != NULL);
    free(html);
}

static void t_table_and_write_errors(void)
{
    ml4t_train_result_t res;
    s_fake_result(&res);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    REQUIRE(f);
    ml4t_report_print_table(&res, f);
    fclose(f);
    CHECK(strstr(buf, "4/4") != NULL);
    CHECK(strstr(buf, "all") != NULL);
    CHECK(strstr(buf, "precision of primary signals") != NULL);
    free(buf);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_report_write_json(&res, NULL, "/nonexistent/dir/report.json", &err),
                 ML4T_EIO);
    CHECK_STR(err.field, "/nonexistent/dir/report.json");
    CHECK_EQ_INT(ml4t_report_write_html(&res, NULL, "/nonexistent/dir/report.html", &err),
                 ML4T_EIO);
}

static void t_minimum_accuracy(void)
{
    ml4t_train_result_t res;
    s_fake_result(&res);
    res.overall.accuracy = 0.56;
    CHECK(ml4t_train_result_meets_minimum_accuracy(&res, 0.55));
    res.overall.accuracy = 0.55;
    CHECK(ml4t_train_result_meets_minimum_accuracy(&res, 0.55));
    res.overall.accuracy = 0.549;
    CHECK(!ml4t_train_result_meets_minimum_accuracy(&res, 0.55));
    res.overall.accuracy = NAN;
    CHECK(!ml4t_train_result_meets_minimum_accuracy(&res, 0.55));
    CHECK(!ml4t_train_result_meets_minimum_accuracy(NULL, 0.55));
}

static const t_case_t cases[] = {
    T_CASE(t_json_round_trip),        T_CASE(t_nan_is_null),      T_CASE(t_html_self_contained),
    T_CASE(t_table_and_write_errors), T_CASE(t_minimum_accuracy),
};
T_MAIN(cases)
