/* az_cred.c - see az_cred.h. */
#include "az_cred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ctl_source.h"

#define TOKEN_MAX         16384
#define ASSERTION_MAX     (64 * 1024)
#define REFRESH_MARGIN_MS (5 * 60 * 1000)

struct waiter {
    az_token_cb cb;
    void *arg;
    struct waiter *next;
};

struct az_cred {
    uv_loop_t *loop;
    struct http *http;
    enum az_cred_kind kind;
    char *tenant_id, *client_id, *client_secret, *token_file, *authority, *imds, *scope;
    char *token;
    uint64_t refresh_at; /* uv_now() ms after which the token is refreshed */
    bool fetching;
    struct waiter *waiters, **tail;
    uv_timer_t deliver;
    bool closing;
};

const char *az_cred_kind_name(enum az_cred_kind kind)
{
    switch (kind) {
    case AZ_CRED_SECRET:
        return "client-secret";
    case AZ_CRED_FEDERATED:
        return "federated";
    default:
        return "managed-identity";
    }
}

static const char *env(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

void az_cred_config_from_env(struct az_cred_config *cfg, const char *default_authority,
                             const char *default_imds, const char *scope)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->tenant_id = env("AZURE_TENANT_ID");
    cfg->client_id = env("AZURE_CLIENT_ID");
    cfg->client_secret = env("AZURE_CLIENT_SECRET");
    cfg->federated_token_file = env("AZURE_FEDERATED_TOKEN_FILE");
    cfg->authority_host = env("AZURE_AUTHORITY_HOST");
    if (!cfg->authority_host)
        cfg->authority_host = default_authority;
    cfg->imds_endpoint = default_imds;
    cfg->scope = scope;
    if (cfg->tenant_id && cfg->client_id && cfg->client_secret)
        cfg->kind = AZ_CRED_SECRET;
    else if (cfg->tenant_id && cfg->client_id && cfg->federated_token_file)
        cfg->kind = AZ_CRED_FEDERATED;
    else
        cfg->kind = AZ_CRED_IMDS;
}

static char *dup_or_null(const char *s, bool *ok)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

