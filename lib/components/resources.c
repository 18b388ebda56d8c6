/* The resources loader: YAML documents → typed resources (see resources.h).
 *
 * Fields are looked up the way Dapr's loader sees them: the YAML becomes JSON
 * and Go's encoding/json matches field names exactly first, then ignoring
 * ASCII case (which is why both auth.secretStore and auth.secretstore work).
 */
#include "components/resources.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "components/resources_int.h"
#include "components/yaml.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/strutil.h"
#include "dapr/common.h"

#define SCOPE "dapr.runtime.resources"
#define MAX_FILE_SIZE ((size_t)16 << 20)
#define DEFAULT_INIT_TIMEOUT_MS 5000
#define COMPONENT_API "dapr.io/v1alpha1"

typedef dapr__yaml_node_t node_t;
typedef dapr__res_ctx_t ctx_t;

/* Hand out a buffer's text NUL-terminated (dapr__buf_cstr only reserves
 * the byte: an untouched buffer has none), or NULL after an OOM. */
static char *buf_text(dapr__buf_t *b)
{
    if (b->oom || dapr__buf_cstr(b)) {
        dapr__buf_free(b);
        return NULL;
    }
    b->data[b->len] = '\0';
    return dapr__buf_steal(b, NULL);
}

static void set_errv(char **err, const char *fmt, va_list ap)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_vprintf(&b, fmt, ap);
    dapr__free(*err);
    *err = buf_text(&b); /* NULL on OOM: the code still tells */
}

static int errorf(char **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int errorf(char **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_errv(err, fmt, ap);
    va_end(ap);
    return code;
}

int dapr__res_fail(const ctx_t *c, int line, const char *fmt, ...)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_printf(&b, "%s:%d: ", c->file, line);
    if (c->comp)
        dapr__buf_printf(&b, "%s %s: ", c->kind ? c->kind : "component", c->comp);
    va_list ap;
    va_start(ap, fmt);
    dapr__buf_vprintf(&b, fmt, ap);
    va_end(ap);
    dapr__free(*c->err);
    *c->err = buf_text(&b);
    return *c->err ? DAPR_EPARSE : DAPR_ENOMEM;
}

int dapr__res_nomem(const ctx_t *c)
{
    return errorf(c->err, DAPR_ENOMEM, "%s: out of memory", c->file);
}

int dapr__res_dup(const ctx_t *c, const char *s, char **out)
{
    *out = NULL;
    if (s && !(*out = dapr__strdup(s)))
        return dapr__res_nomem(c);
    return 0;
}

/* ---- field getters ----------------------------------------------------- */

/* Text of a scalar field; NULL when absent or null. *line gets the line of
 * the value (or 0). A collection where text belongs is an error. */
int dapr__res_get_text(const ctx_t *c, const node_t *map, const char *key, const char *what,
                       const char **out, int *line)
{
    const dapr__yaml_pair_t *p = dapr__yaml_find(map, key, true);
    *out = NULL;
    if (line)
        *line = p ? p->value->line : 0;
    if (!p || dapr__yaml_is_null(p->value))
        return 0;
    if (p->value->kind != DAPR__YAML_SCALAR)
        return dapr__res_fail(c, p->value->line, "%s must be a string, not a %s", what,
                              dapr__yaml_kind_name(p->value));
    *out = p->value->text;
    return 0;
}

/* A mapping field; *out NULL when absent or null. *key_line gets the line of
 * its key, where "X is required" errors about its children point. */
int dapr__res_get_map(const ctx_t *c, const node_t *map, const char *key, const node_t **out,
                      int *key_line)
{
    const dapr__yaml_pair_t *p = dapr__yaml_find(map, key, true);
    *out = NULL;
    *key_line = p ? p->key->line : 0;
    if (!p || dapr__yaml_is_null(p->value))
        return 0;
    if (p->value->kind != DAPR__YAML_MAP)
        return dapr__res_fail(c, p->value->line, "%s must be a mapping, not a %s", key,
                              dapr__yaml_kind_name(p->value));
    *out = p->value;
    return 0;
}

