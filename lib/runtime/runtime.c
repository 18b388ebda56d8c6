/* The runtime handle: options, start-up (resources → components → API
 * servers), graceful stop, and the lookups the API layer needs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components/resources.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/strutil.h"
#include "http/client.h"
#include "http/router.h"
#include "http/server.h"
#include "grpc/api.h"
#include "grpc/grpc.h"
#include "app_channel.h"
#include "app_health.h"
#include "app_inproc.h"
#include "embed.h"
#include "remote.h"
#include "actors.h"
#include "resiliency.h"
#include "subscriptions.h"
#include "runtime_int.h"

#define SCOPE "dapr.runtime"

#define STR_(x) #x
#define STR(x) STR_(x)
#define LIB_VERSION                                                                        \
    STR(DAPR_VERSION_MAJOR) "." STR(DAPR_VERSION_MINOR) "." STR(DAPR_VERSION_PATCH)

const char *dapr_version(void) { return LIB_VERSION; }
const char *dapr_runtime_version(void) { return DAPR_COMPAT_VERSION "+libdapr." LIB_VERSION; }

static void set_error(dapr_runtime_t *rt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(dapr_runtime_t *rt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rt->last_error, sizeof(rt->last_error), fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------
 * Create / options / destroy
 * ------------------------------------------------------------------- */

int dapr_runtime_create(dapr_runtime_t **out, struct uv_loop_s *loop)
{
    if (!out)
        return DAPR_EINVAL;
    *out = NULL;
    dapr__registry_init();
    dapr_runtime_t *rt = dapr__calloc(1, sizeof(*rt));
    if (!rt)
        return DAPR_ENOMEM;
    rt->app_healthy = true;
    if (dapr__options_init(&rt->opt)) {
        dapr__options_free(&rt->opt);
        dapr__free(rt);
        return DAPR_ENOMEM;
    }
    if (!loop) {
        if (uv_loop_init(&rt->own_loop)) {
            dapr__options_free(&rt->opt);
            dapr__free(rt);
            return DAPR_ENOMEM;
        }
        rt->owns_loop = true;
        loop = &rt->own_loop;
    }
    rt->loop = loop;
    dapr__logger_init(&rt->log);
    dapr__map_init(&rt->extended);
    dapr__map_init(&rt->ep_chans);
    if (dapr__embed_init(rt)) {
        if (rt->owns_loop)
            uv_loop_close(&rt->own_loop);
        dapr__options_free(&rt->opt);
        dapr__free(rt);
        return DAPR_ENOMEM;
    }
    *out = rt;
    return 0;
}

struct uv_loop_s *dapr_runtime_loop(dapr_runtime_t *rt) { return rt->loop; }

const char *dapr_runtime_last_error(const dapr_runtime_t *rt) { return rt->last_error; }

int dapr_runtime_set_option(dapr_runtime_t *rt, const char *name, const char *value)
{
    if (!rt || !name)
        return DAPR_EINVAL;
    if (rt->state != DAPR__RT_CREATED)
        return DAPR_ESTATE;
    return dapr__options_set(&rt->opt, name, value, rt->last_error, sizeof(rt->last_error));
}

void dapr_runtime_on_shutdown_request(dapr_runtime_t *rt, dapr_shutdown_request_cb cb, void *data)
{
    rt->shutdown_cb = cb;
    rt->shutdown_data = data;
}

void dapr_runtime_log(dapr_runtime_t *rt, dapr_log_level_t level, const char *scope,
                      const char *fmt, ...)
{
    if (!dapr__log_on(&rt->log, level))
        return;
    va_list ap;
    va_start(ap, fmt);
    dapr__vlog(&rt->log, level, scope ? scope : SCOPE, fmt, ap);
    va_end(ap);
}

static void free_components(dapr_runtime_t *rt)
{
    for (size_t i = 0; i < rt->n_components; i++)
        dapr__component_free(rt->components[i]);
    dapr__free(rt->components);
    rt->components = NULL;
    rt->n_components = rt->n_state_stores = rt->n_pubsubs = 0;
}

/* A component's own init/close, whatever its kind. */
static int comp_init(dapr_component_t *c, dapr_component_done_cb done)
{
    if (c->kind == DAPR__KIND_PUBSUB)
        return c->ps_vt->init(c, done);
    return c->state_vt->init(c, done);
}

static void comp_close(dapr_component_t *c, dapr_component_done_cb done)
{
    if (c->kind == DAPR__KIND_PUBSUB)
        c->ps_vt->close(c, done);
    else
        c->state_vt->close(c, done);
}

