/* Private to the HTTP/1.1 client: client.c (the client, the wait queue,
 * request lifetime, the pool and retry decisions), client_req.c (submitting,
 * streamed bodies, pause/resume, cancel, attach), client_conn.c (a connection's socket: resolve,
 * connect, read, write, timer, lifetime), client_parse.c (llhttp glue for
 * responses), client_tls.c (TLS on a connection) and client_wait.c
 * (dapr__http_wait_port).
 *
 * Lifetimes in one paragraph: a connection is freed only in the close
 * callback of its last libuv handle (and after its getaddrinfo, if any,
 * came back), never synchronously, so a pointer to it stays valid for the
 * rest of the current callback even after dapr__hc_conn_close. A request is
 * freed after its final callback returns, unless library code further up
 * the stack still holds it (`busy`); then when that code lets go.
 *
 * User callbacks run only from "top-level" places: libuv callbacks (read,
 * write, connect, timers, the kick timer) and the cancel functions (as
 * documented). dapr__http_client_request, _write, _end, _pause and _resume
 * never call back; what they cannot finish is handed to the kick timer. */
#ifndef DAPR_HTTP_CLIENT_INT_H
#define DAPR_HTTP_CLIENT_INT_H

#include <llhttp.h>

#include "core/buf.h"
#include "http/client.h"

#define DAPR__HC_LOG_SCOPE "dapr.runtime.http.client"
#define DAPR__HC_RBUF_SIZE (64 * 1024) /* the client's shared read buffer */
/* A streamed request body: write() says EAGAIN at or above HIGH queued
 * bytes; on_writable fires once the queue is at or below LOW. */
#define DAPR__HC_WQ_HIGH (256 * 1024)
#define DAPR__HC_WQ_LOW (64 * 1024)
#define DAPR__HC_MAX_ADDRS 8

typedef struct dapr__http_cconn dapr__http_cconn_t;

typedef enum { DAPR__RQ_QUEUED, DAPR__RQ_ACTIVE, DAPR__RQ_DONE } dapr__hc_rq_state_t;

struct dapr__http_creq {
    dapr__http_client_t *c;
    dapr__http_creq_t *prev, *next; /* in c's wait queue or active list */
    dapr__http_cconn_t *conn;       /* while it has one */
    dapr__http_creq_cbs_t cbs;
    void *ud;
    uint64_t seq;
    dapr__hc_rq_state_t state;
    unsigned busy;

    dapr__buf_t head; /* request line + headers, kept for a retry */
    dapr__http_body_kind_t kind;
    const char *body; /* BODY_BUFFER, borrowed */
    size_t body_len;
    int64_t cl;       /* BODY_STREAM: declared length or -1 (chunked) */
    uint64_t written; /* BODY_STREAM: bytes accepted */
    dapr__buf_t early; /* BODY_STREAM: framed bytes accepted before attach */

    bool is_head, idempotent, retried, fresh_only;
    bool attached;      /* head handed to the connection */
    bool ended;         /* no more body from the caller */
    bool short_body;    /* ended below content_length */
    bool want_writable; /* a write said EAGAIN */
    bool paused;
    bool got_response;  /* on_response ran */
};

typedef enum {
    DAPR__CC_RESOLVING,
    DAPR__CC_CONNECTING,
    DAPR__CC_HANDSHAKE, /* TCP up, TLS handshake running (under the connect timeout) */
    DAPR__CC_ACTIVE, /* connected, carrying a request */
    DAPR__CC_IDLE,   /* connected, in the pool */
} dapr__hc_cc_state_t;

/* Where the parser is within the current response. */
enum { DAPR__HP_HEAD, DAPR__HP_BODY, DAPR__HP_TRAILERS };
/* What the last llhttp pause was for. */
enum { DAPR__HCEV_NONE, DAPR__HCEV_HEADERS, DAPR__HCEV_BODY, DAPR__HCEV_MESSAGE };

typedef struct dapr__hc_hoff {
    size_t name, value, value_len;
} dapr__hc_hoff_t;

