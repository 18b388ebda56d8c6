/*
 * inproc_bench — the in-process half of `bench/run --suite inproc`: libdapr
 * embedded in this program, on this program's own libuv loop, with every API
 * port closed, measured through the C API only.
 *
 *   inproc_bench [--duration S] [--warmup S] [--concurrency 1,16] [--value-size N]
 *                [--redis HOST:PORT] [--only get|invoke] [--limit S]
 *
 * Rows (each: warm-up, then the measured window):
 *   get    dapr_state_get of one key holding a value-size byte value, store
 *          "memory" (state.in-memory) and, with --redis, "redis" (state.redis);
 *   invoke dapr_invoke of this runtime's own app id, method "echo", a POST of
 *          value-size bytes answered by an in-process handler
 *          (dapr_invoke_register) that echoes the body.
 * Each row is a closed loop with C operations outstanding: a completion
 * records its latency (uv_hrtime from the call to the callback) and starts
 * the next operation of its slot. Completions that arrive inside the call
 * (stores that answer from memory) are queued and reissued round-robin, so
 * the stack stays flat and every slot gets its turn; the loop is yielded to
 * libuv at least every 1024 operations.
 *
 * Output: one JSON object per row on stdout (ops/s, p50/p90/p99/p99.9/max in
 * ms from a log-linear histogram with < 1 % bucket error, CPU time of the
 * whole process per operation from getrusage, errors). Progress on stderr.
 * Exit 0 when every row ran without errors; --limit bounds the whole run
 * (default: rows × (warm-up + duration) + 60 s), after which it exits 3.
 */
#include <dapr/dapr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#define APP_ID "inprocbench"
#define KEY "bench-key"
#define MAXC 1024
#define SUB 128 /* histogram sub-buckets per power of two */
#define NBUCKETS (64 * SUB)
#define YIELD_EVERY 1024

typedef struct bench bench_t;

typedef struct slot {
    bench_t *b;
    uint64_t t0;
    int idx;
} slot_t;

typedef enum { OP_GET, OP_INVOKE } op_t;

typedef struct row {
    op_t op;
    const char *store; /* get: store name; invoke: NULL */
    int conc;
} row_t;

struct bench {
    uv_loop_t loop;
    dapr_runtime_t *rt;
    uv_timer_t next;     /* starts the next row outside any callback */
    uv_idle_t idle;      /* continues a long synchronous run on the next loop turn */
    uv_timer_t watchdog; /* --limit */
    int exit_code;

    /* settings */
    double duration, warmup, limit;
    int concs[8], n_concs;
    size_t value_size;
    const char *redis;
    const char *only;
    char *value;

    /* rows */
    row_t rows[32];
    int n_rows, cur;

    /* the row running */
    slot_t slots[MAXC];
    int ring[MAXC + 1], head, tail, queued;
    int active; /* slots not yet retired (outstanding or queued) */
    bool draining;
    uint64_t t_warm, t_end, t_first, t_last;
    bool measuring;
    struct rusage ru0, ru1;
    uint64_t n, errors, err_sync;
    uint64_t inside;  /* measured completions that arrived inside the call */
    bool in_call;
    char first_error[256];
    uint64_t hist[NBUCKETS];
    uint64_t max_ns;
};

/* ---- histogram ---------------------------------------------------------- */

static int hidx(uint64_t v)
{
    if (v < SUB)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 7; /* SUB = 2^7 */
    int i = (shift + 1) * SUB + (int)((v >> shift) - SUB);
    return i < NBUCKETS ? i : NBUCKETS - 1;
}

static double hval(int i) /* bucket midpoint, ns */
{
    if (i < SUB)
        return i;
    int shift = i / SUB - 1;
    uint64_t sub = (uint64_t)(i % SUB + SUB);
    return ((double)(sub << shift) + (double)(((sub + 1) << shift) - 1)) / 2;
}

static double pctl(const bench_t *b, double p) /* ms */
{
    if (!b->n)
        return -1;
    uint64_t want = (uint64_t)(p * (double)b->n);
    if (want < 1)
        want = 1;
    uint64_t acc = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        acc += b->hist[i];
        if (acc >= want)
            return hval(i) / 1e6;
    }
    return (double)b->max_ns / 1e6;
}

