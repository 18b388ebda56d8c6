#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "strutil.h"

static const char *level_names[] = {"debug", "info", "warning", "error", "fatal"};

const char *dapr__log_level_name(dapr_log_level_t l)
{
    return (unsigned)l < 5 ? level_names[l] : "info";
}

int dapr__log_level_parse(const char *s, dapr_log_level_t *out)
{
    static const struct {
        const char *n;
        dapr_log_level_t l;
    } t[] = {{"debug", DAPR_LOG_DEBUG}, {"info", DAPR_LOG_INFO},   {"warn", DAPR_LOG_WARN},
             {"warning", DAPR_LOG_WARN}, {"error", DAPR_LOG_ERROR}, {"fatal", DAPR_LOG_FATAL}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (!dapr__strcasecmp(s, t[i].n)) {
            *out = t[i].l;
            return 0;
        }
    return DAPR_EINVAL;
}

void dapr__logger_init(dapr__logger_t *lg)
{
    memset(lg, 0, sizeof(*lg));
    lg->level = DAPR_LOG_INFO;
    if (gethostname(lg->instance, sizeof(lg->instance) - 1) != 0)
        strcpy(lg->instance, "localhost");
}

/* logfmt value: bare when it has no space, quote, '=' or control byte. */
static void logfmt_val(dapr__buf_t *b, const char *v)
{
    int quote = !*v;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '=' || *p == '\\')
            quote = 1;
    if (quote)
        dapr__buf_json_str(b, v, strlen(v), 0);
    else
        dapr__buf_puts(b, v);
}

void dapr__vlog(const dapr__logger_t *lg, dapr_log_level_t lvl, const char *scope, const char *fmt,
                va_list ap)
{
    if (!dapr__log_on(lg, lvl))
        return;
    char ts[48];
    dapr__format_time_rfc3339(ts, sizeof(ts), dapr__now_unix_ns(), true);
    dapr__buf_t msg = DAPR__BUF_INIT, line = DAPR__BUF_INIT;
    dapr__buf_vprintf(&msg, fmt, ap);
    dapr__buf_cstr(&msg);
    const char *m = msg.data ? msg.data : "";
    const char *lv = dapr__log_level_name(lvl);
    if (lg->json) {
        /* keys in lexical order, as daprd's JSON formatter */
        dapr__buf_puts(&line, "{\"app_id\":");
        dapr__buf_json_str(&line, lg->app_id, strlen(lg->app_id), 0);
        dapr__buf_puts(&line, ",\"instance\":");
        dapr__buf_json_str(&line, lg->instance, strlen(lg->instance), 0);
        dapr__buf_puts(&line, ",\"level\":");
        dapr__buf_json_str(&line, lv, strlen(lv), 0);
        dapr__buf_puts(&line, ",\"msg\":");
        dapr__buf_json_str(&line, m, strlen(m), 0);
        dapr__buf_puts(&line, ",\"scope\":");
        dapr__buf_json_str(&line, scope, strlen(scope), 0);
        dapr__buf_printf(&line, ",\"time\":\"%s\",\"type\":\"log\",\"ver\":\"%s\"}\n", ts,
                         DAPR_COMPAT_VERSION);
    } else {
        dapr__buf_printf(&line, "time=\"%s\" level=%s msg=", ts, lv);
        dapr__buf_json_str(&line, m, strlen(m), 0);
        dapr__buf_puts(&line, " app_id=");
        logfmt_val(&line, lg->app_id);
        dapr__buf_puts(&line, " instance=");
        logfmt_val(&line, lg->instance);
        dapr__buf_puts(&line, " scope=");
        logfmt_val(&line, scope);
        dapr__buf_printf(&line, " type=log ver=%s\n", DAPR_COMPAT_VERSION);
    }
    if (!line.oom && line.len) {
        if (lg->sink) {
            lg->sink(lg->sink_ud, lvl, line.data, line.len);
        } else {
            size_t off = 0;
            while (off < line.len) {
                ssize_t w = write(STDOUT_FILENO, line.data + off, line.len - off);
                if (w <= 0)
                    break;
                off += (size_t)w;
            }
        }
    }
    dapr__buf_free(&msg);
    dapr__buf_free(&line);
}

void dapr__log(const dapr__logger_t *lg, dapr_log_level_t lvl, const char *scope, const char *fmt,
               ...)
{
    va_list ap;
    va_start(ap, fmt);
    dapr__vlog(lg, lvl, scope, fmt, ap);
    va_end(ap);
}
