/*
 * sim_compute.c - Microsoft.Compute virtual machine scale sets (Uniform and Flexible), VMSS VMs,
 * virtual machines, VM extensions, managed disks, and Microsoft.Network network interfaces.
 *
 * Storage: a VMSS is a store entry (its model, as PUT/PATCHed) plus a compact side table of
 * instances (struct inst, ~40 bytes each) rendered to JSON on GET, so 100,000 instances fit in a
 * few MB. Flexible members are ordinary VMs in the store (properties.virtualMachineScaleSet.id),
 * named "{vmss}_{8 hex}", each with its own NIC. Instance ids of Uniform sets are decimal and not
 * contiguous (overprovisioning skips ids); computerName = prefix + 6 base-36 characters.
 *
 * Model generations: every change of virtualMachineProfile bumps the VMSS generation and records
 * its imageReference; instances keep the generation they were built with, so GET shows the old
 * image and latestModelApplied=false until POST manualupgrade. reimage keeps the generation.
 *
 * Lifecycle (simulated time, --provision-seconds, default 30 s): instances Creating ->
 * Succeeded after the provisioning time, Deleting for half of it, then gone; Updating for half
 * of it after manualupgrade/reimage. Transitions are applied lazily (settle) whenever a VMSS is
 * touched. Admin: POST /_armsim/compute/state {"id","state":"failed|unhealthy|healthy|running",
 * "code"} and POST /_armsim/compute/backdate {"id","timeCreated"|"ageSeconds"} (also as
 * /_armsim/fail and /_armsim/backdate) act on VMSS instances, VMs and any stored resource;
 * POST /_armsim/compute/failnext {"count","code"} makes the next N new VMs / instances end their
 * provisioning Failed (a VM's create LRO then fails with that code); /_armsim/compute/quota
 * {"instances":N} caps live VMs + instances (one instance counts as one quota unit).
 *
 * Decisions: VMSS capacity is limited to 1000 per set (Azure's Uniform limit); a POST delete /
 * manualupgrade without instanceIds is 400 InvalidParameter (target instanceIds), and unknown
 * instance ids are 400 InvalidParameter too; reimage without instanceIds reimages everything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "armsim_int.h"

#define MAX_CAPACITY 1000
#define BASE         "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute"
#define NBASE        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network"

enum { ST_CREATING, ST_RUNNING, ST_UPDATING, ST_DELETING, ST_FAILED };
#define F_UNHEALTHY 1u
#define F_WILLFAIL  2u /* provisioning ends Failed (admin failnext) */

struct inst {
    uint32_t id, gen;
    int64_t created_ms, busy_until;
    uint8_t state, flags, fail;
};

struct vx {
    struct inst *v;
    size_t n, cap;
    uint32_t next_id, gen;
    json_t *images; /* "gen" -> imageReference */
};

struct cstate {
    struct as_map *vmss; /* lowercase vmss id -> struct vx */
    char *fail_codes[32];
    int nfail;
    int fail_next; /* the next N new VMs / instances fail provisioning */
    char fail_next_code[64];
    long quota; /* max live VMs + instances (all subscriptions); < 0 = unlimited */
};

static struct as_type nic_type = {
    .type = "Microsoft.Network/networkInterfaces",
    .resource_name = "Microsoft.Network/networkInterfaces",
};
static struct as_type disk_type = {
    .type = "Microsoft.Compute/disks",
    .resource_name = "Microsoft.Compute/disks",
};
static struct as_type ext_type = {
    .type = "Microsoft.Compute/virtualMachines/extensions",
    .resource_name = "Microsoft.Compute/virtualMachines/extensions",
    .lro_style = AS_LRO_ASYNC,
    .nested = true,
    .parent_type = "Microsoft.Compute/virtualMachines",
};

static struct cstate *cs(struct armsim *sim)
{
    return sim->compute;
}

static bool quota_ok(struct armsim *sim, struct as_resp *w, const char *loc, long more);

static void lower(const char *s, char *buf, size_t size)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        buf[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
    buf[i] = 0;
}

static void vx_free(void *p)
{
    struct vx *x = p;
    if (!x)
        return;
    free(x->v);
    json_decref(x->images);
    free(x);
}

static struct vx *vx_get(struct armsim *sim, const char *vmss_id, bool create)
{
    char key[AS_ID_MAX];
    lower(vmss_id, key, sizeof(key));
    struct vx *x = as_map_get(cs(sim)->vmss, key);
    if (x || !create)
        return x;
    x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->images = json_object();
    if (!x->images || as_map_put(cs(sim)->vmss, key, x) < 0) {
        vx_free(x);
        return NULL;
    }
    return x;
}

static void vx_drop(struct armsim *sim, const char *vmss_id)
{
    char key[AS_ID_MAX];
    lower(vmss_id, key, sizeof(key));
    vx_free(as_map_del(cs(sim)->vmss, key));
}

static uint8_t fail_code_idx(struct armsim *sim, const char *code)
{
    struct cstate *c = cs(sim);
    for (int i = 0; i < c->nfail; i++)
        if (strcmp(c->fail_codes[i], code) == 0)
            return (uint8_t)i;
    if (c->nfail >= 32)
        return 0;
    c->fail_codes[c->nfail] = strdup(code);
    if (!c->fail_codes[c->nfail])
        return 0;
    return (uint8_t)c->nfail++;
}

static const char *fail_code(struct armsim *sim, uint8_t i)
{
    struct cstate *c = cs(sim);
    return i < c->nfail ? c->fail_codes[i] : "InternalError";
}

/* Applies due transitions; removes instances whose deletion finished. */
static void settle(struct vx *x, int64_t now)
{
    size_t w = 0;
    for (size_t i = 0; i < x->n; i++) {
        struct inst *in = &x->v[i];
        if ((in->state == ST_CREATING || in->state == ST_UPDATING) && now >= in->busy_until) {
            in->state = (in->flags & F_WILLFAIL) ? ST_FAILED : ST_RUNNING;
            in->flags &= (uint8_t)~F_WILLFAIL;
        }
        if (in->state == ST_DELETING && now >= in->busy_until)
            continue;
        x->v[w++] = *in;
    }
    x->n = w;
}

static size_t live_count(const struct vx *x)
{
    size_t n = 0;
    for (size_t i = 0; i < x->n; i++)
        n += x->v[i].state != ST_DELETING;
    return n;
}

static struct inst *find_inst(struct vx *x, const char *iid)
{
    char *end;
    unsigned long v = strtoul(iid, &end, 10);
    if (*end || !*iid)
        return NULL;
    for (size_t i = 0; i < x->n; i++)
        if (x->v[i].id == v)
            return &x->v[i];
    return NULL;
}

static const char *state_name(uint8_t s)
{
    switch (s) {
    case ST_CREATING:
        return "Creating";
    case ST_UPDATING:
        return "Updating";
    case ST_DELETING:
        return "Deleting";
    case ST_FAILED:
        return "Failed";
    default:
        return "Succeeded";
    }
}

static void base36(uint64_t v, int width, char *buf)
{
    static const char d[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    for (int i = width - 1; i >= 0; i--) {
        buf[i] = d[v % 36];
        v /= 36;
    }
    buf[width] = 0;
}

static void det_uuid(const char *seed, uint64_t n, char *buf, size_t size)
{
    uint64_t a = 1469598103934665603ull;
    for (const char *p = seed; *p; p++)
        a = (a ^ (unsigned char)(*p | 0x20)) * 1099511628211ull;
    a ^= n * 0x9E3779B97F4A7C15ull;
    uint64_t b = a * 6364136223846793005ull + 1442695040888963407ull;
    snprintf(buf, size, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)((a >> 16) & 0xffff), (unsigned)(a & 0xfff),
             (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffull));
}

static json_t *status_obj(const char *code, const char *level, const char *display,
                          const char *time)
{
    json_t *s =
        json_pack("{s:s, s:s, s:s}", "code", code, "level", level, "displayStatus", display);
    if (time)
        json_object_set_new(s, "time", json_string(time));
    return s;
}

static json_t *instance_view(struct armsim *sim, const char *state, uint8_t fail, bool unhealthy,
                             int64_t when)
{
    char ts[48], code[128];
    as_time_format(when, ts, sizeof(ts));
    json_t *st = json_array();
    if (strcmp(state, "Failed") == 0) {
        snprintf(code, sizeof(code), "ProvisioningState/failed/%s", fail_code(sim, fail));
        json_array_append_new(st, status_obj(code, "Error", "Provisioning failed", ts));
    } else {
        char lo[32];
        lower(state, lo, sizeof(lo));
        snprintf(code, sizeof(code), "ProvisioningState/%s", lo);
        json_array_append_new(
            st, status_obj(code, "Info",
                           strcmp(state, "Succeeded") == 0 ? "Provisioning succeeded" : state, ts));
    }
    bool running = strcmp(state, "Succeeded") == 0 || strcmp(state, "Updating") == 0;
    json_array_append_new(st, status_obj(running ? "PowerState/running" : "PowerState/starting",
                                         "Info", running ? "VM running" : "VM starting", NULL));
    json_t *iv = json_pack("{s:o}", "statuses", st);
    if (running || unhealthy)
        json_object_set_new(iv, "vmHealth",
                            json_pack("{s:{s:s}}", "status", "code",
                                      unhealthy ? "HealthState/unhealthy" : "HealthState/healthy"));
    return iv;
}

/* ---------------------------------------------------------------- small helpers */

static bool need_body(struct as_req *r, struct as_resp *w)
{
    if (r->body_bad_json || !json_is_object(r->json)) {
        as_resp_error(w, 400, "InvalidRequestContent", NULL,
                      "The request content was invalid and could not be deserialized: "
                      "'Unexpected character encountered while parsing value. Path '', line 1, "
                      "position 1.'.");
        return false;
    }
    return true;
}

static json_t *jpath(json_t *o, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return v;
}

static void vmss_id_of(const struct as_req *r, char *buf, size_t size)
{
    snprintf(buf, size,
             "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/"
             "virtualMachineScaleSets/%s",
             as_param(r, "sub"), as_param(r, "rg"), as_param(r, "vmss"));
}

static void vm_id_of(const struct as_req *r, const char *name, char *buf, size_t size)
{
    snprintf(buf, size,
             "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s",
             as_param(r, "sub"), as_param(r, "rg"), name);
}

static const char *provider_loc(json_t *body)
{
    const char *l = as__jstr(body, "location");
    return l ? l : "westus";
}

static bool is_flexible(json_t *vmss)
{
    const char *m = as__jstr(json_object_get(vmss, "properties"), "orchestrationMode");
    return m && strcasecmp(m, "Flexible") == 0;
}

/* ---------------------------------------------------------------- VMs */

static json_t *render_vm(struct armsim *sim, struct as_res *e, bool expand)
{
    json_t *b = json_deep_copy(e->body);
    json_t *priv = json_object_get(b, "_as");
    bool unhealthy = json_is_true(json_object_get(priv, "unhealthy"));
    const char *fc = as__jstr(priv, "failCode");
    char et[32];
    snprintf(et, sizeof(et), "\"%llu\"", (unsigned long long)e->etag);
    json_object_set_new(b, "etag", json_string(et));
    if (expand) {
        const char *ps = as__jstr(json_object_get(b, "properties"), "provisioningState");
        json_object_set_new(json_object_get(b, "properties"), "instanceView",
                            instance_view(sim, ps ? ps : "Succeeded",
                                          fc ? fail_code_idx(sim, fc) : 0, unhealthy,
                                          e->created_ms));
    }
    json_object_del(b, "_as");
    return b;
}

