/* Unit tests of the CEL subset used by pub/sub routing rules (lib/core/cel.c):
 * every operator and function, precedence, CEL's error absorption in && and
 * ||, cross-type numeric comparison, compile and runtime errors, limits, and
 * allocation failures. */
#include <stdlib.h>

#include "core/alloc.h"
#include "core/cel.h"
#include "dapr/common.h"
#include "../testutil.h"

/* A cloud event as the router sees it. */
static const char *EVENT =
    "{\"event\": {\"id\": \"1\", \"source\": \"/orders/eu\", \"type\": \"widget\","
    " \"specversion\": \"1.0\", \"datacontenttype\": \"application/json\","
    " \"data\": {\"price\": 150, \"weight\": 2.5, \"region\": \"eu\", \"name\": \"h\\u00e9llo\","
    " \"tags\": [\"a\", \"b\", 3], \"items\": [{\"sku\": \"x\"}, {\"sku\": \"y\"}],"
    " \"nested\": {\"k\": [1, 2]}, \"flag\": true, \"none\": null, \"empty\": \"\","
    " \"big\": 9007199254740993, \"key with space\": 1}}}";

static json_t *vars_of(const char *json)
{
    json_error_t je;
    json_t *v = json_loads(json, 0, &je);
    if (!v)
        fprintf(stderr, "bad test JSON: %s\n", je.text);
    return v;
}

/* Compile and evaluate; returns 1/0/negative, leaves the message in err. */
static int run(const char *expr, const char *vars, char *err, size_t errlen)
{
    json_t *v = vars ? vars_of(vars) : NULL;
    dapr__cel_t *e = dapr__cel_compile(expr, err, errlen);
    int rc = e ? dapr__cel_eval(e, v, err, errlen) : -1000;
    dapr__cel_free(e);
    json_decref(v);
    return rc;
}

static int check_val(const char *file, int line, const char *expr, const char *vars, int want)
{
    char err[256];
    int rc = run(expr, vars, err, sizeof(err));
    if (rc != want) {
        fprintf(stderr, "%s:%d: `%s` gave %d, want %d (%s)\n", file, line, expr, rc, want,
                rc < 0 ? err : "");
        test_failures++;
    }
    return rc;
}

/* want_compile: the error comes from compile (else from eval, DAPR_EINVAL) */
static void check_err(const char *file, int line, const char *expr, const char *vars,
                      int want_compile, const char *want_msg)
{
    char err[256] = "";
    int rc = run(expr, vars, err, sizeof(err));
    int ok = want_compile ? rc == -1000 : rc == DAPR_EINVAL;
    if (!ok || !strstr(err, want_msg)) {
        fprintf(stderr, "%s:%d: `%s` gave %d \"%s\", want %s error containing \"%s\"\n", file,
                line, expr, rc, err, want_compile ? "compile" : "eval", want_msg);
        test_failures++;
    }
}

#define T(expr) check_val(__FILE__, __LINE__, expr, EVENT, 1)
#define F(expr) check_val(__FILE__, __LINE__, expr, EVENT, 0)
#define EVAL_ERR(expr, msg) check_err(__FILE__, __LINE__, expr, EVENT, 0, msg)
#define COMPILE_ERR(expr, msg) check_err(__FILE__, __LINE__, expr, EVENT, 1, msg)

static void test_dapr_examples(void)
{
    T("event.type == \"widget\"");
    F("event.type == \"gadget\"");
    T("event.data.price > 100");
    T("event.source.startsWith(\"/orders\") && has(event.data.region)");
    F("event.source.startsWith(\"/orders\") && has(event.data.country)");
    T("event.type == 'widget' && event.data.price >= 150 && event.specversion == '1.0'");
    /* the SDK docs' version routing */
    check_val(__FILE__, __LINE__, "event.type == \"order.v2\"",
              "{\"event\": {\"type\": \"order.v2\"}}", 1);
}

