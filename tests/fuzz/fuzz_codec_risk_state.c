/*  libFuzzer harness: ml4t_codec_decode_risk_state on arbitrary bytes (see fuzz_codec.h). */
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_codec_one(ML4T_MSG_RISK_STATE, data, size);
}
