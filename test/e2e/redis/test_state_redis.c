/* state.redis and the Redis connection against a real redis-server.
 *
 * Usage: test_state_redis <phase> <port> [arg]
 *   refused <port>          init against a port nobody listens on
 *   main <port>             the store's semantics; leaves known keys behind
 *                           for run_redis_tests.py to inspect
 *   auth <port> <password>  a server started with --requirepass
 *   timeout <port>          command timeout (CLIENT PAUSE) and recovery
 *   restart <port>          prints RESTART, the driver restarts the server on
 *                           the same port; the store must come back
 * Driven by run_redis_tests.py; every wait is bounded. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../../unit/testutil.h"
#include "components/redis/conn.h"
#include "components/registry.h"
#include "core/log.h"
#include "core/strutil.h"
#include "dapr/component.h"

static uv_loop_t *loop;
static dapr__logger_t lg;
static const char *port;
static uv_timer_t tick; /* keeps UV_RUN_ONCE from sleeping unbounded */

static void log_sink(void *ud, dapr_log_level_t lvl, const char *line, size_t len)
{
    fprintf(stderr, "%.*s\n", (int)len, line);
}

static void on_tick(uv_timer_t *t) {}

static uint64_t now_ms(void) { return uv_hrtime() / 1000000; }

/* Run the loop until *flag or ms elapsed; returns *flag. */
static bool wait_for(const bool *flag, uint64_t ms)
{
    uint64_t end = now_ms() + ms;
    uv_timer_start(&tick, on_tick, 20, 20);
    while (!*flag && now_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&tick);
    return *flag;
}

static void sleep_loop(uint64_t ms)
{
    bool never = false;
    wait_for(&never, ms);
}

/* ---------------------------------------------------------------------
 * Store helpers: synchronous wrappers over the async vtable
 * ------------------------------------------------------------------- */

typedef struct res {
    bool done;
    int code;
    char msg[1024];
    bool found;
    char data[8192];
    size_t len;
    char etag[64];
    bool has_etag;
    char ttl_expire[64];
} res_t;

static void res_err(res_t *r, const dapr_error_t *e)
{
    r->done = true;
    r->code = e ? e->code : 0;
    snprintf(r->msg, sizeof(r->msg), "%s", e && e->message ? e->message : "");
}

static void on_done(const dapr_error_t *e, void *data) { res_err(data, e); }

static void on_get(const dapr_error_t *e, const dapr_state_value_t *v, void *data)
{
    res_t *r = data;
    res_err(r, e);
    if (e)
        return;
    r->found = v->found;
    r->len = v->len < sizeof(r->data) ? v->len : sizeof(r->data);
    if (v->len)
        memcpy(r->data, v->data, r->len);
    r->has_etag = v->etag != NULL;
    snprintf(r->etag, sizeof(r->etag), "%s", v->etag ? v->etag : "");
    r->ttl_expire[0] = '\0';
    for (size_t i = 0; i < v->n_metadata; i++)
        if (!strcmp(v->metadata[i].key, "ttlExpireTime"))
            snprintf(r->ttl_expire, sizeof(r->ttl_expire), "%s", v->metadata[i].value);
}

static const dapr_state_store_vtable_t *vt(dapr_component_t *c) { return c->state_vt; }

static int finish(res_t *r, int rc)
{
    if (rc) {
        r->done = true;
        r->code = rc;
        snprintf(r->msg, sizeof(r->msg), "returned %s", dapr_err_name(rc));
        return rc;
    }
    if (!wait_for(&r->done, 10000)) {
        fprintf(stderr, "operation did not complete in 10s\n");
        test_failures++;
        return DAPR_ETIMEDOUT;
    }
    return r->code;
}

static int st_get(dapr_component_t *c, const char *key, res_t *r)
{
    memset(r, 0, sizeof(*r));
    dapr_state_key_t k = {.key = key};
    return finish(r, vt(c)->get(c, &k, on_get, r));
}

static dapr_state_item_t item(const char *key, const void *val, size_t len, const char *etag,
                              dapr_state_concurrency_t conc, int64_t ttl)
{
    return (dapr_state_item_t){.key = key, .value = val, .value_len = len, .etag = etag,
                               .concurrency = conc, .ttl_seconds = ttl};
}

static int st_set_full(dapr_component_t *c, const char *key, const void *val, size_t len,
                       const char *etag, dapr_state_concurrency_t conc, int64_t ttl, res_t *r)
{
    memset(r, 0, sizeof(*r));
    dapr_state_item_t it = item(key, val, len, etag, conc, ttl);
    return finish(r, vt(c)->set(c, &it, on_done, r));
}

static int st_set(dapr_component_t *c, const char *key, const char *val, const char *etag,
                  res_t *r)
{
    return st_set_full(c, key, val, strlen(val), etag, DAPR_CONCURRENCY_UNSPECIFIED,
                       DAPR_TTL_UNSET, r);
}

static int st_del(dapr_component_t *c, const char *key, const char *etag, res_t *r)
{
    memset(r, 0, sizeof(*r));
    dapr_state_key_t k = {.key = key, .etag = etag};
    return finish(r, vt(c)->del(c, &k, on_done, r));
}

static int st_multi(dapr_component_t *c, const dapr_state_op_t *ops, size_t n, res_t *r)
{
    memset(r, 0, sizeof(*r));
    return finish(r, vt(c)->multi(c, ops, n, NULL, 0, on_done, r));
}

typedef struct init_res {
    bool done;
    int status;
    char detail[512];
} init_res_t;

static init_res_t init_r, close_r;

