/* A small YAML reader: libyaml's event stream turned into a node tree per
 * document (scalars, mappings, sequences, each with its 1-based line), with
 * aliases resolved, plus lookup helpers. Every declarative resource
 * (Component, Subscription, Resiliency, Configuration, HTTPEndpoint) is read
 * through it, so its errors always carry a line.
 *
 * Memory: all nodes and texts of a stream live in the stream's pool and are
 * freed together by dapr__yaml_free. An alias shares the anchored node (the
 * tree is a DAG); node and depth caps are counted as if aliases were copied,
 * so walking the tree is bounded (no "billion laughs").
 */
#ifndef DAPR_COMPONENTS_YAML_H
#define DAPR_COMPONENTS_YAML_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/pool.h"

/* Per stream: nodes counted with aliases expanded; nesting depth. */
#define DAPR__YAML_MAX_NODES 100000
#define DAPR__YAML_MAX_DEPTH 64

typedef enum dapr__yaml_kind {
    DAPR__YAML_SCALAR = 1,
    DAPR__YAML_MAP,
    DAPR__YAML_SEQ
} dapr__yaml_kind_t;

/* How a scalar was written, so `"true"` and `true` can be told apart. */
typedef enum dapr__yaml_style {
    DAPR__YAML_PLAIN = 0,
    DAPR__YAML_SQUOTED, /* 'text' */
    DAPR__YAML_DQUOTED, /* "text" */
    DAPR__YAML_LITERAL, /* |  */
    DAPR__YAML_FOLDED   /* >  */
} dapr__yaml_style_t;

typedef struct dapr__yaml_node dapr__yaml_node_t;

typedef struct dapr__yaml_pair {
    dapr__yaml_node_t *key;
    dapr__yaml_node_t *value;
} dapr__yaml_pair_t;

struct dapr__yaml_node {
    dapr__yaml_kind_t kind;
    dapr__yaml_style_t style; /* scalars; PLAIN for collections */
    int line;                 /* 1-based line where the node starts */
    const char *tag;          /* explicit tag, resolved ("tag:yaml.org,2002:str"), or NULL */
    const char *text;         /* scalars: NUL-terminated text ("" for collections) */
    size_t len;               /* scalars: bytes of text (it may hold NULs) */
    size_t n;                 /* mappings: pairs; sequences: items */
    union {
        dapr__yaml_pair_t *pairs;  /* mappings, in document order */
        dapr__yaml_node_t **items; /* sequences */
    };
    size_t weight; /* private: nodes in this subtree, aliases expanded */
    int height;    /* private: levels in this subtree, aliases expanded */
};

typedef struct dapr__yaml_doc {
    dapr__yaml_node_t *root; /* never NULL: an empty document is an empty plain scalar */
    int line;                /* line of the document start (its `---` when explicit) */
} dapr__yaml_doc_t;

typedef struct dapr__yaml_stream {
    dapr__yaml_doc_t *docs;
    size_t n_docs;
    dapr__pool_t pool; /* private */
} dapr__yaml_stream_t;

typedef struct dapr__yaml_err {
    int line; /* 1-based; 0 when unknown */
    char msg[256];
} dapr__yaml_err_t;

/* Parse a whole buffer (UTF-8/16, may hold several `---` documents) into s.
 * data is borrowed. Returns 0, DAPR_EPARSE (syntax error, undefined alias,
 * node or depth cap; *err filled) or DAPR_ENOMEM. On error s still holds the
 * documents completed before it. Always call dapr__yaml_free(s) afterwards. */
int dapr__yaml_parse(dapr__yaml_stream_t *s, const char *data, size_t len, dapr__yaml_err_t *err);
void dapr__yaml_free(dapr__yaml_stream_t *s);

/* The pair whose key is the scalar `key` in mapping `map`, or NULL (also when
 * map is NULL or not a mapping). With duplicate keys the last one wins, as
 * with Go's decoders. With `fold`, an exact match is preferred, then an ASCII
 * case-insensitive one, as Go's encoding/json (and so Dapr) matches fields. */
const dapr__yaml_pair_t *dapr__yaml_find(const dapr__yaml_node_t *map, const char *key, bool fold);
/* Value of `key` (exact match) or NULL. */
const dapr__yaml_node_t *dapr__yaml_get(const dapr__yaml_node_t *map, const char *key);
/* Walk a dotted path of exact keys ("spec.type"); NULL when any step is
 * missing or not a mapping. */
const dapr__yaml_node_t *dapr__yaml_path(const dapr__yaml_node_t *n, const char *path);
/* Text of a scalar node, NULL for NULL or a collection. */
const char *dapr__yaml_str(const dapr__yaml_node_t *n);
/* dapr__yaml_str(dapr__yaml_path(n, path)). */
const char *dapr__yaml_path_str(const dapr__yaml_node_t *n, const char *path);
/* NULL, or an untagged plain scalar "", "~", "null", "Null" or "NULL". */
bool dapr__yaml_is_null(const dapr__yaml_node_t *n);
/* "scalar", "mapping", "sequence" (for error messages). */
const char *dapr__yaml_kind_name(const dapr__yaml_node_t *n);

/* Convert to a JSON value the way Dapr's YAML→JSON step does (YAML 1.1 plain
 * scalars: null, y/yes/on/true..., ints incl. 0x/0o/0b, floats; quoted and
 * block scalars and `!!str` stay strings; .inf/.nan become strings). New
 * reference, or NULL with *err filled (a non-scalar mapping key) — or on OOM
 * with err->line 0. */
json_t *dapr__yaml_to_json(const dapr__yaml_node_t *n, dapr__yaml_err_t *err);

#endif
