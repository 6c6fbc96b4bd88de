/*
 * simurl.h - request-target parsing shared by the test worlds (hack/armsim, hack/kubesim):
 * percent-decoding and splitting a query string, in place.
 *
 * Both work on the caller's buffer: the returned names and values point into it.
 */
#ifndef AZPOOL_SIMURL_H
#define AZPOOL_SIMURL_H

#include <stdbool.h>

/* Decodes %XX in place; with plus, '+' becomes ' ' (query strings). Malformed escapes stay. */
void simurl_pct_decode(char *s, bool plus);

/* Splits "a=1&b&c=x%20y" (modified in place) into at most max decoded pairs; a name without
 * '=' gets the value "". Returns the number of pairs. */
int simurl_query(char *q, const char **names, const char **values, int max);

#endif
