/* state.redis: Dapr's Redis state store over one pipelined hiredis
 * connection (components/redis/conn.h).
 *
 * Storage layout is Dapr's, so data written by either reads the same through
 * the other: every key is a hash with `data` (the value bytes, verbatim) and
 * `version` (an integer, the ETag: 1 on the first write, +1 on each write).
 * Plain string keys, written by very old Dapr versions, read with GET and are
 * replaced by a hash on the next write.
 *
 * Writes run one Lua script (EVALSHA) that checks every ETag / first-write
 * condition before it applies anything, so a transaction is all or nothing
 * and a single save is atomic with its check. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "components/redis/conn.h"
#include "components/redis/settings.h"
#include "core/alloc.h"
#include "core/strutil.h"
#include "dapr/component.h"

/* KEYS[i] is the key of operation i. ARGV holds, per operation:
 *   upsert: 's', etag ('' = none), first-write ('1'/'0'), data, ttl (<= 0: none)
 *   delete: 'd', etag ('' = none)
 * Pass 1 checks each condition against the state the earlier operations of
 * the same call leave behind; pass 2 applies. Returns the number of
 * operations, or {'mismatch'|'exists', key} having changed nothing. */
static const char apply_lua[] =
    "local orig, cur = {}, {}\n"
    "local function look(k)\n"
    "  local s = cur[k]\n"
    "  if not s then\n"
    "    local t = redis.call('TYPE', k)['ok']\n"
    "    local v = false\n"
    "    if t == 'hash' then v = redis.call('HGET', k, 'version') end\n"
    "    orig[k] = t\n"
    "    s = {t = t, v = v}\n"
    "  end\n"
    "  return s\n"
    "end\n"
    "local a = 1\n"
    "for i = 1, #KEYS do\n"
    "  local k = KEYS[i]\n"
    "  local s = look(k)\n"
    "  local etag = ARGV[a + 1]\n"
    "  if etag ~= '' then\n"
    "    if s.v ~= etag then return {'mismatch', k} end\n"
    "  elseif ARGV[a] == 's' and ARGV[a + 2] == '1' and s.t ~= 'none' then\n"
    "    return {'exists', k}\n"
    "  end\n"
    "  if ARGV[a] == 's' then\n"
    "    cur[k] = {t = 'hash', v = string.format('%d', (tonumber(s.v) or 0) + 1)}\n"
    "    a = a + 5\n"
    "  else\n"
    "    cur[k] = {t = 'none', v = false}\n"
    "    a = a + 2\n"
    "  end\n"
    "end\n"
    "local now = {}\n"
    "a = 1\n"
    "for i = 1, #KEYS do\n"
    "  local k = KEYS[i]\n"
    "  local t = now[k] or orig[k]\n"
    "  if ARGV[a] == 's' then\n"
    "    if t ~= 'hash' and t ~= 'none' then redis.call('DEL', k) end\n"
    "    redis.call('HSET', k, 'data', ARGV[a + 3])\n"
    "    redis.call('HINCRBY', k, 'version', 1)\n"
    "    if tonumber(ARGV[a + 4]) > 0 then redis.call('EXPIRE', k, ARGV[a + 4])\n"
    "    elseif t == 'hash' then redis.call('PERSIST', k) end\n"
    "    now[k] = 'hash'\n"
    "    a = a + 5\n"
    "  else\n"
    "    if t ~= 'none' then redis.call('DEL', k) end\n"
    "    now[k] = 'none'\n"
    "    a = a + 2\n"
    "  end\n"
    "end\n"
    "return #KEYS\n";

#define FREE_OPS_MAX 256
#define INLINE_KEY 112
#define NUM_TEXT 24

typedef struct redis_store redis_store_t;

typedef enum op_kind { OP_GET = 1, OP_SET, OP_DEL, OP_MULTI } op_kind_t;

/* One state operation in flight; recycled through a free list. */
typedef struct op {
    struct op *next;
    redis_store_t *s;
    op_kind_t kind;
    dapr_state_get_cb get_cb;
    dapr_state_done_cb done_cb;
    void *data;
    int refs;      /* connection callbacks still to come */
    bool answered; /* the owner's callback ran */
    /* get: PTTL reply (ms, -1 none, -2 missing) and when it came */
    int64_t pttl;
    int64_t pttl_at_ns;
    /* get: the key, for the GET fallback on plain string keys */
    char *key;
    size_t keylen;
    char key_inline[INLINE_KEY];
} op_t;

