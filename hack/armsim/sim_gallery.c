/*
 * sim_gallery.c - Azure Compute Gallery in armsim: galleries, image definitions and image
 * versions (azure-arm.md §7; SDK-NOTES.md), api-versions AS_APIV_GALLERY.
 *
 * Routes, base G = /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/galleries:
 *   G, G/{gallery}/images, .../images/{image}/versions   GET list (paged, $skiptoken)
 *   /subscriptions/{sub}/providers/Microsoft.Compute/galleries   GET list of the subscription
 *   G/{gallery}, .../images/{image}, .../versions/{version}   PUT, GET, PATCH, DELETE
 *
 * Decisions (others rely on them; NV = not verified against the real service):
 * - Tags are checked against Azure's limits on PUT/PATCH (simx_tags_ok, at most 50).
 * - PUT is an Azure-AsyncOperation LRO: 201 (new) / 200 (replace) with provisioningState
 *   Creating/Updating, Succeeded after GAL_PROVISION_MS (galleries, definitions) or
 *   VER_PROVISION_MS (versions) of simulated time. PATCH is synchronous 200 (the SDK accepts
 *   nothing else): tags replaced, properties merged (JSON merge patch). DELETE is a 202 LRO
 *   (provisioningState Deleting, gone when done); 204 when absent.
 * - Deleting a gallery that still has image definitions, or a definition that still has versions,
 *   is 409 Conflict (NV code). Parents must exist (404 ParentResourceNotFound).
 * - Version names must be Major.Minor.Patch with integers in 0..2147483647 (400 InvalidParameter).
 *   publishedDate is set at creation and kept on replace; excludeFromLatest defaults to false,
 *   replicaCount to 1, targetRegions to the version's location. storageProfile is required.
 * - GET version with $expand=ReplicationStatus adds properties.replicationStatus (Completed in
 *   every target region once Succeeded, else Replicating at 0 %).
 * - Image Builder distribution uses sim_gallery_next_version / sim_gallery_add_version (simx.h):
 *   next = highest M.m.p + 1 patch, 1.0.0 when none. sim_gallery_latest resolves "latest" the
 *   way Azure does at deploy time (numeric order, Succeeded, not excluded, replicated to the
 *   region) for whoever needs exactVersion.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "armsim.h"
#include "simx.h"

#define GAL_TYPE "Microsoft.Compute/galleries"
#define IMG_TYPE "Microsoft.Compute/galleries/images"
#define VER_TYPE "Microsoft.Compute/galleries/images/versions"

#define GAL_PROVISION_MS 5000
#define VER_PROVISION_MS 60000
#define DEL_MS           10000

enum level { GALLERY, IMAGE, VERSION };

static const char *const kind_name[] = {"galleries", "images", "versions"};
static const char *const kind_type[] = {GAL_TYPE, IMG_TYPE, VER_TYPE};

/* ---- ids ---- */

static int level_id(const struct as_req *r, enum level lv, bool collection, char *buf, size_t size)
{
    char rg[AS_ID_MAX];
    const char *g = as_param(r, "gallery"), *i = as_param(r, "image"), *v = as_param(r, "version");

    as_rg_id(r, rg, sizeof(rg));
    switch (lv) {
    case GALLERY:
        if (collection)
            return simx_fmt(buf, size, "%s/providers/Microsoft.Compute/galleries", rg);
        return simx_fmt(buf, size, "%s/providers/Microsoft.Compute/galleries/%s", rg, g);
    case IMAGE:
        if (collection)
            return simx_fmt(buf, size, "%s/providers/Microsoft.Compute/galleries/%s/images", rg, g);
        return simx_fmt(buf, size, "%s/providers/Microsoft.Compute/galleries/%s/images/%s", rg, g,
                        i);
    case VERSION:
        if (collection)
            return simx_fmt(buf, size,
                            "%s/providers/Microsoft.Compute/galleries/%s/images/%s/versions", rg, g,
                            i);
        return simx_fmt(buf, size,
                        "%s/providers/Microsoft.Compute/galleries/%s/images/%s/versions/%s", rg, g,
                        i, v);
    }
    return -1;
}

