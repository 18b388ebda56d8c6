#include "options.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/strutil.h"
#include "dapr/runtime.h"

typedef enum {
    T_STR,      /* char * */
    T_PORT,     /* int, "" = -1 */
    T_INT,      /* int64_t */
    T_BOOL,     /* bool */
    T_QUANTITY, /* int64_t bytes */
    T_LIST,     /* dapr__strlist_t, repeatable, also comma-split */
    T_DURATION, /* int64_t ns, Go duration */
    T_MB,       /* deprecated MB integer -> int64_t bytes */
    T_KB,       /* deprecated KB integer -> int64_t bytes */
    T_APPSSL    /* deprecated --app-ssl */
} opt_type;

typedef struct opt_row {
    const char *name;
    opt_type type;
    const char *def;
    size_t off;
    const char *(*check)(const dapr__options_t *o, const char *v);
    const char *inactive; /* NULL = works now; else which issue brings it */
    const char *alias_of; /* deprecated alias */
    const char *help;
} opt_row;

#define O(f) offsetof(dapr__options_t, f)

static const char *check_protocol(const dapr__options_t *o, const char *v)
{
    static const char *ok[] = {"http", "https", "grpc", "grpcs", "h2c"};
    for (size_t i = 0; i < 5; i++)
        if (!strcmp(v, ok[i]))
            return NULL;
    return "must be one of http, https, grpc, grpcs, h2c";
}

static const char *check_mode(const dapr__options_t *o, const char *v)
{
    if (!strcmp(v, "standalone"))
        return NULL;
    if (!strcmp(v, "kubernetes"))
        return "kubernetes mode is not supported by libdapr (standalone only)";
    return "must be standalone or kubernetes";
}

static const char *check_level(const dapr__options_t *o, const char *v)
{
    dapr_log_level_t l;
    return dapr__log_level_parse(v, &l) ? "must be one of debug, info, warn, error, fatal" : NULL;
}

#define INVOKE "service invocation (app channel) is not active yet"
#define ACTORS "actors are not active yet"
#define SECURITY "mTLS and the control plane are not active yet"
#define METRICS "metrics are not active yet"
#define MISC "not active yet"

