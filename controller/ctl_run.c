/* ctl_run.c - see ctl_run.h. */
#include "ctl_run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "az.h"
#include "az_arm.h"
#include "az_cred.h"
#include "ctl_int.h"
#include "ctl_source.h"
#include "ctl_tz.h"
#include "evq.h"
#include "exec.h"
#include "http.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "rc_arm.h"
#include "rc_model.h"
#include "rc_observed.h"
#include "rc_plan.h"
#include "rc_util.h"
#include "signals.h"
#include "src_dir.h"
#include "wq.h"

#define RECONCILES_MAX    16
#define OBSERVE_STEPS_MAX 64
#define SECRET_MAX        (1024 * 1024)
#define STATE_FILE_MAX    (4 * 1024 * 1024)

struct cloud {
    const char *name, *authority, *arm;
};

static const struct cloud clouds[] = {
    {"AzureCloud", "https://login.microsoftonline.com", "https://management.azure.com"},
    {"AzureChinaCloud", "https://login.chinacloudapi.cn", "https://management.chinacloudapi.cn"},
    {"AzureUSGovernment", "https://login.microsoftonline.us",
     "https://management.usgovcloudapi.net"},
};

/* A manifest file and its last good text. */
struct mfile {
    char *path;
    char *text; /* last good version, NULL when never valid */
    size_t len;
    bool present; /* in the tree at the last reload */
    bool changed; /* its last good text, or its presence, changed at this reload */
    int n_errors; /* of the current version */
};

/* A small set of instance names (busy by tag, finished jobs). */
struct names {
    char **v;
    size_t n;
};

static bool names_has(const struct names *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return true;
    return false;
}

static int names_add(struct names *s, const char *name)
{
    char **v;

    if (names_has(s, name))
        return 0;
    v = realloc(s->v, (s->n + 1) * sizeof(*v));
    if (!v)
        return -RC_ENOMEM;
    s->v = v;
    if (!(v[s->n] = strdup(name)))
        return -RC_ENOMEM;
    s->n++;
    return 0;
}