/* A sequence field; *out NULL when absent or null. */
int dapr__res_get_seq(const ctx_t *c, const node_t *map, const char *key, const char *what,
                      const node_t **out)
{
    const dapr__yaml_pair_t *p = dapr__yaml_find(map, key, true);
    *out = NULL;
    if (!p || dapr__yaml_is_null(p->value))
        return 0;
    if (p->value->kind != DAPR__YAML_SEQ)
        return dapr__res_fail(c, p->value->line, "%s must be a sequence, not a %s", what,
                              dapr__yaml_kind_name(p->value));
    *out = p->value;
    return 0;
}

/* ---- Component --------------------------------------------------------- */

static void free_md(dapr__res_md_t *md)
{
    dapr__free(md->name);
    dapr__free(md->value);
    dapr__free(md->secret_name);
    dapr__free(md->secret_key);
    dapr__free(md->env_ref);
}

static void free_component(dapr__res_component_t *comp)
{
    dapr__free(comp->file);
    dapr__free(comp->name);
    dapr__free(comp->namespace_);
    dapr__free(comp->type);
    dapr__free(comp->version);
    dapr__free(comp->secret_store);
    for (size_t i = 0; i < comp->n_md; i++)
        free_md(&comp->md[i]);
    dapr__free(comp->md);
    for (size_t i = 0; i < comp->n_scopes; i++)
        dapr__free(comp->scopes[i]);
    dapr__free(comp->scopes);
    memset(comp, 0, sizeof(*comp));
}

/* Non-string values become compact JSON text, sorted keys, as Dapr's
 * DynamicValue holds them. */
static int value_json(const ctx_t *c, const dapr__res_md_t *md, const node_t *v, char **out)
{
    dapr__yaml_err_t ye;
    json_t *j = dapr__yaml_to_json(v, &ye);
    if (!j)
        return ye.line ? dapr__res_fail(c, ye.line, "metadata %s: %s", md->name, ye.msg)
                       : dapr__res_nomem(c);
    dapr__buf_t b = DAPR__BUF_INIT;
    int rc = dapr__json_go_encode(j, &b);
    json_decref(j);
    if (rc)
        dapr__buf_free(&b);
    if (rc || !(*out = buf_text(&b)))
        return dapr__res_nomem(c);
    return 0;
}

static int md_value(const ctx_t *c, dapr__res_md_t *md, const node_t *item)
{
    const dapr__yaml_pair_t *p = dapr__yaml_find(item, "value", true);
    const node_t *v = p ? p->value : NULL;
    if (dapr__yaml_is_null(v))
        return dapr__res_dup(c, "", &md->value);
    if (v->kind == DAPR__YAML_SCALAR)
        return dapr__res_dup(c, v->text, &md->value);
    return value_json(c, md, v, &md->value);
}

static int md_secret_ref(const ctx_t *c, dapr__res_md_t *md, const node_t *ref)
{
    if (ref->kind != DAPR__YAML_MAP)
        return dapr__res_fail(c, ref->line,
                              "metadata %s: secretKeyRef must be a mapping, not a %s", md->name,
                              dapr__yaml_kind_name(ref));
    const char *name, *key;
    int rc = dapr__res_get_text(c, ref, "name", "secretKeyRef.name", &name, NULL);
    if (!rc)
        rc = dapr__res_get_text(c, ref, "key", "secretKeyRef.key", &key, NULL);
    if (rc)
        return rc;
    if (!name || !*name)
        return dapr__res_fail(c, ref->line, "metadata %s: secretKeyRef.name is required",
                              md->name);
    /* a secret holding a single value is commonly keyed by its own name */
    if (!key || !*key)
        key = name;
    if ((rc = dapr__res_dup(c, name, &md->secret_name)))
        return rc;
    return dapr__res_dup(c, key, &md->secret_key);
}

static int parse_md(const ctx_t *c, const node_t *item, size_t idx, const char *what,
                    dapr__res_md_t *md)
{
    md->line = item->line;
    if (item->kind != DAPR__YAML_MAP)
        return dapr__res_fail(c, item->line, "%s[%zu] must be a mapping of name and value",
                              what, idx);
    const char *name, *env;
    int rc = dapr__res_get_text(c, item, "name", "name", &name, NULL);
    if (rc)
        return rc;
    if (!name || !*name)
        return dapr__res_fail(c, item->line, "%s[%zu]: name is required", what, idx);
    if ((rc = dapr__res_dup(c, name, &md->name)))
        return rc;
    const dapr__yaml_pair_t *ref = dapr__yaml_find(item, "secretKeyRef", true);
    if (ref && !dapr__yaml_is_null(ref->value))
        return md_secret_ref(c, md, ref->value);
    if ((rc = dapr__res_get_text(c, item, "envRef", "envRef", &env, NULL)))
        return rc;
    if (env && *env)
        return dapr__res_dup(c, env, &md->env_ref);
    return md_value(c, md, item);
}

