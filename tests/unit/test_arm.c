/*
 * test_arm.c - ARM ids and request bodies (reconcile/rc_arm.c).
 *
 * Pools are built as structs here (not decoded), so these tests pin the wire
 * shapes on their own: every body is compared with json_equal against an
 * expected JSON literal shaped like shared/reference/azure-arm.md §4-§8. The
 * spec-hash tag is filled in from rc_arm_spec_hash(), which has its own tests.
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

#include "rc_arm.h"
#include "rc_observed.h"
#include "rc_util.h"
#include "test_main.h"

#define SUB    "11111111-2222-3333-4444-555555555555"
#define RG     "/subscriptions/" SUB "/resourceGroups/rg-workers"
#define SUBNET RG "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/workers"
#define IMAGE  RG "/providers/Microsoft.Compute/galleries/g/images/ubuntu/versions/1.4.0"
#define AA     RG "/providers/Microsoft.Automation/automationAccounts/aa-ops"
#define UAI    RG "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
#define UAI2   RG "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id2"
#define VM_ID  RG "/providers/Microsoft.Compute/virtualMachines/hybrid-linux-0-a"
#define T0     1795428000000LL /* 2026-11-23T10:00:00Z */
#define T1     1796032800000LL /* 2026-11-30T10:00:00Z */

struct fixture {
    struct rc_pool p;
    struct rc_extension ext[2];
    char *keys[2];
    struct rc_kv tags[RC_ARM_USER_TAGS_MAX + 2];
    char *uai[2];
};

/* A Linux ScaleSet pool like the one of DESIGN.md §2. */
static void fx_init(struct fixture *f)
{
    struct rc_pool_spec *s = &f->p.spec;

    memset(f, 0, sizeof(*f));
    f->p.meta.name = "hybrid-linux";
    f->p.meta.namespace = "automation";
    f->p.meta.uid = "6f1d2c3b-aaaa-bbbb-cccc-1234567890ab";
    s->subscription_id = SUB;
    s->resource_group = "rg-workers";
    s->location = "westeurope";
    s->mode = RC_MODE_SCALESET;
    s->orchestration = RC_ORCH_UNIFORM;
    s->vm_size = "Standard_D2s_v5";
    s->replicas = 3;
    s->subnet_id = SUBNET;
    s->identity.type = RC_IDENTITY_SYSTEM;
    s->os_profile.os_type = RC_OS_LINUX;
    s->os_profile.admin_username = "azpool";
    f->keys[0] = "ssh-ed25519 AAAAC3Nza-key-one azpool@ops";
    f->keys[1] = "ssh-ed25519 AAAAC3Nza-key-two azpool@ops";
    s->os_profile.ssh_public_keys = f->keys;
    s->os_profile.n_ssh_public_keys = 1;
    s->os_profile.custom_data.name = "cloud-init";
    s->os_profile.custom_data.key = "user-data";
    s->patch_mode = "AutomaticByPlatform";
    f->ext[0].name = "ado-agent";
    f->ext[0].publisher = "Microsoft.VisualStudio.Services";
    f->ext[0].type = "TeamServicesAgentLinux";
    f->ext[0].type_handler_version = "1.0";
    f->ext[0].auto_upgrade_minor_version = true;
    f->ext[0].settings = json_pack("{s:s, s:s}", "AzureDevOpsOrganizationUrl",
                                   "https://dev.azure.com/ops", "AgentPool", "linux");
    f->ext[0].protected_settings.name = "ado";
    f->ext[0].protected_settings.key = "pat";
    assert_non_null(f->ext[0].settings);
    s->extensions = f->ext;
    s->n_extensions = 1;
    f->tags[0].key = "costCenter";
    f->tags[0].value = "ops";
    f->tags[1].key = "team";
    f->tags[1].value = "platform";
    s->tags = f->tags;
    s->n_tags = 2;
    f->uai[0] = UAI;
    f->uai[1] = UAI2;
}

static void fx_release(struct fixture *f)
{
    size_t i;

    for (i = 0; i < 2; i++)
        json_decref(f->ext[i].settings);
    json_decref(f->p.spec.after_create.parameters);
}

/* Loads an expected body and puts the pool's spec hash into its tags. */
static json_t *expect_json(const struct rc_pool *p, const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    char hash[17];

    if (!v)
        fail_msg("expected JSON does not parse: %s (line %d col %d)", jerr.text, jerr.line,
                 jerr.column);
    if (p && json_object_get(v, "tags")) {
        rc_arm_spec_hash(p, hash, sizeof(hash));
        assert_int_equal(strlen(hash), 16);
        json_object_set_new(json_object_get(v, "tags"), RC_TAG_SPEC_HASH, json_string(hash));
    }
    return v;
}

/* json_equal with both documents printed on a mismatch; takes actual. */
static void assert_body(json_t *actual, const struct rc_pool *p, const char *expected_text)
{
    json_t *want = expect_json(p, expected_text);

    assert_non_null(actual);
    if (!json_equal(actual, want)) {
        char *a = json_dumps(actual, JSON_SORT_KEYS | JSON_INDENT(1));
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1));

        print_error("actual:\n%s\nexpected:\n%s\n", a, w);
        free(a);
        free(w);
        json_decref(want);
        json_decref(actual);
        fail_msg("body differs from the expected JSON");
    }
    json_decref(want);
    json_decref(actual);
}

/* Every key that carries a secret holds the placeholder, never a value. */
static void assert_no_secret_values(const json_t *v)
{
    const char *k;
    json_t *child;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, child)
        {
            if (strcmp(k, "protectedSettings") == 0 || strcmp(k, "customData") == 0 ||
                strcmp(k, "adminPassword") == 0) {
                json_t *ref = json_object_get(child, "$secretRef");

                assert_true(json_is_object(child));
                assert_int_equal(json_object_size(child), 1);
                assert_true(json_is_string(json_object_get(ref, "name")));
                assert_true(json_is_string(json_object_get(ref, "key")));
                assert_int_equal(json_object_size(ref), 2);
            }
            assert_no_secret_values(child);
        }
    } else if (json_is_array(v)) {
        json_array_foreach((json_t *)v, i, child)
        {
            assert_no_secret_values(child);
        }
    }
}

/* ---- VMSS ---- */

