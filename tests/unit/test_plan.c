/*
 * test_plan.c - what the data cases cannot express: the Plan JSON shape, sort
 * order, determinism under reordered input, release of partial plans, names,
 * and the explicit-instances rule.
 */
#include "test_main.h"

#include <stdlib.h>
#include <string.h>

#include "plan_apply.h"
#include "rc_arm.h"
#include "rc_model.h"
#include "rc_observed.h"
#include "rc_plan.h"
#include "rc_plan_int.h"
#include "rc_util.h"

#define SUB "11111111-2222-3333-4444-555555555555"
#define IMG                                                                                        \
    "/subscriptions/" SUB "/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/g/"     \
    "images/ubuntu/versions/1.0.0"
#define NOW 1795428000000LL /* 2026-11-23T10:00:00Z */

static void add_pool(struct rc_desired *want, const char *ns, const char *name, const char *extra)
{
    char text[4096];
    json_error_t jerr;
    json_t *obj;
    struct rc_errs errs = {0};

    snprintf(text, sizeof(text),
             "{\"apiVersion\":\"azpool.dev/v1alpha1\",\"kind\":\"WorkerPool\","
             "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"},"
             "\"spec\":{\"subscriptionId\":\"" SUB "\",\"resourceGroup\":\"rg-workers\","
             "\"location\":\"westeurope\",\"vmSize\":\"Standard_D2s_v5\","
             "\"image\":{\"id\":\"" IMG "\"},"
             "\"network\":{\"subnetId\":\"/subscriptions/" SUB
             "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s\"}%s}}",
             name, ns, extra);
    obj = json_loads(text, 0, &jerr);
    assert_non_null(obj);
    assert_int_equal(rc_decode_json(want, "test", obj, &errs, NULL), 0);
    json_decref(obj);
    rc_errs_release(&errs);
}

/* An instance of the pool's scale set. */
static void add_vmss_instance(struct rc_observed *have, const struct rc_pool *p, const char *iid)
{
    struct rc_obs_instance *o = pa_add_instance(have);
    char ssid[RC_ARM_ID_MAX], id[RC_ARM_ID_MAX + 64], name[64];

    assert_non_null(o);
    assert_int_equal(rc_arm_vmss_id(p, ssid, sizeof(ssid)), 0);
    snprintf(id, sizeof(id), "%s/virtualMachines/%s", ssid, iid);
    snprintf(name, sizeof(name), "%s_%s", p->meta.name, iid);
    o->id = rc_strdup(id);
    o->name = rc_strdup(name);
    o->instance_id = rc_strdup(iid);
    o->scale_set_id = rc_strdup(ssid);
    o->image = rc_strdup(IMG);
    o->state = RC_INST_READY;
    o->created_ms = NOW - 3600 * 1000 - atoi(iid) * 1000;
}

static void add_vmss(struct rc_observed *have, const struct rc_pool *p, int capacity)
{
    struct rc_obs_scale_set *ss = pa_add_scale_set(have);
    char id[RC_ARM_ID_MAX], hash[32];
    json_t *tags;

    assert_non_null(ss);
    assert_int_equal(rc_arm_vmss_id(p, id, sizeof(id)), 0);
    ss->id = rc_strdup(id);
    ss->name = rc_strdup(p->meta.name);
    ss->image = rc_strdup(IMG);
    ss->capacity = capacity;
    rc_arm_spec_hash(p, hash, sizeof(hash));
    ss->spec_hash = rc_strdup(hash);
    tags = rc_arm_tags(p, IMG, 0, 0);
    assert_non_null(tags);
    pa_set_tags(&ss->own, tags);
    json_decref(tags);
}

static char *plan_json_text(const struct rc_plan *plan)
{
    json_t *j = rc_plan_to_json(plan);
    char *s;

    assert_non_null(j);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

/* The JSON of DESIGN.md §10: changes, pools[].pool, actions with verb, target,
 * count, reason, key; "instances" only where instances are named. */
static void test_plan_json_shape(void **state)
{
    struct rc_desired want = {0};
    struct rc_observed have = {0};
    struct rc_plan plan;
    struct rc_err err = {0};
    json_t *j, *pools, *acts, *a;

    (void)state;
    add_pool(&want, "ops", "hw", ",\"replicas\":3");
    assert_int_equal(rc_plan(&want, &have, NULL, NOW, &plan, &err), 0);
    j = rc_plan_to_json(&plan);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "changes")), 1);
    pools = json_object_get(j, "pools");
    assert_int_equal(json_array_size(pools), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pools, 0), "pool")),
                        "ops/hw");
    acts = json_object_get(json_array_get(pools, 0), "actions");
    assert_int_equal(json_array_size(acts), 1);
    a = json_array_get(acts, 0);
    assert_string_equal(json_string_value(json_object_get(a, "verb")), "create");
    assert_non_null(strstr(json_string_value(json_object_get(a, "target")),
                           "/providers/Microsoft.Compute/virtualMachineScaleSets/hw"));
    assert_int_equal(json_integer_value(json_object_get(a, "count")), 3);
    assert_non_null(json_string_value(json_object_get(a, "reason")));
    assert_true(strlen(json_string_value(json_object_get(a, "key"))) > 8);
    assert_null(json_object_get(a, "instances"));
    assert_null(json_object_get(a, "body")); /* bodies are not part of the plan JSON */
    assert_int_equal(json_object_size(a), 5);
    json_decref(j);
    rc_plan_release(&plan);
    rc_desired_release(&want);
}

