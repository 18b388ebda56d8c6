/* The public state API (dapr_state_*) on an embedded runtime with an
 * in-memory store added by dapr_runtime_add_component and every server
 * closed ("-1" ports): save/get, ETag mismatch and invalid ETag, delete,
 * bulk get in order, a transaction, an unknown store's error_code, the
 * synchronous errors (NULL arguments, not running), add_component's
 * errors, and an unknown component type failing the start. */
#include "embed_util.h"

typedef struct res {
    bool done;
    int code;
    char error_code[64];
    char message[256];
    bool found;
    char data[256];
    char etag[64];
    size_t n;
    char keys[4][32];
    bool kfound[4];
} res_t;

static void keep_err(res_t *r, const dapr_error_t *err)
{
    r->code = err ? err->code : 0;
    snprintf(r->error_code, sizeof(r->error_code), "%s", err && err->error_code ? err->error_code : "");
    snprintf(r->message, sizeof(r->message), "%s", err ? err->message : "");
}

static void on_done(const dapr_error_t *err, void *data)
{
    res_t *r = data;
    keep_err(r, err);
    r->done = true;
}

static void on_get(const dapr_error_t *err, const dapr_state_value_t *v, void *data)
{
    res_t *r = data;
    keep_err(r, err);
    if (!err) {
        r->found = v->found;
        snprintf(r->data, sizeof(r->data), "%.*s", (int)v->len, (const char *)v->data);
        snprintf(r->etag, sizeof(r->etag), "%s", v->etag ? v->etag : "");
    }
    r->done = true;
}

static void on_bulk(const dapr_error_t *err, const dapr_state_bulk_value_t *v, size_t n,
                    void *data)
{
    res_t *r = data;
    keep_err(r, err);
    r->n = n;
    for (size_t i = 0; i < n && i < 4; i++) {
        snprintf(r->keys[i], sizeof(r->keys[i]), "%s", v[i].key);
        r->kfound[i] = v[i].found;
    }
    r->done = true;
}

#define WAIT(r) CHECK(run_until(loop, &(r).done, 5000))

static void save(dapr_runtime_t *rt, uv_loop_t *loop, const char *store, const char *k,
                 const char *v, const char *etag, res_t *r)
{
    memset(r, 0, sizeof(*r));
    dapr_state_item_t it = {.key = k, .value = (const uint8_t *)v, .value_len = strlen(v),
                            .etag = etag, .ttl_seconds = DAPR_TTL_UNSET};
    CHECK_EQ_INT(dapr_state_save(rt, store, &it, 1, on_done, r), 0);
    WAIT(*r);
}

static void get(dapr_runtime_t *rt, uv_loop_t *loop, const char *store, const char *k, res_t *r)
{
    memset(r, 0, sizeof(*r));
    dapr_state_key_t key = {.key = k};
    CHECK_EQ_INT(dapr_state_get(rt, store, &key, on_get, r), 0);
    WAIT(*r);
}

static void test_errors_before_start(void)
{
    dapr_runtime_t *rt = NULL;
    CHECK_EQ_INT(dapr_runtime_create(&rt, NULL), 0);
    dapr_state_key_t key = {.key = "k"};
    res_t r = {0};
    CHECK_EQ_INT(dapr_state_get(rt, "s", &key, on_get, &r), DAPR_ESTATE);
    CHECK_EQ_INT(dapr_state_get(NULL, "s", &key, on_get, &r), DAPR_EINVAL);
    CHECK_EQ_INT(dapr_state_get(rt, NULL, &key, on_get, &r), DAPR_EINVAL);
    CHECK_EQ_INT(dapr_state_get(rt, "s", &key, NULL, &r), DAPR_EINVAL);
    CHECK_EQ_INT(dapr_runtime_add_component(rt, NULL, NULL, "x", NULL, 0), DAPR_EINVAL);
    CHECK_EQ_INT(dapr_runtime_add_component(rt, "state.in-memory", "1", "x", NULL, 0),
                 DAPR_EINVAL);
    CHECK_EQ_INT(dapr_runtime_add_component(rt, "state.in-memory", NULL, "x", NULL, 0), 0);
    CHECK_EQ_INT(dapr_runtime_add_component(rt, "state.in-memory", "v1", "x", NULL, 0),
                 DAPR_EEXIST);
    CHECK(!r.done);
    dapr_runtime_destroy(rt); /* never started: frees the added component */
}

