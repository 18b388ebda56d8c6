/* The resources loader: YAML files in --resources-path directories turned
 * into typed resources (Component now; Subscription, Resiliency,
 * HTTPEndpoint and Configuration as their building blocks land).
 *
 * Parsing goes through a small YAML node tree (yaml.h) so every later kind
 * reuses the same reader, and every error names file, line and problem.
 */
#ifndef DAPR_COMPONENTS_RESOURCES_H
#define DAPR_COMPONENTS_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

typedef struct dapr__res_md {
    char *name;
    char *value;        /* plain value (YAML scalars of any type, as text); NULL with secretKeyRef/envRef */
    char *secret_name;  /* secretKeyRef.name, or NULL */
    char *secret_key;   /* secretKeyRef.key, or NULL */
    char *env_ref;      /* envRef, or NULL */
    int line;
} dapr__res_md_t;

typedef struct dapr__res_component {
    char *file;          /* path of the file it came from */
    int line;            /* line of the document start */
    char *name;          /* metadata.name (required) */
    char *namespace_;    /* metadata.namespace or NULL */
    char *type;          /* spec.type (required), e.g. "state.redis" */
    char *version;       /* spec.version, "v1" when absent (uncertain in Dapr; v1 is what every sample uses) */
    int64_t init_timeout_ms; /* spec.initTimeout, default 5000 */
    bool ignore_errors;  /* spec.ignoreErrors */
    char *secret_store;  /* auth.secretStore or auth.secretstore, or NULL */
    dapr__res_md_t *md;
    size_t n_md;
    char **scopes;
    size_t n_scopes;
} dapr__res_component_t;

typedef struct dapr__resources {
    dapr__res_component_t *components;
    size_t n_components;
} dapr__resources_t;

void dapr__resources_init(dapr__resources_t *r);
void dapr__resources_free(dapr__resources_t *r);

/* Parse one file's bytes (may hold several `---` documents) and append what
 * it declares. Documents of kinds not handled yet are skipped with a debug
 * log. Documents without apiVersion/kind (not Dapr resources) are skipped.
 * On error returns DAPR_EPARSE (or DAPR_ENOMEM) and sets *err to a malloc'd
 * text "<file>:<line>: <problem>" (free with dapr__free); resources parsed
 * before the error stay appended. `lg` may be NULL. */
int dapr__resources_parse(dapr__resources_t *r, const char *file, const char *data, size_t len,
                          const dapr__logger_t *lg, char **err);

/* Read every *.yaml / *.yml file of dir (not recursive, sorted by name) and
 * parse it. A missing or unreadable dir is an error. Same error contract.
 * (Blocking file reads: called once at start-up, before the loop serves.) */
int dapr__resources_load_dir(dapr__resources_t *r, const char *dir, const dapr__logger_t *lg,
                             char **err);

/* Whether app_id may load a resource with these scopes (empty = everyone). */
bool dapr__res_in_scope(char *const *scopes, size_t n_scopes, const char *app_id);

/* Expand Dapr's template tags in a metadata value: {uuid}, {appID},
 * {namespace}, {podName} (podName = hostname here). Returns malloc'd text. */
char *dapr__res_expand(const char *value, const char *app_id, const char *ns);

#endif
