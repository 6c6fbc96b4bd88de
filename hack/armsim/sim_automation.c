/*
 * sim_automation.c - Microsoft.Automation in armsim: automation accounts, hybrid runbook worker
 * groups and workers, runbooks and runbook jobs (azure-arm.md §8, §13.8; SDK-NOTES.md).
 *
 * Routes (api-versions AS_APIV_AUTOMATION), base B = /subscriptions/{sub}/resourceGroups/{rg}/
 * providers/Microsoft.Automation/automationAccounts:
 *   /subscriptions/{sub}/providers/Microsoft.Automation/automationAccounts (GET list),
 *   B (GET list), B/{account} (PUT 201/200, GET, PATCH, DELETE 200/204)
 *   B/{account}/hybridRunbookWorkerGroups[/{group}]            (PUT 201/200, PATCH, DELETE 200)
 *   .../hybridRunbookWorkerGroups/{group}/hybridRunbookWorkers[/{worker}] (+ POST .../move)
 *   B/{account}/runbooks[/{runbook}], B/{account}/jobs[/{job}] (+ POST stop, GET output)
 * Admin (no auth):
 *   POST /_armsim/automation/outcome {"runbook"?, "status": "Completed|Failed|Stopped|Suspended",
 *        "exception"?, "durationSeconds"?}  outcome of later jobs (of that runbook, else of all);
 *        {"reset": true} forgets every configured outcome.
 *   POST /_armsim/automation/job {"id": "<job ARM id>", "status", "exception"?} ends a job now.
 *   POST /_armsim/automation/worker {"id": "<worker ARM id>", "online": false} freezes a
 *        worker's lastSeenDateTime (true resumes the heartbeat).
 *   GET  /_armsim/automation/outcome  the configured outcomes.
 *
 * Decisions (others rely on them; NV = not verified against the real service):
 * - Everything is synchronous (the SDK accepts no LRO here): account/group/worker/runbook PUT
 *   answer 201 when new, 200 when replaced; job PUT answers 201 only (the SDK accepts nothing
 *   else) and 409 Conflict when the job name exists (NV). HRW group DELETE answers 200 (the SDK
 *   rejects 204); deleting a group that still has workers is 400 BadRequest (NV code).
 * - automationHybridServiceUrl = https://{guid}.jrds.{loc}.azure-automation.net/
 *   automationAccounts/{guid}; the guid is seeded-random at creation and kept on replace.
 * - Worker names must be GUIDs (400 InvalidParameter otherwise); a VM may be registered once per
 *   account (409 Conflict when another worker id holds the same vmResourceId, NV). workerName is
 *   the VM name; ip is derived from the worker id; workerType "HybridV2".
 *   lastSeenDateTime follows simulated time (a live heartbeat) unless admin froze the worker.
 * - Jobs: New at PUT, Running after 15 s simulated, then Completed (default) or the configured
 *   outcome after 60 s simulated (durationSeconds). A job with runOn stays New (queued) while its
 *   group has no online worker (checked every 15 s simulated); without runOn it runs at once
 *   (Azure sandbox). jobId is a new GUID; startTime/endTime are
 *   null until reached. A runOn group must exist (404), the runbook must exist (404).
 * - Tags are checked against Azure's limits (simx_tags_ok): accounts take at most 15, runbooks 50.
 *   Job parameters must be string:string (at most 50), else 400 BadRequest.
 * - The job list returns JobCollectionItem shapes (no parameters, exception, statusDetails,
 *   startedBy) like the service; GET a job for the whole object.
 * - Module state (outcomes, frozen workers) lives in the store under /_armsim/state/automation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "armsim.h"
#include "simx.h"

#define AA_PROV  "Microsoft.Automation"
#define AA_TYPE  "Microsoft.Automation/AutomationAccounts"
#define GRP_TYPE "Microsoft.Automation/AutomationAccounts/HybridRunbookWorkerGroups"
#define WRK_TYPE                                                                                   \
    "Microsoft.Automation/AutomationAccounts/HybridRunbookWorkerGroups/HybridRunbookWorkers"
#define RB_TYPE  "Microsoft.Automation/AutomationAccounts/Runbooks"
#define JOB_TYPE "Microsoft.Automation/AutomationAccounts/Jobs"

#define JOB_START_MS  15000
#define JOB_RUN_MS    60000
#define MAX_JOB_SECS  (7 * 24 * 3600)
#define MAX_EXCEPTION 2048
#define AA_MAX_TAGS   15 /* Automation accounts take at most 15 tags (azure-arm.md §13.4) */
#define MAX_PARAMS    50

static const char *str_or(const char *s)
{
    return s ? s : "";
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

/* ---- ids ---- */

static int account_id(const struct as_req *r, char *buf, size_t size)
{
    char rg[AS_ID_MAX];

    as_rg_id(r, rg, sizeof(rg));
    return simx_fmt(buf, size, "%s/providers/Microsoft.Automation/automationAccounts/%s", rg,
                    as_param(r, "account"));
}

static int sub_id(const struct as_req *r, const char *coll, const char *pname, char *buf,
                  size_t size)
{
    char aa[AS_ID_MAX];
    const char *name = pname ? as_param(r, pname) : NULL;

    if (account_id(r, aa, sizeof(aa)) < 0)
        return -1;
    if (!name)
        return simx_fmt(buf, size, "%s/%s", aa, coll);
    return simx_fmt(buf, size, "%s/%s/%s", aa, coll, name);
}

static int worker_coll(const struct as_req *r, char *buf, size_t size)
{
    char g[AS_ID_MAX];

    if (sub_id(r, "hybridRunbookWorkerGroups", "group", g, sizeof(g)) < 0)
        return -1;
    return simx_fmt(buf, size, "%s/hybridRunbookWorkers", g);
}

static int too_long(struct as_resp *w)
{
    return as_resp_error(w, 400, "InvalidParameter", NULL, "The resource id is too long.");
}

/* Answers 404 (RG or account) and returns NULL when the account is missing. */
static struct as_res *need_account(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char id[AS_ID_MAX];
    struct as_res *e;

    if (!as_require_rg(sim, r, w))
        return NULL;
    if (account_id(r, id, sizeof(id)) < 0) {
        too_long(w);
        return NULL;
    }
    e = as_store_get(sim, id);
    if (!e)
        as_resp_parent_not_found(w, "Microsoft.Automation/automationAccounts",
                                 as_param(r, "account"));
    return e;
}

static void system_data(json_t *body, const char *principal, const char *now, const char *created)
{
    json_object_set_new(body, "systemData",
                        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "createdBy",
                                  principal && *principal ? principal : "armsim", "createdByType",
                                  "Application", "createdAt", created ? created : now,
                                  "lastModifiedBy", principal && *principal ? principal : "armsim",
                                  "lastModifiedByType", "Application", "lastModifiedAt", now));
}

