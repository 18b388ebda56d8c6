/* libFuzzer target: bytes into a detached (sans-I/O) HTTP/1.1 connection.
 *
 * The first input byte picks the variant, the rest is what a client sends:
 *   bit 0     answer in on_request, or queue and answer after feed returns
 *   bit 1     CORS on ("*" or a list)
 *   bit 2     free the connection before draining the queue (dead requests)
 *   bits 3-5  feed piece size: everything at once, or 1..7 bytes at a time
 *   bit 6     drain the queue between pieces too
 *   bit 7     streamed bodies: stream_body says yes for some paths; their
 *             handler reads (pausing on some pieces, resumed between feeds),
 *             maybe echoes while reading, and answers at the end or on error
 *             (abort, 413, streamed or plain); other answers sometimes use
 *             the streamed response API (Content-Length, chunked, short,
 *             aborted)
 * Answers vary with the request (status, HEAD, 204, respond_buf, headers)
 * so that every response path runs. */
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "http/server.h"

#define QMAX 256

static bool streamed_mode; /* bit 7 of the current input */

typedef struct fuzz {
    bool defer;
    dapr__http_req_t *sreq; /* the streamed request being read */
    bool duplex, paused;
    size_t got;
    dapr__http_req_t *q[QMAX];
    size_t head, tail;
    size_t out_bytes;
} fuzz_t;

static void sink(void *ud, const void *data, size_t len)
{
    fuzz_t *f = ud;
    /* touch the bytes so ASan checks the server handed out valid memory */
    const volatile uint8_t *p = data;
    if (len)
        (void)p[0], (void)p[len - 1];
    f->out_bytes += len;
}

static void streamed_answer(dapr__http_req_t *req, size_t sum)
{
    int64_t cl = sum % 3 == 0 ? -1 : (int64_t)(sum % 40);
    if (dapr__http_respond_start(req, sum % 7 == 0 ? 204 : 200, NULL, 0, cl, NULL, NULL)) {
        dapr__http_respond_abort(req);
        return;
    }
    static const char text[] = "0123456789abcdefghijklmnopqrstuvwxyz0123";
    size_t n = cl < 0 ? sum % 41 : (size_t)cl;
    if (sum % 11 == 0)
        n /= 2; /* short: becomes an abort */
    dapr__http_respond_write(req, text, n / 2);
    dapr__http_respond_write(req, text + n / 2, n - n / 2);
    if (sum % 13 == 0)
        dapr__http_respond_abort(req);
    else
        dapr__http_respond_end(req);
}

static void answer(dapr__http_req_t *req)
{
    /* read everything the request exposes */
    size_t sum = strlen(req->method) + strlen(req->path) + strlen(req->query) + strlen(req->url);
    for (size_t i = 0; i < req->n_headers; i++)
        sum += strlen(req->headers[i].name) + strlen(req->headers[i].value);
    sum += req->body_len + (req->body[req->body_len] == '\0');
    const char *ct = dapr__http_req_header(req, "content-type");
    dapr__http_hdr_t h[2] = {{"Content-Type", ct ? ct : "text/plain"}, {"X-Sum", "1"}};
    if (streamed_mode && (sum >> 3) % 3 == 0) {
        streamed_answer(req, sum);
        return;
    }
    switch (sum % 5) {
    case 0:
        dapr__http_respond(req, 200, h, 2, req->body, req->body_len);
        break;
    case 1:
        dapr__http_respond(req, 204, NULL, 0, "ignored", 7);
        break;
    case 2: {
        dapr__buf_t b = DAPR__BUF_INIT;
        dapr__buf_append(&b, req->url, strlen(req->url));
        dapr__http_respond_buf(req, 404, h, 1, &b);
        break;
    }
    case 3:
        dapr__http_respond(req, 99 + (int)(sum % 7), NULL, 0, NULL, 0);
        break;
    default:
        dapr__http_respond(req, 500, h, 2, req->path, strlen(req->path));
        break;
    }
}

/* ---- streamed request bodies ---- */

static void s_data(dapr__http_req_t *req, const void *data, size_t len, void *ud)
{
    fuzz_t *f = ud;
    const volatile uint8_t *p = data;
    (void)p[0], (void)p[len - 1];
    f->got += len;
    if (f->duplex)
        dapr__http_respond_write(req, data, len); /* EAGAIN cannot happen detached */
    if (p[0] & 1) {
        dapr__http_req_pause(req);
        f->paused = true;
    }
}

