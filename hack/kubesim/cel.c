/*
 * cel.c - a small CEL evaluator for CRD x-kubernetes-validations rules: literals (int, double,
 * string, bool, null, lists), self and field selection, has(), ! - * / % + -, comparisons, in,
 * && || with CEL's error absorption, ?:, size(), duration(), int(), string(), and the string
 * methods lowerAscii/upperAscii/contains/startsWith/endsWith/matches (POSIX ERE).
 *
 * Evaluation happens while parsing (eagerly); errors are values, so `true || error` is true and
 * an untaken ?: branch cannot fail the rule, as in CEL. A rule that does not parse, that uses
 * oldSelf (transition rules), or whose result is not a bool counts as passing: the simulator
 * never rejects what it does not understand. Ownership: every struct cv holds one reference.
 */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kubesim.h"

enum { V_ERR, V_NULL, V_BOOL, V_INT, V_DBL, V_STR, V_LIST, V_MAP, V_DUR };

struct cv {
    int t;
    long long i; /* bool, int, duration (ns) */
    double d;
    json_t *j; /* string, list, map (reference held) */
};

struct ps {
    const char *p;
    const json_t *self;
    bool bad; /* syntax error or unsupported construct */
    int depth;
    struct {
        char name[32];
        const json_t *val; /* BORROWED element (NULL: unbound, evaluates to an error) */
    } vars[8];             /* macro variables, innermost last */
    int nvars;
};

static struct cv err(void)
{
    struct cv v = {V_ERR, 0, 0, NULL};
    return v;
}

static struct cv mk_bool(bool b)
{
    struct cv v = {V_BOOL, b, 0, NULL};
    return v;
}

static struct cv mk_int(long long i)
{
    struct cv v = {V_INT, i, 0, NULL};
    return v;
}

static struct cv from_json(const json_t *j)
{
    struct cv v = {V_NULL, 0, 0, NULL};
    switch (json_typeof(j)) {
    case JSON_TRUE:
        return mk_bool(true);
    case JSON_FALSE:
        return mk_bool(false);
    case JSON_INTEGER:
        return mk_int(json_integer_value(j));
    case JSON_REAL:
        v.t = V_DBL;
        v.d = json_real_value(j);
        return v;
    case JSON_STRING:
        v.t = V_STR;
        break;
    case JSON_ARRAY:
        v.t = V_LIST;
        break;
    case JSON_OBJECT:
        v.t = V_MAP;
        break;
    default:
        return v;
    }
    v.j = json_incref((json_t *)j);
    return v;
}

static void drop(struct cv *v)
{
    json_decref(v->j);
    v->j = NULL;
}

static const char *sv(const struct cv *v)
{
    return json_string_value(v->j);
}

static void ws(struct ps *s)
{
    while (isspace((unsigned char)*s->p))
        s->p++;
}

static bool eat(struct ps *s, const char *tok)
{
    ws(s);
    size_t n = strlen(tok);
    if (strncmp(s->p, tok, n))
        return false;
    if (isalpha((unsigned char)tok[0]) && (isalnum((unsigned char)s->p[n]) || s->p[n] == '_'))
        return false;
    s->p += n;
    return true;
}

static bool ident(struct ps *s, char *buf, size_t size)
{
    ws(s);
    size_t n = 0;
    if (!isalpha((unsigned char)*s->p) && *s->p != '_')
        return false;
    while (isalnum((unsigned char)s->p[n]) || s->p[n] == '_')
        n++;
    if (n >= size)
        return false;
    memcpy(buf, s->p, n);
    buf[n] = 0;
    s->p += n;
    return true;
}

