/* A growable byte buffer. Appends return 0 or DAPR_ENOMEM; after a failure
 * the buffer keeps its old contents and `oom` is set, so a writer can do many
 * appends and check once. */
#ifndef DAPR_CORE_BUF_H
#define DAPR_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dapr__buf {
    char *data;
    size_t len;
    size_t cap;
    int oom;
} dapr__buf_t;

#define DAPR__BUF_INIT {NULL, 0, 0, 0}

int dapr__buf_reserve(dapr__buf_t *b, size_t extra);
int dapr__buf_append(dapr__buf_t *b, const void *p, size_t n);
int dapr__buf_puts(dapr__buf_t *b, const char *s);
int dapr__buf_putc(dapr__buf_t *b, char c);
int dapr__buf_printf(dapr__buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dapr__buf_vprintf(dapr__buf_t *b, const char *fmt, va_list ap);
/* Append s as a JSON string literal (quotes included). With `html` set,
 * <, > and & are escaped as \u003c... like Go's encoding/json. */
int dapr__buf_json_str(dapr__buf_t *b, const char *s, size_t n, int html);
/* The decimal digits of v into out, NUL-terminated, without printf (hot
 * paths: lengths, ETags); returns their count (at most 20). */
size_t dapr__fmt_u64(char out[24], uint64_t v);
/* Append v in decimal. */
int dapr__buf_put_u64(dapr__buf_t *b, uint64_t v);
/* Ensure a trailing NUL after data[len] (not counted in len). */
int dapr__buf_cstr(dapr__buf_t *b);
/* Hand the memory to the caller (free with dapr__free) and reset. */
char *dapr__buf_steal(dapr__buf_t *b, size_t *len);
void dapr__buf_reset(dapr__buf_t *b);
void dapr__buf_free(dapr__buf_t *b);

#endif
