/* Unit tests of the YAML reader (components/yaml.h) and the resources loader
 * (components/resources.h): Component fields, multi-document files, value
 * types, error lines, alias bombs, directories and template tags. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "components/resources.h"
#include "components/yaml.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "dapr/common.h"
#include "../testutil.h"

/* Parse text as file "f.yaml" into r; returns the code, err in *err. */
static int parse(dapr__resources_t *r, const char *yaml, char **err)
{
    return dapr__resources_parse(r, "f.yaml", yaml, strlen(yaml), NULL, err);
}

/* Parse text that must fail; returns the error text (caller frees). */
static char *parse_err(const char *yaml, int want_rc)
{
    dapr__resources_t r;
    dapr__resources_init(&r);
    char *err = NULL;
    int rc = parse(&r, yaml, &err);
    CHECK_EQ_INT(rc, want_rc);
    CHECK(err != NULL);
    dapr__resources_free(&r);
    return err;
}

static void check_err(const char *yaml, const char *want)
{
    char *err = parse_err(yaml, DAPR_EPARSE);
    if (err && !strstr(err, want)) {
        fprintf(stderr, "error text \"%s\" lacks \"%s\"\n", err, want);
        test_failures++;
    }
    dapr__free(err);
}

static const dapr__res_md_t *md_get(const dapr__res_component_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_md; i++)
        if (!strcmp(c->md[i].name, name))
            return &c->md[i];
    return NULL;
}

static const char *md_value(const dapr__res_component_t *c, const char *name)
{
    const dapr__res_md_t *m = md_get(c, name);
    return m ? m->value : NULL;
}

static const char full_component[] =
    "# a redis state store\n"          /* 1 */
    "apiVersion: dapr.io/v1alpha1\n"   /* 2 */
    "kind: Component\n"                /* 3 */
    "metadata:\n"                      /* 4 */
    "  name: statestore\n"             /* 5 */
    "  namespace: production\n"        /* 6 */
    "spec:\n"                          /* 7 */
    "  type: state.redis\n"            /* 8 */
    "  version: v2\n"                  /* 9 */
    "  initTimeout: 1m30s\n"           /* 10 */
    "  ignoreErrors: true\n"           /* 11 */
    "  metadata:\n"                    /* 12 */
    "  - name: redisHost\n"            /* 13 */
    "    value: localhost:6379\n"      /* 14 */
    "  - name: redisPassword\n"        /* 15 */
    "    secretKeyRef:\n"              /* 16 */
    "      name: redis-secret\n"       /* 17 */
    "      key: password\n"            /* 18 */
    "  - name: actorStateStore\n"      /* 19 */
    "    value: \"true\"\n"            /* 20 */
    "auth:\n"                          /* 21 */
    "  secretStore: localsecrets\n"    /* 22 */
    "scopes:\n"                        /* 23 */
    "- app1\n"                         /* 24 */
    "- app2\n";                        /* 25 */

static void test_full_component(void)
{
    dapr__resources_t r;
    dapr__resources_init(&r);
    char *err = NULL;
    CHECK_EQ_INT(parse(&r, full_component, &err), 0);
    CHECK(err == NULL);
    CHECK_EQ_INT(r.n_components, 1);
    if (r.n_components != 1)
        goto out;
    const dapr__res_component_t *c = &r.components[0];
    CHECK_EQ_STR(c->file, "f.yaml");
    CHECK_EQ_INT(c->line, 2); /* implicit document: starts at its first token */
    CHECK_EQ_STR(c->name, "statestore");
    CHECK_EQ_STR(c->namespace_, "production");
    CHECK_EQ_STR(c->type, "state.redis");
    CHECK_EQ_STR(c->version, "v2");
    CHECK_EQ_INT(c->init_timeout_ms, 90000);
    CHECK(c->ignore_errors);
    CHECK_EQ_STR(c->secret_store, "localsecrets");
    CHECK_EQ_INT(c->n_md, 3);
    if (c->n_md == 3) {
        CHECK_EQ_STR(c->md[0].name, "redisHost");
        CHECK_EQ_STR(c->md[0].value, "localhost:6379");
        CHECK_EQ_INT(c->md[0].line, 13);
        CHECK(!c->md[0].secret_name && !c->md[0].secret_key && !c->md[0].env_ref);
        CHECK_EQ_STR(c->md[1].name, "redisPassword");
        CHECK(c->md[1].value == NULL);
        CHECK_EQ_STR(c->md[1].secret_name, "redis-secret");
        CHECK_EQ_STR(c->md[1].secret_key, "password");
        CHECK_EQ_INT(c->md[1].line, 15);
        CHECK_EQ_STR(c->md[2].value, "true");
    }
    CHECK_EQ_INT(c->n_scopes, 2);
    if (c->n_scopes == 2) {
        CHECK_EQ_STR(c->scopes[0], "app1");
        CHECK_EQ_STR(c->scopes[1], "app2");
    }
    CHECK(dapr__res_in_scope(c->scopes, c->n_scopes, "app1"));
    CHECK(dapr__res_in_scope(c->scopes, c->n_scopes, "app2"));
    CHECK(!dapr__res_in_scope(c->scopes, c->n_scopes, "app3"));
    CHECK(!dapr__res_in_scope(c->scopes, c->n_scopes, "app"));
    CHECK(!dapr__res_in_scope(c->scopes, c->n_scopes, NULL));
    CHECK(dapr__res_in_scope(NULL, 0, "anyone"));
out:
    dapr__resources_free(&r);
    CHECK(r.components == NULL && r.n_components == 0);
}

