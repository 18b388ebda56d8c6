/* The connection settings every redis component reads from its metadata
 * (redisHost, redisPassword, ..., the go-redis pool knobs), in one struct
 * with one table of metadata rows, so state.redis and pubsub.redis parse
 * them the same way. A component embeds dapr__redis_settings_t in its
 * private struct and puts DAPR__REDIS_SETTINGS_ROWS(its_type, member, ...)
 * in its own md_fields table, next to its own rows. */
#ifndef DAPR_COMPONENTS_REDIS_SETTINGS_H
#define DAPR_COMPONENTS_REDIS_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "dapr/component.h"

typedef struct dapr__redis_settings {
    char *host, *password, *username, *redis_type;
    int64_t db;
    bool enable_tls, failover, use_entra_id;
    int64_t dial_timeout, read_timeout, write_timeout; /* ms */
    int64_t min_retry_backoff, max_retry_backoff;
    /* go-redis pool settings: one pipelined connection replaces the pool;
     * accepted and validated, unused */
    int64_t max_retries, pool_size, min_idle_conns, pool_timeout, idle_timeout,
        idle_check_frequency, max_conn_age;
} dapr__redis_settings_t;

/* Validators the rows use. */
const char *dapr__redis_v_nonneg(const void *field);
const char *dapr__redis_v_type(const void *field);

#define DAPR__REDIS_ROW(T, M, name, type, def, field, v) \
    {name, type, def, offsetof(T, M.field), v, false}

/* The rows, for component private type T holding the settings in member M;
 * maxRetries defaults to `retries_def` (Dapr's default differs by
 * component). */
#define DAPR__REDIS_SETTINGS_ROWS(T, M, retries_def)                                       \
    DAPR__REDIS_ROW(T, M, "redisHost", DAPR_MD_STRING, "localhost:6379", host, NULL),      \
    DAPR__REDIS_ROW(T, M, "redisPassword", DAPR_MD_STRING, NULL, password, NULL),          \
    DAPR__REDIS_ROW(T, M, "redisUsername", DAPR_MD_STRING, NULL, username, NULL),          \
    DAPR__REDIS_ROW(T, M, "redisDB", DAPR_MD_INT, "0", db, dapr__redis_v_nonneg),          \
    DAPR__REDIS_ROW(T, M, "redisType", DAPR_MD_STRING, "node", redis_type,                 \
                    dapr__redis_v_type),                                                   \
    DAPR__REDIS_ROW(T, M, "enableTLS", DAPR_MD_BOOL, "false", enable_tls, NULL),           \
    DAPR__REDIS_ROW(T, M, "failover", DAPR_MD_BOOL, "false", failover, NULL),              \
    DAPR__REDIS_ROW(T, M, "useEntraID", DAPR_MD_BOOL, "false", use_entra_id, NULL),        \
    DAPR__REDIS_ROW(T, M, "dialTimeout", DAPR_MD_DURATION, "5s", dial_timeout, NULL),      \
    DAPR__REDIS_ROW(T, M, "readTimeout", DAPR_MD_DURATION, "3s", read_timeout, NULL),      \
    DAPR__REDIS_ROW(T, M, "writeTimeout", DAPR_MD_DURATION, NULL, write_timeout, NULL),    \
    DAPR__REDIS_ROW(T, M, "maxRetries", DAPR_MD_INT, retries_def, max_retries, NULL),      \
    DAPR__REDIS_ROW(T, M, "maxRetryBackoff", DAPR_MD_DURATION, NULL, max_retry_backoff,    \
                    NULL),                                                                 \
    DAPR__REDIS_ROW(T, M, "minRetryBackoff", DAPR_MD_DURATION, NULL, min_retry_backoff,    \
                    NULL),                                                                 \
    DAPR__REDIS_ROW(T, M, "poolSize", DAPR_MD_INT, NULL, pool_size, dapr__redis_v_nonneg), \
    DAPR__REDIS_ROW(T, M, "minIdleConns", DAPR_MD_INT, NULL, min_idle_conns,               \
                    dapr__redis_v_nonneg),                                                 \
    DAPR__REDIS_ROW(T, M, "poolTimeout", DAPR_MD_DURATION, NULL, pool_timeout, NULL),      \
    DAPR__REDIS_ROW(T, M, "idleTimeout", DAPR_MD_DURATION, NULL, idle_timeout, NULL),      \
    DAPR__REDIS_ROW(T, M, "idleCheckFrequency", DAPR_MD_DURATION, NULL,                    \
                    idle_check_frequency, NULL),                                           \
    DAPR__REDIS_ROW(T, M, "maxConnAge", DAPR_MD_DURATION, NULL, max_conn_age, NULL)

/* What a hiredis 0.14 connection cannot offer (TLS, cluster, sentinel, Entra
 * ID), as a message to refuse the component with; NULL when none is asked. */
const char *dapr__redis_settings_unsupported(const dapr__redis_settings_t *s);

/* Fill the connection fields of o (host, credentials, db, dial timeout,
 * backoff, and a command timeout of max(readTimeout, writeTimeout)); the
 * caller sets the event callback and anything else. */
void dapr__redis_settings_opts(const dapr__redis_settings_t *s, dapr__redis_opts_t *o);

#endif