static const opt_row rows[] = {
    {"app-id", T_STR, "", O(app_id), NULL, NULL, NULL, "A unique ID for the application"},
    {"app-port", T_PORT, "", O(app_port), NULL, NULL, NULL, "The port the application is listening on"},
    {"app-protocol", T_STR, "http", O(app_protocol), check_protocol, NULL, NULL,
     "Protocol for the application: grpc, grpcs, http, https, h2c"},
    {"app-channel-address", T_STR, "127.0.0.1", O(app_channel_address), NULL, NULL, NULL,
     "The network address the application listens on"},
    {"app-max-concurrency", T_INT, "-1", O(app_max_concurrency), NULL, NULL, NULL,
     "Controls the concurrency level when forwarding requests to user code; -1 = unlimited"},
    {"dapr-http-port", T_PORT, "3500", O(dapr_http_port), NULL, NULL, NULL, "HTTP port for Dapr API to listen on"},
    {"dapr-grpc-port", T_PORT, "50001", O(dapr_grpc_port), NULL, NULL, NULL, "gRPC port for the Dapr API to listen on"},
    {"dapr-internal-grpc-port", T_PORT, "", O(dapr_internal_grpc_port), NULL, NULL, NULL,
     "gRPC port for the Dapr Internal API to listen on"},
    {"dapr-internal-grpc-listen-address", T_STR, "", O(dapr_internal_grpc_listen_address), NULL,
     NULL, NULL, "The listening address for the internal gRPC server"},
    {"dapr-public-port", T_PORT, "", O(dapr_public_port), NULL, MISC, NULL,
     "Public port for Dapr Health and Metadata to listen on"},
    {"dapr-public-listen-address", T_STR, "", O(dapr_public_listen_address), NULL, MISC, NULL,
     "The listening address for the public endpoints"},
    {"dapr-listen-addresses", T_STR, "", O(dapr_listen_addresses), NULL, NULL, NULL,
     "One or more addresses for the Dapr API to listen on, CSV (default 127.0.0.1,[::1])"},
    {"resources-path", T_LIST, "", O(resources_path), NULL, NULL, NULL,
     "Path for resources directory; repeatable"},
    {"components-path", T_LIST, "", O(resources_path), NULL, NULL, "resources-path",
     "Alias for --resources-path"},
    {"config", T_LIST, "", O(config), NULL, NULL, NULL,
     "Path to config file, or name of a configuration object"},
    {"mode", T_STR, "standalone", O(mode), check_mode, NULL, NULL, "Runtime mode for Dapr"},
    {"placement-host-address", T_STR, "", O(placement_host_address), NULL, NULL, NULL,
     "Addresses for Dapr Actor Placement servers"},
    {"scheduler-host-address", T_STR, "", O(scheduler_host_address), NULL, "jobs are not active yet",
     NULL, "Addresses of the Scheduler service instance(s), CSV"},
    {"scheduler-job-streams", T_INT, "3", O(scheduler_job_streams), NULL, "jobs are not active yet",
     NULL, "The number of active job streams to connect to the Scheduler service"},
    {"actors-service", T_STR, "", O(actors_service), NULL, ACTORS, NULL,
     "Type and address of the actors service, in the format 'type:address'"},
    {"reminders-service", T_STR, "", O(reminders_service), NULL, ACTORS, NULL,
     "Type and address of the reminders service, in the format 'type:address'"},
    {"allowed-origins", T_STR, "", O(allowed_origins), NULL, NULL, NULL, "Allowed HTTP origins (CORS)"},
    {"max-body-size", T_QUANTITY, "4Mi", O(max_body_size), NULL, NULL, NULL,
     "Max size of request body; a resource quantity such as 4Mi"},
    {"dapr-http-max-request-size", T_MB, "", O(max_body_size), NULL, NULL, "max-body-size",
     "Max size of request body in MB"},
    {"read-buffer-size", T_QUANTITY, "4Ki", O(read_buffer_size), NULL, NULL, NULL,
     "Max size of read buffer, i.e. of the request headers; a resource quantity"},
    {"dapr-http-read-buffer-size", T_KB, "", O(read_buffer_size), NULL, NULL, "read-buffer-size",
     "Read buffer size in KB"},
    {"app-ssl", T_APPSSL, "false", O(app_ssl), NULL, INVOKE, "app-protocol",
     "Sets the URI scheme of the app to https"},
    {"unix-domain-socket", T_STR, "", O(unix_domain_socket), NULL, MISC, NULL,
     "Path to a unix domain socket dir mount"},
    {"enable-app-health-check", T_BOOL, "false", O(enable_app_health_check), NULL, NULL, NULL,
     "Enable health checks for the application"},
    {"app-health-check-path", T_STR, "/healthz", O(app_health_check_path), NULL, NULL, NULL,
     "Path used for health checks; HTTP only"},
    {"app-health-probe-interval", T_INT, "5", O(app_health_probe_interval), NULL, NULL, NULL,
     "Interval to probe for the health of the app in seconds"},
    {"app-health-probe-timeout", T_INT, "500", O(app_health_probe_timeout), NULL, NULL, NULL,
     "Timeout for app health probes in milliseconds"},
    {"app-health-threshold", T_INT, "3", O(app_health_threshold), NULL, NULL, NULL,
     "Number of consecutive failures for the app to be considered unhealthy"},
    {"app-binding-options-timeout", T_DURATION, "3s", O(app_binding_options_timeout_ns), NULL,
     "bindings are not active yet", NULL, "Timeout of the OPTIONS probe of input binding routes"},
    {"dapr-graceful-shutdown-seconds", T_INT, "5", O(dapr_graceful_shutdown_seconds), NULL, NULL,
     NULL, "Graceful shutdown time in seconds"},
    {"dapr-block-shutdown-duration", T_DURATION, "0s", O(dapr_block_shutdown_duration_ns), NULL,
     MISC, NULL, "Block shutdown until the app reports unhealthy or this duration elapses"},
    {"enable-api-logging", T_BOOL, "false", O(enable_api_logging), NULL, NULL, NULL,
     "Log API calls at info level"},
    {"enable-profiling", T_BOOL, "false", O(enable_profiling), NULL, MISC, NULL, "Enable profiling"},
    {"profile-port", T_PORT, "7777", O(profile_port), NULL, MISC, NULL, "The port for the profile server"},
    {"enable-metrics", T_BOOL, "true", O(enable_metrics), NULL, METRICS, NULL,
     "Enable Prometheus metrics"},
    {"metrics-port", T_PORT, "9090", O(metrics_port), NULL, METRICS, NULL,
     "The port for the metrics server"},
    {"metrics-listen-address", T_STR, "", O(metrics_listen_address), NULL, METRICS, NULL,
     "The address for the metrics server"},
    {"log-level", T_STR, "info", O(log_level), check_level, NULL, NULL,
     "Options are debug, info, warn, error, or fatal"},
    {"log-as-json", T_BOOL, "false", O(log_as_json), NULL, NULL, NULL, "Print log as JSON"},
    {"enable-mtls", T_BOOL, "false", O(enable_mtls), NULL, SECURITY, NULL, "Enables automatic mTLS"},
    {"sentry-address", T_STR, "", O(sentry_address), NULL, SECURITY, NULL, "Address for the Sentry CA service"},
    {"control-plane-address", T_STR, "", O(control_plane_address), NULL, SECURITY, NULL,
     "Address for a Dapr control plane"},
    {"control-plane-trust-domain", T_STR, "localhost", O(control_plane_trust_domain), NULL,
     SECURITY, NULL, "Trust domain of the Dapr control plane"},
    {"control-plane-namespace", T_STR, "default", O(control_plane_namespace), NULL, SECURITY, NULL,
     "Namespace of the Dapr control plane"},
    {"sentry-request-jwt-audiences", T_STR, "", O(sentry_request_jwt_audiences), NULL, SECURITY,
     NULL, "Audiences to request JWT tokens for from Sentry"},
    {"disable-builtin-k8s-secret-store", T_BOOL, "false", O(disable_builtin_k8s_secret_store),
     NULL, NULL, NULL, "Disable the built-in Kubernetes secret store (no effect standalone)"},
    {"wait", T_BOOL, "false", O(wait), NULL, NULL, NULL,
     "Wait for the Dapr outbound API to be ready before serving"},
    {"version", T_BOOL, "false", O(version), NULL, NULL, NULL, "Prints the runtime version"},
    {"build-info", T_BOOL, "false", O(build_info), NULL, NULL, NULL, "Prints the build info"},
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))
_Static_assert(N_ROWS <= 128, "set_mask holds 128 rows");

