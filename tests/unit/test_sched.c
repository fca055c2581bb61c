/*  ml4t_sched tests: the re-execution with a passive OpenMP policy keeps the
    program's name and arguments and happens once; a chosen policy is left alone;
    a thread's name is what ps -L shows. */
#define _GNU_SOURCE /* pthread_getname_np */
#include "ml4t/sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* test_sched --report FILE ARG: what a re-executed test_sched found, written to
   FILE: its OpenMP policy, its name, ARG and how many times it ran. */
static int s_report(const char *file, const char *arg)
{
    char comm[64] = "";
    FILE *f = fopen("/proc/self/comm", "r");
    if (f) {
        if (!fgets(comm, sizeof comm, f))
            comm[0] = '\0';
        fclose(f);
    }
    comm[strcspn(comm, "\n")] = '\0';
    const char *policy = getenv("OMP_WAIT_POLICY");
    const char *runs = getenv("ML4T_TEST_SCHED_RUNS");
    FILE *out = fopen(file, "w");
    if (!out)
        return 1;
    fprintf(out, "%s\n%s\n%s\n%s\n", policy ? policy : "", comm, arg, runs ? runs : "0");
    fclose(out);
    return 0;
}

static int s_child(const char *file, const char *policy)
{
    unsetenv("ML4T_TEST_SCHED_RUNS");
    if (policy)
        setenv("OMP_WAIT_POLICY", policy, 1);
    else
        unsetenv("OMP_WAIT_POLICY");
    char *argv[] = {"test_sched", "--report", (char *)file, "with spaces", NULL};
    int rc = ml4t_sched_passive_openmp(argv);
    /* not re-executed: report from here, as the program would carry on */
    if (s_report(file, rc == 0 ? "not re-executed" : "exec failed") != 0)
        return 1;
    return 0;
}

static bool s_run(const char *policy, char lines[4][64])
{
    char file[] = "/tmp/ml4t-test-sched-XXXXXX";
    int fd = mkstemp(file);
    if (fd < 0)
        return false;
    close(fd);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(s_child(file, policy));
    int status = 0;
    bool ok =
        pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    FILE *f = fopen(file, "r");
    for (int i = 0; i < 4; i++) {
        lines[i][0] = '\0';
        if (f && fgets(lines[i], 64, f))
            lines[i][strcspn(lines[i], "\n")] = '\0';
    }
    if (f)
        fclose(f);
    unlink(file);
    return ok;
}

static void t_reexec_passive(void)
{
    char l[4][64];
    REQUIRE(s_run(NULL, l));
    CHECK_STR(l[0], "passive");
    CHECK_STR(l[1], "test_sched");  /* its real path, not /proc/self/exe ("exe") */
    CHECK_STR(l[2], "with spaces"); /* the arguments as they were */
    CHECK_STR(l[3], "1");           /* re-executed once, not again from the new run */
}

static void t_chosen_policy_kept(void)
{
    char l[4][64];
    REQUIRE(s_run("active", l));
    CHECK_STR(l[0], "active");
    CHECK_STR(l[2], "not re-executed");
    CHECK_STR(l[3], "0");
}

static void *s_named_thread(void *arg)
{
    int *rc = arg;
    *rc = ml4t_sched_name("ml4t-a-long-thread-name");
    return NULL;
}

static void t_thread_name(void)
{
    pthread_t th;
    int rc = -1;
    REQUIRE(pthread_create(&th, NULL, s_named_thread, &rc) == 0);
    pthread_join(th, NULL);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(ml4t_sched_name("ml4t-unit"), 0);
    char name[16];
    REQUIRE(pthread_getname_np(pthread_self(), name, sizeof name) == 0);
    CHECK_STR(name, "ml4t-unit");
    CHECK_EQ_INT(ml4t_sched_name("ml4t-a-long-thread-name"), 0);
    REQUIRE(pthread_getname_np(pthread_self(), name, sizeof name) == 0);
    CHECK_STR(name, "ml4t-a-long-thr"); /* Linux keeps the first 15 bytes */
    ml4t_sched_name("test_sched");
}

static const t_case_t cases[] = {
    T_CASE(t_reexec_passive),
    T_CASE(t_chosen_policy_kept),
    T_CASE(t_thread_name),
};

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--report") == 0) {
        /* Counts its runs and calls the re-execution again, as a program's
           main() does after it: the policy is set now, so it must return. */
        const char *prev = getenv("ML4T_TEST_SCHED_RUNS");
        int n = (prev ? atoi(prev) : 0) + 1;
        char runs[16];
        snprintf(runs, sizeof runs, "%d", n);
        setenv("ML4T_TEST_SCHED_RUNS", runs, 1);
        if (n < 3)
            ml4t_sched_passive_openmp(argv);
        return s_report(argv[2], argv[3]) ? 1 : 0;
    }
    return t_run(cases, sizeof cases / sizeof cases[0], argc, argv);
}
