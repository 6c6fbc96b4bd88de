/*
 * test_observe_shared.c - interned instance strings (rc_observed.h, "Shared
 * strings"): equal scale_set_id, image, provisioning_state and power_state
 * values of one struct rc_observed are one allocation, across documents too;
 * rc_observed_set_str() replaces a shared field without freeing it;
 * rc_observed_copy() gives private strings; release frees everything once
 * (the ASan build checks the frees and leaks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "rc_observed.h"
#include "rc_util.h"
#include "test_main.h"

#define SS1                                                                                        \
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/hw"
#define SS2                                                                                        \
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/gpu"
#define IMG "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/u"

/* A VMSS VM as ARM lists it. */
static json_t *vm(const char *ss, int i, const char *prov, const char *power, const char *image)
{
    char id[512], name[64], iid[16];

    snprintf(id, sizeof(id), "%s/virtualMachines/%d", ss, i);
    snprintf(name, sizeof(name), "%s_%d", strrchr(ss, '/') + 1, i);
    snprintf(iid, sizeof(iid), "%d", i);
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:s, s:{s:{s:s}}, s:{s:[{s:s},{s:s}]}}}", "id", id, "name", name,
        "instanceId", iid, "type", "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
        "properties", "provisioningState", prov, "storageProfile", "imageReference", "id", image,
        "instanceView", "statuses", "code", "ProvisioningState/succeeded", "code", power);
}

static void observe(struct rc_observed *have, json_t *list)
{
    struct rc_errs errs = {0};

    assert_int_equal(rc_observe_arm(have, list, &errs), 0);
    assert_int_equal(errs.n, 0);
    json_decref(list);
    rc_errs_release(&errs);
}

static struct rc_observed world(void)
{
    struct rc_observed have = {0};

    observe(&have, json_pack("{s:[o,o,o]}", "value",
                             vm(SS1, 0, "Succeeded", "PowerState/running", IMG "/versions/1.0.0"),
                             vm(SS1, 1, "Succeeded", "PowerState/running", IMG "/versions/1.0.0"),
                             vm(SS2, 0, "succeeded", "PowerState/Running", IMG "/versions/1.0.0")));
    /* a second document (the controller lists pool by pool) */
    observe(&have, json_pack("{s:[o,o]}", "value",
                             vm(SS1, 2, "Succeeded", "PowerState/running", IMG "/versions/2.0.0"),
                             vm(SS2, 1, "Deleting", "PowerState/running", IMG "/versions/1.0.0")));
    assert_int_equal(have.n_instances, 5);
    return have;
}

/* Equal values share one allocation; different ones (case included) do not;
 * the decoded values and states are what they were without sharing. */
static void test_equal_strings_are_shared(void **state)
{
    struct rc_observed have = world();
    struct rc_obs_instance *v = have.instances;

    (void)state;
    assert_string_equal(v[0].scale_set_id, SS1);
    assert_ptr_equal(v[0].scale_set_id, v[1].scale_set_id);
    assert_ptr_equal(v[0].scale_set_id, v[3].scale_set_id); /* across documents */
    assert_ptr_not_equal(v[0].scale_set_id, v[2].scale_set_id);
    assert_string_equal(v[2].scale_set_id, SS2);
    assert_ptr_equal(v[0].image, v[1].image);
    assert_ptr_equal(v[0].image, v[2].image);
    assert_string_equal(v[3].image, IMG "/versions/2.0.0");
    assert_ptr_equal(v[0].provisioning_state, v[1].provisioning_state);
    assert_string_equal(v[2].provisioning_state, "succeeded"); /* case kept */
    assert_ptr_not_equal(v[0].provisioning_state, v[2].provisioning_state);
    assert_ptr_equal(v[0].power_state, v[3].power_state);
    assert_string_equal(v[2].power_state, "Running");
    assert_int_equal(v[0].state, RC_INST_READY);
    assert_int_equal(v[2].state, RC_INST_READY);
    assert_int_equal(v[4].state, RC_INST_DELETING);
    /* unique fields are copies of their own; canonical Uniform ids are not
     * stored but rebuilt */
    assert_ptr_not_equal(v[0].name, v[1].name);
    assert_null(v[0].id);
    {
        char buf[RC_OBS_ID_MAX];

        assert_string_equal(rc_obs_instance_id(&v[1], buf, sizeof(buf)), SS1 "/virtualMachines/1");
    }

    rc_observed_release(&have);
    assert_null(have.shared);
    assert_int_equal(have.n_instances, 0);
}

/* Scale sets and tagged VMs: tag keys and repeating values are one copy;
 * own.pool and spec_hash are the tag's value; a replaced tag-backed field
 * leaves the tag intact; release frees it all once. */
