/* plan_apply.c - see plan_apply.h. */
#include "plan_apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_util.h"

static void *grow(void **arr, size_t *n, size_t *cap, size_t elem)
{
    char *p;

    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        void *v = realloc(*arr, nc * elem);

        if (!v)
            return NULL;
        *arr = v;
        *cap = nc;
    }
    p = (char *)*arr + *n * elem;
    memset(p, 0, elem);
    (*n)++;
    return p;
}

#define PA_GROW(have, field)                                                                       \
    grow((void **)&(have)->field, &(have)->n_##field, &(have)->cap_##field,                        \
         sizeof((have)->field[0]))

struct rc_obs_scale_set *pa_add_scale_set(struct rc_observed *have)
{
    return PA_GROW(have, scale_sets);
}

struct rc_obs_instance *pa_add_instance(struct rc_observed *have)
{
    struct rc_obs_instance *o = PA_GROW(have, instances);

    if (o)
        o->latest_model = true;
    return o;
}

struct rc_obs_nic *pa_add_nic(struct rc_observed *have)
{
    return PA_GROW(have, nics);
}

struct rc_obs_worker *pa_add_worker(struct rc_observed *have)
{
    return PA_GROW(have, workers);
}

struct rc_obs_worker_group *pa_add_group(struct rc_observed *have)
{
    return PA_GROW(have, groups);
}

struct rc_obs_image_version *pa_add_image_version(struct rc_observed *have)
{
    return PA_GROW(have, image_versions);
}

struct rc_obs_image_template *pa_add_template(struct rc_observed *have)
{
    return PA_GROW(have, templates);
}

struct rc_obs_job *pa_add_job(struct rc_observed *have)
{
    return PA_GROW(have, jobs);
}

int pa_add_extension(struct rc_obs_instance *inst, const char *name)
{
    struct rc_obs_extension *v;
    size_t i;

    for (i = 0; i < inst->n_extensions; i++) {
        if (rc_strcasecmp(inst->extensions[i].name, name) == 0)
            return 0;
    }
    v = realloc(inst->extensions, (inst->n_extensions + 1) * sizeof(*v));
    if (!v)
        return -1;
    inst->extensions = v;
    memset(&v[inst->n_extensions], 0, sizeof(v[0]));
    v[inst->n_extensions].name = rc_strdup(name);
    v[inst->n_extensions].provisioning_state = rc_strdup("Succeeded");
    inst->n_extensions++;
    return 0;
}

static void own_free(struct rc_owned *own)
{
    size_t i;

    free(own->pool);
    free(own->owner);
    for (i = 0; i < own->n_tags; i++) {
        free(own->tags[i].key);
        free(own->tags[i].value);
    }
    free(own->tags);
    memset(own, 0, sizeof(*own));
}

const char *pa_tag(const struct rc_owned *own, const char *key)
{
    size_t i;

    for (i = 0; i < own->n_tags; i++) {
        if (strcmp(own->tags[i].key, key) == 0)
            return own->tags[i].value;
    }
    return NULL;
}

int pa_set_tags(struct rc_owned *own, const json_t *tags)
{
    const char *k;
    json_t *v;
    size_t n = 0;
    const char *mb, *pool, *owner;

    own_free(own);
    own->tags = calloc(json_object_size(tags) + 1, sizeof(*own->tags));
    if (!own->tags)
        return -1;
    json_object_foreach((json_t *)tags, k, v)
    {
        if (!json_is_string(v))
            continue;
        own->tags[n].key = rc_strdup(k);
        own->tags[n].value = rc_strdup(json_string_value(v));
        n++;
    }
    own->n_tags = n;
    mb = pa_tag(own, RC_TAG_MANAGED_BY);
    pool = pa_tag(own, RC_TAG_POOL);
    owner = pa_tag(own, RC_TAG_OWNER);
    own->managed = mb && strcmp(mb, RC_MANAGED_BY_VALUE) == 0;
    own->pool = pool ? rc_strdup(pool) : NULL;
    own->owner = owner ? rc_strdup(owner) : NULL;
    return 0;
}

