/*
 * libdapr — common types: result codes, errors handed to callbacks,
 * key/value pairs.
 *
 * Conventions used by every public header:
 *  - functions return DAPR_OK (0) or a negative DAPR_E* code;
 *  - a call that takes a callback and fails never invokes the callback; a call
 *    that succeeds invokes it exactly once, on the runtime's loop (possibly
 *    before the call returns, for stores that answer from memory);
 *  - arguments handed to a callback live until the callback returns: copy what
 *    you keep;
 *  - "borrowed" pointers are read during the call only, "copied" ones are
 *    duplicated by the library, "transferred" ones become the library's.
 */
#ifndef DAPR_COMMON_H
#define DAPR_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DAPR_EXTERN __attribute__((visibility("default")))
#else
#define DAPR_EXTERN
#endif

#define DAPR_VERSION_MAJOR 0
#define DAPR_VERSION_MINOR 1
#define DAPR_VERSION_PATCH 0
/* The Dapr release whose API and behaviour this library implements. */
#define DAPR_COMPAT_VERSION "1.16.0"

/* Result codes. Negative, stable, listed in dapr_err_name(). */
#define DAPR_ERRNO_MAP(X)                                                     \
    X(OK, 0, "success")                                                       \
    X(EINVAL, -1, "invalid argument")                                         \
    X(ENOMEM, -2, "out of memory")                                            \
    X(ENOTFOUND, -3, "not found")                                             \
    X(EEXIST, -4, "already exists")                                           \
    X(EETAG_MISMATCH, -5, "etag mismatch")                                    \
    X(EETAG_INVALID, -6, "invalid etag")                                      \
    X(ENOTSUP, -7, "operation not supported")                                 \
    X(ETIMEDOUT, -8, "timed out")                                             \
    X(EUNAVAIL, -9, "backend unavailable")                                    \
    X(ECANCELED, -10, "canceled")                                             \
    X(EBACKEND, -11, "backend error")                                         \
    X(ETOOBIG, -12, "too large")                                              \
    X(ECLOSED, -13, "closed")                                                 \
    X(EIO, -14, "i/o error")                                                  \
    X(ESTATE, -15, "invalid state for this call")                             \
    X(EPARSE, -16, "malformed input")                                         \
    X(EDENIED, -17, "permission denied")                                      \
    X(EAGAIN, -18, "try again later")

enum {
#define DAPR__ERRNO_ENUM(name, val, text) DAPR_##name = (val),
    DAPR_ERRNO_MAP(DAPR__ERRNO_ENUM)
#undef DAPR__ERRNO_ENUM
};

/* Human text of a result code; never NULL, static storage. */
DAPR_EXTERN const char *dapr_strerror(int code);
/* Symbolic name ("DAPR_ETIMEDOUT") of a result code; never NULL. */
DAPR_EXTERN const char *dapr_err_name(int code);

/* An error handed to a callback. `message` carries the detail (backend text,
 * component name); both live until the callback returns. */
typedef struct dapr_error {
    int code;            /* DAPR_E* */
    const char *message; /* never NULL in a callback */
    /* Dapr's error code ("ERR_STATE_STORE_NOT_FOUND", ...) when the error
     * comes from a building block's rules, as the HTTP/gRPC API would
     * answer it; NULL for errors of components and transports. */
    const char *error_code;
} dapr_error_t;

/* Completion of an operation that returns nothing. err is NULL on success. */
typedef void (*dapr_done_cb)(const dapr_error_t *err, void *data);

/* A string pair; both NUL-terminated. */
typedef struct dapr_kv {
    const char *key;
    const char *value;
} dapr_kv_t;

/* Log levels, as daprd's --log-level. */
typedef enum dapr_log_level {
    DAPR_LOG_DEBUG = 0,
    DAPR_LOG_INFO = 1,
    DAPR_LOG_WARN = 2,
    DAPR_LOG_ERROR = 3,
    DAPR_LOG_FATAL = 4
} dapr_log_level_t;

#ifdef __cplusplus
}
#endif
#endif
