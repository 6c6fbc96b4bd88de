/*
 * kube.c - see kube.h.
 *
 * Configuration: the kubeconfig texts are loaded with libyaml's document API
 * (aliases are not expanded: only named keys are looked up, so an alias bomb
 * costs nothing). Lookups go through every text in order, first wins.
 *
 * Client: each kube_request is a struct kreq that lives until its callback
 * has run: SEND -> http done -> (401 with a token file: re-read, send again
 * once) | (429/5xx with Retry-After: wait on a uv timer, send again) | done.
 * Each watch is a struct kwatch holding the partial line between chunks.
 */
#include "kube.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "http.h"
#include "rc_util.h"

#define URL_MAX      8192
#define AUTH_HDR_MAX (KUBE_TOKEN_MAX + 32)

/* ---- small helpers ---- */

static char *xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Standard or URL-safe base64, whitespace ignored, padding optional. */
int kube_base64_decode(const char *s, char **ret, size_t *ret_len)
{
    size_t n = strlen(s), o = 0;
    unsigned acc = 0;
    int bits = 0;
    char *out = malloc(n / 4 * 3 + 4);

    if (!out)
        return -RC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int v;

        if (isspace((unsigned char)s[i]))
            continue;
        if (s[i] == '=')
            break;
        v = b64val((unsigned char)s[i]);
        if (v < 0) {
            free(out);
            return -RC_EINVAL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    *ret = out;
    *ret_len = o;
    return 0;
}

static int read_small_file(const char *path, size_t max, char **ret, size_t *ret_len,
                           struct rc_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (!f)
        return rc_err_set(err, -RC_EIO, "", "%s: %s", path, strerror(errno));
    buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    }
    n = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        fclose(f);
        free(buf);
        return rc_err_set(err, -RC_EIO, "", "%s: read error", path);
    }
    fclose(f);
    if (n > max) {
        free(buf);
        return rc_err_set(err, -RC_ELIMIT, "", "%s: larger than %zu bytes", path, max);
    }
    buf[n] = '\0';
    *ret = buf;
    *ret_len = n;
    return 0;
}

static void trim_inplace(char *s)
{
    size_t n = strlen(s), i = 0;

    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    while (s[i] && isspace((unsigned char)s[i]))
        i++;
    if (i)
        memmove(s, s + i, n - i + 1);
}

size_t kube_escape(const char *s, char *buf, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0, w = 0; /* needed, written */

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
        size_t n = plain ? 1 : 3;

        if (w == o && o + n < size) {
            if (plain) {
                buf[o] = (char)c;
            } else {
                buf[o] = '%';
                buf[o + 1] = hex[c >> 4];
                buf[o + 2] = hex[c & 15];
            }
            w += n;
        }
        o += n;
    }
    if (size)
        buf[w] = '\0';
    return o;
}

/* ---- kubeconfig ---- */

void kube_config_release(struct kube_config *c)
{
    if (!c)
        return;
    free(c->server);
    free(c->namespace);
    free(c->context);
    free(c->ca_file);
    free(c->ca_pem);
    free(c->cert_file);
    free(c->cert_pem);
    free(c->key_file);
    free(c->key_pem);
    if (c->token) {
        memset(c->token, 0, strlen(c->token));
        free(c->token);
    }
    free(c->token_file);
    memset(c, 0, sizeof(*c));
}

struct kdoc {
    yaml_document_t doc;
    bool loaded;
    const char *dir;
};

static yaml_node_t *ymap_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);

        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
            memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

/* Scalar text of map[key], or NULL (absent, not a scalar, or empty "null"). */
static const char *ymap_str(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    yaml_node_t *n = ymap_get(d, map, key);

    if (!n || n->type != YAML_SCALAR_NODE)
        return NULL;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (n->data.scalar.length == 0 || strcmp((char *)n->data.scalar.value, "null") == 0 ||
         strcmp((char *)n->data.scalar.value, "~") == 0))
        return NULL;
    return (const char *)n->data.scalar.value;
}

static bool ytrue(const char *s)
{
    return s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0);
}

/* The entry named name in list key ("clusters", "users", "contexts") of the
 * first document that has one; its inner mapping (field inner) goes to
 * *ret_node, the document index to *ret_doc. */
static bool find_named(struct kdoc *docs, size_t n, const char *list, const char *inner,
                       const char *name, yaml_node_t **ret_node, size_t *ret_doc)
{
    for (size_t i = 0; i < n; i++) {
        yaml_document_t *d = &docs[i].doc;
        yaml_node_t *root = yaml_document_get_root_node(d);
        yaml_node_t *l = ymap_get(d, root, list);

        if (!l || l->type != YAML_SEQUENCE_NODE)
            continue;
        for (yaml_node_item_t *it = l->data.sequence.items.start; it < l->data.sequence.items.top;
             it++) {
            yaml_node_t *e = yaml_document_get_node(d, *it);
            const char *nm = ymap_str(d, e, "name");

            if (nm && strcmp(nm, name) == 0) {
                *ret_node = ymap_get(d, e, inner);
                *ret_doc = i;
                return true;
            }
        }
    }
    return false;
}

