/*
 * sim_eventgrid.c - Event Grid resource events from armsim into Azure Storage queues (Azurite),
 * azure-arm.md §9-§10.
 *
 * Admin (no auth):
 *   PUT    /_armsim/eventgrid/subscriptions/{name}
 *          {"scope": "/subscriptions/{s}[/resourceGroups/{rg}]",
 *           "queueUrl": "http://127.0.0.1:10001/devstoreaccount1/{queue}",
 *           "account": "devstoreaccount1", "key": "<base64 account key>",
 *           "encoding": "base64" | "json" (default base64), "tenantId"?,
 *           "filter"?: {"includedEventTypes"?: [...], "subjectBeginsWith"?, "subjectEndsWith"?}}
 *   GET    /_armsim/eventgrid/subscriptions[/{name}]   (keys are not echoed)
 *   DELETE /_armsim/eventgrid/subscriptions/{name}
 *   GET    /_armsim/eventgrid                          delivery counters
 * Every answered 2xx PUT/PATCH/DELETE/POST on /subscriptions/... whose resource lies in a
 * subscription's scope becomes one event (Microsoft.Resources.ResourceWriteSuccess for PUT/PATCH,
 * ResourceDeleteSuccess for DELETE, ResourceActionSuccess for POST actions), one event per queue
 * message, in the Event Grid schema of azure-arm.md §10.
 *
 * Decisions (others rely on them; NV = not verified against the real service):
 * - Events are emitted when ARM answers the request (also for 202 LROs), not when the operation
 *   finishes (NV). No events for GET/HEAD, failures, admin routes, or operation status URLs.
 * - Delivery: Put Message (POST {queueUrl}/messages, x-ms-version 2021-08-06) with Shared Key
 *   auth, on a delivery thread of this module (plain HTTP to loopback only; the armsim loop never
 *   blocks). The thread only touches this module's own queue, never the world. A missing queue
 *   is created (PUT {queueUrl}) and the message retried; a failed delivery is retried with a 1 s
 *   pause up to 5 times, then dropped (counted). At most EG_MAX_PENDING messages wait; beyond
 *   that new events are dropped (counted). The queue and counters are process-wide.
 * - operationName = "<Namespace>/<type>[/<childType>...]/write|delete|<action>/action"; a
 *   resource group is "Microsoft.Resources/subscriptions/resourceGroups/write". topic is the
 *   resource group id (subscription id for subscription-level resources); subject and resourceUri
 *   are the request path as sent (casing kept, like real events).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "armsim.h"
#include "simx.h"

#define EG_MAX_PENDING  10000
#define EG_MAX_TRIES    5
#define EG_MAX_URL      512
#define EG_MAX_KEY      256
#define EG_MAX_TEXT     (60 * 1024) /* queue messages are at most 64 KiB */
#define EG_XMS_VERSION  "2021-08-06"
#define EG_IO_TIMEOUT_S 5

/* ---- delivery thread ---- */

struct eg_msg {
    struct eg_msg *next;
    char url[EG_MAX_URL]; /* queue URL */
    char account[64];
    char key[EG_MAX_KEY];
    char *text; /* message text (already encoded), OWNED */
    int tries;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct eg_msg *head, *tail;
    size_t pending;
    bool started;
    unsigned long delivered, failed, dropped, queued;
    char last_error[EG_MAX_URL + 64];
} eg = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void msg_free(struct eg_msg *m)
{
    if (!m)
        return;
    free(m->text);
    free(m);
}

/* "http://host:port/path" -> parts; 0 or -1. */
static int split_url(const char *url, char *host, size_t hsize, char *port, size_t psize,
                     const char **ret_path)
{
    const char *h, *colon, *slash;
    size_t n;

    if (strncasecmp(url, "http://", 7))
        return -1;
    h = url + 7;
    slash = strchr(h, '/');
    if (!slash)
        return -1;
    colon = memchr(h, ':', (size_t)(slash - h));
    n = (size_t)((colon ? colon : slash) - h);
    if (n == 0 || n >= hsize)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    if (colon) {
        n = (size_t)(slash - colon - 1);
        if (n == 0 || n >= psize)
            return -1;
        memcpy(port, colon + 1, n);
        port[n] = '\0';
    } else {
        snprintf(port, psize, "80");
    }
    *ret_path = slash;
    return 0;
}

