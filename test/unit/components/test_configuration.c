/* Unit tests of the Configuration resource reader (components/configuration.h):
 * a full example, features, nameResolution with nested configuration, files
 * applied on top of each other, environment expansion, and bad inputs
 * (file:line in every error). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "components/configuration.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "dapr/common.h"
#include "../testutil.h"

static int parse(dapr__config_t *cfg, const char *yaml, const dapr__logger_t *lg, char **err)
{
    return dapr__config_parse(cfg, "cfg.yaml", yaml, strlen(yaml), lg, err);
}

static const char *nr_md(const dapr__config_t *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n_nr_md; i++)
        if (!strcmp(cfg->nr_md[i].key, key))
            return cfg->nr_md[i].value;
    return NULL;
}

static void log_sink(void *ud, dapr_log_level_t lvl, const char *line, size_t len)
{
    dapr__buf_append(ud, line, len);
    dapr__buf_putc(ud, '\n');
}

static bool has(dapr__buf_t *b, const char *s)
{
    dapr__buf_cstr(b);
    return b->data && strstr(b->data, s);
}

/* Dapr's documented sidecar format, every section present. */
static const char full[] =
    "apiVersion: dapr.io/v1alpha1\n"                         /* 1 */
    "kind: Configuration\n"                                  /* 2 */
    "metadata:\n"                                            /* 3 */
    "  name: appconfig\n"                                    /* 4 */
    "  namespace: default\n"                                 /* 5 */
    "spec:\n"                                                /* 6 */
    "  api:\n"                                               /* 7 */
    "    allowed:\n"                                         /* 8 */
    "      - name: state\n"                                  /* 9 */
    "        version: v1.0\n"                                /* 10 */
    "        protocol: http\n"                               /* 11 */
    "  tracing:\n"                                           /* 12 */
    "    samplingRate: \"1\"\n"                              /* 13 */
    "    stdout: true\n"                                     /* 14 */
    "    otel:\n"                                            /* 15 */
    "      endpointAddress: localhost:4317\n"                /* 16 */
    "      isSecure: false\n"                                /* 17 */
    "      protocol: grpc\n"                                 /* 18 */
    "  metric:\n"                                            /* 19 */
    "    enabled: true\n"                                    /* 20 */
    "  httpPipeline:\n"                                      /* 21 */
    "    handlers:\n"                                        /* 22 */
    "      - name: oauth2\n"                                 /* 23 */
    "        type: middleware.http.oauth2\n"                 /* 24 */
    "  appHttpPipeline:\n"                                   /* 25 */
    "    handlers:\n"                                        /* 26 */
    "      - name: uppercase\n"                              /* 27 */
    "        type: middleware.http.uppercase\n"              /* 28 */
    "  nameResolution:\n"                                    /* 29 */
    "    component: sqlite\n"                                /* 30 */
    "    version: v1\n"                                      /* 31 */
    "    configuration:\n"                                   /* 32 */
    "      connectionString: /tmp/nr.db\n"                   /* 33 */
    "      updateInterval: 10s\n"                            /* 34 */
    "      disableWAL: false\n"                              /* 35 */
    "      timeout: 2\n"                                     /* 36 */
    "      empty:\n"                                         /* 37 */
    "      nested:\n"                                        /* 38 */
    "        b: 2\n"                                         /* 39 */
    "        a: [x, 1, true]\n"                              /* 40 */
    "      list: [one, two]\n"                               /* 41 */
    "  secrets:\n"                                           /* 42 */
    "    scopes:\n"                                          /* 43 */
    "      - storeName: localstore\n"                        /* 44 */
    "        defaultAccess: allow\n"                         /* 45 */
    "        deniedSecrets: [\"redis-password\"]\n"          /* 46 */
    "  accessControl:\n"                                     /* 47 */
    "    defaultAction: deny\n"                              /* 48 */
    "    trustDomain: public\n"                              /* 49 */
    "    policies:\n"                                        /* 50 */
    "      - appId: app1\n"                                  /* 51 */
    "        defaultAction: allow\n"                         /* 52 */
    "  features:\n"                                          /* 53 */
    "    - name: Resiliency\n"                               /* 54 */
    "      enabled: true\n"                                  /* 55 */
    "    - name: proxy.grpc\n"                               /* 56 */
    "      enabled: false\n"                                 /* 57 */
    "    - name: HotReload\n"                                /* 58 */
    "      enabled: yes\n"                                   /* 59 */
    "  tracingg: {}\n";                                      /* 60 */

