#include "api/outbound.h"

#include "components/registry.h"
#include "core/alloc.h"
#include "runtime/resiliency.h"
#include "runtime/runtime_int.h"

typedef struct guard guard_t;

/* One attempt's callback record; outlives the guard when the attempt was
 * abandoned (timeout) and the component has not answered yet. */
typedef struct att {
    guard_t *g; /* NULL once abandoned */
} att_t;

struct guard {
    dapr__ob_get_start get_start;
    dapr__ob_done_start done_start;
    void *ud;
    dapr_state_get_cb get_fin;
    dapr_done_cb done_fin;
    void *fin_data;
    dapr__resil_op_t *op;
    att_t *cur;
    /* the answer of the attempt that ends the operation, valid while
     * dapr__resil_attempt_done runs */
    const dapr_error_t *err;
    const dapr_state_value_t *val;
    bool busy, dead;
};

static bool retryable(int code)
{
    return code != DAPR_EETAG_MISMATCH && code != DAPR_EETAG_INVALID && code != DAPR_EINVAL &&
           code != DAPR_ENOTSUP && code != DAPR_ETOOBIG && code != DAPR_ENOMEM;
}

static void answered(att_t *a, const dapr_error_t *err, const dapr_state_value_t *val)
{
    guard_t *g = a->g;
    dapr__free(a);
    if (!g)
        return; /* abandoned: the operation has moved on */
    g->cur = NULL;
    g->err = err; /* read by finished() if this attempt ends the operation */
    g->val = val;
    g->busy = true; /* finished() leaves the freeing to us */
    dapr__resil_attempt_done(g->op, err ? err->code : 0, err && retryable(err->code));
    g->busy = false;
    g->err = NULL;
    g->val = NULL;
    if (g->dead)
        dapr__free(g);
}

static void att_got(const dapr_error_t *err, const dapr_state_value_t *val, void *data)
{
    answered(data, err, val);
}

static void att_done(const dapr_error_t *err, void *data) { answered(data, err, NULL); }

static void attempt(dapr__resil_op_t *op, void *ud)
{
    guard_t *g = ud;
    att_t *a = dapr__malloc(sizeof(*a));
    if (!a) {
        dapr__resil_attempt_done(op, DAPR_ENOMEM, false);
        return;
    }
    a->g = g;
    g->cur = a;
    int rc = g->get_start ? g->get_start(g->ud, att_got, a) : g->done_start(g->ud, att_done, a);
    if (rc) { /* the component refused at once: it will not call back */
        if (g->cur == a)
            g->cur = NULL;
        dapr__free(a);
        dapr__resil_attempt_done(op, rc, retryable(rc));
    }
}

static void cancel(dapr__resil_op_t *op, int reason, void *ud)
{
    guard_t *g = ud;
    if (g->cur) {
        g->cur->g = NULL;
        g->cur = NULL;
    }
}

static void finished(int status, unsigned attempts, void *ud)
{
    guard_t *g = ud;
    dapr_error_t own, *err = (dapr_error_t *)g->err;
    if (status && !err) { /* no component answer to hand on: timeout, breaker, cancel */
        own = (dapr_error_t){
            .code = dapr__resil_is_breaker_error(status) ? DAPR_EUNAVAIL : status,
            .message = dapr__resil_strerror(status)};
        err = &own;
    }
    if (!status)
        err = NULL;
    if (g->get_fin)
        g->get_fin(err, status ? NULL : g->val, g->fin_data);
    else
        g->done_fin(err, g->fin_data);
    if (g->busy)
        g->dead = true;
    else
        dapr__free(g);
}

static dapr__resil_policy_t *policy(dapr_runtime_t *rt, dapr_component_t *c)
{
    if (!rt->resil)
        return NULL;
    return dapr__resil_policy_for_component(rt->resil, dapr_component_name(c), c->type,
                                            DAPR__RESIL_OUTBOUND);
}

static int run(dapr_runtime_t *rt, dapr__resil_policy_t *p, guard_t *g)
{
    int rc = dapr__resil_run(rt->loop, p, attempt, cancel, finished, g, &g->op);
    if (rc)
        dapr__free(g);
    return rc;
}

int dapr__ob_get(dapr_runtime_t *rt, dapr_component_t *c, dapr__ob_get_start start, void *ud,
                 dapr_state_get_cb fin, void *fin_data)
{
    dapr__resil_policy_t *p = policy(rt, c);
    if (!p)
        return start(ud, fin, fin_data);
    guard_t *g = dapr__calloc(1, sizeof(*g));
    if (!g)
        return DAPR_ENOMEM;
    *g = (guard_t){.get_start = start, .ud = ud, .get_fin = fin, .fin_data = fin_data};
    return run(rt, p, g);
}

int dapr__ob_call(dapr_runtime_t *rt, dapr_component_t *c, dapr__ob_done_start start, void *ud,
                  dapr_done_cb fin, void *fin_data)
{
    dapr__resil_policy_t *p = policy(rt, c);
    if (!p)
        return start(ud, fin, fin_data);
    guard_t *g = dapr__calloc(1, sizeof(*g));
    if (!g)
        return DAPR_ENOMEM;
    *g = (guard_t){.done_start = start, .ud = ud, .done_fin = fin, .fin_data = fin_data};
    return run(rt, p, g);
}