/* ---- the closed loop ------------------------------------------------------ */

static void row_done(bench_t *b);
static void drain(bench_t *b);

static void retire(bench_t *b)
{
    if (--b->active == 0)
        row_done(b);
}

static void push(bench_t *b, slot_t *s)
{
    b->ring[b->tail] = s->idx;
    b->tail = (b->tail + 1) % (MAXC + 1);
    b->queued++;
}

static void note_error(bench_t *b, const char *what, const char *msg)
{
    if (!b->first_error[0])
        snprintf(b->first_error, sizeof b->first_error, "%s: %s", what, msg ? msg : "");
}

static void complete(slot_t *s, bool ok)
{
    bench_t *b = s->b;
    uint64_t now = uv_hrtime();
    if (!ok) {
        b->errors++;
    } else if (b->measuring && s->t0 >= b->t_warm && now <= b->t_end) {
        uint64_t d = now - s->t0;
        b->hist[hidx(d)]++;
        if (d > b->max_ns)
            b->max_ns = d;
        b->n++;
        b->inside += b->in_call;
        b->t_last = now;
    }
    if (now >= b->t_end) {
        retire(b);
        return;
    }
    push(b, s);
    if (!b->draining)
        drain(b);
}

static void on_get(const dapr_error_t *err, const dapr_state_value_t *val, void *data)
{
    slot_t *s = data;
    bool ok = !err && val && val->found && val->len == s->b->value_size;
    if (!ok)
        note_error(s->b, "get", err ? err->message : val && !val->found ? "not found" : "wrong length");
    complete(s, ok);
}

static void on_invoke(const dapr_error_t *err, const dapr_invoke_response_t *resp, void *data)
{
    slot_t *s = data;
    bool ok = !err && resp && resp->status == 200 && resp->body_len == s->b->value_size;
    if (!ok) {
        char m[64];
        snprintf(m, sizeof m, "status %d, %zu bytes", resp ? resp->status : 0,
                 resp ? resp->body_len : 0);
        note_error(s->b, "invoke", err ? err->message : m);
    }
    complete(s, ok);
}

static void issue(bench_t *b, slot_t *s)
{
    const row_t *r = &b->rows[b->cur];
    s->t0 = uv_hrtime();
    if (!b->measuring && s->t0 >= b->t_warm) {
        b->measuring = true;
        b->t_first = s->t0;
        getrusage(RUSAGE_SELF, &b->ru0);
    }
    int rc;
    b->in_call = true;
    if (r->op == OP_GET) {
        dapr_state_key_t key = {.key = KEY};
        rc = dapr_state_get(b->rt, r->store, &key, on_get, s);
    } else {
        dapr_invoke_request_t req = {.method = "echo", .verb = "POST",
                                     .content_type = "application/json",
                                     .body = (const uint8_t *)b->value,
                                     .body_len = b->value_size};
        rc = dapr_invoke(b->rt, APP_ID, &req, on_invoke, s);
    }
    b->in_call = false;
    if (rc != DAPR_OK) { /* no callback: this slot is done */
        b->errors++;
        b->err_sync++;
        note_error(b, "call", dapr_strerror(rc));
        retire(b);
    }
}

static void on_idle(uv_idle_t *h)
{
    uv_idle_stop(h);
    drain(h->data);
}

static void drain(bench_t *b)
{
    b->draining = true;
    int budget = YIELD_EVERY;
    while (b->queued > 0) {
        if (budget-- == 0) {
            uv_idle_start(&b->idle, on_idle);
            break;
        }
        slot_t *s = &b->slots[b->ring[b->head]];
        b->head = (b->head + 1) % (MAXC + 1);
        b->queued--;
        if (uv_hrtime() >= b->t_end)
            retire(b);
        else
            issue(b, s);
    }
    b->draining = false;
}

