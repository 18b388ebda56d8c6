/* HTTP adapter of the actors API (spec §8.1): /v1.0/actors/{type}/{id}/...
 * in, lib/api/actors.c does the work. Path parameters: 0 type, 1 id, 2 the
 * method, key, timer or reminder name. */
#include <string.h>
#include <strings.h>

#include "api/actors.h"
#include "core/json.h"
#include "router.h"
#include "runtime/runtime_int.h"

static void done_204(dapr__apierr_t *err, void *data)
{
    dapr__http_req_t *req = data;
    if (err)
        dapr__http_send_error(req, err);
    else
        dapr__http_send_empty(req, 204);
}

static json_t *body_json(dapr__http_req_t *req)
{
    json_error_t jerr;
    json_t *j = dapr__json_decode(req->body, req->body_len, &jerr);
    if (!j)
        dapr__http_send_errorf(req, DAPR_ERR_MALFORMED_REQUEST, "failed deserializing HTTP body: %s",
                               jerr.text);
    return j;
}

/* A JSON value as Go's json.Marshal writes it, in the request pool. */
static char *encode(dapr__http_req_t *req, const json_t *v, size_t *len)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    if (!v || dapr__json_go_encode(v, &b))
        b.oom = 1;
    char *s = b.oom ? NULL : dapr__pool_strndup(&req->pool, b.data, b.len);
    if (len)
        *len = b.len;
    dapr__buf_free(&b);
    return s;
}

/* ---- method ------------------------------------------------------------ */

static void invoked(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    dapr__http_req_t *req = data;
    if (err) {
        dapr__http_send_error(req, err);
        return;
    }
    dapr__http_hdr_t *h = dapr__pool_alloc(&req->pool, (r->n_headers + 1) * sizeof(*h));
    if (!h) {
        dapr__http_send_error(req, NULL);
        return;
    }
    size_t n = 0;
    if (r->content_type)
        h[n++] = (dapr__http_hdr_t){"Content-Type", r->content_type};
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *k = r->headers[i].key;
        if (dapr__invoke_header_dropped(k) || !strcasecmp(k, "content-type") ||
            !strcasecmp(k, "date"))
            continue;
        h[n++] = (dapr__http_hdr_t){k, r->headers[i].value};
    }
    dapr__http_respond(req, 200, h, n, r->body, r->body_len);
}

void dapr__http_actor_invoke(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    dapr_kv_t *h = dapr__pool_alloc(&req->pool, (req->n_headers + 1) * sizeof(*h));
    if (!h) {
        dapr__http_send_error(req, NULL);
        return;
    }
    for (size_t i = 0; i < req->n_headers; i++)
        h[i] = (dapr_kv_t){req->headers[i].name, req->headers[i].value};
    dapr__actor_call_t c = {.type = req->params[0], .id = req->params[1],
                            .method = req->params[2], .body = req->body,
                            .body_len = req->body_len,
                            .content_type = dapr__http_req_header(req, "Content-Type"),
                            .headers = h, .n_headers = req->n_headers};
    dapr__actor_invoke(rt, &req->pool, &c, invoked, req);
}

/* ---- state --------------------------------------------------------------- */

static void state_got(dapr__apierr_t *err, const dapr_state_value_t *v, void *data)
{
    dapr__http_req_t *req = data;
    if (err) {
        dapr__http_send_error(req, err);
        return;
    }
    if (!v->found) {
        dapr__http_send_empty(req, 204);
        return;
    }
    static const dapr__http_hdr_t hj[] = {{"Content-Type", "application/json"}};
    dapr__http_respond(req, 200, hj, 1, v->data, v->len);
}

void dapr__http_actor_state_get(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    dapr__actor_state_get(rt, &req->pool, req->params[0], req->params[1], req->params[2],
                          state_got, req);
}

