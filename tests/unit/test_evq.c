/*
 * test_evq.c - the Event Grid events queue (controller/evq.h).
 *
 * Pure: decoding (Event Grid and CloudEvents schemas, plain JSON and base64,
 * arrays, malformed messages) and mapping ARM ids to pools by prefix.
 * Against real Azurite (support_azurite.h): events are reported once per id
 * and deleted, undecodable messages and messages dequeued too often move to
 * "<queue>-poison" with their text unchanged.
 * End to end with armsim (the binary next to this test's directory,
 * $BUILD/armsim): its Event Grid emitter delivers resource-group write and
 * delete events into Azurite, and evq reports them.
 */
#include "test_main.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "az_cred.h"
#include "azq.h"
#include "evq.h"
#include "http.h"
#include "rc_err.h"
#include "rc_model.h"
#include "rc_util.h"
#include "support_azurite.h"

#define SUB  "00000000-0000-4000-8000-0000000000e1"
#define RG   "rg-events"
#define RGID "/subscriptions/" SUB "/resourceGroups/" RG

static struct azurite g_az;
static bool g_az_up, g_az_tried;
static char g_self[4096];

static const char *azurite(void)
{
    if (!g_az_tried) {
        g_az_tried = true;
        g_az_up = azurite_start(&g_az) == 0;
    }
    assert_true(g_az_up);
    return g_az.url;
}

static const char *eg_event(const char *id, const char *type, const char *uri, char *buf,
                            size_t size)
{
    snprintf(buf, size,
             "{\"topic\":\"" RGID "\",\"subject\":\"%s\",\"eventType\":\"%s\",\"id\":\"%s\","
             "\"eventTime\":\"2026-11-23T10:00:00Z\",\"data\":{\"resourceUri\":\"%s\","
             "\"operationName\":\"x/write\",\"claims\":{\"name\":\"secret-ish\"}},"
             "\"dataVersion\":\"2\",\"metadataVersion\":\"1\"}",
             uri, type, id, uri);
    return buf;
}

static void b64(const char *s, char *buf, size_t size)
{
    assert_int_equal(azq_b64_encode((const unsigned char *)s, strlen(s), buf, size), 0);
}

/* ---- decoding ---- */

static void test_decode(void **state)
{
    struct evq_event ev[4];
    struct rc_err err = {0};
    char j[2048], e[4096], arr[4096];
    const char *vm = RGID "/providers/Microsoft.Compute/virtualMachines/vm1";

    (void)state;
    eg_event("e1", "Microsoft.Resources.ResourceWriteSuccess", vm, j, sizeof(j));
    assert_int_equal(evq_decode(j, ev, 4, &err), 1);
    assert_string_equal(ev[0].id, "e1");
    assert_string_equal(ev[0].type, "Microsoft.Resources.ResourceWriteSuccess");
    assert_string_equal(ev[0].resource, vm);
    b64(j, e, sizeof(e));
    assert_int_equal(evq_decode(e, ev, 4, &err), 1);
    assert_string_equal(ev[0].resource, vm);
    /* CloudEvents 1.0, subject relative to source */
    assert_int_equal(
        evq_decode("{\"specversion\":\"1.0\",\"id\":\"c1\",\"type\":\"Microsoft.Resources."
                   "ResourceDeleteSuccess\",\"source\":\"" RGID "\",\"subject\":\"providers/"
                   "Microsoft.Network/networkInterfaces/n1\",\"data\":{}}",
                   ev, 4, &err),
        1);
    assert_string_equal(ev[0].type, "Microsoft.Resources.ResourceDeleteSuccess");
    assert_string_equal(ev[0].resource, RGID "/providers/Microsoft.Network/networkInterfaces/n1");
    /* an array of events (webhook style) */
    snprintf(arr, sizeof(arr), "[%s,{\"id\":\"e2\",\"eventType\":\"t\",\"subject\":\"%s\"}]", j,
             RGID);
    assert_int_equal(evq_decode(arr, ev, 4, &err), 2);
    assert_string_equal(ev[1].id, "e2");
    assert_string_equal(ev[1].resource, RGID);
    assert_int_equal(evq_decode(arr, ev, 1, &err), -RC_ELIMIT);
    /* malformed */
    assert_int_equal(evq_decode("not base64!", ev, 4, &err), -RC_EPROTO);
    assert_int_equal(evq_decode("bm90IGpzb24=", ev, 4, &err), -RC_EPROTO); /* "not json" */
    assert_int_equal(evq_decode("{\"eventType\":\"t\",\"subject\":\"" RGID "\"}", ev, 4, &err),
                     -RC_EPROTO);
    assert_int_equal(evq_decode("{\"id\":\"x\",\"subject\":\"/not/arm\"}", ev, 4, &err),
                     -RC_EPROTO);
    assert_int_equal(evq_decode("[]", ev, 4, &err), -RC_EPROTO);
    assert_int_equal(evq_decode("  ", ev, 4, &err), -RC_EPROTO);
    assert_int_equal(
        evq_decode("{\"id\":\"a\",\"id\":\"b\",\"subject\":\"" RGID "\"}", ev, 4, &err),
        -RC_EPROTO);
}