static void answer_copy(struct as_resp *w, int status, const struct as_res *e)
{
    as_resp_json(w, status, json_deep_copy(e->body));
}

static void list_children(struct armsim *sim, struct as_req *r, struct as_resp *w, const char *coll)
{
    json_t *all = simx_children(sim, coll);

    if (!all) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    as_resp_list_all(sim, r, w, all);
}

/* ---- accounts ---- */

static void account_list(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char rg[AS_ID_MAX], coll[AS_ID_MAX];

    if (!as_require_rg(sim, r, w))
        return;
    as_rg_id(r, rg, sizeof(rg));
    if (simx_fmt(coll, sizeof(coll), "%s/providers/Microsoft.Automation/automationAccounts", rg)) {
        too_long(w);
        return;
    }
    list_children(sim, r, w, coll);
}

static void account_list_sub(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    simx_list_by_type(sim, r, w, AA_TYPE);
}

static void account_put(struct armsim *sim, struct as_req *r, struct as_resp *w, const char *id)
{
    struct as_res *old = as_store_get(sim, id), *e;
    const json_t *in = r->json;
    const char *loc = json_string_value(json_object_get(in, "location"));
    const json_t *inprops = json_object_get(in, "properties");
    json_t *body, *props;
    char now[64], guid[40], url[512];
    const char *created = NULL;
    bool created_new = false;

    if (!loc || !*loc) {
        as_resp_error(w, 400, "LocationRequired", "location",
                      "The location property is required for this definition.");
        return;
    }
    simx_now(sim, now, sizeof(now));
    body = simx_skeleton(id, as_param(r, "account"), AA_TYPE);
    props = json_object();
    if (!body || !props) {
        json_decref(body);
        json_decref(props);
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    json_object_set_new(body, "location", json_string(loc));
    simx_copy_key(body, in, "tags");
    simx_copy_key(body, in, "identity");
    if (old) {
        const json_t *op = json_object_get(old->body, "properties");
        const char *u = json_string_value(json_object_get(op, "automationHybridServiceUrl"));

        snprintf(url, sizeof(url), "%s", u ? u : "");
        created = json_string_value(json_object_get(op, "creationTime"));
    } else {
        as_uuid(sim, guid, sizeof(guid));
        snprintf(url, sizeof(url), "https://%s.jrds.%s.azure-automation.net/automationAccounts/%s",
                 guid, loc, guid);
    }
    json_object_set_new(body, "etag", json_string("W/\"datetime'armsim'\""));
    json_object_set_new(props, "sku",
                        json_object_get(inprops, "sku")
                            ? json_deep_copy(json_object_get(inprops, "sku"))
                            : json_pack("{s:s}", "name", "Basic"));
    json_object_set_new(props, "state", json_string("Ok"));
    json_object_set_new(props, "creationTime", json_string(created ? created : now));
    json_object_set_new(props, "lastModifiedTime", json_string(now));
    json_object_set_new(props, "lastModifiedBy", json_string(str_or(r->principal)));
    json_object_set_new(props, "automationHybridServiceUrl", json_string(url));
    json_object_set_new(
        props, "publicNetworkAccess",
        json_boolean(!json_is_false(json_object_get(inprops, "publicNetworkAccess"))));
    json_object_set_new(props, "disableLocalAuth",
                        json_boolean(json_is_true(json_object_get(inprops, "disableLocalAuth"))));
    json_object_set_new(body, "properties", props);
    system_data(body, r->principal, now, created);
    e = as_store_put(sim, id, body, &created_new);
    if (!e) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    answer_copy(w, created_new ? 201 : 200, e);
}

static void account_item(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char id[AS_ID_MAX];
    struct as_res *e;

    if (!as_require_rg(sim, r, w))
        return;
    if (account_id(r, id, sizeof(id)) < 0) {
        too_long(w);
        return;
    }
    e = as_store_get(sim, id);
    if (!strcmp(r->method, "PUT")) {
        if (simx_body_object(r, w, false) && simx_tags_ok(r, w, AA_MAX_TAGS))
            account_put(sim, r, w, id);
        return;
    }
    if (!strcmp(r->method, "DELETE")) {
        if (!e) {
            as_resp_empty(w, 204);
            return;
        }
        as_store_del(sim, id);
        {
            as_resp_empty(w, 200);
            return;
        }
    }
    if (!e) {
        as_resp_not_found(w, "Microsoft.Automation/automationAccounts", as_param(r, "account"),
                          as_param(r, "rg"));
        return;
    }
    if (!strcmp(r->method, "PATCH")) {
        if (!simx_body_object(r, w, false) || !simx_tags_ok(r, w, AA_MAX_TAGS))
            return;
        if (json_object_get(r->json, "tags"))
            simx_copy_key(e->body, r->json, "tags");
        e = as_store_put(sim, id, json_deep_copy(e->body), NULL);
        if (!e) {
            as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
            return;
        }
    }
    answer_copy(w, 200, e);
}

/* ---- hybrid worker groups ---- */

static void group_list(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char coll[AS_ID_MAX];

    if (!need_account(sim, r, w))
        return;
    if (sub_id(r, "hybridRunbookWorkerGroups", NULL, coll, sizeof(coll)) < 0) {
        too_long(w);
        return;
    }
    list_children(sim, r, w, coll);
}

static void group_item(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char id[AS_ID_MAX], now[64], wc[AS_ID_MAX];
    struct as_res *e, **kids;
    size_t nkids = 0;
    bool created_new = false;
    json_t *body, *props, *cr;

    if (!need_account(sim, r, w))
        return;
    if (sub_id(r, "hybridRunbookWorkerGroups", "group", id, sizeof(id)) < 0) {
        too_long(w);
        return;
    }
    e = as_store_get(sim, id);
    if (!strcmp(r->method, "DELETE")) {
        if (!e) {
            as_resp_not_found(w,
                              "Microsoft.Automation/automationAccounts/"
                              "hybridRunbookWorkerGroups",
                              as_param(r, "group"), as_param(r, "rg"));
            return;
        }
        if (simx_fmt(wc, sizeof(wc), "%s/hybridRunbookWorkers", id) < 0) {
            too_long(w);
            return;
        }
        kids = as_store_children(sim, wc, &nkids);
        free(kids);
        if (nkids > 0) {
            as_resp_error(w, 400, "BadRequest", NULL,
                          "Hybrid Runbook Worker Group '%s' still has %zu worker(s); "
                          "delete them first.",
                          as_param(r, "group"), nkids);
            return;
        }
        as_store_del(sim, id);
        {
            as_resp_empty(w, 200);
            return;
        }
    }
    if (!strcmp(r->method, "GET")) {
        if (!e) {
            as_resp_not_found(w,
                              "Microsoft.Automation/automationAccounts/"
                              "hybridRunbookWorkerGroups",
                              as_param(r, "group"), as_param(r, "rg"));
            return;
        }
        {
            answer_copy(w, 200, e);
            return;
        }
    }
    /* PUT creates or replaces, PATCH updates the credential of an existing group. */
    if (!simx_body_object(r, w, true))
        return;
    if (!e && !strcmp(r->method, "PATCH")) {
        as_resp_not_found(w,
                          "Microsoft.Automation/automationAccounts/"
                          "hybridRunbookWorkerGroups",
                          as_param(r, "group"), as_param(r, "rg"));
        return;
    }
    simx_now(sim, now, sizeof(now));
    body = simx_skeleton(id, as_param(r, "group"), GRP_TYPE);
    props = json_pack("{s:s}", "groupType", "User");
    if (!body || !props) {
        json_decref(body);
        json_decref(props);
        {
            as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
            return;
        }
    }
    cr = json_object_get(json_object_get(r->json, "properties"), "credential");
    if (!cr && e)
        cr = json_object_get(json_object_get(e->body, "properties"), "credential");
    if (cr)
        json_object_set_new(props, "credential", json_deep_copy(cr));
    json_object_set_new(body, "properties", props);
    system_data(
        body, r->principal, now,
        e ? json_string_value(json_object_get(json_object_get(e->body, "systemData"), "createdAt"))
          : NULL);
    e = as_store_put(sim, id, body, &created_new);
    if (!e) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    answer_copy(w, created_new ? 201 : 200, e);
}

/* ---- hybrid workers ---- */

static bool is_guid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    size_t i, d = 0;

    if (strlen(s) != 36)
        return false;
    for (i = 0; i < 36; i++) {
        if (d < 4 && (int)i == dash[d]) {
            if (s[i] != '-')
                return false;
            d++;
        } else if (!strchr("0123456789abcdefABCDEF", s[i])) {
            return false;
        }
    }
    return true;
}

