#!/usr/bin/python3
"""Kubernetes mode end to end: `azpool run --source kube` against kubesim + armsim.

kubesim runs with --tls and --token (the controller reads its kubeconfig: CA data and
token); armsim plays Azure. Each check is numbered and asserted from the Kubernetes objects
(finalizers, status, deletion) and from armsim's request log (what reached "Azure").
Starts its own servers and controller on free ports in a temp dir and always stops them.

Usage: kube_e2e.py BUILD_DIR
"""
import base64
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
from armclient import ArmClient, KubeClient  # noqa: E402

SUB = "11111111-2222-3333-4444-555555555555"
RG = "rg-workers"
SUBNET = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v/subnets/workers"
VMSS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachineScaleSets"
SECRET = "e2e-client-secret-must-not-leak"
USERDATA = "#cloud-config\n# e2e-user-data-must-not-leak\n"
TOKEN = "e2e-kube-token"
WPS = "/apis/azpool.dev/v1alpha1/namespaces/{ns}/workerpools"
EPS = "/apis/azpool.dev/v1alpha1/namespaces/{ns}/expirypolicies"
FIN = "azpool.dev/cleanup"

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


def pool(name, replicas, ns="ci", secret=None, labels=None):
    spec = {
        "subscriptionId": SUB, "resourceGroup": RG, "location": "westeurope",
        "vmSize": "Standard_D2s_v5", "replicas": replicas,
        "image": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                  "sku": "22_04-lts-gen2", "version": "latest"},
        "network": {"subnetId": SUBNET},
        "osProfile": {"adminUsername": "azpool",
                      "sshPublicKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2e azpool"]},
    }
    if secret:
        spec["osProfile"]["customDataSecretRef"] = {"name": secret, "key": "user-data"}
    md = {"name": name, "namespace": ns}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "azpool.dev/v1alpha1", "kind": "WorkerPool", "metadata": md,
            "spec": spec}


