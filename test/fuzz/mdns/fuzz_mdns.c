/* libFuzzer target: bytes into the mDNS/DNS message parser, then a round
 * trip: every record of a message that parses is written again with the
 * writer (names re-encoded and re-compressed) and the result must parse to
 * the same records, names and rdata. Also runs the text-name helpers the
 * resolver uses on every decoded name. */
#include <stdint.h>
#include <string.h>

#include "components/nameresolution/mdns_wire.h"

#define MAXR 256

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static void touch_name(const char *name)
{
    const char *rest = dapr__dns_name_rest(name);
    check(!rest || (rest > name && rest <= name + strlen(name)));
    check(dapr__dns_name_eq(name, name));
    check(dapr__dns_name_check(name) == 0); /* every decoded name is a valid text name */
}

/* Write record r of m into w. */
static void rewrite(dapr__dns_writer_t *w, const dapr__dns_msg_t *m, const dapr__dns_rec_t *r)
{
    char name[DAPR__DNS_NAME_TEXT], target[DAPR__DNS_NAME_TEXT];
    check(dapr__dns_name_at(m, r->name_off, name) == 0);
    touch_name(name);
    if (r->section == DAPR__DNS_SEC_QUESTION) {
        dapr__dns_put_question(w, name, r->type, r->top_bit);
        return;
    }
    const uint8_t *rd = m->p + r->rdata_off;
    switch (r->type) {
    case DAPR__DNS_TYPE_PTR:
        check(dapr__dns_name_at(m, r->target_off, target) == 0);
        touch_name(target);
        dapr__dns_put_ptr(w, r->section, name, r->top_bit, r->ttl, target);
        break;
    case DAPR__DNS_TYPE_SRV:
        check(dapr__dns_name_at(m, r->target_off, target) == 0);
        touch_name(target);
        dapr__dns_put_srv(w, r->section, name, r->top_bit, r->ttl, r->srv_priority,
                          r->srv_weight, r->srv_port, target);
        break;
    case DAPR__DNS_TYPE_TXT: {
        size_t off = 0, sl, total = 0;
        const uint8_t *s;
        while (dapr__dns_txt_next(rd, r->rdlen, &off, &s, &sl))
            total += 1 + sl;
        check(total == r->rdlen);
    }
        /* fall through: TXT rdata is copied as is */
    default:
        dapr__dns_put_raw(w, r->section, name, r->type, r->top_bit, r->ttl, rd, r->rdlen);
    }
}

static void same(const dapr__dns_msg_t *a, const dapr__dns_rec_t *x, const dapr__dns_msg_t *b,
                 const dapr__dns_rec_t *y)
{
    char n1[DAPR__DNS_NAME_TEXT], n2[DAPR__DNS_NAME_TEXT];
    check(x->section == y->section && x->type == y->type && x->top_bit == y->top_bit &&
          x->ttl == y->ttl);
    check(!dapr__dns_name_at(a, x->name_off, n1) && !dapr__dns_name_at(b, y->name_off, n2));
    check(strcmp(n1, n2) == 0);
    if (x->section == DAPR__DNS_SEC_QUESTION)
        return;
    if (x->type == DAPR__DNS_TYPE_PTR || x->type == DAPR__DNS_TYPE_SRV) {
        check(!dapr__dns_name_at(a, x->target_off, n1) && !dapr__dns_name_at(b, y->target_off, n2));
        check(strcmp(n1, n2) == 0);
        check(x->srv_port == y->srv_port && x->srv_weight == y->srv_weight &&
              x->srv_priority == y->srv_priority);
    } else {
        check(x->rdlen == y->rdlen && !memcmp(a->p + x->rdata_off, b->p + y->rdata_off, x->rdlen));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static dapr__dns_rec_t recs[MAXR], recs2[MAXR];
    static uint8_t out[65535];
    dapr__dns_msg_t m, m2;
    if (dapr__dns_parse(&m, data, size, recs, MAXR))
        return 0;
    dapr__dns_writer_t w;
    size_t n;
    dapr__dns_writer_init(&w, out, sizeof(out), m.id, m.flags);
    for (size_t i = 0; i < m.n_recs; i++)
        rewrite(&w, &m, &recs[i]);
    if (dapr__dns_finish(&w, &n))
        return 0; /* e.g. more than 64 KiB once re-encoded */
    check(dapr__dns_parse(&m2, out, n, recs2, MAXR) == 0);
    check(m2.n_recs == m.n_recs && m2.id == m.id && m2.flags == m.flags);
    for (size_t i = 0; i < m.n_recs; i++)
        same(&m, &recs[i], &m2, &recs2[i]);
    return 0;
}
