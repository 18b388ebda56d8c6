/* The option table: daprd's flags with Dapr's defaults, aliases and checks. */
#include "core/alloc.h"
#include "runtime/options.h"
#include "dapr/runtime.h"
#include "../testutil.h"

static int inactive_count;
static void count_inactive(void *ud, const char *name, const char *why)
{
    inactive_count++;
    CHECK(why && *why);
}

int main(void)
{
    dapr__options_t o;
    char err[256];
    CHECK(!dapr__options_init(&o));
    CHECK_EQ_INT(o.dapr_http_port, 3500);
    CHECK_EQ_INT(o.dapr_grpc_port, 50001);
    CHECK_EQ_INT(o.app_port, -1);
    CHECK_EQ_INT(o.max_body_size, 4 << 20);
    CHECK_EQ_INT(o.read_buffer_size, 4096);
    CHECK_EQ_STR(o.app_protocol, "http");
    CHECK_EQ_STR(o.log_level, "info");
    CHECK(o.enable_metrics);
    CHECK(o.dapr_listen_addresses == NULL);

    CHECK(!dapr__options_set(&o, "--app-id", "demo", err, sizeof(err)));
    CHECK_EQ_STR(o.app_id, "demo");
    CHECK(!dapr__options_set(&o, "-dapr-http-port", "3600", err, sizeof(err)));
    CHECK_EQ_INT(o.dapr_http_port, 3600);
    CHECK(dapr__options_set(&o, "dapr-http-port", "70000", err, sizeof(err)) == DAPR_EINVAL);
    CHECK(strstr(err, "dapr-http-port") != NULL);
    CHECK(!dapr__options_set(&o, "max-body-size", "16Mi", err, sizeof(err)));
    CHECK_EQ_INT(o.max_body_size, 16 << 20);
    /* deprecated aliases */
    CHECK(!dapr__options_set(&o, "dapr-http-max-request-size", "8", err, sizeof(err)));
    CHECK_EQ_INT(o.max_body_size, 8 << 20);
    CHECK(!dapr__options_set(&o, "dapr-http-read-buffer-size", "16", err, sizeof(err)));
    CHECK_EQ_INT(o.read_buffer_size, 16 << 10);
    CHECK(!dapr__options_set(&o, "components-path", "/a", err, sizeof(err)));
    CHECK(!dapr__options_set(&o, "resources-path", "/b,/c", err, sizeof(err)));
    CHECK_EQ_INT(o.resources_path.n, 3);
    CHECK_EQ_STR(o.resources_path.v[2], "/c");
    CHECK(!dapr__options_set(&o, "app-ssl", NULL, err, sizeof(err)));
    CHECK_EQ_STR(o.app_protocol, "https");
    /* validation */
    CHECK(dapr__options_set(&o, "app-protocol", "ftp", err, sizeof(err)) == DAPR_EINVAL);
    CHECK(dapr__options_set(&o, "log-level", "loud", err, sizeof(err)) == DAPR_EINVAL);
    CHECK(dapr__options_set(&o, "mode", "kubernetes", err, sizeof(err)) == DAPR_EINVAL);
    CHECK(dapr__options_set(&o, "nope", "x", err, sizeof(err)) == DAPR_ENOTFOUND);
    CHECK(strstr(err, "unknown flag: --nope") != NULL);
    CHECK(dapr__options_set(&o, "enable-metrics", "perhaps", err, sizeof(err)) == DAPR_EINVAL);
    CHECK(!dapr__options_set(&o, "enable-metrics", "false", err, sizeof(err)));
    CHECK(!o.enable_metrics);
    CHECK(!dapr__options_set(&o, "dapr-block-shutdown-duration", "5s", err, sizeof(err)));
    CHECK_EQ_INT(o.dapr_block_shutdown_duration_ns, 5000000000LL);
    /* flags whose feature is not active yet are reported */
    CHECK(!dapr__options_set(&o, "app-port", "3000", err, sizeof(err))); /* active: app channel */
    CHECK(!dapr__options_set(&o, "placement-host-address", "localhost:50005", err, sizeof(err)));
    /* --config is active (the Configuration resource is read): repeatable, comma-split */
    CHECK(!dapr__options_set(&o, "config", "/a.yaml,/b.yaml", err, sizeof(err)));
    CHECK(!dapr__options_set(&o, "config", "/c.yaml", err, sizeof(err)));
    CHECK_EQ_INT(o.config.n, 3);
    CHECK_EQ_STR(o.config.v[2], "/c.yaml");
    inactive_count = 0;
    dapr__options_each_inactive(&o, count_inactive, NULL);
    /* enable-metrics, block-shutdown, app-ssl (placement is active: actors) */
    CHECK_EQ_INT(inactive_count, 3);
    CHECK(dapr_option_is_bool("--log-as-json"));
    CHECK(!dapr_option_is_bool("app-id"));
    dapr_option_info_t info;
    size_t n = 0;
    while (dapr_option_info(n, &info) == DAPR_OK)
        n++;
    CHECK(n > 50);
    dapr__options_free(&o);
    return test_result();
}
