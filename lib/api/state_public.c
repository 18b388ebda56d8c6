/* The public state API (include/dapr/state.h): dapr_state_* on a running
 * runtime, through the same protocol-neutral functions as
 * /v1.0/state/{store} (api/state.h), each call with its own pool. */
#include "dapr/state.h"

#include "api/state.h"
#include "core/alloc.h"
#include "public.h"

/* --- get --- */

int dapr_state_get(dapr_runtime_t *rt, const char *store, const dapr_state_key_t *key,
                   dapr_state_get_cb cb, void *data)
{
    if (!rt || !store || !key || !key->key || !cb)
        return DAPR_EINVAL;
    dapr__pcall_t *c;
    int rc = dapr__pcall_begin(rt, (void *)cb, data, &c);
    if (rc)
        return rc;
    dapr__state_get(rt, &c->pool, store, key, dapr__pcall_got, c);
    return 0;
}

/* --- save, delete, transaction: completions without a value --- */


int dapr_state_save(dapr_runtime_t *rt, const char *store, const dapr_state_item_t *items,
                    size_t n, dapr_state_done_cb cb, void *data)
{
    if (!rt || !store || !items || !n || !cb)
        return DAPR_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!items[i].key || (!items[i].value && items[i].value_len))
            return DAPR_EINVAL;
    dapr__pcall_t *c;
    int rc = dapr__pcall_begin(rt, (void *)cb, data, &c);
    if (rc)
        return rc;
    dapr__state_save(rt, &c->pool, store, items, n, (dapr__md_t){NULL, 0}, dapr__pcall_done, c);
    return 0;
}

int dapr_state_delete(dapr_runtime_t *rt, const char *store, const dapr_state_key_t *key,
                      dapr_state_done_cb cb, void *data)
{
    if (!rt || !store || !key || !key->key || !cb)
        return DAPR_EINVAL;
    dapr__pcall_t *c;
    int rc = dapr__pcall_begin(rt, (void *)cb, data, &c);
    if (rc)
        return rc;
    dapr__state_delete(rt, &c->pool, store, key, dapr__pcall_done, c);
    return 0;
}

int dapr_state_transact(dapr_runtime_t *rt, const char *store, const dapr_state_op_t *ops,
                        size_t n, const dapr_kv_t *metadata, size_t n_metadata,
                        dapr_state_done_cb cb, void *data)
{
    if (!rt || !store || (!ops && n) || (!metadata && n_metadata) || !cb)
        return DAPR_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!ops[i].item.key ||
            (ops[i].kind != DAPR_STATE_OP_UPSERT && ops[i].kind != DAPR_STATE_OP_DELETE))
            return DAPR_EINVAL;
    dapr__pcall_t *c;
    int rc = dapr__pcall_begin(rt, (void *)cb, data, &c);
    if (rc)
        return rc;
    dapr__state_transact(rt, &c->pool, store, ops, n, NULL, (dapr__md_t){metadata, n_metadata},
                         dapr__pcall_done, c);
    return 0;
}

/* --- bulk get --- */

static void bulk_got(dapr__apierr_t *err, const dapr__state_bulk_item_t *items, size_t n,
                     void *ud)
{
    dapr__pcall_t *c = ud;
    dapr_state_bulk_cb cb = (dapr_state_bulk_cb)c->cb;
    if (err) {
        dapr_error_t e;
        dapr__public_error(err, &e);
        cb(&e, NULL, 0, c->data);
        dapr__pcall_free(c);
        return;
    }
    dapr_state_bulk_value_t *v = dapr__pool_calloc(&c->pool, (n ? n : 1) * sizeof(*v));
    if (!v) {
        dapr_error_t e = {DAPR_ENOMEM, dapr_strerror(DAPR_ENOMEM), "ERR_STATE_BULK_GET"};
        cb(&e, NULL, 0, c->data);
        dapr__pcall_free(c);
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (dapr_state_bulk_value_t){.key = items[i].key, .found = items[i].found,
                                         .data = items[i].data, .len = items[i].len,
                                         .etag = items[i].etag, .error = items[i].error,
                                         .metadata = items[i].metadata,
                                         .n_metadata = items[i].n_metadata};
    cb(NULL, v, n, c->data);
    dapr__pcall_free(c);
}

int dapr_state_get_bulk(dapr_runtime_t *rt, const char *store, const char *const *keys, size_t n,
                        int parallelism, const dapr_kv_t *metadata, size_t n_metadata,
                        dapr_state_bulk_cb cb, void *data)
{
    if (!rt || !store || (!keys && n) || (!metadata && n_metadata) || !cb)
        return DAPR_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!keys[i])
            return DAPR_EINVAL;
    dapr__pcall_t *c;
    int rc = dapr__pcall_begin(rt, (void *)cb, data, &c);
    if (rc)
        return rc;
    dapr__state_bulk_get(rt, &c->pool, store, keys, n, parallelism,
                         (dapr__md_t){metadata, n_metadata}, bulk_got, c);
    return 0;
}
