/*
 * test_decode.c - decoding and validation of the API model (rc_node, rc_decode,
 * rc_defaults, rc_model). The invalid manifests are data in tests/cases/invalid;
 * here: every field decoded, defaults, Kubernetes JSON, multi-document files,
 * input limits and exact positions.
 */
#include "test_main.h"

#include <stdlib.h>
#include <string.h>

#include "rc_model.h"
#include "rc_node.h"

#define SUB    "11111111-2222-3333-4444-555555555555"
#define RG_ID  "/subscriptions/" SUB "/resourceGroups/rg"
#define SUBNET RG_ID "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/workers"
#define AA     RG_ID "/providers/Microsoft.Automation/automationAccounts/aa-ops"

static const char full_pool[] =
    "apiVersion: azpool.dev/v1alpha1\n"
    "kind: WorkerPool\n"
    "metadata:\n"
    "  name: hybrid-linux\n"
    "  namespace: automation\n"
    "  labels: {team: ops}\n"
    "  annotations: {note: hello}\n"
    "spec:\n"
    "  subscriptionId: " SUB "\n"
    "  resourceGroup: rg-workers\n"
    "  location: westeurope\n"
    "  mode: VirtualMachines\n"
    "  vmSize: Standard_D2s_v5\n"
    "  replicas: 3\n"
    "  imageRef: {name: ubuntu-golden}\n"
    "  expiryPolicyRef: {name: weekly}\n"
    "  network: {subnetId: " SUBNET "}\n"
    "  identity: {type: SystemAssigned}\n"
    "  osProfile:\n"
    "    osType: Linux\n"
    "    adminUsername: worker\n"
    "    sshPublicKeys: [\"ssh-ed25519 AAAAC3Nza a@b\", \"ssh-rsa AAAAB3 c@d\"]\n"
    "    customDataSecretRef: {name: cloud-init, key: user-data}\n"
    "  patchMode: AutomaticByPlatform\n"
    "  extensions:\n"
    "    - name: ado-agent\n"
    "      publisher: Microsoft.VisualStudio.Services\n"
    "      type: TeamServicesAgentLinux\n"
    "      typeHandlerVersion: \"1.0\"\n"
    "      autoUpgradeMinorVersion: false\n"
    "      settings: {pool: linux, count: 3}\n"
    "      protectedSettingsSecretRef: {name: ado, key: pat}\n"
    "  registration:\n"
    "    hybridRunbookWorker: {automationAccountId: " AA ", group: linux-workers}\n"
    "  hooks:\n"
    "    afterCreate:\n"
    "      runbook: {automationAccountId: " AA ", name: Validate-Worker,\n"
    "                parameters: {level: full}, timeoutSeconds: 600, retries: 2}\n"
    "  autoscale:\n"
    "    minReplicas: 1\n"
    "    maxReplicas: 20\n"
    "    metric:\n"
    "      azureQueue: {accountUrl: https://acct.queue.core.windows.net, queue: jobs,\n"
    "                   credentialsSecretRef: {name: q, key: connectionString}}\n"
    "      pollSeconds: 30\n"
    "    policy: Proportional\n"
    "    proportional: {jobsPerReplica: 2, freeTargetPercentage: 25}\n"
    "  busy:\n"
    "    http: {url: https://ci.example/api/busy, jsonPointer: /busy,\n"
    "           headersSecretRef: {name: ci, key: headers}}\n"
    "  recycleAfterJob: Reimage\n"
    "  rollout:\n"
    "    maxSurge: 25%\n"
    "    maxUnavailable: 1\n"
    "    canary: {replicas: 2, soakSeconds: 300}\n"
    "  drain: {timeoutSeconds: 900}\n"
    "  deletionPolicy: Orphan\n"
    "  paused: true\n"
    "  tags: {costCenter: ops, env: prod}\n"
    "status:\n"
    "  replicas: 3\n";

static const char full_image[] =
    "apiVersion: azpool.dev/v1alpha1\n"
    "kind: ImageVersion\n"
    "metadata: {name: ubuntu-golden, namespace: automation}\n"
    "spec:\n"
    "  gallery: {subscriptionId: " SUB ", resourceGroup: rg-img, name: g1,\n"
    "            imageDefinition: ubuntu-22}\n"
    "  version: \"1.5.0\"\n"
    "  build:\n"
    "    imageTemplateId: " RG_ID
    "/providers/Microsoft.VirtualMachineImages/imageTemplates/golden\n"
    "    runWhen: Never\n"
    "    revision: 7\n";

static const char full_policy[] =
    "apiVersion: azpool.dev/v1alpha1\n"
    "kind: ExpiryPolicy\n"
    "metadata: {name: weekly, namespace: automation}\n"
    "spec:\n"
    "  maxAge: 168h\n"
    "  jitter: 10%\n"
    "  forceAfter: 192h\n"
    "  maintenanceWindows:\n"
    "    - {schedule: \"0 2 * * 1-5\", duration: 4h, timeZone: Europe/Berlin}\n"
    "    - {schedule: \"30 1 * * 0\", duration: 90m}\n"
    "  disruptionBudget: {maxUnavailable: 10%}\n"
    "  replaceBefore: 30m\n";