static void test_full(void)
{
    dapr__config_t cfg;
    dapr__config_init(&cfg);
    dapr__logger_t lg;
    dapr__logger_init(&lg);
    dapr__buf_t logs = DAPR__BUF_INIT;
    lg.level = DAPR_LOG_DEBUG;
    lg.sink = log_sink;
    lg.sink_ud = &logs;
    char *err = NULL;
    CHECK_EQ_INT(parse(&cfg, full, &lg, &err), 0);
    CHECK(err == NULL);
    CHECK_EQ_STR(cfg.file, "cfg.yaml");
    CHECK_EQ_STR(cfg.name, "appconfig");
    CHECK_EQ_STR(cfg.namespace_, "default");
    CHECK_EQ_STR(cfg.nr_component, "sqlite");
    CHECK_EQ_STR(cfg.nr_version, "v1");
    CHECK_EQ_INT(cfg.n_nr_md, 7);
    CHECK_EQ_STR(nr_md(&cfg, "connectionString"), "/tmp/nr.db");
    CHECK_EQ_STR(nr_md(&cfg, "updateInterval"), "10s");
    CHECK_EQ_STR(nr_md(&cfg, "disableWAL"), "false");
    CHECK_EQ_STR(nr_md(&cfg, "timeout"), "2");
    CHECK_EQ_STR(nr_md(&cfg, "empty"), "");
    CHECK_EQ_STR(nr_md(&cfg, "nested"), "{\"a\":[\"x\",1,true],\"b\":2}");
    CHECK_EQ_STR(nr_md(&cfg, "list"), "[\"one\",\"two\"]");
    CHECK_EQ_INT(cfg.n_features, 3);
    if (cfg.n_features == 3) {
        CHECK_EQ_STR(cfg.features[0].name, "Resiliency");
        CHECK(cfg.features[0].enabled);
        CHECK_EQ_INT(cfg.features[0].line, 54);
        CHECK(!cfg.features[1].enabled);
        CHECK(cfg.features[2].enabled); /* yes: YAML 1.1, as yaml.v3 takes it */
    }
    CHECK_EQ_INT(cfg.n_enabled, 2);
    if (cfg.n_enabled == 2) {
        CHECK_EQ_STR(cfg.enabled[0], "Resiliency");
        CHECK_EQ_STR(cfg.enabled[1], "HotReload");
    }
    /* the sections not applied: one debug line each; an unknown key: a warning */
    CHECK(has(&logs, "cfg.yaml:7: configuration spec.api is not applied"));
    CHECK(has(&logs, "cfg.yaml:12: configuration spec.tracing is not applied"));
    CHECK(has(&logs, "spec.metric is not applied"));
    CHECK(has(&logs, "spec.httpPipeline is not applied"));
    CHECK(has(&logs, "spec.appHttpPipeline is not applied"));
    CHECK(has(&logs, "spec.secrets is not applied"));
    CHECK(has(&logs, "spec.accessControl is not applied"));
    CHECK(has(&logs, "level=warning") || has(&logs, "level=warn"));
    CHECK(has(&logs, "cfg.yaml:60: unknown key spec.tracingg in the configuration (ignored)"));
    CHECK(!has(&logs, "spec.nameResolution is not applied"));
    dapr__buf_free(&logs);
    dapr__config_free(&cfg);
    CHECK(cfg.name == NULL && cfg.n_features == 0 && cfg.enabled == NULL);
}

