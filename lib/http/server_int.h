/* Private to the HTTP/1.1 transport: server.c (server, listeners, accept,
 * sans-I/O entry), server_conn.c (a connection's socket, timer, reading,
 * writing, lifetime), server_parse.c (llhttp glue, limits, dispatch, CORS
 * decisions) and server_respond.c (response heads, error replies).
 *
 * Lifetimes in one paragraph: a connection is freed only when (a) its libuv
 * handles have closed (or, for a detached connection, its owner called
 * detached_free), (b) no request of it is with the application and (c) no
 * write of it is pending. Whichever of these ends last frees it, so a client
 * that disappears while the application works leaves a "dead" connection
 * whose request stays valid until dapr__http_respond. */
#ifndef DAPR_HTTP_SERVER_INT_H
#define DAPR_HTTP_SERVER_INT_H

#include <llhttp.h>
#include <time.h>

#include "http/server.h"

#define DAPR__HTTP_LOG_SCOPE "dapr.runtime.http"
/* The shared read buffer of a server. */
#define DAPR__HTTP_RBUF_SIZE (64 * 1024)
/* Streamed responses: on_writable once fewer bytes than this are queued. */
#define DAPR__HTTP_RS_LOW (64 * 1024)

typedef enum {
    DAPR__HC_IDLE,    /* between requests: waiting for the first byte of a head */
    DAPR__HC_HEAD,    /* reading the request line and headers */
    DAPR__HC_BODY,    /* reading the body */
    DAPR__HC_APP,     /* request handed to on_request, not answered yet */
    DAPR__HC_STREAM,  /* a streamed request is with the application, its body
                       * still arriving (read only while the handler reads) */
    DAPR__HC_CLOSING, /* no more requests: flush, shut down, linger, close */
} dapr__http_conn_state_t;

/* What the last llhttp pause was for. */
enum { DAPR__HEV_NONE, DAPR__HEV_HEADERS, DAPR__HEV_MESSAGE, DAPR__HEV_BODY };

/* One queued response (or 100 Continue). Connections keep one spare so a
 * keep-alive connection does not allocate per request. */
typedef struct dapr__http_wreq {
    uv_write_t req;
    dapr__http_conn_t *conn;
    dapr__buf_t head; /* status line + headers (+ small bodies, copied) */
    char *body;       /* owned body bytes, freed once written */
} dapr__http_wreq_t;

/* Offsets of one header inside conn->head while the head is being read. */
typedef struct dapr__http_hdr_off {
    size_t name, name_len, value, value_len;
} dapr__http_hdr_off_t;

struct dapr__http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    uv_write_t errw; /* for the one transport error reply a connection can send */
    llhttp_t parser;
    dapr__http_server_t *s; /* NULL once the server is freed (orphaned connection) */
    dapr__http_conn_t *prev, *next;
    dapr__http_req_t req; /* reused for every request of the connection */
    dapr__http_conn_state_t state;

    /* lifetime (see the top of this file) */
    bool detached;
    bool closed;     /* handles closing/closed; for detached: no more I/O */
    bool owner_gone; /* detached_free was called */
    bool in_app;     /* req is with the application */
    bool dead;       /* closed while in_app: respond only frees */
    int closes_pending;
    unsigned writes_pending;

    /* input */
    bool reading, peer_eof, wblocked, seen_bytes, lingering, err_sent;
    bool want_h2c; /* the request just parsed asks for Upgrade: h2c */
    int in_parse;
    dapr__buf_t pend; /* bytes read but not parsed yet (pipelining, backpressure) */
    size_t pend_off;
    size_t linger_bytes;

    /* request being parsed */
    int ev;
    int err_status;
    const char *err_text;
    bool keep_alive;
    bool in_field;
    uint32_t nreq;
    dapr__buf_t head; /* url, names and values, each NUL-terminated */
    dapr__http_hdr_off_t *hoff;
    size_t n_hoff, cap_hoff;
    size_t url_len, field_start, value_start;
    size_t head_bytes;     /* raw head bytes before head_mark */
    const char *head_mark; /* where head counting resumes in the current input */
    size_t trailer_bytes;
    char tail[2]; /* last two head bytes of the previous input piece */
    char *body;
    size_t body_len, body_cap;

    /* CORS for the current request: 0 none, 1 "*", 2 echo cors_origin */
    int cors;
    const char *cors_origin;

    /* Streamed request body (req.streamed; reset per request only when
     * used). The piece is the on_body span waiting to go to on_data. */
    bool sb_reading;  /* dapr__http_req_read was called */
    bool sb_paused;
    bool sb_notified; /* on_end or on_error delivered (or the body is complete) */
    int sb_err;       /* why the body will not complete (DAPR_E*), 0 while fine */
    const char *piece;
    size_t piece_len;
    dapr__http_body_cbs_t sb_cbs;
    void *sb_ud;

    /* Streamed response (dapr__http_respond_start .. _end) */
    bool rs_on;       /* started */
    bool rs_gone;     /* started on a connection already gone: writes fail */
    bool rs_chunked, rs_bodyless, rs_close, rs_any, rs_want;
    int64_t rs_left;  /* body bytes still owed, -1 when unknown */
    dapr__http_wreq_t *rs_head; /* head built, not sent yet (joins the first write) */
    dapr__http_writable_cb rs_writable;
    void *rs_ud;

    /* deferred work (dapr__http_conn_defer) */
    bool kicked;
    unsigned busy; /* inside a callback of ours: not freed before it returns */
    dapr__http_conn_t *kick_next;

    /* timer: a lazily re-armed deadline (0 = none) */
    uint64_t deadline, timer_due;
    bool timer_armed;
    size_t wq_mark; /* write queue size at the last timeout check */

    dapr__http_wreq_t *wspare;
    dapr__http_write_fn wfn;
    void *wud;
    char remote_ip[64];
    char errbuf[400];
};

