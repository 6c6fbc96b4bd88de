/*
 * test_kinformer.c - the list + watch informer (controller/kinformer.h)
 * against a real kubesim: initial list (paged), watch events with old/new,
 * bookmarks, compaction -> 410 -> relist whose diff loses and duplicates
 * nothing, dropped watches -> rewatch from the last resourceVersion, a server
 * that goes away (capped backoff) and comes back with its state, namespace
 * and label selector, and freeing while a list is in flight.
 *
 * The test's blocking admin requests (ksim_http) run while the loop is idle,
 * which is how the tests arrange "changes happen while the informer is not
 * watching".
 */
#include "test_main.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "kinformer.h"
#include "kube.h"
#include "support_kubesim.h"
#include "support_srv.h"

#define CMS   "/api/v1/namespaces/ci/configmaps"
#define CMS_B "/api/v1/namespaces/other/configmaps"
#define ALL   "/api/v1/configmaps"

struct change {
    char key[64];
    char old_v[16]; /* data.v of old ("" when old is NULL) */
    char new_v[16];
};

struct rec {
    struct kinformer *inf;
    int errors;      /* on_error calls */
    long err_status; /* of the last */
    char err_reason[32];
    int err_failures;
    struct change ch[2048];
    int n;
    int synced;
    int consistent; /* changes where the cache already showed the new state */
};

static const char *data_v(const json_t *o)
{
    const char *v = o ? json_string_value(json_object_get(json_object_get(o, "data"), "v")) : NULL;

    return v ? v : (o ? "?" : "");
}

