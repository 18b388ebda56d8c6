#include "registry.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/strutil.h"

/* ---------------------------------------------------------------------
 * The registry: a small array of registered vtables. Registration takes a
 * lock; lookups take it too (rare: only when components are created).
 * ------------------------------------------------------------------- */

#define MAX_TYPES 64

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static const dapr_state_store_vtable_t *state_types[MAX_TYPES];
static size_t n_state_types;
static const dapr_name_resolver_vtable_t *nr_types[MAX_TYPES];
static size_t n_nr_types;
static const dapr_pubsub_vtable_t *ps_types[MAX_TYPES];
static size_t n_ps_types;
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

extern const dapr_state_store_vtable_t dapr__state_in_memory_vtable;
extern const dapr_state_store_vtable_t dapr__state_redis_vtable;
extern const dapr_name_resolver_vtable_t dapr__nr_mdns_vtable;
extern const dapr_name_resolver_vtable_t dapr__nr_sqlite_vtable;
extern const dapr_pubsub_vtable_t dapr__pubsub_in_memory_vtable;
extern const dapr_pubsub_vtable_t dapr__pubsub_redis_vtable;

static int register_state(const dapr_state_store_vtable_t *vt)
{
    if (!vt || !vt->type || !vt->version || !vt->init || !vt->close || !vt->get || !vt->set ||
        !vt->del)
        return DAPR_EINVAL;
    if ((vt->features & DAPR_STATE_FEATURE_TRANSACTIONAL) && !vt->multi)
        return DAPR_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < n_state_types; i++)
        if (!strcmp(state_types[i]->type, vt->type) &&
            !strcmp(state_types[i]->version, vt->version))
            rc = DAPR_EEXIST;
    if (!rc && n_state_types == MAX_TYPES)
        rc = DAPR_ENOMEM;
    if (!rc)
        state_types[n_state_types++] = vt;
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

static int register_nameres(const dapr_name_resolver_vtable_t *vt)
{
    if (!vt || !vt->type || !vt->version || !vt->init || !vt->close || !vt->resolve ||
        !dapr__starts_with(vt->type, "nameresolution.") || !vt->type[15])
        return DAPR_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < n_nr_types; i++)
        if (!strcmp(nr_types[i]->type, vt->type) && !strcmp(nr_types[i]->version, vt->version))
            rc = DAPR_EEXIST;
    if (!rc && n_nr_types == MAX_TYPES)
        rc = DAPR_ENOMEM;
    if (!rc)
        nr_types[n_nr_types++] = vt;
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

static int register_pubsub(const dapr_pubsub_vtable_t *vt)
{
    if (!vt || !vt->type || !vt->version || !vt->init || !vt->close || !vt->publish ||
        !vt->subscribe || !vt->unsubscribe || !dapr__starts_with(vt->type, "pubsub.") ||
        !vt->type[7])
        return DAPR_EINVAL;
    if ((vt->features & DAPR_PUBSUB_FEATURE_BULK_PUBLISH) && !vt->bulk_publish)
        return DAPR_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < n_ps_types; i++)
        if (!strcmp(ps_types[i]->type, vt->type) && !strcmp(ps_types[i]->version, vt->version))
            rc = DAPR_EEXIST;
    if (!rc && n_ps_types == MAX_TYPES)
        rc = DAPR_ENOMEM;
    if (!rc)
        ps_types[n_ps_types++] = vt;
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

static void register_builtins(void)
{
    /* Adding a built-in component: one line here. */
    register_state(&dapr__state_in_memory_vtable);
    register_state(&dapr__state_redis_vtable);
    register_nameres(&dapr__nr_mdns_vtable);
    register_nameres(&dapr__nr_sqlite_vtable);
    register_pubsub(&dapr__pubsub_in_memory_vtable);
    register_pubsub(&dapr__pubsub_redis_vtable);
}

void dapr__registry_init(void) { pthread_once(&builtins_once, register_builtins); }

int dapr_register_state_store(const dapr_state_store_vtable_t *vt)
{
    dapr__registry_init();
    return register_state(vt);
}

int dapr_register_name_resolver(const dapr_name_resolver_vtable_t *vt)
{
    dapr__registry_init();
    return register_nameres(vt);
}

int dapr_register_pubsub(const dapr_pubsub_vtable_t *vt)
{
    dapr__registry_init();
    return register_pubsub(vt);
}

const dapr_state_store_vtable_t *dapr__registry_state(const char *type, const char *version)
{
    const dapr_state_store_vtable_t *found = NULL;
    if (!version || !*version)
        version = "v1";
    dapr__registry_init();
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < n_state_types && !found; i++)
        if (!strcmp(state_types[i]->type, type) && !strcmp(state_types[i]->version, version))
            found = state_types[i];
    pthread_mutex_unlock(&reg_lock);
    return found;
}

