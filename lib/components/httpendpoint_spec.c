/* kind: HTTPEndpoint documents (see resources.h). */
#include <string.h>

#include "core/alloc.h"
#include "resources_int.h"

static void free_endpoint(dapr__res_endpoint_t *e)
{
    dapr__free(e->file);
    dapr__free(e->name);
    dapr__free(e->base_url);
    dapr__res_free_pairs(e->headers, e->n_headers);
    for (size_t i = 0; i < e->n_scopes; i++)
        dapr__free(e->scopes[i]);
    dapr__free(e->scopes);
}

void dapr__res_free_endpoints(dapr__resources_t *r)
{
    for (size_t i = 0; i < r->n_endpoints; i++)
        free_endpoint(&r->endpoints[i]);
    dapr__free(r->endpoints);
    r->endpoints = NULL;
    r->n_endpoints = 0;
}

int dapr__res_add_endpoint(dapr__res_ctx_t *c, const dapr__yaml_doc_t *doc, dapr__resources_t *r)
{
    const dapr__yaml_node_t *root = doc->root, *meta = NULL, *spec = NULL;
    dapr__res_endpoint_t e = {.line = doc->line};
    const char *name = NULL, *url = NULL;
    int url_line = doc->line, kl;
    int rc = dapr__res_get_map(c, root, "metadata", &meta, &kl);
    if (!rc && meta)
        rc = dapr__res_get_text(c, meta, "name", "metadata.name", &name, NULL);
    if (!rc && (!name || !*name))
        rc = dapr__res_fail(c, doc->line, "metadata.name is required");
    if (!rc) {
        c->comp = name;
        rc = dapr__res_get_map(c, root, "spec", &spec, &kl);
    }
    if (!rc && !spec)
        rc = dapr__res_fail(c, doc->line, "spec is required");
    if (!rc)
        rc = dapr__res_get_text(c, spec, "baseUrl", "spec.baseUrl", &url, &url_line);
    if (!rc && (!url || !*url))
        rc = dapr__res_fail(c, doc->line, "spec.baseUrl is required");
    if (!rc && strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        rc = dapr__res_fail(c, url_line, "spec.baseUrl must start with http:// or https://, "
                            "got \"%s\"", url);
    if (!rc)
        rc = dapr__res_parse_pairs(c, spec, "headers", "spec.headers", &e.headers, &e.n_headers);
    if (!rc)
        rc = dapr__res_get_scopes(c, root, &e.scopes, &e.n_scopes);
    if (!rc) {
        const dapr__yaml_pair_t *tls = dapr__yaml_find(spec, "clientTLS", true);
        e.has_client_tls = tls && !dapr__yaml_is_null(tls->value);
        rc = dapr__res_dup(c, c->file, &e.file);
    }
    if (!rc)
        rc = dapr__res_dup(c, name, &e.name);
    if (!rc)
        rc = dapr__res_dup(c, url, &e.base_url);
    dapr__res_endpoint_t *ne = rc ? NULL
                                  : dapr__realloc(r->endpoints,
                                                  (r->n_endpoints + 1) * sizeof(*ne));
    if (!rc && !ne)
        rc = dapr__res_nomem(c);
    if (rc) {
        free_endpoint(&e);
        return rc;
    }
    r->endpoints = ne;
    r->endpoints[r->n_endpoints++] = e;
    return 0;
}
