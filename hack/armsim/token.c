/*
 * token.c - JWT-shaped access tokens: base64url(header).base64url(payload).base64url(HMAC-SHA256).
 *
 * The key is 32 bytes kept in <dir>/token.key (created on first start), so tokens stay valid
 * across restarts with the same --dir. Expiry ("exp") is REAL epoch seconds: SDK clients compute
 * token lifetimes from the wall clock, whatever the simulated time scale.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "armsim_int.h"

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64u_enc(const unsigned char *in, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        int chars = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
        for (int k = 0; k < chars && o + 1 < size; k++)
            out[o++] = b64u[(v >> (18 - 6 * k)) & 63];
    }
    out[o] = 0;
    return o;
}

static int b64u_val(char c)
{
    const char *p = strchr(b64u, c);
    return c && p ? (int)(p - b64u) : -1;
}

static long b64u_dec(const char *in, size_t n, unsigned char *out, size_t size)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64u_val(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= size)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

int as__token_make(struct armsim *sim, const char *client_id, const char *tenant, const char *aud,
                   int64_t exp_s, char *buf, size_t size)
{
    char hdr[64], pay[1024], sig[64];
    unsigned char mac[32];
    unsigned maclen = 0;
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "aud", aud ? aud : "", "iss",
                          "https://sts.windows.net/armsim/", "appid", client_id, "oid", client_id,
                          "tid", tenant ? tenant : "", "iat", (json_int_t)(exp_s - 3600), "exp",
                          (json_int_t)exp_s);
    char *ps = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!ps || strlen(ps) > 700) {
        free(ps);
        return -1;
    }
    b64u_enc((const unsigned char *)"{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27, hdr, sizeof(hdr));
    b64u_enc((const unsigned char *)ps, strlen(ps), pay, sizeof(pay));
    free(ps);
    char signing[1200];
    int sl = snprintf(signing, sizeof(signing), "%s.%s", hdr, pay);
    HMAC(EVP_sha256(), sim->token_key, sizeof(sim->token_key), (unsigned char *)signing, (size_t)sl,
         mac, &maclen);
    b64u_enc(mac, maclen, sig, sizeof(sig));
    int n = snprintf(buf, size, "%s.%s", signing, sig);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

int as__token_check(struct armsim *sim, const char *token, char *ret_client, size_t size)
{
    size_t tl = strlen(token);
    if (tl > 4096)
        return -1;
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return -1;
    unsigned char mac[32];
    unsigned maclen = 0;
    char sig[64];
    HMAC(EVP_sha256(), sim->token_key, sizeof(sim->token_key), (const unsigned char *)token,
         (size_t)(d2 - token), mac, &maclen);
    b64u_enc(mac, maclen, sig, sizeof(sig));
    if (strcmp(sig, d2 + 1) != 0)
        return -1;
    unsigned char pay[1024];
    long pl = b64u_dec(d1 + 1, (size_t)(d2 - d1 - 1), pay, sizeof(pay));
    if (pl < 0)
        return -1;
    json_t *p = json_loadb((const char *)pay, (size_t)pl, 0, NULL);
    const char *appid = as__jstr(p, "appid");
    json_t *exp = json_object_get(p, "exp");
    if (!appid || !json_is_integer(exp)) {
        json_decref(p);
        return -1;
    }
    snprintf(ret_client, size, "%s", appid);
    int64_t e = json_integer_value(exp);
    json_decref(p);
    if (e * 1000 < as__real_ms(sim))
        return -2;
    return 0;
}
