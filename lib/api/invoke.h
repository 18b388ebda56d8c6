/* Service invocation, protocol-neutral (spec §1). The HTTP adapter
 * (/v1.0/invoke/...), the gRPC adapter (InvokeService) and, later, the
 * internal gRPC server (CallLocal) decode into a dapr__invoke_req_t; the
 * rules (target resolution, header filtering, the app channel, errors) live
 * here once.
 *
 * The callback runs exactly once, possibly before dapr__invoke returns.
 * `pool` (borrowed) must outlive the callback; the request's strings are
 * borrowed until then, the response's are valid during the callback only.
 */
#ifndef DAPR_API_INVOKE_H
#define DAPR_API_INVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/errors.h"
#include "core/pool.h"
#include "dapr/runtime.h"
#include "dapr/state.h"

/* A body that passes through piece by piece instead of being held whole
 * (large HTTP bodies: a 100 MB body goes through in bounded memory).
 *
 * The producer (the side that receives the bytes: the HTTP adapter for a
 * request body, the app channel for a response body) embeds this struct and
 * fills in length and the four operations; the consumer calls `read` once
 * with its sink (or `cancel` if it will not read), then may pause/resume.
 * Sink calls never run inside `read`, `pause` or `resume`. After on_end or
 * on_error, or after the consumer called `cancel`, no sink call follows and
 * the consumer must not touch the stream again. */
typedef struct dapr__istream dapr__istream_t;
typedef struct dapr__istream_sink {
    void (*on_data)(void *ud, const void *data, size_t len);
    void (*on_end)(void *ud);
    /* DAPR_ETOOBIG, DAPR_ECLOSED, DAPR_EPARSE, DAPR_ETIMEDOUT, DAPR_EIO... */
    void (*on_error)(void *ud, int code);
} dapr__istream_sink_t;
struct dapr__istream {
    int64_t length; /* bytes to come; -1 unknown */
    void (*read)(dapr__istream_t *s, const dapr__istream_sink_t *sink, void *ud);
    void (*pause)(dapr__istream_t *s);
    void (*resume)(dapr__istream_t *s);
    void (*cancel)(dapr__istream_t *s);
};

/* Read a whole stream into one buffer of at most `max` bytes (DAPR_ETOOBIG
 * beyond). done gets 0 and the bytes (malloc'd, NUL-terminated, the callee
 * owns them), or an error code and NULL. Never calls done inside the call. */
typedef void (*dapr__istream_collect_cb)(int status, uint8_t *data, size_t len, void *ud);
int dapr__istream_collect(dapr__istream_t *s, size_t max, dapr__istream_collect_cb done,
                          void *ud);

typedef struct dapr__invoke_req {
    const char *app_id;       /* target app id (may carry ".namespace") */
    const char *method;       /* method path, without the leading '/' */
    const char *verb;         /* HTTP verb ("GET", "POST", ...); NULL = none given */
    const char *query;        /* raw query string without '?', or NULL */
    const char *content_type; /* or NULL */
    const dapr_kv_t *headers; /* caller's headers/metadata (repeats allowed) */
    size_t n_headers;
    const uint8_t *body;
    size_t body_len;
    /* Or the body as a stream (body/body_len unused). The consumer stops
     * using it before the final event of the call (the callback with an
     * error, or the end/error of a streamed response). */
    dapr__istream_t *body_stream;
    /* The caller takes a streamed response body (dapr__invoke_resp_t
     * body_stream); else responses always come whole. */
    bool stream_resp_ok;
} dapr__invoke_req_t;

typedef struct dapr__invoke_resp {
    /* The app's answer. HTTP apps: their status code. gRPC apps: 200 for OK,
     * otherwise the HTTP status Dapr maps the gRPC code to, with grpc_status
     * and grpc_message set. */
    int http_status;
    int grpc_status; /* 0 = OK */
    bool grpc_app;   /* the answer came from a gRPC app (grpc_status is its code) */
    const char *grpc_message;
    const char *content_type; /* or NULL */
    const dapr_kv_t *headers; /* response headers / gRPC metadata */
    size_t n_headers;
    const uint8_t *body;
    size_t body_len;
    /* Only when the request had stream_resp_ok: the body as a stream
     * (body/body_len empty). The callback must `read` or `cancel` it before
     * it returns; the end of that stream is the end of the call. */
    dapr__istream_t *body_stream;
} dapr__invoke_resp_t;

typedef void (*dapr__invoke_cb)(const dapr__apierr_t *err, const dapr__invoke_resp_t *resp,
                                void *data);

void dapr__invoke(dapr_runtime_t *rt, dapr__pool_t *pool, const dapr__invoke_req_t *req,
                  dapr__invoke_cb cb, void *data);

/* Whether a caller's header must not be passed on to the app: hop-by-hop
 * headers, the API token (never forwarded, CVE-2024-35223), HTTP/2 pseudo
 * headers and the transport's own gRPC headers. Case-insensitive. */
bool dapr__invoke_header_dropped(const char *name);

/* The method path as the app will see it: '.', '/' and '\\' that arrive
 * percent-encoded (once or twice) are decoded and dot segments resolved
 * without leaving the root, so "..%2F..%2Fadmin" cannot reach another
 * method (CVE-2026-41491). Returned without the leading '/'; in the pool. */
char *dapr__invoke_clean_method(dapr__pool_t *pool, const char *method);

/* common.v1 HTTPExtension.Verb numbers ↔ HTTP verbs (1 GET ... 9 PATCH).
 * The name is NULL for NONE (0) and unknown numbers; the number is 0 for
 * NULL and unknown names (case-insensitive). */
const char *dapr__invoke_verb_name(int verb);
int dapr__invoke_verb_number(const char *name);

/* Whether a caller's header goes on to the target as is: not dropped (see
 * above), and not one the invocation sets itself (content-type, which
 * travels apart, and dapr-caller-app-id / dapr-callee-app-id, stamped). */
bool dapr__invoke_header_passed(const char *name);

/* HTTP status for a gRPC status code, as Dapr maps them. */
int dapr__invoke_http_status(int grpc_code);

#endif