static void names_clear(struct names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* What the controller remembers of a pool between reconciles. The facts below
 * status are the planner's hand-offs (rc_plan.c header): they live outside ARM,
 * so they come back in every reconcile as rc_obs_pool and survive a restart
 * through --state-dir. */
struct pstate {
    char *pool;           /* "ns/name" */
    char *status;         /* Kubernetes-shaped object for /api, compact JSON text (a
                             json_t of 10 instances takes ~12 KB, its text ~3 KB) */
    bool gone;            /* deleting and nothing left in Azure */
    char *halted_image;   /* status.halted_image: a halted rollout (VirtualMachines mode) */
    int desired_replicas; /* status.desiredReplicas, -1 unknown */
    int64_t last_scale_ms, last_scale_out_ms, last_scale_in_ms; /* 0: never */
    char *saved;           /* the state file's text as last written, NULL: not written */
    int64_t poll_ms;       /* operations accepted, not followed (exec.h): look again this often
                              while instances are in transition; 0: CTL_PROGRESS_POLL_MS */
    int64_t busy_since_ms; /* writes deferred since (wall ms) for a scale set's running
                              operation (scale_set_busy); 0: none */
    int64_t busy_unknown_since_ms; /* deletes/reimages deferred since (wall ms) for a
                                      busy source never read; 0: none */
    char *failure;         /* the last failed action's error ("<key>: <message>") until a plan
                              applies cleanly: status Degraded True, reason ActionFailed */
    struct names tag_busy; /* busy: {tag: {}}: instances busy at the last plan */
    struct names tag_done; /* ... busy then, idle now: job_done for the next plan */
};

struct ctl {
    const struct ctl_opts *o;
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    uv_timer_t tick, resync, reload;
    struct http *http;
    struct az_cred *cred;
    struct az_cred *storage_cred; /* scope https://storage.azure.com/.default */
    struct signals *sig;
    struct evq *evq;
    struct az_arm *arm;
    struct az_ops ops;
    struct exec *exec;
    struct httpd *httpd;
    struct src_dir *src;
    struct wq *wq;
    struct azpool_metrics met;
    struct rc_desired want;
    struct ctl_zones zones;
    struct mfile *files;
    size_t n_files;
    struct pstate *pools;
    size_t n_pools;
    size_t active;
    uint64_t rid;
    struct ctl_backend be; /* all NULL in GitOps mode */
    bool synced;
    bool standby; /* not the leader: no reconcile starts */
    bool stopping;
};

enum step_kind {
    STEP_OBSERVE = 0, /* feed the body to rc_observe_arm */
    STEP_JOBS,        /* a job list: GET the jobs of this pool's VMs (see below) */
    STEP_ACCOUNT,     /* the Automation account: remember automationHybridServiceUrl */
    STEP_VMS,         /* a VM list: observe it, then list each pool VM's extensions */
};

struct step {
    bool list;
    enum step_kind kind;
    bool optional_parent; /* skip the rest when this GET is 404 (no scale set yet) */
    char path[RC_ARM_ID_MAX + 64];
    const char *api;
};

struct rec {
    struct ctl *c;
    char key[WQ_KEY_MAX];
    char pool[300];
    char rid[20];
    struct step steps[OBSERVE_STEPS_MAX];
    size_t n_steps, cur;
    struct rc_observed have;
    char *hybrid_url; /* automationHybridServiceUrl of the pool's account */
    uint64_t t0;
    int sig_flags; /* signals_fill's SIGNALS_* flags */
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- logging helpers ---- */

static void log_errs(const struct rc_errs *errs, const char *event)
{
    for (size_t i = 0; i < errs->n; i++) {
        const struct rc_err *e = &errs->v[i];
        struct log_line l;
        char msg[RC_ERR_PATH_MAX + RC_ERR_MSG_MAX + 4];

        snprintf(msg, sizeof(msg), "%s%s%s", e->path, e->path[0] ? ": " : "", e->msg);
        log_begin(&l, LOG_WARN, wall_ms(), event);
        log_str(&l, "file", e->file);
        log_int(&l, "line", e->line);
        log_int(&l, "col", e->col);
        log_str(&l, "err", msg);
        log_end(&l);
    }
}

/* ---- pool state ---- */

static struct pstate *pstate(struct ctl *c, const char *pool, bool create)
{
    struct pstate *v;

    for (size_t i = 0; i < c->n_pools; i++)
        if (strcmp(c->pools[i].pool, pool) == 0)
            return &c->pools[i];
    if (!create)
        return NULL;
    v = realloc(c->pools, (c->n_pools + 1) * sizeof(*v));
    if (!v)
        return NULL;
    c->pools = v;
    memset(&v[c->n_pools], 0, sizeof(v[0]));
    v[c->n_pools].pool = strdup(pool);
    if (!v[c->n_pools].pool)
        return NULL;
    v[c->n_pools].desired_replicas = -1;
    return &v[c->n_pools++];
}

/* ---- remembered facts and the state directory ---- */

static bool safe_part(const char *s);
static struct mfile *mfile(struct ctl *c, const char *path);

/* The planner's hand-offs from this plan's status (rc_plan.c header). A new
 * last_scale_ms is a scaling decision: it went out when the decided size grew,
 * in when it shrank. */
static void remember(struct pstate *ps, const struct rc_pool_status *st)
{
    if (st->last_scale_ms > ps->last_scale_ms) {
        if (ps->desired_replicas >= 0 && st->desired_replicas > ps->desired_replicas)
            ps->last_scale_out_ms = st->last_scale_ms;
        else if (ps->desired_replicas >= 0 && st->desired_replicas < ps->desired_replicas)
            ps->last_scale_in_ms = st->last_scale_ms;
        ps->last_scale_ms = st->last_scale_ms;
    }
    ps->desired_replicas = st->desired_replicas;
    if (!st->halted_image || !ps->halted_image || strcmp(st->halted_image, ps->halted_image)) {
        free(ps->halted_image);
        ps->halted_image = st->halted_image ? strdup(st->halted_image) : NULL;
    }
}

/* Hands the remembered facts of r's pool to the planner. */
static int hand_back(struct ctl *c, const char *pool, struct rc_observed *have)
{
    struct pstate *ps = pstate(c, pool, false);
    struct rc_obs_pool *op;

    if (!ps)
        return 0;
    op = rc_observed_pool(have, pool);
    if (!op)
        return -RC_ENOMEM;
    op->desired_replicas = ps->desired_replicas;
    op->last_scale_ms = ps->last_scale_ms;
    op->last_scale_out_ms = ps->last_scale_out_ms;
    op->last_scale_in_ms = ps->last_scale_in_ms;
    free(op->halted_image);
    op->halted_image = ps->halted_image ? strdup(ps->halted_image) : NULL;
    if (ps->halted_image && !op->halted_image)
        return -RC_ENOMEM;
    if (ps->tag_done.n) { /* finished jobs seen through the busy tag */
        char **v = realloc(op->job_done, (op->n_job_done + ps->tag_done.n) * sizeof(*v));

        if (!v)
            return -RC_ENOMEM;
        op->job_done = v;
        memcpy(v + op->n_job_done, ps->tag_done.v, ps->tag_done.n * sizeof(*v));
        op->n_job_done += ps->tag_done.n;
        free(ps->tag_done.v);
        ps->tag_done.v = NULL;
        ps->tag_done.n = 0;
    }
    return 0;
}

/* Whether o is an instance of pool p (key "ns/name") as the planner counts
 * them: a VM tagged for p (VirtualMachines mode), an instance of p's scale
 * set (ScaleSet mode). */
static bool pool_instance(const struct rc_pool *p, const char *key, const struct rc_obs_instance *o)
{
    char vmss[RC_NAME_MAX + 1];
    const char *slash;

    if (!o->name)
        return false;
    if (p->spec.mode != RC_MODE_SCALESET)
        return !o->scale_set_id && o->own.managed && o->own.pool && strcmp(o->own.pool, key) == 0;
    if (!o->scale_set_id || rc_name_vmss(p->meta.namespace, p->meta.name, vmss, sizeof(vmss)) < 0)
        return false;
    slash = strrchr(o->scale_set_id, '/');
    return slash && strcasecmp(slash + 1, vmss) == 0;
}

/* busy: {tag: {}}: an instance busy by its tag at the last plan and idle now
 * has finished its job (recycleAfterJob), handed to the next plan. Returns
 * whether one was found (then the pool is looked at again at once). Reads the
 * observation, not the status (which lists at most RC_STATUS_INSTANCES_MAX
 * instances); an observation whose list failed changes nothing. */
static bool tag_jobs(struct pstate *ps, const struct rc_pool *p, const char *key,
                     struct rc_observed *have)
{
    struct names now = {0};
    bool found = false;
    const struct rc_obs_pool *op = rc_observed_pool(have, key);

    if (p->spec.busy.kind != RC_SIGNAL_TAG) {
        names_clear(&ps->tag_busy);
        return false;
    }
    if (!op || op->list_failed)
        return false;
    for (size_t i = 0; i < have->n_instances; i++) {
        const struct rc_obs_instance *in = &have->instances[i];

        if (!pool_instance(p, key, in))
            continue;
        if (in->busy)
            names_add(&now, in->name);
        else if (names_has(&ps->tag_busy, in->name) && names_add(&ps->tag_done, in->name) == 0)
            found = true;
    }
    names_clear(&ps->tag_busy);
    ps->tag_busy = now;
    return found;
}

static void log_state_error(const char *event, const char *path, int errnum)
{
    struct log_line l;

    log_begin(&l, LOG_WARN, wall_ms(), event);
    log_str(&l, "path", path);
    log_str(&l, "err", strerror(errnum));
    log_end(&l);
}

/* Writes path atomically: a temporary file next to it, fsync, rename, fsync of
 * the directory. A crash leaves either the old or the new file, never half. */
static int write_atomic(const char *dir, const char *path, const char *text, size_t len)
{
    char tmp[4200];
    size_t off = 0;
    int fd, e;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = errno;
            close(fd);
            unlink(tmp);
            return -e;
        }
        off += (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        e = errno;
        unlink(tmp);
        return -e;
    }
    if (rename(tmp, path) < 0) {
        e = errno;
        unlink(tmp);
        return -e;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

/* D/<namespace> and D/<namespace>/<name>.json of "ns/name"; -1 when the
 * names cannot be file names. */
static int state_paths(struct ctl *c, const char *pool, char *ret_dir, size_t dsize, char *ret_file,
                       size_t fsize)
{
    const char *slash = strchr(pool, '/');
    char ns[256];

    if (!slash || (size_t)(slash - pool) >= sizeof(ns))
        return -1;
    snprintf(ns, sizeof(ns), "%.*s", (int)(slash - pool), pool);
    if (!safe_part(ns) || !safe_part(slash + 1) || slash[1] == '.')
        return -1;
    if (snprintf(ret_dir, dsize, "%s/%s", c->o->state_dir, ns) >= (int)dsize ||
        snprintf(ret_file, fsize, "%s/%s.json", ret_dir, slash + 1) >= (int)fsize)
        return -1;
    return 0;
}

/* The state file of a pool: its status (which holds no secret value: the
 * planner's status never carries one) and the remembered facts. */
static void state_save(struct ctl *c, struct pstate *ps, const struct rc_pool *p, const json_t *obj)
{
    char dir[2048], file[4096];
    json_t *j;
    char *text;
    int r;

    if (!c->o->state_dir || state_paths(c, ps->pool, dir, sizeof(dir), file, sizeof(file)) < 0)
        return;
    j = json_pack("{s:s,s:s,s:s,s:{s:i,s:I,s:I,s:I},s:O*}", "apiVersion", RC_API_VERSION, "kind",
                  "WorkerPoolState", "pool", ps->pool, "remembered", "desiredReplicas",
                  ps->desired_replicas, "lastScaleMs", (json_int_t)ps->last_scale_ms,
                  "lastScaleOutMs", (json_int_t)ps->last_scale_out_ms, "lastScaleInMs",
                  (json_int_t)ps->last_scale_in_ms, "status", json_object_get(obj, "status"));
    if (j && ps->halted_image)
        json_object_set_new(json_object_get(j, "remembered"), "haltedImage",
                            json_string(ps->halted_image));
    /* The pool's manifest file as last read valid: a restart must still see
     * that file go, else a manifest removed while the controller was down
     * would leave the pool's resources behind (DESIGN.md §4 rules 2 and 4). */
    for (size_t i = 0; j && p->meta.origin.file && i < c->n_files; i++)
        if (c->files[i].text && strcmp(c->files[i].path, p->meta.origin.file) == 0)
            json_object_set_new(j, "manifest",
                                json_pack("{s:s,s:s%}", "file", c->files[i].path, "text",
                                          c->files[i].text, c->files[i].len));
    text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!text)
        return;
    if (ps->saved && strcmp(ps->saved, text) == 0) {
        free(text);
        return;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        log_state_error("state.write_failed", dir, errno);
        free(text);
        return;
    }
    r = write_atomic(dir, file, text, strlen(text));
    if (r < 0) {
        log_state_error("state.write_failed", file, -r);
        free(text);
        return;
    }
    free(ps->saved);
    ps->saved = text;
}

static void state_remove(struct ctl *c, struct pstate *ps)
{
    char dir[2048], file[4096];

    if (!c->o->state_dir || state_paths(c, ps->pool, dir, sizeof(dir), file, sizeof(file)) < 0)
        return;
    if (unlink(file) < 0 && errno != ENOENT)
        log_state_error("state.remove_failed", file, errno);
    free(ps->saved);
    ps->saved = NULL;
}

static void state_load_file(struct ctl *c, const char *ns, const char *file)
{
    struct rc_err err = {0};
    json_error_t jerr;
    json_t *j = NULL, *rem;
    const char *pool;
    struct pstate *ps;
    char *text = NULL, want_pool[600];
    size_t len = 0;

    if (ctl_read_file(file, STATE_FILE_MAX, &text, &len, &err) < 0)
        goto bad;
    j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    pool = json_string_value(json_object_get(j, "pool"));
    rem = json_object_get(j, "remembered");
    snprintf(want_pool, sizeof(want_pool), "%s/", ns);
    if (!pool || !json_is_object(rem) || strncmp(pool, want_pool, strlen(want_pool)) != 0)
        goto bad;
    ps = pstate(c, pool, true);
    if (!ps)
        goto out;
    ps->desired_replicas = (int)json_integer_value(json_object_get(rem, "desiredReplicas"));
    if (!json_is_integer(json_object_get(rem, "desiredReplicas")) || ps->desired_replicas < -1)
        ps->desired_replicas = -1;
    ps->last_scale_ms = json_integer_value(json_object_get(rem, "lastScaleMs"));
    ps->last_scale_out_ms = json_integer_value(json_object_get(rem, "lastScaleOutMs"));
    ps->last_scale_in_ms = json_integer_value(json_object_get(rem, "lastScaleInMs"));
    free(ps->halted_image);
    ps->halted_image = json_is_string(json_object_get(rem, "haltedImage"))
                           ? strdup(json_string_value(json_object_get(rem, "haltedImage")))
                           : NULL;
    free(ps->status);
    ps->status = NULL;
    if (json_is_object(json_object_get(j, "status"))) {
        json_t *obj = json_pack("{s:s,s:s,s:{s:s,s:s},s:O}", "apiVersion", RC_API_VERSION, "kind",
                                "WorkerPool", "metadata", "name", pool + strlen(want_pool),
                                "namespace", ns, "status", json_object_get(j, "status"));

        ps->status = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(obj);
    }
    {
        const json_t *m = json_object_get(j, "manifest");
        const char *mpath = json_string_value(json_object_get(m, "file"));
        const json_t *mtext = json_object_get(m, "text");
        struct mfile *f = mpath && json_is_string(mtext) ? mfile(c, mpath) : NULL;

        if (f && !f->text) { /* present = false until the tree shows it */
            f->text = strndup(json_string_value(mtext), json_string_length(mtext));
            f->len = f->text ? json_string_length(mtext) : 0;
        }
    }
    free(ps->saved);
    ps->saved = text;
    text = NULL;
    goto out;
bad:
    log_state_error("state.ignored", file, EINVAL);
out:
    json_decref(j);
    free(text);
}

/* Loads D/<namespace>/<name>.json (see state_save). A file that does not
 * parse is ignored with a warning: the planner re-derives from Azure. */
static void state_load(struct ctl *c)
{
    DIR *d, *sub;
    struct dirent *e, *f;
    char dir[2048], file[4096];

    if (!c->o->state_dir)
        return;
    d = opendir(c->o->state_dir);
    if (!d) {
        if (errno != ENOENT)
            log_state_error("state.unreadable", c->o->state_dir, errno);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' ||
            snprintf(dir, sizeof(dir), "%s/%s", c->o->state_dir, e->d_name) >= (int)sizeof(dir))
            continue;
        sub = opendir(dir);
        if (!sub)
            continue;
        while ((f = readdir(sub)) != NULL) {
            size_t n = strlen(f->d_name);

            if (f->d_name[0] == '.' || n < 6 || strcmp(f->d_name + n - 5, ".json") != 0 ||
                snprintf(file, sizeof(file), "%s/%s", dir, f->d_name) >= (int)sizeof(file))
                continue;
            state_load_file(c, e->d_name, file);
        }
        closedir(sub);
    }
    closedir(d);
}

static const char *cond_str(enum rc_cond s)
{
    return s == RC_COND_TRUE ? "True" : s == RC_COND_FALSE ? "False" : "Unknown";
}

/* Marks the Degraded condition of a status object True with reason
 * ActionFailed and the failure as message (a failed write outlives the plan
 * that issued it: it stays until a plan applies cleanly). */
static void mark_failure(json_t *conditions, const char *failure)
{
    size_t i;
    json_t *cond;

    json_array_foreach(conditions, i, cond)
    {
        const char *type = json_string_value(json_object_get(cond, "type"));

        if (!type || strcmp(type, "Degraded") != 0) /* a status read back from --state-dir */
            continue;
        json_object_set_new(cond, "status", json_string("True"));
        json_object_set_new(cond, "reason", json_string("ActionFailed"));
        json_object_set_new(cond, "message", json_string(failure));
    }
}

static json_t *status_json(const struct rc_pool *p, const struct rc_pool_status *st,
                           const char *failure)
{
    char selector[320];
    static const char *const types[] = {"Ready", "Progressing", "Degraded", "Stalled"};
    enum rc_cond conds[4] = {st->ready, st->progressing, st->degraded, st->stalled};
    json_t *conditions = json_array(), *instances = json_array(), *status;
    char ts[RC_TIME_MAX];

    /* Ready always says where the pool stands; the others carry the pool's
     * reason only while True (kstatus: "AsExpected" otherwise). */
    for (int i = 0; i < 4; i++) {
        bool own = i == 0 || conds[i] == RC_COND_TRUE;

        json_array_append_new(conditions,
                              json_pack("{s:s,s:s,s:s,s:s}", "type", types[i], "status",
                                        cond_str(conds[i]), "reason",
                                        own ? (st->reason ? st->reason : "") : "AsExpected",
                                        "message", own && st->message ? st->message : ""));
    }
    if (failure)
        mark_failure(conditions, failure);
    for (size_t i = 0; i < st->n_instances; i++) {
        const struct rc_inst_status *in = &st->instances[i];
        char idbuf[RC_OBS_ID_MAX];
        const char *id = rc_inst_status_id(in, idbuf, sizeof(idbuf));

        rc_time_format(in->created_ms, ts, sizeof(ts));
        json_array_append_new(instances,
                              json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "name", in->name, "id", id,
                                        "image", in->image ? in->image : "", "createdAt", ts,
                                        "state", rc_inst_state_name(in->state), "busy", in->busy));
    }
    status = json_pack(
        "{s:i,s:i,s:i,s:i,s:i,s:s,s:s,s:o,s:{s:i,s:s},s:o}", "replicas", st->replicas,
        "readyReplicas", st->ready_replicas, "updatedReplicas", st->updated_replicas,
        "expiringReplicas", st->expiring_replicas, "desiredReplicas", st->desired_replicas,
        "currentImage", st->current_image ? st->current_image : "", "targetImage",
        st->target_image ? st->target_image : "", "conditions", conditions, "plan", "pending",
        st->pending, "summary", st->summary ? st->summary : "", "instances", instances);
    /* For the scale subresource (labelSelectorPath .status.selector, DESIGN.md §2). */
    snprintf(selector, sizeof(selector), "azpool.dev/pool=%s", p->meta.name);
    json_object_set_new(status, "selector", json_string(selector));
    return json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion", RC_API_VERSION, "kind",
                     "WorkerPool", "metadata", "name", p->meta.name, "namespace", p->meta.namespace,
                     "status", status);
}

