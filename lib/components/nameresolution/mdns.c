/* nameresolution.mdns: Dapr's self-hosted default resolver, multicast DNS
 * (RFC 6762) with DNS-SD records (RFC 6763) on UDP 5353, on the runtime's
 * loop.
 *
 * Records, as Dapr's resolver (grandcat/zeroconf) publishes them, so Go
 * daprd and libdapr daprd find each other:
 *   PTR  <app-id>.local                → <instance>.<app-id>.local
 *   SRV  <instance>.<app-id>.local     → 0 0 <internal gRPC port> <host>.local
 *   TXT  <instance>.<app-id>.local     → "<app-id>" ["key=value" extras]
 *   A    <host>.local                  → the announced address (AAAA for IPv6)
 * Dapr names the instance "<hostname>:<pid>"; we add ":<port>" so several
 * sidecars in one process stay distinct, and give each its own host name
 * ("<hostname>-<pid>-<port>") so we never claim the machine's own mDNS name.
 * A resolver accepts an instance only with a TXT whose first string is the
 * app id, as Dapr does.
 *
 * Scope: by default everything stays on the loopback interface (group joined
 * on 127.0.0.1, IP_MULTICAST_IF 127.0.0.1, TTL 1, loopback delivery on,
 * IP_MULTICAST_ALL off, packets from non-loopback sources dropped): sidecars
 * on one machine find each other and nothing leaves it. The `interfaces`
 * metadata opts in to more interfaces.
 *
 * Resolving: a cached app id answers at once, round-robin over its live
 * instances; a miss multicasts a PTR query and completes on the first answer
 * (others keep arriving and join the cache) or fails after resolveTimeout.
 * Cached instances live min(record TTL, addressTTL) from the last answer;
 * every refreshInterval the cached app ids are queried again (Dapr: 60 s and
 * 30 s). Goodbyes (TTL 0) remove an instance at once. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "components/registry.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/map.h"
#include "core/strutil.h"
#include "dapr/component.h"
#include "mdns_wire.h"

#define MDNS_GROUP "224.0.0.251"
#define SERVICES_ENUM "_services._dns-sd._udp.local"
#define MAX_IFACES 16
#define MAX_APPS 1024
#define MAX_INSTANCES 64
#define MAX_RECS 256
#define MAX_TXT 16
#define TTL_HOST 120   /* RFC 6762 §10: records naming a host (SRV, A) */
#define TTL_OTHER 4500 /* PTR, TXT */
#define TTL_LEGACY 10  /* §6.7: cap for legacy unicast answers */
#define RESPONSE_GAP_MS 250
#define ADDR_MAX 72

enum { RESP_SERVICE = 1, RESP_ADDR = 2, RESP_ENUM = 4 };

typedef struct inst {
    char *name; /* <instance>.<app-id>.local, text form */
    char addr[ADDR_MAX];
    uint64_t expires; /* uv_now() ms */
} inst_t;

typedef struct waiter {
    struct waiter *next;
    dapr_name_resolve_cb cb;
    void *data;
    int status;
    char *app_id;
    char addr[ADDR_MAX];
} waiter_t;

typedef struct app {
    char *id;
    inst_t *inst;
    size_t n, cap;
    uint32_t rr;
    waiter_t *waiters, **wtail;
    uint64_t deadline; /* lookup in flight until then; 0 = none */
    uint64_t last_used;
} app_t;

struct mdns;

/* The libuv handles live here, apart from the component's private data, so
 * they can outlive close until their close callbacks ran. */
typedef struct io {
    uv_udp_t udp;
    uv_timer_t announce, respond, lookup, refresh;
    int open;
    struct mdns *m; /* NULL once the component let go */
    dapr_component_t *c;
    dapr_component_done_cb done;
    int status;
    char detail[200];
    uint8_t rbuf[DAPR__MDNS_MAX_PACKET];
} io_t;

typedef struct mdns {
    /* metadata */
    char *interfaces;
    int64_t resolve_timeout_ms, refresh_ms, address_ttl_ms, port;

    dapr_component_t *c;
    io_t *io;
    char ifaddr[MAX_IFACES][INET_ADDRSTRLEN]; /* [0] is 127.0.0.1 */
    size_t n_if;
    bool loopback_only;
    bool closing;
    dapr__map_t apps; /* app id → app_t */

    /* our own registration */
    bool registered;
    char *app_id, *service, *instance, *host, *endpoint;
    uint8_t addr[16];
    size_t alen;
    uint16_t reg_port;
    char *txt[MAX_TXT];
    size_t txt_len[MAX_TXT], n_txt;
    uint64_t last_mcast;
    bool sent_any;
    unsigned pending; /* RESP_* waiting for the rate limit */
} mdns_t;

static const char *v_positive(const void *f)
{
    return *(const int64_t *)f > 0 ? NULL : "must be positive";
}

static const char *v_port(const void *f)
{
    int64_t v = *(const int64_t *)f;
    return v >= 1 && v <= 65535 ? NULL : "must be 1..65535";
}