static void test_literals(void)
{
    T("1 == 1");
    T("0x1F == 31");
    T("0X1f == 31u");
    T("1u == 1");
    T("18446744073709551615u > 0");
    T("-9223372036854775808 < 0");
    T("-9223372036854775807 - 1 == -9223372036854775808");
    T("1.5 == 1.5");
    T("1e3 == 1000");
    T("1.5e-1 == 0.15");
    T(".5 == 0.5");
    T("2E+2 == 200.0");
    T("true");
    F("false");
    T("null == null");
    T("'a' == \"a\"");
    T("'it\\'s' == \"it's\"");
    T("\"\\\"q\\\"\" == '\"q\"'");
    T("'\\n\\t\\r\\\\' == \"\\x0a\\u0009\\015\\\\\"");
    T("'\\u00e9' == '\\xe9'");
    T("size('\\U0001F600') == 1");
    T("'\\U0001F600' == '\xf0\x9f\x98\x80'"); /* escape vs. raw UTF-8 in the source */
    T("'\\xe9' == '\xc3\xa9'");           /* \x is a code point in strings */
    T("'\\u20ac' == '\xe2\x82\xac' && size('\\u20ac') == 1");
    T("r'a\\n' == 'a\\\\n'");
    T("R\"\\d+\" == '\\\\d+'");
    T("'''multi\nline''' == 'multi\\nline'");
    T("\"\"\"a\"b\"\"\" == 'a\"b'");
    T("'\\a\\b\\f\\v\\?\\`' == '\\x07\\x08\\x0c\\x0b?`'");
    T("[1, 2, 'a'] == [1, 2, 'a']");
    T("[1, 2,] == [1, 2]");
    T("[] == []");
    T("size([]) == 0");
    T("// comment\n true // trailing");
    T("  \t\ntrue\n");
}

static void test_operators(void)
{
    /* relations */
    T("1 < 2");
    F("2 < 1");
    T("2 <= 2");
    T("3 > 2");
    T("2 >= 2");
    F("1 >= 2");
    T("1 != 2");
    F("1 != 1");
    T("'abc' < 'abd'");
    T("'ab' < 'abc'");
    T("'b' > 'abc'");
    T("'a' <= 'a'");
    T("false < true");
    T("true >= true");
    /* arithmetic */
    T("1 + 2 * 3 == 7");
    T("(1 + 2) * 3 == 9");
    T("7 / 2 == 3");
    T("-7 / 2 == -3");
    T("7 % 3 == 1");
    T("-7 % 3 == -1");
    T("10 - 2 - 3 == 5");
    T("100 / 10 / 5 == 2");
    T("7.0 / 2.0 == 3.5");
    T("1.5 + 1.5 == 3.0");
    T("3u - 1u == 2u");
    T("7u % 4u == 3u");
    T("7u / 2u == 3u");
    T("2u * 3u == 6u");
    T("event.data.weight * 2 == 5.0"); /* mixed kinds promote to double */
    T("event.data.price / 4.0 == 37.5");
    T("1u + 1 == 2");
    T("'ab' + 'cd' == 'abcd'");
    T("event.data.region + '-' + event.type == 'eu-widget'");
    T("size('a' + 'b') == 2");
    /* unary */
    T("-(1) == -1");
    T("--1 == 1");
    T("-1.5 < 0.0");
    T("-event.data.price == -150");
    T("!false");
    F("!true");
    T("!!true");
    T("!(1 == 2)");
    /* ternary */
    T("true ? true : false");
    F("false ? true : false");
    T("(event.data.price > 100 ? 'big' : 'small') == 'big'");
    T("(false ? 1 : true ? 2 : 3) == 2");
    T("true ? true : event.nope"); /* untaken branch not evaluated */
    /* in */
    T("'a' in event.data.tags");
    T("3 in event.data.tags");
    T("3.0 in event.data.tags");
    F("'z' in event.data.tags");
    T("'price' in event.data");
    F("'nope' in event.data");
    F("1 in event.data");
    T("2 in [1, 2, 3]");
    T("[1, 2] in [[1, 2], [3]]");
    T("event.data.nested in [event.data.nested]");
    F("'a' in []");
}

