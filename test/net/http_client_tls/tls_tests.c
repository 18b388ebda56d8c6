/* The HTTP/1.1 client over TLS against test_http_client_tls.py's Python ssl
 * peer: verification (CA, IP and DNS names), keep-alive reuse, big paused
 * downloads and streamed uploads, and every way a session can end early
 * (handshake timeout, cancel and close mid-handshake, server close mid-body,
 * client close with pooled sessions) — ASan/LSan check that each frees its
 * mbedTLS state.
 *
 *   http_client_tls_test PORT NOSAN_PORT STALL_PORT PKI_DIR [TEST]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "harness.h"

#define MB (1024ull * 1024)

static int port, nosan_port, stall_port;
static char *ca_pem, *wrong_pem;

static char *slurp(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    static char buf[64 * 1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return dapr__strdup(buf);
}

static dapr__http_client_t *tls_client(const char *host, int p, const char *ca, uint64_t conn_to)
{
    dapr__tls_client_config_t tls = {.ca_pem = ca};
    dapr__http_client_config_t cfg = {.host = host, .port = p, .tls = &tls,
                                      .connect_timeout_ms = conn_to};
    return client_new(&cfg);
}

/* One GET on c; the caller checks k and frees it. */
static void get(dapr__http_client_t *c, call_t *k, const char *target)
{
    call_init(k);
    EXPECT_EQ(call_start(c, k, "GET", target, NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    if (!run_until(&k->done, 20000)) {
        fprintf(stderr, "    %s: no final callback\n", target);
        failures++;
        dapr__http_client_cancel_all(c);
    }
    EXPECT_EQ(k->order_errors, 0);
}

static void expect_body(call_t *k, const char *text)
{
    dapr__buf_cstr(&k->body);
    if (!k->body.data || strcmp(k->body.data, text)) {
        fprintf(stderr, "    body \"%s\", expected \"%s\" (err %s: %s)\n",
                k->body.data ? k->body.data : "", text, dapr_err_name(k->err), k->errmsg);
        failures++;
    }
}

static void t_ok_and_reuse(void)
{
    dapr__http_client_t *c = tls_client("127.0.0.1", port, ca_pem, 0);
    for (int i = 0; i < 3; i++) {
        call_t k;
        get(c, &k, "/ok");
        EXPECT_EQ(k.status, 200);
        expect_body(&k, "ok");
        call_free(&k);
    }
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.connects, 1);
    EXPECT_EQ(st.reused, 2);
    EXPECT_EQ(st.idle, 1);
    client_close(c); /* with a pooled session */
}

static void t_dns_name(void)
{
    /* "localhost": SNI, checked against the DNS SAN */
    dapr__http_client_t *c = tls_client("localhost", port, ca_pem, 0);
    call_t k;
    get(c, &k, "/ok");
    EXPECT_EQ(k.status, 200);
    call_free(&k);
    client_close(c);
}

static void expect_fail(const char *host, int p, const char *ca, uint64_t conn_to, int code,
                        const char *text)
{
    dapr__http_client_t *c = tls_client(host, p, ca, conn_to);
    call_t k;
    get(c, &k, "/ok");
    EXPECT_EQ(k.n_response, 0);
    EXPECT_EQ(k.err, code);
    if (!strstr(k.errmsg, text)) {
        fprintf(stderr, "    error \"%s\" lacks \"%s\"\n", k.errmsg, text);
        failures++;
    }
    call_free(&k);
    client_close(c);
}

static void t_wrong_ca(void)
{
    expect_fail("127.0.0.1", port, wrong_pem, 0, DAPR_EUNAVAIL,
                "x509 certificate verify failed: The certificate is not correctly signed");
}

static void t_ip_not_in_san(void)
{
    /* signed by the right CA, but for example.com only */
    expect_fail("127.0.0.1", nosan_port, ca_pem, 0, DAPR_EUNAVAIL,
                "x509 certificate verify failed: The certificate Common Name (CN) does not match");
    expect_fail("localhost", nosan_port, ca_pem, 0, DAPR_EUNAVAIL,
                "x509 certificate verify failed");
}

static void t_system_store(void)
{
    /* no rootCA: the system store, which does not know our test CA */
    expect_fail("127.0.0.1", port, NULL, 0, DAPR_EUNAVAIL, "x509 certificate verify failed");
}

static void t_handshake_timeout(void)
{
    uint64_t t0 = now_ms();
    expect_fail("127.0.0.1", stall_port, ca_pem, 300, DAPR_ETIMEDOUT, "TLS handshake with");
    EXPECT(now_ms() - t0 < 3000);
}

static void t_cancel_mid_handshake(void)
{
    dapr__http_client_t *c = tls_client("127.0.0.1", stall_port, ca_pem, 0);
    call_t k;
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "GET", "/ok", NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    run_for(100); /* connected, ClientHello sent, no answer */
    dapr__http_client_stats_t st;
    dapr__http_client_stats(c, &st);
    EXPECT_EQ(st.conns, 1);
    dapr__http_client_cancel_all(c);
    EXPECT(k.done);
    EXPECT_EQ(k.err, DAPR_ECANCELED);
    call_free(&k);
    client_close(c);
}

static void t_close_mid_handshake(void)
{
    /* a request whose handshake never ends, then a hard stop and close in
     * the same turn */
    dapr__http_client_t *c = tls_client("127.0.0.1", stall_port, ca_pem, 0);
    call_t k;
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "POST", "/sink", NULL, 0, DAPR__HTTP_BODY_BUFFER, "abc", 3, 0), 0);
    run_for(50);
    dapr__http_client_cancel_all(c);
    client_close(c);
    EXPECT_EQ(k.err, DAPR_ECANCELED);
    call_free(&k);
}

