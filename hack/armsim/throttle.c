/*
 * throttle.c - ARM and Compute throttling (azure-arm.md §3).
 *
 * ARM: per (subscription, principal) token buckets for reads/writes/deletes (250/25 per s,
 * 200/10, 200/10 by default) and a per-subscription global bucket of 15x the size (same refill
 * multiplied by 15). Compute: per-minute buckets per policy, one per subscription and one per
 * resource (the VM or VMSS the path names), sizes from compute-throttling-limits.md. Buckets
 * refill with SIMULATED time; Retry-After is converted to real seconds (ceil).
 *
 * Ownership: struct as_throttle owns every bucket (malloc'd values in maps).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "armsim_int.h"

void as_bucket_init(struct as_bucket *b, double size, double refill_per_s, int64_t now_ms)
{
    b->size = size;
    b->tokens = size;
    b->refill_per_s = refill_per_s;
    b->last_ms = now_ms;
}

static void bucket_refill(struct as_bucket *b, int64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) / 1000.0 * b->refill_per_s;
        if (b->tokens > b->size)
            b->tokens = b->size;
        b->last_ms = now_ms;
    }
}

double as_bucket_level(struct as_bucket *b, int64_t now_ms)
{
    bucket_refill(b, now_ms);
    return b->tokens;
}

bool as_bucket_take(struct as_bucket *b, double n, int64_t now_ms, int64_t *ret_wait_ms)
{
    bucket_refill(b, now_ms);
    if (b->tokens >= n) {
        b->tokens -= n;
        if (ret_wait_ms)
            *ret_wait_ms = 0;
        return true;
    }
    if (ret_wait_ms) {
        double need = n - b->tokens;
        *ret_wait_ms =
            b->refill_per_s > 0 ? (int64_t)ceil(need / b->refill_per_s * 1000.0) : 3600 * 1000;
    }
    return false;
}

struct cpol {
    const char *name;
    double res_refill, res_cap, sub_refill, sub_cap; /* per minute; res_cap 0 = none */
};

static const struct cpol default_policies[] = {
    {"PutVM", 4, 12, 500, 1500},
    {"UpdateVM", 4, 12, 500, 1500},
    {"DeleteVM", 4, 12, 500, 1500},
    {"LowCostGetVM", 12, 36, 8000, 24000},
    {"HighCostGetVM", 0, 0, 300, 900},
    {"GetOperation", 15, 45, 5000, 15000},
    {"PutVMScaleSet", 4, 12, 125, 375},
    {"UpdateVMScaleSet", 4, 12, 500, 1500},
    {"DeleteVMScaleSet", 4, 12, 175, 525},
    {"LowCostGetVMScaleSet", 12, 36, 800, 2400},
    {"HighCostGetVMScaleSet", 10, 30, 360, 1080},
    {"UpdateVMScaleSetVMs", 4, 12, 500, 1500},
    {"DeleteVMScaleSetVMs", 4, 12, 500, 1500},
    {"GetVMScaleSetVMs", 12, 36, 2000, 6000},
};
#define NPOL (sizeof(default_policies) / sizeof(default_policies[0]))

struct as_throttle {
    bool enabled;
    double size[3], refill[3], global_mult;
    struct cpol pol[NPOL];
    struct as_map *arm;     /* "sub|principal|op" and "sub|global|op" -> struct as_bucket */
    struct as_map *compute; /* "policy|sub" and "policy|resource" -> struct as_bucket */
};

static const char *const opnames[3] = {"reads", "writes", "deletes"};

static void set_defaults(struct as_throttle *t)
{
    t->enabled = true;
    t->size[0] = 250;
    t->refill[0] = 25;
    t->size[1] = 200;
    t->refill[1] = 10;
    t->size[2] = 200;
    t->refill[2] = 10;
    t->global_mult = 15;
    memcpy(t->pol, default_policies, sizeof(default_policies));
}

struct as_throttle *as__throttle_new(void)
{
    struct as_throttle *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->arm = as_map_new();
    t->compute = as_map_new();
    if (!t->arm || !t->compute) {
        as__throttle_free(t);
        return NULL;
    }
    set_defaults(t);
    return t;
}

void as__throttle_free(struct as_throttle *t)
{
    if (!t)
        return;
    as_map_free(t->arm, free);
    as_map_free(t->compute, free);
    free(t);
}

void as__throttle_reset(struct as_throttle *t)
{
    as_map_free(t->arm, free);
    as_map_free(t->compute, free);
    t->arm = as_map_new();
    t->compute = as_map_new();
}

static struct as_bucket *bucket(struct as_map *m, const char *key, double size, double refill,
                                int64_t now)
{
    struct as_bucket *b = as_map_get(m, key);
    if (b)
        return b;
    b = malloc(sizeof(*b));
    if (!b)
        return NULL;
    as_bucket_init(b, size, refill, now);
    if (as_map_put(m, key, b) < 0) {
        free(b);
        return NULL;
    }
    return b;
}

