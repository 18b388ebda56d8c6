/* Unit tests of `kind: Resiliency` parsing (components/resources.h): the
 * complete example of Dapr's docs, defaults, Go-style field matching, the
 * trip expression compiler, and bad inputs whose errors name file and line. */
#include <stdlib.h>
#include <string.h>

#include "components/resources.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "dapr/common.h"
#include "../testutil.h"

static int parse(dapr__resources_t *r, const char *yaml, char **err)
{
    return dapr__resources_parse(r, "res.yaml", yaml, strlen(yaml), NULL, err);
}

/* The "Complete example policy" of docs.dapr.io/operations/resiliency. */
static const char docs_example[] =
    "apiVersion: dapr.io/v1alpha1\n"                 /* 1 */
    "kind: Resiliency\n"                             /* 2 */
    "metadata:\n"                                    /* 3 */
    "  name: myresiliency\n"                         /* 4 */
    "scopes:\n"                                      /* 5 */
    "  - app1\n"                                     /* 6 */
    "  - app2\n"                                     /* 7 */
    "spec:\n"                                        /* 8 */
    "  policies:\n"                                  /* 9 */
    "    timeouts:\n"                                /* 10 */
    "      general: 5s\n"                            /* 11 */
    "      important: 60s\n"                         /* 12 */
    "      largeResponse: 10s\n"                     /* 13 */
    "    retries:\n"                                 /* 14 */
    "      pubsubRetry:\n"                           /* 15 */
    "        policy: constant\n"                     /* 16 */
    "        duration: 5s\n"                         /* 17 */
    "        maxRetries: 10\n"                       /* 18 */
    "      retryForever:\n"                          /* 19 */
    "        policy: exponential\n"                  /* 20 */
    "        maxInterval: 15s\n"                     /* 21 */
    "        maxRetries: -1 # retry indefinitely\n"  /* 22 */
    "      important:\n"                             /* 23 */
    "        policy: constant\n"                     /* 24 */
    "        duration: 5s\n"                         /* 25 */
    "        maxRetries: 30\n"                       /* 26 */
    "      someOperation:\n"                         /* 27 */
    "        policy: exponential\n"                  /* 28 */
    "        maxInterval: 15s\n"                     /* 29 */
    "      largeResponse:\n"                         /* 30 */
    "        policy: constant\n"                     /* 31 */
    "        duration: 5s\n"                         /* 32 */
    "        maxRetries: 3\n"                        /* 33 */
    "    circuitBreakers:\n"                         /* 34 */
    "      simpleCB:\n"                              /* 35 */
    "        maxRequests: 1\n"                       /* 36 */
    "        timeout: 30s \n"                        /* 37 */
    "        trip: consecutiveFailures >= 5\n"       /* 38 */
    "      pubsubCB:\n"                              /* 39 */
    "        maxRequests: 1\n"                       /* 40 */
    "        interval: 8s\n"                         /* 41 */
    "        timeout: 45s\n"                         /* 42 */
    "        trip: consecutiveFailures > 8\n"        /* 43 */
    "  targets:\n"                                   /* 44 */
    "    apps:\n"                                    /* 45 */
    "      appB:\n"                                  /* 46 */
    "        timeout: general\n"                     /* 47 */
    "        retry: important\n"                     /* 48 */
    "        circuitBreaker: simpleCB\n"             /* 49 */
    "    actors:\n"                                  /* 50 */
    "      myActorType:\n"                           /* 51 */
    "        timeout: general\n"                     /* 52 */
    "        retry: important\n"                     /* 53 */
    "        circuitBreaker: simpleCB\n"             /* 54 */
    "        circuitBreakerScope: both\n"            /* 55 */
    "        circuitBreakerCacheSize: 5000\n"        /* 56 */
    "    components:\n"                              /* 57 */
    "      statestore1:\n"                           /* 58 */
    "        outbound:\n"                            /* 59 */
    "          timeout: general\n"                   /* 60 */
    "          retry: retryForever\n"                /* 61 */
    "          circuitBreaker: simpleCB\n"           /* 62 */
    "      pubsub1:\n"                               /* 63 */
    "        outbound:\n"                            /* 64 */
    "          retry: pubsubRetry\n"                 /* 65 */
    "          circuitBreaker: pubsubCB\n"           /* 66 */
    "      pubsub2:\n"                               /* 67 */
    "        outbound:\n"                            /* 68 */
    "          retry: pubsubRetry\n"                 /* 69 */
    "          circuitBreaker: pubsubCB\n"           /* 70 */
    "        inbound:\n"                             /* 71 */
    "          timeout: general\n"                   /* 72 */
    "          retry: important\n"                   /* 73 */
    "          circuitBreaker: pubsubCB\n";          /* 74 */

