/*  ml4t_sha256 tests: the FIPS 180-2 appendix B vectors, and streaming. */
#include "ml4t/sha256.h"

#include "testutil.h"

static void s_hex_of(const void *data, size_t len, char hex[ML4T_SHA256_HEX])
{
    uint8_t d[ML4T_SHA256_BYTES];
    ml4t_sha256(data, len, d);
    ml4t_sha256_hex(d, hex);
}

static void t_fips_abc(void)
{
    char hex[ML4T_SHA256_HEX];
    s_hex_of("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void t_fips_empty(void)
{
    char hex[ML4T_SHA256_HEX];
    s_hex_of("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    s_hex_of(NULL, 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void t_fips_448_bits(void)
{
    /* 56 bytes: the padding spills into a second block */
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    char hex[ML4T_SHA256_HEX];
    CHECK_EQ_INT(strlen(m) * 8, 448);
    s_hex_of(m, strlen(m), hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void t_fips_million_a(void)
{
    ml4t_sha256_t ctx;
    ml4t_sha256_init(&ctx);
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    for (int i = 0; i < 1000; i++)
        ml4t_sha256_update(&ctx, chunk, sizeof chunk);
    uint8_t d[ML4T_SHA256_BYTES];
    char hex[ML4T_SHA256_HEX];
    ml4t_sha256_final(&ctx, d);
    ml4t_sha256_hex(d, hex);
    CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void t_streaming_equals_one_shot(void)
{
    uint8_t msg[300];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 37 + 11);
    /* every split point, including block boundaries 55/56/63/64 */
    for (size_t len = 0; len <= sizeof msg; len += 7) {
        uint8_t want[ML4T_SHA256_BYTES];
        ml4t_sha256(msg, len, want);
        for (size_t cut = 0; cut <= len; cut += 3) {
            ml4t_sha256_t ctx;
            uint8_t got[ML4T_SHA256_BYTES];
            ml4t_sha256_init(&ctx);
            ml4t_sha256_update(&ctx, msg, cut);
            ml4t_sha256_update(&ctx, msg + cut, len - cut);
            ml4t_sha256_final(&ctx, got);
            CHECK(memcmp(got, want, sizeof want) == 0);
        }
    }
}

static const t_case_t cases[] = {
    T_CASE(t_fips_abc),
    T_CASE(t_fips_empty),
    T_CASE(t_fips_448_bits),
    T_CASE(t_fips_million_a),
    T_CASE(t_streaming_equals_one_shot),
};
T_MAIN(cases)