static const dapr_md_field_t md_fields[] = {
    /* libdapr extension: comma-separated interface names or IPv4 addresses
     * ("eth0,192.168.1.5"), or "*" for every non-loopback IPv4 interface, to
     * announce and resolve on besides loopback. Empty: loopback only. */
    {"interfaces", DAPR_MD_STRING, "", offsetof(mdns_t, interfaces), NULL, false},
    {"resolveTimeout", DAPR_MD_DURATION, "1s", offsetof(mdns_t, resolve_timeout_ms), v_positive,
     false},
    {"refreshInterval", DAPR_MD_DURATION, "30s", offsetof(mdns_t, refresh_ms), v_positive, false},
    {"addressTTL", DAPR_MD_DURATION, "60s", offsetof(mdns_t, address_ttl_ms), v_positive, false},
    /* for isolated setups only: peers must all use the same port */
    {"port", DAPR_MD_INT, "5353", offsetof(mdns_t, port), v_port, false},
};

/* ---------------------------------------------------------------------
 * Sending
 * ------------------------------------------------------------------- */

static void send_to(mdns_t *m, const uint8_t *p, size_t n, const struct sockaddr_in *to)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    /* try_send: nothing to keep alive; mDNS repeats what a full queue drops */
    int rc = uv_udp_try_send(&m->io->udp, &b, 1, (const struct sockaddr *)to);
    if (rc < 0)
        dapr_component_log(m->c, DAPR_LOG_DEBUG, "send to %s failed: %s", MDNS_GROUP,
                           uv_strerror(rc));
}

static void send_mcast(mdns_t *m, const uint8_t *p, size_t n)
{
    struct sockaddr_in to;
    uv_ip4_addr(MDNS_GROUP, (int)m->port, &to);
    for (size_t i = 0; i < m->n_if; i++) {
        if (m->n_if > 1)
            uv_udp_set_multicast_interface(&m->io->udp, m->ifaddr[i]);
        send_to(m, p, n, &to);
    }
    if (m->n_if > 1) /* back to loopback for anything else */
        uv_udp_set_multicast_interface(&m->io->udp, m->ifaddr[0]);
}

/* Our records for `bits`: TTL 0 for a goodbye; legacy = the §6.7 unicast form. */
static void compose(mdns_t *m, dapr__dns_writer_t *w, unsigned bits, bool goodbye, bool legacy)
{
    int sec = DAPR__DNS_SEC_ANSWER;
    bool flush = !legacy;
    uint32_t host_ttl = goodbye ? 0 : legacy ? TTL_LEGACY : TTL_HOST;
    uint32_t other_ttl = goodbye ? 0 : legacy ? TTL_LEGACY : TTL_OTHER;
    if (bits & RESP_SERVICE) {
        dapr__dns_put_ptr(w, sec, m->service, false, other_ttl, m->instance);
        dapr__dns_put_srv(w, sec, m->instance, flush, host_ttl, 0, 0, m->reg_port, m->host);
        dapr__dns_put_txt(w, sec, m->instance, flush, other_ttl, (const char *const *)m->txt,
                          m->txt_len, m->n_txt);
    }
    if (bits & (RESP_SERVICE | RESP_ADDR))
        dapr__dns_put_addr(w, sec, m->host, flush, host_ttl, m->addr, m->alen);
    if (bits & RESP_ENUM)
        dapr__dns_put_ptr(w, sec, SERVICES_ENUM, false, other_ttl, m->service);
}

static void send_records(mdns_t *m, unsigned bits, bool goodbye)
{
    uint8_t buf[DAPR__MDNS_MAX_PACKET];
    dapr__dns_writer_t w;
    size_t n;
    dapr__dns_writer_init(&w, buf, sizeof(buf), 0, DAPR__DNS_FLAG_QR | DAPR__DNS_FLAG_AA);
    compose(m, &w, bits, goodbye, false);
    if (dapr__dns_finish(&w, &n))
        return;
    send_mcast(m, buf, n);
    m->last_mcast = uv_now(dapr_component_loop(m->c));
    m->sent_any = true;
}

static void respond_cb(uv_timer_t *t)
{
    io_t *io = t->data;
    mdns_t *m = io->m;
    if (!m || !m->registered || !m->pending)
        return;
    unsigned bits = m->pending;
    m->pending = 0;
    send_records(m, bits, false);
}

/* Multicast answers at most every RESPONSE_GAP_MS (RFC 6762 §6 asks for 1 s
 * per record; a quarter second keeps a burst of starting sidecars quick while
 * a query flood still cannot make us flood). */
static void schedule_response(mdns_t *m, unsigned bits)
{
    uint64_t now = uv_now(dapr_component_loop(m->c));
    m->pending |= bits;
    if (uv_is_active((uv_handle_t *)&m->io->respond))
        return;
    if (!m->sent_any || now >= m->last_mcast + RESPONSE_GAP_MS) {
        respond_cb(&m->io->respond);
        return;
    }
    uv_timer_start(&m->io->respond, respond_cb, m->last_mcast + RESPONSE_GAP_MS - now, 0);
}

/* PTR questions for the app ids, as few packets of at most ~1400 bytes
 * (one Ethernet MTU when interfaces are opted in) as it takes. */
static void send_queries(mdns_t *m, const char *const *ids, size_t n)
{
    uint8_t buf[DAPR__MDNS_MAX_PACKET];
    char name[DAPR__DNS_NAME_TEXT];
    for (size_t i = 0; i < n;) {
        dapr__dns_writer_t w;
        size_t len, size = 12;
        dapr__dns_writer_init(&w, buf, sizeof(buf), 0, 0);
        /* an uncompressed question is the id's length + 12 ("local", root,
         * type, class, length bytes); app ids are at most 200 bytes */
        do {
            snprintf(name, sizeof(name), "%s.local", ids[i]);
            dapr__dns_put_question(&w, name, DAPR__DNS_TYPE_PTR, false);
            size += strlen(ids[i]) + 12;
        } while (++i < n && size + strlen(ids[i]) + 12 <= 1400);
        if (!dapr__dns_finish(&w, &len))
            send_mcast(m, buf, len);
    }
}

