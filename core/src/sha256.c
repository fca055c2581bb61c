/*  ml4t_sha256: SHA-256 after FIPS 180-4, section 6.2. */
#include "ml4t/sha256.h"

#include <string.h>

static const uint32_t s_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t s_rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static void s_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = s_rotr(w[t - 15], 7) ^ s_rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = s_rotr(w[t - 2], 17) ^ s_rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = hh + (s_rotr(e, 6) ^ s_rotr(e, 11) ^ s_rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                      s_k[t] + w[t];
        uint32_t t2 =
            (s_rotr(a, 2) ^ s_rotr(a, 13) ^ s_rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void ml4t_sha256_init(ml4t_sha256_t *ctx)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(ctx->h, h0, sizeof h0);
    ctx->n_bytes = 0;
    ctx->buf_len = 0;
}

void ml4t_sha256_update(ml4t_sha256_t *ctx, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len == 0) /* data may be NULL then, and memcpy must not see it */
        return;
    ctx->n_bytes += len;
    if (ctx->buf_len) {
        size_t take = 64 - ctx->buf_len < len ? 64 - ctx->buf_len : len;
        memcpy(ctx->buf + ctx->buf_len, p, take);
        ctx->buf_len += take;
        p += take;
        len -= take;
        if (ctx->buf_len < 64)
            return;
        s_block(ctx->h, ctx->buf);
        ctx->buf_len = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        s_block(ctx->h, p);
    if (len) {
        memcpy(ctx->buf, p, len);
        ctx->buf_len = len;
    }
}

void ml4t_sha256_final(ml4t_sha256_t *ctx, uint8_t digest[ML4T_SHA256_BYTES])
{
    uint64_t bits = ctx->n_bytes * 8;
    /* padding: 0x80, zeros up to 56 mod 64, then the 64-bit big-endian length */
    uint8_t pad[72] = {0x80};
    size_t pad_len = (ctx->buf_len < 56 ? 56 : 120) - ctx->buf_len;
    for (int i = 0; i < 8; i++)
        pad[pad_len + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    ml4t_sha256_update(ctx, pad, pad_len + 8);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(ctx->h[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
        digest[4 * i + 3] = (uint8_t)ctx->h[i];
    }
}

void ml4t_sha256(const void *data, size_t len, uint8_t digest[ML4T_SHA256_BYTES])
{
    ml4t_sha256_t ctx;
    ml4t_sha256_init(&ctx);
    ml4t_sha256_update(&ctx, data, len);
    ml4t_sha256_final(&ctx, digest);
}

void ml4t_sha256_hex(const uint8_t digest[ML4T_SHA256_BYTES], char hex[ML4T_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < ML4T_SHA256_BYTES; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
}
