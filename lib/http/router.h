/* Routing of API requests (spec §0.1) and the helpers the HTTP adapters of
 * the building blocks share. */
#ifndef DAPR_HTTP_ROUTER_H
#define DAPR_HTTP_ROUTER_H

#include "core/errors.h"
#include "server.h"
#include "api/state.h"

struct dapr_runtime;

/* The server's on_request callback; ud is the dapr_runtime_t. */
void dapr__http_dispatch(dapr__http_req_t *req, void *ud);
/* The server's stream_body predicate: service invocation bodies larger than
 * 64 KiB (or of unknown length) pass through without being held whole. */
bool dapr__http_stream_wanted(const dapr__http_req_t *req, void *ud);

/* --- helpers for adapters -------------------------------------------- */

void dapr__http_send_error(dapr__http_req_t *req, const dapr__apierr_t *err);
/* Send an error from the catalogue with a message. */
void dapr__http_send_errorf(dapr__http_req_t *req, dapr__errid_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dapr__http_send_json(dapr__http_req_t *req, int status, dapr__buf_t *body);
void dapr__http_send_empty(dapr__http_req_t *req, int status);

/* The query's metadata.<k> parameters as pairs (first value of each), in
 * the request pool. */
dapr__md_t dapr__http_query_md(dapr__http_req_t *req);
/* First value of a query parameter, unescaped, or NULL. */
const char *dapr__http_query_get(dapr__http_req_t *req, const char *name);

/* Adapters (one file per building block). */
void dapr__http_state_save(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_state_get(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_state_delete(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_state_bulk(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_state_transaction(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_state_query(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_publish(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_publish_bulk(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_metadata_get(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_metadata_put(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_healthz(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_healthz_outbound(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_shutdown(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_actor_invoke(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_actor_state_get(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_actor_state_tx(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_actor_timer(struct dapr_runtime *rt, dapr__http_req_t *req);
void dapr__http_actor_reminder(struct dapr_runtime *rt, dapr__http_req_t *req);

#endif
