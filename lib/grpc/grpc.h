/* gRPC over HTTP/2 (nghttp2), server side and client side, on libuv.
 *
 * Transport only: bytes ⇄ gRPC calls. Method bodies are opaque byte strings
 * (protobuf encoding happens in the adapters, lib/grpc/api_*.c). One engine
 * serves the Dapr API port, the internal sidecar port and (as a client) app
 * callbacks and sidecar-to-sidecar calls.
 *
 * Server behaviour enforced here (spec grpc-api.md §1):
 *  - h2c with prior knowledge (TLS slots in later under the same session code:
 *    the session is fed bytes and emits bytes; see dapr__grpc_conn_feed);
 *  - SETTINGS sent at once: MAX_CONCURRENT_STREAMS 1000, INITIAL_WINDOW_SIZE
 *    1 MiB, a connection window of a few MiB; PING answered (nghttp2 does);
 *  - POST with a content-type "application/grpc" (subtype empty or "proto"),
 *    else an HTTP 415 response (":status 415", no grpc-status);
 *  - 5-byte message prefix; a grpc-encoding other than "identity" →
 *    UNIMPLEMENTED (with grpc-accept-encoding: identity); a compressed flag
 *    → INTERNAL "grpc: compressed flag set with identity or empty encoding"
 *    (grpc-go's wording); a unary/server-streaming call with zero or several
 *    request messages → INTERNAL (as grpc-java and grpc-go);
 *  - max receive message size (config; default 4 MiB) → RESOURCE_EXHAUSTED,
 *    nothing is buffered past the limit;
 *  - grpc-timeout parsed ("100m", "5S", "1H" ...): when it expires the call's
 *    on_cancel runs and the client gets DEADLINE_EXCEEDED;
 *  - RST_STREAM from the client → on_cancel; connection loss → on_cancel for
 *    every open call;
 *  - flow control: received DATA is consumed (window updates) only as the
 *    handler takes messages (or they are buffered within the size limit); a
 *    call's outgoing queue is bounded (send returns DAPR_EAGAIN, see
 *    dapr__grpc_call_send) and a connection stops reading while its socket
 *    write queue is large, so a slow reader does not make us buffer without
 *    bound;
 *  - unknown :path → the server's `fallback` method if set (or the
 *    table's row whose path is "*"; Dapr routes unknown paths to its
 *    proxy), else UNIMPLEMENTED trailers-only;
 *  - graceful shutdown: GOAWAY with the last stream id, in-flight calls
 *    finish, then connections close.
 */
#ifndef DAPR_GRPC_GRPC_H
#define DAPR_GRPC_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/log.h"

typedef struct dapr__grpc_server dapr__grpc_server_t;
typedef struct dapr__grpc_call dapr__grpc_call_t;

typedef enum dapr__grpc_kind {
    DAPR__GRPC_UNARY = 0,
    DAPR__GRPC_SERVER_STREAM,
    DAPR__GRPC_CLIENT_STREAM,
    DAPR__GRPC_BIDI
} dapr__grpc_kind_t;

/* One metadata entry. For "-bin" keys `value` holds the decoded bytes. */
typedef struct dapr__grpc_md {
    const char *key; /* lower-case, NUL-terminated */
    const uint8_t *value;
    size_t len;
} dapr__grpc_md_t;

/* A method the server serves. Callbacks run on the loop. Once any callback
 * ran, the handler owes exactly one dapr__grpc_call_finish(); `call` stays
 * valid until then (also after on_cancel) and must not be used after it. A
 * call no callback ever saw (rejected or reset early) is the engine's own. */
