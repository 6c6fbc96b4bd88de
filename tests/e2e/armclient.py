"""armsim and kubesim as the test harnesses' own clients see them (tests/e2e, tests/bench).

ArmClient is a mixin: the class using it sets self.base (armsim's https URL) and self.ctx
(an ssl context trusting armsim's CA), then self.token = self.arm_token(). SETUP_CLIENT is
the client id the harness authenticates as (armsim logs it as the principal, so the
controller's requests, principal "azpool", can be told apart).
"""
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

LOG_PAGE = 1000


def free_port():
    """A loopback TCP port that was free a moment ago (for a simulator or the controller)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def env_int(name, dflt):
    """An integer knob from the environment; dflt when unset or not a number."""
    try:
        return int(os.environ.get(name, dflt))
    except ValueError:
        return dflt


class ArmClient:
    SETUP_CLIENT = "e2e-setup"
    WAIT_STEP = 0.2  # seconds between polls of wait(); benches poll faster

    def wait(self, cond, timeout, what, step=None):
        """Polls cond until it is true; a cond that raises counts as false."""
        step = step or self.WAIT_STEP
        end = time.time() + timeout
        while time.time() < end:
            try:
                if cond():
                    return True
            except Exception:
                pass
            time.sleep(step)
        raise RuntimeError(f"timed out after {timeout} s waiting for {what}")

    def arm_token(self):
        body = urllib.parse.urlencode({
            "client_id": self.SETUP_CLIENT, "client_secret": "x",
            "grant_type": "client_credentials",
            "scope": "https://management.azure.com/.default"}).encode()
        with urllib.request.urlopen(f"{self.base}/tenant-1/oauth2/v2.0/token", body,
                                    context=self.ctx, timeout=10) as r:
            return json.load(r)["access_token"]

    def arm(self, method, path, body=None):
        """(status, parsed body or None); HTTP errors are returned, not raised."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                text = r.read()
                return r.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            return e.code, None

    def log(self, since=0):
        """armsim's request log from sequence number since on (paged)."""
        out = []
        while True:
            with urllib.request.urlopen(
                    f"{self.base}/_armsim/log?since={since}&limit={LOG_PAGE}",
                    context=self.ctx, timeout=10) as r:
                got = json.load(r)["entries"]
            out += got
            if len(got) < LOG_PAGE:
                return out
            since = got[-1]["seq"] + 1

    def writes(self, since=0, principal="azpool"):
        return [e for e in self.log(since) if e["method"] != "GET" and e["principal"] == principal]

    def last_seq(self):
        entries = self.log()
        return entries[-1]["seq"] + 1 if entries else 0


class KubeClient:
    """kubesim as the harnesses' own client sees it: the class using it sets self.kbase
    (kubesim's URL), self.kctx (an ssl context trusting its CA, or None for http) and
    KUBE_TOKEN (the bearer token kubesim was started with)."""
    KUBE_TOKEN = "kubesim-token"

    def kube(self, method, path, body=None, ctype="application/json"):
        """(status, parsed body or None); HTTP errors are returned, not raised. body may be
        a dict (sent as JSON) or a ready string (e.g. a patch)."""
        data = None
        if body is not None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
        req = urllib.request.Request(self.kbase + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.KUBE_TOKEN}", "Content-Type": ctype,
            "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.kctx, timeout=10) as r:
                text = r.read()
                return r.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            return e.code, None
