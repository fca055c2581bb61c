/*  ml4t_sizer tests: the formula, defaults for missing inputs, bounds, errors. */
#include "ml4t/sizer.h"

#include "testutil.h"

static ml4t_sizer_input_t s_full(double signal, double meta, double regime, double tox)
{
    ml4t_sizer_input_t in = ml4t_sizer_input(signal);
    in.has_meta = in.has_regime = in.has_toxicity = true;
    in.meta_confidence = meta;
    in.regime_weight = regime;
    in.toxicity = tox;
    return in;
}

static void t_known_answer(void)
{
    /* sqrt(0.8) * 0.75 * 1.0 * (1 - 0.2) * 0.5 = 0.894427 * 0.3 = 0.268328 */
    ml4t_sizer_config_t cfg = ml4t_sizer_config_default();
    ml4t_sizer_input_t in = s_full(0.8, 0.75, 1.0, 0.2);
    ml4t_size_t s;
    CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &in, &s, NULL), ML4T_OK);
    CHECK_NEAR(s.size, 0.2683, 1e-4);
    CHECK_NEAR(s.size, sqrt(0.8) * 0.3, 1e-15);
    CHECK_NEAR(s.f_signal, 0.8944, 1e-4);
    CHECK_NEAR(s.f_meta, 0.75, 0);
    CHECK_NEAR(s.f_regime, 1.0, 0);
    CHECK_NEAR(s.f_toxicity, 0.8, 1e-15);
    CHECK_NEAR(s.f_kelly, 0.5, 0);
    CHECK_NEAR(s.raw, s.size, 0);
    CHECK_EQ_INT(s.direction, 1);
    CHECK(!s.capped && !s.below_min);
    in.signal = -0.8;
    CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &in, &s, NULL), ML4T_OK);
    CHECK_EQ_INT(s.direction, -1);
    CHECK_NEAR(s.size, sqrt(0.8) * 0.3, 1e-15);
}

static void t_defaults_for_missing(void)
{
    ml4t_sizer_config_t cfg = ml4t_sizer_config_default();
    CHECK_EQ_INT(ml4t_sizer_config_validate(&cfg, NULL), ML4T_OK);
    CHECK_NEAR(cfg.giller, 0.5, 0);
    CHECK_NEAR(cfg.kelly_fraction, 0.5, 0);
    CHECK_NEAR(cfg.min_size, 0.01, 0);
    CHECK_NEAR(cfg.max_size, 1.0, 0);
    /* 1 * meta 0.5 * regime 0.8 * (1 - 0) * 0.5 = 0.2 */
    ml4t_sizer_input_t in = ml4t_sizer_input(1.0);
    in.meta_confidence = NAN; /* ignored: not given */
    ml4t_size_t s;
    CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &in, &s, NULL), ML4T_OK);
    CHECK_NEAR(s.size, 0.2, 1e-15);
    CHECK_NEAR(s.f_meta, 0.5, 0);
    CHECK_NEAR(s.f_regime, 0.8, 0);
    CHECK_NEAR(s.f_toxicity, 1.0, 0);
}

static void t_below_min_is_flat(void)
{
    ml4t_sizer_config_t cfg = ml4t_sizer_config_default();
    /* 0.0016^0.5 = 0.04; * 0.5 * 0.8 * 0.5 = 0.008 < 0.01 */
    ml4t_sizer_input_t in = ml4t_sizer_input(-0.0016);
    ml4t_size_t s;
    CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &in, &s, NULL), ML4T_OK);
    CHECK_NEAR(s.size, 0.0, 0);
    CHECK_EQ_INT(s.direction, 0);
    CHECK(s.below_min);
    CHECK_NEAR(s.raw, 0.008, 1e-15);
    /* a zero signal or full toxicity are flat too */
    in = ml4t_sizer_input(0.0);
    CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &in, &s, NULL), ML4T_OK);
    CHECK(s.size == 0.0 && s.direction == 0);
    in = s_full(1.0, 1.0, 1.0, 1.0);
    CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &in, &s, NULL), ML4T_OK);
    CHECK(s.size == 0.0 && s.direction == 0);
    /* a raw size exactly at min_size is kept: 0.5^1 * 0.5 * 1 * 1 * 1 = 0.25 */
    cfg.giller = 1.0;
    cfg.kelly_fraction = 1.0;
    cfg.min_size = 0.25;
    in = s_full(0.5, 0.5, 1.0, 0.0);
    CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &in, &s, NULL), ML4T_OK);
    CHECK_NEAR(s.size, 0.25, 0);
    CHECK_EQ_INT(s.direction, 1);
}

static void t_caps(void)
{
    ml4t_sizer_config_t cfg = ml4t_sizer_config_default();
    cfg.kelly_fraction = 1.0;
    cfg.max_size = 0.3;
    ml4t_sizer_input_t in = s_full(1.0, 1.0, 1.0, 0.0);
    ml4t_size_t s;
    CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &in, &s, NULL), ML4T_OK);
    CHECK_NEAR(s.size, 0.3, 0);
    CHECK_NEAR(s.raw, 1.0, 0);
    CHECK(s.capped);
    /* a policy cap below the configured one wins; one above it does not */
    in.has_max_size = true;
    in.max_size = 0.1;
    CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &in, &s, NULL), ML4T_OK);
    CHECK_NEAR(s.size, 0.1, 0);
    CHECK(s.capped);
    in.max_size = 5.0;
    CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &in, &s, NULL), ML4T_OK);
    CHECK_NEAR(s.size, 0.3, 0);
    /* a policy cap below min_size leaves no tradeable size */
    in.max_size = 0.005;
    CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &in, &s, NULL), ML4T_OK);
    CHECK(s.size == 0.0 && s.direction == 0 && s.below_min);
}

