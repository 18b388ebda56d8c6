/* Unit tests of lib/core: value parsers, buffers, arena, map, JSON encoding
 * as Go writes it, the error catalogue's JSON, and HTTP path cleaning. */
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/map.h"
#include "core/pool.h"
#include "core/strutil.h"
#include "api/invoke.h"
#include "http/router.h"
#include "../testutil.h"

static void test_duration(void)
{
    int64_t ns;
    CHECK(!dapr__parse_duration("5s", false, &ns) && ns == 5000000000LL);
    CHECK(!dapr__parse_duration("1h2m3.5s", false, &ns) && ns == 3723500000000LL);
    CHECK(!dapr__parse_duration("300ms", false, &ns) && ns == 300000000LL);
    CHECK(!dapr__parse_duration("-2us", false, &ns) && ns == -2000);
    CHECK(!dapr__parse_duration("0", false, &ns) && ns == 0);
    CHECK(dapr__parse_duration("5", false, &ns) == DAPR_EINVAL);
    CHECK(!dapr__parse_duration("5", true, &ns) && ns == 5000000000LL);
    CHECK(dapr__parse_duration("5x", false, &ns) == DAPR_EINVAL);
    CHECK(dapr__parse_duration("", false, &ns) == DAPR_EINVAL);
    CHECK(dapr__parse_duration("1e3s", false, &ns) == DAPR_EINVAL);
    CHECK(dapr__parse_duration("s", false, &ns) == DAPR_EINVAL);
    CHECK(dapr__parse_duration("99999999999h", false, &ns) == DAPR_EINVAL);
}

static void test_quantity_bool_int(void)
{
    int64_t b;
    CHECK(!dapr__parse_quantity("4Mi", &b) && b == 4 * 1024 * 1024);
    CHECK(!dapr__parse_quantity("4Ki", &b) && b == 4096);
    CHECK(!dapr__parse_quantity("2M", &b) && b == 2000000);
    CHECK(!dapr__parse_quantity("1000", &b) && b == 1000);
    CHECK(!dapr__parse_quantity("1.5Ki", &b) && b == 1536);
    CHECK(dapr__parse_quantity("4MB", &b) == DAPR_EINVAL);
    CHECK(dapr__parse_quantity("-1", &b) == DAPR_EINVAL);
    bool v;
    CHECK(!dapr__parse_bool("TRUE", &v) && v);
    CHECK(!dapr__parse_bool("yes", &v) && v);
    CHECK(!dapr__parse_bool("0", &v) && !v);
    CHECK(!dapr__parse_bool("Off", &v) && !v);
    CHECK(dapr__parse_bool("maybe", &v) == DAPR_EINVAL);
    int64_t i;
    CHECK(!dapr__parse_int("-42", &i) && i == -42);
    CHECK(dapr__parse_int("42x", &i) == DAPR_EINVAL);
    CHECK(dapr__parse_int(" 42", &i) == DAPR_EINVAL);
    CHECK(dapr__parse_int("", &i) == DAPR_EINVAL);
}

static void test_unescape(void)
{
    char out[64];
    CHECK_EQ_INT(dapr__url_unescape("a%2Fb", 5, out, false), 3);
    CHECK_EQ_STR(out, "a/b");
    CHECK_EQ_INT(dapr__url_unescape("a+b", 3, out, true), 3);
    CHECK_EQ_STR(out, "a b");
    CHECK_EQ_INT(dapr__url_unescape("a+b", 3, out, false), 3);
    CHECK_EQ_STR(out, "a+b");
    CHECK_EQ_INT(dapr__url_unescape("%zz", 3, out, false), -1);
    CHECK_EQ_INT(dapr__url_unescape("abc%2", 5, out, false), -1);
    CHECK_EQ_INT(dapr__url_unescape("abc%", 4, out, false), -1);
}

