/* azq.c - see azq.h. */
#include "azq.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "rc_util.h"

#define AZQ_QUERY_PARAMS 16
#define AZQ_STS_MAX      4096
#define AZQ_AUTH_MAX     256

enum azq_auth { AZQ_AUTH_KEY = 0, AZQ_AUTH_SAS, AZQ_AUTH_TOKEN };

enum azq_op { OP_COUNT = 0, OP_MSGS, OP_PLAIN };

struct azq {
    struct http *h;
    struct az_cred *cred;
    enum azq_auth auth;
    char url[AZQ_URL_MAX];  /* queue URL, no query */
    char path[AZQ_URL_MAX]; /* its path */
    char name[64];
    char account[AZQ_ACCOUNT_MAX];
    unsigned char key[AZQ_KEY_MAX];
    size_t key_len;
    char sas[AZQ_SAS_MAX];
    long timeout_ms;
};

#define REQ_HEADERS 6

struct azq_req {
    struct http *h;
    struct az_cred *cred;
    enum azq_op op;
    char method[8];
    char *url;
    char *hdr[REQ_HEADERS];
    size_t n_hdr;
    char *body;
    size_t body_len;
    long timeout_ms;
    azq_done_cb cb;
    void *arg;
};

/* ---- base64 ---- */

static int b64_val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int azq_b64_decode(const char *in, size_t len, unsigned char *out, size_t size, size_t *ret_len)
{
    size_t o = 0;

    if (len == 0 || len % 4)
        return -RC_EINVAL;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;

        for (int k = 0; k < 4; k++) {
            if (in[i + k] == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad)
                return -RC_EINVAL; /* data after '=' */
            v[k] = b64_val((unsigned char)in[i + k]);
            if (v[k] < 0)
                return -RC_EINVAL;
        }
        if (o + 3 - (size_t)pad > size)
            return -RC_EINVAL;
        out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        if (pad < 2)
            out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
        if (pad < 1)
            out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
    }
    *ret_len = o;
    return 0;
}

int azq_b64_encode(const unsigned char *in, size_t len, char *buf, size_t size)
{
    if (size < 4 * ((len + 2) / 3) + 1 || len > (size_t)1 << 30)
        return -RC_ELIMIT;
    EVP_EncodeBlock((unsigned char *)buf, in, (int)len);
    return 0;
}

/* ---- connection strings ---- */

void azq_conn_wipe(struct azq_conn *c)
{
    if (c)
        OPENSSL_cleanse(c, sizeof(*c));
}

static int set_field(char *dst, size_t size, const char *v, size_t n, const char *what,
                     struct rc_err *err)
{
    if (n >= size)
        return rc_err_set(err, -RC_ELIMIT, "", "connection string: %s is too long", what);
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 0;
}

