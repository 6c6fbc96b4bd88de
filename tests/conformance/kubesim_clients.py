#!/usr/bin/python3
"""kubesim_clients.py - python3-kubernetes side of tests/conformance/suite-kubesim-clients.sh.

Uses Debian's python3-kubernetes (22.6 at the time of writing) against the kubesim named by
$KUBECONFIG. Subcommands (small helpers the shell suite calls between kubectl steps):

  ready NS NAME            merge-patch /status: observedGeneration = generation, Ready=True
  touch NS NAME VALUE      merge-patch metadata.labels.touch = VALUE (a watchable change)
  event NS NAME REASON     create a core/v1 Event whose involvedObject is the WorkerPool
  unfinalize NS NAME       merge-patch metadata.finalizers = null
  jpath PATH               read JSON on stdin, print the value at dotted PATH (ints as ints,
                           strings bare, objects as JSON); exit 1 when absent
  suite                    the python client checks: prints one "CHECK PASS|FAIL <what>[: detail]"
                           line per check (the shell numbers and counts them)

Every helper exits 0 on success and 1 with a message on stderr otherwise.
"""
import json
import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

G, V, P = 'azpool.dev', 'v1alpha1', 'workerpools'


def apis():
    config.load_kube_config()
    return client.CustomObjectsApi(), client.CoreV1Api()


def pool(ns, name, replicas=2):
    return {
        'apiVersion': G + '/' + V, 'kind': 'WorkerPool',
        'metadata': {'name': name, 'namespace': ns},
        'spec': {
            'subscriptionId': '11111111-2222-3333-4444-555555555555',
            'resourceGroup': 'rg', 'location': 'westeurope', 'vmSize': 'Standard_D2s_v5',
            'image': {'publisher': 'Canonical', 'offer': 'ubuntu', 'sku': '22_04-lts'},
            'network': {'subnetId': '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg'
                                    '/providers/Microsoft.Network/virtualNetworks/v/subnets/s'},
            'replicas': replicas,
        },
    }


def ready(ns, name):
    api, _ = apis()
    o = api.get_namespaced_custom_object(G, V, ns, P, name)
    gen = o['metadata'].get('generation', 0)
    api.patch_namespaced_custom_object_status(G, V, ns, P, name, {'status': {
        'observedGeneration': gen,
        'conditions': [{'type': 'Ready', 'status': 'True', 'reason': 'Converged', 'message': 'suite',
                        'observedGeneration': gen, 'lastTransitionTime': '2026-01-01T00:00:00Z'}]}})


def touch(ns, name, value):
    api, _ = apis()
    api.patch_namespaced_custom_object(G, V, ns, P, name, {'metadata': {'labels': {'touch': value}}})


def event(ns, name, reason):
    api, core = apis()
    o = api.get_namespaced_custom_object(G, V, ns, P, name)
    now = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
    core.create_namespaced_event(ns, {
        'apiVersion': 'v1', 'kind': 'Event',
        'metadata': {'name': '%s.%x' % (name, time.time_ns()), 'namespace': ns},
        'involvedObject': {'apiVersion': G + '/' + V, 'kind': 'WorkerPool', 'name': name, 'namespace': ns,
                           'uid': o['metadata']['uid'], 'resourceVersion': o['metadata']['resourceVersion']},
        'reason': reason, 'message': 'from the suite', 'type': 'Normal',
        'source': {'component': 'azpool-suite'}, 'firstTimestamp': now, 'lastTimestamp': now, 'count': 1})


def unfinalize(ns, name):
    api, _ = apis()
    api.patch_namespaced_custom_object(G, V, ns, P, name, {'metadata': {'finalizers': None}})


def jpath(path):
    v = json.load(sys.stdin)
    for part in [p for p in path.split('.') if p]:
        if isinstance(v, list):
            v = v[int(part)] if part.isdigit() and int(part) < len(v) else None
        elif isinstance(v, dict):
            v = v.get(part)
        else:
            v = None
        if v is None:
            sys.exit(1)
    print(v if isinstance(v, (str, int, float)) and not isinstance(v, bool) else json.dumps(v))