static void walk_close(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* One API server finished its graceful shutdown. */
static void server_closed_cb(void *ud)
{
    dapr_runtime_t *rt = ud;
    if (--rt->open_servers == 0 && rt->on_servers_closed)
        rt->on_servers_closed(rt);
}

/* Graceful shutdown of every API server; on_servers_closed runs when the
 * last one is down (at once when there are none). */
static void close_servers(dapr_runtime_t *rt, void (*done)(dapr_runtime_t *rt))
{
    rt->on_servers_closed = done;
    if (rt->servers_closing) {
        if (!rt->open_servers && done)
            done(rt);
        return;
    }
    rt->servers_closing = true;
    rt->open_servers = 1; /* held while starting the shutdowns */
    if (rt->http) {
        rt->open_servers++;
        dapr__http_server_shutdown(rt->http, server_closed_cb, rt);
    }
    if (rt->grpc) {
        rt->open_servers++;
        dapr__grpc_server_shutdown(rt->grpc, server_closed_cb, rt);
    }
    server_closed_cb(rt);
}

static void destroy_close_done(dapr_component_t *c, int status, const char *detail)
{
    dapr_runtime_t *rt = c->user;
    c->initialised = false;
    rt->pending_closes--;
}

static void close_endpoints(dapr_runtime_t *rt, void (*done)(void *));

static void destroy_appch_closed(void *ud)
{
    dapr_runtime_t *rt = ud;
    rt->pending_closes--;
}

void dapr_runtime_destroy(dapr_runtime_t *rt)
{
    if (!rt)
        return;
    /* Destroy without stop: close what is open and run the loop until the
     * components have let go (the loop must not be running right now; a
     * loop thread of dapr_runtime_run_thread is ended and joined first). */
    dapr__embed_shutdown(rt);
    close_servers(rt, NULL);
    if (rt->app_wait)
        dapr__http_wait_port_cancel(rt->app_wait);
    if (rt->app_health) {
        dapr__app_health_t *h = rt->app_health;
        rt->app_health = NULL;
        rt->pending_closes++;
        dapr__app_health_close(h, destroy_appch_closed, rt);
    }
    dapr__subs_stop(rt->subs);
    if (rt->actors) {
        dapr__actors_t *a = rt->actors;
        rt->actors = NULL;
        rt->pending_closes++;
        dapr__actors_close(a, destroy_appch_closed, rt);
    }
    close_endpoints(rt, destroy_appch_closed);
    if (rt->remote) {
        dapr__remote_t *r = rt->remote;
        rt->remote = NULL;
        rt->pending_closes++;
        dapr__remote_close(r, destroy_appch_closed, rt);
    }
    if (rt->appch) {
        dapr__appch_t *ch = rt->appch;
        rt->appch = NULL;
        rt->pending_closes++;
        dapr__appch_close(ch, destroy_appch_closed, rt);
    }
    for (size_t i = 0; i < rt->n_components; i++) {
        dapr_component_t *c = rt->components[i];
        if (c->initialised && !c->closing) {
            c->closing = true;
            c->user = rt;
            rt->pending_closes++;
            comp_close(c, destroy_close_done);
        }
    }
    while (rt->pending_closes || rt->open_servers || rt->late_inits)
        if (!uv_run(rt->loop, UV_RUN_ONCE))
            break;
    if (rt->stop_timer_live) {
        uv_close((uv_handle_t *)&rt->stop_timer, NULL);
        rt->stop_timer_live = false;
    }
    uv_run(rt->loop, UV_RUN_NOWAIT);
    dapr__http_server_free(rt->http);
    dapr__grpc_server_free(rt->grpc);
    dapr__subs_free(rt->subs);
    rt->subs = NULL;
    free_components(rt);
    size_t it = 0;
    void *v;
    while (dapr__map_next(&rt->extended, &it, NULL, NULL, &v))
        dapr__free(v);
    dapr__map_free(&rt->extended);
    dapr__resil_free(rt->resil);
    dapr__free(rt->app_config);
    dapr__map_free(&rt->ep_chans);
    dapr__resources_t eps;
    dapr__resources_init(&eps);
    eps.endpoints = rt->endpoints;
    eps.n_endpoints = rt->n_endpoints;
    dapr__resources_free(&eps);
    dapr__options_free(&rt->opt);
    dapr__free(rt->namespace_);
    dapr__free(rt->api_token);
    dapr__config_free(&rt->config);
    dapr__inproc_free(rt->inproc);
    rt->inproc = NULL;
    dapr__embed_free(rt);
    if (rt->owns_loop) {
        uv_walk(&rt->own_loop, walk_close, NULL);
        uv_run(&rt->own_loop, UV_RUN_DEFAULT);
        uv_loop_close(&rt->own_loop);
    }
    dapr__free(rt);
}

/* ---------------------------------------------------------------------
 * Lookups for the API layer
 * ------------------------------------------------------------------- */

int dapr__runtime_state_store(dapr_runtime_t *rt, const char *name, dapr_component_t **out)
{
    if (!rt->n_state_stores)
        return DAPR_ESTATE;
    for (size_t i = 0; i < rt->n_components; i++) {
        dapr_component_t *c = rt->components[i];
        if (c->kind == DAPR__KIND_STATE && c->initialised && !c->closing &&
            !strcmp(c->name, name)) {
            *out = c;
            return 0;
        }
    }
    return DAPR_ENOTFOUND;
}

int dapr__runtime_pubsub(dapr_runtime_t *rt, const char *name, dapr_component_t **out)
{
    if (!rt->n_pubsubs)
        return DAPR_ESTATE;
    for (size_t i = 0; i < rt->n_components; i++) {
        dapr_component_t *c = rt->components[i];
        if (c->kind == DAPR__KIND_PUBSUB && c->initialised && !c->closing &&
            !strcmp(c->name, name)) {
            *out = c;
            return 0;
        }
    }
    return DAPR_ENOTFOUND;
}

/* ---------------------------------------------------------------------
 * Start: resources → components → API servers
 * ------------------------------------------------------------------- */

typedef struct comp_init {
    dapr_runtime_t *rt;
    dapr_component_t *c;
    uv_timer_t timer;
    bool finished;
    bool ignore_errors;
    int64_t timeout_ms;
} comp_init_t;

static void start_failed(dapr_runtime_t *rt);
static void after_components(dapr_runtime_t *rt);
static void stop_close_done(dapr_component_t *c, int status, const char *detail);
static void maybe_stopped(dapr_runtime_t *rt);

static void free_init_ctx(uv_handle_t *h) { dapr__free(h->data); }

static void log_inactive(void *ud, const char *name, const char *why)
{
    dapr_runtime_t *rt = ud;
    dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "flag --%s is accepted but not active yet: %s", name,
              why);
}

