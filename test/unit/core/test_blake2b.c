/* BLAKE2b-512 against RFC 7693 Appendix A ("abc") and the well-known
 * vectors (empty string, "The quick brown fox..."); multi-block lengths
 * checked against Python's hashlib.blake2b. */
#include <stdio.h>
#include <string.h>

#include "core/blake2b.h"
#include "../testutil.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void check512(const void *msg, size_t n, const char *want)
{
    uint8_t d[64];
    char h[129];
    dapr__blake2b512(msg, n, d);
    hex(d, 64, h);
    CHECK_EQ_STR(h, want);
    /* the same through update in uneven pieces */
    dapr__blake2b_t s;
    dapr__blake2b_init(&s, 64);
    const uint8_t *p = msg;
    size_t off = 0, step = 1;
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        dapr__blake2b_update(&s, p + off, k);
        off += k;
        step = step * 3 + 1;
    }
    memset(d, 0, sizeof(d));
    dapr__blake2b_final(&s, d);
    hex(d, 64, h);
    CHECK_EQ_STR(h, want);
}

int main(void)
{
    check512("", 0,
             "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419"
             "d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce");
    /* RFC 7693 Appendix A */
    check512("abc", 3,
             "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
             "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
    const char *fox = "The quick brown fox jumps over the lazy dog";
    check512(fox, strlen(fox),
             "a8add4bdddfd93e4877d2746e62817b116364a1fa7bc148d95090bc7333b3673"
             "f82401cf7aa2e4cb1ecd90296e3f14cb5413f8ed77be73045b13914cdcd6a918");

    static const struct {
        size_t n;
        const char *want;
    } multi[] = {
        {127, "b6292669ccd38d5f01caae96ba272c76a879a45743afa0725d83b9ebb26665b7"
              "31f1848c52f11972b6644f554c064fa90780dbbbf3a89d4fc31f67df3e5857ef"},
        {128, "2319e3789c47e2daa5fe807f61bec2a1a6537fa03f19ff32e87eecbfd64b7e0e"
              "8ccff439ac333b040f19b0c4ddd11a61e24ac1fe0f10a039806c5dcc0da3d115"},
        {129, "f59711d44a031d5f97a9413c065d1e614c417ede998590325f49bad2fd444d3e"
              "4418be19aec4e11449ac1a57207898bc57d76a1bcf3566292c20c683a5c4648f"},
        {256, "93463ac058b6163eb43be3f5bb32b28541498f4e3366f1effe253ad44e1e076e"
              "41c3616046027c82a7124f8f4746668ad10b12e8e25a95ac8f3151df01cd5a93"},
        {1000, "c11e1c0340bd7e5a1b275f1230c962fad215ecb1391486e74e31b960a2f29963"
               "81a5fad092da06841d5f26e38f6ecfeaf441acbcd1c2de61aef121e7927175f5"},
    };
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i % 251);
    for (size_t i = 0; i < sizeof(multi) / sizeof(multi[0]); i++)
        check512(buf, multi[i].n, multi[i].want);
    return test_result();
}