static void test_vmss_body_uniform_linux(void **state)
{
    struct fixture f;
    json_t *body;

    (void)state;
    fx_init(&f);
    body = rc_arm_vmss_body(&f.p, IMAGE, 3, T0);
    assert_non_null(body);
    assert_no_secret_values(body);
    assert_body(
        body, &f.p,
        "{\"location\": \"westeurope\","
        " \"tags\": {\"costCenter\": \"ops\", \"team\": \"platform\","
        "  \"azpool.managed-by\": \"azpool\", \"azpool.pool\": \"automation/hybrid-linux\","
        "  \"azpool.owner\": \"6f1d2c3b-aaaa-bbbb-cccc-1234567890ab\","
        "  \"azpool.image\": \"" IMAGE "\","
        "  \"azpool.created-at\": \"2026-11-23T10:00:00Z\"},"
        " \"identity\": {\"type\": \"SystemAssigned\"},"
        " \"sku\": {\"name\": \"Standard_D2s_v5\", \"tier\": \"Standard\", \"capacity\": 3},"
        " \"properties\": {"
        "  \"orchestrationMode\": \"Uniform\","
        "  \"upgradePolicy\": {\"mode\": \"Manual\"},"
        "  \"overprovision\": false, \"singlePlacementGroup\": false,"
        "  \"virtualMachineProfile\": {"
        "   \"storageProfile\": {\"imageReference\": {\"id\": \"" IMAGE "\"},"
        "    \"osDisk\": {\"createOption\": \"FromImage\"}},"
        "   \"osProfile\": {\"computerNamePrefix\": \"hybrid-linux\","
        "    \"adminUsername\": \"azpool\","
        "    \"linuxConfiguration\": {\"disablePasswordAuthentication\": true,"
        "     \"provisionVMAgent\": true,"
        "     \"ssh\": {\"publicKeys\": [{\"path\": \"/home/azpool/.ssh/authorized_keys\","
        "       \"keyData\": \"ssh-ed25519 AAAAC3Nza-key-one azpool@ops\"}]},"
        "     \"patchSettings\": {\"patchMode\": \"AutomaticByPlatform\","
        "      \"assessmentMode\": \"AutomaticByPlatform\"}},"
        "    \"customData\": {\"$secretRef\": {\"name\": \"cloud-init\", \"key\": "
        "\"user-data\"}}},"
        "   \"networkProfile\": {\"networkInterfaceConfigurations\": [{\"name\": \"nic\","
        "    \"properties\": {\"primary\": true, \"ipConfigurations\": [{\"name\": "
        "\"ipconfig1\","
        "     \"properties\": {\"primary\": true, \"subnet\": {\"id\": \"" SUBNET "\"}}}]}}]},"
        "   \"extensionProfile\": {\"extensions\": [{\"name\": \"ado-agent\","
        "    \"properties\": {\"publisher\": \"Microsoft.VisualStudio.Services\","
        "     \"type\": \"TeamServicesAgentLinux\", \"typeHandlerVersion\": \"1.0\","
        "     \"autoUpgradeMinorVersion\": true,"
        "     \"settings\": {\"AzureDevOpsOrganizationUrl\": \"https://dev.azure.com/ops\","
        "      \"AgentPool\": \"linux\"},"
        "     \"protectedSettings\": {\"$secretRef\": {\"name\": \"ado\", \"key\": "
        "\"pat\"}}}}]}}}}");
    fx_release(&f);
}

static void test_vmss_body_flexible_user_identity_marketplace(void **state)
{
    struct fixture f;
    json_t *body;

    (void)state;
    fx_init(&f);
    f.p.spec.orchestration = RC_ORCH_FLEXIBLE;
    f.p.spec.identity.type = RC_IDENTITY_USER;
    f.p.spec.identity.user_assigned = f.uai;
    f.p.spec.identity.n_user_assigned = 1;
    f.p.spec.os_profile.custom_data.name = NULL;
    f.p.spec.os_profile.custom_data.key = NULL;
    f.p.spec.patch_mode = NULL;
    f.p.spec.n_extensions = 0;
    f.p.spec.n_tags = 0;
    f.p.meta.uid = NULL;
    f.p.spec.image.publisher = "Canonical";
    f.p.spec.image.offer = "ubuntu-24_04-lts";
    f.p.spec.image.sku = "server";
    f.p.spec.image.version = "latest";
    body = rc_arm_vmss_body(&f.p, NULL, 0, T0);
    assert_body(
        body, &f.p,
        "{\"location\": \"westeurope\","
        " \"tags\": {\"azpool.managed-by\": \"azpool\","
        "  \"azpool.pool\": \"automation/hybrid-linux\","
        "  \"azpool.image\": \"Canonical:ubuntu-24_04-lts:server:latest\","
        "  \"azpool.created-at\": \"2026-11-23T10:00:00Z\"},"
        " \"identity\": {\"type\": \"UserAssigned\","
        "  \"userAssignedIdentities\": {\"" UAI "\": {}}},"
        " \"sku\": {\"name\": \"Standard_D2s_v5\", \"tier\": \"Standard\", \"capacity\": 0},"
        " \"properties\": {"
        "  \"orchestrationMode\": \"Flexible\", \"platformFaultDomainCount\": 1,"
        "  \"upgradePolicy\": {\"mode\": \"Manual\"}, \"singlePlacementGroup\": false,"
        "  \"virtualMachineProfile\": {"
        "   \"storageProfile\": {\"imageReference\": {\"publisher\": \"Canonical\","
        "     \"offer\": \"ubuntu-24_04-lts\", \"sku\": \"server\", \"version\": "
        "\"latest\"},"
        "    \"osDisk\": {\"createOption\": \"FromImage\", \"deleteOption\": \"Delete\"}},"
        "   \"osProfile\": {\"computerNamePrefix\": \"hybrid-linux\","
        "    \"adminUsername\": \"azpool\","
        "    \"linuxConfiguration\": {\"disablePasswordAuthentication\": true,"
        "     \"provisionVMAgent\": true,"
        "     \"ssh\": {\"publicKeys\": [{\"path\": \"/home/azpool/.ssh/authorized_keys\","
        "       \"keyData\": \"ssh-ed25519 AAAAC3Nza-key-one azpool@ops\"}]}}},"
        "   \"networkProfile\": {\"networkApiVersion\": \"2020-11-01\","
        "    \"networkInterfaceConfigurations\": [{\"name\": \"nic\","
        "    \"properties\": {\"primary\": true, \"deleteOption\": \"Delete\","
        "     \"ipConfigurations\": [{\"name\": \"ipconfig1\","
        "     \"properties\": {\"primary\": true, \"subnet\": {\"id\": \"" SUBNET "\"}}}]}}]},"
        "   \"extensionProfile\": {\"extensions\": []}}}}");
    fx_release(&f);
}

/* Windows: computerNamePrefix fits 9 characters, windowsConfiguration with the
 * patch mode, no SSH configuration; both identities listed. */
static void test_vmss_body_windows(void **state)
{
    struct fixture f;
    json_t *body, *os, *win;
    const char *prefix;
    char want[RC_PREFIX_MAX_WINDOWS + 1];

    (void)state;
    fx_init(&f);
    f.p.meta.name = "windows-build-agents";
    f.p.spec.os_profile.os_type = RC_OS_WINDOWS;
    f.p.spec.os_profile.n_ssh_public_keys = 0;
    f.p.spec.patch_mode = "Manual";
    f.p.spec.identity.type = RC_IDENTITY_SYSTEM_USER;
    f.p.spec.identity.user_assigned = f.uai;
    f.p.spec.identity.n_user_assigned = 1;
    body = rc_arm_vmss_body(&f.p, IMAGE, 2, T0);
    assert_non_null(body);
    os = json_object_get(
        json_object_get(json_object_get(body, "properties"), "virtualMachineProfile"), "osProfile");
    prefix = json_string_value(json_object_get(os, "computerNamePrefix"));
    assert_non_null(prefix);
    assert_true(strlen(prefix) <= RC_PREFIX_MAX_WINDOWS);
    assert_int_equal(rc_name_prefix("automation", "windows-build-agents", true, want, sizeof(want)),
                     0);
    assert_string_equal(prefix, want);
    assert_null(json_object_get(os, "linuxConfiguration"));
    win = json_object_get(os, "windowsConfiguration");
    assert_body(json_incref(win), NULL,
                "{\"provisionVMAgent\": true, \"enableAutomaticUpdates\": false,"
                " \"patchSettings\": {\"patchMode\": \"Manual\"}}");
    assert_body(json_incref(json_object_get(body, "identity")), NULL,
                "{\"type\": \"SystemAssigned, UserAssigned\","
                " \"userAssignedIdentities\": {\"" UAI "\": {}}}");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(body, "tags"), RC_TAG_POOL)),
        "automation/windows-build-agents");
    json_decref(body);

    f.p.spec.patch_mode = "AutomaticByPlatform";
    body = rc_arm_vmss_body(&f.p, IMAGE, 2, T0);
    assert_non_null(body);
    win = json_object_get(json_object_get(json_object_get(json_object_get(body, "properties"),
                                                          "virtualMachineProfile"),
                                          "osProfile"),
                          "windowsConfiguration");
    assert_body(json_incref(win), NULL,
                "{\"provisionVMAgent\": true, \"enableAutomaticUpdates\": true,"
                " \"patchSettings\": {\"patchMode\": \"AutomaticByPlatform\","
                "  \"assessmentMode\": \"AutomaticByPlatform\"}}");
    json_decref(body);
    fx_release(&f);
}

