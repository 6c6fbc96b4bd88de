/*
 * api.c - kubesim's API: resource types, discovery, OpenAPI stubs, CRUD, patch, subresources,
 * selectors, Table output, watch fan-out and the admin endpoints (kubesim.h has the contract).
 *
 * Ownership: the type registry owns its strings and the CRD-derived schema/columns (deep copies).
 * Watches are kept in a singly linked list; each owns its filter strings and output buffer.
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "kubesim.h"

#define MAX_TYPES 64
#define VERBS                                                                                      \
    "[\"delete\",\"deletecollection\",\"get\",\"list\",\"patch\",\"create\",\"update\",\"watch\"]"

struct ks_rtype {
    char key[300]; /* "<group>/<plural>" */
    char *group, *version, *plural, *singular, *kind, *list_kind;
    bool namespaced, builtin, status_sub, scale_sub, generation;
    char *spec_repl, *status_repl, *label_sel; /* scale paths (".spec.replicas") */
    json_t *short_names, *categories;          /* arrays, OWNED */
    json_t *schema;                            /* openAPIV3Schema, OWNED, NULL for built-ins */
    json_t *columns;                           /* additionalPrinterColumns, OWNED or NULL */
};

static struct ks_rtype *types[MAX_TYPES];
static int ntypes;
static uint64_t rnd_state;
static uint64_t nrequests;
/* The last DENIED_MAX refused requests, for GET /_kubesim/denied (tests assert that a
 * controller running under its ServiceAccount never needed more than its role). */
#define DENIED_MAX 200
static json_t *denied;
static uint64_t ndenied;
/* The last REQLOG_MAX requests (admin /_kubesim/ ones excluded), for GET /_kubesim/requests
 * (benches count a controller's requests by verb and time its writes). Allocated at the first
 * request; every string bounded (truncated). */
#define REQLOG_MAX 10000
struct reqlog {
    uint64_t seq;
    int64_t start_us, done_us; /* CLOCK_REALTIME: dispatch start, dispatch end (write committed) */
    uint64_t rv_after;         /* store RV after the request */
    bool changed;              /* the request moved the store's RV (a write that changed bytes) */
    int status;
    char method[8];
    char verb[20];     /* get list watch create update patch delete deletecollection, or
                          the lower-case method for non-resource paths */
    char resource[80]; /* "plural[/sub]", "" for non-resource paths */
    char path[400];    /* path?query as received (decoded) */
    char ua[128];      /* User-Agent, "" when absent */
};
static struct reqlog *reqlog;
static uint64_t nreqlog; /* requests logged so far; the next seq */
/* What ks_dispatch resolved for the request being dispatched (verb, resource). */
static char cur_verb[20], cur_resource[80];
static void reqlog_get(struct ks_req *r, struct ks_resp *w);

/* ------------------------------------------------------------------ small helpers */

const char *ks_query(const struct ks_req *r, const char *name)
{
    for (int i = 0; i < r->nquery; i++)
        if (strcmp(r->query[i].name, name) == 0)
            return r->query[i].value;
    return NULL;
}

static bool qbool(const struct ks_req *r, const char *name)
{
    const char *v = ks_query(r, name);
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcmp(v, "t") || !strcmp(v, "T"));
}

static uint64_t rnd(void)
{
    if (!rnd_state) {
        int fd = open("/dev/urandom", O_RDONLY);
        if (fd >= 0) {
            if (read(fd, &rnd_state, sizeof(rnd_state)) != (ssize_t)sizeof(rnd_state))
                rnd_state = 0;
            close(fd);
        }
        rnd_state ^= (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull;
        if (!rnd_state)
            rnd_state = 1;
    }
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void uuid(char *buf, size_t size)
{
    uint64_t a = rnd(), b = rnd();
    snprintf(buf, size, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
             (unsigned)((b >> 48) & 0x3fff) | 0x8000, (unsigned long long)(b & 0xffffffffffffull));
}

static void rfc3339(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int64_t parse_rfc3339(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return -1;
    return (int64_t)timegm(&tm) * 1000;
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static json_t *meta(json_t *obj)
{
    json_t *m = json_object_get(obj, "metadata");
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(obj, "metadata", m);
    }
    return m;
}

static const char *mstr(const json_t *obj, const char *k)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), k));
}

static void set_rv(json_t *obj, uint64_t rv)
{
    char b[32];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)rv);
    json_object_set_new(meta(obj), "resourceVersion", json_string(b));
}

static void resp_json(struct ks_resp *w, int status, json_t *body)
{
    json_decref(w->json);
    w->status = status;
    w->json = body;
}

void ks_resp_release(struct ks_resp *w)
{
    json_decref(w->json);
    json_decref(w->warnings);
    free(w->raw);
    ks_watch_free(w->watch);
    memset(w, 0, sizeof(*w));
}

static void status_err(struct ks_resp *w, int code, const char *reason, json_t *details,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void status_err(struct ks_resp *w, int code, const char *reason, json_t *details,
                       const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *s =
        json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
                  "metadata", "status", "Failure", "message", msg, "reason", reason, "code", code);
    if (s && details)
        json_object_set(s, "details", details);
    json_decref(details);
    resp_json(w, code, s);
}

/* ------------------------------------------------------------------ types */

static json_t *make_details(const struct ks_rtype *rt, const char *name)
{
    json_t *d = json_object();
    if (name)
        json_object_set_new(d, "name", json_string(name));
    if (rt && *rt->group)
        json_object_set_new(d, "group", json_string(rt->group));
    if (rt)
        json_object_set_new(d, "kind", json_string(rt->plural));
    return d;
}

/* "workerpools.azpool.dev" or "configmaps" */
static void qname(const struct ks_rtype *rt, char *buf, size_t size)
{
    if (*rt->group)
        snprintf(buf, size, "%s.%s", rt->plural, rt->group);
    else
        snprintf(buf, size, "%s", rt->plural);
}

static void api_version(const struct ks_rtype *rt, char *buf, size_t size)
{
    if (*rt->group)
        snprintf(buf, size, "%s/%s", rt->group, rt->version);
    else
        snprintf(buf, size, "%s", rt->version);
}

static void rtype_free(struct ks_rtype *rt)
{
    if (!rt)
        return;
    free(rt->group);
    free(rt->version);
    free(rt->plural);
    free(rt->singular);
    free(rt->kind);
    free(rt->list_kind);
    free(rt->spec_repl);
    free(rt->status_repl);
    free(rt->label_sel);
    json_decref(rt->short_names);
    json_decref(rt->categories);
    json_decref(rt->schema);
    json_decref(rt->columns);
    free(rt);
}

static struct ks_rtype *find_type(const char *group, const char *version, const char *plural)
{
    for (int i = 0; i < ntypes; i++) {
        struct ks_rtype *t = types[i];
        if (!strcmp(t->group, group) && (!version || !strcmp(t->version, version)) &&
            !strcmp(t->plural, plural))
            return t;
    }
    return NULL;
}

static struct ks_rtype *find_key(const char *key)
{
    for (int i = 0; i < ntypes; i++)
        if (!strcmp(types[i]->key, key))
            return types[i];
    return NULL;
}

/* Adds or replaces (by group/plural); TAKES rt. */
static int register_type(struct ks_rtype *rt)
{
    snprintf(rt->key, sizeof(rt->key), "%s/%s", rt->group, rt->plural);
    for (int i = 0; i < ntypes; i++) {
        if (!strcmp(types[i]->key, rt->key)) {
            rtype_free(types[i]);
            types[i] = rt;
            return 0;
        }
    }
    if (ntypes == MAX_TYPES) {
        rtype_free(rt);
        return -1;
    }
    types[ntypes++] = rt;
    return 0;
}

static void unregister_type(const char *key)
{
    for (int i = 0; i < ntypes; i++) {
        if (!strcmp(types[i]->key, key)) {
            rtype_free(types[i]);
            memmove(types + i, types + i + 1, (size_t)(ntypes - i - 1) * sizeof(*types));
            ntypes--;
            return;
        }
    }
}

static void builtin(const char *group, const char *version, const char *plural,
                    const char *singular, const char *kind, bool namespaced, const char *shorts)
{
    struct ks_rtype *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return;
    char lk[128];
    snprintf(lk, sizeof(lk), "%sList", kind);
    rt->group = xstrdup(group);
    rt->version = xstrdup(version);
    rt->plural = xstrdup(plural);
    rt->singular = xstrdup(singular);
    rt->kind = xstrdup(kind);
    rt->list_kind = xstrdup(lk);
    rt->namespaced = namespaced;
    rt->builtin = true;
    rt->short_names = json_array();
    if (shorts) {
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", shorts);
        char *save = NULL;
        for (char *s = strtok_r(buf, " ", &save); s; s = strtok_r(NULL, " ", &save))
            json_array_append_new(rt->short_names, json_string(s));
    }
    rt->categories = json_array();
    rt->status_sub = !strcmp(plural, "customresourcedefinitions") ||
                     !strcmp(plural, "namespaces") || !strcmp(plural, "deployments") ||
                     !strcmp(plural, "services") || !strcmp(plural, "pods") ||
                     !strcmp(plural, "poddisruptionbudgets");
    rt->generation = !strcmp(plural, "customresourcedefinitions") || !strcmp(plural, "deployments");
    /* printer columns of the real server for the built-ins people look at */
    if (!strcmp(plural, "events"))
        rt->columns = json_loads(
            "[{\"name\":\"Last Seen\",\"type\":\"date\",\"jsonPath\":\".lastTimestamp\"},"
            "{\"name\":\"Type\",\"type\":\"string\",\"jsonPath\":\".type\"},"
            "{\"name\":\"Reason\",\"type\":\"string\",\"jsonPath\":\".reason\"},"
            "{\"name\":\"Object\",\"type\":\"string\",\"jsonPath\":\".involvedObject.name\"},"
            "{\"name\":\"Count\",\"type\":\"integer\",\"jsonPath\":\".count\"},"
            "{\"name\":\"Message\",\"type\":\"string\",\"jsonPath\":\".message\"}]",
            0, NULL);
    else if (!strcmp(plural, "namespaces"))
        rt->columns = json_loads(
            "[{\"name\":\"Status\",\"type\":\"string\",\"jsonPath\":\".status.phase\"},"
            "{\"name\":\"Age\",\"type\":\"date\",\"jsonPath\":\".metadata.creationTimestamp\"}]",
            0, NULL);
    else if (!strcmp(plural, "leases"))
        rt->columns = json_loads(
            "[{\"name\":\"Holder\",\"type\":\"string\",\"jsonPath\":\".spec.holderIdentity\"},"
            "{\"name\":\"Age\",\"type\":\"date\",\"jsonPath\":\".metadata.creationTimestamp\"}]",
            0, NULL);
    if (!strcmp(plural, "deployments")) {
        rt->scale_sub = true;
        rt->spec_repl = xstrdup(".spec.replicas");
        rt->status_repl = xstrdup(".status.replicas");
    }
    register_type(rt);
}

/* Builds a type from a stored CRD; returns NULL when it serves nothing usable. */
static struct ks_rtype *type_from_crd(const json_t *crd)
{
    const json_t *spec = json_object_get(crd, "spec");
    const json_t *names = json_object_get(spec, "names");
    const json_t *vers = json_object_get(spec, "versions");
    const json_t *ver = NULL, *v;
    size_t i;
    json_array_foreach(vers, i, v)
    {
        if (json_is_true(json_object_get(v, "served")) &&
            (!ver || json_is_true(json_object_get(v, "storage"))))
            ver = v;
    }
    const char *group = json_string_value(json_object_get(spec, "group"));
    const char *plural = json_string_value(json_object_get(names, "plural"));
    const char *kind = json_string_value(json_object_get(names, "kind"));
    if (!ver || !group || !plural || !kind)
        return NULL;
    struct ks_rtype *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return NULL;
    const char *singular = json_string_value(json_object_get(names, "singular"));
    const char *lk = json_string_value(json_object_get(names, "listKind"));
    char lkb[256], sb[256];
    snprintf(lkb, sizeof(lkb), "%sList", kind);
    snprintf(sb, sizeof(sb), "%s", kind);
    for (char *p = sb; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    rt->group = xstrdup(group);
    rt->version = xstrdup(json_string_value(json_object_get(ver, "name")));
    rt->plural = xstrdup(plural);
    rt->singular = xstrdup(singular ? singular : sb);
    rt->kind = xstrdup(kind);
    rt->list_kind = xstrdup(lk ? lk : lkb);
    const char *scope = json_string_value(json_object_get(spec, "scope"));
    rt->namespaced = !scope || strcmp(scope, "Cluster") != 0;
    json_t *sn = json_object_get(names, "shortNames");
    rt->short_names = json_is_array(sn) ? json_deep_copy(sn) : json_array();
    json_t *cat = json_object_get(names, "categories");
    rt->categories = json_is_array(cat) ? json_deep_copy(cat) : json_array();
    const json_t *sub = json_object_get(ver, "subresources");
    rt->status_sub = json_object_get(sub, "status") != NULL;
    rt->generation = true;
    const json_t *scale = json_object_get(sub, "scale");
    if (scale) {
        rt->scale_sub = true;
        rt->spec_repl = xstrdup(json_string_value(json_object_get(scale, "specReplicasPath")));
        rt->status_repl = xstrdup(json_string_value(json_object_get(scale, "statusReplicasPath")));
        rt->label_sel = xstrdup(json_string_value(json_object_get(scale, "labelSelectorPath")));
    }
    json_t *schema = json_object_get(json_object_get(ver, "schema"), "openAPIV3Schema");
    rt->schema = schema ? json_deep_copy(schema) : NULL;
    json_t *cols = json_object_get(ver, "additionalPrinterColumns");
    rt->columns = json_is_array(cols) ? json_deep_copy(cols) : NULL;
    if (!rt->version || !rt->plural || !rt->kind || !rt->group || !rt->list_kind || !rt->singular) {
        rtype_free(rt);
        return NULL;
    }
    return rt;
}

/* ------------------------------------------------------------------ selectors */

static const json_t *path_get(const json_t *obj, const char *dotted)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", dotted);
    const json_t *cur = obj;
    char *save = NULL;
    for (char *s = strtok_r(buf, ".", &save); s && cur; s = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, s);
    return cur;
}