/* Collects log lines so the test can see what the loader skipped. */
static void log_sink(void *ud, dapr_log_level_t lvl, const char *line, size_t len)
{
    dapr__buf_append(ud, line, len);
    dapr__buf_putc(ud, '\n');
}

static void test_multi_document(void)
{
    static const char yaml[] =
        "apiVersion: dapr.io/v1alpha1\n"    /* 1 */
        "kind: Component\n"                 /* 2 */
        "metadata: {name: first}\n"         /* 3 */
        "spec: {type: state.in-memory}\n"   /* 4 */
        "---\n"                             /* 5 */
        "apiVersion: dapr.io/v2alpha1\n"    /* 6 */
        "kind: Subscription\n"              /* 7 */
        "metadata:\n"                       /* 8 */
        "  name: orders\n"                  /* 9 */
        "spec:\n"                           /* 10 */
        "  pubsubname: pubsub\n"            /* 11 */
        "  topic: orders\n"                 /* 12 */
        "  routes: {default: /orders}\n"    /* 13 */
        "---\n"                             /* 14 */
        "---\n"                             /* 15 */
        "# just a comment\n"                /* 16 */
        "---\n"                             /* 17 */
        "apiVersion: v1\n"                  /* 18 */
        "kind: ConfigMap\n"                 /* 19 */
        "metadata: {name: cm}\n"            /* 20 */
        "--- # a list is not a resource\n"  /* 21 */
        "- a\n"                             /* 22 */
        "---\n"                             /* 23 */
        "apiVersion: dapr.io/v1alpha1\n"    /* 24 */
        "kind: Component\n"                 /* 25 */
        "metadata:\n"                       /* 26 */
        "  name: second\n"                  /* 27 */
        "spec:\n"                           /* 28 */
        "  type: pubsub.redis\n"            /* 29 */
        "---\n";                            /* 30 */
    dapr__resources_t r;
    dapr__resources_init(&r);
    dapr__logger_t lg;
    dapr__logger_init(&lg);
    dapr__buf_t logs = DAPR__BUF_INIT;
    lg.level = DAPR_LOG_DEBUG;
    lg.sink = log_sink;
    lg.sink_ud = &logs;
    char *err = NULL;
    CHECK_EQ_INT(dapr__resources_parse(&r, "multi.yaml", yaml, strlen(yaml), &lg, &err), 0);
    CHECK(err == NULL);
    CHECK_EQ_INT(r.n_components, 2);
    if (r.n_components == 2) {
        CHECK_EQ_STR(r.components[0].name, "first");
        CHECK_EQ_STR(r.components[0].type, "state.in-memory");
        CHECK_EQ_INT(r.components[0].line, 1);
        CHECK_EQ_STR(r.components[1].name, "second");
        CHECK_EQ_STR(r.components[1].type, "pubsub.redis");
        CHECK_EQ_INT(r.components[1].line, 23); /* its `---` */
    }
    dapr__buf_cstr(&logs);
    CHECK_EQ_INT(r.n_subscriptions, 1); /* kind: Subscription is loaded now */
    if (r.n_subscriptions == 1) {
        CHECK_EQ_STR(r.subscriptions[0].name, "orders");
        CHECK_EQ_STR(r.subscriptions[0].topic, "orders");
        CHECK_EQ_STR(r.subscriptions[0].default_path, "/orders");
        CHECK_EQ_INT(r.subscriptions[0].line, 5);
    }
    CHECK(logs.data && strstr(logs.data, "scope=dapr.runtime.resources"));
    CHECK(logs.data && strstr(logs.data, "skipping ConfigMap"));
    dapr__buf_free(&logs);
    dapr__resources_free(&r);
}