/* Go duration: [-+]?(\d+(\.\d*)?(ns|us|µs|ms|s|m|h))+ or "0". */
static bool parse_duration(const char *str, long long *ret)
{
    const char *p = str;
    double total = 0;
    int sign = 1;
    if (*p == '-' || *p == '+')
        sign = *p++ == '-' ? -1 : 1;
    if (!strcmp(p, "0")) {
        *ret = 0;
        return true;
    }
    if (!*p)
        return false;
    while (*p) {
        char *end;
        double x = strtod(p, &end);
        if (end == p)
            return false;
        p = end;
        double unit;
        if (!strncmp(p, "ns", 2))
            unit = 1, p += 2;
        else if (!strncmp(p, "us", 2))
            unit = 1e3, p += 2;
        else if (!strncmp(p, "\xc2\xb5s", 3) || !strncmp(p, "\xce\xbcs", 3))
            unit = 1e3, p += 3;
        else if (!strncmp(p, "ms", 2))
            unit = 1e6, p += 2;
        else if (*p == 's')
            unit = 1e9, p++;
        else if (*p == 'm')
            unit = 60e9, p++;
        else if (*p == 'h')
            unit = 3600e9, p++;
        else
            return false;
        total += x * unit;
    }
    *ret = (long long)(total * sign);
    return true;
}

static struct cv expr(struct ps *s);

static int cmp(const struct cv *a, const struct cv *b, bool *ok)
{
    *ok = true;
    if ((a->t == V_INT || a->t == V_DBL) && (b->t == V_INT || b->t == V_DBL)) {
        double x = a->t == V_INT ? (double)a->i : a->d, y = b->t == V_INT ? (double)b->i : b->d;
        return x < y ? -1 : x > y;
    }
    if (a->t == V_DUR && b->t == V_DUR)
        return a->i < b->i ? -1 : a->i > b->i;
    if (a->t == V_STR && b->t == V_STR)
        return strcmp(sv(a), sv(b));
    *ok = false;
    return 0;
}

static bool equal(const struct cv *a, const struct cv *b, bool *ok)
{
    *ok = true;
    if (a->t == V_NULL || b->t == V_NULL)
        return a->t == b->t;
    if (a->t == V_BOOL && b->t == V_BOOL)
        return a->i == b->i;
    if ((a->t == V_LIST && b->t == V_LIST) || (a->t == V_MAP && b->t == V_MAP))
        return json_equal(a->j, b->j);
    int c = cmp(a, b, ok);
    return *ok && c == 0;
}

