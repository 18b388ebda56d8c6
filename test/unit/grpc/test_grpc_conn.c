/* A detached server connection (dapr__grpc_conn_feed, sans-I/O) driven by an
 * nghttp2 client session built here: what goes in is a real client preface,
 * SETTINGS, HEADERS and DATA; what comes out is parsed back by the same
 * client session and checked (status, headers, trailers, bodies). */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../testutil.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "dapr/common.h"
#include "grpc/grpc.h"
#include "grpc/grpc_int.h"

/* --- the service ---------------------------------------------------------- */

static dapr__grpc_call_t *hang_call;
static int hang_cancels, cancels_total;

static void echo_req(dapr__grpc_call_t *c, const uint8_t *m, size_t n)
{
    static const uint8_t bin[] = {0xde, 0xad};
    dapr__grpc_call_add_header(c, "x-h", "v", 1);
    dapr__grpc_call_add_header(c, "x-raw-bin", bin, 2);
    dapr__grpc_call_send(c, m, n);
    dapr__grpc_call_finish(c, 0, NULL, NULL, 0);
}

static void any_cancel(dapr__grpc_call_t *c)
{
    cancels_total++;
    dapr__grpc_call_finish(c, DAPR_GRPC_CANCELLED, NULL, NULL, 0);
}

static void hang_req(dapr__grpc_call_t *c, const uint8_t *m, size_t n) { hang_call = c; }
static void hang_cancel(dapr__grpc_call_t *c)
{
    hang_cancels++;
    CHECK(dapr__grpc_call_cancelled(c));
    CHECK_EQ_INT(dapr__grpc_call_send(c, "x", 1), DAPR_ECLOSED);
    /* finish comes later, from the test */
}

static void md_req(dapr__grpc_call_t *c, const uint8_t *m, size_t n)
{
    const dapr__grpc_md_t *md;
    size_t k = dapr__grpc_call_md(c, &md);
    char out[512] = "";
    for (size_t i = 0; i < k; i++) {
        size_t o = strlen(out);
        snprintf(out + o, sizeof(out) - o, "%s=", md[i].key);
        for (size_t j = 0; j < md[i].len; j++) {
            o = strlen(out);
            snprintf(out + o, sizeof(out) - o, "%02x", md[i].value[j]);
        }
        o = strlen(out);
        snprintf(out + o, sizeof(out) - o, ";");
    }
    const char *ua = dapr__grpc_call_md_get(c, "user-agent");
    CHECK(ua && strcmp(ua, "unit/1") == 0);
    dapr__grpc_call_send(c, out, strlen(out));
    dapr__grpc_call_finish(c, 0, NULL, NULL, 0);
}

static void err_req(dapr__grpc_call_t *c, const uint8_t *m, size_t n)
{
    static const uint8_t det[] = {1, 2, 3};
    dapr__grpc_call_finish(c, DAPR_GRPC_INVALID_ARGUMENT, "bad \xc3\xbc\n%", det, 3);
}

static int cs_count;
static size_t cs_bytes;
static void cs_msg(dapr__grpc_call_t *c, const uint8_t *m, size_t n)
{
    cs_count++;
    cs_bytes += n;
}
static void cs_half(dapr__grpc_call_t *c)
{
    char out[32];
    snprintf(out, sizeof(out), "%d", cs_count);
    dapr__grpc_call_send(c, out, strlen(out));
    dapr__grpc_call_finish(c, 0, NULL, NULL, 0);
}

static void stream_req(dapr__grpc_call_t *c, const uint8_t *m, size_t n)
{
    dapr__grpc_call_send(c, "a", 1);
    dapr__grpc_call_send(c, "bb", 2);
    dapr__grpc_call_send(c, "ccc", 3);
    dapr__grpc_call_finish(c, 0, NULL, NULL, 0);
}

static const dapr__grpc_method_t methods[] = {
    {.path = "/t.S/Echo", .kind = DAPR__GRPC_UNARY, .on_request = echo_req,
     .on_cancel = any_cancel},
    {.path = "/t.S/Hang", .kind = DAPR__GRPC_UNARY, .on_request = hang_req,
     .on_cancel = hang_cancel},
    {.path = "/t.S/Md", .kind = DAPR__GRPC_UNARY, .on_request = md_req, .on_cancel = any_cancel},
    {.path = "/t.S/Err", .kind = DAPR__GRPC_UNARY, .on_request = err_req, .on_cancel = any_cancel},
    {.path = "/t.S/CS", .kind = DAPR__GRPC_CLIENT_STREAM, .on_message = cs_msg,
     .on_half_close = cs_half, .on_cancel = any_cancel},
    {.path = "/t.S/Stream", .kind = DAPR__GRPC_SERVER_STREAM, .on_request = stream_req,
     .on_cancel = any_cancel},
};

