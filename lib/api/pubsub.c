#include "pubsub.h"
#include "api/outbound.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uv.h>

#include "core/jscan.h"
#include "core/json.h"
#include "core/strutil.h"
#include "runtime/runtime_int.h"

/* ---------------------------------------------------------------------
 * Small helpers: base64, trace context, times, content types
 * ------------------------------------------------------------------- */

static const char b64tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int dapr__b64_encode(dapr__buf_t *out, const uint8_t *in, size_t n)
{
    if (dapr__buf_reserve(out, 4 * ((n + 2) / 3) + 1))
        return DAPR_ENOMEM;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        char q[4] = {b64tbl[(v >> 18) & 63], b64tbl[(v >> 12) & 63],
                     i + 1 < n ? b64tbl[(v >> 6) & 63] : '=', i + 2 < n ? b64tbl[v & 63] : '='};
        dapr__buf_append(out, q, 4);
    }
    return out->oom ? DAPR_ENOMEM : 0;
}

long dapr__b64_decode(const char *in, size_t n, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    long o = 0;
    while (n && in[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++) {
        const char *p = in[i] ? strchr(b64tbl, in[i]) : NULL;
        if (!p)
            return -1;
        acc = (acc << 6) | (uint32_t)(p - b64tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)((acc >> bits) & 0xff);
        }
    }
    return o;
}

void dapr__pubsub_new_traceparent(char out[56])
{
    static const char hx[] = "0123456789abcdef";
    unsigned char r[24];
    char hex[48];
    if (uv_random(NULL, NULL, r, sizeof(r), 0, NULL) == 0) {
        /* one getrandom and no printf: every publish without a trace comes here */
        for (size_t i = 0; i < sizeof(r); i++) {
            hex[2 * i] = hx[r[i] >> 4];
            hex[2 * i + 1] = hx[r[i] & 15];
        }
    } else {
        char a[37], b[37];
        dapr__uuid4(a);
        dapr__uuid4(b);
        size_t k = 0;
        for (const char *p = a; *p && k < 32; p++)
            if (*p != '-')
                hex[k++] = *p;
        for (const char *p = b; *p && k < 48; p++)
            if (*p != '-')
                hex[k++] = *p;
    }
    memcpy(out, "00-", 3);
    memcpy(out + 3, hex, 32);
    out[35] = '-';
    memcpy(out + 36, hex + 32, 16);
    memcpy(out + 52, "-00", 4); /* with the NUL */
}

int64_t dapr__pubsub_parse_time(const char *s)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        return -1;
    const char *p = s + n;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
            return -1;
        off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return (int64_t)timegm(&tm) - off;
}

bool dapr__pubsub_is_json_ct(const char *ct)
{
    if (!ct)
        return false;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && !strncasecmp(ct, "application/json", 16))
        return true;
    return n > 5 && !strncasecmp(ct + n - 5, "+json", 5);
}

static bool ct_is(const char *ct, const char *want)
{
    if (!ct)
        return false;
    size_t n = strcspn(ct, ";"), wl = strlen(want);
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == wl && !strncasecmp(ct, want, n);
}

static const char *md_get(dapr__md_t md, const char *key)
{
    for (size_t i = md.n; i-- > 0;)
        if (!dapr__strcasecmp(md.kv[i].key, key))
            return md.kv[i].value;
    return NULL;
}

/* ---------------------------------------------------------------------
 * Lookup and errors
 * ------------------------------------------------------------------- */

dapr_component_t *dapr__pubsub_find(dapr_runtime_t *rt, const char *name, dapr__apierr_t **err)
{
    dapr_component_t *c = NULL;
    *err = NULL;
    if (!name || !*name) {
        /* Dapr checks for an empty name before anything else */
        *err = dapr__apierr_new(DAPR_ERR_PUBSUB_EMPTY, "pubsub name is empty");
        dapr__apierr_md(*err, "appID", rt->opt.app_id);
        return NULL;
    }
    int rc = dapr__runtime_pubsub(rt, name, &c);
    if (rc == DAPR_ESTATE)
        *err = dapr__apierr_new(DAPR_ERR_PUBSUB_NOT_CONFIGURED, "pubsub %s is not configured",
                                name);
    else if (rc)
        *err = dapr__apierr_new(DAPR_ERR_PUBSUB_NOT_FOUND, "pubsub %s is not found", name);
    if (*err)
        dapr__apierr_md(*err, "appID", rt->opt.app_id);
    return rc ? NULL : c;
}

