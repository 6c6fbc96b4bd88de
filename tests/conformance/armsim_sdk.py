#!/usr/bin/python3
# armsim_sdk.py - drives a running armsim with the unmodified Debian python3-azure SDK.
#
# Started by suite-armsim-sdk.sh, which runs armsim and sets:
#   ARMSIM_URL          https://127.0.0.1:PORT
#   REQUESTS_CA_BUNDLE  / SSL_CERT_FILE  the CA armsim generated (D/ca.pem); nothing here
#                       switches verification off.
#   AZURITE_QUEUE_URL   optional, http://127.0.0.1:PORT/devstoreaccount1 (Event Grid checks)
# Each check is a numbered test; later checks use what earlier ones created and fail
# (not skip) when it is missing. The last line is "N passed, N failed"; exit 1 on failure.
import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import time
import traceback
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.automation import AutomationClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.imagebuilder import ImageBuilderClient
from azure.mgmt.resource import ResourceManagementClient

BASE = os.environ["ARMSIM_URL"].rstrip("/")
CA = os.environ["REQUESTS_CA_BUNDLE"]
SUB = "00000000-0000-4000-8000-00000000a2b1"
TENANT = "11111111-1111-4111-8111-111111111111"
CLIENT = "22222222-2222-4222-8222-222222222222"
RG = "conf-rg"
LOC = "westus"
GALLERY = "confgallery"
IMAGE = "worker"
VMSS = "confss"
ACCOUNT = "confaa"
GROUP = "confgroup"
ARM_SCOPE = "https://management.azure.com/.default"
LRO_TIMEOUT = 120

P = "/subscriptions/%s/resourceGroups/%s/providers" % (SUB, RG)
IMAGE_ID = "%s/Microsoft.Compute/galleries/%s/images/%s" % (P, GALLERY, IMAGE)
SUBNET_ID = "%s/Microsoft.Network/virtualNetworks/confvnet/subnets/default" % P

cred = ClientSecretCredential(TENANT, CLIENT, "conformance-secret", authority=BASE,
                              instance_discovery=False)
kw = dict(base_url=BASE, polling_interval=1)
rc = ResourceManagementClient(cred, SUB, **kw)
cc = ComputeManagementClient(cred, SUB, **kw)
ib = ImageBuilderClient(cred, SUB, **kw)
ac = AutomationClient(cred, SUB, **kw)

TESTS = []
state = {}


def test(name):
    def deco(fn):
        TESTS.append((name, fn))
        return fn
    return deco


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def need(key):
    check(key in state, "depends on an earlier check that failed (%s)" % key)
    return state[key]


def finish(poller, what):
    """Waits for an LRO poller; fails when it does not end in time."""
    res = poller.result(timeout=LRO_TIMEOUT)
    check(poller.done(), "%s: poller not done after %ds" % (what, LRO_TIMEOUT))
    check(poller.status().lower() == "succeeded", "%s: poller status %s" % (what, poller.status()))
    return res


def status_of(pipeline_response, deserialized, headers):
    """cls= hook: the HTTP status code and the model."""
    return pipeline_response.http_response.status_code, deserialized


def admin(method, path, body=None):
    r = requests.request(method, BASE + path, json=body, verify=CA, timeout=10)
    check(r.status_code < 300, "admin %s %s: %d %s" % (method, path, r.status_code, r.text[:300]))
    return r.json() if r.content else None


def instance_ids():
    return sorted(vm.instance_id for vm in cc.virtual_machine_scale_set_vms.list(RG, VMSS))




# ---------------------------------------------------------------- Entra ID

@test("entra: openid-configuration + client_credentials token for the ARM scope")
def t_token():
    tok = cred.get_token(ARM_SCOPE)
    check(len(tok.token) > 20, "token too short: %r" % tok.token)
    check(tok.expires_on > time.time() + 600, "token expires too soon: %s" % tok.expires_on)
    state["token"] = tok.token


# ---------------------------------------------------------------- resource groups

@test("resource group: PUT 201 (lowercase resourcegroups path), GET, HEAD")
def t_rg():
    code, g = rc.resource_groups.create_or_update(RG, {"location": LOC, "tags": {"suite": "sdk"}},
                                                   cls=status_of)
    check(code == 201, "create status %d, want 201" % code)
    check(g.name == RG and g.properties.provisioning_state == "Succeeded", "body %r" % g.as_dict())
    code, _ = rc.resource_groups.create_or_update(RG, {"location": LOC, "tags": {"suite": "sdk"}},
                                                  cls=status_of)
    check(code == 200, "second PUT status %d, want 200" % code)
    check(rc.resource_groups.check_existence(RG) is True, "HEAD says missing")
    check(rc.resource_groups.check_existence("conf-absent") is False, "HEAD absent says exists")
    check(rc.resource_groups.get(RG).tags == {"suite": "sdk"}, "tags lost")
    state["rg"] = True


# ---------------------------------------------------------------- galleries

