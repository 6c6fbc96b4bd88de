#!/usr/bin/python3
"""Seeds armsim with what manifests/examples/ expect to exist before Azpool
runs: resource groups, the gallery image versions the pools use, and the
Automation account (with its validation runbook) of the Hybrid Runbook Worker
pool. Azpool never creates these itself: they are the operator's.

Usage: demo_seed.py ARM_BASE_URL CA_FILE
"""
import json
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SUB = "11111111-2222-3333-4444-555555555555"
LOC = "westeurope"
base, ca = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)


def token():
    body = urllib.parse.urlencode({
        "client_id": "demo-seed", "client_secret": "x", "grant_type": "client_credentials",
        "scope": "https://management.azure.com/.default"}).encode()
    with urllib.request.urlopen(f"{base}/tenant-1/oauth2/v2.0/token", body, context=ctx) as r:
        return json.load(r)["access_token"]


TOKEN = token()


def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + TOKEN,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            text = r.read()
            return r.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        return e.code, None


def put(path, api, body):
    code, _ = call("PUT", f"{path}?api-version={api}", body)
    if code not in (200, 201, 202):
        sys.exit(f"demo_seed: PUT {path} failed with HTTP {code}")
    for _ in range(300):  # follow provisioning (simulated time runs fast)
        code, res = call("GET", f"{path}?api-version={api}")
        state = ((res or {}).get("properties") or {}).get("provisioningState", "Succeeded")
        if code == 200 and state.lower() == "succeeded":
            return
        time.sleep(0.1)
    sys.exit(f"demo_seed: {path} did not finish provisioning")


for rg in ("rg-workers", "rg-images", "rg-automation", "rg-network"):
    put(f"/subscriptions/{SUB}/resourcegroups/{rg}", "2021-04-01", {"location": LOC})

G = f"/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.Compute/galleries"
for gallery, image, versions in (("gal_ci", "github-runner-ubuntu-2204", ["2.311.0"]),
                                 ("gal_golden", "hybrid-worker-ubuntu-2204", ["1.4.0"]),
                                 ("gal_build", "ado-agent-ubuntu-2204", ["1.0.0", "1.1.0"])):
    put(f"{G}/{gallery}", "2022-03-03", {"location": LOC})
    put(f"{G}/{gallery}/images/{image}", "2022-03-03", {
        "location": LOC, "properties": {
            "osType": "Linux", "osState": "Generalized", "hyperVGeneration": "V2",
            "identifier": {"publisher": "azpool-demo", "offer": gallery, "sku": image}}})
    for v in versions:
        put(f"{G}/{gallery}/images/{image}/versions/{v}", "2022-03-03", {
            "location": LOC, "properties": {
                "publishingProfile": {"excludeFromLatest": False},
                "storageProfile": {"source": {"id": f"/subscriptions/{SUB}/resourceGroups/"
                                              "rg-images/providers/Microsoft.Compute/images/base"}}}})

AA = (f"/subscriptions/{SUB}/resourceGroups/rg-automation/providers/"
      "Microsoft.Automation/automationAccounts/aa-ops")
put(AA, "2022-08-08", {"location": LOC, "properties": {"sku": {"name": "Basic"}}})
code, _ = call("PUT", f"{AA}/runbooks/Validate-Worker?api-version=2022-08-08", {
    "location": LOC, "properties": {"runbookType": "PowerShell", "logProgress": False,
                                    "logVerbose": False}})
print(f"demo_seed: world ready (runbook PUT {code})")