static bool in_set(const char *v, const char *set) /* set "(a,b , c)" contents without parens */
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", set);
    char *save = NULL;
    for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        while (*s == ' ')
            s++;
        size_t n = strlen(s);
        while (n && s[n - 1] == ' ')
            s[--n] = 0;
        if (v && !strcmp(v, s))
            return true;
    }
    return false;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    size_t k = strspn(s, " \t");
    memmove(s, s + k, strlen(s + k) + 1);
}

/* Splits on commas that are not inside parentheses. Returns -1 on a malformed selector. */
static int label_match(const char *sel, const json_t *obj, bool *ret)
{
    const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    char buf[2048];
    if (strlen(sel) >= sizeof(buf))
        return -1;
    *ret = true;
    const char *p = sel;
    while (*p) {
        size_t n = 0;
        int depth = 0;
        while (p[n] && (depth || p[n] != ',')) {
            if (p[n] == '(')
                depth++;
            else if (p[n] == ')')
                depth--;
            n++;
        }
        memcpy(buf, p, n);
        buf[n] = 0;
        p += n + (p[n] == ',');
        trim(buf);
        if (!*buf)
            continue;
        char *op;
        bool ok;
        if ((op = strstr(buf, " notin ")) || (op = strstr(buf, " in "))) {
            bool notin = op[1] == 'n';
            *op = 0;
            char *set = strchr(op + 1, '(');
            char *end = set ? strrchr(set, ')') : NULL;
            if (!set || !end)
                return -1;
            *end = 0;
            trim(buf);
            const char *v = json_string_value(json_object_get(labels, buf));
            ok = notin ? !in_set(v, set + 1) : in_set(v, set + 1);
        } else if ((op = strstr(buf, "!="))) {
            *op = 0;
            char *val = op + 2;
            trim(buf);
            trim(val);
            const char *v = json_string_value(json_object_get(labels, buf));
            ok = !v || strcmp(v, val) != 0;
        } else if ((op = strchr(buf, '='))) {
            *op = 0;
            char *val = op + 1 + (op[1] == '=');
            trim(buf);
            trim(val);
            const char *v = json_string_value(json_object_get(labels, buf));
            ok = v && !strcmp(v, val);
        } else if (buf[0] == '!') {
            char *k = buf + 1;
            trim(k);
            ok = json_object_get(labels, k) == NULL;
        } else {
            ok = json_object_get(labels, buf) != NULL;
        }
        if (!ok)
            *ret = false;
    }
    return 0;
}