static const opt_row *find_row(const char *name, size_t *idx)
{
    while (*name == '-')
        name++;
    for (size_t i = 0; i < N_ROWS; i++)
        if (!strcmp(rows[i].name, name)) {
            if (idx)
                *idx = i;
            return &rows[i];
        }
    return NULL;
}

static int set_port(int *dst, const char *v, char *err, size_t errlen, const char *name)
{
    int64_t n;
    if (!*v) {
        *dst = -1;
        return 0;
    }
    if (!strcmp(v, "-1") && (!strcmp(name, "dapr-http-port") || !strcmp(name, "dapr-grpc-port") ||
                             !strcmp(name, "dapr-internal-grpc-port"))) {
        *dst = DAPR__PORT_CLOSED; /* embedding: keep that server closed */
        return 0;
    }
    if (dapr__parse_int(v, &n) || n < 0 || n > 65535) {
        snprintf(err, errlen, "invalid value \"%s\" for flag --%s: not a port number", v, name);
        return DAPR_EINVAL;
    }
    *dst = (int)n;
    return 0;
}

static int apply(dapr__options_t *o, const opt_row *r, const char *v, char *err, size_t errlen)
{
    void *dst = (char *)o + r->off;
    int64_t n;
    bool b;
    if (r->check && r->type == T_STR && *v) {
        const char *why = r->check(o, v);
        if (why) {
            snprintf(err, errlen, "invalid value \"%s\" for flag --%s: %s", v, r->name, why);
            return DAPR_EINVAL;
        }
    }
    switch (r->type) {
    case T_STR: {
        char *s = dapr__strdup(v);
        if (!s)
            return DAPR_ENOMEM;
        dapr__free(*(char **)dst);
        *(char **)dst = s;
        return 0;
    }
    case T_PORT: return set_port(dst, v, err, errlen, r->name);
    case T_INT:
        if (dapr__parse_int(v, &n))
            goto bad;
        *(int64_t *)dst = n;
        return 0;
    case T_BOOL:
    case T_APPSSL:
        if (dapr__parse_bool(v, &b))
            goto bad;
        *(bool *)dst = b;
        if (r->type == T_APPSSL && b) {
            const char *p = o->app_protocol;
            const char *np = !strcmp(p, "grpc") ? "grpcs" : !strcmp(p, "http") ? "https" : p;
            char *s = dapr__strdup(np);
            if (!s)
                return DAPR_ENOMEM;
            dapr__free(o->app_protocol);
            o->app_protocol = s;
        }
        return 0;
    case T_QUANTITY:
        if (dapr__parse_quantity(v, &n) || n <= 0)
            goto bad;
        *(int64_t *)dst = n;
        return 0;
    case T_MB:
    case T_KB:
        if (dapr__parse_int(v, &n) || n <= 0 || n > (1 << 20))
            goto bad;
        *(int64_t *)dst = n << (r->type == T_MB ? 20 : 10);
        return 0;
    case T_DURATION:
        if (dapr__parse_duration(v, false, &n))
            goto bad;
        *(int64_t *)dst = n;
        return 0;
    case T_LIST: {
        dapr__strlist_t *l = dst;
        const char *p = v;
        while (*p) {
            const char *c = strchr(p, ',');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            if (len) {
                char **nv = dapr__realloc(l->v, (l->n + 1) * sizeof(*nv));
                if (!nv)
                    return DAPR_ENOMEM;
                l->v = nv;
                if (!(l->v[l->n] = dapr__strndup(p, len)))
                    return DAPR_ENOMEM;
                l->n++;
            }
            p += len + (c ? 1 : 0);
        }
        return 0;
    }
    }
bad:
    snprintf(err, errlen, "invalid value \"%s\" for flag --%s", v, r->name);
    return DAPR_EINVAL;
}