/* ---- ownership ---- */

static void pool_init(struct rc_pool *p, const char *name, enum rc_mode mode)
{
    memset(p, 0, sizeof(*p));
    p->meta.namespace = "ops";
    p->meta.name = (char *)name;
    p->spec.subscription_id = SUB;
    p->spec.resource_group = RG;
    p->spec.mode = mode;
}

static void test_pool_owns(void **state)
{
    struct rc_pool ss, vm;
    char name[80], id[512];

    (void)state;
    pool_init(&ss, "runners", RC_MODE_SCALESET);
    pool_init(&vm, "builders", RC_MODE_VIRTUALMACHINES);
    assert_true(evq_pool_owns(&ss, RGID "/providers/Microsoft.Compute/virtualMachineScaleSets/"
                                        "runners"));
    assert_true(evq_pool_owns(&ss, "/SUBSCRIPTIONS/" SUB "/resourcegroups/" RG
                                   "/providers/microsoft.compute/virtualmachinescalesets/RUNNERS/"
                                   "virtualMachines/3"));
    assert_false(evq_pool_owns(&ss, RGID "/providers/Microsoft.Compute/"
                                         "virtualMachineScaleSets/runners2"));
    assert_false(evq_pool_owns(&ss, "/subscriptions/" SUB "/resourceGroups/other/providers/"
                                    "Microsoft.Compute/virtualMachineScaleSets/runners"));
    assert_true(evq_pool_owns(&ss, RGID)); /* the resource group itself */
    assert_false(evq_pool_owns(&ss, RGID "2"));
    assert_int_equal(rc_name_vm("ops", "builders", 2, 1, RC_HOST_MAX_LINUX, name, sizeof(name)), 0);
    snprintf(id, sizeof(id), RGID "/providers/Microsoft.Compute/virtualMachines/%s", name);
    assert_true(evq_pool_owns(&vm, id));
    assert_false(evq_pool_owns(&ss, id));
    snprintf(id, sizeof(id), RGID "/providers/Microsoft.Compute/virtualMachines/%s/extensions/x",
             name);
    assert_true(evq_pool_owns(&vm, id));
    snprintf(id, sizeof(id), RGID "/providers/Microsoft.Network/networkInterfaces/%s-nic", name);
    assert_true(evq_pool_owns(&vm, id));
    assert_int_equal(rc_name_vm("ops", "others", 2, 1, RC_HOST_MAX_LINUX, name, sizeof(name)), 0);
    snprintf(id, sizeof(id), RGID "/providers/Microsoft.Compute/virtualMachines/%s", name);
    assert_false(evq_pool_owns(&vm, id));
    /* hybrid worker group and hook jobs */
    vm.spec.hybrid_worker.automation_account_id =
        RGID "/providers/Microsoft.Automation/automationAccounts/aa";
    vm.spec.hybrid_worker.group = "linux";
    assert_true(evq_pool_owns(&vm, RGID "/providers/Microsoft.Automation/automationAccounts/aa/"
                                        "hybridRunbookWorkerGroups/linux/hybridRunbookWorkers/g1"));
    assert_false(evq_pool_owns(&vm, RGID "/providers/Microsoft.Automation/automationAccounts/aa/"
                                         "hybridRunbookWorkerGroups/windows"));
    assert_false(evq_pool_owns(&vm, NULL));
}