static void on_init(dapr_component_t *c, int status, const char *detail)
{
    init_r.done = true;
    init_r.status = status;
    snprintf(init_r.detail, sizeof(init_r.detail), "%s", detail ? detail : "");
}

static void on_close(dapr_component_t *c, int status, const char *detail)
{
    close_r.done = true;
    close_r.status = status;
}

/* Make and init a state.redis instance; md is NULL-terminated key/value
 * pairs added to redisHost. Returns the component (initialised or not) and
 * init's status in *status. */
static dapr_component_t *store_new(const char *host, const char *const *md, int *status)
{
    dapr_kv_t kv[16];
    size_t n = 0;
    kv[n++] = (dapr_kv_t){"redisHost", host};
    for (; md && md[0] && n < 16; md += 2)
        kv[n++] = (dapr_kv_t){md[0], md[1]};
    char err[512] = "";
    dapr_component_t *c = NULL;
    int rc = dapr__component_new(&c, loop, &lg, "app", NULL, "statestore", "state.redis", "v1",
                                 kv, n, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "component_new: %s\n", err);
        *status = rc;
        snprintf(init_r.detail, sizeof(init_r.detail), "%s", err);
        return NULL;
    }
    memset(&init_r, 0, sizeof(init_r));
    rc = vt(c)->init(c, on_init);
    if (rc) {
        *status = rc;
        return c;
    }
    if (!wait_for(&init_r.done, 15000)) {
        fprintf(stderr, "init did not complete in 15s\n");
        test_failures++;
        *status = DAPR_ETIMEDOUT;
        return c;
    }
    *status = init_r.status;
    return c;
}

static char hostbuf[64];

static const char *local(const char *p)
{
    snprintf(hostbuf, sizeof(hostbuf), "127.0.0.1:%s", p);
    return hostbuf;
}

static void store_close(dapr_component_t *c)
{
    memset(&close_r, 0, sizeof(close_r));
    vt(c)->close(c, on_close);
    CHECK(wait_for(&close_r.done, 10000));
    dapr__component_free(c);
}

/* Component whose init failed: nothing to close. */
static void store_drop(dapr_component_t *c) { dapr__component_free(c); }

/* ---------------------------------------------------------------------
 * A raw connection, for admin commands the store never sends
 * ------------------------------------------------------------------- */

typedef struct raw {
    dapr__redis_conn_t *conn;
    bool ready, failed, closed;
    int n_failed;
    char detail[256];
} raw_t;

static void raw_event(dapr__redis_conn_t *c, dapr__redis_event_t ev, const char *d, void *data)
{
    raw_t *r = data;
    if (ev == DAPR__REDIS_READY)
        r->ready = true;
    else if (ev == DAPR__REDIS_CONNECT_FAILED)
        r->failed = true, r->n_failed++;
    snprintf(r->detail, sizeof(r->detail), "%s", d ? d : "");
}

static bool raw_open(raw_t *r, const char *host, int64_t cmd_timeout)
{
    memset(r, 0, sizeof(*r));
    dapr__redis_opts_t o = {.host = host, .cmd_timeout_ms = cmd_timeout, .on_event = raw_event,
                            .event_data = r};
    char err[256];
    if (dapr__redis_conn_new(&r->conn, loop, &o, err, sizeof(err)))
        return false;
    wait_for(&r->ready, 5000);
    return r->ready;
}

static void raw_closed(void *data) { ((raw_t *)data)->closed = true; }

static void raw_close(raw_t *r)
{
    dapr__redis_conn_close(r->conn, raw_closed, r);
    CHECK(wait_for(&r->closed, 5000));
}

typedef struct reply {
    bool done;
    int status;
    int type;
    long long integer;
    char str[512];
} reply_t;

static void on_raw_reply(const redisReply *r, int status, const char *err, void *data)
{
    reply_t *x = data;
    x->done = true;
    x->status = status;
    x->type = r ? r->type : 0;
    x->integer = r ? r->integer : 0;
    snprintf(x->str, sizeof(x->str), "%s", r && r->str ? r->str : err ? err : "");
}

static int raw_cmd(raw_t *r, reply_t *x, int argc, const char **argv)
{
    memset(x, 0, sizeof(*x));
    int rc = dapr__redis_cmd(r->conn, on_raw_reply, x, argc, argv, NULL);
    if (rc)
        return rc;
    CHECK(wait_for(&x->done, 5000));
    return x->status;
}

/* ---------------------------------------------------------------------
 * Phases
 * ------------------------------------------------------------------- */

/* Accept and never answer. */
static void on_silent_conn(uv_stream_t *srv, int status)
{
    uv_tcp_t *peer = srv->data;
    if (!status && !peer->data) {
        peer->data = peer;
        uv_accept(srv, (uv_stream_t *)peer);
    }
}