static void test_value_types(void)
{
    static const char yaml[] =
        "apiVersion: dapr.io/v1alpha1\n"
        "kind: Component\n"
        "metadata:\n"
        "  name: types\n"
        "spec:\n"
        "  type: bindings.http\n"
        "  metadata:\n"
        "  - {name: int, value: 42}\n"
        "  - {name: neg, value: -7}\n"
        "  - {name: float, value: 1.50}\n"
        "  - {name: bool, value: true}\n"
        "  - {name: dq, value: \"007\"}\n"
        "  - {name: sq, value: 'it''s'}\n"
        "  - {name: esc, value: \"a\\tb\\u00e9\"}\n"
        "  - {name: empty, value: \"\"}\n"
        "  - {name: nullv, value: ~}\n"
        "  - {name: novalue}\n"
        "  - name: literal\n"
        "    value: |\n"
        "      line one\n"
        "        indented\n"
        "      line three\n"
        "  - name: folded\n"
        "    value: >-\n"
        "      folded\n"
        "      text\n"
        "  - name: map\n"
        "    value:\n"
        "      b: 2\n"
        "      a: [1, \"x\", true, null, 1.50, yes, 0x1F, \"<&>\"]\n"
        "      c: {nested: 'q'}\n"
        "  - name: seq\n"
        "    value: [one, 2, false]\n"
        "  - name: emptymap\n"
        "    value: {}\n"
        "  - name: env\n"
        "    envRef: HOME_DIR\n"
        "  - name: ref\n"
        "    secretKeyRef: {name: only-name}\n";
    dapr__resources_t r;
    dapr__resources_init(&r);
    char *err = NULL;
    CHECK_EQ_INT(parse(&r, yaml, &err), 0);
    if (err)
        fprintf(stderr, "unexpected error: %s\n", err);
    CHECK_EQ_INT(r.n_components, 1);
    if (r.n_components == 1) {
        const dapr__res_component_t *c = &r.components[0];
        CHECK_EQ_INT(c->n_md, 17);
        CHECK_EQ_STR(md_value(c, "int"), "42");
        CHECK_EQ_STR(md_value(c, "neg"), "-7");
        CHECK_EQ_STR(md_value(c, "float"), "1.50");
        CHECK_EQ_STR(md_value(c, "bool"), "true");
        CHECK_EQ_STR(md_value(c, "dq"), "007");
        CHECK_EQ_STR(md_value(c, "sq"), "it's");
        CHECK_EQ_STR(md_value(c, "esc"), "a\tb\xc3\xa9");
        CHECK_EQ_STR(md_value(c, "empty"), "");
        CHECK_EQ_STR(md_value(c, "nullv"), "");
        CHECK_EQ_STR(md_value(c, "novalue"), "");
        CHECK_EQ_STR(md_value(c, "literal"), "line one\n  indented\nline three\n");
        CHECK_EQ_STR(md_value(c, "folded"), "folded text");
        CHECK_EQ_STR(md_value(c, "map"),
                     "{\"a\":[1,\"x\",true,null,1.5,true,31,\"\\u003c\\u0026\\u003e\"],"
                     "\"b\":2,\"c\":{\"nested\":\"q\"}}");
        CHECK_EQ_STR(md_value(c, "seq"), "[\"one\",2,false]");
        CHECK_EQ_STR(md_value(c, "emptymap"), "{}");
        const dapr__res_md_t *m = md_get(c, "env");
        CHECK(m && !m->value && m->env_ref && !strcmp(m->env_ref, "HOME_DIR"));
        m = md_get(c, "ref");
        CHECK(m && !m->value && m->secret_name && !strcmp(m->secret_name, "only-name"));
        CHECK(m && m->secret_key && !strcmp(m->secret_key, "only-name"));
    }
    dapr__resources_free(&r);
}

