/*  ml4t_event tests: bar storage and validation with clear errors. */
#include "ml4t/event.h"

#include "testutil.h"

static void s_fill(ml4t_signal_t *s, size_t n)
{
    ml4t_signal_clear(s);
    snprintf(s->instrument_id, sizeof s->instrument_id, "FILUSDT");
    s->signal = 1;
    s->ts_event = 1000000000ull * 1000;
    for (size_t i = 0; i < n; i++)
        ml4t_bars_push(&s->bars, 60000000000ull * (i + 1), 10.0, 10.5, 9.5, 10.2, 100.0, 40.0);
}

static void t_valid_signal(void)
{
    ml4t_signal_t s;
    ml4t_signal_init(&s);
    s_fill(&s, 120);
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_signal_validate(&s, 100, 10000, &err), ML4T_OK);
    ml4t_signal_destroy(&s);
}

static void t_bar_count_limits(void)
{
    ml4t_signal_t s;
    ml4t_signal_init(&s);
    ml4t_error_t err;
    s_fill(&s, 50);
    CHECK_EQ_INT(ml4t_signal_validate(&s, 100, 10000, &err), ML4T_ENODATA);
    CHECK_STR(err.field, "bars");
    s_fill(&s, 300);
    CHECK_EQ_INT(ml4t_signal_validate(&s, 100, 200, &err), ML4T_ELIMIT);
    ml4t_signal_destroy(&s);
}

static void t_bad_values_named(void)
{
    ml4t_signal_t s;
    ml4t_signal_init(&s);
    ml4t_error_t err;
    struct {
        double *col;
        double v;
        const char *field;
    } cases[] = {
        {s.bars.close, NAN, "bars[5].close"},       {s.bars.open, -1.0, "bars[5].open"},
        {s.bars.low, 11.0, "bars[5].low"},          {s.bars.close, 12.0, "bars[5].close"},
        {s.bars.volume, -3.0, "bars[5].volume"},    {s.bars.buy_volume, 101.0, "bars[5].buy_volume"},
        {s.bars.high, INFINITY, "bars[5].high"},
    };
    (void)cases;
    /* columns move on reserve; resolve pointers after filling */
    for (size_t k = 0; k < 7; k++) {
        s_fill(&s, 10);
        double *cols[] = {s.bars.close, s.bars.open,   s.bars.low, s.bars.close,
                          s.bars.volume, s.bars.buy_volume, s.bars.high};
        cols[k][5] = cases[k].v;
        CHECK(ml4t_signal_validate(&s, 1, 100, &err) != ML4T_OK);
        CHECK_STR(err.field, cases[k].field);
    }
    s_fill(&s, 10);
    s.bars.ts[4] = s.bars.ts[3];
    CHECK_EQ_INT(ml4t_signal_validate(&s, 1, 100, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "bars[4].ts");
    s_fill(&s, 10);
    s.bars.buy_volume[2] = NAN; /* unknown is fine */
    CHECK_EQ_INT(ml4t_signal_validate(&s, 1, 100, &err), ML4T_OK);
    s.signal = 2;
    CHECK_EQ_INT(ml4t_signal_validate(&s, 1, 100, &err), ML4T_ERANGE);
    CHECK_STR(err.field, "signal");
    s.signal = -1;
    s.instrument_id[0] = '\0';
    CHECK_EQ_INT(ml4t_signal_validate(&s, 1, 100, &err), ML4T_EMISSING);
    CHECK_STR(err.field, "instrument_id");
    ml4t_signal_destroy(&s);
}

static void t_append_and_clear_keep_capacity(void)
{
    ml4t_bars_t a, b;
    ml4t_bars_init(&a);
    ml4t_bars_init(&b);
    for (int i = 0; i < 300; i++)
        ml4t_bars_push(&a, (uint64_t)i + 1, 1, 2, 0.5, 1.5, 10, NAN);
    CHECK_EQ_INT(ml4t_bars_append(&b, &a, 100, 50), ML4T_OK);
    CHECK_EQ_INT(b.n, 50);
    CHECK_EQ_INT(b.ts[0], 101);
    CHECK(isnan(b.buy_volume[49]));
    CHECK_EQ_INT(ml4t_bars_append(&b, &a, 290, 20), ML4T_ERANGE);
    size_t cap = a.cap;
    ml4t_bars_clear(&a);
    CHECK_EQ_INT(a.n, 0);
    CHECK_EQ_INT(a.cap, cap);
    ml4t_bars_destroy(&a);
    ml4t_bars_destroy(&b);
    ml4t_bars_destroy(&b); /* idempotent */
}

static void t_copy_id_limits(void)
{
    char buf[ML4T_INSTRUMENT_MAX + 1];
    ml4t_error_t err;
    char long_id[100];
    memset(long_id, 'A', sizeof long_id);
    CHECK_EQ_INT(ml4t_copy_id(buf, sizeof buf, long_id, 64, "instrument_id", &err), ML4T_OK);
    CHECK_EQ_INT(strlen(buf), 64);
    CHECK_EQ_INT(ml4t_copy_id(buf, sizeof buf, long_id, 65, "instrument_id", &err), ML4T_ELIMIT);
    CHECK_STR(err.field, "instrument_id");
    CHECK_EQ_INT(ml4t_copy_id(buf, sizeof buf, "a\0b", 3, "instrument_id", &err), ML4T_EFORMAT);
}

static void t_error_table(void)
{
    CHECK_STR(ml4t_strerror(ML4T_OK), "success");
    CHECK_STR(ml4t_err_reason(ML4T_EMISSING), "missing_field");
    CHECK_STR(ml4t_strerror((ml4t_err_t)999), "unknown error");
    CHECK_STR(ml4t_toxicity_level_name(ML4T_TOXICITY_HIGH), "HIGH");
}

static const t_case_t cases[] = {
    T_CASE(t_valid_signal),
    T_CASE(t_bar_count_limits),
    T_CASE(t_bad_values_named),
    T_CASE(t_append_and_clear_keep_capacity),
    T_CASE(t_copy_id_limits),
    T_CASE(t_error_table),
};
T_MAIN(cases)
