/* HTTP adapter of the state API (spec §2): JSON bodies and query strings in,
 * lib/api/state.c does the work, status codes and JSON out. */
#include <string.h>

#include "core/jscan.h"
#include "core/json.h"
#include "core/strutil.h"
#include "router.h"
#include "runtime/runtime_int.h"

/* ---------------------------------------------------------------------
 * Decoding helpers (Go encoding/json semantics: case-insensitive field
 * names, unknown fields ignored, type mismatches are errors)
 * ------------------------------------------------------------------- */

typedef struct decode_err {
    char msg[256];
} decode_err_t;

static bool derr(decode_err_t *e, const char *what)
{
    snprintf(e->msg, sizeof(e->msg), "%s", what);
    return false;
}

/* Optional string field: absent or null → NULL. */
static bool get_str(dapr__pool_t *pool, const json_t *obj, const char *name, const char **out,
                    decode_err_t *e)
{
    json_t *v = dapr__json_get(obj, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        snprintf(e->msg, sizeof(e->msg), "json: cannot unmarshal %s into field %s of type string",
                 json_is_number(v) ? "number" : json_is_object(v) ? "object" : "value", name);
        return false;
    }
    if (memchr(json_string_value(v), 0, json_string_length(v))) {
        /* it would be cut short at the NUL: "a\u0000b" must not mean "a" */
        snprintf(e->msg, sizeof(e->msg), "field %s contains a NUL character, which libdapr "
                 "does not accept", name);
        return false;
    }
    *out = dapr__pool_strndup(pool, json_string_value(v), json_string_length(v));
    return *out != NULL || derr(e, "out of memory");
}

/* Optional map[string]string field. */
static bool get_md(dapr__pool_t *pool, const json_t *obj, const char *name, dapr_kv_t **kv,
                   size_t *n, decode_err_t *e)
{
    json_t *m = obj ? dapr__json_get(obj, name) : NULL;
    *kv = NULL;
    *n = 0;
    if (!m || json_is_null(m))
        return true;
    if (!json_is_object(m))
        return derr(e, "json: cannot unmarshal metadata: expected an object of strings");
    size_t cnt = json_object_size(m);
    if (!cnt)
        return true;
    dapr_kv_t *out = dapr__pool_alloc(pool, cnt * sizeof(*out));
    if (!out)
        return derr(e, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        if (!json_is_string(v))
            return derr(e, "json: cannot unmarshal metadata value: expected a string");
        out[*n].key = dapr__pool_strdup(pool, k);
        out[*n].value = dapr__pool_strndup(pool, json_string_value(v), json_string_length(v));
        if (!out[*n].key || !out[*n].value)
            return derr(e, "out of memory");
        (*n)++;
    }
    *kv = out;
    return true;
}

static bool parse_concurrency(const char *s, dapr_state_concurrency_t *c)
{
    *c = DAPR_CONCURRENCY_UNSPECIFIED;
    if (!s || !*s)
        return true;
    if (!strcmp(s, "first-write"))
        *c = DAPR_CONCURRENCY_FIRST_WRITE;
    else if (!strcmp(s, "last-write"))
        *c = DAPR_CONCURRENCY_LAST_WRITE;
    else
        return false;
    return true;
}

static bool parse_consistency(const char *s, dapr_state_consistency_t *c)
{
    *c = DAPR_CONSISTENCY_UNSPECIFIED;
    if (!s || !*s)
        return true;
    if (!strcmp(s, "eventual"))
        *c = DAPR_CONSISTENCY_EVENTUAL;
    else if (!strcmp(s, "strong"))
        *c = DAPR_CONSISTENCY_STRONG;
    else
        return false;
    return true;
}

/* options: {"concurrency": ..., "consistency": ...} */
static bool get_options(dapr__pool_t *pool, const json_t *obj, dapr_state_item_t *it,
                        decode_err_t *e)
{
    json_t *o = dapr__json_get(obj, "options");
    if (!o || json_is_null(o))
        return true;
    if (!json_is_object(o))
        return derr(e, "json: cannot unmarshal options: expected an object");
    const char *conc, *cons;
    if (!get_str(pool, o, "concurrency", &conc, e) || !get_str(pool, o, "consistency", &cons, e))
        return false;
    if (!parse_concurrency(conc, &it->concurrency))
        return derr(e, "unrecognized concurrency model");
    if (!parse_consistency(cons, &it->consistency))
        return derr(e, "unrecognized consistency model");
    return true;
}

