/* pubsub.redis against a real redis-server, driving the vtable directly.
 *
 * Usage: test_pubsub_redis <phase> <port>
 *   main <port>     publish/subscribe, bulk publish, consumer groups, nack
 *                   and reclaim, a crashed consumer's entries, concurrency,
 *                   maxLenApprox, unsubscribe and close with deliveries out;
 *                   leaves stream "t1" for run_pubsub_tests.py to inspect
 *   restart <port>  prints RESTART; the driver kills the server (appendonly
 *                   yes) and starts it again on the same port; publishes
 *                   fail meanwhile and the subscription must resume
 * Driven by run_pubsub_tests.py; every wait is bounded. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../../unit/testutil.h"
#include "components/redis/conn.h"
#include "components/registry.h"
#include "core/log.h"
#include "dapr/component.h"

static uv_loop_t *loop;
static dapr__logger_t lg;
static const char *port;
static uv_timer_t tick; /* keeps UV_RUN_ONCE from sleeping unbounded */

static void log_sink(void *ud, dapr_log_level_t lvl, const char *line, size_t len)
{
    fprintf(stderr, "%.*s\n", (int)len, line);
}

static void on_tick(uv_timer_t *t) {}

static uint64_t now_ms(void) { return uv_hrtime() / 1000000; }

/* Run the loop until cond holds or ms passed; evaluates to cond. */
#define WAIT(cond, ms)                                                  \
    ({                                                                  \
        uint64_t end_ = now_ms() + (ms);                                \
        uv_timer_start(&tick, on_tick, 10, 10);                         \
        while (!(cond) && now_ms() < end_)                              \
            uv_run(loop, UV_RUN_ONCE);                                  \
        uv_timer_stop(&tick);                                           \
        (bool)(cond);                                                   \
    })

static void sleep_loop(uint64_t ms)
{
    bool never = false;
    WAIT(never, ms);
}

static char hostbuf[64];

static const char *local(const char *p)
{
    snprintf(hostbuf, sizeof(hostbuf), "127.0.0.1:%s", p);
    return hostbuf;
}

/* ---------------------------------------------------------------------
 * Components
 * ------------------------------------------------------------------- */

static bool init_done_flag, close_done_flag;
static int init_status;
static char init_detail[512];

static void on_init(dapr_component_t *c, int status, const char *detail)
{
    init_done_flag = true;
    init_status = status;
    snprintf(init_detail, sizeof(init_detail), "%s", detail ? detail : "");
}

static void on_close(dapr_component_t *c, int status, const char *detail)
{
    close_done_flag = true;
}

static const dapr_pubsub_vtable_t *vt(dapr_component_t *c) { return c->ps_vt; }

/* md: NULL-terminated key/value pairs added to redisHost. */
static dapr_component_t *ps_new(const char *app, const char *const *md, int *status)
{
    dapr_kv_t kv[16];
    size_t n = 0;
    kv[n++] = (dapr_kv_t){"redisHost", local(port)};
    for (; md && md[0] && n < 16; md += 2)
        kv[n++] = (dapr_kv_t){md[0], md[1]};
    char err[512] = "";
    dapr_component_t *c = NULL;
    int rc = dapr__component_new(&c, loop, &lg, app, NULL, "pubsub", "pubsub.redis", "v1", kv, n,
                                 err, sizeof(err));
    if (rc) {
        fprintf(stderr, "component_new: %s\n", err);
        *status = rc;
        return NULL;
    }
    init_done_flag = false;
    rc = vt(c)->init(c, on_init);
    if (rc) {
        *status = rc;
        return c;
    }
    if (!WAIT(init_done_flag, 10000)) {
        fprintf(stderr, "init did not complete\n");
        test_failures++;
    }
    *status = init_status;
    return c;
}

static dapr_component_t *ps_open(const char *app, const char *const *md)
{
    int st;
    dapr_component_t *c = ps_new(app, md, &st);
    CHECK_EQ_INT(st, 0);
    if (st) {
        fprintf(stderr, "init: %s\n", init_detail);
        exit(1);
    }
    return c;
}

static void ps_close(dapr_component_t *c)
{
    close_done_flag = false;
    vt(c)->close(c, on_close);
    CHECK(WAIT(close_done_flag, 10000));
    dapr__component_free(c);
}

/* ---------------------------------------------------------------------
 * Publishing
 * ------------------------------------------------------------------- */

