/*
 * leader.h - leader election on a coordination.k8s.io/v1 Lease (kube-api.md §6), like
 * client-go's tools/leaderelection, so that of the Deployment's replicas exactly one
 * reconciles.
 *
 * The decision is pure (leader_observe / leader_decide / leader_lease_body): given what was
 * read from the server, when it last changed in LOCAL time, the identity and now, it says
 * create / take over / renew / follow. Remote times (renewTime) are never compared with the
 * local clock: a lease held by another is expired when it has not changed for its
 * leaseDurationSeconds of local time since we first saw it that way (client-go's
 * observedTime).
 *
 * The elector (struct leader) runs it on the loop every retry period:
 *   follower: GET the Lease; 404 -> POST it with us as holder (409: someone was faster);
 *             held by another and unchanged for less than its duration -> wait; else PUT
 *             (with the GET's resourceVersion; 409 -> lost the race, retry next period)
 *             holderIdentity = us, acquireTime = renewTime = now, leaseTransitions + 1.
 *   leader:   PUT the renewal directly with the last resourceVersion (acquireTime kept);
 *             on 409 or another error the next period GETs first. When no renewal succeeded
 *             for renew_deadline_ms (measured from the start of the last successful write),
 *             leadership is lost: on_stopped runs at once, the elector becomes a follower
 *             again (on_started runs again if it wins later). Responses to requests sent
 *             before that are ignored, and so is a write's success that arrives more than
 *             the renew deadline after it was sent.
 *   stop:     leader_stop(release=true) as the leader: on_stopped, then PUT holderIdentity
 *             "", leaseDurationSeconds 1, times now (client-go's ReleaseOnCancel), so a
 *             follower takes over within one retry period instead of a lease duration.
 * Safety: lease > renew deadline + retry and renew deadline > 1.2 x retry (checked; the
 * first is stricter than client-go because the deadline is checked on retry ticks), so a
 * leader that cannot renew stops acting (by renew deadline + retry) before any follower may
 * take over (lease duration after it last saw a change).
 *
 * Defaults (DESIGN/kube-api.md): lease 15 s, renew deadline 10 s, retry 2 s; the Lease
 * LEADER_DEFAULT_NAME in the pod's namespace (POD_NAMESPACE); identity POD_NAME, else
 * "<hostname>_<pid>" (leader_identity). manifests/rbac.yaml grants exactly: leases create,
 * and get/update on this name, in azpool-system.
 *
 * Ownership: the elector copies its options' strings and borrows loop and k (both must
 * outlive it). Callbacks run from the loop, never from inside a leader_* call. Times: the
 * elector reads uv_now (monotonic) for its decisions and the wall clock for the Lease's
 * MicroTime fields. Not thread-safe.
 */
#ifndef AZPOOL_LEADER_H
#define AZPOOL_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "kube.h"

#define LEADER_DEFAULT_NAME "azpool-controller"
#define LEADER_LEASE_MS     15000
#define LEADER_RENEW_MS     10000
#define LEADER_RETRY_MS     2000
#define LEADER_ID_MAX       253
#define LEADER_TIME_MAX     40 /* "2026-11-24T10:00:00.000000Z" */
#define LEADER_RV_MAX       64

/* ---- the pure part ---- */

/* A Lease's spec and resourceVersion as read. */
struct leader_record {
    char holder[LEADER_ID_MAX + 1]; /* "" when nobody holds it */
    int duration_s;                 /* leaseDurationSeconds, 0 when absent */
    char acquire_time[LEADER_TIME_MAX];
    char renew_time[LEADER_TIME_MAX];
    int transitions;
    char rv[LEADER_RV_MAX];
};

/* What we know of the Lease and since when (local monotonic ms) it looks like this. */
struct leader_observed {
    bool have; /* false: absent (404) or never read */
    struct leader_record rec;
    int64_t at_ms;
};