/* ---------------------------------------------------------------------
 * The cache
 * ------------------------------------------------------------------- */

static void complete(waiter_t *list)
{
    while (list) {
        waiter_t *w = list;
        list = w->next;
        if (w->status) {
            char msg[300];
            if (w->status == DAPR_ENOTFOUND)
                snprintf(msg, sizeof(msg), "couldn't find service: %s", w->app_id);
            else
                snprintf(msg, sizeof(msg), "mdns resolver: %s", dapr_strerror(w->status));
            dapr_error_t e = {w->status, msg};
            w->cb(&e, NULL, w->data);
        } else {
            w->cb(NULL, w->addr, w->data);
        }
        dapr__free(w->app_id);
        dapr__free(w);
    }
}

static void inst_drop(app_t *a, size_t i)
{
    dapr__free(a->inst[i].name);
    memmove(&a->inst[i], &a->inst[i + 1], (a->n - i - 1) * sizeof(*a->inst));
    a->n--;
}

static void expire(app_t *a, uint64_t now)
{
    for (size_t i = a->n; i-- > 0;)
        if (a->inst[i].expires <= now)
            inst_drop(a, i);
}

static const char *next_addr(app_t *a) { return a->inst[a->rr++ % a->n].addr; }

/* Hand every waiter of `a` an address (round-robin) and move them to *out. */
static void serve_waiters(app_t *a, waiter_t ***out)
{
    while (a->waiters && a->n) {
        waiter_t *w = a->waiters;
        a->waiters = w->next;
        snprintf(w->addr, sizeof(w->addr), "%s", next_addr(a));
        w->next = NULL;
        **out = w;
        *out = &w->next;
    }
    if (!a->waiters) {
        a->wtail = &a->waiters;
        a->deadline = 0;
    }
}

static void fail_waiters(app_t *a, int status, waiter_t ***out)
{
    for (waiter_t *w = a->waiters; w; w = w->next)
        w->status = status;
    if (a->waiters) {
        **out = a->waiters;
        *out = a->wtail;
    }
    a->waiters = NULL;
    a->wtail = &a->waiters;
    a->deadline = 0;
}

static void app_free(app_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        dapr__free(a->inst[i].name);
    dapr__free(a->inst);
    dapr__free(a->id);
    dapr__free(a);
}

static void upsert(mdns_t *m, app_t *a, const char *name, const char *addr, uint32_t ttl)
{
    uint64_t now = uv_now(dapr_component_loop(m->c));
    uint64_t life = (uint64_t)ttl * 1000;
    if (life > (uint64_t)m->address_ttl_ms)
        life = (uint64_t)m->address_ttl_ms;
    for (size_t i = 0; i < a->n; i++)
        if (dapr__dns_name_eq(a->inst[i].name, name)) {
            snprintf(a->inst[i].addr, ADDR_MAX, "%s", addr);
            a->inst[i].expires = now + life;
            return;
        }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        inst_t *ni = cap <= MAX_INSTANCES ? dapr__realloc(a->inst, cap * sizeof(*ni)) : NULL;
        if (!ni)
            return;
        a->inst = ni;
        a->cap = cap;
    }
    char *nm = dapr__strdup(name);
    if (!nm)
        return;
    a->inst[a->n] = (inst_t){.name = nm, .expires = now + life};
    snprintf(a->inst[a->n].addr, ADDR_MAX, "%s", addr);
    a->n++;
    dapr_component_log(m->c, DAPR_LOG_DEBUG, "app id %s: instance %s at %s", a->id, name, addr);
}

static void remove_inst(mdns_t *m, app_t *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (dapr__dns_name_eq(a->inst[i].name, name)) {
            dapr_component_log(m->c, DAPR_LOG_DEBUG, "app id %s: instance %s said goodbye",
                               a->id, name);
            inst_drop(a, i);
            return;
        }
}

/* The tracked app of a service name "<app-id>.local", or NULL. */
static app_t *app_of_service(mdns_t *m, const char *svc)
{
    size_t n = strlen(svc);
    if (n <= 6 || !dapr__dns_name_eq(svc + n - 6, ".local"))
        return NULL;
    return dapr__map_get(&m->apps, svc, n - 6);
}

/* ---------------------------------------------------------------------
 * Incoming packets
 * ------------------------------------------------------------------- */

/* Dapr's rule: the instance's TXT must carry the app id as its first string. */
static bool txt_has_app(const dapr__dns_msg_t *msg, const char *inst, const char *app_id)
{
    char name[DAPR__DNS_NAME_TEXT];
    size_t idl = strlen(app_id);
    for (size_t i = 0; i < msg->n_recs; i++) {
        const dapr__dns_rec_t *r = &msg->recs[i];
        if (r->section == DAPR__DNS_SEC_QUESTION || r->type != DAPR__DNS_TYPE_TXT ||
            dapr__dns_name_at(msg, r->name_off, name) || !dapr__dns_name_eq(name, inst))
            continue;
        size_t off = 0, sl;
        const uint8_t *s;
        if (dapr__dns_txt_next(msg->p + r->rdata_off, r->rdlen, &off, &s, &sl) && sl == idl &&
            !memcmp(s, app_id, idl))
            return true;
    }
    return false;
}