/* A second table whose "*" row is the fallback: send_headers, trailers,
 * receive pausing, the remaining deadline (what the gRPC proxy uses). */
static dapr__grpc_call_t *fb_call;
static int fb_msgs;
static size_t fb_bytes;
static uint64_t fb_left;

static void fb_start(dapr__grpc_call_t *c)
{
    const char *path = dapr__grpc_call_path(c);
    fb_call = c;
    fb_msgs = 0;
    fb_bytes = 0;
    fb_left = dapr__grpc_call_timeout_left(c);
    if (strstr(path, "/Pause"))
        dapr__grpc_call_pause_recv(c, true);
    if (strstr(path, "/Quiet"))
        return;
    dapr__grpc_call_add_header(c, "x-fb", "1", 1);
    CHECK_EQ_INT(dapr__grpc_call_send_headers(c), 0);
    CHECK_EQ_INT(dapr__grpc_call_send_headers(c), 0); /* once only */
    CHECK_EQ_INT(dapr__grpc_call_add_header(c, "x-late", "1", 1), DAPR_ESTATE);
}

static void fb_msg(dapr__grpc_call_t *c, const uint8_t *m, size_t n)
{
    fb_msgs++;
    fb_bytes += n;
}

static void fb_half(dapr__grpc_call_t *c)
{
    static const uint8_t bin[] = {0, 0xff, 7};
    char out[32];
    snprintf(out, sizeof(out), "%d", fb_msgs);
    CHECK_EQ_INT(dapr__grpc_call_add_trailer(c, "grpc-status", "0", 1), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__grpc_call_add_trailer(c, "x-tr", "t", 1), 0);
    CHECK_EQ_INT(dapr__grpc_call_add_trailer(c, "x-tr-bin", bin, 3), 0);
    fb_call = NULL;
    if (strstr(dapr__grpc_call_path(c), "/Quiet")) {
        dapr__grpc_call_finish(c, DAPR_GRPC_ABORTED, "quiet", NULL, 0);
        return;
    }
    dapr__grpc_call_send(c, out, strlen(out));
    dapr__grpc_call_finish(c, 0, NULL, NULL, 0);
}

static void fb_cancel(dapr__grpc_call_t *c)
{
    fb_call = NULL;
    dapr__grpc_call_finish(c, DAPR_GRPC_CANCELLED, NULL, NULL, 0);
}

static const dapr__grpc_method_t fb_methods[] = {
    {.path = "/t.S/Echo", .kind = DAPR__GRPC_UNARY, .on_request = echo_req,
     .on_cancel = any_cancel},
    {.path = "*", .kind = DAPR__GRPC_BIDI, .on_start = fb_start, .on_message = fb_msg,
     .on_half_close = fb_half, .on_cancel = fb_cancel},
};

/* --- the client side --------------------------------------------------------- */

typedef struct resp {
    int32_t sid;
    int http_status;
    int grpc_status;
    char grpc_message[256];
    int header_frames;
    bool trailers_only;
    char hdrs[2048];
    dapr__buf_t body;
    bool closed;
    uint32_t rst;
} resp_t;

typedef struct peer {
    uv_loop_t loop;
    dapr__logger_t log;
    dapr__grpc_server_t *srv;
    dapr__grpc_conn_t *conn;
    nghttp2_session *cli;
    dapr__buf_t to_client;
    resp_t r[32];
    int nr;
    bool srv_dead;
} peer_t;

static resp_t *resp_of(peer_t *p, int32_t sid)
{
    for (int i = 0; i < p->nr; i++)
        if (p->r[i].sid == sid)
            return &p->r[i];
    if (p->nr == 32)
        return NULL;
    resp_t *r = &p->r[p->nr++];
    memset(r, 0, sizeof(*r));
    r->sid = sid;
    r->grpc_status = -1;
    return r;
}

