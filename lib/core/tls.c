/* TLS client engine on mbedTLS 2.28 (see tls.h).
 *
 * mbedTLS talks to its transport through two callbacks (mbedtls_ssl_set_bio):
 * ours read from a buffer of fed ciphertext (WANT_READ when it is empty) and
 * hand every record to the owner's send function, which never refuses, so
 * mbedTLS never blocks and never sees WANT_WRITE. mbedTLS buffers partial
 * records itself, so a read loop that runs to WANT_READ consumes all input.
 *
 * Renegotiation (a server's HelloRequest, only when allowed): mbedTLS runs
 * the new handshake inside ssl_read; a write made meanwhile gets WANT_READ,
 * so its plaintext waits in `wpend` and leaves from the next read. */
#include "tls.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "dapr/common.h"

struct dapr__tls_ctx {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca, own;
    mbedtls_pk_context key;
    mbedtls_ssl_config conf;
};

struct dapr__tls_conn {
    mbedtls_ssl_context ssl;
    dapr__tls_send_fn send;
    void *ud;
    dapr__buf_t in; /* fed ciphertext not consumed yet, from in_off */
    size_t in_off;
    dapr__buf_t wpend; /* plaintext written during a renegotiation */
    unsigned char ip[16]; /* the host, when it is an IP literal */
    size_t ip_len;
    bool done, broken, send_failed;
};

static void mbed_err(int rc, const char *what, char *err, size_t errlen)
{
    char text[160];
    mbedtls_strerror(rc, text, sizeof(text));
    snprintf(err, errlen, "%s: %s (-0x%04x)", what, text, (unsigned)-rc);
}

/* ---------------------------------------------------------------------
 * Checking and parsing PEM documents
 * ------------------------------------------------------------------- */

static int parse_certs(mbedtls_x509_crt *crt, const char *pem, const char *what, char *err,
                       size_t errlen)
{
    if (!strstr(pem, "-----BEGIN CERTIFICATE-----")) {
        snprintf(err, errlen, "%s: no PEM certificate (\"-----BEGIN CERTIFICATE-----\") found",
                 what);
        return DAPR_EINVAL;
    }
    /* PEM input is parsed with its terminating NUL counted */
    int rc = mbedtls_x509_crt_parse(crt, (const unsigned char *)pem, strlen(pem) + 1);
    if (rc < 0) {
        mbed_err(rc, what, err, errlen);
        return DAPR_EINVAL;
    }
    if (rc > 0) {
        snprintf(err, errlen, "%s: %d certificate(s) could not be parsed", what, rc);
        return DAPR_EINVAL;
    }
    return 0;
}

static int parse_own(mbedtls_x509_crt *own, mbedtls_pk_context *key,
                     const dapr__tls_client_config_t *cfg, char *err, size_t errlen)
{
    if (!cfg->cert_pem != !cfg->key_pem) {
        snprintf(err, errlen, "%s is given without %s", cfg->cert_pem ? "certificate" : "privateKey",
                 cfg->cert_pem ? "privateKey" : "certificate");
        return DAPR_EINVAL;
    }
    if (!cfg->cert_pem)
        return 0;
    int rc = parse_certs(own, cfg->cert_pem, "certificate", err, errlen);
    if (rc)
        return rc;
    rc = mbedtls_pk_parse_key(key, (const unsigned char *)cfg->key_pem, strlen(cfg->key_pem) + 1,
                              NULL, 0);
    if (rc) {
        mbed_err(rc, "privateKey", err, errlen);
        return DAPR_EINVAL;
    }
    rc = mbedtls_pk_check_pair(&own->pk, key);
    if (rc) {
        mbed_err(rc, "privateKey does not match certificate", err, errlen);
        return DAPR_EINVAL;
    }
    return 0;
}