/* "ip" of the first A (else AAAA) record for `host` in the message. */
static bool find_addr(const dapr__dns_msg_t *msg, const char *host, char *out, bool *v6)
{
    char name[DAPR__DNS_NAME_TEXT];
    for (int pass = 0; pass < 2; pass++) {
        uint16_t want = pass ? DAPR__DNS_TYPE_AAAA : DAPR__DNS_TYPE_A;
        for (size_t i = 0; i < msg->n_recs; i++) {
            const dapr__dns_rec_t *r = &msg->recs[i];
            if (r->section == DAPR__DNS_SEC_QUESTION || r->type != want || !r->ttl ||
                dapr__dns_name_at(msg, r->name_off, name) || !dapr__dns_name_eq(name, host))
                continue;
            *v6 = pass;
            return inet_ntop(pass ? AF_INET6 : AF_INET, msg->p + r->rdata_off, out,
                             INET6_ADDRSTRLEN) != NULL;
        }
    }
    return false;
}

static void on_srv(mdns_t *m, const dapr__dns_msg_t *msg, const dapr__dns_rec_t *r,
                   waiter_t ***ready)
{
    char name[DAPR__DNS_NAME_TEXT], target[DAPR__DNS_NAME_TEXT], ip[INET6_ADDRSTRLEN];
    if (dapr__dns_name_at(msg, r->name_off, name))
        return;
    const char *svc = dapr__dns_name_rest(name);
    app_t *a = svc ? app_of_service(m, svc) : NULL;
    if (!a)
        return;
    if (!r->ttl) {
        remove_inst(m, a, name);
        return;
    }
    bool v6 = false;
    if (!r->srv_port || !txt_has_app(msg, name, a->id) ||
        dapr__dns_name_at(msg, r->target_off, target) || !find_addr(msg, target, ip, &v6))
        return;
    char addr[ADDR_MAX];
    snprintf(addr, sizeof(addr), v6 ? "[%s]:%u" : "%s:%u", ip, (unsigned)r->srv_port);
    upsert(m, a, name, addr, r->ttl);
    serve_waiters(a, ready);
}

static void on_response(mdns_t *m, const dapr__dns_msg_t *msg)
{
    char owner[DAPR__DNS_NAME_TEXT], target[DAPR__DNS_NAME_TEXT];
    waiter_t *ready = NULL, **tail = &ready;
    for (size_t i = 0; i < msg->n_recs; i++) {
        const dapr__dns_rec_t *r = &msg->recs[i];
        if (r->section == DAPR__DNS_SEC_QUESTION)
            continue;
        if (r->type == DAPR__DNS_TYPE_SRV) {
            on_srv(m, msg, r, &tail);
        } else if (r->type == DAPR__DNS_TYPE_PTR && !r->ttl) { /* goodbye */
            app_t *a;
            if (!dapr__dns_name_at(msg, r->name_off, owner) &&
                (a = app_of_service(m, owner)) && !dapr__dns_name_at(msg, r->target_off, target))
                remove_inst(m, a, target);
        }
    }
    /* the callbacks may close us: nothing of m is touched after this */
    complete(ready);
}

static unsigned wanted_records(mdns_t *m, const dapr__dns_msg_t *msg)
{
    char q[DAPR__DNS_NAME_TEXT];
    unsigned want = 0;
    bool browse_only = true;
    for (size_t i = 0; i < msg->n_recs; i++) {
        const dapr__dns_rec_t *r = &msg->recs[i];
        if (r->section != DAPR__DNS_SEC_QUESTION || dapr__dns_name_at(msg, r->name_off, q))
            continue;
        bool any = r->type == DAPR__DNS_TYPE_ANY;
        if (dapr__dns_name_eq(q, m->service) && (any || r->type == DAPR__DNS_TYPE_PTR)) {
            want |= RESP_SERVICE;
        } else if (dapr__dns_name_eq(q, m->instance) &&
                   (any || r->type == DAPR__DNS_TYPE_SRV || r->type == DAPR__DNS_TYPE_TXT)) {
            want |= RESP_SERVICE;
            browse_only = false;
        } else if (dapr__dns_name_eq(q, m->host) &&
                   (any || r->type == (m->alen == 4 ? DAPR__DNS_TYPE_A : DAPR__DNS_TYPE_AAAA))) {
            want |= RESP_ADDR;
        } else if (dapr__dns_name_eq(q, SERVICES_ENUM) && (any || r->type == DAPR__DNS_TYPE_PTR)) {
            want |= RESP_ENUM;
        }
    }
    /* known-answer suppression (§7.1): the querier already has our PTR with
     * at least half its TTL left */
    char owner[DAPR__DNS_NAME_TEXT], target[DAPR__DNS_NAME_TEXT];
    for (size_t i = 0; i < msg->n_recs && want; i++) {
        const dapr__dns_rec_t *r = &msg->recs[i];
        if (r->section != DAPR__DNS_SEC_ANSWER || r->type != DAPR__DNS_TYPE_PTR ||
            r->ttl < TTL_OTHER / 2 || dapr__dns_name_at(msg, r->name_off, owner) ||
            dapr__dns_name_at(msg, r->target_off, target))
            continue;
        if (browse_only && dapr__dns_name_eq(owner, m->service) &&
            dapr__dns_name_eq(target, m->instance))
            want &= ~(unsigned)RESP_SERVICE;
        if (dapr__dns_name_eq(owner, SERVICES_ENUM) && dapr__dns_name_eq(target, m->service))
            want &= ~(unsigned)RESP_ENUM;
    }
    return want;
}