static const struct cpol *find_policy(const struct as_throttle *t, const char *name)
{
    for (size_t i = 0; i < NPOL; i++)
        if (strcmp(t->pol[i].name, name) == 0)
            return &t->pol[i];
    return NULL;
}

/* lowercase path up to the VM / VMSS name, or "" */
static void resource_key(const struct as_req *r, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i + 1 < r->nseg; i++) {
        if (strcasecmp(r->seg[i], "virtualMachineScaleSets") == 0 ||
            strcasecmp(r->seg[i], "virtualMachines") == 0) {
            for (int k = 0; k <= i + 1 && n < size; k++)
                n += (size_t)snprintf(buf + n, size - n, "/%s", r->seg[k]);
            for (char *p = buf; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
            return;
        }
    }
}

static int64_t real_retry_s(const struct armsim *sim, int64_t wait_sim_ms)
{
    double real_ms = (double)wait_sim_ms / sim->scale;
    return (int64_t)ceil(real_ms / 1000.0);
}

bool as__throttle_charge(struct armsim *sim, struct as_req *r, struct as_resp *w,
                         const struct as_route_ent *rt)
{
    struct as_throttle *t = sim->thr;
    int op = strcmp(w->throttle_op, "reads") == 0    ? 0
             : strcmp(w->throttle_op, "writes") == 0 ? 1
                                                     : 2;
    const char *sub = as_param(r, "sub");
    if (!sub)
        sub = "-";
    char key[600];
    int64_t now = r->now_ms, wait = 0;
    snprintf(key, sizeof(key), "%s|%s|%d", sub, r->principal, op);
    struct as_bucket *pb = bucket(t->arm, key, t->size[op], t->refill[op], now);
    snprintf(key, sizeof(key), "%s|*global*|%d", sub, op);
    struct as_bucket *gb =
        bucket(t->arm, key, t->size[op] * t->global_mult, t->refill[op] * t->global_mult, now);
    if (!pb || !gb) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return false;
    }
    bool ok = true;
    if (t->enabled) {
        int64_t w1 = 0, w2 = 0;
        bool a = as_bucket_take(pb, 1, now, &w1);
        bool b = a ? as_bucket_take(gb, 1, now, &w2) : true;
        if (!a || !b) {
            if (a) /* refund the principal bucket */
                pb->tokens += 1;
            wait = w1 > w2 ? w1 : w2;
            ok = false;
            int64_t ra = real_retry_s(sim, wait);
            as_resp_error(w, 429, "SubscriptionRequestsThrottled", NULL,
                          "Number of '%s' requests for subscription '%s' actor '%s' exceeded. "
                          "Please try again after '%lld' seconds after additional tokens are "
                          "available. Refer to https://aka.ms/arm-throttling for additional "
                          "information.",
                          op == 0   ? "read"
                          : op == 1 ? "write"
                                    : "delete",
                          sub, r->principal, (long long)ra);
            as_resp_header(w, "Retry-After", "%lld", (long long)ra);
        }
    }
    char hn[96];
    snprintf(hn, sizeof(hn), "x-ms-ratelimit-remaining-subscription-%s", opnames[op]);
    as_resp_header(w, hn, "%d", (int)floor(as_bucket_level(pb, now)));
    snprintf(hn, sizeof(hn), "x-ms-ratelimit-remaining-subscription-global-%s", opnames[op]);
    as_resp_header(w, hn, "%d", (int)floor(as_bucket_level(gb, now)));
    if (!ok || !rt->policy)
        return ok;

    const struct cpol *p = find_policy(t, rt->policy);
    if (!p)
        return ok;
    snprintf(key, sizeof(key), "%s|%s", p->name, sub);
    struct as_bucket *sb = bucket(t->compute, key, p->sub_cap, p->sub_refill / 60.0, now);
    struct as_bucket *rb = NULL;
    char rk[512];
    resource_key(r, rk, sizeof(rk));
    if (p->res_cap > 0 && rk[0]) {
        snprintf(key, sizeof(key), "%s|%s", p->name, rk);
        rb = bucket(t->compute, key, p->res_cap, p->res_refill / 60.0, now);
    }
    if (!sb)
        return ok;
    if (t->enabled) {
        int64_t w1 = 0, w2 = 0;
        bool a = as_bucket_take(sb, 1, now, &w1);
        bool b = rb ? as_bucket_take(rb, 1, now, &w2) : true;
        if (!a || !b) {
            if (a)
                sb->tokens += 1;
            if (b && rb)
                rb->tokens += 1;
            const char *grp = !b ? "Resource" : "SubscriptionMaximum";
            wait = !b ? w2 : w1;
            int64_t ra = real_retry_s(sim, wait);
            char det[512];
            snprintf(det, sizeof(det),
                     "{\"operationGroup\":\"%s%s\",\"startTime\":\"\",\"endTime\":\"\","
                     "\"allowedRequestCount\":%d,\"measuredRequestCount\":%d}",
                     p->name, grp, (int)(!b ? p->res_cap : p->sub_cap),
                     (int)(!b ? p->res_cap : p->sub_cap) + 1);
            char target[96];
            snprintf(target, sizeof(target), "%s%s", p->name, grp);
            json_t *body = json_pack(
                "{s:{s:s, s:s, s:[{s:s, s:s, s:s}], s:{s:s}}}", "error", "code",
                "OperationNotAllowed", "message",
                "The server rejected the request because too many requests have been received "
                "for this subscription.",
                "details", "code", "TooManyRequests", "target", target, "message", det,
                "innerError", "internalErrorCode", "TooManyRequestsReceived");
            as_resp_json(w, 429, body);
            as_resp_header(w, "Retry-After", "%lld", (long long)ra);
            ok = false;
        }
    }
    if (rb)
        as_resp_header(w, "x-ms-ratelimit-remaining-resource",
                       "Microsoft.Compute/%sSubscriptionMaximum;%d,Microsoft.Compute/%sResource;%d",
                       p->name, (int)floor(as_bucket_level(sb, now)), p->name,
                       (int)floor(as_bucket_level(rb, now)));
    else
        as_resp_header(w, "x-ms-ratelimit-remaining-resource",
                       "Microsoft.Compute/%sSubscriptionMaximum;%d", p->name,
                       (int)floor(as_bucket_level(sb, now)));
    as_resp_header(w, "x-ms-request-charge", "1");
    return ok;
}