static int set_path(char **dst, const char *dir, const char *p, struct rc_err *err)
{
    char buf[4096];
    int n;

    if (p[0] == '/' || !dir || !dir[0])
        n = snprintf(buf, sizeof(buf), "%s", p);
    else
        n = snprintf(buf, sizeof(buf), "%s/%s", dir, p);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return rc_err_set(err, -RC_ELIMIT, "", "path too long: %s", p);
    free(*dst);
    *dst = strdup(buf);
    return *dst ? 0 : rc_err_set(err, -RC_ENOMEM, "", "out of memory");
}

static int set_b64(char **dst, size_t *dst_len, const char *b64, const char *what,
                   struct rc_err *err)
{
    char *out;
    size_t len;
    int r;

    if (strlen(b64) > (size_t)KUBE_PEM_MAX * 2)
        return rc_err_set(err, -RC_ELIMIT, what, "larger than %d bytes", KUBE_PEM_MAX);
    r = kube_base64_decode(b64, &out, &len);
    if (r == -RC_ENOMEM)
        return rc_err_set(err, r, what, "out of memory");
    if (r < 0)
        return rc_err_set(err, -RC_EINVAL, what, "not valid base64");
    free(*dst);
    *dst = out;
    *dst_len = len;
    return 0;
}

static int set_str(char **dst, const char *s, struct rc_err *err)
{
    free(*dst);
    *dst = strdup(s);
    return *dst ? 0 : rc_err_set(err, -RC_ENOMEM, "", "out of memory");
}

static int config_from_docs(struct kdoc *docs, size_t n, const char *context,
                            struct kube_config *ret, struct rc_err *err)
{
    const char *ctx_name = context, *cluster_name, *user_name, *s;
    yaml_node_t *ctx = NULL, *cl = NULL, *us = NULL;
    size_t ctx_doc = 0, cl_doc = 0, us_doc = 0;
    yaml_document_t *d;
    int r;

    if (!ctx_name || !ctx_name[0]) {
        ctx_name = NULL;
        for (size_t i = 0; i < n && !ctx_name; i++)
            ctx_name = ymap_str(&docs[i].doc, yaml_document_get_root_node(&docs[i].doc),
                                "current-context");
        if (!ctx_name)
            return rc_err_set(err, -RC_EINVAL, "current-context",
                              "no current-context and no --context given");
    }
    if (!find_named(docs, n, "contexts", "context", ctx_name, &ctx, &ctx_doc) || !ctx)
        return rc_err_set(err, -RC_EINVAL, "contexts", "context \"%s\" not found", ctx_name);
    d = &docs[ctx_doc].doc;
    cluster_name = ymap_str(d, ctx, "cluster");
    user_name = ymap_str(d, ctx, "user");
    if ((r = set_str(&ret->context, ctx_name, err)) < 0)
        return r;
    s = ymap_str(d, ctx, "namespace");
    if ((r = set_str(&ret->namespace, s ? s : "default", err)) < 0)
        return r;
    if (!cluster_name)
        return rc_err_set(err, -RC_EINVAL, "contexts", "context \"%s\" names no cluster", ctx_name);
    if (!find_named(docs, n, "clusters", "cluster", cluster_name, &cl, &cl_doc) || !cl)
        return rc_err_set(err, -RC_EINVAL, "clusters", "cluster \"%s\" not found", cluster_name);

    /* cluster */
    d = &docs[cl_doc].doc;
    s = ymap_str(d, cl, "server");
    if (!s)
        return rc_err_set(err, -RC_EINVAL, "clusters", "cluster \"%s\" has no server",
                          cluster_name);
    if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
        return rc_err_set(err, -RC_EINVAL, "clusters", "server \"%s\": not an http(s) URL", s);
    if ((r = set_str(&ret->server, s, err)) < 0)
        return r;
    {
        size_t l = strlen(ret->server);

        while (l > 8 && ret->server[l - 1] == '/')
            ret->server[--l] = '\0';
    }
    if ((s = ymap_str(d, cl, "certificate-authority-data"))) {
        if ((r = set_b64(&ret->ca_pem, &ret->ca_pem_len, s, "certificate-authority-data", err)) < 0)
            return r;
    } else if ((s = ymap_str(d, cl, "certificate-authority"))) {
        if ((r = set_path(&ret->ca_file, docs[cl_doc].dir, s, err)) < 0)
            return r;
    }
    if (ytrue(ymap_str(d, cl, "insecure-skip-tls-verify"))) {
        if (ret->ca_pem || ret->ca_file)
            return rc_err_set(err, -RC_EINVAL, "clusters",
                              "cluster \"%s\": certificate-authority and "
                              "insecure-skip-tls-verify together",
                              cluster_name);
        if (strncmp(ret->server, "https://", 8) == 0)
            return rc_err_set(err, -RC_EINVAL, "clusters",
                              "cluster \"%s\": insecure-skip-tls-verify is not supported "
                              "(TLS verification is always on); give certificate-authority",
                              cluster_name);
    }

