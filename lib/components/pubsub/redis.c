/* pubsub.redis: Dapr's Redis Streams pub/sub. This file holds the metadata,
 * the lifecycle and publishing; subscriptions live in redis_sub.c.
 *
 * One shared pipelined connection (components/redis/conn.h) carries
 * publishes (XADD), acks (XACK), group creation, reclaims (XAUTOCLAIM) and
 * the reads of a consumer's own pending list (ordered after its acks);
 * each subscription reads with a blocking XREADGROUP on a connection of its
 * own so that a read waiting for entries never delays a publish or an ack. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/strutil.h"
#include "redis_int.h"

/* A publish in flight, or one entry of a bulk publish. */
typedef struct psr_pub {
    struct psr_pub *next; /* deferred list */
    psr_t *s;
    dapr_pubsub_done_cb cb;
    void *data;
    struct bulk *bulk;
    size_t index;
    int code; /* deferred failure */
    char msg[320];
} psr_pub_t;

typedef struct bulk {
    dapr_pubsub_bulk_cb cb;
    void *data;
    size_t remaining; /* answers still to come, +1 while bulk_publish runs */
    dapr_pubsub_bulk_failure_t *failed;
    char **msgs;      /* copies of the failure texts */
    size_t n_failed;
    psr_pub_t *pubs;  /* one per entry */
} bulk_t;

static const char *v_positive(const void *f)
{
    return *(const int64_t *)f < 1 ? "must be at least 1" : NULL;
}

#define F(name, type, def, field, v) {name, type, def, offsetof(psr_t, field), v, false}
static const dapr_md_field_t md_fields[] = {
    DAPR__REDIS_SETTINGS_ROWS(psr_t, conf, NULL),
    F("consumerID", DAPR_MD_STRING, NULL, consumer_id_md, NULL),
    F("concurrency", DAPR_MD_INT, "10", concurrency, v_positive),
    F("queueDepth", DAPR_MD_INT, "100", queue_depth, v_positive),
    /* Dapr's defaults (components-contrib settings.go); plain numbers are
     * milliseconds there, see plain_ms() */
    F("processingTimeout", DAPR_MD_DURATION, "60s", processing_timeout, dapr__redis_v_nonneg),
    F("redeliverInterval", DAPR_MD_DURATION, "15s", redeliver_interval, dapr__redis_v_nonneg),
    F("maxLenApprox", DAPR_MD_INT, "0", max_len_approx, dapr__redis_v_nonneg),
    F("streamTTL", DAPR_MD_DURATION, "0", stream_ttl, dapr__redis_v_nonneg),
};
#undef F

/* ---------------------------------------------------------------------
 * Deferred callbacks: a call that fails at submission (not connected)
 * still answers through its callback, on a later loop turn.
 * ------------------------------------------------------------------- */

static void bulk_answer(bulk_t *b, size_t index, int code, const char *msg);

static void pub_finish(psr_pub_t *p, int code, const char *msg)
{
    if (p->bulk) {
        bulk_answer(p->bulk, p->index, code, msg);
        return;
    }
    /* msg may live in p: free p only after the callback */
    if (code) {
        dapr_error_t e = {code, msg ? msg : dapr_strerror(code)};
        p->cb(&e, p->data);
    } else {
        p->cb(NULL, p->data);
    }
    dapr__free(p);
}

static void run_deferred(psr_t *s)
{
    while (s->deferred) {
        psr_pub_t *p = s->deferred;
        s->deferred = p->next;
        if (!s->deferred)
            s->deferred_tail = NULL;
        pub_finish(p, p->code, p->msg);
    }
}

static void on_defer_timer(uv_timer_t *t) { run_deferred(t->data); }

static void defer_fail(psr_t *s, psr_pub_t *p, int code, const char *msg)
{
    p->code = code;
    snprintf(p->msg, sizeof(p->msg), "%s", msg);
    p->next = NULL;
    if (s->deferred_tail)
        s->deferred_tail->next = p;
    else
        s->deferred = p;
    s->deferred_tail = p;
    uv_timer_start(&s->defer_timer, on_defer_timer, 0, 0);
}

