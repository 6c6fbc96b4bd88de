#!/usr/bin/python3
"""Controller figures of `make bench` (issue 5), against armsim.

Usage: controller_bench.py BUILD_DIR   (run by tests/bench/controller-bench.sh)

Prints one "bench=controller-<name> key=value ... target=..." line per figure, even when the
figure misses its target (then miss=yes and the line names the target missed); a last line
"bench=controller-summary missed=..." lists the missed targets. Exit 0 when every figure was
measured (missed targets are figures, not failures), 1 when a phase could not run.

Phases 1-3 share one armsim and `azpool run --source dir:`, phase 4 has its own pair (free
ports, a temp dir; both processes are always stopped).

1. converge: 100 ScaleSet pools x 10 instances from an empty world (one manifest per pool, all
   present when the controller starts). t0 = controller spawn; t_conv = first moment the
   controller's /api lists every pool with replicas == readyReplicas == 10 (polled every 50 ms).
   Also t_arm = the moment armsim's world is converged (last azpool write + provisioning time).
   Minimum: armsim's configuration (read from /_armsim/config, /_armsim/throttle, /_armsim/time)
   allows the W minimal writes (one PUT per pool) to be issued by
       t_w = max over the buckets a VMSS PUT takes of max(0, (W - size) / refill)   (simulated s)
   (ARM writes per principal, ARM global writes, Compute PutVMScaleSet per subscription; the
   per-resource bucket takes one token per pool), and the last pool's instances are Succeeded
   provisionSeconds later. Reads: at least 3 per pool (the scale set GET answering 404 before
   the write; the GET and the instance list that see it Succeeded), which the ARM read buckets
   allow by t_r = max(0, (3 W - size) / refill) (250/25 per s: 2 s for 100 pools, so not
   binding; the Compute read policies allow far more). So
       min = max(t_w + provisionSeconds, t_r) / scale  real seconds,
   a lower bound: it leaves out the controller's start (~40 ms) and the round trips of the
   last observe. ratio = t_conv / min, target <= 1.25.
2. writes: azpool's non-GET requests in armsim's log during phase 1 / minimal writes (one PUT
   per pool, DESIGN.md §5); target 1.00. Throttled (429) and failed writes count as issued.
3. latency: on the converged world of phase 1, the replicas of one pool (the middle one by
   name, p0050, so the figure is not the best case of the controller's queue order) are edited
   N times (10 -> 11 -> 10 ..., atomic write + rename like git), provisionSeconds set to 1.
   Latency = armsim's log time of the
   first azpool write whose path names that pool - the wall clock just before rename(2). Both
   clocks are CLOCK_REALTIME of this machine (armsim logs with ms resolution). Between edits
   the bench waits until the pool reports the new size ready, then a short random pause.
   p50/p99 (nearest rank); target p99 < 100 ms. Also printed: rename -> first azpool request of
   any kind, and how many requests / distinct scale sets azpool sent before that write.
4. rss: a fresh armsim and controller, 1000 pools x 10 instances; converged = armsim's world
   holds them all Succeeded, then the controller's /api reports each pool ready (one small GET
   per pool: the bench never asks for the 1000-pool list before the figure is read, because
   serving that 4.2 MB list raised VmHWM by ~30 MB while it was built as one json_t tree (now
   ~4 MB, written from each pool's stored text); it is asked once afterwards and
   reported as vmhwm_after_one_api_list_mb). VmHWM (and VmRSS) of the controller from
   /proc/PID/status; target <= 32 MB.

Environment knobs (defaults: about 3.5 minutes on 2 cores; CBENCH_KEEP=1 keeps the temp dir):
  CBENCH_POOLS (100), CBENCH_REPLICAS (10), CBENCH_SCALE (10), CBENCH_PROVISION (30),
  CBENCH_EDITS (30), CBENCH_RSS_POOLS (1000), CBENCH_RSS_SCALE (60).
"""
import json
import os
import random
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
from armclient import env_int, free_port, ArmClient  # noqa: E402

SUB = "00000000-0000-0000-0000-0000000cbe00"
RG = "rg-cbench"
NS = "bench"
SUBNET = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v/subnets/w"
PRINCIPAL = "azpool-bench"


