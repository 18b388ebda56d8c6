#include "state.h"
#include "api/outbound.h"

#include <string.h>

#include "core/strutil.h"
#include "runtime/runtime_int.h"

/* ---------------------------------------------------------------------
 * Store lookup, keys, metadata
 * ------------------------------------------------------------------- */

static dapr__apierr_t *store_error(dapr_runtime_t *rt, int rc, const char *store)
{
    dapr__apierr_t *e;
    if (rc == DAPR_ESTATE) {
        e = dapr__apierr_new(DAPR_ERR_STATE_STORE_NOT_CONFIGURED,
                             "state store %s is not configured", store);
    } else {
        e = dapr__apierr_new(DAPR_ERR_STATE_STORE_NOT_FOUND, "state store %s is not found",
                             store);
    }
    dapr__apierr_md(e, "appID", rt->opt.app_id);
    return e;
}

static dapr_component_t *find_store(dapr_runtime_t *rt, const char *store, dapr__apierr_t **err)
{
    dapr_component_t *c = NULL;
    int rc = dapr__runtime_state_store(rt, store, &c);
    *err = rc ? store_error(rt, rc, store) : NULL;
    return c;
}

char *dapr__state_storage_key(const dapr_component_t *c, const char *key, dapr__pool_t *pool,
                              bool *illegal)
{
    *illegal = strstr(key, "||") != NULL;
    if (*illegal)
        return NULL;
    const char *prefix = NULL;
    switch (c->prefix_mode) {
    case DAPR__PREFIX_APPID: prefix = *c->app_id ? c->app_id : NULL; break;
    case DAPR__PREFIX_NAME: prefix = c->name; break;
    case DAPR__PREFIX_NAMESPACE:
    case DAPR__PREFIX_CUSTOM: prefix = c->prefix_custom; break;
    case DAPR__PREFIX_NONE: prefix = NULL; break;
    }
    if (!prefix)
        return dapr__pool_strdup(pool, key);
    /* prefix||key, without printf: every state call comes here */
    size_t pl = strlen(prefix), kl = strlen(key);
    char *k = dapr__pool_alloc(pool, pl + kl + 3);
    if (k) {
        memcpy(k, prefix, pl);
        memcpy(k + pl, "||", 2);
        memcpy(k + pl + 2, key, kl + 1);
    }
    return k;
}

const char *dapr__state_user_key(const char *stored)
{
    const char *p = strstr(stored, "||");
    return p ? p + 2 : stored;
}

static dapr__apierr_t *illegal_key(const dapr_component_t *c, const char *key)
{
    dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_STATE_ILLEGAL_KEY,
                                         "input key/keyPrefix '%s' can't contain '||'", key);
    dapr__apierr_resource(e, c->name);
    dapr__apierr_violation(e, key, "input key/keyPrefix can't contain '||'");
    return e;
}

/* Map key → storage key, or an error. */
static const char *skey(const dapr_component_t *c, const char *key, dapr__pool_t *pool,
                        dapr__apierr_t **err)
{
    bool bad;
    char *k = dapr__state_storage_key(c, key, pool, &bad);
    if (!k)
        *err = bad ? illegal_key(c, key) : dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory");
    return k;
}

/* item metadata then request metadata (request wins: it comes later and
 * lookups take the last match). */
static int merge_md(dapr__pool_t *pool, const dapr_kv_t *a, size_t na, dapr__md_t b,
                    const dapr_kv_t **out, size_t *n_out)
{
    if (!b.n) {
        *out = a;
        *n_out = na;
        return 0;
    }
    if (!na) {
        *out = b.kv;
        *n_out = b.n;
        return 0;
    }
    dapr_kv_t *m = dapr__pool_alloc(pool, (na + b.n) * sizeof(*m));
    if (!m)
        return DAPR_ENOMEM;
    memcpy(m, a, na * sizeof(*m));
    memcpy(m + na, b.kv, b.n * sizeof(*m));
    *out = m;
    *n_out = na + b.n;
    return 0;
}

static const char *md_last(const dapr_kv_t *kv, size_t n, const char *key)
{
    for (size_t i = n; i-- > 0;)
        if (!dapr__strcasecmp(kv[i].key, key))
            return kv[i].value;
    return NULL;
}