static int apply_logging(dapr_runtime_t *rt)
{
    if (dapr__log_level_parse(rt->opt.log_level, &rt->log.level)) {
        set_error(rt, "invalid log level: %s", rt->opt.log_level);
        return DAPR_EINVAL;
    }
    rt->log.json = rt->opt.log_as_json;
    snprintf(rt->log.app_id, sizeof(rt->log.app_id), "%s", rt->opt.app_id ? rt->opt.app_id : "");
    return 0;
}

static int read_env(dapr_runtime_t *rt)
{
    const char *tok = getenv("DAPR_API_TOKEN");
    const char *ns = getenv("NAMESPACE");
    if (tok && *tok && !(rt->api_token = dapr__strdup(tok)))
        return DAPR_ENOMEM;
    if (ns && *ns && !(rt->namespace_ = dapr__strdup(ns)))
        return DAPR_ENOMEM;
    return 0;
}

/* Turn a component's YAML metadata into pairs: expand template tags,
 * resolve envRef; secretKeyRef needs a secret store, which lands later. */
static int build_md(dapr_runtime_t *rt, const dapr__res_component_t *r, dapr_kv_t **out,
                    char *err, size_t errlen)
{
    dapr_kv_t *kv = dapr__calloc(r->n_md ? r->n_md : 1, sizeof(*kv));
    if (!kv)
        return DAPR_ENOMEM;
    for (size_t i = 0; i < r->n_md; i++) {
        const dapr__res_md_t *m = &r->md[i];
        const char *v = m->value;
        if (m->secret_name) {
            snprintf(err, errlen, "metadata %s: secretKeyRef %s/%s cannot be resolved: secret "
                     "stores are not implemented yet in libdapr", m->name, m->secret_name,
                     m->secret_key ? m->secret_key : "");
            goto fail;
        }
        if (m->env_ref)
            v = getenv(m->env_ref) ? getenv(m->env_ref) : "";
        kv[i].key = m->name;
        kv[i].value = dapr__res_expand(v ? v : "", rt->opt.app_id, rt->namespace_);
        if (!kv[i].value)
            goto fail;
    }
    *out = kv;
    return 0;
fail:
    for (size_t i = 0; i < r->n_md; i++)
        dapr__free((char *)kv[i].value);
    dapr__free(kv);
    return err[0] ? DAPR_EINVAL : DAPR_ENOMEM;
}

static int push_component(dapr_runtime_t *rt, dapr_component_t *c)
{
    dapr_component_t **nc = dapr__realloc(rt->components, (rt->n_components + 1) * sizeof(*nc));
    if (!nc)
        return DAPR_ENOMEM;
    rt->components = nc;
    rt->components[rt->n_components++] = c;
    return 0;
}

/* A component failed: fatal unless spec.ignoreErrors, as in Dapr. */
static void component_failed(dapr_runtime_t *rt, const char *name, const char *type,
                             const char *version, bool ignore, const char *why)
{
    if (ignore) {
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE,
                  "error processing component %s (%s/%s), ignoring it (ignoreErrors): %s", name,
                  type, version, why);
        return;
    }
    if (!rt->last_error[0])
        set_error(rt, "process component %s error: [INIT_COMPONENT_FAILURE]: initialization "
                  "error occurred for %s (%s/%s): %s", name, name, type, version, why);
}

static void init_done(dapr_component_t *c, int status, const char *detail)
{
    comp_init_t *ci = c->user;
    if (c->init_timed_out) {
        /* too late: keep it out of service and release it */
        dapr_runtime_t *rt = c->user;
        rt->late_inits--;
        if (status == DAPR_OK) {
            c->initialised = true;
            c->closing = true;
            rt->pending_closes++;
            comp_close(c, stop_close_done);
        } else {
            maybe_stopped(rt);
        }
        return;
    }
    dapr_runtime_t *rt = ci->rt;
    ci->finished = true;
    uv_timer_stop(&ci->timer);
    uv_close((uv_handle_t *)&ci->timer, free_init_ctx);
    c->user = rt;
    if (status == DAPR_OK) {
        c->initialised = true;
        if (c->kind == DAPR__KIND_STATE)
            rt->n_state_stores++;
        if (c->kind == DAPR__KIND_PUBSUB)
            rt->n_pubsubs++;
        dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "component loaded. name: %s, type: %s/%s",
                  c->name, c->type, c->version);
    } else {
        component_failed(rt, c->name, c->type, c->version, ci->ignore_errors,
                         detail ? detail : dapr_strerror(status));
    }
    if (--rt->pending_inits == 0 && rt->state == DAPR__RT_STARTING)
        after_components(rt);
}

static void init_timeout(uv_timer_t *t)
{
    comp_init_t *ci = t->data;
    char why[96];
    snprintf(why, sizeof(why), "init timeout for component %s exceeded after %lldms",
             ci->c->name, (long long)ci->timeout_ms);
    /* report as a failure; the late init result is ignored */
    dapr_component_t *c = ci->c;
    dapr_runtime_t *rt = ci->rt;
    ci->finished = true;
    uv_close((uv_handle_t *)&ci->timer, free_init_ctx);
    c->user = rt;
    c->init_timed_out = true;
    rt->late_inits++; /* the component still owes its result: wait for it before freeing */
    component_failed(rt, c->name, c->type, c->version, ci->ignore_errors, why);
    if (--rt->pending_inits == 0 && rt->state == DAPR__RT_STARTING)
        after_components(rt);
}

