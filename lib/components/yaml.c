/* YAML reader: libyaml events → node tree (see yaml.h). */
#include "components/yaml.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/alloc.h"
#include "core/map.h"
#include "core/strutil.h"
#include "dapr/common.h"

#define TAG_STR "tag:yaml.org,2002:str"
#define TAG_NULL "tag:yaml.org,2002:null"

/* A collection being built: its children collect here until its end event. */
typedef struct frame {
    dapr__yaml_node_t *node;
    const char *anchor;
    dapr__yaml_node_t **kids; /* mappings: key, value, key, value... */
    size_t n, cap;
} frame_t;

typedef struct builder {
    dapr__yaml_stream_t *s;
    dapr__yaml_err_t *err;
    frame_t stack[DAPR__YAML_MAX_DEPTH];
    int depth;
    size_t total;       /* nodes in the stream, aliases expanded */
    dapr__map_t anchors; /* name → node, per document */
    dapr__yaml_node_t *root;
    int doc_line;
    size_t docs_cap;
} builder_t;

static int mark_line(yaml_mark_t m)
{
    return m.line >= (size_t)INT_MAX ? INT_MAX : (int)m.line + 1;
}

static int fail(builder_t *b, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(builder_t *b, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    b->err->line = line;
    vsnprintf(b->err->msg, sizeof(b->err->msg), fmt, ap);
    va_end(ap);
    return DAPR_EPARSE;
}

static int oom(dapr__yaml_err_t *err)
{
    err->line = 0;
    snprintf(err->msg, sizeof(err->msg), "out of memory");
    return DAPR_ENOMEM;
}

/* Every node, and every alias as the copy it stands for, counts against the
 * cap: this is what keeps alias bombs from expanding in later walks. */
static int count(builder_t *b, size_t n, int line)
{
    if (n > DAPR__YAML_MAX_NODES - b->total)
        return fail(b, line, "document too large: more than %d nodes (aliases expanded)",
                    DAPR__YAML_MAX_NODES);
    b->total += n;
    return 0;
}

static int new_node(builder_t *b, dapr__yaml_kind_t kind, const yaml_event_t *ev,
                    const yaml_char_t *tag, dapr__yaml_node_t **out)
{
    int line = mark_line(ev->start_mark);
    int rc = count(b, 1, line);
    if (rc)
        return rc;
    dapr__yaml_node_t *n = dapr__pool_calloc(&b->s->pool, sizeof(*n));
    if (!n)
        return oom(b->err);
    n->kind = kind;
    n->line = line;
    n->text = "";
    n->weight = 1;
    n->height = 1;
    if (tag && !(n->tag = dapr__pool_strdup(&b->s->pool, (const char *)tag)))
        return oom(b->err);
    *out = n;
    return 0;
}

/* Hand a finished node to the open collection, or make it the root. */
static int attach(builder_t *b, dapr__yaml_node_t *n)
{
    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    frame_t *f = &b->stack[b->depth - 1];
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        dapr__yaml_node_t **k = dapr__realloc(f->kids, cap * sizeof(*k));
        if (!k)
            return oom(b->err);
        f->kids = k;
        f->cap = cap;
    }
    f->kids[f->n++] = n;
    return 0;
}

static int set_anchor(builder_t *b, const char *name, dapr__yaml_node_t *n)
{
    void *old;
    if (!name)
        return 0;
    if (dapr__map_put(&b->anchors, name, strlen(name), n, &old))
        return oom(b->err);
    return 0;
}

static dapr__yaml_style_t map_style(yaml_scalar_style_t st)
{
    switch (st) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE: return DAPR__YAML_SQUOTED;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return DAPR__YAML_DQUOTED;
    case YAML_LITERAL_SCALAR_STYLE: return DAPR__YAML_LITERAL;
    case YAML_FOLDED_SCALAR_STYLE: return DAPR__YAML_FOLDED;
    default: return DAPR__YAML_PLAIN;
    }
}

static int on_scalar(builder_t *b, const yaml_event_t *ev)
{
    dapr__yaml_node_t *n;
    int rc = new_node(b, DAPR__YAML_SCALAR, ev, ev->data.scalar.tag, &n);
    if (rc)
        return rc;
    n->style = map_style(ev->data.scalar.style);
    n->len = ev->data.scalar.length;
    n->text = dapr__pool_strndup(&b->s->pool, (const char *)ev->data.scalar.value, n->len);
    if (!n->text)
        return oom(b->err);
    if ((rc = set_anchor(b, (const char *)ev->data.scalar.anchor, n)))
        return rc;
    return attach(b, n);
}

