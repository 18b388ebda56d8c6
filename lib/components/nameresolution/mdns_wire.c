/* DNS wire format for mDNS: see mdns_wire.h. Every byte comes from the
 * network, so the parser checks each length against the buffer before use and
 * never follows a compression pointer forward. */
#include "mdns_wire.h"

#include <string.h>

#include "dapr/common.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

/* Append one label's text form; returns the bytes written (at most 4*len). */
static size_t escape_label(const uint8_t *l, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = l[i];
        if (b == '.' || b == '\\') {
            out[o++] = '\\';
            out[o++] = (char)b;
        } else if (b < 0x21 || b > 0x7e) {
            out[o++] = '\\';
            out[o++] = (char)('0' + b / 100);
            out[o++] = (char)('0' + b / 10 % 10);
            out[o++] = (char)('0' + b % 10);
        } else {
            out[o++] = (char)b;
        }
    }
    return o;
}

/* Read the name at *off, never looking at bytes at or after `end`. On return
 * *off is past the name's in-place bytes. out (DAPR__DNS_NAME_TEXT) may be
 * NULL to only validate. Pointers must go strictly backwards from the name's
 * start and from each earlier jump, so every chain ends. */
static int read_name(const uint8_t *p, size_t end, size_t *off, char *out)
{
    size_t pos = *off, limit = *off, next = 0, wire = 0, o = 0;
    bool jumped = false;
    int hops = 0;
    for (;;) {
        if (pos >= end)
            return DAPR_EPARSE;
        uint8_t l = p[pos];
        if ((l & 0xc0) == 0xc0) {
            if (pos + 1 >= end)
                return DAPR_EPARSE;
            size_t t = (size_t)(l & 0x3f) << 8 | p[pos + 1];
            if (!jumped)
                next = pos + 2;
            jumped = true;
            if (t >= limit || ++hops > 127)
                return DAPR_EPARSE;
            limit = pos = t;
            continue;
        }
        if (l & 0xc0) /* 0x40 and 0x80 label types are obsolete / reserved */
            return DAPR_EPARSE;
        if (l == 0) {
            if (!jumped)
                next = pos + 1;
            break;
        }
        if (l > end - pos - 1)
            return DAPR_EPARSE;
        wire += 1u + l;
        if (wire > 254) /* 255 with the root byte (RFC 1035 §3.1) */
            return DAPR_EPARSE;
        if (out) {
            if (o)
                out[o++] = '.';
            o += escape_label(p + pos + 1, l, out + o);
        }
        pos += 1u + l;
    }
    if (out)
        out[o] = '\0';
    *off = next;
    return 0;
}

int dapr__dns_name_at(const dapr__dns_msg_t *msg, uint16_t off, char *out)
{
    size_t o = off;
    out[0] = '\0';
    return read_name(msg->p, msg->n, &o, out);
}

bool dapr__dns_txt_next(const uint8_t *rd, size_t rdlen, size_t *off, const uint8_t **s,
                        size_t *slen)
{
    if (*off >= rdlen)
        return false;
    size_t l = rd[*off];
    if (l > rdlen - *off - 1)
        return false;
    *s = rd + *off + 1;
    *slen = l;
    *off += 1 + l;
    return true;
}

/* Rdata checks and decoding for the types mDNS service discovery uses. */
static int parse_rdata(const uint8_t *p, dapr__dns_rec_t *r)
{
    size_t off = r->rdata_off, end = off + r->rdlen;
    switch (r->type) {
    case DAPR__DNS_TYPE_PTR:
        r->target_off = r->rdata_off;
        if (read_name(p, end, &off, NULL) || off != end)
            return DAPR_EPARSE;
        return 0;
    case DAPR__DNS_TYPE_SRV:
        if (r->rdlen < 7)
            return DAPR_EPARSE;
        r->srv_priority = rd16(p + off);
        r->srv_weight = rd16(p + off + 2);
        r->srv_port = rd16(p + off + 4);
        off += 6;
        r->target_off = (uint16_t)off;
        if (read_name(p, end, &off, NULL) || off != end)
            return DAPR_EPARSE;
        return 0;
    case DAPR__DNS_TYPE_A:
        return r->rdlen == 4 ? 0 : DAPR_EPARSE;
    case DAPR__DNS_TYPE_AAAA:
        return r->rdlen == 16 ? 0 : DAPR_EPARSE;
    case DAPR__DNS_TYPE_TXT: {
        size_t o = 0, sl;
        const uint8_t *s;
        while (dapr__dns_txt_next(p + r->rdata_off, r->rdlen, &o, &s, &sl))
            ;
        return o == r->rdlen ? 0 : DAPR_EPARSE;
    }
    default:
        return 0;
    }
}