int dapr__options_init(dapr__options_t *o)
{
    memset(o, 0, sizeof(*o));
    char err[128];
    for (size_t i = 0; i < N_ROWS; i++) {
        if (rows[i].alias_of || rows[i].type == T_LIST)
            continue;
        if (apply(o, &rows[i], rows[i].def, err, sizeof(err)))
            return DAPR_ENOMEM;
    }
    /* an unset listen address list means our safer default */
    dapr__free(o->dapr_listen_addresses);
    o->dapr_listen_addresses = NULL;
    return 0;
}

void dapr__options_free(dapr__options_t *o)
{
    for (size_t i = 0; i < N_ROWS; i++) {
        if (rows[i].alias_of)
            continue;
        void *dst = (char *)o + rows[i].off;
        if (rows[i].type == T_STR) {
            dapr__free(*(char **)dst);
            *(char **)dst = NULL;
        } else if (rows[i].type == T_LIST) {
            dapr__strlist_t *l = dst;
            for (size_t j = 0; j < l->n; j++)
                dapr__free(l->v[j]);
            dapr__free(l->v);
            l->v = NULL;
            l->n = 0;
        }
    }
}

int dapr__options_set(dapr__options_t *o, const char *name, const char *value, char *err,
                      size_t errlen)
{
    size_t idx;
    const opt_row *r = find_row(name, &idx);
    if (!r) {
        snprintf(err, errlen, "unknown flag: --%s", name + strspn(name, "-"));
        return DAPR_ENOTFOUND;
    }
    if (!value)
        value = (r->type == T_BOOL || r->type == T_APPSSL) ? "true" : "";
    int rc = apply(o, r, value, err, errlen);
    if (!rc)
        o->set_mask[idx / 64] |= 1ull << (idx % 64);
    return rc;
}

void dapr__options_each_inactive(const dapr__options_t *o,
                                 void (*fn)(void *ud, const char *name, const char *why), void *ud)
{
    for (size_t i = 0; i < N_ROWS; i++)
        if (rows[i].inactive && (o->set_mask[i / 64] >> (i % 64)) & 1)
            fn(ud, rows[i].name, rows[i].inactive);
}

/* --- public option table ---------------------------------------------- */

bool dapr_option_is_bool(const char *name)
{
    const opt_row *r = find_row(name, NULL);
    return r && (r->type == T_BOOL || r->type == T_APPSSL);
}

int dapr_option_info(size_t index, dapr_option_info_t *out)
{
    if (index >= N_ROWS || !out)
        return DAPR_ENOTFOUND;
    const opt_row *r = &rows[index];
    out->name = r->name;
    out->def = r->def;
    out->help = r->help;
    out->deprecated_for = r->alias_of;
    out->is_bool = r->type == T_BOOL || r->type == T_APPSSL;
    out->active = r->inactive == NULL;
    return 0;
}