static bool worker_frozen(struct armsim *sim, const char *id)
{
    json_t *st = simx_state_peek(sim, "automation");
    json_t *fr = json_object_get(st, "frozen");
    size_t i;
    json_t *v;

    json_array_foreach(fr, i, v)
    {
        if (json_is_string(v) && !strcasecmp(json_string_value(v), id))
            return true;
    }
    return false;
}

/* A copy of the worker body with lastSeenDateTime brought to now unless frozen. */
static json_t *worker_view(struct armsim *sim, const struct as_res *e)
{
    json_t *b = json_deep_copy(e->body);
    char now[64];

    if (b && !worker_frozen(sim, e->id)) {
        simx_now(sim, now, sizeof(now));
        json_object_set_new(json_object_get(b, "properties"), "lastSeenDateTime", json_string(now));
    }
    return b;
}

static void worker_list(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char g[AS_ID_MAX], coll[AS_ID_MAX];
    struct as_res **v;
    size_t n = 0, i;
    json_t *all;

    if (!need_account(sim, r, w))
        return;
    if (sub_id(r, "hybridRunbookWorkerGroups", "group", g, sizeof(g)) < 0 ||
        worker_coll(r, coll, sizeof(coll)) < 0) {
        too_long(w);
        return;
    }
    if (!as_store_get(sim, g)) {
        as_resp_parent_not_found(w, "hybridRunbookWorkerGroups", as_param(r, "group"));
        return;
    }
    all = json_array();
    if (!all) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    v = as_store_children(sim, coll, &n);
    for (i = 0; v && i < n; i++)
        json_array_append_new(all, worker_view(sim, v[i]));
    free(v);
    as_resp_list_all(sim, r, w, all);
}

/* Another worker of the same account registered for vm (case-insensitive), or NULL. */
static struct as_res *worker_by_vm(struct armsim *sim, const struct as_req *r, const char *vm,
                                   const char *self_id)
{
    char aa[AS_ID_MAX], pfx[AS_ID_MAX];
    struct as_res **v, *found = NULL;
    size_t n = 0, i;

    if (account_id(r, aa, sizeof(aa)) < 0 ||
        simx_fmt(pfx, sizeof(pfx), "%s/hybridRunbookWorkerGroups/", aa) < 0)
        return NULL;
    v = as_store_prefix(sim, pfx, &n);
    for (i = 0; v && i < n && !found; i++) {
        const char *t = json_string_value(json_object_get(v[i]->body, "type"));
        const char *x = json_string_value(
            json_object_get(json_object_get(v[i]->body, "properties"), "vmResourceId"));

        if (t && !strcasecmp(t, WRK_TYPE) && x && !strcasecmp(x, vm) &&
            strcasecmp(v[i]->id, self_id))
            found = v[i];
    }
    free(v);
    return found;
}

