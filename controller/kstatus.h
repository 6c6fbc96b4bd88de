/*
 * kstatus.h - the planner's per-pool status -> the Kubernetes .status object (DESIGN.md §2,
 * kube-api.md §5.1), with the kstatus conditions Ready, Progressing, Degraded and Stalled.
 *
 * Pure: no I/O, no clock (now is an argument), no globals. Every function returns a new
 * jansson reference (NULL only when out of memory) and borrows its arguments.
 *
 * Conditions (always all five, in this order, each with observedGeneration = generation):
 *   Ready        st->ready; reason/message = the planner's (Ready when converged).
 *   Progressing  st->progressing; True: the planner's reason/message (ScalingOut, RollingOut,
 *                WaitingForMaintenanceWindow, ...). False: "UpToDate" when Ready, else the
 *                planner's reason (why nothing moves: ImageNotFound, RolloutHalted, ...).
 *   Degraded     st->degraded; True: "RolloutHalted" when a rollout is halted (halted_image),
 *                else "InstancesFailed" naming the failed instances (from st->instances), else
 *                the planner's reason. False: "AsExpected", "".
 *   Stalled      st->stalled; True: the planner's reason/message (no progress possible without
 *                a change: ImageNotFound, ExpiryPolicyNotFound, NotOwned, MassDeleteRefused, a
 *                passed deadline). False: "AsExpected", "".
 *   Reconciling  = Progressing, except False when Stalled is True. DECISION: kstatus itself
 *                (sigs.k8s.io/cli-utils pkg/kstatus, what Flux's health checks run) reads only
 *                Reconciling (True: InProgress) and Stalled (True: Failed) besides
 *                observedGeneration; without Reconciling a provisioning pool would count as
 *                Current. Progressing stays for kubectl wait / humans (Deployment convention).
 * RC_COND_UNKNOWN gives status "Unknown" with the planner's reason. lastTransitionTime is
 * carried over from prev_status's condition of the same type when its status is unchanged,
 * else it is now (whole seconds, RFC 3339, like metav1.Time). Reasons are made to match the
 * CRD pattern ^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$ (other characters dropped, at most
 * 1024; empty -> "Unknown"); messages are cut at 32768 bytes on a UTF-8 boundary.
 *
 * Other fields: observedGeneration, replicas, readyReplicas, updatedReplicas,
 * expiringReplicas, desiredReplicas (omitted when negative = not known), selector
 * ("azpool.dev/pool=<name>", for the scale subresource), currentImage / targetImage (omitted
 * when unset), lastScaleTime (omitted when 0), instances (name, id, image, createdAt,
 * expiresAt, state, busy, reason; empty strings and zero times omitted; at most
 * RC_STATUS_INSTANCES_MAX, as the planner gives them), plan {pending, summary}.
 * halted_image is NOT in the object: the CRD has no field for it (the status would prune it);
 * the Degraded message names it.
 *
 * Writing: kstatus_changed() says whether new differs from old ignoring the order of
 * conditions (keyed by type), instances (keyed by name) and object keys, so /status is
 * written only on a real change; kstatus_merge_patch() builds the body of that write
 * (application/merge-patch+json on .../status): {"status": {changed keys, removed keys: null}}.
 */
#ifndef AZPOOL_KSTATUS_H
#define AZPOOL_KSTATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rc_plan.h"

#define KSTATUS_CONDS       5 /* Ready, Progressing, Degraded, Stalled, Reconciling */
#define KSTATUS_REASON_MAX  1024
#define KSTATUS_MESSAGE_MAX 32768

/* One condition to set. Strings are borrowed; NULL reason/message = "Unknown"/"". */
struct kstatus_cond {
    const char *type; /* "Ready" */
    enum rc_cond status;
    const char *reason;
    const char *message;
};

/* A conditions array from conds[0..n) (kept in that order). lastTransitionTime comes from
 * prev_conditions (an array or NULL) for a type whose status is unchanged, else now_ms. */
json_t *kstatus_conditions(const struct kstatus_cond *conds, size_t n,
                           const json_t *prev_conditions, int64_t generation, int64_t now_ms);

/* The .status object of WorkerPool `name` (metadata.name; for the selector) from the planner's
 * st, computed for metadata.generation `generation`. prev_status is the object's current
 * .status (NULL or not an object: none). */
json_t *kstatus_pool(const struct rc_pool_status *st, const char *name, int64_t generation,
                     const json_t *prev_status, int64_t now_ms);

/* The .status of an ImageVersion or ExpiryPolicy: usedBy (the pools of its namespace that
 * refer to it; sorted, duplicates dropped), Ready True "Valid" or False with reason (e.g.
 * "ImageNotFound"; NULL -> "Invalid") and message, Stalled = !valid, Progressing, Degraded
 * and Reconciling False. extra (NULL or an object, borrowed) adds fields such as resolvedVersion,
 * imageId, build. */
json_t *kstatus_ref(const char *const *used_by, size_t n_used, bool valid, const char *reason,
                    const char *message, const json_t *extra, int64_t generation,
                    const json_t *prev_status, int64_t now_ms);

/* True when new_status differs from old_status (NULL = absent) other than by the order of
 * object keys, of conditions (by type) and of instances (by name). */
bool kstatus_changed(const json_t *old_status, const json_t *new_status);

/* {"status": D} where D turns old_status into new_status under JSON merge patch (RFC 7386):
 * changed and new keys with their new values (objects recursively), keys only in old as
 * null; arrays are replaced whole. D is {} when nothing changed. */
json_t *kstatus_merge_patch(const json_t *old_status, const json_t *new_status);

/* A JSON string of s[0..n) even when it is not valid UTF-8 (an Azure error
 * text, say): bytes of invalid sequences become '?', as a last resort every
 * non-ASCII byte does. NULL only when out of memory. Used for Events too. */
json_t *kstatus_json_utf8(const char *s, size_t n);

#endif
