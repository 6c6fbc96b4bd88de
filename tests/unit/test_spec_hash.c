/*
 * test_spec_hash.c - rc_arm_spec_hash() writes its canonical text directly
 * (reconcile/rc_arm.c); the hashes are stored in tags on Azure resources, so
 * the text must stay byte for byte what the json_t construction it replaced
 * produced (json_pack + json_dumps(COMPACT | SORT_KEYS | ENSURE_ASCII)).
 *
 * The oracle below is that construction, kept verbatim. Random pools (fixed
 * seed) exercise every field: upper case and spaces, quotes, backslashes,
 * control characters, non-ASCII and non-BMP characters, invalid UTF-8 (the
 * hash is then ""), NULL keys and items, duplicate tag and extension names,
 * nested extension settings with reals and unicode keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <inttypes.h>
#include <jansson.h>

#include "rc_arm.h"
#include "rc_model.h"
#include "rc_util.h"
#include "test_main.h"

/* ---- the oracle: the previous implementation ---- */

static char lower_c(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static char *lower_dup(const char *s)
{
    size_t n = strlen(s), i;
    char *d = malloc(n + 1);

    if (!d)
        return NULL;
    for (i = 0; i < n; i++)
        d[i] = lower_c(s[i]);
    d[n] = '\0';
    return d;
}

static int oset(json_t *obj, const char *key, json_t *v)
{
    if (!v)
        return -1;
    return json_object_set_new(obj, key, v) ? -1 : 0;
}

static json_t *jlower(const char *s)
{
    char *low;
    json_t *v;

    if (!s)
        return json_null();
    low = lower_dup(s);
    if (!low)
        return NULL;
    v = json_string(low);
    free(low);
    return v;
}

static json_t *jstr_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *jref(const struct rc_secret_ref *ref)
{
    if (!ref->name)
        return json_null();
    return json_pack("{s:s, s:s?}", "name", ref->name, "key", ref->key);
}

static json_t *jset(char *const *v, size_t n, bool lower)
{
    json_t *o = json_object();
    size_t i;

    if (!o)
        return NULL;
    for (i = 0; i < n; i++) {
        char *k;
        int r;

        if (!v || !v[i])
            goto fail;
        k = lower ? lower_dup(v[i]) : NULL;
        if (lower && !k)
            goto fail;
        r = oset(o, lower ? k : v[i], json_true());
        free(k);
        if (r < 0)
            goto fail;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

static json_t *jlocation(const char *s)
{
    char *d;
    size_t i, j;
    json_t *v;

    if (!s)
        return json_null();
    d = malloc(strlen(s) + 1);
    if (!d)
        return NULL;
    for (i = 0, j = 0; s[i]; i++)
        if (s[i] != ' ')
            d[j++] = lower_c(s[i]);
    d[j] = '\0';
    v = json_string(d);
    free(d);
    return v;
}

static enum rc_identity_type identity_type(const struct rc_pool *p)
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

static json_t *canonical(const struct rc_pool *p)
{
    const struct rc_pool_spec *s = &p->spec;
    json_t *exts, *tags, *ident;
    size_t i;

    exts = json_object();
    tags = json_object();
    if (!exts || !tags)
        goto fail;
    for (i = 0; i < s->n_extensions; i++) {
        const struct rc_extension *e = &s->extensions[i];

        if (!e->name || oset(exts, e->name,
                             json_pack("{s:o, s:o, s:o, s:b, s:O?, s:o}", "publisher",
                                       jstr_or_null(e->publisher), "type", jstr_or_null(e->type),
                                       "typeHandlerVersion", jstr_or_null(e->type_handler_version),
                                       "autoUpgradeMinorVersion",
                                       (int)e->auto_upgrade_minor_version, "settings", e->settings,
                                       "protectedSettings", jref(&e->protected_settings))) < 0)
            goto fail;
    }
    for (i = 0; i < s->n_tags; i++)
        if (!s->tags[i].key || oset(tags, s->tags[i].key, jstr_or_null(s->tags[i].value)) < 0)
            goto fail;
    ident = json_pack("{s:i, s:o}", "type", (int)identity_type(p), "userAssigned",
                      jset(s->identity.user_assigned, s->identity.n_user_assigned, true));
    return json_pack("{s:i, s:s, s:s, s:o, s:o, s:o, s:o,"
                     " s:{s:s, s:o, s:o, s:o},"
                     " s:o, s:o, s:o, s:o}",
                     "v", 1, "mode", s->mode == RC_MODE_SCALESET ? "ScaleSet" : "VirtualMachines",
                     "orchestration", s->orchestration == RC_ORCH_FLEXIBLE ? "Flexible" : "Uniform",
                     "location", jlocation(s->location), "vmSize", jlower(s->vm_size), "subnetId",
                     jlower(s->subnet_id), "identity", ident, "os", "type",
                     s->os_profile.os_type == RC_OS_WINDOWS ? "Windows" : "Linux", "adminUsername",
                     jstr_or_null(s->os_profile.admin_username), "sshPublicKeys",
                     jset(s->os_profile.ssh_public_keys, s->os_profile.n_ssh_public_keys, false),
                     "customData", jref(&s->os_profile.custom_data), "patchMode",
                     jstr_or_null(s->patch_mode), "extensions", exts, "hybridWorkerAccount",
                     jlower(s->hybrid_worker.automation_account_id), "tags", tags);
fail:
    json_decref(exts);
    json_decref(tags);
    return NULL;
}

static void oracle_hash(const struct rc_pool *p, char *buf, size_t size)
{
    json_t *c;
    char *text;

    buf[0] = '\0';
    c = canonical(p);
    if (!c)
        return;
    text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(c);
    if (!text)
        return;
    snprintf(buf, size, "%016" PRIx64, rc_hash64(text, strlen(text)));
    free(text);
}

/* ---- random pools ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* Pieces strings are made of; the last ones are invalid UTF-8. */
static const char *const pieces[] = {"a",
                                     "Z",
                                     "West Europe",
                                     " ",
                                     "/subscriptions/S/resourceGroups/RG",
                                     "\"",
                                     "\\",
                                     "\n",
                                     "\t",
                                     "\x01",
                                     "\x1f",
                                     "\x7f",
                                     "/",
                                     "\xc3\xa9",
                                     "\xe2\x82\xac",
                                     "\xf0\x9f\x98\x80",
                                     "\xef\xbf\xbf",
                                     "key",
                                     "Key",
                                     "0",
                                     "\xc3",
                                     "\xc0\xaf",
                                     "\xed\xa0\x80",
                                     "\xf4\x90\x80\x80",
                                     "\xe0\x80\xaf",
                                     "\xc3 \xa9"};
#define N_VALID_PIECES 20

static char *rnd_str(bool allow_invalid)
{
    char buf[512];
    size_t len = 0;
    unsigned n = rnd(6), i;
    unsigned lim = allow_invalid && rnd(8) == 0 ? (unsigned)(sizeof(pieces) / sizeof(pieces[0]))
                                                : N_VALID_PIECES;

    buf[0] = '\0';
    if (rnd(30) == 0) /* long: exercises the heap paths */
        n = 60;
    for (i = 0; i < n; i++) {
        const char *pc = pieces[rnd(lim)];
        size_t pl = strlen(pc);

        if (len + pl >= sizeof(buf))
            break;
        memcpy(buf + len, pc, pl + 1);
        len += pl;
    }
    return rc_strdup(buf);
}

static char *rnd_opt(bool allow_invalid)
{
    return rnd(4) == 0 ? NULL : rnd_str(allow_invalid);
}

static json_t *rnd_json(int depth)
{
    switch (rnd(depth > 2 ? 5 : 7)) {
    case 0:
        return json_string("v\xc3\xa9\"/x");
    case 1:
        return json_integer((json_int_t)rnd(1000) - 500);
    case 2:
        return json_real((double)rnd(100000) / 7.0);
    case 3:
        return json_true();
    case 4:
        return json_null();
    case 5: {
        json_t *a = json_array();
        unsigned n = rnd(4), i;

        for (i = 0; i < n; i++)
            json_array_append_new(a, rnd_json(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        unsigned n = rnd(5), i;

        for (i = 0; i < n; i++) {
            char *k = rnd_str(false);

            json_object_set_new(o, k, rnd_json(depth + 1));
            free(k);
        }
        return o;
    }
    }
}

static void rnd_ref(struct rc_secret_ref *r)
{
    r->name = rnd(2) ? rnd_str(true) : NULL;
    r->key = rnd_opt(true);
}

static char **rnd_list(size_t *ret_n, bool allow_null)
{
    size_t n = rnd(5), i;
    char **v = n ? calloc(n, sizeof(char *)) : NULL;

    for (i = 0; i < n; i++)
        v[i] = allow_null && rnd(25) == 0 ? NULL
               : rnd(3) == 0 && i         ? rc_strdup(v[0] ? v[0] : "x")
                                          : rnd_str(true);
    *ret_n = n;
    return v;
}

static void rnd_pool(struct rc_pool *p)
{
    struct rc_pool_spec *s = &p->spec;
    size_t i;

    memset(p, 0, sizeof(*p));
    s->mode = rnd(2) ? RC_MODE_SCALESET : RC_MODE_VIRTUALMACHINES;
    s->orchestration = rnd(2) ? RC_ORCH_UNIFORM : RC_ORCH_FLEXIBLE;
    s->location = rnd_opt(true);
    s->vm_size = rnd_opt(true);
    s->subnet_id = rnd_opt(true);
    s->patch_mode = rnd_opt(true);
    s->hybrid_worker.automation_account_id = rnd(3) == 0 ? rnd_str(true) : NULL;
    s->identity.type = (enum rc_identity_type)rnd(4);
    s->identity.user_assigned = rnd_list(&s->identity.n_user_assigned, true);
    s->os_profile.os_type = rnd(2) ? RC_OS_LINUX : RC_OS_WINDOWS;
    s->os_profile.admin_username = rnd_opt(true);
    s->os_profile.ssh_public_keys = rnd_list(&s->os_profile.n_ssh_public_keys, true);
    rnd_ref(&s->os_profile.custom_data);
    s->n_tags = rnd(6);
    s->tags = s->n_tags ? calloc(s->n_tags, sizeof(*s->tags)) : NULL;
    for (i = 0; i < s->n_tags; i++) {
        s->tags[i].key = rnd(40) == 0       ? NULL
                         : i && rnd(4) == 0 ? rc_strdup(s->tags[0].key ? s->tags[0].key : "k")
                                            : rnd_str(true);
        s->tags[i].value = rnd_opt(true);
    }
    s->n_extensions = rnd(4);
    s->extensions = s->n_extensions ? calloc(s->n_extensions, sizeof(*s->extensions)) : NULL;
    for (i = 0; i < s->n_extensions; i++) {
        struct rc_extension *e = &s->extensions[i];

        e->name = rnd(40) == 0 ? NULL
                  : i && rnd(4) == 0
                      ? rc_strdup(s->extensions[0].name ? s->extensions[0].name : "e")
                      : rnd_str(true);
        e->publisher = rnd_opt(true);
        e->type = rnd_opt(true);
        e->type_handler_version = rnd_opt(true);
        e->auto_upgrade_minor_version = rnd(2);
        e->settings = rnd(3) ? rnd_json(0) : NULL;
        rnd_ref(&e->protected_settings);
    }
}

static void free_list(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void free_pool(struct rc_pool *p)
{
    struct rc_pool_spec *s = &p->spec;
    size_t i;

    free(s->location);
    free(s->vm_size);
    free(s->subnet_id);
    free(s->patch_mode);
    free(s->hybrid_worker.automation_account_id);
    free_list(s->identity.user_assigned, s->identity.n_user_assigned);
    free(s->os_profile.admin_username);
    free_list(s->os_profile.ssh_public_keys, s->os_profile.n_ssh_public_keys);
    free(s->os_profile.custom_data.name);
    free(s->os_profile.custom_data.key);
    for (i = 0; i < s->n_tags; i++) {
        free(s->tags[i].key);
        free(s->tags[i].value);
    }
    free(s->tags);
    for (i = 0; i < s->n_extensions; i++) {
        struct rc_extension *e = &s->extensions[i];

        free(e->name);
        free(e->publisher);
        free(e->type);
        free(e->type_handler_version);
        json_decref(e->settings);
        free(e->protected_settings.name);
        free(e->protected_settings.key);
    }
    free(s->extensions);
}

/* ---- tests ---- */

/* The direct writer and the json_t construction agree on 20,000 random pools,
 * valid and invalid ones alike, and both kinds actually occur. */
static void test_spec_hash_matches_json_construction(void **state)
{
    int i, empty = 0, full = 0;

    (void)state;
    for (i = 0; i < 20000; i++) {
        struct rc_pool p;
        char want[32], got[32];

        rnd_pool(&p);
        oracle_hash(&p, want, sizeof(want));
        rc_arm_spec_hash(&p, got, sizeof(got));
        if (strcmp(want, got) != 0)
            fail_msg("pool %d: json construction says \"%s\", writer says \"%s\"", i, want, got);
        if (want[0])
            full++;
        else
            empty++;
        free_pool(&p);
    }
    assert_true(full > 1000);
    assert_true(empty > 1000);
}

/* A plain pool as the decoder builds it hashes to a 16-hex value, the same
 * one the json construction gives; unicode and escapes included. */
static void test_spec_hash_plain_pool(void **state)
{
    struct rc_pool p;
    struct rc_kv tags[3] = {
        {"team", "ops"}, {"Owner", "J\xc3\xa9r\xc3\xb4me \"JB\""}, {"team", "dev"}};
    char *ssh[2] = {"ssh-ed25519 AAAA x@y", "ssh-ed25519 AAAA x@y"};
    char want[32], got[32];

    (void)state;
    memset(&p, 0, sizeof(p));
    p.spec.location = "West Europe";
    p.spec.vm_size = "Standard_D2s_v5";
    p.spec.subnet_id = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/"
                       "virtualNetworks/v/subnets/Workers";
    p.spec.tags = tags;
    p.spec.n_tags = 3;
    p.spec.os_profile.admin_username = "azpool";
    p.spec.os_profile.ssh_public_keys = ssh;
    p.spec.os_profile.n_ssh_public_keys = 2;
    oracle_hash(&p, want, sizeof(want));
    rc_arm_spec_hash(&p, got, sizeof(got));
    assert_int_equal(strlen(got), 16);
    assert_string_equal(got, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_hash_matches_json_construction),
        cmocka_unit_test(test_spec_hash_plain_pool),
    };

    return az_run_tests("spec_hash", tests);
}