int dapr__res_parse_pairs(const ctx_t *c, const node_t *map, const char *key, const char *what,
                          dapr__res_md_t **md, size_t *n)
{
    const node_t *seq;
    int rc = dapr__res_get_seq(c, map, key, what, &seq);
    if (rc || !seq || !seq->n)
        return rc;
    if (!(*md = dapr__calloc(seq->n, sizeof(**md))))
        return dapr__res_nomem(c);
    for (size_t i = 0; i < seq->n; i++) {
        *n = i + 1; /* so a partial entry is freed too */
        if ((rc = parse_md(c, seq->items[i], i, what, &(*md)[i])))
            return rc;
    }
    return 0;
}

void dapr__res_free_pairs(dapr__res_md_t *md, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free_md(&md[i]);
    dapr__free(md);
}

static int parse_md_list(const ctx_t *c, const node_t *spec, dapr__res_component_t *comp)
{
    return dapr__res_parse_pairs(c, spec, "metadata", "spec.metadata", &comp->md, &comp->n_md);
}

int dapr__res_get_scopes(const ctx_t *c, const node_t *root, char ***out, size_t *n)
{
    const node_t *seq;
    int rc = dapr__res_get_seq(c, root, "scopes", "scopes", &seq);
    if (rc || !seq || !seq->n)
        return rc;
    if (!(*out = dapr__calloc(seq->n, sizeof(**out))))
        return dapr__res_nomem(c);
    for (size_t i = 0; i < seq->n; i++) {
        const node_t *it = seq->items[i];
        if (it->kind != DAPR__YAML_SCALAR)
            return dapr__res_fail(c, it->line, "scopes[%zu] must be an app id, not a %s", i,
                                  dapr__yaml_kind_name(it));
        *n = i + 1; /* so a partial list is freed too */
        if ((rc = dapr__res_dup(c, it->text, &(*out)[i])))
            return rc;
    }
    return 0;
}

static int parse_init_timeout(const ctx_t *c, const node_t *spec, dapr__res_component_t *comp)
{
    const char *s;
    int line;
    int64_t ns;
    int rc = dapr__res_get_text(c, spec, "initTimeout", "spec.initTimeout", &s, &line);
    if (rc || !s)
        return rc;
    if (dapr__parse_duration(s, false, &ns))
        return dapr__res_fail(c, line,
                              "spec.initTimeout: invalid duration \"%s\" (e.g. \"5s\", \"500ms\")",
                              s);
    if (ns <= 0)
        return dapr__res_fail(c, line, "spec.initTimeout: must be positive, got \"%s\"", s);
    comp->init_timeout_ms = (ns + 999999) / 1000000; /* round up: 1us is not 0 */
    return 0;
}

static int parse_spec(const ctx_t *c, const node_t *spec, int spec_line,
                      dapr__res_component_t *comp)
{
    const char *type, *version, *ign;
    int line;
    int rc = dapr__res_get_text(c, spec, "type", "spec.type", &type, NULL);
    if (rc)
        return rc;
    if (!type || !*type)
        return dapr__res_fail(c, spec_line, "spec.type is required");
    if ((rc = dapr__res_dup(c, type, &comp->type)))
        return rc;
    if ((rc = dapr__res_get_text(c, spec, "version", "spec.version", &version, NULL)))
        return rc;
    if ((rc = dapr__res_dup(c, version && *version ? version : "v1", &comp->version)))
        return rc;
    if ((rc = parse_init_timeout(c, spec, comp)))
        return rc;
    if ((rc = dapr__res_get_text(c, spec, "ignoreErrors", "spec.ignoreErrors", &ign, &line)))
        return rc;
    if (ign && dapr__parse_bool(ign, &comp->ignore_errors))
        return dapr__res_fail(c, line, "spec.ignoreErrors: invalid boolean \"%s\"", ign);
    return parse_md_list(c, spec, comp);
}

