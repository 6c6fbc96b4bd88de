/*
 * simx.c - helpers shared by the armsim area modules (see simx.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "simx.h"

int simx_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

void simx_now(const struct armsim *sim, char *buf, size_t size)
{
    as_time_format(as_now(sim), buf, size);
}

json_t *simx_children(struct armsim *sim, const char *collection)
{
    json_t *arr = json_array();
    struct as_res **v;
    size_t n = 0, i;

    if (!arr)
        return NULL;
    v = as_store_children(sim, collection, &n);
    for (i = 0; v && i < n; i++)
        json_array_append_new(arr, json_deep_copy(v[i]->body));
    free(v);
    return arr;
}

void simx_list_by_type(struct armsim *sim, struct as_req *r, struct as_resp *w, const char *type)
{
    char pfx[AS_ID_MAX];
    struct as_res **v;
    size_t n = 0, i;
    json_t *all;

    if (simx_fmt(pfx, sizeof(pfx), "/subscriptions/%s/resourceGroups/", as_param(r, "sub")) < 0) {
        as_resp_error(w, 400, "InvalidParameter", NULL, "subscription id too long");
        return;
    }
    all = json_array();
    if (!all) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    v = as_store_prefix(sim, pfx, &n);
    for (i = 0; v && i < n; i++) {
        const char *t = json_string_value(json_object_get(v[i]->body, "type"));

        if (t && !strcasecmp(t, type))
            json_array_append_new(all, json_deep_copy(v[i]->body));
    }
    free(v);
    as_resp_list_all(sim, r, w, all);
}

bool simx_body_object(struct as_req *r, struct as_resp *w, bool allow_empty)
{
    if (r->body_bad_json) {
        as_resp_error(w, 400, "InvalidRequestContent", NULL,
                      "The request content was invalid and could not be deserialized.");
        return false;
    }
    if (!r->json && allow_empty)
        return true;
    if (!json_is_object(r->json)) {
        as_resp_error(w, 400, "InvalidRequestContent", NULL,
                      "The request content must be a JSON object.");
        return false;
    }
    return true;
}

bool simx_tags_ok(const struct as_req *r, struct as_resp *w, size_t max_tags)
{
    json_t *tags = json_object_get(r->json, "tags"), *v;
    const char *k;

    if (!tags || json_is_null(tags))
        return true;
    if (!json_is_object(tags)) {
        as_resp_error(w, 400, "InvalidTag", "tags", "tags must be an object of strings.");
        return false;
    }
    if (json_object_size(tags) > max_tags) {
        as_resp_error(w, 400, "InvalidTag", "tags",
                      "The resource has %zu tags; at most %zu are allowed.", json_object_size(tags),
                      max_tags);
        return false;
    }
    json_object_foreach(tags, k, v)
    {
        if (!*k || strlen(k) > 512 || strpbrk(k, "<>%&\\?/")) {
            as_resp_error(w, 400, "InvalidTagNameCharacters", "tags",
                          "The tag name '%.64s' is empty, longer than 512 characters or contains "
                          "one of < > %% & \\ ? /.",
                          k);
            return false;
        }
        if (!json_is_string(v) || json_string_length(v) > 256) {
            as_resp_error(w, 400, "InvalidTag", "tags",
                          "The value of tag '%.64s' must be a string of at most 256 characters.",
                          k);
            return false;
        }
    }
    return true;
}

json_t *simx_skeleton(const char *id, const char *name, const char *type)
{
    return json_pack("{s:s, s:s, s:s}", "id", id, "name", name, "type", type);
}

const char *simx_last_seg(const char *id)
{
    const char *s = strrchr(id, '/');

    return s ? s + 1 : id;
}

void simx_copy_key(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);

    if (v)
        json_object_set_new(dst, key, json_deep_copy(v));
}

json_t *simx_state_peek(struct armsim *sim, const char *name)
{
    char id[256];
    struct as_res *e;

    if (simx_fmt(id, sizeof(id), "/_armsim/state/%s", name) < 0)
        return NULL;
    e = as_store_get(sim, id);
    return e ? e->body : NULL;
}

json_t *simx_state(struct armsim *sim, const char *name)
{
    char id[256];
    struct as_res *e;

    if (simx_fmt(id, sizeof(id), "/_armsim/state/%s", name) < 0)
        return NULL;
    e = as_store_get(sim, id);
    if (!e)
        e = as_store_put(sim, id, json_object(), NULL);
    return e ? e->body : NULL;
}
