/* The client against the project's own HTTP/1.1 server, in-process on the
 * same loop (lib/http/server.h).
 *
 * Server routes:
 *   /echo         text: method, target, host, body_len, body fnv, headers
 *   /slow?ms=N    answers after N ms; counts requests in the handler at once
 *   /status/NNN   status NNN, body "status body\n"
 *   /big?n=N      N PATTERN bytes
 *   /hang         never answered until the test lets go (hang_release)
 *   /headers      repeated response headers
 * Every request records its peer port, so a test can count the server's
 * accepted connections. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "harness.h"
#include "http/server.h"
#include "http/server_int.h" /* req->conn->tcp: the peer port */

static dapr__http_server_t *srv;
static int srv_port, srv6_port;
static int srv_inflight, srv_max_inflight;
static int seen_ports[512], n_seen_ports;
static int seq_log[64], n_seq_log;
static dapr__http_req_t *hung[64];
static int n_hung;

typedef struct slow {
    uv_timer_t t;
    dapr__http_req_t *req;
} slow_t;

static void on_srv_done(void *ud) { *(bool *)ud = true; }

static void srv_reset_counters(void)
{
    srv_inflight = srv_max_inflight = 0;
    n_seen_ports = n_seq_log = 0;
}

static void note_port(dapr__http_req_t *req)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (!req->conn || uv_tcp_getpeername(&req->conn->tcp, (struct sockaddr *)&ss, &len))
        return;
    int port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    for (int i = 0; i < n_seen_ports; i++)
        if (seen_ports[i] == port)
            return;
    if (n_seen_ports < 512)
        seen_ports[n_seen_ports++] = port;
}

static size_t query_num(const dapr__http_req_t *req, const char *key)
{
    const char *p = strstr(req->query, key);
    return p ? (size_t)strtoull(p + strlen(key), NULL, 10) : 0;
}

static void echo(dapr__http_req_t *req)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    const char *host = dapr__http_req_header(req, "Host");
    dapr__buf_printf(&b, "method=%s\ntarget=%s\nhost=%s\nbody_len=%zu\nfnv=%u\nn_headers=%zu\n",
                     req->method, req->url, host ? host : "-", req->body_len,
                     fnv1a(FNV_INIT, req->body, req->body_len), req->n_headers);
    for (size_t i = 0; i < req->n_headers; i++)
        dapr__buf_printf(&b, "h:%s=%s\n", req->headers[i].name, req->headers[i].value);
    dapr__http_respond_buf(req, 200, NULL, 0, &b);
}

static void slow_closed(uv_handle_t *h) { dapr__free(h->data); }

static void slow_fire(uv_timer_t *t)
{
    slow_t *s = t->data;
    srv_inflight--;
    dapr__http_respond(s->req, 200, NULL, 0, "slow\n", 5);
    uv_close((uv_handle_t *)t, slow_closed);
}

static void slow(dapr__http_req_t *req)
{
    const char *seq = dapr__http_req_header(req, "X-Seq");
    if (seq && n_seq_log < 64)
        seq_log[n_seq_log++] = atoi(seq);
    if (++srv_inflight > srv_max_inflight)
        srv_max_inflight = srv_inflight;
    slow_t *s = dapr__calloc(1, sizeof(*s));
    s->req = req;
    uv_timer_init(loop, &s->t);
    s->t.data = s;
    uv_timer_start(&s->t, slow_fire, query_num(req, "ms="), 0);
}

static void big(dapr__http_req_t *req)
{
    size_t n = query_num(req, "n=");
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_reserve(&b, n + 1);
    for (size_t i = 0; i < n; i++)
        b.data[i] = (char)PATTERN(i);
    b.len = n;
    dapr__http_respond_buf(req, 200, NULL, 0, &b);
}

static void on_request(dapr__http_req_t *req, void *ud)
{
    note_port(req);
    const char *p = req->path;
    if (!strcmp(p, "/slow")) {
        slow(req);
    } else if (!strncmp(p, "/status/", 8)) {
        dapr__http_respond(req, atoi(p + 8), NULL, 0, "status body\n", 12);
    } else if (!strcmp(p, "/big")) {
        big(req);
    } else if (!strcmp(p, "/hang") && n_hung < 64) {
        hung[n_hung++] = req;
    } else if (!strcmp(p, "/headers")) {
        static const dapr__http_hdr_t h[] = {
            {"Set-Cookie", "a=1"}, {"X-Multi", "one"}, {"Set-Cookie", "b=2"}, {"x-multi", "two"}};
        dapr__http_respond(req, 200, h, 4, "ok", 2);
    } else {
        echo(req);
    }
}

