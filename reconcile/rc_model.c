/* rc_model.c - releasing and looking up the API model (see rc_model.h). */
#include "rc_model.h"

#include <stdlib.h>
#include <string.h>

const char *rc_kind_name(enum rc_kind kind)
{
    switch (kind) {
    case RC_KIND_WORKERPOOL:
        return "WorkerPool";
    case RC_KIND_IMAGEVERSION:
        return "ImageVersion";
    case RC_KIND_EXPIRYPOLICY:
        return "ExpiryPolicy";
    }
    return "Unknown";
}

static void free_kvs(struct rc_kv *kv, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void free_strv(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void secret_ref_release(struct rc_secret_ref *r)
{
    free(r->name);
    free(r->key);
}

static void signal_release(struct rc_signal *s)
{
    free(s->queue.account_url);
    free(s->queue.queue);
    secret_ref_release(&s->queue.credentials);
    free(s->http.url);
    free(s->http.json_pointer);
    secret_ref_release(&s->http.headers);
}

void rc_meta_release(struct rc_meta *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->namespace);
    free(m->uid);
    free(m->resource_version);
    free_kvs(m->labels, m->n_labels);
    free_kvs(m->annotations, m->n_annotations);
    free_strv(m->finalizers, m->n_finalizers);
    free(m->origin.file);
    memset(m, 0, sizeof(*m));
}

void rc_pool_release(struct rc_pool *p)
{
    struct rc_pool_spec *s;
    size_t i;

    if (!p)
        return;
    rc_meta_release(&p->meta);
    s = &p->spec;
    free(s->subscription_id);
    free(s->resource_group);
    free(s->location);
    free(s->vm_size);
    free(s->image_ref.name);
    free(s->image.id);
    free(s->image.publisher);
    free(s->image.offer);
    free(s->image.sku);
    free(s->image.version);
    free(s->expiry_policy_ref.name);
    free(s->subnet_id);
    free_strv(s->identity.user_assigned, s->identity.n_user_assigned);
    free(s->os_profile.admin_username);
    free_strv(s->os_profile.ssh_public_keys, s->os_profile.n_ssh_public_keys);
    secret_ref_release(&s->os_profile.custom_data);
    free(s->patch_mode);
    for (i = 0; i < s->n_extensions; i++) {
        struct rc_extension *e = &s->extensions[i];
        free(e->name);
        free(e->publisher);
        free(e->type);
        free(e->type_handler_version);
        json_decref(e->settings);
        secret_ref_release(&e->protected_settings);
    }
    free(s->extensions);
    free(s->hybrid_worker.automation_account_id);
    free(s->hybrid_worker.group);
    free(s->after_create.automation_account_id);
    free(s->after_create.name);
    json_decref(s->after_create.parameters);
    signal_release(&s->autoscale.metric);
    signal_release(&s->busy);
    free_kvs(s->tags, s->n_tags);
    memset(p, 0, sizeof(*p));
}

void rc_image_version_release(struct rc_image_version *iv)
{
    struct rc_image_version_spec *s;

    if (!iv)
        return;
    rc_meta_release(&iv->meta);
    s = &iv->spec;
    free(s->gallery_subscription_id);
    free(s->gallery_resource_group);
    free(s->gallery_name);
    free(s->image_definition);
    free(s->version);
    free(s->build_template_id);
    memset(iv, 0, sizeof(*iv));
}

void rc_expiry_policy_release(struct rc_expiry_policy *ep)
{
    size_t i;

    if (!ep)
        return;
    rc_meta_release(&ep->meta);
    for (i = 0; i < ep->spec.n_windows; i++) {
        free(ep->spec.windows[i].schedule);
        free(ep->spec.windows[i].time_zone);
    }
    free(ep->spec.windows);
    memset(ep, 0, sizeof(*ep));
}

void rc_desired_release(struct rc_desired *want)
{
    size_t i;

    if (!want)
        return;
    for (i = 0; i < want->n_pools; i++)
        rc_pool_release(&want->pools[i]);
    for (i = 0; i < want->n_images; i++)
        rc_image_version_release(&want->images[i]);
    for (i = 0; i < want->n_policies; i++)
        rc_expiry_policy_release(&want->policies[i]);
    for (i = 0; i < want->n_invalid; i++) {
        free(want->invalid[i].namespace);
        free(want->invalid[i].name);
        free(want->invalid[i].origin.file);
    }
    free(want->pools);
    free(want->images);
    free(want->policies);
    free(want->invalid);
    memset(want, 0, sizeof(*want));
}

static bool meta_is(const struct rc_meta *m, const char *ns, const char *name)
{
    return m->name && m->namespace && ns && name && !strcmp(m->namespace, ns) &&
           !strcmp(m->name, name);
}

const struct rc_pool *rc_desired_pool(const struct rc_desired *want, const char *ns,
                                      const char *name)
{
    size_t i;

    for (i = 0; want && i < want->n_pools; i++)
        if (meta_is(&want->pools[i].meta, ns, name))
            return &want->pools[i];
    return NULL;
}

const struct rc_image_version *rc_desired_image(const struct rc_desired *want, const char *ns,
                                                const char *name)
{
    size_t i;

    for (i = 0; want && i < want->n_images; i++)
        if (meta_is(&want->images[i].meta, ns, name))
            return &want->images[i];
    return NULL;
}

const struct rc_expiry_policy *rc_desired_policy(const struct rc_desired *want, const char *ns,
                                                 const char *name)
{
    size_t i;

    for (i = 0; want && i < want->n_policies; i++)
        if (meta_is(&want->policies[i].meta, ns, name))
            return &want->policies[i];
    return NULL;
}