static const char min_pool[] = "apiVersion: azpool.dev/v1alpha1\n"
                               "kind: WorkerPool\n"
                               "metadata: {name: p1}\n"
                               "spec:\n"
                               "  subscriptionId: " SUB "\n"
                               "  resourceGroup: rg\n"
                               "  location: westeurope\n"
                               "  vmSize: Standard_D2s_v5\n"
                               "  image: {publisher: Canonical, offer: ubuntu, sku: 22_04-lts}\n"
                               "  network: {subnetId: " SUBNET "}\n";

static int decode(struct rc_desired *want, const char *yaml, struct rc_errs *errs,
                  struct rc_errs *notices)
{
    return rc_decode_yaml(want, "t.yaml", yaml, strlen(yaml), errs, notices);
}

static const char *fmt(const struct rc_errs *errs, size_t i)
{
    static char buf[1024];

    assert_true(i < errs->n);
    rc_err_format(&errs->v[i], buf, sizeof(buf));
    return buf;
}

/* Every WorkerPool field of DESIGN.md §2 lands in the model. */
static void test_pool_all_fields(void **state)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0};
    const struct rc_pool *p;
    const struct rc_pool_spec *s;

    (void)state;
    assert_int_equal(decode(&want, full_pool, &errs, NULL), 0);
    assert_int_equal(errs.n, 0);
    assert_int_equal(want.n_pools, 1);
    p = rc_desired_pool(&want, "automation", "hybrid-linux");
    assert_non_null(p);
    s = &p->spec;
    assert_string_equal(p->meta.uid, "file:automation/hybrid-linux");
    assert_string_equal(p->meta.origin.file, "t.yaml");
    assert_int_equal(p->meta.origin.line, 1);
    assert_int_equal(p->meta.origin.name_line, 4);
    assert_int_equal(p->meta.origin.name_col, 9);
    assert_int_equal(p->meta.n_labels, 1);
    assert_string_equal(p->meta.labels[0].key, "team");
    assert_string_equal(p->meta.labels[0].value, "ops");
    assert_string_equal(p->meta.annotations[0].value, "hello");
    assert_string_equal(s->subscription_id, SUB);
    assert_string_equal(s->resource_group, "rg-workers");
    assert_string_equal(s->location, "westeurope");
    assert_int_equal(s->mode, RC_MODE_VIRTUALMACHINES);
    assert_string_equal(s->vm_size, "Standard_D2s_v5");
    assert_int_equal(s->replicas, 3);
    assert_true(s->has_replicas);
    assert_string_equal(s->image_ref.name, "ubuntu-golden");
    assert_int_equal(s->image_ref.line, 15);
    assert_int_equal(s->image_ref.col, 20);
    assert_null(s->image.id);
    assert_null(s->image.publisher);
    assert_string_equal(s->expiry_policy_ref.name, "weekly");
    assert_string_equal(s->subnet_id, SUBNET);
    assert_int_equal(s->identity.type, RC_IDENTITY_SYSTEM);
    assert_int_equal(s->os_profile.os_type, RC_OS_LINUX);
    assert_string_equal(s->os_profile.admin_username, "worker");
    assert_int_equal(s->os_profile.n_ssh_public_keys, 2);
    assert_string_equal(s->os_profile.ssh_public_keys[1], "ssh-rsa AAAAB3 c@d");
    assert_string_equal(s->os_profile.custom_data.name, "cloud-init");
    assert_string_equal(s->os_profile.custom_data.key, "user-data");
    assert_string_equal(s->patch_mode, "AutomaticByPlatform");
    assert_int_equal(s->n_extensions, 1);
    assert_string_equal(s->extensions[0].name, "ado-agent");
    assert_string_equal(s->extensions[0].publisher, "Microsoft.VisualStudio.Services");
    assert_string_equal(s->extensions[0].type, "TeamServicesAgentLinux");
    assert_string_equal(s->extensions[0].type_handler_version, "1.0");
    assert_false(s->extensions[0].auto_upgrade_minor_version);
    assert_int_equal(json_integer_value(json_object_get(s->extensions[0].settings, "count")), 3);
    assert_string_equal(json_string_value(json_object_get(s->extensions[0].settings, "pool")),
                        "linux");
    assert_string_equal(s->extensions[0].protected_settings.key, "pat");
    assert_string_equal(s->hybrid_worker.automation_account_id, AA);
    assert_string_equal(s->hybrid_worker.group, "linux-workers");
    assert_string_equal(s->after_create.automation_account_id, AA);
    assert_string_equal(s->after_create.name, "Validate-Worker");
    assert_string_equal(json_string_value(json_object_get(s->after_create.parameters, "level")),
                        "full");
    assert_int_equal(s->after_create.timeout_seconds, 600);
    assert_int_equal(s->after_create.retries, 2);
    assert_true(s->autoscale.enabled);
    assert_int_equal(s->autoscale.min_replicas, 1);
    assert_int_equal(s->autoscale.max_replicas, 20);
    assert_int_equal(s->autoscale.metric.kind, RC_SIGNAL_QUEUE);
    assert_string_equal(s->autoscale.metric.queue.account_url,
                        "https://acct.queue.core.windows.net");
    assert_string_equal(s->autoscale.metric.queue.queue, "jobs");
    assert_string_equal(s->autoscale.metric.queue.credentials.key, "connectionString");
    assert_int_equal(s->autoscale.metric.poll_seconds, 30);
    assert_int_equal(s->autoscale.policy, RC_POLICY_PROPORTIONAL);
    assert_int_equal(s->autoscale.proportional.jobs_per_replica, 2);
    assert_int_equal(s->autoscale.proportional.free_target_percentage, 25);
    assert_int_equal(s->busy.kind, RC_SIGNAL_HTTP);
    assert_string_equal(s->busy.http.url, "https://ci.example/api/busy");
    assert_string_equal(s->busy.http.json_pointer, "/busy");
    assert_string_equal(s->busy.http.headers.name, "ci");
    assert_int_equal(s->recycle_after_job, RC_RECYCLE_REIMAGE);
    assert_true(s->rollout.max_surge.set);
    assert_true(s->rollout.max_surge.is_percent);
    assert_int_equal(s->rollout.max_surge.value, 25);
    assert_false(s->rollout.max_unavailable.is_percent);
    assert_int_equal(s->rollout.max_unavailable.value, 1);
    assert_true(s->rollout.canary);
    assert_int_equal(s->rollout.canary_replicas, 2);
    assert_int_equal(s->rollout.canary_soak_ms, 300000);
    assert_int_equal(s->drain_timeout_ms, 900000);
    assert_int_equal(s->deletion_policy, RC_DELETE_ORPHAN);
    assert_true(s->paused);
    assert_int_equal(s->n_tags, 2);
    assert_string_equal(s->tags[1].key, "env");
    assert_string_equal(s->tags[1].value, "prod");
    rc_desired_release(&want);
    assert_int_equal(want.n_pools, 0);
    rc_errs_release(&errs);
}

