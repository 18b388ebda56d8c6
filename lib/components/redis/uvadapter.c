/* hiredis ⇄ libuv: a uv_poll_t on the context's socket, plus a uv_idle_t
 * that flushes output once per loop turn.
 *
 * Why the idle flush: hiredis asks for write interest after every queued
 * command. Polling for POLLOUT costs an epoll_ctl and a loop turn before the
 * bytes leave, on every request. A connected socket is almost always
 * writable, so we write at the start of the next loop turn instead (all
 * commands queued meanwhile go out in one write) and poll for POLLOUT only
 * while connecting or when the socket buffer is full. An active idle handle
 * also keeps the loop from blocking in poll before the flush. */
#include "uvadapter.h"

#include "core/alloc.h"
#include "dapr/common.h"

typedef struct uvpoll {
    uv_poll_t handle;
    uv_idle_t flush;
    redisAsyncContext *ac; /* NULL once hiredis called cleanup */
    int events;            /* what the poll handle is started with */
    bool want_write;       /* hiredis has output to send */
    bool in_flush;
    int open;              /* handles not yet closed */
    dapr__redis_uv_closed_cb closed;
    void *arg;
} uvpoll_t;

static void on_poll(uv_poll_t *h, int status, int events);

/* Start, change or stop the poll handle; skipped when the set is unchanged. */
static void set_events(uvpoll_t *p, int events)
{
    if (events == p->events)
        return;
    p->events = events;
    if (events)
        uv_poll_start(&p->handle, events, on_poll);
    else
        uv_poll_stop(&p->handle);
}

/* libuv stopped the handle and reports only an error (POLLERR). hiredis
 * finds the cause itself: while connecting, HandleWrite checks SO_ERROR and
 * fires the connect callback; once connected, HandleRead gets the error from
 * read(2) and disconnects. */
static void on_poll_error(uvpoll_t *p)
{
    int wanted = p->events;
    p->events = 0; /* the handle is stopped now */
    if (!(p->ac->c.flags & REDIS_CONNECTED))
        redisAsyncHandleWrite(p->ac);
    else
        redisAsyncHandleRead(p->ac);
    /* The context survived (the error was transient): re-arm what hiredis
     * was waiting for, or it would wait forever. */
    if (p->ac) {
        int now = p->events | wanted;
        p->events = 0;
        set_events(p, now);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    uvpoll_t *p = h->data;
    if (!p->ac)
        return;
    if (status < 0) {
        on_poll_error(p);
        return;
    }
    /* Either call may free the context; cleanup clears p->ac. */
    if (events & UV_WRITABLE)
        redisAsyncHandleWrite(p->ac);
    if (p->ac && (events & UV_READABLE))
        redisAsyncHandleRead(p->ac);
}

static void on_flush(uv_idle_t *h)
{
    uvpoll_t *p = h->data;
    uv_idle_stop(h);
    if (!p->ac || !p->want_write)
        return;
    p->in_flush = true;
    redisAsyncHandleWrite(p->ac); /* calls del_write when all went out */
    p->in_flush = false;
    if (p->ac && p->want_write) /* socket buffer full: wait until writable */
        set_events(p, p->events | UV_WRITABLE);
}

static void add_read(void *arg)
{
    uvpoll_t *p = arg;
    if (p->ac)
        set_events(p, p->events | UV_READABLE);
}

static void del_read(void *arg)
{
    uvpoll_t *p = arg;
    if (p->ac)
        set_events(p, p->events & ~UV_READABLE);
}

static void add_write(void *arg)
{
    uvpoll_t *p = arg;
    if (!p->ac)
        return;
    p->want_write = true;
    if (p->in_flush || (p->events & UV_WRITABLE))
        return;
    if (!(p->ac->c.flags & REDIS_CONNECTED))
        set_events(p, p->events | UV_WRITABLE); /* connect completes on POLLOUT */
    else
        uv_idle_start(&p->flush, on_flush);
}

static void del_write(void *arg)
{
    uvpoll_t *p = arg;
    if (!p->ac)
        return;
    p->want_write = false;
    uv_idle_stop(&p->flush);
    set_events(p, p->events & ~UV_WRITABLE);
}

static void on_closed(uv_handle_t *h)
{
    uvpoll_t *p = h->data;
    if (--p->open)
        return;
    dapr__redis_uv_closed_cb cb = p->closed;
    void *arg = p->arg;
    dapr__free(p);
    if (cb)
        cb(arg);
}

/* hiredis is freeing the context: the socket is closed right after this
 * returns, so stop watching it now and release memory in the close
 * callbacks. */
static void cleanup(void *arg)
{
    uvpoll_t *p = arg;
    if (!p->ac)
        return;
    p->ac->ev.data = NULL;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->handle, on_closed);
    uv_close((uv_handle_t *)&p->flush, on_closed);
}

int dapr__redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop, dapr__redis_uv_closed_cb closed,
                          void *arg)
{
    if (ac->ev.data)
        return DAPR_EEXIST;
    uvpoll_t *p = dapr__calloc(1, sizeof(*p));
    if (!p)
        return DAPR_ENOMEM;
    if (uv_poll_init_socket(loop, &p->handle, ac->c.fd)) {
        dapr__free(p);
        return DAPR_EIO;
    }
    uv_idle_init(loop, &p->flush);
    p->handle.data = p->flush.data = p;
    p->open = 2;
    p->ac = ac;
    p->closed = closed;
    p->arg = arg;
    ac->ev.data = p;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return 0;
}
