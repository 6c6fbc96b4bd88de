#!/usr/bin/python3
"""crdcheck.py - validates documents against the CRD schemas in crds/ the way a Kubernetes API
server with strict field validation would, without a server. Used by suite-crd.sh.

    crdcheck.py structural CRD...          checks the CRDs are structural and sound
    crdcheck.py validate CRDDIR FILE...    validates every document of every FILE
    crdcheck.py cel 'RULE' JSON            evaluates one CEL rule (self = JSON), for tests

`validate` prints one line per error ("FILE: doc N (Kind ns/name): PATH: MESSAGE"), a line
"FILE: accepted" or "FILE: rejected", and exits 0 when every file was accepted, 1 otherwise,
2 on a usage error. With --expect-reject it prints the same and exits 0 when every file was
rejected.

How a document is checked (Kubernetes' order: prune, default, validate, CEL):
  - YAML is read with YAML 1.2 core-schema scalar typing (what the core's rc_node does: `yes`
    is a string, `010` is the integer 10, no timestamps), duplicate keys are an error, and
    aliases are refused, so a document means the same thing here and in the core.
  - A document whose kind ends in "List" with an items list (`kubectl get -o yaml` output)
    is checked item by item, as the core decodes it.
  - Documents whose apiVersion group is not azpool.dev are skipped (the core skips them with a
    notice). A kind or version of azpool.dev that no CRD serves is rejected (the API server
    answers 404).
  - metadata: name (DNS-1123 subdomain) is required, namespace must be a DNS-1123 label, labels
    and annotations must be valid, unknown ObjectMeta fields are errors.
  - The openAPIV3Schema is translated to JSON Schema draft 7: `nullable` adds "null" to the
    type, `x-kubernetes-int-or-string` keeps its anyOf of integer and string (pattern and
    minimum apply to the matching type, as in Kubernetes), every object schema with
    `properties` and without `x-kubernetes-preserve-unknown-fields: true` gets
    `additionalProperties: false` (strict field validation turns pruned fields into errors),
    `format: date-time` is checked as RFC 3339.
  - `default`s are applied first, like the API server does.
  - `x-kubernetes-list-type: map` (unique keys) and `set` (unique items) are enforced.
  - `x-kubernetes-validations` rules are evaluated by the small CEL evaluator below, which
    implements exactly the subset the CRDs use (see the header of crds/workerpools.yaml) and
    fails loudly on anything else, so a rule can never be skipped silently. Decision: the
    rules are evaluated as written rather than restated as JSON Schema in an annotation, so
    there is one copy of each rule and the test checks the very text the API server runs;
    crd_agree.py also re-evaluates every rule evaluation with @bufbuild/cel, a conformant CEL
    implementation, when node has it.
"""
import datetime
import json
import re
import sys

import jsonschema
import yaml

GROUP = "azpool.dev"

# ---------------------------------------------------------------------------------------
# YAML 1.2 core schema loader (mirrors reconcile/rc_node.h)


class YamlError(Exception):
    pass


class Core12Loader(yaml.SafeLoader):
    pass


Core12Loader.yaml_implicit_resolvers = {}
Core12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
Core12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"))
Core12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))
Core12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


def _construct_int(loader, node):
    v = loader.construct_scalar(node)
    if v.startswith("0o"):
        return int(v[2:], 8)
    if v.startswith("0x"):
        return int(v[2:], 16)
    try:
        return int(v, 10)
    except ValueError:
        raise YamlError("line %d: !!int %r is not an integer" % (node.start_mark.line + 1, v))


def _construct_float(loader, node):
    v = loader.construct_scalar(node)
    low = v.lower()
    if low in (".inf", "+.inf"):
        return float("inf")
    if low == "-.inf":
        return float("-inf")
    if low == ".nan":
        return float("nan")
    try:
        return float(v)
    except ValueError:
        raise YamlError("line %d: !!float %r is not a number" % (node.start_mark.line + 1, v))


def _construct_bool(loader, node):
    v = loader.construct_scalar(node)
    if v in ("true", "True", "TRUE"):
        return True
    if v in ("false", "False", "FALSE"):
        return False
    raise YamlError("line %d: !!bool %r is not a boolean" % (node.start_mark.line + 1, v))


def _construct_mapping(loader, node, deep=False):
    seen = set()
    out = {}
    for knode, vnode in node.value:
        key = loader.construct_object(knode, deep=True)
        if isinstance(key, (dict, list)):
            raise YamlError("line %d: mapping keys must be scalars" % (knode.start_mark.line + 1))
        key = str(key) if not isinstance(key, str) else key
        if key in seen:
            raise YamlError("line %d: duplicate key %r" % (knode.start_mark.line + 1, key))
        seen.add(key)
        out[key] = loader.construct_object(vnode, deep=True)
    return out


Core12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Core12Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
Core12Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
Core12Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _refuse_alias(self, *a, **kw):
    raise YamlError("YAML aliases are not supported")


def load_yaml_docs(text):
    """All documents of a YAML stream (None for empty ones). Raises YamlError."""
    loader = Core12Loader(text)
    orig = loader.compose_node

    def compose_node(parent, index):
        if loader.check_event(yaml.events.AliasEvent):
            _refuse_alias(None)
        return orig(parent, index)

    loader.compose_node = compose_node
    try:
        docs = []
        while loader.check_data():
            docs.append(loader.get_data())
        return docs
    except yaml.YAMLError as e:
        raise YamlError("YAML syntax: %s" % str(e).replace("\n", " "))
    finally:
        loader.dispose()


