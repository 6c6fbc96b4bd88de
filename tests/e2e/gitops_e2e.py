#!/usr/bin/python3
"""GitOps mode end to end: `azpool run --source dir:PATH` against armsim.

Each check is numbered and asserted from armsim's request log (what reached
"Azure") and from the controller's /api and exit code. Starts its own armsim
and controller on free ports in a temp dir and always stops them.

Usage: gitops_e2e.py BUILD_DIR
"""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from armclient import ArmClient  # noqa: E402

SUB = "11111111-2222-3333-4444-555555555555"
RG = "rg-workers"
SUBNET = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v/subnets/workers"
VMSS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachineScaleSets"
SECRET = "e2e-client-secret-must-not-leak"

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {passed + failed:2d} {name}")
    else:
        failed += 1
        print(f"FAIL {passed + failed:2d} {name} {detail}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pool_yaml(name, replicas, ns="ci"):
    return f"""apiVersion: azpool.dev/v1alpha1
kind: WorkerPool
metadata: {{name: {name}, namespace: {ns}}}
spec:
  subscriptionId: {SUB}
  resourceGroup: {RG}
  location: westeurope
  vmSize: Standard_D2s_v5
  replicas: {replicas}
  image: {{publisher: Canonical, offer: 0001-com-ubuntu-server-jammy, sku: 22_04-lts-gen2, version: latest}}
  network: {{subnetId: {SUBNET}}}
  osProfile: {{adminUsername: azpool, sshPublicKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2e azpool"]}}
"""


class World(ArmClient):
    def __init__(self, build):
        self.build = build
        self.tmp = tempfile.mkdtemp(prefix="azpool-e2e-")
        self.pools = os.path.join(self.tmp, "pools")
        os.makedirs(self.pools)
        self.procs = []
        self.arm_port = free_port()
        self.api_port = free_port()
        simdir = os.path.join(self.tmp, "sim")
        os.makedirs(simdir)
        self.sim_log = open(os.path.join(self.tmp, "armsim.log"), "w")
        self.sim = subprocess.Popen(
            [os.path.join(build, "armsim"), "--port", str(self.arm_port), "--dir", simdir,
             "--time-scale", "60", "--seed", "3"],
            stdout=self.sim_log, stderr=subprocess.STDOUT)
        self.procs.append(self.sim)
        self.ca = os.path.join(simdir, "ca.pem")
        self.wait(lambda: "armsim listening" in open(self.sim_log.name).read(), 15, "armsim start")
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.base = f"https://127.0.0.1:{self.arm_port}"
        self.token = self.arm_token()
        self.arm("PUT", f"/subscriptions/{SUB}/resourcegroups/{RG}?api-version=2021-04-01",
                 {"location": "westeurope"})
        self.ctl = None

    def start(self, *extra):
        env = dict(os.environ, AZURE_TENANT_ID="tenant-1", AZURE_CLIENT_ID="azpool",
                   AZURE_CLIENT_SECRET=SECRET, AZURE_AUTHORITY_HOST=self.base)
        self.ctl_log = open(os.path.join(self.tmp, "azpool.log"), "a")
        self.ctl = subprocess.Popen(
            [os.path.join(self.build, "azpool"), "run", "--source", "dir:" + self.pools,
             "--arm-endpoint", self.base, "--ca-file", self.ca,
             "--listen", f"127.0.0.1:{self.api_port}", "--resync", "2s", *extra],
            stdout=self.ctl_log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(self.ctl)
        self.wait(lambda: self.api("/readyz")[0] == 200, 15, "azpool ready")

    def stop(self):
        self.ctl.send_signal(signal.SIGTERM)
        return self.ctl.wait(timeout=15)

    def api(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}{path}", timeout=2) as r:
                text = r.read().decode()
                return r.status, text
        except urllib.error.HTTPError as e:
            return e.code, ""

    def pool(self, ns, name):
        code, text = self.api(f"/api/v1/namespaces/{ns}/workerpools/{name}")
        return json.loads(text) if code == 200 else None

    def ready(self, ns, name, n):
        p = self.pool(ns, name)
        st = p and p.get("status") or {}
        return st.get("readyReplicas") == n and st.get("replicas") == n

    def write(self, name, text):
        path = os.path.join(self.pools, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)  # atomic, like git checkout

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.environ.get("E2E_KEEP"):  # for debugging: logs and state stay
            print("kept", self.tmp)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    w = World(sys.argv[1])
    try:
        # 1-2: a pool converges from an empty world with one write.
        w.write("runners.yaml", pool_yaml("runners", 3))
        w.start()
        w.wait(lambda: w.ready("ci", "runners", 3), 60, "3 ready")
        check("pool converges from an empty world (3/3 ready)", True)
        wr = w.writes()
        check("create is one PUT of the scale set", [e["method"] for e in wr] == ["PUT"] and
              wr[0]["path"].endswith("/virtualMachineScaleSets/runners"), str(wr))

        # 3: three resyncs later nothing was written.
        seq = w.last_seq()
        time.sleep(7)
        wr = w.writes(seq)
        reads = [e for e in w.log(seq) if e["method"] == "GET" and e["principal"] == "azpool"]
        check("3 resyncs issue zero writes", wr == [] and len(reads) >= 6,
              f"writes={wr} reads={len(reads)}")

        # 4: scale out is one PATCH.
        seq = w.last_seq()
        w.write("runners.yaml", pool_yaml("runners", 5))
        w.wait(lambda: w.ready("ci", "runners", 5), 60, "5 ready")
        wr = w.writes(seq)
        check("scale out 3 -> 5 is one PATCH", [e["method"] for e in wr] == ["PATCH"], str(wr))

        # 5: scale in is one POST delete with the chosen instanceIds.
        seq = w.last_seq()
        w.write("runners.yaml", pool_yaml("runners", 2))
        w.wait(lambda: w.ready("ci", "runners", 2), 60, "2 ready")
        wr = w.writes(seq)
        check("scale in 5 -> 2 is one POST .../delete",
              [e["method"] for e in wr] == ["POST"] and wr[0]["path"].endswith("/runners/delete"),
              str(wr))

        # 6: a malformed manifest next to good ones: clear error, the good pool converges.
        w.write("broken.yaml", "apiVersion: azpool.dev/v1alpha1\nkind: WorkerPool\n"
                "metadata: {name: broken, namespace: ci}\nspec:\n  replicas: -1\n")
        w.write("builds.yaml", pool_yaml("builds", 1))
        w.wait(lambda: w.ready("ci", "builds", 1), 60, "builds ready")
        log = open(w.ctl_log.name).read()
        check("malformed manifest reported with file:line:col, others converge",
              "broken.yaml" in log and "line=5" in log and "spec.replicas" in log)
        os.remove(os.path.join(w.pools, "broken.yaml"))

        # 7: an untagged scale set in the same resource group is never touched.
        code, _ = w.arm("PUT", f"{VMSS}/manual?api-version=2024-11-01", {
            "location": "westeurope", "sku": {"name": "Standard_D2s_v5", "capacity": 1},
            "properties": {"orchestrationMode": "Uniform", "upgradePolicy": {"mode": "Manual"},
                           "virtualMachineProfile": {"storageProfile": {"imageReference": {
                               "publisher": "Canonical", "offer": "o", "sku": "s",
                               "version": "latest"}}}}})
        check("setup: untagged scale set created", code in (200, 201), str(code))

        # 8: removing two manifests at once is refused (max-deletions 1).
        seq = w.last_seq()
        os.remove(os.path.join(w.pools, "runners.yaml"))
        os.remove(os.path.join(w.pools, "builds.yaml"))
        w.write("placeholder.yaml", "# nothing here\n")
        time.sleep(5)
        check("removing 2 pools at once deletes nothing without --allow-mass-delete",
              w.writes(seq) == [] and "mass_delete_refused" in open(w.ctl_log.name).read(),
              str(w.writes(seq)))

        # 9-10: one removal destroys that pool's scale set and nothing else.
        seq = w.last_seq()
        w.write("builds.yaml", pool_yaml("builds", 1))
        w.wait(lambda: w.arm("GET", f"{VMSS}/runners?api-version=2024-11-01")[0] == 404, 60,
               "runners gone")
        wr = w.writes(seq)
        check("removing a manifest destroys its scale set with one DELETE",
              [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in wr] == [("DELETE", "runners")],
              str(wr))
        check("the untagged scale set is untouched",
              w.arm("GET", f"{VMSS}/manual?api-version=2024-11-01")[0] == 200 and
              not [e for e in w.log() if e["principal"] == "azpool" and e["method"] != "GET" and
                   e["path"].endswith("/manual")])

        # 11-12: clean shutdown; the client secret never appears in logs or the API.
        metrics = w.api("/metrics")[1]
        check("/metrics has the DESIGN names",
              all(n in metrics for n in ("azpool_reconcile_total", "azpool_actions_total",
                                         "azpool_pool_replicas", "azpool_workqueue_depth")))
        rc = w.stop()
        log = open(w.ctl_log.name).read()
        check("SIGTERM: clean shutdown, exit 0", rc == 0 and "event=stopped exit=0" in log, str(rc))
        check("the client secret appears in no log or API output",
              SECRET not in log and SECRET not in metrics)
    except Exception as e:  # a setup failure or timeout is a failed check, never a skip
        check("suite ran to the end", False, repr(e))
        for log in ("azpool.log", "armsim.log"):
            try:
                print(f"--- {log} (tail)")
                print(open(os.path.join(w.tmp, log)).read()[-3000:])
            except OSError:
                pass
    finally:
        w.close()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