int azq_conn_parse(const char *text, struct azq_conn *ret, struct rc_err *err)
{
    char proto[16] = "https", suffix[128] = "core.windows.net";
    const char *p = text;
    bool dev = false;
    int r = 0;

    memset(ret, 0, sizeof(*ret));
    if (!text || strnlen(text, AZQ_CONN_MAX + 1) > AZQ_CONN_MAX)
        return rc_err_set(err, -RC_ELIMIT, "", "connection string longer than %d bytes",
                          AZQ_CONN_MAX);
    while (*p && r == 0) {
        const char *end = strchr(p, ';'), *eq;
        size_t klen, vlen;
        const char *v;

        if (!end)
            end = p + strlen(p);
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p == end) {
            p = *end ? end + 1 : end;
            continue;
        }
        eq = memchr(p, '=', (size_t)(end - p));
        if (!eq) {
            r = rc_err_set(err, -RC_EINVAL, "", "connection string: a part has no '='");
            break;
        }
        klen = (size_t)(eq - p);
        while (klen > 0 && isspace((unsigned char)p[klen - 1]))
            klen--;
        v = eq + 1;
        vlen = (size_t)(end - v);
        while (vlen > 0 && isspace((unsigned char)v[vlen - 1]))
            vlen--;
#define KEY_IS(s) (klen == strlen(s) && strncasecmp(p, s, klen) == 0)
        if (KEY_IS("AccountName")) {
            r = set_field(ret->account, sizeof(ret->account), v, vlen, "AccountName", err);
        } else if (KEY_IS("AccountKey")) {
            if (azq_b64_decode(v, vlen, ret->key, sizeof(ret->key), &ret->key_len) < 0 ||
                ret->key_len == 0)
                r = rc_err_set(err, -RC_EINVAL, "", "connection string: AccountKey is not base64");
        } else if (KEY_IS("QueueEndpoint")) {
            r = set_field(ret->queue_endpoint, sizeof(ret->queue_endpoint), v, vlen,
                          "QueueEndpoint", err);
        } else if (KEY_IS("DefaultEndpointsProtocol")) {
            r = set_field(proto, sizeof(proto), v, vlen, "DefaultEndpointsProtocol", err);
        } else if (KEY_IS("EndpointSuffix")) {
            r = set_field(suffix, sizeof(suffix), v, vlen, "EndpointSuffix", err);
        } else if (KEY_IS("SharedAccessSignature")) {
            if (vlen && *v == '?') {
                v++;
                vlen--;
            }
            r = set_field(ret->sas, sizeof(ret->sas), v, vlen, "SharedAccessSignature", err);
        } else if (KEY_IS("UseDevelopmentStorage")) {
            dev = vlen == 4 && strncasecmp(v, "true", 4) == 0;
        }
#undef KEY_IS
        p = *end ? end + 1 : end;
    }
    if (r == 0 && dev) {
        if (!ret->account[0])
            snprintf(ret->account, sizeof(ret->account), "%s", AZQ_DEV_ACCOUNT);
        if (!ret->key_len && azq_b64_decode(AZQ_DEV_KEY, strlen(AZQ_DEV_KEY), ret->key,
                                            sizeof(ret->key), &ret->key_len) < 0)
            r = rc_err_set(err, -RC_EINVAL, "", "development key");
        if (!ret->queue_endpoint[0])
            snprintf(ret->queue_endpoint, sizeof(ret->queue_endpoint), "%s",
                     AZQ_DEV_QUEUE_ENDPOINT);
    }
    if (r == 0 && !ret->queue_endpoint[0] && ret->account[0] &&
        snprintf(ret->queue_endpoint, sizeof(ret->queue_endpoint), "%s://%s.queue.%s", proto,
                 ret->account, suffix) >= (int)sizeof(ret->queue_endpoint))
        r = rc_err_set(err, -RC_ELIMIT, "", "connection string: endpoint too long");
    if (r == 0 && ret->key_len && !ret->account[0])
        r = rc_err_set(err, -RC_EINVAL, "", "connection string: AccountKey without AccountName");
    if (r == 0 && !ret->key_len && !ret->sas[0])
        r = rc_err_set(err, -RC_EINVAL, "",
                       "connection string has neither AccountKey nor SharedAccessSignature");
    if (r < 0)
        azq_conn_wipe(ret);
    return r;
}

/* ---- Shared Key ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decodes n bytes of s into buf ('+' stays '+'). */
static int pct_decode(const char *s, size_t n, char *buf, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];

        if (c == '%') {
            int a, b;

            if (i + 2 >= n)
                return -RC_EINVAL;
            a = hexval((unsigned char)s[i + 1]);
            b = hexval((unsigned char)s[i + 2]);
            if (a < 0 || b < 0)
                return -RC_EINVAL;
            c = a * 16 + b;
            i += 2;
        }
        if (o + 1 >= size)
            return -RC_ELIMIT;
        buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return 0;
}

struct qparam {
    char name[64];
    char value[512];
};

static int qparam_cmp(const void *a, const void *b)
{
    return strcmp(((const struct qparam *)a)->name, ((const struct qparam *)b)->name);
}

/* Appends s to buf at *off; -RC_ELIMIT when it does not fit. */
static int put(char *buf, size_t size, size_t *off, const char *s)
{
    size_t n = strlen(s);

    if (*off + n >= size)
        return -RC_ELIMIT;
    memcpy(buf + *off, s, n + 1);
    *off += n;
    return 0;
}