# ---------------------------------------------------------------------------------------
# A tiny CEL evaluator: exactly the subset the CRDs use.


class CelError(Exception):
    """A rule that cannot be parsed or evaluated (a runtime error fails the rule)."""


_TOK = re.compile(r"""
    (?P<ws>\s+)
  | (?P<raw>[rR](?:'[^']*'|"[^"]*"))
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<num>[0-9]+)
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+!<>?:.,()\[\]])
""", re.X)


def _unescape(body):
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            out.append({"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}.get(n))
            if out[-1] is None:
                raise CelError("unsupported escape \\%s" % n)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def cel_tokens(src):
    toks, pos = [], 0
    while pos < len(src):
        m = _TOK.match(src, pos)
        if not m:
            raise CelError("cannot parse CEL at %r" % src[pos:pos + 20])
        pos = m.end()
        kind = m.lastgroup
        text = m.group()
        if kind == "ws":
            continue
        if kind == "raw":
            toks.append(("lit", text[2:-1]))
        elif kind == "str":
            toks.append(("lit", _unescape(text[1:-1])))
        elif kind == "num":
            toks.append(("lit", int(text)))
        elif kind == "id" and text in ("true", "false", "null"):
            toks.append(("lit", {"true": True, "false": False, "null": None}[text]))
        elif kind == "id" and text == "in":
            toks.append(("op", "in"))
        else:
            toks.append((kind, text))
    toks.append(("end", None))
    return toks


class _Parser:
    """Recursive descent over the CEL grammar subset; builds tuples (op, ...)."""

    def __init__(self, src):
        self.t = cel_tokens(src)
        self.i = 0

    def peek(self, v=None):
        k, t = self.t[self.i]
        return t if v is None else (k == "op" and t == v)

    def take(self, v=None):
        k, t = self.t[self.i]
        if v is not None and not (k == "op" and t == v):
            raise CelError("expected %r, found %r" % (v, t))
        self.i += 1
        return k, t

    def parse(self):
        e = self.cond()
        if self.t[self.i][0] != "end":
            raise CelError("unexpected %r" % (self.t[self.i][1],))
        return e

    def cond(self):
        c = self.orx()
        if self.peek("?"):
            self.take("?")
            a = self.cond()
            self.take(":")
            b = self.cond()
            return ("?:", c, a, b)
        return c

    def orx(self):
        e = self.andx()
        while self.peek("||"):
            self.take()
            e = ("||", e, self.andx())
        return e

    def andx(self):
        e = self.rel()
        while self.peek("&&"):
            self.take()
            e = ("&&", e, self.rel())
        return e

    def rel(self):
        e = self.add()
        for op in ("==", "!=", "<=", ">=", "<", ">", "in"):
            if self.peek(op):
                self.take()
                return (op, e, self.add())
        return e

    def add(self):
        e = self.unary()
        while self.peek("+") or self.peek("-"):
            _, op = self.take()
            e = (op, e, self.unary())
        return e

    def unary(self):
        if self.peek("!"):
            self.take()
            return ("!", self.unary())
        if self.peek("-"):
            self.take()
            return ("neg", self.unary())
        return self.member()

    def args(self):
        self.take("(")
        out = []
        if not self.peek(")"):
            out.append(self.cond())
            while self.peek(","):
                self.take()
                out.append(self.cond())
        self.take(")")
        return out

    def member(self):
        e = self.primary()
        while self.peek("."):
            self.take()
            k, name = self.take()
            if k != "id":
                raise CelError("expected a field name after '.'")
            if self.peek("("):
                e = ("call", name, e, self.args())
            else:
                e = ("sel", e, name)
        return e

    def primary(self):
        k, t = self.take()
        if k == "lit":
            return ("lit", t)
        if k == "op" and t == "(":
            e = self.cond()
            self.take(")")
            return e
        if k == "op" and t == "[":
            items = []
            if not self.peek("]"):
                items.append(self.cond())
                while self.peek(","):
                    self.take()
                    items.append(self.cond())
            self.take("]")
            return ("list", items)
        if k == "id":
            if self.peek("("):
                return ("call", t, None, self.args())
            return ("var", t)
        raise CelError("unexpected %r" % (t,))


_DUR = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_DUR_NS = {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 10**6, "s": 10**9,
           "m": 60 * 10**9, "h": 3600 * 10**9}


class Duration:
    """A CEL duration (cel-go parses with Go's time.ParseDuration; range of int64 ns)."""

    def __init__(self, ns):
        self.ns = ns

    def __eq__(self, o):
        return isinstance(o, Duration) and self.ns == o.ns

    def __lt__(self, o):
        return self.ns < o.ns

    def __le__(self, o):
        return self.ns <= o.ns

    def __gt__(self, o):
        return self.ns > o.ns

    def __ge__(self, o):
        return self.ns >= o.ns


def go_duration(s):
    if not isinstance(s, str):
        raise CelError("duration() needs a string")
    orig = s
    neg = s.startswith("-")
    if s[:1] in "+-" and s:
        s = s[1:]
    if s == "0":
        return Duration(0)
    if not s:
        raise CelError("invalid duration %r" % orig)
    total, pos = 0, 0
    while pos < len(s):
        m = _DUR.match(s, pos)
        if not m or m.group(1) in ("", "."):
            raise CelError("invalid duration %r" % orig)
        whole, _, frac = m.group(1).partition(".")
        unit = _DUR_NS[m.group(2)]
        total += int(whole or "0") * unit
        if frac:
            total += int(int(frac) * unit / 10 ** len(frac))
        pos = m.end()
    if total > 2**63 - 1:
        raise CelError("duration %r out of range" % orig)
    return Duration(-total if neg else total)


def _kind(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "map"
    if isinstance(v, Duration):
        return "duration"
    if v is None:
        return "null"
    raise CelError("unsupported value %r" % (v,))


def _eq(a, b):
    ka, kb = _kind(a), _kind(b)
    if {ka, kb} <= {"int", "double"}:
        return a == b
    if ka != kb:
        return False  # heterogeneous equality is false in CEL
    if ka == "list":
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))
    if ka == "map":
        return a.keys() == b.keys() and all(_eq(a[k], b[k]) for k in a)
    return a == b


class _Eval:
    def __init__(self, env):
        self.env = env

    def ev(self, e):
        op = e[0]
        if op == "lit":
            return e[1]
        if op == "var":
            if e[1] not in self.env:
                raise CelError("undeclared reference %r" % e[1])
            return self.env[e[1]]
        if op == "list":
            return [self.ev(x) for x in e[1]]
        if op == "sel":
            obj = self.ev(e[1])
            if not isinstance(obj, dict):
                raise CelError("field %r of a non-object" % e[2])
            if e[2] not in obj:
                raise CelError("no such key: %s" % e[2])
            return obj[e[2]]
        if op in ("&&", "||"):
            decisive = op == "||"
            try:
                a = self._bool(self.ev(e[1]))
                if a == decisive:
                    return a
                err = None
            except CelError as x:
                err = x
            b = self._bool(self.ev(e[2]))
            if b == decisive:
                return b
            if err:
                raise err
            return b
        if op == "!":
            return not self._bool(self.ev(e[1]))
        if op == "neg":
            v = self.ev(e[1])
            if _kind(v) != "int":
                raise CelError("no such overload: -%s" % _kind(v))
            return -v
        if op == "?:":
            return self.ev(e[2]) if self._bool(self.ev(e[1])) else self.ev(e[3])
        if op in ("==", "!="):
            r = _eq(self.ev(e[1]), self.ev(e[2]))
            return r if op == "==" else not r
        if op in ("<", "<=", ">", ">="):
            a, b = self.ev(e[1]), self.ev(e[2])
            ka, kb = _kind(a), _kind(b)
            if not (ka == kb and ka in ("int", "double", "string", "duration")) and \
                    not {ka, kb} <= {"int", "double"}:
                raise CelError("no such overload: %s %s %s" % (ka, op, kb))
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        if op in ("+", "-"):
            a, b = self.ev(e[1]), self.ev(e[2])
            if _kind(a) == _kind(b) == "int":
                return a + b if op == "+" else a - b
            if op == "+" and _kind(a) == _kind(b) and _kind(a) in ("string", "list"):
                return a + b
            raise CelError("no such overload: %s %s %s" % (_kind(a), op, _kind(b)))
        if op == "in":
            a, b = self.ev(e[1]), self.ev(e[2])
            if isinstance(b, list):
                return any(_eq(a, x) for x in b)
            if isinstance(b, dict):
                return a in b
            raise CelError("no such overload: in %s" % _kind(b))
        if op == "call":
            return self.call(e[1], e[2], e[3])
        raise CelError("unsupported expression %r" % (op,))

    def _bool(self, v):
        if not isinstance(v, bool):
            raise CelError("expected a bool, got %s" % _kind(v))
        return v

    def call(self, name, target, args):
        if target is None and name == "has":
            if len(args) != 1 or args[0][0] != "sel":
                raise CelError("has() needs a field selection")
            obj = self.ev(args[0][1])
            if not isinstance(obj, dict):
                raise CelError("has() on a non-object")
            return args[0][2] in obj
        if target is not None and name in ("all", "exists", "exists_one"):
            coll = self.ev(target)
            if len(args) != 2 or args[0][0] != "var":
                raise CelError("%s() needs (var, predicate)" % name)
            var = args[0][1]
            items = list(coll.keys()) if isinstance(coll, dict) else coll
            if not isinstance(items, list):
                raise CelError("%s() on %s" % (name, _kind(coll)))
            results = []
            for it in items:
                sub = _Eval(dict(self.env, **{var: it}))
                results.append(sub._bool(sub.ev(args[1])))
            if name == "all":
                return all(results)
            if name == "exists":
                return any(results)
            return results.count(True) == 1
        vals = [self.ev(a) for a in args]
        if target is None:
            if name == "size" and len(vals) == 1:
                return self._size(vals[0])
            if name == "duration" and len(vals) == 1:
                return go_duration(vals[0])
            if name == "int" and len(vals) == 1:
                v = vals[0]
                if _kind(v) == "int":
                    return v
                if _kind(v) == "string" and re.fullmatch(r"[-+]?[0-9]+", v):
                    return int(v)
                raise CelError("int() of %r" % (v,))
            if name == "string" and len(vals) == 1:
                v = vals[0]
                if _kind(v) in ("string", "int"):
                    return str(v)
                raise CelError("string() of %s" % _kind(v))
            raise CelError("unsupported function %s()" % name)
        obj = self.ev(target)
        if name == "size" and not vals:
            return self._size(obj)
        if name == "lowerAscii" and not vals and _kind(obj) == "string":
            return "".join(c.lower() if "A" <= c <= "Z" else c for c in obj)
        if _kind(obj) == "string" and len(vals) == 1 and _kind(vals[0]) == "string":
            if name == "startsWith":
                return obj.startswith(vals[0])
            if name == "endsWith":
                return obj.endswith(vals[0])
            if name == "contains":
                return vals[0] in obj
            if name == "matches":
                try:
                    return re.search(vals[0], obj) is not None  # RE2 semantics: unanchored
                except re.error as x:
                    raise CelError("bad regex %r: %s" % (vals[0], x))
        raise CelError("unsupported method %s.%s()" % (_kind(obj), name))

    def _size(self, v):
        if _kind(v) in ("string", "list", "map"):
            return len(v)
        raise CelError("size() of %s" % _kind(v))


_parsed = {}
CEL_FUNCS = {"has", "size", "duration", "int", "string"}
CEL_METHODS = {"size", "all", "exists", "exists_one", "startsWith", "endsWith", "contains",
               "matches", "lowerAscii"}


def _check_calls(e):
    if not isinstance(e, tuple):
        return
    if e[0] == "call":
        name, target = e[1], e[2]
        if (target is None and name not in CEL_FUNCS) or \
                (target is not None and name not in CEL_METHODS):
            raise CelError("function %s() is outside the supported subset" % name)
    for x in e[1:]:
        if isinstance(x, tuple):
            _check_calls(x)
        elif isinstance(x, list):
            for y in x:
                _check_calls(y)


def cel_compile(rule):
    """Parses a rule of the supported subset (CelError otherwise); cached."""
    if rule not in _parsed:
        ast = _Parser(rule).parse()
        _check_calls(ast)
        _parsed[rule] = ast
    return _parsed[rule]


EVAL_LOG = None  # when a dict: (rule, JSON of self) -> True | False | "error", for cross-checks


def cel_eval(rule, self_value):
    """True when the rule holds; False when it does not; CelError on a runtime error."""
    try:
        v = _Eval({"self": self_value}).ev(cel_compile(rule))
        if not isinstance(v, bool):
            raise CelError("rule does not evaluate to a bool")
    except CelError:
        if EVAL_LOG is not None:
            EVAL_LOG[(rule, json.dumps(self_value, sort_keys=True))] = "error"
        raise
    if EVAL_LOG is not None:
        EVAL_LOG[(rule, json.dumps(self_value, sort_keys=True))] = v
    return v


# ---------------------------------------------------------------------------------------
# CRD loading and structural checks

FORBIDDEN = ("$ref", "definitions", "dependencies", "patternProperties", "readOnly", "writeOnly",
             "xml", "discriminator", "id", "deprecated", "additionalItems", "$schema")
ALLOWED_KEYS = {"type", "format", "description", "title", "default", "nullable", "enum",
                "maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf",
                "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
                "maxProperties", "minProperties", "required", "items", "properties",
                "additionalProperties", "allOf", "anyOf", "oneOf", "not", "example",
                "externalDocs", "x-kubernetes-preserve-unknown-fields",
                "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource",
                "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
                "x-kubernetes-validations"}
TYPES = ("object", "array", "string", "integer", "number", "boolean")
# Things POSIX ERE (regcomp, as a C validator would use) and RE2 do not share with Python.
NONPORTABLE_RE = re.compile(r"\\[dDwWsSbB]|\(\?|\\[0-9]|\[[^\]]*\\")


def load_crd(path):
    with open(path, encoding="utf-8") as f:
        docs = [d for d in load_yaml_docs(f.read()) if d is not None]
    if len(docs) != 1:
        raise ValueError("%s: expected exactly one document, found %d" % (path, len(docs)))
    return docs[0]


def structural_errors(crd, where="crd"):
    errs = []

    def err(path, msg):
        errs.append("%s: %s: %s" % (where, path, msg))

    if crd.get("apiVersion") != "apiextensions.k8s.io/v1" or \
            crd.get("kind") != "CustomResourceDefinition":
        err("", "not an apiextensions.k8s.io/v1 CustomResourceDefinition")
        return errs
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    if crd.get("metadata", {}).get("name") != "%s.%s" % (names.get("plural"), spec.get("group")):
        err("metadata.name", "must be <plural>.<group>")
    if spec.get("group") != GROUP:
        err("spec.group", "must be %s" % GROUP)
    if spec.get("scope") != "Namespaced":
        err("spec.scope", "must be Namespaced")
    for k in ("plural", "singular", "kind", "listKind"):
        if not names.get(k):
            err("spec.names." + k, "required")
    if names.get("listKind") != "%sList" % names.get("kind"):
        err("spec.names.listKind", "must be <kind>List")
    if names.get("plural") != str(names.get("plural", "")).lower():
        err("spec.names.plural", "must be lowercase")
    if "azpool" not in names.get("categories", []):
        err("spec.names.categories", "must contain azpool")
    if not names.get("shortNames"):
        err("spec.names.shortNames", "required")
    unknown = crd_unknown_keys(crd)
    for k in unknown or []:
        err(k, "not a field of apiextensions.k8s.io/v1 CustomResourceDefinition")
    versions = spec.get("versions", [])
    if [v.get("storage") for v in versions].count(True) != 1:
        err("spec.versions", "exactly one version must be the storage version")
    for vi, v in enumerate(versions):
        vp = "spec.versions[%d]" % vi
        if v.get("name") != "v1alpha1" or v.get("served") is not True:
            err(vp, "v1alpha1 must be served")
        sub = v.get("subresources", {})
        if sub.get("status") != {}:
            err(vp + ".subresources.status", "must be {}")
        scale = sub.get("scale")
        if scale is not None:
            for k in ("specReplicasPath", "statusReplicasPath"):
                if not re.fullmatch(r"\.(spec|status)(\.[A-Za-z0-9]+)+", scale.get(k, "")):
                    err(vp + ".subresources.scale." + k, "must be a simple path")
            if not scale["specReplicasPath"].startswith(".spec."):
                err(vp + ".subresources.scale.specReplicasPath", "must be under .spec")
            if not scale["statusReplicasPath"].startswith(".status."):
                err(vp + ".subresources.scale.statusReplicasPath", "must be under .status")
        schema = v.get("schema", {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            err(vp + ".schema.openAPIV3Schema", "required")
            continue
        sp = vp + ".schema.openAPIV3Schema"
        _walk_structural(schema, sp, err, root=True, in_junctor=False)
        if scale is not None:
            for k in ("specReplicasPath", "statusReplicasPath", "labelSelectorPath"):
                node = _schema_at(schema, scale.get(k, ""))
                want = "string" if k == "labelSelectorPath" else "integer"
                if node is None or node.get("type") != want:
                    err(vp + ".subresources.scale." + k, "must point to a declared %s" % want)
        for ci, col in enumerate(v.get("additionalPrinterColumns", [])):
            cp = "%s.additionalPrinterColumns[%d]" % (vp, ci)
            if col.get("type") not in ("integer", "number", "string", "boolean", "date"):
                err(cp + ".type", "invalid printer column type")
            jp = col.get("jsonPath", "")
            if not jp.startswith("."):
                err(cp + ".jsonPath", "must start with '.'")
            simple = re.match(r"^((\.[A-Za-z0-9]+)+)", jp)
            if simple and not jp.startswith(".metadata."):
                node = _schema_at(schema, simple.group(1))
                if node is None:
                    err(cp + ".jsonPath", "%s is not declared in the schema" % simple.group(1))
                elif jp == simple.group(1):
                    t = {"date": "string", "integer": "integer"}.get(col["type"], col["type"])
                    if node.get("type") != t:
                        err(cp + ".type", "column type %s but field type %s"
                            % (col["type"], node.get("type")))
    return errs


def crd_unknown_keys(crd):
    """Keys of the CRD object (outside openAPIV3Schema) that apiextensions.k8s.io/v1 does not
    define, found by walking the python3-kubernetes model classes; None when the client is
    not installed. (The schema itself is checked by _walk_structural: this client predates
    x-kubernetes-validations.)"""
    try:
        import kubernetes.client as kc
    except ImportError:
        return None
    out = []

    def walk(value, cls_name, path):
        if cls_name.startswith("list["):
            if isinstance(value, list):
                for i, v in enumerate(value):
                    walk(v, cls_name[5:-1], "%s[%d]" % (path, i))
            return
        if cls_name.startswith("dict(") or cls_name == "object":
            return
        cls = getattr(kc, cls_name, None)
        if cls is None or not isinstance(value, dict):
            return
        if cls_name == "V1JSONSchemaProps":
            return
        by_json = {j: a for a, j in cls.attribute_map.items()}
        for k, v in value.items():
            if k not in by_json:
                out.append("%s.%s" % (path, k) if path else k)
            else:
                walk(v, cls.openapi_types[by_json[k]], "%s.%s" % (path, k) if path else k)

    walk(crd, "V1CustomResourceDefinition", "")
    return out


def _schema_at(schema, path):
    node = schema
    for part in path.strip(".").split("."):
        node = (node.get("properties") or {}).get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def _walk_structural(s, path, err, root=False, in_junctor=False):
    if not isinstance(s, dict):
        err(path, "schema must be an object")
        return
    for k in s:
        if k in FORBIDDEN:
            err(path, "%s is not allowed in a structural schema" % k)
        elif k not in ALLOWED_KEYS:
            err(path, "unknown schema keyword %r" % k)
    intstr = s.get("x-kubernetes-int-or-string") is True
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    if in_junctor:
        for k in ("type", "default", "nullable", "additionalProperties", "description",
                  "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
                  "x-kubernetes-validations", "x-kubernetes-list-type"):
            if k in s:
                err(path, "%s is not allowed inside allOf/anyOf/oneOf/not" % k)
    else:
        t = s.get("type")
        if intstr:
            if t is not None:
                err(path, "x-kubernetes-int-or-string must not have a type")
            any_of = s.get("anyOf")
            if any_of != [{"type": "integer"}, {"type": "string"}]:
                err(path, "x-kubernetes-int-or-string needs anyOf [integer, string]")
        elif t not in TYPES:
            err(path, "type is required (one of %s)" % ", ".join(TYPES))
    if s.get("uniqueItems") is True:
        err(path, "uniqueItems: true is not allowed")
    if s.get("additionalProperties") is False:
        err(path, "additionalProperties: false is not allowed")
    if "additionalProperties" in s and "properties" in s:
        err(path, "additionalProperties and properties are mutually exclusive")
    if "additionalProperties" in s and preserve:
        err(path, "additionalProperties and x-kubernetes-preserve-unknown-fields conflict")
    t = s.get("type")
    if "properties" in s and t != "object":
        err(path, "properties on a non-object")
    if "items" in s and t != "array":
        err(path, "items on a non-array")
    if t == "array" and not in_junctor and not isinstance(s.get("items"), dict):
        err(path, "arrays need an items schema")
    if t == "object" and not in_junctor and not ("properties" in s or "additionalProperties"
                                                 in s or preserve):
        if path.endswith(".tag"):
            pass  # an intentionally empty object ({}), nothing may be set in it
        elif not (root is False and path.endswith(".metadata")):
            err(path, "object without properties, additionalProperties or "
                "x-kubernetes-preserve-unknown-fields accepts nothing")
    for k in s.get("required", []):
        if k not in s.get("properties", {}) and not in_junctor:
            err(path, "required field %r is not declared" % k)
    if "pattern" in s:
        p = s["pattern"]
        try:
            re.compile(p)
        except re.error as x:
            err(path, "pattern does not compile: %s" % x)
        if NONPORTABLE_RE.search(p):
            err(path, "pattern %r uses escapes or groups that RE2/POSIX ERE do not share" % p)
    if "enum" in s:
        for v in s["enum"]:
            if t == "string" and not isinstance(v, str):
                err(path, "enum value %r is not a string" % (v,))
    if "format" in s and s["format"] not in ("int32", "int64", "date-time", "date", "byte",
                                             "float", "double", "password"):
        err(path, "unknown format %r" % s["format"])
    lt = s.get("x-kubernetes-list-type")
    if lt is not None:
        if t != "array":
            err(path, "x-kubernetes-list-type on a non-array")
        if lt not in ("atomic", "set", "map"):
            err(path, "invalid x-kubernetes-list-type")
        if lt == "map":
            keys = s.get("x-kubernetes-list-map-keys") or []
            item = s.get("items", {})
            if not keys:
                err(path, "list-type map needs x-kubernetes-list-map-keys")
            for k in keys:
                ks = item.get("properties", {}).get(k)
                if ks is None or (k not in item.get("required", []) and "default" not in ks):
                    err(path, "map key %r must be a required (or defaulted) field" % k)
                elif ks.get("type") not in ("string", "integer", "boolean"):
                    err(path, "map key %r must be a scalar" % k)
        if lt == "set" and s.get("items", {}).get("type") not in ("string", "integer",
                                                                   "boolean", "number"):
            err(path, "list-type set needs scalar items")
    for vi, rule in enumerate(s.get("x-kubernetes-validations", [])):
        rp = "%s.x-kubernetes-validations[%d]" % (path, vi)
        if not isinstance(rule, dict) or not isinstance(rule.get("rule"), str):
            err(rp, "needs a rule string")
            continue
        if not rule.get("message"):
            err(rp, "needs a message")
        if rule.get("reason", "FieldValueInvalid") not in (
                "FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired",
                "FieldValueDuplicate"):
            err(rp, "invalid reason")
        if "oldSelf" in rule["rule"]:
            err(rp, "transition rules are not used by Azpool")
        try:
            cel_compile(rule["rule"])
        except CelError as x:
            err(rp, "outside the CEL subset: %s" % x)
        fp = rule.get("fieldPath")
        if fp is not None:
            if _schema_at(s, fp) is None:
                err(rp + ".fieldPath", "%s is not a declared field" % fp)
    if "default" in s and not in_junctor:
        try:
            jsonschema.Draft7Validator(to_jsonschema(s)).validate(s["default"])
        except jsonschema.ValidationError as x:
            err(path, "default does not validate: %s" % x.message)
    for k, sub in (s.get("properties") or {}).items():
        _walk_structural(sub, "%s.properties.%s" % (path, k), err, in_junctor=in_junctor)
    if isinstance(s.get("items"), dict):
        _walk_structural(s["items"], path + ".items", err, in_junctor=in_junctor)
    if isinstance(s.get("additionalProperties"), dict):
        _walk_structural(s["additionalProperties"], path + ".additionalProperties", err,
                         in_junctor=in_junctor)
    for j in ("allOf", "anyOf", "oneOf"):
        if j in s and not (intstr and j == "anyOf"):
            for i, sub in enumerate(s[j]):
                _walk_structural(sub, "%s.%s[%d]" % (path, j, i), err, in_junctor=True)
    if "not" in s:
        _walk_structural(s["not"], path + ".not", err, in_junctor=True)
    if root:
        md = s.get("properties", {}).get("metadata")
        if md is not None and set(md) - {"type"} and \
                set(md.get("properties", {})) - {"name", "generateName"}:
            err(path + ".properties.metadata", "may only constrain name and generateName")
        for k in ("apiVersion", "kind", "metadata", "spec", "status"):
            if k not in s.get("properties", {}):
                err(path, "missing top-level property %s" % k)


# ---------------------------------------------------------------------------------------
# OpenAPI v3 (Kubernetes flavour) -> JSON Schema draft 7


def to_jsonschema(s):
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k.startswith("x-kubernetes-") or k in ("nullable", "description", "default",
                                                 "example", "externalDocs"):
            continue
        if k == "format" and v != "date-time":
            continue
        if k in ("properties",):
            out[k] = {pk: to_jsonschema(pv) for pk, pv in v.items()}
        elif k in ("items", "additionalProperties", "not") and isinstance(v, dict):
            out[k] = to_jsonschema(v)
        elif k in ("allOf", "anyOf", "oneOf"):
            out[k] = [to_jsonschema(x) for x in v]
        else:
            out[k] = v
    if s.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if s.get("type") == "object" and "additionalProperties" not in s and \
            not s.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


_RFC3339 = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                      r"([Zz]|[+-][0-9]{2}:[0-9]{2})$")
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time")
def _is_datetime(v):
    if not isinstance(v, str):
        return True
    if not _RFC3339.match(v):
        return False
    try:
        datetime.datetime.fromisoformat(v[:19])
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------
# Defaults, list types and CEL on a document


def apply_defaults(s, v):
    """Kubernetes defaulting: a null for a non-nullable field is pruned (the core also treats
    null as absent), then a missing property with a default gets it (recursively)."""
    if isinstance(v, dict) and s.get("type") == "object":
        for k, ps in (s.get("properties") or {}).items():
            if k in v and v[k] is None and not ps.get("nullable"):
                del v[k]
            if k not in v and "default" in ps:
                v[k] = json.loads(json.dumps(ps["default"]))
            if k in v:
                apply_defaults(ps, v[k])
        ap = s.get("additionalProperties")
        if isinstance(ap, dict):
            for k in v:
                apply_defaults(ap, v[k])
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        for it in v:
            apply_defaults(s["items"], it)


def _type_ok(s, v):
    t = s.get("type")
    if s.get("x-kubernetes-int-or-string"):
        return isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))
    return {"object": lambda: isinstance(v, dict), "array": lambda: isinstance(v, list),
            "string": lambda: isinstance(v, str), "boolean": lambda: isinstance(v, bool),
            "integer": lambda: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda: isinstance(v, (int, float)) and not isinstance(v, bool),
            }.get(t, lambda: True)()


