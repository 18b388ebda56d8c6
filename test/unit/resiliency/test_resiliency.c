/* Unit tests of the resiliency engine (runtime/resiliency.h) on a real uv
 * loop with fake attempts: timeouts, constant and exponential retries
 * (spacing checked with uv_now deltas and generous bounds), unlimited
 * retries stopped by the test, circuit breaker states, Dapr's lookup order
 * for named defaults, built-in policies, scopes, caches, and errors. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "components/resources.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "dapr/common.h"
#include "runtime/resiliency.h"
#include "../testutil.h"

#define MAX_AT 128
#define SLACK_MS 1000 /* upper bounds: generous, a loaded CI box is slow */

/* ---- fixtures -------------------------------------------------------------- */

static dapr__resources_t res;

static int load(const char *file, const char *yaml)
{
    char *err = NULL;
    int rc = dapr__resources_parse(&res, file, yaml, strlen(yaml), NULL, &err);
    if (rc)
        fprintf(stderr, "parse: %s\n", err ? err : "?");
    dapr__free(err);
    return rc;
}

/* Engine for app "me" from the given documents (parsed as "r.yaml"). */
static dapr__resil_t *engine(const char *yaml)
{
    dapr__resources_init(&res);
    dapr__resil_t *r = NULL;
    char *err = NULL;
    CHECK_EQ_INT(load("r.yaml", yaml), 0);
    int rc = dapr__resil_new(&res, "me", NULL, &r, &err);
    if (rc)
        fprintf(stderr, "resil_new: %s\n", err ? err : "?");
    CHECK_EQ_INT(rc, 0);
    dapr__free(err);
    dapr__resources_free(&res); /* the engine keeps no pointer into it */
    if (r)
        dapr__resil_seed(r, 42);
    return r;
}

/* A fake remote: fails its first `fail_first` attempts (all when -1) with
 * `fail_status`, answering synchronously or after `delay_ms`; `hang` never
 * answers. */
typedef struct fake {
    uv_loop_t *loop;
    int fail_first;
    int fail_status;
    bool retryable;
    bool hang;
    int delay_ms;
    int first_delay_ms; /* when set: attempt 1's delay */
    unsigned cancel_at; /* dapr__resil_cancel from inside this attempt */
    unsigned attempts, cancels;
    int cancel_reason;
    uint64_t at[MAX_AT];
    uv_timer_t t;
    bool pending;
    dapr__resil_op_t *op;
    bool done;
    int status;
    unsigned done_attempts;
    uint64_t done_at;
} fake_t;

static void fake_init(fake_t *f, uv_loop_t *loop)
{
    memset(f, 0, sizeof(*f));
    f->loop = loop;
    f->fail_status = DAPR_EUNAVAIL;
    f->retryable = true;
    uv_timer_init(loop, &f->t);
    f->t.data = f;
}

static void fake_close(fake_t *f)
{
    uv_close((uv_handle_t *)&f->t, NULL);
}

static int fake_result(const fake_t *f)
{
    return f->fail_first < 0 || (int)f->attempts <= f->fail_first ? f->fail_status : 0;
}

static void fake_fire(uv_timer_t *t)
{
    fake_t *f = t->data;
    f->pending = false;
    dapr__resil_attempt_done(f->op, fake_result(f), f->retryable);
}

static void fake_attempt(dapr__resil_op_t *op, void *ud)
{
    fake_t *f = ud;
    CHECK(op == f->op);
    if (f->attempts < MAX_AT)
        f->at[f->attempts] = uv_now(f->loop);
    f->attempts++;
    CHECK_EQ_INT(dapr__resil_op_attempt(op), f->attempts);
    if (f->cancel_at && f->attempts == f->cancel_at) {
        dapr__resil_cancel(op);
        return;
    }
    if (f->hang)
        return;
    int delay = f->attempts == 1 && f->first_delay_ms ? f->first_delay_ms : f->delay_ms;
    if (delay) {
        f->pending = true;
        uv_timer_start(&f->t, fake_fire, (uint64_t)delay, 0);
        return;
    }
    dapr__resil_attempt_done(op, fake_result(f), f->retryable);
}

static void fake_cancel(dapr__resil_op_t *op, int reason, void *ud)
{
    fake_t *f = ud;
    f->cancels++;
    f->cancel_reason = reason;
    if (f->pending) {
        uv_timer_stop(&f->t);
        f->pending = false;
    }
    /* a report while being cancelled is ignored */
    dapr__resil_attempt_done(op, DAPR_ECANCELED, true);
}

static void fake_done(int status, unsigned attempts, void *ud)
{
    fake_t *f = ud;
    CHECK(!f->done);
    f->done = true;
    f->status = status;
    f->done_attempts = attempts;
    f->done_at = uv_now(f->loop);
    f->op = NULL;
}

static void start(fake_t *f, dapr__resil_policy_t *p)
{
    CHECK_EQ_INT(dapr__resil_run(f->loop, p, fake_attempt, fake_cancel, fake_done, f, &f->op),
                 0);
}

/* Run one operation to its end. */
static void run_one(uv_loop_t *loop, fake_t *f, dapr__resil_policy_t *p)
{
    start(f, p);
    while (!f->done && uv_run(loop, UV_RUN_ONCE))
        ;
    CHECK(f->done);
}

static void loop_close(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(loop), 0);
}

static void noop_timer(uv_timer_t *t)
{
    (void)t;
}

static void sleep_loop(uv_loop_t *loop, uint64_t ms)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, noop_timer, ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}

static void check_gap(const fake_t *f, unsigned i, int64_t lo, int64_t hi)
{
    int64_t gap = (int64_t)(f->at[i] - f->at[i - 1]);
    if (gap < lo || gap > hi) {
        fprintf(stderr, "attempt %u came %lld ms after the previous one (want %lld..%lld)\n",
                i + 1, (long long)gap, (long long)lo, (long long)hi);
        test_failures++;
    }
}

#define DOC "apiVersion: dapr.io/v1alpha1\nkind: Resiliency\nmetadata: {name: test}\n"

/* ---- no policy, timeouts ------------------------------------------------------ */