static void test_image_and_policy_all_fields(void **state)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0};
    const struct rc_image_version *iv;
    const struct rc_expiry_policy *ep;

    (void)state;
    assert_int_equal(decode(&want, full_image, &errs, NULL), 0);
    assert_int_equal(decode(&want, full_policy, &errs, NULL), 0);
    assert_int_equal(errs.n, 0);
    iv = rc_desired_image(&want, "automation", "ubuntu-golden");
    assert_non_null(iv);
    assert_string_equal(iv->spec.gallery_subscription_id, SUB);
    assert_string_equal(iv->spec.gallery_resource_group, "rg-img");
    assert_string_equal(iv->spec.gallery_name, "g1");
    assert_string_equal(iv->spec.image_definition, "ubuntu-22");
    assert_string_equal(iv->spec.version, "1.5.0");
    assert_string_equal(iv->spec.build_template_id,
                        RG_ID "/providers/Microsoft.VirtualMachineImages/imageTemplates/golden");
    assert_int_equal(iv->spec.run_when, RC_RUN_NEVER);
    assert_int_equal(iv->spec.revision, 7);
    ep = rc_desired_policy(&want, "automation", "weekly");
    assert_non_null(ep);
    assert_int_equal(ep->spec.max_age_ms, 168LL * 3600 * 1000);
    assert_true(ep->spec.jitter.is_percent);
    assert_int_equal(ep->spec.jitter.value, 10);
    assert_int_equal(ep->spec.force_after_ms, 192LL * 3600 * 1000);
    assert_int_equal(ep->spec.n_windows, 2);
    assert_string_equal(ep->spec.windows[0].schedule, "0 2 * * 1-5");
    assert_true(ep->spec.windows[0].cron.hours & (1u << 2));
    assert_false(ep->spec.windows[0].cron.wdays & 1u);
    assert_int_equal(ep->spec.windows[0].duration_ms, 4 * 3600 * 1000);
    assert_string_equal(ep->spec.windows[0].time_zone, "Europe/Berlin");
    assert_null(ep->spec.windows[1].time_zone);
    assert_int_equal(ep->spec.windows[1].duration_ms, 90 * 60 * 1000);
    assert_true(ep->spec.disruption_max_unavailable.is_percent);
    assert_int_equal(ep->spec.disruption_max_unavailable.value, 10);
    assert_int_equal(ep->spec.replace_before_ms, 30 * 60 * 1000);
    assert_null(rc_desired_policy(&want, "default", "weekly"));
    assert_int_equal(rc_validate_refs(&want, &errs), 0);
    rc_desired_release(&want);
    rc_errs_release(&errs);
}

