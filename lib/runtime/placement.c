/* The placement client: see placement.h. Dapr 1.16 daprd behaviour:
 *  - one ReportDaprStatus stream to one of the --placement-host-address
 *    entries; on failure the next one after ~0.5 s (round robin);
 *  - Host{name = self_addr, port, entities, id, namespace, api_level 20}
 *    sent at once and then every 1 s (the 1.16 heartbeat);
 *  - "lock" blocks every lookup (1.16 blocks all types while a table is
 *    applied), "update" installs the tables (one ring per actor type, see
 *    placement_ring.h), "unlock" releases the lookups, runs the when_ready
 *    waiters and then on_change;
 *  - losing the stream locks lookups until the next stream's first table
 *    is unlocked (the old table may be stale: placement may have moved
 *    our actors), so a disconnected host starts no call;
 *  - each lock/update/unlock is acknowledged (Host with operation
 *    LOCK/UPDATE/UNLOCK and the version), as daprd 1.17+ does. */
#include "runtime/placement.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/map.h"
#include "dapr/proto/placement/v1/placement.pb-c.h"
#include "grpc/grpc.h"
#include "runtime/placement_ring.h"
#include "runtime/runtime_int.h"

#define SCOPE "dapr.runtime.actors.placement"
#define PATH "/dapr.proto.placement.v1.Placement/ReportDaprStatus"
#define HEARTBEAT_MS 1000
#define RETRY_MS 500
#define MAX_ADDRS 64

typedef struct waiter {
    struct waiter *next;
    void (*cb)(bool closed, void *ud);
    void *ud;
} waiter_t;

struct dapr__placement {
    uv_loop_t *loop;
    const dapr__logger_t *log;
    char *hosts[MAX_ADDRS];
    int ports[MAX_ADDRS];
    size_t n_addrs, cur;
    char *app_id, *ns, *self;
    int64_t self_port;
    char **types;
    size_t n_types;
    dapr__placement_change_cb on_change;
    void *ud;

    dapr__grpc_channel_t *ch;
    dapr__grpc_ccall_t *cc;
    bool connected;
    uv_timer_t timer; /* heartbeat while a stream is open, else retry */
    uv_timer_t kick;  /* runs ready waiters outside the caller's stack */

    bool have_table, locked;
    uint64_t version;
    dapr__map_t rings; /* type → dapr__pring_t* */
    waiter_t *waiters, **wtail;

    bool closing;
    int open; /* handles + closing channels */
    void (*done)(void *ud);
    void *done_ud;
};

static void connect_next(dapr__placement_t *p);

/* --- tables ------------------------------------------------------------------ */

static void rings_free(dapr__map_t *m)
{
    size_t it = 0;
    const char *k;
    size_t kl;
    void *v;
    while (dapr__map_next(m, &it, &k, &kl, &v)) {
        dapr__pring_free(v);
        dapr__free(v);
    }
    dapr__map_free(m);
}

static int install(dapr__placement_t *p, const Dapr__Proto__Placement__V1__PlacementTables *t)
{
    dapr__map_t m;
    dapr__map_init(&m);
    for (size_t i = 0; t && i < t->n_entries; i++) {
        const Dapr__Proto__Placement__V1__PlacementTable *tab = t->entries[i]->value;
        size_t n = tab ? tab->n_load_map : 0;
        dapr__pring_host_t *hs = dapr__calloc(n ? n : 1, sizeof(*hs));
        dapr__pring_t *r = dapr__malloc(sizeof(*r));
        int rc = hs && r ? 0 : DAPR_ENOMEM;
        for (size_t j = 0; rc == 0 && j < n; j++) {
            const Dapr__Proto__Placement__V1__Host *h = tab->load_map[j]->value;
            hs[j].name = tab->load_map[j]->key;
            hs[j].app_id = h ? h->id : "";
            hs[j].port = h ? h->port : 0;
        }
        if (rc == 0)
            rc = dapr__pring_build(r, hs, n, t->replication_factor);
        dapr__free(hs);
        const char *type = t->entries[i]->key;
        void *old = NULL;
        if (rc == 0 && (rc = dapr__map_put(&m, type, strlen(type), r, &old)) != 0)
            dapr__pring_free(r);
        if (rc != 0) {
            dapr__free(r);
            rings_free(&m);
            return rc;
        }
        if (old) {
            dapr__pring_free(old);
            dapr__free(old);
        }
    }
    rings_free(&p->rings);
    p->rings = m;
    p->have_table = true;
    return 0;
}