RULES_FIRED = {}  # rule text -> times it rejected a value (coverage for the suite)


def semantic_errors(s, v, path, out):
    """List-type uniqueness and CEL rules. Rules run on every value present whose JSON type
    is the schema's (a wrongly typed value is already reported by the schema); a rule that
    cannot be evaluated counts as failed, as in the API server."""
    if s.get("x-kubernetes-preserve-unknown-fields") and "properties" not in s:
        return
    if not _type_ok(s, v):
        return  # the schema reports the wrong type; rules are typed by the schema
    for rule in s.get("x-kubernetes-validations", []):
        try:
            ok = cel_eval(rule["rule"], v)
            msg = rule["message"]
        except CelError as x:
            ok, msg = False, "rule %r failed to evaluate: %s" % (rule["rule"], x)
        if not ok:
            RULES_FIRED[rule["rule"]] = RULES_FIRED.get(rule["rule"], 0) + 1
            fp = rule.get("fieldPath", "")
            if fp:
                fp = path + fp if path else fp.lstrip(".")
            out.append((fp or path, msg, "cel"))
    lt = s.get("x-kubernetes-list-type")
    if isinstance(v, list):
        if lt == "map":
            keys = s.get("x-kubernetes-list-map-keys", [])
            seen = {}
            for i, it in enumerate(v):
                if not isinstance(it, dict):
                    continue
                key = tuple(json.dumps(it.get(k)) for k in keys)
                if key in seen:
                    where = "%s[%d]" % (path, i) + ("." + keys[0] if len(keys) == 1 else "")
                    out.append((where, "Duplicate value: %s"
                                % ", ".join("%s=%s" % (k, it.get(k)) for k in keys), "list"))
                seen[key] = i
        elif lt == "set":
            seen = []
            for i, it in enumerate(v):
                if any(_eq(it, x) for x in seen):
                    out.append(("%s[%d]" % (path, i), "Duplicate value: %r" % (it,), "list"))
                seen.append(it)
        if isinstance(s.get("items"), dict):
            for i, it in enumerate(v):
                semantic_errors(s["items"], it, "%s[%d]" % (path, i), out)
    elif isinstance(v, dict):
        for k, ps in (s.get("properties") or {}).items():
            if k in v:
                semantic_errors(ps, v[k], "%s.%s" % (path, k) if path else k, out)
        ap = s.get("additionalProperties")
        if isinstance(ap, dict):
            for k in v:
                semantic_errors(ap, v[k], "%s.%s" % (path, k) if path else k, out)


DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
OBJECT_META = {"name", "generateName", "namespace", "uid", "resourceVersion", "generation",
               "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
               "annotations", "ownerReferences", "finalizers", "managedFields", "selfLink"}


def _qualified_name_ok(k):
    prefix, _, name = k.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(QUALIFIED.match(name))


def metadata_errors(md, out):
    if not isinstance(md, dict):
        out.append(("metadata", "must be an object", "meta"))
        return
    for k in md:
        if k not in OBJECT_META:
            out.append(("metadata.%s" % k, "unknown field", "meta"))
    name = md.get("name")
    if not isinstance(name, str) or not name:
        if not md.get("generateName"):
            out.append(("metadata.name", "Required value: name or generateName is required",
                        "meta"))
    elif len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        out.append(("metadata.name", "must be a lowercase RFC 1123 subdomain", "meta"))
    ns = md.get("namespace")
    if ns is not None and (not isinstance(ns, str) or len(ns) > 63 or
                           not DNS1123_LABEL.match(ns)):
        out.append(("metadata.namespace", "must be a lowercase RFC 1123 label", "meta"))
    for field, value_ok in (("labels", True), ("annotations", False)):
        m = md.get(field)
        if m is None:
            continue
        if not isinstance(m, dict):
            out.append(("metadata." + field, "must be a map of strings", "meta"))
            continue
        for k, v in m.items():
            if not _qualified_name_ok(k):
                out.append(("metadata.%s.%s" % (field, k), "invalid key", "meta"))
            if not isinstance(v, str):
                out.append(("metadata.%s.%s" % (field, k), "value must be a string", "meta"))
            elif value_ok and (len(v) > 63 or not LABEL_VALUE.match(v)):
                out.append(("metadata.%s.%s" % (field, k), "invalid label value", "meta"))
    fin = md.get("finalizers")
    if fin is not None and (not isinstance(fin, list) or
                            not all(isinstance(x, str) and _qualified_name_ok(x) for x in fin)):
        out.append(("metadata.finalizers", "must be a list of qualified names", "meta"))


