/*
 * sim_imagebuilder.c - Azure VM Image Builder in armsim: imageTemplates, run/cancel as
 * Azure-AsyncOperation LROs, lastRunStatus and runOutputs (azure-arm.md §7; SDK-NOTES.md),
 * api-versions AS_APIV_IMAGEBUILDER.
 *
 * Routes, base T = /subscriptions/{sub}/resourceGroups/{rg}/providers/
 * Microsoft.VirtualMachineImages/imageTemplates:
 *   /subscriptions/{sub}/providers/Microsoft.VirtualMachineImages/imageTemplates (GET list),
 *   T (GET list), T/{template} (PUT, GET, PATCH, DELETE), T/{template}/run, T/{template}/cancel
 *   (POST), T/{template}/runOutputs[/{output}] (GET)
 * Admin: POST /_armsim/imagebuilder/outcome {"template"?, "runState": "Succeeded|Failed",
 *   "message"?, "durationSeconds"?} sets the outcome of later runs (of that template name, else of
 *   all); {"reset": true} clears; GET shows them.
 *
 * Decisions (others rely on them; NV = not verified against the real service):
 * - Tags are checked against Azure's limits on PUT/PATCH (simx_tags_ok, at most 50).
 * - PUT is an LRO (Azure-AsyncOperation, 201, Creating -> Succeeded after 20 s simulated).
 *   Templates cannot be updated: a PUT on an existing template with different source, customize,
 *   validate, distribute, vmProfile, buildTimeoutInMinutes or identity is 409 Conflict; an
 *   identical PUT answers 200 with the stored template. PATCH changes tags only (200).
 *   DELETE is a 202 LRO (30 s simulated); 409 while a run is in progress; 204 when absent.
 * - Required at PUT: location, identity (UserAssigned, exactly one identity), properties.source
 *   (PlatformImage | ManagedImage | SharedImageVersion), properties.distribute (1..10 items,
 *   ManagedImage | SharedImage | VHD, each with a runOutputName of [A-Za-z0-9-_.]{1,64}).
 * - POST run: 202 LRO; lastRunStatus {startTime, endTime "0001-01-01T00:00:00Z", runState
 *   "Running", runSubState "Building"} until the build ends after BUILD_MS simulated (10 min) or
 *   the configured duration. Then each distribution produces a runOutput named runOutputName:
 *   SharedImage -> a new gallery image version (the galleryImageId's /versions/x if given, else
 *   the next patch version after the highest existing one, 1.0.0 first; excludeFromLatest from
 *   the distributor) created Succeeded with publishedDate = now; ManagedImage -> artifactId =
 *   imageId; VHD -> artifactUri. A missing gallery image definition fails the run
 *   (runState Failed, LRO error BuildFailed, NV code). A run while one is running is 409.
 * - POST cancel: lastRunStatus Canceled at once; the run LRO ends Failed (OperationCanceled).
 * - Module state (outcomes, operation id of the running build) is in /_armsim/state/imagebuilder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "armsim.h"
#include "simx.h"

#define TPL_TYPE "Microsoft.VirtualMachineImages/imageTemplates"
#define OUT_TYPE "Microsoft.VirtualMachineImages/imageTemplates/runOutputs"
#define IB_PROV  "Microsoft.VirtualMachineImages"

#define TPL_PROVISION_MS 20000
#define TPL_DELETE_MS    30000
#define BUILD_MS         (10 * 60 * 1000)
#define MAX_DISTRIBUTE   10
#define MAX_BUILD_SECS   (16 * 3600)
#define ZERO_TIME        "0001-01-01T00:00:00Z"

static const char *const user_keys[] = {"source",     "customize", "validate",
                                        "distribute", "vmProfile", "buildTimeoutInMinutes"};

static int oom(struct as_resp *w)
{
    return as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
}

static int tpl_id(const struct as_req *r, char *buf, size_t size)
{
    char rg[AS_ID_MAX];

    as_rg_id(r, rg, sizeof(rg));
    return simx_fmt(buf, size, "%s/providers/Microsoft.VirtualMachineImages/imageTemplates%s%s", rg,
                    as_param(r, "template") ? "/" : "",
                    as_param(r, "template") ? as_param(r, "template") : "");
}

static const char *run_state(const struct as_res *e)
{
    const char *s = json_string_value(json_object_get(
        json_object_get(json_object_get(e->body, "properties"), "lastRunStatus"), "runState"));

    return s ? s : "";
}

static bool output_name_ok(const char *s)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", s[n]))
            return false;
    return n >= 1 && n <= 64;
}

/* Validates the PUT body; answers 400 and returns false when it is not acceptable. */
static bool validate(struct as_req *r, struct as_resp *w)
{
    const json_t *in = r->json, *props = json_object_get(in, "properties");
    const json_t *id = json_object_get(in, "identity"), *src = json_object_get(props, "source");
    const json_t *dist = json_object_get(props, "distribute"), *d;
    const char *t;
    size_t i;

    if (!json_string_value(json_object_get(in, "location"))) {
        as_resp_error(w, 400, "LocationRequired", "location", "The location property is required.");
        return false;
    }
    t = json_string_value(json_object_get(id, "type"));
    if (!t || strcasecmp(t, "UserAssigned") ||
        json_object_size(json_object_get(id, "userAssignedIdentities")) != 1) {
        as_resp_error(w, 400, "InvalidParameter", "identity",
                      "An image template needs identity type UserAssigned with exactly one "
                      "user-assigned identity.");
        return false;
    }
    t = json_string_value(json_object_get(src, "type"));
    if (!t || (strcmp(t, "PlatformImage") && strcmp(t, "ManagedImage") &&
               strcmp(t, "SharedImageVersion"))) {
        as_resp_error(w, 400, "InvalidParameter", "properties.source.type",
                      "source.type must be PlatformImage, ManagedImage or SharedImageVersion.");
        return false;
    }
    if (!json_is_array(dist) || json_array_size(dist) < 1 ||
        json_array_size(dist) > MAX_DISTRIBUTE) {
        as_resp_error(w, 400, "InvalidParameter", "properties.distribute",
                      "distribute must hold 1 to %d distribution targets.", MAX_DISTRIBUTE);
        return false;
    }
    json_array_foreach(dist, i, d)
    {
        t = json_string_value(json_object_get(d, "type"));
        if (!t || (strcmp(t, "ManagedImage") && strcmp(t, "SharedImage") && strcmp(t, "VHD"))) {
            as_resp_error(w, 400, "InvalidParameter", "properties.distribute.type",
                          "distribute[%zu].type must be ManagedImage, SharedImage or VHD.", i);
            return false;
        }
        if (!output_name_ok(json_string_value(json_object_get(d, "runOutputName")))) {
            as_resp_error(w, 400, "InvalidParameter", "properties.distribute.runOutputName",
                          "distribute[%zu].runOutputName must match ^[A-Za-z0-9-_.]{1,64}$.", i);
            return false;
        }
        if (!strcmp(t, "SharedImage") && !json_string_value(json_object_get(d, "galleryImageId"))) {
            as_resp_error(w, 400, "InvalidParameter", "properties.distribute.galleryImageId",
                          "distribute[%zu].galleryImageId is required.", i);
            return false;
        }
        if (!strcmp(t, "ManagedImage") && !json_string_value(json_object_get(d, "imageId"))) {
            as_resp_error(w, 400, "InvalidParameter", "properties.distribute.imageId",
                          "distribute[%zu].imageId is required.", i);
            return false;
        }
    }
    return true;
}

