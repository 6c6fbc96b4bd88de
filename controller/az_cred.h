/*
 * az_cred.h - Azure credentials: the standard environment chain and a token cache.
 *
 * Chain (DESIGN.md §10, shared/reference/azure-arm.md §1):
 *   1. AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET: client secret.
 *   2. AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_FEDERATED_TOKEN_FILE: workload
 *      identity; the file is read again on every token request (kubelet rotates it).
 *   3. Otherwise managed identity through IMDS (optionally AZURE_CLIENT_ID for a
 *      user-assigned identity).
 * AZURE_AUTHORITY_HOST overrides the cloud's authority host; host and tenant are
 * joined without producing "//".
 *
 * One token per struct az_cred (one scope). It is refreshed 5 minutes before it
 * expires (or at half its lifetime when shorter); concurrent callers wait on a
 * single fetch. Expiry is computed from the time the token was received, on the
 * loop's monotonic clock.
 *
 * Secrets: the client secret and tokens live only in this module's memory and
 * in request headers; they are never logged or copied into errors.
 *
 * Call contract as in az.h: az_cred_token() returning an error means the
 * callback never runs; otherwise it runs exactly once, from the loop.
 */
#ifndef AZPOOL_AZ_CRED_H
#define AZPOOL_AZ_CRED_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "http.h"
#include "rc_err.h"

enum az_cred_kind { AZ_CRED_SECRET = 0, AZ_CRED_FEDERATED, AZ_CRED_IMDS };

struct az_cred_config {
    enum az_cred_kind kind;
    const char *tenant_id;
    const char *client_id;            /* optional for IMDS */
    const char *client_secret;        /* AZ_CRED_SECRET */
    const char *federated_token_file; /* AZ_CRED_FEDERATED */
    const char *authority_host;       /* "https://login.microsoftonline.com" */
    const char *imds_endpoint;        /* "http://169.254.169.254" */
    const char *scope;                /* "https://management.azure.com/.default" */
};

/* Fills cfg from the environment per the chain above; strings are borrowed
 * from the environment. authority_host/imds/scope get the given defaults when
 * unset in the environment. */
void az_cred_config_from_env(struct az_cred_config *cfg, const char *default_authority,
                             const char *default_imds, const char *scope);

struct az_cred;

/* Copies cfg. NULL on allocation failure. h and loop are borrowed. */
struct az_cred *az_cred_new(uv_loop_t *loop, struct http *h, const struct az_cred_config *cfg);
void az_cred_free(struct az_cred *c); /* NULL is fine; pending callers get an error */

typedef void (*az_token_cb)(void *arg, const char *token, const struct rc_err *err);

/* Gets a valid token (from the cache or by fetching one). */
int az_cred_token(struct az_cred *c, az_token_cb cb, void *arg, struct rc_err *err);
/* The cached token if it is still valid now, else NULL (no fetch). */
const char *az_cred_cached(struct az_cred *c);
/* Drops the cached token (after a 401). */
void az_cred_invalidate(struct az_cred *c);
/* "client-secret", "federated", "managed-identity" (for logs). */
const char *az_cred_kind_name(enum az_cred_kind kind);

#endif
