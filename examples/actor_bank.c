/*
 * actor_bank — a virtual actor type "BankAccount" hosted in a C program:
 * deposit / withdraw / balance methods, the balance kept in actor state, and
 * a durable reminder that pays interest.
 *
 * Build against an installed libdapr:
 *     cc actor_bank.c $(pkg-config --cflags --libs dapr) -o actor_bank
 * Run (actors need the placement service; libdapr ships one):
 *     placement --port 50005 &
 *     ./actor_bank --placement-host-address 127.0.0.1:50005 [other daprd flags]
 *
 * The program registers the type before start; the runtime reports it to
 * placement, and once placement's table lists this host the actor "alice"
 * is activated here on its first call. Each call is one turn: a turn may
 * read and write the actor's state asynchronously and answers with
 * dapr_actor_turn_done() when it is finished; the next call of the same
 * actor waits until then. The reminder "interest" fires one second after
 * registration, adds 10 % and cancels itself. Expected output ends with
 * "balance of alice: 77".
 */
#include <dapr/dapr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define TYPE "BankAccount"
#define ACCOUNT "alice"

typedef struct bank {
    dapr_runtime_t *rt;
    uv_timer_t timer;    /* retries while placement is not ready; then the deadline */
    int step;            /* the driver's position in script[] */
    int attempts;
    bool interest_paid;
    bool stopping;
    int exit_code;
} bank_t;

/* One turn in progress: what to do once the balance is read. */
typedef struct turn_ctx {
    bank_t *bank;
    dapr_actor_turn_t *turn;
    dapr_actor_turn_kind_t kind;
    char id[64];
    char method[32];
    long amount;
    long balance;
} turn_ctx_t;

static void drive(bank_t *b);

/* ---- the actor ----------------------------------------------------------- */

static void answer(turn_ctx_t *t, int status, const char *text, bool cancel_reminder)
{
    dapr_actor_turn_done(t->turn, status, (const uint8_t *)text, text ? strlen(text) : 0,
                         cancel_reminder);
    if (t->kind == DAPR_ACTOR_REMINDER && status == 200) {
        t->bank->interest_paid = true;
        drive(t->bank); /* the driver waits for the interest */
    }
    free(t);
}

static void on_balance_written(const dapr_error_t *err, void *data)
{
    turn_ctx_t *t = data;
    char text[32];
    snprintf(text, sizeof text, "%ld", t->balance);
    if (err)
        answer(t, 500, err->message, false);
    else
        answer(t, 200, text, t->kind == DAPR_ACTOR_REMINDER); /* interest: once */
}

static void write_balance(turn_ctx_t *t)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%ld", t->balance);
    dapr_actor_state_op_t op = {.kind = DAPR_STATE_OP_UPSERT, .key = "balance",
                                .value = (const uint8_t *)text, .value_len = (size_t)n,
                                .ttl_seconds = DAPR_TTL_UNSET};
    if (dapr_actor_state_transact(t->bank->rt, TYPE, t->id, &op, 1, on_balance_written, t) !=
        DAPR_OK)
        answer(t, 500, "state unavailable", false);
}

static void on_balance_read(const dapr_error_t *err, const dapr_state_value_t *val, void *data)
{
    turn_ctx_t *t = data;
    if (err) {
        answer(t, 500, err->message, false);
        return;
    }
    char text[32] = "0";
    if (val->found && val->len < sizeof text) {
        memcpy(text, val->data, val->len);
        text[val->len] = '\0';
    }
    t->balance = strtol(text, NULL, 10);

    if (t->kind == DAPR_ACTOR_REMINDER) { /* "interest": 10 % */
        t->balance += t->balance / 10;
        printf("reminder: interest paid, balance %ld\n", t->balance);
        write_balance(t);
    } else if (strcmp(t->method, "deposit") == 0) {
        t->balance += t->amount;
        write_balance(t);
    } else if (strcmp(t->method, "withdraw") == 0) {
        if (t->amount > t->balance) {
            answer(t, 400, "insufficient funds", false);
            return;
        }
        t->balance -= t->amount;
        write_balance(t);
    } else { /* balance */
        answer(t, 200, text, false);
    }
}

