#!/usr/bin/python3
"""Image rollout end to end against armsim (ScaleSet mode).

1. Surge rollout: a pool of 4 on image version A with maxSurge 1 and
   maxUnavailable 0 changes to version B. A sampler reads armsim's scale set
   and instances every 100 ms during the rollout (its own principal, so the
   controller's budget is untouched): capacity and instance count never exceed
   replicas + maxSurge, Succeeded instances never drop below replicas -
   maxUnavailable. The writes (request log) hold no instance delete before the
   surge instance exists and end with every instance on B.
2. Canary halt: with canary {replicas: 1}, armsim's compute/failnext makes the
   next new instance fail; changing to version C halts the rollout: the pool is
   Degraded with reason RolloutHalted, the scale set model returns to B, every
   instance stays on B, and the halt holds over further resyncs without
   replacing the instances already on B.

After the halt no instance already on B is replaced (the planner keeps
instances on the restored image whose latestModelApplied is false after the
halt's model PATCH back to B; plan cases 110-116).

Usage: rollout_e2e.py BUILD_DIR
"""
import json
import os
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gitops_e2e as g  # noqa: E402

check = g.check
REPLICAS, SURGE = 4, 1


def pool(version, canary=False):
    y = g.pool_yaml("roll", REPLICAS).replace("version: latest", f"version: {version}")
    y += "  rollout:\n    maxSurge: 1\n    maxUnavailable: 0\n"
    if canary:
        y += "    canary: {replicas: 1, soakSeconds: 600}\n"
    return y


def instances(w):
    code, body = w.arm("GET", f"{g.VMSS}/roll/virtualMachines?api-version=2024-11-01")
    return body["value"] if code == 200 else None


def version_of(i):
    return ((i["properties"].get("storageProfile") or {}).get("imageReference") or {}).get(
        "version")


def model(w):
    code, body = w.arm("GET", f"{g.VMSS}/roll?api-version=2024-11-01")
    return body if code == 200 else None


def admin(w, path, body):
    req = urllib.request.Request(f"{w.base}/_armsim/{path}", method="POST",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=w.ctx) as r:
        return r.status


class Sampler(threading.Thread):
    def __init__(self, w):
        super().__init__(daemon=True)
        self.w, self.stop, self.samples = w, False, []

    def run(self):
        while not self.stop:
            m, inst = model(self.w), instances(self.w)
            if m and inst is not None:
                ok = [i for i in inst if i["properties"]["provisioningState"] == "Succeeded"]
                self.samples.append((m["sku"]["capacity"], len(inst), len(ok)))
            time.sleep(0.1)


def all_on(w, version, n):
    inst = instances(w) or []
    return len(inst) == n and all(version_of(i) == version and
                                  i["properties"]["provisioningState"] == "Succeeded"
                                  for i in inst)


def main():
    w = g.World(sys.argv[1])
    try:
        w.write("roll.yaml", pool("22.04.202401010"))
        w.start()
        w.wait(lambda: w.ready("ci", "roll", REPLICAS), 60, "4 ready on A")
        w.wait(lambda: all_on(w, "22.04.202401010", REPLICAS), 30, "4 on A in armsim")
        seq = w.last_seq()
        s = Sampler(w)
        s.start()
        w.write("roll.yaml", pool("22.04.202402020"))
        t0 = time.time()
        w.wait(lambda: all_on(w, "22.04.202402020", REPLICAS) and
               w.ready("ci", "roll", REPLICAS), 120, "rollout to B")
        time.sleep(0.5)
        s.stop = True
        s.join()
        check(f"rollout to B completes: 4 instances on B, Ready ({time.time() - t0:.0f}s)", True)
        maxcap = max(c for c, _, _ in s.samples)
        maxn = max(n for _, n, _ in s.samples)
        minok = min(k for _, _, k in s.samples)
        print(f"# {len(s.samples)} samples: capacity <= {maxcap}, instances <= {maxn}, "
              f"Succeeded >= {minok}")
        check("surge never exceeds maxSurge extra instances",
              len(s.samples) > 10 and maxcap <= REPLICAS + SURGE and maxn <= REPLICAS + SURGE,
              f"capacity {maxcap}, instances {maxn}")
        check("never more than maxUnavailable (0) instances missing", minok >= REPLICAS,
              f"min Succeeded {minok}")
        wr = [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in w.writes(seq)]
        check("writes: model/capacity PATCH before any batch delete",
              wr and wr[0][0] == "PATCH" and ("POST", "delete") in wr, str(wr))

        # canary forced to fail halts the rollout; the old image stays
        seq = w.last_seq()
        admin(w, "compute/failnext", {"count": 1, "code": "AllocationFailed"})
        w.write("roll.yaml", pool("22.04.202403030", canary=True))
        t0 = time.time()

        def halted():
            st = (w.pool("ci", "roll") or {}).get("status") or {}
            deg = [c for c in st.get("conditions", []) if c["type"] == "Degraded"]
            return deg and deg[0]["status"] == "True" and deg[0]["reason"] == "RolloutHalted"
        w.wait(halted, 90, "RolloutHalted")
        w.wait(lambda: all_on(w, "22.04.202402020", REPLICAS), 60, "back to 4 on B")
        check(f"failed canary: Degraded/RolloutHalted ({time.time() - t0:.0f}s)", True)
        def model_version():
            return model(w)["properties"]["virtualMachineProfile"]["storageProfile"][
                "imageReference"]["version"]
        w.wait(lambda: model_version() == "22.04.202402020", 30, "model back on B")
        # The controller does not wait for the model PATCH's operation (it is
        # accepted, controller/exec.h): the instances, latestModelApplied false
        # after the model change, may be upgraded in place to B right away and
        # be Updating for a moment; they must settle on B.
        end = time.time() + 30
        while not all_on(w, "22.04.202402020", REPLICAS) and time.time() < end:
            time.sleep(0.1)
        check("the scale set model is back on B and every instance is on B",
              all_on(w, "22.04.202402020", REPLICAS),
              str([(i["name"], version_of(i), i["properties"]["provisioningState"])
                   for i in instances(w) or []]))
        time.sleep(6)
        check("the halt holds over resyncs (Degraded, no instance on C)",
              halted() and all(version_of(i) == "22.04.202402020" for i in instances(w)),
              json.dumps(((w.pool("ci", "roll") or {}).get("status") or {}).get("conditions")) +
              str([(i["name"], version_of(i), i["properties"]["provisioningState"])
                   for i in instances(w) or []]))
        wr = [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in w.writes(seq)]
        check("after the halt no instance on B is replaced (one delete: the failed canary)",
              wr.count(("POST", "delete")) == 1, str(wr))
        check("SIGTERM exit 0", w.stop() == 0)
        if os.environ.get("DEBUG_E2E"):
            print(open(w.ctl_log.name).read()[-6000:])
            print(json.dumps(model(w), indent=1)[:3000])
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
