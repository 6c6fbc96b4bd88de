/*
 * test_src_dir.c - the directory source (controller/src_dir.h): a burst of
 * writes is one callback, new subdirectories are watched, and git-sync's
 * atomic symlink swap of the root is seen.
 */
#include "test_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "src_dir.h"

static int g_calls;

static void on_change(void *arg)
{
    (void)arg;
    g_calls++;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void stop_timer(uv_timer_t *t)
{
    uv_timer_stop(t);
}

/* Runs the loop for about ms milliseconds. */
static void run_for(uv_loop_t *loop, uint64_t ms)
{
    uv_timer_t t;

    uv_timer_init(loop, &t);
    uv_timer_start(&t, stop_timer, ms, 0);
    while (uv_is_active((uv_handle_t *)&t))
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void test_burst_subdirs_and_symlink_swap(void **state)
{
    char tmpl[] = "/tmp/azpool-src-XXXXXX";
    char *base = mkdtemp(tmpl);
    char path[1024], root[256];
    uv_loop_t loop;
    struct rc_err err = {0};
    struct src_dir *s;

    (void)state;
    assert_non_null(base);
    snprintf(path, sizeof(path), "%s/rev-a", base);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/rev-b", base);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(root, sizeof(root), "%s/current", base);
    assert_int_equal(symlink("rev-a", root), 0);

    uv_loop_init(&loop);
    s = src_dir_new(&loop, root, on_change, NULL, &err);
    assert_non_null(s);
    assert_true(src_dir_watches(s) >= 2);

    /* A burst of 20 writes is one callback. */
    for (int i = 0; i < 20; i++) {
        snprintf(path, sizeof(path), "%s/pool-%d.yaml", root, i);
        write_file(path, "kind: WorkerPool\n");
    }
    run_for(&loop, 200);
    assert_int_equal(g_calls, 1);

    /* A new subdirectory is watched after the rebuild that its creation caused. */
    snprintf(path, sizeof(path), "%s/team", root);
    assert_int_equal(mkdir(path, 0755), 0);
    run_for(&loop, 200);
    assert_int_equal(g_calls, 2);
    snprintf(path, sizeof(path), "%s/team/x.yaml", root);
    write_file(path, "kind: WorkerPool\n");
    run_for(&loop, 200);
    assert_int_equal(g_calls, 3);

    /* A file next to the root (a log, an editor's swap file) is not a change. */
    snprintf(path, sizeof(path), "%s/controller.log", base);
    write_file(path, "ts=... level=info\n");
    run_for(&loop, 200);
    assert_int_equal(g_calls, 3);

    /* git-sync: a new link renamed over the old one. */
    snprintf(path, sizeof(path), "%s/tmp-link", base);
    assert_int_equal(symlink("rev-b", path), 0);
    assert_int_equal(rename(path, root), 0);
    run_for(&loop, 200);
    assert_int_equal(g_calls, 4);

    src_dir_free(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    snprintf(path, sizeof(path), "rm -rf '%s'", base);
    assert_int_equal(system(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_subdirs_and_symlink_swap),
    };
    return az_run_tests("src_dir", tests);
}
