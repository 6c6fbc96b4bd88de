#!/usr/bin/python3
"""`azpool run --state-dir` and the ImageVersion/ExpiryPolicy API, end to end
against armsim (World from gitops_e2e.py).

Checks: the state file of a converged pool holds its status and the planner's
remembered facts (desiredReplicas), was written atomically (no temporary file
left) and holds no secret value; after a restart that cannot reach ARM the
status still comes from the file; a corrupt state file is ignored with a
warning; `azpool get iv|ep` lists the objects of the manifests; a halted
VirtualMachines rollout (known only to the controller) survives kill -9; a
manifest removed while the controller was down still destroys its pool after
a restart (the state file keeps the pool's manifest), a renamed one does not.

Usage: state_e2e.py BUILD_DIR
"""
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gitops_e2e as g  # noqa: E402

check = g.check

POLICY = """apiVersion: azpool.dev/v1alpha1
kind: ExpiryPolicy
metadata: {name: weekly, namespace: ci}
spec:
  maxAge: 168h
  forceAfter: 192h
---
apiVersion: azpool.dev/v1alpha1
kind: ImageVersion
metadata: {name: golden, namespace: ci}
spec:
  gallery: {subscriptionId: %s, resourceGroup: rg-images, name: gal, imageDefinition: ubuntu}
  version: latest
""" % g.SUB


def vm_pool(version, canary=False):
    y = g.pool_yaml("hv", 2).replace("version: latest", f"version: {version}").replace(
        "  replicas:", "  mode: VirtualMachines\n  replicas:")
    y += "  rollout:\n    maxSurge: 1\n    maxUnavailable: 0\n"
    if canary:
        y += "    canary: {replicas: 1, soakSeconds: 600}\n"
    return y


def admin(w, path, body):
    req = urllib.request.Request(f"{w.base}/_armsim/{path}", method="POST",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=w.ctx) as r:
        return r.status


def degraded(w, name):
    st = (w.pool("ci", name) or {}).get("status") or {}
    c = [c for c in st.get("conditions", []) if c["type"] == "Degraded"]
    return c[0]["reason"] if c and c[0]["status"] == "True" else None


def files_under(d):
    out = []
    for root, _, names in os.walk(d):
        out += [os.path.join(root, n) for n in names]
    return out


