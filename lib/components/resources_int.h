/* The resources loader's insides, shared by its per-kind parsers
 * (resources.c: documents, Component, directories; resiliency_spec.c:
 * Resiliency). Nothing outside lib/components includes this. */
#ifndef DAPR_COMPONENTS_RESOURCES_INT_H
#define DAPR_COMPONENTS_RESOURCES_INT_H

#include "components/resources.h"
#include "components/yaml.h"

/* What every error message needs: where we are and what we are reading. */
typedef struct dapr__res_ctx {
    const char *file;
    const dapr__logger_t *lg;
    char **err;
    const char *kind; /* "component", "resiliency" (error prefix), or NULL */
    const char *comp; /* name of the resource once known */
} dapr__res_ctx_t;

/* "<file>:<line>: [<kind> <name>: ]<problem>"; returns DAPR_EPARSE
 * (DAPR_ENOMEM when the text itself could not be built). */
int dapr__res_fail(const dapr__res_ctx_t *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "<file>: out of memory", DAPR_ENOMEM. */
int dapr__res_nomem(const dapr__res_ctx_t *c);
/* *out = copy of s (NULL stays NULL). */
int dapr__res_dup(const dapr__res_ctx_t *c, const char *s, char **out);
void dapr__res_debugf(const dapr__res_ctx_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Field getters, matching keys as Go's encoding/json does (exact, then
 * ASCII case-insensitive). Absent or null fields give NULL and no error;
 * a value of the wrong shape is an error naming `what` and its line. */
int dapr__res_get_text(const dapr__res_ctx_t *c, const dapr__yaml_node_t *map, const char *key,
                       const char *what, const char **out, int *line);
int dapr__res_get_map(const dapr__res_ctx_t *c, const dapr__yaml_node_t *map, const char *key,
                      const dapr__yaml_node_t **out, int *key_line);
int dapr__res_get_seq(const dapr__res_ctx_t *c, const dapr__yaml_node_t *map, const char *key,
                      const char *what, const dapr__yaml_node_t **out);
/* A `scopes:` sequence of app ids into *out / *n (malloc'd copies). */
int dapr__res_get_scopes(const dapr__res_ctx_t *c, const dapr__yaml_node_t *root, char ***out,
                         size_t *n);

/* A list of {name, value | secretKeyRef | envRef} under map[key] (Component
 * metadata, HTTPEndpoint headers); `what` names it in errors. */
int dapr__res_parse_pairs(const dapr__res_ctx_t *c, const dapr__yaml_node_t *map,
                          const char *key, const char *what, dapr__res_md_t **md, size_t *n);
void dapr__res_free_pairs(dapr__res_md_t *md, size_t n);

/* Parse one `kind: HTTPEndpoint` document and append it to r. */
int dapr__res_add_endpoint(dapr__res_ctx_t *c, const dapr__yaml_doc_t *doc,
                           dapr__resources_t *r);
void dapr__res_free_endpoints(dapr__resources_t *r);

/* Parse one `kind: Subscription` document and append it to r. */
int dapr__res_add_subscription(dapr__res_ctx_t *c, const dapr__yaml_doc_t *doc,
                               dapr__resources_t *r);
void dapr__res_free_subscriptions(dapr__resources_t *r);

/* Parse one `kind: Resiliency` document and append it to r. */
int dapr__res_add_resiliency(dapr__res_ctx_t *c, const dapr__yaml_doc_t *doc,
                             dapr__resources_t *r);
void dapr__res_free_resiliencies(dapr__resources_t *r);

#endif
