#!/usr/bin/python3
"""Kubernetes mode with the shipped examples (issue 6 "done when"), driven by kubectl 1.32.

World: armsim seeded like `make run` (hack/demo_seed.py, plus newer golden image versions),
kubesim with --tls --token --state, `azpool run --source kube`. Then, asserted from the
Kubernetes objects, from kubectl's exit codes and from armsim's request log:

  1. kubectl apply -f crds/ and -f manifests/examples/ (Secrets created with kubectl): every
     pool reaches Ready (kubectl wait --for=condition=Ready) with status.observedGeneration ==
     metadata.generation; kstatus (cli-utils' rules, what Flux reads) says InProgress while a
     pool provisions (Reconciling True) and Current once Ready (Reconciling and Stalled False);
     a pool whose ExpiryPolicy is missing is Stalled with Reconciling False (kstatus Failed).
  2. kubectl scale wp/hybrid-linux --replicas=4: status.replicas follows (kubectl wait
     --for=jsonpath), armsim holds 4 VMs.
  3. Three image changes (kubectl patch of spec.image.id), each disturbed MID-ROLLOUT:
     a) every watch dropped and the watch history compacted: the informers get 410 and
        relist (kubesim's request log shows the LISTs of the three kinds);
     b) kubesim restarted from its --state file (every watch breaks, old RVs get 410: the
        informers relist against the new process);
     c) a second controller replica stands by; the leader is killed with SIGKILL (no Lease
        release): the standby leads within 20 s (Lease 15 s); the scale-set pool
        ci/github-runners rolls at the same time and its writes stay one PATCH (model and
        surge) and one POST delete.
     Each converges: Ready for the new generation, armsim shows the new image on every VM, and
     the writes since the change are exactly the minimal set (every PUT/POST/DELETE target
     written once: one NIC, VM, worker extension, hybrid worker and validation job per new VM,
     one DELETE per old VM and its worker) - no duplicate after the disturbance.
  4. kubectl delete wp/hybrid-linux (waits): kubectl returns only after armsim shows none of
     the pool's resources, then the object is gone.

Starts its own servers and controllers on free ports in a temp dir and always stops them.
E2E_KEEP=1 keeps the temp dir. Usage: kube_examples_e2e.py BUILD_DIR
"""
import base64
import collections
import json
import os
import re
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
from armclient import ArmClient, KubeClient  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KUBECTL = os.environ.get("KUBECTL_132", "/usr/lib/google-cloud-sdk/bin/kubectl.1.32")
SUB = "11111111-2222-3333-4444-555555555555"
TOKEN = "e2e-examples-token"
SECRET = "e2e-examples-client-secret"
GOLDEN = (f"/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.Compute/"
          "galleries/gal_golden/images/hybrid-worker-ubuntu-2204")
CI_IMG = (f"/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.Compute/"
          "galleries/gal_ci/images/github-runner-ubuntu-2204")