enum leader_decision {
    LEADER_FOLLOW = 0, /* held by another, not expired: wait */
    LEADER_CREATE,     /* absent: POST */
    LEADER_TAKE,       /* free or expired: PUT us as holder */
    LEADER_RENEW,      /* ours: PUT a new renewTime */
};

const char *leader_decision_name(enum leader_decision d); /* "follow", ... */

/* Parses a Lease object. Returns 0, or -RC_EPROTO when it is not one (fields of the wrong
 * type, strings too long). */
int leader_record_parse(const json_t *lease, struct leader_record *ret);

/* Records a read at now_ms: rec NULL = absent. at_ms moves to now_ms only when holder,
 * duration, times or transitions differ from what was observed (the resourceVersion is
 * kept current either way). */
void leader_observe(struct leader_observed *o, const struct leader_record *rec, int64_t now_ms);

/* The decision for identity at now_ms. A record's leaseDurationSeconds <= 0 counts as
 * fallback_lease_ms. */
enum leader_decision leader_decide(const struct leader_observed *o, const char *identity,
                                   int64_t now_ms, int64_t fallback_lease_ms);

/* The Lease to write for d (CREATE: no resourceVersion; TAKE/RENEW: o's resourceVersion;
 * RENEW keeps acquireTime and transitions, TAKE sets acquireTime now and transitions + 1).
 * wall_ms: the wall clock for the MicroTime fields. New reference, NULL for FOLLOW or out
 * of memory. */
json_t *leader_lease_body(const struct leader_observed *o, enum leader_decision d, const char *ns,
                          const char *name, const char *identity, int duration_s, int64_t wall_ms);
/* The release: holder "", leaseDurationSeconds 1, acquireTime = renewTime = now,
 * transitions kept, o's resourceVersion. New reference. */
json_t *leader_release_body(const struct leader_observed *o, const char *ns, const char *name,
                            int64_t wall_ms);

/* Formats a MicroTime ("2026-11-24T10:00:00.123000Z"). */
void leader_microtime(int64_t wall_ms, char *buf, size_t size);

/* ---- the elector ---- */

typedef void (*leader_cb)(void *arg);

struct leader_opts {
    const char *namespace; /* of the Lease (required) */
    const char *name;      /* NULL: LEADER_DEFAULT_NAME */
    const char *identity;  /* required, unique per replica (leader_identity) */
    int64_t lease_ms;      /* 0: defaults */
    int64_t renew_deadline_ms;
    int64_t retry_ms;
    leader_cb on_started; /* we lead: start reconciling */
    leader_cb on_stopped; /* we no longer lead: stop writing at once */
    void *arg;
};

struct leader;

/* NULL on a bad option (missing namespace or identity, timing constraints) or no memory;
 * err says which. Nothing runs before leader_start(). */
struct leader *leader_new(uv_loop_t *loop, struct kube *k, const struct leader_opts *o,
                          struct rc_err *err);
/* Starts trying at once. */
int leader_start(struct leader *l);
/* Stops the elector. Returns 1 when it releases the Lease (we led and release is true):
 * done(arg) runs once the release finished (or failed); 0 when there is nothing to wait
 * for (done never runs). on_stopped runs (synchronously) first if we led. */
int leader_stop(struct leader *l, bool release, leader_cb done, void *arg);
/* Frees without releasing (a crash as far as the Lease is concerned); no callback runs
 * afterwards. NULL is fine. Run the loop afterwards to close the timer. */
void leader_free(struct leader *l);

bool leader_is_leader(const struct leader *l);
/* True once one attempt got a definite answer (we lead, or another holds the Lease): the
 * /readyz condition "leadership is settled". */
bool leader_settled(const struct leader *l);
/* The holder last seen ("" when none or unknown); borrowed until the next loop turn. */
const char *leader_holder(const struct leader *l);

/* POD_NAME, else "<hostname>_<pid>". Returns 0 or -RC_ELIMIT when it does not fit. */
int leader_identity(char *buf, size_t size);

#endif