static void publish_replicas(struct ctl *c, const struct rc_pool *p,
                             const struct rc_pool_status *st)
{
    int counts[RC_INST_FAILED + 1] = {0};

    for (size_t i = 0; i < st->n_instances; i++)
        if (st->instances[i].state <= RC_INST_FAILED)
            counts[st->instances[i].state]++;
    for (int s = 0; s <= RC_INST_FAILED; s++) {
        const char *labels[3] = {p->meta.namespace, p->meta.name,
                                 rc_inst_state_name((enum rc_inst_state)s)};

        metrics_set(c->met.pool_replicas, labels, counts[s]);
    }
}

/* ---- the work queue driver ---- */

static void start_reconcile(struct ctl *c, const char *key);

static void on_tick(uv_timer_t *t);

static void pump(struct ctl *c)
{
    const char *key;
    int64_t due, now;

    while (!c->stopping && !c->standby && c->active < RECONCILES_MAX &&
           wq_next(c->wq, (int64_t)uv_now(&c->loop), &key))
        start_reconcile(c, key);
    metrics_set(c->met.workqueue_depth, NULL, (double)wq_depth(c->wq));
    due = wq_next_due(c->wq);
    if (c->stopping || c->standby || due == INT64_MAX || c->active >= RECONCILES_MAX) {
        uv_timer_stop(&c->tick);
        return;
    }
    now = (int64_t)uv_now(&c->loop);
    uv_timer_start(&c->tick, on_tick, (uint64_t)(due > now ? due - now : 0), 0);
}

static void on_tick(uv_timer_t *t)
{
    pump(t->data);
}

static void enqueue(struct ctl *c, const char *pool, int64_t delay_ms)
{
    char key[WQ_KEY_MAX];

    snprintf(key, sizeof(key), "WorkerPool/%s", pool);
    wq_add_at(c->wq, key, (int64_t)uv_now(&c->loop) + (delay_ms > 0 ? delay_ms : 0));
}

static void enqueue_pool(struct ctl *c, const struct rc_pool *p)
{
    char pool[300];

    snprintf(pool, sizeof(pool), "%s/%s", p->meta.namespace, p->meta.name);
    enqueue(c, pool, 0);
}

/* ---- the seam of ctl_int.h ---- */

uv_loop_t *ctl_loop(struct ctl *c)
{
    return &c->loop;
}

struct http *ctl_http(struct ctl *c)
{
    return c->http;
}

void ctl_enqueue_all(struct ctl *c)
{
    for (size_t i = 0; i < c->want.n_pools; i++)
        enqueue_pool(c, &c->want.pools[i]);
    pump(c);
}

void ctl_enqueue(struct ctl *c, const char *ns, const char *name)
{
    char pool[300];

    snprintf(pool, sizeof(pool), "%s/%s", ns, name);
    enqueue(c, pool, 0);
    pump(c);
}

void ctl_set_desired(struct ctl *c, struct rc_desired *want)
{
    struct rc_errs zerrs = {0};

    rc_desired_release(&c->want);
    c->want = *want;
    memset(want, 0, sizeof(*want));
    ctl_zones_release(&c->zones);
    ctl_zones_load(&c->want, &c->zones, &zerrs);
    log_errs(&zerrs, "source.invalid");
    rc_errs_release(&zerrs);
    if (c->sig && signals_sync(c->sig, &c->want) < 0) {
        struct log_line l;

        log_begin(&l, LOG_WARN, wall_ms(), "signals.sync_failed");
        log_str(&l, "err", "out of memory");
        log_end(&l);
    }
}

/* ---- hints: autoscale signals and Event Grid events ---- */

static void on_signals_poke(void *arg, const char *pool)
{
    struct ctl *c = arg;

    enqueue(c, pool, 0);
    pump(c);
}

static void on_event(void *arg, const struct evq_event *ev)
{
    struct ctl *c = arg;
    struct log_line l;
    size_t n = 0;

    for (size_t i = 0; i < c->want.n_pools; i++)
        if (evq_pool_owns(&c->want.pools[i], ev->resource)) {
            enqueue_pool(c, &c->want.pools[i]);
            n++;
        }
    log_begin(&l, LOG_DEBUG, wall_ms(), "events.event");
    log_str(&l, "id", ev->id);
    log_str(&l, "type", ev->type);
    log_str(&l, "resource", ev->resource);
    log_int(&l, "pools", (long long)n);
    log_end(&l);
    if (n)
        pump(c);
}

void ctl_set_synced(struct ctl *c, bool synced)
{
    c->synced = synced;
}

void ctl_set_standby(struct ctl *c, bool standby)
{
    bool was = c->standby;

    c->standby = standby;
    if (was && !standby)
        ctl_enqueue_all(c);
    else
        pump(c);
}

int ctl_remember(struct ctl *c, const char *ns, const char *name, const struct ctl_remembered *r)
{
    char pool[300];
    struct pstate *ps;

    snprintf(pool, sizeof(pool), "%s/%s", ns, name);
    if (pstate(c, pool, false))
        return 0; /* what this process learnt is newer */
    ps = pstate(c, pool, true);
    if (!ps)
        return -RC_ENOMEM;
    ps->desired_replicas = r->desired_replicas;
    ps->last_scale_ms = r->last_scale_ms;
    ps->last_scale_out_ms = r->last_scale_out_ms;
    ps->last_scale_in_ms = r->last_scale_in_ms;
    if (r->halted_image && !(ps->halted_image = strdup(r->halted_image)))
        return -RC_ENOMEM;
    return 0;
}

/* ---- manifests ---- */

static struct mfile *mfile(struct ctl *c, const char *path)
{
    struct mfile *v;

    for (size_t i = 0; i < c->n_files; i++)
        if (strcmp(c->files[i].path, path) == 0)
            return &c->files[i];
    v = realloc(c->files, (c->n_files + 1) * sizeof(*v));
    if (!v)
        return NULL;
    c->files = v;
    memset(&v[c->n_files], 0, sizeof(v[0]));
    v[c->n_files].path = strdup(path);
    if (!v[c->n_files].path)
        return NULL;
    return &v[c->n_files++];
}

static bool pool_gone(struct ctl *c, const struct rc_pool *p)
{
    char pool[300];
    struct pstate *ps;

    snprintf(pool, sizeof(pool), "%s/%s", p->meta.namespace, p->meta.name);
    ps = pstate(c, pool, false);
    return ps && ps->gone;
}

/* Whether a pool must be looked at after a reload: its file changed, or its
 * deletion state did (the mass-deletion guard counts all absent files). */
static bool pool_changed(const struct ctl *c, const struct rc_desired *old, const struct rc_pool *p)
{
    const struct rc_pool *was;

    for (size_t i = 0; i < c->n_files; i++)
        if (c->files[i].changed && p->meta.origin.file &&
            strcmp(c->files[i].path, p->meta.origin.file) == 0)
            return true;
    was = rc_desired_pool(old, p->meta.namespace, p->meta.name);
    return !was || was->meta.deleting != p->meta.deleting;
}

/* Whether an ImageVersion or ExpiryPolicy may have changed: then every pool
 * is looked at (references are resolved by the planner). */
static bool refs_changed(const struct ctl *c, const struct rc_desired *d)
{
    for (size_t i = 0; i < c->n_files; i++) {
        if (!c->files[i].changed)
            continue;
        for (size_t k = 0; k < d->n_images; k++)
            if (d->images[k].meta.origin.file &&
                strcmp(d->images[k].meta.origin.file, c->files[i].path) == 0)
                return true;
        for (size_t k = 0; k < d->n_policies; k++)
            if (d->policies[k].meta.origin.file &&
                strcmp(d->policies[k].meta.origin.file, c->files[i].path) == 0)
                return true;
    }
    return false;
}

/* Re-reads the tree and rebuilds the desired state (see ctl_run.h). Enqueues
 * every pool when all is set (start, resync), else only the pools a change
 * concerns, so an edit of one file is not queued behind every other pool. */
