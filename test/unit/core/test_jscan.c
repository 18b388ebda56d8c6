/* Unit tests of the JSON scanner (lib/core/jscan.c): validity agrees with
 * jansson on edge cases (numbers at the int64 limits, surrogates, UTF-8,
 * NUL in keys, depth), canonical spans equal the Go-style encoder's output,
 * iteration and unescaping. */
#include "core/jscan.h"
#include "jscan_check.h"
#include "../testutil.h"

static int scan(const char *s, dapr__jspan_t *sp) { return dapr__jscan_doc(s, strlen(s), sp); }

static void check_all_against_jansson(void)
{
    static const char *const cases[] = {
        "{}", "[]", "0", "-0", "1", "-1", "01", "1.", ".5", "1e", "1e5", "1E+5", "-1.5e-3",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "-9223372036854775809", "12345678901234567890", "1e400", "-1e400", "1e-400",
        "\"\"", "\"a\"", "\"\\u0000\"", "{\"\\u0000\":1}", "\"\\ud834\\udd1e\"", "\"\\ud834\"",
        "\"\\udd1e\"", "\"\\ud834\\u0041\"", "\"\\x\"", "\"\\/\"", "\"\\b\\f\\n\\r\\t\"",
        "\"\xc3\xa9\"", "\"\xc3\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
        "\"\xe2\x80\xa8\"", "\"<&>\"", "\"\\u003c\"", "\"\\u003C\"", "\"\\u2028\"", "\"\x01\"",
        "\"\x7f\"", "true", "false", "null", "tru", "nul", "[1,]", "[,1]", "[1 2]", "{\"a\"}",
        "{\"a\":}", "{\"a\":1,}", "{,}", "{\"a\":1 \"b\":2}", " [ 1 , 2 ] ", "[1]x", "",
        "   ", "{\"b\":1,\"a\":2}", "{\"a\":1,\"a\":2}", "{\"a\":1,\"b\":{\"c\":[1,2,\"x\"]}}",
        "{\"a\" :1}", "{\"ab\":1,\"b\":2}", "{\"a\":1,\"ab\":2}", "[\"\\u00e9\"]",
        "{\"\\u0061\":1}", "\"a\\\"b\\\\c\"", "[true,false,null,-0,0.5]", "\xef\xbb\xbf[]",
        "[\"x\"]\n", "{\"id\":\"bench\",\"pad\":\"xxxxxxxxxxxxxxxxxxxx\"}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = jscan_check(cases[i], strlen(cases[i]));
        if (why)
            fprintf(stderr, "case %zu <%s>: %s\n", i, cases[i], why);
        CHECK(why == NULL);
    }
    /* a NUL byte inside the text */
    CHECK(jscan_check("[1]\0", 4) == NULL);
    CHECK(jscan_check("\"a\0\"", 4) == NULL);
    /* found by the fuzzer: jansson ends some inputs at a NUL byte */
    CHECK(jscan_check("false\0", 6) == NULL);
    CHECK(jscan_check("[1\0]", 4) == NULL);
    CHECK(jscan_check("{\"a\":1\0}", 8) == NULL);
    CHECK(jscan_check("\"a\xff\"", 4) == NULL);
    CHECK(jscan_check("\"a\xfe\"", 4) == NULL);
}

static void check_canonical(void)
{
    dapr__jspan_t sp;
    CHECK_EQ_INT(scan("{\"a\":1,\"b\":[true,null,\"x\"]}", &sp), DAPR__JS_OK);
    CHECK(sp.canon);
    CHECK_EQ_INT(sp.type, DAPR__JT_OBJECT);
    CHECK_EQ_INT(scan("{\"b\":1,\"a\":2}", &sp), DAPR__JS_OK);
    CHECK(!sp.canon); /* keys out of order */
    CHECK_EQ_INT(scan("{\"a\": 1}", &sp), DAPR__JS_OK);
    CHECK(!sp.canon); /* whitespace */
    CHECK_EQ_INT(scan("  \"x\"  ", &sp), DAPR__JS_OK);
    CHECK(sp.canon); /* around the value is not part of it */
    CHECK(sp.n == 3 && !memcmp(sp.p, "\"x\"", 3));
    CHECK_EQ_INT(scan("\"<\"", &sp), DAPR__JS_OK);
    CHECK(!sp.canon);
    CHECK_EQ_INT(scan("\"\\u003c\\u0001\\n\"", &sp), DAPR__JS_OK);
    CHECK(sp.canon && sp.esc);
    CHECK_EQ_INT(scan("2.5", &sp), DAPR__JS_OK);
    CHECK(!sp.canon); /* reals never */
    CHECK_EQ_INT(scan("-0", &sp), DAPR__JS_OK);
    CHECK(!sp.canon);
    CHECK_EQ_INT(scan("\"a\\u0000b\"", &sp), DAPR__JS_OK);
    CHECK(sp.nul && sp.canon);
}

static void check_depth(void)
{
    char deep[2 * DAPR__JS_MAX_DEPTH + 4];
    size_t k = 0;
    for (int i = 0; i <= DAPR__JS_MAX_DEPTH; i++)
        deep[k++] = '[';
    for (int i = 0; i <= DAPR__JS_MAX_DEPTH; i++)
        deep[k++] = ']';
    dapr__jspan_t sp;
    CHECK_EQ_INT(dapr__jscan_doc(deep, k, &sp), DAPR__JS_UNSURE);
    CHECK_EQ_INT(dapr__jscan_doc(deep + 1, k - 2, &sp), DAPR__JS_OK);
    char num[80];
    memset(num, '1', sizeof(num));
    num[1] = '.';
    CHECK_EQ_INT(dapr__jscan_doc(num, sizeof(num), &sp), DAPR__JS_UNSURE);
}

