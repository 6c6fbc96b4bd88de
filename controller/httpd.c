/* httpd.c - see httpd.h. */
#include "httpd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#define CHUNK 16384

struct httpd {
    struct lws_context *ctx;
    httpd_handler_cb handler;
    void *arg;
    int port;
    bool closing;
};

/* Per connection: the response being written. */
struct pss {
    int status;
    const char *ctype;
    char *body;
    size_t len, off;
    bool head, hdrs_sent, pending;
};

static void pss_clear(struct pss *p)
{
    free(p->body);
    memset(p, 0, sizeof(*p));
}

static void set_error(struct pss *p, int status, const char *msg)
{
    size_t n = strlen(msg);

    pss_clear(p);
    p->status = status;
    p->ctype = "text/plain; charset=utf-8";
    p->body = malloc(n + 1);
    if (p->body) {
        memcpy(p->body, msg, n + 1);
        p->len = n;
    }
    p->pending = true;
}

static void handle(struct lws *wsi, struct httpd *h, struct pss *p, const char *uri)
{
    char query[HTTPD_PATH_MAX] = "";
    struct httpd_req req;
    struct httpd_resp resp = {0};
    bool get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    bool head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;

    if (!get && !head) {
        set_error(p, 405, "method not allowed: this listener serves GET and HEAD\n");
        return;
    }
    if (strlen(uri) >= HTTPD_PATH_MAX) {
        set_error(p, 414, "path too long\n");
        return;
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) > 0 &&
        lws_hdr_copy(wsi, query, sizeof(query), WSI_TOKEN_HTTP_URI_ARGS) < 0)
        query[0] = '\0';
    req.method = head ? "HEAD" : "GET";
    req.path = uri;
    req.query = query;
    resp.status = 200;
    h->handler(h->arg, &req, &resp);
    pss_clear(p);
    p->status = resp.status ? resp.status : 200;
    p->ctype = resp.content_type ? resp.content_type : "text/plain; charset=utf-8";
    p->body = resp.body;
    p->len = resp.body ? resp.len : 0;
    p->head = head;
    p->pending = true;
}

static int write_some(struct lws *wsi, struct pss *p)
{
    size_t body = p->head ? 0 : p->len;

    if (!p->hdrs_sent) {
        unsigned char buf[LWS_PRE + 1024];
        unsigned char *start = buf + LWS_PRE, *q = start, *end = buf + sizeof(buf) - 1;

        if (lws_add_http_common_headers(wsi, (unsigned int)p->status, p->ctype,
                                        (lws_filepos_t)p->len, &q, end))
            return -1;
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                         (const unsigned char *)"no-store", 8, &q, end))
            return -1;
        if (lws_finalize_write_http_header(wsi, start, &q, end))
            return -1;
        p->hdrs_sent = true;
    } else if (p->off < body) {
        unsigned char buf[LWS_PRE + CHUNK];
        size_t n = body - p->off > CHUNK ? CHUNK : body - p->off;
        enum lws_write_protocol wp = p->off + n == body ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP;

        memcpy(buf + LWS_PRE, p->body + p->off, n);
        if (lws_write(wsi, buf + LWS_PRE, n, wp) != (int)n)
            return -1;
        p->off += n;
    }
    if (p->off >= body) {
        pss_clear(p);
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    lws_callback_on_writable(wsi);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct pss *p = user;
    struct httpd *h = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        handle(wsi, h, p, in ? (const char *)in : "/");
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_HTTP_BODY:
        set_error(p, 413, "request bodies are not accepted\n");
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!p || !p->pending)
            return 0;
        return write_some(wsi, p);
    case LWS_CALLBACK_CLOSED_HTTP:
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
    {NULL, NULL, 0, 0, 0, NULL, 0}, /* 4.1.6 has no LWS_PROTOCOL_LIST_TERM */
};

/* lws 4.1 creates a context even when its listen socket cannot be bound (and
 * a foreign-loop context cannot be torn down synchronously), so try the bind
 * first and report a clear error. */
