/*
 * test_exec.c - the executor (controller/exec.h) against a recording fake of
 * struct az_ops that completes writes later, from the loop, with scripted
 * results (DESIGN.md §3: "a recording fake for unit tests").
 */
#include "test_main.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "az.h"
#include "exec.h"
#include "rc_err.h"
#include "rc_plan.h"

#define CALLS_MAX 64

struct call {
    char method[8];
    char path[256];
    char body[1024];
    int wave_seen; /* wave of the action, from the path prefix "w<N>/" */
    unsigned flags;
};

struct pending {
    uv_timer_t t;
    struct fake *f;
    az_cb cb;
    void *arg;
    struct az_result res;
};

struct fake {
    uv_loop_t *loop;
    struct call calls[CALLS_MAX];
    int n_calls;
    int in_flight, max_in_flight;
    const char *fail_path;      /* this path fails terminally */
    const char *not_found_path; /* this path answers 404 */
};

static void on_pending_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_complete(uv_timer_t *t)
{
    struct pending *p = t->data;

    p->f->in_flight--;
    p->cb(p->arg, &p->res);
    uv_close((uv_handle_t *)&p->t, on_pending_closed);
}

static int fake_write(void *self, enum rc_method method, const char *path, const char *api_version,
                      const json_t *body, unsigned flags, az_cb cb, void *arg, struct rc_err *err)
{
    struct fake *f = self;
    struct pending *p = calloc(1, sizeof(*p));
    struct call *c = &f->calls[f->n_calls++];
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

    (void)api_version;
    (void)err;
    assert_non_null(p);
    assert_true(f->n_calls <= CALLS_MAX);
    snprintf(c->method, sizeof(c->method), "%s", rc_method_name(method));
    snprintf(c->path, sizeof(c->path), "%s", path);
    snprintf(c->body, sizeof(c->body), "%s", s ? s : "");
    free(s);
    sscanf(path, "/w%d/", &c->wave_seen);
    c->flags = flags;
    if (++f->in_flight > f->max_in_flight)
        f->max_in_flight = f->in_flight;
    p->f = f;
    p->cb = cb;
    p->arg = arg;
    p->res.status = 200;
    if (flags & AZ_WRITE_ACCEPT) { /* like az_arm: 201 + an operation, not followed */
        p->res.status = 201;
        p->res.accepted = true;
        p->res.retry_after_ms = strstr(path, "slow") ? 9000 : 1500;
    }
    if (f->fail_path && strcmp(path, f->fail_path) == 0) {
        p->res.status = 409;
        rc_err_set(&p->res.err, -RC_ECONFLICT, "", "HTTP 409 OperationNotAllowed");
    } else if (f->not_found_path && strcmp(path, f->not_found_path) == 0) {
        p->res.status = 404;
        rc_err_set(&p->res.err, -RC_ENOTFOUND, "", "HTTP 404 ResourceNotFound");
    }
    uv_timer_init(f->loop, &p->t);
    p->t.data = p;
    uv_timer_start(&p->t, on_complete, 1, 0);
    return 0;
}

static struct az_ops fake_ops(struct fake *f)
{
    struct az_ops ops = {.self = f, .write = fake_write};

    return ops;
}

/* A plan built by hand: actions of pool ops/p with the given waves and paths. */
static void add_action(struct rc_plan *plan, const char *pool, enum rc_verb verb,
                       enum rc_method method, const char *path, int wave, json_t *body)
{
    struct rc_action *a;

    plan->actions = realloc(plan->actions, (plan->n_actions + 1) * sizeof(*a));
    assert_non_null(plan->actions);
    a = &plan->actions[plan->n_actions++];
    memset(a, 0, sizeof(*a));
    a->pool = strdup(pool);
    a->verb = verb;
    a->method = method;
    a->target = strdup(path);
    a->path = strdup(path);
    a->api_version = RC_API_COMPUTE;
    a->body = body;
    a->reason = strdup("test");
    a->key = strdup(path);
    a->wave = wave;
}

struct outcome {
    int calls;
    struct exec_result res;
};

static void on_done(void *arg, const struct exec_result *res)
{
    struct outcome *o = arg;

    o->calls++;
    o->res = *res;
}