static int start_component(dapr_runtime_t *rt, const dapr__res_component_t *r)
{
    char err[512] = "";
    dapr_kv_t *md = NULL;
    dapr_component_t *c = NULL;
    int rc = build_md(rt, r, &md, err, sizeof(err));
    if (!rc) {
        rc = dapr__component_new(&c, rt->loop, &rt->log, rt->opt.app_id, rt->namespace_, r->name,
                                 r->type, r->version, md, r->n_md, err, sizeof(err));
        for (size_t i = 0; i < r->n_md; i++)
            dapr__free((char *)md[i].value);
        dapr__free(md);
    }
    if (rc == DAPR_ENOMEM)
        return rc;
    if (rc) {
        component_failed(rt, r->name, r->type, r->version, r->ignore_errors, err);
        return 0;
    }
    comp_init_t *ci = dapr__calloc(1, sizeof(*ci));
    if (!ci || push_component(rt, c)) {
        dapr__free(ci);
        dapr__component_free(c);
        return DAPR_ENOMEM;
    }
    *ci = (comp_init_t){.rt = rt, .c = c, .ignore_errors = r->ignore_errors,
                        .timeout_ms = r->init_timeout_ms > 0 ? r->init_timeout_ms : 5000};
    uv_timer_init(rt->loop, &ci->timer);
    ci->timer.data = ci;
    uv_timer_start(&ci->timer, init_timeout, (uint64_t)ci->timeout_ms, 0);
    c->user = ci;
    rt->pending_inits++;
    rc = comp_init(c, init_done);
    if (rc) {
        snprintf(err, sizeof(err), "init failed: %s", dapr_strerror(rc));
        init_done(c, rc, err);
    }
    return 0;
}

static bool wanted(dapr_runtime_t *rt, const dapr__res_component_t *r)
{
    if (!dapr__res_in_scope(r->scopes, r->n_scopes, rt->opt.app_id)) {
        dapr__log(&rt->log, DAPR_LOG_DEBUG, SCOPE, "component %s is not in scope for app %s",
                  r->name, rt->opt.app_id);
        return false;
    }
    if (rt->namespace_ && r->namespace_ && *r->namespace_ && strcmp(r->namespace_, rt->namespace_))
        return false;
    dapr__component_kind_t kind = dapr__registry_kind_of(r->type);
    if (kind == DAPR__KIND_NAMERES) {
        /* as in Dapr: name resolution comes from the Configuration resource */
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE,
                  "component %s of type %s skipped: name resolution is chosen by the "
                  "Configuration resource (spec.nameResolution), not by a Component", r->name,
                  r->type);
        return false;
    }
    if (!kind) {
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE,
                  "component %s of type %s/%s skipped: this building block is not implemented "
                  "yet in libdapr", r->name, r->type, r->version);
        return false;
    }
    return true;
}

static int load_components(dapr_runtime_t *rt)
{
    dapr__resources_t res;
    dapr__resources_init(&res);
    int rc = 0;
    for (size_t i = 0; i < rt->opt.resources_path.n && !rc; i++) {
        char *err = NULL;
        rc = dapr__resources_load_dir(&res, rt->opt.resources_path.v[i], &rt->log, &err);
        if (rc)
            set_error(rt, "failed to load resources: %s", err ? err : dapr_strerror(rc));
        dapr__free(err);
    }
    if (!rc) /* dapr_runtime_add_component: loaded as if declared last */
        rc = dapr__embed_take_components(rt, &res);
    for (size_t i = 0; i < res.n_components && !rc; i++) {
        const dapr__res_component_t *r = &res.components[i];
        for (size_t j = 0; j < i; j++)
            if (!strcmp(res.components[j].name, r->name) && wanted(rt, &res.components[j])) {
                set_error(rt, "%s:%d: duplicate component name %s (first defined in %s)", r->file,
                          r->line, r->name, res.components[j].file);
                rc = DAPR_EINVAL;
            }
        if (!rc && wanted(rt, r))
            rc = start_component(rt, r);
    }
    /* HTTPEndpoints: kept (scopes are checked at lookup) */
    rt->endpoints = res.endpoints;
    rt->n_endpoints = res.n_endpoints;
    res.endpoints = NULL;
    res.n_endpoints = 0;
    if (!rc)
        rc = dapr__subs_create(rt, &res, &rt->subs);
    if (!rc) {
        char *err = NULL;
        rc = dapr__resil_new(&res, rt->opt.app_id, &rt->log, &rt->resil, &err);
        if (rc == DAPR_EPARSE) {
            /* as Dapr: a bad Resiliency resource is reported, not fatal; the
             * built-in defaults apply */
            DAPR_LOG(&rt->log, DAPR_LOG_ERROR, "dapr.runtime",
                     "failed to load resiliency, running without its policies: %s",
                     err ? err : dapr_strerror(rc));
            dapr__resources_t none = {0};
            rc = dapr__resil_new(&none, rt->opt.app_id, &rt->log, &rt->resil, NULL);
            if (rc)
                set_error(rt, "failed to load resiliency: %s", dapr_strerror(rc));
        } else if (rc) {
            set_error(rt, "failed to load resiliency: %s", err ? err : dapr_strerror(rc));
        }
        dapr__free(err);
    }
    dapr__resources_free(&res);
    return rc;
}

/* The Configuration resource(s) of --config, applied in order (standalone
 * mode: file paths). Like Dapr, a missing or bad file stops the start. */
static int load_config(dapr_runtime_t *rt)
{
    for (size_t i = 0; i < rt->opt.config.n; i++) {
        char *err = NULL;
        int rc = dapr__config_load_file(&rt->config, rt->opt.config.v[i], &rt->log, &err);
        if (rc)
            set_error(rt, "error loading configuration: %s", err ? err : dapr_strerror(rc));
        dapr__free(err);
        if (rc)
            return rc == DAPR_ENOMEM ? DAPR_EINVAL : rc; /* keep the message above */
        dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "loaded configuration %s from %s",
                  rt->config.name ? rt->config.name : "(unnamed)", rt->opt.config.v[i]);
    }
    if (rt->config.n_enabled) {
        dapr__buf_t b = DAPR__BUF_INIT;
        for (size_t i = 0; i < rt->config.n_enabled; i++)
            dapr__buf_printf(&b, "%s%s", i ? " " : "", rt->config.enabled[i]);
        if (!b.oom && !dapr__buf_cstr(&b)) {
            b.data[b.len] = '\0';
            dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "Enabled features: %s", b.data);
        }
        dapr__buf_free(&b);
    }
    return 0;
}