static void test_precedence(void)
{
    T("true || false && false");  /* && binds tighter */
    F("(true || false) && false");
    T("1 + 2 == 3 && 2 * 3 == 6");
    T("!false && true");
    T("1 < 2 == true");   /* relations are left-associative */
    T("2 in [1, 2] == true"); /* in is a relation: (2 in [1,2]) == true */
    T("false ? false : true || true ? true : false"); /* ?: lowest, right-assoc */
    F("true ? false : true || true ? true : false");
    T("-2 * 3 == -6");
    T("-event.data.tags.size() == -3"); /* member binds tighter than unary */
    T("1 + 2 * 3 - 4 / 2 % 3 == 5");
    T("false && false || true");
    F("false && (false || true)");
}

static void test_logic_absorption(void)
{
    /* deciding operand wins over an error on either side */
    F("false && event.nope");
    F("event.nope && false");
    T("true || event.nope");
    T("event.nope || true");
    F("event.nope.x && event.data.price < 0");
    T("event.data.missing == 1 || event.data.price > 100");
    F("1 && false"); /* a non-bool operand is an error, absorbed too */
    T("'x' || true");
    /* otherwise the error stays an error */
    EVAL_ERR("true && event.nope", "no such key: 'nope'");
    EVAL_ERR("event.nope && true", "no such key: 'nope'");
    EVAL_ERR("false || event.nope", "no such key: 'nope'");
    EVAL_ERR("event.a || event.b", "no such key: 'a'"); /* first error */
    EVAL_ERR("1 && true", "no matching overload for '_&&_'");
    EVAL_ERR("false || 'x' || false", "no matching overload for '_||_' applied to (string)");
    T("true && true && true && true");
    F("true && true && false && true");
    T("false || false || false || true");
}

static void test_has(void)
{
    T("has(event.data.region)");
    F("has(event.data.country)");
    T("has(event.data.none)"); /* present, null value */
    T("has(event.data)");
    T("has(event.data.nested.k)");
    EVAL_ERR("has(event.nope.x)", "no such key: 'nope'");
    EVAL_ERR("has(event.type.x)", "does not support field selection");
    COMPILE_ERR("has(event)", "column 1: invalid argument to has() macro");
    COMPILE_ERR("has(event.data['x'])", "invalid argument to has() macro");
    COMPILE_ERR("has(1)", "invalid argument to has() macro");
    COMPILE_ERR("has(event.a, event.b)", "takes 1 argument");
    COMPILE_ERR("event.has(data)", "unsupported function 'has'");
}

static void test_strings_and_size(void)
{
    T("event.source.startsWith('/orders')");
    F("event.source.startsWith('/orderss/eu/')");
    T("event.source.startsWith('')");
    T("event.source.endsWith('/eu')");
    F("event.source.endsWith('/us')");
    T("event.source.contains('ders/')");
    F("event.source.contains('xyz')");
    T("''.contains('')");
    F("''.contains('a')");
    T("'abc'.startsWith('abc')");
    F("'ab'.startsWith('abc')");
    F("'ab'.endsWith('abc')");
    T("event.data.name.size() == 5"); /* code points, not bytes */
    T("size(event.data.name) == 5");
    T("size('') == 0");
    T("size(event.data.tags) == 3");
    T("event.data.tags.size() == 3");
    T("size(event.data.nested) == 1");
    T("size([1, [2, 3]]) == 2");
    T("size(event.data.empty) == 0");
    EVAL_ERR("size(1) == 1", "no matching overload for 'size' applied to (int)");
    EVAL_ERR("event.data.price.startsWith('1')", "'startsWith' applied to (int, string)");
    EVAL_ERR("event.type.contains(1)", "'contains' applied to (string, int)");
    COMPILE_ERR("startsWith('a', 'b')", "column 1: function 'startsWith' needs a receiver");
    COMPILE_ERR("'a'.startsWith()", "takes 1 argument, got 0");
    COMPILE_ERR("'a'.size(1)", "takes 0 arguments, got 1");
    COMPILE_ERR("size()", "takes 1 argument, got 0");
}

