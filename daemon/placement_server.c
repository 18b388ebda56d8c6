/* The placement service: see placement_server.h. */
#include "placement_server.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/map.h"
#include "dapr/proto/placement/v1/placement.pb-c.h"
#include "grpc/grpc.h"

#define SCOPE "dapr.placement"
#define PATH "/dapr.proto.placement.v1.Placement/ReportDaprStatus"
#define SWEEP_MS 250
#define MAX_ENTITIES 10000

typedef Dapr__Proto__Placement__V1__Host pb_host_t;
typedef Dapr__Proto__Placement__V1__PlacementOrder pb_order_t;
typedef Dapr__Proto__Placement__V1__PlacementTables pb_tables_t;
typedef Dapr__Proto__Placement__V1__PlacementTable pb_table_t;
typedef Dapr__Proto__Placement__V1__PlacementTables__EntriesEntry pb_entry_t;
typedef Dapr__Proto__Placement__V1__PlacementTable__LoadMapEntry pb_load_t;

typedef struct pstream {
    struct pstream *next, *prev;
    plc_server_t *srv;
    dapr__grpc_call_t *call;
    bool reported; /* a valid Host came in: a member of its namespace */
    char *name, *app_id, *ns;
    int64_t port;
    char **ent; /* sorted hosted types */
    size_t n_ent;
    uint64_t last_ms;
    /* the acknowledgement this stream owes in its namespace's round:
     * phase (PH_LOCK..PH_UNLOCK) of round version wait_v; 0 = none */
    int wait_phase;
    uint64_t wait_v;
} pstream_t;

/* A dissemination round: lock, update, unlock, each sent to every actor
 * host of the namespace and acknowledged by all of them (Host with
 * operation LOCK/UPDATE/UNLOCK and the version) before the next phase. */
enum { PH_NONE = 0, PH_LOCK = 1, PH_UPDATE = 2, PH_UNLOCK = 3 };

typedef struct nsinfo {
    char *name;
    uint64_t version; /* of the last round started */
    bool dirty;       /* membership changed since */
    int phase;        /* of the round in progress, PH_NONE when idle */
    bool sending;     /* a phase is being sent: no advancing from inside */
    uint64_t phase_ms;
    uint8_t *upd;     /* the round's update order */
    size_t ulen;
} nsinfo_t;

struct plc_server {
    plc_config_t cfg;
    dapr__grpc_server_t *grpc;
    dapr__grpc_method_t methods[1];
    pstream_t *streams; /* in join order */
    dapr__map_t ns;     /* namespace → nsinfo_t* */
    uv_timer_t debounce, sweep;
    int open_handles;
    bool stopping;
    void (*done)(void *ud);
    void *done_ud;
};

/* --- members -------------------------------------------------------------- */

static void free_fields(pstream_t *st)
{
    dapr__free(st->name);
    dapr__free(st->app_id);
    dapr__free(st->ns);
    for (size_t i = 0; i < st->n_ent; i++)
        dapr__free(st->ent[i]);
    dapr__free(st->ent);
    st->name = st->app_id = st->ns = NULL;
    st->ent = NULL;
    st->n_ent = 0;
}

static nsinfo_t *ns_get(plc_server_t *s, const char *ns)
{
    nsinfo_t *n = dapr__map_get(&s->ns, ns, strlen(ns));
    if (n)
        return n;
    n = dapr__calloc(1, sizeof(*n));
    if (n && (!(n->name = dapr__strdup(ns)) ||
              dapr__map_put(&s->ns, ns, strlen(ns), n, NULL) != 0)) {
        dapr__free(n->name);
        dapr__free(n);
        n = NULL;
    }
    return n;
}

static void on_debounce(uv_timer_t *t);
static void round_check(plc_server_t *s, nsinfo_t *n);

static void arm_debounce(plc_server_t *s)
{
    if (!s->stopping && !uv_is_active((uv_handle_t *)&s->debounce))
        uv_timer_start(&s->debounce, on_debounce, s->cfg.debounce_ms, 0);
}

static void mark_dirty(plc_server_t *s, const char *ns)
{
    nsinfo_t *n = ns_get(s, ns);
    if (!n)
        return; /* OOM: the next change retries */
    n->dirty = true;
    if (n->phase == PH_NONE) /* else the round in progress starts the next */
        arm_debounce(s);
}

