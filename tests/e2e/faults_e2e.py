#!/usr/bin/python3
"""Convergence under injected faults, end to end against armsim.

armsim answers every ARM request (/subscriptions/...) with 10% 500, 10% 503,
10% 429 (Retry-After: 1) and 5% connection resets. Three pools (two ScaleSet,
one VirtualMachines) are created, resized and one is removed under these
faults. Checks:
- every pool converges (controller /api) and, with faults off, armsim's state
  matches the manifests exactly; the removed pool's resources are gone;
- no request is sent to a paused bucket: after a 429 answered to principal
  azpool, no request of the same bucket (reads = GET, writes = PUT/PATCH/POST,
  deletes = DELETE; the client's buckets, az.h) reaches armsim until the
  Retry-After (1 s) has passed. Requests logged less than IN_FLIGHT_MS after
  the 429 were on the wire before the client could read it (armsim is
  single-threaded and logs a request when it answers it), so they are not
  counted; their number is printed;
- once converged, a resync issues zero writes.

Usage: faults_e2e.py BUILD_DIR
"""
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gitops_e2e as g  # noqa: E402

check = g.check
SPEC = os.environ.get("FAULTS_SPEC", "/subscriptions/*:500=0.1,503=0.1,429=0.1,reset=0.05")
IN_FLIGHT_MS = 50
RES = f"/subscriptions/{g.SUB}/resourceGroups/{g.RG}"


def bucket(method):
    return {"GET": "reads", "DELETE": "deletes"}.get(method, "writes")


def ms(ts):
    return datetime.datetime.fromisoformat(ts[:23] + "+00:00").timestamp() * 1000


gaps = []  # of the requests counted in flight (ms after the 429)


def pause_violations(log):
    """(429 seq, later seq, gap ms) for requests inside a bucket's pause."""
    mine = [e for e in log if e["principal"] == "azpool" and e["path"].startswith("/subscriptions")]
    bad, in_flight, n429 = [], 0, 0
    gaps.clear()
    for i, e in enumerate(mine):
        if e["status"] != 429:
            continue
        n429 += 1
        t0, b = ms(e["time"]), bucket(e["method"])
        for f in mine[i + 1:]:
            gap = ms(f["time"]) - t0
            if gap >= 999:  # log times are truncated to the ms: 999 may be 999.9
                break
            if bucket(f["method"]) != b:
                continue
            if gap < IN_FLIGHT_MS:
                in_flight += 1
                gaps.append(round(gap))
            else:
                bad.append((e["seq"], f["seq"], f["method"], round(gap)))
    return bad, in_flight, n429


def vm_pool(name, n):
    return g.pool_yaml(name, n).replace("  replicas:", "  mode: VirtualMachines\n  replicas:")


def owned(w, kind, pool, api):
    code, body = w.arm("GET", f"{RES}/providers/{kind}?api-version={api}")
    return [i for i in (body or {}).get("value", [])
            if (i.get("tags") or {}).get("azpool.pool") == pool]


def faults(w, spec):
    import json
    import urllib.request
    req = urllib.request.Request(f"{w.base}/_armsim/faults", method="POST",
                                 data=json.dumps({"spec": spec, "seed": 7}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=w.ctx) as r:
        return r.status


def main():
    w = g.World(sys.argv[1])
    try:
        check("faults injected: " + SPEC, faults(w, SPEC) == 200)
        w.write("a.yaml", g.pool_yaml("a", 3))
        w.write("b.yaml", g.pool_yaml("b", 2))
        w.write("v.yaml", vm_pool("v", 2))
        w.start("--resync", "1s")
        t0 = time.time()
        w.wait(lambda: w.ready("ci", "a", 3) and w.ready("ci", "b", 2) and w.ready("ci", "v", 2),
               120, "3 pools ready under faults")
        check(f"3 pools converge from empty under faults ({time.time() - t0:.0f}s)", True)
        w.write("a.yaml", g.pool_yaml("a", 1))
        w.write("v.yaml", vm_pool("v", 3))
        os.remove(os.path.join(w.pools, "b.yaml"))
        t0 = time.time()
        w.wait(lambda: w.ready("ci", "a", 1) and w.ready("ci", "v", 3) and
               w.pool("ci", "b") is None, 120, "resize and removal under faults")
        check(f"scale in, scale out and removal converge under faults ({time.time() - t0:.0f}s)",
              True)
        log = w.log()
        codes = {}
        for e in log:
            if e["principal"] == "azpool":
                codes[e["status"]] = codes.get(e["status"], 0) + 1
        print(f"# azpool requests by status: {dict(sorted(codes.items()))}")
        check("faults were really injected (429, 5xx and resets seen)",
              codes.get(429, 0) > 0 and codes.get(503, 0) + codes.get(500, 0) > 0 and
              codes.get(599, 0) > 0, str(codes))
        bad, in_flight, n429 = pause_violations(log)
        print(f"# {n429} 429s to azpool; {in_flight} requests already in flight "
              f"(logged {sorted(gaps)} ms after the 429)")
        check("no request sent to a bucket while it was paused by a 429", not bad, str(bad[:8]))

        faults(w, "")
        time.sleep(2)
        code, ss = w.arm("GET", f"{g.VMSS}/a?api-version=2024-11-01")
        code_b, _ = w.arm("GET", f"{g.VMSS}/b?api-version=2024-11-01")
        code, inst = w.arm("GET", f"{g.VMSS}/a/virtualMachines?api-version=2024-11-01")
        vms = owned(w, "Microsoft.Compute/virtualMachines", "ci/v", "2024-11-01")
        nics = owned(w, "Microsoft.Network/networkInterfaces", "ci/v", "2024-05-01")
        check("armsim matches the manifests (a: 1 instance, b gone, v: 3 VMs and 3 NICs)",
              ss and ss["sku"]["capacity"] == 1 and len(inst["value"]) == 1 and code_b == 404 and
              len(vms) == 3 and len(nics) == 3,
              f"a={ss and ss['sku']['capacity']} b={code_b} vms={len(vms)} nics={len(nics)}")
        seq = w.last_seq()
        time.sleep(3)
        wr = w.writes(seq)
        check("converged: resyncs issue zero writes", wr == [], str(wr))
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
