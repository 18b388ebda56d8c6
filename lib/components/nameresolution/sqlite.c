/* nameresolution.sqlite: Dapr's SQLite resolver, for hosts where multicast is
 * not available. Every sidecar keeps one row in a shared SQLite file:
 *
 *   <tableName> (default "hosts"):
 *     registration_id TEXT PK, address TEXT UNIQUE ("host:port"), app_id TEXT,
 *     namespace TEXT (written "", as Dapr does), last_update INTEGER (unix s)
 *   <metadataTableName> (default "metadata"): key TEXT PK, value TEXT;
 *     "nr-migrations" = schema level, "nr-last-cleanup" = time of the last GC
 *
 * The same layout and queries as Dapr's component, so Go daprd and libdapr
 * daprd can share one file. A row is live while now - last_update <
 * updateInterval; the owner refreshes it every updateInterval - timeout and
 * deletes it on close. One sidecar per cleanupInterval (coordinated through
 * "nr-last-cleanup") deletes rows that are no longer live.
 *
 * SQLite calls block on file I/O and locks, so each runs as a job on the
 * libuv threadpool; jobs of one component run one at a time, in order, so
 * the connection is never used by two threads at once. */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "components/registry.h"
#include "core/alloc.h"
#include "core/map.h"
#include "core/strutil.h"
#include "dapr/component.h"

#define ADDR_MAX 300
#define MAX_ROWS 64
#define OPEN_DEADLINE_MS 60000 /* migrations may wait for another sidecar's lock */

typedef enum { J_OPEN, J_REGISTER, J_HEARTBEAT, J_RESOLVE, J_CLEANUP, J_CLOSE } job_kind_t;

typedef struct sqlr sqlr_t;

typedef struct job {
    uv_work_t work;
    struct job *next;
    sqlr_t *s;
    job_kind_t kind;
    uint64_t deadline; /* uv_hrtime() ns; the progress handler stops the query after it */
    int status;
    char err[256];
    char app_id[256];
    dapr_component_done_cb init_done;
    dapr_name_done_cb done_cb;
    dapr_name_resolve_cb resolve_cb;
    void *data;
    bool lost;   /* heartbeat: our row was gone and was written again */
    int deleted; /* cleanup */
    size_t n_addrs;
    char addrs[MAX_ROWS][ADDR_MAX];
} job_t;

typedef struct timers {
    uv_timer_t heartbeat, cleanup; /* data: this struct */
    sqlr_t *s;
    int open;
    dapr_component_t *c;
    dapr_component_done_cb done; /* called once both timers are closed */
    int status;
    char detail[256];
} timers_t;

struct sqlr {
    /* metadata */
    char *conn;
    int64_t update_ms, timeout_ms, cleanup_ms, busy_ms;
    char *table, *md_table;
    bool disable_wal;

    dapr_component_t *c;
    sqlite3 *db; /* touched by the running job only */
    timers_t *tm;
    job_t *queue, **qtail, *running, *close_job;
    bool opened, closing, registered, hb_queued, gc_queued;
    char reg_id[37];
    char address[ADDR_MAX];
    char app_id[256];
    dapr__map_t rr; /* app id → round-robin counter + 1 */
};

static const char *v_ident(const void *f)
{
    const char *s = *(char *const *)f;
    if (!s || !*s || strlen(s) > 64)
        return "must be 1..64 letters, digits or underscores";
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return "must be 1..64 letters, digits or underscores";
    return NULL;
}

static const char *v_whole_seconds(const void *f)
{
    int64_t v = *(const int64_t *)f;
    return v <= 0 || v % 1000 ? "must be a positive whole number of seconds" : NULL;
}

static const char *v_min_second(const void *f)
{
    return *(const int64_t *)f < 1000 ? "must be at least 1s" : NULL;
}