/* Remove a stream from the membership and finish its call. */
static void stream_end(pstream_t *st, int status, const char *msg)
{
    plc_server_t *s = st->srv;
    if (st->reported) {
        DAPR_LOG(s->cfg.log, DAPR_LOG_INFO, SCOPE, "Host %s (app %s, namespace '%s') left: %s",
                 st->name, st->app_id, st->ns, msg ? msg : "stream closed");
        if (st->n_ent)
            mark_dirty(s, st->ns);
    }
    if (st->prev)
        st->prev->next = st->next;
    else
        s->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    dapr__grpc_call_set_user(st->call, NULL);
    dapr__grpc_call_finish(st->call, status, msg, NULL, 0);
    /* a round waiting for this stream's acknowledgement goes on without it */
    nsinfo_t *n = st->wait_phase && st->ns ? dapr__map_get(&s->ns, st->ns, strlen(st->ns)) : NULL;
    free_fields(st);
    dapr__free(st);
    if (n)
        round_check(s, n);
}

/* --- tables ----------------------------------------------------------------- */

/* The member with this name that joined last (Dapr keys hosts by name). */
static bool is_current(const pstream_t *st)
{
    for (const pstream_t *o = st->next; o; o = o->next)
        if (o->reported && !strcmp(o->ns, st->ns) && !strcmp(o->name, st->name))
            return false;
    return true;
}

typedef struct enc {
    pb_entry_t **entries;
    size_t n;
    pb_host_t *hosts; /* one per member, shared by the load maps */
    size_t n_hosts;
} enc_t;

static void enc_free(enc_t *e)
{
    for (size_t i = 0; i < e->n; i++) {
        if (!e->entries[i])
            continue;
        pb_table_t *t = e->entries[i]->value;
        if (t) {
            for (size_t j = 0; j < t->n_load_map; j++)
                dapr__free(t->load_map[j]);
            dapr__free(t->load_map);
            dapr__free(t);
        }
        dapr__free(e->entries[i]);
    }
    dapr__free(e->entries);
    dapr__free(e->hosts);
}

static pb_entry_t *enc_entry(enc_t *e, const char *type, size_t cap)
{
    for (size_t i = 0; i < e->n; i++)
        if (!strcmp(e->entries[i]->key, type))
            return e->entries[i];
    if (e->n == cap)
        return NULL;
    pb_entry_t *en = dapr__malloc(sizeof(*en));
    pb_table_t *t = dapr__malloc(sizeof(*t));
    pb_load_t **lm = dapr__calloc(e->n_hosts ? e->n_hosts : 1, sizeof(*lm));
    if (!en || !t || !lm) {
        dapr__free(en);
        dapr__free(t);
        dapr__free(lm);
        return NULL;
    }
    *en = (pb_entry_t)DAPR__PROTO__PLACEMENT__V1__PLACEMENT_TABLES__ENTRIES_ENTRY__INIT;
    *t = (pb_table_t)DAPR__PROTO__PLACEMENT__V1__PLACEMENT_TABLE__INIT;
    en->key = (char *)type;
    en->value = t;
    t->load_map = lm;
    e->entries[e->n++] = en;
    return en;
}