/* Absent fields get the documented defaults (rc_defaults.c). */
static void test_defaults(void **state)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0};
    const struct rc_pool_spec *s;
    const char *iv = "apiVersion: azpool.dev/v1alpha1\nkind: ImageVersion\nmetadata: {name: i}\n"
                     "spec: {gallery: {subscriptionId: " SUB
                     ", resourceGroup: r, name: g, imageDefinition: d}}\n";
    const char *ep = "apiVersion: azpool.dev/v1alpha1\nkind: ExpiryPolicy\nmetadata: {name: e}\n"
                     "spec: {maxAge: 24h}\n";

    (void)state;
    assert_int_equal(decode(&want, min_pool, &errs, NULL), 0);
    assert_int_equal(decode(&want, iv, &errs, NULL), 0);
    assert_int_equal(decode(&want, ep, &errs, NULL), 0);
    assert_int_equal(errs.n, 0);
    assert_string_equal(want.pools[0].meta.namespace, "default");
    assert_string_equal(want.pools[0].meta.uid, "file:default/p1");
    assert_int_equal(want.pools[0].meta.generation, 0);
    s = &want.pools[0].spec;
    assert_int_equal(s->mode, RC_MODE_SCALESET);
    assert_int_equal(s->orchestration, RC_ORCH_UNIFORM);
    assert_int_equal(s->replicas, 1);
    assert_false(s->has_replicas);
    assert_string_equal(s->image.publisher, "Canonical");
    assert_string_equal(s->image.version, "latest");
    assert_null(s->expiry_policy_ref.name);
    assert_int_equal(s->identity.type, RC_IDENTITY_NONE);
    assert_int_equal(s->os_profile.os_type, RC_OS_LINUX);
    assert_string_equal(s->os_profile.admin_username, "azpool");
    assert_null(s->patch_mode);
    assert_null(s->hybrid_worker.automation_account_id);
    assert_null(s->after_create.automation_account_id);
    assert_int_equal(s->after_create.timeout_seconds, 900);
    assert_int_equal(s->after_create.retries, 3);
    assert_false(s->autoscale.enabled);
    assert_int_equal(s->autoscale.policy, RC_POLICY_STEP);
    assert_int_equal(s->autoscale.step.scale_out_threshold, 3);
    assert_int_equal(s->autoscale.step.scale_in_threshold, 1);
    assert_int_equal(s->autoscale.step.scale_out_step, 1);
    assert_int_equal(s->autoscale.step.scale_in_step, 1);
    assert_int_equal(s->autoscale.step.scale_out_cooldown_seconds, 240);
    assert_int_equal(s->autoscale.step.scale_in_cooldown_seconds, 300);
    assert_int_equal(s->autoscale.proportional.jobs_per_replica, 1);
    assert_int_equal(s->autoscale.proportional.free_target_percentage, 20);
    assert_int_equal(s->autoscale.metric.poll_seconds, 15);
    assert_int_equal(s->busy.kind, RC_SIGNAL_NONE);
    assert_int_equal(s->recycle_after_job, RC_RECYCLE_NONE);
    assert_true(s->rollout.max_surge.set);
    assert_false(s->rollout.max_surge.is_percent);
    assert_int_equal(s->rollout.max_surge.value, 1);
    assert_int_equal(s->rollout.max_unavailable.value, 0);
    assert_false(s->rollout.canary);
    assert_int_equal(s->rollout.canary_replicas, 1);
    assert_int_equal(s->rollout.canary_soak_ms, 600000);
    assert_int_equal(s->drain_timeout_ms, 1800000);
    assert_int_equal(s->deletion_policy, RC_DELETE_DELETE);
    assert_false(s->paused);
    assert_int_equal(s->n_tags, 0);
    assert_string_equal(want.images[0].spec.version, "latest");
    assert_int_equal(want.images[0].spec.run_when, RC_RUN_ONCHANGE);
    assert_null(want.images[0].spec.build_template_id);
    assert_true(want.policies[0].spec.jitter.set);
    assert_int_equal(want.policies[0].spec.jitter.value, 0);
    assert_int_equal(want.policies[0].spec.force_after_ms, 0);
    assert_int_equal(want.policies[0].spec.n_windows, 0);
    assert_false(want.policies[0].spec.disruption_max_unavailable.is_percent);
    assert_int_equal(want.policies[0].spec.disruption_max_unavailable.value, 1);
    assert_int_equal(want.policies[0].spec.replace_before_ms, 0);
    rc_desired_release(&want);
    rc_errs_release(&errs);
}

/* An object exactly as the Kubernetes API returns it decodes too. */
static void test_json_kube_object(void **state)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0};
    json_error_t jerr;
    json_t *obj;
    const struct rc_pool *p;
    const char *text =
        "{\"apiVersion\":\"azpool.dev/v1alpha1\",\"kind\":\"WorkerPool\","
        "\"metadata\":{\"name\":\"runners\",\"namespace\":\"ci\","
        "\"uid\":\"6a1e6c1e-9d7c-4f00-8d5f-0e1c7a4b2b11\",\"resourceVersion\":\"4711\","
        "\"generation\":4,\"creationTimestamp\":\"2026-11-23T10:00:00Z\","
        "\"deletionTimestamp\":\"2026-11-23T11:00:00Z\",\"deletionGracePeriodSeconds\":0,"
        "\"finalizers\":[\"azpool.dev/cleanup\"],"
        "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\"},"
        "\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Apply\","
        "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{}}}]},"
        "\"spec\":{\"subscriptionId\":\"" SUB "\",\"resourceGroup\":\"rg\","
        "\"location\":\"westeurope\",\"vmSize\":\"Standard_D2s_v5\",\"replicas\":5,"
        "\"image\":{\"id\":\"" RG_ID
        "/providers/Microsoft.Compute/galleries/g/images/d/versions/1.2.3\"},"
        "\"network\":{\"subnetId\":\"" SUBNET "\"},\"rollout\":{\"maxSurge\":\"50%\"},"
        "\"paused\":null},"
        "\"status\":{\"observedGeneration\":3,\"replicas\":2,\"conditions\":[]}}";

    (void)state;
    obj = json_loads(text, 0, &jerr);
    assert_non_null(obj);
    assert_int_equal(rc_decode_json(&want, "kube:ci/runners", obj, &errs, NULL), 0);
    assert_int_equal(errs.n, 0);
    p = rc_desired_pool(&want, "ci", "runners");
    assert_non_null(p);
    assert_string_equal(p->meta.uid, "6a1e6c1e-9d7c-4f00-8d5f-0e1c7a4b2b11");
    assert_string_equal(p->meta.resource_version, "4711");
    assert_int_equal(p->meta.generation, 4);
    assert_true(p->meta.deleting);
    assert_int_equal(p->meta.n_finalizers, 1);
    assert_string_equal(p->meta.finalizers[0], "azpool.dev/cleanup");
    assert_int_equal(p->meta.origin.line, 0);
    assert_int_equal(p->spec.replicas, 5);
    assert_string_equal(p->spec.image.id,
                        RG_ID "/providers/Microsoft.Compute/galleries/g/images/d/versions/1.2.3");
    assert_int_equal(p->spec.rollout.max_surge.value, 50);
    assert_false(p->spec.paused);
    json_decref(obj);

    /* errors from JSON carry no position */
    obj =
        json_pack("{s:s, s:s, s:{s:s}, s:{s:i, s:s}}", "apiVersion", "azpool.dev/v1alpha1", "kind",
                  "ExpiryPolicy", "metadata", "name", "e", "spec", "maxAge", 3, "colour", "x");
    assert_non_null(obj);
    assert_int_equal(rc_decode_json(&want, "kube:default/e", obj, &errs, NULL), -RC_EINVAL);
    rc_errs_sort(&errs);
    assert_int_equal(errs.n, 2);
    assert_string_equal(fmt(&errs, 0), "kube:default/e: spec.colour: unknown field");
    assert_string_equal(fmt(&errs, 1),
                        "kube:default/e: spec.maxAge: must be a duration such as \"90s\" or "
                        "\"1h30m\"");
    assert_int_equal(want.n_policies, 0);
    json_decref(obj);
    rc_desired_release(&want);
    rc_errs_release(&errs);
}

