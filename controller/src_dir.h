/*
 * src_dir.h - the GitOps source: a directory of manifests, watched.
 *
 * Every directory of the tree gets an inotify watch (uv_fs_event is not
 * recursive on Linux), and so does the parent of the root, so that git-sync's
 * atomic symlink swap of the root is seen. Events are debounced: the callback
 * runs SRC_DIR_DEBOUNCE_MS after the last event of a burst (a git checkout
 * writes many files), and the watch set is rebuilt then (directories come and
 * go with checkouts).
 *
 * The callback only says "something changed"; the caller re-reads the tree
 * (ctl_load_manifests), which is cheap and always consistent.
 *
 * Ownership: root is copied; loop is borrowed. src_dir_free() closes the
 * watches; run the loop afterwards so the handles close.
 */
#ifndef AZPOOL_SRC_DIR_H
#define AZPOOL_SRC_DIR_H

#include <uv.h>

#include "rc_err.h"

#define SRC_DIR_DEBOUNCE_MS 20
#define SRC_DIR_WATCHES_MAX 4096

struct src_dir;

typedef void (*src_dir_cb)(void *arg);

struct src_dir *src_dir_new(uv_loop_t *loop, const char *root, src_dir_cb cb, void *arg,
                            struct rc_err *err);
void src_dir_free(struct src_dir *s); /* NULL is fine */
/* Directories watched now. */
int src_dir_watches(const struct src_dir *s);

#endif
