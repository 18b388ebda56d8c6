/* One pipelined Redis connection: dial (resolve, connect, AUTH, SELECT,
 * PING), commands with timeouts, EVALSHA with NOSCRIPT fallback, re-dial with
 * backoff, and an asynchronous close.
 *
 * hiredis rules this file leans on (0.14.1, async.c):
 *  - every callback queued with a command is called exactly once: with the
 *    reply, or with NULL when the context is freed;
 *  - redisAsyncFree() inside a reply callback is deferred until the callback
 *    returns; outside callbacks it runs at once; it must never run inside the
 *    connect callback (hiredis keeps using the context afterwards);
 *  - after a failed connect callback, or after the disconnect callback, the
 *    context is freed by hiredis itself.
 * So `c->ac` is cleared before a context is given up, and every hiredis
 * callback first checks that its context is still `c->ac`. */
#include "conn.h"

#include <ctype.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "dapr/common.h"
#include "uvadapter.h"

#define MAX_ADDRS 8
#define DEFAULT_HOST "localhost:6379"
#define DEFAULT_PORT 6379
/* Command records are recycled; these bound what the free list keeps. */
#define FREE_CMDS_MAX 256
#define KEEP_BUF_MAX 16384

typedef enum conn_state {
    ST_RESOLVING = 1,
    ST_CONNECTING, /* TCP connect and handshake in flight */
    ST_READY,
    ST_BACKOFF,    /* waiting to re-dial */
    ST_CLOSING
} conn_state_t;

enum { HS_AUTH = 1, HS_SELECT, HS_SCRIPT, HS_PING };

/* One accepted command, from submission until hiredis lets go of it. */
typedef struct cmd {
    struct cmd *prev, *next; /* pending list (oldest first), or free list */
    dapr__redis_conn_t *conn;
    dapr__redis_cb cb; /* NULL once the owner has been answered */
    void *data;
    uint64_t start;    /* uv_now() at submission */
    bool linked;
    /* EVALSHA only: the formatted command, kept for a NOSCRIPT re-send */
    const dapr__redis_script_t *script;
    dapr__buf_t fmt;
    size_t rest;       /* offset of the arguments following the SHA */
    int nargs;
} cmd_t;

struct dapr__redis_conn {
    uv_loop_t *loop;
    conn_state_t state;
    char *addr;        /* "host:port" as configured, for messages */
    char *host;        /* without brackets or port */
    int port;
    bool numeric;
    char *username, *password;
    int64_t db;
    uint64_t dial_ms, cmd_ms, bo_min, bo_max;
    size_t max_pending;
    const dapr__redis_script_t **scripts;
    size_t n_scripts;
    dapr__redis_event_cb on_event;
    void *event_data;

    redisAsyncContext *ac; /* the live context, NULL when there is none */
    struct sockaddr_storage addrs[MAX_ADDRS];
    size_t n_addrs, next_addr;
    char cur_ip[64];
    uv_getaddrinfo_t gai;
    bool gai_busy;
    uv_timer_t timer;     /* dial timeout, or the backoff before a re-dial */
    uv_timer_t cmd_timer; /* oldest pending command's deadline */
    unsigned failures;    /* consecutive failed dials */
    int open_handles;     /* timers and adapter polls not yet closed */

    cmd_t *head, *tail;   /* pending commands, oldest first */
    size_t n_pending;
    size_t n_inflight;    /* records hiredis still holds */
    cmd_t *free_cmds;
    size_t n_free;
    dapr__buf_t scratch;  /* formatting of plain commands */

    /* why the last context was given up: the status of its NULL replies */
    int drop_code;
    char drop_text[200];
    char last_error[256];

    void (*close_done)(void *data);
    void *close_data;
};

static void start_attempt(dapr__redis_conn_t *c);
static void connect_next(dapr__redis_conn_t *c);

/* ---------------------------------------------------------------------
 * SHA1 (FIPS 180-4), only to name scripts for EVALSHA.
 * ------------------------------------------------------------------- */

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20)
            f = (b & c) | (~b & d), k = 0x5a827999;
        else if (i < 40)
            f = b ^ c ^ d, k = 0x6ed9eba1;
        else if (i < 60)
            f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
        else
            f = b ^ c ^ d, k = 0xca62c1d6;
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