static void start_row(bench_t *b)
{
    const row_t *r = &b->rows[b->cur];
    memset(b->hist, 0, sizeof b->hist);
    b->n = b->errors = b->err_sync = b->max_ns = b->inside = 0;
    b->first_error[0] = '\0';
    b->measuring = false;
    b->head = b->tail = b->queued = 0;
    b->active = r->conc;
    uint64_t now = uv_hrtime();
    b->t_warm = now + (uint64_t)(b->warmup * 1e9);
    b->t_end = b->t_warm + (uint64_t)(b->duration * 1e9);
    b->t_first = b->t_last = 0;
    fprintf(stderr, ">>> inproc_bench: %s %s, %d outstanding, %g s + %g s warm-up\n",
            r->op == OP_GET ? "dapr_state_get" : "dapr_invoke", r->store ? r->store : "echo",
            r->conc, b->duration, b->warmup);
    for (int i = 0; i < r->conc; i++) {
        b->slots[i] = (slot_t){.b = b, .idx = i};
        push(b, &b->slots[i]);
    }
    drain(b);
}

static void on_stopped(dapr_runtime_t *rt, int status, const char *detail, void *data)
{
    (void)rt, (void)status, (void)detail, (void)data;
}

static void finish(bench_t *b)
{
    uv_timer_stop(&b->watchdog);
    uv_close((uv_handle_t *)&b->next, NULL);
    uv_close((uv_handle_t *)&b->idle, NULL);
    uv_close((uv_handle_t *)&b->watchdog, NULL);
    if (dapr_runtime_stop(b->rt, on_stopped, b) != DAPR_OK)
        uv_stop(&b->loop);
}

static void on_next(uv_timer_t *t)
{
    bench_t *b = t->data;
    if (++b->cur >= b->n_rows) {
        finish(b);
        return;
    }
    start_row(b);
}

static double cpu_s(const struct rusage *r)
{
    return (double)r->ru_utime.tv_sec + r->ru_utime.tv_usec / 1e6 + (double)r->ru_stime.tv_sec +
           r->ru_stime.tv_usec / 1e6;
}

static void row_done(bench_t *b)
{
    const row_t *r = &b->rows[b->cur];
    getrusage(RUSAGE_SELF, &b->ru1);
    double secs = (double)(b->t_end - b->t_warm) / 1e9;
    double cpu = b->measuring ? cpu_s(&b->ru1) - cpu_s(&b->ru0) : 0;
    printf("{\"op\":\"%s\",\"store\":%s%s%s,\"concurrency\":%d,\"requests\":%llu,"
           "\"seconds\":%.3f,\"rps\":%.1f,\"p50\":%.6f,\"p90\":%.6f,\"p99\":%.6f,"
           "\"p999\":%.6f,\"max\":%.6f,\"errors\":%llu,\"inside_call\":%llu,\"cpu_s\":%.3f,\"cpu_us\":%.4f,"
           "\"first_error\":\"",
           r->op == OP_GET ? "get" : "invoke", r->store ? "\"" : "", r->store ? r->store : "null",
           r->store ? "\"" : "", r->conc, (unsigned long long)b->n, secs, b->n / secs,
           pctl(b, .50), pctl(b, .90), pctl(b, .99), pctl(b, .999), b->max_ns / 1e6,
           (unsigned long long)b->errors, (unsigned long long)b->inside, cpu, b->n ? cpu * 1e6 / (double)b->n : 0.0);
    for (const char *p = b->first_error; *p; p++)
        if (*p >= 0x20 && *p != '"' && *p != '\\')
            putchar(*p);
    printf("\"}\n");
    fflush(stdout);
    fprintf(stderr, ">>> inproc_bench:   %.0f ops/s, p50 %.1f µs, p99 %.1f µs, %llu errors\n",
            b->n / secs, pctl(b, .5) * 1e3, pctl(b, .99) * 1e3, (unsigned long long)b->errors);
    if (b->errors)
        b->exit_code = 1;
    uv_timer_start(&b->next, on_next, 0, 0);
}

/* ---- the in-process app: echo ------------------------------------------- */