/* The stored form of a JSON value: what Go's json.Marshal writes. */
static bool encode_value(dapr__pool_t *pool, const json_t *v, dapr_state_item_t *it,
                         decode_err_t *e)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    if (!v)
        dapr__buf_puts(&b, "null");
    else if (dapr__json_go_encode(v, &b))
        b.oom = 1;
    if (b.oom) {
        dapr__buf_free(&b);
        return derr(e, "cannot encode value");
    }
    uint8_t *d = dapr__pool_alloc(pool, b.len + 1);
    if (d)
        memcpy(d, b.data, b.len + 1);
    it->value = d;
    it->value_len = b.len;
    dapr__buf_free(&b);
    return d != NULL || derr(e, "out of memory");
}

/* One state item object {key, value, etag, metadata, options}. */
static bool decode_item(dapr__pool_t *pool, const json_t *o, dapr_state_item_t *it,
                        decode_err_t *e)
{
    memset(it, 0, sizeof(*it));
    it->ttl_seconds = DAPR_TTL_UNSET;
    if (!json_is_object(o))
        return derr(e, "json: cannot unmarshal state item: expected an object");
    dapr_kv_t *md;
    if (!get_str(pool, o, "key", &it->key, e) || !get_str(pool, o, "etag", &it->etag, e) ||
        !get_md(pool, o, "metadata", &md, &it->n_metadata, e) || !get_options(pool, o, it, e) ||
        !get_str(pool, o, "contentType", &it->content_type, e) ||
        !encode_value(pool, dapr__json_get(o, "value"), it, e))
        return false;
    it->metadata = md;
    return true;
}

/* ---------------------------------------------------------------------
 * Fast path of a save body: one pass of the JSON scanner, no tree, and the
 * value kept as its bytes when they already are what Go's json.Marshal
 * writes (else only the value goes through jansson). Only bodies that are
 * plainly valid take it: exact field names, each once, strings without
 * escapes, metadata and options of strings. Anything else, every error
 * included, goes through jansson below, so the answers stay the same.
 * ------------------------------------------------------------------- */

#define FAST_MD_MAX 16

/* A string field without escapes, or null (NULL). False: not for us. */
static bool fast_str(dapr__pool_t *pool, const dapr__jspan_t *v, const char **out)
{
    *out = NULL;
    if (v->type == DAPR__JT_NULL)
        return true;
    if (v->type != DAPR__JT_STRING || v->esc)
        return false;
    *out = dapr__pool_strndup(pool, v->p + 1, v->n - 2);
    return *out != NULL;
}

/* metadata: null, or an object of plain strings with distinct names. */
static bool fast_md(dapr__pool_t *pool, const dapr__jspan_t *v, const char *s, size_t n,
                    dapr_state_item_t *it)
{
    if (v->type == DAPR__JT_NULL)
        return true;
    dapr__jiter_t mi;
    dapr__jspan_t k, x;
    dapr_kv_t *kv = v->type == DAPR__JT_OBJECT
                        ? dapr__pool_alloc(pool, FAST_MD_MAX * sizeof(*kv)) : NULL;
    if (!kv || dapr__jiter_begin(&mi, s, n, (size_t)(v->p - s), true))
        return false;
    size_t cnt = 0;
    int r;
    while ((r = dapr__jiter_next(&mi, &k, &x)) == 1) {
        const char *key, *val;
        if (cnt == FAST_MD_MAX || x.type != DAPR__JT_STRING || !fast_str(pool, &k, &key) ||
            !fast_str(pool, &x, &val))
            return false;
        for (size_t j = 0; j < cnt; j++)
            if (!strcmp(kv[j].key, key))
                return false; /* jansson keeps the last: leave it to jansson */
        kv[cnt++] = (dapr_kv_t){key, val};
    }
    it->metadata = cnt ? kv : NULL;
    it->n_metadata = cnt;
    return r == 0;
}