/* "1.2.3" -> 0 and the three numbers; -1 when not Major.Minor.Patch integers. */
static int parse_version(const char *s, long ret_v[3])
{
    int k;
    char *end;

    for (k = 0; k < 3; k++) {
        if (*s < '0' || *s > '9')
            return -1;
        errno = 0;
        ret_v[k] = strtol(s, &end, 10);
        if (errno || ret_v[k] > 2147483647L || end - s > 10)
            return -1;
        s = end;
        if (k < 2) {
            if (*s != '.')
                return -1;
            s++;
        }
    }
    return *s ? -1 : 0;
}

static int oom(struct as_resp *w)
{
    return as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
}

/* Checks RG and parents; answers and returns false when one is missing. */
static bool parents_ok(struct armsim *sim, struct as_req *r, struct as_resp *w, enum level lv)
{
    char id[AS_ID_MAX];

    if (!as_require_rg(sim, r, w))
        return false;
    if (lv >= IMAGE) {
        if (level_id(r, GALLERY, false, id, sizeof(id)) < 0 || !as_store_get(sim, id)) {
            as_resp_parent_not_found(w, GAL_TYPE, as_param(r, "gallery"));
            return false;
        }
    }
    if (lv >= VERSION) {
        if (level_id(r, IMAGE, false, id, sizeof(id)) < 0 || !as_store_get(sim, id)) {
            as_resp_parent_not_found(w, IMG_TYPE, as_param(r, "image"));
            return false;
        }
    }
    return true;
}

/* ---- bodies ---- */

static json_t *gallery_props(const struct as_req *r, const json_t *in)
{
    char uniq[300];
    json_t *p = json_object();
    size_t k;

    if (!p)
        return NULL;
    simx_copy_key(p, in, "description");
    simx_copy_key(p, in, "sharingProfile");
    snprintf(uniq, sizeof(uniq), "%s-%s", as_param(r, "sub"), as_param(r, "gallery"));
    for (k = 0; uniq[k]; k++)
        if (uniq[k] >= 'a' && uniq[k] <= 'z')
            uniq[k] = (char)(uniq[k] - 'a' + 'A');
    json_object_set_new(p, "identifier", json_pack("{s:s}", "uniqueName", uniq));
    return p;
}

