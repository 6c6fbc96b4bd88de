#!/usr/bin/python3
"""crd_agree.py - proves the CRD schemas (crds/*.yaml) and the core validator agree.
Run by suite-crd.sh; prints "ok"/"FAIL"/"skip" lines and "N passed, N failed" last.

    crd_agree.py [--crds DIR] [--examples DIR] [--invalid DIR] [--validator CMD]

--validator is the core's validator command line, called as `CMD FILE` and expected to exit
0 for a valid file and 1 for an invalid one (default "$BUILD/azpool validate"); empty means
"not available": those checks are skipped and reported.

Checks:
  1. the CRDs are structural and sound (crdcheck.structural_errors);
  2. the small CEL evaluator behaves like CEL on the shapes the CRDs use;
  3. every manifest in the examples directory is accepted by the CRD schema and by the core;
  4. every case in tests/cases/invalid is rejected by the CRD schema, at the field each
     `# expect: LINE:COL: PATH: MESSAGE` line names (the same path, or for a cross-field CEL
     rule an enclosing object), and by the core; except the cases in NOT_EXPRESSIBLE, whose
     stated reason is itself verified (a YAML-level case must fail in the YAML reader, a
     cross-document case must pass the schema object by object);
  5. mutations of the examples (MUTATIONS: one or more field changes each) get the same
     verdict from the CRD schema and the core, valid variants included, so neither side is
     stricter than the other; KNOWN_DIVERGENCES lists, with the reason, the few mutations on
     which they are known to differ, and checks that they still differ in the stated way;
     300 random mutations (fixed seed) must agree too, except for the explained classes
     (cross-document references, label syntax);
  6. every CEL rule of the CRDs rejects at least one of the cases above (no dead rules);
  7. every (rule, value) evaluated above gives the same answer in @bufbuild/cel, a CEL
     implementation that passes the cel-spec conformance tests (tests/conformance/
     cel_ref.mjs under node; skipped with a message when node or the module is missing), so
     the rules are real CEL and crdcheck.py's small evaluator does not flatter them.
"""
import copy
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crdcheck  # noqa: E402

# Invalid cases a CRD schema cannot reject by itself, and why. The kind decides how the
# claim is verified: "yaml" -> the YAML reader must refuse the file; "crossdoc" -> every
# object must pass the schema on its own; "limit" -> the core's input limit is not a
# schema rule (the schema's verdict is reported, not required).
NOT_EXPRESSIBLE = {
    "016-dangling-imageref.yaml": (
        "crossdoc", "imageRef must name an ImageVersion of the same namespace: a reference "
        "across objects, which a schema of one object cannot see (in Kubernetes mode the "
        "controller reports it on the pool's status)"),
    "017-dangling-expirypolicy-ref.yaml": (
        "crossdoc", "expiryPolicyRef must name an existing ExpiryPolicy: a reference across "
        "objects"),
    "018-duplicate-names.yaml": (
        "crossdoc", "the same kind/namespace/name twice: the API server answers 409 "
        "AlreadyExists, a uniqueness rule outside any schema"),
    "019-yaml-syntax-error.yaml": (
        "yaml", "YAML syntax error: the document never reaches a schema"),
    "020-duplicate-keys.yaml": (
        "yaml", "duplicate mapping keys are refused by the YAML/JSON decoder (kubectl's strict "
        "decoding), before any schema"),
    "045-yaml-alias-refused.yaml": (
        "yaml", "YAML aliases are expanded or refused by the YAML reader; the schema only "
        "sees the result"),
    "058-bad-explicit-tag.yaml": (
        "yaml", "an explicit tag that does not fit its value (!!int three) fails in the YAML "
        "reader"),
    "061-too-deep-document.yaml": (
        "limit", "nesting deeper than the core's limit (64 levels) is an input limit of the "
        "reader, not a schema rule (the schema happens to reject this file for its unknown "
        "top-level field)"),
}

EX_RUNNERS = "github-runners.yaml"
EX_HRW = "hybrid-workers.yaml"
EX_ADO = "ado-agents.yaml"
DEL = object()
SUB = "11111111-2222-3333-4444-555555555555"
UAI = ("/subscriptions/%s/resourceGroups/rg-workers/providers/Microsoft.ManagedIdentity/"
       "userAssignedIdentities/id-x" % SUB)

