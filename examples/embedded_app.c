/*
 * embedded_app — a C program that is its own Dapr app: an in-process
 * service-invocation handler, the Dapr HTTP/gRPC API ports open for SDK
 * clients, and calls out to another app.
 *
 * Build against an installed libdapr:
 *     cc embedded_app.c $(pkg-config --cflags --libs dapr) -o embedded_app
 * Run (any daprd flag is accepted, as "--name value"):
 *     ./embedded_app --app-id embedded-app --dapr-http-port 3501 --dapr-grpc-port 50002 \
 *         [--peer node-peer] [--once]
 * then, from anywhere:
 *     curl -d '{"name":"curl"}' localhost:3501/v1.0/invoke/embedded-app/method/hello
 * The Node.js side (examples/embedded_app_peer.js, @dapr/dapr) runs behind its
 * own daprd and invokes "hello" here through that daprd; this program calls
 * the peer's "echo" method back (--peer), through name resolution and the
 * peer's sidecar. With --once it exits 0 after another app called it once and
 * its own call succeeded (what the test suite checks; calls through this program's own
 * API ports do not count: they carry no caller app id); otherwise it serves until
 * SIGINT/SIGTERM.
 */
#include <dapr/dapr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct app {
    dapr_runtime_t *rt;
    uv_signal_t sigint, sigterm;
    uv_timer_t retry;     /* calls the peer until it answers */
    uv_timer_t deadline;  /* --once: give up after 60 s */
    const char *peer;     /* app id to call back, or NULL */
    bool once;
    int served;           /* calls of "hello" from other apps (caller id known) */
    bool peer_answered;
    bool stopping;
    int exit_code;
} app_t;

static void on_stopped(dapr_runtime_t *rt, int status, const char *detail, void *data)
{
    (void)rt, (void)status, (void)detail, (void)data;
}

static void shutdown_app(app_t *a, int exit_code)
{
    if (a->stopping)
        return;
    a->stopping = true;
    a->exit_code = exit_code;
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->retry, NULL);
    uv_close((uv_handle_t *)&a->deadline, NULL);
    if (dapr_runtime_stop(a->rt, on_stopped, a) != DAPR_OK)
        uv_stop(dapr_runtime_loop(a->rt)); /* never started: main() cleans up */
}

static void maybe_done(app_t *a)
{
    if (a->once && a->served > 0 && (a->peer_answered || !a->peer))
        shutdown_app(a, 0);
}

/* POST /v1.0/invoke/<this app>/method/hello lands here, whichever port or
 * sidecar it came through. */
static void on_hello(dapr_invocation_t *inv, const dapr_invoke_request_t *req,
                     const char *caller_app_id, void *data)
{
    app_t *a = data;
    char body[512];
    int n = snprintf(body, sizeof body, "{\"greeting\":\"hello from C\",\"caller\":\"%s\","
                     "\"verb\":\"%s\",\"received\":%d}",
                     caller_app_id ? caller_app_id : "", req->verb ? req->verb : "POST",
                     (int)req->body_len);
    dapr_invoke_response_t resp = {.status = 200, .content_type = "application/json",
                                   .body = (const uint8_t *)body, .body_len = (size_t)n};
    printf("hello called by %s with %.*s\n", caller_app_id ? caller_app_id : "(local API)",
           (int)req->body_len, (const char *)req->body);
    dapr_invocation_respond(inv, &resp);
    if (caller_app_id) /* not a call through this program's own API ports */
        a->served++;
    maybe_done(a);
}

/* Every other method: 404, as an HTTP app without that route. */
static void on_other(dapr_invocation_t *inv, const dapr_invoke_request_t *req,
                     const char *caller_app_id, void *data)
{
    (void)caller_app_id, (void)data;
    static const char msg[] = "no such method";
    dapr_invoke_response_t resp = {.status = 404, .content_type = "text/plain",
                                   .body = (const uint8_t *)msg, .body_len = sizeof msg - 1};
    fprintf(stderr, "unknown method %s\n", req->method);
    dapr_invocation_respond(inv, &resp);
}

static void on_retry(uv_timer_t *t);