static const dapr__res_retry_t *find_retry(const dapr__res_resiliency_t *rs, const char *name)
{
    for (size_t i = 0; i < rs->n_retries; i++)
        if (!strcmp(rs->retries[i].name, name))
            return &rs->retries[i];
    return NULL;
}

static void test_docs_example(void)
{
    dapr__resources_t r;
    dapr__resources_init(&r);
    char *err = NULL;
    CHECK_EQ_INT(parse(&r, docs_example, &err), 0);
    CHECK(err == NULL);
    CHECK_EQ_INT(r.n_components, 0);
    CHECK_EQ_INT(r.n_resiliencies, 1);
    if (r.n_resiliencies != 1)
        goto out;
    const dapr__res_resiliency_t *rs = &r.resiliencies[0];
    CHECK_EQ_STR(rs->file, "res.yaml");
    CHECK_EQ_INT(rs->line, 1);
    CHECK_EQ_STR(rs->name, "myresiliency");
    CHECK_EQ_INT(rs->n_scopes, 2);
    CHECK(dapr__res_in_scope(rs->scopes, rs->n_scopes, "app2"));
    CHECK_EQ_INT(rs->n_timeouts, 3);
    if (rs->n_timeouts == 3) {
        CHECK_EQ_STR(rs->timeouts[0].name, "general");
        CHECK_EQ_INT(rs->timeouts[0].ms, 5000);
        CHECK_EQ_INT(rs->timeouts[0].line, 11);
        CHECK_EQ_INT(rs->timeouts[1].ms, 60000);
        CHECK_EQ_INT(rs->timeouts[2].ms, 10000);
    }
    CHECK_EQ_INT(rs->n_retries, 5);
    const dapr__res_retry_t *rt = find_retry(rs, "pubsubRetry");
    CHECK(rt && rt->policy == DAPR__RES_BACKOFF_CONSTANT && rt->duration_ms == 5000 &&
          rt->max_retries == 10 && rt->line == 15);
    rt = find_retry(rs, "retryForever");
    CHECK(rt && rt->policy == DAPR__RES_BACKOFF_EXPONENTIAL && rt->max_interval_ms == 15000 &&
          rt->max_retries == -1);
    rt = find_retry(rs, "someOperation"); /* maxRetries absent: Dapr's -1 */
    CHECK(rt && rt->max_retries == -1 && rt->initial_interval_ms == 500 &&
          rt->multiplier == 1.5 && rt->randomization_factor == 0.5 &&
          rt->max_elapsed_ms == 15 * 60 * 1000 && rt->n_http_codes == 0);
    CHECK_EQ_INT(rs->n_breakers, 2);
    if (rs->n_breakers == 2) {
        const dapr__res_breaker_t *cb = &rs->breakers[0];
        CHECK_EQ_STR(cb->name, "simpleCB");
        CHECK_EQ_INT(cb->max_requests, 1);
        CHECK_EQ_INT(cb->interval_ms, 0);
        CHECK_EQ_INT(cb->timeout_ms, 30000);
        CHECK_EQ_STR(cb->trip_src, "consecutiveFailures >= 5");
        dapr__trip_counts_t c = {0};
        c.consecutive_failures = 4;
        CHECK(!dapr__trip_eval(&cb->trip, &c));
        c.consecutive_failures = 5;
        CHECK(dapr__trip_eval(&cb->trip, &c));
        CHECK_EQ_INT(rs->breakers[1].interval_ms, 8000);
        CHECK_EQ_INT(rs->breakers[1].timeout_ms, 45000);
    }
    CHECK_EQ_INT(rs->n_apps, 1);
    if (rs->n_apps == 1) {
        const dapr__res_target_t *t = &rs->apps[0];
        CHECK_EQ_STR(t->name, "appB");
        CHECK_EQ_STR(t->p.timeout.name, "general");
        CHECK_EQ_INT(t->p.timeout.line, 47);
        CHECK_EQ_STR(t->p.retry.name, "important");
        CHECK_EQ_STR(t->p.breaker.name, "simpleCB");
        CHECK_EQ_INT(t->p.breaker.line, 49);
        CHECK_EQ_INT(t->cb_cache_size, 0);
    }
    CHECK_EQ_INT(rs->n_actors, 1);
    if (rs->n_actors == 1) {
        CHECK_EQ_INT(rs->actors[0].cb_scope, DAPR__RES_CB_SCOPE_BOTH);
        CHECK_EQ_INT(rs->actors[0].cb_cache_size, 5000);
    }
    CHECK_EQ_INT(rs->n_components, 3);
    if (rs->n_components == 3) {
        CHECK_EQ_STR(rs->components[0].name, "statestore1");
        CHECK_EQ_STR(rs->components[0].outbound.retry.name, "retryForever");
        CHECK(rs->components[0].inbound.retry.name == NULL);
        CHECK_EQ_STR(rs->components[2].inbound.breaker.name, "pubsubCB");
        CHECK_EQ_INT(rs->components[2].inbound.breaker.line, 74);
    }
out:
    dapr__resources_free(&r);
    CHECK(r.resiliencies == NULL && r.n_resiliencies == 0);
}

