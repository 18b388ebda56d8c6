/* Unit tests of the gRPC engine's pure helpers: grpc-timeout, percent and
 * base64 coding, message framing, the deadline heap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../testutil.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "dapr/common.h"
#include "grpc/grpc_int.h"
#include "google/rpc/status.pb-c.h"

/* --- codec ------------------------------------------------------------------ */

static uint64_t tmo(const char *s)
{
    uint64_t ms = 12345;
    return dapr__grpc_timeout_parse(s, strlen(s), &ms) == 0 ? ms : UINT64_MAX;
}

static void test_timeout(void)
{
    CHECK_EQ_INT(tmo("100m"), 100);
    CHECK_EQ_INT(tmo("5S"), 5000);
    CHECK_EQ_INT(tmo("2M"), 120000);
    CHECK_EQ_INT(tmo("1H"), 3600000);
    CHECK_EQ_INT(tmo("1500u"), 2);    /* rounded up */
    CHECK_EQ_INT(tmo("1n"), 1);
    CHECK_EQ_INT(tmo("0m"), 0);
    CHECK_EQ_INT(tmo("99999999H"), 99999999ull * 3600000ull);
    CHECK(tmo("123456789m") == UINT64_MAX); /* 9 digits */
    CHECK(tmo("m") == UINT64_MAX);
    CHECK(tmo("10") == UINT64_MAX);
    CHECK(tmo("10x") == UINT64_MAX);
    CHECK(tmo("-1m") == UINT64_MAX);
    CHECK(tmo("1 m") == UINT64_MAX);
    CHECK(tmo("") == UINT64_MAX);
    char out[16];
    dapr__grpc_timeout_format(250, out);
    CHECK_EQ_STR(out, "250m");
    dapr__grpc_timeout_format(99999999, out);
    CHECK_EQ_STR(out, "99999999m");
    dapr__grpc_timeout_format(100000000, out);
    CHECK_EQ_STR(out, "100000S");
    dapr__grpc_timeout_format(100000001, out);
    CHECK_EQ_STR(out, "100001S");
    dapr__grpc_timeout_format(UINT64_MAX, out);
    CHECK(tmo(out) != UINT64_MAX);
}

static void test_pct(void)
{
    char out[128];
    const char *in = "caf\xc3\xa9 100% ok\n~\x7f";
    size_t n = dapr__grpc_pct_encode(in, strlen(in), out);
    CHECK_EQ_STR(out, "caf%C3%A9 100%25 ok%0A~%7F");
    CHECK_EQ_INT(n, strlen(out));
    char back[128];
    dapr__grpc_pct_decode(out, n, back);
    CHECK_EQ_STR(back, in);
    /* malformed escapes stay as they are */
    dapr__grpc_pct_decode("a%zzb%4", 7, back);
    CHECK_EQ_STR(back, "a%zzb%4");
    dapr__grpc_pct_decode("%41%6a%", 7, back);
    CHECK_EQ_STR(back, "Aj%");
}

static void test_b64(void)
{
    char out[64];
    uint8_t dec[64];
    const uint8_t in[] = {0x00, 0x01, 0x02, 0xfe, 0xff};
    CHECK_EQ_INT(dapr__grpc_b64_encode(in, 5, out, true), 8);
    CHECK_EQ_STR(out, "AAEC/v8=");
    dapr__grpc_b64_encode(in, 5, out, false);
    CHECK_EQ_STR(out, "AAEC/v8");
    dapr__grpc_b64_encode(in, 4, out, true);
    CHECK_EQ_STR(out, "AAEC/g==");
    dapr__grpc_b64_encode(in, 0, out, true);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(dapr__grpc_b64_decode("AAEC/v8=", 8, dec), 5);
    CHECK(memcmp(dec, in, 5) == 0);
    CHECK_EQ_INT(dapr__grpc_b64_decode("AAEC/v8", 7, dec), 5);
    CHECK(memcmp(dec, in, 5) == 0);
    CHECK_EQ_INT(dapr__grpc_b64_decode("AAEC/g==", 8, dec), 4);
    CHECK_EQ_INT(dapr__grpc_b64_decode("AAEC/g", 6, dec), 4);
    CHECK_EQ_INT(dapr__grpc_b64_decode("", 0, dec), 0);
    CHECK_EQ_INT(dapr__grpc_b64_decode("A", 1, dec), -1);
    CHECK_EQ_INT(dapr__grpc_b64_decode("AA=", 3, dec), -1);
    CHECK_EQ_INT(dapr__grpc_b64_decode("A*==", 4, dec), -1);
    CHECK_EQ_INT(dapr__grpc_b64_decode("AA-_", 4, dec), -1); /* not the URL alphabet */
    CHECK_EQ_INT(dapr__grpc_code_from_http(404), DAPR_GRPC_UNIMPLEMENTED);
    CHECK_EQ_INT(dapr__grpc_code_from_http(503), DAPR_GRPC_UNAVAILABLE);
    CHECK_EQ_INT(dapr__grpc_code_from_http(418), DAPR_GRPC_UNKNOWN);
}