static void sha1_hex(const void *data, size_t len, char out[41])
{
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    const unsigned char *p = data;
    size_t left = len;
    for (; left >= 64; p += 64, left -= 64)
        sha1_block(h, p);
    /* last block(s): the rest, 0x80, zeros, the bit length big-endian */
    unsigned char tail[128] = {0};
    memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tl = left + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
    sha1_block(h, tail);
    if (tl == 128)
        sha1_block(h, tail + 64);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 20; i++) {
        unsigned char byte = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
        out[2 * i] = hex[byte >> 4];
        out[2 * i + 1] = hex[byte & 15];
    }
    out[40] = '\0';
}

void dapr__redis_script_init(dapr__redis_script_t *s, const char *src)
{
    s->src = src;
    s->len = strlen(src);
    sha1_hex(src, s->len, s->sha);
}

/* ---------------------------------------------------------------------
 * RESP formatting: we format ourselves into reused buffers and hand hiredis
 * the bytes, which avoids its per-command sds allocation.
 * ------------------------------------------------------------------- */

static size_t u64_text(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* "<tag><n>\r\n"; room is reserved by the caller */
static void put_len(dapr__buf_t *b, char tag, uint64_t n)
{
    b->data[b->len++] = tag;
    b->len += u64_text(b->data + b->len, n);
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
}

static void put_bulk(dapr__buf_t *b, const char *p, size_t n)
{
    put_len(b, '$', n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
}

/* Worst-case size of a bulk string of n bytes. */
static size_t bulk_size(size_t n) { return n + 26; }

/* Append "*<npre+argc>" and the prefix then the arguments as bulk strings. */
static int format_cmd(dapr__buf_t *b, int npre, const char **pre, const size_t *prelen, int argc,
                      const char **argv, const size_t *argvlen, size_t *rest_off)
{
    size_t need = 32;
    for (int i = 0; i < npre; i++)
        need += bulk_size(prelen[i]);
    for (int i = 0; i < argc; i++) {
        size_t n = argvlen ? argvlen[i] : strlen(argv[i]);
        if (n > SIZE_MAX / 2 - need)
            return DAPR_EINVAL;
        need += bulk_size(n);
    }
    b->oom = 0;
    if (dapr__buf_reserve(b, need))
        return DAPR_ENOMEM;
    put_len(b, '*', (uint64_t)(npre + argc));
    for (int i = 0; i < npre; i++) {
        put_bulk(b, pre[i], prelen[i]);
        if (rest_off && i == 1)
            *rest_off = b->len; /* after EVALSHA <sha> */
    }
    for (int i = 0; i < argc; i++)
        put_bulk(b, argv[i], argvlen ? argvlen[i] : strlen(argv[i]));
    b->data[b->len] = '\0';
    return 0;
}

/* ---------------------------------------------------------------------
 * Command records
 * ------------------------------------------------------------------- */

static cmd_t *cmd_get(dapr__redis_conn_t *c)
{
    cmd_t *r = c->free_cmds;
    if (r) {
        c->free_cmds = r->next;
        c->n_free--;
    } else if (!(r = dapr__calloc(1, sizeof(*r)))) {
        return NULL;
    }
    r->prev = r->next = NULL;
    r->conn = c;
    r->script = NULL;
    r->linked = false;
    r->fmt.len = 0;
    return r;
}

static void cmd_put(dapr__redis_conn_t *c, cmd_t *r)
{
    if (r->fmt.cap > KEEP_BUF_MAX)
        dapr__buf_free(&r->fmt);
    if (c->n_free >= FREE_CMDS_MAX) {
        dapr__buf_free(&r->fmt);
        dapr__free(r);
        return;
    }
    r->next = c->free_cmds;
    c->free_cmds = r;
    c->n_free++;
}

static void link_cmd(dapr__redis_conn_t *c, cmd_t *r)
{
    r->prev = c->tail;
    r->next = NULL;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    r->linked = true;
    c->n_pending++;
}

static void unlink_cmd(dapr__redis_conn_t *c, cmd_t *r)
{
    if (!r->linked)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        c->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        c->tail = r->prev;
    r->prev = r->next = NULL;
    r->linked = false;
    c->n_pending--;
}

/* Answer the owner once; the record itself stays with hiredis. */
static void answer(dapr__redis_conn_t *c, cmd_t *r, const redisReply *reply, int status,
                   const char *text)
{
    dapr__redis_cb cb = r->cb;
    unlink_cmd(c, r);
    r->cb = NULL;
    if (cb)
        cb(reply, status, text, r->data);
}

/* Answer every pending command with the same failure. Robust against
 * callbacks that submit or close: the list is emptied one by one. */
static void fail_pending(dapr__redis_conn_t *c, int status, const char *text)
{
    while (c->head)
        answer(c, c->head, NULL, status, text);
}

/* ---------------------------------------------------------------------
 * Close bookkeeping
 * ------------------------------------------------------------------- */

static void conn_free(dapr__redis_conn_t *c)
{
    while (c->free_cmds) {
        cmd_t *r = c->free_cmds;
        c->free_cmds = r->next;
        dapr__buf_free(&r->fmt);
        dapr__free(r);
    }
    dapr__buf_free(&c->scratch);
    dapr__free(c->addr);
    dapr__free(c->host);
    dapr__free(c->username);
    dapr__free(c->password);
    dapr__free(c->scripts);
    dapr__free(c);
}

/* Finish a close once nothing refers to the connection any more. */
static void maybe_finish(dapr__redis_conn_t *c)
{
    if (c->state != ST_CLOSING || c->open_handles || c->n_inflight || c->gai_busy)
        return;
    void (*done)(void *) = c->close_done;
    void *data = c->close_data;
    conn_free(c);
    if (done)
        done(data);
}

static void cmd_release(dapr__redis_conn_t *c, cmd_t *r)
{
    c->n_inflight--;
    cmd_put(c, r);
    maybe_finish(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    dapr__redis_conn_t *c = h->data;
    c->open_handles--;
    maybe_finish(c);
}

static void on_poll_closed(void *arg)
{
    dapr__redis_conn_t *c = arg;
    c->open_handles--;
    maybe_finish(c);
}

/* ---------------------------------------------------------------------
 * Events and state changes
 * ------------------------------------------------------------------- */

static void emit(dapr__redis_conn_t *c, dapr__redis_event_t ev, const char *detail)
{
    if (c->on_event && c->state != ST_CLOSING)
        c->on_event(c, ev, detail, c->event_data);
}

static uint64_t backoff_ms(dapr__redis_conn_t *c)
{
    uint64_t d = c->bo_min;
    for (unsigned i = 1; i < c->failures && d < c->bo_max; i++)
        d *= 2;
    return d < c->bo_max ? d : c->bo_max;
}

static void on_retry(uv_timer_t *t) { start_attempt(t->data); }

/* Give up the current context (if any) without touching hiredis: the
 * caller frees it, or hiredis is already doing so. */
static redisAsyncContext *take_ac(dapr__redis_conn_t *c)
{
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    return ac;
}

/* A dial attempt failed: remember why, schedule the next one, report. */
static void fail_attempt(dapr__redis_conn_t *c, const char *why)
{
    char msg[sizeof(c->last_error)];
    snprintf(msg, sizeof(msg), "%s", why);
    memcpy(c->last_error, msg, sizeof(msg));
    c->failures++;
    c->state = ST_BACKOFF;
    uv_timer_stop(&c->timer);
    uv_timer_start(&c->timer, on_retry, backoff_ms(c), 0);
    emit(c, DAPR__REDIS_CONNECT_FAILED, c->last_error);
}

/* A ready connection went away (c->ac already taken): NULL replies of the
 * old context get `code`/`text`; re-dial after the shortest backoff. */
static void go_down(dapr__redis_conn_t *c, int code, const char *text)
{
    c->drop_code = code;
    snprintf(c->drop_text, sizeof(c->drop_text), "%s", text);
    snprintf(c->last_error, sizeof(c->last_error), "%s", text);
    c->state = ST_BACKOFF;
    c->failures = 0;
    uv_timer_stop(&c->cmd_timer);
    uv_timer_start(&c->timer, on_retry, c->bo_min, 0);
}

/* hiredis gave up on the ready context (read/write error, EOF). */
static void connection_lost(dapr__redis_conn_t *c, const redisAsyncContext *ac)
{
    char why[200];
    snprintf(why, sizeof(why), "connection to %s lost: %s", c->addr,
             ac->errstr && *ac->errstr ? ac->errstr : "closed");
    take_ac(c);
    go_down(c, DAPR_EUNAVAIL, why);
    emit(c, DAPR__REDIS_DISCONNECTED, c->drop_text);
}

/* "connection refused to 127.0.0.1:6390", or "... to name:6379 (::1)"
 * when the host was a name, into last_error. */
static void dial_error(dapr__redis_conn_t *c, const char *e)
{
    char first = 0;
    if (!e || !*e)
        e = "connect failed";
    first = (char)tolower((unsigned char)e[0]); /* strerror texts are capitalised */
    if (c->numeric)
        snprintf(c->last_error, sizeof(c->last_error), "%c%s to %s", first, e + 1, c->addr);
    else
        snprintf(c->last_error, sizeof(c->last_error), "%c%s to %s (%s)", first, e + 1, c->addr,
                 c->cur_ip);
}

static void become_ready(dapr__redis_conn_t *c)
{
    uv_timer_stop(&c->timer);
    c->state = ST_READY;
    c->failures = 0;
    emit(c, DAPR__REDIS_READY, NULL);
}

/* ---------------------------------------------------------------------
 * hiredis callbacks
 * ------------------------------------------------------------------- */

static bool is_error_reply(const redisReply *r) { return r->type == REDIS_REPLY_ERROR; }

static void on_handshake(redisAsyncContext *ac, void *reply_, void *priv)
{
    dapr__redis_conn_t *c = ac->data;
    redisReply *reply = reply_;
    /* NULL: the context is going away; its connect/disconnect callback or
     * whoever freed it deals with the attempt. */
    if (!reply || ac != c->ac || c->state != ST_CONNECTING)
        return;
    intptr_t step = (intptr_t)priv;
    if (is_error_reply(reply) && step != HS_SCRIPT) {
        static const char *names[] = {"", "AUTH", "SELECT", "SCRIPT LOAD", "PING"};
        char why[256];
        snprintf(why, sizeof(why), "%s failed on %s: %s", names[step], c->addr, reply->str);
        redisAsyncFree(take_ac(c)); /* deferred by hiredis until we return */
        fail_attempt(c, why);
        return;
    }
    if (step == HS_PING)
        become_ready(c);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    dapr__redis_conn_t *c = ac->data;
    if (ac != c->ac || status == REDIS_OK)
        return; /* the handshake, already queued, now goes out */
    /* hiredis frees this context when we return; try the next address */
    dial_error(c, ac->errstr);
    take_ac(c);
    connect_next(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    dapr__redis_conn_t *c = ac->data;
    if (ac != c->ac)
        return; /* a context we gave up ourselves */
    if (c->state == ST_READY) {
        connection_lost(c, ac);
        return;
    }
    char why[256];
    snprintf(why, sizeof(why), "connection to %s closed during handshake: %s", c->addr,
             ac->errstr && *ac->errstr ? ac->errstr : "closed by server");
    take_ac(c);
    fail_attempt(c, why);
}

static bool is_noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && r->len >= 8 && !memcmp(r->str, "NOSCRIPT", 8);
}

static void on_reply(redisAsyncContext *ac, void *reply_, void *priv);

/* The server lost the script: re-send the command as EVAL <source>, reusing
 * every argument after the SHA as formatted. */
static int resend_as_eval(dapr__redis_conn_t *c, redisAsyncContext *ac, cmd_t *r)
{
    const dapr__redis_script_t *s = r->script;
    dapr__buf_t b = DAPR__BUF_INIT;
    size_t rest = r->fmt.len - r->rest;
    r->script = NULL;
    if (dapr__buf_reserve(&b, 64 + s->len + rest))
        return DAPR_ENOMEM;
    put_len(&b, '*', (uint64_t)r->nargs);
    put_bulk(&b, "EVAL", 4);
    put_bulk(&b, s->src, s->len);
    memcpy(b.data + b.len, r->fmt.data + r->rest, rest);
    b.len += rest;
    dapr__buf_free(&r->fmt);
    r->fmt = b;
    if (redisAsyncFormattedCommand(ac, on_reply, r, r->fmt.data, r->fmt.len) != REDIS_OK)
        return DAPR_EUNAVAIL;
    return 0;
}

static void on_reply(redisAsyncContext *ac, void *reply_, void *priv)
{
    cmd_t *r = priv;
    dapr__redis_conn_t *c = r->conn;
    const redisReply *reply = reply_;
    if (r->cb && reply && r->script && is_noscript(reply) && ac == c->ac &&
        resend_as_eval(c, ac, r) == 0)
        return; /* the record rides on with the EVAL */
    if (r->cb && !reply && ac == c->ac)
        connection_lost(c, ac); /* may close, which answers r */
    if (r->cb) {
        if (reply)
            answer(c, r, reply, is_error_reply(reply) ? DAPR_EBACKEND : DAPR_OK,
                   is_error_reply(reply) ? reply->str : NULL);
        else if (c->state == ST_CLOSING)
            answer(c, r, NULL, DAPR_ECLOSED, "redis connection closed");
        else
            answer(c, r, NULL, c->drop_code, c->drop_text);
    }
    cmd_release(c, r);
}

/* ---------------------------------------------------------------------
 * Dialling
 * ------------------------------------------------------------------- */

static int queue_handshake(dapr__redis_conn_t *c, redisAsyncContext *ac)
{
    int rc = REDIS_OK;
    if (c->password && *c->password) {
        bool user = c->username && *c->username;
        const char *argv[3] = {"AUTH", user ? c->username : c->password, c->password};
        rc = redisAsyncCommandArgv(ac, on_handshake, (void *)(intptr_t)HS_AUTH, user ? 3 : 2,
                                   argv, NULL);
    }
    if (rc == REDIS_OK && c->db) {
        char db[24];
        snprintf(db, sizeof(db), "%lld", (long long)c->db);
        const char *argv[2] = {"SELECT", db};
        rc = redisAsyncCommandArgv(ac, on_handshake, (void *)(intptr_t)HS_SELECT, 2, argv, NULL);
    }
    for (size_t i = 0; rc == REDIS_OK && i < c->n_scripts; i++) {
        const char *argv[3] = {"SCRIPT", "LOAD", c->scripts[i]->src};
        size_t argvlen[3] = {6, 4, c->scripts[i]->len};
        rc = redisAsyncCommandArgv(ac, on_handshake, (void *)(intptr_t)HS_SCRIPT, 3, argv,
                                   argvlen);
    }
    if (rc == REDIS_OK) {
        const char *argv[1] = {"PING"};
        rc = redisAsyncCommandArgv(ac, on_handshake, (void *)(intptr_t)HS_PING, 1, argv, NULL);
    }
    return rc == REDIS_OK ? 0 : DAPR_ENOMEM;
}

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    if (ss->ss_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)ss, out, outlen);
    else
        uv_ip4_name((const struct sockaddr_in *)ss, out, outlen);
}

/* Open a context to one address; the handshake is queued right away so it
 * is the first thing written once the socket connects. */
static int dial_one(dapr__redis_conn_t *c, const char *ip)
{
    redisAsyncContext *ac = redisAsyncConnect(ip, c->port);
    if (!ac) {
        snprintf(c->last_error, sizeof(c->last_error), "out of memory connecting to %s", c->addr);
        return DAPR_ENOMEM;
    }
    if (ac->err) {
        dial_error(c, ac->errstr);
        redisAsyncFree(ac);
        return DAPR_EIO;
    }
    if (dapr__redis_uv_attach(ac, c->loop, on_poll_closed, c)) {
        snprintf(c->last_error, sizeof(c->last_error), "cannot watch the socket to %s", c->addr);
        redisAsyncFree(ac);
        return DAPR_EIO;
    }
    c->open_handles++;
    ac->data = c;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    c->state = ST_CONNECTING;
    if (queue_handshake(c, ac)) {
        snprintf(c->last_error, sizeof(c->last_error), "out of memory connecting to %s", c->addr);
        redisAsyncFree(take_ac(c));
        return DAPR_ENOMEM;
    }
    return 0;
}

/* Try the remaining resolved addresses in order, like Go's dialer. */
static void connect_next(dapr__redis_conn_t *c)
{
    while (c->next_addr < c->n_addrs) {
        addr_text(&c->addrs[c->next_addr++], c->cur_ip, sizeof(c->cur_ip));
        if (!dial_one(c, c->cur_ip))
            return;
    }
    fail_attempt(c, c->last_error[0] ? c->last_error : "no address to connect to");
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    dapr__redis_conn_t *c = req->data;
    c->gai_busy = false;
    if (c->state != ST_RESOLVING) { /* closed, or the dial timed out */
        uv_freeaddrinfo(res);
        maybe_finish(c);
        return;
    }
    c->n_addrs = c->next_addr = 0;
    for (struct addrinfo *a = res; a && c->n_addrs < MAX_ADDRS; a = a->ai_next) {
        if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
            continue;
        memcpy(&c->addrs[c->n_addrs++], a->ai_addr, a->ai_addrlen);
    }
    uv_freeaddrinfo(res);
    if (status || !c->n_addrs) {
        char why[256];
        snprintf(why, sizeof(why), "cannot resolve %s: %s", c->host,
                 status ? uv_strerror(status) : "no address");
        fail_attempt(c, why);
        return;
    }
    c->last_error[0] = '\0';
    connect_next(c);
}

static void on_dial_timeout(uv_timer_t *t)
{
    dapr__redis_conn_t *c = t->data;
    char why[256];
    snprintf(why, sizeof(why), "dial timeout after %llums %s %s",
             (unsigned long long)c->dial_ms,
             c->state == ST_RESOLVING ? "resolving" : "connecting to", c->addr);
    if (c->ac)
        redisAsyncFree(take_ac(c)); /* not inside a hiredis callback here */
    fail_attempt(c, why);
}

static void start_attempt(dapr__redis_conn_t *c)
{
    c->state = ST_RESOLVING;
    uv_timer_start(&c->timer, on_dial_timeout, c->dial_ms, 0);
    if (c->numeric) {
        c->next_addr = 0;
        c->last_error[0] = '\0';
        connect_next(c);
        return;
    }
    if (c->gai_busy)
        return; /* a late lookup is still out: its answer serves this attempt */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->gai.data = c;
    int rc = uv_getaddrinfo(c->loop, &c->gai, on_resolved, c->host, NULL, &hints);
    if (rc) {
        char why[256];
        snprintf(why, sizeof(why), "cannot resolve %s: %s", c->host, uv_strerror(rc));
        fail_attempt(c, why);
        return;
    }
    c->gai_busy = true;
}

/* ---------------------------------------------------------------------
 * Command timeouts
 * ------------------------------------------------------------------- */

static void on_cmd_timer(uv_timer_t *t)
{
    dapr__redis_conn_t *c = t->data;
    if (!c->head || c->state != ST_READY)
        return;
    uint64_t age = uv_now(c->loop) - c->head->start;
    if (age < c->cmd_ms) {
        uv_timer_start(t, on_cmd_timer, c->cmd_ms - age, 0);
        return;
    }
    /* Replies come in order, so nothing behind a stuck command can arrive:
     * give up the connection; its NULL replies carry the timeout. */
    char why[200];
    snprintf(why, sizeof(why), "command timed out after %llums on %s",
             (unsigned long long)c->cmd_ms, c->addr);
    redisAsyncContext *ac = take_ac(c);
    go_down(c, DAPR_ETIMEDOUT, why);
    redisAsyncFree(ac);
    emit(c, DAPR__REDIS_DISCONNECTED, c->drop_text);
}

/* ---------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------- */

static int set_addr(struct sockaddr_storage *ss, const char *host, int port)
{
    memset(ss, 0, sizeof(*ss));
    if (!uv_ip4_addr(host, port, (struct sockaddr_in *)ss))
        return 0;
    if (!uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss))
        return 0;
    return -1;
}