static void delete_vm_now(struct armsim *sim, const char *vm_id)
{
    struct as_res *e = as_store_get(sim, vm_id);
    if (!e)
        return;
    json_t *props = json_object_get(e->body, "properties");
    /* collect dependents first: deleting changes the store */
    char *del[16];
    int nd = 0;
    char *detach[16];
    int nt = 0;
    size_t i;
    json_t *n;
    json_array_foreach(jpath(props, "networkProfile", "networkInterfaces", NULL), i, n)
    {
        const char *nid = as__jstr(n, "id");
        const char *opt = as__jstr(json_object_get(n, "properties"), "deleteOption");
        if (!nid)
            continue;
        if (opt && strcasecmp(opt, "Delete") == 0 && nd < 16)
            del[nd++] = strdup(nid);
        else if (nt < 16)
            detach[nt++] = strdup(nid);
    }
    json_t *od = jpath(props, "storageProfile", "osDisk", NULL);
    const char *did = as__jstr(json_object_get(od, "managedDisk"), "id");
    const char *dopt = as__jstr(od, "deleteOption");
    if (did) {
        if (dopt && strcasecmp(dopt, "Delete") == 0 && nd < 16)
            del[nd++] = strdup(did);
        else if (nt < 16)
            detach[nt++] = strdup(did);
    }
    as_store_del(sim, vm_id);
    for (int k = 0; k < nd; k++) {
        if (del[k])
            as_store_del(sim, del[k]);
        free(del[k]);
    }
    for (int k = 0; k < nt; k++) {
        struct as_res *d = detach[k] ? as_store_get(sim, detach[k]) : NULL;
        if (d) {
            json_object_del(json_object_get(d->body, "properties"), "virtualMachine");
            json_object_del(d->body, "managedBy");
        }
        free(detach[k]);
    }
}

#define ALLOC_MSG                                                                                  \
    "Allocation failed. We do not have sufficient capacity for the requested VM size in this "     \
    "region."

/* The failure code for the next created VM / instance, or NULL (admin failnext). */
static const char *take_failure(struct armsim *sim)
{
    struct cstate *c = cs(sim);
    if (c->fail_next <= 0)
        return NULL;
    c->fail_next--;
    return c->fail_next_code;
}

/* "compute.vm_ready": Creating/Updating -> Succeeded, or Failed when arg names a code. */
static void sched_vm_ready(struct armsim *sim, const char *id, json_t *arg)
{
    struct as_res *e = as_store_get(sim, id);
    if (!e)
        return;
    json_t *props = json_object_get(e->body, "properties");
    const char *ps = as__jstr(props, "provisioningState");
    if (!ps || (strcmp(ps, "Creating") != 0 && strcmp(ps, "Updating") != 0))
        return;
    if (json_is_string(arg)) {
        json_t *priv = json_object_get(e->body, "_as");
        if (!json_is_object(priv)) {
            priv = json_object();
            json_object_set_new(e->body, "_as", priv);
        }
        json_object_set(priv, "failCode", arg);
        json_object_set_new(props, "provisioningState", json_string("Failed"));
        return;
    }
    json_object_set_new(props, "provisioningState", json_string("Succeeded"));
}

static void sched_vm_gone(struct armsim *sim, const char *id, json_t *arg)
{
    (void)arg;
    delete_vm_now(sim, id);
}

static void nic_fill(struct armsim *sim, const struct as_req *r, json_t *body, bool created)
{
    (void)r;
    (void)created;
    json_t *props = json_object_get(body, "properties");
    size_t i;
    json_t *ipc;
    if (!json_object_get(props, "macAddress")) {
        uint64_t m = as_rand(sim);
        char mac[32];
        snprintf(mac, sizeof(mac), "00-0D-3A-%02X-%02X-%02X", (unsigned)(m & 0xff),
                 (unsigned)((m >> 8) & 0xff), (unsigned)((m >> 16) & 0xff));
        json_object_set_new(props, "macAddress", json_string(mac));
    }
    json_array_foreach(json_object_get(props, "ipConfigurations"), i, ipc)
    {
        json_t *p = json_object_get(ipc, "properties");
        if (!json_is_object(p))
            continue;
        if (!json_object_get(p, "privateIPAddress")) {
            uint64_t v = as_rand(sim);
            char ip[32];
            snprintf(ip, sizeof(ip), "10.%u.%u.%u", (unsigned)(v % 250), (unsigned)((v >> 8) % 250),
                     4 + (unsigned)((v >> 16) % 250));
            json_object_set_new(p, "privateIPAddress", json_string(ip));
        }
        if (!json_object_get(p, "privateIPAllocationMethod"))
            json_object_set_new(p, "privateIPAllocationMethod", json_string("Dynamic"));
        json_object_set_new(p, "primary", json_boolean(i == 0));
        json_object_set_new(p, "provisioningState", json_string("Succeeded"));
    }
}

/* Creates a NIC for an inline networkInterfaceConfiguration; returns a new id string. */
static char *make_nic(struct armsim *sim, const char *sub, const char *rg, const char *vm_name,
                      const char *vm_id, json_t *cfg, const char *loc)
{
    const char *cname = as__jstr(cfg, "name");
    char id[AS_ID_MAX];
    snprintf(id, sizeof(id),
             "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkInterfaces/"
             "%s-%s",
             sub, rg, vm_name, cname ? cname : "nic");
    json_t *cp = json_object_get(cfg, "properties");
    json_t *ipcs = json_array();
    size_t i;
    json_t *ipc;
    json_array_foreach(json_object_get(cp, "ipConfigurations"), i, ipc)
    {
        json_t *p = json_object();
        json_t *sn = json_object_get(json_object_get(ipc, "properties"), "subnet");
        if (sn)
            json_object_set(p, "subnet", sn);
        json_array_append_new(
            ipcs, json_pack("{s:s?, s:o}", "name", as__jstr(ipc, "name"), "properties", p));
    }
    const char *slash = strrchr(id, '/');
    json_t *nic = json_pack("{s:s, s:s, s:s, s:s, s:{s:o, s:{s:s}, s:s}}", "id", id, "name",
                            slash + 1, "type", "Microsoft.Network/networkInterfaces", "location",
                            loc, "properties", "ipConfigurations", ipcs, "virtualMachine", "id",
                            vm_id, "provisioningState", "Succeeded");
    nic_fill(sim, NULL, nic, true);
    if (!as_store_put(sim, id, nic, NULL))
        return NULL;
    return strdup(id);
}

/* Builds the stored body of a VM from a request body (copied). Returns NULL and answers on error.
 */
static json_t *vm_build(struct armsim *sim, struct as_req *r, struct as_resp *w, json_t *in,
                        const char *name, const char *id, struct as_res *old)
{
    const char *sub = as_param(r, "sub"), *rg = as_param(r, "rg");
    json_t *b = json_deep_copy(in);
    json_t *props = json_object_get(b, "properties");
    if (!json_is_object(props)) {
        as_resp_error(w, 400, "InvalidParameter", "properties",
                      "Required parameter 'properties' is missing (null).");
        json_decref(b);
        return NULL;
    }
    if (!as__jstr(jpath(props, "hardwareProfile", NULL, NULL), "vmSize")) {
        as_resp_error(w, 400, "InvalidParameter", "hardwareProfile.vmSize",
                      "Required parameter 'hardwareProfile.vmSize' is missing (null).");
        json_decref(b);
        return NULL;
    }
    const char *cn = as__jstr(json_object_get(props, "osProfile"), "computerName");
    bool windows = json_object_get(json_object_get(props, "osProfile"), "windowsConfiguration");
    if (cn && strlen(cn) > (windows ? 15u : 64u)) {
        as_resp_error(w, 400, "InvalidParameter", "osProfile.computerName",
                      "The supplied computer name '%s' is too long (maximum %u characters).", cn,
                      windows ? 15u : 64u);
        json_decref(b);
        return NULL;
    }
    json_t *vs = json_object_get(props, "virtualMachineScaleSet");
    const char *vsid = as__jstr(vs, "id");
    if (vsid) {
        struct as_res *ve = as_store_get(sim, vsid);
        if (!ve || !is_flexible(ve->body)) {
            as_resp_error(w, 400, "InvalidParameter", "properties.virtualMachineScaleSet.id",
                          "The virtual machine scale set '%s' does not exist or is not in "
                          "Flexible orchestration mode.",
                          vsid);
            json_decref(b);
            return NULL;
        }
        json_object_set_new(vs, "id", json_string(ve->id));
    }
    json_t *np = json_object_get(props, "networkProfile");
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(np, "networkInterfaces"), i, n)
    {
        const char *nid = as__jstr(n, "id");
        struct as_res *ne = nid ? as_store_get(sim, nid) : NULL;
        if (!ne) {
            char tgt[64];
            snprintf(tgt, sizeof(tgt), "networkProfile.networkInterfaces[%zu].id", i);
            as_resp_error(w, 400, "InvalidParameter", tgt,
                          "Resource '%s' referenced by the virtual machine was not found.",
                          nid ? nid : "(null)");
            json_decref(b);
            return NULL;
        }
        const char *other = as__jstr(
            json_object_get(json_object_get(ne->body, "properties"), "virtualMachine"), "id");
        if (other && strcasecmp(other, id) != 0) {
            as_resp_error(w, 400, "NicInUse", NULL,
                          "Network Interface %s is used by existing resource %s. In order to "
                          "create a new resource or update an existing one with this network "
                          "interface, you must first delete the existing resource.",
                          ne->id, other);
            json_decref(b);
            return NULL;
        }
    }
    /* inline NIC configurations: Compute creates the NICs (only on create) */
    json_t *nics = json_object_get(np, "networkInterfaceConfigurations");
    if (json_array_size(nics) && !old) {
        if (!as__jstr(np, "networkApiVersion")) {
            as_resp_error(w, 400, "InvalidParameter", "networkProfile.networkApiVersion",
                          "Required parameter 'networkApiVersion' is missing (null).");
            json_decref(b);
            return NULL;
        }
        json_t *refs = json_array();
        json_array_foreach(nics, i, n)
        {
            char *nid = make_nic(sim, sub, rg, name, id, n, provider_loc(b));
            if (!nid)
                continue;
            json_t *nprops = json_object_get(n, "properties");
            const char *opt = as__jstr(nprops, "deleteOption");
            json_array_append_new(refs, json_pack("{s:s, s:{s:b, s:s}}", "id", nid, "properties",
                                                  "primary", i == 0, "deleteOption",
                                                  opt ? opt : "Detach"));
            free(nid);
        }
        json_object_set_new(np, "networkInterfaces", refs);
    }
    json_array_foreach(json_object_get(np, "networkInterfaces"), i, n)
    {
        struct as_res *ne = as_store_get(sim, as__jstr(n, "id"));
        if (ne) {
            json_t *npp = json_object_get(ne->body, "properties");
            if (json_is_object(npp))
                json_object_set_new(npp, "virtualMachine", json_pack("{s:s}", "id", id));
        }
    }
    /* OS disk */
    json_t *sp = json_object_get(props, "storageProfile");
    if (!json_is_object(sp)) {
        sp = json_object();
        json_object_set_new(props, "storageProfile", sp);
    }
    json_t *od = json_object_get(sp, "osDisk");
    if (!json_is_object(od)) {
        od = json_pack("{s:s}", "createOption", "FromImage");
        json_object_set_new(sp, "osDisk", od);
    }
    json_t *oldod = old ? jpath(old->body, "properties", "storageProfile", "osDisk") : NULL;
    if (oldod && json_object_get(oldod, "name")) {
        json_object_set(od, "name", json_object_get(oldod, "name"));
        json_t *md = json_object_get(od, "managedDisk");
        if (!json_is_object(md)) {
            md = json_object();
            json_object_set_new(od, "managedDisk", md);
        }
        json_object_set(md, "id", json_object_get(json_object_get(oldod, "managedDisk"), "id"));
    } else if (!old) {
        char dname[256], did[AS_ID_MAX];
        snprintf(dname, sizeof(dname), "%s_OsDisk_1_%016llx%016llx", name,
                 (unsigned long long)as_rand(sim), (unsigned long long)as_rand(sim));
        snprintf(did, sizeof(did),
                 "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/disks/%s", sub,
                 rg, dname);
        json_object_set_new(od, "name", json_string(dname));
        json_t *md = json_object_get(od, "managedDisk");
        if (!json_is_object(md)) {
            md = json_object();
            json_object_set_new(od, "managedDisk", md);
        }
        json_object_set_new(md, "id", json_string(did));
        if (!as__jstr(od, "deleteOption"))
            json_object_set_new(od, "deleteOption", json_string("Detach"));
        json_t *disk = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:i}}", "id", did, "name", dname, "type",
            "Microsoft.Compute/disks", "location", provider_loc(b), "managedBy", id, "properties",
            "provisioningState", "Succeeded", "diskState", "Attached", "diskSizeGB", 30);
        as_store_put(sim, did, disk, NULL);
    }
    char vmid[40], ts[48];
    if (old) {
        json_t *op = json_object_get(old->body, "properties");
        json_object_set(props, "vmId", json_object_get(op, "vmId"));
        json_object_set(props, "timeCreated", json_object_get(op, "timeCreated"));
        if (json_object_get(old->body, "_as"))
            json_object_set(b, "_as", json_object_get(old->body, "_as"));
    } else {
        as_uuid(sim, vmid, sizeof(vmid));
        as_time_format(r->now_ms, ts, sizeof(ts));
        json_object_set_new(props, "vmId", json_string(vmid));
        json_object_set_new(props, "timeCreated", json_string(ts));
    }
    json_object_set_new(b, "id", json_string(old ? old->id : id));
    json_object_set_new(b, "name", json_string(old ? as__jstr(old->body, "name") : name));
    json_object_set_new(b, "type", json_string("Microsoft.Compute/virtualMachines"));
    json_object_set_new(props, "provisioningState", json_string(old ? "Updating" : "Creating"));
    as__norm_location(b);
    return b;
}