static void on_turn(dapr_actor_turn_t *turn, const dapr_actor_turn_info_t *info, void *data)
{
    turn_ctx_t *t = calloc(1, sizeof *t);
    if (!t) {
        dapr_actor_turn_done(turn, 500, NULL, 0, false);
        return;
    }
    t->bank = data;
    t->turn = turn;
    t->kind = info->kind;
    snprintf(t->id, sizeof t->id, "%s", info->id);
    snprintf(t->method, sizeof t->method, "%s", info->name);
    char num[32] = "0";
    if (info->body_len < sizeof num) {
        memcpy(num, info->body, info->body_len);
        num[info->body_len] = '\0';
    }
    t->amount = strtol(num, NULL, 10);
    bool known = info->kind == DAPR_ACTOR_REMINDER || strcmp(t->method, "deposit") == 0 ||
                 strcmp(t->method, "withdraw") == 0 || strcmp(t->method, "balance") == 0;
    if (!known) {
        answer(t, 404, "no such method", false);
        return;
    }
    if (dapr_actor_state_get(t->bank->rt, info->type, info->id, "balance", on_balance_read, t) !=
        DAPR_OK)
        answer(t, 500, "state unavailable", false);
}

static void on_deactivate(const char *type, const char *id, void *data)
{
    (void)data;
    printf("%s/%s deactivated\n", type, id);
}

/* ---- the client: a fixed script of calls --------------------------------- */

typedef struct call {
    const char *method, *body;
    int expect; /* HTTP status */
} call_t;

static const call_t script[] = {
    {"deposit", "100", 200},
    {"withdraw", "30", 200},
    {"withdraw", "500", 400}, /* refused: the balance is 70 */
    {NULL, NULL, 0},          /* register the reminder, wait for the interest */
    {"balance", "", 200},     /* 77 */
};
#define N_STEPS (sizeof script / sizeof script[0])

static void on_stopped(dapr_runtime_t *rt, int status, const char *detail, void *data)
{
    (void)rt, (void)status, (void)detail, (void)data;
}

static void finish(bank_t *b, int exit_code)
{
    if (b->stopping)
        return;
    b->stopping = true;
    b->exit_code = exit_code;
    uv_close((uv_handle_t *)&b->timer, NULL);
    if (dapr_runtime_stop(b->rt, on_stopped, b) != DAPR_OK)
        uv_stop(dapr_runtime_loop(b->rt));
}

static void on_timer(uv_timer_t *t)
{
    drive(t->data);
}

static void on_deadline(uv_timer_t *t)
{
    bank_t *b = t->data;
    fprintf(stderr, "timed out at step %d\n", b->step);
    finish(b, 1);
}

static void on_answer(const dapr_error_t *err, const dapr_actor_response_t *resp, void *data)
{
    bank_t *b = data;
    const call_t *c = &script[b->step];
    if (err && c->expect >= 400 && err->error_code &&
        strcmp(err->error_code, "ERR_ACTOR_INVOKE_METHOD") == 0) {
        /* the actor answered an error status: the caller gets it as an
         * error, as from Dapr's HTTP API ("error from actor service: (400) ...") */
        printf("%s(%s) -> refused: %s\n", c->method, c->body, err->message);
        b->step++;
        drive(b);
        return;
    }
    if (err) {
        /* until placement has disseminated a table with this host, calls fail */
        if (++b->attempts > 100) {
            fprintf(stderr, "%s: %s (%s)\n", c->method, err->message,
                    err->error_code ? err->error_code : "-");
            finish(b, 1);
            return;
        }
        uv_timer_start(&b->timer, on_timer, 200, 0);
        return;
    }
    printf("%s(%s) -> %d %.*s\n", c->method, c->body, resp->status, (int)resp->body_len,
           (const char *)resp->body);
    if (resp->status != c->expect) {
        fprintf(stderr, "expected status %d\n", c->expect);
        finish(b, 1);
        return;
    }
    if (++b->step == N_STEPS) {
        printf("balance of %s: %.*s\n", ACCOUNT, (int)resp->body_len, (const char *)resp->body);
        finish(b, 0);
        return;
    }
    drive(b);
}