static void on_change(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    struct rec *r = arg;
    const json_t *o = new_obj ? new_obj : old_obj;
    const json_t *md = json_object_get(o, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    struct change *c;

    if (kinformer_get(r->inf, ns, name) == new_obj)
        r->consistent++;
    if (r->n >= 2048)
        return;
    c = &r->ch[r->n++];
    snprintf(c->key, sizeof(c->key), "%s/%s", ns, name);
    snprintf(c->old_v, sizeof(c->old_v), "%s", data_v(old_obj));
    snprintf(c->new_v, sizeof(c->new_v), "%s", data_v(new_obj));
}

static void on_error(void *arg, const char *path, long status, const char *reason,
                     const char *message, int failures)
{
    struct rec *r = arg;

    (void)path;
    (void)message;
    r->errors++;
    r->err_status = status;
    snprintf(r->err_reason, sizeof(r->err_reason), "%s", reason);
    r->err_failures = failures;
}

static void on_synced(void *arg)
{
    ((struct rec *)arg)->synced++;
}

static void on_guard(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Runs the loop until cond(arg) holds or timeout_ms passes; fails on timeout. */
static void run_while(uv_loop_t *loop, bool (*cond)(void *), void *arg, long timeout_ms,
                      const char *what)
{
    uv_timer_t t;
    bool expired = false;

    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_guard, (uint64_t)timeout_ms, 0);
    while (!cond(arg) && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    if (expired)
        fail_msg("timed out waiting for %s", what);
}

/* Runs the loop for ms milliseconds. */
static void run_for(uv_loop_t *loop, long ms)
{
    uv_timer_t t;
    bool expired = false;

    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_guard, (uint64_t)ms, 0);
    while (!expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

struct want_n {
    struct rec *r;
    int n;
};

static bool has_n(void *arg)
{
    struct want_n *w = arg;

    return w->r->n >= w->n;
}

static bool is_synced(void *arg)
{
    return ((struct rec *)arg)->synced > 0;
}

static void wait_changes(uv_loop_t *loop, struct rec *r, int n)
{
    struct want_n w = {r, n};

    run_while(loop, has_n, &w, 8000, "changes");
}

static long cm(const struct ksim *s, const char *method, const char *coll, const char *name,
               const char *v, const char *labels)
{
    char path[256], body[512];

    if (strcmp(method, "DELETE") == 0) {
        snprintf(path, sizeof(path), "%s/%s", coll, name);
        return ksim_http(s, "DELETE", path, NULL, NULL, NULL, 0);
    }
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"%s%s%s},"
             "\"data\":{\"v\":\"%s\"}}",
             name, labels ? ",\"labels\":" : "", labels ? labels : "", "", v);
    if (strcmp(method, "POST") == 0)
        return ksim_http(s, "POST", coll, NULL, body, NULL, 0);
    snprintf(path, sizeof(path), "%s/%s", coll, name);
    return ksim_http(s, "PATCH", path, "application/merge-patch+json", body, NULL, 0);
}

struct world {
    struct ksim s;
    uv_loop_t loop;
    struct kube *k;
};

static void world_up(struct world *w, const char *const *args)
{
    struct kube_config cfg;
    struct rc_err err = {0};

    assert_int_equal(ksim_start(&w->s, args), 0);
    assert_int_equal(ksim_namespace(&w->s, "ci"), 0);
    assert_int_equal(ksim_namespace(&w->s, "other"), 0);
    uv_loop_init(&w->loop);
    assert_int_equal(kube_config_load(w->s.kubeconfig, NULL, &cfg, &err), 0);
    w->k = kube_new(&w->loop, &cfg, 5000, &err);
    kube_config_release(&cfg);
    assert_non_null(w->k);
}

static void world_down(struct world *w)
{
    kube_free(w->k);
    srv_loop_finish(&w->loop);
    ksim_stop(&w->s);
}

static struct kinformer *informer(struct world *w, struct rec *r, const char *path,
                                  const char *selector)
{
    struct kinformer_opts o;

    memset(&o, 0, sizeof(o));
    o.path = path;
    o.label_selector = selector;
    o.backoff_base_ms = 40;
    o.backoff_max_ms = 200;
    o.on_change = on_change;
    o.on_synced = on_synced;
    o.on_error = on_error;
    o.arg = r;
    r->inf = kinformer_new(w->k, &o);
    assert_non_null(r->inf);
    assert_int_equal(kinformer_start(r->inf), 0);
    return r->inf;
}

static int count_key(const struct rec *r, const char *key)
{
    int n = 0;

    for (int i = 0; i < r->n; i++)
        n += strcmp(r->ch[i].key, key) == 0;
    return n;
}

/* The first list delivers every object as an add, then synced; watch events
 * arrive as update (old and new) and delete (old only), and the cache already
 * shows each change when its callback runs. */
static void test_list_then_watch(void **state)
{
    struct world w;
    struct rec *r = calloc(1, sizeof(*r));
    const struct change *c;

    (void)state;
    world_up(&w, NULL);
    assert_int_equal(cm(&w.s, "POST", CMS, "a", "1", NULL), 201);
    assert_int_equal(cm(&w.s, "POST", CMS, "b", "1", NULL), 201);
    assert_int_equal(cm(&w.s, "POST", CMS_B, "c", "1", NULL), 201);
    informer(&w, r, ALL, NULL);
    assert_false(kinformer_synced(r->inf));
    run_while(&w.loop, is_synced, r, 8000, "synced");
    assert_true(kinformer_synced(r->inf));
    assert_int_equal(r->n, 3);
    assert_int_equal(kinformer_count(r->inf), 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(r->ch[i].old_v, "");
        assert_string_equal(r->ch[i].new_v, "1");
    }
    assert_non_null(kinformer_get(r->inf, "other", "c"));
    assert_null(kinformer_get(r->inf, "other", "a"));

    run_for(&w.loop, 100); /* the watch is established */
    assert_int_equal(cm(&w.s, "PATCH", CMS, "a", "2", NULL), 200);
    assert_int_equal(cm(&w.s, "DELETE", CMS, "b", NULL, NULL), 200);
    assert_int_equal(cm(&w.s, "POST", CMS, "d", "1", NULL), 201);
    wait_changes(&w.loop, r, 6);
    assert_string_equal(r->ch[3].key, "ci/a");
    assert_string_equal(r->ch[3].old_v, "1");
    assert_string_equal(r->ch[3].new_v, "2");
    assert_string_equal(r->ch[4].key, "ci/b");
    assert_string_equal(r->ch[4].old_v, "1");
    assert_string_equal(r->ch[4].new_v, "");
    c = &r->ch[5];
    assert_string_equal(c->key, "ci/d");
    assert_string_equal(c->old_v, "");
    assert_int_equal(r->consistent, 6);
    assert_int_equal(kinformer_count(r->inf), 3);
    assert_string_equal(data_v(kinformer_get(r->inf, "ci", "a")), "2");
    assert_int_equal(kinformer_stats(r->inf)->lists, 1);
    assert_int_equal(kinformer_stats(r->inf)->events, 3);

    kinformer_free(r->inf);
    world_down(&w);
    free(r);
}

/* More than a page: the list follows continue tokens and yields every object
 * once, in one list. */
static void test_paged_list(void **state)
{
    struct world w;
    struct rec *r = calloc(1, sizeof(*r));
    char name[32];
    int n = KINF_PAGE * 2 + 37;

    (void)state;
    world_up(&w, NULL);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "cm-%04d", i);
        assert_int_equal(cm(&w.s, "POST", CMS, name, "1", NULL), 201);
    }
    informer(&w, r, CMS, NULL);
    run_while(&w.loop, is_synced, r, 15000, "synced");
    assert_int_equal(kinformer_count(r->inf), (size_t)n);
    assert_int_equal(r->n < 2048 ? r->n : -1, n);
    assert_int_equal(count_key(r, "ci/cm-0000"), 1);
    assert_int_equal(count_key(r, "ci/cm-1036"), 1);
    assert_int_equal(kinformer_stats(r->inf)->lists, 1);
    kinformer_free(r->inf);
    world_down(&w);
    free(r);
}