RG = f"/subscriptions/{SUB}/resourceGroups/rg-workers"
VMSS = f"{RG}/providers/Microsoft.Compute/virtualMachineScaleSets/github-runners"
POOLS = [("ci", "github-runners"), ("automation", "hybrid-linux"), ("build", "ado-agents")]
HL = ("automation", "hybrid-linux")
WP = "/apis/azpool.dev/v1alpha1/namespaces/{ns}/workerpools/{name}"

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {passed + failed:2d} {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {passed + failed:2d} {name} {detail}"[:3000], flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = cond()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def kstatus(obj):
    """cli-utils pkg/kstatus/status generic rules (checkGenericProperties) for a custom
    resource: Terminating, InProgress (observedGeneration behind, or Reconciling True),
    Failed (Stalled True), else Current."""
    md, st = obj["metadata"], obj.get("status") or {}
    if md.get("deletionTimestamp"):
        return "Terminating"
    if st.get("observedGeneration") is None or st["observedGeneration"] != md["generation"]:
        return "InProgress"
    conds = {c["type"]: c for c in st.get("conditions", [])}
    if conds.get("Reconciling", {}).get("status") == "True":
        return "InProgress"
    if conds.get("Stalled", {}).get("status") == "True":
        return "Failed"
    return "Current"


class World(ArmClient, KubeClient):
    KUBE_TOKEN = TOKEN

    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.tmp = tempfile.mkdtemp(prefix="azpool-kube-examples-")
        self.procs = []
        self.arm_port = free_port()
        simdir = os.path.join(self.tmp, "arm")
        os.makedirs(simdir)
        self.sim_log = os.path.join(self.tmp, "armsim.log")
        self.procs.append(subprocess.Popen(
            [os.path.join(self.build, "armsim"), "--port", str(self.arm_port), "--dir", simdir,
             "--time-scale", "60", "--seed", "1"],
            stdout=open(self.sim_log, "w"), stderr=subprocess.STDOUT))
        self.ca = os.path.join(simdir, "ca.pem")
        wait_for(lambda: "armsim listening" in open(self.sim_log).read(), 15, "armsim")
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.base = f"https://127.0.0.1:{self.arm_port}"
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "hack", "demo_seed.py"),
                        self.base, self.ca], check=True, stdout=subprocess.DEVNULL)
        self.token = self.arm_token()
        for v in ("1.5.0", "1.6.0", "1.7.0"):
            self.arm_put(f"{GOLDEN}/versions/{v}", "2022-03-03", {
                "location": "westeurope", "properties": {
                    "publishingProfile": {"excludeFromLatest": False},
                    "storageProfile": {"source": {"id": f"/subscriptions/{SUB}/resourceGroups/"
                                                  "rg-images/providers/Microsoft.Compute/images/base"}}}})
        self.arm_put(f"{CI_IMG}/versions/2.312.0", "2022-03-03", {
            "location": "westeurope", "properties": {
                "publishingProfile": {"excludeFromLatest": False},
                "storageProfile": {"source": {"id": f"/subscriptions/{SUB}/resourceGroups/"
                                              "rg-images/providers/Microsoft.Compute/images/base"}}}})
        # kubesim with a state file (restarted mid-rollout later)
        self.kube_port = free_port()
        self.ksdir = os.path.join(self.tmp, "kube")
        os.makedirs(self.ksdir)
        self.state = os.path.join(self.ksdir, "state.json")
        self.ks = None
        self.start_kubesim()
        self.kctx = ssl.create_default_context(cafile=os.path.join(self.ksdir, "ca.pem"))
        self.kbase = f"https://127.0.0.1:{self.kube_port}"
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)

    def start_kubesim(self):
        n = len([p for p in self.procs if p is self.ks])
        log = os.path.join(self.tmp, "kubesim.log")
        mark = os.path.getsize(log) if os.path.exists(log) else 0
        self.ks = subprocess.Popen(
            [os.path.join(self.build, "kubesim"), "--port", str(self.kube_port), "--dir",
             self.ksdir, "--tls", "--token", TOKEN, "--state", self.state,
             "--bookmark-seconds", "2"], stdout=open(log, "a"), stderr=subprocess.STDOUT)
        self.procs.append(self.ks)
        del n
        wait_for(lambda: "kubesim listening" in open(log).read()[mark:], 15, "kubesim")

    def arm_put(self, path, api, body):
        code, _ = self.arm("PUT", f"{path}?api-version={api}", body)
        if code not in (200, 201, 202):
            raise RuntimeError(f"PUT {path}: {code}")
        wait_for(lambda: (self.arm("GET", f"{path}?api-version={api}")[1] or {}).get(
            "properties", {}).get("provisioningState", "Succeeded") == "Succeeded", 30, path)

    def kubectl(self, *args, timeout=120):
        env = dict(os.environ, HOME=self.home, KUBECONFIG=os.path.join(self.ksdir, "kubeconfig"))
        r = subprocess.run([KUBECTL, *args], env=env, capture_output=True, text=True,
                           timeout=timeout)
        return r.returncode, r.stdout + r.stderr

    def kubectl_bg(self, *args):
        env = dict(os.environ, HOME=self.home, KUBECONFIG=os.path.join(self.ksdir, "kubeconfig"))
        return subprocess.Popen([KUBECTL, *args], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    def wp(self, ns, name):
        code, obj = self.kube("GET", WP.format(ns=ns, name=name))
        return obj if code == 200 else None

    def ready(self, ns, name, n=None):
        o = self.wp(ns, name)
        st = (o or {}).get("status") or {}
        conds = {c["type"]: c for c in st.get("conditions", [])}
        return (o is not None and st.get("observedGeneration") == o["metadata"]["generation"] and
                conds.get("Ready", {}).get("status") == "True" and
                (n is None or (st.get("replicas") == n and st.get("readyReplicas") == n)))

    def pool_vms(self, ns, name):
        """VMs tagged for the pool: [(name, image id)]."""
        code, body = self.arm("GET", f"{RG}/providers/Microsoft.Compute/virtualMachines"
                              "?api-version=2024-07-01")
        if code != 200:
            raise RuntimeError(f"VM list: {code}")
        return sorted((v["name"], v["properties"]["storageProfile"]["imageReference"].get("id", ""))
                      for v in body.get("value", [])
                      if (v.get("tags") or {}).get("azpool.pool") == f"{ns}/{name}")

    def vmss_images(self):
        """The image of every instance of ci/github-runners' scale set."""
        code, body = self.arm("GET", f"{VMSS}/virtualMachines?api-version=2024-11-01")
        if code != 200:
            raise RuntimeError(f"VMSS VM list: {code}")
        return sorted(((v.get("properties") or {}).get("storageProfile") or {}).get(
            "imageReference", {}).get("id", "") for v in body.get("value", []))

    def pool_resources(self, ns, name):
        """Every resource of rg-workers tagged for the pool, and the hybrid workers of its
        group."""
        code, body = self.arm("GET", f"{RG}/resources?api-version=2021-04-01")
        if code != 200:
            raise RuntimeError(f"resource list: {code}")
        out = [r["id"] for r in body.get("value", [])
               if (r.get("tags") or {}).get("azpool.pool") == f"{ns}/{name}"]
        aa = (f"/subscriptions/{SUB}/resourceGroups/rg-automation/providers/Microsoft.Automation/"
              "automationAccounts/aa-ops/hybridRunbookWorkerGroups/linux-workers")
        code, body = self.arm("GET", f"{aa}/hybridRunbookWorkers?api-version=2022-08-08")
        if code == 200:
            out += [r["id"] for r in body.get("value", [])]
        return out

    def hybrid_workers_ok(self, ns, name):
        """(ok, detail): the group's hybrid workers point one to one at the pool's VMs."""
        aa = (f"/subscriptions/{SUB}/resourceGroups/rg-automation/providers/Microsoft.Automation/"
              "automationAccounts/aa-ops/hybridRunbookWorkerGroups/linux-workers")
        code, body = self.arm("GET", f"{aa}/hybridRunbookWorkers?api-version=2022-08-08")
        vms = sorted(v.lower() for v, _ in self.pool_vms(ns, name))
        got = sorted(((r.get("properties") or {}).get("vmResourceId") or "").rsplit("/", 1)[-1].lower()
                     for r in (body or {}).get("value", []))
        return code == 200 and got == vms, f"{code} workers->{got} vms={vms}"

    def kube_seq(self):
        with urllib.request.urlopen(f"{self.kbase}/_kubesim/requests?limit=1",
                                    context=self.kctx, timeout=10) as r:
            return json.load(r)["next"]

    def kube_requests(self, since):
        out = []
        while True:
            with urllib.request.urlopen(f"{self.kbase}/_kubesim/requests?since={since}",
                                        context=self.kctx, timeout=10) as r:
                d = json.load(r)
            out += d["entries"]
            if not d["entries"] or d["next"] == since:
                return out
            since = d["next"]

    def launch(self, name):
        env = dict(os.environ, AZURE_TENANT_ID="tenant-1", AZURE_CLIENT_ID="azpool",
                   AZURE_CLIENT_SECRET=SECRET, AZURE_AUTHORITY_HOST=self.base, POD_NAME=name)
        for k in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONFIG",
                  "POD_NAMESPACE"):
            env.pop(k, None)
        port = free_port()
        path = os.path.join(self.tmp, name + ".log")
        proc = subprocess.Popen(
            [os.path.join(self.build, "azpool"), "run", "--source", "kube", "--kubeconfig",
             os.path.join(self.ksdir, "kubeconfig"), "--arm-endpoint", self.base,
             "--ca-file", self.ca, "--listen", f"127.0.0.1:{port}", "--resync", "5s"],
            stdout=open(path, "a"), stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        wait_for(lambda: self.api("/readyz", port) == 200, 30, f"{name} ready")
        return proc, path

    def api(self, path, port):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.environ.get("E2E_KEEP"):
            print("kept", self.tmp)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)


