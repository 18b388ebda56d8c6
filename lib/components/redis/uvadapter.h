/* A libuv event adapter for hiredis 0.14 async contexts.
 *
 * Replaces hiredis' stock adapters/libuv.h, which ignores the status of the
 * poll callback: when a non-blocking connect is refused, libuv reports
 * status < 0 and stops the handle, so hiredis never learns about the error,
 * its connect callback never fires and the context leaks. This adapter hands
 * such events to hiredis so it reads the socket error itself. */
#ifndef DAPR_COMPONENTS_REDIS_UVADAPTER_H
#define DAPR_COMPONENTS_REDIS_UVADAPTER_H

#include <hiredis/async.h>
#include <uv.h>

/* Called once the adapter's poll handle is closed and its memory released
 * (after hiredis freed the context). `arg` is the one given to attach. */
typedef void (*dapr__redis_uv_closed_cb)(void *arg);

/* Attach `ac` to `loop`: installs the ev hooks and a uv_poll_t on the
 * context's socket. Polling starts with the first command hiredis queues.
 * The handle is closed when hiredis frees the context (ev.cleanup); then
 * `closed` (may be NULL) runs from the uv_close callback.
 * Returns 0, DAPR_EEXIST (already attached), DAPR_ENOMEM or DAPR_EIO (libuv
 * refused the socket); on error nothing is attached and `closed` never runs. */
int dapr__redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop, dapr__redis_uv_closed_cb closed,
                          void *arg);

#endif
