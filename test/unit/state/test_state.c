/* Unit tests of the state building block: registry, metadata table, key
 * prefixing, the in-memory store's ETag/first-write/TTL/transaction rules,
 * and the API layer's error mapping. */
#include <uv.h>

#include "api/state.h"
#include "components/registry.h"
#include "core/alloc.h"
#include "runtime/runtime_int.h"
#include "../testutil.h"

/* --- a fake store type to exercise the metadata table ----------------- */

typedef struct fake {
    char *host;
    int64_t db;
    bool tls;
    int64_t timeout_ms;
    int64_t size;
} fake_t;

static const char *db_check(const void *f)
{
    return *(const int64_t *)f > 15 ? "must be 0..15" : NULL;
}

static const dapr_md_field_t fake_fields[] = {
    {"host", DAPR_MD_STRING, "localhost:6379", offsetof(fake_t, host), NULL, false},
    {"db", DAPR_MD_INT, "0", offsetof(fake_t, db), db_check, false},
    {"enableTLS", DAPR_MD_BOOL, "false", offsetof(fake_t, tls), NULL, false},
    {"timeout", DAPR_MD_DURATION, "5s", offsetof(fake_t, timeout_ms), NULL, false},
    {"size", DAPR_MD_QUANTITY, "1Ki", offsetof(fake_t, size), NULL, false},
};

static void test_md_table(void)
{
    fake_t f = {0};
    char err[256];
    dapr_kv_t md[] = {{"HOST", "redis:1"}, {"db", "3"}, {"enabletls", "yes"}, {"timeout", "2"}};
    CHECK(!dapr__md_parse(fake_fields, 5, md, 4, &f, err, sizeof(err)));
    CHECK_EQ_STR(f.host, "redis:1");
    CHECK_EQ_INT(f.db, 3);
    CHECK(f.tls);
    CHECK_EQ_INT(f.timeout_ms, 2000); /* bare number = seconds */
    CHECK_EQ_INT(f.size, 1024);
    dapr__md_free(fake_fields, 5, &f);
    CHECK(f.host == NULL);

    fake_t g = {0};
    dapr_kv_t bad[] = {{"db", "16"}};
    CHECK(dapr__md_parse(fake_fields, 5, bad, 1, &g, err, sizeof(err)) == DAPR_EINVAL);
    CHECK(strstr(err, "db") && strstr(err, "0..15"));
    dapr__md_free(fake_fields, 5, &g);
    dapr_kv_t bad2[] = {{"timeout", "soon"}};
    fake_t h = {0};
    CHECK(dapr__md_parse(fake_fields, 5, bad2, 1, &h, err, sizeof(err)) == DAPR_EINVAL);
    CHECK(strstr(err, "timeout") && strstr(err, "soon"));
    dapr__md_free(fake_fields, 5, &h);
}

static void test_registry(void)
{
    dapr__registry_init();
    CHECK(dapr__registry_state("state.in-memory", "v1") != NULL);
    CHECK(dapr__registry_state("state.in-memory", NULL) != NULL);
    CHECK(dapr__registry_state("state.redis", "v1") != NULL);
    CHECK(dapr__registry_state("state.redis", "v2") == NULL);
    CHECK(dapr__registry_state("state.postgres", "v1") == NULL);
    CHECK(dapr_register_state_store(dapr__registry_state("state.redis", "v1")) == DAPR_EEXIST);
    dapr_state_store_vtable_t broken = {.type = "state.broken", .version = "v1"};
    CHECK(dapr_register_state_store(&broken) == DAPR_EINVAL);
    CHECK(dapr__registry_kind_of("state.x") == DAPR__KIND_STATE);
    CHECK(dapr__registry_kind_of("pubsub.x") == DAPR__KIND_PUBSUB);
    CHECK(dapr__registry_kind_of("bindings.x") == 0);
}

/* --- key prefixing ------------------------------------------------------ */

static dapr_component_t *mk(uv_loop_t *loop, const char *app, const char *ns, const char *prefix)
{
    dapr_component_t *c = NULL;
    char err[256] = "";
    dapr_kv_t md[] = {{"keyPrefix", prefix}};
    int rc = dapr__component_new(&c, loop, NULL, app, ns, "store", "state.in-memory", "v1", md,
                                 prefix ? 1 : 0, err, sizeof(err));
    if (rc)
        fprintf(stderr, "component_new: %s\n", err);
    return c;
}

static const char *pk(dapr_component_t *c, const char *key, dapr__pool_t *p)
{
    bool illegal;
    char *k = dapr__state_storage_key(c, key, p, &illegal);
    return k ? k : illegal ? "ILLEGAL" : "OOM";
}

