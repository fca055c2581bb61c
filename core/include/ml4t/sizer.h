/*  ml4t_sizer: integrated position sizing.

        raw  = |signal|^giller * meta_confidence * regime_weight
               * (1 - toxicity) * fractional_kelly
        cap  = min(max_size, policy max_size when given)
        size = min(raw, cap), then 0 (direction 0) when below min_size
        direction = sign(signal) when size > 0

    The Giller exponent (0.5 by default) dampens the signal strength in a
    concave way, so a weak signal still gets a proportionate share while a
    strong one cannot dominate; the fractional Kelly factor (0.5, "half Kelly")
    scales the whole bet down. Every factor is reported in ml4t_size_t.

    An input is either given (has_* true, then it must be finite and in range)
    or missing (has_* false, then the configured default applies): a NaN is an
    error naming the field, never a default and never a NaN size. Stateless
    and thread-safe; no allocation. */
#ifndef ML4T_SIZER_H_INCLUDED
#define ML4T_SIZER_H_INCLUDED

#include <stdbool.h>

#include "ml4t/error.h"
#include "ml4t/event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ml4t_sizer_config {
    double giller;           /* 0.5: exponent on |signal|, > 0 */
    double kelly_fraction;   /* 0.5: fractional Kelly, in (0, 1] */
    double min_size;         /* 0.01: smaller sizes become 0, >= 0 */
    double max_size;         /* 1.0: larger sizes are capped, >= min_size */
    double default_meta;     /* 0.5: meta confidence when missing, in [0, 1] */
    double default_regime;   /* 0.8: regime weight when missing, in [0, 1] */
    double default_toxicity; /* 0.0: toxicity when missing, in [0, 1] */
} ml4t_sizer_config_t;

/* The defaults above. */
ml4t_sizer_config_t ml4t_sizer_config_default(void);

/* ML4T_EINVAL naming the first bad field ("giller", "kelly_fraction",
   "min_size", "max_size", "default_meta", ...) and its value. */
ml4t_err_t ml4t_sizer_config_validate(const ml4t_sizer_config_t *cfg, ml4t_error_t *err);

typedef struct ml4t_sizer_input {
    double signal; /* required: signed strength in [-1, 1]; the sign is the direction */
    bool has_meta;
    double meta_confidence; /* in [0, 1]: the meta-model's probability the signal is right */
    bool has_regime;
    double regime_weight; /* in [0, 1] */
    bool has_toxicity;
    double toxicity; /* VPIN in [0, 1]; leave missing while VPIN is invalid (NaN) */
    bool has_max_size;
    double max_size; /* >= 0: a policy's cap (max risk), applied below cfg->max_size */
} ml4t_sizer_input_t;

/* An input with this signal and every optional field missing. */
ml4t_sizer_input_t ml4t_sizer_input(double signal);

/* Size one signal. cfg is validated on every call (a few comparisons). On error
   (ML4T_EINVAL for cfg, ML4T_ERANGE naming "signal", "meta_confidence",
   "regime_weight", "toxicity" or "max_size" for the input) *out is all zero:
   size 0, direction 0, never NaN. */
ml4t_err_t ml4t_sizer_compute(const ml4t_sizer_config_t *cfg, const ml4t_sizer_input_t *in,
                              ml4t_size_t *out, ml4t_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