/* Close in every state of a dial; each close completes, nothing leaks. */
static void check_conn_lifecycle(void)
{
    raw_t r;
    char host[64];
    dapr__redis_opts_t o = {.host = local(port), .backoff_min_ms = 50, .on_event = raw_event,
                            .event_data = &r};
    char err[256];
    /* just created: connecting */
    memset(&r, 0, sizeof(r));
    CHECK_EQ_INT(dapr__redis_conn_new(&r.conn, loop, &o, err, sizeof(err)), 0);
    CHECK(!dapr__redis_conn_ready(r.conn));
    const char *ping[] = {"PING"};
    CHECK_EQ_INT(dapr__redis_cmd(r.conn, on_raw_reply, NULL, 1, ping, NULL), DAPR_EUNAVAIL);
    raw_close(&r);
    CHECK(!r.failed); /* no event after close */
    /* failing repeatedly, with backoff; closed while waiting to re-dial */
    memset(&r, 0, sizeof(r));
    CHECK_EQ_INT(dapr__redis_conn_new(&r.conn, loop, &o, err, sizeof(err)), 0);
    bool never = false;
    uint64_t end = now_ms() + 3000;
    while (r.n_failed < 3 && now_ms() < end)
        wait_for(&never, 20);
    CHECK(r.n_failed >= 3);
    CHECK(strstr(dapr__redis_conn_last_error(r.conn), "connection refused") != NULL);
    raw_close(&r);
    /* resolving a name */
    snprintf(host, sizeof(host), "localhost:%s", port);
    o.host = host;
    memset(&r, 0, sizeof(r));
    CHECK_EQ_INT(dapr__redis_conn_new(&r.conn, loop, &o, err, sizeof(err)), 0);
    raw_close(&r);
    /* bad host texts */
    static const char *const bad[] = {"h:0", "h:x", "[::1", "a:1,b:2", "redis://h:1", ":6379"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o.host = bad[i];
        dapr__redis_conn_t *c = NULL;
        CHECK_EQ_INT(dapr__redis_conn_new(&c, loop, &o, err, sizeof(err)), DAPR_EINVAL);
        CHECK(c == NULL);
    }
}

