/*
 * armsim_test_areas.c - in-process tests of the armsim area modules sim_gallery,
 * sim_imagebuilder and sim_automation: simulated-time transitions (driven with a fixed clock and
 * as_time_advance), validation answers, and the gallery hooks Image Builder uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../hack/armsim/armsim.h"
#include "../../hack/armsim/simx.h"
#include "../support/test_main.h"

#define SUB "00000000-0000-4000-8000-0000000000aa"
#define RGP "/subscriptions/" SUB "/resourceGroups/rg1"
#define GAL RGP "/providers/Microsoft.Compute/galleries/g1"
#define IMG GAL "/images/def"
#define AA  RGP "/providers/Microsoft.Automation/automationAccounts/aa"
#define TPL RGP "/providers/Microsoft.VirtualMachineImages/imageTemplates/t1"
#define GV  "?api-version=2022-03-03"
#define AV  "?api-version=2022-08-08"
#define IV  "?api-version=2022-02-14"

static int64_t fake_now = 1795000000000LL; /* fixed real clock: only as_time_advance moves time */
static char bearer[2048];

static int64_t fake_clock(void *ud)
{
    (void)ud;
    return fake_now;
}

/* Dispatches one request; returns the status; *ret_body (optional) gets the JSON body. */
static int call(struct armsim *sim, const char *method, const char *target, const char *body,
                json_t **ret_body)
{
    struct as_req r;
    struct as_resp w;
    char buf[4096];
    int st;

    memset(&r, 0, sizeof(r));
    memset(&w, 0, sizeof(w));
    assert_int_equal(as_req_parse_target(&r, target, buf, sizeof(buf)), 0);
    r.method = method;
    r.host = "127.0.0.1:1";
    r.scheme = "https";
    if (body) {
        r.body = body;
        r.body_len = strlen(body);
        r.json = json_loads(body, 0, NULL);
        r.body_bad_json = r.json == NULL;
    }
    if (bearer[0]) {
        r.hdr[r.nhdr].name = "authorization";
        r.hdr[r.nhdr++].value = bearer;
    }
    r.hdr[r.nhdr].name = "content-type";
    r.hdr[r.nhdr++].value =
        body && body[0] == '{' ? "application/json" : "application/x-www-form-urlencoded";
    armsim_dispatch(sim, &r, &w);
    st = w.status;
    if (ret_body)
        *ret_body = w.json ? json_incref(w.json) : NULL;
    json_decref(r.json);
    as_resp_release(&w);
    return st;
}

static const char *prop(json_t *body, const char *key)
{
    return json_string_value(json_object_get(json_object_get(body, "properties"), key));
}

static struct armsim *world(void)
{
    struct as_config cfg = {0};
    struct armsim *sim;
    json_t *tok = NULL;

    cfg.dir = "/nonexistent-armsim-test-dir";
    cfg.seed = 3;
    cfg.time_scale = 1;
    sim = armsim_new(&cfg);
    assert_non_null(sim);
    as_time_set_clock(sim, fake_clock, NULL);
    bearer[0] = '\0';
    assert_int_equal(call(sim, "POST", "/tenant1/oauth2/v2.0/token",
                          "client_id=c1&grant_type=client_credentials&client_secret=s&scope="
                          "https%3A%2F%2Fmanagement.azure.com%2F.default",
                          &tok),
                     200);
    snprintf(bearer, sizeof(bearer), "Bearer %s",
             json_string_value(json_object_get(tok, "access_token")));
    json_decref(tok);
    assert_int_equal(
        call(sim, "PUT", RGP "?api-version=2022-09-01", "{\"location\":\"westus\"}", NULL), 201);
    return sim;
}

static void add_version(struct armsim *sim, const char *name, int want)
{
    char t[512];

    snprintf(t, sizeof(t), IMG "/versions/%s" GV, name);
    assert_int_equal(call(sim, "PUT", t,
                          "{\"location\":\"westus\",\"properties\":{\"storageProfile\":"
                          "{\"source\":{\"id\":\"/x\"}}}}",
                          NULL),
                     want);
}

