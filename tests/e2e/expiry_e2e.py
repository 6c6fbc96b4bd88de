#!/usr/bin/python3
"""Instance expiry end to end against armsim (ScaleSet mode).

An ExpiryPolicy (maxAge 24h, forceAfter 72h, disruption budget 1) with one
maintenance window. armsim's admin API backdates instances' timeCreated.
1. Window closed: two instances backdated past maxAge (30h) are not replaced
   (no write at all over several resyncs); the status counts them expiring.
2. The window opens (the policy's schedule moves to now): both are replaced;
   a sampler of armsim's instances every 100 ms sees at most one extra
   instance (one replacement at a time: the budget and maxSurge 1) and never
   more than the budget (1) missing from replicas Succeeded.
3. Window closed again: an instance backdated past forceAfter (80h) is
   replaced regardless; the others stay.
4. A busy expired VM (tag azpool.busy=true; a VirtualMachines pool, because
   armsim has no PUT of a scale-set instance, which the planner's drain tag of
   a Uniform instance needs) is tagged draining and deleted only once
   drain.timeoutSeconds have passed (request log vs. azpool.draining-since).
armsim runs 60x faster than the wall clock the controller plans with, so the
ages carry margins of hours.

Usage: expiry_e2e.py BUILD_DIR
"""
import datetime
import json
import os
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gitops_e2e as g  # noqa: E402

check = g.check
REPLICAS = 3
VMS = f"/subscriptions/{g.SUB}/resourceGroups/{g.RG}/providers/Microsoft.Compute/virtualMachines"
DRAIN_S = 6


def policy(open_now):
    h = datetime.datetime.now(datetime.timezone.utc).hour
    start = h if open_now else (h + 12) % 24
    return f"""apiVersion: azpool.dev/v1alpha1
kind: ExpiryPolicy
metadata: {{name: daily, namespace: ci}}
spec:
  maxAge: 24h
  forceAfter: 72h
  maintenanceWindows:
    - {{schedule: "0 {start} * * *", duration: 3h}}
  disruptionBudget: {{maxUnavailable: 1}}
"""


def pool(name="exp", n=REPLICAS):
    return g.pool_yaml(name, n) + (
        "  expiryPolicyRef: {name: daily}\n  busy: {tag: {}}\n  drain: {timeoutSeconds: %d}\n"
        % DRAIN_S)


def instances(w):
    code, body = w.arm("GET", f"{g.VMSS}/exp/virtualMachines?api-version=2024-11-01")
    return body["value"] if code == 200 else None


def admin(w, path, body):
    req = urllib.request.Request(f"{w.base}/_armsim/{path}", method="POST",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=w.ctx) as r:
        return r.status


def backdate(w, inst, hours):
    return admin(w, "backdate", {"id": inst["id"], "ageSeconds": hours * 3600})


class Sampler(threading.Thread):
    def __init__(self, w):
        super().__init__(daemon=True)
        self.w, self.stop, self.samples = w, False, []

    def run(self):
        while not self.stop:
            inst = instances(self.w)
            if inst is not None:
                ok = [i for i in inst if i["properties"]["provisioningState"] == "Succeeded"]
                self.samples.append((len(inst), len(ok)))
            time.sleep(0.1)


def ms(ts):
    return datetime.datetime.fromisoformat(ts.rstrip("Z")[:23] + "+00:00").timestamp() * 1000


def ids(w):
    return {i["instanceId"] for i in instances(w) or []}


