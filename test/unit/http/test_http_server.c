/* Unit tests of the HTTP/1.1 transport through its sans-I/O entry
 * (dapr__http_conn_detached/feed): pipelining fed at once and byte by byte,
 * answers now and later, limits, Expect, HEAD/204, CORS, the lifetime of a
 * request whose connection went away, allocation failures, and streamed
 * request bodies and responses. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "http/server.h"
#include "../testutil.h"

typedef struct ctx {
    dapr__buf_t out;          /* everything the server wrote */
    bool defer;               /* queue requests instead of answering */
    dapr__http_req_t *queue[64];
    size_t n_queue;
    size_t n_seen;
    char seen[16][64];        /* "METHOD path?query body_len" per request */
} ctx_t;

/* libc realloc, not dapr__: allocation-failure tests must not lose output */
static void collect(void *ud, const void *data, size_t len)
{
    dapr__buf_t *b = &((ctx_t *)ud)->out;
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->len + len + 1) * 2;
        char *d = realloc(b->data, cap);
        if (!d)
            abort();
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

/* Answer with "<path>:<body_len>:<body>" so the order is visible. */
static void answer(dapr__http_req_t *req)
{
    char b[256];
    int n = snprintf(b, sizeof(b), "%s:%zu:%.*s", req->path, req->body_len,
                     (int)(req->body_len > 64 ? 64 : req->body_len), (const char *)req->body);
    if (!strcmp(req->path, "/204")) {
        dapr__http_respond(req, 204, NULL, 0, b, (size_t)n);
        return;
    }
    static const dapr__http_hdr_t h[] = {{"X-Reply", "yes"}, {"Content-Length", "999"},
                                         {"X-Bad", "a\r\nInjected: 1"}};
    dapr__http_respond(req, 200, h, 3, b, (size_t)n);
}

static void on_request(dapr__http_req_t *req, void *ud)
{
    ctx_t *x = ud;
    if (x->n_seen < 16)
        snprintf(x->seen[x->n_seen], sizeof(x->seen[0]), "%s %s?%s %zu", req->method, req->path,
                 req->query, req->body_len);
    x->n_seen++;
    CHECK(req->body[req->body_len] == '\0');
    if (x->defer && x->n_queue < 64) {
        x->queue[x->n_queue++] = req;
        return;
    }
    answer(req);
}

static dapr__http_server_t *new_server(ctx_t *x, const char *origins)
{
    dapr__http_server_config_t cfg = {
        .max_body_bytes = 100,
        .max_header_bytes = 300,
        .allowed_origins = origins,
        .on_request = on_request,
        .ud = x,
    };
    dapr__http_server_t *s = NULL;
    CHECK_EQ_INT(dapr__http_server_create(&s, &cfg), 0);
    return s;
}

static void ctx_reset(ctx_t *x)
{
    free(x->out.data);
    memset(x, 0, sizeof(*x));
}

/* Output without Date lines, so runs in different seconds compare equal. */
static char *strip_date(const dapr__buf_t *b)
{
    char *r = malloc(b->len + 1), *w = r;
    const char *p = b->data ? b->data : "", *end = p + b->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
        if (strncmp(p, "Date: ", 6)) {
            memcpy(w, p, n);
            w += n;
        }
        p += n;
    }
    *w = '\0';
    return r;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static const char pipelined[] =
    "GET /one?a=1 HTTP/1.1\r\nHost: x\r\nX-Pad:  v  \r\n\r\n"
    "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    "PUT /three HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    "3;ext\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n"
    "GET http://h:1/four?q HTTP/1.1\r\n\r\n";

static void check_pipelined_output(const ctx_t *x)
{
    const char *o = x->out.data;
    CHECK_EQ_INT(count(o, "HTTP/1.1 200 OK\r\n"), 4);
    const char *a = strstr(o, "/one:0:"), *b = strstr(o, "/two:5:hello"),
               *c = strstr(o, "/three:5:abcde"), *d = strstr(o, "/four:0:");
    CHECK(a && b && c && d && a < b && b < c && c < d);
    /* framing headers from the application are replaced, bad ones dropped */
    CHECK_EQ_INT(count(o, "X-Reply: yes\r\n"), 4);
    CHECK_EQ_INT(count(o, "Content-Length: 999"), 0);
    CHECK_EQ_INT(count(o, "Injected"), 0);
    CHECK_EQ_INT(count(o, "Content-Length: 7\r\n"), 1);  /* "/one:0:" */
    CHECK_EQ_INT(count(o, "Content-Length: 12\r\n"), 1); /* "/two:5:hello" */
    CHECK_EQ_INT(count(o, "Content-Length: 14\r\n"), 1); /* "/three:5:abcde" */
    CHECK_EQ_INT(count(o, "Content-Length: 8\r\n"), 1);  /* "/four:0:" */
    CHECK_EQ_STR(x->seen[0], "GET /one?a=1 0");
    CHECK_EQ_STR(x->seen[1], "POST /two? 5");
    CHECK_EQ_STR(x->seen[2], "PUT /three? 5");
    CHECK_EQ_STR(x->seen[3], "GET /four?q 0");
}

