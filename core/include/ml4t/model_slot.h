/*  ml4t_model_slot: the live model, published for lock-free readers.

    The slot holds one reference to the current model (or none). Readers take
    their own reference per message with ml4t_model_slot_acquire and give it
    back with ml4t_model_slot_release; a supervisor publishes a new model with
    ml4t_model_slot_swap. Readers never block and never wait on a swap: acquire
    is a fixed sequence of atomic operations (no loop, no lock). Only the
    swapper waits, for the few readers caught between reading the slot and
    taking their reference (see the scheme in model_slot.c). The old model is
    freed by whoever drops its last reference: the swapper when no reader holds
    it any more, otherwise the last reader in ml4t_model_slot_release. */
#ifndef ML4T_MODEL_SLOT_H_INCLUDED
#define ML4T_MODEL_SLOT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "ml4t/error.h"
#include "ml4t/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ml4t_model_slot ml4t_model_slot_t;

/* A slot holding initial (may be NULL). The slot takes the caller's reference
   to initial. NULL on allocation failure (initial is then released). */
ml4t_model_slot_t *ml4t_model_slot_new(ml4t_model_t *initial);

/* Drops the slot's reference and frees the slot; sets *self_p = NULL. Call it
   once no thread is inside acquire/swap; models readers still hold stay valid
   until they release them. Nothing on NULL. */
void ml4t_model_slot_destroy(ml4t_model_slot_t **self_p);

/* A new reference to the live model, or NULL when the slot is empty. Wait-free
   on x86 (lock-free elsewhere), allocation-free, safe from any thread. The
   caller owns the reference: give it back with ml4t_model_slot_release. */
ml4t_model_t *ml4t_model_slot_acquire(ml4t_model_slot_t *slot);

/* Drops a reference from acquire and sets *m_p = NULL; frees the model when it
   was the last reference (a swapped-out model whose swapper has finished). */
void ml4t_model_slot_release(ml4t_model_slot_t *slot, ml4t_model_t **m_p);

/* Publishes new_model (may be NULL to empty the slot); the slot takes the
   caller's reference. After return no reader can newly acquire the old model;
   the slot's reference to it is dropped here. Swaps are serialized among
   swappers. Waits only for readers inside acquire (nanoseconds each). */
void ml4t_model_slot_swap(ml4t_model_slot_t *slot, ml4t_model_t *new_model);

/* Copies the live model's version into buf (size bytes). ML4T_ENOTFOUND when
   the slot is empty (buf gets ""). Safe from any thread. */
ml4t_err_t ml4t_model_slot_version(ml4t_model_slot_t *slot, char *buf, size_t size);

/* Swaps done since the slot was created. */
uint64_t ml4t_model_slot_swaps(const ml4t_model_slot_t *slot);

#ifdef __cplusplus
}
#endif
#endif
