/* placement: Dapr's actor placement service (one instance; the raft and
 * high-availability flags are accepted and ignored). Flags follow Go's
 * pflag rules as Dapr's: --flag value, --flag=value, one dash works too, a
 * boolean flag alone means true; unknown flags are refused.
 *
 * Unlike daprd this daemon uses libdapr internals (the gRPC engine, the
 * HTTP server, the logger): the placement service is not part of the
 * embeddable public API. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/log.h"
#include "core/strutil.h"
#include "http/server.h"
#include "placement_server.h"

#define SCOPE "dapr.placement"

typedef struct flag {
    const char *name;
    const char *def;
    const char *help;
    int is_bool;
    int active;
    const char *value; /* set by parse */
} flag_t;

static flag_t flags[] = {
    {"port", "50005", "gRPC port for the placement service", 0, 1},
    {"listen-address", "", "addresses to listen on (comma separated; default 127.0.0.1 and [::1])", 0, 1},
    {"replicationFactor", "100", "virtual nodes per actor host on the hashing ring", 0, 1},
    {"healthz-port", "8080", "port of the HTTP health endpoint (GET /healthz)", 0, 1},
    {"healthz-listen-address", "127.0.0.1", "address of the health endpoint", 0, 1},
    {"metrics-port", "9090", "port of the metrics endpoint", 0, 0},
    {"metrics-listen-address", "", "address of the metrics endpoint", 0, 0},
    {"enable-metrics", "true", "enable metrics", 1, 0},
    {"log-level", "info", "log level: debug, info, warn, error, fatal", 0, 1},
    {"log-as-json", "false", "log in JSON", 1, 1},
    {"id", "dapr-placement-0", "placement server id (raft)", 0, 0},
    {"initial-cluster", "dapr-placement-0=127.0.0.1:8201", "raft cluster members", 0, 0},
    {"raft-logstore-path", "", "raft log store path", 0, 0},
    {"tls-enabled", "false", "mTLS", 1, 0},
    {"trust-domain", "localhost", "trust domain", 0, 0},
    {"trust-anchors-file", "", "trust anchors", 0, 0},
    {"sentry-address", "", "sentry address", 0, 0},
    {"mode", "standalone", "runtime mode", 0, 0},
    {"min-api-level", "0", "minimum API level", 0, 0},
    {"max-api-level", "", "maximum API level", 0, 0},
    {"keepalive-time", "2s", "gRPC keepalive time", 0, 0},
    {"keepalive-timeout", "3s", "gRPC keepalive timeout", 0, 0},
    {"disseminate-timeout", "8s", "drop a host that does not acknowledge a table phase this long", 0, 1},
    /* libdapr: how long a host may go without a report (1.16 heartbeats
     * every 1 s) before it is removed */
    {"host-timeout", "3s", "remove hosts silent this long", 0, 1},
};
#define N_FLAGS (sizeof(flags) / sizeof(flags[0]))

static dapr__logger_t lg;
static uv_signal_t sig_int, sig_term;
static plc_server_t *srv;
static dapr__http_server_t *healthz;
static int stopping;

static flag_t *find_flag(const char *name)
{
    for (size_t i = 0; i < N_FLAGS; i++)
        if (!strcmp(flags[i].name, name))
            return &flags[i];
    return NULL;
}

static const char *fval(const char *name)
{
    flag_t *f = find_flag(name);
    return f->value ? f->value : f->def;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage of placement:\n");
    for (size_t i = 0; i < N_FLAGS; i++)
        fprintf(f, "      --%s%s\t%s (default \"%s\")%s\n", flags[i].name,
                flags[i].is_bool ? "" : " value", flags[i].help, flags[i].def,
                flags[i].active ? "" : " [accepted, not active in libdapr]");
}

static int parse_flags(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            fprintf(stderr, "placement: unexpected argument \"%s\"\n", a);
            return 2;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        if (!strcmp(name, "help") || !strcmp(name, "h")) {
            usage(stdout);
            return -1;
        }
        char buf[128];
        const char *eq = strchr(name, '=');
        if (eq) {
            size_t n = (size_t)(eq - name);
            if (n >= sizeof(buf)) {
                fprintf(stderr, "placement: flag too long: %s\n", a);
                return 2;
            }
            memcpy(buf, name, n);
            buf[n] = 0;
            name = buf;
        }
        flag_t *f = find_flag(name);
        if (!f) {
            fprintf(stderr, "placement: unknown flag: --%s\n", name);
            usage(stderr);
            return 2;
        }
        if (eq)
            f->value = eq + 1;
        else if (f->is_bool)
            f->value = "true";
        else if (i + 1 < argc)
            f->value = argv[++i];
        else {
            fprintf(stderr, "placement: flag needs an argument: %s\n", a);
            return 2;
        }
    }
    return 0;
}

static int int_flag(const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    if (dapr__parse_int(fval(name), out) != 0 || *out < lo || *out > hi) {
        fprintf(stderr, "placement: invalid value \"%s\" for --%s\n", fval(name), name);
        return -1;
    }
    return 0;
}