/* "host:port", "[v6]:port", "host", "v6". */
static int parse_host(dapr__redis_conn_t *c, const char *s, char *err, size_t errlen)
{
    const char *host = s, *port = NULL;
    size_t hl = strlen(s);
    if (strchr(s, ',') || strstr(s, "://")) {
        snprintf(err, errlen, "redisHost \"%s\": expected host:port", s);
        return DAPR_EINVAL;
    }
    if (*s == '[') {
        const char *e = strchr(s, ']');
        if (!e || (e[1] && e[1] != ':')) {
            snprintf(err, errlen, "redisHost \"%s\": bad IPv6 address", s);
            return DAPR_EINVAL;
        }
        host = s + 1;
        hl = (size_t)(e - host);
        port = e[1] ? e + 2 : NULL;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon && colon == strchr(s, ':')) { /* exactly one colon */
            hl = (size_t)(colon - s);
            port = colon + 1;
        }
    }
    long p = DEFAULT_PORT;
    if (port) {
        char *end;
        p = strtol(port, &end, 10);
        if (!*port || *end || p < 1 || p > 65535) {
            snprintf(err, errlen, "redisHost \"%s\": bad port", s);
            return DAPR_EINVAL;
        }
    }
    if (!hl) {
        snprintf(err, errlen, "redisHost \"%s\": missing host", s);
        return DAPR_EINVAL;
    }
    if (!(c->host = dapr__strndup(host, hl)))
        return DAPR_ENOMEM;
    c->port = (int)p;
    /* canonical "host:port" for messages, even when the port was implied */
    dapr__buf_t a = DAPR__BUF_INIT;
    bool v6 = strchr(c->host, ':') != NULL;
    dapr__buf_printf(&a, "%s%s%s:%d", v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
    if (a.oom)
        return DAPR_ENOMEM;
    c->addr = dapr__buf_steal(&a, NULL);
    c->numeric = !set_addr(&c->addrs[0], c->host, c->port);
    c->n_addrs = c->numeric ? 1 : 0;
    return 0;
}