static void on_echo(dapr_invocation_t *inv, const dapr_invoke_request_t *req,
                    const char *caller_app_id, void *data)
{
    (void)caller_app_id, (void)data;
    dapr_invoke_response_t resp = {.status = 200, .content_type = "application/json",
                                   .body = req->body, .body_len = req->body_len};
    dapr_invocation_respond(inv, &resp);
}

/* ---- set-up: seed the key in every store, check one call of each kind ------ */

static int seeds_left;

static void seeded_check(const dapr_error_t *err, const dapr_state_value_t *val, void *data)
{
    bench_t *b = data;
    if (err || !val->found || val->len != b->value_size || memcmp(val->data, b->value, val->len)) {
        fprintf(stderr, "inproc_bench: seeded value not read back: %s\n",
                err ? err->message : "mismatch");
        b->exit_code = 2;
    }
    if (--seeds_left == 0) {
        if (b->exit_code == 2) {
            finish(b);
            return;
        }
        b->cur = -1;
        uv_timer_start(&b->next, on_next, 0, 0);
    }
}

static void on_seeded(const dapr_error_t *err, void *data)
{
    bench_t *b = ((void **)data)[0];
    const char *store = ((void **)data)[1];
    if (err) {
        fprintf(stderr, "inproc_bench: save to %s failed: %s\n", store, err->message);
        b->exit_code = 2;
        if (--seeds_left == 0)
            finish(b);
        return;
    }
    dapr_state_key_t key = {.key = KEY};
    if (dapr_state_get(b->rt, store, &key, seeded_check, b) != DAPR_OK) {
        b->exit_code = 2;
        if (--seeds_left == 0)
            finish(b);
    }
}

static void *seed_ctx[2][2];

static void on_started(dapr_runtime_t *rt, int status, const char *detail, void *data)
{
    bench_t *b = data;
    if (status != DAPR_OK) {
        fprintf(stderr, "inproc_bench: start: %s: %s\n", dapr_strerror(status), detail ? detail : "");
        b->exit_code = 2;
        uv_close((uv_handle_t *)&b->next, NULL);
        uv_close((uv_handle_t *)&b->idle, NULL);
        uv_close((uv_handle_t *)&b->watchdog, NULL);
        uv_stop(dapr_runtime_loop(rt));
        return;
    }
    const char *stores[2] = {"memory", b->redis ? "redis" : NULL};
    seeds_left = b->redis ? 2 : 1;
    for (int i = 0; i < 2 && stores[i]; i++) {
        seed_ctx[i][0] = b;
        seed_ctx[i][1] = (void *)stores[i];
        dapr_state_item_t item = {.key = KEY, .value = (const uint8_t *)b->value,
                                  .value_len = b->value_size, .content_type = "application/json",
                                  .ttl_seconds = DAPR_TTL_UNSET};
        if (dapr_state_save(rt, stores[i], &item, 1, on_seeded, seed_ctx[i]) != DAPR_OK) {
            fprintf(stderr, "inproc_bench: save to %s refused\n", stores[i]);
            b->exit_code = 2;
            if (--seeds_left == 0)
                finish(b);
        }
    }
}

static void on_watchdog(uv_timer_t *t)
{
    bench_t *b = t->data;
    fprintf(stderr, "inproc_bench: --limit of %.0f s reached (row %d of %d); giving up\n", b->limit,
            b->cur + 1, b->n_rows);
    fflush(stdout);
    _exit(3);
}

