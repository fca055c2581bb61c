/*  ml4t_vpin: volume buckets, bulk volume classification, VPIN. */
#include "ml4t/vpin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ml4t_vpin {
    ml4t_vpin_config_t cfg; /* validated */
    double alpha;           /* EWMA weight of the newest dP^2 */
    /* --- state: everything from here to ring[] is reset by ml4t_vpin_reset --- */
    double bucket;     /* volume per bucket; 0 while auto and unset */
    double fill_v;     /* volume in the open bucket */
    double fill_b;     /* buy volume in the open bucket */
    double last_close; /* valid when has_close */
    double var_dp;     /* EWMA of dP^2; valid when has_var */
    bool has_close;
    bool has_var;
    uint64_t closed; /* buckets closed */
    size_t head;     /* next ring slot */
    double sum;      /* sum of ring[] */
    double ring[];   /* imbalances of the last n_buckets buckets, 0 before use */
};

ml4t_vpin_config_t ml4t_vpin_config_default(void)
{
    return (ml4t_vpin_config_t){
        .bucket_volume = 0.0, .n_buckets = 50, .sigma_window = 50, .force_bvc = false};
}

ml4t_err_t ml4t_vpin_config_validate(const ml4t_vpin_config_t *cfg, ml4t_error_t *err)
{
    if (!isfinite(cfg->bucket_volume) || cfg->bucket_volume < 0.0)
        return ml4t_error_set(err, ML4T_EINVAL, "bucket_volume",
                              "bucket_volume=%g: must be finite and > 0, or 0 for auto",
                              cfg->bucket_volume);
    if (cfg->n_buckets < 1 || cfg->n_buckets > ML4T_VPIN_MAX_BUCKETS)
        return ml4t_error_set(err, ML4T_EINVAL, "n_buckets", "n_buckets=%zu: must be in [1, %d]",
                              cfg->n_buckets, ML4T_VPIN_MAX_BUCKETS);
    if (cfg->sigma_window < 1)
        return ml4t_error_set(err, ML4T_EINVAL, "sigma_window", "sigma_window=%zu: must be >= 1",
                              cfg->sigma_window);
    return ML4T_OK;
}

double ml4t_vpin_bucket_volume_from_bars(const ml4t_bars_t *bars)
{
    if (!bars || bars->n < 2 || bars->ts[bars->n - 1] <= bars->ts[0])
        return NAN;
    double total = 0.0;
    for (size_t i = 0; i < bars->n; i++)
        total += bars->volume[i];
    double n = (double)bars->n;
    double days = (double)(bars->ts[bars->n - 1] - bars->ts[0]) * n / (n - 1.0) / 86400e9;
    double bucket = total / days / ML4T_VPIN_BUCKETS_PER_DAY;
    return isfinite(bucket) && bucket > 0.0 ? bucket : NAN;
}

ml4t_vpin_t *ml4t_vpin_new(const ml4t_vpin_config_t *cfg, ml4t_error_t *err)
{
    if (ml4t_vpin_config_validate(cfg, err) != ML4T_OK)
        return NULL;
    ml4t_vpin_t *self = malloc(sizeof *self + cfg->n_buckets * sizeof(double));
    if (!self) {
        ml4t_error_set(err, ML4T_ENOMEM, "n_buckets", "out of memory for %zu buckets",
                       cfg->n_buckets);
        return NULL;
    }
    self->cfg = *cfg;
    self->alpha = 2.0 / ((double)cfg->sigma_window + 1.0);
    ml4t_vpin_reset(self);
    return self;
}