json_t *as__throttle_config(const struct armsim *sim)
{
    const struct as_throttle *t = sim->thr;
    json_t *c = json_object();
    json_object_set_new(c, "enabled", json_boolean(t->enabled));
    for (int i = 0; i < 3; i++)
        json_object_set_new(c, opnames[i],
                            json_pack("{s:f, s:f}", "size", t->size[i], "refill", t->refill[i]));
    json_object_set_new(c, "globalMultiplier", json_real(t->global_mult));
    json_t *cp = json_object();
    for (size_t i = 0; i < NPOL; i++)
        json_object_set_new(cp, t->pol[i].name,
                            json_pack("{s:[f,f], s:[f,f]}", "resource", t->pol[i].res_refill,
                                      t->pol[i].res_cap, "subscription", t->pol[i].sub_refill,
                                      t->pol[i].sub_cap));
    json_object_set_new(c, "compute", cp);
    return c;
}

static int num(json_t *v, double *ret)
{
    if (!json_is_number(v))
        return -1;
    double d = json_number_value(v);
    if (d < 0 || d > 1e9)
        return -1;
    *ret = d;
    return 0;
}

int as__throttle_configure(struct armsim *sim, json_t *cfg, char *err, size_t errsize)
{
    struct as_throttle *t = sim->thr;
    struct as_throttle n = *t;
    if (!json_is_object(cfg)) {
        snprintf(err, errsize, "body must be a JSON object");
        return -1;
    }
    json_t *v = json_object_get(cfg, "enabled");
    if (v) {
        if (!json_is_boolean(v)) {
            snprintf(err, errsize, "enabled must be a boolean");
            return -1;
        }
        n.enabled = json_is_true(v);
    }
    if (json_object_get(cfg, "defaults") && json_is_true(json_object_get(cfg, "defaults")))
        set_defaults(&n);
    for (int i = 0; i < 3; i++) {
        json_t *o = json_object_get(cfg, opnames[i]);
        if (!o)
            continue;
        if ((json_object_get(o, "size") && num(json_object_get(o, "size"), &n.size[i]) < 0) ||
            (json_object_get(o, "refill") && num(json_object_get(o, "refill"), &n.refill[i]) < 0)) {
            snprintf(err, errsize, "%s: size and refill must be numbers >= 0", opnames[i]);
            return -1;
        }
    }
    v = json_object_get(cfg, "globalMultiplier");
    if (v && num(v, &n.global_mult) < 0) {
        snprintf(err, errsize, "globalMultiplier must be a number >= 0");
        return -1;
    }
    json_t *cp = json_object_get(cfg, "compute");
    if (cp) {
        const char *k;
        json_t *o;
        json_object_foreach(cp, k, o)
        {
            struct cpol *p = NULL;
            for (size_t i = 0; i < NPOL; i++)
                if (strcmp(n.pol[i].name, k) == 0)
                    p = &n.pol[i];
            if (!p) {
                snprintf(err, errsize, "unknown compute policy '%s'", k);
                return -1;
            }
            json_t *ra = json_object_get(o, "resource"), *sa = json_object_get(o, "subscription");
            if ((ra && (num(json_array_get(ra, 0), &p->res_refill) < 0 ||
                        num(json_array_get(ra, 1), &p->res_cap) < 0)) ||
                (sa && (num(json_array_get(sa, 0), &p->sub_refill) < 0 ||
                        num(json_array_get(sa, 1), &p->sub_cap) < 0))) {
                snprintf(err, errsize, "%s: resource/subscription must be [refillPerMin, cap]", k);
                return -1;
            }
        }
    }
    *t = n;
    as__throttle_reset(t); /* new sizes take effect with full buckets */
    return 0;
}