/* §6.7: a query from a port other than 5353 is a plain DNS client (dig); it
 * gets a unicast reply echoing id and questions, no cache-flush bits. */
static void legacy_reply(mdns_t *m, const dapr__dns_msg_t *msg, unsigned want,
                         const struct sockaddr_in *from)
{
    uint8_t buf[DAPR__MDNS_MAX_PACKET];
    char q[DAPR__DNS_NAME_TEXT];
    dapr__dns_writer_t w;
    size_t n;
    dapr__dns_writer_init(&w, buf, sizeof(buf), msg->id, DAPR__DNS_FLAG_QR | DAPR__DNS_FLAG_AA);
    for (size_t i = 0; i < msg->n_recs; i++)
        if (msg->recs[i].section == DAPR__DNS_SEC_QUESTION &&
            !dapr__dns_name_at(msg, msg->recs[i].name_off, q))
            dapr__dns_put_question(&w, q, msg->recs[i].type, false);
    compose(m, &w, want, false, true);
    if (!dapr__dns_finish(&w, &n))
        send_to(m, buf, n, from);
}

static void on_query(mdns_t *m, const dapr__dns_msg_t *msg, const struct sockaddr_in *from)
{
    if (!m->registered)
        return;
    unsigned want = wanted_records(m, msg);
    if (!want)
        return;
    if (ntohs(from->sin_port) != (uint16_t)m->port)
        legacy_reply(m, msg, want, from);
    else
        schedule_response(m, want);
}

static void on_packet(mdns_t *m, const uint8_t *p, size_t n, const struct sockaddr_in *from)
{
    dapr__dns_rec_t recs[MAX_RECS];
    dapr__dns_msg_t msg;
    if (dapr__dns_parse(&msg, p, n, recs, MAX_RECS))
        return;
    /* §18.3, §18.11: other opcodes and rcodes are ignored */
    if (DAPR__DNS_OPCODE(msg.flags) || DAPR__DNS_RCODE(msg.flags))
        return;
    if (msg.flags & DAPR__DNS_FLAG_QR) {
        if (ntohs(from->sin_port) == (uint16_t)m->port) /* §6: else not a responder */
            on_response(m, &msg);
    } else {
        on_query(m, &msg, from);
    }
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    io_t *io = h->data;
    *buf = uv_buf_init((char *)io->rbuf, sizeof(io->rbuf));
}

static void recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    io_t *io = h->data;
    if (nread <= 0 || !addr || !io->m || io->m->closing || (flags & UV_UDP_PARTIAL) ||
        addr->sa_family != AF_INET)
        return;
    const struct sockaddr_in *from = (const struct sockaddr_in *)addr;
    /* loopback-only mode: a datagram from elsewhere (unicast to 5353 on
     * another interface) is not ours to read or answer */
    if (io->m->loopback_only && (ntohl(from->sin_addr.s_addr) >> 24) != 127)
        return;
    on_packet(io->m, (const uint8_t *)buf->base, (size_t)nread, from);
}

/* ---------------------------------------------------------------------
 * Timers
 * ------------------------------------------------------------------- */

static void announce_cb(uv_timer_t *t)
{
    io_t *io = t->data;
    /* §8.3: a second announcement one second after the first */
    if (io->m && io->m->registered)
        send_records(io->m, RESP_SERVICE, false);
}

static void lookup_cb(uv_timer_t *t);

static void arm_lookup(mdns_t *m)
{
    uint64_t next = 0, now = uv_now(dapr_component_loop(m->c));
    size_t it = 0;
    void *v;
    while (dapr__map_next(&m->apps, &it, NULL, NULL, &v)) {
        app_t *a = v;
        if (a->deadline && (!next || a->deadline < next))
            next = a->deadline;
    }
    if (next)
        uv_timer_start(&m->io->lookup, lookup_cb, next > now ? next - now : 0, 0);
    else
        uv_timer_stop(&m->io->lookup);
}

static void lookup_cb(uv_timer_t *t)
{
    io_t *io = t->data;
    mdns_t *m = io->m;
    if (!m)
        return;
    uint64_t now = uv_now(dapr_component_loop(m->c));
    waiter_t *failed = NULL, **tail = &failed;
    size_t it = 0;
    void *v;
    while (dapr__map_next(&m->apps, &it, NULL, NULL, &v)) {
        app_t *a = v;
        if (a->deadline && a->deadline <= now)
            fail_waiters(a, DAPR_ENOTFOUND, &tail);
    }
    arm_lookup(m);
    complete(failed);
}

static void refresh_cb(uv_timer_t *t)
{
    io_t *io = t->data;
    mdns_t *m = io->m;
    if (!m)
        return;
    uint64_t now = uv_now(dapr_component_loop(m->c));
    const char **ids = dapr__calloc(m->apps.len ? m->apps.len : 1, sizeof(*ids));
    size_t n = 0, it = 0;
    const char *k;
    size_t kl;
    void *v;
    while (dapr__map_next(&m->apps, &it, &k, &kl, &v)) {
        app_t *a = v;
        expire(a, now);
        if (a->n || a->waiters) {
            if (ids)
                ids[n++] = a->id;
        } else if (now - a->last_used > 2 * (uint64_t)m->address_ttl_ms) {
            dapr__map_del(&m->apps, k, kl); /* leaves a tombstone: iteration stays valid */
            app_free(a);
        }
    }
    send_queries(m, ids, n);
    dapr__free(ids);
}

