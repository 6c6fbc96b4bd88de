#!/usr/bin/python3
"""Autoscale signals, busy protection and Event Grid hints end to end.

`azpool run --source dir:PATH` against armsim and a real Azurite queue
service: the queue length drives a Proportional pool, instance names in a
busy queue protect those instances from scale-in, and `--events-queue` makes
an out-of-band deletion repaired long before the next resync. Everything is
asserted from armsim's request log and the controller's /api.

Usage: signals_e2e.py BUILD_DIR
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gitops_e2e as g  # noqa: E402

from azure.storage.queue import QueueServiceClient  # noqa: E402

KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
       "K1SZFPTOtr/KBHBeksoGMGw==")


def auto_pool(name, qurl):
    block = f"""  autoscale:
    minReplicas: 0
    maxReplicas: 4
    metric:
      azureQueue: {{accountUrl: {qurl}, queue: jobs, credentialsSecretRef: {{name: q, key: connectionString}}}}
      pollSeconds: 1
    policy: Proportional
    proportional: {{jobsPerReplica: 1, freeTargetPercentage: 0}}
  busy:
    azureQueue: {{accountUrl: {qurl}, queue: busy, credentialsSecretRef: {{name: q, key: connectionString}}}}
    pollSeconds: 1
"""
    y = g.pool_yaml(name, 0)
    assert "  replicas: 0\n" in y
    return y.replace("  replicas: 0\n", block)


def start_azurite(tmp):
    port = g.free_port()
    loc = os.path.join(tmp, "azurite")
    os.makedirs(loc)
    log = open(os.path.join(tmp, "azurite.log"), "w")
    p = subprocess.Popen(["azurite-queue", "--queueHost", "127.0.0.1", "--queuePort", str(port),
                          "--location", loc, "--skipApiVersionCheck", "--disableTelemetry"],
                         stdout=log, stderr=subprocess.STDOUT)
    end = time.time() + 30
    while time.time() < end and "successfully listens" not in open(log.name).read():
        time.sleep(0.2)
    return p, port


def status(w, name):
    p = w.pool("ci", name)
    return (p or {}).get("status") or {}


def instances(w, name):
    return sorted(i["name"] for i in status(w, name).get("instances", []))


def main():
    build = sys.argv[1]
    if not shutil.which("azurite-queue"):
        g.check("setup: azurite-queue is installed (hack/install-deps.sh)", False)
        print(f"{g.passed} passed, {g.failed} failed")
        return 1
    w = g.World(build)
    try:
        az, qport = start_azurite(w.tmp)
        w.procs.append(az)
        qurl = f"http://127.0.0.1:{qport}/devstoreaccount1"
        conn = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
                f"QueueEndpoint={qurl};")
        svc = QueueServiceClient.from_connection_string(conn)
        for q in ("jobs", "busy", "events"):
            svc.create_queue(q)
        jobs, busy = svc.get_queue_client("jobs"), svc.get_queue_client("busy")
        secrets = os.path.join(w.tmp, "secrets")
        os.makedirs(os.path.join(secrets, "ci", "q"))
        with open(os.path.join(secrets, "ci", "q", "connectionString"), "w") as f:
            f.write(conn)

        w.start("--secrets-dir", secrets, "--resync", "10m")

        # A write that fails before reaching Azure (its Secret is missing) shows in
        # the status until a plan applies cleanly.
        w.write("needsec.yaml", g.pool_yaml("needsec", 1).replace(
            "adminUsername: azpool,",
            "adminUsername: azpool, customDataSecretRef: {name: init, key: user-data},"))
        seq = w.last_seq()

        def degraded():
            for c in status(w, "needsec").get("conditions", []):
                if c["type"] == "Degraded":
                    return c
            return {}
        w.wait(lambda: degraded().get("reason") == "ActionFailed", 30, "needsec ActionFailed")
        d = degraded()
        g.check("a missing Secret: Degraded True, reason ActionFailed naming it; no Azure write",
                d.get("status") == "True" and "init" in d.get("message", "") and
                w.writes(seq) == [], f"{d} {w.writes(seq)}")
        os.makedirs(os.path.join(secrets, "ci", "init"))
        with open(os.path.join(secrets, "ci", "init", "user-data"), "w") as f:
            f.write("#cloud-config\n")
        w.wait(lambda: w.ready("ci", "needsec", 1), 90, "needsec ready once its Secret exists")
        g.check("once the Secret exists the pool converges and Degraded is False again",
                degraded().get("status") == "False", str(degraded()))
        w.write("auto.yaml", auto_pool("auto", qurl))
        w.wait(lambda: status(w, "auto").get("desiredReplicas") == 0, 30, "auto at 0")
        g.check("an empty queue keeps a Proportional pool (min 0) at 0 instances",
                status(w, "auto").get("replicas") == 0)

        # A busy source that was never read: nobody knows which instances run a
        # job, so a scale-in waits (creates do not).
        def blind(replicas, url):
            busy_block = ("  busy:\n"
                          f"    azureQueue: {{accountUrl: {url}, queue: busy, "
                          "credentialsSecretRef: {name: q, key: connectionString}}\n"
                          "    pollSeconds: 1\n")
            return g.pool_yaml("blind", replicas).replace("  replicas:", busy_block + "  replicas:")
        dead = f"http://127.0.0.1:{g.free_port()}/devstoreaccount1"
        w.write("blind.yaml", blind(2, dead))
        w.wait(lambda: w.ready("ci", "blind", 2), 60, "blind ready (creates need no busy set)")
        seq = w.last_seq()
        w.write("blind.yaml", blind(1, dead))
        time.sleep(6)
        g.check("busy source never read: a scale-in waits (no delete)",
                w.writes(seq) == [] and w.ready("ci", "blind", 2), str(w.writes(seq)))
        w.write("blind.yaml", blind(1, qurl))
        w.wait(lambda: w.ready("ci", "blind", 1), 60, "blind scales in once busy is known")
        g.check("once the busy queue is read (empty) the scale-in goes ahead",
                [e["method"] for e in w.writes(seq)].count("POST") == 1, str(w.writes(seq)))
        # ... but never longer than the drain timeout (DESIGN.md §4 rule 5).
        w.write("blind2.yaml", blind(2, dead).replace("name: blind,", "name: blind2,") +
                "  drain: {timeoutSeconds: 4}\n")
        w.wait(lambda: w.ready("ci", "blind2", 2), 60, "blind2 ready")
        seq = w.last_seq()
        t0 = time.time()
        w.write("blind2.yaml", blind(1, dead).replace("name: blind,", "name: blind2,") +
                "  drain: {timeoutSeconds: 4}\n")
        w.wait(lambda: w.ready("ci", "blind2", 1), 60, "blind2 scales in after the drain timeout")
        took = time.time() - t0
        g.check("a busy source that is never read holds a scale-in for the drain timeout (4 s), "
                "not forever", took >= 3.5 and
                [e["method"] for e in w.writes(seq)].count("POST") == 1,
                f"{took:.1f} s {w.writes(seq)}")

        for i in range(3):
            jobs.send_message(f"job-{i}")
        w.wait(lambda: w.ready("ci", "auto", 3), 60, "3 ready after 3 jobs")
        g.check("3 queued jobs scale the pool out to 3 (queue length from Azurite)",
                status(w, "auto").get("desiredReplicas") == 3)

        # The victim order of DESIGN.md §5 would take the oldest first: mark
        # the newest instance busy, so protection and the default order differ.
        insts = sorted(status(w, "auto")["instances"], key=lambda i: (i["createdAt"], i["name"]))
        keep = insts[-1]
        # One job starts on it: a message leaves the job queue, its name enters busy.
        # (busy first: the two queues are polled independently, and a poll that
        # sees the job gone but not yet the busy name would scale in by one)
        busy.send_message(keep["name"])
        time.sleep(1.5)
        msg = next(jobs.receive_messages())
        jobs.delete_message(msg)
        time.sleep(3)  # both polls (1 s) have seen it
        w.wait(lambda: status(w, "auto").get("desiredReplicas") == 3 and w.ready("ci", "auto", 3),
               30, "3 ready with 1 busy + 2 pending")
        g.check("a job moving from pending to busy keeps the size (busy 1 + pending 2 = 3), "
                "and the busy instance stays", keep["name"] in instances(w, "auto"),
                str(instances(w, "auto")))
        seq = w.last_seq()
        log_at = len(open(w.ctl_log.name).read())
        jobs.clear_messages()
        w.wait(lambda: w.ready("ci", "auto", 1), 60, "1 left after the queue emptied")
        g.check("with the job queue empty the pool scales in to the busy instance only",
                instances(w, "auto") == [keep["name"]], f"{instances(w, 'auto')} != {keep['name']}")
        left = status(w, "auto")["instances"]
        g.check("the busy instance is the same one (same id and creation time), not a new one",
                [(i["id"], i["createdAt"]) for i in left] == [(keep["id"], keep["createdAt"])],
                str(left))
        dels = [ln for ln in open(w.ctl_log.name).read()[log_at:].splitlines()
                if "event=action.done" in ln and "verb=delete" in ln]
        g.check("one delete request of the 2 idle instances; the busy one is not named",
                len(dels) == 1 and "delete 2 instances" in dels[0] and keep["name"] not in dels[0]
                and [e["method"] for e in w.writes(seq)].count("POST") == 1, str(dels))

        busy.clear_messages()
        w.wait(lambda: w.ready("ci", "auto", 0), 60, "0 after the job finished")
        g.check("when the busy instance's job ends (its message is gone) the pool goes to 0",
                status(w, "auto").get("replicas") == 0)
        log = open(w.ctl_log.name).read()
        g.check("the queue's connection string appears in no log or API output",
                KEY not in log and KEY not in w.api("/api/v1/namespaces/ci/workerpools")[1])
        w.stop()

        # Event Grid: resync 10m, so only an event explains a quick repair.
        g_admin = {"scope": f"/subscriptions/{g.SUB}/resourceGroups/{g.RG}",
                   "queueUrl": qurl + "/events", "account": "devstoreaccount1", "key": KEY}
        w.write("auto.yaml", g.pool_yaml("fixed", 2))
        env_conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        os.environ["AZURE_STORAGE_CONNECTION_STRING"] = conn
        try:
            w.start("--secrets-dir", secrets, "--resync", "10m", "--events-queue", qurl + "/events")
        finally:
            if env_conn is None:
                del os.environ["AZURE_STORAGE_CONNECTION_STRING"]
            else:
                os.environ["AZURE_STORAGE_CONNECTION_STRING"] = env_conn
        w.wait(lambda: w.ready("ci", "fixed", 2), 60, "fixed ready")
        ids = [i["id"].rsplit("/", 1)[-1] for i in status(w, "fixed").get("instances", [])]
        # Control: without an event nothing looks at the pool before the resync.
        seq = w.last_seq()
        code, _ = w.arm("POST", f"{g.VMSS}/fixed/delete?api-version=2024-11-01",
                        {"instanceIds": ids[:1]})
        time.sleep(8)
        g.check("control: without Event Grid events an out-of-band deletion stays unseen "
                "(resync 10 min)", code in (200, 202) and w.writes(seq) == [],
                f"{code} {w.writes(seq)}")
        code = g_put_subscription(w, g_admin)
        g.check("armsim's Event Grid subscription into the Azurite queue is set up", code == 200,
                str(code))
        seq = w.last_seq()
        code, _ = w.arm("POST", f"{g.VMSS}/fixed/delete?api-version=2024-11-01",
                        {"instanceIds": ids[1:2]})
        t0 = time.time()
        w.wait(lambda: any("/fixed" in e["path"] for e in w.writes(seq)), 30, "the controller repairs the pool")
        g.check("an instance deleted out of band is replaced after its Event Grid event, "
                "long before the 10 min resync", time.time() - t0 < 30,
                f"{time.time() - t0:.1f} s")
        w.wait(lambda: w.ready("ci", "fixed", 2), 60, "fixed ready again")
        g.check("the pool is back at 2 ready", w.ready("ci", "fixed", 2))
        # the repair's own writes make events too (the pool can be ready before
        # they are read): the reader polls every 2 s
        evq = svc.get_queue_client("events")
        try:
            w.wait(lambda: len(evq.peek_messages(max_messages=32)) == 0, 15, "events consumed")
        except RuntimeError:
            pass
        left = evq.peek_messages(max_messages=32)
        g.check("processed events are deleted from the queue", len(left) == 0, str(len(left)))
        # busy: {tag: {}} with recycleAfterJob Replace: the worker tags itself busy,
        # then removes the tag when its job ends; Event Grid tells the controller.
        w.write("tagged.yaml", g.pool_yaml("tagged", 2).replace(
            "  replicas:", "  mode: VirtualMachines\n  busy: {tag: {}}\n"
            "  recycleAfterJob: Replace\n  replicas:"))
        w.wait(lambda: w.ready("ci", "tagged", 2), 60, "tagged ready")
        # the newest instance (last by createdAt, then name): scale-in's victim
        # order (oldest first) would pick the other one, so only a job_done
        # that survives the surge plan (maxUnavailable 0: a create first, the
        # delete once it is Ready) replaces the finished worker
        insts = status(w, "tagged")["instances"]
        vm = max(insts, key=lambda i: (i["createdAt"][:19], float("0" + i["createdAt"][19:-1]),
                                       i["name"]))["name"]
        other = [i["name"] for i in insts if i["name"] != vm]
        vm_path = (f"/subscriptions/{g.SUB}/resourceGroups/{g.RG}/providers/"
                   f"Microsoft.Compute/virtualMachines/{vm}?api-version=2024-11-01")
        tags = w.arm("GET", vm_path)[1]["tags"]
        code, _ = w.arm("PATCH", vm_path, {"tags": dict(tags, **{"azpool.busy": "true"})})
        w.wait(lambda: any(i["name"] == vm and i["busy"]
                           for i in status(w, "tagged")["instances"]), 30, "busy by tag seen")
        g.check("an instance that tags itself azpool.busy=true is reported busy", code == 200,
                str(code))
        seq = w.last_seq()
        w.arm("PATCH", vm_path, {"tags": tags})  # the job ended
        w.wait(lambda: vm not in instances(w, "tagged") and w.ready("ci", "tagged", 2), 90,
               "the finished worker replaced")
        deleted = [e for e in w.writes(seq) if e["method"] == "DELETE" and vm in e["path"]]
        g.check("recycleAfterJob Replace: when its busy tag goes, the instance is replaced "
                "(deleted, a new one ready)", len(deleted) >= 1, str(w.writes(seq)))
        g.check("... and the other (idle, older) instance is kept",
                all(o in instances(w, "tagged") for o in other),
                f"{other} {instances(w, 'tagged')}")
        g.check("SIGTERM: clean shutdown", w.stop() == 0)
    except Exception as e:  # a wait that timed out, a client error
        g.check("no unexpected error", False, repr(e))
    finally:
        w.close()
    print(f"{g.passed} passed, {g.failed} failed")
    return 1 if g.failed else 0


def g_put_subscription(w, body):
    import json
    import urllib.request
    req = urllib.request.Request(f"{w.base}/_armsim/eventgrid/subscriptions/e2e", method="PUT",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=w.ctx) as r:
        return r.status


if __name__ == "__main__":
    sys.exit(main())