/* Serialize the "update" order for namespace ns at version v. */
static uint8_t *encode_update(plc_server_t *s, const char *ns, uint64_t v, size_t *len)
{
    enc_t e = {0};
    size_t members = 0, types = 0;
    for (pstream_t *st = s->streams; st; st = st->next)
        if (st->reported && !strcmp(st->ns, ns) && st->n_ent && is_current(st)) {
            members++;
            types += st->n_ent;
        }
    e.entries = dapr__calloc(types ? types : 1, sizeof(*e.entries));
    e.hosts = dapr__calloc(members ? members : 1, sizeof(*e.hosts));
    uint8_t *out = NULL;
    if (!e.entries || !e.hosts)
        goto done;
    e.n_hosts = members;
    size_t k = 0;
    for (pstream_t *st = s->streams; st; st = st->next) {
        if (!st->reported || strcmp(st->ns, ns) || !st->n_ent || !is_current(st))
            continue;
        pb_host_t *h = &e.hosts[k++];
        *h = (pb_host_t)DAPR__PROTO__PLACEMENT__V1__HOST__INIT;
        h->name = st->name;
        h->id = st->app_id;
        h->port = st->port;
        h->namespace_ = st->ns;
        h->entities = st->ent;
        h->n_entities = st->n_ent;
        h->api_level = 20;
        for (size_t i = 0; i < st->n_ent; i++) {
            pb_entry_t *en = enc_entry(&e, st->ent[i], types);
            pb_load_t *lm = en ? dapr__malloc(sizeof(*lm)) : NULL;
            if (!lm)
                goto done;
            *lm = (pb_load_t)DAPR__PROTO__PLACEMENT__V1__PLACEMENT_TABLE__LOAD_MAP_ENTRY__INIT;
            lm->key = st->name;
            lm->value = h;
            en->value->load_map[en->value->n_load_map++] = lm;
        }
    }
    char vbuf[24];
    snprintf(vbuf, sizeof(vbuf), "%" PRIu64, v);
    pb_tables_t tables = DAPR__PROTO__PLACEMENT__V1__PLACEMENT_TABLES__INIT;
    tables.entries = e.entries;
    tables.n_entries = e.n;
    tables.version = vbuf;
    tables.api_level = 20;
    tables.replication_factor = s->cfg.replication_factor;
    pb_order_t o = DAPR__PROTO__PLACEMENT__V1__PLACEMENT_ORDER__INIT;
    o.operation = "update";
    o.version = v;
    o.tables = &tables;
    *len = protobuf_c_message_get_packed_size(&o.base);
    out = dapr__malloc(*len ? *len : 1);
    if (out)
        protobuf_c_message_pack(&o.base, out);
done:
    enc_free(&e);
    return out;
}

static size_t encode_op(const char *op, uint64_t v, uint8_t *buf)
{
    pb_order_t o = DAPR__PROTO__PLACEMENT__V1__PLACEMENT_ORDER__INIT;
    o.operation = (char *)op;
    o.version = v;
    return protobuf_c_message_pack(&o.base, buf);
}

/* The current tables, lock → update → unlock at once, to one stream: an
 * actor client (no hosted types), which takes part in no round. */
static void push_once(plc_server_t *s, const char *ns, uint64_t v, pstream_t *st)
{
    size_t ulen = 0;
    uint8_t *upd = encode_update(s, ns, v, &ulen);
    if (!upd) {
        DAPR_LOG(s->cfg.log, DAPR_LOG_ERROR, SCOPE, "out of memory building tables");
        return;
    }
    uint8_t lock[32], unlock[32];
    size_t llen = encode_op("lock", v, lock), ulk = encode_op("unlock", v, unlock);
    if (dapr__grpc_call_send(st->call, lock, llen) != 0 ||
        dapr__grpc_call_send(st->call, upd, ulen) != 0 ||
        dapr__grpc_call_send(st->call, unlock, ulk) != 0)
        stream_end(st, 8 /* RESOURCE_EXHAUSTED */, "placement tables not consumed");
    dapr__free(upd);
}

/* Send phase n->phase of the round to every stream of the namespace; actor
 * hosts then owe an acknowledgement. Streams whose send queue is full are
 * dropped (they re-join and get a new round). */
static void round_send(plc_server_t *s, nsinfo_t *n)
{
    uint8_t op[32];
    const uint8_t *b = op;
    size_t len;
    if (n->phase == PH_UPDATE) {
        b = n->upd;
        len = n->ulen;
    } else {
        len = encode_op(n->phase == PH_LOCK ? "lock" : "unlock", n->version, op);
    }
    n->phase_ms = uv_now(s->cfg.loop);
    n->sending = true;
    pstream_t *next;
    for (pstream_t *st = s->streams; st; st = next) {
        next = st->next;
        if (!st->reported || strcmp(st->ns, n->name))
            continue;
        if (dapr__grpc_call_send(st->call, b, len) != 0) {
            stream_end(st, 8 /* RESOURCE_EXHAUSTED */, "placement tables not consumed");
            continue;
        }
        if (st->n_ent) {
            st->wait_phase = n->phase;
            st->wait_v = n->version;
        }
    }
    n->sending = false;
    round_check(s, n);
}