/* The stored form of a PUT body (new object) or NULL. */
static json_t *template_body(struct armsim *sim, struct as_req *r, const char *id)
{
    const json_t *in = r->json, *props = json_object_get(in, "properties");
    json_t *b = simx_skeleton(id, as_param(r, "template"), TPL_TYPE), *p = json_object();
    json_t *ident, *uai, *v;
    const char *k;
    char guid[40], stage[AS_ID_MAX];
    size_t i;

    if (!b || !p) {
        json_decref(b);
        json_decref(p);
        return NULL;
    }
    json_object_set_new(b, "location",
                        json_string(json_string_value(json_object_get(in, "location"))));
    simx_copy_key(b, in, "tags");
    ident = json_deep_copy(json_object_get(in, "identity"));
    uai = json_object_get(ident, "userAssignedIdentities");
    json_object_foreach(uai, k, v)
    {
        char a[40], c[40];

        as_uuid(sim, a, sizeof(a));
        as_uuid(sim, c, sizeof(c));
        json_object_set_new(uai, k, json_pack("{s:s, s:s}", "principalId", a, "clientId", c));
    }
    json_object_set_new(b, "identity", ident ? ident : json_object());
    for (i = 0; i < sizeof(user_keys) / sizeof(user_keys[0]); i++)
        simx_copy_key(p, props, user_keys[i]);
    if (!json_object_get(p, "buildTimeoutInMinutes"))
        json_object_set_new(p, "buildTimeoutInMinutes", json_integer(0));
    if (!json_object_get(p, "customize"))
        json_object_set_new(p, "customize", json_array());
    if (!json_object_get(p, "vmProfile"))
        json_object_set_new(p, "vmProfile",
                            json_pack("{s:s, s:i}", "vmSize", "", "osDiskSizeGB", 0));
    as_uuid(sim, guid, sizeof(guid));
    simx_fmt(stage, sizeof(stage), "/subscriptions/%s/resourceGroups/IT_%s_%s_%.8s",
             as_param(r, "sub"), as_param(r, "rg"), as_param(r, "template"), guid);
    json_object_set_new(p, "exactStagingResourceGroup", json_string(stage));
    json_object_set_new(p, "provisioningState", json_string("Creating"));
    json_object_set_new(b, "properties", p);
    return b;
}