static void phase_refused(void)
{
    check_conn_lifecycle();
    int st;
    uint64_t t0 = now_ms();
    dapr_component_t *c = store_new(local(port), NULL, &st);
    uint64_t took = now_ms() - t0;
    CHECK(c != NULL);
    CHECK_EQ_INT(st, DAPR_EUNAVAIL);
    CHECK(took < 2000);
    char want[128];
    snprintf(want, sizeof(want), "redis store: connection refused to 127.0.0.1:%s", port);
    CHECK_EQ_STR(init_r.detail, want);
    if (c)
        store_drop(c);

    /* a hostname goes through uv_getaddrinfo and still fails cleanly */
    char host[64];
    snprintf(host, sizeof(host), "localhost:%s", port);
    c = store_new(host, NULL, &st);
    CHECK_EQ_INT(st, DAPR_EUNAVAIL);
    CHECK(strstr(init_r.detail, "connection refused to localhost:") != NULL);
    if (c)
        store_drop(c);

    /* a server that accepts but never answers: the dial timeout ends init */
    static uv_tcp_t srv, peer; /* closed after this returns */
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(loop, &srv);
    uv_tcp_bind(&srv, (const struct sockaddr *)&sa, 0);
    uv_tcp_init(loop, &peer);
    peer.data = NULL;
    srv.data = &peer;
    CHECK_EQ_INT(uv_listen((uv_stream_t *)&srv, 8, on_silent_conn), 0);
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    uv_tcp_getsockname(&srv, (struct sockaddr *)&ss, &sl);
    char silent[32];
    snprintf(silent, sizeof(silent), "%d", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    static const char *const md[] = {"dialTimeout", "300ms", NULL};
    t0 = now_ms();
    c = store_new(local(silent), md, &st);
    took = now_ms() - t0;
    CHECK_EQ_INT(st, DAPR_EUNAVAIL);
    CHECK(took >= 250 && took < 2000);
    CHECK(strstr(init_r.detail, "dial timeout after 300ms") != NULL);
    fprintf(stderr, "dial timeout: %s (%llums)\n", init_r.detail, (unsigned long long)took);
    if (c)
        store_drop(c);
    uv_close((uv_handle_t *)&peer, NULL);
    uv_close((uv_handle_t *)&srv, NULL);

    /* TLS cannot be honoured with hiredis 0.14: say so */
    static const char *const tls[] = {"enableTLS", "true", NULL};
    c = store_new(local(port), tls, &st);
    CHECK_EQ_INT(st, DAPR_ENOTSUP);
    CHECK_EQ_STR(init_r.detail, "enableTLS is not supported: hiredis 0.14 has no TLS");
    if (c)
        store_drop(c);

    /* bad metadata is refused by the table */
    static const char *const bad[] = {"redisDB", "x", NULL};
    c = store_new(local(port), bad, &st);
    CHECK(c == NULL && st == DAPR_EINVAL);
}

static void check_basic(dapr_component_t *c)
{
    res_t r;
    static const char bin[] = "a\0b\r\n\xff\x01{\"x\":1}";
    CHECK_EQ_INT(st_set_full(c, "app||bin", bin, sizeof(bin), NULL, 0, DAPR_TTL_UNSET, &r), 0);
    CHECK_EQ_INT(st_get(c, "app||bin", &r), 0);
    CHECK(r.found);
    CHECK_EQ_INT(r.len, sizeof(bin));
    CHECK(!memcmp(r.data, bin, sizeof(bin)));
    CHECK_EQ_STR(r.etag, "1");
    CHECK_EQ_STR(r.ttl_expire, "");

    /* empty value */
    CHECK_EQ_INT(st_set_full(c, "app||empty", NULL, 0, NULL, 0, DAPR_TTL_UNSET, &r), 0);
    CHECK_EQ_INT(st_get(c, "app||empty", &r), 0);
    CHECK(r.found && r.len == 0);

    CHECK_EQ_INT(st_get(c, "app||missing", &r), 0);
    CHECK(!r.found && !r.has_etag);

    /* versions count writes */
    CHECK_EQ_INT(st_set(c, "layout||k1", "{\"a\":0}", NULL, &r), 0);
    CHECK_EQ_INT(st_set(c, "layout||k1", "{\"a\":1}", NULL, &r), 0);
    CHECK_EQ_INT(st_get(c, "layout||k1", &r), 0);
    CHECK_EQ_STR(r.etag, "2");
    CHECK(r.len == 7 && !memcmp(r.data, "{\"a\":1}", 7));
}

static void check_etags(dapr_component_t *c)
{
    res_t r;
    CHECK_EQ_INT(st_set(c, "app||e", "v1", NULL, &r), 0);
    CHECK_EQ_INT(st_set(c, "app||e", "v2", "1", &r), 0);
    CHECK_EQ_INT(st_set(c, "app||e", "v3", "1", &r), DAPR_EETAG_MISMATCH);
    CHECK(strstr(r.msg, "etag mismatch") && strstr(r.msg, "app||e"));
    fprintf(stderr, "mismatch message: %s\n", r.msg);
    CHECK_EQ_INT(st_set(c, "app||e", "v3", "abc", &r), DAPR_EETAG_INVALID);
    CHECK_EQ_STR(r.msg, "invalid etag value: abc");
    CHECK_EQ_INT(st_set(c, "app||e", "v3", "002", &r), 0); /* numeric equality */
    CHECK_EQ_INT(st_get(c, "app||e", &r), 0);
    CHECK(r.len == 2 && !memcmp(r.data, "v3", 2));
    CHECK_EQ_STR(r.etag, "3");
    /* an ETag on a key that does not exist cannot match */
    CHECK_EQ_INT(st_set(c, "app||nokey", "x", "1", &r), DAPR_EETAG_MISMATCH);
    CHECK_EQ_INT(st_get(c, "app||nokey", &r), 0);
    CHECK(!r.found);

    /* first-write */
    const int fw = DAPR_CONCURRENCY_FIRST_WRITE;
    CHECK_EQ_INT(st_set_full(c, "app||fw", "a", 1, NULL, fw, DAPR_TTL_UNSET, &r), 0);
    CHECK_EQ_INT(st_set_full(c, "app||fw", "b", 1, NULL, fw, DAPR_TTL_UNSET, &r),
                 DAPR_EETAG_MISMATCH);
    CHECK(strstr(r.msg, "already exists") != NULL);
    CHECK_EQ_INT(st_set_full(c, "app||fw", "c", 1, "1", fw, DAPR_TTL_UNSET, &r), 0);
    CHECK_EQ_INT(st_get(c, "app||fw", &r), 0);
    CHECK(r.len == 1 && r.data[0] == 'c');
    CHECK_EQ_STR(r.etag, "2");

    /* delete */
    CHECK_EQ_INT(st_del(c, "app||e", "2", &r), DAPR_EETAG_MISMATCH);
    CHECK(strstr(r.msg, "failed to delete key app||e") != NULL);
    CHECK_EQ_INT(st_del(c, "app||e", "x1", &r), DAPR_EETAG_INVALID);
    CHECK_EQ_INT(st_get(c, "app||e", &r), 0);
    CHECK(r.found);
    CHECK_EQ_INT(st_del(c, "app||e", "3", &r), 0);
    CHECK_EQ_INT(st_get(c, "app||e", &r), 0);
    CHECK(!r.found);
    CHECK_EQ_INT(st_del(c, "app||e", NULL, &r), 0);   /* missing, no ETag: fine */
    CHECK_EQ_INT(st_del(c, "app||e", "3", &r), DAPR_EETAG_MISMATCH);
    dapr_state_key_t k = {.key = "app||fw", .concurrency = DAPR_CONCURRENCY_FIRST_WRITE};
    memset(&r, 0, sizeof(r));
    CHECK_EQ_INT(finish(&r, vt(c)->del(c, &k, on_done, &r)), 0); /* first-write = last-write */
}

/* ttlExpireTime must be now + secs, give or take 2s. */
static bool expire_near(const char *got, int64_t secs)
{
    for (int d = -2; d <= 2; d++) {
        char want[64];
        dapr__format_time_rfc3339(want, sizeof(want),
                                  dapr__now_unix_ns() + (secs + d) * 1000000000LL, false);
        if (!strcmp(got, want))
            return true;
    }
    fprintf(stderr, "ttlExpireTime %s is not now+%llds\n", got, (long long)secs);
    return false;
}

static void check_ttl(dapr_component_t *c)
{
    res_t r;
    CHECK_EQ_INT(st_set_full(c, "layout||ttl", "t", 1, NULL, 0, 100, &r), 0);
    CHECK_EQ_INT(st_get(c, "layout||ttl", &r), 0);
    CHECK(expire_near(r.ttl_expire, 100));
    /* -1: persist */
    CHECK_EQ_INT(st_set_full(c, "app||ttl2", "t", 1, NULL, 0, 100, &r), 0);
    CHECK_EQ_INT(st_set_full(c, "app||ttl2", "t", 1, NULL, 0, DAPR_TTL_NEVER, &r), 0);
    CHECK_EQ_INT(st_get(c, "app||ttl2", &r), 0);
    CHECK_EQ_STR(r.ttl_expire, "");
    /* a plain save does not keep an old TTL */
    CHECK_EQ_INT(st_set_full(c, "app||ttl3", "t", 1, NULL, 0, 100, &r), 0);
    CHECK_EQ_INT(st_set(c, "app||ttl3", "u", NULL, &r), 0);
    CHECK_EQ_INT(st_get(c, "app||ttl3", &r), 0);
    CHECK_EQ_STR(r.ttl_expire, "");
    CHECK_EQ_STR(r.etag, "2");
    /* it really expires */
    CHECK_EQ_INT(st_set_full(c, "app||short", "s", 1, NULL, 0, 1, &r), 0);
    sleep_loop(2100);
    CHECK_EQ_INT(st_get(c, "app||short", &r), 0);
    CHECK(!r.found);
}

static void check_default_ttl(void)
{
    static const char *const md[] = {"ttlInSeconds", "50", NULL};
    int st;
    dapr_component_t *c = store_new(local(port), md, &st);
    CHECK_EQ_INT(st, 0);
    if (st)
        return;
    res_t r;
    CHECK_EQ_INT(st_set(c, "app||dttl", "x", NULL, &r), 0);
    CHECK_EQ_INT(st_get(c, "app||dttl", &r), 0);
    CHECK(expire_near(r.ttl_expire, 50));
    CHECK_EQ_INT(st_set_full(c, "app||dttl", "x", 1, NULL, 0, 200, &r), 0);
    CHECK_EQ_INT(st_get(c, "app||dttl", &r), 0);
    CHECK(expire_near(r.ttl_expire, 200));
    CHECK_EQ_INT(st_set_full(c, "app||dttl", "x", 1, NULL, 0, DAPR_TTL_NEVER, &r), 0);
    CHECK_EQ_INT(st_get(c, "app||dttl", &r), 0);
    CHECK_EQ_STR(r.ttl_expire, "");
    store_close(c);
}

static dapr_state_op_t up(const char *key, const char *val, const char *etag, int64_t ttl)
{
    return (dapr_state_op_t){DAPR_STATE_OP_UPSERT,
                             item(key, val, strlen(val), etag, 0, ttl)};
}

static dapr_state_op_t del(const char *key, const char *etag)
{
    return (dapr_state_op_t){DAPR_STATE_OP_DELETE, {.key = key, .etag = etag}};
}

static void check_tx(dapr_component_t *c)
{
    res_t r;
    CHECK_EQ_INT(st_set(c, "tx||b", "b1", NULL, &r), 0);
    CHECK_EQ_INT(st_set(c, "tx||c", "c1", NULL, &r), 0);
    /* one bad ETag: nothing applies */
    dapr_state_op_t bad[] = {up("tx||a", "a1", NULL, DAPR_TTL_UNSET),
                             up("tx||b", "b2", "7", DAPR_TTL_UNSET), del("tx||c", NULL)};
    CHECK_EQ_INT(st_multi(c, bad, 3, &r), DAPR_EETAG_MISMATCH);
    CHECK(strstr(r.msg, "tx||b") && strstr(r.msg, "nothing applied"));
    fprintf(stderr, "tx mismatch message: %s\n", r.msg);
    CHECK_EQ_INT(st_get(c, "tx||a", &r), 0);
    CHECK(!r.found);
    CHECK_EQ_INT(st_get(c, "tx||b", &r), 0);
    CHECK(r.len == 2 && !memcmp(r.data, "b1", 2));
    CHECK_EQ_INT(st_get(c, "tx||c", &r), 0);
    CHECK(r.found);
    /* an invalid ETag is refused before Redis is asked */
    bad[1].item.etag = "x";
    CHECK_EQ_INT(st_multi(c, bad, 3, &r), DAPR_EETAG_INVALID);
    /* first-write on an existing key */
    dapr_state_op_t fw[] = {up("tx||a", "a1", NULL, DAPR_TTL_UNSET),
                            up("tx||b", "b2", NULL, DAPR_TTL_UNSET)};
    fw[1].item.concurrency = DAPR_CONCURRENCY_FIRST_WRITE;
    CHECK_EQ_INT(st_multi(c, fw, 2, &r), DAPR_EETAG_MISMATCH);
    CHECK_EQ_INT(st_get(c, "tx||a", &r), 0);
    CHECK(!r.found);

    /* all good: applied in order, ETags see earlier ops of the same call */
    dapr_state_op_t ok[] = {up("tx||a", "a1", NULL, DAPR_TTL_UNSET),
                            up("tx||b", "b2", "1", DAPR_TTL_UNSET),
                            del("tx||c", "1"),
                            up("tx||d", "d1", NULL, 100),
                            up("tx||a", "a2", "1", DAPR_TTL_UNSET),
                            del("tx||d", NULL),
                            up("tx||d", "d2", NULL, 300)};
    CHECK_EQ_INT(st_multi(c, ok, 7, &r), 0);
    if (r.code)
        fprintf(stderr, "tx: %s\n", r.msg);
    CHECK_EQ_INT(st_get(c, "tx||a", &r), 0);
    CHECK(r.len == 2 && !memcmp(r.data, "a2", 2));
    CHECK_EQ_STR(r.etag, "2");
    CHECK_EQ_INT(st_get(c, "tx||b", &r), 0);
    CHECK_EQ_STR(r.etag, "2");
    CHECK_EQ_INT(st_get(c, "tx||c", &r), 0);
    CHECK(!r.found);
    CHECK_EQ_INT(st_get(c, "tx||d", &r), 0);
    CHECK(r.len == 2 && !memcmp(r.data, "d2", 2));
    CHECK_EQ_STR(r.etag, "1");
    CHECK(expire_near(r.ttl_expire, 300));
    /* a deleted key's ETag no longer matches within the same call */
    dapr_state_op_t gone[] = {del("tx||a", NULL), up("tx||a", "a3", "2", DAPR_TTL_UNSET)};
    CHECK_EQ_INT(st_multi(c, gone, 2, &r), DAPR_EETAG_MISMATCH);
    CHECK_EQ_INT(st_get(c, "tx||a", &r), 0);
    CHECK(r.found);
    /* empty transaction */
    CHECK_EQ_INT(st_multi(c, NULL, 0, &r), 0);
}

static void check_plain(dapr_component_t *c)
{
    /* "legacy||plain" was SET by redis-cli: a string, not a hash */
    res_t r;
    CHECK_EQ_INT(st_get(c, "legacy||plain", &r), 0);
    CHECK(r.found && r.len == 5 && !memcmp(r.data, "hello", 5));
    CHECK(!r.has_etag);
    CHECK_EQ_INT(st_set(c, "legacy||plain", "x", "1", &r), DAPR_EETAG_MISMATCH);
    CHECK_EQ_INT(st_set(c, "legacy||plain2", "x", NULL, &r), 0);
    /* "legacy||plain2" was SET too: a plain write turns it into a hash */
    CHECK_EQ_INT(st_get(c, "legacy||plain2", &r), 0);
    CHECK(r.found && r.len == 1 && r.data[0] == 'x');
    CHECK_EQ_STR(r.etag, "1");
}

/* A hash as real Dapr writes it reads the same here, and takes our writes. */
static void check_dapr_written(dapr_component_t *c)
{
    res_t r;
    CHECK_EQ_INT(st_get(c, "legacy||dapr", &r), 0);
    CHECK(r.found && r.len == 11 && !memcmp(r.data, "\"from dapr\"", 11));
    CHECK_EQ_STR(r.etag, "7");
    CHECK_EQ_INT(st_set(c, "legacy||dapr", "\"from us\"", "6", &r), DAPR_EETAG_MISMATCH);
    CHECK_EQ_INT(st_set(c, "legacy||dapr", "\"from us\"", "7", &r), 0);
}

static void check_db(void)
{
    static const char *const md[] = {"redisDB", "3", NULL};
    int st;
    dapr_component_t *c = store_new(local(port), md, &st);
    CHECK_EQ_INT(st, 0);
    if (st)
        return;
    res_t r;
    CHECK_EQ_INT(st_set(c, "layout||db3", "in three", NULL, &r), 0);
    CHECK_EQ_INT(st_get(c, "layout||db3", &r), 0);
    CHECK(r.found);
    store_close(c);
    static const char *const md16[] = {"redisDB", "99", NULL};
    c = store_new(local(port), md16, &st);
    CHECK_EQ_INT(st, DAPR_EUNAVAIL);
    CHECK(strstr(init_r.detail, "SELECT failed") != NULL);
    if (c)
        store_drop(c);
}

/* The server forgets its scripts: EVALSHA falls back to EVAL. */
static void check_noscript(dapr_component_t *c)
{
    raw_t raw;
    CHECK(raw_open(&raw, local(port), 0));
    reply_t x;
    const char *flush[] = {"SCRIPT", "FLUSH"};
    CHECK_EQ_INT(raw_cmd(&raw, &x, 2, flush), 0);
    res_t r;
    CHECK_EQ_INT(st_set(c, "app||ns", "after flush", NULL, &r), 0);
    CHECK_EQ_INT(st_get(c, "app||ns", &r), 0);
    CHECK(r.len == 11 && !memcmp(r.data, "after flush", 11));

    /* the conn API on its own: EVALSHA of a script the server never saw */
    dapr__redis_script_t s;
    dapr__redis_script_init(&s, "return {KEYS[1], ARGV[1], ARGV[2]}");
    /* SHA1 as Redis computes it */
    const char *load[] = {"SCRIPT", "LOAD", s.src};
    CHECK_EQ_INT(raw_cmd(&raw, &x, 3, load), 0);
    CHECK_EQ_STR(x.str, s.sha);
    CHECK_EQ_INT(raw_cmd(&raw, &x, 2, flush), 0);
    const char *argv[] = {"k", "a\0b", "c"};
    size_t argvlen[] = {1, 3, 1};
    memset(&x, 0, sizeof(x));
    CHECK_EQ_INT(dapr__redis_evalsha(raw.conn, &s, on_raw_reply, &x, 1, 3, argv, argvlen), 0);
    CHECK(wait_for(&x.done, 5000));
    CHECK_EQ_INT(x.status, 0);
    CHECK_EQ_INT(x.type, REDIS_REPLY_ARRAY);
    raw_close(&raw);
}

/* Many commands in flight at once on the one connection. */
typedef struct many {
    int done, failed, wrong;
    char want[32];
} many_t;

static many_t slots[2000];
static int many_done;

static void many_set_cb(const dapr_error_t *e, void *data)
{
    many_t *m = data;
    m->failed += e != NULL;
    many_done++;
}

static void many_get_cb(const dapr_error_t *e, const dapr_state_value_t *v, void *data)
{
    many_t *m = data;
    if (e || !v->found || v->len != strlen(m->want) || memcmp(v->data, m->want, v->len)) {
        if (!m->wrong)
            fprintf(stderr, "pipeline get: %s found=%d len=%zu\n", e ? e->message : "",
                    e ? 0 : v->found, e ? 0 : v->len);
        m->wrong++;
    }
    many_done++;
}

static void check_pipeline(dapr_component_t *c)
{
    const int n = 2000;
    char key[32];
    many_done = 0;
    uint64_t t0 = now_ms();
    for (int i = 0; i < n; i++) {
        memset(&slots[i], 0, sizeof(slots[i]));
        snprintf(key, sizeof(key), "pipe||%d", i);
        snprintf(slots[i].want, sizeof(slots[i].want), "value-%d", i);
        dapr_state_item_t it = item(key, slots[i].want, strlen(slots[i].want), NULL, 0,
                                    DAPR_TTL_UNSET);
        CHECK_EQ_INT(vt(c)->set(c, &it, many_set_cb, &slots[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "pipe||%d", i);
        dapr_state_key_t k = {.key = key};
        CHECK_EQ_INT(vt(c)->get(c, &k, many_get_cb, &slots[i]), 0);
    }
    bool all = false;
    uint64_t end = now_ms() + 10000;
    while (many_done < 2 * n && now_ms() < end)
        wait_for(&all, 50);
    CHECK_EQ_INT(many_done, 2 * n);
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += slots[i].failed + slots[i].wrong;
    CHECK_EQ_INT(bad, 0);
    fprintf(stderr, "pipeline: %d sets + %d gets in %llums\n", n, n,
            (unsigned long long)(now_ms() - t0));
}

/* Values larger than the socket buffers: partial writes, multi-read replies. */
static uint8_t *big;
static int big_ok, big_done;

static void big_set_cb(const dapr_error_t *e, void *data)
{
    big_ok += e == NULL;
    big_done++;
}

static void big_get_cb(const dapr_error_t *e, const dapr_state_value_t *v, void *data)
{
    size_t want = (size_t)(uintptr_t)data;
    big_ok += !e && v->found && v->len == want && !memcmp(v->data, big, want);
    big_done++;
}

static void check_big(dapr_component_t *c)
{
    const size_t n = 8u << 20, small = 256u << 10;
    big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 2654435761u >> 13);
    big_ok = big_done = 0;
    char key[32];
    dapr_state_item_t it = item("big||8m", big, n, NULL, 0, DAPR_TTL_UNSET);
    CHECK_EQ_INT(vt(c)->set(c, &it, big_set_cb, NULL), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "big||%d", i);
        it = item(key, big, small, NULL, 0, DAPR_TTL_UNSET);
        CHECK_EQ_INT(vt(c)->set(c, &it, big_set_cb, NULL), 0);
    }
    dapr_state_key_t k = {.key = "big||8m"};
    CHECK_EQ_INT(vt(c)->get(c, &k, big_get_cb, (void *)(uintptr_t)n), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "big||%d", i);
        k.key = key;
        CHECK_EQ_INT(vt(c)->get(c, &k, big_get_cb, (void *)(uintptr_t)small), 0);
    }
    bool never = false;
    uint64_t end = now_ms() + 10000;
    while (big_done < 42 && now_ms() < end)
        wait_for(&never, 20);
    CHECK_EQ_INT(big_done, 42);
    CHECK_EQ_INT(big_ok, 42);
    free(big);
}