static bool field_match(const char *sel, const json_t *obj)
{
    char buf[2048];
    snprintf(buf, sizeof(buf), "%s", sel);
    char *save = NULL;
    for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        trim(s);
        if (!*s)
            continue;
        bool neg = false;
        char *op = strstr(s, "!=");
        if (op) {
            neg = true;
            *op = 0;
            op += 2;
        } else if ((op = strchr(s, '='))) {
            *op++ = 0;
            if (*op == '=')
                op++;
        } else {
            return false;
        }
        const json_t *v = path_get(obj, s);
        char vb[256] = "";
        if (json_is_string(v))
            snprintf(vb, sizeof(vb), "%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(vb, sizeof(vb), "%lld", (long long)json_integer_value(v));
        else if (json_is_boolean(v))
            snprintf(vb, sizeof(vb), "%s", json_is_true(v) ? "true" : "false");
        bool eq = strcmp(vb, op) == 0;
        if (neg ? eq : !eq)
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ table */

static void human_age(int64_t d_ms, char *buf, size_t size)
{
    int64_t s = d_ms / 1000;
    if (d_ms < -1000) {
        snprintf(buf, size, "<invalid>");
    } else if (s < 0) {
        snprintf(buf, size, "0s");
    } else if (s < 120) {
        snprintf(buf, size, "%llds", (long long)s);
    } else if (s < 600) {
        if (s % 60)
            snprintf(buf, size, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
        else
            snprintf(buf, size, "%lldm", (long long)(s / 60));
    } else if (s < 3 * 3600) {
        snprintf(buf, size, "%lldm", (long long)(s / 60));
    } else if (s < 8 * 3600) {
        int64_t m = (s / 60) % 60;
        if (m)
            snprintf(buf, size, "%lldh%lldm", (long long)(s / 3600), (long long)m);
        else
            snprintf(buf, size, "%lldh", (long long)(s / 3600));
    } else if (s < 48 * 3600) {
        snprintf(buf, size, "%lldh", (long long)(s / 3600));
    } else if (s < 8 * 86400) {
        int64_t h = (s / 3600) % 24;
        if (h)
            snprintf(buf, size, "%lldd%lldh", (long long)(s / 86400), (long long)h);
        else
            snprintf(buf, size, "%lldd", (long long)(s / 86400));
    } else if (s < 2 * 365 * 86400) {
        snprintf(buf, size, "%lldd", (long long)(s / 86400));
    } else if (s < 8 * 365 * 86400) {
        snprintf(buf, size, "%lldy%lldd", (long long)(s / (365 * 86400)),
                 (long long)((s % (365 * 86400)) / 86400));
    } else {
        snprintf(buf, size, "%lldy", (long long)(s / (365 * 86400)));
    }
}

/* A JSONPath subset: .a.b, [N], [*], [?(@.k=="v")] (first match). BORROWED result or NULL. */
static const json_t *jsonpath(const json_t *root, const char *path)
{
    const json_t *cur = root;
    const char *p = path;
    if (*p == '{')
        p++;
    while (cur && *p && *p != '}') {
        if (*p == '.') {
            p++;
            size_t n = strcspn(p, ".[}");
            char k[256];
            if (n >= sizeof(k))
                return NULL;
            memcpy(k, p, n);
            k[n] = 0;
            p += n;
            if (n)
                cur = json_object_get(cur, k);
        } else if (*p == '[') {
            const char *end = strchr(p, ']');
            if (!end)
                return NULL;
            if (p[1] == '?') {
                /* [?(@.key=="value")] */
                const char *k0 = strstr(p, "@.");
                const char *eq = strstr(p, "==");
                if (!k0 || !eq || eq > end)
                    return NULL;
                char k[128], v[256];
                snprintf(k, sizeof(k), "%.*s", (int)(eq - k0 - 2), k0 + 2);
                const char *vs = eq + 2;
                while (*vs == ' ' || *vs == '"' || *vs == '\'')
                    vs++;
                size_t vn = strcspn(vs, "\"')");
                snprintf(v, sizeof(v), "%.*s", (int)vn, vs);
                trim(k);
                const json_t *found = NULL, *e;
                size_t i;
                json_array_foreach(cur, i, e)
                {
                    const char *ev = json_string_value(json_object_get(e, k));
                    if (ev && !strcmp(ev, v)) {
                        found = e;
                        break;
                    }
                }
                cur = found;
            } else if (p[1] == '*') {
                cur = json_array_get(cur, 0);
            } else {
                cur = json_array_get(cur, (size_t)strtoul(p + 1, NULL, 10));
            }
            p = end + 1;
        } else {
            return NULL;
        }
    }
    return cur;
}

static json_t *table_columns(const struct ks_rtype *rt)
{
    json_t *cols = json_array();
    json_array_append_new(
        cols, json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", "Name", "type", "string", "format", "name",
                        "description", "Name must be unique within a namespace.", "priority", 0));
    if (rt && json_array_size(rt->columns)) {
        size_t i;
        json_t *c;
        json_array_foreach(rt->columns, i, c)
        {
            const char *fmt = json_string_value(json_object_get(c, "format"));
            const char *desc = json_string_value(json_object_get(c, "description"));
            json_array_append_new(
                cols, json_pack("{s:s?,s:s?,s:s,s:s,s:I}", "name",
                                json_string_value(json_object_get(c, "name")), "type",
                                json_string_value(json_object_get(c, "type")), "format",
                                fmt ? fmt : "", "description", desc ? desc : "", "priority",
                                (json_int_t)json_integer_value(json_object_get(c, "priority"))));
        }
    } else {
        json_array_append_new(cols, json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", "Age", "type",
                                              "date", "format", "", "description",
                                              "CreationTimestamp is a timestamp.", "priority", 0));
    }
    return cols;
}

static json_t *cell(const json_t *obj, const char *type, const char *path, int64_t now)
{
    const json_t *v = jsonpath(obj, path);
    if (!v || json_is_null(v))
        return json_null();
    if (!strcmp(type, "date")) {
        int64_t t = parse_rfc3339(json_string_value(v));
        if (t < 0)
            return json_string("<invalid>");
        char b[32];
        human_age(now - t, b, sizeof(b));
        return json_string(b);
    }
    if (!strcmp(type, "integer") && json_is_number(v))
        return json_integer((json_int_t)json_number_value(v));
    if ((!strcmp(type, "number") && json_is_number(v)) ||
        (!strcmp(type, "boolean") && json_is_boolean(v)))
        return json_deep_copy(v);
    if (json_is_string(v))
        return json_string(json_string_value(v));
    char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_t *s = json_string(d ? d : "");
    free(d);
    return s;
}

static json_t *table_row(const struct ks_rtype *rt, const json_t *obj, int64_t now)
{
    json_t *cells = json_array();
    const char *name = mstr(obj, "name");
    json_array_append_new(cells, json_string(name ? name : ""));
    if (rt && json_array_size(rt->columns)) {
        size_t i;
        json_t *c;
        json_array_foreach(rt->columns, i, c)
        {
            const char *t = json_string_value(json_object_get(c, "type"));
            const char *p = json_string_value(json_object_get(c, "jsonPath"));
            json_array_append_new(cells, cell(obj, t ? t : "string", p ? p : "", now));
        }
    } else {
        json_array_append_new(cells, cell(obj, "date", ".metadata.creationTimestamp", now));
    }
    json_t *m = json_deep_copy(json_object_get(obj, "metadata"));
    if (m)
        json_object_del(m, "managedFields");
    return json_pack("{s:o,s:{s:s,s:s,s:o}}", "cells", cells, "object", "kind",
                     "PartialObjectMetadata", "apiVersion", "meta.k8s.io/v1", "metadata",
                     m ? m : json_object());
}

static bool wants_table(const struct ks_req *r)
{
    return r->accept && strstr(r->accept, "as=Table") != NULL;
}

/* ------------------------------------------------------------------ watch */

struct ks_watch {
    struct ks_watch *next;
    char key[300];
    char *ns, *lsel, *fsel;
    char api_version[160], kind[128];
    bool table, cols_sent, bookmarks, done;
    int64_t deadline_ms, next_bookmark_ms;
    uint64_t last_rv;
    char *buf;
    size_t len, cap;
    void *ctx;
};

void (*ks_watch_wake)(struct ks_watch *w);
static struct ks_watch *watches;

static void wbuf_add(struct ks_watch *w, const char *s, size_t n)
{
    if (w->len + n > KS_MAX_WATCHBUF) {
        w->done = true; /* a client that does not read loses its watch */
        return;
    }
    if (w->len + n + 1 > w->cap) {
        size_t nc = (w->len + n + 1) * 2;
        char *nb = realloc(w->buf, nc);
        if (!nb) {
            w->done = true;
            return;
        }
        w->buf = nb;
        w->cap = nc;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void watch_emit(struct ks_watch *w, const char *type, json_t *obj) /* obj TAKEN */
{
    json_t *ev = json_pack("{s:s,s:o}", "type", type, "object", obj);
    char *s = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (s) {
        wbuf_add(w, s, strlen(s));
        wbuf_add(w, "\n", 1);
        free(s);
    }
    if (ks_watch_wake)
        ks_watch_wake(w);
}

static bool watch_matches(const struct ks_watch *w, const json_t *obj)
{
    if (w->ns) {
        const char *ns = mstr(obj, "namespace");
        if (!ns || strcmp(ns, w->ns))
            return false;
    }
    bool ok = true;
    if (w->lsel && label_match(w->lsel, obj, &ok) == 0 && !ok)
        return false;
    if (w->fsel && !field_match(w->fsel, obj))
        return false;
    return true;
}

static void watch_send_obj(struct ks_watch *w, const char *type, const json_t *obj, uint64_t rv)
{
    w->last_rv = rv;
    if (!w->table) {
        watch_emit(w, type, json_deep_copy(obj));
        return;
    }
    const struct ks_rtype *rt = find_key(w->key);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char rvb[32];
    snprintf(rvb, sizeof(rvb), "%llu", (unsigned long long)rv);
    json_t *t =
        json_pack("{s:s,s:s,s:{s:s},s:[o]}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
                  "metadata", "resourceVersion", rvb, "rows", table_row(rt, obj, now));
    if (t && !w->cols_sent)
        json_object_set_new(t, "columnDefinitions", table_columns(rt));
    w->cols_sent = true;
    if (t)
        watch_emit(w, type, t);
}

static void on_event(const struct ks_event *ev)
{
    for (struct ks_watch *w = watches; w; w = w->next) {
        if (w->done || strcmp(w->key, ev->key))
            continue;
        bool now = watch_matches(w, ev->obj);
        if (ev->prev && !strcmp(ev->type, "MODIFIED") && (w->lsel || w->fsel)) {
            bool before = watch_matches(w, ev->prev);
            if (before && !now)
                watch_send_obj(w, "DELETED", ev->obj, ev->rv);
            else if (now)
                watch_send_obj(w, before ? "MODIFIED" : "ADDED", ev->obj, ev->rv);
            continue;
        }
        if (now)
            watch_send_obj(w, ev->type, ev->obj, ev->rv);
    }
}

static void watch_bookmark(struct ks_watch *w)
{
    char rvb[32];
    snprintf(rvb, sizeof(rvb), "%llu", (unsigned long long)ks_store_rv());
    w->last_rv = ks_store_rv();
    watch_emit(w, "BOOKMARK",
               json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", w->api_version, "kind", w->kind,
                         "metadata", "resourceVersion", rvb));
}

char *ks_watch_buf(struct ks_watch *w, size_t *ret_len)
{
    *ret_len = w->len;
    return w->buf;
}

void ks_watch_consume(struct ks_watch *w, size_t n)
{
    if (n > w->len)
        n = w->len;
    memmove(w->buf, w->buf + n, w->len - n);
    w->len -= n;
}

bool ks_watch_done(const struct ks_watch *w)
{
    return w->done;
}

void ks_watch_tick(struct ks_watch *w, int64_t now_ms)
{
    if (w->done)
        return;
    if (w->deadline_ms && now_ms >= w->deadline_ms) {
        w->done = true;
        if (ks_watch_wake)
            ks_watch_wake(w);
        return;
    }
    if (w->bookmarks && now_ms >= w->next_bookmark_ms) {
        int bs = ks_cfg && ks_cfg->bookmark_seconds > 0 ? ks_cfg->bookmark_seconds : 10;
        w->next_bookmark_ms = now_ms + bs * 1000;
        watch_bookmark(w);
    }
}

void ks_watches_tick(int64_t now_ms)
{
    for (struct ks_watch *w = watches; w; w = w->next)
        ks_watch_tick(w, now_ms);
}

void ks_watch_set_ctx(struct ks_watch *w, void *ctx)
{
    w->ctx = ctx;
}

void *ks_watch_ctx(const struct ks_watch *w)
{
    return w->ctx;
}

void ks_watch_free(struct ks_watch *w)
{
    if (!w)
        return;
    for (struct ks_watch **pp = &watches; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    free(w->ns);
    free(w->lsel);
    free(w->fsel);
    free(w->buf);
    free(w);
}

void ks_server_drop_watches(int *ret_n)
{
    int n = 0;
    for (struct ks_watch *w = watches; w; w = w->next) {
        if (!w->done) {
            w->done = true;
            n++;
            if (ks_watch_wake)
                ks_watch_wake(w);
        }
    }
    *ret_n = n;
}

int ks_server_nwatches(void)
{
    int n = 0;
    for (struct ks_watch *w = watches; w; w = w->next)
        n++;
    return n;
}

/* ------------------------------------------------------------------ request context */

struct call {
    struct ks_req *r;
    struct ks_resp *w;
    struct ks_rtype *rt;
    const char *ns, *name, *sub;
    char av[160];
};

static bool ns_exists(const char *ns)
{
    return ks_store_get("/namespaces", NULL, ns) != NULL;
}

static void not_found(struct call *c, const char *name)
{
    char q[300];
    qname(c->rt, q, sizeof(q));
    status_err(c->w, 404, "NotFound", make_details(c->rt, name), "%s \"%s\" not found", q, name);
}

static void ns_not_found(struct ks_resp *w, const char *ns)
{
    json_t *d = json_pack("{s:s,s:s}", "name", ns, "kind", "namespaces");
    status_err(w, 404, "NotFound", d, "namespaces \"%s\" not found", ns);
}

static const char *store_ns(const struct call *c)
{
    return c->rt->namespaced ? c->ns : NULL;
}

/* Reads the body as JSON (or YAML). Answers 400 and returns NULL on failure. */
static json_t *body_json(struct call *c, bool yaml)
{
    if (!c->r->body || !c->r->body_len) {
        status_err(c->w, 400, "BadRequest", NULL, "the request body is empty");
        return NULL;
    }
    char err[256] = "";
    json_t *j;
    if (c->r->content_type && strstr(c->r->content_type, "protobuf")) {
        j = ks_proto_decode(c->r->body, c->r->body_len, err, sizeof(err));
    } else if (yaml) {
        j = ks_yaml_load(c->r->body, c->r->body_len, err, sizeof(err));
    } else {
        json_error_t jerr;
        j = json_loadb(c->r->body, c->r->body_len, 0, &jerr);
        if (!j)
            snprintf(err, sizeof(err), "couldn't get version/kind; json parse error: %s",
                     jerr.text);
    }
    if (!j)
        status_err(c->w, 400, "BadRequest", NULL, "%s", err);
    return j;
}

static json_t *strip_status_copy(const json_t *obj, bool drop_status)
{
    json_t *c = json_deep_copy(obj);
    json_object_del(c, "metadata");
    if (drop_status)
        json_object_del(c, "status");
    return c;
}

static void invalid1(struct call *c, const char *name, const char *field, const char *reason,
                     const char *msg);

static bool label_value_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0)
        return true;
    if (n > 63 || !isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '_' && v[i] != '.')
            return false;
    return true;
}

/* ObjectMeta as the real decoder sees it: unknown fields are pruned (and reported in unknown),
 * labels and annotations must map to strings (else 400). */
static int meta_check(struct call *c, json_t *obj, json_t *unknown)
{
    static const char *const known[] = {
        "name",       "generateName",      "namespace",    "selfLink",
        "uid",        "resourceVersion",   "generation",   "creationTimestamp",
        "labels",     "deletionTimestamp", "annotations",  "deletionGracePeriodSeconds",
        "finalizers", "ownerReferences",   "managedFields"};
    json_t *m = json_object_get(obj, "metadata");
    if (!json_is_object(m))
        return 0;
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(m, tmp, k, v)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            if (!strcmp(k, known[i]))
                ok = true;
        if (!ok) {
            char p[300];
            snprintf(p, sizeof(p), "metadata.%s", k);
            if (unknown)
                json_array_append_new(unknown, json_string(p));
            json_object_del(m, k);
            continue;
        }
        bool strfield = !strcmp(k, "name") || !strcmp(k, "namespace") ||
                        !strcmp(k, "generateName") || !strcmp(k, "resourceVersion") ||
                        !strcmp(k, "uid");
        bool mapfield = !strcmp(k, "labels") || !strcmp(k, "annotations");
        if ((strfield && !json_is_string(v)) ||
            (mapfield && !json_is_object(v) && !json_is_null(v))) {
            status_err(c->w, 400, "BadRequest", NULL,
                       "%s in version \"%s\" cannot be handled as a %s: json: cannot unmarshal %s "
                       "into Go struct field ObjectMeta.metadata.%s of type %s",
                       c->rt->kind, c->rt->version, c->rt->kind,
                       json_is_number(v)    ? "number"
                       : json_is_boolean(v) ? "bool"
                       : json_is_string(v)  ? "string"
                       : json_is_array(v)   ? "array"
                                            : "object",
                       k, strfield ? "string" : "map[string]string");
            return -1;
        }
        if (mapfield) {
            const char *lk;
            json_t *lv;
            json_object_foreach(v, lk, lv)
            {
                if (json_is_string(lv) && !strcmp(k, "labels") &&
                    !label_value_ok(json_string_value(lv))) {
                    char lm[600];
                    snprintf(lm, sizeof(lm),
                             "Invalid value: \"%.80s\": a valid label must be an empty string or "
                             "consist of alphanumeric characters, '-', '_' or '.', and must start "
                             "and end with an alphanumeric character (e.g. 'MyValue',  or "
                             "'my_value',  or '12345', regex used for validation is "
                             "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                             json_string_value(lv));
                    char f[300];
                    snprintf(f, sizeof(f), "metadata.labels");
                    invalid1(c, mstr(obj, "name"), f, "FieldValueInvalid", lm);
                    return -1;
                }
                if (!json_is_string(lv)) {
                    status_err(c->w, 400, "BadRequest", NULL,
                               "%s in version \"%s\" cannot be handled as a %s: json: cannot "
                               "unmarshal %s into Go struct field ObjectMeta.metadata.%s of type "
                               "string",
                               c->rt->kind, c->rt->version, c->rt->kind,
                               json_is_number(lv) ? "number" : "value", k);
                    return -1;
                }
            }
        }
    }
    return 0;
}

/* Schema pass for CRs: prune, default, validate. Answers 422 and returns -1 when invalid. */
static int schema_check(struct call *c, json_t *obj, const char *name)
{
    if (!c->rt->schema)
        return 0;
    const char *fv = ks_query(c->r, "fieldValidation");
    bool strict = fv && !strcmp(fv, "Strict");
    json_t *unknown = fv && !strcmp(fv, "Ignore") ? NULL : json_array();
    if (meta_check(c, obj, unknown) < 0) {
        json_decref(unknown);
        return -1;
    }
    ks_schema_prune_default(c->rt->schema, obj, unknown);
    if (strict && json_array_size(unknown)) {
        char msg[2048] = "";
        size_t off = 0, i;
        json_t *e;
        json_array_foreach(unknown, i, e)
        {
            int k = snprintf(msg + off, sizeof(msg) - off, "%sunknown field \"%s\"", i ? ", " : "",
                             json_string_value(e));
            if (k < 0 || (size_t)k >= sizeof(msg) - off)
                break;
            off += (size_t)k;
        }
        json_decref(unknown);
        status_err(c->w, 400, "BadRequest", NULL,
                   "%s in version \"%s\" cannot be handled as a %s: strict decoding error: %s",
                   c->rt->kind, c->rt->version, c->rt->kind, msg);
        return -1;
    }
    if (json_array_size(unknown)) {
        if (!c->w->warnings)
            c->w->warnings = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(unknown, i, e)
        {
            char m[1200];
            snprintf(m, sizeof(m), "unknown field \"%s\"", json_string_value(e));
            json_array_append_new(c->w->warnings, json_string(m));
        }
    }
    json_decref(unknown);
    json_t *causes = json_array();
    int n = ks_schema_validate(c->rt->schema, obj, causes);
    if (!n) {
        json_decref(causes);
        return 0;
    }
    char msg[4096] = "";
    size_t off = 0;
    size_t i;
    json_t *e;
    json_array_foreach(causes, i, e)
    {
        int k = snprintf(msg + off, sizeof(msg) - off, "%s%s: %s", i ? ", " : "",
                         json_string_value(json_object_get(e, "field")),
                         json_string_value(json_object_get(e, "message")));
        if (k < 0 || (size_t)k >= sizeof(msg) - off)
            break;
        off += (size_t)k;
    }
    json_t *d = json_pack("{s:s,s:s,s:s,s:o}", "name", name, "group", c->rt->group, "kind",
                          c->rt->kind, "causes", causes);
    if (n > 1)
        status_err(c->w, 422, "Invalid", d, "%s.%s \"%s\" is invalid: [%s]", c->rt->kind,
                   c->rt->group, name, msg);
    else
        status_err(c->w, 422, "Invalid", d, "%s.%s \"%s\" is invalid: %s", c->rt->kind,
                   c->rt->group, name, msg);
    return -1;
}

static void invalid1(struct call *c, const char *name, const char *field, const char *reason,
                     const char *msg)
{
    char kq[300];
    if (*c->rt->group)
        snprintf(kq, sizeof(kq), "%s.%s", c->rt->kind, c->rt->group);
    else
        snprintf(kq, sizeof(kq), "%s", c->rt->kind);
    json_t *d = json_pack("{s:s,s:s,s:s,s:[{s:s,s:s,s:s}]}", "name", name ? name : "", "group",
                          c->rt->group, "kind", c->rt->kind, "causes", "reason", reason, "message",
                          msg, "field", field);
    status_err(c->w, 422, "Invalid", d, "%s \"%s\" is invalid: %s: %s", kq, name ? name : "", field,
               msg);
}

/* ------------------------------------------------------------------ CRDs */

static void crd_accept(json_t *crd, bool created)
{
    (void)created;
    const json_t *spec = json_object_get(crd, "spec");
    char now[32];
    rfc3339((int64_t)time(NULL) * 1000, now, sizeof(now));
    json_t *names = json_deep_copy(json_object_get(spec, "names"));
    if (names && !json_object_get(names, "singular")) {
        const char *k = json_string_value(json_object_get(names, "kind"));
        char sb[256];
        snprintf(sb, sizeof(sb), "%s", k ? k : "");
        for (char *p = sb; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        json_object_set_new(names, "singular", json_string(sb));
    }
    if (names && !json_object_get(names, "listKind")) {
        const char *k = json_string_value(json_object_get(names, "kind"));
        char lb[256];
        snprintf(lb, sizeof(lb), "%sList", k ? k : "");
        json_object_set_new(names, "listKind", json_string(lb));
    }
    json_t *stored = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec, "versions"), i, v)
    {
        if (json_is_true(json_object_get(v, "storage")))
            json_array_append(stored, json_object_get(v, "name"));
    }
    json_t *st =
        json_pack("{s:[{s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:s}],s:o,s:o}", "conditions", "type",
                  "NamesAccepted", "status", "True", "lastTransitionTime", now, "reason",
                  "NoConflicts", "message", "no conflicts found", "type", "Established", "status",
                  "True", "lastTransitionTime", now, "reason", "InitialNamesAccepted", "message",
                  "the initial names have been accepted", "acceptedNames",
                  names ? names : json_object(), "storedVersions", stored);
    if (st)
        json_object_set_new(crd, "status", st);
}

/* Checks a CRD body; answers 422 and returns -1 when unusable. */
static int crd_validate(struct call *c, const json_t *crd, const char *name)
{
    const json_t *spec = json_object_get(crd, "spec");
    const char *group = json_string_value(json_object_get(spec, "group"));
    const char *plural =
        json_string_value(json_object_get(json_object_get(spec, "names"), "plural"));
    if (!group || !plural) {
        invalid1(c, name, "spec.group", "FieldValueRequired", "Required value");
        return -1;
    }
    char want[300];
    snprintf(want, sizeof(want), "%s.%s", plural, group);
    if (strcmp(want, name)) {
        char m[400];
        snprintf(m, sizeof(m), "Invalid value: \"%s\": must be spec.names.plural+\".\"+spec.group",
                 name);
        invalid1(c, name, "metadata.name", "FieldValueInvalid", m);
        return -1;
    }
    struct ks_rtype *rt = type_from_crd(crd);
    if (!rt) {
        invalid1(
            c, name, "spec.versions", "FieldValueInvalid",
            "Invalid value: \"null\": must have exactly one version marked as storage version");
        return -1;
    }
    rtype_free(rt);
    return 0;
}

