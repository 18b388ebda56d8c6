/* Writes the seed corpus of fuzz_pb (see fuzz_pb.c for the input format):
 *   gen_pb_corpus <dir>
 * Hand-made sequences of served calls (state flows with ETags, first-write,
 * TTL, transactions, bulk, query, metadata, errors), plus one file per input
 * message of both services with every field set (for the unpack-only mode,
 * sel bit 7). Built from our generated protobuf-c code, so it stays in step
 * with proto/. */
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dapr/proto/runtime/v1/dapr.pb-c.h"
#include "durabletask/orchestrator_service.pb-c.h"

typedef Dapr__Proto__Common__V1__StateItem item_t;
typedef Dapr__Proto__Common__V1__Etag etag_t;
typedef Dapr__Proto__Common__V1__StateOptions opts_t;

/* fuzz_pb's served table order */
enum { GET, BULK_GET, SAVE, DEL, BULK_DEL, TX, QUERY, GET_MD, SET_MD, SHUTDOWN };

static const char *dir;
static FILE *f;

static void open_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
}

static void raw(unsigned sel, const void *p, size_t n)
{
    if (n > 0xffff)
        abort();
    fputc((int)sel, f);
    fputc((int)(n >> 8), f);
    fputc((int)(n & 0xff), f);
    fwrite(p, 1, n, f);
}

static void rec(unsigned sel, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(n ? n : 1);
    protobuf_c_message_pack(m, b);
    raw(sel, b, n);
    free(b);
}

static void done(void)
{
    fclose(f);
    f = NULL;
}

/* ---- builders; their pieces live in a static arena (nothing to free) ---- */

static _Alignas(16) uint8_t arena[1 << 16];
static size_t arena_used;

static void *zalloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (arena_used + n > sizeof(arena))
        abort();
    void *p = arena + arena_used;
    arena_used += n;
    return p;
}

static item_t *item(const char *key, const char *value, const char *etag, int concurrency,
                    const char *mdk, const char *mdv)
{
    item_t *it = zalloc(sizeof(*it));
    dapr__proto__common__v1__state_item__init(it);
    it->key = (char *)key;
    it->value.data = (uint8_t *)value;
    it->value.len = strlen(value);
    if (etag) {
        it->etag = zalloc(sizeof(etag_t));
        dapr__proto__common__v1__etag__init(it->etag);
        it->etag->value = (char *)etag;
    }
    if (concurrency) {
        it->options = zalloc(sizeof(opts_t));
        dapr__proto__common__v1__state_options__init(it->options);
        it->options->concurrency = concurrency;
        it->options->consistency = 2;
    }
    if (mdk) {
        Dapr__Proto__Common__V1__StateItem__MetadataEntry *e = zalloc(sizeof(*e));
        dapr__proto__common__v1__state_item__metadata_entry__init(e);
        e->key = (char *)mdk;
        e->value = (char *)mdv;
        it->metadata = zalloc(sizeof(*it->metadata));
        it->metadata[0] = e;
        it->n_metadata = 1;
    }
    return it;
}

static void save(const char *store, item_t **items, size_t n)
{
    Dapr__Proto__Runtime__V1__SaveStateRequest r = DAPR__PROTO__RUNTIME__V1__SAVE_STATE_REQUEST__INIT;
    r.store_name = (char *)store;
    r.states = items;
    r.n_states = n;
    rec(SAVE, &r.base);
}

static void save1(const char *key, const char *value, const char *etag, int conc)
{
    item_t *it = item(key, value, etag, conc, NULL, NULL);
    save("statestore", &it, 1);
}

static void get(const char *store, const char *key)
{
    Dapr__Proto__Runtime__V1__GetStateRequest r = DAPR__PROTO__RUNTIME__V1__GET_STATE_REQUEST__INIT;
    r.store_name = (char *)store;
    r.key = (char *)key;
    r.consistency = 1;
    rec(GET, &r.base);
}

static void del(const char *key, const char *etag, int conc)
{
    Dapr__Proto__Runtime__V1__DeleteStateRequest r =
        DAPR__PROTO__RUNTIME__V1__DELETE_STATE_REQUEST__INIT;
    r.store_name = "statestore";
    r.key = (char *)key;
    etag_t e = DAPR__PROTO__COMMON__V1__ETAG__INIT;
    opts_t o = DAPR__PROTO__COMMON__V1__STATE_OPTIONS__INIT;
    if (etag) {
        e.value = (char *)etag;
        r.etag = &e;
    }
    if (conc) {
        o.concurrency = conc;
        r.options = &o;
    }
    rec(DEL, &r.base);
}

static void set_md(const char *k, const char *v)
{
    Dapr__Proto__Runtime__V1__SetMetadataRequest r =
        DAPR__PROTO__RUNTIME__V1__SET_METADATA_REQUEST__INIT;
    r.key = (char *)k;
    r.value = (char *)v;
    rec(SET_MD, &r.base);
}

