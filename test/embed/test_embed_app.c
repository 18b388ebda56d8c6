/* The embedding program as the app (in-process app channel):
 *  - invoke: handlers registered with dapr_invoke_register called by
 *    dapr_invoke on the same runtime (exact, prefix, longest prefix,
 *    catch-all, 404 without a handler, an answer given later from a
 *    timer, headers and query) and through the runtime's HTTP API port
 *    (/v1.0/invoke/app1/method/...) by a raw HTTP client;
 *  - pub/sub: subscriptions made before start (routing rules with CEL, a
 *    default route), RETRY then SUCCESS (the broker redelivers), DROP (not
 *    redelivered), a dead-letter topic, a subscription made after start
 *    and ended with dapr_unsubscribe (nothing delivered afterwards),
 *    subscribe and publish errors;
 *  - run_thread + post: a runtime on a library thread driven from this
 *    thread by dapr_runtime_post, posts run in order, join after stop. */
#include "embed_util.h"

#include "runtime/runtime_int.h"

static dapr_runtime_t *rt;
static uv_loop_t *loop;

/* ---------------------------------------------------------------------
 * Invoke
 * ------------------------------------------------------------------- */

static char last_method[128], last_caller[64], last_query[64], last_hdr[64];
static dapr_invocation_t *held;

static void h_echo(dapr_invocation_t *inv, const dapr_invoke_request_t *req,
                   const char *caller, void *data)
{
    char body[512];
    snprintf(last_method, sizeof(last_method), "%s", req->method);
    snprintf(last_caller, sizeof(last_caller), "%s", caller ? caller : "(null)");
    snprintf(last_query, sizeof(last_query), "%s", req->query ? req->query : "");
    last_hdr[0] = 0;
    for (size_t i = 0; i < req->n_headers; i++)
        if (!strcasecmp(req->headers[i].key, "x-test"))
            snprintf(last_hdr, sizeof(last_hdr), "%s", req->headers[i].value);
    int n = snprintf(body, sizeof(body), "%s:%s:%s:%.*s", (const char *)data, req->verb,
                     req->method, (int)req->body_len, (const char *)req->body);
    dapr_kv_t h[] = {{"X-Handler", (const char *)data}};
    dapr_invoke_response_t resp = {.status = 200, .content_type = "text/plain", .headers = h,
                                   .n_headers = 1, .body = (const uint8_t *)body,
                                   .body_len = (size_t)n};
    CHECK_EQ_INT(dapr_invocation_respond(inv, &resp), 0);
}

static void h_later(dapr_invocation_t *inv, const dapr_invoke_request_t *req,
                    const char *caller, void *data)
{
    held = inv; /* answered from a timer */
}

static void answer_held(uv_timer_t *t)
{
    dapr_invoke_response_t resp = {.status = 201, .body = (const uint8_t *)"late",
                                   .body_len = 4};
    CHECK_EQ_INT(dapr_invocation_respond(held, &resp), 0);
    held = NULL;
    uv_close((uv_handle_t *)t, NULL);
}

typedef struct iv {
    bool done;
    int code;
    int status;
    char body[512];
    char handler[32];
    char error_code[64];
} iv_t;

static void on_invoked(const dapr_error_t *err, const dapr_invoke_response_t *resp, void *data)
{
    iv_t *r = data;
    r->code = err ? err->code : 0;
    snprintf(r->error_code, sizeof(r->error_code), "%s",
             err && err->error_code ? err->error_code : "");
    if (resp) {
        r->status = resp->status;
        snprintf(r->body, sizeof(r->body), "%.*s", (int)resp->body_len,
                 (const char *)resp->body);
        for (size_t i = 0; i < resp->n_headers; i++)
            if (!strcasecmp(resp->headers[i].key, "X-Handler"))
                snprintf(r->handler, sizeof(r->handler), "%s", resp->headers[i].value);
    }
    r->done = true;
}

static void invoke(const char *app, const char *method, const char *body, iv_t *r)
{
    memset(r, 0, sizeof(*r));
    dapr_kv_t h[] = {{"x-test", "yes"}};
    dapr_invoke_request_t req = {.method = method, .verb = "PUT", .query = "a=1",
                                 .headers = h, .n_headers = 1,
                                 .body = (const uint8_t *)body, .body_len = strlen(body)};
    CHECK_EQ_INT(dapr_invoke(rt, app, &req, on_invoked, r), 0);
    if (!strcmp(app, "app1"))
        CHECK(!r->done); /* the in-process app answers from the loop, never inside */
    CHECK(run_until(loop, &r->done, 5000));
}