static void test_empty_plan_json(void **state)
{
    struct rc_plan plan;
    char *s;

    (void)state;
    memset(&plan, 0, sizeof(plan));
    s = plan_json_text(&plan);
    assert_string_equal(s, "{\"changes\":0,\"pools\":[]}");
    free(s);
}

static void test_verb_and_method_names(void **state)
{
    (void)state;
    assert_string_equal(rc_verb_name(RC_VERB_CREATE), "create");
    assert_string_equal(rc_verb_name(RC_VERB_UPDATE), "update");
    assert_string_equal(rc_verb_name(RC_VERB_SCALE), "scale");
    assert_string_equal(rc_verb_name(RC_VERB_DELETE), "delete");
    assert_string_equal(rc_verb_name(RC_VERB_REIMAGE), "reimage");
    assert_string_equal(rc_verb_name(RC_VERB_REGISTER), "register");
    assert_string_equal(rc_verb_name(RC_VERB_DEREGISTER), "deregister");
    assert_string_equal(rc_verb_name(RC_VERB_RUN), "run");
    assert_string_equal(rc_method_name(RC_HTTP_PUT), "PUT");
    assert_string_equal(rc_method_name(RC_HTTP_PATCH), "PATCH");
    assert_string_equal(rc_method_name(RC_HTTP_POST), "POST");
    assert_string_equal(rc_method_name(RC_HTTP_DELETE), "DELETE");
}

/* Pools in any order give a plan sorted by pool, then wave. */
static void test_sorted_by_pool_and_wave(void **state)
{
    struct rc_desired want = {0};
    struct rc_observed have = {0};
    struct rc_plan plan;
    struct rc_err err = {0};
    size_t i;

    (void)state;
    add_pool(&want, "ops", "zz", ",\"replicas\":1");
    add_pool(&want, "ci", "vm", ",\"mode\":\"VirtualMachines\",\"replicas\":2");
    add_pool(&want, "ops", "aa", ",\"replicas\":1");
    assert_int_equal(rc_plan(&want, &have, NULL, NOW, &plan, &err), 0);
    assert_int_equal(plan.n_actions, 6);
    for (i = 1; i < plan.n_actions; i++) {
        int d = strcmp(plan.actions[i - 1].pool, plan.actions[i].pool);

        assert_true(d < 0 || (d == 0 && plan.actions[i - 1].wave <= plan.actions[i].wave));
    }
    assert_string_equal(plan.actions[0].pool, "ci/vm");
    assert_string_equal(plan.actions[5].pool, "ops/zz");
    assert_int_equal(plan.n_pools, 3);
    assert_string_equal(plan.pools[0].pool, "ci/vm");
    assert_int_equal(plan.pools[0].pending, 4);
    rc_plan_release(&plan);
    rc_desired_release(&want);
}

/* The order ARM lists instances in does not change the plan (ids sorted
 * numerically, keys stable). */
