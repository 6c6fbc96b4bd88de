/*
 * armsim_test_lro.c - the long-running-operation state machines armsim serves: the
 * Azure-AsyncOperation style (always 200 + status InProgress -> Succeeded/Failed) and the
 * Location style (202 + Retry-After while running, then the final result), their URLs on the
 * client's host, resources that become visible with a non-terminal provisioningState, VMSS
 * instance lifecycles, and deletes that remove dependents per deleteOption.
 */
#include "test_main.h"

#include "armsim_test_util.h"

static struct armsim *world(char *tk, size_t tks)
{
    struct armsim *sim = tx_world(1, 10000);
    snprintf(tk, tks, "%s", tx_login(sim, "app-lro"));
    struct tx_resp t = tx_call(sim, "PUT", TX_RG "?api-version=2022-09-01",
                               "{\"location\":\"westus\"}", tk, NULL, NULL);
    assert_int_equal(t.status, 201);
    tx_done(&t);
    return sim;
}

static const char *op_status(struct armsim *sim, const char *tk, const char *url, int *ret_code)
{
    static char st[64];
    struct tx_resp t = tx_call(sim, "GET", tx_path(url), NULL, tk, NULL, NULL);
    *ret_code = t.status;
    snprintf(st, sizeof(st), "%s",
             json_string_value(json_object_get(t.body, "status"))
                 ? json_string_value(json_object_get(t.body, "status"))
                 : "");
    tx_done(&t);
    return st;
}

/* PUT VMSS: 201 Creating + Azure-AsyncOperation on the client's host; the status URL reads
 * InProgress until the simulated provisioning time has passed, then Succeeded, and the scale
 * set and its instances are Succeeded. */
static void test_async_operation_put(void **state)
{
    (void)state;
    char tk[2048], body[1024], url[1024];
    struct armsim *sim = world(tk, sizeof(tk));
    snprintf(body, sizeof(body), TX_VMSS_BODY, 2, "1.0.0");
    struct tx_resp t =
        tx_call(sim, "PUT", TX_C "/virtualMachineScaleSets/pool" TX_API, body, tk, NULL, NULL);
    assert_int_equal(t.status, 201);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t.body, "properties"),
                                                          "provisioningState")),
                        "Creating");
    assert_non_null(tx_hdr(&t, "Azure-AsyncOperation"));
    snprintf(url, sizeof(url), "%s", tx_hdr(&t, "Azure-AsyncOperation"));
    assert_true(strncmp(url, "https://test.local:8443/subscriptions/", 38) == 0);
    assert_non_null(strstr(url, "/providers/Microsoft.Compute/locations/westus/operations/"));
    assert_non_null(tx_hdr(&t, "Retry-After"));
    tx_done(&t);
    int code;
    assert_string_equal(op_status(sim, tk, url, &code), "InProgress");
    assert_int_equal(code, 200);
    tx_clock_ms += 9999;
    assert_string_equal(op_status(sim, tk, url, &code), "InProgress");
    tx_clock_ms += 1;
    assert_string_equal(op_status(sim, tk, url, &code), "Succeeded");
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/pool" TX_API, NULL, tk, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t.body, "properties"),
                                                          "provisioningState")),
                        "Succeeded");
    tx_done(&t);
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/pool/virtualMachines" TX_API, NULL, tk,
                NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(t.body, "value")), 2);
    json_t *v = json_array_get(json_object_get(t.body, "value"), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(v, "properties"), "provisioningState")),
        "Succeeded");
    tx_done(&t);
    /* an unknown operation id is 404 */
    t = tx_call(sim, "GET",
                TX_SUB "/providers/Microsoft.Compute/locations/westus/operations/nope" TX_API, NULL,
                tk, NULL, NULL);
    assert_int_equal(t.status, 404);
    tx_done(&t);
    armsim_free(sim);
}

/* POST delete with instanceIds: 202 + Location; polling gives 202 + Retry-After while running,
 * then 204; the instance is Deleting meanwhile and gone afterwards; capacity follows. */
