/*  netbench wire: what the benchmark reads and writes inside messages, the
    signal_id that carries a signal's sequence number and send time, and the
    node's own time in its answer. No sockets here: a unit test checks it
    against the codec's real encodings (tests/unit/test_netbench_wire.c). */
#include "netbench.h"

#include <string.h>

long nb_find(const uint8_t *hay, size_t len, size_t from, const uint8_t *needle, size_t n)
{
    for (size_t i = from; i + n <= len; i++) {
        const uint8_t *p = memchr(hay + i, needle[0], len - n + 1 - i);
        if (!p)
            return -1;
        i = (size_t)(p - hay);
        if (memcmp(p, needle, n) == 0)
            return (long)i;
    }
    return -1;
}

static void s_digits(uint8_t *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (uint8_t)('0' + v % 10);
}

void nb_stamp_id(uint8_t *msg, uint32_t id_off, char kind, uint64_t seq, uint64_t send_ns)
{
    uint8_t *p = msg + id_off;
    p[0] = (uint8_t)kind;
    s_digits(p + 1, seq, 9);
    p[10] = '-';
    s_digits(p + 11, send_ns, 20);
}

static bool s_parse_digits(const uint8_t *p, int width, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = v;
    return true;
}

/* Where the value of a map key (its msgpack bytes, key) starts in msg, and
   how many bytes are left from there; NULL when the key is absent. *hint is
   where the key was last time: tried first, updated when it moved. */
static const uint8_t *s_value_of(const uint8_t *msg, size_t len, size_t *hint, const uint8_t *key,
                                 size_t n, size_t *left)
{
    size_t at = *hint;
    if (!(at + n <= len && memcmp(msg + at, key, n) == 0)) {
        long found = nb_find(msg, len, 0, key, n);
        if (found < 0)
            return NULL;
        at = *hint = (size_t)found;
    }
    *left = len - at - n;
    return msg + at + n;
}

bool nb_parse_id(const uint8_t *msg, size_t len, size_t *hint, char *kind, uint64_t *seq,
                 uint64_t *send_ns)
{
    static const uint8_t key[10] = {0xa9, 's', 'i', 'g', 'n', 'a', 'l', '_', 'i', 'd'};
    size_t left;
    const uint8_t *v = s_value_of(msg, len, hint, key, sizeof key, &left);
    if (!v)
        return false;
    if (left >= 1 + NB_ID_LEN && v[0] == 0xa0 + NB_ID_LEN)
        v += 1; /* fixstr */
    else if (left >= 2 + NB_ID_LEN && v[0] == 0xd9 && v[1] == NB_ID_LEN)
        v += 2; /* str8 */
    else
        return false;
    if ((v[0] != 'w' && v[0] != 'm') || v[10] != '-')
        return false;
    *kind = (char)v[0];
    return s_parse_digits(v + 1, 9, seq) && s_parse_digits(v + 11, 20, send_ns);
}

bool nb_parse_own_ns(const uint8_t *msg, size_t len, size_t *hint, uint64_t *own_ns)
{
    static const uint8_t key[11] = {0xaa, 'l', 'a', 't', 'e', 'n', 'c', 'y', '_', 'n', 's'};
    size_t left, width;
    const uint8_t *v = s_value_of(msg, len, hint, key, sizeof key, &left);
    if (!v || left < 1)
        return false;
    if (v[0] <= 0x7f) { /* positive fixint */
        *own_ns = v[0];
        return true;
    }
    switch (v[0]) {
    case 0xcc:
        width = 1;
        break;
    case 0xcd:
        width = 2;
        break;
    case 0xce:
        width = 4;
        break;
    case 0xcf:
        width = 8;
        break;
    default:
        return false;
    }
    if (left < 1 + width)
        return false;
    uint64_t x = 0;
    for (size_t i = 1; i <= width; i++)
        x = x << 8 | v[i];
    *own_ns = x;
    return true;
}
