/*
 * support_kubesim.h - runs a real kubesim (hack/kubesim) for unit tests.
 *
 * The binary is $KUBESIM, else <dir of the test binary>/../kubesim (the test
 * lives in $BUILD/tests/). ksim_start() picks a free port and a fresh temporary
 * directory, starts kubesim there and waits for its "listening" line;
 * ksim_stop() sends SIGTERM, reaps it and removes the directory. ksim_http()
 * is a small blocking client (libcurl easy) for setup and admin requests, so
 * tests need not drive their loop for them.
 *
 * Ownership: struct ksim is the caller's; everything in it is inline.
 */
#ifndef AZPOOL_SUPPORT_KUBESIM_H
#define AZPOOL_SUPPORT_KUBESIM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ksim {
    pid_t pid;
    int port;
    bool tls;
    char dir[256];
    char kubeconfig[300];
    char ca_file[300];
    char base[64]; /* http(s)://127.0.0.1:PORT */
    const char *const *extra;
};

/* extra: NULL-terminated extra arguments (may be NULL). Returns 0 or -1. */
int ksim_start(struct ksim *s, const char *const *extra);
void ksim_stop(struct ksim *s);
/* Stops kubesim (SIGTERM: with --state it saves) and starts it again on the
 * same port and directory with the same arguments. Returns 0 or -1. */
int ksim_restart(struct ksim *s);
/* SIGTERM and reap, keeping the directory (ksim_restart or ksim_stop later). */
void ksim_kill(struct ksim *s);
/* Blocking request; returns the HTTP status (0 on transport failure) and the
 * body (NUL-terminated, cut to size) in out (may be NULL). token may be NULL. */
long ksim_http(const struct ksim *s, const char *method, const char *path, const char *content_type,
               const char *body, char *out, size_t size);
/* Creates the CRDs of crds/{workerpools,imageversions,expirypolicies}.yaml (relative to the working
 * directory, or $AZPOOL_ROOT). Returns 0 or -1. */
int ksim_apply_crds(const struct ksim *s);
/* Creates a namespace (200/201/409 all count as success). */
int ksim_namespace(const struct ksim *s, const char *ns);

#endif