static void h_vm(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    if (!as_require_rg(sim, r, w))
        return;
    const char *name = as_param(r, "name");
    char id[AS_ID_MAX];
    vm_id_of(r, name, id, sizeof(id));
    struct as_res *e = as_store_get(sim, id);
    if (strcmp(r->method, "GET") == 0) {
        if (!e) {
            as_resp_not_found(w, "Microsoft.Compute/virtualMachines", name, as_param(r, "rg"));
            return;
        }
        const char *ex = as_query(r, "$expand");
        json_t *b = render_vm(sim, e, ex && strcasecmp(ex, "instanceView") == 0);
        as_resp_header(w, "ETag", "%s", as__jstr(b, "etag"));
        as_resp_json(w, 200, b);
        return;
    }
    if (strcmp(r->method, "DELETE") == 0) {
        if (!e) {
            as_resp_empty(w, 204);
            return;
        }
        if (!as_check_etag(r, w, e))
            return;
        json_t *props = json_object_get(e->body, "properties");
        json_object_set_new(props, "provisioningState", json_string("Deleting"));
        const char *force = as_query(r, "forceDeletion");
        int64_t d = sim->cfg.provision_ms / (force && strcasecmp(force, "true") == 0 ? 4 : 2);
        struct as_lro l = {.style = AS_LRO_BOTH,
                           .status = 202,
                           .duration_ms = d,
                           .resource_id = id,
                           .provider = "Microsoft.Compute",
                           .location = provider_loc(e->body),
                           .final_status = 204,
                           .on_done = "compute.vm_gone"};
        as_lro_begin(sim, r, w, &l, NULL);
        return;
    }
    if (!need_body(r, w))
        return;
    if (!as_check_etag(r, w, e))
        return;
    json_t *b;
    if (strcmp(r->method, "PATCH") == 0) {
        if (!e) {
            as_resp_not_found(w, "Microsoft.Compute/virtualMachines", name, as_param(r, "rg"));
            return;
        }
        b = json_deep_copy(e->body);
        json_t *props = json_object_get(r->json, "properties");
        if (json_is_object(props))
            as__merge_patch(json_object_get(b, "properties"), props);
        json_t *tags = json_object_get(r->json, "tags");
        if (tags)
            json_object_set(b, "tags", tags);
        json_t *ident = json_object_get(r->json, "identity");
        if (ident)
            json_object_set(b, "identity", ident);
        json_object_set_new(json_object_get(b, "properties"), "provisioningState",
                            json_string("Updating"));
    } else {
        if (!as__jstr(r->json, "location")) {
            as_resp_error(w, 400, "LocationRequired", NULL,
                          "The location property is required for this definition.");
            return;
        }
        if (!e && !quota_ok(sim, w, as__jstr(r->json, "location"), 1))
            return;
        b = vm_build(sim, r, w, r->json, name, id, e);
        if (!b)
            return;
    }
    if (json_object_get(b, "identity")) {
        json_t *ident = json_object_get(b, "identity");
        const char *t = as__jstr(ident, "type");
        if (t && strcasestr(t, "SystemAssigned") && !json_object_get(ident, "principalId")) {
            char pid[40];
            as_uuid(sim, pid, sizeof(pid));
            json_object_set_new(ident, "principalId", json_string(pid));
            json_object_set_new(ident, "tenantId", json_string(as_param(r, "sub")));
        }
    }
    bool created = false;
    e = as_store_put(sim, id, b, &created);
    if (!e) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    json_t *out = render_vm(sim, e, false);
    as_resp_header(w, "ETag", "%s", as__jstr(out, "etag"));
    const char *fail = created ? take_failure(sim) : NULL;
    struct as_lro l = {.style = AS_LRO_ASYNC,
                       .fail_code = fail,
                       .fail_message = fail ? ALLOC_MSG : NULL,
                       .on_done_arg = fail ? json_string(fail) : NULL,
                       .status = created ? 201 : 200,
                       .duration_ms = created ? sim->cfg.provision_ms : sim->cfg.provision_ms / 2,
                       .resource_id = id,
                       .provider = "Microsoft.Compute",
                       .location = provider_loc(e->body),
                       .final_status = 200,
                       .on_done = "compute.vm_ready"};
    as_lro_begin(sim, r, w, &l, out);
}

static bool vm_in_vmss(json_t *vm, const char *vmss_id)
{
    const char *v = as__jstr(jpath(vm, "properties", "virtualMachineScaleSet", NULL), "id");
    return v && strcasecmp(v, vmss_id) == 0;
}

static void h_vm_list(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char pre[AS_ID_MAX];
    const char *rg = as_param(r, "rg");
    if (rg) {
        if (!as_require_rg(sim, r, w))
            return;
        vm_id_of(r, "", pre, sizeof(pre));
        pre[strlen(pre) - 1] = 0; /* drop the trailing '/' */
    }
    const char *f = as_query(r, "$filter"), *ex = as_query(r, "$expand");
    char vmss[AS_ID_MAX] = "";
    if (f && *f) {
        const char *q1 = strchr(f, '\'');
        const char *key = strcasestr(f, "virtualMachineScaleSet/id");
        const char *eq = key ? strcasestr(key, " eq ") : NULL;
        if (!key || !eq || !q1) {
            as_resp_error(w, 400, "InvalidParameter", "$filter",
                          "The $filter '%.200s' is not supported. Supported: "
                          "'virtualMachineScaleSet/id' eq '<id>'.",
                          f);
            return;
        }
        const char *v = eq + 4;
        while (*v == ' ' || *v == '\'')
            v++;
        snprintf(vmss, sizeof(vmss), "%s", v);
        size_t l = strlen(vmss);
        while (l && (vmss[l - 1] == '\'' || vmss[l - 1] == ' '))
            vmss[--l] = 0;
    } else if (ex && *ex) {
        as_resp_error(w, 400, "InvalidParameter", "$expand",
                      "The $expand=instanceView option is only supported together with a "
                      "'virtualMachineScaleSet/id' $filter.");
        return;
    }
    size_t n = 0;
    struct as_res **a;
    if (rg) {
        a = as_store_children(sim, pre, &n);
    } else {
        snprintf(pre, sizeof(pre), "/subscriptions/%s/resourceGroups/", as_param(r, "sub"));
        a = as_store_prefix(sim, pre, &n);
    }
    json_t *all = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *t = as__jstr(a[i]->body, "type");
        if (!t || strcasecmp(t, "Microsoft.Compute/virtualMachines") != 0)
            continue;
        if (vmss[0] && !vm_in_vmss(a[i]->body, vmss))
            continue;
        json_array_append_new(all, render_vm(sim, a[i], ex && strcasestr(ex, "instanceView")));
    }
    free(a);
    as_resp_list_all(sim, r, w, all);
}

static void h_vm_iv(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    if (!as_require_rg(sim, r, w))
        return;
    char id[AS_ID_MAX];
    vm_id_of(r, as_param(r, "name"), id, sizeof(id));
    struct as_res *e = as_store_get(sim, id);
    if (!e) {
        as_resp_not_found(w, "Microsoft.Compute/virtualMachines", as_param(r, "name"),
                          as_param(r, "rg"));
        return;
    }
    json_t *b = render_vm(sim, e, true);
    as_resp_json(w, 200,
                 json_incref(json_object_get(json_object_get(b, "properties"), "instanceView")));
    json_decref(b);
}

static void h_vm_action(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    if (!as_require_rg(sim, r, w))
        return;
    char id[AS_ID_MAX];
    vm_id_of(r, as_param(r, "name"), id, sizeof(id));
    struct as_res *e = as_store_get(sim, id);
    if (!e) {
        as_resp_not_found(w, "Microsoft.Compute/virtualMachines", as_param(r, "name"),
                          as_param(r, "rg"));
        return;
    }
    if (r->body_bad_json) {
        need_body(r, w);
        return;
    }
    const char *act = as_param(r, "action");
    if (strcasecmp(act, "reimage") == 0 || strcasecmp(act, "redeploy") == 0) {
        json_object_set_new(json_object_get(e->body, "properties"), "provisioningState",
                            json_string("Updating"));
        json_t *priv = json_object_get(e->body, "_as");
        json_object_del(priv, "failCode");
        json_object_del(priv, "unhealthy");
    }
    struct as_lro l = {.style = AS_LRO_BOTH,
                       .status = 202,
                       .duration_ms = sim->cfg.provision_ms / 2,
                       .resource_id = id,
                       .provider = "Microsoft.Compute",
                       .location = provider_loc(e->body),
                       .final_status = 204,
                       .on_done = "compute.vm_ready"};
    as_lro_begin(sim, r, w, &l, NULL);
}

/* ---------------------------------------------------------------- VMSS */

