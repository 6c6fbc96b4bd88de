/* rc_err.c - see rc_err.h. */
#include "rc_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n;

    if (!src)
        return;
    n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

enum rc_err_class rc_err_class_of(int code)
{
    if (code < 0)
        code = -code;
    switch (code) {
    case RC_ENOTFOUND:
        return RC_CLASS_NOTFOUND;
    case RC_ETRANSIENT:
    case RC_ENOMEM:
    case RC_EIO:
        return RC_CLASS_TRANSIENT;
    default:
        return RC_CLASS_TERMINAL;
    }
}

static void err_vset(struct rc_err *err, int code, const char *path, const char *fmt, va_list ap)
{
    err->code = code;
    err->klass = rc_err_class_of(code);
    err->path[0] = '\0';
    copy_str(err->path, sizeof(err->path), path);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int rc_err_set(struct rc_err *err, int code, const char *path, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return code;
    va_start(ap, fmt);
    err_vset(err, code, path, fmt, ap);
    va_end(ap);
    return code;
}

void rc_err_at(struct rc_err *err, const char *file, int line, int col)
{
    if (!err)
        return;
    if (file)
        copy_str(err->file, sizeof(err->file), file);
    err->line = line;
    err->col = col;
}

int rc_err_format(const struct rc_err *err, char *buf, size_t size)
{
    char pos[RC_ERR_FILE_MAX + 32] = "";
    const char *sep = err->path[0] ? ": " : "";

    if (err->file[0] && err->line > 0)
        snprintf(pos, sizeof(pos), "%s:%d:%d: ", err->file, err->line, err->col);
    else if (err->file[0])
        snprintf(pos, sizeof(pos), "%s: ", err->file);
    return snprintf(buf, size, "%s%s%s%s", pos, err->path, sep, err->msg);
}

int rc_errs_push(struct rc_errs *errs, const struct rc_err *e)
{
    if (errs->n >= RC_ERRS_MAX) {
        errs->dropped++;
        return -RC_ELIMIT;
    }
    if (errs->n == errs->cap) {
        size_t cap = errs->cap ? errs->cap * 2 : 8;
        struct rc_err *v = realloc(errs->v, cap * sizeof(*v));

        if (!v) {
            errs->dropped++;
            return -RC_ENOMEM;
        }
        errs->v = v;
        errs->cap = cap;
    }
    errs->v[errs->n++] = *e;
    return 0;
}

int rc_errs_add(struct rc_errs *errs, const char *file, int line, int col, const char *path,
                const char *fmt, ...)
{
    struct rc_err e;
    va_list ap;

    memset(&e, 0, sizeof(e));
    va_start(ap, fmt);
    err_vset(&e, -RC_EINVAL, path, fmt, ap);
    va_end(ap);
    rc_err_at(&e, file, line, col);
    return rc_errs_push(errs, &e);
}

static int err_cmp(const void *a, const void *b)
{
    const struct rc_err *x = a, *y = b;
    int c = strcmp(x->file, y->file);

    if (c)
        return c;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    c = strcmp(x->path, y->path);
    if (c)
        return c;
    return strcmp(x->msg, y->msg);
}

void rc_errs_sort(struct rc_errs *errs)
{
    if (errs->n > 1)
        qsort(errs->v, errs->n, sizeof(errs->v[0]), err_cmp);
}

void rc_errs_release(struct rc_errs *errs)
{
    free(errs->v);
    errs->v = NULL;
    errs->n = errs->cap = 0;
    errs->dropped = 0;
}