static void check_iter(void)
{
    const char *s = " [ {\"key\":\"k1\",\"value\":{\"x\":[1,2]}} , {\"key\":\"a\\tb\"} ] ";
    dapr__jiter_t arr, obj;
    dapr__jspan_t k, v, k2, v2;
    size_t n = strlen(s);
    CHECK_EQ_INT(dapr__jiter_begin(&arr, s, n, 0, false), 0);
    CHECK_EQ_INT(dapr__jiter_next(&arr, &k, &v), 1);
    CHECK(k.p == NULL && v.type == DAPR__JT_OBJECT);
    CHECK_EQ_INT(dapr__jiter_begin(&obj, s, n, (size_t)(v.p - s), true), 0);
    CHECK_EQ_INT(dapr__jiter_next(&obj, &k2, &v2), 1);
    CHECK(dapr__jspan_is(&k2, "key") && dapr__jspan_is(&v2, "k1"));
    CHECK_EQ_INT(dapr__jiter_next(&obj, &k2, &v2), 1);
    CHECK(dapr__jspan_is(&k2, "value") && v2.canon && v2.n == 11);
    CHECK_EQ_INT(dapr__jiter_next(&obj, &k2, &v2), 0);
    CHECK_EQ_INT(dapr__jiter_next(&arr, &k, &v), 1);
    CHECK_EQ_INT(dapr__jiter_begin(&obj, s, n, (size_t)(v.p - s), true), 0);
    CHECK_EQ_INT(dapr__jiter_next(&obj, &k2, &v2), 1);
    CHECK(v2.esc && !dapr__jspan_is(&v2, "a\tb"));
    char buf[16];
    CHECK_EQ_INT(dapr__jspan_unescape(&v2, buf), 3);
    CHECK_EQ_STR(buf, "a\tb");
    CHECK_EQ_INT(dapr__jiter_next(&arr, &k, &v), 0);
    size_t end = arr.pos;
    CHECK_EQ_INT(dapr__jscan_peek(s, n, &end), -1);
    /* errors */
    CHECK_EQ_INT(dapr__jiter_begin(&arr, "{}", 2, 0, false), DAPR__JS_BAD);
    CHECK_EQ_INT(dapr__jiter_begin(&arr, "[1,]", 4, 0, false), 0);
    CHECK_EQ_INT(dapr__jiter_next(&arr, &k, &v), 1);
    CHECK_EQ_INT(dapr__jiter_next(&arr, &k, &v), DAPR__JS_BAD);
    CHECK_EQ_INT(dapr__jiter_begin(&obj, "{\"a\" 1}", 7, 0, true), 0);
    CHECK_EQ_INT(dapr__jiter_next(&obj, &k, &v), DAPR__JS_BAD);
}

static void check_unescape(void)
{
    dapr__jspan_t sp;
    char buf[64];
    CHECK_EQ_INT(scan("\"\\ud834\\udd1e \\u00e9\\/\\\"\"", &sp), DAPR__JS_OK);
    size_t l = dapr__jspan_unescape(&sp, buf);
    CHECK_EQ_INT(l, 9);
    CHECK(!memcmp(buf, "\xf0\x9d\x84\x9e \xc3\xa9/\"", 9));
    CHECK(dapr__jscan_utf8_valid((const uint8_t *)"h\xc3\xa9llo", 6));
    CHECK(!dapr__jscan_utf8_valid((const uint8_t *)"\xc3", 1));
    CHECK(!dapr__jscan_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));
}

static void check_fmt_u64(void)
{
    char b[24];
    CHECK_EQ_INT(dapr__fmt_u64(b, 0), 1);
    CHECK_EQ_STR(b, "0");
    CHECK_EQ_INT(dapr__fmt_u64(b, 18446744073709551615ULL), 20);
    CHECK_EQ_STR(b, "18446744073709551615");
    dapr__buf_t buf = DAPR__BUF_INIT;
    dapr__buf_puts(&buf, "n=");
    dapr__buf_put_u64(&buf, 1024);
    CHECK_EQ_STR(buf.data, "n=1024");
    dapr__buf_free(&buf);
}

/* dapr__buf_json_str: the copy of the clean prefix, then the escapes */
static void check_json_str(void)
{
    static const struct {
        const char *in;
        int html;
        const char *out;
    } c[] = {
        {"plain text", 1, "\"plain text\""},
        {"", 1, "\"\""},
        {"ab<c", 0, "\"ab<c\""},
        {"ab<c", 1, "\"ab\\u003cc\""},
        {"x\xe2\x82\xacy", 1, "\"x\xe2\x82\xacy\""},
        {"x\xe2\x80\xa9", 1, "\"x\\u2029\""},
        {"x\xe2\x80\xa9", 0, "\"x\xe2\x80\xa9\""},
        {"q\"\\\n\x01", 0, "\"q\\\"\\\\\\n\\u0001\""},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        dapr__buf_t b = DAPR__BUF_INIT;
        CHECK_EQ_INT(dapr__buf_json_str(&b, c[i].in, strlen(c[i].in), c[i].html), 0);
        CHECK_EQ_STR(b.data, c[i].out);
        dapr__buf_free(&b);
    }
}

int main(void)
{
    check_fmt_u64();
    check_json_str();
    check_all_against_jansson();
    check_canonical();
    check_depth();
    check_iter();
    check_unescape();
    return test_result();
}
