/* Internals shared by the files of the gRPC engine (lib/grpc/).
 *
 * Layers, bottom up:
 *  - codec.c    grpc-timeout, percent-encoding, base64 (pure functions)
 *  - framing.c  5-byte message prefix: the receive deframer and the send queue
 *  - deadline.c a min-heap of deadlines behind one uv timer (server, channel)
 *  - h2io.c     one HTTP/2 connection's bytes: nghttp2 session ⇄ socket or a
 *               write function (sans-I/O), write batching, backpressure
 *  - server.c, session.c, call.c   the server side
 *  - channel.c, client.c           the client side
 */
#ifndef DAPR_GRPC_GRPC_INT_H
#define DAPR_GRPC_GRPC_INT_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "core/map.h"
#include "core/pool.h"
#include "grpc/grpc.h"

/* Bounds. A call's send queue refuses new messages (DAPR_EAGAIN) once it
 * holds more than OUTQ_HIGH bytes and reports on_writable below OUTQ_LOW. A
 * connection stops reading from its socket and stops pulling frames out of
 * nghttp2 while more than WQ_HIGH bytes wait in libuv, until below WQ_LOW. */
#define DAPR__GRPC_OUTQ_HIGH ((size_t)4 << 20)
#define DAPR__GRPC_OUTQ_LOW ((size_t)1 << 20)
#define DAPR__GRPC_WQ_HIGH ((size_t)4 << 20)
#define DAPR__GRPC_WQ_LOW ((size_t)1 << 20)
#define DAPR__GRPC_READ_BUF ((size_t)64 << 10)
#define DAPR__GRPC_STREAM_WINDOW ((int32_t)1 << 20)
#define DAPR__GRPC_CONN_WINDOW ((int32_t)4 << 20)
#define DAPR__GRPC_MAX_STREAMS 1000
#define DAPR__GRPC_DEFAULT_MAX_MSG ((size_t)4 << 20)
#define DAPR__GRPC_CALL_POOL 2048

#define DAPR__GRPC_SCOPE "dapr.runtime.grpc"
#define DAPR__GRPC_USER_AGENT "libdapr/0.1"

/* --- codec.c ---------------------------------------------------------- */

/* grpc-timeout value ("100m", "5S"): 1-8 digits and a unit H M S m u n.
 * Rounded up to whole milliseconds. Returns 0 or DAPR_EINVAL. */
int dapr__grpc_timeout_parse(const char *s, size_t n, uint64_t *ms);
/* The grpc-timeout header for a timeout in ms (at most 8 digits, so large
 * values use a coarser unit, rounded up). out: 16 bytes, NUL-terminated. */
size_t dapr__grpc_timeout_format(uint64_t ms, char out[16]);
/* grpc-message encoding: bytes outside 0x20-0x7E and '%' become %XX. out
 * needs 3n+1 bytes; NUL-terminated; returns the length. */
size_t dapr__grpc_pct_encode(const char *s, size_t n, char *out);
/* Lenient decoding: malformed escapes are copied as they are. out needs n+1
 * bytes; NUL-terminated; returns the length. */
size_t dapr__grpc_pct_decode(const char *s, size_t n, char *out);
/* Standard-alphabet base64. Encode: out needs 4*((n+2)/3)+1 bytes; returns
 * the length (without '=' padding unless `pad`). Decode accepts padded and
 * unpadded input; out needs 3*((n+3)/4) bytes; returns the length or -1. */
size_t dapr__grpc_b64_encode(const uint8_t *in, size_t n, char *out, bool pad);
long dapr__grpc_b64_decode(const char *in, size_t n, uint8_t *out);
/* The 5-byte message prefix. */
void dapr__grpc_prefix(uint8_t out[5], bool compressed, uint32_t len);
/* gRPC code a client synthesizes for a non-200 HTTP :status. */
int dapr__grpc_code_from_http(int http_status);

/* --- framing.c -------------------------------------------------------- */

/* Reassembles length-prefixed messages from DATA chunks. A message that
 * lies whole inside one chunk is handed out in place (no copy). */
typedef struct dapr__grpc_deframer {
    uint8_t hdr[5];
    uint8_t nhdr;   /* prefix bytes collected */
    bool in_body;   /* prefix complete, collecting `len` bytes */
    uint32_t len;   /* current message length */
    uint8_t *buf;   /* reassembly buffer (only for split messages) */
    size_t cap, have;
} dapr__grpc_deframer_t;