/* One executor world: a loop, the fake, a hand-built plan. */
struct rig {
    uv_loop_t loop;
    struct fake f;
    struct az_ops ops;
    struct rc_plan plan;
};

static void rig_init(struct rig *r)
{
    memset(r, 0, sizeof(*r));
    uv_loop_init(&r->loop);
    r->f.loop = &r->loop;
    r->ops = fake_ops(&r->f);
}

/* Runs the plan's actions of pool ops/p through a new executor until done. */
static void rig_run(struct rig *r, const struct exec_opts *opts, struct outcome *out)
{
    struct rc_err err = {0};
    struct exec *x = exec_new(&r->loop, &r->ops, opts);

    assert_non_null(x);
    memset(out, 0, sizeof(*out));
    assert_int_equal(exec_run(x, &r->plan, "ops/p", on_done, out, &err), 0);
    assert_int_equal(out->calls, 0); /* never from inside exec_run */
    uv_run(&r->loop, UV_RUN_DEFAULT);
    assert_int_equal(out->calls, 1);
    exec_free(x);
    rc_plan_release(&r->plan);
    memset(&r->plan, 0, sizeof(r->plan));
}

static void rig_done(struct rig *r)
{
    rc_plan_release(&r->plan);
    assert_int_equal(uv_loop_close(&r->loop), 0);
}

/* Waves run in order; within a wave at most `parallel` writes are in flight;
 * actions of other pools are left alone. */
static void test_waves_in_order_with_bounded_parallelism(void **state)
{
    struct rig r;
    struct exec_opts opts = {.parallel = 2};
    struct outcome out;
    char path[64];

    (void)state;
    rig_init(&r);
    /* Added in reverse wave order: the executor must not rely on plan order. */
    for (int w = 2; w >= 0; w--) {
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof(path), "/w%d/r%d", w, i);
            add_action(&r.plan, "ops/p", RC_VERB_CREATE, RC_HTTP_PUT, path, w, json_object());
        }
    }
    add_action(&r.plan, "ops/other", RC_VERB_CREATE, RC_HTTP_PUT, "/w0/other", 0, NULL);
    rig_run(&r, &opts, &out);
    assert_int_equal(out.res.done, 9);
    assert_int_equal(out.res.failed, 0);
    assert_int_equal(r.f.n_calls, 9);
    for (int i = 1; i < r.f.n_calls; i++)
        assert_true(r.f.calls[i].wave_seen >= r.f.calls[i - 1].wave_seen);
    assert_int_equal(r.f.max_in_flight, 2);
    rig_done(&r);
}

/* The first failure stops the run: later waves never start, the error and
 * the failed key are reported. */
static void test_failure_stops_later_waves(void **state)
{
    struct rig r;
    struct outcome out;

    (void)state;
    rig_init(&r);
    r.f.fail_path = "/w0/nic";
    add_action(&r.plan, "ops/p", RC_VERB_CREATE, RC_HTTP_PUT, "/w0/nic", 0, NULL);
    add_action(&r.plan, "ops/p", RC_VERB_CREATE, RC_HTTP_PUT, "/w1/vm", 1, NULL);
    add_action(&r.plan, "ops/p", RC_VERB_CREATE, RC_HTTP_PUT, "/w2/ext", 2, NULL);
    rig_run(&r, NULL, &out);
    assert_int_equal(r.f.n_calls, 1);
    assert_int_equal(out.res.failed, 1);
    assert_int_equal(out.res.skipped, 2);
    assert_int_equal(out.res.err.code, -RC_ECONFLICT);
    assert_string_equal(out.res.failed_key, "/w0/nic");
    rig_done(&r);
}

/* Deleting something already gone is success (idempotency). */
static void test_delete_not_found_is_success(void **state)
{
    struct rig r;
    struct outcome out;

    (void)state;
    rig_init(&r);
    r.f.not_found_path = "/w0/vm";
    add_action(&r.plan, "ops/p", RC_VERB_DELETE, RC_HTTP_DELETE, "/w0/vm", 0, NULL);
    rig_run(&r, NULL, &out);
    assert_int_equal(out.res.done, 1);
    assert_int_equal(out.res.err.code, 0);
    rig_done(&r);
}

/* DESIGN.md §4 rule 9: a scale-set delete/reimage/manualupgrade without a
 * non-empty instanceIds list is refused and never reaches Azure. */