static void test_defaults_and_spellings(void)
{
    static const char yaml[] = "apiVersion: dapr.io/v1alpha1\n"
                               "kind: Component\n"
                               "metadata:\n"
                               "  name: plain\n"
                               "spec:\n"
                               "  type: secretstores.local.env\n"
                               "auth:\n"
                               "  secretstore: lower\n";
    dapr__resources_t r;
    dapr__resources_init(&r);
    char *err = NULL;
    CHECK_EQ_INT(parse(&r, yaml, &err), 0);
    CHECK_EQ_INT(r.n_components, 1);
    if (r.n_components == 1) {
        const dapr__res_component_t *c = &r.components[0];
        CHECK_EQ_STR(c->version, "v1");
        CHECK_EQ_INT(c->init_timeout_ms, 5000);
        CHECK(!c->ignore_errors);
        CHECK(c->namespace_ == NULL);
        CHECK_EQ_STR(c->secret_store, "lower");
        CHECK_EQ_INT(c->n_md, 0);
        CHECK(c->md == NULL);
        CHECK_EQ_INT(c->n_scopes, 0);
        CHECK(dapr__res_in_scope(c->scopes, c->n_scopes, "whoever"));
    }
    /* a Component of another apiVersion and a doc without kind are skipped */
    static const char other[] = "apiVersion: example.com/v1\nkind: Component\n"
                                "metadata: {name: x}\nspec: {type: state.redis}\n"
                                "---\nfoo: bar\n---\nplain scalar\n";
    CHECK_EQ_INT(parse(&r, other, &err), 0);
    CHECK_EQ_INT(r.n_components, 1);
    /* and an empty input is no error */
    CHECK_EQ_INT(dapr__resources_parse(&r, "e.yaml", "", 0, NULL, &err), 0);
    CHECK_EQ_INT(r.n_components, 1);
    dapr__resources_free(&r);
}

#define HDR "apiVersion: dapr.io/v1alpha1\nkind: Component\n" /* lines 1-2 */

static void test_errors(void)
{
    check_err(HDR "metadata:\n"       /* 3 */
                  "  namespace: x\n"  /* 4 */
                  "spec:\n"           /* 5 */
                  "  type: state.redis\n",
              "f.yaml:3: component: metadata.name is required");
    check_err(HDR "spec:\n  type: state.redis\n", "f.yaml:1: component: metadata.name is required");
    check_err(HDR "metadata:\n"           /* 3 */
                  "  name: statestore\n"  /* 4 */
                  "spec:\n"               /* 5 */
                  "  version: v1\n"       /* 6 */
                  "  metadata: []\n",     /* 7 */
              "f.yaml:5: component statestore: spec.type is required");
    check_err(HDR "metadata:\n"           /* 3 */
                  "  name: statestore\n"  /* 4 */
                  "spec:\n"               /* 5 */
                  "  type: state.redis\n" /* 6 */
                  "  initTimeout: 5 seconds\n", /* 7 */
              "f.yaml:7: component statestore: spec.initTimeout: invalid duration \"5 seconds\"");
    check_err(HDR "metadata: {name: s}\nspec:\n  type: state.redis\n  initTimeout: 10\n",
              "f.yaml:6: component s: spec.initTimeout");
    check_err(HDR "metadata: {name: s}\nspec:\n  type: state.redis\n  initTimeout: -1s\n",
              "f.yaml:6: component s: spec.initTimeout: must be positive");
    check_err(HDR "metadata: {name: s}\nspec:\n  type: state.redis\n  ignoreErrors: maybe\n",
              "f.yaml:6: component s: spec.ignoreErrors: invalid boolean");
    check_err(HDR "metadata:\n"             /* 3 */
                  "  name: statestore\n"    /* 4 */
                  "spec:\n"                 /* 5 */
                  "  type: state.redis\n"   /* 6 */
                  "  metadata:\n"           /* 7 */
                  "  - name: a\n"           /* 8 */
                  "    value: b\n"          /* 9 */
                  "  - value: nameless\n",  /* 10 */
              "f.yaml:10: component statestore: spec.metadata[1]: name is required");
    check_err(HDR "metadata: {name: s}\nspec:\n  type: state.redis\n  metadata: oops\n",
              "f.yaml:6: component s: spec.metadata must be a sequence, not a scalar");
    check_err(HDR "metadata: {name: s}\nspec:\n  type: [state.redis]\n",
              "f.yaml:5: component s: spec.type must be a string, not a sequence");
    check_err(HDR "metadata: {name: s}\nspec:\n  type: state.redis\n  metadata:\n"
                  "  - name: p\n    secretKeyRef: {key: k}\n",
              "f.yaml:8: component s: metadata p: secretKeyRef.name is required");
    check_err(HDR "metadata: {name: s}\nspec:\n  type: state.redis\n  metadata:\n"
                  "  - name: m\n    value: {[1]: 2}\n",
              "f.yaml:8: component s: metadata m: a sequence cannot be a JSON object key");
    check_err(HDR "metadata: {name: s}\nspec: {type: x}\nscopes: app1\n",
              "f.yaml:5: component s: scopes must be a sequence");
    check_err(HDR "metadata: [s]\n", "f.yaml:3: metadata must be a mapping, not a sequence");
}

