/* libFuzzer target: raw bytes from a "client" into a detached gRPC server
 * connection (nghttp2 session + gRPC framing + call handling), whose methods
 * answer at once. The first input byte picks the mode:
 *   bit 0     prepend the client connection preface (get past it quickly)
 *   bits 1-3  feed in chunks of 2^k bytes (0: all at once) to split frames
 *   bit 7     use a server in plain HTTP/2 mode (h2c requests of the HTTP port)
 * The seed corpus (corpus/) holds recorded valid sessions; see
 * gen_corpus.c. */
#include <stdint.h>
#include <string.h>

#include "core/errors.h"
#include "core/log.h"
#include "dapr/common.h"
#include "grpc/grpc.h"

static uv_loop_t loop;
static dapr__logger_t logger;
static dapr__grpc_server_t *srv;
static size_t out_bytes;

static void sink(void *ud, const void *data, size_t len) { out_bytes += len; }

static void echo(dapr__grpc_call_t *c, const uint8_t *m, size_t n)
{
    dapr__grpc_call_add_header(c, "x-echo-bin", m, n < 16 ? n : 16);
    dapr__grpc_call_send(c, m, n);
    dapr__grpc_call_finish(c, 0, NULL, NULL, 0);
}

static void three(dapr__grpc_call_t *c, const uint8_t *m, size_t n)
{
    for (int i = 0; i < 3; i++)
        dapr__grpc_call_send(c, m, n);
    dapr__grpc_call_finish(c, 0, NULL, NULL, 0);
}

static void fail(dapr__grpc_call_t *c, const uint8_t *m, size_t n)
{
    dapr__grpc_call_finish(c, DAPR_GRPC_NOT_FOUND, "not \xff found %", m, n);
}

static void bidi(dapr__grpc_call_t *c, const uint8_t *m, size_t n)
{
    if (dapr__grpc_call_send(c, m, n) != 0)
        dapr__grpc_call_finish(c, DAPR_GRPC_RESOURCE_EXHAUSTED, "full", NULL, 0);
}

static void done(dapr__grpc_call_t *c) { dapr__grpc_call_finish(c, 0, "done", NULL, 0); }
static void cancel(dapr__grpc_call_t *c) { dapr__grpc_call_finish(c, 1, NULL, NULL, 0); }

static void start(dapr__grpc_call_t *c)
{
    const dapr__grpc_md_t *md;
    size_t n = dapr__grpc_call_md(c, &md);
    if (dapr__grpc_call_md_get(c, "dapr-app-id") || n > 3)
        dapr__grpc_call_finish(c, DAPR_GRPC_UNKNOWN, dapr__grpc_call_path(c), NULL, 0);
}

static const dapr__grpc_method_t methods[] = {
    {.path = "/f.S/Unary", .kind = DAPR__GRPC_UNARY, .on_request = echo, .on_cancel = cancel},
    {.path = "/f.S/Server", .kind = DAPR__GRPC_SERVER_STREAM, .on_request = three,
     .on_cancel = cancel},
    {.path = "/f.S/Client", .kind = DAPR__GRPC_CLIENT_STREAM, .on_message = bidi,
     .on_half_close = done, .on_cancel = cancel},
    {.path = "/f.S/Bidi", .kind = DAPR__GRPC_BIDI, .on_message = bidi, .on_half_close = done,
     .on_cancel = cancel},
    {.path = "/f.S/Fail", .kind = DAPR__GRPC_UNARY, .on_request = fail, .on_cancel = cancel},
};

static const dapr__grpc_method_t fallback = {.path = "*", .kind = DAPR__GRPC_BIDI,
                                             .on_start = start, .on_message = bidi,
                                             .on_half_close = done, .on_cancel = cancel};

/* Plain HTTP/2 mode (the h2c side of the HTTP port): echo the body. */
static void plain(dapr__grpc_call_t *c, const uint8_t *body, size_t len)
{
    static const char *const h[] = {"Content-Type", "text/plain", "Connection", "close"};
    dapr__grpc_call_respond_plain(c, len % 7 ? 200 : 204, h, 2, body, len);
}

static void plain_cancel(dapr__grpc_call_t *c) { (void)c; }

static const dapr__grpc_method_t plain_row = {.path = "*", .kind = DAPR__GRPC_UNARY,
                                              .on_request = plain, .on_cancel = plain_cancel};
static dapr__grpc_server_t *psrv;

static void init(void)
{
    uv_loop_init(&loop);
    dapr__logger_init(&logger);
    logger.level = DAPR_LOG_FATAL;
    dapr__grpc_server_config_t cfg = {.loop = &loop, .log = &logger, .max_recv_msg = 65536,
                                      .max_header_list = 16384, .methods = methods,
                                      .n_methods = sizeof(methods) / sizeof(methods[0]),
                                      .fallback = &fallback};
    if (dapr__grpc_server_create(&srv, &cfg) != 0)
        __builtin_trap();
    cfg.plain = &plain_row;
    if (dapr__grpc_server_create(&psrv, &cfg) != 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    if (!srv)
        init();
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    /* bit 7: the server in plain HTTP/2 mode (h2c on the HTTP port) */
    dapr__grpc_conn_t *c = dapr__grpc_conn_detached(mode & 0x80 ? psrv : srv, sink, NULL);
    if (!c)
        return 0;
    int rv = 0;
    if (mode & 1)
        rv = dapr__grpc_conn_feed(c, preface, sizeof(preface) - 1);
    size_t chunk = (mode >> 1) & 7 ? (size_t)1 << ((mode >> 1) & 7) : size;
    for (size_t off = 0; rv == 0 && off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        rv = dapr__grpc_conn_feed(c, data + off, n);
        uv_run(&loop, UV_RUN_NOWAIT); /* deadlines ("0m") and deferred flushes */
    }
    dapr__grpc_conn_detached_free(c);
    return 0;
}
