/*
 * core.c - armsim framework: world lifecycle, routing and dispatch, request/response helpers,
 * simulated time, seeded randomness, scheduled transitions, LROs, hooks, faults, log, snapshot.
 * See armsim.h for the contract.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "armsim_int.h"
#include "simurl.h"

/* ---------------------------------------------------------------- small map */

struct as_map_slot {
    char *key;
    void *val;
};

struct as_map {
    struct as_map_slot *slots;
    size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

struct as_map *as_map_new(void)
{
    struct as_map *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->cap = 64;
    m->slots = calloc(m->cap, sizeof(*m->slots));
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void as_map_free(struct as_map *m, void (*free_val)(void *))
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key) {
            free(m->slots[i].key);
            if (free_val)
                free_val(m->slots[i].val);
        }
    }
    free(m->slots);
    free(m);
}

static size_t map_find(const struct as_map *m, const char *key)
{
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->slots[i].key && strcmp(m->slots[i].key, key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

void *as_map_get(const struct as_map *m, const char *key)
{
    size_t i = map_find(m, key);
    return m->slots[i].key ? m->slots[i].val : NULL;
}

static int map_grow(struct as_map *m)
{
    struct as_map_slot *old = m->slots;
    size_t oldcap = m->cap;
    struct as_map_slot *ns = calloc(oldcap * 2, sizeof(*ns));
    if (!ns)
        return -1;
    m->slots = ns;
    m->cap = oldcap * 2;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].key) {
            size_t j = map_find(m, old[i].key);
            m->slots[j] = old[i];
        }
    }
    free(old);
    return 0;
}

int as_map_put(struct as_map *m, const char *key, void *val)
{
    if ((m->n + 1) * 2 > m->cap && map_grow(m) < 0)
        return -1;
    size_t i = map_find(m, key);
    if (m->slots[i].key) {
        m->slots[i].val = val;
        return 0;
    }
    m->slots[i].key = strdup(key);
    if (!m->slots[i].key)
        return -1;
    m->slots[i].val = val;
    m->n++;
    return 0;
}

void *as_map_del(struct as_map *m, const char *key)
{
    size_t i = map_find(m, key);
    if (!m->slots[i].key)
        return NULL;
    void *val = m->slots[i].val;
    free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->n--;
    /* re-insert the cluster that follows */
    size_t j = (i + 1) & (m->cap - 1);
    while (m->slots[j].key) {
        struct as_map_slot s = m->slots[j];
        m->slots[j].key = NULL;
        size_t k = map_find(m, s.key);
        m->slots[k] = s;
        j = (j + 1) & (m->cap - 1);
    }
    return val;
}