# (name, example file, document index, {path: value or DEL}, expected verdict of both sides)
# A path is dotted; [n] indexes a list; a key with dots is written in {braces}; "@N:path"
# changes document N of the same file. Verdict "crossdoc": the schema accepts each object,
# the core rejects the file for a reference across documents.
MUTATIONS = [
    # --- WorkerPool (github-runners: ScaleSet, UserAssigned identity, Proportional) ---
    ("replicas-with-autoscale", EX_RUNNERS, 0, {"spec.replicas": 2}, "accept"),
    ("replicas-above-max", EX_RUNNERS, 0, {"spec.replicas": 1001}, "reject"),
    ("replicas-null-is-absent", EX_RUNNERS, 0, {"spec.replicas": None}, "accept"),
    ("surge-100-percent", EX_RUNNERS, 0, {"spec.rollout.maxSurge": "100%"}, "accept"),
    ("surge-leading-zeros", EX_RUNNERS, 0, {"spec.rollout.maxSurge": "007%"}, "accept"),
    ("surge-decimal-string", EX_RUNNERS, 0, {"spec.rollout.maxSurge": "3"}, "reject"),
    ("surge-too-large", EX_RUNNERS, 0, {"spec.rollout.maxSurge": 1000001}, "reject"),
    ("surge-0-unavailable-percent", EX_RUNNERS, 0,
     {"spec.rollout.maxSurge": 0, "spec.rollout.maxUnavailable": "10%"}, "accept"),
    ("surge-0-percent-unavailable-0", EX_RUNNERS, 0,
     {"spec.rollout.maxSurge": "0%", "spec.rollout.maxUnavailable": 0}, "reject"),
    ("surge-0-unavailable-default", EX_RUNNERS, 0,
     {"spec.rollout": {"maxSurge": 0}}, "reject"),
    ("rollout-empty-defaults", EX_RUNNERS, 0, {"spec.rollout": {}}, "accept"),
    ("canary-defaults", EX_RUNNERS, 0, {"spec.rollout.canary": {}}, "accept"),
    ("canary-soak-too-long", EX_RUNNERS, 0, {"spec.rollout.canary": {"soakSeconds": 86401}},
     "reject"),
    ("drain-too-long", EX_RUNNERS, 0, {"spec.drain.timeoutSeconds": 604801}, "reject"),
    ("identity-system-and-user", EX_RUNNERS, 0,
     {"spec.identity.type": "SystemAssigned, UserAssigned"}, "accept"),
    ("identity-system-with-list", EX_RUNNERS, 0, {"spec.identity.type": "SystemAssigned"},
     "reject"),
    ("identity-type-missing", EX_RUNNERS, 0, {"spec.identity": {}}, "reject"),
    ("identity-id-lowercase", EX_RUNNERS, 0,
     {"spec.identity.userAssignedIdentities": [UAI.lower()]}, "accept"),
    ("identity-id-wrong-type", EX_RUNNERS, 0,
     {"spec.identity.userAssignedIdentities": [UAI.replace("userAssignedIdentities",
                                                           "identities")]}, "reject"),
    ("policy-step-with-proportional", EX_RUNNERS, 0, {"spec.autoscale.policy": "Step"},
     "reject"),
    ("policy-default-with-proportional", EX_RUNNERS, 0, {"spec.autoscale.policy": DEL},
     "reject"),
    ("autoscale-min-default", EX_RUNNERS, 0, {"spec.autoscale.minReplicas": DEL}, "accept"),
    ("autoscale-max-missing", EX_RUNNERS, 0, {"spec.autoscale.maxReplicas": DEL}, "reject"),
    ("proportional-defaults", EX_RUNNERS, 0, {"spec.autoscale.proportional": {}}, "accept"),
    ("proportional-jobs-too-many", EX_RUNNERS, 0,
     {"spec.autoscale.proportional.jobsPerReplica": 1001}, "reject"),
    ("metric-two-kinds", EX_RUNNERS, 0,
     {"spec.autoscale.metric.http": {"url": "https://ci.example/api"}}, "reject"),
    ("metric-tag-not-allowed", EX_RUNNERS, 0, {"spec.autoscale.metric.azureQueue": DEL,
                                               "spec.autoscale.metric.tag": {}}, "reject"),
    ("busy-none", EX_RUNNERS, 0, {"spec.busy": {}}, "reject"),
    ("busy-tag", EX_RUNNERS, 0, {"spec.busy": {"tag": {}}}, "accept"),
    ("busy-tag-with-field", EX_RUNNERS, 0, {"spec.busy": {"tag": {"name": "x"}}}, "reject"),
    ("busy-poll-zero", EX_RUNNERS, 0, {"spec.busy.pollSeconds": 0}, "reject"),
    ("queue-url-http", EX_RUNNERS, 0,
     {"spec.busy.azureQueue.accountUrl": "http://acct.queue.core.windows.net"}, "reject"),
    ("queue-url-http-emulator", EX_RUNNERS, 0,
     {"spec.busy.azureQueue.accountUrl": "http://127.0.0.1:10001/devstoreaccount1"}, "accept"),
    ("queue-url-http-localhost", EX_RUNNERS, 0,
     {"spec.autoscale.metric.azureQueue.accountUrl": "http://localhost/devstoreaccount1"},
     "accept"),
    ("queue-url-http-loopback-lookalike", EX_RUNNERS, 0,
     {"spec.busy.azureQueue.accountUrl": "http://127.0.0.1.evil.example/x"}, "reject"),
    ("queue-url-http-port-empty", EX_RUNNERS, 0,
     {"spec.busy.azureQueue.accountUrl": "http://localhost:/x"}, "reject"),
    ("queue-url-with-path", EX_RUNNERS, 0,
     {"spec.busy.azureQueue.accountUrl": "https://127.0.0.1:10001/devstoreaccount1"},
     "accept"),
    ("queue-url-no-host", EX_RUNNERS, 0, {"spec.busy.azureQueue.accountUrl": "https:///x"},
     "reject"),
    ("queue-name-short", EX_RUNNERS, 0, {"spec.busy.azureQueue.queue": "ab"}, "reject"),
    ("secret-key-dotdot", EX_RUNNERS, 0,
     {"spec.busy.azureQueue.credentialsSecretRef": {"name": "q", "key": ".."}}, "reject"),
    ("secret-key-three-dots", EX_RUNNERS, 0,
     {"spec.busy.azureQueue.credentialsSecretRef": {"name": "q", "key": "..."}}, "accept"),
    ("secret-name-uppercase", EX_RUNNERS, 0,
     {"spec.busy.azureQueue.credentialsSecretRef": {"name": "Q", "key": "k"}}, "reject"),
    ("secret-unknown-field", EX_RUNNERS, 0,
     {"spec.osProfile.customDataSecretRef.value": "s3cret"}, "reject"),
    ("tag-reserved-any-case", EX_RUNNERS, 0, {"spec.tags.{AzPool.x}": "v"}, "reject"),
    ("tag-backslash", EX_RUNNERS, 0, {"spec.tags.{a\\b}": "v"}, "reject"),
    ("tag-with-space", EX_RUNNERS, 0, {"spec.tags.{cost center}": "v"}, "accept"),
    ("tag-value-too-long", EX_RUNNERS, 0, {"spec.tags.app": "x" * 257}, "reject"),
    ("tags-39", EX_RUNNERS, 0, {"spec.tags": {"t%d" % i: "v" for i in range(39)}}, "accept"),
    ("tags-40", EX_RUNNERS, 0, {"spec.tags": {"t%d" % i: "v" for i in range(40)}}, "reject"),
    ("tags-differ-in-case", EX_RUNNERS, 0, {"spec.tags": {"Team": "a", "tEAM": "b"}},
     "reject"),
    ("tags-differ-beyond-ascii-case", EX_RUNNERS, 0, {"spec.tags": {"Ä": "a", "ä": "b"}},
     "accept"),
    ("admin-trailing-dot", EX_RUNNERS, 0, {"spec.osProfile.adminUsername": "azpool."},
     "reject"),
    ("admin-with-dot", EX_RUNNERS, 0, {"spec.osProfile.adminUsername": "svc.azpool"},
     "accept"),
    ("admin-reserved-any-case", EX_RUNNERS, 0, {"spec.osProfile.adminUsername": "ADMIN"},
     "reject"),
    ("admin-65", EX_RUNNERS, 0, {"spec.osProfile.adminUsername": "a" * 65}, "reject"),
    ("windows-pool", EX_RUNNERS, 0,
     {"spec.osProfile.osType": "Windows", "spec.osProfile.sshPublicKeys": DEL,
      "spec.patchMode": "AutomaticByOS"}, "accept"),
    ("windows-patch-imagedefault", EX_RUNNERS, 0,
     {"spec.osProfile.osType": "Windows", "spec.osProfile.sshPublicKeys": DEL,
      "spec.patchMode": "ImageDefault"}, "reject"),
    ("linux-patch-automaticbyos", EX_RUNNERS, 0, {"spec.patchMode": "AutomaticByOS"},
     "reject"),
    ("linux-patch-imagedefault", EX_RUNNERS, 0, {"spec.patchMode": "ImageDefault"}, "accept"),
    ("ssh-key-dss", EX_RUNNERS, 0, {"spec.osProfile.sshPublicKeys": ["ssh-dss AAAA"]},
     "reject"),
    ("location-space", EX_RUNNERS, 0, {"spec.location": "westeurope "}, "reject"),
    ("pool-name-dotted", EX_RUNNERS, 0, {"metadata.name": "a.b"}, "reject"),
    ("pool-namespace-bad", EX_RUNNERS, 0, {"metadata.namespace": "CI"}, "reject"),
    ("metadata-unknown-field", EX_RUNNERS, 0, {"metadata.colour": "blue"}, "reject"),
    ("orchestration-flexible", EX_RUNNERS, 0, {"spec.orchestration": "Flexible"}, "accept"),
    ("marketplace-image", EX_RUNNERS, 0,
     {"spec.image": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}},
     "accept"),
    ("marketplace-image-version", EX_RUNNERS, 0,
     {"spec.image": {"publisher": "Canonical", "offer": "o", "sku": "s", "version": "1.2"}},
     "accept"),
    ("marketplace-image-bad-version", EX_RUNNERS, 0,
     {"spec.image": {"publisher": "Canonical", "offer": "o", "sku": "s", "version": "v1"}},
     "reject"),
    ("marketplace-image-no-sku", EX_RUNNERS, 0,
     {"spec.image": {"publisher": "Canonical", "offer": "o"}}, "reject"),
    ("managed-image-id", EX_RUNNERS, 0,
     {"spec.image.id": "/subscriptions/%s/resourceGroups/rg-images/providers/"
      "Microsoft.Compute/images/golden" % SUB}, "accept"),
    ("gallery-definition-id", EX_RUNNERS, 0,
     {"spec.image.id": "/subscriptions/%s/resourcegroups/rg-images/providers/"
      "microsoft.compute/galleries/g/images/d" % SUB}, "accept"),
    ("gallery-id-not-image", EX_RUNNERS, 0,
     {"spec.image.id": "/subscriptions/%s/resourceGroups/rg-images/providers/"
      "Microsoft.Compute/galleries/g" % SUB}, "reject"),
    ("subnet-id-double-slash", EX_RUNNERS, 0,
     {"spec.network.subnetId": "/subscriptions/%s/resourceGroups/rg//providers/"
      "Microsoft.Network/virtualNetworks/v/subnets/s" % SUB}, "reject"),
    ("subnet-id-rg-trailing-dot", EX_RUNNERS, 0,
     {"spec.network.subnetId": "/subscriptions/%s/resourceGroups/rg./providers/"
      "Microsoft.Network/virtualNetworks/v/subnets/s" % SUB}, "reject"),
    ("network-missing", EX_RUNNERS, 0, {"spec.network": DEL}, "reject"),
    ("subscription-uppercase", EX_RUNNERS, 0,
     {"spec.subscriptionId": "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"}, "accept"),
    ("subscription-bad-hex", EX_RUNNERS, 0,
     {"spec.subscriptionId": "11111111-2222-3333-4444-55555555555g"}, "reject"),
    ("rg-91", EX_RUNNERS, 0, {"spec.resourceGroup": "r" * 91}, "reject"),
    ("rg-punctuation", EX_RUNNERS, 0, {"spec.resourceGroup": "rg(1)_x-y.z"}, "accept"),
    ("vmsize-hyphen", EX_RUNNERS, 0, {"spec.vmSize": "Standard-D2"}, "reject"),
    ("string-too-long", EX_RUNNERS, 0,
     {"spec.image": {"publisher": "p" * 1025, "offer": "o", "sku": "s"}}, "reject"),
    ("required-string-empty", EX_RUNNERS, 0,
     {"spec.image": {"publisher": "", "offer": "o", "sku": "s"}}, "reject"),
    ("hooks-empty-aftercreate", EX_RUNNERS, 0, {"spec.hooks": {"afterCreate": {}}}, "accept"),
    ("paused-true", EX_RUNNERS, 0, {"spec.paused": True}, "accept"),
    ("paused-string", EX_RUNNERS, 0, {"spec.paused": "true"}, "reject"),
    ("status-is-not-spec", EX_RUNNERS, 0, {"status": {"replicas": 3}}, "accept"),
    ("status-design-example", EX_RUNNERS, 0, {"status": {
        "observedGeneration": 4, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 2,
        "expiringReplicas": 1, "desiredReplicas": 3,
        "selector": "azpool.dev/pool=github-runners",
        "currentImage": "/subscriptions/%s/resourceGroups/rg-images/providers/Microsoft.Compute/"
                        "galleries/g/images/d/versions/1.4.0" % SUB,
        "targetImage": "/subscriptions/%s/resourceGroups/rg-images/providers/Microsoft.Compute/"
                       "galleries/g/images/d/versions/1.5.0" % SUB,
        "lastScaleTime": "2026-11-23T10:00:00Z",
        "instances": [{"name": "github-runners_%d" % i, "id": str(i), "image": "1.4.0",
                       "createdAt": "2026-11-20T10:00:00Z", "expiresAt": "2026-11-27T10:00:00Z",
                       "state": st, "busy": i == 2, "reason": ""}
                      for i, st in enumerate(("Provisioning", "Registering", "Ready", "Draining",
                                              "Deleting", "Failed"))],
        "conditions": [{"type": t, "status": "False", "reason": "RollingOut",
                        "message": "2/3 on 1.5.0; waiting for canary soak (412s left)",
                        "observedGeneration": 4, "lastTransitionTime": "2026-11-23T10:00:00Z"}
                       for t in ("Ready", "Progressing", "Degraded", "Stalled")],
        "plan": {"pending": 2, "summary": "surge 1, delete 1 (expired)"}}}, "accept"),
    ("status-controller-shape", EX_RUNNERS, 0, {"status": {
        # what controller/ctl_run.c status_json() writes (empty reason before the first plan)
        "replicas": 0, "readyReplicas": 0, "updatedReplicas": 0, "expiringReplicas": 0,
        "desiredReplicas": 1, "currentImage": "", "targetImage": "",
        "conditions": [{"type": t, "status": "Unknown", "reason": "", "message": ""}
                       for t in ("Ready", "Progressing", "Degraded", "Stalled")],
        "plan": {"pending": 0, "summary": ""},
        "instances": [{"name": "github-runners_1", "id": "", "image": "",
                       "createdAt": "2026-11-23T10:00:00.123Z", "state": "Unknown",
                       "busy": False}]}}, "accept"),
    ("image-status-example", EX_ADO, 0, {"status": {
        "observedGeneration": 1, "resolvedVersion": "1.5.0", "imageId": "/subscriptions/x",
        "publishedDate": "2026-11-23T09:00:00.3138469+00:00",
        "build": {"revision": 7, "runState": "Succeeded", "startTime": "2026-11-23T08:00:00Z",
                  "endTime": "2026-11-23T09:00:00Z", "message": ""},
        "conditions": [{"type": "Ready", "status": "True", "reason": "Resolved",
                        "message": "", "lastTransitionTime": "2026-11-23T09:00:00Z"}]}},
     "accept"),
    ("policy-status-example", EX_HRW, 0, {"status": {
        "observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True",
                                                 "reason": "Valid", "message": ""}]}}, "accept"),
    # what controller/ctl_run.c ref_object() shows for ImageVersions and ExpiryPolicies
    ("image-status-controller-shape", EX_ADO, 0, {"status": {
        "conditions": [{"type": "Ready", "status": "True", "reason": "Valid",
                        "message": "in use"}], "usedBy": ["ado-agents"]}}, "accept"),
    ("policy-status-controller-shape", EX_HRW, 0, {"status": {
        "conditions": [{"type": "Ready", "status": "True", "reason": "Valid",
                        "message": "not used by any pool"}], "usedBy": []}}, "accept"),
    # --- WorkerPool (hybrid-linux: VirtualMachines, HRW) ---
    ("hrw-group-slash", EX_HRW, 1, {"spec.registration.hybridRunbookWorker.group": "a/b"},
     "reject"),
    ("hrw-group-backslash", EX_HRW, 1, {"spec.registration.hybridRunbookWorker.group": "a\\b"},
     "reject"),
    ("hrw-group-spaces", EX_HRW, 1,
     {"spec.registration.hybridRunbookWorker.group": "Linux workers (ops)"}, "accept"),
    ("hrw-user-identity", EX_HRW, 1,
     {"spec.identity": {"type": "UserAssigned", "userAssignedIdentities": [UAI]}}, "reject"),
    ("hrw-system-and-user-identity", EX_HRW, 1,
     {"spec.identity": {"type": "SystemAssigned, UserAssigned",
                        "userAssignedIdentities": [UAI]}}, "accept"),
    ("hrw-mode-default", EX_HRW, 1, {"spec.mode": DEL}, "reject"),
    ("hrw-account-wrong-type", EX_HRW, 1,
     {"spec.registration.hybridRunbookWorker.automationAccountId":
      "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Automation/runbooks/x" % SUB},
     "reject"),
    ("registration-empty", EX_HRW, 1, {"spec.registration": {}}, "accept"),
    ("runbook-name-digit", EX_HRW, 1, {"spec.hooks.afterCreate.runbook.name": "1-validate"},
     "reject"),
    ("runbook-params-free-form", EX_HRW, 1,
     {"spec.hooks.afterCreate.runbook.parameters": {"a": {"b": [1, None, "x"]}}}, "accept"),
    ("runbook-params-not-mapping", EX_HRW, 1,
     {"spec.hooks.afterCreate.runbook.parameters": ["a"]}, "reject"),
    ("orchestration-in-vm-mode", EX_HRW, 1, {"spec.orchestration": "Uniform"}, "reject"),
    # --- ExpiryPolicy (weekly) ---
    ("force-equal-maxage", EX_HRW, 0, {"spec.forceAfter": "168h"}, "accept"),
    ("force-below-maxage", EX_HRW, 0, {"spec.forceAfter": "167h59m"}, "reject"),
    ("force-zero", EX_HRW, 0, {"spec.forceAfter": "0"}, "reject"),
    ("replace-before-equal-maxage", EX_HRW, 0, {"spec.replaceBefore": "168h"}, "reject"),
    ("replace-before-zero", EX_HRW, 0, {"spec.replaceBefore": "0"}, "accept"),
    ("maxage-negative", EX_HRW, 0, {"spec.maxAge": "-1h"}, "reject"),
    ("maxage-plus-sign-fraction", EX_HRW, 0,
     {"spec.maxAge": "+1.5h", "spec.forceAfter": DEL}, "accept"),
    ("maxage-micro-units", EX_HRW, 0,
     {"spec.maxAge": "1h1µs", "spec.forceAfter": DEL, "spec.replaceBefore": DEL}, "accept"),
    ("maxage-100-years", EX_HRW, 0, {"spec.maxAge": "876000h", "spec.forceAfter": DEL},
     "accept"),
    ("maxage-over-100-years", EX_HRW, 0, {"spec.maxAge": "876001h", "spec.forceAfter": DEL},
     "reject"),
    ("maxage-days-unit", EX_HRW, 0, {"spec.maxAge": "7d"}, "reject"),
    ("maxage-bare-number", EX_HRW, 0, {"spec.maxAge": "3600"}, "reject"),
    ("jitter-101", EX_HRW, 0, {"spec.jitter": "101%"}, "reject"),
    ("jitter-leading-zero", EX_HRW, 0, {"spec.jitter": "007%"}, "accept"),
    ("jitter-default", EX_HRW, 0, {"spec.jitter": DEL}, "accept"),
    ("window-168h", EX_HRW, 0, {"spec.maintenanceWindows[0].duration": "168h"}, "accept"),
    ("window-over-168h", EX_HRW, 0, {"spec.maintenanceWindows[0].duration": "168h1s"},
     "reject"),
    ("window-zero", EX_HRW, 0, {"spec.maintenanceWindows[0].duration": "0s"}, "reject"),
    ("cron-weekday-7", EX_HRW, 0, {"spec.maintenanceWindows[0].schedule": "0 2 * * 7"},
     "accept"),
    ("cron-weekday-8", EX_HRW, 0, {"spec.maintenanceWindows[0].schedule": "0 2 * * 8"},
     "reject"),
    ("cron-names-steps-lists", EX_HRW, 0,
     {"spec.maintenanceWindows[0].schedule": " */15 0-23/2 1,15 JAN-dec Mon-FRI "}, "accept"),
    ("cron-macro", EX_HRW, 0, {"spec.maintenanceWindows[0].schedule": "@Weekly"}, "accept"),
    ("cron-unknown-macro", EX_HRW, 0, {"spec.maintenanceWindows[0].schedule": "@fortnightly"},
     "reject"),
    ("cron-six-fields", EX_HRW, 0, {"spec.maintenanceWindows[0].schedule": "0 0 2 * * 1"},
     "reject"),
    ("cron-step-zero", EX_HRW, 0, {"spec.maintenanceWindows[0].schedule": "*/0 * * * *"},
     "reject"),
    ("cron-month-name-in-day", EX_HRW, 0,
     {"spec.maintenanceWindows[0].schedule": "0 2 jan * *"}, "reject"),
    ("tz-etc", EX_HRW, 0, {"spec.maintenanceWindows[0].timeZone": "Etc/GMT+1"}, "accept"),
    ("tz-double-slash", EX_HRW, 0, {"spec.maintenanceWindows[0].timeZone": "Europe//Berlin"},
     "reject"),
    ("tz-absent", EX_HRW, 0, {"spec.maintenanceWindows[0].timeZone": DEL}, "accept"),
    ("windows-21", EX_HRW, 0,
     {"spec.maintenanceWindows": [{"schedule": "0 2 * * *", "duration": "1h"}] * 21},
     "reject"),
    ("windows-20", EX_HRW, 0,
     {"spec.maintenanceWindows": [{"schedule": "0 2 * * *", "duration": "1h"}] * 20},
     "accept"),
    ("budget-decimal-string", EX_HRW, 0, {"spec.disruptionBudget.maxUnavailable": "1"},
     "reject"),
    ("budget-percent", EX_HRW, 0, {"spec.disruptionBudget.maxUnavailable": "50%"}, "accept"),
    ("budget-zero", EX_HRW, 0, {"spec.disruptionBudget.maxUnavailable": 0}, "accept"),
    ("policy-name-subdomain", EX_HRW, 0,
     {"metadata.name": "weekly.v2", "@1:spec.expiryPolicyRef.name": "weekly.v2"}, "accept"),
    ("policy-ref-dangling", EX_HRW, 1, {"spec.expiryPolicyRef.name": "daily"}, "crossdoc"),
    # --- ImageVersion and the Azure DevOps pool ---
    ("version-two-parts", EX_ADO, 0, {"spec.version": "1.5"}, "reject"),
    ("version-three-parts", EX_ADO, 0, {"spec.version": "10.0.1"}, "accept"),
    ("version-default", EX_ADO, 0, {"spec.version": DEL}, "accept"),
    ("gallery-name-hyphen", EX_ADO, 0, {"spec.gallery.name": "gal-build"}, "reject"),
    ("definition-punctuation", EX_ADO, 0, {"spec.gallery.imageDefinition": "a-b.c_d"},
     "accept"),
    ("gallery-81", EX_ADO, 0, {"spec.gallery.name": "g" * 81}, "reject"),
    ("build-template-only", EX_ADO, 0,
     {"spec.build.runWhen": DEL, "spec.build.revision": DEL}, "accept"),
    ("build-without-template", EX_ADO, 0, {"spec.build": {"runWhen": "Never"}}, "reject"),
    ("build-revision-string", EX_ADO, 0, {"spec.build.revision": "7"}, "reject"),
    ("image-name-underscore", EX_ADO, 0,
     {"metadata.name": "ado_agent", "@1:spec.imageRef.name": "ado_agent"}, "reject"),
    ("step-out-1-in-default", EX_ADO, 1, {"spec.autoscale.step": {"scaleOutThreshold": 1}},
     "reject"),
    ("step-out-2-in-default", EX_ADO, 1, {"spec.autoscale.step": {"scaleOutThreshold": 2}},
     "accept"),
    ("step-in-3-out-default", EX_ADO, 1, {"spec.autoscale.step": {"scaleInThreshold": 3}},
     "reject"),
    ("step-cooldown-too-long", EX_ADO, 1,
     {"spec.autoscale.step.scaleInCooldownSeconds": 86401}, "reject"),
    ("step-defaults", EX_ADO, 1, {"spec.autoscale.step": {}}, "accept"),
    ("step-with-proportional-policy", EX_ADO, 1, {"spec.autoscale.policy": "Proportional"},
     "reject"),
    ("extension-name-punctuation", EX_ADO, 1, {"spec.extensions[0].name": "a.b_c-d"},
     "accept"),
    ("extension-name-space", EX_ADO, 1, {"spec.extensions[0].name": "a b"}, "reject"),
    ("extension-duplicate", EX_ADO, 1,
     {"spec.extensions[1]": {"name": "ado-agent", "publisher": "p", "type": "t",
                             "typeHandlerVersion": "1.0"}}, "reject"),
    ("extension-settings-string", EX_ADO, 1, {"spec.extensions[0].settings": "x=1"},
     "reject"),
    ("extension-version-float", EX_ADO, 1, {"spec.extensions[0].typeHandlerVersion": 1.0},
     "reject"),
    ("extension-autoupgrade-default", EX_ADO, 1,
     {"spec.extensions[0].autoUpgradeMinorVersion": DEL}, "accept"),
    ("extensions-51", EX_ADO, 1,
     {"spec.extensions": [{"name": "e%d" % i, "publisher": "p", "type": "t",
                           "typeHandlerVersion": "1"} for i in range(51)]}, "reject"),
    ("http-pointer-relative", EX_ADO, 1, {"spec.autoscale.metric.http.jsonPointer": "pending"},
     "reject"),
    ("http-pointer-empty", EX_ADO, 1, {"spec.autoscale.metric.http.jsonPointer": ""},
     "accept"),
    ("http-url-ftp", EX_ADO, 1, {"spec.autoscale.metric.http.url": "ftp://ci.example/x"},
     "reject"),
    ("http-url-plain-http", EX_ADO, 1,
     {"spec.autoscale.metric.http.url": "http://127.0.0.1:8080/pending"}, "accept"),
    ("http-url-space", EX_ADO, 1,
     {"spec.autoscale.metric.http.url": "https://ci.example/a b"}, "reject"),
    ("imageref-name-uppercase", EX_ADO, 1, {"spec.imageRef.name": "Golden"}, "reject"),
]

