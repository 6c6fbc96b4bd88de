/*
 * server.c - libwebsockets glue: an HTTPS vhost (ARM, Entra, admin) and a plain-HTTP vhost
 * (IMDS) on 127.0.0.1, HTTP/1.1 only, keep-alive. Each request is collected (headers, body up to
 * AS_MAX_BODY), dispatched with armsim_dispatch() and written back in 16 KB chunks.
 *
 * Ownership: per-connection state (struct pss) owns the request copy and the rendered response
 * until the transaction completes. Injected faults: reset closes the connection; latency delays
 * the answer with lws_set_timer_usecs().
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "armsim_int.h"
#include "simcerts.h"

#define TARGET_MAX 16384
#define CHUNK      16384

struct pss {
    char method[8];
    char *target; /* path?query as received */
    char *body;
    size_t blen, bcap;
    bool want_body, too_big, pending, chunked;
    /* response */
    unsigned char *out; /* body */
    size_t out_len, out_off;
    bool head, reset, close_after, hdrs_sent;
    int status;
    char ctype[64];
    char *hdrs; /* "name\0value\0..." */
    size_t hdrs_len;
};

static struct armsim *g_sim;
static struct lws_context *g_ctx;

static void pss_clear(struct pss *p)
{
    free(p->target);
    free(p->body);
    free(p->out);
    free(p->hdrs);
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

static const struct {
    enum lws_token_indexes tok;
    const char *name;
} known_hdrs[] = {
    {WSI_TOKEN_HTTP_AUTHORIZATION, "authorization"},
    {WSI_TOKEN_HTTP_CONTENT_TYPE, "content-type"},
    {WSI_TOKEN_HOST, "host"},
    {WSI_TOKEN_HTTP_IF_MATCH, "if-match"},
    {WSI_TOKEN_HTTP_IF_NONE_MATCH, "if-none-match"},
    {WSI_TOKEN_HTTP_USER_AGENT, "user-agent"},
    {WSI_TOKEN_HTTP_ACCEPT, "accept"},
};

static const char *const custom_hdrs[] = {
    "metadata:", "x-ms-correlation-request-id:", "x-ms-client-request-id:",
    "x-ms-return-client-request-id:"};

/* Header storage for one dispatch; lives on the stack of handle(). */
struct hstore {
    char buf[12288];
    size_t used;
    struct lws *wsi;
};

static const char *hs_add(struct hstore *hs, const char *v, size_t n)
{
    if (hs->used + n + 1 > sizeof(hs->buf))
        return NULL;
    char *d = hs->buf + hs->used;
    memcpy(d, v, n);
    d[n] = 0;
    hs->used += n + 1;
    return d;
}

static struct hstore *cur_hs;

static const char *lookup_hdr(struct as_req *r, const char *name)
{
    struct hstore *hs = cur_hs;
    if (!hs || !hs->wsi || r->priv != hs->wsi)
        return NULL;
    char nm[96];
    int nl = snprintf(nm, sizeof(nm), "%s:", name);
    if (nl <= 0 || (size_t)nl >= sizeof(nm))
        return NULL;
    int len = lws_hdr_custom_length(hs->wsi, nm, nl);
    if (len <= 0 || (size_t)len + 1 > sizeof(hs->buf) - hs->used)
        return NULL;
    char *d = hs->buf + hs->used;
    if (lws_hdr_custom_copy(hs->wsi, d, len + 1, nm, nl) < 0)
        return NULL;
    hs->used += (size_t)len + 1;
    return d;
}

static void add_req_hdr(struct as_req *r, struct hstore *hs, const char *name, const char *v,
                        size_t n)
{
    if (r->nhdr >= AS_MAX_HDRS)
        return;
    const char *c = hs_add(hs, v, n);
    if (!c)
        return;
    r->hdr[r->nhdr].name = name;
    r->hdr[r->nhdr].value = c;
    r->nhdr++;
}

static int on_writable(struct lws *wsi, struct pss *p);

static int prepare_response(struct lws *wsi, struct pss *p, struct as_resp *w)
{
    char *body = NULL;
    size_t blen = 0;
    if (w->json) {
        body = json_dumps(w->json, JSON_COMPACT);
        blen = body ? strlen(body) : 0;
    } else if (w->raw) {
        body = w->raw;
        blen = w->raw_len;
        w->raw = NULL;
    }
    p->out = (unsigned char *)body;
    p->out_len = blen;
    p->out_off = 0;
    p->status = w->status;
    p->reset = w->reset;
    snprintf(p->ctype, sizeof(p->ctype), "%s",
             w->content_type ? w->content_type : "application/json; charset=utf-8");
    size_t need = 0;
    for (int i = 0; i < w->nheaders; i++)
        need += strlen(w->hname[i]) + strlen(w->hval[i]) + 3;
    p->hdrs = malloc(need + 1);
    p->hdrs_len = 0;
    if (p->hdrs) {
        for (int i = 0; i < w->nheaders; i++) {
            size_t a = strlen(w->hname[i]), b = strlen(w->hval[i]);
            memcpy(p->hdrs + p->hdrs_len, w->hname[i], a);
            p->hdrs[p->hdrs_len + a] = ':';
            p->hdrs[p->hdrs_len + a + 1] = 0;
            p->hdrs_len += a + 2;
            memcpy(p->hdrs + p->hdrs_len, w->hval[i], b + 1);
            p->hdrs_len += b + 1;
        }
    }
    p->pending = true;
    if (w->delay_ms > 0 && !w->reset) {
        lws_set_timer_usecs(wsi, (lws_usec_t)w->delay_ms * 1000);
        return 0;
    }
    return on_writable(wsi, p);
}

static int handle(struct lws *wsi, struct pss *p)
{
    struct as_req r;
    struct as_resp w;
    struct hstore *hs = malloc(sizeof(*hs));
    size_t tl = strlen(p->target);
    char *tbuf = malloc(2 * tl + 4);
    memset(&r, 0, sizeof(r));
    memset(&w, 0, sizeof(w));
    if (!hs || !tbuf) {
        free(hs);
        free(tbuf);
        return -1;
    }
    hs->used = 0;
    hs->wsi = wsi;
    cur_hs = hs;
    r.method = p->method;
    r.priv = wsi;
    r.scheme = lws_is_ssl(wsi) ? "https" : "http";
    char tmp[8192];
    for (size_t i = 0; i < sizeof(known_hdrs) / sizeof(known_hdrs[0]); i++) {
        int n = lws_hdr_copy(wsi, tmp, sizeof(tmp), known_hdrs[i].tok);
        if (n > 0)
            add_req_hdr(&r, hs, known_hdrs[i].name, tmp, (size_t)n);
    }
    for (size_t i = 0; i < sizeof(custom_hdrs) / sizeof(custom_hdrs[0]); i++) {
        int nl = (int)strlen(custom_hdrs[i]);
        int n = lws_hdr_custom_length(wsi, custom_hdrs[i], nl);
        if (n > 0 && n < (int)sizeof(tmp) &&
            lws_hdr_custom_copy(wsi, tmp, (int)sizeof(tmp), custom_hdrs[i], nl) >= 0) {
            char nm[64];
            snprintf(nm, sizeof(nm), "%.*s", nl - 1, custom_hdrs[i]);
            /* names must outlive this loop: store them in hs too */
            const char *ns = hs_add(hs, nm, strlen(nm));
            if (ns)
                add_req_hdr(&r, hs, ns, tmp, (size_t)n);
        }
    }
    r.host = as_header(&r, "host");
    char fallback[64];
    if (!r.host || !*r.host) { /* HTTP/1.0 without Host: absolute URLs still need our address */
        snprintf(fallback, sizeof(fallback), "127.0.0.1:%d",
                 lws_is_ssl(wsi) ? g_sim->cfg.port : g_sim->cfg.imds_port);
        r.host = fallback;
    }
    if (as_req_parse_target(&r, p->target, tbuf, 2 * tl + 4) < 0) {
        as_resp_error(&w, 400, "InvalidRequestUri", NULL, "The request URI is invalid.");
        as_resp_header(&w, "x-ms-request-id", "00000000-0000-0000-0000-000000000000");
    } else if (p->chunked) {
        as_resp_error(&w, 411, "LengthRequired", NULL,
                      "Chunked request bodies are not supported; send a Content-Length.");
    } else if (p->too_big) {
        as_resp_error(&w, 413, "RequestEntityTooLarge", NULL,
                      "The request content length exceeds the limit of %u bytes.", AS_MAX_BODY);
        p->close_after = true;
    } else {
        json_error_t jerr;
        if (p->body && p->blen) {
            r.body = p->body;
            r.body_len = p->blen;
            r.json = json_loadb(p->body, p->blen, JSON_REJECT_DUPLICATES, &jerr);
            r.body_bad_json = r.json == NULL;
        }
        armsim_dispatch(g_sim, &r, &w);
        json_decref(r.json);
    }
    p->head = strcmp(p->method, "HEAD") == 0;
    cur_hs = NULL;
    int rc = prepare_response(wsi, p, &w);
    as_resp_release(&w);
    free(tbuf);
    free(hs);
    return rc;
}

/* Header block (status line, our headers, content-length) into buf; returns its length or -1.
 * The content length is written by name so lws does not track the body: the body may then go
 * out in the same write as the headers (one TLS record, one syscall for small answers). */
static long build_headers(struct lws *wsi, struct pss *p, unsigned char *start, unsigned char *end)
{
    unsigned char *q = start;
    char num[32];
    if (lws_add_http_header_status(wsi, (unsigned)p->status, &q, end))
        return -1;
    if (p->out_len && lws_add_http_header_by_name(wsi, (const unsigned char *)"content-type:",
                                                  (const unsigned char *)p->ctype,
                                                  (int)strlen(p->ctype), &q, end))
        return -1;
    int nl = snprintf(num, sizeof(num), "%zu", p->out_len);
    if (lws_add_http_header_by_name(
            wsi, (const unsigned char *)"content-length:", (const unsigned char *)num, nl, &q, end))
        return -1;
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-cache", 8, &q, end))
        return -1;
    for (size_t off = 0; off < p->hdrs_len;) {
        const char *n = p->hdrs + off;
        off += strlen(n) + 1;
        const char *v = p->hdrs + off;
        off += strlen(v) + 1;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)n, (const unsigned char *)v,
                                        (int)strlen(v), &q, end))
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

