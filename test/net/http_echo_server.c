/* An echo server on the HTTP/1.1 transport, driven by test_http_server.py.
 *
 *   http_echo_server PORT [max_body=N] [max_header=N] [header_to=MS]
 *                         [idle_to=MS] [body_to=MS] [origins=LIST] [addr=IP]...
 *
 * Prints the bound port on stdout, serves until SIGTERM/SIGINT (graceful
 * shutdown), then exits 0 with everything freed (ASan checks the rest).
 *
 * Routes (any method):
 *   /slow           answers after 200 ms (uv timer)
 *   /status/NNN     answers status NNN with body "status body\n"
 *   /big?n=N        N bytes of 'a'..'z' (respond_buf, no copy)
 *   /bigcopy?n=N    the same through dapr__http_respond (borrowed body)
 *   /inflight       number of requests with the application
 *   /shutdown       answers, then starts a graceful shutdown
 *   /stream...      streamed: the request body is echoed back (chunked) while
 *                   it is read, reading paused while the response queue is
 *                   full; over h2c (not streamed) the whole body is echoed
 *                   through the streamed response API
 *   /rss            "<peak RSS in KiB (VmHWM)> <times /stream's _write said EAGAIN>"
 *   anything else   JSON: method, path, query, http, keep_alive, remote_ip,
 *                   headers (count and list), body_len, body_fnv (FNV-1a 32)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "http/server.h"

typedef struct slow {
    uv_timer_t timer;
    dapr__http_req_t *req;
} slow_t;

static uv_loop_t *loop;
static dapr__http_server_t *srv;
static uv_signal_t sigterm, sigint;
static bool stopping;

static const dapr__http_hdr_t json_hdr[] = {{"Content-Type", "application/json"}};

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static size_t query_n(const dapr__http_req_t *req)
{
    const char *n = strstr(req->query, "n=");
    return n ? (size_t)strtoull(n + 2, NULL, 10) : 0;
}

static void echo(dapr__http_req_t *req)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_puts(&b, "{\"method\":");
    dapr__buf_json_str(&b, req->method, strlen(req->method), 0);
    dapr__buf_puts(&b, ",\"path\":");
    dapr__buf_json_str(&b, req->path, strlen(req->path), 0);
    dapr__buf_puts(&b, ",\"query\":");
    dapr__buf_json_str(&b, req->query, strlen(req->query), 0);
    dapr__buf_puts(&b, ",\"url\":");
    dapr__buf_json_str(&b, req->url, strlen(req->url), 0);
    dapr__buf_printf(&b, ",\"http\":\"%d.%d\",\"keep_alive\":%s,\"remote_ip\":", req->http_major,
                     req->http_minor, req->keep_alive ? "true" : "false");
    dapr__buf_json_str(&b, req->remote_ip, strlen(req->remote_ip), 0);
    dapr__buf_printf(&b, ",\"n_headers\":%zu,\"headers\":[", req->n_headers);
    for (size_t i = 0; i < req->n_headers; i++) {
        dapr__buf_puts(&b, i ? ",[" : "[");
        dapr__buf_json_str(&b, req->headers[i].name, strlen(req->headers[i].name), 0);
        dapr__buf_putc(&b, ',');
        dapr__buf_json_str(&b, req->headers[i].value, strlen(req->headers[i].value), 0);
        dapr__buf_putc(&b, ']');
    }
    bool nul_ok = req->body[req->body_len] == '\0';
    dapr__buf_printf(&b, "],\"body_len\":%zu,\"body_fnv\":%u,\"body_nul\":%s}", req->body_len,
                     fnv1a(req->body, req->body_len), nul_ok ? "true" : "false");
    if (b.oom) {
        dapr__buf_free(&b);
        dapr__http_respond(req, 500, NULL, 0, "oom\n", 4);
        return;
    }
    dapr__http_respond_buf(req, 200, json_hdr, 1, &b);
}

static void on_slow_closed(uv_handle_t *h) { dapr__free(h->data); }

static void on_slow(uv_timer_t *t)
{
    slow_t *s = t->data;
    dapr__http_respond(s->req, 200, NULL, 0, "slow\n", 5);
    uv_close((uv_handle_t *)t, on_slow_closed);
}

static void slow(dapr__http_req_t *req)
{
    slow_t *s = dapr__calloc(1, sizeof(*s));
    if (!s) {
        dapr__http_respond(req, 500, NULL, 0, NULL, 0);
        return;
    }
    s->req = req;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, on_slow, 200, 0);
}

static void big(dapr__http_req_t *req, bool copy)
{
    size_t n = query_n(req);
    dapr__buf_t b = DAPR__BUF_INIT;
    if (dapr__buf_reserve(&b, n)) {
        dapr__http_respond(req, 500, NULL, 0, NULL, 0);
        return;
    }
    for (size_t i = 0; i < n; i++)
        b.data[i] = (char)('a' + i % 26);
    b.len = n;
    if (copy) {
        dapr__http_respond(req, 200, NULL, 0, b.data, b.len);
        dapr__buf_free(&b);
    } else {
        dapr__http_respond_buf(req, 200, NULL, 0, &b);
    }
}

/* ---- /stream: echo the body while reading it, with backpressure ---- */