# ---- the python client checks ----

RESULTS = []


def check(what, ok, detail=''):
    print('CHECK %s %s%s' % ('PASS' if ok else 'FAIL', what, (': ' + detail) if detail and not ok else ''),
          flush=True)
    RESULTS.append(ok)


def status_of(fn):
    """Run fn; return (result, None) or (None, ApiException)."""
    try:
        return fn(), None
    except ApiException as e:
        return None, e


def fmt(e, alt):
    """An ApiException as 'status body', else alt, as one short string."""
    s = ('%s %s' % (e.status, e.body)) if e is not None else repr(alt)
    return s if len(s) < 600 else s[:600] + '...'


def body_of(e):
    try:
        return json.loads(e.body)
    except Exception:
        return {}


def admin(path):
    """POST an admin endpoint of kubesim through the configured client (TLS/token as configured)."""
    ac = client.ApiClient()
    r = ac.call_api(path, 'POST', auth_settings=['BearerToken'], _preload_content=False)
    return r[1], json.loads(r[0].data or b'{}')


def collect(api, ns, rv, seconds, into=None, **kw):
    """Watch ns from rv for at most `seconds` (server-side timeoutSeconds); return the events
    (appended to `into` as they arrive when given, for a watcher thread)."""
    out = [] if into is None else into
    w = watch.Watch()
    for ev in w.stream(api.list_namespaced_custom_object, G, V, ns, P, resource_version=rv,
                       timeout_seconds=seconds, **kw):
        out.append(ev)
    return out


