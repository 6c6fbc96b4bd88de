#!/usr/bin/python3
"""armsim_vm_sdk.py - the Debian python3-azure SDK (azure-mgmt-compute 29, azure-mgmt-network,
azure-mgmt-resource) drives armsim's VirtualMachines-mode surface: NICs, VMs with a managed
identity and deleteOption, VM extensions, instance views, PATCH tags, Flexible scale sets and
their member VMs, Uniform instance delete/reimage, VMSS instance views and resource group
deletion. Environment: ARMSIM_URL, REQUESTS_CA_BUNDLE (set by suite-armsim-vm.sh).
Prints "N passed, N failed" last; exit 1 on failure.
"""
import os
import sys
import traceback

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource import ResourceManagementClient

BASE = os.environ["ARMSIM_URL"].rstrip("/")
SUB = "00000000-0000-4000-8000-0000000000a1"
RG = "vmrg"
SUBNET = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/v/subnets/s" % (SUB, RG)
cred = ClientSecretCredential("tenant-vm", "vm-client", "secret", authority=BASE, instance_discovery=False)
kw = dict(base_url=BASE, polling_interval=1)
rc = ResourceManagementClient(cred, SUB, **kw)
cc = ComputeManagementClient(cred, SUB, **kw)
nc = NetworkManagementClient(cred, SUB, **kw)
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok -", what)
    else:
        failed += 1
        print("FAIL -", what)


