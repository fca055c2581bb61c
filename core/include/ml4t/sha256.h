/*  ml4t_sha256: SHA-256 (FIPS 180-4), streaming and one-shot.

    Used to checksum model files; no external crypto library. A context is a
    stack object: init, update any number of times, final. The context holds no
    heap memory, so there is no destroy. */
#ifndef ML4T_SHA256_H_INCLUDED
#define ML4T_SHA256_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ML4T_SHA256_BYTES 32
#define ML4T_SHA256_HEX   65 /* 64 lower-case hex digits and the NUL */

typedef struct ml4t_sha256 {
    uint32_t h[8];    /* private: chaining state */
    uint64_t n_bytes; /* private: message length so far */
    uint8_t buf[64];  /* private: partial block */
    size_t buf_len;   /* private: bytes held in buf */
} ml4t_sha256_t;

void ml4t_sha256_init(ml4t_sha256_t *ctx);
/* Feed len bytes (data may be NULL when len is 0). */
void ml4t_sha256_update(ml4t_sha256_t *ctx, const void *data, size_t len);
/* Write the digest; ctx must be init'ed again before reuse. */
void ml4t_sha256_final(ml4t_sha256_t *ctx, uint8_t digest[ML4T_SHA256_BYTES]);

/* One-shot digest of len bytes. */
void ml4t_sha256(const void *data, size_t len, uint8_t digest[ML4T_SHA256_BYTES]);
/* Lower-case hex of a digest into hex (ML4T_SHA256_HEX bytes, NUL-terminated). */
void ml4t_sha256_hex(const uint8_t digest[ML4T_SHA256_BYTES], char hex[ML4T_SHA256_HEX]);

#ifdef __cplusplus
}
#endif
#endif