enum {
    DAPR__GRPC_DF_TOO_BIG = -1000, /* d->len holds the announced length */
    DAPR__GRPC_DF_COMPRESSED = -1001,
    DAPR__GRPC_DF_BAD_FLAG = -1002
};

/* Called per complete message; `msg` lives during the call (it may be
 * d->buf, see dapr__grpc_deframer_steal). A nonzero return stops the feed and
 * is returned by it. */
typedef int (*dapr__grpc_msg_fn)(void *ud, const uint8_t *msg, size_t len);

/* Feed bytes; returns 0, DAPR_ENOMEM, a DAPR__GRPC_DF_* code or the message
 * callback's nonzero return. Nothing past a bad prefix is buffered. */
int dapr__grpc_deframe(dapr__grpc_deframer_t *d, const uint8_t *p, size_t n, size_t max,
                       dapr__grpc_msg_fn fn, void *ud);
/* Inside the message callback, when msg == d->buf: take ownership of it
 * (free with dapr__free). */
uint8_t *dapr__grpc_deframer_steal(dapr__grpc_deframer_t *d);
static inline bool dapr__grpc_deframer_idle(const dapr__grpc_deframer_t *d)
{
    return d->nhdr == 0 && !d->in_body;
}
void dapr__grpc_deframer_free(dapr__grpc_deframer_t *d);

/* Outgoing bytes of one stream: prefixed messages, consumed from the head
 * as DATA frames go out. */
typedef struct dapr__grpc_outq {
    uint8_t *data;
    size_t cap, head, tail;
    size_t msg_rem; /* bytes of the message at head still to send (0: boundary) */
    bool raw;       /* plain HTTP/2 body: no message prefixes */
} dapr__grpc_outq_t;

static inline size_t dapr__grpc_outq_len(const dapr__grpc_outq_t *q) { return q->tail - q->head; }
/* Append prefix + message. Returns 0 or DAPR_ENOMEM. */
int dapr__grpc_outq_push(dapr__grpc_outq_t *q, const void *msg, size_t len);
void dapr__grpc_outq_consume(dapr__grpc_outq_t *q, size_t n);
/* Append bytes without a prefix (plain HTTP/2 responses only). */
int dapr__grpc_outq_push_raw(dapr__grpc_outq_t *q, const void *data, size_t len);
/* Forget whole messages not yet started (the rest of a message partly sent
 * stays so the peer's framing is not broken). */
void dapr__grpc_outq_drop_unsent(dapr__grpc_outq_t *q);
void dapr__grpc_outq_free(dapr__grpc_outq_t *q);

/* --- deadline.c ------------------------------------------------------- */

typedef struct dapr__grpc_dl {
    uint64_t at;  /* uv_now() milliseconds */
    size_t slot;  /* index + 1 in the heap; 0 = not queued */
} dapr__grpc_dl_t;

typedef struct dapr__grpc_dlheap dapr__grpc_dlheap_t;
typedef void (*dapr__grpc_dl_fn)(dapr__grpc_dlheap_t *h, dapr__grpc_dl_t *d);

struct dapr__grpc_dlheap {
    uv_timer_t timer;
    dapr__grpc_dl_t **v;
    size_t n, cap;
    uint64_t armed_at; /* UINT64_MAX: not armed */
    dapr__grpc_dl_fn expire;
    void *ud;
};

void dapr__grpc_dlheap_init(dapr__grpc_dlheap_t *h, uv_loop_t *loop, dapr__grpc_dl_fn fn,
                            void *ud);
/* Queue d to expire at `at` (uv_now ms). Returns 0 or DAPR_ENOMEM. */
int dapr__grpc_dlheap_add(dapr__grpc_dlheap_t *h, dapr__grpc_dl_t *d, uint64_t at);
void dapr__grpc_dlheap_del(dapr__grpc_dlheap_t *h, dapr__grpc_dl_t *d);
/* Free the array; the timer is closed by the owner (uv_close(&h->timer)). */
void dapr__grpc_dlheap_free(dapr__grpc_dlheap_t *h);

/* --- h2io.c ----------------------------------------------------------- */

typedef struct dapr__h2io dapr__h2io_t;

/* Flushes dirty connections right before the loop polls, so everything a
 * loop iteration submitted goes out in one write per connection. One per
 * server and per channel; it also owns the shared read buffer. */
typedef struct dapr__h2sched {
    uv_prepare_t prep;
    dapr__h2io_t *dirty;  /* doubly linked through io->dnext/dprev */
    uint8_t *rbuf;        /* DAPR__GRPC_READ_BUF bytes, for all sockets */
    const dapr__logger_t *log;
} dapr__h2sched_t;