static void make_gallery(struct armsim *sim)
{
    assert_int_equal(call(sim, "PUT", GAL GV, "{\"location\":\"westus\"}", NULL), 201);
    assert_int_equal(call(sim, "PUT", IMG GV,
                          "{\"location\":\"westus\",\"properties\":{\"osType\":\"Linux\","
                          "\"osState\":\"Generalized\",\"identifier\":{\"publisher\":\"p\","
                          "\"offer\":\"o\",\"sku\":\"s\"}}}",
                          NULL),
                     201);
}

/* A version is Creating until its provisioning time passed; names are validated; the next
 * version for Image Builder is numeric (1.10.x sorts after 1.2.x). */
static void test_gallery_versions(void **state)
{
    struct armsim *sim = world();
    json_t *b = NULL;
    char next[64];

    (void)state;
    assert_int_equal(call(sim, "PUT", IMG "/versions/1.0.0" GV, "{\"location\":\"westus\"}", NULL),
                     404); /* the gallery does not exist yet */
    make_gallery(sim);
    add_version(sim, "1.0.0", 201);
    assert_int_equal(call(sim, "GET", IMG "/versions/1.0.0" GV, NULL, &b), 200);
    assert_string_equal(prop(b, "provisioningState"), "Creating");
    assert_true(json_is_false(
        json_object_get(json_object_get(json_object_get(b, "properties"), "publishingProfile"),
                        "excludeFromLatest")));
    json_decref(b);
    as_time_advance(sim, 61000);
    assert_int_equal(call(sim, "GET", IMG "/versions/1.0.0" GV, NULL, &b), 200);
    assert_string_equal(prop(b, "provisioningState"), "Succeeded");
    json_decref(b);
    add_version(sim, "1.2", 400);
    add_version(sim, "1.2.x", 400);
    add_version(sim, "01.2.99999999999", 400);
    assert_int_equal(call(sim, "PUT", IMG "/versions/2.0.0" GV, "{\"location\":\"westus\"}", NULL),
                     400); /* no storageProfile */
    add_version(sim, "1.2.9", 201);
    add_version(sim, "1.10.0", 201);
    assert_int_equal(sim_gallery_next_version(sim, IMG, next, sizeof(next)), 0);
    assert_string_equal(next, "1.10.1");
    assert_int_equal(sim_gallery_next_version(sim, GAL "/images/other", next, sizeof(next)), 0);
    assert_string_equal(next, "1.0.0");
    /* latest: 1.10.0 and 1.2.9 are still Creating, 1.0.0 is the only Succeeded one */
    assert_int_equal(sim_gallery_latest(sim, IMG, "West US", next, sizeof(next)), 0);
    assert_string_equal(next, "1.0.0");
    as_time_advance(sim, 61000);
    as_sched_run(sim); /* what every request does first */
    assert_int_equal(sim_gallery_latest(sim, IMG, "westus", next, sizeof(next)), 0);
    assert_string_equal(next, "1.10.0");
    assert_int_equal(call(sim, "PATCH", IMG "/versions/1.10.0" GV,
                          "{\"properties\":{\"publishingProfile\":{\"excludeFromLatest\":true}}}",
                          NULL),
                     200);
    assert_int_equal(sim_gallery_latest(sim, IMG, NULL, next, sizeof(next)), 0);
    assert_string_equal(next, "1.2.9");
    assert_int_equal(sim_gallery_latest(sim, IMG, "eastus", next, sizeof(next)), -1);
    assert_int_equal(call(sim, "DELETE", IMG GV, NULL, NULL), 409); /* versions remain */
    assert_int_equal(call(sim, "DELETE", IMG "/versions/1.2.9" GV, NULL, NULL), 202);
    as_time_advance(sim, 11000);
    assert_int_equal(call(sim, "GET", IMG "/versions/1.2.9" GV, NULL, NULL), 404);
    assert_int_equal(call(sim, "DELETE", IMG "/versions/1.2.9" GV, NULL, NULL), 204);
    armsim_free(sim);
}

static void job_status(struct armsim *sim, const char *name, const char *want)
{
    char t[512];
    json_t *b = NULL;

    snprintf(t, sizeof(t), AA "/jobs/%s" AV, name);
    assert_int_equal(call(sim, "GET", t, NULL, &b), 200);
    assert_string_equal(prop(b, "status"), want);
    json_decref(b);
}