/* Several documents: valid ones are added, others skipped or reported. */
static void test_multi_document(void **state)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0}, notices = {0};
    char *buf;
    size_t n;

    (void)state;
    n = strlen(full_pool) + strlen(full_image) + strlen(full_policy) + strlen(min_pool) + 400;
    buf = malloc(n);
    assert_non_null(buf);
    snprintf(buf, n,
             "# leading comment\n---\n%s---\n%s---\napiVersion: v1\nkind: ConfigMap\n"
             "metadata: {name: cm}\n---\n%s---\n---\n%s  replicas: -2\n...\n",
             full_pool, full_image, full_policy, min_pool);
    assert_int_equal(decode(&want, buf, &errs, &notices), -RC_EINVAL);
    assert_int_equal(want.n_pools, 1);
    assert_int_equal(want.n_images, 1);
    assert_int_equal(want.n_policies, 1);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(fmt(&errs, 0), ": spec.replicas: must be between 0 and 1000"));
    /* the invalid pool is named, so that it is not taken for a deleted one */
    assert_int_equal(want.n_invalid, 1);
    assert_int_equal(want.invalid[0].kind, RC_KIND_WORKERPOOL);
    assert_string_equal(want.invalid[0].namespace, "default");
    assert_string_equal(want.invalid[0].name, "p1");
    assert_string_equal(want.invalid[0].origin.file, "t.yaml");
    assert_int_equal(want.invalid[0].origin.name_line, errs.v[0].line - 8);
    assert_int_equal(notices.n, 1);
    assert_non_null(
        strstr(fmt(&notices, 0), "skipping v1 ConfigMap \"cm\": not an azpool.dev object"));
    assert_int_equal(rc_validate_refs(&want, &errs), 0);
    free(buf);
    rc_desired_release(&want);
    rc_errs_release(&errs);
    rc_errs_release(&notices);
}

/* A document of RC_DOC_MAX_BYTES is fine; one byte more is one clear error. */
static char *sized_policy(size_t total, const char *name)
{
    char head[200];
    const char *tail = "\nspec: {maxAge: 1h}\n";
    size_t hl, tl = strlen(tail);
    char *buf;

    snprintf(head, sizeof(head),
             "apiVersion: azpool.dev/v1alpha1\nkind: ExpiryPolicy\nmetadata:\n  name: %s\n"
             "  annotations:\n    pad: ",
             name);
    hl = strlen(head);
    buf = malloc(total + 1);
    assert_non_null(buf);
    memcpy(buf, head, hl);
    memset(buf + hl, 'x', total - hl - tl);
    memcpy(buf + total - tl, tail, tl + 1);
    return buf;
}

static void test_limit_document_size(void **state)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0};
    char *ok = sized_policy(RC_DOC_MAX_BYTES, "fits");
    char *big = sized_policy(RC_DOC_MAX_BYTES + 1, "big");
    const char *small = "---\napiVersion: azpool.dev/v1alpha1\nkind: ExpiryPolicy\n"
                        "metadata: {name: small}\nspec: {maxAge: 1h}\n";
    size_t n = strlen(big) + strlen(small) + 1;
    char *both = malloc(n);

    (void)state;
    assert_non_null(both);
    snprintf(both, n, "%s%s", big, small);
    assert_int_equal(decode(&want, ok, &errs, NULL), 0);
    assert_int_equal(want.n_policies, 1);
    assert_int_equal(decode(&want, both, &errs, NULL), -RC_EINVAL);
    assert_int_equal(errs.n, 1);
    assert_string_equal(fmt(&errs, 0), "t.yaml:1:1: document is larger than 1048576 bytes");
    /* the next document is still read */
    assert_int_equal(want.n_policies, 2);
    assert_non_null(rc_desired_policy(&want, "default", "small"));
    assert_null(rc_desired_policy(&want, "default", "big"));
    free(ok);
    free(big);
    free(both);
    rc_desired_release(&want);
    rc_errs_release(&errs);
}

