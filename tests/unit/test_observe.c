/* test_observe.c - ARM JSON (shaped like shared/reference/azure-arm.md §5-§8) -> rc_observed. */
#include "test_main.h"

#include <stdlib.h>
#include <string.h>

#include "rc_observed.h"

#define SUB     "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-workers"
#define VMSS_ID SUB "/providers/Microsoft.Compute/virtualMachineScaleSets/hw"
#define DEF_ID  SUB "/providers/Microsoft.Compute/galleries/g/images/ubuntu"
#define AA_ID   SUB "/providers/Microsoft.Automation/automationAccounts/aa-ops"

/* The fixtures are written with ' for " (they contain no apostrophes). */
static int observe(struct rc_observed *have, const char *text, struct rc_errs *errs)
{
    char *s = strdup(text);
    int r;

    assert_non_null(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    r = rc_observe_arm_text(have, "obs.json", s, strlen(s), errs);
    free(s);
    return r;
}

static int64_t T(const char *s)
{
    int64_t ms = 0;

    assert_int_equal(rc_time_parse(s, &ms, NULL), 0);
    return ms;
}

static const struct rc_obs_instance *inst(const struct rc_observed *h, const char *name)
{
    for (size_t i = 0; i < h->n_instances; i++)
        if (strcmp(h->instances[i].name, name) == 0)
            return &h->instances[i];
    fail_msg("instance %s not observed", name);
    return NULL;
}

static const char *tag(const struct rc_owned *o, const char *k)
{
    for (size_t i = 0; i < o->n_tags; i++)
        if (strcmp(o->tags[i].key, k) == 0)
            return o->tags[i].value;
    return NULL;
}

static const char vmss_list[] =
    "{'value':[{'id':'" VMSS_ID "','name':'hw','type':'Microsoft.Compute/virtualMachineScaleSets',"
    "'location':'westeurope','etag':'\\'3\\'',"
    "'tags':{'azpool.managed-by':'azpool','azpool.pool':'ops/hw','azpool.owner':'uid-1',"
    "'azpool.spec-hash':'abc123','azpool.last-scale-time':'2026-11-23T09:00:00Z',"
    "'costCenter':'ops'},"
    "'sku':{'name':'Standard_D2s_v5','tier':'Standard','capacity':3},"
    "'properties':{'orchestrationMode':'Uniform','upgradePolicy':{'mode':'Manual'},"
    "'provisioningState':'Succeeded','timeCreated':'2026-11-20T01:02:38.3138469+00:00',"
    "'virtualMachineProfile':{'storageProfile':{'imageReference':{'id':'" DEF_ID
    "/versions/1.5.0'},"
    "'osDisk':{'createOption':'FromImage'}},'osProfile':{'computerNamePrefix':'hw',"
    "'adminUsername':'azpool'}}}}],'nextLink':null}";

static void test_vmss(void **state)
{
    struct rc_observed h = {0};
    struct rc_errs errs = {0};
    const struct rc_obs_scale_set *s;

    (void)state;
    assert_int_equal(observe(&h, vmss_list, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_int_equal(h.n_scale_sets, 1);
    s = &h.scale_sets[0];
    assert_string_equal(s->id, VMSS_ID);
    assert_string_equal(s->name, "hw");
    assert_string_equal(s->location, "westeurope");
    assert_string_equal(s->orchestration, "Uniform");
    assert_int_equal(s->capacity, 3);
    assert_string_equal(s->vm_size, "Standard_D2s_v5");
    assert_string_equal(s->image, DEF_ID "/versions/1.5.0");
    assert_string_equal(s->spec_hash, "abc123");
    assert_int_equal(s->last_scale_ms, T("2026-11-23T09:00:00Z"));
    assert_null(s->halted_image);
    assert_string_equal(s->provisioning_state, "Succeeded");
    assert_true(s->own.managed);
    assert_string_equal(s->own.pool, "ops/hw");
    assert_string_equal(s->own.owner, "uid-1");
    assert_int_equal(s->own.n_tags, 6);
    assert_string_equal(tag(&s->own, "costCenter"), "ops");
    rc_observed_release(&h);
    assert_int_equal(h.n_scale_sets, 0);
    assert_null(h.scale_sets);
    rc_errs_release(&errs);
}

/* VMSS VMs with $expand=instanceView, one per state. */
static const char vmss_vms[] =
    "{'value':["
    /* 0: the spec example: type virtualMachines, exactVersion, running */
    "{'id':'" VMSS_ID "/virtualMachines/0','name':'hw_0','instanceId':'0',"
    "'type':'Microsoft.Compute/virtualMachines','location':'westus','tags':{},'etag':'\\'1\\'',"
    "'zones':['1'],'sku':{'name':'Standard_D2s_v3','tier':'Standard'},"
    "'properties':{'latestModelApplied':true,'modelDefinitionApplied':'VirtualMachineScaleSet',"
    "'vmId':'0f0c1a2b-0000-4000-8000-000000000000','provisioningState':'Succeeded',"
    "'timeCreated':'2021-06-27T01:02:38.3138469+00:00','osProfile':{'computerName':'hw000000'},"
    "'storageProfile':{'imageReference':{'id':'" DEF_ID "','exactVersion':'1.2.3'}},"
    "'protectionPolicy':{'protectFromScaleIn':false,'protectFromScaleSetActions':false},"
    "'instanceView':{'statuses':[{'code':'ProvisioningState/succeeded'},"
    "{'code':'PowerState/running'}]}}},"
    /* 3: creating, not yet running, old model */
    "{'id':'" VMSS_ID "/virtualMachines/3','name':'hw_3','instanceId':'3',"
    "'type':'Microsoft.Compute/virtualMachineScaleSets/virtualMachines',"
    "'properties':{'latestModelApplied':false,'provisioningState':'Creating',"
    "'timeCreated':'2026-11-23T09:59:00Z',"
    "'instanceView':{'statuses':[{'code':'ProvisioningState/creating'},"
    "{'code':'PowerState/starting'}]}}},"
    /* 7: allocation failed */
    "{'id':'" VMSS_ID "/virtualMachines/7','name':'hw_7','instanceId':'7',"
    "'type':'Microsoft.Compute/virtualMachines',"
    "'properties':{'provisioningState':'Failed',"
    "'instanceView':{'statuses':[{'code':'ProvisioningState/failed/AllocationFailed',"
    "'level':'Error','displayStatus':'Provisioning failed'}]}}},"
    /* 8: deleting */
    "{'id':'" VMSS_ID "/virtualMachines/8','name':'hw_8','instanceId':'8',"
    "'type':'Microsoft.Compute/virtualMachines','properties':{'provisioningState':'Deleting'}},"
    /* 9: succeeded but stopped */
    "{'id':'" VMSS_ID "/virtualMachines/9','name':'hw_9','instanceId':'9',"
    "'type':'Microsoft.Compute/virtualMachines','properties':{'provisioningState':'succeeded',"
    "'instanceView':{'statuses':[{'code':'PowerState/stopped'}]}}},"
    /* 10: running but unhealthy */
    "{'id':'" VMSS_ID "/virtualMachines/10','name':'hw_10','instanceId':'10',"
    "'type':'Microsoft.Compute/virtualMachines','properties':{'provisioningState':'Succeeded',"
    "'instanceView':{'vmHealth':{'status':{'code':'HealthState/unhealthy'}},"
    "'statuses':[{'code':'PowerState/running'}]}}},"
    /* 11: updating an instance that runs (an extension change) */
    "{'id':'" VMSS_ID "/virtualMachines/11','name':'hw_11','instanceId':'11',"
    "'type':'Microsoft.Compute/virtualMachines','properties':{'provisioningState':'Updating',"
    "'instanceView':{'statuses':[{'code':'PowerState/running'}]}}},"
    /* 12: no instanceView, no name, no provisioningState (= Succeeded) */
    "{'id':'" VMSS_ID "/virtualMachines/12','properties':{}}"
    "]}";

/* A Uniform id that is not exactly scale set + "/virtualMachines/" +
 * instanceId (other case, or an instanceId that differs from the last
 * segment) is stored as given; a standalone VM always stores its id. */
static void test_uniform_ids_stored_when_not_canonical(void **state)
{
    static const char list[] =
        "{'value':["
        "{'id':'" VMSS_ID "/VirtualMachines/4','name':'hw_4','instanceId':'4',"
        "'type':'Microsoft.Compute/virtualMachines','properties':{}},"
        "{'id':'" VMSS_ID "/virtualMachines/5','name':'hw_5','instanceId':'05',"
        "'type':'Microsoft.Compute/virtualMachines','properties':{}},"
        "{'id':'" VMSS_ID "/virtualMachines/6','name':'hw_6',"
        "'type':'Microsoft.Compute/virtualMachines','properties':{}}"
        "]}";
    struct rc_observed h = {0};
    struct rc_errs errs = {0};
    char buf[RC_OBS_ID_MAX];

    (void)state;
    assert_int_equal(observe(&h, list, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_int_equal(h.n_instances, 3);
    assert_string_equal(inst(&h, "hw_4")->id, VMSS_ID "/VirtualMachines/4");
    assert_string_equal(inst(&h, "hw_5")->id, VMSS_ID "/virtualMachines/5");
    assert_string_equal(inst(&h, "hw_5")->instance_id, "05");
    assert_null(inst(&h, "hw_6")->id); /* instanceId from the id: canonical */
    assert_string_equal(rc_obs_instance_id(inst(&h, "hw_6"), buf, sizeof(buf)),
                        VMSS_ID "/virtualMachines/6");
    assert_string_equal(rc_obs_instance_id(inst(&h, "hw_4"), buf, sizeof(buf)),
                        VMSS_ID "/VirtualMachines/4");
    assert_true(rc_obs_instance_id_is(inst(&h, "hw_5"), VMSS_ID "/virtualmachines/5"));
    assert_false(rc_obs_instance_id_is(inst(&h, "hw_5"), VMSS_ID "/virtualMachines/05"));
    rc_observed_release(&h);
    rc_errs_release(&errs);
}

static void test_vmss_vms(void **state)
{
    struct rc_observed h = {0};
    struct rc_errs errs = {0};
    const struct rc_obs_instance *x;

    (void)state;
    assert_int_equal(observe(&h, vmss_vms, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_int_equal(h.n_instances, 8);

    x = inst(&h, "hw_0");
    /* the canonical Uniform id is not stored, but rebuilt (rc_observed.h) */
    assert_null(x->id);
    {
        char buf[RC_OBS_ID_MAX];

        assert_string_equal(rc_obs_instance_id(x, buf, sizeof(buf)), VMSS_ID "/virtualMachines/0");
        assert_null(rc_obs_instance_id(x, buf, 10)); /* does not fit */
        assert_true(rc_obs_instance_id_is(x, VMSS_ID "/virtualMachines/0"));
        assert_true(rc_obs_instance_id_is(x, VMSS_ID "/VIRTUALMACHINES/0"));
        assert_false(rc_obs_instance_id_is(x, VMSS_ID "/virtualMachines/01"));
        assert_false(rc_obs_instance_id_is(x, VMSS_ID "/virtualMachines/"));
        assert_false(rc_obs_instance_id_is(x, VMSS_ID));
    }
    assert_string_equal(x->instance_id, "0");
    assert_string_equal(x->scale_set_id, VMSS_ID);
    assert_string_equal(x->vm_id, "0f0c1a2b-0000-4000-8000-000000000000");
    assert_string_equal(x->computer_name, "hw000000");
    assert_string_equal(x->image, DEF_ID "/versions/1.2.3");
    assert_true(x->latest_model);
    assert_int_equal(x->created_ms, T("2021-06-27T01:02:38.313Z"));
    assert_string_equal(x->power_state, "running");
    assert_string_equal(x->provisioning_state, "Succeeded");
    assert_int_equal(x->state, RC_INST_READY);
    assert_false(x->busy);
    /* a Uniform instance without tags of its own: kept as it is */
    assert_false(x->own.managed);
    assert_null(x->own.pool);
    assert_int_equal(x->own.n_tags, 0);

    x = inst(&h, "hw_3");
    assert_false(x->latest_model);
    assert_int_equal(x->state, RC_INST_PROVISIONING);
    assert_string_equal(x->power_state, "starting");
    assert_int_equal(inst(&h, "hw_7")->state, RC_INST_FAILED);
    assert_int_equal(inst(&h, "hw_8")->state, RC_INST_DELETING);
    assert_int_equal(inst(&h, "hw_9")->state, RC_INST_PROVISIONING);
    x = inst(&h, "hw_10");
    assert_true(x->unhealthy);
    assert_int_equal(x->state, RC_INST_FAILED);
    assert_int_equal(inst(&h, "hw_11")->state, RC_INST_READY);
    x = inst(&h, "hw_12");
    assert_string_equal(x->instance_id, "12");
    assert_int_equal(x->state, RC_INST_READY);
    assert_null(x->power_state);
    assert_int_equal(x->created_ms, 0);
    assert_true(x->latest_model);

    assert_string_equal(rc_inst_state_name(RC_INST_READY), "Ready");
    assert_string_equal(rc_inst_state_name(RC_INST_PROVISIONING), "Provisioning");
    assert_string_equal(rc_inst_state_name(RC_INST_REGISTERING), "Registering");
    assert_string_equal(rc_inst_state_name(RC_INST_DRAINING), "Draining");
    assert_string_equal(rc_inst_state_name(RC_INST_DELETING), "Deleting");
    assert_string_equal(rc_inst_state_name(RC_INST_FAILED), "Failed");
    rc_observed_release(&h);
    rc_errs_release(&errs);
}

#define VM_ID  SUB "/providers/Microsoft.Compute/virtualMachines/hw-0-a"
#define NIC_ID SUB "/providers/Microsoft.Network/networkInterfaces/hw-0-a-nic"

static const char vms[] =
    "{'value':[{'id':'" VM_ID "','name':'hw-0-a','type':'Microsoft.Compute/virtualMachines',"
    "'location':'westeurope',"
    "'tags':{'azpool.managed-by':'azpool','azpool.pool':'ops/hw','azpool.owner':'uid-1',"
    "'azpool.image':'" DEF_ID "/versions/1.5.0','azpool.created-at':'2026-11-15T09:00:00Z',"
    "'azpool.expires-at':'2026-11-22T09:00:00Z','azpool.busy':'True',"
    "'azpool.draining-since':'2026-11-23T09:30:00Z','azpool.spec-hash':'h1'},"
    "'identity':{'type':'SystemAssigned','principalId':'p','tenantId':'t'},"
    "'properties':{'vmId':'11111111-0000-4000-8000-000000000000',"
    "'hardwareProfile':{'vmSize':'Standard_D2s_v5'},"
    "'storageProfile':{'imageReference':{'id':'" DEF_ID "/versions/1.5.0',"
    "'exactVersion':'1.5.0'},'osDisk':{'createOption':'FromImage','deleteOption':'Delete'}},"
    "'osProfile':{'computerName':'hw-0-a','adminUsername':'azpool'},"
    "'networkProfile':{'networkInterfaces':["
    "{'id':'" SUB "/providers/Microsoft.Network/networkInterfaces/other',"
    "'properties':{'primary':false}},"
    "{'id':'" NIC_ID "','properties':{'primary':true,'deleteOption':'Delete'}}]},"
    "'provisioningState':'Succeeded','timeCreated':'2026-11-15T09:00:12.5+00:00',"
    "'instanceView':{'computerName':'hw-0-a','statuses':[{'code':'ProvisioningState/succeeded'},"
    "{'code':'PowerState/running'}]}},"
    "'resources':[{'id':'" VM_ID "/extensions/HybridWorkerExtension','name':"
    "'HybridWorkerExtension','type':'Microsoft.Compute/virtualMachines/extensions',"
    "'properties':{'publisher':'Microsoft.Azure.Automation.HybridWorker',"
    "'type':'HybridWorkerForLinux','typeHandlerVersion':'1.1',"
    "'provisioningState':'Creating'}}]},"
    /* a Flexible member, marketplace image */
    "{'id':'" SUB "/providers/Microsoft.Compute/virtualMachines/flex_1a2b3c4d',"
    "'name':'flex_1a2b3c4d','type':'Microsoft.Compute/virtualMachines',"
    "'properties':{'virtualMachineScaleSet':{'id':'" SUB
    "/providers/Microsoft.Compute/virtualMachineScaleSets/flex'},"
    "'storageProfile':{'imageReference':{'publisher':'Canonical',"
    "'offer':'0001-com-ubuntu-server-jammy','sku':'22_04-lts-gen2','version':'latest',"
    "'exactVersion':'22.04.202611010'}},'provisioningState':'Creating'}},"
    /* a NIC (§6) attached to the VM */
    "{'id':'" NIC_ID "','name':'hw-0-a-nic','type':'Microsoft.Network/networkInterfaces',"
    "'location':'westeurope','tags':{'azpool.managed-by':'azpool','azpool.pool':'ops/hw'},"
    "'properties':{'provisioningState':'Succeeded','virtualMachine':{'id':'" VM_ID "'},"
    "'ipConfigurations':[{'name':'ipconfig1','properties':{'privateIPAddress':'10.0.0.4',"
    "'privateIPAllocationMethod':'Dynamic','primary':true}}]}},"
    /* a separate extension item for the VM */
    "{'id':'" VM_ID "/extensions/DevOpsAgent','name':'DevOpsAgent',"
    "'type':'Microsoft.Compute/virtualMachines/extensions',"
    "'properties':{'publisher':'Microsoft.VisualStudio.Services',"
    "'type':'TeamServicesAgentLinux','provisioningState':'Succeeded'}}"
    "]}";

static void test_vm_nic_extensions(void **state)
{
    struct rc_observed h = {0};
    struct rc_errs errs = {0};
    const struct rc_obs_instance *x;

    (void)state;
    assert_int_equal(observe(&h, vms, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_int_equal(h.n_instances, 2);
    x = inst(&h, "hw-0-a");
    assert_null(x->instance_id);
    assert_null(x->scale_set_id);
    assert_true(x->latest_model);
    assert_string_equal(x->image, DEF_ID "/versions/1.5.0");
    assert_int_equal(x->created_ms, T("2026-11-15T09:00:12.500Z"));
    assert_int_equal(x->expires_ms, T("2026-11-22T09:00:00Z"));
    assert_int_equal(x->draining_since_ms, T("2026-11-23T09:30:00Z"));
    assert_string_equal(x->spec_hash, "h1");
    assert_true(x->busy);
    assert_true(x->own.managed);
    assert_string_equal(x->own.pool, "ops/hw");
    assert_string_equal(x->nic_id, NIC_ID);
    assert_string_equal(x->computer_name, "hw-0-a");
    assert_int_equal(x->state, RC_INST_READY);
    assert_int_equal(x->n_extensions, 2);
    assert_string_equal(x->extensions[0].name, "HybridWorkerExtension");
    assert_string_equal(x->extensions[0].publisher, "Microsoft.Azure.Automation.HybridWorker");
    assert_string_equal(x->extensions[0].type, "HybridWorkerForLinux");
    assert_string_equal(x->extensions[0].provisioning_state, "Creating");
    assert_string_equal(x->extensions[1].name, "DevOpsAgent");
    assert_string_equal(x->extensions[1].provisioning_state, "Succeeded");

    x = inst(&h, "flex_1a2b3c4d");
    assert_string_equal(x->scale_set_id,
                        SUB "/providers/Microsoft.Compute/virtualMachineScaleSets/flex");
    assert_string_equal(x->instance_id, "flex_1a2b3c4d");
    assert_string_equal(x->image, "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest");
    assert_int_equal(x->state, RC_INST_PROVISIONING);
    assert_false(x->own.managed);

    assert_int_equal(h.n_nics, 1);
    assert_string_equal(h.nics[0].id, NIC_ID);
    assert_string_equal(h.nics[0].name, "hw-0-a-nic");
    assert_string_equal(h.nics[0].vm_id, VM_ID);
    assert_string_equal(h.nics[0].provisioning_state, "Succeeded");
    assert_true(h.nics[0].own.managed);
    rc_observed_release(&h);
    rc_errs_release(&errs);
}

static const char versions[] =
    "{'value':[{'name':'1.0.0','location':'West US','id':'" DEF_ID "/versions/1.0.0',"
    "'type':'Microsoft.Compute/galleries/images/versions',"
    "'properties':{'provisioningState':'Succeeded',"
    "'publishingProfile':{'publishedDate':'2018-01-01T00:00:00Z','excludeFromLatest':false,"
    "'endOfLifeDate':'2026-06-26T00:00:00Z','replicaCount':1,'storageAccountType':'Standard_LRS',"
    "'targetRegions':[{'name':'West US','regionalReplicaCount':1,"
    "'storageAccountType':'Standard_LRS','excludeFromLatest':false}]},"
    "'storageProfile':{'source':{'id':'x'},'osDiskImage':{'sizeInGB':10,"
    "'hostCaching':'ReadOnly'},'dataDiskImages':[]},"
    "'safetyProfile':{'allowDeletionOfReplicatedLocations':false}}},"
    /* mixed-case segment keywords, as some payloads have them */
    "{'name':'1.5.0','id':'" SUB
    "/providers/Microsoft.Compute/Galleries/g/Images/ubuntu/Versions/1.5.0',"
    "'properties':{'provisioningState':'Creating','publishingProfile':{"
    "'publishedDate':'2026-11-20T10:11:12.1234567+00:00','excludeFromLatest':true}}}],"
    "'nextLink':'https://management.azure.com/x?$skiptoken=1'}";

static void test_gallery_versions(void **state)
{
    struct rc_observed h = {0};
    struct rc_errs errs = {0};

    (void)state;
    assert_int_equal(observe(&h, versions, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_int_equal(h.n_image_versions, 2);
    assert_string_equal(h.image_versions[0].name, "1.0.0");
    assert_string_equal(h.image_versions[0].image_definition_id, DEF_ID);
    assert_false(h.image_versions[0].exclude_from_latest);
    assert_int_equal(h.image_versions[0].published_ms, T("2018-01-01T00:00:00Z"));
    assert_string_equal(h.image_versions[0].provisioning_state, "Succeeded");
    assert_string_equal(h.image_versions[1].name, "1.5.0");
    assert_true(h.image_versions[1].exclude_from_latest);
    assert_int_equal(h.image_versions[1].published_ms, T("2026-11-20T10:11:12.123Z"));
    assert_string_equal(h.image_versions[1].image_definition_id,
                        SUB "/providers/Microsoft.Compute/Galleries/g/Images/ubuntu");
    rc_observed_release(&h);
    rc_errs_release(&errs);
}

static void test_workers_jobs_templates(void **state)
{
    struct rc_observed h = {0};
    struct rc_errs errs = {0};
    char job_name[37], text[8192];
    const char *tpl = SUB "/providers/Microsoft.VirtualMachineImages/imageTemplates/golden";

    (void)state;
    /* §8: PUT worker response, a group, and a list of both */
    rc_uuid5(rc_uuid_ns_azpool,
             "/subscriptions/11111111-2222-3333-4444-555555555555/"
             "resourcegroups/rg-workers/providers/microsoft.compute/"
             "virtualmachines/hw-0-a#2",
             job_name, sizeof(job_name));
    snprintf(
        text, sizeof(text),
        "{'value':["
        "{'id':'%s/hybridRunbookWorkerGroups/linux-workers','name':'linux-workers',"
        "'type':'Microsoft.Automation/AutomationAccounts/HybridRunbookWorkerGroups',"
        "'properties':{'groupType':'User','credential':{'name':'runAs'}}},"
        "{'id':'%s/hybridRunbookWorkerGroups/linux-workers/hybridRunbookWorkers/"
        "5a3b2c1d-0000-5000-8000-000000000000','name':'5a3b2c1d-0000-5000-8000-000000000000',"
        "'type':'Microsoft.Automation/AutomationAccounts/HybridRunbookWorkerGroups/"
        "HybridRunbookWorkers','properties':{'ip':'10.0.0.4',"
        "'registeredDateTime':'2026-11-15T09:05:00Z','lastSeenDateTime':'2026-11-23T09:59:00Z',"
        "'vmResourceId':'%s','workerName':'hw-0-a','workerType':'HybridV2'}},"
        "{'id':'%s/jobs/%s','name':'%s','type':'Microsoft.Automation/AutomationAccounts/Jobs',"
        "'properties':{'runbook':{'name':'Validate-Worker'},'status':'Failed',"
        "'creationTime':'2026-11-23T09:30:00.1234567+00:00',"
        "'parameters':{'VmResourceId':'%s','Mode':'full'}}},"
        "{'id':'%s','type':'Microsoft.VirtualMachineImages/imageTemplates','location':'westeurope',"
        "'properties':{'lastRunStatus':{'startTime':'2026-11-23T08:00:00Z',"
        "'endTime':'0001-01-01T00:00:00Z','runState':'Running','runSubState':'Building',"
        "'message':''}}},"
        "{'id':'%s/runOutputs/out','name':'out',"
        "'type':'Microsoft.VirtualMachineImages/imageTemplates/runOutputs',"
        "'properties':{'artifactId':'%s/versions/1.6.0','provisioningState':'Succeeded'}}"
        "]}",
        AA_ID, AA_ID, VM_ID, AA_ID, job_name, job_name, VM_ID, tpl, tpl, DEF_ID);
    assert_int_equal(observe(&h, text, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_int_equal(h.n_groups, 1);
    assert_string_equal(h.groups[0].name, "linux-workers");
    assert_string_equal(h.groups[0].id, AA_ID "/hybridRunbookWorkerGroups/linux-workers");
    assert_int_equal(h.n_workers, 1);
    assert_string_equal(h.workers[0].name, "5a3b2c1d-0000-5000-8000-000000000000");
    assert_string_equal(h.workers[0].group_id, AA_ID "/hybridRunbookWorkerGroups/linux-workers");
    assert_string_equal(h.workers[0].vm_resource_id, VM_ID);
    assert_int_equal(h.n_jobs, 1);
    assert_string_equal(h.jobs[0].runbook, "Validate-Worker");
    assert_string_equal(h.jobs[0].status, "Failed");
    assert_string_equal(h.jobs[0].instance_id, VM_ID);
    assert_int_equal(h.jobs[0].attempt, 2);
    assert_int_equal(h.jobs[0].created_ms, 1795426200123LL); /* creationTime, 7-digit fraction */
    assert_int_equal(h.n_templates, 1);
    assert_string_equal(h.templates[0].run_state, "Running");
    assert_int_equal(h.templates[0].run_start_ms, T("2026-11-23T08:00:00Z"));
    assert_int_equal(h.templates[0].run_end_ms, 0);
    assert_string_equal(h.templates[0].artifact_id, DEF_ID "/versions/1.6.0");
    rc_observed_release(&h);
    rc_errs_release(&errs);
}

static void test_malformed(void **state)
{
    struct rc_observed h = {0};
    struct rc_errs errs = {0};
    char buf[512];

    (void)state;
    /* item 1 has a bad timeCreated, item 2 a numeric tag, item 3 is not an object,
     * item 4 a string where an object belongs; items 0 and 5 are kept */
    assert_int_equal(observe(&h,
                             "{'value':["
                             "{'id':'" VMSS_ID "/virtualMachines/1','properties':{}},"
                             "{'id':'" VMSS_ID "/virtualMachines/2','properties':{"
                             "'timeCreated':'yesterday'}},"
                             "{'id':'" VM_ID "','tags':{'azpool.pool':7}},"
                             "42,"
                             "{'id':'" NIC_ID "','properties':'x'},"
                             "{'id':'" VMSS_ID "/virtualMachines/5','instanceId':5}"
                             "]}",
                             &errs),
                     0);
    assert_int_equal(h.n_instances, 1);
    assert_string_equal(h.instances[0].instance_id, "1");
    assert_int_equal(h.n_nics, 0);
    assert_int_equal(errs.n, 5);
    assert_string_equal(errs.v[0].path, "value[1].properties.timeCreated");
    assert_string_equal(errs.v[0].file, "obs.json");
    assert_string_equal(errs.v[1].path, "value[2].tags.azpool.pool");
    assert_string_equal(errs.v[2].path, "value[3]");
    assert_string_equal(errs.v[3].path, "value[4].properties");
    assert_string_equal(errs.v[4].path, "value[5].instanceId");
    rc_err_format(&errs.v[0], buf, sizeof(buf));
    assert_non_null(strstr(buf, "obs.json: value[1].properties.timeCreated: "));
    rc_errs_release(&errs);

    /* a bad azpool time tag is reported but the resource is kept */
    assert_int_equal(observe(&h,
                             "{'id':'" VM_ID "','tags':{'azpool.managed-by':'azpool',"
                             "'azpool.expires-at':'soon'},'properties':{}}",
                             &errs),
                     0);
    assert_int_equal(h.n_instances, 2);
    assert_int_equal(h.instances[1].expires_ms, 0);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0].path, "tags.azpool.expires-at");
    rc_errs_release(&errs);

    /* whole documents */
    assert_int_equal(rc_observe_arm_text(&h, "obs.json", "{\"value\": [", 11, &errs), -RC_EPROTO);
    assert_int_equal(errs.n, 1);
    assert_int_equal(errs.v[0].line, 1);
    rc_errs_release(&errs);
    assert_int_equal(observe(&h, "[1,2]", &errs), -RC_EPROTO);
    assert_int_equal(observe(&h, "{'value':{}}", &errs), -RC_EPROTO);
    assert_int_equal(observe(&h, "{'a':1,'a':2}", &errs), -RC_EPROTO); /* duplicates */
    assert_int_equal(
        observe(&h, "{'error':{'code':'ResourceGroupNotFound','message':'gone'}}", &errs),
        -RC_EPROTO);
    assert_int_equal(h.n_instances, 2);
    rc_errs_release(&errs);
    rc_observed_release(&h);
}

static void test_case_insensitive_and_unknown(void **state)
{
    struct rc_observed h = {0};
    struct rc_errs errs = {0};

    (void)state;
    assert_int_equal(
        observe(&h,
                "{'value':["
                "{'id':'/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/"
                "VIRTUALMACHINESCALESETS/HW','type':'MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS',"
                "'tags':{'Azpool.Managed-By':'AZPOOL','AZPOOL.POOL':'ops/hw'},"
                "'sku':{'capacity':0},'properties':{'ProvisioningState':'succeeded'}},"
                "{'id':'/subscriptions/s/resourcegroups/rg/providers/Microsoft.Storage/"
                "storageAccounts/st','type':'Microsoft.Storage/storageAccounts'},"
                "{'type':'Microsoft.Web/sites'},"
                /* lowercase type, upper-case state, mixed-case status code */
                "{'id':'/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/"
                "virtualMachines/vm2','type':'microsoft.compute/VirtualMachines',"
                "'properties':{'provisioningState':'SUCCEEDED','instanceView':{'statuses':["
                "{'code':'powerstate/Running'}]}}},"
                /* a known type without an id is an error */
                "{'type':'Microsoft.Network/networkInterfaces','name':'n'}"
                "]}",
                &errs),
        0);
    assert_int_equal(h.n_scale_sets, 1);
    assert_true(h.scale_sets[0].own.managed);
    assert_string_equal(h.scale_sets[0].own.pool, "ops/hw");
    assert_string_equal(h.scale_sets[0].name, "HW");
    assert_string_equal(h.scale_sets[0].provisioning_state, "succeeded");
    assert_int_equal(h.n_instances, 1);
    assert_int_equal(h.instances[0].state, RC_INST_READY);
    assert_int_equal(h.n_nics, 0);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0].path, "value[4].id");
    rc_errs_release(&errs);
    rc_observed_release(&h);
}

static void test_single_object_and_limit(void **state)
{
    struct rc_observed h = {0};
    struct rc_errs errs = {0};
    json_t *doc, *arr;
    int r = 0;

    (void)state;
    /* a GET of one resource */
    assert_int_equal(observe(&h,
                             "{'id':'" VMSS_ID "/virtualMachines/4','instanceId':'4','name':'hw_4',"
                             "'properties':{'provisioningState':'Creating'}}",
                             &errs),
                     0);
    assert_int_equal(h.n_instances, 1);
    assert_int_equal(h.instances[0].state, RC_INST_PROVISIONING);
    rc_observed_release(&h);

    /* an item of the generic resources list (§4, $expand=createdTime,provisioningState) */
    assert_int_equal(
        observe(&h,
                "{'value':[{'id':'" VM_ID "','name':'hw-0-a',"
                "'type':'Microsoft.Compute/virtualMachines','location':'westeurope',"
                "'createdTime':'2026-11-20T08:00:00.1234567Z',"
                "'changedTime':'2026-11-20T08:05:00Z','provisioningState':'Creating'}]}",
                &errs),
        0);
    assert_int_equal(errs.n, 0);
    assert_int_equal(h.n_instances, 1);
    assert_int_equal(h.instances[0].created_ms, T("2026-11-20T08:00:00.123Z"));
    assert_string_equal(h.instances[0].provisioning_state, "Creating");
    assert_int_equal(h.instances[0].state, RC_INST_PROVISIONING);
    rc_observed_release(&h);

    /* at most RC_OBSERVE_DOC_MAX items in one document: a larger one is refused whole */
    arr = json_array();
    for (int i = 0; i <= RC_OBSERVE_DOC_MAX; i++) {
        char id[256];

        snprintf(id, sizeof(id), AA_ID "/hybridRunbookWorkerGroups/g%d", i);
        json_array_append_new(arr, json_pack("{s:s}", "id", id));
    }
    doc = json_pack("{s:o}", "value", arr);
    assert_int_equal(rc_observe_arm(&h, doc, &errs), -RC_ELIMIT);
    assert_int_equal(h.n_groups, 0);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0].path, "value");
    rc_errs_release(&errs);
    json_array_remove(arr, 0);
    r = rc_observe_arm(&h, doc, &errs);
    assert_int_equal(r, 0);
    assert_int_equal(h.n_groups, RC_OBSERVE_DOC_MAX);
    rc_observed_release(&h);
    json_decref(doc);

    /* at most RC_OBSERVED_MAX resources in all: the items before the limit stay */
    h.groups = calloc(RC_OBSERVED_MAX - 1, sizeof(*h.groups));
    assert_non_null(h.groups);
    h.n_groups = h.cap_groups = RC_OBSERVED_MAX - 1;
    assert_int_equal(observe(&h,
                             "{'value':[{'id':'" AA_ID "/hybridRunbookWorkerGroups/last'},"
                             "{'id':'" AA_ID "/hybridRunbookWorkerGroups/over'}]}",
                             &errs),
                     -RC_ELIMIT);
    assert_int_equal(h.n_groups, RC_OBSERVED_MAX);
    assert_string_equal(h.groups[RC_OBSERVED_MAX - 1].name, "last");
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0].path, "value[1]");
    rc_errs_release(&errs);
    rc_observed_release(&h);
}

static void test_pool_copy_release(void **state)
{
    struct rc_observed h = {0}, c;
    struct rc_errs errs = {0};
    struct rc_obs_pool *p, *p2;

    (void)state;
    assert_int_equal(observe(&h, vmss_list, &errs), 0);
    assert_int_equal(observe(&h, vms, &errs), 0);
    assert_int_equal(observe(&h, vmss_vms, &errs), 0);
    assert_int_equal(errs.n, 0);
    p = rc_observed_pool(&h, "ops/hw");
    assert_non_null(p);
    assert_int_equal(p->desired_replicas, -1);
    p->has_signal = true;
    p->signal = 7;
    p->busy = calloc(1, sizeof(char *));
    p->busy[0] = strdup("hw-0-a");
    p->n_busy = 1;
    p2 = rc_observed_pool(&h, "ops/hw");
    assert_ptr_equal(p, p2);
    assert_int_equal(h.n_pools, 1);
    assert_non_null(rc_observed_pool(&h, "ops/other"));
    assert_int_equal(h.n_pools, 2);

    assert_int_equal(rc_observed_copy(&h, &c), 0);
    assert_int_equal(c.n_instances, h.n_instances);
    assert_int_equal(c.n_scale_sets, 1);
    assert_int_equal(c.n_nics, 1);
    assert_int_equal(c.n_pools, 2);
    for (size_t i = 0; i < h.n_instances; i++) {
        char b1[RC_OBS_ID_MAX], b2[RC_OBS_ID_MAX];

        assert_string_equal(rc_obs_instance_id(&c.instances[i], b1, sizeof(b1)),
                            rc_obs_instance_id(&h.instances[i], b2, sizeof(b2)));
        if (h.instances[i].id)
            assert_ptr_not_equal(c.instances[i].id, h.instances[i].id);
        assert_ptr_not_equal(c.instances[i].name, h.instances[i].name);
        assert_int_equal(c.instances[i].state, h.instances[i].state);
        assert_int_equal(c.instances[i].n_extensions, h.instances[i].n_extensions);
        assert_int_equal(c.instances[i].own.n_tags, h.instances[i].own.n_tags);
    }
    assert_string_equal(c.pools[0].busy[0], "hw-0-a");
    assert_int_equal(c.pools[0].signal, 7);
    assert_string_equal(c.scale_sets[0].own.pool, "ops/hw");
    /* independent: releasing the source leaves the copy intact */
    rc_observed_release(&h);
    assert_null(h.instances);
    assert_int_equal(h.n_instances, 0);
    assert_string_equal(inst(&c, "hw-0-a")->extensions[1].name, "DevOpsAgent");
    /* a copy can grow */
    assert_int_equal(observe(&c, vmss_list, &errs), 0);
    assert_int_equal(c.n_scale_sets, 2);
    rc_observed_release(&c);
    rc_observed_release(NULL);
    rc_errs_release(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vmss),
        cmocka_unit_test(test_vmss_vms),
        cmocka_unit_test(test_uniform_ids_stored_when_not_canonical),
        cmocka_unit_test(test_vm_nic_extensions),
        cmocka_unit_test(test_gallery_versions),
        cmocka_unit_test(test_workers_jobs_templates),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_case_insensitive_and_unknown),
        cmocka_unit_test(test_single_object_and_limit),
        cmocka_unit_test(test_pool_copy_release),
    };

    return az_run_tests("observe", tests);
}
