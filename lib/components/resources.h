/* The resources loader: YAML files in --resources-path directories turned
 * into typed resources (Component and Resiliency now; Subscription,
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

/* ---- Resiliency (apiVersion dapr.io/v1alpha1, kind: Resiliency) ----------
 *
 * Parsed as written, one struct per document; lib/runtime/resiliency.h merges
 * the documents in scope, adds Dapr's built-in policies and resolves the
 * names targets refer to (so a target may name a policy of another file).
 * Durations are Go durations ("5s", "1m30s") or a bare integer of
 * milliseconds, as Dapr's decoder takes them; stored in milliseconds, a
 * positive value below 1ms rounded up to 1ms. */

/* Circuit-breaker trip expression: the subset of CEL Dapr's samples use,
 * compiled to a small stack program. Variables: requests, totalSuccesses,
 * totalFailures, consecutiveSuccesses, consecutiveFailures; integer
 * literals; > >= < <= == !=; && || ! and parentheses. */
#define DAPR__TRIP_MAX_CODE 64

typedef struct dapr__trip_counts {
    int64_t requests;
    int64_t total_successes;
    int64_t total_failures;
    int64_t consecutive_successes;
    int64_t consecutive_failures;
} dapr__trip_counts_t;

typedef struct dapr__trip {
    uint8_t n;
    struct {
        uint8_t op;
        int64_t arg;
    } code[DAPR__TRIP_MAX_CODE];
} dapr__trip_t;

/* Compile src into t. Returns 0, or DAPR_EPARSE with a reason in err
 * (errlen bytes, NUL-terminated). Allocates nothing. */
int dapr__trip_compile(const char *src, dapr__trip_t *t, char *err, size_t errlen);
/* Evaluate on counts (a compiled program cannot fail). */
bool dapr__trip_eval(const dapr__trip_t *t, const dapr__trip_counts_t *c);

typedef enum dapr__res_backoff {
    DAPR__RES_BACKOFF_CONSTANT = 0,
    DAPR__RES_BACKOFF_EXPONENTIAL
} dapr__res_backoff_t;

typedef struct dapr__res_code_range {
    int lo, hi; /* inclusive */
} dapr__res_code_range_t;

typedef struct dapr__res_timeout {
    char *name;
    int line;
    int64_t ms; /* 0 = no timeout */
} dapr__res_timeout_t;

typedef struct dapr__res_retry {
    char *name;
    int line;
    dapr__res_backoff_t policy;   /* default constant */
    int64_t duration_ms;          /* constant: delay between attempts, default 5s */
    int64_t max_interval_ms;      /* exponential: cap of one delay, default 60s */
    int64_t max_retries;          /* -1 = no limit (default), 0 = no retry */
    /* exponential, Dapr kit's retry.Config fields (defaults as Dapr's): */
    int64_t initial_interval_ms;  /* 500ms */
    double randomization_factor;  /* 0.5: each delay is drawn from d*(1±0.5) */
    double multiplier;            /* 1.5 */
    int64_t max_elapsed_ms;       /* 15m; 0 = no limit */
    /* matching.httpStatusCodes / gRPCStatusCodes; none = retry every code */
    dapr__res_code_range_t *http_codes;
    size_t n_http_codes;
    dapr__res_code_range_t *grpc_codes;
    size_t n_grpc_codes;
} dapr__res_retry_t;

typedef struct dapr__res_breaker {
    char *name;
    int line;
    uint32_t max_requests; /* let through when half-open; default 1 (0 means 1) */
    int64_t interval_ms;   /* closed: counts cleared every interval; 0 = never (default) */
    int64_t timeout_ms;    /* open → half-open after; default 60s */
    char *trip_src;        /* as written, or the default "consecutiveFailures > 5" */
    dapr__trip_t trip;
} dapr__res_breaker_t;

/* A policy name a target refers to; name NULL when not set. */
typedef struct dapr__res_ref {
    char *name;
    int line;
} dapr__res_ref_t;

typedef struct dapr__res_policy_refs {
    dapr__res_ref_t timeout, retry, breaker;
} dapr__res_policy_refs_t;

typedef enum dapr__res_cb_scope {
    DAPR__RES_CB_SCOPE_TYPE = 0, /* one breaker per actor type */
    DAPR__RES_CB_SCOPE_ID,       /* one per actor id */
    DAPR__RES_CB_SCOPE_BOTH      /* Dapr: "both" (uses per-id breakers today) */
} dapr__res_cb_scope_t;