# The minimal writes of a VirtualMachines-mode rollout, by target kind: per new VM a NIC, the VM,
# its HybridWorkerExtension (PUT), its hybrid worker (PUT) and its validation job (PUT); per old
# VM its worker (DELETE) and the VM (DELETE; NIC and disks go by deleteOption).
# armsim's log keeps the first 199 characters of a path, which cuts a hybrid worker's id off: a
# duplicate worker write shows as a count above the minimum (each new VM needs one PUT, each
# old one DELETE), and hybrid_workers_ok() checks that every VM has exactly one worker.
def classify(e):
    p = e["path"].split("?")[0]
    m = e["method"]
    for kind, pat in (("nic", r"/networkInterfaces/[^/]+$"),
                      ("extension", r"/virtualMachines/[^/]+/extensions/[^/]+$"),
                      ("vm", r"/virtualMachines/[^/]+$"),
                      ("worker", r"/hybridRunbookWorkers/[^/]*$"),
                      ("job", r"/jobs/[^/]+$")):
        if re.search(pat, p):
            return f"{m} {kind}"
    return f"{m} {p}"


def rollout_writes_ok(writes, n):
    """(ok, detail): every target written once per method, and exactly the minimal set for
    replacing n VMs."""
    keys = [(e["method"], e["path"].split("?")[0]) for e in writes
            if not e["path"].split("?")[0].endswith("/hybridRunbookWorkers/")]
    dups = [k for k, c in collections.Counter(keys).items() if c > 1]
    kinds = collections.Counter(classify(e) for e in writes)
    want = {"PUT nic": n, "PUT vm": n, "PUT extension": n, "PUT worker": n, "PUT job": n,
            "DELETE worker": n, "DELETE vm": n}
    return (not dups and dict(kinds) == want,
            f"duplicates={dups} kinds={dict(kinds)} want={want}")