/* ---------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------- */

static void on_closed(uv_handle_t *h)
{
    io_t *io = h->data;
    if (--io->open)
        return;
    dapr_component_done_cb done = io->done;
    dapr_component_t *c = io->c;
    int status = io->status;
    char detail[sizeof(io->detail)];
    memcpy(detail, io->detail, sizeof(detail));
    dapr__free(io);
    if (done)
        done(c, status, detail[0] ? detail : NULL);
}

static void close_io(io_t *io)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&io->udp, (uv_handle_t *)&io->announce,
                         (uv_handle_t *)&io->respond, (uv_handle_t *)&io->lookup,
                         (uv_handle_t *)&io->refresh};
    io->m = NULL;
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], on_closed);
}

/* Interfaces to use: loopback always, plus the `interfaces` opt-in. */
static int parse_interfaces(mdns_t *m, char *why, size_t whylen)
{
    snprintf(m->ifaddr[0], INET_ADDRSTRLEN, "127.0.0.1");
    m->n_if = 1;
    m->loopback_only = true;
    if (!m->interfaces || !*m->interfaces)
        return 0;
    uv_interface_address_t *ifs = NULL;
    int n_ifs = 0;
    if (uv_interface_addresses(&ifs, &n_ifs))
        n_ifs = 0;
    int rc = 0;
    char *list = dapr__strdup(m->interfaces), *save = NULL;
    if (!list)
        rc = DAPR_ENOMEM;
    for (char *tok = list ? strtok_r(list, ", \t", &save) : NULL; tok && !rc;
         tok = strtok_r(NULL, ", \t", &save)) {
        bool all = !strcmp(tok, "*") || !dapr__strcasecmp(tok, "all"), found = false;
        struct in_addr a4;
        char cand[MAX_IFACES][INET_ADDRSTRLEN];
        size_t nc = 0;
        if (!all && inet_pton(AF_INET, tok, &a4) == 1) {
            snprintf(cand[nc++], INET_ADDRSTRLEN, "%s", tok);
        } else {
            for (int i = 0; i < n_ifs && nc < MAX_IFACES; i++) {
                if (ifs[i].address.address4.sin_family != AF_INET ||
                    (all ? ifs[i].is_internal : strcmp(ifs[i].name, tok)))
                    continue;
                uv_ip4_name(&ifs[i].address.address4, cand[nc++], INET_ADDRSTRLEN);
            }
        }
        for (size_t i = 0; i < nc; i++) {
            found = true;
            bool dup = false;
            for (size_t j = 0; j < m->n_if; j++)
                dup |= !strcmp(m->ifaddr[j], cand[i]);
            if (!dup && m->n_if < MAX_IFACES)
                snprintf(m->ifaddr[m->n_if++], INET_ADDRSTRLEN, "%s", cand[i]);
        }
        if (!found && !all) {
            snprintf(why, whylen, "metadata interfaces: no IPv4 interface \"%s\"", tok);
            rc = DAPR_EINVAL;
        }
    }
    dapr__free(list);
    uv_free_interface_addresses(ifs, n_ifs);
    m->loopback_only = m->n_if == 1;
    return rc;
}

/* Bind 0.0.0.0:5353 shared with other responders, join the group on each
 * interface, keep multicast on loopback with TTL 1 unless opted out. */
static int open_socket(mdns_t *m, char *why, size_t whylen)
{
    io_t *io = m->io;
    struct sockaddr_in any;
    uv_ip4_addr("0.0.0.0", (int)m->port, &any);
    int rc = uv_udp_bind(&io->udp, (const struct sockaddr *)&any, UV_UDP_REUSEADDR);
    if (rc) {
        snprintf(why, whylen, "bind udp 0.0.0.0:%d: %s", (int)m->port, uv_strerror(rc));
        return rc;
    }
#ifdef IP_MULTICAST_ALL
    /* receive only the groups this socket joined, not every group any
     * socket on the host joined on any interface */
    uv_os_fd_t fd;
    int off = 0;
    if (!uv_fileno((uv_handle_t *)&io->udp, &fd))
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof(off));
#endif
    for (size_t i = 0; i < m->n_if && !rc; i++) {
        rc = uv_udp_set_membership(&io->udp, MDNS_GROUP, m->ifaddr[i], UV_JOIN_GROUP);
        if (rc)
            snprintf(why, whylen, "join %s on %s: %s", MDNS_GROUP, m->ifaddr[i], uv_strerror(rc));
    }
    if (!rc && (rc = uv_udp_set_multicast_interface(&io->udp, m->ifaddr[0])))
        snprintf(why, whylen, "multicast interface %s: %s", m->ifaddr[0], uv_strerror(rc));
    /* TTL 1 keeps loopback traffic on the host; off loopback §11 asks 255 */
    if (!rc && (rc = uv_udp_set_multicast_ttl(&io->udp, m->loopback_only ? 1 : 255)))
        snprintf(why, whylen, "multicast ttl: %s", uv_strerror(rc));
    if (!rc && (rc = uv_udp_set_multicast_loop(&io->udp, 1)))
        snprintf(why, whylen, "multicast loop: %s", uv_strerror(rc));
    if (!rc && (rc = uv_udp_recv_start(&io->udp, alloc_cb, recv_cb)))
        snprintf(why, whylen, "recv: %s", uv_strerror(rc));
    return rc;
}