/* Close with commands in flight: each answered once with DAPR_ECLOSED,
 * and the close completes after them. */
static int closed_count, other_count;

static void count_closed(const dapr_error_t *e, void *data)
{
    if (e && e->code == DAPR_ECLOSED)
        closed_count++;
    else
        other_count++;
    CHECK(!close_r.done);
}

static void count_closed_get(const dapr_error_t *e, const dapr_state_value_t *v, void *data)
{
    count_closed(e, data);
}

static void check_close_pending(void)
{
    int st;
    dapr_component_t *c = store_new(local(port), NULL, &st);
    CHECK_EQ_INT(st, 0);
    if (st)
        return;
    closed_count = other_count = 0;
    for (int i = 0; i < 50; i++) {
        dapr_state_item_t it = item("app||closing", "v", 1, NULL, 0, DAPR_TTL_UNSET);
        CHECK_EQ_INT(vt(c)->set(c, &it, count_closed, NULL), 0);
        dapr_state_key_t k = {.key = "app||closing"};
        CHECK_EQ_INT(vt(c)->get(c, &k, count_closed_get, NULL), 0);
    }
    store_close(c);
    CHECK_EQ_INT(closed_count, 100);
    CHECK_EQ_INT(other_count, 0);
}

static void phase_main(void)
{
    int st;
    dapr_component_t *c = store_new(local(port), NULL, &st);
    CHECK_EQ_INT(st, 0);
    if (st) {
        fprintf(stderr, "init failed: %s\n", init_r.detail);
        if (c)
            store_drop(c);
        return;
    }
    check_basic(c);
    check_etags(c);
    check_ttl(c);
    check_tx(c);
    check_plain(c);
    check_dapr_written(c);
    check_pipeline(c);
    check_big(c);
    check_noscript(c);
    store_close(c);
    check_default_ttl();
    check_db();
    check_close_pending();

    /* a hostname with several addresses (localhost: ::1 and 127.0.0.1) */
    char host[64];
    snprintf(host, sizeof(host), "localhost:%s", port);
    c = store_new(host, NULL, &st);
    CHECK_EQ_INT(st, 0);
    if (!st) {
        res_t r;
        CHECK_EQ_INT(st_get(c, "layout||k1", &r), 0);
        CHECK_EQ_STR(r.etag, "2");
        store_close(c);
    } else if (c) {
        store_drop(c);
    }
}

