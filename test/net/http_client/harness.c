/* Harness of the HTTP/1.1 client tests; see harness.h. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

uv_loop_t *loop;
int failures;
static uv_timer_t guard;
static bool guard_init;

static void on_guard(uv_timer_t *t) {}

void harness_done(void)
{
    if (guard_init)
        uv_close((uv_handle_t *)&guard, NULL);
    guard_init = false;
}

bool run_until(const bool *flag, uint64_t ms)
{
    if (!guard_init) {
        uv_timer_init(loop, &guard);
        guard_init = true;
    }
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + ms;
    uv_timer_start(&guard, on_guard, 5, 5); /* the loop never sleeps past a check */
    while (!*flag && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&guard);
    return *flag;
}

void run_for(uint64_t ms)
{
    static const bool never = false;
    run_until(&never, ms);
}

bool run_calls(call_t **ks, size_t n, uint64_t ms)
{
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + ms;
    for (size_t i = 0; i < n; i++) {
        uint64_t now = uv_now(loop);
        if (!run_until(&ks[i]->done, end > now ? end - now : 0))
            return false;
    }
    return true;
}

uint64_t now_ms(void)
{
    uv_update_time(loop);
    return uv_now(loop);
}

uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    return h;
}

long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmHWM:", 6))
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* ---------------------------------------------------------------------
 * Calls
 * ------------------------------------------------------------------- */

void call_init(call_t *k)
{
    memset(k, 0, sizeof(*k));
    k->fnv = FNV_INIT;
    k->status = -1;
    k->content_length = -2;
}

static void on_timer_closed(uv_handle_t *h) {}

void call_free(call_t *k)
{
    dapr__buf_free(&k->hdrs);
    dapr__buf_free(&k->trailers);
    dapr__buf_free(&k->body);
    if (k->timer_init) {
        uv_close((uv_handle_t *)&k->resume_timer, on_timer_closed);
        k->timer_init = false;
        run_for(1);
    }
}

static void finish(call_t *k)
{
    if (k->n_end + k->n_error > 1)
        k->order_errors++;
    k->done = true;
    k->r = NULL;
    if (k->on_done)
        k->on_done(k);
}

static void on_response(dapr__http_creq_t *r, const dapr__http_cresp_t *resp, void *ud)
{
    call_t *k = ud;
    if (k->n_response || k->n_end || k->n_error)
        k->order_errors++;
    k->n_response++;
    k->status = resp->status;
    snprintf(k->reason, sizeof(k->reason), "%s", resp->reason);
    k->content_length = resp->content_length;
    k->keep_alive = resp->keep_alive;
    k->n_headers = resp->n_headers;
    for (size_t i = 0; i < resp->n_headers; i++)
        dapr__buf_printf(&k->hdrs, "%s: %s\n", resp->headers[i].name, resp->headers[i].value);
}

static void on_resume(uv_timer_t *t)
{
    call_t *k = t->data;
    k->paused = false;
    if (k->r)
        dapr__http_creq_resume(k->r);
}

static void on_body(dapr__http_creq_t *r, const void *data, size_t len, void *ud)
{
    call_t *k = ud;
    if (!k->n_response || k->n_end || k->n_error || k->paused)
        k->order_errors++;
    k->n_body++;
    const uint8_t *p = data;
    if (k->big) {
        for (size_t i = 0; i < len && !k->bad_at; i++)
            if (p[i] != PATTERN(k->body_len + i))
                k->bad_at = k->body_len + i + 1;
    } else {
        dapr__buf_append(&k->body, data, len);
    }
    k->fnv = fnv1a(k->fnv, data, len);
    k->body_len += len;
    if (k->cancel_in_body) {
        dapr__http_creq_cancel(r); /* on_error runs inside */
        return;
    }
    if (k->on_body_hook)
        k->on_body_hook(k);
    if (k->pause_every && k->body_len >= k->next_pause) {
        k->next_pause = k->body_len + k->pause_every;
        k->n_pauses++;
        k->paused = true;
        dapr__http_creq_pause(r);
        if (!k->timer_init) {
            uv_timer_init(loop, &k->resume_timer);
            k->resume_timer.data = k;
            k->timer_init = true;
        }
        uv_timer_start(&k->resume_timer, on_resume, 5, 0);
    }
}

static void on_end(dapr__http_creq_t *r, const dapr__http_hdr_t *tr, size_t n, void *ud)
{
    call_t *k = ud;
    if (!k->n_response)
        k->order_errors++;
    k->n_end++;
    k->n_trailers = n;
    for (size_t i = 0; i < n; i++)
        dapr__buf_printf(&k->trailers, "%s: %s\n", tr[i].name, tr[i].value);
    finish(k);
}

