/* The placement ring (lib/runtime/placement_ring.c). Expected owners were
 * computed independently with Python (hashlib.blake2b + bisect) from the
 * algorithm in placement_ring.h. */
#include <stdio.h>
#include <string.h>

#include "runtime/placement_ring.h"
#include "../testutil.h"

#define H(n) {(char *)(n), (char *)"app", 50002}

static const char *owner(const dapr__pring_t *r, const char *id)
{
    const dapr__pring_host_t *h = dapr__pring_get(r, id, strlen(id));
    return h ? h->name : NULL;
}

static void test_hash(void)
{
    /* first 8 bytes of BLAKE2b-512("abc") (RFC 7693 Appendix A), little endian */
    CHECK(dapr__pring_hash("abc", 3) == 958453735928201402ULL);
    CHECK(dapr__pring_hash("10.0.0.1:5000217", 16) == 0xe27020225a02d5adULL);
}

static void test_vectors(void)
{
    dapr__pring_host_t hosts[] = {H("10.0.0.3:50002"), H("10.0.0.1:50002"), H("10.0.0.2:50002")};
    dapr__pring_t r;
    CHECK_EQ_INT(dapr__pring_build(&r, hosts, 3, 100), 0);
    CHECK_EQ_INT(r.n_vnodes, 300);
    CHECK(r.vhash[0] == 0x1b9446a6fc62a47ULL);
    CHECK(r.vhash[299] == 0xfc5e44606ea582d9ULL);
    CHECK_EQ_STR(r.hosts[r.vhost[0]].name, "10.0.0.3:50002");
    CHECK_EQ_STR(owner(&r, "a"), "10.0.0.2:50002");
    CHECK_EQ_STR(owner(&r, "b"), "10.0.0.1:50002");
    CHECK_EQ_STR(owner(&r, "actor-1"), "10.0.0.1:50002");
    CHECK_EQ_STR(owner(&r, "actor-2"), "10.0.0.3:50002");
    CHECK_EQ_STR(owner(&r, "42"), "10.0.0.1:50002");
    CHECK_EQ_STR(owner(&r, "myactor"), "10.0.0.1:50002");
    CHECK_EQ_STR(owner(&r, ""), "10.0.0.1:50002");
    /* wrap-around: h("w112") = 0xfe15... is past the last vnode → vnode 0 */
    CHECK(dapr__pring_hash("w112", 4) > r.vhash[299]);
    CHECK_EQ_STR(owner(&r, "w112"), "10.0.0.3:50002");
    CHECK_EQ_STR(owner(&r, "w198"), "10.0.0.3:50002");

    /* distribution over 1000 ids, as Python counted */
    int c1 = 0, c2 = 0, c3 = 0;
    char id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "id-%d", i);
        const char *o = owner(&r, id);
        c1 += !strcmp(o, "10.0.0.1:50002");
        c2 += !strcmp(o, "10.0.0.2:50002");
        c3 += !strcmp(o, "10.0.0.3:50002");
    }
    CHECK_EQ_INT(c1, 336);
    CHECK_EQ_INT(c2, 379);
    CHECK_EQ_INT(c3, 285);
    dapr__pring_free(&r);
}

/* The host order in the input does not matter; duplicates count once. */
static void test_stable(void)
{
    dapr__pring_host_t a[] = {H("h1:1"), H("h2:1"), H("h3:1")};
    dapr__pring_host_t b[] = {H("h3:1"), H("h1:1"), H("h2:1"), H("h1:1")};
    dapr__pring_t ra, rb;
    CHECK_EQ_INT(dapr__pring_build(&ra, a, 3, 0), 0); /* 0 → 100 */
    CHECK_EQ_INT(dapr__pring_build(&rb, b, 4, 100), 0);
    CHECK_EQ_INT(ra.n_hosts, 3);
    CHECK_EQ_INT(rb.n_hosts, 3);
    CHECK_EQ_INT(ra.n_vnodes, rb.n_vnodes);
    char id[32];
    int same = 0;
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof(id), "actor-%d", i);
        same += !strcmp(owner(&ra, id), owner(&rb, id));
    }
    CHECK_EQ_INT(same, 2000);
    dapr__pring_free(&ra);
    dapr__pring_free(&rb);
}

/* Adding a 4th host moves only ids to the new host (about a quarter). */
static void test_add_host(void)
{
    dapr__pring_host_t a[] = {H("h1:1"), H("h2:1"), H("h3:1"), H("h4:1")};
    dapr__pring_t r3, r4;
    CHECK_EQ_INT(dapr__pring_build(&r3, a, 3, 100), 0);
    CHECK_EQ_INT(dapr__pring_build(&r4, a, 4, 100), 0);
    int moved = 0, wrong = 0;
    char id[32];
    for (int i = 0; i < 4000; i++) {
        snprintf(id, sizeof(id), "actor-%d", i);
        const char *o3 = owner(&r3, id), *o4 = owner(&r4, id);
        if (strcmp(o3, o4)) {
            moved++;
            wrong += strcmp(o4, "h4:1") != 0;
        }
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK(moved > 4000 / 8 && moved < 4000 * 3 / 8);
    dapr__pring_free(&r3);
    dapr__pring_free(&r4);
}

static void test_edges(void)
{
    dapr__pring_t r;
    CHECK_EQ_INT(dapr__pring_build(&r, NULL, 0, 100), 0);
    CHECK(dapr__pring_get(&r, "x", 1) == NULL);
    dapr__pring_free(&r);
    dapr__pring_host_t one[] = {H("solo:1")};
    CHECK_EQ_INT(dapr__pring_build(&r, one, 1, 1), 0);
    CHECK_EQ_INT(r.n_vnodes, 1);
    CHECK_EQ_STR(owner(&r, "anything"), "solo:1");
    CHECK_EQ_STR(dapr__pring_get(&r, "z", 1)->app_id, "app");
    dapr__pring_free(&r);
    dapr__pring_free(NULL);
}

int main(void)
{
    test_hash();
    test_vectors();
    test_stable();
    test_add_host();
    test_edges();
    return test_result();
}
