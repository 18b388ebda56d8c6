/* libFuzzer target: the CEL subset of pub/sub routing rules. Input is an
 * expression, optionally followed by a NUL byte and a JSON document that
 * becomes `event`; without one, a fixed cloud event is used so the fuzzer
 * spends its time on expressions that reach real fields. Compile and eval
 * must never crash or leak and only return the documented codes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cel.h"
#include "dapr/common.h"

static const char EVENT[] =
    "{\"id\":\"1\",\"source\":\"/orders/eu\",\"type\":\"widget\",\"specversion\":\"1.0\","
    "\"data\":{\"price\":150,\"weight\":2.5,\"region\":\"eu\",\"tags\":[\"a\",\"b\",3],"
    "\"items\":[{\"sku\":\"x\"}],\"flag\":true,\"none\":null,\"n\":{\"k\":[1,[2]]}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t elen = nul ? (size_t)(nul - data) : size;
    char *src = malloc(elen + 1);
    if (!src)
        return 0;
    memcpy(src, data, elen);
    src[elen] = 0;

    json_t *doc = nul ? json_loadb((const char *)nul + 1, size - elen - 1,
                                   JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
                      : json_loads(EVENT, 0, NULL);
    json_t *vars = json_object();
    if (doc)
        json_object_set_new(vars, "event", doc);

    char err[128];
    dapr__cel_t *e = dapr__cel_compile(src, err, sizeof(err));
    if (e) {
        /* twice: evaluation must not change the compiled expression */
        int r1 = dapr__cel_eval(e, vars, err, sizeof(err));
        int r2 = dapr__cel_eval(e, vars, err, sizeof(err));
        if (r1 != r2 || (r1 != 0 && r1 != 1 && r1 != DAPR_EINVAL && r1 != DAPR_ENOMEM))
            abort();
        if (r1 < 0 && !err[0])
            abort(); /* every failure says why */
        dapr__cel_free(e);
    } else if (!err[0]) {
        abort();
    }
    json_decref(vars);
    free(src);
    return 0;
}
