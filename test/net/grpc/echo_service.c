/* The raw-bytes test service served by grpc_test_server (and by the C client
 * self-test in the same process). Requests are short text commands so the
 * Node and C tests need no .proto:
 *
 *   /test.Echo/Unary         echo the request
 *   /test.Echo/Slow          "<ms>": answer "slept <ms>" after ms; "never": never answer
 *   /test.Echo/ServerStream  "<count> <size>": count messages of size bytes (byte i = (k+i)&255)
 *   /test.Echo/ClientStream  answers "<count> <total bytes>" after the half-close
 *   /test.Echo/Bidi          echoes each message; OK after the half-close
 *   /test.Echo/Error         NOT_FOUND, a non-ASCII message and grpc-status-details-bin
 *   /test.Echo/Stats         JSON counters: cancels, conns, calls, queued, write,
 *                            max_queued, max_write, eagains, rss_kb ("reset": clear the maxima)
 *   anything else            the fallback: UNKNOWN "failed to proxy request: required metadata
 *                            dapr-app-id or dapr-callee-app-id not found" (trailers-only)
 */
#include "echo_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "dapr/common.h"

echo_stats_t echo_stats;

/* google.rpc.Status{code: 5, message: "thing not found", details: []} */
const uint8_t echo_error_details[] = {0x08, 0x05, 0x12, 0x0f, 't', 'h', 'i', 'n', 'g', ' ', 'n',
                                      'o',  't',  ' ',  'f',  'o', 'u', 'n', 'd'};
const size_t echo_error_details_len = sizeof(echo_error_details);
const char echo_error_message[] = "thing not found: caf\xc3\xa9 100% \"sure\"\n";

static void count_cancel(dapr__grpc_call_t *call)
{
    echo_stats.cancels++;
    fprintf(stderr, "server: cancel %s\n", dapr__grpc_call_path(call));
}

/* --- Unary, Error ------------------------------------------------------------- */

static void unary_req(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    dapr__grpc_call_add_header(call, "x-echo", "1", 1);
    int rv = dapr__grpc_call_send(call, msg, len);
    dapr__grpc_call_finish(call, rv ? DAPR_GRPC_INTERNAL : DAPR_GRPC_OK, rv ? "send failed" : NULL,
                           NULL, 0);
}

static void plain_cancel(dapr__grpc_call_t *call)
{
    count_cancel(call);
    dapr__grpc_call_finish(call, DAPR_GRPC_CANCELLED, NULL, NULL, 0);
}

static void error_req(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    dapr__grpc_call_finish(call, DAPR_GRPC_NOT_FOUND, echo_error_message, echo_error_details,
                           echo_error_details_len);
}

/* --- Slow: answer from a timer, or never; finish after cancel from the
 * timer's close callback (cancel-then-finish-later) ------------------------ */

typedef struct slow {
    uv_timer_t timer;
    dapr__grpc_call_t *call;
    uint64_t ms;
    bool cancelled;
} slow_t;

static void slow_closed(uv_handle_t *h)
{
    slow_t *s = h->data;
    if (s->cancelled) {
        dapr__grpc_call_finish(s->call, DAPR_GRPC_CANCELLED, NULL, NULL, 0);
    } else {
        char out[64];
        int n = snprintf(out, sizeof(out), "slept %llu", (unsigned long long)s->ms);
        dapr__grpc_call_send(s->call, out, (size_t)n);
        dapr__grpc_call_finish(s->call, DAPR_GRPC_OK, NULL, NULL, 0);
    }
    dapr__free(s);
}

static void slow_fire(uv_timer_t *t) { uv_close((uv_handle_t *)t, slow_closed); }

static void slow_req(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    slow_t *s = dapr__calloc(1, sizeof(*s));
    if (!s) {
        dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "oom", NULL, 0);
        return;
    }
    s->call = call;
    uv_timer_init(echo_stats.loop, &s->timer);
    s->timer.data = s;
    dapr__grpc_call_set_user(call, s);
    char cmd[32]; /* messages are not NUL-terminated */
    snprintf(cmd, sizeof(cmd), "%.*s", (int)(len < 31 ? len : 31), (const char *)msg);
    bool never = strcmp(cmd, "never") == 0;
    s->ms = never ? 0 : strtoull(cmd, NULL, 10);
    if (!never)
        uv_timer_start(&s->timer, slow_fire, s->ms, 0);
}

static void slow_cancel(dapr__grpc_call_t *call)
{
    slow_t *s = dapr__grpc_call_user(call);
    count_cancel(call);
    s->cancelled = true;
    if (!uv_is_closing((uv_handle_t *)&s->timer))
        uv_close((uv_handle_t *)&s->timer, slow_closed); /* finish comes later */
}

/* --- ServerStream: honours DAPR_EAGAIN / on_writable --------------------------- */

typedef struct sstream {
    unsigned long count, sent;
    size_t size;
    uint8_t *buf;
} sstream_t;

static void ss_pump(dapr__grpc_call_t *call)
{
    sstream_t *st = dapr__grpc_call_user(call);
    while (st->sent < st->count) {
        for (size_t i = 0; i < st->size; i++)
            st->buf[i] = (uint8_t)(st->sent + i);
        int rv = dapr__grpc_call_send(call, st->buf, st->size);
        if (rv == DAPR_EAGAIN) {
            echo_stats.eagains++;
            return; /* on_writable resumes */
        }
        if (rv != 0) {
            dapr__grpc_call_finish(call, DAPR_GRPC_INTERNAL, "send failed", NULL, 0);
            return;
        }
        st->sent++;
    }
    dapr__grpc_call_finish(call, DAPR_GRPC_OK, NULL, NULL, 0);
}