static int b64_decode(const char *in, unsigned char *out, size_t outsize, size_t *ret_n)
{
    size_t len = strlen(in);
    int n;

    if (len == 0 || len % 4 || (len / 4) * 3 > outsize)
        return -1;
    n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0)
        return -1;
    while (len > 0 && in[len - 1] == '=') {
        n--;
        len--;
    }
    *ret_n = (size_t)n;
    return 0;
}

/* Base64 of len bytes into a new string. */
static char *b64_encode(const unsigned char *in, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);

    if (out)
        EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return out;
}

/* One HTTP/1.1 request with Shared Key auth; returns the status code or -1. */
static int storage_request(const struct eg_msg *m, const char *method, const char *suffix,
                           const char *body)
{
    char host[256], port[16], date[64], sts[2048], auth[256], *req = NULL, resp[512], clen[24] = "";
    unsigned char key[EG_MAX_KEY], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t keylen = 0, blen = body ? strlen(body) : 0, off = 0, rlen;
    const char *path;
    char *sig = NULL;
    struct addrinfo hints = {0}, *ai = NULL;
    struct timeval tv = {EG_IO_TIMEOUT_S, 0};
    time_t now = time(NULL);
    struct tm tm;
    int fd = -1, status = -1, n;
    ssize_t k;

    if (split_url(m->url, host, sizeof(host), port, sizeof(port), &path) < 0 ||
        b64_decode(m->key, key, sizeof(key), &keylen) < 0)
        return -1;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    /* Content-Length is signed when non-zero; Content-Type only when sent. Azurite (path
     * style): CanonicalizedResource = /{account}{path}, and the path holds the account too. */
    if (blen)
        snprintf(clen, sizeof(clen), "%zu", blen);
    n = snprintf(sts, sizeof(sts),
                 "%s\n\n\n%s\n\n%s\n\n\n\n\n\n\nx-ms-date:%s\nx-ms-version:%s\n/%s%s%s", method,
                 clen, blen ? "application/xml" : "", date, EG_XMS_VERSION, m->account, path,
                 suffix);
    if (n < 0 || (size_t)n >= sizeof(sts))
        return -1;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)sts, strlen(sts), mac,
              &maclen))
        return -1;
    sig = b64_encode(mac, maclen);
    if (!sig)
        return -1;
    snprintf(auth, sizeof(auth), "SharedKey %s:%s", m->account, sig);
    free(sig);
    rlen = strlen(path) + strlen(suffix) + strlen(host) + blen + 1024;
    req = malloc(rlen);
    if (!req)
        return -1;
    n = snprintf(req, rlen,
                 "%s %s%s HTTP/1.1\r\nHost: %s:%s\r\nx-ms-date: %s\r\nx-ms-version: %s\r\n"
                 "Authorization: %s\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 method, path, suffix, host, port, date, EG_XMS_VERSION, auth,
                 blen ? "Content-Type: application/xml\r\n" : "", blen, body ? body : "");
    if (n < 0 || (size_t)n >= rlen)
        goto out;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
        goto out;
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0)
        goto out;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        goto out;
    while (off < (size_t)n) {
        k = send(fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
        if (k <= 0)
            goto out;
        off += (size_t)k;
    }
    off = 0;
    while (off < sizeof(resp) - 1) {
        k = recv(fd, resp + off, sizeof(resp) - 1 - off, 0);
        if (k <= 0)
            break;
        off += (size_t)k;
        if (memchr(resp, '\n', off))
            break;
    }
    resp[off] = '\0';
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
        status = -1;
out:
    if (fd >= 0)
        close(fd);
    if (ai)
        freeaddrinfo(ai);
    free(req);
    return status;
}