/* True when the user-settable parts of two stored templates are equal. */
static bool same_template(const json_t *a, const json_t *b)
{
    const json_t *pa = json_object_get(a, "properties"), *pb = json_object_get(b, "properties");
    const json_t *ia = json_object_get(json_object_get(a, "identity"), "userAssignedIdentities");
    const json_t *ib = json_object_get(json_object_get(b, "identity"), "userAssignedIdentities");
    const char *k;
    const json_t *v;
    size_t i;

    for (i = 0; i < sizeof(user_keys) / sizeof(user_keys[0]); i++) {
        const json_t *x = json_object_get(pa, user_keys[i]), *y = json_object_get(pb, user_keys[i]);

        if (!(x == y || (x && y && json_equal(x, y))))
            return false;
    }
    if (json_object_size(ia) != json_object_size(ib))
        return false;
    json_object_foreach((json_t *)ia, k, v)
    {
        (void)v;
        if (!json_object_get(ib, k))
            return false;
    }
    return true;
}

static void h_list(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char coll[AS_ID_MAX];
    json_t *all;

    if (!as_require_rg(sim, r, w))
        return;
    if (tpl_id(r, coll, sizeof(coll)) < 0) {
        as_resp_error(w, 400, "InvalidParameter", NULL, "resource id too long");
        return;
    }
    all = simx_children(sim, coll);
    if (!all) {
        oom(w);
        return;
    }
    as_resp_list_all(sim, r, w, all);
}

static void h_list_sub(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    simx_list_by_type(sim, r, w, TPL_TYPE);
}

static void h_put(struct armsim *sim, struct as_req *r, struct as_resp *w, const char *id,
                  struct as_res *old)
{
    json_t *b;
    struct as_res *e;
    struct as_lro lro = {0};

    if (!simx_body_object(r, w, false) || !validate(r, w) || !simx_tags_ok(r, w, 50))
        return;
    b = template_body(sim, r, id);
    if (!b) {
        oom(w);
        return;
    }
    if (old) {
        bool same = same_template(old->body, b);

        json_decref(b);
        if (!same) {
            as_resp_error(w, 409, "Conflict", NULL,
                          "Update/Upgrade of image templates is currently not supported. Please "
                          "change the name of the template you are submitting.");
            return;
        }
        as_resp_json(w, 200, json_deep_copy(old->body));
        return;
    }
    e = as_store_put(sim, id, b, NULL);
    if (!e) {
        oom(w);
        return;
    }
    lro.style = AS_LRO_ASYNC;
    lro.status = 201;
    lro.duration_ms = TPL_PROVISION_MS;
    lro.resource_id = e->id;
    lro.provider = IB_PROV;
    lro.location = json_string_value(json_object_get(e->body, "location"));
    lro.final_status = 200;
    lro.on_done = "generic.provisioned";
    as_lro_begin(sim, r, w, &lro, json_deep_copy(e->body));
}