int dapr_runtime_start(dapr_runtime_t *rt, dapr_runtime_cb cb, void *data)
{
    if (!rt)
        return DAPR_EINVAL;
    if (rt->state != DAPR__RT_CREATED)
        return DAPR_ESTATE;
    rt->state = DAPR__RT_STARTING;
    rt->start_cb = cb;
    rt->start_data = data;
    rt->start_ms = uv_hrtime() / 1000000;
    rt->last_error[0] = '\0';
    if (apply_logging(rt) || read_env(rt)) {
        rt->state = DAPR__RT_FAILED;
        return DAPR_EINVAL;
    }
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "starting Dapr Runtime -- version %s -- commit %s",
              dapr_runtime_version(), "libdapr-" LIB_VERSION);
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "log level set to: %s",
              dapr__log_level_name(rt->log.level));
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "standalone mode configured");
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "app id: %s", rt->opt.app_id);
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "The request body size parameter is: %lld bytes",
              (long long)rt->opt.max_body_size);
    dapr__options_each_inactive(&rt->opt, log_inactive, rt);
    if (rt->api_token)
        dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "API authentication is enabled");
    rt->pending_inits = 1; /* held while launching, so synchronous inits can't finish early */
    int rc = load_config(rt);
    if (!rc)
        rc = load_components(rt);
    if (rc == DAPR_ENOMEM)
        set_error(rt, "out of memory while loading components");
    if (rc) {
        rt->pending_inits--;
        start_failed(rt);
        return 0;
    }
    if (--rt->pending_inits == 0)
        after_components(rt);
    return 0;
}

/* ---------------------------------------------------------------------
 * API servers
 * ------------------------------------------------------------------- */

typedef int (*listen_fn)(void *server, const char *addr, int port, int *bound);

static int http_listen(void *s, const char *addr, int port, int *bound)
{
    return dapr__http_server_listen(s, addr, port, bound);
}

static int grpc_listen(void *s, const char *addr, int port, int *bound)
{
    return dapr__grpc_server_listen(s, addr, port, bound);
}

/* Listen on every API address (default 127.0.0.1 and [::1]); returns the
 * bound port, or -1 with last_error set. */
static int listen_all(dapr_runtime_t *rt, void *server, listen_fn fn, int port, const char *what)
{
    bool defaults = !rt->opt.dapr_listen_addresses || !*rt->opt.dapr_listen_addresses;
    char *list = dapr__strdup(defaults ? "127.0.0.1,[::1]" : rt->opt.dapr_listen_addresses);
    if (!list) {
        set_error(rt, "out of memory");
        return -1;
    }
    int ok = 0, bound_port = -1;
    char *save = NULL;
    for (char *addr = strtok_r(list, ", ", &save); addr; addr = strtok_r(NULL, ", ", &save)) {
        int bound = 0;
        int rc = fn(server, addr, port, &bound);
        if (rc) {
            /* [::1] in the default list is best effort: hosts without IPv6 */
            bool soft = defaults && strchr(addr, ':');
            dapr__log(&rt->log, soft ? DAPR_LOG_DEBUG : DAPR_LOG_WARN, SCOPE,
                      "failed to listen on %s:%d: %s", addr, port, uv_strerror(rc));
            if (!soft && !rt->last_error[0])
                set_error(rt, "failed to start %s server: listen tcp %s:%d: %s", what, addr, port,
                          uv_strerror(rc));
            continue;
        }
        if (!ok && port == 0)
            port = bound; /* the other addresses share the first ephemeral port */
        bound_port = bound;
        ok++;
        dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "%s server listening on TCP address: %s:%d",
                  what, addr, bound);
    }
    dapr__free(list);
    if (!ok && !rt->last_error[0])
        set_error(rt, "failed to start %s server: no address to listen on", what);
    return rt->last_error[0] ? -1 : bound_port;
}

static int start_http(dapr_runtime_t *rt)
{
    if (rt->opt.dapr_http_port == DAPR__PORT_CLOSED)
        return 0; /* embedding: "-1" keeps the HTTP API closed */
    dapr__http_server_config_t cfg = {
        .loop = rt->loop,
        .log = &rt->log,
        .max_body_bytes = (size_t)rt->opt.max_body_size,
        .max_header_bytes = (size_t)rt->opt.read_buffer_size,
        .allowed_origins = rt->opt.allowed_origins,
        .on_request = dapr__http_dispatch,
        .stream_body = dapr__http_stream_wanted,
        .ud = rt,
    };
    const char *t = getenv("DAPR_HTTP_READ_HEADER_TIMEOUT_MS");
    int64_t v;
    if (t && !dapr__parse_int(t, &v) && v > 0)
        cfg.header_timeout_ms = cfg.body_timeout_ms = (uint64_t)v;
    t = getenv("DAPR_HTTP_IDLE_TIMEOUT_MS");
    if (t && !dapr__parse_int(t, &v) && v > 0)
        cfg.idle_timeout_ms = (uint64_t)v;
    int rc = dapr__http_server_create(&rt->http, &cfg);
    if (rc) {
        set_error(rt, "failed to create HTTP server: %s", dapr_strerror(rc));
        return rc;
    }
    rt->http_port = listen_all(rt, rt->http, http_listen, rt->opt.dapr_http_port, "HTTP");
    if (rt->http_port < 0)
        return DAPR_EIO;
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "http server is running on port %d", rt->http_port);
    return 0;
}

