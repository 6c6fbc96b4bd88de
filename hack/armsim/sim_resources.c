/*
 * sim_resources.c - Microsoft.Resources: resource groups (PUT/GET/HEAD/PATCH/DELETE with a
 * Location-style LRO, list), generic resource lists with $filter, and the framework helpers for
 * tracked resources (as_require_rg, ETags, as_generic_handler).
 *
 * Deleting a resource group marks it "Deleting" (writes inside answer 409
 * ResourceGroupBeingDeleted) and removes it and everything under it when the operation ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "armsim_int.h"

/* ---------------------------------------------------------------- helpers */

bool as_require_rg(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char id[AS_ID_MAX];
    as_rg_id(r, id, sizeof(id));
    struct as_res *e = as_store_get(sim, id);
    if (!e) {
        as_resp_rg_not_found(w, as_param(r, "rg"));
        return false;
    }
    const char *ps = as__jstr(json_object_get(e->body, "properties"), "provisioningState");
    if (ps && strcasecmp(ps, "Deleting") == 0 && strcmp(r->method, "GET") != 0 &&
        strcmp(r->method, "HEAD") != 0) {
        as_resp_error(w, 409, "ResourceGroupBeingDeleted", NULL,
                      "The resource group '%s' is in deprovisioning state and cannot perform "
                      "this operation.",
                      as_param(r, "rg"));
        return false;
    }
    return true;
}

bool as_check_etag(struct as_req *r, struct as_resp *w, const struct as_res *existing)
{
    const char *im = as_header(r, "if-match"), *inm = as_header(r, "if-none-match");
    char cur[32] = "";
    if (existing)
        snprintf(cur, sizeof(cur), "\"%llu\"", (unsigned long long)existing->etag);
    if (inm && *inm) {
        if (strcmp(inm, "*") == 0 && existing) {
            as_resp_error(w, 412, "PreconditionFailed", NULL,
                          "The specified precondition 'If-None-Match = *' failed.");
            return false;
        }
        if (existing && strcmp(inm, cur) == 0) {
            as_resp_error(w, 412, "PreconditionFailed", NULL,
                          "The specified precondition 'If-None-Match = %s' failed.", inm);
            return false;
        }
    }
    if (im && *im) {
        if (!existing || (strcmp(im, "*") != 0 && strcmp(im, cur) != 0)) {
            as_resp_error(w, 412, "PreconditionFailed", NULL,
                          "The specified precondition 'If-Match = %s' failed.", im);
            return false;
        }
    }
    return true;
}

void as_set_etag(struct as_resp *w, struct as_res *e)
{
    char cur[32];
    snprintf(cur, sizeof(cur), "\"%llu\"", (unsigned long long)e->etag);
    json_object_set_new(e->body, "etag", json_string(cur));
    as_resp_header(w, "ETag", "%s", cur);
}

static bool bad_body(struct as_req *r, struct as_resp *w, bool required)
{
    if (r->body_bad_json) {
        as_resp_error(w, 400, "InvalidRequestContent", NULL,
                      "The request content was invalid and could not be deserialized: 'Unexpected "
                      "character encountered while parsing value. Path '', line 1, position "
                      "1.'.");
        return true;
    }
    if (required && !json_is_object(r->json)) {
        as_resp_error(w, 400, "InvalidRequestContent", NULL,
                      "The request content was invalid and could not be deserialized: 'The "
                      "request content must be a JSON object.'.");
        return true;
    }
    return false;
}

