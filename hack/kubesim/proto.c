/*
 * proto.c - the smallest Kubernetes protobuf decoder that kubectl's typed generators need
 * (`kubectl create namespace|configmap|secret|serviceaccount` send
 * application/vnd.kubernetes.protobuf). Decodes the "k8s\0" envelope (runtime.Unknown), the
 * TypeMeta and, of the object, ObjectMeta (name, generateName, namespace, labels, annotations,
 * finalizers) plus ConfigMap data/binaryData, Secret data/stringData/type and
 * ServiceAccount automountServiceAccountToken, and the spec of a SelfSubjectAccessReview
 * (`kubectl auth can-i`). Other fields are skipped (never misread: unknown
 * field numbers are skipped by wire type). Everything is bounds-checked against the input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "kubesim.h"

struct pb {
    const unsigned char *p, *end;
};

static int varint(struct pb *b, uint64_t *ret)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end)
            return -1;
        unsigned char c = *b->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *ret = v;
            return 0;
        }
    }
    return -1;
}

/* Next field: number, wire type, and for length-delimited a sub-buffer. */
static int field(struct pb *b, unsigned *ret_num, unsigned *ret_wt, struct pb *ret_sub,
                 uint64_t *ret_val)
{
    uint64_t key;
    if (varint(b, &key) < 0)
        return -1;
    *ret_num = (unsigned)(key >> 3);
    *ret_wt = (unsigned)(key & 7);
    switch (*ret_wt) {
    case 0:
        return varint(b, ret_val);
    case 1:
        if (b->end - b->p < 8)
            return -1;
        b->p += 8;
        return 0;
    case 5:
        if (b->end - b->p < 4)
            return -1;
        b->p += 4;
        return 0;
    case 2: {
        uint64_t len;
        if (varint(b, &len) < 0 || len > (uint64_t)(b->end - b->p))
            return -1;
        ret_sub->p = b->p;
        ret_sub->end = b->p + len;
        b->p += len;
        return 0;
    }
    default:
        return -1;
    }
}

static json_t *str(const struct pb *s)
{
    return json_stringn((const char *)s->p, (size_t)(s->end - s->p));
}

static json_t *b64(const struct pb *s)
{
    size_t n = (size_t)(s->end - s->p);
    char *out = malloc(n * 2 + 8);
    if (!out)
        return NULL;
    if (lws_b64_encode_string((const char *)s->p, (int)n, out, (int)(n * 2 + 8)) < 0) {
        free(out);
        return NULL;
    }
    json_t *j = json_string(out);
    free(out);
    return j;
}

/* map entry {1: key, 2: value}; binary values become base64. */
static int map_entry(struct pb *e, json_t *into, bool binary)
{
    json_t *k = NULL, *v = NULL;
    unsigned num, wt;
    struct pb sub;
    uint64_t val;
    while (e->p < e->end) {
        if (field(e, &num, &wt, &sub, &val) < 0) {
            json_decref(k);
            json_decref(v);
            return -1;
        }
        if (wt != 2)
            continue;
        if (num == 1) {
            json_decref(k);
            k = str(&sub);
        } else if (num == 2) {
            json_decref(v);
            v = binary ? b64(&sub) : str(&sub);
        }
    }
    if (json_string_value(k))
        json_object_set_new(into, json_string_value(k), v ? v : json_string(""));
    else
        json_decref(v);
    json_decref(k);
    return 0;
}

static json_t *obj_at(json_t *o, const char *k)
{
    json_t *c = json_object_get(o, k);
    if (!c) {
        c = json_object();
        json_object_set_new(o, k, c);
    }
    return c;
}

static int object_meta(struct pb *m, json_t *meta)
{
    unsigned num, wt;
    struct pb sub;
    uint64_t val;
    while (m->p < m->end) {
        if (field(m, &num, &wt, &sub, &val) < 0)
            return -1;
        if (wt != 2)
            continue;
        if (num == 1)
            json_object_set_new(meta, "name", str(&sub));
        else if (num == 2)
            json_object_set_new(meta, "generateName", str(&sub));
        else if (num == 3)
            json_object_set_new(meta, "namespace", str(&sub));
        else if (num == 11 && map_entry(&sub, obj_at(meta, "labels"), false) < 0)
            return -1;
        else if (num == 12 && map_entry(&sub, obj_at(meta, "annotations"), false) < 0)
            return -1;
        else if (num == 14) {
            json_t *f = json_object_get(meta, "finalizers");
            if (!f) {
                f = json_array();
                json_object_set_new(meta, "finalizers", f);
            }
            json_array_append_new(f, str(&sub));
        }
    }
    return 0;
}

