/*  ml4t-train: walk-forward training of the meta-model from bar files.

    ml4t-train --bars FILE [FILE...] --out DIR [--json] [options]
    Writes DIR/model.ubj, DIR/manifest.json, DIR/report.json, DIR/report.html.
    See docs/train.md. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ml4t/clock.h"
#include "ml4t/csv.h"
#include "ml4t/model.h"
#include "ml4t/report.h"
#include "ml4t/train.h"

#define S_PROG "ml4t-train"

typedef struct {
    const char **bars;
    size_t n_bars;
    const char *out;
    bool json, quiet;
    double min_accuracy;
    ml4t_train_config_t cfg;
} s_args_t;

static void s_usage(FILE *f)
{
    ml4t_train_config_t d;
    ml4t_train_config_default(&d);
    fprintf(f,
            "usage: " S_PROG " --bars FILE [FILE...] --out DIR [--json] [options]\n"
            "\n"
            "Labels every primary signal with the triple barrier, trains the meta-model\n"
            "walk-forward (purged folds in time order), fits the final model on all samples\n"
            "and writes DIR/model.ubj, DIR/manifest.json, DIR/report.json, DIR/report.html.\n"
            "Without signals of your own, the primary strategy is an EMA crossover.\n"
            "\n"
            "input and output\n"
            "  --bars FILE...        bar files: Binance kline CSV or ts,open,high,low,close,\n"
            "                        volume[,buy_volume]; gzip or not; ts in s/ms/us/ns. Several\n"
            "                        files are joined in time order. Bad rows are rejected and\n"
            "                        reported. At least %d bars.\n"
            "  --out DIR             output directory (created when missing)\n"
            "  --json                print report.json on stdout (the table goes to stderr)\n"
            "  --quiet               no progress and no table (problems are still printed)\n"
            "  --min-accuracy X      accuracy the run is checked against (%.2f)\n"
            "labels (triple barrier on ATR)\n"
            "  --pt X                profit-take distance in ATRs (%g)\n"
            "  --sl X                stop-loss distance in ATRs (%g)\n"
            "  --max-holding N       vertical barrier in bars (%zu)\n"
            "  --atr-period N        Wilder ATR period (%zu)\n"
            "primary signals (the default strategy)\n"
            "  --ema-fast N          fast EMA period (%zu)\n"
            "  --ema-slow N          slow EMA period (%zu)\n"
            "  --primary MODE        cross: a signal where the EMAs cross; position: every\n"
            "                        bar, +1 while fast > slow, -1 below (cross)\n"
            "folds\n"
            "  --folds N             test folds (%zu)\n"
            "  --scheme S            expanding | sliding (expanding)\n"
            "  --train-window N      sliding: training samples per fold\n"
            "  --embargo N           bars after a test fold no training sample may enter (%zu)\n"
            "model (XGBoost, hist)\n"
            "  --trees N             boosting rounds (%d)\n"
            "  --max-depth N         tree depth (%d)\n"
            "  --eta X               learning rate (%g)\n"
            "  --subsample X         row share per tree (%g)\n"
            "  --colsample X         feature share per tree (%g)\n"
            "  --min-child-weight X  (%g)\n"
            "  --threads N           0 = auto: 1 below 20,000 training rows, else every\n"
            "                        core (%d)\n"
            "  --seed N              (%u)\n"
            "  --no-balance          do not weight positives by negatives/positives\n"
            "leakage control\n"
            "  --shuffle-labels      permute the meta-labels before training: the\n"
            "                        out-of-sample AUC must then be near 0.5\n"
            "  --shuffle-seed N      (%llu)\n"
            "  -h, --help            this text\n",
            ML4T_TRAIN_MIN_BARS, 0.55, d.pt_multiplier, d.sl_multiplier, d.max_holding_bars,
            d.atr_period, d.ema_fast, d.ema_slow, d.folds.n_folds, d.folds.embargo_bars,
            d.model.n_trees, d.model.max_depth, d.model.learning_rate, d.model.subsample,
            d.model.colsample, d.model.min_child_weight, d.model.nthread, d.model.seed,
            (unsigned long long)d.shuffle_seed);
}

static int s_bad(const char *opt, const char *want, const char *got)
{
    fprintf(stderr, S_PROG ": %s: expected %s, got '%s' (see --help)\n", opt, want,
            got ? got : "nothing");
    return 2;
}

static bool s_parse_size(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static bool s_parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

typedef enum { S_SIZE, S_INT, S_U32, S_U64, S_DOUBLE } s_kind_t;

typedef struct {
    const char *name;
    s_kind_t kind;
    void *target;
    const char *field; /* the config field it sets, to name the option in errors */
} s_opt_t;

