/*  netbench: runs, the rate search and the report (see netbench.h).

    ml4t-bench zmq|redis|streams [--json] [--quick] [--smoke] [--floor-only]
        [--node PATH] [--node-arg ARG]... [--bars 100|1|both] [--hwm N]

    Every child is tracked: SIGINT/SIGTERM kill them all, and each child has
    PR_SET_PDEATHSIG so that none outlives ml4t-bench even if it is killed. */
#include "netbench.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ml4t/clock.h"
#include "redis_server.h"

#define S_MAX_PIDS      8
#define S_MAX_NODE_ARGS 32
#define S_JOIN_LIMIT_MS 30000
#define S_MIN_RATE      250.0
#define S_BACKLOG_MS    200.0 /* see s_result_fill */

typedef enum { S_FLOOR = 0, S_NODE = 1 } s_middle_t;
static const char *s_middle_name[] = {"floor", "node"};

typedef struct {
    bool quick, smoke, floor_only, floor_twice, help;
    const char *node_path, *model;
    const char *dump_dir; /* --dump: each run's latencies, one file per run */
    const char *node_args[S_MAX_NODE_ARGS];
    int n_node_args;
    double fixed_s, probe_s, hold_s, max_rate;
    int hwm;
    int rounds;       /* a fixed rate's time is split into this many floor/node alternations */
    double max_steal; /* a run whose machine-wide steal passed this (%) is measured again */
    double only_rate; /* --rate: this fixed rate alone, no search; 0 = 1,000 and 10,000/s */
    double seconds;   /* --seconds: a fixed rate's time per middle; 0 = the default's */
    double warmup_s;  /* --warmup: warm-up signals this long after the first answers */
    bool bars100, bars1;
} s_opts_t;

/* CPU over a run's measured window (from the go signal to the receiver's
   end): the middle's threads' time on a CPU and waiting in the run queue
   (schedstat, ns; the wait of the hot-path thread only, see s_cpu_task),
   redis-server's time on a CPU, all our processes' (middle, Redis, sender,
   receiver; the last two from their rusage when reaped), the window's length, and the machine's
   steal ticks (the hypervisor running someone else on our vCPUs). Busy is ours / (window x cores)
   from schedstat: /proc/stat's user and system ticks are sampled at the timer tick, which a
   tickless core skips, so at 1,000/s they missed most of the work. CPU time per message barely
   moves with the noise that moves latency. */
typedef struct {
    uint64_t mid_run_ns, mid_wait_ns, redis_run_ns, ours_run_ns, window_ns;
    uint64_t steal_ticks;
} s_cpu_t;

/* One run's outcome. */
typedef struct {
    double rate, achieved;
    uint64_t n, received, lost, duplicates, send_failed, late_sends, errors;
    double p50_us, p99_us, p999_us, backlog_ms, max_lag_ms;
    /* the node only: its own time per signal (latency_ns in its answers) and
       the rest of each signal's way (send -> receipt less that), for the
       signals whose answer carried it (own_n of them) */
    double own_p50_us, own_p99_us, own_p999_us, rest_p50_us, rest_p99_us, rest_p999_us;
    uint64_t own_n;
    bool held;   /* every message once, the rate achieved, no backlog left */
    bool ok;     /* the run itself worked (processes started, answers came) */
    s_cpu_t cpu; /* over the measured window; pooled rounds add up */
    int repeats; /* runs (a fixed rate: rounds) measured again for steal above --max-steal */
    char note[320];
} s_result_t;

typedef struct {
    const char *suite;
    nb_transport_t transport;
    s_opts_t o;
    t_redis_t redis;   /* pid 0 with ZeroMQ; its dir is <root>/redis */
    char root[64];     /* our temporary directory: Redis's, the node's data, the model */
    char node_log[96]; /* <root>/node.log */
    char model[128];   /* the model the node serves (--model, or trained into <root>) */
    int node_runs;     /* each node run gets a fresh <root>/node-<n> data directory */
    int dumps;         /* files written to --dump */
} s_ctx_t;

/* Latencies pooled over several runs (a fixed rate's rounds): send ->
   receipt, and for the node its own time and the rest of the way. */
enum { S_E2E = 0, S_OWN, S_REST, S_SERIES };
typedef struct {
    uint64_t *v;
    size_t n, cap;
} s_vec_t;
typedef struct {
    s_vec_t s[S_SERIES];
} s_acc_t;

static void s_vec_append(s_vec_t *a, const uint64_t *v, size_t k)
{
    if (k == 0)
        return; /* the floor has no own times: a->v may still be NULL */
    if (a->n + k > a->cap) {
        size_t cap = (a->n + k) * 2;
        uint64_t *nv = realloc(a->v, cap * sizeof *nv);
        if (!nv)
            return; /* the pooled figures then leave this run out */
        a->v = nv, a->cap = cap;
    }
    memcpy(a->v + a->n, v, k * sizeof *v);
    a->n += k;
}

/* p50, p99 and p999 of v[0..k), in us. */
static void s_pcts(uint64_t *v, size_t k, double *p50, double *p99, double *p999)
{
    *p50 = ml4t_bench_percentile(v, k, 50.0) / 1e3;
    *p99 = ml4t_bench_percentile(v, k, 99.0) / 1e3;
    *p999 = ml4t_bench_percentile(v, k, 99.9) / 1e3;
}

/* ---------------------------------------------------------------- processes */

static volatile pid_t s_pids[S_MAX_PIDS];
static char s_root_sig[64]; /* for the signal handler */

static void s_track(pid_t pid)
{
    for (int i = 0; i < S_MAX_PIDS; i++)
        if (s_pids[i] <= 0) {
            s_pids[i] = pid;
            return;
        }
}

static void s_untrack(pid_t pid)
{
    for (int i = 0; i < S_MAX_PIDS; i++)
        if (s_pids[i] == pid)
            s_pids[i] = 0;
}

static void s_on_signal(int sig)
{
    for (int i = 0; i < S_MAX_PIDS; i++)
        if (s_pids[i] > 0)
            kill(s_pids[i], SIGKILL);
    for (int i = 0; i < S_MAX_PIDS; i++)
        if (s_pids[i] > 0)
            waitpid(s_pids[i], NULL, 0);
    if (s_root_sig[0] && fork() == 0) /* fork and exec are async-signal-safe */
        execl("/bin/rm", "rm", "-rf", s_root_sig, (char *)NULL), _exit(127);
    wait(NULL);
    static const char msg[] = "ml4t-bench: interrupted, every process it started was killed\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(128 + sig);
    _exit(128 + sig);
}

static void s_child_setup(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

static pid_t s_spawn_role(int (*role)(const nb_run_t *, nb_shared_t *), const nb_run_t *run,
                          nb_shared_t *sh)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        s_child_setup();
        _exit(role(run, sh));
    }
    if (pid > 0)
        s_track(pid);
    return pid;
}

/* Wait up to ms for pid; SIGKILL it after that. Returns its wait status, -1 if killed. */
/* Wait up to ms for pid; SIGKILL it after that. Returns its wait status, -1
   if killed; cpu_ns (optional): the CPU time it used in its whole life. */