static void h_item(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char id[AS_ID_MAX];
    struct as_res *e;
    struct as_lro lro = {0};

    if (!as_require_rg(sim, r, w))
        return;
    if (tpl_id(r, id, sizeof(id)) < 0) {
        as_resp_error(w, 400, "InvalidParameter", NULL, "resource id too long");
        return;
    }
    e = as_store_get(sim, id);
    if (!strcmp(r->method, "PUT")) {
        h_put(sim, r, w, id, e);
        return;
    }
    if (!e) {
        if (!strcmp(r->method, "DELETE"))
            as_resp_empty(w, 204);
        else
            as_resp_not_found(w, TPL_TYPE, as_param(r, "template"), as_param(r, "rg"));
        return;
    }
    if (!strcmp(r->method, "GET")) {
        as_resp_json(w, 200, json_deep_copy(e->body));
        return;
    }
    if (!strcmp(r->method, "PATCH")) {
        json_t *b;

        if (!simx_body_object(r, w, false) || !simx_tags_ok(r, w, 50))
            return;
        b = json_deep_copy(e->body);
        if (!b) {
            oom(w);
            return;
        }
        if (json_object_get(r->json, "tags"))
            simx_copy_key(b, r->json, "tags");
        e = as_store_put(sim, id, b, NULL);
        if (!e) {
            oom(w);
            return;
        }
        as_resp_json(w, 200, json_deep_copy(e->body));
        return;
    }
    if (strcmp(r->method, "DELETE")) {
        as_resp_error(w, 405, "MethodNotAllowed", NULL, "The method %s is not allowed.", r->method);
        return;
    }
    if (!strcmp(run_state(e), "Running")) {
        as_resp_error(w, 409, "Conflict", NULL,
                      "The image template '%s' has a run in progress; cancel it first.",
                      as_param(r, "template"));
        return;
    }
    json_object_set_new(json_object_get(e->body, "properties"), "provisioningState",
                        json_string("Deleting"));
    lro.style = AS_LRO_ASYNC;
    lro.status = 202;
    lro.duration_ms = TPL_DELETE_MS;
    lro.resource_id = e->id;
    lro.provider = IB_PROV;
    lro.location = json_string_value(json_object_get(e->body, "location"));
    lro.final_status = 204;
    lro.on_done = "generic.delete";
    as_lro_begin(sim, r, w, &lro, NULL);
}

/* ---- runs ---- */

static json_t *outcome_for(struct armsim *sim, const char *name)
{
    json_t *oc = json_object_get(simx_state_peek(sim, "imagebuilder"), "outcomes");
    json_t *v;
    const char *k;

    json_object_foreach(oc, k, v)
    {
        if (!strcasecmp(k, name))
            return v;
    }
    return json_object_get(oc, "*");
}

/* Sets lastRunStatus as of at_ms (0 = now): a new run when !ended, else the end of the current. */
static void set_run_status(struct armsim *sim, const char *id, const char *state, const char *sub,
                           const char *msg, bool ended, int64_t at_ms)
{
    struct as_res *e = as_store_get(sim, id);
    json_t *b, *st;
    char now[64];

    if (!e)
        return;
    b = json_deep_copy(e->body);
    if (!b)
        return;
    as_time_format(at_ms > 0 ? at_ms : as_now(sim), now, sizeof(now));
    st = json_object_get(json_object_get(b, "properties"), "lastRunStatus");
    if (!st || !ended) {
        st = json_object();
        json_object_set_new(json_object_get(b, "properties"), "lastRunStatus", st);
        json_object_set_new(st, "startTime", json_string(now));
    }
    json_object_set_new(st, "endTime", json_string(ended ? now : ZERO_TIME));
    json_object_set_new(st, "runState", json_string(state));
    json_object_set_new(st, "runSubState", json_string(sub));
    json_object_set_new(st, "message", json_string(msg ? msg : ""));
    as_store_put(sim, id, b, NULL);
}

