/* The C client (dapr__grpc_channel_* / dapr__grpc_call_start) against the
 * echo service, on the same loop as the server: unary, concurrency, all
 * streaming kinds, errors with details, the fallback, size limits,
 * deadlines, cancellation, connection refused, name resolution and
 * reconnecting after the server went away and came back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "dapr/common.h"
#include "echo_service.h"
#include "grpc/grpc.h"

#define FAIL(...)                                                                         \
    do {                                                                                  \
        fprintf(stderr, "self-test FAIL: " __VA_ARGS__);                                  \
        fputc('\n', stderr);                                                              \
        failures++;                                                                       \
    } while (0)

typedef struct cctx {
    char name[48];
    int want_status;
    const char *want_msg;   /* substring of the status message */
    const char *want_body;  /* first message, exactly */
    long want_msgs;         /* -1: any */
    size_t want_bytes;      /* SIZE_MAX: any */
    bool want_headers, want_details;
    int pingpong;
    long got_msgs;
    size_t got_bytes;
    bool got_headers, echo_header;
    char first[256];
    size_t first_len;
    long stat_cancels;
} cctx_t;

static uv_loop_t *loop;
static const dapr__logger_t *logp;
static int port, port2, refused_port;
static size_t max_msg;
static int failures, pending, step;
static void (*finished)(int);
static dapr__grpc_channel_t *ch, *ch_refused, *ch_local, *ch_re, *ch_adopt, *ch_early;
static dapr__grpc_server_t *srv1, *srv2;
static uv_tcp_t adopt_listener;
static uv_timer_t timer;
static dapr__grpc_ccall_t *to_cancel;
static long cancels_before;

static void next_step(void);

/* --- call plumbing ----------------------------------------------------------- */

static void cb_headers(dapr__grpc_ccall_t *cc, const dapr__grpc_md_t *md, size_t n, void *ud)
{
    cctx_t *c = ud;
    c->got_headers = true;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(md[i].key, "x-echo"))
            c->echo_header = true;
}

static void cb_message(dapr__grpc_ccall_t *cc, const uint8_t *msg, size_t len, void *ud)
{
    cctx_t *c = ud;
    if (c->got_msgs++ == 0) {
        c->first_len = len < sizeof(c->first) - 1 ? len : sizeof(c->first) - 1;
        memcpy(c->first, msg, c->first_len);
        c->first[c->first_len] = '\0';
        const char *p = strstr(c->first, "\"cancels\":");
        if (p)
            c->stat_cancels = atol(p + 10);
    }
    c->got_bytes += len;
    if (c->pingpong > 0) {
        if (--c->pingpong > 0)
            dapr__grpc_ccall_send(cc, "ping", 4);
        else
            dapr__grpc_ccall_half_close(cc);
    }
}

static bool has_details(const dapr__grpc_md_t *tr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(tr[i].key, "grpc-status-details-bin"))
            return tr[i].len == echo_error_details_len &&
                   !memcmp(tr[i].value, echo_error_details, tr[i].len);
    return false;
}

static void check(cctx_t *c, int status, const char *message, const dapr__grpc_md_t *tr,
                  size_t n)
{
    if (status != c->want_status)
        FAIL("%s: status %d (%s), want %d", c->name, status, message, c->want_status);
    if (c->want_msg && !strstr(message, c->want_msg))
        FAIL("%s: message \"%s\", want \"%s\"", c->name, message, c->want_msg);
    if (c->want_body && strcmp(c->first, c->want_body))
        FAIL("%s: body \"%s\", want \"%s\"", c->name, c->first, c->want_body);
    if (c->want_msgs >= 0 && c->got_msgs != c->want_msgs)
        FAIL("%s: %ld messages, want %ld", c->name, c->got_msgs, c->want_msgs);
    if (c->want_bytes != SIZE_MAX && c->got_bytes != c->want_bytes)
        FAIL("%s: %zu bytes, want %zu", c->name, c->got_bytes, c->want_bytes);
    if (c->want_headers && (!c->got_headers || !c->echo_header))
        FAIL("%s: response headers (x-echo) missing", c->name);
    if (c->want_details && !has_details(tr, n))
        FAIL("%s: grpc-status-details-bin missing or wrong", c->name);
}

static void cb_close(dapr__grpc_ccall_t *cc, int status, const char *message,
                     const dapr__grpc_md_t *tr, size_t n, void *ud)
{
    cctx_t *c = ud;
    check(c, status, message, tr, n);
    if (c->stat_cancels && c->stat_cancels < cancels_before + 2)
        FAIL("stats: server saw %ld cancels, want >= %ld", c->stat_cancels, cancels_before + 2);
    if (cc == to_cancel)
        to_cancel = NULL;
    dapr__free(c);
    if (--pending == 0)
        next_step();
}