static int s_reap_cpu(pid_t pid, int sig, long ms, uint64_t *cpu_ns)
{
    if (pid <= 0)
        return -1;
    if (sig)
        kill(pid, sig);
    int status = 0;
    struct rusage ru = {0};
    for (long waited = 0;; waited += 5) {
        pid_t r = wait4(pid, &status, WNOHANG, &ru);
        if (r == pid || (r < 0 && errno != EINTR))
            break;
        if (waited >= ms) {
            kill(pid, SIGKILL);
            wait4(pid, &status, 0, &ru);
            status = -1;
            break;
        }
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    s_untrack(pid);
    if (cpu_ns)
        *cpu_ns = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
                  (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
    return status;
}

static int s_reap(pid_t pid, int sig, long ms)
{
    return s_reap_cpu(pid, sig, ms, NULL);
}

static bool s_alive(pid_t pid)
{
    return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

/* ---------------------------------------------------------------- Redis */

static bool s_redis_ok(const s_ctx_t *ctx, const char *cmd)
{
    redisReply *r = t_redis_cmd(&ctx->redis, "%s", cmd);
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject(r);
    return ok;
}

/* Our own redis-server on a free loopback port, never the system's. Pub/sub
   output buffers may grow to 1 GB before Redis drops a subscriber, so that a
   drop means real overload, as with the ZeroMQ high-water marks. */
static bool s_redis_start(s_ctx_t *ctx)
{
    static const char *const extra[] = {"--client-output-buffer-limit", "pubsub 1gb 1gb 0", NULL};
    t_redis_t *r = &ctx->redis;
    snprintf(r->dir, sizeof r->dir, "%s/redis", ctx->root);
    if (mkdir(r->dir, 0700) != 0)
        return false;
    r->extra = extra;
    fflush(stdout);
    bool up = t_redis_start(r);
    if (r->pid > 0)
        s_track(r->pid);
    return up;
}

static void s_redis_stop(s_ctx_t *ctx)
{
    s_untrack(ctx->redis.pid);
    t_redis_stop(&ctx->redis);
}

/* ---------------------------------------------------------------- the node */

static void s_node_argv(const s_ctx_t *ctx, const nb_run_t *run, const char *data_dir,
                        const char **argv, char buf[][96])
{
    static const char *names[] = {"zmq", "redis", "streams"};
    int a = 0;
    snprintf(buf[0], 96, "@tcp://127.0.0.1:%d", run->port_in);
    snprintf(buf[1], 96, "@tcp://127.0.0.1:%d", run->port_out);
    snprintf(buf[2], 96, "@tcp://127.0.0.1:%d", run->port_ctl);
    snprintf(buf[3], 96, "%d", run->hwm);
    snprintf(buf[4], 96, "%d", run->redis_port);
    const char *common[] = {ctx->o.node_path, "--transport",  names[run->transport],
                            "--signals",      buf[0],         "--enriched",
                            buf[1],           "--control",    buf[2],
                            "--data-dir",     data_dir,       "--model-path",
                            ctx->model,       "--zmq.sndhwm", buf[3],
                            "--zmq.rcvhwm",   buf[3]};
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
        argv[a++] = common[i];
    if (run->transport != NB_ZMQ) {
        argv[a++] = "--redis.port";
        argv[a++] = buf[4];
        argv[a++] = "--redis.maxlen"; /* the floor's and the sender's trim */
        argv[a++] = buf[3];
        argv[a++] = "--redis.consumer";
        argv[a++] = "node";
    }
    for (int i = 0; i < ctx->o.n_node_args; i++)
        argv[a++] = ctx->o.node_args[i];
    argv[a] = NULL;
}

/* Start argv with its output in the node's log (tracked for cleanup). */
static pid_t s_spawn_logged(const s_ctx_t *ctx, const char *const *argv)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        s_child_setup();
        int log = open(ctx->node_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pid > 0)
        s_track(pid);
    return pid;
}

/* The node with a fresh data directory (history store, registry) per run. */
static pid_t s_spawn_node(s_ctx_t *ctx, const nb_run_t *run)
{
    const char *argv[S_MAX_NODE_ARGS + 32];
    char buf[5][96], data_dir[96];
    snprintf(data_dir, sizeof data_dir, "%s/node-%d", ctx->root, ++ctx->node_runs);
    if (mkdir(data_dir, 0700) != 0)
        return -1;
    s_node_argv(ctx, run, data_dir, argv, buf);
    return s_spawn_logged(ctx, argv);
}

/* Run a program to its end with its output in the node's log; true on exit 0. */
static bool s_exec_wait(const s_ctx_t *ctx, const char *const *argv)
{
    pid_t pid = s_spawn_logged(ctx, argv);
    if (pid < 0)
        return false;
    int st = s_reap(pid, 0, 600000);
    return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The node serves a real model: --model, or one trained now on the bundled month
   with ml4t-train's defaults. */
static bool s_model(s_ctx_t *ctx)
{
    if (ctx->o.model) {
        snprintf(ctx->model, sizeof ctx->model, "%s", ctx->o.model);
        return access(ctx->model, R_OK) == 0;
    }
    char out[96];
    snprintf(out, sizeof out, "%s/model", ctx->root);
    snprintf(ctx->model, sizeof ctx->model, "%s/model.ubj", out);
    const char *argv[] = {ML4T_BINARY_DIR "/bin/ml4t-train",
                          "--bars",
                          ML4T_BENCH_DATA_FILE,
                          "--out",
                          out,
                          "--quiet",
                          NULL};
    fprintf(stderr, "ml4t-bench %s: training the node's model (%s)\n", ctx->suite, argv[0]);
    return s_exec_wait(ctx, argv) && access(ctx->model, R_OK) == 0;
}

/* The last lines of the node's log, for an error message. */
static void s_node_log_tail(const s_ctx_t *ctx)
{
    FILE *f = fopen(ctx->node_log, "r");
    if (!f)
        return;
    char tail[2048];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)sizeof tail - 1 ? size - (long)sizeof tail + 1 : 0, SEEK_SET);
    size_t n = fread(tail, 1, sizeof tail - 1, f);
    tail[n] = '\0';
    fclose(f);
    fprintf(stderr, "--- %s (last lines) ---\n%s\n---\n", ctx->node_log, tail);
}

/* ---------------------------------------------------------------- one run */

/* Wait until the receiver has heard answers for every instrument (the node may
   need history before it answers), then warm_ms more of warm-up signals, or
   until something died. */
static bool s_wait_joined(nb_shared_t *sh, pid_t middle, pid_t rx, pid_t tx, int warm_ms, char *why,
                          size_t n)
{
    int joined_at = -1;
    for (int ms = 0; ms < S_JOIN_LIMIT_MS + warm_ms; ms += 5) {
        if (joined_at < 0 && sh->warmup_received >= 2 * NB_INSTRUMENTS)
            joined_at = ms;
        if (joined_at >= 0 && ms - joined_at >= warm_ms)
            return true;
        if (joined_at < 0 && ms >= S_JOIN_LIMIT_MS)
            break;
        pid_t dead = !s_alive(middle) ? middle : !s_alive(rx) ? rx : !s_alive(tx) ? tx : 0;
        if (dead) {
            snprintf(why, n, "%s exited during warm-up%s%s",
                     dead == middle ? "the middle process"
                     : dead == rx   ? "the receiver"
                                    : "the sender",
                     sh->error[0] ? ": " : "", sh->error);
            return false;
        }
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    snprintf(why, n, "no answer to %llu warm-up signals within %d s (answers seen: %llu)",
             (unsigned long long)sh->warmup_sent, S_JOIN_LIMIT_MS / 1000,
             (unsigned long long)sh->warmup_received);
    return false;
}

/* ---------------------------------------------------------------- CPU */

/* Adds the time on a CPU of every thread of pid to run, and the run-queue
   wait of its hot-path thread to wait: the node's is named ml4t-hot (a thread
   the hot path starts inherits the name, and adds little), the floor's is its
   main thread. The node's other threads wait by design (the history writer
   runs under SCHED_IDLE), so their wait says nothing about the hot path. */
static void s_cpu_task(pid_t pid, bool node, uint64_t *run, uint64_t *wait)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    if (!dir)
        return;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char file[96], comm[32] = "";
        bool hot = false; /* only asked for when wait is */
        if (wait && node) {
            snprintf(file, sizeof file, "%s/%.16s/comm", path, e->d_name);
            FILE *c = fopen(file, "r");
            if (c && fgets(comm, sizeof comm, c))
                comm[strcspn(comm, "\n")] = '\0';
            if (c)
                fclose(c);
            hot = strcmp(comm, "ml4t-hot") == 0;
        } else if (wait) {
            hot = atoi(e->d_name) == (int)pid;
        }
        snprintf(file, sizeof file, "%s/%.16s/schedstat", path, e->d_name);
        FILE *f = fopen(file, "r");
        unsigned long long r, w;
        if (f && fscanf(f, "%llu %llu", &r, &w) == 2) {
            *run += r;
            if (wait && hot)
                *wait += w;
        }
        if (f)
            fclose(f);
    }
    closedir(dir);
}

/* The machine's steal ticks, from /proc/stat's first line (field 8). */
static uint64_t s_cpu_steal(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                    &v[4], &v[5], &v[6], &v[7]) != 8)
        v[7] = 0;
    if (f)
        fclose(f);
    return v[7];
}

/* The middle's and Redis's times now (ours_run_ns: the two together; s_run
   adds the sender's and receiver's, which are gone by the window's end). */
static void s_cpu_sample(const s_ctx_t *ctx, bool node, pid_t mid, s_cpu_t *out)
{
    memset(out, 0, sizeof *out);
    out->window_ns = ml4t_clock_mono_ns();
    s_cpu_task(mid, node, &out->mid_run_ns, &out->mid_wait_ns);
    if (ctx->redis.pid > 0)
        s_cpu_task(ctx->redis.pid, false, &out->redis_run_ns, NULL);
    out->ours_run_ns = out->mid_run_ns + out->redis_run_ns;
    out->steal_ticks = s_cpu_steal();
}

