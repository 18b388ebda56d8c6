/* HTTP adapter of health and shutdown (spec §10). */
#include <string.h>

#include "router.h"
#include "runtime/runtime_int.h"

void dapr__http_healthz(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    const char *appid = dapr__http_query_get(req, "appid");
    if (appid && strcmp(appid, rt->opt.app_id ? rt->opt.app_id : "")) {
        dapr__http_send_errorf(req, DAPR_ERR_HEALTH_APPID_NOT_MATCH, "dapr app-id does not match");
        return;
    }
    if (!rt->ready) {
        dapr__http_send_errorf(req, DAPR_ERR_HEALTH_NOT_READY, "dapr is not ready: [%s]",
                               rt->outbound_ready ? "app" : "components");
        return;
    }
    dapr__http_send_empty(req, 204);
}

void dapr__http_healthz_outbound(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    if (!rt->outbound_ready) {
        dapr__http_send_errorf(req, DAPR_ERR_OUTBOUND_HEALTH_NOT_READY,
                               "dapr outbound is not ready");
        return;
    }
    dapr__http_send_empty(req, 204);
}

void dapr__http_shutdown(dapr_runtime_t *rt, dapr__http_req_t *req)
{
    dapr__http_send_empty(req, 204);
    dapr__runtime_request_shutdown(rt);
}