static void ss_req(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "%.*s", (int)(len < 63 ? len : 63), (const char *)msg);
    sstream_t *st = dapr__grpc_call_alloc(call, sizeof(*st));
    unsigned long count = 0, size = 0;
    if (!st || sscanf(cmd, "%lu %lu", &count, &size) != 2 || size > ((size_t)16 << 20)) {
        dapr__grpc_call_finish(call, DAPR_GRPC_INVALID_ARGUMENT, "want \"<count> <size>\"", NULL,
                               0);
        return;
    }
    st->count = count;
    st->size = size;
    st->sent = 0;
    st->buf = dapr__grpc_call_alloc(call, size ? size : 1);
    dapr__grpc_call_set_user(call, st);
    ss_pump(call);
}

/* --- ClientStream, Bidi ------------------------------------------------------------ */

typedef struct cstream {
    unsigned long count, total;
} cstream_t;

static void cs_msg(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    cstream_t *st = dapr__grpc_call_user(call);
    if (!st) {
        st = dapr__grpc_call_alloc(call, sizeof(*st));
        memset(st, 0, sizeof(*st));
        dapr__grpc_call_set_user(call, st);
    }
    st->count++;
    st->total += len;
}

static void cs_half(dapr__grpc_call_t *call)
{
    cstream_t *st = dapr__grpc_call_user(call);
    char out[64];
    int n = snprintf(out, sizeof(out), "%lu %lu", st ? st->count : 0, st ? st->total : 0);
    dapr__grpc_call_send(call, out, (size_t)n);
    dapr__grpc_call_finish(call, DAPR_GRPC_OK, NULL, NULL, 0);
}

static void bidi_msg(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    if (dapr__grpc_call_send(call, msg, len) != 0)
        dapr__grpc_call_finish(call, DAPR_GRPC_RESOURCE_EXHAUSTED, "echo queue full", NULL, 0);
}

static void bidi_half(dapr__grpc_call_t *call)
{
    dapr__grpc_call_finish(call, DAPR_GRPC_OK, NULL, NULL, 0);
}

/* --- Stats ------------------------------------------------------------------- */

static long rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * 4;
}

static void stats_req(dapr__grpc_call_t *call, const uint8_t *msg, size_t len)
{
    dapr__grpc_server_stats_t st;
    dapr__grpc_server_stats(echo_stats.server, &st);
    char out[512];
    int n = snprintf(out, sizeof(out),
                     "{\"cancels\":%lu,\"conns\":%zu,\"calls\":%zu,\"queued\":%zu,\"write\":%zu,"
                     "\"max_queued\":%zu,\"max_write\":%zu,\"eagains\":%lu,\"rss_kb\":%ld}",
                     echo_stats.cancels, st.conns, st.calls, st.queued_bytes, st.write_bytes,
                     echo_stats.max_queued, echo_stats.max_write, echo_stats.eagains, rss_kb());
    if (len == 5 && memcmp(msg, "reset", 5) == 0)
        echo_stats.max_queued = echo_stats.max_write = 0;
    dapr__grpc_call_send(call, out, (size_t)n);
    dapr__grpc_call_finish(call, DAPR_GRPC_OK, NULL, NULL, 0);
}

void echo_sample(void)
{
    dapr__grpc_server_stats_t st;
    dapr__grpc_server_stats(echo_stats.server, &st);
    if (st.queued_bytes > echo_stats.max_queued)
        echo_stats.max_queued = st.queued_bytes;
    if (st.write_bytes > echo_stats.max_write)
        echo_stats.max_write = st.write_bytes;
}

/* --- fallback: what daprd's proxy says without an app id ------------------------- */

static void fallback_start(dapr__grpc_call_t *call)
{
    const char *id = dapr__grpc_call_md_get(call, "dapr-app-id");
    if (!id) {
        dapr__grpc_call_finish(call, DAPR_GRPC_UNKNOWN,
                               "failed to proxy request: required metadata dapr-app-id or "
                               "dapr-callee-app-id not found",
                               NULL, 0);
        return;
    }
    char out[300];
    snprintf(out, sizeof(out), "no app %s here", id);
    dapr__grpc_call_finish(call, DAPR_GRPC_UNAVAILABLE, out, NULL, 0);
}

const dapr__grpc_method_t echo_methods[] = {
    {.path = "/test.Echo/Unary", .kind = DAPR__GRPC_UNARY, .on_request = unary_req,
     .on_cancel = plain_cancel},
    {.path = "/test.Echo/Slow", .kind = DAPR__GRPC_UNARY, .on_request = slow_req,
     .on_cancel = slow_cancel},
    {.path = "/test.Echo/ServerStream", .kind = DAPR__GRPC_SERVER_STREAM, .on_request = ss_req,
     .on_cancel = plain_cancel, .on_writable = ss_pump},
    {.path = "/test.Echo/ClientStream", .kind = DAPR__GRPC_CLIENT_STREAM, .on_message = cs_msg,
     .on_half_close = cs_half, .on_cancel = plain_cancel},
    {.path = "/test.Echo/Bidi", .kind = DAPR__GRPC_BIDI, .on_message = bidi_msg,
     .on_half_close = bidi_half, .on_cancel = plain_cancel},
    {.path = "/test.Echo/Error", .kind = DAPR__GRPC_UNARY, .on_request = error_req,
     .on_cancel = plain_cancel},
    {.path = "/test.Echo/Stats", .kind = DAPR__GRPC_UNARY, .on_request = stats_req,
     .on_cancel = plain_cancel},
};
const size_t echo_n_methods = sizeof(echo_methods) / sizeof(echo_methods[0]);

const dapr__grpc_method_t echo_fallback = {
    .path = "*", .kind = DAPR__GRPC_BIDI, .on_start = fallback_start, .on_cancel = plain_cancel};