int azq_string_to_sign(const char *method, const char *account, const char *path, const char *query,
                       const char *content_length, const char *content_type, const char *date,
                       const char *version, char *buf, size_t size)
{
    struct qparam params[AZQ_QUERY_PARAMS];
    size_t n = 0, off = 0;
    const char *p = query ? query : "";
    char head[512];
    int r;

    while (*p) {
        const char *end = strchr(p, '&'), *eq;
        size_t len;

        if (!end)
            end = p + strlen(p);
        len = (size_t)(end - p);
        if (len) {
            if (n == AZQ_QUERY_PARAMS)
                return -RC_ELIMIT;
            eq = memchr(p, '=', len);
            r = pct_decode(p, eq ? (size_t)(eq - p) : len, params[n].name, sizeof(params[n].name));
            if (r == 0)
                r = pct_decode(eq ? eq + 1 : end, eq ? (size_t)(end - eq - 1) : 0, params[n].value,
                               sizeof(params[n].value));
            if (r < 0)
                return r;
            for (char *c = params[n].name; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            n++;
        }
        p = *end ? end + 1 : end;
    }
    qsort(params, n, sizeof(params[0]), qparam_cmp);
    r = snprintf(head, sizeof(head),
                 "%s\n\n\n%s\n\n%s\n\n\n\n\n\n\nx-ms-date:%s\nx-ms-version:%s\n/%s", method,
                 content_length ? content_length : "", content_type ? content_type : "", date,
                 version, account);
    if (r < 0 || (size_t)r >= sizeof(head))
        return -RC_ELIMIT;
    if (put(buf, size, &off, head) < 0 || put(buf, size, &off, path) < 0)
        return -RC_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        bool same = i > 0 && strcmp(params[i].name, params[i - 1].name) == 0;

        if (same) {
            if (put(buf, size, &off, ",") < 0 || put(buf, size, &off, params[i].value) < 0)
                return -RC_ELIMIT;
            continue;
        }
        if (put(buf, size, &off, "\n") < 0 || put(buf, size, &off, params[i].name) < 0 ||
            put(buf, size, &off, ":") < 0 || put(buf, size, &off, params[i].value) < 0)
            return -RC_ELIMIT;
    }
    return 0;
}

int azq_sign(const char *account, const unsigned char *key, size_t key_len, const char *sts,
             char *buf, size_t size)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    char b64[128];
    int n;

    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)sts, strlen(sts), mac,
              &mac_len))
        return -RC_EINVAL;
    if (azq_b64_encode(mac, mac_len, b64, sizeof(b64)) < 0)
        return -RC_ELIMIT;
    n = snprintf(buf, size, "SharedKey %s:%s", account, b64);
    OPENSSL_cleanse(mac, sizeof(mac));
    return n < 0 || (size_t)n >= size ? -RC_ELIMIT : 0;
}

/* ---- XML ---- */

/* Unescapes the XML text s[0..n) into a new string. */
static char *xml_unescape(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;

    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '&') {
            *o++ = s[i];
            continue;
        }
        static const struct {
            const char *ent;
            char c;
        } ents[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        bool done = false;

        for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]) && !done; k++) {
            size_t el = strlen(ents[k].ent);

            if (n - i >= el && memcmp(s + i, ents[k].ent, el) == 0) {
                *o++ = ents[k].c;
                i += el - 1;
                done = true;
            }
        }
        if (!done && n - i > 3 && s[i + 1] == '#') {
            /* &#NN; or &#xHH; - ASCII only (what Azure escapes) */
            size_t j = i + 2;
            int base = 10;
            long v = 0;

            if (s[j] == 'x') {
                base = 16;
                j++;
            }
            while (j < n && j < i + 10 && s[j] != ';') {
                int d = base == 16 ? hexval((unsigned char)s[j])
                                   : (isdigit((unsigned char)s[j]) ? s[j] - '0' : -1);
                if (d < 0)
                    break;
                v = v * base + d;
                j++;
            }
            if (j < n && s[j] == ';' && v > 0 && v < 128) {
                *o++ = (char)v;
                i = j;
                done = true;
            }
        }
        if (!done)
            *o++ = '&';
    }
    *o = '\0';
    return out;
}

