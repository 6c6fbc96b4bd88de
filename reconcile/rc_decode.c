/*
 * rc_decode.c - decoding and validation of WorkerPool, ImageVersion and
 * ExpiryPolicy (azpool.dev/v1alpha1, DESIGN.md §2) from YAML files and from
 * Kubernetes JSON objects.
 *
 * Both inputs become an rc_node tree (rc_node.h) and go through the same code,
 * so a file and a custom resource are judged alike. The CRD schemas mirror the
 * rules below; where OpenAPI cannot express a rule (cross-field rules marked
 * [x]) it is enforced here only.
 *
 * ERRORS. Each error is "FILE:LINE:COL: PATH: MESSAGE". PATH is the dotted
 * field path, list items as [i] ("spec.extensions[0].name"). The position is
 * the offending value's, the key's for an unknown field, and the parent
 * mapping's for a missing required field. All errors of all documents are
 * collected; an invalid document is not added to want, the others are. An
 * invalid object whose kind and metadata.name could be read is listed in
 * want->invalid so that callers do not mistake it for a deleted one.
 *
 * DOCUMENTS. Empty documents are ignored. A document must be a mapping with
 * apiVersion and kind (strings). apiVersion outside group azpool.dev: skipped
 * with a notice "skipping apps/v1 Deployment \"x\": not an azpool.dev object".
 * azpool.dev with a version other than v1alpha1, or an unknown kind: error.
 * (An error, not a notice: skipping a pool because of a typo in its apiVersion
 * would make it look deleted.) A kind ending in "List" with an "items" list
 * ("kubectl get wp -o yaml" output, v1 List or WorkerPoolList) is decoded item
 * by item; paths are then relative to the item.
 * Top-level keys: apiVersion, kind, metadata, spec, status (status is ignored).
 * A null value is treated as an absent field (as Kubernetes does).
 *
 * TYPES. "string" fields take strings only (quote numbers: "3"); "int" fields
 * take integers only (3, not "3" nor 3.0); "bool" takes true/false;
 * "duration" is a Go duration string (rc_duration_parse: "90s", "1h30m");
 * "percent" is a string "N%" with N in 0..100; "int-or-percent" is an integer
 * >= 0 or a percent string. Strings are at most 1024 bytes unless noted.
 *
 * metadata (ObjectMeta; only these keys): name (required; DNS-1123 subdomain
 *   <= 253; a WorkerPool's name is a DNS-1123 label <= 63), namespace (label,
 *   default "default"), labels, annotations (string -> string), finalizers
 *   ([string]), uid, resourceVersion (string), generation (int >= 0),
 *   deletionTimestamp (sets deleting), and, accepted and ignored: generateName,
 *   selfLink, creationTimestamp, deletionGracePeriodSeconds, ownerReferences,
 *   managedFields. uid defaults to "file:<namespace>/<name>".
 *
 * WorkerPool spec:
 *   subscriptionId   string, required, GUID
 *   resourceGroup    string, required, 1..90 of [A-Za-z0-9._()-], not ending in "."
 *   location         string, required, [a-z0-9]+ ("westeurope")
 *   mode             ScaleSet | VirtualMachines (default ScaleSet)
 *   orchestration    Uniform | Flexible (default Uniform); [x] only with mode ScaleSet
 *   vmSize           string, required, [A-Za-z0-9_]+ <= 64
 *   replicas         int 0..1000 (default 1)
 *   imageRef         {name: DNS-1123 subdomain, required}
 *   image            {id} | {publisher, offer, sku (required), version ("latest" or
 *                    digits and dots, default "latest")}; [x] not id together with
 *                    the others; id is an ARM id of Microsoft.Compute/galleries/images
 *                    [/versions] or Microsoft.Compute/images
 *                    [x] exactly one of imageRef or image
 *   expiryPolicyRef  {name: DNS-1123 subdomain, required}
 *   network          required: {subnetId: required, ARM id of
 *                    Microsoft.Network/virtualNetworks/subnets}
 *   identity         {type: None | SystemAssigned | UserAssigned |
 *                    "SystemAssigned, UserAssigned" (required), userAssignedIdentities:
 *                    [ARM id of Microsoft.ManagedIdentity/userAssignedIdentities]}
 *                    [x] the list is required (non-empty) iff type includes UserAssigned
 *   osProfile        {osType: Linux | Windows (default Linux), adminUsername (default
 *                    "azpool"; [A-Za-z0-9_][A-Za-z0-9._-]*, not ending in ".", <= 64 Linux,
 *                    [x] <= 20 Windows, not a name Azure reserves such as admin or root),
 *                    sshPublicKeys: [string starting "ssh-rsa ", "ssh-ed25519 " or
 *                    "ecdsa-sha2-"] <= 16 ([x] Linux only), customDataSecretRef}
 *   patchMode        [x] Linux: ImageDefault | AutomaticByPlatform; Windows: Manual |
 *                    AutomaticByOS | AutomaticByPlatform
 *   extensions       [{name (required, [A-Za-z0-9._-] <= 64, [x] unique), publisher,
 *                    type, typeHandlerVersion (required; "1.0" digits and dots),
 *                    autoUpgradeMinorVersion (bool, default true), settings (mapping,
 *                    free-form), protectedSettingsSecretRef}] <= 50
 *   registration     {hybridRunbookWorker: {automationAccountId (required, ARM id of
 *                    Microsoft.Automation/automationAccounts), group (required, 1..128,
 *                    no "/" or "\")}}
 *                    [x] only with mode VirtualMachines (Azure does not support HRW on
 *                    scale sets, DESIGN.md §5); [x] needs identity.type SystemAssigned
 *                    or "SystemAssigned, UserAssigned"
 *   hooks            {afterCreate: {runbook: {automationAccountId (required, as above),
 *                    name (required, [A-Za-z][A-Za-z0-9_-] <= 63), parameters (mapping),
 *                    timeoutSeconds 1..86400 (900), retries 0..10 (3)}}}
 *   autoscale        {minReplicas 0..1000 (0), maxReplicas 0..1000 (required;
 *                    [x] >= minReplicas), metric (required), policy Step | Proportional
 *                    (Step), step {scaleOutThreshold >= 0 (3), scaleInThreshold >= 0 (1;
 *                    [x] < scaleOutThreshold), scaleOutStep 1..1000 (1), scaleInStep
 *                    1..1000 (1), scaleOutCooldownSeconds 0..86400 (240),
 *                    scaleInCooldownSeconds 0..86400 (300)}, proportional
 *                    {jobsPerReplica 1..1000 (1), freeTargetPercentage 0..100 (20)}}
 *                    [x] step only with policy Step, proportional only with Proportional
 *   metric           [x] exactly one of azureQueue | http; pollSeconds 1..3600 (15)
 *   busy             [x] exactly one of azureQueue | http | tag ({}); pollSeconds 1..3600
 *   azureQueue       {accountUrl (required, https://..., or
 * http://127.0.0.1|localhost[:port][/...]), queue (required, 3..63 of [a-z0-9-], starts and ends
 * alphanumeric, no "--"), credentialsSecretRef (absent: managed identity)} http             {url
 * (required, http:// or https://), jsonPointer ("" or starting with "/"), headersSecretRef}
 *   recycleAfterJob  None | Reimage | Replace (None)
 *   rollout          {maxSurge int-or-percent (1), maxUnavailable int-or-percent (0),
 *                    [x] not both 0; canary {replicas 1..1000 (1), soakSeconds
 *                    0..86400 (600)}}
 *   drain            {timeoutSeconds 0..604800 (1800)}
 *   deletionPolicy   Delete | Orphan (Delete)
 *   paused           bool (false)
 *   tags             string -> string, <= RC_ARM_USER_TAGS_MAX (39: Azure allows 50
 *                    per resource and Azpool's own azpool.* tags take up to 11); names
 *                    unique ignoring case (Azure tag names are case-insensitive); names
 *                    1..512 without < > % & \ ? /, not starting with "azpool." (reserved);
 *                    values <= 256
 *   [x] the pool's derived Azure names must fit (rc_name_vm, rc_name_vmss,
 *   rc_name_prefix; Windows host names <= 15, computer name prefix <= 9).
 *
 * ImageVersion spec:
 *   gallery   required {subscriptionId (GUID), resourceGroup (as above), name (1..80 of
 *             [A-Za-z0-9._]), imageDefinition (1..80 of [A-Za-z0-9._-])}, all required
 *   version   "latest" or "MAJOR.MINOR.PATCH" (digits) (default "latest")
 *   build     {imageTemplateId (required, ARM id of
 *             Microsoft.VirtualMachineImages/imageTemplates), runWhen OnChange | Never
 *             (OnChange), revision int >= 0 (0)}
 *
 * ExpiryPolicy spec:
 *   maxAge              duration, required, > 0
 *   jitter              percent ("0%")
 *   forceAfter          duration; [x] >= maxAge
 *   maintenanceWindows  [{schedule (required, 5-field cron, rc_cron_parse), duration
 *                       (required, duration > 0, <= 168h), timeZone (IANA name syntax:
 *                       [A-Za-z0-9_+-] segments separated by "/", <= 64; absent: UTC;
 *                       whether the zone exists is checked outside the core)}] <= 20
 *   disruptionBudget    {maxUnavailable int-or-percent (1)}
 *   replaceBefore       duration; [x] < maxAge
 *
 * ACROSS DOCUMENTS (rc_validate_refs): imageRef names an ImageVersion and
 * expiryPolicyRef an ExpiryPolicy in the pool's namespace; the same kind,
 * namespace and name may appear only once (the later one is the error).
 */
#include "rc_arm.h"
#include "rc_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rc_node.h"

#define STR_MAX   1024
#define PATH_MAX_ RC_ERR_PATH_MAX

