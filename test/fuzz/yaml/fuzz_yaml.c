/* libFuzzer target: arbitrary bytes through the YAML reader and the
 * resources loader (every Component field path, aliases, error messages). */
#include <stddef.h>
#include <stdint.h>

#include "components/resources.h"
#include "core/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dapr__resources_t r;
    char *err = NULL;
    dapr__resources_init(&r);
    dapr__resources_parse(&r, "fuzz.yaml", (const char *)data, size, NULL, &err);
    /* walk what was produced so bad pointers show up here, not later */
    for (size_t i = 0; i < r.n_components; i++) {
        char *v = NULL;
        if (r.components[i].n_md && r.components[i].md[0].value)
            v = dapr__res_expand(r.components[i].md[0].value, "app", "ns");
        dapr__free(v);
        (void)dapr__res_in_scope(r.components[i].scopes, r.components[i].n_scopes, "app");
    }
    dapr__free(err);
    dapr__resources_free(&r);
    return 0;
}