typedef struct dapr__grpc_method {
    const char *path; /* "/dapr.proto.runtime.v1.Dapr/GetState" */
    dapr__grpc_kind_t kind;
    /* Unary and server-streaming: the single request message, delivered
     * once the client half-closed. Client/bidi streaming: NULL here, use
     * on_message. */
    void (*on_request)(dapr__grpc_call_t *call, const uint8_t *msg, size_t len);
    /* Streaming requests: each message as it completes. */
    void (*on_message)(dapr__grpc_call_t *call, const uint8_t *msg, size_t len);
    /* Streaming requests: the client half-closed. */
    void (*on_half_close)(dapr__grpc_call_t *call);
    /* The call is over without finish: client reset, deadline, connection
     * lost, server shutdown timeout. The handler must stop its work and then
     * call dapr__grpc_call_finish() (which becomes a no-op on the wire) —
     * possibly later, from the work's own callback. */
    void (*on_cancel)(dapr__grpc_call_t *call);
    /* Optional: a sender is told when the outgoing queue has drained below
     * the low-water mark after a send returned DAPR_EAGAIN. */
    void (*on_writable)(dapr__grpc_call_t *call);
    /* Free for the table's owner (adapters keep their decoder here). */
    const void *user;
    /* Optional: the request headers are complete and routed to this method
     * (metadata readable), before any message. Lets a bidi/proxy handler
     * start work before the client's first message. Once it ran, the
     * handler owes a finish (as after any other callback). */
    void (*on_start)(dapr__grpc_call_t *call);
} dapr__grpc_method_t;

typedef struct dapr__grpc_server_config {
    uv_loop_t *loop;
    const dapr__logger_t *log;
    size_t max_recv_msg;  /* default 4 MiB */
    size_t max_header_list; /* default 4 MiB */
    const dapr__grpc_method_t *methods; /* table, borrowed */
    size_t n_methods;
    /* Unknown paths, optional. A row of `methods` whose path is "*" is
     * taken as the fallback instead (both at once: DAPR_EINVAL). */
    const dapr__grpc_method_t *fallback;
    void *ud;                            /* dapr__grpc_call_server_ud() */
    /* After the final GOAWAY, calls still running this long are cancelled
     * and their connections closed. 0 → 5000 ms. */
    uint64_t shutdown_grace_ms;
    /* Optional: plain HTTP/2 requests (not POST application/grpc) go to this
     * row instead of being refused with 415 — the h2c side of the HTTP API.
     * Its on_request gets the whole request body (max_recv_msg bounds it:
     * larger bodies get 413) once the client half-closed, on_cancel works as
     * for gRPC calls, and the handler answers with
     * dapr__grpc_call_respond_plain(), which counts as its finish. Request
     * headers are readable as metadata (content-type included). */
    const dapr__grpc_method_t *plain;
} dapr__grpc_server_config_t;

/* Errors: DAPR_EINVAL (no loop, a method without path, a duplicate path),
 * DAPR_ENOMEM. `cfg` is copied; the method table and fallback are borrowed
 * and must outlive the server. */
int dapr__grpc_server_create(dapr__grpc_server_t **out, const dapr__grpc_server_config_t *cfg);
/* Listen on addr/port (port 0 → ephemeral, reported in *bound). Returns 0
 * or a negative libuv error. May be called several times. */
int dapr__grpc_server_listen(dapr__grpc_server_t *s, const char *addr, int port, int *bound);
/* Adopt an accepted TCP connection whose first bytes (already read) are
 * given: used by the HTTP/1 server when it sees the HTTP/2 connection
 * preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", prior knowledge) on the
 * HTTP port. `first` (copied; may be a prefix of the preface or more) is
 * everything read from the socket so far. Ownership of `tcp` passes to the
 * server: it must be a standalone uv_tcp_t allocated with dapr__malloc, on
 * this server's loop, not reading (uv_read_stop), with no pending writes;
 * the server overwrites tcp->data, closes it and dapr__free()s it. On error
 * (DAPR_ENOMEM, DAPR_ESTATE when shutting down, a libuv error) the server
 * still owns and closes it. HTTP/1.1 "Upgrade: h2c" is not supported (no
 * gRPC client uses it).
 * A caller whose handle is embedded in a bigger struct can move the socket:
 * uv_fileno() + dup() into a fresh dapr__malloc'd uv_tcp_t (uv_tcp_init +
 * uv_tcp_open), adopt that, then uv_close its own handle (no uv_shutdown). */