struct redis_store {
    /* metadata (table below) */
    dapr__redis_settings_t conf;
    int64_t ttl; /* ttlInSeconds: default TTL of writes; <= 0 none */
    bool actor_state_store;
    char *key_prefix;

    dapr_component_t *self;
    dapr__redis_conn_t *conn;
    dapr__redis_script_t apply;
    dapr_component_done_cb init_done, close_done;
    bool initing;
    char init_err[320];
    op_t *free_ops;
    size_t n_free_ops;
};

#define F(name, type, def, field, v) \
    {name, type, def, offsetof(redis_store_t, field), v, false}
static const dapr_md_field_t md_fields[] = {
    DAPR__REDIS_SETTINGS_ROWS(redis_store_t, conf, "3"),
    F("ttlInSeconds", DAPR_MD_INT, NULL, ttl, NULL),
    /* handled by the runtime */
    F("actorStateStore", DAPR_MD_BOOL, "false", actor_state_store, NULL),
    F("keyPrefix", DAPR_MD_STRING, NULL, key_prefix, NULL),
};
#undef F

/* ---------------------------------------------------------------------
 * Operation records
 * ------------------------------------------------------------------- */

static op_t *op_new(redis_store_t *s, op_kind_t kind, void *data)
{
    op_t *op = s->free_ops;
    if (op) {
        s->free_ops = op->next;
        s->n_free_ops--;
    } else if (!(op = dapr__malloc(sizeof(*op)))) {
        return NULL;
    }
    op->next = NULL;
    op->s = s;
    op->kind = kind;
    op->get_cb = NULL;
    op->done_cb = NULL;
    op->data = data;
    op->refs = 0;
    op->answered = false;
    op->pttl = -1;
    op->pttl_at_ns = 0;
    op->key = NULL;
    op->keylen = 0;
    return op;
}

static void op_free(redis_store_t *s, op_t *op)
{
    if (op->key && op->key != op->key_inline)
        dapr__free(op->key);
    if (s->n_free_ops >= FREE_OPS_MAX) {
        dapr__free(op);
        return;
    }
    op->next = s->free_ops;
    s->free_ops = op;
    s->n_free_ops++;
}

static void op_unref(op_t *op)
{
    if (--op->refs == 0)
        op_free(op->s, op);
}

static int op_keep_key(op_t *op, const char *key)
{
    size_t n = strlen(key);
    op->key = n < INLINE_KEY ? op->key_inline : dapr__malloc(n + 1);
    if (!op->key)
        return DAPR_ENOMEM;
    memcpy(op->key, key, n + 1);
    op->keylen = n;
    return 0;
}

static void answer_get(op_t *op, int code, const char *msg, const dapr_state_value_t *v)
{
    if (op->answered)
        return;
    op->answered = true;
    if (code) {
        dapr_error_t e = {code, msg ? msg : dapr_strerror(code)};
        op->get_cb(&e, NULL, op->data);
    } else {
        op->get_cb(NULL, v, op->data);
    }
}

static void answer_done(op_t *op, int code, const char *msg)
{
    if (op->answered)
        return;
    op->answered = true;
    if (code) {
        dapr_error_t e = {code, msg ? msg : dapr_strerror(code)};
        op->done_cb(&e, op->data);
    } else {
        op->done_cb(NULL, op->data);
    }
}

/* Text for a command the connection refused at submission. */
static const char *submit_error(redis_store_t *s, int rc, char *buf, size_t len)
{
    const char *last = dapr__redis_conn_last_error(s->conn);
    switch (rc) {
    case DAPR_EUNAVAIL:
        /* the last error names the address already */
        if (*last)
            snprintf(buf, len, "redis store: not connected: %s", last);
        else
            snprintf(buf, len, "redis store: not connected to %s", dapr__redis_conn_addr(s->conn));
        break;
    case DAPR_ECLOSED:
        snprintf(buf, len, "redis store: closed");
        break;
    case DAPR_EAGAIN:
        snprintf(buf, len, "redis store: too many commands in flight to %s",
                 dapr__redis_conn_addr(s->conn));
        break;
    default:
        snprintf(buf, len, "redis store: %s", dapr_strerror(rc));
    }
    return buf;
}

/* ---------------------------------------------------------------------
 * Get: PTTL and HGETALL pipelined; GET for plain string keys.
 * ------------------------------------------------------------------- */