typedef struct pub_res {
    bool done;
    int calls;
    int code;
    char msg[512];
} pub_res_t;

static void on_pub(const dapr_error_t *e, void *data)
{
    pub_res_t *r = data;
    r->done = true;
    r->calls++;
    r->code = e ? e->code : 0;
    snprintf(r->msg, sizeof(r->msg), "%s", e ? e->message : "");
}

static int pub_md(dapr_component_t *c, const char *topic, const void *data, size_t len,
                  const dapr_kv_t *md, size_t n_md)
{
    pub_res_t r = {0};
    dapr_pubsub_msg_t m = {.topic = topic, .data = data, .len = len, .metadata = md,
                           .n_metadata = n_md};
    int rc = vt(c)->publish(c, &m, on_pub, &r);
    if (rc)
        return rc;
    CHECK(!r.done); /* never answered from inside the call */
    if (!WAIT(r.done, 10000)) {
        test_failures++;
        return DAPR_ETIMEDOUT;
    }
    CHECK_EQ_INT(r.calls, 1);
    if (r.code)
        fprintf(stderr, "publish to %s: %s (%s)\n", topic, dapr_err_name(r.code), r.msg);
    return r.code;
}

static int pub(dapr_component_t *c, const char *topic, const char *text)
{
    return pub_md(c, topic, text, strlen(text), NULL, 0);
}

typedef struct bulk_res {
    bool done;
    size_t n_failed;
} bulk_res_t;

static void on_bulk(const dapr_pubsub_bulk_failure_t *f, size_t n, void *data)
{
    bulk_res_t *r = data;
    r->done = true;
    r->n_failed = n;
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "bulk entry %zu: %s\n", f[i].index, f[i].err.message);
}

static size_t bulk(dapr_component_t *c, const char *topic, const char *prefix, size_t n)
{
    dapr_pubsub_msg_t *e = calloc(n, sizeof(*e));
    char (*txt)[32] = calloc(n, sizeof(*txt));
    for (size_t i = 0; i < n; i++) {
        snprintf(txt[i], sizeof(txt[i]), "%s%zu", prefix, i);
        e[i] = (dapr_pubsub_msg_t){.topic = topic, .data = (const uint8_t *)txt[i],
                                   .len = strlen(txt[i])};
    }
    bulk_res_t r = {0};
    CHECK_EQ_INT(vt(c)->bulk_publish(c, e, n, on_bulk, &r), 0);
    CHECK(!r.done);
    CHECK(WAIT(r.done, 10000));
    free(e);
    free(txt);
    return r.n_failed;
}

/* ---------------------------------------------------------------------
 * Receiving
 * ------------------------------------------------------------------- */

#define MAX_GOT 1200

typedef struct held_ack {
    dapr_pubsub_ack_fn ack;
    void *ctx;
} held_ack_t;

typedef struct sink {
    int n;                      /* deliveries */
    char data[MAX_GOT][40];
    char md_k[64];              /* value of metadata "k" of the last delivery */
    int hold;                   /* 1: keep acks for later */
    int nack_first;             /* nack the first delivery of each message */
    uint64_t t_nack, t_redeliver;
    held_ack_t held[MAX_GOT];
    int n_held;
    int inflight, max_inflight;
} sink_t;

static bool seen_before(const sink_t *k, const char *d, int upto)
{
    for (int i = 0; i < upto; i++)
        if (!strcmp(k->data[i], d))
            return true;
    return false;
}

static void handler(const dapr_pubsub_msg_t *m, dapr_pubsub_ack_fn ack, void *ctx, void *hdata)
{
    sink_t *k = hdata;
    char d[40];
    snprintf(d, sizeof(d), "%.*s", (int)(m->len < 39 ? m->len : 39), (const char *)m->data);
    bool again = seen_before(k, d, k->n);
    if (k->n < MAX_GOT)
        memcpy(k->data[k->n++], d, sizeof(d));
    k->md_k[0] = '\0';
    for (size_t i = 0; i < m->n_metadata; i++)
        if (!strcmp(m->metadata[i].key, "k"))
            snprintf(k->md_k, sizeof(k->md_k), "%s", m->metadata[i].value);
    if (++k->inflight > k->max_inflight)
        k->max_inflight = k->inflight;
    if (k->hold) {
        k->held[k->n_held++] = (held_ack_t){ack, ctx};
        return;
    }
    k->inflight--;
    if (k->nack_first && !again) {
        k->t_nack = now_ms();
        ack(ctx, DAPR_EAGAIN);
    } else {
        if (again && !k->t_redeliver)
            k->t_redeliver = now_ms();
        ack(ctx, DAPR_OK);
    }
}

