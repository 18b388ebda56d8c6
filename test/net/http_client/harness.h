/* Harness of the HTTP/1.1 client tests: one loop, tests run one after the
 * other, each bounded in time (run_until), each ending with its clients
 * closed. A call_t records what a request's callbacks saw and checks their
 * order (on_response before on_body, exactly one final callback). */
#ifndef DAPR_TEST_HTTP_CLIENT_HARNESS_H
#define DAPR_TEST_HTTP_CLIENT_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "http/client.h"

extern uv_loop_t *loop;
extern int failures;

#define EXPECT(cond)                                                                     \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "    %s:%d: expected %s\n", __FILE__, __LINE__, #cond);      \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

#define EXPECT_EQ(a, b)                                                                  \
    do {                                                                                 \
        long long a_ = (long long)(a), b_ = (long long)(b);                              \
        if (a_ != b_) {                                                                  \
            fprintf(stderr, "    %s:%d: expected %s == %s (%lld != %lld)\n", __FILE__,   \
                    __LINE__, #a, #b, a_, b_);                                           \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

/* The byte at offset i of every generated body (a period that does not
 * divide the buffer sizes, so a lost or repeated buffer shows). */
#define PATTERN(i) ((uint8_t)((i) % 251))

typedef struct call call_t;
typedef void (*call_hook)(call_t *k);

struct call {
    dapr__http_creq_t *r;
    /* what was seen */
    int status;
    char reason[64];
    int64_t content_length;
    bool keep_alive;
    size_t n_headers;
    dapr__buf_t hdrs;     /* "name: value\n" per header, as received */
    dapr__buf_t trailers; /* the same for trailers */
    size_t n_trailers;
    dapr__buf_t body; /* kept unless big */
    bool big;         /* do not keep the body, check PATTERN instead */
    uint64_t body_len;
    uint64_t bad_at; /* first offset where PATTERN did not hold, +1; 0 = fine */
    uint32_t fnv;
    int n_response, n_body, n_end, n_error, order_errors;
    int err;
    char errmsg[256];
    bool done;
    /* behaviours */
    uint64_t pause_every; /* pause after this many body bytes, resume 5 ms later */
    uint64_t next_pause;
    int n_pauses;
    bool paused;
    uv_timer_t resume_timer;
    bool timer_init;
    bool cancel_in_body;
    call_hook on_body_hook; /* after each piece */
    call_hook on_done;
    void *user;
    /* streamed upload */
    uint64_t up_total, up_sent;
    int up_eagain, up_writable;
    bool up_ended;
};

/* Run the loop until *flag is set or ms pass; returns *flag. */
bool run_until(const bool *flag, uint64_t ms);
/* Close the harness's own handle (before the final loop check). */
void harness_done(void);
/* Run the loop for ms. */
void run_for(uint64_t ms);
/* Run until every call in ks[0..n) is done. */
bool run_calls(call_t **ks, size_t n, uint64_t ms);

void call_init(call_t *k);
void call_free(call_t *k); /* closes its timer (needs a loop turn) and frees buffers */
extern const dapr__http_creq_cbs_t call_cbs;
/* Start a request; returns dapr__http_client_request's result. */
int call_start(dapr__http_client_t *c, call_t *k, const char *method, const char *target,
               const dapr__http_hdr_t *h, size_t n, dapr__http_body_kind_t kind,
               const void *body, size_t len, int64_t cl);
/* Streamed upload of `total` PATTERN bytes, pushed from on_writable. */
int call_start_upload(dapr__http_client_t *c, call_t *k, const char *target, uint64_t total,
                      bool chunked);
bool call_has_header(const call_t *k, const char *line);

dapr__http_client_t *client_new(const dapr__http_client_config_t *cfg);
/* Graceful close and wait for done; checks that it came. */
void client_close(dapr__http_client_t *c);

uint32_t fnv1a(uint32_t h, const void *p, size_t n);
long vm_hwm_kb(void);
uint64_t now_ms(void);

#define FNV_INIT 2166136261u

/* test registration */
typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case_t;
int run_tests(const test_case_t *t, size_t n, const char *only);

#endif