static void test_never_an_implicit_all(void **state)
{
    struct rig r;
    struct outcome out;

    (void)state;
    rig_init(&r);
    add_action(&r.plan, "ops/p", RC_VERB_REIMAGE, RC_HTTP_POST, "/w0/vmss/reimage", 0,
               json_pack("{s:[]}", "instanceIds"));
    rig_run(&r, NULL, &out);
    assert_int_equal(r.f.n_calls, 0);
    assert_int_equal(out.res.failed, 1);
    assert_int_equal(out.res.err.klass, RC_CLASS_TERMINAL);
    add_action(&r.plan, "ops/p", RC_VERB_DELETE, RC_HTTP_POST, "/w0/vmss/delete", 0, NULL);
    rig_run(&r, NULL, &out);
    assert_int_equal(r.f.n_calls, 0);
    assert_int_equal(out.res.failed, 1);
    rig_done(&r);
}

static int secrets(void *arg, const char *ns, const char *name, const char *key, char **ret_value)
{
    (void)arg;
    assert_string_equal(ns, "ops");
    if (strcmp(name, "cloud-init") == 0 && strcmp(key, "user-data") == 0)
        *ret_value = strdup("#cloud-config\n");
    else if (strcmp(name, "ado") == 0)
        *ret_value = strdup("{\"PAT\":\"hunter2\"}");
    else if (strcmp(name, "plain") == 0)
        *ret_value = strdup("s3cret");
    else
        return -RC_ENOTFOUND;
    return *ret_value ? 0 : -RC_ENOMEM;
}

static json_t *ref(const char *name, const char *key)
{
    return json_pack("{s:{s:s,s:s}}", "$secretRef", "name", name, "key", key);
}

/* Secret references are resolved only in the copy that is sent: customData is
 * base64, protectedSettings a JSON object, other fields a string; the plan
 * keeps its placeholders. An unknown secret fails without naming a value. */
static void test_secrets_resolved_only_when_sent(void **state)
{
    struct rig r;
    struct exec_opts opts = {.secret = secrets};
    struct outcome out;
    struct rc_err err = {0};
    struct exec *x;
    json_t *body =
        json_pack("{s:{s:o},s:[{s:{s:o,s:o}}]}", "osProfile", "customData",
                  ref("cloud-init", "user-data"), "extensions", "properties", "protectedSettings",
                  ref("ado", "settings"), "password", ref("plain", "v"));

    (void)state;
    rig_init(&r);
    add_action(&r.plan, "ops/p", RC_VERB_CREATE, RC_HTTP_PUT, "/w0/vmss", 0, body);
    x = exec_new(&r.loop, &r.ops, &opts);
    memset(&out, 0, sizeof(out));
    assert_int_equal(exec_run(x, &r.plan, "ops/p", on_done, &out, &err), 0);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    assert_int_equal(out.res.done, 1);
    assert_string_equal(r.f.calls[0].body,
                        "{\"extensions\":[{\"properties\":{\"password\":\"s3cret\","
                        "\"protectedSettings\":{\"PAT\":\"hunter2\"}}}],"
                        "\"osProfile\":{\"customData\":\"I2Nsb3VkLWNvbmZpZwo=\"}}");
    /* the plan still holds the placeholder, not the value */
    assert_non_null(json_object_get(
        json_object_get(json_object_get(r.plan.actions[0].body, "osProfile"), "customData"),
        "$secretRef"));
    exec_free(x);
    rc_plan_release(&r.plan);
    memset(&r.plan, 0, sizeof(r.plan));

    add_action(&r.plan, "ops/p", RC_VERB_CREATE, RC_HTTP_PUT, "/w0/vm", 0,
               json_pack("{s:o}", "customData", ref("missing", "k")));
    rig_run(&r, &opts, &out);
    assert_int_equal(out.res.failed, 1);
    assert_non_null(strstr(out.res.err.msg, "missing/k"));
    assert_int_equal(r.f.n_calls, 1); /* the first call only */
    rig_done(&r);
}

/* The same idempotency key in two concurrent runs is sent once; both runs
 * take its result. */
