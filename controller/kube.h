/*
 * kube.h - a Kubernetes REST client on the controller's libuv loop (kube-api.md).
 *
 * Configuration (struct kube_config) comes from a kubeconfig (kube_config_parse
 * on text, no I/O; kube_config_load reads files) or from the in-cluster service
 * account (kube_config_incluster). kube_config_auto picks, in
 * controller-runtime's order: an explicit path, else $KUBECONFIG (a ':'-list,
 * merged first-wins like client-go), else KUBERNETES_SERVICE_HOST (in-cluster;
 * not with an explicit context), else ~/.kube/config.
 *
 * Kubeconfig support: current-context or an explicit context; cluster server,
 * certificate-authority(-data), insecure-skip-tls-verify; user token,
 * tokenFile, client-certificate(-data), client-key(-data); the context's
 * namespace. Relative file paths resolve against the directory of the
 * kubeconfig that names them. -data fields are base64 PEM and go to curl as
 * blobs (no temporary files). Not supported, a configuration error when the
 * selected user needs them: exec plugins, auth-provider, username/password.
 * DECISION: insecure-skip-tls-verify: true is refused for https servers
 * (DESIGN.md §4 rule 8: verification is always on; give the CA instead).
 *
 * Tokens: a token file (tokenFile, or the service account's token, which
 * kubelet rotates) is re-read when older than KUBE_TOKEN_REREAD_MS and after a
 * 401 (the request is then retried once). A token is never logged.
 *
 * Requests (kube_request): path is the request target ("/apis/...?..."); the
 * body is JSON (or what content_type says). The callback gets the HTTP status,
 * the parsed JSON body (or NULL), and for errors the Status reason/message and
 * an rc_err classified by status: 404 -> -RC_ENOTFOUND, 409 -> -RC_ECONFLICT
 * (Conflict and AlreadyExists; tell them apart by reason), 0/408/429/5xx ->
 * -RC_ETRANSIENT, 410 -> -RC_EPROTO with reason "Expired"/"Gone", other 4xx ->
 * -RC_EINVAL. 429 and 5xx that carry Retry-After are retried after it (capped
 * at KUBE_RETRY_AFTER_MAX_S) up to KUBE_RETRIES_MAX times, as client-go does.
 * Every request has a total timeout (kube_new's timeout_ms, default 30 s).
 *
 * Watches (kube_watch): a GET with watch=1 whose body is newline-delimited JSON
 * events; each complete line is parsed and delivered as (type, object) while
 * the stream runs. Lines longer than KUBE_LINE_MAX end the stream with
 * -RC_ELIMIT, a line that is not a JSON event with -RC_EPROTO. The stream's
 * total timeout is timeoutSeconds + KUBE_WATCH_SLACK_S (TCP keepalive on), so a
 * silent dead peer is noticed. ERROR events are delivered like the others
 * (the object is the Status); the caller decides (kinformer relists on 410).
 *
 * Call contract (the seam, DESIGN.md §3): an error return means the callback
 * never runs; otherwise the request callback runs exactly once and a watch's
 * end callback runs exactly once (unless kube_watch_stop was called), always
 * from the loop, never from inside kube_request/kube_watch. kube_free()
 * completes what is pending with status 0 and "cancelled" (synchronously).
 *
 * Ownership: the client copies its configuration and every argument. Objects
 * passed to callbacks are borrowed for the duration of the callback (take a
 * reference with json_incref to keep one). loop is borrowed. Not thread-safe.
 */
#ifndef AZPOOL_KUBE_H
#define AZPOOL_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "rc_err.h"

#define KUBE_CONFIG_MAX        (1024 * 1024) /* a kubeconfig file */
#define KUBE_CONFIG_FILES_MAX  16            /* entries of a $KUBECONFIG list */
#define KUBE_PEM_MAX           (256 * 1024)  /* a CA bundle, certificate or key */
#define KUBE_TOKEN_MAX         16384
#define KUBE_TOKEN_REREAD_MS   60000
#define KUBE_LINE_MAX          (4u << 20) /* one watch event */
#define KUBE_RETRIES_MAX       5
#define KUBE_RETRY_AFTER_MAX_S 60
#define KUBE_WATCH_SLACK_S     30
#define KUBE_SA_DIR            "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config {
    char *server;    /* "https://host:port" (no trailing slash) */
    char *namespace; /* the context's (or service account's) namespace; "default" when none */
    char *context;   /* name of the context used, NULL in-cluster */
    char *ca_file;   /* certificate-authority (absolute path), or NULL */
    char *ca_pem;    /* decoded certificate-authority-data, or NULL */
    size_t ca_pem_len;
    char *cert_file; /* client-certificate */
    char *cert_pem;  /* decoded client-certificate-data */
    size_t cert_pem_len;
    char *key_file; /* client-key */
    char *key_pem;  /* decoded client-key-data */
    size_t key_pem_len;
    char *token;      /* static bearer token (secret) */
    char *token_file; /* re-read periodically (tokenFile, service account) */
};

/* Parses kubeconfig texts (n of them, merged first-wins: the first text that
 * defines a name or current-context wins). dirs[i] (may be NULL) resolves
 * relative paths of texts[i]. context NULL: current-context. Returns 0, or
 * -RC_EINVAL/-RC_EPROTO/-RC_ELIMIT/-RC_ENOMEM with err set; *ret is zeroed
 * first and released on failure. No I/O. */
