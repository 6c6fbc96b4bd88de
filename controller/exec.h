/*
 * exec.h - the executor: runs the actions of one pool's plan through az_ops.
 *
 * Waves (rc_plan.h): every action of wave k starts only after every action of
 * lower waves succeeded; within a wave at most `parallel` actions run at once.
 * The first failed action stops the run: no later wave starts, actions already
 * running finish, and the run reports the failure (its class decides what the
 * caller does: transient -> retry with backoff, terminal -> Degraded/Stalled,
 * not-found on a delete counts as success because the goal is reached).
 *
 * Accepted writes (opts.accept): the actions of a run's last wave that act on
 * a Compute scale set or VM (path below .../Microsoft.Compute/
 * virtualMachineScaleSets/ or .../virtualMachines/) are written with
 * AZ_WRITE_ACCEPT: they count as done once ARM accepted them, so a run does
 * not wait for provisioning (minutes) and the caller looks again after
 * res.poll_after_ms. This is safe because the planner is idempotent on what
 * the next observe shows: a scale set or VM being created, updated or deleted
 * is visible (provisioningState, instances Creating/Updating/Deleting) and is
 * not written again. A failure of the operation itself then shows in that
 * observe (instances Failed), not in this run. Earlier waves are followed to
 * their end: a later wave depends on them (NIC before VM, deletes before the
 * capacity PATCH).
 *
 * Safety:
 *  - DESIGN.md §4 rule 9: a POST delete / reimage / manualupgrade without a
 *    non-empty instanceIds list in its body is refused (terminal), never sent.
 *  - An action whose idempotency key is already running (in any run of this
 *    executor) is not started twice; the run waits for it and takes its result.
 *  - Secrets (§4 rule 7): bodies carry {"$secretRef":{"name","key"}}
 *    placeholders; the executor resolves them through exec_secret_cb only for
 *    the copy of the body that is sent, and wipes that copy afterwards. Under a
 *    "customData" key the value is base64-encoded; under "protectedSettings" it
 *    must be a JSON object; anywhere else it is a string. Errors name the
 *    reference, never the value.
 *
 * Ownership: exec_run() copies what it needs from the actions (bodies are
 * deep-copied), so the plan may be released once it returns. ops is borrowed.
 * Shutdown order: stop az_ops first (http_free, az_arm_free: in-flight writes
 * complete with a cancel error), then exec_free() completes waiting runs.
 */
#ifndef AZPOOL_EXEC_H
#define AZPOOL_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "az.h"
#include "rc_err.h"
#include "rc_plan.h"

struct exec;

/* Resolves a secret of namespace ns into a new string (*ret_value, freed by
 * the executor after wiping it). Returns 0 or a negative RC_E* code. */
typedef int (*exec_secret_cb)(void *arg, const char *ns, const char *name, const char *key,
                              char **ret_value);

struct exec_result {
    size_t done, failed, skipped; /* actions */
    struct rc_err err;            /* the first failure; code 0 when all succeeded */
    char failed_key[128];         /* its idempotency key */
    int64_t retry_after_ms;       /* largest Retry-After seen among failures */
    size_t accepted;              /* of done: accepted, their operations still run */
    int64_t poll_after_ms;        /* smallest Retry-After of those; 0 when none */
};

typedef void (*exec_done_cb)(void *arg, const struct exec_result *res);
/* Called after each action (for metrics, events and logs). */
typedef void (*exec_action_cb)(void *arg, const struct rc_action *a, const struct az_result *res);

struct exec_opts {
    int parallel;          /* per run, default 8 */
    exec_secret_cb secret; /* NULL: a body with a secret reference fails */
    void *secret_arg;
    exec_action_cb on_action; /* may be NULL */
    void *action_arg;
    bool accept; /* write the last wave's Compute actions with AZ_WRITE_ACCEPT */
};

/* loop and ops are borrowed. NULL on allocation failure. */
struct exec *exec_new(uv_loop_t *loop, const struct az_ops *ops, const struct exec_opts *opts);
/* Pending runs complete with a cancel error first. NULL is fine. */
void exec_free(struct exec *x);

/* Runs the actions of plan that belong to pool ("ns/name"). The callback runs
 * exactly once, from the loop (also for an empty action list). */
int exec_run(struct exec *x, const struct rc_plan *plan, const char *pool, exec_done_cb cb,
             void *arg, struct rc_err *err);

/* Runs in progress / actions in flight. */
size_t exec_running(const struct exec *x);
size_t exec_in_flight(const struct exec *x);

/* Replaces the secret placeholders of body (in place) using cb; *ret_secrets
 * gets a new array referencing every value that holds secret material (NULL
 * when there were none). Returns 0 or a negative code with err naming the
 * reference. Exposed for tests. */
int exec_resolve_secrets(json_t *body, const char *ns, exec_secret_cb cb, void *arg,
                         json_t **ret_secrets, struct rc_err *err);
/* Overwrites every string inside the secret values with zeros and releases
 * the array (NULL is fine). Call before releasing the body that holds them. */
void exec_wipe_secrets(json_t *secrets);

#endif