static void test_deterministic_under_reordering(void **state)
{
    struct rc_desired want = {0};
    struct rc_observed a = {0}, b = {0};
    struct rc_plan pa, pb;
    struct rc_err err = {0};
    const char *ids[] = {"10", "2", "7", "1"};
    char *ja, *jb;
    int i;

    (void)state;
    add_pool(&want, "ops", "hw", ",\"replicas\":1");
    add_vmss(&a, &want.pools[0], 4);
    add_vmss(&b, &want.pools[0], 4);
    for (i = 0; i < 4; i++)
        add_vmss_instance(&a, &want.pools[0], ids[i]);
    for (i = 3; i >= 0; i--)
        add_vmss_instance(&b, &want.pools[0], ids[i]);
    assert_int_equal(rc_plan(&want, &a, NULL, NOW, &pa, &err), 0);
    assert_int_equal(rc_plan(&want, &b, NULL, NOW, &pb, &err), 0);
    ja = plan_json_text(&pa);
    jb = plan_json_text(&pb);
    assert_string_equal(ja, jb);
    assert_int_equal(pa.pools[0].n_instances, 4); /* status instances sorted by name */
    for (i = 0; i < 4; i++)
        assert_string_equal(pa.pools[0].instances[i].name, pb.pools[0].instances[i].name);
    assert_string_equal(pa.pools[0].instances[0].name, "hw_1");
    assert_string_equal(pa.pools[0].instances[3].name, "hw_7");
    /* three of four go, in numeric order, one batched POST with the ids */
    assert_int_equal(pa.n_actions, 1);
    assert_int_equal(pa.actions[0].verb, RC_VERB_DELETE);
    assert_int_equal(pa.actions[0].method, RC_HTTP_POST);
    assert_int_equal(pa.actions[0].n_instances, 3);
    assert_string_equal(pa.actions[0].instances[0], "2");
    assert_string_equal(pa.actions[0].instances[1], "7");
    assert_string_equal(pa.actions[0].instances[2], "10");
    free(ja);
    free(jb);
    rc_plan_release(&pa);
    rc_plan_release(&pb);
    rc_observed_release(&a);
    rc_observed_release(&b);
    rc_desired_release(&want);
}

/* Never an implicit "all": every POST delete/reimage names its instances, in
 * the action and in the body. */
static void test_no_implicit_all(void **state)
{
    struct rc_desired want = {0};
    struct rc_observed have = {0};
    struct rc_plan plan;
    struct rc_err err = {0};
    size_t i;
    int posts = 0;

    (void)state;
    add_pool(&want, "ops", "hw", ",\"replicas\":0");
    add_vmss(&have, &want.pools[0], 2);
    add_vmss_instance(&have, &want.pools[0], "0");
    add_vmss_instance(&have, &want.pools[0], "1");
    assert_int_equal(rc_plan(&want, &have, NULL, NOW, &plan, &err), 0);
    for (i = 0; i < plan.n_actions; i++) {
        const struct rc_action *a = &plan.actions[i];

        if (a->method != RC_HTTP_POST)
            continue;
        posts++;
        assert_true(a->n_instances > 0);
        assert_int_equal(json_array_size(json_object_get(a->body, "instanceIds")), a->n_instances);
    }
    assert_int_equal(posts, 1);
    rc_plan_release(&plan);
    rc_observed_release(&have);
    rc_desired_release(&want);
}

/* An untagged VM is never the target of an action, even with every guard off. */
static void test_untagged_never_targeted(void **state)
{
    struct rc_desired want = {0};
    struct rc_observed have = {0};
    struct rc_policy pol;
    struct rc_plan plan;
    struct rc_err err = {0};
    struct rc_obs_instance *o;
    size_t i;

    (void)state;
    add_pool(&want, "ops", "hw", ",\"mode\":\"VirtualMachines\",\"replicas\":0");
    o = pa_add_instance(&have);
    o->id = rc_strdup("/subscriptions/" SUB "/resourceGroups/rg-workers/providers/"
                      "Microsoft.Compute/virtualMachines/hw-0-0");
    o->name = rc_strdup("hw-0-0");
    o->state = RC_INST_FAILED;
    rc_policy_init(&pol);
    pol.collect_orphans = true;
    pol.allow_mass_delete = true;
    assert_int_equal(rc_plan(&want, &have, &pol, NOW, &plan, &err), 0);
    for (i = 0; i < plan.n_actions; i++)
        assert_null(strstr(plan.actions[i].target, "hw-0-0"));
    assert_int_equal(plan.n_actions, 0);
    rc_plan_release(&plan);
    rc_observed_release(&have);
    rc_desired_release(&want);
}

/* Long pool names still give names within Azure's limits. */
static void test_names_within_limits(void **state)
{
    struct rc_desired want = {0};
    struct rc_observed have = {0};
    struct rc_plan plan;
    struct rc_err err = {0};
    size_t i;
    char name[80];

    (void)state;
    memset(name, 'a', 60);
    name[60] = '\0';
    add_pool(&want, "ops", name, ",\"mode\":\"VirtualMachines\",\"replicas\":3");
    assert_int_equal(rc_plan(&want, &have, NULL, NOW, &plan, &err), 0);
    assert_int_equal(plan.n_actions, 6);
    for (i = 0; i < plan.n_actions; i++) {
        const char *seg = strrchr(plan.actions[i].target, '/');

        assert_non_null(seg);
        /* VM names <= 64; NIC names ("<vm>-nic") <= 80 (Azure's NIC limit) */
        if (strstr(plan.actions[i].target, "/networkInterfaces/"))
            assert_true(strlen(seg + 1) <= 80);
        else
            assert_true(strlen(seg + 1) <= RC_NAME_MAX);
    }
    rc_plan_release(&plan);
    rc_desired_release(&want);
}

