/* The component-type registry (the only process-wide mutable state) and
 * component instances. */
#ifndef DAPR_COMPONENTS_REGISTRY_H
#define DAPR_COMPONENTS_REGISTRY_H

#include <uv.h>

#include "core/log.h"
#include "dapr/component.h"

typedef enum dapr__component_kind {
    DAPR__KIND_STATE = 1,
    /* "nameresolution.*": chosen by the Configuration resource, created with
     * dapr__nameres_new (dapr__component_new refuses this kind) */
    DAPR__KIND_NAMERES,
    DAPR__KIND_PUBSUB /* "pubsub.*" */
} dapr__component_kind_t;

/* Key prefix strategies of state stores (spec §2). */
typedef enum dapr__key_prefix {
    DAPR__PREFIX_APPID = 0,
    DAPR__PREFIX_NAME,
    DAPR__PREFIX_NAMESPACE,
    DAPR__PREFIX_NONE,
    DAPR__PREFIX_CUSTOM
} dapr__key_prefix_t;

struct dapr_component {
    dapr__component_kind_t kind;
    const dapr_state_store_vtable_t *state_vt;  /* DAPR__KIND_STATE, else NULL */
    const dapr_name_resolver_vtable_t *nr_vt;   /* DAPR__KIND_NAMERES, else NULL */
    const dapr_pubsub_vtable_t *ps_vt;          /* DAPR__KIND_PUBSUB, else NULL */
    char *name;
    char *type;
    char *version;
    dapr_kv_t *md; /* expanded metadata; strings owned */
    size_t n_md;
    void *priv;
    uv_loop_t *loop;
    const dapr__logger_t *log;
    char *app_id;
    char *scope; /* "dapr.contrib.state.redis" */

    /* state stores: settings from the common metadata */
    dapr__key_prefix_t prefix_mode;
    char *prefix_custom; /* the literal prefix for CUSTOM, or NAMESPACE.appid */
    bool actor_state_store;

    bool initialised;
    bool closing;
    bool init_timed_out;
    void *user; /* runtime's slot */
};

/* Register the built-in component types once (idempotent, thread-safe). */
void dapr__registry_init(void);
/* Find a state store vtable by type and version ("v1" when NULL). */
const dapr_state_store_vtable_t *dapr__registry_state(const char *type, const char *version);
/* Find a name resolver vtable by type ("nameresolution.mdns") and version. */
const dapr_name_resolver_vtable_t *dapr__registry_nameres(const char *type, const char *version);
/* Find a pub/sub vtable by type ("pubsub.redis") and version. */
const dapr_pubsub_vtable_t *dapr__registry_pubsub(const char *type, const char *version);
/* Kind of a type string by its prefix ("state." ...); 0 if unknown. */
dapr__component_kind_t dapr__registry_kind_of(const char *type);

/* Make a component instance: copy name/type/version and metadata, allocate
 * private data and parse the metadata table into it. Does not call init.
 * On failure returns DAPR_E* and writes "component <name>: metadata <key>:
 * <problem>" into err. `lg` and `app_id` are borrowed for the component's
 * lifetime (lg) / copied (app_id). */
int dapr__component_new(dapr_component_t **out, uv_loop_t *loop, const dapr__logger_t *lg,
                        const char *app_id, const char *ns, const char *name, const char *type,
                        const char *version, const dapr_kv_t *md, size_t n_md, char *err,
                        size_t errlen);
/* Make a name resolver instance from the Configuration resource's
 * spec.nameResolution: `component` is "mdns", "sqlite" (or the full
 * "nameresolution.mdns"); NULL or "" means the standalone default, mdns.
 * `md` is spec.nameResolution.configuration flattened to strings (copied).
 * The instance is named after the short component name ("mdns"). Errors as
 * dapr__component_new (DAPR_ENOTFOUND: unknown resolver). */
int dapr__nameres_new(dapr_component_t **out, uv_loop_t *loop, const dapr__logger_t *lg,
                      const char *app_id, const char *ns, const char *component,
                      const char *version, const dapr_kv_t *md, size_t n_md, char *err,
                      size_t errlen);
/* Free an instance (after its close completed, or if init never ran). */
void dapr__component_free(dapr_component_t *c);

/* Metadata table helpers, usable on their own (unit tests). */
int dapr__md_parse(const dapr_md_field_t *f, size_t n, const dapr_kv_t *md, size_t n_md,
                   void *priv, char *err, size_t errlen);
void dapr__md_free(const dapr_md_field_t *f, size_t n, void *priv);

#endif