/* options: null, or {concurrency, consistency} as known plain strings. */
static bool fast_opts(dapr__pool_t *pool, const dapr__jspan_t *v, const char *s, size_t n,
                      dapr_state_item_t *it)
{
    if (v->type == DAPR__JT_NULL)
        return true;
    dapr__jiter_t oi;
    dapr__jspan_t k, x;
    if (v->type != DAPR__JT_OBJECT || dapr__jiter_begin(&oi, s, n, (size_t)(v->p - s), true))
        return false;
    unsigned seen = 0;
    int r;
    while ((r = dapr__jiter_next(&oi, &k, &x)) == 1) {
        const char *str;
        unsigned bit = dapr__jspan_is(&k, "concurrency") ? 1 : dapr__jspan_is(&k, "consistency") ? 2 : 0;
        if (!bit || (seen & bit) || !fast_str(pool, &x, &str))
            return false;
        seen |= bit;
        if (bit == 1 ? !parse_concurrency(str, &it->concurrency)
                     : !parse_consistency(str, &it->consistency))
            return false;
    }
    return r == 0;
}

/* The stored form of the value span. */
static bool fast_value(dapr__pool_t *pool, const dapr__jspan_t *v, dapr_state_item_t *it)
{
    if (v->canon) {
        it->value = (const uint8_t *)v->p; /* the body lives as long as the pool */
        it->value_len = v->n;
        return true;
    }
    json_error_t je;
    json_t *j = dapr__json_decode(v->p, v->n, &je);
    decode_err_t e;
    bool ok = j && encode_value(pool, j, it, &e);
    json_decref(j);
    return ok;
}

enum { F_KEY = 1, F_VALUE = 2, F_ETAG = 4, F_MD = 8, F_OPT = 16, F_CT = 32 };

/* The item object at s[*pos]; *pos ends past it. */
static bool fast_item(dapr__pool_t *pool, const char *s, size_t n, size_t *pos,
                      dapr_state_item_t *it)
{
    memset(it, 0, sizeof(*it));
    it->ttl_seconds = DAPR_TTL_UNSET;
    dapr__jiter_t fi;
    dapr__jspan_t k, v;
    if (dapr__jiter_begin(&fi, s, n, *pos, true))
        return false;
    unsigned seen = 0;
    int r;
    while ((r = dapr__jiter_next(&fi, &k, &v)) == 1) {
        unsigned f = dapr__jspan_is(&k, "key")           ? F_KEY
                     : dapr__jspan_is(&k, "value")       ? F_VALUE
                     : dapr__jspan_is(&k, "etag")        ? F_ETAG
                     : dapr__jspan_is(&k, "metadata")    ? F_MD
                     : dapr__jspan_is(&k, "options")     ? F_OPT
                     : dapr__jspan_is(&k, "contentType") ? F_CT : 0;
        if (!f || (seen & f))
            return false;
        seen |= f;
        bool ok = f == F_KEY     ? fast_str(pool, &v, &it->key)
                  : f == F_ETAG  ? fast_str(pool, &v, &it->etag)
                  : f == F_CT    ? fast_str(pool, &v, &it->content_type)
                  : f == F_MD    ? fast_md(pool, &v, s, n, it)
                  : f == F_OPT   ? fast_opts(pool, &v, s, n, it)
                                 : fast_value(pool, &v, it);
        if (!ok)
            return false;
    }
    if (r)
        return false;
    *pos = fi.pos;
    if (!(seen & F_VALUE)) {
        it->value = (const uint8_t *)"null";
        it->value_len = 4;
    }
    return true;
}

/* The items of a save body, or false: decode it with jansson instead.
 * The array is walked here rather than with dapr__jiter_next so that each
 * byte is scanned once (by fast_item). */
static bool fast_save_items(dapr__http_req_t *req, dapr_state_item_t **out, size_t *n_out)
{
    const char *s = (const char *)req->body;
    size_t n = req->body_len, cap = 4, cnt = 0, pos = 0;
    if (dapr__jscan_peek(s, n, &pos) != '[')
        return false;
    pos++;
    dapr_state_item_t *items = dapr__pool_alloc(&req->pool, cap * sizeof(*items));
    int c = dapr__jscan_peek(s, n, &pos);
    while (items && c != ']') {
        if (cnt == cap) {
            dapr_state_item_t *more = dapr__pool_alloc(&req->pool, 2 * cap * sizeof(*items));
            if (!more)
                return false;
            memcpy(more, items, cnt * sizeof(*items));
            items = more;
            cap *= 2;
        }
        if (c != '{' || !fast_item(&req->pool, s, n, &pos, &items[cnt++]))
            return false;
        c = dapr__jscan_peek(s, n, &pos);
        if (c == ',') {
            pos++;
            if ((c = dapr__jscan_peek(s, n, &pos)) == ']')
                return false; /* [{...},] */
        } else if (c != ']') {
            return false;
        }
    }
    pos++;
    if (!items || dapr__jscan_peek(s, n, &pos) >= 0)
        return false;
    *out = items;
    *n_out = cnt;
    return true;
}

