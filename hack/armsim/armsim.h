/*
 * armsim.h - the armsim framework: an Azure Resource Manager + Entra ID + IMDS emulator.
 *
 * One process, one thread, one libwebsockets context with two vhosts: HTTPS ARM/Entra/admin on
 * 127.0.0.1:--port and plain-HTTP IMDS on 127.0.0.1:--imds-port. Every request is parsed into a
 * struct as_req, matched against the registered routes (segments compare case-insensitively),
 * authenticated (routes flagged AS_ARM), checked for api-version, charged against the throttling
 * buckets, possibly hit by an injected fault, then handed to the route's handler, which fills a
 * struct as_resp. The framework adds x-ms-request-id, x-ms-correlation-request-id (the client's,
 * echoed, else a new one), the x-ms-ratelimit-remaining-* headers and Content-Type, and writes it.
 *
 * Invariants and ownership:
 * - Everything runs on the loop thread; nothing here is thread-safe and nothing blocks.
 * - Simulated time: as_now() = wall clock at start + (wall elapsed * time scale) + admin offsets,
 *   in ms since the epoch. It never goes backwards (changing the scale rebases). Token lifetimes
 *   (Entra, IMDS) use the real wall clock, because SDK clients compute expiry from it.
 * - Resource store: ids compare case-insensitively; the store keeps the casing of the first PUT.
 *   as_store_put() TAKES the json body; as_store_get() returns a BORROWED entry valid until the
 *   next store mutation. Bodies in the store are what GET returns (the framework adds nothing).
 * - Scheduled transitions are data (handler name + resource id + json arg + due time), so the
 *   world can be snapshotted and restored; due transitions run before each request is handled
 *   and on a 100 ms real-time tick. Handlers are registered by name with as_sched_handler().
 * - LRO operations live in the world; their status URLs carry the Host the client used.
 * - as_resp_json() TAKES the body. as_req strings are BORROWED for the duration of the handler.
 *
 * Decisions (others rely on them):
 * - Entra accepts ANY client id / secret / assertion by default and records the client id as the
 *   principal (the throttling and request-log key). Tokens are JWT-shaped (header.payload.HMAC),
 *   signed with a key kept in --dir, so they survive restarts. POST /_armsim/auth
 *   {"deny":[ids]} makes a client id fail with AADSTS7000215; {"lifetimeSeconds":N} changes the
 *   token lifetime (default 3599 real seconds). See sim_entra.c.
 * - Only HTTP/1.1 (ALPN "http/1.1"), keep-alive. Unknown methods get lws's own 403.
 * - LRO polls carry Retry-After 1 (real seconds; admin /_armsim/config retryAfter). Default
 *   provisioning time 30 simulated seconds (--provision-seconds, admin provisionSeconds).
 * - Faults (--faults or POST /_armsim/faults {"spec","seed"}): "RULE[;RULE]", RULE =
 *   "[METHOD ]GLOB:KIND=VALUE[,...]" with KIND 500|503|429|reset (probabilities, the first
 *   matching rule decides) and latency (ms). Admin routes are never faulted. A reset is an
 *   abortive close (RST) and counts as status 599 in the counters and log.
 * - Throttling applies to AS_ARM routes after authentication; POST /_armsim/throttle
 *   {"enabled":false} turns it off (benchmarks, floods).
 * - Unknown api-version on a known route: 400 InvalidApiVersionParameter; unknown provider path
 *   with an api-version: 400 NoRegisteredProviderFound; other unmatched ARM paths: 404
 *   (InvalidResourceType / ResourceNotFound-like body). Missing api-version: 400
 *   MissingApiVersionParameter.
 * - Paging: $skiptoken is an opaque decimal offset; page size from --page-size (default 100) or
 *   the admin API; nextLink is absolute (client's Host) and keeps the original query.
 * - Compute throttle policy names in x-ms-ratelimit-remaining-resource are
 *   "Microsoft.Compute/<Policy>SubscriptionMaximum;N" and "Microsoft.Compute/<Policy>Resource;N"
 *   (the real names under the token-bucket model are not verified), comma-joined in one header.
 *
 * How to add a module (e.g. hack/armsim/sim_gallery.c):
 *   1. Write `void sim_gallery_init(struct armsim *sim)` that calls as_route() for each route
 *      and, if needed, as_sched_handler() / as_on_request() / as_snapshot_hook().
 *   2. Add `ARMSIM_MODULE(sim_gallery_init)` to hack/armsim/modules.h (one line, same commit
 *      as your file; that list is what pulls your object out of libarmsim.a).
 *   3. Simple tracked resources need no handler code: register as_generic_handler with a static
 *      struct as_type describing the type (see sim_compute.c for NICs). The generic handler does
 *      PUT (201/200, provisioningState transition, etag, LRO when asked), GET, PATCH (tags
 *      replaced, properties merged), DELETE (202/200/204) and list (paged) for a collection.
 *   4. Admin endpoints: register under "/_armsim/<area>/..." with flags AS_ADMIN.
 */