/* SelfSubjectAccessReviewSpec {1: resourceAttributes {1 namespace, 2 verb, 3 group, 4 version,
 * 5 resource, 6 subresource, 7 name}, 2: nonResourceAttributes {1 path, 2 verb}} (kubectl auth
 * can-i, --rbac). */
static int ssar_spec(struct pb *s, json_t *spec)
{
    static const char *const ra_names[] = {NULL,      "namespace", "verb",        "group",
                                           "version", "resource",  "subresource", "name"};
    static const char *const nra_names[] = {NULL, "path", "verb"};
    unsigned num, wt, n2, w2;
    struct pb sub, sub2;
    uint64_t val, v2;
    while (s->p < s->end) {
        if (field(s, &num, &wt, &sub, &val) < 0)
            return -1;
        if (wt != 2 || (num != 1 && num != 2))
            continue;
        json_t *attrs = obj_at(spec, num == 1 ? "resourceAttributes" : "nonResourceAttributes");
        while (sub.p < sub.end) {
            if (field(&sub, &n2, &w2, &sub2, &v2) < 0)
                return -1;
            if (w2 == 2 && num == 1 && n2 >= 1 && n2 <= 7)
                json_object_set_new(attrs, ra_names[n2], str(&sub2));
            else if (w2 == 2 && num == 2 && n2 >= 1 && n2 <= 2)
                json_object_set_new(attrs, nra_names[n2], str(&sub2));
        }
    }
    return 0;
}

static int object(struct pb *o, const char *kind, json_t *out)
{
    unsigned num, wt;
    struct pb sub;
    uint64_t val;
    bool cm = !strcmp(kind, "ConfigMap"), secret = !strcmp(kind, "Secret");
    while (o->p < o->end) {
        if (field(o, &num, &wt, &sub, &val) < 0)
            return -1;
        if (num == 1 && wt == 2) {
            if (object_meta(&sub, obj_at(out, "metadata")) < 0)
                return -1;
        } else if ((cm || secret) && num == 2 && wt == 2) {
            if (map_entry(&sub, obj_at(out, "data"), secret) < 0)
                return -1;
        } else if (cm && num == 3 && wt == 2) {
            if (map_entry(&sub, obj_at(out, "binaryData"), true) < 0)
                return -1;
        } else if (secret && num == 3 && wt == 2) {
            json_object_set_new(out, "type", str(&sub));
        } else if (secret && num == 4 && wt == 2) {
            if (map_entry(&sub, obj_at(out, "stringData"), false) < 0)
                return -1;
        } else if (!strcmp(kind, "SelfSubjectAccessReview") && num == 2 && wt == 2) {
            if (ssar_spec(&sub, obj_at(out, "spec")) < 0)
                return -1;
        } else if (!strcmp(kind, "ServiceAccount") && num == 4 && wt == 0) {
            json_object_set_new(out, "automountServiceAccountToken", json_boolean(val != 0));
        }
    }
    return 0;
}

json_t *ks_proto_decode(const char *body, size_t len, char *err, size_t errsize)
{
    if (len < 4 || memcmp(body, "k8s\0", 4) != 0) {
        snprintf(err, errsize, "provided protobuf body does not begin with the k8s magic");
        return NULL;
    }
    struct pb b = {(const unsigned char *)body + 4, (const unsigned char *)body + len};
    struct pb tm = {NULL, NULL}, raw = {NULL, NULL}, sub;
    unsigned num, wt;
    uint64_t val;
    while (b.p < b.end) {
        if (field(&b, &num, &wt, &sub, &val) < 0)
            goto bad;
        if (num == 1 && wt == 2)
            tm = sub;
        else if (num == 2 && wt == 2)
            raw = sub;
    }
    json_t *out = json_object();
    if (!out)
        goto bad;
    char kind[128] = "";
    while (tm.p && tm.p < tm.end) {
        if (field(&tm, &num, &wt, &sub, &val) < 0) {
            json_decref(out);
            goto bad;
        }
        if (wt != 2)
            continue;
        if (num == 1)
            json_object_set_new(out, "apiVersion", str(&sub));
        else if (num == 2) {
            json_object_set_new(out, "kind", str(&sub));
            snprintf(kind, sizeof(kind), "%.*s", (int)(sub.end - sub.p), (const char *)sub.p);
        }
    }
    if (raw.p && object(&raw, kind, out) < 0) {
        json_decref(out);
        goto bad;
    }
    return out;
bad:
    snprintf(err, errsize, "the protobuf body could not be decoded");
    return NULL;
}
