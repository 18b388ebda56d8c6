/* JSON scanner without a tree (see jscan.h). Recursive descent bounded by
 * DAPR__JS_MAX_DEPTH; one pass over the bytes, no allocation. */
#include "jscan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

typedef struct scan {
    const char *s;
    size_t n;
    bool canon, nul;
} scan_t;

/* A NUL byte where a token should start: jansson's reader treats some of
 * those as the end of the input and others as errors, so leave it to it. */
static inline int bad_at(int c) { return c == 0 ? DAPR__JS_UNSURE : DAPR__JS_BAD; }

static inline bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int dapr__jscan_peek(const char *s, size_t n, size_t *pos)
{
    size_t i = *pos;
    while (i < n && is_ws((unsigned char)s[i]))
        i++;
    *pos = i;
    return i < n ? (unsigned char)s[i] : -1;
}

/* Skip whitespace; any at all makes the value non-canonical. */
static int ws(scan_t *sc, size_t *pos)
{
    size_t before = *pos;
    int c = dapr__jscan_peek(sc->s, sc->n, pos);
    if (*pos != before)
        sc->canon = false;
    return c;
}

/* Length of the valid UTF-8 sequence at s (s[0] >= 0x80), else 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
            return 0; /* overlong; UTF-16 surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
            return 0; /* overlong; above U+10FFFF */
        return 4;
    }
    return 0;
}

bool dapr__jscan_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(s + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* Byte classes inside a string: 0 plain (written as is by the encoder),
 * 1 quote, 2 backslash, 3 control (invalid), 4 escaped by the encoder
 * (< > &), 5 start of a multi-byte sequence. */
static const unsigned char str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    ['"'] = 1, ['\\'] = 2, ['<'] = 4, ['>'] = 4, ['&'] = 4,
    [0x80 ... 0xFF] = 5, /* GNU range designator (GCC, Clang) */
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits at s (n available): the value, or -1. *upper is set when
 * one is an upper-case letter (the encoder writes lower case). */
static long hex4(const char *s, size_t n, bool *upper)
{
    if (n < 4)
        return -1;
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval((unsigned char)s[k]);
        if (h < 0)
            return -1;
        if (s[k] >= 'A' && s[k] <= 'F')
            *upper = true;
        v = v * 16 + h;
    }
    return v;
}

/* The escape at s[*pos] (a backslash). */
static int scan_escape(scan_t *sc, size_t *pos, bool key)
{
    const char *s = sc->s;
    size_t i = *pos + 1, n = sc->n;
    if (i >= n)
        return DAPR__JS_BAD;
    switch (s[i]) {
    case '"': case '\\': case 'n': case 'r': case 't':
        *pos = i + 1;
        return 0;
    case '/': case 'b': case 'f':
        sc->canon = false; /* the encoder writes '/' raw, \b and \f as \u00xx */
        *pos = i + 1;
        return 0;
    case 'u': break;
    default: return DAPR__JS_BAD;
    }
    bool upper = false;
    long cp = hex4(s + i + 1, n - i - 1, &upper);
    if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return DAPR__JS_BAD;
    i += 5;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        /* a surrogate pair: the encoder writes the character raw */
        if (i + 1 >= n || s[i] != '\\' || s[i + 1] != 'u')
            return DAPR__JS_BAD;
        long lo = hex4(s + i + 2, n - i - 2, &upper);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return DAPR__JS_BAD;
        sc->canon = false;
        *pos = i + 6;
        return 0;
    }
    if (cp == 0) {
        if (key)
            return DAPR__JS_BAD; /* jansson: NUL byte in object key not supported */
        sc->nul = true;
    }
    bool as_encoder = (cp < 0x20 && cp != '\n' && cp != '\r' && cp != '\t') || cp == '<' ||
                      cp == '>' || cp == '&' || cp == 0x2028 || cp == 0x2029;
    if (!as_encoder || upper)
        sc->canon = false;
    *pos = i;
    return 0;
}

/* The first byte from i on that is not plain (str_class != 0), or n.
 * Values are mostly long runs of plain bytes: 16 at a time with SSE2. */
static size_t skip_plain(const unsigned char *s, size_t i, size_t n)
{
#ifdef __SSE2__
    const __m128i lo = _mm_set1_epi8(0x20), q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'),
                  lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>'), amp = _mm_set1_epi8('&');
    while (n - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
        /* signed compare: bytes >= 0x80 are negative, so below 0x20 too */
        __m128i m = _mm_or_si128(_mm_cmplt_epi8(v, lo),
                                 _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
                                              _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, lt),
                                                                        _mm_cmpeq_epi8(v, gt)),
                                                           _mm_cmpeq_epi8(v, amp))));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return i + (size_t)__builtin_ctz(bits);
        i += 16;
    }
#endif
    while (i < n && !str_class[s[i]])
        i++;
    return i;
}