static void test_no_policy(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake_t f;
    fake_init(&f, &loop);
    f.fail_first = -1;
    f.fail_status = DAPR_EBACKEND;
    run_one(&loop, &f, NULL);
    CHECK_EQ_INT(f.status, DAPR_EBACKEND);
    CHECK_EQ_INT(f.attempts, 1);
    CHECK_EQ_INT(f.done_attempts, 1);

    dapr__resil_t *r = engine(DOC);
    CHECK(dapr__resil_policy_for_app(r, "other") == NULL); /* nothing configured */
    CHECK(dapr__resil_policy_for_component(r, "s", "state.redis", DAPR__RESIL_OUTBOUND) == NULL);
    CHECK(dapr__resil_policy_for_actor(r, "A", "1") == NULL);
    fake_t g;
    fake_init(&g, &loop);
    run_one(&loop, &g, NULL); /* synchronous success */
    CHECK_EQ_INT(g.status, 0);
    fake_close(&f);
    fake_close(&g);
    loop_close(&loop);
    dapr__resil_free(r);
}

static void test_timeout(void)
{
    dapr__resil_t *r = engine(DOC "spec:\n"
                                  "  policies:\n"
                                  "    timeouts: {short: 60ms}\n"
                                  "    retries: {three: {policy: constant, duration: 10ms, "
                                  "maxRetries: 3}}\n"
                                  "  targets:\n"
                                  "    apps:\n"
                                  "      slow: {timeout: short}\n"
                                  "      slowretry: {timeout: short, retry: three}\n");
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake_t f;
    fake_init(&f, &loop);
    f.hang = true;
    dapr__resil_policy_t *p = dapr__resil_policy_for_app(r, "slow");
    dapr__resil_policy_info_t info;
    dapr__resil_policy_info(p, &info);
    CHECK_EQ_STR(info.timeout_name, "short");
    CHECK_EQ_INT(info.timeout_ms, 60);
    CHECK(info.retry == NULL && info.breaker == NULL);
    uint64_t t0 = uv_now(&loop);
    run_one(&loop, &f, p);
    CHECK_EQ_INT(f.status, DAPR_ETIMEDOUT);
    CHECK_EQ_INT(f.attempts, 1);
    CHECK_EQ_INT(f.cancels, 1);
    CHECK_EQ_INT(f.cancel_reason, DAPR_ETIMEDOUT);
    CHECK(f.done_at - t0 >= 55 && f.done_at - t0 < 60 + SLACK_MS);

    /* a slow answer that beats the timeout is not cancelled */
    fake_t g;
    fake_init(&g, &loop);
    g.delay_ms = 10;
    run_one(&loop, &g, p);
    CHECK_EQ_INT(g.status, 0);
    CHECK_EQ_INT(g.cancels, 0);

    /* every attempt times out, then retries run out */
    fake_t h;
    fake_init(&h, &loop);
    h.hang = true;
    run_one(&loop, &h, dapr__resil_policy_for_app(r, "slowretry"));
    CHECK_EQ_INT(h.status, DAPR_ETIMEDOUT);
    CHECK_EQ_INT(h.attempts, 4);
    CHECK_EQ_INT(h.done_attempts, 4);
    CHECK_EQ_INT(h.cancels, 4);
    for (unsigned i = 1; i < 4; i++)
        check_gap(&h, i, 60 + 10 - 5, 70 + SLACK_MS);

    /* a timeout then a success */
    fake_t k;
    fake_init(&k, &loop);
    k.first_delay_ms = 200; /* first attempt: too slow */
    k.delay_ms = 5;         /* the retry answers in time */
    run_one(&loop, &k, dapr__resil_policy_for_app(r, "slowretry"));
    CHECK_EQ_INT(k.status, 0);
    CHECK_EQ_INT(k.attempts, 2);
    CHECK_EQ_INT(k.cancels, 1);

    fake_close(&f);
    fake_close(&g);
    fake_close(&h);
    fake_close(&k);
    loop_close(&loop);
    dapr__resil_free(r);
}

/* ---- retries ------------------------------------------------------------------- */

static void test_constant_retry(void)
{
    dapr__resil_t *r = engine(DOC "spec:\n"
                                  "  policies:\n"
                                  "    retries:\n"
                                  "      c3: {policy: constant, duration: 40ms, maxRetries: 3}\n"
                                  "      none: {maxRetries: 0}\n"
                                  "  targets:\n"
                                  "    apps: {a: {retry: c3}, b: {retry: none}}\n");
    uv_loop_t loop;
    uv_loop_init(&loop);
    dapr__resil_policy_t *p = dapr__resil_policy_for_app(r, "a");
    fake_t f;
    fake_init(&f, &loop);
    f.fail_first = -1;
    run_one(&loop, &f, p);
    CHECK_EQ_INT(f.status, DAPR_EUNAVAIL);
    CHECK_EQ_INT(f.attempts, 4); /* 1 + maxRetries */
    for (unsigned i = 1; i < 4; i++)
        check_gap(&f, i, 38, 40 + SLACK_MS);

    fake_t g; /* two failures, then success; async answers */
    fake_init(&g, &loop);
    g.fail_first = 2;
    g.delay_ms = 5;
    run_one(&loop, &g, p);
    CHECK_EQ_INT(g.status, 0);
    CHECK_EQ_INT(g.attempts, 3);

    fake_t h; /* not retryable: stops at once */
    fake_init(&h, &loop);
    h.fail_first = -1;
    h.retryable = false;
    h.fail_status = DAPR_EINVAL;
    run_one(&loop, &h, p);
    CHECK_EQ_INT(h.status, DAPR_EINVAL);
    CHECK_EQ_INT(h.attempts, 1);

    fake_t k; /* maxRetries 0: one attempt */
    fake_init(&k, &loop);
    k.fail_first = -1;
    run_one(&loop, &k, dapr__resil_policy_for_app(r, "b"));
    CHECK_EQ_INT(k.attempts, 1);

    fake_close(&f);
    fake_close(&g);
    fake_close(&h);
    fake_close(&k);
    loop_close(&loop);
    dapr__resil_free(r);
}

