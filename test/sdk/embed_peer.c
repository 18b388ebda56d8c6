/* The embedded app of embed.test.js: a runtime inside this program with its
 * HTTP and gRPC API ports open, a pubsub.redis component, invoke handlers
 * and a subscription.
 *
 *   embed_peer <app-id> <http-port> <grpc-port> <redis-port>
 *
 * Handlers: "hello" answers {"hello": <body as text>, "caller": <id>};
 * "received" answers the JSON array of the data of the messages delivered
 * on topic "orders"; "call/<app>" invokes <app>'s "ping" with the body and
 * answers what it got ({"status": n, "body": text}). Prints "READY" once
 * running; SIGTERM stops it (exit 0 after a clean stop). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "dapr/dapr.h"

static dapr_runtime_t *rt;
static char received[65536] = "[";
static size_t n_received;
static uv_signal_t sig;
static int exit_code = 1;

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        abort();
    return p;
}

static char *json_str(const uint8_t *b, size_t n)
{
    char *o = xmalloc(n * 6 + 3), *p = o;
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = b[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            p += sprintf(p, "\\u%04x", c);
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    *p = 0;
    return o;
}

static void reply(dapr_invocation_t *inv, int status, const char *body)
{
    dapr_invoke_response_t r = {.status = status, .content_type = "application/json",
                                .body = (const uint8_t *)body, .body_len = strlen(body)};
    dapr_invocation_respond(inv, &r);
}

static void h_hello(dapr_invocation_t *inv, const dapr_invoke_request_t *req, const char *caller,
                    void *data)
{
    char *b = json_str(req->body, req->body_len);
    char *c = json_str((const uint8_t *)(caller ? caller : ""), caller ? strlen(caller) : 0);
    char *out = xmalloc(strlen(b) + strlen(c) + 64);
    sprintf(out, "{\"hello\":%s,\"caller\":%s,\"verb\":\"%s\"}", b, c, req->verb);
    reply(inv, 200, out);
    free(b);
    free(c);
    free(out);
}

static void h_received(dapr_invocation_t *inv, const dapr_invoke_request_t *req,
                       const char *caller, void *data)
{
    char out[sizeof(received) + 2];
    snprintf(out, sizeof(out), "%s]", received);
    reply(inv, 200, out);
}

static void called(const dapr_error_t *err, const dapr_invoke_response_t *resp, void *data)
{
    dapr_invocation_t *inv = data;
    if (err) {
        char *m = json_str((const uint8_t *)err->message, strlen(err->message));
        char *out = xmalloc(strlen(m) + 64);
        sprintf(out, "{\"error\":%s}", m);
        reply(inv, 502, out);
        free(m);
        free(out);
        return;
    }
    char *b = json_str(resp->body, resp->body_len);
    char *out = xmalloc(strlen(b) + 64);
    sprintf(out, "{\"status\":%d,\"body\":%s}", resp->status, b);
    reply(inv, 200, out);
    free(b);
    free(out);
}

static void h_call(dapr_invocation_t *inv, const dapr_invoke_request_t *req, const char *caller,
                   void *data)
{
    const char *target = req->method + strlen("call/");
    dapr_invoke_request_t q = {.method = "ping", .verb = "POST",
                               .content_type = "application/json", .body = req->body,
                               .body_len = req->body_len};
    if (dapr_invoke(rt, target, &q, called, inv))
        reply(inv, 500, "{\"error\":\"dapr_invoke refused\"}");
}

static void published(const dapr_error_t *err, void *data)
{
    dapr_invocation_t *inv = data;
    if (!err) {
        reply(inv, 200, "{\"published\":true}");
        return;
    }
    char *m = json_str((const uint8_t *)err->message, strlen(err->message));
    char *out = m ? malloc(strlen(m) + 32) : NULL;
    if (out)
        sprintf(out, "{\"error\":%s}", m);
    reply(inv, 500, out ? out : "{\"error\":\"out of memory\"}");
    free(m);
    free(out);
}

/* "publish/<topic>": the request body goes out on pubsub.redis "pubsub" */
static void h_publish(dapr_invocation_t *inv, const dapr_invoke_request_t *req,
                      const char *caller, void *data)
{
    dapr_publish_request_t p = {.pubsub = "pubsub", .topic = req->method + strlen("publish/"),
                                .data = req->body, .len = req->body_len,
                                .content_type = "application/json"};
    if (dapr_publish(rt, &p, published, inv))
        reply(inv, 500, "{\"error\":\"dapr_publish refused\"}");
}

static dapr_delivery_status_t on_order(const dapr_message_t *m, void *data)
{
    char *s = json_str(m->data, m->len);
    size_t used = strlen(received);
    if (used + strlen(s) + 4 < sizeof(received)) {
        if (n_received++)
            strcat(received, ",");
        strcat(received, s);
    }
    free(s);
    return DAPR_DELIVERY_SUCCESS;
}

static void stopped(dapr_runtime_t *r, int status, const char *detail, void *data)
{
    exit_code = status ? 1 : 0;
}

static void on_signal(uv_signal_t *s, int signum)
{
    uv_close((uv_handle_t *)s, NULL);
    if (dapr_runtime_stop(rt, stopped, NULL))
        exit_code = 1;
}

static void started(dapr_runtime_t *r, int status, const char *detail, void *data)
{
    if (status) {
        fprintf(stderr, "start failed: %s\n", detail ? detail : "");
        uv_close((uv_handle_t *)&sig, NULL);
        return;
    }
    printf("READY\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s app-id http-port grpc-port redis-port\n", argv[0]);
        return 2;
    }
    char redis[64];
    snprintf(redis, sizeof(redis), "127.0.0.1:%s", argv[4]);
    int rc = dapr_runtime_create(&rt, NULL);
    rc = rc ? rc : dapr_runtime_set_option(rt, "app-id", argv[1]);
    rc = rc ? rc : dapr_runtime_set_option(rt, "dapr-http-port", argv[2]);
    rc = rc ? rc : dapr_runtime_set_option(rt, "dapr-grpc-port", argv[3]);
    rc = rc ? rc : dapr_runtime_set_option(rt, "dapr-listen-addresses", "127.0.0.1");
    rc = rc ? rc : dapr_runtime_set_option(rt, "log-level", "info");
    dapr_kv_t md[] = {{"redisHost", redis}};
    rc = rc ? rc : dapr_runtime_add_component(rt, "pubsub.redis", "v1", "pubsub", md, 1);
    rc = rc ? rc : dapr_invoke_register(rt, "hello", h_hello, NULL);
    rc = rc ? rc : dapr_invoke_register(rt, "received", h_received, NULL);
    rc = rc ? rc : dapr_invoke_register(rt, "call/", h_call, NULL);
    rc = rc ? rc : dapr_invoke_register(rt, "publish/", h_publish, NULL);
    dapr_subscription_t sub = {.pubsub = "pubsub", .topic = "orders", .default_route = "orders"};
    rc = rc ? rc : dapr_subscribe(rt, &sub, on_order, NULL, NULL);
    if (rc) {
        fprintf(stderr, "setup: %s %s\n", dapr_strerror(rc), dapr_runtime_last_error(rt));
        dapr_runtime_destroy(rt);
        return 1;
    }
    uv_loop_t *loop = dapr_runtime_loop(rt);
    uv_signal_init(loop, &sig);
    uv_signal_start(&sig, on_signal, SIGTERM);
    if (dapr_runtime_start(rt, started, NULL)) {
        dapr_runtime_destroy(rt);
        return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    dapr_runtime_destroy(rt);
    return exit_code;
}