struct bm {
    struct rec *r;
    const char *rv;
};

static bool bookmarked(void *arg)
{
    struct bm *b = arg;

    return kinformer_stats(b->r->inf)->bookmarks > 0 &&
           strcmp(kinformer_resource_version(b->r->inf), b->rv) == 0;
}

/* Bookmarks advance the resourceVersion past changes the informer does not
 * see (another namespace), without any change callback. */
static void test_bookmarks_advance_rv(void **state)
{
    static const char *const args[] = {"--bookmark-seconds", "1", NULL};
    struct world w;
    struct rec *r = calloc(1, sizeof(*r));
    char out[512], rv[32];
    json_t *st;
    struct bm b = {r, rv};

    (void)state;
    world_up(&w, args);
    informer(&w, r, CMS, NULL);
    run_while(&w.loop, is_synced, r, 8000, "synced");
    run_for(&w.loop, 100);
    assert_int_equal(cm(&w.s, "POST", CMS_B, "x", "1", NULL), 201);
    assert_int_equal(ksim_http(&w.s, "GET", "/_kubesim/stats", NULL, NULL, out, sizeof(out)), 200);
    st = json_loads(out, 0, NULL);
    assert_non_null(st);
    snprintf(rv, sizeof(rv), "%s", json_string_value(json_object_get(st, "resourceVersion")));
    json_decref(st);
    assert_string_not_equal(kinformer_resource_version(r->inf), rv);
    run_while(&w.loop, bookmarked, &b, 5000, "a bookmark with the current RV");
    assert_int_equal(r->n, 0);
    kinformer_free(r->inf);
    world_down(&w);
    free(r);
}

/* While the informer is not watching, objects are added, changed and deleted
 * and the history is compacted: the rewatch gets 410, the relist's diff
 * delivers exactly one change per affected object (add, update, delete), none
 * for the unchanged one, and the cache equals the server. */
static void test_compaction_relist(void **state)
{
    struct world w;
    struct rec *r = calloc(1, sizeof(*r));
    const struct change *c;

    (void)state;
    world_up(&w, NULL);
    assert_int_equal(cm(&w.s, "POST", CMS, "a", "1", NULL), 201);
    assert_int_equal(cm(&w.s, "POST", CMS, "b", "1", NULL), 201);
    assert_int_equal(cm(&w.s, "POST", CMS, "keep", "1", NULL), 201);
    informer(&w, r, CMS, NULL);
    run_while(&w.loop, is_synced, r, 8000, "synced");
    run_for(&w.loop, 1100); /* the watch runs (long enough not to be "very short") */
    assert_int_equal(r->n, 3);

    /* the loop is idle from here until wait_changes */
    assert_int_equal(ksim_http(&w.s, "POST", "/_kubesim/watches/drop", NULL, NULL, NULL, 0), 200);
    assert_int_equal(cm(&w.s, "PATCH", CMS, "a", "2", NULL), 200);
    assert_int_equal(cm(&w.s, "PATCH", CMS, "a", "3", NULL), 200);
    assert_int_equal(cm(&w.s, "DELETE", CMS, "b", NULL, NULL), 200);
    assert_int_equal(cm(&w.s, "POST", CMS, "c", "1", NULL), 201);
    assert_int_equal(ksim_http(&w.s, "POST", "/_kubesim/compact", NULL, NULL, NULL, 0), 200);
    wait_changes(&w.loop, r, 6);
    run_for(&w.loop, 300); /* nothing more may come */
    assert_int_equal(r->n, 6);
    assert_int_equal(kinformer_stats(r->inf)->relists, 1);
    assert_int_equal(kinformer_stats(r->inf)->lists, 2);
    /* the relist on the ERROR event is sent at once (from inside the watch's
     * event callback), not after a failure and a backoff */
    assert_int_equal(kinformer_stats(r->inf)->failures, 0);
    assert_int_equal(count_key(r, "ci/keep"), 1); /* only its first add */
    assert_int_equal(count_key(r, "ci/a"), 2);
    c = &r->ch[3];
    for (int i = 3; i < 6; i++) {
        c = &r->ch[i];
        if (strcmp(c->key, "ci/a") == 0) {
            assert_string_equal(c->old_v, "1");
            assert_string_equal(c->new_v, "3"); /* the intermediate 2 was never seen */
        } else if (strcmp(c->key, "ci/b") == 0) {
            assert_string_equal(c->new_v, "");
        } else {
            assert_string_equal(c->key, "ci/c");
            assert_string_equal(c->old_v, "");
        }
    }
    assert_int_equal(r->consistent, 6);
    assert_int_equal(kinformer_count(r->inf), 3);
    assert_null(kinformer_get(r->inf, "ci", "b"));

    /* and it keeps watching afterwards */
    assert_int_equal(cm(&w.s, "PATCH", CMS, "c", "2", NULL), 200);
    wait_changes(&w.loop, r, 7);
    assert_string_equal(r->ch[6].key, "ci/c");
    assert_string_equal(r->ch[6].new_v, "2");
    kinformer_free(r->inf);
    world_down(&w);
    free(r);
}