static void worker_put(struct armsim *sim, struct as_req *r, struct as_resp *w, const char *id,
                       struct as_res *old)
{
    const char *vm, *wid = as_param(r, "worker");
    char now[64], ip[32];
    json_t *body;
    struct as_res *e;
    bool created_new = false;
    unsigned h = 0;
    const char *p;

    if (!simx_body_object(r, w, false))
        return;
    vm = json_string_value(json_object_get(json_object_get(r->json, "properties"), "vmResourceId"));
    if (!vm || !*vm || strlen(vm) >= AS_ID_MAX) {
        as_resp_error(w, 400, "BadRequest", "properties.vmResourceId",
                      "vmResourceId is required to register a hybrid worker.");
        return;
    }
    if (!strstr(vm, "/providers/") || !strchr(vm, '/')) {
        as_resp_error(w, 400, "InvalidParameter", "properties.vmResourceId",
                      "'%s' is not a valid Azure resource id.", vm);
        return;
    }
    if (worker_by_vm(sim, r, vm, id)) {
        as_resp_error(w, 409, "Conflict", "properties.vmResourceId",
                      "The machine '%s' is already registered as a hybrid worker "
                      "in this automation account.",
                      simx_last_seg(vm));
        return;
    }
    simx_now(sim, now, sizeof(now));
    for (p = wid; *p; p++)
        h = h * 31u + (unsigned char)*p;
    snprintf(ip, sizeof(ip), "10.%u.%u.%u", (h >> 16) & 0xffu, (h >> 8) & 0xffu, 4u + (h % 250u));
    body = simx_skeleton(id, wid, WRK_TYPE);
    if (!body) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    json_object_set_new(
        body, "properties",
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "ip", ip, "registeredDateTime",
                  old ? json_string_value(json_object_get(json_object_get(old->body, "properties"),
                                                          "registeredDateTime"))
                      : now,
                  "lastSeenDateTime", now, "vmResourceId", vm, "workerName", simx_last_seg(vm),
                  "workerType", "HybridV2"));
    system_data(body, r->principal, now, NULL);
    e = as_store_put(sim, id, body, &created_new);
    if (!e) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    as_resp_json(w, created_new ? 201 : 200, worker_view(sim, e));
}

static void worker_item(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char g[AS_ID_MAX], coll[AS_ID_MAX], id[AS_ID_MAX];
    const char *wid = as_param(r, "worker");
    struct as_res *e;

    if (!need_account(sim, r, w))
        return;
    if (sub_id(r, "hybridRunbookWorkerGroups", "group", g, sizeof(g)) < 0 ||
        worker_coll(r, coll, sizeof(coll)) < 0 ||
        simx_fmt(id, sizeof(id), "%s/%s", coll, wid) < 0) {
        too_long(w);
        return;
    }
    if (!as_store_get(sim, g)) {
        as_resp_parent_not_found(w, "hybridRunbookWorkerGroups", as_param(r, "group"));
        return;
    }
    e = as_store_get(sim, id);
    if (!strcmp(r->method, "PUT")) {
        if (!is_guid(wid)) {
            as_resp_error(w, 400, "InvalidParameter", "hybridRunbookWorkerId",
                          "The hybrid runbook worker id '%s' must be a GUID.", wid);
            return;
        }
        {
            worker_put(sim, r, w, id, e);
            return;
        }
    }
    if (!strcmp(r->method, "DELETE")) {
        if (!e) {
            as_resp_empty(w, 204);
            return;
        }
        as_store_del(sim, id);
        {
            as_resp_empty(w, 200);
            return;
        }
    }
    if (!e) {
        as_resp_not_found(w,
                          "Microsoft.Automation/automationAccounts/"
                          "hybridRunbookWorkerGroups/hybridRunbookWorkers",
                          wid, as_param(r, "rg"));
        return;
    }
    as_resp_json(w, 200, worker_view(sim, e));
}

/* POST .../hybridRunbookWorkers/{worker}/move {"hybridRunbookWorkerGroupName": "g2"} */
static void worker_move(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char coll[AS_ID_MAX], id[AS_ID_MAX], aa[AS_ID_MAX], dst[AS_ID_MAX], nid[AS_ID_MAX];
    const char *to;
    struct as_res *e;
    json_t *body;

    if (!need_account(sim, r, w) || !simx_body_object(r, w, false))
        return;
    if (worker_coll(r, coll, sizeof(coll)) < 0 ||
        simx_fmt(id, sizeof(id), "%s/%s", coll, as_param(r, "worker")) < 0 ||
        account_id(r, aa, sizeof(aa)) < 0) {
        too_long(w);
        return;
    }
    e = as_store_get(sim, id);
    if (!e) {
        as_resp_not_found(w, "hybridRunbookWorkers", as_param(r, "worker"), as_param(r, "rg"));
        return;
    }
    to = json_string_value(json_object_get(r->json, "hybridRunbookWorkerGroupName"));
    if (!to || !*to) {
        as_resp_error(w, 400, "BadRequest", "hybridRunbookWorkerGroupName",
                      "hybridRunbookWorkerGroupName is required.");
        return;
    }
    if (simx_fmt(dst, sizeof(dst), "%s/hybridRunbookWorkerGroups/%s", aa, to) < 0 ||
        simx_fmt(nid, sizeof(nid), "%s/hybridRunbookWorkers/%s", dst, as_param(r, "worker")) < 0) {
        too_long(w);
        return;
    }
    if (!as_store_get(sim, dst)) {
        as_resp_not_found(w, "hybridRunbookWorkerGroups", to, as_param(r, "rg"));
        return;
    }
    body = json_deep_copy(e->body);
    if (!body) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    json_object_set_new(body, "id", json_string(nid));
    as_store_del(sim, id);
    if (!as_store_put(sim, nid, body, NULL)) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    as_resp_empty(w, 200);
}