static unsigned long n_eagain;

typedef struct echo {
    dapr__buf_t held; /* a piece _write refused (DAPR_EAGAIN) */
    bool ended;       /* on_end came while a piece was held */
} echo_t;

static void echo_finish(dapr__http_req_t *req, echo_t *e, bool ok)
{
    dapr__buf_free(&e->held);
    dapr__free(e);
    if (ok)
        dapr__http_respond_end(req);
    else
        dapr__http_respond_abort(req);
}

static void echo_data(dapr__http_req_t *req, const void *data, size_t len, void *ud)
{
    echo_t *e = ud;
    int r = dapr__http_respond_write(req, data, len);
    if (r == DAPR_EAGAIN) {
        n_eagain++;
        /* keep the piece, stop reading until the client took some */
        if (dapr__buf_append(&e->held, data, len))
            return; /* (oom: the echo will be short; the test notices) */
        dapr__http_req_pause(req);
    }
}

static void echo_end(dapr__http_req_t *req, void *ud)
{
    echo_t *e = ud;
    if (e->held.len)
        e->ended = true;
    else
        echo_finish(req, e, true);
}

static void echo_error(dapr__http_req_t *req, int code, void *ud)
{
    (void)code;
    echo_finish(req, ud, false);
}

static void echo_writable(dapr__http_req_t *req, void *ud)
{
    echo_t *e = ud;
    if (!e->held.len)
        return;
    int r = dapr__http_respond_write(req, e->held.data, e->held.len);
    if (r == DAPR_EAGAIN)
        return; /* on_writable again */
    e->held.len = 0;
    if (r) {
        echo_finish(req, e, false);
        return;
    }
    if (e->ended)
        echo_finish(req, e, true);
    else
        dapr__http_req_resume(req);
}

static void stream_echo(dapr__http_req_t *req)
{
    static const dapr__http_hdr_t h[] = {{"Content-Type", "application/octet-stream"}};
    if (!req->streamed) {
        /* whole body already here (h2c, or no body): the streamed response API */
        int r = dapr__http_respond_start(req, 200, h, 1, (int64_t)req->body_len, NULL, NULL);
        if (!r)
            r = dapr__http_respond_write(req, req->body, req->body_len);
        if (r)
            dapr__http_respond_abort(req);
        else
            dapr__http_respond_end(req);
        return;
    }
    static const dapr__http_body_cbs_t cbs = {echo_data, echo_end, echo_error};
    echo_t *e = dapr__calloc(1, sizeof(*e));
    if (!e) {
        dapr__http_respond_abort(req);
        return;
    }
    if (dapr__http_respond_start(req, 200, h, 1, -1, echo_writable, e) ||
        dapr__http_req_read(req, &cbs, e))
        echo_finish(req, e, false);
}