static void test_pipelined_at_once_and_bytewise(void)
{
    ctx_t x = {0};
    dapr__http_server_t *s = new_server(&x, NULL);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &x);
    CHECK_EQ_INT(dapr__http_conn_feed(c, pipelined, sizeof(pipelined) - 1), 0);
    check_pipelined_output(&x);
    CHECK_EQ_INT(dapr__http_server_inflight(s), 0);
    char *once = strip_date(&x.out);
    dapr__http_conn_detached_free(c);

    ctx_reset(&x);
    c = dapr__http_conn_detached(s, collect, &x);
    for (size_t i = 0; i < sizeof(pipelined) - 1; i++)
        CHECK_EQ_INT(dapr__http_conn_feed(c, pipelined + i, 1), 0);
    check_pipelined_output(&x);
    char *bytewise = strip_date(&x.out);
    CHECK_EQ_STR(once, bytewise);
    free(once);
    free(bytewise);
    dapr__http_conn_detached_free(c);
    dapr__http_server_free(s);
    ctx_reset(&x);
}

static void test_deferred_answers(void)
{
    ctx_t x = {.defer = true};
    dapr__http_server_t *s = new_server(&x, NULL);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &x);
    CHECK_EQ_INT(dapr__http_conn_feed(c, pipelined, sizeof(pipelined) - 1), 0);
    /* parsing waits for the first answer */
    CHECK_EQ_INT(x.n_queue, 1);
    CHECK_EQ_INT(dapr__http_server_inflight(s), 1);
    CHECK_EQ_INT(x.out.len, 0);
    /* each answer lets the next request through (within respond) */
    for (size_t i = 0; i < x.n_queue; i++) {
        CHECK_EQ_INT(dapr__http_server_inflight(s), 1);
        answer(x.queue[i]);
    }
    CHECK_EQ_INT(x.n_queue, 4);
    CHECK_EQ_INT(dapr__http_server_inflight(s), 0);
    check_pipelined_output(&x);
    /* more input while a request is out is kept, not parsed */
    x.n_queue = 0;
    CHECK_EQ_INT(dapr__http_conn_feed(c, "GET /a HTTP/1.1\r\n\r\nGET /b HT", 28), 0);
    CHECK_EQ_INT(dapr__http_conn_feed(c, "TP/1.1\r\n\r\n", 10), 0);
    CHECK_EQ_INT(x.n_queue, 1);
    answer(x.queue[0]);
    CHECK_EQ_INT(x.n_queue, 2);
    answer(x.queue[1]);
    CHECK(strstr(x.out.data, "/a:0:") < strstr(x.out.data, "/b:0:"));
    dapr__http_conn_detached_free(c);
    dapr__http_server_free(s);
    ctx_reset(&x);
}

/* Feed `in`, expect `status` as the first response and the connection to
 * close (feed returns -1). */
static void expect_error(const char *in, size_t len, const char *status, int byte_by_byte)
{
    ctx_t x = {0};
    dapr__http_server_t *s = new_server(&x, NULL);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &x);
    int r = 0;
    if (byte_by_byte)
        for (size_t i = 0; i < len && !r; i++)
            r = dapr__http_conn_feed(c, in + i, 1);
    else
        r = dapr__http_conn_feed(c, in, len);
    CHECK_EQ_INT(r, -1);
    CHECK(x.out.data && !strncmp(x.out.data, status, strlen(status)));
    if (!x.out.data || strncmp(x.out.data, status, strlen(status)))
        fprintf(stderr, "  input %.40s... gave %.40s\n", in, x.out.data ? x.out.data : "");
    CHECK(x.out.data && strstr(x.out.data, "Connection: close\r\n"));
    CHECK_EQ_INT(x.n_seen, 0);
    CHECK_EQ_INT(dapr__http_conn_feed(c, "GET / HTTP/1.1\r\n\r\n", 18), -1);
    dapr__http_conn_detached_free(c);
    dapr__http_server_free(s);
    ctx_reset(&x);
}

#define EXPECT_ERROR(lit, status)                                                        \
    do {                                                                                 \
        expect_error(lit, sizeof(lit) - 1, status, 0);                                   \
        expect_error(lit, sizeof(lit) - 1, status, 1);                                   \
    } while (0)

static void test_errors(void)
{
    EXPECT_ERROR("BAD\r\n\r\n", "HTTP/1.1 400 ");
    EXPECT_ERROR("GET / HTTP/1.1\r\nNo colon\r\n\r\n", "HTTP/1.1 400 ");
    EXPECT_ERROR("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", "HTTP/1.1 400 ");
    EXPECT_ERROR("GET / HTTP/1.1\r\nHost: x\r\n\rX", "HTTP/1.1 400 ");
    EXPECT_ERROR("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/1.1 400 ");
    EXPECT_ERROR("GET / HTTP/1.1\r\nX: "
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "\r\n\r\n",
                 "HTTP/1.1 431 ");
    EXPECT_ERROR("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", "HTTP/1.1 413 ");
    EXPECT_ERROR("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 101\r\n\r\n",
                 "HTTP/1.1 413 ");
    EXPECT_ERROR("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", "HTTP/1.1 413 ");
    EXPECT_ERROR("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "32\r\n01234567890123456789012345678901234567890123456789\r\n"
                 "32\r\n01234567890123456789012345678901234567890123456789\r\n"
                 "1\r\n",
                 "HTTP/1.1 413 ");
    EXPECT_ERROR("POST / HTTP/1.1\r\nExpect: tea\r\nContent-Length: 1\r\n\r\n", "HTTP/1.1 417 ");
    EXPECT_ERROR("GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 505 ");
    /* chunk extensions count against the header limit (300 here) */
    EXPECT_ERROR("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;e="
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                 "HTTP/1.1 431 ");
}

