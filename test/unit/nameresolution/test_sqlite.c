/* The sqlite resolver against a temporary database file: Dapr's table layout,
 * two registrations resolved round-robin, heartbeats keeping rows live,
 * expiry after updateInterval, the row removed on close, the coordinated
 * cleanup, and metadata validation. The test reads and writes the same file
 * through its own connection, as another sidecar would. */
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "components/registry.h"
#include "core/log.h"
#include "../testutil.h"

static uv_loop_t loop;
static dapr__logger_t lg;
static char dir[64], path[128];

static void on_timeout(uv_timer_t *t) { *(bool *)t->data = true; }

static bool run_until(const bool *flag, uint64_t ms)
{
    uv_timer_t t;
    bool to = false;
    uv_timer_init(&loop, &t);
    t.data = &to;
    uv_timer_start(&t, on_timeout, ms, 0);
    while (!*flag && !to)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return *flag;
}

static void sleep_ms(uint64_t ms)
{
    bool never = false;
    run_until(&never, ms);
}

typedef struct done_st {
    bool done;
    int status;
    char addr[128];
    char msg[256];
} done_st;

static void comp_done(dapr_component_t *c, int status, const char *detail)
{
    done_st *d = c->user;
    d->done = true;
    d->status = status;
    snprintf(d->msg, sizeof(d->msg), "%s", detail ? detail : "");
}

static void name_done(const dapr_error_t *err, void *data)
{
    done_st *d = data;
    d->done = true;
    d->status = err ? err->code : 0;
    snprintf(d->msg, sizeof(d->msg), "%s", err ? err->message : "");
}

static void resolved(const dapr_error_t *err, const char *addr, void *data)
{
    done_st *d = data;
    d->done = true;
    d->status = err ? err->code : 0;
    snprintf(d->addr, sizeof(d->addr), "%s", addr ? addr : "");
    snprintf(d->msg, sizeof(d->msg), "%s", err ? err->message : "");
}

static dapr_component_t *make(const char *cleanup, const char *update, char *err, size_t errlen,
                              int *rc)
{
    dapr_component_t *c = NULL;
    dapr_kv_t md[] = {{"connectionString", path},
                      {"updateInterval", update},
                      {"timeout", "1s"},
                      {"cleanupInterval", cleanup}};
    *rc = dapr__nameres_new(&c, &loop, &lg, "tester", NULL, "sqlite", "v1", md, 4, err, errlen);
    return c;
}

/* init; returns the init status */
static int init(dapr_component_t *c, char *msg, size_t msglen)
{
    done_st d = {0};
    c->user = &d;
    CHECK_EQ_INT(c->nr_vt->init(c, comp_done), 0);
    CHECK(run_until(&d.done, 10000));
    snprintf(msg, msglen, "%s", d.msg);
    return d.status;
}

static dapr_component_t *start(const char *cleanup)
{
    char err[256] = "";
    int rc;
    dapr_component_t *c = make(cleanup, "2s", err, sizeof(err), &rc);
    if (rc || init(c, err, sizeof(err))) {
        fprintf(stderr, "sqlite resolver: %s\n", err);
        exit(1);
    }
    return c;
}

static void stop(dapr_component_t *c)
{
    done_st d = {0};
    c->user = &d;
    c->nr_vt->close(c, comp_done);
    CHECK(run_until(&d.done, 10000));
    dapr__component_free(c);
}

static void reg(dapr_component_t *c, const char *app, const char *host, uint16_t port)
{
    done_st d = {0};
    dapr_name_instance_t self = {.app_id = app, .host = host, .port = port};
    CHECK_EQ_INT(c->nr_vt->register_self(c, &self, name_done, &d), 0);
    CHECK(run_until(&d.done, 5000));
    CHECK_EQ_INT(d.status, 0);
    CHECK_EQ_INT(c->nr_vt->register_self(c, &self, name_done, &d), DAPR_ESTATE);
}

static done_st resolve(dapr_component_t *c, const char *app)
{
    done_st d = {0};
    dapr_name_resolve_req_t req = {.app_id = app};
    CHECK_EQ_INT(c->nr_vt->resolve(c, &req, resolved, &d), 0);
    CHECK(run_until(&d.done, 5000));
    return d;
}

/* The test's own connection: another sidecar, or an operator. */
static sqlite3 *db;

static void sql(const char *q)
{
    char *e = NULL;
    if (sqlite3_exec(db, q, NULL, NULL, &e) != SQLITE_OK) {
        fprintf(stderr, "sql %s: %s\n", q, e);
        test_failures++;
    }
    sqlite3_free(e);
}