/* ttlInSeconds metadata → item TTL. */
static int parse_ttl(const dapr_kv_t *kv, size_t n, int64_t *ttl)
{
    const char *v = md_last(kv, n, "ttlInSeconds");
    *ttl = DAPR_TTL_UNSET;
    if (!v || !*v)
        return 0;
    int64_t t;
    if (dapr__parse_int(v, &t) || t < -1 || t == 0)
        return DAPR_EINVAL;
    *ttl = t;
    return 0;
}

static const char *errmsg(const dapr_error_t *e)
{
    return e && e->message ? e->message : dapr_strerror(e ? e->code : DAPR_EIO);
}

/* ---------------------------------------------------------------------
 * Get
 * ------------------------------------------------------------------- */

typedef struct get_ctx {
    dapr__state_get_done_cb cb;
    void *data;
    const char *key;
    const char *store;
    dapr_component_t *c;
    dapr_state_key_t k; /* the storage key, for every attempt */
} get_ctx_t;

static int get_one(void *ud, dapr_state_get_cb cb, void *cbdata)
{
    get_ctx_t *g = ud;
    return g->c->state_vt->get(g->c, &g->k, cb, cbdata);
}

static void get_done(const dapr_error_t *err, const dapr_state_value_t *val, void *data)
{
    get_ctx_t *g = data;
    if (err) {
        dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_STATE_GET, "fail to get %s from state store "
                                             "%s: %s", g->key, g->store, errmsg(err));
        g->cb(e, NULL, g->data);
        dapr__apierr_free(e);
        return;
    }
    g->cb(NULL, val, g->data);
}

static void fail_get(dapr__state_get_done_cb cb, void *data, dapr__apierr_t *e)
{
    cb(e, NULL, data);
    dapr__apierr_free(e);
}