/* ---- loop world ---- */

struct world {
    uv_loop_t loop;
    struct http *h;
    struct evq *q;
    struct evq_event got[64];
    int n_got;
    int free_after; /* evq_free from on_event after this many events (0: never) */
};

static void on_event(void *arg, const struct evq_event *ev)
{
    struct world *w = arg;

    if (w->n_got < 64)
        w->got[w->n_got] = *ev;
    w->n_got++;
    if (w->free_after && w->n_got == w->free_after) {
        evq_free(w->q);
        w->q = NULL;
    }
}

static void world_init(struct world *w, const char *ca)
{
    struct http_opts ho = {0};

    memset(w, 0, sizeof(*w));
    assert_int_equal(uv_loop_init(&w->loop), 0);
    ho.timeout_ms = 10000;
    ho.ca_file = ca;
    w->h = http_new(&w->loop, &ho);
    assert_non_null(w->h);
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void world_release(struct world *w)
{
    evq_free(w->q);
    http_free(w->h);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_walk(&w->loop, walk_close, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
}

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static bool run_until(struct world *w, bool (*pred)(struct world *, void *), void *arg, int ms)
{
    uv_timer_t t;
    bool expired = false;

    uv_timer_init(&w->loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, (uint64_t)ms, 0);
    while (!expired && !(pred && pred(w, arg)))
        uv_run(&w->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&w->loop, UV_RUN_NOWAIT);
    return pred ? pred(w, arg) : true;
}

struct qcall {
    int calls;
    long status;
    int64_t count;
    size_t n;
    char texts[8][4096];
};

static void on_q(void *arg, const struct azq_result *res)
{
    struct qcall *c = arg;

    c->calls++;
    c->status = res->status;
    c->count = res->count;
    c->n = res->n_msgs;
    for (size_t i = 0; i < res->n_msgs && i < 8; i++)
        snprintf(c->texts[i], sizeof(c->texts[i]), "%s", res->msgs[i].text);
}

static bool called(struct world *w, void *arg)
{
    (void)w;
    return ((struct qcall *)arg)->calls > 0;
}

static struct qcall *qrun_start(struct qcall *c)
{
    memset(c, 0, sizeof(*c));
    return c;
}

#define QRUN(w, c, call)                                                                           \
    do {                                                                                           \
        qrun_start(c);                                                                             \
        assert_int_equal((call), 0);                                                               \
        assert_true(run_until((w), called, (c), 10000));                                           \
    } while (0)

static struct azq *queue(struct world *w, const char *name)
{
    struct rc_err err = {0};
    struct azq *q = azq_new(w->h, NULL, azurite(), name, g_az.conn, &err);

    assert_non_null(q);
    return q;
}

static int64_t count(struct world *w, struct azq *q)
{
    struct qcall c;
    struct rc_err err = {0};

    QRUN(w, &c, azq_count(q, on_q, &c, &err));
    assert_int_equal(c.status, 200);
    return c.count;
}

static bool got_n(struct world *w, void *arg)
{
    return w->n_got >= *(int *)arg;
}

struct stat_wait {
    uint64_t deleted, poisoned;
};

static bool stats_reach(struct world *w, void *arg)
{
    struct stat_wait *sw = arg;
    struct evq_stats st;

    evq_stats(w->q, &st);
    return st.deleted >= sw->deleted && st.poisoned >= sw->poisoned;
}

static void test_azurite_events_dedupe_and_poison(void **state)
{
    struct world w;
    struct azq *q;
    struct qcall c;
    struct rc_err err = {0};
    char j[2048], e[4096], url[256];
    struct evq_opts o = {0};
    struct evq_stats st;
    struct stat_wait sw = {5, 1};
    int want = 3;
    const char *vmss = RGID "/providers/Microsoft.Compute/virtualMachineScaleSets/runners";

    (void)state;
    world_init(&w, NULL);
    q = queue(&w, "events");
    QRUN(&w, &c, azq_create(q, on_q, &c, &err));
    /* base64 Event Grid, plain JSON, a duplicate id, CloudEvents, garbage */
    eg_event("id-1", "Microsoft.Resources.ResourceWriteSuccess", vmss, j, sizeof(j));
    b64(j, e, sizeof(e));
    QRUN(&w, &c, azq_put(q, e, -1, on_q, &c, &err));
    assert_int_equal(c.status, 201);
    eg_event("id-2", "Microsoft.Resources.ResourceDeleteSuccess", RGID, j, sizeof(j));
    QRUN(&w, &c, azq_put(q, j, -1, on_q, &c, &err));
    QRUN(&w, &c, azq_put(q, e, -1, on_q, &c, &err)); /* id-1 again */
    QRUN(&w, &c,
         azq_put(q,
                 "{\"specversion\":\"1.0\",\"id\":\"id-3\",\"type\":\"Microsoft.Resources."
                 "ResourceWriteSuccess\",\"source\":\"" RGID "\",\"subject\":\"" RGID "\"}",
                 -1, on_q, &c, &err));
    QRUN(&w, &c, azq_put(q, "this is <not> an event", -1, on_q, &c, &err));
    assert_int_equal(count(&w, q), 5);
    o.poll_ms = 100;
    o.conn = g_az.conn;
    o.on_event = on_event;
    o.arg = &w;
    snprintf(url, sizeof(url), "%s/events", azurite());
    w.q = evq_new(&w.loop, w.h, NULL, url, &o, &err);
    assert_non_null(w.q);
    assert_true(run_until(&w, got_n, &want, 10000));
    assert_true(run_until(&w, stats_reach, &sw, 10000));
    run_until(&w, NULL, NULL, 300); /* nothing more arrives */
    assert_int_equal(w.n_got, 3);
    assert_string_equal(w.got[0].id, "id-1");
    assert_string_equal(w.got[0].resource, vmss);
    assert_string_equal(w.got[1].id, "id-2");
    assert_string_equal(w.got[1].type, "Microsoft.Resources.ResourceDeleteSuccess");
    assert_string_equal(w.got[2].id, "id-3");
    evq_stats(w.q, &st);
    assert_int_equal(st.messages, 5);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.poisoned, 1);
    assert_int_equal(st.deleted, 5);
    /* the queue is empty; the poison queue holds the garbage, unchanged */
    assert_int_equal(count(&w, q), 0);
    {
        struct azq *p = queue(&w, "events-poison");

        QRUN(&w, &c, azq_peek(p, 32, on_q, &c, &err));
        assert_int_equal(c.n, 1);
        assert_string_equal(c.texts[0], "this is <not> an event");
        azq_free(p);
    }
    azq_free(q);
    world_release(&w);
}

static void test_azurite_dequeue_limit_and_free_in_callback(void **state)
{
    struct world w;
    struct azq *q;
    struct qcall c;
    struct rc_err err = {0};
    char j[2048], url[256];
    struct evq_opts o = {0};
    int want = 1;

    (void)state;
    world_init(&w, NULL);
    q = queue(&w, "retried");
    QRUN(&w, &c, azq_create(q, on_q, &c, &err));
    eg_event("r-1", "Microsoft.Resources.ResourceWriteSuccess", RGID, j, sizeof(j));
    QRUN(&w, &c, azq_put(q, j, -1, on_q, &c, &err));
    eg_event("r-2", "Microsoft.Resources.ResourceWriteSuccess", RGID, j, sizeof(j));
    /* a consumer that never deletes: r-1 is dequeued 3 times */
    for (int i = 0; i < 3; i++) {
        QRUN(&w, &c, azq_get(q, 1, 1, on_q, &c, &err));
        assert_int_equal(c.n, 1);
        run_until(&w, NULL, NULL, 1100);
    }
    QRUN(&w, &c, azq_put(q, j, -1, on_q, &c, &err));
    o.poll_ms = 100;
    o.max_dequeue = 2;
    o.conn = g_az.conn;
    o.on_event = on_event;
    o.arg = &w;
    snprintf(url, sizeof(url), "%s/retried", azurite());
    w.q = evq_new(&w.loop, w.h, NULL, url, &o, &err);
    assert_non_null(w.q);
    assert_true(run_until(&w, got_n, &want, 10000));
    {
        struct stat_wait sw = {2, 1};

        assert_true(run_until(&w, stats_reach, &sw, 10000));
    }
    assert_int_equal(w.n_got, 1);
    assert_string_equal(w.got[0].id, "r-2"); /* r-1 went to the poison queue */
    assert_int_equal(count(&w, q), 0);
    {
        struct azq *p = queue(&w, "retried-poison");

        QRUN(&w, &c, azq_peek(p, 32, on_q, &c, &err));
        assert_int_equal(c.n, 1);
        assert_non_null(strstr(c.texts[0], "\"r-1\""));
        azq_free(p);
    }
    evq_free(w.q);
    /* the controller may stop evq from inside on_event: nothing runs after it */
    eg_event("r-3", "Microsoft.Resources.ResourceWriteSuccess", RGID, j, sizeof(j));
    QRUN(&w, &c, azq_put(q, j, -1, on_q, &c, &err));
    QRUN(&w, &c, azq_put(q, j, -1, on_q, &c, &err));
    w.n_got = 0;
    w.free_after = 1;
    w.q = evq_new(&w.loop, w.h, NULL, url, &o, &err);
    assert_non_null(w.q);
    assert_true(run_until(&w, got_n, &want, 10000));
    run_until(&w, NULL, NULL, 500);
    assert_null(w.q);
    assert_int_equal(w.n_got, 1);
    assert_string_equal(w.got[0].id, "r-3");
    azq_free(q);
    world_release(&w);
}

static void test_bad_urls(void **state)
{
    struct world w;
    struct rc_err err = {0};
    struct evq_opts o = {0};

    (void)state;
    world_init(&w, NULL);
    assert_null(evq_new(&w.loop, w.h, NULL, "ftp://x/q", &o, &err));
    assert_null(evq_new(&w.loop, w.h, NULL, "http://127.0.0.1:1/acct/", &o, &err));
    /* no credentials at all */
    assert_null(evq_new(&w.loop, w.h, NULL, "http://127.0.0.1:1/acct/events", &o, &err));
    /* a SAS in the URL is a credential */
    w.q = evq_new(&w.loop, w.h, NULL, "http://127.0.0.1:1/acct/events?sv=1&sig=x", &o, &err);
    assert_non_null(w.q);
    world_release(&w);
}

/* A valid queue name of 57..63 characters: "<queue>-poison" would be over
 * Azure's 63, so the poison queue's name is cut (evq.h); the reader starts. */
static void test_long_queue_name(void **state)
{
    struct world w;
    struct rc_err err = {0};
    struct evq_opts o = {0};
    /* 63 characters; its first 56 end in '-' */
    const char *url = "http://127.0.0.1:1/acct/"
                      "events-0123456789-0123456789-0123456789-0123456789-abcd-efghijk?sv=1&sig=x";

    (void)state;
    world_init(&w, NULL);
    w.q = evq_new(&w.loop, w.h, NULL, url, &o, &err);
    assert_non_null(w.q);
    world_release(&w);
}

/* ---- armsim -> Azurite -> evq ---- */

struct armsim {
    pid_t pid;
    int port;
    char dir[128], ca[200], base[64];
};

static bool armsim_start(struct armsim *a)
{
    char bin[4200], port[16], logf[256], line[256];
    char *slash;

    memset(a, 0, sizeof(*a));
    snprintf(bin, sizeof(bin), "%s", g_self);
    slash = strrchr(bin, '/');
    if (!slash)
        return false;
    *slash = '\0';
    slash = strrchr(bin, '/');
    if (!slash)
        return false;
    snprintf(slash, sizeof(bin) - (size_t)(slash - bin), "/armsim");
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "armsim binary %s missing\n", bin);
        return false;
    }
    snprintf(a->dir, sizeof(a->dir), "/tmp/azpool-evq-armsim.XXXXXX");
    if (!mkdtemp(a->dir))
        return false;
    /* a port: let the kernel pick one for a socket, then hand it over */
    {
        uv_loop_t l;
        uv_tcp_t t;
        struct sockaddr_in sa;
        int len = sizeof(sa);

        uv_loop_init(&l);
        uv_tcp_init(&l, &t);
        uv_ip4_addr("127.0.0.1", 0, &sa);
        uv_tcp_bind(&t, (struct sockaddr *)&sa, 0);
        uv_tcp_getsockname(&t, (struct sockaddr *)&sa, &len);
        a->port = ntohs(sa.sin_port);
        uv_close((uv_handle_t *)&t, NULL);
        uv_run(&l, UV_RUN_DEFAULT);
        uv_loop_close(&l);
    }
    snprintf(port, sizeof(port), "%d", a->port);
    snprintf(logf, sizeof(logf), "%s/armsim.log", a->dir);
    a->pid = fork();
    if (a->pid < 0)
        return false;
    if (a->pid == 0) {
        int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(bin, "armsim", "--port", port, "--dir", a->dir, "--time-scale", "120", (char *)NULL);
        _exit(127);
    }
    snprintf(line, sizeof(line), "armsim listening on https://127.0.0.1:%d", a->port);
    for (int i = 0; i < 150; i++) {
        FILE *f = fopen(logf, "r");
        char buf[4096];
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

        if (f)
            fclose(f);
        buf[n] = '\0';
        if (strstr(buf, line)) {
            snprintf(a->ca, sizeof(a->ca), "%s/ca.pem", a->dir);
            snprintf(a->base, sizeof(a->base), "https://127.0.0.1:%d", a->port);
            return true;
        }
        usleep(100 * 1000);
    }
    fprintf(stderr, "armsim did not start (log %s)\n", logf);
    return false;
}

