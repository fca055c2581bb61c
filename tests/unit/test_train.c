/*  ml4t_train tests: the pipeline on the bundled month, its errors, and the
    leakage control (shuffled meta-labels score AUC 0.5 out of sample). */
#include "ml4t/train.h"

#include <cjson/cJSON.h>

#include "ml4t/csv.h"
#include "ml4t/features.h"
#include "ml4t/model.h"
#include "testutil.h"

static ml4t_bars_t s_bars;

static const ml4t_bars_t *s_month(void)
{
    if (s_bars.n == 0) {
        ml4t_bars_init(&s_bars);
        if (ml4t_csv_load(T_DATA_FILE, &s_bars, NULL, NULL) != ML4T_OK)
            ml4t_bars_clear(&s_bars);
    }
    return &s_bars;
}

static ml4t_train_result_t s_res; /* large: off the stack */

static void t_too_few_bars(void)
{
    const ml4t_bars_t *month = s_month();
    REQUIRE(month->n == 43200);
    ml4t_bars_t few;
    ml4t_bars_init(&few);
    REQUIRE(ml4t_bars_append(&few, month, 0, ML4T_TRAIN_MIN_BARS - 1) == ML4T_OK);
    ml4t_train_config_t cfg;
    ml4t_train_config_default(&cfg);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_train_run(&cfg, &few, NULL, &s_res, NULL, &err), ML4T_ENODATA);
    CHECK_STR(err.field, "bars");
    CHECK(strstr(err.msg, "1000") != NULL && strstr(err.msg, "999") != NULL);
    ml4t_bars_destroy(&few);
}