/* Nesting: 64 levels are fine (free-form extension settings), 65 are not. */
static char *nested_pool(int depth)
{
    /* root(1) spec(2) extensions(3) item(4) settings(5), then levels below */
    size_t n = strlen(min_pool) + 200 + (size_t)depth * 8;
    char *buf = malloc(n);
    size_t len;
    int i, extra = depth - 5;

    assert_non_null(buf);
    snprintf(buf, n,
             "%s  extensions:\n  - {name: e, publisher: p, type: t, "
             "typeHandlerVersion: \"1.0\", settings: ",
             min_pool);
    len = strlen(buf);
    for (i = 0; i < extra + 1; i++)
        len += (size_t)snprintf(buf + len, n - len, "{a: ");
    len += (size_t)snprintf(buf + len, n - len, "1");
    for (i = 0; i < extra + 1; i++)
        len += (size_t)snprintf(buf + len, n - len, "}");
    snprintf(buf + len, n - len, "}\n");
    return buf;
}

static void test_limit_depth(void **state)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0};
    char *ok = nested_pool(RC_DOC_MAX_DEPTH);
    char *deep = nested_pool(RC_DOC_MAX_DEPTH + 1);

    (void)state;
    assert_int_equal(decode(&want, ok, &errs, NULL), 0);
    assert_int_equal(want.n_pools, 1);
    assert_int_equal(errs.n, 0);
    rc_desired_release(&want);
    assert_int_equal(decode(&want, deep, &errs, NULL), -RC_EINVAL);
    assert_int_equal(want.n_pools, 0);
    assert_int_equal(errs.n, 1);
    assert_int_equal(errs.v[0].line, 12);
    assert_non_null(strstr(errs.v[0].msg, "document nests deeper than 64 levels"));
    assert_true(!strncmp(errs.v[0].path, "spec.extensions[0].settings.a.a", 31));
    free(ok);
    free(deep);
    rc_desired_release(&want);
    rc_errs_release(&errs);
}

/* RC_DOCS_MAX documents are read; the 10,001st is one clear error. */
static void test_limit_document_count(void **state)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0};
    const char *first = "apiVersion: azpool.dev/v1alpha1\nkind: ExpiryPolicy\n"
                        "metadata: {name: one}\nspec: {maxAge: 1h}\n";
    size_t n = strlen(first) + (size_t)(RC_DOCS_MAX + 1) * 4 + 1, len, i;
    char *buf = malloc(n);

    (void)state;
    assert_non_null(buf);
    len = (size_t)snprintf(buf, n, "%s", first);
    for (i = 0; i < RC_DOCS_MAX; i++) /* documents 2 .. 10,001 */
        len += (size_t)snprintf(buf + len, n - len, "---\n");
    assert_int_equal(decode(&want, buf, &errs, NULL), -RC_EINVAL);
    assert_int_equal(errs.n, 1);
    assert_string_equal(fmt(&errs, 0),
                        "t.yaml:10004:1: more than 10000 documents in one file; the rest is "
                        "ignored");
    assert_int_equal(want.n_policies, 1);
    free(buf);
    rc_desired_release(&want);
    rc_errs_release(&errs);
}

/* Positions: the value, the key of an unknown field, the parent of a missing one. */
static void test_positions_exact(void **state)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0};
    const char *yaml = "apiVersion: azpool.dev/v1alpha1\n" /* 1 */
                       "kind: ExpiryPolicy\n"              /* 2 */
                       "metadata:\n"                       /* 3 */
                       "  name: e1\n"                      /* 4 */
                       "spec:\n"                           /* 5 */
                       "  jitter: \"110%\"\n"              /* 6 */
                       "  maintenanceWindows:\n"           /* 7 */
                       "  - schedule: \"0 2 * * *\"\n"     /* 8 */
                       "    duration: 2h\n"                /* 9 */
                       "    timezone: UTC\n"               /* 10 */
                       "  -   duration: 1h\n";             /* 11 */

    (void)state;
    assert_int_equal(decode(&want, yaml, &errs, NULL), -RC_EINVAL);
    rc_errs_sort(&errs);
    assert_int_equal(errs.n, 4);
    assert_string_equal(fmt(&errs, 0), "t.yaml:6:3: spec.maxAge: is required");
    assert_string_equal(fmt(&errs, 1),
                        "t.yaml:6:11: spec.jitter: must be a percentage such as \"10%\"");
    assert_string_equal(fmt(&errs, 2),
                        "t.yaml:10:5: spec.maintenanceWindows[0].timezone: unknown field");
    assert_string_equal(fmt(&errs, 3), "t.yaml:11:7: spec.maintenanceWindows[1].schedule: is "
                                       "required");
    rc_desired_release(&want);
    rc_errs_release(&errs);
}

