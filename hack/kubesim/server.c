/*
 * server.c - libwebsockets glue for kubesim (the pattern of hack/armsim/server.c): one vhost on
 * 127.0.0.1, HTTP/1.1 only, keep-alive; HTTPS with the certificates of certs.c when --tls.
 * Each request is collected (headers, body up to KS_MAX_BODY), dispatched with ks_dispatch() and
 * written back in 16 KB chunks; a watch answer keeps the connection and streams chunked event
 * lines (headers flushed at once, one chunk per wake-up) until the watch is done.
 *
 * Ownership: per-connection state (struct pss) owns the request copy, the rendered response and
 * the watch until the transaction completes or the connection closes.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "kubesim.h"
#include "simcerts.h"
#include "simurl.h"

#define TARGET_MAX 16384
#define CHUNK      16384

const struct ks_config *ks_cfg;

struct pss {
    char method[8];
    char *target;
    char *body;
    size_t blen, bcap;
    bool want_body, too_big, pending, chunked_req;
    unsigned char *out;
    size_t out_len, out_off;
    bool head, close_after, hdrs_sent;
    int status;
    char ctype[96];
    struct ks_watch *watch; /* streaming answer */
    json_t *warnings;       /* strings for Warning headers */
};

static struct lws_context *g_ctx;
static volatile sig_atomic_t g_stop;

static void pss_clear(struct pss *p)
{
    free(p->target);
    free(p->body);
    free(p->out);
    ks_watch_free(p->watch);
    json_decref(p->warnings);
    memset(p, 0, sizeof(*p));
}