/* b - a, each field; a thread that ended inside the window takes its time
   with it, so a field that would go negative is 0. */
static s_cpu_t s_cpu_delta(const s_cpu_t *a, const s_cpu_t *b)
{
#define S_D(f) (b->f > a->f ? b->f - a->f : 0)
    s_cpu_t d = {S_D(mid_run_ns),  S_D(mid_wait_ns), S_D(redis_run_ns),
                 S_D(ours_run_ns), S_D(window_ns),   S_D(steal_ticks)};
#undef S_D
    return d;
}

static void s_cpu_add(s_cpu_t *to, const s_cpu_t *d)
{
    to->mid_run_ns += d->mid_run_ns;
    to->mid_wait_ns += d->mid_wait_ns;
    to->redis_run_ns += d->redis_run_ns;
    to->ours_run_ns += d->ours_run_ns;
    to->window_ns += d->window_ns;
    to->steal_ticks += d->steal_ticks;
}

/* Per message received, in us; the steal as a percentage of the machine. */
static double s_cpu_us(uint64_t ns, const s_result_t *r)
{
    return r->received ? (double)ns / 1e3 / (double)r->received : 0.0;
}

/* The machine's cores and clock ticks a second, read once (main thread only). */
static long s_sysconf(int name, long fallback)
{
    static long cores, ticks;
    long *v = name == _SC_CLK_TCK ? &ticks : &cores;
    if (*v == 0) {
        long got = sysconf(name);
        *v = got > 0 ? got : fallback;
    }
    return *v;
}

/* The machine's capacity over the window, in ns of CPU. */
static double s_cpu_capacity_ns(const s_result_t *r)
{
    return (double)r->cpu.window_ns * (double)s_sysconf(_SC_NPROCESSORS_ONLN, 1);
}

static double s_steal_pct(const s_result_t *r)
{
    double cap = s_cpu_capacity_ns(r);
    return cap > 0 ? 100.0 * (double)r->cpu.steal_ticks * 1e9 /
                         (double)s_sysconf(_SC_CLK_TCK, 100) / cap
                   : 0.0;
}

/* How much of the machine our processes kept busy (middle, Redis, sender, receiver). */
static double s_busy_pct(const s_result_t *r)
{
    double cap = s_cpu_capacity_ns(r);
    return cap > 0 ? 100.0 * (double)r->cpu.ours_run_ns / cap : 0.0;
}

static void s_result_fill(s_result_t *res, const nb_run_t *run, nb_shared_t *sh, s_acc_t *acc)
{
    res->n = run->n;
    res->received = sh->received;
    res->lost = run->n - sh->received;
    res->duplicates = sh->duplicates;
    res->errors = sh->errors;
    res->send_failed = sh->send_failed;
    res->late_sends = sh->late_sends;
    res->max_lag_ms = (double)sh->max_lag_ns / 1e6;
    uint64_t span = sh->last_send_ns - sh->first_send_ns;
    res->achieved = run->n > 1 && span ? (double)(run->n - 1) * 1e9 / (double)span : run->rate;
    res->backlog_ms = sh->last_recv_ns > sh->last_send_ns
                          ? (double)(sh->last_recv_ns - sh->last_send_ns) / 1e6
                          : 0.0;
    size_t cap = sh->received ? sh->received : 1;
    uint64_t *lat = malloc(3 * cap * sizeof *lat);
    uint64_t *own = lat ? lat + cap : NULL, *rest = lat ? lat + 2 * cap : NULL;
    const uint64_t *own_ns = nb_own_ns(sh, run->n);
    size_t k = 0, ko = 0;
    for (uint64_t i = 0; lat && i < run->n; i++) {
        if (!sh->lat_ns[i])
            continue;
        lat[k++] = sh->lat_ns[i];
        if (own_ns[i]) {
            own[ko] = own_ns[i];
            rest[ko++] = sh->lat_ns[i] > own_ns[i] ? sh->lat_ns[i] - own_ns[i] : 0;
        }
    }
    s_pcts(lat, k, &res->p50_us, &res->p99_us, &res->p999_us);
    res->own_n = ko;
    s_pcts(own, ko, &res->own_p50_us, &res->own_p99_us, &res->own_p999_us);
    s_pcts(rest, ko, &res->rest_p50_us, &res->rest_p99_us, &res->rest_p999_us);
    if (acc && lat) {
        s_vec_append(&acc->s[S_E2E], lat, k);
        s_vec_append(&acc->s[S_OWN], own, ko);
        s_vec_append(&acc->s[S_REST], rest, ko);
    }
    free(lat);
    /* Held: every message exactly once, and kept up with. 5% slack on the rate
       for the pacing loop's jitter; a middle that falls behind ends the run
       with a queue, seen as the last answer arriving long after the last send. */
    res->held = res->lost == 0 && res->duplicates == 0 && res->achieved >= 0.95 * run->rate &&
                res->backlog_ms < S_BACKLOG_MS;
    if (!res->held && !res->note[0])
        snprintf(res->note, sizeof res->note, "%s",
                 res->lost         ? "lost messages"
                 : res->duplicates ? "duplicates"
                 : res->achieved < 0.95 * run->rate
                     ? "sender could not hold the rate"
                     : "a queue was left: last answer >= 200 ms after the last send");
}

/* True when the middle run in this slot is the node (not with --floor-twice). */
static bool s_is_node(const s_ctx_t *ctx, s_middle_t middle)
{
    return middle == S_NODE && !ctx->o.floor_twice;
}

/* What runs in slot m: the floor, or in the node's slot the node, or the
   floor again (--floor-twice). */
static const char *s_slot_name(const s_ctx_t *ctx, s_middle_t m)
{
    return m == S_NODE && ctx->o.floor_twice ? "floor2" : s_middle_name[m];
}

static void s_stop_middle(const s_ctx_t *ctx, s_middle_t middle, pid_t pid, nb_shared_t *sh,
                          s_result_t *res)
{
    atomic_store(&sh->stop, 1);
    if (!s_is_node(ctx, middle)) {
        s_reap(pid, 0, 2000);
        return;
    }
    int st = s_reap(pid, SIGTERM, 5000);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(res->note, sizeof res->note, "node did not exit 0 on SIGTERM (status %d)", st);
        s_node_log_tail(ctx);
    }
}

/* --dump: the run's latencies in send order, one per line (0: never received),
   to see when in a run a tail came (a stall, a slow start) and not only how big. */
static void s_dump(s_ctx_t *ctx, s_middle_t middle, const nb_run_t *run, nb_shared_t *sh)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%03d-%s-%zubar-%s-%.0f.txt", ctx->o.dump_dir, ctx->dumps++,
             ctx->suite, run->pool->bars, s_slot_name(ctx, middle), run->rate);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "ml4t-bench %s: cannot write %s\n", ctx->suite, path);
        return;
    }
    const uint64_t *own = nb_own_ns(sh, run->n);
    for (uint64_t i = 0; i < run->n; i++)
        if (s_is_node(ctx, middle))
            fprintf(f, "%llu %llu\n", (unsigned long long)sh->lat_ns[i],
                    (unsigned long long)own[i]);
        else
            fprintf(f, "%llu\n", (unsigned long long)sh->lat_ns[i]);
    fclose(f);
}

