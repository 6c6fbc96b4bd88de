/* simurl.c - see simurl.h. */
#include "simurl.h"

#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void simurl_pct_decode(char *s, bool plus)
{
    char *o = s;

    for (; *s; s++) {
        if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else if (plus && *s == '+') {
            *o++ = ' ';
        } else {
            *o++ = *s;
        }
    }
    *o = 0;
}

int simurl_query(char *q, const char **names, const char **values, int max)
{
    char *save = NULL;
    int n = 0;

    for (char *kv = strtok_r(q, "&", &save); kv && n < max; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');

        if (eq)
            *eq++ = 0;
        simurl_pct_decode(kv, true);
        if (eq)
            simurl_pct_decode(eq, true);
        names[n] = kv;
        values[n] = eq ? eq : "";
        n++;
    }
    return n;
}