static void test_select_and_index(void)
{
    T("event.data['region'] == 'eu'");
    T("event['data']['price'] == 150");
    T("event.data['key with space'] == 1");
    T("event.data.tags[0] == 'a'");
    T("event.data.tags[2u] == 3");
    T("event.data.items[1].sku == 'y'");
    T("event.data.nested.k[1] == 2");
    T("[10, 20, 30][1] == 20");
    T("[['a' + 'b']][0][0] == 'ab'");
    T("(true ? ['x'] : ['y'])[0] == 'x'");
    T("event.data.flag");
    T("event.data.none == null");
    F("event.data.none == 0"); /* different kinds are unequal, not an error */
    F("event.type == 1");
    T("event.type != 1");
    F("event.data.tags == event.data.nested");
    T("event.data.nested == event.data.nested");
    T("event.data.tags == ['a', 'b', 3]");
    F("event.data.tags == ['a', 'b']");
    F("event.data.tags == ['a', 'b', 4]");
    const char *maps = "{\"a\": {\"x\": 1}, \"b\": {\"y\": 1}, \"c\": {\"x\": 2},"
                       " \"d\": {\"x\": 1.0}, \"f\": false, \"e\": {}}";
    check_val(__FILE__, __LINE__, "a == b", maps, 0);
    check_val(__FILE__, __LINE__, "a == c", maps, 0);
    check_val(__FILE__, __LINE__, "a == d", maps, 1);
    check_val(__FILE__, __LINE__, "a != e", maps, 1);
    check_val(__FILE__, __LINE__, "!f && f == false", maps, 1);
    EVAL_ERR("event.data.nope == 1", "no such key: 'nope'");
    EVAL_ERR("event.data['nope'] == 1", "no such key: 'nope'");
    EVAL_ERR("event.data[1] == 1", "no such key of type 'int'");
    EVAL_ERR("event.data.tags[3] == 1", "index out of range: 3");
    EVAL_ERR("event.data.tags[-1] == 1", "index out of range: -1");
    EVAL_ERR("event.data.tags['a'] == 1", "unsupported list index type 'string'");
    EVAL_ERR("event.type.x", "type 'string' does not support field selection");
    EVAL_ERR("event.type[0] == 'w'", "no matching overload for '_[_]'");
    EVAL_ERR("nope == 1", "undeclared reference to 'nope'");
    EVAL_ERR("[1][5] == 1", "index out of range: 5");
    /* errors in any operand propagate */
    EVAL_ERR("event.data[event.nope] == 1", "no such key: 'nope'");
    EVAL_ERR("event.nope.size() == 1", "no such key: 'nope'");
    EVAL_ERR("'a'.startsWith(event.nope)", "no such key: 'nope'");
    EVAL_ERR("size(event.nope) == 1", "no such key: 'nope'");
    EVAL_ERR("!event.nope", "no such key: 'nope'");
    EVAL_ERR("-event.nope == 1", "no such key: 'nope'");
    EVAL_ERR("1 == event.nope", "no such key: 'nope'");
    EVAL_ERR("event.nope == 1", "no such key: 'nope'");
    EVAL_ERR("event.nope ? true : false", "no such key: 'nope'");
    EVAL_ERR("[1, event.nope, 'a' + 'b'] == []", "no such key: 'nope'");
    EVAL_ERR("event.nope[0] == 1", "no such key: 'nope'");
}