/* Text for a command the connection refused at submission. */
static void submit_error(psr_t *s, int rc, char *buf, size_t len)
{
    const char *last = dapr__redis_conn_last_error(s->conn);
    if (rc == DAPR_EUNAVAIL && *last)
        snprintf(buf, len, "redis streams: not connected: %s", last);
    else if (rc == DAPR_EUNAVAIL)
        snprintf(buf, len, "redis streams: not connected to %s", dapr__redis_conn_addr(s->conn));
    else if (rc == DAPR_EAGAIN)
        snprintf(buf, len, "redis streams: too many commands in flight to %s",
                 dapr__redis_conn_addr(s->conn));
    else
        snprintf(buf, len, "redis streams: %s", dapr_strerror(rc));
}

/* ---------------------------------------------------------------------
 * Publish: XADD <topic> [MAXLEN ~ n | MINID ~ id] * data <bytes> [metadata <json>]
 * ------------------------------------------------------------------- */

static void on_xadd(const redisReply *r, int status, const char *err, void *data)
{
    psr_pub_t *p = data;
    if (!status) {
        pub_finish(p, 0, NULL);
        return;
    }
    char msg[300];
    snprintf(msg, sizeof(msg), "redis streams: error from publish: %s", err);
    pub_finish(p, status, msg);
}

/* The request metadata as Go's json.Marshal writes a map[string]string. */
static int metadata_json(const dapr_pubsub_msg_t *m, dapr__buf_t *out)
{
    json_t *o = json_object();
    int rc = o ? 0 : DAPR_ENOMEM;
    for (size_t i = 0; !rc && i < m->n_metadata; i++) {
        const dapr_kv_t *kv = &m->metadata[i];
        if (!kv->key || json_object_set_new(o, kv->key, json_string(kv->value ? kv->value : "")))
            rc = DAPR_EINVAL; /* not UTF-8 */
    }
    if (!rc && dapr__json_go_encode(o, out))
        rc = DAPR_ENOMEM;
    json_decref(o);
    return rc;
}

static int send_xadd(psr_t *s, const dapr_pubsub_msg_t *m, const char *topic, psr_pub_t *p)
{
    const char *argv[10];
    size_t argvlen[10];
    int n = 0;
    char num[32];
    dapr__buf_t md = DAPR__BUF_INIT;
#define ARG(p_, n_) (argv[n] = (p_), argvlen[n++] = (n_))
    ARG("XADD", 4);
    ARG(topic, strlen(topic));
    if (s->max_len_approx > 0) {
        /* go-redis: MAXLEN wins when both are set */
        snprintf(num, sizeof(num), "%lld", (long long)s->max_len_approx);
        ARG("MAXLEN", 6), ARG("~", 1), ARG(num, strlen(num));
    } else if (s->stream_ttl > 0) {
        snprintf(num, sizeof(num), "%lld-1",
                 (long long)(dapr__now_unix_ns() / 1000000 - s->stream_ttl));
        ARG("MINID", 5), ARG("~", 1), ARG(num, strlen(num));
    }
    ARG("*", 1);
    ARG("data", 4), ARG(m->data ? (const char *)m->data : "", m->data ? m->len : 0);
    if (m->n_metadata) {
        int rc = metadata_json(m, &md);
        if (rc) {
            dapr__buf_free(&md);
            return rc;
        }
        ARG("metadata", 8), ARG(md.data, md.len);
    }
#undef ARG
    int rc = dapr__redis_cmd(s->conn, on_xadd, p, n, argv, argvlen);
    dapr__buf_free(&md);
    return rc;
}

static int psr_publish(dapr_component_t *c, const dapr_pubsub_msg_t *m, dapr_pubsub_done_cb cb,
                       void *data)
{
    psr_t *s = dapr_component_priv(c);
    if (!s->conn || s->closing)
        return DAPR_ECLOSED;
    if (!m || !m->topic || !*m->topic || !cb)
        return DAPR_EINVAL;
    psr_pub_t *p = dapr__calloc(1, sizeof(*p));
    if (!p)
        return DAPR_ENOMEM;
    p->s = s;
    p->cb = cb;
    p->data = data;
    int rc = send_xadd(s, m, m->topic, p);
    if (rc == DAPR_ENOMEM || rc == DAPR_EINVAL) {
        dapr__free(p);
        return rc;
    }
    if (rc) {
        char msg[300];
        submit_error(s, rc, msg, sizeof(msg));
        defer_fail(s, p, rc, msg);
    }
    return DAPR_OK;
}

/* ---------------------------------------------------------------------
 * Bulk publish: the XADDs pipelined on the shared connection.
 * ------------------------------------------------------------------- */

static void bulk_free(bulk_t *b)
{
    for (size_t i = 0; i < b->n_failed; i++)
        dapr__free(b->msgs[i]);
    dapr__free(b->msgs);
    dapr__free(b->failed);
    dapr__free(b->pubs);
    dapr__free(b);
}

