/* `kind: Configuration` files → dapr__config_t (see configuration.h).
 *
 * Unlike the resources of --resources-path (read through JSON, so field
 * names fold case), Dapr's standalone loader decodes the Configuration file
 * with gopkg.in/yaml.v3: names match exactly, a key repeated in one mapping
 * fails the load, a bool field takes true/false (and YAML 1.1's yes/no/on/off)
 * and nothing else. This file follows those rules for the parts it applies.
 */
#include "components/configuration.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "components/resources_int.h"
#include "components/yaml.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/map.h"
#include "dapr/common.h"

#define SCOPE "dapr.runtime.config"
#define CONFIG_API "dapr.io/v1alpha1"
#define MAX_FILE_SIZE ((size_t)16 << 20)
#define NR "spec.nameResolution"

typedef dapr__yaml_node_t node_t;
typedef dapr__yaml_pair_t pair_t;
typedef dapr__res_ctx_t ctx_t;

/* Sections of Dapr 1.16's ConfigurationSpec that are read but not applied. */
static const char *const ignored_sections[] = {
    "httpPipeline", "appHttpPipeline", "tracing", "mtls", "metric", "metrics", "secrets",
    "accessControl", "api", "components", "logging", "wasm", "workflow"};

/* ---- small helpers ------------------------------------------------------ */

static bool key_eq(const node_t *k, const char *s)
{
    size_t n = strlen(s);
    return k->kind == DAPR__YAML_SCALAR && k->len == n && !memcmp(k->text, s, n);
}

static void warnf(const ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warnf(const ctx_t *c, const char *fmt, ...)
{
    if (!c->lg || !dapr__log_on(c->lg, DAPR_LOG_WARN))
        return;
    va_list ap;
    va_start(ap, fmt);
    dapr__vlog(c->lg, DAPR_LOG_WARN, SCOPE, fmt, ap);
    va_end(ap);
}

static void debugf(const ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void debugf(const ctx_t *c, const char *fmt, ...)
{
    if (!c->lg || !dapr__log_on(c->lg, DAPR_LOG_DEBUG))
        return;
    va_list ap;
    va_start(ap, fmt);
    dapr__vlog(c->lg, DAPR_LOG_DEBUG, SCOPE, fmt, ap);
    va_end(ap);
}

/* Text of a scalar key (a key that is a collection is named by its kind). */
static const char *key_text(const node_t *k)
{
    return k->kind == DAPR__YAML_SCALAR ? k->text : dapr__yaml_kind_name(k);
}

static int dup_error(const ctx_t *c, const char *path, const node_t *k, const node_t *first)
{
    return dapr__res_fail(c, k->line, "%s: mapping key \"%s\" already defined at line %d", path,
                          k->text, first->line);
}

/* yaml.v3 refuses a key defined twice in one mapping; so do we. Small
 * mappings compare pairwise, big ones go through a hash map. */
static int check_dups(const ctx_t *c, const node_t *map, const char *path)
{
    if (map->n <= 16) {
        for (size_t i = 1; i < map->n; i++) {
            const node_t *k = map->pairs[i].key;
            if (k->kind != DAPR__YAML_SCALAR)
                continue;
            for (size_t j = 0; j < i; j++) {
                const node_t *o = map->pairs[j].key;
                if (o->kind == DAPR__YAML_SCALAR && o->len == k->len &&
                    !memcmp(o->text, k->text, k->len))
                    return dup_error(c, path, k, o);
            }
        }
        return 0;
    }
    dapr__map_t seen;
    dapr__map_init(&seen);
    int rc = 0;
    for (size_t i = 0; i < map->n && !rc; i++) {
        const node_t *k = map->pairs[i].key;
        if (k->kind != DAPR__YAML_SCALAR)
            continue;
        const node_t *o = dapr__map_get(&seen, k->text, k->len);
        if (o)
            rc = dup_error(c, path, k, o);
        else if (dapr__map_put(&seen, k->text, k->len, (void *)k, NULL))
            rc = dapr__res_nomem(c);
    }
    dapr__map_free(&seen);
    return rc;
}

/* A string field: any scalar as written; NULL for null. */
static int scalar_text(const ctx_t *c, const node_t *v, const char *what, const char **out)
{
    *out = NULL;
    if (dapr__yaml_is_null(v))
        return 0;
    if (v->kind != DAPR__YAML_SCALAR)
        return dapr__res_fail(c, v->line, "%s must be a string, not a %s", what,
                              dapr__yaml_kind_name(v));
    *out = v->text;
    return 0;
}

/* Replace *dst with a copy of s when s is set (null keeps the old value,
 * as yaml.v3 leaves a string field alone on null). */
static int set_text(const ctx_t *c, const node_t *v, const char *what, char **dst)
{
    const char *s;
    char *copy;
    int rc = scalar_text(c, v, what, &s);
    if (rc || !s)
        return rc;
    if ((rc = dapr__res_dup(c, s, &copy)))
        return rc;
    dapr__free(*dst);
    *dst = copy;
    return 0;
}

/* A bool field as yaml.v3 decodes one: plain true/True/TRUE/false/...,
 * or one of YAML 1.1's words (in any quoting); null is false. */
static int scalar_bool(const ctx_t *c, const node_t *v, const char *what, bool *out)
{
    static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF"};
    *out = false;
    if (dapr__yaml_is_null(v))
        return 0;
    if (v->kind != DAPR__YAML_SCALAR)
        return dapr__res_fail(c, v->line, "%s must be a boolean, not a %s", what,
                              dapr__yaml_kind_name(v));
    bool plain = v->style == DAPR__YAML_PLAIN &&
                 (!v->tag || !strcmp(v->tag, "tag:yaml.org,2002:bool"));
    if (plain && (!strcmp(v->text, "true") || !strcmp(v->text, "True") ||
                  !strcmp(v->text, "TRUE"))) {
        *out = true;
        return 0;
    }
    if (plain && (!strcmp(v->text, "false") || !strcmp(v->text, "False") ||
                  !strcmp(v->text, "FALSE")))
        return 0;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!strcmp(v->text, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcmp(v->text, no[i]))
            return 0;
    }
    return dapr__res_fail(c, v->line, "%s: cannot read \"%s\" as a boolean (use true or false)",
                          what, v->text);
}

/* ---- spec.nameResolution ------------------------------------------------ */

static void free_nr_md(dapr__config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_nr_md; i++) {
        dapr__free((char *)cfg->nr_md[i].key);
        dapr__free((char *)cfg->nr_md[i].value);
    }
    dapr__free(cfg->nr_md);
    cfg->nr_md = NULL;
    cfg->n_nr_md = 0;
}

