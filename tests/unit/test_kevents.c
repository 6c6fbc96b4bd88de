/* test_kevents.c - the Event recorder (controller/kevents.h) against a real kubesim, and
 * against a scripted server for retries and the cache bound. */
#include "test_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "kevents.h"
#include "kube.h"
#include "support_kubesim.h"
#include "support_srv.h"

#define T0     1795514400000LL /* 2026-11-24T10:00:00Z */
#define MINUTE 60000LL

static const struct kevents_ref WP1 = {
    "azpool.dev/v1alpha1", "WorkerPool", "ci", "wp1", "0c1e7c1a-1111-4222-8333-444455556666", "42"};

/* ---- helpers ---- */

static void on_guard(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Runs the loop until the recorder is idle (or timeout_ms passes: a failure). */
static void run_idle(uv_loop_t *loop, struct kevents *r, long timeout_ms)
{
    uv_timer_t t;
    bool expired = false;

    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_guard, (uint64_t)timeout_ms, 0);
    while (kevents_pending(r) && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    assert_false(expired);
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

static struct kube *client_url(uv_loop_t *loop, int port)
{
    char text[512];
    const char *texts[1] = {text};
    size_t lens[1];
    struct kube_config cfg;
    struct rc_err err = {0};
    struct kube *k;

    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
             "clusters: [{name: s, cluster: {server: \"http://127.0.0.1:%d\"}}]\n"
             "users: [{name: u, user: {token: t}}]\n"
             "contexts: [{name: c, context: {cluster: s, user: u}}]\n",
             port);
    lens[0] = strlen(text);
    assert_int_equal(kube_config_parse(texts, lens, NULL, 1, NULL, &cfg, &err), 0);
    k = kube_new(loop, &cfg, 5000, &err);
    kube_config_release(&cfg);
    assert_non_null(k);
    return k;
}

/* The Events of namespace ns, sorted by name (new reference). */
static json_t *list_events(const struct ksim *s, const char *ns, const char *query)
{
    static char body[1 << 20];
    char path[512];
    json_t *j;

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events%s", ns, query ? query : "");
    assert_int_equal(ksim_http(s, "GET", path, NULL, NULL, body, sizeof(body)), 200);
    j = json_loads(body, 0, NULL);
    assert_non_null(j);
    return j;
}

static const json_t *items(const json_t *list)
{
    return json_object_get(list, "items");
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v ? v : "(none)";
}

/* The one Event in items with this reason and message prefix (asserts exactly one). */
static const json_t *the_event(const json_t *list, const char *reason, const char *msg_prefix)
{
    size_t i, n = 0;
    const json_t *e, *found = NULL;

    json_array_foreach(items(list), i,
                       e) if (strcmp(jstr(e, "reason"), reason) == 0 &&
                              strncmp(jstr(e, "message"), msg_prefix, strlen(msg_prefix)) == 0)
    {
        found = e;
        n++;
    }
    assert_int_equal(n, 1);
    return found;
}

static int64_t jcount(const json_t *e)
{
    return json_integer_value(json_object_get(e, "count"));
}

struct world {
    struct ksim s;
    uv_loop_t loop;
    struct kube *k;
    struct kevents *r;
};

static void world_up(struct world *w)
{
    assert_int_equal(ksim_start(&w->s, NULL), 0);
    assert_int_equal(ksim_namespace(&w->s, "ci"), 0);
    uv_loop_init(&w->loop);
    w->k = client_for(&w->loop, w->s.kubeconfig);
    w->r = kevents_new(&w->loop, w->k, "azpool", "azpool-controller-7d9f-abcde");
    assert_non_null(w->r);
}

static void world_down(struct world *w)
{
    kevents_free(w->r);
    kube_free(w->k);
    srv_loop_finish(&w->loop);
    ksim_stop(&w->s);
}

/* ---- tests against kubesim ---- */

/* The first occurrence creates an Event with every field client-go sets; the same
 * occurrence again within 10 minutes PATCHes count and lastTimestamp of that Event. */
static void test_create_then_aggregate(void **state)
{
    struct world w;
    json_t *l;
    const json_t *e, *io;
    char name[300];

    (void)state;
    world_up(&w);
    assert_int_equal(kevents_record(w.r, &WP1, KEVENTS_NORMAL, KEVENTS_SCALED_OUT,
                                    "scaled out 3 -> 5 (replicas)", T0),
                     0);
    run_idle(&w.loop, w.r, 5000);
    assert_int_equal(kevents_stats(w.r)->created, 1);
    l = list_events(&w.s, "ci", NULL);
    assert_int_equal(json_array_size(items(l)), 1);
    e = the_event(l, "ScaledOut", "scaled out 3 -> 5 (replicas)");
    assert_string_equal(jstr(e, "type"), "Normal");
    assert_int_equal(jcount(e), 1);
    assert_string_equal(jstr(e, "firstTimestamp"), "2026-11-24T10:00:00Z");
    assert_string_equal(jstr(e, "lastTimestamp"), "2026-11-24T10:00:00Z");
    assert_string_equal(jstr(json_object_get(e, "source"), "component"), "azpool");
    assert_string_equal(jstr(e, "reportingComponent"), "azpool");
    assert_string_equal(jstr(e, "reportingInstance"), "azpool-controller-7d9f-abcde");
    io = json_object_get(e, "involvedObject");
    assert_string_equal(jstr(io, "apiVersion"), "azpool.dev/v1alpha1");
    assert_string_equal(jstr(io, "kind"), "WorkerPool");
    assert_string_equal(jstr(io, "namespace"), "ci");
    assert_string_equal(jstr(io, "name"), "wp1");
    assert_string_equal(jstr(io, "uid"), WP1.uid);
    assert_string_equal(jstr(io, "resourceVersion"), "42");
    snprintf(name, sizeof(name), "%s", jstr(json_object_get(e, "metadata"), "name"));
    assert_int_equal(strncmp(name, "wp1.", 4), 0);
    assert_true(strlen(name) > 4 + 10);
    json_decref(l);

    /* 1 and 9 minutes later: the same Event, count 3 */
    assert_int_equal(kevents_record(w.r, &WP1, KEVENTS_NORMAL, KEVENTS_SCALED_OUT,
                                    "scaled out 3 -> 5 (replicas)", T0 + MINUTE),
                     0);
    run_idle(&w.loop, w.r, 5000);
    assert_int_equal(kevents_record(w.r, &WP1, KEVENTS_NORMAL, KEVENTS_SCALED_OUT,
                                    "scaled out 3 -> 5 (replicas)", T0 + 10 * MINUTE - 1000),
                     0);
    run_idle(&w.loop, w.r, 5000);
    assert_int_equal(kevents_stats(w.r)->patched, 2);
    l = list_events(&w.s, "ci", NULL);
    assert_int_equal(json_array_size(items(l)), 1);
    e = the_event(l, "ScaledOut", "scaled out");
    assert_string_equal(jstr(json_object_get(e, "metadata"), "name"), name);
    assert_int_equal(jcount(e), 3);
    assert_string_equal(jstr(e, "firstTimestamp"), "2026-11-24T10:00:00Z");
    assert_string_equal(jstr(e, "lastTimestamp"), "2026-11-24T10:09:59Z");
    json_decref(l);

    /* more than 10 minutes after the last occurrence: a new Event */
    assert_int_equal(kevents_record(w.r, &WP1, KEVENTS_NORMAL, KEVENTS_SCALED_OUT,
                                    "scaled out 3 -> 5 (replicas)", T0 + 21 * MINUTE),
                     0);
    run_idle(&w.loop, w.r, 5000);
    l = list_events(&w.s, "ci", NULL);
    assert_int_equal(json_array_size(items(l)), 2);
    json_decref(l);
    /* kubectl describe finds them by the object's uid and kind */
    l = list_events(&w.s, "ci",
                    "?fieldSelector=involvedObject.name%3Dwp1,involvedObject.kind%3DWorkerPool,"
                    "involvedObject.uid%3D0c1e7c1a-1111-4222-8333-444455556666");
    assert_int_equal(json_array_size(items(l)), 2);
    json_decref(l);
    world_down(&w);
}

/* Occurrences during a write in flight are folded into one PATCH after it. */
static void test_fold_while_in_flight(void **state)
{
    struct world w;
    json_t *l;

    (void)state;
    world_up(&w);
    for (int i = 0; i < 6; i++)
        assert_int_equal(kevents_record(w.r, &WP1, KEVENTS_WARNING, KEVENTS_THROTTLED_BY_AZURE,
                                        "429 from Microsoft.Compute (writes), retry after 17s",
                                        T0 + i * 1000),
                         0);
    assert_int_equal(kevents_pending(w.r), 1);
    run_idle(&w.loop, w.r, 5000);
    assert_int_equal(kevents_stats(w.r)->created, 1);
    assert_int_equal(kevents_stats(w.r)->patched, 1);
    l = list_events(&w.s, "ci", NULL);
    assert_int_equal(json_array_size(items(l)), 1);
    assert_int_equal(jcount(the_event(l, "ThrottledByAzure", "429")), 6);
    assert_string_equal(jstr(the_event(l, "ThrottledByAzure", "429"), "type"), "Warning");
    assert_string_equal(jstr(the_event(l, "ThrottledByAzure", "429"), "lastTimestamp"),
                        "2026-11-24T10:00:05Z");
    json_decref(l);
    world_down(&w);
}

/* Similar events (same reason, other messages): nine separate Events, then the tenth and
 * later ones are combined into one Event "(combined from similar events): ...". */
static void test_similar_events_combined(void **state)
{
    struct world w;
    json_t *l;
    const json_t *c;
    char msg[64];

    (void)state;
    world_up(&w);
    for (int i = 0; i < 12; i++) {
        snprintf(msg, sizeof(msg), "instance wp1-%d-a expired", i);
        assert_int_equal(
            kevents_record(w.r, &WP1, KEVENTS_NORMAL, KEVENTS_INSTANCE_EXPIRED, msg, T0 + i * 1000),
            0);
        run_idle(&w.loop, w.r, 5000);
    }
    assert_int_equal(kevents_stats(w.r)->combined, 3);
    l = list_events(&w.s, "ci", NULL);
    assert_int_equal(json_array_size(items(l)), 10);
    c = the_event(l, "InstanceExpired", "(combined from similar events): ");
    assert_string_equal(jstr(c, "message"),
                        "(combined from similar events): instance wp1-11-a expired");
    assert_int_equal(jcount(c), 3);
    json_decref(l);
    world_down(&w);
}

/* The spam filter: 25 writes per object at once, then one per 5 minutes; another object
 * has its own bucket; the skipped occurrences are counted into the next write. */
static void test_spam_filter(void **state)
{
    struct world w;
    struct kevents_ref other = WP1;
    char reason[32];
    json_t *l;

    (void)state;
    world_up(&w);
    for (int i = 0; i < 25; i++) {
        snprintf(reason, sizeof(reason), "Reason%d", i);
        assert_int_equal(kevents_record(w.r, &WP1, KEVENTS_NORMAL, reason, "m", T0), 0);
    }
    assert_int_equal(kevents_record(w.r, &WP1, KEVENTS_NORMAL, "Reason0", "m", T0), 0); /* fold */
    run_idle(&w.loop, w.r, 5000);
    /* the fold's PATCH needed a token: the bucket was empty */
    assert_int_equal(kevents_stats(w.r)->spam_skips, 1);
    assert_int_equal(kevents_record(w.r, &WP1, KEVENTS_NORMAL, "Reason25", "m", T0 + 1000), 1);
    other.name = "wp2";
    other.uid = "9";
    assert_int_equal(kevents_record(w.r, &other, KEVENTS_NORMAL, "Reason25", "m", T0 + 1000), 0);
    run_idle(&w.loop, w.r, 5000);
    /* five minutes later one token is back: Reason0 is written with its total count */
    assert_int_equal(
        kevents_record(w.r, &WP1, KEVENTS_NORMAL, "Reason0", "m", T0 + 5 * MINUTE + 1000), 0);
    assert_int_equal(
        kevents_record(w.r, &WP1, KEVENTS_NORMAL, "Reason1", "m", T0 + 5 * MINUTE + 1000), 1);
    run_idle(&w.loop, w.r, 5000);
    assert_int_equal(kevents_stats(w.r)->created, 26);
    assert_int_equal(kevents_stats(w.r)->spam_skips, 3);
    l = list_events(&w.s, "ci", NULL);
    assert_int_equal(json_array_size(items(l)), 26);
    assert_int_equal(jcount(the_event(l, "Reason0", "m")), 3);
    json_decref(l);
    world_down(&w);
}

/* An Event deleted on the server (expired) is created again by the next occurrence, with
 * the same name and the running count. */
static void test_patch_404_recreates(void **state)
{
    struct world w;
    json_t *l;
    char path[512], name[300];

    (void)state;
    world_up(&w);
    assert_int_equal(
        kevents_record(w.r, &WP1, KEVENTS_WARNING, KEVENTS_ROLLOUT_HALTED, "canary failed", T0), 0);
    run_idle(&w.loop, w.r, 5000);
    l = list_events(&w.s, "ci", NULL);
    snprintf(name, sizeof(name), "%s",
             jstr(json_object_get(the_event(l, "RolloutHalted", "canary"), "metadata"), "name"));
    json_decref(l);
    snprintf(path, sizeof(path), "/api/v1/namespaces/ci/events/%s", name);
    assert_int_equal(ksim_http(&w.s, "DELETE", path, NULL, NULL, NULL, 0), 200);
    assert_int_equal(kevents_record(w.r, &WP1, KEVENTS_WARNING, KEVENTS_ROLLOUT_HALTED,
                                    "canary failed", T0 + MINUTE),
                     0);
    run_idle(&w.loop, w.r, 5000);
    assert_int_equal(kevents_stats(w.r)->created, 2);
    assert_int_equal(kevents_stats(w.r)->dropped, 0);
    l = list_events(&w.s, "ci", NULL);
    assert_int_equal(json_array_size(items(l)), 1);
    assert_string_equal(
        jstr(json_object_get(the_event(l, "RolloutHalted", "canary"), "metadata"), "name"), name);
    assert_int_equal(jcount(the_event(l, "RolloutHalted", "canary")), 2);
    json_decref(l);
    world_down(&w);
}

/* Bad input is refused without a write; a cluster-scoped object's Events go to "default";
 * long messages are cut to KEVENTS_MESSAGE_MAX on a UTF-8 boundary; invalid UTF-8 becomes '?'. */
static void test_input_limits(void **state)
{
    struct world w;
    struct kevents_ref bad = WP1, cluster = {"v1", "Node", NULL, "node-1", NULL, NULL};
    char big[3000];
    json_t *l;
    const char *m;

    (void)state;
    world_up(&w);
    bad.name = NULL;
    assert_int_equal(kevents_record(w.r, &bad, KEVENTS_NORMAL, "X", "m", T0), -RC_EINVAL);
    assert_int_equal(kevents_record(w.r, &WP1, KEVENTS_NORMAL, "", "m", T0), -RC_EINVAL);
    assert_int_equal(kevents_record(w.r, &WP1, KEVENTS_NORMAL, NULL, "m", T0), -RC_EINVAL);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    bad = WP1;
    bad.name = big + sizeof(big) - 300; /* 299 bytes */
    assert_int_equal(kevents_record(w.r, &bad, KEVENTS_NORMAL, "X", "m", T0), -RC_EINVAL);
    assert_int_equal(kevents_pending(w.r), 0);

    big[KEVENTS_MESSAGE_MAX - 1] = (char)0xC3; /* a 2-byte sequence across the limit */
    big[KEVENTS_MESSAGE_MAX] = (char)0xA9;
    assert_int_equal(kevents_record(w.r, &cluster, KEVENTS_NORMAL, "Test", big, T0), 0);
    run_idle(&w.loop, w.r, 5000);
    l = list_events(&w.s, "default", NULL);
    m = jstr(the_event(l, "Test", "xxx"), "message");
    assert_int_equal(strlen(m), KEVENTS_MESSAGE_MAX - 1);
    assert_null(
        json_object_get(json_object_get(the_event(l, "Test", "x"), "involvedObject"), "namespace"));
    json_decref(l);
    /* a message that is not UTF-8 is written with '?' for the bad bytes */
    assert_int_equal(
        kevents_record(w.r, &WP1, KEVENTS_WARNING, KEVENTS_AZURE_ERROR, "PUT failed: \xff\xfe", T0),
        0);
    run_idle(&w.loop, w.r, 5000);
    l = list_events(&w.s, "ci", NULL);
    assert_string_equal(jstr(the_event(l, "AzureError", "PUT"), "message"), "PUT failed: ??");
    json_decref(l);
    world_down(&w);
}

/* Two objects whose fields are all long (each within KEVENTS_FIELD_MAX) and differ only
 * at the end of the uid are two objects: two Events, not one with count 2. */
#define NS63 "ns-6789012345678901234567890123456789012345678901234567890123"

static void test_long_refs_distinct(void **state)
{
    struct world w;
    char api[KEVENTS_FIELD_MAX + 1], kind[KEVENTS_FIELD_MAX + 1], name[KEVENTS_FIELD_MAX + 1];
    char uid_a[KEVENTS_FIELD_MAX + 1], uid_b[KEVENTS_FIELD_MAX + 1];
    struct kevents_ref a, b;

    (void)state;
    world_up(&w);
    memset(api, 'a', KEVENTS_FIELD_MAX);
    api[KEVENTS_FIELD_MAX] = '\0';
    memset(kind, 'K', KEVENTS_FIELD_MAX);
    kind[KEVENTS_FIELD_MAX] = '\0';
    memset(name, 'n', KEVENTS_FIELD_MAX);
    name[KEVENTS_FIELD_MAX] = '\0';
    memset(uid_a, 'u', KEVENTS_FIELD_MAX);
    uid_a[KEVENTS_FIELD_MAX] = '\0';
    memcpy(uid_b, uid_a, sizeof(uid_b));
    uid_b[KEVENTS_FIELD_MAX - 1] = 'v';
    assert_int_equal(ksim_namespace(&w.s, NS63), 0);
    a = (struct kevents_ref){api, kind, NS63, name, uid_a, NULL};
    b = a;
    b.uid = uid_b;
    assert_int_equal(kevents_record(w.r, &a, KEVENTS_NORMAL, "Test", "same", T0), 0);
    run_idle(&w.loop, w.r, 5000);
    assert_int_equal(kevents_record(w.r, &b, KEVENTS_NORMAL, "Test", "same", T0 + 1000), 0);
    run_idle(&w.loop, w.r, 5000);
    assert_int_equal(kevents_stats(w.r)->patched, 0);
    assert_int_equal(kevents_stats(w.r)->created, 2);
    world_down(&w);
}

/* kevents_free with a write in flight: its callback does nothing (ASan: no use after free). */
static void test_free_in_flight(void **state)
{
    struct world w;

    (void)state;
    world_up(&w);
    assert_int_equal(kevents_record(w.r, &WP1, KEVENTS_NORMAL, KEVENTS_SCALED_IN, "m", T0), 0);
    assert_int_equal(kevents_pending(w.r), 1);
    kevents_free(w.r);
    w.r = NULL;
    uv_run(&w.loop, UV_RUN_NOWAIT);
    world_down(&w);
}

/* ---- scripted server ---- */

struct script {
    int fail_first; /* answer 503 to the first N requests */
    int requests;
    int posts, patches;
};

static void handler(void *arg, const struct srv_req *req, struct srv_resp *resp)
{
    struct script *sc = arg;

    sc->requests++;
    if (sc->requests <= sc->fail_first) {
        resp->status = 503;
        resp->body =
            "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"ServiceUnavailable\","
            "\"code\":503}";
        resp->body_len = strlen(resp->body);
        snprintf(resp->headers, sizeof(resp->headers), "Content-Type: application/json\r\n");
        return;
    }
    if (strcmp(req->method, "POST") == 0)
        sc->posts++;
    else
        sc->patches++;
    resp->status = strcmp(req->method, "POST") == 0 ? 201 : 200;
    resp->body = "{\"kind\":\"Event\",\"apiVersion\":\"v1\"}";
    resp->body_len = strlen(resp->body);
    snprintf(resp->headers, sizeof(resp->headers), "Content-Type: application/json\r\n");
}

/* A 503 without Retry-After is retried after 1 s and 2 s; the third attempt succeeds. */
static void test_transient_retry(void **state)
{
    struct script sc = {2, 0, 0, 0};
    uv_loop_t loop;
    struct srv *srv;
    struct kube *k;
    struct kevents *r;
    uint64_t t0;

    (void)state;
    uv_loop_init(&loop);
    srv = srv_start(&loop, handler, &sc);
    assert_non_null(srv);
    k = client_url(&loop, srv_port(srv));
    r = kevents_new(&loop, k, "azpool", "i");
    uv_update_time(&loop);
    t0 = uv_now(&loop);
    assert_int_equal(kevents_record(r, &WP1, KEVENTS_WARNING, KEVENTS_AZURE_ERROR, "m", T0), 0);
    run_idle(&loop, r, 10000);
    assert_true(uv_now(&loop) - t0 >= 3000);
    assert_int_equal(sc.requests, 3);
    assert_int_equal(sc.posts, 1);
    assert_int_equal(kevents_stats(r)->retries, 2);
    assert_int_equal(kevents_stats(r)->created, 1);
    assert_int_equal(kevents_stats(r)->dropped, 0);
    kevents_free(r);
    kube_free(k);
    srv_stop(srv);
    srv_loop_finish(&loop);
}

/* The dedup cache holds at most KEVENTS_CACHE_MAX Events: after that many newer ones, the
 * oldest is forgotten and its next occurrence is a new Event (POST, not PATCH). */
static void test_cache_bound(void **state)
{
    struct script sc = {0, 0, 0, 0};
    uv_loop_t loop;
    struct srv *srv;
    struct kube *k;
    struct kevents *r;
    struct kevents_ref o = WP1;
    char name[32];

    (void)state;
    uv_loop_init(&loop);
    srv = srv_start(&loop, handler, &sc);
    k = client_url(&loop, srv_port(srv));
    r = kevents_new(&loop, k, "azpool", "i");
    /* one object per Event so the spam filter stays out of the way */
    for (int i = 0; i <= KEVENTS_CACHE_MAX; i++) {
        snprintf(name, sizeof(name), "wp-%d", i);
        o.name = name;
        assert_int_equal(kevents_record(r, &o, KEVENTS_NORMAL, "X", "m", T0), 0);
        if (i % 64 == 63)
            run_idle(&loop, r, 10000);
    }
    run_idle(&loop, r, 10000);
    assert_int_equal(sc.posts, KEVENTS_CACHE_MAX + 1);
    o.name = "wp-1"; /* still cached: a PATCH */
    assert_int_equal(kevents_record(r, &o, KEVENTS_NORMAL, "X", "m", T0 + 1000), 0);
    run_idle(&loop, r, 10000);
    assert_int_equal(sc.patches, 1);
    o.name = "wp-0"; /* evicted: a POST */
    assert_int_equal(kevents_record(r, &o, KEVENTS_NORMAL, "X", "m", T0 + 1000), 0);
    run_idle(&loop, r, 10000);
    assert_int_equal(sc.posts, KEVENTS_CACHE_MAX + 2);
    assert_int_equal(sc.patches, 1);
    kevents_free(r);
    kube_free(k);
    srv_stop(srv);
    srv_loop_finish(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_then_aggregate),   cmocka_unit_test(test_fold_while_in_flight),
        cmocka_unit_test(test_similar_events_combined), cmocka_unit_test(test_spam_filter),
        cmocka_unit_test(test_patch_404_recreates),     cmocka_unit_test(test_input_limits),
        cmocka_unit_test(test_long_refs_distinct),      cmocka_unit_test(test_free_in_flight),
        cmocka_unit_test(test_transient_retry),         cmocka_unit_test(test_cache_bound),
    };

    return az_run_tests("kevents", tests);
}
