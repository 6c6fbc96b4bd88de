/*
 * test_kube.c - the Kubernetes REST client (controller/kube.h): kubeconfig and
 * in-cluster configuration, requests, retries and watches, against a real
 * kubesim (tests/unit/support_kubesim.h) and, for wire corner cases kubesim
 * does not produce (429 with Retry-After, split or oversized watch lines), the
 * scriptable loopback server of support_srv.h.
 */
#include "test_main.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "kube.h"
#include "support_kubesim.h"
#include "support_srv.h"

/* ---- helpers ---- */

struct res {
    int calls;
    long status;
    int code;
    char reason[64];
    char message[256];
    char body[4096];
    bool inside;
};

static bool g_inside;

static void on_res(void *arg, const struct kube_response *r)
{
    struct res *x = arg;
    char *s;

    x->calls++;
    x->inside = g_inside;
    x->status = r->status;
    x->code = r->err.code;
    snprintf(x->reason, sizeof(x->reason), "%s", r->reason);
    snprintf(x->message, sizeof(x->message), "%s", r->message);
    x->body[0] = '\0';
    if (r->body && (s = json_dumps(r->body, JSON_COMPACT | JSON_SORT_KEYS))) {
        snprintf(x->body, sizeof(x->body), "%s", s);
        free(s);
    }
}

static void on_guard(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Runs the loop until *flag becomes non-zero or timeout_ms passes. */
static void run_until(uv_loop_t *loop, const int *flag, long timeout_ms)
{
    uv_timer_t t;
    bool expired = false;

    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_guard, (uint64_t)timeout_ms, 0);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    assert_false(expired);
}

static void req(struct kube *k, const char *method, const char *path, const char *ct,
                const char *body, struct res *x)
{
    memset(x, 0, sizeof(*x));
    g_inside = true;
    assert_int_equal(kube_request(k, method, path, ct, body, on_res, x), 0);
    g_inside = false;
}

static struct kube *client_for(uv_loop_t *loop, const struct ksim *s)
{
    struct kube_config cfg;
    struct rc_err err = {0};
    struct kube *k;

    assert_int_equal(kube_config_load(s->kubeconfig, NULL, &cfg, &err), 0);
    k = kube_new(loop, &cfg, 5000, &err);
    kube_config_release(&cfg);
    assert_non_null(k);
    return k;
}

static int parse1(const char *text, const char *dir, const char *ctx, struct kube_config *cfg,
                  struct rc_err *err)
{
    const char *texts[1] = {text};
    size_t lens[1] = {strlen(text)};
    const char *dirs[1] = {dir};

    return kube_config_parse(texts, lens, dirs, 1, ctx, cfg, err);
}

static const char KC_TWO[] = "apiVersion: v1\n"
                             "kind: Config\n"
                             "current-context: b\n"
                             "clusters:\n"
                             "- name: ca\n"
                             "  cluster:\n"
                             "    server: https://10.0.0.1:6443/\n"
                             "    certificate-authority: certs/ca.pem\n"
                             "- name: cb\n"
                             "  cluster:\n"
                             "    server: http://127.0.0.1:8080\n"
                             "users:\n"
                             "- name: ua\n"
                             "  user:\n"
                             "    client-certificate: /abs/client.pem\n"
                             "    client-key: keys/client.key\n"
                             "- name: ub\n"
                             "  user:\n"
                             "    token: \"secret-b\"\n"
                             "contexts:\n"
                             "- name: a\n"
                             "  context: {cluster: ca, user: ua, namespace: ops}\n"
                             "- name: b\n"
                             "  context: {cluster: cb, user: ub}\n";

/* ---- configuration ---- */

/* current-context picks the context; a context without namespace means
 * "default"; the static token is taken. */
static void test_config_current_context(void **state)
{
    struct kube_config c;
    struct rc_err err = {0};

    (void)state;
    assert_int_equal(parse1(KC_TWO, "/etc/kube", NULL, &c, &err), 0);
    assert_string_equal(c.context, "b");
    assert_string_equal(c.server, "http://127.0.0.1:8080");
    assert_string_equal(c.namespace, "default");
    assert_string_equal(c.token, "secret-b");
    assert_null(c.ca_file);
    assert_null(c.cert_file);
    kube_config_release(&c);
    assert_null(c.server);
}

/* --context overrides current-context; relative paths resolve against the
 * kubeconfig's directory, absolute ones are kept; the trailing slash of the
 * server goes. */
static void test_config_context_and_paths(void **state)
{
    struct kube_config c;
    struct rc_err err = {0};

    (void)state;
    assert_int_equal(parse1(KC_TWO, "/etc/kube", "a", &c, &err), 0);
    assert_string_equal(c.server, "https://10.0.0.1:6443");
    assert_string_equal(c.namespace, "ops");
    assert_string_equal(c.ca_file, "/etc/kube/certs/ca.pem");
    assert_string_equal(c.cert_file, "/abs/client.pem");
    assert_string_equal(c.key_file, "/etc/kube/keys/client.key");
    assert_null(c.token);
    kube_config_release(&c);
}

/* -data fields are base64 PEM, decoded to the exact bytes; tokenFile is kept
 * as a path (read by the client). */
