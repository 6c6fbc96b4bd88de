/* rbac.c - who is calling (tokens, impersonation) and RBAC authorization with --rbac.
 * The contract is in kubesim.h ("Authentication and RBAC"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kubesim.h"

#define SA_PREFIX     "system:serviceaccount:"
#define TOKEN_PREFIX  "kubesim-sa."
#define ADMIN_DEFAULT "kubesim-token"

static const char *admin_token(void)
{
    return ks_cfg && ks_cfg->token ? ks_cfg->token : ADMIN_DEFAULT;
}

bool ks_rbac_on(void)
{
    return ks_cfg && ks_cfg->rbac;
}

/* Fills u for user name (groups follow from the name: service accounts get theirs). */
static void set_user(struct ks_user *u, const char *name)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->name, sizeof(u->name), "%s", name);
    if (strncmp(name, SA_PREFIX, strlen(SA_PREFIX)) == 0) {
        const char *ns = name + strlen(SA_PREFIX);
        const char *colon = strchr(ns, ':');

        if (colon && colon > ns && colon - ns < 64) {
            snprintf(u->sa_ns, sizeof(u->sa_ns), "%.*s", (int)(colon - ns), ns);
            snprintf(u->sa_name, sizeof(u->sa_name), "%s", colon + 1);
            snprintf(u->groups[u->ngroups++], sizeof(u->groups[0]), "system:serviceaccounts");
            snprintf(u->groups[u->ngroups++], sizeof(u->groups[0]), "system:serviceaccounts:%s",
                     u->sa_ns);
        }
    }
    snprintf(u->groups[u->ngroups++], sizeof(u->groups[0]), "system:authenticated");
}

