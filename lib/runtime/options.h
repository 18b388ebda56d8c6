/* Runtime options: daprd's command-line flags (spec §17) as one table of
 * rows (name, type, default, offset, validator, active?), shared by the
 * daemon and by embedders through dapr_runtime_set_option(). */
#ifndef DAPR_RUNTIME_OPTIONS_H
#define DAPR_RUNTIME_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dapr__strlist {
    char **v;
    size_t n;
} dapr__strlist_t;

/* "-1" given for dapr-http-port, dapr-grpc-port or dapr-internal-grpc-port:
 * that server stays closed (runtime.h, embedding). */
#define DAPR__PORT_CLOSED (-2)

typedef struct dapr__options {
    char *app_id;
    int app_port;               /* -1 = none */
    char *app_protocol;
    char *app_channel_address;
    int64_t app_max_concurrency;
    int dapr_http_port;          /* DAPR__PORT_CLOSED: no HTTP API server */
    int dapr_grpc_port;          /* DAPR__PORT_CLOSED: no gRPC API server */
    int dapr_internal_grpc_port; /* -1 = random, DAPR__PORT_CLOSED: no internal server */
    char *dapr_internal_grpc_listen_address;
    int dapr_public_port;       /* -1 = off */
    char *dapr_public_listen_address;
    char *dapr_listen_addresses; /* NULL = 127.0.0.1 and [::1] */
    dapr__strlist_t resources_path;
    dapr__strlist_t config;
    char *mode;
    char *placement_host_address;
    char *scheduler_host_address;
    int64_t scheduler_job_streams;
    char *actors_service;
    char *reminders_service;
    char *allowed_origins;
    int64_t max_body_size;      /* bytes */
    int64_t read_buffer_size;   /* bytes */
    bool app_ssl;
    char *unix_domain_socket;
    bool enable_app_health_check;
    char *app_health_check_path;
    int64_t app_health_probe_interval; /* seconds */
    int64_t app_health_probe_timeout;  /* milliseconds */
    int64_t app_health_threshold;
    int64_t app_binding_options_timeout_ns;
    int64_t dapr_graceful_shutdown_seconds;
    int64_t dapr_block_shutdown_duration_ns;
    bool enable_api_logging;
    bool enable_profiling;
    int profile_port;
    bool enable_metrics;
    int metrics_port;
    char *metrics_listen_address;
    char *log_level;
    bool log_as_json;
    bool enable_mtls;
    char *sentry_address;
    char *control_plane_address;
    char *control_plane_trust_domain;
    char *control_plane_namespace;
    char *sentry_request_jwt_audiences;
    bool disable_builtin_k8s_secret_store;
    bool wait;
    bool version;
    bool build_info;

    /* which rows were set explicitly (bit per table row) */
    uint64_t set_mask[2];
} dapr__options_t;

/* Fill with Dapr's defaults. Returns 0 or DAPR_ENOMEM. */
int dapr__options_init(dapr__options_t *o);
void dapr__options_free(dapr__options_t *o);
/* Set by flag name (leading dashes allowed). On error returns DAPR_E* and
 * writes a reason into err. */
int dapr__options_set(dapr__options_t *o, const char *name, const char *value, char *err,
                      size_t errlen);
/* Call fn for every explicitly set option whose feature is not active yet. */
void dapr__options_each_inactive(const dapr__options_t *o,
                                 void (*fn)(void *ud, const char *name, const char *why),
                                 void *ud);

#endif