static void test_expect_head_204_close(void)
{
    ctx_t x = {0};
    dapr__http_server_t *s = new_server(&x, NULL);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &x);
    static const char in[] = "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    CHECK_EQ_INT(dapr__http_conn_feed(c, in, sizeof(in) - 1), 0);
    CHECK_EQ_STR(x.out.data, "HTTP/1.1 100 Continue\r\n\r\n");
    CHECK_EQ_INT(dapr__http_conn_feed(c, "abc", 3), 0);
    CHECK(strstr(x.out.data, "/e:3:abc"));
    x.out.len = 0;
    static const char in2[] = "HEAD /h HTTP/1.1\r\n\r\nGET /204 HTTP/1.1\r\n\r\n";
    CHECK_EQ_INT(dapr__http_conn_feed(c, in2, sizeof(in2) - 1), 0);
    CHECK(!strstr(x.out.data, "/h:")); /* no body for HEAD... */
    CHECK(strstr(x.out.data, "Content-Length: 5\r\n")); /* ...but its length ("/h:0:") */
    const char *nc = strstr(x.out.data, "HTTP/1.1 204 No Content\r\n");
    CHECK(nc && !strstr(nc, "Content-Length") && !strstr(nc, "/204"));
    x.out.len = 0;
    static const char in3[] = "GET /old HTTP/1.0\r\n\r\nGET /never HTTP/1.1\r\n\r\n";
    CHECK_EQ_INT(dapr__http_conn_feed(c, in3, sizeof(in3) - 1), -1);
    CHECK(strstr(x.out.data, "Connection: close\r\n"));
    CHECK(!strstr(x.out.data, "/never"));
    dapr__http_conn_detached_free(c);
    dapr__http_server_free(s);
    ctx_reset(&x);
}

static void test_request_fields(void)
{
    ctx_t x = {.defer = true};
    dapr__http_server_t *s = new_server(&x, NULL);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &x);
    static const char in[] = "DELETE /p/a%2Fb?x=1&y HTTP/1.1\r\nA: \t 1 2 \t\r\nb-B:\r\n"
                             "Content-Length: 2\r\n\r\nhi";
    CHECK_EQ_INT(dapr__http_conn_feed(c, in, sizeof(in) - 1), 0);
    CHECK_EQ_INT(x.n_queue, 1);
    dapr__http_req_t *r = x.queue[0];
    CHECK_EQ_STR(r->method, "DELETE");
    CHECK_EQ_INT(r->method_id, 0 /* HTTP_DELETE */);
    CHECK_EQ_STR(r->url, "/p/a%2Fb?x=1&y");
    CHECK_EQ_STR(r->path, "/p/a%2Fb");
    CHECK_EQ_STR(r->query, "x=1&y");
    CHECK_EQ_INT(r->n_headers, 3);
    CHECK_EQ_STR(r->headers[0].name, "A");
    CHECK_EQ_STR(r->headers[0].value, "1 2");
    CHECK_EQ_STR(dapr__http_req_header(r, "B-b"), "");
    CHECK_EQ_STR(dapr__http_req_header(r, "content-length"), "2");
    CHECK(dapr__http_req_header(r, "missing") == NULL);
    CHECK_EQ_INT(r->body_len, 2);
    CHECK(!memcmp(r->body, "hi", 3));
    CHECK_EQ_INT(r->http_major, 1);
    CHECK_EQ_INT(r->http_minor, 1);
    CHECK(r->keep_alive);
    CHECK_EQ_STR(r->remote_ip, "");
    /* respond_buf takes the buffer */
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_puts(&b, "owned body");
    dapr__http_respond_buf(r, 404, NULL, 0, &b);
    CHECK(b.data == NULL && b.len == 0);
    CHECK(strstr(x.out.data, "HTTP/1.1 404 Not Found\r\n"));
    CHECK(strstr(x.out.data, "\r\n\r\nowned body"));
    /* answering twice is ignored */
    dapr__http_respond(r, 200, NULL, 0, NULL, 0);
    CHECK_EQ_INT(count(x.out.data, "HTTP/1.1 "), 1);
    dapr__http_conn_detached_free(c);
    dapr__http_server_free(s);
    ctx_reset(&x);
}