static long long count(const char *q)
{
    sqlite3_stmt *st;
    long long n = -1;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static const char *text(const char *q, char *out, size_t n)
{
    sqlite3_stmt *st;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

static void test_layout_round_robin_expiry(void)
{
    dapr_component_t *a = start("0"), *b = start("0"), *r = start("0");
    char buf[256];
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);

    /* Dapr's layout and migration level */
    CHECK_EQ_STR(text("SELECT value FROM metadata WHERE key = 'nr-migrations'", buf, sizeof(buf)),
                 "1");
    CHECK_EQ_INT(count("SELECT count(*) FROM pragma_table_info('hosts') WHERE name IN "
                       "('registration_id','address','app_id','namespace','last_update')"), 5);
    CHECK_EQ_INT(count("SELECT count(*) FROM sqlite_master WHERE name IN "
                       "('hosts_address_idx','hosts_last_update_idx')"), 2);
    CHECK_EQ_STR(text("PRAGMA journal_mode", buf, sizeof(buf)), "wal");

    reg(a, "orders", "127.0.0.1", 50001);
    reg(b, "orders", "127.0.0.1", 50002);
    CHECK_EQ_INT(count("SELECT count(*) FROM hosts WHERE app_id = 'orders' AND namespace = ''"),
                 2);
    CHECK_EQ_INT(count("SELECT count(DISTINCT length(registration_id)) FROM hosts"), 1);

    char seq[4][128];
    for (int i = 0; i < 4; i++) {
        done_st d = resolve(r, "orders");
        CHECK_EQ_INT(d.status, 0);
        snprintf(seq[i], sizeof(seq[i]), "%s", d.addr);
    }
    CHECK(!strcmp(seq[0], "127.0.0.1:50001") || !strcmp(seq[0], "127.0.0.1:50002"));
    CHECK(strcmp(seq[0], seq[1]) != 0);
    CHECK_EQ_STR(seq[0], seq[2]);
    CHECK_EQ_STR(seq[1], seq[3]);

    done_st d = resolve(r, "nobody");
    CHECK_EQ_INT(d.status, DAPR_ENOTFOUND);
    CHECK_EQ_STR(d.msg, "no host found with the given ID");

    /* a sidecar that died without deregistering: its row goes stale after
     * updateInterval (2 s) while a and b keep theirs fresh (every 1 s) */
    sql("INSERT INTO hosts VALUES ('dead-1', '10.9.9.9:1', 'payments', '', "
        "unixepoch(CURRENT_TIMESTAMP))");
    d = resolve(r, "payments");
    CHECK_EQ_STR(d.addr, "10.9.9.9:1");
    sleep_ms(3200);
    d = resolve(r, "payments");
    CHECK_EQ_INT(d.status, DAPR_ENOTFOUND);
    bool two = true;
    for (int i = 0; i < 2; i++) {
        d = resolve(r, "orders");
        two &= d.status == 0;
    }
    CHECK(two);
    CHECK_EQ_INT(count("SELECT count(*) FROM hosts WHERE app_id = 'orders' AND "
                       "unixepoch(CURRENT_TIMESTAMP) - last_update < 2"), 2);

    /* a heartbeat that finds its row gone writes it again */
    sql("DELETE FROM hosts WHERE address = '127.0.0.1:50001'");
    sleep_ms(1500);
    CHECK_EQ_INT(count("SELECT count(*) FROM hosts WHERE address = '127.0.0.1:50001'"), 1);

    /* close removes the row */
    stop(b);
    CHECK_EQ_INT(count("SELECT count(*) FROM hosts WHERE address = '127.0.0.1:50002'"), 0);
    for (int i = 0; i < 3; i++) {
        d = resolve(r, "orders");
        CHECK_EQ_STR(d.addr, "127.0.0.1:50001");
    }

    /* closing with work queued: queued resolves complete with DAPR_ECLOSED */
    done_st q[3] = {{0}};
    dapr_name_resolve_req_t req = {.app_id = "orders"};
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(r->nr_vt->resolve(r, &req, resolved, &q[i]), 0);
    stop(r);
    for (int i = 0; i < 3; i++)
        CHECK(q[i].done && (q[i].status == 0 || q[i].status == DAPR_ECLOSED));
    CHECK(q[2].status == DAPR_ECLOSED);
    stop(a);
    CHECK_EQ_INT(count("SELECT count(*) FROM hosts WHERE app_id = 'orders'"), 0);
    sqlite3_close(db);
    db = NULL;
}

static void test_cleanup(void)
{
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    sql("DELETE FROM metadata WHERE key = 'nr-last-cleanup'");
    sql("INSERT INTO hosts VALUES ('old-1', '10.0.0.1:1', 'x', '', "
        "unixepoch(CURRENT_TIMESTAMP) - 100)");
    sql("INSERT INTO hosts VALUES ('new-1', '10.0.0.2:1', 'x', '', "
        "unixepoch(CURRENT_TIMESTAMP))");
    dapr_component_t *g = start("1s");
    bool gone = false;
    for (int i = 0; i < 40 && !gone; i++) {
        sleep_ms(100);
        gone = count("SELECT count(*) FROM hosts WHERE registration_id = 'old-1'") == 0;
    }
    CHECK(gone);
    CHECK_EQ_INT(count("SELECT count(*) FROM hosts WHERE registration_id = 'new-1'"), 1);
    CHECK_EQ_INT(count("SELECT count(*) FROM metadata WHERE key = 'nr-last-cleanup'"), 1);
    stop(g);
    sqlite3_close(db);
    db = NULL;
}

static void test_metadata(void)
{
    char err[256] = "";
    int rc;
    dapr_component_t *c = make("1h", "1500ms", err, sizeof(err), &rc);
    CHECK_EQ_INT(rc, DAPR_EINVAL);
    CHECK(strstr(err, "updateInterval") != NULL);
    CHECK(c == NULL);

    c = make("1h", "1s", err, sizeof(err), &rc); /* not > timeout + 1s */
    CHECK_EQ_INT(rc, 0);
    if (c) {
        CHECK_EQ_INT(init(c, err, sizeof(err)), DAPR_EINVAL);
        CHECK(strstr(err, "timeout") != NULL);
        dapr__component_free(c);
    }

    dapr_kv_t bad_table[] = {{"connectionString", path}, {"tableName", "hosts; DROP"}};
    c = NULL;
    CHECK_EQ_INT(dapr__nameres_new(&c, &loop, &lg, "t", NULL, "sqlite", "v1", bad_table, 2, err,
                                   sizeof(err)), DAPR_EINVAL);
    CHECK(strstr(err, "tableName") != NULL);
    CHECK_EQ_INT(dapr__nameres_new(&c, &loop, &lg, "t", NULL, "sqlite", "v1", NULL, 0, err,
                                   sizeof(err)), DAPR_EINVAL);
    CHECK(strstr(err, "connectionString") != NULL);

    /* a database that cannot be opened fails init with the reason */
    dapr_kv_t nodir[] = {{"connectionString", "/nonexistent-dir/x/nr.db"}};
    CHECK_EQ_INT(dapr__nameres_new(&c, &loop, &lg, "t", NULL, "sqlite", "v1", nodir, 1, err,
                                   sizeof(err)), 0);
    if (c) {
        CHECK_EQ_INT(init(c, err, sizeof(err)), DAPR_EUNAVAIL);
        CHECK(strstr(err, "open database") != NULL);
        dapr__component_free(c);
    }

    /* custom table names */
    dapr_kv_t custom[] = {{"connectionString", path},
                          {"tableName", "nr_hosts"},
                          {"metadataTableName", "nr_meta"},
                          {"updateInterval", "3"}};
    CHECK_EQ_INT(dapr__nameres_new(&c, &loop, &lg, "t", NULL, "sqlite", "v1", custom, 4, err,
                                   sizeof(err)), 0);
    if (c) {
        CHECK_EQ_INT(init(c, err, sizeof(err)), 0);
        stop(c);
    }
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(count("SELECT count(*) FROM sqlite_master WHERE name IN ('nr_hosts','nr_meta')"),
                 2);
    sqlite3_close(db);
    db = NULL;
}

int main(void)
{
    uv_loop_init(&loop);
    dapr__logger_init(&lg);
    lg.level = getenv("NR_DEBUG") ? DAPR_LOG_DEBUG : DAPR_LOG_FATAL;
    snprintf(dir, sizeof(dir), "/tmp/dapr-nr-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/nr.db", dir);
    test_layout_round_robin_expiry();
    test_cleanup();
    test_metadata();
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_EQ_INT(uv_loop_alive(&loop), 0);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    char f[192];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
        unlink(f);
    }
    rmdir(dir);
    return test_result();
}