static void free_secret(char *s)
{
    if (s) {
        /* explicit_bzero: the compiler may not drop it as a dead store. */
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void on_deliver(uv_timer_t *t);

struct az_cred *az_cred_new(uv_loop_t *loop, struct http *h, const struct az_cred_config *cfg)
{
    struct az_cred *c = calloc(1, sizeof(*c));
    bool ok = true;
    size_t n;

    if (!c)
        return NULL;
    c->loop = loop;
    c->http = h;
    c->kind = cfg->kind;
    c->tenant_id = dup_or_null(cfg->tenant_id, &ok);
    c->client_id = dup_or_null(cfg->client_id, &ok);
    c->client_secret = dup_or_null(cfg->client_secret, &ok);
    c->token_file = dup_or_null(cfg->federated_token_file, &ok);
    c->authority = dup_or_null(cfg->authority_host, &ok);
    c->imds = dup_or_null(cfg->imds_endpoint ? cfg->imds_endpoint : "http://169.254.169.254", &ok);
    c->scope = dup_or_null(cfg->scope, &ok);
    c->tail = &c->waiters;
    /* Join host and tenant without "//" (AZURE_AUTHORITY_HOST has a trailing slash). */
    if (c->authority && (n = strlen(c->authority)) > 0 && c->authority[n - 1] == '/')
        c->authority[n - 1] = '\0';
    if (!ok || !c->scope || uv_timer_init(loop, &c->deliver) != 0) {
        free(c->tenant_id);
        free(c->client_id);
        free_secret(c->client_secret);
        free(c->token_file);
        free(c->authority);
        free(c->imds);
        free(c->scope);
        free(c);
        return NULL;
    }
    c->deliver.data = c;
    return c;
}

static void deliver_all(struct az_cred *c, const char *token, const struct rc_err *err)
{
    struct waiter *w = c->waiters;

    c->waiters = NULL;
    c->tail = &c->waiters;
    while (w) {
        struct waiter *next = w->next;

        w->cb(w->arg, token, err);
        free(w);
        w = next;
    }
}

static void on_cred_closed(uv_handle_t *handle)
{
    struct az_cred *c = handle->data;

    free(c->tenant_id);
    free(c->client_id);
    free_secret(c->client_secret);
    free(c->token_file);
    free(c->authority);
    free(c->imds);
    free(c->scope);
    free_secret(c->token);
    free(c);
}

void az_cred_free(struct az_cred *c)
{
    struct rc_err err = {0};

    if (!c || c->closing)
        return;
    c->closing = true;
    rc_err_set(&err, -RC_ETRANSIENT, "", "credential closed");
    deliver_all(c, NULL, &err);
    uv_timer_stop(&c->deliver);
    uv_close((uv_handle_t *)&c->deliver, on_cred_closed);
}

const char *az_cred_cached(struct az_cred *c)
{
    if (c->token && uv_now(c->loop) < c->refresh_at)
        return c->token;
    return NULL;
}

void az_cred_invalidate(struct az_cred *c)
{
    free_secret(c->token);
    c->token = NULL;
}

static void on_deliver(uv_timer_t *t)
{
    struct az_cred *c = t->data;
    const char *tok = az_cred_cached(c);

    if (tok)
        deliver_all(c, tok, NULL);
}

/* Token response: v2 has a numeric expires_in, IMDS strings (azure-arm.md §1). */
static int parse_token(struct az_cred *c, const struct http_response *resp, struct rc_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(resp->body, resp->body_len, 0, &jerr);
    json_t *tok, *exp;
    long long expires_in = 0;
    uint64_t life;
    int r = 0;

    if (!root || !json_is_object(root)) {
        r = rc_err_set(err, -RC_EPROTO, "", "token response is not a JSON object");
        goto out;
    }
    if (resp->status != 200) {
        const char *e = json_string_value(json_object_get(root, "error"));

        r = rc_err_set(err,
                       resp->status >= 500 || resp->status == 429 ? -RC_ETRANSIENT : -RC_EPROTO, "",
                       "token request failed: HTTP %ld %s", resp->status, e ? e : "");
        err->http_status = (int)resp->status;
        goto out;
    }
    tok = json_object_get(root, "access_token");
    exp = json_object_get(root, "expires_in");
    if (json_is_integer(exp))
        expires_in = json_integer_value(exp);
    else if (json_is_string(exp))
        expires_in = strtoll(json_string_value(exp), NULL, 10);
    if (!json_is_string(tok) || json_string_length(tok) == 0 ||
        json_string_length(tok) > TOKEN_MAX || expires_in <= 0) {
        r = rc_err_set(err, -RC_EPROTO, "", "token response lacks access_token or expires_in");
        goto out;
    }
    free_secret(c->token);
    c->token = strdup(json_string_value(tok));
    if (!c->token) {
        r = rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        goto out;
    }
    life = (uint64_t)expires_in * 1000;
    c->refresh_at =
        uv_now(c->loop) + (life > 2 * REFRESH_MARGIN_MS ? life - REFRESH_MARGIN_MS : life / 2);
out:
    json_decref(root);
    return r;
}

static void on_token(void *arg, const struct http_response *resp)
{
    struct az_cred *c = arg;
    struct rc_err err = {0};

    c->fetching = false;
    if (resp->err.code) {
        err = resp->err;
        rc_err_set(&err, -RC_ETRANSIENT, "", "token request failed: %s", resp->err.msg);
        deliver_all(c, NULL, &err);
        return;
    }
    if (parse_token(c, resp, &err) < 0) {
        deliver_all(c, NULL, &err);
        return;
    }
    deliver_all(c, c->token, NULL);
}

/* Appends "&name=value" (URL-encoded) to a form body. */
static int form_add(char *buf, size_t size, size_t *len, const char *name, const char *value)
{
    char *enc = curl_easy_escape(NULL, value, 0);
    int n;

    if (!enc)
        return -RC_ENOMEM;
    n = snprintf(buf + *len, size - *len, "%s%s=%s", *len ? "&" : "", name, enc);
    curl_free(enc);
    if (n < 0 || (size_t)n >= size - *len)
        return -RC_ELIMIT;
    *len += (size_t)n;
    return 0;
}

static int fetch(struct az_cred *c, struct rc_err *err)
{
    static const char *const form_hdr[] = {"Content-Type: application/x-www-form-urlencoded",
                                           "Accept: application/json"};
    static const char *const imds_hdr[] = {"Metadata: true"};
    char url[2048];
    int r;

    if (c->kind == AZ_CRED_IMDS) {
        char resource[512];
        char *enc;
        size_t n = strlen(c->scope);

        /* IMDS takes the v1 resource, not the scope: "https://management.azure.com/"
         * from "https://management.azure.com/.default". */
        if (n > 8 && strcmp(c->scope + n - 8, ".default") == 0)
            snprintf(resource, sizeof(resource), "%.*s", (int)(n - 8), c->scope);
        else
            snprintf(resource, sizeof(resource), "%s", c->scope);
        enc = curl_easy_escape(NULL, resource, 0);
        if (!enc)
            return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        r = snprintf(url, sizeof(url),
                     "%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=%s%s%s",
                     c->imds, enc, c->client_id ? "&client_id=" : "",
                     c->client_id ? c->client_id : "");
        curl_free(enc);
        if (r < 0 || (size_t)r >= sizeof(url))
            return rc_err_set(err, -RC_ELIMIT, "", "IMDS URL too long");
        return http_request(c->http, "GET", url, imds_hdr, 1, NULL, 0, on_token, c, err);
    } else {
        char *body = malloc(ASSERTION_MAX + 4096);
        size_t len = 0;

        if (!body)
            return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        r = snprintf(url, sizeof(url), "%s/%s/oauth2/v2.0/token", c->authority, c->tenant_id);
        if (r < 0 || (size_t)r >= sizeof(url)) {
            free(body);
            return rc_err_set(err, -RC_ELIMIT, "", "token URL too long");
        }
        r = form_add(body, ASSERTION_MAX + 4096, &len, "client_id", c->client_id);
        if (r == 0)
            r = form_add(body, ASSERTION_MAX + 4096, &len, "scope", c->scope);
        if (r == 0)
            r = form_add(body, ASSERTION_MAX + 4096, &len, "grant_type", "client_credentials");
        if (r == 0 && c->kind == AZ_CRED_SECRET) {
            r = form_add(body, ASSERTION_MAX + 4096, &len, "client_secret", c->client_secret);
        } else if (r == 0) {
            char *assertion = NULL;
            size_t alen = 0;

            r = ctl_read_file(c->token_file, ASSERTION_MAX, &assertion, &alen, err);
            if (r == 0) {
                while (alen && (assertion[alen - 1] == '\n' || assertion[alen - 1] == '\r'))
                    assertion[--alen] = '\0';
                r = form_add(body, ASSERTION_MAX + 4096, &len, "client_assertion_type",
                             "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
                if (r == 0)
                    r = form_add(body, ASSERTION_MAX + 4096, &len, "client_assertion", assertion);
                free_secret(assertion);
            } else {
                free(body);
                return rc_err_set(err, -RC_ETRANSIENT, "", "federated token file: %s", err->msg);
            }
        }
        if (r == 0)
            r = http_request(c->http, "POST", url, form_hdr, 2, body, len, on_token, c, err);
        else
            rc_err_set(err, r, "", "cannot build the token request");
        explicit_bzero(body, len);
        free(body);
        return r;
    }
}

int az_cred_token(struct az_cred *c, az_token_cb cb, void *arg, struct rc_err *err)
{
    struct waiter *w;

    if (c->closing)
        return rc_err_set(err, -RC_ETRANSIENT, "", "credential closed");
    w = calloc(1, sizeof(*w));
    if (!w)
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    w->cb = cb;
    w->arg = arg;
    if (az_cred_cached(c)) {
        *c->tail = w;
        c->tail = &w->next;
        uv_timer_start(&c->deliver, on_deliver, 0, 0);
        return 0;
    }
    if (!c->fetching) {
        int r = fetch(c, err);

        if (r < 0) {
            free(w);
            return r;
        }
        c->fetching = true;
    }
    *c->tail = w;
    c->tail = &w->next;
    return 0;
}
