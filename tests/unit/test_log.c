/* test_log.c - logfmt lines (controller/log.h). */
#include "test_main.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define NOW 1795428000120LL /* 2026-11-23T10:00:00.120Z */

/* Captures one log line through a pipe. */
static void capture(void (*emit)(void), char *buf, size_t size)
{
    int fds[2];
    ssize_t n;

    assert_int_equal(pipe(fds), 0);
    log_set_fd(fds[1]);
    emit();
    close(fds[1]);
    n = read(fds[0], buf, size - 1);
    close(fds[0]);
    buf[n > 0 ? n : 0] = '\0';
    log_set_fd(2);
}

static void emit_style_example(void)
{
    struct log_line l;

    log_begin(&l, LOG_INFO, NOW, "reconcile.start");
    log_str(&l, "key", "WorkerPool/ops/hw");
    log_str(&l, "rid", "7f3a");
    log_end(&l);
}

/* The STYLE.md example line, byte for byte. */
static void test_style_example(void **state)
{
    char out[512];

    (void)state;
    log_set_level(LOG_INFO);
    capture(emit_style_example, out, sizeof(out));
    assert_string_equal(out, "ts=2026-11-23T10:00:00.120Z level=info event=reconcile.start "
                             "key=WorkerPool/ops/hw rid=7f3a\n");
}

static void emit_quoting(void)
{
    struct log_line l;

    log_begin(&l, LOG_WARN, NOW - 120, "source.invalid");
    log_str(&l, "file", "pools/bad.yaml");
    log_int(&l, "line", 12);
    log_str(&l, "err", "spec.replicas: must be >= 0");
    log_str(&l, "odd", "a\"b\\c\nd\x01");
    log_str(&l, "empty", "");
    log_secret(&l, "client_secret");
    log_word(&l, "ignoring");
    log_end(&l);
}

/* Values with spaces, '=', quotes and control characters are quoted and escaped;
 * secrets print as <redacted>. */
static void test_quoting_and_secrets(void **state)
{
    char out[512];

    (void)state;
    log_set_level(LOG_INFO);
    capture(emit_quoting, out, sizeof(out));
    assert_string_equal(out, "ts=2026-11-23T10:00:00.000Z level=warn event=source.invalid "
                             "file=pools/bad.yaml line=12 err=\"spec.replicas: must be >= 0\" "
                             "odd=\"a\\\"b\\\\c\\nd\\x01\" empty=\"\" "
                             "client_secret=<redacted>, ignoring\n");
}

static void emit_debug(void)
{
    struct log_line l;

    log_begin(&l, LOG_DEBUG, NOW, "arm.request");
    log_str(&l, "method", "GET");
    log_end(&l);
}

/* Lines below the level are not written at all. */
static void test_level_filter(void **state)
{
    char out[128];

    (void)state;
    log_set_level(LOG_INFO);
    capture(emit_debug, out, sizeof(out));
    assert_string_equal(out, "");
    log_set_level(LOG_DEBUG);
    capture(emit_debug, out, sizeof(out));
    assert_non_null(strstr(out, "level=debug event=arm.request method=GET\n"));
    assert_int_equal(log_level_parse("warn"), LOG_WARN);
    assert_int_equal(log_level_parse("verbose"), -1);
    log_set_level(LOG_INFO);
}

static void emit_long(void)
{
    static char big[3 * LOG_LINE_MAX];
    struct log_line l;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_begin(&l, LOG_ERROR, NOW, "big");
    log_str(&l, "a", big);
    log_str(&l, "b", big);
    log_end(&l);
}

/* An oversized line is cut, stays one line and says it was truncated. */
static void test_truncation(void **state)
{
    char out[2 * LOG_LINE_MAX];
    size_t n;

    (void)state;
    capture(emit_long, out, sizeof(out));
    n = strlen(out);
    assert_true(n <= LOG_LINE_MAX);
    assert_int_equal(out[n - 1], '\n');
    assert_non_null(strstr(out, " truncated=true\n"));
    assert_ptr_equal(strchr(out, '\n'), out + n - 1); /* one line */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_style_example),
        cmocka_unit_test(test_quoting_and_secrets),
        cmocka_unit_test(test_level_filter),
        cmocka_unit_test(test_truncation),
    };
    return az_run_tests("log", tests);
}
