/* Embedding support (embed.h): added components, the loop thread and
 * dapr_runtime_post. */
#include "embed.h"

#include <string.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/strutil.h"
#include "runtime_int.h"

typedef struct post {
    struct post *next;
    dapr_runtime_fn fn;
    void *data;
} post_t;

struct dapr__embed {
    dapr__resources_t added; /* components of dapr_runtime_add_component */
    uv_async_t async;
    bool async_live;
    uv_mutex_t mu; /* guards the queue, closed, thread_ended */
    post_t *head, *tail;
    bool closed;
    uv_thread_t thread;
    bool thread_started, thread_ended;
    bool stop_loop; /* destroy asked the loop thread to end */
};

static void run_posts(uv_async_t *h)
{
    dapr_runtime_t *rt = h->data;
    dapr__embed_t *e = rt->embed;
    uv_mutex_lock(&e->mu);
    post_t *p = e->head;
    e->head = e->tail = NULL;
    bool stop = e->stop_loop;
    uv_mutex_unlock(&e->mu);
    while (p) {
        post_t *n = p->next;
        if (!stop)
            p->fn(rt, p->data);
        dapr__free(p);
        p = n;
    }
    if (stop)
        uv_stop(rt->loop);
}

int dapr__embed_init(dapr_runtime_t *rt)
{
    dapr__embed_t *e = dapr__calloc(1, sizeof(*e));
    if (!e)
        return DAPR_ENOMEM;
    dapr__resources_init(&e->added);
    if (uv_mutex_init(&e->mu)) {
        dapr__free(e);
        return DAPR_EIO;
    }
    if (uv_async_init(rt->loop, &e->async, run_posts)) {
        uv_mutex_destroy(&e->mu);
        dapr__free(e);
        return DAPR_EIO;
    }
    e->async.data = rt;
    e->async_live = true;
    uv_unref((uv_handle_t *)&e->async);
    rt->embed = e;
    return 0;
}

/* ---------------------------------------------------------------------
 * Components added by the program
 * ------------------------------------------------------------------- */