# Mutations on which the CRD schema and the core are known to differ: (name, file, doc,
# changes, CRD verdict, core verdict, reason). The suite checks they still differ this way,
# so the list cannot go stale silently.
KNOWN_DIVERGENCES = [
    ("cron-range-reversed", EX_HRW, 0, {"spec.maintenanceWindows[0].schedule": "0 5-1 * * *"},
     "accept", "reject",
     "a reversed cron range (5-1) needs numeric comparison of two parts of one string; a "
     "regular expression cannot order them and CEL in the schema would need a cron parser"),
    ("label-key-with-space", EX_RUNNERS, 0, {"metadata.labels.{team name}": "x"},
     "reject", "accept",
     "label and annotation keys are checked by the API server's ObjectMeta validation "
     "(qualified names), which the core does not repeat: in GitOps mode such a label is "
     "accepted and ignored"),
]


# Random mutations (fixed seed, so a failure reproduces): a leaf of an example is deleted,
# replaced by a value from FUZZ_VALUES, or gets an unknown sibling. Both sides must agree,
# except for the two explained classes of divergence checked in explain_divergence().
FUZZ_SEED = 20261123
FUZZ_COUNT = 300
FUZZ_VALUES = [None, 0, -1, 1, 2, 20, 1000, 1001, 86400, 86401, 2**31, 1.5, True, False, "",
               "x", "0", "3", "0%", "25%", "100%", "101%", "1h", "0s", "-1h", "168h", "7d",
               "abc", "A" * 65, "a" * 1025, [], {}, [1], ["x"], {"a": 1}, "Standard_D2s_v5",
               "latest", "1.2.3", "1.2", "westeurope", "a.b", "ab-c", "a_b", "ssh-rsa AAA",
               "https://x", "http://x", "/x", "Linux", "Windows", "None", "SystemAssigned",
               "ScaleSet", "VirtualMachines", "Uniform", "Step", "Proportional", "Reimage",
               "0 2 * * *", "@daily", "61 * * * *", "Europe/Berlin", "*/5 * * * *", SUB, UAI]