static void usage(void)
{
    fprintf(stderr, "usage: inproc_bench [--duration S] [--warmup S] [--concurrency 1,16] "
                    "[--value-size N] [--redis HOST:PORT] [--only get|invoke] [--limit S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static bench_t bench; /* large: the slots and the histogram */
    bench_t *b = &bench;
    b->duration = 10;
    b->warmup = 1;
    b->value_size = 1024;
    b->concs[0] = 1, b->concs[1] = 16, b->n_concs = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (!strcmp(a, "--duration"))
            b->duration = atof(v);
        else if (!strcmp(a, "--warmup"))
            b->warmup = atof(v);
        else if (!strcmp(a, "--limit"))
            b->limit = atof(v);
        else if (!strcmp(a, "--value-size"))
            b->value_size = (size_t)atol(v);
        else if (!strcmp(a, "--redis"))
            b->redis = v;
        else if (!strcmp(a, "--only"))
            b->only = v;
        else if (!strcmp(a, "--concurrency")) {
            b->n_concs = 0;
            for (char *s = strdup(v), *tok = strtok(s, ","); tok && b->n_concs < 8;
                 tok = strtok(NULL, ","))
                b->concs[b->n_concs++] = atoi(tok);
        } else
            usage();
        i++;
    }
    if (b->duration <= 0 || b->warmup < 0 || b->value_size < 32 || b->value_size > (1 << 20))
        usage();
    for (int i = 0; i < b->n_concs; i++)
        if (b->concs[i] < 1 || b->concs[i] > MAXC)
            usage();

    /* the same 1 KB JSON document as bench/common.py json_body() */
    static const char head[] = "{\"id\":\"bench\",\"pad\":\"", tail[] = "\"}";
    b->value = malloc(b->value_size + 1);
    size_t hl = sizeof head - 1, tl = sizeof tail - 1;
    memcpy(b->value, head, hl);
    memset(b->value + hl, 'x', b->value_size - hl - tl);
    memcpy(b->value + b->value_size - tl, tail, tl);
    b->value[b->value_size] = '\0';

    const char *stores[2] = {"memory", b->redis ? "redis" : NULL};
    if (!b->only || !strcmp(b->only, "get"))
        for (int s = 0; s < 2 && stores[s]; s++)
            for (int c = 0; c < b->n_concs; c++)
                b->rows[b->n_rows++] = (row_t){OP_GET, stores[s], b->concs[c]};
    if (!b->only || !strcmp(b->only, "invoke"))
        for (int c = 0; c < b->n_concs; c++)
            b->rows[b->n_rows++] = (row_t){OP_INVOKE, NULL, b->concs[c]};
    if (b->limit <= 0)
        b->limit = b->n_rows * (b->duration + b->warmup) + 60;

    uv_loop_init(&b->loop);
    uv_timer_init(&b->loop, &b->next);
    uv_idle_init(&b->loop, &b->idle);
    uv_timer_init(&b->loop, &b->watchdog);
    b->next.data = b->idle.data = b->watchdog.data = b;
    uv_timer_start(&b->watchdog, on_watchdog, (uint64_t)(b->limit * 1000), 0);
    uv_unref((uv_handle_t *)&b->watchdog);

    int rc = dapr_runtime_create(&b->rt, &b->loop);
    if (rc == DAPR_OK) {
        /* an embedded runtime that serves no one over the network */
        dapr_runtime_set_option(b->rt, "app-id", APP_ID);
        dapr_runtime_set_option(b->rt, "log-level", "warn");
        dapr_runtime_set_option(b->rt, "dapr-http-port", "-1");
        dapr_runtime_set_option(b->rt, "dapr-grpc-port", "-1");
        dapr_runtime_set_option(b->rt, "dapr-internal-grpc-port", "-1");
        rc = dapr_runtime_add_component(b->rt, "state.in-memory", "v1", "memory", NULL, 0);
    }
    if (rc == DAPR_OK && b->redis) {
        dapr_kv_t md[] = {{"redisHost", b->redis}};
        rc = dapr_runtime_add_component(b->rt, "state.redis", "v1", "redis", md, 1);
    }
    if (rc == DAPR_OK)
        rc = dapr_invoke_register(b->rt, "echo", on_echo, b);
    if (rc == DAPR_OK)
        rc = dapr_runtime_start(b->rt, on_started, b);
    if (rc != DAPR_OK) {
        fprintf(stderr, "inproc_bench: setup: %s %s\n", dapr_strerror(rc),
                b->rt ? dapr_runtime_last_error(b->rt) : "");
        return 2;
    }
    uv_run(&b->loop, UV_RUN_DEFAULT);
    dapr_runtime_destroy(b->rt);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    uv_loop_close(&b->loop);
    free(b->value);
    return b->exit_code;
}
