/* CEL subset for pub/sub routing rules: a lexer, a recursive-descent parser
 * building an AST in an arena, and a tree-walking evaluator over jansson
 * values. The parser counts its own recursion and every node records its
 * height, so neither parsing nor evaluation can recurse deeper than
 * DAPR__CEL_MAX_DEPTH (plus a fixed bound when comparing nested JSON). */
#include "cel.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "dapr/common.h"
#include "pool.h"

/* Deepest JSON nesting that == and `in` walk into. */
#define MAX_VALUE_DEPTH 100

/* ---- AST ---------------------------------------------------------------- */

enum { V_NULL, V_BOOL, V_INT, V_UINT, V_DOUBLE, V_STRING, V_LIST, V_MAP };

enum {
    N_LIT,    /* op = V_NULL..V_STRING, value in lit / s */
    N_IDENT,  /* s */
    N_SELECT, /* a.s */
    N_HAS,    /* has(a) where a is an N_SELECT */
    N_INDEX,  /* a[b] */
    N_LIST,   /* [a, a->next, ...], n elements */
    N_CALL,   /* op = F_*; a = receiver or NULL; b = first argument, n args */
    N_UNARY,  /* op = '!' or '-' */
    N_BINARY, /* op = OP_* */
    N_AND,    /* a && a->next && ..., flattened so long chains stay shallow */
    N_OR,
    N_COND /* a ? b : c */
};

enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD };
enum { F_SIZE, F_STARTS, F_ENDS, F_CONTAINS };

static const char *const op_names[] = {"_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_",
                                       "@in",  "_+_",  "_-_", "_*_",  "_/_", "_%_"};
static const char *const fn_names[] = {"size", "startsWith", "endsWith", "contains"};

typedef struct node node_t;
struct node {
    uint8_t kind;
    uint8_t op;
    uint8_t height; /* 1 for leaves; never above DAPR__CEL_MAX_DEPTH */
    uint8_t folded; /* N_LIT: a '-' before it was folded in (INT64_MIN) */
    size_t n;
    node_t *a, *b, *c, *next;
    union {
        int b;
        int64_t i;
        uint64_t u;
        double d;
    } lit;
    const char *s;
    size_t slen;
};

struct dapr__cel {
    dapr__pool_t pool; /* every node and string */
    node_t *root;
};

/* ---- lexer -------------------------------------------------------------- */

enum {
    T_EOF, T_IDENT, T_INT, T_UINT, T_DOUBLE, T_STRING, T_BYTES,
    T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_LBRACE, T_RBRACE, T_DOT, T_COMMA, T_QUEST, T_COLON,
    T_NOT, T_MINUS, T_PLUS, T_STAR, T_SLASH, T_PERCENT,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_AND, T_OR, T_IN
};

typedef struct tok {
    int type;
    size_t pos, len; /* source span; an identifier is src[pos..pos+len) */
    uint64_t u;      /* T_INT magnitude, T_UINT value */
    double d;
    char *s; /* T_STRING decoded, in the pool */
    size_t slen;
} tok_t;

typedef struct parser {
    const char *src;
    size_t len, pos;
    tok_t tok;
    dapr__pool_t *pool;
    int depth;
    int neg_pending; /* the primary being parsed sits right after a unary '-' */
    int failed;
    char *err;
    size_t errlen;
} parser_t;