static void bulk_done(bulk_t *b)
{
    for (size_t i = 0; i < b->n_failed; i++)
        b->failed[i].err.message = b->msgs[i] ? b->msgs[i] : dapr_strerror(b->failed[i].err.code);
    b->cb(b->n_failed ? b->failed : NULL, b->n_failed, b->data);
    bulk_free(b);
}

static void bulk_answer(bulk_t *b, size_t index, int code, const char *msg)
{
    if (code) {
        size_t k = b->n_failed++;
        b->failed[k].index = index;
        b->failed[k].err.code = code;
        b->msgs[k] = dapr__strdup(msg ? msg : dapr_strerror(code)); /* NULL: strerror */
    }
    if (--b->remaining == 0)
        bulk_done(b);
}

static int psr_bulk_publish(dapr_component_t *c, const dapr_pubsub_msg_t *e, size_t n,
                            dapr_pubsub_bulk_cb cb, void *data)
{
    psr_t *s = dapr_component_priv(c);
    if (!s->conn || s->closing)
        return DAPR_ECLOSED;
    if (!cb || (n && (!e || !e[0].topic || !*e[0].topic)))
        return DAPR_EINVAL;
    bulk_t *b = dapr__calloc(1, sizeof(*b));
    if (!b || !(b->failed = dapr__calloc(n + 1, sizeof(*b->failed))) ||
        !(b->msgs = dapr__calloc(n + 1, sizeof(*b->msgs))) ||
        !(b->pubs = dapr__calloc(n + 1, sizeof(*b->pubs)))) {
        if (b)
            bulk_free(b);
        return DAPR_ENOMEM;
    }
    b->cb = cb;
    b->data = data;
    b->remaining = n + 1;
    for (size_t i = 0; i < n; i++) {
        psr_pub_t *p = &b->pubs[i];
        p->s = s, p->bulk = b, p->index = i;
        const char *topic = e[i].topic && *e[i].topic ? e[i].topic : e[0].topic;
        int rc = send_xadd(s, &e[i], topic, p);
        if (rc) {
            char msg[300];
            submit_error(s, rc, msg, sizeof(msg));
            bulk_answer(b, i, rc, msg);
        }
    }
    /* the last answer may not come from inside this call */
    psr_pub_t *p = &b->pubs[n];
    p->s = s, p->bulk = b, p->index = n;
    defer_fail(s, p, 0, "");
    return DAPR_OK;
}

/* ---------------------------------------------------------------------
 * Acks
 * ------------------------------------------------------------------- */

/* An XACK, kept while the connection is down: the app has answered, so
 * the entry is acknowledged as soon as Redis is back rather than delivered
 * again (the subscriptions skip parked entries when they read or claim). */
typedef struct psr_ack {
    struct psr_ack *next;
    psr_t *s;
    char *topic, *group;
    char id[PSR_ID_MAX];
} psr_ack_t;

#define PARKED_MAX 100000

static void ack_free(psr_ack_t *a)
{
    dapr__free(a->topic);
    dapr__free(a->group);
    dapr__free(a);
}

static void ack_park(psr_ack_t *a)
{
    psr_t *s = a->s;
    if (s->closing || s->n_parked >= PARKED_MAX) {
        dapr_component_log(s->self, DAPR_LOG_WARN, "cannot acknowledge %s on %s; it will be "
                           "redelivered", a->id, a->topic);
        ack_free(a);
        return;
    }
    if (!s->n_parked++)
        dapr_component_log(s->self, DAPR_LOG_WARN, "redis is unavailable: acknowledgements wait "
                           "for the connection");
    a->next = s->parked;
    s->parked = a;
}

static void send_ack(psr_ack_t *a);

static void on_xack(const redisReply *r, int status, const char *err, void *data)
{
    psr_ack_t *a = data;
    if (status == DAPR_EUNAVAIL || status == DAPR_ETIMEDOUT) {
        ack_park(a); /* XACK is idempotent: sent again after the reconnect */
        return;
    }
    if (status && status != DAPR_ECLOSED)
        dapr_component_log(a->s->self, DAPR_LOG_WARN,
                           "XACK failed (the entry will be redelivered): %s", err);
    ack_free(a);
}

