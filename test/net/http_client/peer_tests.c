/* The client against test_http_client.py's raw-socket peer (misbehaving
 * servers, 100 MB bodies), a refused port and a port that drops SYNs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "harness.h"

#define BIG (100ull * 1024 * 1024)
#define HWM_LIMIT_KB (64 * 1024)

static int peer_port, refused_port, blackhole_port;

static dapr__http_client_t *peer_client(void)
{
    dapr__http_client_config_t cfg = {.host = "127.0.0.1", .port = peer_port,
                                      .max_header_bytes = 16 * 1024};
    return client_new(&cfg);
}

/* One request on a fresh client; the caller checks k and frees it. */
static void get(call_t *k, const char *target, uint64_t header_to)
{
    dapr__http_client_config_t cfg = {.host = "127.0.0.1", .port = peer_port,
                                      .max_header_bytes = 16 * 1024,
                                      .header_timeout_ms = header_to};
    dapr__http_client_t *c = client_new(&cfg);
    call_init(k);
    EXPECT_EQ(call_start(c, k, "GET", target, NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    if (!run_until(&k->done, 10000)) {
        fprintf(stderr, "    %s: no final callback\n", target);
        failures++;
        dapr__http_client_cancel_all(c);
    }
    EXPECT_EQ(k->order_errors, 0);
    client_close(c);
}

static void t_close_mid_body(void)
{
    call_t k;
    get(&k, "/close-mid-body", 0);
    EXPECT_EQ(k.n_response, 1);
    EXPECT_EQ(k.status, 200);
    EXPECT_EQ(k.body_len, 100);
    EXPECT_EQ(k.err, DAPR_ECLOSED);
    EXPECT(strstr(k.errmsg, "body"));
    call_free(&k);
}

static void t_close_delimited(void)
{
    call_t k;
    get(&k, "/close-delimited", 0);
    EXPECT_EQ(k.status, 200);
    EXPECT_EQ(k.n_end, 1);
    EXPECT_EQ(k.content_length, -1);
    EXPECT(!k.keep_alive);
    EXPECT_EQ(k.body_len, 5000);
    for (size_t i = 0; i < k.body.len; i++)
        if ((uint8_t)k.body.data[i] != PATTERN(i)) {
            EXPECT(!"close-delimited body intact");
            break;
        }
    call_free(&k);
}

static void t_chunked_trailers(void)
{
    dapr__http_client_t *c = peer_client();
    for (int i = 0; i < 2; i++) {
        call_t k;
        call_init(&k);
        EXPECT_EQ(call_start(c, &k, "GET", "/chunked-trailers", NULL, 0, DAPR__HTTP_BODY_NONE,
                             NULL, 0, 0),
                  0);
        EXPECT(run_until(&k.done, 5000));
        EXPECT_EQ(k.status, 200);
        EXPECT_EQ(k.content_length, -1);
        dapr__buf_cstr(&k.body);
        EXPECT(k.body.data && !strcmp(k.body.data, "hello world"));
        EXPECT_EQ(k.n_trailers, 2);
        dapr__buf_cstr(&k.trailers);
        EXPECT(k.trailers.data && !strcmp(k.trailers.data, "X-Checksum: abc\nX-Checksum: def\n"));
        call_free(&k);
    }
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.connects, 1); /* trailers do not spoil keep-alive */
    client_close(c);
}

static void t_slow_headers(void)
{
    call_t k;
    uint64_t t0 = now_ms();
    get(&k, "/slow-headers", 300);
    EXPECT_EQ(k.err, DAPR_ETIMEDOUT);
    EXPECT_EQ(k.n_response, 0);
    uint64_t dt = now_ms() - t0;
    EXPECT(dt >= 290 && dt < 2500);
    call_free(&k);
}

static void t_malformed(void)
{
    static const struct {
        const char *path;
        int code;
        int responses;
    } cases[] = {
        {"/garbage", DAPR_EPARSE, 0},
        {"/bad-chunk", DAPR_EPARSE, 1},
        {"/lone-cr", DAPR_EPARSE, 0},
        {"/huge-head", DAPR_ETOOBIG, 0},
        {"/reset", DAPR_EIO, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        call_t k;
        get(&k, cases[i].path, 0);
        printf("    %-12s %s: %s\n", cases[i].path, dapr_err_name(k.err), k.errmsg);
        EXPECT_EQ(k.err, cases[i].code);
        EXPECT_EQ(k.n_response, cases[i].responses);
        EXPECT(k.errmsg[0]);
        call_free(&k);
    }
}

static void t_interim_and_204(void)
{
    dapr__http_client_t *c = peer_client();
    const char *paths[] = {"/interim", "/204cl", "/ok", "/interim"};
    int status[] = {200, 204, 200, 200};
    const char *body[] = {"done", "", "ok", "done"};
    for (int i = 0; i < 4; i++) {
        call_t k;
        call_init(&k);
        EXPECT_EQ(call_start(c, &k, "GET", paths[i], NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0),
                  0);
        EXPECT(run_until(&k.done, 5000));
        EXPECT_EQ(k.status, status[i]);
        EXPECT_EQ(k.n_response, 1); /* 1xx are not reported */
        dapr__buf_cstr(&k.body);
        EXPECT(!strcmp(k.body.data ? k.body.data : "", body[i]));
        call_free(&k);
    }
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.connects, 1); /* the 204's Content-Length was not read as a body */
    client_close(c);
}

static void t_stale_retry(void)
{
    dapr__http_client_t *c = peer_client();
    const char *methods[] = {"GET", "GET", "DELETE", "POST"};
    for (int i = 0; i < 4; i++) {
        call_t k;
        call_init(&k);
        EXPECT_EQ(call_start(c, &k, methods[i], "/stale", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0,
                             0),
                  0);
        EXPECT(run_until(&k.done, 5000));
        if (i < 3) {
            /* 0: fresh; 1, 2: the pooled one is dead, retried on a new one */
            EXPECT_EQ(k.status, 200);
        } else {
            /* POST is not idempotent: not retried */
            EXPECT_EQ(k.err, DAPR_ECLOSED);
            EXPECT_EQ(k.n_response, 0);
        }
        call_free(&k);
    }
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.retries, 2);
    EXPECT_EQ(st.connects, 3);
    client_close(c);
}