static void test_invoke(void)
{
    iv_t r;
    invoke("app1", "echo", "hi", &r);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "exact:PUT:echo:hi");
    CHECK_EQ_STR(r.handler, "exact");
    CHECK_EQ_STR(last_caller, "(null)"); /* this runtime's own call */
    CHECK_EQ_STR(last_query, "a=1");
    CHECK_EQ_STR(last_hdr, "yes");

    invoke("app1", "orders/42", "", &r);
    CHECK_EQ_STR(r.handler, "orders");
    CHECK_EQ_STR(last_method, "orders/42");
    invoke("app1", "orders/special/7", "", &r);
    CHECK_EQ_STR(r.handler, "special");
    invoke("app1", "nothing", "", &r);
    CHECK_EQ_INT(r.code, 0);
    CHECK_EQ_INT(r.status, 404);

    /* a catch-all takes what nothing else matches */
    CHECK_EQ_INT(dapr_invoke_register(rt, "", h_echo, "all"), 0);
    CHECK_EQ_INT(dapr_invoke_register(rt, "", h_echo, "all"), DAPR_EEXIST);
    invoke("app1", "nothing", "", &r);
    CHECK_EQ_STR(r.handler, "all");
    CHECK_EQ_INT(dapr_invoke_unregister(rt, ""), 0);
    CHECK_EQ_INT(dapr_invoke_unregister(rt, ""), DAPR_ENOTFOUND);
    invoke("app1", "nothing", "", &r);
    CHECK_EQ_INT(r.status, 404);

    /* an answer given later */
    memset(&r, 0, sizeof(r));
    dapr_invoke_request_t req = {.method = "later"};
    CHECK_EQ_INT(dapr_invoke(rt, "app1.default", &req, on_invoked, &r), 0);
    run_for(loop, 50);
    CHECK(held != NULL && !r.done);
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, answer_held, 10, 0);
    CHECK(run_until(loop, &r.done, 5000));
    CHECK_EQ_INT(r.status, 201);
    CHECK_EQ_STR(r.body, "late");

    /* synchronous errors; another app without name resolution */
    CHECK_EQ_INT(dapr_invoke(rt, NULL, &req, on_invoked, &r), DAPR_EINVAL);
    CHECK_EQ_INT(dapr_invoke(rt, "app1", &req, NULL, &r), DAPR_EINVAL);
    invoke("other-app", "echo", "", &r);
    CHECK(r.code != 0);
    CHECK_EQ_STR(r.error_code, "ERR_DIRECT_INVOKE");
}

static void test_invoke_http(void)
{
    http_call_t c;
    int port = rt->http_port;
    const char *resp = http_do(loop, port, "POST", "/v1.0/invoke/app1/method/echo?x=2",
                               "{\"a\":1}", &c);
    CHECK(strstr(resp, "HTTP/1.1 200") == resp);
    CHECK(strstr(resp, "exact:POST:echo:{\"a\":1}") != NULL);
    CHECK(strcasestr(resp, "X-Handler: exact") != NULL);
    CHECK_EQ_STR(last_query, "x=2");
    resp = http_do(loop, port, "GET", "/v1.0/invoke/app1/method/orders/9", NULL, &c);
    CHECK(strstr(resp, "orders:GET:orders/9:") != NULL);
    resp = http_do(loop, port, "POST", "/v1.0/invoke/app1/method/missing", "", &c);
    CHECK(strstr(resp, "HTTP/1.1 404") == resp);
    /* the app's own config, as daprd reads it */
    resp = http_do(loop, port, "GET", "/v1.0/metadata", NULL, &c);
    CHECK(strstr(resp, "\"pubsubname\":\"pubsub\"") != NULL);
}

/* ---------------------------------------------------------------------
 * Pub/sub
 * ------------------------------------------------------------------- */

typedef struct box {
    int count;
    char route[8][32];
    char data[8][128];
    char ids[8][64];
    dapr_delivery_status_t first, then;
} box_t;

static dapr_delivery_status_t on_msg(const dapr_message_t *m, void *data)
{
    box_t *b = data;
    int i = b->count < 8 ? b->count : 7;
    snprintf(b->route[i], sizeof(b->route[i]), "%s", m->route);
    snprintf(b->data[i], sizeof(b->data[i]), "%.*s", (int)m->len, (const char *)m->data);
    snprintf(b->ids[i], sizeof(b->ids[i]), "%s", m->id ? m->id : "");
    CHECK(m->event && strstr(m->event, "\"specversion\""));
    CHECK(m->pubsub && !strcmp(m->pubsub, "pubsub"));
    return b->count++ == 0 ? b->first : b->then;
}