typedef struct dapr__h2io_vt {
    /* After each round of frames was serialized: run deferred notifications
     * (on_writable). Optional. */
    void (*after_send)(dapr__h2io_t *io);
    /* The connection is going away (err 0: orderly). The session is still
     * valid; cancel the calls. */
    void (*teardown)(dapr__h2io_t *io, int err);
    /* No handle left: the owner may free the memory. */
    void (*release)(dapr__h2io_t *io);
} dapr__h2io_vt_t;

enum { DAPR__TCP_NONE = 0, DAPR__TCP_OPEN, DAPR__TCP_CLOSING };

struct dapr__h2io {
    const dapr__h2io_vt_t *vt;
    dapr__h2sched_t *sched;
    nghttp2_session *h2;
    uv_tcp_t *tcp;            /* NULL for a detached connection */
    int tcp_state;            /* DAPR__TCP_* */
    bool tcp_owned;           /* dapr__free(tcp) after close (adopted) */
    dapr__grpc_write_fn wfn;  /* detached: output goes here */
    void *wud;
    dapr__buf_t out;          /* frames serialized, not yet handed out */
    dapr__buf_t spare;        /* a recycled write buffer */
    size_t wq_bytes;          /* bytes in uv_write requests in flight */
    dapr__h2io_t *dnext, *dprev;
    unsigned busy;            /* nesting depth of engine code on this io */
    bool ready;               /* connected: flushing allowed */
    bool queued;              /* in sched->dirty */
    bool dirty;               /* frames may be pending */
    bool flushing;
    bool reading, read_paused;
    bool want_close, dead, close_when_drained;
    int close_err;
};

int dapr__h2sched_init(dapr__h2sched_t *s, uv_loop_t *loop, const dapr__logger_t *log);
/* Close the prepare handle (close_cb gets it) and free the read buffer. */
void dapr__h2sched_close(dapr__h2sched_t *s, uv_close_cb close_cb);

void dapr__h2io_init(dapr__h2io_t *io, const dapr__h2io_vt_t *vt, dapr__h2sched_t *sched);
/* Start reading an open socket (io->tcp set, tcp_state OPEN, ready). */
int dapr__h2io_start(dapr__h2io_t *io);
/* Bytes from the peer: nghttp2_session_mem_recv, then flush. */
int dapr__h2io_feed(dapr__h2io_t *io, const uint8_t *data, size_t len);
/* Something was submitted: flush before the loop polls again. */
void dapr__h2io_mark_dirty(dapr__h2io_t *io);
/* Serialize and write everything nghttp2 has to send, now. */
void dapr__h2io_flush(dapr__h2io_t *io);
/* Tear the connection down (deferred while engine code runs on it). */
void dapr__h2io_close(dapr__h2io_t *io, int err);
/* Write raw bytes (not HTTP/2), then close once they are out. */
void dapr__h2io_write_raw_and_close(dapr__h2io_t *io, const char *data, size_t len);
/* DATA frame payload for NGHTTP2_DATA_FLAG_NO_COPY: frame header + bytes
 * from q go straight to the output buffer (one copy). Returns 0,
 * NGHTTP2_ERR_PAUSE (written; the write budget is used up) or
 * NGHTTP2_ERR_CALLBACK_FAILURE. */
int dapr__h2io_send_data(dapr__h2io_t *io, const uint8_t *framehd, dapr__grpc_outq_t *q,
                         size_t length, size_t padlen);
/* Text for a close error: a libuv error or an nghttp2 one (-500..-999). */
const char *dapr__h2io_strerror(int err);
static inline void dapr__h2io_hold(dapr__h2io_t *io) { io->busy++; }
void dapr__h2io_unhold(dapr__h2io_t *io);

/* nghttp2 allocations go through dapr__malloc (failure injection). */
extern const nghttp2_mem dapr__grpc_nghttp2_mem;

/* --- server side -------------------------------------------------------- */

typedef struct dapr__grpc_respnv {
    nghttp2_nv *v;
    size_t n, cap;
} dapr__grpc_respnv_t;

struct dapr__grpc_call {
    dapr__pool_t pool; /* holds this struct, metadata, headers */
    dapr__grpc_conn_t *conn; /* NULL once detached from the connection */
    dapr__grpc_call_t *prev, *next; /* conn->calls */
    int32_t stream_id;
    const dapr__grpc_method_t *method;
    void *server_ud, *user;
    size_t max_recv;

