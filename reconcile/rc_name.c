/*
 * rc_name.c - deterministic resource names (DESIGN.md §4 rule 2; see rc_util.h).
 *
 * Rules, in order:
 * - The pool name is lowercased; characters outside [a-z0-9-] become '-'; a name
 *   not starting with a letter gets a leading 'p'.
 * - When that equals the pool name as written and fits max_len, it is the base.
 * - Otherwise (too long, or it had to be altered) the base is the first
 *   max_len - 5 characters (trailing '-' removed) + "-" + 4 base-36 digits of
 *   rc_hash64("<namespace>/<name>") % 36^4. Two different pools never collide by
 *   truncation or by character replacement alone (only by a 1 in 1.7 million
 *   hash collision).
 * - The namespace is not part of a base that fits: pools of different
 *   namespaces must not share a resource group (or must use different names).
 * - VM names are "<base>-<slot>-<incarnation base 36>"; the base is shortened to
 *   leave room for the suffix, so e.g. Windows names fit 15 characters.
 * - Scale-set names use max 64; computerNamePrefix max 9 (Windows) / 58 (Linux).
 */
#include "rc_util.h"

#include <stdio.h>
#include <string.h>

#define NAME_IN_MAX 253

static bool name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static void base36(uint64_t v, int width, char *out)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";

    for (int i = width - 1; i >= 0; i--) {
        out[i] = digits[v % 36];
        v /= 36;
    }
    out[width] = '\0';
}

int rc_name_base(const char *ns, const char *name, size_t max_len, char *buf, size_t size)
{
    char clean[NAME_IN_MAX + 2], key[2 * NAME_IN_MAX + 2], hash[5];
    size_t n = 0, len, keep;
    bool altered = false;

    if (!ns || !name || !*name || max_len < 6 || strlen(name) > NAME_IN_MAX ||
        strlen(ns) > NAME_IN_MAX || size == 0)
        return -RC_EINVAL;
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'))) {
        clean[n++] = 'p';
        altered = true;
    }
    for (const char *p = name; *p; p++) {
        char c = *p;

        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
            altered = true;
        }
        if (!name_char_ok(c)) {
            c = '-';
            altered = true;
        }
        clean[n++] = c;
    }
    clean[n] = '\0';
    len = n;
    if (!altered && len <= max_len) {
        if (len >= size)
            return -RC_EINVAL;
        memcpy(buf, clean, len + 1);
        return 0;
    }
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    base36(rc_hash64_str(key) % (36ULL * 36 * 36 * 36), 4, hash);
    keep = len < max_len - 5 ? len : max_len - 5;
    while (keep > 1 && clean[keep - 1] == '-')
        keep--;
    if (keep + 5 >= size)
        return -RC_EINVAL;
    memcpy(buf, clean, keep);
    buf[keep] = '-';
    memcpy(buf + keep + 1, hash, 5);
    return 0;
}

int rc_name_vm(const char *ns, const char *pool, unsigned slot, unsigned incarnation,
               size_t max_len, char *buf, size_t size)
{
    char suffix[32], inc[16], base[RC_NAME_MAX + 1];
    int n, w = 1, r;
    unsigned long long v = incarnation;

    while (v >= 36) {
        v /= 36;
        w++;
    }
    base36(incarnation, w, inc);
    n = snprintf(suffix, sizeof(suffix), "-%u-%s", slot, inc);
    if (n < 0 || (size_t)n + 6 > max_len || max_len > RC_NAME_MAX)
        return -RC_EINVAL;
    r = rc_name_base(ns, pool, max_len - (size_t)n, base, sizeof(base));
    if (r < 0)
        return r;
    n = snprintf(buf, size, "%s%s", base, suffix);
    if (n < 0 || (size_t)n >= size)
        return -RC_EINVAL;
    return 0;
}

int rc_name_vmss(const char *ns, const char *pool, char *buf, size_t size)
{
    return rc_name_base(ns, pool, RC_NAME_MAX, buf, size);
}

int rc_name_prefix(const char *ns, const char *pool, bool windows, char *buf, size_t size)
{
    return rc_name_base(ns, pool, windows ? RC_PREFIX_MAX_WINDOWS : RC_PREFIX_MAX_LINUX, buf, size);
}

int rc_name_vm_parse(const char *vm_name, unsigned *ret_slot, unsigned *ret_incarnation)
{
    const char *dash2, *dash1, *p;
    unsigned long long slot = 0, inc = 0;
    size_t len;

    if (!vm_name)
        return -RC_EINVAL;
    len = strlen(vm_name);
    if (len == 0 || len > RC_NAME_MAX)
        return -RC_EINVAL;
    dash2 = strrchr(vm_name, '-');
    if (!dash2 || dash2 == vm_name || !dash2[1])
        return -RC_EINVAL;
    for (p = dash2 + 1; *p; p++) {
        int c = *p, d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'z')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'Z')
            d = c - 'A' + 10;
        else
            return -RC_EINVAL;
        inc = inc * 36 + (unsigned)d;
        if (inc > 0xffffffffULL)
            return -RC_EINVAL;
    }
    dash1 = dash2 - 1;
    while (dash1 > vm_name && *dash1 != '-')
        dash1--;
    if (*dash1 != '-' || dash1 == vm_name || dash1 + 1 == dash2)
        return -RC_EINVAL;
    for (p = dash1 + 1; p < dash2; p++) {
        if (*p < '0' || *p > '9')
            return -RC_EINVAL;
        slot = slot * 10 + (unsigned)(*p - '0');
        if (slot > 0xffffffffULL)
            return -RC_EINVAL;
    }
    *ret_slot = (unsigned)slot;
    *ret_incarnation = (unsigned)inc;
    return 0;
}