/* A dropped watch is resumed from the last resourceVersion: the changes made
 * meanwhile arrive once each, in order, with no relist. */
static void test_dropped_watch_resumes(void **state)
{
    struct world w;
    struct rec *r = calloc(1, sizeof(*r));

    (void)state;
    world_up(&w, NULL);
    assert_int_equal(cm(&w.s, "POST", CMS, "a", "1", NULL), 201);
    informer(&w, r, CMS, NULL);
    run_while(&w.loop, is_synced, r, 8000, "synced");
    run_for(&w.loop, 1100);
    for (int round = 0; round < 3; round++) {
        char v[16];

        snprintf(v, sizeof(v), "%d", round + 2);
        assert_int_equal(ksim_http(&w.s, "POST", "/_kubesim/watches/drop", NULL, NULL, NULL, 0),
                         200);
        assert_int_equal(cm(&w.s, "PATCH", CMS, "a", v, NULL), 200);
        wait_changes(&w.loop, r, 2 + round);
        assert_string_equal(r->ch[1 + round].new_v, v);
        run_for(&w.loop, 1100);
    }
    assert_int_equal(r->n, 4);
    assert_int_equal(kinformer_stats(r->inf)->lists, 1);
    assert_int_equal(kinformer_stats(r->inf)->relists, 0);
    assert_true(kinformer_stats(r->inf)->watches >= 4);
    kinformer_free(r->inf);
    world_down(&w);
    free(r);
}

static bool failing(void *arg)
{
    return kinformer_stats(((struct rec *)arg)->inf)->failures_in_row >= 4;
}

/* The server goes away: reconnects back off, jittered and capped; nothing is
 * deleted from the cache. It comes back with its state (--state): the watch
 * resumes (the RV is still valid) or relists without a spurious callback,
 * and later changes flow again. */
static void test_server_restart(void **state)
{
    char statef[300];
    const char *args[] = {"--state", statef, NULL};
    struct world w;
    struct rec *r = calloc(1, sizeof(*r));
    const struct kinformer_stats *st;

    (void)state;
    snprintf(statef, sizeof(statef), "/tmp/azpool-ksim-state-%d.json", (int)getpid());
    unlink(statef);
    world_up(&w, args);
    assert_int_equal(cm(&w.s, "POST", CMS, "a", "1", NULL), 201);
    assert_int_equal(cm(&w.s, "POST", CMS, "b", "1", NULL), 201);
    r->inf = NULL;
    informer(&w, r, CMS, NULL);
    run_while(&w.loop, is_synced, r, 8000, "synced");
    run_for(&w.loop, 200);

    ksim_kill(&w.s);
    run_while(&w.loop, failing, r, 8000, "four failures in a row");
    st = kinformer_stats(r->inf);
    assert_true(st->last_backoff_ms <= 200);
    assert_true(st->last_backoff_ms >= 100); /* half of the cap at least, once capped */
    assert_int_equal(kinformer_count(r->inf), 2);
    assert_int_equal(r->n, 2);
    assert_true(r->errors >= 3);
    assert_int_equal(r->err_status, 0); /* no response: connection refused */

    assert_int_equal(ksim_restart(&w.s), 0);
    run_for(&w.loop, 1500);
    assert_int_equal(r->n, 2); /* same objects: no callback */
    assert_int_equal(cm(&w.s, "PATCH", CMS, "b", "2", NULL), 200);
    wait_changes(&w.loop, r, 3);
    assert_string_equal(r->ch[2].key, "ci/b");
    assert_string_equal(r->ch[2].old_v, "1");
    assert_string_equal(r->ch[2].new_v, "2");
    assert_int_equal(st->failures_in_row, 0);
    kinformer_free(r->inf);
    world_down(&w);
    unlink(statef);
    free(r);
}

