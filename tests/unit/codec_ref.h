/*  Reference SignalEvent decoder on msgpack-c's object tree (msgpack_unpack_next
    into a reused msgpack_unpacked, then a walk of the objects). It is the
    independent implementation test_codec checks the pull decoder against, and
    the baseline the codec benchmark measures. Lenient: no limits, no value
    validation, last duplicate wins. Static, header-only. */
#ifndef ML4T_CODEC_REF_H_INCLUDED
#define ML4T_CODEC_REF_H_INCLUDED

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "ml4t/event.h"

static inline int ref_key(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

static inline int ref_num(const msgpack_object *o, double *x)
{
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *x = o->via.f64;
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *x = (double)o->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *x = (double)o->via.i64;
        return 0;
    default:
        return -1;
    }
}

static inline int ref_str(const msgpack_object *o, char *dst, size_t size)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size)
        return -1;
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
    return 0;
}

static inline int ref_plain_bars(const msgpack_object_array *a, ml4t_bars_t *b)
{
    for (uint32_t i = 0; i < a->size; i++) {
        const msgpack_object *row = &a->ptr[i];
        if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size < 6)
            return -1;
        const msgpack_object *c = row->via.array.ptr;
        double x[6] = {0, 0, 0, 0, 0, NAN};
        if (c[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return -1;
        for (int k = 0; k < 5; k++)
            if (ref_num(&c[k + 1], &x[k]))
                return -1;
        if (row->via.array.size > 6 && c[6].type != MSGPACK_OBJECT_NIL && ref_num(&c[6], &x[5]))
            return -1;
        if (ml4t_bars_push(b, c[0].via.u64, x[0], x[1], x[2], x[3], x[4], x[5]))
            return -1;
    }
    return 0;
}

static inline int ref_columnar_bars(const msgpack_object_map *m, ml4t_bars_t *b)
{
    static const char *cols[7] = {"ts", "open", "high", "low", "close", "volume", "buy_volume"};
    const msgpack_object *found[7] = {0};
    for (uint32_t k = 0; k < m->size; k++)
        for (int j = 0; j < 7; j++)
            if (ref_key(&m->ptr[k].key, cols[j]) && m->ptr[k].val.type == MSGPACK_OBJECT_BIN)
                found[j] = &m->ptr[k].val;
    for (int j = 0; j < 6; j++)
        if (!found[j])
            return -1;
    size_t n = found[0]->via.bin.size / 8;
    if (ml4t_bars_reserve(b, n))
        return -1;
    double *dst[7] = {NULL, b->open, b->high, b->low, b->close, b->volume, b->buy_volume};
    for (size_t i = 0; i < n; i++) {
        memcpy(&b->ts[i], found[0]->via.bin.ptr + 8 * i, 8); /* little-endian host */
        for (int j = 1; j < 7; j++) {
            if (found[j])
                memcpy(&dst[j][i], found[j]->via.bin.ptr + 8 * i, 8);
            else
                dst[j][i] = NAN;
        }
    }
    b->n = n;
    return 0;
}

/* 0 on success; u is reused across calls (msgpack_unpacked_init once). */
static inline int ref_decode_signal(msgpack_unpacked *u, const uint8_t *buf, size_t len,
                                    ml4t_signal_t *s)
{
    size_t off = 0;
    if (msgpack_unpack_next(u, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len || u->data.type != MSGPACK_OBJECT_MAP)
        return -1;
    ml4t_signal_clear(s);
    const msgpack_object_map *m = &u->data.via.map;
    for (uint32_t k = 0; k < m->size; k++) {
        const msgpack_object *key = &m->ptr[k].key, *v = &m->ptr[k].val;
        int rc = 0;
        if (ref_key(key, "instrument_id"))
            rc = ref_str(v, s->instrument_id, sizeof s->instrument_id);
        else if (ref_key(key, "strategy_id"))
            rc = ref_str(v, s->strategy_id, sizeof s->strategy_id);
        else if (ref_key(key, "signal_id"))
            rc = ref_str(v, s->signal_id, sizeof s->signal_id);
        else if (ref_key(key, "signal"))
            s->signal =
                v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? (int)v->via.i64 : (int)v->via.u64;
        else if (ref_key(key, "ts_event"))
            s->ts_event = v->via.u64;
        else if (ref_key(key, "bars") && v->type == MSGPACK_OBJECT_ARRAY)
            rc = ref_plain_bars(&v->via.array, &s->bars);
        else if (ref_key(key, "bars") && v->type == MSGPACK_OBJECT_MAP)
            rc = ref_columnar_bars(&v->via.map, &s->bars);
        if (rc)
            return -1;
    }
    return 0;
}

#endif
