/* libFuzzer target: the JSON scanner (lib/core/jscan.c), differential
 * against jansson: the same verdict on validity, canonical spans equal to
 * the Go-style encoder's output, iteration and unescaping agreeing with
 * jansson's tree (test/unit/core/jscan_check.h). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "jscan_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = jscan_check((const char *)data, size);
    if (why) {
        fprintf(stderr, "jscan: %s\n", why);
        abort();
    }
    return 0;
}
