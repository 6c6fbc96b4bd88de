/*
 * armsim_test_util.h - in-process helpers for the armsim unit tests: a fake real-time clock,
 * a world with that clock, and request helpers that go through armsim_dispatch() exactly as
 * the HTTP server does (routing, auth, api-version, throttling, handlers).
 *
 * Ownership: tx_call() returns a struct tx_resp holding the response body (new json, or NULL)
 * and copies of a few headers; release it with tx_done().
 */
#ifndef AZPOOL_ARMSIM_TEST_UTIL_H
#define AZPOOL_ARMSIM_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../hack/armsim/armsim.h"

static int64_t tx_clock_ms = 1795435200000; /* 2026-11-23T12:00:00Z */

static inline int64_t tx_clock(void *ud)
{
    (void)ud;
    return tx_clock_ms;
}

static inline struct armsim *tx_world(double scale, int64_t provision_ms)
{
    struct as_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.time_scale = scale;
    cfg.seed = 42;
    cfg.page_size = 2;
    cfg.provision_ms = provision_ms;
    struct armsim *sim = armsim_new(&cfg);
    if (sim)
        as_time_set_clock(sim, tx_clock, NULL);
    return sim;
}

struct tx_resp {
    int status;
    json_t *body;
    char hdr[8][2][512];
    int nhdr;
};

static inline const char *tx_hdr(const struct tx_resp *t, const char *name)
{
    for (int i = 0; i < t->nhdr; i++)
        if (strcasecmp(t->hdr[i][0], name) == 0)
            return t->hdr[i][1];
    return NULL;
}

static inline void tx_done(struct tx_resp *t)
{
    json_decref(t->body);
    t->body = NULL;
}

static char tx_token[2048];

/* Sends one request. body may be NULL; token "" sends no Authorization header. */
static inline struct tx_resp tx_call(struct armsim *sim, const char *method, const char *target,
                                     const char *body, const char *token, const char *extra_name,
                                     const char *extra_value)
{
    struct as_req r;
    struct as_resp w;
    struct tx_resp t;
    static char buf[65536];
    char auth[2200];
    memset(&r, 0, sizeof(r));
    memset(&w, 0, sizeof(w));
    memset(&t, 0, sizeof(t));
    if (as_req_parse_target(&r, target, buf, sizeof(buf)) < 0) {
        t.status = -1;
        return t;
    }
    r.method = method;
    r.host = "test.local:8443";
    r.scheme = "https";
    if (token && *token) {
        snprintf(auth, sizeof(auth), "Bearer %s", token);
        r.hdr[r.nhdr].name = "authorization";
        r.hdr[r.nhdr++].value = auth;
    }
    if (extra_name) {
        r.hdr[r.nhdr].name = extra_name;
        r.hdr[r.nhdr++].value = extra_value;
    }
    if (body) {
        r.body = body;
        r.body_len = strlen(body);
        r.json = json_loads(body, 0, NULL);
        r.body_bad_json = r.json == NULL;
    }
    armsim_dispatch(sim, &r, &w);
    json_decref(r.json);
    t.status = w.status;
    t.body = w.json ? json_incref(w.json) : NULL;
    const char *keep[] = {"Azure-AsyncOperation",
                          "Location",
                          "Retry-After",
                          "x-ms-ratelimit-remaining-subscription-reads",
                          "x-ms-ratelimit-remaining-subscription-writes",
                          "x-ms-ratelimit-remaining-resource",
                          "x-ms-request-id",
                          "ETag"};
    for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
        for (int i = 0; i < w.nheaders; i++) {
            if (strcasecmp(w.hname[i], keep[k]) == 0 && t.nhdr < 8) {
                snprintf(t.hdr[t.nhdr][0], sizeof(t.hdr[0][0]), "%s", keep[k]);
                snprintf(t.hdr[t.nhdr][1], sizeof(t.hdr[0][1]), "%s", w.hval[i]);
                t.nhdr++;
            }
        }
    }
    as_resp_release(&w);
    return t;
}

/* A token for client_id through the real token endpoint; copied into tx_token. */
static inline const char *tx_login(struct armsim *sim, const char *client_id)
{
    char form[512];
    snprintf(form, sizeof(form),
             "grant_type=client_credentials&client_id=%s&client_secret=s&scope="
             "https%%3A%%2F%%2Fmanagement.azure.com%%2F.default",
             client_id);
    struct tx_resp t = tx_call(sim, "POST", "/tenant1/oauth2/v2.0/token", form, "", NULL, NULL);
    const char *tok = json_string_value(json_object_get(t.body, "access_token"));
    snprintf(tx_token, sizeof(tx_token), "%s", tok ? tok : "");
    tx_done(&t);
    return tx_token;
}

static inline const char *tx_errcode(const struct tx_resp *t)
{
    return json_string_value(json_object_get(json_object_get(t->body, "error"), "code"));
}

/* Strips "https://host" from an absolute URL. */
static inline const char *tx_path(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : url;
    return p ? p : url;
}

#define TX_SUB "/subscriptions/00000000-0000-0000-0000-000000000001"
#define TX_RG  TX_SUB "/resourceGroups/rg1"
#define TX_C   TX_RG "/providers/Microsoft.Compute"
#define TX_API "?api-version=2024-11-01"

#define TX_VMSS_BODY                                                                               \
    "{\"location\":\"westus\",\"sku\":{\"name\":\"Standard_D2s_v3\",\"capacity\":%d},"             \
    "\"properties\":{\"orchestrationMode\":\"Uniform\",\"overprovision\":false,"                   \
    "\"upgradePolicy\":{\"mode\":\"Manual\"},\"virtualMachineProfile\":{\"storageProfile\":"       \
    "{\"imageReference\":{\"id\":\"/img/versions/%s\"}},\"osProfile\":{\"computerNamePrefix\":"    \
    "\"pool\",\"adminUsername\":\"u\"}}}}"

#endif