def make_version(name, exclude=False):
    body = {"location": LOC,
            "publishing_profile": {"exclude_from_latest": exclude,
                                   "target_regions": [{"name": LOC, "regional_replica_count": 1}]},
            "storage_profile": {"source": {"id": "%s/Microsoft.Compute/images/base" % P}}}
    p = cc.gallery_image_versions.begin_create_or_update(RG, GALLERY, IMAGE, name, body)
    return finish(p, "version %s" % name)


@test("gallery: gallery, image definition and version 1.0.0 (LROs finish)")
def t_gallery():
    need("rg")
    g = finish(cc.galleries.begin_create_or_update(RG, GALLERY, {"location": LOC}), "gallery")
    check(g.provisioning_state == "Succeeded", "gallery %s" % g.provisioning_state)
    d = finish(cc.gallery_images.begin_create_or_update(RG, GALLERY, IMAGE, {
        "location": LOC, "os_type": "Linux", "os_state": "Generalized", "hyper_v_generation": "V2",
        "identifier": {"publisher": "azpool", "offer": "worker", "sku": "conf"}}), "image")
    check(d.provisioning_state == "Succeeded" and d.identifier.sku == "conf", "image %r" % d.as_dict())
    v = make_version("1.0.0")
    check(v.provisioning_state == "Succeeded", "version %s" % v.provisioning_state)
    check(v.publishing_profile.published_date is not None, "no publishedDate")
    check(v.publishing_profile.exclude_from_latest is False, "excludeFromLatest not false")
    check(v.id.lower() == (IMAGE_ID + "/versions/1.0.0").lower(), "id %s" % v.id)
    check([x.name for x in cc.galleries.list()] == [GALLERY], "subscription gallery list")
    check([x.name for x in cc.gallery_images.list_by_gallery(RG, GALLERY)] == [IMAGE], "image list")
    state["v1"] = v.id


@test("gallery: versions list is paged (nextLink) and keeps excludeFromLatest; replication status")
def t_gallery_list():
    need("v1")
    v = make_version("1.0.1", exclude=True)
    check(v.publishing_profile.exclude_from_latest is True, "excludeFromLatest not kept")
    make_version("1.0.2")
    raw = requests.get(BASE + IMAGE_ID + "/versions", params={"api-version": "2022-03-03"},
                       headers={"Authorization": "Bearer " + need("token")}, verify=CA, timeout=10)
    check(raw.status_code == 200, "raw list %d" % raw.status_code)
    page = raw.json()
    check(len(page.get("value", [])) == 2 and page.get("nextLink", "").startswith(BASE),
          "first page should hold 2 items and an absolute nextLink (--page-size 2): %s" % raw.text[:300])
    vers = list(cc.gallery_image_versions.list_by_gallery_image(RG, GALLERY, IMAGE))
    ex = {x.name: x.publishing_profile.exclude_from_latest for x in vers}
    check(ex == {"1.0.0": False, "1.0.1": True, "1.0.2": False}, "versions/excludeFromLatest %s" % ex)
    check(all(x.publishing_profile.published_date is not None for x in vers), "publishedDate missing")
    g = cc.gallery_image_versions.get(RG, GALLERY, IMAGE, "1.0.2", expand="ReplicationStatus")
    check(g.replication_status is not None and g.replication_status.aggregated_state == "Completed",
          "replicationStatus %r" % (g.replication_status and g.replication_status.as_dict()))
    try:
        cc.gallery_image_versions.begin_create_or_update(RG, GALLERY, IMAGE, "1.x", {
            "location": LOC, "storage_profile": {"source": {"id": IMAGE_ID}}}).result()
        raise AssertionError("version name 1.x accepted")
    except HttpResponseError as e:
        check(e.status_code == 400, "bad version name gave %s" % e.status_code)


# ---------------------------------------------------------------- scale sets

def vmss_body(capacity, image_id):
    return {
        "location": LOC,
        "sku": {"name": "Standard_D2s_v3", "tier": "Standard", "capacity": capacity},
        "upgrade_policy": {"mode": "Manual"},
        "orchestration_mode": "Uniform",
        "overprovision": False,
        "virtual_machine_profile": {
            "storage_profile": {"image_reference": {"id": image_id},
                                "os_disk": {"create_option": "FromImage", "caching": "ReadWrite",
                                            "managed_disk": {"storage_account_type": "Standard_LRS"}}},
            "os_profile": {"computer_name_prefix": "conf", "admin_username": "azureuser",
                           "linux_configuration": {
                               "disable_password_authentication": True,
                               "ssh": {"public_keys": [{"path": "/home/azureuser/.ssh/authorized_keys",
                                                        "key_data": "ssh-rsa AAAAB3Nza conf"}]}}},
            "network_profile": {"network_interface_configurations": [{
                "name": "nic", "primary": True,
                "ip_configurations": [{"name": "ipc", "subnet": {"id": SUBNET_ID}}]}]},
            "extension_profile": {"extensions": [{
                "name": "bootstrap", "publisher": "Microsoft.Azure.Extensions",
                "type_properties_type": "CustomScript", "type_handler_version": "2.1",
                "auto_upgrade_minor_version": True,
                "settings": {"commandToExecute": "echo ready"}}]},
        },
    }


