/* HTTP/1.1 client on llhttp + libuv: the app channel's and HTTP endpoints'
 * way out.
 *
 * One dapr__http_client_t talks to one target (host, port). It keeps a pool
 * of keep-alive connections, bounds the requests in flight (excess requests
 * wait in FIFO order, they are never dropped) and streams bodies both ways:
 * a request body can be pushed chunk by chunk with backpressure, a response
 * body is handed over as it arrives and can be paused, so a 100 MB body
 * goes through in bounded memory.
 *
 * Everything runs on one uv loop; no call blocks. Names other than IP
 * literals are resolved with uv_getaddrinfo (thread pool); "localhost" is
 * not looked up: it means 127.0.0.1, then ::1.
 *
 * Callback order for one request (after dapr__http_client_request returned
 * 0), never from inside that call:
 *
 *     on_response  once, unless the request fails first
 *     on_body      0..n times, only after on_response
 *     then exactly one of  on_end (success)  or  on_error (failure, cancel)
 *     on_writable  0..n times, only for a streamed body, only after a write
 *                  returned DAPR_EAGAIN, never after the final callback
 *
 * The request handle is valid from a successful dapr__http_client_request
 * until its final callback (on_end or on_error) returns; it must not be
 * touched afterwards. Every callback may call any function of this file
 * (cancel the request itself, submit new ones, close the client).
 *
 * Error codes handed to on_error (err->message says more, e.g. the address):
 *   DAPR_EUNAVAIL   could not connect (refused, unreachable, name not found)
 *   DAPR_ETIMEDOUT  connect timeout or response header timeout
 *   DAPR_EIO        connection reset or another socket error
 *   DAPR_ECLOSED    the server closed the connection before the response was
 *                   complete (mid-head or mid-body)
 *   DAPR_EPARSE     malformed response (bad status line, bad chunk, ...)
 *   DAPR_ETOOBIG    response head (or trailers) over max_header_bytes
 *   DAPR_ECANCELED  dapr__http_creq_cancel / dapr__http_client_cancel_all
 *   DAPR_ENOMEM     out of memory
 *   DAPR_EINVAL     a streamed body ended short of its declared length
 */
#ifndef DAPR_HTTP_CLIENT_H
#define DAPR_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/log.h"
#include "core/tls.h"
#include "dapr/common.h"
#include "http/server.h" /* dapr__http_hdr_t */

typedef struct dapr__http_client dapr__http_client_t;
typedef struct dapr__http_creq dapr__http_creq_t;

/* --- the client ----------------------------------------------------------- */

typedef struct dapr__http_client_config {
    uv_loop_t *loop;
    const dapr__logger_t *log; /* borrowed, must outlive the client; NULL: warnings only */
    const char *host; /* copied: "127.0.0.1", "::1" or "[::1]", "localhost", a DNS name */
    int port;         /* 1..65535 */
    unsigned max_concurrency;    /* requests in flight; 0 = unlimited; excess waits (FIFO) */
    unsigned max_idle;           /* idle keep-alive connections kept; 0 = 64 */
    bool no_keepalive;           /* close every connection after its response */
    uint64_t idle_timeout_ms;    /* an idle pooled connection is closed after; 0 = 90000 */
    uint64_t connect_timeout_ms; /* per address tried; 0 = 10000 */
    /* From the moment the whole request has been handed to the socket until
     * the final response head is in; 0 = no limit (the default: a caller
     * that wants a deadline on the whole call cancels it). */
    uint64_t header_timeout_ms;
    size_t max_header_bytes; /* status line + headers; trailers apart; 0 = 64 KiB */
    /* NULL: plain TCP. Else every connection speaks TLS 1.2+ (mbedTLS, see
     * core/tls.h) with what this describes (borrowed for the call: parsed
     * into the client): the server certificate is verified against
     * tls->ca_pem (or the system store) and against `host` (SNI for a DNS
     * name, the IP SANs for an IP literal). All socket bytes pass through
     * two functions of client_conn.c (dapr__hc_conn_send and conn_input),
     * where the engine sits. A failed handshake or verification fails the
     * request with DAPR_EUNAVAIL ("x509 certificate verify failed: ..."). */
    const dapr__tls_client_config_t *tls;
} dapr__http_client_config_t;

