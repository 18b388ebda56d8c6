/*
 * libdapr — state management types shared by the state API and by state
 * store components.
 *
 * Keys seen by a component are storage keys: the state API has already
 * applied the store's key prefix (`appid||key` by default).
 */
#ifndef DAPR_STATE_H
#define DAPR_STATE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dapr_state_concurrency {
    DAPR_CONCURRENCY_UNSPECIFIED = 0, /* store default: last-write */
    DAPR_CONCURRENCY_FIRST_WRITE = 1,
    DAPR_CONCURRENCY_LAST_WRITE = 2
} dapr_state_concurrency_t;

typedef enum dapr_state_consistency {
    DAPR_CONSISTENCY_UNSPECIFIED = 0,
    DAPR_CONSISTENCY_EVENTUAL = 1,
    DAPR_CONSISTENCY_STRONG = 2
} dapr_state_consistency_t;

/* TTL of an item: DAPR_TTL_UNSET keeps the store's default, DAPR_TTL_NEVER
 * removes any expiry (`ttlInSeconds: -1`), a positive value is seconds. */
#define DAPR_TTL_UNSET INT64_MIN
#define DAPR_TTL_NEVER (-1)

/* One item to write (save, or the upsert of a transaction). All pointers are
 * borrowed for the duration of the call. */
typedef struct dapr_state_item {
    const char *key;        /* storage key */
    const uint8_t *value;   /* stored verbatim */
    size_t value_len;
    const char *etag;       /* NULL: no ETag given; otherwise compared */
    dapr_state_concurrency_t concurrency;
    dapr_state_consistency_t consistency;
    int64_t ttl_seconds;    /* DAPR_TTL_UNSET, DAPR_TTL_NEVER or > 0 */
    const char *content_type; /* may be NULL */
    const dapr_kv_t *metadata;
    size_t n_metadata;
} dapr_state_item_t;

/* A key to read or delete. */
typedef struct dapr_state_key {
    const char *key;        /* storage key */
    const char *etag;       /* delete only: NULL when not given */
    dapr_state_concurrency_t concurrency;
    dapr_state_consistency_t consistency;
    const dapr_kv_t *metadata;
    size_t n_metadata;
} dapr_state_key_t;

/* A value read from a store; lives until the callback returns. */
typedef struct dapr_state_value {
    bool found;
    const uint8_t *data;
    size_t len;
    const char *etag;         /* NULL if the store has none */
    const char *content_type; /* NULL if unknown */
    const dapr_kv_t *metadata; /* response metadata, e.g. ttlExpireTime */
    size_t n_metadata;
} dapr_state_value_t;

typedef enum dapr_state_op_kind {
    DAPR_STATE_OP_UPSERT = 1,
    DAPR_STATE_OP_DELETE = 2
} dapr_state_op_kind_t;

/* One operation of a transaction. For DELETE only `item.key`, `item.etag`,
 * `item.concurrency` and `item.metadata` are meaningful. */
typedef struct dapr_state_op {
    dapr_state_op_kind_t kind;
    dapr_state_item_t item;
} dapr_state_op_t;

/* Completion of a write, delete or transaction. err is NULL on success. */
typedef void (*dapr_state_done_cb)(const dapr_error_t *err, void *data);
/* Completion of a read. err is NULL on success; then val is non-NULL and
 * val->found tells whether the key exists. */
typedef void (*dapr_state_get_cb)(const dapr_error_t *err, const dapr_state_value_t *val,
                                  void *data);

#ifdef __cplusplus
}
#endif
#endif
