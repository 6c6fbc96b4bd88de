#!/usr/bin/python3
"""The controller under its least-privilege role: `azpool run --source kube` authenticated as
the ServiceAccount of manifests/ against kubesim --rbac --tls (+ armsim for Azure).

  setup   kubectl 1.32 apply -k manifests/ (as administrator), namespace ci, Secret
          ci/cloud-init, a token for azpool-system/azpool from `kubectl create token`, and a
          kubeconfig with only that token and kubesim's CA. The controller runs with the
          args of manifests/deployment.yaml (--listen moved to a free loopback port) and must
          answer its liveness and readiness probe paths.
  1-5     the controller (POD_NAME/POD_NAMESPACE as the Deployment sets them) adds its
          finalizer, converges a pool (status Ready with observedGeneration), follows a
          kubectl scale through /scale, records Events, destroys the scale set on delete and
          releases the object; it leads through the Lease azpool-system/azpool-controller,
          which names POD_NAME, and releases the Lease on SIGTERM.
  6       kubesim refused NONE of the controller's requests (GET /_kubesim/denied is empty):
          the ClusterRole/Role of manifests/rbac.yaml grant everything it does.
  7       control: the same controller authenticated as a ServiceAccount bound only to
          azpool-view is refused (its Lease and Secret reads show up in /_kubesim/denied),
          never leads and writes nothing, so check 6 can fail.

Prints numbered checks and "N passed, N failed"; exits 1 on failure. Usage:
kube_rbac_e2e.py BUILD_DIR [KUBECTL]
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
from armclient import KubeClient  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUB = "11111111-2222-3333-4444-555555555555"
RG = "rg-workers"
SUBNET = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v/subnets/workers"
VMSS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachineScaleSets"
WPS = "/apis/azpool.dev/v1alpha1/namespaces/ci/workerpools"
FIN = "azpool.dev/cleanup"
POD = "azpool-controller-6b7c9d-x2k4q"

passed = failed = 0


def deployment():
    """manifests/deployment.yaml's container: (args, liveness path, readiness path, port)."""
    import yaml
    d = yaml.safe_load(open(os.path.join(ROOT, "manifests", "deployment.yaml")))
    c = d["spec"]["template"]["spec"]["containers"][0]
    return (c["args"], c["livenessProbe"]["httpGet"]["path"],
            c["readinessProbe"]["httpGet"]["path"])


DEPLOY_ARGS, LIVE_PATH, READY_PATH = deployment()


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {passed + failed:2d} {name}")
    else:
        failed += 1
        print(f"FAIL {passed + failed:2d} {name} {detail}"[:2000])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pool(name, replicas):
    return {"apiVersion": "azpool.dev/v1alpha1", "kind": "WorkerPool",
            "metadata": {"name": name, "namespace": "ci"},
            "spec": {"subscriptionId": SUB, "resourceGroup": RG, "location": "westeurope",
                     "vmSize": "Standard_D2s_v5", "replicas": replicas,
                     "image": {"publisher": "Canonical",
                               "offer": "0001-com-ubuntu-server-jammy",
                               "sku": "22_04-lts-gen2", "version": "latest"},
                     "network": {"subnetId": SUBNET},
                     "osProfile": {"adminUsername": "azpool",
                                   "sshPublicKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2e x"],
                                   "customDataSecretRef": {"name": "cloud-init",
                                                           "key": "user-data"}}}}