static void on_kick(uv_timer_t *t)
{
    dapr__placement_t *p = t->data;
    if (!p->have_table || p->locked)
        return;
    waiter_t *w = p->waiters;
    p->waiters = NULL;
    p->wtail = &p->waiters;
    while (w) {
        waiter_t *next = w->next;
        w->cb(false, w->ud);
        dapr__free(w);
        w = next;
    }
}

static void ready(dapr__placement_t *p)
{
    if (p->waiters && !p->closing)
        uv_timer_start(&p->kick, on_kick, 0, 0);
}

static void send_host(dapr__placement_t *p, int op, uint64_t version);

static void on_order(dapr__placement_t *p, const uint8_t *msg, size_t len)
{
    Dapr__Proto__Placement__V1__PlacementOrder *o =
        dapr__proto__placement__v1__placement_order__unpack(NULL, len, msg);
    if (!o) {
        DAPR_LOG(p->log, DAPR_LOG_WARN, SCOPE, "bad placement order; reconnecting");
        dapr__grpc_ccall_cancel(p->cc);
        return;
    }
    uint64_t v = o->version;
    if (!v && o->tables && o->tables->version)
        v = strtoull(o->tables->version, NULL, 10);
    int ack = 0;
    if (!strcmp(o->operation, "lock")) {
        p->locked = true;
        ack = DAPR__PROTO__PLACEMENT__V1__HOST_OPERATION__LOCK;
    } else if (!strcmp(o->operation, "update")) {
        if (p->have_table && v && v < p->version)
            DAPR_LOG(p->log, DAPR_LOG_WARN, SCOPE,
                     "ignoring placement tables version %" PRIu64 " older than %" PRIu64, v,
                     p->version);
        else if (install(p, o->tables) != 0)
            DAPR_LOG(p->log, DAPR_LOG_ERROR, SCOPE, "out of memory installing placement tables");
        else {
            p->version = v;
            DAPR_LOG(p->log, DAPR_LOG_INFO, SCOPE, "Placement tables updated, version: %" PRIu64,
                     v);
        }
        ack = DAPR__PROTO__PLACEMENT__V1__HOST_OPERATION__UPDATE;
    } else if (!strcmp(o->operation, "unlock")) {
        p->locked = false;
        ack = DAPR__PROTO__PLACEMENT__V1__HOST_OPERATION__UNLOCK;
        if (p->have_table) {
            ready(p);
            if (p->on_change)
                p->on_change(p->ud);
        }
    } else {
        DAPR_LOG(p->log, DAPR_LOG_WARN, SCOPE, "unknown placement operation '%s'; reconnecting",
                 o->operation);
        dapr__proto__placement__v1__placement_order__free_unpacked(o, NULL);
        dapr__grpc_ccall_cancel(p->cc);
        return;
    }
    dapr__proto__placement__v1__placement_order__free_unpacked(o, NULL);
    /* Dapr 1.17+: acknowledge each phase; placement starts the next phase
     * only when every host has (a 1.16 placement takes it as a report) */
    send_host(p, ack, v);
}

/* --- the stream -------------------------------------------------------------- */

static void send_report(dapr__placement_t *p)
{
    send_host(p, DAPR__PROTO__PLACEMENT__V1__HOST_OPERATION__REPORT, 0);
}

/* A Host message: a report (op REPORT) or an acknowledgement of `version`. */
static void send_host(dapr__placement_t *p, int op, uint64_t version)
{
    if (!p->cc)
        return;
    Dapr__Proto__Placement__V1__Host h = DAPR__PROTO__PLACEMENT__V1__HOST__INIT;
    h.operation = (Dapr__Proto__Placement__V1__HostOperation)op;
    if (op != DAPR__PROTO__PLACEMENT__V1__HOST_OPERATION__REPORT) {
        h._version_case = DAPR__PROTO__PLACEMENT__V1__HOST___VERSION_VERSION;
        h.version = version;
    }
    h.name = p->self;
    h.port = p->self_port;
    h.entities = p->types;
    h.n_entities = p->n_types;
    h.id = p->app_id;
    h.namespace_ = p->ns;
    h.api_level = 20;
    size_t n = dapr__proto__placement__v1__host__get_packed_size(&h);
    uint8_t *buf = dapr__malloc(n ? n : 1);
    if (!buf)
        return;
    dapr__proto__placement__v1__host__pack(&h, buf);
    dapr__grpc_ccall_send(p->cc, buf, n); /* EAGAIN: the next beat retries */
    dapr__free(buf);
}

static void on_timer(uv_timer_t *t)
{
    dapr__placement_t *p = t->data;
    if (p->cc)
        send_report(p);
    else
        connect_next(p);
}