/* The text of <tag>...</tag> inside [p, end), or NULL; *ret_n its length. */
static const char *xml_child(const char *p, const char *end, const char *tag, size_t *ret_n)
{
    char open[48], close[48];
    const char *a, *b;
    size_t ol;

    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    ol = strlen(open);
    a = memmem(p, (size_t)(end - p), open, ol);
    if (!a)
        return NULL;
    a += ol;
    b = memmem(a, (size_t)(end - a), close, strlen(close));
    if (!b)
        return NULL;
    *ret_n = (size_t)(b - a);
    return a;
}

void azq_msgs_free(struct azq_msg *m, size_t n)
{
    for (size_t i = 0; m && i < n; i++) {
        free(m[i].id);
        free(m[i].pop_receipt);
        free(m[i].text);
    }
    free(m);
}

int azq_parse_messages(const char *xml, size_t len, struct azq_msg **ret, size_t *ret_n,
                       struct rc_err *err)
{
    const char *p = xml, *end = xml + len;
    struct azq_msg *v = NULL;
    size_t n = 0;
    int r = 0;

    *ret = NULL;
    *ret_n = 0;
    if (!memmem(xml, len, "<QueueMessagesList", 18))
        return rc_err_set(err, -RC_EPROTO, "", "not a QueueMessagesList");
    for (;;) {
        const char *a = memmem(p, (size_t)(end - p), "<QueueMessage>", 14), *b, *t;
        size_t tn;
        struct azq_msg *m;

        if (!a)
            break;
        b = memmem(a, (size_t)(end - a), "</QueueMessage>", 15);
        if (!b) {
            r = rc_err_set(err, -RC_EPROTO, "", "unterminated QueueMessage");
            break;
        }
        if (n == AZQ_MSGS_MAX) {
            r = rc_err_set(err, -RC_ELIMIT, "", "more than %d messages", AZQ_MSGS_MAX);
            break;
        }
        m = realloc(v, (n + 1) * sizeof(*v));
        if (!m) {
            r = rc_err_set(err, -RC_ENOMEM, "", "out of memory");
            break;
        }
        v = m;
        m = &v[n++];
        memset(m, 0, sizeof(*m));
        t = xml_child(a, b, "MessageId", &tn);
        if (!t || tn == 0 || tn > 128) {
            r = rc_err_set(err, -RC_EPROTO, "", "QueueMessage without a MessageId");
            break;
        }
        m->id = xml_unescape(t, tn);
        t = xml_child(a, b, "PopReceipt", &tn);
        if (t && tn <= 1024)
            m->pop_receipt = xml_unescape(t, tn);
        t = xml_child(a, b, "MessageText", &tn);
        if (t && tn > AZQ_MSG_TEXT_MAX) {
            r = rc_err_set(err, -RC_ELIMIT, "", "message text over %d bytes", AZQ_MSG_TEXT_MAX);
            break;
        }
        m->text = t ? xml_unescape(t, tn) : strdup("");
        t = xml_child(a, b, "DequeueCount", &tn);
        if (t && tn < 20) {
            char num[24];

            memcpy(num, t, tn);
            num[tn] = '\0';
            m->dequeue_count = strtoll(num, NULL, 10);
        }
        if (!m->id || !m->text || (t && tn >= 20)) {
            r = rc_err_set(err, m->id && m->text ? -RC_EPROTO : -RC_ENOMEM, "", "bad QueueMessage");
            break;
        }
        p = b + 15;
    }
    if (r < 0) {
        azq_msgs_free(v, n);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

/* ---- queues ---- */

/* Splits "scheme://host[:port]/path?query": *ret_path points at the path ("" when
 * none), *ret_query after '?' (NULL when none). -1 when not http(s). */
static int split_url(const char *url, const char **ret_path, const char **ret_query)
{
    const char *h;

    if (strncasecmp(url, "https://", 8) == 0)
        h = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        h = url + 7;
    else
        return -1;
    h += strcspn(h, "/?");
    if (h == url || h[-1] == '/')
        return -1;
    *ret_path = h;
    *ret_query = strchr(h, '?');
    if (*ret_query)
        (*ret_query)++;
    return 0;
}

static bool queue_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return s[0] != '-' && s[n - 1] != '-' && !strstr(s, "--");
}

struct azq *azq_new(struct http *h, struct az_cred *cred, const char *account_url,
                    const char *queue, const char *conn, struct rc_err *err)
{
    struct azq *q = calloc(1, sizeof(*q));
    struct azq_conn cs;
    const char *base = account_url, *path, *query;
    size_t blen;

    if (!q) {
        rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        return NULL;
    }
    memset(&cs, 0, sizeof(cs));
    q->h = h;
    q->cred = cred;
    if (conn && azq_conn_parse(conn, &cs, err) < 0)
        goto fail;
    if (!base || !*base)
        base = cs.queue_endpoint;
    if (!base[0] || split_url(base, &path, &query) < 0) {
        rc_err_set(err, -RC_EINVAL, "", "the queue account URL must be http:// or https://");
        goto fail;
    }
    if (!queue || !queue_name_ok(queue)) {
        rc_err_set(err, -RC_EINVAL, "", "bad queue name");
        goto fail;
    }
    blen = query ? (size_t)(query - 1 - base) : strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if (blen + strlen(queue) + 2 > sizeof(q->url) || (query && strlen(query) >= sizeof(q->sas))) {
        rc_err_set(err, -RC_ELIMIT, "", "queue URL too long");
        goto fail;
    }
    snprintf(q->url, sizeof(q->url), "%.*s/%s", (int)blen, base, queue);
    split_url(q->url, &path, &query);
    snprintf(q->path, sizeof(q->path), "%s", path);
    snprintf(q->name, sizeof(q->name), "%s", queue);
    if (account_url && split_url(account_url, &path, &query) == 0 && query && *query) {
        q->auth = AZQ_AUTH_SAS;
        snprintf(q->sas, sizeof(q->sas), "%s", query);
    } else if (cs.sas[0] && !cs.key_len) {
        q->auth = AZQ_AUTH_SAS;
        snprintf(q->sas, sizeof(q->sas), "%s", cs.sas);
    } else if (cs.key_len) {
        q->auth = AZQ_AUTH_KEY;
        snprintf(q->account, sizeof(q->account), "%s", cs.account);
        memcpy(q->key, cs.key, cs.key_len);
        q->key_len = cs.key_len;
    } else if (cred) {
        q->auth = AZQ_AUTH_TOKEN;
    } else {
        rc_err_set(err, -RC_EINVAL, "",
                   "no queue credentials: no connection string, SAS or managed identity");
        goto fail;
    }
    azq_conn_wipe(&cs);
    return q;
fail:
    azq_conn_wipe(&cs);
    azq_free(q);
    return NULL;
}

struct azq *azq_new_url(struct http *h, struct az_cred *cred, const char *queue_url,
                        const char *conn, struct rc_err *err)
{
    char base[AZQ_URL_MAX + AZQ_SAS_MAX], queue[64];
    const char *path, *query, *slash;
    size_t plen;

    if (!queue_url || strlen(queue_url) >= sizeof(base) ||
        split_url(queue_url, &path, &query) < 0) {
        rc_err_set(err, -RC_EINVAL, "", "the queue URL must be http:// or https://");
        return NULL;
    }
    plen = query ? (size_t)(query - 1 - path) : strlen(path);
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    slash = NULL;
    for (size_t i = 0; i < plen; i++)
        if (path[i] == '/')
            slash = path + i;
    if (!slash || (size_t)(path + plen - slash - 1) >= sizeof(queue) ||
        path + plen - slash - 1 == 0) {
        rc_err_set(err, -RC_EINVAL, "", "the queue URL names no queue");
        return NULL;
    }
    snprintf(queue, sizeof(queue), "%.*s", (int)(path + plen - slash - 1), slash + 1);
    snprintf(base, sizeof(base), "%.*s%s%s", (int)(slash - queue_url), queue_url, query ? "?" : "",
             query ? query : "");
    return azq_new(h, cred, base, queue, conn, err);
}

void azq_free(struct azq *q)
{
    if (!q)
        return;
    OPENSSL_cleanse(q, sizeof(*q));
    free(q);
}

void azq_set_timeout(struct azq *q, long timeout_ms)
{
    q->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

const char *azq_url_for_log(const struct azq *q)
{
    return q->url;
}

const char *azq_name(const struct azq *q)
{
    return q->name;
}

/* ---- requests ---- */

static void req_free(struct azq_req *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_hdr; i++) {
        OPENSSL_cleanse(r->hdr[i], strlen(r->hdr[i]));
        free(r->hdr[i]);
    }
    if (r->url) {
        OPENSSL_cleanse(r->url, strlen(r->url));
        free(r->url);
    }
    free(r->body);
    free(r);
}

/* Adds "name: value" (value NULL: "name:", which makes curl drop the header). */
static int add_hdr(struct azq_req *r, const char *name, const char *value)
{
    char line[AZQ_AUTH_MAX + 64];
    int n = snprintf(line, sizeof(line), "%s:%s%s", name, value ? " " : "", value ? value : "");

    if (n < 0 || (size_t)n >= sizeof(line) || r->n_hdr == REQ_HEADERS)
        return -RC_ELIMIT;
    r->hdr[r->n_hdr] = strdup(line);
    if (!r->hdr[r->n_hdr])
        return -RC_ENOMEM;
    r->n_hdr++;
    return 0;
}

static int add_hdr_bearer(struct azq_req *r, const char *token)
{
    size_t n = strlen(token) + 32;
    char *line;

    if (r->n_hdr == REQ_HEADERS || n > 64 * 1024)
        return -RC_ELIMIT;
    line = malloc(n);
    if (!line)
        return -RC_ENOMEM;
    snprintf(line, n, "Authorization: Bearer %s", token);
    r->hdr[r->n_hdr++] = line;
    return 0;
}

static void finish(struct azq_req *r, const struct http_response *resp, const struct rc_err *e)
{
    struct azq_result res;

    memset(&res, 0, sizeof(res));
    res.resp = resp;
    res.status = resp ? resp->status : 0;
    res.count = -1;
    if (e && e->code) {
        res.err = *e;
    } else if (!resp || resp->status == 0) {
        res.err = resp ? resp->err : res.err;
        if (!res.err.code)
            rc_err_set(&res.err, -RC_ETRANSIENT, "", "no response");
    } else if (resp->status < 200 || resp->status > 299) {
        int code = resp->status == 404 ? -RC_ENOTFOUND
                   : resp->status == 401 || resp->status == 403 || resp->status == 400
                       ? -RC_EINVAL
                       : -RC_ETRANSIENT;

        rc_err_set(&res.err, code, "", "queue %s: HTTP %ld", r->method, resp->status);
        res.err.klass = rc_err_class_of(code);
        res.err.http_status = (int)resp->status;
    } else if (resp->body_len > AZQ_BODY_MAX) {
        rc_err_set(&res.err, -RC_ELIMIT, "", "queue response over %d bytes", AZQ_BODY_MAX);
    } else if (r->op == OP_COUNT) {
        const char *v = http_header(resp, "x-ms-approximate-messages-count");
        char *endp = NULL;
        long long c = v ? strtoll(v, &endp, 10) : -1;

        if (!v || endp == v || *endp || c < 0)
            rc_err_set(&res.err, -RC_EPROTO, "", "no x-ms-approximate-messages-count");
        else
            res.count = c;
    } else if (r->op == OP_MSGS) {
        azq_parse_messages(resp->body ? resp->body : "", resp->body_len, &res.msgs, &res.n_msgs,
                           &res.err);
    }
    if (res.err.code && !e)
        res.err.klass = rc_err_class_of(res.err.code);
    r->cb(r->arg, &res);
    azq_msgs_free(res.msgs, res.n_msgs);
    req_free(r);
}

static void on_http(void *arg, const struct http_response *resp)
{
    finish(arg, resp, NULL);
}

static int send_now(struct azq_req *r, struct rc_err *err)
{
    struct http_req_opts o = {0};

    o.timeout_ms = r->timeout_ms;
    return http_request_ex(r->h, r->method, r->url, (const char *const *)r->hdr, r->n_hdr, r->body,
                           r->body_len, &o, on_http, r, NULL, err);
}

static void on_token(void *arg, const char *token, const struct rc_err *terr)
{
    struct azq_req *r = arg;
    struct rc_err err = {0};
    int n;

    if (!token) {
        if (terr)
            err = *terr;
        if (!err.code)
            rc_err_set(&err, -RC_ETRANSIENT, "", "no storage token");
        finish(r, NULL, &err);
        return;
    }
    n = add_hdr_bearer(r, token);
    if (n < 0) {
        rc_err_set(&err, n, "", "token header");
        finish(r, NULL, &err);
        return;
    }
    if (send_now(r, &err) < 0)
        finish(r, NULL, &err);
}

/* sub: "" or "/messages" or "/messages/{id}"; query: raw, without SAS. */
static int start(struct azq *q, const char *method, enum azq_op op, const char *sub,
                 const char *query, const char *body, azq_done_cb cb, void *arg, struct rc_err *err)
{
    struct azq_req *r = calloc(1, sizeof(*r));
    size_t ulen;
    char clen[24] = "";
    int n;

    if (!r)
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    r->h = q->h;
    r->cred = q->cred;
    r->op = op;
    r->timeout_ms = q->timeout_ms;
    snprintf(r->method, sizeof(r->method), "%s", method);
    r->cb = cb;
    r->arg = arg;
    ulen = strlen(q->url) + strlen(sub) + strlen(query) + strlen(q->sas) + 4;
    r->url = malloc(ulen);
    if (!r->url)
        goto nomem;
    snprintf(r->url, ulen, "%s%s%s%s%s%s", q->url, sub,
             (query[0] || q->auth == AZQ_AUTH_SAS) ? "?" : "", query,
             query[0] && q->auth == AZQ_AUTH_SAS ? "&" : "", q->auth == AZQ_AUTH_SAS ? q->sas : "");
    if (body) {
        r->body_len = strlen(body);
        r->body = strdup(body);
        if (!r->body)
            goto nomem;
        if (r->body_len)
            snprintf(clen, sizeof(clen), "%zu", r->body_len);
        /* curl would add a form Content-Type; send the signed one (or none). */
        n = r->body_len ? add_hdr(r, "Content-Type", "application/xml")
                        : add_hdr(r, "Content-Type", NULL);
        if (n < 0)
            goto fail;
    }
    if (add_hdr(r, "x-ms-version", AZQ_VERSION) < 0)
        goto nomem;
    if (q->auth == AZQ_AUTH_KEY) {
        char date[64], path[AZQ_URL_MAX + 256], sts[AZQ_STS_MAX], auth[AZQ_AUTH_MAX];
        time_t now = time(NULL);
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        snprintf(path, sizeof(path), "%s%s", q->path, sub);
        n = azq_string_to_sign(method, q->account, path, query, clen,
                               r->body_len ? "application/xml" : "", date, AZQ_VERSION, sts,
                               sizeof(sts));
        if (n == 0)
            n = azq_sign(q->account, q->key, q->key_len, sts, auth, sizeof(auth));
        OPENSSL_cleanse(sts, sizeof(sts));
        if (n < 0 || add_hdr(r, "x-ms-date", date) < 0 || add_hdr(r, "Authorization", auth) < 0) {
            OPENSSL_cleanse(auth, sizeof(auth));
            rc_err_set(err, -RC_ELIMIT, "", "cannot sign the queue request");
            req_free(r);
            return -RC_ELIMIT;
        }
        OPENSSL_cleanse(auth, sizeof(auth));
    }
    if (q->auth == AZQ_AUTH_TOKEN) {
        n = az_cred_token(q->cred, on_token, r, err);
        if (n < 0) {
            req_free(r);
            return n;
        }
        return 0;
    }
    n = send_now(r, err);
    if (n < 0) {
        req_free(r);
        return n;
    }
    return 0;
nomem:
    n = -RC_ENOMEM;
fail:
    req_free(r);
    return rc_err_set(err, n, "", "cannot build the queue request");
}

int azq_count(struct azq *q, azq_done_cb cb, void *arg, struct rc_err *err)
{
    return start(q, "GET", OP_COUNT, "", "comp=metadata", NULL, cb, arg, err);
}

int azq_peek(struct azq *q, int n, azq_done_cb cb, void *arg, struct rc_err *err)
{
    char query[64];

    snprintf(query, sizeof(query), "numofmessages=%d&peekonly=true",
             n < 1              ? 1
             : n > AZQ_MSGS_MAX ? AZQ_MSGS_MAX
                                : n);
    return start(q, "GET", OP_MSGS, "/messages", query, NULL, cb, arg, err);
}

int azq_get(struct azq *q, int n, int visibility_s, azq_done_cb cb, void *arg, struct rc_err *err)
{
    char query[80];

    snprintf(query, sizeof(query), "numofmessages=%d&visibilitytimeout=%d",
             n < 1              ? 1
             : n > AZQ_MSGS_MAX ? AZQ_MSGS_MAX
                                : n,
             visibility_s < 1 ? 1 : visibility_s);
    return start(q, "GET", OP_MSGS, "/messages", query, NULL, cb, arg, err);
}

/* Percent-encodes s (unreserved characters kept) into buf. */
static int pct_encode(const char *s, char *buf, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            if (o + 1 >= size)
                return -RC_ELIMIT;
            buf[o++] = (char)c;
        } else {
            if (o + 3 >= size)
                return -RC_ELIMIT;
            buf[o++] = '%';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        }
    }
    buf[o] = '\0';
    return 0;
}