/* Options that take a number, bound to the fields they set. */
static size_t s_numeric_opts(s_args_t *a, s_opt_t *o)
{
    ml4t_train_config_t *c = &a->cfg;
    const s_opt_t t[] = {
        {"--pt", S_DOUBLE, &c->pt_multiplier, "pt_multiplier"},
        {"--sl", S_DOUBLE, &c->sl_multiplier, "sl_multiplier"},
        {"--max-holding", S_SIZE, &c->max_holding_bars, "max_holding_bars"},
        {"--atr-period", S_SIZE, &c->atr_period, "atr_period"},
        {"--ema-fast", S_SIZE, &c->ema_fast, "ema_fast"},
        {"--ema-slow", S_SIZE, &c->ema_slow, "ema_slow"},
        {"--folds", S_SIZE, &c->folds.n_folds, "folds.n_folds"},
        {"--train-window", S_SIZE, &c->folds.train_window, "folds.train_window"},
        {"--embargo", S_SIZE, &c->folds.embargo_bars, "folds.embargo_bars"},
        {"--trees", S_INT, &c->model.n_trees, "model.n_trees"},
        {"--max-depth", S_INT, &c->model.max_depth, "model.max_depth"},
        {"--eta", S_DOUBLE, &c->model.learning_rate, "model.learning_rate"},
        {"--subsample", S_DOUBLE, &c->model.subsample, "model.subsample"},
        {"--colsample", S_DOUBLE, &c->model.colsample, "model.colsample"},
        {"--min-child-weight", S_DOUBLE, &c->model.min_child_weight, "model.min_child_weight"},
        {"--threads", S_INT, &c->model.nthread, "model.nthread"},
        {"--seed", S_U32, &c->model.seed, "model.seed"},
        {"--shuffle-seed", S_U64, &c->shuffle_seed, "shuffle_seed"},
        {"--min-accuracy", S_DOUBLE, &a->min_accuracy, "min_accuracy"},
    };
    memcpy(o, t, sizeof t);
    return sizeof t / sizeof t[0];
}

static int s_set_numeric(const s_opt_t *o, const char *v)
{
    unsigned long long u;
    double d;
    switch (o->kind) {
    case S_SIZE:
        if (!s_parse_size(v, SIZE_MAX, &u))
            return s_bad(o->name, "a non-negative integer", v);
        *(size_t *)o->target = (size_t)u;
        return 0;
    case S_INT:
        if (!s_parse_size(v, INT_MAX, &u))
            return s_bad(o->name, "a non-negative integer", v);
        *(int *)o->target = (int)u;
        return 0;
    case S_U32:
        if (!s_parse_size(v, UINT32_MAX, &u))
            return s_bad(o->name, "an integer in [0, 4294967295]", v);
        *(uint32_t *)o->target = (uint32_t)u;
        return 0;
    case S_U64:
        if (!s_parse_size(v, UINT64_MAX, &u))
            return s_bad(o->name, "a non-negative integer", v);
        *(uint64_t *)o->target = (uint64_t)u;
        return 0;
    case S_DOUBLE:
        if (!s_parse_double(v, &d))
            return s_bad(o->name, "a finite number", v);
        *(double *)o->target = d;
        return 0;
    }
    return 2;
}

static int s_parse_word(const char *opt, const char *v, ml4t_train_config_t *c)
{
    if (strcmp(opt, "--primary") == 0) {
        if (v && strcmp(v, "cross") == 0)
            c->primary_mode = ML4T_PRIMARY_CROSS;
        else if (v && strcmp(v, "position") == 0)
            c->primary_mode = ML4T_PRIMARY_POSITION;
        else
            return s_bad(opt, "cross or position", v);
        return 0;
    }
    if (v && strcmp(v, "expanding") == 0)
        c->folds.scheme = ML4T_FOLDS_EXPANDING;
    else if (v && strcmp(v, "sliding") == 0)
        c->folds.scheme = ML4T_FOLDS_SLIDING;
    else
        return s_bad(opt, "expanding or sliding", v);
    return 0;
}