static int cli_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                      size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    resp_t *r = resp_of(ud, f->hd.stream_id);
    if (!r)
        return 0;
    size_t o = strlen(r->hdrs);
    snprintf(r->hdrs + o, sizeof(r->hdrs) - o, "%.*s: %.*s\n", (int)nlen, name, (int)vlen, value);
    if (nlen == 7 && !memcmp(name, ":status", 7))
        r->http_status = atoi((const char *)value);
    if (nlen == 11 && !memcmp(name, "grpc-status", 11))
        r->grpc_status = atoi((const char *)value);
    if (nlen == 12 && !memcmp(name, "grpc-message", 12))
        snprintf(r->grpc_message, sizeof(r->grpc_message), "%.*s", (int)vlen, value);
    return 0;
}

static int cli_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    resp_t *r = resp_of(ud, f->hd.stream_id);
    if (r && ++r->header_frames == 1 && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        r->trailers_only = true;
    return 0;
}

static int cli_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *d, size_t n,
                    void *ud)
{
    resp_t *r = resp_of(ud, sid);
    if (r)
        dapr__buf_append(&r->body, d, n);
    return 0;
}

static int cli_close(nghttp2_session *s, int32_t sid, uint32_t err, void *ud)
{
    resp_t *r = resp_of(ud, sid);
    if (r) {
        r->closed = true;
        r->rst = err;
    }
    return 0;
}

static void to_client(void *ud, const void *data, size_t len)
{
    peer_t *p = ud;
    dapr__buf_append(&p->to_client, data, len);
}

/* Move bytes both ways until neither side has anything to say. */
static void pump(peer_t *p)
{
    for (int round = 0; round < 1000; round++) {
        bool progress = false;
        const uint8_t *d;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(p->cli, &d)) > 0) {
            progress = true;
            if (!p->srv_dead && dapr__grpc_conn_feed(p->conn, d, (size_t)n) != 0)
                p->srv_dead = true;
        }
        uv_run(&p->loop, UV_RUN_NOWAIT); /* async flushes of the detached conn */
        if (p->to_client.len) {
            dapr__buf_t b = p->to_client;
            memset(&p->to_client, 0, sizeof(p->to_client));
            ssize_t rv = nghttp2_session_mem_recv(p->cli, (const uint8_t *)b.data, b.len);
            if (getenv("GRPC_UNIT_DEBUG"))
                fprintf(stderr, "client got %zu bytes: %zd\n", b.len, rv);
            dapr__buf_free(&b);
            progress = true;
        }
        if (!progress)
            return;
    }
}

static size_t unit_max_hdr; /* the next peer's max_header_list (0: default) */
static const dapr__grpc_method_t *unit_methods; /* the next peer's table (NULL: methods) */
static size_t unit_n_methods;

static void peer_init(peer_t *p, size_t max_msg)
{
    memset(p, 0, sizeof(*p));
    uv_loop_init(&p->loop);
    dapr__logger_init(&p->log);
    p->log.level = getenv("GRPC_UNIT_DEBUG") ? DAPR_LOG_DEBUG : DAPR_LOG_FATAL;
    dapr__grpc_server_config_t cfg = {.loop = &p->loop, .log = &p->log, .max_recv_msg = max_msg,
                                      .max_header_list = unit_max_hdr, .methods = methods,
                                      .n_methods = sizeof(methods) / sizeof(methods[0])};
    if (unit_methods) {
        cfg.methods = unit_methods;
        cfg.n_methods = unit_n_methods;
    }
    CHECK_EQ_INT(dapr__grpc_server_create(&p->srv, &cfg), 0);
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, cli_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, cli_frame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cli_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cli_close);
    nghttp2_session_client_new(&p->cli, cbs, p);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(p->cli, NGHTTP2_FLAG_NONE, NULL, 0);
}

static bool peer_connect(peer_t *p)
{
    p->conn = dapr__grpc_conn_detached(p->srv, to_client, p);
    return p->conn != NULL;
}

static void peer_free(peer_t *p)
{
    dapr__grpc_conn_detached_free(p->conn);
    nghttp2_session_del(p->cli);
    dapr__buf_free(&p->to_client);
    for (int i = 0; i < p->nr; i++)
        dapr__buf_free(&p->r[i].body);
    dapr__grpc_server_free(p->srv);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&p->loop), 0);
}

typedef struct body {
    const uint8_t *p;
    size_t len, off;
} body_t;