int dapr__grpc_server_adopt(dapr__grpc_server_t *s, uv_tcp_t *tcp, const void *first,
                            size_t first_len);
/* Base64 decode (standard alphabet, padded or not); out needs
 * 3*((n+3)/4) bytes. Returns the length or -1 (also in grpc_int.h). */
long dapr__grpc_b64_decode(const char *in, size_t n, uint8_t *out);

/* Checks a serialized request before protobuf-c unpacks it (pbcheck.c):
 * proto3 string fields must be valid UTF-8 (grpc-go refuses the message
 * otherwise) and must not contain NUL (protobuf-c would cut them short).
 * `descriptor` is a ProtobufCMessageDescriptor. Malformed wire data passes:
 * unpack refuses it. */
enum { DAPR__PB_OK = 0, DAPR__PB_BAD_UTF8, DAPR__PB_NUL };
int dapr__grpc_pb_check(const void *descriptor, const uint8_t *msg, size_t len);
bool dapr__utf8_valid(const uint8_t *s, size_t n);

/* HTTP/1.1 "Upgrade: h2c" (RFC 7540 3.2): the request that asked for the
 * upgrade becomes stream 1, served as a plain request (config.plain). */
typedef struct dapr__grpc_upgrade {
    const uint8_t *settings; /* the decoded HTTP2-Settings payload */
    size_t settings_len;
    const char *method, *path;
    const dapr__grpc_md_t *hdrs; /* lower-case names, NUL-terminated values */
    size_t n_hdrs;
    const void *body;
    size_t body_len;
    const char *prefix; /* written before the first frame: the 101 response */
    size_t prefix_len;
} dapr__grpc_upgrade_t;
/* Like adopt (same ownership of `tcp`), for an upgraded connection; `u` and
 * what it points to are copied. */
int dapr__grpc_server_adopt_upgrade(dapr__grpc_server_t *s, uv_tcp_t *tcp,
                                    const dapr__grpc_upgrade_t *u);
/* Graceful: stop listening, GOAWAY (a shutdown notice, then the final one
 * with the last stream id ~100 ms later), let calls finish, close idle
 * connections; after shutdown_grace_ms the rest are cancelled. `done` (may
 * be NULL) runs once every handle is closed. */
void dapr__grpc_server_shutdown(dapr__grpc_server_t *s, void (*done)(void *ud), void *ud);
/* Without a completed shutdown, closes everything at once (open calls get
 * on_cancel); memory is released when the last handle's close callback ran,
 * so keep running the loop. Detached connections must be freed first. */
void dapr__grpc_server_free(dapr__grpc_server_t *s);

/* Counters for metrics and tests. */
typedef struct dapr__grpc_server_stats {
    size_t conns;        /* open connections (detached ones included) */
    size_t calls;        /* calls with an open stream */
    size_t queued_bytes; /* response bytes in the calls' send queues */
    size_t write_bytes;  /* bytes in libuv write queues */
} dapr__grpc_server_stats_t;
void dapr__grpc_server_stats(const dapr__grpc_server_t *s, dapr__grpc_server_stats_t *out);

/* --- calls (server side) ----------------------------------------------- */

const dapr__grpc_method_t *dapr__grpc_call_method(const dapr__grpc_call_t *c);
const char *dapr__grpc_call_path(const dapr__grpc_call_t *c);
void *dapr__grpc_call_server_ud(const dapr__grpc_call_t *c);
/* Request metadata (custom headers, lower-case keys, "-bin" decoded). */
size_t dapr__grpc_call_md(const dapr__grpc_call_t *c, const dapr__grpc_md_t **md);
/* First value of a metadata key as a NUL-terminated string, or NULL. */
const char *dapr__grpc_call_md_get(const dapr__grpc_call_t *c, const char *key);
/* Per-call scratch memory and user slot. */
void *dapr__grpc_call_alloc(dapr__grpc_call_t *c, size_t n);
void dapr__grpc_call_set_user(dapr__grpc_call_t *c, void *user);
void *dapr__grpc_call_user(const dapr__grpc_call_t *c);
bool dapr__grpc_call_cancelled(const dapr__grpc_call_t *c);
/* Plain HTTP/2 requests (config.plain): the :method ("GET", ...). */
const char *dapr__grpc_call_http_method(const dapr__grpc_call_t *c);
/* Answer a plain request and finish the call: status, headers (names are
 * lower-cased; connection-specific ones dropped; content-length added), the
 * body (copied). No body is sent for HEAD, 1xx, 204 and 304. A no-op on the
 * wire after a cancel. Returns 0 or DAPR_ENOMEM (the stream is reset). */