/* Answer every hung request (a cancelled one is only freed). */
static void hang_release(void)
{
    for (int i = 0; i < n_hung; i++)
        dapr__http_respond(hung[i], 200, NULL, 0, "late\n", 5);
    n_hung = 0;
}

static dapr__http_client_config_t cfg_for(int port)
{
    dapr__http_client_config_t cfg = {.host = "127.0.0.1", .port = port};
    return cfg;
}

static int seen_conns(void) { return n_seen_ports; }

/* ---------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------- */

static void t_basic_get(void)
{
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    dapr__http_client_t *c = client_new(&cfg);
    call_t k;
    call_init(&k);
    dapr__http_hdr_t h[] = {{"X-Test", "  padded\t"}, {"Accept", "text/plain"}};
    EXPECT_EQ(call_start(c, &k, "GET", "/echo/a%20b?x=1&y=2", h, 2, DAPR__HTTP_BODY_NONE, NULL,
                         0, 0),
              0);
    EXPECT(!k.done); /* never from inside the call */
    EXPECT(run_until(&k.done, 5000));
    EXPECT_EQ(k.status, 200);
    EXPECT(!strcmp(k.reason, "OK"));
    EXPECT_EQ(k.n_end, 1);
    EXPECT_EQ(k.order_errors, 0);
    EXPECT(k.keep_alive);
    EXPECT(k.content_length == (int64_t)k.body_len);
    dapr__buf_cstr(&k.body);
    char host[64];
    snprintf(host, sizeof(host), "host=127.0.0.1:%d\n", srv_port);
    EXPECT(k.body.data && strstr(k.body.data, "method=GET\ntarget=/echo/a%20b?x=1&y=2\n"));
    EXPECT(k.body.data && strstr(k.body.data, host));
    EXPECT(k.body.data && strstr(k.body.data, "h:X-Test=padded\n"));
    EXPECT(k.body.data && strstr(k.body.data, "h:Accept=text/plain\n"));
    EXPECT(call_has_header(&k, "Content-Length: 0") == false);
    call_free(&k);
    client_close(c);
}