@test("vmss: create with capacity 3 and an extension (LRO finishes)")
def t_vmss_create():
    v1 = need("v1")
    ss = finish(cc.virtual_machine_scale_sets.begin_create_or_update(RG, VMSS, vmss_body(3, v1)),
                "vmss create")
    check(ss.provisioning_state == "Succeeded", "provisioningState %s" % ss.provisioning_state)
    check(ss.sku.capacity == 3, "capacity %s" % ss.sku.capacity)
    exts = ss.virtual_machine_profile.extension_profile.extensions
    check(exts and exts[0].name == "bootstrap", "extension missing from the model")
    e = cc.virtual_machine_scale_set_extensions.get(RG, VMSS, "bootstrap")
    check(e.type_properties_type == "CustomScript", "extension GET %r" % e.as_dict())
    state["vmss"] = True


@test("vmss: list instances with $expand=instanceView: 3 running, latest model")
def t_vmss_list():
    need("vmss")
    vms = list(cc.virtual_machine_scale_set_vms.list(RG, VMSS, expand="instanceView"))
    check(len(vms) == 3, "%d instances, want 3" % len(vms))
    ids = set()
    for vm in vms:
        codes = [s.code for s in vm.instance_view.statuses] if vm.instance_view else []
        check("ProvisioningState/succeeded" in codes, "instance %s statuses %s" % (vm.instance_id, codes))
        check("PowerState/running" in codes, "instance %s statuses %s" % (vm.instance_id, codes))
        check(vm.latest_model_applied is True, "instance %s latestModelApplied false" % vm.instance_id)
        ids.add(vm.instance_id)
    check(len(ids) == 3, "instance ids not distinct: %s" % ids)
    state["ids3"] = sorted(ids)


@test("vmss: scale to 5 with PATCH sku.capacity (LRO finishes)")
def t_vmss_scale():
    old = need("ids3")
    ss = finish(cc.virtual_machine_scale_sets.begin_update(RG, VMSS, {"sku": {"capacity": 5}}),
                "vmss scale")
    check(ss.sku.capacity == 5, "capacity %s" % ss.sku.capacity)
    ids = instance_ids()
    check(len(ids) == 5, "%d instances after scale, want 5" % len(ids))
    check(set(old) <= set(ids), "old instances replaced: %s -> %s" % (old, ids))
    state["ids5"] = ids


@test("vmss: POST delete with instanceIds removes exactly those two")
def t_vmss_delete_instances():
    ids = need("ids5")
    gone = ids[1:3]
    finish(cc.virtual_machine_scale_sets.begin_delete_instances(RG, VMSS, {"instance_ids": gone}),
           "delete instances")
    left = instance_ids()
    check(left == sorted(set(ids) - set(gone)), "left %s, want %s" % (left, sorted(set(ids) - set(gone))))
    check(cc.virtual_machine_scale_sets.get(RG, VMSS).sku.capacity == 3, "capacity not lowered to 3")
    try:
        cc.virtual_machine_scale_set_vms.get(RG, VMSS, gone[0])
        raise AssertionError("deleted instance %s still readable" % gone[0])
    except ResourceNotFoundError:
        pass
    state["ids_left"] = left


@test("rollout: new gallery version, model update leaves instances stale, manualupgrade fixes them")
def t_rollout():
    left = need("ids_left")
    v2 = make_version("1.1.0")
    check(v2.provisioning_state == "Succeeded", "version 1.1.0 %s" % v2.provisioning_state)
    finish(cc.virtual_machine_scale_sets.begin_update(RG, VMSS, {"virtual_machine_profile": {
        "storage_profile": {"image_reference": {"id": v2.id}}}}), "model update")
    stale = [vm for vm in cc.virtual_machine_scale_set_vms.list(RG, VMSS) if not vm.latest_model_applied]
    check(len(stale) == len(left), "%d stale instances after the model update, want %d" % (len(stale), len(left)))
    finish(cc.virtual_machine_scale_sets.begin_update_instances(RG, VMSS, {"instance_ids": left}),
           "manualupgrade")
    vms = list(cc.virtual_machine_scale_set_vms.list(RG, VMSS))
    check(all(vm.latest_model_applied for vm in vms), "instances still stale after manualupgrade")
    for vm in vms:
        ref = vm.storage_profile.image_reference if vm.storage_profile else None
        check(ref is not None and (ref.id or "").lower() == v2.id.lower(),
              "instance %s image %s" % (vm.instance_id, ref and ref.id))
    state["v2"] = v2.id


# ---------------------------------------------------------------- Image Builder