static void t_bad_inputs_are_named(void)
{
    const ml4t_bars_t *month = s_month();
    REQUIRE(month->n == 43200);
    ml4t_train_config_t cfg;
    ml4t_train_config_default(&cfg);
    ml4t_error_t err;
    static int sig[43200];
    memset(sig, 0, sizeof sig);
    sig[5] = 2;
    CHECK_EQ_INT(ml4t_train_run(&cfg, month, sig, &s_res, NULL, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "signals[5]");
    cfg.folds.n_folds = 1;
    CHECK_EQ_INT(ml4t_train_config_validate(&cfg, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "folds.n_folds");
    ml4t_train_config_default(&cfg);
    cfg.model.max_depth = 0;
    CHECK_EQ_INT(ml4t_train_run(&cfg, month, NULL, &s_res, NULL, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "model.max_depth");
    ml4t_train_config_default(&cfg);
    cfg.ema_slow = cfg.ema_fast;
    CHECK_EQ_INT(ml4t_train_config_validate(&cfg, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "ema_slow");
    /* too few signals for the folds: one signal every 500 bars is 86 samples */
    ml4t_train_config_default(&cfg);
    cfg.folds.n_folds = 50;
    memset(sig, 0, sizeof sig);
    for (size_t i = 100; i < 43200; i += 500)
        sig[i] = 1;
    CHECK_EQ_INT(ml4t_train_run(&cfg, month, sig, &s_res, NULL, &err), ML4T_ENODATA);
    CHECK_STR(err.field, "samples");
}

typedef struct {
    int stages[8];
    size_t max_trees, folds_seen, last_fold;
    bool in_order;
} s_seen_t;

static void s_on_progress(const ml4t_train_progress_t *p, void *ctx)
{
    s_seen_t *s = ctx;
    s->stages[p->stage]++;
    if (p->trees > s->max_trees)
        s->max_trees = p->trees;
    if (p->stage == ML4T_TRAIN_STAGE_FOLD && p->fold != s->last_fold) {
        s->in_order &= p->fold == s->last_fold + 1;
        s->last_fold = p->fold;
        s->folds_seen++;
    }
}

static void t_bundled_month(void)
{
    const ml4t_bars_t *month = s_month();
    REQUIRE(month->n == 43200);
    ml4t_train_config_t cfg;
    ml4t_train_config_default(&cfg);
    s_seen_t seen = {.in_order = true};
    cfg.progress = s_on_progress;
    cfg.progress_ctx = &seen;
    ml4t_model_t *model = NULL;
    ml4t_error_t err;
    REQUIRE(ml4t_train_run(&cfg, month, NULL, &s_res, &model, &err) == ML4T_OK);
    const ml4t_train_result_t *r = &s_res;
    CHECK(r->default_primary);
    CHECK_EQ_INT(r->n_bars, 43200);
    /* an EMA 20/50 crossover on 1m FIL bars crosses ~900 times a month */
    CHECK(r->n_samples > 600 && r->n_samples < 1200);
    CHECK_EQ_INT(r->n_long + r->n_short, r->n_samples);
    CHECK(r->n_long >= r->n_short - 1 && r->n_long <= r->n_short + 1); /* crosses alternate */
    CHECK_EQ_INT(r->n_folds, 5);
    size_t tested = 0;
    for (size_t k = 0; k < r->n_folds; k++) {
        const ml4t_train_fold_result_t *f = &r->folds[k];
        tested += f->metrics.n;
        CHECK(f->fold.n_train > 0 && f->fold.n_train < f->fold.test_begin + 1);
        CHECK(k == 0 || f->ts_test_first > r->folds[k - 1].ts_test_last);
        CHECK(f->metrics.auc >= 0.0 && f->metrics.auc <= 1.0);
    }
    /* each test sample predicted once; only block 0 is never tested */
    CHECK_EQ_INT(tested, r->overall.n);
    CHECK_EQ_INT(r->overall.n, r->n_samples - r->folds[0].fold.test_begin);
    CHECK(r->overall.log_loss > 0 && isfinite(r->overall.log_loss));
    CHECK(r->overall.brier > 0 && r->overall.brier < 1);
    CHECK(r->n_roc >= 2);
    double share = 0;
    for (size_t c = 0; c < r->n_features; c++)
        share += r->importance_gain[c];
    CHECK_NEAR(share, 1.0, 1e-9);
    /* progress: every stage, folds 1..5 in order, every tree of a model */
    CHECK(seen.in_order);
    CHECK_EQ_INT(seen.folds_seen, 5);
    CHECK_EQ_INT(seen.max_trees, cfg.model.n_trees);
    CHECK(seen.stages[ML4T_TRAIN_STAGE_FINAL] > 0 && seen.stages[ML4T_TRAIN_STAGE_DONE] == 1);
    /* the final model: our features, in order, and its manifest */
    REQUIRE(model);
    CHECK_EQ_INT(ml4t_model_n_features(model), ml4t_features_count());
    for (size_t c = 0; c < ml4t_features_count(); c++)
        CHECK_STR(ml4t_model_feature_name(model, c), ml4t_features_name(c));
    const ml4t_model_manifest_t *man = ml4t_model_manifest(model);
    CHECK_EQ_INT(man->n_samples, r->n_samples);
    CHECK_EQ_INT(man->window_first_ts_ns, month->ts[0]);
    const cJSON *auc = cJSON_GetObjectItem(man->metrics, "auc");
    CHECK(cJSON_IsNumber(auc) && fabs(auc->valuedouble - r->overall.auc) < 1e-12);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(man->labels, "pt_multiplier")));
    ml4t_model_unref(&model);
}

static void t_given_signals(void)
{
    const ml4t_bars_t *month = s_month();
    REQUIRE(month->n == 43200);
    static int sig[43200];
    memset(sig, 0, sizeof sig);
    size_t given = 0;
    for (size_t i = 60; i < 43200; i += 37, given++)
        sig[i] = (i / 37) % 2 ? 1 : -1;
    ml4t_train_config_t cfg;
    ml4t_train_config_default(&cfg);
    cfg.model.n_trees = 50;
    REQUIRE(ml4t_train_run(&cfg, month, sig, &s_res, NULL, NULL) == ML4T_OK);
    CHECK(!s_res.default_primary);
    CHECK_EQ_INT(s_res.n_signals, given);
    CHECK_EQ_INT(s_res.n_samples + s_res.n_unresolved, given);
    CHECK(ml4t_train_result_meets_minimum_accuracy(&s_res, 0.0));
    CHECK(!ml4t_train_result_meets_minimum_accuracy(&s_res, 1.01));
}

/* Leakage control: with the meta-labels permuted, nothing can be learnt, so an
   honest walk-forward scores AUC 0.5 out of sample. A signal on every bar
   (POSITION mode) gives ~34,000 scored samples: the AUC's standard error under
   the null is then ~0.003, and the 0.03 band is ten of them. */
static void t_leakage_shuffled_labels(void)
{
    const ml4t_bars_t *month = s_month();
    REQUIRE(month->n == 43200);
    ml4t_train_config_t cfg;
    ml4t_train_config_default(&cfg);
    cfg.primary_mode = ML4T_PRIMARY_POSITION;
    cfg.shuffle_labels = true;
    ml4t_error_t err;
    REQUIRE(ml4t_train_run(&cfg, month, NULL, &s_res, NULL, &err) == ML4T_OK);
    CHECK(s_res.overall.n > 30000);
    printf("  shuffled meta-labels: out-of-sample AUC %.4f over %zu samples\n", s_res.overall.auc,
           s_res.overall.n);
    CHECK_NEAR(s_res.overall.auc, 0.5, 0.03);
    /* the permutation keeps the base rate: the same labels, reordered */
    CHECK(s_res.config.shuffle_labels);
}

static void t_cleanup(void)
{
    ml4t_bars_destroy(&s_bars);
}

static const t_case_t cases[] = {
    T_CASE(t_too_few_bars),  T_CASE(t_bad_inputs_are_named),    T_CASE(t_bundled_month),
    T_CASE(t_given_signals), T_CASE(t_leakage_shuffled_labels), T_CASE(t_cleanup),
};
T_MAIN(cases)