static void t_post_buffer(void)
{
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    dapr__http_client_t *c = client_new(&cfg);
    size_t n = 3 * 1024 * 1024 + 17;
    uint8_t *body = malloc(n);
    for (size_t i = 0; i < n; i++)
        body[i] = (uint8_t)(i * 7 + 3);
    call_t k, e;
    call_init(&k);
    call_init(&e);
    /* hop-by-hop headers of the caller never reach the wire */
    dapr__http_hdr_t h[] = {{"Content-Length", "5"}, {"Connection", "close"},
                            {"Transfer-Encoding", "gzip"}, {"Host", "app.example"}};
    EXPECT_EQ(call_start(c, &k, "POST", "/echo", h, 4, DAPR__HTTP_BODY_BUFFER, body, n, 0), 0);
    EXPECT_EQ(call_start(c, &e, "PUT", "/echo", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    call_t *ks[] = {&k, &e};
    EXPECT(run_calls(ks, 2, 10000));
    dapr__buf_cstr(&k.body);
    char want[128];
    snprintf(want, sizeof(want), "body_len=%zu\nfnv=%u\n", n, fnv1a(FNV_INIT, body, n));
    EXPECT(k.body.data && strstr(k.body.data, want));
    EXPECT(k.body.data && strstr(k.body.data, "host=app.example\n"));
    EXPECT(k.body.data && strstr(k.body.data, "n_headers=2\n")); /* Host + Content-Length */
    dapr__buf_cstr(&e.body);
    EXPECT(e.body.data && strstr(e.body.data, "h:Content-Length=0\n"));
    free(body);
    call_free(&k);
    call_free(&e);
    client_close(c);
}

static void t_stream_upload(void)
{
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    dapr__http_client_t *c = client_new(&cfg);
    uint64_t n = 5 * 1024 * 1024 + 3;
    uint32_t want = FNV_INIT;
    for (uint64_t i = 0; i < n; i++) {
        uint8_t b = PATTERN(i);
        want = fnv1a(want, &b, 1);
    }
    for (int chunked = 0; chunked < 2; chunked++) {
        call_t k;
        call_init(&k);
        EXPECT_EQ(call_start_upload(c, &k, "/echo", n, chunked), 0);
        EXPECT(run_until(&k.done, 20000));
        EXPECT_EQ(k.status, 200);
        EXPECT_EQ(k.up_sent, n);
        dapr__buf_cstr(&k.body);
        char line[96];
        snprintf(line, sizeof(line), "body_len=%llu\nfnv=%u\n", (unsigned long long)n, want);
        EXPECT(k.body.data && strstr(k.body.data, line));
        EXPECT(k.body.data && strstr(k.body.data, chunked ? "h:Transfer-Encoding=chunked\n"
                                                          : "h:Content-Length=5242883\n"));
        EXPECT_EQ(k.order_errors, 0);
        call_free(&k);
    }
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.connects, 1); /* a streamed body leaves the connection reusable */
    client_close(c);
}

static void t_keepalive_reuse(void)
{
    srv_reset_counters();
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    dapr__http_client_t *c = client_new(&cfg);
    for (int i = 0; i < 10; i++) {
        call_t k;
        call_init(&k);
        const char *m = i % 3 == 0 ? "GET" : i % 3 == 1 ? "POST" : "HEAD";
        EXPECT_EQ(call_start(c, &k, m, "/echo", NULL, 0, DAPR__HTTP_BODY_BUFFER, "abc", 3, 0), 0);
        EXPECT(run_until(&k.done, 5000));
        EXPECT_EQ(k.status, 200);
        if (!strcmp(m, "HEAD")) {
            EXPECT_EQ(k.body_len, 0);
            EXPECT_EQ(k.content_length, -1);
        }
        call_free(&k);
    }
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(seen_conns(), 1);
    EXPECT_EQ(st.connects, 1);
    EXPECT_EQ(st.reused, 9);
    EXPECT_EQ(st.idle, 1);
    client_close(c);
    /* no_keepalive: a connection per request, server answers Connection: close */
    srv_reset_counters();
    cfg.no_keepalive = true;
    c = client_new(&cfg);
    for (int i = 0; i < 3; i++) {
        call_t k;
        call_init(&k);
        EXPECT_EQ(call_start(c, &k, "GET", "/echo", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
        EXPECT(run_until(&k.done, 5000));
        EXPECT(!k.keep_alive);
        EXPECT(call_has_header(&k, "Connection: close"));
        call_free(&k);
    }
    EXPECT_EQ(seen_conns(), 3);
    client_close(c);
}

static void t_status_no_body(void)
{
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    dapr__http_client_t *c = client_new(&cfg);
    const char *paths[] = {"/status/204", "/status/304", "/status/404", "/status/500"};
    for (int i = 0; i < 4; i++) {
        call_t k;
        call_init(&k);
        EXPECT_EQ(call_start(c, &k, "GET", paths[i], NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
        EXPECT(run_until(&k.done, 5000));
        EXPECT_EQ(k.status, atoi(paths[i] + 8));
        EXPECT_EQ(k.body_len, i < 2 ? 0 : 12);
        EXPECT_EQ(k.n_end, 1);
        call_free(&k);
    }
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.connects, 1);
    client_close(c);
}

static void t_repeated_headers(void)
{
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    dapr__http_client_t *c = client_new(&cfg);
    call_t k;
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "GET", "/headers", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&k.done, 5000));
    dapr__buf_cstr(&k.hdrs);
    const char *h = k.hdrs.data ? k.hdrs.data : "";
    const char *a = strstr(h, "Set-Cookie: a=1\n"), *b = strstr(h, "Set-Cookie: b=2\n");
    const char *x = strstr(h, "X-Multi: one\n"), *y = strstr(h, "x-multi: two\n");
    EXPECT(a && b && x && y && a < x && x < b && b < y); /* order and case kept */
    call_free(&k);
    client_close(c);
}

static void t_pool_max_idle(void)
{
    srv_reset_counters();
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    cfg.max_idle = 2;
    dapr__http_client_t *c = client_new(&cfg);
    for (int round = 0; round < 2; round++) {
        call_t k[5], *ks[5];
        for (int i = 0; i < 5; i++) {
            call_init(&k[i]);
            ks[i] = &k[i];
            EXPECT_EQ(call_start(c, &k[i], "GET", "/slow?ms=100", NULL, 0, DAPR__HTTP_BODY_NONE,
                                 NULL, 0, 0),
                      0);
        }
        EXPECT(run_calls(ks, 5, 5000));
        dapr__http_client_stats_t st;
        dapr__http_client_stats(c, &st);
        EXPECT_EQ(st.idle, 2);
        EXPECT_EQ(st.in_flight, 0);
        for (int i = 0; i < 5; i++)
            call_free(&k[i]);
    }
    run_for(20); /* the closed connections' handles */
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.connects, 8); /* 5, then 2 reused + 3 new */
    EXPECT_EQ(st.reused, 2);
    EXPECT_EQ(st.conns, 2);
    EXPECT_EQ(seen_conns(), 8);
    client_close(c);
}

static void t_max_concurrency(void)
{
    srv_reset_counters();
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    cfg.max_concurrency = 2;
    dapr__http_client_t *c = client_new(&cfg);
    enum { N = 12 };
    call_t k[N], *ks[N];
    char seq[N][8];
    for (int i = 0; i < N; i++) {
        call_init(&k[i]);
        ks[i] = &k[i];
        snprintf(seq[i], sizeof(seq[i]), "%d", i);
        dapr__http_hdr_t h = {"X-Seq", seq[i]};
        EXPECT_EQ(call_start(c, &k[i], "GET", "/slow?ms=30", &h, 1, DAPR__HTTP_BODY_NONE, NULL, 0,
                             0),
                  0);
    }
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.queued, N);
    run_for(10);
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.in_flight, 2);
    EXPECT_EQ(st.queued, N - 2);
    EXPECT(run_calls(ks, N, 10000));
    for (int i = 0; i < N; i++) {
        EXPECT_EQ(k[i].status, 200);
        call_free(&k[i]);
    }
    EXPECT_EQ(srv_max_inflight, 2);
    EXPECT_EQ(n_seq_log, N);
    for (int i = 0; i < n_seq_log; i++)
        EXPECT_EQ(seq_log[i], i); /* FIFO */
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.connects, 2);
    client_close(c);
}

