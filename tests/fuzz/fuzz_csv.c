/*  libFuzzer harness for ml4t_csv_parse_buffer: any bytes must parse without
    a crash, a leak or undefined behaviour, and whatever is accepted must be a
    valid bar series whose counts add up. */
#include "ml4t/csv.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ml4t_bars_t bars;
    ml4t_bars_init(&bars);
    ml4t_csv_stats_t st;
    ml4t_error_t err;
    ml4t_err_t rc = ml4t_csv_parse_buffer((const char *)data, size, &bars, &st, &err);
    if (rc == ML4T_OK && ml4t_bars_validate(&bars, &err) != ML4T_OK)
        abort(); /* an accepted row broke the bar invariants */
    if (rc == ML4T_OK && bars.n != st.rows_accepted)
        abort();
    if (st.rows_accepted + st.rows_rejected != st.rows_read)
        abort();
    if (rc != ML4T_OK && rc != ML4T_ENODATA && rc != ML4T_EFORMAT && rc != ML4T_ENOMEM)
        abort();
    if (rc != ML4T_OK && bars.n != 0)
        abort(); /* out must be left as it was */
    ml4t_bars_destroy(&bars);
    return 0;
}
