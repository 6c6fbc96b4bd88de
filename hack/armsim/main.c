/*
 * main.c - armsim command line:
 *   armsim --port P --dir D [--imds-port Q] [--time-scale N] [--seed S] [--faults SPEC]
 *          [--state FILE] [--page-size N] [--provision-seconds N]
 * Prints exactly one line "armsim listening on https://127.0.0.1:P" on stdout when ready.
 * SIGTERM/SIGINT: clean exit 0, saving the world to --state FILE when given (loaded at start).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "armsim_int.h"
#include "simcerts.h"

static void usage(void)
{
    fprintf(stderr, "usage: armsim --port P --dir D [--imds-port Q] [--time-scale N] [--seed S]\n"
                    "              [--faults SPEC] [--state FILE] [--page-size N]\n"
                    "              [--provision-seconds N]\n"
                    "faults SPEC: RULE[;RULE...], RULE = [METHOD ]GLOB:KIND=VALUE[,KIND=VALUE...]\n"
                    "  KIND: 500|503|429|reset (probability 0..1), latency (ms)\n"
                    "  e.g. 'PUT /subscriptions/*:503=0.1,latency=50'\n");
}

static int load_key(struct armsim *sim, const char *dir)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/token.key", dir);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, sim->token_key, sizeof(sim->token_key));
        close(fd);
        if (n == (ssize_t)sizeof(sim->token_key))
            return 0;
    }
    int rfd = open("/dev/urandom", O_RDONLY);
    if (rfd < 0)
        return -1;
    ssize_t n = read(rfd, sim->token_key, sizeof(sim->token_key));
    close(rfd);
    if (n != (ssize_t)sizeof(sim->token_key))
        return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    n = write(fd, sim->token_key, sizeof(sim->token_key));
    close(fd);
    return n == (ssize_t)sizeof(sim->token_key) ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct as_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.time_scale = 1;
    cfg.seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        }
        if (!v) {
            usage();
            return 1;
        }
        i++;
        if (strcmp(a, "--port") == 0)
            cfg.port = atoi(v);
        else if (strcmp(a, "--imds-port") == 0)
            cfg.imds_port = atoi(v);
        else if (strcmp(a, "--dir") == 0)
            cfg.dir = v;
        else if (strcmp(a, "--time-scale") == 0)
            cfg.time_scale = strtod(v, NULL);
        else if (strcmp(a, "--seed") == 0)
            cfg.seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--faults") == 0)
            cfg.faults = v;
        else if (strcmp(a, "--state") == 0)
            cfg.state_file = v;
        else if (strcmp(a, "--page-size") == 0)
            cfg.page_size = atoi(v);
        else if (strcmp(a, "--provision-seconds") == 0)
            cfg.provision_ms = (int64_t)(strtod(v, NULL) * 1000);
        else {
            fprintf(stderr, "armsim: unknown option %s\n", a);
            usage();
            return 1;
        }
    }
    if (cfg.port <= 0 || cfg.port > 65535 || !cfg.dir || cfg.imds_port < 0 ||
        cfg.imds_port > 65535 || !(cfg.time_scale > 0)) {
        usage();
        return 1;
    }
    struct armsim *sim = armsim_new(&cfg);
    if (!sim)
        return 1;
    if (load_key(sim, cfg.dir) < 0) {
        char err[256];
        if (simcerts_ensure(cfg.dir, "armsim", err, sizeof(err)) < 0 ||
            load_key(sim, cfg.dir) < 0) {
            fprintf(stderr, "armsim: cannot create %s/token.key: %s\n", cfg.dir, strerror(errno));
            armsim_free(sim);
            return 1;
        }
    }
    if (cfg.state_file && access(cfg.state_file, R_OK) == 0) {
        json_error_t jerr;
        json_t *s = json_load_file(cfg.state_file, 0, &jerr);
        if (!s || armsim_restore(sim, s) < 0) {
            fprintf(stderr, "armsim: cannot load state %s: %s\n", cfg.state_file, jerr.text);
            json_decref(s);
            armsim_free(sim);
            return 1;
        }
        json_decref(s);
    }
    int rc = armsim_run(sim);
    if (rc == 0 && cfg.state_file) {
        json_t *s = armsim_snapshot(sim);
        char tmp[1100];
        snprintf(tmp, sizeof(tmp), "%s.tmp", cfg.state_file);
        if (!s || json_dump_file(s, tmp, JSON_COMPACT) < 0 || rename(tmp, cfg.state_file) < 0) {
            fprintf(stderr, "armsim: cannot save state to %s\n", cfg.state_file);
            rc = -1;
        }
        json_decref(s);
    }
    armsim_free(sim);
    return rc == 0 ? 0 : 1;
}