static void *perr(parser_t *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first error only; later ones are consequences. */
static void *perr(parser_t *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return NULL;
    p->failed = 1;
    if (!p->err || !p->errlen)
        return NULL;
    int n = snprintf(p->err, p->errlen, "column %zu: ", pos + 1);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static void *poom(parser_t *p)
{
    if (!p->failed && p->err && p->errlen)
        snprintf(p->err, p->errlen, "out of memory");
    p->failed = 1;
    return NULL;
}

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int hexval(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* One escape after a backslash at s[*i]; appends its UTF-8 to o. Every escape
 * is at least as long as what it decodes to, so the output never outgrows the
 * source span. */
static int lex_escape(parser_t *p, size_t *i, char *o, size_t *olen)
{
    const char *s = p->src;
    size_t at = *i, j = at + 1;
    char c = s[j++];
    uint32_t cp = 0;
    int nhex = 0;
    switch (c) {
    case '\\': case '\'': case '"': case '`': case '?': cp = (uint32_t)c; break;
    case 'a': cp = 7; break;
    case 'b': cp = 8; break;
    case 'f': cp = 12; break;
    case 'n': cp = 10; break;
    case 'r': cp = 13; break;
    case 't': cp = 9; break;
    case 'v': cp = 11; break;
    case 'x': case 'X': nhex = 2; break;
    case 'u': nhex = 4; break;
    case 'U': nhex = 8; break;
    default:
        if (c >= '0' && c <= '3' && s[j] >= '0' && s[j] <= '7' && s[j + 1] >= '0' &&
            s[j + 1] <= '7') {
            cp = (uint32_t)((c - '0') * 64 + (s[j] - '0') * 8 + (s[j + 1] - '0'));
            j += 2;
            break;
        }
        perr(p, at, "invalid escape sequence in string literal");
        return -1;
    }
    for (int k = 0; k < nhex; k++, j++) {
        int h = hexval(s[j]);
        if (h < 0) {
            perr(p, at, "invalid escape sequence in string literal");
            return -1;
        }
        cp = cp * 16 + (uint32_t)h;
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        perr(p, at, "invalid code point in string literal");
        return -1;
    }
    *olen += utf8_put(o + *olen, cp);
    *i = j;
    return 0;
}

/* A quoted literal whose opening quote is at `i` (prefix letters before it
 * already skipped). Decodes into the pool. */
static int lex_string(parser_t *p, size_t start, size_t i, int raw, int bytes)
{
    const char *s = p->src;
    char q = s[i];
    int triple = s[i + 1] == q && s[i + 2] == q;
    size_t body = i + (triple ? 3 : 1), j = body;
    for (;; j++) {
        if (!s[j])
            return perr(p, start, "unterminated string literal"), -1;
        if (!triple && (s[j] == '\n' || s[j] == '\r'))
            return perr(p, start, "newline in string literal"), -1;
        if (s[j] == '\\' && !raw && s[j + 1]) {
            j++;
            continue;
        }
        if (s[j] == q && (!triple || (s[j + 1] == q && s[j + 2] == q)))
            break;
    }
    size_t end = j, olen = 0;
    char *o = dapr__pool_alloc(p->pool, end - body + 1);
    if (!o)
        return poom(p), -1;
    for (size_t k = body; k < end;) {
        if (s[k] == '\\' && !raw) {
            if (lex_escape(p, &k, o, &olen))
                return -1;
        } else {
            o[olen++] = s[k++];
        }
    }
    o[olen] = 0;
    p->tok.type = bytes ? T_BYTES : T_STRING;
    p->tok.s = o;
    p->tok.slen = olen;
    p->pos = end + (triple ? 3 : 1);
    return 0;
}

static int lex_number(parser_t *p, size_t i)
{
    const char *s = p->src;
    size_t j = i;
    tok_t *t = &p->tok;
    if (s[j] == '0' && (s[j + 1] == 'x' || s[j + 1] == 'X')) {
        j += 2;
        uint64_t v = 0;
        int h, nd = 0;
        for (; (h = hexval(s[j])) >= 0; j++, nd++) {
            if (v > UINT64_MAX >> 4)
                return perr(p, i, "integer literal out of range"), -1;
            v = v * 16 + (uint64_t)h;
        }
        if (!nd)
            return perr(p, i, "invalid hex literal"), -1;
        t->type = T_INT;
        t->u = v;
    } else {
        int isfloat = 0;
        while (is_digit(s[j]))
            j++;
        if (s[j] == '.' && is_digit(s[j + 1])) {
            isfloat = 1;
            for (j++; is_digit(s[j]); j++)
                ;
        }
        if (s[j] == 'e' || s[j] == 'E') {
            size_t k = j + 1;
            if (s[k] == '+' || s[k] == '-')
                k++;
            if (!is_digit(s[k]))
                return perr(p, i, "invalid number literal"), -1;
            for (j = k; is_digit(s[j]); j++)
                ;
            isfloat = 1;
        }
        if (isfloat) {
            char *tmp = dapr__strndup(s + i, j - i);
            if (!tmp)
                return poom(p), -1;
            t->d = strtod(tmp, NULL);
            dapr__free(tmp);
            if (isinf(t->d))
                return perr(p, i, "double literal out of range"), -1;
            t->type = T_DOUBLE;
        } else {
            uint64_t v = 0;
            for (size_t k = i; k < j; k++) {
                unsigned dg = (unsigned)(s[k] - '0');
                if (v > (UINT64_MAX - dg) / 10)
                    return perr(p, i, "integer literal out of range"), -1;
                v = v * 10 + dg;
            }
            t->type = T_INT;
            t->u = v;
        }
    }
    if (t->type == T_INT && (s[j] == 'u' || s[j] == 'U')) {
        t->type = T_UINT;
        j++;
    }
    if (is_alpha(s[j]) || is_digit(s[j]))
        return perr(p, i, "invalid number literal"), -1;
    p->pos = j;
    return 0;
}

/* r'..', R"..", b'..', rb'..', ...: the word at s[i..j) is a string prefix */
static int string_prefix(const char *s, size_t i, size_t j, int *raw, int *bytes)
{
    if (j - i > 2 || (s[j] != '\'' && s[j] != '"'))
        return 0;
    *raw = *bytes = 0;
    for (size_t k = i; k < j; k++) {
        if ((s[k] == 'r' || s[k] == 'R') && !*raw)
            *raw = 1;
        else if ((s[k] == 'b' || s[k] == 'B') && !*bytes)
            *bytes = 1;
        else
            return 0;
    }
    return 1;
}

static int lex(parser_t *p)
{
    static const struct {
        char s[3];
        int type;
    } puncts[] = {
        {"==", T_EQ}, {"!=", T_NE}, {"<=", T_LE}, {">=", T_GE}, {"&&", T_AND}, {"||", T_OR},
        {"(", T_LPAREN}, {")", T_RPAREN}, {"[", T_LBRACK}, {"]", T_RBRACK}, {"{", T_LBRACE},
        {"}", T_RBRACE}, {".", T_DOT}, {",", T_COMMA}, {"?", T_QUEST}, {":", T_COLON},
        {"!", T_NOT}, {"-", T_MINUS}, {"+", T_PLUS}, {"*", T_STAR}, {"/", T_SLASH},
        {"%", T_PERCENT}, {"<", T_LT}, {">", T_GT},
    };
    const char *s = p->src;
    size_t i = p->pos;
    for (;;) {
        while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f')
            i++;
        if (s[i] != '/' || s[i + 1] != '/')
            break;
        while (s[i] && s[i] != '\n')
            i++;
    }
    tok_t *t = &p->tok;
    memset(t, 0, sizeof(*t));
    t->pos = i;
    if (!s[i]) {
        t->type = T_EOF;
        p->pos = i;
        return 0;
    }
    int rc = 0, raw, bytes;
    if (is_alpha(s[i])) {
        size_t j = i;
        while (is_alpha(s[j]) || is_digit(s[j]))
            j++;
        if (string_prefix(s, i, j, &raw, &bytes)) {
            rc = lex_string(p, i, j, raw, bytes);
        } else {
            t->type = j - i == 2 && !memcmp(s + i, "in", 2) ? T_IN : T_IDENT;
            p->pos = j;
        }
    } else if (is_digit(s[i]) || (s[i] == '.' && is_digit(s[i + 1]))) {
        rc = lex_number(p, i);
    } else if (s[i] == '\'' || s[i] == '"') {
        rc = lex_string(p, i, i, 0, 0);
    } else {
        size_t k;
        for (k = 0; k < sizeof(puncts) / sizeof(puncts[0]); k++) {
            size_t n = strlen(puncts[k].s);
            if (!memcmp(s + i, puncts[k].s, n)) {
                t->type = puncts[k].type;
                p->pos = i + n;
                break;
            }
        }
        if (k == sizeof(puncts) / sizeof(puncts[0])) {
            unsigned char c = (unsigned char)s[i];
            if (c >= 0x20 && c < 0x7f)
                perr(p, i, "unexpected character '%c'", c);
            else
                perr(p, i, "unexpected character 0x%02x", c);
            rc = -1;
        }
    }
    t->len = p->pos - i;
    return rc;
}

/* ---- parser ------------------------------------------------------------- */

static node_t *parse_expr(parser_t *p);

static int next(parser_t *p) { return p->failed ? -1 : lex(p); }

static const char *tok_desc(parser_t *p, char *buf, size_t n)
{
    if (p->tok.type == T_EOF)
        return "end of expression";
    size_t l = p->tok.len > 24 ? 24 : p->tok.len;
    snprintf(buf, n, "'%.*s%s'", (int)l, p->src + p->tok.pos, l < p->tok.len ? "..." : "");
    return buf;
}

static void *unexpected(parser_t *p)
{
    char b[40];
    return perr(p, p->tok.pos, "syntax error: unexpected %s", tok_desc(p, b, sizeof(b)));
}

static int expect(parser_t *p, int type, const char *what)
{
    if (p->tok.type != type) {
        char b[40];
        perr(p, p->tok.pos, "syntax error: expected %s, found %s", what, tok_desc(p, b, sizeof(b)));
        return -1;
    }
    return next(p);
}

static int height_of(const node_t *n) { return n ? n->height : 0; }

/* A node over up to three children plus an optional sibling chain; its height
 * is one more than the tallest, and that is where nesting gets bounded. */
static node_t *mk(parser_t *p, int kind, size_t pos, node_t *a, node_t *b, node_t *c)
{
    if (p->failed)
        return NULL;
    int h = height_of(a);
    if (height_of(b) > h)
        h = height_of(b);
    if (height_of(c) > h)
        h = height_of(c);
    node_t *chain = kind == N_CALL ? b : kind == N_LIST || kind == N_AND || kind == N_OR ? a : NULL;
    for (node_t *k = chain; k; k = k->next)
        if (k->height > h)
            h = k->height;
    if (h + 1 > DAPR__CEL_MAX_DEPTH)
        return perr(p, pos, "expression nested too deeply (limit %d)", DAPR__CEL_MAX_DEPTH);
    node_t *n = dapr__pool_calloc(p->pool, sizeof(*n));
    if (!n)
        return poom(p);
    n->kind = (uint8_t)kind;
    n->height = (uint8_t)(h + 1);
    n->a = a;
    n->b = b;
    n->c = c;
    return n;
}

static int is_reserved(const char *s, size_t n)
{
    static const char *const words[] = {
        "as", "break", "const", "continue", "else", "for", "function", "if", "import",
        "let", "loop", "package", "namespace", "return", "var", "void", "while"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i]) == n && !memcmp(words[i], s, n))
            return 1;
    return 0;
}

/* Arguments after '(' up to ')'; returns the count or -1. */
static long parse_args(parser_t *p, node_t **first)
{
    node_t **tail = first;
    long n = 0;
    *first = NULL;
    if (next(p))
        return -1;
    if (p->tok.type == T_RPAREN)
        return next(p) ? -1 : 0;
    for (;;) {
        node_t *e = parse_expr(p);
        if (!e)
            return -1;
        *tail = e;
        tail = &e->next;
        n++;
        if (p->tok.type == T_COMMA) {
            if (next(p))
                return -1;
            continue;
        }
        return expect(p, T_RPAREN, "',' or ')'") ? -1 : n;
    }
}

static int fn_lookup(const char *s, size_t n)
{
    for (int i = 0; i < (int)(sizeof(fn_names) / sizeof(fn_names[0])); i++)
        if (strlen(fn_names[i]) == n && !memcmp(fn_names[i], s, n))
            return i;
    return -1;
}

/* name(args) or recv.name(args), the current token being '(' */
static node_t *parse_call(parser_t *p, node_t *recv, size_t pos, const char *name, size_t nlen)
{
    int is_has = !recv && nlen == 3 && !memcmp(name, "has", 3);
    int fn = is_has ? -1 : fn_lookup(name, nlen);
    if (!is_has && fn < 0)
        return perr(p, pos, "unsupported function '%.*s'", (int)nlen, name);
    if (fn > F_SIZE && !recv)
        return perr(p, pos, "function '%s' needs a receiver: s.%s(t)", fn_names[fn], fn_names[fn]);
    node_t *args;
    long nargs = parse_args(p, &args);
    if (nargs < 0)
        return NULL;
    long want = is_has || fn > F_SIZE || !recv ? 1 : 0;
    if (nargs != want)
        return perr(p, pos, "function '%.*s' takes %ld argument%s, got %ld", (int)nlen, name, want,
                    want == 1 ? "" : "s", nargs);
    if (is_has) {
        if (args->kind != N_SELECT)
            return perr(p, pos,
                        "invalid argument to has() macro: expected a field selection like a.b");
        return mk(p, N_HAS, pos, args, NULL, NULL);
    }
    node_t *n = mk(p, N_CALL, pos, recv, args, NULL);
    if (n) {
        n->op = (uint8_t)fn;
        n->n = (size_t)nargs;
    }
    return n;
}

static node_t *parse_list(parser_t *p, size_t pos)
{
    node_t *first = NULL, **tail = &first;
    size_t n = 0;
    if (next(p))
        return NULL;
    while (p->tok.type != T_RBRACK) {
        node_t *e = parse_expr(p);
        if (!e)
            return NULL;
        *tail = e;
        tail = &e->next;
        n++;
        if (p->tok.type != T_COMMA)
            break;
        if (next(p)) /* a trailing comma is allowed */
            return NULL;
    }
    if (expect(p, T_RBRACK, "',' or ']'"))
        return NULL;
    node_t *l = mk(p, N_LIST, pos, first, NULL, NULL);
    if (l)
        l->n = n;
    return l;
}

static node_t *lit(parser_t *p, int vkind, size_t pos)
{
    node_t *n = mk(p, N_LIT, pos, NULL, NULL, NULL);
    if (n)
        n->op = (uint8_t)vkind;
    return n;
}

static node_t *parse_ident(parser_t *p)
{
    size_t pos = p->tok.pos, len = p->tok.len;
    const char *name = p->src + pos;
    node_t *n = NULL;
    if (next(p))
        return NULL;
    if (p->tok.type == T_LPAREN)
        return parse_call(p, NULL, pos, name, len);
    if ((len == 4 && !memcmp(name, "true", 4)) || (len == 5 && !memcmp(name, "false", 5))) {
        if ((n = lit(p, V_BOOL, pos)))
            n->lit.b = len == 4;
        return n;
    }
    if (len == 4 && !memcmp(name, "null", 4))
        return lit(p, V_NULL, pos);
    if (is_reserved(name, len))
        return perr(p, pos, "reserved identifier '%.*s'", (int)len, name);
    if ((n = mk(p, N_IDENT, pos, NULL, NULL, NULL))) {
        if (!(n->s = dapr__pool_strndup(p->pool, name, len)))
            return poom(p);
        n->slen = len;
    }
    return n;
}

static node_t *parse_primary(parser_t *p)
{
    tok_t t = p->tok;
    int neg = p->neg_pending;
    node_t *n = NULL;
    p->neg_pending = 0;
    switch (t.type) {
    case T_IDENT:
        return parse_ident(p);
    case T_LPAREN:
        if (next(p) || !(n = parse_expr(p)) || expect(p, T_RPAREN, "')'"))
            return NULL;
        return n;
    case T_LBRACK:
        return parse_list(p, t.pos);
    case T_LBRACE:
        return perr(p, t.pos, "unsupported map literal");
    case T_BYTES:
        return perr(p, t.pos, "unsupported bytes literal");
    case T_INT:
    case T_UINT:
    case T_DOUBLE:
    case T_STRING:
        break;
    default:
        return unexpected(p);
    }
    if (next(p))
        return NULL;
    /* -9223372036854775808 only exists with its sign: fold it in, unless
     * the literal is the operand of a member access (-(9223372036854775808.x)). */
    int fold = t.type == T_INT && neg && t.u == (uint64_t)INT64_MAX + 1 && p->tok.type != T_DOT &&
               p->tok.type != T_LBRACK;
    if (t.type == T_INT && t.u > (uint64_t)INT64_MAX && !fold)
        return perr(p, t.pos, "integer literal out of range");
    static const int kinds[] = {[T_INT] = V_INT, [T_UINT] = V_UINT, [T_DOUBLE] = V_DOUBLE,
                                [T_STRING] = V_STRING};
    if (!(n = lit(p, kinds[t.type], t.pos)))
        return NULL;
    if (fold) {
        n->lit.i = INT64_MIN;
        n->folded = 1;
    } else if (t.type == T_INT) {
        n->lit.i = (int64_t)t.u;
    } else if (t.type == T_UINT) {
        n->lit.u = t.u;
    } else if (t.type == T_DOUBLE) {
        n->lit.d = t.d;
    } else {
        n->s = t.s;
        n->slen = t.slen;
    }
    return n;
}

static node_t *parse_member(parser_t *p)
{
    node_t *e = parse_primary(p);
    while (e) {
        size_t pos = p->tok.pos;
        if (p->tok.type == T_DOT) {
            if (next(p))
                return NULL;
            if (p->tok.type != T_IDENT) {
                char b[40];
                return perr(p, p->tok.pos, "syntax error: expected a field name, found %s",
                            tok_desc(p, b, sizeof(b)));
            }
            size_t fpos = p->tok.pos, flen = p->tok.len;
            const char *f = p->src + fpos;
            if (next(p))
                return NULL;
            if (p->tok.type == T_LPAREN) {
                e = parse_call(p, e, fpos, f, flen);
                continue;
            }
            node_t *s = mk(p, N_SELECT, fpos, e, NULL, NULL);
            if (!s)
                return NULL;
            if (!(s->s = dapr__pool_strndup(p->pool, f, flen)))
                return poom(p);
            s->slen = flen;
            e = s;
        } else if (p->tok.type == T_LBRACK) {
            node_t *k;
            if (next(p) || !(k = parse_expr(p)) || expect(p, T_RBRACK, "']'"))
                return NULL;
            e = mk(p, N_INDEX, pos, e, k, NULL);
        } else {
            break;
        }
    }
    return e;
}

/* '!' and '-' prefixes are collected in a loop, not by recursion */
static node_t *parse_unary(parser_t *p)
{
    uint8_t ops[DAPR__CEL_MAX_DEPTH];
    size_t pos[DAPR__CEL_MAX_DEPTH];
    int n = 0;
    while (p->tok.type == T_NOT || p->tok.type == T_MINUS) {
        if (n == DAPR__CEL_MAX_DEPTH)
            return perr(p, p->tok.pos, "expression nested too deeply (limit %d)",
                        DAPR__CEL_MAX_DEPTH);
        ops[n] = p->tok.type == T_NOT ? '!' : '-';
        pos[n++] = p->tok.pos;
        if (next(p))
            return NULL;
    }
    p->neg_pending = n > 0 && ops[n - 1] == '-';
    node_t *e = parse_member(p);
    if (e && e->kind == N_LIT && e->folded) {
        e->folded = 0;
        n--;
    }
    while (e && n > 0) {
        n--;
        node_t *u = mk(p, N_UNARY, pos[n], e, NULL, NULL);
        if (u)
            u->op = ops[n];
        e = u;
    }
    return e;
}

static node_t *binary(parser_t *p, int op, size_t pos, node_t *a, node_t *b)
{
    node_t *n = mk(p, N_BINARY, pos, a, b, NULL);
    if (n)
        n->op = (uint8_t)op;
    return n;
}

static node_t *parse_mul(parser_t *p)
{
    node_t *e = parse_unary(p);
    while (e && (p->tok.type == T_STAR || p->tok.type == T_SLASH || p->tok.type == T_PERCENT)) {
        int op = p->tok.type == T_STAR ? OP_MUL : p->tok.type == T_SLASH ? OP_DIV : OP_MOD;
        size_t pos = p->tok.pos;
        node_t *r;
        if (next(p) || !(r = parse_unary(p)))
            return NULL;
        e = binary(p, op, pos, e, r);
    }
    return e;
}

static node_t *parse_add(parser_t *p)
{
    node_t *e = parse_mul(p);
    while (e && (p->tok.type == T_PLUS || p->tok.type == T_MINUS)) {
        int op = p->tok.type == T_PLUS ? OP_ADD : OP_SUB;
        size_t pos = p->tok.pos;
        node_t *r;
        if (next(p) || !(r = parse_mul(p)))
            return NULL;
        e = binary(p, op, pos, e, r);
    }
    return e;
}

static int relop(int type)
{
    switch (type) {
    case T_EQ: return OP_EQ;
    case T_NE: return OP_NE;
    case T_LT: return OP_LT;
    case T_LE: return OP_LE;
    case T_GT: return OP_GT;
    case T_GE: return OP_GE;
    case T_IN: return OP_IN;
    default: return -1;
    }
}

static node_t *parse_rel(parser_t *p)
{
    node_t *e = parse_add(p);
    int op;
    while (e && (op = relop(p->tok.type)) >= 0) {
        size_t pos = p->tok.pos;
        node_t *r;
        if (next(p) || !(r = parse_add(p)))
            return NULL;
        e = binary(p, op, pos, e, r);
    }
    return e;
}

/* a && b && c (or ||) as one node with a list of operands */
static node_t *parse_chain(parser_t *p, int optok, int kind, node_t *(*sub)(parser_t *))
{
    node_t *first = sub(p);
    if (!first || p->tok.type != optok)
        return first;
    size_t pos = p->tok.pos, n = 1;
    node_t *last = first;
    while (p->tok.type == optok) {
        if (next(p) || !(last->next = sub(p)))
            return NULL;
        last = last->next;
        n++;
    }
    node_t *c = mk(p, kind, pos, first, NULL, NULL);
    if (c)
        c->n = n;
    return c;
}

static node_t *parse_and(parser_t *p) { return parse_chain(p, T_AND, N_AND, parse_rel); }
static node_t *parse_or(parser_t *p) { return parse_chain(p, T_OR, N_OR, parse_and); }

static node_t *parse_expr(parser_t *p)
{
    if (++p->depth > DAPR__CEL_MAX_DEPTH)
        return perr(p, p->tok.pos, "expression nested too deeply (limit %d)", DAPR__CEL_MAX_DEPTH);
    node_t *e = parse_or(p);
    if (e && p->tok.type == T_QUEST) {
        size_t pos = p->tok.pos;
        node_t *a, *b;
        if (next(p) || !(a = parse_or(p)) || expect(p, T_COLON, "':'") || !(b = parse_expr(p)))
            return NULL;
        e = mk(p, N_COND, pos, e, a, b);
    }
    p->depth--;
    return e;
}

dapr__cel_t *dapr__cel_compile(const char *src, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    parser_t p = {.src = src ? src : "", .err = err, .errlen = errlen};
    p.len = strlen(p.src);
    if (p.len > DAPR__CEL_MAX_LEN) {
        if (err && errlen)
            snprintf(err, errlen, "expression too long (%zu bytes, limit %d)", p.len,
                     DAPR__CEL_MAX_LEN);
        return NULL;
    }
    dapr__cel_t *e = dapr__malloc(sizeof(*e));
    if (!e) {
        poom(&p);
        return NULL;
    }
    dapr__pool_init(&e->pool, 4096);
    p.pool = &e->pool;
    if (!lex(&p)) {
        if (p.tok.type == T_EOF)
            perr(&p, 0, "empty expression");
        else if ((e->root = parse_expr(&p)) && p.tok.type != T_EOF)
            unexpected(&p);
    }
    if (p.failed) {
        dapr__cel_free(e);
        return NULL;
    }
    return e;
}

void dapr__cel_free(dapr__cel_t *e)
{
    if (!e)
        return;
    dapr__pool_destroy(&e->pool);
    dapr__free(e);
}

/* ---- values ------------------------------------------------------------- */

/* A runtime value. Strings, lists and maps usually borrow from the variables
 * or the AST; `owned` marks the ones built here (concatenations, list
 * literals), released by val_free. */
typedef struct val {
    uint8_t kind;
    uint8_t owned;
    const json_t *j; /* V_MAP; V_LIST backed by a JSON array */
    union {
        int b;
        int64_t i;
        uint64_t u;
        double d;
        struct {
            const char *p;
            size_t n;
        } s;
        struct {
            struct val *items;
            size_t n;
        } l; /* V_LIST from a literal (j == NULL) */
    };
} val_t;

typedef struct ctx {
    const json_t *vars;
    char msg[256];
} ctx_t;

static int fail(ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
    va_end(ap);
    return DAPR_EINVAL;
}

static int oom(ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "out of memory");
    return DAPR_ENOMEM;
}