@test("image builder: template PUT, run (Azure-AsyncOperation LRO), lastRunStatus, runOutputs")
def t_imagebuilder():
    need("v1")
    tmpl = {
        "location": LOC,
        "identity": {"type": "UserAssigned", "user_assigned_identities": {
            "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ManagedIdentity/"
            "userAssignedIdentities/aib" % (SUB, RG): {}}},
        "source": {"type": "PlatformImage", "publisher": "Canonical",
                   "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2", "version": "latest"},
        "customize": [{"type": "Shell", "name": "setup", "inline": ["echo hi"]}],
        "distribute": [{"type": "SharedImage", "run_output_name": "conf-out", "gallery_image_id": IMAGE_ID,
                        "replication_regions": [LOC], "exclude_from_latest": False}],
        "build_timeout_in_minutes": 60,
    }
    t = finish(ib.virtual_machine_image_templates.begin_create_or_update(RG, "conftmpl", tmpl),
               "template PUT")
    check(t.provisioning_state == "Succeeded", "template provisioningState %s" % t.provisioning_state)
    check(t.distribute[0].type == "SharedImage", "distribute lost its discriminator")
    poller = ib.virtual_machine_image_templates.begin_run(RG, "conftmpl")
    during = ib.virtual_machine_image_templates.get(RG, "conftmpl").last_run_status
    check(during is not None and during.run_state == "Running", "run state while running: %r" %
          (during and during.as_dict()))
    check(during.end_time.year == 1, "endTime while running %s, want 0001-01-01" % during.end_time)
    finish(poller, "template run")
    after = ib.virtual_machine_image_templates.get(RG, "conftmpl").last_run_status
    check(after.run_state == "Succeeded", "run state after the run %s" % after.run_state)
    check(after.end_time > after.start_time, "endTime %s not after startTime %s" % (after.end_time, after.start_time))
    out = ib.virtual_machine_image_templates.get_run_output(RG, "conftmpl", "conf-out")
    check(out.provisioning_state == "Succeeded", "run output %s" % out.provisioning_state)
    art = out.artifact_id or ""
    check(art.lower().startswith((IMAGE_ID + "/versions/").lower()), "artifactId %s" % art)
    v = cc.gallery_image_versions.get(RG, GALLERY, IMAGE, art.rsplit("/", 1)[1])
    check(v.provisioning_state == "Succeeded", "built version %s" % v.provisioning_state)
    outs = [o.name for o in ib.virtual_machine_image_templates.list_run_outputs(RG, "conftmpl")]
    check(outs == ["conf-out"], "runOutputs list %s" % outs)
    check([x.name for x in ib.virtual_machine_image_templates.list()] == ["conftmpl"], "template list")
    state["template"] = True


@test("image builder: templates are immutable (409), a failed outcome fails the run LRO, cancel")
def t_imagebuilder_fail():
    need("template")
    t = ib.virtual_machine_image_templates.get(RG, "conftmpl")
    body = t.as_dict()
    body["customize"] = [{"type": "Shell", "name": "other", "inline": ["echo changed"]}]
    try:
        ib.virtual_machine_image_templates.begin_create_or_update(RG, "conftmpl", body).result()
        raise AssertionError("changed template accepted")
    except HttpResponseError as e:
        check(e.status_code == 409, "changed template gave %s, want 409" % e.status_code)
    admin("POST", "/_armsim/imagebuilder/outcome", {"template": "conftmpl", "runState": "Failed",
                                                    "message": "customizer exited 1",
                                                    "durationSeconds": 120})
    try:
        finish(ib.virtual_machine_image_templates.begin_run(RG, "conftmpl"), "failing run")
        raise AssertionError("failing run succeeded")
    except HttpResponseError:
        pass
    st = ib.virtual_machine_image_templates.get(RG, "conftmpl").last_run_status
    check(st.run_state == "Failed" and "customizer exited 1" in (st.message or ""),
          "after a failed run: %r" % st.as_dict())
    check(st.end_time.year > 1, "endTime not set after the failed run")
    # 10 simulated minutes: the canceled run's LRO reports Failed when its scheduled end passes
    # (as_lro_fail() does not end an operation early).
    admin("POST", "/_armsim/imagebuilder/outcome", {"template": "conftmpl", "runState": "Succeeded",
                                                    "durationSeconds": 600})
    run = ib.virtual_machine_image_templates.begin_run(RG, "conftmpl")
    check(ib.virtual_machine_image_templates.get(RG, "conftmpl").last_run_status.run_state == "Running",
          "not running")
    try:
        ib.virtual_machine_image_templates.begin_run(RG, "conftmpl").result()
        raise AssertionError("second concurrent run accepted")
    except HttpResponseError as e:
        check(e.status_code == 409, "concurrent run gave %s" % e.status_code)
    finish(ib.virtual_machine_image_templates.begin_cancel(RG, "conftmpl"), "cancel")
    check(ib.virtual_machine_image_templates.get(RG, "conftmpl").last_run_status.run_state == "Canceled",
          "not canceled")
    try:
        run.result(timeout=LRO_TIMEOUT)
        raise AssertionError("canceled run LRO succeeded")
    except HttpResponseError:
        pass
    admin("POST", "/_armsim/imagebuilder/outcome", {"reset": True})
    finish(ib.virtual_machine_image_templates.begin_delete(RG, "conftmpl"), "template delete")
    try:
        ib.virtual_machine_image_templates.get(RG, "conftmpl")
        raise AssertionError("deleted template still readable")
    except ResourceNotFoundError:
        pass