static const dapr_md_field_t md_fields[] = {
    {"connectionString", DAPR_MD_STRING, NULL, offsetof(sqlr_t, conn), NULL, true},
    {"updateInterval", DAPR_MD_DURATION, "5s", offsetof(sqlr_t, update_ms), v_whole_seconds,
     false},
    {"timeout", DAPR_MD_DURATION, "1s", offsetof(sqlr_t, timeout_ms), v_min_second, false},
    {"tableName", DAPR_MD_STRING, "hosts", offsetof(sqlr_t, table), v_ident, false},
    {"metadataTableName", DAPR_MD_STRING, "metadata", offsetof(sqlr_t, md_table), v_ident,
     false},
    {"cleanupInterval", DAPR_MD_DURATION, "1h", offsetof(sqlr_t, cleanup_ms), NULL, false},
    /* Dapr's older spelling; wins when given */
    {"cleanupIntervalInSeconds", DAPR_MD_DURATION, NULL, offsetof(sqlr_t, cleanup_ms), NULL,
     false},
    {"busyTimeout", DAPR_MD_DURATION, "800ms", offsetof(sqlr_t, busy_ms), NULL, false},
    {"disableWAL", DAPR_MD_BOOL, "false", offsetof(sqlr_t, disable_wal), NULL, false},
};

/* ---------------------------------------------------------------------
 * Pool-thread side: plain SQLite calls on s->db
 * ------------------------------------------------------------------- */

static int fail(job_t *j, int code, const char *what)
{
    snprintf(j->err, sizeof(j->err), "%s: %s", what,
             j->s->db ? sqlite3_errmsg(j->s->db) : "cannot open");
    j->status = code;
    return code;
}

static int exec(job_t *j, const char *sql, const char *what)
{
    if (sqlite3_exec(j->s->db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    return fail(j, DAPR_EBACKEND, what);
}

/* Prepare `sql`, bind the texts (NULL-terminated list), step once. Returns
 * the step result (SQLITE_ROW / SQLITE_DONE) with *st kept for reading when
 * st is given, or -1 after fail(). */
static int run(job_t *j, sqlite3_stmt **st, const char *sql, const char *what, ...)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(j->s->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        fail(j, DAPR_EBACKEND, what);
        return -1;
    }
    va_list ap;
    va_start(ap, what);
    const char *arg;
    for (int i = 1; (arg = va_arg(ap, const char *)); i++)
        sqlite3_bind_text(stmt, i, arg, -1, SQLITE_TRANSIENT);
    va_end(ap);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        fail(j, rc == SQLITE_INTERRUPT ? DAPR_ETIMEDOUT : DAPR_EBACKEND, what);
        sqlite3_finalize(stmt);
        return -1;
    }
    if (st)
        *st = stmt;
    else
        sqlite3_finalize(stmt);
    return rc;
}

static int progress_cb(void *ud)
{
    job_t *j = ud;
    return uv_hrtime() > j->deadline; /* non-zero interrupts the statement */
}