/* Whether `topic` is one of the comma-separated names in list[0..n). */
static bool in_list(const char *list, size_t n, const char *topic)
{
    size_t tl = strlen(topic);
    while (n) {
        size_t k = 0;
        while (k < n && list[k] != ',')
            k++;
        const char *s = list;
        size_t l = k;
        while (l && (*s == ' ')) {
            s++;
            l--;
        }
        while (l && s[l - 1] == ' ')
            l--;
        if (l == tl && !strncmp(s, topic, tl))
            return true;
        list += k;
        n -= k;
        if (n) {
            list++;
            n--;
        }
    }
    return false;
}

bool dapr__pubsub_topic_allowed(const dapr_component_t *c, const char *app_id,
                                const char *topic, bool publish)
{
    const char *allowed = dapr_component_metadata(c, "allowedTopics");
    const char *prot = dapr_component_metadata(c, "protectedTopics");
    const char *scopes = dapr_component_metadata(c, publish ? "publishingScopes"
                                                            : "subscriptionScopes");
    if (allowed && *allowed && !in_list(allowed, strlen(allowed), topic))
        return false;
    bool is_protected = prot && *prot && in_list(prot, strlen(prot), topic);
    /* this app's entry of the scopes: "app=t1,t2" among ';'-separated ones */
    const char *mine = NULL;
    size_t mine_len = 0;
    bool listed = false;
    for (const char *p = scopes ? scopes : ""; *p;) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq && app_id && (size_t)(eq - p) == strlen(app_id) &&
            !strncmp(p, app_id, (size_t)(eq - p))) {
            listed = true;
            mine = eq + 1;
            mine_len = len - (size_t)(eq - p) - 1;
        }
        p += len + (end ? 1 : 0);
    }
    if (!is_protected && !listed)
        return true;
    return mine && in_list(mine, mine_len, topic);
}

static dapr__apierr_t *rich(dapr__errid_t id, const char *pubsub, dapr_runtime_t *rt,
                            const char *msg)
{
    dapr__apierr_t *e = dapr__apierr_new(id, "%s", msg);
    dapr__apierr_resource(e, pubsub);
    dapr__apierr_md(e, "appID", rt->opt.app_id);
    return e;
}

/* ---------------------------------------------------------------------
 * The CloudEvents envelope (spec §3.2)
 * ------------------------------------------------------------------- */

typedef struct env_in {
    const char *pubsub, *topic;
    const uint8_t *data;
    size_t len;
    const char *ct;
    dapr__md_t md;
    const char *traceparent, *tracestate;
    bool ttl_native;
} env_in_t;

static int set_str(json_t *o, const char *k, const char *v)
{
    return json_object_set_new(o, k, json_string(v ? v : ""));
}

/* The metadata override cloudevent.<field>, if given (the last one, any
 * case, as md_get). */
static const char *ce_override(dapr__md_t md, const char *field)
{
    static const char pre[] = "cloudevent.";
    for (size_t i = md.n; i-- > 0;) {
        const char *k = md.kv[i].key;
        if (k && dapr__strieq_n(k, sizeof(pre) - 1, pre) && !dapr__strcasecmp(k + sizeof(pre) - 1, field))
            return md.kv[i].value && *md.kv[i].value ? md.kv[i].value : NULL;
    }
    return NULL;
}

/* "data" or "data_base64" of the envelope, written as Go's json.Marshal of
 * Dapr's envelope would, except that JSON data is spliced in as sent (after
 * a validity scan) rather than parsed and re-marshalled: the same JSON
 * value, in the publisher's key order and spacing. */
static void put_data(dapr__buf_t *b, const env_in_t *in, const char *ct)
{
    const char *d = (const char *)in->data;
    if (dapr__pubsub_is_json_ct(ct)) {
        dapr__jspan_t sp;
        int rc = in->len ? dapr__jscan_doc(d, in->len, &sp) : DAPR__JS_BAD;
        if (rc == DAPR__JS_OK) {
            dapr__buf_puts(b, "\"data\":");
            dapr__buf_append(b, sp.p, sp.n);
            return;
        }
        json_t *j = rc == DAPR__JS_UNSURE ? dapr__json_decode(d, in->len, NULL) : NULL;
        if (j) { /* beyond the scanner's limits: jansson decides */
            dapr__buf_puts(b, "\"data\":");
            if (dapr__json_go_encode(j, b))
                b->oom = 1;
            json_decref(j);
            return;
        }
    }
    /* text (JSON that does not parse included) as a JSON string */
    if (!ct_is(ct, "application/octet-stream") && dapr__jscan_utf8_valid(in->data, in->len)) {
        dapr__buf_puts(b, "\"data\":");
        dapr__buf_json_str(b, d, in->len, 1);
        return;
    }
    /* binary, or text that is not UTF-8: the bytes intact as base64 */
    dapr__buf_puts(b, "\"data_base64\":\"");
    dapr__b64_encode(b, in->data, in->len);
    dapr__buf_putc(b, '"');
}