static void crd_apply_type(const json_t *crd)
{
    struct ks_rtype *rt = type_from_crd(crd);
    if (rt)
        register_type(rt);
}

/* Deletes every object of a type (CRD removal) or in a namespace (namespace removal). */
static void purge(const char *key, const char *ns)
{
    size_t n;
    json_t **all = ks_store_list(key, ns, &n);
    json_t **copies = calloc(n + 1, sizeof(*copies));
    if (!copies) {
        free(all);
        return;
    }
    for (size_t i = 0; i < n; i++)
        copies[i] = json_deep_copy(all[i]);
    free(all);
    for (size_t i = 0; i < n; i++) {
        if (!copies[i])
            continue;
        set_rv(copies[i], ks_store_next_rv());
        const char *nm = mstr(copies[i], "name");
        const char *onsp = mstr(copies[i], "namespace");
        char nb[300], nsb[300];
        snprintf(nb, sizeof(nb), "%s", nm ? nm : "");
        snprintf(nsb, sizeof(nsb), "%s", onsp ? onsp : "");
        ks_store_del(key, onsp ? nsb : NULL, nb, copies[i]);
    }
    free(copies);
}

/* ------------------------------------------------------------------ writes */

static bool deleting(const json_t *obj)
{
    return mstr(obj, "deletionTimestamp") != NULL;
}

static bool has_finalizers(const json_t *obj)
{
    return json_array_size(json_object_get(json_object_get(obj, "metadata"), "finalizers")) > 0;
}

static void finish_delete(struct call *c, const json_t *stored, const char *name)
{
    char key[300] = "";
    bool crd = !strcmp(c->rt->key, "apiextensions.k8s.io/customresourcedefinitions");
    if (crd) { /* read before the store frees stored */
        const json_t *spec = json_object_get(stored, "spec");
        const char *g = json_string_value(json_object_get(spec, "group"));
        const char *pl =
            json_string_value(json_object_get(json_object_get(spec, "names"), "plural"));
        snprintf(key, sizeof(key), "%s/%s", g ? g : "", pl ? pl : "");
    }
    json_t *last = json_deep_copy(stored);
    set_rv(last, ks_store_next_rv());
    ks_store_del(c->rt->key, store_ns(c), name, last);
    if (crd) {
        purge(key, NULL);
        unregister_type(key);
    } else if (!strcmp(c->rt->key, "/namespaces")) {
        for (int i = 0; i < ntypes; i++)
            if (types[i]->namespaced)
                purge(types[i]->key, name);
    }
}

/* Stores a new version of an existing object. nobj TAKEN. sub: NULL, "status" or "scale".
 * is_put: PUT semantics (RV required for CRs). Answers. */
static void do_update(struct call *c, const json_t *old, json_t *nobj, const char *sub, bool is_put)
{
    const char *name = mstr(old, "name");
    char nameb[300];
    snprintf(nameb, sizeof(nameb), "%s", name ? name : "");
    name = nameb;
    if (!json_is_object(nobj)) {
        json_decref(nobj);
        status_err(c->w, 400, "BadRequest", NULL, "the body of the request is not an object");
        return;
    }
    const char *bname = mstr(nobj, "name");
    if (bname && strcmp(bname, name)) {
        status_err(c->w, 400, "BadRequest", NULL,
                   "the name of the object (%s) does not match the name on the URL (%s)", bname,
                   name);
        json_decref(nobj);
        return;
    }
    const char *bns = mstr(nobj, "namespace");
    if (c->rt->namespaced && bns && *bns && strcmp(bns, c->ns)) {
        status_err(c->w, 400, "BadRequest", NULL,
                   "the namespace of the provided object does not match the namespace sent on "
                   "the request");
        json_decref(nobj);
        return;
    }
    const char *brv = mstr(nobj, "resourceVersion");
    const char *orv = mstr(old, "resourceVersion");
    if (is_put && (!brv || !*brv) && !c->rt->builtin) {
        invalid1(c, name, "metadata.resourceVersion", "FieldValueInvalid",
                 "Invalid value: 0x0: must be specified for an update");
        json_decref(nobj);
        return;
    }
    if (brv && *brv && orv && strcmp(brv, orv)) {
        char q[300];
        qname(c->rt, q, sizeof(q));
        status_err(c->w, 409, "Conflict", make_details(c->rt, name),
                   "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                   "please apply your changes to the latest version and try again",
                   q, name);
        json_decref(nobj);
        return;
    }
    json_t *res;
    if (sub && !strcmp(sub, "status")) {
        res = json_deep_copy(old);
        json_t *st = json_object_get(nobj, "status");
        if (st)
            json_object_set(res, "status", st);
        else
            json_object_del(res, "status");
        json_decref(nobj);
    } else {
        res = nobj;
        if (c->rt->status_sub) {
            json_t *ost = json_object_get(old, "status");
            if (ost)
                json_object_set(res, "status", ost);
            else
                json_object_del(res, "status");
        }
        /* system metadata is the server's */
        json_t *m = meta(res), *om = json_object_get(old, "metadata");
        const char *keep[] = {"uid",
                              "creationTimestamp",
                              "deletionTimestamp",
                              "deletionGracePeriodSeconds",
                              "generation",
                              "namespace",
                              "name",
                              "managedFields"};
        for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
            json_t *ov = json_object_get(om, keep[i]);
            if (ov)
                json_object_set(m, keep[i], ov);
            else
                json_object_del(m, keep[i]);
        }
        char av[160];
        api_version(c->rt, av, sizeof(av));
        json_object_set_new(res, "apiVersion", json_string(av));
        json_object_set_new(res, "kind", json_string(c->rt->kind));
    }
    if (!sub || strcmp(sub, "status")) {
        if (schema_check(c, res, name) < 0) {
            json_decref(res);
            return;
        }
    } else if (c->rt->schema) {
        /* status writes are validated too (the real server does so) */
        if (schema_check(c, res, name) < 0) {
            json_decref(res);
            return;
        }
    }
    if (deleting(old)) {
        json_t *of = json_object_get(json_object_get(old, "metadata"), "finalizers");
        json_t *nf = json_object_get(json_object_get(res, "metadata"), "finalizers");
        size_t i;
        json_t *f;
        json_t *added = json_array();
        json_array_foreach(nf, i, f)
        {
            bool found = false;
            size_t k;
            json_t *g;
            json_array_foreach(of, k, g) if (json_equal(f, g)) found = true;
            if (!found)
                json_array_append(added, f);
        }
        if (json_array_size(added)) {
            char list[512] = "";
            size_t off = 0;
            json_array_foreach(added, i, f)
            {
                int k = snprintf(list + off, sizeof(list) - off, "%s\"%s\"", i ? ", " : "",
                                 json_string_value(f));
                if (k < 0 || (size_t)k >= sizeof(list) - off)
                    break;
                off += (size_t)k;
            }
            char m[700];
            snprintf(m, sizeof(m),
                     "Forbidden: no new finalizers can be added if the object is being deleted, "
                     "found new finalizers []string{%s}",
                     list);
            invalid1(c, name, "metadata.finalizers", "FieldValueForbidden", m);
            json_decref(added);
            json_decref(res);
            return;
        }
        json_decref(added);
    }
    /* generation: bumps when anything outside metadata (and status with the subresource) moved */
    json_int_t gen =
        json_integer_value(json_object_get(json_object_get(old, "metadata"), "generation"));
    json_t *a = strip_status_copy(old, c->rt->status_sub),
           *b = strip_status_copy(res, c->rt->status_sub);
    bool spec_changed = !json_equal(a, b);
    json_decref(a);
    json_decref(b);
    if (gen > 0 && spec_changed && (!sub || strcmp(sub, "status")))
        json_object_set_new(meta(res), "generation", json_integer(gen + 1));
    set_rv(res, strtoull(orv ? orv : "0", NULL, 10));
    if (json_equal(res, old)) {
        resp_json(c->w, 200, res); /* no-op: old RV, no event */
        return;
    }
    if (qbool(c->r, "dryRun") || (ks_query(c->r, "dryRun") && *ks_query(c->r, "dryRun"))) {
        resp_json(c->w, 200, res);
        return;
    }
    if (deleting(res) && !has_finalizers(res)) {
        finish_delete(c, old, name);
        resp_json(c->w, 200, res);
        return;
    }
    if (!strcmp(c->rt->key, "apiextensions.k8s.io/customresourcedefinitions")) {
        if (crd_validate(c, res, name) < 0) {
            json_decref(res);
            return;
        }
        crd_accept(res, false);
    }
    set_rv(res, ks_store_next_rv());
    json_incref(res);
    ks_store_put(c->rt->key, store_ns(c), name, res, "MODIFIED");
    if (!strcmp(c->rt->key, "apiextensions.k8s.io/customresourcedefinitions"))
        crd_apply_type(res);
    resp_json(c->w, 200, res);
}

/* RFC 1123 subdomain: lowercase alphanumerics, '-' and '.', <= 253, alphanumeric at both ends
 * of every dot-separated label. */
static bool dns_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > KS_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool an = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!an && ch != '-' && ch != '.')
            return false;
        bool edge = i == 0 || i == n - 1 || s[i - 1] == '.' || s[i + 1] == '.';
        if (edge && !an)
            return false;
    }
    return true;
}

