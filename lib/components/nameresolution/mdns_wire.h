/* DNS messages as mDNS uses them (RFC 1035 wire format, RFC 6762 §18 bits):
 * a validating parser and a writer with name compression. Sans-I/O: bytes in,
 * records out; records in, bytes out. No allocation.
 *
 * Names are handled in a text form: labels joined by '.', no trailing dot,
 * the root name is "". Inside a label, '.' and '\' are written "\." and "\\",
 * bytes outside 0x21..0x7e as "\DDD" (decimal), so any wire name has exactly
 * one text form and fits DAPR__DNS_NAME_TEXT bytes. Comparison is ASCII
 * case-insensitive, as DNS requires. */
#ifndef DAPR_NR_MDNS_WIRE_H
#define DAPR_NR_MDNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DAPR__DNS_TYPE_A 1
#define DAPR__DNS_TYPE_PTR 12
#define DAPR__DNS_TYPE_TXT 16
#define DAPR__DNS_TYPE_AAAA 28
#define DAPR__DNS_TYPE_SRV 33
#define DAPR__DNS_TYPE_ANY 255
#define DAPR__DNS_CLASS_IN 1

#define DAPR__DNS_FLAG_QR 0x8000u /* response */
#define DAPR__DNS_FLAG_AA 0x0400u /* authoritative */
#define DAPR__DNS_OPCODE(flags) (((flags) >> 11) & 0xfu)
#define DAPR__DNS_RCODE(flags) ((flags) & 0xfu)

/* 255 wire bytes, at most 4 text bytes per wire byte, plus NUL. */
#define DAPR__DNS_NAME_TEXT 1024
/* RFC 6762 §17: mDNS messages are at most 9000 bytes. */
#define DAPR__MDNS_MAX_PACKET 9000

enum {
    DAPR__DNS_SEC_QUESTION = 0,
    DAPR__DNS_SEC_ANSWER,
    DAPR__DNS_SEC_AUTHORITY,
    DAPR__DNS_SEC_ADDITIONAL
};

/* One question or resource record. Names are wire offsets into the message
 * (decode with dapr__dns_name_at); everything was bounds-checked by parse. */
typedef struct dapr__dns_rec {
    uint8_t section;   /* DAPR__DNS_SEC_* */
    bool top_bit;      /* question: unicast response wanted (QU); record: cache flush */
    uint16_t type;
    uint16_t rclass;   /* without the top bit */
    uint32_t ttl;      /* 0 for questions */
    uint16_t name_off;
    uint16_t rdata_off;
    uint16_t rdlen;
    /* decoded rdata */
    uint16_t target_off;      /* PTR, SRV: the target name */
    uint16_t srv_priority, srv_weight, srv_port;
} dapr__dns_rec_t;

typedef struct dapr__dns_msg {
    const uint8_t *p; /* borrowed message bytes */
    size_t n;
    uint16_t id;
    uint16_t flags;
    uint16_t counts[4]; /* questions, answers, authority, additional */
    dapr__dns_rec_t *recs;
    size_t n_recs;
} dapr__dns_msg_t;

/* Parse and validate a whole message into recs (caller-provided, max_recs
 * entries). Every name (owners, PTR/SRV targets) is checked: lengths, reserved
 * label types, compression pointers (each must point strictly before the
 * previous jump: no loops), 255-byte limit. Rdata must fit its rdlength; A is
 * 4 bytes, AAAA 16, TXT a well-formed string list. Bytes after the last
 * record are ignored. Returns 0, DAPR_EPARSE (malformed) or DAPR_ETOOBIG
 * (more than max_recs records). msg borrows p. */
int dapr__dns_parse(dapr__dns_msg_t *msg, const uint8_t *p, size_t n, dapr__dns_rec_t *recs,
                    size_t max_recs);

/* Text form of the name at a wire offset of a parsed message into out
 * (DAPR__DNS_NAME_TEXT bytes). Returns 0 or DAPR_EPARSE. */
int dapr__dns_name_at(const dapr__dns_msg_t *msg, uint16_t off, char *out);

/* Iterate the character-strings of TXT rdata: start with *off = 0; returns
 * false at the end or on a malformed list. */
bool dapr__dns_txt_next(const uint8_t *rd, size_t rdlen, size_t *off, const uint8_t **s,
                        size_t *slen);

/* Text-form name helpers. */
bool dapr__dns_name_eq(const char *a, const char *b);
/* The name after the first label ("b.c" for "a\.x.b.c"), or NULL if the name
 * has a single label. */
const char *dapr__dns_name_rest(const char *name);
/* Validate a text name: escapes well formed, labels 1..63 bytes, at most 255
 * wire bytes. Returns 0 or DAPR_EINVAL. */
int dapr__dns_name_check(const char *name);

/* ---------------------------------------------------------------------
 * Writer. Sections must be written in order; a failure (no room, bad name,
 * section out of order) sticks in `err` and later calls do nothing, so a
 * writer can make many calls and check once in dapr__dns_finish.
 * ------------------------------------------------------------------- */
#define DAPR__DNS_MAX_COMPRESS 64

typedef struct dapr__dns_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;
    int section;
    uint16_t counts[4];
    uint16_t names[DAPR__DNS_MAX_COMPRESS]; /* label offsets that later names may point at */
    size_t n_names;
} dapr__dns_writer_t;

void dapr__dns_writer_init(dapr__dns_writer_t *w, uint8_t *buf, size_t cap, uint16_t id,
                           uint16_t flags);
void dapr__dns_put_question(dapr__dns_writer_t *w, const char *name, uint16_t type, bool qu);
void dapr__dns_put_ptr(dapr__dns_writer_t *w, int section, const char *name, bool flush,
                       uint32_t ttl, const char *target);
void dapr__dns_put_srv(dapr__dns_writer_t *w, int section, const char *name, bool flush,
                       uint32_t ttl, uint16_t priority, uint16_t weight, uint16_t port,
                       const char *target);
/* n strings of lens[i] bytes each (at most 255 each); n == 0 writes the
 * single empty string RFC 6763 §6.1 asks for. */
void dapr__dns_put_txt(dapr__dns_writer_t *w, int section, const char *name, bool flush,
                       uint32_t ttl, const char *const *strs, const size_t *lens, size_t n);
/* A (alen 4) or AAAA (alen 16). */
void dapr__dns_put_addr(dapr__dns_writer_t *w, int section, const char *name, bool flush,
                        uint32_t ttl, const uint8_t *addr, size_t alen);
/* Any record with raw rdata (no name compression inside it). */
void dapr__dns_put_raw(dapr__dns_writer_t *w, int section, const char *name, uint16_t type,
                       bool flush, uint32_t ttl, const uint8_t *rdata, size_t rdlen);
/* Patch the header counts; returns 0 and the length, or the sticky error
 * (DAPR_ETOOBIG, DAPR_EINVAL). */
int dapr__dns_finish(dapr__dns_writer_t *w, size_t *len);

#endif