/* Start middle, receiver, sender; warm up; measure; tear everything down. */
static bool s_run(s_ctx_t *ctx, s_middle_t middle, nb_pool_t *pool, double rate, double seconds,
                  s_result_t *res, s_acc_t *acc)
{
    memset(res, 0, sizeof *res);
    res->rate = rate;
    nb_run_t run = {ctx->transport,
                    t_free_port(),
                    t_free_port(),
                    t_free_port(),
                    ctx->redis.port,
                    ctx->o.hwm,
                    rate,
                    0,
                    pool};
    run.n = (uint64_t)fmax(1.0, rate * seconds);
    size_t bytes = sizeof(nb_shared_t) + 2 * run.n * sizeof(uint64_t);
    nb_shared_t *sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        snprintf(res->note, sizeof res->note, "cannot map %zu bytes", bytes);
        return false;
    }
    if (ctx->transport != NB_ZMQ && !s_redis_ok(ctx, "FLUSHALL")) {
        snprintf(res->note, sizeof res->note, "Redis did not answer FLUSHALL");
        munmap(sh, bytes);
        return false;
    }
    pid_t mid =
        s_is_node(ctx, middle) ? s_spawn_node(ctx, &run) : s_spawn_role(nb_role_floor, &run, sh);
    pid_t rx = s_spawn_role(nb_role_receiver, &run, sh);
    pid_t tx = s_spawn_role(nb_role_sender, &run, sh);
    res->ok =
        mid > 0 && rx > 0 && tx > 0 &&
        s_wait_joined(sh, mid, rx, tx, (int)(ctx->o.warmup_s * 1000), res->note, sizeof res->note);
    if (res->ok) {
        s_cpu_t c0, c1;
        uint64_t rx0 = 0, tx0 = 0, rx1 = 0, tx1 = 0;
        s_cpu_task(rx, false, &rx0, NULL);
        s_cpu_task(tx, false, &tx0, NULL);
        s_cpu_sample(ctx, s_is_node(ctx, middle), mid, &c0);
        atomic_store(&sh->go, 1);
        int st_rx = s_reap_cpu(rx, 0, (long)(seconds * 1000) + 60000, &rx1);
        s_cpu_sample(ctx, s_is_node(ctx, middle), mid, &c1);
        atomic_store(&sh->stop, 1); /* the sender keeps its socket open until now */
        int st_tx = s_reap_cpu(tx, 0, 30000, &tx1);
        res->cpu = s_cpu_delta(&c0, &c1);
        res->cpu.ours_run_ns += (rx1 > rx0 ? rx1 - rx0 : 0) + (tx1 > tx0 ? tx1 - tx0 : 0);
        if (st_tx != 0 || st_rx != 0) {
            res->ok = false;
            snprintf(res->note, sizeof res->note, "sender/receiver failed: %s", sh->error);
        }
    }
    atomic_store(&sh->stop, 1);
    s_reap(tx, SIGKILL, 1000);
    s_reap(rx, SIGKILL, 1000);
    s_stop_middle(ctx, middle, mid, sh, res);
    if (res->ok && s_is_node(ctx, middle) && sh->own_found != sh->received) {
        res->ok = false; /* the schema makes latency_ns required: the receiver misread it */
        snprintf(res->note, sizeof res->note, "%llu of %llu answers without a readable latency_ns",
                 (unsigned long long)(sh->received - sh->own_found),
                 (unsigned long long)sh->received);
    }
    if (res->ok) {
        s_result_fill(res, &run, sh, acc);
        if (ctx->o.dump_dir)
            s_dump(ctx, middle, &run, sh);
    } else if (s_is_node(ctx, middle))
        s_node_log_tail(ctx);
    munmap(sh, bytes);
    return res->ok;
}

/* ---------------------------------------------------------------- the search */

static double s_round_rate(double r)
{
    double step = r >= 10000 ? 1000 : r >= 1000 ? 100 : 10;
    return fmax(step, round(r / step) * step);
}

static void s_progress(const s_ctx_t *ctx, s_middle_t m, size_t bars, const char *what,
                       const s_result_t *r)
{
    fprintf(
        stderr,
        "  %s %zu-bar %-5s %-6s %7.0f/s: %s  sent %llu lost %llu dup %llu err %llu  p50 %.0f us  "
        "p99 %.0f us  achieved %.0f/s  backlog %.0f ms  cpu/msg %.1f us (runq %.1f)",
        ctx->suite, bars, s_slot_name(ctx, m), what, r->rate, r->held ? "held" : "NOT held",
        (unsigned long long)r->n, (unsigned long long)r->lost, (unsigned long long)r->duplicates,
        (unsigned long long)r->errors, r->p50_us, r->p99_us, r->achieved, r->backlog_ms,
        s_cpu_us(r->cpu.mid_run_ns, r), s_cpu_us(r->cpu.mid_wait_ns, r));
    if (ctx->transport != NB_ZMQ)
        fprintf(stderr, " redis %.1f us", s_cpu_us(r->cpu.redis_run_ns, r));
    if (r->own_n)
        fprintf(stderr, "  own p99 %.0f us, rest p99 %.0f us", r->own_p99_us, r->rest_p99_us);
    fprintf(stderr, "  busy %.0f%% steal %.0f%%%s%s\n", s_busy_pct(r), s_steal_pct(r),
            r->note[0] ? "  " : "", r->note);
}

/* How many times a probe or hold, or a fixed rate's rounds, may be measured
   again because the machine's steal passed --max-steal; after that the last
   run counts, steal and all (its steal is printed). */
#define S_STEAL_REPEATS 2

/* Whether runs under steal are measured again at all (never in --smoke). */
static bool s_steal_guard(const s_ctx_t *ctx)
{
    return !ctx->o.smoke && ctx->o.max_steal < 100;
}

/* True when r ran while the hypervisor took more than --max-steal of the machine. */
static bool s_stolen(const s_ctx_t *ctx, const s_result_t *r)
{
    return s_steal_guard(ctx) && s_steal_pct(r) > ctx->o.max_steal;
}

static bool s_measure(s_ctx_t *ctx, s_middle_t m, nb_pool_t *pool, double rate, double seconds,
                      const char *what, s_result_t *res)
{
    for (int repeats = 0;; repeats++) {
        bool ok = s_run(ctx, m, pool, rate, seconds, res, NULL);
        if (!ok) {
            fprintf(stderr, "ml4t-bench %s: %s run at %.0f/s failed: %s\n", ctx->suite,
                    s_middle_name[m], rate, res->note);
            return false;
        }
        res->repeats = repeats;
        bool again = repeats < S_STEAL_REPEATS && s_stolen(ctx, res);
        if (again)
            snprintf(res->note, sizeof res->note, "steal above %.0f%%: measured again",
                     ctx->o.max_steal);
        s_progress(ctx, m, pool->bars, what, res);
        if (!again)
            return true;
    }
}

/* Highest rate held with zero loss: double (or halve) from the 10,000/s run
   until the verdict flips, bisect to within 10%, then hold the candidate for
   hold_s, stepping down 15% if it does not hold. 0: nothing held. -1: a run failed. */
static double s_search(s_ctx_t *ctx, s_middle_t m, nb_pool_t *pool, const s_result_t *start,
                       s_result_t *best)
{
    double lo = start->held ? start->rate : 0, hi = start->held ? 0 : start->rate;
    double r = start->held ? lo * 2 : hi / 2;
    s_result_t res;
    while ((lo == 0 || hi == 0) && r >= S_MIN_RATE && r <= ctx->o.max_rate) {
        if (!s_measure(ctx, m, pool, r, ctx->o.probe_s, "probe", &res))
            return -1;
        if (res.held)
            lo = r, r = hi == 0 ? r * 2 : r;
        else
            hi = r, r = lo == 0 ? r / 2 : r;
    }
    if (lo == 0)
        return 0;
    for (int i = 0; i < 4 && hi > lo * 1.1; i++) {
        r = s_round_rate((lo + hi) / 2);
        if (!s_measure(ctx, m, pool, r, ctx->o.probe_s, "probe", &res))
            return -1;
        *(res.held ? &lo : &hi) = r;
    }
    for (int i = 0; i < 4 && lo >= S_MIN_RATE; i++) {
        if (!s_measure(ctx, m, pool, lo, ctx->o.hold_s, "hold", best))
            return -1;
        if (best->held)
            return lo;
        lo = s_round_rate(lo * 0.85);
    }
    return 0;
}

/* ---------------------------------------------------------------- one message size */

#define S_FIXED_RATES 2
static const double s_fixed_rates[S_FIXED_RATES] = {1000.0, 10000.0};

/* A fixed rate's rounds side by side: the node's p99 in each round over the
   floor's in the same round (the two ran back to back, so they shared the
   machine's state then). The pooled p99 is decided by the few rounds a stall
   lands in; the median of these ratios says what a typical round showed. */
typedef struct {
    int n;                   /* rounds compared */
    int within;              /* rounds with a ratio <= 1.3 */
    double p50, geo, lo, hi; /* geo: the geometric mean, for ratios the fair mean */
} s_pairs_t;

typedef struct {
    size_t bars;
    double msg_bytes;
    int n_rates;
    double rates[S_FIXED_RATES];
    s_result_t fixed[S_FIXED_RATES][2]; /* [rate][middle] */
    s_pairs_t pairs[S_FIXED_RATES];     /* with both middles */
    double best_rate[2];                /* highest held rate per middle, 0 = none */
    s_result_t best[2];                 /* its hold run */
    bool searched;
} s_size_t;