/* --- framing ---------------------------------------------------------------- */

typedef struct got {
    int n;
    size_t lens[16];
    char first[64];
    bool in_place[16];
    const uint8_t *src;
    size_t src_len;
} got_t;

static int on_msg(void *ud, const uint8_t *msg, size_t len)
{
    got_t *g = ud;
    if (g->n < 16) {
        g->lens[g->n] = len;
        g->in_place[g->n] = msg >= g->src && msg < g->src + g->src_len + 1;
    }
    if (g->n == 0)
        snprintf(g->first, sizeof(g->first), "%.*s", (int)len, (const char *)msg);
    g->n++;
    return 0;
}

static size_t frame(uint8_t *out, const char *msg)
{
    size_t n = strlen(msg);
    dapr__grpc_prefix(out, false, (uint32_t)n);
    memcpy(out + 5, msg, n);
    return 5 + n;
}

static void test_deframer(void)
{
    uint8_t wire[64];
    size_t n = frame(wire, "hello");
    n += frame(wire + n, "");
    n += frame(wire + n, "world!");
    /* whole: two messages in place, the empty one too */
    dapr__grpc_deframer_t d = {0};
    got_t g = {.src = wire, .src_len = n};
    CHECK_EQ_INT(dapr__grpc_deframe(&d, wire, n, 100, on_msg, &g), 0);
    CHECK_EQ_INT(g.n, 3);
    CHECK_EQ_STR(g.first, "hello");
    CHECK(g.in_place[0] && g.in_place[2]);
    CHECK_EQ_INT(g.lens[1], 0);
    CHECK_EQ_INT(g.lens[2], 6);
    CHECK(dapr__grpc_deframer_idle(&d));
    /* every split point */
    for (size_t cut = 1; cut < n; cut++) {
        got_t h = {0};
        CHECK_EQ_INT(dapr__grpc_deframe(&d, wire, cut, 100, on_msg, &h), 0);
        CHECK_EQ_INT(dapr__grpc_deframe(&d, wire + cut, n - cut, 100, on_msg, &h), 0);
        CHECK_EQ_INT(h.n, 3);
        CHECK_EQ_STR(h.first, "hello");
        CHECK(dapr__grpc_deframer_idle(&d));
    }
    /* byte by byte */
    got_t b = {0};
    for (size_t i = 0; i < n; i++)
        dapr__grpc_deframe(&d, wire + i, 1, 100, on_msg, &b);
    CHECK_EQ_INT(b.n, 3);
    CHECK_EQ_INT(b.lens[2], 6);
    dapr__grpc_deframer_free(&d);

    /* limit: rejected from the prefix, nothing buffered */
    dapr__grpc_deframer_t e = {0};
    got_t x = {0};
    uint8_t big[5];
    dapr__grpc_prefix(big, false, 101);
    CHECK_EQ_INT(dapr__grpc_deframe(&e, big, 5, 100, on_msg, &x), DAPR__GRPC_DF_TOO_BIG);
    CHECK_EQ_INT(e.len, 101);
    CHECK(e.buf == NULL);
    dapr__grpc_deframer_free(&e);
    dapr__grpc_prefix(big, false, 100);
    CHECK_EQ_INT(dapr__grpc_deframe(&e, big, 5, 100, on_msg, &x), 0);
    dapr__grpc_deframer_free(&e);
    dapr__grpc_prefix(big, true, 1);
    CHECK_EQ_INT(dapr__grpc_deframe(&e, big, 5, 100, on_msg, &x), DAPR__GRPC_DF_COMPRESSED);
    dapr__grpc_deframer_free(&e);
    big[0] = 2;
    CHECK_EQ_INT(dapr__grpc_deframe(&e, big, 5, 100, on_msg, &x), DAPR__GRPC_DF_BAD_FLAG);
    dapr__grpc_deframer_free(&e);
}