static void phase_auth(const char *password)
{
    int st;
    dapr_component_t *c = store_new(local(port), NULL, &st);
    CHECK_EQ_INT(st, DAPR_EUNAVAIL);
    CHECK(strstr(init_r.detail, "NOAUTH") != NULL);
    fprintf(stderr, "no password: %s\n", init_r.detail);
    if (c)
        store_drop(c);

    static const char *const wrong[] = {"redisPassword", "nope", NULL};
    c = store_new(local(port), wrong, &st);
    CHECK_EQ_INT(st, DAPR_EUNAVAIL);
    CHECK(strstr(init_r.detail, "AUTH failed") != NULL);
    fprintf(stderr, "wrong password: %s\n", init_r.detail);
    if (c)
        store_drop(c);

    const char *const right[] = {"redisPassword", password, NULL};
    c = store_new(local(port), right, &st);
    CHECK_EQ_INT(st, 0);
    if (!st) {
        res_t r;
        CHECK_EQ_INT(st_set(c, "auth||k", "secret value", NULL, &r), 0);
        CHECK_EQ_INT(st_get(c, "auth||k", &r), 0);
        CHECK(r.len == 12);
        store_close(c);
    }

    /* Redis 6 ACL form: AUTH <user> <password> */
    const char *const acl[] = {"redisUsername", "default", "redisPassword", password, NULL};
    c = store_new(local(port), acl, &st);
    CHECK_EQ_INT(st, 0);
    if (!st) {
        res_t r;
        CHECK_EQ_INT(st_get(c, "auth||k", &r), 0);
        CHECK_EQ_STR(r.etag, "1");
        store_close(c);
    }
    const char *const badacl[] = {"redisUsername", "nobody", "redisPassword", password, NULL};
    c = store_new(local(port), badacl, &st);
    CHECK_EQ_INT(st, DAPR_EUNAVAIL);
    CHECK(strstr(init_r.detail, "WRONGPASS") != NULL);
    if (c)
        store_drop(c);
}