void dapr__http_actor_state_tx(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    json_t *j = body_json(req);
    if (!j)
        return;
    if (!json_is_array(j)) {
        json_decref(j);
        dapr__http_send_errorf(req, DAPR_ERR_MALFORMED_REQUEST, "failed deserializing HTTP body: "
                               "json: cannot unmarshal into a list of operations");
        return;
    }
    size_t n = json_array_size(j), i;
    dapr_state_op_t *ops = dapr__pool_calloc(&req->pool, (n ? n : 1) * sizeof(*ops));
    const char *bad = NULL;
    json_t *o;
    json_array_foreach(j, i, o)
    {
        if (!ops)
            break;
        const char *op = json_string_value(dapr__json_get(o, "operation"));
        json_t *r = dapr__json_get(o, "request");
        dapr_state_item_t *it = &ops[i].item;
        it->ttl_seconds = DAPR_TTL_UNSET;
        if (op && !strcasecmp(op, "upsert"))
            ops[i].kind = DAPR_STATE_OP_UPSERT;
        else if (op && !strcasecmp(op, "delete"))
            ops[i].kind = DAPR_STATE_OP_DELETE;
        else if (!bad)
            bad = dapr__pool_strdup(&req->pool, op ? op : "");
        const char *k = json_string_value(dapr__json_get(r, "key"));
        it->key = k ? dapr__pool_strdup(&req->pool, k) : NULL;
        json_t *v = dapr__json_get(r, "value");
        if (ops[i].kind == DAPR_STATE_OP_UPSERT) {
            it->value = (const uint8_t *)encode(req, v ? v : json_null(), &it->value_len);
            if (!it->value)
                ops = NULL;
        }
        json_t *md = dapr__json_get(r, "metadata");
        if (json_is_object(md) && ops) {
            dapr_kv_t *kv = dapr__pool_alloc(&req->pool, json_object_size(md) * sizeof(*kv) + 1);
            const char *mk;
            json_t *mv;
            size_t m = 0;
            json_object_foreach(md, mk, mv)
            {
                if (kv && json_is_string(mv))
                    kv[m++] = (dapr_kv_t){dapr__pool_strdup(&req->pool, mk),
                                          dapr__pool_strdup(&req->pool, json_string_value(mv))};
            }
            it->metadata = kv;
            it->n_metadata = kv ? m : 0;
        }
    }
    json_decref(j);
    if (!ops) {
        dapr__http_send_error(req, NULL);
        return;
    }
    dapr__actor_state_transact(rt, &req->pool, req->params[0], req->params[1], ops, n, bad,
                               done_204, req);
}

/* ---- timers and reminders ---------------------------------------------- */

static bool sched_body(dapr__http_req_t *req, dapr__actor_sched_req_t *q)
{
    memset(q, 0, sizeof(*q));
    q->type = req->params[0];
    q->id = req->params[1];
    q->name = req->params[2];
    if (!req->body_len)
        return true;
    json_t *j = body_json(req);
    if (!j)
        return false;
    const char *f[] = {"dueTime", "period", "ttl", "callback"};
    const char **dst[] = {&q->due_time, &q->period, &q->ttl, &q->callback};
    for (int i = 0; i < 4; i++) {
        json_t *v = dapr__json_get(j, f[i]);
        if (json_is_string(v))
            *dst[i] = dapr__pool_strdup(&req->pool, json_string_value(v));
    }
    json_t *d = dapr__json_get(j, "data");
    if (d && !json_is_null(d))
        q->data = encode(req, d, NULL);
    json_decref(j);
    return true;
}

void dapr__http_actor_timer(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    if (!strcmp(req->method, "DELETE")) {
        dapr__actor_timer_delete(rt, req->params[0], req->params[1], req->params[2], done_204,
                                 req);
        return;
    }
    dapr__actor_sched_req_t q;
    if (sched_body(req, &q))
        dapr__actor_timer_create(rt, &q, done_204, req);
}

void dapr__http_actor_reminder(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    if (!strcmp(req->method, "DELETE")) {
        dapr__actor_reminder_delete(rt, &req->pool, req->params[0], req->params[1],
                                    req->params[2], done_204, req);
        return;
    }
    if (!strcmp(req->method, "GET")) {
        dapr__buf_t b = DAPR__BUF_INIT;
        dapr__apierr_t *e =
            dapr__actor_reminder_get(rt, req->params[0], req->params[1], req->params[2], &b);
        if (e) {
            dapr__buf_free(&b);
            dapr__http_send_error(req, e);
            dapr__apierr_free(e);
            return;
        }
        dapr__http_send_json(req, 200, &b);
        return;
    }
    dapr__actor_sched_req_t q;
    if (sched_body(req, &q))
        dapr__actor_reminder_create(rt, &req->pool, &q, done_204, req);
}
