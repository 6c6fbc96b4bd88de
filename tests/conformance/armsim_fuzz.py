#!/usr/bin/python3
"""armsim_fuzz.py - malformed requests against a running armsim (see suite-armsim-fuzz.sh).

Environment: ARMSIM_URL (https://127.0.0.1:PORT) and ARMSIM_CA (the CA armsim generated).
Every request's outcome is checked (status and Azure error code); after every batch a plain
GET of a resource group must still answer 200. Prints "N passed, N failed" last.
"""
import http.client
import json
import os
import random
import socket
import ssl
import sys
import urllib.parse

URL = urllib.parse.urlparse(os.environ["ARMSIM_URL"])
HOST, PORT = URL.hostname, URL.port
CTX = ssl.create_default_context(cafile=os.environ["ARMSIM_CA"])
rnd = random.Random(20261123)
passed = failed = 0
SUB = "/subscriptions/00000000-0000-0000-0000-00000000f022"
RG = SUB + "/resourceGroups/fuzz"
C = RG + "/providers/Microsoft.Compute"
API_RG = "api-version=2021-04-01"
API_C = "api-version=2024-11-01"
conn = None


def connect():
    global conn
    if conn is not None:
        conn.close()
    conn = http.client.HTTPSConnection(HOST, PORT, context=CTX, timeout=10)


def call(method, path, body=None, headers=None, token=True):
    """Returns (status, json-or-None); reconnects once if the server closed the connection."""
    h = {}
    if token:
        h["Authorization"] = "Bearer " + TOKEN
    if body is not None:
        h["Content-Type"] = "application/json"
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogateescape")
    h.update(headers or {})
    for attempt in range(2):
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            try:
                js = json.loads(data) if data else None
            except ValueError:
                js = {"_raw": data[:200].decode("latin-1")}
            if r.getheader("connection", "").lower() == "close":
                connect()
            return r.status, js
        except (http.client.HTTPException, OSError):
            connect()
            if attempt == 1:
                return -1, None
    return -1, None


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", what)


def code_of(js):
    if isinstance(js, dict):
        e = js.get("error")
        if isinstance(e, dict):
            return e.get("code")
        return e
    return None


def expect(method, path, body, status, code, what, **kw):
    s, js = call(method, path, body, **kw)
    check(s == status and (code is None or code_of(js) == code),
          "%s: %s %s -> %s %s (want %s %s)" % (what, method, path[:80], s, code_of(js), status, code))


def alive(batch):
    s, js = call("GET", RG + "?" + API_RG)
    check(s == 200 and js and js.get("name") == "fuzz", "server alive after batch %s (got %s)" % (batch, s))


