/*
 * ctl_kube.h - the Kubernetes source of `azpool run --source kube` (the seam is
 * ctl_int.h: ctl_kube_start fills a struct ctl_backend). The helpers below are
 * the source's decisions as functions on JSON objects, so they are testable
 * without a loop.
 *
 * What the source does (ctl_kube.c):
 * - Informers (kinformer.h) on workerpools, imageversions and expirypolicies of
 *   azpool.dev/v1alpha1, in --namespace or in all namespaces; --selector
 *   filters the WorkerPools only (DECISION: ImageVersions and ExpiryPolicies are
 *   referenced by name, so a selector on them could hide what a selected pool
 *   needs). A pool that leaves the selection (its labels change) is no longer
 *   managed here: its Azure resources and its finalizer stay (the reconciler
 *   never destroys what is merely absent from the desired state) until an
 *   instance whose selector matches it takes it over. Secrets: one informer per Secret that a pool
 * references (any
 *   "*SecretRef" object with a name, anywhere in the spec), with
 *   fieldSelector metadata.name=<name> in the pool's namespace; at most
 *   CKUBE_SECRETS_MAX of them (each holds a watch connection); informers of
 *   Secrets no pool references any more are stopped.
 * - The desired state is rebuilt from the caches with the core's decoder
 *   (rc_decode_json + rc_validate_refs) at most every CKUBE_DEBOUNCE_MS after
 *   a change, once the three informers have listed (then ctl_set_synced). An
 *   object that fails the core's validation keeps its last valid version
 *   (same uid) with the current metadata (deletion, finalizers); the errors are
 *   logged once per generation (event=source.invalid).
 * - Which pools are enqueued: a pool whose generation, deletionTimestamp,
 *   finalizers, labels or annotations changed (status-only changes, such as
 *   our own status writes, enqueue nothing); every pool that references a
 *   changed ImageVersion, ExpiryPolicy or Secret.
 * - Finalizer azpool.dev/cleanup (DESIGN.md §4 rule 3): a pool that is not
 *   being deleted and lacks it gets a merge patch of metadata.finalizers
 *   carrying metadata.resourceVersion as precondition (a 409 is retried after
 *   the informer has the newer version, or after CKUBE_RETRY_MS); may_write()
 *   is false until the cached object has it, so no Azure write happens before.
 *   A pool whose spec was never valid (for the core) gets no finalizer: it is
 *   not planned, so nothing would remove it; its status says InvalidSpec
 *   (Ready False, Stalled True). A pool whose current version is invalid but
 *   an earlier one was valid keeps being planned with that version; its
 *   status then has Ready False and Stalled True with reason InvalidSpec.
 *   Known limit: the last valid version is kept in memory only, so after a
 *   restart a pool that is invalid now is treated as never valid (a deletion
 *   of it then waits until its spec is fixed or the finalizer is removed).
 *   A deleting pool goes to the planner as deleting (rc_meta.deleting); when
 *   the controller reports it gone, the finalizer is removed with a JSON patch
 *   (test + remove at its index, so other finalizers are untouched).
 * - Status: the reconciler's status object is written to .../status as a JSON
 *   merge patch (kstatus.h) only when it differs from the cached object's;
 *   conditions get observedGeneration (the generation that was planned) and a
 *   lastTransitionTime carried over while their status is unchanged, and the
 *   kstatus condition Reconciling is added (ckube_pool_status). One write
 *   per pool at a time; the latest status is written after the one in flight;
 *   the same status as our last write is not written again while the server
 *   still holds what that write made of it (its response, after pruning and
 *   defaults: no write loop when the server changes a field) or for
 *   CKUBE_STATUS_SETTLE_MS while the watch catches up with our own write.
 * - Events (kevents.h, component "azpool", instance $POD_NAME or the host
 *   name) on the pool: FinalizerAdded, CleanupCompleted, one per finished
 *   action (Created, Updated, ScaledOut, ScaledIn, Deleted, Reimaged,
 *   Registered, Deregistered, Started with the planner's reason; a failure is
 *   a Warning AzureError, ThrottledByAzure, or ActionFailed when Azure never
 *   answered (an unreadable Secret, a transport error), with the error), InvalidSpec
 *   (Warning) once per generation that fails the core's validation.
 * - ImageVersion and ExpiryPolicy status (kstatus_ref, leader only): usedBy
 *   (the pools of the namespace that refer to it, at most 256 named) and Ready
 *   True "Valid", or False "Invalid" with the core's first error while the
 *   last valid version is in use. resolvedVersion/imageId/build are not
 *   written here (the reconciler resolves images per pool).
 * - Remembered facts (ctl_int.h): at a pool's first sight, status
 *   desiredReplicas and lastScaleTime are handed to ctl_remember (the scale
 *   cooldowns restart from lastScaleTime in both directions).
 * - Secrets for the executor come from the Secret informers: data[key],
 *   base64-decoded; -RC_ETRANSIENT while its informer has not listed yet,
 *   -RC_ENOTFOUND when the Secret or key is absent.
 *
 * - Leader election (leader.h, always on in Kubernetes mode): the Lease
 *   LEADER_DEFAULT_NAME in $POD_NAMESPACE, else the configuration's namespace;
 *   identity $POD_NAME, else host_pid. Until we lead the reconciler is on
 *   standby (ctl_set_standby) and this source writes nothing to Kubernetes
 *   (no finalizer, status or Event from a follower; informers still run, so a
 *   new leader starts warm). Losing the Lease puts it back on standby at once.
 *   /readyz (ctl_set_synced) once the informers have listed and leadership is
 *   settled (we lead, or another replica does). At shutdown the Lease is
 *   released (within CKUBE_RELEASE_MS) so a standby takes over within a retry
 *   period.
 *
 * Configuration: kube_config_auto(--kubeconfig, --context, $AZPOOL_KUBE_SA_DIR)
 * (kube.h). RBAC needed: get/list/watch/patch workerpools, patch
 * workerpools/status, get/list/watch imageversions and expirypolicies,
 * get/list/watch secrets, create/patch events, create/get/update leases.
 *
 * Ownership: all helpers borrow their arguments and return new values.
 */