static void test_yaml_errors(void)
{
    /* tab indentation: libyaml refuses the tab where a token must start */
    check_err(HDR "metadata:\n"          /* 3 */
                  "  name: x\n"          /* 4 */
                  "spec:\n"              /* 5 */
                  "\ttype: state.redis\n", /* 6 */
              "f.yaml:6: invalid YAML: found character that cannot start any token");
    /* an unclosed quote runs to the end of the stream */
    check_err(HDR "metadata:\n"          /* 3 */
                  "  name: \"x\n"        /* 4 */
                  "spec:\n"              /* 5 */
                  "  type: state.redis\n", /* 6 */
              "f.yaml:4: invalid YAML: found unexpected end of stream (while scanning a quoted "
              "scalar at line 4)");
    check_err(HDR "metadata: {name: x\n",
              "f.yaml:3: invalid YAML: did not find expected ',' or '}'");
    check_err("a: *nope\n", "f.yaml:1: invalid YAML: undefined alias \"nope\"");
    check_err("a: &x [*x]\n", "f.yaml:1: invalid YAML: undefined alias \"x\"");
    check_err("\xff\xfe\xfd", "invalid YAML:");
    check_err("ok: 1\nbad: \"\x01\"\n", "f.yaml:2: invalid YAML: control characters");

    /* nesting deeper than the cap */
    char deep[300];
    memset(deep, '[', 200);
    strcpy(deep + 200, "\n");
    check_err(deep, "f.yaml:1: invalid YAML: nesting deeper than 64 levels");

    /* a syntax error in a later document keeps the earlier components */
    static const char later[] = HDR "metadata: {name: good}\nspec: {type: state.redis}\n"
                                    "---\n"                 /* 5 */
                                    "key: [unclosed\n";     /* 6 */
    dapr__resources_t r;
    dapr__resources_init(&r);
    char *err = NULL;
    CHECK_EQ_INT(parse(&r, later, &err), DAPR_EPARSE);
    CHECK_EQ_INT(r.n_components, 1);
    CHECK(err && !strncmp(err, "f.yaml:6: invalid YAML:", 23)); /* where `[` opened */
    if (err && strncmp(err, "f.yaml:6: invalid YAML:", 23))
        fprintf(stderr, "got: %s\n", err);
    dapr__free(err);
    dapr__resources_free(&r);
}

static void test_alias_bomb(void)
{
    static const char bomb[] = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
                               "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                               "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                               "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                               "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                               "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                               "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                               "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
                               "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *err = parse_err(bomb, DAPR_EPARSE);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(err && strstr(err, "invalid YAML: document too large"));
    CHECK(err && !strncmp(err, "f.yaml:6:", 9)); /* f is where 100000 is crossed */
    if (err && strncmp(err, "f.yaml:6:", 9))
        fprintf(stderr, "got: %s\n", err);
    dapr__free(err);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK(ms < 1000);

    /* the same bomb hidden in a metadata value: the JSON walk stays bounded
     * because the parse refuses it first */
    static const char md_bomb[] = HDR "metadata: {name: s}\nspec:\n  type: state.redis\n"
                                      "  metadata:\n  - name: v\n    value:\n"
                                      "      a: &a [x,x,x,x,x,x,x,x,x,x]\n"
                                      "      b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                                      "      c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                                      "      d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                                      "      e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                                      "      f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";
    check_err(md_bomb, "document too large");

    /* deep nesting through aliases counts as nesting */
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_puts(&b, "a0: &a0 [x]\n");
    for (int i = 1; i < 70; i++)
        dapr__buf_printf(&b, "a%d: &a%d [*a%d]\n", i, i, i - 1);
    dapr__buf_cstr(&b);
    check_err(b.data, "nesting deeper than 64 levels (through alias");
    dapr__buf_free(&b);
}