/* Adds one round's run to a fixed rate's result (the first round is copied). */
static void s_round_add(s_result_t *t, const s_result_t *part, bool first)
{
    if (first) {
        *t = *part;
        return;
    }
    s_cpu_add(&t->cpu, &part->cpu);
    t->n += part->n;
    t->received += part->received;
    t->lost += part->lost;
    t->duplicates += part->duplicates;
    t->errors += part->errors;
    t->send_failed += part->send_failed;
    t->late_sends += part->late_sends;
    t->achieved = fmin(t->achieved, part->achieved);
    t->backlog_ms = fmax(t->backlog_ms, part->backlog_ms);
    t->max_lag_ms = fmax(t->max_lag_ms, part->max_lag_ms);
    if ((t->held && !part->held) || (!t->note[0] && part->note[0]))
        snprintf(t->note, sizeof t->note, "%s", part->note);
    t->held = t->held && part->held;
}

/* The node's p99 over the floor's (the goal's ratio). */
static double s_p99_ratio(const s_result_t *node, const s_result_t *fwd)
{
    return node->p99_us / fmax(fwd->p99_us, 1e-9);
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The n rounds' ratios (sorted here) into p. */
static void s_pairs_fill(s_pairs_t *p, double *ratio, int n)
{
    memset(p, 0, sizeof *p);
    if (n <= 0)
        return;
    qsort(ratio, (size_t)n, sizeof *ratio, s_cmp_double);
    p->n = n;
    p->p50 = n % 2 ? ratio[n / 2] : 0.5 * (ratio[n / 2 - 1] + ratio[n / 2]);
    p->lo = ratio[0];
    p->hi = ratio[n - 1];
    double logs = 0.0;
    for (int i = 0; i < n; i++) {
        p->within += ratio[i] <= 1.3;
        logs += log(fmax(ratio[i], 1e-9));
    }
    p->geo = exp(logs / n);
}

/* One fixed rate: floor and node alternate in o.rounds rounds of
   fixed_s / rounds seconds each (floor first, then node first, ...), so that a
   burst of outside load lands on both rather than on whichever happened to run
   then; each one's latencies are pooled over its rounds. A round in which the
   machine's steal passed --max-steal for either of them is measured again,
   both runs, up to S_STEAL_REPEATS x rounds times in all: the comparison is
   then made on the rounds the hypervisor left alone. With both middles, each
   kept round's p99 ratio goes into pairs too. */
static bool s_fixed(s_ctx_t *ctx, nb_pool_t *pool, double rate, int middles, s_result_t *out,
                    s_pairs_t *pairs)
{
    int rounds = ctx->o.rounds, repeats = 0;
    double ratio[100]; /* --rounds is at most 100 */
    s_acc_t acc[2];
    memset(acc, 0, sizeof acc);
    bool ok = true;
    for (int r = 0; ok && r < rounds; r++) {
        s_result_t part[2];
        size_t kept[2][S_SERIES];
        for (int m = 0; m < 2; m++)
            for (int q = 0; q < S_SERIES; q++)
                kept[m][q] = acc[m].s[q].n;
        bool stolen = false;
        for (int k = 0; ok && k < middles; k++) {
            /* who goes first swaps every round: with the floor always first,
               --floor-twice showed the second slot's p99 7-24 % higher in 7
               of 8 comparisons of the floor with itself */
            int m = middles == 2 && r % 2 ? 1 - k : k;
            ok = s_run(ctx, (s_middle_t)m, pool, rate, ctx->o.fixed_s / rounds, &part[m], &acc[m]);
            if (!ok) {
                fprintf(stderr, "ml4t-bench %s: %s run at %.0f/s failed: %s\n", ctx->suite,
                        s_middle_name[m], rate, part[m].note);
                break;
            }
            stolen = stolen || s_stolen(ctx, &part[m]);
        }
        if (!ok)
            break;
        if (stolen && repeats < S_STEAL_REPEATS * rounds) {
            repeats++;
            for (int m = 0; m < middles; m++)
                for (int q = 0; q < S_SERIES; q++)
                    acc[m].s[q].n = kept[m][q]; /* this round's latencies are dropped */
            fprintf(stderr,
                    "  %s %zu-bar round %d at %.0f/s measured again: steal %.0f%% (floor) "
                    "%.0f%% (%s), above %.0f%%\n",
                    ctx->suite, pool->bars, r + 1, rate, s_steal_pct(&part[S_FLOOR]),
                    middles == 2 ? s_steal_pct(&part[S_NODE]) : 0.0,
                    middles == 2 ? s_middle_name[S_NODE] : "-", ctx->o.max_steal);
            r--;
            continue;
        }
        for (int m = 0; m < middles; m++)
            s_round_add(&out[m], &part[m], r == 0);
        if (middles == 2) {
            ratio[r] = s_p99_ratio(&part[S_NODE], &part[S_FLOOR]);
            fprintf(stderr,
                    "  %s %zu-bar round %d at %.0f/s: p99 floor %.0f us, %s %.0f us (%.2f)\n",
                    ctx->suite, pool->bars, r + 1, rate, part[S_FLOOR].p99_us,
                    s_slot_name(ctx, S_NODE), part[S_NODE].p99_us, ratio[r]);
        }
    }
    s_pairs_fill(pairs, ratio, ok && middles == 2 ? rounds : 0);
    for (int m = 0; ok && m < middles; m++) {
        out[m].repeats = repeats;
        s_result_t *o = &out[m];
        s_vec_t *v = acc[m].s;
        s_pcts(v[S_E2E].v, v[S_E2E].n, &o->p50_us, &o->p99_us, &o->p999_us);
        o->own_n = v[S_OWN].n;
        s_pcts(v[S_OWN].v, v[S_OWN].n, &o->own_p50_us, &o->own_p99_us, &o->own_p999_us);
        s_pcts(v[S_REST].v, v[S_REST].n, &o->rest_p50_us, &o->rest_p99_us, &o->rest_p999_us);
        s_progress(ctx, (s_middle_t)m, pool->bars, "fixed", o);
    }
    for (int m = 0; m < 2; m++)
        for (int q = 0; q < S_SERIES; q++)
            free(acc[m].s[q].v);
    return ok;
}

static bool s_size_run(s_ctx_t *ctx, nb_pool_t *pool, s_size_t *z)
{
    int middles = ctx->o.floor_only ? 1 : 2;
    z->bars = pool->bars;
    z->msg_bytes = pool->mean_len;
    bool one = ctx->o.smoke || ctx->o.only_rate > 0;
    z->n_rates = one ? 1 : S_FIXED_RATES;
    for (int i = 0; i < z->n_rates; i++) {
        z->rates[i] = ctx->o.smoke ? 500.0 : one ? ctx->o.only_rate : s_fixed_rates[i];
        if (!s_fixed(ctx, pool, z->rates[i], middles, z->fixed[i], &z->pairs[i]))
            return false;
    }
    if (one)
        return true;
    z->searched = true;
    for (int m = 0; m < middles; m++) {
        z->best_rate[m] =
            s_search(ctx, (s_middle_t)m, pool, &z->fixed[z->n_rates - 1][m], &z->best[m]);
        if (z->best_rate[m] < 0)
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------- report */

static void s_print_lat(const s_result_t *r, bool present)
{
    if (!present) {
        printf(" %8s %8s %8s %6s |", "-", "-", "-", "-");
        return;
    }
    printf(" %8.0f %8.0f %8.0f %6llu |", r->p50_us, r->p99_us, r->p999_us,
           (unsigned long long)r->lost);
}

static void s_print_cpu_one(const s_ctx_t *ctx, const s_result_t *r, bool present)
{
    if (!present)
        printf(" %8s %8s |", "-", "-");
    else if (ctx->transport == NB_ZMQ)
        printf(" %8.1f %8s |", s_cpu_us(r->cpu.mid_run_ns, r), "-");
    else
        printf(" %8.1f %8.1f |", s_cpu_us(r->cpu.mid_run_ns, r), s_cpu_us(r->cpu.redis_run_ns, r));
}

/* The node's latency split in two: its own time per signal (latency_ns in
   its answers: decode to encode in its hot thread) and the rest of the way
   (send -> receipt less that: the sockets, the wake-ups, the other
   processes), whose p99 is set against the floor's, which is all way
   (the percentiles of each part are its own: they do not add up). */
static void s_print_split(const s_size_t *z)
{
    printf("  the node's latency split, us: its own time (the latency_ns it reports) and the "
           "rest of the way\n");
    printf("  %8s | %8s %8s %8s | %8s %8s %8s | %s\n", "rate/s", "own p50", "p99", "p999",
           "rest p50", "p99", "p999", "rest p99/floor p99");
    for (int i = 0; i < z->n_rates; i++) {
        const s_result_t *f = &z->fixed[i][S_FLOOR], *n = &z->fixed[i][S_NODE];
        printf("  %8.0f | %8.1f %8.1f %8.1f | %8.0f %8.0f %8.0f | %.2f\n", z->rates[i],
               n->own_p50_us, n->own_p99_us, n->own_p999_us, n->rest_p50_us, n->rest_p99_us,
               n->rest_p999_us, n->rest_p99_us / fmax(f->p99_us, 1e-9));
    }
}

/* CPU per message at the fixed rates: what each middle (and Redis for it)
   spends on a message, which the machine's noise moves far less than p99. */
static void s_print_cpu(const s_ctx_t *ctx, const s_size_t *z)
{
    bool node = !ctx->o.floor_only;
    printf("  CPU per message, us (all the middle's threads; Redis's for its traffic); how busy "
           "the machine was, and its steal\n");
    printf("  %8s | %8s %8s | %8s %8s | %10s | %s\n", "rate/s", "floor", "redis", "node", "redis",
           "node/floor", "busy, steal: floor | node");
    for (int i = 0; i < z->n_rates; i++) {
        const s_result_t *f = &z->fixed[i][S_FLOOR], *n = &z->fixed[i][S_NODE];
        printf("  %8.0f |", z->rates[i]);
        s_print_cpu_one(ctx, f, true);
        s_print_cpu_one(ctx, n, node);
        double fc = s_cpu_us(f->cpu.mid_run_ns + f->cpu.redis_run_ns, f);
        double nc = s_cpu_us(n->cpu.mid_run_ns + n->cpu.redis_run_ns, n);
        if (node)
            printf(" %10.2f | %.0f%%, %.0f%% | %.0f%%, %.0f%%\n", nc / fmax(fc, 1e-9),
                   s_busy_pct(f), s_steal_pct(f), s_busy_pct(n), s_steal_pct(n));
        else
            printf(" %10s | %.0f%%, %.0f%%\n", "-", s_busy_pct(f), s_steal_pct(f));
    }
    if (!s_steal_guard(ctx))
        return;
    printf("  rounds measured again for steal above %.0f%%:", ctx->o.max_steal);
    for (int i = 0; i < z->n_rates; i++)
        printf("%s %.0f/s %d", i ? "," : "", z->rates[i], z->fixed[i][S_FLOOR].repeats);
    printf("\n");
}

/* The p99 ratio round by round (s_pairs_t), beside the pooled one above. */
static void s_print_pairs(const s_ctx_t *ctx, const s_size_t *z)
{
    printf("  p99 %s/floor round by round (each round's %s beside the floor it ran next to)\n",
           s_slot_name(ctx, S_NODE), s_slot_name(ctx, S_NODE));
    printf("  %8s | %6s | %8s %8s %8s %8s | %s\n", "rate/s", "rounds", "median", "geo-mean", "min",
           "max", "rounds <= 1.3x");
    for (int i = 0; i < z->n_rates; i++) {
        const s_pairs_t *p = &z->pairs[i];
        printf("  %8.0f | %6d | %8.2f %8.2f %8.2f %8.2f | %d\n", z->rates[i], p->n, p->p50, p->geo,
               p->lo, p->hi, p->within);
    }
}

static void s_print_size(const s_ctx_t *ctx, const s_size_t *z)
{
    bool node = !ctx->o.floor_only;
    printf("\n%zu-bar signals, %.0f bytes each (latency in us, send -> receipt)\n", z->bars,
           z->msg_bytes);
    printf("  %8s | %8s %8s %8s %6s | %8s %8s %8s %6s | %s\n", "rate/s", "floor", "p99", "p999",
           "loss", "node", "p99", "p999", "loss", "p99 node/floor");
    printf("  %8s | %8s %8s %8s %6s | %8s %8s %8s %6s |\n", "", "p50", "", "", "", "p50", "", "",
           "");
    for (int i = 0; i < z->n_rates; i++) {
        printf("  %8.0f |", z->rates[i]);
        s_print_lat(&z->fixed[i][S_FLOOR], true);
        s_print_lat(&z->fixed[i][S_NODE], node);
        if (node)
            printf(" %.2f", s_p99_ratio(&z->fixed[i][S_NODE], &z->fixed[i][S_FLOOR]));
        printf("\n");
    }
    if (node) {
        s_print_pairs(ctx, z);
        if (!ctx->o.floor_twice) /* the floor reports no time of its own */
            s_print_split(z);
    }
    s_print_cpu(ctx, z);
    for (int m = 0; z->searched && m < (node ? 2 : 1); m++) {
        const s_result_t *b = &z->best[m];
        printf("  highest zero-loss rate, %-5s %8.0f/s", s_middle_name[m], z->best_rate[m]);
        if (z->best_rate[m] > 0)
            printf("  (held %.0f s: p50 %.0f  p99 %.0f  p999 %.0f us)", ctx->o.hold_s, b->p50_us,
                   b->p99_us, b->p999_us);
        printf("\n");
    }
    if (z->searched && node)
        printf("  node/floor highest rate: %.2f (goal >= 0.8)\n",
               z->best_rate[S_NODE] / fmax(z->best_rate[S_FLOOR], 1e-9));
}

static void s_print_goals(const s_ctx_t *ctx, const s_size_t *z)
{
    if (ctx->o.floor_only)
        return;
    bool p99 = true, loss = true;
    for (int i = 0; i < z->n_rates; i++) {
        const s_result_t *f = &z->fixed[i][S_FLOOR], *n = &z->fixed[i][S_NODE];
        /* the goal's 1.3x, compared without tolerance: these are measured figures */
        p99 &= n->p99_us <= 1.3 * f->p99_us;
        loss &= f->lost != 0 || n->lost == 0;
    }
    if (z->searched) {
        const s_result_t *f = &z->best[S_FLOOR], *n = &z->best[S_NODE];
        if (z->best_rate[S_NODE] >= z->best_rate[S_FLOOR] && z->best_rate[S_FLOOR] > 0)
            p99 &= n->p99_us <= 1.3 * f->p99_us;
    }
    printf("  goals: node p99 <= 1.3x floor p99 at every rate: %s; zero loss wherever the floor "
           "has none: %s",
           p99 ? "met" : "NOT met", loss ? "met" : "NOT met");
    if (z->searched)
        printf("; highest rate >= 0.8x floor's: %s",
               z->best_rate[S_NODE] >= 0.8 * z->best_rate[S_FLOOR] ? "met" : "NOT met");
    printf("\n");
}

static void s_figures_result(ml4t_bench_report_t *rep, const char *prefix, const s_result_t *r)
{
    char key[128]; /* prefix is one of s_figures' 96-byte keys */
    static const char *names[] = {
        "p50_us",         "p99_us",         "p999_us",         "lost",
        "achieved_per_s", "cpu_us_per_msg", "runq_us_per_msg", "redis_cpu_us_per_msg",
        "steal_pct",      "busy_pct",       "own_p50_us",      "own_p99_us",
        "own_p999_us",    "rest_p50_us",    "rest_p99_us",     "rest_p999_us"};
    const double vals[] = {r->p50_us,
                           r->p99_us,
                           r->p999_us,
                           (double)r->lost,
                           r->achieved,
                           s_cpu_us(r->cpu.mid_run_ns, r),
                           s_cpu_us(r->cpu.mid_wait_ns, r),
                           s_cpu_us(r->cpu.redis_run_ns, r),
                           s_steal_pct(r),
                           s_busy_pct(r),
                           r->own_p50_us,
                           r->own_p99_us,
                           r->own_p999_us,
                           r->rest_p50_us,
                           r->rest_p99_us,
                           r->rest_p999_us};
    static const char *units[] = {"us", "us", "us", "msgs", "msgs/s", "us", "us", "us",
                                  "%",  "%",  "us", "us",   "us",     "us", "us", "us"};
    /* the last six, the split, only where answers carried the node's own time */
    size_t n = sizeof vals / sizeof vals[0] - (r->own_n ? 0 : 6);
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s_%s", prefix, names[i]);
        ml4t_bench_report_add(rep, key, vals[i], units[i]);
    }
}

static void s_figures(ml4t_bench_report_t *rep, const s_ctx_t *ctx, const s_size_t *z)
{
    char key[96];
    int middles = ctx->o.floor_only ? 1 : 2;
    snprintf(key, sizeof key, "b%zu_message_bytes", z->bars);
    ml4t_bench_report_add(rep, key, z->msg_bytes, "bytes");
    for (int i = 0; i < z->n_rates; i++) {
        for (int m = 0; m < middles; m++) {
            snprintf(key, sizeof key, "b%zu_r%.0f_%s", z->bars, z->rates[i], s_middle_name[m]);
            s_figures_result(rep, key, &z->fixed[i][m]);
        }
        snprintf(key, sizeof key, "b%zu_r%.0f_steal_repeats", z->bars, z->rates[i]);
        ml4t_bench_report_add(rep, key, z->fixed[i][S_FLOOR].repeats, "rounds");
        if (middles == 2) {
            snprintf(key, sizeof key, "b%zu_r%.0f_p99_ratio", z->bars, z->rates[i]);
            ml4t_bench_report_add(rep, key,
                                  s_p99_ratio(&z->fixed[i][S_NODE], &z->fixed[i][S_FLOOR]), "x");
            const s_pairs_t *p = &z->pairs[i];
            const char *names[] = {"median", "geomean", "min", "max"};
            const double vals[] = {p->p50, p->geo, p->lo, p->hi};
            for (int k = 0; k < 4; k++) {
                snprintf(key, sizeof key, "b%zu_r%.0f_round_p99_ratio_%s", z->bars, z->rates[i],
                         names[k]);
                ml4t_bench_report_add(rep, key, vals[k], "x");
            }
            snprintf(key, sizeof key, "b%zu_r%.0f_rounds_within_1_3x", z->bars, z->rates[i]);
            ml4t_bench_report_add(rep, key, p->within, "rounds");
        }
    }
    for (int m = 0; z->searched && m < middles; m++) {
        snprintf(key, sizeof key, "b%zu_max_%s_per_s", z->bars, s_middle_name[m]);
        ml4t_bench_report_add(rep, key, z->best_rate[m], "msgs/s");
        snprintf(key, sizeof key, "b%zu_max_%s", z->bars, s_middle_name[m]);
        s_figures_result(rep, key, &z->best[m]);
    }
    if (z->searched && middles == 2) {
        snprintf(key, sizeof key, "b%zu_max_ratio", z->bars);
        ml4t_bench_report_add(rep, key, z->best_rate[S_NODE] / fmax(z->best_rate[S_FLOOR], 1e-9),
                              "x");
    }
}

/* ---------------------------------------------------------------- main */

static void s_usage(FILE *out, const char *suite)
{
    fprintf(out,
            "usage: ml4t-bench %s [--json] [--quick] [--smoke] [--floor-only] [--node PATH]\n"
            "       [--node-arg ARG]... [--model FILE] [--bars 100|1|both] [--hwm N]\n"
            "       [--max-rate N] [--rate N] [--rounds N] [--seconds S] [--warmup S]\n"
            "       [--max-steal PCT] [--floor-twice] [--dump DIR]\n"
            "  --quick       fixed rates 3 s in 3 rounds, probes 2 s, highest rate held 5 s\n"
            "                (default 30 s in 10 rounds, 5 s, 30 s)\n"
            "  --rounds N    a fixed rate's time is split into N rounds, floor and node\n"
            "                alternating; each one's latencies are pooled over its rounds,\n"
            "                and the p99 ratio is also given round by round\n"
            "  --max-steal P a run during which the hypervisor took more than P %% of the\n"
            "                machine (steal, /proc/stat) is measured again, a fixed rate's\n"
            "                round as a floor/node pair, up to 2 times per run (2 x rounds\n"
            "                per fixed rate); then it counts. Default 10; 100: never;\n"
            "                --smoke: never\n"
            "  --max-rate N  the rate search goes no higher (default 1000000)\n"
            "  --rate N      this fixed rate alone (its rounds), no search: for comparing\n"
            "                two nodes or two settings (--node, --node-arg) at one rate\n"
            "  --seconds S   a fixed rate's time for each of floor and node, 1-600 (default\n"
            "                30): more signals, so that one burst decides less of a p99\n"
            "  --warmup S    once the middle answers, S more seconds of warm-up signals\n"
            "                (one per ms, not measured) before each run (default 1;\n"
            "                --smoke 0): a node just started is slower in its first second\n"
            "  --bars B      100, 1 or both (default both); --hwm N: high-water marks\n"
            "  --smoke       500 messages at 500/s per size, no search; exit 1 on any loss\n"
            "  --floor-only  measure the bare forwarder alone (no node needed)\n"
            "  --floor-twice the bare forwarder in the node's place too: the ratios and\n"
            "                verdicts then show what noise alone gives (no node needed)\n"
            "  --node PATH   the node executable (default %s/bin/ml4t-node)\n"
            "  --node-arg A  one more argument for the node (repeatable)\n"
            "  --model FILE  the model the node serves (default: trained with ml4t-train)\n"
            "  --dump DIR    write each run's latencies to DIR (an existing directory): one\n"
            "                file per run, <n>-<suite>-<bars>bar-<middle>-<rate>.txt (floor,\n"
            "                node, or floor2 with --floor-twice),\n"
            "                one line per measured signal in send order: ns, 0 = lost;\n"
            "                a node's lines add its own time (latency_ns in its answer)\n",
            suite, ML4T_BINARY_DIR);
}

static bool s_parse(s_opts_t *o, const char *suite, const ml4t_bench_opts_t *opts)
{
    *o = (s_opts_t){.node_path = ML4T_BINARY_DIR "/bin/ml4t-node",
                    .fixed_s = 30,
                    .probe_s = 5,
                    .hold_s = 30,
                    .max_rate = 1e6,
                    .hwm = 100000,
                    .rounds = 10,
                    .max_steal = 10,
                    .warmup_s = 1,
                    .bars100 = true,
                    .bars1 = true};
    bool warmup_set = false;
    for (int i = 0; i < opts->argc; i++) {
        const char *a = opts->argv[i], *v = i + 1 < opts->argc ? opts->argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0)
            o->quick = true, o->fixed_s = 3, o->probe_s = 2, o->hold_s = 5, o->rounds = 3;
        else if (strcmp(a, "--smoke") == 0)
            o->smoke = true, o->fixed_s = 1, o->rounds = 1;
        else if (strcmp(a, "--floor-only") == 0)
            o->floor_only = true;
        else if (strcmp(a, "--floor-twice") == 0)
            o->floor_twice = true;
        else if (strcmp(a, "--node") == 0 && v)
            o->node_path = v, i++;
        else if (strcmp(a, "--model") == 0 && v)
            o->model = v, i++;
        else if (strcmp(a, "--dump") == 0 && v)
            o->dump_dir = v, i++;
        else if (strcmp(a, "--node-arg") == 0 && v && o->n_node_args < S_MAX_NODE_ARGS)
            o->node_args[o->n_node_args++] = v, i++;
        else if (strcmp(a, "--bars") == 0 && v) {
            o->bars100 = strcmp(v, "1") != 0;
            o->bars1 = strcmp(v, "100") != 0;
            i++;
        } else if (strcmp(a, "--hwm") == 0 && v && atoi(v) > 0)
            o->hwm = atoi(v), i++;
        else if (strcmp(a, "--rounds") == 0 && v && atoi(v) > 0 && atoi(v) <= 100)
            o->rounds = atoi(v), i++;
        else if (strcmp(a, "--max-rate") == 0 && v && atof(v) >= S_MIN_RATE)
            o->max_rate = atof(v), i++;
        else if (strcmp(a, "--rate") == 0 && v && atof(v) >= S_MIN_RATE && atof(v) <= 1e7)
            o->only_rate = atof(v), i++;
        else if (strcmp(a, "--max-steal") == 0 && v && atof(v) > 0 && atof(v) <= 100)
            o->max_steal = atof(v), i++;
        else if (strcmp(a, "--seconds") == 0 && v && atof(v) >= 1 && atof(v) <= 600)
            o->seconds = atof(v), i++;
        else if (strcmp(a, "--warmup") == 0 && v && atof(v) >= 0 && atof(v) <= 60)
            o->warmup_s = atof(v), warmup_set = true, i++;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout, suite);
            o->help = true;
            return false;
        } else {
            fprintf(stderr, "ml4t-bench %s: unknown or incomplete option '%s'\n", suite, a);
            s_usage(stderr, suite);
            return false;
        }
    }
    if (o->seconds > 0 && !o->smoke) /* whatever the order: --quick does not undo it */
        o->fixed_s = o->seconds;
    if (o->smoke && !warmup_set)
        o->warmup_s = 0; /* a smoke run checks the harness, quickly */
    return true;
}

