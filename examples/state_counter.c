/*
 * state_counter — a Dapr runtime embedded in a C program, on the program's
 * own libuv loop, keeps a counter in a state store with optimistic
 * concurrency (ETags).
 *
 * Build against an installed libdapr:
 *     cc state_counter.c $(pkg-config --cflags --libs dapr) -o state_counter
 * Run:
 *     ./state_counter [increments]        # prints "counter = N"
 *
 * No sidecar, no resource files: the in-memory state store is added with
 * dapr_runtime_add_component() and every API port is kept closed, so the
 * program talks to the state store only through the C API. Each increment
 * reads the value and its ETag, then writes value+1 with that ETag under
 * first-write concurrency; a write that lost a race (DAPR_EETAG_MISMATCH) is
 * retried from a fresh read. One stale write is made on purpose to show it.
 */
#include <dapr/dapr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define STORE "statestore"
#define KEY "counter"

typedef struct counter {
    dapr_runtime_t *rt;
    int target;        /* increments to make */
    int done;          /* increments made */
    int retries;       /* writes that lost to a concurrent writer */
    long value;        /* last value read */
    char etag[128];    /* ETag of that value */
    char stale[128];   /* an ETag kept to demonstrate a rejected write */
    int exit_code;
} counter_t;

static void increment(counter_t *c);
static void finish(counter_t *c, int exit_code);

static void on_stopped(dapr_runtime_t *rt, int status, const char *detail, void *data)
{
    (void)rt, (void)detail, (void)data;
    if (status != DAPR_OK)
        fprintf(stderr, "stop: %s\n", dapr_strerror(status));
}

static void finish(counter_t *c, int exit_code)
{
    c->exit_code = exit_code;
    dapr_runtime_stop(c->rt, on_stopped, c);
}

static void on_final_read(const dapr_error_t *err, const dapr_state_value_t *val, void *data)
{
    counter_t *c = data;
    if (err) {
        fprintf(stderr, "get: %s\n", err->message);
        finish(c, 1);
        return;
    }
    printf("counter = %.*s (%d increments, %d retried after an ETag conflict)\n", (int)val->len,
           (const char *)val->data, c->done, c->retries);
    finish(c, 0);
}

static void on_stale_write(const dapr_error_t *err, void *data)
{
    counter_t *c = data;
    if (!err || err->code != DAPR_EETAG_MISMATCH) {
        fprintf(stderr, "a write with a stale ETag was not rejected\n");
        finish(c, 1);
        return;
    }
    printf("stale write rejected: %s (%s)\n", dapr_err_name(err->code),
           err->error_code ? err->error_code : "-");
    dapr_state_key_t key = {.key = KEY};
    if (dapr_state_get(c->rt, STORE, &key, on_final_read, c) != DAPR_OK)
        finish(c, 1);
}

/* Write with the ETag of an old version: the store must refuse it. */
static void write_stale(counter_t *c)
{
    static const char v[] = "-1";
    dapr_state_item_t item = {.key = KEY, .value = (const uint8_t *)v, .value_len = strlen(v),
                              .etag = c->stale, .concurrency = DAPR_CONCURRENCY_FIRST_WRITE,
                              .ttl_seconds = DAPR_TTL_UNSET};
    if (dapr_state_save(c->rt, STORE, &item, 1, on_stale_write, c) != DAPR_OK)
        finish(c, 1);
}

static void on_saved(const dapr_error_t *err, void *data)
{
    counter_t *c = data;
    if (err && err->code == DAPR_EETAG_MISMATCH) {
        c->retries++; /* someone wrote in between: read again */
    } else if (err) {
        fprintf(stderr, "save: %s\n", err->message);
        finish(c, 1);
        return;
    } else {
        c->done++;
    }
    if (c->done < c->target)
        increment(c);
    else
        write_stale(c);
}

static void on_read(const dapr_error_t *err, const dapr_state_value_t *val, void *data)
{
    counter_t *c = data;
    if (err) {
        fprintf(stderr, "get: %s\n", err->message);
        finish(c, 1);
        return;
    }
    c->value = 0;
    c->etag[0] = '\0';
    if (val->found) {
        char num[32];
        size_t n = val->len < sizeof num - 1 ? val->len : sizeof num - 1;
        memcpy(num, val->data, n);
        num[n] = '\0';
        c->value = strtol(num, NULL, 10);
        snprintf(c->etag, sizeof c->etag, "%s", val->etag ? val->etag : "");
        if (!c->stale[0])
            snprintf(c->stale, sizeof c->stale, "%s", c->etag);
    }
    char text[32];
    snprintf(text, sizeof text, "%ld", c->value + 1);
    dapr_state_item_t item = {.key = KEY, .value = (const uint8_t *)text,
                              .value_len = strlen(text),
                              .etag = c->etag[0] ? c->etag : NULL,
                              .concurrency = DAPR_CONCURRENCY_FIRST_WRITE,
                              .content_type = "application/json",
                              .ttl_seconds = DAPR_TTL_UNSET};
    if (dapr_state_save(c->rt, STORE, &item, 1, on_saved, c) != DAPR_OK)
        finish(c, 1);
}

static void increment(counter_t *c)
{
    dapr_state_key_t key = {.key = KEY};
    if (dapr_state_get(c->rt, STORE, &key, on_read, c) != DAPR_OK)
        finish(c, 1);
}

static void on_started(dapr_runtime_t *rt, int status, const char *detail, void *data)
{
    counter_t *c = data;
    if (status != DAPR_OK) {
        fprintf(stderr, "start: %s: %s\n", dapr_strerror(status), detail ? detail : "");
        c->exit_code = 1;
        uv_stop(dapr_runtime_loop(rt)); /* main() destroys the runtime */
        return;
    }
    increment(c);
}

int main(int argc, char **argv)
{
    counter_t c = {.target = argc > 1 ? atoi(argv[1]) : 5, .exit_code = 1};
    if (c.target < 2)
        c.target = 2; /* the second read keeps an ETag that goes stale */
    uv_loop_t loop;
    uv_loop_init(&loop);

    int rc = dapr_runtime_create(&c.rt, &loop);
    if (rc == DAPR_OK) {
        /* an embedded runtime that serves no one: every port closed */
        dapr_runtime_set_option(c.rt, "app-id", "counter");
        dapr_runtime_set_option(c.rt, "log-level", "warn");
        dapr_runtime_set_option(c.rt, "dapr-http-port", "-1");
        dapr_runtime_set_option(c.rt, "dapr-grpc-port", "-1");
        dapr_runtime_set_option(c.rt, "dapr-internal-grpc-port", "-1");
        rc = dapr_runtime_add_component(c.rt, "state.in-memory", "v1", STORE, NULL, 0);
    }
    if (rc == DAPR_OK)
        rc = dapr_runtime_start(c.rt, on_started, &c);
    if (rc != DAPR_OK) {
        fprintf(stderr, "setup: %s %s\n", dapr_strerror(rc), dapr_runtime_last_error(c.rt));
        dapr_runtime_destroy(c.rt);
        uv_loop_close(&loop);
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* returns once the runtime has stopped */
    dapr_runtime_destroy(c.rt);
    uv_run(&loop, UV_RUN_DEFAULT); /* let the runtime's handles finish closing */
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "handles left open on the loop\n");
        return 1;
    }
    return c.exit_code;
}