static const char *tname(const val_t *v)
{
    static const char *const names[] = {"null_type", "bool", "int",  "uint",
                                        "double",    "string", "list", "map"};
    return names[v->kind];
}

static void from_json(const json_t *j, val_t *out)
{
    memset(out, 0, sizeof(*out));
    switch (json_typeof(j)) {
    case JSON_OBJECT: out->kind = V_MAP; out->j = j; break;
    case JSON_ARRAY: out->kind = V_LIST; out->j = j; break;
    case JSON_STRING:
        out->kind = V_STRING;
        out->s.p = json_string_value(j);
        out->s.n = json_string_length(j);
        break;
    case JSON_INTEGER: out->kind = V_INT; out->i = json_integer_value(j); break;
    case JSON_REAL: out->kind = V_DOUBLE; out->d = json_real_value(j); break;
    case JSON_TRUE: out->kind = V_BOOL; out->b = 1; break;
    case JSON_FALSE: out->kind = V_BOOL; out->b = 0; break;
    default: out->kind = V_NULL; break;
    }
}

static void val_free(val_t *v)
{
    if (!v->owned)
        return;
    if (v->kind == V_STRING) {
        dapr__free((char *)v->s.p);
    } else if (v->kind == V_LIST) {
        for (size_t i = 0; i < v->l.n; i++)
            val_free(&v->l.items[i]);
        dapr__free(v->l.items);
    }
    v->owned = 0;
}