static int on_writable(struct lws *wsi, struct pss *p)
{
    if (!p->pending)
        return 0;
    if (p->reset) {
        /* injected fault: abortive close, the client sees ECONNRESET */
        struct linger lg = {1, 0};
        int fd = (int)lws_get_socket_fd(wsi);
        if (fd >= 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        return -1;
    }
    if (lws_send_pipe_choked(wsi)) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    size_t body = p->head ? 0 : p->out_len;
    if (!p->hdrs_sent) {
        size_t cap = LWS_PRE + 4096 + p->hdrs_len * 2 + CHUNK;
        unsigned char *buf = malloc(cap);
        if (!buf)
            return -1;
        unsigned char *start = buf + LWS_PRE;
        long hl = build_headers(wsi, p, start, buf + cap - CHUNK - 1);
        if (hl < 0) {
            free(buf);
            return -1;
        }
        size_t n = body < CHUNK ? body : CHUNK;
        if (n) /* an empty response has no buffer: memcpy(NULL, 0) is undefined */
            memcpy(start + hl, p->out, n);
        int w = lws_write(wsi, start, (size_t)hl + n, LWS_WRITE_HTTP_HEADERS);
        free(buf);
        if (w < (int)((size_t)hl + n))
            return -1;
        p->hdrs_sent = true;
        p->out_off = n;
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
        {
            int one = 1, fd = (int)lws_get_socket_fd(wsi);
            if (fd >= 0)
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
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
            /* lws decoded the fragment; re-escape what would break our own parsing */
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
        if (clen > (long long)AS_MAX_BODY) {
            p->too_big = true;
            p->close_after = true;
            return handle(wsi, p);
        }
        char te[64];
        bool chunked = lws_hdr_copy(wsi, te, sizeof(te), WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0 &&
                       strcasestr(te, "chunked");
        if (chunked) {
            /* lws 4.1 does not decode chunked request bodies: ask for a Content-Length */
            p->chunked = true;
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
        if (p->blen + len > AS_MAX_BODY) {
            p->too_big = true;
            return 0;
        }
        if (p->blen + len + 1 > p->bcap) {
            size_t nc = (p->blen + len + 1) * 2;
            if (nc > AS_MAX_BODY + 1)
                nc = AS_MAX_BODY + 1;
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
    case LWS_CALLBACK_TIMER:
        if (p->pending)
            lws_callback_on_writable(wsi);
        return 0;
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

static lws_sorted_usec_list_t tick_sul;

static void tick(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    as_sched_run(g_sim);
    if (g_sim->stop) {
        lws_cancel_service(g_ctx);
        return;
    }
    lws_sul_schedule(g_ctx, 0, &tick_sul, tick, 100 * LWS_US_PER_MS);
}

static void on_signal(int sig)
{
    (void)sig;
    if (g_sim)
        g_sim->stop = 1;
    if (g_ctx)
        lws_cancel_service(g_ctx);
}

static const char *hdr_lookup_adapter(struct as_req *r, const char *name)
{
    return lookup_hdr(r, name);
}

int as__server_run(struct armsim *sim)
{
    char err[256], cert[1024], key[1024];
    const char *dir = sim->cfg.dir ? sim->cfg.dir : ".";
    if (simcerts_ensure(dir, "armsim", err, sizeof(err)) < 0) {
        fprintf(stderr, "armsim: %s\n", err);
        return -1;
    }
    snprintf(cert, sizeof(cert), "%s/server.pem", dir);
    snprintf(key, sizeof(key), "%s/server.key", dir);
    g_sim = sim;
    as__hdr_lookup = hdr_lookup_adapter;
    lws_set_log_level(LLL_ERR, NULL);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.max_http_header_data = 16384;
    info.max_http_header_pool = 64;
    info.keepalive_timeout = 60;
    info.timeout_secs = 60;
    g_ctx = lws_create_context(&info);
    if (!g_ctx) {
        fprintf(stderr, "armsim: lws_create_context failed\n");
        return -1;
    }
    sim->lws_ctx = g_ctx;

    struct lws_context_creation_info v;
    memset(&v, 0, sizeof(v));
    v.vhost_name = "arm";
    v.iface = "127.0.0.1";
    v.port = sim->cfg.port;
    v.protocols = protocols;
    v.ssl_cert_filepath = cert;
    v.ssl_private_key_filepath = key;
    v.alpn = "http/1.1";
    v.keepalive_timeout = 60;
    v.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (!lws_create_vhost(g_ctx, &v)) {
        fprintf(stderr, "armsim: cannot listen on 127.0.0.1:%d\n", sim->cfg.port);
        lws_context_destroy(g_ctx);
        return -1;
    }
    if (sim->cfg.imds_port > 0) {
        memset(&v, 0, sizeof(v));
        v.vhost_name = "imds";
        v.iface = "127.0.0.1";
        v.port = sim->cfg.imds_port;
        v.protocols = protocols;
        v.keepalive_timeout = 60;
        if (!lws_create_vhost(g_ctx, &v)) {
            fprintf(stderr, "armsim: cannot listen on 127.0.0.1:%d (IMDS)\n", sim->cfg.imds_port);
            lws_context_destroy(g_ctx);
            return -1;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    lws_sul_schedule(g_ctx, 0, &tick_sul, tick, 100 * LWS_US_PER_MS);

    printf("armsim listening on https://127.0.0.1:%d\n", sim->cfg.port);
    fflush(stdout);
    while (!sim->stop) {
        if (lws_service(g_ctx, 0) < 0)
            break;
    }
    lws_context_destroy(g_ctx);
    g_ctx = NULL;
    sim->lws_ctx = NULL;
    return 0;
}
