#!/usr/bin/python3
"""kubesim_corpus.py URL ROOT - the project's manifests against the CRDs a running kubesim serves
(schema, metadata and CEL rules): every manifests/examples document must be created (201) with
fieldValidation=Strict, and every tests/cases/invalid case that a schema can express must be
rejected with a 4xx for at least one of its documents. The cases crd_agree.py lists as not
expressible are skipped, and 005 too (PyYAML and kubectl read `yes` as a bool, the core's YAML 1.2
reader as a string). Then a differential check: crd_agree.py's MUTATIONS and 300 of its random
mutations of the examples get the same accept/reject verdict from kubesim as from crdcheck.py's
schema validator (whose CEL evaluator crd_agree proves against @bufbuild/cel).
The CRDs must already be created. Exit 0 when all hold."""
import glob
import json
import os
import sys
import urllib.error
import urllib.request

import yaml

B, ROOT = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(ROOT, 'tests/conformance'))
import crdcheck  # noqa: E402
import crd_agree  # noqa: E402
from crd_agree import NOT_EXPRESSIBLE  # noqa: E402

PL = {'WorkerPool': 'workerpools', 'ImageVersion': 'imageversions', 'ExpiryPolicy': 'expirypolicies'}
SKIP = dict(NOT_EXPRESSIBLE, **{'005-paused-yes-is-not-a-boolean.yaml': 'YAML 1.1 bool'})


def call(method, path, body=None):
    req = urllib.request.Request(B + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def post(doc):
    if not isinstance(doc, dict):
        return 400, {}
    meta = doc.get('metadata') if isinstance(doc.get('metadata'), dict) else {}
    ns = meta.get('namespace') if isinstance(meta.get('namespace'), str) else 'default'
    call('POST', '/api/v1/namespaces', {'metadata': {'name': ns}})
    pl = PL.get(doc.get('kind'), 'unknownkinds')
    code, body = call('POST', '/apis/azpool.dev/v1alpha1/namespaces/%s/%s?fieldValidation=Strict' % (ns, pl), doc)
    if code == 201:
        call('DELETE', '/apis/azpool.dev/v1alpha1/namespaces/%s/%s/%s' % (ns, pl, body['metadata']['name']))
    return code, body


bad_ex, missed, checked = [], [], 0
for f in sorted(glob.glob(ROOT + '/manifests/examples/*.yaml')):
    for d in yaml.safe_load_all(open(f)):
        if d:
            code, body = post(d)
            if code != 201:
                bad_ex.append('%s: %s %s' % (os.path.basename(f), code, body.get('message')))
for f in sorted(glob.glob(ROOT + '/tests/cases/invalid/*.yaml')):
    if os.path.basename(f) in SKIP:
        continue
    checked += 1
    try:
        docs = [d for d in yaml.safe_load_all(open(f)) if d is not None]
    except yaml.YAMLError:
        continue  # refused by the YAML reader (as kubectl would), never reaches kubesim
    codes = [post(d)[0] for d in docs]
    if not any(400 <= c < 500 for c in codes):
        missed.append('%s: %s' % (os.path.basename(f), codes))
# differential: kubesim vs crdcheck on mutations of the examples
crds = crdcheck.load_crds([os.path.join(ROOT, 'crds')])
ex_docs = {}
for f in sorted(glob.glob(ROOT + '/manifests/examples/*.yaml')):
    ex_docs[os.path.basename(f)] = crdcheck.load_yaml_docs(open(f).read())
cases = []
for name, fname, idx, changes, _want in crd_agree.MUTATIONS:
    cases.append((name, crd_agree.apply_changes(ex_docs[fname], idx, changes)))
cases += crd_agree.fuzz_mutations(ex_docs, 1, 300)
differ = []
for name, docs in cases:
    want, errs = crd_agree.crd_verdict(crds, crd_agree.dump_yaml_docs(docs))
    codes = [post(d)[0] for d in docs]
    got = 'reject' if any(400 <= c < 500 for c in codes) else 'accept'
    if got != want:
        differ.append('%s: kubesim %s %s, crdcheck %s %s' % (name, got, codes, want,
                                                          crd_agree.fmt_errs(errs)[:200]))
print('mutations compared: %d, verdicts differing: %d' % (len(cases), len(differ)))
for d in differ[:20]:
    print('  ' + d)
print('examples rejected: %s' % bad_ex)
print('invalid cases accepted: %s' % missed)
print('invalid cases checked: %d' % checked)
sys.exit(1 if bad_ex or missed or differ or checked < 30 else 0)