#ifndef AZPOOL_ARMSIM_H
#define AZPOOL_ARMSIM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct armsim;

/* ---- limits ---- */
#define AS_MAX_SEGS         24         /* path segments per request */
#define AS_MAX_PARAMS       8          /* {captures} per route */
#define AS_MAX_QUERY        16         /* query parameters kept per request */
#define AS_MAX_RESP_HEADERS 24         /* headers a handler may add */
#define AS_MAX_HDRS         24         /* request headers kept */
#define AS_MAX_BODY         (8u << 20) /* request body limit: larger gets 413 */
#define AS_ID_MAX           1024       /* resource id length limit */

/* ---- api-version sets (azure-arm.md §0 pinned + the Debian python3-azure SDK's) ---- */
#define AS_APIV_RESOURCES "2021-04-01 2022-09-01 2024-11-01 2020-06-01 2019-10-01"
#define AS_APIV_COMPUTE                                                                            \
    "2024-11-01 2025-04-01 2024-07-01 2024-03-01 2023-09-01 2023-07-01 2022-08-01 2022-11-01 "     \
    "2023-03-01 2021-11-01"
#define AS_APIV_GALLERY                                                                            \
    "2024-03-03 2025-03-03 2023-07-03 2022-08-03 2022-03-03 2022-01-03 2021-10-01"
#define AS_APIV_NETWORK                                                                            \
    "2024-05-01 2024-03-01 2023-09-01 2023-05-01 2022-07-01 2022-09-01 2020-11-01"
#define AS_APIV_IMAGEBUILDER "2024-02-01 2023-07-01 2022-07-01 2022-02-14"
#define AS_APIV_AUTOMATION   "2024-10-23 2023-11-01 2023-05-15-preview 2022-08-08 2021-06-22"

/* ---- route flags ---- */
#define AS_ARM   0x01u /* needs a Bearer token; ARM throttling; ARM error bodies */
#define AS_IMDS  0x02u /* served on the IMDS (plain HTTP) vhost instead of the ARM one */
#define AS_ADMIN 0x04u /* /_armsim/...: no auth, no throttling, never faulted, not logged */
#define AS_NOLOG 0x08u /* not recorded in the request log (still counted) */

/* ---- request ---- */

struct as_kv {
    const char *name, *value;
};

