/*
 * patch.c - RFC 7386 merge patch, RFC 6902 JSON patch and a YAML-to-JSON loader (libyaml
 * document API; plain scalars resolve as YAML 1.2 core: null, bool, int, float, else string).
 * Ownership: ks_merge_patch() consumes target's reference and returns a new one; ks_json_patch()
 * never modifies its inputs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "kubesim.h"

json_t *ks_merge_patch(json_t *target, const json_t *patch)
{
    if (!json_is_object(patch)) {
        json_decref(target);
        return json_deep_copy(patch);
    }
    if (!json_is_object(target)) {
        json_decref(target);
        target = json_object();
        if (!target)
            return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v)
    {
        if (json_is_null(v)) {
            json_object_del(target, k);
            continue;
        }
        json_t *cur = json_object_get(target, k);
        json_incref(cur);
        json_t *nv = ks_merge_patch(cur, v);
        if (nv)
            json_object_set_new(target, k, nv);
    }
    return target;
}

/* ---- JSON pointer ---- */

static int unescape_tok(const char *s, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '~' && i + 1 < n && (s[i + 1] == '0' || s[i + 1] == '1')) {
            c = s[i + 1] == '0' ? '~' : '/';
            i++;
        }
        if (o + 1 >= size)
            return -1;
        out[o++] = c;
    }
    out[o] = 0;
    return 0;
}

/* Finds the parent container of pointer ptr in doc and the last token. */
static json_t *ptr_parent(json_t *doc, const char *ptr, char *last, size_t lsize)
{
    if (*ptr != '/')
        return NULL;
    json_t *cur = doc;
    const char *p = ptr + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (unescape_tok(p, n, last, lsize) < 0)
            return NULL;
        if (!slash)
            return cur;
        if (json_is_object(cur)) {
            cur = json_object_get(cur, last);
        } else if (json_is_array(cur)) {
            char *end;
            errno = 0;
            unsigned long idx = strtoul(last, &end, 10);
            cur = (*end || errno) ? NULL : json_array_get(cur, idx);
        } else {
            return NULL;
        }
        if (!cur)
            return NULL;
        p = slash + 1;
    }
}

static int arr_index(json_t *arr, const char *tok, bool for_add, size_t *ret)
{
    if (for_add && strcmp(tok, "-") == 0) {
        *ret = json_array_size(arr);
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long idx = strtoul(tok, &end, 10);
    if (!*tok || *end || errno || (tok[0] == '0' && tok[1]))
        return -1;
    if (idx > json_array_size(arr) || (!for_add && idx == json_array_size(arr)))
        return -1;
    *ret = idx;
    return 0;
}

static json_t *ptr_get(json_t *doc, const char *ptr)
{
    if (!*ptr)
        return doc;
    char last[512];
    json_t *par = ptr_parent(doc, ptr, last, sizeof(last));
    if (json_is_object(par))
        return json_object_get(par, last);
    size_t i;
    if (json_is_array(par) && arr_index(par, last, false, &i) == 0)
        return json_array_get(par, i);
    return NULL;
}

/* value TAKEN. Returns 0 or -1. */
static int ptr_add(json_t **doc, const char *ptr, json_t *value, bool replace)
{
    if (!*ptr) {
        json_decref(*doc);
        *doc = value;
        return 0;
    }
    char last[512];
    json_t *par = ptr_parent(*doc, ptr, last, sizeof(last));
    int r = -1;
    if (json_is_object(par)) {
        if (!replace || json_object_get(par, last))
            r = json_object_set(par, last, value);
    } else if (json_is_array(par)) {
        size_t i;
        if (arr_index(par, last, !replace, &i) == 0)
            r = replace ? json_array_set(par, i, value) : json_array_insert(par, i, value);
    }
    json_decref(value);
    return r;
}

static int ptr_remove(json_t *doc, const char *ptr)
{
    char last[512];
    json_t *par = ptr_parent(doc, ptr, last, sizeof(last));
    if (json_is_object(par))
        return json_object_del(par, last);
    size_t i;
    if (json_is_array(par) && arr_index(par, last, false, &i) == 0)
        return json_array_remove(par, i);
    return -1;
}

json_t *ks_json_patch(const json_t *doc, const json_t *ops, char *err, size_t errsize)
{
    if (!json_is_array(ops)) {
        snprintf(err, errsize,
                 "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
        return NULL;
    }
    json_t *d = json_deep_copy(doc);
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *o = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        const char *from = json_string_value(json_object_get(op, "from"));
        json_t *val = json_object_get(op, "value");
        int r = -1;
        if (!o || !path) {
            snprintf(err, errsize, "operation %zu: missing op or path", i);
            goto fail;
        }
        if (strcmp(o, "add") == 0 && val) {
            r = ptr_add(&d, path, json_deep_copy(val), false);
        } else if (strcmp(o, "replace") == 0 && val) {
            r = ptr_add(&d, path, json_deep_copy(val), true);
        } else if (strcmp(o, "remove") == 0) {
            r = ptr_remove(d, path);
        } else if (strcmp(o, "test") == 0 && val) {
            json_t *cur = ptr_get(d, path);
            r = cur && json_equal(cur, val) ? 0 : -1;
        } else if ((strcmp(o, "move") == 0 || strcmp(o, "copy") == 0) && from) {
            json_t *src = ptr_get(d, from);
            json_t *c = src ? json_deep_copy(src) : NULL;
            if (c && strcmp(o, "move") == 0 && ptr_remove(d, from) < 0) {
                json_decref(c);
                c = NULL;
            }
            r = c ? ptr_add(&d, path, c, false) : -1;
        }
        if (r < 0) {
            snprintf(err, errsize,
                     "the server rejected our request due to an error in our request");
            goto fail;
        }
    }
    return d;
fail:
    json_decref(d);
    return NULL;
}

/* ---- YAML ---- */

static json_t *scalar(const yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn(s, len);
    if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    char *end;
    errno = 0;
    long long ll = strtoll(s, &end, 10);
    if (*end == 0 && errno == 0 && (s[0] != '0' || len == 1 || s[0] == '-'))
        return json_integer(ll);
    if (strspn(s, "+-0123456789.eE") == len && strpbrk(s, "0123456789")) {
        double d = strtod(s, &end);
        if (*end == 0)
            return json_real(d);
    }
    return json_stringn(s, len);
}

static json_t *convert(yaml_document_t *doc, yaml_node_t *n, int depth)
{
    if (!n || depth > 100)
        return NULL;
    if (n->type == YAML_SCALAR_NODE)
        return scalar(n);
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             a && it < n->data.sequence.items.top; it++) {
            json_t *c = convert(doc, yaml_document_get_node(doc, *it), depth + 1);
            if (!c || json_array_append_new(a, c) < 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    if (n->type == YAML_MAPPING_NODE) {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; o && p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) {
                json_decref(o);
                return NULL;
            }
            json_t *c = convert(doc, yaml_document_get_node(doc, p->value), depth + 1);
            if (!c || json_object_set_new(o, (const char *)k->data.scalar.value, c) < 0) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    return NULL;
}

json_t *ks_yaml_load(const char *text, size_t len, char *err, size_t errsize)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j)
        return j;
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    json_t *out = NULL;
    if (!yaml_parser_load(&p, &doc)) {
        snprintf(err, errsize, "error converting YAML to JSON: yaml: line %zu: %s",
                 p.problem_mark.line + 1, p.problem ? p.problem : "invalid");
    } else {
        out = convert(&doc, yaml_document_get_root_node(&doc), 0);
        if (!out)
            snprintf(err, errsize, "error converting YAML to JSON: unsupported document");
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    return out;
}
