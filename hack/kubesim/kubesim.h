/*
 * kubesim.h - a Kubernetes API server simulator (kube-api.md is the wire reference; our group is
 * azpool.dev). One process, one thread, one libwebsockets context, one vhost on 127.0.0.1:--port
 * (plain HTTP, or HTTPS with its own CA under --dir with --tls). Command line:
 *
 *   kubesim --port P --dir D [--tls] [--bookmark-seconds N] [--history N] [--state FILE]
 *           [--token T] [--rbac]
 *
 * writes D/kubeconfig (server URL, user "kubesim" with token "kubesim-token", with --tls the CA as
 * certificate-authority-data), prints exactly "kubesim listening on http(s)://127.0.0.1:P" when
 * ready, exits 0 on SIGTERM/SIGINT. Any Bearer token (or none) is accepted, unless --token T is
 * given: then the kubeconfig carries T and other requests (except /_kubesim/, /healthz, /readyz,
 * /livez, /version) get 401 Unauthorized (Status reason Unauthorized).
 *
 * Authentication and RBAC (--rbac, rbac.c): requests are authenticated by Bearer token: the
 * kubeconfig's token (kubesim-token, or --token T) is the administrator (everything allowed;
 * with an Impersonate-User header it acts as that user instead, as `kubectl --as` does); a
 * token from POST /api/v1/namespaces/NS/serviceaccounts/NAME/token (TokenRequest, what
 * `kubectl create token` sends; "kubesim-sa.NS.NAME.<nonce>") is
 * system:serviceaccount:NS:NAME with groups system:serviceaccounts[:NS] and
 * system:authenticated, valid while the ServiceAccount exists; anything else 401. Without
 * --tls a request without credentials is the administrator (kubectl never sends credentials
 * over plain HTTP). Every resource request is then authorized like the real RBAC authorizer:
 * verb from the method (get/list/watch/create/update/patch/delete/deletecollection),
 * resource "plural[/subresource]", ClusterRoleBindings and the namespace's RoleBindings
 * (subjects ServiceAccount/User/Group), rules with apiGroups/resources/verbs/resourceNames
 * ("*" and "*\/sub" honoured; resourceNames never match create or list), ClusterRoles with
 * an aggregationRule (matchLabels) gather the rules of the ClusterRoles they select; denied:
 * 403 Forbidden with the real message. Discovery, /version, /openapi and
 * POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews (`kubectl auth can-i`; JSON or
 * protobuf) are open to every authenticated user. Without --rbac everyone is the
 * administrator (TokenRequest still answers). NOT implemented: SubjectAccessReview,
 * SelfSubjectRulesReview (`can-i --list`), Impersonate-Group, the escalate/bind checks.
 *
 * Request flow: server.c collects a request (method, target, headers, body <= KS_MAX_BODY) into a
 * struct ks_req and calls ks_dispatch() (api.c), which answers through struct ks_resp: a JSON body
 * (Content-Type application/json unless set), a raw body, or a watch (the server keeps the
 * connection, sends chunked event lines as the store emits them, ends on timeoutSeconds or on the
 * admin drop).
 *
 * URL grammar (api.c, ks_dispatch): /api/v1/..., /apis/<group>/<version>/..., then
 * [namespaces/<ns>/]<plural>[/<name>[/<sub>]]; "namespaces/<name>" itself is the namespace object.
 * Admin: /_kubesim/... (below). Everything else is 404 with a Status body.
 *
 * Resource types (struct ks_rtype): the built-ins are registered at start; a
 * CustomResourceDefinition that is created/updated registers (or replaces) its served version's
 * type, deleting it unregisters the type and deletes its objects. Types are keyed by
 * "<group>/<plural>" (core: "/<plural>").
 *
 * Store (store.c) and ownership:
 * - One global resourceVersion counter (ks_store_rv), decimal strings, +1 per write (create,
 *   update that changed bytes, delete, status/scale write). A no-op update keeps the old RV and
 *   emits nothing.
 * - Objects are json_t OWNED by the store; ks_store_get() returns a BORROWED object valid until the
 *   next store mutation; callers deep-copy before editing and give the copy back with
 *   ks_store_put() (which TAKES it).
 * - Every write appends an event (type, rv, key, a copy of the object) to a bounded history
 *   (--history, default 10000). Watches from resourceVersion X replay history entries with rv > X;
 *   if X is older than the oldest kept entry - 1 (the "compacted" RV) the watch starts with 200,
 *   sends one ERROR 410 Expired event ("too old resource version: X (Y)") and ends.
 * - --state FILE: loaded at start when it exists (objects, RV counter; CRD types re-registered),
 *   saved on SIGTERM/SIGINT. Without it a restart is an empty world. kill -9 loses the changes
 *   since the last clean exit. After a load every watch from an older RV gets 410.
 *
 * Implemented (see the report / suite tests/conformance/suite-kubesim-api.sh):
 * - /version, /api, /apis, /api/v1, /apis/<g>/<v> (legacy), aggregated discovery v2 and v2beta1
 *   when the Accept list names it first-acceptable, /openapi/v2 (tiny protobuf, octet-stream),
 *   /openapi/v3 -> 404 (so kubectl falls back to v2 and client-side merge patch for CRs).
 * - Built-ins: namespaces (cluster), configmaps, secrets, events, serviceaccounts (core v1),
 *   leases (coordination.k8s.io/v1), customresourcedefinitions (apiextensions.k8s.io/v1, cluster);
 *   TokenRequest (serviceaccounts/NAME/token) and selfsubjectaccessreviews
 *   (authorization.k8s.io/v1), see "Authentication and RBAC" above;
 *   stored without semantics (no controllers, no defaults, no validation) so that
 *   `kubectl apply -k manifests/` works: services, pods (core v1), deployments (apps/v1, with
 *   generation, /status and /scale), poddisruptionbudgets (policy/v1, /status), clusterroles,
 *   clusterrolebindings, roles, rolebindings (rbac.authorization.k8s.io/v1).
 *   Namespaces "default", "kube-system", "kube-public" exist at start. Objects in a missing
 *   namespace: 404 like the real server ("namespaces \"x\" not found").
 * - CRUD: POST 201 (generateName, 409 AlreadyExists, 500 when resourceVersion is set), GET, PUT
 *   (RV required for CRs: 422; stale RV: 409 Conflict), DELETE (Status Success with details.uid, or
 *   deletionTimestamp + generation+1 when finalizers are present; propagationPolicy is accepted
 *   and has no effect, as if the garbage collector removed its finalizer at once; preconditions
 *   uid/resourceVersion: 409), deletecollection (with selectors). Deleting a namespace deletes
 *   its objects at once (no Terminating phase).
 *   metadata.uid, creationTimestamp, generation (bumped only on changes outside metadata/status;
 *   and on deletion), /status and /scale subresources with the CRD's paths.
 * - CRD schema: prune unknown fields (unless x-kubernetes-preserve-unknown-fields), defaults,
 *   validation of type, required, enum, minimum/maximum (+exclusive), minLength/maxLength,
 *   pattern (POSIX ERE), minItems/maxItems, minProperties/maxProperties, nullable,
 *   x-kubernetes-int-or-string; 422 Invalid with details.causes like the real server.
 *   fieldValidation=Strict: unknown fields give 400 "strict decoding error: unknown field
 *   \"spec.x\""; Warn or absent (the server default): pruned, with a header
 *   Warning: 299 - "unknown field \"spec.x\"" per field; Ignore: pruned silently.
 *   x-kubernetes-validations: CEL subset of cel.c (rule, message, reason, fieldPath; transition
 *   rules with oldSelf and messageExpression are skipped), causes like the real server.
 *   x-kubernetes-list-type map/set uniqueness (FieldValueDuplicate). ObjectMeta: unknown
 *   fields pruned (Strict: 400), name/namespace/labels types (400), label values, RFC 1123
 *   names (namespaces: labels). tests/conformance/kubesim_corpus.py checks the verdicts against
 *   crdcheck.py on 465 mutations of the examples (0 differences when written).
 *   NOT implemented: format checks, CEL cost limits, messageExpression.
 * - PATCH: application/merge-patch+json, application/json-patch+json, application/apply-patch+yaml
 *   (server-side apply WITHOUT shared field ownership: the applied object is merged into the
 *   live one and the fields this fieldManager applied last time but no longer applies are
 *   removed; fieldManager required, creates when absent, never conflicts, no managedFields),
 *   application/strategic-merge-patch+json for built-ins only (treated as a merge patch whose
 *   directive keys starting with '$' are dropped), 415 for CRs.
 * - List: labelSelector (=, ==, !=, in, notin, exists, !exists), fieldSelector (metadata.name,
 *   metadata.namespace, and for events involvedObject.*), limit/continue.
 * - Watch: ?watch=1|true, resourceVersion (unset/0: synthetic ADDED), allowWatchBookmarks (a
 *   BOOKMARK every --bookmark-seconds, default 10), timeoutSeconds, label/field selectors,
 *   410 after compaction, Table events (columnDefinitions in the first event only). With a
 *   selector, an object that starts/stops matching arrives as ADDED/DELETED (live events only,
 *   not in a replay from history).
 *   A watch from an RV above the current one: one ERROR 504 Timeout "Too large resource version:
 *   X, current: Y" (cause ResourceVersionTooLarge) at once (the real server waits 3 s), then end.
 *   sendInitialEvents/resourceVersionMatch on a watch: 422 (clients fall back to list+watch).
 * - Table output for list/get/watch with the CRD's additionalPrinterColumns (priority kept),
 *   else Name + Age; built-ins: Name + Age, except events (Last Seen, Type, Reason, Object, Count,
 *   Message), namespaces (Status) and leases (Holder).
 * - Request bodies: JSON, YAML (Content-Type *yaml*), and kubectl's protobuf creates of
 *   namespaces/configmaps/secrets/serviceaccounts (proto.c). Responses are always JSON.
 *
 * Admin endpoints (no auth):
 *   POST /_kubesim/watches/drop   ends every watch stream (clean chunked end); {"dropped":N}
 *   POST /_kubesim/compact        forgets all history: every watch from an older RV gets 410;
 *                                 {"compactedRV":"N"}
 *   GET  /_kubesim/stats          {"resourceVersion","objects","watches","requests"}
 *   GET  /_kubesim/denied         --rbac: {"forbidden":N,"items":[{user,verb,group,resource,
 *                                 namespace,name}]} (the last 200 requests answered 403)
 *   GET  /_kubesim/requests[?since=SEQ][&limit=N]  the last 10000 requests (admin ones
 *                                 excluded), oldest first: {"next":N,"oldest":N,"entries":[{seq,
 *                                 time (dispatch end, RFC 3339 with microseconds), startMicros,
 *                                 doneMicros (CLOCK_REALTIME us: dispatch start / end, the write
 *                                 committed), resourceVersion (the store's after), changed (the
 *                                 request moved the store's RV), code, method, verb (get list
 *                                 watch create update patch delete deletecollection; the
 *                                 lower-case method off the resource paths), resource
 *                                 ("plural[/sub]" or ""), path ("path?query", decoded, <= 399
 *                                 bytes), userAgent}]}; entries older than "oldest" are gone
 */