/* targets.apps.<appId>, targets.actors.<type>, targets.components.<name>. */
typedef struct dapr__res_target {
    char *name;
    int line;
    dapr__res_policy_refs_t p;         /* apps, actors */
    dapr__res_policy_refs_t outbound;  /* components */
    dapr__res_policy_refs_t inbound;   /* components */
    int64_t cb_cache_size;             /* apps, actors; 0 = default (apps 100, actors 5000) */
    dapr__res_cb_scope_t cb_scope;     /* actors */
} dapr__res_target_t;

typedef struct dapr__res_resiliency {
    char *file;
    int line; /* document start */
    char *name;       /* metadata.name, "" when absent */
    char *namespace_; /* metadata.namespace or NULL */
    char **scopes;
    size_t n_scopes;
    dapr__res_timeout_t *timeouts;
    size_t n_timeouts;
    dapr__res_retry_t *retries;
    size_t n_retries;
    dapr__res_breaker_t *breakers;
    size_t n_breakers;
    dapr__res_target_t *apps;
    size_t n_apps;
    dapr__res_target_t *actors;
    size_t n_actors;
    dapr__res_target_t *components;
    size_t n_components;
} dapr__res_resiliency_t;

/* Every field's default, as Dapr's (retry.DefaultConfig, gobreaker). */
void dapr__res_retry_defaults(dapr__res_retry_t *rt);
void dapr__res_breaker_defaults(dapr__res_breaker_t *cb);

/* kind: HTTPEndpoint (apiVersion dapr.io/v1alpha1): an external HTTP
 * service callable through service invocation by name or by URL. */
typedef struct dapr__res_endpoint {
    char *file;
    int line;
    char *name;         /* metadata.name */
    char *base_url;     /* spec.baseUrl, required */
    dapr__res_md_t *headers; /* spec.headers: name + value / secretKeyRef / envRef */
    size_t n_headers;
    char **scopes;
    size_t n_scopes;
    bool has_client_tls; /* spec.clientTLS given */
    /* spec.clientTLS.{rootCA,certificate,privateKey}.value: PEM text, NULL
     * when absent (no rootCA: the system store). Checked at load (they
     * parse, certificate and key match); secretKeyRef is refused there. */
    char *tls_root_ca, *tls_cert, *tls_key;
    bool tls_renegotiation; /* spec.clientTLS.renegotiation Once/FreelyAsClient */
} dapr__res_endpoint_t;

/* kind: Subscription (apiVersion dapr.io/v2alpha1, or the deprecated
 * v1alpha1 with spec.route): a declarative pub/sub subscription. */
typedef struct dapr__res_sub_rule {
    char *match; /* CEL source, NULL = match-all */
    char *path;
    int line;
} dapr__res_sub_rule_t;

typedef struct dapr__res_subscription {
    char *file;
    int line;
    char *name;       /* metadata.name */
    char *pubsubname; /* spec.pubsubname, required */
    char *topic;      /* spec.topic, required */
    char **md_keys;   /* spec.metadata (map of strings) */
    char **md_vals;
    size_t n_md;
    dapr__res_sub_rule_t *rules; /* spec.routes.rules, in order */
    size_t n_rules;
    char *default_path; /* spec.routes.default (v2) or spec.route (v1), or NULL */
    char *dead_letter;  /* spec.deadLetterTopic or NULL */
    bool bulk_enabled;  /* spec.bulkSubscribe */
    int64_t bulk_max_count;
    int64_t bulk_max_await_ms;
    char **scopes;
    size_t n_scopes;
} dapr__res_subscription_t;

typedef struct dapr__resources {
    dapr__res_component_t *components;
    size_t n_components;
    dapr__res_resiliency_t *resiliencies; /* in load order */
    size_t n_resiliencies;
    struct dapr__res_endpoint *endpoints; /* kind: HTTPEndpoint, in load order */
    size_t n_endpoints;
    dapr__res_subscription_t *subscriptions; /* kind: Subscription, in load order */
    size_t n_subscriptions;
} dapr__resources_t;

void dapr__resources_init(dapr__resources_t *r);
void dapr__resources_free(dapr__resources_t *r);

/* Parse one file's bytes (may hold several `---` documents) and append what
 * it declares. Documents of kinds not handled yet are skipped with a debug
 * log. Resiliency documents are taken by kind alone (any apiVersion), as
 * Dapr's loader does; a bad duration, policy kind, trip expression or actor
 * circuitBreakerScope fails the parse (names of policies a target refers to
 * are checked when the runtime merges the documents, resiliency.h).
 * Documents without apiVersion/kind (not Dapr resources) are skipped.
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