int as_map_next(const struct as_map *m, size_t *i, const char **ret_key, void **ret_val)
{
    while (*i < m->cap) {
        size_t k = (*i)++;
        if (m->slots[k].key) {
            *ret_key = m->slots[k].key;
            *ret_val = m->slots[k].val;
            return 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- json helpers */

const char *as__jstr(json_t *o, const char *key)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

void as__norm_location(json_t *body)
{
    const char *loc = as__jstr(body, "location");
    if (!loc)
        return;
    char buf[128];
    size_t n = 0;
    for (const char *p = loc; *p && n + 1 < sizeof(buf); p++)
        if (*p != ' ')
            buf[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
    buf[n] = 0;
    json_object_set_new(body, "location", json_string(buf));
}

void as__merge_patch(json_t *target, json_t *patch)
{
    const char *k;
    json_t *v;
    if (!json_is_object(target) || !json_is_object(patch))
        return;
    json_object_foreach(patch, k, v)
    {
        if (json_is_null(v)) {
            json_object_del(target, k);
        } else if (json_is_object(v) && json_is_object(json_object_get(target, k))) {
            as__merge_patch(json_object_get(target, k), v);
        } else {
            json_object_set(target, k, v);
        }
    }
}

/* ---------------------------------------------------------------- time */

static int64_t real_clock(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t as__real_ms(const struct armsim *sim)
{
    return sim->clock_fn(sim->clock_ud);
}

int64_t as_now(const struct armsim *sim)
{
    int64_t real = as__real_ms(sim);
    return sim->base_sim_ms + (int64_t)((double)(real - sim->base_real_ms) * sim->scale);
}

void as_time_set_scale(struct armsim *sim, double scale)
{
    if (!(scale > 0) || scale > 1e7)
        return;
    int64_t now = as_now(sim);
    sim->base_real_ms = as__real_ms(sim);
    sim->base_sim_ms = now;
    sim->scale = scale;
}

double as_time_scale(const struct armsim *sim)
{
    return sim->scale;
}

void as_time_advance(struct armsim *sim, int64_t ms)
{
    if (ms > 0)
        sim->base_sim_ms += ms;
}

void as_time_set_clock(struct armsim *sim, int64_t (*real_ms)(void *ud), void *ud)
{
    int64_t now = as_now(sim);
    sim->clock_fn = real_ms ? real_ms : real_clock;
    sim->clock_ud = ud;
    sim->base_real_ms = as__real_ms(sim);
    sim->base_sim_ms = now;
}

int64_t as_sim_to_real_ms(const struct armsim *sim, int64_t sim_ms)
{
    return (int64_t)((double)sim_ms / sim->scale);
}

void as_time_format(int64_t ms, char *buf, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03d0000+00:00", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* ---------------------------------------------------------------- randomness */

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ull;
}

uint64_t as_rand(struct armsim *sim)
{
    return xorshift(&sim->rng);
}

double as_rand01(struct armsim *sim)
{
    return (double)(as_rand(sim) >> 11) / 9007199254740992.0;
}

static void uuid_from(uint64_t a, uint64_t b, char *buf, size_t size)
{
    snprintf(buf, size, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)((a >> 16) & 0xffff), (unsigned)(a & 0xfff),
             (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffull));
}

void as_uuid(struct armsim *sim, char *buf, size_t size)
{
    uint64_t a = xorshift(&sim->id_rng), b = xorshift(&sim->id_rng);
    uuid_from(a, b, buf, size);
}

/* ---------------------------------------------------------------- request helpers */

const char *as_query(const struct as_req *r, const char *name)
{
    for (int i = 0; i < r->nquery; i++)
        if (strcasecmp(r->query[i].name, name) == 0)
            return r->query[i].value;
    return NULL;
}

const char *as_param(const struct as_req *r, const char *name)
{
    for (int i = 0; i < r->nparam; i++)
        if (strcmp(r->param[i].name, name) == 0)
            return r->param[i].value;
    return NULL;
}

/* In-place percent-decoding; '+' becomes ' ' when plus is set. */
int as_req_parse_target(struct as_req *r, const char *target, char *buf, size_t size)
{
    size_t len = strlen(target);
    if (len + 1 > size)
        return -1;
    memcpy(buf, target, len + 1);
    char *q = strchr(buf, '?');
    r->nquery = 0;
    if (q) {
        const char *names[AS_MAX_QUERY], *values[AS_MAX_QUERY];

        *q++ = 0;
        r->nquery = simurl_query(q, names, values, AS_MAX_QUERY);
        for (int i = 0; i < r->nquery; i++) {
            r->query[i].name = names[i];
            r->query[i].value = values[i];
        }
    }
    simurl_pct_decode(buf, false);
    r->path = buf;
    /* segments live in a second copy after the path */
    size_t plen = strlen(buf);
    char *segbuf = buf + len + 1;
    if (len + 1 + plen + 1 > size)
        return -1;
    memcpy(segbuf, buf, plen + 1);
    r->nseg = 0;
    char *save = NULL;
    for (char *s = strtok_r(segbuf, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (r->nseg >= AS_MAX_SEGS)
            return -1;
        r->seg[r->nseg++] = s;
    }
    return 0;
}

char *as_url(const struct as_req *r, const char *path_and_query)
{
    const char *host = r->host && *r->host ? r->host : "127.0.0.1";
    size_t n = strlen(host) + strlen(path_and_query) + 16;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s://%s%s", r->scheme ? r->scheme : "https", host, path_and_query);
    return s;
}

void as_rg_id(const struct as_req *r, char *buf, size_t size)
{
    const char *sub = as_param(r, "sub"), *rg = as_param(r, "rg");
    snprintf(buf, size, "/subscriptions/%s/resourceGroups/%s", sub ? sub : "", rg ? rg : "");
}

/* ---------------------------------------------------------------- response helpers */

void as_resp_json(struct as_resp *w, int status, json_t *body)
{
    json_decref(w->json);
    free(w->raw);
    w->raw = NULL;
    w->json = body;
    w->status = status;
}

void as_resp_empty(struct as_resp *w, int status)
{
    as_resp_json(w, status, NULL);
}

void as_resp_header(struct as_resp *w, const char *name, const char *fmt, ...)
{
    char val[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    for (int i = 0; i < w->nheaders; i++) {
        if (strcasecmp(w->hname[i], name) == 0) {
            char *v = strdup(val);
            if (v) {
                free(w->hval[i]);
                w->hval[i] = v;
            }
            return;
        }
    }
    if (w->nheaders >= AS_MAX_RESP_HEADERS)
        return;
    char *n = strdup(name), *v = strdup(val);
    if (!n || !v) {
        free(n);
        free(v);
        return;
    }
    w->hname[w->nheaders] = n;
    w->hval[w->nheaders] = v;
    w->nheaders++;
}

void as_resp_release(struct as_resp *w)
{
    json_decref(w->json);
    free(w->raw);
    for (int i = 0; i < w->nheaders; i++) {
        free(w->hname[i]);
        free(w->hval[i]);
    }
    memset(w, 0, sizeof(*w));
}

int as_resp_error(struct as_resp *w, int status, const char *code, const char *target,
                  const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", msg);
    if (e && target)
        json_object_set_new(e, "target", json_string(target));
    as_resp_json(w, status, e ? json_pack("{s:o}", "error", e) : NULL);
    return 0;
}

int as_resp_not_found(struct as_resp *w, const char *type, const char *name, const char *rg)
{
    as_resp_header(w, "x-ms-failure-cause", "gateway");
    return as_resp_error(w, 404, "ResourceNotFound", NULL,
                         "The Resource '%s/%s' under resource group '%s' was not found. For "
                         "more details please go to https://aka.ms/ARMResourceNotFoundFix",
                         type, name, rg ? rg : "");
}

int as_resp_rg_not_found(struct as_resp *w, const char *rg)
{
    as_resp_header(w, "x-ms-failure-cause", "gateway");
    return as_resp_error(w, 404, "ResourceGroupNotFound", NULL,
                         "Resource group '%s' could not be found.", rg ? rg : "");
}

int as_resp_parent_not_found(struct as_resp *w, const char *parent_type, const char *parent_name)
{
    return as_resp_error(w, 404, "ParentResourceNotFound", NULL,
                         "Can not perform requested operation on nested resource. Parent "
                         "resource '%s%s%s' not found.",
                         parent_type ? parent_type : "", parent_type ? "/" : "", parent_name);
}

size_t as_page_offset(const struct as_req *r)
{
    const char *t = as_query(r, "$skiptoken");
    if (!t)
        return 0;
    char *end;
    unsigned long long v = strtoull(t, &end, 10);
    return *end ? 0 : (size_t)v;
}

size_t as_page_size(const struct armsim *sim)
{
    return sim->cfg.page_size > 0 ? (size_t)sim->cfg.page_size : 100;
}

void as_resp_list(struct armsim *sim, const struct as_req *r, struct as_resp *w, json_t *page,
                  size_t next_offset)
{
    (void)sim;
    json_t *body = json_pack("{s:o}", "value", page ? page : json_array());
    if (body && next_offset) {
        char q[8192];
        size_t n = (size_t)snprintf(q, sizeof(q), "%s?", r->path);
        for (int i = 0; i < r->nquery && n < sizeof(q); i++) {
            if (strcasecmp(r->query[i].name, "$skiptoken") == 0)
                continue;
            /* re-encode conservatively */
            n += (size_t)snprintf(q + n, sizeof(q) - n, "%s=", r->query[i].name);
            for (const char *p = r->query[i].value; *p && n + 4 < sizeof(q); p++) {
                unsigned char c = (unsigned char)*p;
                if (isalnum(c) || strchr("-._~/:,", c))
                    q[n++] = (char)c;
                else
                    n += (size_t)snprintf(q + n, sizeof(q) - n, "%%%02X", c);
            }
            if (n + 1 < sizeof(q))
                q[n++] = '&';
            q[n] = 0;
        }
        if (n < sizeof(q))
            snprintf(q + n, sizeof(q) - n, "$skiptoken=%zu", next_offset);
        char *url = as_url(r, q);
        if (url)
            json_object_set_new(body, "nextLink", json_string(url));
        free(url);
    }
    as_resp_json(w, 200, body);
}

void as_resp_list_all(struct armsim *sim, const struct as_req *r, struct as_resp *w, json_t *all)
{
    size_t off = as_page_offset(r), ps = as_page_size(sim), n = json_array_size(all);
    json_t *page = json_array();
    for (size_t i = off; i < n && i < off + ps; i++)
        json_array_append(page, json_array_get(all, i));
    json_decref(all);
    as_resp_list(sim, r, w, page, off + ps < n ? off + ps : 0);
}

/* ---------------------------------------------------------------- routes */

int as_route(struct armsim *sim, const char *method, const char *pattern, as_handler_cb h,
             unsigned flags, const char *api_versions, void *ud)
{
    if (sim->nroutes >= AS_MAX_ROUTES)
        return -1;
    struct as_route_ent *rt = &sim->routes[sim->nroutes];
    memset(rt, 0, sizeof(*rt));
    char *copy = strdup(pattern);
    if (!copy)
        return -1;
    char *save = NULL;
    for (char *s = strtok_r(copy, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (rt->nsegs >= AS_MAX_SEGS)
            break;
        if (strcmp(s, "{*rest}") == 0) {
            rt->rest = true;
            break;
        }
        rt->segs[rt->nsegs] = strdup(s);
        if (!rt->segs[rt->nsegs]) {
            free(copy);
            return -1;
        }
        rt->nsegs++;
    }
    free(copy);
    rt->method = method;
    rt->pattern = pattern;
    rt->h = h;
    rt->flags = flags;
    rt->apiv = api_versions;
    rt->ud = ud;
    sim->nroutes++;
    return 0;
}

void as_route_compute_policy(struct armsim *sim, const char *policy)
{
    if (sim->nroutes > 0)
        sim->routes[sim->nroutes - 1].policy = policy;
}

static void fix_param_names(struct as_route_ent *rt)
{
    /* strip the closing brace of capture segments once, so param names are plain */
    for (int i = 0; i < rt->nsegs; i++) {
        size_t l = strlen(rt->segs[i]);
        if (rt->segs[i][0] == '{' && l > 1 && rt->segs[i][l - 1] == '}')
            rt->segs[i][l - 1] = 0;
    }
}

static bool seg_is_capture(const char *s)
{
    return s[0] == '{';
}

static bool route_match(const struct as_route_ent *rt, struct as_req *r)
{
    if (rt->rest ? r->nseg < rt->nsegs : r->nseg != rt->nsegs)
        return false;
    r->nparam = 0;
    for (int i = 0; i < rt->nsegs; i++) {
        const char *p = rt->segs[i];
        if (seg_is_capture(p)) {
            if (r->nparam < AS_MAX_PARAMS) {
                r->param[r->nparam].name = p + 1;
                r->param[r->nparam].value = r->seg[i];
                r->nparam++;
            }
        } else if (strcasecmp(p, r->seg[i]) != 0) {
            return false;
        }
    }
    return true;
}

static bool apiv_ok(const char *list, const char *v)
{
    size_t vl = strlen(v);
    if (vl == 0 || vl > 32)
        return false;
    for (const char *p = list; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - p) == vl && strncasecmp(p, v, vl) == 0)
            return true;
        p = e;
    }
    return false;
}

/* ---------------------------------------------------------------- hooks */

int as_on_request(struct armsim *sim, as_request_cb cb, void *ud)
{
    if (sim->nhooks >= (int)(sizeof(sim->hooks) / sizeof(sim->hooks[0])))
        return -1;
    sim->hooks[sim->nhooks].cb = cb;
    sim->hooks[sim->nhooks].ud = ud;
    sim->nhooks++;
    return 0;
}

int as_snapshot_hook(struct armsim *sim, const char *name, as_save_cb save, as_load_cb load,
                     as_reset_cb reset)
{
    if (sim->nsnaps >= (int)(sizeof(sim->snaps) / sizeof(sim->snaps[0])))
        return -1;
    struct as_snap_hook *h = &sim->snaps[sim->nsnaps++];
    h->name = name;
    h->save = save;
    h->load = load;
    h->reset = reset;
    return 0;
}

/* ---------------------------------------------------------------- schedule (min-heap) */

static bool sched_less(const struct as_sched_ent *a, const struct as_sched_ent *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

int as_sched_handler(struct armsim *sim, const char *name, as_sched_cb cb)
{
    for (int i = 0; i < sim->nsched_h; i++) {
        if (strcmp(sim->sched_h[i].name, name) == 0) {
            sim->sched_h[i].cb = cb;
            return 0;
        }
    }
    if (sim->nsched_h >= (int)(sizeof(sim->sched_h) / sizeof(sim->sched_h[0])))
        return -1;
    sim->sched_h[sim->nsched_h].name = name;
    sim->sched_h[sim->nsched_h].cb = cb;
    sim->nsched_h++;
    return 0;
}

static const struct as_sched_h *sched_find(const struct armsim *sim, const char *name)
{
    for (int i = 0; i < sim->nsched_h; i++)
        if (strcmp(sim->sched_h[i].name, name) == 0)
            return &sim->sched_h[i];
    return NULL;
}

int as_sched_at(struct armsim *sim, int64_t at_ms, const char *name, const char *id, json_t *arg)
{
    const struct as_sched_h *h = sched_find(sim, name);
    if (!h) {
        json_decref(arg);
        return -1;
    }
    if (sim->nsched == sim->capsched) {
        size_t nc = sim->capsched ? sim->capsched * 2 : 64;
        struct as_sched_ent *ns = realloc(sim->sched, nc * sizeof(*ns));
        if (!ns) {
            json_decref(arg);
            return -1;
        }
        sim->sched = ns;
        sim->capsched = nc;
    }
    struct as_sched_ent e = {at_ms, sim->sched_seq++, h->name, strdup(id ? id : ""), arg};
    if (!e.id) {
        json_decref(arg);
        return -1;
    }
    size_t i = sim->nsched++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!sched_less(&e, &sim->sched[p]))
            break;
        sim->sched[i] = sim->sched[p];
        i = p;
    }
    sim->sched[i] = e;
    return 0;
}

static struct as_sched_ent sched_pop(struct armsim *sim)
{
    struct as_sched_ent top = sim->sched[0];
    struct as_sched_ent last = sim->sched[--sim->nsched];
    size_t i = 0, n = sim->nsched;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct as_sched_ent *best = &last;
        if (l < n && sched_less(&sim->sched[l], best)) {
            m = l;
            best = &sim->sched[l];
        }
        if (r < n && sched_less(&sim->sched[r], best))
            m = r;
        if (m == i)
            break;
        sim->sched[i] = sim->sched[m];
        i = m;
    }
    if (n > 0)
        sim->sched[i] = last;
    return top;
}

void as_sched_run(struct armsim *sim)
{
    int64_t now = as_now(sim);
    int guard = 100000;
    while (sim->nsched > 0 && sim->sched[0].at <= now && guard-- > 0) {
        struct as_sched_ent e = sched_pop(sim);
        const struct as_sched_h *h = sched_find(sim, e.name);
        if (h && h->cb)
            h->cb(sim, e.id, e.arg);
        free(e.id);
        json_decref(e.arg);
    }
}

static void sched_clear(struct armsim *sim)
{
    for (size_t i = 0; i < sim->nsched; i++) {
        free(sim->sched[i].id);
        json_decref(sim->sched[i].arg);
    }
    sim->nsched = 0;
}

/* ---------------------------------------------------------------- LROs */

void as_lro_set_retry_after(struct armsim *sim, int seconds)
{
    if (seconds >= 0 && seconds <= 600)
        sim->retry_after_s = seconds;
}

const char *as_lro_begin(struct armsim *sim, const struct as_req *r, struct as_resp *w,
                         const struct as_lro *lro, json_t *body)
{
    char opid[40], path[1024];
    as_uuid(sim, opid, sizeof(opid));
    int64_t now = as_now(sim);
    const char *sub = as_param(r, "sub");
    const char *apiv = as_query(r, "api-version");
    json_t *op =
        json_pack("{s:s?, s:I, s:I, s:i, s:s?, s:s?, s:s?}", "resourceId", lro->resource_id,
                  "start", (json_int_t)now, "end", (json_int_t)(now + lro->duration_ms),
                  "finalStatus", lro->final_status ? lro->final_status : 200, "failCode",
                  lro->fail_code, "failMessage", lro->fail_message, "sub", sub);
    if (!op || json_object_set_new(sim->ops, opid, op) < 0) {
        json_decref(body);
        json_decref(lro->on_done_arg);
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return NULL;
    }
    if (lro->on_done)
        as_sched_at(sim, now + lro->duration_ms, lro->on_done, lro->resource_id, lro->on_done_arg);
    else
        json_decref(lro->on_done_arg);
    bool rg_style = lro->style == AS_LRO_LOCATION && lro->provider &&
                    strcmp(lro->provider, "Microsoft.Resources") == 0;
    if (rg_style) /* resource group deletes poll .../operationresults/{token} */
        snprintf(path, sizeof(path), "/subscriptions/%s/operationresults/%s",
                 sub ? sub : "00000000-0000-0000-0000-000000000000", opid);
    else
        snprintf(path, sizeof(path), "/subscriptions/%s/providers/%s/locations/%s/operations/%s",
                 sub ? sub : "00000000-0000-0000-0000-000000000000",
                 lro->provider ? lro->provider : "Microsoft.Resources",
                 lro->location ? lro->location : "westus", opid);
    as_resp_json(w, lro->status ? lro->status : 202, body);
    char pq[1200];
    if (lro->style & AS_LRO_ASYNC) {
        snprintf(pq, sizeof(pq), "%s?api-version=%s", path, apiv ? apiv : "2024-11-01");
        char *u = as_url(r, pq);
        if (u)
            as_resp_header(w, "Azure-AsyncOperation", "%s", u);
        free(u);
    }
    if (lro->style & AS_LRO_LOCATION) {
        snprintf(pq, sizeof(pq), "%s?%sapi-version=%s", path, rg_style ? "" : "monitor=true&",
                 apiv ? apiv : "2024-11-01");
        char *u = as_url(r, pq);
        if (u)
            as_resp_header(w, "Location", "%s", u);
        free(u);
    }
    as_resp_header(w, "Retry-After", "%d", sim->retry_after_s);
    const char *k;
    void *it = json_object_iter_at(sim->ops, opid);
    k = it ? json_object_iter_key(it) : NULL;
    return k;
}

int as_lro_fail(struct armsim *sim, const char *op_id, const char *code, const char *message)
{
    json_t *op = json_object_get(sim->ops, op_id);
    if (!op)
        return -1;
    json_object_set_new(op, "failCode", json_string(code ? code : "InternalOperationError"));
    json_object_set_new(op, "failMessage", json_string(message ? message : "failed"));
    return 0;
}

/* GET .../providers/{ns}/locations/{loc}/operations/{op} (both styles: monitor=true = Location) */
static void h_operation(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    const char *opid = as_param(r, "op");
    json_t *op = json_object_get(sim->ops, opid);
    const char *osub = as__jstr(op, "sub");
    if (!op || (osub && strcasecmp(osub, as_param(r, "sub")) != 0)) {
        as_resp_error(w, 404, "NotFound", NULL, "The operation '%s' was not found.", opid);
        return;
    }
    int64_t now = r->now_ms, start = json_integer_value(json_object_get(op, "start")),
            end = json_integer_value(json_object_get(op, "end"));
    const char *fail = as__jstr(op, "failCode");
    bool done = now >= end;
    const char *mon = as_query(r, "monitor");
    if (r->nseg == 4 && strcasecmp(r->seg[2], "operationresults") == 0)
        mon = "true";
    char ts[48], te[48];
    as_time_format(start, ts, sizeof(ts));
    as_time_format(end, te, sizeof(te));
    if (mon && strcasecmp(mon, "true") == 0) {
        if (!done) {
            as_resp_empty(w, 202);
            as_resp_header(w, "Retry-After", "%d", sim->retry_after_s);
            return;
        }
        if (fail) {
            as_resp_error(w, 500, fail, NULL, "%s", as__jstr(op, "failMessage"));
            return;
        }
        int fs = (int)json_integer_value(json_object_get(op, "finalStatus"));
        const char *rid = as__jstr(op, "resourceId");
        if (fs == 200 && rid) {
            struct as_res *e = as_store_get(sim, rid);
            if (e) {
                as_resp_json(w, 200, json_deep_copy(e->body));
                return;
            }
        }
        as_resp_empty(w, fs == 200 ? 200 : fs);
        return;
    }
    json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "name", opid, "status",
                          !done ? "InProgress" : (fail ? "Failed" : "Succeeded"), "startTime", ts,
                          "id", r->path);
    if (done)
        json_object_set_new(b, "endTime", json_string(te));
    if (done && fail)
        json_object_set_new(
            b, "error",
            json_pack("{s:s, s:s}", "code", fail, "message",
                      as__jstr(op, "failMessage") ? as__jstr(op, "failMessage") : "failed"));
    if (!done) {
        int pct = end > start ? (int)((now - start) * 100 / (end - start)) : 0;
        json_object_set_new(b, "percentComplete", json_integer(pct));
        as_resp_header(w, "Retry-After", "%d", sim->retry_after_s);
    }
    as_resp_json(w, 200, b);
}

/* ---------------------------------------------------------------- faults */

int as__faults_parse(struct armsim *sim, const char *spec, char *err, size_t errsize)
{
    struct as_fault_rule rules[AS_MAX_FAULTS];
    int n = 0;
    char buf[4096];
    if (strlen(spec) >= sizeof(buf)) {
        snprintf(err, errsize, "spec too long");
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", spec);
    char *save = NULL;
    for (char *rule = strtok_r(buf, ";", &save); rule; rule = strtok_r(NULL, ";", &save)) {
        while (*rule == ' ')
            rule++;
        if (!*rule)
            continue;
        if (n >= AS_MAX_FAULTS) {
            snprintf(err, errsize, "too many rules (max %d)", AS_MAX_FAULTS);
            return -1;
        }
        struct as_fault_rule *f = &rules[n];
        memset(f, 0, sizeof(*f));
        char *colon = strrchr(rule, ':');
        if (!colon) {
            snprintf(err, errsize, "rule '%s': expected [METHOD ]GLOB:KIND=VALUE,...", rule);
            return -1;
        }
        *colon = 0;
        char *sp = strchr(rule, ' ');
        const char *glob = rule;
        if (sp) {
            *sp = 0;
            snprintf(f->method, sizeof(f->method), "%s", rule);
            glob = sp + 1;
        }
        snprintf(f->glob, sizeof(f->glob), "%s", glob);
        char *s2 = NULL;
        for (char *kv = strtok_r(colon + 1, ",", &s2); kv; kv = strtok_r(NULL, ",", &s2)) {
            char *eq = strchr(kv, '=');
            if (!eq) {
                snprintf(err, errsize, "'%s': expected KIND=VALUE", kv);
                return -1;
            }
            *eq++ = 0;
            char *end;
            double v = strtod(eq, &end);
            if (*end || v < 0) {
                snprintf(err, errsize, "'%s': bad value '%s'", kv, eq);
                return -1;
            }
            if (strcmp(kv, "latency") == 0) {
                f->latency_ms = (int64_t)v;
                continue;
            }
            if (v > 1) {
                snprintf(err, errsize, "'%s': probability above 1", kv);
                return -1;
            }
            if (strcmp(kv, "500") == 0)
                f->p500 = v;
            else if (strcmp(kv, "503") == 0)
                f->p503 = v;
            else if (strcmp(kv, "429") == 0)
                f->p429 = v;
            else if (strcmp(kv, "reset") == 0)
                f->preset = v;
            else {
                snprintf(err, errsize, "unknown fault kind '%s' (500, 503, 429, reset, latency)",
                         kv);
                return -1;
            }
        }
        n++;
    }
    memcpy(sim->faults, rules, sizeof(rules[0]) * (size_t)n);
    sim->nfaults = n;
    return 0;
}

json_t *as__faults_json(const struct armsim *sim)
{
    json_t *a = json_array();
    for (int i = 0; i < sim->nfaults; i++) {
        const struct as_fault_rule *f = &sim->faults[i];
        json_array_append_new(a, json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:I}", "method",
                                           f->method, "path", f->glob, "500", f->p500, "503",
                                           f->p503, "429", f->p429, "reset", f->preset, "latency",
                                           (json_int_t)f->latency_ms));
    }
    return a;
}

/* Returns true when a fault answered the request. */
static bool apply_faults(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    for (int i = 0; i < sim->nfaults; i++) {
        const struct as_fault_rule *f = &sim->faults[i];
        if (f->method[0] && strcasecmp(f->method, r->method) != 0)
            continue;
        if (fnmatch(f->glob, r->path, FNM_CASEFOLD) != 0)
            continue;
        if (f->latency_ms > 0)
            w->delay_ms += f->latency_ms;
        double x = as_rand01(sim);
        if (x < f->preset) {
            w->reset = true;
            as_resp_empty(w, 599);
            return true;
        }
        x -= f->preset;
        if (x < f->p500) {
            as_resp_error(w, 500, "InternalServerError", NULL,
                          "Encountered internal server error. Diagnostic information: timestamp "
                          "'%lld', request id '%s'.",
                          (long long)r->now_ms, r->request_id);
            return true;
        }
        x -= f->p500;
        if (x < f->p503) {
            as_resp_error(w, 503, "ServiceUnavailable", NULL,
                          "The service is temporarily unavailable. Please try again later.");
            as_resp_header(w, "Retry-After", "1");
            return true;
        }
        x -= f->p503;
        if (x < f->p429) {
            as_resp_error(w, 429, "TooManyRequests", NULL,
                          "The request is being throttled (injected fault). Please try again "
                          "after '1' seconds.");
            as_resp_header(w, "Retry-After", "1");
            return true;
        }
        return false; /* first matching rule decides */
    }
    return false;
}

/* ---------------------------------------------------------------- log and counters */

void as__count(struct armsim *sim, const char *method, const char *route, int status)
{
    char st[8];
    snprintf(st, sizeof(st), "%d", status);
    const char *keys[3] = {"method", "route", "status"};
    const char *vals[3] = {method, route, st};
    for (int i = 0; i < 3; i++) {
        json_t *o = json_object_get(sim->counters, keys[i]);
        json_t *c = json_object_get(o, vals[i]);
        if (c)
            json_integer_set(c, json_integer_value(c) + 1);
        else
            json_object_set_new(o, vals[i], json_integer(1));
    }
}

void as__log(struct armsim *sim, const struct as_req *r, int status)
{
    if (!sim->log)
        return;
    size_t idx = (sim->log_head + sim->log_count) % AS_LOG_MAX;
    if (sim->log_count == AS_LOG_MAX)
        sim->log_head = (sim->log_head + 1) % AS_LOG_MAX;
    else
        sim->log_count++;
    struct as_log_ent *e = &sim->log[idx];
    e->sim_ms = r->now_ms;
    e->real_ms = as__real_ms(sim);
    snprintf(e->method, sizeof(e->method), "%s", r->method);
    snprintf(e->path, sizeof(e->path), "%s", r->path);
    e->status = status;
    snprintf(e->principal, sizeof(e->principal), "%s", r->principal ? r->principal : "");
    sim->log_total++;
}

/* ---------------------------------------------------------------- auth */

static bool authenticate(struct armsim *sim, struct as_req *r, struct as_resp *w, char *principal,
                         size_t psize)
{
    const char *auth = as_header(r, "authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 || !auth[7]) {
        as_resp_error(w, 401, "AuthenticationFailed", NULL,
                      "Authentication failed. The 'Authorization' header is missing.");
        as_resp_header(w, "WWW-Authenticate",
                       "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", "
                       "error=\"invalid_token\", error_description=\"The authentication "
                       "failed because of missing 'Authorization' header.\"");
        return false;
    }
    int rc = as__token_check(sim, auth + 7, principal, psize);
    if (rc == -2) {
        as_resp_error(w, 401, "ExpiredAuthenticationToken", NULL,
                      "The access token expiry UTC time is earlier than current UTC time.");
        return false;
    }
    if (rc < 0) {
        as_resp_error(w, 401, "InvalidAuthenticationToken", NULL, "The access token is invalid.");
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- dispatch */

static const char *op_type(const char *method)
{
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return "reads";
    if (strcmp(method, "DELETE") == 0)
        return "deletes";
    return "writes";
}

static void unmatched(struct armsim *sim, struct as_req *r, struct as_resp *w, bool path_matched)
{
    (void)sim;
    if (path_matched) {
        as_resp_error(w, 405, "MethodNotAllowed", NULL,
                      "The requested resource does not support http method '%s'.", r->method);
        return;
    }
    const char *apiv = as_query(r, "api-version");
    if (r->nseg >= 1 && strcasecmp(r->seg[0], "subscriptions") == 0) {
        if (!apiv) {
            as_resp_error(w, 400, "MissingApiVersionParameter", NULL,
                          "The api-version query parameter (?api-version=) is required for all "
                          "requests.");
            return;
        }
        /* find a provider namespace */
        for (int i = 0; i + 2 < r->nseg; i++) {
            if (strcasecmp(r->seg[i], "providers") == 0) {
                as_resp_error(w, 400, "NoRegisteredProviderFound", NULL,
                              "No registered resource provider found for location 'westus' and "
                              "API version '%s' for type '%s'.",
                              apiv, r->seg[i + 2]);
                return;
            }
        }
        as_resp_error(w, 404, "InvalidResourceType", NULL,
                      "The resource type could not be found in the namespace for api version "
                      "'%s'.",
                      apiv);
        return;
    }
    as_resp_error(w, 404, "NotFound", NULL, "No route for %s %s.", r->method, r->path);
}

void armsim_dispatch(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char rid[40], cid[40], principal[128] = "";
    as_sched_run(sim);
    r->now_ms = as_now(sim);
    as_uuid(sim, rid, sizeof(rid));
    r->request_id = rid;
    const char *ccid = as_header(r, "x-ms-correlation-request-id");
    if (ccid && *ccid && strlen(ccid) < sizeof(cid)) {
        snprintf(cid, sizeof(cid), "%s", ccid);
    } else {
        snprintf(cid, sizeof(cid), "%s", rid);
    }
    r->correlation_id = cid;
    if (!r->principal)
        r->principal = "";
    bool imds = r->scheme && strcmp(r->scheme, "http") == 0;

    struct as_route_ent *rt = NULL;
    bool path_matched = false;
    for (int i = 0; i < sim->nroutes; i++) {
        struct as_route_ent *c = &sim->routes[i];
        if (((c->flags & AS_IMDS) != 0) != imds)
            continue;
        if (!route_match(c, r))
            continue;
        if (strcmp(c->method, "*") != 0 && strcmp(c->method, r->method) != 0 &&
            !(strcmp(c->method, "GET") == 0 && strcmp(r->method, "HEAD") == 0 &&
              c->flags & AS_ADMIN)) {
            path_matched = true;
            continue;
        }
        rt = c;
        break;
    }
    const char *route_name = rt ? rt->pattern : "unmatched";
    if (!rt) {
        unmatched(sim, r, w, path_matched);
    } else {
        r->route_ud = rt->ud;
        bool go = true;
        if (rt->apiv) {
            const char *apiv = as_query(r, "api-version");
            if (!apiv) {
                as_resp_error(w, 400, "MissingApiVersionParameter", NULL,
                              "The api-version query parameter (?api-version=) is required for "
                              "all requests.");
                go = false;
            } else if (!apiv_ok(rt->apiv, apiv)) {
                as_resp_error(w, 400, "InvalidApiVersionParameter", NULL,
                              "The api-version '%s' is invalid. The supported versions are '%s'.",
                              apiv, rt->apiv);
                go = false;
            }
        }
        if (go && (rt->flags & AS_ARM)) {
            if (!authenticate(sim, r, w, principal, sizeof(principal)))
                go = false;
            else
                r->principal = principal;
        }
        if (go && (rt->flags & AS_ARM)) {
            w->throttle_op = op_type(r->method);
            if (!as__throttle_charge(sim, r, w, rt))
                go = false;
        }
        if (go && !(rt->flags & AS_ADMIN) && apply_faults(sim, r, w))
            go = false;
        if (go) {
            rt->h(sim, r, w);
            if (!w->status)
                as_resp_error(w, 500, "InternalServerError", NULL, "handler gave no answer");
        }
    }
    as_resp_header(w, "x-ms-request-id", "%s", rid);
    as_resp_header(w, "x-ms-correlation-request-id", "%s", cid);
    as_resp_header(w, "x-ms-routing-request-id", "WESTUS:%lld:%s", (long long)(r->now_ms / 1000),
                   rid);
    const char *ccrid = as_header(r, "x-ms-client-request-id");
    const char *ret = as_header(r, "x-ms-return-client-request-id");
    if (ccrid && ret && strcasecmp(ret, "true") == 0 && strlen(ccrid) < 128)
        as_resp_header(w, "x-ms-client-request-id", "%s", ccrid);
    if (!rt || !(rt->flags & AS_ADMIN)) {
        as__count(sim, r->method, route_name, w->status);
        if (!rt || !(rt->flags & AS_NOLOG))
            as__log(sim, r, w->status);
        for (int i = 0; i < sim->nhooks; i++)
            sim->hooks[i].cb(sim, r, w, sim->hooks[i].ud);
    }
    r->principal = r->principal == principal ? NULL : r->principal;
}

/* ---------------------------------------------------------------- snapshot */

json_t *armsim_snapshot(struct armsim *sim)
{
    json_t *s = json_object();
    json_t *res = json_array();
    for (size_t i = 0; i < sim->nres; i++) {
        struct as_res *e = sim->res[i];
        json_array_append_new(res, json_pack("{s:s, s:O, s:I, s:I}", "id", e->id, "body", e->body,
                                             "etag", (json_int_t)e->etag, "created",
                                             (json_int_t)e->created_ms));
    }
    json_object_set_new(s, "resources", res);
    json_object_set(s, "ops", sim->ops);
    json_t *sch = json_array();
    for (size_t i = 0; i < sim->nsched; i++) {
        struct as_sched_ent *e = &sim->sched[i];
        json_array_append_new(sch, json_pack("{s:I, s:s, s:s, s:O?}", "at", (json_int_t)e->at,
                                             "name", e->name, "id", e->id, "arg", e->arg));
    }
    json_object_set_new(s, "schedule", sch);
    json_object_set_new(s, "now", json_integer(as_now(sim)));
    json_object_set_new(s, "scale", json_real(sim->scale));
    json_t *mods = json_object();
    for (int i = 0; i < sim->nsnaps; i++) {
        if (sim->snaps[i].save) {
            json_t *v = sim->snaps[i].save(sim);
            if (v)
                json_object_set_new(mods, sim->snaps[i].name, v);
        }
    }
    json_object_set_new(s, "modules", mods);
    return s;
}

void armsim_reset(struct armsim *sim)
{
    as__store_clear(sim);
    sched_clear(sim);
    json_object_clear(sim->ops);
    as__throttle_reset(sim->thr);
    sim->log_head = sim->log_count = 0;
    json_object_clear(json_object_get(sim->counters, "method"));
    json_object_clear(json_object_get(sim->counters, "route"));
    json_object_clear(json_object_get(sim->counters, "status"));
    for (int i = 0; i < sim->nsnaps; i++)
        if (sim->snaps[i].reset)
            sim->snaps[i].reset(sim);
}

int armsim_restore(struct armsim *sim, json_t *snap)
{
    if (!json_is_object(snap) || !json_is_array(json_object_get(snap, "resources")))
        return -1;
    armsim_reset(sim);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(snap, "resources"), i, v)
    {
        const char *id = as__jstr(v, "id");
        json_t *body = json_object_get(v, "body");
        if (!id || !json_is_object(body))
            continue;
        struct as_res *e = as_store_put(sim, id, json_deep_copy(body), NULL);
        if (e) {
            e->etag = (uint64_t)json_integer_value(json_object_get(v, "etag"));
            e->created_ms = json_integer_value(json_object_get(v, "created"));
        }
    }
    json_t *ops = json_object_get(snap, "ops");
    if (json_is_object(ops))
        json_object_update(sim->ops, ops);
    json_t *now = json_object_get(snap, "now");
    if (json_is_integer(now)) {
        sim->base_real_ms = as__real_ms(sim);
        sim->base_sim_ms = json_integer_value(now);
    }
    json_array_foreach(json_object_get(snap, "schedule"), i, v)
    {
        json_t *arg = json_object_get(v, "arg");
        as_sched_at(sim, json_integer_value(json_object_get(v, "at")), as__jstr(v, "name"),
                    as__jstr(v, "id"), arg ? json_deep_copy(arg) : NULL);
    }
    json_t *mods = json_object_get(snap, "modules");
    for (int k = 0; k < sim->nsnaps; k++)
        if (sim->snaps[k].load)
            sim->snaps[k].load(sim, json_object_get(mods, sim->snaps[k].name));
    return 0;
}

/* ---------------------------------------------------------------- lifecycle */

/* "generic.provisioned": properties.provisioningState -> arg or "Succeeded" */
static void sched_provisioned(struct armsim *sim, const char *id, json_t *arg)
{
    struct as_res *e = as_store_get(sim, id);
    if (!e)
        return;
    json_t *props = json_object_get(e->body, "properties");
    if (!json_is_object(props))
        return;
    json_object_set_new(props, "provisioningState",
                        json_string(json_is_string(arg) ? json_string_value(arg) : "Succeeded"));
}

/* "generic.delete": removes the resource (and nested ones). */
static void sched_delete(struct armsim *sim, const char *id, json_t *arg)
{
    (void)arg;
    as_store_del(sim, id);
}

struct armsim *armsim_new(const struct as_config *cfg)
{
    struct armsim *sim = calloc(1, sizeof(*sim));
    if (!sim)
        return NULL;
    sim->cfg = *cfg;
    if (!(sim->cfg.time_scale > 0))
        sim->cfg.time_scale = 1;
    if (sim->cfg.page_size <= 0)
        sim->cfg.page_size = 100;
    if (sim->cfg.provision_ms <= 0)
        sim->cfg.provision_ms = 30000;
    sim->clock_fn = real_clock;
    sim->scale = sim->cfg.time_scale;
    sim->base_real_ms = sim->base_sim_ms = real_clock(NULL);
    sim->rng = (sim->cfg.seed ? sim->cfg.seed : 1) * 0x9E3779B97F4A7C15ull;
    sim->id_rng = sim->rng ^ 0xD1B54A32D192ED03ull;
    sim->retry_after_s = 1;
    sim->ops = json_object();
    sim->counters = json_pack("{s:{}, s:{}, s:{}}", "method", "route", "status");
    sim->deny = json_object();
    sim->log = calloc(AS_LOG_MAX, sizeof(*sim->log));
    sim->thr = as__throttle_new();
    if (!sim->ops || !sim->counters || !sim->deny || !sim->log || !sim->thr) {
        armsim_free(sim);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(sim->token_key); i++)
        sim->token_key[i] = (unsigned char)(as_rand(sim) >> 24);
    as_sched_handler(sim, "generic.provisioned", sched_provisioned);
    as_sched_handler(sim, "generic.delete", sched_delete);
    as_route(sim, "GET", "/subscriptions/{sub}/providers/{ns}/locations/{loc}/operations/{op}",
             h_operation, AS_ARM, NULL, NULL);
    as_route(sim, "GET",
             "/subscriptions/{sub}/providers/{ns}/locations/{loc}/operationResults/{op}",
             h_operation, AS_ARM, NULL, NULL);
    as_route(sim, "GET", "/subscriptions/{sub}/operationresults/{op}", h_operation, AS_ARM, NULL,
             NULL);
#define ARMSIM_MODULE(f) f(sim);
#include "modules.h"
#undef ARMSIM_MODULE
    for (int i = 0; i < sim->nroutes; i++)
        fix_param_names(&sim->routes[i]);
    if (cfg->faults) {
        char err[256];
        if (as__faults_parse(sim, cfg->faults, err, sizeof(err)) < 0) {
            fprintf(stderr, "armsim: --faults: %s\n", err);
            armsim_free(sim);
            return NULL;
        }
    }
    return sim;
}

void armsim_free(struct armsim *sim)
{
    if (!sim)
        return;
    for (int i = 0; i < sim->nsnaps; i++)
        if (sim->snaps[i].reset)
            sim->snaps[i].reset(sim);
    if (sim->compute_free)
        sim->compute_free(sim->compute);
    as__store_clear(sim);
    free(sim->res);
    sched_clear(sim);
    free(sim->sched);
    json_decref(sim->ops);
    json_decref(sim->counters);
    json_decref(sim->deny);
    free(sim->log);
    as__throttle_free(sim->thr);
    for (int i = 0; i < sim->nroutes; i++)
        for (int j = 0; j < sim->routes[i].nsegs; j++)
            free(sim->routes[i].segs[j]);
    free(sim);
}

void armsim_stop(struct armsim *sim)
{
    sim->stop = 1;
}

int armsim_run(struct armsim *sim)
{
    return as__server_run(sim);
}

const char *(*as__hdr_lookup)(struct as_req *r, const char *name);

const char *as_header(struct as_req *r, const char *name)
{
    for (int i = 0; i < r->nhdr; i++)
        if (strcasecmp(r->hdr[i].name, name) == 0)
            return r->hdr[i].value;
    if (r->priv && as__hdr_lookup)
        return as__hdr_lookup(r, name);
    return NULL;
}