static void test_vmss_body_missing_fields(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    assert_null(rc_arm_vmss_body(NULL, IMAGE, 1, T0));
    assert_null(rc_arm_vmss_body(&f.p, IMAGE, -1, T0));
    /* no image given and no inline image */
    assert_null(rc_arm_vmss_body(&f.p, NULL, 1, T0));
    f.p.spec.subnet_id = NULL;
    assert_null(rc_arm_vmss_body(&f.p, IMAGE, 1, T0));
    f.p.spec.subnet_id = SUBNET;
    f.p.spec.location = NULL;
    assert_null(rc_arm_vmss_body(&f.p, IMAGE, 1, T0));
    f.p.spec.location = "westeurope";
    f.p.spec.identity.type = RC_IDENTITY_USER; /* without identities */
    assert_null(rc_arm_vmss_body(&f.p, IMAGE, 1, T0));
    f.p.spec.identity.type = RC_IDENTITY_SYSTEM;
    f.ext[0].publisher = NULL;
    assert_null(rc_arm_vmss_body(&f.p, IMAGE, 1, T0));
    fx_release(&f);
}

static void test_vmss_patch(void **state)
{
    json_t *tags, *body;

    (void)state;
    assert_body(rc_arm_vmss_patch(5, NULL, NULL), NULL, "{\"sku\": {\"capacity\": 5}}");
    assert_body(rc_arm_vmss_patch(0, NULL, NULL), NULL, "{\"sku\": {\"capacity\": 0}}");
    assert_body(rc_arm_vmss_patch(4, IMAGE, NULL), NULL,
                "{\"sku\": {\"capacity\": 4}, \"properties\": {\"virtualMachineProfile\":"
                " {\"storageProfile\": {\"imageReference\": {\"id\": \"" IMAGE "\"}}}}}");
    tags = json_pack("{s:s, s:s}", RC_TAG_MANAGED_BY, "azpool", RC_TAG_LAST_SCALE,
                     "2026-11-23T10:00:00Z");
    body = rc_arm_vmss_patch(-1, "Canonical:ubuntu-24_04-lts:server:1.2.3", tags);
    /* tags are borrowed: still ours after the call */
    assert_int_equal(tags->refcount, 2);
    assert_body(body, NULL,
                "{\"tags\": {\"azpool.managed-by\": \"azpool\","
                "  \"azpool.last-scale-time\": \"2026-11-23T10:00:00Z\"},"
                " \"properties\": {\"virtualMachineProfile\": {\"storageProfile\":"
                "  {\"imageReference\": {\"publisher\": \"Canonical\", \"offer\": "
                "\"ubuntu-24_04-lts\","
                "   \"sku\": \"server\", \"version\": \"1.2.3\"}}}}}");
    assert_int_equal(tags->refcount, 1);
    json_decref(tags);
    assert_null(rc_arm_vmss_patch(-1, NULL, NULL));
    assert_null(rc_arm_vmss_patch(3, "not-an-image", NULL));
}

static void test_instance_ids_body(void **state)
{
    char *ids[] = {"3", "7", "12"};
    char *bad[] = {"3", ""};
    char **many;
    size_t i;

    (void)state;
    assert_body(rc_arm_instance_ids_body(ids, 3), NULL,
                "{\"instanceIds\": [\"3\", \"7\", \"12\"]}");
    assert_body(rc_arm_instance_ids_body(ids, 1), NULL, "{\"instanceIds\": [\"3\"]}");
    /* never an implicit "all" */
    assert_null(rc_arm_instance_ids_body(ids, 0));
    assert_null(rc_arm_instance_ids_body(NULL, 0));
    assert_null(rc_arm_instance_ids_body(NULL, 2));
    assert_null(rc_arm_instance_ids_body(bad, 2));
    many = calloc(RC_ARM_INSTANCE_IDS_MAX + 1, sizeof(*many));
    assert_non_null(many);
    for (i = 0; i <= RC_ARM_INSTANCE_IDS_MAX; i++)
        many[i] = "hybrid-linux_0a1b2c3d"; /* Flexible: instance ids are VM names */
    json_t *body = rc_arm_instance_ids_body(many, RC_ARM_INSTANCE_IDS_MAX);
    assert_non_null(body);
    assert_int_equal(json_array_size(json_object_get(body, "instanceIds")),
                     RC_ARM_INSTANCE_IDS_MAX);
    json_decref(body);
    assert_null(rc_arm_instance_ids_body(many, RC_ARM_INSTANCE_IDS_MAX + 1));
    free(many);
}

/* ---- VirtualMachines mode ---- */

static void fx_vm_mode(struct fixture *f)
{
    f->p.spec.mode = RC_MODE_VIRTUALMACHINES;
    f->p.spec.hybrid_worker.automation_account_id = AA;
    f->p.spec.hybrid_worker.group = "linux-workers";
    f->p.spec.identity.type = RC_IDENTITY_NONE; /* the registration adds SystemAssigned */
}

static void test_nic_body(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    fx_vm_mode(&f);
    assert_body(rc_arm_nic_body(&f.p, "hybrid-linux-0-a", T0), &f.p,
                "{\"location\": \"westeurope\","
                " \"tags\": {\"costCenter\": \"ops\", \"team\": \"platform\","
                "  \"azpool.managed-by\": \"azpool\", \"azpool.pool\": \"automation/hybrid-linux\","
                "  \"azpool.owner\": \"6f1d2c3b-aaaa-bbbb-cccc-1234567890ab\","
                "  \"azpool.created-at\": \"2026-11-23T10:00:00Z\"},"
                " \"properties\": {\"ipConfigurations\": [{\"name\": \"ipconfig1\","
                "  \"properties\": {\"subnet\": {\"id\": \"" SUBNET "\"},"
                "   \"privateIPAllocationMethod\": \"Dynamic\"}}]}}");
    assert_null(rc_arm_nic_body(&f.p, "a/b", T0));
    assert_null(rc_arm_nic_body(&f.p, "", T0));
    f.p.spec.subnet_id = "subnet-without-id";
    assert_null(rc_arm_nic_body(&f.p, "hybrid-linux-0-a", T0));
    fx_release(&f);
}

static void test_vm_body_linux(void **state)
{
    struct fixture f;
    json_t *body;

    (void)state;
    fx_init(&f);
    fx_vm_mode(&f);
    body = rc_arm_vm_body(&f.p, "hybrid-linux-0-a", IMAGE, T0, T1);
    assert_non_null(body);
    assert_no_secret_values(body);
    assert_body(body, &f.p,
                "{\"location\": \"westeurope\","
                " \"tags\": {\"costCenter\": \"ops\", \"team\": \"platform\","
                "  \"azpool.managed-by\": \"azpool\", \"azpool.pool\": \"automation/hybrid-linux\","
                "  \"azpool.owner\": \"6f1d2c3b-aaaa-bbbb-cccc-1234567890ab\","
                "  \"azpool.image\": \"" IMAGE "\","
                "  \"azpool.created-at\": \"2026-11-23T10:00:00Z\","
                "  \"azpool.expires-at\": \"2026-11-30T10:00:00Z\"},"
                " \"identity\": {\"type\": \"SystemAssigned\"},"
                " \"properties\": {"
                "  \"hardwareProfile\": {\"vmSize\": \"Standard_D2s_v5\"},"
                "  \"storageProfile\": {\"imageReference\": {\"id\": \"" IMAGE "\"},"
                "   \"osDisk\": {\"createOption\": \"FromImage\", \"deleteOption\": \"Delete\"}},"
                "  \"osProfile\": {\"computerName\": \"hybrid-linux-0-a\","
                "   \"adminUsername\": \"azpool\","
                "   \"linuxConfiguration\": {\"disablePasswordAuthentication\": true,"
                "    \"provisionVMAgent\": true,"
                "    \"ssh\": {\"publicKeys\": [{\"path\": \"/home/azpool/.ssh/authorized_keys\","
                "      \"keyData\": \"ssh-ed25519 AAAAC3Nza-key-one azpool@ops\"}]},"
                "    \"patchSettings\": {\"patchMode\": \"AutomaticByPlatform\","
                "     \"assessmentMode\": \"AutomaticByPlatform\"}},"
                "   \"customData\": {\"$secretRef\": {\"name\": \"cloud-init\", \"key\": "
                "\"user-data\"}}},"
                "  \"networkProfile\": {\"networkInterfaces\": [{\"id\": \"" RG
                "/providers/Microsoft.Network/networkInterfaces/hybrid-linux-0-a-nic\","
                "   \"properties\": {\"primary\": true, \"deleteOption\": \"Delete\"}}]}}}");
    fx_release(&f);
}