/* Creates obj (TAKEN). Answers 201 or an error. */
static void do_create(struct call *c, json_t *obj)
{
    if (!json_is_object(obj)) {
        json_decref(obj);
        status_err(c->w, 400, "BadRequest", NULL, "the body of the request is not an object");
        return;
    }
    json_t *m = meta(obj);
    const char *sf[] = {"name", "namespace", "generateName"};
    for (size_t i = 0; i < sizeof(sf) / sizeof(sf[0]); i++) {
        json_t *v = json_object_get(m, sf[i]);
        if (v && !json_is_string(v) && !json_is_null(v)) {
            status_err(c->w, 400, "BadRequest", NULL,
                       "%s in version \"%s\" cannot be handled as a %s: json: cannot unmarshal %s "
                       "into Go struct field ObjectMeta.metadata.%s of type string",
                       c->rt->kind, c->rt->version, c->rt->kind,
                       json_is_number(v) ? "number" : "value", sf[i]);
            json_decref(obj);
            return;
        }
    }
    const char *name = json_string_value(json_object_get(m, "name"));
    const char *gen = json_string_value(json_object_get(m, "generateName"));
    char nameb[300];
    if ((!name || !*name) && gen && *gen) {
        static const char al[] = "bcdfghjklmnpqrstvwxz2456789";
        char sfx[6];
        for (int i = 0; i < 5; i++)
            sfx[i] = al[rnd() % (sizeof(al) - 1)];
        sfx[5] = 0;
        snprintf(nameb, sizeof(nameb), "%.*s%s", 58, gen, sfx);
        json_object_set_new(m, "name", json_string(nameb));
    } else if (!name || !*name) {
        invalid1(c, "", "metadata.name", "FieldValueRequired",
                 "Required value: name or generateName is required");
        json_decref(obj);
        return;
    } else {
        snprintf(nameb, sizeof(nameb), "%s", name);
    }
    name = nameb;
    bool is_ns = !strcmp(c->rt->key, "/namespaces");
    if (is_ns && (strlen(name) > 63 || strchr(name, '.'))) {
        char msg[400];
        snprintf(msg, sizeof(msg),
                 "Invalid value: \"%.63s\": a lowercase RFC 1123 label must consist of lower case "
                 "alphanumeric characters or '-', and must start and end with an alphanumeric "
                 "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                 name);
        invalid1(c, name, "metadata.name", "FieldValueInvalid", msg);
        json_decref(obj);
        return;
    }
    if (!dns_subdomain(name)) {
        char msg[600];
        snprintf(msg, sizeof(msg),
                 "Invalid value: \"%.253s\": a lowercase RFC 1123 subdomain must consist of lower "
                 "case alphanumeric characters, '-' or '.', and must start and end with an "
                 "alphanumeric character (e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                 name);
        invalid1(c, name, "metadata.name", "FieldValueInvalid", msg);
        json_decref(obj);
        return;
    }
    const char *bav = json_string_value(json_object_get(obj, "apiVersion"));
    const char *bkind = json_string_value(json_object_get(obj, "kind"));
    if (!c->rt->builtin && ((bav && strcmp(bav, c->av)) || (bkind && strcmp(bkind, c->rt->kind)))) {
        status_err(c->w, 400, "BadRequest", NULL,
                   "the API version in the data (%s) does not match the expected API version "
                   "(%s)",
                   bav ? bav : "", c->av);
        if (bav && !strcmp(bav, c->av))
            status_err(c->w, 400, "BadRequest", NULL,
                       "the kind in the data (%s) does not match the expected kind (%s)", bkind,
                       c->rt->kind);
        json_decref(obj);
        return;
    }
    const char *rv = json_string_value(json_object_get(m, "resourceVersion"));
    if (rv && *rv) {
        json_decref(obj);
        status_err(c->w, 500, "", NULL,
                   "resourceVersion should not be set on objects to be created");
        return;
    }
    if (c->rt->namespaced) {
        const char *bns = json_string_value(json_object_get(m, "namespace"));
        if (bns && *bns && strcmp(bns, c->ns)) {
            status_err(c->w, 400, "BadRequest", NULL,
                       "the namespace of the provided object does not match the namespace sent "
                       "on the request");
            json_decref(obj);
            return;
        }
        if (!ns_exists(c->ns)) {
            json_decref(obj);
            ns_not_found(c->w, c->ns);
            return;
        }
        json_object_set_new(m, "namespace", json_string(c->ns));
    } else {
        json_object_del(m, "namespace");
    }
    if (ks_store_get(c->rt->key, store_ns(c), name)) {
        char q[300];
        qname(c->rt, q, sizeof(q));
        status_err(c->w, 409, "AlreadyExists", make_details(c->rt, name),
                   "%s \"%s\" already exists", q, name);
        json_decref(obj);
        return;
    }
    char av[160];
    api_version(c->rt, av, sizeof(av));
    json_object_set_new(obj, "apiVersion", json_string(av));
    json_object_set_new(obj, "kind", json_string(c->rt->kind));
    if (c->rt->status_sub && strcmp(c->rt->key, "/namespaces"))
        json_object_del(obj, "status");
    if (schema_check(c, obj, name) < 0) {
        json_decref(obj);
        return;
    }
    bool is_crd = !strcmp(c->rt->key, "apiextensions.k8s.io/customresourcedefinitions");
    if (is_crd) {
        if (crd_validate(c, obj, name) < 0) {
            json_decref(obj);
            return;
        }
        crd_accept(obj, true);
    }
    if (!strcmp(c->rt->key, "/namespaces")) {
        json_object_set_new(obj, "spec", json_pack("{s:[s]}", "finalizers", "kubernetes"));
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
        json_t *labels = json_object_get(m, "labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(m, "labels", labels);
        }
        json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
    }
    char u[40], ts[32];
    uuid(u, sizeof(u));
    rfc3339(c->r->now_ms, ts, sizeof(ts));
    json_object_set_new(m, "uid", json_string(u));
    json_object_set_new(m, "creationTimestamp", json_string(ts));
    json_object_del(m, "deletionTimestamp");
    json_object_del(m, "managedFields");
    if (!gen || !*gen) /* gen points into m: keep a given generateName as it is */
        json_object_del(m, "generateName");
    if (c->rt->generation)
        json_object_set_new(m, "generation", json_integer(1));
    else
        json_object_del(m, "generation");
    const char *dry = ks_query(c->r, "dryRun");
    if (dry && *dry) {
        resp_json(c->w, 201, obj);
        return;
    }
    set_rv(obj, ks_store_next_rv());
    json_incref(obj);
    ks_store_put(c->rt->key, store_ns(c), name, obj, "ADDED");
    if (is_crd)
        crd_apply_type(obj);
    resp_json(c->w, 201, obj);
}

static void do_delete(struct call *c)
{
    json_t *old = ks_store_get(c->rt->key, store_ns(c), c->name);
    if (!old) {
        not_found(c, c->name);
        return;
    }
    json_t *opts = NULL;
    if (c->r->body && c->r->body_len) {
        json_error_t jerr;
        opts = json_loadb(c->r->body, c->r->body_len, 0, &jerr);
    }
    json_t *pre = json_object_get(opts, "preconditions");
    const char *puid = json_string_value(json_object_get(pre, "uid"));
    const char *prv = json_string_value(json_object_get(pre, "resourceVersion"));
    char q[300];
    qname(c->rt, q, sizeof(q));
    if ((puid && strcmp(puid, mstr(old, "uid") ? mstr(old, "uid") : "")) ||
        (prv && strcmp(prv, mstr(old, "resourceVersion") ? mstr(old, "resourceVersion") : ""))) {
        json_decref(opts);
        status_err(c->w, 409, "Conflict", make_details(c->rt, c->name),
                   "Operation cannot be fulfilled on %s \"%s\": Precondition failed", q, c->name);
        return;
    }
    json_decref(opts);
    if (has_finalizers(old)) {
        if (deleting(old)) {
            resp_json(c->w, 200, json_deep_copy(old));
            return;
        }
        json_t *n = json_deep_copy(old);
        json_t *m = meta(n);
        char ts[32];
        rfc3339(c->r->now_ms, ts, sizeof(ts));
        json_object_set_new(m, "deletionTimestamp", json_string(ts));
        json_object_set_new(m, "deletionGracePeriodSeconds", json_integer(0));
        json_int_t gen = json_integer_value(json_object_get(m, "generation"));
        if (gen > 0)
            json_object_set_new(m, "generation", json_integer(gen + 1));
        set_rv(n, ks_store_next_rv());
        json_incref(n);
        ks_store_put(c->rt->key, store_ns(c), c->name, n, "MODIFIED");
        resp_json(c->w, 200, n);
        return;
    }
    const char *uid = mstr(old, "uid");
    json_t *d = make_details(c->rt, c->name);
    json_object_set_new(d, "uid", json_string(uid ? uid : ""));
    json_t *ok = json_pack("{s:s,s:s,s:{},s:s,s:o}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", "Success", "details", d);
    char nameb[300];
    snprintf(nameb, sizeof(nameb), "%s", c->name);
    finish_delete(c, old, nameb);
    resp_json(c->w, 200, ok);
}

/* ------------------------------------------------------------------ scale */

static const json_t *dotted(const json_t *obj, const char *path)
{
    return path ? path_get(obj, path[0] == '.' ? path + 1 : path) : NULL;
}

static json_t *make_scale(const struct ks_rtype *rt, const json_t *obj)
{
    json_t *m = json_object();
    const char *keys[] = {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(json_object_get(obj, "metadata"), keys[i]);
        if (v)
            json_object_set(m, keys[i], v);
    }
    const json_t *sr = dotted(obj, rt->spec_repl), *str = dotted(obj, rt->status_repl);
    const json_t *sel = dotted(obj, rt->label_sel);
    json_t *status = json_pack("{s:I}", "replicas", (json_int_t)json_integer_value(str));
    if (json_is_string(sel))
        json_object_set(status, "selector", (json_t *)sel);
    return json_pack("{s:s,s:s,s:o,s:{s:I},s:o}", "kind", "Scale", "apiVersion", "autoscaling/v1",
                     "metadata", m, "spec", "replicas", (json_int_t)json_integer_value(sr),
                     "status", status);
}

static void set_dotted(json_t *obj, const char *path, json_t *val) /* val TAKEN */
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path[0] == '.' ? path + 1 : path);
    json_t *cur = obj;
    char *save = NULL, *s = strtok_r(buf, ".", &save);
    while (s) {
        char *nx = strtok_r(NULL, ".", &save);
        if (!nx) {
            json_object_set_new(cur, s, val);
            return;
        }
        json_t *c = json_object_get(cur, s);
        if (!json_is_object(c)) {
            c = json_object();
            json_object_set_new(cur, s, c);
        }
        cur = c;
        s = nx;
    }
    json_decref(val);
}

static void scale_write(struct call *c, const json_t *old, json_t *scale) /* scale TAKEN */
{
    const json_t *rep = json_object_get(json_object_get(scale, "spec"), "replicas");
    if (!json_is_integer(rep) || json_integer_value(rep) < 0) {
        char m[128];
        snprintf(m, sizeof(m), "Invalid value: %lld: must be greater than or equal to 0",
                 (long long)json_integer_value(rep));
        json_decref(scale);
        c->rt = c->rt; /* the error names the Scale */
        json_t *d = json_pack("{s:s,s:s,s:s,s:[{s:s,s:s,s:s}]}", "name", c->name, "group",
                              "autoscaling", "kind", "Scale", "causes", "reason",
                              "FieldValueInvalid", "message", m, "field", "spec.replicas");
        status_err(c->w, 422, "Invalid", d,
                   "Scale.autoscaling \"%s\" is invalid: spec.replicas: %s", c->name, m);
        return;
    }
    json_t *n = json_deep_copy(old);
    const char *srv = mstr(scale, "resourceVersion");
    if (srv && *srv)
        json_object_set_new(meta(n), "resourceVersion", json_string(srv));
    set_dotted(n, c->rt->spec_repl, json_integer(json_integer_value(rep)));
    json_decref(scale);
    do_update(c, old, n, NULL, false);
    if (c->w->status == 200 && c->w->json) {
        json_t *s = make_scale(c->rt, c->w->json);
        resp_json(c->w, 200, s);
    }
}

/* ------------------------------------------------------------------ patch */

static json_t *apply_merge(json_t *live, const json_t *applied) /* live TAKEN; deep merge */
{
    if (!json_is_object(live) || !json_is_object(applied)) {
        json_decref(live);
        return json_deep_copy(applied);
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)applied, k, v)
    {
        if (json_is_null(v)) {
            json_object_del(live, k);
            continue;
        }
        json_t *cur = json_object_get(live, k);
        json_incref(cur);
        json_object_set_new(live, k, apply_merge(cur, v));
    }
    return live;
}

/* Server-side apply without managedFields: per object (and subresource) and field manager the
 * last applied configuration is remembered (with the object's uid); fields a manager applied
 * before and no longer applies are removed, whoever else set them since (no shared ownership). */
static json_t *applied_cfg;

static void applied_key(const struct call *c, char *buf, size_t size)
{
    snprintf(buf, size, "%s\x1f%s\x1f%s\x1f%s", c->rt->key, store_ns(c) ? store_ns(c) : "", c->name,
             c->sub ? c->sub : "");
}

static const json_t *applied_get(const struct call *c, const char *uid, const char *mgr)
{
    char k[1024];
    applied_key(c, k, sizeof(k));
    const json_t *e = json_object_get(applied_cfg, k);
    const char *euid = json_string_value(json_object_get(e, "uid"));
    if (!euid || !uid || strcmp(euid, uid))
        return NULL;
    return json_object_get(json_object_get(e, "managers"), mgr);
}

static void applied_put(const struct call *c, const char *uid, const char *mgr, const json_t *cfg)
{
    char k[1024];
    if (!uid || !cfg)
        return;
    if (!applied_cfg)
        applied_cfg = json_object();
    applied_key(c, k, sizeof(k));
    json_t *e = json_object_get(applied_cfg, k);
    const char *euid = json_string_value(json_object_get(e, "uid"));
    if (!e || !euid || strcmp(euid, uid)) {
        e = json_pack("{s:s,s:{}}", "uid", uid, "managers");
        if (!e || json_object_set_new(applied_cfg, k, e) < 0)
            return;
    }
    json_object_set_new(json_object_get(e, "managers"), mgr, json_deep_copy(cfg));
}

static void remove_dropped(json_t *live, const json_t *prev, const json_t *now, int depth,
                           const char *parent)
{
    const char *k;
    json_t *pv;
    json_object_foreach((json_t *)prev, k, pv)
    {
        if (depth == 0 && (!strcmp(k, "apiVersion") || !strcmp(k, "kind")))
            continue;
        if (depth == 1 && !strcmp(parent, "metadata") &&
            (!strcmp(k, "name") || !strcmp(k, "namespace")))
            continue;
        const json_t *nv = json_object_get(now, k);
        if (!nv) {
            json_object_del(live, k);
        } else if (json_is_object(pv) && json_is_object(nv)) {
            json_t *lv = json_object_get(live, k);
            if (json_is_object(lv))
                remove_dropped(lv, pv, nv, depth + 1, k);
        }
    }
}

static void strip_smp_directives(json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, c)
        {
            if (k[0] == '$')
                json_object_del(v, k);
            else
                strip_smp_directives(c);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) strip_smp_directives(c);
    }
}

static void do_patch(struct call *c)
{
    const char *ct = c->r->content_type ? c->r->content_type : "";
    bool merge = strstr(ct, "application/merge-patch+json") != NULL;
    bool jpatch = strstr(ct, "application/json-patch+json") != NULL;
    bool apply = strstr(ct, "application/apply-patch+yaml") != NULL;
    bool smp = strstr(ct, "application/strategic-merge-patch+json") != NULL;
    if (smp && !c->rt->builtin) {
        status_err(c->w, 415, "UnsupportedMediaType", NULL,
                   "the body of the request was in an unknown format - accepted media types "
                   "include: application/json-patch+json, application/merge-patch+json, "
                   "application/apply-patch+yaml");
        return;
    }
    if (!merge && !jpatch && !apply && !smp) {
        status_err(c->w, 415, "UnsupportedMediaType", NULL,
                   "the body of the request was in an unknown format - accepted media types "
                   "include: application/json-patch+json, application/merge-patch+json, "
                   "application/apply-patch+yaml%s",
                   c->rt->builtin ? ", application/strategic-merge-patch+json" : "");
        return;
    }
    if (ks_query(c->r, "force") && !apply) {
        json_t *d =
            json_pack("{s:s,s:s,s:[{s:s,s:s,s:s}]}", "group", "meta.k8s.io", "kind", "PatchOptions",
                      "causes", "reason", "FieldValueForbidden", "message",
                      "Forbidden: may not be specified for non-apply patch", "field", "force");
        status_err(c->w, 422, "Invalid", d,
                   "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be "
                   "specified for non-apply patch");
        return;
    }
    if (apply && (!ks_query(c->r, "fieldManager") || !*ks_query(c->r, "fieldManager"))) {
        json_t *d =
            json_pack("{s:s,s:s,s:[{s:s,s:s,s:s}]}", "group", "meta.k8s.io", "kind", "PatchOptions",
                      "causes", "reason", "FieldValueRequired", "message",
                      "Required value: is required for apply patch", "field", "fieldManager");
        status_err(c->w, 422, "Invalid", d,
                   "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is "
                   "required for apply patch");
        return;
    }
    json_t *p = body_json(c, apply);
    if (!p)
        return;
    json_t *old = ks_store_get(c->rt->key, store_ns(c), c->name);
    if (!old) {
        if (apply && !c->sub) {
            json_t *m = meta(p);
            if (!json_object_get(m, "name"))
                json_object_set_new(m, "name", json_string(c->name));
            json_t *cfg = json_deep_copy(p);
            do_create(c, p);
            if (c->w->status == 201)
                applied_put(c, mstr(c->w->json, "uid"), ks_query(c->r, "fieldManager"), cfg);
            json_decref(cfg);
            return;
        }
        json_decref(p);
        not_found(c, c->name);
        return;
    }
    bool scale = c->sub && !strcmp(c->sub, "scale");
    json_t *base = scale ? make_scale(c->rt, old) : json_deep_copy(old);
    json_t *res;
    if (jpatch) {
        char err[256];
        res = ks_json_patch(base, p, err, sizeof(err));
        json_decref(base);
        if (!res) {
            json_decref(p);
            status_err(c->w, 422, "Invalid", NULL, "%s", err);
            return;
        }
    } else if (apply) {
        const json_t *prev = applied_get(c, mstr(old, "uid"), ks_query(c->r, "fieldManager"));
        if (json_is_object(prev) && json_is_object(p))
            remove_dropped(base, prev, p, 0, "");
        res = apply_merge(base, p);
    } else {
        if (smp)
            strip_smp_directives(p);
        res = ks_merge_patch(base, p);
    }
    json_t *cfg = apply ? p : NULL;
    if (!apply)
        json_decref(p);
    if (scale)
        scale_write(c, old, res);
    else
        do_update(c, old, res, c->sub, false);
    if (cfg && c->w->status == 200)
        applied_put(c, mstr(c->w->json, "uid"), ks_query(c->r, "fieldManager"), cfg);
    json_decref(cfg);
}

