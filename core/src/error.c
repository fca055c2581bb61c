/*  ml4t_error: error codes, their texts, and detail records. */
#include "ml4t/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *s_messages[] = {
#define ML4T_ERR_MSG(name, reason, msg) msg,
    ML4T_ERRNO_MAP(ML4T_ERR_MSG)
#undef ML4T_ERR_MSG
};

static const char *s_reasons[] = {
#define ML4T_ERR_REASON(name, reason, msg) reason,
    ML4T_ERRNO_MAP(ML4T_ERR_REASON)
#undef ML4T_ERR_REASON
};

const char *ml4t_strerror(ml4t_err_t code)
{
    if ((int)code < 0 || code >= ML4T_ERR_COUNT_)
        return "unknown error";
    return s_messages[code];
}

const char *ml4t_err_reason(ml4t_err_t code)
{
    if ((int)code < 0 || code >= ML4T_ERR_COUNT_)
        return "unknown";
    return s_reasons[code];
}

void ml4t_error_clear(ml4t_error_t *err)
{
    if (!err)
        return;
    err->code = ML4T_OK;
    err->field[0] = '\0';
    err->msg[0] = '\0';
}

ml4t_err_t ml4t_error_set(ml4t_error_t *err, ml4t_err_t code, const char *field, const char *fmt,
                          ...)
{
    if (!err)
        return code;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    } else {
        snprintf(err->msg, sizeof err->msg, "%s", ml4t_strerror(code));
    }
    return code;
}