class Section:
    """Runs one group of checks; an exception inside becomes a failing check, the rest go on."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, typ, val, tb):
        if typ is None:
            return False
        check('%s: ran without an exception' % self.name, False, '%s: %s' % (typ.__name__, str(val)[:600]))
        return True


def suite():
    api, core = apis()
    ns = 'py'
    _, e = status_of(lambda: core.create_namespace({'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': ns}}))
    check('create namespace py (CoreV1Api.create_namespace)', e is None, fmt(e, None))

    # create
    with Section('create'):
        o, e = status_of(lambda: api.create_namespaced_custom_object(G, V, ns, P, pool(ns, 'p', 2)))
        ok = e is None and o['metadata'].get('generation') == 1 and o['metadata'].get('uid') and \
            o['metadata'].get('resourceVersion') and o['metadata'].get('creationTimestamp')
        check('python create WorkerPool py/p: 201 with uid, resourceVersion, creationTimestamp, generation 1', bool(ok),
              'got %s' % (fmt(e, o and o.get('metadata')),))
        check('python create: defaults applied (spec.mode ScaleSet)', bool(o) and o['spec'].get('mode') == 'ScaleSet',
              'spec.mode = %r' % (o and o['spec'].get('mode')))
        _, e = status_of(lambda: api.create_namespaced_custom_object(G, V, ns, P, pool(ns, 'p', 2)))
        check('python create of an existing name: 409 AlreadyExists', e is not None and e.status == 409 and
              body_of(e).get('reason') == 'AlreadyExists', 'got %s' % (fmt(e, None),))

    # invalid create: 422 with the field
    with Section('invalid create: 422 with the field'):
        bad = pool(ns, 'bad', -1)
        _, e = status_of(lambda: api.create_namespaced_custom_object(G, V, ns, P, bad))
        causes = body_of(e).get('details', {}).get('causes', []) if e else []
        check('python create with spec.replicas -1: 422 Invalid with a cause for field spec.replicas',
              e is not None and e.status == 422 and any(c.get('field') == 'spec.replicas' for c in causes),
              'got %s' % (fmt(e, 'created'),))

    # list RV before the changes the watches replay
    with Section('list RV before the changes the watches replay'):
        lst = api.list_namespaced_custom_object(G, V, ns, P)
        rv0 = lst['metadata'].get('resourceVersion')
        check('python list: WorkerPoolList with metadata.resourceVersion and the item',
              lst.get('kind') == 'WorkerPoolList' and bool(rv0) and [i['metadata']['name'] for i in lst['items']] == ['p'],
              'got kind=%r rv=%r items=%r' % (lst.get('kind'), rv0, [i['metadata']['name'] for i in lst.get('items', [])]))

    # status subresource
    with Section('status subresource'):
        cur = api.get_namespaced_custom_object(G, V, ns, P, 'p')
        st, e = status_of(lambda: api.patch_namespaced_custom_object_status(G, V, ns, P, 'p', {
            'spec': {'replicas': 9}, 'status': {'replicas': 2, 'observedGeneration': 1}}))
        ok = e is None and st.get('status', {}).get('replicas') == 2 and st['spec'].get('replicas') == 2 and \
            st['metadata'].get('generation') == 1 and st['metadata']['resourceVersion'] != cur['metadata']['resourceVersion']
        check('python patch /status (merge): status set, spec change in it ignored, generation kept, new RV', ok,
              'got %s' % (fmt(e, st and {k: st.get(k) for k in ('spec', 'status')}),))
        m, e = status_of(lambda: api.patch_namespaced_custom_object(G, V, ns, P, 'p', {'status': {'replicas': 7}}))
        check('python patch main resource with status: status unchanged (subresource split), generation kept',
              e is None and m.get('status', {}).get('replicas') == 2 and m['metadata'].get('generation') == 1,
              'got %s' % (fmt(e, m and (m.get('status'), m['metadata'].get('generation'))),))
        stale = dict(cur)
        stale['spec'] = dict(cur['spec'], replicas=3)
        _, e = status_of(lambda: api.replace_namespaced_custom_object(G, V, ns, P, 'p', stale))
        check('python PUT with a stale resourceVersion: 409 Conflict',
              e is not None and e.status == 409 and body_of(e).get('reason') == 'Conflict',
              'got %s' % (fmt(e, 'accepted'),))

    # scale subresource
    with Section('scale subresource'):
        sc, e = status_of(lambda: api.patch_namespaced_custom_object_scale(G, V, ns, P, 'p', {'spec': {'replicas': 4}}))
        after = api.get_namespaced_custom_object(G, V, ns, P, 'p')
        check('python patch /scale: autoscaling/v1 Scale, spec.replicas 4 reaches the pool, generation 2',
              e is None and sc.get('kind') == 'Scale' and sc.get('spec', {}).get('replicas') == 4 and
              after['spec'].get('replicas') == 4 and after['metadata'].get('generation') == 2,
              'got %s / pool spec.replicas=%r gen=%r' % (fmt(e, sc), after['spec'].get('replicas'),
                                                        after['metadata'].get('generation')))

    # watch from the list RV: exactly the changes since, in RV order, no synthetic ADDED
    with Section('watch from the list RV: exactly the changes since, in RV order, no synthetic ADDED'):
        evs = collect(api, ns, rv0, 2)
        types = [ev['type'] for ev in evs]
        rvs = [int(ev['raw_object']['metadata']['resourceVersion']) for ev in evs if ev['type'] != 'BOOKMARK']
        real = [ev for ev in evs if ev['type'] != 'BOOKMARK']
        check('python watch from the list resourceVersion replays the 2 changes since (MODIFIED, RV increasing), no ADDED',
              len(real) == 2 and all(ev['type'] == 'MODIFIED' for ev in real) and rvs == sorted(rvs) and
              real and real[-1]['raw_object']['spec'].get('replicas') == 4,
              'got types %r rvs %r' % (types, rvs))
        evs = collect(api, ns, '0', 1)
        check('python watch with resourceVersion 0: synthetic ADDED of the current state',
              [ev['type'] for ev in evs if ev['type'] != 'BOOKMARK'] == ['ADDED'] and
              evs[0]['raw_object']['spec'].get('replicas') == 4, 'got %r' % [ev['type'] for ev in evs])

    # live watch: a change made while watching arrives
    with Section('live watch: a change made while watching arrives'):
        got = []
        last = api.get_namespaced_custom_object(G, V, ns, P, 'p')['metadata']['resourceVersion']

        def live():
            collect(api, ns, last, 4, into=got)
        t = threading.Thread(target=live)
        t.start()
        time.sleep(0.7)
        api.patch_namespaced_custom_object(G, V, ns, P, 'p', {'metadata': {'labels': {'live': 'yes'}}})
        t0 = time.time()
        while time.time() - t0 < 3 and not got:
            time.sleep(0.05)
        lat = time.time() - t0
        t.join()
        check('python live watch: a label change made while watching arrives as MODIFIED within 1 s',
              any(ev['type'] == 'MODIFIED' and ev['raw_object']['metadata'].get('labels', {}).get('live') == 'yes'
                  for ev in got) and lat < 1.0, 'got %r after %.2f s' % ([ev['type'] for ev in got], lat))

    # bookmarks (kubesim started with --bookmark-seconds 1 by the suite)
    with Section('bookmarks (kubesim started with --bookmark-seconds 1 by the suite)'):
        evs = collect(api, ns, api.list_namespaced_custom_object(G, V, ns, P)['metadata']['resourceVersion'], 3,
                      allow_watch_bookmarks=True)
        bm = [ev for ev in evs if ev['type'] == 'BOOKMARK']
        check('python watch with allowWatchBookmarks: BOOKMARK events with kind WorkerPool and a resourceVersion',
              bool(bm) and all(b['raw_object'].get('kind') == 'WorkerPool' and
                               b['raw_object'].get('metadata', {}).get('resourceVersion') for b in bm),
              'got %r' % [(ev['type'], ev['raw_object'].get('kind')) for ev in evs])

    # 410 after forced compaction, then relist + rewatch
    with Section('410 after forced compaction, then relist + rewatch'):
        old = api.list_namespaced_custom_object(G, V, ns, P)['metadata']['resourceVersion']
        api.patch_namespaced_custom_object(G, V, ns, P, 'p', {'metadata': {'labels': {'gen': 'a'}}})
        api.patch_namespaced_custom_object(G, V, ns, P, 'p', {'metadata': {'labels': {'gen': 'b'}}})
        try:
            code, body = admin('/_kubesim/compact')
            check('admin POST /_kubesim/compact: 200 with compactedRV', code == 200 and 'compactedRV' in body,
                  'got %r %r' % (code, body))
        except Exception as ex:  # noqa: BLE001 - report whatever went wrong
            check('admin POST /_kubesim/compact: 200 with compactedRV', False, repr(ex))
        try:
            evs = collect(api, ns, old, 3)
            check('python watch from a compacted resourceVersion: ApiException 410', False,
                  'no exception; events %r' % [ev['type'] for ev in evs])
            gone = False
        except ApiException as ex:
            gone = ex.status == 410
            check('python watch from a compacted resourceVersion: ApiException 410', gone,
                  'got status %r reason %r' % (ex.status, ex.reason))
    # the handling: relist (new RV), rewatch, see the next change and only it
    with Section('the handling: relist (new RV), rewatch, see the next change and only it'):
        relist = api.list_namespaced_custom_object(G, V, ns, P)
        got = []
        rv1 = relist['metadata']['resourceVersion']

        def rewatch():
            try:
                got.extend(collect(api, ns, rv1, 3))
            except ApiException as ex:
                got.append({'type': 'EXC%d' % ex.status, 'raw_object': {}})
        t = threading.Thread(target=rewatch)
        t.start()
        time.sleep(0.5)
        api.patch_namespaced_custom_object(G, V, ns, P, 'p', {'metadata': {'labels': {'gen': 'c'}}})
        t.join()
        real = [ev for ev in got if ev['type'] != 'BOOKMARK']
        check('after 410: relist, watch from the new list RV, exactly the next change arrives (label gen=c)',
              relist['items'][0]['metadata'].get('labels', {}).get('gen') == 'b' and len(real) == 1 and
              real[0]['type'] == 'MODIFIED' and real[0]['raw_object']['metadata']['labels'].get('gen') == 'c',
              'relist gen=%r, got %r' % (relist['items'][0]['metadata'].get('labels', {}).get('gen'),
                                         [(ev['type'], ev['raw_object'].get('metadata', {}).get('labels')) for ev in got]))

    # admin drop: an open watch ends promptly
    with Section('admin drop: an open watch ends promptly'):
        ended = []

        def longwatch():
            t1 = time.time()
            try:
                collect(api, ns, api.list_namespaced_custom_object(G, V, ns, P)['metadata']['resourceVersion'], 60)
            except ApiException:
                pass
            ended.append(time.time() - t1)
        t = threading.Thread(target=longwatch, daemon=True)
        t.start()
        time.sleep(0.7)
        try:
            code, body = admin('/_kubesim/watches/drop')
        except Exception as ex:  # noqa: BLE001
            code, body = None, repr(ex)
        t.join(5)
        check('admin POST /_kubesim/watches/drop: 200, dropped >= 1, the open python watch ends within 5 s',
              code == 200 and isinstance(body, dict) and body.get('dropped', 0) >= 1 and bool(ended),
              'got %r %r, watch ended: %r' % (code, body, ended))

    # all namespaces: the cluster-wide list and watch a controller uses
    with Section('all namespaces'):
        allp = api.list_cluster_custom_object(G, V, P)
        nss = sorted({i['metadata']['namespace'] for i in allp['items']})
        got = []
        rva = allp['metadata']['resourceVersion']

        def watch_all():
            w = watch.Watch()
            for ev in w.stream(api.list_cluster_custom_object, G, V, P, resource_version=rva, timeout_seconds=3):
                got.append(ev)
        t = threading.Thread(target=watch_all)
        t.start()
        time.sleep(0.5)
        api.patch_namespaced_custom_object(G, V, 'ci', P, 'github-runners', {'metadata': {'labels': {'seen': 'py'}}})
        t.join()
        real = [(ev['type'], ev['raw_object']['metadata'].get('namespace'), ev['raw_object']['metadata'].get('name'))
                for ev in got if ev['type'] != 'BOOKMARK']
        check('python list/watch across namespaces (/apis/azpool.dev/v1alpha1/workerpools): several namespaces, '
              'a change in ci arrives', len(nss) >= 3 and 'py' in nss and real == [('MODIFIED', 'ci', 'github-runners')],
              'namespaces %r, events %r' % (nss, real))

    # field selector on list
    with Section('field selector on list'):
        api.create_namespaced_custom_object(G, V, ns, P, pool(ns, 'q', 1))
        sel = api.list_namespaced_custom_object(G, V, ns, P, field_selector='metadata.name=q')
        lab = api.list_namespaced_custom_object(G, V, ns, P, label_selector='gen=c')
        check('python list with fieldSelector metadata.name=q and labelSelector gen=c: one item each',
              [i['metadata']['name'] for i in sel['items']] == ['q'] and
              [i['metadata']['name'] for i in lab['items']] == ['p'],
              'got %r / %r' % ([i['metadata']['name'] for i in sel['items']], [i['metadata']['name'] for i in lab['items']]))

    # delete
    with Section('delete'):
        d, e = status_of(lambda: api.delete_namespaced_custom_object(G, V, ns, P, 'q'))
        _, e2 = status_of(lambda: api.get_namespaced_custom_object(G, V, ns, P, 'q'))
        check('python delete py/q: Status Success with details.uid, then GET 404',
              e is None and d.get('status') == 'Success' and bool(d.get('details', {}).get('uid')) and
              e2 is not None and e2.status == 404, 'got %s / get %s' % (fmt(e, d), e2 and e2.status))
    return 0 if all(RESULTS) else 1


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    try:
        if cmd == 'ready' and len(args) == 2:
            ready(*args)
        elif cmd == 'touch' and len(args) == 3:
            touch(*args)
        elif cmd == 'event' and len(args) == 3:
            event(*args)
        elif cmd == 'unfinalize' and len(args) == 2:
            unfinalize(*args)
        elif cmd == 'jpath' and len(args) == 1:
            jpath(args[0])
        elif cmd == 'suite' and not args:
            return suite()
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except ApiException as e:
        print('%s: %s %s' % (cmd, e.status, e.body), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