static int can_bind(const char *addr, int port, struct rc_err *err)
{
    struct sockaddr_in6 a6 = {0};
    struct sockaddr_in a4 = {0};
    int fd, r, one = 1;
    bool v6 = addr && strchr(addr, ':');

    if (port == 0)
        return 0;
    fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return rc_err_set(err, -RC_EIO, "", "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (v6) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)port);
        r = inet_pton(AF_INET6, addr, &a6.sin6_addr) == 1
                ? bind(fd, (struct sockaddr *)&a6, sizeof(a6))
                : -1;
    } else {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
        a4.sin_addr.s_addr = htonl(INADDR_ANY);
        r = (!addr || !*addr || inet_pton(AF_INET, addr, &a4.sin_addr) == 1)
                ? bind(fd, (struct sockaddr *)&a4, sizeof(a4))
                : -1;
    }
    if (r < 0) {
        rc_err_set(err, -RC_EIO, "", "cannot listen on %s:%d: %s", addr && *addr ? addr : "*", port,
                   errno ? strerror(errno) : "bad address");
        close(fd);
        return -RC_EIO;
    }
    close(fd);
    return 0;
}

struct httpd *httpd_new(uv_loop_t *loop, const char *addr, int port, httpd_handler_cb handler,
                        void *arg, struct rc_err *err)
{
    struct lws_context_creation_info info;
    struct httpd *h = calloc(1, sizeof(*h));
    void *foreign[1] = {loop};

    if (!h) {
        rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        return NULL;
    }
    if (can_bind(addr, port, err) < 0) {
        free(h);
        return NULL;
    }
    h->handler = handler;
    h->arg = arg;
    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof(info));
    info.port = port;
    info.iface = addr && *addr ? addr : NULL;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    info.foreign_loops = foreign;
    info.user = h;
    info.pcontext = &h->ctx; /* lws clears it when a destroy has fully completed */
    info.timeout_secs = 30;
    h->ctx = lws_create_context(&info);
    if (!h->ctx) {
        rc_err_set(err, -RC_EIO, "", "cannot listen on %s:%d", addr ? addr : "*", port);
        free(h);
        return NULL;
    }
    if (!lws_get_vhost_by_name(h->ctx, "default")) {
        /* Lost a race for the port after can_bind(): the context is torn down
         * by the loop; h stays allocated because lws still points into it. */
        rc_err_set(err, -RC_EIO, "", "cannot listen on %s:%d", addr ? addr : "*", port);
        h->closing = true;
        lws_context_destroy(h->ctx);
        return NULL;
    }
    h->port = lws_get_vhost_listen_port(lws_get_vhost_by_name(h->ctx, "default"));
    return h;
}

void httpd_close(struct httpd *h)
{
    if (h && h->ctx && !h->closing) {
        h->closing = true;
        lws_context_destroy(h->ctx);
    }
}

void httpd_free(struct httpd *h)
{
    if (!h)
        return;
    httpd_close(h);
    /* With a foreign loop the first destroy only closes lws's uv handles; once
     * the loop has run their close callbacks, a second call frees the context
     * (lws clears h->ctx through info.pcontext when it is fully gone). */
    if (h->ctx)
        lws_context_destroy(h->ctx);
    free(h);
}

int httpd_port(const struct httpd *h)
{
    return h->port;
}

int httpd_parse_listen(const char *s, char *addr, size_t addr_size, int *ret_port,
                       struct rc_err *err)
{
    const char *colon = strrchr(s, ':');
    const char *host = s;
    size_t hlen;
    char *end;
    long port;

    if (!colon)
        return rc_err_set(err, -RC_EINVAL, "--listen", "must be ADDR:PORT, got \"%s\"", s);
    hlen = (size_t)(colon - s);
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        host = s + 1;
        hlen -= 2;
    }
    port = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || port < 0 || port > 65535)
        return rc_err_set(err, -RC_EINVAL, "--listen", "bad port in \"%s\"", s);
    if (hlen >= addr_size)
        return rc_err_set(err, -RC_EINVAL, "--listen", "address too long in \"%s\"", s);
    memcpy(addr, host, hlen);
    addr[hlen] = '\0';
    *ret_port = (int)port;
    return 0;
}
