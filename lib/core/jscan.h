/* A JSON scanner without a tree: validates JSON text and reports the spans
 * of values, so hot paths can keep bytes as they are instead of parsing them
 * into jansson and writing them out again.
 *
 * Validity follows jansson's parser as the rest of libdapr uses it
 * (dapr__json_decode: JSON_DECODE_ANY | JSON_ALLOW_NUL): strict RFC 8259
 * grammar, strings valid UTF-8 with no lone surrogate escapes, integers
 * within int64, reals that do not overflow a double, no "\u0000" in object
 * keys. Text the scanner calls valid, jansson parses, and the reverse, except
 * where the scanner answers DAPR__JS_UNSURE (nesting deeper than
 * DAPR__JS_MAX_DEPTH, number tokens over 63 bytes, a NUL byte where a token
 * should start, which jansson sometimes takes for the end): the caller then
 * decides with jansson.
 *
 * "Canonical" means the value's bytes are exactly what dapr__json_go_encode
 * writes for it once parsed (Go's json.Marshal: compact, object keys sorted
 * and unique, HTML characters and U+2028/9 escaped, no other escapes); reals
 * are never reported canonical (their shortest form needs a round trip). */
#ifndef DAPR_CORE_JSCAN_H
#define DAPR_CORE_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DAPR__JS_MAX_DEPTH 256

enum {
    DAPR__JS_OK = 0,
    DAPR__JS_BAD = -1001,    /* not valid JSON (jansson refuses it too) */
    /* (values apart from the DAPR_E* codes: callers pass both around) */
    DAPR__JS_UNSURE = -1002, /* beyond the scanner's limits: ask jansson */
};

typedef enum {
    DAPR__JT_OBJECT = 1,
    DAPR__JT_ARRAY,
    DAPR__JT_STRING,
    DAPR__JT_NUMBER,
    DAPR__JT_TRUE,
    DAPR__JT_FALSE,
    DAPR__JT_NULL,
} dapr__jtype_t;

/* A value inside the scanned text (borrowed). Strings include their
 * quotes; `esc` says whether a backslash occurs in one. */
typedef struct dapr__jspan {
    const char *p;
    size_t n;
    dapr__jtype_t type;
    bool canon;  /* see above */
    bool nul;    /* a string in it holds "\u0000" */
    bool esc;    /* strings: contains an escape */
} dapr__jspan_t;

/* Skip JSON whitespace from *pos; the byte there, or -1 at the end. */
int dapr__jscan_peek(const char *s, size_t n, size_t *pos);

/* Scan one value starting at s[*pos] (whitespace before it skipped).
 * On DAPR__JS_OK *pos is just past the value and *out describes it;
 * otherwise DAPR__JS_BAD or DAPR__JS_UNSURE and *pos is unspecified. */
int dapr__jscan_value(const char *s, size_t n, size_t *pos, dapr__jspan_t *out);

/* The whole of s[0..n) is one value with optional whitespace around it. */
int dapr__jscan_doc(const char *s, size_t n, dapr__jspan_t *out);

/* Walking the members of an object or the elements of an array given as
 * text, validating as it goes (one pass over the bytes). */
typedef struct dapr__jiter {
    const char *s;
    size_t n, pos;
    char close; /* '}' or ']' */
    bool first;
} dapr__jiter_t;

/* Start at s[*pos] (whitespace skipped), which must be '{' (object) or
 * '[' (array, with object false). 0 or DAPR__JS_BAD. */
int dapr__jiter_begin(dapr__jiter_t *it, const char *s, size_t n, size_t pos, bool object);
/* The next member: 1 (key is the member name, a string span; for arrays
 * key->p is NULL), 0 at the end (it->pos is past the closing bracket), or
 * DAPR__JS_BAD / DAPR__JS_UNSURE. */
int dapr__jiter_next(dapr__jiter_t *it, dapr__jspan_t *key, dapr__jspan_t *val);

/* A string span without escapes: does it equal the C string `lit`? */
bool dapr__jspan_is(const dapr__jspan_t *str, const char *lit);

/* The decoded bytes of a valid string span into dst (room for str->n
 * bytes at least; NUL-terminated); returns the length. */
size_t dapr__jspan_unescape(const dapr__jspan_t *str, char *dst);

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF), as jansson
 * checks strings. */
bool dapr__jscan_utf8_valid(const uint8_t *s, size_t n);

#endif