def _jsonschema_path(e, extra=None):
    out = ""
    for p in list(e.absolute_path) + ([extra] if extra is not None else []):
        out += "[%d]" % p if isinstance(p, int) else ("." + p if out else p)
    return out


def _is_strict_int(checker, inst):
    return isinstance(inst, int) and not isinstance(inst, bool)


# Integers are integers only: 3.0 is a number, as in the core (rc_node types it a float).
StrictValidator = jsonschema.validators.extend(
    jsonschema.Draft7Validator,
    type_checker=jsonschema.Draft7Validator.TYPE_CHECKER.redefine("integer", _is_strict_int))


def _schema_errors(validator, obj):
    """jsonschema errors as (path, message, kind); a missing required property and an unknown
    property are reported at the property's own path, as the core does."""
    out = []
    for e in sorted(validator.iter_errors(obj), key=lambda e: [str(x) for x in e.absolute_path]):
        if e.validator == "required" and isinstance(e.instance, dict):
            for r in e.validator_value:
                if r not in e.instance and "'%s'" % r in e.message:
                    out.append((_jsonschema_path(e, r), "Required value", "schema"))
            continue
        if e.validator == "additionalProperties" and e.validator_value is False:
            known = set(e.schema.get("properties", {}))
            for k in e.instance:
                if k not in known:
                    out.append((_jsonschema_path(e, k), "unknown field", "schema"))
            continue
        out.append((_jsonschema_path(e), e.message, "schema"))
    return out