#ifndef AZPOOL_KUBESIM_H
#define AZPOOL_KUBESIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define KS_MAX_BODY     (8u << 20) /* request body limit: larger gets 413 */
#define KS_MAX_SEGS     16
#define KS_MAX_QUERY    24
#define KS_MAX_NAME     253
#define KS_MAX_WATCHBUF (64u << 20) /* a watch whose client does not read is dropped past this */

struct ks_kv {
    const char *name, *value;
};

/* A request; every string is BORROWED for the duration of ks_dispatch(). */
struct ks_req {
    const char *method; /* GET PUT POST PATCH DELETE HEAD OPTIONS */
    const char *path;   /* decoded, without query */
    const char *seg[KS_MAX_SEGS];
    int nseg;
    struct ks_kv query[KS_MAX_QUERY];
    int nquery;
    const char *accept;           /* Accept header or NULL */
    const char *content_type;     /* Content-Type header or NULL */
    const char *authorization;    /* Authorization header or NULL */
    const char *impersonate_user; /* Impersonate-User header or NULL (--rbac) */
    const char *user_agent;       /* User-Agent header or NULL */
    const char *body;             /* raw body (NUL-terminated) or NULL */
    size_t body_len;
    int64_t now_ms; /* wall clock at arrival */
};

struct ks_watch; /* a live watch stream (api.c owns the filter, server.c the connection) */