static void test_anchors(void)
{
    static const char yaml[] = "x-common: &host redis:6379\n"
                               "x-tls: &tls {enableTLS: true, certs: [a, b]}\n"
                               HDR
                               "metadata:\n  name: anchored\n"
                               "spec:\n"
                               "  type: state.redis\n"
                               "  metadata:\n"
                               "  - {name: redisHost, value: *host}\n"
                               "  - {name: tls, value: *tls}\n";
    dapr__resources_t r;
    dapr__resources_init(&r);
    char *err = NULL;
    CHECK_EQ_INT(parse(&r, yaml, &err), 0);
    CHECK_EQ_INT(r.n_components, 1);
    if (r.n_components == 1) {
        CHECK_EQ_STR(md_value(&r.components[0], "redisHost"), "redis:6379");
        CHECK_EQ_STR(md_value(&r.components[0], "tls"),
                     "{\"certs\":[\"a\",\"b\"],\"enableTLS\":true}");
    }
    dapr__resources_free(&r);
}

static void test_yaml_reader(void)
{
    static const char text[] = "--- # first\n"            /* 1 */
                               "a: \"true\"\n"             /* 2 */
                               "b: true\n"                 /* 3 */
                               "c: !!str 5\n"              /* 4 */
                               "Nested:\n"                 /* 5 */
                               "  deep: {x: 1}\n"          /* 6 */
                               "b: last\n"                 /* 7 */
                               "...\n"                     /* 8 */
                               "--- [1, 2]\n";             /* 9 */
    dapr__yaml_stream_t s;
    dapr__yaml_err_t e;
    CHECK_EQ_INT(dapr__yaml_parse(&s, text, strlen(text), &e), 0);
    CHECK_EQ_INT(s.n_docs, 2);
    if (s.n_docs == 2) {
        const dapr__yaml_node_t *root = s.docs[0].root;
        CHECK_EQ_INT(s.docs[0].line, 1);
        CHECK_EQ_INT(s.docs[1].line, 9);
        CHECK(root->kind == DAPR__YAML_MAP && root->n == 5);
        const dapr__yaml_node_t *a = dapr__yaml_get(root, "a");
        CHECK(a && a->style == DAPR__YAML_DQUOTED && a->line == 2);
        CHECK(!dapr__yaml_is_null(a));
        CHECK_EQ_STR(dapr__yaml_path_str(root, "b"), "last"); /* last duplicate wins */
        const dapr__yaml_node_t *c = dapr__yaml_get(root, "c");
        CHECK(c && c->tag && !strcmp(c->tag, "tag:yaml.org,2002:str"));
        CHECK_EQ_STR(dapr__yaml_path_str(root, "Nested.deep.x"), "1");
        CHECK(dapr__yaml_path(root, "nested.deep") == NULL);
        const dapr__yaml_pair_t *p = dapr__yaml_find(root, "nested", true);
        CHECK(p && p->key->line == 5 && p->value->kind == DAPR__YAML_MAP);
        CHECK(dapr__yaml_str(p ? p->value : NULL) == NULL);
        CHECK_EQ_STR(dapr__yaml_kind_name(s.docs[1].root), "sequence");
        CHECK_EQ_INT(s.docs[1].root->n, 2);
        json_t *j = dapr__yaml_to_json(root, &e);
        CHECK(j && json_is_object(j));
        CHECK(j && json_is_string(json_object_get(j, "a")));
        CHECK(j && json_is_string(json_object_get(j, "b")));
        CHECK(j && json_is_string(json_object_get(j, "c")));
        json_decref(j);
    }
    dapr__yaml_free(&s);
    dapr__yaml_free(&s); /* idempotent */

    CHECK_EQ_INT(dapr__yaml_parse(&s, "a:\n\tb: 1\n", 9, &e), DAPR_EPARSE);
    CHECK_EQ_INT(e.line, 2);
    dapr__yaml_free(&s);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void rm_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    CHECK(remove(path) == 0);
}