static void test_prefix(uv_loop_t *loop)
{
    dapr__pool_t p;
    dapr__pool_init(&p, 512);
    dapr_component_t *c = mk(loop, "app1", NULL, NULL);
    CHECK_EQ_STR(pk(c, "k", &p), "app1||k");
    CHECK_EQ_STR(pk(c, "a||b", &p), "ILLEGAL");
    dapr__component_free(c);
    c = mk(loop, "", NULL, NULL);
    CHECK_EQ_STR(pk(c, "k", &p), "k");
    dapr__component_free(c);
    c = mk(loop, "app1", NULL, "name");
    CHECK_EQ_STR(pk(c, "k", &p), "store||k");
    dapr__component_free(c);
    c = mk(loop, "app1", NULL, "NONE");
    CHECK_EQ_STR(pk(c, "k", &p), "k");
    dapr__component_free(c);
    c = mk(loop, "app1", "prod", "namespace");
    CHECK_EQ_STR(pk(c, "k", &p), "prod.app1||k");
    dapr__component_free(c);
    c = mk(loop, "app1", NULL, "namespace");
    CHECK_EQ_STR(pk(c, "k", &p), "app1||k");
    dapr__component_free(c);
    c = mk(loop, "app1", NULL, "shared");
    CHECK_EQ_STR(pk(c, "k", &p), "shared||k");
    dapr__component_free(c);
    CHECK(mk(loop, "app1", NULL, "bad||prefix") == NULL);
    CHECK_EQ_STR(dapr__state_user_key("app1||k||x"), "k||x");
    CHECK_EQ_STR(dapr__state_user_key("plain"), "plain");
    dapr__pool_destroy(&p);
}

/* --- the in-memory store through the API layer ------------------------- */

typedef struct result {
    int calls;
    int http;
    char code[64];
    char msg[256];
    bool found;
    char data[128];
    char etag[32];
    char ttl[48];
} result_t;

static void on_done(dapr__apierr_t *err, void *data)
{
    result_t *r = data;
    r->calls++;
    r->http = err ? dapr__errdef(err->id)->http : 204;
    snprintf(r->code, sizeof(r->code), "%s", err ? dapr__errdef(err->id)->code : "");
    snprintf(r->msg, sizeof(r->msg), "%s", err ? err->message : "");
}

static void on_get(dapr__apierr_t *err, const dapr_state_value_t *v, void *data)
{
    result_t *r = data;
    on_done(err, data);
    r->found = v && v->found;
    r->data[0] = r->etag[0] = r->ttl[0] = 0;
    if (r->found) {
        snprintf(r->data, sizeof(r->data), "%.*s", (int)v->len, (const char *)v->data);
        snprintf(r->etag, sizeof(r->etag), "%s", v->etag ? v->etag : "");
        for (size_t i = 0; i < v->n_metadata; i++)
            if (!strcmp(v->metadata[i].key, "ttlExpireTime"))
                snprintf(r->ttl, sizeof(r->ttl), "%s", v->metadata[i].value);
    }
}

static dapr_state_item_t item(const char *k, const char *v, const char *etag)
{
    dapr_state_item_t it = {0};
    it.key = k;
    it.value = (const uint8_t *)v;
    it.value_len = strlen(v);
    it.etag = etag;
    it.ttl_seconds = DAPR_TTL_UNSET;
    return it;
}

static void get(dapr_runtime_t *rt, dapr__pool_t *p, const char *store, const char *key,
                result_t *r)
{
    dapr_state_key_t k = {.key = key};
    memset(r, 0, sizeof(*r));
    dapr__state_get(rt, p, store, &k, on_get, r);
    CHECK_EQ_INT(r->calls, 1);
}

static void save(dapr_runtime_t *rt, dapr__pool_t *p, dapr_state_item_t it, result_t *r)
{
    memset(r, 0, sizeof(*r));
    dapr__state_save(rt, p, "store", &it, 1, (dapr__md_t){0}, on_done, r);
    CHECK_EQ_INT(r->calls, 1);
}

static int inits;
static void init_cb(dapr_component_t *c, int status, const char *detail)
{
    CHECK_EQ_INT(status, DAPR_OK);
    inits++;
}