/* Two SSH keys, ImageDefault patching, user identity plus the system identity
 * the hybrid worker needs, no expiry tag when expires_ms is 0. */
static void test_vm_body_variants(void **state)
{
    struct fixture f;
    json_t *body, *os, *tags;

    (void)state;
    fx_init(&f);
    fx_vm_mode(&f);
    f.p.spec.os_profile.n_ssh_public_keys = 2;
    f.p.spec.os_profile.admin_username = "ops";
    f.p.spec.patch_mode = "ImageDefault";
    f.p.spec.identity.type = RC_IDENTITY_USER;
    f.p.spec.identity.user_assigned = f.uai;
    f.p.spec.identity.n_user_assigned = 1;
    body = rc_arm_vm_body(&f.p, "hybrid-linux-1-b", IMAGE, T0, 0);
    assert_non_null(body);
    os = json_object_get(json_object_get(body, "properties"), "osProfile");
    assert_body(json_incref(json_object_get(os, "linuxConfiguration")), NULL,
                "{\"disablePasswordAuthentication\": true, \"provisionVMAgent\": true,"
                " \"ssh\": {\"publicKeys\": ["
                "  {\"path\": \"/home/ops/.ssh/authorized_keys\","
                "   \"keyData\": \"ssh-ed25519 AAAAC3Nza-key-one azpool@ops\"},"
                "  {\"path\": \"/home/ops/.ssh/authorized_keys\","
                "   \"keyData\": \"ssh-ed25519 AAAAC3Nza-key-two azpool@ops\"}]},"
                " \"patchSettings\": {\"patchMode\": \"ImageDefault\"}}");
    assert_body(json_incref(json_object_get(body, "identity")), NULL,
                "{\"type\": \"SystemAssigned, UserAssigned\","
                " \"userAssignedIdentities\": {\"" UAI "\": {}}}");
    tags = json_object_get(body, "tags");
    assert_null(json_object_get(tags, RC_TAG_EXPIRES_AT));
    assert_string_equal(json_string_value(json_object_get(tags, RC_TAG_CREATED_AT)),
                        "2026-11-23T10:00:00Z");
    json_decref(body);

    /* without a hybrid worker registration no identity is added */
    f.p.spec.hybrid_worker.automation_account_id = NULL;
    f.p.spec.identity.type = RC_IDENTITY_NONE;
    body = rc_arm_vm_body(&f.p, "hybrid-linux-1-b", IMAGE, T0, 0);
    assert_non_null(body);
    assert_null(json_object_get(body, "identity"));
    json_decref(body);
    fx_release(&f);
}

/* Windows host names are at most 15 characters and do not end with '-'. */
static void test_vm_body_windows_host_name(void **state)
{
    struct fixture f;
    json_t *body, *os;
    const char *cn;

    (void)state;
    fx_init(&f);
    fx_vm_mode(&f);
    f.p.spec.os_profile.os_type = RC_OS_WINDOWS;
    f.p.spec.os_profile.n_ssh_public_keys = 0;
    f.p.spec.patch_mode = "AutomaticByOS";
    f.p.spec.os_profile.custom_data.name = NULL;
    body = rc_arm_vm_body(&f.p, "winpool-abcdef-3-1z", IMAGE, T0, T1); /* '-' at 15 */
    assert_non_null(body);
    os = json_object_get(json_object_get(body, "properties"), "osProfile");
    cn = json_string_value(json_object_get(os, "computerName"));
    assert_string_equal(cn, "winpool-abcdef");
    assert_true(strlen(cn) <= RC_HOST_MAX_WINDOWS);
    assert_body(json_incref(os), NULL,
                "{\"computerName\": \"winpool-abcdef\", \"adminUsername\": \"azpool\","
                " \"windowsConfiguration\": {\"provisionVMAgent\": true,"
                "  \"enableAutomaticUpdates\": true,"
                "  \"patchSettings\": {\"patchMode\": \"AutomaticByOS\"}}}");
    json_decref(body);

    body = rc_arm_vm_body(&f.p, "wp-0-a", IMAGE, T0, T1);
    os = json_object_get(json_object_get(body, "properties"), "osProfile");
    assert_string_equal(json_string_value(json_object_get(os, "computerName")), "wp-0-a");
    json_decref(body);

    body = rc_arm_vm_body(&f.p, "abcdefghijklmnopqrstu", IMAGE, T0, T1);
    os = json_object_get(json_object_get(body, "properties"), "osProfile");
    assert_string_equal(json_string_value(json_object_get(os, "computerName")), "abcdefghijklmno");
    json_decref(body);

    /* Linux keeps up to 64 characters */
    f.p.spec.os_profile.os_type = RC_OS_LINUX;
    f.p.spec.patch_mode = NULL;
    body = rc_arm_vm_body(&f.p, "abcdefghijklmnopqrstu", IMAGE, T0, T1);
    os = json_object_get(json_object_get(body, "properties"), "osProfile");
    assert_string_equal(json_string_value(json_object_get(os, "computerName")),
                        "abcdefghijklmnopqrstu");
    json_decref(body);
    fx_release(&f);
}

static void test_extension_body(void **state)
{
    struct fixture f;
    json_t *body;

    (void)state;
    fx_init(&f);
    fx_vm_mode(&f);
    body = rc_arm_extension_body(&f.p, &f.ext[0]);
    assert_no_secret_values(body);
    assert_body(body, &f.p,
                "{\"location\": \"westeurope\","
                " \"tags\": {\"costCenter\": \"ops\", \"team\": \"platform\","
                "  \"azpool.managed-by\": \"azpool\", \"azpool.pool\": \"automation/hybrid-linux\","
                "  \"azpool.owner\": \"6f1d2c3b-aaaa-bbbb-cccc-1234567890ab\"},"
                " \"properties\": {\"publisher\": \"Microsoft.VisualStudio.Services\","
                "  \"type\": \"TeamServicesAgentLinux\", \"typeHandlerVersion\": \"1.0\","
                "  \"autoUpgradeMinorVersion\": true,"
                "  \"settings\": {\"AzureDevOpsOrganizationUrl\": \"https://dev.azure.com/ops\","
                "   \"AgentPool\": \"linux\"},"
                "  \"protectedSettings\": {\"$secretRef\": {\"name\": \"ado\", \"key\": "
                "\"pat\"}}}}");

    /* no settings, no protected settings, no auto upgrade */
    f.ext[1].name = "health";
    f.ext[1].publisher = "Microsoft.ManagedServices";
    f.ext[1].type = "ApplicationHealthLinux";
    f.ext[1].type_handler_version = "2.0";
    assert_body(rc_arm_extension_body(&f.p, &f.ext[1]), &f.p,
                "{\"location\": \"westeurope\","
                " \"tags\": {\"costCenter\": \"ops\", \"team\": \"platform\","
                "  \"azpool.managed-by\": \"azpool\", \"azpool.pool\": \"automation/hybrid-linux\","
                "  \"azpool.owner\": \"6f1d2c3b-aaaa-bbbb-cccc-1234567890ab\"},"
                " \"properties\": {\"publisher\": \"Microsoft.ManagedServices\","
                "  \"type\": \"ApplicationHealthLinux\", \"typeHandlerVersion\": \"2.0\","
                "  \"autoUpgradeMinorVersion\": false}}");
    /* the body holds a copy of the settings, not the model's object */
    body = rc_arm_extension_body(&f.p, &f.ext[0]);
    assert_ptr_not_equal(json_object_get(json_object_get(body, "properties"), "settings"),
                         f.ext[0].settings);
    json_decref(body);
    assert_null(rc_arm_extension_body(&f.p, NULL));
    fx_release(&f);
}

