/* libFuzzer target: bytes into a detached (sans-I/O) HTTP/1.1 connection.
 *
 * The first input byte picks the variant, the rest is what a client sends:
 *   bit 0     answer in on_request, or queue and answer after feed returns
 *   bit 1     CORS on ("*" or a list)
 *   bit 2     free the connection before draining the queue (dead requests)
 *   bits 3-5  feed piece size: everything at once, or 1..7 bytes at a time
 *   bit 6     drain the queue between pieces too
 * Answers vary with the request (status, HEAD, 204, respond_buf, headers)
 * so that every response path runs. */
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "http/server.h"

#define QMAX 256

typedef struct fuzz {
    bool defer;
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

static void answer(dapr__http_req_t *req)
{
    /* read everything the request exposes */
    size_t sum = strlen(req->method) + strlen(req->path) + strlen(req->query) + strlen(req->url);
    for (size_t i = 0; i < req->n_headers; i++)
        sum += strlen(req->headers[i].name) + strlen(req->headers[i].value);
    sum += req->body_len + (req->body[req->body_len] == '\0');
    const char *ct = dapr__http_req_header(req, "content-type");
    dapr__http_hdr_t h[2] = {{"Content-Type", ct ? ct : "text/plain"}, {"X-Sum", "1"}};
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

static void on_request(dapr__http_req_t *req, void *ud)
{
    fuzz_t *f = ud;
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
    const char *origins = (mode & 2) ? ((mode & 8) ? "*" : "http://a.test, https://*.b.test")
                                     : NULL;
    dapr__http_server_config_t cfg = {
        .max_body_bytes = 4096,
        .max_header_bytes = 1024,
        .allowed_origins = origins,
        .on_request = on_request,
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
    }
    if (mode & 4) {
        dapr__http_conn_detached_free(c);
        c = NULL;
    }
    drain(&f);
    dapr__http_conn_detached_free(c);
    drain(&f);
    dapr__http_server_free(s);
    return 0;
}