static int start_grpc(dapr_runtime_t *rt)
{
    if (rt->opt.dapr_grpc_port == DAPR__PORT_CLOSED)
        return 0;
    dapr__grpc_server_config_t cfg = {
        .loop = rt->loop,
        .log = &rt->log,
        .max_recv_msg = (size_t)rt->opt.max_body_size,
        .max_header_list = (size_t)rt->opt.read_buffer_size << 10,
        .ud = rt,
    };
    dapr__gapi_table(&cfg.methods, &cfg.n_methods, &cfg.fallback);
    if (!cfg.n_methods) {
        set_error(rt, "out of memory building the gRPC method table");
        return DAPR_ENOMEM;
    }
    int rc = dapr__grpc_server_create(&rt->grpc, &cfg);
    if (rc) {
        set_error(rt, "failed to create gRPC server: %s", dapr_strerror(rc));
        return rc;
    }
    rt->grpc_port = listen_all(rt, rt->grpc, grpc_listen, rt->opt.dapr_grpc_port, "gRPC");
    if (rt->grpc_port < 0)
        return DAPR_EIO;
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "API gRPC server is running on port %d",
              rt->grpc_port);
    return 0;
}

static int start_app_channel(dapr_runtime_t *rt)
{
    if (rt->opt.app_port <= 0 && rt->inproc) {
        /* the embedding program registered handlers: it is the app */
        int rc = dapr__inproc_open(rt);
        if (rc)
            set_error(rt, "failed to create the in-process app channel: %s", dapr_strerror(rc));
        return rc;
    }
    if (rt->inproc)
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "app-port %d is set: the in-process handlers, "
                  "subscriptions and actor types of the embedding program are not used",
                  rt->opt.app_port);
    if (rt->opt.app_port <= 0)
        return 0;
    int rc = dapr__appch_create(rt, &rt->appch);
    if (rc == DAPR_ENOTSUP) {
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE,
                  "app channel for --app-protocol %s is not implemented yet in libdapr: calls "
                  "to this app will fail (grpc apps are supported)", rt->opt.app_protocol);
        return 0;
    }
    if (rc) {
        set_error(rt, "failed to create the app channel: %s", dapr_strerror(rc));
        return rc;
    }
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "app channel created for %s app on port %d",
              rt->opt.app_protocol, rt->opt.app_port);
    return 0;
}

/* --enable-app-health-check: probe the app once it is discovered. The state
 * lands in rt->app_healthy (GET /v1.0/healthz stays the sidecar's own). */
static void start_app_health(dapr_runtime_t *rt)
{
    if (!rt->opt.enable_app_health_check || !rt->appch || rt->app_health ||
        rt->state != DAPR__RT_RUNNING || dapr__appch_is_inproc(rt->appch))
        return;
    int rc = dapr__app_health_start(rt, &rt->app_health);
    if (rc) {
        rt->app_health = NULL;
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "app health checks not started: %s",
                  dapr_strerror(rc));
    }
}

/* As Dapr: the sidecar is ready (GET /v1.0/healthz → 204) once the app's
 * port accepts connections; outbound calls work before that. */
/* As Dapr: once discovered, an HTTP app's configuration (GET /dapr/config:
 * entities, actor timeouts, reentrancy, ...) is read once and kept for the
 * building blocks that use it (actors). A 404 means none. */
typedef struct cfg_read {
    dapr_runtime_t *rt;
    dapr__pool_t pool;
} cfg_read_t;

static void app_config_done(const dapr__apierr_t *err, const dapr__invoke_resp_t *r, void *data)
{
    cfg_read_t *c = data;
    dapr_runtime_t *rt = c->rt;
    if (err) {
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "error loading app configuration: %s",
                  err->message);
    } else if (r->http_status == 200) {
        dapr__free(rt->app_config);
        rt->app_config = dapr__strndup(r->body ? (const char *)r->body : "", r->body_len);
        dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "application configuration loaded (%zu bytes)",
                  r->body_len);
        if (rt->actors)
            dapr__actors_configure(rt->actors, rt->app_config, r->body_len);
    } else {
        dapr__log(&rt->log, DAPR_LOG_DEBUG, SCOPE, "no app configuration: GET /dapr/config "
                  "answered %d", r->http_status);
    }
    dapr__pool_destroy(&c->pool);
    dapr__free(c);
}

static void read_app_config(dapr_runtime_t *rt)
{
    if (!rt->appch || (strcmp(rt->opt.app_protocol ? rt->opt.app_protocol : "http", "http") &&
                       !dapr__appch_is_inproc(rt->appch)))
        return;
    cfg_read_t *c = dapr__calloc(1, sizeof(*c));
    if (!c)
        return;
    c->rt = rt;
    dapr__pool_init(&c->pool, 1024);
    dapr__invoke_req_t req = {.app_id = rt->opt.app_id, .method = "dapr/config", .verb = "GET"};
    dapr__appch_invoke(rt->appch, &c->pool, &req, rt->opt.app_id, app_config_done, c);
}

static void app_discovered(int status, void *ud)
{
    dapr_runtime_t *rt = ud;
    rt->app_wait = NULL;
    if (status)
        return; /* cancelled by a stop */
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "application discovered on port %d",
              rt->opt.app_port);
    rt->ready = true;
    read_app_config(rt);
    start_app_health(rt);
    dapr__subs_app_ready(rt->subs);
}