/* Scalars are typed like YAML 1.2's core schema; quoting makes a string. */
static void test_node_scalar_types(void **state)
{
    struct rc_errs errs = {0};
    struct rc_node_doc *docs = NULL;
    size_t n = 0;
    const struct rc_node *r;
    const char *yaml = "a: 3\nb: \"3\"\nc: true\nd: yes\ne: ~\nf: 0x10\ng: 1.5\nh: !!str 7\n"
                       "i: ''\nj: -12\nk: 99999999999999999999\nl: |\n  text\n";

    (void)state;
    assert_int_equal(rc_node_parse_yaml("t.yaml", yaml, strlen(yaml), &docs, &n, &errs), 0);
    assert_int_equal(n, 1);
    r = docs[0].root;
    assert_int_equal(r->type, RC_NODE_MAP);
    assert_int_equal(rc_node_get(r, "a")->type, RC_NODE_INT);
    assert_int_equal(rc_node_get(r, "a")->ival, 3);
    assert_int_equal(rc_node_get(r, "b")->type, RC_NODE_STRING);
    assert_int_equal(rc_node_get(r, "c")->type, RC_NODE_BOOL);
    assert_true(rc_node_get(r, "c")->bval);
    assert_int_equal(rc_node_get(r, "d")->type, RC_NODE_STRING);
    assert_int_equal(rc_node_get(r, "e")->type, RC_NODE_NULL);
    assert_int_equal(rc_node_get(r, "f")->ival, 16);
    assert_int_equal(rc_node_get(r, "g")->type, RC_NODE_FLOAT);
    assert_int_equal(rc_node_get(r, "h")->type, RC_NODE_STRING);
    assert_int_equal(rc_node_get(r, "i")->type, RC_NODE_STRING);
    assert_int_equal(rc_node_get(r, "j")->ival, -12);
    assert_int_equal(rc_node_get(r, "k")->type, RC_NODE_FLOAT);
    assert_string_equal(rc_node_get(r, "l")->text, "text\n");
    assert_int_equal(rc_node_pair_get(r, "g")->line, 7);
    assert_int_equal(rc_node_get(r, "g")->col, 4);
    rc_node_docs_free(docs, n);
    rc_errs_release(&errs);
}

/* rc_node_to_json keeps types; rc_node_from_json is its inverse. */
static void test_node_json_roundtrip(void **state)
{
    struct rc_errs errs = {0};
    struct rc_node_doc *docs = NULL;
    struct rc_node *back = NULL;
    size_t n = 0;
    json_t *j, *j2;
    const char *yaml = "a: [1, \"1\", true, null, 2.5, {b: c}]\nd: {}\n";

    (void)state;
    assert_int_equal(rc_node_parse_yaml("t.yaml", yaml, strlen(yaml), &docs, &n, &errs), 0);
    j = rc_node_to_json(docs[0].root);
    assert_non_null(j);
    assert_true(json_is_integer(json_array_get(json_object_get(j, "a"), 0)));
    assert_true(json_is_string(json_array_get(json_object_get(j, "a"), 1)));
    assert_true(json_is_true(json_array_get(json_object_get(j, "a"), 2)));
    assert_true(json_is_null(json_array_get(json_object_get(j, "a"), 3)));
    assert_true(json_is_real(json_array_get(json_object_get(j, "a"), 4)));
    assert_int_equal(rc_node_from_json(j, "x", &back, &errs), 0);
    j2 = rc_node_to_json(back);
    assert_true(json_equal(j, j2));
    json_decref(j);
    json_decref(j2);
    rc_node_free(back);
    rc_node_docs_free(docs, n);
    rc_errs_release(&errs);
}

/* Aliases are refused; duplicate keys are errors with both positions. */
static void test_node_aliases_and_duplicates(void **state)
{
    struct rc_errs errs = {0};
    struct rc_node_doc *docs = NULL;
    size_t n = 0;
    const char *bomb = "a: &a [x, x]\nb: [*a, *a]\n---\nc: 1\nc: 2\n---\nok: 1\n";

    (void)state;
    assert_true(rc_node_parse_yaml("t.yaml", bomb, strlen(bomb), &docs, &n, &errs) < 0);
    rc_errs_sort(&errs);
    assert_int_equal(errs.n, 2);
    assert_string_equal(fmt(&errs, 0), "t.yaml:2:5: YAML aliases are not supported");
    assert_string_equal(fmt(&errs, 1), "t.yaml:5:1: c: duplicate key (first at line 4, column 1)");
    assert_int_equal(n, 2); /* the alias document is dropped */
    assert_true(docs[0].invalid);
    assert_false(docs[1].invalid);
    rc_node_docs_free(docs, n);
    rc_errs_release(&errs);
}

/* A JSON object deeper than the limit is refused, not recursed into. */
static void test_json_depth_limit(void **state)
{
    struct rc_errs errs = {0};
    struct rc_node *out = NULL;
    json_t *root = json_object(), *cur = root;
    int i;

    (void)state;
    for (i = 1; i < RC_DOC_MAX_DEPTH + 1; i++) {
        json_t *next = json_object();
        json_object_set_new(cur, "a", next);
        cur = next;
    }
    assert_int_equal(rc_node_from_json(root, "kube:x", &out, &errs), -RC_ELIMIT);
    assert_null(out);
    assert_int_equal(errs.n, 1);
    json_decref(root);
    rc_errs_release(&errs);
}