struct dec {
    const char *file;
    struct rc_errs *errs;
    size_t n_err; /* errors added for the current document */
    int nomem;
};

/* ---- errors and paths ---- */

static void derr_at(struct dec *d, int line, int col, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void derr_at(struct dec *d, int line, int col, const char *path, const char *fmt, ...)
{
    struct rc_err e;
    va_list ap;

    memset(&e, 0, sizeof(e));
    e.code = -RC_EINVAL;
    e.klass = rc_err_class_of(e.code);
    rc_strlcpy(e.path, path, sizeof(e.path));
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
    va_end(ap);
    rc_err_at(&e, d->file, line, col);
    rc_errs_push(d->errs, &e);
    d->n_err++;
}

#define derr(d, node, path, ...) derr_at(d, (node)->line, (node)->col, path, __VA_ARGS__)

static void nomem(struct dec *d)
{
    d->nomem = 1;
    d->n_err++;
}

static void cpath(char *buf, const char *parent, const char *key)
{
    if (snprintf(buf, PATH_MAX_, "%s%s%s", parent, parent[0] ? "." : "", key) >= PATH_MAX_)
        buf[PATH_MAX_ - 1] = '\0'; /* truncated path */
}

static void ipath(char *buf, const char *parent, size_t i)
{
    if (snprintf(buf, PATH_MAX_, "%s[%zu]", parent, i) >= PATH_MAX_)
        buf[PATH_MAX_ - 1] = '\0'; /* truncated path */
}

/* ---- character classes and syntax checks ---- */

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool dns_label(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    for (i = 0; i < n; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool dns_subdomain(const char *s)
{
    char label[254];
    const char *p = s, *dot;
    size_t n = strlen(s);

    if (n == 0 || n > 253)
        return false;
    for (;;) {
        dot = strchr(p, '.');
        n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n > 63)
            return false;
        memcpy(label, p, n);
        label[n] = '\0';
        if (!dns_label(label))
            return false;
        if (!dot)
            return true;
        p = dot + 1;
    }
}

static bool is_guid(const char *s)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    size_t g;
    int i;

    for (g = 0; g < 5; g++) {
        for (i = 0; i < groups[g]; i++, s++)
            if (!is_hex(*s))
                return false;
        if (g < 4 && *s++ != '-')
            return false;
    }
    return *s == '\0';
}

static bool chars_in(const char *s, const char *extra, bool alnum)
{
    for (; *s; s++)
        if (!(alnum && is_alnum(*s)) && !strchr(extra, *s))
            return false;
    return true;
}

static bool resource_group_ok(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 90 && s[n - 1] != '.' && chars_in(s, "._()-", true);
}

/*
 * Whether s is an ARM resource id "/subscriptions/GUID/resourceGroups/RG/
 * providers/NS/TYPE1/NAME1[/TYPE2/NAME2...]" whose namespace and types are
 * exactly those of want ("Microsoft.Network/virtualNetworks/subnets"),
 * compared case-insensitively as ARM does.
 */
static bool arm_id_is(const char *s, const char *want)
{
    char buf[1024], wbuf[256];
    char *seg[32], *wseg[16];
    size_t n = 0, nw = 0, i;
    char *p, *save = NULL;

    if (strlen(s) >= sizeof(buf) || strlen(want) >= sizeof(wbuf) || s[0] != '/')
        return false;
    if (strstr(s, "//") || s[strlen(s) - 1] == '/')
        return false;
    memcpy(buf, s, strlen(s) + 1);
    memcpy(wbuf, want, strlen(want) + 1);
    for (p = strtok_r(buf, "/", &save); p && n < 32; p = strtok_r(NULL, "/", &save))
        seg[n++] = p;
    if (p)
        return false;
    save = NULL;
    for (p = strtok_r(wbuf, "/", &save); p && nw < 16; p = strtok_r(NULL, "/", &save))
        wseg[nw++] = p;
    /* subscriptions G resourceGroups R providers NS (t n)*(nw-1) */
    if (nw < 2 || n != 6 + 2 * (nw - 1))
        return false;
    if (rc_strcasecmp(seg[0], "subscriptions") || !is_guid(seg[1]) ||
        rc_strcasecmp(seg[2], "resourceGroups") || !resource_group_ok(seg[3]) ||
        rc_strcasecmp(seg[4], "providers") || rc_strcasecmp(seg[5], wseg[0]))
        return false;
    for (i = 1; i < nw; i++) {
        const char *name = seg[6 + 2 * (i - 1) + 1];
        if (rc_strcasecmp(seg[6 + 2 * (i - 1)], wseg[i]))
            return false;
        if (strpbrk(name, " \t\r\n?#%"))
            return false;
    }
    return true;
}

static bool version_ok(const char *s, int parts_exact)
{
    int parts = 0;

    for (;;) {
        if (!is_digit(*s))
            return false;
        while (is_digit(*s))
            s++;
        parts++;
        if (*s == '\0')
            break;
        if (*s++ != '.')
            return false;
    }
    return parts_exact ? parts == parts_exact : true;
}

static bool tz_ok(const char *s)
{
    size_t n = strlen(s);
    const char *p;

    if (n == 0 || n > 64 || s[0] == '/' || s[n - 1] == '/' || strstr(s, "//") || strstr(s, ".."))
        return false;
    for (p = s; *p; p++)
        if (!is_alnum(*p) && !strchr("_+-/", *p))
            return false;
    return true;
}

/* ---- typed field readers ----
 * Each takes the parent mapping m, the field key and the parent path. A null
 * value counts as absent. They return the node read (NULL when absent or of the
 * wrong type, after reporting). */

static const struct rc_node *field(const struct rc_node *m, const char *key)
{
    const struct rc_node *v = rc_node_get(m, key);

    return v && v->type == RC_NODE_NULL ? NULL : v;
}

static void required(struct dec *d, const struct rc_node *m, const char *parent, const char *key)
{
    char path[PATH_MAX_];

    cpath(path, parent, key);
    derr(d, m, path, "is required");
}

/* Reports keys of m that are not in known (NULL-terminated). */
static void known_keys(struct dec *d, const struct rc_node *m, const char *parent,
                       const char *const *known)
{
    char path[PATH_MAX_];
    size_t i, k;

    for (i = 0; i < m->n_pairs; i++) {
        for (k = 0; known[k]; k++)
            if (!strcmp(known[k], m->pairs[i].key))
                break;
        if (known[k])
            continue;
        cpath(path, parent, m->pairs[i].key);
        derr_at(d, m->pairs[i].line, m->pairs[i].col, path, "unknown field");
    }
}

static const struct rc_node *get_typed(struct dec *d, const struct rc_node *m, const char *parent,
                                       const char *key, enum rc_node_type type, bool req)
{
    const struct rc_node *v;
    char path[PATH_MAX_];

    if (!m)
        return NULL;
    v = field(m, key);
    if (!v) {
        if (req)
            required(d, m, parent, key);
        return NULL;
    }
    if (v->type != type) {
        cpath(path, parent, key);
        derr(d, v, path, "must be %s", rc_node_type_name(type));
        return NULL;
    }
    return v;
}

/* A mapping; unknown keys are reported when known is not NULL. */
static const struct rc_node *get_map(struct dec *d, const struct rc_node *m, const char *parent,
                                     const char *key, bool req, const char *const *known)
{
    const struct rc_node *v = get_typed(d, m, parent, key, RC_NODE_MAP, req);
    char path[PATH_MAX_];

    if (v && known) {
        cpath(path, parent, key);
        known_keys(d, v, path, known);
    }
    return v;
}

static void set_str(struct dec *d, char **dst, const char *src)
{
    char *s = rc_strdup(src);

    if (!s) {
        nomem(d);
        return;
    }
    free(*dst);
    *dst = s;
}

/* A string; also returns its node in *ret_node when not NULL. */
static const struct rc_node *get_str(struct dec *d, const struct rc_node *m, const char *parent,
                                     const char *key, bool req, char **dst)
{
    const struct rc_node *v = get_typed(d, m, parent, key, RC_NODE_STRING, req);
    char path[PATH_MAX_];

    if (!v)
        return NULL;
    cpath(path, parent, key);
    if (strlen(v->text) > STR_MAX) {
        derr(d, v, path, "must be at most %d characters", STR_MAX);
        return NULL;
    }
    if (req && !v->text[0]) {
        derr(d, v, path, "must not be empty");
        return NULL;
    }
    if (dst)
        set_str(d, dst, v->text);
    return v;
}

static const struct rc_node *get_int(struct dec *d, const struct rc_node *m, const char *parent,
                                     const char *key, bool req, int64_t min, int64_t max,
                                     int64_t *dst)
{
    const struct rc_node *v = get_typed(d, m, parent, key, RC_NODE_INT, req);
    char path[PATH_MAX_];

    if (!v)
        return NULL;
    cpath(path, parent, key);
    if (v->ival < min || v->ival > max) {
        if (max == INT64_MAX)
            derr(d, v, path, "must be >= %lld", (long long)min);
        else
            derr(d, v, path, "must be between %lld and %lld", (long long)min, (long long)max);
        return NULL;
    }
    *dst = v->ival;
    return v;
}

static const struct rc_node *get_int32(struct dec *d, const struct rc_node *m, const char *parent,
                                       const char *key, bool req, int min, int max, int *dst)
{
    int64_t v = *dst;
    const struct rc_node *n = get_int(d, m, parent, key, req, min, max, &v);

    if (n)
        *dst = (int)v;
    return n;
}

static void get_bool(struct dec *d, const struct rc_node *m, const char *parent, const char *key,
                     bool *dst)
{
    const struct rc_node *v = get_typed(d, m, parent, key, RC_NODE_BOOL, false);

    if (v)
        *dst = v->bval;
}

/* One of names (NULL-terminated); *dst is the index. */
static const struct rc_node *get_enum(struct dec *d, const struct rc_node *m, const char *parent,
                                      const char *key, bool req, const char *const *names, int *dst)
{
    const struct rc_node *v = get_typed(d, m, parent, key, RC_NODE_STRING, req);
    char path[PATH_MAX_], list[256] = "";
    size_t i, len;

    if (!v)
        return NULL;
    for (i = 0; names[i]; i++) {
        if (!strcmp(names[i], v->text)) {
            *dst = (int)i;
            return v;
        }
    }
    for (i = 0; names[i]; i++) {
        len = strlen(list);
        snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", names[i]);
    }
    cpath(path, parent, key);
    derr(d, v, path, "must be one of %s", list);
    return NULL;
}

static const struct rc_node *get_duration(struct dec *d, const struct rc_node *m,
                                          const char *parent, const char *key, bool req,
                                          int64_t *dst)
{
    const struct rc_node *v = rc_node_get(m, key);
    char path[PATH_MAX_];
    struct rc_err e;
    int64_t ms;

    cpath(path, parent, key);
    if (v && v->type != RC_NODE_STRING && v->type != RC_NODE_NULL) {
        derr(d, v, path, "must be a duration such as \"90s\" or \"1h30m\"");
        return NULL;
    }
    v = get_str(d, m, parent, key, req, NULL);
    if (!v)
        return NULL;
    memset(&e, 0, sizeof(e));
    if (rc_duration_parse(v->text, &ms, &e) < 0) {
        derr(d, v, path, "must be a duration such as \"90s\" or \"1h30m\"");
        return NULL;
    }
    *dst = ms;
    return v;
}

static const struct rc_node *get_intstr(struct dec *d, const struct rc_node *m, const char *parent,
                                        const char *key, bool percent_only, struct rc_intstr *dst)
{
    const struct rc_node *v = field(m, key);
    char path[PATH_MAX_];
    struct rc_intstr is;
    struct rc_err e;
    size_t n;

    if (!v)
        return NULL;
    cpath(path, parent, key);
    if (v->type == RC_NODE_INT && !percent_only && v->ival >= 0 && v->ival <= 1000000) {
        dst->set = true;
        dst->is_percent = false;
        dst->value = (int)v->ival;
        return v;
    }
    if (v->type == RC_NODE_STRING) {
        n = strlen(v->text);
        memset(&e, 0, sizeof(e));
        if (n > 1 && v->text[n - 1] == '%' && rc_intstr_parse(v->text, &is, &e) == 0 &&
            is.is_percent) {
            *dst = is;
            dst->set = true;
            return v;
        }
    }
    if (percent_only)
        derr(d, v, path, "must be a percentage such as \"10%%\"");
    else
        derr(d, v, path, "must be an integer or a percentage such as \"25%%\"");
    return NULL;
}

static void get_local_ref(struct dec *d, const struct rc_node *m, const char *parent,
                          const char *key, struct rc_local_ref *dst)
{
    static const char *const keys[] = {"name", NULL};
    const struct rc_node *r, *v;
    char path[PATH_MAX_], npath[PATH_MAX_];

    r = get_map(d, m, parent, key, false, keys);
    if (!r)
        return;
    cpath(path, parent, key);
    v = get_str(d, r, path, "name", true, &dst->name);
    if (!v)
        return;
    cpath(npath, path, "name");
    dst->line = v->line;
    dst->col = v->col;
    if (!dns_subdomain(v->text))
        derr(d, v, npath, "must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.')");
}

static void get_secret_ref(struct dec *d, const struct rc_node *m, const char *parent,
                           const char *key, struct rc_secret_ref *dst)
{
    static const char *const keys[] = {"name", "key", NULL};
    const struct rc_node *r, *v;
    char path[PATH_MAX_], sub[PATH_MAX_];

    r = get_map(d, m, parent, key, false, keys);
    if (!r)
        return;
    cpath(path, parent, key);
    v = get_str(d, r, path, "name", true, &dst->name);
    if (v && !dns_subdomain(v->text)) {
        cpath(sub, path, "name");
        derr(d, v, sub, "must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.')");
    }
    v = get_str(d, r, path, "key", true, &dst->key);
    if (v && (strlen(v->text) > 253 || !chars_in(v->text, "-._", true) || !strcmp(v->text, ".") ||
              !strcmp(v->text, ".."))) {
        cpath(sub, path, "key");
        derr(d, v, sub, "must consist of alphanumerics, '-', '_' or '.'");
    }
}

/* A string -> string mapping into kv/n. max_entries 0: unlimited. */
static const struct rc_node *get_str_map(struct dec *d, const struct rc_node *m, const char *parent,
                                         const char *key, struct rc_kv **kv, size_t *n)
{
    const struct rc_node *v = get_typed(d, m, parent, key, RC_NODE_MAP, false);
    char path[PATH_MAX_], sub[PATH_MAX_];
    size_t i;

    if (!v)
        return NULL;
    cpath(path, parent, key);
    if (v->n_pairs == 0)
        return v;
    *kv = calloc(v->n_pairs, sizeof(**kv));
    if (!*kv) {
        nomem(d);
        return NULL;
    }
    for (i = 0; i < v->n_pairs; i++) {
        const struct rc_node *val = v->pairs[i].value;
        cpath(sub, path, v->pairs[i].key);
        if (val->type != RC_NODE_STRING) {
            derr(d, val, sub, "must be a string");
            continue;
        }
        (*kv)[*n].key = rc_strdup(v->pairs[i].key);
        (*kv)[*n].value = rc_strdup(val->text);
        (*n)++;
        if (!(*kv)[*n - 1].key || !(*kv)[*n - 1].value)
            nomem(d);
    }
    return v;
}

/* A list of strings. */
static const struct rc_node *get_str_list(struct dec *d, const struct rc_node *m,
                                          const char *parent, const char *key, size_t max,
                                          char ***dst, size_t *n)
{
    const struct rc_node *v = get_typed(d, m, parent, key, RC_NODE_SEQ, false);
    char path[PATH_MAX_], sub[PATH_MAX_];
    size_t i;

    if (!v)
        return NULL;
    cpath(path, parent, key);
    if (v->n_items > max) {
        derr(d, v, path, "must have at most %zu items", max);
        return NULL;
    }
    if (v->n_items == 0)
        return v;
    *dst = calloc(v->n_items, sizeof(**dst));
    if (!*dst) {
        nomem(d);
        return NULL;
    }
    for (i = 0; i < v->n_items; i++) {
        ipath(sub, path, i);
        if (v->items[i]->type != RC_NODE_STRING) {
            derr(d, v->items[i], sub, "must be a string");
            continue;
        }
        (*dst)[*n] = rc_strdup(v->items[i]->text);
        if (!(*dst)[(*n)++])
            nomem(d);
    }
    return v;
}

static json_t *to_json_or_nomem(struct dec *d, const struct rc_node *n)
{
    json_t *j = rc_node_to_json(n);

    if (!j)
        nomem(d);
    return j;
}

static void check_arm_id(struct dec *d, const struct rc_node *v, const char *parent,
                         const char *key, const char *type)
{
    char path[PATH_MAX_];

    if (!v || arm_id_is(v->text, type))
        return;
    cpath(path, parent, key);
    derr(d, v, path, "must be an Azure resource id of type %s", type);
}

/* ---- metadata ---- */

static const char *const meta_keys[] = {"name",
                                        "generateName",
                                        "namespace",
                                        "selfLink",
                                        "uid",
                                        "resourceVersion",
                                        "generation",
                                        "creationTimestamp",
                                        "deletionTimestamp",
                                        "deletionGracePeriodSeconds",
                                        "labels",
                                        "annotations",
                                        "ownerReferences",
                                        "finalizers",
                                        "managedFields",
                                        NULL};

static void decode_meta(struct dec *d, const struct rc_node *root, enum rc_kind kind,
                        struct rc_meta *meta)
{
    const struct rc_node *m, *v;
    char uid[600];

    meta->origin.line = root->line;
    meta->origin.col = root->col;
    if (d->file)
        set_str(d, &meta->origin.file, d->file);
    m = get_map(d, root, "", "metadata", true, meta_keys);
    if (!m)
        return;
    v = get_str(d, m, "metadata", "name", true, &meta->name);
    if (v) {
        meta->origin.name_line = v->line;
        meta->origin.name_col = v->col;
        if (kind == RC_KIND_WORKERPOOL && !dns_label(v->text))
            derr(d, v, "metadata.name",
                 "must be a lowercase RFC 1123 label (a-z, 0-9, '-'; at most 63 characters)");
        else if (!dns_subdomain(v->text))
            derr(d, v, "metadata.name",
                 "must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.'; at most 253 "
                 "characters)");
    }
    v = get_str(d, m, "metadata", "namespace", false, &meta->namespace);
    if (v && !dns_label(v->text))
        derr(d, v, "metadata.namespace",
             "must be a lowercase RFC 1123 label (a-z, 0-9, '-'; at most 63 characters)");
    if (!meta->namespace)
        set_str(d, &meta->namespace, "default");
    get_str(d, m, "metadata", "uid", false, &meta->uid);
    get_str(d, m, "metadata", "resourceVersion", false, &meta->resource_version);
    get_int(d, m, "metadata", "generation", false, 0, INT64_MAX, &meta->generation);
    get_str_map(d, m, "metadata", "labels", &meta->labels, &meta->n_labels);
    get_str_map(d, m, "metadata", "annotations", &meta->annotations, &meta->n_annotations);
    get_str_list(d, m, "metadata", "finalizers", 64, &meta->finalizers, &meta->n_finalizers);
    if (field(m, "deletionTimestamp"))
        meta->deleting = true;
    if (!meta->uid && meta->name && meta->namespace) {
        snprintf(uid, sizeof(uid), "file:%s/%s", meta->namespace, meta->name);
        set_str(d, &meta->uid, uid);
    }
}

/* ---- WorkerPool ---- */

static const char *const modes[] = {"ScaleSet", "VirtualMachines", NULL};
static const char *const orchestrations[] = {"Uniform", "Flexible", NULL};
static const char *const os_types[] = {"Linux", "Windows", NULL};
static const char *const identity_types[] = {"None", "SystemAssigned", "UserAssigned",
                                             "SystemAssigned, UserAssigned", NULL};
static const char *const policies[] = {"Step", "Proportional", NULL};
static const char *const recycles[] = {"None", "Reimage", "Replace", NULL};
static const char *const deletion_policies[] = {"Delete", "Orphan", NULL};
static const char *const run_whens[] = {"OnChange", "Never", NULL};

static const char *const reserved_users[] = {"administrator",
                                             "admin",
                                             "user",
                                             "user1",
                                             "test",
                                             "user2",
                                             "test1",
                                             "user3",
                                             "admin1",
                                             "1",
                                             "123",
                                             "a",
                                             "actuser",
                                             "adm",
                                             "admin2",
                                             "aspnet",
                                             "backup",
                                             "console",
                                             "david",
                                             "guest",
                                             "john",
                                             "owner",
                                             "root",
                                             "server",
                                             "sql",
                                             "support",
                                             "support_388945a0",
                                             "sys",
                                             "test2",
                                             "test3",
                                             "user4",
                                             "user5",
                                             NULL};

static void decode_image(struct dec *d, const struct rc_node *spec, struct rc_image_src *img)
{
    static const char *const keys[] = {"id", "publisher", "offer", "sku", "version", NULL};
    const struct rc_node *m, *v;

    m = get_map(d, spec, "spec", "image", false, keys);
    if (!m)
        return;
    if (field(m, "id")) {
        if (field(m, "publisher") || field(m, "offer") || field(m, "sku") || field(m, "version")) {
            derr(d, m, "spec.image", "either id or publisher, offer, sku and version, not both");
            return;
        }
        v = get_str(d, m, "spec.image", "id", true, &img->id);
        if (v && !arm_id_is(v->text, "Microsoft.Compute/galleries/images/versions") &&
            !arm_id_is(v->text, "Microsoft.Compute/galleries/images") &&
            !arm_id_is(v->text, "Microsoft.Compute/images"))
            derr(d, v, "spec.image.id",
                 "must be an Azure resource id of a gallery image (version) or a managed "
                 "image");
        return;
    }
    get_str(d, m, "spec.image", "publisher", true, &img->publisher);
    get_str(d, m, "spec.image", "offer", true, &img->offer);
    get_str(d, m, "spec.image", "sku", true, &img->sku);
    v = get_str(d, m, "spec.image", "version", false, &img->version);
    if (v && strcmp(v->text, "latest") && !version_ok(v->text, 0))
        derr(d, v, "spec.image.version", "must be \"latest\" or a version such as \"1.2.3\"");
    if (!img->version)
        set_str(d, &img->version, rc_default_image_version());
}

static void decode_identity(struct dec *d, const struct rc_node *spec, struct rc_identity *id)
{
    static const char *const keys[] = {"type", "userAssignedIdentities", NULL};
    const struct rc_node *m, *t, *list;
    char sub[PATH_MAX_];
    int type = 0;
    size_t i;

    m = get_map(d, spec, "spec", "identity", false, keys);
    if (!m)
        return;
    t = get_enum(d, m, "spec.identity", "type", true, identity_types, &type);
    if (t)
        id->type = (enum rc_identity_type)type;
    list = get_str_list(d, m, "spec.identity", "userAssignedIdentities", 32, &id->user_assigned,
                        &id->n_user_assigned);
    for (i = 0; list && i < list->n_items; i++) {
        if (list->items[i]->type != RC_NODE_STRING)
            continue;
        ipath(sub, "spec.identity.userAssignedIdentities", i);
        if (!arm_id_is(list->items[i]->text, "Microsoft.ManagedIdentity/userAssignedIdentities"))
            derr(d, list->items[i], sub,
                 "must be an Azure resource id of type "
                 "Microsoft.ManagedIdentity/userAssignedIdentities");
    }
    if (!t)
        return;
    if ((id->type == RC_IDENTITY_USER || id->type == RC_IDENTITY_SYSTEM_USER) &&
        (!list || list->n_items == 0))
        derr(d, list ? list : m, "spec.identity.userAssignedIdentities",
             "is required when type includes UserAssigned");
    if ((id->type == RC_IDENTITY_NONE || id->type == RC_IDENTITY_SYSTEM) && list &&
        list->n_items > 0)
        derr(d, list, "spec.identity.userAssignedIdentities",
             "only allowed when type includes UserAssigned");
}

static void decode_os_profile(struct dec *d, const struct rc_node *spec, struct rc_os_profile *os)
{
    static const char *const keys[] = {"osType", "adminUsername", "sshPublicKeys",
                                       "customDataSecretRef", NULL};
    const struct rc_node *m, *v, *list;
    char sub[PATH_MAX_], lower[80];
    int t = 0;
    size_t i, n;
    bool win;

    m = get_map(d, spec, "spec", "osProfile", false, keys);
    if (!m)
        return;
    if (get_enum(d, m, "spec.osProfile", "osType", false, os_types, &t))
        os->os_type = (enum rc_os_type)t;
    win = os->os_type == RC_OS_WINDOWS;
    v = get_str(d, m, "spec.osProfile", "adminUsername", false, &os->admin_username);
    if (v) {
        n = strlen(v->text);
        if (n == 0 || n > (win ? 20u : 64u) || !(is_alnum(v->text[0]) || v->text[0] == '_') ||
            !chars_in(v->text, "._-", true) || v->text[n - 1] == '.') {
            derr(d, v, "spec.osProfile.adminUsername",
                 "must be 1 to %d characters of letters, digits, '.', '_' or '-', not ending in "
                 "'.'",
                 win ? 20 : 64);
        } else {
            for (i = 0; i <= n && i < sizeof(lower); i++)
                lower[i] =
                    (char)((v->text[i] >= 'A' && v->text[i] <= 'Z') ? v->text[i] + 32 : v->text[i]);
            lower[sizeof(lower) - 1] = '\0';
            for (i = 0; reserved_users[i]; i++)
                if (!strcmp(lower, reserved_users[i]))
                    break;
            if (reserved_users[i])
                derr(d, v, "spec.osProfile.adminUsername", "\"%s\" is reserved by Azure", v->text);
        }
    }
    list = get_str_list(d, m, "spec.osProfile", "sshPublicKeys", 16, &os->ssh_public_keys,
                        &os->n_ssh_public_keys);
    if (list && win && list->n_items > 0)
        derr(d, list, "spec.osProfile.sshPublicKeys", "only allowed when osType is Linux");
    for (i = 0; list && !win && i < list->n_items; i++) {
        const char *k = list->items[i]->text;
        if (list->items[i]->type != RC_NODE_STRING)
            continue;
        if (strncmp(k, "ssh-rsa ", 8) && strncmp(k, "ssh-ed25519 ", 12) &&
            strncmp(k, "ecdsa-sha2-", 11)) {
            ipath(sub, "spec.osProfile.sshPublicKeys", i);
            derr(d, list->items[i], sub,
                 "must be an OpenSSH public key (ssh-rsa, ssh-ed25519 or ecdsa-sha2-...)");
        }
    }
    get_secret_ref(d, m, "spec.osProfile", "customDataSecretRef", &os->custom_data);
}

static void decode_extensions(struct dec *d, const struct rc_node *spec, struct rc_pool_spec *ps)
{
    static const char *const keys[] = {"name",
                                       "publisher",
                                       "type",
                                       "typeHandlerVersion",
                                       "autoUpgradeMinorVersion",
                                       "settings",
                                       "protectedSettingsSecretRef",
                                       NULL};
    const struct rc_node *list, *e, *v, *s;
    char path[PATH_MAX_], sub[PATH_MAX_];
    size_t i, j;

    list = get_typed(d, spec, "spec", "extensions", RC_NODE_SEQ, false);
    if (!list || list->n_items == 0)
        return;
    if (list->n_items > 50) {
        derr(d, list, "spec.extensions", "must have at most 50 items");
        return;
    }
    ps->extensions = calloc(list->n_items, sizeof(*ps->extensions));
    if (!ps->extensions) {
        nomem(d);
        return;
    }
    for (i = 0; i < list->n_items; i++) {
        struct rc_extension *x = &ps->extensions[ps->n_extensions];
        e = list->items[i];
        ipath(path, "spec.extensions", i);
        if (e->type != RC_NODE_MAP) {
            derr(d, e, path, "must be a mapping");
            continue;
        }
        ps->n_extensions++;
        rc_extension_defaults(x);
        known_keys(d, e, path, keys);
        v = get_str(d, e, path, "name", true, &x->name);
        if (v) {
            cpath(sub, path, "name");
            if (strlen(v->text) > 64 || !chars_in(v->text, "._-", true))
                derr(d, v, sub, "must be 1 to 64 letters, digits, '.', '_' or '-'");
            for (j = 0; j < i; j++) {
                const struct rc_node *other = rc_node_get(list->items[j], "name");
                if (other && other->type == RC_NODE_STRING && !strcmp(other->text, v->text)) {
                    derr(d, v, sub, "duplicate extension name (also spec.extensions[%zu])", j);
                    break;
                }
            }
        }
        get_str(d, e, path, "publisher", true, &x->publisher);
        get_str(d, e, path, "type", true, &x->type);
        v = get_str(d, e, path, "typeHandlerVersion", true, &x->type_handler_version);
        if (v && !version_ok(v->text, 0)) {
            cpath(sub, path, "typeHandlerVersion");
            derr(d, v, sub, "must be a version such as \"1.0\"");
        }
        get_bool(d, e, path, "autoUpgradeMinorVersion", &x->auto_upgrade_minor_version);
        s = get_typed(d, e, path, "settings", RC_NODE_MAP, false);
        if (s)
            x->settings = to_json_or_nomem(d, s);
        get_secret_ref(d, e, path, "protectedSettingsSecretRef", &x->protected_settings);
    }
}

static void decode_registration(struct dec *d, const struct rc_node *spec, struct rc_pool_spec *ps,
                                const struct rc_node **ret_hrw)
{
    static const char *const keys[] = {"hybridRunbookWorker", NULL};
    static const char *const hkeys[] = {"automationAccountId", "group", NULL};
    const struct rc_node *m, *h, *v;
    const char *p = "spec.registration.hybridRunbookWorker";

    *ret_hrw = NULL;
    m = get_map(d, spec, "spec", "registration", false, keys);
    h = get_map(d, m, "spec.registration", "hybridRunbookWorker", false, hkeys);
    if (!h)
        return;
    *ret_hrw = h;
    v = get_str(d, h, p, "automationAccountId", true, &ps->hybrid_worker.automation_account_id);
    check_arm_id(d, v, p, "automationAccountId", "Microsoft.Automation/automationAccounts");
    v = get_str(d, h, p, "group", true, &ps->hybrid_worker.group);
    if (v && (strlen(v->text) > 128 || strpbrk(v->text, "/\\")))
        derr(d, v, "spec.registration.hybridRunbookWorker.group",
             "must be 1 to 128 characters without '/' or '\\'");
    if (!ps->hybrid_worker.automation_account_id) {
        /* keep "no registration" meaning NULL; the error was reported */
        free(ps->hybrid_worker.group);
        ps->hybrid_worker.group = NULL;
    }
}

static void decode_hooks(struct dec *d, const struct rc_node *spec, struct rc_runbook_hook *hk)
{
    static const char *const keys[] = {"afterCreate", NULL};
    static const char *const akeys[] = {"runbook", NULL};
    static const char *const rkeys[] = {"automationAccountId", "name",    "parameters",
                                        "timeoutSeconds",      "retries", NULL};
    const struct rc_node *m, *a, *r, *v;
    const char *p = "spec.hooks.afterCreate.runbook";

    m = get_map(d, spec, "spec", "hooks", false, keys);
    a = get_map(d, m, "spec.hooks", "afterCreate", false, akeys);
    r = get_map(d, a, "spec.hooks.afterCreate", "runbook", false, rkeys);
    if (!r)
        return;
    v = get_str(d, r, p, "automationAccountId", true, &hk->automation_account_id);
    check_arm_id(d, v, p, "automationAccountId", "Microsoft.Automation/automationAccounts");
    v = get_str(d, r, p, "name", true, &hk->name);
    if (v &&
        (strlen(v->text) > 63 ||
         !((v->text[0] >= 'a' && v->text[0] <= 'z') || (v->text[0] >= 'A' && v->text[0] <= 'Z')) ||
         !chars_in(v->text, "_-", true)))
        derr(d, v, "spec.hooks.afterCreate.runbook.name",
             "must start with a letter and have at most 63 letters, digits, '_' or '-'");
    v = get_typed(d, r, p, "parameters", RC_NODE_MAP, false);
    if (v)
        hk->parameters = to_json_or_nomem(d, v);
    get_int32(d, r, p, "timeoutSeconds", false, 1, 86400, &hk->timeout_seconds);
    get_int32(d, r, p, "retries", false, 0, 10, &hk->retries);
}

static bool queue_name_ok(const char *s)
{
    size_t n = strlen(s);

    return n >= 3 && n <= 63 && is_lower_alnum(s[0]) && is_lower_alnum(s[n - 1]) &&
           chars_in(s, "abcdefghijklmnopqrstuvwxyz0123456789-", false) && !strstr(s, "--");
}

static bool url_ok(const char *s, bool https_only)
{
    const char *rest;

    if (!strncmp(s, "https://", 8))
        rest = s + 8;
    else if (!https_only && !strncmp(s, "http://", 7))
        rest = s + 7;
    else
        return false;
    return rest[0] && rest[0] != '/' && !strpbrk(s, " \t\r\n");
}

/* An azureQueue accountUrl: https://, or http:// on the loopback host for the
 * storage emulator (Azurite serves plain HTTP). Same rule as the CRD pattern. */
static bool queue_url_ok(const char *s)
{
    static const char *const loopback[] = {"http://127.0.0.1", "http://localhost"};

    if (url_ok(s, true))
        return true;
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        size_t n = strlen(loopback[i]);

        if (!strncmp(s, loopback[i], n) && (s[n] == '\0' || s[n] == ':' || s[n] == '/')) {
            const char *r = s + n;

            if (*r == ':') {
                if (!(r[1] >= '0' && r[1] <= '9'))
                    return false;
                for (r++; *r >= '0' && *r <= '9'; r++)
                    ;
            }
            return (*r == '\0' || *r == '/') && !strpbrk(s, " \t\r\n");
        }
    }
    return false;
}