static void c_headers(dapr__grpc_ccall_t *cc, const dapr__grpc_md_t *md, size_t n, void *ud)
{
    dapr__placement_t *p = ud;
    if (!p->connected)
        DAPR_LOG(p->log, DAPR_LOG_INFO, SCOPE, "Actor runtime connected to placement %s:%d",
                 p->hosts[p->cur], p->ports[p->cur]);
    p->connected = true;
}

static void c_message(dapr__grpc_ccall_t *cc, const uint8_t *msg, size_t len, void *ud)
{
    dapr__placement_t *p = ud;
    p->connected = true;
    on_order(p, msg, len);
}

static void chan_closed(void *ud)
{
    dapr__placement_t *p = ud;
    if (--p->open == 0 && p->closing) {
        void (*done)(void *) = p->done;
        void *dud = p->done_ud;
        dapr__free(p);
        if (done)
            done(dud);
    }
}

static void c_close(dapr__grpc_ccall_t *cc, int status, const char *message,
                    const dapr__grpc_md_t *trailers, size_t n, void *ud)
{
    dapr__placement_t *p = ud;
    p->cc = NULL;
    if (p->connected || !p->closing)
        DAPR_LOG(p->log, p->connected && !p->closing ? DAPR_LOG_WARN : DAPR_LOG_DEBUG, SCOPE,
                 "placement stream to %s:%d ended: status %d %s", p->hosts[p->cur],
                 p->ports[p->cur], status, message ? message : "");
    p->connected = false;
    /* Without the stream this table may be stale: placement may already
     * have given our actors to other hosts (it drops a host that stops
     * reporting). Lookups wait (when_ready) for the table of the next
     * stream rather than risk a second activation elsewhere. */
    if (p->have_table && !p->closing)
        p->locked = true;
    if (p->closing)
        return;
    /* the next address after the backoff; a fresh channel each time */
    p->cur = (p->cur + 1) % p->n_addrs;
    uv_timer_stop(&p->timer);
    uv_timer_start(&p->timer, on_timer, RETRY_MS, 0);
}

static void connect_next(dapr__placement_t *p)
{
    static const dapr__grpc_ccall_cbs_t cbs = {
        .on_headers = c_headers, .on_message = c_message, .on_close = c_close};
    if (p->ch) {
        p->open++;
        dapr__grpc_channel_close(p->ch, chan_closed, p);
        p->ch = NULL;
    }
    /* a new stream may reach a restarted placement whose versions start
     * over: only versions within one stream are compared */
    p->version = 0;
    int rc = dapr__grpc_channel_create(&p->ch, p->loop, p->hosts[p->cur], p->ports[p->cur], p->log);
    if (rc == 0)
        rc = dapr__grpc_call_start(p->ch, PATH, NULL, 0, 0, &cbs, p, &p->cc);
    if (rc != 0) {
        p->cc = NULL;
        p->cur = (p->cur + 1) % p->n_addrs;
        uv_timer_start(&p->timer, on_timer, RETRY_MS, 0);
        return;
    }
    send_report(p);
    uv_timer_start(&p->timer, on_timer, HEARTBEAT_MS, HEARTBEAT_MS);
}

/* --- API ---------------------------------------------------------------------- */

static int parse_addresses(dapr__placement_t *p, const char *list)
{
    const char *s = list;
    while (s && *s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n) {
            const char *colon = NULL;
            for (size_t i = 0; i < n; i++)
                if (s[i] == ':')
                    colon = s + i;
            if (!colon || colon == s || p->n_addrs == MAX_ADDRS)
                return DAPR_EINVAL;
            char port[8] = {0};
            size_t pl = (size_t)(s + n - colon - 1);
            if (!pl || pl >= sizeof(port))
                return DAPR_EINVAL;
            memcpy(port, colon + 1, pl);
            char *end;
            long v = strtol(port, &end, 10);
            if (*end || v <= 0 || v > 65535)
                return DAPR_EINVAL;
            const char *h = s;
            size_t hl = (size_t)(colon - s);
            if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
                h++, hl -= 2;
            if (!(p->hosts[p->n_addrs] = dapr__strndup(h, hl)))
                return DAPR_ENOMEM;
            p->ports[p->n_addrs++] = (int)v;
        }
        s = e ? e + 1 : NULL;
    }
    return p->n_addrs ? 0 : DAPR_EINVAL;
}

static void free_types(dapr__placement_t *p)
{
    for (size_t i = 0; i < p->n_types; i++)
        dapr__free(p->types[i]);
    dapr__free(p->types);
    p->types = NULL;
    p->n_types = 0;
}

int dapr__placement_set_types(dapr__placement_t *p, const char *const *types, size_t n)
{
    char **t = dapr__calloc(n ? n : 1, sizeof(char *));
    if (!t)
        return DAPR_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!(t[i] = dapr__strdup(types[i]))) {
            while (i--)
                dapr__free(t[i]);
            dapr__free(t);
            return DAPR_ENOMEM;
        }
    free_types(p);
    p->types = t;
    p->n_types = n;
    send_report(p);
    return DAPR_OK;
}