static const dapr__grpc_ccall_cbs_t cbs = {cb_headers, cb_message, cb_close, NULL};

static cctx_t *start_md(dapr__grpc_channel_t *chan, const char *name, const char *path,
                        const dapr__grpc_md_t *md, size_t n_md, const void *body, size_t len,
                        uint64_t timeout_ms, int want_status, dapr__grpc_ccall_t **out)
{
    cctx_t *c = dapr__calloc(1, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->want_status = want_status;
    c->want_msgs = -1;
    c->want_bytes = SIZE_MAX;
    dapr__grpc_ccall_t *cc;
    int rv = dapr__grpc_call_start(chan, path, md, n_md, timeout_ms, &cbs, c, &cc);
    if (rv != 0) {
        FAIL("%s: call_start: %s", name, dapr_strerror(rv));
        dapr__free(c);
        return NULL;
    }
    pending++;
    if (body && dapr__grpc_ccall_send(cc, body, len) != 0)
        FAIL("%s: send failed", name);
    if (out)
        *out = cc;
    else
        dapr__grpc_ccall_half_close(cc);
    return c;
}

static cctx_t *start(dapr__grpc_channel_t *chan, const char *name, const char *path,
                     const char *body, int want_status)
{
    return start_md(chan, name, path, NULL, 0, body, body ? strlen(body) : 0, 0, want_status,
                    NULL);
}

/* --- steps ------------------------------------------------------------------ */

static void s_unary(void)
{
    static const uint8_t bin[] = {0, 1, 2, 0xff};
    dapr__grpc_md_t md[] = {{"x-test", (const uint8_t *)"abc", 3}, {"trace-bin", bin, 4}};
    cctx_t *c = start_md(ch, "unary", "/test.Echo/Unary", md, 2, "hello", 5, 0, DAPR_GRPC_OK,
                         NULL);
    if (c) {
        c->want_body = "hello";
        c->want_msgs = 1;
        c->want_headers = true;
    }
}

static void s_concurrent(void)
{
    static char bodies[200][16];
    for (int i = 0; i < 200; i++) {
        snprintf(bodies[i], sizeof(bodies[i]), "n%d", i);
        cctx_t *c = start(ch, "concurrent", "/test.Echo/Unary", bodies[i], DAPR_GRPC_OK);
        if (c)
            c->want_body = bodies[i];
    }
}

static void s_streams(void)
{
    cctx_t *c = start(ch, "server-stream", "/test.Echo/ServerStream", "100 1000", DAPR_GRPC_OK);
    if (c) {
        c->want_msgs = 100;
        c->want_bytes = 100000;
    }
    dapr__grpc_ccall_t *cc;
    c = start_md(ch, "client-stream", "/test.Echo/ClientStream", NULL, 0, NULL, 0, 0,
                 DAPR_GRPC_OK, &cc);
    if (c) {
        static const char ten[] = "0123456789";
        for (size_t i = 1; i <= 10; i++)
            dapr__grpc_ccall_send(cc, ten, i);
        dapr__grpc_ccall_half_close(cc);
        c->want_body = "10 55";
    }
    c = start_md(ch, "bidi", "/test.Echo/Bidi", NULL, 0, "ping", 4, 0, DAPR_GRPC_OK, &cc);
    if (c) {
        c->pingpong = 5;
        c->want_msgs = 5;
    }
}

static void s_errors(void)
{
    cctx_t *c = start(ch, "error", "/test.Echo/Error", "x", DAPR_GRPC_NOT_FOUND);
    if (c) {
        c->want_msg = echo_error_message;
        c->want_details = true;
    }
    c = start(ch, "fallback", "/nope.Svc/Method", "x", DAPR_GRPC_UNKNOWN);
    if (c)
        c->want_msg = "failed to proxy request: required metadata dapr-app-id";
    dapr__grpc_md_t md[] = {{"dapr-app-id", (const uint8_t *)"other", 5}};
    c = start_md(ch, "fallback-appid", "/nope.Svc/Method", md, 1, "x", 1, 0,
                 DAPR_GRPC_UNAVAILABLE, NULL);
    if (c)
        c->want_msg = "no app other here";
}

static void s_limits(void)
{
    uint8_t *big = dapr__malloc(max_msg + 1);
    memset(big, 'b', max_msg + 1);
    cctx_t *c = start_md(ch, "at-limit", "/test.Echo/Unary", NULL, 0, big, max_msg, 0,
                         DAPR_GRPC_OK, NULL);
    if (c)
        c->want_bytes = max_msg;
    c = start_md(ch, "over-limit", "/test.Echo/Unary", NULL, 0, big, max_msg + 1, 0,
                 DAPR_GRPC_RESOURCE_EXHAUSTED, NULL);
    if (c)
        c->want_msg = "grpc: received message larger than max";
    dapr__free(big);
}

static void on_cancel_timer(uv_timer_t *t)
{
    if (!to_cancel) {
        FAIL("cancel: the call ended before it was cancelled");
        return;
    }
    dapr__grpc_ccall_cancel(to_cancel); /* on_close runs inside */
}

static void s_deadline_cancel(void)
{
    cancels_before = (long)echo_stats.cancels;
    cctx_t *c = start_md(ch, "deadline", "/test.Echo/Slow", NULL, 0, "never", 5, 200,
                         DAPR_GRPC_DEADLINE_EXCEEDED, NULL);
    c = start_md(ch, "slow-ok", "/test.Echo/Slow", NULL, 0, "50", 2, 5000, DAPR_GRPC_OK, NULL);
    if (c)
        c->want_body = "slept 50";
    c = start_md(ch, "cancel", "/test.Echo/Slow", NULL, 0, "never", 5, 0, DAPR_GRPC_CANCELLED,
                 &to_cancel);
    if (c)
        dapr__grpc_ccall_half_close(to_cancel);
    uv_timer_start(&timer, on_cancel_timer, 100, 0);
}

static void on_stats_timer(uv_timer_t *t)
{
    cctx_t *c = start(ch, "stats", "/test.Echo/Stats", "", DAPR_GRPC_OK);
    if (c)
        c->stat_cancels = -1000; /* set from the reply */
    if (--pending == 0) /* the timer's token */
        next_step();
}

static void s_stats(void)
{
    pending++; /* held by the timer until its call is started */
    uv_timer_start(&timer, on_stats_timer, 100, 0);
}

static void s_channels(void)
{
    dapr__grpc_channel_create(&ch_refused, loop, "127.0.0.1", refused_port, logp);
    cctx_t *c = start(ch_refused, "refused", "/test.Echo/Unary", "x", DAPR_GRPC_UNAVAILABLE);
    if (c)
        c->want_msg = "failed to connect";
    dapr__grpc_channel_create(&ch_local, loop, "localhost", port, logp);
    c = start(ch_local, "localhost", "/test.Echo/Unary", "by name", DAPR_GRPC_OK);
    if (c)
        c->want_body = "by name";
}

static const dapr__grpc_server_config_t *srv_cfg(void)
{
    static dapr__grpc_server_config_t cfg;
    static dapr__logger_t quiet;
    quiet = *logp;
    cfg = (dapr__grpc_server_config_t){.loop = loop, .log = &quiet, .methods = echo_methods,
                                       .n_methods = echo_n_methods, .fallback = &echo_fallback};
    return &cfg;
}

static void s_reconnect_up(void)
{
    if (dapr__grpc_server_create(&srv2, srv_cfg()) != 0 ||
        dapr__grpc_server_listen(srv2, "127.0.0.1", port2, &port2) != 0) {
        FAIL("reconnect: second server on port %d", port2);
        return;
    }
    if (!ch_re)
        dapr__grpc_channel_create(&ch_re, loop, "127.0.0.1", port2, logp);
    start(ch_re, "reconnect", "/test.Echo/Unary", "again", DAPR_GRPC_OK);
}

static void srv2_down(void *ud)
{
    dapr__grpc_server_free(srv2);
    srv2 = NULL;
    if (--pending == 0)
        next_step();
}

static void s_reconnect_down(void)
{
    if (!srv2)
        return;
    pending++; /* until the server is down */
    dapr__grpc_server_shutdown(srv2, srv2_down, NULL);
}

static void s_reconnect_gone(void)
{
    cctx_t *c = start(ch_re, "server-gone", "/test.Echo/Unary", "x", DAPR_GRPC_UNAVAILABLE);
    if (c)
        c->want_msg = "failed to connect";
}

/* An HTTP/1-server-like front: accept, read the first bytes, hand the
 * socket to the gRPC server with dapr__grpc_server_adopt. */
static void adopt_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    b->base = dapr__malloc(10); /* part of the preface only: the rest is read later */
    b->len = 10;
}