static void test_cors(void)
{
    ctx_t x = {0};
    dapr__http_server_t *s = new_server(&x, "http://a.test, https://*.b.test");
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &x);
    static const char pre[] = "OPTIONS /x HTTP/1.1\r\nOrigin: https://z.b.test\r\n"
                              "Access-Control-Request-Method: PUT\r\n"
                              "Access-Control-Request-Headers: x-y\r\n\r\n";
    CHECK_EQ_INT(dapr__http_conn_feed(c, pre, sizeof(pre) - 1), 0);
    CHECK_EQ_INT(x.n_seen, 0); /* answered by the transport */
    CHECK(strstr(x.out.data, "HTTP/1.1 204 No Content\r\n"));
    CHECK(strstr(x.out.data, "Access-Control-Allow-Origin: https://z.b.test\r\n"));
    CHECK(strstr(x.out.data, "Access-Control-Allow-Methods: HEAD,GET,POST,PUT,PATCH,DELETE\r\n"));
    CHECK(strstr(x.out.data, "Access-Control-Allow-Headers: x-y\r\n"));
    CHECK(strstr(x.out.data, "Access-Control-Max-Age: "));
    x.out.len = 0;
    static const char simple[] = "GET /s HTTP/1.1\r\nOrigin: http://a.test\r\n\r\n"
                                 "GET /s HTTP/1.1\r\nOrigin: http://c.test\r\n\r\n";
    CHECK_EQ_INT(dapr__http_conn_feed(c, simple, sizeof(simple) - 1), 0);
    CHECK_EQ_INT(x.n_seen, 2);
    CHECK_EQ_INT(count(x.out.data, "Access-Control-Allow-Origin: http://a.test\r\n"), 1);
    CHECK_EQ_INT(count(x.out.data, "Access-Control-Allow-Origin"), 1);
    CHECK_EQ_INT(count(x.out.data, "Vary: Origin\r\n"), 1);
    dapr__http_conn_detached_free(c);
    dapr__http_server_free(s);
    ctx_reset(&x);
}

/* The connection goes away while the application holds a request: the
 * request stays valid and respond frees it. */
static void test_request_outlives_connection(void)
{
    ctx_t x = {.defer = true};
    dapr__http_server_t *s = new_server(&x, NULL);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &x);
    static const char in[] = "POST /late HTTP/1.1\r\nContent-Length: 4\r\n\r\nbodyGET / HTTP/1.1\r\n";
    CHECK_EQ_INT(dapr__http_conn_feed(c, in, sizeof(in) - 1), 0);
    CHECK_EQ_INT(x.n_queue, 1);
    dapr__http_conn_detached_free(c);
    dapr__http_req_t *r = x.queue[0];
    CHECK_EQ_STR(r->path, "/late"); /* still readable */
    CHECK(!memcmp(r->body, "body", 4));
    size_t before = x.out.len;
    CHECK_EQ_INT(dapr__http_server_inflight(s), 1);
    answer(r); /* frees the connection, writes nothing */
    CHECK_EQ_INT(x.out.len, before);
    CHECK_EQ_INT(dapr__http_server_inflight(s), 0);
    CHECK_EQ_INT(x.n_queue, 1);

    /* and when the server itself is freed first */
    c = dapr__http_conn_detached(s, collect, &x);
    x.n_queue = 0;
    CHECK_EQ_INT(dapr__http_conn_feed(c, in, sizeof(in) - 1), 0);
    CHECK_EQ_INT(x.n_queue, 1);
    dapr__http_server_free(s);
    dapr__http_conn_detached_free(c);
    answer(x.queue[0]);
    ctx_reset(&x);
}

static bool done_called;
static void on_done(void *ud) { done_called = ud == &done_called; }

static void test_shutdown_without_loop(void)
{
    ctx_t x = {0};
    dapr__http_server_t *s = new_server(&x, NULL);
    dapr__http_server_shutdown(s, on_done, &done_called);
    CHECK(done_called);
    dapr__http_server_shutdown(s, on_done, NULL); /* harmless */
    dapr__http_server_free(s);
    dapr__http_server_free(NULL);
    CHECK_EQ_STR(dapr__http_status_text(404), "Not Found");
    CHECK_EQ_STR(dapr__http_status_text(599), "Unknown");
}

/* Every allocation failing in turn: no crash, no leak, and the connection
 * either answers or says 500 / closes. */
static void test_alloc_failures(void)
{
    size_t failed_runs = 0;
    for (long n = 0; n < 40; n++) {
        ctx_t x = {0};
        dapr__http_server_t *s = new_server(&x, "*");
        dapr__alloc_fail_after(n);
        dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &x);
        int r = c ? dapr__http_conn_feed(c, pipelined, sizeof(pipelined) - 1) : -1;
        dapr__http_conn_detached_free(c);
        dapr__alloc_fail_after(-1);
        /* 200s, then at most one 500 that ends the connection */
        const char *o = x.out.data ? x.out.data : "";
        const char *err = strstr(o, "HTTP/1.1 500 ");
        CHECK_EQ_INT(count(o, "HTTP/1.1 ") - count(o, "HTTP/1.1 200 "), err ? 1 : 0);
        CHECK(!err || (!strstr(err + 1, "HTTP/1.1 ") && r == -1));
        CHECK(err || !c || count(o, "HTTP/1.1 200 ") == 4);
        failed_runs += err || !c;
        dapr__http_server_free(s);
        ctx_reset(&x);
    }
    CHECK(failed_runs >= 3); /* the injection did hit something */
}


/* ---------------------------------------------------------------------
 * Streamed bodies. A detached connection has no loop: what the server
 * defers (held bytes after req_read, resume) runs at the next feed, which
 * may be empty (pump()).
 * ------------------------------------------------------------------- */

typedef struct st {
    ctx_t x; /* first: collect() writes x.out */
    dapr__http_req_t *req;
    int n_req, n_data, n_end, err;
    bool read_now, pause_each, early, answer_end, abort_on_error;
    char body[512];
    size_t body_len;
    void (*plain)(dapr__http_req_t *req, struct st *t); /* non-streamed requests */
} st_t;

