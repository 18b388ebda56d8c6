/* Tests of the HTTP/1.1 client (lib/http/client.h).
 *
 *   http_client_test self [TEST]
 *       against the project's own HTTP server, in-process on the same loop
 *   http_client_test peer PORT REFUSED_PORT BLACKHOLE_PORT [TEST]
 *       against test_http_client.py's misbehaving peer (0: no blackhole)
 *
 * Prints PASS/FAIL per test; exits 0 only if all passed and the loop closed
 * with no handle left (ASan/LSan check the memory). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

int self_tests(const char *only);
int peer_tests(int argc, char **argv, const char *only);

/* ASan keeps freed memory in a quarantine (256 MB by default), which would
 * hide the client's own memory bound behind the sanitizer's; the VmHWM
 * check is about the former. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "quarantine_size_mb=4"; }

static void close_walk(uv_handle_t *h, void *arg)
{
    if (uv_is_closing(h))
        return;
    fprintf(stderr, "handle left open: type %s\n", uv_handle_type_name(h->type));
    (*(int *)arg)++;
    uv_close(h, NULL);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    int failed;
    if (argc >= 2 && !strcmp(argv[1], "self")) {
        failed = self_tests(argc >= 3 ? argv[2] : NULL);
    } else if (argc >= 5 && !strcmp(argv[1], "peer")) {
        failed = peer_tests(3, argv + 2, argc >= 6 ? argv[5] : NULL);
    } else {
        fprintf(stderr, "usage: %s self [TEST] | peer PORT REFUSED BLACKHOLE [TEST]\n", argv[0]);
        return 2;
    }
    run_for(20);
    harness_done();
    int left = 0;
    uv_walk(loop, close_walk, &left);
    failed += left;
    uv_run(loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(loop);
    if (rc) {
        fprintf(stderr, "loop not closed: %s\n", uv_strerror(rc));
        failed++;
    }
    printf("%s: %d failed, %d check(s) failed\n", argv[1], failed, failures);
    return failed || failures || rc ? 1 : 0;
}