static void test_numbers_across_kinds(void)
{
    T("1 == 1.0");
    T("1.0 == 1");
    T("1u == 1.0");
    T("event.data.price == 150.0");
    T("event.data.price == 150u");
    T("event.data.weight > 2");
    T("event.data.weight < 3u");
    T("2 < 2.5");
    T("-1 < 0u");
    F("-1 == 18446744073709551615u");
    T("18446744073709551615u > 9223372036854775807");
    T("9223372036854775807 < 9223372036854775808.0");
    T("-9223372036854775808 == -9223372036854775808.0");
    F("-9223372036854775808 < -9223372036854775807.0"); /* that double is -2^63 */
    T("-0.5 < 0");
    T("0u > -0.5");
    /* 2^53 + 1 as a JSON int keeps its precision against the double 2^53 */
    T("event.data.big > 9007199254740992.0");
    T("event.data.big != 9007199254740992.0");
    T("event.data.big == 9007199254740993");
    /* NaN: unordered and unequal */
    F("0.0 / 0.0 == 0.0 / 0.0");
    F("0.0 / 0.0 < 1");
    F("1 >= 0.0 / 0.0");
    T("0.0 / 0.0 != 1");
    T("1.0 / 0.0 > 9223372036854775807");
    T("-1.0 / 0.0 < -9223372036854775808");
    T("1.0 / 0.0 > 18446744073709551615u");
    F("1u < 0.0 / 0.0");
    F("0.0 / 0.0 == 1u");
    T("1u == 1.0 && 1u < 1.5 && 2u > 1.5 && 1.5 < 2u");
}

static void test_eval_errors(void)
{
    EVAL_ERR("1 < 'a'", "no matching overload for '_<_' applied to (int, string)");
    EVAL_ERR("null < 1", "'_<_' applied to (null_type, int)");
    EVAL_ERR("[1] < [2]", "applied to (list, list)");
    EVAL_ERR("true > 1", "'_>_' applied to (bool, int)");
    EVAL_ERR("'a' - 'b' == ''", "no matching overload for '_-_' applied to (string, string)");
    EVAL_ERR("1 + 'a' == 1", "'_+_' applied to (int, string)");
    EVAL_ERR("1.5 % 1.0 == 0.5", "'_%_' applied to (double, double)");
    EVAL_ERR("5u % 2 == 1", "'_%_' applied to (uint, int)");
    EVAL_ERR("1 / 0 == 1", "division by zero");
    EVAL_ERR("1 % 0 == 1", "modulus by zero");
    EVAL_ERR("1u / 0u == 1u", "division by zero");
    EVAL_ERR("9223372036854775807 + 1 > 0", "integer overflow");
    EVAL_ERR("-9223372036854775808 - 1 < 0", "integer overflow");
    EVAL_ERR("9223372036854775807 * 2 > 0", "integer overflow");
    EVAL_ERR("-9223372036854775808 / -1 > 0", "integer overflow");
    EVAL_ERR("-9223372036854775808 % -1 == 0", "integer overflow");
    EVAL_ERR("-(-9223372036854775808) > 0", "integer overflow");
    EVAL_ERR("0u - 1u > 0u", "unsigned integer overflow");
    EVAL_ERR("18446744073709551615u + 1u > 0u", "unsigned integer overflow");
    EVAL_ERR("-1u == 1", "no matching overload for '-_' applied to (uint)");
    EVAL_ERR("!1", "no matching overload for '!_' applied to (int)");
    EVAL_ERR("1 ? true : false", "'_?_:_' applied to (int)");
    EVAL_ERR("1 in 'abc'", "'@in' applied to (int, string)");
    EVAL_ERR("event.type", "expression result is 'string', not bool");
    EVAL_ERR("1", "result is 'int', not bool");
    EVAL_ERR("null", "result is 'null_type', not bool");
    EVAL_ERR("event.data", "result is 'map', not bool");
    EVAL_ERR("[true]", "result is 'list', not bool");
    EVAL_ERR("event.data.weight", "result is 'double'");
    EVAL_ERR("1u", "result is 'uint'");

    /* vars handling */
    char err[128];
    CHECK_EQ_INT(run("true", NULL, err, sizeof(err)), 1);
    CHECK_EQ_INT(run("x == 1", NULL, err, sizeof(err)), DAPR_EINVAL);
    CHECK(strstr(err, "undeclared reference to 'x'") != NULL);
    CHECK_EQ_INT(run("true", "[1]", err, sizeof(err)), DAPR_EINVAL);
    CHECK(strstr(err, "must be a JSON object") != NULL);
    CHECK_EQ_INT(dapr__cel_eval(NULL, NULL, err, sizeof(err)), DAPR_EINVAL);
    /* err may be NULL or short */
    dapr__cel_t *e = dapr__cel_compile("nope", NULL, 0);
    CHECK(e != NULL);
    CHECK_EQ_INT(dapr__cel_eval(e, NULL, NULL, 0), DAPR_EINVAL);
    char tiny[8];
    CHECK_EQ_INT(dapr__cel_eval(e, NULL, tiny, sizeof(tiny)), DAPR_EINVAL);
    CHECK_EQ_STR(tiny, "undecla");
    dapr__cel_free(e);
    CHECK(!dapr__cel_compile("(", NULL, 0));
    CHECK(!dapr__cel_compile("(", tiny, sizeof(tiny)));
    CHECK_EQ_STR(tiny, "column ");
    dapr__cel_free(NULL);
    /* deep JSON is compared up to a bound, then it is an error, not a crash */
    char deep[2100];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof(deep), "{\"a\": ");
    for (int i = 0; i < 500; i++)
        deep[n++] = '[';
    for (int i = 0; i < 500; i++)
        deep[n++] = ']';
    snprintf(deep + n, sizeof(deep) - n, "}");
    CHECK_EQ_INT(run("a == a", deep, err, sizeof(err)), DAPR_EINVAL);
    CHECK(strstr(err, "nested too deeply to compare") != NULL);
    CHECK_EQ_INT(run("size(a) == 1", deep, err, sizeof(err)), 1);
}

