/*
 * armsim_int.h - armsim framework internals shared by core.c, store.c, throttle.c, server.c and
 * the built-in modules. Modules written by others should only need armsim.h.
 *
 * Ownership: struct armsim owns every route, store entry, scheduled item, operation (in the json
 * object `ops`), throttle bucket and log entry; armsim_free() releases all of them.
 */
#ifndef AZPOOL_ARMSIM_INT_H
#define AZPOOL_ARMSIM_INT_H

#include "armsim.h"

/* ---- small string map (string -> pointer), keys copied ---- */
struct as_map;
struct as_map *as_map_new(void);
void as_map_free(struct as_map *m, void (*free_val)(void *)); /* NULL is fine */
void *as_map_get(const struct as_map *m, const char *key);
int as_map_put(struct as_map *m, const char *key, void *val); /* replaces; 0 or -1 */
void *as_map_del(struct as_map *m, const char *key);          /* returns the value */
/* Iteration: i from 0; returns 1 with key/val while entries remain. */
int as_map_next(const struct as_map *m, size_t *i, const char **ret_key, void **ret_val);

/* ---- routes ---- */
struct as_route_ent {
    const char *method, *pattern, *apiv, *policy;
    char *segs[AS_MAX_SEGS];
    int nsegs;
    bool rest;
    as_handler_cb h;
    unsigned flags;
    void *ud;
    const char *bucket_param; /* capture that ends the compute resource bucket key */
};

struct as_sched_ent {
    int64_t at;
    uint64_t seq;
    const char *name;
    char *id;
    json_t *arg;
};

struct as_sched_h {
    const char *name;
    as_sched_cb cb;
};

struct as_hook {
    as_request_cb cb;
    void *ud;
};

struct as_snap_hook {
    const char *name;
    as_save_cb save;
    as_load_cb load;
    as_reset_cb reset;
};

struct as_fault_rule {
    char method[12];
    char glob[256];
    double p500, p503, p429, preset;
    int64_t latency_ms;
};

struct as_log_ent {
    int64_t sim_ms, real_ms;
    char method[8];
    char path[512]; /* request path as sent; longer paths are cut (hybrid worker ids fit) */
    int status;
    char principal[64];
};

#define AS_LOG_MAX    20000
#define AS_MAX_ROUTES 256
#define AS_MAX_FAULTS 32

struct as_throttle; /* server.c sets it: on-demand header lookup for requests from the network */
extern const char *(*as__hdr_lookup)(struct as_req *r, const char *name);

/* throttle.c */

struct armsim {
    struct as_config cfg;
    /* time */
    int64_t base_real_ms, base_sim_ms;
    double scale;
    int64_t (*clock_fn)(void *);
    void *clock_ud;
    /* rng */
    uint64_t rng, id_rng;
    /* routes */
    struct as_route_ent routes[AS_MAX_ROUTES];
    int nroutes;
    /* store: sorted by strcasecmp(id) */
    struct as_res **res;
    size_t nres, capres;
    /* schedule heap */
    struct as_sched_ent *sched;
    size_t nsched, capsched;
    uint64_t sched_seq;
    struct as_sched_h sched_h[64];
    int nsched_h;
    /* operations: op id -> {"resourceId","start","end","finalStatus","failCode",...} */
    json_t *ops;
    int retry_after_s;
    /* hooks */
    struct as_hook hooks[16];
    int nhooks;
    struct as_snap_hook snaps[16];
    int nsnaps;
    /* faults */
    struct as_fault_rule faults[AS_MAX_FAULTS];
    int nfaults;
    /* log and counters */
    struct as_log_ent *log;
    size_t log_head, log_count;
    uint64_t log_total;
    json_t *counters; /* {"method":{},"route":{},"status":{}} */
    /* throttling */
    struct as_throttle *thr;
    /* token signing key */
    unsigned char token_key[32];
    /* denied client ids (admin) */
    json_t *deny;
    /* server */
    volatile int stop;
    void *lws_ctx;
    /* module-private state */
    void *compute;
    void (*compute_free)(void *);
};

/* core.c */
int64_t as__real_ms(const struct armsim *sim);
void as__count(struct armsim *sim, const char *method, const char *route, int status);
void as__log(struct armsim *sim, const struct as_req *r, int status);
int as__faults_parse(struct armsim *sim, const char *spec, char *err, size_t errsize);
json_t *as__faults_json(const struct armsim *sim);
void as__store_clear(struct armsim *sim);

/* server.c sets it: on-demand header lookup for requests from the network */
extern const char *(*as__hdr_lookup)(struct as_req *r, const char *name);

/* throttle.c */
struct as_throttle *as__throttle_new(void);
void as__throttle_free(struct as_throttle *t);
void as__throttle_reset(struct as_throttle *t);
/* Charges a request; on throttling answers 429 and returns false. Always adds the headers. */
bool as__throttle_charge(struct armsim *sim, struct as_req *r, struct as_resp *w,
                         const struct as_route_ent *rt);
json_t *as__throttle_config(const struct armsim *sim);
int as__throttle_configure(struct armsim *sim, json_t *cfg, char *err, size_t errsize);

/* token.c */
int as__token_make(struct armsim *sim, const char *client_id, const char *tenant, const char *aud,
                   int64_t exp_s, char *buf, size_t size);
/* 0 ok (ret_client filled), -1 invalid, -2 expired */
int as__token_check(struct armsim *sim, const char *token, char *ret_client, size_t size);

/* certs.c */
/* (now hack/common/simcerts.h: simcerts_ensure) */

/* server.c */
int as__server_run(struct armsim *sim);

/* json helpers */
const char *as__jstr(json_t *o, const char *key); /* string member or NULL */
/* Rewrites body.location as Azure normalises it ("West Europe" -> "westeurope"). */
void as__norm_location(json_t *body);
/* RFC 7386 merge patch of patch into target (target modified). */
void as__merge_patch(json_t *target, json_t *patch);

#endif