    /* user (optional: a server without authentication) */
    if (!user_name || !find_named(docs, n, "users", "user", user_name, &us, &us_doc) || !us) {
        if (user_name)
            return rc_err_set(err, -RC_EINVAL, "users", "user \"%s\" not found", user_name);
        return 0;
    }
    d = &docs[us_doc].doc;
    if ((s = ymap_str(d, us, "token")) && (r = set_str(&ret->token, s, err)) < 0)
        return r;
    if ((s = ymap_str(d, us, "tokenFile")) &&
        (r = set_path(&ret->token_file, docs[us_doc].dir, s, err)) < 0)
        return r;
    if ((s = ymap_str(d, us, "client-certificate-data"))) {
        if ((r = set_b64(&ret->cert_pem, &ret->cert_pem_len, s, "client-certificate-data", err)) <
            0)
            return r;
    } else if ((s = ymap_str(d, us, "client-certificate"))) {
        if ((r = set_path(&ret->cert_file, docs[us_doc].dir, s, err)) < 0)
            return r;
    }
    if ((s = ymap_str(d, us, "client-key-data"))) {
        if ((r = set_b64(&ret->key_pem, &ret->key_pem_len, s, "client-key-data", err)) < 0)
            return r;
    } else if ((s = ymap_str(d, us, "client-key"))) {
        if ((r = set_path(&ret->key_file, docs[us_doc].dir, s, err)) < 0)
            return r;
    }
    if (!!(ret->cert_pem || ret->cert_file) != !!(ret->key_pem || ret->key_file))
        return rc_err_set(err, -RC_EINVAL, "users",
                          "user \"%s\": client certificate and key must be given together",
                          user_name);
    if (!ret->token && !ret->token_file && !ret->cert_pem && !ret->cert_file) {
        if (ymap_get(d, us, "exec"))
            return rc_err_set(err, -RC_EINVAL, "users",
                              "user \"%s\": exec credential plugins are not supported", user_name);
        if (ymap_get(d, us, "auth-provider"))
            return rc_err_set(err, -RC_EINVAL, "users",
                              "user \"%s\": auth-provider is not supported", user_name);
        if (ymap_str(d, us, "username") || ymap_str(d, us, "password"))
            return rc_err_set(err, -RC_EINVAL, "users",
                              "user \"%s\": basic authentication is not supported", user_name);
    }
    return 0;
}