def validate_doc(crds, doc):
    """([(path, message, kind)], label) where kind is schema|cel|list|meta|doc; label is None
    when the document is not an azpool.dev object (skipped, like the core does)."""
    if doc is None:
        return [], None
    if not isinstance(doc, dict):
        return [("", "a document must be a mapping", "doc")], "?"
    api = doc.get("apiVersion")
    kind = doc.get("kind")
    if not isinstance(api, str) or not isinstance(kind, str):
        return [("", "apiVersion and kind are required", "doc")], "?"
    group, _, version = api.rpartition("/")
    if group != GROUP:
        return [], None
    crd = crds.get(kind)
    if crd is None:
        return [("kind", "no CRD of group %s serves kind %r" % (GROUP, kind), "doc")], kind
    ver = [v for v in crd["spec"]["versions"] if v["name"] == version and v["served"]]
    if not ver:
        return [("apiVersion", "version %r of %s is not served" % (version, kind), "doc")], kind
    schema = ver[0]["schema"]["openAPIV3Schema"]
    obj = json.loads(json.dumps(doc))
    out = []
    if "metadata" not in obj:
        out.append(("metadata", "Required value", "meta"))
    else:
        metadata_errors(obj.get("metadata"), out)
    apply_defaults(schema, obj)
    js = to_jsonschema(schema)
    js["properties"]["metadata"].pop("additionalProperties", None)  # ObjectMeta: see above
    out += _schema_errors(StrictValidator(js, format_checker=FORMATS), obj)
    semantic_errors(schema, obj, "", out)
    md = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    label = "%s %s/%s" % (kind, md.get("namespace", "default"), md.get("name", "?"))
    return out, label