static bool st_pred(const dapr__http_req_t *req, void *ud)
{
    (void)ud;
    return !strncmp(req->path, "/s", 2);
}

static void st_data(dapr__http_req_t *req, const void *data, size_t len, void *ud)
{
    st_t *t = ud;
    CHECK(req == t->req && len > 0);
    if (t->body_len + len < sizeof(t->body)) {
        memcpy(t->body + t->body_len, data, len);
        t->body_len += len;
    }
    t->n_data++;
    if (t->pause_each)
        dapr__http_req_pause(req);
}

static void st_end(dapr__http_req_t *req, void *ud)
{
    st_t *t = ud;
    t->n_end++;
    if (t->answer_end) {
        char b[600];
        int n = snprintf(b, sizeof(b), "got:%.*s", (int)t->body_len, t->body);
        dapr__http_respond(req, 200, NULL, 0, b, (size_t)n);
    }
}

static void st_error(dapr__http_req_t *req, int code, void *ud)
{
    st_t *t = ud;
    t->err = code;
    if (t->abort_on_error)
        dapr__http_respond_abort(req);
}

static const dapr__http_body_cbs_t st_cbs = {st_data, st_end, st_error};

static void st_request(dapr__http_req_t *req, void *ud)
{
    st_t *t = ud;
    if (!req->streamed) {
        if (t->plain)
            t->plain(req, t);
        else
            answer(req);
        return;
    }
    t->req = req;
    t->n_req++;
    CHECK(req->body_len == 0 && req->body[0] == '\0');
    if (t->early) {
        dapr__http_respond(req, 200, NULL, 0, "early", 5);
        CHECK_EQ_INT(dapr__http_req_read(req, &st_cbs, t), DAPR_ESTATE);
        return;
    }
    if (t->read_now) {
        CHECK_EQ_INT(dapr__http_req_read(req, &st_cbs, t), 0);
        CHECK_EQ_INT(dapr__http_req_read(req, &st_cbs, t), DAPR_ESTATE); /* once */
        CHECK_EQ_INT(t->n_data, 0); /* never inside the call */
    }
}

static dapr__http_server_t *st_server(st_t *t)
{
    dapr__http_server_config_t cfg = {
        .max_body_bytes = 100,
        .max_header_bytes = 300,
        .on_request = st_request,
        .stream_body = st_pred,
        .ud = t,
    };
    dapr__http_server_t *s = NULL;
    CHECK_EQ_INT(dapr__http_server_create(&s, &cfg), 0);
    return s;
}

static int feed_str(dapr__http_conn_t *c, const char *s) { return dapr__http_conn_feed(c, s, strlen(s)); }
static int pump(dapr__http_conn_t *c) { return dapr__http_conn_feed(c, NULL, 0); }

static void st_done(st_t *t, dapr__http_server_t *s, dapr__http_conn_t *c)
{
    dapr__http_conn_detached_free(c);
    CHECK_EQ_INT(dapr__http_server_inflight(s), 0);
    dapr__http_server_free(s);
    ctx_reset(&t->x);
}

static void test_stream_pieces(void)
{
    st_t t = {.answer_end = true};
    dapr__http_server_t *s = st_server(&t);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &t);
    /* the handler has the request at the end of the head */
    CHECK_EQ_INT(feed_str(c, "POST /s HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123"), 0);
    CHECK_EQ_INT(t.n_req, 1);
    CHECK(t.req && t.req->streamed);
    CHECK_EQ_INT(dapr__http_server_inflight(s), 1);
    CHECK_EQ_INT(feed_str(c, "4"), 0); /* held until req_read */
    CHECK_EQ_INT(dapr__http_req_read(t.req, &st_cbs, &t), 0);
    CHECK_EQ_INT(t.n_data, 0); /* delivered from the loop, not in the call */
    CHECK_EQ_INT(pump(c), 0);
    CHECK_EQ_INT(t.n_data, 1);
    CHECK_EQ_INT(t.body_len, 5);
    CHECK_EQ_INT(feed_str(c, "56"), 0);
    CHECK_EQ_INT(feed_str(c, "789GET /after HTTP/1.1\r\n\r\n"), 0);
    CHECK_EQ_INT(t.n_end, 1);
    CHECK_EQ_INT(t.body_len, 10);
    CHECK(!memcmp(t.body, "0123456789", 10));
    CHECK(t.x.out.data && strstr(t.x.out.data, "got:0123456789"));
    CHECK(t.x.out.data && !strstr(t.x.out.data, "Connection: close")); /* kept alive */
    CHECK(t.x.out.data && strstr(t.x.out.data, "/after:0:")); /* pipelined after it */
    CHECK(strstr(t.x.out.data, "got:") < strstr(t.x.out.data, "/after:0:"));
    st_done(&t, s, c);

    /* chunked, byte by byte, read at once; the pipelined request waits */
    memset(&t, 0, sizeof(t));
    t.answer_end = t.read_now = true;
    s = st_server(&t);
    c = dapr__http_conn_detached(s, collect, &t);
    static const char in[] = "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
    for (size_t i = 0; i < sizeof(in) - 1; i++) {
        CHECK_EQ_INT(dapr__http_conn_feed(c, in + i, 1), 0);
        CHECK_EQ_INT(pump(c), 0);
    }
    CHECK_EQ_INT(t.n_end, 1);
    CHECK_EQ_INT(t.err, 0);
    CHECK_EQ_INT(t.body_len, 5);
    CHECK(!memcmp(t.body, "abcde", 5));
    CHECK(t.x.out.data && strstr(t.x.out.data, "got:abcde"));
    CHECK(t.x.out.data && strstr(t.x.out.data, "/next:0:"));
    /* a non-streamed request on the same server still gets a buffered body */
    CHECK_EQ_INT(feed_str(c, "POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"), 0);
    CHECK(strstr(t.x.out.data, "/b:2:hi"));
    CHECK_EQ_INT(t.n_req, 1);
    st_done(&t, s, c);
}