static void send_ack(psr_ack_t *a)
{
    psr_t *s = a->s;
    if (!s->conn) {
        ack_free(a);
        return;
    }
    const char *argv[4] = {"XACK", a->topic, a->group, a->id};
    int rc = dapr__redis_cmd(s->conn, on_xack, a, 4, argv, NULL);
    if (rc == DAPR_EUNAVAIL || rc == DAPR_EAGAIN) {
        ack_park(a);
    } else if (rc) {
        dapr_component_log(s->self, DAPR_LOG_WARN,
                           "cannot acknowledge %s on %s (%s); it will be "
                           "redelivered", a->id, a->topic, dapr_strerror(rc));
        ack_free(a);
    }
}

void dapr__psr_xack(psr_t *s, const char *topic, const char *group, const char *id)
{
    psr_ack_t *a = dapr__calloc(1, sizeof(*a));
    if (a && (a->topic = dapr__strdup(topic)) && (a->group = dapr__strdup(group))) {
        a->s = s;
        snprintf(a->id, sizeof(a->id), "%s", id);
        send_ack(a);
        return;
    }
    if (a)
        ack_free(a);
    dapr_component_log(s->self, DAPR_LOG_WARN, "cannot acknowledge %s on %s (out of memory); "
                       "it will be redelivered", id, topic);
}

bool dapr__psr_ack_parked(const psr_t *s, const char *topic, const char *group, const char *id)
{
    for (const psr_ack_t *a = s->parked; a; a = a->next)
        if (!strcmp(a->id, id) && !strcmp(a->topic, topic) && !strcmp(a->group, group))
            return true;
    return false;
}

/* Connected again: send the parked acks (in the order they were parked). */
static void flush_parked(psr_t *s)
{
    psr_ack_t *l = s->parked, *rev = NULL;
    size_t n = s->n_parked;
    s->parked = NULL;
    s->n_parked = 0;
    while (l) {
        psr_ack_t *a = l;
        l = a->next;
        a->next = rev;
        rev = a;
    }
    if (n)
        dapr_component_log(s->self, DAPR_LOG_INFO, "sending %zu acknowledgement(s) held while "
                           "redis was unavailable", n);
    while (rev) {
        psr_ack_t *a = rev;
        rev = a->next;
        send_ack(a);
    }
}

static void free_parked(psr_t *s)
{
    while (s->parked) {
        psr_ack_t *a = s->parked;
        s->parked = a->next;
        ack_free(a);
    }
    s->n_parked = 0;
}

/* ---------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------- */

static void on_defer_closed(uv_handle_t *h)
{
    psr_t *s = h->data;
    s->defer_open = false;
    dapr__psr_maybe_finish(s);
}

static void free_fields(psr_t *s)
{
    dapr__free(s->consumer_id);
    s->consumer_id = NULL;
}

static void after_failed_init(void *data)
{
    psr_t *s = data;
    free_fields(s);
    s->init_done(s->self, DAPR_EUNAVAIL, s->init_err);
}

static void on_conn_event(dapr__redis_conn_t *conn, dapr__redis_event_t ev, const char *detail,
                          void *data)
{
    psr_t *s = data;
    dapr_component_t *c = s->self;
    if (ev == DAPR__REDIS_READY && s->initing) {
        s->initing = false;
        uv_timer_init(dapr_component_loop(c), &s->defer_timer);
        s->defer_timer.data = s;
        s->defer_open = true;
        s->init_done(c, DAPR_OK, NULL);
    } else if (ev == DAPR__REDIS_READY) {
        dapr_component_log(c, DAPR_LOG_INFO, "reconnected to redis at %s",
                           dapr__redis_conn_addr(conn));
        flush_parked(s);
        dapr__psr_kick(s); /* own pending reads go after those XACKs */
    } else if (s->initing) {
        /* Dapr fails init when the first PING fails */
        s->initing = false;
        snprintf(s->init_err, sizeof(s->init_err),
                 "redis streams: error connecting to redis: %s", detail);
        s->conn = NULL;
        dapr__redis_conn_close(conn, after_failed_init, s);
    } else if (ev == DAPR__REDIS_CONNECT_FAILED) {
        dapr_component_log(c, DAPR_LOG_WARN, "redis reconnect failed: %s", detail);
    } else {
        dapr_component_log(c, DAPR_LOG_WARN, "redis connection lost: %s; reconnecting", detail);
    }
}

/* Dapr reads a plain number of processingTimeout, redeliverInterval and the
 * socket timeouts as milliseconds; the metadata table reads seconds. */