static int deliver(struct eg_msg *m)
{
    size_t tlen = strlen(m->text), blen = tlen + 128;
    char *body = malloc(blen);
    int st;

    if (!body)
        return -1;
    snprintf(body, blen,
             "<?xml version=\"1.0\" encoding=\"utf-8\"?><QueueMessage><MessageText>%s"
             "</MessageText></QueueMessage>",
             m->text);
    st = storage_request(m, "POST", "/messages", body);
    if (st == 404) {
        /* QueueNotFound: create it (201 created, 204 exists) and try again. */
        int c = storage_request(m, "PUT", "", NULL);

        if (c == 201 || c == 204)
            st = storage_request(m, "POST", "/messages", body);
    }
    free(body);
    return st;
}

static void *deliver_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct eg_msg *m;
        int st;

        pthread_mutex_lock(&eg.mu);
        while (!eg.head)
            pthread_cond_wait(&eg.cv, &eg.mu);
        m = eg.head;
        eg.head = m->next;
        if (!eg.head)
            eg.tail = NULL;
        eg.pending--;
        pthread_mutex_unlock(&eg.mu);

        st = deliver(m);
        pthread_mutex_lock(&eg.mu);
        if (st == 201) {
            eg.delivered++;
            msg_free(m);
            m = NULL;
        } else if (++m->tries >= EG_MAX_TRIES) {
            eg.failed++;
            snprintf(eg.last_error, sizeof(eg.last_error), "delivery to %s: HTTP %d", m->url, st);
            msg_free(m);
            m = NULL;
        } else {
            m->next = NULL; /* to the back, after a pause */
            if (eg.tail)
                eg.tail->next = m;
            else
                eg.head = m;
            eg.tail = m;
            eg.pending++;
        }
        pthread_mutex_unlock(&eg.mu);
        if (m)
            sleep(1);
    }
    return NULL;
}

/* Queues a message (text TAKEN). Called on the loop thread. */
static void enqueue(const char *url, const char *account, const char *key, char *text)
{
    struct eg_msg *m = calloc(1, sizeof(*m));
    pthread_t t;

    if (!m) {
        free(text);
        return;
    }
    snprintf(m->url, sizeof(m->url), "%s", url);
    snprintf(m->account, sizeof(m->account), "%s", account);
    snprintf(m->key, sizeof(m->key), "%s", key);
    m->text = text;
    pthread_mutex_lock(&eg.mu);
    if (!eg.started) {
        if (pthread_create(&t, NULL, deliver_main, NULL) == 0) {
            pthread_detach(t);
            eg.started = true;
        }
    }
    if (!eg.started || eg.pending >= EG_MAX_PENDING) {
        eg.dropped++;
        pthread_mutex_unlock(&eg.mu);
        msg_free(m);
        return;
    }
    if (eg.tail)
        eg.tail->next = m;
    else
        eg.head = m;
    eg.tail = m;
    eg.pending++;
    eg.queued++;
    pthread_cond_signal(&eg.cv);
    pthread_mutex_unlock(&eg.mu);
}

/* ---- events ---- */