/* ------------------------------------------------------------------ list / get / watch */

static json_t *list_body(struct call *c, json_t **objs, size_t n, const char *cont, bool table)
{
    char rvb[32];
    snprintf(rvb, sizeof(rvb), "%llu", (unsigned long long)ks_store_rv());
    if (table) {
        json_t *rows = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(rows, table_row(c->rt, objs[i], c->r->now_ms));
        return json_pack("{s:s,s:s,s:{s:s,s:s},s:o,s:o}", "kind", "Table", "apiVersion",
                         "meta.k8s.io/v1", "metadata", "resourceVersion", rvb, "continue",
                         cont ? cont : "", "columnDefinitions", table_columns(c->rt), "rows", rows);
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(items, objs[i]); /* stored objects are never edited in place */
    json_t *l = json_pack("{s:s,s:s,s:{s:s},s:o}", "kind", c->rt->list_kind, "apiVersion", c->av,
                          "metadata", "resourceVersion", rvb, "items", items);
    if (cont && *cont)
        json_object_set_new(json_object_get(l, "metadata"), "continue", json_string(cont));
    return l;
}

static bool sel_ok(struct call *c, const json_t *o)
{
    const char *ls = ks_query(c->r, "labelSelector"), *fs = ks_query(c->r, "fieldSelector");
    bool ok = true;
    if (ls && *ls && label_match(ls, o, &ok) == 0 && !ok)
        return false;
    if (fs && *fs && !field_match(fs, o))
        return false;
    return true;
}

static void do_watch(struct call *c)
{
    const char *rvs = ks_query(c->r, "resourceVersion");
    if (ks_query(c->r, "sendInitialEvents") || ks_query(c->r, "resourceVersionMatch")) {
        json_t *d = json_pack("{s:s,s:s,s:[{s:s,s:s,s:s}]}", "group", "meta.k8s.io", "kind",
                              "ListOptions", "causes", "reason", "FieldValueForbidden", "message",
                              "Forbidden: sendInitialEvents is forbidden for watch unless the "
                              "WatchList feature gate is enabled",
                              "field", "sendInitialEvents");
        status_err(c->w, 422, "Invalid", d,
                   "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: "
                   "sendInitialEvents is forbidden for watch unless the WatchList feature gate "
                   "is enabled");
        return;
    }
    struct ks_watch *wt = calloc(1, sizeof(*wt));
    if (!wt) {
        status_err(c->w, 500, "InternalError", NULL, "out of memory");
        return;
    }
    snprintf(wt->key, sizeof(wt->key), "%s", c->rt->key);
    snprintf(wt->api_version, sizeof(wt->api_version), "%s", c->av);
    snprintf(wt->kind, sizeof(wt->kind), "%s", c->rt->kind);
    wt->ns = c->rt->namespaced && c->ns ? strdup(c->ns) : NULL;
    const char *ls = ks_query(c->r, "labelSelector"), *fs = ks_query(c->r, "fieldSelector");
    wt->lsel = ls && *ls ? strdup(ls) : NULL;
    wt->fsel = fs && *fs ? strdup(fs) : NULL;
    if (c->name) { /* GET .../name?watch=1 (old style) */
        char f[320];
        snprintf(f, sizeof(f), "metadata.name=%s", c->name);
        free(wt->fsel);
        wt->fsel = strdup(f);
    }
    wt->table = wants_table(c->r);
    wt->bookmarks = qbool(c->r, "allowWatchBookmarks");
    const char *ts = ks_query(c->r, "timeoutSeconds");
    if (ts && atoll(ts) > 0)
        wt->deadline_ms = c->r->now_ms + atoll(ts) * 1000;
    int bs = ks_cfg && ks_cfg->bookmark_seconds > 0 ? ks_cfg->bookmark_seconds : 10;
    wt->next_bookmark_ms = c->r->now_ms + bs * 1000;
    wt->next = watches;
    watches = wt;
    c->w->status = 200;
    c->w->watch = wt;
    if (!rvs || !*rvs || !strcmp(rvs, "0")) {
        size_t n;
        json_t **objs = ks_store_list(c->rt->key, store_ns(c), &n);
        for (size_t i = 0; i < n; i++)
            if (watch_matches(wt, objs[i]))
                watch_send_obj(wt, "ADDED", objs[i], ks_store_rv());
        free(objs);
        wt->last_rv = ks_store_rv();
        return;
    }
    char *end;
    unsigned long long rv = strtoull(rvs, &end, 10);
    if (*end) {
        c->w->watch = NULL;
        ks_watch_free(wt);
        status_err(c->w, 400, "BadRequest", NULL, "invalid resource version: %s", rvs);
        return;
    }
    if (rv > ks_store_rv()) {
        char m[160];
        snprintf(m, sizeof(m), "Too large resource version: %llu, current: %llu", rv,
                 (unsigned long long)ks_store_rv());
        watch_emit(wt, "ERROR",
                   json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:{s:[{s:s,s:s}],s:i},s:i}", "kind",
                             "Status", "apiVersion", "v1", "metadata", "status", "Failure",
                             "message", m, "reason", "Timeout", "details", "causes", "reason",
                             "ResourceVersionTooLarge", "message", "Too large resource version",
                             "retryAfterSeconds", 1, "code", 504));
        wt->done = true;
        return;
    }
    if (rv < ks_store_compacted_rv()) {
        char m[128];
        snprintf(m, sizeof(m), "too old resource version: %llu (%llu)", rv,
                 (unsigned long long)ks_store_compacted_rv() + 1);
        watch_emit(wt, "ERROR",
                   json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
                             "metadata", "status", "Failure", "message", m, "reason", "Expired",
                             "code", 410));
        wt->done = true;
        return;
    }
    size_t n;
    const struct ks_event *h = ks_store_history(rv, &n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(h[i].key, wt->key) && watch_matches(wt, h[i].obj))
            watch_send_obj(wt, h[i].type, h[i].obj, h[i].rv);
    wt->last_rv = ks_store_rv();
}

static void do_list(struct call *c)
{
    if (c->rt->namespaced && c->ns && !ns_exists(c->ns) && 0)
        return;
    const char *rvm = ks_query(c->r, "resourceVersionMatch");
    const char *rvs = ks_query(c->r, "resourceVersion");
    if (rvm && *rvm && (!rvs || !*rvs)) {
        json_t *d = json_pack("{s:s,s:s,s:[{s:s,s:s,s:s}]}", "group", "meta.k8s.io", "kind",
                              "ListOptions", "causes", "reason", "FieldValueForbidden", "message",
                              "Forbidden: resourceVersionMatch is forbidden unless resourceVersion "
                              "is provided",
                              "field", "resourceVersionMatch");
        status_err(c->w, 422, "Invalid", d,
                   "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: "
                   "resourceVersionMatch is forbidden unless resourceVersion is provided");
        return;
    }
    size_t n;
    json_t **all = ks_store_list(c->rt->key, store_ns(c), &n);
    json_t **sel = calloc(n + 1, sizeof(*sel));
    if (!sel) {
        free(all);
        status_err(c->w, 500, "InternalError", NULL, "out of memory");
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (sel_ok(c, all[i]))
            sel[m++] = all[i];
    size_t off = 0;
    const char *cont = ks_query(c->r, "continue");
    if (cont && *cont) {
        unsigned long long crv = 0, coff = 0;
        if (sscanf(cont, "%llu:%llu", &crv, &coff) != 2 || crv < ks_store_compacted_rv()) {
            free(all);
            free(sel);
            status_err(c->w, 410, "Expired", NULL,
                       "The provided continue parameter is too old to display a consistent list "
                       "result. You can start a new list without the continue parameter.");
            return;
        }
        off = coff < m ? (size_t)coff : m;
    }
    const char *lim = ks_query(c->r, "limit");
    size_t count = m - off;
    char next[64] = "";
    if (lim && atoll(lim) > 0 && (size_t)atoll(lim) < count) {
        count = (size_t)atoll(lim);
        snprintf(next, sizeof(next), "%llu:%zu", (unsigned long long)ks_store_rv(), off + count);
    }
    resp_json(c->w, 200, list_body(c, sel + off, count, next, wants_table(c->r)));
    free(all);
    free(sel);
}

static void do_get(struct call *c)
{
    json_t *o = ks_store_get(c->rt->key, store_ns(c), c->name);
    if (!o) {
        not_found(c, c->name);
        return;
    }
    if (c->sub && !strcmp(c->sub, "scale")) {
        resp_json(c->w, 200, make_scale(c->rt, o));
        return;
    }
    if (wants_table(c->r))
        resp_json(c->w, 200, list_body(c, &o, 1, NULL, true));
    else
        resp_json(c->w, 200, json_deep_copy(o));
}

static void do_deletecollection(struct call *c)
{
    size_t n;
    json_t **all = ks_store_list(c->rt->key, store_ns(c), &n);
    json_t *names = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!sel_ok(c, all[i]))
            continue;
        json_array_append_new(names, json_pack("{s:s?,s:s?}", "ns", mstr(all[i], "namespace"),
                                               "name", mstr(all[i], "name")));
    }
    free(all);
    json_t *deleted = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(names, i, e)
    {
        struct ks_resp w2;
        memset(&w2, 0, sizeof(w2));
        struct call c2 = *c;
        c2.w = &w2;
        c2.ns = json_string_value(json_object_get(e, "ns"));
        c2.name = json_string_value(json_object_get(e, "name"));
        json_t *o = ks_store_get(c->rt->key, c->rt->namespaced ? c2.ns : NULL, c2.name);
        if (o)
            json_array_append_new(deleted, json_deep_copy(o));
        do_delete(&c2);
        ks_resp_release(&w2);
    }
    json_decref(names);
    json_t *l = list_body(c, NULL, 0, NULL, false);
    json_object_set_new(l, "items", deleted);
    resp_json(c->w, 200, l);
}

/* ------------------------------------------------------------------ discovery */

static json_t *resource_list(const char *group, const char *version)
{
    json_t *res = json_array();
    for (int i = 0; i < ntypes; i++) {
        struct ks_rtype *t = types[i];
        if (strcmp(t->group, group) || strcmp(t->version, version))
            continue;
        json_t *verbs = json_loads(VERBS, 0, NULL);
        json_t *e = json_pack("{s:s,s:s,s:b,s:s,s:o,s:O}", "name", t->plural, "singularName",
                              t->singular, "namespaced", t->namespaced, "kind", t->kind, "verbs",
                              verbs, "shortNames", t->short_names);
        if (json_array_size(t->categories))
            json_object_set(e, "categories", t->categories);
        json_array_append_new(res, e);
        char sn[300];
        if (t->status_sub) {
            snprintf(sn, sizeof(sn), "%s/status", t->plural);
            json_array_append_new(res,
                                  json_pack("{s:s,s:s,s:b,s:s,s:[sss]}", "name", sn, "singularName",
                                            "", "namespaced", t->namespaced, "kind", t->kind,
                                            "verbs", "get", "patch", "update"));
        }
        if (!strcmp(t->key, "/serviceaccounts"))
            json_array_append_new(res, json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:[s]}", "name",
                                                 "serviceaccounts/token", "singularName", "",
                                                 "namespaced", 1, "group", "authentication.k8s.io",
                                                 "version", "v1", "kind", "TokenRequest", "verbs",
                                                 "create"));
        if (t->scale_sub) {
            snprintf(sn, sizeof(sn), "%s/scale", t->plural);
            json_array_append_new(res, json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:[sss]}", "name", sn,
                                                 "singularName", "", "namespaced", t->namespaced,
                                                 "group", "autoscaling", "version", "v1", "kind",
                                                 "Scale", "verbs", "get", "patch", "update"));
        }
    }
    return res;
}

/* Distinct groups in registration order (core excluded). */
static int groups(const char **out, int max)
{
    int n = 0;
    for (int i = 0; i < ntypes; i++) {
        const char *g = types[i]->group;
        if (!*g)
            continue;
        bool seen = false;
        for (int k = 0; k < n; k++)
            if (!strcmp(out[k], g))
                seen = true;
        if (!seen && n < max)
            out[n++] = g;
    }
    return n;
}

static const char *group_version(const char *g)
{
    for (int i = 0; i < ntypes; i++)
        if (!strcmp(types[i]->group, g))
            return types[i]->version;
    return "v1";
}

static json_t *agg_group(const char *g)
{
    const char *ver = group_version(g);
    json_t *res = json_array();
    for (int i = 0; i < ntypes; i++) {
        struct ks_rtype *t = types[i];
        if (strcmp(t->group, g))
            continue;
        json_t *subs = json_array();
        if (t->status_sub)
            json_array_append_new(subs, json_pack("{s:s,s:{s:s,s:s,s:s},s:[sss]}", "subresource",
                                                  "status", "responseKind", "group", t->group,
                                                  "version", t->version, "kind", t->kind, "verbs",
                                                  "get", "patch", "update"));
        if (t->scale_sub)
            json_array_append_new(subs,
                                  json_pack("{s:s,s:{s:s,s:s,s:s},s:[sss]}", "subresource", "scale",
                                            "responseKind", "group", "autoscaling", "version", "v1",
                                            "kind", "Scale", "verbs", "get", "patch", "update"));
        json_t *e = json_pack(
            "{s:s,s:s,s:s,s:{s:s,s:s,s:s},s:o,s:O,s:o}", "resource", t->plural, "singularResource",
            t->singular, "scope", t->namespaced ? "Namespaced" : "Cluster", "responseKind", "group",
            t->group, "version", t->version, "kind", t->kind, "verbs", json_loads(VERBS, 0, NULL),
            "shortNames", t->short_names, "subresources", subs);
        if (json_array_size(t->categories))
            json_object_set(e, "categories", t->categories);
        json_array_append_new(res, e);
    }
    return json_pack("{s:{s:s},s:[{s:s,s:s,s:o}]}", "metadata", "name", g, "versions", "version",
                     ver, "freshness", "Current", "resources", res);
}

