/*  A C strategy: replays the bundled Binance month as SignalEvents.

    build/bin/ml4t-example-strategy [--endpoint tcp://127.0.0.1:5555] [--signals 1000]
        [--instruments 1] [--rate 1000] [--bars 100] [--history 100] [--columnar]
        [--data FILE]

    Instruments are the bundled series under several names (FILUSDT, FILUSDT-2,
    ...), each starting at its own part of the month. The first signal of an
    instrument carries --history bars (100); the others --bars bars (1 = only the
    newest: the node keeps the history). The direction is the 20/50 EMA state. */
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "ml4t/clock.h"
#include "ml4t/codec.h"
#include "ml4t/csv.h"

typedef struct {
    const char *endpoint, *data, *channel;
    long signals, instruments, bars, history;
    double rate;
    bool columnar;
} s_opts_t;

static int s_usage(const char *why)
{
    fprintf(why ? stderr : stdout,
            "%s%susage: ml4t-example-strategy [--endpoint EP] [--signals N] [--instruments K]\n"
            "         [--rate PER_S] [--bars N] [--history N] [--columnar] [--data FILE]\n"
            "Replays the bundled month of real bars as SignalEvents to EP (a PUB that\n"
            "connects; default tcp://127.0.0.1:5555): N signals (1000) over K instruments\n"
            "(1) at PER_S per second (1000; 0 = as fast as possible). The first signal\n"
            "of an instrument carries --history bars (100), the others --bars bars (100;\n"
            "1 = only the newest). --columnar encodes bars as columns.\n",
            why ? "strategy: " : "", why ? why : "");
    return why ? 2 : -1;
}

static int s_parse(s_opts_t *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return s_usage(NULL);
        if (strcmp(a, "--columnar") == 0) {
            o->columnar = true;
            continue;
        }
        if (!v)
            return s_usage("an option needs a value\n");
        i++;
        if (strcmp(a, "--endpoint") == 0)
            o->endpoint = v;
        else if (strcmp(a, "--data") == 0)
            o->data = v;
        else if (strcmp(a, "--signals") == 0)
            o->signals = atol(v);
        else if (strcmp(a, "--instruments") == 0)
            o->instruments = atol(v);
        else if (strcmp(a, "--bars") == 0)
            o->bars = atol(v);
        else if (strcmp(a, "--history") == 0)
            o->history = atol(v);
        else if (strcmp(a, "--rate") == 0)
            o->rate = atof(v);
        else
            return s_usage("unknown option\n");
    }
    if (o->signals < 1 || o->instruments < 1 || o->instruments > 100 || o->bars < 1 ||
        o->bars > 1000 || o->history < 1 || o->history > 10000 || o->rate < 0)
        return s_usage("--signals >= 1, --instruments 1..100, --bars 1..1000, "
                       "--history 1..10000, --rate >= 0\n");
    return 0;
}

static void s_sides(const ml4t_bars_t *b, int *side)
{
    double ef = b->close[0], es = b->close[0];
    for (size_t i = 0; i < b->n; i++) {
        ef += 2.0 / 21 * (b->close[i] - ef);
        es += 2.0 / 51 * (b->close[i] - es);
        side[i] = ef > es ? 1 : -1;
    }
}

