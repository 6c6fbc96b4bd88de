/*
 * log.h - logfmt lines on stderr (DESIGN.md §9, STYLE.md "Logs are logfmt").
 *
 *   ts=2026-11-23T10:00:00.120Z level=info event=reconcile.start key=WorkerPool/ops/hw rid=7f3a
 *
 * A line is built in a fixed buffer (LOG_LINE_MAX; longer lines are cut and end
 * with truncated=true) and written with one write(2), so lines of concurrent
 * writers never interleave. Values are quoted when they contain spaces, '=',
 * quotes or control characters; quotes and backslashes are escaped, control
 * characters written as \n, \t or \xNN. Keys are written as given (callers use
 * lowercase identifiers).
 *
 * Secrets: there is no function that prints a secret value. log_secret()
 * exists so call sites say what they do with a secret-bearing field: it writes
 * <redacted>.
 *
 * Global state: the level and the output fd (default 2), set once at start-up.
 */
#ifndef AZPOOL_LOG_H
#define AZPOOL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

#define LOG_LINE_MAX 4096

struct log_line {
    char buf[LOG_LINE_MAX];
    size_t len;
    bool on; /* false when the level is filtered: every call is a no-op */
    bool truncated;
};

/* "debug" | "info" | "warn" | "error" -> level, -1 when unknown. */
int log_level_parse(const char *s);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
/* Output file descriptor (tests point it at a pipe or file). */
void log_set_fd(int fd);

/* Starts a line with ts, level and event (now_ms: wall clock, from the loop). */
void log_begin(struct log_line *l, enum log_level level, int64_t now_ms, const char *event);
void log_str(struct log_line *l, const char *key, const char *value); /* NULL -> "" */
void log_int(struct log_line *l, const char *key, long long value);
void log_dbl(struct log_line *l, const char *key, double value);
void log_bool(struct log_line *l, const char *key, bool value);
void log_secret(struct log_line *l, const char *key); /* writes key=<redacted> */
/* A bare word at the end, e.g. ", ignoring" in STYLE.md's example. */
void log_word(struct log_line *l, const char *word);
/* Writes the line (with '\n'). */
void log_end(struct log_line *l);

/* Quotes value into buf as log_str would (for tests and other writers). */
size_t log_quote(const char *value, char *buf, size_t size);

#endif
