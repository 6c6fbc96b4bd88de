/*
 * rc_util.c - bounded strings, int-or-percent values and Go durations (see rc_util.h).
 *
 * Decisions recorded here:
 * - Durations are computed in nanoseconds and truncated to milliseconds at the
 *   end, so "1.5ms" is 1 ms and "999us" is 0 ms. The limit "100 years" is
 *   100 * 365 days (876000h); a leading '+' is accepted like Go does.
 * - rc_intstr_parse accepts surrounding nothing: no spaces, no sign; "25%" must
 *   be 0..100, a plain integer 0..1,000,000.
 */
#include "rc_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- bounded string helpers ---- */

size_t rc_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);

    if (size > 0) {
        size_t c = n < size - 1 ? n : size - 1;

        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int rc_strcasecmp(const char *a, const char *b)
{
    if (a == b)
        return 0;
    if (!a)
        return -1;
    if (!b)
        return 1;
    for (;; a++, b++) {
        int x = ascii_lower((unsigned char)*a), y = ascii_lower((unsigned char)*b);

        if (x != y || x == 0)
            return x - y;
    }
}

char *rc_strdup(const char *s)
{
    size_t n;
    char *d;

    if (!s)
        return NULL;
    n = strlen(s);
    d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n + 1);
    return d;
}

/* ---- string store ---- */

/* Chunks grow from ST_CHUNK_MIN to ST_CHUNK_MAX bytes (doubling); a request
 * above ST_BIG gets a chunk of its own so that the current one is not left
 * half empty. The interning set holds pointers into the chunks. */
#define ST_CHUNK_MIN (16u * 1024)
#define ST_CHUNK_MAX (1024u * 1024)
#define ST_BIG       4096u
#define ST_ALIGN     (sizeof(void *) > sizeof(int64_t) ? sizeof(void *) : sizeof(int64_t))

struct st_chunk {
    char *base;
    size_t size;
};

struct rc_strtab {
    struct st_chunk *chunks; /* sorted by address (rc_strtab_owns) */
    size_t n_chunks, cap_chunks;
    char *cur; /* free space of the current chunk */
    size_t left;
    size_t next_size;
    char **set; /* open addressing by rc_hash64 of the text; NULL is an empty slot */
    size_t n_set, cap_set;
};

struct rc_strtab *rc_strtab_new(void)
{
    struct rc_strtab *t = calloc(1, sizeof(*t));

    if (t)
        t->next_size = ST_CHUNK_MIN;
    return t;
}

void rc_strtab_free(struct rc_strtab *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_chunks; i++)
        free(t->chunks[i].base);
    free(t->chunks);
    free(t->set);
    free(t);
}