static void s_finish(fuzz_t *f, dapr__http_req_t *req, int how)
{
    f->sreq = NULL;
    f->paused = false;
    if (f->duplex) {
        if (how)
            dapr__http_respond_abort(req);
        else
            dapr__http_respond_end(req);
    } else if (how == 1) {
        dapr__http_respond_abort(req); /* 413 after DAPR_ETOOBIG, else 502 */
    } else {
        streamed_answer(req, f->got);
    }
}

static void s_end(dapr__http_req_t *req, void *ud) { s_finish(ud, req, 0); }

static void s_error(dapr__http_req_t *req, int code, void *ud)
{
    fuzz_t *f = ud;
    if (code == DAPR_ETOOBIG && !f->duplex) {
        f->sreq = NULL;
        f->paused = false;
        dapr__http_respond(req, 413, NULL, 0, "too big\n", 8);
        return;
    }
    s_finish(f, req, 1);
}

static const dapr__http_body_cbs_t s_cbs = {s_data, s_end, s_error};

static bool s_pred(const dapr__http_req_t *req, void *ud)
{
    (void)ud;
    return req->path[0] == '/' && (req->path[1] == 's' || strlen(req->url) % 3 == 0);
}

static void s_begin(fuzz_t *f, dapr__http_req_t *req)
{
    f->sreq = req;
    f->got = 0;
    f->paused = false;
    f->duplex = strlen(req->url) % 2 == 0;
    if (f->duplex &&
        dapr__http_respond_start(req, 200, NULL, 0, strlen(req->url) % 4 ? -1 : 0, NULL, NULL)) {
        f->sreq = NULL;
        dapr__http_respond_abort(req);
        return;
    }
    if (dapr__http_req_read(req, &s_cbs, f))
        s_finish(f, req, 1);
}

/* Between feeds: resume a paused reader (the next feed delivers). */
static void s_poke(fuzz_t *f)
{
    if (f->sreq && f->paused) {
        f->paused = false;
        dapr__http_req_resume(f->sreq);
    }
}

static void on_request(dapr__http_req_t *req, void *ud)
{
    fuzz_t *f = ud;
    if (req->streamed) {
        s_begin(f, req); /* the only one of its connection until answered */
        return;
    }
    if (f->defer && f->tail - f->head < QMAX) {
        f->q[f->tail++ % QMAX] = req;
        return;
    }
    answer(req);
}

/* Answering may dispatch the next pipelined request, which queues again. */
static void drain(fuzz_t *f)
{
    while (f->head < f->tail)
        answer(f->q[f->head++ % QMAX]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    fuzz_t f = {.defer = mode & 1};
    streamed_mode = mode & 128;
    const char *origins = (mode & 2) ? ((mode & 8) ? "*" : "http://a.test, https://*.b.test")
                                     : NULL;
    dapr__http_server_config_t cfg = {
        .max_body_bytes = 4096,
        .max_header_bytes = 1024,
        .allowed_origins = origins,
        .on_request = on_request,
        .stream_body = streamed_mode ? s_pred : NULL,
        .ud = &f,
    };
    dapr__http_server_t *s;
    if (dapr__http_server_create(&s, &cfg))
        return 0;
    dapr__http_conn_t *c = dapr__http_conn_detached(s, sink, &f);
    size_t piece = (mode >> 3) & 7;
    if (!piece)
        piece = size;
    for (size_t off = 0; c && off < size; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        if (dapr__http_conn_feed(c, data + off, n) < 0)
            break;
        if (mode & 64)
            drain(&f);
        s_poke(&f);
        if (dapr__http_conn_feed(c, NULL, 0) < 0) /* deferred work */
            break;
    }
    for (int i = 0; c && i < 64 && f.sreq; i++) {
        s_poke(&f);
        if (dapr__http_conn_feed(c, NULL, 0) < 0)
            break;
    }
    if (mode & 4) {
        dapr__http_conn_detached_free(c);
        c = NULL;
    }
    drain(&f);
    dapr__http_conn_detached_free(c); /* a streamed reader hears DAPR_ECLOSED */
    drain(&f);
    if (f.sreq) /* never read (queued) or still waiting */
        s_finish(&f, f.sreq, 1);
    dapr__http_server_free(s);
    return 0;
}