/* Components and Resiliency in one file; Go-style case-insensitive field
 * names; bare integers are milliseconds; extensions and matching. */
static void test_mixed_and_fields(void)
{
    static const char yaml[] =
        "apiVersion: dapr.io/v1alpha1\n"
        "kind: Component\n"
        "metadata: {name: statestore}\n"
        "spec: {type: state.in-memory}\n"
        "---\n"
        "kind: Resiliency\n" /* no apiVersion: Dapr selects by kind */
        "spec:\n"
        "  policies:\n"
        "    timeouts: {quick: 250, tiny: 1us, none: 0s, sum: 1m30s}\n"
        "    retries:\n"
        "      exp:\n"
        "        Policy: Exponential\n"
        "        initialInterval: 10ms\n"
        "        randomizationFactor: 0\n"
        "        multiplier: 2\n"
        "        maxInterval: 40ms\n"
        "        maxElapsedTime: 0\n"
        "        MAXRETRIES: \"4\"\n"
        "        matching:\n"
        "          httpStatusCodes: \"429,500-599,,\"\n"
        "          gRPCStatusCodes: 14\n"
        "      dflt: ~\n"
        "    circuitBreakers:\n"
        "      cb: {maxRequests: 0, trip: \"requests > 10 && totalFailures * 1 > 0\"}\n";
    dapr__resources_t r;
    dapr__resources_init(&r);
    char *err = NULL;
    int rc = parse(&r, yaml, &err);
    /* `*` is not in the subset: the trip is refused, naming its line */
    CHECK_EQ_INT(rc, DAPR_EPARSE);
    CHECK(err && strstr(err, "res.yaml:24: ") && strstr(err, "trip: invalid expression"));
    dapr__free(err);
    dapr__resources_free(&r);

    char *fixed = dapr__strdup(yaml);
    char *star = strstr(fixed, " * 1");
    memcpy(star, "    ", 4);
    dapr__resources_init(&r);
    CHECK_EQ_INT(parse(&r, fixed, &err), 0);
    CHECK(err == NULL);
    dapr__free(fixed);
    CHECK_EQ_INT(r.n_components, 1);
    CHECK_EQ_INT(r.n_resiliencies, 1);
    if (r.n_resiliencies != 1)
        goto out;
    const dapr__res_resiliency_t *rs = &r.resiliencies[0];
    CHECK_EQ_STR(rs->name, "");
    CHECK_EQ_INT(rs->line, 5);
    CHECK_EQ_INT(rs->n_timeouts, 4);
    if (rs->n_timeouts == 4) {
        CHECK_EQ_INT(rs->timeouts[0].ms, 250);
        CHECK_EQ_INT(rs->timeouts[1].ms, 1); /* rounded up */
        CHECK_EQ_INT(rs->timeouts[2].ms, 0);
        CHECK_EQ_INT(rs->timeouts[3].ms, 90000);
    }
    const dapr__res_retry_t *rt = find_retry(rs, "exp");
    CHECK(rt != NULL);
    if (rt) {
        CHECK_EQ_INT(rt->policy, DAPR__RES_BACKOFF_EXPONENTIAL);
        CHECK_EQ_INT(rt->initial_interval_ms, 10);
        CHECK(rt->randomization_factor == 0);
        CHECK(rt->multiplier == 2);
        CHECK_EQ_INT(rt->max_interval_ms, 40);
        CHECK_EQ_INT(rt->max_elapsed_ms, 0);
        CHECK_EQ_INT(rt->max_retries, 4);
        CHECK_EQ_INT(rt->n_http_codes, 2);
        if (rt->n_http_codes == 2) {
            CHECK(rt->http_codes[0].lo == 429 && rt->http_codes[0].hi == 429);
            CHECK(rt->http_codes[1].lo == 500 && rt->http_codes[1].hi == 599);
        }
        CHECK(rt->n_grpc_codes == 1 && rt->grpc_codes[0].lo == 14);
    }
    rt = find_retry(rs, "dflt");
    CHECK(rt && rt->policy == DAPR__RES_BACKOFF_CONSTANT && rt->duration_ms == 5000 &&
          rt->max_interval_ms == 60000 && rt->max_retries == -1);
    CHECK_EQ_INT(rs->n_breakers, 1);
    if (rs->n_breakers == 1) {
        const dapr__res_breaker_t *cb = &rs->breakers[0];
        CHECK_EQ_INT(cb->max_requests, 0);
        CHECK_EQ_INT(cb->timeout_ms, 60000);
        dapr__trip_counts_t c = {0};
        c.requests = 11;
        CHECK(!dapr__trip_eval(&cb->trip, &c));
        c.total_failures = 1;
        CHECK(dapr__trip_eval(&cb->trip, &c));
    }
out:
    dapr__resources_free(&r);
}

