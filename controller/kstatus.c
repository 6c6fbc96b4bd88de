/* kstatus.c - planner status -> Kubernetes .status with kstatus conditions (see kstatus.h). */
#include "kstatus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_observed.h"
#include "rc_util.h"

#define FAILED_NAMES_MAX 5 /* instances named in the Degraded message */

static const char *cond_name(enum rc_cond s)
{
    return s == RC_COND_TRUE ? "True" : s == RC_COND_FALSE ? "False" : "Unknown";
}

/* Copies reason into buf keeping only what the CRD pattern allows. */
static const char *clean_reason(const char *reason, char *buf, size_t size)
{
    size_t n = 0;

    for (const char *p = reason ? reason : ""; *p && n + 1 < size && n < KSTATUS_REASON_MAX; p++) {
        char ch = *p;
        bool alpha = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
        bool ok = alpha || (ch >= '0' && ch <= '9') || ch == '_' || ch == ',' || ch == ':';

        if (n == 0 ? alpha : ok)
            buf[n++] = ch;
    }
    while (n > 0 && (buf[n - 1] == ',' || buf[n - 1] == ':'))
        n--;
    buf[n] = '\0';
    if (n == 0)
        snprintf(buf, size, "Unknown");
    return buf;
}

/* See kstatus.h. */
json_t *kstatus_json_utf8(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    char *t;
    size_t i = 0;

    if (j || !(t = malloc(n + 1)))
        return j;
    memcpy(t, s, n);
    t[n] = '\0';
    while (i < n) {
        unsigned char c = (unsigned char)t[i];
        size_t len = c < 0x80                 ? 1
                     : c >= 0xC2 && c <= 0xDF ? 2
                     : c >= 0xE0 && c <= 0xEF ? 3
                     : c >= 0xF0 && c <= 0xF4 ? 4
                                              : 0;
        size_t k;

        for (k = 1; len && k < len; k++)
            if (i + k >= n || ((unsigned char)t[i + k] & 0xC0) != 0x80)
                len = 0;
        if (!len) {
            t[i++] = '?';
            continue;
        }
        i += len;
    }
    j = json_stringn(t, n);
    for (i = 0; !j && i < n; i++)
        if ((unsigned char)t[i] >= 0x80)
            t[i] = '?';
    if (!j)
        j = json_stringn(t, n);
    free(t);
    return j;
}

/* A JSON string of at most KSTATUS_MESSAGE_MAX bytes, cut on a UTF-8 boundary. */
static json_t *message_string(const char *msg)
{
    size_t n;

    if (!msg)
        msg = "";
    n = strnlen(msg, KSTATUS_MESSAGE_MAX + 1);
    if (n > KSTATUS_MESSAGE_MAX) {
        n = KSTATUS_MESSAGE_MAX;
        while (n > 0 && ((unsigned char)msg[n] & 0xC0) == 0x80)
            n--;
    }
    return kstatus_json_utf8(msg, n);
}

static json_t *time_string(int64_t ms)
{
    char buf[RC_TIME_MAX];

    rc_time_format(ms, buf, sizeof(buf));
    return json_string(buf);
}

/* Sets key to a new value; a NULL value (allocation failure) poisons *ok. */
static void set_new(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(obj, key, v) != 0)
        *ok = false;
}

static void set_str_if(json_t *obj, const char *key, const char *s, bool *ok)
{
    if (s && *s)
        set_new(obj, key, json_string(s), ok);
}