static struct cv call(struct ps *s, const char *fn, struct cv *recv)
{
    struct cv args[4];
    int n = 0;
    if (!eat(s, ")")) {
        do {
            if (n == 4) {
                s->bad = true;
                break;
            }
            args[n++] = expr(s);
        } while (eat(s, ","));
        if (!eat(s, ")"))
            s->bad = true;
    }
    struct cv r = err();
    struct cv *x = recv ? recv : (n ? &args[0] : NULL);
    int a0 = recv ? 0 : 1; /* index of the first non-receiver argument */
    if (!x || s->bad) {
        s->bad = true;
    } else if (!strcmp(fn, "size") && n - a0 == 0) {
        if (x->t == V_STR) {
            long long c = 0;
            for (const char *p = sv(x); *p; p++)
                c += ((unsigned char)*p & 0xC0) != 0x80;
            r = mk_int(c);
        } else if (x->t == V_LIST) {
            r = mk_int((long long)json_array_size(x->j));
        } else if (x->t == V_MAP) {
            r = mk_int((long long)json_object_size(x->j));
        }
    } else if (!strcmp(fn, "duration") && !recv && n == 1) {
        long long d;
        if (x->t == V_STR && parse_duration(sv(x), &d))
            r = (struct cv){V_DUR, d, 0, NULL};
    } else if (!strcmp(fn, "int") && !recv && n == 1) {
        if (x->t == V_INT)
            r = mk_int(x->i);
        else if (x->t == V_DBL)
            r = mk_int((long long)x->d);
        else if (x->t == V_STR) {
            char *end;
            long long v = strtoll(sv(x), &end, 10);
            if (*sv(x) && !*end)
                r = mk_int(v);
        }
    } else if (!strcmp(fn, "string") && !recv && n == 1) {
        char b[64];
        json_t *j = NULL;
        if (x->t == V_STR)
            j = json_incref(x->j);
        else if (x->t == V_INT && snprintf(b, sizeof(b), "%lld", x->i) > 0)
            j = json_string(b);
        else if (x->t == V_BOOL)
            j = json_string(x->i ? "true" : "false");
        else if (x->t == V_DBL && snprintf(b, sizeof(b), "%g", x->d) > 0)
            j = json_string(b);
        if (j)
            r = from_json(j);
        json_decref(j);
    } else if ((!strcmp(fn, "lowerAscii") || !strcmp(fn, "upperAscii")) && recv && n == 0 &&
               x->t == V_STR) {
        char *c = strdup(sv(x));
        if (c) {
            for (char *p = c; *p; p++)
                *p = (char)(fn[0] == 'l' ? tolower((unsigned char)*p) : toupper((unsigned char)*p));
            json_t *j = json_string(c);
            free(c);
            r = from_json(j);
            json_decref(j);
        }
    } else if (recv && n == 1 && x->t == V_STR && args[0].t == V_STR) {
        const char *h = sv(x), *nd = sv(&args[0]);
        size_t hl = strlen(h), nl = strlen(nd);
        if (!strcmp(fn, "contains"))
            r = mk_bool(strstr(h, nd) != NULL);
        else if (!strcmp(fn, "startsWith"))
            r = mk_bool(!strncmp(h, nd, nl));
        else if (!strcmp(fn, "endsWith"))
            r = mk_bool(hl >= nl && !strcmp(h + hl - nl, nd));
        else if (!strcmp(fn, "matches")) {
            regex_t re;
            if (regcomp(&re, nd, REG_EXTENDED | REG_NOSUB) == 0) {
                r = mk_bool(regexec(&re, h, 0, NULL, 0) == 0);
                regfree(&re);
            }
        } else {
            s->bad = true;
        }
    } else {
        static const char *const known[] = {"size",       "duration",   "int",      "string",
                                            "lowerAscii", "upperAscii", "contains", "startsWith",
                                            "endsWith",   "matches"};
        bool k = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            if (!strcmp(fn, known[i]))
                k = true;
        if (!k)
            s->bad = true; /* unknown function: the rule is skipped */
        /* a known function on a value of another type is an error value, as in CEL */
    }
    for (int i = 0; i < n; i++)
        drop(&args[i]);
    return r;
}

static struct cv member(struct ps *s, bool presence);

static bool var_lookup(struct ps *s, const char *id, struct cv *ret)
{
    for (int i = s->nvars - 1; i >= 0; i--) {
        if (!strcmp(s->vars[i].name, id)) {
            *ret = s->vars[i].val ? from_json(s->vars[i].val) : err();
            return true;
        }
    }
    return false;
}

/* recv.all(x, p), recv.exists(x, p), recv.exists_one(x, p): the body is evaluated once per
 * element (list items, map keys) by re-reading it with x bound. */
static struct cv macro(struct ps *s, const char *fn, const struct cv *recv)
{
    char var[32];
    if (!ident(s, var, sizeof(var)) || !eat(s, ",") || s->nvars == 8) {
        s->bad = true;
        return err();
    }
    json_t *elems = json_array();
    if (recv->t == V_LIST) {
        json_array_extend(elems, recv->j);
    } else if (recv->t == V_MAP) {
        const char *k;
        json_t *v;
        json_object_foreach(recv->j, k, v) json_array_append_new(elems, json_string(k));
    }
    const char *body = s->p;
    const char *after = NULL;
    int slot = s->nvars++;
    snprintf(s->vars[slot].name, sizeof(s->vars[slot].name), "%s", var);
    size_t ntrue = 0, nfalse = 0, nerr = 0, n = json_array_size(elems);
    for (size_t i = 0; i < (n ? n : 1); i++) {
        s->vars[slot].val = n ? json_array_get(elems, i) : NULL;
        s->p = body;
        struct cv r = expr(s);
        if (r.t == V_BOOL)
            r.i ? ntrue++ : nfalse++;
        else
            nerr++;
        drop(&r);
        after = s->p;
    }
    s->nvars--;
    s->p = after;
    json_decref(elems);
    if (!eat(s, ")"))
        s->bad = true;
    if (recv->t != V_LIST && recv->t != V_MAP)
        return err();
    if (!n)
        return mk_bool(!strcmp(fn, "all"));
    if (!strcmp(fn, "all"))
        return nfalse ? mk_bool(false) : nerr ? err() : mk_bool(true);
    if (!strcmp(fn, "exists"))
        return ntrue ? mk_bool(true) : nerr ? err() : mk_bool(false);
    return nerr ? err() : mk_bool(ntrue == 1);
}

