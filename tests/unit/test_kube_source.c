/*
 * test_kube_source.c - the Kubernetes source (controller/ctl_kube.c) against a
 * real kubesim, with the reconciler replaced by a recording stub of the seam
 * (ctl_int.h): the desired state it hands over, the pools it enqueues, synced
 * and standby. The backend callbacks are called as the reconciler would.
 *
 * Covered: a follower (the Lease held by another) adds no finalizer and
 * writes nothing, may_write stays false; once the Lease is free it leads, adds
 * the finalizer, and may_write turns true (finalizer first); status writes
 * (observedGeneration, only on change); Secrets through be_secret; deletion:
 * gone -> finalizer removed -> object gone; a clean stop (no handle left).
 */
#include "test_main.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "ctl_int.h"
#include "ctl_kube.h"
#include "ctl_run.h"
#include "kube.h"
#include "rc_model.h"
#include "support_kubesim.h"
#include "support_srv.h"

/* ---- the stub reconciler ---- */

struct ctl {
    uv_loop_t loop;
    struct rc_desired want;
    int sets;     /* ctl_set_desired calls */
    int enqueued; /* ctl_enqueue calls */
    int all;      /* ctl_enqueue_all calls */
    bool synced;
    bool standby;
    int remembered;
};

uv_loop_t *ctl_loop(struct ctl *c)
{
    return &c->loop;
}

struct http *ctl_http(struct ctl *c)
{
    (void)c;
    return NULL;
}

void ctl_set_desired(struct ctl *c, struct rc_desired *want)
{
    rc_desired_release(&c->want);
    c->want = *want;
    memset(want, 0, sizeof(*want));
    c->sets++;
}

void ctl_enqueue(struct ctl *c, const char *ns, const char *name)
{
    (void)ns;
    (void)name;
    c->enqueued++;
}

void ctl_enqueue_all(struct ctl *c)
{
    c->all++;
}

void ctl_set_synced(struct ctl *c, bool synced)
{
    c->synced = synced;
}

void ctl_set_standby(struct ctl *c, bool standby)
{
    c->standby = standby;
}

int ctl_remember(struct ctl *c, const char *ns, const char *name, const struct ctl_remembered *r)
{
    (void)ns;
    (void)name;
    (void)r;
    c->remembered++;
    return 0;
}

/* ---- helpers ---- */

#define WPS "/apis/azpool.dev/v1alpha1/namespaces/ci/workerpools"

static const char POOL[] =
    "{\"apiVersion\":\"azpool.dev/v1alpha1\",\"kind\":\"WorkerPool\",\"metadata\":{\"name\":"
    "\"wp1\",\"namespace\":\"ci\"},\"spec\":{\"subscriptionId\":"
    "\"11111111-2222-3333-4444-555555555555\",\"resourceGroup\":\"rg\",\"location\":"
    "\"westeurope\",\"vmSize\":\"Standard_D2s_v5\",\"replicas\":2,\"image\":{\"publisher\":"
    "\"Canonical\",\"offer\":\"o\",\"sku\":\"s\"},\"network\":{\"subnetId\":\"/subscriptions/"
    "11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.Network/"
    "virtualNetworks/v/subnets/s\"},\"osProfile\":{\"adminUsername\":\"azpool\","
    "\"sshPublicKeys\":[\"ssh-ed25519 AAAA\"],\"customDataSecretRef\":{\"name\":\"ci-init\","
    "\"key\":\"user-data\"}}}}";

static void on_guard(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static void run_until(struct ctl *c, bool (*cond)(struct ctl *, void *), void *arg, long ms,
                      const char *what)
{
    uv_timer_t t;
    bool expired = false;

    uv_timer_init(&c->loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_guard, (uint64_t)ms, 0);
    while (!cond(c, arg) && !expired)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&c->loop, UV_RUN_NOWAIT);
    if (expired)
        fail_msg("timed out waiting for %s", what);
}

static void run_for(struct ctl *c, long ms)
{
    uv_timer_t t;
    bool expired = false;

    uv_timer_init(&c->loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_guard, (uint64_t)ms, 0);
    while (!expired)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&c->loop, UV_RUN_NOWAIT);
}