/* Answer every held delivery (acks may deliver more, which are held too). */
static void release(sink_t *k, int status)
{
    while (k->n_held) {
        held_ack_t h = k->held[--k->n_held];
        k->inflight--;
        h.ack(h.ctx, status);
    }
}

static int count_of(const sink_t *k, const char *d)
{
    int n = 0;
    for (int i = 0; i < k->n; i++)
        n += !strcmp(k->data[i], d);
    return n;
}

static uint64_t subscribe(dapr_component_t *c, const char *topic, sink_t *k, const char *group)
{
    dapr_kv_t md[1] = {{"consumerID", group}};
    dapr_pubsub_sub_req_t req = {.topic = topic, .metadata = group ? md : NULL,
                                 .n_metadata = group ? 1 : 0};
    uint64_t id = 0;
    CHECK_EQ_INT(vt(c)->subscribe(c, &req, handler, k, &id), 0);
    CHECK(id > 0);
    return id;
}

/* ---------------------------------------------------------------------
 * A raw connection for inspection and for playing a crashed consumer
 * ------------------------------------------------------------------- */

typedef struct raw {
    dapr__redis_conn_t *conn;
    bool ready, closed;
} raw_t;

typedef struct reply {
    bool done;
    int status;
    int type;
    long long integer;
    size_t elements;
    long long first_int; /* element[0] of an array, when an integer */
} reply_t;

static void raw_event(dapr__redis_conn_t *c, dapr__redis_event_t ev, const char *d, void *data)
{
    if (ev == DAPR__REDIS_READY)
        ((raw_t *)data)->ready = true;
}

static void raw_open(raw_t *r)
{
    memset(r, 0, sizeof(*r));
    dapr__redis_opts_t o = {.host = local(port), .on_event = raw_event, .event_data = r};
    char err[256];
    CHECK_EQ_INT(dapr__redis_conn_new(&r->conn, loop, &o, err, sizeof(err)), 0);
    CHECK(WAIT(r->ready, 5000));
}

static void raw_closed(void *data) { ((raw_t *)data)->closed = true; }

static void raw_close(raw_t *r)
{
    dapr__redis_conn_close(r->conn, raw_closed, r);
    CHECK(WAIT(r->closed, 5000));
}

static void on_raw(const redisReply *r, int status, const char *err, void *data)
{
    reply_t *x = data;
    x->done = true;
    x->status = status;
    x->type = r ? r->type : 0;
    x->integer = r ? r->integer : 0;
    x->elements = r && r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    if (x->elements && r->element[0]->type == REDIS_REPLY_INTEGER)
        x->first_int = r->element[0]->integer;
    if (status)
        fprintf(stderr, "raw command: %s\n", err);
}

static reply_t raw_cmd(raw_t *r, int argc, const char **argv)
{
    reply_t x = {0};
    CHECK_EQ_INT(dapr__redis_cmd(r->conn, on_raw, &x, argc, argv, NULL), 0);
    CHECK(WAIT(x.done, 5000));
    return x;
}

/* Entries pending in a group. */
static long long pending(raw_t *r, const char *topic, const char *group)
{
    const char *argv[3] = {"XPENDING", topic, group};
    return raw_cmd(r, 3, argv).first_int;
}

/* ---------------------------------------------------------------------
 * Phase main
 * ------------------------------------------------------------------- */

static void check_init_errors(void)
{
    int st;
    static const char *const tls[] = {"enableTLS", "true", NULL};
    dapr_component_t *c = ps_new("app", tls, &st);
    CHECK_EQ_INT(st, DAPR_ENOTSUP);
    CHECK(strstr(init_detail, "enableTLS") != NULL);
    dapr__component_free(c);
    static const char *const bad[] = {"concurrency", "0", NULL};
    c = ps_new("app", bad, &st);
    CHECK_EQ_INT(st, DAPR_EINVAL); /* refused by the metadata table */
    CHECK(c == NULL);
    /* no consumerID and no app id */
    c = ps_new("", NULL, &st);
    CHECK_EQ_INT(st, DAPR_EINVAL);
    dapr__component_free(c);
}