static char *dup_opt(const char *s) { return s && *s ? dapr__strdup(s) : NULL; }

static void apply_opts(dapr__redis_conn_t *c, const dapr__redis_opts_t *o)
{
    c->db = o->db;
    c->dial_ms = o->dial_timeout_ms > 0 ? (uint64_t)o->dial_timeout_ms : 5000;
    c->cmd_ms = o->cmd_timeout_ms == 0 ? 3000
              : o->cmd_timeout_ms < 0  ? 0
                                       : (uint64_t)o->cmd_timeout_ms;
    c->bo_min = o->backoff_min_ms > 0 ? (uint64_t)o->backoff_min_ms : 100;
    c->bo_max = o->backoff_max_ms > 0 ? (uint64_t)o->backoff_max_ms : 5000;
    if (c->bo_max < c->bo_min)
        c->bo_max = c->bo_min;
    c->max_pending = o->max_pending ? o->max_pending : 100000;
    c->on_event = o->on_event;
    c->event_data = o->event_data;
}

int dapr__redis_conn_new(dapr__redis_conn_t **out, uv_loop_t *loop, const dapr__redis_opts_t *o,
                         char *err, size_t errlen)
{
    *out = NULL;
    dapr__redis_conn_t *c = dapr__calloc(1, sizeof(*c));
    if (!c)
        return DAPR_ENOMEM;
    c->loop = loop;
    apply_opts(c, o);
    int rc = parse_host(c, o->host && *o->host ? o->host : DEFAULT_HOST, err, errlen);
    if (!rc && ((o->username && *o->username && !(c->username = dup_opt(o->username))) ||
                (o->password && *o->password && !(c->password = dup_opt(o->password)))))
        rc = DAPR_ENOMEM;
    if (!rc && o->n_scripts) {
        if (!(c->scripts = dapr__calloc(o->n_scripts, sizeof(*c->scripts))))
            rc = DAPR_ENOMEM;
        else
            memcpy(c->scripts, o->scripts, o->n_scripts * sizeof(*c->scripts));
        c->n_scripts = rc ? 0 : o->n_scripts;
    }
    if (rc) {
        if (rc == DAPR_ENOMEM)
            snprintf(err, errlen, "out of memory");
        conn_free(c);
        return rc;
    }
    uv_timer_init(loop, &c->timer);
    uv_timer_init(loop, &c->cmd_timer);
    c->timer.data = c->cmd_timer.data = c;
    c->open_handles = 2;
    *out = c;
    start_attempt(c);
    return 0;
}