static json_t *get(const struct ksim *s, const char *path)
{
    char *out = malloc(1 << 20);
    json_t *v = NULL;

    assert_non_null(out);
    if (ksim_http(s, "GET", path, NULL, NULL, out, 1 << 20) == 200)
        v = json_loads(out, 0, NULL);
    free(out);
    return v;
}

static bool has_fin(const struct ksim *s)
{
    json_t *o = get(s, WPS "/wp1");
    bool r = o && ckube_has_finalizer(o, NULL);

    json_decref(o);
    return r;
}

static bool c_synced(struct ctl *c, void *arg)
{
    (void)arg;
    return c->synced && c->want.n_pools == 1;
}

static bool c_leading(struct ctl *c, void *arg)
{
    (void)arg;
    return !c->standby;
}

struct be_ctx {
    struct ctl_backend *be;
    const struct ksim *s;
};

static bool may_write_now(struct ctl *c, void *arg)
{
    struct be_ctx *x = arg;

    return c->want.n_pools == 1 && x->be->may_write(x->be->arg, &c->want.pools[0]);
}

static bool deleting_seen(struct ctl *c, void *arg)
{
    (void)arg;
    return c->want.n_pools == 1 && c->want.pools[0].meta.deleting;
}

static bool object_gone(struct ctl *c, void *arg)
{
    json_t *o = get(((struct be_ctx *)arg)->s, WPS "/wp1");

    json_decref(o);
    return !o && c->want.n_pools == 0;
}

static bool status_written(struct ctl *c, void *arg)
{
    json_t *o = get(((struct be_ctx *)arg)->s, WPS "/wp1");
    const json_t *st = json_object_get(o, "status");
    bool r = json_integer_value(json_object_get(st, "readyReplicas")) == 2 &&
             json_integer_value(json_object_get(st, "observedGeneration")) ==
                 json_integer_value(json_object_get(json_object_get(o, "metadata"), "generation"));

    (void)c;
    json_decref(o);
    return r;
}

static void put_lease(const struct ksim *s, const char *holder, bool create)
{
    char body[600], *out = malloc(65536);
    json_t *cur;
    const char *rv = "";

    assert_non_null(out);
    cur = create ? NULL
                 : get(s, "/apis/coordination.k8s.io/v1/namespaces/default/leases/"
                          "azpool-controller");
    if (cur)
        rv =
            json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{"
             "\"name\":\"azpool-controller\",\"namespace\":\"default\"%s%s%s},\"spec\":{"
             "\"holderIdentity\":\"%s\",\"leaseDurationSeconds\":3600,\"renewTime\":"
             "\"2026-11-23T10:00:00.000000Z\"}}",
             cur ? ",\"resourceVersion\":\"" : "", cur ? rv : "", cur ? "\"" : "", holder);
    if (create)
        assert_int_equal(ksim_http(s, "POST",
                                   "/apis/coordination.k8s.io/v1/namespaces/default/leases", NULL,
                                   body, out, 65536),
                         201);
    else
        assert_int_equal(ksim_http(s, "PUT",
                                   "/apis/coordination.k8s.io/v1/namespaces/default/leases/"
                                   "azpool-controller",
                                   NULL, body, out, 65536),
                         200);
    json_decref(cur);
    free(out);
}

/* The whole life of a pool through the source, as one story (each step needs
 * the previous one). */
