/*  libFuzzer harness for the node's configuration file (ZPL, czmq's zconfig)
    through ml4t_node_config_load_zpl_text, then ml4t_node_config_check: any
    bytes must load without a crash, a leak or undefined behaviour, problems
    stay a bounded, terminated text, and every value the parser accepted
    renders back (ml4t_node_config_get) into text that is accepted again. */
#include "ml4t/node.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_check_problems(const ml4t_node_problems_t *pr)
{
    if (memchr(pr->text, '\0', sizeof pr->text) == NULL)
        abort(); /* problems text lost its terminator */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ml4t_node_config_t cfg, again; /* large: off the stack */
    ml4t_node_config_default(&cfg);
    ml4t_node_problems_t pr = {0};
    ml4t_err_t rc = ml4t_node_config_load_zpl_text(&cfg, (const char *)data, size, "<fuzz>", &pr);
    if (rc != ML4T_OK && rc != ML4T_EFORMAT && rc != ML4T_ENOMEM)
        abort();
    if (rc == ML4T_EFORMAT && pr.n == 0)
        abort(); /* a refusal is always explained */
    s_check_problems(&pr);
    ml4t_node_config_default(&again);
    for (const ml4t_node_option_t *o = ml4t_node_config_options(); o->key; o++) {
        char v[1024];
        if (ml4t_node_config_get(&cfg, o->key, v, sizeof v) != ML4T_OK)
            abort(); /* every listed option renders */
        ml4t_error_t err;
        if (ml4t_node_config_set(&again, o->key, v, &err) != ML4T_OK)
            abort(); /* what was accepted (or defaulted) is accepted again */
    }
    ml4t_node_config_check(&cfg, &pr);
    s_check_problems(&pr);
    return 0;
}
