/* One logger in daprd's schema: time, level, msg, app_id, instance, scope,
 * type=log, ver — logfmt by default, JSON when asked. */
#ifndef DAPR_CORE_LOG_H
#define DAPR_CORE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "dapr/common.h"

typedef void (*dapr__log_sink)(void *ud, dapr_log_level_t lvl, const char *line, size_t len);

typedef struct dapr__logger {
    dapr_log_level_t level;
    bool json;
    char app_id[256];
    char instance[256];
    dapr__log_sink sink; /* NULL: write to stdout */
    void *sink_ud;
} dapr__logger_t;

void dapr__logger_init(dapr__logger_t *lg);
int dapr__log_level_parse(const char *s, dapr_log_level_t *out);
const char *dapr__log_level_name(dapr_log_level_t l);

static inline bool dapr__log_on(const dapr__logger_t *lg, dapr_log_level_t l)
{
    return l >= lg->level;
}

void dapr__log(const dapr__logger_t *lg, dapr_log_level_t lvl, const char *scope, const char *fmt,
               ...) __attribute__((format(printf, 4, 5)));
void dapr__vlog(const dapr__logger_t *lg, dapr_log_level_t lvl, const char *scope, const char *fmt,
                va_list ap);

#define DAPR_LOG(lg, lvl, scope, ...)                                                     \
    do {                                                                                   \
        if (dapr__log_on((lg), (lvl)))                                                     \
            dapr__log((lg), (lvl), (scope), __VA_ARGS__);                                  \
    } while (0)

#endif
