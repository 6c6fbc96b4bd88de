/* ctl_source.c - see ctl_source.h. */
#include "ctl_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rc_util.h"

#define CTL_LINK_DEPTH 32

struct file_list {
    char **v;
    size_t n, cap;
};

static int list_push(struct file_list *l, const char *path, struct rc_err *err)
{
    char *copy;

    if (l->n >= CTL_FILES_MAX)
        return rc_err_set(err, -RC_ELIMIT, "", "more than %d manifest files", CTL_FILES_MAX);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, cap * sizeof(*v));

        if (!v)
            return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        l->v = v;
        l->cap = cap;
    }
    copy = strdup(path);
    if (!copy)
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    l->v[l->n++] = copy;
    return 0;
}

static int has_yaml_suffix(const char *name)
{
    size_t n = strlen(name);

    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks dir; depth counts directory levels to stop symlink loops. */
static int walk(const char *dir, int depth, struct file_list *out, struct rc_err *err)
{
    DIR *d;
    struct dirent *de;
    int r = 0;

    if (depth > CTL_LINK_DEPTH)
        return rc_err_set(err, -RC_ELIMIT, "", "%s: directories nested deeper than %d (a loop?)",
                          dir, CTL_LINK_DEPTH);
    d = opendir(dir);
    if (!d)
        return rc_err_set(err, -RC_EIO, "", "%s: %s", dir, strerror(errno));
    while (r == 0 && (de = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        int n;

        if (de->d_name[0] == '.')
            continue;
        n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            r = rc_err_set(err, -RC_ELIMIT, "", "%s/%s: path too long", dir, de->d_name);
            break;
        }
        if (stat(path, &st) != 0)
            continue; /* dangling link or vanished during a checkout: not a manifest */
        if (S_ISDIR(st.st_mode))
            r = walk(path, depth + 1, out, err);
        else if (S_ISREG(st.st_mode) && has_yaml_suffix(de->d_name))
            r = list_push(out, path, err);
    }
    closedir(d);
    return r;
}

void ctl_files_free(char **files, size_t n)
{
    if (!files)
        return;
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
}

int ctl_list_manifests(const char *path, char ***ret_files, size_t *ret_n, struct rc_err *err)
{
    struct file_list l = {0};
    struct stat st;
    int r;

    if (stat(path, &st) != 0)
        return rc_err_set(err, -RC_EIO, "", "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        r = walk(path, 0, &l, err);
        if (r == 0 && l.n > 1)
            qsort(l.v, l.n, sizeof(l.v[0]), cmp_str);
    } else {
        r = list_push(&l, path, err);
    }
    if (r < 0) {
        ctl_files_free(l.v, l.n);
        return r;
    }
    *ret_files = l.v;
    *ret_n = l.n;
    return 0;
}

int ctl_read_file(const char *file, long max, char **ret_buf, size_t *ret_len, struct rc_err *err)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int fd, r;

    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rc_err_set(err, -RC_EIO, "", "%s: %s", file, strerror(errno));
    if (fstat(fd, &st) != 0) {
        r = rc_err_set(err, -RC_EIO, "", "%s: %s", file, strerror(errno));
        goto out;
    }
    if (st.st_size > max) {
        r = rc_err_set(err, -RC_ELIMIT, "", "%s: file is larger than %ld bytes", file, max);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        r = rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        goto out;
    }
    /* Read until EOF: the file may have grown since fstat (stay within max). */
    for (;;) {
        size_t room = (size_t)st.st_size - len;
        ssize_t got;

        if (room == 0)
            break;
        got = read(fd, buf + len, room);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            r = rc_err_set(err, -RC_EIO, "", "%s: %s", file, strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    buf[len] = '\0';
    *ret_buf = buf;
    *ret_len = len;
    buf = NULL;
    r = 0;
out:
    free(buf);
    close(fd);
    return r;
}

int ctl_load_manifests(char *const *paths, size_t n_paths, struct rc_desired *want,
                       struct rc_errs *errs, struct rc_errs *notices)
{
    size_t before = errs->n + errs->dropped;

    for (size_t p = 0; p < n_paths; p++) {
        struct rc_err err = {0};
        char **files = NULL;
        size_t n_files = 0;

        if (ctl_list_manifests(paths[p], &files, &n_files, &err) < 0) {
            rc_errs_push(errs, &err);
            continue;
        }
        for (size_t i = 0; i < n_files; i++) {
            char *buf = NULL;
            size_t len = 0;

            memset(&err, 0, sizeof(err));
            if (ctl_read_file(files[i], CTL_FILE_MAX, &buf, &len, &err) < 0) {
                rc_errs_push(errs, &err);
                continue;
            }
            rc_decode_yaml(want, files[i], buf, len, errs, notices);
            free(buf);
        }
        ctl_files_free(files, n_files);
    }
    rc_validate_refs(want, errs);
    return errs->n + errs->dropped > before ? -RC_EINVAL : 0;
}
