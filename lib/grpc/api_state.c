/* gRPC adapter of the state API: protobuf requests → lib/api/state.c. The
 * value of a StateItem is stored verbatim (bytes), as Dapr does over gRPC. */
#include <string.h>

#include "api.h"
#include "api/state.h"
#include "dapr/proto/runtime/v1/dapr.pb-c.h"
#include "runtime/runtime_int.h"

typedef Dapr__Proto__Common__V1__StateItem pb_item_t;

#define MD(pool, msg) dapr__gapi_md((pool), (msg)->n_metadata, (void *const *)(msg)->metadata)

static void done_empty(dapr__apierr_t *err, void *data)
{
    dapr__gctx_t *g = data;
    if (err) {
        dapr__gapi_fail(g, err);
        return;
    }
    Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
    dapr__gapi_reply(g, &e.base);
}

static void oom(dapr__gctx_t *g) { dapr__gapi_status(g, DAPR_GRPC_RESOURCE_EXHAUSTED, "out of memory"); }

/* ---- GetState ---------------------------------------------------------- */

static void get_done(dapr__apierr_t *err, const dapr_state_value_t *v, void *data)
{
    dapr__gctx_t *g = data;
    if (err) {
        dapr__gapi_fail(g, err);
        return;
    }
    Dapr__Proto__Runtime__V1__GetStateResponse r = DAPR__PROTO__RUNTIME__V1__GET_STATE_RESPONSE__INIT;
    Dapr__Proto__Runtime__V1__GetStateResponse__MetadataEntry ent[8], *ep[8];
    if (v->found) {
        r.data.data = (uint8_t *)v->data;
        r.data.len = v->len;
        if (v->etag)
            r.etag = (char *)v->etag;
        for (size_t i = 0; i < v->n_metadata && i < 8; i++) {
            dapr__proto__runtime__v1__get_state_response__metadata_entry__init(&ent[i]);
            ent[i].key = (char *)v->metadata[i].key;
            ent[i].value = (char *)v->metadata[i].value;
            ep[i] = &ent[i];
            r.n_metadata = i + 1;
        }
        r.metadata = ep;
    }
    dapr__gapi_reply(g, &r.base);
}

void dapr__gapi_get_state(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__GetStateRequest *q = (const void *)req;
    dapr_state_key_t k = {.key = q->key, .consistency = (dapr_state_consistency_t)q->consistency};
    k.metadata = MD(&g->pool, q);
    k.n_metadata = q->n_metadata;
    if (!k.metadata)
        { oom(g); return; }
    dapr__state_get(g->rt, &g->pool, q->store_name, &k, get_done, g);
}

/* ---- GetBulkState ------------------------------------------------------- */

static void bulk_done(dapr__apierr_t *err, const dapr__state_bulk_item_t *it, size_t n, void *data)
{
    dapr__gctx_t *g = data;
    if (err) {
        dapr__gapi_fail(g, err);
        return;
    }
    Dapr__Proto__Runtime__V1__GetBulkStateResponse r =
        DAPR__PROTO__RUNTIME__V1__GET_BULK_STATE_RESPONSE__INIT;
    Dapr__Proto__Runtime__V1__BulkStateItem *items = dapr__pool_alloc(&g->pool, (n ? n : 1) * sizeof(*items));
    Dapr__Proto__Runtime__V1__BulkStateItem **ptrs = dapr__pool_alloc(&g->pool, (n ? n : 1) * sizeof(*ptrs));
    if (!items || !ptrs)
        { oom(g); return; }
    for (size_t i = 0; i < n; i++) {
        Dapr__Proto__Runtime__V1__BulkStateItem *b = &items[i];
        dapr__proto__runtime__v1__bulk_state_item__init(b);
        b->key = (char *)it[i].key;
        if (it[i].found) {
            b->data.data = (uint8_t *)it[i].data;
            b->data.len = it[i].len;
            if (it[i].etag)
                b->etag = (char *)it[i].etag;
        }
        if (it[i].error)
            b->error = (char *)it[i].error;
        if (it[i].n_metadata) {
            size_t m = it[i].n_metadata;
            Dapr__Proto__Runtime__V1__BulkStateItem__MetadataEntry *e =
                dapr__pool_alloc(&g->pool, m * sizeof(*e));
            Dapr__Proto__Runtime__V1__BulkStateItem__MetadataEntry **ep =
                dapr__pool_alloc(&g->pool, m * sizeof(*ep));
            if (!e || !ep)
                { oom(g); return; }
            for (size_t j = 0; j < m; j++) {
                dapr__proto__runtime__v1__bulk_state_item__metadata_entry__init(&e[j]);
                e[j].key = (char *)it[i].metadata[j].key;
                e[j].value = (char *)it[i].metadata[j].value;
                ep[j] = &e[j];
            }
            b->metadata = ep;
            b->n_metadata = m;
        }
        ptrs[i] = b;
    }
    r.items = ptrs;
    r.n_items = n;
    dapr__gapi_reply(g, &r.base);
}

void dapr__gapi_get_bulk_state(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__GetBulkStateRequest *q = (const void *)req;
    dapr_kv_t *md = MD(&g->pool, q);
    if (!md)
        { oom(g); return; }
    dapr__state_bulk_get(g->rt, &g->pool, q->store_name, (const char *const *)q->keys, q->n_keys,
                         q->parallelism, (dapr__md_t){md, q->n_metadata}, bulk_done, g);
}

/* ---- SaveState ---------------------------------------------------------- */