static json_t *render_inst(struct armsim *sim, struct as_res *ve, struct vx *x,
                           const struct inst *in, bool expand)
{
    char id[AS_ID_MAX], name[300], iid[16], ts[48], vmid[40], cn[128];
    snprintf(iid, sizeof(iid), "%u", in->id);
    snprintf(id, sizeof(id), "%s/virtualMachines/%s", ve->id, iid);
    const char *vname = as__jstr(ve->body, "name");
    snprintf(name, sizeof(name), "%s_%s", vname ? vname : "", iid);
    as_time_format(in->created_ms, ts, sizeof(ts));
    det_uuid(ve->id, in->id, vmid, sizeof(vmid));
    json_t *props = json_object_get(ve->body, "properties");
    json_t *vmp = json_object_get(props, "virtualMachineProfile");
    json_t *osp = json_object_get(vmp, "osProfile");
    const char *prefix = as__jstr(osp, "computerNamePrefix");
    char suf[8];
    base36(in->id, 6, suf);
    snprintf(cn, sizeof(cn), "%s%s", prefix ? prefix : (vname ? vname : "vm"), suf);
    char gk[16];
    snprintf(gk, sizeof(gk), "%u", in->gen);
    json_t *img = json_object_get(x->images, gk);
    json_t *sp = json_object();
    if (img) {
        json_t *ir = json_deep_copy(img);
        const char *iref = as__jstr(ir, "id");
        const char *ver = iref ? strcasestr(iref, "/versions/") : NULL;
        if (ver)
            json_object_set_new(ir, "exactVersion", json_string(ver + 10));
        else if (as__jstr(ir, "version"))
            json_object_set_new(ir, "exactVersion", json_string(as__jstr(ir, "version")));
        json_object_set_new(sp, "imageReference", ir);
    }
    json_t *p = json_pack(
        "{s:b, s:s, s:s, s:s, s:s, s:{s:s, s:s?}, s:o, s:{s:b, s:b}}", "latestModelApplied",
        in->gen == x->gen, "modelDefinitionApplied", "VirtualMachineScaleSet", "vmId", vmid,
        "provisioningState", state_name(in->state), "timeCreated", ts, "osProfile", "computerName",
        cn, "adminUsername", as__jstr(osp, "adminUsername"), "storageProfile", sp,
        "protectionPolicy", "protectFromScaleIn", 0, "protectFromScaleSetActions", 0);
    json_t *sku = json_object_get(ve->body, "sku");
    json_t *hw = json_pack("{s:s?}", "vmSize", as__jstr(sku, "name"));
    json_object_set_new(p, "hardwareProfile", hw);
    if (expand)
        json_object_set_new(p, "instanceView",
                            instance_view(sim, state_name(in->state), in->fail,
                                          in->flags & F_UNHEALTHY, in->created_ms));
    json_t *b =
        json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:o}", "id", id, "name", name, "instanceId", iid,
                  "type", "Microsoft.Compute/virtualMachineScaleSets/virtualMachines", "location",
                  as__jstr(ve->body, "location"), "etag", "\"1\"", "properties", p);
    if (json_object_get(ve->body, "tags"))
        json_object_set(b, "tags", json_object_get(ve->body, "tags"));
    json_t *zones = json_object_get(ve->body, "zones");
    if (json_array_size(zones) > 0) /* instances are spread over the zones by id */
        json_object_set_new(
            b, "zones", json_pack("[O]", json_array_get(zones, in->id % json_array_size(zones))));
    if (sku)
        json_object_set_new(b, "sku",
                            json_pack("{s:s?, s:s?}", "name", as__jstr(sku, "name"), "tier",
                                      as__jstr(sku, "tier")));
    return b;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void flex_create_vm(struct armsim *sim, struct as_res *ve, const char *sub, const char *rg)
{
    char name[300], id[AS_ID_MAX];
    const char *vname = as__jstr(ve->body, "name");
    snprintf(name, sizeof(name), "%s_%08x", vname, (unsigned)(as_rand(sim) & 0xffffffffu));
    snprintf(id, sizeof(id),
             "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s",
             sub, rg, name);
    json_t *vmp = jpath(ve->body, "properties", "virtualMachineProfile", NULL);
    char vmid[40], ts[48], cn[128], suf[8];
    as_uuid(sim, vmid, sizeof(vmid));
    as_time_format(as_now(sim), ts, sizeof(ts));
    const char *prefix = as__jstr(json_object_get(vmp, "osProfile"), "computerNamePrefix");
    base36(as_rand(sim), 6, suf);
    snprintf(cn, sizeof(cn), "%s%s", prefix ? prefix : vname, suf);
    json_t *sp = json_deep_copy(json_object_get(vmp, "storageProfile"));
    if (!sp)
        sp = json_object();
    json_t *props = json_pack(
        "{s:{s:s?}, s:o, s:{s:s, s:s?}, s:{s:s}, s:s, s:s, s:s}", "hardwareProfile", "vmSize",
        as__jstr(json_object_get(ve->body, "sku"), "name"), "storageProfile", sp, "osProfile",
        "computerName", cn, "adminUsername",
        as__jstr(json_object_get(vmp, "osProfile"), "adminUsername"), "virtualMachineScaleSet",
        "id", ve->id, "vmId", vmid, "timeCreated", ts, "provisioningState", "Creating");
    json_t *vm = json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", id, "name", name, "type",
                           "Microsoft.Compute/virtualMachines", "location", provider_loc(ve->body),
                           "properties", props);
    if (json_object_get(ve->body, "tags"))
        json_object_set(vm, "tags", json_object_get(ve->body, "tags"));
    json_t *refs = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(jpath(vmp, "networkProfile", "networkInterfaceConfigurations", NULL), i, n)
    {
        char *nid = make_nic(sim, sub, rg, name, id, n, provider_loc(ve->body));
        if (nid)
            json_array_append_new(refs, json_pack("{s:s, s:{s:b, s:s}}", "id", nid, "properties",
                                                  "primary", i == 0, "deleteOption", "Delete"));
        free(nid);
    }
    json_object_set_new(props, "networkProfile", json_pack("{s:o}", "networkInterfaces", refs));
    json_t *od = json_object_get(sp, "osDisk");
    if (json_is_object(od))
        json_object_set_new(od, "deleteOption", json_string("Delete"));
    if (as_store_put(sim, id, vm, NULL)) {
        const char *fail = take_failure(sim);
        as_sched_at(sim, as_now(sim) + sim->cfg.provision_ms, "compute.vm_ready", id,
                    fail ? json_string(fail) : NULL);
    }
}

/* Flexible members of a VMSS (borrowed pointers; free the array). */
static struct as_res **flex_members(struct armsim *sim, struct as_res *ve, size_t *ret_n)
{
    char pre[AS_ID_MAX];
    snprintf(pre, sizeof(pre), "%s", ve->id);
    char *p = strcasestr(pre, "/providers/");
    if (p)
        snprintf(p, sizeof(pre) - (size_t)(p - pre),
                 "/providers/Microsoft.Compute/virtualMachines");
    size_t n = 0, k = 0;
    struct as_res **a = as_store_children(sim, pre, &n);
    for (size_t i = 0; i < n; i++)
        if (vm_in_vmss(a[i]->body, ve->id))
            a[k++] = a[i];
    *ret_n = k;
    return a;
}

static bool vm_deleting(json_t *vm)
{
    const char *ps = as__jstr(json_object_get(vm, "properties"), "provisioningState");
    return ps && strcmp(ps, "Deleting") == 0;
}

/* Live VMs (Flexible members included) and Uniform instances, for the quota. */
static long usage(struct armsim *sim)
{
    long n = 0;
    size_t it = 0, cnt = 0;
    const char *k;
    void *v;
    while (as_map_next(cs(sim)->vmss, &it, &k, &v))
        n += (long)live_count(v);
    struct as_res **a = as_store_prefix(sim, "/subscriptions/", &cnt);
    for (size_t i = 0; i < cnt; i++) {
        const char *t = as__jstr(a[i]->body, "type");
        if (t && strcmp(t, "Microsoft.Compute/virtualMachines") == 0 && !vm_deleting(a[i]->body))
            n++;
    }
    free(a);
    return n;
}

/* Answers 409 OperationNotAllowed when adding `more` would pass the quota. */
static bool quota_ok(struct armsim *sim, struct as_resp *w, const char *loc, long more)
{
    long q = cs(sim)->quota;
    if (q < 0 || more <= 0)
        return true;
    long u = usage(sim);
    if (u + more <= q)
        return true;
    as_resp_error(w, 409, "OperationNotAllowed", NULL,
                  "Operation could not be completed as it results in exceeding approved Total "
                  "Regional Cores quota. Additional details - Deployment Model: Resource Manager, "
                  "Location: %s, Current Limit: %ld, Current Usage: %ld, Additional Required: "
                  "%ld, (Minimum) New Limit Required: %ld. Submit a request for Quota increase at "
                  "https://aka.ms/ProdportalCRP.",
                  loc ? loc : "westus", q, u, more, u + more);
    return false;
}

static void flex_delete_vm(struct armsim *sim, struct as_res *vm, int64_t after)
{
    json_object_set_new(json_object_get(vm->body, "properties"), "provisioningState",
                        json_string("Deleting"));
    as_sched_at(sim, as_now(sim) + after, "compute.vm_gone", vm->id, NULL);
}

/* Resizes to capacity: new instances Creating, surplus (highest ids / newest VMs) Deleting. */
static void resize(struct armsim *sim, struct as_res *ve, struct vx *x, size_t cap, const char *sub,
                   const char *rg)
{
    int64_t now = as_now(sim);
    if (is_flexible(ve->body)) {
        size_t n = 0;
        struct as_res **m = flex_members(sim, ve, &n);
        size_t live = 0;
        for (size_t i = 0; i < n; i++)
            live += !vm_deleting(m[i]->body);
        if (live > cap) {
            /* delete newest first */
            size_t todo = live - cap;
            while (todo--) {
                struct as_res *best = NULL;
                for (size_t i = 0; i < n; i++)
                    if (!vm_deleting(m[i]->body) && (!best || m[i]->created_ms >= best->created_ms))
                        best = m[i];
                if (!best)
                    break;
                flex_delete_vm(sim, best, sim->cfg.provision_ms / 2);
            }
        }
        free(m);
        for (size_t i = live; i < cap; i++)
            flex_create_vm(sim, ve, sub, rg);
        return;
    }
    size_t live = live_count(x);
    bool overprov = !json_is_false(jpath(ve->body, "properties", "overprovision", NULL));
    while (live < cap) {
        if (x->n == x->cap) {
            size_t nc = x->cap ? x->cap * 2 : 16;
            struct inst *nv = realloc(x->v, nc * sizeof(*nv));
            if (!nv)
                return;
            x->v = nv;
            x->cap = nc;
        }
        struct inst *in = &x->v[x->n++];
        memset(in, 0, sizeof(*in));
        in->id = x->next_id;
        x->next_id += overprov ? 1 + (uint32_t)(as_rand(sim) % 3) : 1;
        in->gen = x->gen;
        in->created_ms = now;
        in->busy_until = now + sim->cfg.provision_ms;
        in->state = ST_CREATING;
        const char *fail = take_failure(sim);
        if (fail) {
            in->flags |= F_WILLFAIL;
            in->fail = fail_code_idx(sim, fail);
        }
        live++;
    }
    while (live > cap) {
        struct inst *best = NULL;
        for (size_t i = 0; i < x->n; i++)
            if (x->v[i].state != ST_DELETING && (!best || x->v[i].id > best->id))
                best = &x->v[i];
        if (!best)
            break;
        best->state = ST_DELETING;
        best->busy_until = now + sim->cfg.provision_ms / 2;
        live--;
    }
}

static void sync_capacity(struct armsim *sim, struct as_res *ve, struct vx *x)
{
    size_t live;
    if (is_flexible(ve->body)) {
        size_t n = 0;
        struct as_res **m = flex_members(sim, ve, &n);
        live = 0;
        for (size_t i = 0; i < n; i++)
            live += !vm_deleting(m[i]->body);
        free(m);
    } else {
        live = live_count(x);
    }
    json_t *sku = json_object_get(ve->body, "sku");
    if (json_is_object(sku))
        json_object_set_new(sku, "capacity", json_integer((json_int_t)live));
}

static void sched_vmss_ready(struct armsim *sim, const char *id, json_t *arg)
{
    (void)arg;
    struct as_res *e = as_store_get(sim, id);
    if (!e)
        return;
    json_t *props = json_object_get(e->body, "properties");
    const char *ps = as__jstr(props, "provisioningState");
    if (ps && (strcmp(ps, "Creating") == 0 || strcmp(ps, "Updating") == 0))
        json_object_set_new(props, "provisioningState", json_string("Succeeded"));
}

static void sched_vmss_gone(struct armsim *sim, const char *id, json_t *arg)
{
    (void)arg;
    struct as_res *e = as_store_get(sim, id);
    if (e && is_flexible(e->body)) {
        size_t n = 0;
        struct as_res **m = flex_members(sim, e, &n);
        char **ids = calloc(n + 1, sizeof(*ids));
        for (size_t i = 0; ids && i < n; i++)
            ids[i] = strdup(m[i]->id);
        free(m);
        for (size_t i = 0; ids && i < n; i++) {
            if (ids[i])
                delete_vm_now(sim, ids[i]);
            free(ids[i]);
        }
        free(ids);
    }
    as_store_del(sim, id);
    vx_drop(sim, id);
}

