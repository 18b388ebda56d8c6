/* HTTP/1.1 server transport on llhttp + libuv.
 *
 * The server turns bytes into dapr__http_req_t and hands each complete request
 * (headers + body) to the configured on_request callback; the callback (the
 * router in lib/http/router.c) answers exactly once with dapr__http_respond*.
 * Requests on one connection are answered in order (pipelining): parsing of
 * the next request waits until the current one has been answered.
 *
 * What the transport enforces itself, before any handler sees a request:
 *  - header bytes (request line + headers) <= max_header_bytes, else 431 and close;
 *  - body <= max_body_bytes (Content-Length checked up front, chunked counted
 *    as it arrives), else 413 and close, without reading past the limit;
 *  - Expect: 100-continue answered (or 413/417 without reading the body);
 *  - malformed requests: 400 and close;
 *  - timeouts: header_timeout_ms for a whole request head, idle_timeout_ms
 *    between requests on a keep-alive connection, body_timeout_ms of no body
 *    progress; a connection that trips one is closed;
 *  - CORS, when allowed_origins is set ("*" or a comma list).
 */
#ifndef DAPR_HTTP_SERVER_H
#define DAPR_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/pool.h"

#define DAPR__HTTP_MAX_PARAMS 6

typedef struct dapr__http_server dapr__http_server_t;
typedef struct dapr__http_conn dapr__http_conn_t;

typedef struct dapr__http_hdr {
    const char *name; /* NUL-terminated, as received (case preserved) */
    const char *value; /* NUL-terminated, leading/trailing blanks trimmed */
} dapr__http_hdr_t;

typedef struct dapr__http_req {
    dapr__pool_t pool;       /* request scratch memory, freed after the response */
    const char *method;      /* "GET", "POST", ... */
    int method_id;           /* llhttp_method_t */
    const char *url;         /* raw request target, as received */
    const char *path;        /* target up to '?', still percent-encoded */
    const char *query;       /* raw query after '?', "" if none */
    dapr__http_hdr_t *headers;
    size_t n_headers;
    const uint8_t *body;     /* NUL-terminated (not counted in body_len); "" when streamed */
    size_t body_len;         /* 0 when streamed */
    bool streamed;           /* the body comes through dapr__http_req_read */
    int http_major, http_minor;
    bool keep_alive;
    char remote_ip[64];

    /* Filled by the router. */
    const void *route;
    char *params[DAPR__HTTP_MAX_PARAMS];
    size_t n_params;
    void *user; /* router's per-request data */

    dapr__http_conn_t *conn; /* private to the server */
    void *h2;                /* private: set for a request that came over h2c */
} dapr__http_req_t;

typedef void (*dapr__http_request_cb)(dapr__http_req_t *req, void *ud);
/* Whether this request's body is to be streamed (see "Streamed bodies"). */
typedef bool (*dapr__http_stream_pred)(const dapr__http_req_t *req, void *ud);

typedef struct dapr__http_server_config {
    uv_loop_t *loop;
    const dapr__logger_t *log;
    size_t max_body_bytes;     /* default 4 MiB */
    size_t max_header_bytes;   /* default 4 KiB */
    uint64_t header_timeout_ms; /* default 10000 */
    uint64_t idle_timeout_ms;   /* default 120000 */
    uint64_t body_timeout_ms;   /* default 30000 */
    const char *allowed_origins; /* NULL or "" = CORS off; copied */
    dapr__http_request_cb on_request;
    /* Optional. Asked once the head of an HTTP/1.1 request that has a body
     * is read (req has method, url, path, query, headers; no route yet):
     * true hands the request to on_request at once with req->streamed set
     * and no body; the body is then read with dapr__http_req_read. */
    dapr__http_stream_pred stream_body;
    void *ud;
} dapr__http_server_config_t;

/* Create (not yet listening). cfg and its strings are copied. */
int dapr__http_server_create(dapr__http_server_t **out, const dapr__http_server_config_t *cfg);
/* Listen on addr ("127.0.0.1", "::1", "[::1]", "0.0.0.0") and port; may be
 * called several times. port 0 picks a free port; *bound_port gets it.
 * Returns 0 or a negative libuv error. */
int dapr__http_server_listen(dapr__http_server_t *s, const char *addr, int port, int *bound_port);
/* Graceful: stop accepting, close idle connections, let in-flight requests
 * finish (their responses are written, then the connection closes); `done`
 * fires once every connection and listener is closed. Calling again is
 * harmless. */
void dapr__http_server_shutdown(dapr__http_server_t *s, void (*done)(void *ud), void *ud);
/* Free after shutdown's done callback (or if never listened). NULL-safe. */
void dapr__http_server_free(dapr__http_server_t *s);

/* Number of requests handed to on_request and not yet answered. */
size_t dapr__http_server_inflight(const dapr__http_server_t *s);

/* --- Answering --------------------------------------------------------- */

/* Case-insensitive header lookup; NULL if absent. */
const char *dapr__http_req_header(const dapr__http_req_t *req, const char *name);

/* Answer the request. hdrs and body are copied (or written before return).
 * Content-Length, Date and, when keep-alive ends, Connection: close are
 * added by the server. After this call `req` must not be touched. */
void dapr__http_respond(dapr__http_req_t *req, int status, const dapr__http_hdr_t *hdrs,
                        size_t n_hdrs, const void *body, size_t body_len);
/* Same, taking over the buffer's memory (no copy); *body is reset. */
void dapr__http_respond_buf(dapr__http_req_t *req, int status, const dapr__http_hdr_t *hdrs,
                            size_t n_hdrs, dapr__buf_t *body);