/* Fails the LRO of the template's running build (if any). */
static void fail_run_op(struct armsim *sim, const char *id, const char *code, const char *msg)
{
    json_t *runs = json_object_get(simx_state_peek(sim, "imagebuilder"), "runs");
    const char *op = json_string_value(json_object_get(runs, id));

    if (op)
        as_lro_fail(sim, op, code, msg);
}

/* Runs every distributor of template tid (body tbody, not in the store); returns NULL or a
 * failure message (a literal or buf). */
static const char *distribute(struct armsim *sim, const char *tid, const json_t *tbody,
                              int64_t at_ms, char *buf, size_t size)
{
    json_t *dist = json_object_get(json_object_get(tbody, "properties"), "distribute"), *d;
    const char *loc = json_string_value(json_object_get(tbody, "location"));
    size_t i;

    json_array_foreach(dist, i, d)
    {
        const char *t = json_string_value(json_object_get(d, "type"));
        const char *name = json_string_value(json_object_get(d, "runOutputName"));
        char oid[AS_ID_MAX], art[AS_ID_MAX], ver[64];
        json_t *out;

        if (simx_fmt(oid, sizeof(oid), "%s/runOutputs/%s", tid, name) < 0)
            return "run output id too long";
        out = simx_skeleton(oid, name, OUT_TYPE);
        if (!out)
            return "out of memory";
        if (!strcmp(t, "SharedImage")) {
            const char *gid = json_string_value(json_object_get(d, "galleryImageId"));
            const char *vs = strstr(gid, "/versions/");

            if (!vs) {
                vs = strstr(gid, "/Versions/");
            }
            if (vs) {
                snprintf(art, sizeof(art), "%s", gid);
            } else if (sim_gallery_next_version(sim, gid, ver, sizeof(ver)) < 0 ||
                       simx_fmt(art, sizeof(art), "%s/versions/%s", gid, ver) < 0) {
                json_decref(out);
                return "gallery image id too long";
            }
            if (sim_gallery_add_version(sim, art, loc ? loc : "westus", tid,
                                        json_is_true(json_object_get(d, "excludeFromLatest")),
                                        at_ms) < 0) {
                json_decref(out);
                snprintf(buf, size,
                         "Distribution to '%s' failed: the gallery image definition was not "
                         "found.",
                         gid);
                return buf;
            }
            json_object_set_new(
                out, "properties",
                json_pack("{s:s, s:s}", "artifactId", art, "provisioningState", "Succeeded"));
        } else if (!strcmp(t, "ManagedImage")) {
            json_object_set_new(out, "properties",
                                json_pack("{s:s?, s:s}", "artifactId",
                                          json_string_value(json_object_get(d, "imageId")),
                                          "provisioningState", "Succeeded"));
        } else {
            snprintf(art, sizeof(art), "https://armsimstaging.blob.core.windows.net/vhds/%s_%s.vhd",
                     simx_last_seg(tid), name);
            json_object_set_new(
                out, "properties",
                json_pack("{s:s, s:s}", "artifactUri", art, "provisioningState", "Succeeded"));
        }
        if (!as_store_put(sim, oid, out, NULL))
            return "out of memory";
    }
    return NULL;
}

