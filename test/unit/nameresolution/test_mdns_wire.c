/* Unit tests of the mDNS wire format (build/parse round trips, compression,
 * escaping, malformed packets) and of the name-resolver registry. */
#include <arpa/inet.h>
#include <uv.h>

#include "components/nameresolution/mdns_wire.h"
#include "components/registry.h"
#include "core/alloc.h"
#include "../testutil.h"

static const dapr__dns_rec_t *find(const dapr__dns_msg_t *m, uint16_t type, size_t nth)
{
    for (size_t i = 0; i < m->n_recs; i++)
        if (m->recs[i].type == type && m->recs[i].section != DAPR__DNS_SEC_QUESTION && !nth--)
            return &m->recs[i];
    return NULL;
}

static void test_round_trip(void)
{
    uint8_t buf[1500];
    dapr__dns_writer_t w;
    size_t n;
    const char *txt[] = {"orders", "DAPR_HTTP_PORT=3500"};
    size_t tl[] = {6, 19};
    uint8_t v4[4] = {127, 0, 0, 1}, v6[16] = {[15] = 1};
    dapr__dns_writer_init(&w, buf, sizeof(buf), 0, DAPR__DNS_FLAG_QR | DAPR__DNS_FLAG_AA);
    dapr__dns_put_ptr(&w, DAPR__DNS_SEC_ANSWER, "orders.local", false, 4500,
                      "box:42:50002.orders.local");
    dapr__dns_put_srv(&w, DAPR__DNS_SEC_ANSWER, "box:42:50002.orders.local", true, 120, 0, 0,
                      50002, "box-42-50002.local");
    dapr__dns_put_txt(&w, DAPR__DNS_SEC_ANSWER, "box:42:50002.orders.local", true, 4500, txt, tl,
                      2);
    dapr__dns_put_addr(&w, DAPR__DNS_SEC_ADDITIONAL, "box-42-50002.local", true, 120, v4, 4);
    dapr__dns_put_addr(&w, DAPR__DNS_SEC_ADDITIONAL, "box-42-50002.local", true, 120, v6, 16);
    CHECK_EQ_INT(dapr__dns_finish(&w, &n), 0);
    /* compression: "orders.local" appears 4 times, "local" 5 times */
    CHECK(n < 200);

    dapr__dns_rec_t recs[16];
    dapr__dns_msg_t m;
    char name[DAPR__DNS_NAME_TEXT];
    CHECK_EQ_INT(dapr__dns_parse(&m, buf, n, recs, 16), 0);
    CHECK_EQ_INT(m.flags, DAPR__DNS_FLAG_QR | DAPR__DNS_FLAG_AA);
    CHECK_EQ_INT(m.counts[DAPR__DNS_SEC_ANSWER], 3);
    CHECK_EQ_INT(m.counts[DAPR__DNS_SEC_ADDITIONAL], 2);
    CHECK_EQ_INT(m.n_recs, 5);

    const dapr__dns_rec_t *ptr = find(&m, DAPR__DNS_TYPE_PTR, 0);
    CHECK(ptr && !ptr->top_bit && ptr->ttl == 4500 && ptr->rclass == DAPR__DNS_CLASS_IN);
    CHECK(ptr && !dapr__dns_name_at(&m, ptr->name_off, name));
    CHECK_EQ_STR(name, "orders.local");
    CHECK(ptr && !dapr__dns_name_at(&m, ptr->target_off, name));
    CHECK_EQ_STR(name, "box:42:50002.orders.local");

    const dapr__dns_rec_t *srv = find(&m, DAPR__DNS_TYPE_SRV, 0);
    CHECK(srv && srv->top_bit && srv->ttl == 120 && srv->srv_port == 50002);
    CHECK(srv && !dapr__dns_name_at(&m, srv->target_off, name));
    CHECK_EQ_STR(name, "box-42-50002.local");

    const dapr__dns_rec_t *t = find(&m, DAPR__DNS_TYPE_TXT, 0);
    CHECK(t != NULL);
    if (t) {
        size_t off = 0, sl;
        const uint8_t *s;
        CHECK(dapr__dns_txt_next(buf + t->rdata_off, t->rdlen, &off, &s, &sl));
        CHECK(sl == 6 && !memcmp(s, "orders", 6));
        CHECK(dapr__dns_txt_next(buf + t->rdata_off, t->rdlen, &off, &s, &sl));
        CHECK(sl == 19 && !memcmp(s, "DAPR_HTTP_PORT=3500", 19));
        CHECK(!dapr__dns_txt_next(buf + t->rdata_off, t->rdlen, &off, &s, &sl));
    }
    const dapr__dns_rec_t *a = find(&m, DAPR__DNS_TYPE_A, 0);
    CHECK(a && a->section == DAPR__DNS_SEC_ADDITIONAL && !memcmp(buf + a->rdata_off, v4, 4));
    const dapr__dns_rec_t *aaaa = find(&m, DAPR__DNS_TYPE_AAAA, 0);
    CHECK(aaaa && aaaa->rdlen == 16 && !memcmp(buf + aaaa->rdata_off, v6, 16));

    /* a query with QU and several questions */
    dapr__dns_writer_init(&w, buf, sizeof(buf), 7, 0);
    dapr__dns_put_question(&w, "a.local", DAPR__DNS_TYPE_PTR, true);
    dapr__dns_put_question(&w, "B.LOCAL", DAPR__DNS_TYPE_ANY, false);
    CHECK_EQ_INT(dapr__dns_finish(&w, &n), 0);
    CHECK_EQ_INT(n, 12 + 9 + 4 + 9 + 4); /* no compression across case: names keep it */
    CHECK_EQ_INT(dapr__dns_parse(&m, buf, n, recs, 16), 0);
    CHECK_EQ_INT(m.id, 7);
    CHECK_EQ_INT(m.n_recs, 2);
    CHECK(recs[0].top_bit && recs[0].type == DAPR__DNS_TYPE_PTR);
    CHECK(!recs[1].top_bit && recs[1].type == DAPR__DNS_TYPE_ANY);
    CHECK(!dapr__dns_name_at(&m, recs[1].name_off, name));
    CHECK_EQ_STR(name, "B.LOCAL");
    CHECK(dapr__dns_name_eq(name, "b.LOCAL"));
}