static void test_location_style_delete_instances(void **state)
{
    (void)state;
    char tk[2048], body[1024], loc[1024];
    struct armsim *sim = world(tk, sizeof(tk));
    snprintf(body, sizeof(body), TX_VMSS_BODY, 3, "1.0.0");
    struct tx_resp t =
        tx_call(sim, "PUT", TX_C "/virtualMachineScaleSets/pool" TX_API, body, tk, NULL, NULL);
    tx_done(&t);
    tx_clock_ms += 10000;
    t = tx_call(sim, "POST", TX_C "/virtualMachineScaleSets/pool/delete" TX_API, "{}", tk, NULL,
                NULL);
    assert_int_equal(t.status, 400);
    assert_string_equal(tx_errcode(&t), "InvalidParameter");
    tx_done(&t);
    t = tx_call(sim, "POST", TX_C "/virtualMachineScaleSets/pool/delete" TX_API,
                "{\"instanceIds\":[\"1\"]}", tk, NULL, NULL);
    assert_int_equal(t.status, 202);
    snprintf(loc, sizeof(loc), "%s", tx_hdr(&t, "Location"));
    assert_non_null(strstr(loc, "monitor=true"));
    tx_done(&t);
    t = tx_call(sim, "GET", tx_path(loc), NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 202);
    assert_null(t.body);
    assert_non_null(tx_hdr(&t, "Retry-After"));
    tx_done(&t);
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/pool/virtualMachines/1" TX_API, NULL, tk,
                NULL, NULL);
    assert_int_equal(t.status, 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t.body, "properties"),
                                                          "provisioningState")),
                        "Deleting");
    tx_done(&t);
    tx_clock_ms += 5000;
    t = tx_call(sim, "GET", tx_path(loc), NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 204);
    tx_done(&t);
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/pool/virtualMachines/1" TX_API, NULL, tk,
                NULL, NULL);
    assert_int_equal(t.status, 404);
    assert_string_equal(tx_errcode(&t), "ResourceNotFound");
    tx_done(&t);
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/pool" TX_API, NULL, tk, NULL, NULL);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(t.body, "sku"), "capacity")), 2);
    tx_done(&t);
    armsim_free(sim);
}

/* A model change leaves instances stale (old image, latestModelApplied false) until
 * manualupgrade; new instances from a scale-out get the new model at once. */
static void test_model_generations(void **state)
{
    (void)state;
    char tk[2048], body[1024];
    struct armsim *sim = world(tk, sizeof(tk));
    snprintf(body, sizeof(body), TX_VMSS_BODY, 1, "1.0.0");
    struct tx_resp t =
        tx_call(sim, "PUT", TX_C "/virtualMachineScaleSets/pool" TX_API, body, tk, NULL, NULL);
    tx_done(&t);
    tx_clock_ms += 10000;
    t = tx_call(sim, "PATCH", TX_C "/virtualMachineScaleSets/pool" TX_API,
                "{\"sku\":{\"capacity\":2},\"properties\":{\"virtualMachineProfile\":{"
                "\"storageProfile\":{\"imageReference\":{\"id\":\"/img/versions/2.0.0\"}}}}}",
                tk, NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/pool/virtualMachines" TX_API, NULL, tk,
                NULL, NULL);
    json_t *a = json_object_get(t.body, "value");
    assert_int_equal(json_array_size(a), 2);
    json_t *p0 = json_object_get(json_array_get(a, 0), "properties");
    json_t *p1 = json_object_get(json_array_get(a, 1), "properties");
    assert_true(json_is_false(json_object_get(p0, "latestModelApplied")));
    assert_true(json_is_true(json_object_get(p1, "latestModelApplied")));
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(p0, "storageProfile"), "imageReference"),
            "exactVersion")),
        "1.0.0");
    tx_done(&t);
    t = tx_call(sim, "POST", TX_C "/virtualMachineScaleSets/pool/manualupgrade" TX_API,
                "{\"instanceIds\":[\"0\"]}", tk, NULL, NULL);
    assert_int_equal(t.status, 202);
    tx_done(&t);
    t = tx_call(sim, "GET",
                TX_C "/virtualMachineScaleSets/pool/virtualMachines/0" TX_API
                     "&$expand=instanceView",
                NULL, tk, NULL, NULL);
    json_t *p = json_object_get(t.body, "properties");
    assert_true(json_is_true(json_object_get(p, "latestModelApplied")));
    assert_string_equal(json_string_value(json_object_get(p, "provisioningState")), "Updating");
    assert_non_null(json_object_get(p, "instanceView"));
    tx_done(&t);
    armsim_free(sim);
}