static void wait_for_app(dapr_runtime_t *rt)
{
    const char *host = rt->opt.app_channel_address && *rt->opt.app_channel_address
                           ? rt->opt.app_channel_address
                           : "127.0.0.1";
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "application protocol: %s. waiting on port %d. "
              "This will block until the app is listening on that port.",
              rt->opt.app_protocol, rt->opt.app_port);
    if (dapr__http_wait_port(rt->loop, host, rt->opt.app_port, 50, 0, app_discovered, rt,
                             &rt->app_wait)) {
        rt->app_wait = NULL;
        rt->ready = true; /* cannot poll: do not hold readiness hostage */
        start_app_health(rt);
        dapr__subs_app_ready(rt->subs);
    }
}

static int start_remote(dapr_runtime_t *rt)
{
    if (rt->opt.dapr_internal_grpc_port == DAPR__PORT_CLOSED)
        return 0; /* no sidecar reaches this app, and it reaches none */
    int rc = dapr__remote_start(rt, &rt->remote);
    if (rc && !rt->last_error[0]) /* remote.c may have said why already */
        set_error(rt, "failed to start the internal gRPC server: %s", dapr_strerror(rc));
    return rc;
}

/* Actors (issue 6) need a placement service; the app's types arrive with
 * its /dapr/config. */
static int start_actors(dapr_runtime_t *rt)
{
    if (!rt->opt.placement_host_address || !*rt->opt.placement_host_address)
        return 0;
    int rc = dapr__actors_start(rt, &rt->actors);
    if (rc)
        set_error(rt, "failed to start the actor runtime: %s", dapr_strerror(rc));
    return rc;
}

static void after_components(dapr_runtime_t *rt)
{
    if (rt->last_error[0] || start_app_channel(rt) || start_remote(rt) || start_actors(rt) ||
        start_grpc(rt) || start_http(rt)) {
        start_failed(rt);
        return;
    }
    rt->state = DAPR__RT_RUNNING;
    rt->outbound_ready = true;
    if (rt->appch && dapr__appch_is_inproc(rt->appch)) {
        /* the program is the app: up now, always healthy */
        rt->ready = true;
        read_app_config(rt);
        dapr__subs_app_ready(rt->subs);
    } else if (rt->appch)
        wait_for_app(rt);
    else
        rt->ready = true; /* no app: nothing else to wait for */
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "dapr initialized. Status: Running. Init Elapsed %llums",
              (unsigned long long)(uv_hrtime() / 1000000 - rt->start_ms));
    if (rt->start_cb)
        rt->start_cb(rt, DAPR_OK, NULL, rt->start_data);
}

/* ---------------------------------------------------------------------
 * Stop
 * ------------------------------------------------------------------- */

static void maybe_stopped(dapr_runtime_t *rt)
{
    if (rt->pending_closes || rt->open_servers || rt->pending_inits || rt->late_inits)
        return;
    if (rt->stop_timer_live) {
        uv_timer_stop(&rt->stop_timer);
        uv_close((uv_handle_t *)&rt->stop_timer, NULL);
        rt->stop_timer_live = false;
    }
    if (rt->state == DAPR__RT_STOPPING) {
        rt->state = DAPR__RT_STOPPED;
        dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "Dapr shut down gracefully");
        dapr__embed_stopped(rt);
        if (rt->stop_cb)
            rt->stop_cb(rt, DAPR_OK, NULL, rt->stop_data);
    } else if (rt->state == DAPR__RT_FAILED && rt->start_cb) {
        dapr_runtime_cb cb = rt->start_cb;
        rt->start_cb = NULL;
        dapr__log(&rt->log, DAPR_LOG_FATAL, SCOPE, "Fatal error from runtime: %s", rt->last_error);
        dapr__embed_stopped(rt);
        cb(rt, DAPR_EIO, rt->last_error, rt->start_data);
    }
}

static void stop_close_done(dapr_component_t *c, int status, const char *detail)
{
    dapr_runtime_t *rt = c->user;
    c->initialised = false;
    if (status)
        dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE, "error closing component %s: %s", c->name,
                  detail ? detail : dapr_strerror(status));
    rt->pending_closes--;
    maybe_stopped(rt);
}

static void appch_closed(void *ud)
{
    dapr_runtime_t *rt = ud;
    rt->pending_closes--;
    maybe_stopped(rt);
}

int dapr__runtime_endpoint(dapr_runtime_t *rt, const char *app_id, dapr__appch_t **out,
                           char *why, size_t whylen)
{
    dapr__appch_t *ch = dapr__map_get(&rt->ep_chans, app_id, strlen(app_id));
    if (ch) {
        *out = ch;
        return 0;
    }
    const char *url = NULL;
    const dapr__res_endpoint_t *ep = NULL;
    if (!strncmp(app_id, "http://", 7) || !strncmp(app_id, "https://", 8)) {
        url = app_id;
    } else {
        for (size_t i = 0; i < rt->n_endpoints && !ep; i++)
            if (!strcmp(rt->endpoints[i].name, app_id) &&
                dapr__res_in_scope(rt->endpoints[i].scopes, rt->endpoints[i].n_scopes,
                                   rt->opt.app_id))
                ep = &rt->endpoints[i];
        if (!ep)
            return DAPR_ENOTFOUND;
        url = ep->base_url;
    }
    size_t n = ep ? ep->n_headers : 0;
    dapr_kv_t *h = dapr__calloc(n ? n : 1, sizeof(*h));
    if (!h)
        return DAPR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const dapr__res_md_t *m = &ep->headers[i];
        if (m->secret_name) {
            snprintf(why, whylen, "header %s of HTTPEndpoint %s uses secretKeyRef, which needs "
                     "a secret store (not implemented yet in libdapr)", m->name, ep->name);
            dapr__free(h);
            return DAPR_ENOTSUP;
        }
        h[i].key = m->name;
        h[i].value = m->env_ref ? (getenv(m->env_ref) ? getenv(m->env_ref) : "")
                                : (m->value ? m->value : "");
    }
    /* an endpoint's spec.clientTLS; a bare https:// URL uses the system CAs */
    dapr__tls_client_config_t tls = {0};
    if (ep)
        tls = (dapr__tls_client_config_t){.ca_pem = ep->tls_root_ca, .cert_pem = ep->tls_cert,
                                          .key_pem = ep->tls_key,
                                          .renegotiation = ep->tls_renegotiation};
    int rc = dapr__appch_create_endpoint(rt, url, h, n, ep ? &tls : NULL, &ch);
    dapr__free(h);
    if (rc)
        snprintf(why, whylen, "invalid endpoint URL %s", url);
    if (!rc && dapr__map_put(&rt->ep_chans, app_id, strlen(app_id), ch, NULL)) {
        dapr__appch_close(ch, NULL, NULL);
        return DAPR_ENOMEM;
    }
    if (!rc)
        *out = ch;
    return rc;
}

