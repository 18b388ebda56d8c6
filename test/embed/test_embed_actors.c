/* Actor types hosted by the embedding program (dapr_actors_register_type)
 * with the real placement binary (argv[1]) on a free port: method calls
 * through dapr_actor_invoke, two calls of one id never overlap while
 * different ids run in parallel, an error status reaches the caller as
 * ERR_ACTOR_INVOKE_METHOD, actor state through dapr_actor_state_transact /
 * dapr_actor_state_get, a timer firing with its data, a reminder firing
 * and cancelled by its turn (X-DaprReminderCancel), idle deactivation
 * calling on_deactivate, and registration errors. */
#include <fcntl.h>
#include <signal.h>

#include "embed_util.h"

static dapr_runtime_t *rt;
static uv_loop_t *loop;

typedef struct pending {
    dapr_actor_turn_t *turn;
    char id[16];
    uv_timer_t t;
} pending_t;

static int busy_a, busy_total, max_parallel, overlaps, count_a, count_b;
static int timer_fires, reminder_fires, deactivated_b;
static char timer_data[64];

static void free_pending(uv_handle_t *h) { free(h->data); }

static void finish_inc(uv_timer_t *t)
{
    pending_t *p = t->data;
    bool a = !strcmp(p->id, "a");
    int n = a ? ++count_a : ++count_b;
    if (a)
        busy_a--;
    busy_total--;
    char out[16];
    int len = snprintf(out, sizeof(out), "%d", n);
    CHECK_EQ_INT(dapr_actor_turn_done(p->turn, 200, (const uint8_t *)out, (size_t)len, false), 0);
    uv_close((uv_handle_t *)t, free_pending);
}

static void on_turn(dapr_actor_turn_t *turn, const dapr_actor_turn_info_t *info, void *data)
{
    CHECK_EQ_STR(info->type, "Counter");
    CHECK_EQ_STR((const char *)data, "ctx");
    if (info->kind == DAPR_ACTOR_TIMER) {
        timer_fires++;
        snprintf(timer_data, sizeof(timer_data), "%.*s", (int)info->body_len,
                 (const char *)info->body);
        dapr_actor_turn_done(turn, 200, NULL, 0, false);
        return;
    }
    if (info->kind == DAPR_ACTOR_REMINDER) {
        reminder_fires++;
        CHECK_EQ_STR(info->name, "r1");
        dapr_actor_turn_done(turn, 200, NULL, 0, true); /* cancels it */
        return;
    }
    if (!strcmp(info->name, "inc")) {
        bool a = !strcmp(info->id, "a");
        if (a && busy_a)
            overlaps++;
        busy_a += a;
        busy_total++;
        if (busy_total > max_parallel)
            max_parallel = busy_total;
        pending_t *p = (pending_t *)calloc(1, sizeof(*p));
        p->turn = turn;
        snprintf(p->id, sizeof(p->id), "%s", info->id);
        uv_timer_init(loop, &p->t);
        p->t.data = p;
        uv_timer_start(&p->t, finish_inc, 40, 0);
        return;
    }
    if (!strcmp(info->name, "fail")) {
        dapr_actor_turn_done(turn, 500, (const uint8_t *)"boom", 4, false);
        return;
    }
    dapr_actor_turn_done(turn, 404, NULL, 0, false);
}

static void on_deactivate(const char *type, const char *id, void *data)
{
    if (!strcmp(id, "b"))
        deactivated_b++;
}

typedef struct call {
    bool done;
    int code, status;
    char body[64], error_code[64];
} call_t;

static void on_invoked(const dapr_error_t *err, const dapr_actor_response_t *r, void *data)
{
    call_t *c = data;
    c->code = err ? err->code : 0;
    snprintf(c->error_code, sizeof(c->error_code), "%s", err && err->error_code ? err->error_code : "");
    if (r) {
        c->status = r->status;
        snprintf(c->body, sizeof(c->body), "%.*s", (int)r->body_len, (const char *)r->body);
    }
    c->done = true;
}

static void on_done(const dapr_error_t *err, void *data)
{
    call_t *c = data;
    c->code = err ? err->code : 0;
    if (err)
        fprintf(stderr, "error: %s\n", err->message);
    c->done = true;
}