/* A signal block: metric (queue|http) or busy (queue|http|tag). */
static void decode_signal(struct dec *d, const struct rc_node *m, const char *path, bool busy,
                          struct rc_signal *sig)
{
    static const char *const qkeys[] = {"accountUrl", "queue", "credentialsSecretRef", NULL};
    static const char *const hkeys[] = {"url", "jsonPointer", "headersSecretRef", NULL};
    static const char *const tkeys[] = {NULL};
    const struct rc_node *q, *h, *t, *v;
    char p[PATH_MAX_], sub[PATH_MAX_];
    int n;

    q = get_map(d, m, path, "azureQueue", false, qkeys);
    h = get_map(d, m, path, "http", false, hkeys);
    t = busy ? get_map(d, m, path, "tag", false, tkeys) : NULL;
    get_int32(d, m, path, "pollSeconds", false, 1, 3600, &sig->poll_seconds);
    n = (field(m, "azureQueue") != NULL) + (field(m, "http") != NULL) +
        (busy && field(m, "tag") != NULL);
    if (n != 1) {
        derr(d, m, path,
             busy ? "exactly one of azureQueue, http or tag is required"
                  : "exactly one of azureQueue or http is required");
        return;
    }
    if (q) {
        sig->kind = RC_SIGNAL_QUEUE;
        cpath(p, path, "azureQueue");
        v = get_str(d, q, p, "accountUrl", true, &sig->queue.account_url);
        if (v && !queue_url_ok(v->text)) {
            cpath(sub, p, "accountUrl");
            derr(d, v, sub,
                 "must be an https:// URL (http:// only on 127.0.0.1 or localhost, for the "
                 "storage emulator)");
        }
        v = get_str(d, q, p, "queue", true, &sig->queue.queue);
        if (v && !queue_name_ok(v->text)) {
            cpath(sub, p, "queue");
            derr(d, v, sub,
                 "must be a queue name: 3 to 63 of a-z, 0-9 and '-', starting and ending "
                 "alphanumeric, no \"--\"");
        }
        get_secret_ref(d, q, p, "credentialsSecretRef", &sig->queue.credentials);
    } else if (h) {
        sig->kind = RC_SIGNAL_HTTP;
        cpath(p, path, "http");
        v = get_str(d, h, p, "url", true, &sig->http.url);
        if (v && !url_ok(v->text, false)) {
            cpath(sub, p, "url");
            derr(d, v, sub, "must be an http:// or https:// URL");
        }
        v = get_str(d, h, p, "jsonPointer", false, &sig->http.json_pointer);
        if (v && v->text[0] && v->text[0] != '/') {
            cpath(sub, p, "jsonPointer");
            derr(d, v, sub, "must be empty or a JSON pointer starting with \"/\"");
        }
        get_secret_ref(d, h, p, "headersSecretRef", &sig->http.headers);
    } else if (t) {
        sig->kind = RC_SIGNAL_TAG;
    }
}