struct ks_resp {
    int status;
    json_t *json; /* OWNED */
    char *raw;    /* OWNED (malloc'd) alternative to json */
    size_t raw_len;
    const char *content_type; /* static string; default "application/json" */
    struct ks_watch *watch;   /* OWNED: when set the server streams this watch */
    json_t *warnings;         /* OWNED array of strings or NULL: one "Warning: 299 - ..." each */
};

const char *ks_query(const struct ks_req *r, const char *name);

/* ---- api.c ---- */
void ks_api_init(void);
void ks_api_release(void);
void ks_dispatch(struct ks_req *r, struct ks_resp *w);
void ks_resp_release(struct ks_resp *w);

/* ---- watch streams (api.c creates them, server.c drives them) ---- */
/* Pending output bytes (already framed as lines) of w: the server sends and then consumes them. */
char *ks_watch_buf(struct ks_watch *w, size_t *ret_len);
void ks_watch_consume(struct ks_watch *w, size_t n);
/* True once the stream should end (timeout, 410 sent, admin drop) after the buffer drains. */
bool ks_watch_done(const struct ks_watch *w);
/* Periodic: timeouts and bookmarks. */
void ks_watch_tick(struct ks_watch *w, int64_t now_ms);
void ks_watches_tick(int64_t now_ms);   /* ks_watch_tick on every live watch */
void ks_watch_free(struct ks_watch *w); /* unregisters; NULL is fine */
/* The server's wake-up hook: called when w has new bytes or ended. ctx = what the server set. */
void ks_watch_set_ctx(struct ks_watch *w, void *ctx);
void *ks_watch_ctx(const struct ks_watch *w);
extern void (*ks_watch_wake)(struct ks_watch *w);