static void free_nr(dapr__config_t *cfg)
{
    dapr__free(cfg->nr_component);
    dapr__free(cfg->nr_version);
    cfg->nr_component = cfg->nr_version = NULL;
    free_nr_md(cfg);
}

/* Compact JSON of a collection, keys sorted (Go's json.Marshal). */
static int json_text(const ctx_t *c, const char *key, const node_t *v, char **out)
{
    dapr__yaml_err_t ye;
    json_t *j = dapr__yaml_to_json(v, &ye);
    if (!j)
        return ye.line ? dapr__res_fail(c, ye.line, NR ".configuration.%s: %s", key, ye.msg)
                       : dapr__res_nomem(c);
    dapr__buf_t b = DAPR__BUF_INIT;
    int rc = dapr__json_go_encode(j, &b);
    json_decref(j);
    if (rc || b.oom || dapr__buf_cstr(&b)) {
        dapr__buf_free(&b);
        return dapr__res_nomem(c);
    }
    b.data[b.len] = '\0';
    *out = dapr__buf_steal(&b, NULL);
    return 0;
}

static int flatten_value(const ctx_t *c, const pair_t *p, char **out)
{
    const node_t *v = p->value;
    if (dapr__yaml_is_null(v))
        return dapr__res_dup(c, "", out);
    if (v->kind == DAPR__YAML_SCALAR)
        return dapr__res_dup(c, v->text, out);
    return json_text(c, p->key->text, v, out);
}