static void test_exponential_retry(void)
{
    dapr__resil_t *r = engine(
        DOC "spec:\n"
            "  policies:\n"
            "    retries:\n"
            "      exact: {policy: exponential, initialInterval: 20ms, multiplier: 2,\n"
            "              randomizationFactor: 0, maxInterval: 80ms, maxRetries: 5}\n"
            "      jitter: {policy: exponential, initialInterval: 40ms, maxRetries: 4}\n"
            "      elapsed: {policy: exponential, initialInterval: 20ms, multiplier: 1,\n"
            "                randomizationFactor: 0, maxElapsedTime: 110ms}\n"
            "  targets:\n"
            "    apps: {exact: {retry: exact}, jitter: {retry: jitter}, "
            "elapsed: {retry: elapsed}}\n");
    uv_loop_t loop;
    uv_loop_init(&loop);

    fake_t f; /* 20, 40, 80, 80, 80 */
    fake_init(&f, &loop);
    f.fail_first = -1;
    run_one(&loop, &f, dapr__resil_policy_for_app(r, "exact"));
    CHECK_EQ_INT(f.attempts, 6);
    static const int64_t want[] = {0, 20, 40, 80, 80, 80};
    for (unsigned i = 1; i < 6; i++)
        check_gap(&f, i, want[i] - 2, want[i] + SLACK_MS);
    CHECK(f.at[3] - f.at[2] > f.at[1] - f.at[0]); /* it grows */

    fake_t g; /* default factor 0.5, multiplier 1.5: 40, 60, 90, 135 each ±50% */
    fake_init(&g, &loop);
    g.fail_first = -1;
    run_one(&loop, &g, dapr__resil_policy_for_app(r, "jitter"));
    CHECK_EQ_INT(g.attempts, 5);
    static const int64_t mid[] = {0, 40, 60, 90, 135};
    for (unsigned i = 1; i < 5; i++)
        check_gap(&g, i, mid[i] / 2 - 2, mid[i] * 3 / 2 + SLACK_MS);

    fake_t h; /* no retry limit, but 20ms steps stop before 110ms have passed */
    fake_init(&h, &loop);
    h.fail_first = -1;
    run_one(&loop, &h, dapr__resil_policy_for_app(r, "elapsed"));
    CHECK(h.attempts >= 2 && h.attempts <= 6);
    CHECK(h.done_at - h.at[0] <= 110 + SLACK_MS);
    CHECK_EQ_INT(h.status, DAPR_EUNAVAIL);

    fake_close(&f);
    fake_close(&g);
    fake_close(&h);
    loop_close(&loop);
    dapr__resil_free(r);
}

/* maxRetries -1 retries until someone stops it: here the test, by
 * cancelling the operation from inside its 25th attempt, and then by
 * cancelling while a retry is pending. */
static void test_retry_forever(void)
{
    dapr__resil_t *r = engine(DOC "spec:\n"
                                  "  policies:\n"
                                  "    retries: {forever: {duration: 1ms, maxRetries: -1}}\n"
                                  "  targets:\n"
                                  "    apps: {a: {retry: forever}}\n");
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake_t f;
    fake_init(&f, &loop);
    f.fail_first = -1;
    f.cancel_at = 25;
    run_one(&loop, &f, dapr__resil_policy_for_app(r, "a"));
    CHECK_EQ_INT(f.status, DAPR_ECANCELED);
    CHECK_EQ_INT(f.attempts, 25);
    CHECK_EQ_INT(f.cancels, 1);
    CHECK_EQ_INT(f.cancel_reason, DAPR_ECANCELED);

    fake_t g;
    fake_init(&g, &loop);
    g.fail_first = -1;
    start(&g, dapr__resil_policy_for_app(r, "a"));
    while (g.attempts < 10 && uv_run(&loop, UV_RUN_ONCE))
        ;
    CHECK(!g.done);
    dapr__resil_op_t *op = g.op;
    dapr__resil_cancel(op); /* between attempts: no cancel_fn call */
    CHECK(g.done);
    CHECK_EQ_INT(g.status, DAPR_ECANCELED);
    CHECK_EQ_INT(g.cancels, 0);
    CHECK(g.attempts >= 10);

    fake_close(&f);
    fake_close(&g);
    loop_close(&loop);
    dapr__resil_free(r);
}

/* ---- circuit breakers -------------------------------------------------------- */