static void s_loadavg(char *buf, size_t n)
{
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = '\0';
    if (f && fgets(buf, (int)n, f))
        buf[strcspn(buf, "\n")] = '\0';
    if (f)
        fclose(f);
}

static void s_header(const s_ctx_t *ctx, const char *load)
{
    static const char *what[] = {"ZeroMQ (XPUB/SUB)", "Redis pub/sub", "Redis Streams"};
    printf("ml4t-bench %s: %s over tcp loopback, sender -> %s -> receiver, separate processes\n",
           ctx->suite, what[ctx->transport],
           ctx->o.floor_only    ? "floor"
           : ctx->o.floor_twice ? "floor | floor again in the node's columns (--floor-twice)"
                                : "floor | node");
    printf("  load average before: %s\n", load);
    printf("  HWM %d messages per socket (ZeroMQ SNDHWM and RCVHWM)%s\n", ctx->o.hwm,
           ctx->transport == NB_ZMQ       ? ""
           : ctx->transport == NB_STREAMS ? "; streams trimmed at MAXLEN ~ HWM"
                                          : "; Redis pub/sub output buffer limit 1 GB");
    if (ctx->o.smoke)
        printf("  smoke: %.0f s at 500/s per size\n", ctx->o.fixed_s);
    else if (ctx->o.only_rate > 0)
        printf("  %.0f/s alone (--rate), held %.0f s in %d rounds alternating floor and node; "
               "no search\n",
               ctx->o.only_rate, ctx->o.fixed_s, ctx->o.rounds);
    else
        printf("  fixed rates held %.0f s each, in %d rounds alternating floor and node; search "
               "probes %.0f s; highest rate held %.0f s\n",
               ctx->o.fixed_s, ctx->o.rounds, ctx->o.probe_s, ctx->o.hold_s);
    printf("  each run measured after %g s more of warm-up signals (one per ms) once the middle "
           "answers (--warmup)\n",
           ctx->o.warmup_s);
    if (s_steal_guard(ctx))
        printf("  a run during which steal passed %.0f%% of the machine is measured again: a "
               "probe or hold up to %d times, a fixed rate's round (both runs) up to %d x "
               "rounds times\n",
               ctx->o.max_steal, S_STEAL_REPEATS, S_STEAL_REPEATS);
}

