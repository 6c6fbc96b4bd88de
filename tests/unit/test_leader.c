/* test_leader.c - leader election on a Lease (controller/leader.h): the pure decision, and
 * electors against a real kubesim (and a scripted Lease server for renewal failures). */
#include "test_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "kube.h"
#include "leader.h"
#include "rc_err.h"
#include "support_kubesim.h"
#include "support_srv.h"

#define T0 1795514400000LL /* 2026-11-24T10:00:00Z (wall clock) */

/* ---- the pure decision ---- */

static struct leader_record rec(const char *holder, int dur, const char *renew, int transitions,
                                const char *rv)
{
    struct leader_record r;

    memset(&r, 0, sizeof(r));
    snprintf(r.holder, sizeof(r.holder), "%s", holder);
    r.duration_s = dur;
    snprintf(r.acquire_time, sizeof(r.acquire_time), "2026-11-24T09:00:00.000000Z");
    snprintf(r.renew_time, sizeof(r.renew_time), "%s", renew);
    r.transitions = transitions;
    snprintf(r.rv, sizeof(r.rv), "%s", rv);
    return r;
}

static const char *spec_str(const json_t *lease, const char *k)
{
    return json_string_value(json_object_get(json_object_get(lease, "spec"), k));
}

static long long spec_int(const json_t *lease, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(lease, "spec"), k));
}

static const char *meta_str(const json_t *lease, const char *k)
{
    return json_string_value(json_object_get(json_object_get(lease, "metadata"), k));
}

/* No Lease: create one naming us, without a resourceVersion. */
static void test_absent_creates(void **state)
{
    struct leader_observed o;
    json_t *b;

    (void)state;
    memset(&o, 0, sizeof(o));
    leader_observe(&o, NULL, 1000);
    assert_int_equal(leader_decide(&o, "pod-a", 1000, 15000), LEADER_CREATE);
    b = leader_lease_body(&o, LEADER_CREATE, "azpool-system", "azpool-controller", "pod-a", 15,
                          T0 + 123);
    assert_string_equal(json_string_value(json_object_get(b, "apiVersion")),
                        "coordination.k8s.io/v1");
    assert_string_equal(json_string_value(json_object_get(b, "kind")), "Lease");
    assert_string_equal(meta_str(b, "name"), "azpool-controller");
    assert_string_equal(meta_str(b, "namespace"), "azpool-system");
    assert_null(meta_str(b, "resourceVersion"));
    assert_string_equal(spec_str(b, "holderIdentity"), "pod-a");
    assert_int_equal(spec_int(b, "leaseDurationSeconds"), 15);
    assert_string_equal(spec_str(b, "acquireTime"), "2026-11-24T10:00:00.123000Z");
    assert_string_equal(spec_str(b, "renewTime"), "2026-11-24T10:00:00.123000Z");
    assert_int_equal(spec_int(b, "leaseTransitions"), 0);
    json_decref(b);
}

/* Our own Lease: renew, keeping acquireTime and transitions, with the read RV. */
static void test_own_lease_renews(void **state)
{
    struct leader_observed o;
    struct leader_record r = rec("pod-a", 15, "2026-11-24T09:59:58.000000Z", 4, "812");
    json_t *b;

    (void)state;
    memset(&o, 0, sizeof(o));
    leader_observe(&o, &r, 1000);
    assert_int_equal(leader_decide(&o, "pod-a", 999999, 15000), LEADER_RENEW);
    b = leader_lease_body(&o, LEADER_RENEW, "ns", "l", "pod-a", 15, T0);
    assert_string_equal(meta_str(b, "resourceVersion"), "812");
    assert_string_equal(spec_str(b, "acquireTime"), "2026-11-24T09:00:00.000000Z");
    assert_string_equal(spec_str(b, "renewTime"), "2026-11-24T10:00:00.000000Z");
    assert_int_equal(spec_int(b, "leaseTransitions"), 4);
    json_decref(b);
}

/* Another holder: follow until the record has not changed for its duration of LOCAL time,
 * then take it over (transitions + 1, acquireTime now). A renewal seen meanwhile restarts
 * the wait; a change of resourceVersion alone does not. Remote times are not compared with
 * the local clock (the renewTime here is years in the past). */