int dapr__tls_config_check(const dapr__tls_client_config_t *cfg, char *err, size_t errlen)
{
    mbedtls_x509_crt ca, own;
    mbedtls_pk_context key;
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&own);
    mbedtls_pk_init(&key);
    int rc = cfg->ca_pem ? parse_certs(&ca, cfg->ca_pem, "rootCA", err, errlen) : 0;
    if (!rc)
        rc = parse_own(&own, &key, cfg, err, errlen);
    mbedtls_x509_crt_free(&ca);
    mbedtls_x509_crt_free(&own);
    mbedtls_pk_free(&key);
    return rc;
}

/* ---------------------------------------------------------------------
 * The shared context
 * ------------------------------------------------------------------- */

void dapr__tls_ctx_free(dapr__tls_ctx_t *ctx)
{
    if (!ctx)
        return;
    mbedtls_ssl_config_free(&ctx->conf);
    mbedtls_pk_free(&ctx->key);
    mbedtls_x509_crt_free(&ctx->own);
    mbedtls_x509_crt_free(&ctx->ca);
    mbedtls_ctr_drbg_free(&ctx->drbg);
    mbedtls_entropy_free(&ctx->entropy);
    dapr__free(ctx);
}

static int load_ca(dapr__tls_ctx_t *ctx, const dapr__tls_client_config_t *cfg, char *err,
                   size_t errlen)
{
    if (cfg->ca_pem)
        return parse_certs(&ctx->ca, cfg->ca_pem, "rootCA", err, errlen);
    const char *file = cfg->ca_file ? cfg->ca_file : DAPR__TLS_SYSTEM_CA_FILE;
    /* a system bundle may hold a few certificates mbedTLS cannot parse
     * (rc > 0 counts them); what parsed is usable */
    int rc = mbedtls_x509_crt_parse_file(&ctx->ca, file);
    if (rc < 0 || !ctx->ca.version) {
        char what[300];
        snprintf(what, sizeof(what), "reading the CA bundle %s", file);
        if (rc < 0)
            mbed_err(rc, what, err, errlen);
        else
            snprintf(err, errlen, "%s: no usable certificate", what);
        return DAPR_EINVAL;
    }
    return 0;
}

int dapr__tls_ctx_create(dapr__tls_ctx_t **out, const dapr__tls_client_config_t *cfg, char *err,
                         size_t errlen)
{
    *out = NULL;
    dapr__tls_ctx_t *ctx = dapr__calloc(1, sizeof(*ctx));
    if (!ctx)
        return DAPR_ENOMEM;
    mbedtls_entropy_init(&ctx->entropy);
    mbedtls_ctr_drbg_init(&ctx->drbg);
    mbedtls_x509_crt_init(&ctx->ca);
    mbedtls_x509_crt_init(&ctx->own);
    mbedtls_pk_init(&ctx->key);
    mbedtls_ssl_config_init(&ctx->conf);
    static const unsigned char pers[] = "libdapr tls client";
    int rc = mbedtls_ctr_drbg_seed(&ctx->drbg, mbedtls_entropy_func, &ctx->entropy, pers,
                                   sizeof(pers) - 1);
    if (rc) {
        mbed_err(rc, "seeding the TLS random generator", err, errlen);
        dapr__tls_ctx_free(ctx);
        return DAPR_EIO;
    }
    rc = load_ca(ctx, cfg, err, errlen);
    if (!rc)
        rc = parse_own(&ctx->own, &ctx->key, cfg, err, errlen);
    if (!rc && mbedtls_ssl_config_defaults(&ctx->conf, MBEDTLS_SSL_IS_CLIENT,
                                           MBEDTLS_SSL_TRANSPORT_STREAM,
                                           MBEDTLS_SSL_PRESET_DEFAULT))
        rc = DAPR_ENOMEM;
    if (!rc && cfg->cert_pem && mbedtls_ssl_conf_own_cert(&ctx->conf, &ctx->own, &ctx->key))
        rc = DAPR_ENOMEM;
    if (rc) {
        if (rc == DAPR_ENOMEM)
            snprintf(err, errlen, "out of memory");
        dapr__tls_ctx_free(ctx);
        return rc;
    }
    mbedtls_ssl_conf_authmode(&ctx->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&ctx->conf, &ctx->ca, NULL);
    mbedtls_ssl_conf_rng(&ctx->conf, mbedtls_ctr_drbg_random, &ctx->drbg);
    mbedtls_ssl_conf_min_version(&ctx->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3); /* TLS 1.2 */
    mbedtls_ssl_conf_renegotiation(&ctx->conf, cfg->renegotiation
                                                   ? MBEDTLS_SSL_RENEGOTIATION_ENABLED
                                                   : MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    *out = ctx;
    return 0;
}

/* ---------------------------------------------------------------------
 * Connections
 * ------------------------------------------------------------------- */

static int bio_send(void *p, const unsigned char *data, size_t len)
{
    dapr__tls_conn_t *t = p;
    if (t->send(t->ud, data, len) < 0) {
        t->send_failed = true;
        return MBEDTLS_ERR_NET_SEND_FAILED;
    }
    return (int)len;
}

static int bio_recv(void *p, unsigned char *buf, size_t len)
{
    dapr__tls_conn_t *t = p;
    size_t left = t->in.len - t->in_off;
    if (!left)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (len > left)
        len = left;
    memcpy(buf, t->in.data + t->in_off, len);
    t->in_off += len;
    if (t->in_off == t->in.len) { /* drained: an idle connection holds nothing */
        dapr__buf_free(&t->in);
        t->in_off = 0;
    }
    return (int)len;
}

/* mbedTLS 2.28 matches the host only against dNSName SANs and the CN; an IP
 * literal must match an iPAddress SAN (RFC 6125 §6.2.1, Go's rule). */
static int verify_ip(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    const dapr__tls_conn_t *t = p;
    if (depth != 0)
        return 0;
    for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s && s->buf.p; s = s->next)
        if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS) &&
            s->buf.len == t->ip_len && !memcmp(s->buf.p, t->ip, t->ip_len))
            return 0;
    *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    return 0;
}