    /* request */
    char *path;
    dapr__grpc_md_t *md;
    size_t n_md, cap_md;
    size_t hdr_bytes;
    uint64_t timeout_ms;
    int reject_status;       /* set while parsing headers: answer this */
    const char *reject_msg;
    bool is_post, ct_ok, has_timeout;
    bool plain;              /* a plain HTTP/2 request (config.plain) */
    char *http_method;       /* :method */
    char *content_type;
    dapr__buf_t body;        /* plain: the request body */
    dapr__grpc_deframer_t rx;
    uint8_t *req;            /* unary: the request message */
    size_t req_len;
    uint8_t *req_owned;      /* ... when stolen from the deframer */
    unsigned n_req;

    /* response */
    dapr__grpc_outq_t tx;
    dapr__grpc_respnv_t hdrs;      /* added with dapr__grpc_call_add_header */
    nghttp2_nv *trailers;          /* set when the status is decided */
    size_t n_trailers;
    dapr__grpc_dl_t dl;

    unsigned busy;
    bool accepting;      /* routed; request messages are delivered */
    bool involved;       /* a handler callback ran: it owes a finish */
    bool remote_closed;  /* client half-closed */
    bool resp_started;   /* response HEADERS submitted with a data provider */
    bool deferred;       /* data provider returned NGHTTP2_ERR_DEFERRED */
    bool wire_done;      /* end of response decided (trailers queued/sent) */
    bool finished;       /* dapr__grpc_call_finish ran (or nobody owes it) */
    bool cancelled;      /* on_cancel ran */
    bool stream_closed;
    bool want_writable, writable_pending;
    bool rx_paused;              /* dapr__grpc_call_pause_recv */
    size_t rx_held;              /* DATA bytes not yet returned to the stream window */
    dapr__grpc_respnv_t tr;      /* added with dapr__grpc_call_add_trailer */
};

struct dapr__grpc_conn {
    dapr__h2io_t io; /* first: the session's user_data is the conn */
    uv_tcp_t tcp_storage;
    dapr__grpc_server_t *srv;
    dapr__grpc_conn_t *prev, *next;
    dapr__grpc_call_t *calls; /* calls with an open stream */
    size_t n_calls;
    size_t n_writable; /* calls with writable_pending */
    bool detached;
};

struct dapr__grpc_server {
    uv_loop_t *loop;
    const dapr__logger_t *log;
    dapr__grpc_server_config_t cfg;
    dapr__map_t routes;
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    dapr__h2sched_t sched;
    dapr__grpc_dlheap_t dl;
    uv_timer_t shut_timer;
    uv_tcp_t **listeners; /* slots become NULL once closed */
    size_t n_listeners;
    size_t n_listen_open;
    dapr__grpc_conn_t *conns;
    size_t n_conns;     /* socket connections (detached ones not counted) */
    unsigned n_handles; /* open uv handles */
    int phase;          /* 0 serving, 1 notice sent, 2 GOAWAY sent, 3 forced */
    bool shutting_down, core_closing, freeing;
    void (*done)(void *ud);
    void *done_ud;
};

/* session.c */
extern const dapr__h2io_vt_t dapr__grpc_conn_vt;
int dapr__grpc_conn_session_new(dapr__grpc_conn_t *c);
/* Upgrade the fresh session and build stream 1's call (not dispatched). */
int dapr__grpc_conn_upgrade(dapr__grpc_conn_t *c, const dapr__grpc_upgrade_t *u,
                            dapr__grpc_call_t **out);
/* Hand a complete plain request to the plain row. */
void dapr__grpc_plain_dispatch(dapr__grpc_call_t *c);
void dapr__grpc_server_callbacks(nghttp2_session_callbacks *cbs);

/* call.c */
dapr__grpc_call_t *dapr__grpc_call_new(dapr__grpc_conn_t *conn, int32_t stream_id);
void dapr__grpc_call_on_stream_close(dapr__grpc_call_t *c, uint32_t error_code);
/* Detach every call of a dying connection, cancel them, release them. */
void dapr__grpc_call_teardown_all(dapr__grpc_conn_t *conn);
/* The engine ends a call: on_cancel if a handler is involved, then status
 * trailers if the stream is still open. */
