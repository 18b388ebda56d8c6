/* A gRPC server with the raw-bytes test service (echo_service.c) on
 * libdapr's engine, for grpc_edges.test.js (grpc-js client).
 *
 *   grpc_test_server [--addr A] [--port P] [--max-msg N]   prints "PORT <n>"
 *   grpc_test_server --self-test                           the C client suite
 *
 * SIGTERM/SIGINT shut it down gracefully; it exits 0 when everything was
 * closed and freed (ASan/LSan then check for leaks). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "dapr/common.h"
#include "echo_service.h"
#include "grpc/grpc.h"

int client_selftest(uv_loop_t *loop, dapr__grpc_server_t *srv, int port, size_t max_msg,
                    const dapr__logger_t *log, void (*done)(int failures));

static uv_signal_t sigterm, sigint;
static uv_timer_t sampler;
static int exit_code;

static void on_closed(uv_handle_t *h) {}

static void on_shutdown_done(void *ud)
{
    fprintf(stderr, "server: shut down\n");
    uv_close((uv_handle_t *)&sigterm, on_closed);
    uv_close((uv_handle_t *)&sigint, on_closed);
    uv_close((uv_handle_t *)&sampler, on_closed);
}

static void on_signal(uv_signal_t *s, int signum)
{
    uv_signal_stop(&sigterm);
    uv_signal_stop(&sigint);
    dapr__grpc_server_shutdown(echo_stats.server, on_shutdown_done, NULL);
}

static void on_sample(uv_timer_t *t) { echo_sample(); }

static void selftest_done(int failures)
{
    exit_code = failures ? 1 : 0;
    fprintf(stderr, "self-test: %d failure(s)\n", failures);
    on_signal(NULL, 0);
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int port = 0;
    size_t max_msg = 0;
    bool self_test = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--addr") && i + 1 < argc)
            addr = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-msg") && i + 1 < argc)
            max_msg = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--self-test"))
            self_test = true;
        else {
            fprintf(stderr, "usage: %s [--addr A] [--port P] [--max-msg N] [--self-test]\n",
                    argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    dapr__logger_t log;
    dapr__logger_init(&log);
    log.level = getenv("GRPC_TEST_DEBUG") ? DAPR_LOG_DEBUG : DAPR_LOG_WARN;

    dapr__grpc_server_config_t cfg = {
        .loop = &loop, .log = &log, .max_recv_msg = max_msg, .methods = echo_methods,
        .n_methods = echo_n_methods, .fallback = &echo_fallback, .shutdown_grace_ms = 2000};
    echo_stats.loop = &loop;
    if (dapr__grpc_server_create(&echo_stats.server, &cfg) != 0) {
        fprintf(stderr, "server create failed\n");
        return 1;
    }
    int bound = 0;
    int rv = dapr__grpc_server_listen(echo_stats.server, addr, port, &bound);
    if (rv != 0) {
        fprintf(stderr, "listen %s:%d: %s\n", addr, port, uv_strerror(rv));
        return 1;
    }
    printf("PORT %d\n", bound);
    fflush(stdout);

    uv_signal_init(&loop, &sigterm);
    uv_signal_init(&loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_timer_init(&loop, &sampler);
    uv_timer_start(&sampler, on_sample, 5, 5);
    uv_unref((uv_handle_t *)&sampler);

    if (self_test && client_selftest(&loop, echo_stats.server, bound,
                                     max_msg ? max_msg : (size_t)4 << 20, &log,
                                     selftest_done) != 0)
        return 1;

    uv_run(&loop, UV_RUN_DEFAULT);
    dapr__grpc_server_free(echo_stats.server);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "loop has live handles at exit\n");
        uv_print_all_handles(&loop, stderr);
        return 1;
    }
    return exit_code;
}
