/* test_util.c - durations, int-or-percent, RFC 3339, cron, hashing, UUIDv5, names, zones. */
#include "test_main.h"

#include <string.h>

#include "rc_plan.h"
#include "rc_util.h"

static int64_t T(const char *s)
{
    int64_t ms = 0;
    struct rc_err err = {0};

    assert_int_equal(rc_time_parse(s, &ms, &err), 0);
    return ms;
}

static int64_t D(const char *s)
{
    int64_t ms = -1;

    assert_int_equal(rc_duration_parse(s, &ms, NULL), 0);
    return ms;
}

/* ---- durations ---- */

static void test_duration_parse(void **state)
{
    (void)state;
    assert_int_equal(D("90s"), 90000);
    assert_int_equal(D("1h30m"), 5400000);
    assert_int_equal(D("1.5h"), 5400000);
    assert_int_equal(D("250ms"), 250);
    assert_int_equal(D("0"), 0);
    assert_int_equal(D("0s"), 0);
    assert_int_equal(D("168h"), 168LL * 3600000);
    assert_int_equal(D("1500us"), 1);
    assert_int_equal(D("2000000ns"), 2);
    assert_int_equal(D("1h0m0.5s"), 3600500);
    assert_int_equal(D("+5m"), 300000);
    assert_int_equal(D(".5s"), 500);
    assert_int_equal(D("10\xc2\xb5s"), 0);
}

static void test_duration_errors(void **state)
{
    static const char *bad[] = {"",
                                "-1s",
                                "5",
                                "10d",
                                "1x",
                                "h",
                                "s",
                                "1.s1",
                                "1h-5m",
                                "900000h",
                                "1e3s",
                                " 5s",
                                "5s ",
                                ".s",
                                "+",
                                "-0",
                                "140100971210100971020ms",
                                "99999999999999999999h"};
    int64_t ms;
    struct rc_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        if (rc_duration_parse(bad[i], &ms, &err) != -RC_EINVAL)
            fail_msg("duration \"%s\" was accepted", bad[i]);
        assert_true(err.msg[0] != '\0');
    }
    /* 100 years is the limit */
    assert_int_equal(rc_duration_parse("876000h", &ms, NULL), 0);
    assert_int_equal(rc_duration_parse("876001h", &ms, NULL), -RC_EINVAL);
}

static void test_duration_format(void **state)
{
    char b[32];

    (void)state;
    rc_duration_format(5400000, b, sizeof(b));
    assert_string_equal(b, "1h30m0s");
    rc_duration_format(250, b, sizeof(b));
    assert_string_equal(b, "250ms");
    rc_duration_format(0, b, sizeof(b));
    assert_string_equal(b, "0s");
    rc_duration_format(90000, b, sizeof(b));
    assert_string_equal(b, "1m30s");
    rc_duration_format(1500, b, sizeof(b));
    assert_string_equal(b, "1.5s");
    rc_duration_format(3600050, b, sizeof(b));
    assert_string_equal(b, "1h0m0.05s");
    rc_duration_format(-2000, b, sizeof(b));
    assert_string_equal(b, "-2s");
    rc_duration_format(876000LL * 3600000, b, sizeof(b));
    assert_string_equal(b, "876000h0m0s");
    assert_int_equal(D("876000h0m0s"), 876000LL * 3600000);
    /* round trip */
    assert_int_equal(D("1h0m0.05s"), 3600050);
}

/* ---- int or percent ---- */

