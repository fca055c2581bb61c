/*  ml4t_sizer: integrated position sizing. */
#include "ml4t/sizer.h"

#include <math.h>
#include <string.h>

ml4t_sizer_config_t ml4t_sizer_config_default(void)
{
    return (ml4t_sizer_config_t){.giller = 0.5,
                                 .kelly_fraction = 0.5,
                                 .min_size = 0.01,
                                 .max_size = 1.0,
                                 .default_meta = 0.5,
                                 .default_regime = 0.8,
                                 .default_toxicity = 0.0};
}

/* NaN fails every comparison, so "!(lo <= x && x <= hi)" also rejects it. */
static bool s_in(double x, double lo, double hi)
{
    return lo <= x && x <= hi;
}

ml4t_err_t ml4t_sizer_config_validate(const ml4t_sizer_config_t *cfg, ml4t_error_t *err)
{
    if (!(isfinite(cfg->giller) && cfg->giller > 0.0))
        return ml4t_error_set(err, ML4T_EINVAL, "giller", "giller=%g: must be finite and > 0",
                              cfg->giller);
    if (!(cfg->kelly_fraction > 0.0 && cfg->kelly_fraction <= 1.0))
        return ml4t_error_set(err, ML4T_EINVAL, "kelly_fraction",
                              "kelly_fraction=%g: must be in (0, 1]", cfg->kelly_fraction);
    if (!(isfinite(cfg->min_size) && cfg->min_size >= 0.0))
        return ml4t_error_set(err, ML4T_EINVAL, "min_size", "min_size=%g: must be finite and >= 0",
                              cfg->min_size);
    if (!(isfinite(cfg->max_size) && cfg->max_size >= cfg->min_size))
        return ml4t_error_set(err, ML4T_EINVAL, "max_size",
                              "max_size=%g: must be finite and >= min_size=%g", cfg->max_size,
                              cfg->min_size);
    const struct {
        const char *name;
        double v;
    } d[3] = {{"default_meta", cfg->default_meta},
              {"default_regime", cfg->default_regime},
              {"default_toxicity", cfg->default_toxicity}};
    for (int i = 0; i < 3; i++)
        if (!s_in(d[i].v, 0.0, 1.0))
            return ml4t_error_set(err, ML4T_EINVAL, d[i].name, "%s=%g: must be in [0, 1]",
                                  d[i].name, d[i].v);
    return ML4T_OK;
}

ml4t_sizer_input_t ml4t_sizer_input(double signal)
{
    ml4t_sizer_input_t in;
    memset(&in, 0, sizeof in);
    in.signal = signal;
    return in;
}

/* A given input in [0, 1], or the default when missing. */
static ml4t_err_t s_factor(bool has, double v, double dflt, const char *name, double *out,
                           ml4t_error_t *err)
{
    if (!has) {
        *out = dflt;
        return ML4T_OK;
    }
    if (!s_in(v, 0.0, 1.0))
        return ml4t_error_set(err, ML4T_ERANGE, name, "%s=%g: must be in [0, 1]", name, v);
    *out = v;
    return ML4T_OK;
}

static ml4t_err_t s_inputs(const ml4t_sizer_config_t *cfg, const ml4t_sizer_input_t *in,
                           ml4t_size_t *out, double *toxicity, ml4t_error_t *err)
{
    if (!s_in(in->signal, -1.0, 1.0))
        return ml4t_error_set(err, ML4T_ERANGE, "signal", "signal=%g: must be in [-1, 1]",
                              in->signal);
    ml4t_err_t rc;
    if ((rc = s_factor(in->has_meta, in->meta_confidence, cfg->default_meta, "meta_confidence",
                       &out->f_meta, err)) ||
        (rc = s_factor(in->has_regime, in->regime_weight, cfg->default_regime, "regime_weight",
                       &out->f_regime, err)) ||
        (rc = s_factor(in->has_toxicity, in->toxicity, cfg->default_toxicity, "toxicity", toxicity,
                       err)))
        return rc;
    if (in->has_max_size && !(isfinite(in->max_size) && in->max_size >= 0.0))
        return ml4t_error_set(err, ML4T_ERANGE, "max_size",
                              "policy max_size=%g: must be finite and >= 0", in->max_size);
    return ML4T_OK;
}

ml4t_err_t ml4t_sizer_compute(const ml4t_sizer_config_t *cfg, const ml4t_sizer_input_t *in,
                              ml4t_size_t *out, ml4t_error_t *err)
{
    memset(out, 0, sizeof *out);
    double toxicity = 0.0;
    ml4t_err_t rc = ml4t_sizer_config_validate(cfg, err);
    if (!rc)
        rc = s_inputs(cfg, in, out, &toxicity, err);
    if (rc) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->f_signal = pow(fabs(in->signal), cfg->giller);
    out->f_toxicity = 1.0 - toxicity;
    out->f_kelly = cfg->kelly_fraction;
    out->raw = out->f_signal * out->f_meta * out->f_regime * out->f_toxicity * out->f_kelly;
    double cap = cfg->max_size;
    if (in->has_max_size && in->max_size < cap)
        cap = in->max_size;
    /* exact comparisons: a raw size equal to a bound is within it */
    out->capped = out->raw > cap;
    double size = out->capped ? cap : out->raw;
    out->below_min = size < cfg->min_size || size <= 0.0;
    if (out->below_min) {
        out->size = 0.0;
        out->direction = 0;
    } else {
        out->size = size;
        out->direction = in->signal > 0.0 ? 1 : -1;
    }
    return ML4T_OK;
}