static void test_breaker(void)
{
    dapr__resil_t *r = engine(
        DOC "spec:\n"
            "  policies:\n"
            "    retries: {many: {duration: 1ms, maxRetries: 10}}\n"
            "    circuitBreakers:\n"
            "      cb: {maxRequests: 1, timeout: 100ms, trip: consecutiveFailures >= 3}\n"
            "      cb2: {maxRequests: 2, timeout: 50ms, trip: consecutiveFailures >= 3}\n"
            "  targets:\n"
            "    apps:\n"
            "      a: {circuitBreaker: cb}\n"
            "      b: {circuitBreaker: cb, retry: many}\n"
            "      c: {circuitBreaker: cb2}\n");
    uv_loop_t loop;
    uv_loop_init(&loop);
    dapr__resil_policy_t *p = dapr__resil_policy_for_app(r, "a");
    dapr__resil_policy_info_t info;
    dapr__resil_policy_info(p, &info);
    CHECK(info.breaker && !strcmp(info.breaker->name, "cb"));
    CHECK_EQ_STR(info.breaker_key, "a");
    fake_t f[12];
    for (int i = 0; i < 12; i++)
        fake_init(&f[i], &loop);

    /* three consecutive failures trip it */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(dapr__resil_breaker_state(p, &loop), DAPR__RESIL_CB_CLOSED);
        f[i].fail_first = -1;
        run_one(&loop, &f[i], dapr__resil_policy_for_app(r, "a"));
        CHECK_EQ_INT(f[i].status, DAPR_EUNAVAIL);
    }
    p = dapr__resil_policy_for_app(r, "a");
    CHECK_EQ_INT(dapr__resil_breaker_state(p, &loop), DAPR__RESIL_CB_OPEN);

    /* open: fails fast, the attempt never runs */
    run_one(&loop, &f[3], p);
    CHECK_EQ_INT(f[3].status, DAPR__ERESIL_BREAKER_OPEN);
    CHECK_EQ_INT(f[3].attempts, 0);
    CHECK_EQ_STR(dapr__resil_strerror(f[3].status), "circuit breaker is open");
    CHECK(dapr__resil_is_breaker_error(f[3].status));

    /* after the timeout: half-open, one request through, the next refused */
    sleep_loop(&loop, 120);
    CHECK_EQ_INT(dapr__resil_breaker_state(p, &loop), DAPR__RESIL_CB_HALF_OPEN);
    f[4].delay_ms = 20;
    start(&f[4], p);
    CHECK(!f[4].done);
    run_one(&loop, &f[5], p);
    CHECK_EQ_INT(f[5].status, DAPR__ERESIL_TOO_MANY_REQUESTS);
    CHECK_EQ_INT(f[5].attempts, 0);
    CHECK_EQ_STR(dapr__resil_strerror(f[5].status), "too many requests");
    while (!f[4].done && uv_run(&loop, UV_RUN_ONCE))
        ;
    CHECK_EQ_INT(f[4].status, 0);
    CHECK_EQ_INT(dapr__resil_breaker_state(p, &loop), DAPR__RESIL_CB_CLOSED);

    /* trip again; a failure while half-open reopens it */
    for (int i = 6; i < 9; i++) {
        f[i].fail_first = -1;
        run_one(&loop, &f[i], p);
    }
    CHECK_EQ_INT(dapr__resil_breaker_state(p, &loop), DAPR__RESIL_CB_OPEN);
    sleep_loop(&loop, 120);
    f[9].fail_first = -1;
    run_one(&loop, &f[9], p);
    CHECK_EQ_INT(f[9].attempts, 1);
    CHECK_EQ_INT(dapr__resil_breaker_state(p, &loop), DAPR__RESIL_CB_OPEN);

    /* retries stop when the breaker opens under them */
    fake_t g;
    fake_init(&g, &loop);
    g.fail_first = -1;
    run_one(&loop, &g, dapr__resil_policy_for_app(r, "b"));
    CHECK_EQ_INT(g.status, DAPR__ERESIL_BREAKER_OPEN);
    CHECK_EQ_INT(g.attempts, 3);

    /* one breaker per app: "a" is open, "c" is not; maxRequests 2 needs two
     * successes while half-open */
    dapr__resil_policy_t *pc = dapr__resil_policy_for_app(r, "c");
    for (int i = 0; i < 3; i++) {
        fake_t x;
        fake_init(&x, &loop);
        x.fail_first = -1;
        run_one(&loop, &x, pc);
        fake_close(&x);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    CHECK_EQ_INT(dapr__resil_breaker_state(pc, &loop), DAPR__RESIL_CB_OPEN);
    sleep_loop(&loop, 70);
    run_one(&loop, &f[10], pc);
    CHECK_EQ_INT(f[10].status, 0);
    CHECK_EQ_INT(dapr__resil_breaker_state(pc, &loop), DAPR__RESIL_CB_HALF_OPEN);
    run_one(&loop, &f[11], pc);
    CHECK_EQ_INT(dapr__resil_breaker_state(pc, &loop), DAPR__RESIL_CB_CLOSED);

    for (int i = 0; i < 12; i++)
        fake_close(&f[i]);
    fake_close(&g);
    loop_close(&loop);
    dapr__resil_free(r);
}

/* interval clears the counts of a closed breaker; a cancelled half-open
 * attempt gives its slot back; a timed-out attempt counts as a failure. */