/* Releasing a partially built plan (fields missing, as after an allocation
 * failure) and releasing twice are safe; NULL is a no-op. */
static void test_release_partial(void **state)
{
    struct rc_plan plan;

    (void)state;
    rc_plan_release(NULL);
    memset(&plan, 0, sizeof(plan));
    plan.actions = calloc(4, sizeof(*plan.actions));
    plan.cap_actions = 4;
    plan.n_actions = 2;
    plan.actions[0].pool = rc_strdup("ops/hw");
    plan.actions[0].body = json_object();
    plan.actions[1].instances = calloc(2, sizeof(char *));
    plan.actions[1].instances[0] = rc_strdup("0");
    plan.actions[1].n_instances = 1;
    plan.pools = calloc(2, sizeof(*plan.pools));
    plan.cap_pools = 2;
    plan.n_pools = 1;
    plan.pools[0].pool = rc_strdup("ops/hw");
    rc_plan_release(&plan);
    assert_null(plan.actions);
    assert_int_equal(plan.n_actions, 0);
    rc_plan_release(&plan);
}

static void test_invalid_arguments(void **state)
{
    struct rc_plan plan;
    struct rc_err err = {0};

    (void)state;
    assert_int_equal(rc_plan(NULL, NULL, NULL, NOW, &plan, &err), -RC_EINVAL);
    assert_int_equal(plan.n_actions, 0);
    assert_true(err.msg[0] != '\0');
}

/* Applying the plan and planning again is empty, also for a rollout
 * in progress (the property the data cases check, on a hand-built world). */
static void test_apply_then_replan_empty(void **state)
{
    struct rc_desired want = {0};
    struct rc_observed have = {0};
    struct rc_plan p1, p2;
    struct rc_err err = {0};
    char msg[256];

    (void)state;
    add_pool(&want, "ops", "hw", ",\"replicas\":5");
    add_vmss(&have, &want.pools[0], 2);
    add_vmss_instance(&have, &want.pools[0], "0");
    add_vmss_instance(&have, &want.pools[0], "1");
    assert_int_equal(rc_plan(&want, &have, NULL, NOW, &p1, &err), 0);
    assert_int_equal(p1.n_actions, 1);
    assert_int_equal(p1.actions[0].verb, RC_VERB_SCALE);
    assert_int_equal(p1.actions[0].count, 5);
    assert_int_equal(pa_apply(&have, &p1, NOW, msg, sizeof(msg)), 0);
    assert_int_equal(have.n_instances, 5);
    assert_int_equal(rc_plan(&want, &have, NULL, NOW, &p2, &err), 0);
    assert_int_equal(p2.n_actions, 0);
    assert_int_equal(p2.pools[0].replicas, 5);
    assert_int_equal(p2.pools[0].ready_replicas, 2);
    rc_plan_release(&p1);
    rc_plan_release(&p2);
    rc_observed_release(&have);
    rc_desired_release(&want);
}

/* The planner's index groups keys case-insensitively and keeps keys apart
 * whose hashes collide (same length and same last 40 characters). */
static void test_index_groups_and_collisions(void **state)
{
    struct rc_desired want = {0};
    struct rc_observed have = {0};
    struct rp_world w;
    const char *a = "/subscriptions/aaaa/resourceGroups/rg/providers/Microsoft.Compute/"
                    "virtualMachineScaleSets/hw";
    const char *b = "/subscriptions/bbbb/resourceGroups/rg/providers/Microsoft.Compute/"
                    "virtualMachineScaleSets/hw";
    const char *upper_a = "/SUBSCRIPTIONS/aaaa/resourceGroups/RG/providers/Microsoft.Compute/"
                          "virtualMachineScaleSets/HW";
    const char *order[] = {a, b, upper_a, b, a};
    size_t i, first, end;

    (void)state;
    for (i = 0; i < 5; i++) {
        struct rc_obs_instance *o = pa_add_instance(&have);
        char name[16];

        snprintf(name, sizeof(name), "hw_%zu", i);
        o->name = rc_strdup(name);
        o->scale_set_id = rc_strdup(order[i]);
    }
    {
        struct rc_obs_instance *o = pa_add_instance(&have); /* a standalone VM */

        o->name = rc_strdup("vm-x");
    }
    assert_int_equal(rp_world_build(&w, &want, &have, true), 0);
    first = rp_index_range(&w.inst_ss, a, &end);
    assert_int_equal(end - first, 3); /* a, upper_a, a */
    for (i = first; i < end; i++)
        assert_int_equal(rc_strcasecmp(have.instances[w.inst_ss.v[i].idx].scale_set_id, a), 0);
    first = rp_index_range(&w.inst_ss, b, &end);
    assert_int_equal(end - first, 2);
    first = rp_index_range(&w.inst_ss, "/nope", &end);
    assert_true(end <= first);
    assert_int_equal(rp_index_find(&w.inst_name, "VM-X"), 5);
    assert_true(rp_index_find(&w.inst_name, "hw_3") == SIZE_MAX); /* scale-set members are not */
    rp_world_release(&w);
    rc_observed_release(&have);
}

