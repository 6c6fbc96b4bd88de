/*
 * store.c - kubesim's object store: one json object map "<key>\x1f<ns>\x1f<name>" -> object, one
 * global resourceVersion counter and a bounded event history (kubesim.h states the contract).
 * When the history is full the oldest tenth is dropped and the compacted RV moves to the newest
 * dropped event, so watches from before it get 410.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kubesim.h"

void (*ks_store_on_event)(const struct ks_event *ev);

static json_t *objs;
static uint64_t cur_rv, compacted_rv;
static struct ks_event *hist;
static size_t nhist, hist_max;

void ks_store_init(size_t history_max)
{
    objs = json_object();
    hist_max = history_max ? history_max : 10000;
    hist = calloc(hist_max, sizeof(*hist));
    if (!objs || !hist) {
        fprintf(stderr, "kubesim: out of memory\n");
        exit(1);
    }
    cur_rv = 1;
}

static void ev_clear(struct ks_event *e)
{
    free(e->key);
    json_decref(e->obj);
    memset(e, 0, sizeof(*e));
}

void ks_store_release(void)
{
    for (size_t i = 0; i < nhist; i++)
        ev_clear(&hist[i]);
    free(hist);
    hist = NULL;
    nhist = 0;
    json_decref(objs);
    objs = NULL;
}

uint64_t ks_store_rv(void)
{
    return cur_rv;
}

uint64_t ks_store_next_rv(void)
{
    return ++cur_rv;
}

uint64_t ks_store_compacted_rv(void)
{
    return compacted_rv;
}

static void drop_oldest(size_t n)
{
    if (n > nhist)
        n = nhist;
    if (!n)
        return;
    compacted_rv = hist[n - 1].rv;
    for (size_t i = 0; i < n; i++)
        ev_clear(&hist[i]);
    memmove(hist, hist + n, (nhist - n) * sizeof(*hist));
    memset(hist + nhist - n, 0, n * sizeof(*hist));
    nhist -= n;
}

void ks_store_compact(void)
{
    drop_oldest(nhist);
    compacted_rv = cur_rv;
}

static int mkkey(char *buf, size_t size, const char *key, const char *ns, const char *name)
{
    int n = snprintf(buf, size, "%s\x1f%s\x1f%s", key, ns ? ns : "", name);
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

json_t *ks_store_get(const char *key, const char *ns, const char *name)
{
    char k[1024];
    if (mkkey(k, sizeof(k), key, ns, name) < 0)
        return NULL;
    return json_object_get(objs, k);
}

static uint64_t obj_rv(const json_t *obj)
{
    const char *s =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    return s ? strtoull(s, NULL, 10) : cur_rv;
}

static void record(const char *key, const char *type, const json_t *obj, json_t *prev)
{
    if (nhist == hist_max)
        drop_oldest(hist_max / 10 ? hist_max / 10 : 1);
    struct ks_event *e = &hist[nhist];
    e->rv = obj_rv(obj);
    snprintf(e->type, sizeof(e->type), "%s", type);
    e->key = strdup(key);
    e->obj = json_deep_copy(obj);
    if (!e->key || !e->obj) {
        ev_clear(e);
        return;
    }
    nhist++;
    e->prev = prev;
    if (ks_store_on_event)
        ks_store_on_event(e);
    e->prev = NULL;
}

int ks_store_put(const char *key, const char *ns, const char *name, json_t *obj, const char *type)
{
    char k[1024];
    if (mkkey(k, sizeof(k), key, ns, name) < 0) {
        json_decref(obj);
        return -1;
    }
    json_t *prev = json_incref(json_object_get(objs, k));
    if (json_object_set(objs, k, obj) < 0) {
        json_decref(prev);
        json_decref(obj);
        return -1;
    }
    record(key, type, obj, prev);
    json_decref(prev);
    json_decref(obj);
    return 0;
}

void ks_store_del(const char *key, const char *ns, const char *name, json_t *last_state)
{
    char k[1024];
    if (mkkey(k, sizeof(k), key, ns, name) == 0)
        json_object_del(objs, k);
    if (last_state)
        record(key, "DELETED", last_state, NULL);
    json_decref(last_state);
}

static int cmp_obj(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const json_t *mx = json_object_get(x, "metadata"), *my = json_object_get(y, "metadata");
    const char *nx = json_string_value(json_object_get(mx, "namespace"));
    const char *ny = json_string_value(json_object_get(my, "namespace"));
    int c = strcmp(nx ? nx : "", ny ? ny : "");
    if (c)
        return c;
    nx = json_string_value(json_object_get(mx, "name"));
    ny = json_string_value(json_object_get(my, "name"));
    return strcmp(nx ? nx : "", ny ? ny : "");
}

json_t **ks_store_list(const char *key, const char *ns, size_t *ret_n)
{
    char prefix[1024];
    int pl = ns ? snprintf(prefix, sizeof(prefix), "%s\x1f%s\x1f", key, ns)
                : snprintf(prefix, sizeof(prefix), "%s\x1f", key);
    *ret_n = 0;
    if (pl < 0 || (size_t)pl >= sizeof(prefix))
        return NULL;
    size_t cap = json_object_size(objs) + 1, n = 0;
    json_t **out = malloc(cap * sizeof(*out));
    if (!out)
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach(objs, k, v)
    {
        if (strncmp(k, prefix, (size_t)pl) == 0)
            out[n++] = v;
    }
    qsort(out, n, sizeof(*out), cmp_obj);
    *ret_n = n;
    return out;
}

size_t ks_store_count(void)
{
    return json_object_size(objs);
}

const struct ks_event *ks_store_history(uint64_t after_rv, size_t *ret_n)
{
    size_t lo = 0, hi = nhist;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (hist[mid].rv <= after_rv)
            lo = mid + 1;
        else
            hi = mid;
    }
    *ret_n = nhist - lo;
    return hist + lo;
}

int ks_store_save(const char *path)
{
    json_t *items = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(objs, k, v)
    {
        json_array_append_new(items, json_pack("{s:s,s:O}", "k", k, "o", v));
    }
    char rvb[32];
    snprintf(rvb, sizeof(rvb), "%llu", (unsigned long long)cur_rv);
    json_t *doc = json_pack("{s:s,s:o}", "resourceVersion", rvb, "objects", items);
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int r = (doc && json_dump_file(doc, tmp, JSON_COMPACT) == 0 && rename(tmp, path) == 0) ? 0 : -1;
    json_decref(doc);
    return r;
}

int ks_store_load(const char *path, char *err, size_t errsize)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) {
        snprintf(err, errsize, "%s: %s (line %d)", path, jerr.text, jerr.line);
        return -1;
    }
    const char *rvs = json_string_value(json_object_get(doc, "resourceVersion"));
    json_t *items = json_object_get(doc, "objects");
    if (!rvs || !json_is_array(items)) {
        snprintf(err, errsize, "%s: not a kubesim state file", path);
        json_decref(doc);
        return -1;
    }
    size_t i;
    json_t *e;
    json_array_foreach(items, i, e)
    {
        const char *k = json_string_value(json_object_get(e, "k"));
        json_t *o = json_object_get(e, "o");
        if (k && json_is_object(o))
            json_object_set(objs, k, o);
    }
    cur_rv = strtoull(rvs, NULL, 10);
    if (cur_rv < 1)
        cur_rv = 1;
    compacted_rv = cur_rv; /* no history survives a restart: older watches get 410 */
    json_decref(doc);
    return 0;
}
