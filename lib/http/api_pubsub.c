/* HTTP adapter of pub/sub publishing (spec §3.1, §3.3):
 * POST|PUT /v1.0/publish/{pubsub}/{topic...} and
 * POST|PUT /v1.0-alpha1/publish/bulk/{pubsub}/{topic...}. */
#include <string.h>
#include <strings.h>

#include "api/pubsub.h"
#include "core/json.h"
#include "core/strutil.h"
#include "router.h"
#include "runtime/runtime_int.h"

/* {pubsub}/{topic...} after `prefix`: both unescaped into the pool; the
 * topic is "" when missing. false after answering a bad escape. */
static bool split_path(dapr__http_req_t *req, const char *prefix, const char **pubsub,
                       const char **topic)
{
    const char *p = req->path + strlen(prefix);
    const char *slash = strchr(p, '/');
    size_t pl = slash ? (size_t)(slash - p) : strlen(p);
    const char *t = slash ? slash + 1 : "";
    char *ps = dapr__pool_alloc(&req->pool, pl + 1);
    char *tp = dapr__pool_alloc(&req->pool, strlen(t) + 1);
    long a = ps ? dapr__url_unescape(p, pl, ps, false) : -1;
    long b = tp ? dapr__url_unescape(t, strlen(t), tp, false) : -1;
    if (a < 0 || b < 0 || memchr(ps, 0, (size_t)a) || memchr(tp, 0, (size_t)b)) {
        static const dapr__http_hdr_t h[] = {{"Content-Type", "text/plain; charset=utf-8"}};
        static const char msg[] = "invalid URL escape in path\n";
        dapr__http_respond(req, 400, h, 1, msg, sizeof(msg) - 1);
        return false;
    }
    *pubsub = ps;
    *topic = tp;
    return true;
}

static void base_req(dapr__http_req_t *req, dapr__pubsub_pub_req_t *r, const char *pubsub,
                     const char *topic)
{
    memset(r, 0, sizeof(*r));
    r->pubsub = pubsub;
    r->topic = topic;
    r->md = dapr__http_query_md(req);
    r->traceparent = dapr__http_req_header(req, "traceparent");
    r->tracestate = dapr__http_req_header(req, "tracestate");
}

static void publish_done(dapr__apierr_t *err, void *data)
{
    dapr__http_req_t *req = data;
    if (err)
        dapr__http_send_error(req, err);
    else
        dapr__http_send_empty(req, 204);
}

void dapr__http_publish(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    const char *pubsub, *topic;
    if (!split_path(req, "/v1.0/publish/", &pubsub, &topic))
        return;
    dapr__pubsub_pub_req_t r;
    base_req(req, &r, pubsub, topic);
    r.data = req->body;
    r.len = req->body_len;
    r.content_type = dapr__http_req_header(req, "Content-Type");
    dapr__pubsub_publish(rt, &req->pool, &r, publish_done, req);
}

/* ---- bulk --------------------------------------------------------------- */

static void bulk_done(dapr__apierr_t *err, const dapr__pubsub_bulk_failed_t *f, size_t n,
                      void *data)
{
    dapr__http_req_t *req = data;
    if (err) {
        dapr__http_send_error(req, err);
        return;
    }
    if (!n) {
        dapr__http_send_empty(req, 204);
        return;
    }
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_puts(&b, "{\"failedEntries\":[");
    for (size_t i = 0; i < n; i++) {
        dapr__buf_puts(&b, i ? ",{\"entryId\":" : "{\"entryId\":");
        dapr__buf_json_str(&b, f[i].entry_id, strlen(f[i].entry_id), 1);
        dapr__buf_puts(&b, ",\"error\":");
        dapr__buf_json_str(&b, f[i].error ? f[i].error : "", f[i].error ? strlen(f[i].error) : 0,
                           1);
        dapr__buf_putc(&b, '}');
    }
    dapr__buf_puts(&b, "],\"errorCode\":\"ERR_PUBSUB_PUBLISH_MESSAGE\"}");
    dapr__http_send_json(req, dapr__errdef(DAPR_ERR_PUBSUB_PUBLISH_MESSAGE)->http, &b);
}

static void bulk_fail(dapr__http_req_t *req, const char *pubsub, const char *msg)
{
    dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_PUBSUB_EVENTS_SER, "%s", msg);
    dapr__apierr_resource(e, pubsub);
    dapr__http_send_error(req, e);
    dapr__apierr_free(e);
}