int dapr__grpc_call_respond_plain(dapr__grpc_call_t *c, int status, const char *const *hdrs,
                                  size_t n_hdrs, const void *body, size_t len);
/* The peer address of the call's connection as text ("" if unknown). */
void dapr__grpc_call_peer(const dapr__grpc_call_t *c, char *out, size_t outlen);

/* Add response metadata (before the first message / finish). Copied. */
int dapr__grpc_call_add_header(dapr__grpc_call_t *c, const char *key, const void *value,
                               size_t len);
/* Trailer metadata sent with the status (before finish; copied; "-bin"
 * values are raw bytes). "grpc-*" keys are refused (DAPR_EINVAL): the
 * status fields are finish's. */
int dapr__grpc_call_add_trailer(dapr__grpc_call_t *c, const char *key, const void *value,
                                size_t len);
/* Send the response headers now (the ones added so far) instead of with
 * the first message or the status. 0, DAPR_ECLOSED, DAPR_ENOMEM. */
int dapr__grpc_call_send_headers(dapr__grpc_call_t *c);
/* Receive flow control (relays): while paused, the request DATA that
 * arrives is not returned to the client's stream window (the connection's
 * window is), so at most one stream window (1 MiB) more comes in; what
 * arrives is still delivered to on_message. Unpausing returns the held
 * bytes to the window. */
void dapr__grpc_call_pause_recv(dapr__grpc_call_t *c, bool pause);
/* Milliseconds left before the call's grpc-timeout expires (at least 1), 0
 * when the client sent none. */
uint64_t dapr__grpc_call_timeout_left(const dapr__grpc_call_t *c);
/* Send one message (copied). Returns 0; DAPR_EAGAIN when the outgoing queue
 * is over its bound (the message is NOT queued; wait for on_writable);
 * DAPR_ECLOSED after cancel/finish. */
int dapr__grpc_call_send(dapr__grpc_call_t *c, const void *msg, size_t len);
/* End the call with a status. `message` may be NULL; `details` (may be NULL)
 * is a serialized google.rpc.Status sent as grpc-status-details-bin. Exactly
 * once per call. A unary OK finish must follow exactly one send. */
void dapr__grpc_call_finish(dapr__grpc_call_t *c, int status, const char *message,
                            const void *details, size_t details_len);

/* --- client ------------------------------------------------------------- */

typedef struct dapr__grpc_channel dapr__grpc_channel_t;
typedef struct dapr__grpc_ccall dapr__grpc_ccall_t;

typedef struct dapr__grpc_ccall_cbs {
    /* response headers arrived (md valid during the callback) */
    void (*on_headers)(dapr__grpc_ccall_t *cc, const dapr__grpc_md_t *md, size_t n, void *ud);
    void (*on_message)(dapr__grpc_ccall_t *cc, const uint8_t *msg, size_t len, void *ud);
    /* final: status from trailers (or a transport error mapped to a code);
     * trailer md valid during the callback; the call is freed after it. */
    void (*on_close)(dapr__grpc_ccall_t *cc, int status, const char *message,
                     const dapr__grpc_md_t *trailers, size_t n, void *ud);
    /* Optional: after dapr__grpc_ccall_send returned DAPR_EAGAIN, the send
     * queue drained below its low-water mark. */
    void (*on_writable)(dapr__grpc_ccall_t *cc, void *ud);
} dapr__grpc_ccall_cbs_t;

