/* libFuzzer target: raw bytes as the protobuf request messages of the Dapr
 * gRPC API, (1) through protobuf-c alone and (2) through the real adapters
 * (lib/grpc/api*.c → lib/api → state.in-memory) behind a detached gRPC
 * connection, on a runtime that is created but never started (no sockets).
 *
 * Input: records, each  sel(1) len(2, big-endian) payload(len)  — the last
 * record takes whatever is left if it is short. Up to 16 records; they run
 * in order on one HTTP/2 connection against one fresh store, so a record can
 * see what an earlier one saved (ETags are "1", "2", ... per input).
 *   sel bit 7 clear: RPC number sel % 10 of the served ones (GetState ...
 *                    Shutdown): unpack + repack, then sent as that call;
 *   sel bit 7 set:   the input message of any method of the Dapr and
 *                    TaskHubSidecarService services: unpack + repack only.
 *
 * Checks beyond the sanitizers:
 *  - what protobuf-c unpacks it can pack again, to the size it announced,
 *    and that packing unpacks and packs to the same bytes;
 *  - every call gets a grpc-status (the in-memory store answers at once);
 *  - a payload protobuf-c cannot unpack, or with a string that is not
 *    UTF-8, gets INTERNAL "grpc: error unmarshalling request"; any other
 *    never does (a string with a NUL gets INVALID_ARGUMENT).
 * The seed corpus (corpus/) comes from gen_corpus.c. */
#include <nghttp2/nghttp2.h>
#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "components/registry.h"
#include "core/alloc.h"
#include "core/log.h"
#include "dapr/proto/runtime/v1/dapr.pb-c.h"
#include "dapr/runtime.h"
#include "durabletask/orchestrator_service.pb-c.h"
#include "grpc/api.h"
#include "grpc/grpc.h"
#include "runtime/runtime_int.h"

#define MAX_RECORDS 16

static const char *const served[] = {
    "GetState",     "GetBulkState",    "SaveState",   "DeleteState", "DeleteBulkState",
    "ExecuteStateTransaction", "QueryStateAlpha1", "GetMetadata", "SetMetadata", "Shutdown",
};
#define N_SERVED (sizeof(served) / sizeof(served[0]))

static const ProtobufCMessageDescriptor *served_in[N_SERVED];
static const ProtobufCMessageDescriptor **all_in;
static size_t n_all;

static uv_loop_t loop;
static dapr_runtime_t *rt;
static dapr_component_t *store;
static dapr__grpc_server_t *srv;

/* ---- bytes from the server ---------------------------------------------- */

typedef struct obuf {
    uint8_t *p;
    size_t len, cap;
} obuf_t;

static obuf_t out;

static void sink(void *ud, const void *data, size_t len)
{
    if (out.len + len > out.cap) {
        size_t cap = out.cap ? out.cap : 65536;
        while (cap < out.len + len)
            cap *= 2;
        uint8_t *p = realloc(out.p, cap);
        if (!p)
            abort();
        out.p = p;
        out.cap = cap;
    }
    memcpy(out.p + out.len, data, len);
    out.len += len;
}

/* ---- set-up, once ------------------------------------------------------- */

static void comp_done(dapr_component_t *c, int status, const char *detail)
{
    if (status)
        abort();
}

static void no_shutdown(dapr_runtime_t *r, void *data) {}

static void init(void)
{
    const ProtobufCServiceDescriptor *dapr = &dapr__proto__runtime__v1__dapr__descriptor;
    const ProtobufCServiceDescriptor *th = &task_hub_sidecar_service__descriptor;
    for (size_t i = 0; i < N_SERVED; i++) {
        const ProtobufCMethodDescriptor *m =
            protobuf_c_service_descriptor_get_method_by_name(dapr, served[i]);
        if (!m)
            abort();
        served_in[i] = m->input;
    }
    all_in = calloc(dapr->n_methods + th->n_methods, sizeof(*all_in));
    for (unsigned i = 0; i < dapr->n_methods; i++)
        all_in[n_all++] = dapr->methods[i].input;
    for (unsigned i = 0; i < th->n_methods; i++)
        all_in[n_all++] = th->methods[i].input;

    uv_loop_init(&loop);
    dapr__registry_init();
    if (dapr_runtime_create(&rt, &loop) || dapr_runtime_set_option(rt, "app-id", "fuzz"))
        abort();
    rt->log.level = DAPR_LOG_FATAL;
    dapr_runtime_on_shutdown_request(rt, no_shutdown, NULL);
    char err[256];
    if (dapr__component_new(&store, &loop, &rt->log, "fuzz", NULL, "statestore",
                            "state.in-memory", "v1", NULL, 0, err, sizeof(err)))
        abort();
    rt->components = dapr__malloc(sizeof(*rt->components));
    rt->components[0] = store;
    rt->n_components = 1;
    rt->n_state_stores = 1;
    store->initialised = true;
    if (store->state_vt->init(store, comp_done))
        abort();

    dapr__grpc_server_config_t cfg = {.loop = &loop, .log = &rt->log, .max_recv_msg = 1 << 20,
                                      .max_header_list = 16384, .ud = rt};
    dapr__gapi_table(&cfg.methods, &cfg.n_methods, &cfg.fallback);
    if (!cfg.n_methods || dapr__grpc_server_create(&srv, &cfg))
        abort();
}