static void phase_timeout(void)
{
    static const char *const md[] = {"readTimeout", "300ms", "dialTimeout", "3s", NULL};
    int st;
    dapr_component_t *c = store_new(local(port), md, &st);
    CHECK_EQ_INT(st, 0);
    if (st)
        return;
    res_t r;
    CHECK_EQ_INT(st_set(c, "to||k", "v", NULL, &r), 0);

    raw_t raw;
    CHECK(raw_open(&raw, local(port), -1));
    reply_t x;
    const char *pause[] = {"CLIENT", "PAUSE", "1500"};
    CHECK_EQ_INT(raw_cmd(&raw, &x, 3, pause), 0);

    uint64_t t0 = now_ms();
    CHECK_EQ_INT(st_get(c, "to||k", &r), DAPR_ETIMEDOUT);
    uint64_t took = now_ms() - t0;
    fprintf(stderr, "timeout: %s after %llums\n", r.msg, (unsigned long long)took);
    CHECK(took >= 250 && took < 1000);
    CHECK(strstr(r.msg, "timed out after 300ms") != NULL);
    /* the connection was dropped: fail fast while it comes back */
    t0 = now_ms();
    CHECK_EQ_INT(st_get(c, "to||k", &r), DAPR_EUNAVAIL);
    CHECK(now_ms() - t0 < 100);
    fprintf(stderr, "while down: %s\n", r.msg);

    /* recovery once the pause ends */
    bool ok = false;
    uint64_t end = now_ms() + 8000;
    while (!ok && now_ms() < end) {
        ok = st_get(c, "to||k", &r) == 0;
        if (!ok)
            sleep_loop(100);
    }
    CHECK(ok);
    CHECK(r.found && r.len == 1 && r.data[0] == 'v');
    fprintf(stderr, "recovered after %llums\n", (unsigned long long)(now_ms() - t0));
    raw_close(&raw);
    store_close(c);
}

