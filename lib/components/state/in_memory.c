/* state.in-memory: a hash table on the runtime's loop. ETags are a per-store
 * version counter, so an ETag is never reused after a delete; TTLs expire
 * lazily on access and by a sweep timer while any TTL is pending. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "components/registry.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/map.h"
#include "core/strutil.h"
#include "dapr/component.h"

typedef struct entry {
    uint8_t *data;
    size_t len;
    uint64_t version;
    int64_t expire_ns; /* unix ns, 0 = never */
} entry_t;

typedef struct mem_store {
    int64_t default_ttl; /* ttlInSeconds metadata; 0 = none */
    dapr__map_t map;
    uint64_t next_version;
    size_t n_ttl; /* entries with an expiry */
    uv_timer_t *sweep;
    dapr_component_t *self;
} mem_store_t;

static const dapr_md_field_t md_fields[] = {
    {"ttlInSeconds", DAPR_MD_INT, "0", offsetof(mem_store_t, default_ttl), NULL, false},
};

static void entry_free(mem_store_t *s, entry_t *e)
{
    if (!e)
        return;
    if (e->expire_ns)
        s->n_ttl--;
    dapr__free(e->data);
    dapr__free(e);
}

static bool expired(const entry_t *e, int64_t now)
{
    return e->expire_ns && e->expire_ns <= now;
}

/* Lookup with lazy expiry. */
static entry_t *lookup(mem_store_t *s, const char *key)
{
    size_t kl = strlen(key);
    entry_t *e = dapr__map_get(&s->map, key, kl);
    if (e && expired(e, dapr__now_unix_ns())) {
        dapr__map_del(&s->map, key, kl);
        entry_free(s, e);
        e = NULL;
    }
    return e;
}

static void sweep_cb(uv_timer_t *t)
{
    mem_store_t *s = t->data;
    if (!s->n_ttl)
        return;
    int64_t now = dapr__now_unix_ns();
    size_t it = 0;
    const char *k;
    size_t kl;
    void *v;
    while (dapr__map_next(&s->map, &it, &k, &kl, &v)) {
        if (expired(v, now)) {
            /* deleting leaves a tombstone: iteration stays valid */
            dapr__map_del(&s->map, k, kl);
            entry_free(s, v);
        }
    }
}

static int mem_init(dapr_component_t *c, dapr_component_done_cb done)
{
    mem_store_t *s = dapr_component_priv(c);
    dapr__map_init(&s->map);
    s->self = c;
    s->next_version = 1;
    s->sweep = dapr__malloc(sizeof(*s->sweep));
    if (!s->sweep)
        return DAPR_ENOMEM;
    uv_timer_init(dapr_component_loop(c), s->sweep);
    s->sweep->data = s;
    uv_timer_start(s->sweep, sweep_cb, 1000, 1000);
    uv_unref((uv_handle_t *)s->sweep);
    done(c, DAPR_OK, NULL);
    return DAPR_OK;
}

static void free_handle(uv_handle_t *h) { dapr__free(h); }

static void mem_close(dapr_component_t *c, dapr_component_done_cb done)
{
    mem_store_t *s = dapr_component_priv(c);
    size_t it = 0;
    void *v;
    while (dapr__map_next(&s->map, &it, NULL, NULL, &v))
        entry_free(s, v);
    dapr__map_free(&s->map);
    if (s->sweep) {
        uv_timer_stop(s->sweep);
        uv_close((uv_handle_t *)s->sweep, free_handle);
        s->sweep = NULL;
    }
    done(c, DAPR_OK, NULL);
}

/* ETag text → version; DAPR_EETAG_INVALID if it is not ours. */
static int parse_etag(const char *etag, uint64_t *v)
{
    int64_t n;
    if (dapr__parse_int(etag, &n) || n <= 0)
        return DAPR_EETAG_INVALID;
    *v = (uint64_t)n;
    return 0;
}

static int check_write(const entry_t *e, const char *etag, dapr_state_concurrency_t conc,
                       const char *key, char *why, size_t whylen)
{
    if (etag) {
        /* Dapr's in-memory store compares ETags as opaque strings: one that
         * is not ours is a mismatch (409 / ABORTED), not an invalid ETag. */
        uint64_t v;
        if (parse_etag(etag, &v) || !e || e->version != v) {
            snprintf(why, whylen, "possible etag mismatch. error from state store: etag %s does "
                     "not match the current version of key %s", etag, key);
            return DAPR_EETAG_MISMATCH;
        }
    } else if (conc == DAPR_CONCURRENCY_FIRST_WRITE && e) {
        snprintf(why, whylen, "possible etag mismatch. error from state store: key %s already "
                 "exists (first-write without etag)", key);
        return DAPR_EETAG_MISMATCH;
    }
    return 0;
}

static int apply_set(mem_store_t *s, const dapr_state_item_t *it)
{
    entry_t *n = dapr__calloc(1, sizeof(*n));
    if (!n)
        return DAPR_ENOMEM;
    n->data = dapr__malloc(it->value_len);
    if (!n->data) {
        dapr__free(n);
        return DAPR_ENOMEM;
    }
    memcpy(n->data, it->value, it->value_len);
    n->len = it->value_len;
    n->version = s->next_version++;
    int64_t ttl = it->ttl_seconds;
    if (ttl == DAPR_TTL_UNSET)
        ttl = s->default_ttl > 0 ? s->default_ttl : 0;
    if (ttl > 0) {
        n->expire_ns = dapr__now_unix_ns() + ttl * 1000000000;
        s->n_ttl++;
    }
    void *old = NULL;
    if (dapr__map_put(&s->map, it->key, strlen(it->key), n, &old)) {
        entry_free(s, n);
        return DAPR_ENOMEM;
    }
    entry_free(s, old);
    return 0;
}

