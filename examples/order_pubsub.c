/*
 * order_pubsub — an order publisher and an order processor over Dapr
 * pub/sub, in one program, with the runtime on a thread of its own.
 *
 * Build against an installed libdapr:
 *     cc order_pubsub.c $(pkg-config --cflags --libs dapr) -o order_pubsub
 * Run:
 *     ./order_pubsub [orders]       # publishes N orders (default 5), processes them
 *
 * The program has no libuv loop of its own: the runtime is created with loop
 * NULL and dapr_runtime_run_thread() runs the runtime's loop on a library
 * thread. Work is handed to that thread with dapr_runtime_post(), the one
 * call that is safe from any thread; the main thread then waits in
 * dapr_runtime_join_thread().
 *
 * The processor subscribes to topic "orders" of the in-memory pub/sub with a
 * routing rule: orders of more than 10 items reach route "bulk", the others
 * the default route "orders". The first delivery of order 2 answers
 * DAPR_DELIVERY_RETRY, so the broker delivers it again (Dapr's at-least-once
 * delivery); every order is counted once.
 */
#include <dapr/dapr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define PUBSUB "pubsub"
#define TOPIC "orders"
#define MAX_ORDERS 100

typedef struct shop {
    dapr_runtime_t *rt;
    uv_timer_t deadline; /* ends the run if the orders do not all arrive */
    int orders;
    int processed;
    int bulk;            /* orders that matched the "bulk" rule */
    bool seen[MAX_ORDERS + 1];
    bool retried;
    bool stopping;
    int exit_code;
} shop_t;

static void on_stopped(dapr_runtime_t *rt, int status, const char *detail, void *data)
{
    (void)rt, (void)status, (void)detail, (void)data;
}

/* Loop thread. Stops the runtime; the loop thread ends once everything is
 * closed, and main() returns from dapr_runtime_join_thread(). */
static void finish(shop_t *s, int exit_code)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->exit_code = exit_code;
    uv_close((uv_handle_t *)&s->deadline, NULL);
    dapr_runtime_stop(s->rt, on_stopped, s);
}

static void on_deadline(uv_timer_t *t)
{
    shop_t *s = t->data;
    fprintf(stderr, "timed out: %d of %d orders processed\n", s->processed, s->orders);
    finish(s, 1);
}

/* The processor: called on the loop thread for each delivery. */
static dapr_delivery_status_t process_order(const dapr_message_t *msg, void *data)
{
    shop_t *s = data;
    int id = 0, qty = 0;
    /* the event's data is the JSON the publisher sent: {"id":N,"qty":Q};
     * msg->data is not NUL-terminated */
    char text[64];
    size_t n = msg->len < sizeof text - 1 ? msg->len : sizeof text - 1;
    memcpy(text, msg->data, n);
    text[n] = '\0';
    if (sscanf(text, "{\"id\":%d,\"qty\":%d}", &id, &qty) != 2 || id < 1 ||
        id > s->orders) {
        fprintf(stderr, "malformed order %.*s: dropped\n", (int)msg->len, msg->data);
        return DAPR_DELIVERY_DROP;
    }
    if (id == 2 && !s->retried) {
        s->retried = true;
        printf("order %d: not now, retry later\n", id);
        return DAPR_DELIVERY_RETRY;
    }
    if (s->seen[id])
        return DAPR_DELIVERY_SUCCESS; /* a redelivery: already counted */
    s->seen[id] = true;
    s->processed++;
    if (strcmp(msg->route, "bulk") == 0)
        s->bulk++;
    printf("processed order %d (qty %d, route %s, cloudevent id %s)\n", id, qty, msg->route,
           msg->id);
    if (s->processed == s->orders) {
        printf("all %d orders processed, %d bulk\n", s->processed, s->bulk);
        finish(s, 0);
    }
    return DAPR_DELIVERY_SUCCESS;
}