/* ---- runbooks ---- */

static void runbook_list(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char coll[AS_ID_MAX];

    if (!need_account(sim, r, w))
        return;
    if (sub_id(r, "runbooks", NULL, coll, sizeof(coll)) < 0) {
        too_long(w);
        return;
    }
    list_children(sim, r, w, coll);
}

static void runbook_item(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char id[AS_ID_MAX], now[64];
    struct as_res *e, *aa;
    const json_t *in;
    json_t *body, *props;
    bool created_new = false;
    const char *rt, *loc;

    if (!(aa = need_account(sim, r, w)))
        return;
    if (sub_id(r, "runbooks", "runbook", id, sizeof(id)) < 0) {
        too_long(w);
        return;
    }
    e = as_store_get(sim, id);
    if (!strcmp(r->method, "DELETE")) {
        if (!e) {
            as_resp_empty(w, 204);
            return;
        }
        as_store_del(sim, id);
        {
            as_resp_empty(w, 200);
            return;
        }
    }
    if (!strcmp(r->method, "GET")) {
        if (!e) {
            as_resp_not_found(w, "Microsoft.Automation/automationAccounts/runbooks",
                              as_param(r, "runbook"), as_param(r, "rg"));
            return;
        }
        {
            answer_copy(w, 200, e);
            return;
        }
    }
    if (!simx_body_object(r, w, false) || !simx_tags_ok(r, w, 50))
        return;
    if (!strcmp(r->method, "PATCH")) {
        if (!e) {
            as_resp_not_found(w, "Microsoft.Automation/automationAccounts/runbooks",
                              as_param(r, "runbook"), as_param(r, "rg"));
            return;
        }
        simx_copy_key(e->body, r->json, "tags");
        {
            answer_copy(w, 200, e);
            return;
        }
    }
    in = json_object_get(r->json, "properties");
    rt = json_string_value(json_object_get(in, "runbookType"));
    if (!rt || !*rt) {
        as_resp_error(w, 400, "BadRequest", "properties.runbookType", "runbookType is required.");
        return;
    }
    simx_now(sim, now, sizeof(now));
    loc = json_string_value(json_object_get(r->json, "location"));
    if (!loc)
        loc = json_string_value(json_object_get(aa->body, "location"));
    body = simx_skeleton(id, as_param(r, "runbook"), RB_TYPE);
    props = json_pack("{s:s, s:s, s:b, s:b, s:s, s:s, s:i}", "runbookType", rt, "state",
                      json_object_get(in, "publishContentLink") ? "Published" : "New", "logVerbose",
                      json_is_true(json_object_get(in, "logVerbose")), "logProgress",
                      json_is_true(json_object_get(in, "logProgress")), "creationTime", now,
                      "lastModifiedTime", now, "jobCount", 0);
    if (!body || !props) {
        json_decref(body);
        json_decref(props);
        {
            as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
            return;
        }
    }
    json_object_set_new(body, "location", json_string(loc ? loc : ""));
    simx_copy_key(body, r->json, "tags");
    simx_copy_key(props, in, "description");
    simx_copy_key(props, in, "publishContentLink");
    json_object_set_new(props, "provisioningState", json_string("Succeeded"));
    json_object_set_new(body, "properties", props);
    e = as_store_put(sim, id, body, &created_new);
    if (!e) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    answer_copy(w, created_new ? 201 : 200, e);
}

/* ---- jobs ---- */

/* The configured outcome for runbook rb (a borrowed object) or NULL for the default. */
static json_t *outcome_for(struct armsim *sim, const char *rb)
{
    json_t *st = simx_state_peek(sim, "automation");
    json_t *oc = json_object_get(st, "outcomes");
    json_t *v = NULL;
    const char *k;

    json_object_foreach(oc, k, v)
    {
        if (rb && !strcasecmp(k, rb))
            return v;
    }
    return json_object_get(oc, "*");
}

/* Sets status and its timestamps to at_ms (0 = now). */
static void job_set_status(struct armsim *sim, json_t *props, const char *status, int64_t at_ms)
{
    char now[64];

    as_time_format(at_ms > 0 ? at_ms : as_now(sim), now, sizeof(now));
    json_object_set_new(props, "status", json_string(status));
    json_object_set_new(props, "lastStatusModifiedTime", json_string(now));
    json_object_set_new(props, "lastModifiedTime", json_string(now));
}

static bool job_terminal(const char *s)
{
    return s && (!strcmp(s, "Completed") || !strcmp(s, "Failed") || !strcmp(s, "Stopped") ||
                 !strcmp(s, "Suspended"));
}

/* Ends a job with status (Completed/Failed/Stopped/Suspended) and an optional exception, as of
 * at_ms (0 = now). */
static void job_finish(struct armsim *sim, const char *id, const char *status, const char *exc,
                       int64_t at_ms)
{
    struct as_res *e = as_store_get(sim, id);
    json_t *body, *props;
    char now[64];

    if (!e)
        return;
    props = json_object_get(e->body, "properties");
    if (job_terminal(json_string_value(json_object_get(props, "status"))))
        return;
    body = json_deep_copy(e->body);
    if (!body)
        return;
    props = json_object_get(body, "properties");
    as_time_format(at_ms > 0 ? at_ms : as_now(sim), now, sizeof(now));
    if (json_is_null(json_object_get(props, "startTime")))
        json_object_set_new(props, "startTime", json_string(now));
    job_set_status(sim, props, status, at_ms);
    json_object_set_new(props, "endTime", json_string(now));
    json_object_set_new(props, "exception", exc && *exc ? json_string(exc) : json_null());
    json_object_set_new(props, "provisioningState",
                        json_string(strcmp(status, "Completed") ? "Failed" : "Succeeded"));
    as_store_put(sim, id, body, NULL);
}