static void test_config_data_fields(void **state)
{
    static const char kc[] = "current-context: x\n"
                             "clusters: [{name: c, cluster: {server: 'https://k:443', "
                             "certificate-authority-data: 'LS0tLS1CRUdJTiBDQS0tLS0tCg=='}}]\n"
                             "users: [{name: u, user: {client-certificate-data: "
                             "'Q0VSVAo=', client-key-data: 'S0VZ', tokenFile: tok}}]\n"
                             "contexts: [{name: x, context: {cluster: c, user: u, namespace: "
                             "ci}}]\n";
    struct kube_config c;
    struct rc_err err = {0};

    (void)state;
    assert_int_equal(parse1(kc, "/d", NULL, &c, &err), 0);
    assert_int_equal(c.ca_pem_len, 19);
    assert_memory_equal(c.ca_pem, "-----BEGIN CA-----\n", 19);
    assert_int_equal(c.cert_pem_len, 5);
    assert_memory_equal(c.cert_pem, "CERT\n", 5);
    assert_int_equal(c.key_pem_len, 3);
    assert_memory_equal(c.key_pem, "KEY", 3);
    assert_string_equal(c.token_file, "/d/tok");
    assert_string_equal(c.namespace, "ci");
    kube_config_release(&c);
}

/* Several files merge first-wins: current-context and a name defined twice
 * come from the first; a user defined only in the second is found there. */
static void test_config_merge_first_wins(void **state)
{
    static const char a[] = "current-context: one\n"
                            "clusters: [{name: c, cluster: {server: 'http://first:1'}}]\n"
                            "contexts: [{name: one, context: {cluster: c, user: u}}]\n";
    static const char b[] = "current-context: two\n"
                            "clusters: [{name: c, cluster: {server: 'http://second:2'}}]\n"
                            "users: [{name: u, user: {token: from-b}}]\n"
                            "contexts: [{name: two, context: {cluster: c, user: u}}]\n";
    const char *texts[2] = {a, b};
    size_t lens[2] = {sizeof(a) - 1, sizeof(b) - 1};
    struct kube_config c;
    struct rc_err err = {0};

    (void)state;
    assert_int_equal(kube_config_parse(texts, lens, NULL, 2, NULL, &c, &err), 0);
    assert_string_equal(c.context, "one");
    assert_string_equal(c.server, "http://first:1");
    assert_string_equal(c.token, "from-b");
    kube_config_release(&c);
}