/* New for 15 simulated seconds, Running for 60, then Completed, or the admin outcome. */
static void test_automation_jobs(void **state)
{
    struct armsim *sim = world();
    json_t *b = NULL;

    (void)state;
    /* Automation accounts take at most 15 tags. */
    assert_int_equal(call(sim, "PUT", AA AV,
                          "{\"location\":\"westus\",\"tags\":{\"a\":\"1\",\"b\":\"2\",\"c\":"
                          "\"3\",\"d\":\"4\",\"e\":\"5\",\"f\":\"6\",\"g\":\"7\",\"h\":\"8\","
                          "\"i\":\"9\",\"j\":\"10\",\"k\":\"11\",\"l\":\"12\",\"m\":\"13\","
                          "\"n\":\"14\",\"o\":\"15\",\"p\":\"16\"}}",
                          NULL),
                     400);
    assert_int_equal(
        call(sim, "PUT", AA AV, "{\"location\":\"westus\",\"tags\":{\"a/b\":\"1\"}}", NULL), 400);
    assert_int_equal(call(sim, "PUT", AA AV, "{\"location\":\"westus\"}", &b), 201);
    assert_non_null(strstr(prop(b, "automationHybridServiceUrl"), ".jrds.westus."));
    json_decref(b);
    assert_int_equal(call(sim, "PUT", AA "/hybridRunbookWorkerGroups/g" AV, "{}", NULL), 201);
    assert_int_equal(call(sim, "PUT", AA "/runbooks/rb" AV,
                          "{\"properties\":{\"runbookType\":\"PowerShell\"}}", NULL),
                     201);
    assert_int_equal(call(sim, "PUT", AA "/jobs/j1" AV,
                          "{\"properties\":{\"runbook\":{\"name\":\"rb\"},\"runOn\":\"g\"}}", &b),
                     201);
    assert_string_equal(prop(b, "status"), "New");
    assert_true(json_is_null(json_object_get(json_object_get(b, "properties"), "startTime")));
    json_decref(b);
    assert_int_equal(call(sim, "PUT", AA "/jobs/j1" AV,
                          "{\"properties\":{\"runbook\":{\"name\":\"rb\"}}}", NULL),
                     409);
    assert_int_equal(call(sim, "PUT", AA "/jobs/j8" AV,
                          "{\"properties\":{\"runbook\":{\"name\":\"rb\"},\"parameters\":"
                          "{\"n\":3}}}",
                          NULL),
                     400); /* parameters are string:string */
    assert_int_equal(call(sim, "PUT", AA "/jobs/j9" AV,
                          "{\"properties\":{\"runbook\":{\"name\":\"rb\"},\"runOn\":\"nope\"}}",
                          NULL),
                     404);
    as_time_advance(sim, 14000);
    job_status(sim, "j1", "New");
    as_time_advance(sim, 2000);
    job_status(sim, "j1", "New"); /* queued: group g has no worker */
    assert_int_equal(call(sim, "PUT",
                          AA "/hybridRunbookWorkerGroups/g/hybridRunbookWorkers/"
                             "2c4c6f0e-4f1e-4b8e-9d7e-0a1b2c3d4e5f" AV,
                          "{\"properties\":{\"vmResourceId\":\"" RGP
                          "/providers/Microsoft.Compute/virtualMachines/vm1\"}}",
                          NULL),
                     201);
    as_time_advance(sim, 15000);
    job_status(sim, "j1", "Running");
    as_time_advance(sim, 59000);
    job_status(sim, "j1", "Running");
    as_time_advance(sim, 2000);
    job_status(sim, "j1", "Completed");

    assert_int_equal(call(sim, "POST", "/_armsim/automation/outcome",
                          "{\"runbook\":\"rb\",\"status\":\"Failed\",\"exception\":\"boom\","
                          "\"durationSeconds\":5}",
                          NULL),
                     200);
    assert_int_equal(call(sim, "PUT", AA "/jobs/j2" AV,
                          "{\"properties\":{\"runbook\":{\"name\":\"rb\"}}}", NULL),
                     201);
    as_time_advance(sim, 16000);
    job_status(sim, "j2", "Running");
    as_time_advance(sim, 5000);
    assert_int_equal(call(sim, "GET", AA "/jobs/j2" AV, NULL, &b), 200);
    assert_string_equal(prop(b, "status"), "Failed");
    assert_string_equal(prop(b, "exception"), "boom");
    json_decref(b);
    /* List items are JobCollectionItem: jobId and status, but no parameters or exception. */
    assert_int_equal(call(sim, "GET", AA "/jobs" AV, NULL, &b), 200);
    assert_int_equal(json_array_size(json_object_get(b, "value")), 2);
    assert_non_null(prop(json_array_get(json_object_get(b, "value"), 1), "jobId"));
    assert_null(json_object_get(
        json_object_get(json_array_get(json_object_get(b, "value"), 1), "properties"),
        "parameters"));
    assert_null(prop(json_array_get(json_object_get(b, "value"), 1), "exception"));
    json_decref(b);
    assert_int_equal(
        call(sim, "POST", "/_armsim/automation/outcome", "{\"status\":\"Bogus\"}", NULL), 400);
    armsim_free(sim);
}