/* Create a client (no connection is made yet). cfg and its strings are
 * copied, cfg->log is borrowed. Errors: DAPR_EINVAL (no loop, bad host or
 * port, unusable TLS documents or CA file: logged as a warning with the
 * reason), DAPR_ENOMEM. */
int dapr__http_client_create(dapr__http_client_t **out, const dapr__http_client_config_t *cfg);

/* Graceful close: new requests are refused with DAPR_ECLOSED; idle
 * connections close now; requests in flight and requests still waiting for
 * a slot run to their end (call dapr__http_client_cancel_all first for a
 * hard stop); their connections close afterwards. `done` (may be NULL)
 * runs once every handle is closed; the client's memory is gone by then.
 * Calling it again is harmless (the first `done` wins). NULL-safe. */
void dapr__http_client_close(dapr__http_client_t *c, void (*done)(void *ud), void *ud);

/* Fail every request, in flight or waiting, with DAPR_ECANCELED ("client
 * canceled"); each on_error runs before this returns. */
void dapr__http_client_cancel_all(dapr__http_client_t *c);

typedef struct dapr__http_client_stats {
    size_t in_flight;      /* requests holding a slot (connecting, sending, receiving) */
    size_t queued;         /* requests waiting for a slot */
    size_t idle;           /* pooled idle connections */
    size_t conns;          /* open connections (idle included) */
    uint64_t connects;     /* TCP connections established so far (TLS: handshakes done) */
    uint64_t reused;       /* requests sent on a pooled connection */
    uint64_t retries;      /* requests retried on a fresh connection */
} dapr__http_client_stats_t;

/* A snapshot into *st (zeroed for a NULL client). */
void dapr__http_client_stats(const dapr__http_client_t *c, dapr__http_client_stats_t *st);

/* --- requests ------------------------------------------------------------- */

/* The final response head, valid during on_response only (copy what you
 * keep). Headers in arrival order, repeated ones kept as separate entries,
 * names as received, values trimmed; all NUL-terminated. */
typedef struct dapr__http_cresp {
    int status;
    const char *reason; /* "" if none */
    int http_major, http_minor;
    const dapr__http_hdr_t *headers;
    size_t n_headers;
    int64_t content_length; /* -1: chunked, close-delimited, or no body (HEAD, 204, 304) */
    bool keep_alive;        /* the response allows reusing the connection */
} dapr__http_cresp_t;

typedef struct dapr__http_creq_cbs {
    /* Required. The final (non-1xx) response head. */
    void (*on_response)(dapr__http_creq_t *r, const dapr__http_cresp_t *resp, void *ud);
    /* Optional (NULL: the body is read and dropped). A piece of the decoded
     * body (chunk framing removed); data lives until the callback returns.
     * Calling dapr__http_creq_pause here stops reading from the socket. */
    void (*on_body)(dapr__http_creq_t *r, const void *data, size_t len, void *ud);
    /* Required (final, success). The response is complete; trailers of a
     * chunked body (else n = 0), valid during the call. */
    void (*on_end)(dapr__http_creq_t *r, const dapr__http_hdr_t *trailers, size_t n, void *ud);
    /* Required (final, failure). err and its message live during the call.
     * May come after on_response (e.g. the server closed mid-body). */
    void (*on_error)(dapr__http_creq_t *r, const dapr_error_t *err, void *ud);
    /* Streamed bodies: after dapr__http_creq_write returned DAPR_EAGAIN, the
     * queue dropped below its low-water mark. Optional otherwise. */
    void (*on_writable)(dapr__http_creq_t *r, void *ud);
} dapr__http_creq_cbs_t;

typedef enum {
    DAPR__HTTP_BODY_NONE,   /* no body; POST/PUT/PATCH get Content-Length: 0 */
    DAPR__HTTP_BODY_BUFFER, /* body/body_len, sent with Content-Length */
    DAPR__HTTP_BODY_STREAM, /* pushed with dapr__http_creq_write / _end */
} dapr__http_body_kind_t;