/* ,"name":"value" (names are plain identifiers) */
static void put_field(dapr__buf_t *b, const char *name, const char *v)
{
    dapr__buf_append(b, ",\"", 2);
    dapr__buf_puts(b, name);
    dapr__buf_append(b, "\":", 2);
    dapr__buf_json_str(b, v, strlen(v), 1);
}

/* The expiration time for ttlInSeconds (unless the broker has native TTL):
 * "" when none; NULL after an invalid value (the error in *err). */
static const char *expiration(dapr_runtime_t *rt, const env_in_t *in, char exp[48],
                              dapr__apierr_t **err)
{
    const char *ttl = md_get(in->md, "ttlInSeconds");
    exp[0] = '\0';
    if (!ttl || !*ttl || in->ttl_native)
        return exp;
    int64_t secs;
    if (dapr__parse_int(ttl, &secs) || secs < 0) {
        char m[160];
        snprintf(m, sizeof(m), "failed deserializing metadata: ttlInSeconds: invalid value "
                 "\"%.64s\"", ttl);
        *err = rich(DAPR_ERR_PUBSUB_REQUEST_METADATA, in->pubsub, rt, m);
        return NULL;
    }
    dapr__format_time_rfc3339(exp, 48, dapr__now_unix_ns() + secs * 1000000000LL, false);
    return exp;
}

/* A new envelope around the data, written straight into out with the keys
 * in Go's (sorted) order: no tree. */
static dapr__apierr_t *envelope_new(dapr_runtime_t *rt, const env_in_t *in, const char *ct,
                                    const char *now, const char *traceparent, dapr__buf_t *out)
{
    dapr__apierr_t *e = NULL;
    char exp[48], id[37];
    if (!expiration(rt, in, exp, &e))
        return e;
    const char *v, *source = (v = ce_override(in->md, "source")) ? v
                             : rt->opt.app_id && *rt->opt.app_id ? rt->opt.app_id : "Dapr";
    const char *idv = ce_override(in->md, "id");
    if (!idv) {
        dapr__uuid4(id);
        idv = id;
    }
    if ((v = ce_override(in->md, "traceparent")))
        traceparent = v;
    const char *traceid = ce_override(in->md, "traceid");
    const char *ts = ce_override(in->md, "tracestate");
    const char *type = ce_override(in->md, "type");
    if (dapr__buf_reserve(out, in->len + 512))
        return dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory");
    dapr__buf_putc(out, '{');
    put_data(out, in, ct);
    put_field(out, "datacontenttype", ct);
    if (*exp)
        put_field(out, "expiration", exp);
    put_field(out, "id", idv);
    put_field(out, "pubsubname", in->pubsub);
    put_field(out, "source", source);
    put_field(out, "specversion", "1.0");
    put_field(out, "time", now);
    put_field(out, "topic", in->topic);
    put_field(out, "traceid", traceid ? traceid : traceparent);
    put_field(out, "traceparent", traceparent);
    put_field(out, "tracestate", ts ? ts : in->tracestate ? in->tracestate : "");
    put_field(out, "type", type ? type : "com.dapr.event.sent");
    dapr__buf_putc(out, '}');
    if (out->oom)
        return rich(DAPR_ERR_PUBSUB_EVENTS_SER, in->pubsub, rt, "error marshalling the envelope");
    return NULL;
}