/* Entry `event` → bytes by its content type (spec §3.3). NULL = mismatch. */
static const char *entry_bytes(dapr__http_req_t *req, const json_t *ev, const char *ct,
                               dapr__pubsub_bulk_entry_t *out)
{
    if (ct && !strncasecmp(ct, "application/octet-stream", 24)) {
        if (!json_is_string(ev))
            return "an application/octet-stream event must be a base64 string";
        size_t n = json_string_length(ev);
        uint8_t *buf = dapr__pool_alloc(&req->pool, 3 * ((n + 3) / 4) + 1);
        long l = buf ? dapr__b64_decode(json_string_value(ev), n, buf) : -1;
        if (l < 0)
            return "an application/octet-stream event must be a base64 string";
        out->data = buf;
        out->len = (size_t)l;
        return NULL;
    }
    if (ct && (!strncasecmp(ct, "text/", 5) || !strncasecmp(ct, "application/xml", 15))) {
        if (!json_is_string(ev))
            return "a text event must be a JSON string";
        out->data = (const uint8_t *)dapr__pool_strndup(&req->pool, json_string_value(ev),
                                                        json_string_length(ev));
        out->len = json_string_length(ev);
        return out->data ? NULL : "out of memory";
    }
    if (dapr__pubsub_is_json_ct(ct)) {
        dapr__buf_t b = DAPR__BUF_INIT;
        if (!ev || dapr__json_go_encode(ev, &b) || b.oom) {
            dapr__buf_free(&b);
            return "cannot encode the event";
        }
        uint8_t *d = dapr__pool_alloc(&req->pool, b.len + 1);
        if (d)
            memcpy(d, b.data, b.len);
        out->data = d;
        out->len = b.len;
        dapr__buf_free(&b);
        return d ? NULL : "out of memory";
    }
    return "unsupported contentType";
}

void dapr__http_publish_bulk(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    const char *pubsub, *topic;
    if (!split_path(req, "/v1.0-alpha1/publish/bulk/", &pubsub, &topic))
        return;
    dapr__pubsub_pub_req_t r;
    base_req(req, &r, pubsub, topic);
    json_error_t je;
    json_t *j = dapr__json_decode(req->body, req->body_len, &je);
    if (!j || !json_is_array(j)) {
        char msg[300];
        snprintf(msg, sizeof(msg), "error when unmarshaling the request for topic %s pubsub "
                 "%s: %s", topic, pubsub, j ? "the body must be a JSON array" : je.text);
        json_decref(j);
        bulk_fail(req, pubsub, msg);
        return;
    }
    size_t n = json_array_size(j);
    dapr__pubsub_bulk_entry_t *en = dapr__pool_calloc(&req->pool, (n ? n : 1) * sizeof(*en));
    if (!en) {
        json_decref(j);
        dapr__http_send_error(req, NULL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(j, i), *v;
        const char *why = NULL;
        if (!json_is_object(o)) {
            why = "an entry must be a JSON object";
        } else {
            v = dapr__json_get(o, "entryId");
            en[i].entry_id = json_is_string(v) ? dapr__pool_strdup(&req->pool, json_string_value(v))
                                               : NULL;
            v = dapr__json_get(o, "contentType");
            en[i].content_type = json_is_string(v)
                                     ? dapr__pool_strdup(&req->pool, json_string_value(v))
                                     : NULL;
            why = entry_bytes(req, dapr__json_get(o, "event"), en[i].content_type, &en[i]);
            v = dapr__json_get(o, "metadata");
            size_t nm = json_is_object(v) ? json_object_size(v) : 0;
            dapr_kv_t *kv = dapr__pool_alloc(&req->pool, (nm ? nm : 1) * sizeof(*kv));
            const char *k;
            json_t *mv;
            if (nm && kv)
                json_object_foreach(v, k, mv)
                {
                    if (json_is_string(mv))
                        kv[en[i].md.n++] = (dapr_kv_t){dapr__pool_strdup(&req->pool, k),
                                                       dapr__pool_strdup(&req->pool,
                                                                         json_string_value(mv))};
                }
            en[i].md.kv = kv;
        }
        if (why) {
            char msg[300];
            snprintf(msg, sizeof(msg), "error when unmarshaling the request for topic %s pubsub "
                     "%s: entry %zu: %s", topic, pubsub, i, why);
            json_decref(j);
            bulk_fail(req, pubsub, msg);
            return;
        }
    }
    json_decref(j);
    dapr__pubsub_bulk_publish(rt, &req->pool, &r, en, n, bulk_done, req);
}