static void on_error(dapr__http_creq_t *r, const dapr_error_t *e, void *ud)
{
    call_t *k = ud;
    k->n_error++;
    k->err = e->code;
    snprintf(k->errmsg, sizeof(k->errmsg), "%s", e->message);
    finish(k);
}

/* ---- streamed upload ---- */

static void upload_push(call_t *k)
{
    static uint8_t buf[64 * 1024 + 251];
    static bool buf_init;
    if (!buf_init) {
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = PATTERN(i);
        buf_init = true;
    }
    while (k->r && k->up_sent < k->up_total) {
        uint64_t left = k->up_total - k->up_sent;
        size_t n = left < 64 * 1024 ? (size_t)left : 64 * 1024;
        int rv = dapr__http_creq_write(k->r, buf + k->up_sent % 251, n);
        if (rv == DAPR_EAGAIN) {
            k->up_eagain++;
            return; /* on_writable comes back here */
        }
        if (rv) {
            fprintf(stderr, "    upload write: %s\n", dapr_err_name(rv));
            failures++;
            return;
        }
        k->up_sent += n;
    }
    if (k->r && !k->up_ended) {
        k->up_ended = true;
        int rv = dapr__http_creq_end(k->r);
        if (rv) {
            fprintf(stderr, "    upload end: %s\n", dapr_err_name(rv));
            failures++;
        }
    }
}

static void on_writable(dapr__http_creq_t *r, void *ud)
{
    call_t *k = ud;
    k->up_writable++;
    if (k->n_end || k->n_error)
        k->order_errors++;
    upload_push(k);
}

const dapr__http_creq_cbs_t call_cbs = {on_response, on_body, on_end, on_error, on_writable};

int call_start(dapr__http_client_t *c, call_t *k, const char *method, const char *target,
               const dapr__http_hdr_t *h, size_t n, dapr__http_body_kind_t kind,
               const void *body, size_t len, int64_t cl)
{
    dapr__http_creq_opts_t o = {
        .method = method,
        .target = target,
        .headers = h,
        .n_headers = n,
        .body_kind = kind,
        .body = body,
        .body_len = len,
        .content_length = cl,
        .cbs = call_cbs,
        .ud = k,
    };
    return dapr__http_client_request(c, &o, &k->r);
}

int call_start_upload(dapr__http_client_t *c, call_t *k, const char *target, uint64_t total,
                      bool chunked)
{
    k->up_total = total;
    int rv = call_start(c, k, "POST", target, NULL, 0, DAPR__HTTP_BODY_STREAM, NULL, 0,
                        chunked ? -1 : (int64_t)total);
    if (!rv)
        upload_push(k); /* what fits is held until the connection is up */
    return rv;
}

bool call_has_header(const call_t *k, const char *line)
{
    if (!k->hdrs.data)
        return false;
    size_t n = strlen(line);
    for (const char *p = k->hdrs.data; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, line, n) && p[n] == '\n')
            return true;
    return false;
}

/* ---------------------------------------------------------------------
 * Clients, tests
 * ------------------------------------------------------------------- */

dapr__http_client_t *client_new(const dapr__http_client_config_t *cfg)
{
    dapr__http_client_config_t c = *cfg;
    c.loop = loop;
    dapr__http_client_t *cl = NULL;
    int rv = dapr__http_client_create(&cl, &c);
    if (rv) {
        fprintf(stderr, "    client create: %s\n", dapr_err_name(rv));
        failures++;
        exit(1);
    }
    return cl;
}

static void on_client_closed(void *ud) { *(bool *)ud = true; }

void client_close(dapr__http_client_t *c)
{
    bool closed = false;
    dapr__http_client_close(c, on_client_closed, &closed);
    if (!run_until(&closed, 10000)) {
        fprintf(stderr, "    client close did not finish\n");
        failures++;
    }
}

int run_tests(const test_case_t *t, size_t n, const char *only)
{
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(only, t[i].name))
            continue;
        int before = failures;
        uint64_t t0 = now_ms();
        t[i].fn();
        uint64_t dt = now_ms() - t0;
        if (failures != before) {
            failed++;
            printf("FAIL %s\n", t[i].name);
        } else {
            printf("PASS %-34s %4llu ms\n", t[i].name, (unsigned long long)dt);
        }
        fflush(stdout);
    }
    return failed;
}