class World(KubeClient):
    def __init__(self, build, kubectl):
        self.build, self.kubectl = build, kubectl
        self.tmp = tempfile.mkdtemp(prefix="azpool-kube-rbac-")
        self.procs, self.ctl = [], None
        # armsim
        self.arm_port = free_port()
        simdir = os.path.join(self.tmp, "arm")
        os.makedirs(simdir)
        self.sim_log = open(os.path.join(self.tmp, "armsim.log"), "w")
        self.procs.append(subprocess.Popen(
            [os.path.join(build, "armsim"), "--port", str(self.arm_port), "--dir", simdir,
             "--time-scale", "60", "--seed", "5"], stdout=self.sim_log, stderr=subprocess.STDOUT))
        self.ca = os.path.join(simdir, "ca.pem")
        self.wait(lambda: "armsim listening" in open(self.sim_log.name).read(), 15, "armsim")
        self.actx = ssl.create_default_context(cafile=self.ca)
        self.abase = f"https://127.0.0.1:{self.arm_port}"
        self.atoken = self.arm_token()
        self.arm("PUT", f"/subscriptions/{SUB}/resourcegroups/{RG}?api-version=2021-04-01",
                 {"location": "westeurope"})
        # kubesim --rbac --tls: the kubeconfig's token is the administrator
        self.kport = free_port()
        self.ksdir = os.path.join(self.tmp, "kube")
        os.makedirs(self.ksdir)
        self.ks_log = open(os.path.join(self.tmp, "kubesim.log"), "w")
        self.procs.append(subprocess.Popen(
            [os.path.join(build, "kubesim"), "--port", str(self.kport), "--dir", self.ksdir,
             "--tls", "--rbac", "--bookmark-seconds", "2"],
            stdout=self.ks_log, stderr=subprocess.STDOUT))
        self.wait(lambda: "kubesim listening" in open(self.ks_log.name).read(), 15, "kubesim")
        self.kctx = ssl.create_default_context(cafile=os.path.join(self.ksdir, "ca.pem"))
        self.kbase = f"https://127.0.0.1:{self.kport}"
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)

    def wait(self, cond, timeout, what):
        end = time.time() + timeout
        while time.time() < end:
            try:
                if cond():
                    return True
            except Exception:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}")

    def run_kubectl(self, *args):
        env = dict(os.environ, HOME=self.home,
                   KUBECONFIG=os.path.join(self.ksdir, "kubeconfig"))
        return subprocess.run([self.kubectl, *args], capture_output=True, text=True, env=env,
                              timeout=60, cwd=ROOT)

    def arm_token(self):
        body = urllib.parse.urlencode({
            "client_id": "e2e-setup", "client_secret": "x", "grant_type": "client_credentials",
            "scope": "https://management.azure.com/.default"}).encode()
        with urllib.request.urlopen(f"{self.abase}/tenant-1/oauth2/v2.0/token", body,
                                    context=self.actx) as r:
            return json.load(r)["access_token"]

    def arm(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.abase + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.atoken}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.actx) as r:
                text = r.read()
                return r.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            return e.code, None

    def writes(self):
        with urllib.request.urlopen(f"{self.abase}/_armsim/log?since=0", context=self.actx) as r:
            return [e for e in json.load(r)["entries"]
                    if e["method"] != "GET" and e["principal"] == "azpool"]

    def denied(self):
        return self.kube("GET", "/_kubesim/denied")[1]

    def wp(self, name):
        code, obj = self.kube("GET", f"{WPS}/{name}")
        return obj if code == 200 else None

    def ready(self, name, n):
        o = self.wp(name)
        st = (o or {}).get("status") or {}
        conds = {c["type"]: c for c in st.get("conditions", [])}
        return (st.get("readyReplicas") == n and st.get("replicas") == n and
                st.get("observedGeneration") == o["metadata"]["generation"] and
                conds.get("Ready", {}).get("status") == "True")

    def sa_kubeconfig(self, sa):
        """A kubeconfig with only kubesim's CA and a token of ServiceAccount azpool-system/sa."""
        r = self.run_kubectl("create", "token", sa, "-n", "azpool-system")
        if r.returncode != 0 or not r.stdout.strip():
            raise RuntimeError(f"kubectl create token {sa}: {r.stderr}")
        ca = base64.b64encode(open(os.path.join(self.ksdir, "ca.pem"), "rb").read()).decode()
        path = os.path.join(self.tmp, f"{sa}.kubeconfig")
        with open(path, "w") as f:
            f.write("apiVersion: v1\nkind: Config\ncurrent-context: sa\n"
                    f"clusters: [{{name: k, cluster: {{server: '{self.kbase}', "
                    f"certificate-authority-data: {ca}}}}}]\n"
                    f"users: [{{name: {sa}, user: {{token: '{r.stdout.strip()}'}}}}]\n"
                    f"contexts: [{{name: sa, context: {{cluster: k, user: {sa}, "
                    "namespace: azpool-system}}]\n")
        return path

    def start(self, kubeconfig, wait_ready=True):
        env = dict(os.environ, AZURE_TENANT_ID="tenant-1", AZURE_CLIENT_ID="azpool",
                   AZURE_CLIENT_SECRET="e2e-secret", AZURE_AUTHORITY_HOST=self.abase,
                   POD_NAME=POD, POD_NAMESPACE="azpool-system")
        env.pop("KUBERNETES_SERVICE_HOST", None)
        self.api_port = free_port()
        self.ctl_log = open(os.path.join(self.tmp, "azpool.log"), "a")
        # The Deployment's own command line, with the listen address moved to a free loopback
        # port and the test world's endpoints added (in a cluster: in-cluster config, Azure).
        args = list(DEPLOY_ARGS)
        args[args.index("--listen") + 1] = f"127.0.0.1:{self.api_port}"
        self.ctl = subprocess.Popen(
            [os.path.join(self.build, "azpool"), *args,
             "--kubeconfig", kubeconfig, "--arm-endpoint", self.abase, "--ca-file", self.ca,
             "--resync", "3s"],
            stdout=self.ctl_log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(self.ctl)
        if wait_ready:
            self.wait(lambda: self.api(READY_PATH) == 200 and self.api(LIVE_PATH) == 200, 30,
                      "azpool live and ready (the Deployment's probe paths)")

    def api(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}{path}", timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def stop(self):
        self.ctl.send_signal(signal.SIGTERM)
        return self.ctl.wait(timeout=20)

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
    build = sys.argv[1]
    kubectl = sys.argv[2] if len(sys.argv) > 2 else "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"
    w = World(build, kubectl)
    try:
        r = w.run_kubectl("apply", "-k", "manifests/")
        check("setup: kubectl apply -k manifests/ as administrator", r.returncode == 0, r.stderr)
        w.kube("POST", "/api/v1/namespaces", {"metadata": {"name": "ci"}})
        code, _ = w.kube("POST", "/api/v1/namespaces/ci/secrets", {
            "metadata": {"name": "cloud-init"},
            "data": {"user-data": base64.b64encode(b"#cloud-config\n").decode()}})
        code2, _ = w.kube("POST", WPS, pool("runners", 2))
        check("setup: Secret ci/cloud-init and WorkerPool ci/runners created",
              code == 201 and code2 == 201, f"{code} {code2}")
        w.start(w.sa_kubeconfig("azpool"))
        check(f"the Deployment's command line ({' '.join(DEPLOY_ARGS)}) runs; its probes "
              f"{LIVE_PATH} and {READY_PATH} answer 200", True)

        # 1-2: finalizer, then convergence with status through /status
        w.wait(lambda: FIN in w.wp("runners")["metadata"].get("finalizers", []), 30, "finalizer")
        check("as the ServiceAccount: finalizer added (patch workerpools)", True)
        w.wait(lambda: w.ready("runners", 2), 90, "runners 2 ready")
        check("as the ServiceAccount: the pool converges, status Ready with observedGeneration "
              "(patch workerpools/status; Secret read through list/watch)", True)

        # 3: kubectl scale through /scale (as administrator) is followed
        code, _ = w.kube("PATCH", f"{WPS}/runners/scale", {"spec": {"replicas": 3}},
                         "application/merge-patch+json")
        w.wait(lambda: w.ready("runners", 3), 90, "runners 3 ready")
        check("scale 2 -> 3 through /scale converges", code == 200, str(code))

        # 4: Events written by the controller
        _, evs = w.kube("GET", "/api/v1/namespaces/ci/events")
        mine = [e for e in (evs or {}).get("items", [])
                if e["involvedObject"].get("name") == "runners"]
        check("Events on the pool written by the controller (create/patch events)",
              len(mine) >= 2 and all(e.get("reportingComponent") == "azpool" for e in mine),
              json.dumps([(e["reason"], e.get("count")) for e in mine]))

        # 5: delete: Azure first, then the object goes (finalizer removed)
        w.kube("DELETE", f"{WPS}/runners")
        w.wait(lambda: w.wp("runners") is None, 90, "runners gone")
        check("delete: scale set destroyed, then the finalizer removed and the object gone",
              w.arm("GET", f"{VMSS}/runners?api-version=2024-11-01")[0] == 404)
        code, lease = w.kube("GET", "/apis/coordination.k8s.io/v1/namespaces/azpool-system/"
                                    "leases/azpool-controller")
        check("leader election as the ServiceAccount: the Lease azpool-system/azpool-controller "
              "names POD_NAME", code == 200 and lease["spec"].get("holderIdentity") == POD,
              f"{code} {json.dumps((lease or {}).get('spec'))}")
        rc = w.stop()
        _, lease = w.kube("GET", "/apis/coordination.k8s.io/v1/namespaces/azpool-system/"
                                 "leases/azpool-controller")
        check("SIGTERM: exit 0 and the Lease is released (holderIdentity \"\", "
              "leaseDurationSeconds 1)", rc == 0 and lease["spec"].get("holderIdentity") == ""
              and lease["spec"].get("leaseDurationSeconds") == 1,
              f"rc={rc} {json.dumps(lease['spec'])}")

        # 6: nothing the controller did was refused
        d = w.denied()
        check("kubesim --rbac refused none of the controller's requests (manifests/rbac.yaml "
              "grants all it does)", d["forbidden"] == 0, json.dumps(d["items"][:10]))

        # 7: control: a read-only ServiceAccount is refused, and /_kubesim/denied shows it
        w.kube("POST", "/api/v1/namespaces/azpool-system/serviceaccounts",
               {"metadata": {"name": "viewer"}})
        w.kube("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
            "metadata": {"name": "viewer"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "azpool-view"},
            "subjects": [{"kind": "ServiceAccount", "name": "viewer",
                          "namespace": "azpool-system"}]})
        w.kube("POST", WPS, pool("blocked", 1))
        w.start(w.sa_kubeconfig("viewer"), wait_ready=False)
        viewer = "system:serviceaccount:azpool-system:viewer"
        w.wait(lambda: any(i["user"] == viewer for i in w.denied()["items"]), 30,
               "a refused request of the read-only ServiceAccount")
        time.sleep(3)
        refused = sorted({(i["verb"], i["resource"]) for i in w.denied()["items"]
                          if i["user"] == viewer})
        o = w.wp("blocked")
        check("control: a read-only ServiceAccount is refused (listed by /_kubesim/denied), "
              "does not lead, writes no finalizer and nothing reaches Azure",
              FIN not in o["metadata"].get("finalizers", []) and "status" not in o and
              w.arm("GET", f"{VMSS}/blocked?api-version=2024-11-01")[0] == 404 and
              ("get", "leases") in refused, str(refused))
        w.stop()
    except Exception as e:  # a setup failure or timeout is a failed check, never a skip
        check("suite ran to the end", False, repr(e))
        for log in ("azpool.log", "kubesim.log"):
            try:
                print(f"--- {log} (tail)")
                print(open(os.path.join(w.tmp, log)).read()[-3000:])
            except OSError:
                pass
        try:
            print("--- denied", json.dumps(w.denied())[:2000])
        except Exception:
            pass
    finally:
        w.close()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