static void t_idle_timeout(void)
{
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    cfg.idle_timeout_ms = 100;
    dapr__http_client_t *c = client_new(&cfg);
    call_t k;
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "GET", "/echo", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&k.done, 5000));
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.idle, 1);
    run_for(250);
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.idle, 0);
    EXPECT_EQ(st.conns, 0);
    call_free(&k);
    client_close(c);
}

/* The server's own idle timeout closes a pooled connection: the pool
 * notices the EOF at once and the next request connects afresh. */
static void t_server_closes_idle(void)
{
    dapr__http_server_t *s2;
    dapr__http_server_config_t sc = {.loop = loop, .on_request = on_request, .idle_timeout_ms = 50};
    EXPECT_EQ(dapr__http_server_create(&s2, &sc), 0);
    int port = 0;
    EXPECT_EQ(dapr__http_server_listen(s2, "127.0.0.1", 0, &port), 0);
    dapr__http_client_config_t cfg = cfg_for(port);
    dapr__http_client_t *c = client_new(&cfg);
    for (int i = 0; i < 2; i++) {
        call_t k;
        call_init(&k);
        EXPECT_EQ(call_start(c, &k, "GET", "/echo", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
        EXPECT(run_until(&k.done, 5000));
        EXPECT_EQ(k.status, 200);
        call_free(&k);
        run_for(200);
        dapr__http_client_stats_t st;
        dapr__http_client_stats(c, &st);
        EXPECT_EQ(st.idle, 0);
    }
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.connects, 2);
    EXPECT_EQ(st.retries, 0);
    client_close(c);
    bool done = false;
    dapr__http_server_shutdown(s2, on_srv_done, &done);
    EXPECT(run_until(&done, 5000));
    dapr__http_server_free(s2);
}

static void t_pause_resume(void)
{
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    dapr__http_client_t *c = client_new(&cfg);
    call_t k;
    call_init(&k);
    k.big = true;
    k.pause_every = 256 * 1024;
    k.next_pause = k.pause_every;
    size_t n = 6 * 1024 * 1024;
    char target[64];
    snprintf(target, sizeof(target), "/big?n=%zu", n);
    EXPECT_EQ(call_start(c, &k, "GET", target, NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&k.done, 20000));
    EXPECT_EQ(k.status, 200);
    EXPECT_EQ(k.body_len, n);
    EXPECT_EQ(k.bad_at, 0);
    EXPECT(k.n_pauses >= 20);
    EXPECT_EQ(k.order_errors, 0); /* no on_body while paused */
    call_free(&k);
    /* paused right in on_response of a HEAD: the end still comes on resume */
    call_init(&k);
    k.pause_every = 1;
    EXPECT_EQ(call_start(c, &k, "GET", "/big?n=1", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&k.done, 5000));
    EXPECT_EQ(k.body_len, 1);
    call_free(&k);
    client_close(c);
}

static void t_cancel(void)
{
    n_hung = 0;
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    cfg.max_concurrency = 1;
    dapr__http_client_t *c = client_new(&cfg);
    call_t a, b, d;
    call_init(&a);
    call_init(&b);
    call_init(&d);
    EXPECT_EQ(call_start(c, &a, "GET", "/hang", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT_EQ(call_start(c, &b, "GET", "/echo", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    run_for(50);
    EXPECT_EQ(n_hung, 1);
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.queued, 1);
    EXPECT_EQ(st.conns, 1);
    /* a queued request */
    dapr__http_creq_cancel(b.r);
    EXPECT(b.done);
    EXPECT_EQ(b.err, DAPR_ECANCELED);
    EXPECT_EQ(b.n_response, 0);
    /* one in flight: its connection closes */
    dapr__http_creq_cancel(a.r);
    EXPECT(a.done);
    EXPECT_EQ(a.err, DAPR_ECANCELED);
    run_for(20);
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.conns, 0);
    EXPECT_EQ(st.in_flight, 0);
    /* the slot is free again */
    EXPECT_EQ(call_start(c, &d, "GET", "/echo", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&d.done, 5000));
    EXPECT_EQ(d.status, 200);
    hang_release();
    call_free(&a);
    call_free(&b);
    call_free(&d);
    /* cancel from inside on_body */
    call_init(&a);
    a.big = true;
    a.cancel_in_body = true;
    EXPECT_EQ(call_start(c, &a, "GET", "/big?n=3000000", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0,
                         0),
              0);
    EXPECT(run_until(&a.done, 5000));
    EXPECT_EQ(a.err, DAPR_ECANCELED);
    EXPECT_EQ(a.n_body, 1);
    EXPECT_EQ(a.order_errors, 0);
    call_free(&a);
    client_close(c);
}

static void t_cancel_all_and_close(void)
{
    n_hung = 0;
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    cfg.max_concurrency = 2;
    dapr__http_client_t *c = client_new(&cfg);
    call_t k[4], *ks[4];
    for (int i = 0; i < 4; i++) {
        call_init(&k[i]);
        ks[i] = &k[i];
        EXPECT_EQ(call_start(c, &k[i], "GET", "/hang", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0),
                  0);
    }
    run_for(50);
    dapr__http_client_cancel_all(c);
    for (int i = 0; i < 4; i++) {
        EXPECT(k[i].done);
        EXPECT_EQ(k[i].err, DAPR_ECANCELED);
        call_free(&k[i]);
    }
    hang_release();
    /* graceful close: in-flight and queued requests still finish */
    for (int i = 0; i < 4; i++) {
        call_init(&k[i]);
        EXPECT_EQ(call_start(c, &k[i], "GET", "/slow?ms=30", NULL, 0, DAPR__HTTP_BODY_NONE, NULL,
                             0, 0),
                  0);
    }
    bool closed = false;
    dapr__http_client_close(c, on_srv_done, &closed);
    call_t late;
    call_init(&late);
    EXPECT_EQ(call_start(c, &late, "GET", "/echo", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0),
              DAPR_ECLOSED);
    EXPECT(run_calls(ks, 4, 5000));
    for (int i = 0; i < 4; i++) {
        EXPECT_EQ(k[i].status, 200);
        call_free(&k[i]);
    }
    EXPECT(run_until(&closed, 5000)); /* done once the last connection closed */
}

static void t_header_timeout(void)
{
    n_hung = 0;
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    cfg.header_timeout_ms = 150;
    dapr__http_client_t *c = client_new(&cfg);
    call_t k;
    call_init(&k);
    uint64_t t0 = now_ms();
    EXPECT_EQ(call_start(c, &k, "GET", "/hang", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&k.done, 5000));
    uint64_t dt = now_ms() - t0;
    EXPECT_EQ(k.err, DAPR_ETIMEDOUT);
    EXPECT(strstr(k.errmsg, "no response head"));
    EXPECT(dt >= 140 && dt < 1000);
    /* a response within the limit is fine; the timer is not left running */
    call_free(&k);
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "GET", "/slow?ms=50", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0),
              0);
    EXPECT(run_until(&k.done, 5000));
    EXPECT_EQ(k.status, 200);
    run_for(250);
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.idle, 1);
    call_free(&k);
    hang_release();
    client_close(c);
}