static const struct {
    enum lws_token_indexes tok;
    const char *m;
} methods[] = {
    {WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
    {WSI_TOKEN_PUT_URI, "PUT"},       {WSI_TOKEN_PATCH_URI, "PATCH"},
    {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
    {WSI_TOKEN_HEAD_URI, "HEAD"},
};

/* Splits target into r (path, segments, query) using buf (>= 2 * strlen(target) + 2). */
static int parse_target(struct ks_req *r, const char *target, char *buf, size_t size)
{
    size_t len = strlen(target);
    if (2 * len + 2 > size)
        return -1;
    memcpy(buf, target, len + 1);
    char *q = strchr(buf, '?');
    r->nquery = 0;
    if (q) {
        const char *names[KS_MAX_QUERY], *values[KS_MAX_QUERY];

        *q++ = 0;
        r->nquery = simurl_query(q, names, values, KS_MAX_QUERY);
        for (int i = 0; i < r->nquery; i++) {
            r->query[i].name = names[i];
            r->query[i].value = values[i];
        }
    }
    simurl_pct_decode(buf, false);
    r->path = buf;
    size_t plen = strlen(buf);
    char *segbuf = buf + len + 1;
    memcpy(segbuf, buf, plen + 1);
    r->nseg = 0;
    char *save = NULL;
    for (char *s = strtok_r(segbuf, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (r->nseg >= KS_MAX_SEGS)
            return -1;
        r->seg[r->nseg++] = s;
    }
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_writable(struct lws *wsi, struct pss *p);

static int handle(struct lws *wsi, struct pss *p)
{
    struct ks_req r;
    struct ks_resp w;
    memset(&r, 0, sizeof(r));
    memset(&w, 0, sizeof(w));
    size_t tl = strlen(p->target);
    char *tbuf = malloc(2 * tl + 4);
    char accept[2048], ctype[256], authz[1024];
    if (!tbuf)
        return -1;
    r.method = p->method;
    r.now_ms = now_ms();
    if (lws_hdr_copy(wsi, accept, sizeof(accept), WSI_TOKEN_HTTP_ACCEPT) > 0)
        r.accept = accept;
    if (lws_hdr_copy(wsi, ctype, sizeof(ctype), WSI_TOKEN_HTTP_CONTENT_TYPE) > 0)
        r.content_type = ctype;
    if (lws_hdr_copy(wsi, authz, sizeof(authz), WSI_TOKEN_HTTP_AUTHORIZATION) > 0)
        r.authorization = authz;
    char imp[400];
    if (lws_hdr_custom_copy(wsi, imp, sizeof(imp), "impersonate-user:", 17) > 0)
        r.impersonate_user = imp;
    char ua[256];
    if (lws_hdr_copy(wsi, ua, sizeof(ua), WSI_TOKEN_HTTP_USER_AGENT) > 0)
        r.user_agent = ua;
    const char *bad = NULL;
    int bad_code = 400;
    if (parse_target(&r, p->target, tbuf, 2 * tl + 4) < 0) {
        bad = "the request URI is invalid";
    } else if (p->chunked_req) {
        bad = "chunked request bodies are not supported; send a Content-Length";
        bad_code = 411;
    } else if (p->too_big) {
        bad = "the request is too large";
        bad_code = 413;
        p->close_after = true;
    }
    if (bad) {
        w.status = bad_code;
        w.json =
            json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
                      "metadata", "status", "Failure", "message", bad, "reason",
                      bad_code == 413 ? "RequestEntityTooLarge" : "BadRequest", "code", bad_code);
    } else {
        if (p->body && p->blen) {
            r.body = p->body;
            r.body_len = p->blen;
        }
        ks_dispatch(&r, &w);
    }
    free(tbuf);
    p->head = strcmp(p->method, "HEAD") == 0;
    p->status = w.status ? w.status : 500;
    snprintf(p->ctype, sizeof(p->ctype), "%s",
             w.content_type ? w.content_type : "application/json");
    if (w.watch) {
        p->watch = w.watch;
        w.watch = NULL;
        ks_watch_set_ctx(p->watch, wsi);
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    } else if (w.json) {
        char *s = json_dumps(w.json, JSON_COMPACT);
        p->out = (unsigned char *)s;
        p->out_len = s ? strlen(s) : 0;
    } else if (w.raw) {
        p->out = (unsigned char *)w.raw;
        p->out_len = w.raw_len;
        w.raw = NULL;
    }
    p->warnings = w.warnings;
    w.warnings = NULL;
    ks_resp_release(&w);
    p->pending = true;
    return on_writable(wsi, p);
}

static long build_headers(struct lws *wsi, struct pss *p, unsigned char *start, unsigned char *end)
{
    unsigned char *q = start;
    char num[32];
    if (lws_add_http_header_status(wsi, (unsigned)p->status, &q, end))
        return -1;
    if (lws_add_http_header_by_name(
            wsi, (const unsigned char *)"content-type:", (const unsigned char *)p->ctype,
            (int)strlen(p->ctype), &q, end))
        return -1;
    if (p->watch) {
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"transfer-encoding:",
                                        (const unsigned char *)"chunked", 7, &q, end))
            return -1;
    } else {
        int nl = snprintf(num, sizeof(num), "%zu", p->out_len);
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"content-length:",
                                        (const unsigned char *)num, nl, &q, end))
            return -1;
    }
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-cache, private", 17, &q, end))
        return -1;
    size_t i;
    json_t *e;
    json_array_foreach(p->warnings, i, e)
    {
        /* 299 - "<text with \" and \\ escaped>" */
        char v[1024];
        size_t o = 0;
        const char *t = json_string_value(e);
        o += (size_t)snprintf(v, sizeof(v), "299 - \"");
        for (; t && *t && o + 4 < sizeof(v); t++) {
            if (*t == '"' || *t == '\\')
                v[o++] = '\\';
            v[o++] = *t;
        }
        v[o++] = '"';
        v[o] = 0;
        if (lws_add_http_header_by_name(
                wsi, (const unsigned char *)"warning:", (const unsigned char *)v, (int)o, &q, end))
            return -1;
    }
    if (p->close_after && lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                                      (const unsigned char *)"close", 5, &q, end))
        return -1;
    if (lws_finalize_http_header(wsi, &q, end))
        return -1;
    return (long)(q - start);
}

