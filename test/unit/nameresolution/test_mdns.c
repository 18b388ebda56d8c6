/* The mdns resolver on a real loop and real multicast on the loopback
 * interface (224.0.0.251:5353 via 127.0.0.1, TTL 1): two resolvers announce
 * the same app id on different ports, a third resolves them round-robin; a
 * goodbye removes one; a hand-made responder checks Dapr-format answers, TXT
 * matching, expiry and legacy unicast queries.
 *
 * App ids are random so concurrent runs (meson runs tests in parallel, other
 * sidecars may be up) never see each other's instances. Every wait is
 * bounded; the test never sends a packet off the machine. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <uv.h>

#include "components/nameresolution/mdns_wire.h"
#include "components/registry.h"
#include "core/log.h"
#include "core/strutil.h"
#include "../testutil.h"

static uv_loop_t loop;
static dapr__logger_t lg;

/* ---- bounded waiting ----------------------------------------------------- */

static void on_timeout(uv_timer_t *t) { *(bool *)t->data = true; }

/* Run the loop until *flag or ms elapse; true if the flag was set. */
static bool run_until(const bool *flag, uint64_t ms)
{
    uv_timer_t t;
    bool to = false;
    uv_timer_init(&loop, &t);
    t.data = &to;
    uv_timer_start(&t, on_timeout, ms, 0);
    while (!*flag && !to)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return *flag;
}

static void sleep_ms(uint64_t ms)
{
    bool never = false;
    run_until(&never, ms);
}

/* ---- components -------------------------------------------------------- */

typedef struct done_st {
    bool done;
    int status;
    char addr[128];
    char msg[256];
} done_st;

static void comp_done(dapr_component_t *c, int status, const char *detail)
{
    done_st *d = c->user;
    d->done = true;
    d->status = status;
    snprintf(d->msg, sizeof(d->msg), "%s", detail ? detail : "");
}

static void name_done(const dapr_error_t *err, void *data)
{
    done_st *d = data;
    d->done = true;
    d->status = err ? err->code : 0;
}

static void resolved(const dapr_error_t *err, const char *addr, void *data)
{
    done_st *d = data;
    d->done = true;
    d->status = err ? err->code : 0;
    snprintf(d->addr, sizeof(d->addr), "%s", addr ? addr : "");
    snprintf(d->msg, sizeof(d->msg), "%s", err ? err->message : "");
}

static dapr_component_t *start(const dapr_kv_t *md, size_t n_md)
{
    dapr_component_t *c = NULL;
    char err[256] = "";
    CHECK_EQ_INT(dapr__nameres_new(&c, &loop, &lg, "tester", NULL, "mdns", "v1", md, n_md, err,
                                   sizeof(err)), 0);
    if (!c) {
        fprintf(stderr, "nameres_new: %s\n", err);
        exit(1);
    }
    done_st d = {0};
    c->user = &d;
    CHECK_EQ_INT(c->nr_vt->init(c, comp_done), 0);
    CHECK(run_until(&d.done, 5000));
    if (d.status) {
        fprintf(stderr, "init: %s\n", d.msg);
        exit(1);
    }
    return c;
}

static void stop(dapr_component_t *c)
{
    done_st d = {0};
    c->user = &d;
    c->nr_vt->close(c, comp_done);
    CHECK(run_until(&d.done, 5000));
    dapr__component_free(c);
}

static void announce(dapr_component_t *c, const char *app, uint16_t port)
{
    done_st d = {0};
    dapr_kv_t extra[] = {{"DAPR_HTTP_PORT", "3500"}};
    dapr_name_instance_t self = {.app_id = app, .host = "127.0.0.1", .port = port,
                                 .extra = extra, .n_extra = 1};
    CHECK_EQ_INT(c->nr_vt->register_self(c, &self, name_done, &d), 0);
    CHECK(run_until(&d.done, 2000));
    CHECK_EQ_INT(d.status, 0);
    CHECK_EQ_INT(c->nr_vt->register_self(c, &self, name_done, &d), DAPR_ESTATE);
}

static done_st resolve(dapr_component_t *c, const char *app, uint64_t wait_ms)
{
    done_st d = {0};
    dapr_name_resolve_req_t req = {.app_id = app};
    int rc = c->nr_vt->resolve(c, &req, resolved, &d);
    CHECK_EQ_INT(rc, 0);
    if (!rc && !run_until(&d.done, wait_ms)) {
        fprintf(stderr, "resolve %s: no answer within %llums\n", app, (unsigned long long)wait_ms);
        test_failures++;
    }
    return d;
}