static void tx(const char *store, const char **kinds, item_t **items, size_t n, const char *mdk,
               const char *mdv)
{
    Dapr__Proto__Runtime__V1__ExecuteStateTransactionRequest r =
        DAPR__PROTO__RUNTIME__V1__EXECUTE_STATE_TRANSACTION_REQUEST__INIT;
    r.storename = (char *)store;
    Dapr__Proto__Runtime__V1__TransactionalStateOperation ops[8], *op[8];
    for (size_t i = 0; i < n; i++) {
        dapr__proto__runtime__v1__transactional_state_operation__init(&ops[i]);
        ops[i].operationtype = (char *)kinds[i];
        ops[i].request = items[i];
        op[i] = &ops[i];
    }
    r.operations = op;
    r.n_operations = n;
    Dapr__Proto__Runtime__V1__ExecuteStateTransactionRequest__MetadataEntry e;
    Dapr__Proto__Runtime__V1__ExecuteStateTransactionRequest__MetadataEntry *ep = &e;
    if (mdk) {
        dapr__proto__runtime__v1__execute_state_transaction_request__metadata_entry__init(&e);
        e.key = (char *)mdk;
        e.value = (char *)mdv;
        r.metadata = &ep;
        r.n_metadata = 1;
    }
    rec(TX, &r.base);
}

/* ---- every field set, from the descriptors alone -------------------------- */

typedef struct wbuf {
    uint8_t p[8192];
    size_t n;
} wbuf_t;

static void put(wbuf_t *b, const void *p, size_t n)
{
    if (b->n + n > sizeof(b->p))
        abort();
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void varint(wbuf_t *b, uint64_t v)
{
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            c |= 0x80;
        put(b, &c, 1);
    } while (v);
}

static void fill(wbuf_t *b, const ProtobufCMessageDescriptor *d, int depth)
{
    unsigned seen_oneof[64]; /* quantifier offsets of the oneofs already set */
    size_t n_seen = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            /* only the first member of each oneof */
            bool dup = false;
            for (size_t k = 0; k < n_seen; k++)
                if (seen_oneof[k] == fd->quantifier_offset)
                    dup = true;
            if (dup)
                continue;
            if (n_seen < 64)
                seen_oneof[n_seen++] = fd->quantifier_offset;
        }
        uint64_t id = fd->id;
        switch (fd->type) {
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_BOOL:
            varint(b, id << 3);
            varint(b, 1);
            break;
        case PROTOBUF_C_TYPE_ENUM: {
            const ProtobufCEnumDescriptor *e = fd->descriptor;
            varint(b, id << 3);
            varint(b, (uint64_t)(int64_t)e->values[e->n_values > 1 ? 1 : 0].value);
            break;
        }
        case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SINT64:
            varint(b, id << 3);
            varint(b, 2);
            break;
        case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_FLOAT:
            varint(b, id << 3 | 5);
            put(b, "\x01\x00\x00\x00", 4);
            break;
        case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_DOUBLE:
            varint(b, id << 3 | 1);
            put(b, "\x01\x00\x00\x00\x00\x00\x00\x00", 8);
            break;
        case PROTOBUF_C_TYPE_STRING:
            varint(b, id << 3 | 2);
            varint(b, strlen(fd->name));
            put(b, fd->name, strlen(fd->name));
            break;
        case PROTOBUF_C_TYPE_BYTES:
            varint(b, id << 3 | 2);
            varint(b, 3);
            put(b, "\x00\xff\x7b", 3);
            break;
        case PROTOBUF_C_TYPE_MESSAGE: {
            wbuf_t *sub = calloc(1, sizeof(*sub));
            if (depth < 4)
                fill(sub, fd->descriptor, depth + 1);
            varint(b, id << 3 | 2);
            varint(b, sub->n);
            put(b, sub->p, sub->n);
            free(sub);
            break;
        }
        }
    }
}

static void full_messages(const ProtobufCServiceDescriptor *svc, unsigned *sel)
{
    for (unsigned i = 0; i < svc->n_methods; i++, (*sel)++) {
        const ProtobufCMessageDescriptor *d = svc->methods[i].input;
        wbuf_t *b = calloc(1, sizeof(*b));
        fill(b, d, 0);
        ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, b->n, b->p);
        if (!m) {
            fprintf(stderr, "generated %s does not unpack\n", d->name);
            exit(1);
        }
        protobuf_c_message_free_unpacked(m, NULL);
        char name[160];
        snprintf(name, sizeof(name), "all_%s", svc->methods[i].name);
        open_file(name);
        raw(0x80 | *sel, b->p, b->n);
        done();
        free(b);
    }
}