struct as_req {
    const char *method;           /* "GET", "PUT", "PATCH", "POST", "DELETE", "HEAD", "OPTIONS" */
    const char *path;             /* decoded path without query, as the client sent it */
    const char *seg[AS_MAX_SEGS]; /* path split on '/', empty segments dropped */
    int nseg;
    struct as_kv query[AS_MAX_QUERY]; /* decoded; names as sent */
    int nquery;
    struct as_kv param[AS_MAX_PARAMS]; /* {captures} of the matched route */
    int nparam;
    struct as_kv hdr[AS_MAX_HDRS]; /* request headers (lowercase names) */
    int nhdr;
    const char *host;   /* Host header ("127.0.0.1:8443"), for absolute URLs */
    const char *scheme; /* "https" or "http" */
    const char *body;   /* raw body (NUL-terminated), NULL when none */
    size_t body_len;
    json_t *json;           /* parsed body when it is JSON, else NULL; BORROWED */
    bool body_bad_json;     /* a body was sent but is not valid JSON */
    const char *principal;  /* client id from the token; "" when unauthenticated */
    const char *request_id; /* x-ms-request-id of this response */
    const char *correlation_id;
    int64_t now_ms; /* simulated time at arrival */
    void *route_ud; /* the ud given to as_route() */
    void *priv;     /* framework internal (the wsi) */
};

/* Decoded query value by case-insensitive name, or NULL. */
const char *as_query(const struct as_req *r, const char *name);
/* {capture} of the matched route by name, or NULL. */
const char *as_param(const struct as_req *r, const char *name);
/* Request header by lowercase name ("if-match", "metadata", ...), or NULL. The value stays
 * valid until the handler returns. The server keeps: authorization, content-type, host,
 * if-match, if-none-match, metadata, user-agent, accept, x-ms-correlation-request-id,
 * x-ms-client-request-id, x-ms-return-client-request-id; others are looked up on demand. */
const char *as_header(struct as_req *r, const char *name);

/* ---- response ---- */

struct as_resp {
    int status;   /* 0 = not answered yet */
    json_t *json; /* body, OWNED (set with as_resp_json) */
    char *raw;    /* or a raw body, OWNED (malloc'd) */
    size_t raw_len;
    const char *content_type; /* default "application/json; charset=utf-8" */
    char *hname[AS_MAX_RESP_HEADERS], *hval[AS_MAX_RESP_HEADERS];
    int nheaders;
    bool reset;              /* fault: drop the connection instead of answering */
    int64_t delay_ms;        /* fault: answer after this real-time delay */
    const char *throttle_op; /* "reads" | "writes" | "deletes", set by the framework */
};

