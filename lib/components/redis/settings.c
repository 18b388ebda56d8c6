#include "settings.h"

#include "core/strutil.h"

const char *dapr__redis_v_nonneg(const void *f)
{
    return *(const int64_t *)f < 0 ? "must not be negative" : NULL;
}

const char *dapr__redis_v_type(const void *f)
{
    const char *t = *(char *const *)f;
    if (!t || !*t || !dapr__strcasecmp(t, "node") || !dapr__strcasecmp(t, "cluster"))
        return NULL;
    return "must be \"node\" or \"cluster\"";
}

const char *dapr__redis_settings_unsupported(const dapr__redis_settings_t *s)
{
    if (s->enable_tls)
        return "enableTLS is not supported: hiredis 0.14 has no TLS";
    if (s->redis_type && *s->redis_type && dapr__strcasecmp(s->redis_type, "node"))
        return "redisType cluster is not supported";
    if (s->failover)
        return "failover (Redis Sentinel) is not supported";
    if (s->use_entra_id)
        return "useEntraID is not supported";
    return NULL;
}

void dapr__redis_settings_opts(const dapr__redis_settings_t *s, dapr__redis_opts_t *o)
{
    int64_t cmd_timeout = s->read_timeout;
    if (cmd_timeout > 0 && s->write_timeout > cmd_timeout)
        cmd_timeout = s->write_timeout;
    o->host = s->host;
    o->username = s->username;
    o->password = s->password;
    o->db = s->db;
    o->dial_timeout_ms = s->dial_timeout;
    o->cmd_timeout_ms = cmd_timeout;
    o->backoff_min_ms = s->min_retry_backoff;
    o->backoff_max_ms = s->max_retry_backoff;
}