void dapr__state_get(dapr_runtime_t *rt, dapr__pool_t *pool, const char *store,
                     const dapr_state_key_t *key, dapr__state_get_done_cb cb, void *data)
{
    dapr__apierr_t *e = NULL;
    dapr_component_t *c = find_store(rt, store, &e);
    if (!c)
        { fail_get(cb, data, e); return; }
    dapr_state_key_t k = *key;
    k.etag = NULL;
    if (!(k.key = skey(c, key->key, pool, &e)))
        { fail_get(cb, data, e); return; }
    get_ctx_t *g = dapr__pool_alloc(pool, sizeof(*g));
    if (!g)
        { fail_get(cb, data, dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory")); return; }
    *g = (get_ctx_t){cb, data, key->key, store, c, k};
    int rc = dapr__ob_get(rt, c, get_one, g, get_done, g);
    if (rc)
        fail_get(cb, data, dapr__apierr_new(DAPR_ERR_STATE_GET, "fail to get %s from state "
                                            "store %s: %s", key->key, store, dapr_strerror(rc)));
}

/* ---------------------------------------------------------------------
 * A fan-out helper: run n component calls with bounded parallelism and
 * report when all are done. Components may complete synchronously, so the
 * pump loops instead of recursing.
 * ------------------------------------------------------------------- */

typedef struct fan fan_t;
typedef int (*fan_start_fn)(fan_t *f, size_t i);

struct fan {
    size_t n, next, inflight, done;
    size_t parallelism;
    bool pumping;
    fan_start_fn start;
    void (*finish)(fan_t *f);
    /* first failure, in item order */
    size_t err_index;
    int err_code;
    char *err_msg;
    dapr__pool_t *pool;
    dapr_runtime_t *rt;
};

typedef struct fan_slot {
    fan_t *fan;
    size_t index;
} fan_slot_t;

static void fan_pump(fan_t *f);

static void fan_record(fan_t *f, size_t i, int code, const char *msg)
{
    if (code && (!f->err_code || i < f->err_index)) {
        f->err_code = code;
        f->err_index = i;
        f->err_msg = dapr__pool_strdup(f->pool, msg ? msg : dapr_strerror(code));
    }
}

static void fan_complete(fan_t *f, size_t i, int code, const char *msg)
{
    fan_record(f, i, code, msg);
    f->inflight--;
    f->done++;
    if (!f->pumping)
        fan_pump(f);
}

static void fan_pump(fan_t *f)
{
    f->pumping = true;
    while (f->next < f->n && (!f->parallelism || f->inflight < f->parallelism)) {
        size_t i = f->next++;
        f->inflight++;
        int rc = f->start(f, i);
        if (rc) {
            f->inflight--;
            f->done++;
            fan_record(f, i, rc, NULL);
        }
    }
    f->pumping = false;
    if (f->done == f->n)
        f->finish(f);
}

/* ---------------------------------------------------------------------
 * Save
 * ------------------------------------------------------------------- */

typedef struct save_ctx {
    fan_t fan;
    dapr_component_t *c;
    dapr_state_item_t *items;
    fan_slot_t *slots;
    const char *store;
    dapr__state_done_cb cb;
    void *data;
} save_ctx_t;

static void save_item_done(const dapr_error_t *err, void *data)
{
    fan_slot_t *s = data;
    fan_complete(s->fan, s->index, err ? (err->code ? err->code : DAPR_EIO) : 0,
                 err ? errmsg(err) : NULL);
}

static int save_one(void *ud, dapr_done_cb cb, void *cbdata)
{
    fan_slot_t *sl = ud;
    save_ctx_t *s = (save_ctx_t *)sl->fan;
    return s->c->state_vt->set(s->c, &s->items[sl->index], cb, cbdata);
}

static int save_start(fan_t *f, size_t i)
{
    save_ctx_t *s = (save_ctx_t *)f;
    return dapr__ob_call(f->rt, s->c, save_one, &s->slots[i], save_item_done, &s->slots[i]);
}

static dapr__errid_t write_errid(int code, dapr__errid_t base, dapr__errid_t mismatch,
                                 dapr__errid_t invalid)
{
    return code == DAPR_EETAG_MISMATCH ? mismatch : code == DAPR_EETAG_INVALID ? invalid : base;
}

static void save_finish(fan_t *f)
{
    save_ctx_t *s = (save_ctx_t *)f;
    dapr__apierr_t *e = NULL;
    if (f->err_code)
        e = dapr__apierr_new(write_errid(f->err_code, DAPR_ERR_STATE_SAVE,
                                         DAPR_ERR_STATE_SAVE_ETAG_MISMATCH,
                                         DAPR_ERR_STATE_SAVE_ETAG_INVALID),
                             "failed saving state in state store %s: %s", s->store, f->err_msg);
    s->cb(e, s->data);
    dapr__apierr_free(e);
}

static void fail_done(dapr__state_done_cb cb, void *data, dapr__apierr_t *e)
{
    cb(e, data);
    dapr__apierr_free(e);
}

static dapr__apierr_t *oom(void) { return dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory"); }

/* Prefix the key, merge metadata and read the TTL of one item. */
static dapr__apierr_t *prepare_item(const dapr_component_t *c, dapr__pool_t *pool,
                                    dapr_state_item_t *it, dapr__md_t md, dapr__errid_t ttl_err,
                                    const char *store)
{
    dapr__apierr_t *e = NULL;
    if (!it->key || !*it->key)
        return dapr__apierr_new(DAPR_ERR_MALFORMED_REQUEST, "\"key\" is a required field");
    const char *user = it->key;
    if (!(it->key = skey(c, user, pool, &e)))
        return e;
    if (merge_md(pool, it->metadata, it->n_metadata, md, &it->metadata, &it->n_metadata))
        return oom();
    if (parse_ttl(it->metadata, it->n_metadata, &it->ttl_seconds))
        return dapr__apierr_new(ttl_err, "failed saving state in state store %s: incorrect value "
                                "for metadata ttlInSeconds of key %s", store, user);
    if (it->etag && !*it->etag)
        it->etag = NULL; /* an empty ETag means none, as in Dapr */
    return NULL;
}

void dapr__state_save(dapr_runtime_t *rt, dapr__pool_t *pool, const char *store,
                      const dapr_state_item_t *items, size_t n, dapr__md_t req_md,
                      dapr__state_done_cb cb, void *data)
{
    dapr__apierr_t *e = NULL;
    dapr_component_t *c = find_store(rt, store, &e);
    if (!c)
        { fail_done(cb, data, e); return; }
    if (!n)
        { cb(NULL, data); return; }
    save_ctx_t *s = dapr__pool_calloc(pool, sizeof(*s));
    dapr_state_item_t *its = dapr__pool_alloc(pool, n * sizeof(*its));
    fan_slot_t *slots = dapr__pool_alloc(pool, n * sizeof(*slots));
    if (!s || !its || !slots)
        { fail_done(cb, data, oom()); return; }
    memcpy(its, items, n * sizeof(*its));
    for (size_t i = 0; i < n; i++) {
        if ((e = prepare_item(c, pool, &its[i], req_md, DAPR_ERR_STATE_SAVE, store)))
            { fail_done(cb, data, e); return; }
        slots[i] = (fan_slot_t){&s->fan, i};
    }
    *s = (save_ctx_t){.c = c, .items = its, .slots = slots, .store = store, .cb = cb,
                      .data = data};
    s->fan = (fan_t){.n = n, .start = save_start, .finish = save_finish, .pool = pool, .rt = rt};
    fan_pump(&s->fan);
}

/* ---------------------------------------------------------------------
 * Delete (one and bulk)
 * ------------------------------------------------------------------- */

typedef struct del_ctx {
    fan_t fan;
    dapr_component_t *c;
    dapr_state_key_t *keys;
    fan_slot_t *slots;
    const char *store;
    bool bulk;
    dapr__state_done_cb cb;
    void *data;
} del_ctx_t;

static int del_one(void *ud, dapr_done_cb cb, void *cbdata)
{
    fan_slot_t *sl = ud;
    del_ctx_t *d = (del_ctx_t *)sl->fan;
    return d->c->state_vt->del(d->c, &d->keys[sl->index], cb, cbdata);
}

static int del_start(fan_t *f, size_t i)
{
    del_ctx_t *d = (del_ctx_t *)f;
    return dapr__ob_call(f->rt, d->c, del_one, &d->slots[i], save_item_done, &d->slots[i]);
}

static void del_finish(fan_t *f)
{
    del_ctx_t *d = (del_ctx_t *)f;
    dapr__apierr_t *e = NULL;
    if (f->err_code && d->bulk)
        e = dapr__apierr_new(write_errid(f->err_code, DAPR_ERR_STATE_BULK_DELETE,
                                         DAPR_ERR_STATE_BULK_DELETE_ETAG_MISMATCH,
                                         DAPR_ERR_STATE_BULK_DELETE_ETAG_INVALID),
                             "failed deleting state in state store %s: %s", d->store, f->err_msg);
    else if (f->err_code)
        e = dapr__apierr_new(write_errid(f->err_code, DAPR_ERR_STATE_DELETE,
                                         DAPR_ERR_STATE_DELETE_ETAG_MISMATCH,
                                         DAPR_ERR_STATE_DELETE_ETAG_INVALID),
                             "failed deleting state with key %s: %s",
                             dapr__state_user_key(d->keys[f->err_index].key), f->err_msg);
    d->cb(e, d->data);
    dapr__apierr_free(e);
}

static void delete_many(dapr_runtime_t *rt, dapr__pool_t *pool, const char *store,
                        const dapr_state_key_t *keys, size_t n, bool bulk, dapr__state_done_cb cb,
                        void *data)
{
    dapr__apierr_t *e = NULL;
    dapr_component_t *c = find_store(rt, store, &e);
    if (!c)
        { fail_done(cb, data, e); return; }
    if (!n)
        { cb(NULL, data); return; }
    del_ctx_t *d = dapr__pool_calloc(pool, sizeof(*d));
    dapr_state_key_t *ks = dapr__pool_alloc(pool, n * sizeof(*ks));
    fan_slot_t *slots = dapr__pool_alloc(pool, n * sizeof(*slots));
    if (!d || !ks || !slots)
        { fail_done(cb, data, oom()); return; }
    memcpy(ks, keys, n * sizeof(*ks));
    for (size_t i = 0; i < n; i++) {
        if (!ks[i].key || !*ks[i].key)
            { fail_done(cb, data, dapr__apierr_new(DAPR_ERR_MALFORMED_REQUEST,
                                                        "\"key\" is a required field")); return; }
        if (!(ks[i].key = skey(c, keys[i].key, pool, &e)))
            { fail_done(cb, data, e); return; }
        if (ks[i].etag && !*ks[i].etag)
            ks[i].etag = NULL;
        slots[i] = (fan_slot_t){&d->fan, i};
    }
    *d = (del_ctx_t){.c = c, .keys = ks, .slots = slots, .store = store, .bulk = bulk, .cb = cb,
                     .data = data};
    d->fan = (fan_t){.n = n, .start = del_start, .finish = del_finish, .pool = pool, .rt = rt};
    fan_pump(&d->fan);
}

void dapr__state_delete(dapr_runtime_t *rt, dapr__pool_t *pool, const char *store,
                        const dapr_state_key_t *key, dapr__state_done_cb cb, void *data)
{
    delete_many(rt, pool, store, key, 1, false, cb, data);
}

void dapr__state_delete_bulk(dapr_runtime_t *rt, dapr__pool_t *pool, const char *store,
                             const dapr_state_key_t *keys, size_t n, dapr__state_done_cb cb,
                             void *data)
{
    delete_many(rt, pool, store, keys, n, true, cb, data);
}

/* ---------------------------------------------------------------------
 * Bulk get
 * ------------------------------------------------------------------- */

typedef struct bulk_ctx {
    fan_t fan;
    dapr_component_t *c;
    dapr_state_key_t *keys;
    fan_slot_t *slots;
    dapr__state_bulk_item_t *out;
    dapr__state_bulk_cb cb;
    void *data;
} bulk_ctx_t;

static void bulk_item_done(const dapr_error_t *err, const dapr_state_value_t *val, void *data)
{
    fan_slot_t *s = data;
    bulk_ctx_t *b = (bulk_ctx_t *)s->fan;
    dapr__state_bulk_item_t *o = &b->out[s->index];
    dapr__pool_t *pool = b->fan.pool;
    if (err) {
        o->error = dapr__pool_strdup(pool, errmsg(err));
    } else if (val->found) {
        /* the component's memory is only ours during the callback */
        uint8_t *d = dapr__pool_alloc(pool, val->len + 1);
        dapr_kv_t *md = val->n_metadata ? dapr__pool_alloc(pool, val->n_metadata * sizeof(*md))
                                        : NULL;
        if (!d || (val->n_metadata && !md)) {
            o->error = "out of memory";
        } else {
            memcpy(d, val->data, val->len);
            d[val->len] = 0;
            o->found = true;
            o->data = d;
            o->len = val->len;
            o->etag = val->etag ? dapr__pool_strdup(pool, val->etag) : NULL;
            for (size_t i = 0; i < val->n_metadata; i++)
                md[i] = (dapr_kv_t){dapr__pool_strdup(pool, val->metadata[i].key),
                                    dapr__pool_strdup(pool, val->metadata[i].value)};
            o->metadata = md;
            o->n_metadata = val->n_metadata;
        }
    }
    fan_complete(&b->fan, s->index, 0, NULL);
}

static int bulk_one(void *ud, dapr_state_get_cb cb, void *cbdata)
{
    fan_slot_t *sl = ud;
    bulk_ctx_t *b = (bulk_ctx_t *)sl->fan;
    return b->c->state_vt->get(b->c, &b->keys[sl->index], cb, cbdata);
}

static int bulk_start(fan_t *f, size_t i)
{
    bulk_ctx_t *b = (bulk_ctx_t *)f;
    int rc = dapr__ob_get(f->rt, b->c, bulk_one, &b->slots[i], bulk_item_done, &b->slots[i]);
    if (rc)
        b->out[i].error = dapr_strerror(rc);
    return 0 * rc; /* a per-key failure, not a request failure */
}

static void bulk_finish(fan_t *f)
{
    bulk_ctx_t *b = (bulk_ctx_t *)f;
    b->cb(NULL, b->out, f->n, b->data);
}

void dapr__state_bulk_get(dapr_runtime_t *rt, dapr__pool_t *pool, const char *store,
                          const char *const *keys, size_t n, int parallelism, dapr__md_t md,
                          dapr__state_bulk_cb cb, void *data)
{
    dapr__apierr_t *e = NULL;
    dapr_component_t *c = find_store(rt, store, &e);
    if (!c) {
        cb(e, NULL, 0, data);
        dapr__apierr_free(e);
        return;
    }
    bulk_ctx_t *b = dapr__pool_calloc(pool, sizeof(*b));
    dapr_state_key_t *ks = dapr__pool_calloc(pool, (n ? n : 1) * sizeof(*ks));
    fan_slot_t *slots = dapr__pool_alloc(pool, (n ? n : 1) * sizeof(*slots));
    dapr__state_bulk_item_t *out = dapr__pool_calloc(pool, (n ? n : 1) * sizeof(*out));
    if (!b || !ks || !slots || !out) {
        e = oom();
        cb(e, NULL, 0, data);
        dapr__apierr_free(e);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        out[i].key = keys[i];
        ks[i].metadata = md.kv;
        ks[i].n_metadata = md.n;
        if (!(ks[i].key = skey(c, keys[i], pool, &e))) {
            cb(e, NULL, 0, data);
            dapr__apierr_free(e);
            return;
        }
        slots[i] = (fan_slot_t){&b->fan, i};
    }
    *b = (bulk_ctx_t){.c = c, .keys = ks, .slots = slots, .out = out, .cb = cb, .data = data};
    b->fan = (fan_t){.n = n, .start = bulk_start, .finish = bulk_finish, .pool = pool, .rt = rt,
                     .parallelism = parallelism > 0 ? (size_t)parallelism : 0};
    fan_pump(&b->fan);
}

/* ---------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------- */

typedef struct tx_ctx {
    dapr__state_done_cb cb;
    void *data;
    dapr_component_t *c;
    const dapr_state_op_t *ops;
    size_t n;
    dapr__md_t md;
} tx_ctx_t;

static int tx_one(void *ud, dapr_done_cb cb, void *cbdata)
{
    tx_ctx_t *t = ud;
    return t->c->state_vt->multi(t->c, t->ops, t->n, t->md.kv, t->md.n, cb, cbdata);
}

static void tx_done(const dapr_error_t *err, void *data)
{
    tx_ctx_t *t = data;
    dapr__apierr_t *e = NULL;
    if (err)
        e = dapr__apierr_new(DAPR_ERR_STATE_TRANSACTION,
                             "error while executing state transaction: %s", errmsg(err));
    t->cb(e, t->data);
    dapr__apierr_free(e);
}

static dapr__apierr_t *tx_check(dapr_component_t *c, const char *store, size_t n,
                                const dapr_state_op_t *ops, const char *bad_op)
{
    const dapr_state_store_vtable_t *vt = c->state_vt;
    if (!(vt->features & DAPR_STATE_FEATURE_TRANSACTIONAL) || !vt->multi) {
        dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_STATE_TX_NOT_SUPPORTED,
                                             "state store %s doesn't support transactions", store);
        dapr__apierr_resource(e, store);
        return e;
    }
    for (size_t i = 0; i < n; i++)
        if (ops[i].kind != DAPR_STATE_OP_UPSERT && ops[i].kind != DAPR_STATE_OP_DELETE)
            return dapr__apierr_new(DAPR_ERR_STATE_OP_NOT_SUPPORTED,
                                    "operation type %s not supported", bad_op ? bad_op : "");
    if (vt->max_tx_ops && n > vt->max_tx_ops) {
        dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_STATE_TOO_MANY_TRANSACTIONS,
                                             "the transaction contains %zu operations, which is "
                                             "more than what the state store supports: %zu",
                                             n, vt->max_tx_ops);
        char a[32], b[32];
        snprintf(a, sizeof(a), "%zu", n);
        snprintf(b, sizeof(b), "%zu", vt->max_tx_ops);
        dapr__apierr_md(e, "currentOpsTransaction", a);
        dapr__apierr_md(e, "maxOpsPerTransaction", b);
        dapr__apierr_resource(e, store);
        return e;
    }
    return NULL;
}

void dapr__state_transact(dapr_runtime_t *rt, dapr__pool_t *pool, const char *store,
                          const dapr_state_op_t *ops, size_t n, const char *bad_op, dapr__md_t md,
                          dapr__state_done_cb cb, void *data)
{
    dapr__apierr_t *e = NULL;
    dapr_component_t *c = find_store(rt, store, &e);
    if (!c)
        { fail_done(cb, data, e); return; }
    if ((e = tx_check(c, store, n, ops, bad_op)))
        { fail_done(cb, data, e); return; }
    if (!n)
        { cb(NULL, data); return; }
    dapr_state_op_t *o = dapr__pool_alloc(pool, n * sizeof(*o));
    tx_ctx_t *t = dapr__pool_alloc(pool, sizeof(*t));
    if (!o || !t)
        { fail_done(cb, data, oom()); return; }
    memcpy(o, ops, n * sizeof(*o));
    for (size_t i = 0; i < n; i++)
        if ((e = prepare_item(c, pool, &o[i].item, md, DAPR_ERR_STATE_TRANSACTION, store)))
            { fail_done(cb, data, e); return; }
    *t = (tx_ctx_t){cb, data, c, o, n, md};
    int rc = dapr__ob_call(rt, c, tx_one, t, tx_done, t);
    if (rc)
        fail_done(cb, data, dapr__apierr_new(DAPR_ERR_STATE_TRANSACTION,
                                             "error while executing state transaction: %s",
                                             dapr_strerror(rc)));
}