static void test_unknown_type_fails_start(void)
{
    dapr_runtime_t *rt = NULL;
    CHECK_EQ_INT(dapr_runtime_create(&rt, NULL), 0);
    dapr_runtime_set_option(rt, "app-id", "app1");
    dapr_runtime_set_option(rt, "log-level", "fatal");
    dapr_runtime_set_option(rt, "dapr-http-port", "-1");
    dapr_runtime_set_option(rt, "dapr-grpc-port", "-1");
    dapr_runtime_set_option(rt, "dapr-internal-grpc-port", "-1");
    CHECK_EQ_INT(dapr_runtime_add_component(rt, "state.nope", "v1", "bad", NULL, 0), 0);
    CHECK(start_rt(rt) != 0);
    CHECK(strstr(dapr_runtime_last_error(rt), "bad") != NULL);
    dapr_runtime_destroy(rt);
}

int main(void)
{
    test_errors_before_start();
    test_unknown_type_fails_start();

    dapr_runtime_t *rt = NULL;
    CHECK_EQ_INT(dapr_runtime_create(&rt, NULL), 0);
    uv_loop_t *loop = dapr_runtime_loop(rt);
    CHECK_EQ_INT(dapr_runtime_set_option(rt, "app-id", "app1"), 0);
    CHECK_EQ_INT(dapr_runtime_set_option(rt, "log-level", "warn"), 0);
    CHECK_EQ_INT(dapr_runtime_set_option(rt, "dapr-http-port", "-1"), 0);
    CHECK_EQ_INT(dapr_runtime_set_option(rt, "dapr-grpc-port", "-1"), 0);
    CHECK_EQ_INT(dapr_runtime_set_option(rt, "dapr-internal-grpc-port", "-1"), 0);
    CHECK_EQ_INT(dapr_runtime_add_component(rt, "state.in-memory", "v1", "store", NULL, 0), 0);
    dapr_kv_t md[] = {{"keyPrefix", "name"}};
    CHECK_EQ_INT(dapr_runtime_add_component(rt, "state.in-memory", "v1", "named", md, 1), 0);
    CHECK_EQ_INT(start_rt(rt), 0);
    CHECK_EQ_INT(dapr_runtime_add_component(rt, "state.in-memory", "v1", "late", NULL, 0),
                 DAPR_ESTATE);

    res_t r;
    save(rt, loop, "store", "k1", "{\"qty\":3}", NULL, &r);
    CHECK_EQ_INT(r.code, 0);
    get(rt, loop, "store", "k1", &r);
    CHECK_EQ_INT(r.code, 0);
    CHECK(r.found);
    CHECK_EQ_STR(r.data, "{\"qty\":3}");
    CHECK(r.etag[0]);
    char etag[64];
    snprintf(etag, sizeof(etag), "%s", r.etag);

    /* ETags: a stale one is a mismatch, a malformed one invalid */
    save(rt, loop, "store", "k1", "\"v2\"", etag, &r);
    CHECK_EQ_INT(r.code, 0);
    save(rt, loop, "store", "k1", "\"v3\"", etag, &r);
    CHECK_EQ_INT(r.code, DAPR_EETAG_MISMATCH);
    CHECK_EQ_STR(r.error_code, "ERR_STATE_SAVE");
    save(rt, loop, "store", "k1", "\"v3\"", "not-a-number", &r);
    CHECK(r.code == DAPR_EETAG_INVALID || r.code == DAPR_EETAG_MISMATCH);
    get(rt, loop, "store", "k1", &r);
    CHECK_EQ_STR(r.data, "\"v2\"");

    /* missing key, unknown store, illegal key */
    get(rt, loop, "store", "nope", &r);
    CHECK_EQ_INT(r.code, 0);
    CHECK(!r.found);
    get(rt, loop, "nostore", "k1", &r);
    CHECK_EQ_INT(r.code, DAPR_ENOTFOUND);
    CHECK_EQ_STR(r.error_code, "ERR_STATE_STORE_NOT_FOUND");
    CHECK(strstr(r.message, "nostore") != NULL);
    get(rt, loop, "store", "a||b", &r);
    CHECK_EQ_INT(r.code, DAPR_EINVAL);
    CHECK_EQ_STR(r.error_code, "ERR_MALFORMED_REQUEST");

    /* bulk: in request order, missing keys not found */
    save(rt, loop, "store", "k2", "2", NULL, &r);
    memset(&r, 0, sizeof(r));
    const char *keys[] = {"k2", "zz", "k1"};
    CHECK_EQ_INT(dapr_state_get_bulk(rt, "store", keys, 3, 2, NULL, 0, on_bulk, &r), 0);
    WAIT(r);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(r.n, 3);
    CHECK_EQ_STR(r.keys[0], "k2");
    CHECK_EQ_STR(r.keys[1], "zz");
    CHECK_EQ_STR(r.keys[2], "k1");
    CHECK(r.kfound[0] && !r.kfound[1] && r.kfound[2]);

    /* a transaction: upsert + delete together; an ETag mismatch rolls back */
    dapr_state_op_t ops[] = {
        {DAPR_STATE_OP_UPSERT, {.key = "t1", .value = (const uint8_t *)"1", .value_len = 1,
                                .ttl_seconds = DAPR_TTL_UNSET}},
        {DAPR_STATE_OP_DELETE, {.key = "k2"}},
    };
    memset(&r, 0, sizeof(r));
    CHECK_EQ_INT(dapr_state_transact(rt, "store", ops, 2, NULL, 0, on_done, &r), 0);
    WAIT(r);
    CHECK_EQ_INT(r.code, 0);
    get(rt, loop, "store", "t1", &r);
    CHECK(r.found);
    get(rt, loop, "store", "k2", &r);
    CHECK(!r.found);
    dapr_state_op_t bad[] = {
        {DAPR_STATE_OP_UPSERT, {.key = "t2", .value = (const uint8_t *)"2", .value_len = 1,
                                .ttl_seconds = DAPR_TTL_UNSET}},
        {DAPR_STATE_OP_DELETE, {.key = "t1", .etag = "999999"}},
    };
    memset(&r, 0, sizeof(r));
    CHECK_EQ_INT(dapr_state_transact(rt, "store", bad, 2, NULL, 0, on_done, &r), 0);
    WAIT(r);
    CHECK(r.code != 0); /* as the HTTP API: ERR_STATE_TRANSACTION, whatever the cause */
    CHECK_EQ_STR(r.error_code, "ERR_STATE_TRANSACTION");
    get(rt, loop, "store", "t2", &r);
    CHECK(!r.found);

    /* delete with a stale ETag, then without */
    get(rt, loop, "store", "t1", &r);
    memset(&r, 0, sizeof(r));
    dapr_state_key_t dk = {.key = "t1", .etag = "12345"};
    CHECK_EQ_INT(dapr_state_delete(rt, "store", &dk, on_done, &r), 0);
    WAIT(r);
    CHECK_EQ_INT(r.code, DAPR_EETAG_MISMATCH);
    CHECK_EQ_STR(r.error_code, "ERR_STATE_DELETE");
    dk.etag = NULL;
    memset(&r, 0, sizeof(r));
    CHECK_EQ_INT(dapr_state_delete(rt, "store", &dk, on_done, &r), 0);
    WAIT(r);
    CHECK_EQ_INT(r.code, 0);
    get(rt, loop, "store", "t1", &r);
    CHECK(!r.found);

    /* the second store (keyPrefix name) keeps its own keys */
    save(rt, loop, "named", "k1", "n", NULL, &r);
    get(rt, loop, "named", "k1", &r);
    CHECK_EQ_STR(r.data, "n");

    stop_rt(rt);
    dapr_state_key_t key = {.key = "k"};
    CHECK_EQ_INT(dapr_state_get(rt, "store", &key, on_get, &r), DAPR_ESTATE);
    dapr_runtime_destroy(rt);
    return test_result();
}