/* A channel to host:port (numeric address or name resolved with
 * uv_getaddrinfo, every address tried in order), one HTTP/2 connection
 * (h2c, prior knowledge), connected on the first call and again on the
 * first call after it failed or the server sent GOAWAY. `host` is copied,
 * `log` borrowed. Errors: DAPR_EINVAL, DAPR_ENOMEM. */
int dapr__grpc_channel_create(dapr__grpc_channel_t **out, uv_loop_t *loop, const char *host,
                              int port, const dapr__logger_t *log);
/* Largest response message accepted (default 4 MiB); bigger ones end the
 * call with RESOURCE_EXHAUSTED. */
void dapr__grpc_channel_set_max_recv_msg(dapr__grpc_channel_t *ch, size_t max);
/* Calls still open get on_close(CANCELLED, "channel closed") before this
 * returns; `done` (may be NULL) runs once every handle is closed, then the
 * channel's memory is gone. */
void dapr__grpc_channel_close(dapr__grpc_channel_t *ch, void (*done)(void *ud), void *ud);
/* Start a call. md may be NULL. timeout_ms 0 = none (sent as grpc-timeout).
 * path, md and cbs are copied. On success on_close runs exactly once (a
 * failed connection is reported there as UNAVAILABLE), never from inside
 * this function. Errors: DAPR_EINVAL, DAPR_ENOMEM, DAPR_ECLOSED (channel
 * closing), DAPR_EAGAIN (too many calls waiting for the connection). */
int dapr__grpc_call_start(dapr__grpc_channel_t *ch, const char *path, const dapr__grpc_md_t *md,
                          size_t n_md, uint64_t timeout_ms, const dapr__grpc_ccall_cbs_t *cbs,
                          void *ud, dapr__grpc_ccall_t **out);
/* Queue one request message (copied). DAPR_EAGAIN when the send queue is
 * over its bound (not queued; wait for on_writable), DAPR_ECLOSED after
 * half-close or once the call is over. */
int dapr__grpc_ccall_send(dapr__grpc_ccall_t *cc, const void *msg, size_t len);
int dapr__grpc_ccall_half_close(dapr__grpc_ccall_t *cc);
/* Receive flow control, as dapr__grpc_call_pause_recv for the response
 * stream: while paused at most one stream window (1 MiB) more arrives (and
 * is still delivered to on_message). */
void dapr__grpc_ccall_pause_recv(dapr__grpc_ccall_t *cc, bool pause);
/* RST_STREAM(CANCEL); on_close(CANCELLED) runs before this returns and the
 * handle is gone afterwards. */
void dapr__grpc_ccall_cancel(dapr__grpc_ccall_t *cc);
/* For a unary answer's on_message: keep a malloc'd copy of the first
 * message in *dst (its length in *dst_len); later messages are ignored.
 * *dst stays NULL when out of memory. The caller frees *dst. */
void dapr__grpc_keep_first(uint8_t **dst, size_t *dst_len, const uint8_t *msg, size_t len);

/* --- sans-I/O (fuzzing) -------------------------------------------------- */

typedef struct dapr__grpc_conn dapr__grpc_conn_t;
typedef void (*dapr__grpc_write_fn)(void *ud, const void *data, size_t len);
/* A server connection without a socket: our frames (SETTINGS at once) go
 * to fn, the peer's bytes come in through dapr__grpc_conn_feed, which
 * returns 0, DAPR_EPARSE (fatal protocol error; the connection is dead) or
 * DAPR_ECLOSED. Responses submitted later (async handlers) are written when
 * the loop runs. NULL on OOM. */
dapr__grpc_conn_t *dapr__grpc_conn_detached(dapr__grpc_server_t *s, dapr__grpc_write_fn fn,
                                            void *ud);
int dapr__grpc_conn_feed(dapr__grpc_conn_t *c, const void *data, size_t len);
/* Cancels open calls (on_cancel) and frees the connection at once. */
void dapr__grpc_conn_detached_free(dapr__grpc_conn_t *c);

#endif