/* Which discovery form the Accept list asks for first: 0 legacy, 1 v2, 2 v2beta1. */
static int agg_wanted(const char *accept)
{
    if (!accept)
        return 0;
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", accept);
    char *save = NULL;
    for (char *e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        bool agg = strstr(e, "as=APIGroupDiscoveryList") && strstr(e, "g=apidiscovery.k8s.io");
        if (agg && strstr(e, "v=v2beta1"))
            return 2;
        if (agg && strstr(e, "v=v2"))
            return 1;
        if (!agg && (strstr(e, "application/json") || strstr(e, "*/*")))
            return 0;
    }
    return 0;
}

static void discovery(struct ks_req *r, struct ks_resp *w)
{
    int agg = agg_wanted(r->accept);
    bool core = r->nseg == 1 && !strcmp(r->seg[0], "api");
    bool apis = r->nseg == 1 && !strcmp(r->seg[0], "apis");
    if (agg && (core || apis)) {
        json_t *items = json_array();
        if (core) {
            json_array_append_new(items, agg_group(""));
            json_object_set_new(json_object_get(json_array_get(items, 0), "metadata"), "name",
                                json_string(""));
        } else {
            const char *gs[MAX_TYPES];
            int n = groups(gs, MAX_TYPES);
            for (int i = 0; i < n; i++)
                json_array_append_new(items, agg_group(gs[i]));
        }
        const char *v = agg == 1 ? "v2" : "v2beta1";
        char av[64];
        snprintf(av, sizeof(av), "apidiscovery.k8s.io/%s", v);
        resp_json(w, 200,
                  json_pack("{s:s,s:s,s:{},s:o}", "kind", "APIGroupDiscoveryList", "apiVersion", av,
                            "metadata", "items", items));
        w->content_type =
            agg == 1 ? "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
                     : "application/json;g=apidiscovery.k8s.io;v=v2beta1;as="
                       "APIGroupDiscoveryList";
        return;
    }
    if (core) {
        resp_json(w, 200,
                  json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1",
                            "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0",
                            "serverAddress", "127.0.0.1:6443"));
        return;
    }
    if (apis) {
        json_t *gl = json_array();
        const char *gs[MAX_TYPES];
        int n = groups(gs, MAX_TYPES);
        for (int i = 0; i < n; i++) {
            char gv[300];
            snprintf(gv, sizeof(gv), "%s/%s", gs[i], group_version(gs[i]));
            json_array_append_new(gl,
                                  json_pack("{s:s,s:[{s:s,s:s}],s:{s:s,s:s}}", "name", gs[i],
                                            "versions", "groupVersion", gv, "version",
                                            group_version(gs[i]), "preferredVersion",
                                            "groupVersion", gv, "version", group_version(gs[i])));
        }
        resp_json(
            w, 200,
            json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", gl));
        return;
    }
    const char *g = !strcmp(r->seg[0], "api") ? "" : r->seg[1];
    const char *v = !strcmp(r->seg[0], "api") ? r->seg[1] : (r->nseg > 2 ? r->seg[2] : NULL);
    if (r->nseg == 2 && !strcmp(r->seg[0], "apis")) {
        bool found = false;
        for (int i = 0; i < ntypes; i++)
            if (!strcmp(types[i]->group, g))
                found = true;
        if (!found) {
            status_err(w, 404, "NotFound", NULL,
                       "the server could not find the requested resource");
            return;
        }
        char gv[300];
        snprintf(gv, sizeof(gv), "%s/%s", g, group_version(g));
        resp_json(w, 200,
                  json_pack("{s:s,s:s,s:s,s:[{s:s,s:s}],s:{s:s,s:s}}", "kind", "APIGroup",
                            "apiVersion", "v1", "name", g, "versions", "groupVersion", gv,
                            "version", group_version(g), "preferredVersion", "groupVersion", gv,
                            "version", group_version(g)));
        return;
    }
    json_t *res = v ? resource_list(g, v) : json_array();
    if (!json_array_size(res)) {
        json_decref(res);
        status_err(w, 404, "NotFound", NULL, "the server could not find the requested resource");
        return;
    }
    char gv[300];
    if (*g)
        snprintf(gv, sizeof(gv), "%s/%s", g, v);
    else
        snprintf(gv, sizeof(gv), "%s", v);
    resp_json(w, 200,
              json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                        "groupVersion", gv, "resources", res));
}

/* ------------------------------------------------------------------ dispatch */

static void admin(struct ks_req *r, struct ks_resp *w)
{
    const char *what = r->nseg >= 2 ? r->seg[1] : "";
    const char *sub = r->nseg >= 3 ? r->seg[2] : "";
    if (!strcmp(r->method, "POST") && !strcmp(what, "watches") && !strcmp(sub, "drop")) {
        int n;
        ks_server_drop_watches(&n);
        resp_json(w, 200, json_pack("{s:i}", "dropped", n));
    } else if (!strcmp(r->method, "POST") && !strcmp(what, "compact")) {
        ks_store_compact();
        char b[32];
        snprintf(b, sizeof(b), "%llu", (unsigned long long)ks_store_compacted_rv());
        resp_json(w, 200, json_pack("{s:s}", "compactedRV", b));
    } else if (!strcmp(r->method, "GET") && !strcmp(what, "denied")) {
        resp_json(w, 200,
                  json_pack("{s:I,s:O}", "forbidden", (json_int_t)ndenied, "items",
                            denied ? denied : json_array()));
    } else if (!strcmp(r->method, "GET") && !strcmp(what, "requests")) {
        reqlog_get(r, w);
    } else if (!strcmp(r->method, "GET") && !strcmp(what, "stats")) {
        char b[32];
        snprintf(b, sizeof(b), "%llu", (unsigned long long)ks_store_rv());
        resp_json(w, 200,
                  json_pack("{s:s,s:I,s:i,s:I}", "resourceVersion", b, "objects",
                            (json_int_t)ks_store_count(), "watches", ks_server_nwatches(),
                            "requests", (json_int_t)nrequests));
    } else {
        status_err(w, 404, "NotFound", NULL, "no such admin endpoint");
    }
}

static void openapi_v2(struct ks_resp *w)
{
    /* openapi.v2.Document{swagger:"2.0", info:{title:"Kubernetes", version:"v1.32.0"}} */
    static const char title[] = "Kubernetes", ver[] = "v1.32.0";
    unsigned char b[64];
    size_t n = 0;
    b[n++] = 0x0A;
    b[n++] = 3;
    memcpy(b + n, "2.0", 3);
    n += 3;
    b[n++] = 0x12;
    b[n++] = (unsigned char)(2 + strlen(title) + 2 + strlen(ver));
    b[n++] = 0x0A;
    b[n++] = (unsigned char)strlen(title);
    memcpy(b + n, title, strlen(title));
    n += strlen(title);
    b[n++] = 0x12;
    b[n++] = (unsigned char)strlen(ver);
    memcpy(b + n, ver, strlen(ver));
    n += strlen(ver);
    w->raw = malloc(n);
    if (!w->raw) {
        status_err(w, 500, "InternalError", NULL, "out of memory");
        return;
    }
    memcpy(w->raw, b, n);
    w->raw_len = n;
    w->status = 200;
    w->content_type = "application/octet-stream";
}

/* ------------------------------------------------------------------ RBAC (rbac.c) */

static const char *request_verb(const struct call *c, bool watch)
{
    const char *m = c->r->method;
    if (!strcmp(m, "GET"))
        return watch ? "watch" : c->name ? "get" : "list";
    if (!strcmp(m, "POST"))
        return "create";
    if (!strcmp(m, "PUT"))
        return "update";
    if (!strcmp(m, "PATCH"))
        return "patch";
    if (!strcmp(m, "DELETE"))
        return c->name ? "delete" : "deletecollection";
    return "get";
}

static void access_of(const struct call *c, bool watch, char *res, size_t size, struct ks_access *a)
{
    snprintf(res, size, "%s%s%s", c->rt->plural, c->sub ? "/" : "", c->sub ? c->sub : "");
    a->verb = request_verb(c, watch);
    a->group = c->rt->group;
    a->resource = res;
    /* a namespace object is in its own namespace (RequestInfo) */
    a->ns = !strcmp(c->rt->key, "/namespaces") ? c->name : c->ns;
    a->name = c->name;
}

static void record_denied(const struct ks_user *u, const struct ks_access *a)
{
    if (!denied && !(denied = json_array()))
        return;
    if (json_array_size(denied) >= DENIED_MAX)
        json_array_remove(denied, 0);
    json_array_append_new(denied,
                          json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "user", u->name, "verb", a->verb,
                                    "group", a->group, "resource", a->resource, "namespace",
                                    a->ns ? a->ns : "", "name", a->name ? a->name : ""));
    ndenied++;
}

/* false when the request is refused (403 written). */
static bool authorize(struct call *c, const struct ks_user *u, bool watch)
{
    char res[300], msg[1200];
    struct ks_access a;
    access_of(c, watch, res, sizeof(res), &a);
    if (ks_rbac_allows(u, &a))
        return true;
    record_denied(u, &a);
    ks_rbac_forbidden_msg(u, &a, msg, sizeof(msg));
    status_err(c->w, 403, "Forbidden",
               json_pack("{s:s,s:s,s:s}", "name", c->name ? c->name : "", "group", c->rt->group,
                         "kind", c->rt->plural),
               "%s", msg);
    return false;
}

/* POST selfsubjectaccessreviews: spec.resourceAttributes {namespace, verb, group, resource,
 * subresource, name} for the caller; nonResourceAttributes are allowed (discovery). */
static void do_ssar(struct call *c, const struct ks_user *u)
{
    json_t *b = body_json(c, c->r->content_type && strstr(c->r->content_type, "yaml"));
    if (!b)
        return;
    const json_t *ra = json_object_get(json_object_get(b, "spec"), "resourceAttributes");
    bool allowed = true; /* nonResourceAttributes: discovery and the like are open to all */
    if (!json_is_object(ra) &&
        !json_is_object(json_object_get(json_object_get(b, "spec"), "nonResourceAttributes"))) {
        json_decref(b);
        status_err(c->w, 422, "Invalid", NULL,
                   "SelfSubjectAccessReview: exactly one of spec.resourceAttributes and "
                   "spec.nonResourceAttributes is required");
        return;
    }
    char res[300];
    if (json_is_object(ra)) {
        const char *sub = json_string_value(json_object_get(ra, "subresource"));
        const char *rs = json_string_value(json_object_get(ra, "resource"));
        struct ks_access a = {
            json_string_value(json_object_get(ra, "verb")),
            json_string_value(json_object_get(ra, "group")),
            res,
            json_string_value(json_object_get(ra, "namespace")),
            json_string_value(json_object_get(ra, "name")),
        };
        snprintf(res, sizeof(res), "%s%s%s", rs ? rs : "", sub && *sub ? "/" : "",
                 sub && *sub ? sub : "");
        if (!a.verb || !*a.verb || !rs || !*rs) {
            json_decref(b);
            status_err(c->w, 422, "Invalid", NULL,
                       "SelfSubjectAccessReview: spec.resourceAttributes needs verb and resource");
            return;
        }
        if (!a.group)
            a.group = "";
        allowed = ks_rbac_allows(u, &a);
    }
    json_object_set_new(b, "apiVersion", json_string("authorization.k8s.io/v1"));
    json_object_set_new(b, "kind", json_string("SelfSubjectAccessReview"));
    json_object_set_new(b, "status",
                        allowed ? json_pack("{s:b,s:s}", "allowed", 1, "reason",
                                            u->admin ? "kubesim administrator" : "RBAC: allowed")
                                : json_pack("{s:b}", "allowed", 0));
    resp_json(c->w, 201, b);
}

/* POST serviceaccounts/<name>/token: a token that authenticates as the ServiceAccount. */
static void do_token_request(struct call *c)
{
    json_t *b = body_json(c, c->r->content_type && strstr(c->r->content_type, "yaml"));
    if (!b)
        return;
    if (!ks_store_get(c->rt->key, store_ns(c), c->name)) {
        json_decref(b);
        not_found(c, c->name);
        return;
    }
    char tok[400], exp[40];
    json_int_t secs =
        json_integer_value(json_object_get(json_object_get(b, "spec"), "expirationSeconds"));
    if (secs <= 0)
        secs = 3600;
    if (ks_token_for(c->ns, c->name, rnd(), tok, sizeof(tok)) < 0) {
        json_decref(b);
        status_err(c->w, 422, "Invalid", NULL, "name too long for a token");
        return;
    }
    rfc3339(c->r->now_ms + (int64_t)secs * 1000, exp, sizeof(exp));
    json_object_set_new(b, "apiVersion", json_string("authentication.k8s.io/v1"));
    json_object_set_new(b, "kind", json_string("TokenRequest"));
    json_object_set_new(b, "metadata", json_pack("{s:s,s:s}", "name", c->name, "namespace", c->ns));
    if (!json_is_object(json_object_get(b, "spec")))
        json_object_set_new(b, "spec", json_object());
    json_object_set_new(json_object_get(b, "spec"), "expirationSeconds", json_integer(secs));
    json_object_set_new(b, "status",
                        json_pack("{s:s,s:s}", "token", tok, "expirationTimestamp", exp));
    resp_json(c->w, 201, b);
}