static bool sku_name_ok(json_t *sku)
{
    const char *n = as__jstr(sku, "name");
    return n && *n;
}

static int validate_vmss(struct as_resp *w, json_t *b, struct as_res *old)
{
    json_t *props = json_object_get(b, "properties");
    const char *mode = as__jstr(props, "orchestrationMode");
    if (old) {
        const char *om = as__jstr(json_object_get(old->body, "properties"), "orchestrationMode");
        if (om && mode && strcasecmp(om, mode) != 0)
            return as_resp_error(w, 400, "PropertyChangeNotAllowed", "orchestrationMode",
                                 "Changing property 'orchestrationMode' is not allowed.") -
                   1;
    }
    if (mode && strcasecmp(mode, "Uniform") != 0 && strcasecmp(mode, "Flexible") != 0)
        return as_resp_error(w, 400, "InvalidParameter", "orchestrationMode",
                             "The value '%s' of parameter 'orchestrationMode' is invalid.", mode) -
               1;
    json_t *sku = json_object_get(b, "sku");
    json_t *cap = json_object_get(sku, "capacity");
    if (cap && (!json_is_integer(cap) || json_integer_value(cap) < 0 ||
                json_integer_value(cap) > MAX_CAPACITY))
        return as_resp_error(w, 400, "InvalidParameter", "sku.capacity",
                             "The value of parameter sku.capacity is invalid: it must be an "
                             "integer between 0 and %d.",
                             MAX_CAPACITY) -
               1;
    json_t *vmp = json_object_get(props, "virtualMachineProfile");
    bool flex = mode && strcasecmp(mode, "Flexible") == 0;
    if (flex && !json_object_get(props, "platformFaultDomainCount"))
        return as_resp_error(w, 400, "InvalidParameter", "platformFaultDomainCount",
                             "Required parameter 'platformFaultDomainCount' is missing "
                             "(null).") -
               1;
    if (flex && vmp && !as__jstr(json_object_get(vmp, "networkProfile"), "networkApiVersion"))
        return as_resp_error(w, 400, "InvalidParameter",
                             "virtualMachineProfile.networkProfile.networkApiVersion",
                             "Required parameter 'networkApiVersion' is missing (null).") -
               1;
    if (!flex && !vmp)
        return as_resp_error(w, 400, "InvalidParameter", "virtualMachineProfile",
                             "Required parameter 'virtualMachineProfile' is missing (null).") -
               1;
    if ((json_integer_value(cap) > 0) && !sku_name_ok(sku))
        return as_resp_error(w, 400, "InvalidParameter", "sku.name",
                             "Required parameter 'sku.name' is missing (null).") -
               1;
    json_t *osp = json_object_get(vmp, "osProfile");
    const char *prefix = as__jstr(osp, "computerNamePrefix");
    bool windows = json_object_get(osp, "windowsConfiguration") != NULL;
    if (prefix && windows && strlen(prefix) > 9)
        return as_resp_error(w, 400, "InvalidParameter", "computerNamePrefix",
                             "Windows computer name prefix cannot be more than 9 characters "
                             "long.") -
               1;
    if (prefix && strlen(prefix) > 58)
        return as_resp_error(w, 400, "InvalidParameter", "computerNamePrefix",
                             "Linux computer name prefix cannot be more than 58 characters "
                             "long.") -
               1;
    return 0;
}

static void record_image(struct vx *x, json_t *b)
{
    json_t *ir = jpath(b, "properties", "virtualMachineProfile", "storageProfile");
    ir = json_object_get(ir, "imageReference");
    char gk[16];
    snprintf(gk, sizeof(gk), "%u", x->gen);
    if (ir)
        json_object_set(x->images, gk, ir);
}

static void vmss_answer(struct armsim *sim, struct as_req *r, struct as_resp *w, struct as_res *e,
                        int status)
{
    as_set_etag(w, e);
    struct as_lro l = {.style = AS_LRO_ASYNC,
                       .status = status,
                       .duration_ms = sim->cfg.provision_ms,
                       .resource_id = e->id,
                       .provider = "Microsoft.Compute",
                       .location = provider_loc(e->body),
                       .final_status = 200,
                       .on_done = "compute.vmss_ready"};
    as_lro_begin(sim, r, w, &l, json_deep_copy(e->body));
}

static void h_vmss(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    if (!as_require_rg(sim, r, w))
        return;
    const char *name = as_param(r, "vmss");
    char id[AS_ID_MAX];
    vmss_id_of(r, id, sizeof(id));
    struct as_res *e = as_store_get(sim, id);
    struct vx *x = e ? vx_get(sim, e->id, true) : NULL;
    if (e && x) {
        settle(x, r->now_ms);
        sync_capacity(sim, e, x);
    }
    if (strcmp(r->method, "GET") == 0) {
        if (!e) {
            as_resp_not_found(w, "Microsoft.Compute/virtualMachineScaleSets", name,
                              as_param(r, "rg"));
            return;
        }
        as_set_etag(w, e);
        as_resp_json(w, 200, json_deep_copy(e->body));
        return;
    }
    if (strcmp(r->method, "DELETE") == 0) {
        if (!e) {
            as_resp_empty(w, 204);
            return;
        }
        if (!as_check_etag(r, w, e))
            return;
        json_object_set_new(json_object_get(e->body, "properties"), "provisioningState",
                            json_string("Deleting"));
        const char *force = as_query(r, "forceDeletion");
        int64_t d = sim->cfg.provision_ms / (force && strcasecmp(force, "true") == 0 ? 4 : 2);
        if (x)
            for (size_t i = 0; i < x->n; i++) {
                x->v[i].state = ST_DELETING;
                x->v[i].busy_until = r->now_ms + d;
            }
        struct as_lro l = {.style = AS_LRO_BOTH,
                           .status = 202,
                           .duration_ms = d,
                           .resource_id = e->id,
                           .provider = "Microsoft.Compute",
                           .location = provider_loc(e->body),
                           .final_status = 204,
                           .on_done = "compute.vmss_gone"};
        as_lro_begin(sim, r, w, &l, NULL);
        return;
    }
    if (!need_body(r, w))
        return;
    if (!as_check_etag(r, w, e))
        return;
    if (e) {
        const char *ps = as__jstr(json_object_get(e->body, "properties"), "provisioningState");
        if (ps && strcmp(ps, "Deleting") == 0) {
            as_resp_error(w, 409, "OperationNotAllowed", NULL,
                          "The operation is not allowed because the virtual machine scale set "
                          "'%s' is being deleted.",
                          name);
            return;
        }
    }
    bool patch = strcmp(r->method, "PATCH") == 0;
    json_t *b;
    if (patch) {
        if (!e) {
            as_resp_not_found(w, "Microsoft.Compute/virtualMachineScaleSets", name,
                              as_param(r, "rg"));
            return;
        }
        b = json_deep_copy(e->body);
        const char *k;
        json_t *v;
        json_object_foreach(r->json, k, v)
        {
            if (strcmp(k, "tags") == 0 || strcmp(k, "identity") == 0 || strcmp(k, "zones") == 0)
                json_object_set(b, k, v);
            else if ((strcmp(k, "properties") == 0 || strcmp(k, "sku") == 0) && json_is_object(v)) {
                if (!json_is_object(json_object_get(b, k)))
                    json_object_set_new(b, k, json_object());
                as__merge_patch(json_object_get(b, k), v);
            }
        }
    } else {
        if (!as__jstr(r->json, "location")) {
            as_resp_error(w, 400, "LocationRequired", NULL,
                          "The location property is required for this definition.");
            return;
        }
        b = json_deep_copy(r->json);
        if (!json_is_object(json_object_get(b, "properties")))
            json_object_set_new(b, "properties", json_object());
        if (e && as__jstr(e->body, "location")) {
            json_t *t = json_pack("{s:s}", "location", as__jstr(b, "location"));
            as__norm_location(t);
            if (strcasecmp(as__jstr(t, "location"), as__jstr(e->body, "location")) != 0) {
                json_decref(t);
                json_decref(b);
                as_resp_error(w, 400, "PropertyChangeNotAllowed", "location",
                              "Changing property 'location' is not allowed.");
                return;
            }
            json_decref(t);
        }
    }
    json_t *props = json_object_get(b, "properties");
    if (!as__jstr(props, "orchestrationMode"))
        json_object_set_new(
            props, "orchestrationMode",
            json_string(e ? (is_flexible(e->body) ? "Flexible" : "Uniform") : "Uniform"));
    if (validate_vmss(w, b, e) < 0) {
        json_decref(b);
        return;
    }
    if (!json_object_get(props, "upgradePolicy") && !is_flexible(b))
        json_object_set_new(props, "upgradePolicy", json_pack("{s:s}", "mode", "Manual"));
    bool model_changed =
        !e || !json_equal(json_object_get(props, "virtualMachineProfile"),
                          jpath(e->body, "properties", "virtualMachineProfile", NULL));
    char ts[48], uid[40];
    if (e) {
        json_t *op = json_object_get(e->body, "properties");
        json_object_set(props, "uniqueId", json_object_get(op, "uniqueId"));
        json_object_set(props, "timeCreated", json_object_get(op, "timeCreated"));
    } else {
        as_uuid(sim, uid, sizeof(uid));
        as_time_format(r->now_ms, ts, sizeof(ts));
        json_object_set_new(props, "uniqueId", json_string(uid));
        json_object_set_new(props, "timeCreated", json_string(ts));
    }
    json_object_set_new(props, "provisioningState", json_string(e ? "Updating" : "Creating"));
    json_object_set_new(b, "id", json_string(e ? e->id : id));
    json_object_set_new(b, "name", json_string(e ? as__jstr(e->body, "name") : name));
    json_object_set_new(b, "type", json_string("Microsoft.Compute/virtualMachineScaleSets"));
    as__norm_location(b);
    json_t *ident = json_object_get(b, "identity");
    const char *itype = as__jstr(ident, "type");
    if (itype && strcasestr(itype, "SystemAssigned") && !json_object_get(ident, "principalId")) {
        char pid[40];
        as_uuid(sim, pid, sizeof(pid));
        json_object_set_new(ident, "principalId", json_string(pid));
        json_object_set_new(ident, "tenantId", json_string(as_param(r, "sub")));
    }
    json_t *sku = json_object_get(b, "sku");
    json_t *capj = json_object_get(sku, "capacity");
    size_t cap = json_is_integer(capj) ? (size_t)json_integer_value(capj) : 0;
    if (!json_is_object(sku)) {
        sku = json_object();
        json_object_set_new(b, "sku", sku);
    }
    json_object_set_new(sku, "capacity", json_integer((json_int_t)cap));
    {
        long cur = 0;
        if (e && is_flexible(e->body)) {
            size_t n = 0;
            struct as_res **m = flex_members(sim, e, &n);
            for (size_t i = 0; i < n; i++)
                cur += !vm_deleting(m[i]->body);
            free(m);
        } else if (e && x) {
            cur = (long)live_count(x);
        }
        if (!quota_ok(sim, w, as__jstr(b, "location"), (long)cap - cur)) {
            json_decref(b);
            return;
        }
    }
    bool created = false;
    e = as_store_put(sim, id, b, &created);
    if (!e) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    if (created)
        vx_drop(sim, id); /* a stale table from a deleted resource group */
    x = vx_get(sim, e->id, true);
    if (!x) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    if (model_changed) {
        if (!created)
            x->gen++;
        record_image(x, e->body);
    }
    resize(sim, e, x, cap, as_param(r, "sub"), as_param(r, "rg"));
    sync_capacity(sim, e, x);
    vmss_answer(sim, r, w, e, created ? 201 : 200);
}