/* spec.nameResolution.configuration: replaces what an earlier file set. */
static int parse_nr_config(const ctx_t *c, const node_t *v, dapr__config_t *cfg)
{
    free_nr_md(cfg);
    if (dapr__yaml_is_null(v))
        return 0;
    if (v->kind != DAPR__YAML_MAP)
        return dapr__res_fail(c, v->line, NR ".configuration must be a mapping, not a %s",
                              dapr__yaml_kind_name(v));
    int rc = check_dups(c, v, NR ".configuration");
    if (rc || !v->n)
        return rc;
    if (!(cfg->nr_md = dapr__calloc(v->n, sizeof(*cfg->nr_md))))
        return dapr__res_nomem(c);
    for (size_t i = 0; i < v->n; i++) {
        const pair_t *p = &v->pairs[i];
        if (p->key->kind != DAPR__YAML_SCALAR)
            return dapr__res_fail(c, p->key->line,
                                  NR ".configuration: a key must be a string, not a %s",
                                  dapr__yaml_kind_name(p->key));
        dapr_kv_t *kv = &cfg->nr_md[i];
        cfg->n_nr_md = i + 1; /* so a partial pair is freed too */
        char *k = NULL, *val = NULL;
        if ((rc = dapr__res_dup(c, p->key->text, &k)))
            return rc;
        kv->key = k;
        if ((rc = flatten_value(c, p, &val)))
            return rc;
        kv->value = val;
    }
    return 0;
}

static int parse_nr(const ctx_t *c, const node_t *v, dapr__config_t *cfg)
{
    if (dapr__yaml_is_null(v)) { /* yaml.v3: null resets the pointer */
        free_nr(cfg);
        return 0;
    }
    if (v->kind != DAPR__YAML_MAP)
        return dapr__res_fail(c, v->line, NR " must be a mapping, not a %s",
                              dapr__yaml_kind_name(v));
    int rc = check_dups(c, v, NR);
    for (size_t i = 0; i < v->n && !rc; i++) {
        const pair_t *p = &v->pairs[i];
        if (key_eq(p->key, "component"))
            rc = set_text(c, p->value, NR ".component", &cfg->nr_component);
        else if (key_eq(p->key, "version"))
            rc = set_text(c, p->value, NR ".version", &cfg->nr_version);
        else if (key_eq(p->key, "configuration"))
            rc = parse_nr_config(c, p->value, cfg);
        else
            warnf(c, "%s:%d: unknown key " NR ".%s in the configuration (ignored)", c->file,
                  p->key->line, key_text(p->key));
    }
    return rc;
}

/* ---- spec.features ------------------------------------------------------ */

static void free_features(dapr__config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_features; i++)
        dapr__free(cfg->features[i].name);
    dapr__free(cfg->features);
    cfg->features = NULL;
    cfg->n_features = 0;
}

static int parse_feature(const ctx_t *c, const node_t *it, size_t idx, dapr__config_feature_t *f)
{
    char what[64];
    f->line = it->line;
    if (dapr__yaml_is_null(it)) /* an empty item is an empty FeatureSpec */
        return dapr__res_dup(c, "", &f->name);
    if (it->kind != DAPR__YAML_MAP)
        return dapr__res_fail(c, it->line,
                              "spec.features[%zu] must be a mapping of name and enabled, not a %s",
                              idx, dapr__yaml_kind_name(it));
    snprintf(what, sizeof(what), "spec.features[%zu]", idx);
    int rc = check_dups(c, it, what);
    const char *name = NULL;
    for (size_t i = 0; i < it->n && !rc; i++) {
        const pair_t *p = &it->pairs[i];
        if (key_eq(p->key, "name")) {
            snprintf(what, sizeof(what), "spec.features[%zu].name", idx);
            rc = scalar_text(c, p->value, what, &name);
        } else if (key_eq(p->key, "enabled")) {
            snprintf(what, sizeof(what), "spec.features[%zu].enabled", idx);
            rc = scalar_bool(c, p->value, what, &f->enabled);
        }
    }
    if (rc)
        return rc;
    return dapr__res_dup(c, name ? name : "", &f->name);
}

/* spec.features: replaces what an earlier file set (yaml.v3 replaces a
 * slice). */