static void close_endpoints(dapr_runtime_t *rt, void (*done)(void *))
{
    size_t it = 0;
    void *v;
    while (dapr__map_next(&rt->ep_chans, &it, NULL, NULL, &v)) {
        rt->pending_closes++;
        dapr__appch_close(v, done, rt);
    }
    dapr__map_free(&rt->ep_chans);
    dapr__map_init(&rt->ep_chans);
}

static void close_components(dapr_runtime_t *rt)
{
    rt->pending_closes++; /* held while closing, for synchronous closes */
    if (rt->app_wait)
        dapr__http_wait_port_cancel(rt->app_wait); /* clears rt->app_wait */
    if (rt->app_health) {
        dapr__app_health_t *h = rt->app_health;
        rt->app_health = NULL;
        rt->pending_closes++;
        dapr__app_health_close(h, appch_closed, rt);
    }
    /* deliveries are answered and subscriptions ended before any close */
    dapr__subs_stop(rt->subs);
    if (rt->actors) {
        dapr__actors_t *a = rt->actors;
        rt->actors = NULL;
        rt->pending_closes++;
        dapr__actors_close(a, appch_closed, rt);
    }
    close_endpoints(rt, appch_closed);
    if (rt->remote) {
        dapr__remote_t *r = rt->remote;
        rt->remote = NULL;
        rt->pending_closes++;
        dapr__remote_close(r, appch_closed, rt);
    }
    if (rt->appch) {
        dapr__appch_t *ch = rt->appch;
        rt->appch = NULL;
        rt->pending_closes++;
        dapr__appch_close(ch, appch_closed, rt);
    }
    for (size_t i = rt->n_components; i-- > 0;) {
        dapr_component_t *c = rt->components[i];
        if (!c->initialised || c->closing)
            continue;
        c->closing = true;
        c->user = rt;
        rt->pending_closes++;
        comp_close(c, stop_close_done);
    }
    rt->pending_closes--;
    maybe_stopped(rt);
}

static void servers_down(dapr_runtime_t *rt) { close_components(rt); }

static void start_failed(dapr_runtime_t *rt)
{
    rt->state = DAPR__RT_FAILED;
    if (rt->pending_inits)
        return; /* after_components is not coming; init_done paths finish first */
    close_servers(rt, servers_down);
}

static void graceful_timeout(uv_timer_t *t)
{
    dapr_runtime_t *rt = t->data;
    dapr__log(&rt->log, DAPR_LOG_WARN, SCOPE,
              "graceful shutdown period of %llds elapsed with %zu request(s) in flight; closing "
              "components", (long long)rt->opt.dapr_graceful_shutdown_seconds,
              rt->http ? dapr__http_server_inflight(rt->http) : (size_t)0);
    close_components(rt);
}

int dapr_runtime_stop(dapr_runtime_t *rt, dapr_runtime_cb cb, void *data)
{
    if (!rt)
        return DAPR_EINVAL;
    if (rt->state != DAPR__RT_RUNNING)
        return DAPR_ESTATE;
    rt->state = DAPR__RT_STOPPING;
    rt->stop_cb = cb;
    rt->stop_data = data;
    dapr__log(&rt->log, DAPR_LOG_INFO, SCOPE, "Stop command issued. Shutting down all operations");
    dapr__subs_end_streams(rt->subs); /* streaming subscribers must not hold the gRPC server */
    uv_timer_init(rt->loop, &rt->stop_timer);
    rt->stop_timer.data = rt;
    rt->stop_timer_live = true;
    int64_t secs = rt->opt.dapr_graceful_shutdown_seconds;
    uv_timer_start(&rt->stop_timer, graceful_timeout, (uint64_t)(secs > 0 ? secs : 0) * 1000, 0);
    close_servers(rt, servers_down);
    return 0;
}

static void free_handle_data(uv_handle_t *h) { dapr__free(h); }

static void shutdown_async(uv_timer_t *t)
{
    dapr_runtime_t *rt = t->data;
    uv_close((uv_handle_t *)t, free_handle_data);
    if (rt->shutdown_cb)
        rt->shutdown_cb(rt, rt->shutdown_data);
    else if (rt->state == DAPR__RT_RUNNING)
        dapr_runtime_stop(rt, NULL, NULL);
}

void dapr__runtime_request_shutdown(dapr_runtime_t *rt)
{
    uv_timer_t *t = dapr__malloc(sizeof(*t));
    if (!t)
        return;
    uv_timer_init(rt->loop, t);
    t->data = rt;
    uv_timer_start(t, shutdown_async, 0, 0);
}