/* Index of the last chunk whose base is <= p, or n_chunks when none. */
static size_t st_chunk_at(const struct rc_strtab *t, uintptr_t p)
{
    size_t lo = 0, hi = t->n_chunks;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if ((uintptr_t)t->chunks[mid].base <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : t->n_chunks;
}

bool rc_strtab_owns(const struct rc_strtab *t, const void *p)
{
    size_t i;

    if (!t || !p)
        return false;
    i = st_chunk_at(t, (uintptr_t)p);
    return i < t->n_chunks &&
           (uintptr_t)p < (uintptr_t)t->chunks[i].base + (uintptr_t)t->chunks[i].size;
}

static char *st_new_chunk(struct rc_strtab *t, size_t size)
{
    size_t at;
    char *b;

    if (t->n_chunks == t->cap_chunks) {
        size_t ncap = t->cap_chunks ? t->cap_chunks * 2 : 16;
        struct st_chunk *v = realloc(t->chunks, ncap * sizeof(*v));

        if (!v)
            return NULL;
        t->chunks = v;
        t->cap_chunks = ncap;
    }
    b = malloc(size);
    if (!b)
        return NULL;
    at = st_chunk_at(t, (uintptr_t)b);
    at = at == t->n_chunks ? 0 : at + 1;
    memmove(&t->chunks[at + 1], &t->chunks[at], (t->n_chunks - at) * sizeof(t->chunks[0]));
    t->chunks[at].base = b;
    t->chunks[at].size = size;
    t->n_chunks++;
    return b;
}

/* size bytes aligned to align (a power of two); not zeroed. */
static void *st_take(struct rc_strtab *t, size_t size, size_t align)
{
    size_t pad = t->cur ? (align - ((uintptr_t)t->cur & (align - 1))) & (align - 1) : 0;
    char *p;

    if (size == 0)
        size = 1;
    if (t->cur && pad <= t->left && size <= t->left - pad) {
        p = t->cur + pad;
        t->cur = p + size;
        t->left -= pad + size;
        return p;
    }
    if (size > ST_BIG)
        return st_new_chunk(t, size); /* its own chunk; the current one stays */
    p = st_new_chunk(t, t->next_size);
    if (!p)
        return NULL;
    t->cur = p + size;
    t->left = t->next_size - size;
    if (t->next_size < ST_CHUNK_MAX)
        t->next_size *= 2;
    return p;
}

char *rc_strtab_dup(struct rc_strtab *t, const char *s, size_t len)
{
    char *d;

    if (!t || len == SIZE_MAX || !(d = st_take(t, len + 1, 1)))
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void *rc_strtab_alloc(struct rc_strtab *t, size_t size)
{
    void *p = t ? st_take(t, size, ST_ALIGN) : NULL;

    if (p)
        memset(p, 0, size);
    return p;
}

/* The set slot holding s[0..len), else the empty slot to put it in. */
static size_t st_slot(char *const *set, size_t cap, const char *s, size_t len)
{
    size_t m = cap - 1, i = (size_t)rc_hash64(s, len) & m;

    while (set[i] && (strncmp(set[i], s, len) != 0 || set[i][len] != '\0'))
        i = (i + 1) & m;
    return i;
}

static bool st_set_grow(struct rc_strtab *t)
{
    size_t cap = t->cap_set ? t->cap_set * 2 : 64;
    char **v = calloc(cap, sizeof(*v));

    if (!v)
        return false;
    for (size_t i = 0; i < t->cap_set; i++)
        if (t->set[i])
            v[st_slot(v, cap, t->set[i], strlen(t->set[i]))] = t->set[i];
    free(t->set);
    t->set = v;
    t->cap_set = cap;
    return true;
}

char *rc_strtab_intern(struct rc_strtab *t, const char *s, size_t len)
{
    size_t i;
    char *d;

    if (!t)
        return NULL;
    if ((t->n_set + 1) * 2 > t->cap_set && !st_set_grow(t))
        return NULL;
    i = st_slot(t->set, t->cap_set, s, len);
    if (t->set[i])
        return t->set[i];
    d = rc_strtab_dup(t, s, len);
    if (!d)
        return NULL;
    t->set[i] = d;
    t->n_set++;
    return d;
}

size_t rc_strtab_bytes(const struct rc_strtab *t)
{
    size_t n = 0;

    if (!t)
        return 0;
    for (size_t i = 0; i < t->n_chunks; i++)
        n += t->chunks[i].size;
    return n + t->cap_chunks * sizeof(t->chunks[0]) + t->cap_set * sizeof(char *) + sizeof(*t);
}

/* ---- int or percent ---- */

#define INTSTR_MAX 1000000

int rc_intstr_parse(const char *s, struct rc_intstr *ret, struct rc_err *err)
{
    long v = 0;
    const char *p = s;

    memset(ret, 0, sizeof(*ret));
    if (!s || !*s)
        return rc_err_set(err, -RC_EINVAL, NULL,
                          "must be an integer or a percentage such as \"25%%\", got \"\"");
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        if (v > INTSTR_MAX)
            return rc_err_set(err, -RC_EINVAL, NULL, "value \"%.40s\" is too large", s);
        p++;
    }
    if (p == s || (*p && !(p[0] == '%' && p[1] == '\0')))
        return rc_err_set(err, -RC_EINVAL, NULL,
                          "must be an integer or a percentage such as \"25%%\", got \"%.40s\"", s);
    if (*p == '%') {
        if (v > 100)
            return rc_err_set(err, -RC_EINVAL, NULL,
                              "percentage must be between 0%% and 100%%, got \"%.40s\"", s);
        ret->is_percent = true;
    }
    ret->set = true;
    ret->value = (int)v;
    return 0;
}

int rc_intstr_resolve(const struct rc_intstr *v, int total, bool round_up)
{
    long long p;

    if (!v || !v->set)
        return 0;
    if (!v->is_percent)
        return v->value;
    if (total <= 0)
        return 0;
    p = (long long)total * v->value;
    return (int)(round_up ? (p + 99) / 100 : p / 100);
}

int rc_intstr_format(const struct rc_intstr *v, char *buf, size_t size)
{
    if (!v->set)
        return snprintf(buf, size, "%s", "");
    return snprintf(buf, size, v->is_percent ? "%d%%" : "%d", v->value);
}

/* ---- durations ---- */

#define NS_PER_MS       1000000LL
#define DURATION_MAX_NS (100LL * 365 * 24 * 3600 * 1000000000LL)

struct dur_unit {
    const char *name;
    long long ns;
};

static const struct dur_unit dur_units[] = {
    {"ns", 1LL},
    {"us", 1000LL},
    {"\xc2\xb5s", 1000LL}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000LL}, /* U+03BC Greek mu */
    {"ms", 1000000LL},
    {"s", 1000000000LL},
    {"m", 60LL * 1000000000LL},
    {"h", 3600LL * 1000000000LL},
};