static box_t orders, retry, drop, dl, dead, late;

static void on_pub(const dapr_error_t *err, void *data)
{
    iv_t *r = data;
    r->code = err ? err->code : 0;
    snprintf(r->error_code, sizeof(r->error_code), "%s",
             err && err->error_code ? err->error_code : "");
    r->done = true;
}

static int publish(const char *pubsub, const char *topic, const char *json, iv_t *r)
{
    memset(r, 0, sizeof(*r));
    dapr_publish_request_t p = {.pubsub = pubsub, .topic = topic,
                                .data = (const uint8_t *)json, .len = strlen(json),
                                .content_type = "application/json"};
    CHECK_EQ_INT(dapr_publish(rt, &p, on_pub, r), 0);
    CHECK(run_until(loop, &r->done, 5000));
    return r->code;
}

static bool at_least(box_t *b, int n, int ms)
{
    uint64_t end = uv_now(loop) + (uint64_t)ms;
    while (b->count < n && uv_now(loop) < end)
        run_for(loop, 10);
    return b->count >= n;
}

static int subscribe_before_start(void)
{
    static const dapr_route_rule_t rules[] = {{.match = "event.data.qty > 10", .path = "big"}};
    dapr_subscription_t s = {.pubsub = "pubsub", .topic = "orders", .rules = rules,
                             .n_rules = 1, .default_route = "small"};
    int rc = dapr_subscribe(rt, &s, on_msg, &orders, NULL);
    retry.first = DAPR_DELIVERY_RETRY;
    dapr_subscription_t s2 = {.pubsub = "pubsub", .topic = "retry"};
    rc = rc ? rc : dapr_subscribe(rt, &s2, on_msg, &retry, NULL);
    drop.first = drop.then = DAPR_DELIVERY_DROP;
    dapr_subscription_t s3 = {.pubsub = "pubsub", .topic = "drop"};
    rc = rc ? rc : dapr_subscribe(rt, &s3, on_msg, &drop, NULL);
    dl.first = dl.then = DAPR_DELIVERY_RETRY;
    dapr_subscription_t s4 = {.pubsub = "pubsub", .topic = "dl", .dead_letter_topic = "dl-dead"};
    rc = rc ? rc : dapr_subscribe(rt, &s4, on_msg, &dl, NULL);
    dapr_subscription_t s5 = {.pubsub = "pubsub", .topic = "dl-dead"};
    rc = rc ? rc : dapr_subscribe(rt, &s5, on_msg, &dead, NULL);
    /* errors */
    CHECK_EQ_INT(dapr_subscribe(rt, &s, on_msg, &orders, NULL), DAPR_EEXIST);
    static const dapr_route_rule_t bad[] = {{.match = "event.data.qty >", .path = "x"}};
    dapr_subscription_t sb = {.pubsub = "pubsub", .topic = "bad", .rules = bad, .n_rules = 1};
    CHECK_EQ_INT(dapr_subscribe(rt, &sb, on_msg, NULL, NULL), DAPR_EINVAL);
    return rc;
}