def step(name, fn):
    global failed
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - any SDK error fails the step
        failed += 1
        print("FAIL -", name, "raised", type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        traceback.print_exc(limit=2)


S = {}


def t_rg():
    g = rc.resource_groups.create_or_update(RG, {"location": "West US", "tags": {"a": "b"}})
    check(g.location == "westus" and g.tags == {"a": "b"}, "resource group created, location normalized")


def t_nic():
    nic = nc.network_interfaces.begin_create_or_update(RG, "nic1", {
        "location": "westus", "ip_configurations": [{"name": "ipc", "subnet": {"id": SUBNET}}]}).result()
    check(nic.provisioning_state == "Succeeded" and nic.ip_configurations[0].private_ip_address,
          "NIC PUT: Succeeded with a private IP")
    S["nic"] = nic


def t_vm():
    vm = cc.virtual_machines.begin_create_or_update(RG, "vm1", {
        "location": "westus", "tags": {"pool": "a"}, "identity": {"type": "SystemAssigned"},
        "hardware_profile": {"vm_size": "Standard_D2s_v3"},
        "storage_profile": {"image_reference": {"id": "/img"},
                            "os_disk": {"create_option": "FromImage", "delete_option": "Delete"}},
        "os_profile": {"computer_name": "vm1", "admin_username": "u",
                       "linux_configuration": {"disable_password_authentication": True}},
        "network_profile": {"network_interfaces": [{"id": S["nic"].id, "primary": True,
                                                    "delete_option": "Delete"}]}}).result()
    check(vm.provisioning_state == "Succeeded", "VM create LRO ends Succeeded")
    check(vm.identity.principal_id is not None and vm.vm_id, "VM has vmId and a system identity principal")
    check(vm.time_created is not None, "VM has timeCreated")
    disks = [d.name for d in cc.disks.list_by_resource_group(RG)]
    check(len(disks) == 1 and disks[0].startswith("vm1_OsDisk_1_"), "OS disk created: %s" % disks)
    n = nc.network_interfaces.get(RG, "nic1")
    check(n.virtual_machine is not None and n.virtual_machine.id.lower() == vm.id.lower(), "NIC points at the VM")


def t_ext():
    ext = cc.virtual_machine_extensions.begin_create_or_update(RG, "vm1", "HybridWorkerExtension", {
        "location": "westus", "publisher": "Microsoft.Azure.Automation.HybridWorker",
        "type_properties_type": "HybridWorkerForLinux", "type_handler_version": "1.1",
        "auto_upgrade_minor_version": True, "settings": {"AutomationAccountURL": "https://x"}}).result()
    check(ext.provisioning_state == "Succeeded" and ext.type_properties_type == "HybridWorkerForLinux",
          "VM extension PUT LRO ends Succeeded")
    try:
        cc.virtual_machine_extensions.get(RG, "novm", "x")
        check(False, "extension of a missing VM is 404")
    except ResourceNotFoundError as e:
        check(e.error.code == "ParentResourceNotFound", "extension of a missing VM: ParentResourceNotFound")


def t_views():
    iv = cc.virtual_machines.instance_view(RG, "vm1")
    codes = [s.code for s in iv.statuses]
    check(codes == ["ProvisioningState/succeeded", "PowerState/running"], "VM instance view %s" % codes)
    upd = cc.virtual_machines.begin_update(RG, "vm1", {"tags": {"x": "y"}}).result()
    check(upd.tags == {"x": "y"}, "PATCH replaces tags wholesale: %s" % upd.tags)


def t_vm_delete():
    cc.virtual_machines.begin_delete(RG, "vm1").result()
    try:
        cc.virtual_machines.get(RG, "vm1")
        check(False, "deleted VM is gone")
    except ResourceNotFoundError as e:
        check(e.error.code == "ResourceNotFound", "deleted VM: 404 ResourceNotFound")
    check([n.name for n in nc.network_interfaces.list(RG)] == [], "NIC with deleteOption Delete removed")
    check([d.name for d in cc.disks.list_by_resource_group(RG)] == [], "OS disk with deleteOption Delete removed")


def t_flex():
    flex = cc.virtual_machine_scale_sets.begin_create_or_update(RG, "fx", {
        "location": "westus", "sku": {"name": "Standard_D2s_v3", "capacity": 3},
        "orchestration_mode": "Flexible", "platform_fault_domain_count": 1,
        "virtual_machine_profile": {
            "storage_profile": {"image_reference": {"id": "/img"}},
            "os_profile": {"computer_name_prefix": "fx", "admin_username": "u"},
            "network_profile": {"network_api_version": "2020-11-01", "network_interface_configurations": [
                {"name": "nic", "primary": True, "ip_configurations": [{"name": "ipc", "subnet": {"id": SUBNET}}]}]}}}).result()
    check(flex.provisioning_state == "Succeeded" and flex.sku.capacity == 3, "Flexible VMSS created with 3")
    members = [m.name for m in cc.virtual_machine_scale_set_vms.list(RG, "fx")]
    check(len(members) == 3 and all(m.startswith("fx_") and len(m) == 11 for m in members),
          "Flexible members are VMs named fx_<8 hex>: %s" % members)
    vms = list(cc.virtual_machines.list(RG, filter="'virtualMachineScaleSet/id' eq '%s'" % flex.id))
    check(sorted(v.name for v in vms) == sorted(members), "VM list filtered by virtualMachineScaleSet/id")
    one = cc.virtual_machine_scale_set_vms.get(RG, "fx", members[1])
    check(one.name == members[1] and one.instance_id == members[1], "GET a Flexible member by VM name")
    cc.virtual_machine_scale_sets.begin_delete_instances(RG, "fx", {"instance_ids": [members[0]]}).result()
    left = sorted(m.name for m in cc.virtual_machine_scale_set_vms.list(RG, "fx"))
    check(left == sorted(members[1:]), "POST delete with a VM name removes exactly that member")
    check(cc.virtual_machine_scale_sets.get(RG, "fx").sku.capacity == 2, "capacity follows (2)")


def t_uniform():
    cc.virtual_machine_scale_sets.begin_create_or_update(RG, "un", {
        "location": "westus", "sku": {"name": "Standard_D2s_v3", "capacity": 3},
        "upgrade_policy": {"mode": "Manual"},
        "virtual_machine_profile": {"storage_profile": {"image_reference": {"id": "/img/versions/1.0.0"}},
                                    "os_profile": {"computer_name_prefix": "un", "admin_username": "u"}}}).result()
    ids = [v.instance_id for v in cc.virtual_machine_scale_set_vms.list(RG, "un", expand="instanceView")]
    check(len(ids) == 3, "3 instances listed across pages: %s" % ids)
    cc.virtual_machine_scale_set_vms.begin_delete(RG, "un", ids[0]).result()
    cc.virtual_machine_scale_sets.begin_reimage(RG, "un", {"instance_ids": [ids[1]]}).result()
    vm1 = cc.virtual_machine_scale_set_vms.get(RG, "un", ids[1], expand="instanceView")
    check(vm1.provisioning_state == "Succeeded" and vm1.latest_model_applied, "reimaged instance Succeeded")
    check(vm1.instance_view is not None and vm1.instance_view.statuses[0].code == "ProvisioningState/succeeded",
          "$expand=instanceView on a VMSS VM GET")
    left = [v.instance_id for v in cc.virtual_machine_scale_set_vms.list(RG, "un")]
    check(left == ids[1:], "single-instance DELETE removed %s: %s" % (ids[0], left))
    ivs = cc.virtual_machine_scale_sets.get_instance_view(RG, "un")
    check([(s.code, s.count) for s in ivs.virtual_machine.statuses_summary] == [("ProvisioningState/succeeded", 2)],
          "VMSS instance view summary")
    try:
        cc.virtual_machine_scale_sets.begin_delete_instances(RG, "un", {"instance_ids": ["12345"]}).result()
        check(False, "unknown instance id refused")
    except HttpResponseError as e:
        check(e.status_code == 400 and e.error.code == "InvalidParameter", "unknown instance id: 400 InvalidParameter")


def t_rg_delete():
    rc.resource_groups.begin_delete(RG).result()
    check(not rc.resource_groups.check_existence(RG), "resource group delete LRO; HEAD says gone")
    try:
        cc.virtual_machine_scale_sets.get(RG, "un")
        check(False, "scale set gone with its group")
    except ResourceNotFoundError as e:
        check(e.error.code == "ResourceGroupNotFound", "scale set gone with its group (ResourceGroupNotFound)")


for name, fn in [("rg", t_rg), ("nic", t_nic), ("vm", t_vm), ("ext", t_ext), ("views", t_views),
                 ("vm delete", t_vm_delete), ("flex", t_flex), ("uniform", t_uniform),
                 ("rg delete", t_rg_delete)]:
    step(name, fn)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