static void on_peer_answer(const dapr_error_t *err, const dapr_invoke_response_t *resp,
                           void *data)
{
    app_t *a = data;
    if (a->stopping)
        return;
    if (err || resp->status != 200) {
        /* the peer (or its sidecar) may not be up yet: try again shortly */
        uv_timer_start(&a->retry, on_retry, 300, 0);
        return;
    }
    printf("%s answered: %.*s\n", a->peer, (int)resp->body_len, (const char *)resp->body);
    a->peer_answered = true;
    maybe_done(a);
}

static void call_peer(uv_timer_t *t)
{
    app_t *a = t->data;
    static const char ping[] = "{\"message\":\"ping from C\"}";
    dapr_invoke_request_t req = {.method = "echo", .verb = "POST",
                                 .content_type = "application/json",
                                 .body = (const uint8_t *)ping, .body_len = sizeof ping - 1};
    if (dapr_invoke(a->rt, a->peer, &req, on_peer_answer, a) != DAPR_OK)
        shutdown_app(a, 1);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    shutdown_app(s->data, 0);
}

static void on_deadline(uv_timer_t *t)
{
    app_t *a = t->data;
    fprintf(stderr, "timed out (served %d, peer answered: %s)\n", a->served,
            a->peer_answered ? "yes" : "no");
    shutdown_app(a, 1);
}

static void on_started(dapr_runtime_t *rt, int status, const char *detail, void *data)
{
    app_t *a = data;
    (void)rt;
    if (status != DAPR_OK) {
        fprintf(stderr, "start: %s: %s\n", dapr_strerror(status), detail ? detail : "");
        shutdown_app(a, 1);
        return;
    }
    printf("embedded app ready\n");
    fflush(stdout);
    if (a->peer)
        call_peer(&a->retry);
}

/* Retry timer: each firing calls the peer once (300 ms apart). */
static void on_retry(uv_timer_t *t)
{
    call_peer(t);
}

int main(int argc, char **argv)
{
    app_t a = {.exit_code = 1};
    uv_loop_t loop;
    uv_loop_init(&loop);
    if (dapr_runtime_create(&a.rt, &loop) != DAPR_OK)
        return 1;
    dapr_runtime_set_option(a.rt, "app-id", "embedded-app");
    int rc = DAPR_OK;
    for (int i = 1; i < argc && rc == DAPR_OK; i++) {
        const char *name = argv[i];
        if (strcmp(name, "--once") == 0) {
            a.once = true;
        } else if (strcmp(name, "--peer") == 0 && i + 1 < argc) {
            a.peer = argv[++i];
        } else if (dapr_option_is_bool(name) || i + 1 >= argc) {
            rc = dapr_runtime_set_option(a.rt, name, NULL);
        } else {
            rc = dapr_runtime_set_option(a.rt, name, argv[i + 1]);
            i++;
        }
        if (rc != DAPR_OK)
            fprintf(stderr, "%s: %s\n", name, dapr_runtime_last_error(a.rt));
    }
    if (rc == DAPR_OK)
        rc = dapr_invoke_register(a.rt, "hello", on_hello, &a);
    if (rc == DAPR_OK)
        rc = dapr_invoke_register(a.rt, "", on_other, &a);
    if (rc != DAPR_OK) {
        dapr_runtime_destroy(a.rt);
        uv_loop_close(&loop);
        return 2;
    }

    uv_signal_init(&loop, &a.sigint);
    uv_signal_init(&loop, &a.sigterm);
    a.sigint.data = a.sigterm.data = &a;
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_timer_init(&loop, &a.retry);
    uv_timer_init(&loop, &a.deadline);
    a.retry.data = a.deadline.data = &a;
    if (a.once)
        uv_timer_start(&a.deadline, on_deadline, 60000, 0);

    rc = dapr_runtime_start(a.rt, on_started, &a);
    if (rc != DAPR_OK)
        on_started(a.rt, rc, dapr_runtime_last_error(a.rt), &a);
    uv_run(&loop, UV_RUN_DEFAULT);
    dapr_runtime_destroy(a.rt);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "handles left open on the loop\n");
        return 1;
    }
    return a.exit_code;
}
