/* lib/runtime/placement.c against the real placement binary (argv[1]):
 * lookups are EAGAIN before the first table, when_ready fires once tables
 * are in, two clients hosting the same type agree on the owner of 1000 ids
 * (and both own some), unknown types are ENOTFOUND, lookups wait
 * (EAGAIN) while placement is down, and a client works again after the
 * placement restarts on the same port. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "dapr/dapr.h"
#include "runtime/placement.h"
#include "../../unit/testutil.h"

static uv_loop_t *loop;
static uv_process_t proc;
static uv_pipe_t out_pipe;
static char out_buf[8192];
static size_t out_len;
static int plc_port;
static bool proc_exited;
static dapr__placement_t *p1, *p2;
static int ready_calls, changes, closed_count;
static uv_timer_t poll_t, deadline_t;
static int phase;
static const char *bin;

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    static char tmp[4096];
    b->base = tmp;
    b->len = sizeof(tmp);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n <= 0)
        return;
    fwrite(b->base, 1, (size_t)n, stderr);
    size_t k = (size_t)n < sizeof(out_buf) - 1 - out_len ? (size_t)n : sizeof(out_buf) - 1 - out_len;
    memcpy(out_buf + out_len, b->base, k);
    out_len += k;
    out_buf[out_len] = 0;
    const char *m = strstr(out_buf, "started on port ");
    if (m && !plc_port)
        plc_port = atoi(m + strlen("started on port "));
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    proc_exited = true;
    uv_close((uv_handle_t *)p, NULL);
}

static int spawn_placement(int port)
{
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    char *args[] = {(char *)bin, "--port", portbuf, "--healthz-port", "0", "--listen-address",
                    "127.0.0.1", NULL};
    uv_pipe_init(loop, &out_pipe, 0);
    uv_stdio_container_t io[3] = {{.flags = UV_IGNORE},
                                  {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
                                   .data.stream = (uv_stream_t *)&out_pipe},
                                  {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t o = {.file = bin, .args = args, .exit_cb = on_exit_cb,
                              .stdio = io, .stdio_count = 3};
    out_len = 0;
    out_buf[0] = 0;
    plc_port = 0;
    proc_exited = false;
    int rc = uv_spawn(loop, &proc, &o);
    if (rc == 0)
        uv_read_start((uv_stream_t *)&out_pipe, on_alloc, on_read);
    return rc;
}

static void stop_placement(void)
{
    if (!proc_exited)
        uv_process_kill(&proc, SIGTERM);
    uv_close((uv_handle_t *)&out_pipe, NULL);
}

static void on_ready(bool closed, void *ud)
{
    if (!closed)
        ready_calls++;
    else
        closed_count++;
}

static void on_change(void *ud)
{
    changes++;
}

/* Both clients answer for all ids, agree, and each owns some. */
static bool agree(bool report)
{
    char a1[64], a2[64];
    int own1 = 0, own2 = 0;
    for (int i = 0; i < 1000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "actor-%d", i);
        bool l1 = false, l2 = false;
        if (dapr__placement_lookup(p1, "T", id, a1, sizeof(a1), &l1) != 0 ||
            dapr__placement_lookup(p2, "T", id, a2, sizeof(a2), &l2) != 0)
            return false;
        if (strcmp(a1, a2) || l1 == l2 || l1 != !strcmp(a1, "127.0.0.1:20001")) {
            if (report)
                fprintf(stderr, "disagree on %s: %s vs %s\n", id, a1, a2);
            return false;
        }
        own1 += l1;
        own2 += l2;
    }
    return own1 > 100 && own2 > 100;
}

static void finish(void)
{
    uv_timer_stop(&poll_t);
    uv_close((uv_handle_t *)&poll_t, NULL);
    uv_close((uv_handle_t *)&deadline_t, NULL);
    dapr__placement_close(p1, NULL, NULL);
    dapr__placement_close(p2, NULL, NULL);
    stop_placement();
}