/* What the planner writes, read back the way ARM returns it (rc_observe),
 * is what the planner wants: ownership tags, image and names agree across
 * rc_arm, rc_observe and rc_plan. */
static void test_arm_roundtrip_converges(void **state)
{
    struct rc_desired want = {0};
    struct rc_observed have = {0};
    struct rc_plan p1, p2;
    struct rc_err err = {0};
    struct rc_errs errs = {0};
    json_t *list = json_array(), *doc;
    size_t i;

    (void)state;
    add_pool(&want, "ops", "hw", ",\"mode\":\"VirtualMachines\",\"replicas\":2");
    assert_int_equal(rc_plan(&want, &have, NULL, NOW, &p1, &err), 0);
    for (i = 0; i < p1.n_actions; i++) {
        const struct rc_action *a = &p1.actions[i];
        json_t *item;

        if (a->method != RC_HTTP_PUT || !strstr(a->target, "/virtualMachines/"))
            continue;
        item = json_deep_copy(a->body);
        json_object_set_new(item, "id", json_string(a->target));
        json_object_set_new(item, "name", json_string(strrchr(a->target, '/') + 1));
        json_object_set_new(item, "type", json_string("Microsoft.Compute/virtualMachines"));
        json_object_set_new(json_object_get(item, "properties"), "provisioningState",
                            json_string("Succeeded"));
        json_object_set_new(json_object_get(item, "properties"), "timeCreated",
                            json_string("2026-11-23T09:00:00Z"));
        json_array_append_new(list, item);
    }
    assert_int_equal(json_array_size(list), 2);
    doc = json_pack("{s:o}", "value", list);
    assert_int_equal(rc_observe_arm(&have, doc, &errs), 0);
    assert_int_equal(have.n_instances, 2);
    assert_true(have.instances[0].own.managed);
    assert_int_equal(rc_plan(&want, &have, NULL, NOW, &p2, &err), 0);
    assert_int_equal(p2.n_actions, 0);
    assert_string_equal(p2.pools[0].reason, "Ready");
    assert_int_equal(p2.pools[0].updated_replicas, 2);
    json_decref(doc);
    rc_errs_release(&errs);
    rc_plan_release(&p1);
    rc_plan_release(&p2);
    rc_observed_release(&have);
    rc_desired_release(&want);
}

/* Same for a scale set: the PUT body read back as a VMSS plus instances in
 * the shape ARM lists them plans nothing (spec hash, image, ownership). */
static void test_arm_roundtrip_scale_set(void **state)
{
    struct rc_desired want = {0};
    struct rc_observed have = {0};
    struct rc_plan p1, p2;
    struct rc_err err = {0};
    struct rc_errs errs = {0};
    json_t *list = json_array(), *doc, *vmss;
    int i;

    (void)state;
    add_pool(&want, "ops", "hw", ",\"replicas\":2");
    assert_int_equal(rc_plan(&want, &have, NULL, NOW, &p1, &err), 0);
    assert_int_equal(p1.n_actions, 1);
    vmss = json_deep_copy(p1.actions[0].body);
    json_object_set_new(vmss, "id", json_string(p1.actions[0].target));
    json_object_set_new(vmss, "name", json_string("hw"));
    json_object_set_new(vmss, "type", json_string("Microsoft.Compute/virtualMachineScaleSets"));
    json_object_set_new(json_object_get(vmss, "properties"), "provisioningState",
                        json_string("Succeeded"));
    json_array_append_new(list, vmss);
    for (i = 0; i < 2; i++) {
        char id[RC_ARM_ID_MAX + 32], iid[16], name[24];

        snprintf(id, sizeof(id), "%s/virtualMachines/%d", p1.actions[0].target, i);
        snprintf(iid, sizeof(iid), "%d", i);
        snprintf(name, sizeof(name), "hw_%d", i);
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:s, s:{s:b, s:s, s:s, s:{s:{s:s}}}}", "id", id,
                            "name", name, "instanceId", iid, "type",
                            "Microsoft.Compute/virtualMachines", "properties", "latestModelApplied",
                            1, "provisioningState", "Succeeded", "timeCreated",
                            "2026-11-23T09:00:00Z", "storageProfile", "imageReference", "id", IMG));
    }
    doc = json_pack("{s:o}", "value", list);
    assert_int_equal(rc_observe_arm(&have, doc, &errs), 0);
    assert_int_equal(have.n_scale_sets, 1);
    assert_int_equal(have.n_instances, 2);
    assert_int_equal(rc_plan(&want, &have, NULL, NOW, &p2, &err), 0);
    assert_int_equal(p2.n_actions, 0);
    assert_string_equal(p2.pools[0].reason, "Ready");
    /* canonical Uniform ids are not stored; the status rebuilds them */
    assert_int_equal(p2.pools[0].n_instances, 2);
    for (i = 0; i < 2; i++) {
        char id[RC_ARM_ID_MAX + 32], buf[RC_OBS_ID_MAX];

        snprintf(id, sizeof(id), "%s/virtualMachines/%d", p1.actions[0].target, i);
        assert_null(have.instances[i].id);
        assert_null(p2.pools[0].instances[i].id);
        assert_string_equal(rc_inst_status_id(&p2.pools[0].instances[i], buf, sizeof(buf)), id);
    }
    json_decref(doc);
    rc_errs_release(&errs);
    rc_plan_release(&p1);
    rc_plan_release(&p2);
    rc_observed_release(&have);
    rc_desired_release(&want);
}

