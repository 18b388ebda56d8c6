/* Embedding support of the runtime handle (runtime.h "Embedding"):
 * components added by the program (dapr_runtime_add_component), the loop
 * thread of dapr_runtime_run_thread and the cross-thread queue of
 * dapr_runtime_post. One per runtime, rt->embed. */
#ifndef DAPR_RUNTIME_EMBED_H
#define DAPR_RUNTIME_EMBED_H

#include "components/resources.h"
#include "dapr/runtime.h"

typedef struct dapr__embed dapr__embed_t;

/* At create, on the loop's thread: the post queue's async handle (unref'd,
 * so it keeps no loop alive by itself). DAPR_ENOMEM, DAPR_EIO. */
int dapr__embed_init(dapr_runtime_t *rt);
/* Move the added components to the end of res (they then load exactly as
 * YAML resources). DAPR_ENOMEM. */
int dapr__embed_take_components(dapr_runtime_t *rt, dapr__resources_t *res);
/* The runtime stopped (or failed to start): the loop thread may end once
 * its handles are closed. */
void dapr__embed_stopped(dapr_runtime_t *rt);
/* Destroy, first step: refuse further posts, stop and join a loop thread
 * still running, close the async handle (rt->pending_closes counts it). */
void dapr__embed_shutdown(dapr_runtime_t *rt);
/* Destroy, last step (the loop has run the close): free everything. */
void dapr__embed_free(dapr_runtime_t *rt);

#endif