static ssize_t body_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    body_t *b = src->ptr;
    size_t n = b->len - b->off < len ? b->len - b->off : len;
    memcpy(buf, b->p + b->off, n);
    b->off += n;
    if (b->off == b->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, 0}

/* A request: standard headers plus `extra`; body sent with END_STREAM when
 * `b` is given, otherwise the stream stays open. */
static int32_t request(peer_t *p, const char *path, const char *ct, const nghttp2_nv *extra,
                       size_t n_extra, body_t *b)
{
    nghttp2_nv v[16] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "unit")};
    size_t n = 3;
    v[n++] = (nghttp2_nv){(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0};
    v[n++] = (nghttp2_nv)NV("te", "trailers");
    v[n++] = (nghttp2_nv)NV("user-agent", "unit/1");
    if (ct)
        v[n++] = (nghttp2_nv){(uint8_t *)"content-type", (uint8_t *)ct, 12, strlen(ct), 0};
    for (size_t i = 0; i < n_extra && n < 16; i++)
        v[n++] = extra[i];
    nghttp2_data_provider prd = {.source.ptr = b, .read_callback = body_read};
    int32_t sid = b ? nghttp2_submit_request(p->cli, NULL, v, n, &prd, NULL)
                    : nghttp2_submit_headers(p->cli, NGHTTP2_FLAG_NONE, -1, NULL, v, n, NULL);
    resp_of(p, sid);
    return sid;
}

static size_t msg(uint8_t *out, const char *s, size_t n)
{
    dapr__grpc_prefix(out, false, (uint32_t)n);
    memcpy(out + 5, s, n);
    return 5 + n;
}

static int32_t unary(peer_t *p, const char *path, const char *text)
{
    static uint8_t wire[8][256];
    static body_t bodies[8];
    static int k;
    k = (k + 1) % 8;
    bodies[k] = (body_t){wire[k], msg(wire[k], text, strlen(text)), 0};
    return request(p, path, "application/grpc", NULL, 0, &bodies[k]);
}

/* --- tests ------------------------------------------------------------------- */