const dapr_name_resolver_vtable_t *dapr__registry_nameres(const char *type, const char *version)
{
    const dapr_name_resolver_vtable_t *found = NULL;
    if (!version || !*version)
        version = "v1";
    dapr__registry_init();
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < n_nr_types && !found; i++)
        if (!strcmp(nr_types[i]->type, type) && !strcmp(nr_types[i]->version, version))
            found = nr_types[i];
    pthread_mutex_unlock(&reg_lock);
    return found;
}

const dapr_pubsub_vtable_t *dapr__registry_pubsub(const char *type, const char *version)
{
    const dapr_pubsub_vtable_t *found = NULL;
    if (!version || !*version)
        version = "v1";
    dapr__registry_init();
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < n_ps_types && !found; i++)
        if (!strcmp(ps_types[i]->type, type) && !strcmp(ps_types[i]->version, version))
            found = ps_types[i];
    pthread_mutex_unlock(&reg_lock);
    return found;
}

dapr__component_kind_t dapr__registry_kind_of(const char *type)
{
    if (dapr__starts_with(type, "pubsub."))
        return DAPR__KIND_PUBSUB;
    if (dapr__starts_with(type, "state."))
        return DAPR__KIND_STATE;
    if (dapr__starts_with(type, "nameresolution."))
        return DAPR__KIND_NAMERES;
    return 0;
}

/* ---------------------------------------------------------------------
 * Metadata table
 * ------------------------------------------------------------------- */

static const char *find_md(const dapr_kv_t *md, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!dapr__strcasecmp(md[i].key, name))
            return md[i].value;
    return NULL;
}

static int parse_field(const dapr_md_field_t *f, const char *v, void *dst)
{
    int64_t n;
    bool b;
    switch (f->type) {
    case DAPR_MD_STRING: {
        char *s = dapr__strdup(v);
        if (!s)
            return DAPR_ENOMEM;
        dapr__free(*(char **)dst);
        *(char **)dst = s;
        return 0;
    }
    case DAPR_MD_INT:
        if (dapr__parse_int(v, &n))
            return DAPR_EINVAL;
        *(int64_t *)dst = n;
        return 0;
    case DAPR_MD_BOOL:
        if (dapr__parse_bool(v, &b))
            return DAPR_EINVAL;
        *(bool *)dst = b;
        return 0;
    case DAPR_MD_DURATION:
        /* Dapr's metadata decoder takes Go durations and plain numbers of seconds */
        if (dapr__parse_duration(v, true, &n))
            return DAPR_EINVAL;
        *(int64_t *)dst = n / 1000000;
        return 0;
    case DAPR_MD_QUANTITY:
        if (dapr__parse_quantity(v, &n))
            return DAPR_EINVAL;
        *(int64_t *)dst = n;
        return 0;
    }
    return DAPR_EINVAL;
}

int dapr__md_parse(const dapr_md_field_t *f, size_t n, const dapr_kv_t *md, size_t n_md,
                   void *priv, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        void *dst = (char *)priv + f[i].offset;
        const char *v = find_md(md, n_md, f[i].name);
        bool from_default = false;
        if (!v || (!*v && f[i].type != DAPR_MD_STRING)) {
            if (f[i].required) {
                snprintf(err, errlen, "metadata %s: required", f[i].name);
                return DAPR_EINVAL;
            }
            v = f[i].def;
            from_default = true;
            if (!v)
                continue;
        }
        int rc = parse_field(&f[i], v, dst);
        if (rc == DAPR_ENOMEM)
            return rc;
        if (rc) {
            snprintf(err, errlen, "metadata %s: invalid value \"%s\"%s", f[i].name, v,
                     from_default ? " (default)" : "");
            return DAPR_EINVAL;
        }
        if (f[i].validate) {
            const char *why = f[i].validate(dst);
            if (why) {
                snprintf(err, errlen, "metadata %s: %s", f[i].name, why);
                return DAPR_EINVAL;
            }
        }
    }
    return 0;
}

void dapr__md_free(const dapr_md_field_t *f, size_t n, void *priv)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].type == DAPR_MD_STRING) {
            char **p = (char **)((char *)priv + f[i].offset);
            dapr__free(*p);
            *p = NULL;
        }
}

/* ---------------------------------------------------------------------
 * Instances
 * ------------------------------------------------------------------- */

