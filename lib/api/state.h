/* State management, protocol-neutral (spec §2). The HTTP and gRPC adapters
 * decode their wire formats into these requests and render the results; every
 * rule of the building block (store lookup, key prefixing, illegal keys, ETag
 * and error mapping, TTL metadata, transactions) lives here once.
 *
 * Every function calls its callback exactly once, possibly before returning.
 * Keys in requests and results are the user's keys (no prefix). `pool`
 * (borrowed) must outlive the callback; the API allocates its scratch there.
 * The dapr__apierr_t handed to a callback is borrowed: it is freed after the
 * callback returns.
 */
#ifndef DAPR_API_STATE_H
#define DAPR_API_STATE_H

#include "core/errors.h"
#include "core/pool.h"
#include "dapr/component.h"
#include "dapr/runtime.h"

/* A metadata set: pairs, possibly with repeated keys; later entries win. */
typedef struct dapr__md {
    const dapr_kv_t *kv;
    size_t n;
} dapr__md_t;

typedef void (*dapr__state_done_cb)(dapr__apierr_t *err, void *data);
typedef void (*dapr__state_get_done_cb)(dapr__apierr_t *err, const dapr_state_value_t *val,
                                        void *data);

typedef struct dapr__state_bulk_item {
    const char *key;
    bool found;
    const uint8_t *data;
    size_t len;
    const char *etag;
    const dapr_kv_t *metadata;
    size_t n_metadata;
    const char *error; /* per-key error text, or NULL */
} dapr__state_bulk_item_t;

typedef void (*dapr__state_bulk_cb)(dapr__apierr_t *err, const dapr__state_bulk_item_t *items,
                                    size_t n, void *data);

/* Get one key. key->metadata is the request metadata. */
void dapr__state_get(dapr_runtime_t *rt, dapr__pool_t *pool, const char *store,
                     const dapr_state_key_t *key, dapr__state_get_done_cb cb, void *data);

/* Save items (user keys); `req_md` (e.g. query metadata.*) is merged into
 * each item's metadata and wins. ttlInSeconds metadata becomes the TTL. */
void dapr__state_save(dapr_runtime_t *rt, dapr__pool_t *pool, const char *store,
                      const dapr_state_item_t *items, size_t n, dapr__md_t req_md,
                      dapr__state_done_cb cb, void *data);

void dapr__state_delete(dapr_runtime_t *rt, dapr__pool_t *pool, const char *store,
                        const dapr_state_key_t *key, dapr__state_done_cb cb, void *data);

/* Delete several keys (gRPC DeleteBulkState). */
void dapr__state_delete_bulk(dapr_runtime_t *rt, dapr__pool_t *pool, const char *store,
                             const dapr_state_key_t *keys, size_t n, dapr__state_done_cb cb,
                             void *data);

/* Bulk get in request order; parallelism <= 0 means unbounded. */
void dapr__state_bulk_get(dapr_runtime_t *rt, dapr__pool_t *pool, const char *store,
                          const char *const *keys, size_t n, int parallelism, dapr__md_t md,
                          dapr__state_bulk_cb cb, void *data);

/* Transaction: ops (user keys) in order, all or nothing. `md` merged into
 * each op's metadata. kind 0 in an op means "unknown operation" and `bad_op`
 * names it for the error. */
void dapr__state_transact(dapr_runtime_t *rt, dapr__pool_t *pool, const char *store,
                          const dapr_state_op_t *ops, size_t n, const char *bad_op, dapr__md_t md,
                          dapr__state_done_cb cb, void *data);

/* Key prefixing (exposed for unit tests and the actor layer). NULL on an
 * illegal key (contains "||") or OOM; *illegal tells which. */
char *dapr__state_storage_key(const dapr_component_t *c, const char *key, dapr__pool_t *pool,
                              bool *illegal);
/* The user's key inside a storage key: the part after the first "||". */
const char *dapr__state_user_key(const char *stored);

#endif