static int mdns_init(dapr_component_t *c, dapr_component_done_cb done)
{
    mdns_t *m = dapr_component_priv(c);
    uv_loop_t *loop = dapr_component_loop(c);
    m->c = c;
    dapr__map_init(&m->apps);
    io_t *io = dapr__calloc(1, sizeof(*io));
    if (!io)
        return DAPR_ENOMEM;
    m->io = io;
    io->m = m;
    io->c = c;
    uv_udp_init(loop, &io->udp);
    uv_timer_init(loop, &io->announce);
    uv_timer_init(loop, &io->respond);
    uv_timer_init(loop, &io->lookup);
    uv_timer_init(loop, &io->refresh);
    io->udp.data = io->announce.data = io->respond.data = io->lookup.data = io->refresh.data = io;
    io->open = 5;
    int rc = parse_interfaces(m, io->detail, sizeof(io->detail));
    if (!rc)
        rc = open_socket(m, io->detail, sizeof(io->detail));
    if (rc) {
        /* report once the handles are closed */
        io->status = rc == DAPR_EINVAL ? DAPR_EINVAL : DAPR_EUNAVAIL;
        io->done = done;
        m->io = NULL;
        close_io(io);
        return DAPR_OK;
    }
    uv_timer_start(&io->refresh, refresh_cb, (uint64_t)m->refresh_ms, (uint64_t)m->refresh_ms);
    uv_unref((uv_handle_t *)&io->refresh);
    dapr_component_log(c, DAPR_LOG_DEBUG, "mdns on %s%s (%zu interface%s)", m->ifaddr[0],
                       m->loopback_only ? " only" : " and more", m->n_if, m->n_if > 1 ? "s" : "");
    done(c, DAPR_OK, NULL);
    return DAPR_OK;
}

static void free_registration(mdns_t *m)
{
    dapr__free(m->app_id);
    dapr__free(m->service);
    dapr__free(m->instance);
    dapr__free(m->host);
    dapr__free(m->endpoint);
    for (size_t i = 0; i < m->n_txt; i++)
        dapr__free(m->txt[i]);
    m->n_txt = 0;
    m->app_id = m->service = m->instance = m->host = m->endpoint = NULL;
    m->registered = false;
}

static void mdns_close(dapr_component_t *c, dapr_component_done_cb done)
{
    mdns_t *m = dapr_component_priv(c);
    waiter_t *failed = NULL, **tail = &failed;
    m->closing = true;
    if (m->io && m->registered)
        send_records(m, RESP_SERVICE, true); /* goodbye: TTL 0 */
    size_t it = 0;
    void *v;
    while (dapr__map_next(&m->apps, &it, NULL, NULL, &v)) {
        fail_waiters(v, DAPR_ECLOSED, &tail);
        app_free(v);
    }
    dapr__map_free(&m->apps);
    free_registration(m);
    io_t *io = m->io;
    m->io = NULL;
    complete(failed);
    if (io) {
        io->done = done;
        close_io(io);
    } else {
        done(c, DAPR_OK, NULL);
    }
}

/* ---------------------------------------------------------------------
 * register_self and resolve
 * ------------------------------------------------------------------- */

/* App ids become DNS labels of "<app-id>.local". */
static bool valid_app_id(const char *id)
{
    char name[300];
    if (!id || !*id || strlen(id) > 200 || strchr(id, '\\'))
        return false;
    snprintf(name, sizeof(name), "%s.local", id);
    return dapr__dns_name_check(name) == 0;
}

/* First label of the host name, reduced to letters, digits and '-'. */
static void host_label(char *out, size_t outlen)
{
    char hn[256];
    size_t len = sizeof(hn);
    if (uv_os_gethostname(hn, &len) || !len)
        snprintf(hn, sizeof(hn), "dapr");
    size_t o = 0;
    for (const char *s = hn; *s && *s != '.' && o + 1 < outlen && o < 40; s++) {
        char ch = *s;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-';
        out[o++] = ok ? ch : '-';
    }
    out[o] = '\0';
    if (!o)
        snprintf(out, outlen, "dapr");
}

