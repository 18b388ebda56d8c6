/* What protobuf-c does not check when it unpacks proto3 messages, and
 * grpc-go (Dapr) does: string fields must be valid UTF-8. And what the C
 * representation cannot hold: protobuf-c hands strings over NUL-terminated,
 * so a string with a NUL byte inside would silently be cut short (two keys
 * "a\0b" and "a" would alias) — such requests are refused instead.
 *
 * The walk reads the wire format with the message descriptor, recursing
 * into sub-messages (map entries included). Malformed wire data is not
 * judged here: protobuf-c's unpack refuses it right after. */
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "grpc/grpc.h"

#define MAX_DEPTH 64

static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

/* RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF. */
bool dapr__utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static int check(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
                 int depth)
{
    if (depth > MAX_DEPTH)
        return DAPR__PB_OK; /* protobuf-c decides about absurd nesting */
    while (p < end) {
        uint64_t tag, len;
        if (!varint(&p, end, &tag))
            return DAPR__PB_OK;
        switch (tag & 7) {
        case 0:
            if (!varint(&p, end, &len))
                return DAPR__PB_OK;
            continue;
        case 1:
            p = (size_t)(end - p) < 8 ? end : p + 8;
            continue;
        case 5:
            p = (size_t)(end - p) < 4 ? end : p + 4;
            continue;
        case 2:
            break;
        default:
            return DAPR__PB_OK; /* groups and junk: unpack's business */
        }
        if (!varint(&p, end, &len) || len > (uint64_t)(end - p))
            return DAPR__PB_OK;
        const uint8_t *v = p;
        p += len;
        const ProtobufCFieldDescriptor *f =
            tag >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3))
                                   : NULL;
        if (!f)
            continue;
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            if (!dapr__utf8_valid(v, (size_t)len))
                return DAPR__PB_BAD_UTF8;
            if (memchr(v, 0, (size_t)len))
                return DAPR__PB_NUL;
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor) {
            int rc = check(f->descriptor, v, v + len, depth + 1);
            if (rc)
                return rc;
        }
    }
    return DAPR__PB_OK;
}

int dapr__grpc_pb_check(const void *descriptor, const uint8_t *msg, size_t len)
{
    return check(descriptor, msg, msg + len, 0);
}
