/*
 * rc_err.h - errors of the pure core.
 *
 * A function that can fail returns 0 or a negative RC_E* code and, when given a
 * struct rc_err, fills it: code, class, position in the source file, field path
 * and a human message. The caller owns the struct (usually on its stack).
 *
 * Validation collects many errors into a struct rc_errs (a growable list that
 * the caller releases with rc_errs_release). Each entry formats as
 *     FILE:LINE:COL: PATH: MESSAGE
 * e.g. pools/a.yaml:12:5: spec.rollout.maxSurge: must be an integer or a
 * percentage such as "25%". Line and column are 1-based; 0 means unknown and
 * the position is then left out of the formatted line.
 *
 * Classes drive decisions (DESIGN.md §9): transient (retry with backoff),
 * terminal (Degraded/Stalled, stop), not-found (idempotency rules). Decisions
 * never depend on message text.
 */
#ifndef AZPOOL_RC_ERR_H
#define AZPOOL_RC_ERR_H

#include <stddef.h>

enum {
    RC_OK = 0,
    RC_EINVAL = 1,     /* invalid input (manifest, observed state) */
    RC_ENOMEM = 2,     /* allocation failed */
    RC_ELIMIT = 3,     /* an input limit was exceeded */
    RC_EPROTO = 4,     /* malformed data from a peer (ARM JSON, YAML syntax) */
    RC_ENOTFOUND = 5,  /* a referenced object does not exist */
    RC_ECONFLICT = 6,  /* state that cannot be reconciled without a human */
    RC_EIO = 7,        /* I/O error (outside the core only) */
    RC_ETRANSIENT = 8, /* try again later (outside the core: 5xx, 429, resets) */
};

enum rc_err_class {
    RC_CLASS_TERMINAL = 0,
    RC_CLASS_TRANSIENT = 1,
    RC_CLASS_NOTFOUND = 2,
};

#define RC_ERR_FILE_MAX 256
#define RC_ERR_PATH_MAX 160
#define RC_ERR_MSG_MAX  320

struct rc_err {
    int code; /* -RC_E*, 0 when unset */
    enum rc_err_class klass;
    int http_status; /* 0 when not from HTTP */
    int line, col;   /* 1-based position in file, 0 when unknown */
    char file[RC_ERR_FILE_MAX];
    char path[RC_ERR_PATH_MAX]; /* field path, "spec.rollout.maxSurge"; "" when none */
    char msg[RC_ERR_MSG_MAX];
};

/* Sets *err (when err is not NULL) and returns code, so callers can
 * `return rc_err_set(err, -RC_EINVAL, "spec.replicas", "must be >= 0");`.
 * Position and file are left as they were; set them with rc_err_at(). */
int rc_err_set(struct rc_err *err, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sets the position of err (file may be NULL to keep it). */
void rc_err_at(struct rc_err *err, const char *file, int line, int col);

/* The class of a code: ENOTFOUND -> NOTFOUND, ETRANSIENT/ENOMEM/EIO -> TRANSIENT,
 * everything else TERMINAL. */
enum rc_err_class rc_err_class_of(int code);

/* Formats "FILE:LINE:COL: PATH: MSG" (parts that are unset are left out) into
 * buf. Returns the length that was needed, like snprintf. */
int rc_err_format(const struct rc_err *err, char *buf, size_t size);

/* A list of errors; zero-initialise it ({0}) before use. */
struct rc_errs {
    struct rc_err *v;
    size_t n, cap;
    size_t dropped; /* errors not stored because of RC_ERRS_MAX */
};

#define RC_ERRS_MAX 1000

/* Appends a copy of *e. Returns 0, or -RC_ENOMEM (the error is then counted in
 * dropped). */
int rc_errs_push(struct rc_errs *errs, const struct rc_err *e);
/* Appends a new error built from its parts. */
int rc_errs_add(struct rc_errs *errs, const char *file, int line, int col, const char *path,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Sorts by file, line, col, path (stable for equal keys). */
void rc_errs_sort(struct rc_errs *errs);
void rc_errs_release(struct rc_errs *errs);

#endif