static int64_t tag_time(const struct rc_owned *own, const char *key)
{
    const char *v = pa_tag(own, key);
    int64_t t = 0;

    if (v && rc_time_parse(v, &t, NULL) < 0)
        t = 0;
    return t;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? rc_strdup(v) : NULL;
}

static void inst_tags_changed(struct rc_obs_instance *o)
{
    o->draining_since_ms = tag_time(&o->own, RC_TAG_DRAINING);
    o->expires_ms = tag_time(&o->own, RC_TAG_EXPIRES_AT);
    set_str(&o->spec_hash, pa_tag(&o->own, RC_TAG_SPEC_HASH));
}

static void ss_tags_changed(struct rc_obs_scale_set *ss)
{
    ss->last_scale_ms = tag_time(&ss->own, RC_TAG_LAST_SCALE);
    set_str(&ss->spec_hash, pa_tag(&ss->own, RC_TAG_SPEC_HASH));
    set_str(&ss->halted_image, pa_tag(&ss->own, RC_TAG_HALTED_IMAGE));
}

/* ---- lookups ---- */

static struct rc_obs_scale_set *find_ss(struct rc_observed *h, const char *id)
{
    size_t i;

    for (i = 0; i < h->n_scale_sets; i++) {
        if (rc_strcasecmp(h->scale_sets[i].id, id) == 0)
            return &h->scale_sets[i];
    }
    return NULL;
}

static struct rc_obs_instance *find_inst(struct rc_observed *h, const char *id)
{
    size_t i;

    for (i = 0; i < h->n_instances; i++) {
        if (h->instances[i].id && rc_strcasecmp(h->instances[i].id, id) == 0)
            return &h->instances[i];
    }
    return NULL;
}

static const char *last_seg(const char *id)
{
    const char *s = strrchr(id, '/');

    return s ? s + 1 : id;
}

/* Image string from a body's imageReference. */
static void body_image(const json_t *body, char *buf, size_t size)
{
    json_t *ir = json_object_get(body, "properties");

    buf[0] = '\0';
    if (json_object_get(ir, "virtualMachineProfile"))
        ir = json_object_get(ir, "virtualMachineProfile");
    ir = json_object_get(json_object_get(ir, "storageProfile"), "imageReference");
    if (!ir)
        return;
    if (json_is_string(json_object_get(ir, "id"))) {
        snprintf(buf, size, "%s", json_string_value(json_object_get(ir, "id")));
        return;
    }
    snprintf(buf, size, "%s:%s:%s:%s", json_string_value(json_object_get(ir, "publisher")),
             json_string_value(json_object_get(ir, "offer")),
             json_string_value(json_object_get(ir, "sku")),
             json_string_value(json_object_get(ir, "version")));
}

static int n_live_in(struct rc_observed *h, const char *ss_id, unsigned *ret_next_id)
{
    size_t i;
    int n = 0;
    unsigned next = 0;

    for (i = 0; i < h->n_instances; i++) {
        struct rc_obs_instance *o = &h->instances[i];

        if (!o->scale_set_id || rc_strcasecmp(o->scale_set_id, ss_id) != 0)
            continue;
        if (o->instance_id && (unsigned)atoi(o->instance_id) + 1 > next)
            next = (unsigned)atoi(o->instance_id) + 1;
        if (o->state != RC_INST_DELETING)
            n++;
    }
    *ret_next_id = next;
    return n;
}

