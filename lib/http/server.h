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
    const uint8_t *body;     /* NUL-terminated (not counted in body_len) */
    size_t body_len;
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

/* Reason phrase for a status code ("Not Found"); "Unknown" if none. */
const char *dapr__http_status_text(int status);

/* --- Sans-I/O entry for fuzzing and unit tests ------------------------ */

/* A connection not backed by a socket: bytes go in with feed, and whatever
 * the server would write is passed to write_fn (may be NULL). */
typedef void (*dapr__http_write_fn)(void *ud, const void *data, size_t len);
dapr__http_conn_t *dapr__http_conn_detached(dapr__http_server_t *s, dapr__http_write_fn fn,
                                            void *ud);
/* Feed bytes; returns 0, or -1 once the connection has decided to close. */
int dapr__http_conn_feed(dapr__http_conn_t *c, const void *data, size_t len);
void dapr__http_conn_detached_free(dapr__http_conn_t *c);

#endif