static void decode_autoscale(struct dec *d, const struct rc_node *spec, struct rc_autoscale *as)
{
    static const char *const keys[] = {"minReplicas", "maxReplicas",  "metric", "policy",
                                       "step",        "proportional", NULL};
    static const char *const mkeys[] = {"azureQueue", "http", "pollSeconds", NULL};
    static const char *const skeys[] = {"scaleOutThreshold",
                                        "scaleInThreshold",
                                        "scaleOutStep",
                                        "scaleInStep",
                                        "scaleOutCooldownSeconds",
                                        "scaleInCooldownSeconds",
                                        NULL};
    static const char *const pkeys[] = {"jobsPerReplica", "freeTargetPercentage", NULL};
    const char *p = "spec.autoscale";
    const struct rc_node *m, *met, *mn, *mx, *st, *pr, *in;
    int pol = 0;

    m = get_map(d, spec, "spec", "autoscale", false, keys);
    if (!m)
        return;
    as->enabled = true;
    mn = get_int32(d, m, p, "minReplicas", false, 0, 1000, &as->min_replicas);
    mx = get_int32(d, m, p, "maxReplicas", true, 0, 1000, &as->max_replicas);
    if (mn && mx && as->min_replicas > as->max_replicas)
        derr(d, mn, "spec.autoscale.minReplicas", "must be <= maxReplicas (%d)", as->max_replicas);
    met = get_map(d, m, p, "metric", true, mkeys);
    if (met)
        decode_signal(d, met, "spec.autoscale.metric", false, &as->metric);
    if (get_enum(d, m, p, "policy", false, policies, &pol))
        as->policy = (enum rc_scale_policy)pol;
    st = get_map(d, m, p, "step", false, skeys);
    pr = get_map(d, m, p, "proportional", false, pkeys);
    if (st && as->policy != RC_POLICY_STEP)
        derr(d, st, "spec.autoscale.step", "only allowed when policy is Step");
    if (pr && as->policy != RC_POLICY_PROPORTIONAL)
        derr(d, pr, "spec.autoscale.proportional", "only allowed when policy is Proportional");
    if (st) {
        const char *sp = "spec.autoscale.step";
        struct rc_step_policy *s = &as->step;
        get_int32(d, st, sp, "scaleOutThreshold", false, 0, 1000000, &s->scale_out_threshold);
        in = get_int32(d, st, sp, "scaleInThreshold", false, 0, 1000000, &s->scale_in_threshold);
        get_int32(d, st, sp, "scaleOutStep", false, 1, 1000, &s->scale_out_step);
        get_int32(d, st, sp, "scaleInStep", false, 1, 1000, &s->scale_in_step);
        get_int32(d, st, sp, "scaleOutCooldownSeconds", false, 0, 86400,
                  &s->scale_out_cooldown_seconds);
        get_int32(d, st, sp, "scaleInCooldownSeconds", false, 0, 86400,
                  &s->scale_in_cooldown_seconds);
        if (s->scale_in_threshold >= s->scale_out_threshold)
            derr(d, in ? in : st, "spec.autoscale.step.scaleInThreshold",
                 "must be less than scaleOutThreshold (%d)", s->scale_out_threshold);
    }
    if (pr) {
        const char *pp = "spec.autoscale.proportional";
        get_int32(d, pr, pp, "jobsPerReplica", false, 1, 1000, &as->proportional.jobs_per_replica);
        get_int32(d, pr, pp, "freeTargetPercentage", false, 0, 100,
                  &as->proportional.free_target_percentage);
    }
}