/* True when a job of account job_id's account may start on run_on: no group (Azure sandbox),
 * or a group with at least one worker that is not frozen (offline). */
static bool worker_available(struct armsim *sim, const char *job_id, const char *run_on)
{
    char coll[AS_ID_MAX];
    const char *j = strstr(job_id, "/jobs/");
    struct as_res **v;
    size_t n = 0, i;
    bool ok = false;

    if (!run_on || !*run_on)
        return true;
    if (!j || simx_fmt(coll, sizeof(coll), "%.*s/hybridRunbookWorkerGroups/%s/hybridRunbookWorkers",
                       (int)(j - job_id), job_id, run_on) < 0)
        return false;
    v = as_store_children(sim, coll, &n);
    for (i = 0; v && i < n && !ok; i++)
        ok = !worker_frozen(sim, v[i]->id);
    free(v);
    return ok;
}

/* Transitions are chained from their due times, not from "now", so that a jump of simulated
 * time (admin advance, a restored snapshot) gives the same history as time passing slowly:
 * arg carries "startAt" (when the job was due to start) and gets "doneAt". */
static void sched_job_running(struct armsim *sim, const char *id, json_t *arg)
{
    struct as_res *e = as_store_get(sim, id);
    json_t *body, *props, *next;
    char at[64];
    json_int_t run_ms = json_integer_value(json_object_get(arg, "runMs"));
    int64_t start = json_integer_value(json_object_get(arg, "startAt")), now = as_now(sim);

    if (!e)
        return;
    if (start <= 0 || start > now)
        start = now;
    if (!str_eq(
            json_string_value(json_object_get(json_object_get(e->body, "properties"), "status")),
            "New"))
        return;
    next = json_deep_copy(arg);
    if (!next)
        return;
    if (!worker_available(
            sim, id,
            json_string_value(json_object_get(json_object_get(e->body, "properties"), "runOn")))) {
        /* Queued until a live worker of the group can take it: look again in 15 s. */
        json_object_set_new(next, "startAt", json_integer(now + JOB_START_MS));
        as_sched_at(sim, now + JOB_START_MS, "automation.job_running", id, next);
        return;
    }
    body = json_deep_copy(e->body);
    if (!body) {
        json_decref(next);
        return;
    }
    props = json_object_get(body, "properties");
    as_time_format(start, at, sizeof(at));
    job_set_status(sim, props, "Running", start);
    json_object_set_new(props, "startTime", json_string(at));
    as_store_put(sim, id, body, NULL);
    start += run_ms > 0 ? run_ms : JOB_RUN_MS;
    json_object_set_new(next, "doneAt", json_integer(start));
    as_sched_at(sim, start, "automation.job_done", id, next);
}

static void sched_job_done(struct armsim *sim, const char *id, json_t *arg)
{
    const char *st = json_string_value(json_object_get(arg, "status"));
    int64_t at = json_integer_value(json_object_get(arg, "doneAt"));

    job_finish(sim, id, st ? st : "Completed", json_string_value(json_object_get(arg, "exception")),
               at > 0 && at <= as_now(sim) ? at : 0);
}

/* The job list holds JobCollectionItem objects (job.json): no parameters, exception,
 * statusDetails, startedBy or lastStatusModifiedTime; GET the job for those. */
static void job_list(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    static const char *const keep[] = {
        "runbook",   "jobId",   "creationTime",     "status",
        "startTime", "endTime", "lastModifiedTime", "provisioningState",
        "runOn"};
    char coll[AS_ID_MAX];
    json_t *all, *item, *props, *slim;
    size_t i, k;

    if (!need_account(sim, r, w))
        return;
    if (sub_id(r, "jobs", NULL, coll, sizeof(coll)) < 0) {
        too_long(w);
        return;
    }
    all = simx_children(sim, coll);
    if (!all) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    json_array_foreach(all, i, item)
    {
        props = json_object_get(item, "properties");
        slim = json_object();
        for (k = 0; slim && k < sizeof(keep) / sizeof(keep[0]); k++)
            simx_copy_key(slim, props, keep[k]);
        if (slim)
            json_object_set_new(item, "properties", slim);
    }
    as_resp_list_all(sim, r, w, all);
}