/* VM delete (both headers): dependents with deleteOption Delete go with the VM, Detach ones
 * stay (and are detached); nested extensions go too. */
static void test_vm_delete_options(void **state)
{
    (void)state;
    char tk[2048], loc[1024];
    struct armsim *sim = world(tk, sizeof(tk));
    const char *nic = TX_RG "/providers/Microsoft.Network/networkInterfaces/";
    char p[512];
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof(p), "%snic%d?api-version=2024-05-01", nic, i);
        struct tx_resp t = tx_call(
            sim, "PUT", p,
            "{\"location\":\"westus\",\"properties\":{\"ipConfigurations\":[{\"name\":\"c\","
            "\"properties\":{}}]}}",
            tk, NULL, NULL);
        assert_int_equal(t.status, 201);
        tx_done(&t);
    }
    char vm[2048];
    snprintf(vm, sizeof(vm),
             "{\"location\":\"westus\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"S\"},"
             "\"storageProfile\":{\"osDisk\":{\"createOption\":\"FromImage\",\"deleteOption\":"
             "\"Delete\"}},\"networkProfile\":{\"networkInterfaces\":["
             "{\"id\":\"%snic0\",\"properties\":{\"deleteOption\":\"Delete\"}},"
             "{\"id\":\"%snic1\",\"properties\":{\"deleteOption\":\"Detach\"}}]}}}",
             nic, nic);
    struct tx_resp t = tx_call(sim, "PUT", TX_C "/virtualMachines/vm1" TX_API, vm, tk, NULL, NULL);
    assert_int_equal(t.status, 201);
    const char *disk = json_string_value(json_object_get(
        json_object_get(
            json_object_get(
                json_object_get(json_object_get(t.body, "properties"), "storageProfile"), "osDisk"),
            "managedDisk"),
        "id"));
    char diskp[1024];
    snprintf(diskp, sizeof(diskp), "%s?api-version=2023-04-02", disk);
    tx_done(&t);
    t = tx_call(sim, "PUT", TX_C "/virtualMachines/vm1/extensions/hw" TX_API,
                "{\"location\":\"westus\",\"properties\":{\"publisher\":\"p\"}}", tk, NULL, NULL);
    assert_int_equal(t.status, 201);
    tx_done(&t);
    t = tx_call(sim, "DELETE", TX_C "/virtualMachines/vm1" TX_API, NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 202);
    assert_non_null(tx_hdr(&t, "Azure-AsyncOperation"));
    snprintf(loc, sizeof(loc), "%s", tx_hdr(&t, "Location"));
    tx_done(&t);
    tx_clock_ms += 5000;
    t = tx_call(sim, "GET", tx_path(loc), NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 204);
    tx_done(&t);
    t = tx_call(sim, "GET", TX_C "/virtualMachines/vm1" TX_API, NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 404);
    tx_done(&t);
    snprintf(p, sizeof(p), "%snic0?api-version=2024-05-01", nic);
    t = tx_call(sim, "GET", p, NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 404);
    tx_done(&t);
    snprintf(p, sizeof(p), "%snic1?api-version=2024-05-01", nic);
    t = tx_call(sim, "GET", p, NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 200);
    assert_null(json_object_get(json_object_get(t.body, "properties"), "virtualMachine"));
    tx_done(&t);
    t = tx_call(sim, "GET", tx_path(diskp), NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 404);
    tx_done(&t);
    armsim_free(sim);
}

