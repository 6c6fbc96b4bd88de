/*
 * ctl_source.h - reading manifests from files and directories.
 *
 * A path is a file or a directory; directories are walked recursively for
 * *.yaml and *.yml (hidden entries, i.e. names starting with '.', are skipped,
 * which also skips git-sync's ..data staging links and .git). Files are read in
 * sorted path order so errors and plans are deterministic. Symbolic links are
 * followed (git-sync swaps a symlink atomically), with a depth limit of 32 and
 * no loops.
 *
 * Limits: a file of more than CTL_FILE_MAX bytes and a tree of more than
 * CTL_FILES_MAX files are errors; the core enforces the per-document limits.
 *
 * Errors go to errs as "FILE: message" (I/O) or FILE:LINE:COL (from the core);
 * the caller decides how to report them. Nothing is logged here.
 */
#ifndef AZPOOL_CTL_SOURCE_H
#define AZPOOL_CTL_SOURCE_H

#include <stddef.h>

#include "rc_err.h"
#include "rc_model.h"

#define CTL_FILE_MAX  (64L * 1024 * 1024)
#define CTL_FILES_MAX 10000

/* Lists the manifest files under path (or path itself when it is a file) into
 * *ret_files (new array of new strings, sorted; free with ctl_files_free).
 * Returns 0 or -RC_EIO / -RC_ELIMIT / -RC_ENOMEM with err set. */
int ctl_list_manifests(const char *path, char ***ret_files, size_t *ret_n, struct rc_err *err);
void ctl_files_free(char **files, size_t n);

/* Reads a whole file (at most max bytes) into a new NUL-terminated buffer. */
int ctl_read_file(const char *file, long max, char **ret_buf, size_t *ret_len, struct rc_err *err);

/* Loads every manifest under paths into want and checks references across
 * them. Decode errors, I/O errors and reference errors are appended to errs,
 * skip notices to notices (may be NULL). Returns 0 when errs got nothing new. */
int ctl_load_manifests(char *const *paths, size_t n_paths, struct rc_desired *want,
                       struct rc_errs *errs, struct rc_errs *notices);

#endif