static void armsim_stop(struct armsim *a)
{
    char cmd[256];
    int st;

    if (a->pid > 0) {
        kill(a->pid, SIGTERM);
        waitpid(a->pid, &st, 0);
        a->pid = 0;
    }
    if (strncmp(a->dir, "/tmp/azpool-evq-armsim.", 23) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", a->dir);
    }
}

struct hcall {
    int calls;
    long status;
    char body[512];
    char token[4096];
    bool have_token;
};

static void on_http(void *arg, const struct http_response *resp)
{
    struct hcall *c = arg;

    c->calls++;
    c->status = resp->status;
    snprintf(c->body, sizeof(c->body), "%s", resp->body ? resp->body : "");
}

static void on_token(void *arg, const char *token, const struct rc_err *err)
{
    struct hcall *c = arg;

    (void)err;
    c->calls++;
    if (token) {
        snprintf(c->token, sizeof(c->token), "%s", token);
        c->have_token = true;
    }
}

static bool hcalled(struct world *w, void *arg)
{
    (void)w;
    return ((struct hcall *)arg)->calls > 0;
}

static long http_do(struct world *w, const char *method, const char *url, const char *auth,
                    const char *body)
{
    struct hcall c = {0};
    struct rc_err err = {0};
    const char *hdrs[2] = {"Content-Type: application/json", auth};

    assert_int_equal(http_request(w->h, method, url, hdrs, auth ? 2 : 1, body,
                                  body ? strlen(body) : 0, on_http, &c, &err),
                     0);
    assert_true(run_until(w, hcalled, &c, 10000));
    if (c.status >= 300)
        fprintf(stderr, "%s %s -> %ld %s\n", method, url, c.status, c.body);
    return c.status;
}