static void test_hrw_extension_body(void **state)
{
    struct fixture f;
    const char *url = "https://0a1b2c3d.jrds.weu.azure-automation.net/automationAccounts/0a1b2c3d";
    json_t *body;

    (void)state;
    fx_init(&f);
    fx_vm_mode(&f);
    body = rc_arm_hrw_extension_body(&f.p, url);
    assert_non_null(body);
    assert_body(json_incref(json_object_get(body, "properties")), NULL,
                "{\"publisher\": \"Microsoft.Azure.Automation.HybridWorker\","
                " \"type\": \"HybridWorkerForLinux\", \"typeHandlerVersion\": \"1.1\","
                " \"autoUpgradeMinorVersion\": true, \"enableAutomaticUpgrade\": true,"
                " \"settings\": {\"AutomationAccountURL\": \"https://0a1b2c3d.jrds.weu.azure-"
                "automation.net/automationAccounts/0a1b2c3d\"}}");
    assert_string_equal(json_string_value(json_object_get(body, "location")), "westeurope");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(body, "tags"), RC_TAG_MANAGED_BY)),
        "azpool");
    json_decref(body);

    f.p.spec.os_profile.os_type = RC_OS_WINDOWS;
    body = rc_arm_hrw_extension_body(&f.p, url);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(body, "properties"), "type")),
        "HybridWorkerForWindows");
    json_decref(body);
    assert_null(rc_arm_hrw_extension_body(&f.p, NULL));
    assert_null(rc_arm_hrw_extension_body(&f.p, ""));
    fx_release(&f);
}

static void test_worker_bodies(void **state)
{
    (void)state;
    assert_body(rc_arm_worker_group_body(), NULL, "{\"properties\": {}}");
    assert_body(rc_arm_worker_body(VM_ID), NULL,
                "{\"properties\": {\"vmResourceId\": \"" VM_ID "\"}}");
    assert_null(rc_arm_worker_body(NULL));
    assert_null(rc_arm_worker_body("hybrid-linux-0-a"));
}

static void test_job_body(void **state)
{
    struct fixture f;

    (void)state;
    fx_init(&f);
    fx_vm_mode(&f);
    f.p.spec.after_create.automation_account_id = AA;
    f.p.spec.after_create.name = "Validate-Worker";
    f.p.spec.after_create.timeout_seconds = 900;
    f.p.spec.after_create.retries = 3;
    f.p.spec.after_create.parameters =
        json_pack("{s:s, s:i, s:b, s:{s:s}, s:s}", "Mode", "quick", "Retries", 2, "Strict", 1,
                  "Extra", "k", "v", RC_ARM_JOB_PARAM_VM, "user value is overridden");
    assert_non_null(f.p.spec.after_create.parameters);
    assert_body(rc_arm_job_body(&f.p, VM_ID), NULL,
                "{\"properties\": {\"runbook\": {\"name\": \"Validate-Worker\"},"
                " \"parameters\": {\"Mode\": \"quick\", \"Retries\": \"2\", \"Strict\": \"true\","
                "  \"Extra\": \"{\\\"k\\\":\\\"v\\\"}\", \"VmResourceId\": \"" VM_ID "\"}}}");
    json_decref(f.p.spec.after_create.parameters);
    f.p.spec.after_create.parameters = NULL;
    assert_body(rc_arm_job_body(&f.p, VM_ID), NULL,
                "{\"properties\": {\"runbook\": {\"name\": \"Validate-Worker\"},"
                " \"parameters\": {\"VmResourceId\": \"" VM_ID "\"}}}");
    assert_null(rc_arm_job_body(&f.p, NULL));
    f.p.spec.after_create.name = NULL;
    assert_null(rc_arm_job_body(&f.p, VM_ID));
    fx_release(&f);
}

static void test_tags_patch_and_secret_ref(void **state)
{
    struct rc_secret_ref ref = {.name = "cloud-init", .key = "user-data"};
    struct rc_secret_ref none = {0};
    json_t *tags = json_pack("{s:s}", RC_TAG_BUSY, "true");

    (void)state;
    assert_body(rc_arm_tags_patch(tags), NULL, "{\"tags\": {\"azpool.busy\": \"true\"}}");
    assert_int_equal(tags->refcount, 1); /* borrowed */
    json_decref(tags);
    assert_null(rc_arm_tags_patch(NULL));
    assert_body(rc_arm_secret_ref(&ref), NULL,
                "{\"$secretRef\": {\"name\": \"cloud-init\", \"key\": \"user-data\"}}");
    assert_null(rc_arm_secret_ref(&none));
    assert_null(rc_arm_secret_ref(NULL));
}

/* ---- ids ---- */

static void test_ids(void **state)
{
    struct fixture f;
    char buf[RC_ARM_ID_MAX], vmss[RC_NAME_MAX + 1];

    (void)state;
    fx_init(&f);
    assert_int_equal(rc_arm_vmss_id(&f.p, buf, sizeof(buf)), 0);
    assert_int_equal(rc_name_vmss("automation", "hybrid-linux", vmss, sizeof(vmss)), 0);
    assert_string_equal(vmss, "hybrid-linux");
    assert_string_equal(buf, RG "/providers/Microsoft.Compute/virtualMachineScaleSets/"
                                "hybrid-linux");
    assert_int_equal(rc_arm_vm_id(&f.p, "hybrid-linux-0-a", buf, sizeof(buf)), 0);
    assert_string_equal(buf, VM_ID);
    assert_int_equal(rc_arm_nic_id(&f.p, "hybrid-linux-0-a", buf, sizeof(buf)), 0);
    assert_string_equal(buf, RG "/providers/Microsoft.Network/networkInterfaces/"
                                "hybrid-linux-0-a-nic");
    assert_int_equal(rc_arm_extension_id(VM_ID, "ado-agent", buf, sizeof(buf)), 0);
    assert_string_equal(buf, VM_ID "/extensions/ado-agent");
    assert_int_equal(rc_arm_extension_id(VM_ID, RC_ARM_HRW_EXTENSION_NAME, buf, sizeof(buf)), 0);
    assert_string_equal(buf, VM_ID "/extensions/HybridWorkerExtension");

    /* errors: missing fields, '/' in names, truncation */
    assert_int_equal(rc_arm_vm_id(&f.p, "a/b", buf, sizeof(buf)), -RC_EINVAL);
    assert_int_equal(rc_arm_vm_id(&f.p, NULL, buf, sizeof(buf)), -RC_EINVAL);
    assert_int_equal(rc_arm_extension_id("not-an-id", "x", buf, sizeof(buf)), -RC_EINVAL);
    assert_int_equal(rc_arm_vmss_id(&f.p, buf, 40), -RC_ELIMIT);
    assert_string_equal(buf, "");
    assert_int_equal(rc_arm_worker_group_id(&f.p, buf, sizeof(buf)), -RC_EINVAL);
    f.p.spec.resource_group = NULL;
    assert_int_equal(rc_arm_vmss_id(&f.p, buf, sizeof(buf)), -RC_EINVAL);
    assert_int_equal(rc_arm_nic_id(&f.p, "x", buf, sizeof(buf)), -RC_EINVAL);
    fx_release(&f);
}