static void check_err(const char *yaml, const char *want)
{
    dapr__resources_t r;
    dapr__resources_init(&r);
    char *err = NULL;
    CHECK_EQ_INT(parse(&r, yaml, &err), DAPR_EPARSE);
    if (!err || !strstr(err, want)) {
        fprintf(stderr, "error text \"%s\" lacks \"%s\"\n", err ? err : "(null)", want);
        test_failures++;
    }
    dapr__free(err);
    dapr__resources_free(&r);
}

#define HEAD "kind: Resiliency\nmetadata: {name: rs}\nspec:\n" /* 3 lines */

static void test_bad_inputs(void)
{
    check_err(HEAD "  policies:\n    timeouts:\n      t: 5 seconds\n",
              "res.yaml:6: resiliency rs: spec.policies.timeouts.t: invalid duration "
              "\"5 seconds\"");
    check_err(HEAD "  policies:\n    timeouts:\n      t: -5s\n", "res.yaml:6: ");
    check_err(HEAD "  policies:\n    timeouts:\n      t: ~\n", "a duration is required");
    check_err(HEAD "  policies:\n    timeouts:\n      t: [1s]\n",
              "res.yaml:6: resiliency rs: spec.policies.timeouts.t must be a duration");
    check_err(HEAD "  policies:\n    timeouts: [a, b]\n",
              "res.yaml:5: resiliency rs: timeouts must be a mapping, not a sequence");
    check_err(HEAD "  policies:\n    retries:\n      r:\n        policy: linear\n",
              "res.yaml:7: resiliency rs: spec.policies.retries.r.policy: unknown policy "
              "\"linear\"");
    check_err(HEAD "  policies:\n    retries:\n      r: {duration: 5x}\n",
              "res.yaml:6: resiliency rs: spec.policies.retries.r.duration: invalid duration");
    check_err(HEAD "  policies:\n    retries:\n      r: {maxRetries: -2}\n",
              "spec.policies.retries.r.maxRetries: -2 is out of range");
    check_err(HEAD "  policies:\n    retries:\n      r: {maxRetries: three}\n",
              "maxRetries: invalid integer \"three\"");
    check_err(HEAD "  policies:\n    retries:\n      r: {randomizationFactor: 1.5}\n",
              "randomizationFactor: 1.5 is out of range");
    check_err(HEAD "  policies:\n    retries:\n      r: {multiplier: .nan}\n",
              "multiplier: invalid number");
    check_err(HEAD "  policies:\n    retries:\n      r:\n        matching:\n"
                   "          httpStatusCodes: \"500-399\"\n",
              "res.yaml:8: resiliency rs: spec.policies.retries.r.matching.httpStatusCodes: "
              "invalid code or range \"500-399\"");
    check_err(HEAD "  policies:\n    retries:\n      r:\n        matching:\n"
                   "          gRPCStatusCodes: \"14,17\"\n",
              "invalid code or range \"17\"");
    check_err(HEAD "  policies:\n    retries:\n      r: 5s\n",
              "res.yaml:6: resiliency rs: spec.policies.retries.r must be a mapping");
    check_err(HEAD "  policies:\n    circuitBreakers:\n      cb:\n"
                   "        trip: consecutiveFails > 5\n",
              "res.yaml:7: resiliency rs: spec.policies.circuitBreakers.cb.trip: invalid "
              "expression \"consecutiveFails > 5\": unknown variable \"consecutiveFails\"");
    check_err(HEAD "  policies:\n    circuitBreakers:\n      cb: {trip: consecutiveFailures}\n",
              "must be a condition");
    check_err(HEAD "  policies:\n    circuitBreakers:\n      cb: {maxRequests: -1}\n",
              "maxRequests: -1 is out of range");
    check_err(HEAD "  policies:\n    circuitBreakers:\n      cb: {interval: forever}\n",
              "spec.policies.circuitBreakers.cb.interval: invalid duration");
    check_err(HEAD "  targets:\n    actors:\n      A:\n        circuitBreaker: cb\n",
              "res.yaml:7: resiliency rs: spec.targets.actors.A: an actor circuitBreaker needs "
              "circuitBreakerScope");
    check_err(HEAD "  targets:\n    actors:\n      A: {circuitBreakerScope: all}\n",
              "circuitBreakerScope: unknown scope \"all\"");
    check_err(HEAD "  targets:\n    apps:\n      A: {circuitBreakerCacheSize: -1}\n",
              "spec.targets.apps.A.circuitBreakerCacheSize: -1 is out of range");
    check_err(HEAD "  targets:\n    apps:\n      A: {retry: [x]}\n",
              "res.yaml:6: resiliency rs: spec.targets.apps.A.retry must be a string");
    check_err(HEAD "  targets:\n    components:\n      c: {outbound: fast}\n",
              "outbound must be a mapping, not a scalar");
    check_err(HEAD "  targets:\n    apps:\n      \"\": {retry: x}\n",
              "spec.targets.apps: names must be non-empty strings");
    check_err("kind: Resiliency\nmetadata: {name: rs}\nscopes: [a, [b]]\n",
              "res.yaml:3: resiliency rs: scopes[1] must be an app id");
    /* an unnamed document: no "resiliency <name>:" prefix */
    check_err("kind: Resiliency\nspec:\n  policies:\n    timeouts: {t: x}\n",
              "res.yaml:4: spec.policies.timeouts.t: invalid duration");
}

