/* HTTP/1.1 client: TLS on a connection. The engine of core/tls.h sits
 * between the socket (on_read, dapr__hc_conn_raw_send in client_conn.c) and
 * the plaintext side (dapr__hc_conn_input, dapr__hc_conn_send), so the
 * rest of the client (parser, pool, retries, pause) does not know TLS is
 * there.
 *
 * Reads: ciphertext is fed to the engine (copied, so the client's shared
 * read buffer is free again) and decrypted into that same buffer until the
 * engine wants more; every fed byte is consumed, so nothing waits in the
 * engine while reading is stopped for a paused response (the plaintext
 * waits in the connection's `pend`, as for plain TCP).
 *
 * Writes: records leave as they are made, through raw_send (uv_try_write,
 * else a copied uv_write), so the libuv write queue still measures what is
 * waiting and the streamed-body backpressure works unchanged.
 *
 * The session is freed with the connection's memory (conn_release), after
 * its last handle closed, on every path: handshake failure or timeout,
 * reset, cancel, client close. */
#include "client_int.h"

#include <stdio.h>

static int tls_out(void *ud, const void *data, size_t len)
{
    dapr__http_cconn_t *conn = ud;
    uv_buf_t b;
    b.base = (char *)data;
    b.len = len;
    /* A failed write only marks the connection (wdead): as for plain TCP the
     * read side reports the outcome, here usually the server's alert (an
     * mTLS server refusing us closes while our last flight is leaving). */
    dapr__hc_conn_raw_send(conn, &b, 1, false);
    return 0;
}

/* Returns true once the handshake is done and the request is attached. */
static bool handshake(dapr__http_cconn_t *conn)
{
    char err[400] = "", msg[512];
    int rc = dapr__tls_conn_handshake(conn->tls, err, sizeof(err));
    if (rc == DAPR_EAGAIN)
        return false;
    if (rc) {
        snprintf(msg, sizeof(msg), "%s (server %s)", err, conn->addr_text);
        dapr__hc_conn_lost(conn, DAPR_EUNAVAIL, msg);
        return false;
    }
    DAPR_LOG(conn->c->log, DAPR_LOG_DEBUG, DAPR__HC_LOG_SCOPE, "TLS session with %s established",
             conn->addr_text);
    dapr__hc_conn_ready(conn);
    return !conn->closed;
}

void dapr__hc_tls_start(dapr__http_cconn_t *conn)
{
    dapr__http_client_t *c = conn->c;
    conn->state = DAPR__CC_HANDSHAKE;
    int rc = dapr__tls_conn_create(&conn->tls, c->tls, c->host, tls_out, conn);
    if (rc) {
        dapr__hc_conn_lost(conn, rc == DAPR_ENOMEM ? DAPR_ENOMEM : DAPR_EUNAVAIL,
                           rc == DAPR_ENOMEM ? "out of memory" : "cannot start a TLS session");
        return;
    }
    dapr__hc_conn_arm(conn, c->connect_to); /* the handshake counts against connecting */
    dapr__hc_conn_update_reading(conn);
    if (!conn->closed)
        handshake(conn); /* sends the ClientHello */
}

/* Decrypt what was fed and hand it on, until the engine wants more input
 * or the connection is gone. */
static void drain(dapr__http_cconn_t *conn)
{
    char *buf = conn->c->rbuf;
    while (!conn->closed) {
        char err[300] = "";
        long n = dapr__tls_conn_read(conn->tls, buf, DAPR__HC_RBUF_SIZE, err, sizeof(err));
        if (n > 0) {
            if (conn->req)
                conn->got_bytes = true;
            dapr__hc_conn_input(conn, buf, (size_t)n);
            continue;
        }
        if (n == DAPR_EAGAIN)
            return;
        if (n == DAPR_ECLOSED) { /* close_notify: the end of the stream, as a FIN */
            dapr__hc_conn_eof(conn);
            return;
        }
        char msg[400];
        snprintf(msg, sizeof(msg), "reading from %s: %s", conn->c->authority, err);
        dapr__hc_conn_lost(conn, DAPR_EIO, msg);
        return;
    }
}

void dapr__hc_tls_input(dapr__http_cconn_t *conn, const char *data, size_t len)
{
    if (dapr__tls_conn_feed(conn->tls, data, len)) {
        dapr__hc_conn_lost(conn, DAPR_ENOMEM, "out of memory");
        return;
    }
    if (conn->state == DAPR__CC_HANDSHAKE && !handshake(conn))
        return;
    if (conn->peer_eof)
        return; /* after close_notify nothing more is read */
    drain(conn);
}

int dapr__hc_tls_send(dapr__http_cconn_t *conn, uv_buf_t *iov, unsigned n)
{
    if (!conn->tls || !dapr__tls_conn_established(conn->tls))
        return DAPR_EIO;
    for (unsigned i = 0; i < n; i++)
        if (iov[i].len && dapr__tls_conn_write(conn->tls, iov[i].base, iov[i].len)) {
            conn->wdead = true; /* the read side reports the outcome */
            return DAPR_EIO;
        }
    return conn->wdead ? DAPR_EIO : 0;
}