/* Sets status and TAKES body (NULL = no body). */
void as_resp_json(struct as_resp *w, int status, json_t *body);
void as_resp_empty(struct as_resp *w, int status);
/* Adds a response header (copied). */
void as_resp_header(struct as_resp *w, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* ARM error body {"error":{"code","message"[,"target"]}}. Returns 0. */
int as_resp_error(struct as_resp *w, int status, const char *code, const char *target,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* 404 ResourceNotFound with ARM's text: "The Resource '<type>/<name>' under resource group
 * '<rg>' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix" */
int as_resp_not_found(struct as_resp *w, const char *type, const char *name, const char *rg);
/* 404 ResourceGroupNotFound "Resource group '<rg>' could not be found." */
int as_resp_rg_not_found(struct as_resp *w, const char *rg);
/* 404 ParentResourceNotFound for a nested resource whose parent is missing. */
int as_resp_parent_not_found(struct as_resp *w, const char *parent_type, const char *parent_name);

/* Paging. Items [as_page_offset(), as_page_offset() + as_page_size()) form this page. */
size_t as_page_offset(const struct as_req *r);
size_t as_page_size(const struct armsim *sim);
/* 200 {"value": page, "nextLink": ...}; TAKES page (a json array). next_offset 0 = last page. */
void as_resp_list(struct armsim *sim, const struct as_req *r, struct as_resp *w, json_t *page,
                  size_t next_offset);
/* Slices a full array (TAKEN) into the requested page and answers. */
void as_resp_list_all(struct armsim *sim, const struct as_req *r, struct as_resp *w, json_t *all);
/* Absolute URL on the host the client used: "https://<host><path_and_query>". New string. */
char *as_url(const struct as_req *r, const char *path_and_query);

/* ---- routes ---- */

typedef void (*as_handler_cb)(struct armsim *sim, struct as_req *r, struct as_resp *w);

/* Registers a route. method: "GET" ..., or "*" for any. pattern: "/subscriptions/{sub}/
 * resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}" where literal segments
 * match case-insensitively and {x} captures one segment; a final "{*rest}" captures the remainder.
 * api_versions: space-separated accepted versions (AS_APIV_*), or NULL when none is required.
 * Routes are tried in registration order; the first match of path wins; a path match with another
 * method gives 405. Returns 0 or -1 (out of memory / too many). pattern and api_versions are
 * BORROWED and must be static strings. */
int as_route(struct armsim *sim, const char *method, const char *pattern, as_handler_cb h,
             unsigned flags, const char *api_versions, void *ud);
/* Declares the Compute throttle policy of a route (azure-arm.md §3.2 name, e.g. "PutVMScaleSet",
 * "LowCostGetVMScaleSet", "GetVMScaleSetVMs"); the resource bucket key is the path up to and
 * including the capture named {name} or {vmss} (the whole path otherwise). Call after as_route()
 * for the route just registered. */
void as_route_compute_policy(struct armsim *sim, const char *policy);

/* ---- simulated time ---- */

int64_t as_now(const struct armsim *sim);
void as_time_set_scale(struct armsim *sim, double scale);
double as_time_scale(const struct armsim *sim);
void as_time_advance(struct armsim *sim, int64_t ms); /* jump simulated time forward */
/* Tests: replace the real clock (ms since the epoch) used to derive simulated time. */
void as_time_set_clock(struct armsim *sim, int64_t (*real_ms)(void *ud), void *ud);
/* "2026-11-23T10:00:00.0000000+00:00" (Compute's 7-digit form) into buf (>= 40 bytes). */
void as_time_format(int64_t ms, char *buf, size_t size);
/* Simulated duration -> real ms at the current scale (for timers). */
int64_t as_sim_to_real_ms(const struct armsim *sim, int64_t sim_ms);

/* ---- randomness (seeded: runs with the same --seed and the same requests are identical) ---- */

uint64_t as_rand(struct armsim *sim);
double as_rand01(struct armsim *sim);
/* A random lowercase UUID (v4 shape) into buf (>= 37 bytes). */
void as_uuid(struct armsim *sim, char *buf, size_t size);

/* ---- resource store ---- */

struct as_res {
    char *id;      /* canonical casing */
    json_t *body;  /* what GET returns; OWNED by the store */
    uint64_t etag; /* bumped on every as_store_put; 1 after create */
    int64_t created_ms;
};

/* Borrowed entry or NULL. */
struct as_res *as_store_get(struct armsim *sim, const char *id);
/* Creates or replaces; TAKES body. Sets body "id" if absent. Returns the entry (borrowed) or
 * NULL on allocation failure (body freed). *ret_created (optional) tells which. */
struct as_res *as_store_put(struct armsim *sim, const char *id, json_t *body, bool *ret_created);
/* Removes id and every resource nested under it (id + "/..."). Returns how many. */
size_t as_store_del(struct armsim *sim, const char *id);
/* Direct children of a collection path ("/subscriptions/s/resourceGroups/rg/providers/
 * Microsoft.Compute/virtualMachines"): entries whose id is collection + "/" + one segment.
 * Returns a new array of borrowed pointers (free() it) and the count; NULL when none. */
struct as_res **as_store_children(struct armsim *sim, const char *collection, size_t *ret_n);
/* Every entry whose id starts with prefix (case-insensitive), in id order; same ownership. */
struct as_res **as_store_prefix(struct armsim *sim, const char *prefix, size_t *ret_n);
size_t as_store_count(const struct armsim *sim);

/* Resource-group helpers: returns true when /subscriptions/{sub}/resourceGroups/{rg} exists,
 * else answers 404 ResourceGroupNotFound (or 409 ResourceGroupBeingDeleted on writes while it is
 * being deleted) and returns false. */
bool as_require_rg(struct armsim *sim, struct as_req *r, struct as_resp *w);
/* "/subscriptions/{sub}/resourceGroups/{rg}" for the current request's captures. */
void as_rg_id(const struct as_req *r, char *buf, size_t size);
/* ETag preconditions (If-Match / If-None-Match) against an existing entry or NULL; answers 412
 * and returns false when they fail. */
bool as_check_etag(struct as_req *r, struct as_resp *w, const struct as_res *existing);
/* Sets body "etag" to "\"N\"" and the ETag header from the entry. */
void as_set_etag(struct as_resp *w, struct as_res *e);

/* ---- scheduled transitions ---- */

typedef void (*as_sched_cb)(struct armsim *sim, const char *id, json_t *arg);
/* Registers a named handler ("compute.provisioned"); name BORROWED (static). */
int as_sched_handler(struct armsim *sim, const char *name, as_sched_cb cb);
/* Runs handler `name` with (id, arg) when simulated time reaches at_ms. arg TAKEN (may be NULL).
 * Example: as_sched_at(sim, now + 30000, "generic.provisioned", id, NULL) flips
 * properties.provisioningState to Succeeded. Returns 0 or -1. */
int as_sched_at(struct armsim *sim, int64_t at_ms, const char *name, const char *id, json_t *arg);
/* Runs everything due now (the framework calls it before each request). */
void as_sched_run(struct armsim *sim);

/* ---- long-running operations ---- */

#define AS_LRO_ASYNC    1 /* Azure-AsyncOperation: status URL, always 200 + {"status"} */
#define AS_LRO_LOCATION 2 /* Location: 202 while running, then the final result */
#define AS_LRO_BOTH     3 /* both headers (Compute does this) */

struct as_lro {
    int style;               /* AS_LRO_* */
    int status;              /* initial HTTP status: 201, 202 or 200 */
    int64_t duration_ms;     /* simulated time to completion */
    const char *resource_id; /* what the operation is about (final GET target), may be NULL */
    const char *provider;    /* "Microsoft.Compute" for the status URL */
    const char *location;    /* region for the status URL ("westus"), may be NULL */
    int final_status;        /* Location style result when done: 200 (GET resource_id) or 204 */
    const char *on_done;     /* scheduled handler run at completion (may be NULL) */
    json_t *on_done_arg;     /* TAKEN */
    const char *fail_code;   /* when set the operation ends Failed with this code/message */
    const char *fail_message;
};

/* Answers the initial LRO response: lro->status, the given body (TAKEN, may be NULL), the
 * Azure-AsyncOperation and/or Location headers and Retry-After. Returns the operation id
 * (borrowed, valid until reset) or NULL on allocation failure (then answers 500). */
const char *as_lro_begin(struct armsim *sim, const struct as_req *r, struct as_resp *w,
                         const struct as_lro *lro, json_t *body);
/* Marks a running operation failed (admin / faults). Returns 0 or -1 when unknown. */
int as_lro_fail(struct armsim *sim, const char *op_id, const char *code, const char *message);
/* Retry-After seconds sent with 202s (default 1). */
void as_lro_set_retry_after(struct armsim *sim, int seconds);

/* ---- generic tracked resources ---- */

struct as_type {
    const char *type;          /* "Microsoft.Network/networkInterfaces" (response "type") */
    const char *resource_name; /* for 404 texts: the same as type for top-level resources */
    int64_t provision_ms;      /* simulated time in Creating/Updating; 0 = Succeeded at once */
    int lro_style;             /* 0 = plain 201/200 with provisioningState; else AS_LRO_* */
    bool etag;                 /* keep "etag" in the body and honour If-Match */
    bool nested;               /* parent (id minus the last two segments) must exist */
    const char *parent_type;   /* for ParentResourceNotFound texts */
    /* Optional: called on the body about to be stored by PUT/PATCH (add read-only fields). */
    void (*fill)(struct armsim *sim, const struct as_req *r, json_t *body, bool created);
};

/* Handler for routes whose ud is a struct as_type: GET/PUT/PATCH/DELETE on ".../{name}" and GET
 * on the collection (the pattern ends at the type segment). */
void as_generic_handler(struct armsim *sim, struct as_req *r, struct as_resp *w);

/* ---- hooks ---- */

/* Called after every answered request (not admin routes), with the final response. */
typedef void (*as_request_cb)(struct armsim *sim, const struct as_req *r, const struct as_resp *w,
                              void *ud);
int as_on_request(struct armsim *sim, as_request_cb cb, void *ud);

/* Snapshot participation for state kept outside the store: save returns a new json (or NULL),
 * load gets the saved json (borrowed; NULL when absent), reset drops everything. name static. */
typedef json_t *(*as_save_cb)(struct armsim *sim);
typedef void (*as_load_cb)(struct armsim *sim, json_t *saved);
typedef void (*as_reset_cb)(struct armsim *sim);
int as_snapshot_hook(struct armsim *sim, const char *name, as_save_cb save, as_load_cb load,
                     as_reset_cb reset);

/* ---- lifecycle (main.c) ---- */

struct as_config {
    int port, imds_port;    /* imds_port 0 = no IMDS listener */
    const char *dir;        /* CA, server cert, token key */
    double time_scale;      /* default 1 */
    uint64_t seed;          /* default 1 */
    const char *faults;     /* --faults SPEC or NULL */
    const char *state_file; /* --state FILE or NULL */
    int page_size;          /* default 100 */
    int64_t provision_ms;   /* default simulated provisioning time (default 30 s) */
};

/* A world without network (unit tests use it directly). */
struct armsim *armsim_new(const struct as_config *cfg);
void armsim_free(struct armsim *sim); /* NULL is fine */
/* Serves until armsim_stop() (signal-safe). Prints the "listening" line. Returns 0 or -1. */
int armsim_run(struct armsim *sim);
void armsim_stop(struct armsim *sim);
/* Whole-world snapshot (store, ops, schedule, modules) as new json / restore from json. */
json_t *armsim_snapshot(struct armsim *sim);
int armsim_restore(struct armsim *sim, json_t *snap);
void armsim_reset(struct armsim *sim);
/* In-process dispatch without HTTP (unit tests, internal final GETs). The request needs method,
 * path, query and optionally body; principal/host default. Fills w; free with as_resp_release. */
void armsim_dispatch(struct armsim *sim, struct as_req *r, struct as_resp *w);
void as_resp_release(struct as_resp *w);
/* Parses a request line target ("/a/b?x=1&y=2") into r (path, seg, query), copying into buf
 * (>= strlen(target)+1); returns 0 or -1 when too long / too many segments. */
int as_req_parse_target(struct as_req *r, const char *target, char *buf, size_t size);

/* ---- throttling (sim_throttle.c; exposed for unit tests and the admin API) ---- */

struct as_bucket {
    double tokens, size, refill_per_s; /* refill per SIMULATED second */
    int64_t last_ms;
};
void as_bucket_init(struct as_bucket *b, double size, double refill_per_s, int64_t now_ms);
/* Refills to now; takes n tokens when available (returns true), else returns false and sets
 * *ret_wait_ms (optional) to the simulated time until n tokens are there. */
bool as_bucket_take(struct as_bucket *b, double n, int64_t now_ms, int64_t *ret_wait_ms);
double as_bucket_level(struct as_bucket *b, int64_t now_ms);

/* Module init prototypes (hack/armsim/modules.h). */
#define ARMSIM_MODULE(f) void f(struct armsim *sim);
#include "modules.h"
#undef ARMSIM_MODULE

#endif
