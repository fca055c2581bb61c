/*  ml4t_event: bars, SignalEvent, EnrichedSignalEvent, OutcomeEvent, ErrorEvent,
    RiskStateEvent.

    Bars are stored column-wise (struct of arrays): the columnar wire encoding
    decodes with one memcpy per column and the analytics read columns directly.
    An ml4t_bars_t is a stack object with an init/destroy pair; its buffers are
    reused across messages (clear keeps capacity) so the hot path allocates
    nothing after warm-up. */
#ifndef ML4T_EVENT_H_INCLUDED
#define ML4T_EVENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml4t/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_INSTRUMENT_MAX 64 /* bytes, without the NUL */
#define ML4T_ID_MAX         64 /* strategy_id, signal_id, model_version */
#define ML4T_SCHEMA_VERSION 1

typedef struct ml4t_bars {
    uint64_t *ts; /* bar open time, ns since the Unix epoch, strictly increasing */
    double *open;
    double *high;
    double *low;
    double *close;
    double *volume;
    double *buy_volume; /* taker-buy volume; NaN when unknown */
    size_t n;           /* read-only: bars held */
    size_t cap;         /* private: allocated rows */
} ml4t_bars_t;

void ml4t_bars_init(ml4t_bars_t *bars);
void ml4t_bars_destroy(ml4t_bars_t *bars);
/* Ensure room for cap rows; keeps contents. ML4T_ENOMEM on failure. */
ml4t_err_t ml4t_bars_reserve(ml4t_bars_t *bars, size_t cap);
/* Set n to 0, keep capacity. */
void ml4t_bars_clear(ml4t_bars_t *bars);
ml4t_err_t ml4t_bars_push(ml4t_bars_t *bars, uint64_t ts, double open, double high, double low,
                          double close, double volume, double buy_volume);
/* Copy rows [from, from+count) of src onto the end of dst. */
ml4t_err_t ml4t_bars_append(ml4t_bars_t *dst, const ml4t_bars_t *src, size_t from, size_t count);
/* Check every bar: finite positive prices, low <= open,close <= high, volume >= 0,
   buy_volume <= volume (or NaN), timestamps strictly increasing. err names the
   field and the bar index, e.g. field "bars[12].low". */
ml4t_err_t ml4t_bars_validate(const ml4t_bars_t *bars, ml4t_error_t *err);

typedef struct ml4t_signal {
    char instrument_id[ML4T_INSTRUMENT_MAX + 1];
    char strategy_id[ML4T_ID_MAX + 1]; /* optional, "" when absent */
    char signal_id[ML4T_ID_MAX + 1];   /* optional, "" when absent */
    int signal;                        /* -1, 0 or +1 */
    uint64_t ts_event;                 /* ns */
    ml4t_bars_t bars;                  /* oldest first */
} ml4t_signal_t;

void ml4t_signal_init(ml4t_signal_t *sig);
void ml4t_signal_destroy(ml4t_signal_t *sig);
/* Reset identity and bars, keep bar capacity. */
void ml4t_signal_clear(ml4t_signal_t *sig);
/* Validate identity, signal value, bar count in [min_bars, max_bars] and every bar. */
ml4t_err_t ml4t_signal_validate(const ml4t_signal_t *sig, size_t min_bars, size_t max_bars,
                                ml4t_error_t *err);

typedef enum {
    ML4T_TOXICITY_UNKNOWN = 0, /* VPIN not yet valid */
    ML4T_TOXICITY_LOW,         /* vpin < 0.3 */
    ML4T_TOXICITY_MEDIUM,      /* 0.3 <= vpin < 0.7 */
    ML4T_TOXICITY_HIGH         /* vpin >= 0.7 */
} ml4t_toxicity_level_t;

const char *ml4t_toxicity_level_name(ml4t_toxicity_level_t level);

/* The position size and the factors that produced it (see ml4t_sizer). */
typedef struct ml4t_size {
    double size;       /* final size in [0, max_size]; 0 when below min_size */
    int direction;     /* -1, 0, +1; 0 when size is 0 */
    double raw;        /* before min/max */
    double f_signal;   /* |signal|^giller */
    double f_meta;     /* meta confidence */
    double f_regime;   /* regime weight */
    double f_toxicity; /* 1 - toxicity */
    double f_kelly;    /* fractional Kelly */
    bool capped;       /* raw > max_size */
    bool below_min;    /* raw < min_size */
} ml4t_size_t;

/* The trading policy's verdict on one signal (filled by the policy engine). */
typedef struct ml4t_verdict {
    bool present; /* false when no policy engine ran */
    bool allowed;
    char reason[128]; /* why not allowed, or the rules that shaped it */
    double min_confidence;
    double max_risk_pct;
} ml4t_verdict_t;

typedef struct ml4t_enriched {
    char instrument_id[ML4T_INSTRUMENT_MAX + 1];
    char strategy_id[ML4T_ID_MAX + 1];
    char signal_id[ML4T_ID_MAX + 1];
    int signal;
    uint64_t ts_event;
    double meta_confidence;
    bool model_available;
    char model_version[ML4T_ID_MAX + 1];
    double regime_weight;
    double toxicity; /* VPIN; NaN when not yet valid */
    ml4t_toxicity_level_t toxicity_level;
    double changepoint_prob;
    ml4t_size_t size;
    ml4t_verdict_t verdict;
    uint64_t latency_ns; /* total, in the node */
    uint64_t latency_decode_ns;
    uint64_t latency_features_ns;
    uint64_t latency_predict_ns;
    uint64_t latency_encode_ns;
    uint64_t ts_enriched; /* wall clock, ns */
} ml4t_enriched_t;

typedef struct ml4t_outcome {
    char instrument_id[ML4T_INSTRUMENT_MAX + 1];
    char signal_id[ML4T_ID_MAX + 1]; /* "" when the signal is named by ts_event */
    uint64_t ts_event;               /* the signal's ts_event, 0 when signal_id given */
    bool has_label;
    int label; /* -1, 0, +1: the position's outcome */
    bool has_return;
    double realized_return;
    uint64_t ts_outcome;
} ml4t_outcome_t;

typedef struct ml4t_error_event {
    ml4t_err_t code;
    char reason[32]; /* ml4t_err_reason(code) */
    char message[ML4T_ERROR_MSG_MAX];
    char instrument_id[ML4T_INSTRUMENT_MAX + 1]; /* "" when unknown */
    char key[ML4T_ERROR_FIELD_MAX];              /* offending key, "" when unknown */
    uint64_t ts;
} ml4t_error_event_t;

/* The trading account's risk state, published by a risk or portfolio service and
   consumed by the policy engine (wire: RiskStateEvent on nautilus:risk_state). */
typedef struct ml4t_risk_state {
    double daily_pnl_pct;      /* today's P&L in percent of equity, losses negative */
    double drawdown_pct;       /* drawdown from the equity peak in percent, >= 0 */
    int losing_streak;         /* consecutive losing trades, >= 0 */
    int open_positions;        /* >= 0 */
    double total_exposure_pct; /* gross exposure in percent of equity, >= 0 */
    uint64_t ts_event;         /* ns */
} ml4t_risk_state_t;

/* Copy a string into a fixed field; ML4T_ELIMIT (naming field) when it does not fit. */
ml4t_err_t ml4t_copy_id(char *dst, size_t dst_size, const char *src, size_t len, const char *field,
                        ml4t_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