/* Runs every size; false when a run failed (the message is already printed). */
static bool s_sizes(s_ctx_t *ctx, s_size_t *z, int *nz)
{
    size_t sizes[2];
    int n = 0;
    if (ctx->o.bars100)
        sizes[n++] = 100;
    if (ctx->o.bars1)
        sizes[n++] = 1;
    for (*nz = 0; *nz < n; (*nz)++) {
        nb_pool_t pool;
        ml4t_error_t err = {0};
        if (nb_pool_build(&pool, sizes[*nz], &err) != ML4T_OK) {
            fprintf(stderr, "ml4t-bench %s: cannot build the signals: %s\n", ctx->suite, err.msg);
            return false;
        }
        bool ok = s_size_run(ctx, &pool, &z[*nz]);
        nb_pool_destroy(&pool);
        if (!ok)
            return false;
    }
    return true;
}

static void s_report(const s_ctx_t *ctx, const s_size_t *z, int nz, const char *load0,
                     const char *load1, const ml4t_bench_opts_t *opts)
{
    if (!opts->json) {
        for (int i = 0; i < nz; i++) {
            s_print_size(ctx, &z[i]);
            s_print_goals(ctx, &z[i]);
        }
        if (nz == 2 && z[0].searched)
            for (int m = 0; m < (ctx->o.floor_only ? 1 : 2); m++)
                printf("\n1-bar vs 100-bar highest zero-loss rate, %s: %.0f -> %.0f/s (x%.2f)",
                       s_middle_name[m], z[0].best_rate[m], z[1].best_rate[m],
                       z[1].best_rate[m] / fmax(z[0].best_rate[m], 1e-9));
        printf("\n  load average after: %s\n", load1);
        return;
    }
    ml4t_bench_report_t *rep = malloc(sizeof *rep);
    if (!rep)
        return;
    ml4t_bench_report_init(rep, ctx->suite, opts);
    ml4t_bench_report_text(rep, "load_before", load0);
    ml4t_bench_report_text(rep, "load_after", load1);
    ml4t_bench_report_add(rep, "hwm", ctx->o.hwm, "msgs");
    for (int i = 0; i < nz; i++)
        s_figures(rep, ctx, &z[i]);
    for (int m = 0; nz == 2 && z[0].searched && m < (ctx->o.floor_only ? 1 : 2); m++) {
        char key[96];
        snprintf(key, sizeof key, "b1_vs_b100_max_%s", s_middle_name[m]);
        ml4t_bench_report_add(rep, key, z[1].best_rate[m] / fmax(z[0].best_rate[m], 1e-9), "x");
    }
    ml4t_bench_report_print(rep);
    free(rep);
}

