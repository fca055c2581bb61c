/*  ml4t_model_slot: publication of the live model with a two-phase grace period.

    The race to avoid: a reader loads the model pointer, the swapper replaces it
    and drops the slot's reference (the last one), and the reader then
    increments the reference count of freed memory. Reference counting alone
    cannot close it, because the reader's load and its increment are two steps.

    The scheme (a grace period over reader counters, like SRCU):

      reader (acquire)                      swapper (swap)
      e = epoch                             old = exchange(live, new)
      active[e][stripe] += 1                flip epoch to e'; wait active[e] == 0
      m = live                              flip back to e;   wait active[e'] == 0
      ref(m)                                unref(old)
      active[e][stripe] -= 1

    All counter updates, the load of `live` and the exchange are sequentially
    consistent. If a reader's load of `live` returned `old`, that load precedes
    the exchange in the single total order, and so does the reader's increment.
    Each of the swapper's counter reads comes after the exchange, so it sees the
    increment, and reads zero only after the reader's decrement, which follows
    ref(old). The swapper waits for both counters to read zero at some moment
    after the exchange, so every reader that could have loaded `old` holds its
    own reference before the slot's is dropped. A reader that loads `live`
    after the exchange gets the new model and needs no protection.

    Why two epochs: with one counter, a steady stream of readers could keep it
    above zero forever. Flipping the epoch sends new readers to the other
    counter, so the one being waited on only drains: it holds at most the
    readers that read the old epoch just before the flip. Why the second flip:
    a reader may have read the epoch long ago (before an earlier swap's flip)
    and increment the other counter just before this exchange.

    Readers do a fixed number of atomic operations: no loop, no lock, so acquire
    never waits on a swap. The counters are striped by thread and padded to a
    cache line each, so readers on different threads do not share a line. */
#include "ml4t/model_slot.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_STRIPES    16
#define S_CACHE_LINE 64
#define S_SPINS      64 /* busy polls before yielding the CPU while draining */

typedef struct {
    _Alignas(S_CACHE_LINE) atomic_long n; /* readers between increment and decrement */
} s_counter_t;

struct ml4t_model_slot {
    s_counter_t active[2][S_STRIPES];                    /* private */
    _Alignas(S_CACHE_LINE) _Atomic(ml4t_model_t *) live; /* private: holds one reference */
    atomic_uint epoch;          /* private: 0 or 1, which counters readers use */
    atomic_uint_fast64_t swaps; /* read-only */
    pthread_mutex_t swap_lock;  /* private: one swapper at a time */
};

static atomic_uint s_next_stripe;
static _Thread_local unsigned s_stripe_plus1; /* 0 = not assigned yet */

static unsigned s_my_stripe(void)
{
    if (!s_stripe_plus1)
        s_stripe_plus1 =
            atomic_fetch_add_explicit(&s_next_stripe, 1, memory_order_relaxed) % S_STRIPES + 1;
    return s_stripe_plus1 - 1;
}

ml4t_model_slot_t *ml4t_model_slot_new(ml4t_model_t *initial)
{
    size_t size = (sizeof(ml4t_model_slot_t) + S_CACHE_LINE - 1) / S_CACHE_LINE * S_CACHE_LINE;
    ml4t_model_slot_t *slot = aligned_alloc(S_CACHE_LINE, size);
    if (!slot) {
        ml4t_model_unref(&initial);
        return NULL;
    }
    memset(slot, 0, size);
    for (int e = 0; e < 2; e++)
        for (int s = 0; s < S_STRIPES; s++)
            atomic_init(&slot->active[e][s].n, 0);
    atomic_init(&slot->live, initial);
    atomic_init(&slot->epoch, 0);
    atomic_init(&slot->swaps, 0);
    pthread_mutex_init(&slot->swap_lock, NULL);
    return slot;
}

void ml4t_model_slot_destroy(ml4t_model_slot_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ml4t_model_slot_t *slot = *self_p;
    *self_p = NULL;
    ml4t_model_t *m = atomic_exchange(&slot->live, NULL);
    ml4t_model_unref(&m);
    pthread_mutex_destroy(&slot->swap_lock);
    free(slot);
}

ml4t_model_t *ml4t_model_slot_acquire(ml4t_model_slot_t *slot)
{
    /* the epoch only spreads readers over the counters: any value is safe */
    unsigned e = atomic_load_explicit(&slot->epoch, memory_order_relaxed);
    atomic_long *n = &slot->active[e][s_my_stripe()].n;
    atomic_fetch_add(n, 1); /* seq_cst: before the load of live */
    ml4t_model_t *m = atomic_load(&slot->live);
    if (m)
        ml4t_model_ref(m);
    /* release: the swapper that reads zero also sees our reference taken */
    atomic_fetch_sub_explicit(n, 1, memory_order_release);
    return m;
}

void ml4t_model_slot_release(ml4t_model_slot_t *slot, ml4t_model_t **m_p)
{
    (void)slot;
    ml4t_model_unref(m_p);
}

/* Waits until each stripe of counter e has read zero once. */
static void s_drain(ml4t_model_slot_t *slot, unsigned e)
{
    for (int s = 0; s < S_STRIPES; s++)
        for (unsigned spins = 0; atomic_load(&slot->active[e][s].n) != 0; spins++)
            if (spins >= S_SPINS)
                sched_yield(); /* a reader was preempted inside acquire */
}

void ml4t_model_slot_swap(ml4t_model_slot_t *slot, ml4t_model_t *new_model)
{
    pthread_mutex_lock(&slot->swap_lock);
    ml4t_model_t *old = atomic_exchange(&slot->live, new_model);
    unsigned e = atomic_load(&slot->epoch);
    atomic_store(&slot->epoch, e ^ 1u);
    s_drain(slot, e);
    atomic_store(&slot->epoch, e);
    s_drain(slot, e ^ 1u);
    atomic_fetch_add_explicit(&slot->swaps, 1, memory_order_relaxed);
    pthread_mutex_unlock(&slot->swap_lock);
    ml4t_model_unref(&old);
}

ml4t_err_t ml4t_model_slot_version(ml4t_model_slot_t *slot, char *buf, size_t size)
{
    ml4t_model_t *m = ml4t_model_slot_acquire(slot);
    if (size)
        snprintf(buf, size, "%s", m ? ml4t_model_version(m) : "");
    ml4t_model_slot_release(slot, &m);
    return size && buf[0] ? ML4T_OK : ML4T_ENOTFOUND;
}

uint64_t ml4t_model_slot_swaps(const ml4t_model_slot_t *slot)
{
    return atomic_load_explicit(&((ml4t_model_slot_t *)slot)->swaps, memory_order_relaxed);
}