static void test_breaker_interval_cancel(void)
{
    dapr__resil_t *r = engine(
        DOC "spec:\n"
            "  policies:\n"
            "    timeouts: {t: 30ms}\n"
            "    circuitBreakers:\n"
            "      iv: {interval: 60ms, timeout: 40ms, trip: consecutiveFailures > 1}\n"
            "      plain: {trip: consecutiveFailures > 1}\n"
            "  targets:\n"
            "    apps: {a: {circuitBreaker: iv}, t: {circuitBreaker: plain, timeout: t}}\n");
    uv_loop_t loop;
    uv_loop_init(&loop);
    dapr__resil_policy_t *p = dapr__resil_policy_for_app(r, "a");
    fake_t f[6];
    for (int i = 0; i < 6; i++) {
        fake_init(&f[i], &loop);
        f[i].fail_first = -1;
    }
    run_one(&loop, &f[0], p);
    sleep_loop(&loop, 90); /* the interval passes: counts cleared */
    run_one(&loop, &f[1], p);
    CHECK_EQ_INT(dapr__resil_breaker_state(p, &loop), DAPR__RESIL_CB_CLOSED);
    run_one(&loop, &f[2], p); /* second consecutive failure within the interval */
    CHECK_EQ_INT(dapr__resil_breaker_state(p, &loop), DAPR__RESIL_CB_OPEN);

    sleep_loop(&loop, 60);
    CHECK_EQ_INT(dapr__resil_breaker_state(p, &loop), DAPR__RESIL_CB_HALF_OPEN);
    f[3].hang = true;
    start(&f[3], p);
    dapr__resil_cancel(f[3].op);
    CHECK_EQ_INT(f[3].status, DAPR_ECANCELED);
    CHECK_EQ_INT(f[3].cancels, 1);
    f[4].fail_first = 0;
    run_one(&loop, &f[4], p); /* the slot is free again */
    CHECK_EQ_INT(f[4].status, 0);
    CHECK_EQ_INT(dapr__resil_breaker_state(p, &loop), DAPR__RESIL_CB_CLOSED);

    dapr__resil_policy_t *pt = dapr__resil_policy_for_app(r, "t");
    for (int i = 0; i < 2; i++) {
        fake_t x;
        fake_init(&x, &loop);
        x.hang = true;
        run_one(&loop, &x, pt);
        CHECK_EQ_INT(x.status, DAPR_ETIMEDOUT);
        fake_close(&x);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    CHECK_EQ_INT(dapr__resil_breaker_state(pt, &loop), DAPR__RESIL_CB_OPEN);

    for (int i = 0; i < 6; i++)
        fake_close(&f[i]);
    loop_close(&loop);
    dapr__resil_free(r);
}

/* A bounded breaker cache evicts the least recently used endpoint; an
 * operation still running on an evicted policy finishes normally. */
static void test_breaker_cache(void)
{
    dapr__resil_t *r = engine(
        DOC "spec:\n"
            "  policies:\n"
            "    circuitBreakers: {cb: {timeout: 10s, trip: consecutiveFailures >= 1}}\n"
            "  targets:\n"
            "    apps: {a: {circuitBreaker: cb, circuitBreakerCacheSize: 2}}\n");
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake_t f, g;
    fake_init(&f, &loop);
    fake_init(&g, &loop);
    f.fail_first = -1;
    run_one(&loop, &f, dapr__resil_policy_for_endpoint(r, "a", "a:m1"));
    dapr__resil_policy_t *p1 = dapr__resil_policy_for_endpoint(r, "a", "a:m1");
    CHECK_EQ_INT(dapr__resil_breaker_state(p1, &loop), DAPR__RESIL_CB_OPEN);
    dapr__resil_policy_info_t info;
    dapr__resil_policy_info(p1, &info);
    CHECK_EQ_STR(info.breaker_key, "a:m1");
    dapr__resil_policy_t *p2 = dapr__resil_policy_for_endpoint(r, "a", "a:m2");
    CHECK_EQ_INT(dapr__resil_breaker_state(p2, &loop), DAPR__RESIL_CB_CLOSED);
    g.hang = true;
    start(&g, p2); /* holds p2 */
    dapr__resil_policy_for_endpoint(r, "a", "a:m1"); /* m1 most recent */
    dapr__resil_policy_for_endpoint(r, "a", "a:m3"); /* evicts m2 */
    dapr__resil_policy_t *p1b = dapr__resil_policy_for_endpoint(r, "a", "a:m1");
    CHECK_EQ_INT(dapr__resil_breaker_state(p1b, &loop), DAPR__RESIL_CB_OPEN); /* kept */
    dapr__resil_policy_for_endpoint(r, "a", "a:m4"); /* evicts m3 */
    dapr__resil_policy_for_endpoint(r, "a", "a:m5"); /* evicts m1 */
    p1 = dapr__resil_policy_for_endpoint(r, "a", "a:m1");
    CHECK_EQ_INT(dapr__resil_breaker_state(p1, &loop), DAPR__RESIL_CB_CLOSED); /* fresh */
    dapr__resil_attempt_done(g.op, 0, true);
    CHECK(g.done && g.status == 0);

    /* default policies: a cache per app id, made on demand and bounded */
    dapr__resil_t *r2 = engine(DOC "spec:\n"
                                   "  policies:\n"
                                   "    circuitBreakers: {DefaultAppCircuitBreakerPolicy: {}}\n");
    for (int i = 0; i < 600; i++) {
        char id[32];
        snprintf(id, sizeof(id), "app%d", i);
        dapr__resil_policy_t *p = dapr__resil_policy_for_app(r2, id);
        dapr__resil_policy_info(p, &info);
        CHECK(info.breaker && !strcmp(info.breaker->name, "DefaultAppCircuitBreakerPolicy"));
        CHECK_EQ_STR(info.breaker_key, id);
    }
    dapr__resil_free(r2);

    fake_close(&f);
    fake_close(&g);
    loop_close(&loop);
    dapr__resil_free(r);
}

/* ---- lookups --------------------------------------------------------------- */

static const char *retry_of(dapr__resil_policy_t *p)
{
    dapr__resil_policy_info_t info;
    dapr__resil_policy_info(p, &info);
    return info.retry ? info.retry->name : "(none)";
}

static const char *timeout_of(dapr__resil_policy_t *p)
{
    dapr__resil_policy_info_t info;
    dapr__resil_policy_info(p, &info);
    return info.timeout_name ? info.timeout_name : "(none)";
}

static const char *breaker_of(dapr__resil_policy_t *p)
{
    dapr__resil_policy_info_t info;
    dapr__resil_policy_info(p, &info);
    return info.breaker ? info.breaker->name : "(none)";
}

/* The example of docs.dapr.io .../resiliency/policies/default-policies
 * (its actorstore target written with `outbound:`, the only shape Dapr's
 * component targets have), plus timeouts and breakers. */
static void test_default_lookup_order(void)
{
    dapr__resil_t *r = engine(
        DOC "spec:\n"
            "  policies:\n"
            "    timeouts:\n"
            "      DefaultTimeoutPolicy: 9s\n"
            "      DefaultComponentOutboundTimeoutPolicy: 3s\n"
            "      DefaultPubsubComponentInboundTimeoutPolicy: 4s\n"
            "      general: 5s\n"
            "    retries:\n"
            "      DefaultRetryPolicy: {policy: constant, duration: 1s, maxRetries: 3}\n"
            "      DefaultAppRetryPolicy: {policy: constant, duration: 100ms, maxRetries: 5}\n"
            "      DefaultActorRetryPolicy: {policy: exponential, maxInterval: 15s, "
            "maxRetries: 10}\n"
            "      DefaultComponentInboundRetryPolicy: {duration: 5s, maxRetries: 5}\n"
            "      DefaultStatestoreComponentOutboundRetryPolicy: {policy: exponential}\n"
            "      fastRetries: {duration: 10ms, maxRetries: 3}\n"
            "      retryForever: {policy: exponential, maxInterval: 10s, maxRetries: -1}\n"
            "    circuitBreakers:\n"
            "      DefaultComponentCircuitBreakerPolicy: {}\n"
            "      DefaultActorCircuitBreakerPolicy: {}\n"
            "  targets:\n"
            "    apps:\n"
            "      appA: {retry: fastRetries}\n"
            "      appB: {retry: retryForever, timeout: general}\n"
            "    actors:\n"
            "      EventActor: {retry: retryForever}\n"
            "    components:\n"
            "      actorstore: {outbound: {retry: fastRetries}}\n");
    /* apps */
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_app(r, "appA")), "fastRetries");
    CHECK_EQ_STR(timeout_of(dapr__resil_policy_for_app(r, "appA")), "(none)"); /* whole */
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_app(r, "appB")), "retryForever");
    CHECK_EQ_STR(timeout_of(dapr__resil_policy_for_app(r, "appB")), "general");
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_app(r, "appC")), "DefaultAppRetryPolicy");
    CHECK_EQ_STR(timeout_of(dapr__resil_policy_for_app(r, "appC")), "DefaultTimeoutPolicy");
    CHECK_EQ_STR(breaker_of(dapr__resil_policy_for_app(r, "appC")), "(none)");
    /* components */
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_component(r, "pubsub", "pubsub.redis",
                                                           DAPR__RESIL_OUTBOUND)),
                 "DefaultRetryPolicy");
    CHECK_EQ_STR(timeout_of(dapr__resil_policy_for_component(r, "pubsub", "pubsub.redis",
                                                             DAPR__RESIL_OUTBOUND)),
                 "DefaultComponentOutboundTimeoutPolicy");
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_component(r, "pubsub", "pubsub.redis",
                                                           DAPR__RESIL_INBOUND)),
                 "DefaultComponentInboundRetryPolicy");
    CHECK_EQ_STR(timeout_of(dapr__resil_policy_for_component(r, "pubsub", "pubsub.redis",
                                                             DAPR__RESIL_INBOUND)),
                 "DefaultPubsubComponentInboundTimeoutPolicy");
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_component(r, "statestore", "state.redis",
                                                           DAPR__RESIL_OUTBOUND)),
                 "DefaultStatestoreComponentOutboundRetryPolicy");
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_component(r, "statestore", "state.redis",
                                                           DAPR__RESIL_INBOUND)),
                 "DefaultComponentInboundRetryPolicy");
    CHECK_EQ_STR(breaker_of(dapr__resil_policy_for_component(r, "statestore", "state.redis",
                                                             DAPR__RESIL_OUTBOUND)),
                 "DefaultComponentCircuitBreakerPolicy");
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_component(r, "b", "bindings.kafka",
                                                           DAPR__RESIL_OUTBOUND)),
                 "DefaultRetryPolicy");
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_component(r, "x", NULL, DAPR__RESIL_INBOUND)),
                 "DefaultComponentInboundRetryPolicy");
    /* a named component target wins whole: no inbound block, no inbound policy */
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_component(r, "actorstore", "state.redis",
                                                           DAPR__RESIL_OUTBOUND)),
                 "fastRetries");
    CHECK(dapr__resil_policy_for_component(r, "actorstore", "state.redis",
                                           DAPR__RESIL_INBOUND) == NULL);
    /* actors */
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_actor(r, "EventActor", "1")), "retryForever");
    CHECK_EQ_STR(breaker_of(dapr__resil_policy_for_actor(r, "EventActor", "1")), "(none)");
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_actor(r, "SummaryActor", "1")),
                 "DefaultActorRetryPolicy");
    dapr__resil_policy_info_t info;
    dapr__resil_policy_info(dapr__resil_policy_for_actor(r, "SummaryActor", "7"), &info);
    CHECK(info.breaker && !strcmp(info.breaker->name, "DefaultActorCircuitBreakerPolicy"));
    CHECK_EQ_STR(info.breaker_key, "SummaryActor"); /* defaults: per type */
    /* named targets exist only where written */
    CHECK(dapr__resil_has_target(r, DAPR__RESIL_APP, "appA"));
    CHECK(!dapr__resil_has_target(r, DAPR__RESIL_APP, "appC"));
    CHECK(dapr__resil_has_target(r, DAPR__RESIL_ACTOR, "EventActor"));
    CHECK(dapr__resil_has_target(r, DAPR__RESIL_COMPONENT, "actorstore"));
    CHECK(!dapr__resil_has_target(r, DAPR__RESIL_COMPONENT, "pubsub"));
    dapr__resil_free(r);
}

