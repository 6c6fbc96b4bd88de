/*
 * test_signals.c - autoscale and busy signals (controller/signals.h) and the
 * storage queue client under them (controller/azq.h).
 *
 * Pure helpers: JSON pointer (RFC 6901 examples), metric values, headers
 * secrets, queue message names, connection strings, the Shared Key
 * StringToSign and signature (reference values computed with Python's hmac),
 * the QueueMessagesList parser.
 * Against real Azurite (support_azurite.h): queue length -> metric, a wrong
 * key is refused (so the other checks prove the signing), message bodies ->
 * busy set, a removed message -> job_done once.
 * Against the scriptable HTTP server (support_srv.h): metric through
 * jsonPointer with headers from a secret, busy arrays and job_done, errors,
 * oversize bodies, timeouts, a dropped stale metric, secrets kept out of logs,
 * reconfiguration and removal.
 */
#include "test_main.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "az_cred.h"
#include "azq.h"
#include "http.h"
#include "log.h"
#include "rc_err.h"
#include "rc_model.h"
#include "rc_observed.h"
#include "signals.h"
#include "support_azurite.h"
#include "support_srv.h"

#define DEV_CONN                                                                                   \
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" AZQ_DEV_KEY           \
    ";QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"

static struct azurite g_az;
static bool g_az_up, g_az_tried;

static const char *azurite(void)
{
    if (!g_az_tried) {
        g_az_tried = true;
        g_az_up = azurite_start(&g_az) == 0;
    }
    assert_true(g_az_up);
    return g_az.url;
}

/* ---- pure helpers ---- */

static void test_json_pointer_rfc6901(void **state)
{
    json_t *doc = json_loads("{\"foo\":[\"bar\",\"baz\"],\"\":0,\"a/b\":1,\"c%d\":2,\"e^f\":3,"
                             "\"g|h\":4,\"i\\\\j\":5,\"k\\\"l\":6,\" \":7,\"m~n\":8,"
                             "\"n\":{\"busy\":[\"a\",\"b\"]}}",
                             0, NULL);
    const json_t *v;
    struct rc_err err = {0};
    static const struct {
        const char *ptr;
        int val;
    } ints[] = {{"/", 0},     {"/a~1b", 1}, {"/c%d", 2}, {"/e^f", 3}, {"/g|h", 4},
                {"/i\\j", 5}, {"/k\"l", 6}, {"/ ", 7},   {"/m~0n", 8}};

    (void)state;
    assert_non_null(doc);
    assert_int_equal(signals_json_pointer(doc, "", &v, &err), 0);
    assert_ptr_equal(v, doc);
    assert_int_equal(signals_json_pointer(doc, "/foo", &v, &err), 0);
    assert_int_equal(json_array_size(v), 2);
    assert_int_equal(signals_json_pointer(doc, "/foo/0", &v, &err), 0);
    assert_string_equal(json_string_value(v), "bar");
    assert_int_equal(signals_json_pointer(doc, "/foo/1", &v, &err), 0);
    assert_string_equal(json_string_value(v), "baz");
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        assert_int_equal(signals_json_pointer(doc, ints[i].ptr, &v, &err), 0);
        assert_int_equal(json_integer_value(v), ints[i].val);
    }
    assert_int_equal(signals_json_pointer(doc, "/n/busy/1", &v, &err), 0);
    assert_string_equal(json_string_value(v), "b");
    /* not found: leading zero, "-", past the end, into a scalar, missing key */
    assert_int_equal(signals_json_pointer(doc, "/foo/01", &v, &err), -RC_ENOTFOUND);
    assert_int_equal(signals_json_pointer(doc, "/foo/-", &v, &err), -RC_ENOTFOUND);
    assert_int_equal(signals_json_pointer(doc, "/foo/2", &v, &err), -RC_ENOTFOUND);
    assert_int_equal(signals_json_pointer(doc, "/a~1b/x", &v, &err), -RC_ENOTFOUND);
    assert_int_equal(signals_json_pointer(doc, "/a/b", &v, &err), -RC_ENOTFOUND);
    assert_null(v);
    /* syntax */
    assert_int_equal(signals_json_pointer(doc, "foo", &v, &err), -RC_EINVAL);
    assert_int_equal(signals_json_pointer(doc, "/m~2n", &v, &err), -RC_EINVAL);
    assert_int_equal(signals_json_pointer(doc, "/m~", &v, &err), -RC_EINVAL);
    json_decref(doc);
}