static void test_pubsub(void)
{
    iv_t r;
    CHECK_EQ_INT(publish("pubsub", "orders", "{\"qty\":20}", &r), 0);
    CHECK_EQ_INT(publish("pubsub", "orders", "{\"qty\":1}", &r), 0);
    CHECK(at_least(&orders, 2, 5000));
    bool big_first = !strcmp(orders.data[0], "{\"qty\":20}");
    CHECK_EQ_STR(orders.route[big_first ? 0 : 1], "big");
    CHECK_EQ_STR(orders.route[big_first ? 1 : 0], "small");

    /* RETRY: the broker redelivers the same event, then SUCCESS */
    CHECK_EQ_INT(publish("pubsub", "retry", "{\"n\":1}", &r), 0);
    CHECK(at_least(&retry, 2, 5000));
    CHECK_EQ_STR(retry.ids[0], retry.ids[1]);
    run_for(loop, 500);
    CHECK_EQ_INT(retry.count, 2);

    /* DROP: not redelivered */
    CHECK_EQ_INT(publish("pubsub", "drop", "{\"n\":1}", &r), 0);
    CHECK(at_least(&drop, 1, 5000));
    run_for(loop, 600);
    CHECK_EQ_INT(drop.count, 1);

    /* RETRY without a policy gives up at once: the dead-letter topic */
    CHECK_EQ_INT(publish("pubsub", "dl", "{\"n\":7}", &r), 0);
    CHECK(at_least(&dead, 1, 5000));
    CHECK_EQ_INT(dl.count, 1);
    CHECK_EQ_STR(dead.data[0], "{\"n\":7}");

    /* after start: straight in; unsubscribe ends deliveries */
    dapr_subscription_handle_t *h = NULL;
    dapr_subscription_t s = {.pubsub = "pubsub", .topic = "late"};
    CHECK_EQ_INT(dapr_subscribe(rt, &s, on_msg, &late, &h), 0);
    CHECK(h != NULL);
    CHECK_EQ_INT(publish("pubsub", "late", "{\"n\":1}", &r), 0);
    CHECK(at_least(&late, 1, 5000));
    CHECK_EQ_INT(dapr_unsubscribe(h), 0);
    CHECK_EQ_INT(publish("pubsub", "late", "{\"n\":2}", &r), 0);
    run_for(loop, 500);
    CHECK_EQ_INT(late.count, 1);
    /* the topic can be subscribed again */
    CHECK_EQ_INT(dapr_subscribe(rt, &s, on_msg, &late, &h), 0);
    CHECK_EQ_INT(publish("pubsub", "late", "{\"n\":3}", &r), 0);
    CHECK(at_least(&late, 2, 5000));
    CHECK_EQ_STR(late.data[1], "{\"n\":3}");
    CHECK_EQ_INT(dapr_unsubscribe(h), 0);

    dapr_subscription_t nf = {.pubsub = "nope", .topic = "t"};
    CHECK_EQ_INT(dapr_subscribe(rt, &nf, on_msg, NULL, NULL), DAPR_ENOTFOUND);
    CHECK(publish("nope", "t", "{}", &r) != 0);
    CHECK_EQ_STR(r.error_code, "ERR_PUBSUB_NOT_FOUND");
    CHECK_EQ_INT(r.code, DAPR_ENOTFOUND);
    CHECK(publish("pubsub", "", "{}", &r) != 0);
    CHECK_EQ_STR(r.error_code, "ERR_TOPIC_NAME_EMPTY");
}

/* ---------------------------------------------------------------------
 * run_thread + post
 * ------------------------------------------------------------------- */

typedef struct th {
    dapr_runtime_t *rt;
    atomic_int order[4];
    atomic_int n;
    atomic_bool started, saved, stopped;
} th_t;

static void th_stopped(dapr_runtime_t *r, int status, const char *detail, void *data)
{
    th_t *t = data;
    t->stopped = true;
}

static void th_got(const dapr_error_t *err, const dapr_state_value_t *v, void *data)
{
    th_t *t = data;
    t->saved = !err && v->found && v->len == 1 && v->data[0] == '7';
    dapr_runtime_stop(t->rt, th_stopped, t);
}

static void th_saved(const dapr_error_t *err, void *data)
{
    th_t *t = data;
    dapr_state_key_t k = {.key = "k"};
    if (err || dapr_state_get(t->rt, "s", &k, th_got, t))
        dapr_runtime_stop(t->rt, th_stopped, t);
}

static void th_started(dapr_runtime_t *r, int status, const char *detail, void *data)
{
    th_t *t = data;
    t->started = status == 0;
    dapr_state_item_t it = {.key = "k", .value = (const uint8_t *)"7", .value_len = 1,
                            .ttl_seconds = DAPR_TTL_UNSET};
    if (status || dapr_state_save(r, "s", &it, 1, th_saved, t))
        uv_stop(dapr_runtime_loop(r));
}

static void post_mark(dapr_runtime_t *r, void *data)
{
    th_t *t = data;
    int i = atomic_fetch_add(&t->n, 1);
    if (i < 4)
        t->order[i] = i;
}

static void post_start(dapr_runtime_t *r, void *data)
{
    post_mark(r, data);
    if (dapr_runtime_start(r, th_started, data))
        uv_stop(dapr_runtime_loop(r));
}