static void test_other_holder_expires_by_local_time(void **state)
{
    struct leader_observed o;
    struct leader_record r = rec("pod-b", 15, "2001-01-01T00:00:00.000000Z", 2, "100");
    json_t *b;

    (void)state;
    memset(&o, 0, sizeof(o));
    leader_observe(&o, &r, 5000);
    assert_int_equal(leader_decide(&o, "pod-a", 5000, 15000), LEADER_FOLLOW);
    leader_observe(&o, &r, 12000); /* unchanged: at_ms stays 5000 */
    assert_int_equal(o.at_ms, 5000);
    assert_int_equal(leader_decide(&o, "pod-a", 19999, 15000), LEADER_FOLLOW);
    assert_int_equal(leader_decide(&o, "pod-a", 20000, 15000), LEADER_TAKE);

    r = rec("pod-b", 15, "2001-01-01T00:00:02.000000Z", 2, "101"); /* renewed */
    leader_observe(&o, &r, 19000);
    assert_int_equal(o.at_ms, 19000);
    assert_int_equal(leader_decide(&o, "pod-a", 20000, 15000), LEADER_FOLLOW);
    assert_int_equal(leader_decide(&o, "pod-a", 34000, 15000), LEADER_TAKE);

    snprintf(r.rv, sizeof(r.rv), "102"); /* same record, new RV (an unrelated write) */
    leader_observe(&o, &r, 30000);
    assert_int_equal(o.at_ms, 19000);
    assert_string_equal(o.rec.rv, "102");

    b = leader_lease_body(&o, LEADER_TAKE, "ns", "l", "pod-a", 15, T0);
    assert_string_equal(meta_str(b, "resourceVersion"), "102");
    assert_string_equal(spec_str(b, "holderIdentity"), "pod-a");
    assert_string_equal(spec_str(b, "acquireTime"), "2026-11-24T10:00:00.000000Z");
    assert_int_equal(spec_int(b, "leaseTransitions"), 3);
    json_decref(b);
    assert_null(leader_lease_body(&o, LEADER_FOLLOW, "ns", "l", "pod-a", 15, T0));
}

/* A released Lease (holder "") is taken at once; a record without a duration uses ours; a
 * record's own shorter duration applies. */
static void test_released_and_durations(void **state)
{
    struct leader_observed o;
    struct leader_record r = rec("", 1, "x", 3, "7");
    json_t *b;

    (void)state;
    memset(&o, 0, sizeof(o));
    leader_observe(&o, &r, 1000);
    assert_int_equal(leader_decide(&o, "pod-a", 1000, 15000), LEADER_TAKE);

    r = rec("pod-b", 0, "x", 3, "8");
    leader_observe(&o, &r, 1000);
    assert_int_equal(leader_decide(&o, "pod-a", 15999, 15000), LEADER_FOLLOW);
    assert_int_equal(leader_decide(&o, "pod-a", 16000, 15000), LEADER_TAKE);
    r = rec("pod-b", 5, "y", 3, "9");
    leader_observe(&o, &r, 1000);
    assert_int_equal(leader_decide(&o, "pod-a", 5999, 15000), LEADER_FOLLOW);
    assert_int_equal(leader_decide(&o, "pod-a", 6000, 15000), LEADER_TAKE);

    b = leader_release_body(&o, "ns", "l", T0 + 5);
    assert_string_equal(spec_str(b, "holderIdentity"), "");
    assert_int_equal(spec_int(b, "leaseDurationSeconds"), 1);
    assert_int_equal(spec_int(b, "leaseTransitions"), 3);
    assert_string_equal(spec_str(b, "renewTime"), "2026-11-24T10:00:00.005000Z");
    assert_string_equal(meta_str(b, "resourceVersion"), "9");
    json_decref(b);
}