static void test_features(void)
{
    dapr__config_t cfg;
    dapr__config_init(&cfg);
    char *err = NULL;
    /* a later `enabled: false` removes an earlier one; empty names skipped;
     * an entry without `enabled` is disabled; null is the zero value */
    CHECK_EQ_INT(parse(&cfg,
                       "kind: Configuration\n"
                       "spec:\n"
                       "  features:\n"
                       "  - {name: A, enabled: true}\n"
                       "  - {name: B, enabled: TRUE}\n"
                       "  - {name: A, enabled: off}\n"
                       "  - {name: '', enabled: true}\n"
                       "  - {name: C}\n"
                       "  - {name: D, enabled: \"on\"}\n"
                       "  - {name: B, enabled: True}\n"
                       "  - ~\n"
                       "  - {name: E, enabled: ~}\n"
                       "  - {name: A, enabled: y}\n",
                       NULL, &err),
                 0);
    CHECK(err == NULL);
    CHECK_EQ_INT(cfg.n_features, 10);
    CHECK_EQ_INT(cfg.n_enabled, 3);
    if (cfg.n_enabled == 3) {
        CHECK_EQ_STR(cfg.enabled[0], "B");
        CHECK_EQ_STR(cfg.enabled[1], "D");
        CHECK_EQ_STR(cfg.enabled[2], "A");
    }
    /* no spec at all / empty features */
    dapr__config_free(&cfg);
    CHECK_EQ_INT(parse(&cfg, "kind: Configuration\nmetadata: {name: x}\n", NULL, &err), 0);
    CHECK_EQ_INT(cfg.n_enabled, 0);
    CHECK(cfg.nr_component == NULL && cfg.n_nr_md == 0);
    CHECK_EQ_INT(parse(&cfg, "spec: {features: []}\n", NULL, &err), 0);
    CHECK_EQ_INT(cfg.n_features, 0);
    dapr__config_free(&cfg);
    /* an empty file is a configuration with Dapr's defaults */
    CHECK_EQ_INT(parse(&cfg, "", NULL, &err), 0);
    CHECK_EQ_STR(cfg.file, "cfg.yaml");
    CHECK_EQ_INT(parse(&cfg, "# nothing\n", NULL, &err), 0);
    dapr__config_free(&cfg);
}

static void test_name_resolution(void)
{
    dapr__config_t cfg;
    dapr__config_init(&cfg);
    char *err = NULL;
    CHECK_EQ_INT(parse(&cfg,
                       "apiVersion: dapr.io/v1alpha1\n"
                       "kind: Configuration\n"
                       "spec:\n"
                       "  nameResolution:\n"
                       "    component: consul\n"
                       "    configuration:\n"
                       "      client:\n"
                       "        address: \"127.0.0.1:8500\"\n"
                       "      selfRegister: true\n"
                       "      tags: [dapr, v1]\n"
                       "      meta: {DAPR_METRICS_PORT: \"9090\"}\n"
                       "      checks:\n"
                       "        - name: \"Dapr Health Status\"\n"
                       "          interval: 15s\n"
                       "      quoted: \"007\"\n",
                       NULL, &err),
                 0);
    CHECK(err == NULL);
    CHECK_EQ_STR(cfg.nr_component, "consul");
    CHECK(cfg.nr_version == NULL); /* v1 is applied by the runtime */
    CHECK_EQ_INT(cfg.n_nr_md, 6);
    CHECK_EQ_STR(nr_md(&cfg, "client"), "{\"address\":\"127.0.0.1:8500\"}");
    CHECK_EQ_STR(nr_md(&cfg, "selfRegister"), "true");
    CHECK_EQ_STR(nr_md(&cfg, "tags"), "[\"dapr\",\"v1\"]");
    CHECK_EQ_STR(nr_md(&cfg, "meta"), "{\"DAPR_METRICS_PORT\":\"9090\"}");
    CHECK_EQ_STR(nr_md(&cfg, "checks"), "[{\"interval\":\"15s\",\"name\":\"Dapr Health Status\"}]");
    CHECK_EQ_STR(nr_md(&cfg, "quoted"), "007");

    /* a second file on top: what it sets replaces, the rest stays (yaml.v3
     * decoding into the same struct); configuration is replaced whole */
    CHECK_EQ_INT(dapr__config_parse(&cfg, "second.yaml",
                                    "metadata: {name: two}\n"
                                    "spec:\n"
                                    "  nameResolution:\n"
                                    "    version: v2\n"
                                    "    configuration: {connectionString: x.db}\n"
                                    "  features: [{name: F, enabled: true}]\n",
                                    strlen("metadata: {name: two}\n"
                                           "spec:\n"
                                           "  nameResolution:\n"
                                           "    version: v2\n"
                                           "    configuration: {connectionString: x.db}\n"
                                           "  features: [{name: F, enabled: true}]\n"),
                                    NULL, &err),
                 0);
    CHECK_EQ_STR(cfg.file, "second.yaml");
    CHECK_EQ_STR(cfg.name, "two");
    CHECK_EQ_STR(cfg.nr_component, "consul");
    CHECK_EQ_STR(cfg.nr_version, "v2");
    CHECK_EQ_INT(cfg.n_nr_md, 1);
    CHECK_EQ_STR(nr_md(&cfg, "connectionString"), "x.db");
    CHECK_EQ_INT(cfg.n_enabled, 1);
    /* null nameResolution resets it, as a nil pointer in Dapr */
    CHECK_EQ_INT(parse(&cfg, "spec: {nameResolution: ~}\n", NULL, &err), 0);
    CHECK(cfg.nr_component == NULL && cfg.nr_version == NULL && cfg.n_nr_md == 0);
    CHECK_EQ_INT(cfg.n_enabled, 1); /* untouched */
    /* an empty configuration mapping */
    CHECK_EQ_INT(parse(&cfg, "spec: {nameResolution: {component: mdns, configuration: {}}}\n",
                       NULL, &err),
                 0);
    CHECK_EQ_STR(cfg.nr_component, "mdns");
    CHECK_EQ_INT(cfg.n_nr_md, 0);
    dapr__config_free(&cfg);
}