static void t_early_response(void)
{
    /* 20 MB announced to a server with a 16 MiB limit: it answers 413 at
     * once and closes; the caller gets the response, not a write error */
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    dapr__http_client_t *c = client_new(&cfg);
    call_t k;
    call_init(&k);
    EXPECT_EQ(call_start_upload(c, &k, "/echo", 20 * 1024 * 1024, false), 0);
    EXPECT(run_until(&k.done, 10000));
    EXPECT_EQ(k.status, 413);
    EXPECT_EQ(k.n_end, 1);
    EXPECT(k.up_sent < 20 * 1024 * 1024);
    call_free(&k);
    run_for(20);
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.idle, 0); /* not reusable: the request was never complete */
    client_close(c);
}

static void t_stream_errors(void)
{
    dapr__http_client_config_t cfg = cfg_for(srv_port);
    dapr__http_client_t *c = client_new(&cfg);
    call_t k;
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "POST", "/echo", NULL, 0, DAPR__HTTP_BODY_STREAM, NULL, 0, 10), 0);
    EXPECT_EQ(dapr__http_creq_write(k.r, "12345", 5), 0);
    EXPECT_EQ(dapr__http_creq_write(k.r, "1234567", 7), DAPR_EINVAL); /* over the length */
    EXPECT_EQ(dapr__http_creq_end(k.r), 0);                           /* short */
    EXPECT_EQ(dapr__http_creq_end(k.r), DAPR_ESTATE);
    EXPECT_EQ(dapr__http_creq_write(k.r, "1", 1), DAPR_ESTATE);
    EXPECT(run_until(&k.done, 5000));
    EXPECT_EQ(k.err, DAPR_EINVAL);
    call_free(&k);
    /* the same once connected */
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "PUT", "/echo", NULL, 0, DAPR__HTTP_BODY_STREAM, NULL, 0, 10), 0);
    EXPECT_EQ(dapr__http_creq_write(k.r, "12345", 5), 0);
    run_for(30);
    EXPECT_EQ(dapr__http_creq_end(k.r), 0);
    EXPECT(run_until(&k.done, 5000));
    EXPECT_EQ(k.err, DAPR_EINVAL);
    call_free(&k);
    /* writes to a buffer-body request */
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "POST", "/echo", NULL, 0, DAPR__HTTP_BODY_BUFFER, "x", 1, 0), 0);
    EXPECT_EQ(dapr__http_creq_write(k.r, "1", 1), DAPR_ESTATE);
    EXPECT_EQ(dapr__http_creq_end(k.r), DAPR_ESTATE);
    EXPECT(run_until(&k.done, 5000));
    EXPECT_EQ(k.status, 200);
    call_free(&k);
    /* empty chunked body */
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "POST", "/echo", NULL, 0, DAPR__HTTP_BODY_STREAM, NULL, 0, -1), 0);
    EXPECT_EQ(dapr__http_creq_end(k.r), 0);
    EXPECT(run_until(&k.done, 5000));
    dapr__buf_cstr(&k.body);
    EXPECT(k.body.data && strstr(k.body.data, "body_len=0\n"));
    call_free(&k);
    client_close(c);
}