static void reload(struct ctl *c, bool all)
{
    struct rc_desired old;
    struct rc_desired want = {0};
    struct rc_errs errs = {0};
    struct rc_err err = {0};
    char **files = NULL;
    size_t n_files = 0, removed_pools = 0, present_pools;
    bool guard;

    if (ctl_list_manifests(c->o->source_dir, &files, &n_files, &err) < 0) {
        struct log_line l;

        log_begin(&l, LOG_WARN, wall_ms(), "source.unreadable");
        log_str(&l, "dir", c->o->source_dir);
        log_str(&l, "err", err.msg);
        log_word(&l, "keeping the last good state");
        log_end(&l);
        return;
    }
    if (n_files == 0 && c->n_files > 0) {
        struct log_line l;

        log_begin(&l, LOG_WARN, wall_ms(), "source.empty");
        log_str(&l, "dir", c->o->source_dir);
        log_word(&l, "an empty tree deletes nothing; keeping the last good state");
        log_end(&l);
        ctl_files_free(files, n_files);
        if (!c->synced) { /* at start, with manifests known from --state-dir */
            c->synced = true;
            ctl_enqueue_all(c);
        }
        return;
    }
    for (size_t i = 0; i < c->n_files; i++) {
        c->files[i].changed = c->files[i].present; /* stays set if it is gone now */
        c->files[i].present = false;
    }
    for (size_t i = 0; i < n_files; i++) {
        struct mfile *f = mfile(c, files[i]);
        struct rc_desired scratch = {0};
        struct rc_errs ferrs = {0};
        char *text = NULL;
        size_t len = 0;

        if (!f)
            continue;
        f->changed = !f->changed; /* absent before (or new) */
        f->present = true;
        memset(&err, 0, sizeof(err));
        if (ctl_read_file(files[i], CTL_FILE_MAX, &text, &len, &err) < 0) {
            rc_errs_push(&ferrs, &err); /* vanished mid-checkout: keep the last good text */
        } else {
            rc_decode_yaml(&scratch, files[i], text, len, &ferrs, NULL);
            rc_desired_release(&scratch);
        }
        f->n_errors = (int)ferrs.n;
        if (ferrs.n == 0 && text) {
            if (!f->text || f->len != len || memcmp(f->text, text, len) != 0)
                f->changed = true;
            free(f->text);
            f->text = text;
            f->len = len;
            text = NULL;
        }
        log_errs(&ferrs, "source.invalid");
        rc_errs_release(&ferrs);
        free(text);
    }
    ctl_files_free(files, n_files);

    /* Files in the tree first: a pool that moved to another file is defined
     * there, and that definition wins over its old file's (see below). */
    for (size_t i = 0; i < c->n_files; i++)
        if (c->files[i].present && c->files[i].text)
            rc_decode_yaml(&want, c->files[i].path, c->files[i].text, c->files[i].len, &errs, NULL);
    /* Count the pools whose file is gone: the mass-deletion guard. */
    for (size_t i = 0; i < c->n_files; i++) {
        struct rc_desired scratch = {0};

        if (c->files[i].present || !c->files[i].text)
            continue;
        rc_decode_yaml(&scratch, c->files[i].path, c->files[i].text, c->files[i].len, &errs, NULL);
        for (size_t k = 0; k < scratch.n_pools; k++)
            if (!pool_gone(c, &scratch.pools[k]) &&
                !rc_desired_pool(&want, scratch.pools[k].meta.namespace,
                                 scratch.pools[k].meta.name))
                removed_pools++;
        rc_desired_release(&scratch);
    }
    guard = removed_pools > (size_t)c->o->max_deletions && !c->o->allow_mass_delete;
    if (guard) {
        struct log_line l;

        log_begin(&l, LOG_WARN, wall_ms(), "source.mass_delete_refused");
        log_int(&l, "pools", (long long)removed_pools);
        log_int(&l, "max_deletions", c->o->max_deletions);
        log_word(&l, "keeping them; use --allow-mass-delete or --max-deletions to delete");
        log_end(&l);
    }
    present_pools = want.n_pools;
    for (size_t i = 0; i < c->n_files; i++) {
        struct mfile *f = &c->files[i];
        size_t k = want.n_pools;

        if (f->present || !f->text)
            continue;
        rc_decode_yaml(&want, f->path, f->text, f->len, &errs, NULL);
        while (k < want.n_pools) {
            struct rc_pool *p = &want.pools[k];
            bool moved = false;

            for (size_t m = 0; m < present_pools && !moved; m++)
                moved = strcmp(want.pools[m].meta.namespace, p->meta.namespace) == 0 &&
                        strcmp(want.pools[m].meta.name, p->meta.name) == 0;
            if (moved || pool_gone(c, p)) { /* defined in a file of the tree: not a deletion;
                                                or destroyed already: done */
                rc_pool_release(p);
                want.pools[k] = want.pools[--want.n_pools];
                continue;
            }
            p->meta.deleting = !guard;
            k++;
        }
    }
    rc_validate_refs(&want, &errs);
    log_errs(&errs, "source.invalid");
    rc_errs_release(&errs);
    old = c->want;
    memset(&c->want, 0, sizeof(c->want));
    all = all || !c->synced || refs_changed(c, &old) || refs_changed(c, &want);
    for (size_t i = 0; !all && i < want.n_pools; i++)
        if (pool_changed(c, &old, &want.pools[i]))
            enqueue_pool(c, &want.pools[i]);
    rc_desired_release(&old);
    ctl_set_desired(c, &want);
    /* Files whose pools are all gone are forgotten. */
    for (size_t i = 0; i < c->n_files;) {
        struct mfile *f = &c->files[i];
        bool all_gone = !f->present;

        for (size_t k = 0; all_gone && k < c->want.n_pools; k++)
            if (c->want.pools[k].meta.origin.file &&
                strcmp(c->want.pools[k].meta.origin.file, f->path) == 0 &&
                !pool_gone(c, &c->want.pools[k]))
                all_gone = false;
        if (all_gone) {
            free(f->path);
            free(f->text);
            c->files[i] = c->files[--c->n_files];
            continue;
        }
        i++;
    }
    c->synced = true;
    if (all)
        ctl_enqueue_all(c);
    else
        pump(c);
}

static void on_source_change(void *arg)
{
    reload(arg, false);
}

static void on_reload(uv_timer_t *t)
{
    reload(t->data, false);
}

/* ---- reconcile ---- */

static void fill_hybrid_url(json_t *node, const char *url);
static void add_job_gets(struct ctl *c, struct rec *r, const json_t *list);

static void rec_free(struct rec *r)
{
    free(r->hybrid_url);
    rc_observed_release(&r->have);
    free(r);
}

static void rec_finish(struct rec *r, bool ok, bool transient, int64_t again_ms)
{
    struct ctl *c = r->c;
    const char *kind_result[2] = {"WorkerPool", ok ? "success" : "error"};
    struct log_line l;

    c->active--;
    metrics_add(c->met.reconcile_total, kind_result, 1);
    metrics_observe(c->met.reconcile_duration, NULL, (double)(uv_now(&c->loop) - r->t0) / 1000.0);
    log_begin(&l, LOG_DEBUG, wall_ms(), "reconcile.end");
    log_str(&l, "key", r->key);
    log_str(&l, "rid", r->rid);
    log_bool(&l, "ok", ok);
    log_int(&l, "dur_ms", (long long)(uv_now(&c->loop) - r->t0));
    log_end(&l);
    if (c->stopping) {
        wq_done(c->wq, r->key, (int64_t)uv_now(&c->loop));
    } else if (!ok) {
        (void)transient; /* terminal errors back off too, up to 5 minutes */
        wq_retry(c->wq, r->key, (int64_t)uv_now(&c->loop));
    } else {
        wq_forget(c->wq, r->key);
        wq_done(c->wq, r->key, (int64_t)uv_now(&c->loop));
        if (again_ms >= 0)
            wq_add_at(c->wq, r->key, (int64_t)uv_now(&c->loop) + again_ms);
    }
    rec_free(r);
    pump(c);
}

static void on_action(void *arg, const struct rc_action *a, const struct az_result *res)
{
    struct ctl *c = arg;
    const char *labels[2] = {rc_verb_name(a->verb), res->err.code ? "error" : "success"};
    struct log_line l;

    metrics_add(c->met.actions_total, labels, 1);
    log_begin(&l, res->err.code ? LOG_WARN : LOG_INFO, wall_ms(), "action.done");
    log_str(&l, "pool", a->pool);
    log_str(&l, "verb", rc_verb_name(a->verb));
    log_str(&l, "target", a->target);
    if (a->has_count)
        log_int(&l, "count", (long long)a->count);
    log_str(&l, "reason", a->reason);
    log_int(&l, "status", res->status);
    if (res->accepted) /* its operation runs on; the next observes follow it */
        log_bool(&l, "accepted", true);
    if (res->err.code)
        log_str(&l, "err", res->err.msg);
    log_end(&l);
    if (c->be.action)
        c->be.action(c->be.arg, a->pool, a, res);
}

/* The latest autoscale metric, busy set and finished jobs of r's pool. */
static int fill_signals(struct ctl *c, struct rec *r)
{
    struct rc_obs_pool *op;
    int rc;

    if (!c->sig)
        return 0;
    op = rc_observed_pool(&r->have, r->pool);
    if (!op)
        return -RC_ENOMEM;
    rc = signals_fill(c->sig, r->pool, op);
    r->sig_flags = rc < 0 ? 0 : rc;
    return rc < 0 ? rc : 0;
}

/* Whether the plan would delete or reimage an instance while the pool's busy
 * source has never been read: then nobody knows which instances run a job
 * (DESIGN.md §4 rule 5), so such a plan waits for the first busy poll. */
static bool busy_unknown_blocks(struct ctl *c, const struct rec *r, const struct rc_pool *p,
                                const struct rc_plan *plan)
{
    struct pstate *ps = pstate(c, r->pool, true);
    bool disrupts = false;
    int64_t now = wall_ms();
    struct log_line l;

    if (!(r->sig_flags & SIGNALS_BUSY_UNKNOWN)) {
        if (ps)
            ps->busy_unknown_since_ms = 0;
        return false;
    }
    for (size_t i = 0; i < plan->n_actions && !disrupts; i++)
        disrupts =
            plan->actions[i].verb == RC_VERB_DELETE || plan->actions[i].verb == RC_VERB_REIMAGE;
    if (!disrupts || !ps)
        return false;
    if (ps->busy_unknown_since_ms == 0) {
        ps->busy_unknown_since_ms = now;
        log_begin(&l, LOG_WARN, now, "reconcile.busy_unknown");
        log_str(&l, "key", r->key);
        log_int(&l, "wait_s", (long long)(p->spec.drain_timeout_ms / 1000));
        log_word(&l, "the busy source was never read: deletes and reimages wait at most the "
                     "drain timeout");
        log_end(&l);
    }
    /* No busy instance is disrupted before the drain timeout (DESIGN.md §4
     * rule 5): an unknown busy set is held that long, then treated as empty. */
    return now - ps->busy_unknown_since_ms < p->spec.drain_timeout_ms;
}

/* A failed action: kept in the pool's status (Degraded, ActionFailed) until a
 * plan applies cleanly, and published at once. */
