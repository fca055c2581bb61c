/*  A user's program built against an installed ml4t: sizes a signal, encodes an
    enriched event and decodes it back. Exit 0 when the values survive. */
#include <ml4t/codec.h>
#include <ml4t/sizer.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    ml4t_sizer_config_t cfg = ml4t_sizer_config_default();
    ml4t_sizer_input_t in = ml4t_sizer_input(0.8);
    in.has_meta = in.has_regime = in.has_toxicity = true;
    in.meta_confidence = 0.75;
    in.regime_weight = 1.0;
    in.toxicity = 0.2;
    ml4t_enriched_t e;
    memset(&e, 0, sizeof e);
    snprintf(e.instrument_id, sizeof e.instrument_id, "FILUSDT");
    if (ml4t_sizer_compute(&cfg, &in, &e.size, NULL) != ML4T_OK)
        return 1;
    ml4t_codec_t *codec = ml4t_codec_new(NULL);
    const uint8_t *buf;
    size_t len;
    ml4t_enriched_t back;
    if (!codec || ml4t_codec_encode_enriched(codec, &e, &buf, &len, NULL) != ML4T_OK ||
        ml4t_codec_decode_enriched(codec, buf, len, &back, NULL) != ML4T_OK)
        return 1;
    ml4t_codec_destroy(&codec);
    printf("consumer: %s size %.4f\n", back.instrument_id, back.size.size);
    return strcmp(back.instrument_id, "FILUSDT") == 0 && back.size.size > 0.268 &&
                   back.size.size < 0.2684
               ? 0
               : 1;
}