/* ---- property: random worlds converge ---- */

static uint64_t rnd_state;

static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rnd_state >> 33) % n);
}

/* The world moves on: Provisioning becomes Ready, Deleting goes away, busy
 * flags are dropped, an hour passes. */
static void settle(struct rc_observed *have)
{
    size_t i, n = 0;

    for (i = 0; i < have->n_instances; i++) {
        struct rc_obs_instance *o = &have->instances[i];

        if (o->state == RC_INST_DELETING) {
            struct rc_observed t = {0}; /* release just this instance */

            t.instances = malloc(sizeof(*o));
            assert_non_null(t.instances);
            t.instances[0] = *o;
            t.n_instances = t.cap_instances = 1;
            rc_observed_release(&t);
            continue;
        }
        if (o->state == RC_INST_PROVISIONING)
            o->state = RC_INST_READY;
        for (size_t e = 0; e < o->n_extensions; e++) {
            free(o->extensions[e].provisioning_state);
            o->extensions[e].provisioning_state = rc_strdup("Succeeded");
        }
        o->busy = o->busy && rnd(2); /* jobs end at random */
        have->instances[n++] = *o;
    }
    have->n_instances = n;
    for (i = 0; i < have->n_jobs; i++) { /* runbook jobs finish, one in five fails */
        struct rc_obs_job *j = &have->jobs[i];

        if (j->status && strcmp(j->status, "New") == 0) {
            free(j->status);
            j->status = rc_strdup(rnd(5) == 0 ? "Failed" : "Completed");
        }
    }
    for (i = 0, n = 0; i < have->n_scale_sets; i++) { /* deleted scale sets are gone */
        struct rc_obs_scale_set *ss = &have->scale_sets[i];

        if (ss->provisioning_state && strcmp(ss->provisioning_state, "Deleting") == 0) {
            struct rc_observed t = {0};

            t.scale_sets = malloc(sizeof(*ss));
            assert_non_null(t.scale_sets);
            t.scale_sets[0] = *ss;
            t.n_scale_sets = t.cap_scale_sets = 1;
            rc_observed_release(&t);
            continue;
        }
        have->scale_sets[n++] = *ss;
    }
    have->n_scale_sets = n;
}

/* 1000 random pools and worlds: every plan is stable (apply, plan again: empty)
 * and repeated plan/apply/settle rounds reach Ready with zero writes (or, when
 * a canary failed, a halted rollout settled on the old image). */