static bool check_tags(struct as_resp *w, json_t *tags)
{
    if (!tags || json_is_null(tags))
        return true;
    if (!json_is_object(tags)) {
        as_resp_error(w, 400, "InvalidRequestContent", "tags",
                      "The request content was invalid and could not be deserialized: 'tags "
                      "must be an object'.");
        return false;
    }
    if (json_object_size(tags) > 50) {
        as_resp_error(w, 400, "InvalidTagCount", "tags",
                      "The number of tags %zu exceeds the maximum of 50.", json_object_size(tags));
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(tags, k, v)
    {
        if (strlen(k) > 512 || strpbrk(k, "<>%&\\?/") || !*k) {
            as_resp_error(w, 400, "InvalidTagNameCharacters", "tags",
                          "The tag names '%.64s' have reserved characters '<,>,%%,&,\\,?,/' or "
                          "control characters.",
                          k);
            return false;
        }
        if (!json_is_string(v) || strlen(json_string_value(v)) > 256) {
            as_resp_error(w, 400, "InvalidTag", "tags",
                          "The tag value for '%.64s' must be a string of at most 256 characters.",
                          k);
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- resource groups */

static void h_rg(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char id[AS_ID_MAX];
    const char *rg = as_param(r, "rg");
    as_rg_id(r, id, sizeof(id));
    struct as_res *e = as_store_get(sim, id);
    if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0) {
        if (!e) {
            if (strcmp(r->method, "HEAD") == 0)
                as_resp_empty(w, 404);
            else
                as_resp_rg_not_found(w, rg);
            return;
        }
        if (strcmp(r->method, "HEAD") == 0)
            as_resp_empty(w, 204);
        else
            as_resp_json(w, 200, json_deep_copy(e->body));
        return;
    }
    if (strcmp(r->method, "DELETE") == 0) {
        if (!e) {
            as_resp_rg_not_found(w, rg);
            return;
        }
        const char *fdt = as_query(r, "forceDeletionTypes");
        if (fdt && *fdt) {
            char tmp[512];
            snprintf(tmp, sizeof(tmp), "%s", fdt);
            char *save = NULL;
            for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (strcasecmp(t, "Microsoft.Compute/virtualMachines") != 0 &&
                    strcasecmp(t, "Microsoft.Compute/virtualMachineScaleSets") != 0) {
                    as_resp_error(w, 400, "UnsupportedForceDeletionResourceTypeInQueryString", NULL,
                                  "The resource type '%s' is not supported for force deletion.", t);
                    return;
                }
            }
        }
        json_t *props = json_object_get(e->body, "properties");
        const char *ps = as__jstr(props, "provisioningState");
        if (ps && strcasecmp(ps, "Deleting") == 0) {
            struct as_lro l = {.style = AS_LRO_LOCATION,
                               .status = 202,
                               .duration_ms = 1000,
                               .resource_id = id,
                               .provider = "Microsoft.Resources",
                               .final_status = 200};
            as_lro_begin(sim, r, w, &l, NULL);
            return;
        }
        json_object_set_new(props, "provisioningState", json_string("Deleting"));
        struct as_lro l = {.style = AS_LRO_LOCATION,
                           .status = 202,
                           .duration_ms = sim->cfg.provision_ms / 2,
                           .resource_id = id,
                           .provider = "Microsoft.Resources",
                           .final_status = 200,
                           .on_done = "generic.delete"};
        as_lro_begin(sim, r, w, &l, NULL);
        return;
    }
    if (bad_body(r, w, true))
        return;
    if (!check_tags(w, json_object_get(r->json, "tags")))
        return;
    if (e) {
        const char *ps = as__jstr(json_object_get(e->body, "properties"), "provisioningState");
        if (ps && strcasecmp(ps, "Deleting") == 0) {
            as_resp_error(w, 409, "ResourceGroupBeingDeleted", NULL,
                          "The resource group '%s' is in deprovisioning state and cannot perform "
                          "this operation.",
                          rg);
            return;
        }
    }
    if (strcmp(r->method, "PATCH") == 0) {
        if (!e) {
            as_resp_rg_not_found(w, rg);
            return;
        }
        json_t *tags = json_object_get(r->json, "tags");
        if (tags)
            json_object_set(e->body, "tags", tags);
        as_resp_json(w, 200, json_deep_copy(e->body));
        return;
    }
    /* PUT */
    const char *loc = as__jstr(r->json, "location");
    if (!loc || !*loc) {
        as_resp_error(w, 400, "LocationRequired", NULL,
                      "The location property is required for this definition.");
        return;
    }
    if (strlen(rg) > 90) {
        as_resp_error(w, 400, "InvalidResourceGroup", NULL,
                      "The provided resource group name '%s' has these invalid characters or is "
                      "too long.",
                      rg);
        return;
    }
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "id", id, "name",
                  e ? as__jstr(e->body, "name") : rg, "type", "Microsoft.Resources/resourceGroups",
                  "location", loc, "properties", "provisioningState", "Succeeded");
    as__norm_location(body);
    json_t *tags = json_object_get(r->json, "tags");
    if (json_is_object(tags))
        json_object_set(body, "tags", tags);
    if (e && json_object_get(e->body, "id"))
        json_object_set(body, "id", json_object_get(e->body, "id"));
    bool created = false;
    e = as_store_put(sim, id, body, &created);
    if (!e) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    as_resp_json(w, created ? 201 : 200, json_deep_copy(e->body));
}

static void h_rg_list(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char coll[AS_ID_MAX];
    snprintf(coll, sizeof(coll), "/subscriptions/%s/resourceGroups", as_param(r, "sub"));
    size_t n = 0;
    struct as_res **a = as_store_children(sim, coll, &n);
    json_t *all = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(all, a[i]->body);
    free(a);
    as_resp_list_all(sim, r, w, all);
}

/* $filter forms: tagName eq 'x' [and tagValue eq 'y'] | resourceType eq 'T' |
 * substringof('s', name) */
static bool filter_val(const char *f, const char *key, char *buf, size_t size)
{
    const char *p = strcasestr(f, key);
    if (!p)
        return false;
    p = strchr(p, '\'');
    if (!p)
        return false;
    const char *e = strchr(p + 1, '\'');
    if (!e)
        return false;
    snprintf(buf, size, "%.*s", (int)(e - p - 1), p + 1);
    return true;
}

static void h_resources(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char pre[AS_ID_MAX];
    const char *rg = as_param(r, "rg");
    if (rg) {
        if (!as_require_rg(sim, r, w))
            return;
        as_rg_id(r, pre, sizeof(pre));
        snprintf(pre + strlen(pre), sizeof(pre) - strlen(pre), "/providers/");
    } else {
        snprintf(pre, sizeof(pre), "/subscriptions/%s/resourceGroups/", as_param(r, "sub"));
    }
    const char *f = as_query(r, "$filter");
    char tname[600] = "", tval[600] = "", rtype[300] = "", sub[300] = "";
    bool has_tn = f && filter_val(f, "tagName", tname, sizeof(tname));
    bool has_tv = f && filter_val(f, "tagValue", tval, sizeof(tval));
    bool has_rt = f && filter_val(f, "resourceType", rtype, sizeof(rtype));
    bool has_sub = f && filter_val(f, "substringof", sub, sizeof(sub));
    if (f && *f && !has_tn && !has_rt && !has_sub) {
        as_resp_error(w, 400, "InvalidFilterInQueryString", NULL,
                      "Invalid $filter '%.200s' specified in the query string.", f);
        return;
    }
    const char *ex = as_query(r, "$expand");
    size_t n = 0;
    struct as_res **a = as_store_prefix(sim, pre, &n);
    json_t *all = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *b = a[i]->body;
        /* top-level tracked resources only: .../providers/NS/TYPE/NAME */
        const char *id = a[i]->id;
        int slashes = 0;
        for (const char *p = id; *p; p++)
            slashes += *p == '/';
        if (slashes != 8)
            continue;
        const char *type = as__jstr(b, "type");
        const char *name = as__jstr(b, "name");
        if (has_rt && (!type || strcasecmp(type, rtype) != 0))
            continue;
        if (has_sub && (!name || !strcasestr(name, sub)))
            continue;
        json_t *tags = json_object_get(b, "tags");
        if (has_tn) {
            json_t *tv = NULL;
            const char *k;
            json_t *v;
            json_object_foreach(tags, k, v) if (strcasecmp(k, tname) == 0) tv = v;
            if (!tv ||
                (has_tv && strcmp(json_string_value(tv) ? json_string_value(tv) : "", tval) != 0))
                continue;
        }
        json_t *item = json_pack("{s:s, s:s?, s:s?, s:s?}", "id", id, "name", name, "type", type,
                                 "location", as__jstr(b, "location"));
        if (!has_tn && tags)
            json_object_set(item, "tags", tags);
        if (json_object_get(b, "sku"))
            json_object_set(item, "sku", json_object_get(b, "sku"));
        if (json_object_get(b, "kind"))
            json_object_set(item, "kind", json_object_get(b, "kind"));
        if (ex && strcasestr(ex, "createdTime")) {
            char ts[48];
            as_time_format(a[i]->created_ms, ts, sizeof(ts));
            json_object_set_new(item, "createdTime", json_string(ts));
            json_object_set_new(item, "changedTime", json_string(ts));
        }
        if (ex && strcasestr(ex, "provisioningState")) {
            const char *ps = as__jstr(json_object_get(b, "properties"), "provisioningState");
            json_object_set_new(item, "provisioningState", json_string(ps ? ps : "Succeeded"));
        }
        json_array_append_new(all, item);
    }
    free(a);
    as_resp_list_all(sim, r, w, all);
}

