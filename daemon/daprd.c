/* daprd: the Dapr sidecar — flags in, a dapr_runtime_t out. Only the public
 * API is used here. Flags follow Go's pflag rules, as Dapr's daprd:
 * --flag value, --flag=value, a single dash works too, a boolean flag alone
 * means true. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "dapr/dapr.h"

static uv_signal_t sig_int, sig_term;
static int exit_code;
static int stopping;

static int known_flag(const char *name)
{
    dapr_option_info_t info;
    for (size_t i = 0; dapr_option_info(i, &info) == DAPR_OK; i++)
        if (!strcmp(info.name, name))
            return 1;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage of daprd:\n");
    dapr_option_info_t info;
    for (size_t i = 0; dapr_option_info(i, &info) == DAPR_OK; i++) {
        fprintf(f, "      --%s%s\t%s", info.name, info.is_bool ? "" : " value", info.help);
        if (info.def && *info.def && !info.deprecated_for)
            fprintf(f, " (default \"%s\")", info.def);
        if (info.deprecated_for)
            fprintf(f, " (deprecated: use --%s)", info.deprecated_for);
        if (!info.active)
            fprintf(f, " [not active yet in libdapr]");
        fputc('\n', f);
    }
}

static void close_signals(void)
{
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
}

static void stopped(dapr_runtime_t *rt, int status, const char *detail, void *data)
{
    close_signals();
}

static void begin_stop(dapr_runtime_t *rt)
{
    if (stopping++) {
        /* a second signal: stop waiting */
        dapr_runtime_log(rt, DAPR_LOG_WARN, NULL, "second shutdown signal: exiting now");
        exit(exit_code ? exit_code : 1);
    }
    if (dapr_runtime_stop(rt, stopped, NULL) != DAPR_OK)
        close_signals();
}

static void on_signal(uv_signal_t *h, int signum)
{
    dapr_runtime_t *rt = h->data;
    dapr_runtime_log(rt, DAPR_LOG_INFO, NULL, "Received signal '%s'; beginning shutdown",
                     signum == SIGINT ? "interrupt" : "terminated");
    begin_stop(rt);
}

static void on_shutdown_request(dapr_runtime_t *rt, void *data)
{
    dapr_runtime_log(rt, DAPR_LOG_INFO, NULL, "Shutdown requested through the API");
    begin_stop(rt);
}

static void started(dapr_runtime_t *rt, int status, const char *detail, void *data)
{
    if (status != DAPR_OK) {
        exit_code = 1;
        close_signals();
    }
}

/* Apply argv to the runtime. Returns 0, or the process exit code. */
static int parse_flags(dapr_runtime_t *rt, int argc, char **argv, int *print_version)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            fprintf(stderr, "daprd: unexpected argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        if (!strcmp(name, "help") || !strcmp(name, "h")) {
            usage(stdout);
            return -1;
        }
        char buf[256];
        const char *eq = strchr(name, '=');
        const char *value = NULL;
        if (eq) {
            size_t n = (size_t)(eq - name);
            if (n >= sizeof(buf)) {
                fprintf(stderr, "daprd: flag too long: %s\n", a);
                return 2;
            }
            memcpy(buf, name, n);
            buf[n] = 0;
            name = buf;
            value = eq + 1;
        }
        if (!known_flag(name)) {
            fprintf(stderr, "daprd: unknown flag: --%s\n", name);
            usage(stderr);
            return 2;
        }
        if (!eq && !dapr_option_is_bool(name)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "daprd: flag needs an argument: %s\n", a);
                usage(stderr);
                return 2;
            }
            value = argv[++i];
        }
        if (!strcmp(name, "version") || !strcmp(name, "build-info"))
            *print_version = !strcmp(name, "version") ? 1 : 2;
        int rc = dapr_runtime_set_option(rt, name, value);
        if (rc != DAPR_OK) {
            fprintf(stderr, "daprd: %s\n", dapr_runtime_last_error(rt));
            if (rc == DAPR_ENOTFOUND)
                usage(stderr);
            return 2;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    dapr_runtime_t *rt = NULL;
    if (dapr_runtime_create(&rt, loop) != DAPR_OK) {
        fprintf(stderr, "daprd: cannot create the runtime\n");
        return 1;
    }
    int print_version = 0;
    int rc = parse_flags(rt, argc, argv, &print_version);
    if (rc || print_version) {
        if (print_version == 1)
            printf("%s\n", dapr_runtime_version());
        else if (print_version == 2)
            printf("Version: %s\nlibdapr: %s\nCompatible with Dapr: %s\n", dapr_runtime_version(),
                   dapr_version(), DAPR_COMPAT_VERSION);
        dapr_runtime_destroy(rt);
        return rc > 0 ? rc : 0;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_signal_init(loop, &sig_int);
    uv_signal_init(loop, &sig_term);
    sig_int.data = sig_term.data = rt;
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    dapr_runtime_on_shutdown_request(rt, on_shutdown_request, NULL);
    if (dapr_runtime_start(rt, started, NULL) != DAPR_OK) {
        fprintf(stderr, "daprd: %s\n", dapr_runtime_last_error(rt));
        close_signals();
        exit_code = 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    dapr_runtime_destroy(rt);
    uv_loop_close(loop);
    return exit_code;
}