static void phase_restart(void)
{
    static const char *const md[] = {"maxRetryBackoff", "500ms", NULL};
    int st;
    dapr_component_t *c = store_new(local(port), md, &st);
    CHECK_EQ_INT(st, 0);
    if (st)
        return;
    res_t r;
    CHECK_EQ_INT(st_set(c, "rs||k", "before", NULL, &r), 0);
    printf("RESTART\n");
    fflush(stdout);
    /* poll until a failure was seen and the store works again */
    bool failed = false, back = false;
    uint64_t end = now_ms() + 15000;
    while (!back && now_ms() < end) {
        int rc = st_set(c, "rs||k", "after", NULL, &r);
        if (rc) {
            if (!failed)
                fprintf(stderr, "during restart: %s: %s\n", dapr_err_name(rc), r.msg);
            failed = true;
            CHECK(rc == DAPR_EUNAVAIL);
        } else if (failed) {
            back = true;
        }
        if (!back)
            sleep_loop(50);
    }
    CHECK(failed);
    CHECK(back);
    CHECK_EQ_INT(st_get(c, "rs||k", &r), 0);
    CHECK(r.len == 5 && !memcmp(r.data, "after", 5));
    store_close(c);
}

static void walk_cb(uv_handle_t *h, void *arg)
{
    if (h != (uv_handle_t *)&tick) {
        fprintf(stderr, "handle left open: type %s\n", uv_handle_type_name(h->type));
        (*(int *)arg)++;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s refused|main|auth|timeout|restart <port> [arg]\n", argv[0]);
        return 2;
    }
    setvbuf(stderr, NULL, _IONBF, 0);
    /* hiredis 0.14 writes with write(2): a server dying mid-write raises
     * SIGPIPE, which the embedding process must ignore (daprd does) */
    signal(SIGPIPE, SIG_IGN);
    port = argv[2];
    loop = uv_default_loop();
    dapr__logger_init(&lg);
    lg.level = DAPR_LOG_DEBUG;
    lg.sink = log_sink;
    uv_timer_init(loop, &tick);
    const char *phase = argv[1];
    if (!strcmp(phase, "refused"))
        phase_refused();
    else if (!strcmp(phase, "main"))
        phase_main();
    else if (!strcmp(phase, "auth") && argc > 3)
        phase_auth(argv[3]);
    else if (!strcmp(phase, "timeout"))
        phase_timeout();
    else if (!strcmp(phase, "restart"))
        phase_restart();
    else {
        fprintf(stderr, "unknown phase %s\n", phase);
        return 2;
    }
    /* let close callbacks run, then nothing of ours may be left */
    sleep_loop(50);
    int open = 0;
    uv_walk(loop, walk_cb, &open);
    CHECK_EQ_INT(open, 0);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(loop), 0);
    fprintf(stderr, "phase %s: %s\n", phase, test_failures ? "FAILED" : "ok");
    return test_result();
}