static void test_thread(void)
{
    th_t t = {0};
    CHECK_EQ_INT(dapr_runtime_create(&t.rt, NULL), 0);
    dapr_runtime_set_option(t.rt, "app-id", "threaded");
    dapr_runtime_set_option(t.rt, "log-level", "warn");
    dapr_runtime_set_option(t.rt, "dapr-http-port", "-1");
    dapr_runtime_set_option(t.rt, "dapr-grpc-port", "-1");
    dapr_runtime_set_option(t.rt, "dapr-internal-grpc-port", "-1");
    CHECK_EQ_INT(dapr_runtime_add_component(t.rt, "state.in-memory", NULL, "s", NULL, 0), 0);
    CHECK_EQ_INT(dapr_runtime_join_thread(t.rt), DAPR_ESTATE);
    CHECK_EQ_INT(dapr_runtime_run_thread(t.rt), 0);
    CHECK_EQ_INT(dapr_runtime_run_thread(t.rt), DAPR_ESTATE);
    CHECK_EQ_INT(dapr_runtime_post(t.rt, post_mark, &t), 0);
    CHECK_EQ_INT(dapr_runtime_post(t.rt, post_mark, &t), 0);
    CHECK_EQ_INT(dapr_runtime_post(t.rt, post_start, &t), 0);
    CHECK_EQ_INT(dapr_runtime_join_thread(t.rt), 0); /* returns once stopped */
    CHECK(t.started);
    CHECK(t.saved);
    CHECK(t.stopped);
    CHECK_EQ_INT(t.n, 3);
    CHECK(t.order[0] == 0 && t.order[1] == 1 && t.order[2] == 2);
    CHECK_EQ_INT(dapr_runtime_post(t.rt, post_mark, &t), DAPR_ECLOSED);
    dapr_runtime_destroy(t.rt);

    /* a runtime on a caller's loop cannot get a thread; destroy with a
     * thread still running ends it */
    uv_loop_t own;
    uv_loop_init(&own);
    dapr_runtime_t *r2 = NULL;
    CHECK_EQ_INT(dapr_runtime_create(&r2, &own), 0);
    CHECK_EQ_INT(dapr_runtime_run_thread(r2), DAPR_EINVAL);
    dapr_runtime_destroy(r2);
    CHECK_EQ_INT(uv_loop_close(&own), 0);
    dapr_runtime_t *r3 = NULL;
    CHECK_EQ_INT(dapr_runtime_create(&r3, NULL), 0);
    CHECK_EQ_INT(dapr_runtime_run_thread(r3), 0);
    th_t t3 = {0};
    CHECK_EQ_INT(dapr_runtime_post(r3, post_mark, &t3), 0);
    usleep(50000);
    dapr_runtime_destroy(r3);
    CHECK_EQ_INT(t3.n, 1);
}

int main(void)
{
    CHECK_EQ_INT(dapr_runtime_create(&rt, NULL), 0);
    loop = dapr_runtime_loop(rt);
    CHECK_EQ_INT(dapr_runtime_set_option(rt, "app-id", "app1"), 0);
    CHECK_EQ_INT(dapr_runtime_set_option(rt, "log-level", "warn"), 0);
    CHECK_EQ_INT(dapr_runtime_set_option(rt, "dapr-http-port", "0"), 0);
    CHECK_EQ_INT(dapr_runtime_set_option(rt, "dapr-grpc-port", "-1"), 0);
    CHECK_EQ_INT(dapr_runtime_set_option(rt, "dapr-internal-grpc-port", "-1"), 0);
    CHECK_EQ_INT(dapr_runtime_set_option(rt, "dapr-listen-addresses", "127.0.0.1"), 0);
    CHECK_EQ_INT(dapr_runtime_add_component(rt, "pubsub.in-memory", "v1", "pubsub", NULL, 0), 0);
    CHECK_EQ_INT(dapr_invoke_register(rt, "echo", h_echo, "exact"), 0);
    CHECK_EQ_INT(dapr_invoke_register(rt, "/orders/", h_echo, "orders"), 0);
    CHECK_EQ_INT(dapr_invoke_register(rt, "orders/special/", h_echo, "special"), 0);
    CHECK_EQ_INT(dapr_invoke_register(rt, "later", h_later, NULL), 0);
    CHECK_EQ_INT(dapr_invoke_register(rt, "echo", h_echo, "exact"), DAPR_EEXIST);
    CHECK_EQ_INT(subscribe_before_start(), 0);
    CHECK_EQ_INT(start_rt(rt), 0);
    CHECK(rt->grpc == NULL && rt->remote == NULL && rt->http != NULL);
    /* no wait: subscriptions made before start are live once started */
    test_pubsub();
    test_invoke();
    test_invoke_http();

    /* an invocation still with the program when the runtime stops is
     * answered 500; answering it afterwards frees it */
    iv_t r = {0};
    dapr_invoke_request_t req = {.method = "later"};
    CHECK_EQ_INT(dapr_invoke(rt, "app1", &req, on_invoked, &r), 0);
    run_for(loop, 50);
    CHECK(held != NULL);
    stop_rt(rt);
    CHECK(r.done);
    CHECK_EQ_INT(r.status, 500);
    dapr_invoke_response_t resp = {.status = 200};
    CHECK_EQ_INT(dapr_invocation_respond(held, &resp), DAPR_ECLOSED);
    dapr_runtime_destroy(rt);

    test_thread();
    return test_result();
}
