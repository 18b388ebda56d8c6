/* Helpers of the embedding API tests: a runtime on its own loop, waits
 * with a deadline, and a blocking HTTP/1.1 client on a thread (the loop
 * keeps serving meanwhile). */
#ifndef DAPR_TEST_EMBED_UTIL_H
#define DAPR_TEST_EMBED_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "dapr/dapr.h"
#include "../unit/testutil.h"

static void tick_cb(uv_timer_t *t) { (void)t; }

/* Run the loop until *flag or ms elapsed; false on timeout. */
static bool run_until(uv_loop_t *loop, volatile bool *flag, int ms)
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, tick_cb, 5, 5);
    uint64_t end = uv_now(loop) + (uint64_t)ms;
    while (!*flag && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}

/* Run the loop for ms. */
__attribute__((unused)) static void run_for(uv_loop_t *loop, int ms)
{
    bool never = false;
    run_until(loop, &never, ms);
}

typedef struct started {
    bool done;
    int status;
} started_t;

static void on_started(dapr_runtime_t *rt, int status, const char *detail, void *data)
{
    started_t *s = data;
    if (status)
        fprintf(stderr, "start failed: %s\n", detail ? detail : "");
    s->status = status;
    s->done = true;
}

static int start_rt(dapr_runtime_t *rt)
{
    started_t s = {0};
    int rc = dapr_runtime_start(rt, on_started, &s);
    if (rc)
        return rc;
    if (!run_until(dapr_runtime_loop(rt), &s.done, 10000))
        return DAPR_ETIMEDOUT;
    return s.status;
}

static void stop_rt(dapr_runtime_t *rt)
{
    started_t s = {0};
    if (!dapr_runtime_stop(rt, on_started, &s))
        run_until(dapr_runtime_loop(rt), &s.done, 15000);
}

/* --- a blocking HTTP client on a thread --- */

typedef struct http_call {
    int port;
    char req[8192];
    char resp[65536];
    size_t resp_len;
    pthread_t th;
    volatile bool done;
} http_call_t;

static void *http_thread(void *arg)
{
    http_call_t *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        size_t len = strlen(c->req), off = 0;
        while (off < len) {
            ssize_t w = write(fd, c->req + off, len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        ssize_t r;
        while ((r = read(fd, c->resp + c->resp_len, sizeof(c->resp) - 1 - c->resp_len)) > 0)
            c->resp_len += (size_t)r;
    }
    if (fd >= 0)
        close(fd);
    c->resp[c->resp_len] = 0;
    atomic_thread_fence(memory_order_seq_cst);
    c->done = true;
    return NULL;
}

/* One request ("Connection: close" is added) while the loop runs. */
__attribute__((unused)) static const char *http_do(uv_loop_t *loop, int port, const char *method, const char *path,
                           const char *body, http_call_t *c)
{
    memset(c, 0, sizeof(*c));
    c->port = port;
    snprintf(c->req, sizeof(c->req),
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             method, path, body ? strlen(body) : 0, body ? body : "");
    pthread_create(&c->th, NULL, http_thread, c);
    run_until(loop, &c->done, 10000);
    pthread_join(c->th, NULL);
    return c->resp;
}

#endif