static void t_bad_inputs_named(void)
{
    ml4t_sizer_config_t cfg = ml4t_sizer_config_default();
    struct {
        ml4t_sizer_input_t in;
        const char *field;
    } bad[] = {
        {s_full(NAN, 0.5, 0.5, 0.5), "signal"},
        {s_full(1.5, 0.5, 0.5, 0.5), "signal"},
        {s_full(-INFINITY, 0.5, 0.5, 0.5), "signal"},
        {s_full(0.5, NAN, 0.5, 0.5), "meta_confidence"},
        {s_full(0.5, 1.01, 0.5, 0.5), "meta_confidence"},
        {s_full(0.5, 0.5, -0.1, 0.5), "regime_weight"},
        {s_full(0.5, 0.5, INFINITY, 0.5), "regime_weight"},
        {s_full(0.5, 0.5, 0.5, NAN), "toxicity"},
        {s_full(0.5, 0.5, 0.5, 1.5), "toxicity"},
        {s_full(0.5, 0.5, 0.5, 0.5), "max_size"},
    };
    bad[9].in.has_max_size = true;
    bad[9].in.max_size = NAN;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ml4t_size_t s;
        ml4t_error_t err;
        s.size = 123.0;
        CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &bad[i].in, &s, &err), ML4T_ERANGE);
        CHECK_STR(err.field, bad[i].field);
        CHECK(s.size == 0.0 && s.direction == 0); /* never NaN, never stale */
    }
}

static void t_config_errors_named(void)
{
    struct {
        const char *field;
        double v;
    } bad[] = {{"giller", 0.0},           {"giller", NAN},       {"kelly_fraction", 0.0},
               {"kelly_fraction", 1.5},   {"min_size", -0.1},    {"max_size", 0.001},
               {"max_size", INFINITY},    {"default_meta", 1.2}, {"default_regime", NAN},
               {"default_toxicity", -1.0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ml4t_sizer_config_t cfg = ml4t_sizer_config_default();
        double *f = !strcmp(bad[i].field, "giller")           ? &cfg.giller
                    : !strcmp(bad[i].field, "kelly_fraction") ? &cfg.kelly_fraction
                    : !strcmp(bad[i].field, "min_size")       ? &cfg.min_size
                    : !strcmp(bad[i].field, "max_size")       ? &cfg.max_size
                    : !strcmp(bad[i].field, "default_meta")   ? &cfg.default_meta
                    : !strcmp(bad[i].field, "default_regime") ? &cfg.default_regime
                                                              : &cfg.default_toxicity;
        *f = bad[i].v;
        ml4t_error_t err;
        CHECK_EQ_INT(ml4t_sizer_config_validate(&cfg, &err), ML4T_EINVAL);
        CHECK_STR(err.field, bad[i].field);
        ml4t_sizer_input_t in = ml4t_sizer_input(1.0);
        ml4t_size_t s;
        CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &in, &s, &err), ML4T_EINVAL);
        CHECK(s.size == 0.0);
    }
    /* min_size == max_size is allowed */
    ml4t_sizer_config_t cfg = ml4t_sizer_config_default();
    cfg.min_size = cfg.max_size = 0.5;
    CHECK_EQ_INT(ml4t_sizer_config_validate(&cfg, NULL), ML4T_OK);
}

/* Size grows with each factor and never leaves [0, max_size]. */
static void t_monotone_and_bounded(void)
{
    ml4t_sizer_config_t cfg = ml4t_sizer_config_default();
    srand(3);
    for (int i = 0; i < 5000; i++) {
        double sig = (double)rand() / RAND_MAX, meta = (double)rand() / RAND_MAX;
        double reg = (double)rand() / RAND_MAX, tox = (double)rand() / RAND_MAX;
        ml4t_sizer_input_t a = s_full(sig, meta, reg, tox), b = a;
        b.meta_confidence = meta + (1.0 - meta) * 0.5;
        b.toxicity = tox * 0.5;
        ml4t_size_t sa, sb;
        CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &a, &sa, NULL), ML4T_OK);
        CHECK_EQ_INT(ml4t_sizer_compute(&cfg, &b, &sb, NULL), ML4T_OK);
        CHECK(sa.size >= 0.0 && sa.size <= cfg.max_size);
        CHECK(sb.raw >= sa.raw);
    }
}

static const t_case_t cases[] = {
    T_CASE(t_known_answer),         T_CASE(t_defaults_for_missing),
    T_CASE(t_below_min_is_flat),    T_CASE(t_caps),
    T_CASE(t_bad_inputs_named),     T_CASE(t_config_errors_named),
    T_CASE(t_monotone_and_bounded),
};
T_MAIN(cases)
