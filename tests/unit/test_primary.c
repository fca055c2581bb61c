/*  ml4t_primary tests: the EMA crossover on a hand-computed series. */
#include "ml4t/primary.h"

#include "testutil.h"

/* fast = 1 (the close itself), slow = 2 (a = 2/3):
   close 10 10 12 9 9 11 -> slow 10, 10, 11.33, 9.78, 9.26, 10.42
   state 0 0 +1 -1 -1 +1 (the first +1 follows no side, so it is no cross) */
static const double s_close[6] = {10, 10, 12, 9, 9, 11};

static void t_hand_computed_cross(void)
{
    int out[6];
    CHECK_EQ_INT(ml4t_primary_ema_crossover(s_close, 6, 1, 2, ML4T_PRIMARY_CROSS, out, NULL),
                 ML4T_OK);
    const int want[6] = {0, 0, 0, -1, 0, 1};
    for (size_t i = 0; i < 6; i++)
        CHECK_EQ_INT(out[i], want[i]);
}

static void t_hand_computed_position(void)
{
    int out[6];
    CHECK_EQ_INT(ml4t_primary_ema_crossover(s_close, 6, 1, 2, ML4T_PRIMARY_POSITION, out, NULL),
                 ML4T_OK);
    const int want[6] = {0, 0, 1, -1, -1, 1};
    for (size_t i = 0; i < 6; i++)
        CHECK_EQ_INT(out[i], want[i]);
}

static void t_warmup_and_alternation(void)
{
    /* a slow sine: crosses alternate in sign, none before bar slow */
    enum { N = 3000 };
    static double c[N];
    static int cross[N], pos[N];
    for (size_t i = 0; i < N; i++)
        c[i] = 100.0 + 10.0 * sin((double)i / 60.0);
    REQUIRE(ml4t_primary_ema_crossover(c, N, 20, 50, ML4T_PRIMARY_CROSS, cross, NULL) == ML4T_OK);
    REQUIRE(ml4t_primary_ema_crossover(c, N, 20, 50, ML4T_PRIMARY_POSITION, pos, NULL) == ML4T_OK);
    int last = 0, crosses = 0;
    for (size_t i = 0; i < N; i++) {
        if (i < 50) {
            CHECK_EQ_INT(cross[i], 0);
            CHECK_EQ_INT(pos[i], 0);
            continue;
        }
        CHECK(pos[i] == 1 || pos[i] == -1);
        if (cross[i]) {
            crosses++;
            CHECK(cross[i] != last);
            CHECK_EQ_INT(cross[i], pos[i]);
            CHECK(i == 50 || pos[i - 1] == -pos[i]);
            last = cross[i];
        } else if (i > 50) {
            CHECK_EQ_INT(pos[i], pos[i - 1]);
        }
    }
    /* period 2*pi*60 ~ 377 bars: two crosses per period, ~15 in 3000 bars */
    CHECK(crosses >= 13 && crosses <= 17);
}

static void t_errors(void)
{
    int out[6];
    ml4t_error_t err;
    CHECK_EQ_INT(ml4t_primary_ema_crossover(s_close, 6, 20, 20, ML4T_PRIMARY_CROSS, out, &err),
                 ML4T_EINVAL);
    CHECK_STR(err.field, "slow");
    CHECK_EQ_INT(ml4t_primary_ema_crossover(s_close, 6, 0, 20, ML4T_PRIMARY_CROSS, out, &err),
                 ML4T_EINVAL);
    CHECK_STR(err.field, "fast");
    CHECK_EQ_INT(ml4t_primary_ema_crossover(s_close, 6, 1, 2, (ml4t_primary_mode_t)7, out, &err),
                 ML4T_EINVAL);
    CHECK_STR(err.field, "mode");
    const double bad[4] = {1, 2, NAN, 3};
    CHECK_EQ_INT(ml4t_primary_ema_crossover(bad, 4, 1, 2, ML4T_PRIMARY_CROSS, out, &err),
                 ML4T_ERANGE);
    CHECK_STR(err.field, "close[2]");
    CHECK_EQ_INT(ml4t_primary_ema_crossover(s_close, 0, 1, 2, ML4T_PRIMARY_CROSS, out, &err),
                 ML4T_OK);
}

static const t_case_t cases[] = {
    T_CASE(t_hand_computed_cross),
    T_CASE(t_hand_computed_position),
    T_CASE(t_warmup_and_alternation),
    T_CASE(t_errors),
};
T_MAIN(cases)
