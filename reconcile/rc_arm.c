/*
 * rc_arm.c - ARM ids and request bodies for a pool (see rc_arm.h for the
 * decisions this file implements).
 *
 * Bodies are built with json_pack: a NULL required string or a NULL nested
 * object ("o") makes the whole pack fail, and jansson drops the references it
 * was given, so a missing field turns into a NULL body without leaks.
 */
#include "rc_arm.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_observed.h"
#include "rc_util.h"

#define ARM_HASH_PREFIX "fnv64:"
#define ARM_NAME_MAX    260 /* longest name segment accepted in an id */

/* ---- small helpers ---- */

static int arm__fmt(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int arm__fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!buf || size == 0)
        return -RC_EINVAL;
    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0) {
        buf[0] = '\0';
        return -RC_EINVAL;
    }
    if ((size_t)n >= size) {
        buf[0] = '\0';
        return -RC_ELIMIT;
    }
    return 0;
}

static bool arm__empty(const char *s)
{
    return !s || !*s;
}

/* A name that may stand as one segment of an ARM id. */
static bool arm__segment_ok(const char *s)
{
    size_t n;

    if (arm__empty(s))
        return false;
    n = strnlen(s, ARM_NAME_MAX + 1);
    if (n > ARM_NAME_MAX)
        return false;
    return !strpbrk(s, "/?#");
}

/* An ARM id given by the user or by ARM: starts with '/', bounded, no query. */
static bool arm__id_ok(const char *s)
{
    return s && s[0] == '/' && strnlen(s, RC_ARM_ID_MAX) < RC_ARM_ID_MAX && !strpbrk(s, "?#");
}