static json_t *decode_body(dapr__http_req_t *req)
{
    json_error_t jerr;
    json_t *j = dapr__json_decode(req->body, req->body_len, &jerr);
    if (!j)
        dapr__http_send_errorf(req, DAPR_ERR_MALFORMED_REQUEST, "failed deserializing HTTP body: %s",
                               jerr.text);
    return j;
}

static void send_decode_error(dapr__http_req_t *req, const decode_err_t *e)
{
    dapr__http_send_errorf(req, DAPR_ERR_MALFORMED_REQUEST, "failed deserializing HTTP body: %s",
                           e->msg);
}

/* ---------------------------------------------------------------------
 * Handlers
 * ------------------------------------------------------------------- */

static void done_204(dapr__apierr_t *err, void *data)
{
    dapr__http_req_t *req = data;
    if (err)
        dapr__http_send_error(req, err);
    else
        dapr__http_send_empty(req, 204);
}

void dapr__http_state_save(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    dapr_state_item_t *fast;
    size_t n_fast;
    if (fast_save_items(req, &fast, &n_fast)) {
        dapr__state_save(rt, &req->pool, req->params[0], fast, n_fast, dapr__http_query_md(req),
                         done_204, req);
        return;
    }
    json_t *j = decode_body(req);
    if (!j)
        return;
    decode_err_t e;
    if (!json_is_array(j)) {
        int is_obj = json_is_object(j);
        json_decref(j);
        dapr__http_send_errorf(req, DAPR_ERR_MALFORMED_REQUEST,
                               "failed deserializing HTTP body: json: cannot unmarshal %s into "
                               "Go value of type []state.SetRequest",
                               is_obj ? "object" : "value");
        return;
    }
    size_t n = json_array_size(j);
    dapr_state_item_t *items = dapr__pool_alloc(&req->pool, (n ? n : 1) * sizeof(*items));
    if (!items) {
        json_decref(j);
        dapr__http_send_error(req, NULL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!decode_item(&req->pool, json_array_get(j, i), &items[i], &e)) {
            json_decref(j);
            send_decode_error(req, &e);
            return;
        }
    }
    json_decref(j);
    dapr__state_save(rt, &req->pool, req->params[0], items, n, dapr__http_query_md(req), done_204,
                     req);
}

static void get_done(dapr__apierr_t *err, const dapr_state_value_t *val, void *data)
{
    dapr__http_req_t *req = data;
    if (err) {
        dapr__http_send_error(req, err);
        return;
    }
    if (!val->found) {
        dapr__http_send_empty(req, 204);
        return;
    }
    size_t nh = 0, max = 2 + val->n_metadata;
    dapr__http_hdr_t *h = dapr__pool_alloc(&req->pool, max * sizeof(*h));
    if (!h) {
        dapr__http_send_error(req, NULL);
        return;
    }
    h[nh++] = (dapr__http_hdr_t){"Content-Type",
                                 val->content_type ? val->content_type : "application/json"};
    if (val->etag)
        h[nh++] = (dapr__http_hdr_t){"ETag", val->etag};
    for (size_t i = 0; i < val->n_metadata; i++) {
        size_t kl = strlen(val->metadata[i].key);
        char *name = dapr__pool_alloc(&req->pool, kl + 10);
        if (name) {
            memcpy(name, "metadata.", 9);
            memcpy(name + 9, val->metadata[i].key, kl + 1);
        }
        if (name)
            h[nh++] = (dapr__http_hdr_t){name, val->metadata[i].value};
    }
    dapr__http_respond(req, 200, h, nh, val->data, val->len);
}