/* Advance the round once no actor host owes the current phase's ack. */
static void round_check(plc_server_t *s, nsinfo_t *n)
{
    if (n->phase == PH_NONE || n->sending || s->stopping)
        return;
    for (pstream_t *st = s->streams; st; st = st->next)
        if (st->wait_phase == n->phase && st->wait_v == n->version && !strcmp(st->ns, n->name))
            return;
    if (n->phase < PH_UNLOCK) {
        n->phase++;
        round_send(s, n);
        return;
    }
    n->phase = PH_NONE;
    dapr__free(n->upd);
    n->upd = NULL;
    DAPR_LOG(s->cfg.log, DAPR_LOG_DEBUG, SCOPE, "Tables version %" PRIu64
             " of namespace '%s' acknowledged by every host", n->version, n->name);
    if (n->dirty)
        arm_debounce(s);
}

static void round_start(plc_server_t *s, nsinfo_t *n)
{
    n->dirty = false;
    n->version++;
    size_t members = 0;
    for (pstream_t *st = s->streams; st; st = st->next)
        members += st->reported && !strcmp(st->ns, n->name) && st->n_ent && is_current(st);
    if (!(n->upd = encode_update(s, n->name, n->version, &n->ulen))) {
        DAPR_LOG(s->cfg.log, DAPR_LOG_ERROR, SCOPE, "out of memory building tables");
        n->dirty = true;
        arm_debounce(s);
        return;
    }
    DAPR_LOG(s->cfg.log, DAPR_LOG_INFO, SCOPE,
             "Disseminating tables version %" PRIu64 " to namespace '%s' (%zu actor hosts)",
             n->version, n->name, members);
    n->phase = PH_LOCK;
    round_send(s, n);
}

static void on_debounce(uv_timer_t *t)
{
    plc_server_t *s = t->data;
    size_t it = 0;
    const char *key;
    size_t klen;
    void *val;
    while (dapr__map_next(&s->ns, &it, &key, &klen, &val)) {
        nsinfo_t *n = val;
        if (n->dirty && n->phase == PH_NONE)
            round_start(s, n);
    }
}

/* An acknowledgement (Host with operation LOCK, UPDATE or UNLOCK). */
static void on_ack(plc_server_t *s, pstream_t *st, const pb_host_t *h)
{
    int ph = h->operation == DAPR__PROTO__PLACEMENT__V1__HOST_OPERATION__LOCK     ? PH_LOCK
             : h->operation == DAPR__PROTO__PLACEMENT__V1__HOST_OPERATION__UPDATE ? PH_UPDATE
             : h->operation == DAPR__PROTO__PLACEMENT__V1__HOST_OPERATION__UNLOCK ? PH_UNLOCK
                                                                                  : PH_NONE;
    if (!st->wait_phase || ph != st->wait_phase || h->version != st->wait_v)
        return; /* stale or unexpected: liveness only */
    st->wait_phase = PH_NONE;
    nsinfo_t *n = dapr__map_get(&s->ns, st->ns, strlen(st->ns));
    if (n)
        round_check(s, n);
}

/* --- reports ---------------------------------------------------------------- */

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Copy the report into st; *changed when the member's table row differs. */
static int take_report(pstream_t *st, const pb_host_t *h, bool *changed)
{
    pstream_t n = {0};
    n.name = dapr__strdup(h->name);
    n.app_id = dapr__strdup(h->id);
    n.ns = dapr__strdup(h->namespace_);
    n.ent = dapr__calloc(h->n_entities ? h->n_entities : 1, sizeof(char *));
    n.port = h->port;
    if (!n.name || !n.app_id || !n.ns || !n.ent)
        goto oom;
    for (size_t i = 0; i < h->n_entities; i++) {
        if (!*h->entities[i])
            continue;
        bool dup = false;
        for (size_t j = 0; j < n.n_ent && !dup; j++)
            dup = !strcmp(n.ent[j], h->entities[i]);
        if (dup)
            continue;
        if (!(n.ent[n.n_ent] = dapr__strdup(h->entities[i])))
            goto oom;
        n.n_ent++;
    }
    qsort(n.ent, n.n_ent, sizeof(char *), str_cmp);
    bool same = st->reported && !strcmp(st->name, n.name) && !strcmp(st->app_id, n.app_id) &&
                !strcmp(st->ns, n.ns) && st->port == n.port && st->n_ent == n.n_ent;
    for (size_t i = 0; same && i < n.n_ent; i++)
        same = !strcmp(st->ent[i], n.ent[i]);
    *changed = !same;
    free_fields(st);
    st->name = n.name;
    st->app_id = n.app_id;
    st->ns = n.ns;
    st->port = n.port;
    st->ent = n.ent;
    st->n_ent = n.n_ent;
    return 0;
oom:
    free_fields(&n);
    return -1;
}