static void t_invalid_args(void)
{
    dapr__http_client_t *c = NULL;
    dapr__http_client_config_t cfg = {.loop = loop, .host = "127.0.0.1", .port = 0};
    EXPECT_EQ(dapr__http_client_create(&c, &cfg), DAPR_EINVAL);
    cfg.port = 80;
    cfg.host = "bad host";
    EXPECT_EQ(dapr__http_client_create(&c, &cfg), DAPR_EINVAL);
    cfg.host = "h/x";
    EXPECT_EQ(dapr__http_client_create(&c, &cfg), DAPR_EINVAL);
    cfg.host = "127.0.0.1";
    dapr__tls_client_config_t bad_tls = {.ca_pem = "not a certificate"};
    cfg.tls = &bad_tls;
    EXPECT_EQ(dapr__http_client_create(&c, &cfg), DAPR_EINVAL);
    cfg.tls = NULL;
    EXPECT_EQ(dapr__http_client_create(&c, &cfg), 0);
    call_t k;
    call_init(&k);
    dapr__http_hdr_t crlf = {"X-A", "v\r\nInjected: 1"}, badname = {"X A", "v"};
    EXPECT_EQ(call_start(c, &k, "GET", "/x", &crlf, 1, DAPR__HTTP_BODY_NONE, NULL, 0, 0),
              DAPR_EINVAL);
    EXPECT_EQ(call_start(c, &k, "GET", "/x", &badname, 1, DAPR__HTTP_BODY_NONE, NULL, 0, 0),
              DAPR_EINVAL);
    EXPECT_EQ(call_start(c, &k, "G T", "/x", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0),
              DAPR_EINVAL);
    EXPECT_EQ(call_start(c, &k, "CONNECT", "/x", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0),
              DAPR_EINVAL);
    EXPECT_EQ(call_start(c, &k, "GET", "x", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0),
              DAPR_EINVAL);
    EXPECT_EQ(call_start(c, &k, "GET", "/a b", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0),
              DAPR_EINVAL);
    EXPECT_EQ(call_start(c, &k, "GET", "/x\r\n", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0),
              DAPR_EINVAL);
    EXPECT_EQ(call_start(c, &k, "POST", "/x", NULL, 0, DAPR__HTTP_BODY_BUFFER, NULL, 5, 0),
              DAPR_EINVAL);
    EXPECT_EQ(call_start(c, &k, "POST", "/x", NULL, 0, DAPR__HTTP_BODY_STREAM, NULL, 0, -2),
              DAPR_EINVAL);
    EXPECT(!k.done);
    run_for(10);
    EXPECT(!k.done); /* a refused call never calls back */
    client_close(c);
}

