/*
 * azq.h - Azure Storage Queue data-plane client (shared/reference/azure-arm.md §9):
 * approximate message count, peek, get, delete, put, create - for the autoscale
 * and busy signals (signals.h) and the Event Grid events queue (evq.h).
 *
 * Authentication, chosen per queue when it is made (azq_new):
 *   1. a SAS: the account URL (or the queue URL) carries a query string, or the
 *      connection string has SharedAccessSignature=...; it is appended to every
 *      request;
 *   2. Shared Key: the connection string has AccountName and AccountKey; every
 *      request is signed (HMAC-SHA256 with OpenSSL) with x-ms-date and
 *      x-ms-version. CanonicalizedResource is "/" + account + URL path, so a
 *      path-style emulator URL (Azurite: http://127.0.0.1:10001/devstoreaccount1)
 *      names the account twice, as Azurite expects;
 *   3. otherwise an AAD bearer token from the struct az_cred given to azq_new
 *      (scope https://storage.azure.com/.default; NULL cred: azq_new fails).
 * x-ms-version is AZQ_VERSION (2021-08-06: known to Azurite 3.x and to Azure,
 * >= 2017-11-09 as OAuth needs).
 *
 * Connection strings (azq_conn_parse): "Key=Value;" pairs, keys matched without
 * case, unknown keys ignored, values split at the first '=' (keys end in "==").
 * Recognised: AccountName, AccountKey, QueueEndpoint, DefaultEndpointsProtocol,
 * EndpointSuffix, SharedAccessSignature, UseDevelopmentStorage=true (Azurite's
 * well-known devstoreaccount1 account on http://127.0.0.1:10001). At most
 * AZQ_CONN_MAX bytes.
 *
 * Message texts: azq_put sends the text XML-escaped as is (no base64); what
 * reads return is the XML-unescaped MessageText; decoding base64 is up to the
 * caller (azq_b64_decode).
 *
 * Limits: responses over AZQ_BODY_MAX bytes are errors; at most AZQ_MSGS_MAX
 * messages per response (Azure's numofmessages limit is 32).
 *
 * Secrets: the account key and SAS live in the struct azq and in request
 * headers/URLs only; errors and logs get the URL without its query string
 * (azq_url_for_log). azq_free() wipes them.
 *
 * Call contract (as http.h): an error return means the callback never runs;
 * otherwise it runs exactly once, from the loop. A struct azq may be freed
 * while its requests are in flight: each request owns copies of what it needs
 * (the struct http and struct az_cred must stay alive until they finish).
 */
#ifndef AZPOOL_AZQ_H
#define AZPOOL_AZQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "az_cred.h"
#include "http.h"
#include "rc_err.h"

#define AZQ_VERSION      "2021-08-06"
#define AZQ_SCOPE        "https://storage.azure.com/.default"
#define AZQ_CONN_MAX     4096
#define AZQ_URL_MAX      1024
#define AZQ_ACCOUNT_MAX  64
#define AZQ_KEY_MAX      128 /* decoded account key bytes (Azure: 64) */
#define AZQ_SAS_MAX      2048
#define AZQ_BODY_MAX     (1024 * 1024)
#define AZQ_MSGS_MAX     32
#define AZQ_MSG_TEXT_MAX (64 * 1024)

/* Azurite's well-known development account. */
#define AZQ_DEV_ACCOUNT "devstoreaccount1"
#define AZQ_DEV_KEY                                                                                \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define AZQ_DEV_QUEUE_ENDPOINT "http://127.0.0.1:10001/devstoreaccount1"

/* A parsed connection string. Holds secrets: wipe with azq_conn_wipe(). */
struct azq_conn {
    char account[AZQ_ACCOUNT_MAX];    /* "" when absent */
    unsigned char key[AZQ_KEY_MAX];   /* decoded AccountKey */
    size_t key_len;                   /* 0 when absent */
    char queue_endpoint[AZQ_URL_MAX]; /* QueueEndpoint or derived; "" when unknown */
    char sas[AZQ_SAS_MAX];            /* without a leading '?'; "" when absent */
};

/* Parses text into *ret. -RC_EINVAL (malformed, a bad AccountKey, neither a
 * key nor a SAS) or -RC_ELIMIT. The error message never quotes a value. */
int azq_conn_parse(const char *text, struct azq_conn *ret, struct rc_err *err);
void azq_conn_wipe(struct azq_conn *c);

/* Strict base64 (RFC 4648 alphabet, padding required, no whitespace) into out.
 * Returns 0 or -RC_EINVAL (not base64, or it does not fit size). */