def _leaves(node, path):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, path + [k])
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, path + [i])


def fuzz_mutations(ex_docs, seed, count):
    """[(description, docs)] of random single changes to the examples."""
    import random
    rng = random.Random(seed)
    names = sorted(ex_docs)
    out = []
    while names and len(out) < count:
        fname = rng.choice(names)
        docs = copy.deepcopy(ex_docs[fname])
        di = rng.randrange(len(docs))
        paths = [p for p, _ in _leaves(docs[di], []) if p and p[0] in ("spec", "metadata")]
        path = rng.choice(paths)
        parent = docs[di]
        for k in path[:-1]:
            parent = parent[k]
        r = rng.random()
        where = "%s doc %d %s" % (fname, di, ".".join(map(str, path)))
        if r < 0.15 and isinstance(parent, dict):
            del parent[path[-1]]
            out.append(("%s: delete" % where, docs))
        elif r < 0.25 and isinstance(parent, dict):
            parent["zzUnknown"] = 1
            out.append(("%s: unknown sibling" % where, docs))
        else:
            v = rng.choice(FUZZ_VALUES)
            parent[path[-1]] = copy.deepcopy(v)
            out.append(("%s = %s" % (where, json.dumps(v)[:40]), docs))
    return out


def explain_divergence(crd_v, crd_errs, core_v, core_out):
    """The reason for an allowed divergence, or None."""
    if crd_v == "accept" and core_v == "reject":
        lines = [l for l in core_out.splitlines() if re.search(r":\d+:\d+: ", l)]
        if lines and all(re.search(r"not found in namespace|: duplicate [A-Za-z]+ \"", l)
                         for l in lines):
            return "cross-document reference or duplicate (core only)"
    if crd_v == "reject" and core_v == "accept":
        if crd_errs and all(k == "meta" and re.match(r"metadata\.(labels|annotations)\.", p)
                            for _, _, p, _, k in crd_errs):
            return "label/annotation syntax (API server only)"
    return None