static void test_same_key_sent_once(void **state)
{
    struct rig r;
    struct outcome a = {0}, b = {0};
    struct rc_err err = {0};
    struct exec *x;

    (void)state;
    rig_init(&r);
    add_action(&r.plan, "ops/p", RC_VERB_SCALE, RC_HTTP_PATCH, "/w0/vmss", 0, NULL);
    x = exec_new(&r.loop, &r.ops, NULL);
    assert_int_equal(exec_run(x, &r.plan, "ops/p", on_done, &a, &err), 0);
    assert_int_equal(exec_run(x, &r.plan, "ops/p", on_done, &b, &err), 0);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    assert_int_equal(r.f.n_calls, 1);
    assert_int_equal(a.res.done, 1);
    assert_int_equal(b.res.done, 1);
    exec_free(x);
    rig_done(&r);
}

#define VMSS                                                                                       \
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets"
#define VMS "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines"

/* opts.accept: only the run's last wave, and there only Compute scale sets and
 * VMs, is written with AZ_WRITE_ACCEPT; earlier waves (a later one depends on
 * them) and other resources are followed to their end. The result counts the
 * accepted writes and the soonest time to look again. */
static void test_accept_last_wave_compute_only(void **state)
{
    struct rig r;
    struct exec_opts opts = {.accept = true};
    struct outcome out;

    (void)state;
    rig_init(&r);
    add_action(&r.plan, "ops/p", RC_VERB_DELETE, RC_HTTP_POST, "/w0" VMSS "/hw/delete", 0,
               json_pack("{s:[s]}", "instanceIds", "3"));
    add_action(&r.plan, "ops/p", RC_VERB_SCALE, RC_HTTP_PATCH, "/w1" VMSS "/hw", 1, NULL);
    add_action(&r.plan, "ops/p", RC_VERB_CREATE, RC_HTTP_PUT, "/w1" VMS "/slow-1", 1, NULL);
    add_action(&r.plan, "ops/p", RC_VERB_CREATE, RC_HTTP_PUT,
               "/w1/subscriptions/s/resourceGroups/rg/providers/Microsoft.Automation/x", 1, NULL);
    rig_run(&r, &opts, &out);
    assert_int_equal(r.f.n_calls, 4);
    assert_int_equal(out.res.done, 4);
    assert_int_equal(out.res.accepted, 2);
    assert_int_equal(out.res.poll_after_ms, 1500);
    for (int i = 0; i < r.f.n_calls; i++) {
        const struct call *c = &r.f.calls[i];
        bool want = c->wave_seen == 1 && strstr(c->path, "Microsoft.Compute") != NULL;

        assert_int_equal(c->flags, want ? AZ_WRITE_ACCEPT : 0u);
    }
    /* without the option nothing is accepted */
    add_action(&r.plan, "ops/p", RC_VERB_SCALE, RC_HTTP_PATCH, "/w0" VMSS "/hw", 0, NULL);
    rig_run(&r, NULL, &out);
    assert_int_equal(r.f.calls[4].flags, 0u);
    assert_int_equal(out.res.accepted, 0);
    assert_int_equal(out.res.poll_after_ms, 0);
    /* a run of one wave: that wave is the last */
    add_action(&r.plan, "ops/p", RC_VERB_SCALE, RC_HTTP_PATCH, "/w0" VMSS "/hw", 0, NULL);
    rig_run(&r, &opts, &out);
    assert_int_equal(r.f.calls[5].flags, AZ_WRITE_ACCEPT);
    assert_int_equal(out.res.accepted, 1);
    rig_done(&r);
}

/* An empty plan still completes, from the loop, exactly once. */
static void test_empty_plan_completes_async(void **state)
{
    struct rig r;
    struct outcome out;

    (void)state;
    rig_init(&r);
    rig_run(&r, NULL, &out);
    assert_int_equal(out.res.done, 0);
    assert_int_equal(r.f.n_calls, 0);
    rig_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waves_in_order_with_bounded_parallelism),
        cmocka_unit_test(test_failure_stops_later_waves),
        cmocka_unit_test(test_delete_not_found_is_success),
        cmocka_unit_test(test_never_an_implicit_all),
        cmocka_unit_test(test_secrets_resolved_only_when_sent),
        cmocka_unit_test(test_same_key_sent_once),
        cmocka_unit_test(test_empty_plan_completes_async),
        cmocka_unit_test(test_accept_last_wave_compute_only),
    };
    return az_run_tests("exec", tests);
}