/* Build the envelope into out. Returns NULL or the API error. */
static dapr__apierr_t *envelope(dapr_runtime_t *rt, const env_in_t *in, dapr__buf_t *out)
{
    char tp[56], now[48];
    const char *traceparent = in->traceparent && *in->traceparent ? in->traceparent : NULL;
    if (!traceparent) {
        dapr__pubsub_new_traceparent(tp);
        traceparent = tp;
    }
    dapr__format_time_rfc3339(now, sizeof(now), dapr__now_unix_ns(), false);
    const char *ct = in->ct && *in->ct ? in->ct : "text/plain";
    if (!ct_is(ct, "application/cloudevents+json"))
        return envelope_new(rt, in, ct, now, traceparent, out);
    /* passthrough: the app's own CloudEvent, completed */
    json_error_t je;
    json_t *ce = in->len ? json_loadb((const char *)in->data, in->len, 0, &je) : NULL;
    if (!ce || !json_is_object(ce)) {
        json_decref(ce);
        return rich(DAPR_ERR_PUBSUB_CLOUD_EVENTS_SER, in->pubsub, rt,
                    "cannot create cloudevent: the body is not a JSON object");
    }
    if (!json_object_get(ce, "time"))
        set_str(ce, "time", now);
    if (!json_object_get(ce, "source"))
        set_str(ce, "source", "Dapr");
    if (!json_object_get(ce, "type"))
        set_str(ce, "type", "com.dapr.event.sent");
    if (!json_object_get(ce, "specversion"))
        set_str(ce, "specversion", "1.0");
    set_str(ce, "traceid", traceparent);
    set_str(ce, "traceparent", traceparent);
    set_str(ce, "tracestate", in->tracestate ? in->tracestate : "");
    set_str(ce, "topic", in->topic);
    set_str(ce, "pubsubname", in->pubsub);
    char exp[48];
    dapr__apierr_t *e = NULL;
    if (!expiration(rt, in, exp, &e)) {
        json_decref(ce);
        return e;
    }
    if (*exp)
        set_str(ce, "expiration", exp);
    int rc = dapr__json_go_encode(ce, out);
    json_decref(ce);
    if (rc || out->oom)
        return rich(DAPR_ERR_PUBSUB_EVENTS_SER, in->pubsub, rt, "error marshalling the envelope");
    return NULL;
}

/* rawPayload metadata: absent/empty = false; a Go bool; else an error. */
static dapr__apierr_t *raw_payload(dapr_runtime_t *rt, const char *pubsub, dapr__md_t md,
                                   bool *raw)
{
    const char *v = md_get(md, "rawPayload");
    *raw = false;
    if (!v || !*v)
        return NULL;
    if (dapr__parse_bool(v, raw)) {
        char m[160];
        snprintf(m, sizeof(m), "failed deserializing metadata: rawPayload: invalid value "
                 "\"%.64s\"", v);
        return rich(DAPR_ERR_PUBSUB_REQUEST_METADATA, pubsub, rt, m);
    }
    return NULL;
}

/* ---------------------------------------------------------------------
 * Publish
 * ------------------------------------------------------------------- */

typedef struct pub_ctx {
    dapr_runtime_t *rt;
    const char *pubsub, *topic;
    dapr__pubsub_done_cb cb;
    void *data;
    dapr_component_t *c;
    dapr_pubsub_msg_t m; /* for every attempt */
} pub_ctx_t;

static int pub_one(void *ud, dapr_done_cb cb, void *cbdata)
{
    pub_ctx_t *p = ud;
    return p->c->ps_vt->publish(p->c, &p->m, cb, cbdata);
}

static void pub_done(const dapr_error_t *err, void *data)
{
    pub_ctx_t *p = data;
    if (!err) {
        p->cb(NULL, p->data);
        return;
    }
    dapr__apierr_t *e = dapr__apierr_new(
        DAPR_ERR_PUBSUB_PUBLISH_MESSAGE, "error when publishing to topic %s in pubsub %s: %s",
        p->topic, p->pubsub, err->message ? err->message : dapr_strerror(err->code));
    dapr__apierr_resource(e, p->pubsub);
    dapr__apierr_md(e, "appID", p->rt->opt.app_id);
    p->cb(e, p->data);
    dapr__apierr_free(e);
}

static void fail(dapr__pubsub_done_cb cb, void *data, dapr__apierr_t *e)
{
    cb(e, data);
    dapr__apierr_free(e);
}