static void mkbool(val_t *out, int b)
{
    memset(out, 0, sizeof(*out));
    out->kind = V_BOOL;
    out->b = !!b;
}

static size_t list_len(const val_t *l) { return l->j ? json_array_size(l->j) : l->l.n; }

/* Borrowed view of element i (i < list_len). */
static void list_at(const val_t *l, size_t i, val_t *out)
{
    if (l->j) {
        from_json(json_array_get(l->j, i), out);
    } else {
        *out = l->l.items[i];
        out->owned = 0;
    }
}

static int isnum(const val_t *v)
{
    return v->kind == V_INT || v->kind == V_UINT || v->kind == V_DOUBLE;
}

static int cmp_i_d(int64_t i, double d)
{
    if (isnan(d))
        return 2;
    if (d >= 0x1p63)
        return -1;
    if (d < -0x1p63)
        return 1;
    int64_t t = (int64_t)d; /* trunc(d) is exact in a double, so d - t is the fraction */
    if (i != t)
        return i < t ? -1 : 1;
    double f = d - (double)t;
    return f > 0 ? -1 : f < 0 ? 1 : 0;
}

static int cmp_u_d(uint64_t u, double d)
{
    if (isnan(d))
        return 2;
    if (d < 0)
        return 1;
    if (d >= 0x1p64)
        return -1;
    uint64_t t = (uint64_t)d;
    if (u != t)
        return u < t ? -1 : 1;
    return d - (double)t > 0 ? -1 : 0;
}

