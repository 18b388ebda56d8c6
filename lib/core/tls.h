/* TLS client engine on mbedTLS 2.28 (Debian 12), sans-I/O: ciphertext read
 * from a socket is fed in, plaintext comes out of dapr__tls_conn_read;
 * plaintext written goes out as ciphertext through a send callback that
 * must take every byte at once (the caller queues what the socket cannot
 * take, e.g. with uv_write). No call blocks and none touches a socket, so
 * the engine works on any event loop; the HTTP/1.1 client (client_conn.c)
 * drives it from libuv reads.
 *
 * Policy, as Go's crypto/tls with Dapr's settings: TLS 1.2 minimum (1.3 is
 * not built into 2.28), the peer certificate is always verified against
 * the given CAs (or the system store), and its name against the host the
 * caller connects to: DNS names against the SAN dNSName entries (or the
 * CN), IP literals against the iPAddress entries only. Verification cannot
 * be turned off.
 *
 * One dapr__tls_ctx_t (parsed CAs, own certificate, RNG, mbedTLS config) is
 * shared by many connections of the same target; it must outlive them. */
#ifndef DAPR_CORE_TLS_H
#define DAPR_CORE_TLS_H

#include <stdbool.h>
#include <stddef.h>

#define DAPR__TLS_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* What a client trusts and presents. All strings borrowed for the call. */
typedef struct dapr__tls_client_config {
    const char *ca_pem;   /* trusted CAs (PEM text, one or more); NULL: ca_file */
    const char *ca_file;  /* PEM bundle; NULL: DAPR__TLS_SYSTEM_CA_FILE */
    const char *cert_pem; /* mTLS: our certificate (chain), PEM; NULL: none */
    const char *key_pem;  /* its private key (PEM, unencrypted); with cert_pem */
    bool renegotiation;   /* accept a server's request to renegotiate */
} dapr__tls_client_config_t;

typedef struct dapr__tls_ctx dapr__tls_ctx_t;
typedef struct dapr__tls_conn dapr__tls_conn_t;

/* Check the PEM documents of cfg without building a context (no RNG, no
 * system store): the CA text holds at least one certificate, cert and key
 * parse and belong together, neither comes alone. Returns 0, or
 * DAPR_EINVAL with a message in err (which names the field: "rootCA",
 * "certificate", "privateKey"). */
int dapr__tls_config_check(const dapr__tls_client_config_t *cfg, char *err, size_t errlen);

/* Parse cfg into a shared context (seeds an RNG, reads the CA file when no
 * ca_pem is given: a one-time read of a local file). Errors: DAPR_EINVAL
 * (bad PEM, unreadable CA file; err says which), DAPR_ENOMEM. */
int dapr__tls_ctx_create(dapr__tls_ctx_t **out, const dapr__tls_client_config_t *cfg, char *err,
                         size_t errlen);
/* NULL-safe. Every connection made from it must be freed first. */
void dapr__tls_ctx_free(dapr__tls_ctx_t *ctx);

/* Ciphertext out: take all len bytes (copy them if they must wait).
 * Return 0, or a negative value when the transport is gone. */
typedef int (*dapr__tls_send_fn)(void *ud, const void *data, size_t len);

/* A client connection to `host` (copied; a DNS name is sent as SNI and
 * checked against the certificate, an IP literal is checked against its IP
 * SANs; brackets not allowed). Errors: DAPR_EINVAL, DAPR_ENOMEM. */
int dapr__tls_conn_create(dapr__tls_conn_t **out, dapr__tls_ctx_t *ctx, const char *host,
                          dapr__tls_send_fn send, void *ud);
/* NULL-safe; at any point (mid-handshake included). Sends nothing. */
void dapr__tls_conn_free(dapr__tls_conn_t *t);

/* Ciphertext in (copied). Returns 0 or DAPR_ENOMEM. */
int dapr__tls_conn_feed(dapr__tls_conn_t *t, const void *data, size_t len);

/* Advance the handshake with what was fed (the first call sends the
 * ClientHello). Returns 0 once it is complete (and the peer verified),
 * DAPR_EAGAIN while it needs more input, DAPR_EUNAVAIL on failure with the
 * reason in err ("x509 certificate verify failed: ...", "TLS handshake
 * failed: ..."), DAPR_EIO if the send callback failed. */
int dapr__tls_conn_handshake(dapr__tls_conn_t *t, char *err, size_t errlen);
bool dapr__tls_conn_established(const dapr__tls_conn_t *t);

/* Decrypt: returns the number of plaintext bytes put in buf (> 0),
 * DAPR_EAGAIN when the input fed so far holds no more complete record,
 * DAPR_ECLOSED when the peer sent close_notify, or DAPR_EIO (err says
 * why). Call until it stops returning data: every byte fed is then
 * consumed. */
long dapr__tls_conn_read(dapr__tls_conn_t *t, char *buf, size_t cap, char *err, size_t errlen);

/* Encrypt len bytes and hand the records to the send callback. Returns 0,
 * or DAPR_EIO (the send callback failed, or the session is broken). */
int dapr__tls_conn_write(dapr__tls_conn_t *t, const void *data, size_t len);

#endif
