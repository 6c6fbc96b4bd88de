/*
 * store.c - the resource store: id -> json, sorted by case-insensitive id so that every prefix
 * (a resource group, a parent resource, a collection) is one contiguous range.
 *
 * Ownership: the store owns each struct as_res and its body; lookups return borrowed pointers
 * valid until the next mutation. Insert/delete are O(n) pointer moves, fine for the tens of
 * thousands of resources a test world holds (VMSS instances are kept compactly elsewhere).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "armsim_int.h"

/* Index of the first entry >= id. */
static size_t lower_bound(const struct armsim *sim, const char *id)
{
    size_t lo = 0, hi = sim->nres;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcasecmp(sim->res[mid]->id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct as_res *as_store_get(struct armsim *sim, const char *id)
{
    if (!id)
        return NULL;
    size_t i = lower_bound(sim, id);
    if (i < sim->nres && strcasecmp(sim->res[i]->id, id) == 0)
        return sim->res[i];
    return NULL;
}

static void res_free(struct as_res *e)
{
    if (!e)
        return;
    free(e->id);
    json_decref(e->body);
    free(e);
}

struct as_res *as_store_put(struct armsim *sim, const char *id, json_t *body, bool *ret_created)
{
    if (!id || !body || strlen(id) >= AS_ID_MAX) {
        json_decref(body);
        return NULL;
    }
    if (!json_object_get(body, "id"))
        json_object_set_new(body, "id", json_string(id));
    size_t i = lower_bound(sim, id);
    if (i < sim->nres && strcasecmp(sim->res[i]->id, id) == 0) {
        struct as_res *e = sim->res[i];
        json_decref(e->body);
        e->body = body;
        e->etag++;
        if (ret_created)
            *ret_created = false;
        return e;
    }
    if (sim->nres == sim->capres) {
        size_t nc = sim->capres ? sim->capres * 2 : 256;
        struct as_res **nr = realloc(sim->res, nc * sizeof(*nr));
        if (!nr) {
            json_decref(body);
            return NULL;
        }
        sim->res = nr;
        sim->capres = nc;
    }
    struct as_res *e = calloc(1, sizeof(*e));
    if (!e || !(e->id = strdup(id))) {
        free(e);
        json_decref(body);
        return NULL;
    }
    e->body = body;
    e->etag = 1;
    e->created_ms = as_now(sim);
    memmove(&sim->res[i + 1], &sim->res[i], (sim->nres - i) * sizeof(*sim->res));
    sim->res[i] = e;
    sim->nres++;
    if (ret_created)
        *ret_created = true;
    return e;
}

size_t as_store_del(struct armsim *sim, const char *id)
{
    size_t idlen = strlen(id);
    size_t i = lower_bound(sim, id), w = i, k = i, removed = 0;
    /* the prefix range may hold siblings such as "id-x" (sorted before "id/"): keep those */
    for (; k < sim->nres; k++) {
        const char *cid = sim->res[k]->id;
        if (strncasecmp(cid, id, idlen) != 0)
            break;
        if (cid[idlen] == 0 || cid[idlen] == '/') {
            res_free(sim->res[k]);
            removed++;
        } else {
            sim->res[w++] = sim->res[k];
        }
    }
    memmove(&sim->res[w], &sim->res[k], (sim->nres - k) * sizeof(*sim->res));
    sim->nres -= removed;
    return removed;
}

struct as_res **as_store_prefix(struct armsim *sim, const char *prefix, size_t *ret_n)
{
    size_t plen = strlen(prefix), i = lower_bound(sim, prefix), n = 0;
    while (i + n < sim->nres && strncasecmp(sim->res[i + n]->id, prefix, plen) == 0)
        n++;
    *ret_n = 0;
    if (!n)
        return NULL;
    struct as_res **a = malloc(n * sizeof(*a));
    if (!a)
        return NULL;
    memcpy(a, &sim->res[i], n * sizeof(*a));
    *ret_n = n;
    return a;
}

struct as_res **as_store_children(struct armsim *sim, const char *collection, size_t *ret_n)
{
    char pre[AS_ID_MAX + 2];
    size_t cl = strlen(collection);
    if (cl + 2 > sizeof(pre)) {
        *ret_n = 0;
        return NULL;
    }
    memcpy(pre, collection, cl);
    pre[cl] = '/';
    pre[cl + 1] = 0;
    size_t n = 0;
    struct as_res **a = as_store_prefix(sim, pre, &n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr(a[i]->id + cl + 1, '/'))
            a[k++] = a[i];
    *ret_n = k;
    if (!k) {
        free(a);
        return NULL;
    }
    return a;
}

size_t as_store_count(const struct armsim *sim)
{
    return sim->nres;
}

void as__store_clear(struct armsim *sim)
{
    for (size_t i = 0; i < sim->nres; i++)
        res_free(sim->res[i]);
    sim->nres = 0;
}
