/*
 * sim_entra.c - Microsoft Entra ID (v2 token endpoint, OpenID configuration, instance discovery)
 * and the IMDS managed-identity token endpoint (plain HTTP vhost).
 *
 * Decisions: any client id with any client_secret / client_assertion / Basic auth is accepted,
 * except client ids put on the deny list with POST /_armsim/auth/deny (then 401 invalid_client
 * AADSTS7000215). The client id becomes the principal of the tokens. IMDS tokens name the
 * principal by its client_id / object_id / msi_res_id query parameter, else "imds-identity".
 * Tokens last 3599 real seconds (AS admin: /_armsim/auth/lifetime sets another lifetime).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "armsim_int.h"

static int64_t token_lifetime_s = 3599;

static void entra_error(struct armsim *sim, struct as_resp *w, int status, const char *err,
                        int code, const char *desc)
{
    char tid[40], cid[40], ts[48];
    as_uuid(sim, tid, sizeof(tid));
    as_uuid(sim, cid, sizeof(cid));
    as_time_format(as_now(sim), ts, sizeof(ts));
    char full[1024];
    snprintf(full, sizeof(full), "AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", code,
             desc, tid, cid, ts);
    as_resp_json(w, status,
                 json_pack("{s:s, s:s, s:[i], s:s, s:s, s:s}", "error", err, "error_description",
                           full, "error_codes", code, "timestamp", ts, "trace_id", tid,
                           "correlation_id", cid));
}

static void h_token(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    const char *tenant = as_param(r, "tenant");
    if (!r->body || r->body_len > 65536) {
        entra_error(sim, w, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: 'grant_type'.");
        return;
    }
    struct as_req f;
    memset(&f, 0, sizeof(f));
    size_t n = r->body_len + 2;
    char *target = malloc(n), *buf = malloc(3 * n + 8);
    if (!target || !buf) {
        free(target);
        free(buf);
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
        return;
    }
    snprintf(target, n, "?%s", r->body);
    if (as_req_parse_target(&f, target, buf, 3 * n + 8) < 0) {
        entra_error(sim, w, 400, "invalid_request", 90014, "The request body is malformed.");
        goto out;
    }
    const char *grant = as_query(&f, "grant_type"), *client = as_query(&f, "client_id");
    const char *secret = as_query(&f, "client_secret"),
               *assertion = as_query(&f, "client_assertion"), *scope = as_query(&f, "scope");
    const char *basic = as_header(r, "authorization");
    if (!grant) {
        entra_error(sim, w, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: 'grant_type'.");
        goto out;
    }
    if (strcmp(grant, "client_credentials") != 0) {
        entra_error(sim, w, 400, "unsupported_grant_type", 70003,
                    "The app requested an unsupported grant type.");
        goto out;
    }
    if (!client || !*client) {
        entra_error(sim, w, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: 'client_id'.");
        goto out;
    }
    if (!scope || !*scope) {
        entra_error(sim, w, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: 'scope'.");
        goto out;
    }
    size_t sl = strlen(scope);
    if (sl < 9 || strcasecmp(scope + sl - 9, "/.default") != 0) {
        char d[512];
        snprintf(d, sizeof(d),
                 "The provided request must include a 'scope' input parameter. The provided value "
                 "for the input parameter 'scope' is not valid. The scope %.200s is not valid.",
                 scope);
        entra_error(sim, w, 400, "invalid_scope", 70011, d);
        goto out;
    }
    if (!(secret && *secret) && !(assertion && *assertion) &&
        !(basic && strncasecmp(basic, "Basic ", 6) == 0)) {
        entra_error(sim, w, 401, "invalid_client", 7000216,
                    "'client_assertion', 'client_secret' or 'request' is required for the "
                    "'client_credentials' grant type.");
        goto out;
    }
    if (assertion && *assertion && strchr(assertion, '.') == NULL) {
        entra_error(sim, w, 400, "invalid_client", 50027, "JWT token is invalid or malformed.");
        goto out;
    }
    if (json_object_get(sim->deny, client)) {
        char d[512];
        snprintf(d, sizeof(d),
                 "Invalid client secret provided. Ensure the secret being sent in the request is "
                 "the client secret value, not the client secret ID, for a secret added to app "
                 "'%.64s'.",
                 client);
        entra_error(sim, w, 401, "invalid_client", 7000215, d);
        goto out;
    }
    char tok[2048], aud[512];
    snprintf(aud, sizeof(aud), "%.*s", (int)(sl - 9), scope);
    if (as__token_make(sim, client, tenant, aud, as__real_ms(sim) / 1000 + token_lifetime_s, tok,
                       sizeof(tok)) < 0) {
        entra_error(sim, w, 400, "invalid_request", 90014, "client_id too long.");
        goto out;
    }
    as_resp_json(w, 200,
                 json_pack("{s:s, s:I, s:I, s:s}", "token_type", "Bearer", "expires_in",
                           (json_int_t)token_lifetime_s, "ext_expires_in",
                           (json_int_t)token_lifetime_s, "access_token", tok));
out:
    free(target);
    free(buf);
}

static void h_openid(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    (void)sim;
    const char *tenant = as_param(r, "tenant");
    char p[512];
    snprintf(p, sizeof(p), "/%s/oauth2/v2.0/token", tenant);
    char *tok = as_url(r, p);
    snprintf(p, sizeof(p), "/%s/oauth2/v2.0/authorize", tenant);
    char *authz = as_url(r, p);
    snprintf(p, sizeof(p), "/%s/v2.0", tenant);
    char *iss = as_url(r, p);
    snprintf(p, sizeof(p), "/%s/discovery/v2.0/keys", tenant);
    char *jwks = as_url(r, p);
    snprintf(p, sizeof(p), "/%s/oauth2/v2.0/devicecode", tenant);
    char *dev = as_url(r, p);
    snprintf(p, sizeof(p), "/%s/oauth2/v2.0/logout", tenant);
    char *logout = as_url(r, p);
    if (tok && authz && iss && jwks && dev && logout)
        as_resp_json(
            w, 200,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[s,s,s], s:[s], s:[s], s:[s,s], "
                      "s:s, s:s}",
                      "token_endpoint", tok, "authorization_endpoint", authz, "issuer", iss,
                      "jwks_uri", jwks, "device_authorization_endpoint", dev,
                      "end_session_endpoint", logout, "token_endpoint_auth_methods_supported",
                      "client_secret_post", "private_key_jwt", "client_secret_basic",
                      "response_types_supported", "code", "id_token_signing_alg_values_supported",
                      "RS256", "scopes_supported", "openid", "offline_access",
                      "tenant_region_scope", "NA", "cloud_instance_name", "microsoftonline.com"));
    else
        as_resp_error(w, 500, "InternalServerError", NULL, "out of memory");
    free(tok);
    free(authz);
    free(iss);
    free(jwks);
    free(dev);
    free(logout);
}

static void h_discovery(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    (void)sim;
    char *ep = as_url(r, "/common/v2.0/.well-known/openid-configuration");
    const char *host = r->host ? r->host : "127.0.0.1";
    as_resp_json(w, 200,
                 json_pack("{s:s, s:s, s:[{s:s, s:s, s:[s]}]}", "tenant_discovery_endpoint",
                           ep ? ep : "", "api-version", "1.1", "metadata", "preferred_network",
                           host, "preferred_cache", host, "aliases", host));
    free(ep);
}

static void h_keys(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    (void)sim;
    (void)r;
    as_resp_json(w, 200, json_pack("{s:[]}", "keys"));
}

static void h_imds_token(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    const char *md = as_header(r, "metadata");
    if (!md || strcasecmp(md, "true") != 0) {
        as_resp_json(w, 400,
                     json_pack("{s:s, s:s}", "error", "invalid_request", "error_description",
                               "Required metadata header not specified"));
        return;
    }
    if (!as_query(r, "api-version")) {
        as_resp_json(w, 400,
                     json_pack("{s:s, s:s}", "error", "invalid_request", "error_description",
                               "Required query variable 'api-version' is missing"));
        return;
    }
    const char *res = as_query(r, "resource");
    if (!res || !*res || strncmp(res, "http", 4) != 0) {
        as_resp_json(w, 400,
                     json_pack("{s:s, s:s}", "error", "invalid_resource", "error_description",
                               "AADSTS500011: The resource principal named was not found in the "
                               "tenant."));
        return;
    }
    const char *who = as_query(r, "client_id");
    if (!who)
        who = as_query(r, "object_id");
    if (!who)
        who = as_query(r, "msi_res_id");
    if (!who || !*who)
        who = "imds-identity";
    int64_t now_s = as__real_ms(sim) / 1000, exp = now_s + token_lifetime_s;
    char tok[2048], s_in[24], s_on[24], s_nb[24];
    if (as__token_make(sim, who, "imds", res, exp, tok, sizeof(tok)) < 0) {
        as_resp_json(w, 400,
                     json_pack("{s:s, s:s}", "error", "invalid_request", "error_description",
                               "identity too long"));
        return;
    }
    snprintf(s_in, sizeof(s_in), "%lld", (long long)token_lifetime_s);
    snprintf(s_on, sizeof(s_on), "%lld", (long long)exp);
    snprintf(s_nb, sizeof(s_nb), "%lld", (long long)now_s);
    as_resp_json(w, 200,
                 json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "access_token", tok,
                           "refresh_token", "", "expires_in", s_in, "expires_on", s_on,
                           "not_before", s_nb, "resource", res, "token_type", "Bearer", "client_id",
                           who));
}

/* POST /_armsim/auth {"deny":["client-id"],"allow":["client-id"],"lifetimeSeconds":N} */
static void h_admin_auth(struct armsim *sim, struct as_req *r, struct as_resp *w)
{
    if (strcmp(r->method, "POST") == 0) {
        if (!json_is_object(r->json)) {
            as_resp_error(w, 400, "InvalidRequestContent", NULL, "body must be a JSON object");
            return;
        }
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(r->json, "deny"), i, v) if (json_is_string(v))
            json_object_set_new(sim->deny, json_string_value(v), json_true());
        json_array_foreach(json_object_get(r->json, "allow"), i, v) if (json_is_string(v))
            json_object_del(sim->deny, json_string_value(v));
        json_t *lt = json_object_get(r->json, "lifetimeSeconds");
        if (json_is_integer(lt) && json_integer_value(lt) > 0 &&
            json_integer_value(lt) < 86400 * 30)
            token_lifetime_s = json_integer_value(lt);
    }
    json_t *deny = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(sim->deny, k, v) json_array_append_new(deny, json_string(k));
    as_resp_json(
        w, 200,
        json_pack("{s:o, s:I}", "deny", deny, "lifetimeSeconds", (json_int_t)token_lifetime_s));
}

void sim_entra_init(struct armsim *sim)
{
    as_route(sim, "POST", "/{tenant}/oauth2/v2.0/token", h_token, 0, NULL, NULL);
    as_route(sim, "GET", "/{tenant}/v2.0/.well-known/openid-configuration", h_openid, 0, NULL,
             NULL);
    as_route(sim, "GET", "/common/discovery/instance", h_discovery, 0, NULL, NULL);
    as_route(sim, "GET", "/{tenant}/discovery/v2.0/keys", h_keys, 0, NULL, NULL);
    as_route(sim, "GET", "/metadata/identity/oauth2/token", h_imds_token, AS_IMDS, NULL, NULL);
    as_route(sim, "*", "/_armsim/auth", h_admin_auth, AS_ADMIN, NULL, NULL);
}
