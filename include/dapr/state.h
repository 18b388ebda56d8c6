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
#include "runtime.h"

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

/* ---- The state API of a running runtime ---------------------------------
 *
 * The same rules as GET/POST/DELETE /v1.0/state/{store}: keys here are the
 * app's keys (the store's keyPrefix is applied, so "k" is "appid||k" in the
 * store by default), and failures carry Dapr's error code in
 * err->error_code (ERR_STATE_STORE_NOT_FOUND, ERR_STATE_GET, ...), err->code
 * DAPR_ENOTFOUND for an unknown store, DAPR_EETAG_MISMATCH and
 * DAPR_EETAG_INVALID for ETag failures. `store` and every pointer reachable
 * from the arguments are borrowed for the duration of the call only.
 * Synchronous errors (callback not invoked): DAPR_EINVAL (NULL rt, store,
 * key or callback), DAPR_ESTATE (the runtime is not running). */

/* Read one key (key->key is the app's key; etag unused). */
DAPR_EXTERN int dapr_state_get(dapr_runtime_t *rt, const char *store, const dapr_state_key_t *key,
                               dapr_state_get_cb cb, void *data);

/* Save n >= 1 items (each item->key is the app's key). */
DAPR_EXTERN int dapr_state_save(dapr_runtime_t *rt, const char *store,
                                const dapr_state_item_t *items, size_t n, dapr_state_done_cb cb,
                                void *data);

/* Delete one key, honouring key->etag and concurrency. */
DAPR_EXTERN int dapr_state_delete(dapr_runtime_t *rt, const char *store,
                                  const dapr_state_key_t *key, dapr_state_done_cb cb, void *data);

/* One result of a bulk read; lives until the callback returns. */
typedef struct dapr_state_bulk_value {
    const char *key;   /* the app's key */
    bool found;
    const uint8_t *data;
    size_t len;
    const char *etag;  /* or NULL */
    const char *error; /* per-key failure text, or NULL */
    const dapr_kv_t *metadata;
    size_t n_metadata;
} dapr_state_bulk_value_t;

typedef void (*dapr_state_bulk_cb)(const dapr_error_t *err, const dapr_state_bulk_value_t *vals,
                                   size_t n, void *data);

/* Read n keys, at most `parallelism` at a time (0: no limit). Results come
 * in the order of `keys`. */
DAPR_EXTERN int dapr_state_get_bulk(dapr_runtime_t *rt, const char *store,
                                    const char *const *keys, size_t n, int parallelism,
                                    const dapr_kv_t *metadata, size_t n_metadata,
                                    dapr_state_bulk_cb cb, void *data);

/* Apply n operations atomically (stores that support transactions; else
 * ERR_STATE_STORE_NOT_SUPPORTED). Keys are the app's. As the HTTP API, any
 * failure of the store, an ETag mismatch included, is
 * ERR_STATE_TRANSACTION (err->code DAPR_EBACKEND) and nothing is applied. */
DAPR_EXTERN int dapr_state_transact(dapr_runtime_t *rt, const char *store,
                                    const dapr_state_op_t *ops, size_t n,
                                    const dapr_kv_t *metadata, size_t n_metadata,
                                    dapr_state_done_cb cb, void *data);

#ifdef __cplusplus
}
#endif
#endif
