/* Shared by the public wrappers of the building blocks (state_public.c,
 * invoke_public.c, pubsub_public.c, actors_public.c): the checks every
 * public call makes first, and the translation of an API error of the
 * catalogue (core/errors.h) into the dapr_error_t a callback receives. */
#ifndef DAPR_API_PUBLIC_H
#define DAPR_API_PUBLIC_H

#include "core/errors.h"
#include "dapr/common.h"
#include "dapr/runtime.h"

/* 0, DAPR_EINVAL (rt NULL) or DAPR_ESTATE (the runtime is not running). */
int dapr__public_ready(const dapr_runtime_t *rt);

/* The DAPR_E* code that fits a catalogue error. */
int dapr__public_code(const dapr__apierr_t *e);

/* *out as a callback hands it over: code, message and Dapr's errorCode,
 * borrowed from e (which must outlive the use of *out). e NULL (the API
 * could not allocate its error) gives DAPR_ENOMEM. */
void dapr__public_error(const dapr__apierr_t *e, dapr_error_t *out);

#endif