typedef struct dapr__http_listener {
    uv_tcp_t tcp;
    dapr__http_server_t *s;
    struct dapr__http_listener *next;
    bool closing;
} dapr__http_listener_t;

struct dapr__http_server {
    uv_loop_t *loop;
    const dapr__logger_t *log;
    dapr__logger_t own_log;
    size_t max_body, max_header;
    uint64_t header_to, idle_to, body_to;
    dapr__http_request_cb on_request;
    dapr__http_stream_pred stream_body;
    void *ud;

    /* connections with deferred work, run from an idle handle (created on
     * first use, freed in its close callback) */
    uv_idle_t *defer;
    dapr__http_conn_t *deferred;

    /* CORS: off, any origin, or a list */
    bool cors_on, cors_any;
    char *origins_mem;
    char **origins;
    size_t n_origins;

    dapr__http_listener_t *listeners;
    size_t n_listeners; /* open or closing listener handles */
    dapr__http_conn_t *conns; /* every connection not freed yet */
    size_t n_net_conns;       /* of which socket-backed */
    size_t inflight;

    bool shutting, done_fired, kick_pending;
    void (*done)(void *);
    void *done_ud;
    uv_timer_t kick; /* closed right away: makes `done` asynchronous */

    /* accept-and-close when a connection cannot be allocated */
    uv_tcp_t reject;
    bool reject_busy;
    dapr__http_listener_t *accept_stalled;

    /* h2c: the HTTP/2 engine (lib/grpc, plain mode), created on first use */
    struct dapr__grpc_server *h2;
    bool h2_open; /* its shutdown has not finished */

    char *rbuf; /* shared read buffer: input is parsed or copied before returning */
    time_t date_sec;
    char date[48]; /* "Date: ...\r\n" */
    size_t date_len;
};

/* server.c */
void dapr__http_server_check_done(dapr__http_server_t *s);

/* server_conn.c */
dapr__http_conn_t *dapr__http_conn_new(dapr__http_server_t *s);
void dapr__http_conn_accept(dapr__http_conn_t *c, uv_stream_t *listener);
void dapr__http_conn_input(dapr__http_conn_t *c, const char *data, size_t len);
void dapr__http_conn_set_deadline(dapr__http_conn_t *c, uint64_t ms);
void dapr__http_conn_touch(dapr__http_conn_t *c);
dapr__http_wreq_t *dapr__http_wreq_get(dapr__http_conn_t *c);
void dapr__http_wreq_put(dapr__http_conn_t *c, dapr__http_wreq_t *w);
/* Write iov (status line first). If `borrowed` the last buffer belongs to
 * the caller: whatever of it cannot be written now is copied. */