static void on_reminder_registered(const dapr_error_t *err, void *data)
{
    bank_t *b = data;
    if (err) {
        fprintf(stderr, "reminder: %s\n", err->message);
        finish(b, 1);
        return;
    }
    printf("reminder \"interest\" registered\n");
    uv_timer_start(&b->timer, on_deadline, 30000, 0); /* waits for the interest */
}

static void drive(bank_t *b)
{
    if (b->stopping || b->step >= (int)N_STEPS)
        return;
    const call_t *c = &script[b->step];
    if (c->method) {
        if (dapr_actor_invoke(b->rt, TYPE, ACCOUNT, c->method, (const uint8_t *)c->body,
                              strlen(c->body), on_answer, b) != DAPR_OK)
            finish(b, 1);
        return;
    }
    if (b->interest_paid) { /* the reminder fired: go on */
        uv_timer_stop(&b->timer);
        b->step++;
        drive(b);
        return;
    }
    dapr_actor_schedule_t s = {.type = TYPE, .id = ACCOUNT, .name = "interest",
                               .due_time = "1s", .period = "1s", .data = "{\"rate\":10}"};
    if (dapr_actor_reminder_register(b->rt, &s, on_reminder_registered, b) != DAPR_OK)
        finish(b, 1);
}

static void on_started(dapr_runtime_t *rt, int status, const char *detail, void *data)
{
    bank_t *b = data;
    (void)rt;
    if (status != DAPR_OK) {
        fprintf(stderr, "start: %s: %s\n", dapr_strerror(status), detail ? detail : "");
        finish(b, 1);
        return;
    }
    drive(b);
}

int main(int argc, char **argv)
{
    bank_t b = {.exit_code = 1};
    uv_loop_t loop;
    uv_loop_init(&loop);
    if (dapr_runtime_create(&b.rt, &loop) != DAPR_OK)
        return 1;
    dapr_runtime_set_option(b.rt, "app-id", "bank");
    dapr_runtime_set_option(b.rt, "log-level", "warn");
    dapr_runtime_set_option(b.rt, "dapr-http-port", "-1");
    dapr_runtime_set_option(b.rt, "dapr-grpc-port", "-1");
    int rc = DAPR_OK;
    for (int i = 1; i + 1 < argc && rc == DAPR_OK; i += 2) /* --name value pairs */
        if ((rc = dapr_runtime_set_option(b.rt, argv[i], argv[i + 1])) != DAPR_OK)
            fprintf(stderr, "%s: %s\n", argv[i], dapr_runtime_last_error(b.rt));

    /* actor state needs a state store marked actorStateStore */
    static const dapr_kv_t md[] = {{"actorStateStore", "true"}};
    if (rc == DAPR_OK)
        rc = dapr_runtime_add_component(b.rt, "state.in-memory", "v1", "actorstore", md, 1);
    dapr_actor_callbacks_t cbs = {.on_turn = on_turn, .on_deactivate = on_deactivate};
    if (rc == DAPR_OK)
        rc = dapr_actors_register_type(b.rt, TYPE, &cbs, NULL, &b);
    if (rc != DAPR_OK) {
        dapr_runtime_destroy(b.rt);
        uv_loop_close(&loop);
        return 2;
    }
    uv_timer_init(&loop, &b.timer);
    b.timer.data = &b;
    rc = dapr_runtime_start(b.rt, on_started, &b);
    if (rc != DAPR_OK)
        on_started(b.rt, rc, dapr_runtime_last_error(b.rt), &b);
    uv_run(&loop, UV_RUN_DEFAULT);
    dapr_runtime_destroy(b.rt);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "handles left open on the loop\n");
        return 1;
    }
    return b.exit_code;
}
