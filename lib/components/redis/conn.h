/* One pipelined Redis connection on a libuv loop (hiredis 0.14 async), shared
 * by the redis components.
 *
 * The connection resolves its host off the loop (uv_getaddrinfo), connects
 * with a dial timeout, authenticates (AUTH [user] password), selects the
 * database and PINGs before it reports ready. Commands are pipelined; each has
 * a timeout, and a command that exceeds it fails every pending command with
 * DAPR_ETIMEDOUT and drops the connection. A dropped connection is re-dialled
 * with exponential backoff; meanwhile commands fail at once with
 * DAPR_EUNAVAIL rather than queueing.
 *
 * Everything runs on the loop's thread; nothing blocks. */
#ifndef DAPR_COMPONENTS_REDIS_CONN_H
#define DAPR_COMPONENTS_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct dapr__redis_conn dapr__redis_conn_t;

/* Connection events, reported through dapr__redis_opts_t.on_event. */
typedef enum dapr__redis_event {
    /* Connected, authenticated, database selected, PING answered. */
    DAPR__REDIS_READY = 1,
    /* A dial attempt failed (refused, unresolvable, dial timeout, AUTH or
     * SELECT refused); another follows after a backoff. */
    DAPR__REDIS_CONNECT_FAILED,
    /* A ready connection was lost (server gone, command timeout); pending
     * commands have failed or are failing; a re-dial follows. */
    DAPR__REDIS_DISCONNECTED
} dapr__redis_event_t;

/* `detail` is a readable reason ("connection refused to 127.0.0.1:6390"),
 * NULL for READY; borrowed. The callback may close the connection. */
typedef void (*dapr__redis_event_cb)(dapr__redis_conn_t *c, dapr__redis_event_t ev,
                                     const char *detail, void *data);

/* Completion of a command, called exactly once for a command that was
 * accepted. On a reply: status is DAPR_OK, or DAPR_EBACKEND when the reply
 * is a Redis error (then errtext is its text and reply is still given). When
 * no reply came: reply is NULL, status is DAPR_ETIMEDOUT, DAPR_EUNAVAIL
 * (connection lost) or DAPR_ECLOSED (closed by the owner). errtext is NULL
 * only on DAPR_OK. reply and errtext live until the callback returns. */
typedef void (*dapr__redis_cb)(const redisReply *reply, int status, const char *errtext,
                               void *data);

/* A Lua script run with EVALSHA; its SHA1 is computed once here. When the
 * server answers NOSCRIPT (after a restart or SCRIPT FLUSH) the command is
 * re-sent as EVAL, transparently. `src` is borrowed and must outlive every
 * command using the script (normally a string literal). */
typedef struct dapr__redis_script {
    const char *src;
    size_t len;
    char sha[41];
} dapr__redis_script_t;

typedef struct dapr__redis_opts {
    const char *host;       /* "host:port", "[v6]:port" or "host"; NULL/"" → "localhost:6379" */
    const char *username;   /* Redis 6 ACL user; NULL/"" → none (needs a password) */
    const char *password;   /* NULL/"" → no AUTH */
    int64_t db;             /* SELECT when non-zero */
    int64_t dial_timeout_ms;    /* resolve + connect + handshake; <= 0 → 5000 */
    int64_t cmd_timeout_ms;     /* per command; 0 → 3000, < 0 → none */
    int64_t backoff_min_ms;     /* re-dial delays; <= 0 → 100 */
    int64_t backoff_max_ms;     /* <= 0 → 5000 */
    size_t max_pending;         /* commands in flight; 0 → 100000 */
    /* Scripts to SCRIPT LOAD on every (re)connect, before READY, so EVALSHA
     * does not miss after a server restart; a failed load is ignored (the
     * EVAL fallback still covers it). The array is copied, the scripts are
     * borrowed and must outlive the connection. */
    const dapr__redis_script_t *const *scripts;
    size_t n_scripts;
    dapr__redis_event_cb on_event; /* may be NULL */
    void *event_data;
} dapr__redis_opts_t;

void dapr__redis_script_init(dapr__redis_script_t *s, const char *src);

/* Create a connection and start dialling; strings in `o` are copied.
 * Errors: DAPR_EINVAL (bad host text; `err` says why), DAPR_ENOMEM.
 * The first outcome is reported by on_event (READY or CONNECT_FAILED). */
int dapr__redis_conn_new(dapr__redis_conn_t **out, uv_loop_t *loop, const dapr__redis_opts_t *o,
                         char *err, size_t errlen);

/* Close: stops dialling, fails pending commands with DAPR_ECLOSED, frees
 * the hiredis context and closes every handle; then frees the connection
 * and calls done(data) (may be NULL). No event fires after this call. Must
 * be called exactly once; c is invalid as soon as it returns. */
void dapr__redis_conn_close(dapr__redis_conn_t *c, void (*done)(void *data), void *data);

/* Ready for commands. */
bool dapr__redis_conn_ready(const dapr__redis_conn_t *c);
/* The last connection error ("" if none); borrowed, valid until the next
 * call into the connection. */
const char *dapr__redis_conn_last_error(const dapr__redis_conn_t *c);
/* The configured "host:port", borrowed. */
const char *dapr__redis_conn_addr(const dapr__redis_conn_t *c);

/* Send a command: argc arguments, argv[i] of argvlen[i] bytes (binary safe;
 * argvlen NULL → strlen). Everything is copied before returning.
 * Returns 0 and calls cb exactly once later (never before returning), or
 * DAPR_EUNAVAIL (not connected), DAPR_ECLOSED (closing), DAPR_EAGAIN
 * (max_pending reached), DAPR_EINVAL, DAPR_ENOMEM, and never calls cb. */
int dapr__redis_cmd(dapr__redis_conn_t *c, dapr__redis_cb cb, void *data, int argc,
                    const char **argv, const size_t *argvlen);

/* EVALSHA <sha> <nkeys> argv... (keys first, then arguments), with the
 * NOSCRIPT → EVAL fallback. Same contract as dapr__redis_cmd. */
int dapr__redis_evalsha(dapr__redis_conn_t *c, const dapr__redis_script_t *s, dapr__redis_cb cb,
                        void *data, int nkeys, int argc, const char **argv,
                        const size_t *argvlen);

#endif