static void free_handle(uv_handle_t *h) { dapr__free(h); }

static void adopt_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    if (n == 0) {
        dapr__free(b->base);
        return;
    }
    uv_read_stop(st);
    if (n < 0) {
        FAIL("adopt: read %s", uv_strerror((int)n));
        uv_close((uv_handle_t *)st, free_handle);
    } else if (dapr__grpc_server_adopt(srv1, (uv_tcp_t *)st, b->base, (size_t)n) != 0) {
        FAIL("adopt failed");
    }
    dapr__free(b->base);
}

static void adopt_accept(uv_stream_t *l, int status)
{
    uv_tcp_t *t = dapr__malloc(sizeof(*t));
    uv_tcp_init(loop, t);
    if (status < 0 || uv_accept(l, (uv_stream_t *)t) != 0) {
        uv_close((uv_handle_t *)t, free_handle);
        return;
    }
    uv_read_start((uv_stream_t *)t, adopt_alloc, adopt_read);
}

static void s_adopt(void)
{
    struct sockaddr_in sa;
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(loop, &adopt_listener);
    if (uv_tcp_bind(&adopt_listener, (const struct sockaddr *)&sa, 0) ||
        uv_listen((uv_stream_t *)&adopt_listener, 16, adopt_accept) ||
        uv_tcp_getsockname(&adopt_listener, (struct sockaddr *)&bound, &len)) {
        FAIL("adopt: listener");
        return;
    }
    int p = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    dapr__grpc_channel_create(&ch_adopt, loop, "127.0.0.1", p, logp);
    cctx_t *c = start(ch_adopt, "adopted", "/test.Echo/Unary", "handed over", DAPR_GRPC_OK);
    if (c)
        c->want_body = "handed over";
    for (int i = 0; i < 20; i++)
        start(ch_adopt, "adopted-many", "/test.Echo/Unary", "x", DAPR_GRPC_OK);
}

