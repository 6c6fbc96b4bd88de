/*
 * schema.c - structural schema (CRD openAPIV3Schema) pruning, defaulting and validation with the
 * real server's error texts (kube-openapi messages as converted by apiextensions-apiserver).
 * Patterns are compiled as POSIX extended regular expressions (our CRDs' patterns are written in
 * the common subset) and cached for the process lifetime. CEL rules and formats are not checked.
 */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kubesim.h"

#define MAX_DEPTH 64

static bool flag(const json_t *s, const char *k)
{
    return json_is_true(json_object_get(s, k));
}

/* ---- pruning and defaulting ---- */

static void prune_default(const json_t *s, json_t *v, bool root, int depth, const char *path,
                          json_t *unknown)
{
    if (!s || depth > MAX_DEPTH)
        return;
    if (json_is_object(v)) {
        const json_t *props = json_object_get(s, "properties");
        const json_t *addl = json_object_get(s, "additionalProperties");
        bool keep = flag(s, "x-kubernetes-preserve-unknown-fields") || json_is_object(addl) ||
                    json_is_true(addl);
        bool embedded = flag(s, "x-kubernetes-embedded-resource");
        const char *k;
        json_t *c;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, c)
        {
            if ((root || embedded) &&
                (!strcmp(k, "apiVersion") || !strcmp(k, "kind") || !strcmp(k, "metadata")))
                continue;
            const json_t *cs = json_object_get(props, k);
            if (!cs && json_is_object(addl))
                cs = addl;
            char cp[1024];
            snprintf(cp, sizeof(cp), "%s%s%s", path, *path ? "." : "", k);
            if (!cs) {
                if (!keep) {
                    if (unknown)
                        json_array_append_new(unknown, json_string(cp));
                    json_object_del(v, k);
                }
                continue;
            }
            if (json_is_null(c) && !flag(cs, "nullable")) {
                const json_t *d = json_object_get(cs, "default");
                if (d)
                    json_object_set_new(v, k, json_deep_copy(d));
                else
                    json_object_del(v, k);
                continue;
            }
            prune_default(cs, c, false, depth + 1, cp, unknown);
        }
        json_object_foreach((json_t *)props, k, c)
        {
            const json_t *d = json_object_get(c, "default");
            if (d && !json_object_get(v, k)) {
                json_t *nd = json_deep_copy(d);
                prune_default(c, nd, false, depth + 1, "", NULL);
                json_object_set_new(v, k, nd);
            }
        }
    } else if (json_is_array(v)) {
        const json_t *items = json_object_get(s, "items");
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            char cp[1024];
            snprintf(cp, sizeof(cp), "%s[%zu]", path, i);
            prune_default(items, c, false, depth + 1, cp, unknown);
        }
    }
}

void ks_schema_prune_default(const json_t *schema, json_t *obj, json_t *ret_unknown)
{
    prune_default(schema, obj, true, 0, "", ret_unknown);
}

/* ---- validation ---- */

struct vctx {
    json_t *causes;
    int n;
};