/* ---- store.c ---- */
struct ks_event {
    uint64_t rv;
    char type[10]; /* ADDED MODIFIED DELETED */
    char *key;     /* rtype key "<group>/<plural>" */
    json_t *obj;   /* OWNED copy */
    json_t *prev;  /* MODIFIED: the state before, BORROWED and only during ks_store_on_event */
};

void ks_store_init(size_t history_max);
void ks_store_release(void);
uint64_t ks_store_rv(void);
uint64_t ks_store_next_rv(void); /* increments and returns the new RV */
/* Oldest RV a watch may start from (older: 410). */
uint64_t ks_store_compacted_rv(void);
void ks_store_compact(void);
json_t *ks_store_get(const char *key, const char *ns, const char *name); /* BORROWED or NULL */
/* Stores obj (TAKEN) under (key, ns, name) and records an event of type with obj's RV. */
int ks_store_put(const char *key, const char *ns, const char *name, json_t *obj, const char *type);
/* Removes the object, recording DELETED with last_state (TAKEN, carries the deletion RV). */
void ks_store_del(const char *key, const char *ns, const char *name, json_t *last_state);
/* Objects of key (ns NULL = all), sorted by namespace then name: new array of BORROWED objects. */
json_t **ks_store_list(const char *key, const char *ns, size_t *ret_n);
size_t ks_store_count(void);
/* --state FILE: every object and the RV counter as JSON (written to FILE.tmp, then renamed).
 * Loading sets the compacted RV to the loaded RV (no history survives). 0 or -1. */
int ks_store_save(const char *path);
int ks_store_load(const char *path, char *err, size_t errsize);
/* History after rv (exclusive), oldest first: BORROWED, valid until the next write. */
const struct ks_event *ks_store_history(uint64_t after_rv, size_t *ret_n);
/* Called for every new event (api.c fans it out to watches). */
extern void (*ks_store_on_event)(const struct ks_event *ev);