def token():
    c = http.client.HTTPSConnection(HOST, PORT, context=CTX, timeout=10)
    body = "grant_type=client_credentials&client_id=fuzzer&client_secret=x&scope=" + \
        urllib.parse.quote("https://management.azure.com/.default", safe="")
    c.request("POST", "/t/oauth2/v2.0/token", body=body,
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    js = json.loads(r.read())
    c.close()
    return js["access_token"]


def raw(data, read=True):
    """Sends raw bytes over a fresh TLS connection; returns what came back (maybe b'')."""
    s = socket.create_connection((HOST, PORT), timeout=5)
    t = CTX.wrap_socket(s, server_hostname=HOST)
    out = b""
    try:
        t.sendall(data)
        if read:
            while True:
                chunk = t.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out and len(out) > 12:
                    break
    except (OSError, ssl.SSLError):
        pass
    finally:
        t.close()
    return out


TOKEN = token()
connect()
# setup: no throttling (the flood would otherwise drain the buckets), a group, a scale set
s, _ = call("POST", "/_armsim/throttle", json.dumps({"enabled": False}), token=False)
check(s == 200, "disable throttling")
check(call("PUT", RG + "?" + API_RG, json.dumps({"location": "westus"}))[0] in (200, 201), "create rg")
VMSS = {"location": "westus", "sku": {"name": "Standard_D2s_v3", "capacity": 2},
        "properties": {"orchestrationMode": "Uniform", "upgradePolicy": {"mode": "Manual"},
                       "virtualMachineProfile": {"storageProfile": {"imageReference": {"id": "/img"}},
                                                 "osProfile": {"computerNamePrefix": "fz", "adminUsername": "u"}}}}
check(call("PUT", C + "/virtualMachineScaleSets/fz?" + API_C, json.dumps(VMSS))[0] == 201, "create vmss")

BAD_JSON = ['{', '{"location":', '[1,2', 'null x', '{"a":1,"a":2}', '\x00\x01', '{"location":"westus"',
            '}{', '{"tags":{"a":}}', "'single'", '{"location": westus}', '\xff\xfe{}', '{"x":1e999999}',
            '{"location":"westus",}', 'true false']

# 1. bad JSON bodies on every write route (InvalidRequestContent)
batch = 0
for i in range(150):
    body = rnd.choice(BAD_JSON)
    if rnd.random() < 0.5:
        body = body + "".join(chr(rnd.randint(32, 126)) for _ in range(rnd.randint(0, 20)))
    try:
        if json.loads(body) is not None and isinstance(json.loads(body), dict):
            continue
    except ValueError:
        pass
    target = rnd.choice([RG + "?" + API_RG, C + "/virtualMachineScaleSets/fz?" + API_C,
                         C + "/virtualMachines/vmx?" + API_C,
                         RG + "/providers/Microsoft.Network/networkInterfaces/n?api-version=2024-05-01"])
    method = rnd.choice(["PUT", "PATCH"])
    expect(method, target, body, 400, "InvalidRequestContent", "bad json")
    if i % 50 == 49:
        batch += 1
        alive(batch)

# 2. unknown / missing api-version
for i in range(150):
    v = rnd.choice(["2099-01-01", "2024-11-02", "latest", "", "2024-11-01-preview-x", "x" * 40,
                    "2021-04-01;drop", "%00"])
    path = rnd.choice([RG, C + "/virtualMachineScaleSets/fz", C + "/virtualMachines/a",
                       C + "/virtualMachineScaleSets/fz/virtualMachines"])
    if rnd.random() < 0.3:
        expect("GET", path, None, 400, "MissingApiVersionParameter", "missing api-version")
    else:
        expect("GET", path + "?api-version=" + urllib.parse.quote(v), None, 400,
               "InvalidApiVersionParameter", "unknown api-version")
    if i % 50 == 49:
        batch += 1
        alive(batch)

# 3. wrong paths
for i in range(150):
    kind = rnd.randint(0, 3)
    if kind == 0:
        ns = "Microsoft.%s" % "".join(rnd.choice("abcdefgh") for _ in range(6))
        expect("GET", RG + "/providers/" + ns + "/things/x?" + API_C, None, 400,
               "NoRegisteredProviderFound", "unknown provider")
    elif kind == 1:
        p = "/" + "/".join("".join(rnd.choice("abcxyz09-_.") for _ in range(rnd.randint(1, 8)))
                           for _ in range(rnd.randint(1, 6)))
        s, js = call("GET", p)
        check(s in (400, 404) and code_of(js) is not None, "garbage path %s -> %s" % (p, s))
    elif kind == 2:
        expect("GET", C + "/virtualMachineScaleSets/nope%d?%s" % (i, API_C), None, 404,
               "ResourceNotFound", "missing vmss")
    else:
        expect("GET", SUB + "/resourceGroups/none%d/providers/Microsoft.Compute/virtualMachines/v?%s"
               % (i, API_C), None, 404, "ResourceGroupNotFound", "missing rg")
    if i % 50 == 49:
        batch += 1
        alive(batch)

# 4. missing or wrong fields
cases = [
    ("PUT", RG + "2?" + API_RG, {}, 400, "LocationRequired"),
    ("PUT", C + "/virtualMachineScaleSets/m?" + API_C, {"sku": {"capacity": 1}}, 400, "LocationRequired"),
    ("PUT", C + "/virtualMachineScaleSets/m?" + API_C,
     {"location": "westus", "sku": {"name": "S", "capacity": 1}, "properties": {}}, 400, "InvalidParameter"),
    ("PUT", C + "/virtualMachineScaleSets/m?" + API_C,
     dict(VMSS, sku={"name": "S", "capacity": -1}), 400, "InvalidParameter"),
    ("PUT", C + "/virtualMachineScaleSets/m?" + API_C,
     dict(VMSS, sku={"name": "S", "capacity": "three"}), 400, "InvalidParameter"),
    ("PUT", C + "/virtualMachineScaleSets/fz?" + API_C,
     dict(VMSS, properties=dict(VMSS["properties"], orchestrationMode="Flexible")), 400, "PropertyChangeNotAllowed"),
    ("POST", C + "/virtualMachineScaleSets/fz/delete?" + API_C, {}, 400, "InvalidParameter"),
    ("POST", C + "/virtualMachineScaleSets/fz/delete?" + API_C, {"instanceIds": []}, 400, "InvalidParameter"),
    ("POST", C + "/virtualMachineScaleSets/fz/delete?" + API_C, {"instanceIds": "0"}, 400, "InvalidParameter"),
    ("POST", C + "/virtualMachineScaleSets/fz/delete?" + API_C, {"instanceIds": ["9999"]}, 400, "InvalidParameter"),
    ("POST", C + "/virtualMachineScaleSets/fz/manualupgrade?" + API_C, {}, 400, "InvalidParameter"),
    ("PUT", C + "/virtualMachines/v1?" + API_C, {"location": "westus"}, 400, "InvalidParameter"),
    ("PUT", C + "/virtualMachines/v1?" + API_C,
     {"location": "westus", "properties": {"hardwareProfile": {}}}, 400, "InvalidParameter"),
    ("PUT", C + "/virtualMachines/v1?" + API_C,
     {"location": "westus", "properties": {"hardwareProfile": {"vmSize": "S"},
                                           "networkProfile": {"networkInterfaces": [{"id": "/nope"}]}}},
     400, "InvalidParameter"),
    ("PUT", C + "/virtualMachines/nov/extensions/e?" + API_C, {"location": "westus"}, 404,
     "ParentResourceNotFound"),
    ("PATCH", C + "/virtualMachines/nov?" + API_C, {"tags": {}}, 404, "ResourceNotFound"),
    ("PUT", RG + "?" + API_RG, {"location": "westus", "tags": {"a/b": "x"}}, 400, "InvalidTagNameCharacters"),
    ("PUT", RG + "?" + API_RG, {"location": "westus", "tags": {"k": "v" * 300}}, 400, "InvalidTag"),
    ("PUT", RG + "?" + API_RG, {"location": "westus", "tags": {"t%d" % k: "v" for k in range(51)}}, 400,
     "InvalidTagCount"),
    ("GET", C + "/virtualMachineScaleSets/fz/virtualMachines?" + API_C + "&$filter=bogus", None, 400,
     "InvalidParameter"),
    ("DELETE", RG + "?" + API_RG + "&forceDeletionTypes=Microsoft.Foo/bar", None, 400,
     "UnsupportedForceDeletionResourceTypeInQueryString"),
    ("PUT", C + "/virtualMachineScaleSets/fz?" + API_C, VMSS, 412, "PreconditionFailed"),
]
for i in range(160):
    m, p, b, st, code = cases[i % len(cases)]
    hdr = {"If-None-Match": "*"} if st == 412 else None
    expect(m, p, json.dumps(b) if b is not None else None, st, code, "fields %d" % (i % len(cases)), headers=hdr)
    if i % 40 == 39:
        batch += 1
        alive(batch)

# 5. authentication
for i in range(100):
    k = i % 4
    if k == 0:
        expect("GET", RG + "?" + API_RG, None, 401, "AuthenticationFailed", "no token", token=False)
    elif k == 1:
        junk = "".join(rnd.choice("abcXYZ.-_019") for _ in range(rnd.randint(1, 300)))
        expect("GET", RG + "?" + API_RG, None, 401, "InvalidAuthenticationToken", "junk token",
               token=False, headers={"Authorization": "Bearer " + junk})
    elif k == 2:
        parts = TOKEN.split(".")
        forged = parts[0] + "." + parts[1] + "." + parts[2][::-1]
        expect("GET", RG + "?" + API_RG, None, 401, "InvalidAuthenticationToken", "forged signature",
               token=False, headers={"Authorization": "Bearer " + forged})
    else:
        form = rnd.choice(["", "grant_type=password", "grant_type=client_credentials",
                           "grant_type=client_credentials&client_id=a",
                           "grant_type=client_credentials&client_id=a&scope=bad",
                           "grant_type=client_credentials&client_id=a&scope=x%2F.default",
                           "%%%%&&&==", "client_id=&grant_type=client_credentials"])
        c2 = http.client.HTTPSConnection(HOST, PORT, context=CTX, timeout=10)
        c2.request("POST", "/t/oauth2/v2.0/token", body=form,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = c2.getresponse()
        js = json.loads(r.read() or b"{}")
        c2.close()
        check(r.status in (400, 401) and "AADSTS" in js.get("error_description", ""),
              "token endpoint rejects %r (%s %s)" % (form, r.status, js.get("error")))
    if i % 50 == 49:
        batch += 1
        alive(batch)

# 6. huge headers, huge URLs, truncated and oversized bodies (raw TLS)
for i in range(60):
    k = i % 6
    if k == 0:
        data = ("GET %s?%s HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n" % (RG, API_RG, "A" * 70000)).encode()
        out = raw(data)
        check(out == b"" or out.split(b" ")[1] in (b"400", b"413", b"431", b"401"),
              "huge header answered %r" % out[:40])
    elif k == 1:
        data = ("GET %s?%s&x=%s HTTP/1.1\r\nHost: x\r\n\r\n" % (RG, API_RG, "B" * 40000)).encode()
        out = raw(data)
        check(out == b"" or out.split(b" ")[1] in (b"400", b"414", b"431", b"401"),
              "huge url answered %r" % out[:40])
    elif k == 2:
        data = ("PUT %s?%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                "Content-Length: 500\r\n\r\n{\"location\":" % (RG, API_RG, TOKEN)).encode()
        raw(data, read=False)  # truncated: we hang up mid-body
        check(True, "truncated body sent")
    elif k == 3:
        data = ("PUT %s?%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                "Content-Length: 99999999999\r\n\r\n{}" % (RG, API_RG, TOKEN)).encode()
        out = raw(data)
        check(out == b"" or out.split(b" ")[1] in (b"413", b"400"), "oversized body answered %r" % out[:40])
    elif k == 4:
        out = raw(b"\x16\x03\x01garbage that is not http\r\n\r\n")
        check(True, "garbage after TLS handshake")
    elif i % 12 == 5:
        data = ("PUT %s?%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n" % (RG, API_RG, TOKEN)).encode()
        out = raw(data)
        check(out.split(b" ")[1:2] == [b"411"], "chunked body: 411 %r" % out[:40])
    else:
        out = raw(b"BREW /coffee HTTP/1.1\r\nHost: x\r\n\r\n")
        check(out == b"" or out.split(b" ")[1] in (b"400", b"403", b"404", b"405", b"501"), "unknown method %r" % out[:40])
    if i % 10 == 9:
        batch += 1
        alive(batch)

# 7. random mutations of valid bodies: never a 5xx, always an error code on 4xx
def mutate(s):
    b = bytearray(s.encode())
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randint(0, 2)
        pos = rnd.randrange(len(b))
        if op == 0:
            b[pos] = rnd.randint(0, 255)
        elif op == 1:
            del b[pos]
        else:
            b.insert(pos, rnd.choice(b'{}[]",:0a\\'))
    return bytes(b)


valid = [(C + "/virtualMachineScaleSets/mut?" + API_C, json.dumps(VMSS)),
         (RG + "?" + API_RG, json.dumps({"location": "westus", "tags": {"a": "b"}})),
         (C + "/virtualMachineScaleSets/fz/delete?" + API_C, json.dumps({"instanceIds": ["0"]}))]
for i in range(300):
    p, b = rnd.choice(valid)
    method = "POST" if p.endswith("delete?" + API_C) else rnd.choice(["PUT", "PATCH"])
    s, js = call(method, p, mutate(b))
    check(s in (200, 201, 202, 204) or (400 <= s < 500 and code_of(js)),
          "mutation %s %s -> %s %s" % (method, p[-60:], s, code_of(js)))
    if i % 50 == 49:
        batch += 1
        alive(batch)

# 8. injected faults are reproducible with a seed, and the server survives resets
def fault_run():
    s, _ = call("POST", "/_armsim/faults", json.dumps(
        {"spec": "GET /subscriptions/*/resourceGroups/fuzz:500=0.15,503=0.15,429=0.15,reset=0.1",
         "seed": 99}), token=False)
    check(s == 200, "set faults")
    seq = []
    for _ in range(60):
        st, js = call("GET", RG + "?" + API_RG)
        if st == 429:
            check(code_of(js) == "TooManyRequests", "fault 429 body %s" % code_of(js))
        seq.append(st)
    return seq


first = fault_run()
second = fault_run()
check(first == second, "same seed, same fault sequence:\n  %s\n  %s" % (first, second))
check(set(first) >= {200, 500, 503, 429, -1}, "every fault kind seen: %s" % sorted(set(first)))
s, _ = call("POST", "/_armsim/faults", json.dumps({"spec": ""}), token=False)
check(s == 200, "clear faults")
s, _ = call("POST", "/_armsim/faults", json.dumps({"spec": "GET x:teapot=1"}), token=False)
check(s == 400, "bad fault spec refused")
batch += 1
alive(batch)

# the request log recorded the flood and the counters agree
s, js = call("GET", "/_armsim/counters", token=False)
total = sum(js["status"].values()) if s == 200 else 0
check(total >= 1000, "counters saw %d requests (>= 1000)" % total)
check(js and js["status"].get("400", 0) >= 400, "counters: 400s recorded")
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
