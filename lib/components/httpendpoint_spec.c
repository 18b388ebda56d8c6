/* kind: HTTPEndpoint documents (see resources.h). */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/tls.h"
#include "resources_int.h"

static void free_endpoint(dapr__res_endpoint_t *e)
{
    dapr__free(e->file);
    dapr__free(e->name);
    dapr__free(e->base_url);
    dapr__free(e->tls_root_ca);
    dapr__free(e->tls_cert);
    dapr__free(e->tls_key);
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

/* spec.clientTLS.<key>: {value: PEM} into *out; secretKeyRef needs a
 * secret store, which libdapr does not have yet: refused here, at load,
 * rather than at the first call. */
static int tls_doc(dapr__res_ctx_t *c, const dapr__yaml_node_t *tls, const char *key, char **out)
{
    const dapr__yaml_node_t *doc;
    const char *v;
    char what[64];
    int kl, vl;
    snprintf(what, sizeof(what), "spec.clientTLS.%s.value", key);
    int rc = dapr__res_get_map(c, tls, key, &doc, &kl);
    if (rc || !doc)
        return rc;
    const dapr__yaml_pair_t *ref = dapr__yaml_find(doc, "secretKeyRef", true);
    if (ref && !dapr__yaml_is_null(ref->value))
        return dapr__res_fail(c, ref->key->line, "spec.clientTLS.%s.secretKeyRef is not "
                              "supported yet (libdapr has no secret stores); give the PEM "
                              "inline with value:", key);
    rc = dapr__res_get_text(c, doc, "value", what, &v, &vl);
    if (!rc && (!v || !*v))
        rc = dapr__res_fail(c, kl, "%s is required", what);
    return rc ? rc : dapr__res_dup(c, v, out);
}

/* Go's tls.RenegotiationSupport names, as Dapr's CRD. */
static int tls_renegotiation(dapr__res_ctx_t *c, const dapr__yaml_node_t *tls, bool *on)
{
    const char *v;
    int line;
    int rc = dapr__res_get_text(c, tls, "renegotiation", "spec.clientTLS.renegotiation", &v,
                                &line);
    if (rc || !v || !strcmp(v, "RenegotiateNever"))
        return rc;
    if (strcmp(v, "RenegotiateOnceAsClient") && strcmp(v, "RenegotiateFreelyAsClient"))
        return dapr__res_fail(c, line, "spec.clientTLS.renegotiation must be RenegotiateNever, "
                              "RenegotiateOnceAsClient or RenegotiateFreelyAsClient, got \"%s\"",
                              v);
    *on = true; /* mbedTLS does not count: Once behaves as Freely */
    return 0;
}

static int parse_client_tls(dapr__res_ctx_t *c, const dapr__yaml_node_t *spec,
                            dapr__res_endpoint_t *e)
{
    const dapr__yaml_node_t *tls;
    int kl;
    int rc = dapr__res_get_map(c, spec, "clientTLS", &tls, &kl);
    if (rc || !tls)
        return rc;
    e->has_client_tls = true;
    rc = tls_doc(c, tls, "rootCA", &e->tls_root_ca);
    if (!rc)
        rc = tls_doc(c, tls, "certificate", &e->tls_cert);
    if (!rc)
        rc = tls_doc(c, tls, "privateKey", &e->tls_key);
    if (!rc)
        rc = tls_renegotiation(c, tls, &e->tls_renegotiation);
    if (rc)
        return rc;
    char err[400];
    dapr__tls_client_config_t cfg = {.ca_pem = e->tls_root_ca, .cert_pem = e->tls_cert,
                                     .key_pem = e->tls_key};
    if (dapr__tls_config_check(&cfg, err, sizeof(err)))
        return dapr__res_fail(c, kl, "spec.clientTLS: %s", err);
    return 0;
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
    if (!rc)
        rc = parse_client_tls(c, spec, &e);
    if (!rc)
        rc = dapr__res_dup(c, c->file, &e.file);
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