void dapr__grpc_call_fail(dapr__grpc_call_t *c, int status, const char *msg);
/* A non-gRPC answer (415) without grpc-status. */
void dapr__grpc_call_http_error(dapr__grpc_call_t *c, int http_status);
/* Deadline expiry (server's dlheap callback). */
void dapr__grpc_call_deadline(dapr__grpc_dlheap_t *h, dapr__grpc_dl_t *d);
void dapr__grpc_call_maybe_free(dapr__grpc_call_t *c);
void dapr__grpc_conn_after_send(dapr__h2io_t *io);
ssize_t dapr__grpc_call_read_cb(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                                uint32_t *flags, nghttp2_data_source *src, void *ud);
int dapr__grpc_call_send_data_cb(nghttp2_session *s, nghttp2_frame *f, const uint8_t *framehd,
                                 size_t length, nghttp2_data_source *src, void *ud);

/* server.c */
void dapr__grpc_server_conn_released(dapr__grpc_server_t *s, dapr__grpc_conn_t *c);

/* --- client side -------------------------------------------------------- */

typedef struct dapr__grpc_cconn dapr__grpc_cconn_t;

typedef struct dapr__grpc_mdv {
    dapr__grpc_md_t *v;
    size_t n, cap;
} dapr__grpc_mdv_t;

struct dapr__grpc_ccall {
    dapr__pool_t pool;
    dapr__grpc_channel_t *ch;
    dapr__grpc_cconn_t *conn;
    dapr__grpc_ccall_t *prev, *next; /* conn->calls */
    int32_t stream_id;
    dapr__grpc_ccall_cbs_t cbs;
    void *ud;
    dapr__grpc_outq_t tx;
    dapr__grpc_deframer_t rx;
    dapr__grpc_dl_t dl;
    dapr__grpc_mdv_t hmd, tmd; /* response headers, trailers */
    int http_status;
    int grpc_status;           /* -1 until a grpc-status arrived */
    char *grpc_message;
    bool in_trailers;
    unsigned busy;
    bool half_close;       /* asked for */
    bool deferred;
    bool headers_seen;
    bool closed;           /* on_close ran (or runs) */
    bool want_writable, writable_pending;
    bool rx_paused;        /* dapr__grpc_ccall_pause_recv */
    size_t rx_held;        /* DATA bytes not yet returned to the stream window */
};

enum { DAPR__CC_RESOLVING = 0, DAPR__CC_CONNECTING, DAPR__CC_READY, DAPR__CC_DRAINING };

struct dapr__grpc_cconn {
    dapr__h2io_t io; /* first */
    dapr__grpc_channel_t *ch;
    dapr__grpc_cconn_t *prev, *next;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_getaddrinfo_t gai;
    bool gai_pending;
    bool released;
    int state;
    struct sockaddr_storage addrs[8];
    size_t n_addrs, addr_idx;
    int last_err;
    dapr__grpc_ccall_t *calls;
    size_t n_calls;
    size_t n_writable;
};

struct dapr__grpc_channel {
    uv_loop_t *loop;
    const dapr__logger_t *log;
    char *host;
    char *authority;
    int port;
    size_t max_recv;
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    dapr__h2sched_t sched;
    dapr__grpc_dlheap_t dl;
    dapr__grpc_cconn_t *conn;  /* where new calls go */
    dapr__grpc_cconn_t *conns; /* all, including draining */
    unsigned n_handles;
    bool closing, core_closing;
    void (*done)(void *ud);
    void *done_ud;
};

/* client.c */
extern const dapr__h2io_vt_t dapr__grpc_cconn_vt;
void dapr__grpc_client_callbacks(nghttp2_session_callbacks *cbs);
int dapr__grpc_ccall_submit(dapr__grpc_ccall_t *cc, const char *path, const dapr__grpc_md_t *md,
                            size_t n_md, uint64_t timeout_ms);
/* End the call: RST_STREAM(CANCEL) if the stream is open, on_close, free
 * (unless pinned by `busy`; then dapr__grpc_ccall_unbusy frees). */
void dapr__grpc_ccall_close(dapr__grpc_ccall_t *cc, int status, const char *msg);
void dapr__grpc_ccall_unbusy(dapr__grpc_ccall_t *cc);
void dapr__grpc_ccall_deadline(dapr__grpc_dlheap_t *h, dapr__grpc_dl_t *d);

/* channel.c */
/* The connection new calls go on, created (and connecting) if needed. */
dapr__grpc_cconn_t *dapr__grpc_channel_conn(dapr__grpc_channel_t *ch);
void dapr__grpc_cconn_lost(dapr__grpc_cconn_t *cc);

#endif