static bool s_smoke_clean(const s_ctx_t *ctx, const s_size_t *z, int nz)
{
    bool clean = true;
    for (int i = 0; i < nz; i++)
        for (int m = 0; m < (ctx->o.floor_only ? 1 : 2); m++)
            clean &= z[i].fixed[0][m].lost == 0 && z[i].fixed[0][m].duplicates == 0;
    return clean;
}

/* Remove our temporary directory and everything in it. */
static void s_rm_root(s_ctx_t *ctx)
{
    if (!ctx->root[0])
        return;
    const char *argv[] = {"/bin/rm", "-rf", ctx->root, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
    s_root_sig[0] = ctx->root[0] = '\0';
}

/* Redis (for redis and streams), the model (when the node runs), then every size. */
static bool s_suite(s_ctx_t *ctx, s_size_t *z, int *nz, char *load0, char *load1,
                    const ml4t_bench_opts_t *opts)
{
    bool ok = true;
    if (ctx->transport != NB_ZMQ && !s_redis_start(ctx)) {
        fprintf(stderr, "ml4t-bench %s: cannot start %s\n", ctx->suite, T_REDIS_BIN);
        ok = false;
    }
    if (ok && !ctx->o.floor_only && !ctx->o.floor_twice && !s_model(ctx)) {
        fprintf(stderr, "ml4t-bench %s: no model for the node (%s)\n", ctx->suite, ctx->model);
        s_node_log_tail(ctx);
        ok = false;
    }
    s_loadavg(load0, 128);
    if (ok && !opts->json)
        s_header(ctx, load0);
    fflush(stdout);
    ok = ok && s_sizes(ctx, z, nz);
    if (ctx->redis.pid > 0)
        s_redis_stop(ctx);
    s_loadavg(load1, 128);
    return ok;
}

int nb_main(const char *suite, nb_transport_t transport, const ml4t_bench_opts_t *opts)
{
    s_ctx_t ctx = {.suite = suite, .transport = transport};
    if (!s_parse(&ctx.o, suite, opts))
        return ctx.o.help ? 0 : 2;
    if (!ctx.o.floor_only && !ctx.o.floor_twice && access(ctx.o.node_path, X_OK) != 0) {
        fprintf(stderr,
                "ml4t-bench %s: the node is missing: %s is not an executable (build the node, "
                "pass --node PATH, or --floor-only to measure the floor alone)\n",
                suite, ctx.o.node_path);
        return 1;
    }
    /* under $TMPDIR when set (e.g. a tmpfs, to keep the node's history off
       the disk), else /tmp; the paths built on it must fit their buffers */
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0])
        tmp = "/tmp";
    int n = snprintf(ctx.root, sizeof ctx.root, "%s/ml4t-netbench-XXXXXX", tmp);
    if (n < 0 || (size_t)n >= sizeof ctx.root) {
        fprintf(stderr, "ml4t-bench %s: TMPDIR=%s: too long (at most %zu characters)\n", suite, tmp,
                sizeof ctx.root - sizeof "/ml4t-netbench-XXXXXX");
        return 1;
    }
    if (!mkdtemp(ctx.root)) {
        fprintf(stderr, "ml4t-bench %s: cannot create a directory in %s: %s\n", suite, tmp,
                strerror(errno));
        return 1;
    }
    snprintf(s_root_sig, sizeof s_root_sig, "%s", ctx.root);
    snprintf(ctx.node_log, sizeof ctx.node_log, "%s/node.log", ctx.root);
    struct sigaction sa = {0};
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char load0[128], load1[128];
    s_size_t *z = calloc(2, sizeof *z);
    int nz = 0;
    bool ok = z && s_suite(&ctx, z, &nz, load0, load1, opts);
    if (ok)
        s_report(&ctx, z, nz, load0, load1, opts);
    bool clean = ok && (!ctx.o.smoke || s_smoke_clean(&ctx, z, nz));
    if (ok && !clean)
        fprintf(stderr, "ml4t-bench %s: the smoke run lost or duplicated messages\n", suite);
    free(z);
    s_rm_root(&ctx);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    return clean ? 0 : 1;
}