def load_crds(crd_dir_or_files):
    import glob
    import os
    files = crd_dir_or_files
    if len(files) == 1 and os.path.isdir(files[0]):
        files = sorted(glob.glob(os.path.join(files[0], "*.yaml")))
    crds = {}
    for f in files:
        c = load_crd(f)
        crds[c["spec"]["names"]["kind"]] = c
    return crds


def validate_text(crds, text):
    """[(doc index or None, label, path, message, kind)] for a YAML stream."""
    try:
        docs = load_yaml_docs(text)
    except YamlError as x:
        return [(None, "", "", str(x), "yaml")]
    out = []
    for i, doc in enumerate(docs):
        items = [doc]
        if isinstance(doc, dict) and isinstance(doc.get("kind"), str) and \
                doc["kind"].endswith("List") and isinstance(doc.get("items"), list):
            items = doc["items"]  # "kubectl get -o yaml" output: checked item by item
        for item in items:
            errs, label = validate_doc(crds, item)
            out += [(i, label, p, m, k) for p, m, k in errs]
    return out


def validate_file(crds, path):
    """Errors of one file as printable lines; [] when accepted."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as x:
        return ["%s: %s" % (path, x)]
    lines = []
    for i, label, p, m, _ in validate_text(crds, text):
        if i is None:
            lines.append("%s: %s" % (path, m))
        else:
            lines.append("%s: doc %d (%s): %s: %s" % (path, i + 1, label, p or "<root>", m))
    return lines


def main(argv):
    if len(argv) >= 2 and argv[1] == "structural":
        errs = []
        for f in argv[2:]:
            try:
                errs += structural_errors(load_crd(f), f)
            except (ValueError, YamlError) as x:
                errs.append("%s: %s" % (f, x))
        for e in errs:
            print(e)
        return 1 if errs else 0
    if len(argv) >= 4 and argv[1] == "validate":
        args = argv[2:]
        expect_reject = False
        if args[0] == "--expect-reject":
            expect_reject = True
            args = args[1:]
        crds = load_crds([args[0]])
        bad = 0
        for f in args[1:]:
            lines = validate_file(crds, f)
            for line in lines:
                print(line)
            print("%s: %s" % (f, "rejected" if lines else "accepted"))
            if bool(lines) != expect_reject:
                bad += 1
        return 1 if bad else 0
    if len(argv) == 4 and argv[1] == "cel":
        try:
            print(json.dumps(cel_eval(argv[2], json.loads(argv[3]))))
            return 0
        except CelError as x:
            print("error: %s" % x)
            return 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