static void test_compile_errors(void)
{
    COMPILE_ERR("event.type.matches('^w')", "column 12: unsupported function 'matches'");
    COMPILE_ERR("matches(event.type, 'w')", "column 1: unsupported function 'matches'");
    COMPILE_ERR("event.data.tags.exists(t, t == 'a')", "column 17: unsupported function 'exists'");
    COMPILE_ERR("event.data.tags.all(t, t == 'a')", "unsupported function 'all'");
    COMPILE_ERR("int(event.data.weight) == 2", "unsupported function 'int'");
    COMPILE_ERR("{'a': 1} == event.data", "column 1: unsupported map literal");
    COMPILE_ERR("b'abc' == event.type", "column 1: unsupported bytes literal");
    COMPILE_ERR("x == Rb'abc'", "column 6: unsupported bytes literal");
    COMPILE_ERR("rr'x' == 'x'", "column 3: syntax error: unexpected ''x''");
    COMPILE_ERR("event.type == ", "column 15: syntax error: unexpected end of expression");
    COMPILE_ERR("event.type = 'x'", "column 12: unexpected character '='");
    COMPILE_ERR("event.type == 'x' & true", "column 19: unexpected character '&'");
    COMPILE_ERR("event.type == 'x' | true", "unexpected character '|'");
    COMPILE_ERR("(event.type == 'x'",
                "column 19: syntax error: expected ')', found end of expression");
    COMPILE_ERR("event.type == 'x')", "column 18: syntax error: unexpected ')'");
    COMPILE_ERR("event..type", "column 7: syntax error: expected a field name, found '.'");
    COMPILE_ERR("event.1", "column 6: syntax error: unexpected '.1'");
    COMPILE_ERR("[1, 2", "expected ',' or ']'");
    COMPILE_ERR("size(1 2)", "expected ',' or ')'");
    COMPILE_ERR("true ? 1", "expected ':'");
    COMPILE_ERR("'abc", "column 1: unterminated string literal");
    COMPILE_ERR("x == 'ab\ncd'", "column 6: newline in string literal");
    COMPILE_ERR("'\\q'", "invalid escape sequence");
    COMPILE_ERR("'\\x4'", "invalid escape sequence");
    COMPILE_ERR("'\\ud800'", "invalid code point");
    COMPILE_ERR("'\\U00110000'", "invalid code point");
    COMPILE_ERR("9223372036854775808 > 0", "column 1: integer literal out of range");
    COMPILE_ERR("18446744073709551616u > 0u", "integer literal out of range");
    COMPILE_ERR("0x10000000000000000 > 0", "integer literal out of range");
    COMPILE_ERR("-(9223372036854775808) < 0", "integer literal out of range");
    COMPILE_ERR("1e999 > 0", "double literal out of range");
    COMPILE_ERR("1e > 0", "invalid number literal");
    COMPILE_ERR("12abc", "invalid number literal");
    COMPILE_ERR("0x", "invalid hex literal");
    COMPILE_ERR("if == 1", "column 1: reserved identifier 'if'");
    COMPILE_ERR("x.y == while", "reserved identifier 'while'");
    COMPILE_ERR("", "empty expression");
    COMPILE_ERR("   // only a comment", "empty expression");
    COMPILE_ERR(".event", "column 1: syntax error: unexpected '.'");
    COMPILE_ERR("event # 1", "unexpected character '#'");
    COMPILE_ERR("event \x01", "unexpected character 0x01");
    COMPILE_ERR("a in", "unexpected end of expression");
    COMPILE_ERR("in", "unexpected 'in'");
    COMPILE_ERR("1 +* 2", "column 4: syntax error: unexpected '*'");
}