/* keyPrefix (spec §2): appid (default), name, namespace, none, or a literal. */
static int parse_prefix(dapr_component_t *c, const char *ns, char *err, size_t errlen)
{
    const char *v = find_md(c->md, c->n_md, "keyPrefix");
    c->prefix_mode = DAPR__PREFIX_APPID;
    if (!v || !*v)
        return 0;
    if (strstr(v, "||")) {
        snprintf(err, errlen, "metadata keyPrefix: must not contain \"||\"");
        return DAPR_EINVAL;
    }
    if (!dapr__strcasecmp(v, "appid"))
        c->prefix_mode = DAPR__PREFIX_APPID;
    else if (!dapr__strcasecmp(v, "name"))
        c->prefix_mode = DAPR__PREFIX_NAME;
    else if (!dapr__strcasecmp(v, "none"))
        c->prefix_mode = DAPR__PREFIX_NONE;
    else if (!dapr__strcasecmp(v, "namespace")) {
        if (ns && *ns && *c->app_id) {
            c->prefix_mode = DAPR__PREFIX_NAMESPACE;
            dapr__buf_t b = DAPR__BUF_INIT;
            dapr__buf_printf(&b, "%s.%s", ns, c->app_id);
            if (b.oom)
                return DAPR_ENOMEM;
            c->prefix_custom = dapr__buf_steal(&b, NULL);
        } else {
            c->prefix_mode = DAPR__PREFIX_APPID;
        }
    } else {
        c->prefix_mode = DAPR__PREFIX_CUSTOM;
        if (!(c->prefix_custom = dapr__strdup(v)))
            return DAPR_ENOMEM;
    }
    return 0;
}

/* The part shared by every kind: copies, scope, private data. */
static int instance_alloc(dapr_component_t **out, uv_loop_t *loop, const dapr__logger_t *lg,
                          const char *app_id, const char *name, const char *type,
                          const char *version, const dapr_kv_t *md, size_t n_md,
                          size_t priv_size)
{
    dapr_component_t *c = dapr__calloc(1, sizeof(*c));
    if (!c)
        return DAPR_ENOMEM;
    *out = c;
    c->loop = loop;
    c->log = lg;
    c->name = dapr__strdup(name);
    c->type = dapr__strdup(type);
    c->version = dapr__strdup(version);
    c->app_id = dapr__strdup(app_id ? app_id : "");
    dapr__buf_t sc = DAPR__BUF_INIT;
    dapr__buf_printf(&sc, "dapr.contrib.%s", type);
    c->scope = sc.oom ? NULL : dapr__buf_steal(&sc, NULL);
    c->md = n_md ? dapr__calloc(n_md, sizeof(*c->md)) : NULL;
    c->priv = dapr__calloc(1, priv_size ? priv_size : 1);
    if (!c->name || !c->type || !c->version || !c->app_id || !c->scope || (n_md && !c->md) ||
        !c->priv)
        return DAPR_ENOMEM;
    for (size_t i = 0; i < n_md; i++) {
        c->md[i].key = dapr__strdup(md[i].key);
        c->md[i].value = dapr__strdup(md[i].value ? md[i].value : "");
        c->n_md = i + 1;
        if (!c->md[i].key || !c->md[i].value)
            return DAPR_ENOMEM;
    }
    return 0;
}

int dapr__component_new(dapr_component_t **out, uv_loop_t *loop, const dapr__logger_t *lg,
                        const char *app_id, const char *ns, const char *name, const char *type,
                        const char *version, const dapr_kv_t *md, size_t n_md, char *err,
                        size_t errlen)
{
    *out = NULL;
    if (!version || !*version)
        version = "v1";
    dapr__component_kind_t kind = dapr__registry_kind_of(type);
    const dapr_state_store_vtable_t *vt = NULL;
    if (kind == DAPR__KIND_NAMERES) {
        /* Dapr has no Component of this category either: the resolver comes
         * from the Configuration resource */
        snprintf(err, errlen, "component %s (%s/%s): name resolution is selected by the "
                 "Configuration resource (spec.nameResolution), not by a Component", name,
                 type, version);
        return DAPR_EINVAL;
    }
    const dapr_pubsub_vtable_t *ps_vt = NULL;
    if (kind == DAPR__KIND_STATE)
        vt = dapr__registry_state(type, version);
    if (kind == DAPR__KIND_PUBSUB)
        ps_vt = dapr__registry_pubsub(type, version);
    if (!vt && !ps_vt) {
        snprintf(err, errlen, "couldn't find component %s/%s", type, version);
        return DAPR_ENOTFOUND;
    }
    dapr_component_t *c = NULL;
    int rc = instance_alloc(&c, loop, lg, app_id, name, type, version, md, n_md,
                            vt ? vt->priv_size : ps_vt->priv_size);
    if (c) {
        c->kind = kind;
        c->state_vt = vt;
        c->ps_vt = ps_vt;
    }
    if (rc)
        goto fail;
    char why[256] = "";
    if (ps_vt) {
        rc = dapr__md_parse(ps_vt->md_fields, ps_vt->n_md_fields, c->md, c->n_md, c->priv, why,
                            sizeof(why));
        goto parsed;
    }
    rc = parse_prefix(c, ns, why, sizeof(why));
    if (!rc) {
        const char *a = find_md(c->md, c->n_md, "actorStateStore");
        bool b = false;
        if (a && *a && dapr__parse_bool(a, &b)) {
            snprintf(why, sizeof(why), "metadata actorStateStore: invalid value \"%s\"", a);
            rc = DAPR_EINVAL;
        }
        c->actor_state_store = b;
    }
    if (!rc)
        rc = dapr__md_parse(vt->md_fields, vt->n_md_fields, c->md, c->n_md, c->priv, why,
                            sizeof(why));
parsed:
    if (rc) {
        snprintf(err, errlen, "component %s (%s/%s): %s", name, type, version,
                 rc == DAPR_ENOMEM ? "out of memory" : why);
        goto fail;
    }
    *out = c;
    return 0;
fail:
    if (rc == DAPR_ENOMEM && err && !*err)
        snprintf(err, errlen, "component %s: out of memory", name);
    dapr__component_free(c);
    return rc;
}