/* ---- schema.c: structural schema (openAPIV3Schema) ---- */
/* Prunes unknown fields and applies defaults in place (obj is the whole CR). The dotted paths of
 * pruned fields are appended to ret_unknown (a json array) when it is not NULL. */
void ks_schema_prune_default(const json_t *schema, json_t *obj, json_t *ret_unknown);
/* Validates obj; appends causes {"reason","message","field"} to causes (a json array).
 * Returns the number of causes added. */
int ks_schema_validate(const json_t *schema, const json_t *obj, json_t *causes);

/* ---- cel.c: x-kubernetes-validations rules ---- */
/* 1 = the rule holds for self, 0 = it fails, -1 = not evaluable here (syntax this evaluator does
 * not know, oldSelf, a non-bool result): callers treat -1 as passing. */
int ks_cel_eval(const char *rule, const json_t *self);

/* ---- patch.c ---- */
/* RFC 7386 merge patch of target (modified in place / replaced): returns the new value (new ref).
 */
json_t *ks_merge_patch(json_t *target, const json_t *patch);
/* RFC 6902 on a deep copy of doc; returns the new document or NULL with a message. */
json_t *ks_json_patch(const json_t *doc, const json_t *ops, char *err, size_t errsize);
/* YAML (or JSON) text to json_t; NULL on error with a message. */
json_t *ks_yaml_load(const char *text, size_t len, char *err, size_t errsize);

/* ---- proto.c ---- */
/* application/vnd.kubernetes.protobuf body (kubectl's typed create of namespaces, configmaps,
 * secrets, serviceaccounts) to JSON: metadata basics and the data maps only. New or NULL. */
json_t *ks_proto_decode(const char *body, size_t len, char *err, size_t errsize);

/* ---- certs.c ---- */
/* (now hack/common/simcerts.h: simcerts_ensure) */

/* ---- server.c ---- */
struct ks_config {
    int port;
    const char *dir;
    bool tls;
    int bookmark_seconds; /* default 10 */
    size_t history;       /* default 10000 */
    const char *state;    /* --state FILE or NULL */
    const char *token;    /* --token T: required Bearer token (NULL: any or none accepted) */
    bool rbac;            /* --rbac: authenticate tokens and authorize with RBAC (rbac.c) */
};
int ks_server_run(const struct ks_config *cfg);
void ks_server_drop_watches(int *ret_n); /* admin: end every watch */
int ks_server_nwatches(void);
extern const struct ks_config *ks_cfg;

/* ---- rbac.c: authentication and authorization (--rbac) ---- */
struct ks_user {
    char name[400]; /* "kubesim-admin", "system:serviceaccount:ns:name", ... */
    char sa_ns[64]; /* service account's namespace and name ("" for other users) */
    char sa_name[254];
    char groups[4][128]; /* system:serviceaccounts[:ns], system:authenticated, system:masters */
    int ngroups;
    bool admin; /* everything allowed */
};
/* One request as RBAC sees it (RequestInfo). Strings BORROWED. */
struct ks_access {
    const char *verb;     /* get list watch create update patch delete deletecollection */
    const char *group;    /* "" for core */
    const char *resource; /* "workerpools" or "workerpools/status" */
    const char *ns;       /* NULL or "" at the cluster scope */
    const char *name;     /* NULL for collections and create */
};
bool ks_rbac_on(void);
/* 0 and *u filled, or -1 (401). Without --rbac everyone is the administrator. */
int ks_authenticate(const struct ks_req *r, struct ks_user *u);
bool ks_rbac_allows(const struct ks_user *u, const struct ks_access *a);
/* The real server's Forbidden message. */
void ks_rbac_forbidden_msg(const struct ks_user *u, const struct ks_access *a, char *buf,
                           size_t size);
/* The token kubesim issues for ServiceAccount ns/name (TokenRequest). 0 or -1. */
int ks_token_for(const char *ns, const char *name, uint64_t nonce, char *buf, size_t size);

#endif