/* New capacity / model of a scale set: adds Provisioning instances. */
static int ss_fill(struct rc_observed *h, const char *ss_id, int64_t now)
{
    struct rc_obs_scale_set *ss = find_ss(h, ss_id);
    unsigned next;
    int n;
    char buf[64];

    if (!ss)
        return -1;
    n = n_live_in(h, ss_id, &next);
    while (n < ss->capacity) {
        struct rc_obs_instance *o;
        json_t *tags = json_object();
        size_t i;

        /* re-find: pa_add_instance may move the arrays, ss stays valid (other array) */
        o = pa_add_instance(h);
        if (!o || !tags) {
            json_decref(tags);
            return -1;
        }
        snprintf(buf, sizeof(buf), "%u", next);
        o->instance_id = rc_strdup(buf);
        snprintf(buf, sizeof(buf), "%s_%u", ss->name, next);
        o->name = rc_strdup(buf);
        {
            char id[1200];

            snprintf(id, sizeof(id), "%s/virtualMachines/%u", ss->id, next);
            o->id = rc_strdup(id);
        }
        o->scale_set_id = rc_strdup(ss->id);
        o->image = rc_strdup(ss->image);
        o->state = RC_INST_PROVISIONING;
        o->provisioning_state = rc_strdup("Creating");
        o->latest_model = true;
        o->created_ms = now;
        for (i = 0; i < ss->own.n_tags; i++)
            json_object_set_new(tags, ss->own.tags[i].key, json_string(ss->own.tags[i].value));
        pa_set_tags(&o->own, tags);
        json_decref(tags);
        inst_tags_changed(o);
        next++;
        n++;
    }
    return 0;
}

/* latestModelApplied: the instance matches the (new) model's image and spec
 * hash. */
static void ss_model_changed(struct rc_observed *h, const struct rc_obs_scale_set *ss)
{
    size_t i;

    for (i = 0; i < h->n_instances; i++) {
        struct rc_obs_instance *o = &h->instances[i];

        if (!o->scale_set_id || rc_strcasecmp(o->scale_set_id, ss->id) != 0)
            continue;
        o->latest_model =
            o->image && ss->image && rc_strcasecmp(o->image, ss->image) == 0 &&
            (!ss->spec_hash || (o->spec_hash && !strcmp(o->spec_hash, ss->spec_hash)));
    }
}

static int apply_vmss_write(struct rc_observed *h, const struct rc_action *a, int64_t now)
{
    struct rc_obs_scale_set *ss = find_ss(h, a->target);
    json_t *sku = json_object_get(a->body, "sku");
    json_t *tags = json_object_get(a->body, "tags");
    char image[1024];
    bool changed = false;
    char *old_hash;

    body_image(a->body, image, sizeof(image));
    if (!ss) {
        ss = pa_add_scale_set(h);
        if (!ss)
            return -1;
        ss->id = rc_strdup(a->target);
        ss->name = rc_strdup(last_seg(a->target));
        ss->provisioning_state = rc_strdup("Creating");
    }
    old_hash = ss->spec_hash ? rc_strdup(ss->spec_hash) : NULL;
    if (image[0] && (!ss->image || strcmp(ss->image, image) != 0)) {
        set_str(&ss->image, image);
        changed = true;
    }
    if (json_is_integer(json_object_get(sku, "capacity")))
        ss->capacity = json_integer_value(json_object_get(sku, "capacity"));
    if (tags) {
        pa_set_tags(&ss->own, tags);
        ss_tags_changed(ss);
    }
    if (a->method == RC_HTTP_PUT &&
        (!old_hash || !ss->spec_hash || strcmp(old_hash, ss->spec_hash) != 0))
        changed = true;
    free(old_hash);
    if (changed)
        ss_model_changed(h, ss);
    return ss_fill(h, a->target, now);
}