def main():
    if not os.access(KUBECTL, os.X_OK):
        check(f"kubectl 1.32 at {KUBECTL}", False)
        print(f"{passed} passed, {failed} failed")
        return 1
    w = World(sys.argv[1])
    try:
        main_checks(w)
    except Exception as e:  # a setup failure or timeout is a failed check, never a skip
        check("suite ran to the end", False, repr(e))
        for log in ("azpool-a.log", "azpool-b.log", "kubesim.log", "armsim.log"):
            try:
                print(f"--- {log} (tail)")
                print(open(os.path.join(w.tmp, log)).read()[-3000:])
            except OSError:
                pass
    finally:
        w.close()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def main_checks(w):
    # ---- 1: CRDs, namespaces, Secrets, controller, examples ----
    rc, out = w.kubectl("apply", "-f", os.path.join(ROOT, "crds") + "/")
    rc2, out2 = w.kubectl("wait", "--for=condition=Established", "--timeout=20s",
                          "crd/workerpools.azpool.dev", "crd/imageversions.azpool.dev",
                          "crd/expirypolicies.azpool.dev")
    check("kubectl apply -f crds/ and wait Established", rc == 0 and rc2 == 0, out + out2)
    for ns in ("ci", "automation", "build"):
        w.kubectl("create", "namespace", ns)
    secrets = [("ci", "github-runner-cloud-init", "user-data", "#cloud-config\nruncmd: [echo runner]\n"),
               ("automation", "hybrid-worker-cloud-init", "user-data", "#cloud-config\nruncmd: [echo w]\n"),
               ("build", "ado-agent-registration", "protected-settings.json", '{"PATToken":"e2e-pat"}'),
               ("build", "ado-bridge-token", "headers", "Authorization: Bearer e2e-bridge")]
    rcs = [w.kubectl("create", "secret", "generic", name, "-n", ns,
                     f"--from-literal={key}={val}")[0] for ns, name, key, val in secrets]
    check("kubectl create namespace + the 4 Secrets the examples reference", rcs == [0] * 4,
          str(rcs))
    a, alog = w.launch("azpool-a")
    rc, out = w.kubectl("apply", "-f", os.path.join(ROOT, "manifests", "examples") + "/")
    check("kubectl apply -f manifests/examples/", rc == 0 and out.count("created") == 5, out)

    # kstatus while provisioning: InProgress through Reconciling True (observedGeneration current)
    seen = {}
    t_end = time.time() + 60
    while time.time() < t_end and len(seen) < 3:
        for ns, name in POOLS:
            o = w.wp(ns, name)
            st = (o or {}).get("status") or {}
            conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
            if (o and st.get("observedGeneration") == o["metadata"]["generation"] and
                    conds.get("Ready") == "False" and conds.get("Reconciling") == "True"):
                seen[name] = kstatus(o)
        time.sleep(0.1)
    check("while provisioning: Ready False, Reconciling True -> kstatus InProgress (seen on "
          "at least one pool)", seen and set(seen.values()) == {"InProgress"}, str(seen))

    rc, out = w.kubectl("wait", "--for=condition=Ready", "wp", "--all", "--all-namespaces",
                        "--timeout=150s", timeout=170)
    check("kubectl wait --for=condition=Ready wp --all -A (kubectl 1.32)",
          rc == 0 and out.count("condition met") == 3, out)
    objs = [w.wp(ns, name) for ns, name in POOLS]
    bad = [(o["metadata"]["name"], o["metadata"]["generation"],
            (o.get("status") or {}).get("observedGeneration")) for o in objs
           if (o.get("status") or {}).get("observedGeneration") != o["metadata"]["generation"]]
    check("every example pool: status.observedGeneration == metadata.generation", not bad, str(bad))
    ks = {o["metadata"]["name"]: kstatus(o) for o in objs}
    rec = {o["metadata"]["name"]: [c["status"] for c in o["status"]["conditions"]
                                   if c["type"] == "Reconciling"] for o in objs}
    check("every example pool is kstatus Current (Reconciling False, Stalled False)",
          set(ks.values()) == {"Current"} and all(v == ["False"] for v in rec.values()),
          f"{ks} {rec}")
    vms = w.pool_vms(*HL)
    check("armsim: hybrid-linux has 3 VMs on 1.4.0", len(vms) == 3 and
          all(i.endswith("/versions/1.4.0") for _, i in vms), str(vms))

    # a pool that cannot progress: Stalled True, Reconciling False -> kstatus Failed
    rc, out = w.kubectl("get", "wp", "hybrid-linux", "-n", "automation", "-o", "json")
    p = json.loads(out)
    stalled = {"apiVersion": p["apiVersion"], "kind": "WorkerPool",
               "metadata": {"name": "stalled", "namespace": "automation"}, "spec": dict(p["spec"])}
    stalled["spec"]["expiryPolicyRef"] = {"name": "no-such-policy"}
    stalled["spec"].pop("registration", None)
    stalled["spec"].pop("hooks", None)
    path = os.path.join(w.tmp, "stalled.json")
    with open(path, "w") as f:
        json.dump(stalled, f)
    rc, out = w.kubectl("apply", "-f", path)

    def is_stalled():
        o = w.wp("automation", "stalled")
        c = {x["type"]: x for x in (o.get("status") or {}).get("conditions", [])}
        return (o["status"].get("observedGeneration") == o["metadata"]["generation"] and
                c["Stalled"]["status"] == "True" and c["Reconciling"]["status"] == "False" and o)
    o = wait_for(is_stalled, 30, "stalled pool status")
    c = {x["type"]: x for x in o["status"]["conditions"]}
    check("a pool whose ExpiryPolicy is missing: Stalled True, Reconciling False (reason "
          f"{c['Stalled']['reason']}) -> kstatus Failed", rc == 0 and kstatus(o) == "Failed" and
          c["Reconciling"]["reason"] == c["Stalled"]["reason"], str(c))
    rc, out = w.kubectl("delete", "wp", "stalled", "-n", "automation", "--timeout=60s",
                        timeout=70)
    check("the stalled pool (nothing in Azure) deletes", rc == 0, out)

    # ---- 2: kubectl scale ----
    seq = w.last_seq()
    rc, out = w.kubectl("scale", "wp/hybrid-linux", "-n", "automation", "--replicas=4")
    rc2, out2 = w.kubectl("wait", "wp/hybrid-linux", "-n", "automation",
                          "--for=jsonpath={.status.replicas}=4", "--timeout=90s", timeout=100)
    rc3, out3 = w.kubectl("wait", "wp/hybrid-linux", "-n", "automation",
                          "--for=condition=Ready", "--timeout=90s", timeout=100)
    wait_for(lambda: w.ready(*HL, 4), 30, "hybrid-linux 4 ready")
    vms = w.pool_vms(*HL)
    kinds = collections.Counter(classify(e) for e in w.writes(seq))
    check("kubectl scale wp/hybrid-linux --replicas=4: status.replicas follows (kubectl wait "
          "--for=jsonpath), Ready; armsim has 4 VMs, one new VM's writes",
          rc == 0 and rc2 == 0 and rc3 == 0 and len(vms) == 4 and
          dict(kinds) == {"PUT nic": 1, "PUT vm": 1, "PUT extension": 1, "PUT worker": 1,
                          "PUT job": 1}, f"{out}{out2}{out3} {vms} {dict(kinds)}")

    def rollout(version, disturb, label):
        seq = w.last_seq()
        gen0 = w.wp(*HL)["metadata"]["generation"]
        rc, out = w.kubectl("patch", "wp/hybrid-linux", "-n", "automation", "--type=merge", "-p",
                            json.dumps({"spec": {"image": {"id": f"{GOLDEN}/versions/{version}"}}}))
        # mid-rollout: the first replacement VM has been written, old ones still run
        wait_for(lambda: any(classify(e) == "PUT vm" for e in w.writes(seq)), 60,
                 f"{label}: the first replacement VM")
        before = w.pool_vms(*HL)
        extra = disturb()
        o = wait_for(lambda: w.ready(*HL, 4) and
                     w.wp(*HL)["status"].get("updatedReplicas") == 4 and w.wp(*HL), 180,
                     f"{label}: converged on {version}")
        vms = w.pool_vms(*HL)
        check(f"{label}: kubectl patch image -> {version} converges: Ready, observedGeneration "
              f"{gen0 + 1}, armsim shows {version} on all 4 VMs",
              rc == 0 and o["metadata"]["generation"] == gen0 + 1 and
              o["status"]["observedGeneration"] == gen0 + 1 and len(vms) == 4 and
              all(i.endswith(f"/versions/{version}") for _, i in vms) and
              any(not i.endswith(f"/versions/{version}") for _, i in before),
              f"{out} {vms} before={before}")
        time.sleep(6)  # a resync: nothing more to write
        ok, detail = rollout_writes_ok([e for e in w.writes(seq)
                                        if "/virtualMachineScaleSets/" not in e["path"]], 4)
        ok2, detail2 = w.hybrid_workers_ok(*HL)
        check(f"{label}: ARM writes are the minimal set for 4 replacements, no duplicate "
              "target (also after a resync); one hybrid worker per VM", ok and ok2,
              detail + " " + detail2)
        return extra

    # ---- 3a: drop every watch and compact the history mid-rollout ----
    # A write nobody watches (a namespace) moves the resourceVersion past what any informer
    # has seen, the compaction forgets the history up to it, and the drop ends every watch:
    # the informers watch again from their last resourceVersion, get 410 Expired and must
    # relist (kubesim's request log shows the LISTs). A bookmark that slips in between moves
    # an informer past the compaction (no 410 needed): then the sequence is repeated.
    ks_seq = {}

    def relisted(since):
        reqs = w.kube_requests(since)
        return sorted({r["path"].split("?")[0] for r in reqs if r["verb"] == "list" and
                       r["path"].startswith("/apis/azpool.dev/") and
                       not r["userAgent"].startswith("kubectl")})

    def drop():
        ok = True
        ks_seq["s"] = w.kube_seq()
        for i in range(3):
            c1, _ = w.kube("POST", "/api/v1/namespaces", {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"e2e-rv-bump-{i}"}})
            c2, _ = w.kube("POST", "/_kubesim/compact")
            c3, d = w.kube("POST", "/_kubesim/watches/drop")
            ok = ok and c1 == 201 and c2 == 200 and c3 == 200 and (d or {}).get("dropped", 0) > 0
            try:
                wait_for(lambda: len(relisted(ks_seq["s"])) == 3, 3, "relists")
                break
            except RuntimeError:
                pass
        return ok
    dropped = rollout("1.5.0", drop, "watches dropped + compacted mid-rollout")
    check("the drop ended the controller's watches", dropped)
    lists = relisted(ks_seq["s"])
    check("the informers relisted after the 410 (kubesim saw LISTs of workerpools, "
          "imageversions and expirypolicies)", lists == [
              "/apis/azpool.dev/v1alpha1/expirypolicies", "/apis/azpool.dev/v1alpha1/imageversions",
              "/apis/azpool.dev/v1alpha1/workerpools"], str(lists) + " " + str(collections.Counter(
                  (r["verb"], r["path"][:60], r["userAgent"][:20]) for r in w.kube_requests(ks_seq["s"]))))

    # ---- 3b: restart kubesim from its state file mid-rollout ----
    def restart():
        # a write nobody watches first: every informer is then behind the saved state
        w.kube("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": "e2e-rv-bump-restart"}})
        w.ks.send_signal(signal.SIGTERM)
        rc = w.ks.wait(timeout=15)
        saved = os.path.exists(w.state)
        w.start_kubesim()
        return rc == 0 and saved
    restarted = rollout("1.6.0", restart, "kubesim restarted from --state mid-rollout")
    check("kubesim saved its state and restarted on the same port", restarted)
    try:
        lists = wait_for(lambda: len(relisted(0)) == 3 and relisted(0), 5, "relists")
    except RuntimeError:
        lists = relisted(0)
    check("after the restart the informers relisted (history gone: 410)", lists == [
          "/apis/azpool.dev/v1alpha1/expirypolicies", "/apis/azpool.dev/v1alpha1/imageversions",
          "/apis/azpool.dev/v1alpha1/workerpools"], str(lists))
    check("controller a still runs and leads after the restart", a.poll() is None and
          open(alog).read().count("event=kube.leading") == 1)

    # ---- 3c: two replicas; SIGKILL of the leader mid-rollout ----
    b, blog = w.launch("azpool-b")
    time.sleep(2)
    check("two replicas: exactly one leads (a), b stands by and plans nothing",
          "event=kube.leading" not in open(blog).read() and
          "event=reconcile.plan" not in open(blog).read())
    took = {}

    def kill_leader():
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=10)
        t0 = time.time()
        wait_for(lambda: "event=kube.leading" in open(blog).read(), 30, "b leads")
        took["s"] = time.time() - t0
        return took["s"]
    # the scale-set pool rolls at the same time (its writes: one PATCH of model and
    # capacity, one batched POST delete of the old instance). Its busy source (a storage
    # queue on a host this world cannot resolve) is removed with the same patch: while a
    # busy source has never been read, the reconciler defers every delete (DESIGN.md §4
    # rule 5), so the old instance would stay until drain.timeoutSeconds.
    ci_seq = w.last_seq()
    ci_gen = w.wp("ci", "github-runners")["metadata"]["generation"]
    rc_ci, out_ci = w.kubectl("patch", "wp/github-runners", "-n", "ci", "--type=merge", "-p",
                              json.dumps({"spec": {"busy": None, "image": {
                                  "id": f"{CI_IMG}/versions/2.312.0"}}}))
    rollout("1.7.0", kill_leader, "leader SIGKILLed mid-rollout")
    o = wait_for(lambda: w.ready("ci", "github-runners", 1) and
                 w.wp("ci", "github-runners")["status"].get("observedGeneration") == ci_gen + 1 and
                 w.wp("ci", "github-runners"), 120, "github-runners on 2.312.0")
    imgs = w.vmss_images()
    wr = [(e["method"], e["path"].split("?")[0][len(VMSS):]) for e in w.writes(ci_seq)
          if e["path"].startswith(VMSS)]
    check("leader SIGKILLed mid-rollout: the scale-set pool ci/github-runners rolls to 2.312.0 "
          "with one PATCH and one POST delete (nothing repeated by the new leader)",
          rc_ci == 0 and imgs and all(i.endswith("/versions/2.312.0") for i in imgs) and
          wr == [("PATCH", ""), ("POST", "/delete")], f"{out_ci} {imgs} {wr}")
    check("after SIGKILL of the leader (no release) the standby leads within 20 s "
          f"({took.get('s', -1):.1f} s)", 0 < took.get("s", 99) < 20)
    code, lease = w.kube("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases")
    holders = [i["spec"].get("holderIdentity") for i in (lease or {}).get("items", [])]
    check("the Lease names b as holder", holders == ["azpool-b"], str(holders))

    # ---- 4: kubectl delete waits until Azure is clean ----
    seq = w.last_seq()
    del_proc = w.kubectl_bg("delete", "wp/hybrid-linux", "-n", "automation", "--timeout=150s")
    t_res = None
    saw_pending = False
    while del_proc.poll() is None:
        res = w.pool_resources(*HL)
        if del_proc.poll() is not None:
            break
        if res:
            t_res = time.time()
            o = w.wp(*HL)
            saw_pending = saw_pending or bool(o and o["metadata"].get("deletionTimestamp"))
        time.sleep(0.2)
    t_done = time.time()
    out = del_proc.stdout.read()
    left = w.pool_resources(*HL)
    check("kubectl delete wp/hybrid-linux did not return while armsim held the pool's resources "
          "(object present with deletionTimestamp meanwhile)",
          del_proc.returncode == 0 and saw_pending and t_res is not None and t_res < t_done and
          left == [], f"rc={del_proc.returncode} {out} left={left}")
    check("then the object is gone", w.wp(*HL) is None)
    kinds = collections.Counter(classify(e) for e in w.writes(seq))
    check("delete: each worker and VM deleted once", dict(kinds) == {"DELETE worker": 4,
                                                                      "DELETE vm": 4},
          str(dict(kinds)))
    check("the hybrid worker group is left without workers", w.hybrid_workers_ok(*HL)[0])
    others = [n for ns, n in POOLS if (ns, n) != HL and not w.ready(ns, n)]
    check("the other example pools stay Ready under the new leader", not others, str(others))
    b.send_signal(signal.SIGTERM)
    check("the new leader exits 0 on SIGTERM", b.wait(timeout=15) == 0)


if __name__ == "__main__":
    sys.exit(main())
