/*  ml4t_sched: the calling thread's share of the CPU.

    On Linux a nice value and a scheduling policy belong to the thread, not
    the process, and threads it creates inherit them: a background thread
    (the history writer, a training run) lowers itself so that the hot path
    wins a contended core, and each thread carries a name so that an operator
    can tell them apart. Elsewhere these do nothing and return ENOSYS. */
#ifndef ML4T_SCHED_H_INCLUDED
#define ML4T_SCHED_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

/* The range of a niceness increment, as ml4t_sched_nice takes it: 0 leaves
   the thread alone, 19 is the most it can add. The store's and the
   supervisor's nice settings are checked against it (by the library, and by
   the node's configuration). */
#define ML4T_SCHED_NICE_MIN 0
#define ML4T_SCHED_NICE_MAX 19

/* Adds by (0..19) to the calling thread's niceness, capped at 19. 0 or an
   errno value. */
int ml4t_sched_nice(int by);

/* Names the calling thread as ps -L, top -H and /proc/<pid>/task/<tid>/comm
   show it; Linux keeps the first 15 bytes. The node's threads are named
   ml4t-hot (the node actor: the hot path), ml4t-store, ml4t-supervisor and
   ml4t-sup-actor.
   0 or an errno value. */
int ml4t_sched_name(const char *name);

/* Moves the calling thread to SCHED_IDLE: it runs only on a core nothing else
   wants. An unprivileged thread cannot come back from it. 0 or an errno value. */
int ml4t_sched_idle(void);

/* For a program's main(), before anything else: XGBoost's OpenMP threads
   spin for a while after each parallel region, and on a small machine they
   then steal the core of the thread that matters (the hot path, or the thread
   a benchmark measures). libgomp reads OMP_WAIT_POLICY once, when it is
   loaded, so the policy must be in the environment before the program starts.
   When OMP_WAIT_POLICY is unset this sets it to passive and executes the
   program again with argv, by its real path (/proc/self/exe resolved) so that
   it keeps its name for ps -C, pgrep -x and top; it returns only when it did
   not re-execute: 0 when the operator had chosen a policy, else an errno
   value (the program then carries on with libgomp's default policy). */
int ml4t_sched_passive_openmp(char **argv);

#ifdef __cplusplus
}
#endif
#endif