int dapr__dns_parse(dapr__dns_msg_t *msg, const uint8_t *p, size_t n, dapr__dns_rec_t *recs,
                    size_t max_recs)
{
    memset(msg, 0, sizeof(*msg));
    if (n < 12)
        return DAPR_EPARSE;
    if (n > 0xffff) /* offsets are 16 bits; no UDP payload is larger */
        return DAPR_ETOOBIG;
    msg->p = p;
    msg->n = n;
    msg->id = rd16(p);
    msg->flags = rd16(p + 2);
    size_t total = 0;
    for (int s = 0; s < 4; s++)
        total += msg->counts[s] = rd16(p + 4 + 2 * s);
    if (total > max_recs)
        return DAPR_ETOOBIG;
    msg->recs = recs;
    size_t off = 12;
    for (int sec = 0; sec < 4; sec++) {
        for (size_t i = 0; i < msg->counts[sec]; i++) {
            dapr__dns_rec_t r = {.section = (uint8_t)sec, .name_off = (uint16_t)off};
            if (read_name(p, n, &off, NULL) || n - off < 4)
                return DAPR_EPARSE;
            r.type = rd16(p + off);
            r.top_bit = p[off + 2] & 0x80;
            r.rclass = rd16(p + off + 2) & 0x7fff;
            off += 4;
            if (sec != DAPR__DNS_SEC_QUESTION) {
                if (n - off < 6)
                    return DAPR_EPARSE;
                r.ttl = rd32(p + off);
                r.rdlen = rd16(p + off + 4);
                off += 6;
                if (r.rdlen > n - off)
                    return DAPR_EPARSE;
                r.rdata_off = (uint16_t)off;
                if (parse_rdata(p, &r))
                    return DAPR_EPARSE;
                off += r.rdlen;
            }
            recs[msg->n_recs++] = r;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * Text names
 * ------------------------------------------------------------------- */

bool dapr__dns_name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower(*a) != lower(*b))
            return false;
    return *a == *b;
}

const char *dapr__dns_name_rest(const char *name)
{
    for (const char *s = name; *s; s++) {
        if (*s == '\\') {
            if (!s[1])
                return NULL;
            s++;
        } else if (*s == '.') {
            return s + 1;
        }
    }
    return NULL;
}

/* Text → uncompressed wire labels (no root byte); label start offsets into
 * lab[]. Returns 0 or DAPR_EINVAL. */
static int text_to_wire(const char *name, uint8_t wire[256], size_t *wl, size_t lab[128],
                        size_t *nl)
{
    size_t w = 0, n = 0;
    *wl = *nl = 0;
    if (!*name)
        return 0;
    const char *s = name;
    for (;;) {
        if (w + 1 > 254 || n == 128)
            return DAPR_EINVAL;
        size_t start = w++, len = 0;
        lab[n++] = start;
        while (*s && *s != '.') {
            unsigned c = (unsigned char)*s++;
            if (c == '\\') {
                if (s[0] >= '0' && s[0] <= '9') {
                    if (!(s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'))
                        return DAPR_EINVAL;
                    c = (unsigned)(s[0] - '0') * 100 + (unsigned)(s[1] - '0') * 10 +
                        (unsigned)(s[2] - '0');
                    if (c > 255)
                        return DAPR_EINVAL;
                    s += 3;
                } else if (*s) {
                    c = (unsigned char)*s++;
                } else {
                    return DAPR_EINVAL;
                }
            }
            if (++len > 63 || w + 1 > 254)
                return DAPR_EINVAL;
            wire[w++] = (uint8_t)c;
        }
        if (!len)
            return DAPR_EINVAL; /* empty label, or a leading / trailing / double dot */
        wire[start] = (uint8_t)len;
        if (!*s)
            break;
        s++; /* the dot */
    }
    *wl = w;
    *nl = n;
    return 0;
}

int dapr__dns_name_check(const char *name)
{
    uint8_t wire[256];
    size_t wl, lab[128], nl;
    return text_to_wire(name, wire, &wl, lab, &nl);
}

/* ---------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------- */

void dapr__dns_writer_init(dapr__dns_writer_t *w, uint8_t *buf, size_t cap, uint16_t id,
                           uint16_t flags)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->cap = cap > 0xffff ? 0xffff : cap;
    if (w->cap < 12) {
        w->err = DAPR_ETOOBIG;
        return;
    }
    memset(buf, 0, 12);
    buf[0] = (uint8_t)(id >> 8);
    buf[1] = (uint8_t)id;
    buf[2] = (uint8_t)(flags >> 8);
    buf[3] = (uint8_t)flags;
    w->len = 12;
}

static bool room(dapr__dns_writer_t *w, size_t n)
{
    if (w->err)
        return false;
    if (n > w->cap - w->len) {
        w->err = DAPR_ETOOBIG;
        return false;
    }
    return true;
}

static void put(dapr__dns_writer_t *w, const void *p, size_t n)
{
    if (room(w, n)) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
    }
}

static void put16(dapr__dns_writer_t *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 2);
}