static void record_failure(struct ctl *c, const char *pool, const char *key, const char *msg)
{
    struct pstate *ps = pstate(c, pool, true);
    char text[RC_ERR_MSG_MAX + 128];
    json_t *obj, *conds;
    const struct rc_pool *p;
    char ns[256], name[256];
    const char *slash = strchr(pool, '/');

    if (!ps || !slash)
        return;
    if (snprintf(text, sizeof(text), "%s: %s", key ? key : "action", msg) >= (int)sizeof(text))
        memcpy(text + sizeof(text) - 4, "...", 4); /* cut: still says what failed */
    free(ps->failure);
    ps->failure = strdup(text);
    if (!ps->failure || !ps->status || !(obj = json_loads(ps->status, 0, NULL)))
        return;
    conds = json_object_get(json_object_get(obj, "status"), "conditions");
    mark_failure(conds, ps->failure);
    free(ps->status);
    ps->status = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    snprintf(ns, sizeof(ns), "%.*s", (int)(slash - pool), pool);
    snprintf(name, sizeof(name), "%s", slash + 1);
    p = rc_desired_pool(&c->want, ns, name);
    if (p && c->be.status)
        c->be.status(c->be.arg, p, obj);
    json_decref(obj);
}

/* The desired pool of key "ns/name", NULL when there is none. */
static const struct rc_pool *pool_by_key(struct ctl *c, const char *key)
{
    char ns[256], name[256];
    const char *slash = strchr(key, '/');

    if (!slash)
        return NULL;
    snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
    snprintf(name, sizeof(name), "%s", slash + 1);
    return rc_desired_pool(&c->want, ns, name);
}

/* A plan that was not applied gives its finished jobs back (recycleAfterJob). */
static void return_jobs(struct rec *r)
{
    struct rc_obs_pool *op = rc_observed_pool(&r->have, r->pool);
    struct pstate *ps = pstate(r->c, r->pool, false);
    const struct rc_pool *p = pool_by_key(r->c, r->pool);

    if (!op || !op->n_job_done)
        return;
    if (p && p->spec.busy.kind == RC_SIGNAL_TAG) {
        for (size_t i = 0; ps && i < op->n_job_done; i++)
            names_add(&ps->tag_done, op->job_done[i]);
    } else if (r->c->sig) {
        signals_job_done_return(r->c->sig, r->pool, op->job_done, op->n_job_done);
    }
}

/* Whether plan deletes or reimages the instance called name (actions name VMs
 * by name, scale-set instances by instanceId). */
static bool plan_recycles(const struct rec *r, const struct rc_plan *plan, const char *name)
{
    const char *iid = NULL;

    for (size_t i = 0; i < r->have.n_instances; i++)
        if (r->have.instances[i].name && strcmp(r->have.instances[i].name, name) == 0)
            iid = r->have.instances[i].instance_id;
    for (size_t i = 0; i < plan->n_actions; i++) {
        const struct rc_action *a = &plan->actions[i];

        if (a->verb != RC_VERB_DELETE && a->verb != RC_VERB_REIMAGE)
            continue;
        for (size_t k = 0; k < a->n_instances; k++)
            if (a->instances[k] &&
                (strcmp(a->instances[k], name) == 0 || (iid && strcmp(a->instances[k], iid) == 0)))
                return true;
    }
    return false;
}

/* The planner acts on a finished job only when it can (a failed list plans
 * nothing; a replacement waits for the rollout budget; a busy instance
 * waits), and a job_done name is handed over once: names of instances that
 * still exist and that plan (about to be applied, or empty) does not delete or
 * reimage go back, so the recycle comes at a later plan instead of never. */
static void return_unused_jobs(struct rec *r, const struct rc_plan *plan)
{
    struct rc_obs_pool *op = rc_observed_pool(&r->have, r->pool);
    const struct rc_pool *p = pool_by_key(r->c, r->pool);
    struct pstate *ps = pstate(r->c, r->pool, false);

    if (!op || !op->n_job_done || !p || p->spec.recycle_after_job == RC_RECYCLE_NONE)
        return;
    for (size_t i = 0; i < op->n_job_done; i++) {
        const char *name = op->job_done[i];
        bool exists = false;

        for (size_t k = 0; name && k < r->have.n_instances && !exists; k++)
            exists = r->have.instances[k].name && strcmp(r->have.instances[k].name, name) == 0;
        if (!exists || plan_recycles(r, plan, name))
            continue;
        if (p->spec.busy.kind == RC_SIGNAL_TAG) {
            if (ps)
                names_add(&ps->tag_done, name);
        } else if (r->c->sig) {
            signals_job_done_return(r->c->sig, r->pool, &op->job_done[i], 1);
        }
    }
}

/* Instances in transition: an accepted operation may still be running. */
static bool in_transition(const struct rc_pool_status *st)
{
    for (size_t i = 0; i < st->n_instances; i++)
        if (st->instances[i].state == RC_INST_PROVISIONING ||
            st->instances[i].state == RC_INST_REGISTERING ||
            st->instances[i].state == RC_INST_DELETING)
            return true;
    return false;
}

static void on_exec_done(void *arg, const struct exec_result *res)
{
    struct rec *r = arg;
    struct pstate *ps;

    if (res->err.code) {
        struct log_line l;

        log_begin(&l, LOG_WARN, wall_ms(), "reconcile.failed");
        log_str(&l, "key", r->key);
        log_str(&l, "rid", r->rid);
        log_str(&l, "action", res->failed_key);
        log_str(&l, "err", res->err.msg);
        log_end(&l);
        record_failure(r->c, r->pool, res->failed_key, res->err.msg);
        return_jobs(r);
        rec_finish(r, false, res->err.klass == RC_CLASS_TRANSIENT, -1);
        return;
    }
    /* Writes done: look again soon to follow provisioning. Accepted writes
     * (their operations run on, not followed: exec.h) are looked at after
     * their Retry-After instead of holding a reconcile slot meanwhile. */
    ps = pstate(r->c, r->pool, false);
    if (ps && ps->failure) { /* applied cleanly: the status says so at the next plan */
        free(ps->failure);
        ps->failure = NULL;
    }
    ps = res->accepted ? pstate(r->c, r->pool, true) : NULL;
    if (ps) {
        /* 2% later than Retry-After: an operation that takes a multiple of
         * it is seen done at that look, not one interval later. */
        int64_t ms = res->poll_after_ms + res->poll_after_ms / 50;

        ps->poll_ms = ms < CTL_ACCEPTED_POLL_MIN_MS ? CTL_ACCEPTED_POLL_MIN_MS
                      : ms > CTL_PROGRESS_POLL_MS   ? CTL_PROGRESS_POLL_MS
                                                    : ms;
    }
    rec_finish(r, true, false, ps ? ps->poll_ms : CTL_PROGRESS_POLL_MS);
}

/* Whether plan writes to a scale set whose own operation is still running
 * (observed Creating or Updating): since writes are accepted rather than
 * followed (exec.h), the next reconcile can come while our last write's
 * operation runs, and Azure refuses (409) or preempts a second model write
 * meanwhile. Such writes wait for it, as long as AZ_LRO_MAX_MS (rule 6: then
 * they go ahead); a DELETE never waits (it cancels). */
static bool scale_set_busy(struct rec *r, const struct rc_plan *plan, struct pstate *ps)
{
    int64_t now = wall_ms();

    for (size_t i = 0; i < plan->n_actions; i++) {
        const struct rc_action *a = &plan->actions[i];
        const char *path = a->path ? a->path : a->target;

        if (strcmp(a->pool, r->pool) != 0 || a->method == RC_HTTP_DELETE || !path)
            continue;
        for (size_t k = 0; k < r->have.n_scale_sets; k++) {
            const struct rc_obs_scale_set *ss = &r->have.scale_sets[k];
            size_t n = ss->id ? strlen(ss->id) : 0;
            const char *st = ss->provisioning_state;

            if (!n || !st || strncasecmp(path, ss->id, n) != 0 ||
                (path[n] != '\0' && path[n] != '/' && path[n] != '?'))
                continue;
            if (rc_strcasecmp(st, "Creating") != 0 && rc_strcasecmp(st, "Updating") != 0)
                continue;
            if (!ps->busy_since_ms)
                ps->busy_since_ms = now;
            return now - ps->busy_since_ms < AZ_LRO_MAX_MS;
        }
    }
    ps->busy_since_ms = 0;
    return false;
}