static void check_trip(const char *src, bool ok, const char *why)
{
    dapr__trip_t t;
    char err[160];
    int rc = dapr__trip_compile(src, &t, err, sizeof(err));
    if ((rc == 0) != ok || (!ok && why && !strstr(err, why))) {
        fprintf(stderr, "trip \"%s\": rc %d err \"%s\" (want %s%s%s)\n", src, rc, err,
                ok ? "ok" : "error", why ? " with " : "", why ? why : "");
        test_failures++;
    }
}

static bool eval(const char *src, dapr__trip_counts_t c)
{
    dapr__trip_t t;
    CHECK_EQ_INT(dapr__trip_compile(src, &t, NULL, 0), 0);
    return dapr__trip_eval(&t, &c);
}

static void test_trip(void)
{
    dapr__trip_counts_t c = {10, 4, 6, 1, 3};
    CHECK(eval("consecutiveFailures > 2", c));
    CHECK(!eval("consecutiveFailures > 3", c));
    CHECK(eval("consecutiveFailures >= 3", c));
    CHECK(eval("consecutiveFailures == 3 && requests == 10", c));
    CHECK(eval("consecutiveFailures != 3 || totalSuccesses < 5", c));
    CHECK(!eval("!(totalFailures <= 6)", c));
    CHECK(eval("(requests > 100 || totalFailures > 5) && consecutiveSuccesses == 1", c));
    CHECK(eval("requests > 100 || totalFailures > 5 && consecutiveSuccesses == 1", c));
    CHECK(!eval("(requests > 100 || totalFailures > 5) && consecutiveSuccesses == 2", c));
    CHECK(eval("totalFailures > -1", c));
    CHECK(eval("5 < requests", c));
    CHECK(eval("totalFailures > totalSuccesses", c));
    CHECK(eval("true", c));
    CHECK(!eval("false || !true", c));
    CHECK(eval("\tconsecutiveFailures>2\n", c));
    check_trip("", false, "unexpected end");
    check_trip("consecutiveFailures", false, "must be a condition");
    check_trip("consecutiveFailures > ", false, "unexpected end");
    check_trip("1 < requests < 5", false, "do not chain");
    check_trip("requests > 5 &&", false, "unexpected end");
    check_trip("requests && true", false, "conditions on both sides");
    check_trip("!requests", false, "'!' needs a condition");
    check_trip("(requests > 5", false, "missing ')'");
    check_trip("requests > 5)", false, "unexpected text");
    check_trip("requests > 5u", false, "bad number");
    check_trip("requests > 99999999999999999999", false, "out of range");
    check_trip("requests >> 5", false, "unexpected operator");
    check_trip("requests > 5 # x", false, "unexpected character");
    check_trip("true == true", false, "only numbers");
    check_trip("size(requests) > 1", false, "unknown variable \"size\"");
    /* nesting and length are bounded */
    char deep[200];
    memset(deep, '(', 40);
    strcpy(deep + 40, "true");
    memset(deep + 44, ')', 40);
    deep[84] = '\0';
    check_trip(deep, false, "too deeply nested");
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_puts(&b, "requests > 0");
    for (int i = 0; i < 30; i++)
        dapr__buf_puts(&b, " && requests > 0");
    dapr__buf_cstr(&b);
    check_trip(b.data, false, "too long");
    dapr__buf_free(&b);
    /* an uncompiled (zeroed) program never trips */
    dapr__trip_t zero;
    memset(&zero, 0, sizeof(zero));
    CHECK(!dapr__trip_eval(&zero, &c));
}

/* Every allocation of the parser failing in turn: an error, never a leak or
 * a crash (ASan checks). */
static void test_parse_oom(void)
{
    for (long n = 0;; n++) {
        dapr__resources_t r;
        dapr__resources_init(&r);
        char *err = NULL;
        dapr__alloc_fail_after(n);
        int rc = parse(&r, docs_example, &err);
        dapr__alloc_fail_after(-1);
        dapr__free(err);
        dapr__resources_free(&r);
        if (rc == 0)
            break;
        CHECK_EQ_INT(rc, DAPR_ENOMEM);
        if (n > 100000) {
            CHECK(!"allocation-failure loop did not end");
            break;
        }
    }
}

int main(void)
{
    test_docs_example();
    test_mixed_and_fields();
    test_bad_inputs();
    test_trip();
    test_parse_oom();
    return test_result();
}