static void test_actor_scope_and_matching(void)
{
    dapr__resil_t *r = engine(
        DOC "spec:\n"
            "  policies:\n"
            "    retries:\n"
            "      m: {matching: {httpStatusCodes: \"429,500-599\", gRPCStatusCodes: \"14\"}}\n"
            "      all: {}\n"
            "    circuitBreakers: {cb: {}}\n"
            "  targets:\n"
            "    actors:\n"
            "      T: {circuitBreaker: cb, circuitBreakerScope: type, retry: m}\n"
            "      I: {circuitBreaker: cb, circuitBreakerScope: id}\n"
            "      B: {circuitBreaker: cb, circuitBreakerScope: both, retry: all}\n");
    dapr__resil_policy_info_t info;
    dapr__resil_policy_t *p = dapr__resil_policy_for_actor(r, "T", "1");
    dapr__resil_policy_info(p, &info);
    CHECK_EQ_STR(info.breaker_key, "T");
    CHECK(p == dapr__resil_policy_for_actor(r, "T", "2"));
    CHECK(dapr__resil_retry_http_status(p, 429));
    CHECK(dapr__resil_retry_http_status(p, 503));
    CHECK(!dapr__resil_retry_http_status(p, 404));
    CHECK(dapr__resil_retry_grpc_status(p, 14));
    CHECK(!dapr__resil_retry_grpc_status(p, 5));
    dapr__resil_policy_info(dapr__resil_policy_for_actor(r, "I", "1"), &info);
    CHECK_EQ_STR(info.breaker_key, "I-1");
    p = dapr__resil_policy_for_actor(r, "B", "9");
    dapr__resil_policy_info(p, &info);
    CHECK_EQ_STR(info.breaker_key, "B-9");
    CHECK(dapr__resil_retry_http_status(p, 404)); /* no matching: every code */
    CHECK(dapr__resil_retry_grpc_status(p, 3));
    CHECK(!dapr__resil_retry_http_status(dapr__resil_policy_for_actor(r, "I", "1"), 500));
    CHECK(!dapr__resil_retry_http_status(NULL, 500));
    dapr__resil_free(r);
}