static void sched_run_done(struct armsim *sim, const char *id, json_t *arg)
{
    struct as_res *e = as_store_get(sim, id);
    const char *want = json_string_value(json_object_get(arg, "runState"));
    int64_t at = json_integer_value(json_object_get(arg, "endAt"));
    char buf[AS_ID_MAX + 128];
    const char *err;
    json_t *tbody;

    if (!e || strcmp(run_state(e), "Running"))
        return; /* deleted or canceled meanwhile */
    if (at <= 0 || at > as_now(sim))
        at = 0; /* the build ends at its due time, even when time jumped past it */
    if (want && !strcmp(want, "Failed")) {
        set_run_status(sim, id, "Failed", "Building",
                       json_string_value(json_object_get(arg, "message")), true, at);
        return; /* the LRO was created failing */
    }
    tbody = json_deep_copy(e->body); /* distribute() mutates the store */
    if (!tbody)
        return;
    err = distribute(sim, id, tbody, at, buf, sizeof(buf));
    json_decref(tbody);
    if (err) {
        fail_run_op(sim, id, "BuildFailed", err);
        set_run_status(sim, id, "Failed", "Distributing", err, true, at);
        return;
    }
    set_run_status(sim, id, "Succeeded", "", "", true, at);
}

static void h_run(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    const char *action = r->route_ud;
    char id[AS_ID_MAX], loc[128];
    struct as_res *e;
    struct as_lro lro = {0};
    json_t *oc, *st;
    const char *ps, *op, *want, *msg;
    json_int_t secs;

    if (!as_require_rg(sim, r, w))
        return;
    if (tpl_id(r, id, sizeof(id)) < 0) {
        as_resp_error(w, 400, "InvalidParameter", NULL, "resource id too long");
        return;
    }
    e = as_store_get(sim, id);
    if (!e) {
        as_resp_not_found(w, TPL_TYPE, as_param(r, "template"), as_param(r, "rg"));
        return;
    }
    /* set_run_status() mutates the store: keep nothing borrowed from e across it. */
    snprintf(loc, sizeof(loc), "%s",
             json_string_value(json_object_get(e->body, "location"))
                 ? json_string_value(json_object_get(e->body, "location"))
                 : "westus");
    lro.style = AS_LRO_ASYNC;
    lro.status = 202;
    lro.resource_id = id;
    lro.provider = IB_PROV;
    lro.location = loc;
    lro.final_status = 204;
    if (!strcmp(action, "cancel")) {
        if (strcmp(run_state(e), "Running")) {
            as_resp_error(w, 409, "Conflict", NULL, "No run of '%s' is in progress.",
                          as_param(r, "template"));
            return;
        }
        fail_run_op(sim, id, "OperationCanceled", "The image build was canceled.");
        set_run_status(sim, id, "Canceled", "Building", "Canceled by user.", true, 0);
        as_lro_begin(sim, r, w, &lro, NULL);
        return;
    }
    ps = json_string_value(
        json_object_get(json_object_get(e->body, "properties"), "provisioningState"));
    if (!ps || strcasecmp(ps, "Succeeded")) {
        as_resp_error(w, 409, "Conflict", NULL,
                      "The image template '%s' is in provisioning state '%s'; it can run only "
                      "when Succeeded.",
                      as_param(r, "template"), ps ? ps : "");
        return;
    }
    if (!strcmp(run_state(e), "Running")) {
        as_resp_error(w, 409, "Conflict", NULL, "The image template '%s' is already running.",
                      as_param(r, "template"));
        return;
    }
    oc = outcome_for(sim, as_param(r, "template"));
    want = json_string_value(json_object_get(oc, "runState"));
    msg = json_string_value(json_object_get(oc, "message"));
    secs = json_integer_value(json_object_get(oc, "durationSeconds"));
    lro.duration_ms = secs > 0 ? secs * 1000 : BUILD_MS;
    lro.on_done = "imagebuilder.run_done";
    lro.on_done_arg =
        json_pack("{s:s, s:s, s:I}", "runState", want ? want : "Succeeded", "message",
                  msg ? msg : "", "endAt", (json_int_t)(as_now(sim) + lro.duration_ms));
    if (want && !strcmp(want, "Failed")) {
        lro.fail_code = "BuildFailed";
        lro.fail_message = msg && *msg ? msg : "The image build failed (armsim outcome).";
    }
    set_run_status(sim, id, "Running", "Building", "", false, 0);
    op = as_lro_begin(sim, r, w, &lro, NULL);
    st = simx_state(sim, "imagebuilder");
    if (op && st) {
        if (!json_object_get(st, "runs"))
            json_object_set_new(st, "runs", json_object());
        json_object_set_new(json_object_get(st, "runs"), id, json_string(op));
    }
}