/* Checks shared by publish and bulk publish; returns the component. */
static dapr_component_t *check(dapr_runtime_t *rt, const dapr__pubsub_pub_req_t *req,
                               dapr__apierr_t **err)
{
    dapr_component_t *c = dapr__pubsub_find(rt, req->pubsub, err);
    if (c && (!req->topic || !*req->topic)) {
        *err = dapr__apierr_new(DAPR_ERR_PUBSUB_TOPIC_EMPTY, "topic is empty in pubsub %s",
                                req->pubsub);
        dapr__apierr_resource(*err, req->pubsub);
        dapr__apierr_md(*err, "appID", rt->opt.app_id);
        return NULL;
    }
    if (c && !dapr__pubsub_topic_allowed(c, rt->opt.app_id, req->topic, true)) {
        *err = dapr__apierr_new(DAPR_ERR_PUBSUB_FORBIDDEN, "topic %s is not allowed for app id %s",
                                req->topic, rt->opt.app_id ? rt->opt.app_id : "");
        dapr__apierr_resource(*err, req->pubsub);
        dapr__apierr_md(*err, "appID", rt->opt.app_id);
        return NULL;
    }
    return c;
}

/* One message to the component: envelope (unless raw), then publish. */
static void publish_one(dapr_runtime_t *rt, dapr_component_t *c, dapr__pool_t *pool,
                        const env_in_t *in, bool raw, dapr__pubsub_done_cb cb, void *data)
{
    const uint8_t *bytes = in->data;
    size_t len = in->len;
    const char *ct = in->ct && *in->ct ? in->ct : "text/plain";
    if (!raw) {
        dapr__buf_t b = DAPR__BUF_INIT;
        dapr__apierr_t *e = envelope(rt, in, &b);
        if (e) {
            dapr__buf_free(&b);
            fail(cb, data, e);
            return;
        }
        uint8_t *copy = dapr__pool_alloc(pool, b.len + 1);
        if (copy)
            memcpy(copy, b.data, b.len);
        len = b.len;
        dapr__buf_free(&b);
        if (!copy) {
            fail(cb, data, dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory"));
            return;
        }
        bytes = copy;
        ct = "application/cloudevents+json";
    }
    pub_ctx_t *p = dapr__pool_alloc(pool, sizeof(*p));
    if (!p) {
        fail(cb, data, dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory"));
        return;
    }
    *p = (pub_ctx_t){rt, in->pubsub, in->topic, cb, data, c,
                     {.topic = in->topic, .data = bytes, .len = len, .content_type = ct,
                      .metadata = in->md.kv, .n_metadata = in->md.n}};
    int rc = dapr__ob_call(rt, c, pub_one, p, pub_done, p);
    if (rc) {
        dapr_error_t e = {rc, dapr_strerror(rc), NULL};
        pub_done(&e, p);
    }
}

void dapr__pubsub_publish(dapr_runtime_t *rt, dapr__pool_t *pool, const dapr__pubsub_pub_req_t *req,
                          dapr__pubsub_done_cb cb, void *data)
{
    dapr__apierr_t *e = NULL;
    dapr_component_t *c = check(rt, req, &e);
    bool raw = false;
    if (!c || (e = raw_payload(rt, req->pubsub, req->md, &raw))) {
        fail(cb, data, e);
        return;
    }
    env_in_t in = {req->pubsub, req->topic, req->data, req->len, req->content_type, req->md,
                   req->traceparent, req->tracestate,
                   (c->ps_vt->features & DAPR_PUBSUB_FEATURE_MESSAGE_TTL) != 0};
    publish_one(rt, c, pool, &in, raw, cb, data);
}

/* ---------------------------------------------------------------------
 * Bulk publish: entry by entry (no built-in broker has native bulk yet;
 * a component with BULK_PUBLISH gets the same per-entry treatment for now)
 * ------------------------------------------------------------------- */

typedef struct bulk_ctx bulk_ctx_t;
typedef struct bulk_slot {
    bulk_ctx_t *b;
    size_t i;
} bulk_slot_t;

struct bulk_ctx {
    dapr_runtime_t *rt;
    dapr__pool_t *pool;
    size_t n, done;
    bool launching;
    dapr__pubsub_bulk_failed_t *failed;
    size_t n_failed;
    dapr__pubsub_bulk_cb cb;
    void *data;
};

static void bulk_finish(bulk_ctx_t *b) { b->cb(NULL, b->failed, b->n_failed, b->data); }

static void bulk_entry_done(dapr__apierr_t *err, void *data)
{
    bulk_slot_t *s = data;
    bulk_ctx_t *b = s->b;
    if (err) {
        dapr__pubsub_bulk_failed_t *f = &b->failed[b->n_failed++];
        f->entry_id = NULL; /* filled below from the slot */
        f->error = dapr__pool_strdup(b->pool, err->message ? err->message : "error");
        f->entry_id = (const char *)(uintptr_t)s->i; /* index, resolved at the end */
    }
    if (++b->done == b->n && !b->launching)
        bulk_finish(b);
}

typedef struct bulk_wrap {
    bulk_ctx_t *b;
    const dapr__pubsub_bulk_entry_t *entries;
    dapr__pubsub_bulk_cb user_cb;
    void *user_data;
} bulk_wrap_t;

/* Turn the indexes kept in failed[].entry_id back into the entry ids. */
static void bulk_resolve(dapr__apierr_t *err, const dapr__pubsub_bulk_failed_t *failed, size_t n,
                         void *data)
{
    bulk_wrap_t *w = data;
    dapr__pubsub_bulk_failed_t *f = (dapr__pubsub_bulk_failed_t *)failed;
    for (size_t i = 0; i < n; i++)
        f[i].entry_id = w->entries[(uintptr_t)f[i].entry_id].entry_id;
    w->user_cb(err, failed, n, w->user_data);
}

void dapr__pubsub_bulk_publish(dapr_runtime_t *rt, dapr__pool_t *pool,
                               const dapr__pubsub_pub_req_t *req,
                               const dapr__pubsub_bulk_entry_t *entries, size_t n,
                               dapr__pubsub_bulk_cb cb, void *data)
{
    dapr__apierr_t *e = NULL;
    dapr_component_t *c = check(rt, req, &e);
    bool raw = false;
    if (c)
        e = raw_payload(rt, req->pubsub, req->md, &raw);
    for (size_t i = 0; c && !e && i < n; i++) {
        if (!entries[i].entry_id || !*entries[i].entry_id)
            e = rich(DAPR_ERR_PUBSUB_EVENTS_SER, req->pubsub, rt,
                     "error: entryId is duplicated or not present for entry");
        for (size_t j = 0; !e && j < i; j++)
            if (!strcmp(entries[i].entry_id, entries[j].entry_id))
                e = rich(DAPR_ERR_PUBSUB_EVENTS_SER, req->pubsub, rt,
                         "error: entryId is duplicated or not present for entry");
    }
    if (!c || e) {
        cb(e, NULL, 0, data);
        dapr__apierr_free(e);
        return;
    }
    bulk_ctx_t *b = dapr__pool_calloc(pool, sizeof(*b));
    bulk_wrap_t *w = dapr__pool_alloc(pool, sizeof(*w));
    bulk_slot_t *slots = dapr__pool_alloc(pool, (n ? n : 1) * sizeof(*slots));
    dapr__pubsub_bulk_failed_t *failed = dapr__pool_alloc(pool, (n ? n : 1) * sizeof(*failed));
    if (!b || !w || !slots || !failed) {
        e = dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory");
        cb(e, NULL, 0, data);
        dapr__apierr_free(e);
        return;
    }
    *w = (bulk_wrap_t){b, entries, cb, data};
    *b = (bulk_ctx_t){.rt = rt, .pool = pool, .n = n, .launching = true, .failed = failed,
                      .cb = bulk_resolve, .data = w};
    bool ttl_native = (c->ps_vt->features & DAPR_PUBSUB_FEATURE_MESSAGE_TTL) != 0;
    for (size_t i = 0; i < n; i++) {
        const dapr__pubsub_bulk_entry_t *en = &entries[i];
        /* request metadata, then the entry's (later wins) */
        dapr_kv_t *kv = dapr__pool_alloc(pool, (req->md.n + en->md.n + 1) * sizeof(*kv));
        slots[i] = (bulk_slot_t){b, i};
        if (!kv) {
            dapr__apierr_t *oe = dapr__apierr_new(DAPR_ERR_INTERNAL, "out of memory");
            bulk_entry_done(oe, &slots[i]);
            dapr__apierr_free(oe);
            continue;
        }
        if (req->md.n)
            memcpy(kv, req->md.kv, req->md.n * sizeof(*kv));
        if (en->md.n)
            memcpy(kv + req->md.n, en->md.kv, en->md.n * sizeof(*kv));
        env_in_t in = {req->pubsub, req->topic, en->data, en->len, en->content_type,
                       {kv, req->md.n + en->md.n}, req->traceparent, req->tracestate,
                       ttl_native};
        publish_one(rt, c, pool, &in, raw, bulk_entry_done, &slots[i]);
    }
    b->launching = false;
    if (b->done == b->n)
        bulk_finish(b);
}