int dapr__tls_conn_create(dapr__tls_conn_t **out, dapr__tls_ctx_t *ctx, const char *host,
                          dapr__tls_send_fn send, void *ud)
{
    *out = NULL;
    if (!ctx || !host || !*host || !send)
        return DAPR_EINVAL;
    dapr__tls_conn_t *t = dapr__calloc(1, sizeof(*t));
    if (!t)
        return DAPR_ENOMEM;
    t->send = send;
    t->ud = ud;
    mbedtls_ssl_init(&t->ssl);
    if (inet_pton(AF_INET, host, t->ip) == 1)
        t->ip_len = 4;
    else if (inet_pton(AF_INET6, host, t->ip) == 1)
        t->ip_len = 16;
    int rc = mbedtls_ssl_setup(&t->ssl, &ctx->conf);
    /* a DNS name: SNI and name verification; an IP: no SNI (RFC 6066 §3) */
    if (!rc && !t->ip_len)
        rc = mbedtls_ssl_set_hostname(&t->ssl, host);
    if (rc) {
        dapr__tls_conn_free(t);
        return rc == MBEDTLS_ERR_SSL_BAD_INPUT_DATA ? DAPR_EINVAL : DAPR_ENOMEM;
    }
    if (t->ip_len)
        mbedtls_ssl_set_verify(&t->ssl, verify_ip, t);
    mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
    *out = t;
    return 0;
}

void dapr__tls_conn_free(dapr__tls_conn_t *t)
{
    if (!t)
        return;
    mbedtls_ssl_free(&t->ssl);
    dapr__buf_free(&t->in);
    dapr__buf_free(&t->wpend);
    dapr__free(t);
}

int dapr__tls_conn_feed(dapr__tls_conn_t *t, const void *data, size_t len)
{
    return dapr__buf_append(&t->in, data, len) ? DAPR_ENOMEM : 0;
}

bool dapr__tls_conn_established(const dapr__tls_conn_t *t) { return t->done; }