static void plan_and_execute(struct rec *r)
{
    struct ctl *c = r->c;
    struct rc_policy pol;
    struct rc_plan plan = {0};
    struct rc_err err = {0};
    const struct rc_pool *p;
    const struct rc_pool_status *st = NULL;
    char ns[256], name[256];
    const char *slash = strchr(r->pool, '/');
    int64_t again = -1;
    struct log_line l;

    snprintf(ns, sizeof(ns), "%.*s", (int)(slash - r->pool), r->pool);
    snprintf(name, sizeof(name), "%s", slash + 1);
    p = rc_desired_pool(&c->want, ns, name);
    if (!p) { /* gone from the manifests and forgotten */
        rec_finish(r, true, false, -1);
        return;
    }
    rc_policy_init(&pol);
    pol.only_pool = r->pool;
    pol.zones = c->zones.zones;
    pol.n_zones = c->zones.n;
    if (hand_back(c, r->pool, &r->have) < 0 || fill_signals(c, r) < 0) {
        return_jobs(r);
        rec_finish(r, false, true, -1);
        return;
    }
    if (rc_plan(&c->want, &r->have, &pol, wall_ms(), &plan, &err) < 0) {
        log_begin(&l, LOG_WARN, wall_ms(), "reconcile.plan_failed");
        log_str(&l, "key", r->key);
        log_str(&l, "err", err.msg);
        log_end(&l);
        return_jobs(r);
        rec_finish(r, false, false, -1);
        return;
    }
    for (size_t i = 0; i < plan.n_pools; i++)
        if (strcmp(plan.pools[i].pool, r->pool) == 0)
            st = &plan.pools[i];
    if (st) {
        struct pstate *ps = pstate(c, r->pool, true);
        json_t *obj;

        if (ps && plan.n_actions == 0 && ps->failure) { /* nothing left to do: healed */
            free(ps->failure);
            ps->failure = NULL;
        }
        obj = ps ? status_json(p, st, ps->failure) : NULL;

        if (ps) {
            free(ps->status);
            ps->status = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            ps->gone = p->meta.deleting && st->replicas == 0 && plan.n_actions == 0;
            remember(ps, st);
            if (ps->gone) { /* a pool of that name created later starts afresh */
                free(ps->halted_image);
                ps->halted_image = NULL;
                ps->desired_replicas = -1;
                ps->last_scale_ms = ps->last_scale_out_ms = ps->last_scale_in_ms = 0;
                state_remove(c, ps);
            } else {
                state_save(c, ps, p, obj);
            }
        }
        publish_replicas(c, p, st);
        if (ps && tag_jobs(ps, p, r->pool, &r->have))
            again = 0;
        if (ps && ps->poll_ms && !in_transition(st))
            ps->poll_ms = 0;
        if (st->progressing == RC_COND_TRUE)
            again = ps && ps->poll_ms ? ps->poll_ms : CTL_PROGRESS_POLL_MS;
        if (st->requeue_at_ms > 0) {
            int64_t d = st->requeue_at_ms - wall_ms();

            if (again < 0 || d < again)
                again = d > 0 ? d : 0;
        }
        log_begin(&l, LOG_INFO, wall_ms(), "reconcile.plan");
        log_str(&l, "key", r->key);
        log_str(&l, "rid", r->rid);
        log_int(&l, "actions", (long long)plan.n_actions);
        log_int(&l, "replicas", st->replicas);
        log_int(&l, "ready", st->ready_replicas);
        log_str(&l, "reason", st->reason);
        log_str(&l, "message", st->message);
        log_int(&l, "again_ms", (long long)again);
        log_end(&l);
        if (obj && c->be.status)
            c->be.status(c->be.arg, p, obj);
        json_decref(obj);
        if (ps && ps->gone && c->be.gone)
            c->be.gone(c->be.arg, p);
        else if (ps && ps->gone)
            uv_timer_start(&c->reload, on_reload, 0, 0); /* forget its manifest */
    }
    if (plan.n_actions > 0 && ((c->be.may_write && !c->be.may_write(c->be.arg, p)) ||
                               busy_unknown_blocks(c, r, p, &plan))) {
        log_begin(&l, LOG_DEBUG, wall_ms(), "reconcile.write_deferred");
        log_str(&l, "key", r->key);
        log_end(&l);
        rc_plan_release(&plan);
        return_jobs(r);
        rec_finish(r, true, false, CTL_PROGRESS_POLL_MS);
        return;
    }
    if (plan.n_actions == 0) {
        struct pstate *ps = pstate(c, r->pool, false);

        if (ps) /* no write waits now: a later wait starts its own clock */
            ps->busy_since_ms = 0;
        return_unused_jobs(r, &plan);
        rc_plan_release(&plan);
        rec_finish(r, true, false, again);
        return;
    }
    {
        struct pstate *ps = pstate(c, r->pool, true);

        if (ps && scale_set_busy(r, &plan, ps)) {
            log_begin(&l, LOG_INFO, wall_ms(), "reconcile.write_deferred");
            log_str(&l, "key", r->key);
            log_str(&l, "rid", r->rid);
            log_word(&l, "a scale set operation is still running");
            log_end(&l);
            rc_plan_release(&plan);
            return_jobs(r);
            rec_finish(r, true, false, ps->poll_ms ? ps->poll_ms : CTL_PROGRESS_POLL_MS);
            return;
        }
    }
    if (r->hybrid_url)
        for (size_t i = 0; i < plan.n_actions; i++)
            if (plan.actions[i].body)
                fill_hybrid_url(plan.actions[i].body, r->hybrid_url);
    return_unused_jobs(r, &plan); /* a failed run returns the others too (return_jobs) */
    if (exec_run(c->exec, &plan, r->pool, on_exec_done, r, &err) < 0) {
        rc_plan_release(&plan);
        return_jobs(r);
        rec_finish(r, false, true, -1);
        return;
    }
    rc_plan_release(&plan);
}

/* ---- observe ---- */

static struct step *add_step(struct rec *r, bool list, bool parent, const char *api,
                             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static struct step *add_step(struct rec *r, bool list, bool parent, const char *api,
                             const char *fmt, ...)
{
    struct step *s;
    va_list ap;

    if (r->n_steps == OBSERVE_STEPS_MAX)
        return NULL;
    s = &r->steps[r->n_steps++];
    s->kind = STEP_OBSERVE;
    s->list = list;
    s->optional_parent = parent;
    s->api = api;
    va_start(ap, fmt);
    vsnprintf(s->path, sizeof(s->path), fmt, ap);
    va_end(ap);
    return s;
}

/* The reads of one reconcile (DESIGN.md §5: one list per resource kind). */
static void plan_reads(struct ctl *c, struct rec *r, const struct rc_pool *p)
{
    const struct rc_pool_spec *ps = &p->spec;
    char id[RC_ARM_ID_MAX];

    if (ps->image_ref.name) {
        const struct rc_image_version *iv =
            rc_desired_image(&c->want, p->meta.namespace, ps->image_ref.name);

        if (iv)
            add_step(r, true, false, RC_API_GALLERY,
                     "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/galleries/%s/"
                     "images/%s/versions",
                     iv->spec.gallery_subscription_id, iv->spec.gallery_resource_group,
                     iv->spec.gallery_name, iv->spec.image_definition);
    }
    if (ps->mode == RC_MODE_SCALESET) {
        if (rc_arm_vmss_id(p, id, sizeof(id)) == 0) {
            add_step(r, false, true, RC_API_COMPUTE, "%s", id);
            add_step(r, true, false, RC_API_COMPUTE, "%s/virtualMachines?$expand=instanceView", id);
        }
        return;
    }
    {
        struct step *s = add_step(
            r, true, false, RC_API_COMPUTE,
            "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines",
            ps->subscription_id, ps->resource_group);

        if (s && (ps->n_extensions || ps->hybrid_worker.automation_account_id))
            s->kind = STEP_VMS;
    }
    add_step(r, true, false, RC_API_NETWORK,
             "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkInterfaces",
             ps->subscription_id, ps->resource_group);
    if (ps->hybrid_worker.automation_account_id) {
        struct step *s = add_step(r, false, false, RC_API_AUTOMATION, "%s",
                                  ps->hybrid_worker.automation_account_id);

        if (s)
            s->kind = STEP_ACCOUNT;
    }
    if (ps->hybrid_worker.automation_account_id && rc_arm_worker_group_id(p, id, sizeof(id)) == 0) {
        add_step(r, false, true, RC_API_AUTOMATION, "%s", id);
        add_step(r, true, false, RC_API_AUTOMATION, "%s/hybridRunbookWorkers", id);
    }
    if (ps->after_create.automation_account_id) {
        struct step *s = add_step(r, true, false, RC_API_AUTOMATION, "%s/jobs",
                                  ps->after_create.automation_account_id);

        if (s)
            s->kind = STEP_JOBS;
    }
}

/* Job lists carry no parameters (so not the VM a job validates): GET each job
 * whose deterministic name (rc_arm_job_id: VM id and attempt) belongs to one
 * of this pool's VMs observed so far. */
static void add_job_gets(struct ctl *c, struct rec *r, const json_t *list)
{
    const char *slash = strchr(r->pool, '/');
    const struct rc_pool *p;
    char ns[256];
    size_t i;
    json_t *item;

    snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - r->pool) : 0, r->pool);
    p = slash ? rc_desired_pool(&c->want, ns, slash + 1) : NULL;
    if (!p)
        return;
    json_array_foreach(json_object_get(list, "value"), i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));

        for (size_t k = 0; name && k < r->have.n_instances; k++) {
            const struct rc_obs_instance *in = &r->have.instances[k];

            if (!in->own.pool || strcmp(in->own.pool, r->pool) != 0)
                continue;
            for (int attempt = 1; attempt <= p->spec.after_create.retries + 1; attempt++) {
                char id[RC_ARM_ID_MAX];
                const char *jn;

                if (rc_arm_job_id(p, in->id, attempt, id, sizeof(id)) < 0)
                    continue;
                jn = strrchr(id, '/');
                if (jn && rc_strcasecmp(jn + 1, name) == 0)
                    add_step(r, false, false, RC_API_AUTOMATION, "%s", id);
            }
        }
    }
}

/* Replaces "$hybridServiceUrl:<account id>" placeholders (rc_plan_vm.c) with
 * the account's URL read in this reconcile. */
static void fill_hybrid_url(json_t *node, const char *url)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_array(node)) {
        json_array_foreach(node, i, v) fill_hybrid_url(v, url);
        return;
    }
    json_object_foreach(node, k, v)
    {
        if (json_is_string(v) && strncmp(json_string_value(v), "$hybridServiceUrl:", 18) == 0)
            json_string_set(v, url);
        else if (json_is_object(v) || json_is_array(v))
            fill_hybrid_url(v, url);
    }
}

/* rc_obs_job.created_ms from properties.creationTime (else startTime) of
 * the job GET, when rc_observe_arm left it 0 (its parse_job does not read it
 * yet; rc_observed.h documents it as rc_observe's). */
static void fill_job_created(struct rec *r, size_t from, const json_t *body)
{
    static const char *const fields[] = {"creationTime", "startTime"};

    if (!json_is_object(body) || json_object_get(body, "value"))
        return; /* a job is read one GET at a time (add_job_gets) */
    for (size_t k = from; k < r->have.n_jobs; k++) {
        const json_t *props = json_object_get(body, "properties");

        if (r->have.jobs[k].created_ms != 0)
            continue;
        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
            const char *t = json_string_value(json_object_get(props, fields[f]));
            struct rc_err err = {0};
            int64_t ms;

            if (t && rc_time_parse(t, &ms, &err) == 0 && ms > 0) {
                r->have.jobs[k].created_ms = ms;
                break;
            }
        }
    }
}

static void next_step(struct rec *r);

static void on_read(void *arg, const struct az_result *res)
{
    struct rec *r = arg;
    struct ctl *c = r->c;
    struct step *s = &r->steps[r->cur];

    if (c->stopping) {
        rec_finish(r, false, true, -1);
        return;
    }
    if (res->status == 404 && s->optional_parent) {
        r->cur = r->n_steps; /* nothing below a missing parent */
    } else if (res->err.code) {
        struct log_line l;

        /* A failed read never means "gone" (rule 4): no plan this time. */
        log_begin(&l, LOG_WARN, wall_ms(), "observe.failed");
        log_str(&l, "key", r->key);
        log_str(&l, "rid", r->rid);
        log_str(&l, "path", s->path);
        log_str(&l, "err", res->err.msg);
        log_end(&l);
        rec_finish(r, false, res->err.klass == RC_CLASS_TRANSIENT, -1);
        return;
    } else if (s->kind == STEP_JOBS) {
        add_job_gets(c, r, res->body);
        r->cur++;
    } else if (s->kind == STEP_ACCOUNT) {
        const char *url = json_string_value(json_object_get(
            json_object_get(res->body, "properties"), "automationHybridServiceUrl"));

        free(r->hybrid_url);
        r->hybrid_url = url ? strdup(url) : NULL;
        r->cur++;
    } else {
        struct rc_errs errs = {0};
        size_t before = r->have.n_instances;

        size_t jobs_before = r->have.n_jobs;

        if (res->body)
            rc_observe_arm(&r->have, res->body, &errs);
        fill_job_created(r, jobs_before, res->body);
        log_errs(&errs, "observe.skipped");
        rc_errs_release(&errs);
        r->cur++;
        /* Extension states (HRW registration, agents) are per VM. */
        for (size_t k = before; s->kind == STEP_VMS && k < r->have.n_instances; k++)
            if (r->have.instances[k].own.pool &&
                strcmp(r->have.instances[k].own.pool, r->pool) == 0)
                add_step(r, true, false, RC_API_COMPUTE, "%s/extensions", r->have.instances[k].id);
    }
    next_step(r);
}