static void on_message(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    pstream_t *st = dapr__grpc_call_user(call);
    if (!st)
        return;
    plc_server_t *s = st->srv;
    pb_host_t *h = NULL;
    if (dapr__grpc_pb_check(&dapr__proto__placement__v1__host__descriptor, msg, len) == 0)
        h = dapr__proto__placement__v1__host__unpack(NULL, len, msg);
    if (!h || !*h->name || h->n_entities > MAX_ENTITIES) {
        if (h)
            dapr__proto__placement__v1__host__free_unpacked(h, NULL);
        stream_end(st, 3 /* INVALID_ARGUMENT */, "invalid host report");
        return;
    }
    st->last_ms = uv_now(s->cfg.loop);
    if (h->operation > DAPR__PROTO__PLACEMENT__V1__HOST_OPERATION__REPORT) {
        if (st->reported)
            on_ack(s, st, h);
        dapr__proto__placement__v1__host__free_unpacked(h, NULL);
        return;
    }
    char *old_ns = st->reported && st->n_ent ? dapr__strdup(st->ns) : NULL;
    bool was = st->reported, changed = false;
    if (take_report(st, h, &changed) != 0) {
        dapr__free(old_ns);
        dapr__proto__placement__v1__host__free_unpacked(h, NULL);
        stream_end(st, 8, "out of memory");
        return;
    }
    dapr__proto__placement__v1__host__free_unpacked(h, NULL);
    st->reported = true;
    if (!was)
        DAPR_LOG(s->cfg.log, DAPR_LOG_INFO, SCOPE,
                 "Host %s (app %s, namespace '%s') joined with %zu actor types", st->name,
                 st->app_id, st->ns, st->n_ent);
    if (changed) {
        if (old_ns)
            mark_dirty(s, old_ns);
        if (st->n_ent)
            mark_dirty(s, st->ns);
        else if (!was) {
            /* an actor client: the current tables, once */
            nsinfo_t *n = dapr__map_get(&s->ns, st->ns, strlen(st->ns));
            if (n && n->version)
                push_once(s, st->ns, n->version, st);
        }
    }
    dapr__free(old_ns);
}

static pstream_t *stream_new(dapr__grpc_call_t *call)
{
    pstream_t *st = dapr__grpc_call_user(call);
    if (st)
        return st;
    plc_server_t *s = dapr__grpc_call_server_ud(call);
    st = dapr__calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->srv = s;
    st->call = call;
    st->last_ms = uv_now(s->cfg.loop);
    /* append: join order decides which of two same-name hosts counts */
    pstream_t **pp = &s->streams, *prev = NULL;
    while (*pp) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    st->prev = prev;
    *pp = st;
    dapr__grpc_call_set_user(call, st);
    return st;
}

static void on_start(dapr__grpc_call_t *call)
{
    plc_server_t *s = dapr__grpc_call_server_ud(call);
    if (s->stopping) {
        dapr__grpc_call_finish(call, 14, "placement shutting down", NULL, 0);
        return;
    }
    if (!stream_new(call)) {
        dapr__grpc_call_finish(call, 8, "out of memory", NULL, 0);
        return;
    }
    /* send the headers now: clients see the stream as established */
    dapr__grpc_call_send_headers(call);
}

static void on_half_close(dapr__grpc_call_t *call)
{
    pstream_t *st = dapr__grpc_call_user(call);
    if (st)
        stream_end(st, 0, NULL);
}

static void on_cancel(dapr__grpc_call_t *call)
{
    pstream_t *st = dapr__grpc_call_user(call);
    if (st)
        stream_end(st, 1, "stream cancelled");
}