static int apply_instances(struct rc_observed *h, const struct rc_action *a, bool reimage,
                           int64_t now)
{
    struct rc_obs_scale_set *ss = find_ss(h, a->target);
    size_t i, j;

    if (!ss || a->n_instances == 0)
        return -1;
    for (i = 0; i < a->n_instances; i++) {
        for (j = 0; j < h->n_instances; j++) {
            struct rc_obs_instance *o = &h->instances[j];

            if (!o->scale_set_id || rc_strcasecmp(o->scale_set_id, ss->id) != 0 ||
                !o->instance_id || strcmp(o->instance_id, a->instances[i]) != 0)
                continue;
            if (reimage) {
                o->state = RC_INST_PROVISIONING;
                (void)rc_observed_set_str(h, &o->image, ss->image); /* may be shared */
                o->latest_model = true;
                (void)now;
            } else {
                o->state = RC_INST_DELETING;
                ss->capacity--;
            }
        }
    }
    return 0;
}

static void drop_job_done(struct rc_observed *h, const char *name)
{
    size_t i, j;

    for (i = 0; i < h->n_pools; i++) {
        struct rc_obs_pool *p = &h->pools[i];

        for (j = 0; j < p->n_job_done; j++) {
            if (rc_strcasecmp(p->job_done[j], name) == 0) {
                free(p->job_done[j]);
                p->job_done[j] = p->job_done[--p->n_job_done];
                j--;
            }
        }
    }
}

static int apply_vm_put(struct rc_observed *h, const struct rc_action *a, int64_t now)
{
    struct rc_obs_instance *o = find_inst(h, a->target);
    json_t *tags = json_object_get(a->body, "tags");
    char image[1024];
    size_t i;

    body_image(a->body, image, sizeof(image));
    if (!o) {
        o = pa_add_instance(h);
        if (!o)
            return -1;
        o->id = rc_strdup(a->target);
        o->name = rc_strdup(last_seg(a->target));
        o->created_ms = now;
    }
    o->state = RC_INST_PROVISIONING;
    (void)rc_observed_set_str(h, &o->provisioning_state, "Creating"); /* may be shared */
    (void)rc_observed_set_str(h, &o->image, image);
    o->latest_model = true;
    if (tags) {
        pa_set_tags(&o->own, tags);
        inst_tags_changed(o);
    }
    for (i = 0; i < h->n_nics; i++) {
        char nic[1200];

        snprintf(nic, sizeof(nic), "%s-nic", o->name);
        if (rc_strcasecmp(last_seg(h->nics[i].id), nic) == 0)
            set_str(&h->nics[i].vm_id, o->id);
    }
    return 0;
}

static int apply_tags_patch(struct rc_observed *h, const struct rc_action *a);

static int apply_put(struct rc_observed *h, const struct rc_action *a, int64_t now)
{
    const char *t = a->target;

    if (strstr(t, "/extensions/")) {
        char vm[1200];
        const char *e = strstr(t, "/extensions/");
        struct rc_obs_instance *o;

        snprintf(vm, sizeof(vm), "%.*s", (int)(e - t), t);
        o = find_inst(h, vm);
        if (!o || pa_add_extension(o, last_seg(t)) < 0)
            return -1;
        for (size_t i = 0; i < o->n_extensions; i++) { /* installing */
            if (rc_strcasecmp(o->extensions[i].name, last_seg(t)) == 0)
                set_str(&o->extensions[i].provisioning_state, "Creating");
        }
        return 0;
    }
    if (strstr(t, "/hybridRunbookWorkers/")) {
        struct rc_obs_worker *w = pa_add_worker(h);
        const char *e = strstr(t, "/hybridRunbookWorkers/");
        char g[1200];

        if (!w)
            return -1;
        snprintf(g, sizeof(g), "%.*s", (int)(e - t), t);
        w->id = rc_strdup(t);
        w->name = rc_strdup(last_seg(t));
        w->group_id = rc_strdup(g);
        w->vm_resource_id = rc_strdup(json_string_value(
            json_object_get(json_object_get(a->body, "properties"), "vmResourceId")));
        return 0;
    }
    if (strstr(t, "/hybridRunbookWorkerGroups/")) {
        struct rc_obs_worker_group *g = pa_add_group(h);

        if (!g)
            return -1;
        g->id = rc_strdup(t);
        g->name = rc_strdup(last_seg(t));
        return 0;
    }
    if (strstr(t, "/jobs/")) {
        struct rc_obs_job *j = pa_add_job(h);
        json_t *params = json_object_get(json_object_get(a->body, "properties"), "parameters");

        if (!j)
            return -1;
        j->id = rc_strdup(t);
        j->name = rc_strdup(last_seg(t));
        j->status = rc_strdup("New");
        j->attempt = (int)a->count;
        j->created_ms = now;
        j->instance_id = rc_strdup(json_string_value(json_object_get(params, "VmResourceId")));
        return 0;
    }
    if (strstr(t, "/networkInterfaces/")) {
        struct rc_obs_nic *n = pa_add_nic(h);

        if (!n)
            return -1;
        n->id = rc_strdup(t);
        n->name = rc_strdup(last_seg(t));
        n->provisioning_state = rc_strdup("Succeeded");
        return pa_set_tags(&n->own, json_object_get(a->body, "tags"));
    }
    if (strstr(t, "/virtualMachineScaleSets/") && strstr(t, "/virtualMachines/"))
        return apply_tags_patch(h, a); /* Uniform instance update (tags) */
    if (strstr(t, "/virtualMachineScaleSets/"))
        return apply_vmss_write(h, a, now);
    if (strstr(t, "/virtualMachines/"))
        return apply_vm_put(h, a, now);
    return -1;
}