def main():
    w = g.World(sys.argv[1])
    state = os.path.join(w.tmp, "state")
    azpool = os.path.join(sys.argv[1], "azpool")
    try:
        w.write("runners.yaml", g.pool_yaml("runners", 2))
        w.write("refs.yaml", POLICY)
        w.start("--state-dir", state)
        w.wait(lambda: w.ready("ci", "runners", 2), 60, "2 ready")
        path = os.path.join(state, "ci", "runners.json")
        w.wait(lambda: json.load(open(path))["status"]["readyReplicas"] == 2, 10,
               "state file with 2 ready")
        doc = json.load(open(path))
        check("state file holds the status and the remembered desiredReplicas",
              doc["pool"] == "ci/runners" and doc["remembered"]["desiredReplicas"] == 2 and
              doc["status"]["replicas"] == 2, json.dumps(doc)[:300])
        names = files_under(state)
        check("atomic writes leave no temporary file",
              names and not [n for n in names if n.endswith(".tmp")], str(names))
        check("no secret value in the state directory",
              all(g.SECRET not in open(n).read() for n in names))

        # azpool get iv|ep against the listener
        srv = f"http://127.0.0.1:{w.api_port}"
        out = subprocess.run([azpool, "get", "ep", "-n", "ci", "--server", srv],
                             capture_output=True, text=True, timeout=10)
        check("azpool get ep lists the ExpiryPolicy",
              out.returncode == 0 and "weekly" in out.stdout and "Valid" in out.stdout,
              out.stdout + out.stderr)
        out = subprocess.run([azpool, "get", "iv", "golden", "-n", "ci", "-o", "json",
                              "--server", srv], capture_output=True, text=True, timeout=10)
        iv = json.loads(out.stdout) if out.returncode == 0 else {}
        check("azpool get iv NAME -o json is the ImageVersion with status",
              iv.get("kind") == "ImageVersion" and iv["spec"]["gallery"] == "gal" and
              iv["status"]["conditions"][0]["reason"] == "Valid", out.stdout + out.stderr)
        code, _ = w.api("/api/v1/namespaces/ci/imageversions/nope")
        check("an unknown ImageVersion is 404", code == 404, str(code))

        # restart with ARM unreachable: the status can only come from the file
        check("SIGTERM exit 0", w.stop() == 0)
        good = w.base
        w.base = "https://127.0.0.1:9"  # nothing listens: every ARM call fails
        w.start("--state-dir", state)
        w.base = good
        p = w.pool("ci", "runners")
        st = (p or {}).get("status") or {}
        check("after a restart the status is loaded from the state directory",
              st.get("readyReplicas") == 2 and st.get("replicas") == 2, str(p)[:300])
        w.stop()

        # a corrupt state file is ignored with a warning; the pool still converges
        with open(path, "w") as f:
            f.write("{not json")
        w.start("--state-dir", state)
        w.wait(lambda: w.ready("ci", "runners", 2), 60, "2 ready after corrupt state")
        w.wait(lambda: json.load(open(path))["status"]["readyReplicas"] == 2, 10,
               "state file rewritten")
        log = open(w.ctl_log.name).read()
        check("a corrupt state file is ignored with a warning and rewritten",
              "event=state.ignored" in log)

        # a halted VirtualMachines rollout lives only in the controller's memory
        # (rc_obs_pool.halted_image): it must survive kill -9 through the file
        w.write("hv.yaml", vm_pool("22.04.1"))
        w.wait(lambda: w.ready("ci", "hv", 2), 60, "hv ready")
        admin(w, "compute/failnext", {"count": 1, "code": "AllocationFailed"})
        w.write("hv.yaml", vm_pool("22.04.2", canary=True))
        w.wait(lambda: degraded(w, "hv") == "RolloutHalted", 60, "hv RolloutHalted")
        hv = os.path.join(state, "ci", "hv.json")
        w.wait(lambda: "22.04.2" in json.load(open(hv))["remembered"].get("haltedImage", ""),
               10, "haltedImage in the state file")
        check("a halted VirtualMachines rollout is remembered in the state file", True)
        w.ctl.kill()  # SIGKILL
        w.ctl.wait()
        seq = w.last_seq()
        w.start("--state-dir", state)
        time.sleep(5)
        check("after kill -9 and restart the halt holds: Degraded, no write (no new canary)",
              degraded(w, "hv") == "RolloutHalted" and w.writes(seq) == [],
              str(w.writes(seq)))

        # removing the manifest destroys the pool; its state file goes with it
        os.remove(os.path.join(w.pools, "hv.yaml"))
        w.wait(lambda: not os.path.exists(hv), 60, "hv.json removed")
        check("a destroyed pool's state file is removed; the others stay",
              os.path.exists(path) and w.pool("ci", "hv") is None)

        # while the controller is down: one manifest removed, another renamed
        w.write("gone.yaml", g.pool_yaml("gone", 1))
        w.wait(lambda: w.ready("ci", "gone", 1), 60, "gone ready")
        w.wait(lambda: os.path.exists(os.path.join(state, "ci", "gone.json")), 10, "gone.json")
        w.ctl.kill()
        w.ctl.wait()
        os.remove(os.path.join(w.pools, "gone.yaml"))
        os.rename(os.path.join(w.pools, "runners.yaml"), os.path.join(w.pools, "moved.yaml"))
        seq = w.last_seq()
        w.start("--state-dir", state)
        w.wait(lambda: w.arm("GET", f"{g.VMSS}/gone?api-version=2024-11-01")[0] == 404, 60,
               "gone destroyed")
        time.sleep(3)
        wr = [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in w.writes(seq)]
        check("a manifest removed while the controller was down: its pool is destroyed "
              "after the restart (no leak)", wr == [("DELETE", "gone")], str(wr))
        check("a manifest renamed while it was down: that pool is kept, untouched",
              w.ready("ci", "runners", 2) and
              w.arm("GET", f"{g.VMSS}/runners?api-version=2024-11-01")[0] == 200)
        w.stop()
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
