/*
 * libdapr — service invocation from an embedding program.
 *
 * Both directions of POST /v1.0/invoke/{app-id}/method/{method}:
 *  - dapr_invoke() calls an app: this runtime's own in-process handlers when
 *    app_id is this runtime's app id, otherwise another app through name
 *    resolution and the internal gRPC API (or an HTTPEndpoint), with the
 *    same resiliency policies and error codes as the HTTP/gRPC API;
 *  - dapr_invoke_register() makes the embedding program the app: calls that
 *    reach this runtime for its own app id (from dapr_invoke, from SDK
 *    clients through the HTTP/gRPC API ports, from other sidecars) go to the
 *    handler instead of the app channel.
 */
#ifndef DAPR_INVOKE_H
#define DAPR_INVOKE_H

#include "common.h"
#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A call, as the caller gives it and as a handler sees it. */
typedef struct dapr_invoke_request {
    const char *method;       /* method path without leading '/' ("orders/1") */
    const char *verb;         /* "GET", "POST", ...; NULL = "POST" */
    const char *query;        /* raw query string without '?', or NULL */
    const char *content_type; /* or NULL */
    const dapr_kv_t *headers; /* repeats allowed */
    size_t n_headers;
    const uint8_t *body;
    size_t body_len;
} dapr_invoke_request_t;

/* An answer. status is the app's HTTP status (200 for OK; a gRPC app's
 * failure is mapped the way Dapr maps it). */
typedef struct dapr_invoke_response {
    int status;
    const char *content_type; /* or NULL */
    const dapr_kv_t *headers;
    size_t n_headers;
    const uint8_t *body;
    size_t body_len;
} dapr_invoke_response_t;

/* err set: the call did not reach an answer (ERR_DIRECT_INVOKE,
 * ERR_INVOKE_OUTPUT..., DAPR_ETIMEDOUT, DAPR_EUNAVAIL); resp then NULL. An
 * app's own error status is an answer: err NULL, resp->status >= 400. */
typedef void (*dapr_invoke_cb)(const dapr_error_t *err, const dapr_invoke_response_t *resp,
                               void *data);

/* Call `method` of app_id ("app" or "app.namespace"). app_id and req are
 * borrowed for the call. Errors: DAPR_EINVAL (NULL rt/app_id/req/cb or
 * method), DAPR_ESTATE (not running). */
DAPR_EXTERN int dapr_invoke(dapr_runtime_t *rt, const char *app_id,
                            const dapr_invoke_request_t *req, dapr_invoke_cb cb, void *data);

/* One incoming call held by a handler until it answers. */
typedef struct dapr_invocation dapr_invocation_t;

/* req and everything it points to live until dapr_invocation_respond()
 * returns for this invocation. caller_app_id is the calling app's id, or
 * NULL when unknown (a call from this runtime's own API ports, or from
 * dapr_invoke() on this runtime). Handlers are called on the loop thread,
 * never inside the dapr_invoke() call that caused them. */
typedef void (*dapr_invoke_handler)(dapr_invocation_t *inv, const dapr_invoke_request_t *req,
                                    const char *caller_app_id, void *data);

/* Handle calls whose method path equals `method`, or starts with it when it
 * ends in '/' ("orders/"); "" handles every method without a better match
 * (the longest registered prefix wins). method is copied. Before or after
 * start. Errors: DAPR_EINVAL, DAPR_EEXIST (method registered), DAPR_ENOMEM. */
DAPR_EXTERN int dapr_invoke_register(dapr_runtime_t *rt, const char *method,
                                     dapr_invoke_handler handler, void *data);

/* Remove a handler; calls in progress still answer. DAPR_ENOTFOUND. */
DAPR_EXTERN int dapr_invoke_unregister(dapr_runtime_t *rt, const char *method);

/* Answer an invocation, exactly once, from the handler or later on the
 * loop thread. resp is copied; inv is freed by this call. A runtime that
 * stops first answers pending invocations with 500 and this call then still
 * frees inv and returns DAPR_ECLOSED; invocations never answered are freed
 * by dapr_runtime_destroy (inv is then gone). Errors: DAPR_EINVAL (NULL). */
DAPR_EXTERN int dapr_invocation_respond(dapr_invocation_t *inv,
                                        const dapr_invoke_response_t *resp);

#ifdef __cplusplus
}
#endif
#endif