# ---------------------------------------------------------------- Automation

@test("automation: account PUT returns automationHybridServiceUrl")
def t_account():
    need("rg")
    code, a = ac.automation_account.create_or_update(RG, ACCOUNT, {
        "location": LOC, "sku": {"name": "Basic"}}, cls=status_of)
    check(code in (200, 201), "status %d" % code)
    url = ac.automation_account.get(RG, ACCOUNT).automation_hybrid_service_url or ""
    check(url.startswith("https://") and "/automationAccounts/" in url, "automationHybridServiceUrl %r" % url)
    check([x.name for x in ac.automation_account.list()] == [ACCOUNT], "subscription account list")
    check([x.name for x in ac.automation_account.list_by_resource_group(RG)] == [ACCOUNT], "rg account list")
    state["account"] = True


@test("automation: register and delete a hybrid runbook worker")
def t_hrw():
    need("account")
    g = ac.hybrid_runbook_worker_group.create(RG, ACCOUNT, GROUP, {})
    check(g.name == GROUP and g.group_type == "User", "group %r" % g.as_dict())
    wid = str(uuid.uuid5(uuid.NAMESPACE_URL, "confvm1"))
    vm = "%s/Microsoft.Compute/virtualMachines/confvm1" % P
    code, w = ac.hybrid_runbook_workers.create(RG, ACCOUNT, GROUP, wid, {"vm_resource_id": vm},
                                                cls=status_of)
    check(code in (200, 201), "worker PUT %d" % code)
    check(w.name == wid and w.vm_resource_id == vm and w.worker_name == "confvm1", "worker %r" % w.as_dict())
    check(w.worker_type == "HybridV2" and w.registered_date_time is not None, "worker %r" % w.as_dict())
    got = [x.name for x in ac.hybrid_runbook_workers.list_by_hybrid_runbook_worker_group(RG, ACCOUNT, GROUP)]
    check(got == [wid], "workers listed %s" % got)
    ac.hybrid_runbook_workers.delete(RG, ACCOUNT, GROUP, wid)
    try:
        ac.hybrid_runbook_workers.get(RG, ACCOUNT, GROUP, wid)
        raise AssertionError("deleted worker still readable")
    except ResourceNotFoundError:
        pass
    state["group"] = True


@test("automation: worker ids are GUIDs, one registration per VM, non-empty groups stay, liveness, move")
def t_hrw_rules():
    need("group")
    vm = "%s/Microsoft.Compute/virtualMachines/confvm2" % P
    try:
        ac.hybrid_runbook_workers.create(RG, ACCOUNT, GROUP, "not-a-guid", {"vm_resource_id": vm})
        raise AssertionError("non-GUID worker id accepted")
    except HttpResponseError as e:
        check(e.status_code == 400, "non-GUID worker id gave %s" % e.status_code)
    w1, w2 = str(uuid.uuid4()), str(uuid.uuid4())
    ac.hybrid_runbook_worker_group.create(RG, ACCOUNT, "confgroup2", {})
    ac.hybrid_runbook_workers.create(RG, ACCOUNT, GROUP, w1, {"vm_resource_id": vm})
    try:
        ac.hybrid_runbook_workers.create(RG, ACCOUNT, "confgroup2", w2, {"vm_resource_id": vm})
        raise AssertionError("second registration of the same VM accepted")
    except HttpResponseError as e:
        check(e.status_code == 409, "duplicate VM gave %s" % e.status_code)
    try:
        ac.hybrid_runbook_worker_group.delete(RG, ACCOUNT, GROUP)
        raise AssertionError("group with a worker deleted")
    except HttpResponseError as e:
        check(e.status_code == 400, "non-empty group delete gave %s" % e.status_code)
    seen1 = ac.hybrid_runbook_workers.get(RG, ACCOUNT, GROUP, w1).last_seen_date_time
    admin("POST", "/_armsim/time", {"advanceSeconds": 300})
    seen2 = ac.hybrid_runbook_workers.get(RG, ACCOUNT, GROUP, w1).last_seen_date_time
    check((seen2 - seen1).total_seconds() >= 300, "lastSeen did not follow time: %s -> %s" % (seen1, seen2))
    wid = "%s/Microsoft.Automation/automationAccounts/%s/hybridRunbookWorkerGroups/%s/hybridRunbookWorkers/%s" % (
        P, ACCOUNT, GROUP, w1)
    admin("POST", "/_armsim/automation/worker", {"id": wid, "online": False})
    admin("POST", "/_armsim/time", {"advanceSeconds": 300})
    seen3 = ac.hybrid_runbook_workers.get(RG, ACCOUNT, GROUP, w1).last_seen_date_time
    check(abs((seen3 - seen2).total_seconds()) < 300, "offline worker still seen: %s -> %s" % (seen2, seen3))
    ac.hybrid_runbook_workers.move(RG, ACCOUNT, GROUP, w1, {"hybrid_runbook_worker_group_name": "confgroup2"})
    got = [x.name for x in ac.hybrid_runbook_workers.list_by_hybrid_runbook_worker_group(RG, ACCOUNT, "confgroup2")]
    check(got == [w1], "after move confgroup2 holds %s" % got)
    ac.hybrid_runbook_workers.delete(RG, ACCOUNT, "confgroup2", w1)
    ac.hybrid_runbook_worker_group.delete(RG, ACCOUNT, "confgroup2")