int azq_b64_decode(const char *in, size_t len, unsigned char *out, size_t size, size_t *ret_len);
/* Base64 of len bytes into buf (size >= 4 * ((len + 2) / 3) + 1). -RC_ELIMIT when short. */
int azq_b64_encode(const unsigned char *in, size_t len, char *buf, size_t size);

/*
 * The Shared Key StringToSign for a request without x-ms headers other than
 * x-ms-date and x-ms-version (the only ones this client sends): path is the
 * URL path ("/devstoreaccount1/q/messages"), query the raw query string
 * without '?' (percent-encoded; "" for none). Parameters are sorted by
 * lowercase name and their values percent-decoded; repeated names are
 * comma-joined. content_length is "" for an empty body. Returns 0 or
 * -RC_ELIMIT (buf too small) / -RC_EINVAL (bad percent-encoding).
 */
int azq_string_to_sign(const char *method, const char *account, const char *path, const char *query,
                       const char *content_length, const char *content_type, const char *date,
                       const char *version, char *buf, size_t size);
/* "SharedKey account:base64(HMAC-SHA256(key, sts))" into buf. */
int azq_sign(const char *account, const unsigned char *key, size_t key_len, const char *sts,
             char *buf, size_t size);

/* A queue message from get or peek (pop_receipt NULL for peek). */
struct azq_msg {
    char *id;
    char *pop_receipt;
    char *text; /* MessageText, XML-unescaped */
    int64_t dequeue_count;
};

/* Parses a QueueMessagesList XML body. *ret (new, free with azq_msgs_free) may
 * be NULL when there are none. -RC_EPROTO on malformed XML, -RC_ELIMIT past
 * AZQ_MSGS_MAX messages or AZQ_MSG_TEXT_MAX bytes of text. */
int azq_parse_messages(const char *xml, size_t len, struct azq_msg **ret, size_t *ret_n,
                       struct rc_err *err);
void azq_msgs_free(struct azq_msg *m, size_t n);

struct azq;

/* Result of a request. resp is the raw HTTP response (NULL when none arrived,
 * e.g. the token fetch failed). err.code is 0 on success (2xx), else the class
 * says what to do: 404 not found, 403/401 terminal, others transient. */
struct azq_result {
    const struct http_response *resp;
    long status;
    struct rc_err err;
    int64_t count;        /* azq_count: x-ms-approximate-messages-count, -1 otherwise */
    struct azq_msg *msgs; /* azq_peek / azq_get; borrowed for the callback */
    size_t n_msgs;
};

typedef void (*azq_done_cb)(void *arg, const struct azq_result *res);

/*
 * A queue: account_url ("https://acct.queue.core.windows.net" or a path-style
 * emulator URL, optionally with a SAS query) plus queue name; conn is a
 * connection string or NULL. When account_url is NULL the connection string's
 * QueueEndpoint is used. h and cred (may be NULL) are borrowed. NULL on error.
 */
struct azq *azq_new(struct http *h, struct az_cred *cred, const char *account_url,
                    const char *queue, const char *conn, struct rc_err *err);
/* From a full queue URL ("{account url}/{queue}[?sas]"). */
struct azq *azq_new_url(struct http *h, struct az_cred *cred, const char *queue_url,
                        const char *conn, struct rc_err *err);
void azq_free(struct azq *q); /* NULL is fine; wipes the key */

/* Total time limit of this queue's requests (0: the struct http's). */
void azq_set_timeout(struct azq *q, long timeout_ms);

/* The queue URL without any query string (safe to log). */
const char *azq_url_for_log(const struct azq *q);
/* The queue name. */
const char *azq_name(const struct azq *q);

int azq_count(struct azq *q, azq_done_cb cb, void *arg, struct rc_err *err);
int azq_peek(struct azq *q, int n, azq_done_cb cb, void *arg, struct rc_err *err);
int azq_get(struct azq *q, int n, int visibility_s, azq_done_cb cb, void *arg, struct rc_err *err);
int azq_delete(struct azq *q, const char *id, const char *pop_receipt, azq_done_cb cb, void *arg,
               struct rc_err *err);
/* Puts a message (text as is, XML-escaped on the wire; ttl_s -1: never expires). */
int azq_put(struct azq *q, const char *text, int64_t ttl_s, azq_done_cb cb, void *arg,
            struct rc_err *err);
/* Creates the queue (201 created, 204 already there: both success). */
int azq_create(struct azq *q, azq_done_cb cb, void *arg, struct rc_err *err);

#endif