void dapr__http_conn_send(dapr__http_conn_t *c, dapr__http_wreq_t *w, uv_buf_t *iov, unsigned n,
                          bool borrowed);
void dapr__http_conn_send_raw(dapr__http_conn_t *c, const char *data, size_t len);
void dapr__http_conn_finish(dapr__http_conn_t *c);
void dapr__http_conn_close(dapr__http_conn_t *c);
void dapr__http_conn_resume(dapr__http_conn_t *c);
void dapr__http_conn_maybe_free(dapr__http_conn_t *c);
bool dapr__http_conn_pending_input(const dapr__http_conn_t *c);
void dapr__http_conn_update_reading(dapr__http_conn_t *c);
/* Run dapr__http_conn_service(c) from the loop (for a detached connection:
 * at the start of the next feed). */
void dapr__http_conn_defer(dapr__http_conn_t *c);
void dapr__http_conn_service(dapr__http_conn_t *c);
void dapr__http_defer_drop(dapr__http_server_t *s, dapr__http_conn_t *c);
void dapr__http_defer_close(dapr__http_server_t *s);
/* Bytes queued in the connection's uv writes. */
size_t dapr__http_conn_queued(const dapr__http_conn_t *c);

/* Whether input may be parsed now. A streamed body is parsed only while its
 * handler reads it (called read, not paused, no error). */
static inline bool dapr__http_conn_parsable(const dapr__http_conn_t *c)
{
    if (c->closed || c->wblocked)
        return false;
    switch (c->state) {
    case DAPR__HC_APP:
    case DAPR__HC_CLOSING:
        return false;
    case DAPR__HC_STREAM:
        return c->in_app && c->sb_reading && !c->sb_paused && !c->sb_err;
    default:
        return true;
    }
}

/* server_parse.c */
extern const llhttp_settings_t dapr__http_parser_settings;
size_t dapr__http_conn_parse(dapr__http_conn_t *c, const char *data, size_t len);
void dapr__http_conn_reset_request(dapr__http_conn_t *c);
/* The streamed body will not complete (DAPR_E*): stop reading it and tell
 * the handler (now if it reads, else once it does). */
void dapr__http_stream_fail(dapr__http_conn_t *c, int code);
/* Deliver a pending body error to a reading handler. */
void dapr__http_stream_notify(dapr__http_conn_t *c);
bool dapr__http_cors_allowed(const dapr__http_server_t *s, const char *origin);
/* A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method)?
 * If so, the headers of its 204 answer go into h and their count into *n. */
bool dapr__http_cors_preflight(const dapr__http_server_t *s, const dapr__http_req_t *r,
                               dapr__http_hdr_t h[5], size_t *n);

/* h2c.c */
int dapr__http_h2c_adopt(dapr__http_conn_t *c, const char *data, size_t len);
/* A complete HTTP/1.1 request asking for "Upgrade: h2c", with nothing
 * pipelined behind it: switch and serve it as stream 1. False when it is
 * not a valid upgrade (then it is served as HTTP/1.1). */
bool dapr__http_h2c_upgrade(dapr__http_conn_t *c);
void dapr__http_h2_respond(dapr__http_req_t *req, int status, const dapr__http_hdr_t *hdrs,
                           size_t n_hdrs, const void *body, size_t body_len);
void dapr__http_h2c_shutdown(dapr__http_server_t *s);
void dapr__http_h2c_free(dapr__http_server_t *s);
/* Streamed responses over h2c: gathered, sent at _end. */
int dapr__http_h2_start(dapr__http_req_t *req, int status, const dapr__http_hdr_t *hdrs,
                        size_t n_hdrs, int64_t content_length);
int dapr__http_h2_write(dapr__http_req_t *req, const void *data, size_t len);
void dapr__http_h2_end(dapr__http_req_t *req);
void dapr__http_h2_abort(dapr__http_req_t *req);

/* server_respond.c */
void dapr__http_conn_error(dapr__http_conn_t *c, int status, const char *text);
void dapr__http_reply(dapr__http_conn_t *c, int status, const dapr__http_hdr_t *hdrs,
                      size_t n_hdrs, const void *body, size_t body_len, char *owned);
/* Deferred response work: send a held head, tell a waiting writer. */
void dapr__http_respond_service(dapr__http_conn_t *c);

#endif