/* Field names match exactly (yaml.v3), unlike --resources-path files. */
static void test_exact_names(void)
{
    dapr__config_t cfg;
    dapr__config_init(&cfg);
    dapr__logger_t lg;
    dapr__logger_init(&lg);
    dapr__buf_t logs = DAPR__BUF_INIT;
    lg.level = DAPR_LOG_INFO;
    lg.sink = log_sink;
    lg.sink_ud = &logs;
    char *err = NULL;
    CHECK_EQ_INT(parse(&cfg,
                       "kind: Configuration\n"
                       "spec:\n"
                       "  nameresolution: {component: sqlite}\n"
                       "  nameResolution:\n"
                       "    Component: sqlite\n"
                       "  Features: [{name: A, enabled: true}]\n",
                       &lg, &err),
                 0);
    CHECK(cfg.nr_component == NULL);
    CHECK_EQ_INT(cfg.n_features, 0);
    CHECK(has(&logs, "cfg.yaml:3: unknown key spec.nameresolution"));
    CHECK(has(&logs, "cfg.yaml:5: unknown key spec.nameResolution.Component"));
    CHECK(has(&logs, "cfg.yaml:6: unknown key spec.Features"));
    /* several documents: only the first is read */
    dapr__buf_free(&logs);
    CHECK_EQ_INT(parse(&cfg,
                       "kind: Configuration\n"
                       "spec: {features: [{name: First, enabled: true}]}\n"
                       "---\n"
                       "kind: Configuration\n"
                       "spec: {features: [{name: Second, enabled: true}]}\n"
                       "---\n",
                       &lg, &err),
                 0);
    CHECK_EQ_INT(cfg.n_enabled, 1);
    if (cfg.n_enabled)
        CHECK_EQ_STR(cfg.enabled[0], "First");
    CHECK(has(&logs, "cfg.yaml:3: only the first document"));
    dapr__buf_free(&logs);
    dapr__config_free(&cfg);
}

static void check_err(const char *yaml, const char *want)
{
    dapr__config_t cfg;
    dapr__config_init(&cfg);
    char *err = NULL;
    int rc = parse(&cfg, yaml, NULL, &err);
    CHECK_EQ_INT(rc, DAPR_EPARSE);
    if (!err || !strstr(err, want)) {
        fprintf(stderr, "error text \"%s\" lacks \"%s\"\n", err ? err : "(null)", want);
        test_failures++;
    }
    dapr__free(err);
    dapr__config_free(&cfg);
}