/* Namespace and label selector: only matching objects are cached; an object
 * that starts matching is an add, one that stops matching a delete. */
static void test_selector(void **state)
{
    struct world w;
    struct rec *r = calloc(1, sizeof(*r));

    (void)state;
    world_up(&w, NULL);
    assert_int_equal(cm(&w.s, "POST", CMS, "a", "1", "{\"team\":\"x\"}"), 201);
    assert_int_equal(cm(&w.s, "POST", CMS, "b", "1", "{\"team\":\"y\"}"), 201);
    assert_int_equal(cm(&w.s, "POST", CMS_B, "c", "1", "{\"team\":\"x\"}"), 201);
    informer(&w, r, CMS, "team=x");
    run_while(&w.loop, is_synced, r, 8000, "synced");
    assert_int_equal(r->n, 1);
    assert_string_equal(r->ch[0].key, "ci/a");
    run_for(&w.loop, 100);
    assert_int_equal(cm(&w.s, "PATCH", CMS, "b", "2", "{\"team\":\"x\"}"), 200);
    assert_int_equal(cm(&w.s, "PATCH", CMS, "a", "2", "{\"team\":\"z\"}"), 200);
    wait_changes(&w.loop, r, 3);
    assert_string_equal(r->ch[1].key, "ci/b");
    assert_string_equal(r->ch[1].old_v, "");
    assert_string_equal(r->ch[2].key, "ci/a");
    assert_string_equal(r->ch[2].new_v, "");
    assert_int_equal(kinformer_count(r->inf), 1);
    kinformer_free(r->inf);
    world_down(&w);
    free(r);
}

static bool three_errors(void *arg)
{
    return ((struct rec *)arg)->errors >= 3;
}

/* A collection that does not exist (CRD not installed): every failed list is
 * reported (404 NotFound, failures counting up), the informer never syncs and
 * keeps trying with backoff. */
static void test_errors_reported(void **state)
{
    struct world w;
    struct rec *r = calloc(1, sizeof(*r));

    (void)state;
    world_up(&w, NULL);
    informer(&w, r, "/apis/azpool.dev/v1alpha1/namespaces/ci/workerpools", NULL);
    run_while(&w.loop, three_errors, r, 8000, "three errors");
    assert_int_equal(r->err_status, 404);
    assert_string_equal(r->err_reason, "NotFound");
    assert_int_equal(r->err_failures, r->errors);
    assert_false(kinformer_synced(r->inf));
    assert_int_equal(r->n, 0);
    assert_int_equal(kinformer_stats(r->inf)->failures, (uint64_t)r->errors);
    kinformer_free(r->inf);
    world_down(&w);
    free(r);
}

/* Freeing while the first list is in flight: no callback ever runs and the
 * memory is released when the request completes (ASan checks). */
static void test_free_while_listing(void **state)
{
    struct world w;
    struct rec *r = calloc(1, sizeof(*r));

    (void)state;
    world_up(&w, NULL);
    assert_int_equal(cm(&w.s, "POST", CMS, "a", "1", NULL), 201);
    informer(&w, r, CMS, NULL);
    kinformer_free(r->inf);
    run_for(&w.loop, 300);
    assert_int_equal(r->n, 0);
    assert_int_equal(r->synced, 0);

    /* and while the list is pending at kube_free */
    informer(&w, r, CMS, NULL);
    kinformer_free(r->inf);
    world_down(&w);
    assert_int_equal(r->n, 0);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_then_watch),
        cmocka_unit_test(test_paged_list),
        cmocka_unit_test(test_bookmarks_advance_rv),
        cmocka_unit_test(test_compaction_relist),
        cmocka_unit_test(test_dropped_watch_resumes),
        cmocka_unit_test(test_server_restart),
        cmocka_unit_test(test_selector),
        cmocka_unit_test(test_errors_reported),
        cmocka_unit_test(test_free_while_listing),
    };

    return az_run_tests("kinformer", tests);
}