static void test_escapes(void)
{
    uint8_t buf[512];
    dapr__dns_writer_t w;
    size_t n;
    char name[DAPR__DNS_NAME_TEXT];
    /* a label holding a dot, a backslash, a space and a NUL byte */
    const char *odd = "my\\.app\\\\x\\032y\\000.svc.local";
    CHECK_EQ_INT(dapr__dns_name_check(odd), 0);
    dapr__dns_writer_init(&w, buf, sizeof(buf), 0, 0);
    dapr__dns_put_question(&w, odd, DAPR__DNS_TYPE_SRV, false);
    CHECK_EQ_INT(dapr__dns_finish(&w, &n), 0);
    CHECK_EQ_INT(buf[12], 11); /* m y . a p p \ x SP y NUL */
    dapr__dns_rec_t recs[4];
    dapr__dns_msg_t m;
    CHECK_EQ_INT(dapr__dns_parse(&m, buf, n, recs, 4), 0);
    CHECK(!dapr__dns_name_at(&m, recs[0].name_off, name));
    CHECK_EQ_STR(name, odd);
    CHECK_EQ_STR(dapr__dns_name_rest(name), "svc.local");
    CHECK(dapr__dns_name_rest("single") == NULL);
    CHECK(dapr__dns_name_rest("a\\.b") == NULL);

    char big[400];
    memset(big, 'a', 64);
    big[64] = '\0';
    CHECK_EQ_INT(dapr__dns_name_check(big), DAPR_EINVAL); /* 64-byte label */
    big[63] = '\0';
    CHECK_EQ_INT(dapr__dns_name_check(big), 0);
    /* 4 labels of 63 bytes: 256 wire bytes with the root, too long; with a
     * last label of 61 bytes it is exactly 255 */
    memset(big, 'b', sizeof(big));
    big[63] = big[127] = big[191] = '.';
    big[255] = '\0';
    CHECK_EQ_INT(dapr__dns_name_check(big), DAPR_EINVAL);
    big[253] = '\0';
    CHECK_EQ_INT(dapr__dns_name_check(big), 0);
    CHECK_EQ_INT(dapr__dns_name_check("a..b"), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__dns_name_check(".a"), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__dns_name_check("a."), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__dns_name_check("a\\"), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__dns_name_check("a\\25"), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__dns_name_check("a\\256"), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__dns_name_check(""), 0);
}

static void test_writer_errors(void)
{
    uint8_t buf[64];
    dapr__dns_writer_t w;
    size_t n;
    uint8_t v4[4] = {1, 2, 3, 4};
    dapr__dns_writer_init(&w, buf, sizeof(buf), 0, 0);
    dapr__dns_put_addr(&w, DAPR__DNS_SEC_ADDITIONAL, "a.local", false, 1, v4, 4);
    dapr__dns_put_question(&w, "a.local", DAPR__DNS_TYPE_A, false); /* out of order */
    CHECK_EQ_INT(dapr__dns_finish(&w, &n), DAPR_EINVAL);

    dapr__dns_writer_init(&w, buf, sizeof(buf), 0, 0);
    for (int i = 0; i < 10; i++)
        dapr__dns_put_addr(&w, DAPR__DNS_SEC_ANSWER, "host.local", false, 1, v4, 4);
    CHECK_EQ_INT(dapr__dns_finish(&w, &n), DAPR_ETOOBIG);

    dapr__dns_writer_init(&w, buf, sizeof(buf), 0, 0);
    dapr__dns_put_addr(&w, DAPR__DNS_SEC_ANSWER, "bad..name", false, 1, v4, 4);
    CHECK_EQ_INT(dapr__dns_finish(&w, &n), DAPR_EINVAL);

    dapr__dns_writer_init(&w, buf, sizeof(buf), 0, 0);
    dapr__dns_put_addr(&w, DAPR__DNS_SEC_ANSWER, "a", false, 1, v4, 3);
    CHECK_EQ_INT(dapr__dns_finish(&w, &n), DAPR_EINVAL);
}