# ---------------------------------------------------------------------------------------


class Result:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, name, detail=""):
        self.passed += 1
        print("ok   %s%s" % (name, (" - " + detail) if detail else ""))

    def fail(self, name, detail):
        self.failed += 1
        print("FAIL %s" % name)
        for line in str(detail).splitlines():
            print("     | %s" % line)

    def check(self, name, cond, detail):
        if cond:
            self.ok(name)
        else:
            self.fail(name, detail)


def split_path(path):
    """'a.b[0].{x.y}' -> ['a', 'b', 0, 'x.y']"""
    out = []
    for m in re.finditer(r"\{([^}]*)\}|\[(\d+)\]|([^.\[{]+)", path):
        if m.group(1) is not None:
            out.append(m.group(1))
        elif m.group(2) is not None:
            out.append(int(m.group(2)))
        else:
            out.append(m.group(3))
    return out


def apply_changes(docs, idx, changes):
    """Applies changes to docs[idx]; a path "@N:path" changes document N instead."""
    docs = copy.deepcopy(docs)
    for path, value in changes.items():
        m = re.match(r"^@(\d+):(.*)$", path)
        if m:
            node, path = docs[int(m.group(1))], m.group(2)
        else:
            node = docs[idx]
        parts = split_path(path)
        for p in parts[:-1]:
            if isinstance(p, int):
                node = node[p]
            else:
                node = node.setdefault(p, {})
        last = parts[-1]
        if value is DEL:
            if isinstance(node, dict):
                node.pop(last, None)
        elif isinstance(last, int):
            while len(node) <= last:
                node.append(None)
            node[last] = copy.deepcopy(value)
        else:
            node[last] = copy.deepcopy(value)
    return docs


