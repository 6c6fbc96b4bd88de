/*
 * simcerts.c - the test worlds' TLS material (armsim, kubesim): a CA (<dir>/ca.pem, ca.key) and
 * a server certificate (<dir>/server.pem, server.key; subjectAltName IP:127.0.0.1 and
 * DNS:localhost, because Python's ssl and libcurl ignore the CN) made with OpenSSL's C API.
 * Existing files are reused, so a client that trusted ca.pem keeps working across restarts with
 * the same directory.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "simcerts.h"

static EVP_PKEY *make_key(void)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    if (!c)
        return NULL;
    if (EVP_PKEY_keygen_init(c) <= 0 ||
        EVP_PKEY_CTX_set_ec_paramgen_curve_nid(c, NID_X9_62_prime256v1) <= 0 ||
        EVP_PKEY_keygen(c, &k) <= 0)
        k = NULL;
    EVP_PKEY_CTX_free(c);
    return k;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex)
        return -1;
    int r = X509_add_ext(cert, ex, -1) ? 0 : -1;
    X509_EXTENSION_free(ex);
    return r;
}

static X509 *make_cert(const char *org, EVP_PKEY *key, const char *cn, X509 *issuer,
                       EVP_PKEY *issuer_key, bool ca, long serial)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509 *iss = issuer ? issuer : x;
    int r = 0;
    if (ca) {
        r |= add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE");
        r |= add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
        r |= add_ext(x, iss, NID_subject_key_identifier, "hash");
    } else {
        r |= add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE");
        r |= add_ext(x, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment");
        r |= add_ext(x, iss, NID_ext_key_usage, "serverAuth");
        r |= add_ext(x, iss, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
        r |= add_ext(x, iss, NID_subject_key_identifier, "hash");
        r |= add_ext(x, iss, NID_authority_key_identifier, "keyid:always");
    }
    if (r || !X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256())) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    if (key)
        chmod(path, 0600);
    int ok =
        cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

int simcerts_ensure(const char *dir, const char *org, char *err, size_t errsize)
{
    char ca_pem[1024], ca_key[1024], srv_pem[1024], srv_key[1024], ca_cn[64];

    snprintf(ca_cn, sizeof(ca_cn), "%s test CA", org);
    snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", dir);
    snprintf(ca_key, sizeof(ca_key), "%s/ca.key", dir);
    snprintf(srv_pem, sizeof(srv_pem), "%s/server.pem", dir);
    snprintf(srv_key, sizeof(srv_key), "%s/server.key", dir);
    if (access(ca_pem, R_OK) == 0 && access(srv_pem, R_OK) == 0 && access(srv_key, R_OK) == 0)
        return 0;
    mkdir(dir, 0700);
    EVP_PKEY *cak = make_key(), *sk = make_key();
    X509 *cac = cak ? make_cert(org, cak, ca_cn, NULL, NULL, true, 1) : NULL;
    X509 *sc = (sk && cac) ? make_cert(org, sk, "localhost", cac, cak, false, 2) : NULL;
    int r = -1;
    if (!sc) {
        snprintf(err, errsize, "certificate generation failed");
    } else if (write_pem(ca_pem, cac, NULL) || write_pem(ca_key, NULL, cak) ||
               write_pem(srv_pem, sc, NULL) || write_pem(srv_key, NULL, sk)) {
        snprintf(err, errsize, "cannot write certificates into %s", dir);
    } else {
        r = 0;
    }
    X509_free(sc);
    X509_free(cac);
    EVP_PKEY_free(sk);
    EVP_PKEY_free(cak);
    return r;
}