static const json_t *find_cond(const json_t *conds, const char *type)
{
    size_t i;
    const json_t *c;

    if (!json_is_array(conds))
        return NULL;
    json_array_foreach(conds, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));

        if (t && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

json_t *kstatus_conditions(const struct kstatus_cond *conds, size_t n,
                           const json_t *prev_conditions, int64_t generation, int64_t now_ms)
{
    json_t *arr = json_array();
    bool ok = arr != NULL;
    int64_t now_s = now_ms - ((now_ms % 1000) + 1000) % 1000; /* whole seconds */

    for (size_t i = 0; ok && i < n; i++) {
        const json_t *prev = find_cond(prev_conditions, conds[i].type);
        const char *status = cond_name(conds[i].status);
        const char *prev_status = json_string_value(json_object_get(prev, "status"));
        const json_t *prev_ltt = json_object_get(prev, "lastTransitionTime");
        char reason[KSTATUS_REASON_MAX + 1];
        json_t *c = json_object();

        if (!c || json_array_append_new(arr, c) != 0) {
            ok = false;
            break;
        }
        set_new(c, "type", json_string(conds[i].type), &ok);
        set_new(c, "status", json_string(status), &ok);
        set_new(c, "observedGeneration", json_integer(generation), &ok);
        if (prev_status && strcmp(prev_status, status) == 0 && json_is_string(prev_ltt) &&
            json_string_length(prev_ltt) > 0)
            set_new(c, "lastTransitionTime", json_copy((json_t *)prev_ltt), &ok);
        else
            set_new(c, "lastTransitionTime", time_string(now_s), &ok);
        set_new(c, "reason", json_string(clean_reason(conds[i].reason, reason, sizeof(reason))),
                &ok);
        set_new(c, "message", message_string(conds[i].message), &ok);
    }
    if (!ok) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* The Degraded condition's reason and message (buf) when it is True. */
static const char *degraded_why(const struct rc_pool_status *st, char *buf, size_t size)
{
    char names[512];
    size_t failed = 0, len = 0;

    if (st->halted_image && *st->halted_image) {
        const char *label = strrchr(st->halted_image, '/');

        snprintf(buf, size, "rollout of %s halted (canary failed)",
                 label && label[1] ? label + 1 : st->halted_image);
        return "RolloutHalted";
    }
    names[0] = '\0';
    for (size_t i = 0; i < st->n_instances; i++) {
        if (st->instances[i].state != RC_INST_FAILED)
            continue;
        if (failed < FAILED_NAMES_MAX && len < sizeof(names)) {
            int w = snprintf(names + len, sizeof(names) - len, "%s%.80s", failed ? ", " : "",
                             st->instances[i].name ? st->instances[i].name : "?");
            len += w > 0 ? (size_t)w : 0;
        }
        failed++;
    }
    if (failed) {
        snprintf(buf, size, "%zu instance%s failed: %s%s", failed, failed == 1 ? "" : "s", names,
                 failed > FAILED_NAMES_MAX ? ", ..." : "");
        return "InstancesFailed";
    }
    snprintf(buf, size, "%s", st->message ? st->message : "");
    return st->reason;
}

json_t *kstatus_pool(const struct rc_pool_status *st, const char *name, int64_t generation,
                     const json_t *prev_status, int64_t now_ms)
{
    struct kstatus_cond conds[KSTATUS_CONDS];
    char dmsg[1024], selector[320];
    const char *dreason = "AsExpected";
    bool ready = st->ready == RC_COND_TRUE, ok = true;
    json_t *s = json_object(), *instances = json_array(), *plan;

    if (!s || !instances) {
        json_decref(s);
        json_decref(instances);
        return NULL;
    }
    dmsg[0] = '\0';
    if (st->degraded == RC_COND_TRUE)
        dreason = degraded_why(st, dmsg, sizeof(dmsg));
    else if (st->degraded == RC_COND_UNKNOWN)
        dreason = st->reason;
    conds[0] = (struct kstatus_cond){"Ready", st->ready, st->reason, st->message};
    if (st->progressing == RC_COND_FALSE && ready)
        conds[1] =
            (struct kstatus_cond){"Progressing", st->progressing, "UpToDate", "no actions pending"};
    else
        conds[1] = (struct kstatus_cond){"Progressing", st->progressing, st->reason, st->message};
    conds[2] = (struct kstatus_cond){"Degraded", st->degraded, dreason,
                                     st->degraded == RC_COND_FALSE ? "" : dmsg};
    if (st->stalled == RC_COND_FALSE)
        conds[3] = (struct kstatus_cond){"Stalled", st->stalled, "AsExpected", ""};
    else
        conds[3] = (struct kstatus_cond){"Stalled", st->stalled, st->reason, st->message};
    /* kstatus' own abnormal-true condition: Progressing, but never together with Stalled
     * (kstatus reads Reconciling first and would report InProgress instead of Failed) */
    conds[4] = conds[1];
    conds[4].type = "Reconciling";
    if (st->stalled == RC_COND_TRUE && st->progressing == RC_COND_TRUE)
        conds[4] = (struct kstatus_cond){"Reconciling", RC_COND_FALSE, st->reason, st->message};

    set_new(s, "observedGeneration", json_integer(generation), &ok);
    set_new(s, "replicas", json_integer(st->replicas > 0 ? st->replicas : 0), &ok);
    set_new(s, "readyReplicas", json_integer(st->ready_replicas > 0 ? st->ready_replicas : 0), &ok);
    set_new(s, "updatedReplicas", json_integer(st->updated_replicas > 0 ? st->updated_replicas : 0),
            &ok);
    set_new(s, "expiringReplicas",
            json_integer(st->expiring_replicas > 0 ? st->expiring_replicas : 0), &ok);
    if (st->desired_replicas >= 0)
        set_new(s, "desiredReplicas", json_integer(st->desired_replicas), &ok);
    snprintf(selector, sizeof(selector), "azpool.dev/pool=%s", name ? name : "");
    set_new(s, "selector", json_string(selector), &ok);
    set_str_if(s, "currentImage", st->current_image, &ok);
    set_str_if(s, "targetImage", st->target_image, &ok);
    if (st->last_scale_ms > 0)
        set_new(s, "lastScaleTime", time_string(st->last_scale_ms), &ok);
    for (size_t i = 0; ok && i < st->n_instances && i < RC_STATUS_INSTANCES_MAX; i++) {
        const struct rc_inst_status *in = &st->instances[i];
        json_t *o = json_object();
        char idbuf[RC_OBS_ID_MAX];

        if (!o || json_array_append_new(instances, o) != 0) {
            ok = false;
            break;
        }
        set_new(o, "name", json_string(in->name ? in->name : ""), &ok);
        set_str_if(o, "id", rc_inst_status_id(in, idbuf, sizeof(idbuf)), &ok);
        set_str_if(o, "image", in->image, &ok);
        if (in->created_ms > 0)
            set_new(o, "createdAt", time_string(in->created_ms), &ok);
        if (in->expires_ms > 0)
            set_new(o, "expiresAt", time_string(in->expires_ms), &ok);
        set_new(o, "state", json_string(rc_inst_state_name(in->state)), &ok);
        set_new(o, "busy", json_boolean(in->busy), &ok);
        set_str_if(o, "reason", in->reason, &ok);
    }
    set_new(s, "instances", instances, &ok);
    instances = NULL;
    set_new(s, "conditions",
            kstatus_conditions(conds, KSTATUS_CONDS, json_object_get(prev_status, "conditions"),
                               generation, now_ms),
            &ok);
    plan = json_object();
    if (plan) {
        set_new(plan, "pending", json_integer(st->pending > 0 ? st->pending : 0), &ok);
        set_new(plan, "summary", json_string(st->summary ? st->summary : ""), &ok);
    }
    set_new(s, "plan", plan, &ok);
    if (!ok) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *kstatus_ref(const char *const *used_by, size_t n_used, bool valid, const char *reason,
                    const char *message, const json_t *extra, int64_t generation,
                    const json_t *prev_status, int64_t now_ms)
{
    struct kstatus_cond conds[KSTATUS_CONDS];
    const char *why = valid ? "Valid" : reason ? reason : "Invalid";
    const char **sorted = NULL;
    json_t *s = json_is_object(extra) ? json_deep_copy(extra) : json_object();
    json_t *used = json_array();
    bool ok = s && used;

    if (ok && n_used) {
        sorted = malloc(n_used * sizeof(*sorted));
        ok = sorted != NULL;
    }
    if (ok && n_used) {
        memcpy(sorted, used_by, n_used * sizeof(*sorted));
        qsort(sorted, n_used, sizeof(*sorted), cmp_str);
        for (size_t i = 0; ok && i < n_used; i++)
            if (i == 0 || strcmp(sorted[i - 1], sorted[i]) != 0)
                ok = json_array_append_new(used, json_string(sorted[i])) == 0;
    }
    free(sorted);
    conds[0] = (struct kstatus_cond){"Ready", valid ? RC_COND_TRUE : RC_COND_FALSE, why, message};
    conds[1] = (struct kstatus_cond){"Progressing", RC_COND_FALSE, valid ? "UpToDate" : why,
                                     valid ? "" : message};
    conds[2] = (struct kstatus_cond){"Degraded", RC_COND_FALSE, "AsExpected", ""};
    conds[3] = (struct kstatus_cond){"Stalled", valid ? RC_COND_FALSE : RC_COND_TRUE,
                                     valid ? "AsExpected" : why, valid ? "" : message};
    conds[4] = (struct kstatus_cond){"Reconciling", RC_COND_FALSE, valid ? "UpToDate" : why,
                                     valid ? "" : message};
    if (ok) {
        set_new(s, "observedGeneration", json_integer(generation), &ok);
        set_new(s, "usedBy", used, &ok);
        used = NULL;
        set_new(s, "conditions",
                kstatus_conditions(conds, KSTATUS_CONDS, json_object_get(prev_status, "conditions"),
                                   generation, now_ms),
                &ok);
    }
    json_decref(used);
    if (!ok) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* ---- comparing and patching ---- */

/* The list-map key of a status array field (kube-api.md §5.1), NULL for other fields. */
static const char *list_map_key(const char *field)
{
    if (strcmp(field, "conditions") == 0)
        return "type";
    if (strcmp(field, "instances") == 0)
        return "name";
    return NULL;
}

/* Arrays equal as maps keyed by element[key] (elements without a string key compare by
 * position). */
static bool list_map_equal(const json_t *a, const json_t *b, const char *key)
{
    size_t i, j, n = json_array_size(a);

    if (n != json_array_size(b))
        return false;
    for (i = 0; i < n; i++) {
        const json_t *x = json_array_get(a, i);
        const char *k = json_string_value(json_object_get(x, key));
        bool found = false;

        if (!k) {
            if (!json_equal((json_t *)x, json_array_get(b, i)))
                return false;
            continue;
        }
        /* usually at the same position: look there first */
        for (j = 0; j < n && !found; j++) {
            const json_t *y = json_array_get(b, (i + j) % n);
            const char *ky = json_string_value(json_object_get(y, key));

            if (ky && strcmp(k, ky) == 0) {
                if (!json_equal((json_t *)x, (json_t *)y))
                    return false;
                found = true;
            }
        }
        if (!found)
            return false;
    }
    return true;
}

bool kstatus_changed(const json_t *old_status, const json_t *new_status)
{
    const char *k;
    const json_t *v;

    if (!json_is_object(old_status) || !json_is_object(new_status))
        return !json_equal((json_t *)old_status, (json_t *)new_status);
    if (json_object_size(old_status) != json_object_size(new_status))
        return true;
    json_object_foreach((json_t *)new_status, k, v)
    {
        const json_t *o = json_object_get(old_status, k);
        const char *mk = list_map_key(k);

        if (!o)
            return true;
        if (mk && json_is_array(o) && json_is_array(v)) {
            if (!list_map_equal(o, v, mk))
                return true;
        } else if (!json_equal((json_t *)o, (json_t *)v)) {
            return true;
        }
    }
    return false;
}

/* The merge patch turning old into new (both objects); NULL on allocation failure. */
static json_t *merge_diff(const json_t *old, const json_t *new)
{
    json_t *d = json_object();
    const char *k;
    const json_t *v;
    bool ok = d != NULL;

    if (!ok)
        return NULL;
    json_object_foreach((json_t *)new, k, v)
    {
        const json_t *o = json_object_get(old, k);

        if (!ok)
            break;
        if (o && json_is_object(o) && json_is_object(v)) {
            json_t *sub = merge_diff(o, v);

            if (sub && json_object_size(sub) == 0)
                json_decref(sub);
            else
                set_new(d, k, sub, &ok);
        } else if (!o || !json_equal((json_t *)o, (json_t *)v)) {
            set_new(d, k, json_deep_copy(v), &ok);
        }
    }
    json_object_foreach((json_t *)old, k, v)
    {
        if (ok && !json_object_get(new, k))
            set_new(d, k, json_null(), &ok);
    }
    if (!ok) {
        json_decref(d);
        return NULL;
    }
    return d;
}

json_t *kstatus_merge_patch(const json_t *old_status, const json_t *new_status)
{
    json_t *empty = NULL, *d, *out;

    if (!json_is_object(old_status))
        old_status = empty = json_object();
    if (!old_status)
        return NULL;
    if (json_is_object(new_status))
        d = merge_diff(old_status, new_status);
    else
        d = json_null(); /* no status: remove it */
    json_decref(empty);
    if (!d)
        return NULL;
    out = json_object();
    if (!out || json_object_set_new(out, "status", d) != 0) {
        json_decref(out);
        if (!out)
            json_decref(d);
        return NULL;
    }
    return out;
}