static void test_intstr(void **state)
{
    struct rc_intstr v;
    char b[16];

    (void)state;
    assert_int_equal(rc_intstr_parse("25%", &v, NULL), 0);
    assert_true(v.set && v.is_percent && v.value == 25);
    /* maxSurge rounds up, maxUnavailable down */
    assert_int_equal(rc_intstr_resolve(&v, 10, true), 3);
    assert_int_equal(rc_intstr_resolve(&v, 10, false), 2);
    assert_int_equal(rc_intstr_resolve(&v, 4, true), 1);
    assert_int_equal(rc_intstr_resolve(&v, 4, false), 1);
    assert_int_equal(rc_intstr_resolve(&v, 3, false), 0);
    assert_int_equal(rc_intstr_resolve(&v, 0, true), 0);
    rc_intstr_format(&v, b, sizeof(b));
    assert_string_equal(b, "25%");

    assert_int_equal(rc_intstr_parse("3", &v, NULL), 0);
    assert_true(v.set && !v.is_percent && v.value == 3);
    assert_int_equal(rc_intstr_resolve(&v, 100, false), 3);
    rc_intstr_format(&v, b, sizeof(b));
    assert_string_equal(b, "3");

    assert_int_equal(rc_intstr_parse("100%", &v, NULL), 0);
    assert_int_equal(rc_intstr_resolve(&v, 7, false), 7);
    assert_int_equal(rc_intstr_parse("0%", &v, NULL), 0);
    assert_int_equal(rc_intstr_resolve(&v, 7, true), 0);

    static const char *bad[] = {"", "101%", "-1", "%", "25 %", "2.5%", "abc", "3x", "25%%"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (rc_intstr_parse(bad[i], &v, NULL) != -RC_EINVAL)
            fail_msg("intstr \"%s\" was accepted", bad[i]);
    v.set = false;
    assert_int_equal(rc_intstr_resolve(&v, 10, true), 0);
}

/* ---- time ---- */

static void test_time_parse(void **state)
{
    int64_t ms;
    char b[RC_TIME_MAX];

    (void)state;
    assert_int_equal(T("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(T("2026-11-23T10:00:00Z"), 1795428000000LL);
    /* Azure's 7-digit fraction with +00:00 */
    assert_int_equal(T("2021-06-27T01:02:38.3138469+00:00"), T("2021-06-27T01:02:38Z") + 313);
    assert_int_equal(T("2026-11-23T10:00:00.5Z"), 1795428000500LL);
    assert_int_equal(T("2026-11-23T15:30:00+05:30"), 1795428000000LL);
    assert_int_equal(T("2026-11-23T05:00:00-05:00"), 1795428000000LL);
    assert_int_equal(T("2026-11-23t10:00:00z"), 1795428000000LL);
    assert_int_equal(T("2024-02-29T00:00:00Z") - T("2024-02-28T00:00:00Z"), 86400000);
    /* Image Builder's "never" */
    assert_true(T("0001-01-01T00:00:00Z") < 0);

    static const char *bad[] = {"",
                                "2026-11-23",
                                "2026-11-23T10:00:00",
                                "2026-13-01T00:00:00Z",
                                "2025-02-29T00:00:00Z",
                                "2026-11-23T24:00:00Z",
                                "2026-11-23T10:00:60Z",
                                "2026-11-23T10:00:00.Z",
                                "2026-11-23T10:00:00+0500",
                                "2026-11-23T10:00:00Zjunk",
                                "26-11-23T10:00:00Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (rc_time_parse(bad[i], &ms, NULL) != -RC_EINVAL)
            fail_msg("time \"%s\" was accepted", bad[i]);

    rc_time_format(1795428000000LL, b, sizeof(b));
    assert_string_equal(b, "2026-11-23T10:00:00Z");
    rc_time_format(1795428000123LL, b, sizeof(b));
    assert_string_equal(b, "2026-11-23T10:00:00.123Z");
    rc_time_format(-1, b, sizeof(b));
    assert_string_equal(b, "1969-12-31T23:59:59.999Z");
    rc_time_format(T("0001-01-01T00:00:00Z"), b, sizeof(b));
    assert_string_equal(b, "0001-01-01T00:00:00Z");
}

static void test_civil(void **state)
{
    int64_t y;
    unsigned m, d;

    (void)state;
    assert_int_equal(rc_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(rc_days_from_civil(2000, 3, 1), 11017);
    rc_civil_from_days(-1, &y, &m, &d);
    assert_true(y == 1969 && m == 12 && d == 31);
    for (int64_t days = -800000; days < 800000; days += 997) {
        rc_civil_from_days(days, &y, &m, &d);
        assert_int_equal(rc_days_from_civil(y, m, d), days);
    }
}

/* ---- cron ---- */

static void test_cron_parse(void **state)
{
    struct rc_cron c;
    struct rc_err err = {0};

    (void)state;
    assert_int_equal(rc_cron_parse("*/15 2 * * 1-5", &c, NULL), 0);
    assert_int_equal(c.minutes, (1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45));
    assert_int_equal(c.hours, 1u << 2);
    assert_int_equal(c.wdays, 0x3e);
    assert_true(c.mday_star && !c.wday_star);
    assert_int_equal(rc_cron_parse("0-30/10 0 1,15 jan-MAR sun", &c, NULL), 0);
    assert_int_equal(c.minutes, 1ULL | 1ULL << 10 | 1ULL << 20 | 1ULL << 30);
    assert_int_equal(c.months, 0xe);
    assert_int_equal(c.mdays, (1u << 1) | (1u << 15));
    assert_int_equal(c.wdays, 1);
    assert_int_equal(rc_cron_parse("0 0 * * 7", &c, NULL), 0);
    assert_int_equal(c.wdays, 1); /* 7 = Sunday */
    assert_int_equal(rc_cron_parse("0 0 * * 5-7", &c, NULL), 0);
    assert_int_equal(c.wdays, 0x61);
    assert_int_equal(rc_cron_parse("5/20 * * * *", &c, NULL), 0);
    assert_int_equal(c.minutes, 1ULL << 5 | 1ULL << 25 | 1ULL << 45);
    assert_int_equal(rc_cron_parse("@daily", &c, NULL), 0);
    assert_int_equal(c.minutes, 1);
    assert_int_equal(c.hours, 1);
    assert_int_equal(rc_cron_parse("@weekly", &c, NULL), 0);
    assert_int_equal(c.wdays, 1);
    assert_false(c.wday_star);
    assert_int_equal(rc_cron_parse("@hourly", &c, NULL), 0);
    assert_int_equal(c.hours, 0xffffff);
    assert_int_equal(rc_cron_parse("  0   4\t* *   *  ", &c, NULL), 0);
    assert_int_equal(c.hours, 1u << 4);
    assert_int_equal(rc_cron_parse("0 0 * * */2", &c, NULL), 0);
    assert_int_equal(c.wdays, 0x55); /* sun tue thu sat */

    static const char *bad[] = {
        "",          "* * * *",      "* * * * * *", "60 * * * *",  "* 24 * * *",
        "* * 0 * *", "* * * 13 *",   "* * * * 8",   "5-1 * * * *", "*/0 * * * *",
        "a * * * *", "1,,2 * * * *", "@never",      "* * * foo *"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (rc_cron_parse(bad[i], &c, &err) != -RC_EINVAL)
            fail_msg("cron \"%s\" was accepted", bad[i]);
}

static void test_cron_match_next(void **state)
{
    struct rc_cron c;
    int64_t t;

    (void)state;
    /* 2026-11-23 is a Monday */
    assert_int_equal(rc_cron_parse("0 2 * * 1-5", &c, NULL), 0);
    assert_true(rc_cron_match(&c, T("2026-11-23T02:00:00Z"), 0));
    assert_true(rc_cron_match(&c, T("2026-11-23T02:00:59Z"), 0));
    assert_false(rc_cron_match(&c, T("2026-11-23T02:01:00Z"), 0));
    assert_false(rc_cron_match(&c, T("2026-11-22T02:00:00Z"), 0)); /* Sunday */
    /* Europe/Berlin in winter: 02:00 local = 01:00Z */
    assert_true(rc_cron_match(&c, T("2026-11-23T01:00:00Z"), 3600));

    assert_int_equal(rc_cron_next(&c, T("2026-11-23T10:00:00Z"), 0, &t), 0);
    assert_int_equal(t, T("2026-11-24T02:00:00Z"));
    /* at or after: an exact match is returned, a partial minute rounds up */
    assert_int_equal(rc_cron_next(&c, T("2026-11-24T02:00:00Z"), 0, &t), 0);
    assert_int_equal(t, T("2026-11-24T02:00:00Z"));
    assert_int_equal(rc_cron_next(&c, T("2026-11-24T02:00:00.001Z"), 0, &t), 0);
    assert_int_equal(t, T("2026-11-25T02:00:00Z"));
    /* Friday evening -> Monday, with an offset zone */
    assert_int_equal(rc_cron_next(&c, T("2026-11-27T12:00:00Z"), 3600, &t), 0);
    assert_int_equal(t, T("2026-11-30T01:00:00Z"));

    /* across a month and a year */
    assert_int_equal(rc_cron_parse("30 4 1 * *", &c, NULL), 0);
    assert_int_equal(rc_cron_next(&c, T("2026-11-23T10:00:00Z"), 0, &t), 0);
    assert_int_equal(t, T("2026-12-01T04:30:00Z"));
    assert_int_equal(rc_cron_next(&c, T("2026-12-01T04:31:00Z"), 0, &t), 0);
    assert_int_equal(t, T("2027-01-01T04:30:00Z"));
    /* Feb 29 only: next is in 2028, beyond 366 days from late 2026 */
    assert_int_equal(rc_cron_parse("0 0 29 2 *", &c, NULL), 0);
    assert_int_equal(rc_cron_next(&c, T("2026-11-23T10:00:00Z"), 0, &t), -RC_ENOTFOUND);
    assert_int_equal(rc_cron_next(&c, T("2027-06-01T00:00:00Z"), 0, &t), 0);
    assert_int_equal(t, T("2028-02-29T00:00:00Z"));

    /* dom and dow both restricted: either matches (1st of month OR a Friday) */
    assert_int_equal(rc_cron_parse("0 0 1 * fri", &c, NULL), 0);
    assert_int_equal(rc_cron_next(&c, T("2026-11-23T10:00:00Z"), 0, &t), 0);
    assert_int_equal(t, T("2026-11-27T00:00:00Z"));
    assert_int_equal(rc_cron_next(&c, T("2026-11-28T00:00:00Z"), 0, &t), 0);
    assert_int_equal(t, T("2026-12-01T00:00:00Z"));
    /* dom restricted, dow "*": only the dom */
    assert_int_equal(rc_cron_parse("0 0 1 * *", &c, NULL), 0);
    assert_int_equal(rc_cron_next(&c, T("2026-11-23T10:00:00Z"), 0, &t), 0);
    assert_int_equal(t, T("2026-12-01T00:00:00Z"));
    /* "*\/2" in dom counts as star (Vixie): AND with dow */
    assert_int_equal(rc_cron_parse("0 0 */2 * 1", &c, NULL), 0);
    assert_true(rc_cron_match(&c, T("2026-11-23T00:00:00Z"), 0));  /* Monday the 23rd */
    assert_false(rc_cron_match(&c, T("2026-11-30T00:00:00Z"), 0)); /* Monday, but even */
    assert_false(rc_cron_match(&c, T("2026-11-25T00:00:00Z"), 0)); /* odd, but Wednesday */
    /* weekday range wrapping the week end via a list */
    assert_int_equal(rc_cron_parse("0 22 * * sat,sun", &c, NULL), 0);
    assert_int_equal(rc_cron_next(&c, T("2026-11-23T10:00:00Z"), 0, &t), 0);
    assert_int_equal(t, T("2026-11-28T22:00:00Z"));

    /* prev */
    assert_int_equal(rc_cron_parse("0 2 * * *", &c, NULL), 0);
    assert_int_equal(rc_cron_prev(&c, T("2026-11-23T03:00:00Z"), 0, 0, &t), 0);
    assert_int_equal(t, T("2026-11-23T02:00:00Z"));
    assert_int_equal(rc_cron_prev(&c, T("2026-11-23T01:59:00Z"), 0, 0, &t), 0);
    assert_int_equal(t, T("2026-11-22T02:00:00Z"));
    assert_int_equal(rc_cron_prev(&c, T("2026-11-23T01:59:00Z"), 0, T("2026-11-22T02:00:01Z"), &t),
                     -RC_ENOTFOUND);
}

/* ---- hashing, UUIDv5 ---- */

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void test_hash(void **state)
{
    unsigned char h[20];
    char s[41];
    static const unsigned char dns[16] = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                          0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
    char u[37];

    (void)state;
    /* FNV-1a 64 reference values */
    assert_true(rc_hash64("", 0) == 0xcbf29ce484222325ULL);
    assert_true(rc_hash64_str("a") == 0xaf63dc4c8601ec8cULL);
    assert_true(rc_hash64_str("foobar") == 0x85944171f73967e8ULL);

    rc_sha1("abc", 3, h);
    hex(h, 20, s);
    assert_string_equal(s, "a9993e364706816aba3e25717850c26c9cd0d89d");
    rc_sha1("", 0, h);
    hex(h, 20, s);
    assert_string_equal(s, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    {
        const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        rc_sha1(m, strlen(m), h);
        hex(h, 20, s);
        assert_string_equal(s, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    }
    {
        static char mil[1000000];
        memset(mil, 'a', sizeof(mil));
        rc_sha1(mil, sizeof(mil), h);
        hex(h, 20, s);
        assert_string_equal(s, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    }

    rc_uuid5(dns, "python.org", u, sizeof(u));
    assert_string_equal(u, "886313e1-3b8a-5372-9b90-0c9aee199e5d");
    rc_uuid5(dns, "azpool.dev", u, sizeof(u));
    assert_string_equal(u, "0953c0bc-4fd5-5914-a609-69a5fbde5a0d");
    {
        unsigned char ns[16];
        /* rc_uuid_ns_azpool holds exactly those bytes */
        for (int i = 0, j = 0; i < 16; i++, j += 2) {
            if (u[j] == '-')
                j++;
            unsigned v;
            sscanf(u + j, "%2x", &v);
            ns[i] = (unsigned char)v;
        }
        assert_memory_equal(ns, rc_uuid_ns_azpool, 16);
    }
    rc_uuid5(rc_uuid_ns_azpool, "/subscriptions/x/vm1", u, sizeof(u));
    assert_string_equal(u, "ed6c1e7c-550c-5f96-8b2e-b388cbd2436d");
}

/* ---- names ---- */

static void test_names(void **state)
{
    char b[80], b2[80];
    unsigned slot, inc;

    (void)state;
    assert_int_equal(rc_name_vm("ops", "hw", 0, 10, RC_NAME_MAX, b, sizeof(b)), 0);
    assert_string_equal(b, "hw-0-a");
    assert_int_equal(rc_name_vm("ops", "hw", 12, 36 * 36, RC_HOST_MAX_WINDOWS, b, sizeof(b)), 0);
    assert_string_equal(b, "hw-12-100");
    assert_int_equal(rc_name_vm_parse("hw-12-100", &slot, &inc), 0);
    assert_int_equal(slot, 12);
    assert_int_equal(inc, 36 * 36);
    assert_int_equal(rc_name_vm_parse("hw-0-a", &slot, &inc), 0);
    assert_true(slot == 0 && inc == 10);
    assert_int_equal(rc_name_vm_parse("hw", &slot, &inc), -RC_EINVAL);
    assert_int_equal(rc_name_vm_parse("hw-a", &slot, &inc), -RC_EINVAL);
    assert_int_equal(rc_name_vm_parse("hw-x-1", &slot, &inc), -RC_EINVAL);
    assert_int_equal(rc_name_vm_parse("-1-1", &slot, &inc), -RC_EINVAL);
    assert_int_equal(rc_name_vm_parse("hw-1-", &slot, &inc), -RC_EINVAL);
    assert_int_equal(rc_name_vm_parse("vmss_0", &slot, &inc), -RC_EINVAL);

    /* Windows host names: at most 15, base shortened with its hash */
    assert_int_equal(
        rc_name_vm("automation", "hybrid-linux-workers", 3, 7, RC_HOST_MAX_WINDOWS, b, sizeof(b)),
        0);
    assert_true(strlen(b) <= 15);
    assert_int_equal(strncmp(b, "hybrid-", 7), 0);
    assert_int_equal(rc_name_vm_parse(b, &slot, &inc), 0);
    assert_true(slot == 3 && inc == 7);
    /* deterministic */
    assert_int_equal(
        rc_name_vm("automation", "hybrid-linux-workers", 3, 7, RC_HOST_MAX_WINDOWS, b2, sizeof(b2)),
        0);
    assert_string_equal(b, b2);
    /* same long name in another namespace, or a name differing only past the cut: different */
    assert_int_equal(
        rc_name_vm("other", "hybrid-linux-workers", 3, 7, RC_HOST_MAX_WINDOWS, b2, sizeof(b2)), 0);
    assert_string_not_equal(b, b2);
    assert_int_equal(
        rc_name_vm("automation", "hybrid-linux-workerz", 3, 7, RC_HOST_MAX_WINDOWS, b2, sizeof(b2)),
        0);
    assert_string_not_equal(b, b2);

    /* prefixes */
    assert_int_equal(rc_name_prefix("ops", "hw", true, b, sizeof(b)), 0);
    assert_string_equal(b, "hw");
    assert_int_equal(rc_name_prefix("ops", "hybrid-linux", true, b, sizeof(b)), 0);
    assert_int_equal(strlen(b), 9);
    assert_int_equal(strncmp(b, "hybr-", 5), 0);
    assert_int_equal(rc_name_prefix("ops", "hybrid-linux", false, b, sizeof(b)), 0);
    assert_string_equal(b, "hybrid-linux");
    /* truncation never leaves "--" before the hash */
    assert_int_equal(rc_name_prefix("ops", "abc-defgh", true, b, sizeof(b)), 0);
    assert_true(strlen(b) <= 9 && strstr(b, "--") == NULL);

    /* 64-character scale set names; many long names, no collisions */
    {
        char names[200][RC_NAME_MAX + 1];
        char pool[120];
        for (int i = 0; i < 200; i++) {
            snprintf(pool, sizeof(pool),
                     "a-very-long-pool-name-that-goes-on-and-on-past-the-limit-%03d", i);
            assert_int_equal(rc_name_vmss("ns", pool, names[i], sizeof(names[i])), 0);
            assert_true(strlen(names[i]) <= RC_NAME_MAX);
            for (int j = 0; j < i; j++)
                assert_string_not_equal(names[i], names[j]);
            assert_int_equal(rc_name_prefix("ns", pool, false, b, sizeof(b)), 0);
            assert_true(strlen(b) <= RC_PREFIX_MAX_LINUX);
        }
    }
    /* a 64-char name fits exactly; 65 gets a suffix */
    {
        char n64[65], n65[66];
        memset(n64, 'a', 64);
        n64[64] = '\0';
        memset(n65, 'a', 65);
        n65[65] = '\0';
        assert_int_equal(rc_name_vmss("ns", n64, b, sizeof(b)), 0);
        assert_string_equal(b, n64);
        assert_int_equal(rc_name_vmss("ns", n65, b, sizeof(b)), 0);
        assert_int_equal(strlen(b), 64);
        assert_int_equal(b[59], '-');
    }
    /* altered names (case, dots, leading digit) are made valid and hashed */
    assert_int_equal(rc_name_vmss("ns", "a.b", b, sizeof(b)), 0);
    assert_int_equal(rc_name_vmss("ns", "a-b", b2, sizeof(b2)), 0);
    assert_string_equal(b2, "a-b");
    assert_string_not_equal(b, b2);
    assert_int_equal(strncmp(b, "a-b-", 4), 0);
    assert_int_equal(rc_name_vmss("ns", "1pool", b, sizeof(b)), 0);
    assert_int_equal(b[0], 'p');

    /* no room for a base of 6 next to the suffix: refused, never cut into the suffix */
    assert_int_equal(
        rc_name_vm("ops", "hw", 123456789, 0xffffffffu, RC_HOST_MAX_WINDOWS, b, sizeof(b)),
        -RC_EINVAL);
    assert_int_equal(rc_name_vm("ops", "hw", 99999, 0xffffffffu, RC_NAME_MAX, b, sizeof(b)), 0);
    assert_string_equal(b, "hw-99999-1z141z3");
    assert_int_equal(rc_name_vm_parse(b, &slot, &inc), 0);
    assert_true(slot == 99999 && inc == 0xffffffffu);
    /* every Windows VM name of a long pool fits 15 and parses back */
    for (unsigned sl = 0; sl < 120; sl += 7) {
        for (unsigned in = 0; in < 50000; in += 4999) {
            assert_int_equal(rc_name_vm("automation", "windows-build-agents", sl, in,
                                        RC_HOST_MAX_WINDOWS, b, sizeof(b)),
                             0);
            assert_true(strlen(b) <= RC_HOST_MAX_WINDOWS);
            assert_true(b[0] >= 'a' && b[0] <= 'z');
            assert_int_equal(rc_name_vm_parse(b, &slot, &inc), 0);
            assert_true(slot == sl && inc == in);
        }
    }

    /* errors */
    assert_int_equal(rc_name_base("ns", "x", 5, b, sizeof(b)), -RC_EINVAL);
    assert_int_equal(rc_name_base("ns", "", 64, b, sizeof(b)), -RC_EINVAL);
    assert_int_equal(rc_name_base("ns", "abcdef", 64, b, 4), -RC_EINVAL);
}

static void test_strings(void **state)
{
    char b[4];
    char *d;

    (void)state;
    assert_int_equal(rc_strlcpy(b, "abcdef", sizeof(b)), 6);
    assert_string_equal(b, "abc");
    b[0] = 'x';
    assert_int_equal(rc_strlcpy(b, "abcdef", 0), 6);
    assert_int_equal(b[0], 'x'); /* size 0: nothing written */
    assert_int_equal(rc_strlcpy(b, "ab", sizeof(b)), 2);
    assert_string_equal(b, "ab");
    assert_int_equal(rc_strcasecmp("/Subscriptions/A", "/subscriptions/a"), 0);
    assert_true(rc_strcasecmp("a", "b") < 0);
    assert_true(rc_strcasecmp("ab", "a") > 0);
    assert_true(rc_strcasecmp(NULL, "a") < 0);
    d = rc_strdup("xyz");
    assert_string_equal(d, "xyz");
    free(d);
    assert_null(rc_strdup(NULL));
}

/* ---- zones ---- */

/* The string store: copies and interned strings stay valid and distinct as
 * it grows past many chunks; equal texts intern to one pointer; ownership
 * tells store memory from malloc'd memory; big strings get chunks of their
 * own; aligned zeroed blocks; free releases it all (ASan checks). */
static void test_strtab(void **state)
{
    struct rc_strtab *t = rc_strtab_new();
    char *ptrs[3000], big[10000], key[32];
    char *heap = rc_strdup("on the heap");
    const char *a, *b;
    int64_t *blk;

    (void)state;
    assert_non_null(t);
    assert_false(rc_strtab_owns(t, NULL));
    assert_false(rc_strtab_owns(NULL, heap));
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "string-%d", i);
        ptrs[i] = rc_strtab_dup(t, key, strlen(key));
        assert_non_null(ptrs[i]);
    }
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int k = 0; k < 200; k++) { /* ~2 MB: past the largest chunk size */
        char *d = rc_strtab_dup(t, big, strlen(big));

        assert_non_null(d);
        assert_true(rc_strtab_owns(t, d));
        assert_true(rc_strtab_owns(t, d + strlen(big)));
        assert_int_equal(strlen(d), strlen(big));
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "string-%d", i);
        assert_string_equal(ptrs[i], key);
        assert_true(rc_strtab_owns(t, ptrs[i]));
    }
    assert_false(rc_strtab_owns(t, heap));
    assert_ptr_not_equal(rc_strtab_dup(t, "x", 1), rc_strtab_dup(t, "x", 1));
    a = rc_strtab_intern(t, "Succeeded", 9);
    b = rc_strtab_intern(t, "Succeeded and more", 9); /* only the first 9 bytes */
    assert_ptr_equal(a, b);
    assert_string_equal(a, "Succeeded");
    assert_ptr_not_equal(a, rc_strtab_intern(t, "succeeded", 9)); /* exact compare */
    for (int i = 0; i < 2000; i++) { /* the set grows; earlier entries are found again */
        snprintf(key, sizeof(key), "v%d", i % 500);
        assert_string_equal(rc_strtab_intern(t, key, strlen(key)), key);
    }
    snprintf(key, sizeof(key), "v%d", 7);
    assert_ptr_equal(rc_strtab_intern(t, key, strlen(key)), rc_strtab_intern(t, "v7", 2));
    assert_ptr_equal(rc_strtab_intern(t, "", 0), rc_strtab_intern(t, "", 0));
    rc_strtab_dup(t, "odd", 3);
    blk = rc_strtab_alloc(t, 5 * sizeof(*blk));
    assert_non_null(blk);
    assert_int_equal((uintptr_t)blk % sizeof(int64_t), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(blk[i], 0);
    assert_true(rc_strtab_owns(t, blk));
    assert_true(rc_strtab_bytes(t) > 2000000);
    free(heap);
    rc_strtab_free(t);
    rc_strtab_free(NULL);
}

static void test_tz(void **state)
{
    static const int64_t at[] = {1774746000000LL /* 2026-03-29T01:00Z */,
                                 1792890000000LL /* 2026-10-25T01:00Z */};
    static const int32_t off[] = {7200, 3600};
    struct rc_tz berlin = {"Europe/Berlin", at, off, 2};
    struct rc_policy pol;
    int32_t s = -1;

    (void)state;
    rc_policy_init(&pol);
    assert_int_equal(pol.max_deletions, 1);
    assert_false(pol.collect_orphans);
    assert_int_equal(rc_tz_offset(&pol, NULL, 0, &s), 0);
    assert_int_equal(s, 0);
    assert_int_equal(rc_tz_offset(&pol, "UTC", 0, &s), 0);
    assert_int_equal(rc_tz_offset(&pol, "Europe/Berlin", 0, &s), -RC_ENOTFOUND);
    pol.zones = &berlin;
    pol.n_zones = 1;
    assert_int_equal(rc_tz_offset(&pol, "Europe/Berlin", T("2026-11-23T10:00:00Z"), &s), 0);
    assert_int_equal(s, 3600);
    assert_int_equal(rc_tz_offset(&pol, "europe/berlin", T("2026-07-01T00:00:00Z"), &s), 0);
    assert_int_equal(s, 7200);
    assert_int_equal(rc_tz_offset(&pol, "Europe/Berlin", T("2026-10-25T00:59:59Z"), &s), 0);
    assert_int_equal(s, 7200);
    assert_int_equal(rc_tz_offset(&pol, "Europe/Berlin", T("2026-10-25T01:00:00Z"), &s), 0);
    assert_int_equal(s, 3600);
    /* before the first transition: the first entry */
    assert_int_equal(rc_tz_offset(&pol, "Europe/Berlin", 0, &s), 0);
    assert_int_equal(s, 7200);
    assert_int_equal(rc_tz_offset(&pol, "Asia/Tokyo", 0, &s), -RC_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_duration_errors),
        cmocka_unit_test(test_duration_format),
        cmocka_unit_test(test_intstr),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_civil),
        cmocka_unit_test(test_cron_parse),
        cmocka_unit_test(test_cron_match_next),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_tz),
        cmocka_unit_test(test_strtab),
    };

    return az_run_tests("util", tests);
}