static void on_published(const dapr_error_t *err, void *data)
{
    shop_t *s = data;
    if (err) {
        fprintf(stderr, "publish: %s (%s)\n", err->message, err->error_code ? err->error_code : "-");
        finish(s, 1);
    }
}

/* The publisher: runs once the runtime is up. */
static void publish_orders(shop_t *s)
{
    for (int i = 1; i <= s->orders && !s->stopping; i++) {
        char body[64];
        int n = snprintf(body, sizeof body, "{\"id\":%d,\"qty\":%d}", i, i * 4);
        dapr_publish_request_t req = {.pubsub = PUBSUB, .topic = TOPIC,
                                      .data = (const uint8_t *)body, .len = (size_t)n,
                                      .content_type = "application/json"};
        if (dapr_publish(s->rt, &req, on_published, s) != DAPR_OK) {
            finish(s, 1);
            return;
        }
        printf("published order %d\n", i);
    }
}

static void on_started(dapr_runtime_t *rt, int status, const char *detail, void *data)
{
    shop_t *s = data;
    if (status != DAPR_OK) {
        fprintf(stderr, "start: %s: %s\n", dapr_strerror(status), detail ? detail : "");
        s->exit_code = 1;
        uv_close((uv_handle_t *)&s->deadline, NULL);
        uv_stop(dapr_runtime_loop(rt)); /* ends the loop thread; main() destroys */
        return;
    }
    publish_orders(s);
}

/* Posted from main(): the first thing that runs on the loop thread. */
static void start_on_loop(dapr_runtime_t *rt, void *data)
{
    shop_t *s = data;
    uv_timer_init(dapr_runtime_loop(rt), &s->deadline);
    s->deadline.data = s;
    uv_timer_start(&s->deadline, on_deadline, 10000, 0);
    int rc = dapr_runtime_start(rt, on_started, s);
    if (rc != DAPR_OK)
        on_started(rt, rc, dapr_runtime_last_error(rt), s);
}

int main(int argc, char **argv)
{
    shop_t s = {.orders = argc > 1 ? atoi(argv[1]) : 5, .exit_code = 1};
    if (s.orders < 2 || s.orders > MAX_ORDERS)
        s.orders = 5;

    if (dapr_runtime_create(&s.rt, NULL) != DAPR_OK)
        return 1;
    /* Before the loop thread runs, this thread may configure the runtime. */
    dapr_runtime_set_option(s.rt, "app-id", "order-processor");
    dapr_runtime_set_option(s.rt, "log-level", "warn");
    dapr_runtime_set_option(s.rt, "dapr-http-port", "-1");
    dapr_runtime_set_option(s.rt, "dapr-grpc-port", "-1");
    dapr_runtime_set_option(s.rt, "dapr-internal-grpc-port", "-1");
    int rc = dapr_runtime_add_component(s.rt, "pubsub.in-memory", "v1", PUBSUB, NULL, 0);

    static const dapr_route_rule_t rules[] = {{.match = "event.data.qty > 10", .path = "bulk"}};
    dapr_subscription_t sub = {.pubsub = PUBSUB, .topic = TOPIC, .rules = rules,
                               .n_rules = 1, .default_route = TOPIC};
    if (rc == DAPR_OK)
        rc = dapr_subscribe(s.rt, &sub, process_order, &s, NULL);
    if (rc == DAPR_OK)
        rc = dapr_runtime_run_thread(s.rt);
    if (rc == DAPR_OK)
        rc = dapr_runtime_post(s.rt, start_on_loop, &s);
    if (rc != DAPR_OK) {
        fprintf(stderr, "setup: %s %s\n", dapr_strerror(rc), dapr_runtime_last_error(s.rt));
        dapr_runtime_destroy(s.rt);
        return 1;
    }
    dapr_runtime_join_thread(s.rt);
    dapr_runtime_destroy(s.rt);
    return s.exit_code;
}