static void t_refused(void)
{
    /* a port that was free a moment ago */
    uv_tcp_t t;
    uv_tcp_init(loop, &t);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&t, (const struct sockaddr *)&a, 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
    int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_close((uv_handle_t *)&t, NULL);
    run_for(1);
    dapr__http_client_config_t cfg = cfg_for(port);
    dapr__http_client_t *c = client_new(&cfg);
    call_t k;
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "GET", "/", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&k.done, 5000));
    EXPECT_EQ(k.err, DAPR_EUNAVAIL);
    EXPECT(strstr(k.errmsg, "connection refused"));
    EXPECT(strstr(k.errmsg, "127.0.0.1"));
    call_free(&k);
    client_close(c);
}

static void t_ipv6_localhost(void)
{
    /* "localhost" means 127.0.0.1 first */
    dapr__http_client_config_t cfg = {.host = "localhost", .port = srv_port};
    dapr__http_client_t *c = client_new(&cfg);
    call_t k;
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "GET", "/echo", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&k.done, 5000));
    EXPECT_EQ(k.status, 200);
    dapr__buf_cstr(&k.body);
    char host[64];
    snprintf(host, sizeof(host), "host=localhost:%d\n", srv_port);
    EXPECT(k.body.data && strstr(k.body.data, host));
    call_free(&k);
    client_close(c);
    if (!srv6_port) {
        printf("    (no IPv6 loopback: IPv6 part skipped)\n");
        return;
    }
    const char *hosts[] = {"::1", "[::1]", "localhost"};
    for (int i = 0; i < 3; i++) {
        /* the IPv6-only server: "localhost" gets there after 127.0.0.1 refuses */
        cfg.host = hosts[i];
        cfg.port = srv6_port;
        c = client_new(&cfg);
        call_init(&k);
        EXPECT_EQ(call_start(c, &k, "GET", "/echo", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
        EXPECT(run_until(&k.done, 5000));
        EXPECT_EQ(k.status, 200);
        dapr__buf_cstr(&k.body);
        snprintf(host, sizeof(host), i == 2 ? "host=localhost:%d\n" : "host=[::1]:%d\n",
                 srv6_port);
        EXPECT(k.body.data && strstr(k.body.data, host));
        call_free(&k);
        client_close(c);
    }
}

/* Names go through uv_getaddrinfo: one that cannot resolve fails cleanly;
 * this machine's host name, if it resolves to 127.0.0.1, connects. */
static void t_resolve(void)
{
    dapr__http_client_config_t cfg = {.host = "nonexistent.invalid", .port = srv_port,
                                      .connect_timeout_ms = 3000};
    dapr__http_client_t *c = client_new(&cfg);
    call_t k;
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "GET", "/echo", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&k.done, 5000));
    EXPECT(k.err == DAPR_EUNAVAIL || k.err == DAPR_ETIMEDOUT);
    EXPECT(strstr(k.errmsg, "resolving nonexistent.invalid"));
    call_free(&k);
    client_close(c);

    char name[256];
    size_t len = sizeof(name);
    struct addrinfo *res = NULL, hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    bool loopback = false;
    if (!uv_os_gethostname(name, &len) && !getaddrinfo(name, NULL, &hints, &res) && res)
        loopback = ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr == htonl(0x7f000001);
    if (res)
        freeaddrinfo(res);
    if (!loopback) {
        printf("    (host name does not resolve to 127.0.0.1: positive lookup skipped)\n");
        return;
    }
    cfg.host = name;
    c = client_new(&cfg);
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "GET", "/echo", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&k.done, 5000));
    EXPECT_EQ(k.status, 200);
    call_free(&k);
    client_close(c);
}

/* ---- wait_port ---- */

typedef struct waitres {
    int status;
    bool done;
    uint64_t at;
} waitres_t;

static void on_wait(int status, void *ud)
{
    waitres_t *w = ud;
    w->status = status;
    w->done = true;
    w->at = now_ms();
}

static dapr__http_server_t *late_srv;
static int late_port;

static void start_late(uv_timer_t *t)
{
    dapr__http_server_config_t sc = {.loop = loop, .on_request = on_request};
    dapr__http_server_create(&late_srv, &sc);
    int p = 0;
    if (dapr__http_server_listen(late_srv, "127.0.0.1", late_port, &p))
        fprintf(stderr, "    late listen failed\n");
    uv_close((uv_handle_t *)t, NULL);
}