static void test_worker_and_job_ids(void **state)
{
    struct fixture f;
    char buf[RC_ARM_ID_MAX], buf2[RC_ARM_ID_MAX], uuid[37], want[RC_ARM_ID_MAX];
    char lower[] = VM_ID;
    char upper[] = VM_ID;
    size_t i;

    (void)state;
    for (i = 0; lower[i]; i++) {
        if (lower[i] >= 'A' && lower[i] <= 'Z')
            lower[i] = (char)(lower[i] - 'A' + 'a');
        if (upper[i] >= 'a' && upper[i] <= 'z')
            upper[i] = (char)(upper[i] - 'a' + 'A');
    }
    fx_init(&f);
    fx_vm_mode(&f);
    assert_int_equal(rc_arm_worker_group_id(&f.p, buf, sizeof(buf)), 0);
    assert_string_equal(buf, AA "/hybridRunbookWorkerGroups/linux-workers");

    /* worker: UUIDv5 of the lowercased VM id, under the group */
    rc_uuid5(rc_uuid_ns_azpool, lower, uuid, sizeof(uuid));
    assert_int_equal(strlen(uuid), 36);
    assert_int_equal(uuid[14], '5');
    snprintf(want, sizeof(want),
             "%s/hybridRunbookWorkerGroups/linux-workers/hybridRunbookWorkers/%s", AA, uuid);
    assert_int_equal(rc_arm_worker_id(&f.p, VM_ID, buf, sizeof(buf)), 0);
    assert_string_equal(buf, want);
    assert_int_equal(rc_arm_worker_id(&f.p, upper, buf2, sizeof(buf2)), 0);
    assert_string_equal(buf2, want); /* ids are case-insensitive */
    assert_int_equal(rc_arm_worker_name(VM_ID, buf2, sizeof(buf2)), 0);
    assert_string_equal(buf2, uuid);
    assert_int_equal(rc_arm_worker_id(&f.p, RG "/providers/Microsoft.Compute/virtualMachines/other",
                                      buf2, sizeof(buf2)),
                     0);
    assert_string_not_equal(buf2, want);
    assert_int_equal(rc_arm_worker_id(&f.p, "hybrid-linux-0-a", buf, sizeof(buf)), -RC_EINVAL);

    /* job: .../jobs/<UUIDv5 of "vm-id#attempt">, stable per attempt */
    assert_int_equal(rc_arm_job_id(&f.p, VM_ID, 1, buf, sizeof(buf)), -RC_EINVAL); /* no hook */
    f.p.spec.after_create.automation_account_id = AA;
    f.p.spec.after_create.name = "Validate-Worker";
    snprintf(want, sizeof(want), "%s#2", lower);
    rc_uuid5(rc_uuid_ns_azpool, want, uuid, sizeof(uuid));
    snprintf(want, sizeof(want), "%s/jobs/%s", AA, uuid);
    assert_int_equal(rc_arm_job_id(&f.p, VM_ID, 2, buf, sizeof(buf)), 0);
    assert_string_equal(buf, want);
    assert_int_equal(rc_arm_job_id(&f.p, upper, 2, buf2, sizeof(buf2)), 0);
    assert_string_equal(buf2, want);
    assert_int_equal(rc_arm_job_id(&f.p, VM_ID, 3, buf2, sizeof(buf2)), 0);
    assert_string_not_equal(buf2, want);
    assert_int_equal(rc_arm_job_id(&f.p, VM_ID, 0, buf2, sizeof(buf2)), -RC_EINVAL);
    assert_int_equal(rc_arm_job_id(&f.p, VM_ID, 2, buf2, 20), -RC_ELIMIT);
    fx_release(&f);
}

/* ---- images ---- */