static void fill_ttl(const op_t *op, dapr_state_value_t *v, dapr_kv_t *md, char *buf, size_t len)
{
    if (op->pttl < 0)
        return;
    dapr__format_time_rfc3339(buf, len, op->pttl_at_ns + op->pttl * 1000000, false);
    md->key = "ttlExpireTime";
    md->value = buf;
    v->metadata = md;
    v->n_metadata = 1;
}

static void on_pttl(const redisReply *r, int status, const char *err, void *data)
{
    op_t *op = data;
    if (!status && r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
        op->pttl = r->integer;
        op->pttl_at_ns = dapr__now_unix_ns();
    }
    op_unref(op);
}

static void on_get_string(const redisReply *r, int status, const char *err, void *data)
{
    op_t *op = data;
    dapr_state_value_t v = {0};
    dapr_kv_t md;
    char exp[48];
    if (status) {
        answer_get(op, status, err, NULL);
    } else {
        if (r->type == REDIS_REPLY_STRING) {
            v.found = true;
            v.data = (const uint8_t *)r->str;
            v.len = r->len;
            fill_ttl(op, &v, &md, exp, sizeof(exp));
        }
        answer_get(op, 0, NULL, &v);
    }
    op_unref(op);
}

static bool is_wrongtype(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && r->len >= 9 && !memcmp(r->str, "WRONGTYPE", 9);
}

/* The key holds a plain string: read it with GET, no ETag. */
static void get_plain(op_t *op)
{
    const char *argv[2] = {"GET", op->key};
    size_t argvlen[2] = {3, op->keylen};
    char buf[320];
    op->refs++;
    int rc = dapr__redis_cmd(op->s->conn, on_get_string, op, 2, argv, argvlen);
    if (rc) {
        op->refs--;
        answer_get(op, rc, submit_error(op->s, rc, buf, sizeof(buf)), NULL);
    }
}

static void get_from_hash(op_t *op, const redisReply *r)
{
    dapr_state_value_t v = {0};
    dapr_kv_t md;
    char exp[48];
    if (r->elements) {
        v.found = true;
        v.data = (const uint8_t *)"";
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const redisReply *f = r->element[i], *val = r->element[i + 1];
            if (f->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING)
                continue;
            if (f->len == 4 && !memcmp(f->str, "data", 4)) {
                v.data = (const uint8_t *)val->str;
                v.len = val->len;
            } else if (f->len == 7 && !memcmp(f->str, "version", 7)) {
                v.etag = val->str; /* hiredis NUL-terminates strings */
            }
        }
        fill_ttl(op, &v, &md, exp, sizeof(exp));
    }
    answer_get(op, 0, NULL, &v);
}

static void on_hgetall(const redisReply *r, int status, const char *err, void *data)
{
    op_t *op = data;
    if (is_wrongtype(r))
        get_plain(op);
    else if (status)
        answer_get(op, status, err, NULL);
    else if (r->type != REDIS_REPLY_ARRAY)
        answer_get(op, DAPR_EBACKEND, "redis store: unexpected reply to HGETALL", NULL);
    else
        get_from_hash(op, r);
    op_unref(op);
}

static int rs_get(dapr_component_t *c, const dapr_state_key_t *k, dapr_state_get_cb cb, void *data)
{
    redis_store_t *s = dapr_component_priv(c);
    if (!s->conn)
        return DAPR_ECLOSED;
    op_t *op = op_new(s, OP_GET, data);
    if (!op)
        return DAPR_ENOMEM;
    op->get_cb = cb;
    if (op_keep_key(op, k->key)) {
        op_free(s, op);
        return DAPR_ENOMEM;
    }
    const char *argv[2] = {"PTTL", k->key};
    size_t argvlen[2] = {4, op->keylen};
    char buf[320];
    op->refs = 1; /* this function's hold, until both commands are out */
    int rc = dapr__redis_cmd(s->conn, on_pttl, op, 2, argv, argvlen);
    if (!rc) {
        op->refs++; /* on_pttl */
        argv[0] = "HGETALL";
        argvlen[0] = 7;
        rc = dapr__redis_cmd(s->conn, on_hgetall, op, 2, argv, argvlen);
        if (!rc)
            op->refs++; /* on_hgetall */
    }
    if (rc)
        answer_get(op, rc, submit_error(s, rc, buf, sizeof(buf)), NULL);
    op_unref(op);
    return DAPR_OK;
}