static void test_time_uuid(void)
{
    char t[48];
    dapr__format_time_rfc3339(t, sizeof(t), 1714557600123456789LL, true);
    CHECK_EQ_STR(t, "2024-05-01T10:00:00.123456789Z");
    dapr__format_time_rfc3339(t, sizeof(t), 1714557600100000000LL, true);
    CHECK_EQ_STR(t, "2024-05-01T10:00:00.1Z");
    dapr__format_time_rfc3339(t, sizeof(t), 1714557600100000000LL, false);
    CHECK_EQ_STR(t, "2024-05-01T10:00:00Z");
    char u1[37], u2[37];
    dapr__uuid4(u1);
    dapr__uuid4(u2);
    CHECK(strlen(u1) == 36 && u1[14] == '4' && strcmp(u1, u2));
    /* 8-4-4-4-12 lowercase hex, RFC 4122 variant */
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            CHECK(u1[i] == '-');
        else
            CHECK((u1[i] >= '0' && u1[i] <= '9') || (u1[i] >= 'a' && u1[i] <= 'f'));
    }
    CHECK(strchr("89ab", u1[19]) != NULL);
}

static void test_buf_pool_map(void)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    for (int i = 0; i < 1000; i++)
        dapr__buf_printf(&b, "%d,", i);
    CHECK(b.len > 3000 && !b.oom && b.data[b.len] == 0);
    dapr__buf_reset(&b);
    dapr__buf_json_str(&b, "a\"b\\<&>\x01\n\xe2\x80\xa8", 12, 1);
    CHECK_EQ_STR(b.data, "\"a\\\"b\\\\\\u003c\\u0026\\u003e\\u0001\\n\\u2028\"");
    dapr__buf_free(&b);

    dapr__pool_t p;
    dapr__pool_init(&p, 256);
    char *s = NULL;
    for (int i = 0; i < 500; i++) {
        s = dapr__pool_printf(&p, "item-%d", i);
        CHECK(s && ((uintptr_t)s & 15) == 0);
    }
    CHECK_EQ_STR(s, "item-499");
    void *big = dapr__pool_alloc(&p, 10000);
    CHECK(big != NULL);
    memset(big, 1, 10000);
    dapr__pool_reset(&p);
    CHECK(dapr__pool_strdup(&p, "x") != NULL);
    dapr__pool_destroy(&p);

    dapr__map_t m;
    dapr__map_init(&m);
    char k[32];
    for (long i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "k%ld", i);
        CHECK(!dapr__map_put(&m, k, strlen(k), (void *)(i + 1), NULL));
    }
    CHECK_EQ_INT(m.len, 5000);
    for (long i = 0; i < 5000; i += 2) {
        snprintf(k, sizeof(k), "k%ld", i);
        CHECK(dapr__map_del(&m, k, strlen(k)) == (void *)(i + 1));
    }
    CHECK_EQ_INT(m.len, 2500);
    CHECK(dapr__map_get(&m, "k1", 2) == (void *)2);
    CHECK(dapr__map_get(&m, "k2", 2) == NULL);
    void *old;
    CHECK(!dapr__map_put(&m, "k1", 2, (void *)7, &old) && old == (void *)2);
    size_t it = 0, n = 0;
    while (dapr__map_next(&m, &it, NULL, NULL, NULL))
        n++;
    CHECK_EQ_INT(n, 2500);
    dapr__map_free(&m);
}

static void go(const char *in, const char *want)
{
    json_error_t e;
    json_t *j = dapr__json_decode(in, strlen(in), &e);
    CHECK(j != NULL);
    dapr__buf_t b = DAPR__BUF_INIT;
    CHECK(!dapr__json_go_encode(j, &b));
    CHECK_EQ_STR(b.data, want);
    dapr__buf_free(&b);
    json_decref(j);
}

static void test_json_go(void)
{
    go("{ \"b\" : 1, \"a\" : [true, false, null] }", "{\"a\":[true,false,null],\"b\":1}");
    go("\"<x&y>\"", "\"\\u003cx\\u0026y\\u003e\"");
    go("0.1", "0.1");
    go("1.5", "1.5");
    go("1e21", "1e+21");
    go("1e20", "100000000000000000000");
    go("0.000001", "0.000001");
    go("0.0000001", "1e-07");
    go("-2.5e-10", "-2.5e-10");
    go("123456789", "123456789");
    go("3.0", "3");
    go("{\"k\":{\"z\":\"\\u00e9\",\"y\":{}}}", "{\"k\":{\"y\":{},\"z\":\"\xc3\xa9\"}}");
    json_t *o = json_pack("{s:i}", "Key", 1);
    CHECK(json_integer_value(dapr__json_get(o, "key")) == 1);
    CHECK(dapr__json_get(o, "nokey") == NULL);
    json_decref(o);
}