static bool key_options(dapr__http_req_t *req, dapr_state_key_t *k)
{
    memset(k, 0, sizeof(*k));
    k->key = req->params[1];
    dapr__md_t md = dapr__http_query_md(req);
    k->metadata = md.kv;
    k->n_metadata = md.n;
    if (!parse_consistency(dapr__http_query_get(req, "consistency"), &k->consistency) ||
        !parse_concurrency(dapr__http_query_get(req, "concurrency"), &k->concurrency)) {
        dapr__http_send_errorf(req, DAPR_ERR_MALFORMED_REQUEST,
                               "unrecognized consistency or concurrency model");
        return false;
    }
    return true;
}

void dapr__http_state_get(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    dapr_state_key_t k;
    if (key_options(req, &k))
        dapr__state_get(rt, &req->pool, req->params[0], &k, get_done, req);
}

void dapr__http_state_delete(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    dapr_state_key_t k;
    if (!key_options(req, &k))
        return;
    k.etag = dapr__http_req_header(req, "if-match");
    dapr__state_delete(rt, &req->pool, req->params[0], &k, done_204, req);
}

/* Stored bytes inside a JSON document: raw when they are JSON, else as a
 * JSON string (values saved as raw bytes through gRPC). */
static void put_data(dapr__buf_t *b, const uint8_t *d, size_t n)
{
    json_error_t je;
    json_t *j = n ? json_loadb((const char *)d, n, JSON_DECODE_ANY, &je) : NULL;
    if (j) {
        dapr__buf_append(b, d, n);
        json_decref(j);
    } else {
        dapr__buf_json_str(b, (const char *)d, n, 1);
    }
}

static void bulk_done(dapr__apierr_t *err, const dapr__state_bulk_item_t *it, size_t n, void *data)
{
    dapr__http_req_t *req = data;
    if (err) {
        dapr__http_send_error(req, err);
        return;
    }
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_putc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            dapr__buf_putc(&b, ',');
        dapr__buf_puts(&b, "{\"key\":");
        dapr__buf_json_str(&b, it[i].key, strlen(it[i].key), 1);
        if (it[i].found) {
            dapr__buf_puts(&b, ",\"data\":");
            put_data(&b, it[i].data, it[i].len);
            if (it[i].etag) {
                dapr__buf_puts(&b, ",\"etag\":");
                dapr__buf_json_str(&b, it[i].etag, strlen(it[i].etag), 1);
            }
            if (it[i].n_metadata) {
                dapr__buf_puts(&b, ",\"metadata\":{");
                for (size_t m = 0; m < it[i].n_metadata; m++) {
                    const dapr_kv_t *kv = &it[i].metadata[m];
                    if (m)
                        dapr__buf_putc(&b, ',');
                    dapr__buf_json_str(&b, kv->key, strlen(kv->key), 1);
                    dapr__buf_putc(&b, ':');
                    dapr__buf_json_str(&b, kv->value, strlen(kv->value), 1);
                }
                dapr__buf_putc(&b, '}');
            }
        }
        if (it[i].error) {
            dapr__buf_puts(&b, ",\"error\":");
            dapr__buf_json_str(&b, it[i].error, strlen(it[i].error), 1);
        }
        dapr__buf_putc(&b, '}');
    }
    dapr__buf_putc(&b, ']');
    dapr__http_send_json(req, 200, &b);
}

/* Body metadata followed by the query's metadata.* (later entries win, so
 * the query wins). False after answering 500 when out of memory. */
static bool merge_md(dapr__http_req_t *req, const dapr_kv_t *md, size_t n_md, dapr__md_t *out)
{
    dapr__md_t q = dapr__http_query_md(req);
    dapr_kv_t *all = dapr__pool_alloc(&req->pool, (n_md + q.n + 1) * sizeof(*all));
    if (!all) {
        dapr__http_send_error(req, NULL);
        return false;
    }
    if (n_md)
        memcpy(all, md, n_md * sizeof(*all));
    if (q.n)
        memcpy(all + n_md, q.kv, q.n * sizeof(*all));
    *out = (dapr__md_t){all, n_md + q.n};
    return true;
}

