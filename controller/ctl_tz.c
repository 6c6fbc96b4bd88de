/* ctl_tz.c - see ctl_tz.h. TZif format: RFC 8536. */
#include "ctl_tz.h"

#include <stdlib.h>
#include <string.h>

#include "ctl_source.h"
#include "rc_util.h"

#define TZ_FILE_MAX (256 * 1024)

static int64_t be64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return (int64_t)v;
}

static int32_t be32(const unsigned char *p)
{
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
                     (uint32_t)p[3]);
}

static int valid_name(const char *name)
{
    if (!name[0] || name[0] == '/' || strstr(name, "..") || strlen(name) > 128)
        return 0;
    for (const char *p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '+' || *p == '-' || *p == '/'))
            return 0;
    }
    return 1;
}

struct tzif_counts {
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_header(const unsigned char *p, size_t len, struct tzif_counts *c)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    c->isutcnt = (uint32_t)be32(p + 20);
    c->isstdcnt = (uint32_t)be32(p + 24);
    c->leapcnt = (uint32_t)be32(p + 28);
    c->timecnt = (uint32_t)be32(p + 32);
    c->typecnt = (uint32_t)be32(p + 36);
    c->charcnt = (uint32_t)be32(p + 40);
    if (c->typecnt == 0 || c->typecnt > 256 || c->timecnt > 100000 || c->charcnt > 4096 ||
        c->leapcnt > 1000 || c->isutcnt > 256 || c->isstdcnt > 256)
        return -1;
    return 0;
}

static size_t block_len(const struct tzif_counts *c, size_t tsize)
{
    return (size_t)c->timecnt * tsize + c->timecnt + (size_t)c->typecnt * 6 + c->charcnt +
           (size_t)c->leapcnt * (tsize + 4) + c->isstdcnt + c->isutcnt;
}

static int parse_tzif(const unsigned char *p, size_t len, struct rc_tz *ret)
{
    struct tzif_counts c;
    const unsigned char *times, *idx, *types;
    int64_t *at = NULL;
    int32_t *off = NULL;
    size_t v1, need;

    if (read_header(p, len, &c) < 0)
        return -1;
    if (p[4] < '2')
        return -1; /* v1 only: 32-bit times; every current tzdata has v2+ */
    v1 = 44 + block_len(&c, 4);
    if (v1 > len)
        return -1;
    p += v1;
    len -= v1;
    if (read_header(p, len, &c) < 0)
        return -1;
    need = 44 + block_len(&c, 8);
    if (need > len)
        return -1;
    times = p + 44;
    idx = times + (size_t)c.timecnt * 8;
    types = idx + c.timecnt;

    /* Entry 0 holds the offset before the first transition (type 0). */
    at = calloc((size_t)c.timecnt + 1, sizeof(*at));
    off = calloc((size_t)c.timecnt + 1, sizeof(*off));
    if (!at || !off)
        goto fail;
    at[0] = INT64_MIN;
    off[0] = be32(types);
    for (uint32_t i = 0; i < c.timecnt; i++) {
        unsigned t = idx[i];

        if (t >= c.typecnt)
            goto fail;
        at[i + 1] = be64(times + (size_t)i * 8) * 1000;
        off[i + 1] = be32(types + (size_t)t * 6);
        if (i > 0 && at[i + 1] < at[i])
            goto fail;
    }
    ret->at_ms = at;
    ret->offset_s = off;
    ret->n = (size_t)c.timecnt + 1;
    return 0;
fail:
    free(at);
    free(off);
    return -1;
}

int ctl_tz_load(const char *dir, const char *name, struct rc_tz *ret, struct rc_err *err)
{
    char path[512];
    char *buf = NULL;
    size_t len = 0;
    char *name_copy;
    int r;

    memset(ret, 0, sizeof(*ret));
    if (!valid_name(name))
        return rc_err_set(err, -RC_EINVAL, "", "\"%s\" is not a time-zone name", name);
    if (!dir)
        dir = "/usr/share/zoneinfo";
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return rc_err_set(err, -RC_ELIMIT, "", "time-zone path too long");
    r = ctl_read_file(path, TZ_FILE_MAX, &buf, &len, err);
    if (r < 0)
        return rc_err_set(err, -RC_ENOTFOUND, "", "unknown time zone \"%s\"", name);
    name_copy = strdup(name);
    if (!name_copy) {
        free(buf);
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    }
    if (parse_tzif((const unsigned char *)buf, len, ret) < 0) {
        free(buf);
        free(name_copy);
        return rc_err_set(err, -RC_EPROTO, "", "%s: not a TZif v2 file", path);
    }
    free(buf);
    ret->name = name_copy;
    return 0;
}

void ctl_tz_release(struct rc_tz *tz)
{
    if (!tz)
        return;
    free((char *)tz->name);
    free((int64_t *)tz->at_ms);
    free((int32_t *)tz->offset_s);
    memset(tz, 0, sizeof(*tz));
}

static int have_zone(const struct ctl_zones *z, const char *name)
{
    for (size_t i = 0; i < z->n; i++)
        if (strcmp(z->zones[i].name, name) == 0)
            return 1;
    return 0;
}

int ctl_zones_load(const struct rc_desired *want, struct ctl_zones *ret, struct rc_errs *errs)
{
    const char *dir = getenv("TZDIR");
    int r = 0;

    memset(ret, 0, sizeof(*ret));
    for (size_t i = 0; i < want->n_policies; i++) {
        const struct rc_expiry_policy *ep = &want->policies[i];

        for (size_t w = 0; w < ep->spec.n_windows; w++) {
            const char *name = ep->spec.windows[w].time_zone;
            struct rc_err err = {0};
            struct rc_tz tz;
            struct rc_tz *v;

            if (!name || strcmp(name, "UTC") == 0 || have_zone(ret, name))
                continue;
            if (ctl_tz_load(dir, name, &tz, &err) < 0) {
                char path[64];

                snprintf(path, sizeof(path), "spec.maintenanceWindows[%zu].timeZone", w);
                rc_errs_add(errs, ep->meta.origin.file, ep->meta.origin.line, ep->meta.origin.col,
                            path, "%s", err.msg);
                r = -RC_ENOTFOUND;
                continue;
            }
            v = realloc(ret->zones, (ret->n + 1) * sizeof(*v));
            if (!v) {
                ctl_tz_release(&tz);
                return -RC_ENOMEM;
            }
            ret->zones = v;
            ret->zones[ret->n++] = tz;
        }
    }
    return r;
}

void ctl_zones_release(struct ctl_zones *z)
{
    if (!z)
        return;
    for (size_t i = 0; i < z->n; i++)
        ctl_tz_release(&z->zones[i]);
    free(z->zones);
    memset(z, 0, sizeof(*z));
}
