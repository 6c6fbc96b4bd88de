/*
 * main.c - kubesim command line (kubesim.h describes the interface):
 *   kubesim --port P --dir D [--tls] [--bookmark-seconds N] [--history N]
 * Writes D/kubeconfig before printing the "listening" line; SIGTERM/SIGINT: clean exit 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "kubesim.h"
#include "simcerts.h"

static void usage(void)
{
    fprintf(stderr, "usage: kubesim --port P --dir D [--tls] [--bookmark-seconds N] "
                    "[--history N] [--state FILE] [--token T] [--rbac]\n");
}

static int write_kubeconfig(const struct ks_config *cfg)
{
    char path[1100], ca[1100];
    char *ca_b64 = NULL;
    if (cfg->tls) {
        snprintf(ca, sizeof(ca), "%s/ca.pem", cfg->dir);
        FILE *f = fopen(ca, "rb");
        if (!f)
            return -1;
        char pem[16384];
        size_t n = fread(pem, 1, sizeof(pem) - 1, f);
        fclose(f);
        size_t cap = n * 2 + 16;
        ca_b64 = malloc(cap);
        if (!ca_b64 || lws_b64_encode_string(pem, (int)n, ca_b64, (int)cap) < 0) {
            free(ca_b64);
            return -1;
        }
    }
    snprintf(path, sizeof(path), "%s/kubeconfig", cfg->dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        free(ca_b64);
        return -1;
    }
    fprintf(f,
            "apiVersion: v1\n"
            "kind: Config\n"
            "clusters:\n"
            "- name: kubesim\n"
            "  cluster:\n"
            "    server: %s://127.0.0.1:%d\n",
            cfg->tls ? "https" : "http", cfg->port);
    if (ca_b64)
        fprintf(f, "    certificate-authority-data: %s\n", ca_b64);
    fprintf(f,
            "users:\n"
            "- name: kubesim\n"
            "  user:\n"
            "    token: %s\n"
            "contexts:\n"
            "- name: kubesim\n"
            "  context:\n"
            "    cluster: kubesim\n"
            "    user: kubesim\n"
            "    namespace: default\n"
            "current-context: kubesim\n",
            cfg->token ? cfg->token : "kubesim-token");
    free(ca_b64);
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct ks_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.bookmark_seconds = 10;
    cfg.history = 10000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return 0;
        }
        if (!strcmp(a, "--tls")) {
            cfg.tls = true;
            continue;
        }
        if (!strcmp(a, "--rbac")) {
            cfg.rbac = true;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 1;
        }
        i++;
        if (!strcmp(a, "--port"))
            cfg.port = atoi(v);
        else if (!strcmp(a, "--dir"))
            cfg.dir = v;
        else if (!strcmp(a, "--bookmark-seconds"))
            cfg.bookmark_seconds = atoi(v);
        else if (!strcmp(a, "--token"))
            cfg.token = v;
        else if (!strcmp(a, "--state"))
            cfg.state = v;
        else if (!strcmp(a, "--history"))
            cfg.history = (size_t)strtoull(v, NULL, 10);
        else {
            fprintf(stderr, "kubesim: unknown option %s\n", a);
            usage();
            return 1;
        }
    }
    bool token_ok =
        !cfg.token || (*cfg.token && strlen(cfg.token) <= 200 &&
                       strspn(cfg.token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
                                         "rstuvwxyz0123456789._-") == strlen(cfg.token));
    if (cfg.port <= 0 || cfg.port > 65535 || !cfg.dir || strlen(cfg.dir) > 1000 || !token_ok) {
        usage();
        return 1;
    }
    mkdir(cfg.dir, 0700);
    if (cfg.tls) {
        char err[256];
        if (simcerts_ensure(cfg.dir, "kubesim", err, sizeof(err)) < 0) {
            fprintf(stderr, "kubesim: %s\n", err);
            return 1;
        }
    }
    if (write_kubeconfig(&cfg) < 0) {
        fprintf(stderr, "kubesim: cannot write %s/kubeconfig\n", cfg.dir);
        return 1;
    }
    ks_store_init(cfg.history);
    if (cfg.state && access(cfg.state, R_OK) == 0) {
        char err[512];
        if (ks_store_load(cfg.state, err, sizeof(err)) < 0) {
            fprintf(stderr, "kubesim: cannot load state %s\n", err);
            ks_store_release();
            return 1;
        }
    }
    ks_api_init();
    int rc = ks_server_run(&cfg);
    if (rc == 0 && cfg.state && ks_store_save(cfg.state) < 0) {
        fprintf(stderr, "kubesim: cannot save state to %s\n", cfg.state);
        rc = -1;
    }
    ks_api_release();
    ks_store_release();
    return rc == 0 ? 0 : 1;
}