static void test_tags_are_shared(void **state)
{
    struct rc_observed have = {0};
    json_t *doc = json_pack(
        "{s:[{s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:{s:I}, s:{}},"
        "    {s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:{s:I}, s:{}},"
        "    {s:s, s:s, s:{s:s, s:s}, s:{}}]}",
        "value", "id", SS1, "name", "hw", "type", "Microsoft.Compute/virtualMachineScaleSets",
        "tags", "azpool.managed-by", "azpool", "azpool.pool", "ops/hw", "azpool.spec-hash", "h1",
        "sku", "capacity", (json_int_t)1, "properties", "id", SS2, "name", "gpu", "type",
        "Microsoft.Compute/virtualMachineScaleSets", "tags", "azpool.managed-by", "azpool",
        "azpool.pool", "ops/gpu", "azpool.spec-hash", "h1", "sku", "capacity", (json_int_t)1,
        "properties", "id",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/"
        "virtualMachines/vm1",
        "type", "Microsoft.Compute/virtualMachines", "tags", "azpool.managed-by", "azpool",
        "azpool.pool", "ops/hw", "properties");
    struct rc_obs_scale_set *a, *b;

    (void)state;
    assert_non_null(doc);
    observe(&have, doc);
    assert_int_equal(have.n_scale_sets, 2);
    assert_int_equal(have.n_instances, 1);
    a = &have.scale_sets[0];
    b = &have.scale_sets[1];
    assert_true(a->own.managed && b->own.managed);
    assert_string_equal(a->own.pool, "ops/hw");
    assert_string_equal(b->own.pool, "ops/gpu");
    assert_ptr_equal(a->spec_hash, b->spec_hash);
    assert_string_equal(a->spec_hash, "h1");
    for (uint32_t i = 0; i < a->own.n_tags; i++) {
        if (strcmp(a->own.tags[i].key, "azpool.pool") == 0)
            assert_ptr_equal(a->own.tags[i].value, a->own.pool);
        for (uint32_t j = 0; j < b->own.n_tags; j++)
            if (strcmp(a->own.tags[i].key, b->own.tags[j].key) == 0)
                assert_ptr_equal(a->own.tags[i].key, b->own.tags[j].key);
    }
    /* the VM's pool tag is the same text as the first scale set's: one copy */
    assert_ptr_equal(have.instances[0].own.pool, a->own.pool);
    assert_non_null(have.instances[0].id);
    /* replacing a tag-backed field by hand keeps the tag value */
    assert_int_equal(rc_observed_set_str(&have, &a->spec_hash, "h2"), 0);
    assert_string_equal(a->spec_hash, "h2");
    assert_string_equal(b->spec_hash, "h1");
    rc_observed_release(&have);
    assert_null(have.shared);
}

/* Replacing a shared field leaves the other instances' value intact; a
 * replaced private field is freed (ASan: no leak, no double free). */
static void test_set_str_keeps_shared_values(void **state)
{
    struct rc_observed have = world();
    struct rc_obs_instance *v = have.instances;
    const char *img = v[1].image;

    (void)state;
    assert_int_equal(rc_observed_set_str(&have, &v[0].image, IMG "/versions/9.0.0"), 0);
    assert_string_equal(v[0].image, IMG "/versions/9.0.0");
    assert_ptr_equal(v[1].image, img);
    assert_string_equal(v[1].image, IMG "/versions/1.0.0");
    assert_int_equal(rc_observed_set_str(&have, &v[0].image, NULL), 0); /* private: freed */
    assert_null(v[0].image);
    assert_int_equal(rc_observed_set_str(&have, &v[1].provisioning_state, "Creating"), 0);
    assert_string_equal(v[3].provisioning_state, "Succeeded");
    assert_int_equal(rc_observed_set_str(&have, &v[2].vm_id, "guid"), 0);
    assert_int_equal(rc_observed_set_str(&have, &v[2].vm_id, "guid2"), 0);
    assert_string_equal(v[2].vm_id, "guid2");
    rc_observed_release(&have);
}

/* A copy has private strings with the same values and outlives the source;
 * an instance added by hand (malloc'd strings) is released as before. */
static void test_copy_and_hand_made_instances(void **state)
{
    struct rc_observed have = world(), copy;
    struct rc_obs_instance *o;
    size_t i;

    (void)state;
    o = &have.instances[have.n_instances]; /* capacity: OBS_GROW doubles, so room for one */
    assert_true(have.cap_instances > have.n_instances);
    memset(o, 0, sizeof(*o));
    o->id = rc_strdup(SS1 "/virtualMachines/7");
    o->scale_set_id = rc_strdup(SS1); /* equal to a shared value, but its own */
    o->image = rc_strdup(IMG "/versions/1.0.0");
    have.n_instances++;
    assert_int_equal(rc_observed_copy(&have, &copy), 0);
    assert_null(copy.shared);
    for (i = 0; i < have.n_instances; i++) {
        assert_string_equal(copy.instances[i].scale_set_id, have.instances[i].scale_set_id);
        assert_ptr_not_equal(copy.instances[i].scale_set_id, have.instances[i].scale_set_id);
    }
    rc_observed_release(&have);
    assert_string_equal(copy.instances[1].image, IMG "/versions/1.0.0");
    assert_int_equal(copy.instances[4].state, RC_INST_DELETING);
    rc_observed_release(&copy);
}

/* Many distinct values: the set grows (rehash) and every value is kept. */
static void test_many_scale_sets(void **state)
{
    struct rc_observed have = {0};
    json_t *list = json_pack("{s:[]}", "value");
    size_t i;

    (void)state;
    for (i = 0; i < 1500; i++) {
        char ss[256];

        snprintf(ss, sizeof(ss), SS1 "-%zu", i);
        json_array_append_new(json_object_get(list, "value"),
                              vm(ss, (int)(i % 3), "Succeeded", "PowerState/running", IMG));
    }
    observe(&have, list);
    assert_int_equal(have.n_instances, 1500);
    for (i = 0; i < have.n_instances; i++) {
        char ss[256];

        snprintf(ss, sizeof(ss), SS1 "-%zu", i);
        assert_string_equal(have.instances[i].scale_set_id, ss);
        assert_ptr_equal(have.instances[i].image, have.instances[0].image);
    }
    rc_observed_release(&have);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_strings_are_shared),
        cmocka_unit_test(test_tags_are_shared),
        cmocka_unit_test(test_set_str_keeps_shared_values),
        cmocka_unit_test(test_copy_and_hand_made_instances),
        cmocka_unit_test(test_many_scale_sets),
    };

    return az_run_tests("observe_shared", tests);
}