static void random_id(char *out, size_t n, const char *prefix)
{
    char u[37];
    dapr__uuid4(u);
    snprintf(out, n, "%s-%.8s", prefix, u);
}

/* Resolve until both addresses were seen (bounded); true when they were. */
static bool saw_both(dapr_component_t *c, const char *app, const char *a, const char *b)
{
    bool sa = false, sb = false;
    for (int i = 0; i < 50 && !(sa && sb); i++) {
        done_st d = resolve(c, app, 3000);
        sa |= !strcmp(d.addr, a);
        sb |= !strcmp(d.addr, b);
        if (!(sa && sb))
            sleep_ms(100);
    }
    return sa && sb;
}

static void test_round_robin_and_goodbye(void)
{
    char app[64];
    random_id(app, sizeof(app), "nrt");
    dapr_component_t *a = start(NULL, 0), *b = start(NULL, 0);
    dapr_kv_t md[] = {{"resolveTimeout", "3s"}};
    dapr_component_t *r = start(md, 1);
    announce(a, app, 40101);
    announce(b, app, 40102);

    done_st d = resolve(r, app, 5000);
    CHECK_EQ_INT(d.status, 0);
    CHECK(!strcmp(d.addr, "127.0.0.1:40101") || !strcmp(d.addr, "127.0.0.1:40102"));
    CHECK(saw_both(r, app, "127.0.0.1:40101", "127.0.0.1:40102"));

    /* from the cache: strict alternation */
    char seq[4][128];
    for (int i = 0; i < 4; i++) {
        d = resolve(r, app, 1000);
        CHECK_EQ_INT(d.status, 0);
        snprintf(seq[i], sizeof(seq[i]), "%s", d.addr);
    }
    CHECK(strcmp(seq[0], seq[1]) != 0);
    CHECK_EQ_STR(seq[0], seq[2]);
    CHECK_EQ_STR(seq[1], seq[3]);

    /* b says goodbye (TTL 0) on close: r drops it at once */
    stop(b);
    bool only_a = false;
    for (int i = 0; i < 40 && !only_a; i++) {
        sleep_ms(50);
        only_a = true;
        for (int k = 0; k < 4; k++) {
            d = resolve(r, app, 3000);
            only_a &= !strcmp(d.addr, "127.0.0.1:40101");
        }
    }
    CHECK(only_a);

    /* a resolver finds its own app id too */
    d = resolve(a, app, 5000);
    CHECK_EQ_STR(d.addr, "127.0.0.1:40101");

    /* an app id nobody serves fails after resolveTimeout */
    char ghost[64];
    random_id(ghost, sizeof(ghost), "ghost");
    uint64_t t0 = uv_now(&loop);
    done_st g = {0};
    dapr_name_resolve_req_t req = {.app_id = ghost};
    CHECK_EQ_INT(a->nr_vt->resolve(a, &req, resolved, &g), 0);
    CHECK(run_until(&g.done, 5000));
    CHECK_EQ_INT(g.status, DAPR_ENOTFOUND);
    CHECK(strstr(g.msg, ghost) != NULL);
    CHECK(uv_now(&loop) - t0 >= 900);

    /* invalid app ids never reach the network */
    req.app_id = "";
    CHECK_EQ_INT(r->nr_vt->resolve(r, &req, resolved, &g), DAPR_EINVAL);
    req.app_id = "a..b";
    CHECK_EQ_INT(r->nr_vt->resolve(r, &req, resolved, &g), DAPR_EINVAL);

    /* closing with a lookup in flight completes it with DAPR_ECLOSED */
    random_id(ghost, sizeof(ghost), "ghost");
    req.app_id = ghost;
    done_st pend = {0};
    CHECK_EQ_INT(r->nr_vt->resolve(r, &req, resolved, &pend), 0);
    stop(r);
    CHECK(pend.done && pend.status == DAPR_ECLOSED);
    stop(a);
}

/* ---- a hand-made responder: Dapr's (zeroconf's) answer format ---------- */

typedef struct fake {
    uv_udp_t udp;
    const char *app;
    int answers_left; /* queries for app still to answer */
    uint32_t ttl;
    const char *txt0; /* first TXT string */
    uint8_t rbuf[DAPR__MDNS_MAX_PACKET];
    /* legacy unicast client side */
    bool got_reply;
    uint16_t reply_port;
    uint16_t reply_id;
} fake_t;