/* "x509 certificate verify failed: <reason>; <reason>" */
static void verify_failed(const dapr__tls_conn_t *t, char *err, size_t errlen)
{
    char info[512];
    uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
    int n = mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
    while (n > 0 && (info[n - 1] == '\n' || info[n - 1] == ' '))
        info[--n] = '\0';
    for (char *nl = info; (nl = strchr(nl, '\n'));)
        *nl = ';';
    snprintf(err, errlen, "x509 certificate verify failed: %s", n > 0 ? info : "unknown reason");
}

static const char *alert_name(int desc)
{
    switch (desc) {
    case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE:
        return "handshake failure (does the server require a client certificate?)";
    case MBEDTLS_SSL_ALERT_MSG_BAD_CERT:
        return "bad certificate (the server refused our client certificate)";
    case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA:
        return "unknown CA (the server does not trust our client certificate)";
    case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN:
        return "certificate unknown";
    case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION:
        return "protocol version (TLS 1.2 is the only version offered)";
    case 116:
        return "certificate required";
    default:
        return "";
    }
}

int dapr__tls_conn_handshake(dapr__tls_conn_t *t, char *err, size_t errlen)
{
    if (t->done)
        return 0;
    if (t->broken) {
        snprintf(err, errlen, "TLS handshake failed earlier");
        return DAPR_EUNAVAIL;
    }
    int rc = mbedtls_ssl_handshake(&t->ssl);
    if (rc == 0) {
        t->done = true;
        return 0;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
        return DAPR_EAGAIN;
    t->broken = true;
    if (t->send_failed) {
        snprintf(err, errlen, "TLS handshake: the connection cannot be written");
        return DAPR_EIO;
    }
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        verify_failed(t, err, errlen);
    } else if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && t->ssl.in_msg) {
        int desc = t->ssl.in_msg[1];
        snprintf(err, errlen, "TLS handshake failed: the server sent alert %d %s", desc,
                 alert_name(desc));
    } else {
        mbed_err(rc, "TLS handshake failed", err, errlen);
    }
    return DAPR_EUNAVAIL;
}

/* Write plaintext held during a renegotiation once it is over. */
static int flush_wpend(dapr__tls_conn_t *t)
{
    while (t->wpend.len) {
        int rc = mbedtls_ssl_write(&t->ssl, (const unsigned char *)t->wpend.data, t->wpend.len);
        if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
            return 0;
        if (rc < 0) {
            t->broken = true;
            return DAPR_EIO;
        }
        memmove(t->wpend.data, t->wpend.data + rc, t->wpend.len - (size_t)rc);
        t->wpend.len -= (size_t)rc;
    }
    dapr__buf_free(&t->wpend);
    return 0;
}

long dapr__tls_conn_read(dapr__tls_conn_t *t, char *buf, size_t cap, char *err, size_t errlen)
{
    if (t->broken) {
        snprintf(err, errlen, "TLS session broken");
        return DAPR_EIO;
    }
    int rc = mbedtls_ssl_read(&t->ssl, (unsigned char *)buf, cap);
    if (t->wpend.len && flush_wpend(t)) {
        snprintf(err, errlen, "TLS write failed");
        return DAPR_EIO;
    }
    if (rc > 0)
        return rc;
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
        return DAPR_EAGAIN;
    if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
        return DAPR_ECLOSED;
    t->broken = true;
    mbed_err(rc, "TLS read failed", err, errlen);
    return DAPR_EIO;
}

int dapr__tls_conn_write(dapr__tls_conn_t *t, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (t->broken || !t->done)
        return DAPR_EIO;
    while (len && !t->wpend.len) {
        int rc = mbedtls_ssl_write(&t->ssl, p, len);
        if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
            break; /* renegotiating: the rest waits for the next read */
        if (rc < 0) {
            t->broken = true;
            return DAPR_EIO;
        }
        p += rc;
        len -= (size_t)rc;
    }
    if (len && dapr__buf_append(&t->wpend, p, len))
        return DAPR_EIO;
    return 0;
}