static int parse_auth(const ctx_t *c, const node_t *root, dapr__res_component_t *comp)
{
    const node_t *auth;
    const char *store;
    int line;
    int rc = dapr__res_get_map(c, root, "auth", &auth, &line);
    if (!rc)
        rc = dapr__res_get_text(c, auth, "secretStore", "auth.secretStore", &store, NULL);
    if (!rc && store && *store)
        rc = dapr__res_dup(c, store, &comp->secret_store);
    return rc;
}

static int parse_component(ctx_t *c, const dapr__yaml_doc_t *doc, dapr__res_component_t *comp)
{
    const node_t *root = doc->root, *meta, *spec;
    const char *name, *ns;
    int meta_line, spec_line;
    comp->line = doc->line;
    comp->init_timeout_ms = DEFAULT_INIT_TIMEOUT_MS;
    int rc = dapr__res_dup(c, c->file, &comp->file);
    if (!rc)
        rc = dapr__res_get_map(c, root, "metadata", &meta, &meta_line);
    if (!rc)
        rc = dapr__res_get_text(c, meta, "name", "metadata.name", &name, NULL);
    if (rc)
        return rc;
    if (!name || !*name)
        return dapr__res_fail(c, meta ? meta_line : doc->line,
                              "component: metadata.name is required");
    if ((rc = dapr__res_dup(c, name, &comp->name)))
        return rc;
    c->comp = comp->name;
    if ((rc = dapr__res_get_text(c, meta, "namespace", "metadata.namespace", &ns, NULL)))
        return rc;
    if (ns && *ns && (rc = dapr__res_dup(c, ns, &comp->namespace_)))
        return rc;
    if ((rc = dapr__res_get_map(c, root, "spec", &spec, &spec_line)))
        return rc;
    if ((rc = parse_spec(c, spec, spec ? spec_line : doc->line, comp)))
        return rc;
    if ((rc = parse_auth(c, root, comp)))
        return rc;
    return dapr__res_get_scopes(c, root, &comp->scopes, &comp->n_scopes);
}

/* ---- documents ----------------------------------------------------------- */

static int append(dapr__resources_t *r, const dapr__res_component_t *comp)
{
    /* capacity is implied: 4, then doubling, so no field is needed for it */
    size_t n = r->n_components;
    if (n == 0 || (n >= 4 && !(n & (n - 1)))) {
        size_t cap = n ? n * 2 : 4;
        dapr__res_component_t *a = dapr__realloc(r->components, cap * sizeof(*a));
        if (!a)
            return DAPR_ENOMEM;
        r->components = a;
    }
    r->components[r->n_components++] = *comp;
    return 0;
}

void dapr__res_debugf(const ctx_t *c, const char *fmt, ...)
{
    if (!c->lg || !dapr__log_on(c->lg, DAPR_LOG_DEBUG))
        return;
    va_list ap;
    va_start(ap, fmt);
    dapr__vlog(c->lg, DAPR_LOG_DEBUG, SCOPE, fmt, ap);
    va_end(ap);
}

static int add_component(ctx_t *c, const dapr__yaml_doc_t *doc, dapr__resources_t *r)
{
    dapr__res_component_t comp;
    memset(&comp, 0, sizeof(comp));
    int rc = parse_component(c, doc, &comp);
    if (!rc && append(r, &comp))
        rc = dapr__res_nomem(c);
    if (rc)
        free_component(&comp);
    return rc;
}

