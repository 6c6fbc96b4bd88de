/*
 * rc_hash.c - FNV-1a 64, SHA-1 and UUIDv5 (see rc_util.h).
 *
 * SHA-1 follows FIPS 180-4; it is used only to derive name-based UUIDs (RFC 4122
 * §4.3), never for security.
 */
#include "rc_util.h"

#include <stdio.h>
#include <string.h>

/* UUIDv5(DNS namespace 6ba7b810-9dad-11d1-80b4-00c04fd430c8, "azpool.dev") =
 * 0953c0bc-4fd5-5914-a609-69a5fbde5a0d, written out as bytes so it never changes
 * (test_util checks it against rc_uuid5). */
const unsigned char rc_uuid_ns_azpool[16] = {0x09, 0x53, 0xc0, 0xbc, 0x4f, 0xd5, 0x59, 0x14,
                                             0xa6, 0x09, 0x69, 0xa5, 0xfb, 0xde, 0x5a, 0x0d};

uint64_t rc_hash64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t rc_hash64_str(const char *s)
{
    return rc_hash64(s ? s : "", s ? strlen(s) : 0);
}

struct sha1_ctx {
    uint32_t h[5];
    uint64_t len;
    unsigned char buf[64];
    size_t n;
};

static uint32_t rol32(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(struct sha1_ctx *c, const unsigned char *b)
{
    uint32_t w[80], a, bb, cc, d, e;

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | (uint32_t)b[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    a = c->h[0];
    bb = c->h[1];
    cc = c->h[2];
    d = c->h[3];
    e = c->h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k, t;

        if (i < 20) {
            f = (bb & cc) | (~bb & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = bb ^ cc ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (bb & cc) | (bb & d) | (cc & d);
            k = 0x8f1bbcdc;
        } else {
            f = bb ^ cc ^ d;
            k = 0xca62c1d6;
        }
        t = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = cc;
        cc = rol32(bb, 30);
        bb = a;
        a = t;
    }
    c->h[0] += a;
    c->h[1] += bb;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
}

static void sha1_init(struct sha1_ctx *c)
{
    memset(c, 0, sizeof(*c));
    c->h[0] = 0x67452301;
    c->h[1] = 0xefcdab89;
    c->h[2] = 0x98badcfe;
    c->h[3] = 0x10325476;
    c->h[4] = 0xc3d2e1f0;
}

static void sha1_update(struct sha1_ctx *c, const void *data, size_t len)
{
    const unsigned char *p = data;

    c->len += len;
    while (len > 0) {
        size_t k = 64 - c->n < len ? 64 - c->n : len;

        memcpy(c->buf + c->n, p, k);
        c->n += k;
        p += k;
        len -= k;
        if (c->n == 64) {
            sha1_block(c, c->buf);
            c->n = 0;
        }
    }
}

static void sha1_final(struct sha1_ctx *c, unsigned char out[20])
{
    uint64_t bits = c->len * 8;
    unsigned char pad = 0x80, zero = 0, lenb[8];

    sha1_update(c, &pad, 1);
    while (c->n != 56)
        sha1_update(c, &zero, 1);
    for (int i = 0; i < 8; i++)
        lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_update(c, lenb, 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

void rc_sha1(const void *data, size_t len, unsigned char out[20])
{
    struct sha1_ctx c;

    sha1_init(&c);
    sha1_update(&c, data, len);
    sha1_final(&c, out);
}

void rc_uuid5(const unsigned char ns[16], const char *name, char *buf, size_t size)
{
    struct sha1_ctx c;
    unsigned char h[20];

    sha1_init(&c);
    sha1_update(&c, ns, 16);
    sha1_update(&c, name ? name : "", name ? strlen(name) : 0);
    sha1_final(&c, h);
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x50);
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
    snprintf(buf, size, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13],
             h[14], h[15]);
}