static void check_round_trip(dapr_component_t *a)
{
    static sink_t k;
    subscribe(a, "t1", &k, NULL);
    dapr_kv_t md[1] = {{"k", "v<&>"}};
    CHECK_EQ_INT(pub_md(a, "t1", "hello", 5, md, 1), 0);
    CHECK(WAIT(k.n == 1, 5000));
    CHECK_EQ_STR(k.data[0], "hello");
    CHECK_EQ_STR(k.md_k, "v<&>");
    /* binary bytes, and an empty payload */
    CHECK_EQ_INT(pub_md(a, "t1", "b\0in", 4, NULL, 0), 0);
    CHECK(WAIT(k.n == 2, 5000));
    CHECK_EQ_INT(pub_md(a, "t1", "", 0, NULL, 0), 0);
    CHECK(WAIT(k.n == 3, 5000));
    CHECK_EQ_STR(k.data[2], "");
    /* bulk */
    CHECK_EQ_INT(bulk(a, "t1", "bulk-", 5), 0);
    CHECK(WAIT(k.n == 8, 5000));
    CHECK(count_of(&k, "bulk-4") == 1);
    raw_t r;
    raw_open(&r);
    CHECK(WAIT(pending(&r, "t1", "app1") == 0, 3000)); /* all acked */
    raw_close(&r);
    /* argument checks */
    dapr_pubsub_msg_t m = {.topic = "", .data = (const uint8_t *)"x", .len = 1};
    pub_res_t pr = {0};
    CHECK_EQ_INT(vt(a)->publish(a, &m, on_pub, &pr), DAPR_EINVAL);
    CHECK_EQ_INT(vt(a)->unsubscribe(a, 9999), DAPR_ENOTFOUND);
}

/* Two subscriptions of one group split the entries; other groups get all. */
static void check_groups(dapr_component_t *a, dapr_component_t *b)
{
    static sink_t s1, s2, other, third;
    subscribe(a, "t2", &s1, NULL);
    subscribe(a, "t2", &s2, NULL);
    subscribe(b, "t2", &other, NULL);         /* consumerID app2 */
    subscribe(a, "t2", &third, "app3");       /* per-subscription consumerID */
    sleep_loop(300);                          /* both reads of app1 blocked */
    for (int i = 0; i < 20; i++) {
        char t[16];
        snprintf(t, sizeof(t), "g%d", i);
        CHECK_EQ_INT(pub(a, "t2", t), 0);
        CHECK(WAIT(s1.n + s2.n == i + 1, 5000));
    }
    CHECK(WAIT(other.n == 20 && third.n == 20, 5000));
    sleep_loop(200);
    CHECK_EQ_INT(s1.n + s2.n, 20);
    CHECK(s1.n >= 3 && s2.n >= 3);
    fprintf(stderr, "group split: %d + %d\n", s1.n, s2.n);
    for (int i = 0; i < 20; i++) {
        char t[16];
        snprintf(t, sizeof(t), "g%d", i);
        CHECK_EQ_INT(count_of(&s1, t) + count_of(&s2, t), 1);
        CHECK_EQ_INT(count_of(&other, t), 1);
    }
}

/* A nacked entry comes back once processingTimeout has passed. */
static void check_nack(dapr_component_t *c)
{
    static sink_t k;
    k.nack_first = 1;
    subscribe(c, "t4", &k, NULL);
    CHECK_EQ_INT(pub(c, "t4", "n0"), 0);
    CHECK_EQ_INT(pub(c, "t4", "n1"), 0);
    CHECK(WAIT(k.n >= 2, 3000));
    CHECK(WAIT(k.n == 4, 5000));
    CHECK_EQ_INT(count_of(&k, "n0"), 2);
    CHECK_EQ_INT(count_of(&k, "n1"), 2);
    uint64_t gap = k.t_redeliver - k.t_nack;
    fprintf(stderr, "redelivered %llums after the nack\n", (unsigned long long)gap);
    CHECK(gap >= 700); /* processingTimeout 1s, minus the publish spacing */
    raw_t r;
    raw_open(&r);
    CHECK(WAIT(pending(&r, "t4", "app3") == 0, 3000));
    raw_close(&r);
}

