/*  ml4t_folds tests: purge, embargo, each test sample once, time order. */
#include "ml4t/folds.h"

#include <stdint.h>

#include "testutil.h"

static void t_hand_example_expanding(void)
{
    /* 6 samples, 2 folds -> 3 blocks of 2; sample 1's horizon [10, 25] reaches fold 1 */
    const size_t entry[6] = {0, 10, 20, 30, 40, 50}, end[6] = {5, 25, 22, 35, 41, 55};
    ml4t_folds_config_t cfg;
    ml4t_folds_config_default(&cfg);
    cfg.n_folds = 2;
    ml4t_fold_t f[2];
    size_t idx[6];
    CHECK_EQ_INT(ml4t_folds_split(&cfg, entry, end, 6, f, NULL), ML4T_OK);
    CHECK_EQ_INT(f[0].test_begin, 2);
    CHECK_EQ_INT(f[0].test_end, 4);
    CHECK_EQ_INT(f[0].test_first_bar, 20);
    CHECK_EQ_INT(f[0].test_last_bar, 35);
    CHECK_EQ_INT(ml4t_folds_train_set(&cfg, &f[0], entry, end, 6, idx), 1);
    CHECK_EQ_INT(idx[0], 0);
    CHECK_EQ_INT(f[0].n_purged, 1);
    CHECK_EQ_INT(f[1].test_begin, 4);
    CHECK_EQ_INT(f[1].test_end, 6);
    CHECK_EQ_INT(ml4t_folds_train_set(&cfg, &f[1], entry, end, 6, idx), 4);
    CHECK_EQ_INT(f[1].n_purged, 0);
    CHECK_EQ_INT(idx[3], 3);
}

static void t_hand_example_kfold_embargo(void)
{
    /* fold 1 tests samples {0,1}, bars [0, 25]: sample 2 [20, 22] is purged, sample 3
       enters at 30, within 6 bars after 25: embargoed; samples 4 and 5 train */
    const size_t entry[6] = {0, 10, 20, 30, 40, 50}, end[6] = {5, 25, 22, 35, 41, 55};
    ml4t_folds_config_t cfg;
    ml4t_folds_config_default(&cfg);
    cfg.scheme = ML4T_FOLDS_PURGED_KFOLD;
    cfg.n_folds = 3;
    cfg.embargo_bars = 6;
    ml4t_fold_t f[3];
    size_t idx[6];
    CHECK_EQ_INT(ml4t_folds_split(&cfg, entry, end, 6, f, NULL), ML4T_OK);
    CHECK_EQ_INT(f[0].test_begin, 0);
    CHECK_EQ_INT(ml4t_folds_train_set(&cfg, &f[0], entry, end, 6, idx), 2);
    CHECK_EQ_INT(idx[0], 4);
    CHECK_EQ_INT(idx[1], 5);
    CHECK_EQ_INT(f[0].n_purged, 1);
    CHECK_EQ_INT(f[0].n_embargoed, 1);
    /* 5 bars of embargo: 30 is 5 bars after 25, still inside */
    cfg.embargo_bars = 5;
    CHECK_EQ_INT(ml4t_folds_train_set(&cfg, &f[0], entry, end, 6, idx), 2);
    cfg.embargo_bars = 4;
    CHECK_EQ_INT(ml4t_folds_train_set(&cfg, &f[0], entry, end, 6, idx), 3);
    CHECK_EQ_INT(idx[0], 3);
}

static uint64_t s_rng = 0x9e3779b97f4a7c15ull;
static size_t s_next(size_t mod)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return (size_t)(s_rng % mod);
}