/* ---------------------------------------------------------------------
 * Writes: one EVALSHA of apply_lua.
 * ------------------------------------------------------------------- */

/* "" for no ETag; else its canonical decimal text, so "007" matches "7". */
static int etag_arg(const char *etag, char out[NUM_TEXT])
{
    out[0] = '\0';
    if (!etag || !*etag)
        return 0;
    int64_t v;
    if (dapr__parse_int(etag, &v))
        return DAPR_EETAG_INVALID;
    snprintf(out, NUM_TEXT, "%lld", (long long)v);
    return 0;
}

static int64_t item_ttl(const redis_store_t *s, int64_t ttl)
{
    if (ttl == DAPR_TTL_UNSET)
        return s->ttl > 0 ? s->ttl : 0;
    return ttl > 0 ? ttl : 0; /* DAPR_TTL_NEVER: persist */
}

static void mismatch_text(const op_t *op, const redisReply *r, char *buf, size_t len)
{
    const redisReply *code = r->element[0], *key = r->element[1];
    bool exists = code->len == 6 && !memcmp(code->str, "exists", 6);
    const char *why = exists ? "key already exists (first-write concurrency)"
                             : "etag does not match the stored version";
    int kl = key->len > 512 ? 512 : (int)key->len;
    if (op->kind == OP_MULTI)
        snprintf(buf, len, "possible etag mismatch. error from state store: transaction "
                 "aborted, nothing applied: key %.*s: %s", kl, key->str, why);
    else
        snprintf(buf, len, "possible etag mismatch. error from state store: failed to %s key "
                 "%.*s: %s", op->kind == OP_DEL ? "delete" : "set", kl, key->str, why);
}

static bool is_mismatch_reply(const redisReply *r)
{
    return r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
           r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING;
}

static void on_write(const redisReply *r, int status, const char *err, void *data)
{
    op_t *op = data;
    if (status) {
        answer_done(op, status, err);
    } else if (is_mismatch_reply(r)) {
        char buf[768];
        mismatch_text(op, r, buf, sizeof(buf));
        answer_done(op, DAPR_EETAG_MISMATCH, buf);
    } else if (r->type != REDIS_REPLY_INTEGER) {
        answer_done(op, DAPR_EBACKEND, "redis store: unexpected reply from the write script");
    } else {
        answer_done(op, 0, NULL);
    }
    op_unref(op);
}

/* Run the script for prepared arguments; the callback answers the op. */
static int run_apply(redis_store_t *s, op_t *op, int nkeys, int argc, const char **argv,
                     const size_t *argvlen)
{
    char buf[320];
    op->refs = 1;
    int rc = dapr__redis_evalsha(s->conn, &s->apply, on_write, op, nkeys, argc, argv, argvlen);
    if (rc == DAPR_ENOMEM || rc == DAPR_EINVAL) {
        op_free(s, op);
        return rc;
    }
    if (rc) {
        answer_done(op, rc, submit_error(s, rc, buf, sizeof(buf)));
        op_unref(op);
    }
    return DAPR_OK;
}

static void fail_now(dapr_state_done_cb cb, void *data, int code, const char *msg)
{
    dapr_error_t e = {code, msg};
    cb(&e, data);
}

static int invalid_etag(dapr_state_done_cb cb, void *data, const char *etag)
{
    char buf[320];
    snprintf(buf, sizeof(buf), "invalid etag value: %.256s", etag);
    fail_now(cb, data, DAPR_EETAG_INVALID, buf);
    return DAPR_OK;
}

static int rs_set(dapr_component_t *c, const dapr_state_item_t *it, dapr_state_done_cb cb,
                  void *data)
{
    redis_store_t *s = dapr_component_priv(c);
    char etag[NUM_TEXT], ttl[NUM_TEXT];
    if (!s->conn)
        return DAPR_ECLOSED;
    if (etag_arg(it->etag, etag))
        return invalid_etag(cb, data, it->etag);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)item_ttl(s, it->ttl_seconds));
    bool fw = it->concurrency == DAPR_CONCURRENCY_FIRST_WRITE;
    const char *argv[6] = {it->key, "s", etag, fw ? "1" : "0", (const char *)it->value, ttl};
    size_t argvlen[6] = {strlen(it->key), 1, strlen(etag), 1, it->value_len, strlen(ttl)};
    if (!it->value) {
        argv[4] = "";
        argvlen[4] = 0;
    }
    op_t *op = op_new(s, OP_SET, data);
    if (!op)
        return DAPR_ENOMEM;
    op->done_cb = cb;
    return run_apply(s, op, 1, 6, argv, argvlen);
}