static void healthz_req(dapr__http_req_t *req, void *ud)
{
    bool get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    if (get && !strcmp(req->path, "/healthz"))
        dapr__http_respond(req, 200, NULL, 0, "", 0);
    else
        dapr__http_respond(req, 404, NULL, 0, "", 0);
}

static void all_closed(void *ud)
{
    (void)ud;
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
}

static void healthz_closed(void *ud)
{
    dapr__http_server_free(healthz);
    healthz = NULL;
    plc_server_shutdown(srv, all_closed, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    if (stopping++) {
        DAPR_LOG(&lg, DAPR_LOG_WARN, SCOPE, "second shutdown signal: exiting now");
        exit(1);
    }
    DAPR_LOG(&lg, DAPR_LOG_INFO, SCOPE, "Received signal '%s'; beginning shutdown",
             signum == SIGINT ? "interrupt" : "terminated");
    if (healthz)
        dapr__http_server_shutdown(healthz, healthz_closed, NULL);
    else
        healthz_closed(NULL);
}

/* Listen on each address of a comma-separated list (brackets allowed). */
static int listen_all(const char *list, int port, bool ipv6_optional)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", list);
    int ok = 0;
    for (char *save = NULL, *a = strtok_r(buf, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        int bound = 0, rc = plc_server_listen(srv, a, port, &bound);
        if (rc != 0) {
            if (ipv6_optional && strchr(a, ':'))
                continue; /* no IPv6 on this host */
            DAPR_LOG(&lg, DAPR_LOG_FATAL, SCOPE, "cannot listen on %s:%d: %s", a, port,
                     uv_strerror(rc));
            return -1;
        }
        DAPR_LOG(&lg, DAPR_LOG_INFO, SCOPE, "Placement service started on port %d (%s)", bound,
                 a);
        ok++;
        if (port == 0)
            break; /* an ephemeral port: one address */
    }
    return ok ? 0 : -1;
}

static int start_healthz(uv_loop_t *loop)
{
    int64_t port;
    if (int_flag("healthz-port", 0, 65535, &port) != 0)
        return -1;
    dapr__http_server_config_t hc = {.loop = loop, .log = &lg, .on_request = healthz_req};
    int bound = 0;
    if (dapr__http_server_create(&healthz, &hc) != 0 ||
        dapr__http_server_listen(healthz, fval("healthz-listen-address"), (int)port, &bound) != 0) {
        DAPR_LOG(&lg, DAPR_LOG_FATAL, SCOPE, "cannot start the healthz server on port %d",
                 (int)port);
        return -1;
    }
    DAPR_LOG(&lg, DAPR_LOG_INFO, SCOPE, "Healthz server is listening on %s:%d",
             fval("healthz-listen-address"), bound);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = parse_flags(argc, argv);
    if (rc)
        return rc < 0 ? 0 : rc;
    dapr__logger_init(&lg);
    bool json = false;
    if (dapr__log_level_parse(fval("log-level"), &lg.level) != 0 ||
        dapr__parse_bool(fval("log-as-json"), &json) != 0) {
        fprintf(stderr, "placement: invalid --log-level or --log-as-json\n");
        return 2;
    }
    lg.json = json;
    int64_t port, rf, timeout_ns;
    if (int_flag("port", 0, 65535, &port) || int_flag("replicationFactor", 1, 100000, &rf))
        return 2;
    if (dapr__parse_duration(fval("host-timeout"), false, &timeout_ns) != 0 ||
        timeout_ns < 1000000) {
        fprintf(stderr, "placement: invalid --host-timeout\n");
        return 2;
    }
    int64_t ack_ns;
    if (dapr__parse_duration(fval("disseminate-timeout"), false, &ack_ns) != 0 ||
        ack_ns < 1000000) {
        fprintf(stderr, "placement: invalid --disseminate-timeout\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    plc_config_t cfg = {.loop = loop, .log = &lg, .replication_factor = rf,
                        .host_timeout_ms = (uint64_t)(timeout_ns / 1000000),
                        .ack_timeout_ms = (uint64_t)(ack_ns / 1000000)};
    if (plc_server_create(&srv, &cfg) != 0) {
        fprintf(stderr, "placement: cannot create the server\n");
        return 1;
    }
    DAPR_LOG(&lg, DAPR_LOG_INFO, SCOPE, "Starting Dapr Placement Service -- version libdapr");
    const char *addrs = *fval("listen-address") ? fval("listen-address") : "127.0.0.1,::1";
    uv_signal_init(loop, &sig_int);
    uv_signal_init(loop, &sig_term);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    if (listen_all(addrs, (int)port, !*fval("listen-address")) != 0 || start_healthz(loop) != 0) {
        stopping = 1;
        rc = 1;
        if (healthz) {
            dapr__http_server_shutdown(healthz, healthz_closed, NULL);
        } else
            healthz_closed(NULL);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    DAPR_LOG(&lg, DAPR_LOG_INFO, SCOPE, "Placement service shut down gracefully");
    uv_loop_close(loop);
    return rc;
}