static void decode_rollout(struct dec *d, const struct rc_node *spec, struct rc_rollout *ro)
{
    static const char *const keys[] = {"maxSurge", "maxUnavailable", "canary", NULL};
    static const char *const ckeys[] = {"replicas", "soakSeconds", NULL};
    const struct rc_node *m, *c, *s, *u;
    int64_t soak = ro->canary_soak_ms / 1000;

    m = get_map(d, spec, "spec", "rollout", false, keys);
    if (!m)
        return;
    s = get_intstr(d, m, "spec.rollout", "maxSurge", false, &ro->max_surge);
    u = get_intstr(d, m, "spec.rollout", "maxUnavailable", false, &ro->max_unavailable);
    if ((s || !field(m, "maxSurge")) && (u || !field(m, "maxUnavailable")) &&
        ro->max_surge.value == 0 && ro->max_unavailable.value == 0)
        derr(d, m, "spec.rollout", "maxSurge and maxUnavailable must not both be 0");
    c = get_map(d, m, "spec.rollout", "canary", false, ckeys);
    if (!c)
        return;
    ro->canary = true;
    get_int32(d, c, "spec.rollout.canary", "replicas", false, 1, 1000, &ro->canary_replicas);
    if (get_int(d, c, "spec.rollout.canary", "soakSeconds", false, 0, 86400, &soak))
        ro->canary_soak_ms = soak * 1000;
}