static int apply_tags_patch(struct rc_observed *h, const struct rc_action *a)
{
    struct rc_obs_instance *o = find_inst(h, a->target);
    json_t *tags = json_object_get(a->body, "tags");
    size_t i;

    if (!tags)
        return -1;
    if (o) {
        pa_set_tags(&o->own, tags);
        inst_tags_changed(o);
        return 0;
    }
    for (i = 0; i < h->n_nics; i++) {
        if (rc_strcasecmp(h->nics[i].id, a->target) == 0)
            return pa_set_tags(&h->nics[i].own, tags);
    }
    return -1;
}

static int apply_delete(struct rc_observed *h, const struct rc_action *a)
{
    const char *t = a->target;
    size_t i;

    if (strstr(t, "/hybridRunbookWorkers/")) {
        for (i = 0; i < h->n_workers; i++) {
            if (rc_strcasecmp(h->workers[i].id, t) == 0) {
                free(h->workers[i].id);
                free(h->workers[i].name);
                free(h->workers[i].group_id);
                free(h->workers[i].vm_resource_id);
                h->workers[i] = h->workers[--h->n_workers];
                return 0;
            }
        }
        return -1;
    }
    if (find_ss(h, t)) {
        struct rc_obs_scale_set *ss = find_ss(h, t);

        set_str(&ss->provisioning_state, "Deleting");
        for (i = 0; i < h->n_instances; i++) {
            if (h->instances[i].scale_set_id && rc_strcasecmp(h->instances[i].scale_set_id, t) == 0)
                h->instances[i].state = RC_INST_DELETING;
        }
        return 0;
    }
    if (find_inst(h, t)) {
        struct rc_obs_instance *o = find_inst(h, t);

        if (o->state != RC_INST_DELETING && o->scale_set_id && find_ss(h, o->scale_set_id))
            find_ss(h, o->scale_set_id)->capacity--; /* Flexible member */
        o->state = RC_INST_DELETING;
        return 0;
    }
    for (i = 0; i < h->n_nics; i++) {
        if (rc_strcasecmp(h->nics[i].id, t) == 0) {
            set_str(&h->nics[i].provisioning_state, "Deleting");
            return 0;
        }
    }
    return -1;
}