static void mcast_send(uv_udp_t *u, const uint8_t *p, size_t n)
{
    struct sockaddr_in to;
    uv_ip4_addr("224.0.0.251", 5353, &to);
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    CHECK(uv_udp_try_send(u, &b, 1, (const struct sockaddr *)&to) == (int)n);
}

/* instance "box:1234.<app>.local" → 127.0.0.1:40200, as zeroconf.RegisterProxy */
static void fake_answer(fake_t *f, uint32_t ttl)
{
    uint8_t buf[1500];
    char svc[128], inst[160];
    dapr__dns_writer_t w;
    size_t n;
    snprintf(svc, sizeof(svc), "%s.local", f->app);
    snprintf(inst, sizeof(inst), "box:1234.%s", svc);
    const char *txt[] = {f->txt0};
    size_t tl[] = {strlen(f->txt0)};
    uint8_t ip[4] = {127, 0, 0, 1};
    dapr__dns_writer_init(&w, buf, sizeof(buf), 0, DAPR__DNS_FLAG_QR | DAPR__DNS_FLAG_AA);
    dapr__dns_put_ptr(&w, DAPR__DNS_SEC_ANSWER, svc, false, ttl, inst);
    dapr__dns_put_srv(&w, DAPR__DNS_SEC_ADDITIONAL, inst, false, ttl, 0, 0, 40200, "box.local");
    dapr__dns_put_txt(&w, DAPR__DNS_SEC_ADDITIONAL, inst, false, ttl, txt, tl, 1);
    dapr__dns_put_addr(&w, DAPR__DNS_SEC_ADDITIONAL, "box.local", false, ttl, ip, 4);
    CHECK_EQ_INT(dapr__dns_finish(&w, &n), 0);
    mcast_send(&f->udp, buf, n);
}

static void fake_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    fake_t *f = h->data;
    *buf = uv_buf_init((char *)f->rbuf, sizeof(f->rbuf));
}

static void fake_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                      const struct sockaddr *addr, unsigned flags)
{
    fake_t *f = h->data;
    dapr__dns_rec_t recs[64];
    dapr__dns_msg_t m;
    char name[DAPR__DNS_NAME_TEXT], svc[128];
    if (nread <= 0 || dapr__dns_parse(&m, (const uint8_t *)buf->base, (size_t)nread, recs, 64))
        return;
    snprintf(svc, sizeof(svc), "%s.local", f->app);
    if (m.flags & DAPR__DNS_FLAG_QR) { /* a (unicast) reply to our legacy query */
        f->got_reply = true;
        f->reply_id = m.id;
        for (size_t i = 0; i < m.n_recs; i++)
            if (recs[i].type == DAPR__DNS_TYPE_SRV && recs[i].section)
                f->reply_port = recs[i].srv_port;
        return;
    }
    for (size_t i = 0; i < m.n_recs; i++)
        if (recs[i].type == DAPR__DNS_TYPE_PTR && !dapr__dns_name_at(&m, recs[i].name_off, name) &&
            dapr__dns_name_eq(name, svc) && f->answers_left > 0) {
            f->answers_left--;
            fake_answer(f, f->ttl);
            return;
        }
}

static void fake_open(fake_t *f, int port)
{
    struct sockaddr_in any;
    uv_udp_init(&loop, &f->udp);
    f->udp.data = f;
    uv_ip4_addr("0.0.0.0", port, &any);
    CHECK_EQ_INT(uv_udp_bind(&f->udp, (const struct sockaddr *)&any, UV_UDP_REUSEADDR), 0);
    CHECK_EQ_INT(uv_udp_set_membership(&f->udp, "224.0.0.251", "127.0.0.1", UV_JOIN_GROUP), 0);
    CHECK_EQ_INT(uv_udp_set_multicast_interface(&f->udp, "127.0.0.1"), 0);
    CHECK_EQ_INT(uv_udp_set_multicast_ttl(&f->udp, 1), 0);
    CHECK_EQ_INT(uv_udp_set_multicast_loop(&f->udp, 1), 0);
    CHECK_EQ_INT(uv_udp_recv_start(&f->udp, fake_alloc, fake_recv), 0);
}