/* Group delete answers 200 (the SDK rejects 204) and refuses groups with workers. */
static void test_automation_workers(void **state)
{
    struct armsim *sim = world();
    json_t *b = NULL;
    const char *w = AA "/hybridRunbookWorkerGroups/g/hybridRunbookWorkers/"
                       "2c4c6f0e-4f1e-4b8e-9d7e-0a1b2c3d4e5f" AV;

    (void)state;
    assert_int_equal(call(sim, "PUT", AA "/hybridRunbookWorkerGroups/g" AV, "{}", NULL), 404);
    assert_int_equal(call(sim, "PUT", AA AV, "{\"location\":\"westus\"}", NULL), 201);
    assert_int_equal(call(sim, "PUT", AA "/hybridRunbookWorkerGroups/g" AV, "{}", NULL), 201);
    assert_int_equal(call(sim, "PUT", AA "/hybridRunbookWorkerGroups/g" AV, "{}", NULL), 200);
    assert_int_equal(call(sim, "PUT", w, "{\"properties\":{}}", NULL), 400);
    assert_int_equal(call(sim, "PUT", w,
                          "{\"properties\":{\"vmResourceId\":\"" RGP
                          "/providers/Microsoft.Compute/virtualMachines/vm7\"}}",
                          &b),
                     201);
    assert_string_equal(prop(b, "workerName"), "vm7");
    assert_string_equal(prop(b, "workerType"), "HybridV2");
    json_decref(b);
    assert_int_equal(call(sim, "DELETE", AA "/hybridRunbookWorkerGroups/g" AV, NULL, NULL), 400);
    assert_int_equal(call(sim, "DELETE", w, NULL, NULL), 200);
    assert_int_equal(call(sim, "DELETE", w, NULL, NULL), 204);
    assert_int_equal(call(sim, "DELETE", AA "/hybridRunbookWorkerGroups/g" AV, NULL, NULL), 200);
    assert_int_equal(call(sim, "GET", AA "/hybridRunbookWorkerGroups/g" AV, NULL, NULL), 404);
    armsim_free(sim);
}

/* A snapshot carries jobs, their scheduled transitions and the module state (outcomes). */
static void test_snapshot_keeps_automation(void **state)
{
    struct armsim *sim = world();
    json_t *snap, *b = NULL;
    char nowbuf[64];

    (void)state;
    assert_int_equal(call(sim, "PUT", AA AV, "{\"location\":\"westus\"}", NULL), 201);
    assert_int_equal(call(sim, "PUT", AA "/runbooks/rb" AV,
                          "{\"properties\":{\"runbookType\":\"Python3\"}}", NULL),
                     201);
    assert_int_equal(call(sim, "POST", "/_armsim/automation/outcome",
                          "{\"status\":\"Failed\",\"exception\":\"from snapshot\"}", NULL),
                     200);
    assert_int_equal(call(sim, "PUT", AA "/jobs/js" AV,
                          "{\"properties\":{\"runbook\":{\"name\":\"rb\"}}}", NULL),
                     201);
    snap = armsim_snapshot(sim);
    assert_non_null(snap);
    armsim_reset(sim);
    assert_int_equal(call(sim, "GET", AA "/jobs/js" AV, NULL, NULL), 404);
    assert_int_equal(armsim_restore(sim, snap), 0);
    json_decref(snap);
    job_status(sim, "js", "New");
    as_time_advance(sim, 80000);
    assert_int_equal(call(sim, "GET", AA "/jobs/js" AV, NULL, &b), 200);
    assert_string_equal(prop(b, "status"), "Failed");
    assert_string_equal(prop(b, "exception"), "from snapshot");
    /* It ended at its due time (start + 15 s + 60 s), not at the moment time jumped to. */
    as_time_format(as_now(sim), nowbuf, sizeof(nowbuf));
    assert_string_not_equal(prop(b, "endTime"), nowbuf);
    json_decref(b);
    armsim_free(sim);
}