/* Numeric order across int/uint/double without losing precision: -1, 0, 1,
 * or 2 when a NaN makes them unordered. */
static int num_cmp(const val_t *x, const val_t *y)
{
    switch (x->kind * 8 + y->kind) {
    case V_INT * 8 + V_INT: return x->i < y->i ? -1 : x->i > y->i;
    case V_UINT * 8 + V_UINT: return x->u < y->u ? -1 : x->u > y->u;
    case V_INT * 8 + V_UINT: return x->i < 0 || (uint64_t)x->i < y->u ? -1 : (uint64_t)x->i > y->u;
    case V_UINT * 8 + V_INT: return -num_cmp(y, x);
    case V_INT * 8 + V_DOUBLE: return cmp_i_d(x->i, y->d);
    case V_UINT * 8 + V_DOUBLE: return cmp_u_d(x->u, y->d);
    case V_DOUBLE * 8 + V_INT: { int r = cmp_i_d(y->i, x->d); return r == 2 ? 2 : -r; }
    case V_DOUBLE * 8 + V_UINT: { int r = cmp_u_d(y->u, x->d); return r == 2 ? 2 : -r; }
    default:
        if (isnan(x->d) || isnan(y->d))
            return 2;
        return x->d < y->d ? -1 : x->d > y->d;
    }
}