static void next_step(struct rec *r)
{
    struct ctl *c = r->c;
    struct step *s;
    struct rc_err err = {0};
    int rc;

    if (r->cur >= r->n_steps) {
        plan_and_execute(r);
        return;
    }
    s = &r->steps[r->cur];
    rc = s->list ? c->ops.list(c->ops.self, s->path, s->api, on_read, r, &err)
                 : c->ops.get(c->ops.self, s->path, s->api, on_read, r, &err);
    if (rc < 0)
        rec_finish(r, false, true, -1);
}

static void start_reconcile(struct ctl *c, const char *key)
{
    struct rec *r = calloc(1, sizeof(*r));
    const char *pool = strchr(key, '/');
    const struct rc_pool *p;
    char ns[256], name[256];
    const char *slash;
    struct log_line l;

    c->active++;
    if (!r || !pool) {
        free(r);
        c->active--;
        wq_retry(c->wq, key, (int64_t)uv_now(&c->loop));
        return;
    }
    r->c = c;
    r->t0 = uv_now(&c->loop);
    rc_strlcpy(r->key, key, sizeof(r->key));
    rc_strlcpy(r->pool, pool + 1, sizeof(r->pool));
    snprintf(r->rid, sizeof(r->rid), "%llx", (unsigned long long)++c->rid);
    slash = strchr(r->pool, '/');
    snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - r->pool) : 0, r->pool);
    snprintf(name, sizeof(name), "%s", slash ? slash + 1 : "");
    p = rc_desired_pool(&c->want, ns, name);
    log_begin(&l, LOG_DEBUG, wall_ms(), "reconcile.start");
    log_str(&l, "key", key);
    log_str(&l, "rid", r->rid);
    log_end(&l);
    if (!p) {
        rec_finish(r, true, false, -1);
        return;
    }
    plan_reads(c, r, p);
    next_step(r);
}

/* ---- HTTP API ---- */

static char *dump(json_t *j, size_t *ret_len)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    json_decref(j);
    *ret_len = s ? strlen(s) : 0;
    return s;
}

static void update_arm_metrics(struct ctl *c)
{
    const struct az_arm_stats *st = az_arm_stats(c->arm);

    for (int b = 0; b < AZ_BUCKETS; b++) {
        const char *labels[1] = {az_bucket_name((enum az_bucket)b)};

        if (st->remaining[b] >= 0)
            metrics_set(c->met.arm_ratelimit_remaining, labels, (double)st->remaining[b]);
    }
    metrics_clear(c->met.arm_throttled_seconds);
    metrics_add(c->met.arm_throttled_seconds, NULL, st->throttled_seconds);
}

/* An ImageVersion or ExpiryPolicy as /api shows it: metadata, the spec fields
 * a reader needs, and the status the controller has for it (valid, and which
 * pools use it; builds are not run in this mode yet). */
static json_t *ref_object(struct ctl *c, bool image, const struct rc_meta *m, json_t *spec)
{
    json_t *used = json_array();

    for (size_t i = 0; i < c->want.n_pools; i++) {
        const struct rc_pool *p = &c->want.pools[i];
        const char *ref = image ? p->spec.image_ref.name : p->spec.expiry_policy_ref.name;

        if (ref && strcmp(ref, m->name) == 0 && strcmp(p->meta.namespace, m->namespace) == 0)
            json_array_append_new(used, json_string(p->meta.name));
    }
    return json_pack("{s:s,s:s,s:{s:s,s:s},s:o,s:{s:[{s:s,s:s,s:s,s:s}],s:o}}", "apiVersion",
                     RC_API_VERSION, "kind", image ? "ImageVersion" : "ExpiryPolicy", "metadata",
                     "name", m->name, "namespace", m->namespace, "spec", spec, "status",
                     "conditions", "type", "Ready", "status", "True", "reason", "Valid", "message",
                     json_array_size(used) ? "in use" : "not used by any pool", "usedBy", used);
}

static json_t *iv_object(struct ctl *c, const struct rc_image_version *iv)
{
    const struct rc_image_version_spec *s = &iv->spec;

    return ref_object(c, true, &iv->meta,
                      json_pack("{s:s,s:s,s:s,s:s,s:s}", "subscriptionId",
                                s->gallery_subscription_id ? s->gallery_subscription_id : "",
                                "resourceGroup",
                                s->gallery_resource_group ? s->gallery_resource_group : "",
                                "gallery", s->gallery_name ? s->gallery_name : "",
                                "imageDefinition", s->image_definition ? s->image_definition : "",
                                "version", s->version ? s->version : "latest"));
}

static json_t *ep_object(struct ctl *c, const struct rc_expiry_policy *ep)
{
    return ref_object(c, false, &ep->meta,
                      json_pack("{s:I,s:I,s:i}", "maxAgeSeconds",
                                (json_int_t)(ep->spec.max_age_ms / 1000), "forceAfterSeconds",
                                (json_int_t)(ep->spec.force_after_ms / 1000), "maintenanceWindows",
                                (int)ep->spec.n_windows));
}

/* GET /api/v1/namespaces/{ns}/{imageversions|expirypolicies}[/{name}]. */
static void serve_refs(struct ctl *c, bool image, const char *ns, const char *name,
                       struct httpd_resp *resp)
{
    json_t *items = json_array();
    size_t n = image ? c->want.n_images : c->want.n_policies;

    for (size_t i = 0; i < n; i++) {
        const struct rc_meta *m = image ? &c->want.images[i].meta : &c->want.policies[i].meta;
        json_t *obj;

        if (strcmp(m->namespace, ns) != 0 || (name && strcmp(m->name, name) != 0))
            continue;
        obj = image ? iv_object(c, &c->want.images[i]) : ep_object(c, &c->want.policies[i]);
        if (name) {
            json_decref(items);
            resp->body = dump(obj, &resp->len);
            resp->content_type = "application/json";
            return;
        }
        json_array_append_new(items, obj);
    }
    if (name) {
        json_decref(items);
        resp->status = 404;
        resp->body = strdup("{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":"
                            "\"NotFound\",\"code\":404}\n");
        resp->len = resp->body ? strlen(resp->body) : 0;
        return;
    }
    resp->body = dump(json_pack("{s:s,s:s,s:o}", "apiVersion", RC_API_VERSION, "kind",
                                image ? "ImageVersionList" : "ExpiryPolicyList", "items", items),
                      &resp->len);
    resp->content_type = "application/json";
}

static const char *pool_key(const struct rc_pool *p, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", p->meta.namespace, p->meta.name);
    return buf;
}

/* A pool as /api shows it: its last status, else its metadata. New reference. */
static json_t *pool_object(struct ctl *c, const struct rc_pool *p)
{
    char pool[300];
    struct pstate *ps;
    json_t *obj = NULL;

    snprintf(pool, sizeof(pool), "%s/%s", p->meta.namespace, p->meta.name);
    ps = pstate(c, pool, false);
    if (ps && ps->status)
        obj = json_loads(ps->status, 0, NULL);
    if (!obj)
        obj = json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", RC_API_VERSION, "kind", "WorkerPool",
                        "metadata", "name", p->meta.name, "namespace", p->meta.namespace);
    return obj;
}

struct textbuf {
    char *s;
    size_t len, cap;
    bool failed;
};