static void h_vmss_list(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    char pre[AS_ID_MAX];
    size_t n = 0;
    struct as_res **a;
    if (as_param(r, "rg")) {
        if (!as_require_rg(sim, r, w))
            return;
        as_rg_id(r, pre, sizeof(pre));
        snprintf(pre + strlen(pre), sizeof(pre) - strlen(pre),
                 "/providers/Microsoft.Compute/virtualMachineScaleSets");
        a = as_store_children(sim, pre, &n);
    } else {
        snprintf(pre, sizeof(pre), "/subscriptions/%s/resourceGroups/", as_param(r, "sub"));
        a = as_store_prefix(sim, pre, &n);
    }
    json_t *all = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *t = as__jstr(a[i]->body, "type");
        if (!t || strcasecmp(t, "Microsoft.Compute/virtualMachineScaleSets") != 0)
            continue;
        struct vx *x = vx_get(sim, a[i]->id, true);
        if (x) {
            settle(x, r->now_ms);
            sync_capacity(sim, a[i], x);
        }
        json_t *b = json_deep_copy(a[i]->body);
        char et[32];
        snprintf(et, sizeof(et), "\"%llu\"", (unsigned long long)a[i]->etag);
        json_object_set_new(b, "etag", json_string(et));
        json_array_append_new(all, b);
    }
    free(a);
    as_resp_list_all(sim, r, w, all);
}

/* Looks up the VMSS of the request; answers 404 and returns NULL when absent. */
static struct as_res *vmss_lookup(struct armsim *sim, struct as_req *r, struct as_resp *w,
                                  struct vx **ret_x)
{
    if (!as_require_rg(sim, r, w))
        return NULL;
    char id[AS_ID_MAX];
    vmss_id_of(r, id, sizeof(id));
    struct as_res *e = as_store_get(sim, id);
    if (!e) {
        as_resp_not_found(w, "Microsoft.Compute/virtualMachineScaleSets", as_param(r, "vmss"),
                          as_param(r, "rg"));
        return NULL;
    }
    struct vx *x = vx_get(sim, e->id, true);
    if (!x) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return NULL;
    }
    settle(x, r->now_ms);
    sync_capacity(sim, e, x);
    *ret_x = x;
    return e;
}

static void h_vmss_vms(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    struct vx *x;
    struct as_res *e = vmss_lookup(sim, r, w, &x);
    if (!e)
        return;
    const char *ex = as_query(r, "$expand"), *sel = as_query(r, "$select");
    bool expand =
        (ex && strcasestr(ex, "instanceView")) || (sel && strcasestr(sel, "instanceView"));
    const char *f = as_query(r, "$filter");
    int lma = -1; /* latestModelApplied filter */
    if (f && *f) {
        if (strcasestr(f, "latestModelApplied")) {
            lma = strcasestr(f, "true") ? 1 : strcasestr(f, "false") ? 0 : -1;
            if (lma < 0) {
                as_resp_error(w, 400, "InvalidParameter", "$filter",
                              "The $filter '%.200s' is invalid.", f);
                return;
            }
        } else if (!strcasestr(f, "instanceView/statuses/code")) {
            as_resp_error(w, 400, "InvalidParameter", "$filter",
                          "The $filter '%.200s' is not supported.", f);
            return;
        }
    }
    if (is_flexible(e->body)) {
        size_t n = 0;
        struct as_res **m = flex_members(sim, e, &n);
        json_t *all = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *b = render_vm(sim, m[i], expand);
            json_object_set_new(b, "instanceId", json_string(as__jstr(m[i]->body, "name")));
            json_array_append_new(all, b);
        }
        free(m);
        as_resp_list_all(sim, r, w, all);
        return;
    }
    /* sorted by instance id; render only the page */
    size_t n = x->n;
    uint32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
    if (!ids) {
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (lma < 0 || (x->v[i].gen == x->gen) == (lma == 1))
            ids[k++] = x->v[i].id;
    qsort(ids, k, sizeof(*ids), cmp_u32);
    size_t off = as_page_offset(r), ps = as_page_size(sim);
    json_t *page = json_array();
    for (size_t i = off; i < k && i < off + ps; i++) {
        char iid[16];
        snprintf(iid, sizeof(iid), "%u", ids[i]);
        struct inst *in = find_inst(x, iid);
        if (in)
            json_array_append_new(page, render_inst(sim, e, x, in, expand));
    }
    free(ids);
    as_resp_list(sim, r, w, page, off + ps < k ? off + ps : 0);
}

static void h_vmss_vm(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    struct vx *x;
    struct as_res *e = vmss_lookup(sim, r, w, &x);
    if (!e)
        return;
    const char *iid = as_param(r, "iid");
    char nm[300];
    snprintf(nm, sizeof(nm), "%s/%s", as__jstr(e->body, "name"), iid);
    if (is_flexible(e->body)) {
        /* Flexible: the instance id is the member VM's name */
        char vid[AS_ID_MAX];
        vm_id_of(r, iid, vid, sizeof(vid));
        struct as_res *vm = as_store_get(sim, vid);
        if (!vm || !vm_in_vmss(vm->body, e->id)) {
            if (strcmp(r->method, "DELETE") == 0)
                as_resp_empty(w, 204);
            else
                as_resp_not_found(w, "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
                                  nm, as_param(r, "rg"));
            return;
        }
        const char *act = as_param(r, "action");
        if (strcmp(r->method, "DELETE") == 0) {
            if (!vm_deleting(vm->body))
                flex_delete_vm(sim, vm, sim->cfg.provision_ms / 2);
            struct as_lro l = {.style = AS_LRO_BOTH,
                               .status = 202,
                               .duration_ms = sim->cfg.provision_ms / 2,
                               .provider = "Microsoft.Compute",
                               .location = provider_loc(e->body),
                               .final_status = 204};
            as_lro_begin(sim, r, w, &l, NULL);
            return;
        }
        if (act && strcasecmp(act, "instanceView") == 0 && strcmp(r->method, "GET") == 0) {
            json_t *b = render_vm(sim, vm, true);
            as_resp_json(
                w, 200,
                json_incref(json_object_get(json_object_get(b, "properties"), "instanceView")));
            json_decref(b);
            return;
        }
        if (act) {
            as_resp_error(w, 400, "OperationNotAllowed", NULL,
                          "Operation '%s' on a Flexible scale set member: use the virtual "
                          "machine APIs.",
                          act);
            return;
        }
        const char *ex = as_query(r, "$expand");
        json_t *b = render_vm(sim, vm, ex && strcasestr(ex, "instanceView"));
        json_object_set_new(b, "instanceId", json_string(as__jstr(vm->body, "name")));
        as_resp_json(w, 200, b);
        return;
    }
    struct inst *in = find_inst(x, iid);
    if (!in) {
        if (strcmp(r->method, "DELETE") == 0) {
            as_resp_empty(w, 204);
            return;
        }
        as_resp_not_found(w, "Microsoft.Compute/virtualMachineScaleSets/virtualMachines", nm,
                          as_param(r, "rg"));
        return;
    }
    const char *sub = as_param(r, "sub");
    (void)sub;
    if (strcmp(r->method, "DELETE") == 0) {
        if (in->state != ST_DELETING) {
            in->state = ST_DELETING;
            in->busy_until = r->now_ms + sim->cfg.provision_ms / 2;
        }
        sync_capacity(sim, e, x);
        struct as_lro l = {.style = AS_LRO_BOTH,
                           .status = 202,
                           .duration_ms = in->busy_until - r->now_ms,
                           .resource_id = NULL,
                           .provider = "Microsoft.Compute",
                           .location = provider_loc(e->body),
                           .final_status = 204};
        as_lro_begin(sim, r, w, &l, NULL);
        return;
    }
    const char *act = as_param(r, "action");
    if (act) {
        if (strcasecmp(act, "instanceView") == 0 && strcmp(r->method, "GET") == 0) {
            as_resp_json(w, 200,
                         instance_view(sim, state_name(in->state), in->fail,
                                       in->flags & F_UNHEALTHY, in->created_ms));
            return;
        }
        if (strcmp(r->method, "POST") != 0) {
            as_resp_error(w, 405, "MethodNotAllowed", NULL, "Use POST for '%s'.", act);
            return;
        }
        if (strcasecmp(act, "reimage") == 0 || strcasecmp(act, "reimageall") == 0 ||
            strcasecmp(act, "redeploy") == 0) {
            in->state = ST_UPDATING;
            in->flags &= (uint8_t)~F_UNHEALTHY;
            in->busy_until = r->now_ms + sim->cfg.provision_ms / 2;
        }
        struct as_lro l = {.style = AS_LRO_BOTH,
                           .status = 202,
                           .duration_ms = sim->cfg.provision_ms / 2,
                           .provider = "Microsoft.Compute",
                           .location = provider_loc(e->body),
                           .final_status = 204};
        as_lro_begin(sim, r, w, &l, NULL);
        return;
    }
    const char *ex = as_query(r, "$expand");
    as_resp_json(w, 200, render_inst(sim, e, x, in, ex && strcasestr(ex, "instanceView")));
}

static void h_vmss_iv(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    struct vx *x;
    struct as_res *e = vmss_lookup(sim, r, w, &x);
    if (!e)
        return;
    size_t cnt[5] = {0};
    for (size_t i = 0; i < x->n; i++)
        cnt[x->v[i].state]++;
    json_t *sum = json_array();
    for (int s = 0; s < 5; s++) {
        if (!cnt[s])
            continue;
        char code[64], lo[32];
        lower(state_name((uint8_t)s), lo, sizeof(lo));
        snprintf(code, sizeof(code), "ProvisioningState/%s", lo);
        json_array_append_new(sum,
                              json_pack("{s:s, s:I}", "code", code, "count", (json_int_t)cnt[s]));
    }
    const char *ps = as__jstr(json_object_get(e->body, "properties"), "provisioningState");
    char code[64], lo[32], ts[48];
    lower(ps ? ps : "Succeeded", lo, sizeof(lo));
    snprintf(code, sizeof(code), "ProvisioningState/%s", lo);
    as_time_format(r->now_ms, ts, sizeof(ts));
    as_resp_json(w, 200,
                 json_pack("{s:{s:o}, s:[], s:[o]}", "virtualMachine", "statusesSummary", sum,
                           "extensions", "statuses",
                           status_obj(code, "Info", ps ? ps : "Succeeded", ts)));
}

