/* dapr__http_wait_port: poll until a TCP connect to host:port succeeds
 * (daprd waits for the application this way before it says "application
 * discovered on port N").
 *
 * One timer does both jobs: the pause between attempts and the bound on an
 * attempt (a connect to an address that drops SYNs would otherwise hang
 * for the kernel's minutes). "localhost" alternates 127.0.0.1 and ::1;
 * other names are resolved again on every attempt. */
#include "client_int.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

#define DEFAULT_INTERVAL 50
#define MIN_ATTEMPT_MS 1000

struct dapr__http_port_wait {
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_getaddrinfo_t gai;
    char *host;
    int port;
    struct sockaddr_storage addrs[DAPR__HC_MAX_ADDRS];
    unsigned n_addrs, next;
    bool literal;
    uint64_t interval, deadline; /* deadline 0: none */
    dapr__http_port_wait_cb cb;
    void *ud;
    bool done, tcp_open, gai_pending, attempting;
    int handles;
};

static void on_tick(uv_timer_t *t);

static void maybe_free(dapr__http_port_wait_t *w)
{
    if (w->done && !w->handles && !w->gai_pending) {
        dapr__free(w->host);
        dapr__free(w);
    }
}

static void on_closed(uv_handle_t *h);

static void finish(dapr__http_port_wait_t *w, int status)
{
    if (w->done)
        return;
    w->done = true;
    uv_close((uv_handle_t *)&w->timer, on_closed);
    if (w->tcp_open) {
        w->tcp_open = false;
        uv_close((uv_handle_t *)&w->tcp, on_closed);
    }
    if (w->gai_pending)
        uv_cancel((uv_req_t *)&w->gai);
    w->cb(status, w->ud);
}

static uint64_t remaining(const dapr__http_port_wait_t *w)
{
    uint64_t now = uv_now(w->loop);
    return w->deadline > now ? w->deadline - now : 0;
}

/* After a failed attempt: wait interval (less if the deadline is nearer). */
static void schedule_next(dapr__http_port_wait_t *w)
{
    w->attempting = false;
    uint64_t ms = w->interval;
    if (w->deadline) {
        uint64_t left = remaining(w);
        if (!left) {
            finish(w, DAPR_ETIMEDOUT);
            return;
        }
        if (left < ms)
            ms = left;
    }
    uv_timer_start(&w->timer, on_tick, ms, 0);
}

static void on_closed(uv_handle_t *h)
{
    dapr__http_port_wait_t *w = h->data;
    w->handles--;
    if (w->done)
        maybe_free(w);
    else if (h == (uv_handle_t *)&w->tcp)
        schedule_next(w); /* an attempt failed and its socket is closed */
}

static void drop_attempt(dapr__http_port_wait_t *w)
{
    if (!w->tcp_open) {
        schedule_next(w);
        return;
    }
    w->tcp_open = false;
    uv_close((uv_handle_t *)&w->tcp, on_closed);
}

static void on_connect(uv_connect_t *req, int status)
{
    dapr__http_port_wait_t *w = req->data;
    if (!w->tcp_open || w->done)
        return;
    if (status == 0)
        finish(w, 0);
    else
        drop_attempt(w);
}

static void connect_to(dapr__http_port_wait_t *w, const struct sockaddr_storage *ss)
{
    if (uv_tcp_init(w->loop, &w->tcp)) {
        schedule_next(w);
        return;
    }
    w->tcp.data = w;
    w->handles++;
    w->tcp_open = true;
    w->creq.data = w;
    if (uv_tcp_connect(&w->creq, &w->tcp, (const struct sockaddr *)ss, on_connect))
        drop_attempt(w);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    dapr__http_port_wait_t *w = req->data;
    w->gai_pending = false;
    if (w->done) {
        uv_freeaddrinfo(res);
        maybe_free(w);
        return;
    }
    struct addrinfo *ai = res;
    while (ai && ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
        ai = ai->ai_next;
    if (status < 0 || !ai || ai->ai_addrlen > sizeof(struct sockaddr_storage)) {
        uv_freeaddrinfo(res);
        uv_timer_stop(&w->timer);
        schedule_next(w);
        return;
    }
    struct sockaddr_storage ss;
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    uv_freeaddrinfo(res);
    connect_to(w, &ss);
}

static void attempt(dapr__http_port_wait_t *w)
{
    w->attempting = true;
    uint64_t bound = w->interval > MIN_ATTEMPT_MS ? w->interval : MIN_ATTEMPT_MS;
    if (w->deadline && remaining(w) < bound)
        bound = remaining(w);
    uv_timer_start(&w->timer, on_tick, bound ? bound : 1, 0);
    if (w->literal) {
        connect_to(w, &w->addrs[w->next++ % w->n_addrs]);
        return;
    }
    static const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char port[8];
    snprintf(port, sizeof(port), "%d", w->port);
    w->gai.data = w;
    if (uv_getaddrinfo(w->loop, &w->gai, on_resolved, w->host, port, &hints) == 0)
        w->gai_pending = true;
    else
        schedule_next(w);
}

static void on_tick(uv_timer_t *t)
{
    dapr__http_port_wait_t *w = t->data;
    if (w->done)
        return;
    if (w->attempting) {
        /* the attempt took too long: give up on it */
        if (w->gai_pending) {
            /* the resolver is slow: its answer is still needed (the request
             * cannot be reused before it comes), so only the deadline ends it */
            if (w->deadline && !remaining(w))
                finish(w, DAPR_ETIMEDOUT);
            else
                uv_timer_start(&w->timer, on_tick,
                               w->deadline && remaining(w) < MIN_ATTEMPT_MS ? remaining(w)
                                                                            : MIN_ATTEMPT_MS,
                               0);
        } else {
            drop_attempt(w);
        }
        return;
    }
    if (w->deadline && !remaining(w)) {
        finish(w, DAPR_ETIMEDOUT);
        return;
    }
    attempt(w);
}

int dapr__http_wait_port(uv_loop_t *loop, const char *host, int port, uint64_t interval_ms,
                         uint64_t timeout_ms, dapr__http_port_wait_cb cb, void *ud,
                         dapr__http_port_wait_t **out)
{
    if (out)
        *out = NULL;
    if (!loop || !host || !*host || strlen(host) > 255 || port <= 0 || port > 65535 || !cb)
        return DAPR_EINVAL;
    dapr__http_port_wait_t *w = dapr__calloc(1, sizeof(*w));
    if (!w)
        return DAPR_ENOMEM;
    size_t len = strlen(host);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
        w->host = dapr__strndup(host + 1, len - 2);
    else
        w->host = dapr__strdup(host);
    if (!w->host) {
        dapr__free(w);
        return DAPR_ENOMEM;
    }
    w->loop = loop;
    w->port = port;
    w->cb = cb;
    w->ud = ud;
    w->interval = interval_ms ? interval_ms : DEFAULT_INTERVAL;
    w->deadline = timeout_ms ? uv_now(loop) + timeout_ms : 0;
    w->n_addrs = dapr__hc_literal_addrs(w->host, port, w->addrs, DAPR__HC_MAX_ADDRS);
    w->literal = w->n_addrs > 0;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    w->handles = 1;
    uv_timer_start(&w->timer, on_tick, 0, 0); /* the first attempt, off this call */
    if (out)
        *out = w;
    return 0;
}

void dapr__http_wait_port_cancel(dapr__http_port_wait_t *w)
{
    if (w)
        finish(w, DAPR_ECANCELED);
}