static void tb_add(struct textbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *v;

        while (cap < b->len + n + 1)
            cap *= 2;
        v = realloc(b->s, cap);
        if (!v) {
            b->failed = true;
            return;
        }
        b->s = v;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* GET .../namespaces/NS/workerpools[/NAME]. The list is written one pool at
 * a time from the stored compact texts, one item per line (a json_t tree of
 * 1,000 pools would take tens of MB for a moment, and parsing every pool's
 * text again costs CPU the reconciles need); a single pool is indented. */
static void serve_pools(struct ctl *c, const char *ns, const char *name, struct httpd_resp *resp)
{
    static const char head[] = "{\n  \"apiVersion\": \"" RC_API_VERSION
                               "\",\n  \"kind\": \"WorkerPoolList\",\n  \"items\": [";
    struct textbuf b = {0};
    size_t n = 0;

    if (!name)
        tb_add(&b, head, strlen(head));
    for (size_t i = 0; i < c->want.n_pools; i++) {
        const struct rc_pool *p = &c->want.pools[i];
        struct pstate *ps;
        char key[300];
        char *text;

        if (strcmp(p->meta.namespace, ns) != 0 || (name && strcmp(p->meta.name, name) != 0))
            continue;
        if (name) {
            resp->body = dump(pool_object(c, p), &resp->len);
            resp->content_type = "application/json";
            return;
        }
        /* the stored compact text as it is (a pool without a status yet:
         * its metadata), one item per line */
        ps = pstate(c, pool_key(p, key, sizeof(key)), false);
        text = ps && ps->status ? NULL : dump(pool_object(c, p), &(size_t){0});
        if (!(ps && ps->status) && !text) {
            b.failed = true;
            break;
        }
        tb_add(&b, n ? ",\n    " : "\n    ", n ? 6 : 5);
        n++;
        tb_add(&b, text ? text : ps->status, strlen(text ? text : ps->status));
        free(text);
    }
    if (name) {
        resp->status = 404;
        resp->body = strdup("{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":"
                            "\"NotFound\",\"code\":404}\n");
        resp->len = resp->body ? strlen(resp->body) : 0;
        return;
    }
    tb_add(&b, n ? "\n  ]\n}" : "]\n}", n ? 6 : 3);
    if (b.failed) {
        free(b.s);
        resp->status = 500;
        resp->body = strdup("out of memory\n");
        resp->len = resp->body ? strlen(resp->body) : 0;
        return;
    }
    resp->body = b.s;
    resp->len = b.len;
    resp->content_type = "application/json";
}

static void serve(void *arg, const struct httpd_req *req, struct httpd_resp *resp)
{
    struct ctl *c = arg;
    char ns[256] = "", kind[64] = "", name[256] = "";
    int n;

    if (strcmp(req->path, "/healthz") == 0) {
        resp->body = strdup("ok\n");
    } else if (strcmp(req->path, "/readyz") == 0) {
        resp->status = c->synced ? 200 : 503;
        resp->body = strdup(c->synced ? "ok\n" : "source not synced yet\n");
    } else if (strcmp(req->path, "/metrics") == 0) {
        update_arm_metrics(c);
        resp->body = metrics_render(c->met.reg, &resp->len);
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        return;
    } else if ((n = sscanf(req->path, "/api/v1/namespaces/%255[^/]/%63[^/]/%255[^/]", ns, kind,
                           name)) >= 2 &&
               strcmp(kind, "workerpools") == 0) {
        serve_pools(c, ns, n == 3 ? name : NULL, resp);
        return;
    } else if (n >= 2 &&
               (strcmp(kind, "imageversions") == 0 || strcmp(kind, "expirypolicies") == 0)) {
        serve_refs(c, strcmp(kind, "imageversions") == 0, ns, n == 3 ? name : NULL, resp);
        return;
    } else {
        resp->status = 404;
        resp->body = strdup("not found\n");
    }
    resp->len = resp->body ? strlen(resp->body) : 0;
}

/* ---- secrets (--secrets-dir DIR/<namespace>/<name>/<key>) ---- */

static bool safe_part(const char *s)
{
    return s && *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static int read_secret(void *arg, const char *ns, const char *name, const char *key,
                       char **ret_value)
{
    struct ctl *c = arg;
    char path[4096];
    struct rc_err err = {0};
    size_t len;

    if (c->be.secret)
        return c->be.secret(c->be.arg, ns, name, key, ret_value);
    if (!c->o->secrets_dir || !safe_part(ns) || !safe_part(name) || !safe_part(key))
        return -RC_ENOTFOUND;
    if (snprintf(path, sizeof(path), "%s/%s/%s/%s", c->o->secrets_dir, ns, name, key) >=
        (int)sizeof(path))
        return -RC_ELIMIT;
    return ctl_read_file(path, SECRET_MAX, ret_value, &len, &err) < 0 ? -RC_ENOTFOUND : 0;
}

/* ---- lifecycle ---- */

static void on_resync(uv_timer_t *t)
{
    struct ctl *c = t->data;

    if (c->be.stop) /* another source: it resyncs itself; look at every pool */
        ctl_enqueue_all(c);
    else
        reload(c, true);
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

static void shutdown_now(struct ctl *c)
{
    struct log_line l;

    if (c->stopping)
        return;
    c->stopping = true;
    log_begin(&l, LOG_INFO, wall_ms(), "shutdown");
    log_int(&l, "reconciles_in_flight", (long long)c->active);
    log_end(&l);
    uv_timer_stop(&c->tick);
    uv_timer_stop(&c->resync);
    uv_timer_stop(&c->reload);
    uv_signal_stop(&c->sigterm);
    uv_signal_stop(&c->sigint);
    src_dir_free(c->src);
    c->src = NULL;
    if (c->be.stop)
        c->be.stop(c->be.arg);
    memset(&c->be, 0, sizeof(c->be));
    httpd_close(c->httpd);
    evq_free(c->evq);
    c->evq = NULL;
    signals_free(c->sig);
    c->sig = NULL;
    /* In-flight requests are abandoned: every write is an idempotent PUT,
     * PATCH, POST or DELETE that the next start re-plans from observation. */
    http_free(c->http);
    c->http = NULL;
    az_arm_free(c->arm);
    c->arm = NULL;
    exec_free(c->exec);
    c->exec = NULL;
    az_cred_free(c->cred);
    c->cred = NULL;
    az_cred_free(c->storage_cred);
    c->storage_cred = NULL;
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    shutdown_now(s->data);
}

void ctl_opts_init(struct ctl_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->cloud = "AzureCloud";
    o->listen = "127.0.0.1:9440";
    o->resync_ms = 5 * 60 * 1000;
    o->max_deletions = 1;
    o->log_level = LOG_INFO;
}

static int config_error(const char *fmt, const char *detail)
{
    char msg[512];
    struct log_line l;

    snprintf(msg, sizeof(msg), "%s%s", fmt, detail ? detail : "");
    log_begin(&l, LOG_ERROR, wall_ms(), "config.invalid");
    log_str(&l, "err", msg);
    log_end(&l);
    return 1;
}

int ctl_run(const struct ctl_opts *o)
{
    struct ctl *c = calloc(1, sizeof(*c));
    const struct cloud *cloud = NULL;
    struct az_cred_config cred;
    struct http_opts hopts = {0};
    struct exec_opts xopts = {0};
    struct az_cred_config scred;
    struct signals_opts sigopts = {0};
    struct evq_opts eopts = {0};
    char scope[256], addr[128];
    struct rc_err err = {0};
    const char *arm;
    int port, rc = 0;
    struct log_line l;

    if (!c)
        return 1;
    log_set_level((enum log_level)o->log_level);
    c->o = o;
    for (size_t i = 0; i < sizeof(clouds) / sizeof(clouds[0]); i++)
        if (strcmp(o->cloud, clouds[i].name) == 0)
            cloud = &clouds[i];
    if (!cloud) {
        free(c);
        return config_error("unknown --cloud ", o->cloud);
    }
    if (!o->source_dir && !o->source_kube) {
        free(c);
        return config_error("--source dir:PATH or --source kube is required", NULL);
    }
    if (httpd_parse_listen(o->listen, addr, sizeof(addr), &port, &err) < 0) {
        free(c);
        return config_error(err.msg, NULL);
    }
    arm = o->arm_endpoint ? o->arm_endpoint : cloud->arm;
    snprintf(scope, sizeof(scope), "%s/.default", cloud->arm);
    uv_loop_init(&c->loop);
    uv_timer_init(&c->loop, &c->tick);
    uv_timer_init(&c->loop, &c->resync);
    uv_timer_init(&c->loop, &c->reload);
    c->tick.data = c->resync.data = c->reload.data = c;
    uv_signal_init(&c->loop, &c->sigterm);
    uv_signal_init(&c->loop, &c->sigint);
    c->sigterm.data = c->sigint.data = c;
    uv_signal_start(&c->sigterm, on_signal, SIGTERM);
    uv_signal_start(&c->sigint, on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    hopts.ca_file = o->ca_file;
    az_cred_config_from_env(&cred, cloud->authority,
                            o->imds_endpoint ? o->imds_endpoint : "http://169.254.169.254", scope);
    c->wq = wq_new(5, 5 * 60 * 1000, 10, 100);
    c->http = http_new(&c->loop, &hopts);
    c->cred = c->http ? az_cred_new(&c->loop, c->http, &cred) : NULL;
    c->arm = c->cred ? az_arm_new(&c->loop, c->http, c->cred, arm) : NULL;
    scred = cred; /* the same identity, for storage queues (signals, --events-queue) */
    scred.scope = "https://storage.azure.com/.default";
    c->storage_cred = c->http ? az_cred_new(&c->loop, c->http, &scred) : NULL;
    sigopts.secret = read_secret;
    sigopts.secret_arg = c;
    sigopts.poke = on_signals_poke;
    sigopts.poke_arg = c;
    c->sig = c->storage_cred ? signals_new(&c->loop, c->http, c->storage_cred, &sigopts) : NULL;
    if (!c->wq || !c->arm || !c->sig || azpool_metrics_init(&c->met, AZPOOL_VERSION) < 0) {
        rc = config_error("cannot initialise the Azure client", NULL);
        goto out;
    }
    az_arm_ops(c->arm, &c->ops);
    xopts.secret = read_secret;
    xopts.secret_arg = c;
    xopts.on_action = on_action;
    xopts.action_arg = c;
    xopts.accept = true;
    c->exec = exec_new(&c->loop, &c->ops, &xopts);
    c->httpd = httpd_new(&c->loop, addr, port, serve, c, &err);
    if (!c->exec || !c->httpd) {
        rc = config_error(err.msg[0] ? err.msg : "cannot start", NULL);
        goto out;
    }
    if (o->events_queue) {
        eopts.conn = getenv("AZURE_STORAGE_CONNECTION_STRING");
        eopts.on_event = on_event;
        eopts.arg = c;
        c->evq = evq_new(&c->loop, c->http, c->storage_cred, o->events_queue, &eopts, &err);
        if (!c->evq) {
            rc = config_error("--events-queue: ", err.msg);
            goto out;
        }
    }
    if (o->source_kube) {
        if (ctl_kube_start(c, o, &c->be, &err) < 0) {
            rc = config_error(err.msg, NULL);
            goto out;
        }
    } else if (!(c->src = src_dir_new(&c->loop, o->source_dir, on_source_change, c, &err))) {
        rc = config_error(err.msg, NULL);
        goto out;
    }
    log_begin(&l, LOG_INFO, wall_ms(), "start");
    log_str(&l, "version", AZPOOL_VERSION);
    log_str(&l, "source", o->source_kube ? "kube" : o->source_dir);
    log_str(&l, "arm", arm);
    log_str(&l, "credential", az_cred_kind_name(cred.kind));
    log_int(&l, "listen_port", httpd_port(c->httpd));
    log_str(&l, "metrics", "/metrics");
    log_str(&l, "api", "/api/v1/namespaces/{ns}/workerpools");
    log_end(&l);
    if (o->state_dir && mkdir(o->state_dir, 0700) < 0 && errno != EEXIST) {
        rc = config_error("cannot create --state-dir ", o->state_dir);
        goto out;
    }
    if (!o->source_kube) {
        state_load(c);
        reload(c, true);
    }
    uv_timer_start(&c->resync, on_resync, (uint64_t)o->resync_ms, (uint64_t)o->resync_ms);
    uv_run(&c->loop, UV_RUN_DEFAULT);
out:
    shutdown_now(c);
    uv_close((uv_handle_t *)&c->tick, close_cb);
    uv_close((uv_handle_t *)&c->resync, close_cb);
    uv_close((uv_handle_t *)&c->reload, close_cb);
    uv_close((uv_handle_t *)&c->sigterm, close_cb);
    uv_close((uv_handle_t *)&c->sigint, close_cb);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    httpd_free(c->httpd);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&c->loop) != 0)
        rc = rc ? rc : 0; /* handles left by a library: nothing more to do at exit */
    wq_free(c->wq);
    azpool_metrics_release(&c->met);
    rc_desired_release(&c->want);
    ctl_zones_release(&c->zones);
    for (size_t i = 0; i < c->n_files; i++) {
        free(c->files[i].path);
        free(c->files[i].text);
    }
    free(c->files);
    for (size_t i = 0; i < c->n_pools; i++) {
        free(c->pools[i].pool);
        free(c->pools[i].halted_image);
        free(c->pools[i].saved);
        free(c->pools[i].status);
        free(c->pools[i].failure);
        names_clear(&c->pools[i].tag_busy);
        names_clear(&c->pools[i].tag_done);
    }
    free(c->pools);
    free(c);
    log_begin(&l, LOG_INFO, wall_ms(), "stopped");
    log_int(&l, "exit", rc);
    log_end(&l);
    return rc;
}