static void test_api_in_memory(uv_loop_t *loop)
{
    dapr_runtime_t *rt;
    CHECK(!dapr_runtime_create(&rt, loop));
    dapr__pool_t p;
    dapr__pool_init(&p, 4096);
    result_t r;

    /* no store at all → 500 not configured */
    get(rt, &p, "store", "k", &r);
    CHECK_EQ_INT(r.http, 500);
    CHECK_EQ_STR(r.code, "ERR_STATE_STORE_NOT_CONFIGURED");

    dapr_component_t *c = mk(loop, "app", NULL, NULL);
    rt->components = dapr__malloc(sizeof(*rt->components));
    rt->components[0] = c;
    rt->n_components = 1;
    rt->n_state_stores = 1;
    c->initialised = true;
    CHECK(!c->state_vt->init(c, init_cb));
    CHECK_EQ_INT(inits, 1);

    get(rt, &p, "nope", "k", &r);
    CHECK_EQ_INT(r.http, 400);
    CHECK_EQ_STR(r.code, "ERR_STATE_STORE_NOT_FOUND");

    get(rt, &p, "store", "k", &r);
    CHECK(r.http == 204 && !r.found);
    save(rt, &p, item("k", "\"v1\"", NULL), &r);
    CHECK_EQ_INT(r.http, 204);
    get(rt, &p, "store", "k", &r);
    CHECK(r.found);
    CHECK_EQ_STR(r.data, "\"v1\"");
    char etag1[32];
    snprintf(etag1, sizeof(etag1), "%s", r.etag);
    CHECK(etag1[0] != 0);

    /* matching etag writes; the etag changes */
    save(rt, &p, item("k", "\"v2\"", etag1), &r);
    CHECK_EQ_INT(r.http, 204);
    get(rt, &p, "store", "k", &r);
    CHECK_EQ_STR(r.data, "\"v2\"");
    CHECK(strcmp(r.etag, etag1) != 0);
    /* stale etag → 409; a foreign one too (opaque ETags, as Dapr's in-memory) */
    save(rt, &p, item("k", "\"v3\"", etag1), &r);
    CHECK_EQ_INT(r.http, 409);
    CHECK_EQ_STR(r.code, "ERR_STATE_SAVE");
    save(rt, &p, item("k", "\"v3\"", "not-a-number"), &r);
    CHECK_EQ_INT(r.http, 409);
    /* etag on a missing key is a mismatch */
    save(rt, &p, item("missing", "1", "1"), &r);
    CHECK_EQ_INT(r.http, 409);
    /* first-write without etag: only when the key is new */
    dapr_state_item_t fw = item("k", "\"fw\"", NULL);
    fw.concurrency = DAPR_CONCURRENCY_FIRST_WRITE;
    save(rt, &p, fw, &r);
    CHECK_EQ_INT(r.http, 409);
    fw.key = "fresh";
    save(rt, &p, fw, &r);
    CHECK_EQ_INT(r.http, 204);
    /* illegal key and missing key */
    save(rt, &p, item("a||b", "1", NULL), &r);
    CHECK_EQ_INT(r.http, 400);
    CHECK_EQ_STR(r.code, "ERR_MALFORMED_REQUEST");
    save(rt, &p, item("", "1", NULL), &r);
    CHECK_EQ_INT(r.http, 400);

    /* TTL through metadata */
    dapr_kv_t ttl_md[] = {{"ttlInSeconds", "100"}};
    dapr_state_item_t t = item("t", "1", NULL);
    t.metadata = ttl_md;
    t.n_metadata = 1;
    save(rt, &p, t, &r);
    get(rt, &p, "store", "t", &r);
    CHECK(r.found && r.ttl[0]);
    dapr_kv_t bad_ttl[] = {{"ttlInSeconds", "soon"}};
    t.metadata = bad_ttl;
    save(rt, &p, t, &r);
    CHECK_EQ_INT(r.http, 500);

    /* delete with etag */
    get(rt, &p, "store", "k", &r);
    dapr_state_key_t dk = {.key = "k", .etag = "1"};
    memset(&r, 0, sizeof(r));
    dapr__state_delete(rt, &p, "store", &dk, on_done, &r);
    CHECK_EQ_INT(r.http, 409);
    CHECK_EQ_STR(r.code, "ERR_STATE_DELETE");
    get(rt, &p, "store", "k", &r);
    char cur[32];
    snprintf(cur, sizeof(cur), "%s", r.etag);
    dk.etag = cur;
    memset(&r, 0, sizeof(r));
    dapr__state_delete(rt, &p, "store", &dk, on_done, &r);
    CHECK_EQ_INT(r.http, 204);
    get(rt, &p, "store", "k", &r);
    CHECK(!r.found);

    /* transaction: all or nothing */
    dapr_state_op_t ops[3] = {
        {DAPR_STATE_OP_UPSERT, item("t1", "1", NULL)},
        {DAPR_STATE_OP_UPSERT, item("t2", "2", NULL)},
        {DAPR_STATE_OP_DELETE, item("fresh", "", "999")},
    };
    memset(&r, 0, sizeof(r));
    dapr__state_transact(rt, &p, "store", ops, 3, NULL, (dapr__md_t){0}, on_done, &r);
    CHECK_EQ_INT(r.http, 500);
    CHECK_EQ_STR(r.code, "ERR_STATE_TRANSACTION");
    get(rt, &p, "store", "t1", &r);
    CHECK(!r.found);
    ops[2].item.etag = NULL;
    memset(&r, 0, sizeof(r));
    dapr__state_transact(rt, &p, "store", ops, 3, NULL, (dapr__md_t){0}, on_done, &r);
    CHECK_EQ_INT(r.http, 204);
    get(rt, &p, "store", "t2", &r);
    CHECK(r.found);
    get(rt, &p, "store", "fresh", &r);
    CHECK(!r.found);
    ops[0].kind = 0;
    memset(&r, 0, sizeof(r));
    dapr__state_transact(rt, &p, "store", ops, 1, "merge", (dapr__md_t){0}, on_done, &r);
    CHECK_EQ_INT(r.http, 400);
    CHECK_EQ_STR(r.code, "ERR_NOT_SUPPORTED_STATE_OPERATION");

    dapr__pool_destroy(&p);
    dapr_runtime_destroy(rt);
}

int main(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    test_md_table();
    test_registry();
    test_prefix(&loop);
    test_api_in_memory(&loop);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    return test_result();
}
