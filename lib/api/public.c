/* Helpers of the public wrappers (public.h). */
#include "public.h"

#include <string.h>

#include "core/alloc.h"
#include "runtime/runtime_int.h"

int dapr__public_ready(const dapr_runtime_t *rt)
{
    if (!rt)
        return DAPR_EINVAL;
    return rt->state == DAPR__RT_RUNNING ? 0 : DAPR_ESTATE;
}

int dapr__public_code(const dapr__apierr_t *e)
{
    if (!e)
        return DAPR_ENOMEM;
    switch (e->id) {
    case DAPR_ERR_STATE_STORE_NOT_FOUND:
    case DAPR_ERR_STATE_STORE_NOT_CONFIGURED:
    case DAPR_ERR_PUBSUB_NOT_CONFIGURED:
    case DAPR_ERR_PUBSUB_NOT_FOUND:
    case DAPR_ERR_ACTOR_RUNTIME_NOT_FOUND:
    case DAPR_ERR_DIRECT_INVOKE_NO_APPID:
        return DAPR_ENOTFOUND;
    case DAPR_ERR_STATE_SAVE_ETAG_MISMATCH:
    case DAPR_ERR_STATE_DELETE_ETAG_MISMATCH:
    case DAPR_ERR_STATE_BULK_DELETE_ETAG_MISMATCH:
    case DAPR_ERR_STATE_TRANSACTION_ETAG_MISMATCH:
        return DAPR_EETAG_MISMATCH;
    case DAPR_ERR_STATE_SAVE_ETAG_INVALID:
    case DAPR_ERR_STATE_DELETE_ETAG_INVALID:
    case DAPR_ERR_STATE_BULK_DELETE_ETAG_INVALID:
    case DAPR_ERR_STATE_TRANSACTION_ETAG_INVALID:
        return DAPR_EETAG_INVALID;
    case DAPR_ERR_MALFORMED_REQUEST:
    case DAPR_ERR_BODY_READ:
    case DAPR_ERR_BAD_REQUEST:
    case DAPR_ERR_STATE_ILLEGAL_KEY:
    case DAPR_ERR_STATE_TOO_MANY_TRANSACTIONS:
    case DAPR_ERR_PUBSUB_EMPTY:
    case DAPR_ERR_PUBSUB_TOPIC_EMPTY:
    case DAPR_ERR_PUBSUB_REQUEST_METADATA:
    case DAPR_ERR_PUBSUB_EVENTS_SER:
    case DAPR_ERR_ACTOR_INSTANCE_MISSING:
        return DAPR_EINVAL;
    case DAPR_ERR_BODY_TOO_LARGE:
        return DAPR_ETOOBIG;
    case DAPR_ERR_API_UNIMPLEMENTED:
    case DAPR_ERR_STATE_OP_NOT_SUPPORTED:
    case DAPR_ERR_STATE_TX_NOT_SUPPORTED:
    case DAPR_ERR_STATE_QUERY_NOT_SUPPORTED:
        return DAPR_ENOTSUP;
    case DAPR_ERR_PUBSUB_FORBIDDEN:
        return DAPR_EDENIED;
    case DAPR_ERR_ACTOR_RUNTIME_CLOSED:
        return DAPR_ECLOSED;
    case DAPR_ERR_ACTOR_NO_ADDRESS:
    case DAPR_ERR_ACTOR_NO_APP_CHANNEL:
    case DAPR_ERR_HEALTH_NOT_READY:
    case DAPR_ERR_OUTBOUND_HEALTH_NOT_READY:
        return DAPR_EUNAVAIL;
    case DAPR_ERR_DIRECT_INVOKE:
        if (e->message && strstr(e->message, "deadline exceeded"))
            return DAPR_ETIMEDOUT;
        return DAPR_EUNAVAIL;
    default:
        if (e->message && strstr(e->message, "out of memory"))
            return DAPR_ENOMEM;
        return DAPR_EBACKEND;
    }
}

void dapr__public_error(const dapr__apierr_t *e, dapr_error_t *out)
{
    if (!e) {
        *out = (dapr_error_t){DAPR_ENOMEM, dapr_strerror(DAPR_ENOMEM), NULL};
        return;
    }
    const dapr__errdef_t *d = dapr__errdef(e->id);
    *out = (dapr_error_t){dapr__public_code(e), e->message ? e->message : "",
                          d ? d->code : NULL};
}

dapr__pcall_t *dapr__pcall_new(void *cb, void *data)
{
    dapr__pcall_t *c = dapr__calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    dapr__pool_init(&c->pool, 1024);
    c->cb = cb;
    c->data = data;
    return c;
}

void dapr__pcall_free(dapr__pcall_t *c)
{
    dapr__pool_destroy(&c->pool);
    dapr__free(c);
}

void dapr__pcall_done(dapr__apierr_t *err, void *ud)
{
    dapr__pcall_t *c = ud;
    dapr_done_cb cb = (dapr_done_cb)c->cb;
    if (err) {
        dapr_error_t e;
        dapr__public_error(err, &e);
        cb(&e, c->data);
    } else {
        cb(NULL, c->data);
    }
    dapr__pcall_free(c);
}

void dapr__pcall_got(dapr__apierr_t *err, const dapr_state_value_t *val, void *ud)
{
    dapr__pcall_t *c = ud;
    dapr_state_get_cb cb = (dapr_state_get_cb)c->cb;
    if (err) {
        dapr_error_t e;
        dapr__public_error(err, &e);
        cb(&e, NULL, c->data);
    } else {
        dapr_state_value_t none = {.found = false};
        cb(NULL, val ? val : &none, c->data);
    }
    dapr__pcall_free(c);
}

int dapr__pcall_begin(dapr_runtime_t *rt, void *cb, void *data, dapr__pcall_t **out)
{
    int rc = dapr__public_ready(rt);
    if (rc)
        return rc;
    return (*out = dapr__pcall_new(cb, data)) ? 0 : DAPR_ENOMEM;
}
