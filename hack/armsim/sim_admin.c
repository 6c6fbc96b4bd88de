/*
 * sim_admin.c - the admin API under /_armsim/ (JSON, no auth, never throttled or faulted):
 *   POST /_armsim/reset                      empty world (routes and config stay)
 *   GET  /_armsim/snapshot                   whole world as JSON
 *   POST /_armsim/restore                    body = a snapshot
 *   GET  /_armsim/log[?since=N][&limit=N]    {"total":N,"entries":[{seq,time,simTime,method,path,
 *                                            status,principal}]}; DELETE clears it
 *   GET  /_armsim/counters                   {"method":{},"route":{},"status":{}}
 *   GET|POST /_armsim/time                   {"now","scale"}; POST {"scale":N,"advanceSeconds":S}
 *   GET|POST /_armsim/throttle               config (see throttle.c); POST merges a partial one
 *   GET|POST /_armsim/faults                 {"spec":"..."} (same syntax as --faults)
 *   GET|POST /_armsim/config                 {"pageSize":N,"retryAfter":N,"provisionSeconds":N}
 *   POST /_armsim/operations/{op}/fail       {"code","message"} ends a running LRO as Failed
 *   GET  /_armsim/healthz                    200 {"ok":true}
 * Compute-specific admin endpoints (backdate, fail/unhealthy) live in sim_compute.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "armsim_int.h"

static bool need_obj(struct as_req *r, struct as_resp *w)
{
    if (!json_is_object(r->json)) {
        as_resp_error(w, 400, "InvalidRequestContent", NULL, "body must be a JSON object");
        return false;
    }
    return true;
}

static void h_reset(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    (void)r;
    armsim_reset(sim);
    as_resp_json(w, 200, json_pack("{s:b}", "ok", 1));
}

static void h_snapshot(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    (void)r;
    as_resp_json(w, 200, armsim_snapshot(sim));
}

static void h_restore(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    if (!need_obj(r, w))
        return;
    if (armsim_restore(sim, r->json) < 0) {
        as_resp_error(w, 400, "InvalidSnapshot", NULL, "not an armsim snapshot");
        return;
    }
    as_resp_json(w, 200,
                 json_pack("{s:b, s:I}", "ok", 1, "resources", (json_int_t)as_store_count(sim)));
}

static void h_log(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    if (strcmp(r->method, "DELETE") == 0) {
        sim->log_head = sim->log_count = 0;
        as_resp_empty(w, 204);
        return;
    }
    const char *s = as_query(r, "since"), *l = as_query(r, "limit");
    unsigned long long since = s ? strtoull(s, NULL, 10) : 0;
    size_t limit = l ? (size_t)strtoull(l, NULL, 10) : AS_LOG_MAX;
    uint64_t first_seq = sim->log_total - sim->log_count;
    json_t *a = json_array();
    for (size_t i = 0; i < sim->log_count && json_array_size(a) < limit; i++) {
        uint64_t seq = first_seq + i;
        if (seq < since)
            continue;
        const struct as_log_ent *e = &sim->log[(sim->log_head + i) % AS_LOG_MAX];
        char ts[48], sts[48];
        as_time_format(e->real_ms, ts, sizeof(ts));
        as_time_format(e->sim_ms, sts, sizeof(sts));
        json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:s}", "seq",
                                           (json_int_t)seq, "time", ts, "simTime", sts, "method",
                                           e->method, "path", e->path, "status", e->status,
                                           "principal", e->principal));
    }
    as_resp_json(w, 200,
                 json_pack("{s:I, s:o}", "total", (json_int_t)sim->log_total, "entries", a));
}

static void h_counters(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    (void)r;
    as_resp_json(w, 200, json_deep_copy(sim->counters));
}

static void h_time(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    if (strcmp(r->method, "POST") == 0) {
        if (!need_obj(r, w))
            return;
        json_t *sc = json_object_get(r->json, "scale");
        json_t *adv = json_object_get(r->json, "advanceSeconds");
        if (sc && (!json_is_number(sc) || !(json_number_value(sc) > 0))) {
            as_resp_error(w, 400, "InvalidParameter", "scale", "scale must be a number > 0");
            return;
        }
        if (adv && (!json_is_number(adv) || json_number_value(adv) < 0)) {
            as_resp_error(w, 400, "InvalidParameter", "advanceSeconds",
                          "advanceSeconds must be a number >= 0");
            return;
        }
        if (sc)
            as_time_set_scale(sim, json_number_value(sc));
        if (adv)
            as_time_advance(sim, (int64_t)(json_number_value(adv) * 1000));
        as_sched_run(sim);
    }
    char ts[48];
    int64_t now = as_now(sim);
    as_time_format(now, ts, sizeof(ts));
    as_resp_json(w, 200,
                 json_pack("{s:s, s:I, s:f}", "now", ts, "nowMs", (json_int_t)now, "scale",
                           as_time_scale(sim)));
}

static void h_throttle(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    if (strcmp(r->method, "POST") == 0) {
        char err[256];
        if (!need_obj(r, w))
            return;
        if (as__throttle_configure(sim, r->json, err, sizeof(err)) < 0) {
            as_resp_error(w, 400, "InvalidParameter", NULL, "%s", err);
            return;
        }
    }
    as_resp_json(w, 200, as__throttle_config(sim));
}

static void h_faults(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    if (strcmp(r->method, "POST") == 0) {
        char err[256];
        if (!need_obj(r, w))
            return;
        const char *spec = as__jstr(r->json, "spec");
        if (!spec) {
            as_resp_error(w, 400, "InvalidParameter", "spec", "spec (string) is required");
            return;
        }
        if (as__faults_parse(sim, spec, err, sizeof(err)) < 0) {
            as_resp_error(w, 400, "InvalidParameter", "spec", "%s", err);
            return;
        }
        json_t *seed = json_object_get(r->json, "seed");
        if (json_is_integer(seed))
            sim->rng = ((uint64_t)json_integer_value(seed) | 1) * 0x9E3779B97F4A7C15ull;
    }
    as_resp_json(w, 200, json_pack("{s:o}", "rules", as__faults_json(sim)));
}

static void h_config(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    if (strcmp(r->method, "POST") == 0) {
        if (!need_obj(r, w))
            return;
        json_t *ps = json_object_get(r->json, "pageSize");
        json_t *ra = json_object_get(r->json, "retryAfter");
        json_t *pv = json_object_get(r->json, "provisionSeconds");
        if ((ps && (!json_is_integer(ps) || json_integer_value(ps) < 1 ||
                    json_integer_value(ps) > 10000)) ||
            (ra && (!json_is_integer(ra) || json_integer_value(ra) < 0 ||
                    json_integer_value(ra) > 600)) ||
            (pv && (!json_is_number(pv) || json_number_value(pv) < 0))) {
            as_resp_error(w, 400, "InvalidParameter", NULL,
                          "pageSize 1..10000, retryAfter 0..600, provisionSeconds >= 0");
            return;
        }
        if (ps)
            sim->cfg.page_size = (int)json_integer_value(ps);
        if (ra)
            as_lro_set_retry_after(sim, (int)json_integer_value(ra));
        if (pv)
            sim->cfg.provision_ms = (int64_t)(json_number_value(pv) * 1000);
    }
    as_resp_json(w, 200,
                 json_pack("{s:i, s:i, s:f}", "pageSize", sim->cfg.page_size, "retryAfter",
                           sim->retry_after_s, "provisionSeconds",
                           (double)sim->cfg.provision_ms / 1000.0));
}

static void h_op_fail(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    const char *code = json_is_object(r->json) ? as__jstr(r->json, "code") : NULL;
    const char *msg = json_is_object(r->json) ? as__jstr(r->json, "message") : NULL;
    if (as_lro_fail(sim, as_param(r, "op"), code, msg) < 0) {
        as_resp_error(w, 404, "NotFound", NULL, "no operation '%s'", as_param(r, "op"));
        return;
    }
    as_resp_json(w, 200, json_deep_copy(json_object_get(sim->ops, as_param(r, "op"))));
}

static void h_health(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    (void)r;
    as_resp_json(w, 200,
                 json_pack("{s:b, s:I}", "ok", 1, "resources", (json_int_t)as_store_count(sim)));
}

void sim_admin_init(struct armsim *sim)
{
    as_route(sim, "POST", "/_armsim/reset", h_reset, AS_ADMIN, NULL, NULL);
    as_route(sim, "GET", "/_armsim/snapshot", h_snapshot, AS_ADMIN, NULL, NULL);
    as_route(sim, "POST", "/_armsim/restore", h_restore, AS_ADMIN, NULL, NULL);
    as_route(sim, "*", "/_armsim/log", h_log, AS_ADMIN, NULL, NULL);
    as_route(sim, "GET", "/_armsim/counters", h_counters, AS_ADMIN, NULL, NULL);
    as_route(sim, "*", "/_armsim/time", h_time, AS_ADMIN, NULL, NULL);
    as_route(sim, "*", "/_armsim/throttle", h_throttle, AS_ADMIN, NULL, NULL);
    as_route(sim, "*", "/_armsim/faults", h_faults, AS_ADMIN, NULL, NULL);
    as_route(sim, "*", "/_armsim/config", h_config, AS_ADMIN, NULL, NULL);
    as_route(sim, "POST", "/_armsim/operations/{op}/fail", h_op_fail, AS_ADMIN, NULL, NULL);
    as_route(sim, "GET", "/_armsim/healthz", h_health, AS_ADMIN, NULL, NULL);
}