/* POST .../virtualMachineScaleSets/{vmss}/{action} with {"instanceIds": [...]} */
static void h_vmss_action(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    struct vx *x;
    struct as_res *e = vmss_lookup(sim, r, w, &x);
    if (!e)
        return;
    if (r->body_bad_json) {
        need_body(r, w);
        return;
    }
    const char *act = as_param(r, "action");
    if (!act)
        act = r->seg[r->nseg - 1];
    bool del = strcasecmp(act, "delete") == 0, up = strcasecmp(act, "manualupgrade") == 0;
    bool reimage = strcasecmp(act, "reimage") == 0 || strcasecmp(act, "reimageall") == 0;
    static const char *const known[] = {"delete",   "manualupgrade",     "reimage",  "reimageall",
                                        "start",    "restart",           "powerOff", "deallocate",
                                        "redeploy", "performMaintenance"};
    bool ok = false;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        ok |= strcasecmp(act, known[i]) == 0;
    if (!ok) {
        as_resp_error(w, 404, "InvalidResourceType", NULL,
                      "The resource type 'virtualMachineScaleSets/%s' could not be found.", act);
        return;
    }
    json_t *ids = json_object_get(r->json, "instanceIds");
    if (ids && !json_is_array(ids)) {
        as_resp_error(w, 400, "InvalidParameter", "instanceIds",
                      "The value of parameter instanceIds is invalid.");
        return;
    }
    if ((del || up) && json_array_size(ids) == 0) {
        as_resp_error(w, 400, "InvalidParameter", "instanceIds",
                      "Required parameter 'instanceIds' is missing (null).");
        return;
    }
    bool flex = is_flexible(e->body);
    size_t i;
    json_t *v;
    /* validate every id first: the operation is all or nothing */
    json_array_foreach(ids, i, v)
    {
        const char *iid = json_string_value(v);
        bool found = false;
        if (iid && flex) {
            char vid[AS_ID_MAX];
            vm_id_of(r, iid, vid, sizeof(vid));
            struct as_res *vm = as_store_get(sim, vid);
            found = vm && vm_in_vmss(vm->body, e->id) && !vm_deleting(vm->body);
        } else if (iid) {
            struct inst *in = find_inst(x, iid);
            found = in && in->state != ST_DELETING;
        }
        if (!found) {
            as_resp_error(w, 400, "InvalidParameter", "instanceIds",
                          "The provided instanceId %s is not an active Virtual Machine Scale Set "
                          "VM instanceId.",
                          iid ? iid : "(non-string)");
            return;
        }
    }
    int64_t half = sim->cfg.provision_ms / 2;
    const char *force = as_query(r, "forceDeletion");
    if (del && force && strcasecmp(force, "true") == 0)
        half /= 2;
    if (flex) {
        json_array_foreach(ids, i, v)
        {
            char vid[AS_ID_MAX];
            vm_id_of(r, json_string_value(v), vid, sizeof(vid));
            struct as_res *vm = as_store_get(sim, vid);
            if (!vm)
                continue;
            if (del)
                flex_delete_vm(sim, vm, half);
            else if (reimage || up) {
                json_object_set_new(json_object_get(vm->body, "properties"), "provisioningState",
                                    json_string("Updating"));
                as_sched_at(sim, r->now_ms + half, "compute.vm_ready", vm->id, NULL);
            }
        }
    } else {
        for (size_t k = 0; k < x->n; k++) {
            struct inst *in = &x->v[k];
            if (in->state == ST_DELETING)
                continue;
            bool sel = json_array_size(ids) == 0;
            char iid[16];
            snprintf(iid, sizeof(iid), "%u", in->id);
            json_array_foreach(ids, i, v) if (json_is_string(v) &&
                                              strcmp(json_string_value(v), iid) == 0) sel = true;
            if (!sel)
                continue;
            if (del) {
                in->state = ST_DELETING;
                in->busy_until = r->now_ms + half;
            } else if (up || reimage) {
                if (up)
                    in->gen = x->gen;
                in->state = ST_UPDATING;
                in->flags &= (uint8_t)~F_UNHEALTHY;
                in->busy_until = r->now_ms + half;
            }
        }
    }
    sync_capacity(sim, e, x);
    struct as_lro l = {.style = AS_LRO_BOTH,
                       .status = 202,
                       .duration_ms = half,
                       .provider = "Microsoft.Compute",
                       .location = provider_loc(e->body),
                       .final_status = 204};
    as_lro_begin(sim, r, w, &l, NULL);
}

/* VMSS extensions live in the model: virtualMachineProfile.extensionProfile.extensions[]. */
static json_t *vmss_ext_render(struct as_res *e, json_t *ext)
{
    char id[AS_ID_MAX];
    const char *n = as__jstr(ext, "name");
    snprintf(id, sizeof(id), "%s/extensions/%s", e->id, n ? n : "");
    json_t *p = json_deep_copy(json_object_get(ext, "properties"));
    if (!json_is_object(p)) {
        json_decref(p);
        p = json_object();
    }
    if (!json_object_get(p, "provisioningState"))
        json_object_set_new(p, "provisioningState", json_string("Succeeded"));
    return json_pack("{s:s, s:s?, s:s, s:o}", "id", id, "name", n, "type",
                     "Microsoft.Compute/virtualMachineScaleSets/extensions", "properties", p);
}

static void h_vmss_ext(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    struct vx *x;
    struct as_res *e = vmss_lookup(sim, r, w, &x);
    if (!e)
        return;
    json_t *vmp = jpath(e->body, "properties", "virtualMachineProfile", NULL);
    json_t *ep = json_object_get(vmp, "extensionProfile");
    json_t *list = json_object_get(ep, "extensions");
    const char *name = as_param(r, "name");
    if (!name) {
        json_t *all = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) json_array_append_new(all, vmss_ext_render(e, v));
        as_resp_list_all(sim, r, w, all);
        return;
    }
    size_t i, found = (size_t)-1;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *n = as__jstr(v, "name");
        if (n && strcasecmp(n, name) == 0)
            found = i;
    }
    if (strcmp(r->method, "GET") == 0) {
        if (found == (size_t)-1) {
            char nm[300];
            snprintf(nm, sizeof(nm), "%s/extensions/%s", as__jstr(e->body, "name"), name);
            as_resp_not_found(w, "Microsoft.Compute/virtualMachineScaleSets", nm,
                              as_param(r, "rg"));
            return;
        }
        as_resp_json(w, 200, vmss_ext_render(e, json_array_get(list, found)));
        return;
    }
    if (strcmp(r->method, "DELETE") == 0) {
        if (found == (size_t)-1) {
            as_resp_empty(w, 204);
            return;
        }
        json_array_remove(list, found);
    } else if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "PATCH") == 0) {
        if (!need_body(r, w))
            return;
        if (!json_is_object(vmp)) {
            as_resp_error(w, 400, "InvalidParameter", "virtualMachineProfile",
                          "The scale set has no virtualMachineProfile.");
            return;
        }
        if (!json_is_object(ep)) {
            ep = json_object();
            json_object_set_new(vmp, "extensionProfile", ep);
        }
        if (!json_is_array(list)) {
            list = json_array();
            json_object_set_new(ep, "extensions", list);
        }
        json_t *props = json_object_get(r->json, "properties");
        json_t *item;
        if (found != (size_t)-1 && strcmp(r->method, "PATCH") == 0) {
            item = json_array_get(list, found);
            if (json_is_object(props))
                as__merge_patch(json_object_get(item, "properties"), props);
        } else {
            item = json_pack("{s:s, s:O}", "name", name, "properties",
                             json_is_object(props) ? props : json_object());
            if (found != (size_t)-1)
                json_array_set_new(list, found, item);
            else
                json_array_append_new(list, item);
        }
    } else {
        as_resp_error(w, 405, "MethodNotAllowed", NULL, "Method %s is not allowed.", r->method);
        return;
    }
    /* the model changed: a new generation, existing instances become stale */
    x->gen++;
    record_image(x, e->body);
    e->etag++;
    json_t *body = NULL;
    if (strcmp(r->method, "DELETE") != 0) {
        json_array_foreach(list, i, v)
        {
            const char *n = as__jstr(v, "name");
            if (n && strcasecmp(n, name) == 0)
                body = vmss_ext_render(e, v);
        }
    }
    struct as_lro l = {.style = AS_LRO_ASYNC,
                       .status = strcmp(r->method, "DELETE") == 0 ? 202
                                 : found == (size_t)-1            ? 201
                                                                  : 200,
                       .duration_ms = sim->cfg.provision_ms / 3,
                       .resource_id = NULL,
                       .provider = "Microsoft.Compute",
                       .location = provider_loc(e->body),
                       .final_status = 204};
    as_lro_begin(sim, r, w, &l, body);
}

/* ---------------------------------------------------------------- admin */

/* Finds a VMSS instance from ".../virtualMachineScaleSets/{v}/virtualMachines/{iid}". */
static struct inst *admin_inst(struct armsim *sim, const char *id)
{
    char vmss[AS_ID_MAX];
    snprintf(vmss, sizeof(vmss), "%s", id);
    char *p = strcasestr(vmss, "/virtualMachines/");
    if (!p || !strcasestr(vmss, "/virtualMachineScaleSets/"))
        return NULL;
    const char *iid = p + strlen("/virtualMachines/");
    char iidb[32];
    snprintf(iidb, sizeof(iidb), "%s", iid);
    *p = 0;
    struct as_res *e = as_store_get(sim, vmss);
    struct vx *x = e ? vx_get(sim, e->id, false) : NULL;
    if (!x)
        return NULL;
    settle(x, as_now(sim));
    return find_inst(x, iidb);
}

static void h_admin_state(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    const char *id = as__jstr(r->json, "id"), *state = as__jstr(r->json, "state");
    const char *code = as__jstr(r->json, "code");
    if (!id || !state) {
        as_resp_error(w, 400, "InvalidParameter", NULL,
                      "body needs \"id\" and \"state\" (failed|unhealthy|healthy|running)");
        return;
    }
    bool failed = strcmp(state, "failed") == 0, unhealthy = strcmp(state, "unhealthy") == 0;
    bool healthy = strcmp(state, "healthy") == 0, running = strcmp(state, "running") == 0;
    if (!failed && !unhealthy && !healthy && !running) {
        as_resp_error(w, 400, "InvalidParameter", "state",
                      "state must be failed, unhealthy, healthy or running");
        return;
    }
    struct inst *in = admin_inst(sim, id);
    if (in) {
        if (failed) {
            in->state = ST_FAILED;
            in->fail = fail_code_idx(sim, code ? code : "AllocationFailed");
        } else if (unhealthy) {
            in->flags |= F_UNHEALTHY;
        } else {
            in->flags &= (uint8_t)~F_UNHEALTHY;
            if (running)
                in->state = ST_RUNNING;
        }
        as_resp_json(w, 200, json_pack("{s:s, s:s}", "id", id, "state", state));
        return;
    }
    struct as_res *e = as_store_get(sim, id);
    if (!e) {
        as_resp_error(w, 404, "NotFound", NULL, "no VM or VMSS instance '%s'", id);
        return;
    }
    json_t *priv = json_object_get(e->body, "_as");
    if (!json_is_object(priv)) {
        priv = json_object();
        json_object_set_new(e->body, "_as", priv);
    }
    json_t *props = json_object_get(e->body, "properties");
    if (failed) {
        json_object_set_new(priv, "failCode", json_string(code ? code : "AllocationFailed"));
        json_object_set_new(props, "provisioningState", json_string("Failed"));
    } else if (unhealthy) {
        json_object_set_new(priv, "unhealthy", json_true());
    } else {
        json_object_del(priv, "unhealthy");
        if (running) {
            json_object_del(priv, "failCode");
            json_object_set_new(props, "provisioningState", json_string("Succeeded"));
        }
    }
    as_resp_json(w, 200, json_pack("{s:s, s:s}", "id", e->id, "state", state));
}

static void h_admin_backdate(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    const char *id = as__jstr(r->json, "id");
    json_t *age = json_object_get(r->json, "ageSeconds");
    const char *tc = as__jstr(r->json, "timeCreated");
    int64_t when;
    if (json_is_number(age)) {
        when = as_now(sim) - (int64_t)(json_number_value(age) * 1000);
    } else if (tc) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        if (!strptime(tc, "%Y-%m-%dT%H:%M:%S", &tm)) {
            as_resp_error(w, 400, "InvalidParameter", "timeCreated",
                          "timeCreated must be RFC 3339 (2026-11-23T10:00:00Z)");
            return;
        }
        when = (int64_t)timegm(&tm) * 1000;
    } else {
        as_resp_error(w, 400, "InvalidParameter", NULL,
                      "body needs \"id\" and \"timeCreated\" or \"ageSeconds\"");
        return;
    }
    if (!id) {
        as_resp_error(w, 400, "InvalidParameter", "id", "body needs \"id\"");
        return;
    }
    char ts[48];
    as_time_format(when, ts, sizeof(ts));
    struct inst *in = admin_inst(sim, id);
    if (in) {
        in->created_ms = when;
    } else {
        struct as_res *e = as_store_get(sim, id);
        if (!e) {
            as_resp_error(w, 404, "NotFound", NULL, "no resource '%s'", id);
            return;
        }
        e->created_ms = when;
        json_t *props = json_object_get(e->body, "properties");
        if (json_is_object(props))
            json_object_set_new(props, "timeCreated", json_string(ts));
    }
    as_resp_json(w, 200, json_pack("{s:s, s:s}", "id", id, "timeCreated", ts));
}

/* POST /_armsim/compute/failnext {"count":N,"code":"AllocationFailed"}: the next N VMs or scale
 * set instances created end their provisioning Failed with that code (a VM's create LRO fails). */
