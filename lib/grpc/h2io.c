/* One HTTP/2 connection's bytes, for server and client sessions alike.
 *
 * The nghttp2 session is sans-I/O: bytes go in with mem_recv, frames come out
 * of mem_send. This file moves them between the session and either a libuv
 * socket or a write function (detached connections: fuzzing, TLS later).
 *
 * Output is batched: submits only mark the connection dirty; the scheduler's
 * prepare handle flushes it right before the loop polls, so one loop
 * iteration's responses leave in one write. uv_try_write is tried first so
 * the common case needs no write request and no allocation.
 *
 * Backpressure: while more than WQ_HIGH bytes sit in libuv's write queue we
 * neither read from the socket nor pull frames out of nghttp2 (so DATA stays
 * in the calls' bounded queues), until the queue drains below WQ_LOW.
 *
 * Re-entrancy: handler callbacks run inside mem_recv/mem_send; they may only
 * submit. Tear-down requested while engine code runs on the connection
 * (busy > 0) is deferred until it unwinds. */
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "dapr/common.h"
#include "grpc_int.h"

/* Answer for HTTP/1.x clients on a gRPC port (the preface check failed). */
static const char http1_reply[] = "HTTP/1.1 505 HTTP Version Not Supported\r\n"
                                  "Content-Type: text/plain\r\n"
                                  "Connection: close\r\n"
                                  "Content-Length: 51\r\n"
                                  "\r\n"
                                  "this port serves gRPC (HTTP/2 with prior knowledge)";

/* Write buffers up to this size are recycled (one spare per connection). */
#define KEEP_WBUF ((size_t)1 << 20)

typedef struct wreq {
    uv_write_t req;
    dapr__h2io_t *io;
    dapr__buf_t buf;
    size_t len; /* bytes accounted in io->wq_bytes */
} wreq_t;

static void *mem_malloc(size_t n, void *ud) { return dapr__malloc(n); }
static void mem_free(void *p, void *ud) { dapr__free(p); }
static void *mem_calloc(size_t n, size_t sz, void *ud) { return dapr__calloc(n, sz); }
static void *mem_realloc(void *p, size_t n, void *ud) { return dapr__realloc(p, n); }

const nghttp2_mem dapr__grpc_nghttp2_mem = {NULL, mem_malloc, mem_free, mem_calloc, mem_realloc};

/* --- scheduler ----------------------------------------------------------- */

static void dirty_unlink(dapr__h2io_t *io)
{
    if (!io->queued)
        return;
    if (io->dprev)
        io->dprev->dnext = io->dnext;
    else
        io->sched->dirty = io->dnext;
    if (io->dnext)
        io->dnext->dprev = io->dprev;
    io->dnext = io->dprev = NULL;
    io->queued = false;
}

static void on_prepare(uv_prepare_t *p)
{
    dapr__h2sched_t *s = p->data;
    dapr__h2io_t *io;
    /* Flushing may dirty other connections (a proxy handler); they are
     * appended and handled in this same pass. */
    while ((io = s->dirty) != NULL) {
        dirty_unlink(io);
        dapr__h2io_flush(io);
    }
    uv_prepare_stop(p);
}

int dapr__h2sched_init(dapr__h2sched_t *s, uv_loop_t *loop, const dapr__logger_t *log)
{
    memset(s, 0, sizeof(*s));
    s->rbuf = dapr__malloc(DAPR__GRPC_READ_BUF);
    if (!s->rbuf)
        return DAPR_ENOMEM;
    s->log = log;
    uv_prepare_init(loop, &s->prep);
    s->prep.data = s;
    return 0;
}

void dapr__h2sched_close(dapr__h2sched_t *s, uv_close_cb close_cb)
{
    dapr__free(s->rbuf);
    s->rbuf = NULL;
    uv_close((uv_handle_t *)&s->prep, close_cb);
}

/* --- connection ---------------------------------------------------------- */

void dapr__h2io_init(dapr__h2io_t *io, const dapr__h2io_vt_t *vt, dapr__h2sched_t *sched)
{
    memset(io, 0, sizeof(*io));
    io->vt = vt;
    io->sched = sched;
}

void dapr__h2io_mark_dirty(dapr__h2io_t *io)
{
    io->dirty = true;
    if (io->queued || io->dead || io->flushing || !io->ready)
        return;
    dapr__h2sched_t *s = io->sched;
    if (!s->dirty)
        uv_prepare_start(&s->prep, on_prepare);
    io->dnext = s->dirty;
    io->dprev = NULL;
    if (s->dirty)
        s->dirty->dprev = io;
    s->dirty = io;
    io->queued = true;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    dapr__h2io_t *io = h->data;
    /* Input is consumed synchronously by mem_recv, so every socket of the
     * server (or channel) can share one buffer. */
    b->base = (char *)io->sched->rbuf;
    b->len = b->base ? DAPR__GRPC_READ_BUF : 0;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    dapr__h2io_t *io = st->data;
    if (n > 0)
        dapr__h2io_feed(io, (const uint8_t *)b->base, (size_t)n);
    else if (n < 0)
        dapr__h2io_close(io, n == UV_EOF ? 0 : (int)n);
}