static int on_start(builder_t *b, const yaml_event_t *ev, dapr__yaml_kind_t kind)
{
    int line = mark_line(ev->start_mark);
    if (b->depth >= DAPR__YAML_MAX_DEPTH)
        return fail(b, line, "nesting deeper than %d levels", DAPR__YAML_MAX_DEPTH);
    const yaml_char_t *tag, *anchor;
    if (kind == DAPR__YAML_MAP)
        tag = ev->data.mapping_start.tag, anchor = ev->data.mapping_start.anchor;
    else
        tag = ev->data.sequence_start.tag, anchor = ev->data.sequence_start.anchor;
    frame_t *f = &b->stack[b->depth];
    memset(f, 0, sizeof(*f));
    int rc = new_node(b, kind, ev, tag, &f->node);
    if (rc)
        return rc;
    /* the anchor is registered at the end, so `&a [*a]` is an undefined
     * alias rather than a cycle */
    if (anchor && !(f->anchor = dapr__pool_strdup(&b->s->pool, (const char *)anchor)))
        return oom(b->err);
    b->depth++;
    return 0;
}

/* Move the collected children into the pool and size the subtree. */
static int finish_collection(builder_t *b, frame_t *f)
{
    dapr__yaml_node_t *n = f->node;
    for (size_t i = 0; i < f->n; i++) {
        n->weight += f->kids[i]->weight;
        if (f->kids[i]->height + 1 > n->height)
            n->height = f->kids[i]->height + 1;
    }
    if (!f->n)
        return 0;
    if (n->kind == DAPR__YAML_MAP) {
        n->n = f->n / 2;
        if (!(n->pairs = dapr__pool_alloc(&b->s->pool, n->n * sizeof(*n->pairs))))
            return oom(b->err);
        for (size_t i = 0; i < n->n; i++) {
            n->pairs[i].key = f->kids[2 * i];
            n->pairs[i].value = f->kids[2 * i + 1];
        }
    } else {
        n->n = f->n;
        if (!(n->items = dapr__pool_alloc(&b->s->pool, n->n * sizeof(*n->items))))
            return oom(b->err);
        memcpy(n->items, f->kids, n->n * sizeof(*n->items));
    }
    return 0;
}

static int on_end(builder_t *b)
{
    if (b->depth == 0) /* libyaml pairs start/end events; be defensive */
        return fail(b, 0, "unbalanced collection end");
    frame_t *f = &b->stack[--b->depth];
    int rc = finish_collection(b, f);
    dapr__free(f->kids);
    f->kids = NULL;
    if (!rc)
        rc = set_anchor(b, f->anchor, f->node);
    if (!rc)
        rc = attach(b, f->node);
    return rc;
}

static int on_alias(builder_t *b, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    int line = mark_line(ev->start_mark);
    dapr__yaml_node_t *a = dapr__map_get(&b->anchors, name, strlen(name));
    if (!a)
        return fail(b, line, "undefined alias \"%s\"", name);
    if (b->depth + a->height > DAPR__YAML_MAX_DEPTH)
        return fail(b, line, "nesting deeper than %d levels (through alias \"%s\")",
                    DAPR__YAML_MAX_DEPTH, name);
    int rc = count(b, a->weight, line);
    return rc ? rc : attach(b, a);
}

static int on_doc_end(builder_t *b)
{
    dapr__yaml_stream_t *s = b->s;
    if (s->n_docs == b->docs_cap) {
        size_t cap = b->docs_cap ? b->docs_cap * 2 : 4;
        dapr__yaml_doc_t *d = dapr__realloc(s->docs, cap * sizeof(*d));
        if (!d)
            return oom(b->err);
        s->docs = d;
        b->docs_cap = cap;
    }
    s->docs[s->n_docs].root = b->root;
    s->docs[s->n_docs].line = b->doc_line;
    s->n_docs++;
    b->root = NULL;
    /* anchors are scoped to their document */
    dapr__map_free(&b->anchors);
    dapr__map_init(&b->anchors);
    return 0;
}

static int on_event(builder_t *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        b->doc_line = mark_line(ev->start_mark);
        b->root = NULL;
        return 0;
    case YAML_DOCUMENT_END_EVENT: return b->root ? on_doc_end(b) : 0;
    case YAML_SCALAR_EVENT: return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT: return on_start(b, ev, DAPR__YAML_SEQ);
    case YAML_MAPPING_START_EVENT: return on_start(b, ev, DAPR__YAML_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: return on_end(b);
    case YAML_ALIAS_EVENT: return on_alias(b, ev);
    default: return 0;
    }
}