static void on_sweep(uv_timer_t *t)
{
    plc_server_t *s = t->data;
    uint64_t now = uv_now(s->cfg.loop);
    pstream_t *next;
    for (pstream_t *st = s->streams; st; st = next) {
        next = st->next;
        if (now - st->last_ms > s->cfg.host_timeout_ms)
            stream_end(st, 4 /* DEADLINE_EXCEEDED */, "host stopped reporting");
    }
    /* hosts that do not acknowledge a phase in time are dropped */
    size_t it = 0;
    const char *key;
    size_t klen;
    void *val;
    while (dapr__map_next(&s->ns, &it, &key, &klen, &val)) {
        nsinfo_t *n = val;
        if (n->phase == PH_NONE || now - n->phase_ms <= s->cfg.ack_timeout_ms)
            continue;
        n->sending = true; /* advance once, after the loop */
        for (pstream_t *st = s->streams; st; st = next) {
            next = st->next;
            if (st->wait_phase == n->phase && st->wait_v == n->version &&
                !strcmp(st->ns, n->name))
                stream_end(st, 4 /* DEADLINE_EXCEEDED */,
                           "placement tables not acknowledged in time");
        }
        n->sending = false;
        round_check(s, n);
    }
}

/* --- lifecycle -------------------------------------------------------------- */

int plc_server_create(plc_server_t **out, const plc_config_t *cfg)
{
    plc_server_t *s = dapr__calloc(1, sizeof(*s));
    if (!s)
        return DAPR_ENOMEM;
    s->cfg = *cfg;
    if (s->cfg.replication_factor <= 0)
        s->cfg.replication_factor = 100;
    if (!s->cfg.host_timeout_ms)
        s->cfg.host_timeout_ms = 3000;
    if (!s->cfg.debounce_ms)
        s->cfg.debounce_ms = 100;
    if (!s->cfg.ack_timeout_ms)
        s->cfg.ack_timeout_ms = 8000;
    dapr__map_init(&s->ns);
    s->methods[0] = (dapr__grpc_method_t){
        .path = PATH,
        .kind = DAPR__GRPC_BIDI,
        .on_start = on_start,
        .on_message = on_message,
        .on_half_close = on_half_close,
        .on_cancel = on_cancel,
    };
    dapr__grpc_server_config_t gc = {
        .loop = cfg->loop,
        .log = cfg->log,
        .methods = s->methods,
        .n_methods = 1,
        .ud = s,
        .shutdown_grace_ms = 1000,
    };
    int rc = dapr__grpc_server_create(&s->grpc, &gc);
    if (rc != 0) {
        dapr__free(s);
        return rc;
    }
    uv_timer_init(cfg->loop, &s->debounce);
    uv_timer_init(cfg->loop, &s->sweep);
    s->debounce.data = s->sweep.data = s;
    uv_timer_start(&s->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    *out = s;
    return 0;
}

int plc_server_listen(plc_server_t *s, const char *addr, int port, int *bound)
{
    return dapr__grpc_server_listen(s->grpc, addr, port, bound);
}

static void maybe_done(plc_server_t *s)
{
    if (--s->open_handles > 0)
        return;
    size_t it = 0;
    const char *k;
    size_t kl;
    void *v;
    while (dapr__map_next(&s->ns, &it, &k, &kl, &v)) {
        nsinfo_t *n = v;
        dapr__free(n->upd);
        dapr__free(n->name);
        dapr__free(n);
    }
    dapr__map_free(&s->ns);
    void (*done)(void *) = s->done;
    void *ud = s->done_ud;
    dapr__free(s);
    if (done)
        done(ud);
}

static void handle_closed(uv_handle_t *h)
{
    maybe_done(h->data);
}

static void grpc_done(void *ud)
{
    plc_server_t *s = ud;
    dapr__grpc_server_free(s->grpc);
    maybe_done(s);
}

void plc_server_shutdown(plc_server_t *s, void (*done)(void *ud), void *ud)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->done = done;
    s->done_ud = ud;
    s->open_handles = 3;
    while (s->streams)
        stream_end(s->streams, 14 /* UNAVAILABLE */, "placement shutting down");
    uv_close((uv_handle_t *)&s->debounce, handle_closed);
    uv_close((uv_handle_t *)&s->sweep, handle_closed);
    dapr__grpc_server_shutdown(s->grpc, grpc_done, s);
}