int rc_duration_parse(const char *s, int64_t *ret_ms, struct rc_err *err)
{
    const char *p = s;
    long long total = 0;

    *ret_ms = 0;
    if (!s || !*s)
        return rc_err_set(err, -RC_EINVAL, NULL,
                          "must be a duration such as \"90s\" or \"1h30m\", got \"\"");
    if (strlen(s) > 64)
        return rc_err_set(err, -RC_EINVAL, NULL, "duration is too long");
    if (*p == '-')
        return rc_err_set(err, -RC_EINVAL, NULL, "duration must not be negative, got \"%s\"", s);
    if (*p == '+')
        p++;
    if (strcmp(p, "0") == 0)
        return 0;
    if (!*p)
        return rc_err_set(err, -RC_EINVAL, NULL, "invalid duration \"%s\"", s);
    while (*p) {
        long long whole = 0;
        double frac = 0, scale = 1;
        bool digits = false;
        const struct dur_unit *u = NULL;
        size_t i, ulen = 0;

        while (*p >= '0' && *p <= '9') {
            if (whole > (DURATION_MAX_NS - (*p - '0')) / 10)
                return rc_err_set(err, -RC_EINVAL, NULL, "duration \"%s\" is out of range", s);
            whole = whole * 10 + (*p - '0');
            digits = true;
            p++;
        }
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') {
                if (scale < 1e18) {
                    frac = frac * 10 + (*p - '0');
                    scale *= 10;
                }
                digits = true;
                p++;
            }
        }
        if (!digits)
            return rc_err_set(err, -RC_EINVAL, NULL,
                              "invalid duration \"%s\" (expected a number such as \"90s\")", s);
        for (i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
            size_t n = strlen(dur_units[i].name);

            if (n > ulen && strncmp(p, dur_units[i].name, n) == 0) {
                u = &dur_units[i];
                ulen = n;
            }
        }
        if (!u)
            return rc_err_set(err, -RC_EINVAL, NULL,
                              "missing or unknown unit in duration \"%s\" (ns, us, ms, s, m, h)",
                              s);
        p += ulen;
        if (whole > DURATION_MAX_NS / u->ns)
            return rc_err_set(err, -RC_EINVAL, NULL, "duration \"%s\" is out of range", s);
        total += whole * u->ns;
        total += (long long)(frac * ((double)u->ns / scale));
        if (total > DURATION_MAX_NS)
            return rc_err_set(err, -RC_EINVAL, NULL,
                              "duration \"%s\" is out of range (at most 100 years)", s);
    }
    *ret_ms = total / NS_PER_MS;
    return 0;
}

int rc_duration_format(int64_t ms, char *buf, size_t size)
{
    const char *sign = "";
    uint64_t u, h, m, sec, frac;
    char fs[8] = "";

    if (ms < 0) {
        sign = "-";
        u = (uint64_t)0 - (uint64_t)ms;
    } else {
        u = (uint64_t)ms;
    }
    if (u == 0)
        return snprintf(buf, size, "0s");
    if (u < 1000)
        return snprintf(buf, size, "%s%llums", sign, (unsigned long long)u);
    h = u / 3600000;
    m = u / 60000 % 60;
    sec = u / 1000 % 60;
    frac = u % 1000;
    if (frac) {
        int n = snprintf(fs, sizeof(fs), ".%03llu", (unsigned long long)frac);

        while (n > 1 && fs[n - 1] == '0')
            fs[--n] = '\0';
    }
    if (h)
        return snprintf(buf, size, "%s%lluh%llum%llu%ss", sign, (unsigned long long)h,
                        (unsigned long long)m, (unsigned long long)sec, fs);
    if (m)
        return snprintf(buf, size, "%s%llum%llu%ss", sign, (unsigned long long)m,
                        (unsigned long long)sec, fs);
    return snprintf(buf, size, "%s%llu%ss", sign, (unsigned long long)sec, fs);
}