static int parse_doc(ctx_t *c, const dapr__yaml_doc_t *doc, dapr__resources_t *r)
{
    const node_t *root = doc->root;
    const char *kind, *api;
    c->comp = NULL;
    c->kind = "component";
    if (dapr__yaml_is_null(root))
        return 0; /* empty document, e.g. a trailing `---` */
    if (root->kind != DAPR__YAML_MAP) {
        dapr__res_debugf(c, "%s:%d: skipping a document that is a %s, not a resource", c->file,
                         doc->line, dapr__yaml_kind_name(root));
        return 0;
    }
    int rc = dapr__res_get_text(c, root, "kind", "kind", &kind, NULL);
    if (!rc)
        rc = dapr__res_get_text(c, root, "apiVersion", "apiVersion", &api, NULL);
    if (rc)
        return rc;
    if (!kind || !*kind) {
        dapr__res_debugf(c, "%s:%d: skipping a document without kind", c->file, doc->line);
        return 0;
    }
    if (!strcmp(kind, "Resiliency")) {
        /* Dapr's loader selects Resiliency documents by kind alone */
        c->kind = "resiliency";
        return dapr__res_add_resiliency(c, doc, r);
    }
    if (!strcmp(kind, "Subscription")) {
        c->kind = "subscription";
        return dapr__res_add_subscription(c, doc, r);
    }
    if (!strcmp(kind, "HTTPEndpoint")) {
        c->kind = "httpendpoint";
        return dapr__res_add_endpoint(c, doc, r);
    }
    if (strcmp(kind, "Component")) {
        dapr__res_debugf(c, "%s:%d: skipping %s resource (not loaded by this version)", c->file,
                         doc->line, kind);
        return 0;
    }
    if (!api || strcmp(api, COMPONENT_API)) {
        dapr__res_debugf(c, "%s:%d: skipping Component with apiVersion \"%s\" (want %s)",
                         c->file, doc->line, api ? api : "", COMPONENT_API);
        return 0;
    }
    return add_component(c, doc, r);
}

void dapr__resources_init(dapr__resources_t *r)
{
    memset(r, 0, sizeof(*r));
}

void dapr__resources_free(dapr__resources_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_components; i++)
        free_component(&r->components[i]);
    dapr__free(r->components);
    dapr__res_free_resiliencies(r);
    dapr__res_free_endpoints(r);
    dapr__res_free_subscriptions(r);
    dapr__resources_init(r);
}

int dapr__resources_parse(dapr__resources_t *r, const char *file, const char *data, size_t len,
                          const dapr__logger_t *lg, char **err)
{
    char *local_err = NULL;
    ctx_t c = {file ? file : "(input)", lg, err ? err : &local_err, NULL, NULL};
    *c.err = NULL;
    dapr__yaml_stream_t s;
    dapr__yaml_err_t ye;
    int prc = dapr__yaml_parse(&s, data, len, &ye);
    int rc = 0;
    /* documents completed before a syntax error still load, as documented */
    for (size_t i = 0; i < s.n_docs && !rc; i++)
        rc = parse_doc(&c, &s.docs[i], r);
    c.comp = NULL;
    if (!rc && prc == DAPR_ENOMEM)
        rc = dapr__res_nomem(&c);
    else if (!rc && prc)
        rc = dapr__res_fail(&c, ye.line, "invalid YAML: %s", ye.msg);
    dapr__yaml_free(&s);
    dapr__free(local_err);
    return rc;
}

/* ---- directories ------------------------------------------------------- */

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dapr__free(names[i]);
    dapr__free(names);
}

static int io_code(int e)
{
    return e == ENOENT || e == ENOTDIR ? DAPR_ENOTFOUND : DAPR_EIO;
}

/* The *.yaml / *.yml entries of dir, sorted as Go's os.ReadDir sorts them. */
static int list_dir(const char *dir, char ***out, size_t *n_out, char **err)
{
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        return errorf(err, io_code(e), "resources path %s: %s", dir, strerror(e));
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (!has_suffix(de->d_name, ".yaml") && !has_suffix(de->d_name, ".yml"))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = dapr__realloc(names, ncap * sizeof(*nn));
            if (!nn) {
                rc = DAPR_ENOMEM;
                break;
            }
            names = nn;
            cap = ncap;
        }
        if (!(names[n] = dapr__strdup(de->d_name)))
            rc = DAPR_ENOMEM;
        else
            n++;
    }
    closedir(d);
    if (rc) {
        free_names(names, n);
        return errorf(err, rc, "resources path %s: out of memory", dir);
    }
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);
    *out = names;
    *n_out = n;
    return 0;
}

static int read_fd(int fd, const char *path, char **data, size_t *len, char **err)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    for (;;) {
        /* read one byte past the cap to tell "at the cap" from "over it" */
        if (dapr__buf_reserve(&b, 65536)) {
            dapr__buf_free(&b);
            return errorf(err, DAPR_ENOMEM, "%s: out of memory", path);
        }
        ssize_t got = read(fd, b.data + b.len, 65536);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            dapr__buf_free(&b);
            return errorf(err, DAPR_EIO, "%s: %s", path, strerror(e));
        }
        if (got == 0)
            break;
        b.len += (size_t)got;
        if (b.len > MAX_FILE_SIZE) {
            dapr__buf_free(&b);
            return errorf(err, DAPR_ETOOBIG, "%s: file larger than %zu MiB", path,
                          MAX_FILE_SIZE >> 20);
        }
    }
    *data = dapr__buf_steal(&b, len);
    return 0;
}