static bool version_ok(const char *v)
{
    if (v[0] != 'v' || !(v[1] >= '0' && v[1] <= '9'))
        return false;
    for (const char *p = v + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')))
            return false;
    return true;
}

int dapr_runtime_add_component(dapr_runtime_t *rt, const char *type, const char *version,
                               const char *name, const dapr_kv_t *metadata, size_t n_metadata)
{
    if (!rt || !type || !*type || !name || !*name || (!metadata && n_metadata))
        return DAPR_EINVAL;
    if (!version)
        version = "v1";
    if (!version_ok(version))
        return DAPR_EINVAL;
    for (size_t i = 0; i < n_metadata; i++)
        if (!metadata[i].key)
            return DAPR_EINVAL;
    if (rt->state != DAPR__RT_CREATED)
        return DAPR_ESTATE;
    dapr__resources_t *r = &rt->embed->added;
    for (size_t i = 0; i < r->n_components; i++)
        if (!strcmp(r->components[i].name, name))
            return DAPR_EEXIST;
    dapr__res_component_t c = {.line = 0, .init_timeout_ms = 5000};
    c.file = dapr__strdup("(dapr_runtime_add_component)");
    c.name = dapr__strdup(name);
    c.type = dapr__strdup(type);
    c.version = dapr__strdup(version);
    c.md = dapr__calloc(n_metadata ? n_metadata : 1, sizeof(*c.md));
    bool oom = !c.file || !c.name || !c.type || !c.version || !c.md;
    for (size_t i = 0; !oom && i < n_metadata; i++) {
        c.md[i].name = dapr__strdup(metadata[i].key);
        c.md[i].value = dapr__strdup(metadata[i].value ? metadata[i].value : "");
        c.n_md = i + 1;
        oom = !c.md[i].name || !c.md[i].value;
    }
    dapr__res_component_t *nv =
        oom ? NULL : dapr__realloc(r->components, (r->n_components + 1) * sizeof(*nv));
    if (!nv) {
        /* free through a one-component set */
        dapr__resources_t tmp;
        dapr__resources_init(&tmp);
        tmp.components = dapr__malloc(sizeof(c));
        if (tmp.components) {
            tmp.components[0] = c;
            tmp.n_components = 1;
        }
        dapr__resources_free(&tmp);
        return DAPR_ENOMEM;
    }
    r->components = nv;
    r->components[r->n_components++] = c;
    return 0;
}

int dapr__embed_take_components(dapr_runtime_t *rt, dapr__resources_t *res)
{
    dapr__resources_t *a = &rt->embed->added;
    if (!a->n_components)
        return 0;
    dapr__res_component_t *nv =
        dapr__realloc(res->components, (res->n_components + a->n_components) * sizeof(*nv));
    if (!nv)
        return DAPR_ENOMEM;
    memcpy(nv + res->n_components, a->components, a->n_components * sizeof(*nv));
    res->components = nv;
    res->n_components += a->n_components;
    dapr__free(a->components);
    a->components = NULL;
    a->n_components = 0;
    return 0;
}

/* ---------------------------------------------------------------------
 * The loop thread and posts
 * ------------------------------------------------------------------- */

static void thread_main(void *arg)
{
    dapr_runtime_t *rt = arg;
    dapr__embed_t *e = rt->embed;
    uv_run(rt->loop, UV_RUN_DEFAULT);
    uv_mutex_lock(&e->mu);
    e->thread_ended = true;
    uv_mutex_unlock(&e->mu);
}

int dapr_runtime_run_thread(dapr_runtime_t *rt)
{
    if (!rt || !rt->owns_loop)
        return DAPR_EINVAL;
    dapr__embed_t *e = rt->embed;
    if (e->thread_started)
        return DAPR_ESTATE;
    /* the queue keeps the loop (and the thread) alive until the runtime
     * stops; a runtime already stopped has nothing to wait for */
    if (rt->state != DAPR__RT_STOPPED && rt->state != DAPR__RT_FAILED)
        uv_ref((uv_handle_t *)&e->async);
    e->thread_started = true;
    e->thread_ended = false;
    if (uv_thread_create(&e->thread, thread_main, rt)) {
        e->thread_started = false;
        uv_unref((uv_handle_t *)&e->async);
        return DAPR_EIO;
    }
    return 0;
}

int dapr_runtime_post(dapr_runtime_t *rt, dapr_runtime_fn fn, void *data)
{
    if (!rt || !fn)
        return DAPR_EINVAL;
    dapr__embed_t *e = rt->embed;
    post_t *p = dapr__malloc(sizeof(*p));
    if (!p)
        return DAPR_ENOMEM;
    *p = (post_t){NULL, fn, data};
    uv_mutex_lock(&e->mu);
    if (e->closed || e->thread_ended) { /* nobody would run it */
        uv_mutex_unlock(&e->mu);
        dapr__free(p);
        return DAPR_ECLOSED;
    }
    if (e->tail)
        e->tail->next = p;
    else
        e->head = p;
    e->tail = p;
    uv_async_send(&e->async); /* under the lock: destroy cannot close it meanwhile */
    uv_mutex_unlock(&e->mu);
    return 0;
}

int dapr_runtime_join_thread(dapr_runtime_t *rt)
{
    if (!rt)
        return DAPR_EINVAL;
    dapr__embed_t *e = rt->embed;
    if (!e->thread_started)
        return DAPR_ESTATE;
    uv_thread_join(&e->thread);
    e->thread_started = false;
    return 0;
}

void dapr__embed_stopped(dapr_runtime_t *rt)
{
    dapr__embed_t *e = rt->embed;
    if (e && e->async_live && e->thread_started)
        uv_unref((uv_handle_t *)&e->async);
}

static void async_closed(uv_handle_t *h)
{
    dapr_runtime_t *rt = h->data;
    rt->pending_closes--;
}

void dapr__embed_shutdown(dapr_runtime_t *rt)
{
    dapr__embed_t *e = rt->embed;
    if (!e)
        return;
    uv_mutex_lock(&e->mu);
    bool running = e->thread_started && !e->thread_ended;
    if (running) {
        e->stop_loop = true; /* the loop thread stops at its next wake-up */
        uv_async_send(&e->async);
    }
    uv_mutex_unlock(&e->mu);
    if (e->thread_started) {
        uv_thread_join(&e->thread);
        e->thread_started = false;
    }
    uv_mutex_lock(&e->mu);
    e->closed = true;
    post_t *p = e->head;
    e->head = e->tail = NULL;
    uv_mutex_unlock(&e->mu);
    while (p) { /* never run: the runtime is going away */
        post_t *n = p->next;
        dapr__free(p);
        p = n;
    }
    if (e->async_live) {
        e->async_live = false;
        rt->pending_closes++;
        uv_close((uv_handle_t *)&e->async, async_closed);
    }
}

void dapr__embed_free(dapr_runtime_t *rt)
{
    dapr__embed_t *e = rt->embed;
    if (!e)
        return;
    dapr__resources_free(&e->added);
    uv_mutex_destroy(&e->mu);
    dapr__free(e);
    rt->embed = NULL;
}
