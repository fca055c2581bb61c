/*  ml4t_error: one public error enum and a detail record that names the bad field.

    Every fallible function returns ml4t_err_t (ML4T_OK = 0) and, when given a
    non-NULL ml4t_error_t *, fills it with the field at fault and a sentence a
    person can act on. Bad input is never an abort: asserts are for programmer
    errors only. */
#ifndef ML4T_ERROR_H_INCLUDED
#define ML4T_ERROR_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X-macro: code, symbolic reason (the wire's ErrorEvent.reason), message */
#define ML4T_ERRNO_MAP(X)                                                                          \
    X(OK, "ok", "success")                                                                         \
    X(EINVAL, "invalid_argument", "invalid argument")                                              \
    X(ENOMEM, "out_of_memory", "out of memory")                                                    \
    X(EIO, "io_error", "input/output error")                                                       \
    X(EFORMAT, "malformed", "malformed input")                                                     \
    X(ERANGE, "out_of_range", "value out of range")                                                \
    X(EMISSING, "missing_field", "required field missing")                                         \
    X(ETYPE, "wrong_type", "field has the wrong type")                                             \
    X(ELIMIT, "limit_exceeded", "size limit exceeded")                                             \
    X(ENOTFOUND, "not_found", "not found")                                                         \
    X(EMISMATCH, "mismatch", "mismatch")                                                           \
    X(EMODEL, "model_error", "model error")                                                        \
    X(ESTATE, "invalid_state", "invalid state")                                                    \
    X(EBUSY, "busy", "busy")                                                                       \
    X(ETIMEOUT, "timeout", "timed out")                                                            \
    X(ENODATA, "insufficient_data", "not enough data")                                             \
    X(EUNSUPPORTED, "unsupported", "unsupported")

typedef enum {
#define ML4T_ERR_ENUM(name, reason, msg) ML4T_##name,
    ML4T_ERRNO_MAP(ML4T_ERR_ENUM)
#undef ML4T_ERR_ENUM
        ML4T_ERR_COUNT_
} ml4t_err_t;

#define ML4T_ERROR_FIELD_MAX 64
#define ML4T_ERROR_MSG_MAX   256

typedef struct ml4t_error {
    ml4t_err_t code;                  /* read-only */
    char field[ML4T_ERROR_FIELD_MAX]; /* the offending key or field, "" when none */
    char msg[ML4T_ERROR_MSG_MAX];     /* always NUL-terminated */
} ml4t_error_t;

/* Human-readable text of an error code; never NULL. */
const char *ml4t_strerror(ml4t_err_t code);

/* Short snake_case reason of an error code (used on the wire); never NULL. */
const char *ml4t_err_reason(ml4t_err_t code);

/* Clear a detail record to ML4T_OK. Safe on NULL. */
void ml4t_error_clear(ml4t_error_t *err);

/* Fill err (may be NULL) and return code, so callers write
   `return ml4t_error_set(err, ML4T_ERANGE, "signal", "must be -1, 0 or 1, got %d", s);` */
ml4t_err_t ml4t_error_set(ml4t_error_t *err, ml4t_err_t code, const char *field, const char *fmt,
                          ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