static const char *run_state(struct armsim *sim, const char **ret_end)
{
    static char st[32], end[64];
    json_t *b = NULL, *lr;

    assert_int_equal(call(sim, "GET", TPL IV, NULL, &b), 200);
    lr = json_object_get(json_object_get(b, "properties"), "lastRunStatus");
    snprintf(st, sizeof(st), "%s", json_string_value(json_object_get(lr, "runState")));
    snprintf(end, sizeof(end), "%s", json_string_value(json_object_get(lr, "endTime")));
    json_decref(b);
    *ret_end = end;
    return st;
}

/* A run shows endTime 0001-01-01 while running; the distribution adds the next gallery
 * version and a runOutput pointing at it. */
static void test_imagebuilder_run(void **state)
{
    struct armsim *sim = world();
    const char *end;
    json_t *b = NULL;
    char nowbuf[64];
    const char *tpl = "{\"location\":\"westus\",\"identity\":{\"type\":\"UserAssigned\","
                      "\"userAssignedIdentities\":{\"/x/id1\":{}}},\"properties\":{\"source\":"
                      "{\"type\":\"PlatformImage\"},\"distribute\":[{\"type\":\"SharedImage\","
                      "\"runOutputName\":\"out1\",\"galleryImageId\":\"" IMG
                      "\",\"replicationRegions\":[\"westus\"]}]}}";

    (void)state;
    make_gallery(sim);
    add_version(sim, "1.0.0", 201);
    assert_int_equal(call(sim, "PUT", TPL IV, "{\"location\":\"westus\"}", NULL), 400);
    assert_int_equal(call(sim, "PUT", TPL IV, tpl, NULL), 201);
    assert_int_equal(call(sim, "POST", TPL "/run" IV, NULL, NULL), 409); /* still Creating */
    as_time_advance(sim, 21000);
    assert_int_equal(call(sim, "PUT", TPL IV, tpl, NULL), 200); /* identical: accepted */
    assert_int_equal(call(sim, "POST", TPL "/run" IV, NULL, NULL), 202);
    assert_string_equal(run_state(sim, &end), "Running");
    assert_string_equal(end, "0001-01-01T00:00:00Z");
    assert_int_equal(call(sim, "POST", TPL "/run" IV, NULL, NULL), 409);
    assert_int_equal(call(sim, "GET", TPL "/runOutputs/out1" IV, NULL, NULL), 404);
    as_time_advance(sim, 601000);
    assert_string_equal(run_state(sim, &end), "Succeeded");
    assert_string_not_equal(end, "0001-01-01T00:00:00Z");
    as_time_format(as_now(sim) - 1000, nowbuf, sizeof(nowbuf));
    assert_string_equal(end, nowbuf); /* the build ended when due, 1 s before this read */
    assert_int_equal(call(sim, "GET", TPL "/runOutputs/out1" IV, NULL, &b), 200);
    assert_string_equal(prop(b, "artifactId"), IMG "/versions/1.0.1");
    json_decref(b);
    assert_int_equal(call(sim, "GET", IMG "/versions/1.0.1" GV, NULL, &b), 200);
    assert_string_equal(prop(b, "provisioningState"), "Succeeded");
    json_decref(b);
    armsim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gallery_versions),          cmocka_unit_test(test_automation_jobs),
        cmocka_unit_test(test_automation_workers),        cmocka_unit_test(test_imagebuilder_run),
        cmocka_unit_test(test_snapshot_keeps_automation),
    };

    return az_run_tests("armsim_areas", tests);
}