static void put32(dapr__dns_writer_t *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 4);
}

/* Is the (possibly compressed) name at buffer offset `off` byte for byte the
 * uncompressed labels `suf` (ending in a root byte)? Our own buffer, still
 * walked with a hop limit. */
static bool suffix_eq(const dapr__dns_writer_t *w, size_t off, const uint8_t *suf)
{
    for (int hops = 0; hops < 128;) {
        if (off >= w->len)
            return false;
        uint8_t l = w->buf[off];
        if ((l & 0xc0) == 0xc0) {
            if (off + 1 >= w->len)
                return false;
            off = (size_t)(l & 0x3f) << 8 | w->buf[off + 1];
            hops++;
            continue;
        }
        if (l != *suf)
            return false;
        if (!l)
            return true;
        /* exact bytes: a name keeps its case through compression */
        if (off + 1 + l > w->len || memcmp(w->buf + off + 1, suf + 1, l))
            return false;
        off += 1u + l;
        suf += 1u + l;
    }
    return false;
}

static void put_name(dapr__dns_writer_t *w, const char *name)
{
    uint8_t wire[257];
    size_t wl, lab[128], nl;
    if (w->err)
        return;
    if (text_to_wire(name, wire, &wl, lab, &nl)) {
        w->err = DAPR_EINVAL;
        return;
    }
    wire[wl] = 0;
    size_t cut = nl, ptr = 0;
    for (size_t i = 0; i < nl && cut == nl; i++)
        for (size_t k = 0; k < w->n_names; k++)
            if (suffix_eq(w, w->names[k], wire + lab[i])) {
                cut = i;
                ptr = w->names[k];
                break;
            }
    for (size_t i = 0; i < cut; i++) {
        size_t at = w->len;
        put(w, wire + lab[i], 1u + wire[lab[i]]);
        if (!w->err && at < 0x3fff && w->n_names < DAPR__DNS_MAX_COMPRESS)
            w->names[w->n_names++] = (uint16_t)at;
    }
    if (cut < nl)
        put16(w, (uint16_t)(0xc000 | ptr));
    else
        put(w, "", 1);
}

static bool enter(dapr__dns_writer_t *w, int section)
{
    if (w->err)
        return false;
    if (section < w->section || section > DAPR__DNS_SEC_ADDITIONAL ||
        w->counts[section] == 0xffff) {
        w->err = DAPR_EINVAL;
        return false;
    }
    w->section = section;
    return true;
}

void dapr__dns_put_question(dapr__dns_writer_t *w, const char *name, uint16_t type, bool qu)
{
    if (!enter(w, DAPR__DNS_SEC_QUESTION))
        return;
    put_name(w, name);
    put16(w, type);
    put16(w, (uint16_t)(DAPR__DNS_CLASS_IN | (qu ? 0x8000 : 0)));
    if (!w->err)
        w->counts[DAPR__DNS_SEC_QUESTION]++;
}