/* Returns -1 to go on, else the exit status. */
static int s_parse(int argc, char **argv, s_args_t *a)
{
    s_opt_t opts[32];
    size_t n_opts = s_numeric_opts(a, opts);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(arg, "--bars") == 0) {
            a->bars = (const char **)argv + i + 1;
            a->n_bars = 0;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                a->n_bars++;
                i++;
            }
            if (a->n_bars == 0)
                return s_bad(arg, "one or more files", NULL);
            continue;
        } else if (strcmp(arg, "--out") == 0) {
            if (!val || !*val)
                return s_bad(arg, "a directory", val);
            a->out = argv[++i];
            continue;
        } else if (strcmp(arg, "--json") == 0) {
            a->json = true;
            continue;
        } else if (strcmp(arg, "--quiet") == 0) {
            a->quiet = true;
            continue;
        } else if (strcmp(arg, "--no-balance") == 0) {
            a->cfg.model.balance_classes = false;
            continue;
        } else if (strcmp(arg, "--shuffle-labels") == 0) {
            a->cfg.shuffle_labels = true;
            continue;
        } else if (strcmp(arg, "--primary") == 0 || strcmp(arg, "--scheme") == 0) {
            int rc = s_parse_word(arg, val, &a->cfg);
            if (rc)
                return rc;
            i++;
            continue;
        }
        size_t k = 0;
        while (k < n_opts && strcmp(opts[k].name, arg) != 0)
            k++;
        if (k == n_opts) {
            fprintf(stderr, S_PROG ": unknown option '%s' (see --help)\n", arg);
            return 2;
        }
        int rc = s_set_numeric(&opts[k], val);
        if (rc)
            return rc;
        i++;
    }
    if (!a->bars)
        return s_bad("--bars", "one or more files", NULL);
    if (!a->out)
        return s_bad("--out", "a directory", NULL);
    return -1;
}

/* A config error names a field; the user typed an option. */
static const char *s_option_of(s_args_t *a, const char *field)
{
    static s_opt_t opts[32];
    size_t n = s_numeric_opts(a, opts);
    for (size_t k = 0; k < n; k++)
        if (strcmp(opts[k].field, field) == 0)
            return opts[k].name;
    if (strcmp(field, "folds.scheme") == 0)
        return "--scheme";
    if (strcmp(field, "primary_mode") == 0)
        return "--primary";
    return field;
}

/* ---------------------------------------------------------------- progress */

typedef struct {
    bool tty;
    uint64_t t0;
    ml4t_train_stage_t last_stage;
    size_t last_fold;
    bool line_open; /* tty: a progress line is on screen */
} s_progress_t;

static void s_progress_end_line(s_progress_t *pr)
{
    if (pr->tty && pr->line_open) {
        fputs("\r\033[K", stderr);
        pr->line_open = false;
    }
}

static void s_progress_tty(const ml4t_train_progress_t *p, s_progress_t *pr, double secs)
{
    char what[48];
    if (p->stage == ML4T_TRAIN_STAGE_FOLD)
        snprintf(what, sizeof what, "fold %zu/%zu", p->fold, p->n_folds);
    else
        snprintf(what, sizeof what, "%s", ml4t_train_stage_name(p->stage));
    fprintf(stderr, "\r\033[K" S_PROG " %-10s", what);
    if (p->stage == ML4T_TRAIN_STAGE_FOLD || p->stage == ML4T_TRAIN_STAGE_FINAL) {
        enum { W = 30 };
        size_t fill = p->trees_total ? p->trees * W / p->trees_total : 0;
        fputs(" [", stderr);
        for (size_t i = 0; i < W; i++)
            fputc(i < fill ? '#' : '.', stderr);
        fprintf(stderr, "] %4zu/%zu trees", p->trees, p->trees_total);
    }
    fprintf(stderr, "  %zu samples  %.1f s", p->samples, secs);
    fflush(stderr);
    pr->line_open = true;
}

static void s_progress(const ml4t_train_progress_t *p, void *ctx)
{
    s_progress_t *pr = ctx;
    double secs = (double)(ml4t_clock_mono_ns() - pr->t0) / 1e9;
    if (pr->tty) {
        if (p->stage == ML4T_TRAIN_STAGE_DONE)
            s_progress_end_line(pr);
        else
            s_progress_tty(p, pr, secs);
        return;
    }
    /* a log: one line per stage or fold, none per tree */
    if (p->stage == pr->last_stage && p->fold == pr->last_fold)
        return;
    pr->last_stage = p->stage;
    pr->last_fold = p->fold;
    if (p->stage == ML4T_TRAIN_STAGE_FOLD)
        fprintf(stderr, S_PROG ": %6.1f s fold %zu/%zu: training %d trees\n", secs, p->fold,
                p->n_folds, (int)p->trees_total);
    else if (p->stage == ML4T_TRAIN_STAGE_FINAL)
        fprintf(stderr, S_PROG ": %6.1f s final model on all %zu samples\n", secs, p->samples);
    else
        fprintf(stderr, S_PROG ": %6.1f s %s (%zu samples)\n", secs,
                ml4t_train_stage_name(p->stage), p->samples);
}

/* ---------------------------------------------------------------- steps */

