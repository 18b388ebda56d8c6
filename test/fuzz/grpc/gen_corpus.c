/* Writes the seed corpus of fuzz_grpc: client sides of valid (and a few
 * deliberately odd) gRPC sessions, recorded from an nghttp2 client session.
 *   gen_grpc_corpus <dir>
 * Each file starts with fuzz_grpc's mode byte: 0x01 = the target prepends
 * the connection preface (the file omits it), 0x00 = the file has it;
 * 0x06 = also fed in 8-byte chunks. */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rec {
    nghttp2_session *s;
    uint8_t buf[1 << 16];
    size_t len;
} rec_t;

typedef struct body {
    const uint8_t *p;
    size_t len, off;
    int eof;
} body_t;

static ssize_t body_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    body_t *b = src->ptr;
    size_t n = b->len - b->off < len ? b->len - b->off : len;
    memcpy(buf, b->p + b->off, n);
    b->off += n;
    if (b->off == b->len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (!b->eof)
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
    return (ssize_t)n;
}

static void drain(rec_t *r)
{
    const uint8_t *d;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(r->s, &d)) > 0 && r->len + (size_t)n <= sizeof(r->buf)) {
        memcpy(r->buf + r->len, d, (size_t)n);
        r->len += (size_t)n;
    }
}

static void rec_init(rec_t *r)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_client_new(&r->s, cbs, r);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(r->s, NGHTTP2_FLAG_NONE, iv, 2);
    r->len = 0;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, 0}

static size_t frame(uint8_t *out, uint8_t flag, const char *m, size_t n)
{
    out[0] = flag;
    out[1] = (uint8_t)(n >> 24);
    out[2] = (uint8_t)(n >> 16);
    out[3] = (uint8_t)(n >> 8);
    out[4] = (uint8_t)n;
    memcpy(out + 5, m, n);
    return 5 + n;
}

static int32_t req(rec_t *r, const char *path, const nghttp2_nv *extra, size_t n_extra,
                   body_t *b)
{
    nghttp2_nv v[16] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "fuzz")};
    size_t n = 3;
    v[n++] = (nghttp2_nv){(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0};
    v[n++] = (nghttp2_nv)NV("content-type", "application/grpc");
    v[n++] = (nghttp2_nv)NV("te", "trailers");
    for (size_t i = 0; i < n_extra && n < 16; i++)
        v[n++] = extra[i];
    nghttp2_data_provider prd = {.source.ptr = b, .read_callback = body_read};
    return nghttp2_submit_request(r->s, NULL, v, n, b ? &prd : NULL, NULL);
}

static void save(const char *dir, const char *name, rec_t *r, uint8_t mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    size_t skip = mode & 1 ? 24 : 0; /* the target adds the preface itself */
    fputc(mode, f);
    fwrite(r->buf + skip, 1, r->len - skip, f);
    fclose(f);
    nghttp2_session_del(r->s);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    rec_t *r = calloc(1, sizeof(*r));
    uint8_t w[4][256];
    body_t b[4];

    rec_init(r); /* one unary call */
    b[0] = (body_t){w[0], frame(w[0], 0, "hello", 5), 0, 1};
    req(r, "/f.S/Unary", NULL, 0, &b[0]);
    drain(r);
    save(dir, "unary", r, 1);

    rec_init(r); /* the same with the preface in the file, fed in 8-byte chunks */
    b[0].off = 0;
    req(r, "/f.S/Unary", NULL, 0, &b[0]);
    drain(r);
    save(dir, "unary_chunked", r, 0x06);

    rec_init(r); /* metadata, deadline, binary values, a server stream */
    nghttp2_nv md[] = {NV("grpc-timeout", "10S"), NV("x-a", "1"), NV("x-b-bin", "AAEC"),
                       NV("x-c-bin", "AAE=,AgM"), NV("user-agent", "fuzz/1")};
    b[1] = (body_t){w[1], frame(w[1], 0, "", 0), 0, 1};
    req(r, "/f.S/Server", md, 5, &b[1]);
    drain(r);
    save(dir, "server_stream_md", r, 1);

    rec_init(r); /* a client stream split over frames, then a bidi that is reset */
    size_t n = frame(w[2], 0, "abc", 3);
    n += frame(w[2] + n, 0, "", 0);
    n += frame(w[2] + n, 0, "defghij", 7);
    b[2] = (body_t){w[2], n, 0, 1};
    req(r, "/f.S/Client", NULL, 0, &b[2]);
    b[3] = (body_t){w[3], frame(w[3], 0, "ping", 4), 0, 0};
    int32_t bidi = req(r, "/f.S/Bidi", NULL, 0, &b[3]);
    drain(r);
    nghttp2_submit_rst_stream(r->s, NGHTTP2_FLAG_NONE, bidi, NGHTTP2_CANCEL);
    nghttp2_submit_ping(r->s, NGHTTP2_FLAG_NONE, NULL);
    nghttp2_submit_window_update(r->s, NGHTTP2_FLAG_NONE, 0, 100000);
    drain(r);
    save(dir, "client_bidi_rst", r, 1);

    rec_init(r); /* errors: compressed flag, oversized prefix, gzip, unknown path */
    b[0] = (body_t){w[0], frame(w[0], 1, "z", 1), 0, 1};
    req(r, "/f.S/Unary", NULL, 0, &b[0]);
    w[1][0] = 0;
    w[1][1] = 0x7f;
    w[1][2] = w[1][3] = w[1][4] = 0xff;
    b[1] = (body_t){w[1], 5, 0, 1};
    req(r, "/f.S/Unary", NULL, 0, &b[1]);
    nghttp2_nv gz[] = {NV("grpc-encoding", "gzip")};
    b[2] = (body_t){w[2], frame(w[2], 0, "q", 1), 0, 1};
    req(r, "/f.S/Unary", gz, 1, &b[2]);
    nghttp2_nv app[] = {NV("dapr-app-id", "other")};
    b[3] = (body_t){w[3], frame(w[3], 0, "r", 1), 0, 1};
    req(r, "/some.Other/Method", app, 1, &b[3]);
    drain(r);
    save(dir, "errors", r, 1);

    rec_init(r); /* not gRPC: wrong content-type and a GET; a zero deadline */
    nghttp2_nv bad[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "x"),
                        NV(":path", "/f.S/Unary")};
    nghttp2_submit_request(r->s, NULL, bad, 4, NULL, NULL);
    nghttp2_nv zero[] = {NV("grpc-timeout", "0m")};
    b[0] = (body_t){w[0], frame(w[0], 0, "t", 1), 0, 0};
    req(r, "/f.S/Bidi", zero, 1, &b[0]);
    b[1] = (body_t){w[1], frame(w[1], 0, "f", 1), 0, 1};
    req(r, "/f.S/Fail", NULL, 0, &b[1]);
    drain(r);
    nghttp2_submit_goaway(r->s, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
    drain(r);
    save(dir, "not_grpc_deadline_goaway", r, 1);

    free(r);
    return 0;
}