static bool to_item(dapr__pool_t *pool, const pb_item_t *s, dapr_state_item_t *it)
{
    memset(it, 0, sizeof(*it));
    it->key = s->key;
    it->value = s->value.data ? s->value.data : (const uint8_t *)"";
    it->value_len = s->value.len;
    it->etag = s->etag ? s->etag->value : NULL;
    it->ttl_seconds = DAPR_TTL_UNSET;
    if (s->options) {
        it->concurrency = (dapr_state_concurrency_t)s->options->concurrency;
        it->consistency = (dapr_state_consistency_t)s->options->consistency;
    }
    it->metadata = MD(pool, s);
    it->n_metadata = s->n_metadata;
    for (size_t i = 0; i < s->n_metadata; i++)
        if (!strcmp(s->metadata[i]->key, "contentType"))
            it->content_type = s->metadata[i]->value;
    return it->metadata != NULL;
}

void dapr__gapi_save_state(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__SaveStateRequest *q = (const void *)req;
    size_t n = q->n_states;
    dapr_state_item_t *items = dapr__pool_alloc(&g->pool, (n ? n : 1) * sizeof(*items));
    if (!items)
        { oom(g); return; }
    for (size_t i = 0; i < n; i++)
        if (!to_item(&g->pool, q->states[i], &items[i]))
            { oom(g); return; }
    dapr__state_save(g->rt, &g->pool, q->store_name, items, n, (dapr__md_t){0}, done_empty, g);
}

/* ---- DeleteState / DeleteBulkState ------------------------------------- */

void dapr__gapi_delete_state(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__DeleteStateRequest *q = (const void *)req;
    dapr_state_key_t k = {.key = q->key, .etag = q->etag ? q->etag->value : NULL};
    if (q->options) {
        k.concurrency = (dapr_state_concurrency_t)q->options->concurrency;
        k.consistency = (dapr_state_consistency_t)q->options->consistency;
    }
    k.metadata = MD(&g->pool, q);
    k.n_metadata = q->n_metadata;
    if (!k.metadata)
        { oom(g); return; }
    dapr__state_delete(g->rt, &g->pool, q->store_name, &k, done_empty, g);
}

void dapr__gapi_delete_bulk_state(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__DeleteBulkStateRequest *q = (const void *)req;
    size_t n = q->n_states;
    dapr_state_key_t *keys = dapr__pool_calloc(&g->pool, (n ? n : 1) * sizeof(*keys));
    if (!keys)
        { oom(g); return; }
    for (size_t i = 0; i < n; i++) {
        dapr_state_item_t it;
        if (!to_item(&g->pool, q->states[i], &it))
            { oom(g); return; }
        keys[i] = (dapr_state_key_t){.key = it.key, .etag = it.etag, .concurrency = it.concurrency,
                                     .consistency = it.consistency, .metadata = it.metadata,
                                     .n_metadata = it.n_metadata};
    }
    dapr__state_delete_bulk(g->rt, &g->pool, q->store_name, keys, n, done_empty, g);
}

/* ---- ExecuteStateTransaction ------------------------------------------- */

void dapr__gapi_transaction(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__ExecuteStateTransactionRequest *q = (const void *)req;
    size_t n = q->n_operations;
    dapr_state_op_t *ops = dapr__pool_calloc(&g->pool, (n ? n : 1) * sizeof(*ops));
    dapr_kv_t *md = MD(&g->pool, q);
    if (!ops || !md)
        { oom(g); return; }
    const char *bad = NULL;
    for (size_t i = 0; i < n; i++) {
        const Dapr__Proto__Runtime__V1__TransactionalStateOperation *op = q->operations[i];
        if (!strcmp(op->operationtype, "upsert"))
            ops[i].kind = DAPR_STATE_OP_UPSERT;
        else if (!strcmp(op->operationtype, "delete"))
            ops[i].kind = DAPR_STATE_OP_DELETE;
        else if (!bad)
            bad = op->operationtype;
        if (op->request) {
            if (!to_item(&g->pool, op->request, &ops[i].item))
                { oom(g); return; }
        } else {
            ops[i].item.ttl_seconds = DAPR_TTL_UNSET;
        }
    }
    dapr__state_transact(g->rt, &g->pool, q->storename, ops, n, bad,
                         (dapr__md_t){md, q->n_metadata}, done_empty, g);
}

/* ---- QueryStateAlpha1 --------------------------------------------------- */

void dapr__gapi_query_state(dapr__gctx_t *g, const ProtobufCMessage *req)
{
    const Dapr__Proto__Runtime__V1__QueryStateRequest *q = (const void *)req;
    dapr_component_t *c = NULL;
    int rc = dapr__runtime_state_store(g->rt, q->store_name, &c);
    dapr__apierr_t *e;
    if (rc == DAPR_ESTATE)
        e = dapr__apierr_new(DAPR_ERR_STATE_STORE_NOT_CONFIGURED, "state store %s is not "
                             "configured", q->store_name);
    else if (rc)
        e = dapr__apierr_new(DAPR_ERR_STATE_STORE_NOT_FOUND, "state store %s is not found",
                             q->store_name);
    else {
        /* no built-in store implements the query API yet */
        e = dapr__apierr_new(DAPR_ERR_STATE_QUERY_NOT_SUPPORTED,
                             "state store does not support querying");
        dapr__apierr_resource(e, q->store_name);
    }
    dapr__gapi_fail(g, e);
    dapr__apierr_free(e);
}