/* CEL heterogeneous equality: values of different kinds are unequal, numbers
 * compare by value. 1, 0, or an error when nesting is too deep to walk. */
static int val_eq(ctx_t *c, const val_t *x, const val_t *y, int depth)
{
    if (depth > MAX_VALUE_DEPTH)
        return fail(c, "values nested too deeply to compare (limit %d)", MAX_VALUE_DEPTH);
    if (isnum(x) && isnum(y))
        return num_cmp(x, y) == 0;
    if (x->kind != y->kind)
        return 0;
    switch (x->kind) {
    case V_NULL: return 1;
    case V_BOOL: return x->b == y->b;
    case V_STRING: return x->s.n == y->s.n && !memcmp(x->s.p, y->s.p, x->s.n);
    case V_LIST: {
        size_t n = list_len(x);
        if (n != list_len(y))
            return 0;
        for (size_t i = 0; i < n; i++) {
            val_t a, b;
            list_at(x, i, &a);
            list_at(y, i, &b);
            int r = val_eq(c, &a, &b, depth + 1);
            if (r != 1)
                return r;
        }
        return 1;
    }
    default: { /* V_MAP */
        if (json_object_size(x->j) != json_object_size(y->j))
            return 0;
        const char *k;
        size_t kl;
        json_t *xv;
        json_object_keylen_foreach((json_t *)x->j, k, kl, xv)
        {
            json_t *yv = json_object_getn(y->j, k, kl);
            if (!yv)
                return 0;
            val_t a, b;
            from_json(xv, &a);
            from_json(yv, &b);
            int r = val_eq(c, &a, &b, depth + 1);
            if (r != 1)
                return r;
        }
        return 1;
    }
    }
}

/* ---- evaluation --------------------------------------------------------- */

static int eval(ctx_t *c, const node_t *n, val_t *out);

static int no_overload(ctx_t *c, const char *fn, const val_t *x, const val_t *y)
{
    if (y)
        return fail(c, "no matching overload for '%s' applied to (%s, %s)", fn, tname(x), tname(y));
    return fail(c, "no matching overload for '%s' applied to (%s)", fn, tname(x));
}

static int eval_select(ctx_t *c, const node_t *n, val_t *out)
{
    val_t m;
    int rc = eval(c, n->a, &m);
    if (rc)
        return rc;
    if (m.kind != V_MAP) {
        rc = fail(c, "type '%s' does not support field selection ('.%s')", tname(&m), n->s);
        val_free(&m);
        return rc;
    }
    json_t *v = json_object_getn(m.j, n->s, n->slen);
    if (!v)
        return fail(c, "no such key: '%s'", n->s);
    from_json(v, out);
    return 0;
}

static int eval_has(ctx_t *c, const node_t *n, val_t *out)
{
    const node_t *sel = n->a;
    val_t m;
    int rc = eval(c, sel->a, &m);
    if (rc)
        return rc;
    if (m.kind != V_MAP) {
        rc = fail(c, "has(): type '%s' does not support field selection ('.%s')", tname(&m),
                  sel->s);
        val_free(&m);
        return rc;
    }
    mkbool(out, json_object_getn(m.j, sel->s, sel->slen) != NULL);
    return 0;
}

static int index_list(ctx_t *c, val_t *l, const val_t *k, val_t *out)
{
    size_t len = list_len(l);
    uint64_t i;
    if (k->kind == V_INT && k->i >= 0)
        i = (uint64_t)k->i;
    else if (k->kind == V_UINT)
        i = k->u;
    else if (k->kind == V_INT)
        return fail(c, "index out of range: %lld", (long long)k->i);
    else
        return fail(c, "unsupported list index type '%s'", tname(k));
    if (i >= len)
        return fail(c, "index out of range: %llu", (unsigned long long)i);
    if (l->j) {
        from_json(json_array_get(l->j, (size_t)i), out);
    } else {
        /* move the element out: the list is freed right after */
        *out = l->l.items[i];
        l->l.items[i].owned = 0;
    }
    return 0;
}

static int eval_index(ctx_t *c, const node_t *n, val_t *out)
{
    val_t x, k;
    int rc = eval(c, n->a, &x);
    if (rc)
        return rc;
    if ((rc = eval(c, n->b, &k))) {
        val_free(&x);
        return rc;
    }
    if (x.kind == V_MAP) {
        json_t *v = k.kind == V_STRING ? json_object_getn(x.j, k.s.p, k.s.n) : NULL;
        if (v)
            from_json(v, out);
        else if (k.kind == V_STRING)
            rc = fail(c, "no such key: '%.*s'", (int)(k.s.n > 64 ? 64 : k.s.n), k.s.p);
        else
            rc = fail(c, "no such key of type '%s'", tname(&k));
    } else if (x.kind == V_LIST) {
        rc = index_list(c, &x, &k, out);
    } else {
        rc = no_overload(c, "_[_]", &x, &k);
    }
    val_free(&k);
    val_free(&x);
    return rc;
}