static void job_put(struct armsim *sim, struct as_req *r, struct as_resp *w, const char *id)
{
    const json_t *in = json_object_get(r->json, "properties");
    const char *rb = json_string_value(json_object_get(json_object_get(in, "runbook"), "name"));
    const char *run_on = json_string_value(json_object_get(in, "runOn"));
    const json_t *params = json_object_get(in, "parameters");
    char rbid[AS_ID_MAX], gid[AS_ID_MAX], aa[AS_ID_MAX], now[64], jobid[40];
    json_t *body, *props, *oc, *arg;
    json_int_t secs;
    const char *pk;
    json_t *pv;

    if (!rb || !*rb) {
        as_resp_error(w, 400, "BadRequest", "properties.runbook.name",
                      "The runbook name is required.");
        return;
    }
    if (params && (!json_is_object(params) || json_object_size(params) > MAX_PARAMS)) {
        as_resp_error(w, 400, "BadRequest", "properties.parameters",
                      "parameters must be an object of at most %d strings.", MAX_PARAMS);
        return;
    }
    json_object_foreach((json_t *)params, pk, pv)
    {
        if (!json_is_string(pv) || strlen(pk) > 128) {
            as_resp_error(w, 400, "BadRequest", "properties.parameters",
                          "The value of parameter '%.64s' must be a string (Automation job "
                          "parameters are string:string).",
                          pk);
            return;
        }
    }
    if (account_id(r, aa, sizeof(aa)) < 0 ||
        simx_fmt(rbid, sizeof(rbid), "%s/runbooks/%s", aa, rb) < 0 ||
        simx_fmt(gid, sizeof(gid), "%s/hybridRunbookWorkerGroups/%s", aa, run_on ? run_on : "") <
            0) {
        too_long(w);
        return;
    }
    if (!as_store_get(sim, rbid)) {
        as_resp_error(w, 404, "NotFound", "properties.runbook.name",
                      "The Runbook '%s' was not found.", rb);
        return;
    }
    if (run_on && *run_on && !as_store_get(sim, gid)) {
        as_resp_error(w, 404, "NotFound", "properties.runOn",
                      "The Hybrid Runbook Worker Group '%s' was not found.", run_on);
        return;
    }
    simx_now(sim, now, sizeof(now));
    as_uuid(sim, jobid, sizeof(jobid));
    body = simx_skeleton(id, as_param(r, "job"), JOB_TYPE);
    props = json_pack("{s:{s:s}, s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:n, s:s, s:s, s:s}", "runbook",
                      "name", rb, "startedBy", str_or(r->principal), "runOn", run_on ? run_on : "",
                      "jobId", jobid, "creationTime", now, "status", "New", "startTime", "endTime",
                      "exception", "lastModifiedTime", now, "lastStatusModifiedTime", now,
                      "provisioningState", "Processing");
    if (!body || !props) {
        json_decref(body);
        json_decref(props);
        {
            as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
            return;
        }
    }
    json_object_set_new(props, "statusDetails", json_string("None"));
    json_object_set_new(props, "parameters", params ? json_deep_copy(params) : json_object());
    json_object_set_new(body, "properties", props);
    if (!as_store_put(sim, id, body, NULL)) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    /* Decide the outcome now, so a later admin change affects only later jobs. */
    oc = outcome_for(sim, rb);
    secs = json_integer_value(json_object_get(oc, "durationSeconds"));
    arg =
        json_pack("{s:I, s:s, s:I}", "startAt", (json_int_t)(as_now(sim) + JOB_START_MS), "status",
                  json_string_value(json_object_get(oc, "status"))
                      ? json_string_value(json_object_get(oc, "status"))
                      : "Completed",
                  "runMs", (json_int_t)(secs > 0 ? secs * 1000 : JOB_RUN_MS));
    if (arg && json_object_get(oc, "exception"))
        simx_copy_key(arg, oc, "exception");
    if (!arg ||
        as_sched_at(sim, as_now(sim) + JOB_START_MS, "automation.job_running", id, arg) < 0) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    answer_copy(w, 201, as_store_get(sim, id));
}

static void job_item(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char id[AS_ID_MAX];
    struct as_res *e;

    if (!need_account(sim, r, w))
        return;
    if (sub_id(r, "jobs", "job", id, sizeof(id)) < 0) {
        too_long(w);
        return;
    }
    e = as_store_get(sim, id);
    if (!strcmp(r->method, "PUT")) {
        if (!simx_body_object(r, w, false))
            return;
        if (e) {
            as_resp_error(w, 409, "Conflict", NULL, "A job with the name '%s' already exists.",
                          as_param(r, "job"));
            return;
        }
        {
            job_put(sim, r, w, id);
            return;
        }
    }
    if (!e) {
        as_resp_not_found(w, "Microsoft.Automation/automationAccounts/jobs", as_param(r, "job"),
                          as_param(r, "rg"));
        return;
    }
    answer_copy(w, 200, e);
}

/* POST .../jobs/{job}/stop and GET .../jobs/{job}/output */
static void job_action(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char id[AS_ID_MAX];
    struct as_res *e;
    const char *action = r->route_ud;
    char *text;
    int n;

    if (!need_account(sim, r, w))
        return;
    if (sub_id(r, "jobs", "job", id, sizeof(id)) < 0) {
        too_long(w);
        return;
    }
    e = as_store_get(sim, id);
    if (!e) {
        as_resp_not_found(w, "Microsoft.Automation/automationAccounts/jobs", as_param(r, "job"),
                          as_param(r, "rg"));
        return;
    }
    if (!strcmp(action, "stop")) {
        job_finish(sim, id, "Stopped", NULL, 0);
        {
            as_resp_empty(w, 200);
            return;
        }
    }
    text = malloc(512);
    if (!text) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    n = snprintf(text, 512, "armsim job %s: %s\n", as_param(r, "job"),
                 str_or(json_string_value(
                     json_object_get(json_object_get(e->body, "properties"), "status"))));
    w->status = 200;
    w->raw = text;
    w->raw_len = n > 0 && n < 512 ? (size_t)n : strlen(text);
    w->content_type = "text/plain; charset=utf-8";
}

/* ---- admin ---- */

static void admin_outcome(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    json_t *st = simx_state(sim, "automation"), *oc, *v;
    const char *rb, *status, *exc;
    json_int_t secs;

    if (!st) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    if (!json_object_get(st, "outcomes"))
        json_object_set_new(st, "outcomes", json_object());
    oc = json_object_get(st, "outcomes");
    if (!strcmp(r->method, "GET")) {
        as_resp_json(w, 200, json_deep_copy(oc));
        return;
    }
    if (!simx_body_object(r, w, false))
        return;
    if (json_is_true(json_object_get(r->json, "reset"))) {
        json_object_clear(oc);
        {
            as_resp_json(w, 200, json_deep_copy(oc));
            return;
        }
    }
    rb = json_string_value(json_object_get(r->json, "runbook"));
    status = json_string_value(json_object_get(r->json, "status"));
    exc = json_string_value(json_object_get(r->json, "exception"));
    secs = json_integer_value(json_object_get(r->json, "durationSeconds"));
    if (!status || !job_terminal(status)) {
        as_resp_error(w, 400, "BadRequest", "status",
                      "status must be Completed, Failed, Stopped or Suspended");
        return;
    }
    if ((rb && strlen(rb) > 256) || (exc && strlen(exc) > MAX_EXCEPTION) || secs < 0 ||
        secs > MAX_JOB_SECS) {
        as_resp_error(w, 400, "BadRequest", NULL, "value out of range");
        return;
    }
    v = json_pack("{s:s}", "status", status);
    if (!v) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    if (exc)
        json_object_set_new(v, "exception", json_string(exc));
    else if (!strcmp(status, "Failed"))
        json_object_set_new(v, "exception", json_string("The runbook failed (armsim outcome)."));
    if (secs > 0)
        json_object_set_new(v, "durationSeconds", json_integer(secs));
    json_object_set_new(oc, rb && *rb ? rb : "*", v);
    as_resp_json(w, 200, json_deep_copy(oc));
}

