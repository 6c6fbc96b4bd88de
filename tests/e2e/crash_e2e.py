#!/usr/bin/python3
"""Crash safety (DESIGN.md §4 rule 2): kill -9 `azpool run` at random moments
of convergence, restart it, and assert from armsim's state and request log
that no instance was duplicated and nothing leaked.

World: one VirtualMachines-mode pool (per-slot VM + NIC, where a crash could
duplicate) and one ScaleSet-mode pool, both resized at random between kills.
The controller runs with --state-dir; after every kill each state file must
still parse (atomic writes). At the end the controller runs undisturbed and:
- the VM pool has exactly its desired number of VMs and of NICs, all tagged;
- no slot ever had two VMs alive at once (request log: a PUT of a second name
  for a slot while the first was not yet deleted), and every VM PUT name is
  re-issued only to the same slot;
- the scale set's capacity and instance count equal its desired size;
- a third pool whose manifest is removed while the controller is down (at
  the middle kill) is destroyed (its manifest is known from --state-dir);
- nothing in the resource group is tagged for a pool beyond that;
- a further resync issues zero writes.

Usage: crash_e2e.py BUILD_DIR   (CRASH_KILLS=20, CRASH_SEED=random)
"""
import json
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gitops_e2e as g  # noqa: E402

check = g.check
RES = f"/subscriptions/{g.SUB}/resourceGroups/{g.RG}"


def manifests(w, vms, ss):
    w.write("vms.yaml", g.pool_yaml("vms", vms).replace(
        "  replicas:", "  mode: VirtualMachines\n  replicas:"))
    w.write("ss.yaml", g.pool_yaml("ss", ss))


def owned(w, kind, pool):
    code, body = w.arm("GET", f"{RES}/providers/{kind}?api-version=2024-05-01"
                       if kind.startswith("Microsoft.Network") else
                       f"{RES}/providers/{kind}?api-version=2024-11-01")
    items = (body or {}).get("value", []) if code == 200 else []
    return [i for i in items if (i.get("tags") or {}).get("azpool.pool") == pool]


def vmss(w):
    code, body = w.arm("GET", f"{g.VMSS}/ss?api-version=2024-11-01")
    if code != 200:
        return None, []
    code, vms = w.arm("GET", f"{g.VMSS}/ss/virtualMachines?api-version=2024-11-01")
    return body["sku"]["capacity"], (vms or {}).get("value", [])


def converged(w, vms, ss):
    if not (w.ready("ci", "vms", vms) and w.ready("ci", "ss", ss)):
        return False
    cap, inst = vmss(w)
    return (len(owned(w, "Microsoft.Compute/virtualMachines", "ci/vms")) == vms and
            len(owned(w, "Microsoft.Network/networkInterfaces", "ci/vms")) == vms and
            cap == ss and len(inst) == ss)


def slot_violations(log):
    """PUTs of VM names; a second name for a slot while the first is alive."""
    alive = {}  # slot -> set of names created and not deleted
    bad = []
    name_re = re.compile(r"/virtualMachines/(vms-(\d+)-[0-9a-z]+)$")
    for e in log:
        if e["principal"] != "azpool":
            continue
        m = name_re.search(e["path"].split("?")[0])
        if not m:
            continue
        name, slot = m.group(1), m.group(2)
        if e["method"] == "PUT" and e["status"] < 300:
            others = alive.setdefault(slot, set()) - {name}
            if others:
                bad.append((slot, name, sorted(others)))
            alive[slot].add(name)
        elif e["method"] == "DELETE" and e["status"] < 300:
            alive.get(slot, set()).discard(name)
    return bad


def state_files_parse(d):
    bad = []
    for root, _, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            if n.endswith(".tmp"):
                continue  # a write cut short by the kill; never read
            try:
                json.load(open(p))
            except ValueError:
                bad.append(p)
    return bad