struct dapr__http_cconn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* connect, response-head or idle deadline */
    uv_connect_t creq;
    uv_getaddrinfo_t gai;
    dapr__http_client_t *c;
    dapr__http_cconn_t *prev, *next;   /* c->conns */
    dapr__http_cconn_t *iprev, *inext; /* c->idle */
    dapr__http_cconn_t *knext;         /* c->kick_conns */
    dapr__http_creq_t *req;
    dapr__hc_cc_state_t state;
    dapr__tls_conn_t *tls; /* TLS clients: from TCP connect to the free */

    /* lifetime */
    bool closed, tcp_open, in_kick, in_idle, gai_pending;
    int handles; /* initialised handles whose close callback has not run */

    /* connecting */
    struct sockaddr_storage addrs[DAPR__HC_MAX_ADDRS];
    unsigned n_addrs, next_addr;
    int last_err; /* libuv error of the last address tried */
    char addr_text[64]; /* the address being tried, for messages */

    /* timer: a lazily re-armed deadline (0 = none), see dapr__hc_conn_arm */
    uint64_t deadline, timer_due;
    bool timer_armed;

    /* I/O */
    bool reading, peer_eof, got_bytes, wdead;
    int deferred_err; /* DAPR_E* to fail the request with from the kick */
    uint64_t nreq;    /* requests attached so far */
    dapr__buf_t pend; /* input read but not parsed yet (paused) */
    size_t pend_off;
    int in_parse;

    /* response parsing */
    llhttp_t parser;
    int hp, ev;
    bool again;     /* llhttp has work left without more input */
    bool interim;   /* the head being read is a 1xx */
    bool in_field, msg_keep_alive, extra;
    const char *body_at;
    size_t body_n;
    int err_code;        /* DAPR_E* decided inside a callback */
    const char *err_text;
    dapr__buf_t head;    /* reason, names, values (NUL-terminated) */
    dapr__hc_hoff_t *hoff;
    size_t n_hoff, cap_hoff;
    dapr__http_hdr_t *hdrs;
    size_t cap_hdrs;
    size_t reason_len, field_start, value_start;
    size_t head_bytes, extra_bytes;
    const char *head_mark;
    char tail[2];
};

struct dapr__http_client {
    uv_loop_t *loop;
    const dapr__logger_t *log;
    dapr__logger_t own_log;
    char *host;      /* brackets stripped */
    char *authority; /* Host header value: "127.0.0.1:3000", "[::1]:3000" */
    int port;
    unsigned max_conc, max_idle;
    bool no_keepalive;
    uint64_t idle_to, connect_to, header_to;
    size_t max_header;

    dapr__http_creq_t *q_head, *q_tail; /* waiting for a slot, FIFO */
    size_t n_queued;
    dapr__http_creq_t *active; /* holding a slot */
    size_t in_flight;
    uint64_t seq;

    dapr__http_cconn_t *conns; /* every connection not freed yet */
    size_t n_conns;
    dapr__http_cconn_t *idle; /* the pool, most recently used first */
    size_t n_idle;
    dapr__http_cconn_t *kick_conns; /* connections with work for the kick */

    uv_timer_t kick; /* 0 ms timer: dispatch and deferred work, off the caller's stack */
    bool kick_armed, kick_closing;
    bool closing;
    void (*done)(void *);
    void *done_ud;

    char *rbuf;
    dapr__tls_ctx_t *tls; /* NULL: plain TCP */
    uint64_t n_connects, n_reused, n_retries;
};

/* client.c */
void dapr__hc_req_free(dapr__http_creq_t *r);
/* Give r its place at the end of the wait queue (the kick starts it). */
void dapr__hc_req_enqueue(dapr__http_creq_t *r);
/* A buffered request with nothing waiting before it, a free slot and a
 * pooled plain-TCP connection: put it on that connection now rather than
 * from the kick (a turn of the loop later). Calls back nothing: attaching
 * such a request only writes. False when it must be enqueued. */
bool dapr__hc_req_start_now(dapr__http_creq_t *r);
void dapr__hc_kick(dapr__http_client_t *c);
void dapr__hc_check_done(dapr__http_client_t *c);
/* The request's connection broke (before the response was complete): retry
 * it on a fresh connection if allowed, else fail it with code/msg. */
void dapr__hc_conn_lost(dapr__http_cconn_t *conn, int code, const char *msg);
/* Final failure (closes the request's connection); no-op once done. */
void dapr__hc_req_fail(dapr__http_creq_t *r, int code, const char *msg);
/* The response is complete: pool or close the connection, then on_end. */
void dapr__hc_req_complete(dapr__http_creq_t *r, const dapr__http_hdr_t *trailers, size_t n,
                           bool keep);