static void rss(dapr__http_req_t *req)
{
    char line[256], out[64] = "0\n";
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmHWM:", 6))
            snprintf(out, sizeof(out), "%lu %lu\n", strtoul(line + 6, NULL, 10), n_eagain);
    if (f)
        fclose(f);
    dapr__http_respond(req, 200, NULL, 0, out, strlen(out));
}

static bool stream_pred(const dapr__http_req_t *req, void *ud)
{
    (void)ud;
    return !strncmp(req->path, "/stream", 7);
}

static void on_done(void *ud)
{
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
}

static void stop(void)
{
    if (stopping)
        return;
    stopping = true;
    dapr__http_server_shutdown(srv, on_done, NULL);
}

static void on_request(dapr__http_req_t *req, void *ud)
{
    const char *p = req->path;
    if (!strcmp(p, "/slow")) {
        slow(req);
    } else if (!strncmp(p, "/status/", 8)) {
        static const char body[] = "status body\n";
        dapr__http_respond(req, atoi(p + 8), NULL, 0, body, sizeof(body) - 1);
    } else if (!strcmp(p, "/big") || !strcmp(p, "/bigcopy")) {
        big(req, p[4] == 'c');
    } else if (!strcmp(p, "/inflight")) {
        char b[32];
        int n = snprintf(b, sizeof(b), "%zu\n", dapr__http_server_inflight(srv));
        dapr__http_respond(req, 200, NULL, 0, b, (size_t)n);
    } else if (!strncmp(p, "/stream", 7)) {
        stream_echo(req);
    } else if (!strcmp(p, "/rss")) {
        rss(req);
    } else if (!strcmp(p, "/shutdown")) {
        dapr__http_respond(req, 200, NULL, 0, "bye\n", 4);
        stop();
    } else {
        echo(req);
    }
}

static void on_signal(uv_signal_t *s, int signum) { stop(); }

static int parse_args(int argc, char **argv, dapr__http_server_config_t *cfg, const char **addr)
{
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            return -1;
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        unsigned long long n = strtoull(v, NULL, 10);
        if (!strcmp(k, "max_body"))
            cfg->max_body_bytes = n;
        else if (!strcmp(k, "max_header"))
            cfg->max_header_bytes = n;
        else if (!strcmp(k, "header_to"))
            cfg->header_timeout_ms = n;
        else if (!strcmp(k, "idle_to"))
            cfg->idle_timeout_ms = n;
        else if (!strcmp(k, "body_to"))
            cfg->body_timeout_ms = n;
        else if (!strcmp(k, "origins"))
            cfg->allowed_origins = v;
        else if (!strcmp(k, "addr"))
            *addr = v;
        else
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [key=value]...\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    dapr__http_server_config_t cfg = {.loop = loop, .on_request = on_request,
                                      .stream_body = stream_pred};
    const char *addr = "127.0.0.1";
    if (parse_args(argc, argv, &cfg, &addr)) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    if (dapr__http_server_create(&srv, &cfg)) {
        fprintf(stderr, "create failed\n");
        return 1;
    }
    int port = 0;
    int r = dapr__http_server_listen(srv, addr, atoi(argv[1]), &port);
    if (r) {
        fprintf(stderr, "listen on %s: %s\n", addr, uv_strerror(r));
        dapr__http_server_free(srv);
        return 1;
    }
    printf("%d\n", port);
    fflush(stdout);
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    dapr__http_server_free(srv);
    r = uv_loop_close(loop);
    if (r) {
        fprintf(stderr, "loop not empty at exit: %s\n", uv_strerror(r));
        return 1;
    }
    return 0;
}