void dapr__http_state_bulk(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    json_t *j = decode_body(req);
    if (!j)
        return;
    decode_err_t e = {{0}};
    json_t *keys = dapr__json_get(j, "keys");
    json_t *par = dapr__json_get(j, "parallelism");
    dapr_kv_t *md = NULL;
    size_t n_md = 0;
    if (!json_is_object(j) || (keys && !json_is_array(keys) && !json_is_null(keys)) ||
        (par && !json_is_integer(par) && !json_is_null(par)) ||
        !get_md(&req->pool, j, "metadata", &md, &n_md, &e)) {
        json_decref(j);
        if (!e.msg[0])
            derr(&e, "json: cannot unmarshal bulk get request");
        send_decode_error(req, &e);
        return;
    }
    size_t n = keys ? json_array_size(keys) : 0;
    const char **ks = dapr__pool_alloc(&req->pool, (n ? n : 1) * sizeof(*ks));
    for (size_t i = 0; ks && i < n; i++) {
        json_t *k = json_array_get(keys, i);
        if (!json_is_string(k) || memchr(json_string_value(k), 0, json_string_length(k))) {
            json_decref(j);
            dapr__http_send_errorf(req, DAPR_ERR_MALFORMED_REQUEST,
                                   "failed deserializing HTTP body: keys must be strings "
                                   "without NUL characters");
            return;
        }
        ks[i] = dapr__pool_strndup(&req->pool, json_string_value(k), json_string_length(k));
        if (!ks[i])
            ks = NULL;
    }
    int parallelism = par && json_is_integer(par) ? (int)json_integer_value(par) : 0;
    json_decref(j);
    if (!ks) {
        dapr__http_send_error(req, NULL);
        return;
    }
    dapr__md_t all;
    if (merge_md(req, md, n_md, &all))
        dapr__state_bulk_get(rt, &req->pool, req->params[0], ks, n, parallelism, all, bulk_done,
                             req);
}

void dapr__http_state_transaction(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    json_t *j = decode_body(req);
    if (!j)
        return;
    decode_err_t e = {{0}};
    json_t *ops = dapr__json_get(j, "operations");
    dapr_kv_t *md = NULL;
    size_t n_md = 0;
    if (!json_is_object(j) || (ops && !json_is_array(ops) && !json_is_null(ops)) ||
        !get_md(&req->pool, j, "metadata", &md, &n_md, &e)) {
        json_decref(j);
        if (!e.msg[0])
            derr(&e, "json: cannot unmarshal transaction request");
        send_decode_error(req, &e);
        return;
    }
    size_t n = ops ? json_array_size(ops) : 0;
    dapr_state_op_t *o = dapr__pool_calloc(&req->pool, (n ? n : 1) * sizeof(*o));
    const char *bad_op = NULL;
    for (size_t i = 0; o && i < n; i++) {
        json_t *op = json_array_get(ops, i);
        const char *kind = NULL;
        if (!json_is_object(op) || !get_str(&req->pool, op, "operation", &kind, &e) ||
            !decode_item(&req->pool, dapr__json_get(op, "request"), &o[i].item, &e)) {
            json_decref(j);
            if (!e.msg[0])
                derr(&e, "json: cannot unmarshal transaction operation");
            send_decode_error(req, &e);
            return;
        }
        if (kind && !strcmp(kind, "upsert"))
            o[i].kind = DAPR_STATE_OP_UPSERT;
        else if (kind && !strcmp(kind, "delete"))
            o[i].kind = DAPR_STATE_OP_DELETE;
        else if (!bad_op)
            bad_op = kind ? kind : "";
    }
    json_decref(j);
    if (!o) {
        dapr__http_send_error(req, NULL);
        return;
    }
    dapr__md_t all;
    if (merge_md(req, md, n_md, &all))
        dapr__state_transact(rt, &req->pool, req->params[0], o, n, bad_op, all, done_204, req);
}

void dapr__http_state_query(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    dapr_component_t *c = NULL;
    int rc = dapr__runtime_state_store(rt, req->params[0], &c);
    if (rc == DAPR_ESTATE) {
        dapr__http_send_errorf(req, DAPR_ERR_STATE_STORE_NOT_CONFIGURED,
                               "state store %s is not configured", req->params[0]);
        return;
    }
    if (rc) {
        dapr__http_send_errorf(req, DAPR_ERR_STATE_STORE_NOT_FOUND, "state store %s is not found",
                               req->params[0]);
        return;
    }
    /* none of the built-in stores implements the query API yet */
    dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_STATE_QUERY_NOT_SUPPORTED,
                                         "state store does not support querying");
    dapr__apierr_resource(e, req->params[0]);
    dapr__http_send_error(req, e);
    dapr__apierr_free(e);
}