static void value_str(const json_t *v, char *buf, size_t size)
{
    if (json_is_string(v)) {
        snprintf(buf, size, "\"%s\"", json_string_value(v));
    } else if (json_is_object(v)) {
        snprintf(buf, size, "\"object\"");
    } else if (json_is_array(v)) {
        snprintf(buf, size, "\"array\"");
    } else if (json_is_null(v)) {
        snprintf(buf, size, "\"null\"");
    } else {
        char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(buf, size, "%s", d ? d : "?");
        free(d);
    }
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static void add_cause(struct vctx *c, const char *reason, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_cause(struct vctx *c, const char *reason, const char *field, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s,s:s,s:s}", "reason", reason, "message", msg, "field", field);
    if (o)
        json_array_append_new(c->causes, o);
    c->n++;
}

static void num_str(const json_t *n, char *buf, size_t size)
{
    if (json_is_integer(n))
        snprintf(buf, size, "%lld", (long long)json_integer_value(n));
    else
        snprintf(buf, size, "%g", json_number_value(n));
}

struct re_ent {
    char *pat;
    regex_t re;
    bool ok;
};
static struct re_ent *re_cache;
static size_t n_re, cap_re;

static int pat_match(const char *pat, const char *s)
{
    for (size_t i = 0; i < n_re; i++)
        if (strcmp(re_cache[i].pat, pat) == 0)
            return re_cache[i].ok ? regexec(&re_cache[i].re, s, 0, NULL, 0) == 0 : 1;
    if (n_re == cap_re) {
        size_t nc = cap_re ? cap_re * 2 : 32;
        struct re_ent *nr = realloc(re_cache, nc * sizeof(*nr));
        if (!nr)
            return 1;
        re_cache = nr;
        cap_re = nc;
    }
    struct re_ent *e = &re_cache[n_re];
    e->pat = strdup(pat);
    if (!e->pat)
        return 1;
    e->ok = regcomp(&e->re, pat, REG_EXTENDED | REG_NOSUB) == 0;
    n_re++;
    return e->ok ? regexec(&e->re, s, 0, NULL, 0) == 0 : 1;
}

static bool type_ok(const char *t, const json_t *v)
{
    if (!strcmp(t, "object"))
        return json_is_object(v);
    if (!strcmp(t, "array"))
        return json_is_array(v);
    if (!strcmp(t, "string"))
        return json_is_string(v);
    if (!strcmp(t, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(t, "number"))
        return json_is_number(v);
    if (!strcmp(t, "integer"))
        return json_is_integer(v) ||
               (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v));
    return true;
}

static void cel_rules(const json_t *s, const json_t *v, const char *path, struct vctx *c);

/* x-kubernetes-list-type map (unique x-kubernetes-list-map-keys) and set (unique items). */
static void list_unique(const json_t *s, const json_t *v, const char *path, struct vctx *c)
{
    const char *lt = json_string_value(json_object_get(s, "x-kubernetes-list-type"));
    if (!lt || (strcmp(lt, "map") && strcmp(lt, "set")))
        return;
    const json_t *keys = json_object_get(s, "x-kubernetes-list-map-keys");
    size_t n = json_array_size(v);
    for (size_t i = 1; i < n && n <= 4096; i++) {
        json_t *a = json_array_get(v, i);
        for (size_t k = 0; k < i; k++) {
            json_t *b = json_array_get(v, k);
            bool same;
            if (!strcmp(lt, "set")) {
                same = json_equal(a, b);
            } else {
                same = json_is_object(a) && json_is_object(b);
                size_t ki;
                json_t *key;
                json_array_foreach(keys, ki, key)
                {
                    const json_t *x = json_object_get(a, json_string_value(key));
                    const json_t *y = json_object_get(b, json_string_value(key));
                    if (!(x == y || (x && y && json_equal(x, y))))
                        same = false;
                }
            }
            if (!same)
                continue;
            char p[1024], vb[512] = "";
            snprintf(p, sizeof(p), "%s[%zu]", path, i);
            if (!strcmp(lt, "map")) {
                size_t off = 0, ki;
                json_t *key;
                json_array_foreach(keys, ki, key)
                {
                    const json_t *x = json_object_get(a, json_string_value(key));
                    char xv[256];
                    value_str(x, xv, sizeof(xv));
                    int w = snprintf(vb + off, sizeof(vb) - off, "%s\"%s\":%s", ki ? ", " : "",
                                     json_string_value(key), xv);
                    if (w < 0 || (size_t)w >= sizeof(vb) - off)
                        break;
                    off += (size_t)w;
                }
                add_cause(c, "FieldValueDuplicate", p,
                          "Duplicate value: map[string]interface {}{%s}", vb);
            } else {
                value_str(a, vb, sizeof(vb));
                add_cause(c, "FieldValueDuplicate", p, "Duplicate value: %s", vb);
            }
            break;
        }
    }
}

static void validate(const json_t *s, const json_t *v, const char *path, struct vctx *c, int depth)
{
    char vb[256], nb[64];
    if (!s || depth > MAX_DEPTH)
        return;
    const char *field = *path ? path : "<root>";
    const char *t = json_string_value(json_object_get(s, "type"));
    int before = c->n;
    if (json_is_null(v)) {
        if (flag(s, "nullable") || !t)
            return;
    }
    if (flag(s, "x-kubernetes-int-or-string")) {
        if (!json_is_integer(v) && !json_is_string(v)) {
            value_str(v, vb, sizeof(vb));
            add_cause(c, "FieldValueTypeInvalid", field,
                      "Invalid value: %s: %s in body must be of type integer,string: \"%s\"", vb,
                      field, type_name(v));
            return;
        }
    } else if (t && !type_ok(t, v)) {
        value_str(v, vb, sizeof(vb));
        add_cause(c, "FieldValueTypeInvalid", field,
                  "Invalid value: %s: %s in body must be of type %s: \"%s\"", vb, field, t,
                  type_name(v));
        return;
    }
    const json_t *en = json_object_get(s, "enum");
    if (json_is_array(en) && json_array_size(en)) {
        bool found = false;
        size_t i;
        json_t *e;
        json_array_foreach(en, i, e) if (json_equal(e, v)) found = true;
        if (!found) {
            char list[1024] = "";
            size_t off = 0;
            json_array_foreach(en, i, e)
            {
                value_str(e, vb, sizeof(vb));
                int w = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", vb);
                if (w < 0 || (size_t)w >= sizeof(list) - off)
                    break;
                off += (size_t)w;
            }
            value_str(v, vb, sizeof(vb));
            add_cause(c, "FieldValueNotSupported", field,
                      "Unsupported value: %s: supported values: %s", vb, list);
        }
    }
    if (json_is_number(v)) {
        double x = json_number_value(v);
        const json_t *mn = json_object_get(s, "minimum"), *mx = json_object_get(s, "maximum");
        value_str(v, vb, sizeof(vb));
        if (json_is_number(mn)) {
            bool ex = flag(s, "exclusiveMinimum");
            num_str(mn, nb, sizeof(nb));
            if (ex ? x <= json_number_value(mn) : x < json_number_value(mn))
                add_cause(c, "FieldValueInvalid", field,
                          "Invalid value: %s: %s in body should be greater than %s%s", vb, field,
                          ex ? "" : "or equal to ", nb);
        }
        if (json_is_number(mx)) {
            bool ex = flag(s, "exclusiveMaximum");
            num_str(mx, nb, sizeof(nb));
            if (ex ? x >= json_number_value(mx) : x > json_number_value(mx))
                add_cause(c, "FieldValueInvalid", field,
                          "Invalid value: %s: %s in body should be less than %s%s", vb, field,
                          ex ? "" : "or equal to ", nb);
        }
    }
    if (json_is_string(v)) {
        const char *sv = json_string_value(v);
        size_t len = 0; /* characters (UTF-8 code points) */
        for (const char *p = sv; *p; p++)
            if (((unsigned char)*p & 0xC0) != 0x80)
                len++;
        const json_t *ml = json_object_get(s, "maxLength"), *nl = json_object_get(s, "minLength");
        const char *pat = json_string_value(json_object_get(s, "pattern"));
        value_str(v, vb, sizeof(vb));
        if (json_is_integer(ml) && (json_int_t)len > json_integer_value(ml))
            add_cause(c, "FieldValueTooLong", field, "Too long: may not be more than %lld bytes",
                      (long long)json_integer_value(ml));
        if (json_is_integer(nl) && (json_int_t)len < json_integer_value(nl))
            add_cause(c, "FieldValueInvalid", field,
                      "Invalid value: %s: %s in body should be at least %lld chars long", vb, field,
                      (long long)json_integer_value(nl));
        if (pat && !pat_match(pat, sv))
            add_cause(c, "FieldValueInvalid", field,
                      "Invalid value: %s: %s in body should match '%s'", vb, field, pat);
    }
    if (json_is_array(v)) {
        const json_t *mi = json_object_get(s, "maxItems"), *ni = json_object_get(s, "minItems");
        size_t n = json_array_size(v);
        if (json_is_integer(mi) && (json_int_t)n > json_integer_value(mi))
            add_cause(c, "FieldValueTooMany", field, "Too many: %zu: must have at most %lld items",
                      n, (long long)json_integer_value(mi));
        if (json_is_integer(ni) && (json_int_t)n < json_integer_value(ni))
            add_cause(c, "FieldValueInvalid", field,
                      "Invalid value: %zu: %s in body should have at least %lld items", n, field,
                      (long long)json_integer_value(ni));
        const json_t *items = json_object_get(s, "items");
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            char p[1024];
            snprintf(p, sizeof(p), "%s[%zu]", path, i);
            validate(items, e, p, c, depth + 1);
        }
        list_unique(s, v, path, c);
    }
    if (json_is_object(v)) {
        const json_t *mp = json_object_get(s, "maxProperties");
        const json_t *np = json_object_get(s, "minProperties");
        size_t n = json_object_size(v);
        if (json_is_integer(mp) && (json_int_t)n > json_integer_value(mp))
            add_cause(c, "FieldValueTooMany", field, "Too many: %zu: must have at most %lld items",
                      n, (long long)json_integer_value(mp));
        if (json_is_integer(np) && (json_int_t)n < json_integer_value(np))
            add_cause(c, "FieldValueInvalid", field,
                      "Invalid value: %zu: %s in body should have at least %lld properties", n,
                      field, (long long)json_integer_value(np));
        const json_t *req = json_object_get(s, "required");
        size_t i;
        json_t *e;
        json_array_foreach(req, i, e)
        {
            const char *k = json_string_value(e);
            if (k && !json_object_get(v, k)) {
                char p[1024];
                snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", k);
                add_cause(c, "FieldValueRequired", p, "Required value");
            }
        }
        const json_t *props = json_object_get(s, "properties");
        const json_t *addl = json_object_get(s, "additionalProperties");
        const char *k;
        json_t *cv;
        json_object_foreach((json_t *)v, k, cv)
        {
            const json_t *cs = json_object_get(props, k);
            if (!cs && json_is_object(addl))
                cs = addl;
            if (!cs)
                continue;
            char p[1024];
            snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", k);
            validate(cs, cv, p, c, depth + 1);
        }
    }
    if (c->n == before)
        cel_rules(s, v, path, c);
}

