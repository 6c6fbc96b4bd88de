/*
 * ctl_int.h - the seam between the reconciler (ctl_run.c) and its sources.
 *
 * The reconciler owns the desired state, the work queue and the per-pool
 * status. A source (the directory source inside ctl_run.c, the Kubernetes
 * source of ctl_kube.c) builds a complete struct rc_desired whenever its
 * input changes, hands it over with ctl_set_desired() and enqueues the pools
 * whose definition changed. Nothing here is thread-safe: everything runs on
 * the loop of ctl_loop().
 *
 * A source may also install a backend: callbacks the reconciler calls at the
 * points where the outside world wants to know (status changed, a deleting
 * pool is gone, an action finished) or where it needs something from the
 * source (a secret value, whether a pool may be written to now). Every
 * callback is optional; a NULL callback keeps the GitOps behaviour.
 *
 * Ownership: pointers passed to callbacks are valid only during the call.
 * Pool keys are "namespace/name".
 */
#ifndef AZPOOL_CTL_INT_H
#define AZPOOL_CTL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "az.h"
#include "rc_err.h"
#include "rc_model.h"
#include "rc_plan.h"

struct ctl;
struct ctl_opts;
struct http;

struct ctl_backend {
    void *arg;
    /* After every reconcile that planned p: obj is the pool as /api shows it
     * ({"apiVersion", "kind", "metadata", "status"}). Called also when nothing
     * changed; writing only on change is the backend's job. */
    void (*status)(void *arg, const struct rc_pool *p, const json_t *obj);
    /* p is deleting and nothing of it is left in Azure (or, with deletionPolicy
     * Orphan, its tags are removed): the finalizer may go. */
    void (*gone)(void *arg, const struct rc_pool *p);
    /* An action of pool (key) finished; res->err.code is 0 on success. */
    void (*action)(void *arg, const char *pool, const struct rc_action *a,
                   const struct az_result *res);
    /* A secret value (new string in *ret_value). -RC_ENOTFOUND when absent.
     * NULL: --secrets-dir. */
    int (*secret)(void *arg, const char *ns, const char *name, const char *key, char **ret_value);
    /* May the reconciler write to Azure for p now (e.g. the finalizer is in
     * place)? false: it plans and reports status, issues no action and looks
     * again after CTL_PROGRESS_POLL_MS. */
    bool (*may_write)(void *arg, const struct rc_pool *p);
    /* Called once at shutdown, before the loop is closed: stop timers, abandon
     * requests, free. The backend's handles must be closed by then. */
    void (*stop)(void *arg);
};

/* The facts the planner hands off between reconciles that live outside ARM
 * (ctl_run.h "Remembered facts"); a source that keeps them elsewhere (the
 * Kubernetes status) restores them with ctl_remember() before the first
 * reconcile of a pool. */
struct ctl_remembered {
    int desired_replicas; /* -1 unknown */
    int64_t last_scale_ms, last_scale_out_ms, last_scale_in_ms;
    const char *halted_image; /* NULL: none */
};

uv_loop_t *ctl_loop(struct ctl *c);
struct http *ctl_http(struct ctl *c);

/* Replaces the desired state with *want (taken over; *want is left zeroed)
 * and reloads the maintenance-window zones. Enqueues nothing. */
void ctl_set_desired(struct ctl *c, struct rc_desired *want);
/* Enqueues one pool, or every pool of the desired state, now. */
void ctl_enqueue(struct ctl *c, const char *ns, const char *name);
void ctl_enqueue_all(struct ctl *c);
/* The source has delivered its first complete state (/readyz). */
void ctl_set_synced(struct ctl *c, bool synced);
/* Standby (not the leader): no reconcile starts while set; clearing it
 * enqueues every pool. */
void ctl_set_standby(struct ctl *c, bool standby);
/* Restores a pool's remembered facts when the reconciler has none yet. */
int ctl_remember(struct ctl *c, const char *ns, const char *name, const struct ctl_remembered *r);

/* Implemented by ctl_kube.c: starts the Kubernetes source on c's loop and
 * fills *ret_be. Returns 0, or -1 with err set (a configuration error). */
int ctl_kube_start(struct ctl *c, const struct ctl_opts *o, struct ctl_backend *ret_be,
                   struct rc_err *err);

#endif