static void test_errors(void)
{
    check_err("kind: Configuration\n"
              "metadata: {name: c1}\n"
              "spec:\n"
              "  features:\n"
              "  - name: A\n"
              "    enabled: maybe\n",
              "cfg.yaml:6: configuration c1: spec.features[0].enabled: cannot read \"maybe\" as "
              "a boolean");
    /* a quoted "true" is a string to yaml.v3, not a bool */
    check_err("spec:\n  features:\n  - {name: A, enabled: \"true\"}\n",
              "cfg.yaml:3: spec.features[0].enabled: cannot read \"true\"");
    check_err("spec:\n  features:\n  - {name: A, enabled: [true]}\n",
              "cfg.yaml:3: spec.features[0].enabled must be a boolean, not a sequence");
    check_err("spec:\n  features:\n  - {name: {x: 1}}\n",
              "cfg.yaml:3: spec.features[0].name must be a string, not a mapping");
    check_err("spec:\n  features:\n  - Resiliency\n",
              "cfg.yaml:3: spec.features[0] must be a mapping of name and enabled, not a scalar");
    check_err("spec:\n  features: {name: A}\n",
              "cfg.yaml:2: spec.features must be a sequence, not a mapping");
    check_err("spec:\n  nameResolution: sqlite\n",
              "cfg.yaml:2: spec.nameResolution must be a mapping, not a scalar");
    check_err("spec:\n  nameResolution:\n    component: [sqlite]\n",
              "cfg.yaml:3: spec.nameResolution.component must be a string, not a sequence");
    check_err("spec:\n  nameResolution:\n    configuration:\n    - connectionString: x\n",
              "cfg.yaml:4: spec.nameResolution.configuration must be a mapping, not a sequence");
    check_err("spec:\n  nameResolution:\n    configuration:\n      ? [a]\n      : b\n",
              "cfg.yaml:4: spec.nameResolution.configuration: a key must be a string");
    check_err("metadata: {name: dup}\n"
              "spec:\n"
              "  nameResolution:\n"
              "    configuration:\n"
              "      connectionString: a.db\n"
              "      connectionString: b.db\n",
              "cfg.yaml:6: configuration dup: spec.nameResolution.configuration: mapping key "
              "\"connectionString\" already defined at line 5");
    check_err("spec:\n  features: []\n  features: []\n",
              "cfg.yaml:3: spec: mapping key \"features\" already defined at line 2");
    check_err("kind: Component\nmetadata: {name: statestore}\nspec: {type: state.redis}\n",
              "cfg.yaml:1: kind is \"Component\"; --config wants a file with kind: Configuration");
    check_err("- a\n- b\n", "cfg.yaml:1: a Configuration must be a mapping, not a sequence");
    check_err("kind: Configuration\nspec: [1]\n", "cfg.yaml:2: spec must be a mapping");
    check_err("kind: Configuration\nmetadata: [1]\n", "cfg.yaml:2: metadata must be a mapping");
    check_err("kind: Configuration\nspec:\n  features: [\n", "cfg.yaml:4: invalid YAML");
    check_err("kind: Configuration\nspec: {features: *nope}\n", "cfg.yaml:2: invalid YAML");

    /* big mappings take the hashed duplicate check */
    dapr__buf_t b = DAPR__BUF_INIT;
    dapr__buf_puts(&b, "spec:\n  nameResolution:\n    configuration:\n");
    for (int i = 0; i < 40; i++)
        dapr__buf_printf(&b, "      k%d: v%d\n", i, i);
    dapr__buf_puts(&b, "      k7: again\n");
    dapr__buf_cstr(&b);
    b.data[b.len] = '\0';
    check_err(b.data, "cfg.yaml:44: spec.nameResolution.configuration: mapping key \"k7\" "
                      "already defined at line 11");
    dapr__buf_free(&b);
}

static void test_expand_env(void)
{
    setenv("DAPR_CFG_T1", "one", 1);
    setenv("DAPR_CFG_T2", "", 1);
    unsetenv("DAPR_CFG_UNSET");
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a $DAPR_CFG_T1 b", "a one b"},
        {"${DAPR_CFG_T1}x", "onex"},
        {"$DAPR_CFG_T1x", ""}, /* the name runs on: DAPR_CFG_T1x is unset */
        {"[$DAPR_CFG_T2][$DAPR_CFG_UNSET]", "[][]"},
        {"cost: 5$", "cost: 5$"},   /* a '$' at the end stays */
        {"a $ b", "a $ b"},         /* not followed by a name: stays */
        {"a ${} b", "a  b"},        /* bad syntax: eaten */
        {"a ${DAPR_CFG_T1", "a DAPR_CFG_T1"}, /* "${" eaten, the rest stays */
        {"$$", ""},                 /* $$ is a (special, unset) variable */
        {"^/orders$\n", "^/orders$\n"},
        {"", ""},
        {"no dollars", "no dollars"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = 0;
        char *v = dapr__config_expand_env(cases[i].in, strlen(cases[i].in), &n);
        CHECK_EQ_STR(v, cases[i].out);
        CHECK_EQ_INT(n, strlen(cases[i].out));
        dapr__free(v);
    }
    unsetenv("DAPR_CFG_T1");
    unsetenv("DAPR_CFG_T2");
}

