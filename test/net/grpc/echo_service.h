/* The raw-bytes test service (see echo_service.c). */
#ifndef DAPR_TEST_ECHO_SERVICE_H
#define DAPR_TEST_ECHO_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "grpc/grpc.h"

typedef struct echo_stats {
    uv_loop_t *loop;
    dapr__grpc_server_t *server;
    unsigned long cancels;
    unsigned long eagains;
    size_t max_queued, max_write;
} echo_stats_t;

extern echo_stats_t echo_stats;
extern const dapr__grpc_method_t echo_methods[];
extern const size_t echo_n_methods;
extern const dapr__grpc_method_t echo_fallback;
extern const uint8_t echo_error_details[];
extern const size_t echo_error_details_len;
extern const char echo_error_message[];

/* Record the server's queue high-water marks (called from a timer). */
void echo_sample(void);

#endif