/* Header with one question or answer record (qd, an). */
static size_t hdr(uint8_t *p, int qd, int an)
{
    memset(p, 0, 12);
    p[2] = an ? 0x84 : 0;
    p[5] = (uint8_t)qd;
    p[7] = (uint8_t)an;
    return 12;
}

static int parse(const uint8_t *p, size_t n)
{
    dapr__dns_rec_t recs[8];
    dapr__dns_msg_t m;
    return dapr__dns_parse(&m, p, n, recs, 8);
}

static void test_malformed(void)
{
    uint8_t p[128] = {0};
    size_t n;
    CHECK_EQ_INT(parse(p, 11), DAPR_EPARSE);

    /* pointer to itself */
    n = hdr(p, 1, 0);
    p[n++] = 0xc0, p[n++] = 12;
    memcpy(p + n, "\0\1\0\1", 4), n += 4;
    CHECK_EQ_INT(parse(p, n), DAPR_EPARSE);

    /* forward pointer */
    n = hdr(p, 1, 0);
    p[n++] = 0xc0, p[n++] = 20;
    memcpy(p + n, "\0\1\0\1\1a\0\0", 8), n += 8;
    CHECK_EQ_INT(parse(p, n), DAPR_EPARSE);

    /* a label, then a pointer back to it: "a" "a" "a"... a loop through a label */
    n = hdr(p, 1, 0);
    p[n++] = 1, p[n++] = 'a', p[n++] = 0xc0, p[n++] = 12;
    memcpy(p + n, "\0\1\0\1", 4), n += 4;
    CHECK_EQ_INT(parse(p, n), DAPR_EPARSE);

    /* two names pointing at each other: second → first is fine, first
     * cannot point forward */
    n = hdr(p, 2, 0);
    p[n++] = 1, p[n++] = 'x', p[n++] = 0, memcpy(p + n, "\0\1\0\1", 4), n += 4;
    p[n++] = 1, p[n++] = 'y', p[n++] = 0xc0, p[n++] = 12, memcpy(p + n, "\0\1\0\1", 4), n += 4;
    CHECK_EQ_INT(parse(p, n), 0);

    /* label running past the end */
    n = hdr(p, 1, 0);
    p[n++] = 10, p[n++] = 'a';
    CHECK_EQ_INT(parse(p, n), DAPR_EPARSE);

    /* reserved label types */
    n = hdr(p, 1, 0);
    p[n++] = 0x41, p[n++] = 0, memcpy(p + n, "\0\1\0\1", 4), n += 4;
    CHECK_EQ_INT(parse(p, n), DAPR_EPARSE);

    /* name longer than 255 via chained pointers (each label 63 bytes) */
    uint8_t big[600];
    n = hdr(big, 5, 0);
    size_t prev = 0;
    for (int i = 0; i < 5; i++) {
        size_t at = n;
        big[n++] = 63;
        memset(big + n, 'a' + i, 63), n += 63;
        if (prev)
            big[n++] = (uint8_t)(0xc0 | prev >> 8), big[n++] = (uint8_t)prev;
        else
            big[n++] = 0;
        memcpy(big + n, "\0\1\0\1", 4), n += 4;
        prev = at;
    }
    CHECK_EQ_INT(parse(big, n), DAPR_EPARSE); /* the 4th name is 4*64+1 = 257 bytes */

    /* rdlength beyond the packet */
    n = hdr(p, 0, 1);
    p[n++] = 0, memcpy(p + n, "\0\1\0\1\0\0\0\1\0\10\1\2", 12), n += 12;
    CHECK_EQ_INT(parse(p, n), DAPR_EPARSE);
    /* A with 5 bytes */
    n = hdr(p, 0, 1);
    p[n++] = 0, memcpy(p + n, "\0\1\0\1\0\0\0\1\0\5\1\2\3\4\5", 15), n += 15;
    CHECK_EQ_INT(parse(p, n), DAPR_EPARSE);
    /* TXT whose string runs past the rdata */
    n = hdr(p, 0, 1);
    p[n++] = 0, memcpy(p + n, "\0\20\0\1\0\0\0\1\0\3\5ab", 13), n += 13;
    CHECK_EQ_INT(parse(p, n), DAPR_EPARSE);
    /* PTR whose target runs past the rdata into the next bytes */
    n = hdr(p, 0, 1);
    p[n++] = 0, memcpy(p + n, "\0\14\0\1\0\0\0\1\0\2\1a\0", 13), n += 13;
    CHECK_EQ_INT(parse(p, n), DAPR_EPARSE);
    /* SRV too short */
    n = hdr(p, 0, 1);
    p[n++] = 0, memcpy(p + n, "\0\41\0\1\0\0\0\1\0\6\0\0\0\0\0\1", 16), n += 16;
    CHECK_EQ_INT(parse(p, n), DAPR_EPARSE);
    /* more records than the caller's array */
    n = hdr(p, 0, 0);
    p[5] = 9;
    CHECK_EQ_INT(parse(p, n), DAPR_ETOOBIG);
    /* counts promise a record that is not there */
    n = hdr(p, 1, 0);
    CHECK_EQ_INT(parse(p, n), DAPR_EPARSE);
}