/* Reader errors (bad UTF-8, control characters) carry a byte offset only. */
static int offset_line(const char *data, size_t len, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off && i < len; i++)
        if (data[i] == '\n' && line < INT_MAX)
            line++;
    return line;
}

static int parser_fail(builder_t *b, const yaml_parser_t *p, const char *data, size_t len)
{
    const char *problem = p->problem ? p->problem : "syntax error";
    if (p->error == YAML_MEMORY_ERROR)
        return oom(b->err);
    if (p->error == YAML_READER_ERROR) {
        int line = offset_line(data, len, p->problem_offset);
        if (p->problem_value != -1)
            return fail(b, line, "%s (0x%02x)", problem, (unsigned)p->problem_value);
        return fail(b, line, "%s", problem);
    }
    int line = mark_line(p->problem_mark);
    /* "unexpected end of stream" points past the last line; the construct
     * left open (an unclosed quote, bracket) is where the fix goes */
    if (p->context && p->problem_mark.index >= len)
        line = mark_line(p->context_mark);
    if (p->context)
        return fail(b, line, "%s (%s at line %d)", problem, p->context,
                    mark_line(p->context_mark));
    return fail(b, line, "%s", problem);
}

static void builder_free(builder_t *b)
{
    for (int i = 0; i < b->depth; i++)
        dapr__free(b->stack[i].kids);
    b->depth = 0;
    dapr__map_free(&b->anchors);
}

int dapr__yaml_parse(dapr__yaml_stream_t *s, const char *data, size_t len, dapr__yaml_err_t *err)
{
    builder_t b;
    memset(&b, 0, sizeof(b));
    memset(s, 0, sizeof(*s));
    dapr__pool_init(&s->pool, 16384);
    err->line = 0;
    err->msg[0] = '\0';
    b.s = s;
    b.err = err;
    dapr__map_init(&b.anchors);

    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return oom(err);
    yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = parser_fail(&b, &p, data, len);
            break;
        }
        rc = on_event(&b, &ev);
        bool end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (rc || end)
            break;
    }
    yaml_parser_delete(&p);
    builder_free(&b);
    return rc;
}

void dapr__yaml_free(dapr__yaml_stream_t *s)
{
    if (!s)
        return;
    dapr__free(s->docs);
    s->docs = NULL;
    s->n_docs = 0;
    dapr__pool_destroy(&s->pool);
}

/* ---- lookups ---------------------------------------------------------- */

static bool key_is(const dapr__yaml_node_t *k, const char *key, size_t klen, bool fold)
{
    if (k->kind != DAPR__YAML_SCALAR)
        return false;
    if (!fold)
        return k->len == klen && !memcmp(k->text, key, klen);
    return k->len == klen && dapr__strieq_n(k->text, k->len, key);
}

const dapr__yaml_pair_t *dapr__yaml_find(const dapr__yaml_node_t *map, const char *key, bool fold)
{
    if (!map || map->kind != DAPR__YAML_MAP || !key)
        return NULL;
    size_t klen = strlen(key);
    for (size_t i = map->n; i-- > 0;)
        if (key_is(map->pairs[i].key, key, klen, false))
            return &map->pairs[i];
    if (fold)
        for (size_t i = map->n; i-- > 0;)
            if (key_is(map->pairs[i].key, key, klen, true))
                return &map->pairs[i];
    return NULL;
}

const dapr__yaml_node_t *dapr__yaml_get(const dapr__yaml_node_t *map, const char *key)
{
    const dapr__yaml_pair_t *p = dapr__yaml_find(map, key, false);
    return p ? p->value : NULL;
}

const dapr__yaml_node_t *dapr__yaml_path(const dapr__yaml_node_t *n, const char *path)
{
    char step[256];
    while (n && path && *path) {
        const char *dot = strchr(path, '.');
        size_t l = dot ? (size_t)(dot - path) : strlen(path);
        if (l >= sizeof(step))
            return NULL;
        memcpy(step, path, l);
        step[l] = '\0';
        n = dapr__yaml_get(n, step);
        path = dot ? dot + 1 : NULL;
    }
    return n;
}

const char *dapr__yaml_str(const dapr__yaml_node_t *n)
{
    return n && n->kind == DAPR__YAML_SCALAR ? n->text : NULL;
}

const char *dapr__yaml_path_str(const dapr__yaml_node_t *n, const char *path)
{
    return dapr__yaml_str(dapr__yaml_path(n, path));
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return true;
    return false;
}

