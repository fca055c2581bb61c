/*  A real redis-server for tests and benchmarks: started on a free loopback
    port in its own temporary directory (or the one given), with AOF
    (appendfsync always) when asked, so a SIGKILL loses nothing Redis has
    acknowledged. The child gets SIGKILL when the test
    process dies, and an atexit hook kills any server still running, so no
    failure path leaves one behind. */
#ifndef ML4T_TEST_REDIS_SERVER_H_INCLUDED
#define ML4T_TEST_REDIS_SERVER_H_INCLUDED

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T_REDIS_BIN "/usr/bin/redis-server"
#define T_REDIS_MAX 8

typedef struct {
    pid_t pid; /* 0 when not running */
    int port;
    char dir[128];
    char password[64]; /* "" = no requirepass */
    bool aof;
    const char *const *extra; /* more arguments for redis-server, NULL-ended (at most 6) */
} t_redis_t;

/* Copies, not pointers: a failed case may leave its t_redis_t out of scope. */
static struct {
    pid_t pid;
    char dir[128];
} t_redis_running[T_REDIS_MAX];

static inline void t_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline long long t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A port nobody listens on now: bind port 0 and read back what the system chose. */
static inline int t_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* A command on a fresh connection; NULL when Redis does not answer. Caller frees. */
static inline redisReply *t_redis_cmd(const t_redis_t *r, const char *fmt, ...)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    if (r->password[0]) {
        redisReply *a = redisCommand(c, "AUTH %s", r->password);
        if (a)
            freeReplyObject(a);
    }
    va_list ap;
    va_start(ap, fmt);
    redisReply *reply = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return reply;
}

static inline long long t_redis_int(const t_redis_t *r, const char *fmt, const char *a,
                                    const char *b)
{
    redisReply *x = t_redis_cmd(r, fmt, a, b);
    long long v = x && x->type == REDIS_REPLY_INTEGER ? x->integer : -1;
    if (x)
        freeReplyObject(x);
    return v;
}

static inline void t_redis_kill(t_redis_t *r, int sig)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, sig);
    waitpid(r->pid, NULL, 0);
    for (int i = 0; i < T_REDIS_MAX; i++)
        if (t_redis_running[i].pid == r->pid)
            t_redis_running[i].pid = 0;
    r->pid = 0;
}

static inline void t_redis_kill_all(void)
{
    for (int i = 0; i < T_REDIS_MAX; i++) {
        if (t_redis_running[i].pid <= 0)
            continue;
        kill(t_redis_running[i].pid, SIGKILL);
        waitpid(t_redis_running[i].pid, NULL, 0);
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_redis_running[i].dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", t_redis_running[i].dir);
    }
}

/* Start (or restart, on the same port and directory) and wait for PING. */
static inline bool t_redis_start(t_redis_t *r)
{
    static bool hooked = false;
    if (!hooked) {
        atexit(t_redis_kill_all);
        hooked = true;
    }
    if (r->port <= 0)
        r->port = t_free_port();
    if (r->dir[0] == '\0') {
        snprintf(r->dir, sizeof r->dir, "/tmp/ml4t-redis-XXXXXX");
        if (!mkdtemp(r->dir))
            return false;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        const char *argv[24] = {T_REDIS_BIN,
                                "--port",
                                port,
                                "--bind",
                                "127.0.0.1",
                                "--save",
                                "",
                                "--appendonly",
                                r->aof ? "yes" : "no",
                                "--appendfsync",
                                "always",
                                "--dir",
                                r->dir,
                                "--daemonize",
                                "no"};
        int argc = 15;
        if (r->password[0]) {
            argv[argc++] = "--requirepass";
            argv[argc++] = r->password;
        }
        for (int i = 0; r->extra && r->extra[i] && i < 6; i++)
            argv[argc++] = r->extra[i];
        argv[argc] = NULL;
        execv(T_REDIS_BIN, (char *const *)argv);
        _exit(127);
    }
    r->pid = pid;
    for (int i = 0; i < T_REDIS_MAX; i++)
        if (t_redis_running[i].pid <= 0) {
            t_redis_running[i].pid = pid;
            snprintf(t_redis_running[i].dir, sizeof t_redis_running[i].dir, "%s", r->dir);
            break;
        }
    for (long long end = t_now_ms() + 5000; t_now_ms() < end; t_sleep_ms(10)) {
        redisReply *x = t_redis_cmd(r, "PING");
        bool up = x && x->type == REDIS_REPLY_STATUS;
        if (x)
            freeReplyObject(x);
        if (up)
            return true;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            r->pid = 0;
            return false;
        }
    }
    return false;
}

/* Kill the server and remove its directory. */
static inline void t_redis_stop(t_redis_t *r)
{
    t_redis_kill(r, SIGKILL);
    if (r->dir[0]) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", r->dir);
        r->dir[0] = '\0';
    }
}

#endif