static void test_load_dir(void)
{
    char dir[] = "/tmp/dapr-res-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    write_file(dir, "b.yaml", HDR "metadata: {name: bee}\nspec: {type: state.redis}\n");
    write_file(dir, "a.yml", HDR "metadata: {name: ay}\nspec: {type: pubsub.redis}\n");
    write_file(dir, "notes.txt", "this: is: not: yaml: [\n");
    write_file(dir, "c.yaml.bak", "\tbroken\n");
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/sub.yaml", dir);
    CHECK(mkdir(sub, 0700) == 0); /* a directory named like a file: skipped */

    dapr__resources_t r;
    dapr__resources_init(&r);
    char *err = NULL;
    CHECK_EQ_INT(dapr__resources_load_dir(&r, dir, NULL, &err), 0);
    if (err)
        fprintf(stderr, "unexpected error: %s\n", err);
    CHECK_EQ_INT(r.n_components, 2);
    if (r.n_components == 2) {
        char want[600];
        CHECK_EQ_STR(r.components[0].name, "ay");
        CHECK_EQ_STR(r.components[1].name, "bee");
        snprintf(want, sizeof(want), "%s/a.yml", dir);
        CHECK_EQ_STR(r.components[0].file, want);
    }
    dapr__resources_free(&r);

    /* a broken file: the error names its path and line; earlier files stay */
    write_file(dir, "z.yaml", HDR "metadata: {name: zed}\nspec: {ignoreErrors: true}\n");
    CHECK_EQ_INT(dapr__resources_load_dir(&r, dir, NULL, &err), DAPR_EPARSE);
    CHECK_EQ_INT(r.n_components, 2);
    char want[600];
    snprintf(want, sizeof(want), "%s/z.yaml:4: component zed: spec.type is required", dir);
    CHECK_EQ_STR(err, want);
    dapr__free(err);
    dapr__resources_free(&r);

    rm_file(dir, "z.yaml");
    rm_file(dir, "a.yml");
    rm_file(dir, "b.yaml");
    rm_file(dir, "notes.txt");
    rm_file(dir, "c.yaml.bak");
    CHECK(rmdir(sub) == 0);
    CHECK(rmdir(dir) == 0);

    /* the directory is gone now */
    CHECK_EQ_INT(dapr__resources_load_dir(&r, dir, NULL, &err), DAPR_ENOTFOUND);
    snprintf(want, sizeof(want), "resources path %s: No such file or directory", dir);
    CHECK_EQ_STR(err, want);
    dapr__free(err);
    CHECK_EQ_INT(r.n_components, 0);
    dapr__resources_free(&r);
}

static bool is_uuid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return false;
    }
    return s[14] == '4';
}

static void test_expand(void)
{
    char *v = dapr__res_expand("{appID}.{namespace}", "myapp", "prod");
    CHECK_EQ_STR(v, "myapp.prod");
    dapr__free(v);
    v = dapr__res_expand("id-{uuid}/{uuid}", "a", NULL);
    CHECK(v && strlen(v) == 3 + 36 + 1 + 36);
    if (v && strlen(v) == 76) {
        CHECK(!strncmp(v, "id-", 3) && v[39] == '/');
        CHECK(is_uuid(v + 3, 36) && is_uuid(v + 40, 36));
        CHECK(memcmp(v + 3, v + 40, 36) != 0); /* a fresh one each time */
    }
    dapr__free(v);
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    char want[300];
    snprintf(want, sizeof(want), "pod=%s", host);
    v = dapr__res_expand("pod={podName}", "a", "b");
    CHECK_EQ_STR(v, want);
    dapr__free(v);
    v = dapr__res_expand("{other}{ {appID", NULL, NULL);
    CHECK_EQ_STR(v, "{other}{ {appID");
    dapr__free(v);
    v = dapr__res_expand("{namespace}{appID}", NULL, NULL);
    CHECK_EQ_STR(v, "");
    dapr__free(v);
    v = dapr__res_expand("", "a", "b");
    CHECK_EQ_STR(v, "");
    dapr__free(v);
    CHECK(dapr__res_expand(NULL, "a", "b") == NULL);
}

/* Every allocation failure ends in DAPR_ENOMEM or success, never a crash or
 * a leak (LSan checks the latter). */