static bool has_types(struct world *w, void *arg)
{
    bool write = false, del = false;

    (void)arg;
    for (int i = 0; i < w->n_got && i < 64; i++) {
        if (strcasecmp(w->got[i].resource, RGID))
            continue;
        if (strcmp(w->got[i].type, "Microsoft.Resources.ResourceWriteSuccess") == 0)
            write = true;
        if (strcmp(w->got[i].type, "Microsoft.Resources.ResourceDeleteSuccess") == 0)
            del = true;
    }
    return write && del;
}

static void test_armsim_events_end_to_end(void **state)
{
    struct armsim a;
    struct world w;
    struct az_cred_config cc = {0};
    struct az_cred *cred;
    struct hcall tc = {0};
    struct rc_err err = {0};
    struct evq_opts o = {0};
    char url[512], body[1024], auth[4200], qurl[256];
    struct rc_pool pool;

    (void)state;
    snprintf(qurl, sizeof(qurl), "%s/armsim-events", azurite());
    assert_true(armsim_start(&a));
    world_init(&w, a.ca);
    snprintf(url, sizeof(url), "%s/_armsim/eventgrid/subscriptions/evq", a.base);
    snprintf(body, sizeof(body),
             "{\"scope\":\"/subscriptions/" SUB "\",\"queueUrl\":\"%s\",\"account\":"
             "\"devstoreaccount1\",\"key\":\"" AZQ_DEV_KEY "\"}",
             qurl);
    assert_true(http_do(&w, "PUT", url, NULL, body) < 300);
    cc.kind = AZ_CRED_SECRET;
    cc.tenant_id = "11111111-1111-4111-8111-111111111111";
    cc.client_id = "22222222-2222-4222-8222-222222222222";
    cc.client_secret = "s";
    cc.authority_host = a.base;
    cc.scope = "https://management.azure.com/.default";
    cred = az_cred_new(&w.loop, w.h, &cc);
    assert_non_null(cred);
    assert_int_equal(az_cred_token(cred, on_token, &tc, &err), 0);
    assert_true(run_until(&w, hcalled, &tc, 10000));
    assert_true(tc.have_token);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tc.token);
    snprintf(url, sizeof(url), "%s" RGID "?api-version=2021-04-01", a.base);
    assert_true(http_do(&w, "PUT", url, auth, "{\"location\":\"westus\"}") < 300);
    assert_true(http_do(&w, "DELETE", url, auth, NULL) < 300);
    /* evq reads what armsim delivered into Azurite */
    o.poll_ms = 100;
    o.conn = g_az.conn;
    o.on_event = on_event;
    o.arg = &w;
    w.q = evq_new(&w.loop, w.h, NULL, qurl, &o, &err);
    assert_non_null(w.q);
    assert_true(run_until(&w, has_types, NULL, 20000));
    /* and the controller's mapping finds the pool of that resource group */
    pool_init(&pool, "runners", RC_MODE_SCALESET);
    assert_true(evq_pool_owns(&pool, w.got[0].resource));
    az_cred_free(cred);
    world_release(&w);
    armsim_stop(&a);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_pool_owns),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_long_queue_name),
        cmocka_unit_test(test_azurite_events_dedupe_and_poison),
        cmocka_unit_test(test_azurite_dequeue_limit_and_free_in_callback),
        cmocka_unit_test(test_armsim_events_end_to_end),
    };
    int r;

    (void)argc;
    if (!realpath(argv[0], g_self))
        snprintf(g_self, sizeof(g_self), "%s", argv[0]);
    r = az_run_tests("evq", tests);
    if (g_az_up)
        azurite_stop(&g_az);
    return r;
}
