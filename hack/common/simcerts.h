/*
 * simcerts.h - TLS material for the test worlds (hack/armsim, hack/kubesim), shared so both
 * simulators make their CA and server certificate the same way.
 */
#ifndef AZPOOL_SIMCERTS_H
#define AZPOOL_SIMCERTS_H

#include <stddef.h>

/* Creates <dir>/ca.pem, ca.key, server.pem and server.key unless they exist; org names the
 * certificates' organisation ("armsim"). Returns 0, or -1 with a message in err. */
int simcerts_ensure(const char *dir, const char *org, char *err, size_t errsize);

#endif