static void test_stream_pause_resume(void)
{
    st_t t = {.answer_end = true, .read_now = true, .pause_each = true};
    dapr__http_server_t *s = st_server(&t);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &t);
    static const char in[] = "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "3\r\nabc\r\n2\r\nde\r\n1\r\nf\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
    /* read from on_request: parsing goes on within this feed */
    CHECK_EQ_INT(feed_str(c, in), 0);
    CHECK_EQ_INT(t.n_data, 1); /* paused in on_data: nothing more */
    CHECK_EQ_INT(pump(c), 0);
    CHECK_EQ_INT(feed_str(c, ""), 0);
    CHECK_EQ_INT(t.n_data, 1);
    CHECK(!t.x.out.data || !strstr(t.x.out.data, "/next"));
    dapr__http_req_resume(t.req);
    CHECK_EQ_INT(t.n_data, 1); /* not inside resume */
    CHECK_EQ_INT(pump(c), 0);
    CHECK_EQ_INT(t.n_data, 2);
    dapr__http_req_resume(t.req);
    CHECK_EQ_INT(pump(c), 0);
    CHECK_EQ_INT(t.n_data, 3);
    CHECK_EQ_INT(t.n_end, 0);
    dapr__http_req_resume(t.req);
    CHECK_EQ_INT(pump(c), 0);
    CHECK_EQ_INT(t.n_end, 1);
    CHECK(!memcmp(t.body, "abcdef", 6));
    CHECK(t.x.out.data && strstr(t.x.out.data, "got:abcdef"));
    CHECK(strstr(t.x.out.data, "/next:0:") > strstr(t.x.out.data, "got:abcdef"));
    st_done(&t, s, c);
}

/* Body errors: on_error, then the handler's answer closes the connection. */
static void stream_error(const char *in, int code, const char *status)
{
    st_t t = {.read_now = true, .abort_on_error = true};
    dapr__http_server_t *s = st_server(&t);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &t);
    int r = feed_str(c, in);
    if (!r)
        r = pump(c);
    CHECK_EQ_INT(t.n_req, 1);
    CHECK_EQ_INT(t.err, code);
    CHECK_EQ_INT(t.n_end, 0);
    CHECK_EQ_INT(r, -1);
    CHECK(t.x.out.data && !strncmp(t.x.out.data, status, strlen(status)));
    CHECK(t.x.out.data && strstr(t.x.out.data, "Connection: close\r\n"));
    st_done(&t, s, c);
}

static void test_stream_errors(void)
{
    stream_error("POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", DAPR_ETOOBIG,
                 "HTTP/1.1 413 ");
    stream_error("POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "32\r\n01234567890123456789012345678901234567890123456789\r\n"
                 "32\r\n01234567890123456789012345678901234567890123456789\r\n"
                 "1\r\n",
                 DAPR_ETOOBIG, "HTTP/1.1 413 ");
    stream_error("POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", DAPR_EPARSE,
                 "HTTP/1.1 502 ");
    /* over the limit up front: refused before the handler sees it */
    st_t t = {.read_now = true};
    dapr__http_server_t *s = st_server(&t);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &t);
    CHECK_EQ_INT(feed_str(c, "POST /s HTTP/1.1\r\nContent-Length: 101\r\n\r\n"), -1);
    CHECK_EQ_INT(t.n_req, 0);
    CHECK(t.x.out.data && !strncmp(t.x.out.data, "HTTP/1.1 413 ", 13));
    st_done(&t, s, c);
}

/* Answered before the body was read: not drained, the connection closes. */
static void test_stream_early_answer(void)
{
    st_t t = {.early = true};
    dapr__http_server_t *s = st_server(&t);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &t);
    CHECK_EQ_INT(feed_str(c, "POST /s HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234"), -1);
    CHECK(t.x.out.data && strstr(t.x.out.data, "\r\n\r\nearly"));
    CHECK(t.x.out.data && strstr(t.x.out.data, "Connection: close\r\n"));
    CHECK_EQ_INT(t.n_data, 0);
    st_done(&t, s, c);
}