static struct cv primary(struct ps *s, bool presence)
{
    ws(s);
    char id[64];
    if (++s->depth > 64) {
        s->bad = true;
        return err();
    }
    struct cv r = err();
    if (*s->p == '(') {
        s->p++;
        r = expr(s);
        if (!eat(s, ")"))
            s->bad = true;
    } else if (*s->p == '[') {
        s->p++;
        json_t *a = json_array();
        bool e = false;
        if (!eat(s, "]")) {
            do {
                struct cv x = expr(s);
                if (x.t == V_INT)
                    json_array_append_new(a, json_integer(x.i));
                else if (x.t == V_STR || x.t == V_LIST || x.t == V_MAP)
                    json_array_append(a, x.j);
                else if (x.t == V_BOOL)
                    json_array_append_new(a, json_boolean(x.i));
                else if (x.t == V_DBL)
                    json_array_append_new(a, json_real(x.d));
                else
                    e = true;
                drop(&x);
            } while (eat(s, ","));
            if (!eat(s, "]"))
                s->bad = true;
        }
        r = e ? err() : from_json(a);
        json_decref(a);
    } else if (*s->p == '"' || *s->p == '\'' ||
               ((*s->p == 'r' || *s->p == 'R') && (s->p[1] == '"' || s->p[1] == '\''))) {
        bool raw = *s->p == 'r' || *s->p == 'R';
        if (raw)
            s->p++;
        char q = *s->p++;
        char buf[1024];
        size_t n = 0;
        while (*s->p && *s->p != q && n + 1 < sizeof(buf)) {
            if (!raw && *s->p == '\\' && s->p[1]) {
                s->p++;
                char c = *s->p++;
                buf[n++] = c == 'n' ? '\n' : c == 't' ? '\t' : c;
            } else {
                buf[n++] = *s->p++;
            }
        }
        if (*s->p != q) {
            s->bad = true;
        } else {
            s->p++;
            json_t *j = json_stringn(buf, n);
            r = from_json(j);
            json_decref(j);
        }
    } else if (isdigit((unsigned char)*s->p)) {
        char *end;
        long long i = strtoll(s->p, &end, 10);
        if (*end == '.' || *end == 'e') {
            r.t = V_DBL;
            r.d = strtod(s->p, &end);
        } else {
            r = mk_int(i);
        }
        s->p = end;
        if (*s->p == 'u')
            s->p++;
    } else if (ident(s, id, sizeof(id))) {
        if (!strcmp(id, "true") || !strcmp(id, "false")) {
            r = mk_bool(id[0] == 't');
        } else if (!strcmp(id, "null")) {
            r.t = V_NULL;
        } else if (var_lookup(s, id, &r)) {
            /* macro variable */
        } else if (!strcmp(id, "self")) {
            r = from_json(s->self);
        } else if (!strcmp(id, "has")) {
            if (!eat(s, "(")) {
                s->bad = true;
            } else {
                r = member(s, true);
                if (!eat(s, ")"))
                    s->bad = true;
            }
        } else if (eat(s, "(")) {
            r = call(s, id, NULL);
        } else {
            s->bad = true; /* oldSelf and unknown identifiers */
        }
    } else {
        s->bad = true;
    }
    (void)presence;
    s->depth--;
    return r;
}