static uint32_t be(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void test_preface(void)
{
    peer_t p;
    peer_init(&p, 0);
    CHECK(peer_connect(&p));
    /* our SETTINGS and connection WINDOW_UPDATE went out before any input */
    const uint8_t *d = (const uint8_t *)p.to_client.data;
    CHECK(p.to_client.len >= 9 + 18 + 13);
    CHECK_EQ_INT(d[3], NGHTTP2_SETTINGS);
    uint32_t len = be(d, 3);
    bool streams = false, window = false, hl = false;
    for (uint32_t o = 9; o + 6 <= 9 + len; o += 6) {
        uint32_t id = be(d + o, 2), val = be(d + o + 2, 4);
        streams |= id == NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS && val == 1000;
        window |= id == NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE && val == 1048576;
        hl |= id == NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE && val == 4194304;
    }
    CHECK(streams && window && hl);
    const uint8_t *wu = d + 9 + len;
    CHECK_EQ_INT(wu[3], NGHTTP2_WINDOW_UPDATE);
    CHECK_EQ_INT(be(wu + 5, 4), 0);
    CHECK_EQ_INT(be(wu + 9, 4), 4194304 - 65535);
    peer_free(&p);
}

static void test_unary_and_errors(void)
{
    peer_t p;
    peer_init(&p, 1024);
    CHECK(peer_connect(&p));
    int32_t echo = unary(&p, "/t.S/Echo", "hi");
    int32_t unknown = unary(&p, "/nope/x", "hi");
    int32_t err = unary(&p, "/t.S/Err", "");
    int32_t strm = unary(&p, "/t.S/Stream", "go");
    pump(&p);
    resp_t *r = resp_of(&p, echo);
    CHECK_EQ_INT(r->http_status, 200);
    CHECK_EQ_INT(r->grpc_status, 0);
    CHECK_EQ_INT(r->header_frames, 2);
    CHECK(r->body.len == 7 && !memcmp(r->body.data, "\0\0\0\0\2hi", 7));
    CHECK(strstr(r->hdrs, "content-type: application/grpc\n") != NULL);
    CHECK(strstr(r->hdrs, "x-h: v\n") != NULL);
    CHECK(strstr(r->hdrs, "x-raw-bin: 3q0\n") != NULL); /* unpadded base64 */
    CHECK(r->closed && r->rst == 0);

    r = resp_of(&p, unknown);
    CHECK(r->trailers_only);
    CHECK_EQ_INT(r->http_status, 200);
    CHECK_EQ_INT(r->grpc_status, DAPR_GRPC_UNIMPLEMENTED);
    CHECK_EQ_STR(r->grpc_message, "unknown method /nope/x");

    r = resp_of(&p, err);
    CHECK(r->trailers_only);
    CHECK_EQ_INT(r->grpc_status, DAPR_GRPC_INVALID_ARGUMENT);
    CHECK_EQ_STR(r->grpc_message, "bad %C3%BC%0A%25");
    CHECK(strstr(r->hdrs, "grpc-status-details-bin: AQID\n") != NULL);

    r = resp_of(&p, strm);
    CHECK_EQ_INT(r->grpc_status, 0);
    CHECK(r->body.len == 6 + 7 + 8 && !memcmp(r->body.data + 5, "a", 1) &&
          !memcmp(r->body.data + 18, "ccc", 3));
    peer_free(&p);
}

static void test_rejections(void)
{
    peer_t p;
    peer_init(&p, 1024);
    CHECK(peer_connect(&p));
    static uint8_t w[4][64];
    static body_t b[8];
    b[0] = (body_t){w[0], msg(w[0], "x", 1), 0};
    b[6] = b[0];
    int32_t ct = request(&p, "/t.S/Echo", "application/json", NULL, 0, &b[0]);
    int32_t ctproto = request(&p, "/t.S/Echo", "application/grpc+proto", NULL, 0, &b[6]);
    dapr__grpc_prefix(w[1], true, 1);
    w[1][5] = 'z';
    b[1] = (body_t){w[1], 6, 0};
    int32_t comp = request(&p, "/t.S/Echo", "application/grpc", NULL, 0, &b[1]);
    nghttp2_nv gz[] = {NV("grpc-encoding", "gzip")};
    b[2] = (body_t){w[0], 6, 0};
    int32_t enc = request(&p, "/t.S/Echo", "application/grpc", gz, 1, &b[2]);
    dapr__grpc_prefix(w[2], false, 2000);
    b[3] = (body_t){w[2], 5, 0};
    int32_t big = request(&p, "/t.S/Echo", "application/grpc", NULL, 0, &b[3]);
    size_t two = msg(w[3], "a", 1);
    two += msg(w[3] + two, "b", 1);
    b[4] = (body_t){w[3], two, 0};
    int32_t many = request(&p, "/t.S/Echo", "application/grpc", NULL, 0, &b[4]);
    b[5] = (body_t){w[3], 0, 0};
    int32_t none = request(&p, "/t.S/Echo", "application/grpc", NULL, 0, &b[5]);
    nghttp2_nv badt[] = {NV("grpc-timeout", "12345678901m")};
    int32_t tmo = request(&p, "/t.S/Echo", "application/grpc", badt, 1, NULL);
    pump(&p);

    resp_t *r = resp_of(&p, ct);
    CHECK_EQ_INT(r->http_status, 415);
    CHECK_EQ_INT(r->grpc_status, -1);
    CHECK_EQ_INT(resp_of(&p, ctproto)->grpc_status, 0);
    r = resp_of(&p, comp);
    CHECK_EQ_INT(r->grpc_status, DAPR_GRPC_INTERNAL);
    CHECK_EQ_STR(r->grpc_message, "grpc: compressed flag set with identity or empty encoding");
    r = resp_of(&p, enc);
    CHECK_EQ_INT(r->grpc_status, DAPR_GRPC_UNIMPLEMENTED);
    CHECK(strstr(r->hdrs, "grpc-accept-encoding: identity\n") != NULL);
    r = resp_of(&p, big);
    CHECK_EQ_INT(r->grpc_status, DAPR_GRPC_RESOURCE_EXHAUSTED);
    CHECK_EQ_STR(r->grpc_message, "grpc: received message larger than max (2000 vs. 1024)");
    CHECK_EQ_INT(resp_of(&p, many)->grpc_status, DAPR_GRPC_INTERNAL);
    CHECK_EQ_INT(resp_of(&p, none)->grpc_status, DAPR_GRPC_INTERNAL);
    r = resp_of(&p, tmo);
    CHECK_EQ_INT(r->grpc_status, DAPR_GRPC_INTERNAL);
    CHECK(strstr(r->grpc_message, "malformed grpc-timeout") != NULL);
    CHECK(r->closed); /* our RST_STREAM(NO_ERROR) after the early answer */
    peer_free(&p);
}

static void test_metadata_and_streams(void)
{
    peer_t p;
    peer_init(&p, 0);
    CHECK(peer_connect(&p));
    nghttp2_nv md[] = {NV("x-a", "1"), NV("x-b-bin", "AAEC"), NV("x-c-bin", "AAE=, AgM")};
    static uint8_t w[64];
    static body_t b;
    b = (body_t){w, msg(w, "", 0), 0};
    int32_t sid = request(&p, "/t.S/Md", "application/grpc", md, 3, &b);
    /* a client stream whose messages straddle DATA frames */
    int32_t cs = request(&p, "/t.S/CS", "application/grpc", NULL, 0, NULL);
    pump(&p);
    static uint8_t csw[128];
    size_t n = msg(csw, "hello", 5);
    n += msg(csw + n, "", 0);
    n += msg(csw + n, "world!!", 7);
    static body_t parts[3];
    size_t cut1 = 3, cut2 = 12;
    parts[0] = (body_t){csw, cut1, 0};
    parts[1] = (body_t){csw + cut1, cut2 - cut1, 0};
    parts[2] = (body_t){csw + cut2, n - cut2, 0};
    for (int i = 0; i < 3; i++) {
        nghttp2_data_provider prd = {.source.ptr = &parts[i], .read_callback = body_read};
        nghttp2_submit_data(p.cli, i == 2 ? NGHTTP2_FLAG_END_STREAM : NGHTTP2_FLAG_NONE, cs,
                            &prd);
        pump(&p);
    }
    resp_t *r = resp_of(&p, sid);
    CHECK_EQ_INT(r->grpc_status, 0);
    dapr__buf_cstr(&r->body);
    CHECK(r->body.len > 5 &&
          strstr(r->body.data + 5, "x-a=31;x-b-bin=000102;x-c-bin=0001;x-c-bin=0203;") != NULL);
    CHECK(strstr(r->body.data + 5, "user-agent=") != NULL);
    CHECK(strstr(r->body.data + 5, "te=") == NULL); /* transport headers are not metadata */
    CHECK_EQ_INT(cs_count, 3);
    CHECK_EQ_INT(cs_bytes, 12);
    r = resp_of(&p, cs);
    CHECK_EQ_INT(r->grpc_status, 0);
    CHECK(r->body.len == 6 && r->body.data[5] == '3');
    peer_free(&p);
}

static void test_deadline_and_cancel(void)
{
    peer_t p;
    peer_init(&p, 0);
    CHECK(peer_connect(&p));
    hang_cancels = 0;
    nghttp2_nv t[] = {NV("grpc-timeout", "20m")};
    static uint8_t w[16];
    static body_t b;
    b = (body_t){w, msg(w, "z", 1), 0};
    int32_t sid = request(&p, "/t.S/Hang", "application/grpc", t, 1, &b);
    pump(&p);
    CHECK(hang_call != NULL);
    CHECK_EQ_INT(hang_cancels, 0);
    resp_t *r = resp_of(&p, sid);
    for (int i = 0; i < 50 && r->grpc_status < 0; i++) {
        uv_run(&p.loop, UV_RUN_ONCE);
        pump(&p);
    }
    CHECK_EQ_INT(hang_cancels, 1);
    CHECK_EQ_INT(r->grpc_status, DAPR_GRPC_DEADLINE_EXCEEDED);
    CHECK(r->trailers_only);
    /* a late finish after the cancel: no-op on the wire, frees the call */
    dapr__grpc_call_finish(hang_call, DAPR_GRPC_OK, NULL, NULL, 0);
    hang_call = NULL;
    pump(&p);
    CHECK_EQ_INT(r->header_frames, 1);

    /* RST_STREAM from the client → on_cancel; finish later */
    b.off = 0;
    sid = request(&p, "/t.S/Hang", "application/grpc", NULL, 0, &b);
    pump(&p);
    CHECK(hang_call != NULL);
    nghttp2_submit_rst_stream(p.cli, NGHTTP2_FLAG_NONE, sid, NGHTTP2_CANCEL);
    pump(&p);
    CHECK_EQ_INT(hang_cancels, 2);
    dapr__grpc_call_finish(hang_call, DAPR_GRPC_OK, NULL, NULL, 0);
    hang_call = NULL;

    /* finish before the cancel reaches us: no on_cancel at all */
    b.off = 0;
    sid = request(&p, "/t.S/Hang", "application/grpc", NULL, 0, &b);
    pump(&p);
    dapr__grpc_call_finish(hang_call, DAPR_GRPC_ABORTED, "gave up", NULL, 0);
    hang_call = NULL;
    nghttp2_submit_rst_stream(p.cli, NGHTTP2_FLAG_NONE, sid, NGHTTP2_CANCEL);
    pump(&p);
    CHECK_EQ_INT(hang_cancels, 2);

    /* the connection dies with a call open: on_cancel, then finish */
    b.off = 0;
    request(&p, "/t.S/Hang", "application/grpc", NULL, 0, &b);
    pump(&p);
    dapr__grpc_call_t *open = hang_call;
    dapr__grpc_conn_detached_free(p.conn);
    p.conn = NULL;
    CHECK_EQ_INT(hang_cancels, 3);
    dapr__grpc_call_finish(open, DAPR_GRPC_OK, NULL, NULL, 0);
    hang_call = NULL;
    peer_free(&p);
}

static void test_header_limit(void)
{
    peer_t p;
    unit_max_hdr = 2048;
    peer_init(&p, 0);
    unit_max_hdr = 0;
    CHECK(peer_connect(&p));
    static char big[3000];
    memset(big, 'v', sizeof(big) - 1);
    nghttp2_nv h[] = {{(uint8_t *)"x-big", (uint8_t *)big, 5, sizeof(big) - 1, 0}};
    static uint8_t w[16];
    static body_t b;
    b = (body_t){w, msg(w, "z", 1), 0};
    int32_t sid = request(&p, "/t.S/Echo", "application/grpc", h, 1, &b);
    int32_t ok = unary(&p, "/t.S/Echo", "fine");
    pump(&p);
    resp_t *r = resp_of(&p, sid);
    CHECK_EQ_INT(r->grpc_status, DAPR_GRPC_RESOURCE_EXHAUSTED);
    CHECK(strstr(r->grpc_message, "header list size") != NULL);
    CHECK_EQ_INT(resp_of(&p, ok)->grpc_status, 0);
    CHECK(strstr(resp_of(&p, ok)->hdrs, "x-h: v\n") != NULL);
    peer_free(&p);
}

static void test_big_message_flow_control(void)
{
    peer_t p;
    peer_init(&p, 0);
    CHECK(peer_connect(&p));
    size_t n = (size_t)3 << 20; /* over the 1 MiB stream window: needs WINDOW_UPDATEs */
    uint8_t *w = malloc(n + 5);
    dapr__grpc_prefix(w, false, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        w[5 + i] = (uint8_t)(i * 7);
    body_t b = {w, n + 5, 0};
    int32_t sid = request(&p, "/t.S/Echo", "application/grpc", NULL, 0, &b);
    pump(&p);
    resp_t *r = resp_of(&p, sid);
    CHECK_EQ_INT(r->grpc_status, 0);
    CHECK(r->body.len == n + 5 && !memcmp(r->body.data, w, n + 5));
    free(w);
    peer_free(&p);
}

static void test_fallback_row_trailers_pause(void)
{
    peer_t p;
    unit_methods = fb_methods;
    unit_n_methods = sizeof(fb_methods) / sizeof(fb_methods[0]);
    peer_init(&p, 0);
    unit_methods = NULL;
    CHECK(peer_connect(&p));
    /* the "*" row takes unknown paths; headers go out before any message */
    nghttp2_nv t[] = {NV("grpc-timeout", "5S")};
    int32_t open = request(&p, "/any.Svc/Method", "application/grpc", t, 1, NULL);
    pump(&p);
    resp_t *r = resp_of(&p, open);
    CHECK(fb_call != NULL);
    CHECK(fb_left > 4000 && fb_left <= 5000);
    CHECK_EQ_INT(r->header_frames, 1);
    CHECK(strstr(r->hdrs, "x-fb: 1\n") != NULL);
    CHECK(r->grpc_status < 0);
    static uint8_t w[32];
    static body_t b;
    b = (body_t){w, msg(w, "m", 1), 0};
    nghttp2_data_provider prd = {.source.ptr = &b, .read_callback = body_read};
    nghttp2_submit_data(p.cli, NGHTTP2_FLAG_END_STREAM, open, &prd);
    pump(&p);
    CHECK_EQ_INT(r->grpc_status, 0);
    CHECK_EQ_INT(r->header_frames, 2);
    CHECK(r->body.len == 6 && r->body.data[5] == '1');
    CHECK(strstr(r->hdrs, "x-tr: t\n") != NULL);
    CHECK(strstr(r->hdrs, "x-tr-bin: AP8H\n") != NULL);
    CHECK(strstr(r->hdrs, "x-late") == NULL);

    /* trailers on a trailers-only answer */
    b.off = 0;
    int32_t quiet = request(&p, "/x/Quiet", "application/grpc", NULL, 0, &b);
    pump(&p);
    r = resp_of(&p, quiet);
    CHECK(r->trailers_only);
    CHECK_EQ_INT(r->grpc_status, DAPR_GRPC_ABORTED);
    CHECK(strstr(r->hdrs, "x-tr: t\n") != NULL);
    CHECK_EQ_INT(fb_left, 0);

    /* receive paused: at most one stream window (1 MiB) arrives; the rest
     * once it is unpaused */
    enum { N = 48, SZ = 64 << 10 };
    uint8_t *big = malloc((size_t)N * (SZ + 5));
    size_t len = 0;
    for (int i = 0; i < N; i++) {
        dapr__grpc_prefix(big + len, false, SZ);
        memset(big + len + 5, i, SZ);
        len += SZ + 5;
    }
    body_t bb = {big, len, 0};
    int32_t paused = request(&p, "/x/Pause", "application/grpc", NULL, 0, &bb);
    pump(&p);
    CHECK(fb_call != NULL);
    CHECK(fb_msgs >= 1 && fb_bytes <= (size_t)1 << 20);
    CHECK(bb.off < len); /* the client is held back */
    int before = fb_msgs;
    pump(&p);
    CHECK_EQ_INT(fb_msgs, before); /* still held */
    dapr__grpc_call_pause_recv(fb_call, false);
    pump(&p);
    CHECK_EQ_INT(fb_msgs, N);
    r = resp_of(&p, paused);
    CHECK_EQ_INT(r->grpc_status, 0);
    free(big);
    peer_free(&p);
}

static void test_garbage(void)
{
    peer_t p;
    peer_init(&p, 0);
    CHECK(peer_connect(&p));
    CHECK_EQ_INT(dapr__grpc_conn_feed(p.conn, "GET / HTTP/1.1\r\n\r\n", 18), DAPR_EPARSE);
    CHECK_EQ_INT(dapr__grpc_conn_feed(p.conn, "x", 1), DAPR_ECLOSED);
    peer_free(&p);
}

/* Every allocation of a connection's life failing in turn: no crash, no
 * leak (ASan), the run either works or fails cleanly. */
static void test_alloc_failures(void)
{
    int worked = 0;
    for (long k = 0; k < 400; k++) {
        peer_t p;
        peer_init(&p, 0);
        dapr__alloc_fail_after(k);
        if (peer_connect(&p)) {
            int32_t sid = unary(&p, "/t.S/Echo", "hi");
            int32_t cs = request(&p, "/t.S/CS", "application/grpc", NULL, 0, NULL);
            pump(&p);
            nghttp2_submit_rst_stream(p.cli, NGHTTP2_FLAG_NONE, cs, NGHTTP2_CANCEL);
            pump(&p);
            worked += resp_of(&p, sid)->grpc_status == 0;
        }
        dapr__alloc_fail_after(-1);
        peer_free(&p);
    }
    /* the sweep went past the last allocation: most late failure points work */
    if (getenv("GRPC_UNIT_DEBUG"))
        fprintf(stderr, "alloc sweep: %d of 400 runs answered\n", worked);
    CHECK(worked > 200);
}

int main(void)
{
    test_preface();
    test_unary_and_errors();
    test_rejections();
    test_metadata_and_streams();
    test_deadline_and_cancel();
    test_header_limit();
    test_big_message_flow_control();
    test_fallback_row_trailers_pause();
    test_garbage();
    test_alloc_failures();
    return test_result();
}