static int parse_features(const ctx_t *c, const node_t *v, dapr__config_t *cfg)
{
    free_features(cfg);
    if (dapr__yaml_is_null(v))
        return 0;
    if (v->kind != DAPR__YAML_SEQ)
        return dapr__res_fail(c, v->line, "spec.features must be a sequence, not a %s",
                              dapr__yaml_kind_name(v));
    if (!v->n)
        return 0;
    if (!(cfg->features = dapr__calloc(v->n, sizeof(*cfg->features))))
        return dapr__res_nomem(c);
    for (size_t i = 0; i < v->n; i++) {
        cfg->n_features = i + 1; /* so a partial entry is freed too */
        int rc = parse_feature(c, v->items[i], i, &cfg->features[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* Dapr's Configuration.LoadFeatures, keeping the order of the file. */
static int compute_enabled(dapr__config_t *cfg)
{
    dapr__free(cfg->enabled);
    cfg->enabled = NULL;
    cfg->n_enabled = 0;
    if (!cfg->n_features)
        return 0;
    if (!(cfg->enabled = dapr__calloc(cfg->n_features, sizeof(*cfg->enabled))))
        return DAPR_ENOMEM;
    for (size_t i = 0; i < cfg->n_features; i++) {
        const dapr__config_feature_t *f = &cfg->features[i];
        if (!f->name || !*f->name)
            continue;
        size_t j = 0;
        while (j < cfg->n_enabled && strcmp(cfg->enabled[j], f->name))
            j++;
        if (f->enabled && j == cfg->n_enabled) {
            cfg->enabled[cfg->n_enabled++] = f->name;
        } else if (!f->enabled && j < cfg->n_enabled) {
            memmove(&cfg->enabled[j], &cfg->enabled[j + 1],
                    (cfg->n_enabled - j - 1) * sizeof(*cfg->enabled));
            cfg->n_enabled--;
        }
    }
    return 0;
}

/* ---- document ------------------------------------------------------------ */

static bool is_ignored_section(const node_t *k)
{
    for (size_t i = 0; i < sizeof(ignored_sections) / sizeof(ignored_sections[0]); i++)
        if (key_eq(k, ignored_sections[i]))
            return true;
    return false;
}

static int parse_spec(const ctx_t *c, const node_t *spec, dapr__config_t *cfg)
{
    if (dapr__yaml_is_null(spec))
        return 0;
    if (spec->kind != DAPR__YAML_MAP)
        return dapr__res_fail(c, spec->line, "spec must be a mapping, not a %s",
                              dapr__yaml_kind_name(spec));
    int rc = check_dups(c, spec, "spec");
    for (size_t i = 0; i < spec->n && !rc; i++) {
        const pair_t *p = &spec->pairs[i];
        if (key_eq(p->key, "nameResolution"))
            rc = parse_nr(c, p->value, cfg);
        else if (key_eq(p->key, "features"))
            rc = parse_features(c, p->value, cfg);
        else if (is_ignored_section(p->key))
            debugf(c, "%s:%d: configuration spec.%s is not applied by this version "
                   "(ignored)", c->file, p->key->line, p->key->text);
        else
            warnf(c, "%s:%d: unknown key spec.%s in the configuration (ignored)", c->file,
                  p->key->line, key_text(p->key));
    }
    return rc;
}

static int parse_meta(ctx_t *c, const node_t *meta, dapr__config_t *cfg)
{
    if (dapr__yaml_is_null(meta))
        return 0;
    if (meta->kind != DAPR__YAML_MAP)
        return dapr__res_fail(c, meta->line, "metadata must be a mapping, not a %s",
                              dapr__yaml_kind_name(meta));
    int rc = check_dups(c, meta, "metadata");
    const pair_t *p;
    if (!rc && (p = dapr__yaml_find(meta, "name", false)))
        rc = set_text(c, p->value, "metadata.name", &cfg->name);
    if (!rc && (p = dapr__yaml_find(meta, "namespace", false)))
        rc = set_text(c, p->value, "metadata.namespace", &cfg->namespace_);
    if (!rc && cfg->name && *cfg->name)
        c->comp = cfg->name;
    return rc;
}

static int parse_root(ctx_t *c, const dapr__yaml_doc_t *doc, dapr__config_t *cfg)
{
    const node_t *root = doc->root;
    if (dapr__yaml_is_null(root))
        return 0; /* an empty file: Dapr's defaults */
    if (root->kind != DAPR__YAML_MAP)
        return dapr__res_fail(c, root->line, "a Configuration must be a mapping, not a %s",
                              dapr__yaml_kind_name(root));
    int rc = check_dups(c, root, "document");
    const pair_t *p;
    const char *s;
    if (!rc && (p = dapr__yaml_find(root, "kind", false))) {
        rc = scalar_text(c, p->value, "kind", &s);
        if (!rc && s && strcmp(s, "Configuration"))
            rc = dapr__res_fail(c, p->value->line, "kind is \"%s\"; --config wants a file "
                                "with kind: Configuration", s);
    }
    if (!rc && (p = dapr__yaml_find(root, "apiVersion", false))) {
        rc = scalar_text(c, p->value, "apiVersion", &s);
        if (!rc && s && strcmp(s, CONFIG_API))
            warnf(c, "%s:%d: configuration apiVersion \"%s\" is not %s; read as %s", c->file,
                  p->value->line, s, CONFIG_API, CONFIG_API);
    }
    if (!rc && (p = dapr__yaml_find(root, "metadata", false)))
        rc = parse_meta(c, p->value, cfg);
    if (!rc && (p = dapr__yaml_find(root, "spec", false)))
        rc = parse_spec(c, p->value, cfg);
    return rc;
}

/* ---- public ---------------------------------------------------------------- */

void dapr__config_init(dapr__config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
}

void dapr__config_free(dapr__config_t *cfg)
{
    if (!cfg)
        return;
    dapr__free(cfg->file);
    dapr__free(cfg->name);
    dapr__free(cfg->namespace_);
    free_nr(cfg);
    free_features(cfg);
    dapr__free(cfg->enabled);
    dapr__config_init(cfg);
}

int dapr__config_parse(dapr__config_t *cfg, const char *file, const char *data, size_t len,
                       const dapr__logger_t *lg, char **err)
{
    char *local_err = NULL;
    ctx_t c = {file ? file : "(input)", lg, err ? err : &local_err, "configuration", NULL};
    *c.err = NULL;
    dapr__yaml_stream_t s;
    dapr__yaml_err_t ye;
    int prc = dapr__yaml_parse(&s, data, len, &ye);
    int rc = 0;
    if (prc == DAPR_ENOMEM)
        rc = dapr__res_nomem(&c);
    else if (prc)
        rc = dapr__res_fail(&c, ye.line, "invalid YAML: %s", ye.msg);
    if (!rc && s.n_docs)
        rc = parse_root(&c, &s.docs[0], cfg); /* yaml.v3 reads the first document only */
    for (size_t i = 1; i < s.n_docs && !rc; i++)
        if (!dapr__yaml_is_null(s.docs[i].root))
            warnf(&c, "%s:%d: only the first document of a configuration file is read; this "
                  "one is ignored", c.file, s.docs[i].line);
    if (!rc && compute_enabled(cfg))
        rc = dapr__res_nomem(&c);
    char *f = NULL;
    if (!rc && !(rc = dapr__res_dup(&c, c.file, &f))) {
        dapr__free(cfg->file);
        cfg->file = f;
    }
    dapr__yaml_free(&s);
    dapr__free(local_err);
    return rc;
}

/* ---- os.ExpandEnv ------------------------------------------------------------ */

static bool shell_special(char ch)
{
    return strchr("*#$@!?-0123456789", ch) != NULL && ch != '\0';
}

static bool alnum_(char ch)
{
    return ch == '_' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
           (ch >= 'A' && ch <= 'Z');
}

/* Go's getShellName: the name after a '$' (s has n >= 1 bytes) and the
 * bytes it uses (*w); an empty name with *w > 0 is bad syntax. */
static void shell_name(const char *s, size_t n, size_t *off, size_t *len, size_t *w)
{
    *off = 0;
    *len = 0;
    if (s[0] == '{') {
        if (n > 2 && shell_special(s[1]) && s[2] == '}') {
            *off = 1, *len = 1, *w = 3;
            return;
        }
        for (size_t i = 1; i < n; i++) {
            if (s[i] == '}') {
                if (i == 1) {
                    *w = 2; /* "${}" */
                    return;
                }
                *off = 1, *len = i - 1, *w = i + 1;
                return;
            }
        }
        *w = 1; /* "${" without '}' */
        return;
    }
    if (shell_special(s[0])) {
        *len = 1, *w = 1;
        return;
    }
    size_t i = 0;
    while (i < n && alnum_(s[i]))
        i++;
    *len = i, *w = i;
}

char *dapr__config_expand_env(const char *s, size_t n, size_t *out_len)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    size_t i = 0;
    for (size_t j = 0; j < n; j++) {
        if (s[j] != '$' || j + 1 >= n)
            continue;
        dapr__buf_append(&b, s + i, j - i);
        size_t off, len, w;
        shell_name(s + j + 1, n - j - 1, &off, &len, &w);
        if (!len && !w) {
            dapr__buf_putc(&b, '$'); /* '$' not followed by a name stays */
        } else if (len) {
            char *name = dapr__strndup(s + j + 1 + off, len);
            if (!name) {
                dapr__buf_free(&b);
                return NULL;
            }
            const char *v = getenv(name);
            dapr__free(name);
            if (v)
                dapr__buf_puts(&b, v);
        }
        j += w;
        i = j + 1;
    }
    if (i < n)
        dapr__buf_append(&b, s + i, n - i);
    if (b.oom || dapr__buf_cstr(&b)) {
        dapr__buf_free(&b);
        return NULL;
    }
    b.data[b.len] = '\0';
    return dapr__buf_steal(&b, out_len);
}

/* ---- files ---------------------------------------------------------------------- */

static int io_fail(char **err, int code, const char *path, const char *why)
{
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_printf(&b, "%s: %s", path, why);
    dapr__free(*err);
    *err = NULL;
    if (!b.oom && !dapr__buf_cstr(&b)) {
        b.data[b.len] = '\0';
        *err = dapr__buf_steal(&b, NULL);
    } else {
        dapr__buf_free(&b);
    }
    return code;
}

static int read_all(const char *path, char **data, size_t *len, char **err)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return io_fail(err, e == ENOENT || e == ENOTDIR ? DAPR_ENOTFOUND : DAPR_EIO, path,
                       strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return io_fail(err, DAPR_EIO, path, "is a directory, not a configuration file");
    }
    dapr__buf_t b = DAPR__BUF_INIT;
    int rc = 0;
    for (;;) {
        if (dapr__buf_reserve(&b, 65536)) {
            rc = io_fail(err, DAPR_ENOMEM, path, "out of memory");
            break;
        }
        ssize_t got = read(fd, b.data + b.len, 65536);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = io_fail(err, DAPR_EIO, path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        b.len += (size_t)got;
        if (b.len > MAX_FILE_SIZE) {
            rc = io_fail(err, DAPR_ETOOBIG, path, "file larger than 16 MiB");
            break;
        }
    }
    close(fd);
    if (rc) {
        dapr__buf_free(&b);
        return rc;
    }
    *data = dapr__buf_steal(&b, len);
    return 0;
}

int dapr__config_load_file(dapr__config_t *cfg, const char *path, const dapr__logger_t *lg,
                           char **err)
{
    char *local_err = NULL;
    char **e = err ? err : &local_err;
    *e = NULL;
    char *raw;
    size_t n;
    int rc = read_all(path, &raw, &n, e);
    if (rc) {
        dapr__free(local_err);
        return rc;
    }
    size_t xn = 0;
    char *text = dapr__config_expand_env(raw ? raw : "", raw ? n : 0, &xn);
    dapr__free(raw);
    if (!text)
        rc = io_fail(e, DAPR_ENOMEM, path, "out of memory");
    else
        rc = dapr__config_parse(cfg, path, text, xn, lg, e);
    dapr__free(text);
    dapr__free(local_err);
    return rc;
}
