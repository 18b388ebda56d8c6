/* Dapr's Configuration resource (apiVersion dapr.io/v1alpha1, kind:
 * Configuration), read from the file(s) of daprd's --config flag in
 * standalone mode.
 *
 * Read the way Dapr's standalone loader reads it (pkg/config,
 * LoadStandaloneConfiguration): environment references ($VAR, ${VAR}) in the
 * file are expanded first (Go's os.ExpandEnv), only the first YAML document
 * counts, field names match exactly (gopkg.in/yaml.v3, not encoding/json), a
 * key defined twice in one mapping is an error, and several files are
 * applied in order on top of each other (a later file replaces the fields it
 * sets: features and nameResolution.configuration as a whole).
 *
 * Applied today: metadata.name/namespace, spec.nameResolution (component,
 * version, configuration) and spec.features. The other sections of Dapr
 * 1.16's spec (tracing, metric, metrics, mtls, secrets, accessControl, api,
 * httpPipeline, appHttpPipeline, components, logging, wasm, workflow) are
 * recognised and ignored with one debug log each; any other spec key is
 * ignored with a warning naming it. Errors name file and line.
 */
#ifndef DAPR_COMPONENTS_CONFIGURATION_H
#define DAPR_COMPONENTS_CONFIGURATION_H

#include <stdbool.h>
#include <stddef.h>

#include "core/log.h"
#include "dapr/common.h"

typedef struct dapr__config_feature {
    char *name; /* "" when absent */
    bool enabled;
    int line;
} dapr__config_feature_t;

typedef struct dapr__config {
    char *file;       /* the last file applied; NULL: no configuration */
    char *name;       /* metadata.name, or NULL */
    char *namespace_; /* metadata.namespace, or NULL */

    /* spec.nameResolution */
    char *nr_component; /* NULL: the standalone default (mdns) */
    char *nr_version;   /* NULL: "v1" */
    /* spec.nameResolution.configuration, one pair per top-level key: scalars
     * as written, null as "", mappings and sequences as compact JSON text
     * (keys sorted), as Component metadata values are. Strings owned. */
    dapr_kv_t *nr_md;
    size_t n_nr_md;

    /* spec.features as written */
    dapr__config_feature_t *features;
    size_t n_features;
    /* The enabled ones, by Dapr's rule (Configuration.LoadFeatures): in
     * order, an entry with `enabled: true` adds its name, one with `enabled:
     * false` removes it, empty names are skipped. Names are borrowed from
     * `features`. */
    const char **enabled;
    size_t n_enabled;
} dapr__config_t;

void dapr__config_init(dapr__config_t *cfg);
void dapr__config_free(dapr__config_t *cfg);

/* Apply one file's bytes (already expanded) on top of cfg. On error returns
 * DAPR_EPARSE (or DAPR_ENOMEM) and sets *err to a malloc'd
 * "<file>:<line>: [configuration <name>: ]<problem>" (free with
 * dapr__free); cfg may then hold part of the file. `lg` may be NULL. */
int dapr__config_parse(dapr__config_t *cfg, const char *file, const char *data, size_t len,
                       const dapr__logger_t *lg, char **err);

/* Read `path` (at most 16 MiB), expand environment references and apply it
 * as dapr__config_parse does. A missing or unreadable file is an error
 * naming it (DAPR_ENOTFOUND, DAPR_EIO, DAPR_ETOOBIG). Blocking reads: called
 * once at start-up, before the loop serves. */
int dapr__config_load_file(dapr__config_t *cfg, const char *path, const dapr__logger_t *lg,
                           char **err);

/* Go's os.ExpandEnv over n bytes: $NAME and ${NAME} become the variable's
 * value ("" when unset), a lone '$' stays, bad syntax ("${}", "${" without
 * '}') is dropped. Returns malloc'd text (*out_len bytes plus a NUL), or
 * NULL when out of memory. */
char *dapr__config_expand_env(const char *s, size_t n, size_t *out_len);

#endif
