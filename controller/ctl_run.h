/*
 * ctl_run.h - `azpool run`: the reconciling controller (GitOps mode).
 *
 * One libuv loop hosts everything: the directory source, the work queue, the
 * ARM client (curl multi), the executor and the HTTP listener (lws). A pool is
 * reconciled by one reconcile at a time (wq): observe it (one GET/list per
 * resource kind), plan it (rc_plan with only_pool), execute the plan, record
 * its status, requeue. A reconcile does not wait for provisioning: Compute
 * writes of the plan's last wave end it once ARM accepted them (exec.h), and
 * the next observe follows the operation (the planner does not repeat a write
 * whose effect is visible in progress). A plan that writes to a scale set
 * observed Creating or Updating waits (reconcile.write_deferred) until that
 * operation ends, at most AZ_LRO_MAX_MS; DELETEs do not wait. While a pool is progressing it is
 * looked at again every CTL_PROGRESS_POLL_MS, or after the accepted
 * operations' Retry-After while its instances are in transition; waits with a
 * known end come back at that time; every pool is resynced every --resync.
 *
 * Manifests: the tree is re-read on every change. Each file's last good text
 * is kept; a file that fails validation keeps being used in its last good
 * version while the others reconcile (errors are logged with file:line:col and
 * shown on /api). A file that disappears from a readable tree marks its pools
 * deleting (the planner destroys or orphans them per deletionPolicy), at most
 * --max-deletions pools per change unless --allow-mass-delete (DESIGN.md §4
 * rule 4); an unreadable or empty tree deletes nothing.
 *
 * Remembered facts: the planner's hand-offs that live outside ARM (status
 * halted_image, desiredReplicas, the last scale time and, derived from it, the
 * last scale-out and scale-in times: a new last_scale_ms went out when the
 * decided size grew, in when it shrank) are kept per pool and passed back in
 * every reconcile as rc_obs_pool. rc_obs_job.created_ms is filled from the
 * job's properties.creationTime (else startTime) when rc_observe left it 0.
 *
 * --state-dir D: D/<namespace>/<name>.json per pool, {"pool", "remembered":
 * {desiredReplicas, lastScaleMs, lastScaleOutMs, lastScaleInMs, haltedImage},
 * "status": {...the /api status...}, "manifest": {"file", "text"}}, the last
 * being the pool's manifest file as last read valid: at start those files are
 * known but absent until the tree shows them, so a manifest removed while the
 * controller was down still destroys its pool (within --max-deletions), and a
 * pool whose file was renamed is found in its new file and kept (a pool
 * defined in a file of the tree always wins over its old, absent file, also
 * for a rename while running). Written only when it changed, atomically
 * (temporary file, fsync, rename, fsync of the directory), removed when the
 * pool is gone, loaded at start (a file that does not parse is ignored with
 * event=state.ignored: everything in it can be re-derived from Azure except
 * the remembered facts). No secret value is ever written there: the status
 * holds none. /api also serves imageversions and expirypolicies (metadata, the
 * main spec fields, status Ready/Valid and usedBy).
 *
 * Sources: the directory source lives here; other sources (Kubernetes,
 * ctl_kube.c) feed the same reconciler through the seam of ctl_int.h.
 *
 * Signals (signals.h): each pool's autoscale metric, busy set and finished
 * jobs are handed to the planner in rc_obs_pool; a change pokes the pool.
 * While a pool's busy source has never been read, a plan that would delete or
 * reimage an instance waits (DESIGN.md §4 rule 5: nobody knows which
 * instances run a job), at most the pool's drain timeout (then the unknown
 * set counts as empty, logged once as reconcile.busy_unknown); creates do
 * not wait. --events-queue (evq.h): an Event
 * Grid event enqueues the pools that own its resource.
 *
 * Failed actions: the error of the last failed action ("<key>: <message>",
 * e.g. a Secret that cannot be read) is kept per pool and shown as Degraded
 * True, reason ActionFailed, in the status (and through the backend's status
 * callback) until an execution succeeds or a plan has nothing left to do.
 *
 * busy: {tag: {}}: an instance busy by its tag at the last plan and idle now
 * (among the status' first RC_STATUS_INSTANCES_MAX instances) finished its job:
 * it goes to the next plan as job_done (recycleAfterJob), at once.
 *
 * Not yet here (later increments): orphan collection of resources whose
 * manifest was never seen by this process, the dashboard.
 */
#ifndef AZPOOL_CTL_RUN_H
#define AZPOOL_CTL_RUN_H

#include <stdbool.h>
#include <stdint.h>

#define CTL_PROGRESS_POLL_MS 2000
/* Writes accepted by ARM (exec.h "Accepted writes") end a reconcile at once;
 * the pool is looked at again after the operation's Retry-After, kept within
 * [CTL_ACCEPTED_POLL_MIN_MS, CTL_PROGRESS_POLL_MS], and so on while its
 * instances are in transition. */
#define CTL_ACCEPTED_POLL_MIN_MS 250

struct ctl_opts {
    const char *source_dir;   /* --source dir:PATH */
    bool source_kube;         /* --source kube (then source_dir is NULL) */
    const char *kubeconfig;   /* --kubeconfig: NULL: $KUBECONFIG, ~/.kube/config, in-cluster */
    const char *context;      /* --context */
    const char *namespace;    /* --namespace: NULL watches all namespaces */
    const char *selector;     /* --selector: label selector for the pools */
    const char *events_queue; /* --events-queue URL */
    const char *cloud;        /* AzureCloud (default) | AzureChinaCloud | AzureUSGovernment */
    const char *arm_endpoint; /* overrides the cloud's */
    const char *ca_file;
    const char *imds_endpoint;
    const char *secrets_dir;
    const char *state_dir; /* --state-dir: NULL keeps status in memory only */
    const char *listen;    /* default 127.0.0.1:9440 */
    int64_t resync_ms;     /* default 5 min */
    int max_deletions;     /* default 1 */
    bool allow_mass_delete;
    int log_level; /* enum log_level */
};

void ctl_opts_init(struct ctl_opts *o);
/* Runs until SIGTERM/SIGINT. Returns the process exit code: 0 after a clean
 * shutdown, 1 on a configuration error. */
int ctl_run(const struct ctl_opts *o);

#endif