/* Damaged responses in random pieces: whatever happens, every request ends
 * with exactly one final callback, and ASan/UBSan stay quiet.
 * HTTP_CLIENT_FUZZ_N (default 300) and HTTP_CLIENT_FUZZ_BASE (first seed)
 * make longer runs. */
static void t_fuzzed_responses(void)
{
    dapr__http_client_config_t cfg = {.host = "127.0.0.1", .port = peer_port,
                                      .max_concurrency = 8, .header_timeout_ms = 2000};
    dapr__http_client_t *c = client_new(&cfg);
    const char *env_n = getenv("HTTP_CLIENT_FUZZ_N"), *env_base = getenv("HTTP_CLIENT_FUZZ_BASE");
    int n = env_n ? atoi(env_n) : 300, base = env_base ? atoi(env_base) : 0;
    call_t *k = calloc((size_t)n, sizeof(*k));
    call_t **ks = calloc((size_t)n, sizeof(*ks));
    char(*target)[32] = calloc((size_t)n, sizeof(*target));
    int ok = 0, codes[32] = {0};
    for (int i = 0; i < n; i++) {
        call_init(&k[i]);
        ks[i] = &k[i];
        k[i].pause_every = i % 3 == 0 ? 2 : 0; /* some of them pause too */
        k[i].next_pause = k[i].pause_every;
        snprintf(target[i], sizeof(target[i]), "/fuzz?seed=%d", base + i);
        EXPECT_EQ(call_start(c, &k[i], i % 5 ? "GET" : "POST", target[i], NULL, 0,
                             DAPR__HTTP_BODY_NONE, NULL, 0, 0),
                  0);
    }
    EXPECT(run_calls(ks, (size_t)n, 60000 + (uint64_t)n * 20));
    for (int i = 0; i < n; i++) {
        EXPECT_EQ(k[i].n_end + k[i].n_error, 1);
        EXPECT_EQ(k[i].order_errors, 0);
        if (k[i].n_end)
            ok++;
        else if (-k[i].err < 32)
            codes[-k[i].err]++;
        call_free(&k[i]);
    }
    printf("    %d complete;", ok);
    for (int i = 0; i < 32; i++)
        if (codes[i])
            printf(" %s %d;", dapr_err_name(-i), codes[i]);
    printf("\n");
    free(k);
    free(ks);
    free(target);
    client_close(c);
}