class Core:
    """The core's validator, run as a command on files."""

    def __init__(self, cmd):
        self.cmd = shlex.split(cmd) if cmd else []
        self.why_missing = None

    def available(self, probe_valid, probe_invalid):
        if not self.cmd:
            self.why_missing = "no validator command given"
            return False
        if not os.access(self.cmd[0], os.X_OK):
            self.why_missing = "%s is not built" % self.cmd[0]
            return False
        rc_ok, out_ok = self.run_file(probe_valid)
        rc_bad, out_bad = self.run_file(probe_invalid)
        # `validate` exists when it accepts an example and rejects an invalid case with
        # file:line:col diagnostics; anything else (usage text, "unknown command") = missing.
        if rc_bad == 1 and re.search(r":\d+:\d+: ", out_bad) and rc_ok in (0, 1):
            return True
        self.why_missing = "%s does not implement it yet (exit %d: %s)" % (
            " ".join(self.cmd), rc_bad, (out_bad.strip().splitlines() or [""])[0][:120])
        return False

    def run_file(self, path):
        try:
            p = subprocess.run(self.cmd + [path], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as x:
            return 99, str(x)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def verdict(self, path):
        rc, out = self.run_file(path)
        if rc == 0:
            return "accept", out
        if rc == 1:
            return "reject", out
        return "error(exit %d)" % rc, out


def crd_verdict(crds, text):
    errs = crdcheck.validate_text(crds, text)
    return ("reject" if errs else "accept"), errs


def fmt_errs(errs):
    lines = []
    for i, label, p, m, k in errs:
        where = "doc %d (%s) " % (i + 1, label) if i is not None else ""
        lines.append("%s%s: %s [%s]" % (where, p or "<root>", m, k))
    return "\n".join(lines) or "(no errors)"


EXPECT = re.compile(r"^#\s*expect:\s*(\d+):(\d+):\s*(.*)$")
PATHLIKE = re.compile(r"^([A-Za-z0-9_.\[\]/\\ -]+?): ")


def expected_paths(text):
    """Field paths of the `# expect:` lines (lines whose message has no path give none)."""
    out = []
    for line in text.splitlines():
        m = EXPECT.match(line)
        if not m:
            continue
        rest = m.group(3)
        pm = PATHLIKE.match(rest)
        if pm and " " not in pm.group(1):
            out.append(pm.group(1))
    return out


def path_matches(expected, errs):
    for _, _, p, _, kind in errs:
        if p == expected:
            return True
        if kind == "cel" and (p == "" or expected.startswith(p + ".") or
                              expected.startswith(p + "[")):
            return True
    return False


def dump_yaml_docs(docs):
    # JSON is YAML: emit each document as JSON, so the core reads exactly these values.
    return "".join("---\n%s\n" % json.dumps(d, ensure_ascii=False) for d in docs)


SECRET_KEY = re.compile(r"(?i)(password|passwd|secret|token|pat|apikey|api_key|"
                        r"connectionstring|accountkey|sas|privatekey|credential)s?$")


def inline_secret_paths(node, path):
    """Paths of free-form values (extension settings, runbook parameters, ...) whose key looks
    like a secret: examples must carry secrets only as *SecretRef references."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            sub = "%s.%s" % (path, k) if path else k
            if SECRET_KEY.search(k) and not k.endswith("SecretRef") and \
                    isinstance(v, (str, int)) and v != "":
                out.append(sub)
            out += inline_secret_paths(v, sub)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += inline_secret_paths(v, "%s[%d]" % (path, i))
    return out


def cel_reference(res, log, modules):
    """Re-evaluates every (rule, self) the suite evaluated with @bufbuild/cel (node) and
    compares the verdicts (true, or false/error). One result per rule."""
    here = os.path.dirname(os.path.abspath(__file__))
    if not modules or not os.path.isdir(os.path.join(modules, "@bufbuild", "cel")):
        print("skip reference CEL cross-check: @bufbuild/cel not found in CEL_MODULES=%r "
              "(hack/install-deps.sh installs it with npm -g; CEL_MODULES=$(npm root -g))"
              % modules)
        return
    items = sorted(log.items())
    payload = "".join(json.dumps({"rule": r, "self": json.loads(sv)}) + "\n"
                      for (r, sv), _ in items)
    try:
        p = subprocess.run(["node", os.path.join(here, "cel_ref.mjs")], input=payload.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300,
                           env=dict(os.environ, CEL_MODULES=modules))
    except (OSError, subprocess.TimeoutExpired) as x:
        res.fail("reference CEL: node runs", str(x))
        return
    lines = p.stdout.decode().splitlines()
    if p.returncode != 0 or len(lines) != len(items):
        res.fail("reference CEL: node runs", "exit %d, %d answers for %d questions\n%s"
                 % (p.returncode, len(lines), len(items), p.stderr.decode()[-2000:]))
        return
    per_rule = {}
    for ((rule, sv), mine), line in zip(items, lines):
        ref = json.loads(line)
        theirs = ref["result"] if "result" in ref else "error"
        st = per_rule.setdefault(rule, [0, []])
        st[0] += 1
        # A runtime error fails the rule like false does (the object is rejected either
        # way); e.g. duration(1) is an error here but 1s in @bufbuild/cel, on a value the
        # schema already rejects.
        if (mine is True) != (theirs is True):
            st[1].append("self=%s: crdcheck %s, reference %s%s" % (
                sv[:200], mine, theirs, (" (%s)" % ref["error"]) if "error" in ref else ""))
    for rule, (n, bad) in sorted(per_rule.items()):
        res.check("reference CEL agrees (%d inputs): %s" % (n, rule[:80]), not bad,
                  "\n".join(bad[:10]))


def main(argv):
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--crds", default="crds")
    ap.add_argument("--examples", default="manifests/examples")
    ap.add_argument("--invalid", default="tests/cases/invalid")
    ap.add_argument("--validator", default=None)
    ap.add_argument("--cel-modules", default=os.environ.get("CEL_MODULES", ""))
    args = ap.parse_args(argv[1:])
    if args.validator is None:
        args.validator = os.path.join(os.environ.get("BUILD", "build"), "azpool") + " validate"
    res = Result()

    # 1. structural
    crd_files = sorted(glob.glob(os.path.join(args.crds, "*.yaml")))
    res.check("crds: three CRD files", len(crd_files) == 3, "found %s" % crd_files)
    for f in crd_files:
        try:
            errs = crdcheck.structural_errors(crdcheck.load_crd(f), f)
        except (ValueError, crdcheck.YamlError) as x:
            errs = [str(x)]
        res.check("structural: %s" % f, not errs, "\n".join(errs))
    crds = crdcheck.load_crds([args.crds])
    # negative controls: the structural check must notice each of these breakages
    if "WorkerPool" in crds:
        def schema_of(c):
            return c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        breakages = [
            ("a node without type", lambda c: schema_of(c)["properties"]["spec"][
                "properties"]["paused"].pop("type")),
            ("additionalProperties: false", lambda c: schema_of(c)["properties"]["spec"]
             .__setitem__("additionalProperties", False)),
            ("$ref", lambda c: schema_of(c)["properties"]["spec"]["properties"].__setitem__(
                "x", {"$ref": "#/definitions/x"})),
            ("list-map key not required", lambda c: schema_of(c)["properties"]["spec"][
                "properties"]["extensions"]["items"].__setitem__("required", ["publisher"])),
            ("CEL outside the subset", lambda c: schema_of(c)["properties"]["spec"][
                "x-kubernetes-validations"].append({"rule": "self.map(x, x)", "message": "m"})),
            ("fieldPath to an undeclared field", lambda c: schema_of(c)["properties"]["spec"][
                "x-kubernetes-validations"].append({"rule": "true", "message": "m",
                                                    "fieldPath": ".nope"})),
            ("printer column on an undeclared field", lambda c: c["spec"]["versions"][0][
                "additionalPrinterColumns"].append({"name": "X", "type": "string",
                                                    "jsonPath": ".status.nope"})),
            ("default that does not validate", lambda c: schema_of(c)["properties"]["spec"][
                "properties"]["mode"].__setitem__("default", "Sometimes")),
            ("non-portable pattern", lambda c: schema_of(c)["properties"]["spec"][
                "properties"]["location"].__setitem__("pattern", "^\\w+$")),
            ("unknown CRD field", lambda c: c["spec"].__setitem__("validation", {})),
        ]
        for what, breakit in breakages:
            broken = copy.deepcopy(crds["WorkerPool"])
            breakit(broken)
            errs = crdcheck.structural_errors(broken, "broken")
            res.check("structural check catches %s" % what, bool(errs),
                      "structural_errors found nothing")
    for kind, crd in sorted(crds.items()):
        undocumented = []

        def documented(s, path):
            for k, v in (s.get("properties") or {}).items():
                if "description" not in v:
                    undocumented.append(path + "." + k)
                documented(v, path + "." + k)
            if isinstance(s.get("items"), dict):
                documented(s["items"], path + "[]")
        documented(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"],
                   "spec")
        res.check("documented: every %s spec field has a description" % kind, not undocumented,
                  "no description: %s" % ", ".join(undocumented))
    all_rules = []
    for kind, crd in sorted(crds.items()):
        def walk(s, path):
            if not isinstance(s, dict):
                return
            for r in s.get("x-kubernetes-validations", []):
                all_rules.append((kind, path, r["rule"]))
            for k, v in (s.get("properties") or {}).items():
                walk(v, path + "." + k)
            for k in ("items", "additionalProperties"):
                if isinstance(s.get(k), dict):
                    walk(s[k], path + "[]")
        walk(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"], "")

    crdcheck.EVAL_LOG = {}

    # 2. the CEL evaluator itself
    cel_cases = [
        ("has(self.a) != has(self.b)", {"a": 1}, True),
        ("has(self.a) != has(self.b)", {"a": 1, "b": 2}, False),
        ("!has(self.a) || self.a.b == 1", {}, True),
        ("self.a == 0", {"a": "0%"}, False),  # heterogeneous equality is false, no error
        ("(has(self.x) ? 1 : 0) + (has(self.y) ? 1 : 0) == 1", {"y": {}}, True),
        ("duration(self.a) >= duration(self.b)", {"a": "1h", "b": "59m60s"}, True),
        ("duration(self.a) > duration('0s')", {"a": "0"}, False),
        ("self.all(k, !k.matches(r\"[<>%&\\\\?/]\"))", {"a\\b": "1"}, False),
        ("self.all(k, !k.matches(r\"[<>%&\\\\?/]\"))", {"ab": "1"}, True),
        ("string(self.s).matches('^0+%?$')", {"s": 0}, True),
        ("string(self.s).matches('^0+%?$')", {"s": "00%"}, True),
        ("string(self.s).matches('^0+%?$')", {"s": "10%"}, False),
        ("self.lowerAscii() in ['admin', 'root']", "RoOt", True),
        ("!self.contains('/') && !self.contains('\\\\')", "a\\b", False),
        ("self.b || self.a > 1", {"a": 2}, True),  # error || true is true in CEL
    ]
    for rule, val, want in cel_cases:
        try:
            got = crdcheck.cel_eval(rule, val)
        except crdcheck.CelError as x:
            got = "error: %s" % x
        res.check("cel: %s on %s" % (rule, json.dumps(val)), got == want,
                  "got %r, want %r" % (got, want))
    for rule, val in (("self.a", {}), ("self.a < 'x'", {"a": 1}), ("duration('1d')", {})):
        try:
            crdcheck.cel_eval(rule, val)
            res.fail("cel: %s is an error" % rule, "evaluated without error")
        except crdcheck.CelError:
            res.ok("cel: %s is an error" % rule)
    crdcheck.RULES_FIRED.clear()

    # the core's validator
    examples = sorted(glob.glob(os.path.join(args.examples, "*.yaml")))
    invalid = sorted(glob.glob(os.path.join(args.invalid, "*.yaml")))
    core = Core(args.validator)
    have_core = bool(examples and invalid) and core.available(
        examples[0], os.path.join(args.invalid, "002-unknown-top-level-field.yaml")
        if os.path.exists(os.path.join(args.invalid, "002-unknown-top-level-field.yaml"))
        else invalid[0])
    if not have_core:
        print("skip core side: `%s FILE` is not available (%s); only the CRD side is checked"
              % (args.validator, core.why_missing))

    # 3. examples
    res.check("examples: present", len(examples) >= 3, "found %s" % examples)
    ex_docs = {}
    for f in examples:
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        res.check("example comment: %s" % f, first.startswith("#"),
                  "the file must start with a comment explaining what it shows")
        v, errs = crd_verdict(crds, text)
        res.check("example accepted by CRD: %s" % f, v == "accept", fmt_errs(errs))
        if have_core:
            cv, out = core.verdict(f)
            res.check("example accepted by core: %s" % f, cv == "accept", out)
        try:
            ex_docs[os.path.basename(f)] = crdcheck.load_yaml_docs(text)
        except crdcheck.YamlError:
            continue
        inline = [p for doc in ex_docs[os.path.basename(f)]
                  for p in inline_secret_paths(doc, "")]
        res.check("example has secrets by reference only: %s" % f, not inline,
                  "secret-looking values inline at: %s" % ", ".join(inline))
    if have_core and examples:
        cv, out = core.verdict(args.examples)
        res.check("examples directory accepted by core (references resolve)", cv == "accept",
                  out)

    # 4. invalid cases
    res.check("invalid cases: present", len(invalid) > 0, "none in %s" % args.invalid)
    for f in invalid:
        name = os.path.basename(f)
        with open(f, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        v, errs = crd_verdict(crds, text)
        if name in NOT_EXPRESSIBLE:
            how, why = NOT_EXPRESSIBLE[name]
            if how == "yaml":
                res.check("invalid %s: YAML-level, fails in the YAML reader" % name,
                          any(k == "yaml" for *_, k in errs),
                          "expected a YAML reader error; got:\n" + fmt_errs(errs))
            elif how == "crossdoc":
                res.check("invalid %s: cross-document, each object passes the schema" % name,
                          v == "accept", fmt_errs(errs))
            else:
                res.ok("invalid %s: not a schema rule" % name, "schema verdict: %s" % v)
            print("     | not expressible in a CRD schema: %s" % why)
        else:
            missing = [p for p in expected_paths(text) if not path_matches(p, errs)]
            res.check("invalid %s: rejected by CRD at the expected fields" % name,
                      v == "reject" and not missing,
                      ("accepted" if v == "accept" else
                       "no CRD error at: %s" % ", ".join(missing)) + "\n" + fmt_errs(errs))
        if have_core:
            cv, out = core.verdict(f)
            res.check("invalid %s: rejected by core" % name, cv == "reject", out)

    # 5. mutations
    tmpdir = tempfile.mkdtemp(prefix="azpool-crd-")
    try:
        def run_mutation(mname, fname, idx, changes):
            docs = ex_docs.get(fname)
            if docs is None or idx >= len(docs):
                return None, None, "example %s doc %d is missing" % (fname, idx)
            docs = apply_changes(docs, idx, changes)
            text = dump_yaml_docs(docs)
            v, errs = crd_verdict(crds, text)
            core_v, core_out = None, ""
            if have_core:
                path = os.path.join(tmpdir, mname + ".yaml")
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text)
                core_v, core_out = core.verdict(path)
            return v, core_v, "CRD:\n%s\ncore:\n%s" % (fmt_errs(errs), core_out.strip())

        for mname, fname, idx, changes, want in MUTATIONS:
            v, core_v, detail = run_mutation(mname, fname, idx, changes)
            want_crd, want_core = (("accept", "reject") if want == "crossdoc" else (want, want))
            ok = v == want_crd and (core_v is None or core_v == want_core)
            res.check("mutation %s: %s" % (mname, "CRD accept, core reject (cross-document)"
                                           if want == "crossdoc" else "both " + want), ok,
                      "want CRD %s, core %s; got CRD %s, core %s\n%s"
                      % (want_crd, want_core, v, core_v or "n/a", detail))
        for mname, fname, idx, changes, want_crd, want_core, why in KNOWN_DIVERGENCES:
            v, core_v, detail = run_mutation(mname, fname, idx, changes)
            ok = v == want_crd and (core_v is None or core_v == want_core)
            res.check("known divergence %s: CRD %s, core %s" % (mname, want_crd, want_core), ok,
                      "CRD %s, core %s\n%s" % (v, core_v or "n/a", detail))
            print("     | why: %s" % why)
        fz = fuzz_mutations(ex_docs, FUZZ_SEED, FUZZ_COUNT)
        agree, explained, bad = 0, {}, []
        for n, (desc, docs) in enumerate(fz):
            text = dump_yaml_docs(docs)
            v, errs = crd_verdict(crds, text)
            if not have_core:
                continue
            path = os.path.join(tmpdir, "fuzz-%d.yaml" % n)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            core_v, core_out = core.verdict(path)
            if v == core_v:
                agree += 1
                continue
            why = explain_divergence(v, errs, core_v, core_out)
            if why:
                explained[why] = explained.get(why, 0) + 1
            else:
                bad.append("%s: CRD %s, core %s\nCRD: %s\ncore: %s" % (
                    desc, v, core_v, fmt_errs(errs).replace("\n", " | "),
                    core_out.strip().replace("\n", " | ")))
        if have_core:
            res.check("random mutations (seed %d): %d agree, explained divergences %s" % (
                FUZZ_SEED, agree, json.dumps(explained, sort_keys=True)), not bad,
                "%d unexplained divergences:\n%s" % (len(bad), "\n".join(bad[:20])))
    finally:
        for f in glob.glob(os.path.join(tmpdir, "*.yaml")):
            os.unlink(f)
        os.rmdir(tmpdir)

    # 6. rule coverage
    for kind, path, rule in all_rules:
        res.check("rule exercised: %s%s: %s" % (kind, path, rule[:70]),
                  crdcheck.RULES_FIRED.get(rule, 0) > 0,
                  "no invalid case or mutation makes this rule reject anything")

    # 7. every rule evaluation above, again with a reference CEL implementation
    cel_reference(res, crdcheck.EVAL_LOG, args.cel_modules)

    print("%d passed, %d failed" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