static void test_builtins(void)
{
    dapr__resil_t *r = engine(DOC);
    dapr__resil_policy_info_t info;
    dapr__resil_policy_info(dapr__resil_policy_builtin(r, "DaprBuiltInServiceRetries"), &info);
    CHECK(info.retry && info.retry->policy == DAPR__RES_BACKOFF_CONSTANT &&
          info.retry->duration_ms == 1000 && info.retry->max_retries == 3);
    CHECK(info.timeout_name == NULL && info.breaker == NULL);
    dapr__resil_policy_info(dapr__resil_policy_builtin(r, "DaprBuiltInActorReminderRetries"),
                            &info);
    CHECK(info.retry && info.retry->policy == DAPR__RES_BACKOFF_EXPONENTIAL &&
          info.retry->initial_interval_ms == 500 && info.retry->max_interval_ms == 60000 &&
          info.retry->max_elapsed_ms == 15 * 60 * 1000 && info.retry->max_retries == -1);
    dapr__resil_policy_info(dapr__resil_policy_builtin(r, "DaprBuiltInInitializationRetries"),
                            &info);
    CHECK(info.retry && info.retry->max_retries == 3 && info.retry->max_elapsed_ms == 10000 &&
          info.retry->max_interval_ms == 1000);
    dapr__resil_policy_info(dapr__resil_policy_builtin(r, "DaprBuiltInActorNotFoundRetries"),
                            &info);
    CHECK(info.retry && info.retry->max_retries == 5);
    CHECK(dapr__resil_policy_builtin(r, "NoSuchPolicy") == NULL);
    dapr__resil_free(r);

    /* overrides: raised to at least 3 retries; the protected one is kept */
    r = engine(DOC "spec:\n"
                   "  policies:\n"
                   "    retries:\n"
                   "      DaprBuiltInServiceRetries: {duration: 2s, maxRetries: 1}\n"
                   "      DaprBuiltInActorRetries: {duration: 3s, maxRetries: 7}\n"
                   "      DaprBuiltInActorNotFoundRetries: {maxRetries: 50}\n"
                   "  targets:\n"
                   "    apps: {a: {retry: DaprBuiltInActorRetries}}\n");
    dapr__resil_policy_info(dapr__resil_policy_builtin(r, "DaprBuiltInServiceRetries"), &info);
    CHECK(info.retry && info.retry->duration_ms == 2000 && info.retry->max_retries == 3);
    dapr__resil_policy_info(dapr__resil_policy_builtin(r, "DaprBuiltInActorRetries"), &info);
    CHECK(info.retry && info.retry->duration_ms == 3000 && info.retry->max_retries == 7);
    dapr__resil_policy_info(dapr__resil_policy_builtin(r, "DaprBuiltInActorNotFoundRetries"),
                            &info);
    CHECK(info.retry && info.retry->max_retries == 5);
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_app(r, "a")), "DaprBuiltInActorRetries");
    dapr__resil_free(r);
}

/* Scopes select documents; later documents replace policies and targets of
 * the same name; a target may name a policy of another document. */
static void test_scopes_and_merge(void)
{
    dapr__resources_init(&res);
    CHECK_EQ_INT(load("one.yaml", DOC "spec:\n"
                                      "  policies:\n"
                                      "    retries: {shared: {maxRetries: 1}, r1: {}}\n"
                                      "  targets:\n"
                                      "    apps: {x: {retry: r1}}\n"),
                 0);
    CHECK_EQ_INT(load("two.yaml", DOC "scopes: [someone-else]\n"
                                      "spec:\n"
                                      "  policies:\n"
                                      "    retries: {r2: {}, DefaultRetryPolicy: {}}\n"
                                      "  targets:\n"
                                      "    apps: {y: {retry: missing}}\n"),
                 0);
    CHECK_EQ_INT(load("three.yaml", DOC "scopes: [me, other]\n"
                                        "spec:\n"
                                        "  policies:\n"
                                        "    retries: {shared: {maxRetries: 2}}\n"
                                        "  targets:\n"
                                        "    apps: {x: {retry: shared}, z: {retry: r1}}\n"),
                 0);
    dapr__resil_t *r = NULL;
    char *err = NULL;
    CHECK_EQ_INT(dapr__resil_new(&res, "me", NULL, &r, &err), 0);
    CHECK(err == NULL);
    dapr__resil_policy_info_t info;
    dapr__resil_policy_info(dapr__resil_policy_for_app(r, "x"), &info);
    CHECK(info.retry && !strcmp(info.retry->name, "shared") && info.retry->max_retries == 2);
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_app(r, "z")), "r1");
    CHECK(dapr__resil_policy_for_app(r, "other") == NULL); /* two.yaml is not ours */
    CHECK(!dapr__resil_has_target(r, DAPR__RESIL_APP, "y"));
    dapr__resil_free(r);

    /* for app "someone-else", two.yaml applies and its target is wrong */
    CHECK_EQ_INT(dapr__resil_new(&res, "someone-else", NULL, &r, &err), DAPR_EPARSE);
    CHECK(r == NULL);
    CHECK(err && strstr(err, "two.yaml:9: resiliency test: spec.targets.apps.y.retry: "
                             "unknown retry policy \"missing\""));
    dapr__free(err);
    /* without an app id only unscoped documents apply */
    CHECK_EQ_INT(dapr__resil_new(&res, NULL, NULL, &r, NULL), 0);
    CHECK_EQ_STR(retry_of(dapr__resil_policy_for_app(r, "x")), "r1");
    dapr__resil_free(r);
    dapr__resources_free(&res);
}

static void check_build_err(const char *yaml, const char *want)
{
    dapr__resources_init(&res);
    CHECK_EQ_INT(load("bad.yaml", yaml), 0);
    dapr__resil_t *r = NULL;
    char *err = NULL;
    CHECK_EQ_INT(dapr__resil_new(&res, "me", NULL, &r, &err), DAPR_EPARSE);
    if (!err || !strstr(err, want)) {
        fprintf(stderr, "error text \"%s\" lacks \"%s\"\n", err ? err : "(null)", want);
        test_failures++;
    }
    dapr__free(err);
    dapr__resil_free(r);
    dapr__resources_free(&res);
}

