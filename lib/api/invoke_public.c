/* The public service invocation API (include/dapr/invoke.h): dapr_invoke
 * through the same dapr__invoke as /v1.0/invoke (api/invoke.h), and the
 * handlers of the in-process app (runtime/app_inproc.h). */
#include "dapr/invoke.h"

#include <string.h>

#include "api/invoke.h"
#include "core/alloc.h"
#include "core/strutil.h"
#include "public.h"
#include "runtime/app_inproc.h"
#include "runtime/runtime_int.h"

/* ---------------------------------------------------------------------
 * Calling an app
 * ------------------------------------------------------------------- */

static void invoked(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *ud)
{
    dapr__pcall_t *c = ud;
    dapr_invoke_cb cb = (dapr_invoke_cb)c->cb;
    if (err || !r) {
        dapr_error_t e;
        dapr__public_error(err, &e);
        cb(&e, NULL, c->data);
    } else {
        dapr_invoke_response_t resp = {.status = r->http_status,
                                       .content_type = r->content_type,
                                       .headers = r->headers,
                                       .n_headers = r->n_headers,
                                       .body = r->body ? r->body : (const uint8_t *)"",
                                       .body_len = r->body_len};
        cb(NULL, &resp, c->data);
    }
    dapr__pcall_free(c);
}

int dapr_invoke(dapr_runtime_t *rt, const char *app_id, const dapr_invoke_request_t *req,
                dapr_invoke_cb cb, void *data)
{
    if (!rt || !app_id || !req || !req->method || !cb || (!req->body && req->body_len) ||
        (!req->headers && req->n_headers))
        return DAPR_EINVAL;
    dapr__pcall_t *c;
    int rc = dapr__pcall_begin(rt, (void *)cb, data, &c);
    if (rc)
        return rc;
    const char *m = req->method;
    while (*m == '/')
        m++;
    dapr__invoke_req_t q = {.app_id = app_id,
                            .method = m,
                            .verb = req->verb && *req->verb ? req->verb : "POST",
                            .query = req->query,
                            .content_type = req->content_type,
                            .headers = req->headers,
                            .n_headers = req->n_headers,
                            .body = req->body,
                            .body_len = req->body_len};
    dapr__invoke(rt, &c->pool, &q, invoked, c);
    return 0;
}

/* ---------------------------------------------------------------------
 * Being the app
 * ------------------------------------------------------------------- */

int dapr_invoke_register(dapr_runtime_t *rt, const char *method, dapr_invoke_handler handler,
                         void *data)
{
    if (!rt || !method || !handler)
        return DAPR_EINVAL;
    while (*method == '/')
        method++;
    dapr__inproc_t *ip = dapr__inproc_get(rt);
    if (!ip)
        return DAPR_ENOMEM;
    for (size_t i = 0; i < ip->n_handlers; i++)
        if (!strcmp(ip->handlers[i].method, method))
            return DAPR_EEXIST;
    dapr__ip_handler_t *nv = dapr__realloc(ip->handlers, (ip->n_handlers + 1) * sizeof(*nv));
    if (!nv)
        return DAPR_ENOMEM;
    ip->handlers = nv;
    size_t l = strlen(method);
    dapr__ip_handler_t h = {.method = dapr__strdup(method),
                            .prefix = !l || method[l - 1] == '/',
                            .fn = handler,
                            .data = data};
    if (!h.method)
        return DAPR_ENOMEM;
    /* registered while running without an app: the program becomes it */
    if (rt->state == DAPR__RT_RUNNING && !rt->appch && rt->opt.app_port <= 0) {
        int rc = dapr__inproc_open(rt);
        if (rc) {
            dapr__free(h.method);
            return rc;
        }
    }
    ip->handlers[ip->n_handlers++] = h;
    return 0;
}

int dapr_invoke_unregister(dapr_runtime_t *rt, const char *method)
{
    if (!rt || !method)
        return DAPR_EINVAL;
    while (*method == '/')
        method++;
    dapr__inproc_t *ip = rt->inproc;
    for (size_t i = 0; ip && i < ip->n_handlers; i++) {
        if (strcmp(ip->handlers[i].method, method))
            continue;
        dapr__free(ip->handlers[i].method);
        memmove(&ip->handlers[i], &ip->handlers[i + 1],
                (ip->n_handlers - i - 1) * sizeof(*ip->handlers));
        ip->n_handlers--;
        return 0;
    }
    return DAPR_ENOTFOUND;
}

int dapr_invocation_respond(dapr_invocation_t *inv, const dapr_invoke_response_t *resp)
{
    if (!inv || !resp || (!resp->body && resp->body_len) || (!resp->headers && resp->n_headers))
        return DAPR_EINVAL;
    return dapr__inproc_answer(inv, resp->status, resp->content_type, resp->headers,
                               resp->n_headers, resp->body, resp->body_len);
}