int kube_config_parse(const char *const *texts, const size_t *lens, const char *const *dirs,
                      size_t n, const char *context, struct kube_config *ret, struct rc_err *err);
/* Reads path, which may be a ':'-separated list (missing files in a list are
 * skipped, as client-go does; a single missing file is an error). */
int kube_config_load(const char *path, const char *context, struct kube_config *ret,
                     struct rc_err *err);
/* In-cluster: host and port from the environment (KUBERNETES_SERVICE_HOST,
 * KUBERNETES_SERVICE_PORT), CA, token file and namespace from sa_dir (NULL:
 * KUBE_SA_DIR). */
int kube_config_incluster(const char *sa_dir, struct kube_config *ret, struct rc_err *err);
/* The usual order (see the header comment). kubeconfig, context, sa_dir may be
 * NULL. */
int kube_config_auto(const char *kubeconfig, const char *context, const char *sa_dir,
                     struct kube_config *ret, struct rc_err *err);
void kube_config_release(struct kube_config *c); /* leaves it zeroed; NULL is fine */

/* ---- the client ---- */

struct kube;

struct kube_response {
    long status;         /* HTTP status, 0 when no response arrived */
    const json_t *body;  /* parsed JSON body (borrowed) or NULL */
    const char *reason;  /* Status.reason of an error ("NotFound", "Conflict", ...), "" */
    const char *message; /* Status.message or the transport error, "" on success */
    struct rc_err err;   /* code 0 on 2xx; else classified as in the header comment */
};

typedef void (*kube_cb)(void *arg, const struct kube_response *resp);

/* cfg is copied. timeout_ms <= 0: 30 s. NULL with err set on failure. */
struct kube *kube_new(uv_loop_t *loop, const struct kube_config *cfg, long timeout_ms,
                      struct rc_err *err);
void kube_free(struct kube *k); /* NULL is fine; run the loop afterwards to close handles */
const char *kube_namespace(const struct kube *k); /* the configuration's namespace */
const char *kube_server(const struct kube *k);
uv_loop_t *kube_loop(const struct kube *k);

/* method "GET", "POST", "PUT", "PATCH", "DELETE"; path starts with '/';
 * content_type NULL: "application/json" when there is a body; body NULL: none
 * (NUL-terminated). Returns 0 or a negative RC_E* code (callback never runs). */
int kube_request(struct kube *k, const char *method, const char *path, const char *content_type,
                 const char *body, kube_cb cb, void *arg);
/* The same with a JSON body (serialised compactly; borrowed). */
int kube_request_json(struct kube *k, const char *method, const char *path,
                      const char *content_type, const json_t *body, kube_cb cb, void *arg);

/* ---- watches ---- */

struct kube_watch;

struct kube_watch_opts {
    const char *resource_version; /* NULL or "": from now, with synthetic ADDED events */
    const char *label_selector;   /* NULL: none */
    const char *field_selector;
    int timeout_s;  /* timeoutSeconds; 0: none (the stream timeout is then 30 min) */
    bool bookmarks; /* allowWatchBookmarks=true */
};

/* type: "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"; object borrowed.
 * The callback may call kube_watch_stop() on its own watch. */
typedef void (*kube_event_cb)(void *arg, const char *type, const json_t *object);
/* The stream ended: status 200 and err.code 0 for a clean end (timeoutSeconds,
 * the server closed it); else the error (an HTTP error status with its Status
 * reason, or status 0 and a transport/limit/protocol error). */
typedef void (*kube_watch_end_cb)(void *arg, const struct kube_response *resp);

/* path: the collection ("/apis/g/v/namespaces/ns/plural" or "/apis/g/v/plural")
 * without a query. *ret_w (may be NULL) is valid until on_end has run or
 * kube_watch_stop() was called. */
int kube_watch(struct kube *k, const char *path, const struct kube_watch_opts *o,
               kube_event_cb on_event, kube_watch_end_cb on_end, void *arg,
               struct kube_watch **ret_w);
/* Ends the watch; no callback of it runs afterwards. NULL is fine. */
void kube_watch_stop(struct kube_watch *w);

/* ---- helpers ---- */

/* Percent-encodes s for a query value or path segment (unreserved characters
 * kept). Returns the length needed (like snprintf). */
size_t kube_escape(const char *s, char *buf, size_t size);
/* Appends "&name=<value percent-escaped>" at buf+*len (advanced). -RC_ELIMIT
 * when it does not fit (buf is then unchanged at *len). */
int kube_append_param(char *buf, size_t size, size_t *len, const char *name, const char *value);

/* Decodes standard or URL-safe base64 (whitespace ignored, padding optional)
 * into a new NUL-terminated buffer. Returns 0, -RC_EINVAL or -RC_ENOMEM. */
int kube_base64_decode(const char *s, char **ret, size_t *ret_len);

struct kube_stats {
    uint64_t requests;      /* HTTP requests sent, including retries and watches */
    uint64_t retries;       /* after Retry-After or a 401 */
    uint64_t token_reads;   /* token file reads */
    uint64_t watch_events;  /* events delivered */
    uint64_t watches_ended; /* streams that ended (any reason) */
};
const struct kube_stats *kube_stats(const struct kube *k);

#endif