static void dispatch(struct ks_req *r, struct ks_resp *w)
{
    memset(w, 0, sizeof(*w));
    if (r->nseg >= 1 && !strcmp(r->seg[0], "_kubesim")) {
        admin(r, w);
        return;
    }
    if (ks_cfg && ks_cfg->token &&
        !(r->nseg == 1 && (!strcmp(r->seg[0], "version") || !strcmp(r->seg[0], "healthz") ||
                           !strcmp(r->seg[0], "readyz") || !strcmp(r->seg[0], "livez")))) {
        const char *a = r->authorization;
        if (!a || strncasecmp(a, "Bearer ", 7) || strcmp(a + 7, ks_cfg->token)) {
            status_err(w, 401, "Unauthorized", NULL, "Unauthorized");
            return;
        }
    }
    bool public_path =
        r->nseg == 1 && (!strcmp(r->seg[0], "version") || !strcmp(r->seg[0], "healthz") ||
                         !strcmp(r->seg[0], "readyz") || !strcmp(r->seg[0], "livez"));
    struct ks_user user;
    memset(&user, 0, sizeof(user));
    if (!public_path && ks_authenticate(r, &user) < 0) {
        status_err(w, 401, "Unauthorized", NULL, "Unauthorized");
        return;
    }
    if (r->nseg == 1 && !strcmp(r->seg[0], "version")) {
        resp_json(w, 200,
                  json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor", "32",
                            "gitVersion", "v1.32.0-kubesim", "gitCommit", "kubesim", "gitTreeState",
                            "clean", "buildDate", "2026-01-01T00:00:00Z", "goVersion", "go1.23.0",
                            "compiler", "gc", "platform", "linux/amd64"));
        return;
    }
    if (r->nseg >= 1 && !strcmp(r->seg[0], "openapi")) {
        if (r->nseg == 2 && !strcmp(r->seg[1], "v2"))
            openapi_v2(w);
        else
            status_err(w, 404, "NotFound", NULL,
                       "the server could not find the requested resource");
        return;
    }
    if (r->nseg == 1 && !strcmp(r->seg[0], "swagger-2.0.0.pb-v1")) {
        openapi_v2(w);
        return;
    }
    if (r->nseg == 1 && (!strcmp(r->seg[0], "healthz") || !strcmp(r->seg[0], "readyz") ||
                         !strcmp(r->seg[0], "livez"))) {
        w->raw = strdup("ok");
        w->raw_len = w->raw ? 2 : 0;
        w->status = 200;
        w->content_type = "text/plain";
        return;
    }
    bool core = r->nseg >= 1 && !strcmp(r->seg[0], "api");
    bool apis = r->nseg >= 1 && !strcmp(r->seg[0], "apis");
    int base = core ? 2 : 3;
    if ((core && r->nseg <= 2) || (apis && r->nseg <= 3)) {
        if (strcmp(r->method, "GET")) {
            status_err(w, 405, "MethodNotAllowed", NULL,
                       "the server does not allow this method on the requested resource");
            return;
        }
        discovery(r, w);
        return;
    }
    if (!core && !apis) {
        status_err(w, 404, "NotFound", NULL, "the server could not find the requested resource");
        return;
    }
    const char *group = core ? "" : r->seg[1];
    const char *version = core ? r->seg[1] : r->seg[2];
    const char **rest = r->seg + base;
    int nrest = r->nseg - base;
    struct call c;
    memset(&c, 0, sizeof(c));
    c.r = r;
    c.w = w;
    const char *plural;
    if (nrest >= 3 && !strcmp(rest[0], "namespaces") &&
        !(nrest == 3 && (!strcmp(rest[2], "status") || !strcmp(rest[2], "finalize")))) {
        c.ns = rest[1];
        plural = rest[2];
        c.name = nrest > 3 ? rest[3] : NULL;
        c.sub = nrest > 4 ? rest[4] : NULL;
        if (nrest > 5) {
            status_err(w, 404, "NotFound", NULL,
                       "the server could not find the requested resource");
            return;
        }
    } else {
        plural = rest[0];
        c.name = nrest > 1 ? rest[1] : NULL;
        c.sub = nrest > 2 ? rest[2] : NULL;
        if (nrest > 3) {
            status_err(w, 404, "NotFound", NULL,
                       "the server could not find the requested resource");
            return;
        }
    }
    c.rt = find_type(group, version, plural);
    if (!c.rt || (c.ns && !c.rt->namespaced)) {
        status_err(w, 404, "NotFound", NULL, "the server could not find the requested resource");
        return;
    }
    api_version(c.rt, c.av, sizeof(c.av));
    if (c.sub && !((!strcmp(c.sub, "status") && c.rt->status_sub) ||
                   (!strcmp(c.sub, "scale") && c.rt->scale_sub) ||
                   (!strcmp(c.sub, "token") && !strcmp(c.rt->key, "/serviceaccounts")))) {
        status_err(w, 404, "NotFound", NULL, "the server could not find the requested resource");
        return;
    }
    if (c.rt->namespaced && !c.ns && c.name) {
        status_err(w, 404, "NotFound", NULL, "the server could not find the requested resource");
        return;
    }
    const char *m = r->method;
    bool watch = qbool(r, "watch");
    snprintf(cur_verb, sizeof(cur_verb), "%s", request_verb(&c, watch));
    snprintf(cur_resource, sizeof(cur_resource), "%s%s%s", c.rt->plural, c.sub ? "/" : "",
             c.sub ? c.sub : "");
    if (!strcmp(c.rt->key, "authorization.k8s.io/selfsubjectaccessreviews")) {
        if (strcmp(m, "POST") || c.name)
            status_err(w, 405, "MethodNotAllowed", NULL,
                       "the server does not allow this method on the requested resource");
        else
            do_ssar(&c, &user); /* every authenticated user may ask (system:basic-user) */
        return;
    }
    if (ks_rbac_on() && !authorize(&c, &user, watch))
        return;
    if (c.sub && !strcmp(c.sub, "token")) {
        if (strcmp(m, "POST"))
            status_err(w, 405, "MethodNotAllowed", NULL,
                       "the server does not allow this method on the requested resource");
        else
            do_token_request(&c);
        return;
    }
    if (!strcmp(m, "GET") && (watch || !c.name)) {
        if (watch)
            do_watch(&c);
        else
            do_list(&c);
    } else if (!strcmp(m, "GET")) {
        do_get(&c);
    } else if (!strcmp(m, "POST") && !c.name) {
        json_t *b = body_json(&c, r->content_type && strstr(r->content_type, "yaml"));
        if (b)
            do_create(&c, b);
    } else if (!strcmp(m, "PUT") && c.name) {
        json_t *b = body_json(&c, r->content_type && strstr(r->content_type, "yaml"));
        json_t *old = b ? ks_store_get(c.rt->key, store_ns(&c), c.name) : NULL;
        if (!b)
            return;
        if (!old) {
            json_decref(b);
            not_found(&c, c.name);
        } else if (c.sub && !strcmp(c.sub, "scale")) {
            scale_write(&c, old, b);
        } else {
            do_update(&c, old, b, c.sub, true);
        }
    } else if (!strcmp(m, "PATCH") && c.name) {
        do_patch(&c);
    } else if (!strcmp(m, "DELETE") && c.name && !c.sub) {
        do_delete(&c);
    } else if (!strcmp(m, "DELETE") && !c.name) {
        do_deletecollection(&c);
    } else {
        status_err(w, 405, "MethodNotAllowed", NULL,
                   "the server does not allow this method on the requested resource");
    }
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void reqlog_add(const struct ks_req *r, const struct ks_resp *w, int64_t start_us,
                       uint64_t rv_before)
{
    if (!reqlog && !(reqlog = calloc(REQLOG_MAX, sizeof(*reqlog))))
        return;
    struct reqlog *e = &reqlog[nreqlog % REQLOG_MAX];
    memset(e, 0, sizeof(*e));
    e->seq = nreqlog++;
    e->start_us = start_us;
    e->done_us = now_us();
    e->rv_after = ks_store_rv();
    e->changed = e->rv_after != rv_before;
    e->status = w->status;
    snprintf(e->method, sizeof(e->method), "%s", r->method ? r->method : "");
    if (cur_verb[0]) {
        snprintf(e->verb, sizeof(e->verb), "%s", cur_verb);
    } else {
        for (size_t i = 0; i + 1 < sizeof(e->verb) && e->method[i]; i++)
            e->verb[i] = (char)tolower((unsigned char)e->method[i]);
    }
    snprintf(e->resource, sizeof(e->resource), "%s", cur_resource);
    size_t n = (size_t)snprintf(e->path, sizeof(e->path), "%s", r->path ? r->path : "");
    for (int i = 0; i < r->nquery && n < sizeof(e->path); i++)
        n += (size_t)snprintf(e->path + n, sizeof(e->path) - n, "%c%s=%s", i ? '&' : '?',
                              r->query[i].name, r->query[i].value ? r->query[i].value : "");
    snprintf(e->ua, sizeof(e->ua), "%s", r->user_agent ? r->user_agent : "");
}

/* GET /_kubesim/requests[?since=SEQ][&limit=N]: {"next":N,"oldest":N,"entries":[...]} */
static void reqlog_get(struct ks_req *r, struct ks_resp *w)
{
    const char *sv = ks_query(r, "since"), *lv = ks_query(r, "limit");
    uint64_t since = sv ? strtoull(sv, NULL, 10) : 0;
    uint64_t limit = lv ? strtoull(lv, NULL, 10) : REQLOG_MAX;
    uint64_t oldest = nreqlog > REQLOG_MAX ? nreqlog - REQLOG_MAX : 0;
    if (since < oldest)
        since = oldest;
    json_t *items = json_array();
    for (uint64_t s = since; reqlog && items && s < nreqlog && limit; s++, limit--) {
        const struct reqlog *e = &reqlog[s % REQLOG_MAX];
        char t[40], ts[64], rv[32];
        rfc3339(e->done_us / 1000, t, sizeof(t));
        /* "2026-01-01T00:00:00Z" -> "2026-01-01T00:00:00.123456Z" */
        snprintf(ts, sizeof(ts), "%.19s.%06lldZ", t, (long long)(e->done_us % 1000000));
        snprintf(rv, sizeof(rv), "%llu", (unsigned long long)e->rv_after);
        json_array_append_new(
            items, json_pack("{s:I,s:s,s:I,s:I,s:s,s:b,s:i,s:s,s:s,s:s,s:s,s:s}", "seq",
                             (json_int_t)e->seq, "time", ts, "startMicros", (json_int_t)e->start_us,
                             "doneMicros", (json_int_t)e->done_us, "resourceVersion", rv, "changed",
                             e->changed, "code", e->status, "method", e->method, "verb", e->verb,
                             "resource", e->resource, "path", e->path, "userAgent", e->ua));
    }
    if (!items) {
        status_err(w, 500, "InternalError", NULL, "out of memory");
        return;
    }
    resp_json(w, 200,
              json_pack("{s:I,s:I,s:o}", "next", (json_int_t)nreqlog, "oldest", (json_int_t)oldest,
                        "entries", items));
}

void ks_dispatch(struct ks_req *r, struct ks_resp *w)
{
    nrequests++;
    bool adm = r->nseg >= 1 && !strcmp(r->seg[0], "_kubesim");
    int64_t start = now_us();
    uint64_t rv = ks_store_rv();
    cur_verb[0] = cur_resource[0] = '\0';
    dispatch(r, w);
    if (!adm)
        reqlog_add(r, w, start, rv);
}

static void seed_namespace(const char *name)
{
    json_t *o = json_pack("{s:{s:s}}", "metadata", "name", name);
    struct ks_req r;
    struct ks_resp w;
    memset(&r, 0, sizeof(r));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r.now_ms = (int64_t)ts.tv_sec * 1000;
    struct call c;
    memset(&c, 0, sizeof(c));
    memset(&w, 0, sizeof(w));
    c.r = &r;
    c.w = &w;
    c.rt = find_type("", "v1", "namespaces");
    do_create(&c, o);
    ks_resp_release(&w);
}

void ks_api_init(void)
{
    builtin("", "v1", "namespaces", "namespace", "Namespace", false, "ns");
    builtin("", "v1", "configmaps", "configmap", "ConfigMap", true, "cm");
    builtin("", "v1", "secrets", "secret", "Secret", true, NULL);
    builtin("", "v1", "events", "event", "Event", true, "ev");
    builtin("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, "sa");
    builtin("", "v1", "services", "service", "Service", true, "svc");
    builtin("", "v1", "pods", "pod", "Pod", true, "po");
    builtin("apps", "v1", "deployments", "deployment", "Deployment", true, "deploy");
    builtin("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, NULL);
    builtin("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget",
            true, "pdb");
    builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false,
            NULL);
    builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding",
            "ClusterRoleBinding", false, NULL);
    builtin("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, NULL);
    builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true,
            NULL);
    builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
            "CustomResourceDefinition", false, "crd crds");
    builtin("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "", "SelfSubjectAccessReview",
            false, NULL);
    ks_store_on_event = on_event;
    size_t n;
    json_t **crds = ks_store_list("apiextensions.k8s.io/customresourcedefinitions", NULL, &n);
    for (size_t i = 0; i < n; i++) /* state loaded from --state */
        crd_apply_type(crds[i]);
    free(crds);
    const char *seed[] = {"default", "kube-system", "kube-public"};
    for (size_t i = 0; i < sizeof(seed) / sizeof(seed[0]); i++)
        if (!ks_store_get("/namespaces", NULL, seed[i]))
            seed_namespace(seed[i]);
}

void ks_api_release(void)
{
    json_decref(denied);
    denied = NULL;
    free(reqlog);
    reqlog = NULL;
    nreqlog = 0;
    json_decref(applied_cfg);
    applied_cfg = NULL;
    while (watches)
        ks_watch_free(watches);
    for (int i = 0; i < ntypes; i++)
        rtype_free(types[i]);
    ntypes = 0;
}