static int s_load(const s_args_t *a, ml4t_bars_t *bars)
{
    ml4t_csv_stats_t st;
    ml4t_error_t err;
    ml4t_error_clear(&err);
    if (ml4t_csv_load_many(a->bars, a->n_bars, bars, &st, &err) != ML4T_OK) {
        fprintf(stderr, S_PROG ": --bars: %s\n", err.msg);
        return 1;
    }
    if (!a->quiet)
        fprintf(stderr, S_PROG ": loaded %zu bars from %zu file(s), %zu rows rejected\n", bars->n,
                st.files, st.rows_rejected);
    if (st.rows_rejected) { /* never silent, even with --quiet */
        fprintf(stderr,
                S_PROG ": rejected %zu of %zu rows (%zu overlapping earlier files); "
                       "first at",
                st.rows_rejected, st.rows_read, st.rows_overlap);
        for (size_t i = 0; i < st.n_rejects_kept; i++)
            fprintf(stderr, "%s %s:%zu", i ? "," : "", a->bars[st.reject_file[i]],
                    st.reject_line[i]);
        fprintf(stderr, "\n" S_PROG ": first rejected row: %s\n", st.first_reason);
    }
    return 0;
}

static int s_mkdirs(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return -1;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int s_write(const s_args_t *a, const ml4t_train_result_t *res, ml4t_model_t *model)
{
    char path[PATH_MAX], sources[1024] = "";
    ml4t_error_t err;
    ml4t_error_clear(&err);
    for (size_t i = 0, len = 0; i < a->n_bars && len < sizeof sources; i++)
        len += (size_t)snprintf(sources + len, sizeof sources - len, "%s%s", i ? ", " : "",
                                a->bars[i]);
    ml4t_report_info_t info = {NULL, sources, "model.ubj"};
    if (s_mkdirs(a->out) != 0) {
        fprintf(stderr, S_PROG ": --out: cannot create directory %s: %s\n", a->out,
                strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "%s/model.ubj", a->out);
    if (ml4t_model_save(model, path, &err) != ML4T_OK) {
        fprintf(stderr, S_PROG ": %s\n", err.msg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/report.json", a->out);
    if (ml4t_report_write_json(res, &info, path, &err) != ML4T_OK) {
        fprintf(stderr, S_PROG ": %s\n", err.msg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/report.html", a->out);
    if (ml4t_report_write_html(res, &info, path, &err) != ML4T_OK) {
        fprintf(stderr, S_PROG ": %s\n", err.msg);
        return 1;
    }
    if (a->json) {
        char *text = ml4t_report_json(res, &info, &err);
        if (!text) {
            fprintf(stderr, S_PROG ": %s\n", err.msg);
            return 1;
        }
        puts(text);
        free(text);
    }
    return 0;
}

static void s_summary(const s_args_t *a, const ml4t_train_result_t *res, ml4t_model_t *model)
{
    FILE *out = a->json ? stderr : stdout;
    ml4t_report_print_table(res, out);
    fprintf(out, "minimum accuracy %.2f: %s (out-of-sample accuracy %.4f)\n", a->min_accuracy,
            ml4t_train_result_meets_minimum_accuracy(res, a->min_accuracy) ? "met" : "NOT met",
            res->overall.accuracy);
    fprintf(out, "bars %zu, signals %zu, samples %zu, model %s; %.1f s\n", res->n_bars,
            res->n_signals, res->n_samples, ml4t_model_version(model), res->seconds_total);
    fprintf(out, "wrote %s/{model.ubj,manifest.json,report.json,report.html}\n", a->out);
}

int main(int argc, char **argv)
{
    s_args_t a = {.min_accuracy = 0.55};
    ml4t_train_config_default(&a.cfg);
    int rc = s_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    ml4t_error_t err;
    ml4t_error_clear(&err);
    if (ml4t_train_config_validate(&a.cfg, &err) != ML4T_OK) {
        fprintf(stderr, S_PROG ": %s: %s (see --help)\n", s_option_of(&a, err.field), err.msg);
        return 2;
    }
    s_progress_t pr = {isatty(STDERR_FILENO) == 1, ml4t_clock_mono_ns(), (ml4t_train_stage_t)-1, 0,
                       false};
    if (!a.quiet) {
        a.cfg.progress = s_progress;
        a.cfg.progress_ctx = &pr;
    }
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    rc = s_load(&a, &bars);
    if (rc)
        goto out_free_bars;
    static ml4t_train_result_t res; /* large: keep it off the stack */
    ml4t_model_t *model = NULL;
    if (ml4t_train_run(&a.cfg, &bars, NULL, &res, &model, &err) != ML4T_OK) {
        s_progress_end_line(&pr);
        fprintf(stderr, S_PROG ": training failed: %s%s%s\n", err.field[0] ? err.field : "",
                err.field[0] ? ": " : "", err.msg);
        rc = 1;
        goto out_free_bars;
    }
    s_progress_end_line(&pr);
    rc = s_write(&a, &res, model);
    if (rc == 0 && !a.quiet)
        s_summary(&a, &res, model);
    ml4t_model_unref(&model);
out_free_bars:
    ml4t_bars_destroy(&bars);
    return rc;
}