static void h_admin_failnext(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    struct cstate *c = cs(sim);
    json_t *n = json_object_get(r->json, "count");
    const char *code = as__jstr(r->json, "code");
    if (!json_is_integer(n) || json_integer_value(n) < 0 || json_integer_value(n) > 100000 ||
        (code && (strlen(code) == 0 || strlen(code) >= sizeof(c->fail_next_code)))) {
        as_resp_error(w, 400, "InvalidParameter", NULL,
                      "body needs \"count\" (0..100000) and optionally \"code\" (< 64 chars)");
        return;
    }
    c->fail_next = (int)json_integer_value(n);
    snprintf(c->fail_next_code, sizeof(c->fail_next_code), "%s", code ? code : "AllocationFailed");
    as_resp_json(w, 200, json_pack("{s:i, s:s}", "count", c->fail_next, "code", c->fail_next_code));
}

/* GET|POST /_armsim/compute/quota {"instances":N}: at most N live VMs + scale set instances
 * (-1 = unlimited, the default); creates beyond it get 409 OperationNotAllowed (quota text). */
static void h_admin_quota(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    struct cstate *c = cs(sim);
    if (strcmp(r->method, "POST") == 0) {
        json_t *n = json_object_get(r->json, "instances");
        if (!json_is_integer(n) || json_integer_value(n) < -1 || json_integer_value(n) > 10000000) {
            as_resp_error(w, 400, "InvalidParameter", "instances",
                          "body needs \"instances\": an integer >= -1");
            return;
        }
        c->quota = (long)json_integer_value(n);
    }
    as_resp_json(w, 200,
                 json_pack("{s:I, s:I}", "instances", (json_int_t)c->quota, "usage",
                           (json_int_t)usage(sim)));
}

/* ---------------------------------------------------------------- snapshot */

static json_t *c_save(struct armsim *sim)
{
    json_t *o = json_object();
    size_t it = 0;
    const char *k;
    void *v;
    while (as_map_next(cs(sim)->vmss, &it, &k, &v)) {
        struct vx *x = v;
        json_t *inst = json_array();
        for (size_t i = 0; i < x->n; i++) {
            struct inst *in = &x->v[i];
            json_array_append_new(inst, json_pack("[i, i, I, I, i, i, s]", (int)in->id,
                                                  (int)in->gen, (json_int_t)in->created_ms,
                                                  (json_int_t)in->busy_until, (int)in->state,
                                                  (int)in->flags, fail_code(sim, in->fail)));
        }
        json_object_set_new(o, k,
                            json_pack("{s:i, s:i, s:O, s:o}", "next", (int)x->next_id, "gen",
                                      (int)x->gen, "images", x->images, "inst", inst));
    }
    return o;
}

static void c_reset(struct armsim *sim)
{
    struct cstate *c = cs(sim);
    as_map_free(c->vmss, vx_free);
    c->vmss = as_map_new();
}

static void c_load(struct armsim *sim, json_t *saved)
{
    const char *k;
    json_t *v;
    json_object_foreach(saved, k, v)
    {
        struct vx *x = vx_get(sim, k, true);
        if (!x)
            continue;
        x->next_id = (uint32_t)json_integer_value(json_object_get(v, "next"));
        x->gen = (uint32_t)json_integer_value(json_object_get(v, "gen"));
        if (json_is_object(json_object_get(v, "images")))
            json_object_update(x->images, json_object_get(v, "images"));
        size_t i;
        json_t *a;
        json_t *arr = json_object_get(v, "inst");
        x->n = 0;
        x->cap = json_array_size(arr) + 1;
        x->v = calloc(x->cap, sizeof(*x->v));
        if (!x->v) {
            x->cap = 0;
            continue;
        }
        json_array_foreach(arr, i, a)
        {
            struct inst *in = &x->v[x->n++];
            in->id = (uint32_t)json_integer_value(json_array_get(a, 0));
            in->gen = (uint32_t)json_integer_value(json_array_get(a, 1));
            in->created_ms = json_integer_value(json_array_get(a, 2));
            in->busy_until = json_integer_value(json_array_get(a, 3));
            in->state = (uint8_t)json_integer_value(json_array_get(a, 4));
            in->flags = (uint8_t)json_integer_value(json_array_get(a, 5));
            const char *fc = json_string_value(json_array_get(a, 6));
            in->fail = fail_code_idx(sim, fc ? fc : "InternalError");
            if (in->state > ST_FAILED)
                in->state = ST_RUNNING;
        }
    }
}

static void c_free_all(void *p)
{
    struct cstate *c = p;
    if (!c)
        return;
    as_map_free(c->vmss, vx_free);
    for (int i = 0; i < c->nfail; i++)
        free(c->fail_codes[i]);
    free(c);
}

/* ---------------------------------------------------------------- init */

void sim_compute_init(struct armsim *sim)
{
    struct cstate *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->vmss = as_map_new();
    c->quota = -1;
    sim->compute = c;
    ext_type.provision_ms = sim->cfg.provision_ms / 3;
    const char *V = AS_APIV_COMPUTE, *N = AS_APIV_NETWORK;
    static const char disk_v[] = "2024-03-02 2023-10-02 2023-04-02 2022-07-02 2023-01-02 "
                                 "2024-11-01 2022-08-01";
    as_sched_handler(sim, "compute.vm_ready", sched_vm_ready);
    as_sched_handler(sim, "compute.vm_gone", sched_vm_gone);
    as_sched_handler(sim, "compute.vmss_ready", sched_vmss_ready);
    as_sched_handler(sim, "compute.vmss_gone", sched_vmss_gone);
    as_snapshot_hook(sim, "compute", c_save, c_load, c_reset);
    sim->compute_free = c_free_all;

    /* scale sets */
    as_route(sim, "GET", BASE "/virtualMachineScaleSets", h_vmss_list, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "HighCostGetVMScaleSet");
    as_route(sim, "GET", "/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachineScaleSets",
             h_vmss_list, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "HighCostGetVMScaleSet");
    as_route(sim, "GET", BASE "/virtualMachineScaleSets/{vmss}", h_vmss, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "LowCostGetVMScaleSet");
    as_route(sim, "PUT", BASE "/virtualMachineScaleSets/{vmss}", h_vmss, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "PutVMScaleSet");
    as_route(sim, "PATCH", BASE "/virtualMachineScaleSets/{vmss}", h_vmss, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "UpdateVMScaleSet");
    as_route(sim, "DELETE", BASE "/virtualMachineScaleSets/{vmss}", h_vmss, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "DeleteVMScaleSet");
    as_route(sim, "GET", BASE "/virtualMachineScaleSets/{vmss}/instanceView", h_vmss_iv, AS_ARM, V,
             NULL);
    as_route_compute_policy(sim, "HighCostGetVMScaleSet");
    as_route(sim, "GET", BASE "/virtualMachineScaleSets/{vmss}/virtualMachines", h_vmss_vms, AS_ARM,
             V, NULL);
    as_route_compute_policy(sim, "GetVMScaleSetVMs");
    as_route(sim, "POST", BASE "/virtualMachineScaleSets/{vmss}/delete", h_vmss_action, AS_ARM, V,
             NULL);
    as_route_compute_policy(sim, "DeleteVMScaleSetVMs");
    as_route(sim, "POST", BASE "/virtualMachineScaleSets/{vmss}/{action}", h_vmss_action, AS_ARM, V,
             NULL);
    as_route_compute_policy(sim, "UpdateVMScaleSet");
    as_route(sim, "GET", BASE "/virtualMachineScaleSets/{vmss}/virtualMachines/{iid}", h_vmss_vm,
             AS_ARM, V, NULL);
    as_route_compute_policy(sim, "GetVMScaleSetVMs");
    as_route(sim, "DELETE", BASE "/virtualMachineScaleSets/{vmss}/virtualMachines/{iid}", h_vmss_vm,
             AS_ARM, V, NULL);
    as_route_compute_policy(sim, "DeleteVMScaleSetVMs");
    as_route(sim, "GET", BASE "/virtualMachineScaleSets/{vmss}/virtualMachines/{iid}/{action}",
             h_vmss_vm, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "GetVMScaleSetVMs");
    as_route(sim, "POST", BASE "/virtualMachineScaleSets/{vmss}/virtualMachines/{iid}/{action}",
             h_vmss_vm, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "UpdateVMScaleSetVMs");

    as_route(sim, "GET", BASE "/virtualMachineScaleSets/{vmss}/extensions", h_vmss_ext, AS_ARM, V,
             NULL);
    as_route_compute_policy(sim, "LowCostGetVMScaleSet");
    as_route(sim, "GET", BASE "/virtualMachineScaleSets/{vmss}/extensions/{name}", h_vmss_ext,
             AS_ARM, V, NULL);
    as_route_compute_policy(sim, "LowCostGetVMScaleSet");
    as_route(sim, "*", BASE "/virtualMachineScaleSets/{vmss}/extensions/{name}", h_vmss_ext, AS_ARM,
             V, NULL);
    as_route_compute_policy(sim, "UpdateVMScaleSet");

    /* virtual machines */
    as_route(sim, "GET", BASE "/virtualMachines", h_vm_list, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "HighCostGetVM");
    as_route(sim, "GET", "/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines",
             h_vm_list, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "HighCostGetVM");
    as_route(sim, "GET", BASE "/virtualMachines/{name}", h_vm, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "LowCostGetVM");
    as_route(sim, "PUT", BASE "/virtualMachines/{name}", h_vm, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "PutVM");
    as_route(sim, "PATCH", BASE "/virtualMachines/{name}", h_vm, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "UpdateVM");
    as_route(sim, "DELETE", BASE "/virtualMachines/{name}", h_vm, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "DeleteVM");
    as_route(sim, "GET", BASE "/virtualMachines/{name}/instanceView", h_vm_iv, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "LowCostGetVM");
    as_route(sim, "GET", BASE "/virtualMachines/{vm}/extensions", as_generic_handler, AS_ARM, V,
             &ext_type);
    as_route_compute_policy(sim, "LowCostGetVM");
    as_route(sim, "GET", BASE "/virtualMachines/{vm}/extensions/{name}", as_generic_handler, AS_ARM,
             V, &ext_type);
    as_route_compute_policy(sim, "LowCostGetVM");
    as_route(sim, "*", BASE "/virtualMachines/{vm}/extensions/{name}", as_generic_handler, AS_ARM,
             V, &ext_type);
    as_route_compute_policy(sim, "UpdateVM");
    as_route(sim, "POST", BASE "/virtualMachines/{name}/{action}", h_vm_action, AS_ARM, V, NULL);
    as_route_compute_policy(sim, "UpdateVM");

    /* disks and NICs */
    as_route(sim, "GET", BASE "/disks", as_generic_handler, AS_ARM, disk_v, &disk_type);
    as_route(sim, "*", BASE "/disks/{name}", as_generic_handler, AS_ARM, disk_v, &disk_type);
    nic_type.fill = nic_fill;
    as_route(sim, "GET", NBASE "/networkInterfaces", as_generic_handler, AS_ARM, N, &nic_type);
    as_route(sim, "*", NBASE "/networkInterfaces/{name}", as_generic_handler, AS_ARM, N, &nic_type);

    /* admin */
    as_route(sim, "POST", "/_armsim/compute/state", h_admin_state, AS_ADMIN, NULL, NULL);
    as_route(sim, "POST", "/_armsim/fail", h_admin_state, AS_ADMIN, NULL, NULL);
    as_route(sim, "POST", "/_armsim/compute/backdate", h_admin_backdate, AS_ADMIN, NULL, NULL);
    as_route(sim, "POST", "/_armsim/backdate", h_admin_backdate, AS_ADMIN, NULL, NULL);
    as_route(sim, "POST", "/_armsim/compute/failnext", h_admin_failnext, AS_ADMIN, NULL, NULL);
    as_route(sim, "*", "/_armsim/compute/quota", h_admin_quota, AS_ADMIN, NULL, NULL);
}