static void decode_tags(struct dec *d, const struct rc_node *spec, struct rc_pool_spec *ps)
{
    const struct rc_node *m;
    char sub[PATH_MAX_];
    size_t i;

    m = get_str_map(d, spec, "spec", "tags", &ps->tags, &ps->n_tags);
    if (!m)
        return;
    if (m->n_pairs > RC_ARM_USER_TAGS_MAX)
        derr(d, m, "spec.tags",
             "must have at most %d entries (Azure allows %d per resource and Azpool's own tags "
             "take %d)",
             RC_ARM_USER_TAGS_MAX, RC_ARM_TAGS_MAX, RC_ARM_OWN_TAGS);
    for (i = 0; i < m->n_pairs; i++) {
        const char *k = m->pairs[i].key;
        const struct rc_node *v = m->pairs[i].value;
        cpath(sub, "spec.tags", k);
        for (size_t j = 0; j < i; j++) {
            if (rc_strcasecmp(k, m->pairs[j].key) == 0) {
                derr_at(d, m->pairs[i].line, m->pairs[i].col, sub,
                        "tag name differs from \"%s\" only in case (Azure tag names are "
                        "case-insensitive)",
                        m->pairs[j].key);
                break;
            }
        }
        if (!k[0] || strlen(k) > 512 || strpbrk(k, "<>%&\\?/"))
            derr_at(d, m->pairs[i].line, m->pairs[i].col, sub,
                    "tag names must be 1 to 512 characters without < > %% & \\ ? /");
        else if (!strncasecmp(k, "azpool.", 7))
            derr_at(d, m->pairs[i].line, m->pairs[i].col, sub,
                    "tag names starting with \"azpool.\" are reserved");
        if (v->type == RC_NODE_STRING && strlen(v->text) > 256)
            derr(d, v, sub, "tag values must be at most 256 characters");
    }
}

static void check_names(struct dec *d, const struct rc_pool *p)
{
    char buf[128];
    bool win = p->spec.os_profile.os_type == RC_OS_WINDOWS;
    size_t host_max = win ? RC_HOST_MAX_WINDOWS : RC_HOST_MAX_LINUX;

    if (!p->meta.name || !p->meta.namespace)
        return;
    if (rc_name_vmss(p->meta.namespace, p->meta.name, buf, sizeof(buf)) < 0 ||
        rc_name_prefix(p->meta.namespace, p->meta.name, win, buf, sizeof(buf)) < 0 ||
        rc_name_vm(p->meta.namespace, p->meta.name, 999, 0, host_max, buf, sizeof(buf)) < 0)
        derr_at(d, p->meta.origin.name_line, p->meta.origin.name_col, "metadata.name",
                "cannot derive Azure %s names (host name <= %zu characters) from this name",
                win ? "Windows" : "Linux", host_max);
}

static const char *const pool_keys[] = {"subscriptionId", "resourceGroup",
                                        "location",       "mode",
                                        "orchestration",  "vmSize",
                                        "replicas",       "imageRef",
                                        "image",          "expiryPolicyRef",
                                        "network",        "identity",
                                        "osProfile",      "patchMode",
                                        "extensions",     "registration",
                                        "hooks",          "autoscale",
                                        "busy",           "recycleAfterJob",
                                        "rollout",        "drain",
                                        "deletionPolicy", "paused",
                                        "tags",           NULL};

static void decode_pool_spec(struct dec *d, const struct rc_node *spec, struct rc_pool *pool)
{
    static const char *const nkeys[] = {"subnetId", NULL};
    static const char *const dkeys[] = {"timeoutSeconds", NULL};
    static const char *const bkeys[] = {"azureQueue", "http", "tag", "pollSeconds", NULL};
    struct rc_pool_spec *ps = &pool->spec;
    const struct rc_node *v, *orch, *net, *hrw, *busy, *drain, *pm;
    int e = 0;
    int64_t timeout = ps->drain_timeout_ms / 1000;

    v = get_str(d, spec, "spec", "subscriptionId", true, &ps->subscription_id);
    if (v && !is_guid(v->text))
        derr(d, v, "spec.subscriptionId",
             "must be a GUID such as \"11111111-2222-3333-4444-555555555555\"");
    v = get_str(d, spec, "spec", "resourceGroup", true, &ps->resource_group);
    if (v && !resource_group_ok(v->text))
        derr(d, v, "spec.resourceGroup",
             "must be 1 to 90 letters, digits, '.', '_', '(', ')' or '-', not ending in '.'");
    v = get_str(d, spec, "spec", "location", true, &ps->location);
    if (v &&
        (strlen(v->text) > 64 || !chars_in(v->text, "abcdefghijklmnopqrstuvwxyz0123456789", false)))
        derr(d, v, "spec.location", "must be an Azure region name such as \"westeurope\"");
    if (get_enum(d, spec, "spec", "mode", false, modes, &e))
        ps->mode = (enum rc_mode)e;
    orch = get_enum(d, spec, "spec", "orchestration", false, orchestrations, &e);
    if (orch) {
        ps->orchestration = (enum rc_orchestration)e;
        if (ps->mode != RC_MODE_SCALESET)
            derr(d, orch, "spec.orchestration", "only allowed when mode is ScaleSet");
    }
    v = get_str(d, spec, "spec", "vmSize", true, &ps->vm_size);
    if (v && (strlen(v->text) > 64 || !chars_in(v->text, "_", true)))
        derr(d, v, "spec.vmSize", "must be a VM size such as \"Standard_D2s_v5\"");
    if (get_int32(d, spec, "spec", "replicas", false, 0, 1000, &ps->replicas))
        ps->has_replicas = true;

    get_local_ref(d, spec, "spec", "imageRef", &ps->image_ref);
    decode_image(d, spec, &ps->image);
    if (field(spec, "imageRef") && field(spec, "image"))
        derr(d, rc_node_get(spec, "image"), "spec.image",
             "imageRef and image are mutually exclusive");
    else if (!field(spec, "imageRef") && !field(spec, "image"))
        derr(d, spec, "spec.imageRef", "exactly one of imageRef or image is required");
    get_local_ref(d, spec, "spec", "expiryPolicyRef", &ps->expiry_policy_ref);

    net = get_map(d, spec, "spec", "network", true, nkeys);
    v = get_str(d, net, "spec.network", "subnetId", true, &ps->subnet_id);
    check_arm_id(d, v, "spec.network", "subnetId", "Microsoft.Network/virtualNetworks/subnets");

    decode_identity(d, spec, &ps->identity);
    decode_os_profile(d, spec, &ps->os_profile);
    pm = get_str(d, spec, "spec", "patchMode", false, &ps->patch_mode);
    if (pm) {
        static const char *const lin[] = {"ImageDefault", "AutomaticByPlatform", NULL};
        static const char *const win[] = {"Manual", "AutomaticByOS", "AutomaticByPlatform", NULL};
        bool w = ps->os_profile.os_type == RC_OS_WINDOWS;
        const char *const *ok = w ? win : lin;
        size_t i;
        for (i = 0; ok[i]; i++)
            if (!strcmp(ok[i], pm->text))
                break;
        if (!ok[i])
            derr(d, pm, "spec.patchMode",
                 w ? "must be one of Manual, AutomaticByOS, AutomaticByPlatform (Windows)"
                   : "must be one of ImageDefault, AutomaticByPlatform (Linux)");
    }
    decode_extensions(d, spec, ps);
    decode_registration(d, spec, ps, &hrw);
    if (hrw && ps->mode != RC_MODE_VIRTUALMACHINES)
        derr(d, hrw, "spec.registration.hybridRunbookWorker",
             "not supported by Azure on scale sets: use mode VirtualMachines");
    if (hrw && ps->identity.type != RC_IDENTITY_SYSTEM &&
        ps->identity.type != RC_IDENTITY_SYSTEM_USER)
        derr(d, hrw, "spec.registration.hybridRunbookWorker",
             "needs identity.type SystemAssigned (the worker extension uses the VM's "
             "system-assigned identity)");
    decode_hooks(d, spec, &ps->after_create);
    decode_autoscale(d, spec, &ps->autoscale);
    busy = get_map(d, spec, "spec", "busy", false, bkeys);
    if (busy)
        decode_signal(d, busy, "spec.busy", true, &ps->busy);
    if (get_enum(d, spec, "spec", "recycleAfterJob", false, recycles, &e))
        ps->recycle_after_job = (enum rc_recycle)e;
    decode_rollout(d, spec, &ps->rollout);
    drain = get_map(d, spec, "spec", "drain", false, dkeys);
    if (get_int(d, drain, "spec.drain", "timeoutSeconds", false, 0, 604800, &timeout))
        ps->drain_timeout_ms = timeout * 1000;
    if (get_enum(d, spec, "spec", "deletionPolicy", false, deletion_policies, &e))
        ps->deletion_policy = (enum rc_deletion_policy)e;
    get_bool(d, spec, "spec", "paused", &ps->paused);
    decode_tags(d, spec, ps);
    check_names(d, pool);
}