int main(int argc, char **argv)
{
    s_opts_t o = {.endpoint = "tcp://127.0.0.1:5555",
                  .data = ML4T_SOURCE_DIR "/examples/data/FILUSDT-1m-2023-11.csv.gz",
                  .channel = "nautilus:signals",
                  .signals = 1000,
                  .instruments = 1,
                  .bars = 100,
                  .history = 100,
                  .rate = 1000,
                  .columnar = false};
    int parsed = s_parse(&o, argc, argv);
    if (parsed)
        return parsed < 0 ? 0 : 2;
    ml4t_bars_t month;
    ml4t_bars_init(&month);
    ml4t_error_t err;
    if (ml4t_csv_load(o.data, &month, NULL, &err)) {
        fprintf(stderr, "strategy: %s\n", err.msg);
        return 1;
    }
    int *side = malloc(month.n * sizeof *side);
    size_t *pos = calloc((size_t)o.instruments, sizeof *pos);
    ml4t_codec_t *codec = ml4t_codec_new(NULL);
    zsock_t *pub = zsock_new(ZMQ_PUB);
    if (!side || !pos || !codec || !pub || zsock_connect(pub, "%s", o.endpoint)) {
        fprintf(stderr, "strategy: cannot set up (endpoint %s)\n", o.endpoint);
        return 1;
    }
    zsock_set_sndhwm(pub, 0);
    s_sides(&month, side);
    size_t first = (size_t)(o.history > o.bars ? o.history : o.bars);
    if (first + 1 >= month.n) {
        fprintf(stderr, "strategy: --history %ld needs more bars than the data has\n", o.history);
        return 2;
    }
    size_t span = (month.n - first - 1) / (size_t)o.instruments;
    for (long k = 0; k < o.instruments; k++)
        pos[k] = first + (size_t)k * span;
    zclock_sleep(500); /* pub/sub: let the node's subscription arrive */
    ml4t_signal_t sig;
    ml4t_signal_init(&sig);
    uint64_t t0 = ml4t_clock_mono_ns();
    long sent = 0;
    for (long i = 0; i < o.signals; i++) {
        long k = i % o.instruments;
        size_t end = pos[k]++;
        if (pos[k] >= month.n)
            pos[k] = first;
        size_t nb = (size_t)(i < o.instruments ? o.history : o.bars);
        ml4t_signal_clear(&sig);
        snprintf(sig.instrument_id, sizeof sig.instrument_id, k ? "FILUSDT-%ld" : "FILUSDT", k + 1);
        snprintf(sig.strategy_id, sizeof sig.strategy_id, "c-ema");
        snprintf(sig.signal_id, sizeof sig.signal_id, "c-%ld", i);
        sig.signal = side[end];
        sig.ts_event = ml4t_clock_wall_ns();
        ml4t_bars_append(&sig.bars, &month, end + 1 - nb, nb);
        const uint8_t *buf;
        size_t len;
        if (ml4t_codec_encode_signal(codec, &sig, o.columnar ? ML4T_BARS_COLUMNAR : ML4T_BARS_PLAIN,
                                     &buf, &len, &err) == ML4T_OK &&
            zsock_send(pub, "sb", o.channel, buf, len) == 0)
            sent++;
        if (i + 1 == o.instruments && o.history > o.bars) {
            /* the history signals take the node a few ms each: let it absorb them
               so the stream that follows does not queue behind them */
            zclock_sleep(300);
            t0 = ml4t_clock_mono_ns() -
                 (uint64_t)((double)(i + 1) / (o.rate > 0 ? o.rate : 1e9) * 1e9);
        }
        if (o.rate > 0) {
            double ahead = (double)(i + 1) / o.rate - (double)(ml4t_clock_mono_ns() - t0) / 1e9;
            if (ahead > 0.0005)
                zclock_sleep((int)(ahead * 1000));
        }
    }
    double dt = (double)(ml4t_clock_mono_ns() - t0) / 1e9;
    printf("strategy: sent %ld signals (%s, %ld bar%s after the first) over %ld instrument(s) "
           "in %.2f s (%.0f/s) to %s\n",
           sent, o.columnar ? "columnar" : "plain", o.bars, o.bars == 1 ? "" : "s", o.instruments,
           dt, dt > 0 ? (double)sent / dt : 0.0, o.endpoint);
    zclock_sleep(200);
    zsock_set_linger(pub, 2000);
    zsock_destroy(&pub);
    ml4t_signal_destroy(&sig);
    ml4t_codec_destroy(&codec);
    ml4t_bars_destroy(&month);
    free(side);
    free(pos);
    return sent == o.signals ? 0 : 1;
}