def ensure_worker():
    """A registered worker in GROUP, so that jobs with runOn leave the queue."""
    wid = str(uuid.uuid5(uuid.NAMESPACE_URL, "confvm-jobs"))
    ac.hybrid_runbook_workers.create(RG, ACCOUNT, GROUP, wid, {
        "vm_resource_id": "%s/Microsoft.Compute/virtualMachines/confvm-jobs" % P})
    return wid


def run_job(name, runbook):
    code, j = ac.job.create(RG, ACCOUNT, name, {"runbook": {"name": runbook},
                                                 "parameters": {"pool": "conf"}, "run_on": GROUP},
                            cls=status_of)
    check(code == 201, "job PUT %d, want 201" % code)
    seen = [j.status]
    deadline = time.time() + 60
    while time.time() < deadline:
        j = ac.job.get(RG, ACCOUNT, name)
        if j.status != seen[-1]:
            seen.append(j.status)
        if j.status in ("Completed", "Failed", "Stopped", "Suspended"):
            break
        time.sleep(0.05)
    return j, seen


@test("automation: jobs queue (New) without a worker; job PUT, status New -> Running -> Completed")
def t_job():
    need("group")
    # Without a worker the job stays queued (New).
    ac.runbook.create_or_update(RG, ACCOUNT, "conf-runbook", {
        "location": LOC, "runbook_type": "PowerShell", "log_progress": False, "log_verbose": False,
        "publish_content_link": {"uri": "https://example.invalid/r.ps1"}})
    ac.job.create(RG, ACCOUNT, "conf-job-0", {"runbook": {"name": "conf-runbook"}, "run_on": GROUP})
    admin("POST", "/_armsim/time", {"advanceSeconds": 120})
    check(ac.job.get(RG, ACCOUNT, "conf-job-0").status == "New", "job ran without a worker")
    state["worker"] = ensure_worker()
    admin("POST", "/_armsim/time", {"advanceSeconds": 120})
    check(ac.job.get(RG, ACCOUNT, "conf-job-0").status != "New", "queued job did not start")
    # Running for 4 simulated minutes (2 s real) so that a loaded machine still sees it.
    admin("POST", "/_armsim/automation/outcome", {"runbook": "conf-runbook", "status": "Completed",
                                                   "durationSeconds": 240})
    j, seen = run_job("conf-job-1", "conf-runbook")
    admin("POST", "/_armsim/automation/outcome", {"reset": True})
    check(seen[0] == "New", "first status %s" % seen[0])
    check("Running" in seen and seen[-1] == "Completed", "statuses %s" % seen)
    check(j.job_id and j.end_time is not None and j.end_time >= j.start_time, "job %r" % j.as_dict())
    check(j.run_on == GROUP and j.parameters == {"pool": "conf"}, "job %r" % j.as_dict())


@test("automation: admin outcome Failed makes the next job fail")
def t_job_fail():
    need("group")
    admin("POST", "/_armsim/automation/outcome", {"runbook": "conf-runbook", "status": "Failed",
                                                   "exception": "conformance says no",
                                                   "durationSeconds": 240})
    j, seen = run_job("conf-job-2", "conf-runbook")
    check(seen[-1] == "Failed" and "Running" in seen, "statuses %s" % seen)
    check("conformance says no" in (j.exception or ""), "exception %r" % j.exception)
    state["jobs"] = True