static int free_port(void)
{
    uv_tcp_t t;
    uv_tcp_init(loop, &t);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&t, (const struct sockaddr *)&a, 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
    uv_close((uv_handle_t *)&t, NULL);
    run_for(1);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void t_wait_port(void)
{
    waitres_t w = {0};
    /* already listening */
    EXPECT_EQ(dapr__http_wait_port(loop, "127.0.0.1", srv_port, 20, 2000, on_wait, &w, NULL), 0);
    EXPECT(!w.done);
    EXPECT(run_until(&w.done, 3000));
    EXPECT_EQ(w.status, 0);
    /* nothing there: times out */
    int port = free_port();
    memset(&w, 0, sizeof(w));
    uint64_t t0 = now_ms();
    EXPECT_EQ(dapr__http_wait_port(loop, "localhost", port, 20, 200, on_wait, &w, NULL), 0);
    EXPECT(run_until(&w.done, 3000));
    EXPECT_EQ(w.status, DAPR_ETIMEDOUT);
    EXPECT(w.at - t0 >= 190 && w.at - t0 < 1000);
    /* comes up after 150 ms */
    late_port = free_port();
    uv_timer_t *lt = malloc(sizeof(*lt));
    uv_timer_init(loop, lt);
    uv_timer_start(lt, start_late, 150, 0);
    memset(&w, 0, sizeof(w));
    t0 = now_ms();
    EXPECT_EQ(dapr__http_wait_port(loop, "127.0.0.1", late_port, 20, 5000, on_wait, &w, NULL), 0);
    EXPECT(run_until(&w.done, 6000));
    EXPECT_EQ(w.status, 0);
    EXPECT(w.at - t0 >= 140);
    run_for(5);
    free(lt);
    bool done = false;
    dapr__http_server_shutdown(late_srv, on_srv_done, &done);
    EXPECT(run_until(&done, 5000));
    dapr__http_server_free(late_srv);
    /* cancel */
    memset(&w, 0, sizeof(w));
    dapr__http_port_wait_t *h = NULL;
    EXPECT_EQ(dapr__http_wait_port(loop, "127.0.0.1", free_port(), 20, 0, on_wait, &w, &h), 0);
    run_for(60);
    EXPECT(!w.done);
    dapr__http_wait_port_cancel(h);
    EXPECT(w.done);
    EXPECT_EQ(w.status, DAPR_ECANCELED);
    run_for(5);
    EXPECT_EQ(dapr__http_wait_port(loop, "127.0.0.1", 0, 20, 0, on_wait, &w, NULL), DAPR_EINVAL);
}

static const test_case_t tests[] = {
    {"basic_get", t_basic_get},
    {"post_buffer_and_hop_by_hop", t_post_buffer},
    {"stream_upload", t_stream_upload},
    {"keepalive_reuse", t_keepalive_reuse},
    {"status_no_body", t_status_no_body},
    {"repeated_headers", t_repeated_headers},
    {"pool_max_idle", t_pool_max_idle},
    {"max_concurrency_fifo", t_max_concurrency},
    {"idle_timeout", t_idle_timeout},
    {"server_closes_idle", t_server_closes_idle},
    {"pause_resume", t_pause_resume},
    {"cancel", t_cancel},
    {"cancel_all_and_graceful_close", t_cancel_all_and_close},
    {"header_timeout", t_header_timeout},
    {"early_response", t_early_response},
    {"stream_errors", t_stream_errors},
    {"invalid_args", t_invalid_args},
    {"refused", t_refused},
    {"ipv6_and_localhost", t_ipv6_localhost},
    {"resolve_names", t_resolve},
    {"wait_port", t_wait_port},
};

int self_tests(const char *only)
{
    dapr__http_server_config_t sc = {
        .loop = loop, .on_request = on_request, .max_body_bytes = 16 * 1024 * 1024};
    if (dapr__http_server_create(&srv, &sc) ||
        dapr__http_server_listen(srv, "127.0.0.1", 0, &srv_port)) {
        fprintf(stderr, "server start failed\n");
        return 1;
    }
    if (dapr__http_server_listen(srv, "::1", 0, &srv6_port))
        srv6_port = 0;
    int failed = run_tests(tests, sizeof(tests) / sizeof(tests[0]), only);
    hang_release();
    bool done = false;
    dapr__http_server_shutdown(srv, on_srv_done, &done);
    if (!run_until(&done, 5000)) {
        fprintf(stderr, "server shutdown did not finish\n");
        failed++;
    }
    dapr__http_server_free(srv);
    return failed;
}