static char arm__lower_c(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* malloc'd ASCII-lowercased copy; NULL on allocation failure. */
static char *arm__lower_dup(const char *s)
{
    size_t n = strlen(s), i;
    char *d = malloc(n + 1);

    if (!d)
        return NULL;
    for (i = 0; i < n; i++)
        d[i] = arm__lower_c(s[i]);
    d[n] = '\0';
    return d;
}

static bool arm__windows(const struct rc_pool *p)
{
    return p->spec.os_profile.os_type == RC_OS_WINDOWS;
}

static bool arm__flexible(const struct rc_pool *p)
{
    return p->spec.orchestration == RC_ORCH_FLEXIBLE;
}

/* Sets key to v (stolen) unless v is NULL; a NULL v or a failed set is an error. */
static int arm__set(json_t *obj, const char *key, json_t *v)
{
    if (!v)
        return -1;
    return json_object_set_new(obj, key, v) ? -1 : 0;
}

/* ---- tags ---- */

int rc_arm_tag_value(const char *value, char *buf, size_t size)
{
    char *low;
    uint64_t h;
    int r;

    if (!value)
        return -RC_EINVAL;
    if (strnlen(value, RC_ARM_TAG_VALUE_MAX + 1) <= RC_ARM_TAG_VALUE_MAX)
        return arm__fmt(buf, size, "%s", value);
    low = arm__lower_dup(value);
    if (!low)
        return -RC_ENOMEM;
    h = rc_hash64(low, strlen(low));
    free(low);
    r = arm__fmt(buf, size, ARM_HASH_PREFIX "%016" PRIx64, h);
    return r;
}

static bool arm__tag_name_ok(const char *name)
{
    size_t n;

    if (arm__empty(name))
        return false;
    n = strnlen(name, RC_ARM_TAG_NAME_MAX + 1);
    if (n > RC_ARM_TAG_NAME_MAX)
        return false;
    return !strpbrk(name, "<>%&\\?/");
}

static bool arm__reserved_tag(const char *name)
{
    static const char prefix[] = "azpool.";
    size_t i;

    for (i = 0; i + 1 < sizeof(prefix); i++)
        if (arm__lower_c(name[i]) != prefix[i])
            return false;
    return true;
}

int rc_arm_tags_check(const struct rc_pool *p, struct rc_err *err)
{
    const struct rc_pool_spec *s;
    size_t i, j;

    if (!p || arm__empty(p->meta.name) || arm__empty(p->meta.namespace))
        return rc_err_set(err, -RC_EINVAL, "metadata", "name and namespace are required");
    if (strlen(p->meta.namespace) + 1 + strlen(p->meta.name) > RC_ARM_TAG_VALUE_MAX)
        return rc_err_set(err, -RC_ELIMIT, "metadata.name",
                          "\"<namespace>/<name>\" is longer than %d characters and cannot be "
                          "stored in tag " RC_TAG_POOL,
                          RC_ARM_TAG_VALUE_MAX);
    s = &p->spec;
    if (s->n_tags > RC_ARM_USER_TAGS_MAX)
        return rc_err_set(err, -RC_ELIMIT, "spec.tags",
                          "%zu tags, at most %d allowed (Azure takes 50 per resource and "
                          "Azpool needs %d)",
                          s->n_tags, RC_ARM_USER_TAGS_MAX, RC_ARM_OWN_TAGS);
    if (s->n_tags > 0 && !s->tags)
        return rc_err_set(err, -RC_EINVAL, "spec.tags", "missing");
    for (i = 0; i < s->n_tags; i++) {
        const struct rc_kv *kv = &s->tags[i];

        if (!arm__tag_name_ok(kv->key))
            return rc_err_set(err, -RC_EINVAL, "spec.tags",
                              "tag names must have 1 to %d characters and none of < > %% & "
                              "\\ ? /",
                              RC_ARM_TAG_NAME_MAX);
        if (arm__reserved_tag(kv->key))
            return rc_err_set(err, -RC_EINVAL, "spec.tags",
                              "tag \"%.64s\": names starting with \"azpool.\" are reserved",
                              kv->key);
        if (!kv->value)
            return rc_err_set(err, -RC_EINVAL, "spec.tags", "tag \"%.64s\" has no value", kv->key);
        if (strnlen(kv->value, RC_ARM_TAG_VALUE_MAX + 1) > RC_ARM_TAG_VALUE_MAX)
            return rc_err_set(err, -RC_ELIMIT, "spec.tags",
                              "tag \"%.64s\": value longer than %d characters", kv->key,
                              RC_ARM_TAG_VALUE_MAX);
        for (j = 0; j < i; j++)
            if (rc_strcasecmp(s->tags[j].key, kv->key) == 0)
                return rc_err_set(err, -RC_EINVAL, "spec.tags",
                                  "tag \"%.64s\" appears twice (Azure tag names are "
                                  "case-insensitive)",
                                  kv->key);
    }
    return 0;
}

json_t *rc_arm_tags(const struct rc_pool *p, const char *image_id, int64_t created_ms,
                    int64_t expires_ms)
{
    char pool[RC_ARM_TAG_VALUE_MAX + 1];
    char val[RC_ARM_TAG_VALUE_MAX + 1];
    char tbuf[RC_TIME_MAX];
    char hash[17];
    json_t *tags;
    size_t i;

    if (rc_arm_tags_check(p, NULL) < 0)
        return NULL;
    if (arm__fmt(pool, sizeof(pool), "%s/%s", p->meta.namespace, p->meta.name) < 0)
        return NULL;
    tags = json_object();
    if (!tags)
        return NULL;
    for (i = 0; i < p->spec.n_tags; i++)
        if (arm__set(tags, p->spec.tags[i].key, json_string(p->spec.tags[i].value)) < 0)
            goto fail;
    if (arm__set(tags, RC_TAG_MANAGED_BY, json_string(RC_MANAGED_BY_VALUE)) < 0 ||
        arm__set(tags, RC_TAG_POOL, json_string(pool)) < 0)
        goto fail;
    if (p->meta.uid) {
        if (rc_arm_tag_value(p->meta.uid, val, sizeof(val)) < 0 ||
            arm__set(tags, RC_TAG_OWNER, json_string(val)) < 0)
            goto fail;
    }
    if (!arm__empty(image_id)) {
        if (rc_arm_tag_value(image_id, val, sizeof(val)) < 0 ||
            arm__set(tags, RC_TAG_IMAGE, json_string(val)) < 0)
            goto fail;
    }
    if (created_ms != 0) {
        rc_time_format(created_ms, tbuf, sizeof(tbuf));
        if (arm__set(tags, RC_TAG_CREATED_AT, json_string(tbuf)) < 0)
            goto fail;
    }
    if (expires_ms != 0) {
        rc_time_format(expires_ms, tbuf, sizeof(tbuf));
        if (arm__set(tags, RC_TAG_EXPIRES_AT, json_string(tbuf)) < 0)
            goto fail;
    }
    rc_arm_spec_hash(p, hash, sizeof(hash));
    if (!hash[0] || arm__set(tags, RC_TAG_SPEC_HASH, json_string(hash)) < 0)
        goto fail;
    return tags;
fail:
    json_decref(tags);
    return NULL;
}

/* ---- identity ---- */

/* The identity the resources get: a hybrid worker needs a system-assigned one. */
static enum rc_identity_type arm__identity_type(const struct rc_pool *p)
{
    enum rc_identity_type t = p->spec.identity.type;

    if (p->spec.hybrid_worker.automation_account_id) {
        if (t == RC_IDENTITY_NONE)
            t = RC_IDENTITY_SYSTEM;
        else if (t == RC_IDENTITY_USER)
            t = RC_IDENTITY_SYSTEM_USER;
    }
    return t;
}

/* 0 with *ret NULL (no identity) or a new object; -1 on error. */
static int arm__identity(const struct rc_pool *p, json_t **ret)
{
    const struct rc_identity *id = &p->spec.identity;
    enum rc_identity_type t = arm__identity_type(p);
    json_t *obj, *uai;
    size_t i;

    *ret = NULL;
    switch (t) {
    case RC_IDENTITY_NONE:
        return 0;
    case RC_IDENTITY_SYSTEM:
        *ret = json_pack("{s:s}", "type", "SystemAssigned");
        return *ret ? 0 : -1;
    case RC_IDENTITY_USER:
    case RC_IDENTITY_SYSTEM_USER:
        break;
    default:
        return -1;
    }
    if (id->n_user_assigned == 0 || !id->user_assigned)
        return -1;
    uai = json_object();
    if (!uai)
        return -1;
    for (i = 0; i < id->n_user_assigned; i++) {
        if (!arm__id_ok(id->user_assigned[i]) ||
            arm__set(uai, id->user_assigned[i], json_object()) < 0) {
            json_decref(uai);
            return -1;
        }
    }
    obj = json_pack("{s:s, s:o}", "type",
                    t == RC_IDENTITY_USER ? "UserAssigned" : "SystemAssigned, UserAssigned",
                    "userAssignedIdentities", uai);
    *ret = obj;
    return obj ? 0 : -1;
}

/* ---- images ---- */

int rc_arm_image_string(const struct rc_image_src *img, char *buf, size_t size)
{
    if (!img)
        return -RC_EINVAL;
    if (!arm__empty(img->id))
        return arm__fmt(buf, size, "%s", img->id);
    if (arm__empty(img->publisher) || arm__empty(img->offer) || arm__empty(img->sku) ||
        arm__empty(img->version))
        return -RC_EINVAL;
    if (strchr(img->publisher, ':') || strchr(img->offer, ':') || strchr(img->sku, ':') ||
        strchr(img->version, ':'))
        return -RC_EINVAL;
    return arm__fmt(buf, size, "%s:%s:%s:%s", img->publisher, img->offer, img->sku, img->version);
}

json_t *rc_arm_image_reference(const char *image)
{
    const char *part[4];
    size_t len[4];
    const char *s, *c;
    int i;

    if (arm__empty(image))
        return NULL;
    if (image[0] == '/')
        return arm__id_ok(image) ? json_pack("{s:s}", "id", image) : NULL;
    s = image;
    for (i = 0; i < 4; i++) {
        c = strchr(s, ':');
        if ((i < 3) != (c != NULL))
            return NULL;
        part[i] = s;
        len[i] = c ? (size_t)(c - s) : strlen(s);
        if (len[i] == 0 || len[i] > ARM_NAME_MAX)
            return NULL;
        s = c ? c + 1 : s;
    }
    return json_pack("{s:s#, s:s#, s:s#, s:s#}", "publisher", part[0], (int)len[0], "offer",
                     part[1], (int)len[1], "sku", part[2], (int)len[2], "version", part[3],
                     (int)len[3]);
}

/* The image a body uses: the given one, else the pool's inline image. */
static const char *arm__image(const struct rc_pool *p, const char *image_id, char *buf, size_t size)
{
    if (!arm__empty(image_id))
        return image_id;
    if (rc_arm_image_string(&p->spec.image, buf, size) < 0)
        return NULL;
    return buf;
}

/* ---- spec hash ---- */

/*
 * The canonical form is the compact JSON text (keys sorted at every level,
 * non-ASCII escaped) of
 *
 *   {"extensions": {<name>: {"autoUpgradeMinorVersion", "protectedSettings":
 *    ref, "publisher", "settings", "type", "typeHandlerVersion"}},
 *    "hybridWorkerAccount": lower, "identity": {"type": int, "userAssigned":
 *    set(lower)}, "location": lower without spaces, "mode", "orchestration",
 *    "os": {"adminUsername", "customData": ref, "sshPublicKeys": set,
 *    "type"}, "patchMode", "subnetId": lower, "tags": {...}, "v": 1,
 *    "vmSize": lower}
 *
 * with ref = null or {"key", "name"} and set = {<item>: true}. It is written
 * directly (no json_t tree: planning hashes every pool on every plan), byte
 * for byte as json_dumps(JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
 * writes it: the hashes are stored in tags on Azure resources, so the text
 * must never change. Like jansson, a string that is not valid UTF-8, a NULL
 * key or set item fails the whole form (the hash is then ""), also in an
 * entry a duplicate key overwrites; duplicate keys keep the last value. tests/unit/test_spec_hash.c
 * checks the writer against the json_t construction it replaced.
 */
struct arm__text {
    char *p;
    size_t len, cap;
    bool fail;
    char small[1024];
};

static void arm__put(struct arm__text *t, const char *s, size_t n)
{
    if (t->fail)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap * 2;
        char *p;

        while (cap < t->len + n + 1)
            cap *= 2;
        p = t->p == t->small ? malloc(cap) : realloc(t->p, cap);
        if (!p) {
            t->fail = true;
            return;
        }
        if (t->p == t->small)
            memcpy(p, t->small, t->len);
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

/* Drops what was written after mark: an entry an object overwrites (duplicate
 * key) is written anyway, because jansson refuses an invalid value before it
 * is replaced. */
static void arm__cut(struct arm__text *t, size_t mark)
{
    if (t->fail)
        return;
    t->len = mark;
    t->p[mark] = '\0';
}

static void arm__lit(struct arm__text *t, const char *s)
{
    arm__put(t, s, strlen(s));
}

/* Length of the UTF-8 sequence at s (jansson's rules: no overlong forms, no
 * surrogates, nothing above U+10FFFF) and its code point; 0 when invalid. */
static size_t arm__utf8(const unsigned char *s, size_t avail, uint32_t *ret_cp)
{
    unsigned char u = s[0];
    size_t n, i;
    uint32_t v;

    if (u < 0x80) {
        *ret_cp = u;
        return 1;
    }
    if (u >= 0xC2 && u <= 0xDF)
        n = 2, v = u & 0x1F;
    else if (u >= 0xE0 && u <= 0xEF)
        n = 3, v = u & 0x0F;
    else if (u >= 0xF0 && u <= 0xF4)
        n = 4, v = u & 0x07;
    else
        return 0;
    if (n > avail)
        return 0;
    for (i = 1; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
        v = (v << 6) + (s[i] & 0x3F);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (n == 2 && v < 0x80) ||
        (n == 3 && v < 0x800) || (n == 4 && v < 0x10000))
        return 0;
    *ret_cp = v;
    return n;
}

/* A JSON string as jansson dumps it with JSON_ENSURE_ASCII. */
static void arm__str(struct arm__text *t, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t len = strlen(str), i = 0, run = 0;

    arm__put(t, "\"", 1);
    while (i < len && !t->fail) {
        uint32_t cp;
        size_t n;
        char seq[16];
        const char *esc = seq;

        /* the common case: printable ASCII written as is */
        while (i < len && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\') {
            i++;
            run++;
        }
        if (i == len)
            break;
        n = arm__utf8(s + i, len - i, &cp);
        if (n == 0) {
            t->fail = true;
            return;
        }
        if (cp != '\\' && cp != '"' && cp >= 0x20 && cp <= 0x7F) {
            i += n;
            run += n;
            continue;
        }
        arm__put(t, str + i - run, run);
        run = 0;
        switch (cp) {
        case '\\':
            esc = "\\\\";
            break;
        case '"':
            esc = "\\\"";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (cp < 0x10000)
                snprintf(seq, sizeof(seq), "\\u%04X", (unsigned)cp);
            else
                snprintf(seq, sizeof(seq), "\\u%04X\\u%04X",
                         (unsigned)(0xD800 | ((cp - 0x10000) >> 10)),
                         (unsigned)(0xDC00 | ((cp - 0x10000) & 0x3FF)));
            break;
        }
        arm__lit(t, esc);
        i += n;
    }
    arm__put(t, str + i - run, run);
    arm__put(t, "\"", 1);
}

static void arm__str_or_null(struct arm__text *t, const char *s)
{
    if (s)
        arm__str(t, s);
    else
        arm__lit(t, "null");
}

/* ASCII-lowercased (and without spaces when nospace: locations) string, or null. */
static void arm__str_lower(struct arm__text *t, const char *s, bool nospace)
{
    char tmp[256], *d = tmp;
    size_t n, i, j;

    if (!s) {
        arm__lit(t, "null");
        return;
    }
    n = strlen(s);
    if (n >= sizeof(tmp)) {
        d = malloc(n + 1);
        if (!d) {
            t->fail = true;
            return;
        }
    }
    for (i = 0, j = 0; i < n; i++)
        if (!nospace || s[i] != ' ')
            d[j++] = arm__lower_c(s[i]);
    d[j] = '\0';
    arm__str(t, d);
    if (d != tmp)
        free(d);
}

static void arm__ref(struct arm__text *t, const struct rc_secret_ref *ref)
{
    if (!ref->name) {
        arm__lit(t, "null");
        return;
    }
    arm__lit(t, "{\"key\":");
    arm__str_or_null(t, ref->key);
    arm__lit(t, ",\"name\":");
    arm__str(t, ref->name);
    arm__put(t, "}", 1);
}

/* Sorted order of n keys (by strcmp, then position: the last of equal keys
 * is the one an object keeps); NULL keys fail. Returns a new array or NULL
 * (t->fail set when that is an error). */
struct arm__key {
    const char *k;
    size_t i;
};

static int arm__key_cmp(const void *a, const void *b)
{
    const struct arm__key *x = a, *y = b;
    int d = strcmp(x->k, y->k);

    if (d)
        return d;
    return x->i < y->i ? -1 : x->i > y->i;
}

static struct arm__key *arm__sorted(struct arm__text *t, size_t n,
                                    const char *(*key)(const void *, size_t), const void *arr)
{
    struct arm__key *v;
    size_t i;

    if (n == 0 || t->fail)
        return NULL;
    v = malloc(n * sizeof(*v));
    if (!v) {
        t->fail = true;
        return NULL;
    }
    for (i = 0; i < n; i++) {
        v[i].k = key(arr, i);
        v[i].i = i;
        if (!v[i].k) {
            t->fail = true;
            free(v);
            return NULL;
        }
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), arm__key_cmp);
    return v;
}

static const char *arm__item_key(const void *arr, size_t i)
{
    return ((char *const *)arr)[i];
}

static const char *arm__ext_key(const void *arr, size_t i)
{
    return ((const struct rc_extension *)arr)[i].name;
}

static const char *arm__tag_key(const void *arr, size_t i)
{
    return ((const struct rc_kv *)arr)[i].key;
}

/* A set of strings: {"<item>":true,...} (lowercased items when lower). */
static void arm__set_text(struct arm__text *t, char *const *items, size_t n, bool lower)
{
    char **low = NULL;
    struct arm__key *v;
    size_t i, out = 0;

    if (n && !items) {
        t->fail = true;
        return;
    }
    if (lower && n) {
        low = calloc(n, sizeof(char *));
        if (!low) {
            t->fail = true;
            return;
        }
        for (i = 0; i < n && !t->fail; i++) {
            if (!items[i])
                t->fail = true;
            else if (!(low[i] = arm__lower_dup(items[i])))
                t->fail = true;
        }
    }
    v = arm__sorted(t, n, arm__item_key, lower ? (const void *)low : (const void *)items);
    arm__put(t, "{", 1);
    for (i = 0; v && i < n; i++) {
        if (i + 1 < n && strcmp(v[i].k, v[i + 1].k) == 0)
            continue;
        if (out++)
            arm__put(t, ",", 1);
        arm__str(t, v[i].k);
        arm__lit(t, ":true");
    }
    arm__put(t, "}", 1);
    free(v);
    for (i = 0; low && i < n; i++)
        free(low[i]);
    free(low);
}

static void arm__extension_text(struct arm__text *t, const struct rc_extension *e)
{
    arm__lit(t, "{\"autoUpgradeMinorVersion\":");
    arm__lit(t, e->auto_upgrade_minor_version ? "true" : "false");
    arm__lit(t, ",\"protectedSettings\":");
    arm__ref(t, &e->protected_settings);
    arm__lit(t, ",\"publisher\":");
    arm__str_or_null(t, e->publisher);
    arm__lit(t, ",\"settings\":");
    if (e->settings) {
        char *s = json_dumps(e->settings,
                             JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);

        if (!s)
            t->fail = true;
        else
            arm__lit(t, s);
        free(s);
    } else {
        arm__lit(t, "null");
    }
    arm__lit(t, ",\"type\":");
    arm__str_or_null(t, e->type);
    arm__lit(t, ",\"typeHandlerVersion\":");
    arm__str_or_null(t, e->type_handler_version);
    arm__put(t, "}", 1);
}

static void arm__canonical(struct arm__text *t, const struct rc_pool *p)
{
    const struct rc_pool_spec *s = &p->spec;
    struct arm__key *v;
    size_t i, out = 0;
    char num[32];

    arm__lit(t, "{\"extensions\":{");
    v = arm__sorted(t, s->n_extensions, arm__ext_key, s->extensions);
    for (i = 0; v && i < s->n_extensions; i++) {
        bool dup = i + 1 < s->n_extensions && strcmp(v[i].k, v[i + 1].k) == 0;
        size_t mark = t->len;

        if (!dup && out++)
            arm__put(t, ",", 1);
        arm__str(t, v[i].k);
        arm__put(t, ":", 1);
        arm__extension_text(t, &s->extensions[v[i].i]);
        if (dup)
            arm__cut(t, mark);
    }
    free(v);
    arm__lit(t, "},\"hybridWorkerAccount\":");
    arm__str_lower(t, s->hybrid_worker.automation_account_id, false);
    snprintf(num, sizeof(num), "%d", (int)arm__identity_type(p));
    arm__lit(t, ",\"identity\":{\"type\":");
    arm__lit(t, num);
    arm__lit(t, ",\"userAssigned\":");
    arm__set_text(t, s->identity.user_assigned, s->identity.n_user_assigned, true);
    arm__lit(t, "},\"location\":");
    arm__str_lower(t, s->location, true);
    arm__lit(t, s->mode == RC_MODE_SCALESET ? ",\"mode\":\"ScaleSet\""
                                            : ",\"mode\":\"VirtualMachines\"");
    arm__lit(t, arm__flexible(p) ? ",\"orchestration\":\"Flexible\""
                                 : ",\"orchestration\":\"Uniform\"");
    arm__lit(t, ",\"os\":{\"adminUsername\":");
    arm__str_or_null(t, s->os_profile.admin_username);
    arm__lit(t, ",\"customData\":");
    arm__ref(t, &s->os_profile.custom_data);
    arm__lit(t, ",\"sshPublicKeys\":");
    arm__set_text(t, s->os_profile.ssh_public_keys, s->os_profile.n_ssh_public_keys, false);
    arm__lit(t, arm__windows(p) ? ",\"type\":\"Windows\"}" : ",\"type\":\"Linux\"}");
    arm__lit(t, ",\"patchMode\":");
    arm__str_or_null(t, s->patch_mode);
    arm__lit(t, ",\"subnetId\":");
    arm__str_lower(t, s->subnet_id, false);
    arm__lit(t, ",\"tags\":{");
    v = arm__sorted(t, s->n_tags, arm__tag_key, s->tags);
    for (i = 0, out = 0; v && i < s->n_tags; i++) {
        bool dup = i + 1 < s->n_tags && strcmp(v[i].k, v[i + 1].k) == 0;
        size_t mark = t->len;

        if (!dup && out++)
            arm__put(t, ",", 1);
        arm__str(t, v[i].k);
        arm__put(t, ":", 1);
        arm__str_or_null(t, s->tags[v[i].i].value);
        if (dup)
            arm__cut(t, mark);
    }
    free(v);
    arm__lit(t, "},\"v\":1,\"vmSize\":");
    arm__str_lower(t, s->vm_size, false);
    arm__put(t, "}", 1);
}

void rc_arm_spec_hash(const struct rc_pool *p, char *buf, size_t size)
{
    struct arm__text t;

    if (!buf || size == 0)
        return;
    buf[0] = '\0';
    if (!p)
        return;
    t.p = t.small;
    t.len = 0;
    t.cap = sizeof(t.small);
    t.fail = false;
    t.small[0] = '\0';
    arm__canonical(&t, p);
    if (!t.fail)
        (void)arm__fmt(buf, size, "%016" PRIx64, rc_hash64(t.p, t.len));
    if (t.p != t.small)
        free(t.p);
}

/* ---- ids ---- */

static int arm__rg_ok(const struct rc_pool *p)
{
    if (!p || !arm__segment_ok(p->spec.subscription_id) || !arm__segment_ok(p->spec.resource_group))
        return -RC_EINVAL;
    return 0;
}

int rc_arm_vmss_id(const struct rc_pool *p, char *buf, size_t size)
{
    char name[RC_NAME_MAX + 1];
    int r;

    r = arm__rg_ok(p);
    if (r < 0)
        return r;
    r = rc_name_vmss(p->meta.namespace, p->meta.name, name, sizeof(name));
    if (r < 0)
        return r;
    return arm__fmt(buf, size,
                    "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/"
                    "virtualMachineScaleSets/%s",
                    p->spec.subscription_id, p->spec.resource_group, name);
}

int rc_arm_vm_id(const struct rc_pool *p, const char *vm_name, char *buf, size_t size)
{
    int r = arm__rg_ok(p);

    if (r < 0)
        return r;
    if (!arm__segment_ok(vm_name))
        return -RC_EINVAL;
    return arm__fmt(buf, size,
                    "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/"
                    "virtualMachines/%s",
                    p->spec.subscription_id, p->spec.resource_group, vm_name);
}

int rc_arm_nic_id(const struct rc_pool *p, const char *vm_name, char *buf, size_t size)
{
    int r = arm__rg_ok(p);

    if (r < 0)
        return r;
    if (!arm__segment_ok(vm_name))
        return -RC_EINVAL;
    return arm__fmt(buf, size,
                    "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/"
                    "networkInterfaces/%s-nic",
                    p->spec.subscription_id, p->spec.resource_group, vm_name);
}

int rc_arm_extension_id(const char *vm_id, const char *ext_name, char *buf, size_t size)
{
    if (!arm__id_ok(vm_id) || !arm__segment_ok(ext_name))
        return -RC_EINVAL;
    return arm__fmt(buf, size, "%s/extensions/%s", vm_id, ext_name);
}

int rc_arm_worker_group_id(const struct rc_pool *p, char *buf, size_t size)
{
    const struct rc_hrw_registration *h;

    if (!p)
        return -RC_EINVAL;
    h = &p->spec.hybrid_worker;
    if (!arm__id_ok(h->automation_account_id) || !arm__segment_ok(h->group))
        return -RC_EINVAL;
    return arm__fmt(buf, size, "%s/hybridRunbookWorkerGroups/%s", h->automation_account_id,
                    h->group);
}

/* UUIDv5 of the lowercased "<vm_id><suffix>". */
static int arm__uuid(const char *vm_id, const char *suffix, char *buf, size_t size)
{
    char name[RC_ARM_ID_MAX + 16];
    size_t i;
    int r;

    if (!arm__id_ok(vm_id))
        return -RC_EINVAL;
    r = arm__fmt(name, sizeof(name), "%s%s", vm_id, suffix);
    if (r < 0)
        return r;
    for (i = 0; name[i]; i++)
        name[i] = arm__lower_c(name[i]);
    if (!buf || size < 37)
        return -RC_ELIMIT;
    rc_uuid5(rc_uuid_ns_azpool, name, buf, size);
    return 0;
}

int rc_arm_worker_name(const char *vm_id, char *buf, size_t size)
{
    return arm__uuid(vm_id, "", buf, size);
}

int rc_arm_worker_id(const struct rc_pool *p, const char *vm_id, char *buf, size_t size)
{
    char group[RC_ARM_ID_MAX];
    char uuid[37];
    int r;

    r = rc_arm_worker_group_id(p, group, sizeof(group));
    if (r < 0)
        return r;
    r = rc_arm_worker_name(vm_id, uuid, sizeof(uuid));
    if (r < 0)
        return r;
    return arm__fmt(buf, size, "%s/hybridRunbookWorkers/%s", group, uuid);
}

int rc_arm_job_id(const struct rc_pool *p, const char *vm_id, int attempt, char *buf, size_t size)
{
    char suffix[16];
    char uuid[37];
    int r;

    if (!p || !vm_id || attempt < 1 || !arm__id_ok(p->spec.after_create.automation_account_id))
        return -RC_EINVAL;
    r = arm__fmt(suffix, sizeof(suffix), "#%d", attempt);
    if (r < 0)
        return r;
    r = arm__uuid(vm_id, suffix, uuid, sizeof(uuid));
    if (r < 0)
        return r;
    return arm__fmt(buf, size, "%s/jobs/%s", p->spec.after_create.automation_account_id, uuid);
}

/* ---- body parts ---- */

json_t *rc_arm_secret_ref(const struct rc_secret_ref *ref)
{
    if (!ref || !ref->name || !ref->key)
        return NULL;
    return json_pack("{s:{s:s, s:s}}", "$secretRef", "name", ref->name, "key", ref->key);
}

static json_t *arm__patch_settings(const char *mode)
{
    if (strcmp(mode, "AutomaticByPlatform") == 0)
        return json_pack("{s:s, s:s}", "patchMode", mode, "assessmentMode", "AutomaticByPlatform");
    return json_pack("{s:s}", "patchMode", mode);
}

static json_t *arm__linux_config(const struct rc_pool *p)
{
    const struct rc_os_profile *os = &p->spec.os_profile;
    char path[128];
    json_t *cfg, *keys;
    size_t i;

    if (arm__fmt(path, sizeof(path), "/home/%s/.ssh/authorized_keys", os->admin_username) < 0)
        return NULL;
    cfg = json_pack("{s:b, s:b}", "disablePasswordAuthentication", 1, "provisionVMAgent", 1);
    if (!cfg)
        return NULL;
    if (os->n_ssh_public_keys > 0) {
        keys = json_array();
        if (!keys || !os->ssh_public_keys)
            goto fail_keys;
        for (i = 0; i < os->n_ssh_public_keys; i++)
            if (json_array_append_new(
                    keys, json_pack("{s:s, s:s}", "path", path, "keyData", os->ssh_public_keys[i])))
                goto fail_keys;
        if (arm__set(cfg, "ssh", json_pack("{s:o}", "publicKeys", keys)) < 0)
            goto fail;
    }
    if (p->spec.patch_mode &&
        arm__set(cfg, "patchSettings", arm__patch_settings(p->spec.patch_mode)) < 0)
        goto fail;
    return cfg;
fail_keys:
    json_decref(keys);
fail:
    json_decref(cfg);
    return NULL;
}

static json_t *arm__windows_config(const struct rc_pool *p)
{
    const char *mode = p->spec.patch_mode;
    json_t *cfg = json_pack("{s:b}", "provisionVMAgent", 1);

    if (!cfg || !mode)
        return cfg;
    if (arm__set(cfg, "enableAutomaticUpdates", json_boolean(strcmp(mode, "Manual") != 0)) < 0 ||
        arm__set(cfg, "patchSettings", arm__patch_settings(mode)) < 0) {
        json_decref(cfg);
        return NULL;
    }
    return cfg;
}

/* osProfile with the computer name (or prefix, for a scale set). */
static json_t *arm__os_profile(const struct rc_pool *p, const char *name_key, const char *name)
{
    const struct rc_os_profile *os = &p->spec.os_profile;
    json_t *prof;

    if (arm__empty(os->admin_username))
        return NULL;
    prof = json_pack("{s:s, s:s, s:o}", name_key, name, "adminUsername", os->admin_username,
                     arm__windows(p) ? "windowsConfiguration" : "linuxConfiguration",
                     arm__windows(p) ? arm__windows_config(p) : arm__linux_config(p));
    if (!prof)
        return NULL;
    if (os->custom_data.name &&
        arm__set(prof, "customData", rc_arm_secret_ref(&os->custom_data)) < 0) {
        json_decref(prof);
        return NULL;
    }
    return prof;
}

static json_t *arm__storage_profile(const char *image, bool delete_option)
{
    json_t *disk = json_pack("{s:s}", "createOption", "FromImage");

    if (disk && delete_option && arm__set(disk, "deleteOption", json_string("Delete")) < 0) {
        json_decref(disk);
        disk = NULL;
    }
    return json_pack("{s:o, s:o}", "imageReference", rc_arm_image_reference(image), "osDisk", disk);
}

static json_t *arm__ext_props(const struct rc_extension *e)
{
    json_t *props;

    props = json_pack("{s:s, s:s, s:s, s:b}", "publisher", e->publisher, "type", e->type,
                      "typeHandlerVersion", e->type_handler_version, "autoUpgradeMinorVersion",
                      (int)e->auto_upgrade_minor_version);
    if (!props)
        return NULL;
    if (e->settings && arm__set(props, "settings", json_deep_copy(e->settings)) < 0)
        goto fail;
    if (e->protected_settings.name &&
        arm__set(props, "protectedSettings", rc_arm_secret_ref(&e->protected_settings)) < 0)
        goto fail;
    return props;
fail:
    json_decref(props);
    return NULL;
}

static json_t *arm__vmss_extensions(const struct rc_pool *p)
{
    json_t *list = json_array();
    size_t i;

    if (!list)
        return NULL;
    if (p->spec.n_extensions > 0 && !p->spec.extensions)
        goto fail;
    for (i = 0; i < p->spec.n_extensions; i++) {
        const struct rc_extension *e = &p->spec.extensions[i];

        if (!arm__segment_ok(e->name) ||
            json_array_append_new(
                list, json_pack("{s:s, s:o}", "name", e->name, "properties", arm__ext_props(e))))
            goto fail;
    }
    return json_pack("{s:o}", "extensions", list);
fail:
    json_decref(list);
    return NULL;
}

static json_t *arm__vmss_network(const struct rc_pool *p)
{
    json_t *ipc, *nicp, *net;
    bool flex = arm__flexible(p);

    if (!arm__id_ok(p->spec.subnet_id))
        return NULL;
    ipc = json_pack("[{s:s, s:{s:b, s:{s:s}}}]", "name", "ipconfig1", "properties", "primary", 1,
                    "subnet", "id", p->spec.subnet_id);
    nicp = json_pack("{s:b, s:o}", "primary", 1, "ipConfigurations", ipc);
    if (nicp && flex && arm__set(nicp, "deleteOption", json_string("Delete")) < 0) {
        json_decref(nicp);
        nicp = NULL;
    }
    net = json_pack("{s:[{s:s, s:o}]}", "networkInterfaceConfigurations", "name", "nic",
                    "properties", nicp);
    if (net && flex &&
        arm__set(net, "networkApiVersion", json_string(RC_ARM_FLEX_NETWORK_API)) < 0) {
        json_decref(net);
        net = NULL;
    }
    return net;
}

/* Adds "identity" to body when the pool has one; 0 or -1. */
static int arm__add_identity(const struct rc_pool *p, json_t *body)
{
    json_t *ident;

    if (arm__identity(p, &ident) < 0)
        return -1;
    if (ident && arm__set(body, "identity", ident) < 0)
        return -1;
    return 0;
}

static bool arm__pool_ok(const struct rc_pool *p)
{
    return p && !arm__empty(p->spec.location) && !arm__empty(p->spec.vm_size);
}

/* ---- bodies ---- */

json_t *rc_arm_vmss_body(const struct rc_pool *p, const char *image_id, int64_t capacity,
                         int64_t now_ms)
{
    char prefix[RC_PREFIX_MAX_LINUX + 1];
    char ibuf[RC_ARM_ID_MAX];
    const char *image;
    json_t *vmp, *props, *body;
    bool flex;

    if (!arm__pool_ok(p) || capacity < 0)
        return NULL;
    flex = arm__flexible(p);
    image = arm__image(p, image_id, ibuf, sizeof(ibuf));
    if (!image || rc_name_prefix(p->meta.namespace, p->meta.name, arm__windows(p), prefix,
                                 sizeof(prefix)) < 0)
        return NULL;
    vmp = json_pack("{s:o, s:o, s:o, s:o}", "storageProfile", arm__storage_profile(image, flex),
                    "osProfile", arm__os_profile(p, "computerNamePrefix", prefix), "networkProfile",
                    arm__vmss_network(p), "extensionProfile", arm__vmss_extensions(p));
    props = json_pack("{s:s, s:{s:s}, s:b, s:o}", "orchestrationMode",
                      flex ? "Flexible" : "Uniform", "upgradePolicy", "mode", "Manual",
                      "singlePlacementGroup", 0, "virtualMachineProfile", vmp);
    if (props && flex && arm__set(props, "platformFaultDomainCount", json_integer(1)) < 0)
        goto fail_props;
    if (props && !flex && arm__set(props, "overprovision", json_false()) < 0)
        goto fail_props;
    body = json_pack("{s:s, s:o, s:{s:s, s:s, s:I}, s:o}", "location", p->spec.location, "tags",
                     rc_arm_tags(p, image, now_ms, 0), "sku", "name", p->spec.vm_size, "tier",
                     "Standard", "capacity", (json_int_t)capacity, "properties", props);
    if (body && arm__add_identity(p, body) < 0) {
        json_decref(body);
        return NULL;
    }
    return body;
fail_props:
    json_decref(props);
    return NULL;
}

json_t *rc_arm_vmss_patch(int64_t capacity, const char *image_id, json_t *tags)
{
    json_t *body;

    if (capacity < 0 && !image_id && !tags)
        return NULL;
    if (tags && !json_is_object(tags))
        return NULL;
    body = json_object();
    if (!body)
        return NULL;
    if (capacity >= 0 &&
        arm__set(body, "sku", json_pack("{s:I}", "capacity", (json_int_t)capacity)) < 0)
        goto fail;
    if (image_id && arm__set(body, "properties",
                             json_pack("{s:{s:{s:o}}}", "virtualMachineProfile", "storageProfile",
                                       "imageReference", rc_arm_image_reference(image_id))) < 0)
        goto fail;
    if (tags && arm__set(body, "tags", json_incref(tags)) < 0)
        goto fail;
    return body;
fail:
    json_decref(body);
    return NULL;
}

json_t *rc_arm_instance_ids_body(char *const *instance_ids, size_t n)
{
    json_t *ids;
    size_t i;

    if (!instance_ids || n == 0 || n > RC_ARM_INSTANCE_IDS_MAX)
        return NULL;
    ids = json_array();
    if (!ids)
        return NULL;
    for (i = 0; i < n; i++) {
        if (!arm__segment_ok(instance_ids[i]) ||
            json_array_append_new(ids, json_string(instance_ids[i]))) {
            json_decref(ids);
            return NULL;
        }
    }
    return json_pack("{s:o}", "instanceIds", ids);
}

json_t *rc_arm_nic_body(const struct rc_pool *p, const char *vm_name, int64_t now_ms)
{
    if (!p || arm__empty(p->spec.location) || !arm__segment_ok(vm_name) ||
        !arm__id_ok(p->spec.subnet_id))
        return NULL;
    return json_pack("{s:s, s:o, s:{s:[{s:s, s:{s:{s:s}, s:s}}]}}", "location", p->spec.location,
                     "tags", rc_arm_tags(p, NULL, now_ms, 0), "properties", "ipConfigurations",
                     "name", "ipconfig1", "properties", "subnet", "id", p->spec.subnet_id,
                     "privateIPAllocationMethod", "Dynamic");
}

/* Host name of a standalone VM: the VM name within the OS limit, no trailing '-'. */
static int arm__host_name(const struct rc_pool *p, const char *vm_name, char *buf, size_t size)
{
    size_t max = arm__windows(p) ? RC_HOST_MAX_WINDOWS : RC_HOST_MAX_LINUX;
    size_t n = strnlen(vm_name, max);

    if (size <= max)
        return -RC_ELIMIT;
    memcpy(buf, vm_name, n);
    while (n > 0 && (buf[n - 1] == '-' || buf[n - 1] == '.'))
        n--;
    buf[n] = '\0';
    return n > 0 ? 0 : -RC_EINVAL;
}

json_t *rc_arm_vm_body(const struct rc_pool *p, const char *vm_name, const char *image_id,
                       int64_t created_ms, int64_t expires_ms)
{
    char host[RC_HOST_MAX_LINUX + 1];
    char nic[RC_ARM_ID_MAX];
    char ibuf[RC_ARM_ID_MAX];
    const char *image;
    json_t *body;

    if (!arm__pool_ok(p) || !arm__segment_ok(vm_name))
        return NULL;
    image = arm__image(p, image_id, ibuf, sizeof(ibuf));
    if (!image || arm__host_name(p, vm_name, host, sizeof(host)) < 0 ||
        rc_arm_nic_id(p, vm_name, nic, sizeof(nic)) < 0)
        return NULL;
    body =
        json_pack("{s:s, s:o, s:{s:{s:s}, s:o, s:o, s:{s:[{s:s, s:{s:b, s:s}}]}}}", "location",
                  p->spec.location, "tags", rc_arm_tags(p, image, created_ms, expires_ms),
                  "properties", "hardwareProfile", "vmSize", p->spec.vm_size, "storageProfile",
                  arm__storage_profile(image, true), "osProfile",
                  arm__os_profile(p, "computerName", host), "networkProfile", "networkInterfaces",
                  "id", nic, "properties", "primary", 1, "deleteOption", "Delete");
    if (body && arm__add_identity(p, body) < 0) {
        json_decref(body);
        return NULL;
    }
    return body;
}

json_t *rc_arm_extension_body(const struct rc_pool *p, const struct rc_extension *ext)
{
    if (!p || !ext || arm__empty(p->spec.location))
        return NULL;
    return json_pack("{s:s, s:o, s:o}", "location", p->spec.location, "tags",
                     rc_arm_tags(p, NULL, 0, 0), "properties", arm__ext_props(ext));
}

json_t *rc_arm_hrw_extension_body(const struct rc_pool *p, const char *hybrid_service_url)
{
    if (!p || arm__empty(p->spec.location) || arm__empty(hybrid_service_url))
        return NULL;
    return json_pack(
        "{s:s, s:o, s:{s:s, s:s, s:s, s:b, s:b, s:{s:s}}}", "location", p->spec.location, "tags",
        rc_arm_tags(p, NULL, 0, 0), "properties", "publisher", RC_ARM_HRW_PUBLISHER, "type",
        arm__windows(p) ? "HybridWorkerForWindows" : "HybridWorkerForLinux", "typeHandlerVersion",
        "1.1", "autoUpgradeMinorVersion", 1, "enableAutomaticUpgrade", 1, "settings",
        "AutomationAccountURL", hybrid_service_url);
}

json_t *rc_arm_worker_group_body(void)
{
    return json_pack("{s:{}}", "properties");
}

json_t *rc_arm_worker_body(const char *vm_id)
{
    if (!arm__id_ok(vm_id))
        return NULL;
    return json_pack("{s:{s:s}}", "properties", "vmResourceId", vm_id);
}

json_t *rc_arm_job_body(const struct rc_pool *p, const char *vm_id)
{
    const struct rc_runbook_hook *h;
    json_t *params;
    const char *k;
    json_t *v;

    if (!p || !arm__id_ok(vm_id))
        return NULL;
    h = &p->spec.after_create;
    if (arm__empty(h->name))
        return NULL;
    if (h->parameters && !json_is_object(h->parameters))
        return NULL;
    params = json_object();
    if (!params)
        return NULL;
    json_object_foreach(h->parameters, k, v)
    {
        json_t *sv;

        if (json_is_string(v)) {
            sv = json_incref(v);
        } else {
            char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

            sv = text ? json_string(text) : NULL;
            free(text);
        }
        if (arm__set(params, k, sv) < 0)
            goto fail;
    }
    if (arm__set(params, RC_ARM_JOB_PARAM_VM, json_string(vm_id)) < 0)
        goto fail;
    return json_pack("{s:{s:{s:s}, s:o}}", "properties", "runbook", "name", h->name, "parameters",
                     params);
fail:
    json_decref(params);
    return NULL;
}

json_t *rc_arm_tags_patch(json_t *tags)
{
    if (!json_is_object(tags))
        return NULL;
    return json_pack("{s:O}", "tags", tags);
}
