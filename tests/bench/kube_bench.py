#!/usr/bin/python3
"""Kubernetes-mode figures of `make bench` (issue 6), against kubesim + armsim.

Usage: kube_bench.py BUILD_DIR   (run by tests/bench/kube-bench.sh)

Prints one "bench=kube-<name> key=value ... target=..." line per figure and controller replica
count, even when the figure misses its target (then miss=yes); "# " lines explain the writes
found at steady state; a last line "bench=kube-summary missed=..." lists the missed targets.
Exit 0 when every figure was measured (a missed target is a figure, not a failure), 1 when a
phase could not run.

Per scenario (KBENCH_CONTROLLERS, default "1 2": one controller, then two replicas doing
leader election), a fresh world: kubesim (--tls --token, the CRDs of crds/, namespace bench),
armsim, and `azpool run --source kube --namespace bench --resync KBENCH_RESYNC` (free ports, a
temp dir, every process always stopped). Both clocks below are CLOCK_REALTIME of this machine.

0. converge: KBENCH_POOLS ScaleSet pools x KBENCH_REPLICAS created with one `kubectl apply -f`
   (client-side apply, as a user would); wait until every pool's status (read from kubesim)
   says replicas == readyReplicas == N, observedGeneration current, Ready True.
1. latency: KBENCH_EDITS single-pool edits, each on the next pool round-robin (so the queue
   order of one pool does not decide the figure): `kubectl apply -f` of that pool with
   replicas N+1 (or back to N). t_accept = kubesim's request log (GET /_kubesim/requests)
   doneMicros of kubectl's PATCH of that pool (the moment the write was committed and
   answered; the watch event leaves then); t_write = armsim's log time (/_armsim/log, ms
   resolution, so up to 1 ms early) of the controller's first non-GET request whose path names
   that pool's scale set. latency = t_write - t_accept; p50/p99 nearest rank; target
   p99 < 200 ms. Between edits: the pool reports the new size ready (Kubernetes status), then
   a random pause of 50-250 ms. KBENCH_EDIT=patch sends the same edit as a merge PATCH from
   this script instead of kubectl (no client start-up; the figure is measured the same way).
2. steady: the pools converged, after one resync of quiet: for KBENCH_WINDOW seconds (several
   resyncs) every request of the controller(s) (User-Agent azpool/...) in kubesim's log,
   counted by verb (GET LIST WATCH PATCH PUT POST DELETE), the Lease requests counted apart
   (bench=kube-lease); divided by the reconciles done in the window (the sum of
   azpool_reconcile_total over the replicas' /metrics, read before and after). Target: 0
   writes per reconcile. Also printed: ARM writes in the window (expected 0) and writes that
   did not change the object (kubesim's "changed": false, i.e. a no-op PATCH/PUT); the writes
   themselves are listed on "# " lines (resource, path, count, no-ops) so a regression can be
   read off the output. The controller's informers hold their watches 300-600 s
   (kinformer.c), so a window of seconds normally holds no read at all; open_watches (kubesim's
   live watches, all the controllers') and est_watch_renewals_per_reconcile = open_watches /
   450 s x window / reconciles give the amortized read cost (an estimate, not a count).
   The latency line also gives the controller's Kubernetes writes per edit by method and
   resource (status patch, events), Lease requests left out.
3. degraded (KBENCH_DEGRADED=0 skips it): a pool whose cloud-init Secret does not exist is
   added; once its status and finalizer are written and one resync has passed, the same
   window counts the controllers' writes: writes to the pool object (status, finalizer;
   target 0), Event writes (by design one PATCH count+1 of the same Warning per failing
   reconcile, until kevents' spam filter - 25, then 1 per 5 min per object - holds them) and
   ARM writes (0: nothing is created without its Secret). The Events and conditions are
   printed on "# " lines.

Environment knobs (defaults: about 5 minutes on 2 cores; KBENCH_KEEP=1 keeps the temp dirs):
  KBENCH_CONTROLLERS ("1 2"), KBENCH_POOLS (30), KBENCH_REPLICAS (2), KBENCH_EDITS (30),
  KBENCH_EDIT (kubectl|patch), KBENCH_RESYNC (5), KBENCH_WINDOW (25), KBENCH_DEGRADED (1).
"""
import json
import os
import random
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
from datetime import datetime

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
from armclient import env_int, free_port, ArmClient, KubeClient  # noqa: E402

