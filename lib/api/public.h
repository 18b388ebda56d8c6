/* Shared by the public wrappers of the building blocks (state_public.c,
 * invoke_public.c, pubsub_public.c, actors_public.c): the checks every
 * public call makes first, and the translation of an API error of the
 * catalogue (core/errors.h) into the dapr_error_t a callback receives. */
#ifndef DAPR_API_PUBLIC_H
#define DAPR_API_PUBLIC_H

#include "core/errors.h"
#include "core/pool.h"
#include "dapr/common.h"
#include "dapr/runtime.h"
#include "dapr/state.h"

/* One public call in flight: its own pool (the request's scratch memory),
 * the caller's callback (cast back by the completion) and data. */
typedef struct dapr__pcall {
    dapr__pool_t pool;
    void *cb;
    void *data;
} dapr__pcall_t;

/* NULL when out of memory. */
dapr__pcall_t *dapr__pcall_new(void *cb, void *data);
void dapr__pcall_free(dapr__pcall_t *c);
/* The start of every public async call: dapr__public_ready, then a call
 * record in *out. 0, DAPR_EINVAL, DAPR_ESTATE or DAPR_ENOMEM. */
int dapr__pcall_begin(dapr_runtime_t *rt, void *cb, void *data, dapr__pcall_t **out);
/* The API completion of a call whose callback is a dapr_done_cb (or the
 * identical dapr_state_done_cb): hands err over (NULL on success), then
 * frees the call. ud is the dapr__pcall_t. */
void dapr__pcall_done(dapr__apierr_t *err, void *ud);
/* The same for a dapr_state_get_cb: a value (found or not) or the error. */
void dapr__pcall_got(dapr__apierr_t *err, const dapr_state_value_t *val, void *ud);

/* 0, DAPR_EINVAL (rt NULL) or DAPR_ESTATE (the runtime is not running). */
int dapr__public_ready(const dapr_runtime_t *rt);

/* The DAPR_E* code that fits a catalogue error. */
int dapr__public_code(const dapr__apierr_t *e);

/* *out as a callback hands it over: code, message and Dapr's errorCode,
 * borrowed from e (which must outlive the use of *out). e NULL (the API
 * could not allocate its error) gives DAPR_ENOMEM. */
void dapr__public_error(const dapr__apierr_t *e, dapr_error_t *out);

#endif