/* ---------------------------------------------------------------- generic tracked resources */

static void parent_of(const char *id, char *buf, size_t size)
{
    snprintf(buf, size, "%s", id);
    for (int k = 0; k < 2; k++) {
        char *s = strrchr(buf, '/');
        if (s)
            *s = 0;
    }
}

void as_generic_handler(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    const struct as_type *t = r->route_ud;
    const char *name = as_param(r, "name");
    if (!as_require_rg(sim, r, w))
        return;
    if (!name) {
        /* collection */
        if (t->nested) {
            char parent[AS_ID_MAX];
            snprintf(parent, sizeof(parent), "%s", r->path);
            char *s = strrchr(parent, '/');
            if (s)
                *s = 0;
            if (!as_store_get(sim, parent)) {
                const char *pn = strrchr(parent, '/');
                as_resp_parent_not_found(w, t->parent_type, pn ? pn + 1 : parent);
                return;
            }
        }
        size_t n = 0;
        struct as_res **a = as_store_children(sim, r->path, &n);
        json_t *all = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append(all, a[i]->body);
        free(a);
        as_resp_list_all(sim, r, w, all);
        return;
    }
    char id[AS_ID_MAX], parent[AS_ID_MAX];
    snprintf(id, sizeof(id), "%s", r->path);
    parent_of(id, parent, sizeof(parent));
    struct as_res *e = as_store_get(sim, id);
    if (t->nested && !as_store_get(sim, parent)) {
        const char *pn = strrchr(parent, '/');
        as_resp_parent_not_found(w, t->parent_type, pn ? pn + 1 : parent);
        return;
    }
    const char *rname = t->resource_name ? t->resource_name : t->type;
    if (strcmp(r->method, "GET") == 0) {
        if (!e) {
            as_resp_not_found(w, rname, name, as_param(r, "rg"));
            return;
        }
        if (t->etag)
            as_set_etag(w, e);
        as_resp_json(w, 200, json_deep_copy(e->body));
        return;
    }
    if (strcmp(r->method, "DELETE") == 0) {
        if (!e) {
            as_resp_empty(w, 204);
            return;
        }
        if (!as_check_etag(r, w, e))
            return;
        if (t->lro_style) {
            json_t *props = json_object_get(e->body, "properties");
            if (json_is_object(props))
                json_object_set_new(props, "provisioningState", json_string("Deleting"));
            struct as_lro l = {.style = t->lro_style,
                               .status = 202,
                               .duration_ms = t->provision_ms / 2,
                               .resource_id = id,
                               .provider = t->type,
                               .final_status = 204,
                               .on_done = "generic.delete"};
            char prov[128];
            snprintf(prov, sizeof(prov), "%s", t->type);
            char *sl = strchr(prov, '/');
            if (sl)
                *sl = 0;
            l.provider = prov;
            l.location = as__jstr(e->body, "location");
            as_lro_begin(sim, r, w, &l, NULL);
            return;
        }
        as_store_del(sim, id);
        as_resp_empty(w, 200);
        return;
    }
    if (strcmp(r->method, "PUT") != 0 && strcmp(r->method, "PATCH") != 0) {
        as_resp_error(w, 405, "MethodNotAllowed", NULL, "Method %s is not allowed.", r->method);
        return;
    }
    if (bad_body(r, w, true))
        return;
    if (!check_tags(w, json_object_get(r->json, "tags")))
        return;
    if (t->etag && !as_check_etag(r, w, e))
        return;
    json_t *body;
    bool patch = strcmp(r->method, "PATCH") == 0;
    if (patch) {
        if (!e) {
            as_resp_not_found(w, rname, name, as_param(r, "rg"));
            return;
        }
        body = json_deep_copy(e->body);
        json_t *tags = json_object_get(r->json, "tags");
        const char *k;
        json_t *v;
        json_object_foreach(r->json, k, v)
        {
            if (strcmp(k, "tags") == 0 || strcmp(k, "id") == 0 || strcmp(k, "name") == 0 ||
                strcmp(k, "type") == 0 || strcmp(k, "location") == 0)
                continue;
            if (json_is_object(v) && json_is_object(json_object_get(body, k)))
                as__merge_patch(json_object_get(body, k), v);
            else
                json_object_set(body, k, v);
        }
        if (tags)
            json_object_set(body, "tags", tags);
    } else {
        body = json_deep_copy(r->json);
        if (!t->nested && !as__jstr(body, "location")) {
            json_decref(body);
            as_resp_error(w, 400, "LocationRequired", NULL,
                          "The location property is required for this definition.");
            return;
        }
        if (e && as__jstr(e->body, "location") && as__jstr(body, "location")) {
            json_t *tmp = json_pack("{s:s}", "location", as__jstr(body, "location"));
            as__norm_location(tmp);
            if (strcasecmp(as__jstr(tmp, "location"), as__jstr(e->body, "location")) != 0) {
                json_decref(tmp);
                json_decref(body);
                as_resp_error(w, 400, "InvalidResourceLocation", NULL,
                              "The resource '%s' already exists in location '%s' in resource "
                              "group '%s'. A resource with the same name cannot be created in "
                              "location '%s'.",
                              name, as__jstr(e->body, "location"), as_param(r, "rg"),
                              as__jstr(r->json, "location"));
                return;
            }
            json_decref(tmp);
        }
    }
    json_object_set_new(body, "id", json_string(e ? e->id : id));
    json_object_set_new(body, "name", json_string(e ? as__jstr(e->body, "name") : name));
    json_object_set_new(body, "type", json_string(t->type));
    as__norm_location(body);
    if (!json_is_object(json_object_get(body, "properties")))
        json_object_set_new(body, "properties", json_object());
    json_t *props = json_object_get(body, "properties");
    bool transient = t->provision_ms > 0;
    json_object_set_new(props, "provisioningState",
                        json_string(transient ? (e ? "Updating" : "Creating") : "Succeeded"));
    if (t->fill)
        t->fill(sim, r, body, e == NULL);
    bool created = false;
    e = as_store_put(sim, id, body, &created);
    if (!e) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    if (t->etag)
        as_set_etag(w, e);
    int status = created ? 201 : 200;
    if (transient && t->lro_style) {
        char prov[128];
        snprintf(prov, sizeof(prov), "%s", t->type);
        char *sl = strchr(prov, '/');
        if (sl)
            *sl = 0;
        struct as_lro l = {.style = t->lro_style,
                           .status = status,
                           .duration_ms = t->provision_ms,
                           .resource_id = id,
                           .provider = prov,
                           .location = as__jstr(e->body, "location"),
                           .final_status = 200,
                           .on_done = "generic.provisioned"};
        as_lro_begin(sim, r, w, &l, json_deep_copy(e->body));
        return;
    }
    if (transient)
        as_sched_at(sim, r->now_ms + t->provision_ms, "generic.provisioned", id, NULL);
    as_resp_json(w, status, json_deep_copy(e->body));
}

void sim_resources_init(struct armsim *sim)
{
    as_route(sim, "*", "/subscriptions/{sub}/resourceGroups/{rg}", h_rg, AS_ARM, AS_APIV_RESOURCES,
             NULL);
    as_route(sim, "GET", "/subscriptions/{sub}/resourceGroups", h_rg_list, AS_ARM,
             AS_APIV_RESOURCES, NULL);
    as_route(sim, "GET", "/subscriptions/{sub}/resourceGroups/{rg}/resources", h_resources, AS_ARM,
             AS_APIV_RESOURCES, NULL);
    as_route(sim, "GET", "/subscriptions/{sub}/resources", h_resources, AS_ARM, AS_APIV_RESOURCES,
             NULL);
}