static size_t put(char *dst, size_t n, const char *s)
{
    size_t l = strlen(s);
    memcpy(dst + n, s, l + 1);
    return n + l;
}

static void test_limits(void)
{
    char *src = malloc(DAPR__CEL_MAX_LEN + 64);
    char err[128];
    if (!src)
        return;
    /* length */
    memset(src, ' ', DAPR__CEL_MAX_LEN + 1);
    memcpy(src, "true", 4);
    src[DAPR__CEL_MAX_LEN + 1] = 0;
    CHECK(!dapr__cel_compile(src, err, sizeof(err)));
    CHECK(strstr(err, "expression too long") != NULL);
    src[DAPR__CEL_MAX_LEN] = 0;
    dapr__cel_t *e = dapr__cel_compile(src, err, sizeof(err));
    CHECK(e && dapr__cel_eval(e, NULL, err, sizeof(err)) == 1);
    dapr__cel_free(e);

    /* parentheses, unary chains, member chains, ternaries and arithmetic chains
     * all hit the same depth bound */
    const char *opens[] = {"(", "!", "-", "[", "true ? true : "};
    for (size_t k = 0; k < sizeof(opens) / sizeof(opens[0]); k++) {
        for (int depth = DAPR__CEL_MAX_DEPTH - 4; depth <= DAPR__CEL_MAX_DEPTH + 2; depth++) {
            size_t n = 0;
            for (int i = 0; i < depth; i++)
                n = put(src, n, opens[k]);
            n = put(src, n, "1");
            for (int i = 0; i < depth; i++)
                n = put(src, n, k == 0 ? ")" : k == 3 ? "]" : "");
            e = dapr__cel_compile(src, err, sizeof(err));
            if (depth > DAPR__CEL_MAX_DEPTH)
                CHECK(!e && strstr(err, "nested too deeply"));
            if (depth <= DAPR__CEL_MAX_DEPTH - 4)
                CHECK(e != NULL);
            dapr__cel_free(e);
        }
    }
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        n = put(src, n, "1 + ");
    sprintf(src + n, "1 == 201");
    CHECK(!dapr__cel_compile(src, err, sizeof(err)));
    CHECK(strstr(err, "nested too deeply") != NULL);
    n = (size_t)sprintf(src, "x");
    for (int i = 0; i < 200; i++)
        n = put(src, n, ".a");
    CHECK(!dapr__cel_compile(src, err, sizeof(err)));

    /* long || chains stay flat: 250 alternatives compile and evaluate */
    n = 0;
    for (int i = 0; i < 250; i++)
        n += (size_t)sprintf(src + n, "%sx == %d", i ? " || " : "", i);
    e = dapr__cel_compile(src, err, sizeof(err));
    CHECK(e != NULL);
    json_t *vars = json_pack("{s:i}", "x", 249);
    CHECK_EQ_INT(dapr__cel_eval(e, vars, err, sizeof(err)), 1);
    json_object_set_new(vars, "x", json_integer(250));
    CHECK_EQ_INT(dapr__cel_eval(e, vars, err, sizeof(err)), 0);
    json_decref(vars);
    dapr__cel_free(e);
    free(src);
}