#ifndef AZPOOL_CTL_KUBE_H
#define AZPOOL_CTL_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CKUBE_FINALIZER        "azpool.dev/cleanup"
#define CKUBE_GROUP_PATH       "/apis/azpool.dev/v1alpha1"
#define CKUBE_SECRETS_MAX      24
#define CKUBE_DEBOUNCE_MS      10
#define CKUBE_RETRY_MS         1000
#define CKUBE_STATUS_SETTLE_MS 2000
#define CKUBE_SECRET_VALUE_MAX (1024 * 1024)
#define CKUBE_RELEASE_MS       2000

/* Whether obj.metadata.finalizers holds CKUBE_FINALIZER; its index in *ret_index
 * (may be NULL). */
bool ckube_has_finalizer(const json_t *obj, size_t *ret_index);
/* The merge patch that adds the finalizer, with obj's resourceVersion as
 * precondition: {"metadata":{"resourceVersion":RV,"finalizers":[...,F]}}. */
json_t *ckube_finalizer_add_patch(const json_t *obj);
/* The JSON patch that removes it: [{"op":"test","path":"/metadata/finalizers/I",
 * "value":F},{"op":"remove","path":"/metadata/finalizers/I"}]; NULL when absent. */
json_t *ckube_finalizer_remove_patch(const json_t *obj);
/* Whether a change of a pool needs a reconcile (see the header comment);
 * old/new NULL (added/deleted) always does. */
bool ckube_pool_changed(const json_t *old_obj, const json_t *new_obj);
/* Appends to names (a JSON array) the name of every "*SecretRef" object in
 * obj's spec, each once. */
void ckube_secret_refs(const json_t *obj, json_t *names);
/* Whether pool_obj refers to an object of kind ("ImageVersion", "ExpiryPolicy",
 * "Secret") named name (same namespace assumed). */
bool ckube_pool_refers(const json_t *pool_obj, const char *kind, const char *name);
/* The value of data[key] of a Secret object, base64-decoded, in a new string
 * (*ret). Returns 0, -RC_ENOTFOUND (no such key), -RC_EINVAL (not base64),
 * -RC_ELIMIT, -RC_ENOMEM. */
int ckube_secret_value(const json_t *secret, const char *key, char **ret);
/* The .status to write for a pool (new): the reconciler's status object (its
 * conditions Ready, Progressing, Degraded, Stalled), with observedGeneration =
 * generation, each condition's observedGeneration and lastTransitionTime
 * (carried over from prev's conditions while unchanged, else now_ms), and the
 * kstatus condition Reconciling added: = Progressing, but False (with
 * Stalled's reason) while Stalled is True. DECISION: cli-utils kstatus (what
 * Flux's health checks and `kubectl wait`-free tooling read) looks only at
 * observedGeneration, Reconciling and Stalled; without Reconciling a pool
 * still provisioning would count as Current (kstatus.h, kstatus_pool). A
 * Reconciling condition in status is ignored (derived here). invalid (NULL or
 * the core's first error): the current spec is not applied: Ready False and
 * Stalled True with reason InvalidSpec and that message. NULL when out of
 * memory. */
json_t *ckube_pool_status(const json_t *status, const json_t *prev, int64_t generation,
                          const char *invalid, int64_t now_ms);

#endif