SUB = "00000000-0000-0000-0000-000000000b06"
RG = "rg-kbench"
NS = "bench"
SUBNET = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v/subnets/w"
PRINCIPAL = "azpool-kbench"
TOKEN = "kbench-token"
WPS = f"/apis/azpool.dev/v1alpha1/namespaces/{NS}/workerpools"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WRITE_VERBS = ("PATCH", "PUT", "POST", "DELETE")
VERBS = ("GET", "LIST", "WATCH") + WRITE_VERBS


def pool_name(i):
    return f"kp{i:03d}"


def pool_obj(name, replicas):
    return {
        "apiVersion": "azpool.dev/v1alpha1", "kind": "WorkerPool",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "subscriptionId": SUB, "resourceGroup": RG, "location": "westeurope",
            "mode": "ScaleSet", "vmSize": "Standard_D2s_v5", "replicas": replicas,
            "image": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                      "sku": "22_04-lts-gen2", "version": "latest"},
            "network": {"subnetId": SUBNET},
            "osProfile": {"adminUsername": "azpool",
                          "sshPublicKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2e azpool"]},
        },
    }


def arm_time(s):
    # armsim: "2026-11-23T15:20:01.123..." (UTC)
    return datetime.fromisoformat(s[:23] + "+00:00").timestamp()


def pct(values, p):
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))  # nearest rank
    return v[k]


def verb_of(e):
    """GET LIST WATCH PATCH PUT POST DELETE from a kubesim request log entry."""
    v = e["verb"]
    return {"get": "GET", "list": "LIST", "watch": "WATCH"}.get(v, e["method"])