/* Field selections, index and method calls. presence: has(x.f) -> whether f is present. */
static struct cv member(struct ps *s, bool presence)
{
    struct cv v = primary(s, presence);
    for (;;) {
        ws(s);
        if (*s->p == '.') {
            s->p++;
            char id[128];
            if (!ident(s, id, sizeof(id))) {
                s->bad = true;
                return v;
            }
            if (eat(s, "(")) {
                struct cv r =
                    (!strcmp(id, "all") || !strcmp(id, "exists") || !strcmp(id, "exists_one"))
                        ? macro(s, id, &v)
                        : call(s, id, &v);
                drop(&v);
                v = r;
                continue;
            }
            ws(s);
            if (presence && *s->p == ')') {
                bool has = v.t == V_MAP && json_object_get(v.j, id) != NULL;
                struct cv r = v.t == V_MAP ? mk_bool(has) : err();
                drop(&v);
                return r;
            }
            struct cv r = err();
            if (v.t == V_MAP) {
                json_t *c = json_object_get(v.j, id);
                if (c)
                    r = from_json(c);
            }
            drop(&v);
            v = r;
        } else if (*s->p == '[') {
            s->p++;
            struct cv k = expr(s);
            if (!eat(s, "]"))
                s->bad = true;
            struct cv r = err();
            if (v.t == V_LIST && k.t == V_INT && k.i >= 0 && (size_t)k.i < json_array_size(v.j))
                r = from_json(json_array_get(v.j, (size_t)k.i));
            else if (v.t == V_MAP && k.t == V_STR && json_object_get(v.j, sv(&k)))
                r = from_json(json_object_get(v.j, sv(&k)));
            drop(&k);
            drop(&v);
            v = r;
        } else {
            if (presence)
                s->bad = true; /* has() needs a field selection */
            return v;
        }
    }
}

static struct cv unary(struct ps *s)
{
    if (eat(s, "!")) {
        struct cv v = unary(s);
        struct cv r = v.t == V_BOOL ? mk_bool(!v.i) : err();
        drop(&v);
        return r;
    }
    ws(s);
    if (*s->p == '-' && !isdigit((unsigned char)s->p[1])) {
        s->p++;
        struct cv v = unary(s);
        struct cv r = v.t == V_INT ? mk_int(-v.i) : err();
        if (v.t == V_DBL)
            r = (struct cv){V_DBL, 0, -v.d, NULL};
        drop(&v);
        return r;
    }
    if (*s->p == '-') {
        s->p++;
        struct cv v = member(s, false);
        if (v.t == V_INT)
            v.i = -v.i;
        else if (v.t == V_DBL)
            v.d = -v.d;
        return v;
    }
    return member(s, false);
}

static struct cv mul(struct ps *s)
{
    struct cv a = unary(s);
    for (;;) {
        ws(s);
        char op = *s->p;
        if (op != '*' && op != '/' && op != '%')
            return a;
        s->p++;
        struct cv b = unary(s);
        struct cv r = err();
        if (a.t == V_INT && b.t == V_INT) {
            if (op == '*')
                r = mk_int(a.i * b.i);
            else if (b.i != 0)
                r = mk_int(op == '/' ? a.i / b.i : a.i % b.i);
        }
        drop(&a);
        drop(&b);
        a = r;
    }
}

static struct cv add(struct ps *s)
{
    struct cv a = mul(s);
    for (;;) {
        ws(s);
        char op = *s->p;
        if ((op != '+' && op != '-') || s->p[1] == '=')
            return a;
        s->p++;
        struct cv b = mul(s);
        struct cv r = err();
        if (a.t == V_INT && b.t == V_INT) {
            r = mk_int(op == '+' ? a.i + b.i : a.i - b.i);
        } else if (a.t == V_DUR && b.t == V_DUR) {
            r = (struct cv){V_DUR, op == '+' ? a.i + b.i : a.i - b.i, 0, NULL};
        } else if (op == '+' && a.t == V_STR && b.t == V_STR) {
            size_t n = strlen(sv(&a)) + strlen(sv(&b)) + 1;
            char *c = malloc(n);
            if (c) {
                snprintf(c, n, "%s%s", sv(&a), sv(&b));
                json_t *j = json_string(c);
                free(c);
                r = from_json(j);
                json_decref(j);
            }
        }
        drop(&a);
        drop(&b);
        a = r;
    }
}

