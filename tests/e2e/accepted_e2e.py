#!/usr/bin/python3
"""Writes accepted, not followed (controller/exec.h "Accepted writes"), end to end
against armsim (time scale 60, provisionSeconds 120: 2 s of real time).

1. A new pool: one PUT; azpool never GETs the operation's status URL (it looks
   at the pool instead), and reports the pool ready soon after armsim's
   operation ended (within its Retry-After, 1 s, plus a margin), not one
   2 s progress poll or more later.
2. Two edits in a row (replicas 2 -> 3 -> 4): the second PATCH of the scale set
   waits until the first one's operation ended (reconcile.write_deferred is
   logged meanwhile), then goes out; the pool ends at 4 ready.
3. A create whose instance fails provisioning (compute/failnext): the failure
   is not reported by a followed operation any more but seen by the next
   observe; the failed instance is deleted and replaced, the pool ends ready.

Usage: accepted_e2e.py BUILD_DIR
"""
import json
import os
import sys
import time
import urllib.request
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gitops_e2e as g  # noqa: E402

check = g.check
PROVISION_SIM = 120
SCALE = 60
PROVISION = PROVISION_SIM / SCALE  # real seconds


def admin(w, path, body):
    req = urllib.request.Request(f"{w.base}/_armsim/{path}", method="POST",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=w.ctx) as r:
        return r.status


def t(e):
    return datetime.fromisoformat(e["time"][:23] + "+00:00").timestamp()


def main():
    w = g.World(sys.argv[1])
    try:
        check("armsim provisioning set to 2 s",
              admin(w, "config", {"provisionSeconds": PROVISION_SIM}) == 200)
        w.write("a.yaml", g.pool_yaml("a", 2))
        seq = w.last_seq()
        w.start("--resync", "10m")  # no resync to hide a late look
        w.wait(lambda: w.ready("ci", "a", 2), 60, "a ready")
        t_ready = time.time()
        mine = [e for e in w.log(seq) if e["principal"] == "azpool"]
        puts = [e for e in mine if e["method"] == "PUT"]
        polls = [e for e in mine if "/operations/" in e["path"]]
        check("a new pool is one PUT and its operation is never polled",
              len(puts) == 1 and len([e for e in mine if e["method"] != "GET"]) == 1
              and not polls, f"puts={len(puts)} polls={len(polls)}")
        late = t_ready - (t(puts[0]) + PROVISION) if puts else 99
        check("the pool is reported ready within the operation's Retry-After of its end",
              late < 1.6, f"{late:.2f} s after armsim's operation ended")

        seq = w.last_seq()
        w.write("a.yaml", g.pool_yaml("a", 3))
        w.wait(lambda: any(e["method"] == "PATCH" for e in w.writes(seq)), 20, "first PATCH")
        time.sleep(0.3)
        w.write("a.yaml", g.pool_yaml("a", 4))
        w.wait(lambda: w.ready("ci", "a", 4), 60, "a ready at 4")
        patches = [e for e in w.writes(seq) if e["method"] == "PATCH"]
        gap = t(patches[1]) - t(patches[0]) if len(patches) == 2 else 0
        log = open(w.ctl_log.name).read()
        check("the second PATCH waits for the first one's operation (deferred meanwhile)",
              len(patches) == 2 and gap >= PROVISION / 2 and "reconcile.write_deferred" in log,
              f"patches={len(patches)} gap={gap:.2f} s")
        check("only those two writes", len(w.writes(seq)) == 2, str(w.writes(seq)))

        check("the next new instance will fail provisioning",
              admin(w, "compute/failnext", {"count": 1, "code": "AllocationFailed"}) == 200)
        seq = w.last_seq()
        w.write("b.yaml", g.pool_yaml("b", 2))
        w.wait(lambda: w.ready("ci", "b", 2), 60, "b ready")
        wr = [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in w.writes(seq)
              if "/virtualMachineScaleSets/b" in e["path"]]
        check("a failed instance is seen by observation, deleted and replaced; b ready",
              ("POST", "delete") in wr and wr[0] == ("PUT", "b"), str(wr))
        check("SIGTERM exit 0", w.stop() == 0)
    except Exception as e:  # noqa: BLE001
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