static void expect_config_error(const char *kc, const char *ctx, int code, const char *needle)
{
    struct kube_config c;
    struct rc_err err = {0};

    assert_int_equal(parse1(kc, NULL, ctx, &c, &err), code);
    if (!strstr(err.msg, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err.msg, needle);
    assert_null(c.server); /* released on failure */
}

/* Errors say what is wrong; verification cannot be switched off for https. */
static void test_config_errors(void **state)
{
    (void)state;
    expect_config_error(KC_TWO, "nope", -RC_EINVAL, "context \"nope\" not found");
    expect_config_error("clusters: []\n", NULL, -RC_EINVAL, "no current-context");
    expect_config_error("current-context: x\ncontexts: [{name: x, context: {cluster: "
                        "c}}]\nclusters: [{name: c, cluster: {server: 'https://h', "
                        "insecure-skip-tls-verify: true}}]\n",
                        NULL, -RC_EINVAL, "insecure-skip-tls-verify is not supported");
    expect_config_error("current-context: x\ncontexts: [{name: x, context: {cluster: "
                        "c}}]\nclusters: [{name: c, cluster: {server: 'https://h', "
                        "certificate-authority: ca.pem, insecure-skip-tls-verify: true}}]\n",
                        NULL, -RC_EINVAL, "together");
    expect_config_error("current-context: x\ncontexts: [{name: x, context: {cluster: c, "
                        "user: u}}]\nclusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                        "users: [{name: u, user: {exec: {command: aws}}}]\n",
                        NULL, -RC_EINVAL, "exec credential plugins are not supported");
    expect_config_error("current-context: x\ncontexts: [{name: x, context: {cluster: c, "
                        "user: u}}]\nclusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                        "users: [{name: u, user: {client-certificate: c.pem}}]\n",
                        NULL, -RC_EINVAL, "certificate and key must be given together");
    expect_config_error("current-context: x\ncontexts: [{name: x, context: {cluster: "
                        "c}}]\nclusters: [{name: c, cluster: {server: 'https://h', "
                        "certificate-authority-data: '!!notbase64'}}]\n",
                        NULL, -RC_EINVAL, "not valid base64");
    expect_config_error("current-context: x\ncontexts: [{name: x, context: {cluster: "
                        "c}}]\nclusters: [{name: c, cluster: {server: 'ftp://h'}}]\n",
                        NULL, -RC_EINVAL, "not an http(s) URL");
    expect_config_error("a: [b\n", NULL, -RC_EPROTO, "not YAML");
    expect_config_error("- a\n- b\n", NULL, -RC_EPROTO, "not a mapping");
    {
        /* insecure-skip-tls-verify with plain http is harmless */
        struct kube_config c;
        struct rc_err err = {0};

        assert_int_equal(parse1("current-context: x\ncontexts: [{name: x, context: {cluster: "
                                "c}}]\nclusters: [{name: c, cluster: {server: 'http://h', "
                                "insecure-skip-tls-verify: true}}]\n",
                                NULL, NULL, &c, &err),
                         0);
        kube_config_release(&c);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* In-cluster: server from the environment (IPv6 in brackets), CA and token
 * file from the service-account directory, namespace read and trimmed. */
static void test_config_incluster(void **state)
{
    char dir[] = "/tmp/azpool-sa.XXXXXX", p[256];
    struct kube_config c;
    struct rc_err err = {0};

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/token", dir);
    write_file(p, "sa-token\n");
    snprintf(p, sizeof(p), "%s/namespace", dir);
    write_file(p, "azpool-system\n");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(kube_config_incluster(dir, &c, &err), 0);
    assert_string_equal(c.server, "https://10.96.0.1:443");
    assert_string_equal(c.namespace, "azpool-system");
    snprintf(p, sizeof(p), "%s/token", dir);
    assert_string_equal(c.token_file, p);
    snprintf(p, sizeof(p), "%s/ca.crt", dir);
    assert_string_equal(c.ca_file, p);
    assert_null(c.token);
    kube_config_release(&c);

    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    unsetenv("KUBECONFIG");
    assert_int_equal(kube_config_auto(NULL, NULL, dir, &c, &err), 0);
    assert_string_equal(c.server, "https://[fd00::1]:443");
    kube_config_release(&c);

    /* $KUBECONFIG wins over the in-cluster configuration (controller-runtime's order) */
    snprintf(p, sizeof(p), "%s/kc", dir);
    write_file(p, "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
                  "clusters: [{name: c, cluster: {server: 'http://from-env:1'}}]\n");
    setenv("KUBECONFIG", p, 1);
    assert_int_equal(kube_config_auto(NULL, NULL, dir, &c, &err), 0);
    assert_string_equal(c.server, "http://from-env:1");
    kube_config_release(&c);
    unsetenv("KUBECONFIG");
    unlink(p);

    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(kube_config_incluster(dir, &c, &err), -RC_EINVAL);
    unsetenv("KUBERNETES_SERVICE_PORT");
    snprintf(p, sizeof(p), "%s/token", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/namespace", dir);
    unlink(p);
    rmdir(dir);
}

/* A ':'-list skips missing files; a single missing file is an error that
 * names it. */
static void test_config_load_list(void **state)
{
    char dir[] = "/tmp/azpool-kc.XXXXXX", p[256], list[600];
    struct kube_config c;
    struct rc_err err = {0};

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/config", dir);
    write_file(p, KC_TWO);
    snprintf(list, sizeof(list), "%s/missing:%s", dir, p);
    assert_int_equal(kube_config_load(list, "a", &c, &err), 0);
    snprintf(list, sizeof(list), "%s/certs/ca.pem", dir);
    assert_string_equal(c.ca_file, list);
    kube_config_release(&c);
    snprintf(list, sizeof(list), "%s/missing", dir);
    assert_int_equal(kube_config_load(list, NULL, &c, &err), -RC_EIO);
    assert_non_null(strstr(err.msg, "missing"));
    unlink(p);
    rmdir(dir);
}

/* ---- requests against kubesim ---- */

static const char WP[] =
    "{\"apiVersion\":\"azpool.dev/v1alpha1\",\"kind\":\"WorkerPool\",\"metadata\":{\"name\":"
    "\"wp1\",\"namespace\":\"ci\"},\"spec\":{\"subscriptionId\":"
    "\"11111111-2222-3333-4444-555555555555\",\"resourceGroup\":\"rg\",\"location\":"
    "\"westeurope\",\"vmSize\":\"Standard_D2s_v5\",\"replicas\":2,\"image\":{\"publisher\":"
    "\"Canonical\",\"offer\":\"o\",\"sku\":\"s\"},\"network\":{\"subnetId\":\"/subscriptions/"
    "11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.Network/"
    "virtualNetworks/v/subnets/s\"},\"osProfile\":{\"adminUsername\":\"azpool\","
    "\"sshPublicKeys\":[\"ssh-ed25519 AAAA\"]}}}";

#define WPS "/apis/azpool.dev/v1alpha1/namespaces/ci/workerpools"

/* Create, get, conflict, not found, merge patch: statuses, Status reasons and
 * error classes; the callback never runs inside kube_request. */
static void test_request_crud(void **state)
{
    struct ksim s;
    uv_loop_t loop;
    struct kube *k;
    struct res x;

    (void)state;
    assert_int_equal(ksim_start(&s, NULL), 0);
    assert_int_equal(ksim_apply_crds(&s), 0);
    assert_int_equal(ksim_namespace(&s, "ci"), 0);
    uv_loop_init(&loop);
    k = client_for(&loop, &s);
    assert_string_equal(kube_namespace(k), "default");

    req(k, "POST", WPS, NULL, WP, &x);
    assert_int_equal(x.calls, 0);
    run_until(&loop, &x.calls, 5000);
    assert_false(x.inside);
    assert_int_equal(x.status, 201);
    assert_int_equal(x.code, 0);
    assert_non_null(strstr(x.body, "\"generation\":1"));

    req(k, "POST", WPS, NULL, WP, &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 409);
    assert_int_equal(x.code, -RC_ECONFLICT);
    assert_string_equal(x.reason, "AlreadyExists");

    req(k, "GET", WPS "/nope", NULL, NULL, &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 404);
    assert_int_equal(x.code, -RC_ENOTFOUND);
    assert_string_equal(x.reason, "NotFound");
    assert_non_null(strstr(x.message, "\"nope\" not found"));

    req(k, "PATCH", WPS "/wp1", "application/merge-patch+json", "{\"spec\":{\"replicas\":5}}", &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 200);
    assert_non_null(strstr(x.body, "\"replicas\":5"));
    assert_non_null(strstr(x.body, "\"generation\":2"));

    /* a stale resourceVersion precondition is a Conflict */
    req(k, "PATCH", WPS "/wp1", "application/merge-patch+json",
        "{\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{\"replicas\":6}}", &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 409);
    assert_string_equal(x.reason, "Conflict");

    /* 422 from schema validation: terminal, EINVAL */
    req(k, "PATCH", WPS "/wp1", "application/merge-patch+json", "{\"spec\":{\"replicas\":-1}}", &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 422);
    assert_int_equal(x.code, -RC_EINVAL);
    assert_string_equal(x.reason, "Invalid");

    assert_int_equal(kube_request(k, "GET", "no-slash", NULL, NULL, on_res, &x), -RC_EINVAL);
    assert_true(kube_stats(k)->requests >= 6);
    kube_free(k);
    srv_loop_finish(&loop);
    ksim_stop(&s);
}

/* kube_free completes pending requests with status 0 and "cancelled". */
static void test_free_cancels(void **state)
{
    struct ksim s;
    uv_loop_t loop;
    struct kube *k;
    struct res x;

    (void)state;
    assert_int_equal(ksim_start(&s, NULL), 0);
    uv_loop_init(&loop);
    k = client_for(&loop, &s);
    req(k, "GET", "/api", NULL, NULL, &x);
    kube_free(k);
    assert_int_equal(x.calls, 1);
    assert_int_equal(x.status, 0);
    assert_int_equal(x.code, -RC_ETRANSIENT);
    assert_string_equal(x.message, "cancelled");
    srv_loop_finish(&loop);
    ksim_stop(&s);
}

/* kube_free() called from inside a callback (a request's, a watch's on_end):
 * every other pending request completes once with "cancelled", the calling
 * one is not completed again, and nothing of the freed client is touched. */
struct freer {
    struct kube *k;
    int calls;
};

static void on_res_free(void *arg, const struct kube_response *r)
{
    struct freer *f = arg;
    struct kube *k = f->k;

    (void)r;
    f->calls++;
    f->k = NULL;
    kube_free(k); /* NULL on a second (wrong) call */
}

static void on_ev_none(void *arg, const char *type, const json_t *obj)
{
    (void)arg;
    (void)type;
    (void)obj;
}

static void test_free_from_callbacks(void **state)
{
    struct ksim s;
    uv_loop_t loop;
    struct freer f = {0};
    struct res x;
    struct kube_watch_opts wo = {0};

    (void)state;
    assert_int_equal(ksim_start(&s, NULL), 0);
    uv_loop_init(&loop);

    f.k = client_for(&loop, &s);
    assert_int_equal(kube_request(f.k, "GET", "/api", NULL, NULL, on_res_free, &f), 0);
    req(f.k, "GET", "/api/v1/namespaces/default/configmaps?limit=1&x=slow", NULL, NULL, &x);
    run_until(&loop, &f.calls, 5000);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(f.calls, 1);
    assert_int_equal(x.calls, 1);

    /* a watch whose end callback frees the client (timeoutSeconds=1 ends it) */
    memset(&f, 0, sizeof(f));
    f.k = client_for(&loop, &s);
    wo.timeout_s = 1;
    assert_int_equal(kube_watch(f.k, "/api/v1/namespaces/default/configmaps", &wo, on_ev_none,
                                on_res_free, &f, NULL),
                     0);
    run_until(&loop, &f.calls, 8000);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(f.calls, 1);
    srv_loop_finish(&loop);
    ksim_stop(&s);
}

/* HTTPS with the CA from certificate-authority-data (a blob, no file);
 * without it the server is not trusted (a configuration error, not transient);
 * client certificate and key blobs are presented (garbage ones fail). */
static void test_tls_blobs(void **state)
{
    static const char *const tls[] = {"--tls", NULL};
    struct ksim s;
    uv_loop_t loop;
    struct kube_config cfg;
    struct rc_err err = {0};
    struct kube *k;
    struct res x;
    char p[400], *pem;
    FILE *f;
    long n;

    (void)state;
    assert_int_equal(ksim_start(&s, tls), 0);
    uv_loop_init(&loop);
    assert_int_equal(kube_config_load(s.kubeconfig, NULL, &cfg, &err), 0);
    assert_non_null(cfg.ca_pem);
    assert_null(cfg.ca_file);
    assert_non_null(strstr(cfg.ca_pem, "BEGIN CERTIFICATE"));

    k = kube_new(&loop, &cfg, 5000, &err);
    req(k, "GET", "/api/v1/namespaces/default", NULL, NULL, &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 200);
    kube_free(k);

    /* client certificate: the server's own pair will do as a well-formed one */
    snprintf(p, sizeof(p), "%s/server.pem", s.dir);
    f = fopen(p, "rb");
    assert_non_null(f);
    pem = calloc(1, 65536);
    n = (long)fread(pem, 1, 65535, f);
    fclose(f);
    cfg.cert_pem = pem;
    cfg.cert_pem_len = (size_t)n;
    snprintf(p, sizeof(p), "%s/server.key", s.dir);
    f = fopen(p, "rb");
    assert_non_null(f);
    pem = calloc(1, 65536);
    n = (long)fread(pem, 1, 65535, f);
    fclose(f);
    cfg.key_pem = pem;
    cfg.key_pem_len = (size_t)n;
    k = kube_new(&loop, &cfg, 5000, &err);
    req(k, "GET", "/api", NULL, NULL, &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 200);
    kube_free(k);

    memcpy(cfg.key_pem, "garbage", 8);
    cfg.key_pem_len = 7;
    k = kube_new(&loop, &cfg, 5000, &err);
    req(k, "GET", "/api", NULL, NULL, &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 0);
    assert_int_not_equal(x.code, 0);
    kube_free(k);

    free(cfg.ca_pem);
    cfg.ca_pem = NULL;
    cfg.ca_pem_len = 0;
    free(cfg.cert_pem);
    cfg.cert_pem = NULL;
    free(cfg.key_pem);
    cfg.key_pem = NULL;
    k = kube_new(&loop, &cfg, 5000, &err);
    req(k, "GET", "/api", NULL, NULL, &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 0);
    assert_int_equal(x.code, -RC_EPROTO);

    kube_free(k);
    kube_config_release(&cfg);
    srv_loop_finish(&loop);
    ksim_stop(&s);
}

/* tokenFile: read lazily, kept for a minute, re-read after a 401 and the
 * request retried once; a token that stays wrong returns the 401. */
static void test_token_file_reread_on_401(void **state)
{
    static const char *const args[] = {"--token", "tok-1", NULL};
    struct ksim s;
    uv_loop_t loop;
    struct kube_config cfg;
    struct rc_err err = {0};
    struct kube *k;
    struct res x;
    char tf[400];

    (void)state;
    assert_int_equal(ksim_start(&s, args), 0);
    uv_loop_init(&loop);
    assert_int_equal(kube_config_load(s.kubeconfig, NULL, &cfg, &err), 0);
    assert_string_equal(cfg.token, "tok-1");
    free(cfg.token);
    cfg.token = NULL;
    snprintf(tf, sizeof(tf), "%s/token", s.dir);
    write_file(tf, "wrong\n");
    cfg.token_file = strdup(tf);
    k = kube_new(&loop, &cfg, 5000, &err);
    assert_non_null(k);

    req(k, "GET", "/api/v1/namespaces", NULL, NULL, &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 401);
    assert_string_equal(x.reason, "Unauthorized");
    assert_int_equal(kube_stats(k)->token_reads, 2);

    write_file(tf, "tok-1\n"); /* rotated */
    req(k, "GET", "/api/v1/namespaces", NULL, NULL, &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 200);
    assert_int_equal(kube_stats(k)->token_reads, 3);
    assert_int_equal(kube_stats(k)->retries, 2);

    /* within the minute the good token is reused without reading */
    req(k, "GET", "/api/v1/namespaces", NULL, NULL, &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 200);
    assert_int_equal(kube_stats(k)->token_reads, 3);

    kube_free(k);
    kube_config_release(&cfg);
    srv_loop_finish(&loop);
    ksim_stop(&s);
}

/* ---- retries, against the scriptable server ---- */

struct script {
    int n;      /* requests seen */
    int fail_n; /* the first fail_n get fail_status */
    int fail_status;
    const char *retry_after; /* NULL: no header */
    char auth[128];
    const char *body; /* 200 body */
    size_t body_len;
};

static void script_handler(void *arg, const struct srv_req *rq, struct srv_resp *rs)
{
    struct script *sc = arg;

    sc->n++;
    srv_header(rq, "authorization", sc->auth, sizeof(sc->auth));
    if (sc->n <= sc->fail_n) {
        rs->status = sc->fail_status;
        snprintf(rs->headers, sizeof(rs->headers), "Content-Type: application/json\r\n%s%s%s",
                 sc->retry_after ? "Retry-After: " : "", sc->retry_after ? sc->retry_after : "",
                 sc->retry_after ? "\r\n" : "");
        rs->body = "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"TooManyRequests\","
                   "\"message\":\"slow down\",\"code\":429}";
        rs->body_len = strlen(rs->body);
        return;
    }
    rs->status = 200;
    snprintf(rs->headers, sizeof(rs->headers), "Content-Type: application/json\r\n");
    rs->body = sc->body ? sc->body : "{\"ok\":true}";
    rs->body_len = sc->body ? sc->body_len : strlen(rs->body);
}

static struct kube *client_at(uv_loop_t *loop, int port)
{
    struct kube_config cfg;
    struct rc_err err = {0};
    char server[64];
    struct kube *k;

    memset(&cfg, 0, sizeof(cfg));
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", port);
    cfg.server = server;
    cfg.token = (char *)"static-tok";
    k = kube_new(loop, &cfg, 5000, &err);
    assert_non_null(k);
    assert_string_equal(kube_namespace(k), "default");
    return k;
}

/* 429 with Retry-After: 1 is retried after a second; the bearer token is sent. */
static void test_retry_after_429(void **state)
{
    struct script sc = {0};
    uv_loop_t loop;
    struct srv *srv;
    struct kube *k;
    struct res x;
    uint64_t t0;

    (void)state;
    uv_loop_init(&loop);
    sc.fail_n = 1;
    sc.fail_status = 429;
    sc.retry_after = "1";
    srv = srv_start(&loop, script_handler, &sc);
    k = client_at(&loop, srv_port(srv));
    uv_update_time(&loop);
    t0 = uv_now(&loop);
    req(k, "GET", "/x", NULL, NULL, &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 200);
    assert_int_equal(sc.n, 2);
    assert_true(uv_now(&loop) - t0 >= 990);
    assert_string_equal(sc.auth, "Bearer static-tok");
    assert_int_equal(kube_stats(k)->retries, 1);
    kube_free(k);
    srv_stop(srv);
    srv_loop_finish(&loop);
}

/* Retries stop after KUBE_RETRIES_MAX attempts; the last error is returned,
 * transient. A 5xx without Retry-After is returned at once. */
static void test_retry_limits(void **state)
{
    struct script sc = {0};
    uv_loop_t loop;
    struct srv *srv;
    struct kube *k;
    struct res x;

    (void)state;
    uv_loop_init(&loop);
    sc.fail_n = 100;
    sc.fail_status = 429;
    sc.retry_after = "0";
    srv = srv_start(&loop, script_handler, &sc);
    k = client_at(&loop, srv_port(srv));
    req(k, "GET", "/x", NULL, NULL, &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 429);
    assert_int_equal(x.code, -RC_ETRANSIENT);
    assert_string_equal(x.reason, "TooManyRequests");
    assert_int_equal(sc.n, KUBE_RETRIES_MAX);

    sc.n = 0;
    sc.fail_status = 503;
    sc.retry_after = NULL;
    req(k, "GET", "/x", NULL, NULL, &x);
    run_until(&loop, &x.calls, 5000);
    assert_int_equal(x.status, 503);
    assert_int_equal(sc.n, 1);
    kube_free(k);
    srv_stop(srv);
    srv_loop_finish(&loop);
}

/* ---- watches ---- */

struct wres {
    int events, ended;
    char types[64][12];
    char names[64][32];
    char rvs[64][16];
    long end_status;
    int end_code;
    char end_reason[32];
    int stop_after; /* kube_watch_stop from the callback after this many events */
    struct kube_watch *w;
    size_t big_len; /* length of a big field seen */
};

static void on_ev(void *arg, const char *type, const json_t *obj)
{
    struct wres *r = arg;
    const json_t *md = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
    const char *big = json_string_value(json_object_get(obj, "big"));

    if (r->events < 64) {
        snprintf(r->types[r->events], sizeof(r->types[0]), "%s", type);
        snprintf(r->names[r->events], sizeof(r->names[0]), "%s", name ? name : "");
        snprintf(r->rvs[r->events], sizeof(r->rvs[0]), "%s", rv ? rv : "");
    }
    if (big)
        r->big_len = strlen(big);
    if (strcmp(type, "ERROR") == 0)
        snprintf(r->rvs[r->events], sizeof(r->rvs[0]), "%lld",
                 (long long)json_integer_value(json_object_get(obj, "code")));
    r->events++;
    if (r->stop_after && r->events == r->stop_after)
        kube_watch_stop(r->w);
}

static void on_wend(void *arg, const struct kube_response *resp)
{
    struct wres *r = arg;

    r->ended++;
    r->end_status = resp->status;
    r->end_code = resp->err.code;
    snprintf(r->end_reason, sizeof(r->end_reason), "%s", resp->reason);
}

static void wait_events(uv_loop_t *loop, struct wres *r, int n)
{
    int done = 0;
    uv_timer_t t;
    bool expired = false;

    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_guard, 5000, 0);
    while (r->events < n && !r->ended && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    done = r->events >= n;
    if (!done)
        fail_msg("got %d events, wanted %d (ended %d)", r->events, n, r->ended);
}

/* A watch from a list's resourceVersion delivers ADDED, MODIFIED, DELETED in
 * order with increasing RVs, and BOOKMARKs when asked for; stopping from the
 * event callback ends it with no end callback. */
static void test_watch_events(void **state)
{
    static const char *const args[] = {"--bookmark-seconds", "1", NULL};
    struct ksim s;
    uv_loop_t loop;
    struct kube *k;
    struct kube_watch_opts wo = {0};
    struct wres r = {0};
    char out[8192], rv[32] = "";
    json_t *list;
    const char *lrv;

    (void)state;
    assert_int_equal(ksim_start(&s, args), 0);
    assert_int_equal(ksim_apply_crds(&s), 0);
    assert_int_equal(ksim_namespace(&s, "ci"), 0);
    assert_int_equal(ksim_http(&s, "GET", WPS, NULL, NULL, out, sizeof(out)), 200);
    list = json_loads(out, 0, NULL);
    lrv = json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion"));
    assert_non_null(lrv);
    snprintf(rv, sizeof(rv), "%s", lrv);
    json_decref(list);

    uv_loop_init(&loop);
    k = client_for(&loop, &s);
    wo.resource_version = rv;
    wo.timeout_s = 30;
    assert_int_equal(kube_watch(k, WPS, &wo, on_ev, on_wend, &r, &r.w), 0);
    assert_int_equal(ksim_http(&s, "POST", WPS, NULL, WP, NULL, 0), 201);
    assert_int_equal(ksim_http(&s, "PATCH", WPS "/wp1", "application/merge-patch+json",
                               "{\"spec\":{\"replicas\":3}}", NULL, 0),
                     200);
    assert_int_equal(ksim_http(&s, "DELETE", WPS "/wp1", NULL, NULL, NULL, 0), 200);
    wait_events(&loop, &r, 3);
    assert_string_equal(r.types[0], "ADDED");
    assert_string_equal(r.types[1], "MODIFIED");
    assert_string_equal(r.types[2], "DELETED");
    assert_string_equal(r.names[2], "wp1");
    assert_true(atoll(r.rvs[0]) < atoll(r.rvs[1]));
    assert_true(atoll(r.rvs[1]) < atoll(r.rvs[2]));
    assert_int_equal(r.ended, 0);
    kube_watch_stop(r.w);

    /* bookmarks (from the last RV: nothing else to replay), and a stop from
     * inside the callback */
    snprintf(rv, sizeof(rv), "%s", r.rvs[2]);
    memset(&r, 0, sizeof(r));
    wo.bookmarks = true;
    r.stop_after = 1;
    assert_int_equal(kube_watch(k, WPS, &wo, on_ev, on_wend, &r, &r.w), 0);
    wait_events(&loop, &r, 1);
    assert_string_equal(r.types[0], "BOOKMARK");
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.events, 1);
    assert_int_equal(r.ended, 0);
    assert_true(kube_stats(k)->watch_events >= 4);

    kube_free(k);
    srv_loop_finish(&loop);
    ksim_stop(&s);
}

/* timeoutSeconds ends the stream cleanly (200, no error); a watch from a
 * compacted RV gets one ERROR event with code 410 and then a clean end; a
 * dropped stream also ends cleanly. */
static void test_watch_end_and_410(void **state)
{
    struct ksim s;
    uv_loop_t loop;
    struct kube *k;
    struct kube_watch_opts wo = {0};
    struct wres r = {0};

    (void)state;
    assert_int_equal(ksim_start(&s, NULL), 0);
    assert_int_equal(ksim_apply_crds(&s), 0);
    assert_int_equal(ksim_namespace(&s, "ci"), 0);
    uv_loop_init(&loop);
    k = client_for(&loop, &s);

    wo.timeout_s = 1;
    wo.resource_version = "1";
    assert_int_equal(kube_watch(k, WPS, &wo, on_ev, on_wend, &r, NULL), 0);
    run_until(&loop, &r.ended, 5000);
    assert_int_equal(r.end_status, 200);
    assert_int_equal(r.end_code, 0);

    assert_int_equal(ksim_http(&s, "POST", WPS, NULL, WP, NULL, 0), 201);
    assert_int_equal(ksim_http(&s, "POST", "/_kubesim/compact", NULL, NULL, NULL, 0), 200);
    memset(&r, 0, sizeof(r));
    wo.timeout_s = 30;
    assert_int_equal(kube_watch(k, WPS, &wo, on_ev, on_wend, &r, NULL), 0);
    run_until(&loop, &r.ended, 5000);
    assert_int_equal(r.events, 1);
    assert_string_equal(r.types[0], "ERROR");
    assert_string_equal(r.rvs[0], "410");
    assert_int_equal(r.end_status, 200);

    memset(&r, 0, sizeof(r));
    wo.resource_version = NULL; /* synthetic ADDED for what exists */
    assert_int_equal(kube_watch(k, WPS, &wo, on_ev, on_wend, &r, NULL), 0);
    wait_events(&loop, &r, 1);
    assert_string_equal(r.types[0], "ADDED");
    assert_int_equal(ksim_http(&s, "POST", "/_kubesim/watches/drop", NULL, NULL, NULL, 0), 200);
    run_until(&loop, &r.ended, 5000);
    assert_int_equal(r.end_status, 200);
    assert_int_equal(r.end_code, 0);

    kube_free(k);
    srv_loop_finish(&loop);
    ksim_stop(&s);
}

/* Events split across chunks are reassembled (a 300 KB event between small
 * ones), a last event without its newline is delivered, blank lines and CRLF
 * are tolerated. */
static void test_watch_lines_reassembled(void **state)
{
    struct script sc = {0};
    uv_loop_t loop;
    struct srv *srv;
    struct kube *k;
    struct wres r = {0};
    size_t big = 300000, n = 0;
    char *body = malloc(big + 1024);

    (void)state;
    assert_non_null(body);
    n += (size_t)snprintf(body + n, big + 1024 - n,
                          "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":"
                          "\"a\"}}}\r\n\n");
    n += (size_t)snprintf(body + n, big + 1024 - n,
                          "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":"
                          "\"b\"},\"big\":\"");
    memset(body + n, 'x', big);
    n += big;
    n += (size_t)snprintf(body + n, big + 1024 - n,
                          "\"}}\n{\"type\":\"DELETED\",\"object\":{\"metadata\":{"
                          "\"name\":\"c\"}}}");
    sc.body = body;
    sc.body_len = n;
    uv_loop_init(&loop);
    srv = srv_start(&loop, script_handler, &sc);
    k = client_at(&loop, srv_port(srv));
    assert_int_equal(kube_watch(k, "/w", NULL, on_ev, on_wend, &r, NULL), 0);
    run_until(&loop, &r.ended, 5000);
    assert_int_equal(r.events, 3);
    assert_string_equal(r.names[0], "a");
    assert_string_equal(r.names[1], "b");
    assert_int_equal(r.big_len, big);
    assert_string_equal(r.names[2], "c");
    assert_int_equal(r.end_status, 200);
    assert_int_equal(r.end_code, 0);
    kube_free(k);
    srv_stop(srv);
    srv_loop_finish(&loop);
    free(body);
}

/* A line longer than KUBE_LINE_MAX ends the stream with -RC_ELIMIT; a line
 * that is not an event with -RC_EPROTO; an HTTP error answer is reported
 * with its status and Status reason. */
static void test_watch_bad_streams(void **state)
{
    struct script sc = {0};
    uv_loop_t loop;
    struct srv *srv;
    struct kube *k;
    struct wres r = {0};
    size_t big = KUBE_LINE_MAX + 100;
    char *body = malloc(big);

    (void)state;
    assert_non_null(body);
    memset(body, 'x', big);
    sc.body = body;
    sc.body_len = big;
    uv_loop_init(&loop);
    srv = srv_start(&loop, script_handler, &sc);
    k = client_at(&loop, srv_port(srv));
    assert_int_equal(kube_watch(k, "/w", NULL, on_ev, on_wend, &r, NULL), 0);
    run_until(&loop, &r.ended, 5000);
    assert_int_equal(r.events, 0);
    assert_int_equal(r.end_status, 0);
    assert_int_equal(r.end_code, -RC_ELIMIT);

    memset(&r, 0, sizeof(r));
    sc.body = "{\"type\":\"ADDED\",\"object\":{}}\n[1,2]\n{\"type\":\"ADDED\",\"object\":{}}\n";
    sc.body_len = strlen(sc.body);
    assert_int_equal(kube_watch(k, "/w", NULL, on_ev, on_wend, &r, NULL), 0);
    run_until(&loop, &r.ended, 5000);
    assert_int_equal(r.events, 1);
    assert_int_equal(r.end_code, -RC_EPROTO);

    memset(&r, 0, sizeof(r));
    sc.n = 0;
    sc.fail_n = 1;
    sc.fail_status = 429;
    assert_int_equal(kube_watch(k, "/w", NULL, on_ev, on_wend, &r, NULL), 0);
    run_until(&loop, &r.ended, 5000);
    assert_int_equal(r.events, 0);
    assert_int_equal(r.end_status, 429);
    assert_int_equal(r.end_code, -RC_ETRANSIENT);
    assert_string_equal(r.end_reason, "TooManyRequests");

    assert_int_equal(kube_watch(k, "/w?x=1", NULL, on_ev, on_wend, &r, NULL), -RC_EINVAL);
    kube_free(k);
    srv_stop(srv);
    srv_loop_finish(&loop);
    free(body);
}

/* Query values are percent-encoded (selectors contain '=', ',', '!', ' '). */
static void test_escape(void **state)
{
    char buf[64];

    (void)state;
    assert_int_equal(kube_escape("app=x,tier!=db", buf, sizeof(buf)), 22);
    assert_string_equal(buf, "app%3Dx%2Ctier%21%3Ddb");
    assert_int_equal(kube_escape("a b", buf, 4), 5);
    assert_string_equal(buf, "a"); /* only whole escapes */
}

/* A watch refused with 401 makes the next one re-read the token file (a rotated
 * token is picked up at once, not only after KUBE_TOKEN_REREAD_MS). */
static void test_watch_401_rereads_token(void **state)
{
    static const char *const args[] = {"--token", "tok-1", NULL};
    struct ksim s;
    uv_loop_t loop;
    struct kube_config cfg;
    struct rc_err err = {0};
    struct kube *k;
    struct wres r;
    struct kube_watch_opts wo = {0};
    char tf[400];

    (void)state;
    assert_int_equal(ksim_start(&s, args), 0);
    uv_loop_init(&loop);
    assert_int_equal(kube_config_load(s.kubeconfig, NULL, &cfg, &err), 0);
    free(cfg.token);
    cfg.token = NULL;
    snprintf(tf, sizeof(tf), "%s/token", s.dir);
    write_file(tf, "old\n");
    cfg.token_file = strdup(tf);
    k = kube_new(&loop, &cfg, 5000, &err);
    assert_non_null(k);
    wo.timeout_s = 1;
    memset(&r, 0, sizeof(r));
    assert_int_equal(kube_watch(k, "/api/v1/namespaces", &wo, on_ev, on_wend, &r, NULL), 0);
    write_file(tf, "tok-1\n"); /* rotated after the watch read "old", before its 401 */
    run_until(&loop, &r.ended, 5000);
    assert_int_equal(r.end_status, 401);
    memset(&r, 0, sizeof(r));
    assert_int_equal(kube_watch(k, "/api/v1/namespaces", &wo, on_ev, on_wend, &r, NULL), 0);
    run_until(&loop, &r.ended, 5000);
    assert_int_equal(r.end_status, 200);

    kube_free(k);
    kube_config_release(&cfg);
    srv_loop_finish(&loop);
    ksim_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_current_context),
        cmocka_unit_test(test_config_context_and_paths),
        cmocka_unit_test(test_config_data_fields),
        cmocka_unit_test(test_config_merge_first_wins),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_incluster),
        cmocka_unit_test(test_config_load_list),
        cmocka_unit_test(test_request_crud),
        cmocka_unit_test(test_free_cancels),
        cmocka_unit_test(test_free_from_callbacks),
        cmocka_unit_test(test_tls_blobs),
        cmocka_unit_test(test_token_file_reread_on_401),
        cmocka_unit_test(test_retry_after_429),
        cmocka_unit_test(test_retry_limits),
        cmocka_unit_test(test_watch_events),
        cmocka_unit_test(test_watch_end_and_410),
        cmocka_unit_test(test_watch_lines_reassembled),
        cmocka_unit_test(test_watch_bad_streams),
        cmocka_unit_test(test_watch_401_rereads_token),
        cmocka_unit_test(test_escape),
    };

    return az_run_tests("kube", tests);
}