int kube_config_parse(const char *const *texts, const size_t *lens, const char *const *dirs,
                      size_t n, const char *context, struct kube_config *ret, struct rc_err *err)
{
    struct kdoc docs[KUBE_CONFIG_FILES_MAX];
    size_t loaded = 0;
    int r = 0;

    memset(ret, 0, sizeof(*ret));
    memset(docs, 0, sizeof(docs));
    if (n == 0)
        return rc_err_set(err, -RC_EINVAL, "", "no kubeconfig");
    if (n > KUBE_CONFIG_FILES_MAX)
        return rc_err_set(err, -RC_ELIMIT, "", "more than %d kubeconfig files",
                          KUBE_CONFIG_FILES_MAX);
    for (size_t i = 0; i < n; i++) {
        yaml_parser_t p;
        yaml_node_t *root;

        if (lens[i] > KUBE_CONFIG_MAX) {
            r = rc_err_set(err, -RC_ELIMIT, "", "kubeconfig larger than %d bytes", KUBE_CONFIG_MAX);
            goto out;
        }
        if (!yaml_parser_initialize(&p)) {
            r = rc_err_set(err, -RC_ENOMEM, "", "out of memory");
            goto out;
        }
        yaml_parser_set_input_string(&p, (const unsigned char *)texts[i], lens[i]);
        if (!yaml_parser_load(&p, &docs[i].doc)) {
            r = rc_err_set(err, -RC_EPROTO, "", "kubeconfig is not YAML: %s at line %zu",
                           p.problem ? p.problem : "syntax error", p.problem_mark.line + 1);
            rc_err_at(err, NULL, (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1);
            yaml_parser_delete(&p);
            goto out;
        }
        yaml_parser_delete(&p);
        docs[i].loaded = true;
        docs[i].dir = dirs ? dirs[i] : NULL;
        loaded = i + 1;
        root = yaml_document_get_root_node(&docs[i].doc);
        if (root && root->type != YAML_MAPPING_NODE) {
            r = rc_err_set(err, -RC_EPROTO, "", "kubeconfig is not a mapping");
            goto out;
        }
    }
    r = config_from_docs(docs, n, context, ret, err);
out:
    for (size_t i = 0; i < loaded; i++)
        if (docs[i].loaded)
            yaml_document_delete(&docs[i].doc);
    if (r < 0)
        kube_config_release(ret);
    return r;
}

int kube_config_load(const char *path, const char *context, struct kube_config *ret,
                     struct rc_err *err)
{
    char *texts[KUBE_CONFIG_FILES_MAX] = {0};
    size_t lens[KUBE_CONFIG_FILES_MAX] = {0};
    char *dirs[KUBE_CONFIG_FILES_MAX] = {0};
    char *list = strdup(path), *save = NULL, *tok;
    bool is_list = strchr(path, ':') != NULL;
    size_t n = 0;
    int r = 0;

    memset(ret, 0, sizeof(*ret));
    if (!list)
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    for (tok = strtok_r(list, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        struct stat st;
        char *slash;

        if (!tok[0])
            continue;
        if (is_list && stat(tok, &st) != 0)
            continue; /* client-go skips missing entries of the list */
        if (n == KUBE_CONFIG_FILES_MAX) {
            r = rc_err_set(err, -RC_ELIMIT, "", "more than %d kubeconfig files",
                           KUBE_CONFIG_FILES_MAX);
            goto out;
        }
        r = read_small_file(tok, KUBE_CONFIG_MAX, &texts[n], &lens[n], err);
        if (r < 0)
            goto out;
        dirs[n] = strdup(tok);
        if (!dirs[n]) {
            r = rc_err_set(err, -RC_ENOMEM, "", "out of memory");
            goto out;
        }
        slash = strrchr(dirs[n], '/');
        if (slash == dirs[n])
            slash[1] = '\0';
        else if (slash)
            *slash = '\0';
        else
            memcpy(dirs[n], ".", 2); /* fits: tok has at least one character */
        n++;
    }
    if (n == 0) {
        r = rc_err_set(err, -RC_EIO, "", "%s: no kubeconfig file found", path);
        goto out;
    }
    r = kube_config_parse((const char *const *)texts, lens, (const char *const *)dirs, n, context,
                          ret, err);
    if (r < 0 && err && err->file[0] == '\0' && n == 1)
        rc_err_at(err, path, err->line, err->col);
out:
    for (size_t i = 0; i < n; i++) {
        free(texts[i]);
        free(dirs[i]);
    }
    free(list);
    return r;
}

int kube_config_incluster(const char *sa_dir, struct kube_config *ret, struct rc_err *err)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    char buf[4096], *ns = NULL;
    size_t ns_len;
    struct stat st;
    int r;

    memset(ret, 0, sizeof(*ret));
    if (!sa_dir)
        sa_dir = KUBE_SA_DIR;
    if (!host || !host[0] || !port || !port[0])
        return rc_err_set(err, -RC_EINVAL, "",
                          "not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set");
    if (strchr(host, ':'))
        snprintf(buf, sizeof(buf), "https://[%s]:%s", host, port);
    else
        snprintf(buf, sizeof(buf), "https://%s:%s", host, port);
    if ((r = set_str(&ret->server, buf, err)) < 0)
        goto fail;
    snprintf(buf, sizeof(buf), "%s/token", sa_dir);
    if (stat(buf, &st) != 0) {
        r = rc_err_set(err, -RC_EIO, "", "%s: %s", buf, strerror(errno));
        goto fail;
    }
    if ((r = set_str(&ret->token_file, buf, err)) < 0)
        goto fail;
    snprintf(buf, sizeof(buf), "%s/ca.crt", sa_dir);
    if ((r = set_str(&ret->ca_file, buf, err)) < 0)
        goto fail;
    snprintf(buf, sizeof(buf), "%s/namespace", sa_dir);
    if (read_small_file(buf, 253, &ns, &ns_len, NULL) == 0) {
        trim_inplace(ns);
        if (ns[0]) {
            ret->namespace = ns;
            ns = NULL;
        }
    }
    free(ns);
    if (!ret->namespace && (r = set_str(&ret->namespace, "default", err)) < 0)
        goto fail;
    return 0;
fail:
    kube_config_release(ret);
    return r;
}

int kube_config_auto(const char *kubeconfig, const char *context, const char *sa_dir,
                     struct kube_config *ret, struct rc_err *err)
{
    const char *env;
    char path[4096];

    if (kubeconfig && kubeconfig[0])
        return kube_config_load(kubeconfig, context, ret, err);
    env = getenv("KUBECONFIG");
    if (env && env[0])
        return kube_config_load(env, context, ret, err);
    env = getenv("KUBERNETES_SERVICE_HOST");
    if (env && env[0] && !(context && context[0]))
        return kube_config_incluster(sa_dir, ret, err);
    env = getenv("HOME");
    if (!env || !env[0])
        return rc_err_set(err, -RC_EINVAL, "", "no kubeconfig: --kubeconfig, KUBECONFIG, HOME");
    snprintf(path, sizeof(path), "%s/.kube/config", env);
    return kube_config_load(path, context, ret, err);
}

/* ---- the client ---- */

struct kreq;
struct kwatch;

struct kube {
    uv_loop_t *loop;
    struct http *http;
    struct kube_config cfg;
    char *token; /* current bearer token (secret) */
    uint64_t token_read;
    bool token_tried;
    struct kube_stats stats;
    struct kreq *reqs; /* pending, doubly linked */
    struct kube_watch *watches;
    bool closing;
};

struct kreq {
    struct kube *k;
    char *method;
    char *url;
    char *content_type;
    char *body;
    size_t body_len;
    int attempts;
    bool reauthed;
    bool waiting; /* on the retry timer */
    uv_timer_t timer;
    kube_cb cb;
    void *arg;
    struct kreq *prev, *next;
};

struct kube_watch {
    struct kube *k;
    struct http_req *hr;
    char *line;
    size_t len, cap;
    struct rc_err err; /* limit or protocol error that aborted the stream */
    bool stopped, in_event, ended;
    kube_event_cb on_event;
    kube_watch_end_cb on_end;
    void *arg;
    struct kube_watch *prev, *next;
};

static void token_refresh(struct kube *k, bool force)
{
    char *buf = NULL;
    size_t len;
    uint64_t now = uv_now(k->loop);

    if (!k->cfg.token_file)
        return;
    if (!force && k->token_tried && now - k->token_read < KUBE_TOKEN_REREAD_MS)
        return;
    k->token_tried = true;
    k->token_read = now;
    k->stats.token_reads++;
    if (read_small_file(k->cfg.token_file, KUBE_TOKEN_MAX, &buf, &len, NULL) < 0)
        return; /* keep the last good token; the 401 tells the caller */
    trim_inplace(buf);
    if (!buf[0] || strpbrk(buf, "\r\n")) {
        free(buf);
        return;
    }
    if (k->token) {
        memset(k->token, 0, strlen(k->token));
        free(k->token);
    }
    k->token = buf;
}

static void http_opts_for(struct kube *k, struct http_req_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->ca_file = k->cfg.ca_file;
    o->ca_blob = k->cfg.ca_pem;
    o->ca_blob_len = k->cfg.ca_pem_len;
    o->cert_file = k->cfg.cert_file;
    o->cert_blob = k->cfg.cert_pem;
    o->cert_blob_len = k->cfg.cert_pem_len;
    o->key_file = k->cfg.key_file;
    o->key_blob = k->cfg.key_pem;
    o->key_blob_len = k->cfg.key_pem_len;
}

static const char *auth_header(struct kube *k, char *buf, size_t size)
{
    token_refresh(k, false);
    if (!k->token || !k->token[0])
        return NULL;
    if ((size_t)snprintf(buf, size, "Authorization: Bearer %s", k->token) >= size)
        return NULL;
    return buf;
}

static void resp_classify(struct kube_response *kr, long status, const json_t *body,
                          const struct rc_err *transport)
{
    const char *reason = NULL, *message = NULL;
    int code;

    memset(kr, 0, sizeof(*kr));
    kr->status = status;
    kr->body = body;
    kr->reason = "";
    kr->message = "";
    if (status >= 200 && status < 300)
        return;
    if (status == 0) {
        kr->err = *transport;
        if (!kr->err.code)
            rc_err_set(&kr->err, -RC_ETRANSIENT, "", "no response");
        kr->err.klass = rc_err_class_of(kr->err.code);
        kr->message = kr->err.msg;
        return;
    }
    if (json_is_object(body)) {
        reason = json_string_value(json_object_get(body, "reason"));
        message = json_string_value(json_object_get(body, "message"));
    }
    if (status == 404)
        code = -RC_ENOTFOUND;
    else if (status == 409)
        code = -RC_ECONFLICT;
    else if (status == 408 || status == 429 || status >= 500)
        code = -RC_ETRANSIENT;
    else if (status == 410)
        code = -RC_EPROTO;
    else
        code = -RC_EINVAL;
    rc_err_set(&kr->err, code, "", "HTTP %ld%s%s%s%s", status, reason ? " " : "",
               reason ? reason : "", message ? ": " : "", message ? message : "");
    kr->err.http_status = (int)status;
    kr->err.klass = rc_err_class_of(code);
    kr->reason = reason ? reason : "";
    kr->message = message ? message : kr->err.msg;
}

static json_t *parse_body(const struct http_response *resp)
{
    if (!resp->body || resp->body_len == 0)
        return NULL;
    return json_loadb(resp->body, resp->body_len, 0, NULL);
}

static void kreq_unlink(struct kreq *q)
{
    struct kube *k = q->k;

    if (q->prev)
        q->prev->next = q->next;
    else
        k->reqs = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->prev = q->next = NULL;
}

static void on_kreq_closed(uv_handle_t *h)
{
    struct kreq *q = h->data;

    free(q->method);
    free(q->url);
    free(q->content_type);
    free(q->body);
    free(q);
}

static void kreq_free(struct kreq *q)
{
    kreq_unlink(q);
    uv_close((uv_handle_t *)&q->timer, on_kreq_closed);
}

/* Unlinked before the callback: it may call kube_free(), which must neither
 * complete q again nor be touched afterwards. */
static void kreq_finish(struct kreq *q, const struct kube_response *kr)
{
    kreq_unlink(q);
    q->cb(q->arg, kr);
    uv_close((uv_handle_t *)&q->timer, on_kreq_closed);
}

static int kreq_send(struct kreq *q, struct rc_err *err);

static void on_retry_timer(uv_timer_t *t)
{
    struct kreq *q = t->data;
    struct rc_err e = {0};
    struct kube_response kr;

    q->waiting = false;
    if (kreq_send(q, &e) < 0) {
        resp_classify(&kr, 0, NULL, &e);
        kreq_finish(q, &kr);
    }
}

static int retry_after_s(const struct http_response *resp)
{
    const char *v = http_header(resp, "retry-after");
    char *end;
    long s;

    if (!v)
        return -1;
    s = strtol(v, &end, 10);
    if (end == v || *end || s < 0)
        return 1; /* an HTTP date or garbage: wait a second */
    return s > KUBE_RETRY_AFTER_MAX_S ? KUBE_RETRY_AFTER_MAX_S : (int)s;
}

static void on_kreq_done(void *arg, const struct http_response *resp)
{
    struct kreq *q = arg;
    struct kube *k = q->k;
    struct kube_response kr;
    json_t *body;

    if (!k->closing && resp->status == 401 && k->cfg.token_file && !q->reauthed) {
        struct rc_err e = {0};

        q->reauthed = true;
        k->stats.retries++;
        token_refresh(k, true);
        if (kreq_send(q, &e) == 0)
            return;
    }
    if (!k->closing && (resp->status == 429 || resp->status >= 500) &&
        q->attempts < KUBE_RETRIES_MAX) {
        int s = retry_after_s(resp);

        if (s >= 0) {
            k->stats.retries++;
            q->waiting = true;
            uv_timer_start(&q->timer, on_retry_timer, s ? (uint64_t)s * 1000 : 10, 0);
            return;
        }
    }
    body = parse_body(resp);
    resp_classify(&kr, resp->status, body, &resp->err);
    kreq_finish(q, &kr);
    json_decref(body);
}

static int kreq_send(struct kreq *q, struct rc_err *err)
{
    struct kube *k = q->k;
    char auth[AUTH_HDR_MAX], ctype[160];
    const char *hdrs[4];
    size_t nh = 0;
    struct http_req_opts o;
    const char *a;
    int r;

    hdrs[nh++] = "Accept: application/json";
    if (q->body) {
        snprintf(ctype, sizeof(ctype), "Content-Type: %s",
                 q->content_type ? q->content_type : "application/json");
        hdrs[nh++] = ctype;
    }
    if ((a = auth_header(k, auth, sizeof(auth))))
        hdrs[nh++] = a;
    http_opts_for(k, &o);
    q->attempts++;
    k->stats.requests++;
    r = http_request_ex(k->http, q->method, q->url, hdrs, nh, q->body, q->body_len, &o,
                        on_kreq_done, q, NULL, err);
    memset(auth, 0, sizeof(auth));
    return r;
}

static int build_url(struct kube *k, const char *path, char *buf, size_t size)
{
    int n;

    if (!path || path[0] != '/')
        return -RC_EINVAL;
    n = snprintf(buf, size, "%s%s", k->cfg.server, path);
    return n < 0 || (size_t)n >= size ? -RC_ELIMIT : 0;
}

int kube_request(struct kube *k, const char *method, const char *path, const char *content_type,
                 const char *body, kube_cb cb, void *arg)
{
    char url[URL_MAX];
    struct kreq *q;
    struct rc_err e = {0};
    int r;

    if (k->closing)
        return -RC_ETRANSIENT;
    if ((r = build_url(k, path, url, sizeof(url))) < 0)
        return r;
    q = calloc(1, sizeof(*q));
    if (!q)
        return -RC_ENOMEM;
    q->k = k;
    q->cb = cb;
    q->arg = arg;
    q->method = strdup(method);
    q->url = strdup(url);
    if (content_type)
        q->content_type = strdup(content_type);
    if (body) {
        q->body_len = strlen(body);
        q->body = xstrndup(body, q->body_len);
    }
    if (!q->method || !q->url || (content_type && !q->content_type) || (body && !q->body)) {
        free(q->method);
        free(q->url);
        free(q->content_type);
        free(q->body);
        free(q);
        return -RC_ENOMEM;
    }
    if (uv_timer_init(k->loop, &q->timer) != 0) {
        free(q->method);
        free(q->url);
        free(q->content_type);
        free(q->body);
        free(q);
        return -RC_ENOMEM;
    }
    q->timer.data = q;
    q->next = k->reqs;
    if (k->reqs)
        k->reqs->prev = q;
    k->reqs = q;
    if ((r = kreq_send(q, &e)) < 0) {
        kreq_free(q);
        return r;
    }
    return 0;
}

int kube_request_json(struct kube *k, const char *method, const char *path,
                      const char *content_type, const json_t *body, kube_cb cb, void *arg)
{
    char *s = NULL;
    int r;

    if (body) {
        s = json_dumps(body, JSON_COMPACT);
        if (!s)
            return -RC_ENOMEM;
    }
    r = kube_request(k, method, path, content_type, s, cb, arg);
    free(s);
    return r;
}

/* ---- watches ---- */

static void watch_unlink(struct kube_watch *w)
{
    struct kube *k = w->k;

    if (w->prev)
        w->prev->next = w->next;
    else
        k->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

static void watch_free(struct kube_watch *w)
{
    watch_unlink(w);
    free(w->line);
    free(w);
}

/* Parses one line and delivers it. Returns 0, or a negative code with w->err set. */
static int watch_line(struct kube_watch *w, const char *s, size_t n)
{
    json_error_t je;
    json_t *ev;
    const char *type;
    const json_t *obj;

    while (n && (s[n - 1] == '\r' || s[n - 1] == ' '))
        n--;
    if (n == 0)
        return 0;
    ev = json_loadb(s, n, 0, &je);
    if (!ev)
        return rc_err_set(&w->err, -RC_EPROTO, "", "watch event is not JSON: %s", je.text);
    type = json_string_value(json_object_get(ev, "type"));
    obj = json_object_get(ev, "object");
    if (!type || !json_is_object(obj)) {
        json_decref(ev);
        return rc_err_set(&w->err, -RC_EPROTO, "", "watch event without type or object");
    }
    w->k->stats.watch_events++;
    w->in_event = true;
    w->on_event(w->arg, type, obj);
    w->in_event = false;
    json_decref(ev);
    return 0;
}

static int watch_append(struct kube_watch *w, const char *data, size_t n)
{
    if (w->len + n > KUBE_LINE_MAX)
        return rc_err_set(&w->err, -RC_ELIMIT, "", "watch event longer than %u bytes",
                          KUBE_LINE_MAX);
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 16384;
        char *p;

        while (cap < w->len + n)
            cap *= 2;
        p = realloc(w->line, cap);
        if (!p)
            return rc_err_set(&w->err, -RC_ENOMEM, "", "out of memory");
        w->line = p;
        w->cap = cap;
    }
    memcpy(w->line + w->len, data, n);
    w->len += n;
    return 0;
}

static int on_watch_data(void *arg, const char *data, size_t len)
{
    struct kube_watch *w = arg;

    while (len && !w->stopped) {
        const char *nl = memchr(data, '\n', len);
        size_t piece = nl ? (size_t)(nl - data) : len;
        int r;

        if (!nl)
            return watch_append(w, data, piece) < 0 ? 1 : 0;
        if (w->len == 0) {
            if (piece > KUBE_LINE_MAX) {
                rc_err_set(&w->err, -RC_ELIMIT, "", "watch event longer than %u bytes",
                           KUBE_LINE_MAX);
                return 1;
            }
            r = watch_line(w, data, piece);
        } else {
            r = watch_append(w, data, piece);
            if (r == 0)
                r = watch_line(w, w->line, w->len);
            w->len = 0;
        }
        if (r < 0)
            return 1;
        data += piece + 1;
        len -= piece + 1;
    }
    return w->stopped ? 1 : 0;
}

static void on_watch_done(void *arg, const struct http_response *resp)
{
    struct kube_watch *w = arg;
    struct kube_response kr;
    json_t *body = NULL;

    w->hr = NULL;
    w->k->stats.watches_ended++;
    if (resp->status == 401 && !w->k->closing)
        token_refresh(w->k, true); /* the next watch uses a rotated token */
    if (w->stopped) {
        watch_free(w);
        return;
    }
    if (!w->err.code && resp->status >= 200 && resp->status < 300 && w->len) {
        /* a last event without its newline */
        watch_line(w, w->line, w->len);
        w->len = 0;
        if (w->stopped) {
            watch_free(w);
            return;
        }
    }
    if (w->err.code) {
        resp_classify(&kr, 0, NULL, &w->err);
    } else {
        body = resp->status >= 300 ? parse_body(resp) : NULL;
        resp_classify(&kr, resp->status, body, &resp->err);
    }
    w->ended = true;
    watch_unlink(w); /* on_end may call kube_free(): w->k is not touched after it */
    w->on_end(w->arg, &kr);
    json_decref(body);
    free(w->line);
    free(w);
}

int kube_append_param(char *buf, size_t size, size_t *len, const char *name, const char *value)
{
    char esc[4096];
    int n;

    if (kube_escape(value, esc, sizeof(esc)) >= sizeof(esc))
        return -RC_ELIMIT;
    n = snprintf(buf + *len, size - *len, "&%s=%s", name, esc);
    if (n < 0 || (size_t)n >= size - *len)
        return -RC_ELIMIT;
    *len += (size_t)n;
    return 0;
}

int kube_watch(struct kube *k, const char *path, const struct kube_watch_opts *o,
               kube_event_cb on_event, kube_watch_end_cb on_end, void *arg,
               struct kube_watch **ret_w)
{
    static const struct kube_watch_opts none;
    char url[URL_MAX], auth[AUTH_HDR_MAX];
    const char *hdrs[2];
    size_t len, nh = 0;
    struct http_req_opts ho;
    struct kube_watch *w;
    struct rc_err e = {0};
    const char *a;
    int r;

    if (!o)
        o = &none;
    if (k->closing)
        return -RC_ETRANSIENT;
    if (strchr(path, '?'))
        return -RC_EINVAL;
    if ((r = build_url(k, path, url, sizeof(url))) < 0)
        return r;
    len = strlen(url);
    r = snprintf(url + len, sizeof(url) - len, "?watch=1");
    if (r < 0 || (size_t)r >= sizeof(url) - len)
        return -RC_ELIMIT;
    len += (size_t)r;
    if (o->resource_version && o->resource_version[0] &&
        (r = kube_append_param(url, sizeof(url), &len, "resourceVersion", o->resource_version)) < 0)
        return r;
    if (o->bookmarks &&
        (r = kube_append_param(url, sizeof(url), &len, "allowWatchBookmarks", "true")) < 0)
        return r;
    if (o->timeout_s > 0) {
        char t[24];

        snprintf(t, sizeof(t), "%d", o->timeout_s);
        if ((r = kube_append_param(url, sizeof(url), &len, "timeoutSeconds", t)) < 0)
            return r;
    }
    if (o->label_selector && o->label_selector[0] &&
        (r = kube_append_param(url, sizeof(url), &len, "labelSelector", o->label_selector)) < 0)
        return r;
    if (o->field_selector && o->field_selector[0] &&
        (r = kube_append_param(url, sizeof(url), &len, "fieldSelector", o->field_selector)) < 0)
        return r;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -RC_ENOMEM;
    w->k = k;
    w->on_event = on_event;
    w->on_end = on_end;
    w->arg = arg;
    hdrs[nh++] = "Accept: application/json";
    if ((a = auth_header(k, auth, sizeof(auth))))
        hdrs[nh++] = a;
    http_opts_for(k, &ho);
    ho.timeout_ms = ((long)(o->timeout_s > 0 ? o->timeout_s : 1800) + KUBE_WATCH_SLACK_S) * 1000;
    ho.tcp_keepalive = true;
    ho.on_data = on_watch_data;
    ho.data_arg = w;
    k->stats.requests++;
    r = http_request_ex(k->http, "GET", url, hdrs, nh, NULL, 0, &ho, on_watch_done, w, &w->hr, &e);
    memset(auth, 0, sizeof(auth));
    if (r < 0) {
        free(w);
        return r;
    }
    w->next = k->watches;
    if (k->watches)
        k->watches->prev = w;
    k->watches = w;
    if (ret_w)
        *ret_w = w;
    return 0;
}

void kube_watch_stop(struct kube_watch *w)
{
    if (!w || w->stopped || w->ended)
        return;
    w->stopped = true;
    if (w->in_event)
        return; /* on_watch_data aborts the transfer when the callback returns */
    if (w->hr)
        http_cancel(w->k->http, w->hr); /* on_watch_done frees w */
}

/* ---- lifecycle ---- */

static int copy_blob(char **dst, const char *src, size_t len)
{
    if (!src)
        return 0;
    *dst = xstrndup(src, len);
    return *dst ? 0 : -1;
}

static int copy_str(char **dst, const char *src)
{
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

struct kube *kube_new(uv_loop_t *loop, const struct kube_config *cfg, long timeout_ms,
                      struct rc_err *err)
{
    struct http_opts ho;
    struct kube *k;

    if (!cfg->server) {
        rc_err_set(err, -RC_EINVAL, "", "no Kubernetes server");
        return NULL;
    }
    k = calloc(1, sizeof(*k));
    if (!k) {
        rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        return NULL;
    }
    k->loop = loop;
    if (copy_str(&k->cfg.server, cfg->server) || copy_str(&k->cfg.namespace, cfg->namespace) ||
        copy_str(&k->cfg.context, cfg->context) || copy_str(&k->cfg.ca_file, cfg->ca_file) ||
        copy_blob(&k->cfg.ca_pem, cfg->ca_pem, cfg->ca_pem_len) ||
        copy_str(&k->cfg.cert_file, cfg->cert_file) ||
        copy_blob(&k->cfg.cert_pem, cfg->cert_pem, cfg->cert_pem_len) ||
        copy_str(&k->cfg.key_file, cfg->key_file) ||
        copy_blob(&k->cfg.key_pem, cfg->key_pem, cfg->key_pem_len) ||
        copy_str(&k->cfg.token, cfg->token) || copy_str(&k->cfg.token_file, cfg->token_file) ||
        copy_str(&k->token, cfg->token)) {
        rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        goto fail;
    }
    if (!k->cfg.namespace && copy_str(&k->cfg.namespace, "default")) {
        rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        goto fail;
    }
    k->cfg.ca_pem_len = cfg->ca_pem_len;
    k->cfg.cert_pem_len = cfg->cert_pem_len;
    k->cfg.key_pem_len = cfg->key_pem_len;
    memset(&ho, 0, sizeof(ho));
    ho.timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    ho.connect_timeout_ms = 10000;
    ho.max_host_connections = 32; /* each watch holds one */
    k->http = http_new(loop, &ho);
    if (!k->http) {
        rc_err_set(err, -RC_ENOMEM, "", "cannot initialise the HTTP client");
        goto fail;
    }
    return k;
fail:
    kube_config_release(&k->cfg);
    free(k->token);
    free(k);
    return NULL;
}

void kube_free(struct kube *k)
{
    if (!k)
        return;
    k->closing = true;
    /* Requests on the network and watches complete with "cancelled". */
    http_free(k->http);
    k->http = NULL;
    while (k->reqs) {
        struct kreq *q = k->reqs;
        struct kube_response kr;
        struct rc_err e = {0};

        rc_err_set(&e, -RC_ETRANSIENT, "", "cancelled");
        resp_classify(&kr, 0, NULL, &e);
        uv_timer_stop(&q->timer);
        kreq_finish(q, &kr);
    }
    kube_config_release(&k->cfg);
    if (k->token) {
        memset(k->token, 0, strlen(k->token));
        free(k->token);
    }
    free(k);
}

const char *kube_namespace(const struct kube *k)
{
    return k->cfg.namespace;
}

uv_loop_t *kube_loop(const struct kube *k)
{
    return k->loop;
}

const char *kube_server(const struct kube *k)
{
    return k->cfg.server;
}

const struct kube_stats *kube_stats(const struct kube *k)
{
    return &k->stats;
}