static void read_pause(dapr__h2io_t *io, bool pause)
{
    if (!io->tcp || io->tcp_state != DAPR__TCP_OPEN || !io->reading)
        return;
    if (pause && !io->read_paused) {
        uv_read_stop((uv_stream_t *)io->tcp);
        io->read_paused = true;
    } else if (!pause && io->read_paused) {
        io->read_paused = false;
        uv_read_start((uv_stream_t *)io->tcp, on_alloc, on_read);
    }
}

int dapr__h2io_start(dapr__h2io_t *io)
{
    io->tcp->data = io;
    io->ready = true;
    int rv = uv_read_start((uv_stream_t *)io->tcp, on_alloc, on_read);
    if (rv == 0)
        io->reading = true;
    return rv;
}

void dapr__h2io_unhold(dapr__h2io_t *io)
{
    if (--io->busy == 0 && io->want_close && !io->dead)
        dapr__h2io_close(io, io->close_err);
}

int dapr__h2io_feed(dapr__h2io_t *io, const uint8_t *data, size_t len)
{
    if (io->dead || io->want_close || io->close_when_drained)
        return DAPR_ECLOSED;
    dapr__h2io_hold(io);
    ssize_t rv = nghttp2_session_mem_recv(io->h2, data, len);
    int ret = 0;
    if (rv < 0) {
        DAPR_LOG(io->sched->log, DAPR_LOG_DEBUG, DAPR__GRPC_SCOPE, "h2 receive error: %s",
                 nghttp2_strerror((int)rv));
        if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC && len > 0 && data[0] >= 'A' && data[0] <= 'Z') {
            /* an HTTP/1.x request on a gRPC port: say so in its language */
            dapr__h2io_write_raw_and_close(io, http1_reply, sizeof(http1_reply) - 1);
        } else {
            /* nghttp2 may have queued a GOAWAY saying why; send it first */
            dapr__h2io_flush(io);
            dapr__h2io_close(io, (int)rv);
        }
        ret = DAPR_EPARSE;
    } else {
        dapr__h2io_flush(io);
    }
    dapr__h2io_unhold(io);
    return ret;
}

/* --- writing ------------------------------------------------------------- */

static void recycle(dapr__h2io_t *io, dapr__buf_t *b)
{
    if (!io->dead && !io->spare.data && b->cap <= KEEP_WBUF) {
        b->len = 0;
        b->oom = 0;
        io->spare = *b;
    } else {
        dapr__buf_free(b);
    }
    memset(b, 0, sizeof(*b));
}

static void on_write(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    dapr__h2io_t *io = w->io;
    io->wq_bytes -= w->len;
    recycle(io, &w->buf);
    dapr__free(w);
    if (io->dead)
        return; /* UV_ECANCELED from uv_close: nothing more to do */
    if (status < 0) {
        dapr__h2io_close(io, status);
        return;
    }
    if (io->close_when_drained) {
        if (io->wq_bytes == 0)
            dapr__h2io_close(io, 0);
        return;
    }
    if (io->wq_bytes <= DAPR__GRPC_WQ_LOW) {
        read_pause(io, false);
        dapr__h2io_flush(io);
    }
}

/* Hand io->out to the socket; try a direct write first. */
static int emit_tcp(dapr__h2io_t *io)
{
    size_t off = 0;
    if (io->wq_bytes == 0) {
        uv_buf_t b = uv_buf_init(io->out.data, (unsigned)io->out.len);
        int n = uv_try_write((uv_stream_t *)io->tcp, &b, 1);
        if (n < 0 && n != UV_EAGAIN && n != UV_ENOSYS)
            return n;
        if (n > 0)
            off = (size_t)n;
        if (off == io->out.len) {
            io->out.len = 0;
            return 0;
        }
    }
    wreq_t *w = dapr__calloc(1, sizeof(*w));
    if (!w)
        return UV_ENOMEM;
    w->io = io;
    w->buf = io->out;
    w->len = io->out.len - off;
    io->out = io->spare;
    memset(&io->spare, 0, sizeof(io->spare));
    uv_buf_t b = uv_buf_init(w->buf.data + off, (unsigned)w->len);
    int rv = uv_write(&w->req, (uv_stream_t *)io->tcp, &b, 1, on_write);
    if (rv < 0) {
        recycle(io, &w->buf);
        dapr__free(w);
        return rv;
    }
    io->wq_bytes += w->len;
    return 0;
}

static int emit(dapr__h2io_t *io)
{
    if (io->out.len == 0)
        return 0;
    if (io->wfn) {
        io->wfn(io->wud, io->out.data, io->out.len);
        io->out.len = 0;
        return 0;
    }
    if (!io->tcp || io->tcp_state != DAPR__TCP_OPEN)
        return UV_ENOTCONN;
    return emit_tcp(io);
}

const char *dapr__h2io_strerror(int err)
{
    if (err <= -500 && err >= -999)
        return nghttp2_strerror(err);
    return uv_strerror(err);
}

/* Serialize frames into io->out until nghttp2 has nothing or the write
 * budget is used up (then io->dirty stays set: there is more). */