/* Parsing a Lease: absent fields are empty, wrong types and oversized strings refused. */
static void test_record_parse(void **state)
{
    struct leader_record r;
    json_t *j;

    (void)state;
    j = json_pack("{s:{s:s},s:{s:s,s:i,s:s,s:i}}", "metadata", "resourceVersion", "5", "spec",
                  "holderIdentity", "pod-a", "leaseDurationSeconds", 15, "renewTime",
                  "2026-11-24T10:00:00.000000Z", "leaseTransitions", 2);
    assert_int_equal(leader_record_parse(j, &r), 0);
    assert_string_equal(r.holder, "pod-a");
    assert_int_equal(r.duration_s, 15);
    assert_int_equal(r.transitions, 2);
    assert_string_equal(r.rv, "5");
    assert_string_equal(r.acquire_time, "");
    json_decref(j);
    j = json_pack("{s:{}}", "metadata"); /* a Lease without spec: nobody holds it */
    assert_int_equal(leader_record_parse(j, &r), 0);
    assert_string_equal(r.holder, "");
    json_decref(j);
    j = json_pack("{s:{},s:{s:i}}", "metadata", "spec", "holderIdentity", 3);
    assert_int_equal(leader_record_parse(j, &r), -RC_EPROTO);
    json_decref(j);
    j = json_pack("{s:{},s:{s:s}}", "metadata", "spec", "leaseDurationSeconds", "15");
    assert_int_equal(leader_record_parse(j, &r), -RC_EPROTO);
    json_decref(j);
    assert_int_equal(leader_record_parse(NULL, &r), -RC_EPROTO);
}

/* Timing constraints and required options are checked; the identity comes from POD_NAME. */
static void test_options_and_identity(void **state)
{
    struct leader_opts o = {.namespace = "ns", .identity = "a"};
    struct rc_err err = {0};
    char id[300];

    (void)state;
    o.lease_ms = 10000, o.renew_deadline_ms = 10000, o.retry_ms = 2000;
    assert_null(leader_new(NULL, NULL, &o, &err));
    assert_int_equal(err.code, -RC_EINVAL);
    o.lease_ms = 15000, o.renew_deadline_ms = 2400, o.retry_ms = 2000;
    assert_null(leader_new(NULL, NULL, &o, &err));
    /* the leader notices a missed deadline only at a retry tick, up to renew + retry after
     * its last renewal, while a follower may take over lease after it: renew + retry must
     * stay below the lease */
    o.lease_ms = 15000, o.renew_deadline_ms = 14000, o.retry_ms = 11000;
    assert_null(leader_new(NULL, NULL, &o, &err));
    assert_int_equal(err.code, -RC_EINVAL);
    o.lease_ms = 15000, o.renew_deadline_ms = 10000, o.retry_ms = 5000;
    assert_null(leader_new(NULL, NULL, &o, &err));
    o.retry_ms = 2000;
    o.renew_deadline_ms = 10000;
    o.identity = "";
    assert_null(leader_new(NULL, NULL, &o, &err));
    o.identity = "a";
    o.namespace = NULL;
    assert_null(leader_new(NULL, NULL, &o, &err));

    setenv("POD_NAME", "azpool-controller-7d9f-abcde", 1);
    assert_int_equal(leader_identity(id, sizeof(id)), 0);
    assert_string_equal(id, "azpool-controller-7d9f-abcde");
    unsetenv("POD_NAME");
    assert_int_equal(leader_identity(id, sizeof(id)), 0);
    assert_non_null(strchr(id, '_'));
    assert_int_equal(atol(strrchr(id, '_') + 1), (long)getpid());
    assert_int_equal(leader_identity(id, 3), -RC_ELIMIT);
}

/* ---- electors on a loop ---- */

#define LEASE_MS 3000
#define RENEW_MS 2000
#define RETRY_MS 500

struct cand {
    const char *id;
    struct leader *l;
    int started, stopped;
    uint64_t started_at, stopped_at;
    uv_loop_t *loop;
};

static void on_started(void *arg)
{
    struct cand *c = arg;

    c->started++;
    c->started_at = uv_now(c->loop);
}

static void on_stopped(void *arg)
{
    struct cand *c = arg;

    c->stopped++;
    c->stopped_at = uv_now(c->loop);
}

static void cand_new(struct cand *c, uv_loop_t *loop, struct kube *k, const char *id)
{
    struct leader_opts o = {.namespace = "azpool-system",
                            .identity = id,
                            .lease_ms = LEASE_MS,
                            .renew_deadline_ms = RENEW_MS,
                            .retry_ms = RETRY_MS,
                            .on_started = on_started,
                            .on_stopped = on_stopped};
    struct rc_err err = {0};

    memset(c, 0, sizeof(*c));
    c->id = id;
    c->loop = loop;
    o.arg = c;
    c->l = leader_new(loop, k, &o, &err);
    assert_non_null(c->l);
}