static void plain_ms(dapr_component_t *c, const char *name, int64_t *field)
{
    const char *v = dapr_component_metadata(c, name);
    int64_t n;
    if (v && *v && !dapr__parse_int(v, &n) && n >= 0)
        *field = n;
}

static int set_consumer_id(dapr_component_t *c, psr_t *s)
{
    const char *id = s->consumer_id_md && *s->consumer_id_md ? s->consumer_id_md
                                                              : dapr_component_app_id(c);
    if (!id || !*id)
        return DAPR_EINVAL;
    if (!(s->consumer_id = dapr__strdup(id)))
        return DAPR_ENOMEM;
    char uuid[37];
    dapr__uuid4(uuid);
    memcpy(s->instance, uuid, 8);
    s->instance[8] = '\0';
    return 0;
}

static int start_conn(dapr_component_t *c, psr_t *s)
{
    dapr__redis_opts_t o = {.on_event = on_conn_event, .event_data = s};
    dapr__redis_settings_opts(&s->conf, &o);
    char err[256] = "";
    s->initing = true;
    int rc = dapr__redis_conn_new(&s->conn, dapr_component_loop(c), &o, err, sizeof(err));
    if (!rc)
        return 0;
    s->initing = false;
    if (rc == DAPR_ENOMEM)
        return rc;
    char msg[320];
    snprintf(msg, sizeof(msg), "redis streams: %s", err);
    s->init_done(c, rc, msg);
    return 0;
}

static int psr_init(dapr_component_t *c, dapr_component_done_cb done)
{
    psr_t *s = dapr_component_priv(c);
    s->self = c;
    s->init_done = done;
    const char *why = dapr__redis_settings_unsupported(&s->conf);
    if (why) {
        done(c, DAPR_ENOTSUP, why);
        return DAPR_OK;
    }
    plain_ms(c, "processingTimeout", &s->processing_timeout);
    plain_ms(c, "redeliverInterval", &s->redeliver_interval);
    plain_ms(c, "dialTimeout", &s->conf.dial_timeout);
    plain_ms(c, "readTimeout", &s->conf.read_timeout);
    plain_ms(c, "writeTimeout", &s->conf.write_timeout);
    int rc = set_consumer_id(c, s);
    if (rc == DAPR_ENOMEM)
        return rc;
    if (rc) {
        done(c, DAPR_EINVAL, "redis streams: missing consumerID (and no app id to default to)");
        return DAPR_OK;
    }
    rc = start_conn(c, s);
    if (rc)
        free_fields(s);
    return rc;
}

void dapr__psr_maybe_finish(psr_t *s)
{
    if (!s->closing || !s->conn_closed || s->defer_open || !dapr__psr_subs_idle(s))
        return;
    dapr__psr_free_all(s);
    free_parked(s);
    free_fields(s);
    s->closing = false;
    s->close_done(s->self, DAPR_OK, NULL);
}

static void after_conn_closed(void *data)
{
    psr_t *s = data;
    s->conn_closed = true;
    dapr__psr_maybe_finish(s);
}

static void psr_close(dapr_component_t *c, dapr_component_done_cb done)
{
    psr_t *s = dapr_component_priv(c);
    s->self = c;
    s->close_done = done;
    s->closing = true;
    if (s->initing) {
        /* init's done is owed exactly once: settle it before closing */
        s->initing = false;
        s->init_done(c, DAPR_ECANCELED, "redis streams: closed during init");
    }
    dapr__psr_stop_all(s);
    if (s->defer_open) {
        run_deferred(s); /* their answers are owed; they carry their errors */
        uv_close((uv_handle_t *)&s->defer_timer, on_defer_closed);
    }
    dapr__redis_conn_t *conn = s->conn;
    s->conn = NULL;
    if (conn)
        dapr__redis_conn_close(conn, after_conn_closed, s); /* publishes: ECLOSED */
    else
        after_conn_closed(s);
}

const dapr_pubsub_vtable_t dapr__pubsub_redis_vtable = {
    .type = "pubsub.redis",
    .version = "v1",
    .features = DAPR_PUBSUB_FEATURE_BULK_PUBLISH,
    .priv_size = sizeof(psr_t),
    .md_fields = md_fields,
    .n_md_fields = sizeof(md_fields) / sizeof(md_fields[0]),
    .init = psr_init,
    .close = psr_close,
    .publish = psr_publish,
    .bulk_publish = psr_bulk_publish,
    .subscribe = dapr__psr_subscribe,
    .unsubscribe = dapr__psr_unsubscribe,
};