int dapr__nameres_new(dapr_component_t **out, uv_loop_t *loop, const dapr__logger_t *lg,
                      const char *app_id, const char *ns, const char *component,
                      const char *version, const dapr_kv_t *md, size_t n_md, char *err,
                      size_t errlen)
{
    (void)ns;
    *out = NULL;
    if (!version || !*version)
        version = "v1";
    if (!component || !*component)
        component = "mdns"; /* Dapr's self-hosted default */
    const char *shortname = component;
    if (dapr__starts_with(component, "nameresolution."))
        shortname = component + 15;
    char type[128];
    if (!*shortname || strlen(shortname) > 100) {
        snprintf(err, errlen, "couldn't find name resolver %s/%s", component, version);
        return DAPR_ENOTFOUND;
    }
    snprintf(type, sizeof(type), "nameresolution.%s", shortname);
    const dapr_name_resolver_vtable_t *vt = dapr__registry_nameres(type, version);
    if (!vt) {
        snprintf(err, errlen, "couldn't find name resolver %s/%s", type, version);
        return DAPR_ENOTFOUND;
    }
    dapr_component_t *c = NULL;
    int rc = instance_alloc(&c, loop, lg, app_id, shortname, type, version, md, n_md,
                            vt->priv_size);
    if (c) {
        c->kind = DAPR__KIND_NAMERES;
        c->nr_vt = vt;
    }
    char why[256] = "";
    if (!rc)
        rc = dapr__md_parse(vt->md_fields, vt->n_md_fields, c->md, c->n_md, c->priv, why,
                            sizeof(why));
    if (rc) {
        snprintf(err, errlen, "name resolver %s/%s: %s", type, version,
                 rc == DAPR_ENOMEM ? "out of memory" : why);
        dapr__component_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void dapr__component_free(dapr_component_t *c)
{
    if (!c)
        return;
    if (c->priv && c->state_vt)
        dapr__md_free(c->state_vt->md_fields, c->state_vt->n_md_fields, c->priv);
    if (c->priv && c->nr_vt)
        dapr__md_free(c->nr_vt->md_fields, c->nr_vt->n_md_fields, c->priv);
    if (c->priv && c->ps_vt)
        dapr__md_free(c->ps_vt->md_fields, c->ps_vt->n_md_fields, c->priv);
    for (size_t i = 0; i < c->n_md; i++) {
        dapr__free((char *)c->md[i].key);
        dapr__free((char *)c->md[i].value);
    }
    dapr__free(c->md);
    dapr__free(c->priv);
    dapr__free(c->name);
    dapr__free(c->type);
    dapr__free(c->version);
    dapr__free(c->app_id);
    dapr__free(c->scope);
    dapr__free(c->prefix_custom);
    dapr__free(c);
}

/* ---------------------------------------------------------------------
 * Public accessors (include/dapr/component.h)
 * ------------------------------------------------------------------- */

void *dapr_component_priv(dapr_component_t *c) { return c->priv; }
const char *dapr_component_name(const dapr_component_t *c) { return c->name; }
struct uv_loop_s *dapr_component_loop(const dapr_component_t *c) { return c->loop; }
const char *dapr_component_app_id(const dapr_component_t *c) { return c->app_id; }

const char *dapr_component_metadata(const dapr_component_t *c, const char *name)
{
    return find_md(c->md, c->n_md, name);
}

void dapr_component_log(const dapr_component_t *c, dapr_log_level_t level, const char *fmt, ...)
{
    if (!c->log || !dapr__log_on(c->log, level))
        return;
    va_list ap;
    va_start(ap, fmt);
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_printf(&b, "[%s] ", c->name);
    dapr__buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (!b.oom)
        dapr__log(c->log, level, c->scope, "%s", b.data);
    dapr__buf_free(&b);
}
