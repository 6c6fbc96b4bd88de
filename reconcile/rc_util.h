/*
 * rc_util.h - small pure helpers of the core: durations, int-or-percent values,
 * RFC 3339 time, cron schedules, hashing, UUIDv5 and deterministic names.
 *
 * Everything here is pure: no clock, no I/O, no allocation unless stated.
 *
 * String store (struct rc_strtab): an arena of strings (and small arrays)
 * that are freed all at once, with an optional interning set so that equal
 * strings are one copy. Used where many small strings live and die together
 * (the observed model, a plan's statuses): a separate malloc per string costs
 * 16-32 bytes of overhead on top of the text. Whoever holds a pointer into a
 * store must not free() it; rc_strtab_owns() tells store memory from malloc'd
 * memory, so a structure may mix both (fields replaced later by hand).
 * Times are int64 milliseconds since the Unix epoch, UTC. Time-zone offsets are
 * resolved outside the core and passed in as seconds east of UTC.
 */
#ifndef AZPOOL_RC_UTIL_H
#define AZPOOL_RC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_err.h"

/* ---- durations (Go syntax: "90s", "1h30m", "1.5h", "250ms", "0") ---- */

/* Parses a Go duration into milliseconds. Units: ns us µs ms s m h (no days).
 * Negative durations are refused (-RC_EINVAL), as are empty strings, a bare
 * number other than "0", unknown units and values above 100 years. Sub-
 * millisecond parts are truncated. */
int rc_duration_parse(const char *s, int64_t *ret_ms, struct rc_err *err);
/* Formats like Go's time.Duration.String() at millisecond precision ("1h30m0s",
 * "250ms", "0s"). Returns snprintf's result. */
int rc_duration_format(int64_t ms, char *buf, size_t size);

/* ---- int or percent ("3", 3, "25%") ---- */

struct rc_intstr {
    bool set;        /* false: the field was absent (caller applies a default) */
    bool is_percent; /* value is a percentage 0..100 */
    int value;
};

/* Parses "25%" (0..100) or a non-negative decimal integer string. */
int rc_intstr_parse(const char *s, struct rc_intstr *ret, struct rc_err *err);
/* Resolves against total: a percentage rounds up when round_up, else down
 * (Kubernetes: maxSurge rounds up, maxUnavailable rounds down). */
int rc_intstr_resolve(const struct rc_intstr *v, int total, bool round_up);
int rc_intstr_format(const struct rc_intstr *v, char *buf, size_t size);

/* ---- RFC 3339 time ---- */

/* Parses "2026-11-23T10:00:00Z", fractions of any length (".3138469"), and
 * offsets ("+00:00", "-05:30"). */
int rc_time_parse(const char *s, int64_t *ret_ms, struct rc_err *err);
/* Formats as "2026-11-23T10:00:00Z" (milliseconds are dropped when zero, else
 * ".123Z"). buf needs at least RC_TIME_MAX bytes. */
#define RC_TIME_MAX 32
void rc_time_format(int64_t ms, char *buf, size_t size);
/* Civil date helpers (proleptic Gregorian, UTC). */
int64_t rc_days_from_civil(int64_t y, unsigned m, unsigned d);
void rc_civil_from_days(int64_t days, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d);

/* ---- cron (5 fields: minute hour day-of-month month day-of-week) ---- */

/* Supports "*", numbers, ranges "1-5", lists "1,3", steps "*\/15" and "0-30/5",
 * month and weekday names (jan, mon), 7 as Sunday, and the standard rule that
 * when both day-of-month and day-of-week are restricted either may match. */
struct rc_cron {
    uint64_t minutes; /* bit i = minute i */
    uint32_t hours;
    uint32_t mdays;  /* bit 1..31 */
    uint16_t months; /* bit 1..12 */
    uint8_t wdays;   /* bit 0..6, 0 = Sunday */
    bool mday_star, wday_star;
};

int rc_cron_parse(const char *expr, struct rc_cron *ret, struct rc_err *err);
/* Whether local minute t (ms; local = UTC + offset_s) matches. */
bool rc_cron_match(const struct rc_cron *c, int64_t t_ms, int32_t offset_s);
/* The first matching minute at or after from_ms (in the zone of offset_s),
 * searched for at most 366 days; returns 0 and sets *ret_ms, or -RC_ENOTFOUND. */
int rc_cron_next(const struct rc_cron *c, int64_t from_ms, int32_t offset_s, int64_t *ret_ms);
/* The last matching minute at or before at_ms and not before not_before_ms (also
 * at most 366 days back); returns 0 and sets *ret_ms, or -RC_ENOTFOUND.
 * (Additive: used by rc_window_state to find the start of an open window.) */