static int finish(struct lws *wsi, struct pss *p)
{
    bool close_after = p->close_after;
    pss_clear(p);
    if (close_after)
        return -1;
    if (lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

static int write_watch(struct lws *wsi, struct pss *p)
{
    size_t len;
    char *data = ks_watch_buf(p->watch, &len);
    if (len) {
        size_t n = len > CHUNK ? CHUNK : len;
        unsigned char *buf = malloc(LWS_PRE + CHUNK + 32);
        if (!buf)
            return -1;
        int hl = snprintf((char *)buf + LWS_PRE, 16, "%zx\r\n", n);
        memcpy(buf + LWS_PRE + hl, data, n);
        memcpy(buf + LWS_PRE + hl + n, "\r\n", 2);
        size_t tot = (size_t)hl + n + 2;
        int wr = lws_write(wsi, buf + LWS_PRE, tot, LWS_WRITE_HTTP);
        free(buf);
        if (wr < (int)tot)
            return -1;
        ks_watch_consume(p->watch, n);
        ks_watch_buf(p->watch, &len);
        if (len || ks_watch_done(p->watch))
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (ks_watch_done(p->watch)) {
        unsigned char buf[LWS_PRE + 8];
        memcpy(buf + LWS_PRE, "0\r\n\r\n", 5);
        if (lws_write(wsi, buf + LWS_PRE, 5, LWS_WRITE_HTTP) != 5)
            return -1;
        return finish(wsi, p);
    }
    return 0;
}

static int on_writable(struct lws *wsi, struct pss *p)
{
    if (!p->pending)
        return 0;
    if (lws_send_pipe_choked(wsi)) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    size_t body = p->head ? 0 : p->out_len;
    if (!p->hdrs_sent) {
        size_t cap = LWS_PRE + 4096 + CHUNK;
        unsigned char *buf = malloc(cap);
        if (!buf)
            return -1;
        unsigned char *start = buf + LWS_PRE;
        long hl = build_headers(wsi, p, start, buf + cap - CHUNK - 1);
        if (hl < 0) {
            free(buf);
            return -1;
        }
        size_t n = p->watch ? 0 : (body < CHUNK ? body : CHUNK);
        if (n)
            memcpy(start + hl, p->out, n);
        int wr = lws_write(wsi, start, (size_t)hl + n, LWS_WRITE_HTTP_HEADERS);
        free(buf);
        if (wr < (int)((size_t)hl + n))
            return -1;
        p->hdrs_sent = true;
        p->out_off = n;
        if (p->watch) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    } else if (p->watch) {
        return write_watch(wsi, p);
    } else if (p->out_off < body) {
        unsigned char buf[LWS_PRE + CHUNK];
        size_t n = body - p->out_off;
        if (n > CHUNK)
            n = CHUNK;
        memcpy(buf + LWS_PRE, p->out + p->out_off, n);
        if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP) != (int)n)
            return -1;
        p->out_off += n;
    }
    if (p->out_off >= body)
        return finish(wsi, p);
    lws_callback_on_writable(wsi);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        pss_clear(p);
        int one = 1, fd = (int)lws_get_socket_fd(wsi);
        if (fd >= 0)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        int ti = -1;
        for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
            if (lws_hdr_total_length(wsi, methods[i].tok) > 0) {
                ti = (int)i;
                break;
            }
        }
        if (ti < 0)
            return -1;
        snprintf(p->method, sizeof(p->method), "%s", methods[ti].m);
        size_t cap = TARGET_MAX;
        p->target = malloc(cap);
        if (!p->target)
            return -1;
        int n = lws_hdr_copy(wsi, p->target, (int)cap - 1, methods[ti].tok);
        if (n < 0)
            n = 0;
        size_t used = (size_t)n;
        p->target[used] = 0;
        char frag[4096];
        for (int i = 0;; i++) {
            int fl = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
            if (fl < 0)
                break;
            if (used + (size_t)fl + 2 >= cap)
                break;
            p->target[used++] = i == 0 ? '?' : '&';
            /* lws decoded the fragment; re-escape what would break our own parsing (the first
             * '=' separates name and value; later ones stay literal) */
            for (int k = 0; k < fl && used + 4 < cap; k++) {
                char c = frag[k];
                if (c == '%' || c == '&' || c == '+' || c == '#') {
                    used +=
                        (size_t)snprintf(p->target + used, cap - used, "%%%02X", (unsigned char)c);
                } else {
                    p->target[used++] = c;
                }
            }
            p->target[used] = 0;
        }
        char cl[32];
        int cll = lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH);
        long long clen = cll > 0 ? atoll(cl) : 0;
        if (clen > (long long)KS_MAX_BODY) {
            p->too_big = true;
            p->close_after = true;
            return handle(wsi, p);
        }
        char te[64];
        if (lws_hdr_copy(wsi, te, sizeof(te), WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0 &&
            strcasestr(te, "chunked")) {
            p->chunked_req = true;
            p->close_after = true;
            return handle(wsi, p);
        }
        if (clen > 0) {
            p->want_body = true;
            return 0;
        }
        return handle(wsi, p);
    }
    case LWS_CALLBACK_HTTP_BODY:
        if (!p->want_body)
            return 0;
        if (p->blen + len > KS_MAX_BODY) {
            p->too_big = true;
            return 0;
        }
        if (p->blen + len + 1 > p->bcap) {
            size_t nc = (p->blen + len + 1) * 2;
            if (nc > KS_MAX_BODY + 1)
                nc = KS_MAX_BODY + 1;
            char *nb = realloc(p->body, nc);
            if (!nb)
                return -1;
            p->body = nb;
            p->bcap = nc;
        }
        memcpy(p->body + p->blen, in, len);
        p->blen += len;
        p->body[p->blen] = 0;
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!p->want_body || p->pending)
            return 0;
        p->want_body = false;
        return handle(wsi, p);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writable(wsi, p);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (p)
            pss_clear(p);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(struct pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void wake(struct ks_watch *w)
{
    struct lws *wsi = ks_watch_ctx(w);
    if (wsi)
        lws_callback_on_writable(wsi);
}

static lws_sorted_usec_list_t tick_sul;

static void tick(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    ks_watches_tick(now_ms());
    if (g_stop) {
        lws_cancel_service(g_ctx);
        return;
    }
    lws_sul_schedule(g_ctx, 0, &tick_sul, tick, 200 * LWS_US_PER_MS);
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    if (g_ctx)
        lws_cancel_service(g_ctx);
}

int ks_server_run(const struct ks_config *cfg)
{
    char err[256], cert[1024], key[1024];
    ks_cfg = cfg;
    if (cfg->tls) {
        if (simcerts_ensure(cfg->dir, "kubesim", err, sizeof(err)) < 0) {
            fprintf(stderr, "kubesim: %s\n", err);
            return -1;
        }
        snprintf(cert, sizeof(cert), "%s/server.pem", cfg->dir);
        snprintf(key, sizeof(key), "%s/server.key", cfg->dir);
    }
    ks_watch_wake = wake;
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options =
        LWS_SERVER_OPTION_EXPLICIT_VHOSTS | (cfg->tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
    info.max_http_header_data = 16384;
    info.max_http_header_pool = 256;
    info.keepalive_timeout = 60;
    info.timeout_secs = 60;
    g_ctx = lws_create_context(&info);
    if (!g_ctx) {
        fprintf(stderr, "kubesim: lws_create_context failed\n");
        return -1;
    }
    struct lws_context_creation_info v;
    memset(&v, 0, sizeof(v));
    v.vhost_name = "kube";
    v.iface = "127.0.0.1";
    v.port = cfg->port;
    v.protocols = protocols;
    v.keepalive_timeout = 60;
    if (cfg->tls) {
        v.ssl_cert_filepath = cert;
        v.ssl_private_key_filepath = key;
        v.alpn = "http/1.1";
        v.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    }
    if (!lws_create_vhost(g_ctx, &v)) {
        fprintf(stderr, "kubesim: cannot listen on 127.0.0.1:%d\n", cfg->port);
        lws_context_destroy(g_ctx);
        return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    lws_sul_schedule(g_ctx, 0, &tick_sul, tick, 200 * LWS_US_PER_MS);
    printf("kubesim listening on %s://127.0.0.1:%d\n", cfg->tls ? "https" : "http", cfg->port);
    fflush(stdout);
    while (!g_stop) {
        if (lws_service(g_ctx, 0) < 0)
            break;
    }
    lws_context_destroy(g_ctx);
    g_ctx = NULL;
    return 0;
}