static int pull(dapr__h2io_t *io)
{
    for (;;) {
        if (io->out.len + io->wq_bytes >= DAPR__GRPC_WQ_HIGH) {
            io->dirty = true;
            return 0;
        }
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(io->h2, &p);
        if (n < 0)
            return (int)n;
        if (n == 0) {
            /* a DATA callback may have paused us at the budget */
            if (io->out.len + io->wq_bytes >= DAPR__GRPC_WQ_HIGH)
                io->dirty = true;
            return 0;
        }
        if (dapr__buf_append(&io->out, p, (size_t)n))
            return NGHTTP2_ERR_NOMEM;
    }
}

int dapr__h2io_send_data(dapr__h2io_t *io, const uint8_t *framehd, dapr__grpc_outq_t *q,
                         size_t length, size_t padlen)
{
    /* We never ask for padding; handle it anyway as the contract says. */
    static const uint8_t zeros[256];
    if (dapr__buf_reserve(&io->out, 9 + length + padlen))
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    dapr__buf_append(&io->out, framehd, 9);
    if (padlen > 0) {
        uint8_t pl = (uint8_t)(padlen - 1);
        dapr__buf_append(&io->out, &pl, 1);
    }
    dapr__buf_append(&io->out, q->data + q->head, length);
    if (padlen > 1)
        dapr__buf_append(&io->out, zeros, padlen - 1);
    dapr__grpc_outq_consume(q, length);
    /* One mem_send call emits NO_COPY frames back to back; stop it at the
     * write budget so a fast producer cannot overfill the output. */
    if (io->out.len + io->wq_bytes >= DAPR__GRPC_WQ_HIGH)
        return NGHTTP2_ERR_PAUSE;
    return 0;
}

static bool session_over(dapr__h2io_t *io)
{
    return !nghttp2_session_want_read(io->h2) && !nghttp2_session_want_write(io->h2);
}

void dapr__h2io_flush(dapr__h2io_t *io)
{
    if (io->flushing || io->dead || !io->ready || io->close_when_drained)
        return;
    dirty_unlink(io);
    io->flushing = true;
    dapr__h2io_hold(io);
    int rv = 0;
    do {
        io->dirty = false;
        if ((rv = pull(io)) != 0 || (rv = emit(io)) != 0)
            break;
        if (io->vt->after_send)
            io->vt->after_send(io); /* may submit more: sets dirty */
        if (io->want_close)
            break;
    } while (io->dirty && !io->want_close && io->wq_bytes < DAPR__GRPC_WQ_HIGH);
    io->flushing = false;
    if (rv != 0) {
        DAPR_LOG(io->sched->log, DAPR_LOG_DEBUG, DAPR__GRPC_SCOPE, "h2 send error: %d", rv);
        dapr__h2io_close(io, rv);
    } else if (io->wq_bytes >= DAPR__GRPC_WQ_HIGH) {
        read_pause(io, true); /* resumes in on_write */
    } else if (!io->want_close && session_over(io)) {
        /* GOAWAY exchanged and no stream left: close once written */
        if (io->wq_bytes == 0)
            dapr__h2io_close(io, 0);
        else
            io->close_when_drained = true;
    }
    dapr__h2io_unhold(io);
}

void dapr__h2io_write_raw_and_close(dapr__h2io_t *io, const char *data, size_t len)
{
    if (io->dead)
        return;
    read_pause(io, true);
    io->out.len = 0;
    if (dapr__buf_append(&io->out, data, len) || emit(io) != 0 || io->wq_bytes == 0) {
        dapr__h2io_close(io, 0);
        return;
    }
    io->close_when_drained = true;
}

/* --- closing ------------------------------------------------------------- */

static void on_tcp_close(uv_handle_t *h)
{
    dapr__h2io_t *io = h->data;
    io->tcp_state = DAPR__TCP_NONE;
    if (io->tcp_owned)
        dapr__free(io->tcp);
    io->tcp = NULL;
    io->vt->release(io);
}

static void teardown(dapr__h2io_t *io)
{
    io->dead = true;
    dirty_unlink(io);
    io->busy++; /* handlers run from teardown; nothing may re-enter close */
    io->vt->teardown(io, io->close_err);
    io->busy--;
    nghttp2_session_del(io->h2);
    io->h2 = NULL;
    dapr__buf_free(&io->out);
    dapr__buf_free(&io->spare);
    if (io->tcp && io->tcp_state == DAPR__TCP_OPEN) {
        io->tcp_state = DAPR__TCP_CLOSING;
        io->tcp->data = io;
        uv_close((uv_handle_t *)io->tcp, on_tcp_close);
    } else if (io->tcp_state == DAPR__TCP_NONE) {
        io->vt->release(io);
    }
    /* DAPR__TCP_CLOSING (a client between two connect attempts): the close
     * callback in flight releases it. */
}

void dapr__h2io_close(dapr__h2io_t *io, int err)
{
    if (io->dead)
        return;
    if (!io->want_close) {
        io->want_close = true;
        io->close_err = err;
    }
    if (io->busy > 0)
        return; /* dapr__h2io_unhold finishes it */
    teardown(io);
}