static int rs_del(dapr_component_t *c, const dapr_state_key_t *k, dapr_state_done_cb cb,
                  void *data)
{
    redis_store_t *s = dapr_component_priv(c);
    char etag[NUM_TEXT];
    if (!s->conn)
        return DAPR_ECLOSED;
    if (etag_arg(k->etag, etag))
        return invalid_etag(cb, data, k->etag);
    /* first-write has no meaning for a delete without ETag: last-write */
    const char *argv[3] = {k->key, "d", etag};
    size_t argvlen[3] = {strlen(k->key), 1, strlen(etag)};
    op_t *op = op_new(s, OP_DEL, data);
    if (!op)
        return DAPR_ENOMEM;
    op->done_cb = cb;
    return run_apply(s, op, 1, 3, argv, argvlen);
}

/* Arguments of a transaction: keys first, then 5 (upsert) or 2 (delete)
 * arguments per op; numbers are written into `nums` (2 per op). */
typedef struct tx_args {
    const char **argv;
    size_t *argvlen;
    char (*nums)[NUM_TEXT];
    int argc;
} tx_args_t;

static int tx_alloc(tx_args_t *a, size_t n)
{
    size_t max = n * 6;
    a->argv = dapr__malloc(max * sizeof(*a->argv));
    a->argvlen = dapr__malloc(max * sizeof(*a->argvlen));
    a->nums = dapr__malloc(2 * n * sizeof(*a->nums));
    a->argc = 0;
    return a->argv && a->argvlen && a->nums ? 0 : DAPR_ENOMEM;
}

static void tx_free(tx_args_t *a)
{
    dapr__free(a->argv);
    dapr__free(a->argvlen);
    dapr__free(a->nums);
}

static void tx_push(tx_args_t *a, const char *p, size_t n)
{
    a->argv[a->argc] = p ? p : "";
    a->argvlen[a->argc++] = p ? n : 0;
}

/* Fill the arguments; returns the index of an op with an invalid ETag, or
 * -1 when all are fine. */
static long tx_fill(redis_store_t *s, tx_args_t *a, const dapr_state_op_t *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tx_push(a, ops[i].item.key, strlen(ops[i].item.key));
    for (size_t i = 0; i < n; i++) {
        const dapr_state_item_t *it = &ops[i].item;
        char *etag = a->nums[2 * i], *ttl = a->nums[2 * i + 1];
        if (etag_arg(it->etag, etag))
            return (long)i;
        if (ops[i].kind == DAPR_STATE_OP_DELETE) {
            tx_push(a, "d", 1);
            tx_push(a, etag, strlen(etag));
            continue;
        }
        snprintf(ttl, NUM_TEXT, "%lld", (long long)item_ttl(s, it->ttl_seconds));
        tx_push(a, "s", 1);
        tx_push(a, etag, strlen(etag));
        tx_push(a, it->concurrency == DAPR_CONCURRENCY_FIRST_WRITE ? "1" : "0", 1);
        tx_push(a, (const char *)it->value, it->value_len);
        tx_push(a, ttl, strlen(ttl));
    }
    return -1;
}

static int rs_multi(dapr_component_t *c, const dapr_state_op_t *ops, size_t n,
                    const dapr_kv_t *md, size_t n_md, dapr_state_done_cb cb, void *data)
{
    redis_store_t *s = dapr_component_priv(c);
    if (!s->conn)
        return DAPR_ECLOSED;
    if (!n) {
        cb(NULL, data);
        return DAPR_OK;
    }
    if (n > 100000)
        return DAPR_EINVAL;
    tx_args_t a;
    if (tx_alloc(&a, n)) {
        tx_free(&a);
        return DAPR_ENOMEM;
    }
    long bad = tx_fill(s, &a, ops, n);
    int rc = DAPR_OK;
    if (bad >= 0) {
        rc = invalid_etag(cb, data, ops[bad].item.etag);
    } else {
        op_t *op = op_new(s, OP_MULTI, data);
        if (!op) {
            rc = DAPR_ENOMEM;
        } else {
            op->done_cb = cb;
            rc = run_apply(s, op, (int)n, a.argc, a.argv, a.argvlen);
        }
    }
    tx_free(&a);
    return rc;
}