static void test_source_lifecycle(void **state)
{
    struct ksim s;
    struct ctl *c = calloc(1, sizeof(*c));
    struct ctl_opts o;
    struct ctl_backend be;
    struct rc_err err = {0};
    struct be_ctx x;
    char *val = NULL;
    json_t *obj, *st;
    uint64_t before;

    (void)state;
    unsetenv("POD_NAMESPACE");
    setenv("POD_NAME", "test-source", 1);
    assert_int_equal(ksim_start(&s, NULL), 0);
    assert_int_equal(ksim_apply_crds(&s), 0);
    assert_int_equal(ksim_namespace(&s, "ci"), 0);
    assert_int_equal(ksim_http(&s, "POST", WPS, NULL, POOL, NULL, 0), 201);
    assert_int_equal(ksim_http(&s, "POST", "/api/v1/namespaces/ci/secrets", NULL,
                               "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
                               "\"ci-init\"},\"data\":{\"user-data\":\"I2Nsb3VkLWNvbmZpZwo=\"}}",
                               NULL, 0),
                     201);
    put_lease(&s, "someone-else", true); /* another replica leads */

    uv_loop_init(&c->loop);
    memset(&o, 0, sizeof(o)); /* not ctl_opts_init: that would link ctl_run.o */
    o.source_kube = true;
    o.kubeconfig = s.kubeconfig;
    o.namespace = "ci";
    assert_int_equal(ctl_kube_start(c, &o, &be, &err), 0);
    assert_true(c->standby);
    x.be = &be;
    x.s = &s;

    /* 1. a follower: synced (desired handed over), but no finalizer and no write */
    run_until(c, c_synced, NULL, 8000, "synced");
    run_for(c, 500);
    assert_true(c->standby);
    assert_int_equal(c->want.n_pools, 1);
    assert_string_equal(c->want.pools[0].meta.name, "wp1");
    assert_true(c->all >= 1);
    assert_false(has_fin(&s));
    assert_false(be.may_write(be.arg, &c->want.pools[0]));

    /* secrets resolve from the watched Secret (as the executor asks) */
    run_for(c, 300);
    assert_int_equal(be.secret(be.arg, "ci", "ci-init", "user-data", &val), 0);
    assert_string_equal(val, "#cloud-config\n");
    free(val);
    assert_int_equal(be.secret(be.arg, "ci", "ci-init", "nope", &val), -RC_ENOTFOUND);
    assert_int_equal(be.secret(be.arg, "ci", "unknown", "k", &val), -RC_ETRANSIENT);

    /* 2. the Lease is freed: it leads, adds the finalizer, may_write turns true */
    put_lease(&s, "", false);
    run_until(c, c_leading, NULL, 8000, "leading");
    run_until(c, may_write_now, &x, 8000, "may_write");
    assert_true(has_fin(&s));

    /* 3. status: written with observedGeneration; an identical one is not rewritten */
    obj = json_pack("{s:{s:i,s:i,s:[{s:s,s:s,s:s,s:s}]}}", "status", "replicas", 2, "readyReplicas",
                    2, "conditions", "type", "Ready", "status", "True", "reason", "Ready",
                    "message", "2/2 ready");
    be.status(be.arg, &c->want.pools[0], obj);
    run_until(c, status_written, &x, 8000, "status");
    run_for(c, 300);
    before = 0;
    {
        json_t *o1 = get(&s, WPS "/wp1");

        before = (uint64_t)atoll(
            json_string_value(json_object_get(json_object_get(o1, "metadata"), "resourceVersion")));
        st = json_object_get(o1, "status");
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(st, "conditions"), 0), "type")),
                            "Ready");
        assert_non_null(json_object_get(json_array_get(json_object_get(st, "conditions"), 0),
                                        "lastTransitionTime"));
        json_decref(o1);
    }
    be.status(be.arg, &c->want.pools[0], obj);
    run_for(c, 300);
    {
        json_t *o2 = get(&s, WPS "/wp1");

        assert_int_equal((uint64_t)atoll(json_string_value(
                             json_object_get(json_object_get(o2, "metadata"), "resourceVersion"))),
                         before);
        json_decref(o2);
    }
    json_decref(obj);

    /* 4. deletion: the planner sees it deleting; gone -> finalizer removed -> object gone */
    assert_int_equal(ksim_http(&s, "DELETE", WPS "/wp1", NULL, NULL, NULL, 0), 200);
    run_until(c, deleting_seen, NULL, 8000, "deleting");
    assert_true(has_fin(&s)); /* still there: Azure resources first */
    be.gone(be.arg, &c->want.pools[0]);
    run_until(c, object_gone, &x, 8000, "object gone");

    /* 5. stop: every handle closes */
    be.stop(be.arg);
    srv_loop_finish(&c->loop);
    rc_desired_release(&c->want);
    free(c);
    ksim_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_lifecycle),
    };

    return az_run_tests("kube_source", tests);
}