@test("automation: jobs list, stop, and an admin-ended job")
def t_job_admin():
    need("group")
    admin("POST", "/_armsim/automation/outcome", {"runbook": "conf-runbook", "status": "Completed",
                                                   "durationSeconds": 7200})
    j1 = ac.job.create(RG, ACCOUNT, "conf-job-3", {"runbook": {"name": "conf-runbook"}, "run_on": GROUP})
    j2 = ac.job.create(RG, ACCOUNT, "conf-job-4", {"runbook": {"name": "conf-runbook"}, "run_on": GROUP})
    ac.job.stop(RG, ACCOUNT, "conf-job-3")
    check(ac.job.get(RG, ACCOUNT, "conf-job-3").status == "Stopped", "stop did not stop")
    admin("POST", "/_armsim/automation/job", {"id": j2.id, "status": "Failed", "exception": "worker lost"})
    g = ac.job.get(RG, ACCOUNT, "conf-job-4")
    check(g.status == "Failed" and g.exception == "worker lost", "admin-ended job %r" % g.as_dict())
    listed = list(ac.job.list_by_automation_account(RG, ACCOUNT))
    names = {x.name: x.status for x in listed}
    check(all(x.job_id and x.runbook.name == "conf-runbook" for x in listed), "list items lack jobId/runbook")
    want = {"conf-job-0": "Completed", "conf-job-1": "Completed", "conf-job-2": "Failed", "conf-job-3": "Stopped", "conf-job-4": "Failed"}
    check(names == want, "jobs listed %s" % names)
    try:
        ac.job.create(RG, ACCOUNT, "conf-job-5", {"runbook": {"name": "no-such-runbook"}})
        raise AssertionError("job of a missing runbook accepted")
    except HttpResponseError as e:
        check(e.status_code == 404, "missing runbook gave %s" % e.status_code)
    admin("POST", "/_armsim/automation/outcome", {"reset": True})
    check(j1.job_id != j2.job_id, "jobIds not unique")
    ac.hybrid_runbook_workers.delete(RG, ACCOUNT, GROUP, need("worker"))
    ac.hybrid_runbook_worker_group.delete(RG, ACCOUNT, GROUP)
    try:
        ac.hybrid_runbook_worker_group.get(RG, ACCOUNT, GROUP)
        raise AssertionError("deleted group still readable")
    except ResourceNotFoundError:
        pass


# ---------------------------------------------------------------- throttling

@test("throttling: a read flood drains x-ms-ratelimit-remaining-subscription-reads, then 429 + Retry-After")
def t_throttle():
    tok = need("token")
    # Buckets refill in simulated time: at a tenth of real time (2.5 reads/s) the flood drains
    # the 250-token bucket however slow this machine is.
    admin("POST", "/_armsim/time", {"scale": 0.1})
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + tok
    url = BASE + "/subscriptions/%s/resourcegroups/%s" % (SUB, RG)
    remaining = []
    throttled = None
    for _ in range(2000):
        r = s.get(url, params={"api-version": "2022-09-01"}, verify=CA, timeout=10)
        if r.status_code == 429:
            throttled = r
            break
        check(r.status_code == 200, "read %d: %s" % (r.status_code, r.text[:200]))
        h = r.headers.get("x-ms-ratelimit-remaining-subscription-reads")
        check(h is not None and h.isdigit(), "missing x-ms-ratelimit-remaining-subscription-reads")
        remaining.append(int(h))
    check(throttled is not None, "no 429 after %d reads" % len(remaining))
    check(len(remaining) >= 10, "429 after only %d reads" % len(remaining))
    drops = sum(1 for a, b in zip(remaining, remaining[1:]) if b < a)
    check(drops >= (len(remaining) - 1) * 0.9, "remaining reads do not decrease: %s" % remaining[:40])
    check(remaining[-1] <= 5, "last remaining %d before the 429" % remaining[-1])
    ra = throttled.headers.get("Retry-After", "")
    check(ra.isdigit() and int(ra) >= 1, "Retry-After %r" % ra)
    err = throttled.json().get("error", {})
    check(err.get("code") == "SubscriptionRequestsThrottled", "429 body %s" % throttled.text[:300])
    # The SDK's retry policy must sleep Retry-After and then succeed.
    t0 = time.time()
    g = rc.resource_groups.get(RG)
    check(g.name == RG, "read after throttling")
    check(time.time() - t0 >= int(ra) * 0.9 - 0.2 or int(ra) > 30, "SDK did not wait Retry-After")


# ---------------------------------------------------------------- Event Grid -> Azurite

def queue_request(method, queue_url, path_suffix="", params=None):
    """Shared Key request to Azurite's queue service (path-style account)."""
    acct = "devstoreaccount1"
    key = base64.b64decode("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
                           "K1SZFPTOtr/KBHBeksoGMGw==")
    u = urllib.parse.urlparse(queue_url + path_suffix)
    params = params or {}
    hdr = {"x-ms-date": datetime.datetime.utcnow().strftime("%a, %d %b %Y %H:%M:%S GMT"),
           "x-ms-version": "2021-08-06"}
    canon_h = "".join("%s:%s\n" % (k, hdr[k]) for k in sorted(hdr))
    canon_r = "/" + acct + u.path + "".join("\n%s:%s" % (k.lower(), params[k]) for k in sorted(params))
    sts = "\n".join([method, "", "", "", "", "", "", "", "", "", "", ""]) + "\n" + canon_h + canon_r
    sig = base64.b64encode(hmac.new(key, sts.encode(), hashlib.sha256).digest()).decode()
    hdr["Authorization"] = "SharedKey %s:%s" % (acct, sig)
    return requests.request(method, queue_url + path_suffix, params=params, headers=hdr, timeout=10)


