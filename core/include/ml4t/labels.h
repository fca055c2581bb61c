/*  ml4t_labels: ATR, triple-barrier labels and meta-labels.

    A signal s in {-1, +1} at bar i enters at close[i]. Its profit-take barrier
    sits pt_multiplier * ATR[i] in the signal's favour, its stop-loss
    sl_multiplier * ATR[i] against it, and its vertical barrier max_holding_bars
    bars later. The label is the side-adjusted outcome: +1 when the profit-take
    is touched first, -1 when the stop is, else at the vertical barrier the sign
    of s * (close[i + max_holding_bars] - close[i]). A short therefore takes its
    profit below the entry, and a losing short is labelled -1 (meta-label 0).

    Touches are read from each later bar's high and low (inclusive: a bar whose
    high equals the barrier touches it). When one bar touches both barriers the
    order inside the bar is unknown and the stop is counted first.

    Nothing here allocates except ml4t_labels_from_bars (one ATR column). */
#ifndef ML4T_LABELS_H_INCLUDED
#define ML4T_LABELS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "ml4t/error.h"
#include "ml4t/event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ml4t_labels_config {
    double pt_multiplier;    /* 2.0: profit-take distance in ATRs, > 0 */
    double sl_multiplier;    /* 1.0: stop-loss distance in ATRs, > 0 */
    size_t max_holding_bars; /* 10: vertical barrier, >= 1 */
    size_t atr_period;       /* 14: Wilder ATR period, >= 1 */
} ml4t_labels_config_t;

/* The defaults above. */
ml4t_labels_config_t ml4t_labels_config_default(void);

/* ML4T_EINVAL naming the first bad field ("pt_multiplier", ...). */
ml4t_err_t ml4t_labels_config_validate(const ml4t_labels_config_t *cfg, ml4t_error_t *err);

/* How a label was decided. */
typedef enum {
    ML4T_BARRIER_NONE = 0,    /* signal 0: nothing to label */
    ML4T_BARRIER_PROFIT_TAKE, /* label +1 */
    ML4T_BARRIER_STOP_LOSS,   /* label -1 */
    ML4T_BARRIER_VERTICAL,    /* label = sign of the side-adjusted return */
    ML4T_BARRIER_PENDING,     /* data ended before any barrier: unresolved */
    ML4T_BARRIER_NO_ATR       /* ATR[i] not finite or <= 0: unresolved */
} ml4t_barrier_t;

typedef struct ml4t_label {
    int label;     /* -1, 0, +1; 0 when unresolved or signal 0 */
    int meta;      /* 1 when side != 0, resolved and label == +1; else 0 */
    bool resolved; /* outcome known (always true for signal 0) */
    ml4t_barrier_t barrier;
    size_t end_index; /* bar where the outcome was decided (entry index for signal 0);
                         when unresolved: entry + max_holding_bars, the latest bar that
                         can decide it (may be past the data). Purge training rows whose
                         [entry, end_index] overlaps the test fold. */
    size_t bars_held; /* end_index - entry */
    double ret;       /* side-adjusted return of the exit, relative to the entry: at a
                         touched barrier the barrier's (+pt*ATR/close, -sl*ATR/close),
                         at the vertical barrier s*(close[end]-close[i])/close[i];
                         0 when unresolved or signal 0 */
} ml4t_label_t;

/* Wilder ATR. True range TR[0] = high[0] - low[0] (no previous close), TR[i] =
   max(high-low, |high-close[i-1]|, |low-close[i-1]|). out[i] is NaN for
   i < period-1; out[period-1] is the mean of TR[0..period-1] (the seed); then
   out[i] = (out[i-1] * (period-1) + TR[i]) / period. out has n rows (caller owns).
   Errors: ML4T_EINVAL for NULL arrays or period 0 ("period"); ML4T_ERANGE naming
   "high[i]" / "low[i]" / "close[i]" for a non-finite value or low > high. */
ml4t_err_t ml4t_labels_atr(const double *high, const double *low, const double *close, size_t n,
                           size_t period, double *out, ml4t_error_t *err);

/* Label one entry from the bars that follow it: later_*[0] is the bar after the
   entry, n_later of them (may be 0). end_index and bars_held are then relative
   to the entry (end_index == bars_held). This is the incremental form: the node
   calls it once max_holding_bars later bars (or a barrier touch) have arrived,
   and gets resolved == false while neither has happened. side must be -1, 0 or
   +1 (ML4T_ERANGE "side"); entry_close must be finite and > 0 ("entry_close");
   a NaN or non-positive atr gives barrier ML4T_BARRIER_NO_ATR, not an error. */
ml4t_err_t ml4t_labels_resolve_one(const ml4t_labels_config_t *cfg, int side, double entry_close,
                                   double atr, const double *later_high, const double *later_low,
                                   const double *later_close, size_t n_later, ml4t_label_t *out,
                                   ml4t_error_t *err);

/* Label every bar: out[i] for signals[i] (signals may be NULL: all 0) with ATR
   atr[i] (from ml4t_labels_atr, or any positive series). out has n rows (caller
   owns). Errors: config errors; ML4T_ERANGE naming "signals[i]" or "close[i]". */
ml4t_err_t ml4t_labels_triple_barrier(const ml4t_labels_config_t *cfg, const double *high,
                                      const double *low, const double *close, const double *atr,
                                      const int *signals, size_t n, ml4t_label_t *out,
                                      ml4t_error_t *err);

/* ATR (cfg->atr_period) and labels over a bar series in one call. Allocates one
   column of n doubles for the ATR and frees it (ML4T_ENOMEM). out has bars->n rows. */
ml4t_err_t ml4t_labels_from_bars(const ml4t_labels_config_t *cfg, const ml4t_bars_t *bars,
                                 const int *signals, ml4t_label_t *out, ml4t_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
