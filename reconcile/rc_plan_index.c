/*
 * rc_plan_index.c - lookup indexes over the observed world for the planner,
 * built once per rc_plan() so that planning stays linear-ish in the number of
 * resources (10,000 pools x 10 instances plan in well under a second).
 *
 * Each index is an array of (borrowed key, hash, position) sorted by the
 * case-insensitive hash, then rc_strcasecmp (Azure ids and names compare
 * case-insensitively). Entries of one key are adjacent; distinct keys are not
 * in alphabetical order. Keys point
 * into want/have, which outlive the index.
 *
 * Building is dominated by memory traffic over ~100,000 scattered key
 * strings, so each key is read once: keys are added in array order, and a
 * key equal (strcmp) to the one added just before (the instances of one
 * scale set are usually listed together) continues that entry's run and
 * takes its hash without hashing. Only run heads are sorted (by hash,
 * position), then each run is laid out behind its head: the result is the
 * (hash, position) order a sort of every entry would give, and a run is
 * checked against its hash group once, through its head.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rc_plan_int.h"
#include "rc_util.h"

/* FNV-1a 64 over the length and the last 40 characters of the key, ASCII-
 * lowercased (ARM ids share long prefixes and differ at the end). Equal under
 * rc_strcasecmp means equal hash, so entries sort by (hash, position) with
 * integer compares; equal hashes of different keys are sorted out by key. */
static uint64_t ci_hash(const char *s)
{
    size_t len = strlen(s);
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)len;

    if (len > 40)
        s += len - 40;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch >= 'A' && ch <= 'Z')
            ch = (unsigned char)(ch - 'A' + 'a');
        h ^= ch;
        h *= 1099511628211ULL;
    }
    return h;
}