static void t_paused_download(void)
{
    dapr__http_client_t *c = tls_client("127.0.0.1", port, ca_pem, 0);
    call_t k;
    call_init(&k);
    k.big = true;
    k.pause_every = 256 * 1024;
    char target[64];
    snprintf(target, sizeof(target), "/source?n=%llu", 8 * MB + 7);
    EXPECT_EQ(call_start(c, &k, "GET", target, NULL, 0, DAPR__HTTP_BODY_NONE, NULL, 0, 0), 0);
    EXPECT(run_until(&k.done, 60000));
    EXPECT_EQ(k.status, 200);
    EXPECT_EQ(k.n_end, 1);
    EXPECT_EQ(k.body_len, 8 * MB + 7);
    EXPECT_EQ(k.bad_at, 0);
    EXPECT(k.n_pauses > 10);
    call_free(&k);
    client_close(c);
}

static void t_streamed_upload(void)
{
    dapr__http_client_t *c = tls_client("127.0.0.1", port, ca_pem, 0);
    for (int chunked = 0; chunked < 2; chunked++) {
        call_t k;
        call_init(&k);
        EXPECT_EQ(call_start_upload(c, &k, "/sink", 8 * MB + 3, chunked), 0);
        EXPECT(run_until(&k.done, 60000));
        EXPECT_EQ(k.status, 200);
        char want[64];
        snprintf(want, sizeof(want), "n=%llu bad=0", 8 * MB + 3);
        expect_body(&k, want);
        EXPECT(k.up_eagain > 0); /* the write queue (ciphertext) pushed back */
        call_free(&k);
    }
    /* and a buffered body bigger than one record */
    size_t n = 3 * MB;
    char *body = dapr__malloc(n);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)PATTERN(i);
    call_t k;
    call_init(&k);
    EXPECT_EQ(call_start(c, &k, "POST", "/sink", NULL, 0, DAPR__HTTP_BODY_BUFFER, body, n, 0), 0);
    EXPECT(run_until(&k.done, 60000));
    expect_body(&k, "n=3145728 bad=0");
    call_free(&k);
    dapr__free(body);
    client_close(c);
}

static void t_close_mid_body(void)
{
    dapr__http_client_t *c = tls_client("127.0.0.1", port, ca_pem, 0);
    call_t k;
    get(c, &k, "/close-mid-body");
    EXPECT_EQ(k.status, 200);
    EXPECT_EQ(k.body_len, 100);
    EXPECT_EQ(k.err, DAPR_ECLOSED);
    call_free(&k);
    client_close(c);
}

static void t_bad_config(void)
{
    dapr__http_client_t *c = NULL;
    dapr__tls_client_config_t tls = {.ca_pem = ca_pem, .cert_pem = ca_pem};
    dapr__http_client_config_t cfg = {.loop = loop, .host = "127.0.0.1", .port = port,
                                      .tls = &tls};
    EXPECT_EQ(dapr__http_client_create(&c, &cfg), DAPR_EINVAL); /* cert without key */
    tls = (dapr__tls_client_config_t){.ca_file = "/nonexistent/ca.pem"};
    EXPECT_EQ(dapr__http_client_create(&c, &cfg), DAPR_EINVAL);
    char err[200];
    tls = (dapr__tls_client_config_t){.ca_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n"
                                                "-----END CERTIFICATE-----\n"};
    EXPECT_EQ(dapr__tls_config_check(&tls, err, sizeof(err)), DAPR_EINVAL);
    EXPECT(strstr(err, "rootCA"));
}

static const test_case_t tests[] = {
    {"ok_and_reuse", t_ok_and_reuse},
    {"dns_name", t_dns_name},
    {"wrong_ca", t_wrong_ca},
    {"ip_not_in_san", t_ip_not_in_san},
    {"system_store", t_system_store},
    {"handshake_timeout", t_handshake_timeout},
    {"cancel_mid_handshake", t_cancel_mid_handshake},
    {"close_mid_handshake", t_close_mid_handshake},
    {"paused_download", t_paused_download},
    {"streamed_upload", t_streamed_upload},
    {"close_mid_body", t_close_mid_body},
    {"bad_config", t_bad_config},
};

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
    if (argc < 5) {
        fprintf(stderr, "usage: %s PORT NOSAN_PORT STALL_PORT PKI_DIR [TEST]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    port = atoi(argv[1]);
    nosan_port = atoi(argv[2]);
    stall_port = atoi(argv[3]);
    ca_pem = slurp(argv[4], "ca.crt");
    wrong_pem = slurp(argv[4], "wrongca.crt");
    int failed = run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc > 5 ? argv[5] : NULL);
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
    dapr__free(ca_pem);
    dapr__free(wrong_pem);
    printf("tls: %d failed, %d check(s) failed\n", failed, failures);
    return failed || failures || rc ? 1 : 0;
}