static int fill_registration(mdns_t *m, const dapr_name_instance_t *self)
{
    char hl[48], buf[DAPR__DNS_NAME_TEXT];
    host_label(hl, sizeof(hl));
    long pid = (long)getpid();
    int rc;
    dapr__buf_t b = DAPR__BUF_INIT;
    m->app_id = dapr__strdup(self->app_id);
    snprintf(buf, sizeof(buf), "%s.local", self->app_id);
    m->service = dapr__strdup(buf);
    snprintf(buf, sizeof(buf), "%s:%ld:%u.%s.local", hl, pid, (unsigned)self->port, self->app_id);
    m->instance = dapr__strdup(buf);
    snprintf(buf, sizeof(buf), "%s-%ld-%u.local", hl, pid, (unsigned)self->port);
    m->host = dapr__strdup(buf);
    snprintf(buf, sizeof(buf), m->alen == 16 ? "[%s]:%u" : "%s:%u", self->host,
             (unsigned)self->port);
    m->endpoint = dapr__strdup(buf);
    m->txt[0] = dapr__strdup(self->app_id);
    m->txt_len[0] = strlen(self->app_id);
    m->n_txt = 1;
    for (size_t i = 0; i < self->n_extra && m->n_txt < MAX_TXT; i++) {
        dapr__buf_reset(&b);
        dapr__buf_printf(&b, "%s=%s", self->extra[i].key, self->extra[i].value);
        if (b.oom || b.len > 255) {
            rc = b.oom ? DAPR_ENOMEM : DAPR_EINVAL;
            dapr__buf_free(&b);
            return rc;
        }
        m->txt_len[m->n_txt] = b.len;
        m->txt[m->n_txt++] = dapr__buf_steal(&b, NULL);
    }
    dapr__buf_free(&b);
    for (size_t i = 0; i < m->n_txt; i++)
        if (!m->txt[i])
            return DAPR_ENOMEM;
    if (!m->app_id || !m->service || !m->instance || !m->host || !m->endpoint)
        return DAPR_ENOMEM;
    return dapr__dns_name_check(m->instance) ? DAPR_EINVAL : 0;
}

static int mdns_register(dapr_component_t *c, const dapr_name_instance_t *self,
                         dapr_name_done_cb cb, void *data)
{
    mdns_t *m = dapr_component_priv(c);
    if (m->closing || !m->io)
        return DAPR_ECLOSED;
    if (m->registered)
        return DAPR_ESTATE;
    if (!self || !valid_app_id(self->app_id) || !self->host || !self->port)
        return DAPR_EINVAL;
    static const uint8_t zero[16];
    if (inet_pton(AF_INET, self->host, m->addr) == 1)
        m->alen = 4;
    else if (inet_pton(AF_INET6, self->host, m->addr) == 1)
        m->alen = 16;
    else
        return DAPR_EINVAL;
    if (!memcmp(m->addr, zero, m->alen)) /* 0.0.0.0 / :: reach nobody */
        return DAPR_EINVAL;
    m->reg_port = self->port;
    int rc = fill_registration(m, self);
    if (rc) {
        free_registration(m);
        return rc;
    }
    m->registered = true;
    send_records(m, RESP_SERVICE, false);
    uv_timer_start(&m->io->announce, announce_cb, 1000, 0);
    dapr_component_log(c, DAPR_LOG_INFO, "local service entry announced: %s -> %s", m->app_id,
                       m->endpoint);
    cb(NULL, data);
    return DAPR_OK;
}

/* Make room for one more app: drop the idle one used least recently. */
static int make_room(mdns_t *m)
{
    if (m->apps.len < MAX_APPS)
        return 0;
    app_t *old = NULL;
    size_t it = 0;
    void *v;
    while (dapr__map_next(&m->apps, &it, NULL, NULL, &v)) {
        app_t *a = v;
        if (!a->waiters && (!old || a->last_used < old->last_used))
            old = a;
    }
    if (!old)
        return DAPR_EAGAIN;
    dapr__map_del(&m->apps, old->id, strlen(old->id));
    app_free(old);
    return 0;
}

static app_t *get_app(mdns_t *m, const char *id, int *rc)
{
    app_t *a = dapr__map_get(&m->apps, id, strlen(id));
    if (a)
        return a;
    if ((*rc = make_room(m)))
        return NULL;
    *rc = DAPR_ENOMEM;
    a = dapr__calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->id = dapr__strdup(id);
    a->wtail = &a->waiters;
    if (!a->id || dapr__map_put(&m->apps, id, strlen(id), a, NULL)) {
        app_free(a);
        return NULL;
    }
    *rc = 0;
    return a;
}

static int mdns_resolve(dapr_component_t *c, const dapr_name_resolve_req_t *req,
                        dapr_name_resolve_cb cb, void *data)
{
    mdns_t *m = dapr_component_priv(c);
    if (m->closing || !m->io)
        return DAPR_ECLOSED;
    if (!req || !valid_app_id(req->app_id))
        return DAPR_EINVAL;
    int rc;
    app_t *a = get_app(m, req->app_id, &rc);
    if (!a)
        return rc;
    uint64_t now = uv_now(dapr_component_loop(c));
    a->last_used = now;
    expire(a, now);
    if (a->n) {
        char addr[ADDR_MAX];
        snprintf(addr, sizeof(addr), "%s", next_addr(a));
        cb(NULL, addr, data);
        return DAPR_OK;
    }
    waiter_t *w = dapr__calloc(1, sizeof(*w));
    if (!w || !(w->app_id = dapr__strdup(req->app_id))) {
        dapr__free(w);
        return DAPR_ENOMEM;
    }
    w->cb = cb;
    w->data = data;
    *a->wtail = w;
    a->wtail = &w->next;
    if (!a->deadline) { /* one lookup in flight per app id */
        a->deadline = now + (uint64_t)m->resolve_timeout_ms;
        const char *id = a->id;
        send_queries(m, &id, 1);
        arm_lookup(m);
    }
    return DAPR_OK;
}

const dapr_name_resolver_vtable_t dapr__nr_mdns_vtable = {
    .type = "nameresolution.mdns",
    .version = "v1",
    .priv_size = sizeof(mdns_t),
    .md_fields = md_fields,
    .n_md_fields = sizeof(md_fields) / sizeof(md_fields[0]),
    .init = mdns_init,
    .close = mdns_close,
    .register_self = mdns_register,
    .resolve = mdns_resolve,
};
