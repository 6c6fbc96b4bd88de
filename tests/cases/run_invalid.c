/*
 * run_invalid.c - the invalid-manifest cases (tests/cases/invalid/NNN-name.yaml).
 *
 * Each case is a manifest (several documents allowed) whose leading comment
 * lines hold the expected errors, one per line and in order:
 *     # expect: LINE:COL: PATH: MESSAGE
 * The driver decodes the file (label = its path as given, e.g.
 * tests/cases/invalid/007-bad-percentage.yaml), runs rc_validate_refs, sorts
 * the errors (rc_errs_sort) and requires the formatted errors to equal exactly
 * "<file>:" + each expect line. A case without an expect line fails.
 *
 * Usage: run_invalid [DIR]   (default tests/cases/invalid, run from the repo root)
 * Prints one line per failing case ("FAIL FILE: [i] want "..." got "..."; [j] ...",
 * every differing error with its index in the sorted list) and, last,
 * "N passed, N failed"; exits 1 when any case failed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_model.h"

#define CASE_MAX_BYTES (64 * 1024 * 1024)
#define MAX_EXPECT     64
#define LINE_MAX_      1024

static char *read_file(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, len = 0, n;

    if (!f)
        return NULL;
    for (;;) {
        if (len + 65536 + 1 > cap) {
            char *nb;
            cap = cap ? cap * 2 : 131072;
            if (cap > CASE_MAX_BYTES + 65536 + 1)
                break;
            nb = realloc(buf, cap);
            if (!nb)
                break;
            buf = nb;
        }
        n = fread(buf + len, 1, 65536, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[len] = '\0';
    *ret_len = len;
    return buf;
}

/* Collects the "# expect: " lines of the leading comment block. */
static size_t parse_expect(const char *buf, char expect[][LINE_MAX_], size_t max)
{
    const char *p = buf, *nl;
    size_t n = 0, len;

    while (*p == '#' && n < max) {
        nl = strchr(p, '\n');
        len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > 10 && !strncmp(p, "# expect: ", 10)) {
            len -= 10;
            if (len >= LINE_MAX_)
                len = LINE_MAX_ - 1;
            memcpy(expect[n], p + 10, len);
            expect[n][len] = '\0';
            if (len && expect[n][len - 1] == '\r')
                expect[n][len - 1] = '\0';
            n++;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

static int run_case(const char *path)
{
    static char expect[MAX_EXPECT][LINE_MAX_];
    struct rc_desired want = {0};
    struct rc_errs errs = {0}, notices = {0};
    char got[LINE_MAX_ + 4200], want_line[LINE_MAX_ + 4200];
    size_t len = 0, n_expect, i, n;
    char *buf = read_file(path, &len);
    int ok = 1;

    if (!buf) {
        printf("FAIL %s: cannot read\n", path);
        return 0;
    }
    n_expect = parse_expect(buf, expect, MAX_EXPECT);
    if (n_expect == 0) {
        printf("FAIL %s: no \"# expect:\" line\n", path);
        free(buf);
        return 0;
    }
    rc_decode_yaml(&want, path, buf, len, &errs, &notices);
    rc_validate_refs(&want, &errs);
    rc_errs_sort(&errs);
    n = errs.n > n_expect ? errs.n : n_expect;
    for (i = 0; i < n; i++) {
        if (i < errs.n)
            rc_err_format(&errs.v[i], got, sizeof(got));
        else
            snprintf(got, sizeof(got), "(nothing)");
        if (i < n_expect)
            (void)!snprintf(want_line, sizeof(want_line), "%s:%s", path, expect[i]);
        else
            snprintf(want_line, sizeof(want_line), "(nothing)");
        if (strcmp(got, want_line)) {
            /* one line per failing case: every differing error, in order */
            if (ok)
                printf("FAIL %s: ", path);
            else
                printf("; ");
            printf("[%zu] want \"%s\" got \"%s\"", i, want_line, got);
            ok = 0;
        }
    }
    if (!ok)
        printf("\n");
    if (errs.dropped) {
        printf("FAIL %s: %zu errors dropped\n", path, errs.dropped);
        ok = 0;
    }
    rc_desired_release(&want);
    rc_errs_release(&errs);
    rc_errs_release(&notices);
    free(buf);
    return ok;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/cases/invalid";
    char **names = NULL, path[4096];
    size_t n = 0, cap = 0, i;
    int passed = 0, failed = 0;
    struct dirent *de;
    DIR *d = opendir(dir);

    if (!d) {
        printf("cannot open %s\n0 passed, 1 failed\n", dir);
        return 1;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".yaml"))
            continue;
        if (n == cap) {
            char **nn;
            cap = cap ? cap * 2 : 64;
            nn = realloc(names, cap * sizeof(*nn));
            if (!nn)
                break;
            names = nn;
        }
        names[n] = strdup(de->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (run_case(path))
            passed++;
        else
            failed++;
        free(names[i]);
    }
    free(names);
    if (n == 0) {
        printf("no cases in %s\n", dir);
        failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