int main(int argc, char **argv)
{
    dir = argc > 1 ? argv[1] : ".";

    open_file("get_state");
    get("statestore", "k");
    done();

    open_file("save_get_bulk");
    {
        item_t *its[] = {item("k", "\"v\"", NULL, 0, "ttlInSeconds", "100"),
                         item("j", "{\"a\":1}", NULL, 0, "contentType", "application/json")};
        save("statestore", its, 2);
        get("statestore", "k");
        Dapr__Proto__Runtime__V1__GetBulkStateRequest r =
            DAPR__PROTO__RUNTIME__V1__GET_BULK_STATE_REQUEST__INIT;
        char *keys[] = {"k", "missing", "j"};
        r.store_name = "statestore";
        r.keys = keys;
        r.n_keys = 3;
        r.parallelism = 2;
        rec(BULK_GET, &r.base);
    }
    done();

    open_file("etags");
    save1("k", "v1", NULL, 0);
    save1("k", "v2", "1", 0);   /* matches */
    save1("k", "v3", "1", 0);   /* stale */
    save1("k", "v4", "abc", 0); /* invalid */
    save1("k", "v5", "", 0);    /* empty: none */
    del("k", "9", 0);
    del("k", "3", 0);
    get("statestore", "k");
    done();

    open_file("first_write");
    save1("fw", "1", NULL, 1);
    save1("fw", "2", NULL, 1);
    save1("fw", "3", "1", 1);
    del("fw", NULL, 1);
    del("fw", "2", 2);
    done();

    open_file("bulk_delete");
    {
        item_t *its[] = {item("a", "1", NULL, 0, NULL, NULL), item("b", "2", NULL, 0, NULL, NULL)};
        save("statestore", its, 2);
        Dapr__Proto__Runtime__V1__DeleteBulkStateRequest r =
            DAPR__PROTO__RUNTIME__V1__DELETE_BULK_STATE_REQUEST__INIT;
        item_t *d[] = {item("a", "", "1", 0, NULL, NULL), item("b", "", NULL, 0, NULL, NULL)};
        r.store_name = "statestore";
        r.states = d;
        r.n_states = 2;
        rec(BULK_DEL, &r.base);
        item_t *d2[] = {item("a", "", "7", 0, NULL, NULL)};
        r.states = d2;
        r.n_states = 1;
        rec(BULK_DEL, &r.base);
    }
    done();

    open_file("transactions");
    {
        save1("y", "old", NULL, 0);
        const char *k1[] = {"upsert", "delete", "upsert"};
        item_t *i1[] = {item("x", "1", NULL, 0, "ttlInSeconds", "60"),
                        item("y", "", "1", 0, NULL, NULL), item("z", "3", NULL, 1, NULL, NULL)};
        tx("statestore", k1, i1, 3, "partitionKey", "p");
        const char *k2[] = {"upsert", "merge"};
        item_t *i2[] = {item("x", "2", "2", 0, NULL, NULL), item("q", "", NULL, 0, NULL, NULL)};
        tx("statestore", k2, i2, 2, NULL, NULL);
        const char *k3[] = {"delete"};
        item_t *i3[] = {NULL};
        tx("statestore", k3, i3, 1, NULL, NULL);
        tx("nosuchstore", k1, i1, 1, NULL, NULL);
        get("statestore", "x");
    }
    done();

    open_file("query_metadata_shutdown");
    {
        Dapr__Proto__Runtime__V1__QueryStateRequest q =
            DAPR__PROTO__RUNTIME__V1__QUERY_STATE_REQUEST__INIT;
        q.store_name = "statestore";
        q.query = "{\"filter\":{\"EQ\":{\"state\":\"CA\"}},\"page\":{\"limit\":2}}";
        rec(QUERY, &q.base);
        q.store_name = "nosuchstore";
        rec(QUERY, &q.base);
        set_md("team", "blue");
        set_md("", "empty key");
        Dapr__Proto__Runtime__V1__GetMetadataRequest g =
            DAPR__PROTO__RUNTIME__V1__GET_METADATA_REQUEST__INIT;
        rec(GET_MD, &g.base);
        Dapr__Proto__Runtime__V1__ShutdownRequest s = DAPR__PROTO__RUNTIME__V1__SHUTDOWN_REQUEST__INIT;
        rec(SHUTDOWN, &s.base);
    }
    done();

    open_file("errors");
    get("nosuchstore", "k");
    get("statestore", "a||b");
    save1("a||b", "1", NULL, 0);
    save1("", "1", NULL, 0);
    {
        item_t *it = item("t", "1", NULL, 0, "ttlInSeconds", "soon");
        save("statestore", &it, 1);
        it = item("t", "1", NULL, 0, "ttlInSeconds", "-1");
        save("statestore", &it, 1);
    }
    raw(GET, "\x0a\x05\x61", 3);       /* truncated string */
    raw(SAVE, "\x12\x03\x0a\x09\x61", 5); /* broken nested item */
    del("", NULL, 0);
    done();

    unsigned sel = 0;
    full_messages(&dapr__proto__runtime__v1__dapr__descriptor, &sel);
    full_messages(&task_hub_sidecar_service__descriptor, &sel);
    return 0;
}