static void on_poll(uv_timer_t *t)
{
    char addr[64];
    bool local;
    if (phase == 0 && agree(false)) {
        CHECK(changes >= 1);
        CHECK(dapr__placement_connected(p1) && dapr__placement_connected(p2));
        CHECK_EQ_INT(dapr__placement_lookup(p1, "Nope", "x", addr, sizeof(addr), &local),
                     DAPR_ENOTFOUND);
        CHECK_EQ_INT(dapr__placement_lookup(p1, "T", "x", addr, 4, &local), DAPR_EINVAL);
        /* restart placement on the same port: the clients reconnect */
        int port = plc_port;
        stop_placement();
        phase = 1;
        changes = 0;
        (void)port;
        t->data = (void *)(intptr_t)port;
    } else if (phase == 1 && proc_exited) {
        /* without the stream the table may be stale: lookups wait */
        CHECK_EQ_INT(dapr__placement_lookup(p1, "T", "x", addr, sizeof(addr), &local),
                     DAPR_EAGAIN);
        CHECK_EQ_INT(spawn_placement((int)(intptr_t)t->data), 0);
        phase = 2;
    } else if (phase == 2 && changes > 0 && agree(false)) {
        CHECK_EQ_INT(ready_calls, 1);
        finish();
        phase = 3;
    }
}

static void on_deadline(uv_timer_t *t)
{
    fprintf(stderr, "timeout in phase %d (changes %d ready %d)\n", phase, changes, ready_calls);
    test_failures++;
    agree(true);
    finish();
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <placement binary>\n", argv[0]);
        return 2;
    }
    bin = argv[1];
    loop = uv_default_loop();
    dapr_runtime_t *rt = NULL;
    CHECK_EQ_INT(dapr_runtime_create(&rt, loop), 0);
    CHECK_EQ_INT(spawn_placement(0), 0);
    for (int i = 0; i < 200 && !plc_port && !proc_exited; i++)
        uv_run(loop, UV_RUN_ONCE);
    CHECK(plc_port > 0);
    char addrs[64];
    /* the first address refuses connections: round robin to the second */
    snprintf(addrs, sizeof(addrs), "127.0.0.1:1, 127.0.0.1:%d", plc_port);
    const char *types[] = {"T"};
    dapr__placement_config_t c1 = {.addresses = addrs, .app_id = "app1", .namespace_ = "default",
                                   .self_addr = "127.0.0.1:20001", .actor_types = types,
                                   .n_actor_types = 1, .on_change = on_change};
    dapr__placement_config_t c2 = c1;
    c2.app_id = "app2";
    c2.self_addr = "127.0.0.1:20002";
    dapr__placement_config_t bad = c1;
    bad.addresses = "nohostport";
    dapr__placement_t *pb = NULL;
    CHECK_EQ_INT(dapr__placement_start(rt, &bad, &pb), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__placement_start(rt, &c1, &p1), 0);
    CHECK_EQ_INT(dapr__placement_start(rt, &c2, &p2), 0);
    char addr[64];
    bool local;
    CHECK_EQ_INT(dapr__placement_lookup(p1, "T", "a", addr, sizeof(addr), &local), DAPR_EAGAIN);
    CHECK_EQ_INT(dapr__placement_when_ready(p1, "T", on_ready, NULL), 0);
    CHECK_EQ_INT(ready_calls, 0); /* never from inside */
    uv_timer_init(loop, &poll_t);
    uv_timer_init(loop, &deadline_t);
    uv_timer_start(&poll_t, on_poll, 50, 50);
    uv_timer_start(&deadline_t, on_deadline, 20000, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(phase, 3);
    CHECK_EQ_INT(closed_count, 0);
    dapr_runtime_destroy(rt);
    CHECK_EQ_INT(uv_loop_close(loop), 0);
    return test_result();
}
