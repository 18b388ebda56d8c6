/* `kind: Resiliency` documents → dapr__res_resiliency_t (see resources.h),
 * and the circuit-breaker trip expression compiler.
 *
 * Field names match as Go's encoding/json matches them (exact, then ASCII
 * case-insensitive), since Dapr reads the YAML through JSON into its CRD
 * structs. Values are checked here so a typo stops start-up with file and
 * line; which policy a name refers to is resolved later, when the runtime
 * merges every document in scope (lib/runtime/resiliency.c).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/resources.h"
#include "components/resources_int.h"
#include "components/yaml.h"
#include "core/alloc.h"
#include "core/strutil.h"
#include "dapr/common.h"

typedef dapr__yaml_node_t node_t;
typedef dapr__res_ctx_t ctx_t;

#define DEFAULT_TRIP "consecutiveFailures > 5"

/* ---- trip expressions ---------------------------------------------------- */

enum {
    T_END = 0, T_INT, T_IDENT, T_TRUE, T_FALSE, T_LP, T_RP, T_AND, T_OR, T_NOT, T_MINUS,
    T_GT, T_GE, T_LT, T_LE, T_EQ, T_NE
};

/* program opcodes; CMP's arg is the token of its operator */
enum { OP_INT = 1, OP_VAR, OP_BOOL, OP_CMP, OP_AND, OP_OR, OP_NOT };

static const char *const trip_vars[] = {"requests", "totalSuccesses", "totalFailures",
                                        "consecutiveSuccesses", "consecutiveFailures"};

#define TRIP_MAX_DEPTH 32

typedef struct trip_parser {
    const char *p;
    int tok;
    int64_t val; /* T_INT value, T_IDENT variable index */
    dapr__trip_t *t;
    char *err;
    size_t errlen;
    int depth;
} trip_parser_t;

enum { TY_INT = 1, TY_BOOL };

