/* The JSON scanner against jansson, for the unit test and the fuzz target:
 * on any input the scanner must agree with jansson (dapr__json_decode's
 * flags) about validity, and a value it calls canonical must be exactly
 * what dapr__json_go_encode writes for jansson's tree. Returns NULL or what
 * went wrong. */
#ifndef DAPR_TEST_JSCAN_CHECK_H
#define DAPR_TEST_JSCAN_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/jscan.h"

static const char *jscan_check(const char *d, size_t n)
{
    dapr__jspan_t sp;
    int rc = dapr__jscan_doc(d, n, &sp);
    json_error_t je;
    json_t *j = json_loadb(d, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    const char *bad = NULL;
    if (rc == DAPR__JS_OK && !j)
        bad = "scanner accepts what jansson refuses";
    else if (rc == DAPR__JS_BAD && j)
        bad = "scanner refuses what jansson accepts";
    else if (rc != DAPR__JS_OK && rc != DAPR__JS_BAD && rc != DAPR__JS_UNSURE)
        bad = "unknown return code";
    if (!bad && rc == DAPR__JS_OK && (sp.p < d || sp.p + sp.n > d + n))
        bad = "span outside the input";
    if (!bad && rc == DAPR__JS_OK && sp.canon) {
        dapr__buf_t b = DAPR__BUF_INIT;
        if (!dapr__json_go_encode(j, &b) && !b.oom && (b.len != sp.n || memcmp(b.data, sp.p, sp.n)))
            bad = "canonical span differs from the encoder's output";
        dapr__buf_free(&b);
    }
    if (!bad && rc == DAPR__JS_OK && (json_is_object(j) || json_is_array(j))) {
        /* walking it member by member sees what jansson sees */
        dapr__jiter_t it;
        dapr__jspan_t k, v;
        size_t count = 0;
        int r;
        if (dapr__jiter_begin(&it, d, n, 0, json_is_object(j)))
            bad = "iterator refuses a valid container";
        while (!bad && (r = dapr__jiter_next(&it, &k, &v)) == 1) {
            count++;
            if (json_is_object(j)) {
                char *key = malloc(k.n);
                if (!key)
                    break;
                size_t kl = dapr__jspan_unescape(&k, key);
                if (kl != strlen(key) || !json_object_get(j, key))
                    bad = "iterator key unknown to jansson";
                free(key);
            }
            if (!bad && v.type == DAPR__JT_STRING) {
                char *s = malloc(v.n);
                if (!s)
                    break;
                size_t sl = dapr__jspan_unescape(&v, s);
                json_t *jv = json_is_array(j) ? json_array_get(j, count - 1) : NULL;
                if (jv && (!json_is_string(jv) || json_string_length(jv) != sl ||
                           memcmp(json_string_value(jv), s, sl)))
                    bad = "unescaped string differs from jansson's";
                free(s);
            }
        }
        if (!bad && r != 0)
            bad = "iterator fails on a valid container";
        /* duplicate keys: jansson keeps one */
        if (!bad && json_is_array(j) && count != json_array_size(j))
            bad = "iterator count differs";
        if (!bad && json_is_object(j) && count < json_object_size(j))
            bad = "iterator count differs";
    }
    json_decref(j);
    return bad;
}

#endif