int azq_delete(struct azq *q, const char *id, const char *pop_receipt, azq_done_cb cb, void *arg,
               struct rc_err *err)
{
    char sub[3 * 128 + 16], eid[3 * 128 + 1], query[3 * 1024 + 16], epop[3 * 1024 + 1];

    if (!id || !pop_receipt || pct_encode(id, eid, sizeof(eid)) < 0 ||
        pct_encode(pop_receipt, epop, sizeof(epop)) < 0)
        return rc_err_set(err, -RC_EINVAL, "", "bad message id or pop receipt");
    snprintf(sub, sizeof(sub), "/messages/%s", eid);
    snprintf(query, sizeof(query), "popreceipt=%s", epop);
    return start(q, "DELETE", OP_PLAIN, sub, query, NULL, cb, arg, err);
}

int azq_put(struct azq *q, const char *text, int64_t ttl_s, azq_done_cb cb, void *arg,
            struct rc_err *err)
{
    size_t n = 0, len = strlen(text), o;
    char *body, query[48];
    int r;

    if (len > AZQ_MSG_TEXT_MAX)
        return rc_err_set(err, -RC_ELIMIT, "", "message over %d bytes", AZQ_MSG_TEXT_MAX);
    for (size_t i = 0; i < len; i++)
        n += text[i] == '&' ? 5 : text[i] == '<' || text[i] == '>' ? 4 : 1;
    body = malloc(n + 128);
    if (!body)
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    o = (size_t)snprintf(body, n + 128,
                         "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
                         "<QueueMessage><MessageText>");
    for (size_t i = 0; i < len; i++) {
        const char *rep = text[i] == '&'   ? "&amp;"
                          : text[i] == '<' ? "&lt;"
                          : text[i] == '>' ? "&gt;"
                                           : NULL;
        if (rep) {
            memcpy(body + o, rep, strlen(rep));
            o += strlen(rep);
        } else {
            body[o++] = text[i];
        }
    }
    snprintf(body + o, n + 128 - o, "</MessageText></QueueMessage>");
    snprintf(query, sizeof(query), "messagettl=%lld", (long long)(ttl_s == 0 ? -1 : ttl_s));
    r = start(q, "POST", OP_PLAIN, "/messages", query, body, cb, arg, err);
    free(body);
    return r;
}

int azq_create(struct azq *q, azq_done_cb cb, void *arg, struct rc_err *err)
{
    return start(q, "PUT", OP_PLAIN, "", "", "", cb, arg, err);
}