static int migrate(job_t *j)
{
    sqlr_t *s = j->s;
    char sql[1024];
    if (exec(j, "BEGIN EXCLUSIVE TRANSACTION", "begin migration"))
        return -1;
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS %s (key text NOT NULL PRIMARY KEY, value text NOT NULL)",
             s->md_table);
    int level = 0, rc = exec(j, sql, "create metadata table");
    if (!rc) {
        sqlite3_stmt *st = NULL;
        snprintf(sql, sizeof(sql), "SELECT value FROM %s WHERE key = 'nr-migrations'",
                 s->md_table);
        int r = run(j, &st, sql, "read migration level", NULL);
        if (r < 0)
            rc = -1;
        else if (r == SQLITE_ROW)
            level = atoi((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    if (!rc && level < 1) {
        snprintf(sql, sizeof(sql),
                 "CREATE TABLE %1$s (registration_id TEXT NOT NULL PRIMARY KEY, address TEXT NOT "
                 "NULL, app_id TEXT NOT NULL, namespace TEXT NOT NULL, last_update INTEGER NOT "
                 "NULL); CREATE UNIQUE INDEX %1$s_address_idx ON %1$s (address); CREATE INDEX "
                 "%1$s_last_update_idx ON %1$s (last_update); REPLACE INTO %2$s (key, value) "
                 "VALUES ('nr-migrations', '1')",
                 s->table, s->md_table);
        rc = exec(j, sql, "create hosts table");
    }
    if (rc) {
        sqlite3_exec(s->db, "ROLLBACK TRANSACTION", NULL, NULL, NULL);
        return -1;
    }
    return exec(j, "COMMIT TRANSACTION", "commit migration");
}

static bool in_memory(const char *conn)
{
    return !strcmp(conn, ":memory:") || dapr__starts_with(conn, "file::memory:") ||
           strstr(conn, "mode=memory") != NULL;
}

static void job_open(job_t *j)
{
    sqlr_t *s = j->s;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI |
                SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(s->conn, &s->db, flags, NULL) != SQLITE_OK) {
        fail(j, DAPR_EUNAVAIL, "open database");
        sqlite3_close_v2(s->db);
        s->db = NULL;
        return;
    }
    sqlite3_busy_timeout(s->db, (int)s->busy_ms);
    sqlite3_progress_handler(s->db, 1000, progress_cb, j);
    /* WAL lets readers (resolves) run while another sidecar writes */
    int rc = 0;
    if (!s->disable_wal && !in_memory(s->conn))
        rc = exec(j, "PRAGMA journal_mode = WAL", "set journal mode");
    if (!rc)
        rc = migrate(j);
    if (rc) {
        sqlite3_close_v2(s->db);
        s->db = NULL;
    }
}

static void job_register(job_t *j, bool again)
{
    sqlr_t *s = j->s;
    char sql[512];
    /* the address is unique: REPLACE takes over a stale row of a previous
     * sidecar on the same address */
    snprintf(sql, sizeof(sql),
             "REPLACE INTO %s (registration_id, address, app_id, namespace, last_update) "
             "VALUES (?, ?, ?, '', unixepoch(CURRENT_TIMESTAMP))",
             s->table);
    run(j, NULL, sql, again ? "register host again" : "register host", s->reg_id, s->address,
        s->app_id, NULL);
}

static void job_heartbeat(job_t *j)
{
    sqlr_t *s = j->s;
    char sql[256];
    snprintf(sql, sizeof(sql),
             "UPDATE %s SET last_update = unixepoch(CURRENT_TIMESTAMP) WHERE registration_id = ? "
             "AND address = ?",
             s->table);
    if (run(j, NULL, sql, "update host registration", s->reg_id, s->address, NULL) < 0)
        return;
    if (sqlite3_changes(s->db) == 0) {
        /* Dapr exits the process here; a library writes the row again */
        j->lost = true;
        job_register(j, true);
    }
}

static void job_resolve(job_t *j)
{
    sqlr_t *s = j->s;
    char sql[512], window[24];
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof(sql),
             "SELECT address FROM %s WHERE app_id = ? AND unixepoch(CURRENT_TIMESTAMP) - "
             "last_update < CAST(? AS INTEGER) ORDER BY address LIMIT %d",
             s->table, MAX_ROWS);
    snprintf(window, sizeof(window), "%lld", (long long)(s->update_ms / 1000));
    int rc = run(j, &st, sql, "look up address", j->app_id, window, NULL);
    while (rc == SQLITE_ROW) {
        const char *a = (const char *)sqlite3_column_text(st, 0);
        if (a && strlen(a) < ADDR_MAX)
            snprintf(j->addrs[j->n_addrs++], ADDR_MAX, "%s", a);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE && rc != -1)
        fail(j, rc == SQLITE_INTERRUPT ? DAPR_ETIMEDOUT : DAPR_EBACKEND, "look up address");
    sqlite3_finalize(st);
}

static void job_cleanup(job_t *j)
{
    sqlr_t *s = j->s;
    char sql[512], gap[24], window[24];
    /* only the sidecar that moves "nr-last-cleanup" forward deletes */
    snprintf(sql, sizeof(sql),
             "INSERT INTO %s (key, value) VALUES ('nr-last-cleanup', CURRENT_TIMESTAMP) ON "
             "CONFLICT (key) DO UPDATE SET value = CURRENT_TIMESTAMP WHERE "
             "unixepoch(CURRENT_TIMESTAMP) - unixepoch(value) > CAST(? AS INTEGER)",
             s->md_table);
    int64_t g = s->cleanup_ms / 1000 - 1;
    snprintf(gap, sizeof(gap), "%lld", (long long)(g < 0 ? 0 : g));
    if (run(j, NULL, sql, "update last cleanup", gap, NULL) < 0 || !sqlite3_changes(s->db))
        return;
    snprintf(sql, sizeof(sql),
             "DELETE FROM %s WHERE unixepoch(CURRENT_TIMESTAMP) - last_update >= CAST(? AS "
             "INTEGER)",
             s->table);
    snprintf(window, sizeof(window), "%lld", (long long)(s->update_ms / 1000));
    if (run(j, NULL, sql, "delete expired hosts", window, NULL) >= 0)
        j->deleted = sqlite3_changes(s->db);
}