class World(ArmClient, KubeClient):
    KUBE_TOKEN = TOKEN
    SETUP_CLIENT = "kbench-setup"
    WAIT_STEP = 0.1

    def __init__(self, build):
        self.build = build
        self.tmp = tempfile.mkdtemp(prefix="azpool-kbench-")
        self.procs = []
        self.ctls = []  # (process, metrics port, log path)
        # armsim: quick provisioning so that convergence is not the bench's cost
        self.arm_port = free_port()
        simdir = os.path.join(self.tmp, "arm")
        os.makedirs(simdir)
        self.sim_log = open(os.path.join(self.tmp, "armsim.log"), "w")
        self.procs.append(subprocess.Popen(
            [os.path.join(build, "armsim"), "--port", str(self.arm_port), "--dir", simdir,
             "--time-scale", "20", "--provision-seconds", "4", "--seed", "6"],
            stdout=self.sim_log, stderr=subprocess.STDOUT))
        self.ca = os.path.join(simdir, "ca.pem")
        self.wait(lambda: "armsim listening" in open(self.sim_log.name).read(), 15, "armsim")
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.base = f"https://127.0.0.1:{self.arm_port}"
        self.token = self.arm_token()
        code, _ = self.arm("PUT", f"/subscriptions/{SUB}/resourcegroups/{RG}?api-version=2021-04-01",
                           {"location": "westeurope"})
        if code not in (200, 201):
            raise RuntimeError(f"resource group PUT returned {code}")
        self.arm_seq = 0
        # kubesim
        self.kube_port = free_port()
        self.ksdir = os.path.join(self.tmp, "kube")
        os.makedirs(self.ksdir)
        self.ks_log = open(os.path.join(self.tmp, "kubesim.log"), "w")
        self.procs.append(subprocess.Popen(
            [os.path.join(build, "kubesim"), "--port", str(self.kube_port), "--dir", self.ksdir,
             "--tls", "--token", TOKEN, "--bookmark-seconds", "10"],
            stdout=self.ks_log, stderr=subprocess.STDOUT))
        self.wait(lambda: "kubesim listening" in open(self.ks_log.name).read(), 15, "kubesim")
        self.kctx = ssl.create_default_context(cafile=os.path.join(self.ksdir, "ca.pem"))
        self.kbase = f"https://127.0.0.1:{self.kube_port}"
        self.kubeconfig = os.path.join(self.ksdir, "kubeconfig")
        self.kenv = dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.tmp,
                         KUBECACHEDIR=os.path.join(self.tmp, "kcache"))
        for f in ("workerpools.yaml", "imageversions.yaml", "expirypolicies.yaml"):
            code, _ = self.kube("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                                open(os.path.join(ROOT, "crds", f)).read(), "application/yaml")
            if code != 201:
                raise RuntimeError(f"CRD {f}: {code}")
        code, _ = self.kube("POST", "/api/v1/namespaces",
                            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        if code != 201:
            raise RuntimeError(f"namespace {NS}: {code}")
        # the request log this bench relies on records what it was sent
        entries, _ = self.requests(0)
        ns_posts = [e for e in entries if e["method"] == "POST" and e["verb"] == "create" and
                    e["resource"] == "namespaces" and e["path"] == "/api/v1/namespaces" and
                    e["changed"] and e["code"] == 201 and e["userAgent"].startswith("Python")]
        if len(ns_posts) != 1 or entries[-1]["seq"] + 1 != self.req_next():
            raise RuntimeError("kubesim's request log does not show the namespace POST")

    # ---- armsim
    def arm_log(self):
        """armsim's entries since the last call (sequence numbers checked: none lost)."""
        with urllib.request.urlopen(f"{self.base}/_armsim/log?since={self.arm_seq}",
                                    context=self.ctx) as r:
            new = json.load(r)["entries"]
        if new and new[0]["seq"] != self.arm_seq:
            raise RuntimeError(f"armsim log ring overflowed at seq {self.arm_seq}")
        if new:
            self.arm_seq = new[-1]["seq"] + 1
        return new

    # ---- kubesim
    def requests(self, since):
        """kubesim's request log from seq `since`: (entries, next seq); raises when entries
        were lost (the ring holds 10,000)."""
        code, body = self.kube("GET", f"/_kubesim/requests?since={since}")
        if code != 200:
            raise RuntimeError(f"GET /_kubesim/requests: {code}")
        if body["oldest"] > since:
            raise RuntimeError(f"kubesim request log overflowed: wanted {since}, "
                               f"oldest {body['oldest']}")
        return body["entries"], body["next"]

    def req_next(self):
        """The seq kubesim's next request will get."""
        code, body = self.kube("GET", "/_kubesim/requests?limit=0")
        if code != 200:
            raise RuntimeError(f"GET /_kubesim/requests: {code}")
        return body["next"]

    def kubectl_apply(self, objs):
        path = os.path.join(self.tmp, "apply.json")
        with open(path, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "List", "items": objs}, f)
        p = subprocess.run(["kubectl", "apply", "-f", path], env=self.kenv,
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"kubectl apply: {p.stderr.strip()[:300]}")

    def pools(self):
        code, body = self.kube("GET", WPS)
        if code != 200:
            raise RuntimeError(f"list workerpools: {code}")
        return {o["metadata"]["name"]: o for o in body["items"]}

    @staticmethod
    def ready(o, n):
        st = (o or {}).get("status") or {}
        conds = {c.get("type"): c for c in st.get("conditions", [])}
        return (st.get("readyReplicas") == n and st.get("replicas") == n and
                st.get("observedGeneration") == o["metadata"]["generation"] and
                conds.get("Ready", {}).get("status") == "True")

    # ---- controllers
    def launch(self, name, resync):
        env = dict(os.environ, AZURE_TENANT_ID="tenant-1", AZURE_CLIENT_ID=PRINCIPAL,
                   AZURE_CLIENT_SECRET="kbench-secret", AZURE_AUTHORITY_HOST=self.base,
                   POD_NAME=name)
        for k in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONFIG",
                  "POD_NAMESPACE"):
            env.pop(k, None)
        port = free_port()
        path = os.path.join(self.tmp, name + ".log")
        proc = subprocess.Popen(
            [os.path.join(self.build, "azpool"), "run", "--source", "kube",
             "--kubeconfig", self.kubeconfig, "--namespace", NS,
             "--arm-endpoint", self.base, "--ca-file", self.ca,
             "--listen", f"127.0.0.1:{port}", "--resync", f"{resync}s"],
            stdout=open(path, "a"), stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        self.ctls.append((proc, port, path))
        return proc, port, path

    def ctl_get(self, port, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()

    def check_ctls(self):
        for proc, _, path in self.ctls:
            if proc.poll() is not None:
                raise RuntimeError(f"{os.path.basename(path)}: azpool exited with "
                                   f"{proc.returncode}")

    def reconciles(self):
        """Sum of azpool_reconcile_total over every replica's /metrics."""
        total = 0.0
        for _, port, _ in self.ctls:
            _, text = self.ctl_get(port, "/metrics")
            for line in text.splitlines():
                if line.startswith("azpool_reconcile_total"):
                    total += float(line.rsplit(" ", 1)[1])
        return total

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if os.environ.get("KBENCH_KEEP"):
            print(f"# kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def is_ctl(e):
    return e["userAgent"].startswith("azpool/")


def phase_converge(w, names, nrep, ncontrollers, resync):
    w.kubectl_apply([pool_obj(n, nrep) for n in names])
    t0 = time.time()
    for i in range(ncontrollers):
        w.launch(f"azpool-{i}", resync)
    for _, port, path in w.ctls:
        w.wait(lambda port=port: w.ctl_get(port, "/readyz")[0] == 200, 30,
               f"{os.path.basename(path)} ready")

    def all_ready():
        w.check_ctls()
        ps = w.pools()
        return all(w.ready(ps.get(n), nrep) for n in names)
    w.wait(all_ready, 120, f"{len(names)} pools ready", step=0.2)
    leaders = [os.path.basename(p) for _, _, p in w.ctls
               if "event=kube.leading" in open(p).read()]
    return time.time() - t0, leaders


def phase_latency(w, names, nrep, edits, mode, figures, tag):
    lat, missing = [], 0
    cur = {n: nrep for n in names}
    w.arm_log()
    kstart = w.req_next()
    for k in range(edits):
        name = names[(k * 7 + len(names) // 2) % len(names)]
        want = nrep + 1 if cur[name] == nrep else nrep
        kseq = w.req_next()
        w.arm_log()
        aseq = w.arm_seq
        if mode == "patch":
            code, _ = w.kube("PATCH", f"{WPS}/{name}", {"spec": {"replicas": want}},
                             "application/merge-patch+json")
            if code != 200:
                raise RuntimeError(f"PATCH {name}: {code}")
        else:
            w.kubectl_apply([pool_obj(name, want)])
        cur[name] = want
        entries, _ = w.requests(kseq)
        acc = [e for e in entries if e["method"] == "PATCH" and not is_ctl(e) and
               e["path"].split("?")[0].endswith(f"/workerpools/{name}") and e["code"] == 200]
        if not acc:
            raise RuntimeError(f"the edit of {name} is not in kubesim's request log")
        t_acc = acc[-1]["doneMicros"] / 1e6
        first = None
        end = time.time() + 10
        while first is None and time.time() < end:
            for e in w.arm_log():
                if (e["seq"] >= aseq and e["principal"] == PRINCIPAL and e["method"] != "GET" and
                        f"/virtualMachineScaleSets/{name}" in e["path"]):
                    first = e
                    break
            if first is None:
                time.sleep(0.01)
        if first is None:
            missing += 1
        else:
            lat.append((arm_time(first["time"]) - t_acc) * 1000.0)
        w.wait(lambda: w.check_ctls() or w.ready(w.pools().get(name), want), 60,
               f"{name} at {want} ready", step=0.05)
        time.sleep(random.uniform(0.05, 0.25))
    if not lat:
        raise RuntimeError("no edit reached ARM")
    entries, _ = w.requests(kstart)
    _, kw = count_writes(entries)
    per_edit = " ".join(f"{k}={v / edits:.2f}" for k, v in sorted(kw.items()))
    p50, p99 = pct(lat, 50), pct(lat, 99)
    figures.append(("latency", tag, p99 < 200 and missing == 0,
                    f"pools={len(names)} edits={edits} edit={mode} measured={len(lat)} "
                    f"no_write={missing} p50_ms={p50:.1f} p99_ms={p99:.1f} min_ms={min(lat):.1f} "
                    f"max_ms={max(lat):.1f} kube_writes_per_edit={sum(kw.values()) / edits:.2f} "
                    f"({per_edit})", "p99<200ms"))


def phase_steady(w, names, nrep, resync, window, figures, tag):
    # quiet: every pool ready, then one resync so the last edit's status write is behind us
    w.wait(lambda: all(w.ready(o, o["spec"]["replicas"]) for o in w.pools().values()), 60,
           "pools ready before the steady window")
    time.sleep(resync + 0.5)
    w.check_ctls()
    kseq = w.req_next()
    w.arm_log()
    r0 = w.reconciles()
    t0 = time.time()
    time.sleep(window)
    r1 = w.reconciles()
    t1 = time.time()
    entries, _ = w.requests(kseq)
    arm = [e for e in w.arm_log() if e["principal"] == PRINCIPAL]
    w.check_ctls()
    mine = [e for e in entries if is_ctl(e)]
    lease = [e for e in mine if e["resource"].startswith("leases")]
    other = [e for e in mine if not e["resource"].startswith("leases")]
    by = {v: 0 for v in VERBS}
    for e in other:
        by[verb_of(e)] = by.get(verb_of(e), 0) + 1
    writes = [e for e in other if verb_of(e) in WRITE_VERBS]
    reads = [e for e in other if verb_of(e) not in WRITE_VERBS]
    noop = [e for e in writes if not e["changed"]]
    rec = r1 - r0
    secs = t1 - t0
    _, stats = w.kube("GET", "/_kubesim/stats")
    nwatch = (stats or {}).get("watches", -1)  # only the controllers watch
    wpr = len(writes) / rec if rec else float("inf")
    rpr = len(reads) / rec if rec else float("inf")
    arm_w = [e for e in arm if e["method"] != "GET"]
    verbs = " ".join(f"{v.lower()}={by[v]}" for v in VERBS)
    figures.append(("steady", tag, rec > 0 and not writes,
                    f"pools={len(names)} resync_s={resync} window_s={secs:.1f} "
                    f"reconciles={rec:.0f} writes={len(writes)} writes_per_reconcile={wpr:.3f} "
                    f"noop_writes={len(noop)} reads={len(reads)} reads_per_reconcile={rpr:.3f} "
                    f"{verbs} arm_writes={len(arm_w)} arm_reads={len(arm) - len(arm_w)} "
                    f"open_watches={nwatch} est_watch_renewals_per_reconcile="
                    f"{(nwatch / 450.0) * secs / rec if rec else float('inf'):.4f}",
                    "writes_per_reconcile=0"))
    lby = {}
    for e in lease:
        lby[verb_of(e)] = lby.get(verb_of(e), 0) + 1
    figures.append(("lease", tag, True,
                    f"window_s={secs:.1f} lease_requests={len(lease)} "
                    f"per_s={len(lease) / secs:.2f} " +
                    " ".join(f"{k.lower()}={v}" for k, v in sorted(lby.items())) +
                    f" lease_writes_changed={sum(1 for e in lease if e['changed'])}",
                    "reported apart (renewals)"))
    notes = []
    groups = {}
    for e in writes:
        key = (e["method"], e["resource"], re.sub(r"\?.*", "", e["path"]))
        g = groups.setdefault(key, [0, 0, set()])
        g[0] += 1
        g[1] += 0 if e["changed"] else 1
        g[2].add(e["code"])
    for (m, res, path), (n, nn, codes) in sorted(groups.items(), key=lambda x: -x[1][0])[:15]:
        notes.append(f"# steady-state write [{tag}]: {m} {path} resource={res} count={n} "
                     f"in {secs:.0f}s noop={nn} codes={sorted(codes)}")
    return notes


def count_writes(entries):
    """The controllers' Kubernetes writes (Lease requests left out): (list, {key: n})."""
    writes = [e for e in entries if is_ctl(e) and verb_of(e) in WRITE_VERBS and
              not e["resource"].startswith("leases")]
    by = {}
    for e in writes:
        k = f"{e['method'].lower()}:{e['resource'].replace('/', '.')}"
        by[k] = by.get(k, 0) + 1
    return writes, by


def phase_degraded(w, resync, window, figures, notes, tag):
    """A pool that cannot converge (its cloud-init Secret does not exist) among the converged
    ones: over the window, are its status, finalizer or Events rewritten on every resync?"""
    name = "kstuck"
    p = pool_obj(name, 1)
    p["spec"]["osProfile"]["customDataSecretRef"] = {"name": "kbench-missing", "key": "user-data"}
    code, _ = w.kube("POST", WPS, p)
    if code != 201:
        raise RuntimeError(f"POST {name}: {code}")

    def settled():
        w.check_ctls()
        o = w.pools()[name]
        st = o.get("status") or {}
        return (st.get("observedGeneration") == o["metadata"]["generation"] and
                "azpool.dev/cleanup" in o["metadata"].get("finalizers", []))
    w.wait(settled, 30, f"{name} status written")
    time.sleep(resync + 0.5)
    kseq = w.req_next()
    w.arm_log()
    rv0 = w.pools()[name]["metadata"]["resourceVersion"]
    r0 = w.reconciles()
    t0 = time.time()
    time.sleep(window)
    r1 = w.reconciles()
    secs = time.time() - t0
    o = w.pools()[name]
    entries, _ = w.requests(kseq)
    arm_w = [e for e in w.arm_log() if e["principal"] == PRINCIPAL and e["method"] != "GET"]
    writes, by = count_writes(entries)
    pool_writes = [e for e in writes if f"/workerpools/{name}" in e["path"]]
    ev = [e for e in writes if e["resource"] == "events"]
    conds = {c.get("type"): f"{c.get('status')}/{c.get('reason')}"
             for c in (o.get("status") or {}).get("conditions", [])}
    rec = r1 - r0
    figures.append(("degraded", tag, not pool_writes and not arm_w,
                    f"pool={name} cause=missing-secret window_s={secs:.1f} reconciles={rec:.0f} "
                    f"writes={len(writes)} pool_object_writes={len(pool_writes)} "
                    f"event_writes={len(ev)} object_rv_moved={'yes' if o['metadata']['resourceVersion'] != rv0 else 'no'} "
                    f"arm_writes={len(arm_w)} ready={conds.get('Ready', '-')} "
                    f"({' '.join(f'{k}={v}' for k, v in sorted(by.items())) or 'none'})",
                    "0 status/finalizer writes; Events deduplicated (kevents.h)"))
    code, evs = w.kube("GET", f"/api/v1/namespaces/{NS}/events?fieldSelector="
                              f"involvedObject.name%3D{name}")
    for x in (evs or {}).get("items", []):
        notes.append(f"# degraded-state Event [{tag}]: {x.get('type')} {x.get('reason')} "
                     f"count={x.get('count')} message={json.dumps(x.get('message', ''))[:200]}")
    notes.append(f"# degraded-state status [{tag}]: " +
                 json.dumps((o.get("status") or {}).get("conditions", []))[:600])
    for e in writes[:10]:
        notes.append(f"# degraded-state write [{tag}]: {e['method']} {e['path']} "
                     f"code={e['code']} changed={e['changed']} time={e['time']}")


def scenario(build, ncontrollers, figures, notes):
    npools = env_int("KBENCH_POOLS", 30)
    nrep = env_int("KBENCH_REPLICAS", 2)
    edits = env_int("KBENCH_EDITS", 30)
    resync = env_int("KBENCH_RESYNC", 5)
    window = env_int("KBENCH_WINDOW", 25)
    mode = os.environ.get("KBENCH_EDIT", "kubectl")
    tag = f"controllers={ncontrollers}"
    names = [pool_name(i) for i in range(npools)]
    w = World(build)
    try:
        took, leaders = phase_converge(w, names, nrep, ncontrollers, resync)
        notes.append(f"# [{tag}] {npools} pools x {nrep} converged in {took:.1f} s; "
                     f"leading: {','.join(leaders) or '-'}")
        if ncontrollers > 1 and len(leaders) != 1:
            raise RuntimeError(f"expected exactly one leader, got {leaders}")
        phase_latency(w, names, nrep, edits, mode, figures, tag)
        notes.extend(phase_steady(w, names, nrep, resync, window, figures, tag))
        if os.environ.get("KBENCH_DEGRADED", "1") != "0":
            phase_degraded(w, resync, window, figures, notes, tag)
    except Exception:
        for _, _, p in w.ctls:
            try:
                notes.append(f"# {os.path.basename(p)} tail:\n# " +
                             open(p).read()[-1500:].replace("\n", "\n# "))
            except OSError:
                pass
        raise
    finally:
        w.close()


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    figures, notes, errors = [], [], []
    for word in os.environ.get("KBENCH_CONTROLLERS", "1 2").split():
        try:
            scenario(build, int(word), figures, notes)
        except Exception as e:  # noqa: BLE001 - a scenario that cannot run is reported
            errors.append(f"controllers={word}:{e!r}")
    missed = []
    for name, tag, ok, text, target in figures:
        if not ok:
            missed.append(f"{name}[{tag}]")
        print(f"bench=kube-{name} {tag} {text} target=\"{target}\" miss={'no' if ok else 'yes'}")
    for n in notes:
        print(n)
    for e in errors:
        print(f"bench=kube error={json.dumps(e)}")
    print(f"bench=kube-summary figures={len(figures)} missed=\"{','.join(missed)}\" "
          f"errors={len(errors)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