static void test_errors(void)
{
    dapr__apierr_t *e = dapr__apierr_new(DAPR_ERR_STATE_STORE_NOT_FOUND, "state store %s is not "
                                         "found", "x");
    dapr__apierr_md(e, "appID", "myapp");
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__apierr_json(e, &b);
    CHECK_EQ_STR(b.data, "{\"errorCode\":\"ERR_STATE_STORE_NOT_FOUND\",\"message\":\"state store x "
                         "is not found\",\"details\":[{\"@type\":\"type.googleapis.com/"
                         "google.rpc.ErrorInfo\",\"reason\":\"DAPR_STATE_NOT_FOUND\",\"domain\":"
                         "\"dapr.io\",\"metadata\":{\"appID\":\"myapp\"}}]}");
    CHECK_EQ_INT(dapr__errdef(e->id)->http, 400);
    CHECK_EQ_INT(dapr__errdef(e->id)->grpc, DAPR_GRPC_INVALID_ARGUMENT);
    dapr__apierr_free(e);
    dapr__buf_reset(&b);
    e = dapr__apierr_new(DAPR_ERR_STATE_GET, "plain");
    dapr__apierr_json(e, &b);
    CHECK_EQ_STR(b.data, "{\"errorCode\":\"ERR_STATE_GET\",\"message\":\"plain\"}");
    dapr__apierr_free(e);
    dapr__buf_free(&b);
    CHECK_EQ_STR(dapr_err_name(DAPR_ETIMEDOUT), "DAPR_ETIMEDOUT");
    CHECK_EQ_STR(dapr_strerror(DAPR_EETAG_MISMATCH), "etag mismatch");
    CHECK_EQ_STR(dapr_err_name(-999), "DAPR_EUNKNOWN");
}

static void clean(const char *in, const char *want)
{
    char out[128];
    dapr__path_clean(in, strlen(in), out);
    CHECK_EQ_STR(out, want);
}

static void test_clean_path(void)
{
    clean("/v1.0/state/x", "/v1.0/state/x");
    clean("/v1.0//state/./x/", "/v1.0/state/x");
    clean("/v1.0/state/../healthz", "/v1.0/healthz");
    clean("/../../v1.0/healthz", "/v1.0/healthz");
    clean("", "/");
    clean("/", "/");
    clean("/a/b/../../..", "/");
    clean("/v1.0/healthz%2F..", "/v1.0/healthz%2F..");
    clean("/v1.0/state/s/.hidden", "/v1.0/state/s/.hidden");
}

/* CVE-2026-41491: an invoked method cannot climb out with encoded "../" */
static void test_invoke_method_clean(void)
{
    static const char *const cases[][2] = {
        {"orders/list", "orders/list"},
        {"a/../b", "b"},
        {"..%2F..%2Fadmin", "admin"},
        {"public%2F..%2F..%2Fadmin", "admin"},
        {"public/%2e%2e/%2E%2E/admin", "admin"},
        {"public%252F..%252Fadmin", "admin"},   /* double encoding */
        {"public\\..\\admin", "admin"},
        {"a%20b/c%3Fd", "a%20b/c%3Fd"},           /* other escapes untouched */
        {"", ""},
        {"../../..", ""},
    };
    dapr__pool_t p;
    dapr__pool_init(&p, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = dapr__invoke_clean_method(&p, cases[i][0]);
        CHECK(got != NULL);
        if (got)
            CHECK_EQ_STR(got, cases[i][1]);
    }
    dapr__pool_destroy(&p);
}

static void test_alloc_failure(void)
{
    /* the arena and buffers report OOM instead of crashing */
    dapr__pool_t p;
    dapr__pool_init(&p, 64);
    dapr__alloc_fail_after(0);
    CHECK(dapr__pool_alloc(&p, 10) == NULL);
    dapr__buf_t b = DAPR__BUF_INIT;
    CHECK(dapr__buf_puts(&b, "x") == DAPR_ENOMEM && b.oom);
    CHECK(dapr__apierr_new(DAPR_ERR_INTERNAL, "x") == NULL);
    dapr__alloc_fail_after(-1);
    dapr__buf_free(&b);
    dapr__pool_destroy(&p);
}

int main(void)
{
    test_duration();
    test_quantity_bool_int();
    test_unescape();
    test_time_uuid();
    test_buf_pool_map();
    test_json_go();
    test_errors();
    test_clean_path();
    test_invoke_method_clean();
    test_alloc_failure();
    return test_result();
}