static void h_outputs(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char id[AS_ID_MAX], oid[AS_ID_MAX];
    const char *name = as_param(r, "output");
    struct as_res *e;
    json_t *all;

    if (!as_require_rg(sim, r, w))
        return;
    if (tpl_id(r, id, sizeof(id)) < 0 || simx_fmt(oid, sizeof(oid), "%s/runOutputs%s%s", id,
                                                  name ? "/" : "", name ? name : "") < 0) {
        as_resp_error(w, 400, "InvalidParameter", NULL, "resource id too long");
        return;
    }
    if (!as_store_get(sim, id)) {
        as_resp_not_found(w, TPL_TYPE, as_param(r, "template"), as_param(r, "rg"));
        return;
    }
    if (!name) {
        all = simx_children(sim, oid);
        if (!all) {
            oom(w);
            return;
        }
        as_resp_list_all(sim, r, w, all);
        return;
    }
    e = as_store_get(sim, oid);
    if (!e) {
        as_resp_not_found(w, OUT_TYPE, name, as_param(r, "rg"));
        return;
    }
    as_resp_json(w, 200, json_deep_copy(e->body));
}

static void admin_outcome(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    json_t *st = simx_state(sim, "imagebuilder"), *oc, *v;
    const char *tpl, *rs, *msg;
    json_int_t secs;

    if (!st) {
        oom(w);
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
        as_resp_json(w, 200, json_object());
        return;
    }
    tpl = json_string_value(json_object_get(r->json, "template"));
    rs = json_string_value(json_object_get(r->json, "runState"));
    msg = json_string_value(json_object_get(r->json, "message"));
    secs = json_integer_value(json_object_get(r->json, "durationSeconds"));
    if (!rs || (strcmp(rs, "Succeeded") && strcmp(rs, "Failed")) || secs < 0 ||
        secs > MAX_BUILD_SECS || (tpl && strlen(tpl) > 256) || (msg && strlen(msg) > 2048)) {
        as_resp_error(w, 400, "BadRequest", NULL,
                      "want {\"template\"?, \"runState\": Succeeded|Failed, \"message\"?, "
                      "\"durationSeconds\"? (0..%d)}",
                      MAX_BUILD_SECS);
        return;
    }
    v = json_pack("{s:s, s:s, s:I}", "runState", rs, "message", msg ? msg : "", "durationSeconds",
                  secs);
    if (!v) {
        oom(w);
        return;
    }
    json_object_set_new(oc, tpl && *tpl ? tpl : "*", v);
    as_resp_json(w, 200, json_deep_copy(oc));
}

#define TB                                                                                         \
    "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.VirtualMachineImages/"           \
    "imageTemplates"

void sim_imagebuilder_init(struct armsim *sim);

void sim_imagebuilder_init(struct armsim *sim)
{
    static char run[] = "run", cancel[] = "cancel";
    const char *v = AS_APIV_IMAGEBUILDER;

    as_sched_handler(sim, "imagebuilder.run_done", sched_run_done);
    as_route(sim, "GET",
             "/subscriptions/{sub}/providers/Microsoft.VirtualMachineImages/imageTemplates",
             h_list_sub, AS_ARM, v, NULL);
    as_route(sim, "GET", TB, h_list, AS_ARM, v, NULL);
    as_route(sim, "*", TB "/{template}", h_item, AS_ARM, v, NULL);
    as_route(sim, "POST", TB "/{template}/run", h_run, AS_ARM, v, run);
    as_route(sim, "POST", TB "/{template}/cancel", h_run, AS_ARM, v, cancel);
    as_route(sim, "GET", TB "/{template}/runOutputs", h_outputs, AS_ARM, v, NULL);
    as_route(sim, "GET", TB "/{template}/runOutputs/{output}", h_outputs, AS_ARM, v, NULL);
    as_route(sim, "*", "/_armsim/imagebuilder/outcome", admin_outcome, AS_ADMIN, NULL, NULL);
}
