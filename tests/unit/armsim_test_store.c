/*
 * armsim_test_store.c - the resource store: case-insensitive ids that keep their first casing,
 * etags bumped per write, direct-children and prefix listings, nested deletion that spares
 * siblings sharing a name prefix, and route matching that ignores segment case (the SDK's
 * lowercase "resourcegroups").
 */
#include "test_main.h"

#include "armsim_test_util.h"

static json_t *obj(const char *name)
{
    return json_pack("{s:s}", "name", name);
}

static void test_case_insensitive_ids(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(1, 1000);
    bool created = false;
    struct as_res *e = as_store_put(sim, "/subscriptions/S/resourceGroups/RG", obj("RG"), &created);
    assert_non_null(e);
    assert_true(created);
    assert_int_equal(e->etag, 1);
    e = as_store_put(sim, "/SUBSCRIPTIONS/s/resourcegroups/rg", obj("rg"), &created);
    assert_false(created);
    assert_int_equal(e->etag, 2);
    assert_string_equal(e->id, "/subscriptions/S/resourceGroups/RG"); /* first casing kept */
    assert_non_null(as_store_get(sim, "/subscriptions/s/RESOURCEGROUPS/Rg"));
    assert_null(as_store_get(sim, "/subscriptions/s/resourceGroups/rg2"));
    assert_int_equal(as_store_count(sim), 1);
    armsim_free(sim);
}

static void test_children_prefix_and_nested_delete(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(1, 1000);
    const char *vms = "/s/x/rg/providers/Microsoft.Compute/virtualMachines";
    const char *names[] = {"vm", "vm-2", "VM/extensions/e1", "vm/extensions/e2", "vm10", "a"};
    char id[512];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(id, sizeof(id), "%s/%s", vms, names[i]);
        assert_non_null(as_store_put(sim, id, obj(names[i]), NULL));
    }
    size_t n = 0;
    struct as_res **a = as_store_children(sim, vms, &n);
    assert_int_equal(n, 4); /* a, vm, vm-2, vm10: not the extensions */
    free(a);
    snprintf(id, sizeof(id), "%s/vm/extensions", vms);
    a = as_store_children(sim, id, &n);
    assert_int_equal(n, 2);
    free(a);
    snprintf(id, sizeof(id), "%s/VM", vms);
    assert_int_equal(as_store_del(sim, id), 3); /* vm and its two extensions */
    a = as_store_prefix(sim, vms, &n);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        assert_null(strstr(a[i]->id, "extensions"));
    free(a);
    snprintf(id, sizeof(id), "%s/vm-2", vms);
    assert_non_null(as_store_get(sim, id)); /* the sibling sharing the prefix survived */
    assert_int_equal(as_store_del(sim, "/nothing"), 0);
    armsim_free(sim);
}

/* Routes match segments case-insensitively; captures keep the client's spelling. */
static void test_route_case(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(1, 1000);
    char tk[2048];
    snprintf(tk, sizeof(tk), "%s", tx_login(sim, "app-store"));
    struct tx_resp t =
        tx_call(sim, "PUT", "/SUBSCRIPTIONS/s1/resourcegroups/MyGroup?api-version=2022-09-01",
                "{\"location\":\"westus\"}", tk, NULL, NULL);
    assert_int_equal(t.status, 201);
    assert_string_equal(json_string_value(json_object_get(t.body, "name")), "MyGroup");
    tx_done(&t);
    t = tx_call(sim, "GET", "/subscriptions/s1/ResourceGroups/mygroup?API-VERSION=2021-04-01", NULL,
                tk, NULL, NULL);
    assert_int_equal(t.status, 200);
    assert_string_equal(json_string_value(json_object_get(t.body, "name")), "MyGroup");
    tx_done(&t);
    armsim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_insensitive_ids),
        cmocka_unit_test(test_children_prefix_and_nested_delete),
        cmocka_unit_test(test_route_case),
    };
    return az_run_tests("armsim_store", tests);
}