void ml4t_vpin_destroy(ml4t_vpin_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void ml4t_vpin_reset(ml4t_vpin_t *self)
{
    size_t state = offsetof(ml4t_vpin_t, bucket);
    memset((char *)self + state, 0, sizeof *self - state + self->cfg.n_buckets * sizeof(double));
    self->bucket = self->cfg.bucket_volume;
}

ml4t_err_t ml4t_vpin_copy(ml4t_vpin_t *dst, const ml4t_vpin_t *src, ml4t_error_t *err)
{
    if (dst->cfg.n_buckets != src->cfg.n_buckets)
        return ml4t_error_set(err, ML4T_EMISMATCH, "n_buckets",
                              "cannot copy %zu buckets into an estimator of %zu",
                              src->cfg.n_buckets, dst->cfg.n_buckets);
    if (dst != src)
        memcpy(dst, src, sizeof *src + src->cfg.n_buckets * sizeof(double));
    return ML4T_OK;
}

static void s_push(ml4t_vpin_t *self, double imbalance)
{
    size_t n = self->cfg.n_buckets;
    self->sum += imbalance - self->ring[self->head];
    self->ring[self->head] = imbalance;
    if (++self->head == n) {
        /* re-sum once per lap so rounding in the running sum cannot drift */
        self->head = 0;
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += self->ring[i];
        self->sum = s;
    }
}

/* Pour vol (buy fraction f) into buckets. A bucket closes when its remaining
   room is within 1e-9 of the bucket volume (rounding, not trade); a bar that
   spans k whole buckets writes min(k, n_buckets) slots, all |2f - 1|. */
static void s_pour(ml4t_vpin_t *self, double vol, double f)
{
    const double bucket = self->bucket, eps = 1e-9 * bucket;
    double room = bucket - self->fill_v;
    if (vol + eps < room) {
        self->fill_v += vol;
        self->fill_b += vol * f;
        return;
    }
    double take = vol < room ? vol : room;
    double filled = self->fill_v + take, buy = self->fill_b + take * f;
    s_push(self, fabs(2.0 * buy - filled) / bucket);
    self->closed++;
    self->fill_v = self->fill_b = 0.0;
    vol -= take;
    double whole = floor((vol + eps) / bucket);
    if (whole >= 1.0) {
        uint64_t k = whole < 1e18 ? (uint64_t)whole : UINT64_C(1000000000000000000);
        uint64_t writes = k < self->cfg.n_buckets ? k : self->cfg.n_buckets;
        for (uint64_t i = 0; i < writes; i++)
            s_push(self, fabs(2.0 * f - 1.0));
        self->closed += k;
        vol -= whole * bucket;
    }
    if (vol > eps) {
        self->fill_v = vol;
        self->fill_b = vol * f;
    }
}

static double s_phi(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

static ml4t_err_t s_check_bar(const ml4t_vpin_t *self, double close, double volume, double *buy,
                              ml4t_error_t *err)
{
    if (!isfinite(close) || close <= 0.0)
        return ml4t_error_set(err, ML4T_ERANGE, "close", "close=%g: must be finite and > 0", close);
    if (!isfinite(volume) || volume < 0.0)
        return ml4t_error_set(err, ML4T_ERANGE, "volume", "volume=%g: must be finite and >= 0",
                              volume);
    if (!isnan(*buy)) {
        if (!isfinite(*buy) || *buy < 0.0)
            return ml4t_error_set(err, ML4T_ERANGE, "buy_volume",
                                  "buy_volume=%g: must be NaN or finite and >= 0", *buy);
        /* same relative tolerance as ml4t_bars_validate */
        if (*buy > volume * (1.0 + 1e-9) + 1e-12)
            return ml4t_error_set(err, ML4T_ERANGE, "buy_volume", "buy_volume=%g exceeds volume=%g",
                                  *buy, volume);
        if (*buy > volume)
            *buy = volume;
    }
    if (self->bucket <= 0.0)
        return ml4t_error_set(err, ML4T_ESTATE, "bucket_volume",
                              "bucket_volume is auto and not yet set: give history to "
                              "ml4t_vpin_update_bars first, or configure it");
    return ML4T_OK;
}

ml4t_err_t ml4t_vpin_update(ml4t_vpin_t *self, double close, double volume, double buy_volume,
                            ml4t_error_t *err)
{
    ml4t_err_t rc = s_check_bar(self, close, volume, &buy_volume, err);
    if (rc)
        return rc;
    double dp = 0.0;
    if (self->has_close) {
        dp = close - self->last_close;
        self->var_dp =
            self->has_var ? (1.0 - self->alpha) * self->var_dp + self->alpha * dp * dp : dp * dp;
        self->has_var = true;
    }
    self->last_close = close;
    self->has_close = true;
    if (volume <= 0.0)
        return ML4T_OK;
    double f;
    if (!self->cfg.force_bvc && !isnan(buy_volume))
        f = buy_volume / volume;
    else
        f = self->var_dp > 0.0 ? s_phi(dp / sqrt(self->var_dp)) : 0.5;
    s_pour(self, volume, f);
    return ML4T_OK;
}

ml4t_err_t ml4t_vpin_update_bars(ml4t_vpin_t *self, const ml4t_bars_t *bars, ml4t_error_t *err)
{
    ml4t_err_t rc = ml4t_bars_validate(bars, err);
    if (rc)
        return rc;
    if (self->bucket <= 0.0) {
        double b = ml4t_vpin_bucket_volume_from_bars(bars);
        if (!(b > 0.0))
            return ml4t_error_set(err, ML4T_ENODATA, "bucket_volume",
                                  "cannot set the auto bucket volume from %zu bars: need at "
                                  "least two bars spanning some time with volume",
                                  bars->n);
        self->bucket = b;
    }
    for (size_t i = 0; i < bars->n; i++) {
        rc = ml4t_vpin_update(self, bars->close[i], bars->volume[i], bars->buy_volume[i], err);
        if (rc)
            return rc; /* unreachable after validation; kept for safety */
    }
    return ML4T_OK;
}

bool ml4t_vpin_valid(const ml4t_vpin_t *self)
{
    return self->closed >= self->cfg.n_buckets;
}

double ml4t_vpin_value(const ml4t_vpin_t *self)
{
    if (!ml4t_vpin_valid(self))
        return NAN;
    double v = self->sum / (double)self->cfg.n_buckets;
    return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; /* running-sum rounding only */
}

ml4t_toxicity_level_t ml4t_vpin_level_of(double vpin)
{
    /* exact comparisons: 0.3 and 0.7 themselves belong to the higher level */
    if (isnan(vpin))
        return ML4T_TOXICITY_UNKNOWN;
    if (vpin < 0.3)
        return ML4T_TOXICITY_LOW;
    if (vpin < 0.7)
        return ML4T_TOXICITY_MEDIUM;
    return ML4T_TOXICITY_HIGH;
}

ml4t_toxicity_level_t ml4t_vpin_level(const ml4t_vpin_t *self)
{
    return ml4t_vpin_level_of(ml4t_vpin_value(self));
}

double ml4t_vpin_bucket_volume(const ml4t_vpin_t *self)
{
    return self->bucket;
}

uint64_t ml4t_vpin_buckets(const ml4t_vpin_t *self)
{
    return self->closed;
}