static int trip_err(trip_parser_t *tp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int trip_err(trip_parser_t *tp, const char *fmt, ...)
{
    if (tp->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tp->err, tp->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool is_ident_char(char ch, bool first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           (!first && ch >= '0' && ch <= '9');
}

static int lex_word(trip_parser_t *tp)
{
    const char *s = tp->p;
    size_t n = 0;
    while (is_ident_char(s[n], n == 0))
        n++;
    tp->p += n;
    if (n == 4 && !memcmp(s, "true", 4))
        return tp->tok = T_TRUE;
    if (n == 5 && !memcmp(s, "false", 5))
        return tp->tok = T_FALSE;
    for (size_t i = 0; i < sizeof(trip_vars) / sizeof(trip_vars[0]); i++) {
        if (strlen(trip_vars[i]) == n && !memcmp(s, trip_vars[i], n)) {
            tp->val = (int64_t)i;
            return tp->tok = T_IDENT;
        }
    }
    return trip_err(tp, "unknown variable \"%.*s\" (use requests, totalSuccesses, "
                        "totalFailures, consecutiveSuccesses or consecutiveFailures)",
                    (int)n, s);
}

static int lex_int(trip_parser_t *tp)
{
    int64_t v = 0;
    while (*tp->p >= '0' && *tp->p <= '9') {
        int d = *tp->p++ - '0';
        if (v > (INT64_MAX - d) / 10)
            return trip_err(tp, "integer out of range");
        v = v * 10 + d;
    }
    if (is_ident_char(*tp->p, false))
        return trip_err(tp, "bad number near \"%s\"", tp->p);
    tp->val = v;
    return tp->tok = T_INT;
}

/* Two-character operators first, then one-character ones. */
static int lex_op(trip_parser_t *tp)
{
    static const struct {
        const char *s;
        int tok;
    } ops[] = {{">=", T_GE}, {"<=", T_LE}, {"==", T_EQ}, {"!=", T_NE}, {"&&", T_AND},
               {"||", T_OR}, {">", T_GT},  {"<", T_LT},  {"!", T_NOT},  {"(", T_LP},
               {")", T_RP},  {"-", T_MINUS}};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        size_t n = strlen(ops[i].s);
        if (!strncmp(tp->p, ops[i].s, n)) {
            tp->p += n;
            return tp->tok = ops[i].tok;
        }
    }
    return trip_err(tp, "unexpected character '%c'", *tp->p);
}

static int lex(trip_parser_t *tp)
{
    while (*tp->p == ' ' || *tp->p == '\t' || *tp->p == '\n' || *tp->p == '\r')
        tp->p++;
    if (!*tp->p)
        return tp->tok = T_END;
    if (*tp->p >= '0' && *tp->p <= '9')
        return lex_int(tp);
    if (is_ident_char(*tp->p, true))
        return lex_word(tp);
    return lex_op(tp);
}

static int emit(trip_parser_t *tp, int op, int64_t arg)
{
    if (tp->t->n >= DAPR__TRIP_MAX_CODE)
        return trip_err(tp, "expression too long");
    tp->t->code[tp->t->n].op = (uint8_t)op;
    tp->t->code[tp->t->n].arg = arg;
    tp->t->n++;
    return 0;
}

static int parse_or(trip_parser_t *tp);

/* primary := INT | '-' INT | IDENT | true | false | '(' or ')' */
static int parse_primary(trip_parser_t *tp)
{
    int tok = tp->tok, ty;
    int64_t v = tp->val;
    switch (tok) {
    case T_MINUS:
        if (lex(tp) < 0)
            return -1;
        if (tp->tok != T_INT)
            return trip_err(tp, "'-' must precede a number");
        v = -tp->val;
        /* fall through */
    case T_INT:
        ty = emit(tp, OP_INT, v) ? -1 : TY_INT;
        break;
    case T_IDENT:
        ty = emit(tp, OP_VAR, v) ? -1 : TY_INT;
        break;
    case T_TRUE:
    case T_FALSE:
        ty = emit(tp, OP_BOOL, tok == T_TRUE) ? -1 : TY_BOOL;
        break;
    case T_LP:
        if (++tp->depth > TRIP_MAX_DEPTH)
            return trip_err(tp, "too deeply nested");
        if (lex(tp) < 0 || (ty = parse_or(tp)) < 0)
            return -1;
        if (tp->tok != T_RP)
            return trip_err(tp, "missing ')'");
        tp->depth--;
        break;
    case T_END:
        return trip_err(tp, "unexpected end of expression");
    default:
        return trip_err(tp, "unexpected operator near \"%s\"", tp->p);
    }
    if (ty < 0 || lex(tp) < 0)
        return -1;
    return ty;
}

/* cmp := primary [relop primary] */
static int parse_cmp(trip_parser_t *tp)
{
    int ty = parse_primary(tp);
    if (ty < 0 || tp->tok < T_GT)
        return ty;
    int op = tp->tok;
    if (ty != TY_INT)
        return trip_err(tp, "only numbers can be compared");
    if (lex(tp) < 0 || (ty = parse_primary(tp)) < 0)
        return -1;
    if (ty != TY_INT)
        return trip_err(tp, "only numbers can be compared");
    if (tp->tok >= T_GT)
        return trip_err(tp, "comparisons do not chain; use &&");
    return emit(tp, OP_CMP, op) ? -1 : TY_BOOL;
}

/* unary := '!' unary | cmp */
static int parse_unary(trip_parser_t *tp)
{
    if (tp->tok != T_NOT)
        return parse_cmp(tp);
    if (++tp->depth > TRIP_MAX_DEPTH)
        return trip_err(tp, "too deeply nested");
    int ty;
    if (lex(tp) < 0 || (ty = parse_unary(tp)) < 0)
        return -1;
    tp->depth--;
    if (ty != TY_BOOL)
        return trip_err(tp, "'!' needs a condition");
    return emit(tp, OP_NOT, 0) ? -1 : TY_BOOL;
}

/* A chain of `next` joined by tok (&& or ||), emitting op after each. */
static int parse_chain(trip_parser_t *tp, int (*next)(trip_parser_t *), int tok, int op)
{
    int ty = next(tp);
    while (ty >= 0 && tp->tok == tok) {
        if (ty != TY_BOOL)
            return trip_err(tp, "%s needs conditions on both sides", tok == T_AND ? "&&" : "||");
        if (lex(tp) < 0 || (ty = next(tp)) < 0)
            return -1;
        if (ty != TY_BOOL)
            return trip_err(tp, "%s needs conditions on both sides", tok == T_AND ? "&&" : "||");
        if (emit(tp, op, 0))
            return -1;
    }
    return ty;
}

static int parse_and(trip_parser_t *tp)
{
    return parse_chain(tp, parse_unary, T_AND, OP_AND);
}

static int parse_or(trip_parser_t *tp)
{
    return parse_chain(tp, parse_and, T_OR, OP_OR);
}

int dapr__trip_compile(const char *src, dapr__trip_t *t, char *err, size_t errlen)
{
    trip_parser_t tp = {src ? src : "", 0, 0, t, err, errlen, 0};
    memset(t, 0, sizeof(*t));
    if (errlen)
        err[0] = '\0';
    int ty = lex(&tp) < 0 ? -1 : parse_or(&tp);
    if (ty >= 0 && tp.tok != T_END)
        ty = trip_err(&tp, "unexpected text near \"%s\"", tp.p);
    if (ty >= 0 && ty != TY_BOOL)
        ty = trip_err(&tp, "must be a condition, e.g. \"consecutiveFailures > 5\"");
    if (ty < 0) {
        memset(t, 0, sizeof(*t));
        return DAPR_EPARSE;
    }
    return 0;
}

static bool compare(int op, int64_t a, int64_t b)
{
    switch (op) {
    case T_GT: return a > b;
    case T_GE: return a >= b;
    case T_LT: return a < b;
    case T_LE: return a <= b;
    case T_EQ: return a == b;
    default: return a != b;
    }
}

bool dapr__trip_eval(const dapr__trip_t *t, const dapr__trip_counts_t *c)
{
    const int64_t vars[] = {c->requests, c->total_successes, c->total_failures,
                            c->consecutive_successes, c->consecutive_failures};
    int64_t st[DAPR__TRIP_MAX_CODE];
    int sp = 0;
    for (unsigned i = 0; i < t->n; i++) {
        int64_t arg = t->code[i].arg;
        switch (t->code[i].op) {
        case OP_INT: st[sp++] = arg; break;
        case OP_VAR: st[sp++] = vars[arg]; break;
        case OP_BOOL: st[sp++] = arg; break;
        case OP_NOT: st[sp - 1] = !st[sp - 1]; break;
        case OP_AND: sp--; st[sp - 1] = st[sp - 1] && st[sp]; break;
        case OP_OR: sp--; st[sp - 1] = st[sp - 1] || st[sp]; break;
        default: sp--; st[sp - 1] = compare((int)arg, st[sp - 1], st[sp]); break;
        }
    }
    return sp == 1 && st[0]; /* an empty (uncompiled) program never trips */
}

/* ---- defaults and freeing ------------------------------------------------ */

void dapr__res_retry_defaults(dapr__res_retry_t *rt)
{
    memset(rt, 0, sizeof(*rt));
    rt->policy = DAPR__RES_BACKOFF_CONSTANT;
    rt->duration_ms = 5000;
    rt->max_interval_ms = 60000;
    rt->max_retries = -1;
    rt->initial_interval_ms = 500;
    rt->randomization_factor = 0.5;
    rt->multiplier = 1.5;
    rt->max_elapsed_ms = 15 * 60 * 1000;
}

void dapr__res_breaker_defaults(dapr__res_breaker_t *cb)
{
    memset(cb, 0, sizeof(*cb));
    cb->max_requests = 1;
    cb->interval_ms = 0;
    cb->timeout_ms = 60000;
    dapr__trip_compile(DEFAULT_TRIP, &cb->trip, NULL, 0);
}

static void free_refs(dapr__res_policy_refs_t *p)
{
    dapr__free(p->timeout.name);
    dapr__free(p->retry.name);
    dapr__free(p->breaker.name);
}

static void free_targets(dapr__res_target_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dapr__free(t[i].name);
        free_refs(&t[i].p);
        free_refs(&t[i].outbound);
        free_refs(&t[i].inbound);
    }
    dapr__free(t);
}

static void free_resiliency(dapr__res_resiliency_t *rs)
{
    dapr__free(rs->file);
    dapr__free(rs->name);
    dapr__free(rs->namespace_);
    for (size_t i = 0; i < rs->n_scopes; i++)
        dapr__free(rs->scopes[i]);
    dapr__free(rs->scopes);
    for (size_t i = 0; i < rs->n_timeouts; i++)
        dapr__free(rs->timeouts[i].name);
    dapr__free(rs->timeouts);
    for (size_t i = 0; i < rs->n_retries; i++) {
        dapr__free(rs->retries[i].name);
        dapr__free(rs->retries[i].http_codes);
        dapr__free(rs->retries[i].grpc_codes);
    }
    dapr__free(rs->retries);
    for (size_t i = 0; i < rs->n_breakers; i++) {
        dapr__free(rs->breakers[i].name);
        dapr__free(rs->breakers[i].trip_src);
    }
    dapr__free(rs->breakers);
    free_targets(rs->apps, rs->n_apps);
    free_targets(rs->actors, rs->n_actors);
    free_targets(rs->components, rs->n_components);
    memset(rs, 0, sizeof(*rs));
}

void dapr__res_free_resiliencies(dapr__resources_t *r)
{
    for (size_t i = 0; i < r->n_resiliencies; i++)
        free_resiliency(&r->resiliencies[i]);
    dapr__free(r->resiliencies);
    r->resiliencies = NULL;
    r->n_resiliencies = 0;
}

/* ---- values -------------------------------------------------------------- */

/* A duration field: Go duration or bare integer milliseconds, >= 0. */
static int parse_ms(const ctx_t *c, const char *s, int line, const char *what, int64_t *out)
{
    int64_t v, ns;
    if (!dapr__parse_int(s, &v)) {
        if (v < 0)
            return dapr__res_fail(c, line, "%s: must not be negative, got \"%s\"", what, s);
        *out = v;
        return 0;
    }
    if (dapr__parse_duration(s, false, &ns))
        return dapr__res_fail(c, line,
                              "%s: invalid duration \"%s\" (e.g. \"5s\", \"500ms\", \"1m30s\")",
                              what, s);
    if (ns < 0)
        return dapr__res_fail(c, line, "%s: must not be negative, got \"%s\"", what, s);
    *out = ns / 1000000 + (ns % 1000000 != 0); /* round up: 1us is not 0 */
    return 0;
}

/* Optional duration field `key` of map into *out (untouched when absent). */
static int get_ms(const ctx_t *c, const node_t *map, const char *key, const char *path,
                  int64_t *out)
{
    const char *s;
    int line;
    char what[256];
    snprintf(what, sizeof(what), "%s.%s", path, key);
    int rc = dapr__res_get_text(c, map, key, what, &s, &line);
    if (rc || !s || !*s)
        return rc;
    return parse_ms(c, s, line, what, out);
}

/* Optional integer field in [lo, hi]. */
static int get_int(const ctx_t *c, const node_t *map, const char *key, const char *path,
                   int64_t lo, int64_t hi, int64_t *out)
{
    const char *s;
    int line;
    int64_t v;
    char what[256];
    snprintf(what, sizeof(what), "%s.%s", path, key);
    int rc = dapr__res_get_text(c, map, key, what, &s, &line);
    if (rc || !s || !*s)
        return rc;
    if (dapr__parse_int(s, &v))
        return dapr__res_fail(c, line, "%s: invalid integer \"%s\"", what, s);
    if (v < lo || v > hi)
        return dapr__res_fail(c, line, "%s: %lld is out of range (%lld..%lld)", what,
                              (long long)v, (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

/* Optional finite number field in [lo, hi]. */
static int get_num(const ctx_t *c, const node_t *map, const char *key, const char *path,
                   double lo, double hi, double *out)
{
    const char *s;
    int line;
    char what[256], *end;
    snprintf(what, sizeof(what), "%s.%s", path, key);
    int rc = dapr__res_get_text(c, map, key, what, &s, &line);
    if (rc || !s || !*s)
        return rc;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v))
        return dapr__res_fail(c, line, "%s: invalid number \"%s\"", what, s);
    if (v < lo || v > hi)
        return dapr__res_fail(c, line, "%s: %s is out of range (%g..%g)", what, s, lo, hi);
    *out = v;
    return 0;
}

/* "429,500-599": comma-separated codes and ranges within [lo, hi], as
 * Dapr's retry matching takes them; empty items are skipped. */
static int parse_codes(const ctx_t *c, const char *s, int line, const char *what, int lo, int hi,
                       dapr__res_code_range_t **out, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    dapr__res_code_range_t *a = dapr__calloc(cap, sizeof(*a));
    if (!a)
        return dapr__res_nomem(c);
    size_t k = 0;
    for (const char *p = s; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char item[32];
        long v1, v2;
        char *end;
        if (len && len < sizeof(item)) {
            memcpy(item, p, len);
            item[len] = '\0';
            v1 = strtol(item, &end, 10);
            v2 = *end == '-' ? strtol(end + 1, &end, 10) : v1;
            if (*end || end == item || item[0] == '-' || item[0] == '+' || v1 < lo || v2 > hi ||
                v1 > v2)
                len = sizeof(item); /* reported below */
            else
                a[k++] = (dapr__res_code_range_t){(int)v1, (int)v2};
        }
        if (len >= sizeof(item)) {
            dapr__free(a);
            return dapr__res_fail(c, line,
                                  "%s: invalid code or range \"%.*s\" (codes %d-%d, e.g. "
                                  "\"429,500-599\")",
                                  what, (int)(e ? (size_t)(e - p) : strlen(p)), p, lo, hi);
        }
        p += len + (e != NULL);
    }
    if (!k) {
        dapr__free(a);
        a = NULL;
    }
    *out = a;
    *n = k;
    return 0;
}

/* ---- policies -------------------------------------------------------------- */

/* Iterate a mapping field of named entries: checks shape and key scalars. */
typedef int (*entry_fn)(const ctx_t *c, const char *path, const dapr__yaml_pair_t *pair,
                        void *slot);

static int each_entry(const ctx_t *c, const node_t *parent, const char *key, const char *path,
                      size_t elem, void **arr, size_t *n, entry_fn fn)
{
    const node_t *map;
    int key_line;
    char where[128];
    snprintf(where, sizeof(where), "%s.%s", path, key);
    int rc = dapr__res_get_map(c, parent, key, &map, &key_line);
    if (rc || !map || !map->n)
        return rc;
    if (!(*arr = dapr__calloc(map->n, elem)))
        return dapr__res_nomem(c);
    for (size_t i = 0; i < map->n; i++) {
        const dapr__yaml_pair_t *p = &map->pairs[i];
        if (p->key->kind != DAPR__YAML_SCALAR || !*p->key->text)
            return dapr__res_fail(c, p->key->line, "%s: names must be non-empty strings", where);
        *n = i + 1; /* so a partial entry is freed too */
        if ((rc = fn(c, where, p, (char *)*arr + i * elem)))
            return rc;
    }
    return 0;
}

static int parse_timeout(const ctx_t *c, const char *path, const dapr__yaml_pair_t *pair,
                         void *slot)
{
    dapr__res_timeout_t *t = slot;
    const node_t *v = pair->value;
    char what[256];
    t->line = pair->key->line;
    int rc = dapr__res_dup(c, pair->key->text, &t->name);
    if (rc)
        return rc;
    snprintf(what, sizeof(what), "%s.%s", path, t->name);
    if (v->kind != DAPR__YAML_SCALAR)
        return dapr__res_fail(c, v->line, "%s must be a duration, not a %s", what,
                              dapr__yaml_kind_name(v));
    if (dapr__yaml_is_null(v) || !*v->text)
        return dapr__res_fail(c, v->line, "%s: a duration is required", what);
    return parse_ms(c, v->text, v->line, what, &t->ms);
}

/* A named entry's value must be a mapping (null: all defaults). */
static int entry_map(const ctx_t *c, const char *what, const node_t *v, const node_t **out)
{
    *out = NULL;
    if (dapr__yaml_is_null(v))
        return 0;
    if (v->kind != DAPR__YAML_MAP)
        return dapr__res_fail(c, v->line, "%s must be a mapping, not a %s", what,
                              dapr__yaml_kind_name(v));
    *out = v;
    return 0;
}

static int parse_backoff_kind(const ctx_t *c, const node_t *m, const char *what,
                              dapr__res_retry_t *rt)
{
    const char *s;
    int line;
    char field[300];
    snprintf(field, sizeof(field), "%s.policy", what);
    int rc = dapr__res_get_text(c, m, "policy", field, &s, &line);
    if (rc || !s || !*s)
        return rc;
    if (!dapr__strcasecmp(s, "constant"))
        rt->policy = DAPR__RES_BACKOFF_CONSTANT;
    else if (!dapr__strcasecmp(s, "exponential"))
        rt->policy = DAPR__RES_BACKOFF_EXPONENTIAL;
    else
        return dapr__res_fail(c, line, "%s: unknown policy \"%s\" (constant or exponential)",
                              field, s);
    return 0;
}

static int parse_matching(const ctx_t *c, const node_t *m, const char *what,
                          dapr__res_retry_t *rt)
{
    const node_t *match;
    const char *http, *grpc;
    int line, hline, gline;
    char path[300], field[330];
    snprintf(path, sizeof(path), "%s.matching", what);
    int rc = dapr__res_get_map(c, m, "matching", &match, &line);
    if (rc || !match)
        return rc;
    snprintf(field, sizeof(field), "%s.httpStatusCodes", path);
    if ((rc = dapr__res_get_text(c, match, "httpStatusCodes", field, &http, &hline)))
        return rc;
    if (http && (rc = parse_codes(c, http, hline, field, 100, 599, &rt->http_codes,
                                  &rt->n_http_codes)))
        return rc;
    snprintf(field, sizeof(field), "%s.gRPCStatusCodes", path);
    if ((rc = dapr__res_get_text(c, match, "gRPCStatusCodes", field, &grpc, &gline)))
        return rc;
    if (grpc)
        rc = parse_codes(c, grpc, gline, field, 0, 16, &rt->grpc_codes, &rt->n_grpc_codes);
    return rc;
}

static int parse_retry(const ctx_t *c, const char *path, const dapr__yaml_pair_t *pair,
                       void *slot)
{
    dapr__res_retry_t *rt = slot;
    const node_t *m;
    char what[256];
    dapr__res_retry_defaults(rt);
    rt->line = pair->key->line;
    int rc = dapr__res_dup(c, pair->key->text, &rt->name);
    if (rc)
        return rc;
    snprintf(what, sizeof(what), "%s.%s", path, rt->name);
    if ((rc = entry_map(c, what, pair->value, &m)) || !m)
        return rc;
    if (!rc)
        rc = parse_backoff_kind(c, m, what, rt);
    if (!rc)
        rc = get_ms(c, m, "duration", what, &rt->duration_ms);
    if (!rc)
        rc = get_ms(c, m, "maxInterval", what, &rt->max_interval_ms);
    if (!rc)
        rc = get_int(c, m, "maxRetries", what, -1, INT64_MAX, &rt->max_retries);
    if (!rc)
        rc = get_ms(c, m, "initialInterval", what, &rt->initial_interval_ms);
    if (!rc)
        rc = get_num(c, m, "randomizationFactor", what, 0, 1, &rt->randomization_factor);
    if (!rc)
        rc = get_num(c, m, "multiplier", what, 1, 1000, &rt->multiplier);
    if (!rc)
        rc = get_ms(c, m, "maxElapsedTime", what, &rt->max_elapsed_ms);
    if (!rc)
        rc = parse_matching(c, m, what, rt);
    return rc;
}

static int parse_trip(const ctx_t *c, const node_t *m, const char *what, dapr__res_breaker_t *cb)
{
    const char *s;
    int line;
    char field[300], why[160];
    snprintf(field, sizeof(field), "%s.trip", what);
    int rc = dapr__res_get_text(c, m, "trip", field, &s, &line);
    if (rc || !s || !*s)
        return rc;
    if (dapr__trip_compile(s, &cb->trip, why, sizeof(why)))
        return dapr__res_fail(c, line, "%s: invalid expression \"%s\": %s", field, s, why);
    dapr__free(cb->trip_src);
    cb->trip_src = NULL;
    return dapr__res_dup(c, s, &cb->trip_src);
}

static int parse_breaker(const ctx_t *c, const char *path, const dapr__yaml_pair_t *pair,
                         void *slot)
{
    dapr__res_breaker_t *cb = slot;
    const node_t *m;
    char what[256];
    int64_t max_req = 1;
    dapr__res_breaker_defaults(cb);
    cb->line = pair->key->line;
    int rc = dapr__res_dup(c, pair->key->text, &cb->name);
    if (!rc)
        rc = dapr__res_dup(c, DEFAULT_TRIP, &cb->trip_src);
    if (rc)
        return rc;
    snprintf(what, sizeof(what), "%s.%s", path, cb->name);
    if ((rc = entry_map(c, what, pair->value, &m)) || !m)
        return rc;
    if (!rc)
        rc = get_int(c, m, "maxRequests", what, 0, UINT32_MAX, &max_req);
    if (!rc)
        rc = get_ms(c, m, "interval", what, &cb->interval_ms);
    if (!rc)
        rc = get_ms(c, m, "timeout", what, &cb->timeout_ms);
    if (!rc)
        rc = parse_trip(c, m, what, cb);
    cb->max_requests = (uint32_t)max_req;
    return rc;
}

/* ---- targets ------------------------------------------------------------- */

static int get_ref(const ctx_t *c, const node_t *m, const char *key, const char *what,
                   dapr__res_ref_t *ref)
{
    const char *s;
    char field[300];
    snprintf(field, sizeof(field), "%s.%s", what, key);
    int rc = dapr__res_get_text(c, m, key, field, &s, &ref->line);
    if (rc || !s || !*s)
        return rc;
    return dapr__res_dup(c, s, &ref->name);
}

static int get_refs(const ctx_t *c, const node_t *m, const char *what,
                    dapr__res_policy_refs_t *p)
{
    int rc = get_ref(c, m, "timeout", what, &p->timeout);
    if (!rc)
        rc = get_ref(c, m, "retry", what, &p->retry);
    if (!rc)
        rc = get_ref(c, m, "circuitBreaker", what, &p->breaker);
    return rc;
}

/* Common head of a target: name, line, its mapping (NULL when null). */
static int target_head(const ctx_t *c, const char *path, const dapr__yaml_pair_t *pair,
                       dapr__res_target_t *t, char *what, size_t wlen, const node_t **m)
{
    t->line = pair->key->line;
    int rc = dapr__res_dup(c, pair->key->text, &t->name);
    if (rc)
        return rc;
    snprintf(what, wlen, "%s.%s", path, t->name);
    return entry_map(c, what, pair->value, m);
}

static int parse_app(const ctx_t *c, const char *path, const dapr__yaml_pair_t *pair, void *slot)
{
    dapr__res_target_t *t = slot;
    const node_t *m;
    char what[256];
    int rc = target_head(c, path, pair, t, what, sizeof(what), &m);
    if (rc || !m)
        return rc;
    if (!(rc = get_refs(c, m, what, &t->p)))
        rc = get_int(c, m, "circuitBreakerCacheSize", what, 0, INT32_MAX, &t->cb_cache_size);
    return rc;
}

static int parse_cb_scope(const ctx_t *c, const node_t *m, const char *what,
                          dapr__res_target_t *t)
{
    const char *s;
    int line;
    char field[300];
    snprintf(field, sizeof(field), "%s.circuitBreakerScope", what);
    int rc = dapr__res_get_text(c, m, "circuitBreakerScope", field, &s, &line);
    if (rc)
        return rc;
    if (!s || !*s) {
        if (t->p.breaker.name) /* Dapr refuses this too */
            return dapr__res_fail(c, t->p.breaker.line,
                                  "%s: an actor circuitBreaker needs circuitBreakerScope "
                                  "(id, type or both)",
                                  what);
        return 0;
    }
    if (!strcmp(s, "type"))
        t->cb_scope = DAPR__RES_CB_SCOPE_TYPE;
    else if (!strcmp(s, "id"))
        t->cb_scope = DAPR__RES_CB_SCOPE_ID;
    else if (!strcmp(s, "both"))
        t->cb_scope = DAPR__RES_CB_SCOPE_BOTH;
    else
        return dapr__res_fail(c, line, "%s: unknown scope \"%s\" (id, type or both)", field, s);
    return 0;
}

static int parse_actor(const ctx_t *c, const char *path, const dapr__yaml_pair_t *pair,
                       void *slot)
{
    dapr__res_target_t *t = slot;
    const node_t *m;
    char what[256];
    int rc = target_head(c, path, pair, t, what, sizeof(what), &m);
    if (rc || !m)
        return rc;
    if (!(rc = get_refs(c, m, what, &t->p)))
        rc = get_int(c, m, "circuitBreakerCacheSize", what, 0, INT32_MAX, &t->cb_cache_size);
    if (!rc)
        rc = parse_cb_scope(c, m, what, t);
    return rc;
}

static int parse_direction(const ctx_t *c, const node_t *m, const char *key, const char *what,
                           dapr__res_policy_refs_t *p)
{
    const node_t *d;
    int line;
    char field[300];
    int rc = dapr__res_get_map(c, m, key, &d, &line);
    if (rc || !d)
        return rc;
    snprintf(field, sizeof(field), "%s.%s", what, key);
    return get_refs(c, d, field, p);
}

static int parse_component_target(const ctx_t *c, const char *path,
                                  const dapr__yaml_pair_t *pair, void *slot)
{
    dapr__res_target_t *t = slot;
    const node_t *m;
    char what[256];
    int rc = target_head(c, path, pair, t, what, sizeof(what), &m);
    if (rc || !m)
        return rc;
    if (!(rc = parse_direction(c, m, "outbound", what, &t->outbound)))
        rc = parse_direction(c, m, "inbound", what, &t->inbound);
    return rc;
}

/* ---- the document ---------------------------------------------------------- */

static int parse_policies(const ctx_t *c, const node_t *spec, dapr__res_resiliency_t *rs)
{
    const node_t *pol;
    int line;
    const char *p = "spec.policies";
    int rc = dapr__res_get_map(c, spec, "policies", &pol, &line);
    if (rc || !pol)
        return rc;
    rc = each_entry(c, pol, "timeouts", p, sizeof(*rs->timeouts), (void **)&rs->timeouts,
                    &rs->n_timeouts, parse_timeout);
    if (!rc)
        rc = each_entry(c, pol, "retries", p, sizeof(*rs->retries), (void **)&rs->retries,
                        &rs->n_retries, parse_retry);
    if (!rc)
        rc = each_entry(c, pol, "circuitBreakers", p, sizeof(*rs->breakers),
                        (void **)&rs->breakers, &rs->n_breakers, parse_breaker);
    return rc;
}

static int parse_targets(const ctx_t *c, const node_t *spec, dapr__res_resiliency_t *rs)
{
    const node_t *tg;
    int line;
    const char *p = "spec.targets";
    int rc = dapr__res_get_map(c, spec, "targets", &tg, &line);
    if (rc || !tg)
        return rc;
    rc = each_entry(c, tg, "apps", p, sizeof(*rs->apps), (void **)&rs->apps, &rs->n_apps,
                    parse_app);
    if (!rc)
        rc = each_entry(c, tg, "actors", p, sizeof(*rs->actors), (void **)&rs->actors,
                        &rs->n_actors, parse_actor);
    if (!rc)
        rc = each_entry(c, tg, "components", p, sizeof(*rs->components),
                        (void **)&rs->components, &rs->n_components, parse_component_target);
    return rc;
}

static int parse_resiliency(dapr__res_ctx_t *c, const dapr__yaml_doc_t *doc,
                            dapr__res_resiliency_t *rs)
{
    const node_t *root = doc->root, *meta, *spec;
    const char *name, *ns;
    int meta_line, spec_line;
    rs->line = doc->line;
    int rc = dapr__res_dup(c, c->file, &rs->file);
    if (!rc)
        rc = dapr__res_get_map(c, root, "metadata", &meta, &meta_line);
    if (!rc)
        rc = dapr__res_get_text(c, meta, "name", "metadata.name", &name, NULL);
    if (!rc)
        rc = dapr__res_dup(c, name ? name : "", &rs->name);
    if (rc)
        return rc;
    c->comp = *rs->name ? rs->name : NULL;
    if ((rc = dapr__res_get_text(c, meta, "namespace", "metadata.namespace", &ns, NULL)))
        return rc;
    if (ns && *ns && (rc = dapr__res_dup(c, ns, &rs->namespace_)))
        return rc;
    if ((rc = dapr__res_get_scopes(c, root, &rs->scopes, &rs->n_scopes)))
        return rc;
    if ((rc = dapr__res_get_map(c, root, "spec", &spec, &spec_line)) || !spec)
        return rc;
    if ((rc = parse_policies(c, spec, rs)))
        return rc;
    return parse_targets(c, spec, rs);
}

static int append(dapr__resources_t *r, const dapr__res_resiliency_t *rs)
{
    size_t n = r->n_resiliencies;
    dapr__res_resiliency_t *a = dapr__realloc(r->resiliencies, (n + 1) * sizeof(*a));
    if (!a)
        return DAPR_ENOMEM;
    r->resiliencies = a;
    a[r->n_resiliencies++] = *rs;
    return 0;
}

int dapr__res_add_resiliency(dapr__res_ctx_t *c, const dapr__yaml_doc_t *doc,
                             dapr__resources_t *r)
{
    dapr__res_resiliency_t rs;
    memset(&rs, 0, sizeof(rs));
    int rc = parse_resiliency(c, doc, &rs);
    if (!rc && append(r, &rs))
        rc = dapr__res_nomem(c);
    if (rc)
        free_resiliency(&rs);
    return rc;
}