/* Every allocation of a request's life failing in turn (from the client's
 * creation to the response's trailers): the call is refused with
 * DAPR_ENOMEM or ends with exactly one final callback, and nothing leaks
 * (LSan at exit). */
static void t_alloc_failures(void)
{
    const char *paths[] = {"/chunked-trailers", "/ok"};
    for (int p = 0; p < 2; p++) {
        int clean = 0, refused = 0, failed = 0;
        long n;
        for (n = 0; n < 200 && clean < 5; n++) {
            dapr__http_client_config_t cfg = {.loop = loop, .host = "localhost",
                                              .port = peer_port};
            dapr__http_client_t *c = NULL;
            dapr__alloc_fail_after(n);
            int rv = dapr__http_client_create(&c, &cfg);
            if (rv) {
                dapr__alloc_fail_after(-1);
                EXPECT_EQ(rv, DAPR_ENOMEM);
                refused++;
                continue;
            }
            call_t k;
            call_init(&k);
            rv = call_start(c, &k, "POST", paths[p], NULL, 0, DAPR__HTTP_BODY_BUFFER, "body", 4,
                            0);
            if (rv) {
                EXPECT_EQ(rv, DAPR_ENOMEM);
                refused++;
            } else {
                EXPECT(run_until(&k.done, 5000));
                EXPECT_EQ(k.n_end + k.n_error, 1);
                EXPECT_EQ(k.order_errors, 0);
                if (k.n_error) {
                    EXPECT(k.err == DAPR_ENOMEM || k.err == DAPR_EIO || k.err == DAPR_ECLOSED);
                    failed++;
                }
            }
            bool ok = k.n_end == 1 && k.status == 200;
            dapr__alloc_fail_after(-1);
            clean = ok ? clean + 1 : 0;
            call_free(&k);
            client_close(c);
        }
        EXPECT_EQ(clean, 5); /* reached the point where nothing fails any more */
        printf("    %s: %ld allocation points: %d refused, %d failed with a callback\n",
               paths[p], n - 5, refused, failed);
    }
}

static void t_refused(void)
{
    dapr__http_client_config_t cfg = {.host = "127.0.0.1", .port = refused_port};
    dapr__http_client_t *c = client_new(&cfg);
    call_t k;
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "GET", "/", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&k.done, 5000));
    EXPECT_EQ(k.err, DAPR_EUNAVAIL);
    call_free(&k);
    client_close(c);
}

static void t_connect_timeout(void)
{
    if (!blackhole_port) {
        printf("    (skipped: no SYN-dropping port on this kernel)\n");
        return;
    }
    dapr__http_client_config_t cfg = {.host = "127.0.0.1", .port = blackhole_port,
                                      .connect_timeout_ms = 200};
    dapr__http_client_t *c = client_new(&cfg);
    call_t k;
    call_init(&k);
    uint64_t t0 = now_ms();
    EXPECT_EQ(call_start(c, &k, "GET", "/", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&k.done, 5000));
    uint64_t dt = now_ms() - t0;
    EXPECT_EQ(k.err, DAPR_ETIMEDOUT);
    EXPECT(strstr(k.errmsg, "connect to 127.0.0.1"));
    EXPECT(dt >= 190 && dt < 2000);
    call_free(&k);
    client_close(c);
}

static void big_download(bool chunked)
{
    dapr__http_client_t *c = peer_client();
    call_t k;
    call_init(&k);
    k.big = true;
    k.pause_every = 8 * 1024 * 1024; /* a consumer that stops now and then */
    k.next_pause = k.pause_every;
    char target[64];
    snprintf(target, sizeof(target), "/source?n=%llu&chunked=%d", (unsigned long long)BIG,
             chunked);
    EXPECT_EQ(call_start(c, &k, "GET", target, NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&k.done, 120000));
    EXPECT_EQ(k.status, 200);
    EXPECT_EQ(k.n_end, 1);
    EXPECT_EQ(k.body_len, BIG);
    EXPECT_EQ(k.bad_at, 0);
    EXPECT_EQ(k.content_length, chunked ? -1 : (int64_t)BIG);
    EXPECT(k.n_pauses >= 10);
    call_free(&k);
    client_close(c);
}