def pool_name(i):
    return f"p{i:04d}"


def pool_yaml(name, replicas):
    return f"""apiVersion: azpool.dev/v1alpha1
kind: WorkerPool
metadata: {{name: {name}, namespace: {NS}}}
spec:
  subscriptionId: {SUB}
  resourceGroup: {RG}
  location: westeurope
  mode: ScaleSet
  vmSize: Standard_D2s_v5
  replicas: {replicas}
  image: {{publisher: Canonical, offer: 0001-com-ubuntu-server-jammy, sku: 22_04-lts-gen2, version: latest}}
  network: {{subnetId: {SUBNET}}}
  osProfile: {{adminUsername: azpool, sshPublicKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2e azpool"]}}
"""


def parse_time(s):
    # armsim: "2026-11-23T15:20:01.123" "0000+00:00" (ms resolution, UTC)
    return datetime.fromisoformat(s[:23] + "+00:00").timestamp()


def pct(values, p):
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))  # nearest rank
    return v[k]


class Bench(ArmClient):
    SETUP_CLIENT = "cbench-setup"
    WAIT_STEP = 0.1

    def __init__(self, build, scale, provision):
        self.build = build
        self.tmp = tempfile.mkdtemp(prefix="azpool-cbench-")
        self.pools = os.path.join(self.tmp, "pools")
        os.makedirs(self.pools)
        self.procs = []
        self.ctl = None
        self.arm_port = free_port()
        self.api_port = free_port()
        simdir = os.path.join(self.tmp, "sim")
        os.makedirs(simdir)
        self.sim_log = open(os.path.join(self.tmp, "armsim.log"), "w")
        self.sim = subprocess.Popen(
            [os.path.join(build, "armsim"), "--port", str(self.arm_port), "--dir", simdir,
             "--time-scale", str(scale), "--provision-seconds", str(provision), "--seed", "5"],
            stdout=self.sim_log, stderr=subprocess.STDOUT)
        self.procs.append(self.sim)
        self.ca = os.path.join(simdir, "ca.pem")
        self.wait(lambda: "armsim listening" in open(self.sim_log.name).read(), 15, "armsim start")
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.base = f"https://127.0.0.1:{self.arm_port}"
        self.token = self.arm_token()
        code, _ = self.arm("PUT", f"/subscriptions/{SUB}/resourcegroups/{RG}?api-version=2021-04-01",
                           {"location": "westeurope"})
        if code not in (200, 201):
            raise RuntimeError(f"resource group PUT returned {code}")
        self.log_seq = 0
        self.entries = []

    def admin(self, what, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base}/_armsim/{what}", data=data,
                                     method="POST" if data else "GET")
        with urllib.request.urlopen(req, context=self.ctx) as r:
            return json.load(r)

    def pull_log(self):
        """Appends armsim's new log entries to self.entries (the ring holds 20,000; pulled
        often enough that none is lost, which is checked through the sequence numbers)."""
        data = self.admin(f"log?since={self.log_seq}")
        new = data["entries"]
        if new and new[0]["seq"] != self.log_seq:
            raise RuntimeError(f"armsim log ring overflowed: wanted seq {self.log_seq}, "
                               f"got {new[0]['seq']}")
        self.entries.extend(new)
        if new:
            self.log_seq = new[-1]["seq"] + 1
        return new

    def start_ctl(self):
        env = dict(os.environ, AZURE_TENANT_ID="tenant-1", AZURE_CLIENT_ID=PRINCIPAL,
                   AZURE_CLIENT_SECRET="cbench-secret", AZURE_AUTHORITY_HOST=self.base)
        self.ctl_log = open(os.path.join(self.tmp, "azpool.log"), "a")
        t0 = time.time()
        self.ctl = subprocess.Popen(
            [os.path.join(self.build, "azpool"), "run", "--source", "dir:" + self.pools,
             "--arm-endpoint", self.base, "--ca-file", self.ca,
             "--listen", f"127.0.0.1:{self.api_port}"],
            stdout=self.ctl_log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(self.ctl)
        return t0

    def api(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}{path}", timeout=5) as r:
            return json.load(r)

    def pool_states(self):
        items = self.api(f"/api/v1/namespaces/{NS}/workerpools")["items"]
        return {p["metadata"]["name"]: p.get("status") or {} for p in items}

    def check_ctl(self):
        """Fails fast when the controller died or rejected a bench manifest."""
        if self.ctl.poll() is not None:
            raise RuntimeError(f"azpool exited with {self.ctl.returncode}")
        with open(self.ctl_log.name, "rb") as f:
            f.seek(getattr(self, "log_off", 0))
            text = f.read()
            self.log_off = f.tell() - 100 if len(text) > 100 else getattr(self, "log_off", 0)
            if b"event=source.invalid" in text:
                raise RuntimeError("azpool rejected a bench manifest (see its log)")

    def all_ready(self, names, n):
        self.check_ctl()
        st = self.pool_states()
        return all(st.get(x, {}).get("readyReplicas") == n and st.get(x, {}).get("replicas") == n
                   for x in names)

    def write(self, name, text):
        path = os.path.join(self.pools, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        t = time.time()
        os.rename(path + ".tmp", path)  # atomic, like git checkout
        return t

    def status(self, field):
        with open(f"/proc/{self.ctl.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])  # kB
        return -1

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if os.environ.get("CBENCH_KEEP"):
            print(f"# kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def azpool_writes(entries):
    return [e for e in entries if e["principal"] == PRINCIPAL and e["method"] != "GET"]


def minimum_seconds(b, writes):
    """Real seconds armsim's configuration needs at least for `writes` VMSS PUTs (one per
    pool, each on its own scale set) plus provisioning, and for the 3 reads per pool that
    precede and follow them; returns (seconds, explanation)."""
    cfg = b.admin("config")
    thr = b.admin("throttle")
    scale = b.admin("time")["scale"]
    prov = cfg["provisionSeconds"]
    t_w, why, t_r = 0.0, "none", 0.0
    if thr.get("enabled", True):
        rd = thr["reads"]
        mult = thr.get("globalMultiplier", 15)
        for size, refill in ((rd["size"], rd["refill"]), (rd["size"] * mult, rd["refill"] * mult)):
            if refill > 0:
                t_r = max(t_r, (3 * writes - size) / refill)
        w = thr["writes"]
        mult = thr.get("globalMultiplier", 15)
        put = thr["compute"]["PutVMScaleSet"]["subscription"]  # [perMin, cap]
        buckets = [("arm-writes", w["size"], w["refill"]),
                   ("arm-global-writes", w["size"] * mult, w["refill"] * mult),
                   ("compute-PutVMScaleSet-sub", put[1], put[0] / 60.0)]
        for name, size, refill in buckets:
            t = max(0.0, (writes - size) / refill) if refill > 0 else 0.0
            if t > t_w:
                t_w, why = t, name
    if t_r > t_w + prov:
        why += ",reads"
    return max(t_w + prov, t_r) / scale, (f"provision={prov}s_sim scale={scale} "
                                          f"write_wait={t_w:.1f}s_sim read_wait={t_r:.1f}s_sim "
                                          f"write_bucket={why}")


def phase_converge(b, npools, nrep, figures):
    names = [pool_name(i) for i in range(npools)]
    for n in names:
        b.write(n + ".yaml", pool_yaml(n, nrep))
    t0 = b.start_ctl()
    t_ready = t_first = None
    deadline = t0 + 240
    last_pull = 0.0
    while time.time() < deadline:
        now = time.time()
        if now - last_pull > 0.5:
            b.pull_log()
            last_pull = now
        try:
            if t_ready is None:
                with urllib.request.urlopen(f"http://127.0.0.1:{b.api_port}/readyz",
                                            timeout=2) as r:
                    if r.status == 200:
                        t_ready = time.time()
        except (OSError, ValueError):
            pass
        try:
            if b.all_ready(names, nrep):
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    else:
        raise RuntimeError("100 pools did not converge within 240 s")
    t_conv = time.time() - t0
    b.pull_log()
    wr = azpool_writes(b.entries)
    if wr:
        t_first = parse_time(wr[0]["time"]) - t0
    mn, why = minimum_seconds(b, npools)
    prov_real = b.admin("config")["provisionSeconds"] / b.admin("time")["scale"]
    t_arm = (parse_time(wr[-1]["time"]) - t0 + prov_real) if wr else float("nan")
    ratio = t_conv / mn
    figures.append(("converge", ratio <= 1.25,
                    f"pools={npools} replicas={nrep} seconds={t_conv:.2f} min_seconds={mn:.2f} "
                    f"ratio={ratio:.2f} first_write_s={t_first if t_first is None else round(t_first, 2)} "
                    f"arm_converged_s={t_arm:.2f} {why}", "ratio<=1.25"))
    puts = [e for e in wr if e["method"] == "PUT"]
    thr = [e for e in wr if e["status"] == 429]
    reads = [e for e in b.entries if e["principal"] == PRINCIPAL and e["method"] == "GET"]
    rthr = [e for e in reads if e["status"] == 429]
    last_w = (parse_time(wr[-1]["time"]) - t0) if wr else float("nan")
    ratio_w = len(wr) / npools
    figures.append(("writes", abs(ratio_w - 1.0) < 1e-9,
                    f"writes={len(wr)} minimal={npools} ratio={ratio_w:.2f} puts={len(puts)} "
                    f"throttled={len(thr)} last_write_s={last_w:.2f} reads={len(reads)} "
                    f"reads_throttled={len(rthr)}", "ratio=1.00"))
    return names


def phase_latency(b, name, nrep, edits, figures):
    lat, first_req, reqs_before, pools_before = [], [], [], []
    missing = 0
    for k in range(edits):
        want = nrep + 1 if k % 2 == 0 else nrep
        b.pull_log()
        seq = b.log_seq
        t = b.write(name + ".yaml", pool_yaml(name, want))
        first = None
        seen = []  # azpool's requests since the rename, up to the first write
        end = time.time() + 10
        while first is None and time.time() < end:
            time.sleep(0.02)
            for e in b.pull_log():
                if e["seq"] < seq or e["principal"] != PRINCIPAL:
                    continue
                seen.append(e)
                if e["method"] != "GET" and f"/virtualMachineScaleSets/{name}" in e["path"]:
                    first = e
                    break
        if first is None:
            missing += 1
        else:
            lat.append((parse_time(first["time"]) - t) * 1000.0)
            first_req.append((parse_time(seen[0]["time"]) - t) * 1000.0)
            reqs_before.append(len(seen) - 1)
            pools_before.append(len({e["path"].split("/virtualMachineScaleSets/")[1].split("/")[0]
                                     for e in seen if "/virtualMachineScaleSets/" in e["path"]}))
        b.wait(lambda: b.all_ready([name], want), 60, f"{name} at {want} ready", step=0.05)
        time.sleep(random.uniform(0.05, 0.25))
    if not lat:
        raise RuntimeError("no edit reached ARM")
    p50, p99 = pct(lat, 50), pct(lat, 99)
    figures.append(("latency", p99 < 100 and missing == 0,
                    f"edits={edits} measured={len(lat)} no_write={missing} p50_ms={p50:.0f} "
                    f"p99_ms={p99:.0f} min_ms={min(lat):.0f} max_ms={max(lat):.0f} "
                    f"first_request_p50_ms={pct(first_req, 50):.0f} "
                    f"first_request_p99_ms={pct(first_req, 99):.0f} "
                    f"requests_before_write_p50={pct(reqs_before, 50)} "
                    f"requests_before_write_max={max(reqs_before)} "
                    f"scalesets_read_before_write_max={max(pools_before)} pool={name}",
                    "p99<100ms"))


def arm_converged(b, npools, nrep):
    """armsim's world (paged list) holds npools scale sets, all Succeeded at nrep."""
    path = (f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/"
            "virtualMachineScaleSets?api-version=2024-11-01")
    got = []
    while path:
        code, body = b.arm("GET", path)
        if code != 200:
            return False
        got += body["value"]
        nl = body.get("nextLink")
        path = nl[len(b.base):] if nl else None
    return len(got) == npools and all(
        x["properties"].get("provisioningState") == "Succeeded" and x["sku"]["capacity"] == nrep
        for x in got)


def pools_ready_one_by_one(b, names, nrep):
    """The controller's view, one small /api GET per pool (a list of 1000 pools is a 4.2 MB
    body; see phase 4 in the module comment)."""
    b.check_ctl()
    for n in names:
        st = b.api(f"/api/v1/namespaces/{NS}/workerpools/{n}").get("status") or {}
        if st.get("readyReplicas") != nrep or st.get("replicas") != nrep:
            return False
    return True


def phase_rss(build, npools, nrep, scale, figures):
    b = Bench(build, scale, 30)
    try:
        names = [pool_name(i) for i in range(npools)]
        for n in names:
            b.write(n + ".yaml", pool_yaml(n, nrep))
        t0 = b.start_ctl()
        b.wait(lambda: urllib.request.urlopen(f"http://127.0.0.1:{b.api_port}/readyz",
                                              timeout=2).status == 200, 30, "azpool ready")
        hwm_ready = b.status("VmHWM")
        # converged: first armsim's world (cheap to poll), then the controller's status
        b.wait(lambda: b.check_ctl() or arm_converged(b, npools, nrep), 240,
               f"{npools} scale sets Succeeded in armsim", step=2)
        b.wait(lambda: pools_ready_one_by_one(b, names, nrep), 60,
               f"azpool reporting {npools} pools ready", step=1)
        t_conv = time.time() - t0
        hwm, rss = b.status("VmHWM"), b.status("VmRSS")
        mn, why = minimum_seconds(b, npools)
        n429 = b.admin("counters").get("status", {}).get("429", 0)
        with urllib.request.urlopen(f"http://127.0.0.1:{b.api_port}/api/v1/namespaces/{NS}/"
                                    "workerpools", timeout=30) as r:
            list_bytes = len(r.read())
        hwm_list = b.status("VmHWM")
        figures.append(("rss", 0 < hwm <= 32 * 1024,
                        f"pools={npools} replicas={nrep} vmhwm_mb={hwm / 1024:.1f} "
                        f"vmrss_mb={rss / 1024:.1f} vmhwm_at_readyz_mb={hwm_ready / 1024:.1f} "
                        f"vmhwm_after_one_api_list_mb={hwm_list / 1024:.1f} "
                        f"api_list_bytes={list_bytes} converge_s={t_conv:.1f} converge_min_s={mn:.2f} "
                        f"armsim_429={n429} {why}", "VmHWM<=32MB"))
    finally:
        b.close()


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    npools = env_int("CBENCH_POOLS", 100)
    nrep = env_int("CBENCH_REPLICAS", 10)
    scale = env_int("CBENCH_SCALE", 10)
    prov = env_int("CBENCH_PROVISION", 30)
    edits = env_int("CBENCH_EDITS", 30)
    figures = []
    errors = []
    b = None
    try:
        b = Bench(build, scale, prov)
        names = phase_converge(b, npools, nrep, figures)
        # latency: instance provisioning made quick so the edits are not waiting on it
        b.admin("config", {"provisionSeconds": 1})
        phase_latency(b, names[len(names) // 2], nrep, edits, figures)
    except Exception as e:  # noqa: BLE001 - a phase that cannot run is reported, never hidden
        errors.append(f"phase1-3:{e!r}")
        if b:
            try:
                print("# azpool log tail:\n# " +
                      open(b.ctl_log.name).read()[-1500:].replace("\n", "\n# "))
            except (OSError, AttributeError):
                pass
    finally:
        if b:
            b.close()
    try:
        phase_rss(build, env_int("CBENCH_RSS_POOLS", 1000), nrep, env_int("CBENCH_RSS_SCALE", 60),
                  figures)
    except Exception as e:  # noqa: BLE001
        errors.append(f"rss:{e!r}")
    missed = []
    for name, ok, text, target in figures:
        if not ok:
            missed.append(name)
        print(f"bench=controller-{name} {text} target=\"{target}\" miss={'no' if ok else 'yes'}")
    for e in errors:
        print(f"bench=controller error={json.dumps(e)}")
    print(f"bench=controller-summary figures={len(figures)} missed=\"{','.join(missed)}\" "
          f"errors={len(errors)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