static void test_metric_values(void **state)
{
    struct rc_err err = {0};
    int64_t x = -1;
    json_t *v;

    (void)state;
    v = json_integer(7);
    assert_int_equal(signals_metric_value(v, &x, &err), 0);
    assert_int_equal(x, 7);
    json_decref(v);
    v = json_real(4.9);
    assert_int_equal(signals_metric_value(v, &x, &err), 0);
    assert_int_equal(x, 4);
    json_decref(v);
    v = json_string("12");
    assert_int_equal(signals_metric_value(v, &x, &err), 0);
    assert_int_equal(x, 12);
    json_decref(v);
    v = json_integer(-1);
    assert_int_equal(signals_metric_value(v, &x, &err), -RC_EPROTO);
    json_decref(v);
    v = json_string("1e3");
    assert_int_equal(signals_metric_value(v, &x, &err), -RC_EPROTO);
    json_decref(v);
    v = json_integer(SIGNALS_METRIC_MAX + 1);
    assert_int_equal(signals_metric_value(v, &x, &err), -RC_EPROTO);
    json_decref(v);
    assert_int_equal(signals_metric_value(json_true(), &x, &err), -RC_EPROTO);
    assert_int_equal(signals_metric_value(json_null(), &x, &err), -RC_EPROTO);
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void test_headers_secret(void **state)
{
    char **h = NULL;
    size_t n = 0;
    struct rc_err err = {0};
    char many[2048] = "";

    (void)state;
    assert_int_equal(signals_parse_headers("# token for the CI API\r\n"
                                           "Authorization: Bearer abc:def \r\n\n"
                                           "  X-Api-Key:k=1\n",
                                           &h, &n, &err),
                     0);
    assert_int_equal(n, 2);
    assert_string_equal(h[0], "Authorization: Bearer abc:def");
    assert_string_equal(h[1], "X-Api-Key: k=1");
    free_strs(h, n);
    assert_int_equal(signals_parse_headers("", &h, &n, &err), 0);
    assert_int_equal(n, 0);
    free_strs(h, n);
    assert_int_equal(signals_parse_headers("ok: 1\nno colon here\n", &h, &n, &err), -RC_EINVAL);
    assert_non_null(strstr(err.msg, "line 2"));
    assert_null(strstr(err.msg, "colon")); /* the content is never quoted */
    assert_int_equal(signals_parse_headers("Bad Name: 1\n", &h, &n, &err), -RC_EINVAL);
    assert_int_equal(signals_parse_headers("X: a\001b\n", &h, &n, &err), -RC_EINVAL);
    for (int i = 0; i <= SIGNALS_HEADERS_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "X-%d: v\n", i);
    assert_int_equal(signals_parse_headers(many, &h, &n, &err), -RC_ELIMIT);
}

static void test_message_names(void **state)
{
    char nm[2][SIGNALS_NAME_MAX + 1];

    (void)state;
    assert_int_equal(signals_message_names("worker-1", nm), 1);
    assert_string_equal(nm[0], "worker-1");
    assert_int_equal(signals_message_names(" pool_3\n", nm), 1);
    assert_string_equal(nm[0], "pool_3");
    assert_int_equal(signals_message_names("d29ya2VyLTE=", nm), 1); /* base64("worker-1") */
    assert_string_equal(nm[0], "worker-1");
    assert_int_equal(signals_message_names("dm0tMDAx", nm), 2); /* a name and base64("vm-001") */
    assert_string_equal(nm[0], "dm0tMDAx");
    assert_string_equal(nm[1], "vm-001");
    assert_int_equal(signals_message_names("YmFkIG5hbWU=", nm), 0); /* base64("bad name") */
    assert_int_equal(signals_message_names("not a name!", nm), 0);
    assert_int_equal(signals_message_names("", nm), 0);
    assert_false(signals_name_ok("a/b", 3));
    assert_true(signals_name_ok("vmss_12", 7));
}

static void test_connection_strings(void **state)
{
    struct azq_conn c;
    struct rc_err err = {0};

    (void)state;
    assert_int_equal(azq_conn_parse(DEV_CONN, &c, &err), 0);
    assert_string_equal(c.account, "devstoreaccount1");
    assert_int_equal(c.key_len, 64);
    assert_string_equal(c.queue_endpoint, "http://127.0.0.1:10001/devstoreaccount1");
    azq_conn_wipe(&c);
    assert_int_equal(c.key_len, 0);
    assert_int_equal(azq_conn_parse("UseDevelopmentStorage=true", &c, &err), 0);
    assert_string_equal(c.account, "devstoreaccount1");
    assert_int_equal(c.key_len, 64);
    assert_string_equal(c.queue_endpoint, AZQ_DEV_QUEUE_ENDPOINT);
    assert_int_equal(azq_conn_parse("accountname=acct; accountkey=" AZQ_DEV_KEY
                                    ";EndpointSuffix=core.chinacloudapi.cn",
                                    &c, &err),
                     0);
    assert_string_equal(c.queue_endpoint, "https://acct.queue.core.chinacloudapi.cn");
    assert_int_equal(
        azq_conn_parse("QueueEndpoint=https://a.queue.core.windows.net;SharedAccessSignature="
                       "sv=2021-08-06&sig=abc%3D",
                       &c, &err),
        0);
    assert_string_equal(c.sas, "sv=2021-08-06&sig=abc%3D");
    assert_int_equal(c.key_len, 0);
    assert_int_equal(azq_conn_parse("AccountName=a;AccountKey=not*base64", &c, &err), -RC_EINVAL);
    assert_null(strstr(err.msg, "not*base64"));
    assert_int_equal(azq_conn_parse("AccountName=a", &c, &err), -RC_EINVAL);
    assert_int_equal(azq_conn_parse("AccountKey=" AZQ_DEV_KEY, &c, &err), -RC_EINVAL);
    assert_int_equal(azq_conn_parse("garbage", &c, &err), -RC_EINVAL);
}

static void test_shared_key_signature(void **state)
{
    char sts[1024], auth[256];
    unsigned char key[64];
    size_t klen = 0;

    (void)state;
    /* reference: Python hmac over the same string (tests/conformance/armsim_sdk.py's
     * queue_request builds it the same way and Azurite accepts it) */
    assert_int_equal(
        azq_string_to_sign("GET", "devstoreaccount1", "/devstoreaccount1/jobs/messages",
                           "peekonly=true&numofmessages=32", "", "",
                           "Mon, 23 Nov 2026 10:00:00 GMT", "2021-08-06", sts, sizeof(sts)),
        0);
    assert_string_equal(sts, "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Mon, 23 Nov 2026 10:00:00 GMT\n"
                             "x-ms-version:2021-08-06\n/devstoreaccount1/devstoreaccount1/jobs/"
                             "messages\nnumofmessages:32\npeekonly:true");
    assert_int_equal(azq_b64_decode(AZQ_DEV_KEY, strlen(AZQ_DEV_KEY), key, sizeof(key), &klen), 0);
    assert_int_equal(azq_sign("devstoreaccount1", key, klen, sts, auth, sizeof(auth)), 0);
    assert_string_equal(auth,
                        "SharedKey devstoreaccount1:0IV0Ty8g5kDnnvtzLRNu61sp6dKtmu/Zk6jFOHOWmw4=");
    /* values are percent-decoded, names lowercased, repeated names comma-joined */
    assert_int_equal(azq_string_to_sign("DELETE", "a", "/q/messages/id1",
                                        "popreceipt=AgAAAA%3D%3D&B=2&b=1", "", "", "d", "v", sts,
                                        sizeof(sts)),
                     0);
    assert_non_null(strstr(sts, "\n/a/q/messages/id1\nb:2,1\npopreceipt:AgAAAA=="));
    assert_int_equal(azq_string_to_sign("POST", "a", "/q/messages", "", "42", "application/xml",
                                        "d", "v", sts, sizeof(sts)),
                     0);
    assert_true(strncmp(sts, "POST\n\n\n42\n\napplication/xml\n\n", 28) == 0);
    assert_int_equal(
        azq_string_to_sign("GET", "a", "/q", "x=%zz", "", "", "d", "v", sts, sizeof(sts)),
        -RC_EINVAL);
    assert_int_equal(azq_string_to_sign("GET", "a", "/q", "", "", "", "d", "v", sts, 20),
                     -RC_ELIMIT);
}

static void test_base64(void **state)
{
    unsigned char out[16];
    size_t n = 0;
    char enc[16];

    (void)state;
    assert_int_equal(azq_b64_decode("dm0tYg==", 8, out, sizeof(out), &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "vm-b", 4);
    assert_int_equal(azq_b64_decode("dm0tYg=", 7, out, sizeof(out), &n), -RC_EINVAL);
    assert_int_equal(azq_b64_decode("dm0=Yg==", 8, out, sizeof(out), &n), -RC_EINVAL);
    assert_int_equal(azq_b64_decode("dm0tY g=", 8, out, sizeof(out), &n), -RC_EINVAL);
    assert_int_equal(azq_b64_decode("AAAAAAAAAAAA", 12, out, 8, &n), -RC_EINVAL);
    assert_int_equal(azq_b64_encode((const unsigned char *)"vm-b", 4, enc, sizeof(enc)), 0);
    assert_string_equal(enc, "dm0tYg==");
}

static void test_parse_messages(void **state)
{
    static const char xml[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><QueueMessagesList><QueueMessage>"
        "<MessageId>m1</MessageId><InsertionTime>x</InsertionTime><PopReceipt>AgAA+/w=</PopReceipt>"
        "<DequeueCount>3</DequeueCount><MessageText>{&quot;a&quot;:&lt;1&amp;2&gt;&#39;}"
        "</MessageText></QueueMessage><QueueMessage><MessageId>m2</MessageId>"
        "<DequeueCount>1</DequeueCount><MessageText>vm-1</MessageText></QueueMessage>"
        "</QueueMessagesList>";
    struct azq_msg *m = NULL;
    size_t n = 0;
    struct rc_err err = {0};

    (void)state;
    assert_int_equal(azq_parse_messages(xml, strlen(xml), &m, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(m[0].id, "m1");
    assert_string_equal(m[0].pop_receipt, "AgAA+/w=");
    assert_int_equal(m[0].dequeue_count, 3);
    assert_string_equal(m[0].text, "{\"a\":<1&2>'}");
    assert_null(m[1].pop_receipt);
    assert_string_equal(m[1].text, "vm-1");
    azq_msgs_free(m, n);
    assert_int_equal(azq_parse_messages("<QueueMessagesList />", 21, &m, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(azq_parse_messages("<Error/>", 8, &m, &n, &err), -RC_EPROTO);
    assert_int_equal(azq_parse_messages("<QueueMessagesList><QueueMessage><MessageId>x</MessageId>",
                                        57, &m, &n, &err),
                     -RC_EPROTO);
}

/* ---- the loop world ---- */

struct world {
    uv_loop_t loop;
    struct http *h;
    struct signals *s;
    struct az_cred *cred;
    struct srv *srv;
    int pokes;
    char last_poke[320];
    int secret_calls;
    const char *conn; /* value of secret ops/q/connectionString */
    /* scripted HTTP server */
    int status;
    const char *body;
    size_t body_len;
    bool hang;
    char auth_seen[256];
    char path_seen[256];
    char version_seen[64];
};

static struct world *g_w;

static int secret_cb(void *arg, const char *ns, const char *name, const char *key, char **ret_value)
{
    struct world *w = arg;

    w->secret_calls++;
    if (strcmp(ns, "ops"))
        return -RC_ENOTFOUND;
    if (strcmp(name, "q") == 0 && strcmp(key, "connectionString") == 0 && w->conn)
        *ret_value = strdup(w->conn);
    else if (strcmp(name, "api") == 0 && strcmp(key, "headers") == 0)
        *ret_value = strdup("# CI API\nAuthorization: Bearer s3cr3t-t0ken\nX-Test: yes\n");
    else if (strcmp(name, "badhdr") == 0)
        *ret_value = strdup("this line holds s3cr3t-t0ken\n");
    else
        return -RC_ENOTFOUND;
    return *ret_value ? 0 : -RC_ENOMEM;
}

static void poke_cb(void *arg, const char *pool)
{
    struct world *w = arg;

    w->pokes++;
    snprintf(w->last_poke, sizeof(w->last_poke), "%s", pool);
}

static void handler(void *arg, const struct srv_req *req, struct srv_resp *resp)
{
    struct world *w = arg;

    if (!srv_header(req, "authorization", w->auth_seen, sizeof(w->auth_seen)))
        w->auth_seen[0] = '\0';
    snprintf(w->path_seen, sizeof(w->path_seen), "%s", req->target);
    if (strstr(req->target, "/oauth2/v2.0/token")) {
        snprintf(resp->headers, sizeof(resp->headers), "Content-Type: application/json\r\n");
        resp->status = 200;
        resp->body = "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
                     "\"access_token\":\"storage-t0ken\"}";
        resp->body_len = strlen(resp->body);
        return;
    }
    if (strstr(req->target, "?comp=metadata")) {
        if (!srv_header(req, "x-ms-version", w->version_seen, sizeof(w->version_seen)))
            w->version_seen[0] = '\0';
        resp->status = w->status;
        snprintf(resp->headers, sizeof(resp->headers), "x-ms-approximate-messages-count: 17\r\n");
        resp->body = "";
        return;
    }
    if (w->hang) {
        resp->hang = true;
        return;
    }
    resp->status = w->status;
    snprintf(resp->headers, sizeof(resp->headers), "Content-Type: application/json\r\n");
    resp->body = w->body;
    resp->body_len = w->body_len ? w->body_len : strlen(w->body);
}

static struct world *world_new_cred(long timeout_ms, int ms_per_second, bool cred);

static struct world *world_new(long timeout_ms, int ms_per_second)
{
    return world_new_cred(timeout_ms, ms_per_second, false);
}

static struct world *world_new_cred(long timeout_ms, int ms_per_second, bool cred)
{
    struct world *w = calloc(1, sizeof(*w));
    struct http_opts ho = {0};
    struct signals_opts so = {0};

    assert_non_null(w);
    assert_int_equal(uv_loop_init(&w->loop), 0);
    ho.timeout_ms = 60000; /* signals sets its own per request */
    w->h = http_new(&w->loop, &ho);
    assert_non_null(w->h);
    so.secret = secret_cb;
    so.secret_arg = w;
    so.poke = poke_cb;
    so.poke_arg = w;
    so.ms_per_second = ms_per_second;
    so.timeout_ms = timeout_ms;
    w->srv = srv_start(&w->loop, handler, w);
    assert_non_null(w->srv);
    if (cred) {
        struct az_cred_config cc = {0};
        char host[64];

        snprintf(host, sizeof(host), "http://127.0.0.1:%d", srv_port(w->srv));
        cc.kind = AZ_CRED_SECRET;
        cc.tenant_id = "t";
        cc.client_id = "c";
        cc.client_secret = "s";
        cc.authority_host = host;
        cc.scope = AZQ_SCOPE;
        w->cred = az_cred_new(&w->loop, w->h, &cc);
        assert_non_null(w->cred);
    }
    w->s = signals_new(&w->loop, w->h, w->cred, &so);
    assert_non_null(w->s);
    w->status = 200;
    w->body = "{}";
    g_w = w;
    return w;
}

static void world_free(struct world *w)
{
    signals_free(w->s);
    az_cred_free(w->cred);
    srv_stop(w->srv);
    http_free(w->h);
    srv_loop_finish(&w->loop);
    free(w);
    g_w = NULL;
}

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Runs the loop until pred(w) or ms pass; returns pred(w). */
static bool run_until(struct world *w, bool (*pred)(struct world *), int ms)
{
    uv_timer_t t;
    bool expired = false;

    uv_timer_init(&w->loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, (uint64_t)ms, 0);
    while (!expired && !(pred && pred(w)))
        uv_run(&w->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&w->loop, UV_RUN_NOWAIT);
    return pred ? pred(w) : true;
}

static int g_want_pokes;
static bool poked(struct world *w)
{
    return w->pokes >= g_want_pokes;
}

static bool wait_pokes(struct world *w, int n, int ms)
{
    g_want_pokes = n;
    return run_until(w, poked, ms);
}

/* A pool "ops/runners" with the given metric and busy sources. */
struct pool_fixture {
    struct rc_pool pool;
    struct rc_desired want;
};

static void fixture(struct pool_fixture *f, const struct rc_signal *metric,
                    const struct rc_signal *busy)
{
    memset(f, 0, sizeof(*f));
    f->pool.meta.namespace = "ops";
    f->pool.meta.name = "runners";
    if (metric) {
        f->pool.spec.autoscale.enabled = true;
        f->pool.spec.autoscale.metric = *metric;
    }
    if (busy)
        f->pool.spec.busy = *busy;
    f->want.pools = &f->pool;
    f->want.n_pools = 1;
}

static struct rc_signal http_sig(struct world *w, const char *path, const char *ptr,
                                 const char *secret)
{
    static char url[256];
    struct rc_signal sig;

    memset(&sig, 0, sizeof(sig));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", srv_port(w->srv), path);
    sig.kind = RC_SIGNAL_HTTP;
    sig.http.url = url;
    sig.http.json_pointer = (char *)ptr;
    sig.http.headers.name = (char *)secret;
    sig.http.headers.key = secret ? "headers" : NULL;
    sig.poll_seconds = 1;
    return sig;
}

static void obs_release(struct rc_obs_pool *o)
{
    free_strs(o->busy, o->n_busy);
    free_strs(o->job_done, o->n_job_done);
    memset(o, 0, sizeof(*o));
}

/* ---- a log capture (secrets must never reach it) ---- */

static char g_logpath[64];
static int g_logfd = -1;

static void log_capture(void)
{
    snprintf(g_logpath, sizeof(g_logpath), "/tmp/azpool-siglog.XXXXXX");
    g_logfd = mkstemp(g_logpath);
    assert_true(g_logfd >= 0);
    log_set_fd(g_logfd);
}

static char *log_release(void)
{
    FILE *f = fopen(g_logpath, "r");
    char *buf = calloc(1, 65536);

    assert_non_null(f);
    assert_non_null(buf);
    if (fread(buf, 1, 65535, f) == 0)
        buf[0] = '\0';
    fclose(f);
    unlink(g_logpath);
    log_set_fd(2);
    close(g_logfd);
    g_logfd = -1;
    return buf;
}

/* ---- HTTP sources ---- */

static void test_http_metric_pointer_and_headers(void **state)
{
    struct world *w = world_new(2000, 50);
    struct rc_signal m = http_sig(w, "/api/pending", "/queue/pending~1jobs", "api");
    struct pool_fixture f;
    struct rc_obs_pool obs = {0};
    char *log;

    (void)state;
    log_capture();
    w->body = "{\"queue\":{\"pending/jobs\":4,\"other\":9}}";
    fixture(&f, &m, NULL);
    assert_int_equal(signals_sync(w->s, &f.want), 0);
    assert_int_equal(signals_count(w->s), 1);
    /* before the first poll: a metric source, no value yet */
    assert_int_equal(signals_fill(w->s, "ops/runners", &obs), SIGNALS_HAS_METRIC);
    assert_false(obs.has_signal);
    assert_true(wait_pokes(w, 1, 3000));
    assert_string_equal(w->last_poke, "ops/runners");
    assert_string_equal(w->auth_seen, "Bearer s3cr3t-t0ken");
    assert_string_equal(w->path_seen, "/api/pending");
    assert_int_equal(signals_fill(w->s, "ops/runners", &obs), SIGNALS_HAS_METRIC);
    assert_true(obs.has_signal);
    assert_int_equal(obs.signal, 4);
    /* a new value pokes again; the same value does not */
    w->body = "{\"queue\":{\"pending/jobs\":11}}";
    assert_true(wait_pokes(w, 2, 3000));
    assert_int_equal(signals_fill(w->s, "ops/runners", &obs), SIGNALS_HAS_METRIC);
    assert_int_equal(obs.signal, 11);
    assert_false(wait_pokes(w, 3, 400));
    assert_true(w->secret_calls >= 3); /* re-read every poll (rotation) */
    /* a pool without sources: nothing */
    assert_int_equal(signals_fill(w->s, "ops/other", &obs), 0);
    world_free(w);
    log = log_release();
    assert_null(strstr(log, "s3cr3t"));
    free(log);
}

static bool two_requests(struct world *w)
{
    return srv_requests(w->srv) >= 2;
}

static void test_http_errors_keep_then_drop(void **state)
{
    struct world *w = world_new(2000, 10); /* stale after 60 "s" = 600 ms */
    struct rc_signal m = http_sig(w, "/m", "/n", NULL);
    struct pool_fixture f;
    struct rc_obs_pool obs = {0};
    char *log;
    int before;

    (void)state;
    log_capture();
    w->body = "{\"n\":2}";
    fixture(&f, &m, NULL);
    assert_int_equal(signals_sync(w->s, &f.want), 0);
    assert_true(wait_pokes(w, 1, 3000));
    /* errors: the value stays for a while ... */
    w->status = 503;
    before = srv_requests(w->srv);
    run_until(w, NULL, 150);
    assert_true(srv_requests(w->srv) > before);
    assert_int_equal(w->pokes, 1);
    signals_fill(w->s, "ops/runners", &obs);
    assert_true(obs.has_signal);
    assert_int_equal(obs.signal, 2);
    /* ... then it is dropped, with a poke */
    assert_true(wait_pokes(w, 2, 3000));
    signals_fill(w->s, "ops/runners", &obs);
    assert_false(obs.has_signal);
    /* recovery */
    w->status = 200;
    assert_true(wait_pokes(w, 3, 3000));
    signals_fill(w->s, "ops/runners", &obs);
    assert_true(obs.has_signal);
    assert_int_equal(obs.signal, 2);
    /* not JSON, pointer missing, not a number: each a failed poll, value dropped later */
    w->body = "<html>";
    assert_true(wait_pokes(w, 4, 3000));
    signals_fill(w->s, "ops/runners", &obs);
    assert_false(obs.has_signal);
    world_free(w);
    log = log_release();
    assert_non_null(strstr(log, "event=signals.poll_failed"));
    assert_non_null(strstr(log, "status=503"));
    assert_non_null(strstr(log, "event=signals.metric_dropped"));
    assert_non_null(strstr(log, "event=signals.poll_recovered"));
    assert_non_null(strstr(log, "not JSON"));
    free(log);
}

static void test_http_bad_documents(void **state)
{
    static const char *const bodies[] = {"{\"x\":1}", "{\"n\":\"many\"}", "{\"n\":-3}",
                                         "{\"n\":[1]}"};
    static const char *const msgs[] = {"nothing at the pointer", "not a number", "out of range",
                                       "not a number"};

    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct world *w = world_new(2000, 20);
        struct rc_signal m = http_sig(w, "/m", "/n", NULL);
        struct pool_fixture f;
        struct rc_obs_pool obs = {0};
        char *log;

        log_capture();
        w->body = bodies[i];
        fixture(&f, &m, NULL);
        assert_int_equal(signals_sync(w->s, &f.want), 0);
        assert_true(run_until(w, two_requests, 3000));
        assert_int_equal(w->pokes, 0);
        signals_fill(w->s, "ops/runners", &obs);
        assert_false(obs.has_signal);
        world_free(w);
        log = log_release();
        assert_non_null(strstr(log, msgs[i]));
        free(log);
    }
}

static void test_http_oversize_and_bad_headers_secret(void **state)
{
    struct world *w = world_new(5000, 20);
    struct rc_signal m = http_sig(w, "/m", "/n", NULL);
    struct pool_fixture f;
    struct rc_obs_pool obs = {0};
    size_t big = SIGNALS_BODY_MAX + 100;
    char *body = malloc(big + 1), *log;

    (void)state;
    assert_non_null(body);
    memset(body, ' ', big);
    memcpy(body, "{\"n\":5", 6);
    body[big - 1] = '}';
    body[big] = '\0';
    log_capture();
    w->body = body;
    fixture(&f, &m, NULL);
    assert_int_equal(signals_sync(w->s, &f.want), 0);
    assert_true(run_until(w, two_requests, 3000));
    signals_fill(w->s, "ops/runners", &obs);
    assert_false(obs.has_signal);
    /* the same document under the limit is fine */
    w->body = "{\"n\":5}";
    assert_true(wait_pokes(w, 1, 3000));
    signals_fill(w->s, "ops/runners", &obs);
    assert_int_equal(obs.signal, 5);
    /* a malformed headers secret fails the poll without printing it */
    m.http.headers.name = "badhdr";
    m.http.headers.key = "headers";
    fixture(&f, &m, NULL);
    assert_int_equal(signals_sync(w->s, &f.want), 0);
    run_until(w, NULL, 300);
    signals_fill(w->s, "ops/runners", &obs);
    assert_false(obs.has_signal); /* reconfigured: values start afresh */
    world_free(w);
    free(body);
    log = log_release();
    assert_non_null(strstr(log, "response over"));
    assert_non_null(strstr(log, "line 1"));
    assert_null(strstr(log, "s3cr3t"));
    free(log);
}

static void test_http_timeout(void **state)
{
    struct world *w = world_new(250, 100); /* polls every 100 ms, requests time out at 250 ms */
    struct rc_signal m = http_sig(w, "/slow", "/n", NULL);
    struct pool_fixture f;
    struct rc_obs_pool obs = {0};
    char *log;

    (void)state;
    log_capture();
    w->hang = true;
    fixture(&f, &m, NULL);
    assert_int_equal(signals_sync(w->s, &f.want), 0);
    run_until(w, NULL, 200);
    /* one request at a time: the hanging one blocks the source until it times out */
    assert_int_equal(srv_requests(w->srv), 1);
    assert_true(run_until(w, two_requests, 3000));
    signals_fill(w->s, "ops/runners", &obs);
    assert_false(obs.has_signal);
    world_free(w);
    log = log_release();
    assert_non_null(strstr(log, "event=signals.poll_failed"));
    free(log);
}

static void test_http_busy_and_job_done(void **state)
{
    struct world *w = world_new(2000, 20);
    struct rc_signal b = http_sig(w, "/busy", "/busy", NULL);
    struct pool_fixture f;
    struct rc_obs_pool obs = {0};
    int fl;

    (void)state;
    w->body = "{\"busy\":[\"vm-a\",\"vm-b\",\"vm-a\"]}";
    fixture(&f, NULL, &b);
    assert_int_equal(signals_sync(w->s, &f.want), 0);
    fl = signals_fill(w->s, "ops/runners", &obs);
    assert_int_equal(fl, SIGNALS_HAS_BUSY | SIGNALS_BUSY_UNKNOWN);
    assert_true(wait_pokes(w, 1, 3000));
    assert_int_equal(signals_fill(w->s, "ops/runners", &obs), SIGNALS_HAS_BUSY);
    assert_int_equal(obs.n_busy, 2);
    assert_string_equal(obs.busy[0], "vm-a");
    assert_string_equal(obs.busy[1], "vm-b");
    assert_int_equal(obs.n_job_done, 0);
    /* vm-a finished its job, vm-c started one */
    w->body = "{\"busy\":[\"vm-b\",\"vm-c\"]}";
    assert_true(wait_pokes(w, 2, 3000));
    signals_fill(w->s, "ops/runners", &obs);
    assert_int_equal(obs.n_busy, 2);
    assert_string_equal(obs.busy[0], "vm-b");
    assert_string_equal(obs.busy[1], "vm-c");
    assert_int_equal(obs.n_job_done, 1);
    assert_string_equal(obs.job_done[0], "vm-a");
    /* consumed: the next fill has no job_done */
    obs_release(&obs);
    signals_fill(w->s, "ops/runners", &obs);
    assert_int_equal(obs.n_job_done, 0);
    /* given back (the plan was not applied): handed out again, once */
    {
        char *back[] = {"vm-a"};

        assert_int_equal(signals_job_done_return(w->s, "ops/runners", back, 1), 0);
    }
    obs_release(&obs);
    signals_fill(w->s, "ops/runners", &obs);
    assert_int_equal(obs.n_job_done, 1);
    assert_string_equal(obs.job_done[0], "vm-a");
    obs_release(&obs);
    /* a failing source keeps the busy set (protection) */
    w->status = 500;
    run_until(w, NULL, 300);
    signals_fill(w->s, "ops/runners", &obs);
    assert_int_equal(obs.n_busy, 2);
    assert_int_equal(obs.n_job_done, 0);
    obs_release(&obs);
    /* elements that are not instance names fail the poll */
    w->status = 200;
    w->body = "{\"busy\":[\"vm-b\",7]}";
    run_until(w, NULL, 300);
    signals_fill(w->s, "ops/runners", &obs);
    assert_int_equal(obs.n_busy, 2);
    obs_release(&obs);
    world_free(w);
}

static void test_sync_reconfigure_and_remove(void **state)
{
    struct world *w = world_new(5000, 20);
    struct rc_signal m = http_sig(w, "/m", "/n", NULL);
    struct rc_signal tag = {.kind = RC_SIGNAL_TAG};
    struct pool_fixture f;
    struct rc_desired none = {0};
    int reqs;

    (void)state;
    w->body = "{\"n\":1}";
    fixture(&f, &m, &tag);
    assert_int_equal(signals_sync(w->s, &f.want), 0);
    assert_int_equal(signals_count(w->s), 1); /* tag needs no poller */
    assert_true(wait_pokes(w, 1, 3000));
    /* the same configuration again keeps the value */
    assert_int_equal(signals_sync(w->s, &f.want), 0);
    {
        struct rc_obs_pool obs = {0};

        signals_fill(w->s, "ops/runners", &obs);
        assert_true(obs.has_signal);
    }
    /* a deleting pool is not polled */
    f.pool.meta.deleting = true;
    assert_int_equal(signals_sync(w->s, &f.want), 0);
    assert_int_equal(signals_count(w->s), 0);
    f.pool.meta.deleting = false;
    /* removal while a request hangs: the orphan frees itself when http ends it */
    w->hang = true;
    assert_int_equal(signals_sync(w->s, &f.want), 0);
    run_until(w, NULL, 200);
    reqs = srv_requests(w->srv);
    assert_int_equal(signals_sync(w->s, &none), 0);
    assert_int_equal(signals_count(w->s), 0);
    run_until(w, NULL, 200);
    assert_int_equal(srv_requests(w->srv), reqs);
    world_free(w);
}

static void test_queue_metric_with_aad_token(void **state)
{
    struct world *w = world_new_cred(2000, 50, true);
    struct rc_signal m = {0};
    struct pool_fixture f;
    struct rc_obs_pool obs = {0};
    char url[128];

    (void)state;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/acct", srv_port(w->srv));
    m.kind = RC_SIGNAL_QUEUE;
    m.queue.account_url = url;
    m.queue.queue = "jobs"; /* no credentialsSecretRef: the managed identity / AAD token */
    m.poll_seconds = 1;
    fixture(&f, &m, NULL);
    assert_int_equal(signals_sync(w->s, &f.want), 0);
    assert_true(wait_pokes(w, 1, 3000));
    assert_string_equal(w->auth_seen, "Bearer storage-t0ken");
    assert_string_equal(w->path_seen, "/acct/jobs?comp=metadata");
    assert_string_equal(w->version_seen, AZQ_VERSION);
    signals_fill(w->s, "ops/runners", &obs);
    assert_true(obs.has_signal);
    assert_int_equal(obs.signal, 17);
    assert_int_equal(w->secret_calls, 0);
    world_free(w);
}

/* ---- Azurite ---- */

struct qdone {
    int calls;
    long status;
    int code;
    struct azq_msg msgs[AZQ_MSGS_MAX];
    size_t n;
};

static void on_q(void *arg, const struct azq_result *res)
{
    struct qdone *d = arg;

    d->calls++;
    d->status = res->status;
    d->code = res->err.code;
    d->n = 0;
    for (size_t i = 0; i < res->n_msgs && i < AZQ_MSGS_MAX; i++) {
        d->msgs[i].id = strdup(res->msgs[i].id);
        d->msgs[i].pop_receipt = res->msgs[i].pop_receipt ? strdup(res->msgs[i].pop_receipt) : NULL;
        d->msgs[i].text = strdup(res->msgs[i].text);
        d->n++;
    }
}

static struct qdone *g_cur;
static bool qdone_called(struct world *w)
{
    (void)w;
    return g_cur->calls > 0;
}

static void qdone_clear(struct qdone *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->msgs[i].id);
        free(d->msgs[i].pop_receipt);
        free(d->msgs[i].text);
    }
    memset(d, 0, sizeof(*d));
}

/* Runs one queue request to completion; returns the HTTP status. */
#define QRUN(w, d, call)                                                                           \
    do {                                                                                           \
        qdone_clear(d);                                                                            \
        assert_int_equal((call), 0);                                                               \
        g_cur = (d);                                                                               \
        assert_true(run_until((w), qdone_called, 10000));                                          \
    } while (0)

static struct azq *dev_queue(struct world *w, const char *name)
{
    struct rc_err err = {0};
    struct azq *q = azq_new(w->h, NULL, azurite(), name, g_az.conn, &err);

    assert_non_null(q);
    return q;
}

static void test_azurite_queue_metric(void **state)
{
    struct world *w = world_new(5000, 50);
    struct azq *q;
    struct qdone d = {0};
    struct rc_err err = {0};
    struct rc_signal m = {0};
    struct pool_fixture f;
    struct rc_obs_pool obs = {0};

    (void)state;
    q = dev_queue(w, "jobs");
    QRUN(w, &d, azq_create(q, on_q, &d, &err));
    assert_true(d.status == 201 || d.status == 204);
    for (int i = 0; i < 3; i++) {
        QRUN(w, &d, azq_put(q, "job <&>", -1, on_q, &d, &err));
        assert_int_equal(d.status, 201);
    }
    QRUN(w, &d, azq_count(q, on_q, &d, &err));
    assert_int_equal(d.status, 200);
    w->conn = g_az.conn;
    m.kind = RC_SIGNAL_QUEUE;
    m.queue.account_url = (char *)azurite();
    m.queue.queue = "jobs";
    m.queue.credentials.name = "q";
    m.queue.credentials.key = "connectionString";
    m.poll_seconds = 1;
    fixture(&f, &m, NULL);
    assert_int_equal(signals_sync(w->s, &f.want), 0);
    assert_true(wait_pokes(w, 1, 5000));
    signals_fill(w->s, "ops/runners", &obs);
    assert_true(obs.has_signal);
    assert_int_equal(obs.signal, 3);
    QRUN(w, &d, azq_put(q, "four", -1, on_q, &d, &err));
    QRUN(w, &d, azq_put(q, "five", -1, on_q, &d, &err));
    assert_true(wait_pokes(w, 2, 5000));
    signals_fill(w->s, "ops/runners", &obs);
    assert_int_equal(obs.signal, 5);
    /* the messages read back as they were put (XML escaping round trip) */
    QRUN(w, &d, azq_peek(q, 32, on_q, &d, &err));
    assert_int_equal(d.n, 5);
    assert_string_equal(d.msgs[0].text, "job <&>");
    qdone_clear(&d);
    azq_free(q);
    world_free(w);
}

static void test_azurite_wrong_key_refused(void **state)
{
    struct world *w = world_new(5000, 50);
    struct rc_err err = {0};
    struct qdone d = {0};
    char conn[512];
    struct azq *q;

    (void)state;
    {
        unsigned char zero[64] = {0};
        char key[128];

        assert_int_equal(azq_b64_encode(zero, sizeof(zero), key, sizeof(key)), 0);
        snprintf(conn, sizeof(conn), "AccountName=devstoreaccount1;AccountKey=%s;QueueEndpoint=%s",
                 key, azurite());
    }
    q = azq_new(w->h, NULL, NULL, "jobs", conn, &err);
    assert_non_null(q);
    QRUN(w, &d, azq_count(q, on_q, &d, &err));
    assert_int_equal(d.status, 403);
    assert_int_equal(d.code, -RC_EINVAL);
    azq_free(q);
    /* and without any credentials there is no queue at all */
    assert_null(azq_new(w->h, NULL, azurite(), "jobs", NULL, &err));
    world_free(w);
}

static void test_azurite_busy_queue(void **state)
{
    struct world *w = world_new(5000, 50);
    struct azq *q;
    struct qdone d = {0};
    struct rc_err err = {0};
    struct rc_signal b = {0};
    struct pool_fixture f;
    struct rc_obs_pool obs = {0};
    char *id = NULL, *pop = NULL;

    (void)state;
    q = dev_queue(w, "busy-workers");
    QRUN(w, &d, azq_create(q, on_q, &d, &err));
    QRUN(w, &d, azq_put(q, "vm-a", -1, on_q, &d, &err));
    QRUN(w, &d, azq_put(q, "dm0tYg==", -1, on_q, &d, &err)); /* base64("vm-b") */
    QRUN(w, &d, azq_put(q, "{not a name}", -1, on_q, &d, &err));
    w->conn = g_az.conn;
    b.kind = RC_SIGNAL_QUEUE;
    b.queue.account_url = (char *)azurite();
    b.queue.queue = "busy-workers";
    b.queue.credentials.name = "q";
    b.queue.credentials.key = "connectionString";
    b.poll_seconds = 1;
    fixture(&f, NULL, &b);
    assert_int_equal(signals_sync(w->s, &f.want), 0);
    assert_true(wait_pokes(w, 1, 5000));
    assert_int_equal(signals_fill(w->s, "ops/runners", &obs), SIGNALS_HAS_BUSY);
    assert_int_equal(obs.n_busy, 2);
    assert_string_equal(obs.busy[0], "vm-a");
    assert_string_equal(obs.busy[1], "vm-b");
    assert_int_equal(obs.n_job_done, 0);
    obs_release(&obs);
    /* peeking changed nothing: the messages are all still there */
    QRUN(w, &d, azq_count(q, on_q, &d, &err));
    /* vm-a's worker removes its message (get + delete by pop receipt). It gets
     * only that one (the oldest): a get of all three would hide vm-b's message
     * too for 30 s, and a poll in that window would rightly see vm-b done. */
    QRUN(w, &d, azq_get(q, 1, 30, on_q, &d, &err));
    assert_int_equal(d.n, 1);
    assert_string_equal(d.msgs[0].text, "vm-a");
    id = strdup(d.msgs[0].id);
    pop = strdup(d.msgs[0].pop_receipt);
    assert_non_null(id);
    assert_non_null(pop);
    QRUN(w, &d, azq_delete(q, id, pop, on_q, &d, &err));
    assert_int_equal(d.status, 204);
    free(id);
    free(pop);
    assert_true(wait_pokes(w, 2, 5000));
    signals_fill(w->s, "ops/runners", &obs);
    assert_int_equal(obs.n_busy, 1);
    assert_string_equal(obs.busy[0], "vm-b");
    assert_int_equal(obs.n_job_done, 1);
    assert_string_equal(obs.job_done[0], "vm-a");
    obs_release(&obs);
    signals_fill(w->s, "ops/runners", &obs);
    assert_int_equal(obs.n_job_done, 0);
    obs_release(&obs);
    qdone_clear(&d);
    azq_free(q);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_pointer_rfc6901),
        cmocka_unit_test(test_metric_values),
        cmocka_unit_test(test_headers_secret),
        cmocka_unit_test(test_message_names),
        cmocka_unit_test(test_connection_strings),
        cmocka_unit_test(test_shared_key_signature),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_parse_messages),
        cmocka_unit_test(test_http_metric_pointer_and_headers),
        cmocka_unit_test(test_http_errors_keep_then_drop),
        cmocka_unit_test(test_http_bad_documents),
        cmocka_unit_test(test_http_oversize_and_bad_headers_secret),
        cmocka_unit_test(test_http_timeout),
        cmocka_unit_test(test_http_busy_and_job_done),
        cmocka_unit_test(test_sync_reconfigure_and_remove),
        cmocka_unit_test(test_queue_metric_with_aad_token),
        cmocka_unit_test(test_azurite_queue_metric),
        cmocka_unit_test(test_azurite_wrong_key_refused),
        cmocka_unit_test(test_azurite_busy_queue),
    };
    int r = az_run_tests("signals", tests);

    if (g_az_up)
        azurite_stop(&g_az);
    return r;
}
