/* A relay between a server call (downstream: the caller) and a client call
 * (upstream: the target), the body of daprd's gRPC proxy (spec grpc-api.md
 * §3). Messages are opaque bytes, forwarded one by one in both directions
 * as they complete; the caller's half-close goes upstream once every
 * message before it did; the target's response headers, messages, status,
 * message, grpc-status-details-bin and trailer metadata come back as
 * received; a caller that goes away (RST_STREAM, deadline, connection
 * lost) cancels the upstream call.
 *
 * Flow control, both ways: a message the far side cannot take yet
 * (DAPR_EAGAIN) waits in the relay, and while anything waits the side it
 * came from is paused (dapr__grpc_call_pause_recv / ccall_pause_recv), so
 * at most one HTTP/2 stream window (1 MiB) plus the message being
 * reassembled is held per direction. Before the upstream call exists
 * (name resolution) the caller is paused the same way.
 */
#ifndef DAPR_GRPC_RELAY_H
#define DAPR_GRPC_RELAY_H

#include "grpc.h"

typedef struct dapr__grpc_relay dapr__grpc_relay_t;

/* Take over `call`, from its method's on_start: the call's user slot
 * becomes the relay and receiving is paused. The method row must send
 * on_message, on_half_close, on_cancel and on_writable to the functions
 * below. Exactly one dapr__grpc_relay_connect or dapr__grpc_relay_fail
 * must follow (now or from a later callback), also after the caller went
 * away. NULL on OOM (the call is untouched: finish it). */
dapr__grpc_relay_t *dapr__grpc_relay_new(dapr__grpc_call_t *call);
/* The caller is still there (false once it cancelled). */
bool dapr__grpc_relay_alive(const dapr__grpc_relay_t *r);
/* Start the upstream call: `path`, md (copied) and timeout_ms (0: none)
 * as dapr__grpc_call_start takes them. If it cannot start, the caller gets
 * UNAVAILABLE naming the reason. */
void dapr__grpc_relay_connect(dapr__grpc_relay_t *r, dapr__grpc_channel_t *ch, const char *path,
                              const dapr__grpc_md_t *md, size_t n_md, uint64_t timeout_ms);
/* End the caller's call with this status instead of connecting. */
void dapr__grpc_relay_fail(dapr__grpc_relay_t *r, int status, const char *message);

/* The method row's callbacks. */
void dapr__grpc_relay_on_message(dapr__grpc_call_t *call, const uint8_t *msg, size_t len);
void dapr__grpc_relay_on_half_close(dapr__grpc_call_t *call);
void dapr__grpc_relay_on_cancel(dapr__grpc_call_t *call);
void dapr__grpc_relay_on_writable(dapr__grpc_call_t *call);

/* Request metadata a relay may pass on as it is: lower-case gRPC keys
 * (the engine refuses others), no pseudo or reserved "grpc-" key
 * (grpc-trace-bin excepted), nothing hop-by-hop, no content-type or
 * user-agent (the client sets its own). Callers drop more (tokens, ids). */
bool dapr__grpc_relay_md_ok(const char *key);

#endif