static void admin_job(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    const char *id, *status, *exc;
    struct as_res *e;

    if (!simx_body_object(r, w, false))
        return;
    id = json_string_value(json_object_get(r->json, "id"));
    status = json_string_value(json_object_get(r->json, "status"));
    exc = json_string_value(json_object_get(r->json, "exception"));
    if (!id || !status || !job_terminal(status) || (exc && strlen(exc) > MAX_EXCEPTION)) {
        as_resp_error(w, 400, "BadRequest", NULL,
                      "want {\"id\": job id, \"status\": Completed|Failed|Stopped|"
                      "Suspended, \"exception\"?}");
        return;
    }
    e = as_store_get(sim, id);
    if (!e) {
        as_resp_error(w, 404, "NotFound", "id", "no job %s", id);
        return;
    }
    job_finish(
        sim, id, status,
        exc ? exc : (!strcmp(status, "Failed") ? "The job was failed by armsim admin." : NULL), 0);
    e = as_store_get(sim, id);
    answer_copy(w, 200, e);
}

static void admin_worker(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    json_t *st = simx_state(sim, "automation"), *fr, *v;
    const char *id;
    struct as_res *e;
    size_t i;
    bool online;

    if (!st || !simx_body_object(r, w, false))
        return;
    id = json_string_value(json_object_get(r->json, "id"));
    online = !json_is_false(json_object_get(r->json, "online"));
    if (!id || !(e = as_store_get(sim, id))) {
        as_resp_error(w, 404, "NotFound", "id", "no hybrid worker %s", id ? id : "");
        return;
    }
    if (!json_object_get(st, "frozen"))
        json_object_set_new(st, "frozen", json_array());
    fr = json_object_get(st, "frozen");
    json_array_foreach(fr, i, v)
    {
        if (!strcasecmp(str_or(json_string_value(v)), id)) {
            json_array_remove(fr, i);
            break;
        }
    }
    if (!online) {
        /* Freeze lastSeenDateTime at the current simulated time. */
        char now[64];
        json_t *b = json_deep_copy(e->body);

        simx_now(sim, now, sizeof(now));
        if (b) {
            json_object_set_new(json_object_get(b, "properties"), "lastSeenDateTime",
                                json_string(now));
            as_store_put(sim, id, b, NULL);
        }
        st = simx_state(sim, "automation");
        fr = json_object_get(st, "frozen");
        json_array_append_new(fr, json_string(id));
    }
    e = as_store_get(sim, id);
    as_resp_json(w, 200, e ? worker_view(sim, e) : json_object());
}

/* ---- registration ---- */

#define AAB                                                                                        \
    "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Automation/automationAccounts"

void sim_automation_init(struct armsim *sim);

void sim_automation_init(struct armsim *sim)
{
    static const char *const stop = "stop", *const output = "output";
    const char *v = AS_APIV_AUTOMATION;

    as_sched_handler(sim, "automation.job_running", sched_job_running);
    as_sched_handler(sim, "automation.job_done", sched_job_done);

    as_route(sim, "GET", "/subscriptions/{sub}/providers/Microsoft.Automation/automationAccounts",
             account_list_sub, AS_ARM, v, NULL);
    as_route(sim, "GET", AAB, account_list, AS_ARM, v, NULL);
    as_route(sim, "*", AAB "/{account}", account_item, AS_ARM, v, NULL);
    as_route(sim, "GET", AAB "/{account}/hybridRunbookWorkerGroups", group_list, AS_ARM, v, NULL);
    as_route(sim, "*", AAB "/{account}/hybridRunbookWorkerGroups/{group}", group_item, AS_ARM, v,
             NULL);
    as_route(sim, "GET", AAB "/{account}/hybridRunbookWorkerGroups/{group}/hybridRunbookWorkers",
             worker_list, AS_ARM, v, NULL);
    as_route(sim, "*",
             AAB "/{account}/hybridRunbookWorkerGroups/{group}/hybridRunbookWorkers/{worker}",
             worker_item, AS_ARM, v, NULL);
    as_route(sim, "POST",
             AAB "/{account}/hybridRunbookWorkerGroups/{group}/hybridRunbookWorkers/{worker}/move",
             worker_move, AS_ARM, v, NULL);
    as_route(sim, "GET", AAB "/{account}/runbooks", runbook_list, AS_ARM, v, NULL);
    as_route(sim, "*", AAB "/{account}/runbooks/{runbook}", runbook_item, AS_ARM, v, NULL);
    as_route(sim, "GET", AAB "/{account}/jobs", job_list, AS_ARM, v, NULL);
    as_route(sim, "*", AAB "/{account}/jobs/{job}", job_item, AS_ARM, v, NULL);
    as_route(sim, "POST", AAB "/{account}/jobs/{job}/stop", job_action, AS_ARM, v, (void *)stop);
    as_route(sim, "GET", AAB "/{account}/jobs/{job}/output", job_action, AS_ARM, v, (void *)output);

    as_route(sim, "*", "/_armsim/automation/outcome", admin_outcome, AS_ADMIN, NULL, NULL);
    as_route(sim, "POST", "/_armsim/automation/job", admin_job, AS_ADMIN, NULL, NULL);
    as_route(sim, "POST", "/_armsim/automation/worker", admin_worker, AS_ADMIN, NULL, NULL);
}