void dapr__redis_conn_close(dapr__redis_conn_t *c, void (*done)(void *data), void *data)
{
    if (c->state == ST_CLOSING)
        return;
    c->state = ST_CLOSING;
    c->close_done = done;
    c->close_data = data;
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->cmd_timer, on_handle_closed);
    if (c->gai_busy)
        uv_cancel((uv_req_t *)&c->gai); /* its callback still runs */
    fail_pending(c, DAPR_ECLOSED, "redis connection closed");
    if (c->ac)
        redisAsyncFree(take_ac(c)); /* NULL replies now find nobody waiting */
    /* timers close asynchronously: maybe_finish runs from their callbacks */
}

bool dapr__redis_conn_ready(const dapr__redis_conn_t *c) { return c->state == ST_READY; }

const char *dapr__redis_conn_last_error(const dapr__redis_conn_t *c) { return c->last_error; }

const char *dapr__redis_conn_addr(const dapr__redis_conn_t *c) { return c->addr; }

static int can_submit(const dapr__redis_conn_t *c)
{
    if (c->state == ST_CLOSING)
        return DAPR_ECLOSED;
    if (c->state != ST_READY || !c->ac)
        return DAPR_EUNAVAIL;
    if (c->n_pending >= c->max_pending)
        return DAPR_EAGAIN;
    return 0;
}