static int mem_get(dapr_component_t *c, const dapr_state_key_t *k, dapr_state_get_cb cb, void *data)
{
    mem_store_t *s = dapr_component_priv(c);
    entry_t *e = lookup(s, k->key);
    dapr_state_value_t v = {0};
    char etag[24], exp[48];
    dapr_kv_t md[1];
    if (e) {
        v.found = true;
        v.data = e->data;
        v.len = e->len;
        dapr__fmt_u64(etag, e->version);
        v.etag = etag;
        if (e->expire_ns) {
            dapr__format_time_rfc3339(exp, sizeof(exp), e->expire_ns, false);
            md[0] = (dapr_kv_t){"ttlExpireTime", exp};
            v.metadata = md;
            v.n_metadata = 1;
        }
    }
    cb(NULL, &v, data);
    return DAPR_OK;
}

static void fail(dapr_state_done_cb cb, void *data, int code, const char *msg)
{
    dapr_error_t err = {code, msg};
    cb(&err, data);
}

static int mem_set(dapr_component_t *c, const dapr_state_item_t *it, dapr_state_done_cb cb,
                   void *data)
{
    mem_store_t *s = dapr_component_priv(c);
    char why[512];
    int rc = check_write(lookup(s, it->key), it->etag, it->concurrency, it->key, why, sizeof(why));
    if (rc) {
        fail(cb, data, rc, why);
        return DAPR_OK;
    }
    if (apply_set(s, it))
        return DAPR_ENOMEM;
    cb(NULL, data);
    return DAPR_OK;
}

static void apply_del(mem_store_t *s, const char *key)
{
    entry_free(s, dapr__map_del(&s->map, key, strlen(key)));
}

static int mem_del(dapr_component_t *c, const dapr_state_key_t *k, dapr_state_done_cb cb,
                   void *data)
{
    mem_store_t *s = dapr_component_priv(c);
    char why[512];
    /* first-write has no meaning for a delete without ETag */
    int rc = check_write(lookup(s, k->key), k->etag, DAPR_CONCURRENCY_LAST_WRITE, k->key, why,
                         sizeof(why));
    if (rc) {
        fail(cb, data, rc, why);
        return DAPR_OK;
    }
    apply_del(s, k->key);
    cb(NULL, data);
    return DAPR_OK;
}

/* The entry a key will have after ops[0..i) of the transaction ran:
 * *virt set when an earlier op decides it (then *e is its stand-in). */
static const entry_t *state_before(mem_store_t *s, const dapr_state_op_t *ops, size_t i,
                                   entry_t *scratch)
{
    const char *key = ops[i].item.key;
    for (size_t j = i; j-- > 0;) {
        if (strcmp(ops[j].item.key, key))
            continue;
        if (ops[j].kind == DAPR_STATE_OP_DELETE)
            return NULL;
        /* an earlier upsert: the key exists with a version nobody knows yet */
        scratch->version = 0;
        return scratch;
    }
    return lookup(s, key);
}

static int mem_multi(dapr_component_t *c, const dapr_state_op_t *ops, size_t n,
                     const dapr_kv_t *md, size_t n_md, dapr_state_done_cb cb, void *data)
{
    mem_store_t *s = dapr_component_priv(c);
    char why[512];
    entry_t scratch = {0};
    /* check every condition first: all or nothing */
    for (size_t i = 0; i < n; i++) {
        const dapr_state_item_t *it = &ops[i].item;
        const entry_t *e = state_before(s, ops, i, &scratch);
        dapr_state_concurrency_t conc =
            ops[i].kind == DAPR_STATE_OP_DELETE ? DAPR_CONCURRENCY_LAST_WRITE : it->concurrency;
        int rc = check_write(e, it->etag, conc, it->key, why, sizeof(why));
        if (rc) {
            fail(cb, data, rc, why);
            return DAPR_OK;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind == DAPR_STATE_OP_DELETE)
            apply_del(s, ops[i].item.key);
        else if (apply_set(s, &ops[i].item)) {
            /* only OOM can land here, after earlier ops applied */
            fail(cb, data, DAPR_ENOMEM, "out of memory while applying a transaction");
            return DAPR_OK;
        }
    }
    cb(NULL, data);
    return DAPR_OK;
}

const dapr_state_store_vtable_t dapr__state_in_memory_vtable = {
    .type = "state.in-memory",
    .version = "v1",
    .features = DAPR_STATE_FEATURE_ETAG | DAPR_STATE_FEATURE_TRANSACTIONAL | DAPR_STATE_FEATURE_TTL,
    .priv_size = sizeof(mem_store_t),
    .md_fields = md_fields,
    .n_md_fields = sizeof(md_fields) / sizeof(md_fields[0]),
    .init = mem_init,
    .close = mem_close,
    .get = mem_get,
    .set = mem_set,
    .del = mem_del,
    .multi = mem_multi,
};