static void free_fields(dapr__placement_t *p)
{
    for (size_t i = 0; i < p->n_addrs; i++)
        dapr__free(p->hosts[i]);
    dapr__free(p->app_id);
    dapr__free(p->ns);
    dapr__free(p->self);
    free_types(p);
    rings_free(&p->rings);
}

int dapr__placement_start(dapr_runtime_t *rt, const dapr__placement_config_t *cfg,
                          dapr__placement_t **out)
{
    if (!rt || !cfg || !cfg->addresses || !cfg->self_addr || !out)
        return DAPR_EINVAL;
    dapr__placement_t *p = dapr__calloc(1, sizeof(*p));
    if (!p)
        return DAPR_ENOMEM;
    p->loop = rt->loop;
    p->log = &rt->log;
    p->on_change = cfg->on_change;
    p->ud = cfg->ud;
    p->wtail = &p->waiters;
    dapr__map_init(&p->rings);
    int rc = parse_addresses(p, cfg->addresses);
    if (rc == 0) {
        p->app_id = dapr__strdup(cfg->app_id ? cfg->app_id : "");
        p->ns = dapr__strdup(cfg->namespace_ ? cfg->namespace_ : "");
        p->self = dapr__strdup(cfg->self_addr);
        if (!p->app_id || !p->ns || !p->self)
            rc = DAPR_ENOMEM;
    }
    if (rc == 0)
        rc = dapr__placement_set_types(p, cfg->actor_types, cfg->n_actor_types);
    if (rc != 0) {
        free_fields(p);
        dapr__free(p);
        return rc;
    }
    const char *colon = strrchr(p->self, ':');
    p->self_port = colon ? strtoll(colon + 1, NULL, 10) : 0;
    uv_timer_init(p->loop, &p->timer);
    uv_timer_init(p->loop, &p->kick);
    p->timer.data = p->kick.data = p;
    p->open = 2;
    connect_next(p);
    *out = p;
    return DAPR_OK;
}

int dapr__placement_lookup(dapr__placement_t *p, const char *type, const char *id, char *addr,
                           size_t addrlen, bool *local)
{
    if (!p || !type || !id)
        return DAPR_EINVAL;
    if (!p->have_table || p->locked)
        return DAPR_EAGAIN;
    dapr__pring_t *r = dapr__map_get(&p->rings, type, strlen(type));
    const dapr__pring_host_t *h = r ? dapr__pring_get(r, id, strlen(id)) : NULL;
    if (!h)
        return DAPR_ENOTFOUND;
    if (addr) {
        size_t n = strlen(h->name);
        if (n >= addrlen)
            return DAPR_EINVAL;
        memcpy(addr, h->name, n + 1);
    }
    if (local)
        *local = !strcmp(h->name, p->self);
    return DAPR_OK;
}

int dapr__placement_when_ready(dapr__placement_t *p, const char *type,
                               void (*cb)(bool closed, void *ud), void *ud)
{
    if (!p || !cb)
        return DAPR_EINVAL;
    if (p->closing)
        return DAPR_ECLOSED;
    waiter_t *w = dapr__malloc(sizeof(*w));
    if (!w)
        return DAPR_ENOMEM;
    w->cb = cb;
    w->ud = ud;
    w->next = NULL;
    *p->wtail = w;
    p->wtail = &w->next;
    if (p->have_table && !p->locked)
        ready(p);
    return DAPR_OK;
}

bool dapr__placement_connected(const dapr__placement_t *p)
{
    return p && p->connected;
}

static void handle_closed(uv_handle_t *h)
{
    chan_closed(h->data);
}

void dapr__placement_close(dapr__placement_t *p, void (*done)(void *ud), void *ud)
{
    if (!p || p->closing)
        return;
    p->closing = true;
    p->done = done;
    p->done_ud = ud;
    if (p->cc)
        dapr__grpc_ccall_cancel(p->cc); /* c_close runs now */
    waiter_t *w = p->waiters;
    p->waiters = NULL;
    p->wtail = &p->waiters;
    while (w) {
        waiter_t *next = w->next;
        w->cb(true, w->ud);
        dapr__free(w);
        w = next;
    }
    free_fields(p);
    uv_close((uv_handle_t *)&p->timer, handle_closed);
    uv_close((uv_handle_t *)&p->kick, handle_closed);
    if (p->ch) {
        p->open++;
        dapr__grpc_channel_close(p->ch, chan_closed, p);
        p->ch = NULL;
    }
}