/* The client goes away mid-body: DAPR_ECLOSED; the answer only frees. */
static void test_stream_client_gone(void)
{
    st_t t = {.read_now = true};
    dapr__http_server_t *s = st_server(&t);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &t);
    CHECK_EQ_INT(feed_str(c, "POST /s HTTP/1.1\r\nContent-Length: 10\r\n\r\n012"), 0);
    CHECK_EQ_INT(pump(c), 0);
    CHECK_EQ_INT(t.n_data, 1);
    size_t before = t.x.out.len;
    dapr__http_conn_detached_free(c);
    CHECK_EQ_INT(t.err, DAPR_ECLOSED);
    CHECK_EQ_INT(dapr__http_server_inflight(s), 1);
    CHECK_EQ_INT(dapr__http_respond_start(t.req, 200, NULL, 0, -1, NULL, NULL), 0);
    CHECK_EQ_INT(dapr__http_respond_write(t.req, "x", 1), DAPR_EIO);
    dapr__http_respond_end(t.req); /* frees */
    CHECK_EQ_INT(t.x.out.len, before);
    CHECK_EQ_INT(dapr__http_server_inflight(s), 0);
    dapr__http_server_free(s);
    ctx_reset(&t.x);
}

/* ---- streamed responses ---- */

static void resp_cl(dapr__http_req_t *req, st_t *t)
{
    (void)t;
    static const dapr__http_hdr_t h[] = {{"X-S", "1"}, {"Content-Length", "99"}};
    CHECK_EQ_INT(dapr__http_respond_write(req, "x", 1), DAPR_ESTATE);
    CHECK_EQ_INT(dapr__http_respond_start(req, 200, h, 2, 5, NULL, NULL), 0);
    CHECK_EQ_INT(dapr__http_respond_start(req, 200, h, 2, 5, NULL, NULL), DAPR_ESTATE);
    CHECK_EQ_INT(dapr__http_respond_write(req, "he", 2), 0);
    CHECK_EQ_INT(dapr__http_respond_write(req, "", 0), 0);
    CHECK_EQ_INT(dapr__http_respond_write(req, "llo!", 4), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__http_respond_write(req, "llo", 3), 0);
    dapr__http_respond(req, 500, NULL, 0, NULL, 0); /* ignored: streaming */
    dapr__http_respond_end(req);
}

static void resp_chunked(dapr__http_req_t *req, st_t *t)
{
    (void)t;
    CHECK_EQ_INT(dapr__http_respond_start(req, 201, NULL, 0, -1, NULL, NULL), 0);
    CHECK_EQ_INT(dapr__http_respond_write(req, "abc", 3), 0);
    char big[20000];
    memset(big, 'z', sizeof(big));
    CHECK_EQ_INT(dapr__http_respond_write(req, big, sizeof(big)), 0);
    CHECK_EQ_INT(dapr__http_respond_write(req, "de", 2), 0);
    dapr__http_respond_end(req);
}

static void resp_short(dapr__http_req_t *req, st_t *t)
{
    (void)t;
    CHECK_EQ_INT(dapr__http_respond_start(req, 200, NULL, 0, 10, NULL, NULL), 0);
    CHECK_EQ_INT(dapr__http_respond_write(req, "abc", 3), 0);
    dapr__http_respond_end(req); /* short: treated as abort */
}

static void resp_abort_after(dapr__http_req_t *req, st_t *t)
{
    (void)t;
    CHECK_EQ_INT(dapr__http_respond_start(req, 200, NULL, 0, -1, NULL, NULL), 0);
    CHECK_EQ_INT(dapr__http_respond_write(req, "abc", 3), 0);
    dapr__http_respond_abort(req);
}

static void resp_abort_before(dapr__http_req_t *req, st_t *t)
{
    (void)t;
    dapr__http_respond_abort(req);
}

static void resp_empty_chunked(dapr__http_req_t *req, st_t *t)
{
    (void)t;
    CHECK_EQ_INT(dapr__http_respond_start(req, !strcmp(req->path, "/204") ? 204 : 200, NULL, 0,
                                          -1, NULL, NULL),
                 0);
    CHECK_EQ_INT(dapr__http_respond_write(req, "abc", 3), 0);
    dapr__http_respond_end(req);
}

static st_t *resp_run(st_t *t, void (*fn)(dapr__http_req_t *, st_t *), const char *in, int want)
{
    memset(t, 0, sizeof(*t));
    t->plain = fn;
    dapr__http_server_t *s = st_server(t);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, t);
    CHECK_EQ_INT(feed_str(c, in), want);
    dapr__http_conn_detached_free(c);
    CHECK_EQ_INT(dapr__http_server_inflight(s), 0);
    dapr__http_server_free(s);
    return t;
}