/* An operation failed through the admin API reports Failed with error.code on the status URL. */
static void test_failed_operation(void **state)
{
    (void)state;
    char tk[2048], body[1024], url[1024];
    struct armsim *sim = world(tk, sizeof(tk));
    snprintf(body, sizeof(body), TX_VMSS_BODY, 1, "1.0.0");
    struct tx_resp t =
        tx_call(sim, "PUT", TX_C "/virtualMachineScaleSets/pool" TX_API, body, tk, NULL, NULL);
    snprintf(url, sizeof(url), "%s", tx_hdr(&t, "Azure-AsyncOperation"));
    tx_done(&t);
    const char *op = strrchr(tx_path(url), '/') + 1;
    char opid[64], admin[256];
    snprintf(opid, sizeof(opid), "%.*s", (int)strcspn(op, "?"), op);
    snprintf(admin, sizeof(admin), "/_armsim/operations/%s/fail", opid);
    t = tx_call(sim, "POST", admin, "{\"code\":\"AllocationFailed\",\"message\":\"no capacity\"}",
                "", NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    tx_clock_ms += 10000;
    t = tx_call(sim, "GET", tx_path(url), NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 200);
    assert_string_equal(json_string_value(json_object_get(t.body, "status")), "Failed");
    assert_string_equal(tx_errcode(&t), "AllocationFailed");
    tx_done(&t);
    armsim_free(sim);
}

/* Resource group delete: 202 + Location; writes inside answer 409 ResourceGroupBeingDeleted;
 * at the end the group and everything in it are gone (final poll 200). */
static void test_rg_delete(void **state)
{
    (void)state;
    char tk[2048], body[1024], loc[1024];
    struct armsim *sim = world(tk, sizeof(tk));
    snprintf(body, sizeof(body), TX_VMSS_BODY, 1, "1.0.0");
    struct tx_resp t =
        tx_call(sim, "PUT", TX_C "/virtualMachineScaleSets/pool" TX_API, body, tk, NULL, NULL);
    tx_done(&t);
    t = tx_call(sim, "DELETE", TX_RG "?api-version=2021-04-01", NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 202);
    snprintf(loc, sizeof(loc), "%s", tx_hdr(&t, "Location"));
    assert_non_null(strstr(loc, TX_SUB "/operationresults/"));
    assert_null(tx_hdr(&t, "Azure-AsyncOperation"));
    tx_done(&t);
    t = tx_call(sim, "GET", tx_path(loc), NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 202);
    tx_done(&t);
    t = tx_call(sim, "PUT", TX_C "/virtualMachineScaleSets/other" TX_API, body, tk, NULL, NULL);
    assert_int_equal(t.status, 409);
    assert_string_equal(tx_errcode(&t), "ResourceGroupBeingDeleted");
    tx_done(&t);
    tx_clock_ms += 5000;
    t = tx_call(sim, "GET", tx_path(loc), NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/pool" TX_API, NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 404);
    assert_string_equal(tx_errcode(&t), "ResourceGroupNotFound");
    tx_done(&t);
    armsim_free(sim);
}

/* Admin failnext: the next instance and the next VM end provisioning Failed with the code; the
 * VM's create LRO fails too, the scale set's instance shows ProvisioningState/failed/<code>. */
static void test_failnext(void **state)
{
    (void)state;
    char tk[2048], body[1024], url[1024];
    struct armsim *sim = world(tk, sizeof(tk));
    struct tx_resp t = tx_call(sim, "POST", "/_armsim/compute/failnext",
                               "{\"count\":2,\"code\":\"ZonalAllocationFailed\"}", "", NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    snprintf(body, sizeof(body), TX_VMSS_BODY, 1, "1.0.0");
    t = tx_call(sim, "PUT", TX_C "/virtualMachineScaleSets/pool" TX_API, body, tk, NULL, NULL);
    assert_int_equal(t.status, 201);
    tx_done(&t);
    t = tx_call(sim, "PUT", TX_C "/virtualMachines/vm1" TX_API,
                "{\"location\":\"westus\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"S\"}}}",
                tk, NULL, NULL);
    assert_int_equal(t.status, 201);
    snprintf(url, sizeof(url), "%s", tx_hdr(&t, "Azure-AsyncOperation"));
    tx_done(&t);
    tx_clock_ms += 10000;
    t = tx_call(sim, "GET", tx_path(url), NULL, tk, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(t.body, "status")), "Failed");
    assert_string_equal(tx_errcode(&t), "ZonalAllocationFailed");
    tx_done(&t);
    t = tx_call(sim, "GET", TX_C "/virtualMachines/vm1" TX_API "&$expand=instanceView", NULL, tk,
                NULL, NULL);
    json_t *p = json_object_get(t.body, "properties");
    assert_string_equal(json_string_value(json_object_get(p, "provisioningState")), "Failed");
    json_t *st = json_array_get(json_object_get(json_object_get(p, "instanceView"), "statuses"), 0);
    assert_string_equal(json_string_value(json_object_get(st, "code")),
                        "ProvisioningState/failed/ZonalAllocationFailed");
    assert_null(json_object_get(t.body, "_as"));
    tx_done(&t);
    t = tx_call(sim, "GET",
                TX_C "/virtualMachineScaleSets/pool/virtualMachines/0" TX_API
                     "&$expand=instanceView",
                NULL, tk, NULL, NULL);
    p = json_object_get(t.body, "properties");
    assert_string_equal(json_string_value(json_object_get(p, "provisioningState")), "Failed");
    tx_done(&t);
    /* only two failures were asked for: the next VM succeeds */
    t = tx_call(sim, "PUT", TX_C "/virtualMachines/vm2" TX_API,
                "{\"location\":\"westus\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"S\"}}}",
                tk, NULL, NULL);
    snprintf(url, sizeof(url), "%s", tx_hdr(&t, "Azure-AsyncOperation"));
    tx_done(&t);
    tx_clock_ms += 10000;
    t = tx_call(sim, "GET", tx_path(url), NULL, tk, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(t.body, "status")), "Succeeded");
    tx_done(&t);
    armsim_free(sim);
}

/* Admin quota: creates past the limit get 409 OperationNotAllowed with the quota text; scaling
 * down and staying within the limit work. */
static void test_quota(void **state)
{
    (void)state;
    char tk[2048], body[1024];
    struct armsim *sim = world(tk, sizeof(tk));
    struct tx_resp t =
        tx_call(sim, "POST", "/_armsim/compute/quota", "{\"instances\":3}", "", NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    snprintf(body, sizeof(body), TX_VMSS_BODY, 4, "1.0.0");
    t = tx_call(sim, "PUT", TX_C "/virtualMachineScaleSets/pool" TX_API, body, tk, NULL, NULL);
    assert_int_equal(t.status, 409);
    assert_string_equal(tx_errcode(&t), "OperationNotAllowed");
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(t.body, "error"), "message")),
               "Current Limit: 3, Current Usage: 0, Additional Required: 4"));
    tx_done(&t);
    snprintf(body, sizeof(body), TX_VMSS_BODY, 3, "1.0.0");
    t = tx_call(sim, "PUT", TX_C "/virtualMachineScaleSets/pool" TX_API, body, tk, NULL, NULL);
    assert_int_equal(t.status, 201);
    tx_done(&t);
    t = tx_call(sim, "PUT", TX_C "/virtualMachines/vm1" TX_API,
                "{\"location\":\"westus\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"S\"}}}",
                tk, NULL, NULL);
    assert_int_equal(t.status, 409);
    tx_done(&t);
    t = tx_call(sim, "PATCH", TX_C "/virtualMachineScaleSets/pool" TX_API,
                "{\"sku\":{\"capacity\":2}}", tk, NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    tx_clock_ms += 10000; /* the removed instance is gone */
    t = tx_call(sim, "PUT", TX_C "/virtualMachines/vm1" TX_API,
                "{\"location\":\"westus\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"S\"}}}",
                tk, NULL, NULL);
    assert_int_equal(t.status, 201);
    tx_done(&t);
    armsim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_operation_put),
        cmocka_unit_test(test_location_style_delete_instances),
        cmocka_unit_test(test_model_generations),
        cmocka_unit_test(test_vm_delete_options),
        cmocka_unit_test(test_failed_operation),
        cmocka_unit_test(test_rg_delete),
        cmocka_unit_test(test_failnext),
        cmocka_unit_test(test_quota),
    };
    return az_run_tests("armsim_lro", tests);
}