def main():
    kills = int(os.environ.get("CRASH_KILLS", "20"))
    seed = int(os.environ.get("CRASH_SEED", str(random.randrange(1 << 30))))
    rnd = random.Random(seed)
    print(f"# kills={kills} seed={seed} (CRASH_SEED={seed} reproduces the schedule)")
    w = g.World(sys.argv[1])
    state = os.path.join(w.tmp, "state")
    args = ("--state-dir", state, "--resync", "1s")
    try:
        vms, ss = 3, 2
        manifests(w, vms, ss)
        w.write("tmp.yaml", g.pool_yaml("tmp", 1))
        torn, restarts = [], 0
        t0 = time.time()
        for i in range(kills):
            if i % 3 == 0 and i:
                vms, ss = rnd.randint(1, 4), rnd.randint(1, 4)
                manifests(w, vms, ss)
            w.start(*args)
            restarts += 1
            time.sleep(rnd.uniform(0.0, 1.2))
            w.ctl.kill()  # SIGKILL: no shutdown path runs
            w.ctl.wait()
            if i == kills // 2:  # removed while the controller is down
                os.remove(os.path.join(w.pools, "tmp.yaml"))
                print(f"# tmp.yaml removed after kill {i + 1}; its scale set answers "
                      f"{w.arm('GET', f'{g.VMSS}/tmp?api-version=2024-11-01')[0]}")
            torn += state_files_parse(state)
        check(f"{kills} kill -9 during convergence, every state file still parses",
              restarts == kills and not torn, f"torn={torn}")
        vms, ss = rnd.randint(1, 4), rnd.randint(1, 4)
        manifests(w, vms, ss)
        w.start(*args)
        w.wait(lambda: converged(w, vms, ss), 90, f"convergence to vms={vms} ss={ss}")
        check(f"converged after the kills (vms={vms}, ss={ss}) in {time.time() - t0:.0f}s", True)
        vm_list = owned(w, "Microsoft.Compute/virtualMachines", "ci/vms")
        nics = owned(w, "Microsoft.Network/networkInterfaces", "ci/vms")
        check("VM count equals the desired size",
              len(vm_list) == vms, str([v["name"] for v in vm_list]))
        slots = [re.match(r"vms-(\d+)-", v["name"]).group(1) for v in vm_list]
        check("one VM per slot", len(set(slots)) == len(slots), str(slots))
        log = w.log()
        bad = slot_violations(log)
        mine = [e for e in log if e["principal"] == "azpool" and e["method"] != "GET"]
        vm_puts = [e for e in mine if e["method"] == "PUT" and "/virtualMachines/" in e["path"]
                   and "/virtualMachineScaleSets/" not in e["path"]]
        print(f"# {len(mine)} writes by azpool, {len(vm_puts)} VM PUTs "
              f"({len({e['path'].split('?')[0] for e in vm_puts})} names)")

        check("no slot ever had two VMs alive at once (request log)", not bad, str(bad[:5]))
        vm_names = {v["name"] for v in vm_list}
        check("no leaked NIC: one per VM, named for it",
              len(nics) == vms and all(any(n["name"].startswith(v) for v in vm_names)
                                       for n in nics),
              str([n["name"] for n in nics]))
        cap, inst = vmss(w)
        check("scale set capacity and instances equal the desired size",
              cap == ss and len(inst) == ss, f"capacity={cap} instances={len(inst)}")
        code, body = w.arm("GET", f"{RES}/resources?api-version=2021-04-01")
        tagged = [r["id"] for r in (body or {}).get("value", [])
                  if (r.get("tags") or {}).get("azpool.managed-by") == "azpool"]
        want = len(vm_list) + len(nics) + 1
        disks = [t for t in tagged if "/disks/" in t.lower()]
        check("the pool whose manifest was removed while the controller was down is gone",
              w.arm("GET", f"{g.VMSS}/tmp?api-version=2024-11-01")[0] == 404)
        check("nothing else in the resource group is tagged for Azpool",
              len(tagged) - len(disks) == want and len(disks) <= len(vm_list),
              f"{len(tagged)} tagged, want {want} (+disks {len(disks)}): {tagged}")
        seq = w.last_seq()
        time.sleep(3)
        wr = w.writes(seq)
        check("after convergence a resync issues zero writes", wr == [], str(wr))
        check("SIGTERM exit 0", w.stop() == 0)
    except Exception as e:
        check("suite ran to the end", False, repr(e))
        try:
            print(open(os.path.join(w.tmp, "azpool.log")).read()[-3000:])
        except OSError:
            pass
    finally:
        w.close()
    print(f"{g.passed} passed, {g.failed} failed")
    return 1 if g.failed else 0


if __name__ == "__main__":
    sys.exit(main())