/* The string at s[*pos] (a quote). *esc: it holds a backslash. */
static int scan_string(scan_t *sc, size_t *pos, bool key, bool *esc)
{
    const unsigned char *s = (const unsigned char *)sc->s;
    size_t i = *pos + 1, n = sc->n;
    *esc = false;
    for (;;) {
        i = skip_plain(s, i, n);
        if (i >= n)
            return DAPR__JS_BAD;
        switch (str_class[s[i]]) {
        case 1:
            *pos = i + 1;
            return 0;
        case 2: {
            *esc = true;
            int rc = scan_escape(sc, &i, key);
            if (rc)
                return rc;
            break;
        }
        case 3: return DAPR__JS_BAD;
        case 4:
            sc->canon = false;
            i++;
            break;
        default: {
            size_t k = utf8_seq(s + i, n - i);
            if (!k)
                return DAPR__JS_BAD;
            if (k == 3 && s[i] == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9))
                sc->canon = false; /* U+2028/9: escaped by the encoder */
            i += k;
        }
        }
    }
}

static bool digit(int c) { return c >= '0' && c <= '9'; }

static int scan_number(scan_t *sc, size_t *pos)
{
    const char *s = sc->s;
    size_t i = *pos, n = sc->n, start = i;
    bool neg = false, real = false;
    if (s[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= n)
        return DAPR__JS_BAD;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        while (i < n && digit(s[i]))
            i++;
    else
        return bad_at(s[i]);
    if (i < n && s[i] == '.') {
        real = true;
        if (++i >= n || !digit(s[i]))
            return i < n ? bad_at(s[i]) : DAPR__JS_BAD;
        while (i < n && digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        real = true;
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !digit(s[i]))
            return i < n ? bad_at(s[i]) : DAPR__JS_BAD;
        while (i < n && digit(s[i]))
            i++;
    }
    size_t len = i - start;
    *pos = i;
    if (!real) {
        /* jansson refuses integers outside int64 ("too big integer") */
        size_t nd = len - neg;
        const char *d = s + start + neg;
        if (nd > 19 || (nd == 19 && memcmp(d, neg ? "9223372036854775808" : "9223372036854775807",
                                           19) > 0))
            return DAPR__JS_BAD;
        if (neg && nd == 1 && d[0] == '0')
            sc->canon = false; /* -0 is written 0 */
        return 0;
    }
    /* reals: jansson refuses an overflowing one; the shortest form that
     * the encoder writes would need a round trip, so never canonical */
    sc->canon = false;
    char tmp[64];
    if (len >= sizeof(tmp))
        return DAPR__JS_UNSURE;
    memcpy(tmp, s + start, len);
    tmp[len] = '\0';
    return isinf(strtod(tmp, NULL)) ? DAPR__JS_BAD : 0;
}

static int scan_lit(scan_t *sc, size_t *pos, const char *lit, size_t len)
{
    size_t have = sc->n - *pos < len ? sc->n - *pos : len;
    if (have < len || memcmp(sc->s + *pos, lit, len))
        return memchr(sc->s + *pos, 0, have) ? DAPR__JS_UNSURE : DAPR__JS_BAD;
    *pos += len;
    return 0;
}

/* Does a (raw key bytes, no escapes) sort strictly before b? */
static bool key_before(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c < 0 || (c == 0 && an < bn);
}

static int scan_value(scan_t *sc, size_t *pos, int depth, dapr__jtype_t *type);

static int scan_object(scan_t *sc, size_t *pos, int depth)
{
    size_t i = *pos + 1;
    const char *prev = NULL;
    size_t prev_n = 0;
    int c = ws(sc, &i);
    if (c == '}') {
        *pos = i + 1;
        return 0;
    }
    for (;;) {
        if (c != '"')
            return bad_at(c);
        size_t ks = i;
        bool esc;
        int rc = scan_string(sc, &i, true, &esc);
        if (rc)
            return rc;
        /* the encoder sorts keys (decoded); compare raw bytes only when
         * they are the decoded ones */
        if (esc || (prev && !key_before(prev, prev_n, sc->s + ks + 1, i - ks - 2)))
            sc->canon = false;
        prev = sc->s + ks + 1;
        prev_n = i - ks - 2;
        if ((c = ws(sc, &i)) != ':')
            return bad_at(c);
        i++;
        dapr__jtype_t t;
        if ((rc = scan_value(sc, &i, depth + 1, &t)))
            return rc;
        c = ws(sc, &i);
        if (c == '}') {
            *pos = i + 1;
            return 0;
        }
        if (c != ',')
            return bad_at(c);
        i++;
        c = ws(sc, &i);
    }
}

static int scan_array(scan_t *sc, size_t *pos, int depth)
{
    size_t i = *pos + 1;
    int c = ws(sc, &i);
    if (c == ']') {
        *pos = i + 1;
        return 0;
    }
    for (;;) {
        dapr__jtype_t t;
        int rc = scan_value(sc, &i, depth + 1, &t);
        if (rc)
            return rc;
        c = ws(sc, &i);
        if (c == ']') {
            *pos = i + 1;
            return 0;
        }
        if (c != ',')
            return bad_at(c);
        i++;
    }
}

static int scan_value(scan_t *sc, size_t *pos, int depth, dapr__jtype_t *type)
{
    int c = ws(sc, pos);
    bool esc;
    switch (c) {
    case '{':
    case '[':
        if (depth >= DAPR__JS_MAX_DEPTH)
            return DAPR__JS_UNSURE;
        *type = c == '{' ? DAPR__JT_OBJECT : DAPR__JT_ARRAY;
        return c == '{' ? scan_object(sc, pos, depth) : scan_array(sc, pos, depth);
    case '"': *type = DAPR__JT_STRING; return scan_string(sc, pos, false, &esc);
    case 't': *type = DAPR__JT_TRUE; return scan_lit(sc, pos, "true", 4);
    case 'f': *type = DAPR__JT_FALSE; return scan_lit(sc, pos, "false", 5);
    case 'n': *type = DAPR__JT_NULL; return scan_lit(sc, pos, "null", 4);
    default:
        if (c == '-' || digit(c)) {
            *type = DAPR__JT_NUMBER;
            return scan_number(sc, pos);
        }
        return bad_at(c);
    }
}

static int scan_one(const char *s, size_t n, size_t *pos, dapr__jspan_t *out, bool key)
{
    scan_t sc = {s, n, true, false};
    dapr__jscan_peek(s, n, pos);
    size_t start = *pos;
    dapr__jtype_t t = DAPR__JT_STRING;
    bool esc = false;
    int rc;
    if (key)
        rc = start < n && s[start] == '"' ? scan_string(&sc, pos, true, &esc)
             : start < n ? bad_at((unsigned char)s[start]) : DAPR__JS_BAD;
    else
        rc = scan_value(&sc, pos, 0, &t);
    if (rc)
        return rc;
    if (t == DAPR__JT_STRING && !key)
        esc = memchr(s + start, '\\', *pos - start) != NULL;
    *out = (dapr__jspan_t){s + start, *pos - start, t, sc.canon, sc.nul, esc};
    return 0;
}

int dapr__jscan_value(const char *s, size_t n, size_t *pos, dapr__jspan_t *out)
{
    return scan_one(s, n, pos, out, false);
}

int dapr__jscan_doc(const char *s, size_t n, dapr__jspan_t *out)
{
    size_t pos = 0;
    int rc = dapr__jscan_value(s, n, &pos, out);
    if (rc)
        return rc;
    int c = dapr__jscan_peek(s, n, &pos);
    /* jansson reads a NUL byte after a top-level scalar as the end */
    return c < 0 ? 0 : c == 0 ? DAPR__JS_UNSURE : DAPR__JS_BAD;
}

int dapr__jiter_begin(dapr__jiter_t *it, const char *s, size_t n, size_t pos, bool object)
{
    int c = dapr__jscan_peek(s, n, &pos);
    if (c != (object ? '{' : '['))
        return bad_at(c);
    *it = (dapr__jiter_t){s, n, pos + 1, object ? '}' : ']', true};
    return 0;
}

int dapr__jiter_next(dapr__jiter_t *it, dapr__jspan_t *key, dapr__jspan_t *val)
{
    size_t pos = it->pos;
    int c = dapr__jscan_peek(it->s, it->n, &pos);
    if (c == it->close) {
        it->pos = pos + 1;
        return 0;
    }
    if (!it->first) {
        if (c != ',')
            return bad_at(c);
        pos++;
    }
    it->first = false;
    int rc;
    if (it->close == '}') {
        if ((rc = scan_one(it->s, it->n, &pos, key, true)))
            return rc;
        if ((c = dapr__jscan_peek(it->s, it->n, &pos)) != ':')
            return bad_at(c);
        pos++;
    } else {
        *key = (dapr__jspan_t){0};
    }
    if ((rc = dapr__jscan_value(it->s, it->n, &pos, val)))
        return rc;
    it->pos = pos;
    return 1;
}

bool dapr__jspan_is(const dapr__jspan_t *str, const char *lit)
{
    size_t l = strlen(lit);
    return str->type == DAPR__JT_STRING && !str->esc && str->n == l + 2 &&
           !memcmp(str->p + 1, lit, l);
}

static size_t put_utf8(char *d, unsigned long cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t dapr__jspan_unescape(const dapr__jspan_t *str, char *dst)
{
    const char *s = str->p + 1, *e = str->p + str->n - 1;
    size_t o = 0;
    bool up;
    while (s < e) {
        if (*s != '\\') {
            dst[o++] = *s++;
            continue;
        }
        s++;
        char c = *s++;
        switch (c) {
        case 'b': dst[o++] = '\b'; break;
        case 'f': dst[o++] = '\f'; break;
        case 'n': dst[o++] = '\n'; break;
        case 'r': dst[o++] = '\r'; break;
        case 't': dst[o++] = '\t'; break;
        case 'u': {
            unsigned long cp = (unsigned long)hex4(s, 4, &up);
            s += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned long lo = (unsigned long)hex4(s + 2, 4, &up);
                s += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            o += put_utf8(dst + o, cp);
            break;
        }
        default: dst[o++] = c; /* " \ / */
        }
    }
    dst[o] = '\0';
    return o;
}