static int eval_list(ctx_t *c, const node_t *n, val_t *out)
{
    val_t *items = dapr__calloc(n->n ? n->n : 1, sizeof(*items));
    if (!items)
        return oom(c);
    size_t i = 0;
    int rc = 0;
    for (const node_t *k = n->a; k; k = k->next, i++)
        if ((rc = eval(c, k, &items[i])))
            break;
    memset(out, 0, sizeof(*out));
    out->kind = V_LIST;
    out->owned = 1;
    out->l.items = items;
    out->l.n = i;
    if (rc)
        val_free(out);
    return rc;
}

static size_t utf8_count(const char *s, size_t n)
{
    size_t cps = 0;
    for (size_t i = 0; i < n; i++)
        cps += ((unsigned char)s[i] & 0xC0) != 0x80;
    return cps;
}

static int apply_call(ctx_t *c, int fn, const val_t *x, const val_t *y, val_t *out)
{
    if (fn == F_SIZE) {
        memset(out, 0, sizeof(*out));
        out->kind = V_INT;
        if (x->kind == V_STRING)
            out->i = (int64_t)utf8_count(x->s.p, x->s.n);
        else if (x->kind == V_LIST)
            out->i = (int64_t)list_len(x);
        else if (x->kind == V_MAP)
            out->i = (int64_t)json_object_size(x->j);
        else
            return no_overload(c, "size", x, NULL);
        return 0;
    }
    if (x->kind != V_STRING || y->kind != V_STRING)
        return no_overload(c, fn_names[fn], x, y);
    const char *s = x->s.p, *t = y->s.p;
    size_t sn = x->s.n, tn = y->s.n;
    if (fn == F_STARTS)
        mkbool(out, tn <= sn && !memcmp(s, t, tn));
    else if (fn == F_ENDS)
        mkbool(out, tn <= sn && !memcmp(s + sn - tn, t, tn));
    else
        mkbool(out, tn == 0 || (tn <= sn && memmem(s, sn, t, tn)));
    return 0;
}

static int eval_call(ctx_t *c, const node_t *n, val_t *out)
{
    val_t v[2];
    int nv = 0, rc = 0;
    if (n->a && (rc = eval(c, n->a, &v[nv++])))
        return rc;
    if (n->b && (rc = eval(c, n->b, &v[nv++]))) {
        if (nv > 1)
            val_free(&v[0]);
        return rc;
    }
    rc = apply_call(c, n->op, &v[0], nv > 1 ? &v[1] : NULL, out);
    for (int i = 0; i < nv; i++)
        val_free(&v[i]);
    return rc;
}

/* && and || with CEL's commutative error handling: a deciding operand (false
 * for &&, true for ||) wins over errors on either side; otherwise the first
 * error is the result. */
static int eval_logic(ctx_t *c, const node_t *n, val_t *out)
{
    int is_and = n->kind == N_AND, err_rc = 0;
    char saved[sizeof(c->msg)];
    for (const node_t *k = n->a; k; k = k->next) {
        val_t v;
        int rc = eval(c, k, &v);
        if (rc == DAPR_ENOMEM)
            return rc;
        if (!rc && v.kind == V_BOOL) {
            if (v.b != is_and) {
                mkbool(out, !is_and);
                return 0;
            }
            continue;
        }
        if (!rc) {
            rc = no_overload(c, is_and ? "_&&_" : "_||_", &v, NULL);
            val_free(&v);
        }
        if (!err_rc) {
            err_rc = rc;
            memcpy(saved, c->msg, sizeof(saved));
        }
    }
    if (err_rc) {
        memcpy(c->msg, saved, sizeof(saved));
        return err_rc;
    }
    mkbool(out, is_and);
    return 0;
}

static int eval_cond(ctx_t *c, const node_t *n, val_t *out)
{
    val_t v;
    int rc = eval(c, n->a, &v);
    if (rc)
        return rc;
    if (v.kind != V_BOOL) {
        rc = no_overload(c, "_?_:_", &v, NULL);
        val_free(&v);
        return rc;
    }
    return eval(c, v.b ? n->b : n->c, out);
}

static int eval_unary(ctx_t *c, const node_t *n, val_t *out)
{
    val_t v;
    int rc = eval(c, n->a, &v);
    if (rc)
        return rc;
    if (n->op == '!' && v.kind == V_BOOL) {
        mkbool(out, !v.b);
    } else if (n->op == '-' && v.kind == V_INT) {
        if (v.i == INT64_MIN)
            return fail(c, "integer overflow");
        *out = v;
        out->i = -v.i;
    } else if (n->op == '-' && v.kind == V_DOUBLE) {
        *out = v;
        out->d = -v.d;
    } else {
        rc = no_overload(c, n->op == '!' ? "!_" : "-_", &v, NULL);
        val_free(&v);
    }
    return rc;
}

static int arith_int(ctx_t *c, int op, int64_t x, int64_t y, val_t *out)
{
    int64_t r = 0;
    int ovf = 0;
    switch (op) {
    case OP_ADD: ovf = __builtin_add_overflow(x, y, &r); break;
    case OP_SUB: ovf = __builtin_sub_overflow(x, y, &r); break;
    case OP_MUL: ovf = __builtin_mul_overflow(x, y, &r); break;
    default:
        if (y == 0)
            return fail(c, op == OP_DIV ? "division by zero" : "modulus by zero");
        if (x == INT64_MIN && y == -1)
            ovf = 1;
        else
            r = op == OP_DIV ? x / y : x % y;
    }
    if (ovf)
        return fail(c, "integer overflow");
    out->kind = V_INT;
    out->i = r;
    return 0;
}

static int arith_uint(ctx_t *c, int op, uint64_t x, uint64_t y, val_t *out)
{
    uint64_t r = 0;
    int ovf = 0;
    switch (op) {
    case OP_ADD: ovf = __builtin_add_overflow(x, y, &r); break;
    case OP_SUB: ovf = __builtin_sub_overflow(x, y, &r); break;
    case OP_MUL: ovf = __builtin_mul_overflow(x, y, &r); break;
    default:
        if (y == 0)
            return fail(c, op == OP_DIV ? "division by zero" : "modulus by zero");
        r = op == OP_DIV ? x / y : x % y;
    }
    if (ovf)
        return fail(c, "unsigned integer overflow");
    out->kind = V_UINT;
    out->u = r;
    return 0;
}