/* Owner, type, class, TTL and a zero rdlength; returns where rdata starts. */
static size_t rr_begin(dapr__dns_writer_t *w, int section, const char *name, uint16_t type,
                       bool flush, uint32_t ttl)
{
    if (section == DAPR__DNS_SEC_QUESTION) {
        w->err = w->err ? w->err : DAPR_EINVAL;
        return 0;
    }
    if (!enter(w, section))
        return 0;
    put_name(w, name);
    put16(w, type);
    put16(w, (uint16_t)(DAPR__DNS_CLASS_IN | (flush ? 0x8000 : 0)));
    put32(w, ttl);
    put16(w, 0);
    return w->len;
}

static void rr_end(dapr__dns_writer_t *w, int section, size_t start)
{
    if (w->err)
        return;
    size_t rdlen = w->len - start;
    if (rdlen > 0xffff) {
        w->err = DAPR_ETOOBIG;
        return;
    }
    w->buf[start - 2] = (uint8_t)(rdlen >> 8);
    w->buf[start - 1] = (uint8_t)rdlen;
    w->counts[section]++;
}

void dapr__dns_put_ptr(dapr__dns_writer_t *w, int section, const char *name, bool flush,
                       uint32_t ttl, const char *target)
{
    size_t at = rr_begin(w, section, name, DAPR__DNS_TYPE_PTR, flush, ttl);
    put_name(w, target);
    rr_end(w, section, at);
}

void dapr__dns_put_srv(dapr__dns_writer_t *w, int section, const char *name, bool flush,
                       uint32_t ttl, uint16_t priority, uint16_t weight, uint16_t port,
                       const char *target)
{
    size_t at = rr_begin(w, section, name, DAPR__DNS_TYPE_SRV, flush, ttl);
    put16(w, priority);
    put16(w, weight);
    put16(w, port);
    /* RFC 2782 forbids compressing the SRV target, but RFC 6762 §18.14
     * allows it in mDNS and every mDNS stack decodes it */
    put_name(w, target);
    rr_end(w, section, at);
}

void dapr__dns_put_txt(dapr__dns_writer_t *w, int section, const char *name, bool flush,
                       uint32_t ttl, const char *const *strs, const size_t *lens, size_t n)
{
    size_t at = rr_begin(w, section, name, DAPR__DNS_TYPE_TXT, flush, ttl);
    if (!n)
        put(w, "", 1);
    for (size_t i = 0; i < n && !w->err; i++) {
        if (lens[i] > 255) {
            w->err = DAPR_EINVAL;
            return;
        }
        uint8_t l = (uint8_t)lens[i];
        put(w, &l, 1);
        put(w, strs[i], lens[i]);
    }
    rr_end(w, section, at);
}

void dapr__dns_put_addr(dapr__dns_writer_t *w, int section, const char *name, bool flush,
                        uint32_t ttl, const uint8_t *addr, size_t alen)
{
    if (alen != 4 && alen != 16) {
        w->err = w->err ? w->err : DAPR_EINVAL;
        return;
    }
    dapr__dns_put_raw(w, section, name, alen == 4 ? DAPR__DNS_TYPE_A : DAPR__DNS_TYPE_AAAA,
                      flush, ttl, addr, alen);
}

void dapr__dns_put_raw(dapr__dns_writer_t *w, int section, const char *name, uint16_t type,
                       bool flush, uint32_t ttl, const uint8_t *rdata, size_t rdlen)
{
    size_t at = rr_begin(w, section, name, type, flush, ttl);
    put(w, rdata, rdlen);
    rr_end(w, section, at);
}

int dapr__dns_finish(dapr__dns_writer_t *w, size_t *len)
{
    if (w->err)
        return w->err;
    for (int s = 0; s < 4; s++) {
        w->buf[4 + 2 * s] = (uint8_t)(w->counts[s] >> 8);
        w->buf[5 + 2 * s] = (uint8_t)w->counts[s];
    }
    *len = w->len;
    return 0;
}
