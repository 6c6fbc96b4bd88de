/* log.c - see log.h. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rc_util.h"

static enum log_level g_level = LOG_INFO;
static int g_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

void log_set_level(enum log_level level)
{
    g_level = level;
}

bool log_enabled(enum log_level level)
{
    return level >= g_level;
}

void log_set_fd(int fd)
{
    g_fd = fd;
}

/* Appends raw bytes; marks truncation, keeping room for " truncated=true\n". */
static void append(struct log_line *l, const char *s, size_t n)
{
    const size_t reserve = sizeof(" truncated=true\n");
    size_t room;

    if (l->truncated)
        return;
    room = sizeof(l->buf) - reserve - l->len;
    if (n > room) {
        n = room;
        l->truncated = true;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static bool needs_quotes(const char *v)
{
    if (!*v)
        return true;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f)
            return true;
    return false;
}

size_t log_quote(const char *value, char *buf, size_t size)
{
    size_t n = 0;
    bool quote;

    if (size == 0)
        return 0;
    if (!value)
        value = "";
    quote = needs_quotes(value);
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (n + 1 < size)                                                                          \
            buf[n++] = (c);                                                                        \
    } while (0)
    if (quote)
        PUT('"');
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p == '"' || *p == '\\') {
            PUT('\\');
            PUT((char)*p);
        } else if (*p == '\n') {
            PUT('\\');
            PUT('n');
        } else if (*p == '\t') {
            PUT('\\');
            PUT('t');
        } else if (*p < ' ' || *p == 0x7f) {
            char hex[5];

            snprintf(hex, sizeof(hex), "\\x%02x", *p);
            for (int i = 0; hex[i]; i++)
                PUT(hex[i]);
        } else {
            PUT((char)*p);
        }
    }
    if (quote)
        PUT('"');
#undef PUT
    buf[n] = '\0';
    return n;
}

static void append_kv(struct log_line *l, const char *key, const char *quoted, size_t n)
{
    append(l, " ", 1);
    append(l, key, strlen(key));
    append(l, "=", 1);
    append(l, quoted, n);
}

void log_begin(struct log_line *l, enum log_level level, int64_t now_ms, const char *event)
{
    char ts[RC_TIME_MAX + 8];
    int n;

    l->len = 0;
    l->truncated = false;
    l->on = log_enabled(level);
    if (!l->on)
        return;
    /* Always with milliseconds, as in STYLE.md (rc_time_format drops .000). */
    rc_time_format(now_ms - now_ms % 1000, ts, sizeof(ts));
    if (strlen(ts) > 1)
        ts[strlen(ts) - 1] = '\0'; /* drop the 'Z' */
    n = snprintf(l->buf, sizeof(l->buf), "ts=%s.%03dZ level=%s event=", ts,
                 (int)(((now_ms % 1000) + 1000) % 1000), level_names[level]);
    l->len = n > 0 ? (size_t)n : 0;
    append(l, event, strlen(event));
}

void log_str(struct log_line *l, const char *key, const char *value)
{
    char q[LOG_LINE_MAX];
    size_t n;

    if (!l->on)
        return;
    n = log_quote(value, q, sizeof(q));
    append_kv(l, key, q, n);
}

void log_int(struct log_line *l, const char *key, long long value)
{
    char v[32];
    int n;

    if (!l->on)
        return;
    n = snprintf(v, sizeof(v), "%lld", value);
    append_kv(l, key, v, (size_t)n);
}

void log_dbl(struct log_line *l, const char *key, double value)
{
    char v[64];
    int n;

    if (!l->on)
        return;
    n = snprintf(v, sizeof(v), "%.6g", value);
    append_kv(l, key, v, (size_t)n);
}

void log_bool(struct log_line *l, const char *key, bool value)
{
    if (!l->on)
        return;
    append_kv(l, key, value ? "true" : "false", value ? 4 : 5);
}

void log_secret(struct log_line *l, const char *key)
{
    if (!l->on)
        return;
    append_kv(l, key, "<redacted>", 10);
}

void log_word(struct log_line *l, const char *word)
{
    if (!l->on)
        return;
    append(l, ", ", 2);
    append(l, word, strlen(word));
}

void log_end(struct log_line *l)
{
    size_t off = 0;

    if (!l->on)
        return;
    if (l->truncated) {
        memcpy(l->buf + l->len, " truncated=true", 15);
        l->len += 15;
    }
    l->buf[l->len++] = '\n';
    while (off < l->len) {
        ssize_t w = write(g_fd, l->buf + off, l->len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* nowhere to report a failing log write */
        off += (size_t)w;
    }
    l->on = false;
}