static int ent_cmp(const void *a, const void *b)
{
    const struct rp_ent *x = a, *y = b;

    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool eq_ci(const char *a, const char *b)
{
    return strcmp(a, b) == 0 || rc_strcasecmp(a, b) == 0;
}

/* Within a run of equal hashes (a collision is possible), order by key. */
static int ent_key_cmp(const void *a, const void *b)
{
    const struct rp_ent *x = a, *y = b;
    int d = rc_strcasecmp(x->key, y->key);

    if (d)
        return d;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int idx_reserve(struct rp_index *ix, size_t n)
{
    ix->v = calloc(n ? n : 1, sizeof(*ix->v));
    return ix->v ? 0 : -RC_ENOMEM;
}

/* Entries must be added in increasing idx. */
static void idx_add(struct rp_index *ix, const char *key, size_t idx)
{
    struct rp_ent *e, *prev;

    if (!key)
        return;
    e = &ix->v[ix->n];
    prev = ix->n ? e - 1 : NULL;
    e->key = key;
    e->idx = (uint32_t)idx;
    e->cont = prev && (prev->key == key || strcmp(prev->key, key) == 0);
    e->hash = e->cont ? prev->hash : ci_hash(key);
    ix->n++;
}

/* Sorts by (hash, position) - integer compares only, over run heads (see the
 * top) - then checks each run of equal hashes with one key comparison per
 * added run, re-sorting a group by key in the (rare) case of a collision, and
 * marks entries equal to their predecessor so that a lookup compares one key
 * only. Returns 0 or -RC_ENOMEM. */
static int idx_sort(struct rp_index *ix)
{
    size_t i, j, k, n_heads = 0;

    if (ix->n > 1) {
        struct rp_ent *heads, *out;

        for (i = 0; i < ix->n; i++)
            n_heads += ix->v[i].cont ? 0 : 1;
        heads = malloc(n_heads * sizeof(*heads));
        out = malloc(ix->n * sizeof(*out));
        if (!heads || !out) {
            free(heads);
            free(out);
            return -RC_ENOMEM;
        }
        /* a head's idx field holds its position in v while sorting */
        for (i = 0, j = 0; i < ix->n; i++) {
            if (!ix->v[i].cont) {
                heads[j] = ix->v[i];
                heads[j].idx = (uint32_t)i;
                j++;
            }
        }
        if (n_heads > 1)
            qsort(heads, n_heads, sizeof(*heads), ent_cmp);
        for (i = 0, k = 0; i < n_heads; i++) {
            j = heads[i].idx;
            do
                out[k++] = ix->v[j++];
            while (j < ix->n && ix->v[j].cont);
        }
        free(heads);
        free(ix->v);
        ix->v = out;
    }
    for (i = 0; i < ix->n; i = j) {
        bool mixed = false;

        for (j = i + 1; j < ix->n && ix->v[j].hash == ix->v[i].hash; j++) {
            /* a continuation equals its run's head, checked before it */
            if (!ix->v[j].cont && !eq_ci(ix->v[j].key, ix->v[i].key))
                mixed = true;
        }
        if (mixed)
            qsort(ix->v + i, j - i, sizeof(*ix->v), ent_key_cmp);
        ix->v[i].same = false;
        for (k = i + 1; k < j; k++)
            ix->v[k].same = !mixed || eq_ci(ix->v[k].key, ix->v[k - 1].key);
    }
    return 0;
}

size_t rp_index_range(const struct rp_index *ix, const char *key, size_t *ret_end)
{
    size_t lo = 0, hi = ix->n, i;
    uint64_t h = ci_hash(key);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (ix->v[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (i = lo; i < ix->n && ix->v[i].hash == h; i++) {
        if (!ix->v[i].same && eq_ci(ix->v[i].key, key)) {
            size_t end = i + 1;

            while (end < ix->n && ix->v[end].same)
                end++;
            *ret_end = end;
            return i;
        }
    }
    *ret_end = 0;
    return 0;
}

size_t rp_index_find(const struct rp_index *ix, const char *key)
{
    size_t end, i = rp_index_range(ix, key, &end);

    return i < end ? ix->v[i].idx : SIZE_MAX;
}

void rp_world_release(struct rp_world *w)
{
    size_t i;

    if (!w)
        return;
    free(w->inst_ss.v);
    free(w->inst_pool.v);
    free(w->inst_name.v);
    free(w->ss_id.v);
    free(w->ss_pool.v);
    free(w->nic_id.v);
    free(w->nic_name.v);
    free(w->nic_pool.v);
    free(w->workers.v);
    free(w->jobs.v);
    free(w->opools.v);
    free(w->want.v);
    for (i = 0; i < w->n_want_keys; i++)
        free(w->want_keys[i]);
    free(w->want_keys);
    memset(w, 0, sizeof(*w));
}

int rp_world_build(struct rp_world *w, const struct rc_desired *want,
                   const struct rc_observed *have, bool by_pool)
{
    size_t i, n_ss = 0, n_pool = 0;

    memset(w, 0, sizeof(*w));
    /* exact sizes: instances go to one of inst_ss/inst_name, few to inst_pool */
    for (i = 0; i < have->n_instances; i++) {
        const struct rc_obs_instance *o = &have->instances[i];

        n_ss += o->scale_set_id ? 1 : 0;
        n_pool += by_pool && o->own.managed && o->own.pool ? 1 : 0;
    }
    if (idx_reserve(&w->inst_ss, n_ss) < 0 || idx_reserve(&w->inst_pool, n_pool) < 0 ||
        idx_reserve(&w->inst_name, have->n_instances - n_ss) < 0 ||
        idx_reserve(&w->ss_id, have->n_scale_sets) < 0 ||
        idx_reserve(&w->ss_pool, have->n_scale_sets) < 0 ||
        idx_reserve(&w->nic_id, have->n_nics) < 0 || idx_reserve(&w->nic_name, have->n_nics) < 0 ||
        idx_reserve(&w->nic_pool, have->n_nics) < 0 ||
        idx_reserve(&w->workers, have->n_workers) < 0 || idx_reserve(&w->jobs, have->n_jobs) < 0 ||
        idx_reserve(&w->opools, have->n_pools) < 0 || idx_reserve(&w->want, want->n_pools) < 0)
        goto fail;
    w->want_keys = calloc(want->n_pools ? want->n_pools : 1, sizeof(char *));
    if (!w->want_keys)
        goto fail;
    for (i = 0; i < have->n_instances; i++) {
        const struct rc_obs_instance *o = &have->instances[i];

        if (o->scale_set_id)
            idx_add(&w->inst_ss, o->scale_set_id, i);
        else
            idx_add(&w->inst_name, o->name, i);
        if (by_pool && o->own.managed && o->own.pool)
            idx_add(&w->inst_pool, o->own.pool, i);
    }
    for (i = 0; i < have->n_scale_sets; i++) {
        const struct rc_obs_scale_set *s = &have->scale_sets[i];

        idx_add(&w->ss_id, s->id, i);
        if (s->own.managed && s->own.pool)
            idx_add(&w->ss_pool, s->own.pool, i);
    }
    for (i = 0; i < have->n_nics; i++) {
        const struct rc_obs_nic *n = &have->nics[i];

        idx_add(&w->nic_id, n->id, i);
        idx_add(&w->nic_name, n->name, i);
        if (n->own.managed && n->own.pool)
            idx_add(&w->nic_pool, n->own.pool, i);
    }
    for (i = 0; i < have->n_workers; i++)
        idx_add(&w->workers, have->workers[i].vm_resource_id, i);
    for (i = 0; i < have->n_jobs; i++)
        idx_add(&w->jobs, have->jobs[i].instance_id, i);
    for (i = 0; i < have->n_pools; i++)
        idx_add(&w->opools, have->pools[i].pool, i);
    for (i = 0; i < want->n_pools; i++) {
        const struct rc_pool *p = &want->pools[i];
        size_t len = strlen(p->meta.namespace) + strlen(p->meta.name) + 2;

        w->want_keys[i] = malloc(len);
        if (!w->want_keys[i])
            goto fail;
        w->n_want_keys++;
        rp_fmt(w->want_keys[i], len, "%s/%s", p->meta.namespace, p->meta.name);
        idx_add(&w->want, w->want_keys[i], i);
    }
    if (idx_sort(&w->inst_ss) < 0 || idx_sort(&w->inst_pool) < 0 || idx_sort(&w->inst_name) < 0 ||
        idx_sort(&w->ss_id) < 0 || idx_sort(&w->ss_pool) < 0 || idx_sort(&w->nic_id) < 0 ||
        idx_sort(&w->nic_name) < 0 || idx_sort(&w->nic_pool) < 0 || idx_sort(&w->workers) < 0 ||
        idx_sort(&w->jobs) < 0 || idx_sort(&w->opools) < 0 || idx_sort(&w->want) < 0)
        goto fail;
    return 0;
fail:
    rp_world_release(w);
    return -RC_ENOMEM;
}
