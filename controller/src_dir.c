/* src_dir.c - see src_dir.h. */
#include "src_dir.h"

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct watch {
    uv_fs_event_t ev;
    struct src_dir *s;
    bool parent; /* the root's parent: only events naming the root count */
    struct watch *next;
};

struct src_dir {
    uv_loop_t *loop;
    char *root;
    const char *base; /* last path component of root */
    src_dir_cb cb;
    void *arg;
    uv_timer_t debounce;
    struct watch *watches;
    int n_watches;
    bool closing;
};

static void on_watch_closed(uv_handle_t *h)
{
    free(h->data);
}

static void drop_watches(struct src_dir *s)
{
    struct watch *w = s->watches;

    while (w) {
        struct watch *next = w->next;

        uv_fs_event_stop(&w->ev);
        uv_close((uv_handle_t *)&w->ev, on_watch_closed);
        w = next;
    }
    s->watches = NULL;
    s->n_watches = 0;
}

static void on_debounced(uv_timer_t *t);

static void on_event(uv_fs_event_t *ev, const char *name, int events, int status)
{
    struct watch *w = ev->data;

    (void)events;
    (void)status;
    /* Other files next to the root (logs, editors' swap files) are not ours. */
    if (w->parent && (!name || strcmp(name, w->s->base) != 0))
        return;
    if (!w->s->closing) /* restart: the callback runs after the last event of a burst */
        uv_timer_start(&w->s->debounce, on_debounced, SRC_DIR_DEBOUNCE_MS, 0);
}

static void add_watch(struct src_dir *s, const char *path, bool parent)
{
    struct watch *w;

    if (s->n_watches >= SRC_DIR_WATCHES_MAX)
        return;
    w = calloc(1, sizeof(*w));
    if (!w)
        return;
    w->s = s;
    w->parent = parent;
    if (uv_fs_event_init(s->loop, &w->ev) != 0) {
        free(w);
        return;
    }
    w->ev.data = w;
    if (uv_fs_event_start(&w->ev, on_event, path, 0) != 0) {
        uv_close((uv_handle_t *)&w->ev, on_watch_closed);
        return;
    }
    w->next = s->watches;
    s->watches = w;
    s->n_watches++;
}

static void walk(struct src_dir *s, const char *dir, int depth)
{
    DIR *d;
    struct dirent *de;

    if (depth > 32)
        return;
    add_watch(s, dir, false);
    d = opendir(dir);
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;

        if (de->d_name[0] == '.')
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
            continue;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            walk(s, path, depth + 1);
    }
    closedir(d);
}

static void rebuild(struct src_dir *s)
{
    char parent[PATH_MAX];
    char *slash;

    drop_watches(s);
    snprintf(parent, sizeof(parent), "%s", s->root);
    slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    else if (slash)
        slash[1] = '\0';
    else
        snprintf(parent, sizeof(parent), ".");
    add_watch(s, parent, true);
    walk(s, s->root, 0);
}

static void on_debounced(uv_timer_t *t)
{
    struct src_dir *s = t->data;

    rebuild(s);
    s->cb(s->arg);
}

struct src_dir *src_dir_new(uv_loop_t *loop, const char *root, src_dir_cb cb, void *arg,
                            struct rc_err *err)
{
    struct src_dir *s = calloc(1, sizeof(*s));
    size_t n;

    if (!s) {
        rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        return NULL;
    }
    s->loop = loop;
    s->cb = cb;
    s->arg = arg;
    s->root = strdup(root);
    if (!s->root || uv_timer_init(loop, &s->debounce) != 0) {
        free(s->root);
        free(s);
        rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        return NULL;
    }
    n = strlen(s->root);
    while (n > 1 && s->root[n - 1] == '/')
        s->root[--n] = '\0';
    s->base = strrchr(s->root, '/') ? strrchr(s->root, '/') + 1 : s->root;
    s->debounce.data = s;
    rebuild(s);
    return s;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct src_dir *s = h->data;

    free(s->root);
    free(s);
}

void src_dir_free(struct src_dir *s)
{
    if (!s)
        return;
    s->closing = true;
    drop_watches(s);
    uv_timer_stop(&s->debounce);
    uv_close((uv_handle_t *)&s->debounce, on_timer_closed);
}

int src_dir_watches(const struct src_dir *s)
{
    return s->n_watches;
}