class World(ArmClient, KubeClient):
    KUBE_TOKEN = TOKEN

    def __init__(self, build):
        self.build = build
        self.tmp = tempfile.mkdtemp(prefix="azpool-kube-e2e-")
        self.procs = []
        self.ctl = None
        # armsim
        self.arm_port = free_port()
        simdir = os.path.join(self.tmp, "arm")
        os.makedirs(simdir)
        self.sim_log = open(os.path.join(self.tmp, "armsim.log"), "w")
        self.procs.append(subprocess.Popen(
            [os.path.join(build, "armsim"), "--port", str(self.arm_port), "--dir", simdir,
             "--time-scale", "60", "--seed", "3"],
            stdout=self.sim_log, stderr=subprocess.STDOUT))
        self.ca = os.path.join(simdir, "ca.pem")
        self.wait(lambda: "armsim listening" in open(self.sim_log.name).read(), 15, "armsim")
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.base = f"https://127.0.0.1:{self.arm_port}"
        self.token = self.arm_token()
        self.arm("PUT", f"/subscriptions/{SUB}/resourcegroups/{RG}?api-version=2021-04-01",
                 {"location": "westeurope"})
        # kubesim
        self.kube_port = free_port()
        self.ksdir = os.path.join(self.tmp, "kube")
        os.makedirs(self.ksdir)
        self.ks_log = open(os.path.join(self.tmp, "kubesim.log"), "w")
        self.procs.append(subprocess.Popen(
            [os.path.join(build, "kubesim"), "--port", str(self.kube_port), "--dir", self.ksdir,
             "--tls", "--token", TOKEN, "--bookmark-seconds", "2"],
            stdout=self.ks_log, stderr=subprocess.STDOUT))
        self.wait(lambda: "kubesim listening" in open(self.ks_log.name).read(), 15, "kubesim")
        self.kctx = ssl.create_default_context(cafile=os.path.join(self.ksdir, "ca.pem"))
        self.kbase = f"https://127.0.0.1:{self.kube_port}"
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        for f in ("workerpools.yaml", "imageversions.yaml", "expirypolicies.yaml"):
            code, _ = self.kube("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                                open(os.path.join(root, "crds", f)).read(), "application/yaml")
            if code != 201:
                raise RuntimeError(f"CRD {f}: {code}")
        for ns in ("ci", "other"):
            self.kube("POST", "/api/v1/namespaces",
                      {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    def wp(self, name, ns="ci"):
        code, obj = self.kube("GET", WPS.format(ns=ns) + "/" + name)
        return obj if code == 200 else None

    def ready(self, name, n, ns="ci"):
        o = self.wp(name, ns)
        st = (o or {}).get("status") or {}
        conds = {c["type"]: c for c in st.get("conditions", [])}
        return (st.get("readyReplicas") == n and st.get("replicas") == n and
                st.get("observedGeneration") == o["metadata"]["generation"] and
                conds.get("Ready", {}).get("status") == "True" and
                conds["Ready"].get("observedGeneration") == o["metadata"]["generation"] and
                "lastTransitionTime" in conds["Ready"])

    def launch(self, name, *extra, incluster=False):
        """Starts a controller; returns (process, api port, log path). incluster: no
        --kubeconfig; KUBERNETES_SERVICE_HOST/PORT and a service-account directory
        (AZPOOL_KUBE_SA_DIR) with token, ca.crt and namespace, as in a pod."""
        env = dict(os.environ, AZURE_TENANT_ID="tenant-1", AZURE_CLIENT_ID="azpool",
                   AZURE_CLIENT_SECRET=SECRET, AZURE_AUTHORITY_HOST=self.base, POD_NAME=name)
        for k in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONFIG",
                  "POD_NAMESPACE"):
            env.pop(k, None)
        kc = ["--kubeconfig", os.path.join(self.ksdir, "kubeconfig")]
        if incluster:
            sa = os.path.join(self.tmp, "sa-" + name)
            os.makedirs(sa, exist_ok=True)
            with open(os.path.join(sa, "token"), "w") as f:
                f.write(TOKEN + "\n")
            with open(os.path.join(sa, "namespace"), "w") as f:
                f.write("default")
            shutil.copy(os.path.join(self.ksdir, "ca.pem"), os.path.join(sa, "ca.crt"))
            env.update(KUBERNETES_SERVICE_HOST="127.0.0.1",
                       KUBERNETES_SERVICE_PORT=str(self.kube_port), AZPOOL_KUBE_SA_DIR=sa)
            kc = []
        port = free_port()
        path = os.path.join(self.tmp, name + ".log")
        proc = subprocess.Popen(
            [os.path.join(self.build, "azpool"), "run", "--source", "kube", *kc,
             "--arm-endpoint", self.base, "--ca-file", self.ca,
             "--listen", f"127.0.0.1:{port}", "--resync", "3s", *extra],
            stdout=open(path, "a"), stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        self.wait(lambda: self.api("/readyz", port)[0] == 200, 30, f"{name} ready")
        return proc, port, path

    def start(self, *extra):
        self.ctl, self.api_port, path = self.launch("azpool", *extra)
        self.ctl_log = open(path)

    def api(self, path, port=None):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port or self.api_port}{path}",
                                        timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""

    def stop(self):
        self.ctl.send_signal(signal.SIGTERM)
        return self.ctl.wait(timeout=15)

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.environ.get("E2E_KEEP"):
            print("kept", self.tmp)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    w = World(sys.argv[1])
    try:
        # A pool in a namespace outside --namespace must never be touched.
        code, _ = w.kube("POST", WPS.format(ns="other"), pool("elsewhere", 1, ns="other"))
        check("setup: pool in namespace other created", code == 201, str(code))
        # A pool whose cloud-init Secret does not exist yet.
        code, _ = w.kube("POST", WPS.format(ns="ci"), pool("runners", 2, secret="cloud-init"))
        check("setup: pool ci/runners created", code == 201, str(code))
        w.start("--namespace", "ci")

        # 1: the finalizer is added; the controller reads the kubeconfig's CA and token.
        w.wait(lambda: FIN in w.wp("runners")["metadata"].get("finalizers", []), 20, "finalizer")
        check("finalizer azpool.dev/cleanup added to ci/runners", True)

        # 2: without its Secret the pool is not created in Azure.
        time.sleep(3)
        wr = [e for e in w.writes() if "/runners" in e["path"]]
        check("no Azure write while the referenced Secret is missing", wr == [], str(wr))

        # 3-4: the Secret appears (watched): the pool converges, status written to Kubernetes.
        seq = w.last_seq()
        code, _ = w.kube("POST", "/api/v1/namespaces/ci/secrets", {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cloud-init"},
            "data": {"user-data": base64.b64encode(USERDATA.encode()).decode()}})
        check("setup: Secret ci/cloud-init created", code == 201, str(code))
        w.wait(lambda: w.ready("runners", 2), 90, "runners 2 ready")
        wr = w.writes(seq)
        check("pool converges once its Secret exists: one PUT of the scale set; status Ready "
              "with observedGeneration", [e["method"] for e in wr] == ["PUT"] and
              wr[0]["path"].endswith("/virtualMachineScaleSets/runners"), str(wr))

        # 5: steady state: no Azure writes and no status rewrites.
        time.sleep(2)
        rv0 = w.wp("runners")["metadata"]["resourceVersion"]
        seq = w.last_seq()
        time.sleep(7)
        rv1 = w.wp("runners")["metadata"]["resourceVersion"]
        check("steady state (2+ resyncs): zero Azure writes, status not rewritten",
              w.writes(seq) == [] and rv0 == rv1, f"writes={w.writes(seq)} rv {rv0} -> {rv1}")

        # 6: the namespace filter: the other pool has no finalizer and no scale set.
        o = w.wp("elsewhere", "other")
        check("--namespace ci: the pool in namespace other is untouched",
              FIN not in o["metadata"].get("finalizers", []) and "status" not in o and
              w.arm("GET", f"{VMSS}/elsewhere?api-version=2024-11-01")[0] == 404)

        # 7: kubectl scale (the /scale subresource) -> one PATCH of the capacity.
        seq = w.last_seq()
        code, _ = w.kube("PATCH", WPS.format(ns="ci") + "/runners/scale",
                         {"spec": {"replicas": 3}}, "application/merge-patch+json")
        w.wait(lambda: w.ready("runners", 3), 90, "runners 3 ready")
        wr = w.writes(seq)
        check("scale via /scale 2 -> 3 is one PATCH", code == 200 and
              [e["method"] for e in wr] == ["PATCH"], f"{code} {wr}")

        # 8: watches dropped and history compacted while a change is made: the informers
        # relist and the change still arrives.
        w.kube("POST", "/_kubesim/watches/drop")
        code, _ = w.kube("PATCH", WPS.format(ns="ci") + "/runners",
                         {"spec": {"replicas": 1}}, "application/merge-patch+json")
        w.kube("POST", "/_kubesim/compact")
        w.wait(lambda: w.ready("runners", 1), 90, "runners 1 ready")
        check("after a dropped watch + compaction the change converges (1 ready)", code == 200)

        # 9-10: kubectl delete: Azure resources destroyed first, then the finalizer goes.
        seq = w.last_seq()
        code, _ = w.kube("DELETE", WPS.format(ns="ci") + "/runners")
        o = w.wp("runners")
        check("delete: the object stays while Azure resources exist (deletionTimestamp set)",
              code == 200 and (o is None or "deletionTimestamp" in o["metadata"]), str(code))
        w.wait(lambda: w.wp("runners") is None, 90, "runners gone from Kubernetes")
        wr = w.writes(seq)
        check("the scale set was deleted (one DELETE) before the object disappeared",
              [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in wr] == [("DELETE", "runners")]
              and w.arm("GET", f"{VMSS}/runners?api-version=2024-11-01")[0] == 404, str(wr))

        # 11: Events on the pool (what kubectl describe shows).
        code, evs = w.kube("GET", "/api/v1/namespaces/ci/events")
        reasons = {e["reason"] for e in (evs or {}).get("items", [])
                   if e["involvedObject"].get("name") == "runners" and
                   e["involvedObject"].get("kind") == "WorkerPool"}
        check("Events recorded: FinalizerAdded, Created, ScaledOut, Deleted, CleanupCompleted",
              {"FinalizerAdded", "Created", "ScaledOut", "Deleted",
               "CleanupCompleted"} <= reasons, str(sorted(reasons)))
        warn = {e["reason"]: e["message"] for e in (evs or {}).get("items", [])
                if e["involvedObject"].get("name") == "runners" and e["type"] == "Warning"}
        check("the missing Secret was a Warning ActionFailed naming it, not an AzureError",
              "cloud-init" in warn.get("ActionFailed", "") and "AzureError" not in warn, str(warn))

        # 12-15: ExpiryPolicy status (usedBy, Ready); an edit that only the core rejects
        # (a reversed cron range) keeps the last valid version: the pool stays Ready.
        code, _ = w.kube("POST", EPS.format(ns="ci"), {
            "apiVersion": "azpool.dev/v1alpha1", "kind": "ExpiryPolicy",
            "metadata": {"name": "weekly"},
            "spec": {"maxAge": "168h", "maintenanceWindows": [
                {"schedule": "0 2 * * 1-5", "duration": "4h"}]}})
        p = pool("exp", 1)
        p["spec"]["expiryPolicyRef"] = {"name": "weekly"}
        code2, _ = w.kube("POST", WPS.format(ns="ci"), p)
        check("setup: ExpiryPolicy ci/weekly and pool ci/exp using it", code == 201 and
              code2 == 201, f"{code} {code2}")
        w.wait(lambda: w.ready("exp", 1), 90, "exp 1 ready")

        def ep_ready(want):
            code, o = w.kube("GET", EPS.format(ns="ci") + "/weekly")
            st = (o or {}).get("status") or {}
            conds = {c["type"]: c for c in st.get("conditions", [])}
            return (st.get("usedBy") == ["exp"] and
                    st.get("observedGeneration") == o["metadata"]["generation"] and
                    conds.get("Ready", {}).get("status") == want)
        w.wait(lambda: ep_ready("True"), 20, "ExpiryPolicy status")
        check("ExpiryPolicy status: usedBy [exp], Ready True, observedGeneration", True)
        code, _ = w.kube("PATCH", EPS.format(ns="ci") + "/weekly", {"spec": {
            "maintenanceWindows": [{"schedule": "0 5-1 * * *", "duration": "4h"}]}},
            "application/merge-patch+json")
        w.wait(lambda: ep_ready("False"), 20, "ExpiryPolicy Invalid")
        log = open(w.ctl_log.name).read()
        check("a core-only invalid edit: accepted by the API server, status Ready False, "
              "logged with the last valid version kept", code == 200 and
              "object=ExpiryPolicy/ci/weekly" in log and "keeping the last valid version" in log,
              str(code))
        time.sleep(4)  # a resync
        check("the pool using it stays Ready (no ExpiryPolicyNotFound)", w.ready("exp", 1))

        # An edit of the pool that only the core rejects (free-form extension settings
        # nested deeper than 64): planned with its last valid version, status says why.
        deep = {}
        cur = deep
        for _ in range(70):
            cur["a"] = {}
            cur = cur["a"]
        ext = [{"name": "e", "publisher": "p", "type": "t", "typeHandlerVersion": "1.0",
                "settings": deep}]
        seq = w.last_seq()
        code, _ = w.kube("PATCH", WPS.format(ns="ci") + "/exp", {"spec": {"extensions": ext}},
                         "application/merge-patch+json")

        def invalid_status(name):
            o = w.wp(name)
            st = (o or {}).get("status") or {}
            c = {x["type"]: x for x in st.get("conditions", [])}
            return (st.get("observedGeneration") == o["metadata"]["generation"] and
                    c.get("Ready", {}).get("status") == "False" and
                    c["Ready"].get("reason") == "InvalidSpec" and
                    c.get("Stalled", {}).get("status") == "True" and
                    c.get("Reconciling", {}).get("status") == "False" and
                    c["Reconciling"].get("reason") == "InvalidSpec" and
                    "deeper than 64" in c["Ready"].get("message", ""))
        w.wait(lambda: invalid_status("exp"), 20, "exp InvalidSpec")
        time.sleep(4)
        check("a core-only invalid pool edit: Ready False / Stalled True / Reconciling False "
              "InvalidSpec with the "
              "error, nothing written to Azure (the last valid version stays applied)",
              code == 200 and w.writes(seq) == [] and invalid_status("exp"),
              f"{code} {w.writes(seq)}")

        # A pool that was never valid: status says why, no finalizer, deleted at once.
        p = pool("deep", 1)
        p["spec"]["extensions"] = ext
        code, _ = w.kube("POST", WPS.format(ns="ci"), p)
        w.wait(lambda: invalid_status("deep"), 20, "deep InvalidSpec")
        o = w.wp("deep")
        code2, _ = w.kube("DELETE", WPS.format(ns="ci") + "/deep")
        check("a never-valid pool: InvalidSpec status, no finalizer, deleted at once",
              code == 201 and FIN not in o["metadata"].get("finalizers", []) and
              code2 == 200 and w.wp("deep") is None, f"{code} {code2}")

        w.kube("DELETE", WPS.format(ns="ci") + "/exp")
        w.wait(lambda: w.wp("exp") is None, 90, "exp gone")
        check("deleting the pool with an invalid current version still destroys and releases",
              w.arm("GET", f"{VMSS}/exp?api-version=2024-11-01")[0] == 404)

        # kubectl scale on an autoscaled pool: the autoscaler owns the size, the
        # status (and so /scale's status.replicas) reflects the computed size.
        import http.server
        import threading

        class Pending(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b'{"pending": 2}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        srv = http.server.HTTPServer(("127.0.0.1", 0), Pending)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        p = pool("auto", 1)
        del p["spec"]["replicas"]
        p["spec"]["autoscale"] = {
            "minReplicas": 1, "maxReplicas": 4, "policy": "Proportional",
            "proportional": {"jobsPerReplica": 1, "freeTargetPercentage": 0},
            "metric": {"http": {"url": f"http://127.0.0.1:{srv.server_port}/pending",
                                "jsonPointer": "/pending"}, "pollSeconds": 1}}
        code, _ = w.kube("POST", WPS.format(ns="ci"), p)
        w.wait(lambda: w.ready("auto", 2), 90, "auto at the computed size 2")
        code2, _ = w.kube("PATCH", WPS.format(ns="ci") + "/auto/scale",
                          {"spec": {"replicas": 4}}, "application/merge-patch+json")
        time.sleep(4)
        code3, sc = w.kube("GET", WPS.format(ns="ci") + "/auto/scale")
        st = (w.wp("auto") or {}).get("status") or {}
        check("kubectl scale of an autoscaled pool: the computed size (2) holds, status and "
              "/scale report it", code == 201 and code2 == 200 and code3 == 200 and
              st.get("desiredReplicas") == 2 and st.get("replicas") == 2 and
              (sc or {}).get("status", {}).get("replicas") == 2, f"{code} {code2} {st} {sc}")
        srv.shutdown()
        w.kube("DELETE", WPS.format(ns="ci") + "/auto")
        w.wait(lambda: w.wp("auto") is None, 90, "auto gone")

        # 16-17: clean shutdown; no secret in logs.
        rc = w.stop()
        log = open(w.ctl_log.name).read()
        check("SIGTERM: clean shutdown, exit 0", rc == 0, str(rc))
        check("no secret (client secret, kube token, user data) in the log",
              SECRET not in log and TOKEN not in log and "e2e-user-data" not in log)

        # 18-22: two replicas with --selector: one leads, the other stands by and takes
        # over when the leader stops (it releases the Lease).
        code, _ = w.kube("POST", WPS.format(ns="ci"), pool("sel-a", 1, labels={"team": "a"}))
        code2, _ = w.kube("POST", WPS.format(ns="ci"), pool("sel-b", 1, labels={"team": "b"}))
        check("setup: pools ci/sel-a (team=a) and ci/sel-b (team=b) created",
              code == 201 and code2 == 201, f"{code} {code2}")
        a, _, alog = w.launch("replica-a", "--namespace", "ci", "--selector", "team=a")
        b, _, blog = w.launch("replica-b", "--namespace", "ci", "--selector", "team=a",
                              incluster=True)
        w.wait(lambda: w.ready("sel-a", 1), 90, "sel-a 1 ready")
        leads = [n for n, f in (("a", alog), ("b", blog)) if "event=kube.leading" in open(f).read()]
        plans = [n for n, f in (("a", alog), ("b", blog)) if "event=reconcile.plan" in open(f).read()]
        check("exactly one replica leads and only it reconciles (b runs with the in-cluster "
              "configuration)", len(leads) == 1 and plans == leads and
              "context=(in-cluster)" in open(blog).read(), f"leading={leads} planning={plans}")
        o = w.wp("sel-b")
        check("--selector team=a: ci/sel-b is untouched (no finalizer, no status, no scale set)",
              FIN not in o["metadata"].get("finalizers", []) and "status" not in o and
              w.arm("GET", f"{VMSS}/sel-b?api-version=2024-11-01")[0] == 404)
        leader, follower, flog = (a, b, blog) if leads == ["a"] else (b, a, alog)
        leader.send_signal(signal.SIGTERM)
        rc = leader.wait(timeout=15)
        t0 = time.time()
        w.wait(lambda: "event=kube.leading" in open(flog).read(), 20, "the standby leads")
        took = time.time() - t0
        check("the leader exits 0 and releases: the standby leads within a retry period",
              rc == 0 and took < 5, f"rc={rc} took={took:.1f}s")
        w.kube("PATCH", WPS.format(ns="ci") + "/sel-a", {"spec": {"replicas": 2}},
               "application/merge-patch+json")
        w.wait(lambda: w.ready("sel-a", 2), 90, "sel-a 2 ready under the new leader")
        w.kube("DELETE", WPS.format(ns="ci") + "/sel-a")
        w.wait(lambda: w.wp("sel-a") is None, 90, "sel-a gone")
        check("the new leader reconciles: scale to 2, then delete releases the object", True)
        follower.send_signal(signal.SIGTERM)
        check("the new leader exits 0 on SIGTERM", follower.wait(timeout=15) == 0)
    except Exception as e:  # a setup failure or timeout is a failed check, never a skip
        check("suite ran to the end", False, repr(e))
        for log in ("azpool.log", "replica-a.log", "replica-b.log", "kubesim.log", "armsim.log"):
            try:
                print(f"--- {log} (tail)")
                print(open(os.path.join(w.tmp, log)).read()[-4000:])
            except OSError:
                pass
    finally:
        w.close()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