static void job_close(job_t *j)
{
    sqlr_t *s = j->s;
    if (!s->db)
        return;
    if (s->registered) {
        char sql[256];
        snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE registration_id = ? AND address = ?",
                 s->table);
        run(j, NULL, sql, "unregister host", s->reg_id, s->address, NULL);
    }
    sqlite3_close_v2(s->db);
    s->db = NULL;
}

static void work_cb(uv_work_t *w)
{
    job_t *j = w->data;
    sqlr_t *s = j->s;
    if (s->db)
        sqlite3_progress_handler(s->db, 1000, progress_cb, j);
    switch (j->kind) {
    case J_OPEN: job_open(j); break;
    case J_REGISTER: job_register(j, false); break;
    case J_HEARTBEAT: job_heartbeat(j); break;
    case J_RESOLVE: job_resolve(j); break;
    case J_CLEANUP: job_cleanup(j); break;
    case J_CLOSE: job_close(j); break;
    }
    if (s->db)
        sqlite3_progress_handler(s->db, 0, NULL, NULL);
}

/* ---------------------------------------------------------------------
 * Loop side: the job queue
 * ------------------------------------------------------------------- */

static void after_cb(uv_work_t *w, int status);

static void pump(sqlr_t *s)
{
    if (s->running || !s->queue)
        return;
    job_t *j = s->queue;
    s->queue = j->next;
    if (!s->queue)
        s->qtail = &s->queue;
    uint64_t ms = j->kind == J_OPEN || j->kind == J_CLOSE ? OPEN_DEADLINE_MS
                                                          : (uint64_t)s->timeout_ms;
    j->deadline = uv_hrtime() + ms * 1000000;
    s->running = j;
    if (uv_queue_work(dapr_component_loop(s->c), &j->work, work_cb, after_cb)) {
        s->running = NULL; /* cannot happen with a live loop; run it inline */
        work_cb(&j->work);
        after_cb(&j->work, 0);
    }
}

static job_t *job_new(sqlr_t *s, job_kind_t kind)
{
    job_t *j = dapr__calloc(1, sizeof(*j));
    if (j) {
        j->s = s;
        j->kind = kind;
        j->work.data = j;
    }
    return j;
}

static void enqueue(sqlr_t *s, job_t *j)
{
    j->next = NULL;
    *s->qtail = j;
    s->qtail = &j->next;
    pump(s);
}

static void timers_closed(uv_handle_t *h)
{
    timers_t *tm = h->data;
    if (--tm->open)
        return;
    dapr_component_done_cb done = tm->done;
    dapr_component_t *c = tm->c;
    int status = tm->status;
    char detail[sizeof(tm->detail)];
    memcpy(detail, tm->detail, sizeof(detail));
    dapr__free(tm);
    if (done)
        done(c, status, detail[0] ? detail : NULL);
}

static void close_timers(timers_t *tm)
{
    uv_close((uv_handle_t *)&tm->heartbeat, timers_closed);
    uv_close((uv_handle_t *)&tm->cleanup, timers_closed);
}

static void heartbeat_cb(uv_timer_t *t)
{
    sqlr_t *s = ((timers_t *)t->data)->s;
    if (s->hb_queued || s->closing)
        return;
    job_t *j = job_new(s, J_HEARTBEAT);
    if (!j)
        return;
    s->hb_queued = true;
    enqueue(s, j);
}

static void cleanup_cb(uv_timer_t *t)
{
    sqlr_t *s = ((timers_t *)t->data)->s;
    if (s->gc_queued || s->closing)
        return;
    job_t *j = job_new(s, J_CLEANUP);
    if (!j)
        return;
    s->gc_queued = true;
    enqueue(s, j);
}

static void resolved(sqlr_t *s, job_t *j)
{
    if (j->status || !j->n_addrs) {
        const char *msg = j->status ? j->err : "no host found with the given ID";
        dapr_error_t e = {j->status ? j->status : DAPR_ENOTFOUND, msg};
        j->resolve_cb(&e, NULL, j->data);
        return;
    }
    /* round-robin over the live rows (Dapr picks one at random) */
    size_t kl = strlen(j->app_id);
    uintptr_t n = (uintptr_t)dapr__map_get(&s->rr, j->app_id, kl);
    if (!n && s->rr.len >= 1024) { /* bounded: forget every counter */
        dapr__map_free(&s->rr);
        dapr__map_init(&s->rr);
    }
    const char *addr = j->addrs[(n ? n - 1 : 0) % j->n_addrs];
    dapr__map_put(&s->rr, j->app_id, kl, (void *)((n ? n : 1) + 1), NULL);
    j->resolve_cb(NULL, addr, j->data);
}