static void test_stream_responses(void)
{
    st_t t;
    const char *o;
    /* Content-Length, keep-alive: the pipelined request is served too */
    resp_run(&t, resp_cl, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0);
    o = t.x.out.data;
    CHECK_EQ_INT(count(o, "HTTP/1.1 200 OK\r\n"), 2);
    CHECK_EQ_INT(count(o, "Content-Length: 5\r\n\r\nhello"), 2);
    CHECK_EQ_INT(count(o, "X-S: 1\r\n"), 2);
    CHECK_EQ_INT(count(o, "99"), 0);
    CHECK_EQ_INT(count(o, "Connection"), 0);
    CHECK_EQ_INT(count(o, "Date: "), 2);
    ctx_reset(&t.x);

    /* chunked */
    resp_run(&t, resp_chunked, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0);
    o = t.x.out.data;
    CHECK_EQ_INT(count(o, "HTTP/1.1 201 Created\r\n"), 2);
    CHECK_EQ_INT(count(o, "Transfer-Encoding: chunked\r\n"), 2);
    CHECK_EQ_INT(count(o, "Content-Length"), 0);
    CHECK_EQ_INT(count(o, "\r\n\r\n3\r\nabc\r\n4e20\r\nzzz"), 2);
    CHECK_EQ_INT(count(o, "zzz\r\n2\r\nde\r\n0\r\n\r\n"), 2);
    ctx_reset(&t.x);

    /* HTTP/1.0: close-delimited */
    resp_run(&t, resp_chunked, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", -1);
    o = t.x.out.data;
    CHECK(o && strstr(o, "Connection: close\r\n"));
    CHECK(o && !strstr(o, "Transfer-Encoding") && !strstr(o, "Content-Length"));
    CHECK(o && strstr(o, "\r\n\r\nabczzz"));
    CHECK(o && !memcmp(o + strlen(o) - 3, "zde", 3));
    ctx_reset(&t.x);

    /* HEAD and 204: no body bytes; keep-alive */
    resp_run(&t, resp_empty_chunked, "HEAD /h HTTP/1.1\r\n\r\nGET /204 HTTP/1.1\r\n\r\n", 0);
    o = t.x.out.data;
    CHECK_EQ_INT(count(o, "HTTP/1.1 "), 2);
    CHECK_EQ_INT(count(o, "abc"), 0);
    CHECK_EQ_INT(count(o, "Transfer-Encoding: chunked\r\n"), 1); /* HEAD's, not 204's */
    CHECK(o && !memcmp(o + strlen(o) - 4, "\r\n\r\n", 4));
    CHECK_EQ_INT(count(o, "\r\n0\r\n"), 0);
    ctx_reset(&t.x);

    /* short of Content-Length: cut, the connection closes */
    resp_run(&t, resp_short, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", -1);
    o = t.x.out.data;
    CHECK_EQ_INT(count(o, "HTTP/1.1 200"), 1);
    CHECK(o && !memcmp(o + strlen(o) - 7, "\r\n\r\nabc", 7));
    ctx_reset(&t.x);

    /* abort after start: no last-chunk, closed */
    resp_run(&t, resp_abort_after, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", -1);
    o = t.x.out.data;
    CHECK_EQ_INT(count(o, "HTTP/1.1 200"), 1);
    CHECK(o && !memcmp(o + strlen(o) - 8, "3\r\nabc", 6) == 0);
    CHECK(o && strstr(o, "\r\n\r\n3\r\nabc") && !strstr(o, "0\r\n\r\n"));
    ctx_reset(&t.x);

    /* abort before start: 502, keep-alive */
    resp_run(&t, resp_abort_before, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0);
    o = t.x.out.data;
    CHECK_EQ_INT(count(o, "HTTP/1.1 502 Bad Gateway\r\n"), 2);
    CHECK_EQ_INT(count(o, "Content-Type: text/plain"), 2);
    ctx_reset(&t.x);
}

/* Full duplex on a streamed request: the response starts while the body
 * arrives; it says Connection: close (the body might not be read to its
 * end) and the connection closes after it. */
static void duplex_data(dapr__http_req_t *req, const void *data, size_t len, void *ud)
{
    st_t *t = ud;
    t->n_data++;
    if (t->n_data == 1)
        CHECK_EQ_INT(dapr__http_respond_start(req, 200, NULL, 0, -1, NULL, NULL), 0);
    CHECK_EQ_INT(dapr__http_respond_write(req, data, len), 0);
}

static void duplex_end(dapr__http_req_t *req, void *ud)
{
    ((st_t *)ud)->n_end++;
    dapr__http_respond_end(req);
}

static void test_stream_duplex(void)
{
    static const dapr__http_body_cbs_t cbs = {duplex_data, duplex_end, st_error};
    st_t t = {0};
    dapr__http_server_t *s = st_server(&t);
    dapr__http_conn_t *c = dapr__http_conn_detached(s, collect, &t);
    CHECK_EQ_INT(feed_str(c, "PUT /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n"), 0);
    CHECK_EQ_INT(dapr__http_req_read(t.req, &cbs, &t), 0);
    CHECK_EQ_INT(pump(c), 0);
    CHECK_EQ_INT(t.n_data, 1);
    CHECK_EQ_INT(feed_str(c, "1\r\nc\r\n0\r\n\r\nGET /never HTTP/1.1\r\n\r\n"), -1);
    CHECK_EQ_INT(t.n_end, 1);
    const char *o = t.x.out.data;
    CHECK(o && strstr(o, "Connection: close\r\n"));
    CHECK(o && strstr(o, "\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"));
    CHECK(o && !strstr(o, "never"));
    st_done(&t, s, c);
}

int main(void)
{
    test_pipelined_at_once_and_bytewise();
    test_deferred_answers();
    test_errors();
    test_expect_head_204_close();
    test_request_fields();
    test_cors();
    test_request_outlives_connection();
    test_shutdown_without_loop();
    test_alloc_failures();
    test_stream_pieces();
    test_stream_pause_resume();
    test_stream_errors();
    test_stream_early_answer();
    test_stream_client_gone();
    test_stream_responses();
    test_stream_duplex();
    return test_result();
}