/* Entries read by a consumer that died are reclaimed by a live one. */
static void check_crashed_consumer(dapr_component_t *c)
{
    raw_t r;
    raw_open(&r);
    const char *mk[] = {"XGROUP", "CREATE", "t5", "app5", "$", "MKSTREAM"};
    raw_cmd(&r, 6, mk);
    for (int i = 0; i < 3; i++) {
        char d[8];
        snprintf(d, sizeof(d), "dead%d", i);
        const char *add[] = {"XADD", "t5", "*", "data", d};
        raw_cmd(&r, 5, add);
    }
    const char *rd[] = {"XREADGROUP", "GROUP", "app5", "dead-consumer", "COUNT", "10",
                        "STREAMS", "t5", ">"};
    reply_t x = raw_cmd(&r, 9, rd);
    CHECK_EQ_INT(x.elements, 1);
    CHECK_EQ_INT(pending(&r, "t5", "app5"), 3);
    static sink_t k;
    uint64_t t0 = now_ms();
    subscribe(c, "t5", &k, "app5");
    CHECK(WAIT(k.n == 3, 6000));
    fprintf(stderr, "reclaimed a dead consumer's entries after %llums\n",
            (unsigned long long)(now_ms() - t0));
    CHECK_EQ_INT(count_of(&k, "dead1"), 1);
    CHECK(WAIT(pending(&r, "t5", "app5") == 0, 3000));
    raw_close(&r);
}

/* No more than `concurrency` deliveries wait for an answer at a time. */
static void check_concurrency(void)
{
    static const char *const md[] = {"consumerID", "conc", "concurrency", "3",
                                     "queueDepth", "5", NULL};
    dapr_component_t *c = ps_open("app", md);
    static sink_t k;
    k.hold = 1;
    subscribe(c, "t6", &k, NULL);
    CHECK_EQ_INT(bulk(c, "t6", "c", 20), 0);
    sleep_loop(500);
    CHECK_EQ_INT(k.inflight, 3);
    CHECK_EQ_INT(k.n, 3);
    uint64_t end = now_ms() + 10000;
    while (k.n < 20 && now_ms() < end) {
        release(&k, DAPR_OK);
        sleep_loop(20);
    }
    release(&k, DAPR_OK);
    CHECK_EQ_INT(k.n, 20);
    CHECK_EQ_INT(k.max_inflight, 3);
    raw_t r;
    raw_open(&r);
    CHECK(WAIT(pending(&r, "t6", "conc") == 0, 3000));
    raw_close(&r);
    ps_close(c);
}

static void check_maxlen(void)
{
    static const char *const md[] = {"maxLenApprox", "100", NULL};
    dapr_component_t *c = ps_open("app", md);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(bulk(c, "t7", "m", 200), 0);
    raw_t r;
    raw_open(&r);
    const char *xlen[] = {"XLEN", "t7"};
    long long n = raw_cmd(&r, 2, xlen).integer;
    fprintf(stderr, "XLEN after 1000 publishes with maxLenApprox 100: %lld\n", n);
    CHECK(n >= 100 && n < 400);
    raw_close(&r);
    ps_close(c);
}

/* Unsubscribe and close while deliveries are out or queued. */
static void check_close_in_flight(void)
{
    static const char *const md[] = {"consumerID", "cl", "concurrency", "2", NULL};
    dapr_component_t *c = ps_open("app", md);
    static sink_t k1, k2;
    k1.hold = k2.hold = 1;
    uint64_t id = subscribe(c, "t8", &k1, NULL);
    subscribe(c, "t9", &k2, NULL);
    CHECK_EQ_INT(bulk(c, "t8", "x", 5), 0);
    CHECK_EQ_INT(bulk(c, "t9", "y", 5), 0);
    CHECK(WAIT(k1.n == 2 && k2.n == 2, 3000));
    /* as the runtime does: answer what the app still has, then unsubscribe */
    int before = k1.n;
    release(&k1, DAPR_ECANCELED);
    CHECK_EQ_INT(vt(c)->unsubscribe(c, id), 0);
    CHECK_EQ_INT(vt(c)->unsubscribe(c, id), DAPR_ENOTFOUND);
    int after_unsub = k1.n;
    CHECK(after_unsub >= before);
    CHECK_EQ_INT(bulk(c, "t8", "z", 3), 0);
    sleep_loop(300);
    CHECK_EQ_INT(k1.n, after_unsub); /* no handler call after unsubscribe */
    /* a publish still out when close starts is answered exactly once */
    pub_res_t pr = {0};
    dapr_pubsub_msg_t m = {.topic = "t9", .data = (const uint8_t *)"late", .len = 4};
    CHECK_EQ_INT(vt(c)->publish(c, &m, on_pub, &pr), 0);
    /* close with t9's two deliveries never answered (defensive path) */
    k2.n_held = 0;
    ps_close(c);
    CHECK_EQ_INT(pr.calls, 1);
    CHECK(pr.code == 0 || pr.code == DAPR_ECLOSED);
}