static void test_image_reference(void **state)
{
    struct rc_image_src img = {0};
    char buf[RC_ARM_ID_MAX];

    (void)state;
    assert_body(rc_arm_image_reference(IMAGE), NULL, "{\"id\": \"" IMAGE "\"}");
    assert_body(rc_arm_image_reference("MicrosoftWindowsServer:WindowsServer:2022-datacenter:"
                                       "latest"),
                NULL,
                "{\"publisher\": \"MicrosoftWindowsServer\", \"offer\": \"WindowsServer\","
                " \"sku\": \"2022-datacenter\", \"version\": \"latest\"}");
    assert_null(rc_arm_image_reference(NULL));
    assert_null(rc_arm_image_reference(""));
    assert_null(rc_arm_image_reference("a:b:c"));
    assert_null(rc_arm_image_reference("a:b:c:d:e"));
    assert_null(rc_arm_image_reference("a::c:d"));
    assert_null(rc_arm_image_reference("a:b:c:"));
    assert_null(rc_arm_image_reference("/subscriptions/x?api-version=1"));

    assert_int_equal(rc_arm_image_string(&img, buf, sizeof(buf)), -RC_EINVAL);
    img.publisher = "Canonical";
    img.offer = "ubuntu-24_04-lts";
    img.sku = "server";
    assert_int_equal(rc_arm_image_string(&img, buf, sizeof(buf)), -RC_EINVAL);
    img.version = "latest";
    assert_int_equal(rc_arm_image_string(&img, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "Canonical:ubuntu-24_04-lts:server:latest");
    img.id = IMAGE;
    assert_int_equal(rc_arm_image_string(&img, buf, sizeof(buf)), 0);
    assert_string_equal(buf, IMAGE);
}

/* ---- tags ---- */

static void test_tags_ownership(void **state)
{
    struct fixture f;
    json_t *tags;

    (void)state;
    fx_init(&f);
    tags = rc_arm_tags(&f.p, IMAGE, T0, T1);
    assert_non_null(tags);
    assert_body(json_pack("{s:o}", "tags", tags), &f.p,
                "{\"tags\": {\"costCenter\": \"ops\", \"team\": \"platform\","
                " \"azpool.managed-by\": \"azpool\", \"azpool.pool\": \"automation/hybrid-linux\","
                " \"azpool.owner\": \"6f1d2c3b-aaaa-bbbb-cccc-1234567890ab\","
                " \"azpool.image\": \"" IMAGE "\","
                " \"azpool.created-at\": \"2026-11-23T10:00:00Z\","
                " \"azpool.expires-at\": \"2026-11-30T10:00:00Z\"}}");
    assert_null(rc_arm_tags(NULL, IMAGE, T0, T1));
    f.p.meta.namespace = NULL;
    assert_null(rc_arm_tags(&f.p, IMAGE, T0, T1));
    fx_release(&f);
}

static void test_tags_limits(void **state)
{
    static char names[RC_ARM_USER_TAGS_MAX + 2][16];
    struct fixture f;
    struct rc_err err;
    char long_value[RC_ARM_TAG_VALUE_MAX + 2];
    char long_name[RC_ARM_TAG_NAME_MAX + 2];
    json_t *tags;
    size_t i;

    (void)state;
    fx_init(&f);
    for (i = 0; i < RC_ARM_USER_TAGS_MAX + 2; i++) {
        snprintf(names[i], sizeof(names[i]), "tag%zu", i);
        f.tags[i].key = names[i];
        f.tags[i].value = "v";
    }
    /* the most spec.tags allowed still leave room for every azpool tag */
    f.p.spec.n_tags = RC_ARM_USER_TAGS_MAX;
    assert_int_equal(rc_arm_tags_check(&f.p, &err), 0);
    tags = rc_arm_tags(&f.p, IMAGE, T0, T1);
    assert_non_null(tags);
    assert_int_equal(json_object_size(tags), RC_ARM_USER_TAGS_MAX + 7);
    assert_true(json_object_size(tags) + 4 <= RC_ARM_TAGS_MAX);
    json_decref(tags);
    /* one more is refused, not truncated */
    f.p.spec.n_tags = RC_ARM_USER_TAGS_MAX + 1;
    memset(&err, 0, sizeof(err));
    assert_int_equal(rc_arm_tags_check(&f.p, &err), -RC_ELIMIT);
    assert_string_equal(err.path, "spec.tags");
    assert_null(rc_arm_tags(&f.p, IMAGE, T0, T1));
    assert_null(rc_arm_vmss_body(&f.p, IMAGE, 1, T0));

    f.p.spec.n_tags = 2;
    memset(long_value, 'x', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0'; /* 257 characters */
    f.tags[1].value = long_value;
    assert_int_equal(rc_arm_tags_check(&f.p, &err), -RC_ELIMIT);
    assert_null(rc_arm_tags(&f.p, IMAGE, T0, T1));
    long_value[RC_ARM_TAG_VALUE_MAX] = '\0'; /* exactly 256 fits */
    assert_int_equal(rc_arm_tags_check(&f.p, &err), 0);
    tags = rc_arm_tags(&f.p, IMAGE, T0, T1);
    assert_string_equal(json_string_value(json_object_get(tags, "tag1")), long_value);
    json_decref(tags);
    f.tags[1].value = "v";

    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0'; /* 513 characters */
    f.tags[1].key = long_name;
    assert_int_equal(rc_arm_tags_check(&f.p, &err), -RC_EINVAL);
    assert_null(rc_arm_tags(&f.p, IMAGE, T0, T1));
    long_name[RC_ARM_TAG_NAME_MAX] = '\0';
    assert_int_equal(rc_arm_tags_check(&f.p, &err), 0);

    f.tags[1].key = "cost/center";
    assert_int_equal(rc_arm_tags_check(&f.p, &err), -RC_EINVAL);
    f.tags[1].key = "a<b";
    assert_int_equal(rc_arm_tags_check(&f.p, &err), -RC_EINVAL);
    f.tags[1].key = "";
    assert_int_equal(rc_arm_tags_check(&f.p, &err), -RC_EINVAL);
    /* azpool.* names are Azpool's */
    f.tags[1].key = "Azpool.Managed-By";
    assert_int_equal(rc_arm_tags_check(&f.p, &err), -RC_EINVAL);
    assert_null(rc_arm_tags(&f.p, IMAGE, T0, T1));
    /* Azure tag names are case-insensitive: a duplicate in another case */
    f.tags[1].key = "TAG0";
    assert_int_equal(rc_arm_tags_check(&f.p, &err), -RC_EINVAL);
    f.tags[1].key = "tag1";
    assert_int_equal(rc_arm_tags_check(&f.p, &err), 0);

    /* "<namespace>/<name>" must fit the pool tag as it is */
    memset(long_value, 'p', sizeof(long_value) - 1);
    long_value[250] = '\0';
    f.p.meta.name = long_value;
    assert_int_equal(rc_arm_tags_check(&f.p, &err), -RC_ELIMIT);
    assert_null(rc_arm_tags(&f.p, IMAGE, T0, T1));
    fx_release(&f);
}

/* An image id longer than 256 characters is stored as its hash, never cut. */
static void test_tags_long_image_and_owner(void **state)
{
    struct fixture f;
    char image[400], upper[400], val[RC_ARM_TAG_VALUE_MAX + 1], val2[RC_ARM_TAG_VALUE_MAX + 1];
    json_t *tags;
    const char *v;
    size_t i;

    (void)state;
    fx_init(&f);
    snprintf(image, sizeof(image),
             "%s/providers/Microsoft.Compute/galleries/%0100d/images/%080d/versions/1.0.0", RG, 0,
             0);
    assert_true(strlen(image) > RC_ARM_TAG_VALUE_MAX);
    tags = rc_arm_tags(&f.p, image, T0, 0);
    assert_non_null(tags);
    v = json_string_value(json_object_get(tags, RC_TAG_IMAGE));
    assert_non_null(v);
    assert_int_equal(strlen(v), 22);
    assert_memory_equal(v, "fnv64:", 6);
    assert_int_equal(rc_arm_tag_value(image, val, sizeof(val)), 0);
    assert_string_equal(v, val);
    for (i = 0; image[i]; i++)
        upper[i] = (image[i] >= 'a' && image[i] <= 'z') ? (char)(image[i] - 32) : image[i];
    upper[i] = '\0';
    assert_int_equal(rc_arm_tag_value(upper, val2, sizeof(val2)), 0);
    assert_string_equal(val, val2);
    image[strlen(image) - 1] = '1'; /* another version, another value */
    assert_int_equal(rc_arm_tag_value(image, val2, sizeof(val2)), 0);
    assert_string_not_equal(val, val2);
    json_decref(tags);

    assert_int_equal(rc_arm_tag_value(IMAGE, val, sizeof(val)), 0);
    assert_string_equal(val, IMAGE);
    assert_int_equal(rc_arm_tag_value(IMAGE, val, 10), -RC_ELIMIT);
    assert_int_equal(rc_arm_tag_value(NULL, val, sizeof(val)), -RC_EINVAL);

    /* no uid, no image, no times: those tags are left out */
    f.p.meta.uid = NULL;
    tags = rc_arm_tags(&f.p, NULL, 0, 0);
    assert_non_null(tags);
    assert_null(json_object_get(tags, RC_TAG_OWNER));
    assert_null(json_object_get(tags, RC_TAG_IMAGE));
    assert_null(json_object_get(tags, RC_TAG_CREATED_AT));
    assert_null(json_object_get(tags, RC_TAG_EXPIRES_AT));
    assert_string_equal(json_string_value(json_object_get(tags, RC_TAG_MANAGED_BY)),
                        RC_MANAGED_BY_VALUE);
    assert_non_null(json_object_get(tags, RC_TAG_SPEC_HASH));
    json_decref(tags);
    fx_release(&f);
}

/* ---- spec hash ---- */

static void hash_of(const struct rc_pool *p, char *buf)
{
    size_t i;

    rc_arm_spec_hash(p, buf, 17);
    assert_int_equal(strlen(buf), 16);
    for (i = 0; i < 16; i++)
        assert_non_null(strchr("0123456789abcdef", buf[i]));
}

static void test_spec_hash_stable(void **state)
{
    struct fixture a, b;
    char ha[17], hb[17];
    struct rc_kv swapped[2];
    char *keys_swapped[2];

    (void)state;
    fx_init(&a);
    fx_init(&b);
    hash_of(&a.p, ha);
    hash_of(&a.p, hb);
    assert_string_equal(ha, hb); /* same spec, same hash */
    hash_of(&b.p, hb);
    assert_string_equal(ha, hb); /* built twice, same hash */

    /* order in the manifest does not matter: tags, ssh keys, settings keys */
    swapped[0] = b.tags[1];
    swapped[1] = b.tags[0];
    b.p.spec.tags = swapped;
    b.p.spec.os_profile.n_ssh_public_keys = 2;
    a.p.spec.os_profile.n_ssh_public_keys = 2;
    keys_swapped[0] = b.keys[1];
    keys_swapped[1] = b.keys[0];
    b.p.spec.os_profile.ssh_public_keys = keys_swapped;
    json_decref(b.ext[0].settings);
    b.ext[0].settings = json_pack("{s:s, s:s}", "AgentPool", "linux", "AzureDevOpsOrganizationUrl",
                                  "https://dev.azure.com/ops");
    hash_of(&a.p, ha);
    hash_of(&b.p, hb);
    assert_string_equal(ha, hb);

    /* not part of the hash: image, capacity, autoscale, rollout, hooks, HRW group */
    b.p.spec.image.id = IMAGE;
    b.p.spec.replicas = 17;
    b.p.spec.autoscale.enabled = true;
    b.p.spec.autoscale.max_replicas = 20;
    b.p.spec.drain_timeout_ms = 5;
    b.p.spec.after_create.name = "Validate-Worker";
    b.p.spec.hybrid_worker.group = "other-group";
    b.p.spec.location = "West Europe"; /* Azure's other spelling of westeurope */
    b.p.spec.vm_size = "standard_d2s_v5";
    hash_of(&b.p, hb);
    assert_string_equal(ha, hb);
    fx_release(&a);
    fx_release(&b);
}

static void test_spec_hash_changes(void **state)
{
    struct fixture f;
    char base[17], h[17];

    (void)state;
    fx_init(&f);
    hash_of(&f.p, base);

#define EXPECT_CHANGE(stmt, undo)                                                                  \
    do {                                                                                           \
        stmt;                                                                                      \
        hash_of(&f.p, h);                                                                          \
        assert_string_not_equal(base, h);                                                          \
        undo;                                                                                      \
        hash_of(&f.p, h);                                                                          \
        assert_string_equal(base, h);                                                              \
    } while (0)

    EXPECT_CHANGE(f.p.spec.vm_size = "Standard_D4s_v5", f.p.spec.vm_size = "Standard_D2s_v5");
    EXPECT_CHANGE(f.ext[0].type_handler_version = "1.1", f.ext[0].type_handler_version = "1.0");
    EXPECT_CHANGE(json_object_set_new(f.ext[0].settings, "AgentPool", json_string("other")),
                  json_object_set_new(f.ext[0].settings, "AgentPool", json_string("linux")));
    EXPECT_CHANGE(f.ext[0].protected_settings.key = "pat2",
                  f.ext[0].protected_settings.key = "pat");
    EXPECT_CHANGE(f.p.spec.n_extensions = 0, f.p.spec.n_extensions = 1);
    EXPECT_CHANGE(f.p.spec.subnet_id =
                      RG "/providers/Microsoft.Network/virtualNetworks/v/subnets/b",
                  f.p.spec.subnet_id = SUBNET);
    EXPECT_CHANGE(f.p.spec.identity.type = RC_IDENTITY_NONE,
                  f.p.spec.identity.type = RC_IDENTITY_SYSTEM);
    EXPECT_CHANGE(f.p.spec.os_profile.admin_username = "ops",
                  f.p.spec.os_profile.admin_username = "azpool");
    EXPECT_CHANGE(f.p.spec.os_profile.n_ssh_public_keys = 2,
                  f.p.spec.os_profile.n_ssh_public_keys = 1);
    EXPECT_CHANGE(f.p.spec.os_profile.custom_data.name = "other",
                  f.p.spec.os_profile.custom_data.name = "cloud-init");
    EXPECT_CHANGE(f.p.spec.os_profile.os_type = RC_OS_WINDOWS,
                  f.p.spec.os_profile.os_type = RC_OS_LINUX);
    EXPECT_CHANGE(f.p.spec.patch_mode = NULL, f.p.spec.patch_mode = "AutomaticByPlatform");
    EXPECT_CHANGE(f.tags[0].value = "finance", f.tags[0].value = "ops");
    EXPECT_CHANGE(f.p.spec.n_tags = 1, f.p.spec.n_tags = 2);
    EXPECT_CHANGE(f.p.spec.orchestration = RC_ORCH_FLEXIBLE,
                  f.p.spec.orchestration = RC_ORCH_UNIFORM);
    EXPECT_CHANGE(f.p.spec.location = "northeurope", f.p.spec.location = "westeurope");
    EXPECT_CHANGE(f.p.spec.hybrid_worker.automation_account_id = AA,
                  f.p.spec.hybrid_worker.automation_account_id = NULL);
#undef EXPECT_CHANGE

    /* the tag carries it */
    json_t *tags = rc_arm_tags(&f.p, IMAGE, T0, 0);
    assert_string_equal(json_string_value(json_object_get(tags, RC_TAG_SPEC_HASH)), base);
    json_decref(tags);
    fx_release(&f);
}

/* The same pool gives byte-identical bodies (plans are compared byte for byte). */
static void test_bodies_deterministic(void **state)
{
    struct fixture f;
    json_t *a, *b;
    char *ta, *tb;

    (void)state;
    fx_init(&f);
    a = rc_arm_vmss_body(&f.p, IMAGE, 3, T0);
    b = rc_arm_vmss_body(&f.p, IMAGE, 3, T0);
    ta = json_dumps(a, JSON_COMPACT);
    tb = json_dumps(b, JSON_COMPACT);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
    json_decref(a);
    json_decref(b);
    fx_release(&f);
}

static void test_spec_hash_identities_and_edges(void **state)
{
    struct fixture f;
    char ha[17], hb[17], small[8];
    char *swapped[2];

    (void)state;
    fx_init(&f);
    f.p.spec.identity.type = RC_IDENTITY_USER;
    f.p.spec.identity.user_assigned = f.uai;
    f.p.spec.identity.n_user_assigned = 2;
    hash_of(&f.p, ha);
    swapped[0] = f.uai[1];
    swapped[1] = f.uai[0];
    f.p.spec.identity.user_assigned = swapped;
    hash_of(&f.p, hb);
    assert_string_equal(ha, hb); /* identity order does not matter */
    f.p.spec.identity.n_user_assigned = 1;
    hash_of(&f.p, hb);
    assert_string_not_equal(ha, hb);
    /* a hybrid worker registration adds the system identity */
    f.p.spec.hybrid_worker.automation_account_id = AA;
    f.p.spec.identity.type = RC_IDENTITY_NONE;
    hash_of(&f.p, ha);
    f.p.spec.identity.type = RC_IDENTITY_SYSTEM;
    hash_of(&f.p, hb);
    assert_string_equal(ha, hb);

    rc_arm_spec_hash(NULL, ha, sizeof(ha));
    assert_string_equal(ha, "");
    memset(small, 'x', sizeof(small));
    rc_arm_spec_hash(&f.p, small, sizeof(small));
    assert_string_equal(small, ""); /* too small: empty, never a cut hash */
    fx_release(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vmss_body_uniform_linux),
        cmocka_unit_test(test_vmss_body_flexible_user_identity_marketplace),
        cmocka_unit_test(test_vmss_body_windows),
        cmocka_unit_test(test_vmss_body_missing_fields),
        cmocka_unit_test(test_vmss_patch),
        cmocka_unit_test(test_instance_ids_body),
        cmocka_unit_test(test_nic_body),
        cmocka_unit_test(test_vm_body_linux),
        cmocka_unit_test(test_vm_body_variants),
        cmocka_unit_test(test_vm_body_windows_host_name),
        cmocka_unit_test(test_extension_body),
        cmocka_unit_test(test_hrw_extension_body),
        cmocka_unit_test(test_worker_bodies),
        cmocka_unit_test(test_job_body),
        cmocka_unit_test(test_tags_patch_and_secret_ref),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_worker_and_job_ids),
        cmocka_unit_test(test_image_reference),
        cmocka_unit_test(test_tags_ownership),
        cmocka_unit_test(test_tags_limits),
        cmocka_unit_test(test_tags_long_image_and_owner),
        cmocka_unit_test(test_spec_hash_stable),
        cmocka_unit_test(test_spec_hash_changes),
        cmocka_unit_test(test_spec_hash_identities_and_edges),
        cmocka_unit_test(test_bodies_deterministic),
    };

    return az_run_tests("arm", tests);
}