/* ---------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------- */

static void free_ops(redis_store_t *s)
{
    while (s->free_ops) {
        op_t *op = s->free_ops;
        s->free_ops = op->next;
        dapr__free(op);
    }
    s->n_free_ops = 0;
}

static void after_failed_init(void *data)
{
    redis_store_t *s = data;
    free_ops(s);
    s->init_done(s->self, DAPR_EUNAVAIL, s->init_err);
}

static void on_conn_event(dapr__redis_conn_t *conn, dapr__redis_event_t ev, const char *detail,
                          void *data)
{
    redis_store_t *s = data;
    dapr_component_t *c = s->self;
    if (ev == DAPR__REDIS_READY && s->initing) {
        s->initing = false;
        s->init_done(c, DAPR_OK, NULL);
    } else if (ev == DAPR__REDIS_READY) {
        dapr_component_log(c, DAPR_LOG_INFO, "reconnected to redis at %s",
                           dapr__redis_conn_addr(conn));
    } else if (s->initing) {
        /* Dapr fails init when the first PING fails: so do we, without
         * waiting for further dials. */
        s->initing = false;
        snprintf(s->init_err, sizeof(s->init_err), "redis store: %s", detail);
        s->conn = NULL;
        dapr__redis_conn_close(conn, after_failed_init, s);
    } else if (ev == DAPR__REDIS_CONNECT_FAILED) {
        dapr_component_log(c, DAPR_LOG_WARN, "redis reconnect failed: %s", detail);
    } else {
        dapr_component_log(c, DAPR_LOG_WARN, "redis connection lost: %s; reconnecting", detail);
    }
}

static int rs_init(dapr_component_t *c, dapr_component_done_cb done)
{
    redis_store_t *s = dapr_component_priv(c);
    s->self = c;
    const char *why = dapr__redis_settings_unsupported(&s->conf);
    if (why) {
        done(c, DAPR_ENOTSUP, why);
        return DAPR_OK;
    }
    dapr__redis_script_init(&s->apply, apply_lua);
    dapr__redis_opts_t o = {.on_event = on_conn_event, .event_data = s};
    dapr__redis_settings_opts(&s->conf, &o);
    const dapr__redis_script_t *scripts[1] = {&s->apply};
    o.scripts = scripts;
    o.n_scripts = 1;
    char err[256] = "";
    s->init_done = done;
    s->initing = true;
    int rc = dapr__redis_conn_new(&s->conn, dapr_component_loop(c), &o, err, sizeof(err));
    if (rc)
        s->initing = false;
    if (rc == DAPR_ENOMEM)
        return rc;
    if (rc) {
        char msg[320];
        snprintf(msg, sizeof(msg), "redis store: %s", err);
        done(c, rc, msg);
    }
    return DAPR_OK;
}

static void after_close(void *data)
{
    redis_store_t *s = data;
    free_ops(s);
    s->close_done(s->self, DAPR_OK, NULL);
}

static void rs_close(dapr_component_t *c, dapr_component_done_cb done)
{
    redis_store_t *s = dapr_component_priv(c);
    s->self = c;
    s->close_done = done;
    if (s->initing) {
        /* init's done is owed exactly once: settle it before closing */
        s->initing = false;
        s->init_done(c, DAPR_ECANCELED, "redis store: closed during init");
    }
    if (!s->conn) {
        free_ops(s);
        done(c, DAPR_OK, NULL);
        return;
    }
    dapr__redis_conn_t *conn = s->conn;
    s->conn = NULL;
    dapr__redis_conn_close(conn, after_close, s);
}

const dapr_state_store_vtable_t dapr__state_redis_vtable = {
    .type = "state.redis",
    .version = "v1",
    .features = DAPR_STATE_FEATURE_ETAG | DAPR_STATE_FEATURE_TRANSACTIONAL | DAPR_STATE_FEATURE_TTL,
    .priv_size = sizeof(redis_store_t),
    .md_fields = md_fields,
    .n_md_fields = sizeof(md_fields) / sizeof(md_fields[0]),
    .init = rs_init,
    .close = rs_close,
    .get = rs_get,
    .set = rs_set,
    .del = rs_del,
    .multi = rs_multi,
};