static void test_unknown_references(void)
{
    check_build_err(DOC "spec:\n"                          /* 4 */
                        "  targets:\n"                     /* 5 */
                        "    apps:\n"                      /* 6 */
                        "      a:\n"                       /* 7 */
                        "        timeout: nope\n",         /* 8 */
                    "bad.yaml:8: resiliency test: spec.targets.apps.a.timeout: unknown timeout "
                    "policy \"nope\"");
    check_build_err(DOC "spec:\n"
                        "  targets:\n"
                        "    actors:\n"
                        "      A: {circuitBreaker: cb, circuitBreakerScope: id}\n",
                    "bad.yaml:7: resiliency test: spec.targets.actors.A.circuitBreaker: unknown "
                    "circuit breaker policy \"cb\"");
    check_build_err(DOC "spec:\n"
                        "  policies: {retries: {r: {}}}\n"
                        "  targets:\n"
                        "    components:\n"
                        "      c:\n"
                        "        outbound: {retry: r}\n"
                        "        inbound: {retry: q}\n",
                    "bad.yaml:10: resiliency test: spec.targets.components.c.inbound.retry: "
                    "unknown retry policy \"q\"");
}

/* Allocation failures while building the engine and while running: an
 * error (or no breaker), never a leak or a crash. */
static void test_oom(void)
{
    static const char yaml[] =
        DOC "spec:\n"
            "  policies:\n"
            "    timeouts: {t: 1s, DefaultTimeoutPolicy: 2s}\n"
            "    retries: {r: {matching: {httpStatusCodes: \"500\"}}, DefaultAppRetryPolicy: {}}\n"
            "    circuitBreakers: {cb: {}, DefaultComponentCircuitBreakerPolicy: {}}\n"
            "  targets:\n"
            "    apps: {a: {timeout: t, retry: r, circuitBreaker: cb}}\n"
            "    components: {c: {outbound: {retry: r}, inbound: {circuitBreaker: cb}}}\n";
    dapr__resources_init(&res);
    CHECK_EQ_INT(load("oom.yaml", yaml), 0);
    long n;
    for (n = 0; n < 100000; n++) {
        dapr__resil_t *r = NULL;
        char *err = NULL;
        dapr__alloc_fail_after(n);
        int rc = dapr__resil_new(&res, "me", NULL, &r, &err);
        dapr__alloc_fail_after(-1);
        dapr__free(err);
        if (!rc) {
            dapr__resil_free(r);
            break;
        }
        CHECK_EQ_INT(rc, DAPR_ENOMEM);
        CHECK(r == NULL);
    }
    CHECK(n < 100000);
    dapr__resil_t *r = NULL;
    CHECK_EQ_INT(dapr__resil_new(&res, "me", NULL, &r, NULL), 0);
    dapr__resources_free(&res);
    uv_loop_t loop;
    uv_loop_init(&loop);
    for (n = 0; n < 40; n++) {
        fake_t f;
        fake_init(&f, &loop);
        f.delay_ms = 1;
        dapr__alloc_fail_after(n);
        dapr__resil_policy_t *p = dapr__resil_policy_for_endpoint(r, "a", n & 1 ? "e1" : "e2");
        dapr__resil_policy_t *q =
            dapr__resil_policy_for_component(r, "c", "state.redis", DAPR__RESIL_INBOUND);
        (void)q;
        int rc = dapr__resil_run(&loop, p, fake_attempt, fake_cancel, fake_done, &f, &f.op);
        dapr__alloc_fail_after(-1);
        if (rc == 0)
            while (!f.done && uv_run(&loop, UV_RUN_ONCE))
                ;
        else
            CHECK_EQ_INT(rc, DAPR_ENOMEM);
        fake_close(&f);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    loop_close(&loop);
    dapr__resil_free(r);
}

/* Transitions and retries are logged at debug. */
static void log_sink(void *ud, dapr_log_level_t lvl, const char *line, size_t len)
{
    dapr__buf_append(ud, line, len);
    dapr__buf_putc(ud, '\n');
}

static void test_logs(void)
{
    dapr__resources_init(&res);
    CHECK_EQ_INT(load("log.yaml", DOC "spec:\n"
                                      "  policies:\n"
                                      "    retries: {r: {duration: 1ms, maxRetries: 1}}\n"
                                      "    circuitBreakers: {cb: {trip: consecutiveFailures > 1}}\n"
                                      "  targets:\n"
                                      "    apps: {a: {retry: r, circuitBreaker: cb}}\n"),
                 0);
    dapr__logger_t lg;
    dapr__logger_init(&lg);
    dapr__buf_t logs = DAPR__BUF_INIT;
    lg.level = DAPR_LOG_DEBUG;
    lg.sink = log_sink;
    lg.sink_ud = &logs;
    dapr__resil_t *r = NULL;
    CHECK_EQ_INT(dapr__resil_new(&res, "me", &lg, &r, NULL), 0);
    dapr__resources_free(&res);
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake_t f;
    fake_init(&f, &loop);
    f.fail_first = -1;
    run_one(&loop, &f, dapr__resil_policy_for_app(r, "a"));
    CHECK_EQ_INT(f.attempts, 2);
    dapr__buf_cstr(&logs);
    CHECK(logs.data && strstr(logs.data, "Loading Resiliency configuration: test"));
    CHECK(logs.data && strstr(logs.data, "Retrying in 1 ms"));
    CHECK(logs.data && strstr(logs.data, "changed state from closed to open"));
    CHECK(logs.data && strstr(logs.data, "scope=dapr.runtime.resiliency"));
    fake_close(&f);
    loop_close(&loop);
    dapr__resil_free(r);
    dapr__buf_free(&logs);
}

int main(void)
{
    test_no_policy();
    test_timeout();
    test_constant_retry();
    test_exponential_retry();
    test_retry_forever();
    test_breaker();
    test_breaker_interval_cancel();
    test_breaker_cache();
    test_default_lookup_order();
    test_actor_scope_and_matching();
    test_builtins();
    test_scopes_and_merge();
    test_unknown_references();
    test_oom();
    test_logs();
    return test_result();
}