static void test_outq(void)
{
    dapr__grpc_outq_t q = {0};
    CHECK_EQ_INT(dapr__grpc_outq_push(&q, "abc", 3), 0);
    CHECK_EQ_INT(dapr__grpc_outq_push(&q, "defgh", 5), 0);
    CHECK_EQ_INT(dapr__grpc_outq_len(&q), 18);
    CHECK(q.data[q.head] == 0 && q.data[q.head + 4] == 3 && q.data[q.head + 5] == 'a');
    dapr__grpc_outq_consume(&q, 6); /* prefix + 'a' of the first */
    CHECK_EQ_INT(q.msg_rem, 2);
    dapr__grpc_outq_drop_unsent(&q); /* keeps "bc", drops the second */
    CHECK_EQ_INT(dapr__grpc_outq_len(&q), 2);
    dapr__grpc_outq_consume(&q, 2);
    CHECK_EQ_INT(dapr__grpc_outq_len(&q), 0);
    CHECK_EQ_INT(q.msg_rem, 0);
    /* growth and compaction keep the bytes in order */
    char msg[1000];
    size_t total = 0;
    for (int i = 0; i < 200; i++) {
        memset(msg, 'a' + i % 26, sizeof(msg));
        CHECK_EQ_INT(dapr__grpc_outq_push(&q, msg, (size_t)(i * 7) % 1000), 0);
        total += 5 + (size_t)(i * 7) % 1000;
        if (i % 3 == 0) {
            size_t take = dapr__grpc_outq_len(&q) / 2;
            dapr__grpc_outq_consume(&q, take);
            total -= take;
        }
    }
    CHECK_EQ_INT(dapr__grpc_outq_len(&q), total);
    dapr__grpc_outq_consume(&q, total);
    CHECK_EQ_INT(q.msg_rem, 0);
    dapr__grpc_outq_free(&q);
}

/* --- deadline heap ------------------------------------------------------------ */

static int expired_order[64], n_expired;

static void on_expire(dapr__grpc_dlheap_t *h, dapr__grpc_dl_t *d)
{
    expired_order[n_expired++] = (int)(d->at % 1000);
}

static void test_dlheap(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    dapr__grpc_dlheap_t h;
    dapr__grpc_dlheap_init(&h, &loop, on_expire, NULL);
    dapr__grpc_dl_t d[40];
    memset(d, 0, sizeof(d));
    uint64_t now = uv_now(&loop);
    for (int i = 0; i < 40; i++) /* at = now*1000 + distinct ordering key */
        dapr__grpc_dlheap_add(&h, &d[i], (uint64_t)((i * 17) % 40));
    for (int i = 0; i < 40; i += 4)
        dapr__grpc_dlheap_del(&h, &d[i]); /* removes keys (i*17)%40 for i%4==0 */
    CHECK_EQ_INT(h.n, 30);
    (void)now;
    uv_run(&loop, UV_RUN_DEFAULT); /* all deadlines are in the past */
    CHECK_EQ_INT(n_expired, 30);
    for (int i = 1; i < n_expired; i++)
        CHECK(expired_order[i - 1] < expired_order[i]);
    CHECK_EQ_INT(h.n, 0);
    dapr__grpc_dlheap_free(&h);
    uv_close((uv_handle_t *)&h.timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

static void test_utf8_and_pbcheck(void)
{
    static const struct { const char *s; size_t n; bool ok; } u[] = {
        {"plain", 5, true},       {"\xc3\xa9", 2, true},        {"\xe2\x82\xac", 3, true},
        {"\xf0\x9f\x98\x80", 4, true}, {"\xff", 1, false},          {"\xc3\x28", 2, false},
        {"\xc0\xaf", 2, false},   /* overlong '/' */
        {"\xed\xa0\x80", 3, false}, /* surrogate */
        {"\xf4\x90\x80\x80", 4, false}, /* past U+10FFFF */
        {"\xe2\x82", 2, false},   /* truncated */
    };
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        CHECK(dapr__utf8_valid((const uint8_t *)u[i].s, u[i].n) == u[i].ok);
    /* google.rpc.Status {code=1, message=2 (string), details=3 (Any)} */
    const ProtobufCMessageDescriptor *d = &google__rpc__status__descriptor;
    static const uint8_t good[] = {0x08, 0x03, 0x12, 0x02, 'o', 'k'};
    static const uint8_t bad[] = {0x12, 0x02, 'o', 0xff};
    static const uint8_t nul[] = {0x12, 0x03, 'a', 0x00, 'b'};
    /* Any.type_url (1) is a string inside a sub-message */
    static const uint8_t deep[] = {0x1a, 0x03, 0x0a, 0x01, 0x80};
    static const uint8_t junk[] = {0x12, 0x7f, 'x'}; /* length past the end: unpack's call */
    CHECK_EQ_INT(dapr__grpc_pb_check(d, good, sizeof(good)), DAPR__PB_OK);
    CHECK_EQ_INT(dapr__grpc_pb_check(d, bad, sizeof(bad)), DAPR__PB_BAD_UTF8);
    CHECK_EQ_INT(dapr__grpc_pb_check(d, nul, sizeof(nul)), DAPR__PB_NUL);
    CHECK_EQ_INT(dapr__grpc_pb_check(d, deep, sizeof(deep)), DAPR__PB_BAD_UTF8);
    CHECK_EQ_INT(dapr__grpc_pb_check(d, junk, sizeof(junk)), DAPR__PB_OK);
}

int main(void)
{
    test_utf8_and_pbcheck();
    test_timeout();
    test_pct();
    test_b64();
    test_deframer();
    test_outq();
    test_dlheap();
    return test_result();
}