/* Hand a formatted command to hiredis and track it. */
static int submit(dapr__redis_conn_t *c, cmd_t *r, const char *bytes, size_t len)
{
    if (redisAsyncFormattedCommand(c->ac, on_reply, r, bytes, len) != REDIS_OK) {
        cmd_put(c, r);
        return DAPR_EUNAVAIL;
    }
    r->start = uv_now(c->loop);
    c->n_inflight++;
    link_cmd(c, r);
    if (c->cmd_ms && !uv_is_active((uv_handle_t *)&c->cmd_timer))
        uv_timer_start(&c->cmd_timer, on_cmd_timer, c->cmd_ms, 0);
    return 0;
}

int dapr__redis_cmd(dapr__redis_conn_t *c, dapr__redis_cb cb, void *data, int argc,
                    const char **argv, const size_t *argvlen)
{
    int rc = can_submit(c);
    if (rc)
        return rc;
    if (argc < 1 || !cb)
        return DAPR_EINVAL;
    c->scratch.len = 0;
    if ((rc = format_cmd(&c->scratch, 0, NULL, NULL, argc, argv, argvlen, NULL)))
        return rc;
    cmd_t *r = cmd_get(c);
    if (!r)
        return DAPR_ENOMEM;
    r->cb = cb;
    r->data = data;
    return submit(c, r, c->scratch.data, c->scratch.len);
}

int dapr__redis_evalsha(dapr__redis_conn_t *c, const dapr__redis_script_t *s, dapr__redis_cb cb,
                        void *data, int nkeys, int argc, const char **argv,
                        const size_t *argvlen)
{
    int rc = can_submit(c);
    if (rc)
        return rc;
    if (!cb || nkeys < 0 || nkeys > argc)
        return DAPR_EINVAL;
    char nk[24];
    const char *pre[3] = {"EVALSHA", s->sha, nk};
    size_t prelen[3] = {7, 40, u64_text(nk, (uint64_t)nkeys)};
    cmd_t *r = cmd_get(c);
    if (!r)
        return DAPR_ENOMEM;
    if ((rc = format_cmd(&r->fmt, 3, pre, prelen, argc, argv, argvlen, &r->rest))) {
        cmd_put(c, r);
        return rc;
    }
    r->cb = cb;
    r->data = data;
    r->script = s;
    r->nargs = 3 + argc;
    return submit(c, r, r->fmt.data, r->fmt.len);
}