/* Every allocation in compile and eval can fail cleanly. */
static void test_alloc_failures(void)
{
    const char *expr = "[event.type + 'x', 'y'][0] == 'widgetx' && "
                       "event.source.startsWith('/o') && "
                       "has(event.data.region) && 'a' in event.data.tags && "
                       "event.data.price * 2 > 1e2 ? true : false";
    json_t *vars = vars_of(EVENT);
    int saw_ok = 0;
    for (long i = 0; i < 200 && !saw_ok; i++) {
        char err[128];
        dapr__alloc_fail_after(i);
        dapr__cel_t *e = dapr__cel_compile(expr, err, sizeof(err));
        if (!e) {
            dapr__alloc_fail_after(-1);
            CHECK_EQ_STR(err, "out of memory");
            continue;
        }
        int rc = dapr__cel_eval(e, vars, err, sizeof(err));
        dapr__alloc_fail_after(-1);
        CHECK(rc == 1 || rc == DAPR_ENOMEM);
        if (rc == DAPR_ENOMEM)
            CHECK_EQ_STR(err, "out of memory");
        saw_ok = rc == 1;
        dapr__cel_free(e);
    }
    dapr__alloc_fail_after(-1);
    CHECK(saw_ok);
    json_decref(vars);
}

/* A compiled rule is reusable across events. */
static void test_reuse(void)
{
    char err[128];
    dapr__cel_t *e = dapr__cel_compile("event.type == 'widget' && event.data.price > 100", err,
                                       sizeof(err));
    CHECK(e != NULL);
    json_t *a = vars_of("{\"event\": {\"type\": \"widget\", \"data\": {\"price\": 101}}}");
    json_t *b = vars_of("{\"event\": {\"type\": \"widget\", \"data\": {\"price\": 99.5}}}");
    json_t *c = vars_of("{\"event\": {\"type\": \"gadget\", \"data\": {}}}");
    json_t *d = vars_of("{\"event\": {\"type\": \"widget\", \"data\": {}}}");
    CHECK_EQ_INT(dapr__cel_eval(e, a, err, sizeof(err)), 1);
    CHECK_EQ_INT(dapr__cel_eval(e, b, err, sizeof(err)), 0);
    CHECK_EQ_INT(dapr__cel_eval(e, c, err, sizeof(err)), 0);
    CHECK_EQ_INT(dapr__cel_eval(e, d, err, sizeof(err)), DAPR_EINVAL);
    CHECK_EQ_STR(err, "no such key: 'price'");
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
    dapr__cel_free(e);
}

int main(void)
{
    test_dapr_examples();
    test_literals();
    test_operators();
    test_precedence();
    test_logic_absorption();
    test_has();
    test_strings_and_size();
    test_select_and_index();
    test_numbers_across_kinds();
    test_eval_errors();
    test_compile_errors();
    test_limits();
    test_alloc_failures();
    test_reuse();
    return test_result();
}