static void cel_rules(const json_t *s, const json_t *v, const char *path, struct vctx *c)
{
    const json_t *rules = json_object_get(s, "x-kubernetes-validations");
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        const char *rule = json_string_value(json_object_get(r, "rule"));
        if (!rule || ks_cel_eval(rule, v) != 0)
            continue;
        const char *msg = json_string_value(json_object_get(r, "message"));
        const char *reason = json_string_value(json_object_get(r, "reason"));
        const char *fp = json_string_value(json_object_get(r, "fieldPath"));
        char m[1200], field[1024];
        if (msg)
            snprintf(m, sizeof(m), "%s", msg);
        else
            snprintf(m, sizeof(m), "failed rule: %s", rule);
        if (fp && *fp)
            snprintf(field, sizeof(field), "%s%s%s", path, fp[0] == '.' || fp[0] == '[' ? "" : ".",
                     fp);
        else
            snprintf(field, sizeof(field), "%s", *path ? path : "<root>");
        if (reason && !strcmp(reason, "FieldValueForbidden"))
            add_cause(c, reason, field, "Forbidden: %s", m);
        else if (reason && !strcmp(reason, "FieldValueRequired"))
            add_cause(c, reason, field, "Required value: %s", m);
        else if (reason && !strcmp(reason, "FieldValueDuplicate"))
            add_cause(c, reason, field, "Duplicate value: %s", m);
        else
            add_cause(c, "FieldValueInvalid", field, "Invalid value: \"%s\": %s", type_name(v), m);
    }
}

int ks_schema_validate(const json_t *schema, const json_t *obj, json_t *causes)
{
    struct vctx c = {causes, 0};
    validate(schema, obj, "", &c, 0);
    return c.n;
}