static void after_cb(uv_work_t *w, int status)
{
    job_t *j = w->data;
    sqlr_t *s = j->s;
    dapr_component_t *c = s->c;
    s->running = NULL;
    switch (j->kind) {
    case J_OPEN:
        s->opened = s->db != NULL;
        if (j->status && !s->closing) {
            /* nobody will call close: let go now, report once the timers are closed */
            timers_t *tm = s->tm;
            s->tm = NULL;
            tm->done = j->init_done;
            tm->status = j->status;
            snprintf(tm->detail, sizeof(tm->detail), "%s", j->err);
            dapr__free(s->close_job);
            s->close_job = NULL;
            dapr__map_free(&s->rr);
            close_timers(tm);
            dapr__free(j);
            return;
        }
        if (!j->status && s->closing)
            j->status = DAPR_ECANCELED, snprintf(j->err, sizeof(j->err), "closed during init");
        if (!j->status && s->cleanup_ms > 0)
            uv_timer_start(&s->tm->cleanup, cleanup_cb, (uint64_t)s->cleanup_ms,
                           (uint64_t)s->cleanup_ms);
        j->init_done(c, j->status, j->status ? j->err : NULL);
        break;
    case J_REGISTER:
        if (!j->status && !s->closing) {
            uint64_t every = (uint64_t)(s->update_ms - s->timeout_ms);
            uv_timer_start(&s->tm->heartbeat, heartbeat_cb, every, every);
            dapr_component_log(c, DAPR_LOG_INFO, "host registered: %s -> %s", s->app_id,
                               s->address);
        } else {
            s->registered = false;
        }
        if (j->status) {
            dapr_error_t e = {j->status, j->err};
            j->done_cb(&e, j->data);
        } else {
            j->done_cb(NULL, j->data);
        }
        break;
    case J_HEARTBEAT:
        s->hb_queued = false;
        if (j->status)
            dapr_component_log(c, DAPR_LOG_ERROR, "failed to update host registration: %s",
                               j->err);
        else if (j->lost)
            dapr_component_log(c, DAPR_LOG_ERROR, "host registration lost; registered again");
        break;
    case J_RESOLVE:
        resolved(s, j);
        break;
    case J_CLEANUP:
        s->gc_queued = false;
        if (j->status)
            dapr_component_log(c, DAPR_LOG_WARN, "error removing expired hosts: %s", j->err);
        else if (j->deleted)
            dapr_component_log(c, DAPR_LOG_DEBUG, "removed %d expired hosts", j->deleted);
        break;
    case J_CLOSE:
        if (j->status)
            dapr_component_log(c, DAPR_LOG_WARN, "%s", j->err);
        dapr__free(j);
        s->close_job = NULL;
        dapr__map_free(&s->rr);
        close_timers(s->tm); /* then the done sq_close stored */
        s->tm = NULL;
        return;
    }
    dapr__free(j);
    pump(s);
}

/* ---------------------------------------------------------------------
 * The vtable
 * ------------------------------------------------------------------- */

static int sq_init(dapr_component_t *c, dapr_component_done_cb done)
{
    sqlr_t *s = dapr_component_priv(c);
    s->c = c;
    s->qtail = &s->queue;
    dapr__map_init(&s->rr);
    if (s->update_ms - s->timeout_ms < 1000) {
        done(c, DAPR_EINVAL, "update interval must be at least 1s greater than timeout");
        return DAPR_OK;
    }
    if (in_memory(s->conn))
        dapr_component_log(c, DAPR_LOG_WARN, "Configuring name resolution with an in-memory "
                           "SQLite database. Service invocation across different apps will "
                           "not work.");
    else
        dapr_component_log(c, DAPR_LOG_INFO, "Configuring SQLite name resolution with path %s",
                           s->conn);
    s->tm = dapr__calloc(1, sizeof(*s->tm));
    s->close_job = job_new(s, J_CLOSE);
    job_t *j = job_new(s, J_OPEN);
    if (!s->tm || !s->close_job || !j) {
        dapr__free(s->tm);
        dapr__free(s->close_job);
        dapr__free(j);
        s->tm = NULL;
        s->close_job = NULL;
        return DAPR_ENOMEM;
    }
    uv_timer_init(dapr_component_loop(c), &s->tm->heartbeat);
    uv_timer_init(dapr_component_loop(c), &s->tm->cleanup);
    s->tm->heartbeat.data = s->tm->cleanup.data = s->tm;
    s->tm->s = s;
    s->tm->open = 2;
    s->tm->c = c;
    uv_unref((uv_handle_t *)&s->tm->cleanup);
    j->init_done = done;
    enqueue(s, j);
    return DAPR_OK;
}