/* The invariants on random data, for every scheme. */
static void s_check_invariants(const ml4t_folds_config_t *cfg, const size_t *entry,
                               const size_t *end, size_t n)
{
    ml4t_fold_t f[ML4T_FOLDS_MAX];
    static size_t idx[5000];
    static int tested[5000];
    memset(tested, 0, sizeof tested);
    REQUIRE(ml4t_folds_split(cfg, entry, end, n, f, NULL) == ML4T_OK);
    for (size_t k = 0; k < cfg->n_folds; k++) {
        if (k > 0) { /* contiguous, in time order */
            CHECK_EQ_INT(f[k].test_begin, f[k - 1].test_end);
            CHECK(f[k].test_first_bar > f[k - 1].test_first_bar);
        }
        for (size_t i = f[k].test_begin; i < f[k].test_end; i++) {
            tested[i]++;
            CHECK(end[i] <= f[k].test_last_bar);
        }
        size_t m = ml4t_folds_train_set(cfg, &f[k], entry, end, n, idx);
        CHECK(m > 0);
        size_t candidates = cfg->scheme == ML4T_FOLDS_PURGED_KFOLD
                                ? n - (f[k].test_end - f[k].test_begin)
                                : f[k].test_begin;
        if (cfg->scheme == ML4T_FOLDS_SLIDING && candidates > cfg->train_window)
            candidates = cfg->train_window;
        CHECK_EQ_INT(m + f[k].n_purged + f[k].n_embargoed, candidates);
        for (size_t j = 0; j < m; j++) {
            size_t i = idx[j];
            CHECK(j == 0 || i > idx[j - 1]);
            CHECK(i < f[k].test_begin || i >= f[k].test_end);
            /* purge: no label horizon touches the fold's bars */
            CHECK(end[i] < f[k].test_first_bar || entry[i] > f[k].test_last_bar);
            /* embargo */
            CHECK(entry[i] <= f[k].test_last_bar ||
                  entry[i] > f[k].test_last_bar + cfg->embargo_bars);
            if (cfg->scheme != ML4T_FOLDS_PURGED_KFOLD)
                CHECK(end[i] < f[k].test_first_bar);
            if (cfg->scheme == ML4T_FOLDS_SLIDING)
                CHECK(i + cfg->train_window >= f[k].test_begin);
        }
    }
    size_t first = cfg->scheme == ML4T_FOLDS_PURGED_KFOLD ? 0 : f[0].test_begin;
    CHECK(first < n / 2);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(tested[i], i >= first ? 1 : 0); /* each test sample predicted once */
}

static void t_invariants_random(void)
{
    enum { N = 5000 };
    static size_t entry[N], end[N];
    size_t bar = 0;
    for (size_t i = 0; i < N; i++) {
        bar += 1 + s_next(30);
        entry[i] = bar;
        end[i] = bar + s_next(40); /* horizons often span later entries */
    }
    ml4t_folds_config_t cfg;
    ml4t_folds_config_default(&cfg);
    s_check_invariants(&cfg, entry, end, N);
    cfg.n_folds = 7;
    cfg.embargo_bars = 50;
    s_check_invariants(&cfg, entry, end, N);
    cfg.scheme = ML4T_FOLDS_SLIDING;
    cfg.train_window = 800;
    s_check_invariants(&cfg, entry, end, N);
    cfg.scheme = ML4T_FOLDS_PURGED_KFOLD;
    cfg.train_window = 0;
    s_check_invariants(&cfg, entry, end, N);
    /* the embargo bites in k-fold: with a wide one, fold 1 loses training samples */
    ml4t_fold_t f[ML4T_FOLDS_MAX];
    static size_t idx[N];
    REQUIRE(ml4t_folds_split(&cfg, entry, end, N, f, NULL) == ML4T_OK);
    ml4t_folds_train_set(&cfg, &f[0], entry, end, N, idx);
    CHECK(f[0].n_embargoed > 0);
}

static void t_errors(void)
{
    ml4t_folds_config_t cfg;
    ml4t_folds_config_default(&cfg);
    ml4t_error_t err;
    ml4t_fold_t f[ML4T_FOLDS_MAX];
    const size_t entry[12] = {0, 1, 2, 2, 4, 5, 6, 7, 8, 9, 10, 11};
    size_t end[12];
    for (size_t i = 0; i < 12; i++)
        end[i] = entry[i] + 1;
    cfg.n_folds = 2;
    CHECK_EQ_INT(ml4t_folds_split(&cfg, entry, end, 12, f, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "entry[3]");
    const size_t ok_entry[6] = {0, 1, 2, 3, 4, 5}, bad_end[6] = {0, 1, 2, 3, 3, 5};
    CHECK_EQ_INT(ml4t_folds_split(&cfg, ok_entry, bad_end, 6, f, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "end[4]");
    CHECK_EQ_INT(ml4t_folds_split(&cfg, ok_entry, ok_entry, 5, f, &err), ML4T_ENODATA);
    CHECK_STR(err.field, "n");
    cfg.n_folds = 1;
    CHECK_EQ_INT(ml4t_folds_split(&cfg, ok_entry, ok_entry, 6, f, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "n_folds");
    cfg.n_folds = 2;
    cfg.scheme = ML4T_FOLDS_SLIDING;
    CHECK_EQ_INT(ml4t_folds_config_validate(&cfg, &err), ML4T_EINVAL);
    CHECK_STR(err.field, "train_window");
}

static const t_case_t cases[] = {
    T_CASE(t_hand_example_expanding),
    T_CASE(t_hand_example_kfold_embargo),
    T_CASE(t_invariants_random),
    T_CASE(t_errors),
};
T_MAIN(cases)