/* Regular files only (symlinks followed, as mounted ConfigMaps use them);
 * *data NULL when the entry is something else. */
static int read_file(const char *path, char **data, size_t *len, char **err)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        return errorf(err, io_code(e), "%s: %s", path, strerror(e));
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st)) {
        int e = errno;
        rc = errorf(err, DAPR_EIO, "%s: %s", path, strerror(e));
    } else if (S_ISREG(st.st_mode)) {
        rc = read_fd(fd, path, data, len, err);
    }
    close(fd);
    return rc;
}

static int load_file(dapr__resources_t *r, const char *path, const dapr__logger_t *lg, char **err)
{
    char *data;
    size_t len;
    int rc = read_file(path, &data, &len, err);
    if (rc)
        return rc;
    if (!data) {
        if (lg)
            DAPR_LOG(lg, DAPR_LOG_DEBUG, SCOPE, "%s: not a regular file, skipped", path);
        return 0;
    }
    rc = dapr__resources_parse(r, path, data, len, lg, err);
    dapr__free(data);
    return rc;
}

int dapr__resources_load_dir(dapr__resources_t *r, const char *dir, const dapr__logger_t *lg,
                             char **err)
{
    char *local_err = NULL;
    char **e = err ? err : &local_err;
    char **names = NULL;
    size_t n = 0;
    *e = NULL;
    int rc = list_dir(dir, &names, &n, e);
    bool slash = *dir && dir[strlen(dir) - 1] == '/';
    for (size_t i = 0; i < n && !rc; i++) {
        dapr__buf_t path = DAPR__BUF_INIT;
        dapr__buf_printf(&path, "%s%s%s", dir, slash ? "" : "/", names[i]);
        char *p = buf_text(&path);
        if (!p)
            rc = errorf(e, DAPR_ENOMEM, "resources path %s: out of memory", dir);
        else
            rc = load_file(r, p, lg, e);
        dapr__free(p);
    }
    free_names(names, n);
    dapr__free(local_err);
    return rc;
}

/* ---- scopes and templates ---------------------------------------------- */

bool dapr__res_in_scope(char *const *scopes, size_t n_scopes, const char *app_id)
{
    if (!n_scopes)
        return true;
    for (size_t i = 0; i < n_scopes; i++)
        if (app_id && scopes[i] && !strcmp(scopes[i], app_id))
            return true;
    return false;
}

/* Append the value of the tag at p (which starts with '{'); returns the tag
 * length, or 0 when p does not start a known tag. */
static size_t expand_tag(dapr__buf_t *b, const char *p, const char *app_id, const char *ns)
{
    if (dapr__starts_with(p, "{uuid}")) {
        char u[37];
        dapr__uuid4(u);
        dapr__buf_puts(b, u);
        return 6;
    }
    if (dapr__starts_with(p, "{appID}")) {
        dapr__buf_puts(b, app_id ? app_id : "");
        return 7;
    }
    if (dapr__starts_with(p, "{namespace}")) {
        dapr__buf_puts(b, ns ? ns : "");
        return 11;
    }
    if (dapr__starts_with(p, "{podName}")) {
        char host[256] = "";
        if (gethostname(host, sizeof(host) - 1))
            host[0] = '\0';
        host[sizeof(host) - 1] = '\0';
        dapr__buf_puts(b, host);
        return 9;
    }
    return 0;
}

char *dapr__res_expand(const char *value, const char *app_id, const char *ns)
{
    if (!value)
        return NULL;
    dapr__buf_t b = DAPR__BUF_INIT;
    const char *p = value;
    while (*p) {
        size_t used = *p == '{' ? expand_tag(&b, p, app_id, ns) : 0;
        if (used) {
            p += used;
            continue;
        }
        const char *next = strchr(p + 1, '{');
        size_t n = next ? (size_t)(next - p) : strlen(p);
        dapr__buf_append(&b, p, n);
        p += n;
    }
    return buf_text(&b);
}