static void test_load_file(void)
{
    char dir[] = "/tmp/libdapr-cfg-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    char path[256];
    snprintf(path, sizeof(path), "%s/config.yaml", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("apiVersion: dapr.io/v1alpha1\n"
          "kind: Configuration\n"
          "metadata:\n"
          "  name: ${DAPR_CFG_NAME}\n"
          "spec:\n"
          "  nameResolution:\n"
          "    component: sqlite\n"
          "    configuration:\n"
          "      connectionString: \"$DAPR_CFG_DIR/nr.db\"\n"
          "  features:\n"
          "    - name: X\n"
          "      enabled: bad\n",
          f);
    fclose(f);
    setenv("DAPR_CFG_NAME", "fromenv", 1);
    setenv("DAPR_CFG_DIR", "/var/lib/x", 1);
    dapr__config_t cfg;
    dapr__config_init(&cfg);
    char *err = NULL;
    CHECK_EQ_INT(dapr__config_load_file(&cfg, path, NULL, &err), DAPR_EPARSE);
    CHECK(err && strstr(err, path) && strstr(err, ":12: configuration fromenv: "
                                                  "spec.features[0].enabled"));
    dapr__free(err);
    dapr__config_free(&cfg);
    /* fix the file: it loads, with the environment expanded */
    f = fopen(path, "r+");
    CHECK(f != NULL);
    if (f) {
        fseek(f, -4, SEEK_END);
        fputs("yes\n", f);
        fclose(f);
    }
    err = NULL;
    CHECK_EQ_INT(dapr__config_load_file(&cfg, path, NULL, &err), 0);
    CHECK(err == NULL);
    CHECK_EQ_STR(cfg.file, path);
    CHECK_EQ_STR(cfg.name, "fromenv");
    CHECK_EQ_STR(nr_md(&cfg, "connectionString"), "/var/lib/x/nr.db");
    CHECK_EQ_INT(cfg.n_enabled, 1);
    dapr__config_free(&cfg);
    /* missing file, a directory */
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/nope.yaml", dir);
    CHECK_EQ_INT(dapr__config_load_file(&cfg, missing, NULL, &err), DAPR_ENOTFOUND);
    CHECK(err && strstr(err, missing) && strstr(err, "No such file"));
    dapr__free(err);
    CHECK_EQ_INT(dapr__config_load_file(&cfg, dir, NULL, &err), DAPR_EIO);
    CHECK(err && strstr(err, dir) && strstr(err, "is a directory"));
    dapr__free(err);
    CHECK(cfg.file == NULL);
    dapr__config_free(&cfg);
    unlink(path);
    rmdir(dir);
    unsetenv("DAPR_CFG_NAME");
    unsetenv("DAPR_CFG_DIR");
}

/* Every allocation failure ends in DAPR_ENOMEM or success, never a crash or
 * a leak (LSan checks the latter). */
static void test_alloc_failures(void)
{
    int ok = 0;
    for (long n = 0; n < 4000 && !ok; n++) {
        dapr__config_t cfg;
        dapr__config_init(&cfg);
        char *err = NULL;
        dapr__alloc_fail_after(n);
        int rc = parse(&cfg, full, NULL, &err);
        dapr__alloc_fail_after(-1);
        if (rc == 0)
            ok = 1;
        else
            CHECK_EQ_INT(rc, DAPR_ENOMEM);
        if (rc == 0)
            CHECK_EQ_INT(cfg.n_enabled, 2);
        dapr__free(err);
        dapr__config_free(&cfg);
    }
    CHECK(ok);
    for (long n = 0; n < 20; n++) {
        dapr__alloc_fail_after(n);
        size_t len;
        char *v = dapr__config_expand_env("$HOME/x/${PATH}", 15, &len);
        dapr__alloc_fail_after(-1);
        dapr__free(v);
    }
}

int main(void)
{
    test_full();
    test_features();
    test_name_resolution();
    test_exact_names();
    test_errors();
    test_expand_env();
    test_load_file();
    test_alloc_failures();
    return test_result();
}