bool dapr__yaml_is_null(const dapr__yaml_node_t *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    if (!n)
        return true;
    if (n->kind != DAPR__YAML_SCALAR)
        return false;
    if (n->tag)
        return !strcmp(n->tag, TAG_NULL);
    return n->style == DAPR__YAML_PLAIN && in_list(n->text, nulls);
}

const char *dapr__yaml_kind_name(const dapr__yaml_node_t *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case DAPR__YAML_MAP: return "mapping";
    case DAPR__YAML_SEQ: return "sequence";
    default: return "scalar";
    }
}

/* ---- YAML → JSON ------------------------------------------------------ */

static int digit_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

/* Go's strconv.ParseInt(s, 0, 64) after yaml.v2 dropped the underscores:
 * sign, then 0x / 0o / 0b / leading-0 octal / decimal. */
static bool parse_go_int(const char *s, json_int_t *out)
{
    bool neg = false;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16, s += 2;
    else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
        base = 8, s += 2;
    else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
        base = 2, s += 2;
    else if (s[0] == '0' && s[1])
        base = 8, s += 1;
    if (!*s)
        return false;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s; s++) {
        int d = digit_val((unsigned char)*s);
        if (d >= base || v > (lim - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = neg ? (json_int_t)(0 - v) : (json_int_t)v;
    return true;
}

/* yaml.v2's float pattern: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_yaml_float(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    size_t ip = strspn(s, "0123456789");
    s += ip;
    if (*s == '.') {
        size_t fp = strspn(s + 1, "0123456789");
        if (!ip && !fp)
            return false;
        s += 1 + fp;
    } else if (!ip) {
        return false;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        size_t ep = strspn(s, "0123456789");
        if (!ep)
            return false;
        s += ep;
    }
    return *s == '\0';
}

static json_t *plain_number(const char *text)
{
    char tmp[128];
    size_t j = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '_')
            continue;
        if (j + 1 >= sizeof(tmp))
            return NULL;
        tmp[j++] = *p;
    }
    tmp[j] = '\0';
    json_int_t iv;
    if (parse_go_int(tmp, &iv))
        return json_integer(iv);
    if (is_yaml_float(tmp)) {
        double d = strtod(tmp, NULL);
        if (isfinite(d)) /* JSON has no inf */
            return json_real(d);
    }
    return NULL;
}

static json_t *scalar_json(const dapr__yaml_node_t *n)
{
    static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
                                      "on", "On", "ON", NULL};
    static const char *const no[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE",
                                     "off", "Off", "OFF", NULL};
    bool str = n->style != DAPR__YAML_PLAIN || (n->tag && !strcmp(n->tag, TAG_STR)) ||
               strlen(n->text) != n->len;
    if (!str) {
        if (dapr__yaml_is_null(n))
            return json_null();
        if (in_list(n->text, yes))
            return json_true();
        if (in_list(n->text, no))
            return json_false();
        json_t *num = plain_number(n->text);
        if (num)
            return num;
    }
    return json_stringn_nocheck(n->text, n->len);
}

static json_t *to_json(const dapr__yaml_node_t *n, dapr__yaml_err_t *err);

static json_t *map_json(const dapr__yaml_node_t *n, dapr__yaml_err_t *err)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < n->n; i++) {
        const dapr__yaml_node_t *k = n->pairs[i].key;
        if (k->kind != DAPR__YAML_SCALAR) {
            err->line = k->line;
            snprintf(err->msg, sizeof(err->msg), "a %s cannot be a JSON object key",
                     dapr__yaml_kind_name(k));
            json_decref(o);
            return NULL;
        }
        json_t *v = to_json(n->pairs[i].value, err);
        /* set_new_nocheck: keys need not be valid UTF-8 for our purposes */
        if (!v || json_object_setn_new_nocheck(o, k->text, k->len, v)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *to_json(const dapr__yaml_node_t *n, dapr__yaml_err_t *err)
{
    if (n->kind == DAPR__YAML_SCALAR)
        return scalar_json(n);
    if (n->kind == DAPR__YAML_MAP)
        return map_json(n, err);
    json_t *a = json_array();
    for (size_t i = 0; a && i < n->n; i++) {
        json_t *v = to_json(n->items[i], err);
        if (!v || json_array_append_new(a, v)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *dapr__yaml_to_json(const dapr__yaml_node_t *n, dapr__yaml_err_t *err)
{
    err->line = 0;
    snprintf(err->msg, sizeof(err->msg), "out of memory");
    return n ? to_json(n, err) : json_null();
}