/* kind: Subscription, v2alpha1 and v1alpha1 shapes, and its errors. */
static void test_subscriptions(void)
{
    static const char yaml[] =
        "apiVersion: dapr.io/v2alpha1\n"
        "kind: Subscription\n"
        "metadata: {name: s2}\n"
        "spec:\n"
        "  pubsubname: pubsub\n"
        "  topic: orders\n"
        "  deadLetterTopic: poison\n"
        "  metadata: {rawPayload: \"true\", other: x}\n"
        "  bulkSubscribe: {enabled: true, maxMessagesCount: 10, maxAwaitDurationMs: 40}\n"
        "  routes:\n"
        "    rules:\n"
        "    - {match: 'event.type == \"a\"', path: /a}\n"
        "    - {path: /b}\n"
        "    default: /d\n"
        "scopes: [app1]\n"
        "---\n"
        "apiVersion: dapr.io/v1alpha1\n"
        "kind: Subscription\n"
        "metadata: {name: s1}\n"
        "spec: {pubsubname: p, topic: t, route: /r}\n";
    dapr__resources_t r;
    dapr__resources_init(&r);
    char *err = NULL;
    CHECK_EQ_INT(parse(&r, yaml, &err), 0);
    CHECK_EQ_INT(r.n_subscriptions, 2);
    if (r.n_subscriptions == 2) {
        const dapr__res_subscription_t *s = &r.subscriptions[0];
        CHECK_EQ_STR(s->name, "s2");
        CHECK_EQ_STR(s->pubsubname, "pubsub");
        CHECK_EQ_STR(s->dead_letter, "poison");
        CHECK_EQ_INT(s->n_md, 2);
        CHECK_EQ_STR(s->md_keys[0], "rawPayload");
        CHECK_EQ_STR(s->md_vals[0], "true");
        CHECK(s->bulk_enabled);
        CHECK_EQ_INT(s->bulk_max_count, 10);
        CHECK_EQ_INT(s->bulk_max_await_ms, 40);
        CHECK_EQ_INT(s->n_rules, 2);
        CHECK_EQ_STR(s->rules[0].match, "event.type == \"a\"");
        CHECK_EQ_STR(s->rules[0].path, "/a");
        CHECK(s->rules[1].match == NULL);
        CHECK_EQ_STR(s->default_path, "/d");
        CHECK_EQ_INT(s->n_scopes, 1);
        CHECK_EQ_STR(r.subscriptions[1].default_path, "/r");
        CHECK_EQ_INT(r.subscriptions[1].n_rules, 0);
    }
    dapr__resources_free(&r);
    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"kind: Subscription\napiVersion: dapr.io/v2alpha1\nmetadata: {name: x}\nspec: {topic: t}\n",
         "f.yaml:1: subscription x: spec.pubsubname is required"},
        {"kind: Subscription\napiVersion: dapr.io/v2alpha1\nmetadata: {name: x}\nspec: {pubsubname: p}\n",
         "spec.topic is required"},
        {"kind: Subscription\napiVersion: dapr.io/v2alpha1\nmetadata: {name: x}\n"
         "spec: {pubsubname: p, topic: t, bulkSubscribe: {enabled: maybe}}\n",
         "bulkSubscribe.enabled: invalid value"},
        {"kind: Subscription\napiVersion: dapr.io/v2alpha1\nmetadata: {name: x}\n"
         "spec: {pubsubname: p, topic: t, routes: {rules: [{match: a}]}}\n",
         "path is required"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        dapr__resources_init(&r);
        CHECK_EQ_INT(parse(&r, bad[i].yaml, &err), DAPR_EPARSE);
        CHECK(err && strstr(err, bad[i].want));
        if (err && !strstr(err, bad[i].want))
            fprintf(stderr, "got: %s\n", err);
        dapr__free(err);
        dapr__resources_free(&r);
    }
}

static void test_alloc_failures(void)
{
    int ok = 0;
    for (long n = 0; n < 2000 && !ok; n++) {
        dapr__resources_t r;
        dapr__resources_init(&r);
        char *err = NULL;
        dapr__alloc_fail_after(n);
        int rc = parse(&r, full_component, &err);
        dapr__alloc_fail_after(-1);
        if (rc == 0)
            ok = 1;
        else
            CHECK_EQ_INT(rc, DAPR_ENOMEM);
        if (rc == 0)
            CHECK_EQ_INT(r.n_components, 1);
        dapr__free(err);
        dapr__resources_free(&r);
    }
    CHECK(ok);
    for (long n = 0; n < 50; n++) {
        dapr__alloc_fail_after(n);
        char *v = dapr__res_expand("{appID}-{uuid}-tail", "app", "ns");
        dapr__alloc_fail_after(-1);
        dapr__free(v);
    }
}

int main(void)
{
    test_full_component();
    test_multi_document();
    test_value_types();
    test_defaults_and_spellings();
    test_errors();
    test_yaml_errors();
    test_alias_bomb();
    test_anchors();
    test_yaml_reader();
    test_load_dir();
    test_expand();
    test_subscriptions();
    test_alloc_failures();
    return test_result();
}