static void test_registry(void)
{
    dapr__registry_init();
    CHECK(dapr__registry_nameres("nameresolution.mdns", "v1") != NULL);
    CHECK(dapr__registry_nameres("nameresolution.sqlite", NULL) != NULL);
    CHECK(dapr__registry_nameres("nameresolution.consul", "v1") == NULL);
    CHECK(dapr__registry_kind_of("nameresolution.mdns") == DAPR__KIND_NAMERES);
    CHECK(dapr__registry_kind_of("state.redis") == DAPR__KIND_STATE);
    CHECK_EQ_INT(dapr_register_name_resolver(dapr__registry_nameres("nameresolution.mdns", "v1")),
                 DAPR_EEXIST);
    dapr_name_resolver_vtable_t bad = {.type = "mdns2", .version = "v1"};
    CHECK_EQ_INT(dapr_register_name_resolver(&bad), DAPR_EINVAL);

    uv_loop_t loop;
    uv_loop_init(&loop);
    dapr_component_t *c = NULL;
    char err[256] = "";
    /* default (no component named) is mdns, named after the short name */
    CHECK_EQ_INT(dapr__nameres_new(&c, &loop, NULL, "app", NULL, "", NULL, NULL, 0, err,
                                   sizeof(err)), 0);
    CHECK(c && c->kind == DAPR__KIND_NAMERES && c->nr_vt && !c->state_vt);
    if (c) {
        CHECK_EQ_STR(c->type, "nameresolution.mdns");
        CHECK_EQ_STR(dapr_component_name(c), "mdns");
    }
    dapr__component_free(c);
    dapr_kv_t md[] = {{"connectionString", "/tmp/x.db"}};
    CHECK_EQ_INT(dapr__nameres_new(&c, &loop, NULL, "app", NULL, "nameresolution.sqlite", "v1",
                                   md, 1, err, sizeof(err)), 0);
    dapr__component_free(c);
    CHECK_EQ_INT(dapr__nameres_new(&c, &loop, NULL, "app", NULL, "consul", "v1", NULL, 0, err,
                                   sizeof(err)), DAPR_ENOTFOUND);
    CHECK(strstr(err, "nameresolution.consul") != NULL);
    dapr_kv_t badmd[] = {{"resolveTimeout", "soon"}};
    CHECK_EQ_INT(dapr__nameres_new(&c, &loop, NULL, "app", NULL, "mdns", "v1", badmd, 1, err,
                                   sizeof(err)), DAPR_EINVAL);
    CHECK(strstr(err, "resolveTimeout") != NULL);
    /* not a Component kind */
    CHECK_EQ_INT(dapr__component_new(&c, &loop, NULL, "app", NULL, "nr", "nameresolution.mdns",
                                     "v1", NULL, 0, err, sizeof(err)), DAPR_EINVAL);
    CHECK(strstr(err, "Configuration") != NULL);
    /* allocation failures while creating an instance */
    for (long i = 0; i < 40; i++) {
        dapr__alloc_fail_after(i);
        int rc = dapr__nameres_new(&c, &loop, NULL, "app", NULL, "mdns", "v1", badmd, 0, err,
                                   sizeof(err));
        dapr__alloc_fail_after(-1);
        CHECK(rc == 0 || rc == DAPR_ENOMEM);
        if (!rc)
            dapr__component_free(c);
    }
    uv_loop_close(&loop);
}

int main(void)
{
    test_round_trip();
    test_escapes();
    test_writer_errors();
    test_malformed();
    test_registry();
    return test_result();
}