static void phase_main(void)
{
    check_init_errors();
    static const char *const md1[] = {"consumerID", "app1", NULL};
    static const char *const md2[] = {"consumerID", "app2", NULL};
    /* consumerID from the app id; short reclaim times */
    static const char *const md3[] = {"processingTimeout", "1s", "redeliverInterval", "200ms",
                                      NULL};
    dapr_component_t *a = ps_open("app1", md1);
    dapr_component_t *b = ps_open("app1", md2);
    dapr_component_t *c = ps_open("app3", md3);
    check_round_trip(a);
    check_groups(a, b);
    check_nack(c);
    check_crashed_consumer(c);
    ps_close(a);
    ps_close(b);
    ps_close(c);
    check_concurrency();
    check_maxlen();
    check_close_in_flight();
}

/* ---------------------------------------------------------------------
 * Phase restart
 * ------------------------------------------------------------------- */

static void phase_restart(void)
{
    static const char *const md[] = {"consumerID", "rapp", "processingTimeout", "2s",
                                     "redeliverInterval", "500ms", NULL};
    dapr_component_t *c = ps_open("app", md);
    static sink_t k;
    subscribe(c, "rt", &k, NULL);
    for (int i = 0; i < 5; i++) {
        char t[16];
        snprintf(t, sizeof(t), "before-%d", i);
        CHECK_EQ_INT(pub(c, "rt", t), 0);
    }
    CHECK(WAIT(k.n == 5, 5000));
    printf("RESTART\n");
    fflush(stdout);
    /* publishes fail while the server is away, and do not hang */
    bool failed = false, back = false;
    uint64_t end = now_ms() + 15000;
    while (!failed && now_ms() < end) {
        uint64_t t0 = now_ms();
        int rc = pub(c, "rt", "probe");
        CHECK(now_ms() - t0 < 4000);
        if (rc) {
            fprintf(stderr, "publish during the outage: %s\n", dapr_err_name(rc));
            CHECK(rc == DAPR_EUNAVAIL || rc == DAPR_ETIMEDOUT);
            failed = true;
        } else {
            sleep_loop(50);
        }
    }
    CHECK(failed);
    end = now_ms() + 15000;
    while (!back && now_ms() < end) {
        if (!pub(c, "rt", "first-after"))
            back = true;
        else
            sleep_loop(100);
    }
    CHECK(back);
    for (int i = 0; i < 5; i++) {
        char t[16];
        snprintf(t, sizeof(t), "after-%d", i);
        CHECK_EQ_INT(pub(c, "rt", t), 0);
    }
    CHECK(WAIT(count_of(&k, "after-4") == 1 && count_of(&k, "first-after") == 1, 15000));
    for (int i = 0; i < 5; i++) {
        char t[16];
        snprintf(t, sizeof(t), "after-%d", i);
        CHECK_EQ_INT(count_of(&k, t), 1);
    }
    ps_close(c);
}

static void walk_cb(uv_handle_t *h, void *arg)
{
    if (h != (uv_handle_t *)&tick) {
        fprintf(stderr, "handle left open: type %s\n", uv_handle_type_name(h->type));
        (*(int *)arg)++;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s main|restart <port>\n", argv[0]);
        return 2;
    }
    setvbuf(stderr, NULL, _IONBF, 0);
    signal(SIGPIPE, SIG_IGN); /* hiredis writes with write(2) */
    port = argv[2];
    loop = uv_default_loop();
    dapr__logger_init(&lg);
    lg.level = DAPR_LOG_DEBUG;
    lg.sink = log_sink;
    uv_timer_init(loop, &tick);
    const char *phase = argv[1];
    if (!strcmp(phase, "main"))
        phase_main();
    else if (!strcmp(phase, "restart"))
        phase_restart();
    else {
        fprintf(stderr, "unknown phase %s\n", phase);
        return 2;
    }
    sleep_loop(50);
    int open = 0;
    uv_walk(loop, walk_cb, &open);
    CHECK_EQ_INT(open, 0);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(loop), 0);
    fprintf(stderr, "phase %s: %s\n", phase, test_failures ? "FAILED" : "ok");
    return test_result();
}