static int apply_action(struct rc_observed *h, const struct rc_action *a, int64_t now)
{
    switch (a->method) {
    case RC_HTTP_PUT:
        return apply_put(h, a, now);
    case RC_HTTP_PATCH:
        if (find_ss(h, a->target) &&
            (json_object_get(a->body, "sku") || json_object_get(a->body, "properties")))
            return apply_vmss_write(h, a, now);
        if (find_ss(h, a->target)) {
            struct rc_obs_scale_set *ss = find_ss(h, a->target);

            pa_set_tags(&ss->own, json_object_get(a->body, "tags"));
            ss_tags_changed(ss);
            return 0;
        }
        return apply_tags_patch(h, a);
    case RC_HTTP_POST: {
        size_t len = strlen(a->path);

        if (len > 7 && strcmp(a->path + len - 7, "/delete") == 0)
            return apply_instances(h, a, false, now);
        if (len > 8 && strcmp(a->path + len - 8, "/reimage") == 0) {
            size_t i;

            for (i = 0; i < a->n_instances; i++)
                drop_job_done(h, a->instances[i]);
            if (find_ss(h, a->target)) {
                int r = apply_instances(h, a, true, now);
                size_t k;

                /* job_done holds names; instances hold ids: drop by name too */
                for (k = 0; k < h->n_instances; k++) {
                    for (i = 0; i < a->n_instances; i++) {
                        if (h->instances[k].instance_id && h->instances[k].scale_set_id &&
                            rc_strcasecmp(h->instances[k].scale_set_id, a->target) == 0 &&
                            strcmp(h->instances[k].instance_id, a->instances[i]) == 0)
                            drop_job_done(h, h->instances[k].name);
                    }
                }
                return r;
            }
            if (find_inst(h, a->target)) {
                find_inst(h, a->target)->state = RC_INST_PROVISIONING;
                return 0;
            }
            return -1;
        }
        if (len > 4 && strcmp(a->path + len - 4, "/run") == 0) {
            size_t i;
            struct rc_obs_image_template *t = NULL;

            for (i = 0; i < h->n_templates; i++) {
                if (rc_strcasecmp(h->templates[i].id, a->target) == 0)
                    t = &h->templates[i];
            }
            if (!t) {
                t = pa_add_template(h);
                if (!t)
                    return -1;
                t->id = rc_strdup(a->target);
            }
            t->built_revision = a->count;
            set_str(&t->run_state, "Running");
            return 0;
        }
        return -1;
    }
    case RC_HTTP_DELETE:
        return apply_delete(h, a);
    }
    return -1;
}

int pa_apply(struct rc_observed *have, const struct rc_plan *plan, int64_t now_ms, char *err,
             size_t err_size)
{
    size_t i;

    for (i = 0; i < plan->n_actions; i++) {
        const struct rc_action *a = &plan->actions[i];

        if (apply_action(have, a, now_ms) < 0) {
            snprintf(err, err_size, "apply: cannot simulate %s %s %s", rc_verb_name(a->verb),
                     rc_method_name(a->method), a->path);
            return -1;
        }
    }
    for (i = 0; i < plan->n_pools; i++) {
        const struct rc_pool_status *st = &plan->pools[i];
        struct rc_obs_pool *p;
        int prev_desired;

        p = rc_observed_pool(have, st->pool);
        if (!p)
            return -1;
        if (p->desired_replicas >= 0) {
            prev_desired = p->desired_replicas;
        } else { /* the planner then started from the live instances */
            size_t k;

            prev_desired = 0;
            for (k = 0; k < st->n_instances; k++)
                prev_desired += st->instances[k].state != RC_INST_FAILED &&
                                st->instances[k].state != RC_INST_DELETING;
        }
        p->desired_replicas = st->desired_replicas; /* the controller keeps it in the status */
        if (st->halted_image)
            set_str(&p->halted_image, st->halted_image);
        if (st->last_scale_ms == now_ms && now_ms != 0) {
            p->last_scale_ms = now_ms;
            if (st->desired_replicas > prev_desired)
                p->last_scale_out_ms = now_ms;
            else
                p->last_scale_in_ms = now_ms;
        }
    }
    return 0;
}