/* References resolve within the namespace only; duplicates name both places. */
static void test_validate_refs(void **state)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0};
    const char *yaml =
        "apiVersion: azpool.dev/v1alpha1\nkind: ImageVersion\nmetadata: {name: img, "
        "namespace: a}\nspec: {gallery: {subscriptionId: " SUB
        ", resourceGroup: r, name: g, imageDefinition: d}}\n"
        "---\napiVersion: azpool.dev/v1alpha1\nkind: WorkerPool\nmetadata: {name: p, namespace: "
        "a}\nspec: {subscriptionId: " SUB ", resourceGroup: rg, location: westeurope, vmSize: "
        "B2s, imageRef: {name: img}, expiryPolicyRef: {name: ep}, network: {subnetId: " SUBNET
        "}}\n"
        "---\napiVersion: azpool.dev/v1alpha1\nkind: WorkerPool\nmetadata: {name: p, namespace: "
        "b}\nspec: {subscriptionId: " SUB ", resourceGroup: rg, location: westeurope, vmSize: "
        "B2s, imageRef: {name: img}, network: {subnetId: " SUBNET "}}\n";

    (void)state;
    assert_int_equal(decode(&want, yaml, &errs, NULL), 0);
    assert_int_equal(want.n_pools, 2);
    assert_int_equal(rc_validate_refs(&want, &errs), -RC_EINVAL);
    rc_errs_sort(&errs);
    assert_int_equal(errs.n, 2);
    assert_string_equal(fmt(&errs, 0), "t.yaml:9:163: spec.expiryPolicyRef.name: ExpiryPolicy "
                                       "\"ep\" not found in namespace \"a\"");
    assert_string_equal(fmt(&errs, 1), "t.yaml:14:133: spec.imageRef.name: ImageVersion \"img\" "
                                       "not found in namespace \"b\"");
    rc_errs_release(&errs);
    /* the same document twice is a duplicate */
    assert_int_equal(decode(&want, min_pool, &errs, NULL), 0);
    assert_int_equal(decode(&want, min_pool, &errs, NULL), 0);
    assert_int_equal(rc_validate_refs(&want, &errs), -RC_EINVAL);
    rc_errs_sort(&errs);
    assert_int_equal(errs.n, 3);
    assert_string_equal(fmt(&errs, 0), "t.yaml:3:18: metadata.name: duplicate WorkerPool "
                                       "\"default/p1\" (first defined at t.yaml:3:18)");
    assert_string_equal(rc_kind_name(RC_KIND_EXPIRYPOLICY), "ExpiryPolicy");
    rc_desired_release(&want);
    rc_errs_release(&errs);
}

/* "kubectl get -o yaml" output (a v1 List) decodes item by item. */
static void test_kubectl_list(void **state)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0}, notices = {0};
    const char *yaml = "apiVersion: v1\n"
                       "kind: List\n"
                       "items:\n"
                       "- apiVersion: azpool.dev/v1alpha1\n"
                       "  kind: ExpiryPolicy\n"
                       "  metadata: {name: a, namespace: x, creationTimestamp: null}\n"
                       "  spec: {maxAge: 1h}\n"
                       "- apiVersion: azpool.dev/v1alpha1\n"
                       "  kind: ExpiryPolicy\n"
                       "  metadata: {name: b}\n"
                       "  spec: {maxAge: -1h}\n"
                       "- apiVersion: v1\n"
                       "  kind: Secret\n"
                       "  metadata: {name: s}\n"
                       "metadata: {resourceVersion: \"\"}\n";

    (void)state;
    assert_int_equal(decode(&want, yaml, &errs, &notices), -RC_EINVAL);
    assert_int_equal(want.n_policies, 1);
    assert_non_null(rc_desired_policy(&want, "x", "a"));
    assert_int_equal(errs.n, 1);
    assert_string_equal(fmt(&errs, 0), "t.yaml:11:18: spec.maxAge: must be a duration such as "
                                       "\"90s\" or \"1h30m\"");
    assert_int_equal(notices.n, 1);
    assert_string_equal(fmt(&notices, 0),
                        "t.yaml:12:3: skipping v1 Secret \"s\": not an azpool.dev object");
    rc_desired_release(&want);
    rc_errs_release(&errs);
    rc_errs_release(&notices);
}

/* Garbage never crashes and always yields an error. */
static void test_garbage_inputs(void **state)
{
    static const char *const inputs[] = {
        "\t\tfoo",      "[1, 2",          "{a: b}: c",       "? [a]\n: b\n", "a: !custom x\n",
        "\xff\xfe\x00", "---\n- - - -\n", "apiVersion: 3\n", "kind: [x]\n",  "\"\\0\": 1\n",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        struct rc_desired want = {0};
        struct rc_errs errs = {0};
        size_t len = i == 5 ? 3 : strlen(inputs[i]);

        assert_true(rc_decode_yaml(&want, "g.yaml", inputs[i], len, &errs, NULL) < 0);
        assert_true(errs.n >= 1);
        assert_int_equal(want.n_pools + want.n_images + want.n_policies, 0);
        rc_desired_release(&want);
        rc_errs_release(&errs);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_all_fields),
        cmocka_unit_test(test_image_and_policy_all_fields),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_json_kube_object),
        cmocka_unit_test(test_multi_document),
        cmocka_unit_test(test_limit_document_size),
        cmocka_unit_test(test_limit_depth),
        cmocka_unit_test(test_limit_document_count),
        cmocka_unit_test(test_positions_exact),
        cmocka_unit_test(test_node_scalar_types),
        cmocka_unit_test(test_node_json_roundtrip),
        cmocka_unit_test(test_node_aliases_and_duplicates),
        cmocka_unit_test(test_json_depth_limit),
        cmocka_unit_test(test_validate_refs),
        cmocka_unit_test(test_kubectl_list),
        cmocka_unit_test(test_garbage_inputs),
    };

    return az_run_tests("decode", tests);
}