static void sq_close(dapr_component_t *c, dapr_component_done_cb done)
{
    sqlr_t *s = dapr_component_priv(c);
    if (!s->tm) { /* init never got going */
        done(c, DAPR_OK, NULL);
        return;
    }
    s->closing = true;
    s->tm->done = done;
    uv_timer_stop(&s->tm->heartbeat);
    uv_timer_stop(&s->tm->cleanup);
    /* queued (not started) work completes now with DAPR_ECLOSED */
    job_t *q = s->queue;
    s->queue = NULL;
    s->qtail = &s->queue;
    while (q) {
        job_t *j = q;
        q = j->next;
        dapr_error_t e = {DAPR_ECLOSED, "name resolver closed"};
        if (j->kind == J_RESOLVE)
            j->resolve_cb(&e, NULL, j->data);
        else if (j->kind == J_REGISTER)
            j->done_cb(&e, j->data);
        else if (j->kind == J_OPEN)
            j->init_done(c, DAPR_ECANCELED, "closed during init");
        dapr__free(j);
    }
    enqueue(s, s->close_job); /* runs after the job in flight, if any */
}

static int sq_register(dapr_component_t *c, const dapr_name_instance_t *self,
                       dapr_name_done_cb cb, void *data)
{
    sqlr_t *s = dapr_component_priv(c);
    if (s->closing || !s->opened)
        return s->closing ? DAPR_ECLOSED : DAPR_ESTATE;
    if (s->registered)
        return DAPR_ESTATE;
    if (!self || !self->app_id || !*self->app_id || strlen(self->app_id) >= sizeof(s->app_id) ||
        !self->host || !*self->host || strlen(self->host) > 253 || !self->port)
        return DAPR_EINVAL;
    job_t *j = job_new(s, J_REGISTER);
    if (!j)
        return DAPR_ENOMEM;
    /* net.JoinHostPort: brackets around IPv6 */
    snprintf(s->address, sizeof(s->address), strchr(self->host, ':') ? "[%s]:%u" : "%s:%u",
             self->host, (unsigned)self->port);
    snprintf(s->app_id, sizeof(s->app_id), "%s", self->app_id);
    dapr__uuid4(s->reg_id);
    s->registered = true;
    j->done_cb = cb;
    j->data = data;
    enqueue(s, j);
    return DAPR_OK;
}

static int sq_resolve(dapr_component_t *c, const dapr_name_resolve_req_t *req,
                      dapr_name_resolve_cb cb, void *data)
{
    sqlr_t *s = dapr_component_priv(c);
    if (s->closing)
        return DAPR_ECLOSED;
    if (!s->opened)
        return DAPR_ESTATE;
    if (!req || !req->app_id || !*req->app_id || strlen(req->app_id) >= 256)
        return DAPR_EINVAL;
    job_t *j = job_new(s, J_RESOLVE);
    if (!j)
        return DAPR_ENOMEM;
    snprintf(j->app_id, sizeof(j->app_id), "%s", req->app_id);
    j->resolve_cb = cb;
    j->data = data;
    enqueue(s, j);
    return DAPR_OK;
}

const dapr_name_resolver_vtable_t dapr__nr_sqlite_vtable = {
    .type = "nameresolution.sqlite",
    .version = "v1",
    .priv_size = sizeof(sqlr_t),
    .md_fields = md_fields,
    .n_md_fields = sizeof(md_fields) / sizeof(md_fields[0]),
    .init = sq_init,
    .close = sq_close,
    .register_self = sq_register,
    .resolve = sq_resolve,
};