/* Each input starts from an empty store and no extended metadata. */
static void reset_state(void)
{
    store->state_vt->close(store, comp_done);
    if (store->state_vt->init(store, comp_done))
        abort();
    size_t it = 0;
    void *v;
    while (dapr__map_next(&rt->extended, &it, NULL, NULL, &v))
        dapr__free(v);
    dapr__map_free(&rt->extended);
    dapr__map_init(&rt->extended);
    uv_run(&loop, UV_RUN_NOWAIT); /* the old sweep timer's close */
}

/* ---- protobuf-c alone ---------------------------------------------------- */

/* protobuf-c 1.4 refuses field number 0 only when its tag is one byte long
 * (parse_tag_and_wiretype looks at data[0] & 0xf8): "81 00" is unpacked as
 * an unknown field with tag 0, which it then packs as "01" and refuses to
 * unpack. A library quirk, not ours: such messages skip the repack check. */
static bool has_tag0(const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return true;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)base;
            for (size_t k = 0; k < n; k++)
                if (has_tag0(v[k]))
                    return true;
        } else {
            if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
                continue;
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)base;
            if (sub && has_tag0(sub))
                return true;
        }
    }
    return false;
}

/* Returns whether protobuf-c unpacks the payload. */
static bool pb_roundtrip(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, p);
    if (!m)
        return false;
    if (!protobuf_c_message_check(m))
        __builtin_trap();
    if (has_tag0(m)) {
        protobuf_c_message_free_unpacked(m, NULL);
        return true;
    }
    size_t sz = protobuf_c_message_get_packed_size(m);
    uint8_t *a = malloc(sz ? sz : 1), *b = malloc(sz ? sz : 1);
    if (protobuf_c_message_pack(m, a) != sz)
        __builtin_trap();
    ProtobufCMessage *m2 = protobuf_c_message_unpack(d, NULL, sz, a);
    if (!m2)
        __builtin_trap(); /* our own packing does not unpack */
    if (protobuf_c_message_get_packed_size(m2) != sz || protobuf_c_message_pack(m2, b) != sz ||
        memcmp(a, b, sz))
        __builtin_trap(); /* pack ∘ unpack is not stable */
    protobuf_c_message_free_unpacked(m2, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
    free(a);
    free(b);
    return true;
}

/* ---- the adapters, through a detached gRPC connection --------------------- */

typedef struct call {
    uint8_t *body; /* 5-byte gRPC prefix + payload */
    size_t len, off;
    int status; /* -1 until grpc-status arrives */
    bool unmarshal_error;
    bool unpack_ok;
} call_t;

static ssize_t body_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    call_t *c = src->ptr;
    size_t n = c->len - c->off < len ? c->len - c->off : len;
    memcpy(buf, c->body + c->off, n);
    c->off += n;
    if (c->off == c->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud)
{
    call_t *c = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!c)
        return 0;
    static const char um[] = "grpc: error unmarshalling request";
    if (namelen == 11 && !memcmp(name, "grpc-status", 11)) {
        int v = 0;
        for (size_t i = 0; i < valuelen && i < 3; i++)
            v = v * 10 + (value[i] - '0');
        c->status = v;
    } else if (namelen == 12 && !memcmp(name, "grpc-message", 12)) {
        c->unmarshal_error = valuelen >= sizeof(um) - 1 && !memcmp(value, um, sizeof(um) - 1);
    }
    return 0;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