def main():
    w = g.World(sys.argv[1])
    try:
        w.write("policy.yaml", policy(False))
        w.write("exp.yaml", pool())
        w.start()
        w.wait(lambda: w.ready("ci", "exp", REPLICAS), 60, "3 ready")
        inst = sorted(instances(w), key=lambda i: int(i["instanceId"]))
        old = [i["instanceId"] for i in inst[:2]]
        ok = all(backdate(w, i, 30) == 200 for i in inst[:2])
        seq = w.last_seq()
        time.sleep(6)
        st = (w.pool("ci", "exp") or {}).get("status") or {}
        check("setup: two instances backdated 30h", ok)
        check("window closed: expired instances are not replaced (no write in 3 resyncs)",
              w.writes(seq) == [] and ids(w) >= set(old), str(w.writes(seq)))
        check("status counts them expiring", st.get("expiringReplicas") == 2,
              f"expiringReplicas={st.get('expiringReplicas')} reason={st.get('conditions')}")

        s = Sampler(w)
        s.start()
        w.write("policy.yaml", policy(True))
        t0 = time.time()
        w.wait(lambda: not (ids(w) & set(old)) and w.ready("ci", "exp", REPLICAS), 90,
               "expired instances replaced in the window")
        time.sleep(0.5)
        s.stop = True
        s.join()
        check(f"window open: both expired instances replaced ({time.time() - t0:.0f}s)", True)
        maxn = max(n for n, _ in s.samples)
        minok = min(k for _, k in s.samples)
        print(f"# {len(s.samples)} samples: instances <= {maxn}, Succeeded >= {minok}")
        check("one replacement at a time (budget 1): never more than 1 extra instance",
              len(s.samples) > 5 and maxn <= REPLICAS + 1, str(maxn))
        check("never more than the budget (1) missing during the replacement",
              minok >= REPLICAS - 1, str(minok))

        w.write("policy.yaml", policy(False))
        time.sleep(3)  # the closed window is in force
        inst = sorted(instances(w), key=lambda i: int(i["instanceId"]))
        forced, keep = inst[0]["instanceId"], {i["instanceId"] for i in inst[1:]}
        backdate(w, inst[0], 80)
        t0 = time.time()
        w.wait(lambda: forced not in ids(w) and w.ready("ci", "exp", REPLICAS), 90,
               "forced replacement")
        check(f"past forceAfter: replaced outside the window ({time.time() - t0:.0f}s)", True)
        check("the instances not past forceAfter stay", keep <= ids(w), str(ids(w)))

        # a busy expired VM (tag azpool.busy=true, set by its workload) is
        # drained, and deleted only once drain.timeoutSeconds have passed.
        # (VirtualMachines mode: armsim has no PUT of a scale-set instance.)
        w.write("policy.yaml", policy(True))
        w.write("drn.yaml", pool("drn", 2).replace("  replicas:",
                                                   "  mode: VirtualMachines\n  replicas:"))
        w.wait(lambda: w.ready("ci", "drn", 2), 60, "drn ready")
        code, vms = w.arm("GET", f"{VMS}?api-version=2024-11-01")
        inst = sorted([v for v in vms["value"] if v["name"].startswith("drn-")],
                      key=lambda v: v["name"])[0]
        tags = dict(inst.get("tags") or {}, **{"azpool.busy": "true"})
        code, _ = w.arm("PATCH", inst["id"] + "?api-version=2024-11-01", {"tags": tags})
        seq = w.last_seq()
        backdate(w, inst, 30)
        drained = {}

        def gone():
            c, x = w.arm("GET", inst["id"] + "?api-version=2024-11-01")
            if c == 200 and (x.get("tags") or {}).get("azpool.draining-since"):
                drained["at"] = x["tags"]["azpool.draining-since"]
            return c == 404 and w.ready("ci", "drn", 2)
        w.wait(gone, 90, "busy expired VM drained and replaced")
        deletes = [e for e in w.writes(seq) if e["method"] == "DELETE" and
                   e["path"].endswith("/" + inst["name"])]
        since = ms(drained["at"]) if drained else None
        first = ms(deletes[0]["time"]) if deletes else None
        print(f"# drain tag {drained.get('at')}, first delete {deletes[0]['time'] if deletes else None}")
        check("setup: the workload marks a VM busy", code in (200, 201), str(code))
        check(f"busy: drained first, deleted only after drain.timeoutSeconds ({DRAIN_S}s)",
              since and first and first - since >= DRAIN_S * 1000 - 1,
              f"drain at {since}, delete at {first}")
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