static struct cv rel(struct ps *s)
{
    struct cv a = add(s);
    for (;;) {
        const char *ops[] = {"==", "!=", "<=", ">=", "<", ">", "in"};
        int op = -1;
        for (int i = 0; i < 7; i++) {
            if (eat(s, ops[i])) {
                op = i;
                break;
            }
        }
        if (op < 0)
            return a;
        struct cv b = add(s);
        struct cv r = err();
        bool ok = false;
        if (a.t != V_ERR && b.t != V_ERR) {
            if (op == 0 || op == 1) {
                bool e = equal(&a, &b, &ok);
                if (ok)
                    r = mk_bool(op == 0 ? e : !e);
            } else if (op == 6) {
                if (b.t == V_LIST) {
                    bool found = false;
                    size_t i;
                    json_t *e;
                    json_array_foreach(b.j, i, e)
                    {
                        struct cv x = from_json(e);
                        bool eq = equal(&a, &x, &ok);
                        drop(&x);
                        if (ok && eq)
                            found = true;
                    }
                    r = mk_bool(found);
                } else if (b.t == V_MAP && a.t == V_STR) {
                    r = mk_bool(json_object_get(b.j, sv(&a)) != NULL);
                }
            } else {
                int c = cmp(&a, &b, &ok);
                if (ok)
                    r = mk_bool(op == 2 ? c <= 0 : op == 3 ? c >= 0 : op == 4 ? c < 0 : c > 0);
            }
        }
        drop(&a);
        drop(&b);
        a = r;
    }
}

static struct cv and_expr(struct ps *s)
{
    struct cv a = rel(s);
    while (eat(s, "&&")) {
        struct cv b = rel(s);
        struct cv r;
        if ((a.t == V_BOOL && !a.i) || (b.t == V_BOOL && !b.i))
            r = mk_bool(false);
        else if (a.t == V_BOOL && b.t == V_BOOL)
            r = mk_bool(true);
        else
            r = err();
        drop(&a);
        drop(&b);
        a = r;
    }
    return a;
}

static struct cv or_expr(struct ps *s)
{
    struct cv a = and_expr(s);
    while (eat(s, "||")) {
        struct cv b = and_expr(s);
        struct cv r;
        if ((a.t == V_BOOL && a.i) || (b.t == V_BOOL && b.i))
            r = mk_bool(true);
        else if (a.t == V_BOOL && b.t == V_BOOL)
            r = mk_bool(false);
        else
            r = err();
        drop(&a);
        drop(&b);
        a = r;
    }
    return a;
}

static struct cv expr(struct ps *s)
{
    struct cv c = or_expr(s);
    if (!eat(s, "?"))
        return c;
    struct cv x = expr(s);
    if (!eat(s, ":"))
        s->bad = true;
    struct cv y = expr(s);
    struct cv r = err();
    if (c.t == V_BOOL) {
        r = c.i ? x : y;
        drop(c.i ? &y : &x);
    } else {
        drop(&x);
        drop(&y);
    }
    drop(&c);
    return r;
}

int ks_cel_eval(const char *rule, const json_t *self)
{
    struct ps s;
    memset(&s, 0, sizeof(s));
    s.p = rule;
    s.self = self;
    if (strstr(rule, "oldSelf"))
        return -1;
    struct cv v = expr(&s);
    ws(&s);
    int r = -1;
    if (!s.bad && !*s.p && v.t == V_BOOL)
        r = v.i ? 1 : 0;
    drop(&v);
    return r;
}
