/*  A tiny test harness: named cases in a table, each runnable alone.

    Usage:  static void t_parse_ok(void) { CHECK(...); }
            static const t_case_t cases[] = { T_CASE(t_parse_ok), ... };
            T_MAIN(cases)
    Run all cases, or one: `test_config t_parse_ok`. */
#ifndef ML4T_TESTUTIL_H_INCLUDED
#define ML4T_TESTUTIL_H_INCLUDED

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    void (*fn)(void);
} t_case_t;

static int t_failed_checks;

#define T_CASE(f)                                                                                  \
    {                                                                                              \
#f, f                                                                                      \
    }

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
            t_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

/* |a - b| <= tol, with the values printed on failure */
#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double t_a_ = (double)(a), t_b_ = (double)(b), t_t_ = (double)(tol);                       \
        if (!(fabs(t_a_ - t_b_) <= t_t_)) {                                                        \
            fprintf(stderr, "  %s:%d: CHECK_NEAR failed: %s = %.12g, %s = %.12g, tol %g\n",        \
                    __FILE__, __LINE__, #a, t_a_, #b, t_b_, t_t_);                                 \
            t_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                                    \
        if (t_a_ != t_b_) {                                                                        \
            fprintf(stderr, "  %s:%d: CHECK_EQ_INT failed: %s = %lld, %s = %lld\n", __FILE__,      \
                    __LINE__, #a, t_a_, #b, t_b_);                                                 \
            t_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *t_a_ = (a), *t_b_ = (b);                                                       \
        if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) {                                           \
            fprintf(stderr, "  %s:%d: CHECK_STR failed: %s = \"%s\", %s = \"%s\"\n", __FILE__,     \
                    __LINE__, #a, t_a_ ? t_a_ : "(null)", #b, t_b_ ? t_b_ : "(null)");             \
            t_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

/* Fatal precondition inside a case (e.g. a fixture that failed to load). */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);           \
            t_failed_checks++;                                                                     \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* True when ML4T_TEST_SKIP (space-separated case names) lists name. Only the
   memcheck stage sets it, for cases too heavy for valgrind (tests/valgrind.skip);
   a case named on the command line always runs. */
static inline int t_skipped(const char *name)
{
    const char *list = getenv("ML4T_TEST_SKIP");
    size_t n = strlen(name);
    for (const char *p = list ? strstr(list, name) : NULL; p; p = strstr(p + 1, name))
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

static inline int t_run(const t_case_t *cases, size_t n, int argc, char **argv)
{
    int failed = 0, ran = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        if (argc == 1 && t_skipped(cases[i].name)) {
            printf("skip - %s (ML4T_TEST_SKIP)\n", cases[i].name);
            continue;
        }
        int before = t_failed_checks;
        cases[i].fn();
        ran++;
        if (t_failed_checks != before) {
            failed++;
            printf("not ok - %s\n", cases[i].name);
        } else {
            printf("ok - %s\n", cases[i].name);
        }
        fflush(stdout);
    }
    if (ran == 0) {
        fprintf(stderr, "no test case named '%s'\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    printf("%d passed, %d failed\n", ran - failed, failed);
    return failed ? 1 : 0;
}

#define T_MAIN(cases)                                                                              \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return t_run(cases, sizeof(cases) / sizeof((cases)[0]), argc, argv);                       \
    }

/* Path of the bundled real data (one month of FILUSDT 1m bars). */
#define T_DATA_FILE ML4T_SOURCE_DIR "/examples/data/FILUSDT-1m-2023-11.csv.gz"

#endif