static void on_guard(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static struct cand *g_a, *g_b;
static int g_overlap; /* loop turns on which both led */

/* Runs the loop for ms, or until *flag (may be NULL) becomes non-zero; after every turn
 * checks that at most one of g_a / g_b leads. Returns the time spent. */
static uint64_t run_for(uv_loop_t *loop, long ms, const int *flag)
{
    uv_timer_t t;
    bool expired = false;
    uint64_t t0;

    uv_update_time(loop);
    t0 = uv_now(loop);
    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_guard, (uint64_t)ms, 0);
    while (!expired && !(flag && *flag)) {
        uv_run(loop, UV_RUN_ONCE);
        if (g_a && g_b && leader_is_leader(g_a->l) && leader_is_leader(g_b->l))
            g_overlap++;
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return uv_now(loop) - t0;
}

static struct kube *client_for(uv_loop_t *loop, const char *kubeconfig)
{
    struct kube_config cfg;
    struct rc_err err = {0};
    struct kube *k;

    assert_int_equal(kube_config_load(kubeconfig, NULL, &cfg, &err), 0);
    k = kube_new(loop, &cfg, 5000, &err);
    kube_config_release(&cfg);
    assert_non_null(k);
    return k;
}

static json_t *get_lease(const struct ksim *s)
{
    static char body[65536];

    assert_int_equal(ksim_http(s, "GET",
                               "/apis/coordination.k8s.io/v1/namespaces/azpool-system/leases/"
                               "azpool-controller",
                               NULL, NULL, body, sizeof(body)),
                     200);
    return json_loads(body, 0, NULL);
}

struct duo {
    struct ksim s;
    uv_loop_t loop;
    struct kube *k;
    struct cand a, b;
};

/* Two electors started together on one kubesim: exactly one leads, the Lease names it. */
static void duo_up(struct duo *d)
{
    int dummy = 0;
    json_t *lease;
    struct cand *lead;

    assert_int_equal(ksim_start(&d->s, NULL), 0);
    assert_int_equal(ksim_namespace(&d->s, "azpool-system"), 0);
    uv_loop_init(&d->loop);
    d->k = client_for(&d->loop, d->s.kubeconfig);
    cand_new(&d->a, &d->loop, d->k, "pod-a");
    cand_new(&d->b, &d->loop, d->k, "pod-b");
    g_a = &d->a;
    g_b = &d->b;
    g_overlap = 0;
    assert_int_equal(leader_start(d->a.l), 0);
    assert_int_equal(leader_start(d->b.l), 0);
    run_for(&d->loop, 4 * RETRY_MS, &dummy);
    assert_int_equal(d->a.started + d->b.started, 1);
    assert_int_equal(g_overlap, 0);
    assert_true(leader_settled(d->a.l));
    assert_true(leader_settled(d->b.l));
    lead = d->a.started ? &d->a : &d->b;
    assert_true(leader_is_leader(lead->l));
    lease = get_lease(&d->s);
    assert_string_equal(spec_str(lease, "holderIdentity"), lead->id);
    assert_int_equal(spec_int(lease, "leaseDurationSeconds"), LEASE_MS / 1000);
    assert_int_equal(spec_int(lease, "leaseTransitions"), 0);
    json_decref(lease);
    assert_string_equal(leader_holder(d->a.l), lead->id);
    assert_string_equal(leader_holder(d->b.l), lead->id);
}

static void duo_down(struct duo *d)
{
    g_a = g_b = NULL;
    leader_free(d->a.l);
    leader_free(d->b.l);
    kube_free(d->k);
    srv_loop_finish(&d->loop);
    ksim_stop(&d->s);
}

/* The leader keeps renewing (renewTime moves, no transition) and nobody else leads. */
static void test_one_leader_renews(void **state)
{
    struct duo d;
    json_t *l1, *l2;
    int dummy = 0;

    (void)state;
    duo_up(&d);
    l1 = get_lease(&d.s);
    run_for(&d.loop, 3 * LEASE_MS / 2, &dummy); /* longer than a lease duration */
    l2 = get_lease(&d.s);
    assert_string_equal(spec_str(l2, "holderIdentity"), spec_str(l1, "holderIdentity"));
    assert_string_not_equal(spec_str(l2, "renewTime"), spec_str(l1, "renewTime"));
    assert_string_equal(spec_str(l2, "acquireTime"), spec_str(l1, "acquireTime"));
    assert_int_equal(spec_int(l2, "leaseTransitions"), 0);
    assert_int_equal(d.a.started + d.b.started, 1);
    assert_int_equal(d.a.stopped + d.b.stopped, 0);
    assert_int_equal(g_overlap, 0);
    json_decref(l1);
    json_decref(l2);
    duo_down(&d);
}

/* The leader dies without releasing: the other takes over after the lease duration (not
 * before it minus a retry period) and within lease duration + retry period. */
static void test_crashed_leader_taken_over(void **state)
{
    struct duo d;
    struct cand *lead, *other;
    uint64_t waited;
    json_t *lease;

    (void)state;
    duo_up(&d);
    lead = d.a.started ? &d.a : &d.b;
    other = lead == &d.a ? &d.b : &d.a;
    leader_free(lead->l); /* a crash: no release, no callback */
    lead->l = NULL;
    if (lead == &d.a)
        g_a = NULL;
    else
        g_b = NULL;
    waited = run_for(&d.loop, LEASE_MS + 4 * RETRY_MS, &other->started);
    assert_int_equal(other->started, 1);
    assert_true(waited >= LEASE_MS - RETRY_MS);
    assert_true(waited <= LEASE_MS + RETRY_MS + 300);
    lease = get_lease(&d.s);
    assert_string_equal(spec_str(lease, "holderIdentity"), other->id);
    assert_int_equal(spec_int(lease, "leaseTransitions"), 1);
    json_decref(lease);
    duo_down(&d);
}

static void on_done(void *arg)
{
    (*(int *)arg)++;
}

/* A clean stop releases the Lease (holder "", duration 1): the other takes over within a
 * retry period or two instead of a lease duration. A follower's stop has nothing to
 * release. */
static void test_release_on_stop(void **state)
{
    struct duo d;
    struct cand *lead, *other;
    uint64_t waited;
    int done = 0;
    json_t *lease;

    (void)state;
    duo_up(&d);
    lead = d.a.started ? &d.a : &d.b;
    other = lead == &d.a ? &d.b : &d.a;
    assert_int_equal(leader_stop(lead->l, true, on_done, &done), 1);
    assert_int_equal(lead->stopped, 1); /* on_stopped ran first, synchronously */
    assert_false(leader_is_leader(lead->l));
    assert_int_equal(done, 0);
    run_for(&d.loop, 2000, &done);
    assert_int_equal(done, 1);
    waited = run_for(&d.loop, LEASE_MS, &other->started);
    assert_int_equal(other->started, 1);
    assert_true(waited <= 2 * RETRY_MS + 300);
    lease = get_lease(&d.s);
    assert_string_equal(spec_str(lease, "holderIdentity"), other->id);
    assert_int_equal(spec_int(lease, "leaseDurationSeconds"), LEASE_MS / 1000);
    assert_int_equal(spec_int(lease, "leaseTransitions"), 1);
    json_decref(lease);
    /* the stopped one never leads again */
    run_for(&d.loop, 2 * RETRY_MS, NULL);
    assert_int_equal(lead->started, 1);
    assert_int_equal(g_overlap, 0);
    assert_int_equal(leader_stop(other->l, false, on_done, &done), 0);
    assert_int_equal(other->stopped, 1);
    duo_down(&d);
}

/* ---- renewal failure, on a scripted Lease server ---- */

struct lease_srv {
    bool fail;   /* answer 503 to everything */
    char *lease; /* the stored Lease (JSON) or NULL */
    int rv;
    int requests;
};

static void lease_handler(void *arg, const struct srv_req *req, struct srv_resp *resp)
{
    static char out[4096];
    struct lease_srv *ls = arg;
    json_t *j;

    ls->requests++;
    snprintf(resp->headers, sizeof(resp->headers), "Content-Type: application/json\r\n");
    if (ls->fail) {
        resp->status = 503;
        resp->body = "{\"kind\":\"Status\",\"code\":503,\"reason\":\"ServiceUnavailable\"}";
    } else if (strcmp(req->method, "GET") == 0) {
        resp->status = ls->lease ? 200 : 404;
        resp->body =
            ls->lease ? ls->lease : "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}";
    } else {
        j = json_loadb(req->body, req->body_len, 0, NULL);
        assert_non_null(j);
        if (strcmp(req->method, "POST") == 0
                ? ls->lease != NULL
                : !ls->lease || atoi(meta_str(j, "resourceVersion")) != ls->rv) {
            resp->status = 409;
            resp->body = "{\"kind\":\"Status\",\"code\":409,\"reason\":\"Conflict\"}";
        } else {
            char rv[16];

            snprintf(rv, sizeof(rv), "%d", ++ls->rv);
            json_object_set_new(json_object_get(j, "metadata"), "resourceVersion", json_string(rv));
            free(ls->lease);
            ls->lease = json_dumps(j, JSON_COMPACT);
            snprintf(out, sizeof(out), "%s", ls->lease);
            resp->status = strcmp(req->method, "POST") == 0 ? 201 : 200;
            resp->body = out;
        }
        json_decref(j);
    }
    resp->body_len = strlen(resp->body);
}

/* When renewals fail, the leader stops leading after the renew deadline (well before the
 * lease expires for others) and leads again once it can renew. */
static void test_renew_deadline(void **state)
{
    struct lease_srv ls = {false, NULL, 0, 0};
    char text[512];
    const char *texts[1] = {text};
    size_t lens[1];
    struct kube_config cfg;
    struct rc_err err = {0};
    uv_loop_t loop;
    struct srv *srv;
    struct kube *k;
    struct cand a;
    uint64_t t_fail;

    (void)state;
    uv_loop_init(&loop);
    srv = srv_start(&loop, lease_handler, &ls);
    assert_non_null(srv);
    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
             "clusters: [{name: s, cluster: {server: \"http://127.0.0.1:%d\"}}]\n"
             "users: [{name: u, user: {token: t}}]\n"
             "contexts: [{name: c, context: {cluster: s, user: u}}]\n",
             srv_port(srv));
    lens[0] = strlen(text);
    assert_int_equal(kube_config_parse(texts, lens, NULL, 1, NULL, &cfg, &err), 0);
    k = kube_new(&loop, &cfg, 2000, &err);
    kube_config_release(&cfg);
    cand_new(&a, &loop, k, "pod-a");
    assert_int_equal(leader_start(a.l), 0);
    run_for(&loop, 2000, &a.started);
    assert_int_equal(a.started, 1);
    run_for(&loop, 2 * RETRY_MS, NULL); /* a few renewals */
    assert_true(ls.rv >= 2);

    ls.fail = true;
    uv_update_time(&loop);
    t_fail = uv_now(&loop);
    run_for(&loop, RENEW_MS + 2 * RETRY_MS, &a.stopped);
    assert_int_equal(a.stopped, 1);
    assert_true(a.stopped_at - t_fail >= RENEW_MS - RETRY_MS);
    assert_true(a.stopped_at - t_fail <= RENEW_MS + RETRY_MS + 200);
    assert_true(a.stopped_at - t_fail < LEASE_MS);
    assert_false(leader_is_leader(a.l));
    assert_true(leader_settled(a.l));

    ls.fail = false; /* the Lease still names us: we renew and lead again */
    run_for(&loop, 4 * RETRY_MS, &(int){0});
    assert_int_equal(a.started, 2);
    assert_true(leader_is_leader(a.l));
    leader_free(a.l);
    kube_free(k);
    srv_stop(srv);
    srv_loop_finish(&loop);
    free(ls.lease);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent_creates),
        cmocka_unit_test(test_own_lease_renews),
        cmocka_unit_test(test_other_holder_expires_by_local_time),
        cmocka_unit_test(test_released_and_durations),
        cmocka_unit_test(test_record_parse),
        cmocka_unit_test(test_options_and_identity),
        cmocka_unit_test(test_one_leader_renews),
        cmocka_unit_test(test_crashed_leader_taken_over),
        cmocka_unit_test(test_release_on_stop),
        cmocka_unit_test(test_renew_deadline),
    };

    return az_run_tests("leader", tests);
}
