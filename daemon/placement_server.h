/* The placement service (one instance, no raft):
 * dapr.proto.placement.v1.Placement/ReportDaprStatus. Sidecars stream Host
 * reports (every 1 s as a heartbeat, as daprd 1.16 does); hosts are kept per
 * namespace; a host leaves when its stream ends or it stops reporting for
 * host_timeout_ms. Membership or actor-type changes (coalesced for
 * debounce_ms) start a dissemination round with a new table version, as in
 * Dapr 1.17+: lock, then update(tables), then unlock, each phase sent to
 * every stream of the namespace and acknowledged by every actor host (Host
 * with operation LOCK/UPDATE/UNLOCK and the version) before the next phase
 * starts, so no host installs a table before every host has locked, and no
 * host unlocks before every host has installed it. A host that does not
 * acknowledge within ack_timeout_ms is dropped (DEADLINE_EXCEEDED); changes
 * during a round wait for the next one. Streams that report no actor types
 * get the current tables once when they join and owe no acknowledgements. */
#ifndef DAPR_DAEMON_PLACEMENT_SERVER_H
#define DAPR_DAEMON_PLACEMENT_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "core/log.h"

typedef struct plc_server plc_server_t;

typedef struct plc_config {
    uv_loop_t *loop;
    const dapr__logger_t *log;
    int64_t replication_factor; /* default 100 */
    uint64_t host_timeout_ms;   /* default 3000 */
    uint64_t debounce_ms;       /* default 100 */
    uint64_t ack_timeout_ms;    /* a phase not acknowledged by then: the host is dropped
                                 * (default 8000) */
} plc_config_t;

int plc_server_create(plc_server_t **out, const plc_config_t *cfg);
/* Listen on addr:port (0 → ephemeral, *bound gets it). 0 or a libuv error. */
int plc_server_listen(plc_server_t *s, const char *addr, int port, int *bound);
/* Close every stream, stop listening; done(ud) once all handles closed and
 * the server's memory is gone. */
void plc_server_shutdown(plc_server_t *s, void (*done)(void *ud), void *ud);

#endif
