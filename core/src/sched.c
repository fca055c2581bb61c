/*  ml4t_sched: the calling thread's share of the CPU. */
#define _GNU_SOURCE /* SCHED_IDLE */
#include "ml4t/sched.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

int ml4t_sched_nice(int by)
{
#ifdef __linux__
    if (by <= 0)
        return 0;
    errno = 0;
    int now = getpriority(PRIO_PROCESS, 0); /* who = 0: this thread */
    if (now == -1 && errno)
        return errno;
    int want = now + by > 19 ? 19 : now + by;
    if (want > now && setpriority(PRIO_PROCESS, 0, want) != 0)
        return errno;
    return 0;
#else
    (void)by;
    return ENOSYS;
#endif
}

int ml4t_sched_idle(void)
{
#if defined(__linux__) && defined(SCHED_IDLE)
    struct sched_param sp = {.sched_priority = 0};
    return pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
#else
    return ENOSYS;
#endif
}

int ml4t_sched_name(const char *name)
{
#ifdef __linux__
    char buf[16]; /* the kernel's TASK_COMM_LEN */
    snprintf(buf, sizeof buf, "%s", name ? name : "");
    return prctl(PR_SET_NAME, (unsigned long)buf, 0, 0, 0) == 0 ? 0 : errno;
#else
    (void)name;
    return ENOSYS;
#endif
}

int ml4t_sched_passive_openmp(char **argv)
{
    if (getenv("OMP_WAIT_POLICY"))
        return 0;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0)
        return errno;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1)
        snprintf(self, sizeof self, "/proc/self/exe"); /* works, with the name "exe" */
    else
        self[n] = '\0';
    execv(self, argv);
    return errno;
}
