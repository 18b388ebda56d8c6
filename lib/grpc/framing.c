/* gRPC message framing (5-byte prefix: flag, big-endian u32 length).
 *
 * Receive: messages are cut out of DATA chunks; one that lies whole inside a
 * chunk is handed out in place, only messages split across frames are copied
 * (once, into a buffer of exactly their announced size, after the size was
 * checked against the limit).
 *
 * Send: a call's queue is one contiguous byte buffer of prefixed messages;
 * nghttp2 pulls DATA frame payloads from its head (NO_COPY) so each message
 * byte is copied once into the queue and once into the socket buffer. */
#include <string.h>

#include "core/alloc.h"
#include "dapr/common.h"
#include "grpc_int.h"

/* Reassembly buffers above this are released after each message so a long
 * stream that once carried a big message does not keep its memory. */
#define KEEP_RX_BUF ((size_t)64 << 10)
#define KEEP_TX_BUF ((size_t)256 << 10)

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int start_body(dapr__grpc_deframer_t *d, size_t max)
{
    if (d->hdr[0] == 1)
        return DAPR__GRPC_DF_COMPRESSED;
    if (d->hdr[0] != 0)
        return DAPR__GRPC_DF_BAD_FLAG;
    d->len = be32(d->hdr + 1);
    if (d->len > max)
        return DAPR__GRPC_DF_TOO_BIG;
    d->in_body = true;
    d->have = 0;
    return 0;
}

static void end_message(dapr__grpc_deframer_t *d)
{
    d->nhdr = 0;
    d->in_body = false;
    d->have = 0;
}

static int buffer_part(dapr__grpc_deframer_t *d, const uint8_t *p, size_t take)
{
    if (d->have == 0 && d->cap < d->len) {
        dapr__free(d->buf);
        d->buf = dapr__malloc(d->len);
        d->cap = d->buf ? d->len : 0;
        if (!d->buf)
            return DAPR_ENOMEM;
    }
    memcpy(d->buf + d->have, p, take);
    d->have += take;
    return 0;
}

static int deliver_buffered(dapr__grpc_deframer_t *d, dapr__grpc_msg_fn fn, void *ud)
{
    size_t len = d->len;
    end_message(d);
    int rv = fn(ud, d->buf, len);
    if (d->cap > KEEP_RX_BUF) {
        dapr__free(d->buf);
        d->buf = NULL;
        d->cap = 0;
    }
    return rv;
}

int dapr__grpc_deframe(dapr__grpc_deframer_t *d, const uint8_t *p, size_t n, size_t max,
                       dapr__grpc_msg_fn fn, void *ud)
{
    int rv;
    while (n > 0) {
        if (!d->in_body) {
            size_t take = 5u - d->nhdr < n ? 5u - d->nhdr : n;
            memcpy(d->hdr + d->nhdr, p, take);
            d->nhdr = (uint8_t)(d->nhdr + take);
            p += take;
            n -= take;
            if (d->nhdr < 5)
                break;
            if ((rv = start_body(d, max)) != 0)
                return rv;
        }
        size_t need = d->len - d->have;
        if (d->have == 0 && n >= need) {
            /* whole message inside this chunk: no copy */
            end_message(d);
            p += need;
            n -= need;
            if ((rv = fn(ud, p - need, need)) != 0)
                return rv;
            continue;
        }
        size_t take = need < n ? need : n;
        if ((rv = buffer_part(d, p, take)) != 0)
            return rv;
        p += take;
        n -= take;
        if (d->have == d->len && (rv = deliver_buffered(d, fn, ud)) != 0)
            return rv;
    }
    return 0;
}

uint8_t *dapr__grpc_deframer_steal(dapr__grpc_deframer_t *d)
{
    uint8_t *b = d->buf;
    d->buf = NULL;
    d->cap = 0;
    return b;
}

void dapr__grpc_deframer_free(dapr__grpc_deframer_t *d)
{
    dapr__free(d->buf);
    memset(d, 0, sizeof(*d));
}

/* --- send queue -------------------------------------------------------- */

static int outq_room(dapr__grpc_outq_t *q, size_t need)
{
    size_t used = q->tail - q->head;
    if (q->cap - q->tail >= need)
        return 0;
    if (used <= q->cap / 2 && q->cap - used >= need) {
        /* compact; cheap because at most half the buffer is live */
        memmove(q->data, q->data + q->head, used);
    } else {
        size_t ncap = q->cap ? q->cap * 2 : 4096;
        while (ncap < used + need)
            ncap *= 2;
        uint8_t *nd = dapr__malloc(ncap);
        if (!nd)
            return DAPR_ENOMEM;
        if (used)
            memcpy(nd, q->data + q->head, used);
        dapr__free(q->data);
        q->data = nd;
        q->cap = ncap;
    }
    q->head = 0;
    q->tail = used;
    return 0;
}

int dapr__grpc_outq_push(dapr__grpc_outq_t *q, const void *msg, size_t len)
{
    if (len > UINT32_MAX || len > SIZE_MAX / 2)
        return DAPR_ETOOBIG;
    if (q->head == q->tail)
        q->head = q->tail = 0;
    if (outq_room(q, 5 + len))
        return DAPR_ENOMEM;
    dapr__grpc_prefix(q->data + q->tail, false, (uint32_t)len);
    if (len)
        memcpy(q->data + q->tail + 5, msg, len);
    q->tail += 5 + len;
    return 0;
}

int dapr__grpc_outq_push_raw(dapr__grpc_outq_t *q, const void *data, size_t len)
{
    if (len > SIZE_MAX / 2)
        return DAPR_ETOOBIG;
    if (q->head == q->tail)
        q->head = q->tail = 0;
    if (outq_room(q, len))
        return DAPR_ENOMEM;
    if (len)
        memcpy(q->data + q->tail, data, len);
    q->tail += len;
    q->raw = true;
    return 0;
}

void dapr__grpc_outq_consume(dapr__grpc_outq_t *q, size_t n)
{
    if (q->raw) {
        q->head += n;
        n = 0;
    }
    while (n > 0) {
        if (q->msg_rem == 0)
            q->msg_rem = 5 + (size_t)be32(q->data + q->head + 1);
        size_t take = n < q->msg_rem ? n : q->msg_rem;
        q->head += take;
        q->msg_rem -= take;
        n -= take;
    }
    if (q->head == q->tail) {
        q->head = q->tail = 0;
        if (q->cap > KEEP_TX_BUF) {
            dapr__free(q->data);
            q->data = NULL;
            q->cap = 0;
        }
    }
}

void dapr__grpc_outq_drop_unsent(dapr__grpc_outq_t *q)
{
    q->tail = q->head + q->msg_rem;
    if (q->head == q->tail)
        q->head = q->tail = 0;
}

void dapr__grpc_outq_free(dapr__grpc_outq_t *q)
{
    dapr__free(q->data);
    memset(q, 0, sizeof(*q));
}