static double as_double(const val_t *v)
{
    return v->kind == V_INT ? (double)v->i : v->kind == V_UINT ? (double)v->u : v->d;
}

static int arith(ctx_t *c, int op, const val_t *x, const val_t *y, val_t *out)
{
    memset(out, 0, sizeof(*out));
    if (op == OP_ADD && x->kind == V_STRING && y->kind == V_STRING) {
        char *s = dapr__malloc(x->s.n + y->s.n + 1);
        if (!s)
            return oom(c);
        memcpy(s, x->s.p, x->s.n);
        memcpy(s + x->s.n, y->s.p, y->s.n);
        s[x->s.n + y->s.n] = 0;
        out->kind = V_STRING;
        out->owned = 1;
        out->s.p = s;
        out->s.n = x->s.n + y->s.n;
        return 0;
    }
    if (!isnum(x) || !isnum(y) || (op == OP_MOD && (x->kind == V_DOUBLE || y->kind == V_DOUBLE)))
        return no_overload(c, op_names[op], x, y);
    if (x->kind == V_INT && y->kind == V_INT)
        return arith_int(c, op, x->i, y->i, out);
    if (x->kind == V_UINT && y->kind == V_UINT)
        return arith_uint(c, op, x->u, y->u, out);
    if (op == OP_MOD)
        return no_overload(c, op_names[op], x, y);
    /* mixed kinds: promote (see cel.h) */
    double a = as_double(x), b = as_double(y);
    out->kind = V_DOUBLE;
    out->d = op == OP_ADD ? a + b : op == OP_SUB ? a - b : op == OP_MUL ? a * b : a / b;
    return 0;
}

static int compare(ctx_t *c, int op, const val_t *x, const val_t *y, val_t *out)
{
    int r;
    if (isnum(x) && isnum(y))
        r = num_cmp(x, y);
    else if (x->kind == V_STRING && y->kind == V_STRING) {
        size_t n = x->s.n < y->s.n ? x->s.n : y->s.n;
        r = memcmp(x->s.p, y->s.p, n);
        r = r ? (r < 0 ? -1 : 1) : x->s.n < y->s.n ? -1 : x->s.n > y->s.n;
    } else if (x->kind == V_BOOL && y->kind == V_BOOL)
        r = x->b - y->b;
    else
        return no_overload(c, op_names[op], x, y);
    if (r == 2) /* NaN: every ordering is false */
        mkbool(out, 0);
    else
        mkbool(out, op == OP_LT ? r < 0 : op == OP_LE ? r <= 0 : op == OP_GT ? r > 0 : r >= 0);
    return 0;
}

static int member_of(ctx_t *c, const val_t *x, const val_t *y, val_t *out)
{
    if (y->kind == V_MAP) {
        mkbool(out, x->kind == V_STRING && json_object_getn(y->j, x->s.p, x->s.n));
        return 0;
    }
    if (y->kind != V_LIST)
        return no_overload(c, "@in", x, y);
    size_t n = list_len(y);
    for (size_t i = 0; i < n; i++) {
        val_t e;
        list_at(y, i, &e);
        int r = val_eq(c, x, &e, 1);
        if (r < 0)
            return r;
        if (r) {
            mkbool(out, 1);
            return 0;
        }
    }
    mkbool(out, 0);
    return 0;
}

static int eval_binary(ctx_t *c, const node_t *n, val_t *out)
{
    val_t x, y;
    int rc = eval(c, n->a, &x);
    if (rc)
        return rc;
    if ((rc = eval(c, n->b, &y))) {
        val_free(&x);
        return rc;
    }
    switch (n->op) {
    case OP_EQ:
    case OP_NE:
        if ((rc = val_eq(c, &x, &y, 0)) >= 0) {
            mkbool(out, rc == (n->op == OP_EQ));
            rc = 0;
        }
        break;
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: rc = compare(c, n->op, &x, &y, out); break;
    case OP_IN: rc = member_of(c, &x, &y, out); break;
    default: rc = arith(c, n->op, &x, &y, out); break;
    }
    val_free(&x);
    val_free(&y);
    return rc;
}

static int eval(ctx_t *c, const node_t *n, val_t *out)
{
    memset(out, 0, sizeof(*out));
    switch (n->kind) {
    case N_LIT:
        out->kind = n->op;
        if (n->op == V_STRING) {
            out->s.p = n->s;
            out->s.n = n->slen;
        } else {
            out->u = n->lit.u; /* copies whichever member is set */
            if (n->op == V_BOOL)
                out->b = n->lit.b;
        }
        return 0;
    case N_IDENT: {
        json_t *v = c->vars ? json_object_getn(c->vars, n->s, n->slen) : NULL;
        if (!v)
            return fail(c, "undeclared reference to '%s'", n->s);
        from_json(v, out);
        return 0;
    }
    case N_SELECT: return eval_select(c, n, out);
    case N_HAS: return eval_has(c, n, out);
    case N_INDEX: return eval_index(c, n, out);
    case N_LIST: return eval_list(c, n, out);
    case N_CALL: return eval_call(c, n, out);
    case N_UNARY: return eval_unary(c, n, out);
    case N_BINARY: return eval_binary(c, n, out);
    case N_AND:
    case N_OR: return eval_logic(c, n, out);
    default: return eval_cond(c, n, out);
    }
}

int dapr__cel_eval(const dapr__cel_t *e, const json_t *vars, char *err, size_t errlen)
{
    ctx_t c = {.vars = vars};
    val_t v;
    int rc;
    if (err && errlen)
        err[0] = 0;
    if (!e)
        rc = fail(&c, "no expression");
    else if (vars && !json_is_object(vars))
        rc = fail(&c, "variables must be a JSON object");
    else if (!(rc = eval(&c, e->root, &v))) {
        if (v.kind == V_BOOL)
            rc = v.b ? 1 : 0;
        else
            rc = fail(&c, "expression result is '%s', not bool", tname(&v));
        val_free(&v);
    }
    if (rc < 0 && err && errlen)
        snprintf(err, errlen, "%s", c.msg);
    return rc;
}