static void big_upload(bool chunked)
{
    dapr__http_client_t *c = peer_client();
    call_t k;
    call_init(&k);
    EXPECT_EQ(call_start_upload(c, &k, "/sink", BIG, chunked), 0);
    EXPECT(run_until(&k.done, 120000));
    EXPECT_EQ(k.status, 200);
    dapr__buf_cstr(&k.body);
    char want[64];
    snprintf(want, sizeof(want), "n=%llu bad=0", (unsigned long long)BIG);
    EXPECT(k.body.data && !strcmp(k.body.data, want));
    EXPECT(k.up_eagain > 0); /* backpressure happened ... */
    EXPECT(k.up_writable > 0); /* ... and was lifted */
    call_free(&k);
    client_close(c);
}

static void t_download_100mb(void) { big_download(false); }
static void t_download_100mb_chunked(void) { big_download(true); }
static void t_upload_100mb(void) { big_upload(false); }
static void t_upload_100mb_chunked(void) { big_upload(true); }

/* Paused for 500 ms on the first piece of a 100 MB body: if reading went
 * on, the held input would grow with the stream (the memory check after
 * this test catches that). */
static void on_long_resume(uv_timer_t *t)
{
    call_t *k = t->data;
    k->paused = false;
    if (k->r)
        dapr__http_creq_resume(k->r);
}

static void long_pause_body(call_t *k)
{
    if (k->n_pauses == 0 && k->r) {
        k->n_pauses++;
        k->paused = true;
        dapr__http_creq_pause(k->r);
        uv_timer_init(loop, &k->resume_timer);
        k->resume_timer.data = k;
        k->timer_init = true;
        uv_timer_start(&k->resume_timer, on_long_resume, 500, 0);
    }
}

static void t_download_long_pause(void)
{
    dapr__http_client_t *c = peer_client();
    call_t k;
    call_init(&k);
    k.big = true;
    k.on_body_hook = long_pause_body;
    char target[64];
    snprintf(target, sizeof(target), "/source?n=%llu&chunked=0", (unsigned long long)BIG);
    EXPECT_EQ(call_start(c, &k, "GET", target, NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    run_for(250);
    EXPECT(k.paused);
    EXPECT(k.body_len <= 1024 * 1024); /* nothing delivered while paused */
    long kb = vm_hwm_kb();
    EXPECT(run_until(&k.done, 120000));
    EXPECT_EQ(k.body_len, BIG);
    EXPECT_EQ(k.bad_at, 0);
    EXPECT_EQ(k.order_errors, 0);
    printf("    VmHWM while paused: %ld KiB\n", kb);
    call_free(&k);
    client_close(c);
}

static void t_memory_bound(void)
{
    long kb = vm_hwm_kb();
    printf("    VmHWM after 400 MB through the client: %ld KiB\n", kb);
    EXPECT(kb > 0 && kb < HWM_LIMIT_KB);
}

static const test_case_t tests[] = {
    /* the big ones first: VmHWM is checked after them */
    {"download_100mb", t_download_100mb},
    {"download_100mb_chunked", t_download_100mb_chunked},
    {"upload_100mb", t_upload_100mb},
    {"upload_100mb_chunked", t_upload_100mb_chunked},
    {"download_long_pause", t_download_long_pause},
    {"memory_bound", t_memory_bound},
    {"close_mid_body", t_close_mid_body},
    {"close_delimited", t_close_delimited},
    {"chunked_trailers", t_chunked_trailers},
    {"slow_headers_timeout", t_slow_headers},
    {"malformed_and_reset", t_malformed},
    {"interim_1xx_and_204", t_interim_and_204},
    {"stale_pooled_retry", t_stale_retry},
    {"fuzzed_responses", t_fuzzed_responses},
    {"alloc_failures", t_alloc_failures},
    {"refused", t_refused},
    {"connect_timeout", t_connect_timeout},
};

int peer_tests(int argc, char **argv, const char *only)
{
    if (argc < 3) {
        fprintf(stderr, "peer mode needs: PORT REFUSED_PORT [BLACKHOLE_PORT]\n");
        return 1;
    }
    peer_port = atoi(argv[0]);
    refused_port = atoi(argv[1]);
    blackhole_port = atoi(argv[2]);
    return run_tests(tests, sizeof(tests) / sizeof(tests[0]), only);
}