static void on_state(const dapr_error_t *err, const dapr_state_value_t *v, void *data)
{
    call_t *c = data;
    c->code = err ? err->code : 0;
    if (v && v->found)
        snprintf(c->body, sizeof(c->body), "%.*s", (int)v->len, (const char *)v->data);
    c->done = true;
}

static bool wait_count(int *v, int n, int ms)
{
    uint64_t end = uv_now(loop) + (uint64_t)ms;
    while (*v < n && uv_now(loop) < end)
        run_for(loop, 10);
    return *v >= n;
}

/* --- the placement binary --- */

static uv_loop_t ploop;
static uv_process_t proc;
static bool proc_exited;

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    proc_exited = true;
    uv_close((uv_handle_t *)p, NULL);
}

static int start_placement(const char *bin, const char *logf)
{
    int fd = open(logf, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    char *args[] = {(char *)bin, "--port", "0", "--healthz-port", "0", "--listen-address",
                    "127.0.0.1", NULL};
    uv_stdio_container_t io[3] = {{.flags = UV_IGNORE},
                                  {.flags = UV_INHERIT_FD, .data.fd = fd},
                                  {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t o = {.file = bin, .args = args, .exit_cb = on_exit_cb, .stdio = io,
                              .stdio_count = 3};
    uv_loop_init(&ploop);
    int rc = uv_spawn(&ploop, &proc, &o);
    close(fd);
    if (rc)
        return -1;
    for (int i = 0; i < 500; i++) {
        char buf[8192] = "";
        FILE *f = fopen(logf, "r");
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = 0;
        const char *m = strstr(buf, "started on port ");
        if (m)
            return atoi(m + strlen("started on port "));
        usleep(10000);
    }
    return -1;
}

static void stop_placement(void)
{
    if (!proc_exited)
        uv_process_kill(&proc, SIGTERM);
    while (!proc_exited)
        uv_run(&ploop, UV_RUN_ONCE);
    uv_run(&ploop, UV_RUN_NOWAIT);
    uv_loop_close(&ploop);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <placement binary>\n", argv[0]);
        return 2;
    }
    char logf[64];
    snprintf(logf, sizeof(logf), "/tmp/embed_placement_%d.log", (int)getpid());
    int pport = start_placement(argv[1], logf);
    CHECK(pport > 0);
    if (pport <= 0)
        return test_result();
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", pport);

    CHECK_EQ_INT(dapr_runtime_create(&rt, NULL), 0);
    loop = dapr_runtime_loop(rt);
    dapr_runtime_set_option(rt, "app-id", "actors1");
    dapr_runtime_set_option(rt, "log-level", "warn");
    dapr_runtime_set_option(rt, "dapr-http-port", "-1");
    dapr_runtime_set_option(rt, "dapr-grpc-port", "-1");
    dapr_runtime_set_option(rt, "placement-host-address", addr);
    dapr_kv_t md[] = {{"actorStateStore", "true"}};
    CHECK_EQ_INT(dapr_runtime_add_component(rt, "state.in-memory", "v1", "store", md, 1), 0);
    dapr_actor_callbacks_t cbs = {.on_turn = on_turn, .on_deactivate = on_deactivate};
    dapr_actor_config_t cfg = {.idle_timeout_ms = 1500, .scan_interval_ms = 200};
    CHECK_EQ_INT(dapr_actors_register_type(rt, "Counter", &cbs, &cfg, "ctx"), 0);
    CHECK_EQ_INT(dapr_actors_register_type(rt, "Counter", &cbs, &cfg, "ctx"), DAPR_EEXIST);
    dapr_actor_callbacks_t none = {0};
    CHECK_EQ_INT(dapr_actors_register_type(rt, "Other", &none, NULL, NULL), DAPR_EINVAL);
    CHECK_EQ_INT(dapr_actors_register_type(rt, "", &cbs, NULL, NULL), DAPR_EINVAL);
    CHECK_EQ_INT(start_rt(rt), 0);
    CHECK_EQ_INT(dapr_actors_register_type(rt, "Late", &cbs, NULL, NULL), DAPR_ESTATE);

    /* three calls at once: two on "a" (one after the other), one on "b" */
    call_t c1 = {0}, c2 = {0}, c3 = {0};
    CHECK_EQ_INT(dapr_actor_invoke(rt, "Counter", "a", "inc", NULL, 0, on_invoked, &c1), 0);
    CHECK_EQ_INT(dapr_actor_invoke(rt, "Counter", "a", "inc", NULL, 0, on_invoked, &c2), 0);
    CHECK_EQ_INT(dapr_actor_invoke(rt, "Counter", "b", "inc", (const uint8_t *)"{}", 2,
                                   on_invoked, &c3), 0);
    CHECK(run_until(loop, &c1.done, 15000));
    CHECK(run_until(loop, &c2.done, 5000));
    CHECK(run_until(loop, &c3.done, 5000));
    CHECK_EQ_INT(c1.code, 0);
    CHECK_EQ_INT(c1.status, 200);
    CHECK_EQ_STR(c1.body, "1");
    CHECK_EQ_STR(c2.body, "2");
    CHECK_EQ_STR(c3.body, "1");
    CHECK_EQ_INT(overlaps, 0);
    CHECK_EQ_INT(max_parallel, 2); /* "a" and "b" side by side */

    call_t f = {0};
    CHECK_EQ_INT(dapr_actor_invoke(rt, "Counter", "a", "fail", NULL, 0, on_invoked, &f), 0);
    CHECK(run_until(loop, &f.done, 5000));
    CHECK(f.code != 0);
    CHECK_EQ_STR(f.error_code, "ERR_ACTOR_INVOKE_METHOD");

    /* state */
    dapr_actor_state_op_t ops[] = {
        {DAPR_STATE_OP_UPSERT, "k", (const uint8_t *)"\"v\"", 3, DAPR_TTL_UNSET},
        {DAPR_STATE_OP_UPSERT, "gone", (const uint8_t *)"1", 1, DAPR_TTL_UNSET},
    };
    call_t s = {0};
    CHECK_EQ_INT(dapr_actor_state_transact(rt, "Counter", "a", ops, 2, on_done, &s), 0);
    CHECK(run_until(loop, &s.done, 5000));
    CHECK_EQ_INT(s.code, 0);
    dapr_actor_state_op_t del[] = {{DAPR_STATE_OP_DELETE, "gone", NULL, 0, DAPR_TTL_UNSET}};
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(dapr_actor_state_transact(rt, "Counter", "a", del, 1, on_done, &s), 0);
    CHECK(run_until(loop, &s.done, 5000));
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(dapr_actor_state_get(rt, "Counter", "a", "k", on_state, &s), 0);
    CHECK(run_until(loop, &s.done, 5000));
    CHECK_EQ_STR(s.body, "\"v\"");
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(dapr_actor_state_get(rt, "Counter", "a", "gone", on_state, &s), 0);
    CHECK(run_until(loop, &s.done, 5000));
    CHECK_EQ_STR(s.body, "");

    /* a timer (once, with data) and a reminder cancelled by its first turn */
    dapr_actor_schedule_t tm = {.type = "Counter", .id = "a", .name = "t1", .due_time = "10ms",
                                .data = "{\"x\":1}"};
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(dapr_actor_timer_register(rt, &tm, on_done, &s), 0);
    CHECK(run_until(loop, &s.done, 5000));
    CHECK_EQ_INT(s.code, 0);
    CHECK(wait_count(&timer_fires, 1, 5000));
    CHECK_EQ_STR(timer_data, "{\"x\":1}");
    dapr_actor_schedule_t rm = {.type = "Counter", .id = "a", .name = "r1", .due_time = "10ms",
                                .period = "50ms", .data = "\"rem\""};
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(dapr_actor_reminder_register(rt, &rm, on_done, &s), 0);
    CHECK(run_until(loop, &s.done, 5000));
    CHECK_EQ_INT(s.code, 0);
    CHECK(wait_count(&reminder_fires, 1, 5000));
    run_for(loop, 400);
    CHECK_EQ_INT(reminder_fires, 1);
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(dapr_actor_timer_unregister(rt, "Counter", "a", "t1", on_done, &s), 0);
    CHECK(run_until(loop, &s.done, 5000));

    /* "b" has been idle: deactivated */
    CHECK(wait_count(&deactivated_b, 1, 5000));

    stop_rt(rt);
    dapr_runtime_destroy(rt);
    stop_placement();
    unlink(logf);
    return test_result();
}