void dapr__hc_req_response(dapr__http_creq_t *r, const dapr__http_cresp_t *resp);
void dapr__hc_req_body(dapr__http_creq_t *r, const char *data, size_t len);
void dapr__hc_req_writable(dapr__http_creq_t *r);
void dapr__hc_req_hold(dapr__http_creq_t *r);
void dapr__hc_req_unhold(dapr__http_creq_t *r);

/* client_req.c */
extern const char dapr__hc_last_chunk[]; /* "0\r\n\r\n" */
/* Put r on conn (pooled or just connected): send its head and what it has
 * of its body. May call on_writable or fail r: top-level places only. */
void dapr__hc_conn_attach(dapr__http_cconn_t *conn, dapr__http_creq_t *r);

/* client_conn.c */
/* Literal addresses ("127.0.0.1", "::1") and "localhost" (127.0.0.1, ::1)
 * into out; 0 for a name that needs resolving. */
unsigned dapr__hc_literal_addrs(const char *host, int port, struct sockaddr_storage *out,
                                unsigned max);
void dapr__hc_addr_text(const struct sockaddr_storage *ss, char *out, size_t len);
/* A new connection for r (r->conn set), resolving and connecting. NULL on
 * ENOMEM. */
dapr__http_cconn_t *dapr__hc_conn_open(dapr__http_client_t *c, dapr__http_creq_t *r);
dapr__http_cconn_t *dapr__hc_conn_take_idle(dapr__http_client_t *c);
void dapr__hc_conn_to_idle(dapr__http_cconn_t *conn);
void dapr__hc_conn_close(dapr__http_cconn_t *conn);
/* Write iov; `stable` data outlives the write (the request's head, early
 * bytes or buffer body), other data is copied if it cannot leave at once.
 * Returns 0 or DAPR_EIO (the connection cannot be written any more; its
 * reading side reports the outcome). */
int dapr__hc_conn_send(dapr__http_cconn_t *conn, uv_buf_t *iov, unsigned n, bool stable);
/* The socket as is, under TLS (client_tls.c sends its records here). */
int dapr__hc_conn_raw_send(dapr__http_cconn_t *conn, uv_buf_t *iov, unsigned n, bool stable);
/* Plaintext response bytes arrived (parsed, or held while paused). */
void dapr__hc_conn_input(dapr__http_cconn_t *conn, const char *data, size_t len);
/* The peer closed its side (TCP FIN, or a TLS close_notify). */
void dapr__hc_conn_eof(dapr__http_cconn_t *conn);
/* Connected (TLS: handshake done): attach the request. */
void dapr__hc_conn_ready(dapr__http_cconn_t *conn);
size_t dapr__hc_conn_queued(const dapr__http_cconn_t *conn);
void dapr__hc_conn_arm(dapr__http_cconn_t *conn, uint64_t ms);
void dapr__hc_conn_update_reading(dapr__http_cconn_t *conn);
/* Queue the connection for the kick (resume parsing, deferred error). */
void dapr__hc_conn_kick(dapr__http_cconn_t *conn);
void dapr__hc_conn_process(dapr__http_cconn_t *conn);

/* client_tls.c: the TLS engine (core/tls.h) between a connection and its
 * socket. */
/* TCP is up: create the session, send the ClientHello, read (the connect
 * timer keeps running); dapr__hc_conn_ready follows the handshake, or the
 * request fails with DAPR_EUNAVAIL. */
void dapr__hc_tls_start(dapr__http_cconn_t *conn);
/* Ciphertext from the socket: advance the handshake, deliver plaintext. */
void dapr__hc_tls_input(dapr__http_cconn_t *conn, const char *data, size_t len);
/* Encrypt and write. Returns 0 or DAPR_EIO (as dapr__hc_conn_send). */
int dapr__hc_tls_send(dapr__http_cconn_t *conn, uv_buf_t *iov, unsigned n);

/* client_parse.c */
/* Ready the parser for a new request's response. */
void dapr__hc_parse_reset(dapr__http_cconn_t *conn);
/* Feed input; returns bytes consumed (less than len when the request is
 * paused, finished or failed). */
size_t dapr__hc_parse(dapr__http_cconn_t *conn, const char *data, size_t len);
/* The peer closed and every byte before it is parsed. */
void dapr__hc_parse_eof(dapr__http_cconn_t *conn);

#endif