@test("event grid: writes and deletes in the resource group arrive in the Azurite queue")
def t_eventgrid():
    need("rg")
    qbase = os.environ.get("AZURITE_QUEUE_URL")
    check(qbase, "Azurite is not running (AZURITE_QUEUE_URL unset; install it with hack/install-deps.sh)")
    admin("POST", "/_armsim/time", {"scale": 60})
    admin("PUT", "/_armsim/eventgrid/subscriptions/conf", {
        "scope": "/subscriptions/%s/resourceGroups/%s" % (SUB, RG),
        "queueUrl": qbase + "/conf-events", "account": "devstoreaccount1",
        "key": "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw=="})
    # A second subscription that only wants deletes under .../hybridRunbookWorkerGroups/.
    admin("PUT", "/_armsim/eventgrid/subscriptions/conf-deletes", {
        "scope": "/subscriptions/%s/resourceGroups/%s" % (SUB, RG), "encoding": "json",
        "queueUrl": qbase + "/conf-deletes", "account": "devstoreaccount1",
        "key": "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==",
        "filter": {"includedEventTypes": ["Microsoft.Resources.ResourceDeleteSuccess"],
                   "subjectEndsWith": "/conf-events-group"}})
    q = qbase + "/conf-events"
    queue_request("PUT", q)
    ac.hybrid_runbook_worker_group.create(RG, ACCOUNT, "conf-events-group", {})
    ac.hybrid_runbook_worker_group.delete(RG, ACCOUNT, "conf-events-group")
    events = []
    deadline = time.time() + 20
    while time.time() < deadline and len(events) < 2:
        r = queue_request("GET", q, "/messages", {"numofmessages": "32"})
        check(r.status_code == 200, "queue GET %d %s" % (r.status_code, r.text[:200]))
        for m in ET.fromstring(r.content).iter("QueueMessage"):
            txt = m.findtext("MessageText") or ""
            if not txt.lstrip().startswith("{"):
                txt = base64.b64decode(txt).decode()
            events.append(json.loads(txt))
        time.sleep(0.3)
    only = []
    deadline = time.time() + 10
    while time.time() < deadline and not only:
        r = queue_request("GET", qbase + "/conf-deletes", "/messages", {"numofmessages": "32"})
        if r.status_code == 200:
            only = [json.loads(m.findtext("MessageText")) for m in ET.fromstring(r.content).iter("QueueMessage")]
        time.sleep(0.2)
    time.sleep(0.5)  # anything else would have arrived by now
    r = queue_request("GET", qbase + "/conf-deletes", "/messages", {"numofmessages": "32"})
    only += [json.loads(m.findtext("MessageText")) for m in ET.fromstring(r.content).iter("QueueMessage")]
    check([e["eventType"] for e in only] == ["Microsoft.Resources.ResourceDeleteSuccess"],
          "filtered subscription got %s" % [e.get("eventType") for e in only])
    kinds = [(e.get("eventType"), e.get("data", {}).get("operationName")) for e in events]
    want_w = ("Microsoft.Resources.ResourceWriteSuccess",
              "Microsoft.Automation/automationAccounts/hybridRunbookWorkerGroups/write")
    want_d = ("Microsoft.Resources.ResourceDeleteSuccess",
              "Microsoft.Automation/automationAccounts/hybridRunbookWorkerGroups/delete")
    check(want_w in kinds and want_d in kinds, "events %s" % kinds)
    e = events[0]
    for k in ("topic", "subject", "eventType", "eventTime", "id", "data", "dataVersion", "metadataVersion"):
        check(k in e, "event lacks %s: %s" % (k, e))
    check(e["topic"].lower() == ("/subscriptions/%s/resourceGroups/%s" % (SUB, RG)).lower(), "topic %s" % e["topic"])
    check(e["data"]["resourceUri"].lower().endswith("/hybridrunbookworkergroups/conf-events-group"),
          "resourceUri %s" % e["data"]["resourceUri"])


def main():
    passed = failed = 0
    only = os.environ.get("ARMSIM_SDK_ONLY")
    for n, (name, fn) in enumerate(TESTS, 1):
        if only and str(n) not in only.split(","):
            continue
        t0 = time.time()
        try:
            fn()
            passed += 1
            print("ok %d - %s (%.1fs)" % (n, name, time.time() - t0), flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the next check runs
            failed += 1
            msg = "%s: %s" % (type(e).__name__, e)
            if isinstance(e, HttpResponseError):
                msg += " [HTTP %s]" % (e.status_code,)
            print("FAIL %d - %s: %s" % (n, name, msg[:800]), flush=True)
            if os.environ.get("ARMSIM_SDK_TRACE"):
                traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