typedef struct dapr__http_creq_opts {
    const char *method; /* "GET", "POST", ... (a token; CONNECT refused); copied */
    const char *target; /* origin-form "/path?query" (or "*" for OPTIONS); copied */
    /* Copied. The client owns the framing: Content-Length, Transfer-Encoding,
     * Connection, Keep-Alive, Proxy-Connection, TE, Trailer and Upgrade
     * given here are dropped; Host is added unless given. A name or value
     * with CR, LF or NUL (or a name that is not a token) is refused. */
    const dapr__http_hdr_t *headers;
    size_t n_headers;
    dapr__http_body_kind_t body_kind;
    /* BODY_BUFFER: borrowed until the final callback returns (it is not
     * copied, and it is sent again if the request is retried). */
    const void *body;
    size_t body_len;
    /* BODY_STREAM: -1 = unknown (Transfer-Encoding: chunked), else the exact
     * number of bytes the caller will write (Content-Length). */
    int64_t content_length;
    dapr__http_creq_cbs_t cbs; /* copied */
    void *ud;                  /* handed to every callback */
} dapr__http_creq_opts_t;

/* Submit a request. It starts when a slot is free (max_concurrency), on an
 * idle pooled connection if there is one, else on a new connection. An
 * idempotent request (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) sent on a
 * pooled connection that turns out dead before any response byte (write
 * error, reset or EOF) is retried once on a fresh connection, if its body
 * can be sent again (none, a buffer, or a stream nothing was written to).
 * *out (may be NULL) gets the handle. Errors (no callback will run):
 * DAPR_EINVAL (bad method, target, header or option), DAPR_ECLOSED (client
 * closing), DAPR_ENOMEM. */
int dapr__http_client_request(dapr__http_client_t *c, const dapr__http_creq_opts_t *o,
                              dapr__http_creq_t **out);

/* Streamed bodies: queue len bytes (copied, or written at once). Before the
 * connection is up they are held by the request. Returns 0; DAPR_EAGAIN
 * when the queue is at or above its high-water mark (256 KiB): nothing was
 * taken, wait for on_writable; DAPR_EINVAL if more than content_length
 * bytes would be written; DAPR_ESTATE if the body is not streamed or
 * already ended; DAPR_EIO if the connection can no longer be written (the
 * final callback follows). A len of 0 is a no-op. */
int dapr__http_creq_write(dapr__http_creq_t *r, const void *data, size_t len);
/* End a streamed body (chunked: the last-chunk is sent). Returns 0 or
 * DAPR_ESTATE. If fewer than content_length bytes were written the request
 * fails with DAPR_EINVAL (through on_error, later). */
int dapr__http_creq_end(dapr__http_creq_t *r);

/* Stop / restart delivering the response body. While paused nothing more is
 * read from the socket (at most one read buffer, 64 KiB, is held). Resume
 * delivers what is held from the loop, not from inside this call. */
void dapr__http_creq_pause(dapr__http_creq_t *r);
void dapr__http_creq_resume(dapr__http_creq_t *r);

/* Cancel: on_error(DAPR_ECANCELED) runs before this returns (then the handle
 * is gone); the request's connection, if it has one, is closed. */
void dapr__http_creq_cancel(dapr__http_creq_t *r);

/* Case-insensitive lookup in a header list; NULL if absent. */
const char *dapr__http_hdr_get(const dapr__http_hdr_t *h, size_t n, const char *name);

/* --- waiting for a port ------------------------------------------------- */

typedef struct dapr__http_port_wait dapr__http_port_wait_t;

/* status: 0 (a TCP connect succeeded; the probe connection is closed),
 * DAPR_ETIMEDOUT, DAPR_ECANCELED, DAPR_EUNAVAIL (the name does not resolve). */
typedef void (*dapr__http_port_wait_cb)(int status, void *ud);

/* Poll host:port ("application discovered on port N"): try a TCP connect
 * every interval_ms (0 = 50) until one succeeds or timeout_ms (0 = forever)
 * passes; each attempt is bounded by the time left. cb runs exactly once,
 * never from inside this call. host copied. *out (may be NULL) gets a handle
 * for dapr__http_wait_port_cancel, valid until cb returns.
 * Errors: DAPR_EINVAL, DAPR_ENOMEM. */
int dapr__http_wait_port(uv_loop_t *loop, const char *host, int port, uint64_t interval_ms,
                         uint64_t timeout_ms, dapr__http_port_wait_cb cb, void *ud,
                         dapr__http_port_wait_t **out);
/* cb(DAPR_ECANCELED) runs before this returns. */
void dapr__http_wait_port_cancel(dapr__http_port_wait_t *w);

#endif