/* XML-escapes s into a new string. */
static char *xml_escape(const char *s)
{
    size_t n = 0;
    const char *p;
    char *out, *o;

    for (p = s; *p; p++)
        n += (*p == '&') ? 5 : (*p == '<' || *p == '>') ? 4 : (*p == '"' || *p == '\'') ? 6 : 1;
    out = malloc(n + 1);
    if (!out)
        return NULL;
    for (p = s, o = out; *p; p++) {
        const char *rep = *p == '&'    ? "&amp;"
                          : *p == '<'  ? "&lt;"
                          : *p == '>'  ? "&gt;"
                          : *p == '"'  ? "&quot;"
                          : *p == '\'' ? "&apos;"
                                       : NULL;
        if (rep) {
            memcpy(o, rep, strlen(rep));
            o += strlen(rep);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* True when id equals scope or lies below it (case-insensitive, on a segment boundary). */
static bool in_scope(const char *id, const char *scope)
{
    size_t n = strlen(scope);

    while (n > 0 && scope[n - 1] == '/')
        n--;
    return n > 0 && !strncasecmp(id, scope, n) && (id[n] == '\0' || id[n] == '/');
}

/* The subscription's filter: includedEventTypes (exact) and subjectBeginsWith /
 * subjectEndsWith (case-insensitive), each optional. */
static bool filter_ok(const json_t *sub, const char *etype, const char *subject)
{
    const json_t *f = json_object_get(sub, "filter"),
                 *types = json_object_get(f, "includedEventTypes"), *t;
    const char *b = json_string_value(json_object_get(f, "subjectBeginsWith"));
    const char *e = json_string_value(json_object_get(f, "subjectEndsWith"));
    size_t i, n = strlen(subject);
    bool hit = json_array_size(types) == 0;

    json_array_foreach(types, i, t)
    {
        if (json_is_string(t) && !strcmp(json_string_value(t), etype))
            hit = true;
    }
    if (!hit)
        return false;
    if (b && strncasecmp(subject, b, strlen(b)))
        return false;
    if (e && (strlen(e) > n || strcasecmp(subject + n - strlen(e), e)))
        return false;
    return true;
}

/* Builds operationName for the resource path (segments seg[0..nseg)). */
static void operation_name(const struct as_req *r, int nseg, const char *verb, char *buf,
                           size_t size)
{
    size_t len = 0;
    int i, p = -1;

    buf[0] = '\0';
    for (i = 0; i < nseg; i++)
        if (!strcasecmp(r->seg[i], "providers"))
            p = i; /* the last provider section names the type */
    if (p < 0 || p + 1 >= nseg) {
        /* subscriptions/{s}/resourcegroups/{rg} or deeper without providers */
        snprintf(buf, size, "Microsoft.Resources/subscriptions%s/%s",
                 nseg >= 4 ? "/resourceGroups" : "", verb);
        return;
    }
    len = (size_t)snprintf(buf, size, "%s", r->seg[p + 1]);
    for (i = p + 2; i < nseg && len < size; i += 2)
        len += (size_t)snprintf(buf + len, size - len, "/%s", r->seg[i]);
    if (len < size)
        snprintf(buf + len, size - len, "/%s", verb);
}

static void on_request(struct armsim *sim, const struct as_req *r, const struct as_resp *w,
                       void *ud)
{
    json_t *subs, *s, *ev;
    const char *name, *etype, *verb;
    char uri[AS_ID_MAX], topic[AS_ID_MAX], opname[512], act[256], now[64], evid[40], prov[256],
        *text, *dump;
    int nseg = r->nseg, i;
    size_t len;
    bool post = !strcmp(r->method, "POST");

    (void)ud;
    if (w->status < 200 || w->status > 299 || nseg < 2 || strcasecmp(r->seg[0], "subscriptions"))
        return;
    if (!strcmp(r->method, "PUT") || !strcmp(r->method, "PATCH")) {
        etype = "Microsoft.Resources.ResourceWriteSuccess";
        verb = "write";
    } else if (!strcmp(r->method, "DELETE")) {
        etype = "Microsoft.Resources.ResourceDeleteSuccess";
        verb = "delete";
    } else if (post) {
        etype = "Microsoft.Resources.ResourceActionSuccess";
        if (nseg < 3)
            return;
        snprintf(act, sizeof(act), "%s/action", r->seg[nseg - 1]);
        verb = act;
        nseg--; /* the action names no resource */
    } else {
        return;
    }
    subs = json_object_get(simx_state_peek(sim, "eventgrid"), "subs");
    if (!json_object_size(subs))
        return;
    /* The resource URI: the path up to nseg segments, as sent. */
    len = 0;
    uri[0] = '\0';
    for (i = 0; i < nseg && len < sizeof(uri); i++)
        len += (size_t)snprintf(uri + len, sizeof(uri) - len, "/%s", r->seg[i]);
    if (len >= sizeof(uri))
        return;
    if (nseg >= 4 && !strcasecmp(r->seg[2], "resourceGroups"))
        snprintf(topic, sizeof(topic), "/subscriptions/%s/resourceGroups/%s", r->seg[1], r->seg[3]);
    else
        snprintf(topic, sizeof(topic), "/subscriptions/%s", r->seg[1]);
    operation_name(r, nseg, verb, opname, sizeof(opname));
    /* resourceProvider = the namespace part of operationName */
    len = strcspn(opname, "/");
    if (len >= sizeof(prov))
        len = sizeof(prov) - 1;
    memcpy(prov, opname, len);
    prov[len] = '\0';
    json_object_foreach(subs, name, s)
    {
        const char *scope = json_string_value(json_object_get(s, "scope"));
        const char *enc = json_string_value(json_object_get(s, "encoding"));
        const char *crid = as_header((struct as_req *)r, "x-ms-client-request-id");
        char *url;

        if (!scope || !in_scope(uri, scope) || !filter_ok(s, etype, uri))
            continue;
        as_uuid(sim, evid, sizeof(evid));
        as_time_format(as_now(sim), now, sizeof(now));
        if (strlen(now) > 27 && !strcmp(now + 27, "+00:00"))
            snprintf(now + 27, sizeof(now) - 27, "Z");
        {
            const char *apiv = as_query(r, "api-version");
            char pq[AS_ID_MAX + 64];

            if (apiv && strlen(apiv) < 40)
                snprintf(pq, sizeof(pq), "%s?api-version=%s", r->path, apiv);
            else
                snprintf(pq, sizeof(pq), "%s", r->path);
            url = as_url(r, pq);
        }
        ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:{s:s, s:s, s:{s:s}}, s:{s:s}, s:s, "
                       "s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s}, s:s, s:s}",
                       "topic", topic, "subject", uri, "eventType", etype, "eventTime", now, "id",
                       evid, "data", "authorization", "scope", uri, "action", opname, "evidence",
                       "role", "Contributor", "claims", "appid", r->principal ? r->principal : "",
                       "correlationId", r->correlation_id ? r->correlation_id : "", "httpRequest",
                       "clientRequestId", crid ? crid : "", "clientIpAddress", "127.0.0.1",
                       "method", r->method, "url", url ? url : "", "resourceProvider", prov,
                       "resourceUri", uri, "operationName", opname, "status", "Succeeded",
                       "subscriptionId", r->seg[1], "tenantId",
                       json_string_value(json_object_get(s, "tenantId"))
                           ? json_string_value(json_object_get(s, "tenantId"))
                           : "",
                       "dataVersion", "2", "metadataVersion", "1");
        free(url);
        if (!ev)
            continue;
        dump = json_dumps(ev, JSON_COMPACT);
        json_decref(ev);
        if (!dump || strlen(dump) > EG_MAX_TEXT) {
            free(dump);
            continue;
        }
        if (enc && !strcmp(enc, "json"))
            text = xml_escape(dump);
        else
            text = b64_encode((const unsigned char *)dump, strlen(dump));
        free(dump);
        if (text)
            enqueue(json_string_value(json_object_get(s, "queueUrl")),
                    json_string_value(json_object_get(s, "account")),
                    json_string_value(json_object_get(s, "key")), text);
    }
}

/* ---- admin ---- */

static json_t *public_sub(const json_t *s)
{
    json_t *c = json_deep_copy(s);

    if (c)
        json_object_del(c, "key");
    return c;
}

static void admin_subs(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    const char *name = as_param(r, "name");
    json_t *st = simx_state(sim, "eventgrid"), *subs, *out, *s, *v;
    const char *k, *scope, *url, *acct, *key, *enc, *tenant;
    const json_t *filter;
    unsigned char raw[EG_MAX_KEY];
    size_t rawn;
    char host[256], port[16];
    const char *path;

    if (!st) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    if (!json_object_get(st, "subs"))
        json_object_set_new(st, "subs", json_object());
    subs = json_object_get(st, "subs");
    if (!strcmp(r->method, "GET")) {
        if (name) {
            s = json_object_get(subs, name);
            if (!s) {
                as_resp_error(w, 404, "NotFound", NULL, "no event subscription %s", name);
                return;
            }
            as_resp_json(w, 200, public_sub(s));
            return;
        }
        out = json_object();
        json_object_foreach(subs, k, v)
        {
            json_object_set_new(out, k, public_sub(v));
        }
        as_resp_json(w, 200, out);
        return;
    }
    if (!name) {
        as_resp_error(w, 405, "MethodNotAllowed", NULL, "name the subscription");
        return;
    }
    if (!strcmp(r->method, "DELETE")) {
        if (json_object_del(subs, name) < 0) {
            as_resp_empty(w, 204);
            return;
        }
        as_resp_empty(w, 200);
        return;
    }
    if (strcmp(r->method, "PUT")) {
        as_resp_error(w, 405, "MethodNotAllowed", NULL, "PUT, GET or DELETE");
        return;
    }
    if (!simx_body_object(r, w, false))
        return;
    scope = json_string_value(json_object_get(r->json, "scope"));
    url = json_string_value(json_object_get(r->json, "queueUrl"));
    acct = json_string_value(json_object_get(r->json, "account"));
    key = json_string_value(json_object_get(r->json, "key"));
    enc = json_string_value(json_object_get(r->json, "encoding"));
    tenant = json_string_value(json_object_get(r->json, "tenantId"));
    filter = json_object_get(r->json, "filter");
    if (!acct)
        acct = "devstoreaccount1";
    if (!scope || strncasecmp(scope, "/subscriptions/", 15) || strlen(scope) >= AS_ID_MAX) {
        as_resp_error(w, 400, "BadRequest", "scope",
                      "scope must be a subscription or "
                      "resource group id");
        return;
    }
    if (!url || strlen(url) >= EG_MAX_URL ||
        split_url(url, host, sizeof(host), port, sizeof(port), &path) < 0 || strlen(path) < 2) {
        as_resp_error(w, 400, "BadRequest", "queueUrl",
                      "queueUrl must be http://host:port/{account}/{queue} (Azurite path style)");
        return;
    }
    if (!key || strlen(key) >= EG_MAX_KEY || b64_decode(key, raw, sizeof(raw), &rawn) < 0) {
        as_resp_error(w, 400, "BadRequest", "key", "key must be the base64 account key");
        return;
    }
    if (strlen(acct) >= 64 || (enc && strcmp(enc, "json") && strcmp(enc, "base64")) ||
        (tenant && strlen(tenant) > 64)) {
        as_resp_error(w, 400, "BadRequest", NULL, "bad account, encoding or tenantId");
        return;
    }
    s = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "scope", scope, "queueUrl", url, "account",
                  acct, "key", key, "encoding", enc ? enc : "base64", "tenantId",
                  tenant ? tenant : "");
    if (!s) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    if (filter) {
        const json_t *types = json_object_get(filter, "includedEventTypes");
        const json_t *b = json_object_get(filter, "subjectBeginsWith");
        const json_t *e = json_object_get(filter, "subjectEndsWith");

        if (!json_is_object(filter) || (types && !json_is_array(types)) ||
            json_array_size(types) > 32 || (b && !json_is_string(b)) || (e && !json_is_string(e)) ||
            json_string_length(b) > AS_ID_MAX || json_string_length(e) > AS_ID_MAX) {
            json_decref(s);
            as_resp_error(w, 400, "BadRequest", "filter",
                          "filter takes includedEventTypes (array of strings), subjectBeginsWith "
                          "and subjectEndsWith");
            return;
        }
        json_object_set_new(s, "filter", json_deep_copy(filter));
    }
    json_object_set_new(subs, name, s);
    as_resp_json(w, 200, public_sub(s));
}

static void admin_stats(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    json_t *o;

    (void)sim;
    (void)r;
    pthread_mutex_lock(&eg.mu);
    o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:s}", "queued", (json_int_t)eg.queued, "delivered",
                  (json_int_t)eg.delivered, "failed", (json_int_t)eg.failed, "dropped",
                  (json_int_t)eg.dropped, "pending", (json_int_t)eg.pending, "lastError",
                  eg.last_error);
    pthread_mutex_unlock(&eg.mu);
    as_resp_json(w, 200, o);
}

void sim_eventgrid_init(struct armsim *sim);

void sim_eventgrid_init(struct armsim *sim)
{
    as_on_request(sim, on_request, NULL);
    as_route(sim, "GET", "/_armsim/eventgrid", admin_stats, AS_ADMIN, NULL, NULL);
    as_route(sim, "GET", "/_armsim/eventgrid/subscriptions", admin_subs, AS_ADMIN, NULL, NULL);
    as_route(sim, "*", "/_armsim/eventgrid/subscriptions/{name}", admin_subs, AS_ADMIN, NULL, NULL);
}