int ks_token_for(const char *ns, const char *name, uint64_t nonce, char *buf, size_t size)
{
    int n = snprintf(buf, size, TOKEN_PREFIX "%s.%s.%016llx", ns, name, (unsigned long long)nonce);

    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int ks_authenticate(const struct ks_req *r, struct ks_user *u)
{
    const char *a = r->authorization, *tok;

    memset(u, 0, sizeof(*u));
    if (!ks_rbac_on()) { /* everyone is the administrator (--token is checked in api.c) */
        u->admin = true;
        snprintf(u->name, sizeof(u->name), "kubesim-admin");
        return 0;
    }
    /* kubectl sends no credentials over plain HTTP: there, no credentials = administrator
     * (with --token T, api.c has already refused such a request) */
    bool anonymous_admin = !a && !ks_cfg->tls;
    if (!anonymous_admin && (!a || strncasecmp(a, "Bearer ", 7) != 0))
        return -1;
    tok = a ? a + 7 : "";
    if (anonymous_admin || strcmp(tok, admin_token()) == 0) {
        if (r->impersonate_user && *r->impersonate_user) {
            set_user(u, r->impersonate_user);
            return 0;
        }
        u->admin = true;
        snprintf(u->name, sizeof(u->name), "kubesim-admin");
        snprintf(u->groups[u->ngroups++], sizeof(u->groups[0]), "system:masters");
        return 0;
    }
    if (strncmp(tok, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) == 0) {
        /* kubesim-sa.<namespace>.<name>.<nonce>: namespaces have no dots, names may */
        const char *ns = tok + strlen(TOKEN_PREFIX);
        const char *dot = strchr(ns, '.'), *last = strrchr(ns, '.');
        char user[400];

        if (!dot || last == dot || dot - ns > 63 || last - dot - 1 > 253 || last - dot - 1 < 1)
            return -1;
        snprintf(user, sizeof(user), SA_PREFIX "%.*s:%.*s", (int)(dot - ns), ns,
                 (int)(last - dot - 1), dot + 1);
        set_user(u, user);
        /* a deleted ServiceAccount's tokens stop working, as on a real server */
        if (!ks_store_get("/serviceaccounts", u->sa_ns, u->sa_name))
            return -1;
        return 0;
    }
    return -1;
}

static bool in_list(const json_t *arr, const char *v, bool star)
{
    size_t i;
    const json_t *e;

    json_array_foreach(arr, i, e)
    {
        const char *s = json_string_value(e);

        if (s && (strcmp(s, v) == 0 || (star && strcmp(s, "*") == 0)))
            return true;
    }
    return false;
}

/* resource is "plural" or "plural/sub"; RBAC's "*" and "*\/sub" forms are honoured. */
static bool resource_match(const json_t *resources, const char *resource)
{
    size_t i;
    const json_t *e;
    const char *slash = strchr(resource, '/');

    json_array_foreach(resources, i, e)
    {
        const char *s = json_string_value(e);

        if (!s)
            continue;
        if (strcmp(s, resource) == 0 || (strcmp(s, "*") == 0 && !slash))
            return true;
        if (slash && strncmp(s, "*/", 2) == 0 && strcmp(s + 1, slash) == 0)
            return true;
        if (strcmp(s, "*") == 0 && slash)
            return true; /* "*" covers subresources too */
    }
    return false;
}

static bool rule_allows(const json_t *rule, const struct ks_access *a)
{
    const json_t *names = json_object_get(rule, "resourceNames");

    if (!in_list(json_object_get(rule, "verbs"), a->verb, true) ||
        !in_list(json_object_get(rule, "apiGroups"), a->group, true) ||
        !resource_match(json_object_get(rule, "resources"), a->resource))
        return false;
    if (json_array_size(names) == 0)
        return true;
    return a->name && *a->name && in_list(names, a->name, false);
}

static bool labels_match(const json_t *obj, const json_t *match_labels)
{
    const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    const char *k;
    const json_t *v;

    json_object_foreach((json_t *)match_labels, k, v)
    {
        const json_t *have = json_object_get(labels, k);

        if (!json_is_string(have) || !json_equal((json_t *)have, (json_t *)v))
            return false;
    }
    return true;
}

static bool role_allows(const json_t *role, const struct ks_access *a, bool cluster)
{
    size_t i, j, n;
    const json_t *rule, *sel;

    json_array_foreach(json_object_get(role, "rules"), i,
                       rule) if (rule_allows(rule, a)) return true;
    if (!cluster)
        return false;
    /* aggregated ClusterRoles: the rules of every ClusterRole a selector matches */
    json_array_foreach(
        json_object_get(json_object_get(role, "aggregationRule"), "clusterRoleSelectors"), i, sel)
    {
        const json_t *ml = json_object_get(sel, "matchLabels");
        json_t **all;

        if (!json_is_object(ml) || json_object_size(ml) == 0)
            continue;
        all = ks_store_list("rbac.authorization.k8s.io/clusterroles", NULL, &n);
        for (j = 0; all && j < n; j++)
            if (all[j] != role && labels_match(all[j], ml) &&
                !json_object_get(all[j], "aggregationRule") && role_allows(all[j], a, false)) {
                free(all);
                return true;
            }
        free(all);
    }
    return false;
}

static bool subject_match(const json_t *subjects, const struct ks_user *u, const char *binding_ns)
{
    size_t i;
    const json_t *s;

    json_array_foreach(subjects, i, s)
    {
        const char *kind = json_string_value(json_object_get(s, "kind"));
        const char *name = json_string_value(json_object_get(s, "name"));
        const char *ns = json_string_value(json_object_get(s, "namespace"));

        if (!kind || !name)
            continue;
        if (strcmp(kind, "ServiceAccount") == 0) {
            if (!ns || !*ns)
                ns = binding_ns;
            if (u->sa_name[0] && ns && strcmp(ns, u->sa_ns) == 0 && strcmp(name, u->sa_name) == 0)
                return true;
        } else if (strcmp(kind, "User") == 0) {
            if (strcmp(name, u->name) == 0)
                return true;
        } else if (strcmp(kind, "Group") == 0) {
            for (int g = 0; g < u->ngroups; g++)
                if (strcmp(name, u->groups[g]) == 0)
                    return true;
        }
    }
    return false;
}

/* Does one binding (ClusterRoleBinding when ns is NULL) grant a to u? */
static bool binding_allows(const json_t *b, const struct ks_user *u, const struct ks_access *a,
                           const char *ns)
{
    const json_t *ref = json_object_get(b, "roleRef");
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    const json_t *role;

    if (!kind || !name || !subject_match(json_object_get(b, "subjects"), u, ns))
        return false;
    if (strcmp(kind, "ClusterRole") == 0)
        role = ks_store_get("rbac.authorization.k8s.io/clusterroles", NULL, name);
    else if (strcmp(kind, "Role") == 0 && ns)
        role = ks_store_get("rbac.authorization.k8s.io/roles", ns, name);
    else
        return false;
    return role && role_allows(role, a, strcmp(kind, "ClusterRole") == 0);
}

bool ks_rbac_allows(const struct ks_user *u, const struct ks_access *a)
{
    size_t i, n;
    json_t **bs;
    bool ok = false;

    if (u->admin)
        return true;
    bs = ks_store_list("rbac.authorization.k8s.io/clusterrolebindings", NULL, &n);
    for (i = 0; bs && i < n && !ok; i++)
        ok = binding_allows(bs[i], u, a, NULL);
    free(bs);
    if (ok || !a->ns || !*a->ns)
        return ok;
    bs = ks_store_list("rbac.authorization.k8s.io/rolebindings", a->ns, &n);
    for (i = 0; bs && i < n && !ok; i++)
        ok = binding_allows(bs[i], u, a, a->ns);
    free(bs);
    return ok;
}

void ks_rbac_forbidden_msg(const struct ks_user *u, const struct ks_access *a, char *buf,
                           size_t size)
{
    char what[600];
    const char *slash = strchr(a->resource, '/');
    int rlen = slash ? (int)(slash - a->resource) : (int)strlen(a->resource);

    /* `workerpools.azpool.dev "x" is forbidden: User "..." cannot delete resource
     * "workerpools" in API group "azpool.dev" in the namespace "ci"` (the real wording) */
    snprintf(what, sizeof(what), "%.*s%s%s%s%s%s%s", rlen, a->resource, *a->group ? "." : "",
             a->group, a->name && *a->name ? " \"" : "", a->name ? a->name : "",
             a->name && *a->name ? "\"" : "", "");
    snprintf(buf, size,
             "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\"%s%s%s",
             what, u->name, a->verb, a->resource, a->group,
             a->ns && *a->ns ? " in the namespace \"" : " at the cluster scope",
             a->ns && *a->ns ? a->ns : "", a->ns && *a->ns ? "\"" : "");
}