/* Calls cancelled or timed out while their HEADERS still wait in nghttp2's
 * queue (the connection is not up yet): nothing may touch them later. */
static void s_early(void)
{
    pending++; /* the cancel's on_close runs inline: keep this step open */
    dapr__grpc_channel_create(&ch_early, loop, "127.0.0.1", port, logp);
    dapr__grpc_ccall_t *cc;
    cctx_t *c = start_md(ch_early, "cancel-before-connect", "/test.Echo/Slow", NULL, 0, "never",
                         5, 0, DAPR_GRPC_CANCELLED, &cc);
    if (c)
        dapr__grpc_ccall_cancel(cc);
    start_md(ch_early, "deadline-before-connect", "/test.Echo/Slow", NULL, 0, "never", 5, 1,
             DAPR_GRPC_DEADLINE_EXCEEDED, NULL);
    c = start(ch_early, "after-early", "/test.Echo/Unary", "fine", DAPR_GRPC_OK);
    if (c)
        c->want_body = "fine";
    if (--pending == 0)
        next_step();
}

static void channel_closed(void *ud)
{
    if (--pending == 0)
        next_step();
}

static void s_close_channels(void)
{
    dapr__grpc_channel_t *all[] = {ch, ch_refused, ch_local, ch_re, ch_adopt, ch_early};
    for (size_t i = 0; i < 6; i++) {
        if (!all[i])
            continue;
        pending++;
        dapr__grpc_channel_close(all[i], channel_closed, NULL);
    }
}

static void s_end(void)
{
    uv_close((uv_handle_t *)&timer, NULL);
    if (uv_is_active((uv_handle_t *)&adopt_listener))
        uv_close((uv_handle_t *)&adopt_listener, NULL);
    finished(failures);
}

static void (*const steps[])(void) = {
    s_unary,         s_concurrent,   s_streams,        s_errors,         s_limits,
    s_deadline_cancel, s_stats,      s_channels,       s_reconnect_up,   s_reconnect_down,
    s_reconnect_gone, s_reconnect_up, s_reconnect_down, s_adopt,         s_early,
    s_close_channels, s_end};

static void next_step(void)
{
    while (pending == 0 && step < (int)(sizeof(steps) / sizeof(steps[0]))) {
        fprintf(stderr, "self-test: step %d\n", step);
        steps[step++]();
        if (step == (int)(sizeof(steps) / sizeof(steps[0])))
            return;
    }
}

static int free_port(void)
{
    dapr__grpc_server_t *s;
    int p = 0;
    if (dapr__grpc_server_create(&s, srv_cfg()) != 0)
        return 1;
    dapr__grpc_server_listen(s, "127.0.0.1", 0, &p);
    dapr__grpc_server_free(s);
    return p;
}

int client_selftest(uv_loop_t *l, dapr__grpc_server_t *srv, int p, size_t max,
                    const dapr__logger_t *log, void (*done)(int failures))
{
    loop = l;
    srv1 = srv;
    logp = log;
    port = p;
    max_msg = max;
    finished = done;
    refused_port = free_port();
    port2 = free_port();
    uv_timer_init(loop, &timer);
    if (dapr__grpc_channel_create(&ch, loop, "127.0.0.1", port, log) != 0)
        return -1;
    next_step();
    return 0;
}