/* ---- ImageVersion ---- */

static void decode_image_spec(struct dec *d, const struct rc_node *spec,
                              struct rc_image_version_spec *s)
{
    static const char *const gkeys[] = {"subscriptionId", "resourceGroup", "name",
                                        "imageDefinition", NULL};
    static const char *const bkeys[] = {"imageTemplateId", "runWhen", "revision", NULL};
    const struct rc_node *g, *b, *v;
    int e = 0;

    g = get_map(d, spec, "spec", "gallery", true, gkeys);
    v = get_str(d, g, "spec.gallery", "subscriptionId", true, &s->gallery_subscription_id);
    if (v && !is_guid(v->text))
        derr(d, v, "spec.gallery.subscriptionId",
             "must be a GUID such as \"11111111-2222-3333-4444-555555555555\"");
    v = get_str(d, g, "spec.gallery", "resourceGroup", true, &s->gallery_resource_group);
    if (v && !resource_group_ok(v->text))
        derr(d, v, "spec.gallery.resourceGroup",
             "must be 1 to 90 letters, digits, '.', '_', '(', ')' or '-', not ending in '.'");
    v = get_str(d, g, "spec.gallery", "name", true, &s->gallery_name);
    if (v && (strlen(v->text) > 80 || !chars_in(v->text, "._", true)))
        derr(d, v, "spec.gallery.name", "must be 1 to 80 letters, digits, '.' or '_'");
    v = get_str(d, g, "spec.gallery", "imageDefinition", true, &s->image_definition);
    if (v && (strlen(v->text) > 80 || !chars_in(v->text, "._-", true)))
        derr(d, v, "spec.gallery.imageDefinition",
             "must be 1 to 80 letters, digits, '.', '_' or '-'");
    v = get_str(d, spec, "spec", "version", false, &s->version);
    if (v && strcmp(v->text, "latest") && !version_ok(v->text, 3))
        derr(d, v, "spec.version", "must be \"latest\" or a version such as \"1.5.0\"");
    b = get_map(d, spec, "spec", "build", false, bkeys);
    if (!b)
        return;
    v = get_str(d, b, "spec.build", "imageTemplateId", true, &s->build_template_id);
    check_arm_id(d, v, "spec.build", "imageTemplateId",
                 "Microsoft.VirtualMachineImages/imageTemplates");
    if (get_enum(d, b, "spec.build", "runWhen", false, run_whens, &e))
        s->run_when = (enum rc_run_when)e;
    get_int(d, b, "spec.build", "revision", false, 0, INT64_MAX, &s->revision);
}

/* ---- ExpiryPolicy ---- */

#define MAX_WINDOW_MS (168LL * 3600 * 1000)

static void decode_windows(struct dec *d, const struct rc_node *spec, struct rc_expiry_spec *s)
{
    static const char *const wkeys[] = {"schedule", "duration", "timeZone", NULL};
    const struct rc_node *list, *w, *v;
    char path[PATH_MAX_], sub[PATH_MAX_];
    struct rc_err e;
    size_t i;

    list = get_typed(d, spec, "spec", "maintenanceWindows", RC_NODE_SEQ, false);
    if (!list || list->n_items == 0)
        return;
    if (list->n_items > 20) {
        derr(d, list, "spec.maintenanceWindows", "must have at most 20 items");
        return;
    }
    s->windows = calloc(list->n_items, sizeof(*s->windows));
    if (!s->windows) {
        nomem(d);
        return;
    }
    for (i = 0; i < list->n_items; i++) {
        struct rc_window *win = &s->windows[s->n_windows];
        w = list->items[i];
        ipath(path, "spec.maintenanceWindows", i);
        if (w->type != RC_NODE_MAP) {
            derr(d, w, path, "must be a mapping");
            continue;
        }
        s->n_windows++;
        known_keys(d, w, path, wkeys);
        v = get_str(d, w, path, "schedule", true, &win->schedule);
        memset(&e, 0, sizeof(e));
        if (v && rc_cron_parse(v->text, &win->cron, &e) < 0) {
            cpath(sub, path, "schedule");
            derr(d, v, sub, "must be a 5-field cron schedule such as \"0 2 * * 1-5\"");
        }
        v = get_duration(d, w, path, "duration", true, &win->duration_ms);
        if (v && (win->duration_ms <= 0 || win->duration_ms > MAX_WINDOW_MS)) {
            cpath(sub, path, "duration");
            derr(d, v, sub, "must be more than 0 and at most 168h");
        }
        v = get_str(d, w, path, "timeZone", false, &win->time_zone);
        if (v && !tz_ok(v->text)) {
            cpath(sub, path, "timeZone");
            derr(d, v, sub, "must be an IANA time zone name such as \"Europe/Berlin\"");
        }
    }
}

static void decode_expiry_spec(struct dec *d, const struct rc_node *spec, struct rc_expiry_spec *s)
{
    static const char *const bkeys[] = {"maxUnavailable", NULL};
    const struct rc_node *age, *force, *before, *b;

    age = get_duration(d, spec, "spec", "maxAge", true, &s->max_age_ms);
    if (age && s->max_age_ms <= 0) {
        derr(d, age, "spec.maxAge", "must be more than 0");
        age = NULL;
    }
    get_intstr(d, spec, "spec", "jitter", true, &s->jitter);
    force = get_duration(d, spec, "spec", "forceAfter", false, &s->force_after_ms);
    if (force && age && s->force_after_ms < s->max_age_ms)
        derr(d, force, "spec.forceAfter", "must be >= maxAge");
    decode_windows(d, spec, s);
    b = get_map(d, spec, "spec", "disruptionBudget", false, bkeys);
    if (b)
        get_intstr(d, b, "spec.disruptionBudget", "maxUnavailable", false,
                   &s->disruption_max_unavailable);
    before = get_duration(d, spec, "spec", "replaceBefore", false, &s->replace_before_ms);
    if (before && age && s->replace_before_ms >= s->max_age_ms)
        derr(d, before, "spec.replaceBefore", "must be less than maxAge");
}

static const char *const image_keys[] = {"gallery", "version", "build", NULL};
static const char *const expiry_keys[] = {
    "maxAge",           "jitter",        "forceAfter", "maintenanceWindows",
    "disruptionBudget", "replaceBefore", NULL};

/* ---- appending to want ---- */