static void fake_close(fake_t *f)
{
    uv_close((uv_handle_t *)&f->udp, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_foreign_answers_and_expiry(void)
{
    char app[64];
    random_id(app, sizeof(app), "nrf");
    fake_t f = {.app = app, .answers_left = 1, .ttl = 1, .txt0 = "someone-else"};
    fake_open(&f, 5353);
    dapr_kv_t md[] = {{"resolveTimeout", "1s"}};
    dapr_component_t *r = start(md, 1);

    /* an answer whose TXT is not the app id is ignored (Dapr's rule) */
    done_st d = resolve(r, app, 5000);
    CHECK_EQ_INT(d.status, DAPR_ENOTFOUND);
    CHECK_EQ_INT(f.answers_left, 0);

    /* the right TXT: accepted; TTL 1 s bounds the cache */
    f.txt0 = app;
    f.answers_left = 1;
    d = resolve(r, app, 5000);
    CHECK_EQ_INT(d.status, 0);
    CHECK_EQ_STR(d.addr, "127.0.0.1:40200");
    d = resolve(r, app, 100); /* cached: answered at once */
    CHECK(d.done && d.status == 0);
    sleep_ms(1300);
    d = resolve(r, app, 5000); /* expired, and the fake no longer answers */
    CHECK_EQ_INT(d.status, DAPR_ENOTFOUND);

    /* a goodbye from the fake removes its instance */
    f.answers_left = 1;
    f.ttl = 120;
    d = resolve(r, app, 5000);
    CHECK_EQ_STR(d.addr, "127.0.0.1:40200");
    fake_answer(&f, 0);
    sleep_ms(200);
    d = resolve(r, app, 5000);
    CHECK_EQ_INT(d.status, DAPR_ENOTFOUND);

    stop(r);
    fake_close(&f);
}

static void test_legacy_unicast(void)
{
    char app[64];
    random_id(app, sizeof(app), "nrl");
    dapr_component_t *a = start(NULL, 0);
    announce(a, app, 40301);

    /* a plain DNS client (dig -p 5353 @224.0.0.251): ephemeral source port */
    fake_t q = {.app = app};
    fake_open(&q, 0);
    uint8_t buf[512];
    char svc[128];
    size_t n;
    dapr__dns_writer_t w;
    snprintf(svc, sizeof(svc), "%s.local", app);
    dapr__dns_writer_init(&w, buf, sizeof(buf), 0x4242, 0);
    dapr__dns_put_question(&w, svc, DAPR__DNS_TYPE_PTR, false);
    CHECK_EQ_INT(dapr__dns_finish(&w, &n), 0);
    mcast_send(&q.udp, buf, n);
    CHECK(run_until(&q.got_reply, 3000));
    CHECK_EQ_INT(q.reply_id, 0x4242);
    CHECK_EQ_INT(q.reply_port, 40301);
    fake_close(&q);
    stop(a);
}

/* The opt-in is parsed at init; "lo" is loopback again. Real interfaces are
 * not tried: joining the group there would already send an IGMP report off
 * the machine. */
static void test_interfaces_metadata(void)
{
    dapr_kv_t lo[] = {{"interfaces", "lo, 127.0.0.1"}};
    dapr_component_t *c = start(lo, 1);
    stop(c);

    dapr_kv_t bad[] = {{"interfaces", "no-such-if0"}};
    char err[256] = "";
    CHECK_EQ_INT(dapr__nameres_new(&c, &loop, &lg, "t", NULL, "mdns", "v1", bad, 1, err,
                                   sizeof(err)), 0);
    done_st d = {0};
    c->user = &d;
    CHECK_EQ_INT(c->nr_vt->init(c, comp_done), 0);
    CHECK(run_until(&d.done, 5000));
    CHECK_EQ_INT(d.status, DAPR_EINVAL);
    CHECK(strstr(d.msg, "no-such-if0") != NULL);
    dapr__component_free(c);

    dapr_kv_t port[] = {{"port", "70000"}};
    CHECK_EQ_INT(dapr__nameres_new(&c, &loop, &lg, "t", NULL, "mdns", "v1", port, 1, err,
                                   sizeof(err)), DAPR_EINVAL);
}

int main(void)
{
    uv_loop_init(&loop);
    dapr__logger_init(&lg);
    lg.level = getenv("NR_DEBUG") ? DAPR_LOG_DEBUG : DAPR_LOG_ERROR;
    test_round_robin_and_goodbye();
    test_foreign_answers_and_expiry();
    test_legacy_unicast();
    test_interfaces_metadata();
    /* nothing may be left on the loop */
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_EQ_INT(uv_loop_alive(&loop), 0);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    return test_result();
}