static void run_calls(call_t *calls, const uint8_t *sels, size_t n)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_session *cl;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_client_new(&cl, cbs, NULL);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24}};
    nghttp2_submit_settings(cl, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(cl, NGHTTP2_FLAG_NONE, 0, 1 << 28);
    char paths[MAX_RECORDS][96];
    for (size_t i = 0; i < n; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/dapr.proto.runtime.v1.Dapr/%s",
                 served[sels[i] % N_SERVED]);
        nghttp2_nv nv[] = {NV(":method", "POST"),     NV(":scheme", "http"),
                           NV(":authority", "fuzz"),  NV(":path", paths[i]),
                           NV("content-type", "application/grpc"), NV("te", "trailers")};
        nghttp2_data_provider prd = {.source.ptr = &calls[i], .read_callback = body_read};
        if (nghttp2_submit_request(cl, NULL, nv, sizeof(nv) / sizeof(nv[0]), &prd, &calls[i]) < 0)
            abort();
    }
    out.len = 0;
    dapr__grpc_conn_t *conn = dapr__grpc_conn_detached(srv, sink, NULL); /* its SETTINGS → out */
    if (!conn)
        abort();
    for (int round = 0; round < 1000; round++) {
        bool progress = false;
        const uint8_t *d;
        ssize_t k;
        while ((k = nghttp2_session_mem_send(cl, &d)) > 0) {
            progress = true;
            /* a well-behaved client never kills the connection */
            if (dapr__grpc_conn_feed(conn, d, (size_t)k))
                __builtin_trap();
        }
        if (k < 0)
            abort();
        uv_run(&loop, UV_RUN_NOWAIT);
        if (out.len) {
            progress = true;
            if (nghttp2_session_mem_recv(cl, out.p, out.len) != (ssize_t)out.len)
                __builtin_trap(); /* we sent something nghttp2 cannot parse */
            out.len = 0;
        }
        if (!progress)
            break;
    }
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("FUZZ_PB_VERBOSE") != NULL;
    for (size_t i = 0; i < n; i++) {
        if (verbose)
            fprintf(stderr, "call %zu %s: unpack %s, grpc-status %d%s\n", i,
                    served[sels[i] % N_SERVED], calls[i].unpack_ok ? "ok" : "failed",
                    calls[i].status, calls[i].unmarshal_error ? " (unmarshalling)" : "");
        if (calls[i].status < 0)
            __builtin_trap(); /* a call never answered */
        if (!calls[i].unpack_ok && (calls[i].status != 13 || !calls[i].unmarshal_error))
            __builtin_trap(); /* undecodable yet not refused as such */
        if (calls[i].unpack_ok && calls[i].unmarshal_error)
            __builtin_trap(); /* decodable yet refused as undecodable */
    }
    dapr__grpc_conn_detached_free(conn);
    nghttp2_session_del(cl);
    uv_run(&loop, UV_RUN_NOWAIT); /* e.g. Shutdown's timer */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv)
        init();
    call_t calls[MAX_RECORDS];
    uint8_t sels[MAX_RECORDS];
    size_t n = 0;
    while (size && n < MAX_RECORDS) {
        uint8_t sel = data[0];
        size_t len = size >= 3 ? (size_t)data[1] << 8 | data[2] : 0;
        size_t hdr = size >= 3 ? 3 : size;
        data += hdr;
        size -= hdr;
        if (len > size)
            len = size;
        const uint8_t *p = data;
        data += len;
        size -= len;
        if (sel & 0x80) {
            pb_roundtrip(all_in[(sel & 0x7f) % n_all], p, len);
            continue;
        }
        call_t *c = &calls[n];
        /* daprd refuses invalid UTF-8 in strings as grpc-go does (an
         * unmarshalling error) even where protobuf-c would unpack it */
        c->unpack_ok = pb_roundtrip(served_in[sel % N_SERVED], p, len) &&
                       dapr__grpc_pb_check(served_in[sel % N_SERVED], p, len) != DAPR__PB_BAD_UTF8;
        c->body = malloc(len + 5);
        c->body[0] = 0;
        c->body[1] = (uint8_t)(len >> 24);
        c->body[2] = (uint8_t)(len >> 16);
        c->body[3] = (uint8_t)(len >> 8);
        c->body[4] = (uint8_t)len;
        memcpy(c->body + 5, p, len);
        c->len = len + 5;
        c->off = 0;
        c->status = -1;
        c->unmarshal_error = false;
        sels[n++] = sel;
    }
    if (n) {
        reset_state();
        run_calls(calls, sels, n);
    }
    for (size_t i = 0; i < n; i++)
        free(calls[i].body);
    return 0;
}