static int grow(void **v, size_t *cap, size_t n, size_t elem)
{
    size_t ncap;
    void *nv;

    if (n < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 8;
    nv = realloc(*v, ncap * elem);
    if (!nv)
        return -RC_ENOMEM;
    *v = nv;
    *cap = ncap;
    return 0;
}

/* Records an object that failed validation, when its name could be read. */
static int add_invalid(struct dec *d, struct rc_desired *want, enum rc_kind kind,
                       const struct rc_meta *meta)
{
    struct rc_invalid_ref *v;

    if (!meta->name || !meta->namespace)
        return 0;
    if (grow((void **)&want->invalid, &want->cap_invalid, want->n_invalid, sizeof(*v)))
        return -RC_ENOMEM;
    v = &want->invalid[want->n_invalid];
    memset(v, 0, sizeof(*v));
    v->kind = kind;
    v->name = rc_strdup(meta->name);
    v->namespace = rc_strdup(meta->namespace);
    v->origin = meta->origin;
    v->origin.file = d->file ? rc_strdup(d->file) : NULL;
    want->n_invalid++;
    if (!v->name || !v->namespace || (d->file && !v->origin.file))
        return -RC_ENOMEM;
    return 0;
}

/* ---- one document ---- */

static const char *const top_keys[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};

static bool is_list_kind(const struct rc_node *root, const struct rc_node *kd)
{
    size_t n = strlen(kd->text);
    const struct rc_node *items = rc_node_get(root, "items");

    return n >= 4 && !strcmp(kd->text + n - 4, "List") && items && items->type == RC_NODE_SEQ;
}

static int decode_doc(struct dec *d, const struct rc_node *root, bool invalid, bool in_list,
                      struct rc_desired *want, struct rc_errs *notices)
{
    const struct rc_node *av, *kd, *md, *nm, *spec;
    const char *slash;
    enum rc_kind kind;
    size_t i;
    int r = 0;

    d->n_err = invalid ? 1 : 0;
    d->nomem = 0;
    if (root->type == RC_NODE_NULL)
        return 0; /* empty document */
    if (root->type != RC_NODE_MAP) {
        derr(d, root, "", "a manifest must be a mapping with apiVersion, kind, metadata and spec");
        return 0;
    }
    av = get_str(d, root, "", "apiVersion", true, NULL);
    kd = get_str(d, root, "", "kind", true, NULL);
    if (!av || !kd)
        return 0;
    if (!in_list && is_list_kind(root, kd)) {
        /* "kubectl get -o yaml" output: a v1 List (or WorkerPoolList) of objects */
        const struct rc_node *items = rc_node_get(root, "items");
        for (i = 0; i < items->n_items && r == 0; i++)
            r = decode_doc(d, items->items[i], invalid, true, want, notices);
        return r;
    }
    slash = strchr(av->text, '/');
    if (!slash || (size_t)(slash - av->text) != strlen(RC_API_GROUP) ||
        strncmp(av->text, RC_API_GROUP, strlen(RC_API_GROUP))) {
        md = rc_node_get(root, "metadata");
        nm = rc_node_get(md, "name");
        if (notices)
            rc_errs_add(notices, d->file, root->line, root->col, "",
                        "skipping %s %s \"%s\": not an azpool.dev object", av->text, kd->text,
                        nm && nm->type == RC_NODE_STRING ? nm->text : "");
        return 0;
    }
    if (strcmp(av->text, RC_API_VERSION)) {
        derr(d, av, "apiVersion", "unsupported version \"%s\" (expected %s)", av->text,
             RC_API_VERSION);
        return 0;
    }
    if (!strcmp(kd->text, "WorkerPool")) {
        kind = RC_KIND_WORKERPOOL;
    } else if (!strcmp(kd->text, "ImageVersion")) {
        kind = RC_KIND_IMAGEVERSION;
    } else if (!strcmp(kd->text, "ExpiryPolicy")) {
        kind = RC_KIND_EXPIRYPOLICY;
    } else {
        derr(d, kd, "kind",
             "unknown kind \"%s\" (expected WorkerPool, ImageVersion or "
             "ExpiryPolicy)",
             kd->text);
        return 0;
    }
    known_keys(d, root, "", top_keys);
    if (kind == RC_KIND_WORKERPOOL) {
        struct rc_pool p;
        memset(&p, 0, sizeof(p));
        rc_pool_defaults(&p.spec);
        if (!p.spec.os_profile.admin_username)
            nomem(d);
        decode_meta(d, root, kind, &p.meta);
        spec = get_map(d, root, "", "spec", true, pool_keys);
        if (spec)
            decode_pool_spec(d, spec, &p);
        if (d->n_err == 0 &&
            (r = grow((void **)&want->pools, &want->cap_pools, want->n_pools, sizeof(p))) == 0) {
            want->pools[want->n_pools++] = p;
        } else {
            if (r == 0)
                r = add_invalid(d, want, kind, &p.meta);
            rc_pool_release(&p);
        }
    } else if (kind == RC_KIND_IMAGEVERSION) {
        struct rc_image_version iv;
        memset(&iv, 0, sizeof(iv));
        rc_image_version_defaults(&iv.spec);
        if (!iv.spec.version)
            nomem(d);
        decode_meta(d, root, kind, &iv.meta);
        spec = get_map(d, root, "", "spec", true, image_keys);
        if (spec)
            decode_image_spec(d, spec, &iv.spec);
        if (d->n_err == 0 && (r = grow((void **)&want->images, &want->cap_images, want->n_images,
                                       sizeof(iv))) == 0) {
            want->images[want->n_images++] = iv;
        } else {
            if (r == 0)
                r = add_invalid(d, want, kind, &iv.meta);
            rc_image_version_release(&iv);
        }
    } else {
        struct rc_expiry_policy ep;
        memset(&ep, 0, sizeof(ep));
        rc_expiry_defaults(&ep.spec);
        decode_meta(d, root, kind, &ep.meta);
        spec = get_map(d, root, "", "spec", true, expiry_keys);
        if (spec)
            decode_expiry_spec(d, spec, &ep.spec);
        if (d->n_err == 0 && (r = grow((void **)&want->policies, &want->cap_policies,
                                       want->n_policies, sizeof(ep))) == 0) {
            want->policies[want->n_policies++] = ep;
        } else {
            if (r == 0)
                r = add_invalid(d, want, kind, &ep.meta);
            rc_expiry_policy_release(&ep);
        }
    }
    if (d->nomem)
        return -RC_ENOMEM;
    return r;
}

int rc_decode_yaml(struct rc_desired *want, const char *file, const char *buf, size_t len,
                   struct rc_errs *errs, struct rc_errs *notices)
{
    struct rc_node_doc *docs = NULL;
    struct dec d;
    size_t n = 0, i, before = errs->n + errs->dropped;
    int r, rr;

    memset(&d, 0, sizeof(d));
    d.file = file;
    d.errs = errs;
    r = rc_node_parse_yaml(file, buf, len, &docs, &n, errs);
    if (r == -RC_ENOMEM) {
        rc_node_docs_free(docs, n);
        return r;
    }
    for (i = 0; i < n; i++) {
        rr = decode_doc(&d, docs[i].root, docs[i].invalid, false, want, notices);
        if (rr == -RC_ENOMEM) {
            rc_node_docs_free(docs, n);
            return rr;
        }
    }
    rc_node_docs_free(docs, n);
    return errs->n + errs->dropped > before ? -RC_EINVAL : 0;
}

int rc_decode_json(struct rc_desired *want, const char *file, const json_t *obj,
                   struct rc_errs *errs, struct rc_errs *notices)
{
    struct rc_node *root = NULL;
    struct dec d;
    size_t before = errs->n + errs->dropped;
    int r;

    memset(&d, 0, sizeof(d));
    d.file = file;
    d.errs = errs;
    if (!obj) {
        rc_errs_add(errs, file, 0, 0, "", "no object");
        return -RC_EINVAL;
    }
    r = rc_node_from_json(obj, file, &root, errs);
    if (r == 0)
        r = decode_doc(&d, root, false, false, want, notices);
    rc_node_free(root);
    if (r == -RC_ENOMEM)
        return r;
    return errs->n + errs->dropped > before ? -RC_EINVAL : 0;
}

/* ---- across documents ---- */

static bool same_meta(const struct rc_meta *a, const struct rc_meta *b)
{
    return a->name && b->name && a->namespace && b->namespace && !strcmp(a->name, b->name) &&
           !strcmp(a->namespace, b->namespace);
}

static void dup_err(struct rc_errs *errs, const struct rc_meta *later, const struct rc_meta *first,
                    const char *kind)
{
    char where[RC_ERR_FILE_MAX + 32];

    if (first->origin.file)
        snprintf(where, sizeof(where), "%s:%d:%d", first->origin.file, first->origin.name_line,
                 first->origin.name_col);
    else
        snprintf(where, sizeof(where), "another object");
    rc_errs_add(errs, later->origin.file, later->origin.name_line, later->origin.name_col,
                "metadata.name", "duplicate %s \"%s/%s\" (first defined at %s)", kind,
                later->namespace, later->name, where);
}

int rc_validate_refs(const struct rc_desired *want, struct rc_errs *errs)
{
    size_t i, j, before = errs->n + errs->dropped;

    for (i = 0; i < want->n_pools; i++) {
        const struct rc_pool *p = &want->pools[i];
        const struct rc_local_ref *ir = &p->spec.image_ref, *er = &p->spec.expiry_policy_ref;

        for (j = 0; j < i; j++)
            if (same_meta(&want->pools[j].meta, &p->meta)) {
                dup_err(errs, &p->meta, &want->pools[j].meta, "WorkerPool");
                break;
            }
        if (ir->name && !rc_desired_image(want, p->meta.namespace, ir->name))
            rc_errs_add(errs, p->meta.origin.file, ir->line, ir->col, "spec.imageRef.name",
                        "ImageVersion \"%s\" not found in namespace \"%s\"", ir->name,
                        p->meta.namespace);
        if (er->name && !rc_desired_policy(want, p->meta.namespace, er->name))
            rc_errs_add(errs, p->meta.origin.file, er->line, er->col, "spec.expiryPolicyRef.name",
                        "ExpiryPolicy \"%s\" not found in namespace \"%s\"", er->name,
                        p->meta.namespace);
    }
    for (i = 0; i < want->n_images; i++)
        for (j = 0; j < i; j++)
            if (same_meta(&want->images[j].meta, &want->images[i].meta)) {
                dup_err(errs, &want->images[i].meta, &want->images[j].meta, "ImageVersion");
                break;
            }
    for (i = 0; i < want->n_policies; i++)
        for (j = 0; j < i; j++)
            if (same_meta(&want->policies[j].meta, &want->policies[i].meta)) {
                dup_err(errs, &want->policies[i].meta, &want->policies[j].meta, "ExpiryPolicy");
                break;
            }
    return errs->n + errs->dropped > before ? -RC_EINVAL : 0;
}