static json_t *image_props(struct as_resp *w, const json_t *in)
{
    static const char *const keep[] = {
        "description", "eula",       "privacyStatementUri", "releaseNoteUri", "endOfLifeDate",
        "recommended", "disallowed", "purchasePlan",        "features",       "architecture"};
    const json_t *idf = json_object_get(in, "identifier");
    const char *os = json_string_value(json_object_get(in, "osType"));
    const char *st = json_string_value(json_object_get(in, "osState"));
    const char *hv = json_string_value(json_object_get(in, "hyperVGeneration"));
    json_t *p;
    size_t k;

    if (!os || (strcasecmp(os, "Linux") && strcasecmp(os, "Windows"))) {
        as_resp_error(w, 400, "InvalidParameter", "properties.osType",
                      "Required parameter 'osType' is missing or invalid (Linux or Windows).");
        return NULL;
    }
    if (!st || (strcasecmp(st, "Generalized") && strcasecmp(st, "Specialized"))) {
        as_resp_error(w, 400, "InvalidParameter", "properties.osState",
                      "Required parameter 'osState' is missing or invalid.");
        return NULL;
    }
    if (!json_string_value(json_object_get(idf, "publisher")) ||
        !json_string_value(json_object_get(idf, "offer")) ||
        !json_string_value(json_object_get(idf, "sku"))) {
        as_resp_error(w, 400, "InvalidParameter", "properties.identifier",
                      "Required parameter 'identifier' needs publisher, offer and sku.");
        return NULL;
    }
    p = json_pack("{s:s, s:s, s:s, s:O}", "osType", os, "osState", st, "hyperVGeneration",
                  hv ? hv : "V1", "identifier", idf);
    if (!p) {
        oom(w);
        return NULL;
    }
    for (k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
        simx_copy_key(p, in, keep[k]);
    return p;
}

static json_t *version_props(struct as_resp *w, const json_t *in, const char *loc,
                             const char *published)
{
    static const char *const pkeep[] = {
        "replicaCount",    "excludeFromLatest", "endOfLifeDate",          "storageAccountType",
        "replicationMode", "targetRegions",     "targetExtendedLocations"};
    const json_t *pp = json_object_get(in, "publishingProfile");
    const json_t *sp = json_object_get(in, "storageProfile");
    json_t *p, *pub, *stor;
    size_t k;

    if (!json_is_object(sp) ||
        (!json_object_get(sp, "source") && !json_object_get(sp, "osDiskImage"))) {
        as_resp_error(w, 400, "InvalidParameter", "properties.storageProfile",
                      "Required parameter 'storageProfile' (source or osDiskImage) is missing.");
        return NULL;
    }
    if (pp && !json_is_object(pp)) {
        as_resp_error(w, 400, "InvalidParameter", "properties.publishingProfile",
                      "publishingProfile must be an object.");
        return NULL;
    }
    pub = json_object();
    stor = json_deep_copy(sp);
    p = json_object();
    if (!pub || !stor || !p) {
        json_decref(pub);
        json_decref(stor);
        json_decref(p);
        oom(w);
        return NULL;
    }
    for (k = 0; k < sizeof(pkeep) / sizeof(pkeep[0]); k++)
        simx_copy_key(pub, pp, pkeep[k]);
    if (!json_is_boolean(json_object_get(pub, "excludeFromLatest")))
        json_object_set_new(pub, "excludeFromLatest", json_false());
    if (!json_object_get(pub, "replicaCount"))
        json_object_set_new(pub, "replicaCount", json_integer(1));
    if (!json_object_get(pub, "storageAccountType"))
        json_object_set_new(pub, "storageAccountType", json_string("Standard_LRS"));
    if (!json_array_size(json_object_get(pub, "targetRegions")))
        json_object_set_new(pub, "targetRegions",
                            json_pack("[{s:s, s:i, s:s}]", "name", loc, "regionalReplicaCount", 1,
                                      "storageAccountType", "Standard_LRS"));
    json_object_set_new(pub, "publishedDate", json_string(published));
    if (!json_object_get(stor, "osDiskImage"))
        json_object_set_new(stor, "osDiskImage",
                            json_pack("{s:i, s:s}", "sizeInGB", 30, "hostCaching", "ReadOnly"));
    json_object_set_new(p, "publishingProfile", pub);
    json_object_set_new(p, "storageProfile", stor);
    json_object_set_new(p, "safetyProfile",
                        json_pack("{s:b}", "allowDeletionOfReplicatedLocations", 1));
    return p;
}

/* ---- handlers ---- */

static void h_list(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    enum level lv = (enum level)(size_t)r->route_ud;
    char coll[AS_ID_MAX];
    json_t *all;

    if (!parents_ok(sim, r, w, lv))
        return;
    if (level_id(r, lv, true, coll, sizeof(coll)) < 0) {
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

static void add_replication_status(json_t *body)
{
    json_t *props = json_object_get(body, "properties");
    json_t *regions = json_object_get(json_object_get(props, "publishingProfile"), "targetRegions");
    const char *ps = json_string_value(json_object_get(props, "provisioningState"));
    bool done = ps && !strcasecmp(ps, "Succeeded");
    json_t *sum = json_array(), *reg;
    size_t i;

    if (!sum)
        return;
    json_array_foreach(regions, i, reg)
    {
        json_array_append_new(sum, json_pack("{s:s?, s:s, s:i}", "region",
                                             json_string_value(json_object_get(reg, "name")),
                                             "state", done ? "Completed" : "Replicating",
                                             "progress", done ? 100 : 0));
    }
    json_object_set_new(props, "replicationStatus",
                        json_pack("{s:s, s:o}", "aggregatedState",
                                  done ? "Completed" : "InProgress", "summary", sum));
}

static void h_get(struct as_req *r, struct as_resp *w, enum level lv, struct as_res *e)
{
    const char *ex = as_query(r, "$expand");
    json_t *b;

    if (!e) {
        as_resp_not_found(w, kind_type[lv],
                          as_param(r, lv == GALLERY ? "gallery"
                                      : lv == IMAGE ? "image"
                                                    : "version"),
                          as_param(r, "rg"));
        return;
    }
    b = json_deep_copy(e->body);
    if (!b) {
        oom(w);
        return;
    }
    if (lv == VERSION && ex && !strcasecmp(ex, "ReplicationStatus"))
        add_replication_status(b);
    as_resp_json(w, 200, b);
    as_set_etag(w, e);
}

static void h_delete(struct armsim *sim, struct as_req *r, struct as_resp *w, enum level lv,
                     const char *id, struct as_res *e)
{
    char coll[AS_ID_MAX];
    struct as_res **kids;
    size_t n = 0;
    struct as_lro lro = {0};

    if (!e) {
        as_resp_empty(w, 204);
        return;
    }
    if (lv != VERSION) {
        if (simx_fmt(coll, sizeof(coll), "%s/%s", id, kind_name[lv + 1]) < 0) {
            as_resp_error(w, 400, "InvalidParameter", NULL, "resource id too long");
            return;
        }
        kids = as_store_children(sim, coll, &n);
        free(kids);
        if (n > 0) {
            as_resp_error(w, 409, "Conflict", NULL,
                          "Can not delete resource before nested resources are deleted: '%s' "
                          "still has %zu %s.",
                          simx_last_seg(id), n, kind_name[lv + 1]);
            return;
        }
    }
    json_object_set_new(json_object_get(e->body, "properties"), "provisioningState",
                        json_string("Deleting"));
    lro.style = AS_LRO_ASYNC;
    lro.status = 202;
    lro.duration_ms = DEL_MS;
    lro.resource_id = id;
    lro.provider = "Microsoft.Compute";
    lro.location = json_string_value(json_object_get(e->body, "location"));
    lro.final_status = 204;
    lro.on_done = "generic.delete";
    as_lro_begin(sim, r, w, &lro, NULL);
}

static void h_patch(struct armsim *sim, struct as_req *r, struct as_resp *w, const char *id,
                    enum level lv, struct as_res *e)
{
    json_t *b, *in = r->json;

    if (!e) {
        h_get(r, w, lv, NULL);
        return;
    }
    if (!simx_body_object(r, w, false) || !as_check_etag(r, w, e) || !simx_tags_ok(r, w, 50))
        return;
    b = json_deep_copy(e->body);
    if (!b) {
        oom(w);
        return;
    }
    if (json_object_get(in, "tags"))
        simx_copy_key(b, in, "tags");
    if (json_is_object(json_object_get(in, "properties")))
        json_object_update_recursive(json_object_get(b, "properties"),
                                     json_object_get(in, "properties"));
    json_object_set_new(json_object_get(b, "properties"), "provisioningState",
                        json_string("Succeeded"));
    e = as_store_put(sim, id, b, NULL);
    if (!e) {
        oom(w);
        return;
    }
    as_resp_json(w, 200, json_deep_copy(e->body));
    as_set_etag(w, e);
}

static void h_put(struct armsim *sim, struct as_req *r, struct as_resp *w, const char *id,
                  enum level lv, struct as_res *old)
{
    const json_t *in = r->json;
    const json_t *inprops = json_object_get(in, "properties");
    const char *loc = json_string_value(json_object_get(in, "location"));
    const char *name = simx_last_seg(id);
    char now[64];
    const char *published = NULL;
    json_t *body, *props = NULL;
    struct as_res *e;
    bool created = false;
    struct as_lro lro = {0};
    long ver[3];

    if (!simx_body_object(r, w, false) || !as_check_etag(r, w, old) || !simx_tags_ok(r, w, 50))
        return;
    if (!loc || !*loc) {
        as_resp_error(w, 400, "LocationRequired", "location",
                      "The location property is required for this definition.");
        return;
    }
    if (lv == VERSION && parse_version(name, ver) < 0) {
        as_resp_error(
            w, 400, "InvalidParameter", "galleryImageVersionName",
            "The gallery image version name '%s' is invalid: it must be Major.Minor.Patch "
            "with 32-bit integers.",
            name);
        return;
    }
    if (inprops && !json_is_object(inprops)) {
        as_resp_error(w, 400, "InvalidParameter", "properties", "properties must be an object.");
        return;
    }
    simx_now(sim, now, sizeof(now));
    if (old)
        published = json_string_value(json_object_get(
            json_object_get(json_object_get(old->body, "properties"), "publishingProfile"),
            "publishedDate"));
    switch (lv) {
    case GALLERY:
        props = gallery_props(r, inprops);
        if (!props)
            oom(w);
        break;
    case IMAGE:
        props = image_props(w, inprops);
        break;
    case VERSION:
        props = version_props(w, inprops, loc, published ? published : now);
        break;
    }
    if (!props)
        return;
    body = simx_skeleton(id, name, kind_type[lv]);
    if (!body) {
        json_decref(props);
        oom(w);
        return;
    }
    json_object_set_new(body, "location", json_string(loc));
    simx_copy_key(body, in, "tags");
    json_object_set_new(props, "provisioningState", json_string(old ? "Updating" : "Creating"));
    json_object_set_new(body, "properties", props);
    e = as_store_put(sim, id, body, &created);
    if (!e) {
        oom(w);
        return;
    }
    lro.style = AS_LRO_ASYNC;
    lro.status = created ? 201 : 200;
    lro.duration_ms = lv == VERSION ? VER_PROVISION_MS : GAL_PROVISION_MS;
    lro.resource_id = e->id;
    lro.provider = "Microsoft.Compute";
    lro.location = loc;
    lro.final_status = 200;
    lro.on_done = "generic.provisioned";
    body = json_deep_copy(e->body);
    if (!body) {
        oom(w);
        return;
    }
    if (as_lro_begin(sim, r, w, &lro, body))
        as_set_etag(w, as_store_get(sim, id));
}

static void h_item(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    enum level lv = (enum level)(size_t)r->route_ud;
    char id[AS_ID_MAX];
    struct as_res *e;

    if (!parents_ok(sim, r, w, lv))
        return;
    if (level_id(r, lv, false, id, sizeof(id)) < 0) {
        as_resp_error(w, 400, "InvalidParameter", NULL, "resource id too long");
        return;
    }
    e = as_store_get(sim, id);
    if (!strcmp(r->method, "GET"))
        h_get(r, w, lv, e);
    else if (!strcmp(r->method, "PUT"))
        h_put(sim, r, w, id, lv, e);
    else if (!strcmp(r->method, "PATCH"))
        h_patch(sim, r, w, id, lv, e);
    else if (!strcmp(r->method, "DELETE"))
        h_delete(sim, r, w, lv, id, e);
    else
        as_resp_error(w, 405, "MethodNotAllowed", NULL, "The method %s is not allowed.", r->method);
}

static void h_list_sub(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    simx_list_by_type(sim, r, w, GAL_TYPE);
}

/* ---- hooks for sim_imagebuilder ---- */

int sim_gallery_next_version(struct armsim *sim, const char *image_id, char *buf, size_t size)
{
    char coll[AS_ID_MAX];
    struct as_res **v;
    size_t n = 0, i;
    long best[3] = {-1, 0, 0}, cur[3];

    if (simx_fmt(coll, sizeof(coll), "%s/versions", image_id) < 0)
        return -1;
    v = as_store_children(sim, coll, &n);
    for (i = 0; v && i < n; i++) {
        if (parse_version(simx_last_seg(v[i]->id), cur) < 0)
            continue;
        if (cur[0] > best[0] || (cur[0] == best[0] && cur[1] > best[1]) ||
            (cur[0] == best[0] && cur[1] == best[1] && cur[2] > best[2]))
            memcpy(best, cur, sizeof(best));
    }
    free(v);
    if (best[0] < 0)
        return simx_fmt(buf, size, "1.0.0");
    return simx_fmt(buf, size, "%ld.%ld.%ld", best[0], best[1], best[2] + 1);
}

/* Region names compare without case and spaces ("West US" == "westus"). */
static bool same_region(const char *a, const char *b)
{
    while (*a || *b) {
        if (*a == ' ') {
            a++;
            continue;
        }
        if (*b == ' ') {
            b++;
            continue;
        }
        if (!*a || !*b || (*a | 0x20) != (*b | 0x20))
            return false;
        a++;
        b++;
    }
    return true;
}

/* Whether a version body qualifies for "latest" in location (NULL = any region). */
static bool latest_candidate(const json_t *body, const char *location)
{
    const json_t *props = json_object_get(body, "properties");
    const json_t *pub = json_object_get(props, "publishingProfile");
    const json_t *regions = json_object_get(pub, "targetRegions"), *reg;
    const char *ps = json_string_value(json_object_get(props, "provisioningState"));
    size_t i;

    if (!ps || strcasecmp(ps, "Succeeded") ||
        json_is_true(json_object_get(pub, "excludeFromLatest")))
        return false;
    if (!location)
        return true;
    json_array_foreach(regions, i, reg)
    {
        const char *n = json_string_value(json_object_get(reg, "name"));

        if (n && same_region(n, location))
            return !json_is_true(json_object_get(reg, "excludeFromLatest"));
    }
    return false;
}

int sim_gallery_latest(struct armsim *sim, const char *image_id, const char *location, char *buf,
                       size_t size)
{
    char coll[AS_ID_MAX];
    struct as_res **v;
    size_t n = 0, i;
    long best[3] = {-1, 0, 0}, cur[3];

    if (simx_fmt(coll, sizeof(coll), "%s/versions", image_id) < 0)
        return -1;
    v = as_store_children(sim, coll, &n);
    for (i = 0; v && i < n; i++) {
        if (parse_version(simx_last_seg(v[i]->id), cur) < 0 ||
            !latest_candidate(v[i]->body, location))
            continue;
        if (cur[0] > best[0] || (cur[0] == best[0] && cur[1] > best[1]) ||
            (cur[0] == best[0] && cur[1] == best[1] && cur[2] > best[2]))
            memcpy(best, cur, sizeof(best));
    }
    free(v);
    if (best[0] < 0)
        return -1;
    return simx_fmt(buf, size, "%ld.%ld.%ld", best[0], best[1], best[2]);
}

int sim_gallery_add_version(struct armsim *sim, const char *version_id, const char *location,
                            const char *source_id, bool exclude_from_latest, int64_t published_ms)
{
    char image_id[AS_ID_MAX], now[64];
    const char *slash = strrchr(version_id, '/');
    json_t *body;
    size_t n;

    if (!slash || (size_t)(slash - version_id) < sizeof("/versions") - 1)
        return -1;
    n = (size_t)(slash - version_id) - (sizeof("/versions") - 1);
    if (n >= sizeof(image_id))
        return -1;
    memcpy(image_id, version_id, n);
    image_id[n] = '\0';
    if (!as_store_get(sim, image_id))
        return -1;
    as_time_format(published_ms > 0 ? published_ms : as_now(sim), now, sizeof(now));
    body = json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:{s:[{s:s, s:i, s:s, s:b}], s:i, s:b, s:s, s:s, s:s}, "
        "s:{s:{s:s}, s:{s:i, s:s}}, s:{s:b}, s:s}}",
        "id", version_id, "name", slash + 1, "type", VER_TYPE, "location", location, "properties",
        "publishingProfile", "targetRegions", "name", location, "regionalReplicaCount", 1,
        "storageAccountType", "Standard_LRS", "excludeFromLatest", exclude_from_latest,
        "replicaCount", 1, "excludeFromLatest", exclude_from_latest, "publishedDate", now,
        "storageAccountType", "Standard_LRS", "replicationMode", "Full", "storageProfile", "source",
        "id", source_id ? source_id : "", "osDiskImage", "sizeInGB", 30, "hostCaching", "ReadOnly",
        "safetyProfile", "allowDeletionOfReplicatedLocations", 1, "provisioningState", "Succeeded");
    if (!body)
        return -1;
    return as_store_put(sim, version_id, body, NULL) ? 0 : -1;
}

/* ---- registration ---- */

#define GB "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/galleries"

void sim_gallery_init(struct armsim *sim);

void sim_gallery_init(struct armsim *sim)
{
    const char *v = AS_APIV_GALLERY;

    as_route(sim, "GET", "/subscriptions/{sub}/providers/Microsoft.Compute/galleries", h_list_sub,
             AS_ARM, v, NULL);
    as_route(sim, "GET", GB, h_list, AS_ARM, v, (void *)(size_t)GALLERY);
    as_route(sim, "*", GB "/{gallery}", h_item, AS_ARM, v, (void *)(size_t)GALLERY);
    as_route(sim, "GET", GB "/{gallery}/images", h_list, AS_ARM, v, (void *)(size_t)IMAGE);
    as_route(sim, "*", GB "/{gallery}/images/{image}", h_item, AS_ARM, v, (void *)(size_t)IMAGE);
    as_route(sim, "GET", GB "/{gallery}/images/{image}/versions", h_list, AS_ARM, v,
             (void *)(size_t)VERSION);
    as_route(sim, "*", GB "/{gallery}/images/{image}/versions/{version}", h_item, AS_ARM, v,
             (void *)(size_t)VERSION);
}