static void test_random_worlds_converge(void **state)
{
    int seed, seeds = getenv("PLAN_SEEDS") ? atoi(getenv("PLAN_SEEDS")) : 1000;

    (void)state;

    for (seed = 1; seed <= seeds; seed++) {
        struct rc_desired want = {0};
        struct rc_observed have = {0};
        char extra[1536];
        const char *img_new = IMG;
        bool vm, canary, expiry, hrw, hook, scaler, deleting, orphan;
        int replicas, surge, unav, n_inst, round;
        int64_t now = NOW;
        char ssid[RC_ARM_ID_MAX], hash[32];

        rnd_state = (uint64_t)seed * 7919;
        vm = rnd(2);
        canary = rnd(3) == 0;
        expiry = rnd(3) == 0;
        replicas = (int)rnd(5);
        surge = (int)rnd(3);
        unav = surge ? (int)rnd(2) : 1;
        n_inst = (int)rnd(6);
        hrw = vm && rnd(3) == 0;
        hook = vm && rnd(4) == 0;
        scaler = rnd(4) == 0;
        deleting = rnd(6) == 0;
        orphan = rnd(2);
        snprintf(extra, sizeof(extra),
                 ",\"mode\":\"%s\",\"replicas\":%d,\"rollout\":{\"maxSurge\":%d,"
                 "\"maxUnavailable\":%d%s}",
                 vm ? "VirtualMachines" : "ScaleSet", replicas, surge, unav,
                 canary ? ",\"canary\":{\"replicas\":1,\"soakSeconds\":60}" : "");
        if (scaler) {
            char as[256];

            snprintf(as, sizeof(as),
                     ",\"autoscale\":{\"minReplicas\":%u,\"maxReplicas\":%u,\"metric\":{"
                     "\"http\":{\"url\":\"https://ci.example/q\",\"jsonPointer\":\"/n\"}}}",
                     rnd(3), 3 + rnd(4));
            strncat(extra, as, sizeof(extra) - strlen(extra) - 1);
        }
        if (deleting && orphan)
            strncat(extra, ",\"deletionPolicy\":\"Orphan\"", sizeof(extra) - strlen(extra) - 1);
        if (hrw)
            strncat(extra,
                    ",\"identity\":{\"type\":\"SystemAssigned\"},\"registration\":{"
                    "\"hybridRunbookWorker\":{\"automationAccountId\":\"/subscriptions/" SUB
                    "/resourceGroups/rg/providers/Microsoft.Automation/automationAccounts/aa\","
                    "\"group\":\"g\"}}",
                    sizeof(extra) - strlen(extra) - 1);
        if (hook)
            strncat(extra,
                    ",\"hooks\":{\"afterCreate\":{\"runbook\":{\"automationAccountId\":"
                    "\"/subscriptions/" SUB
                    "/resourceGroups/rg/providers/Microsoft.Automation/automationAccounts/aa\","
                    "\"name\":\"Validate\",\"retries\":2}}}",
                    sizeof(extra) - strlen(extra) - 1);
        if (expiry) {
            json_error_t jerr;
            json_t *ep = json_loads(
                "{\"apiVersion\":\"azpool.dev/v1alpha1\",\"kind\":\"ExpiryPolicy\","
                "\"metadata\":{\"name\":\"p\",\"namespace\":\"ops\"},"
                "\"spec\":{\"maxAge\":\"48h\",\"jitter\":\"10%\",\"replaceBefore\":\"1h\"}}",
                0, &jerr);
            struct rc_errs errs = {0};

            assert_int_equal(rc_decode_json(&want, "test", ep, &errs, NULL), 0);
            json_decref(ep);
            rc_errs_release(&errs);
            strncat(extra, ",\"expiryPolicyRef\":{\"name\":\"p\"}",
                    sizeof(extra) - strlen(extra) - 1);
        }
        add_pool(&want, "ops", "hw", extra);
        want.pools[0].meta.deleting = deleting;
        if (scaler) {
            struct rc_obs_pool *op = rc_observed_pool(&have, "ops/hw");

            op->has_signal = true;
            op->signal = rnd(9);
        }
        rc_arm_spec_hash(&want.pools[0], hash, sizeof(hash));
        if (!vm && n_inst > 0) {
            add_vmss(&have, &want.pools[0], n_inst);
            if (rnd(2)) { /* model on an old image */
                free(have.scale_sets[0].image);
                have.scale_sets[0].image = rc_strdup(IMG "-old");
            }
        }
        rc_arm_vmss_id(&want.pools[0], ssid, sizeof(ssid));
        for (int i = 0; i < n_inst; i++) {
            struct rc_obs_instance *o = pa_add_instance(&have);
            char name[32], id[RC_ARM_ID_MAX + 64];
            json_t *tags;
            static const enum rc_inst_state states[] = {RC_INST_READY, RC_INST_READY,
                                                        RC_INST_PROVISIONING, RC_INST_FAILED,
                                                        RC_INST_DELETING};

            if (vm) {
                rc_name_vm("ops", "hw", (unsigned)i, 0, 64, name, sizeof(name));
                rc_arm_vm_id(&want.pools[0], name, id, sizeof(id));
            } else {
                snprintf(name, sizeof(name), "hw_%d", i);
                snprintf(id, sizeof(id), "%s/virtualMachines/%d", ssid, i);
                o->instance_id = rc_strdup(name + 3);
                o->scale_set_id = rc_strdup(ssid);
            }
            o->name = rc_strdup(name);
            o->id = rc_strdup(id);
            o->image = rc_strdup(rnd(3) == 0 ? IMG "-old" : img_new);
            o->state = states[rnd(5)];
            o->busy = rnd(4) == 0;
            o->created_ms = now - (int64_t)rnd(100) * 3600 * 1000;
            tags = rc_arm_tags(&want.pools[0], o->image, o->created_ms, 0);
            pa_set_tags(&o->own, tags);
            json_decref(tags);
            o->spec_hash = rc_strdup(hash);
        }
        if (!vm && n_inst > 0) { /* Azure keeps capacity = instances not being deleted */
            have.scale_sets[0].capacity = 0;
            for (int i = 0; i < n_inst; i++)
                have.scale_sets[0].capacity += have.instances[i].state != RC_INST_DELETING;
        }
        for (round = 0; round < 40; round++) {
            struct rc_plan p1, p2;
            struct rc_err err = {0};
            char msg[256];
            size_t i;

            assert_int_equal(rc_plan(&want, &have, NULL, now, &p1, &err), 0);
            for (i = 0; i < p1.n_actions; i++) {
                const struct rc_action *a = &p1.actions[i];

                assert_non_null(a->key);
                assert_true(a->reason && a->reason[0]);
                if (a->method == RC_HTTP_POST && strstr(a->path, "/delete"))
                    assert_true(a->n_instances > 0);
            }
            if (getenv("PLAN_DEBUG") && atoi(getenv("PLAN_DEBUG")) == seed) {
                print_message("seed %d round %d: %s %zu actions, %s: %s\n", seed, round, extra,
                              p1.n_actions, p1.pools[0].reason, p1.pools[0].message);
                for (i = 0; i < have.n_instances; i++)
                    print_message("  %s %s %s busy=%d latest=%d\n", have.instances[i].name,
                                  rc_inst_state_name(have.instances[i].state),
                                  have.instances[i].image, have.instances[i].busy,
                                  have.instances[i].latest_model);
                for (i = 0; i < have.n_scale_sets; i++)
                    print_message("  vmss cap=%lld %s\n", (long long)have.scale_sets[i].capacity,
                                  have.scale_sets[i].image);
            }
            if (scaler)
                replicas = p1.pools[0].desired_replicas;
            if (deleting && p1.n_actions == 0 && !strcmp(p1.pools[0].reason, "Deleted")) {
                rc_plan_release(&p1);
                break;
            }
            /* terminal: Ready, or a halted canary rollout settled on the old image */
            if (!deleting && p1.n_actions == 0 &&
                (p1.pools[0].ready == RC_COND_TRUE ||
                 (!strcmp(p1.pools[0].reason, "RolloutHalted") &&
                  p1.pools[0].ready_replicas == replicas))) {
                assert_int_equal(p1.pools[0].replicas, replicas);
                rc_plan_release(&p1);
                break;
            }
            assert_int_equal(pa_apply(&have, &p1, now, msg, sizeof(msg)), 0);
            assert_int_equal(rc_plan(&want, &have, NULL, now, &p2, &err), 0);
            if (p2.n_actions != 0)
                print_message(
                    "seed %d round %d: re-plan not empty (desired %d -> %d): %s %s (%s)\n", seed,
                    round, p1.pools[0].desired_replicas, p2.pools[0].desired_replicas,
                    rc_verb_name(p2.actions[0].verb), p2.actions[0].path, p2.actions[0].reason);
            assert_int_equal(p2.n_actions, 0);
            rc_plan_release(&p1);
            rc_plan_release(&p2);
            settle(&have);
            now += 3600 * 1000;
        }
        if (round == 40)
            print_message("seed %d did not converge\n", seed);
        assert_true(round < 40);
        rc_observed_release(&have);
        rc_desired_release(&want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_json_shape),
        cmocka_unit_test(test_empty_plan_json),
        cmocka_unit_test(test_verb_and_method_names),
        cmocka_unit_test(test_sorted_by_pool_and_wave),
        cmocka_unit_test(test_deterministic_under_reordering),
        cmocka_unit_test(test_no_implicit_all),
        cmocka_unit_test(test_untagged_never_targeted),
        cmocka_unit_test(test_names_within_limits),
        cmocka_unit_test(test_release_partial),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_apply_then_replan_empty),
        cmocka_unit_test(test_index_groups_and_collisions),
        cmocka_unit_test(test_arm_roundtrip_converges),
        cmocka_unit_test(test_arm_roundtrip_scale_set),
        cmocka_unit_test(test_random_worlds_converge),
    };

    return az_run_tests("plan", tests);
}