/* --- Streamed bodies ---------------------------------------------------
 *
 * Request side (req->streamed): the body is not buffered; after on_request
 * the handler calls dapr__http_req_read once and gets the body piece by
 * piece. max_body_bytes still applies (counted as it arrives); the body
 * timeout does not run while the handler has paused reading.
 *
 * Response side (any request, streamed or not, HTTP/1.1 or h2c):
 * dapr__http_respond_start, then _write 0..n times, then _end (or _abort).
 * These replace dapr__http_respond for that request. The response may start
 * and even end before the request body is complete (full duplex); a request
 * body still unread when the response ends is not drained: the connection
 * closes after the response. Over h2c (whose requests arrive whole) the
 * transport may gather the streamed response and send it at _end.
 *
 * Callbacks never run inside the call that registers or triggers them
 * (dapr__http_req_read delivers what already arrived from the loop).
 *
 * Implementation notes: until dapr__http_req_read, and while paused, the
 * socket is read into a bounded buffer (64 KiB), then not at all; the body
 * timeout runs only while the handler reads. Pipelined requests wait until
 * the body is complete and the response ended. A response started while
 * the body is still arriving says Connection: close. _abort before the
 * start after DAPR_ETOOBIG answers 413 (else 502). on_writable and a
 * DAPR_ECLOSED for a connection closed under a reading handler come from the
 * loop (an idle handle). A detached connection (below) has no loop: its
 * deferred work runs at the start of the next dapr__http_conn_feed, which
 * may be called with len 0 for just that; its writes never say EAGAIN. */
typedef struct dapr__http_body_cbs {
    /* A piece of the request body (chunk framing removed); data lives
     * during the call. The handler may pause here. */
    void (*on_data)(dapr__http_req_t *req, const void *data, size_t len, void *ud);
    /* The body is complete (trailers are dropped). */
    void (*on_end)(dapr__http_req_t *req, void *ud);
    /* The body will not complete: DAPR_ETOOBIG (over max_body_bytes),
     * DAPR_EPARSE (bad chunking), DAPR_ETIMEDOUT (no progress within
     * body_timeout_ms while reading), DAPR_ECLOSED (the client went away).
     * The request must still be answered or aborted; an answer to a
     * connection that is gone only frees it. For DAPR_ETOOBIG a plain
     * dapr__http_respond with 413 is what the client should see. */
    void (*on_error)(dapr__http_req_t *req, int code, void *ud);
} dapr__http_body_cbs_t;

/* Start receiving a streamed request's body (req->streamed only; once).
 * cbs copied. Errors: DAPR_ESTATE (not streamed, or already reading). */
int dapr__http_req_read(dapr__http_req_t *req, const dapr__http_body_cbs_t *cbs, void *ud);
/* Stop / go on reading the request body from the socket (backpressure).
 * Resume delivers held bytes from the loop, not inside the call. */
void dapr__http_req_pause(dapr__http_req_t *req);
void dapr__http_req_resume(dapr__http_req_t *req);

/* Called when a response whose _write returned DAPR_EAGAIN may be written
 * to again (the queue fell below its low-water mark). */
typedef void (*dapr__http_writable_cb)(dapr__http_req_t *req, void *ud);

/* Send the status line and headers. content_length >= 0: exactly that many
 * body bytes will be written; -1: unknown (chunked, or close-delimited for
 * an HTTP/1.0 client). The framing headers of hdrs are dropped as in
 * dapr__http_respond. on_writable (may be NULL) as above. Returns 0,
 * DAPR_ESTATE (already answered or started), DAPR_ENOMEM. */
int dapr__http_respond_start(dapr__http_req_t *req, int status, const dapr__http_hdr_t *hdrs,
                             size_t n_hdrs, int64_t content_length,
                             dapr__http_writable_cb on_writable, void *ud);
/* Queue body bytes (copied, or written at once). Returns 0; DAPR_EAGAIN when
 * the queue is at or above its high-water mark (256 KiB): nothing was
 * taken, wait for on_writable; DAPR_EINVAL past content_length; DAPR_EIO
 * when the client is gone (still call _end or _abort to free the request);
 * DAPR_ESTATE when not started. len 0 is a no-op. */
int dapr__http_respond_write(dapr__http_req_t *req, const void *data, size_t len);
/* Complete the response (chunked: the last-chunk). Short of content_length
 * it is treated as _abort. After this req must not be touched. */
void dapr__http_respond_end(dapr__http_req_t *req);
/* The body cannot be completed (the upstream failed mid-body): the
 * connection is closed without completing it, so the client sees a
 * truncated response, never a short one that looks whole. If the response
 * has not started this is dapr__http_respond with 502 and a plain text
 * body. After this req must not be touched. */
void dapr__http_respond_abort(dapr__http_req_t *req);

/* Reason phrase for a status code ("Not Found"); "Unknown" if none. */
const char *dapr__http_status_text(int status);

/* --- Sans-I/O entry for fuzzing and unit tests ------------------------ */

/* A connection not backed by a socket: bytes go in with feed, and whatever
 * the server would write is passed to write_fn (may be NULL). */
typedef void (*dapr__http_write_fn)(void *ud, const void *data, size_t len);
dapr__http_conn_t *dapr__http_conn_detached(dapr__http_server_t *s, dapr__http_write_fn fn,
                                            void *ud);
/* Feed bytes (len 0: only run deferred work); returns 0, or -1 once the
 * connection has decided to close. */
int dapr__http_conn_feed(dapr__http_conn_t *c, const void *data, size_t len);
void dapr__http_conn_detached_free(dapr__http_conn_t *c);

#endif
