/*  ml4t-bench zmq: the node end to end over ZeroMQ, beside a bare forwarder
    (the floor), at 1,000/s, 10,000/s and the highest rate held with zero loss,
    for 100-bar and 1-bar signals. Options and method: netbench.h, docs/benchmarks.md. */
#include "netbench.h"

/* "": the suite prints its own usage (netbench.c) */
const char ml4t_bench_zmq_usage[] = "";

int ml4t_bench_zmq(const ml4t_bench_opts_t *opts)
{
    return nb_main("zmq", NB_ZMQ, opts);
}