int rc_cron_prev(const struct rc_cron *c, int64_t at_ms, int32_t offset_s, int64_t not_before_ms,
                 int64_t *ret_ms);

/* ---- hashing and identifiers ---- */

/* FNV-1a 64 over a byte string. */
uint64_t rc_hash64(const void *data, size_t len);
uint64_t rc_hash64_str(const char *s);
/* SHA-1 (needed for UUIDv5). out gets 20 bytes. */
void rc_sha1(const void *data, size_t len, unsigned char out[20]);
/* UUIDv5 (RFC 4122) of name in namespace ns (16 bytes), formatted lowercase
 * "xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx" into buf (>= 37 bytes). */
void rc_uuid5(const unsigned char ns[16], const char *name, char *buf, size_t size);
/* The namespace Azpool uses for hybrid worker ids (fixed, see rc_util.c). */
extern const unsigned char rc_uuid_ns_azpool[16];

/* ---- names (DESIGN.md §4 rule 2) ---- */

/* Azure limits the names must fit. */
#define RC_NAME_MAX           64 /* resource names */
#define RC_HOST_MAX_WINDOWS   15
#define RC_HOST_MAX_LINUX     64
#define RC_PREFIX_MAX_WINDOWS 9 /* VMSS computerNamePrefix: Azure appends 6 chars */
#define RC_PREFIX_MAX_LINUX   58

/* The base name of a pool's resources: lowercase [a-z0-9-], starting with a
 * letter, at most max_len characters. When "<name>" fits it is used as is;
 * otherwise it is truncated and suffixed with "-" and 4 base-36 characters of
 * rc_hash64("<namespace>/<name>") so two long names never collide by
 * truncation. Deterministic. Returns 0 or -RC_EINVAL (max_len < 6). */
int rc_name_base(const char *ns, const char *name, size_t max_len, char *buf, size_t size);
/* VirtualMachines mode VM name: "<base>-<slot>-<incarnation in base 36>",
 * fitting max_len (15 for Windows host names, 64 otherwise); the base is
 * shortened (with its hash suffix) to make room. */
int rc_name_vm(const char *ns, const char *pool, unsigned slot, unsigned incarnation,
               size_t max_len, char *buf, size_t size);
/* Name of the VMSS of a pool ("<base>"; <= 64) and of its computerNamePrefix
 * (<= 9 Windows, <= 58 Linux). */
int rc_name_vmss(const char *ns, const char *pool, char *buf, size_t size);
int rc_name_prefix(const char *ns, const char *pool, bool windows, char *buf, size_t size);
/* Parses a VM name made by rc_name_vm back into slot and incarnation, given the
 * base used; returns 0 or -RC_EINVAL when the name does not have that shape. */
int rc_name_vm_parse(const char *vm_name, unsigned *ret_slot, unsigned *ret_incarnation);

/* ---- bounded string helpers ---- */

/* Copies with truncation, always NUL-terminates (size > 0). Returns strlen(src). */
size_t rc_strlcpy(char *dst, const char *src, size_t size);
/* Case-insensitive ASCII comparison (Azure ids and names compare this way). */
int rc_strcasecmp(const char *a, const char *b);
/* malloc'd copy, NULL on allocation failure or when s is NULL. */
char *rc_strdup(const char *s);

/* ---- string store (arena + interning, see the top) ---- */

struct rc_strtab;

struct rc_strtab *rc_strtab_new(void);    /* NULL on ENOMEM */
void rc_strtab_free(struct rc_strtab *t); /* frees every string of t; NULL is fine */
/* A new copy of s[0..len) in t (NUL-terminated; never shared). NULL on ENOMEM. */
char *rc_strtab_dup(struct rc_strtab *t, const char *s, size_t len);
/* The one copy of s[0..len) in t (exact compare): found, else added. NULL on
 * ENOMEM. */
char *rc_strtab_intern(struct rc_strtab *t, const char *s, size_t len);
/* size zeroed bytes in t, aligned for any object. NULL on ENOMEM. */
void *rc_strtab_alloc(struct rc_strtab *t, size_t size);
/* True when p points into memory of t (false for NULL t or p). */
bool rc_strtab_owns(const struct rc_strtab *t, const void *p);
/* Bytes t holds from malloc (chunks and the interning set), for reports. */
size_t rc_strtab_bytes(const struct rc_strtab *t);

#endif
