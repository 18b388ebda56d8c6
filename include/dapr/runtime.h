/*
 * libdapr — the runtime handle: one Dapr runtime living on one uv_loop_t.
 *
 * Options carry daprd's flag names without the dashes ("app-id",
 * "dapr-http-port", "resources-path", ...), so the daemon is a thin loop over
 * argv and an embedder configures the library with the words Dapr's docs use.
 */
#ifndef DAPR_RUNTIME_H
#define DAPR_RUNTIME_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s;

typedef struct dapr_runtime dapr_runtime_t;

/* Create a runtime on `loop` (borrowed; must outlive the runtime). With loop
 * NULL the runtime creates and owns its own loop (see dapr_runtime_loop()).
 * Errors: DAPR_EINVAL (rt NULL), DAPR_ENOMEM. */
DAPR_EXTERN int dapr_runtime_create(dapr_runtime_t **rt, struct uv_loop_s *loop);

/* Destroy a stopped (or never started) runtime. Accepts NULL. A runtime that
 * is still running is stopped abruptly: pending callbacks get DAPR_ECANCELED. */
DAPR_EXTERN void dapr_runtime_destroy(dapr_runtime_t *rt);

DAPR_EXTERN struct uv_loop_s *dapr_runtime_loop(dapr_runtime_t *rt);

/* Set an option by daprd flag name ("app-id", "dapr-http-port", ...; a leading
 * "--" or "-" is accepted, deprecated aliases map to their replacement).
 * `value` is copied; NULL for a boolean flag means "true". Repeatable options
 * (resources-path, config) append. Only before start.
 * Errors: DAPR_ENOTFOUND (unknown option), DAPR_EINVAL (bad value; see
 * dapr_runtime_last_error()), DAPR_ESTATE (already started). */
DAPR_EXTERN int dapr_runtime_set_option(dapr_runtime_t *rt, const char *name, const char *value);

/* Whether `name` is a known boolean option (so "--flag" needs no value). */
DAPR_EXTERN bool dapr_option_is_bool(const char *name);

/* Iterate the option table: index 0.. until it returns DAPR_ENOTFOUND.
 * Pointers are static. `deprecated_for` is NULL unless the option is an alias. */
typedef struct dapr_option_info {
    const char *name;
    const char *def;            /* default in text form, "" if none */
    const char *help;
    const char *deprecated_for; /* the replacement's name, or NULL */
    bool is_bool;
    bool active;                /* the feature behind it is implemented */
} dapr_option_info_t;
DAPR_EXTERN int dapr_option_info(size_t index, dapr_option_info_t *out);

/* Text of the last option or start-up error on this runtime ("" if none). */
DAPR_EXTERN const char *dapr_runtime_last_error(const dapr_runtime_t *rt);

/* Completion of start or stop. status DAPR_OK or DAPR_E*; detail borrowed. */
typedef void (*dapr_runtime_cb)(dapr_runtime_t *rt, int status, const char *detail, void *data);

/* Load resources, initialise components, open the API servers. cb fires once
 * when the runtime is running or has failed to start.
 * Errors: DAPR_ESTATE (already started). */
DAPR_EXTERN int dapr_runtime_start(dapr_runtime_t *rt, dapr_runtime_cb cb, void *data);

/* Graceful stop: stop accepting, finish in-flight requests (bounded by the
 * graceful-shutdown option), close components. cb fires once when done.
 * Errors: DAPR_ESTATE (not running or already stopping). */
DAPR_EXTERN int dapr_runtime_stop(dapr_runtime_t *rt, dapr_runtime_cb cb, void *data);

/* Called when the runtime asks to be shut down (POST /v1.0/shutdown). The
 * default, with no handler set, is to call dapr_runtime_stop(). */
typedef void (*dapr_shutdown_request_cb)(dapr_runtime_t *rt, void *data);
DAPR_EXTERN void dapr_runtime_on_shutdown_request(dapr_runtime_t *rt, dapr_shutdown_request_cb cb,
                                                  void *data);

/* Log a line through the runtime's logger (scope "dapr.runtime" unless given). */
DAPR_EXTERN void dapr_runtime_log(dapr_runtime_t *rt, dapr_log_level_t level, const char *scope,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- Embedding ---------------------------------------------------------
 *
 * Ports: an embedded runtime opens the same servers as daprd. Setting
 * "dapr-http-port", "dapr-grpc-port" or "dapr-internal-grpc-port" to "-1"
 * keeps that server closed (the internal gRPC server is what other sidecars
 * use to reach this app and its actors; close it only for a runtime that
 * serves no one). "app-port" unset plus in-process handlers (invoke.h,
 * pubsub.h, actors.h) makes the embedding program the app. */

/* Add a component as if a resource file declared it. type is Dapr's
 * ("state.redis"), version "v1" when NULL, name the component's name;
 * metadata pairs are copied. Only before start. Errors: DAPR_EINVAL (NULL
 * type/name, bad version), DAPR_EEXIST (name taken by an added component),
 * DAPR_ESTATE (started), DAPR_ENOMEM. An unknown type fails at start, as a
 * YAML resource would. */
DAPR_EXTERN int dapr_runtime_add_component(dapr_runtime_t *rt, const char *type,
                                           const char *version, const char *name,
                                           const dapr_kv_t *metadata, size_t n_metadata);

/* Threads. Every dapr_* function except the three below must be called on
 * the runtime's loop thread. A caller without its own libuv loop creates the
 * runtime with loop NULL and runs that loop on a thread of the library: */

/* Start a thread that runs the runtime's own loop until the runtime is
 * stopped (or failed to start) and its handles are closed, or uv_stop() is
 * called on the loop. dapr_runtime_destroy() of a runtime whose thread still
 * runs ends that thread first (posts not run yet are dropped). Errors:
 * DAPR_EINVAL (the runtime uses a caller's loop), DAPR_ESTATE (thread
 * already running), DAPR_EIO. */
DAPR_EXTERN int dapr_runtime_run_thread(dapr_runtime_t *rt);

/* Run fn(rt, data) on the loop thread, soon; callable from any thread
 * (the one thread-safe call besides join). Calls run in the order posted.
 * Also works for a runtime on a caller's loop while that loop runs.
 * Errors: DAPR_ECLOSED (the runtime is being destroyed, or its loop thread
 * has ended), DAPR_ENOMEM. */
typedef void (*dapr_runtime_fn)(dapr_runtime_t *rt, void *data);
DAPR_EXTERN int dapr_runtime_post(dapr_runtime_t *rt, dapr_runtime_fn fn, void *data);

/* Wait for the loop thread to end (after dapr_runtime_stop's callback).
 * Call from another thread than the loop's. Errors: DAPR_ESTATE (no thread). */
DAPR_EXTERN int dapr_runtime_join_thread(dapr_runtime_t *rt);

/* Version strings: libdapr's own, and the one reported as runtimeVersion. */
DAPR_EXTERN const char *dapr_version(void);
DAPR_EXTERN const char *dapr_runtime_version(void);

#ifdef __cplusplus
}
#endif
#endif
