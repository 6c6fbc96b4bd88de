/*
 * main.c - the azpool command line (DESIGN.md §10).
 *
 *   azpool validate PATH...                          exit 0 valid, 1 invalid
 *   azpool plan -f PATH [--observed FILE] [-o text|markdown|json]
 *                                                    exit 0 no changes, 2 changes, 1 error
 *   azpool run --source dir:PATH|kube [--kubeconfig F] [--context C] [--namespace N]
 *              [--selector L] [--cloud C] [--arm-endpoint URL] [--ca-file F]
 *              [--imds-endpoint URL] [--secrets-dir D] [--listen ADDR:PORT] [--resync DUR]
 *              [--events-queue URL] [--max-deletions N] [--allow-mass-delete] [--log-level L]
 *   azpool get wp|iv|ep [NAME] [-n NS] [-o wide|yaml|json] [--server URL]
 *   azpool version
 *
 * Extensions beyond §10 (documented in the README): plan accepts -f more than
 * once, --now RFC3339 (plan as of that time, for reproducible plans in CI),
 * --max-deletions N and --allow-mass-delete (the same guard `run` applies).
 *
 * Errors go to stderr, one per line, as FILE:LINE:COL: PATH: MESSAGE; results
 * go to stdout.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_get.h"
#include "ctl_planfmt.h"
#include "ctl_run.h"
#include "ctl_source.h"
#include "ctl_tz.h"
#include "log.h"
#include "rc_model.h"
#include "rc_observed.h"
#include "rc_plan.h"
#include "rc_util.h"

#define MAX_PATHS 64

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: azpool <command> [options]\n"
        "\n"
        "  validate PATH...                      check manifests offline (exit 1 on any error)\n"
        "  plan -f PATH [--observed FILE] [-o text|markdown|json] [--now TIME]\n"
        "       [--max-deletions N] [--allow-mass-delete]\n"
        "                                        show what Azpool would do (exit 0 no "
        "changes,\n"
        "                                        2 changes, 1 error)\n"
        "  version                               print the version\n");
}

static void print_errs(const struct rc_errs *errs, const char *prefix)
{
    char line[RC_ERR_FILE_MAX + RC_ERR_PATH_MAX + RC_ERR_MSG_MAX + 64];

    for (size_t i = 0; i < errs->n; i++) {
        rc_err_format(&errs->v[i], line, sizeof(line));
        fprintf(stderr, "%s%s\n", prefix, line);
    }
    if (errs->dropped)
        fprintf(stderr, "%s... and %zu more errors\n", prefix, errs->dropped);
}

static int cmd_validate(int argc, char **argv)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0}, notices = {0};
    int r;

    if (argc < 2) {
        fprintf(stderr, "azpool validate: no PATH given\n");
        usage(stderr);
        return 1;
    }
    r = ctl_load_manifests(argv + 1, (size_t)argc - 1, &want, &errs, &notices);
    rc_errs_sort(&errs);
    print_errs(&notices, "notice: ");
    print_errs(&errs, "");
    if (r == 0)
        printf("valid: %zu WorkerPool, %zu ImageVersion, %zu ExpiryPolicy\n", want.n_pools,
               want.n_images, want.n_policies);
    else
        fprintf(stderr, "invalid: %zu error%s\n", errs.n + errs.dropped,
                errs.n + errs.dropped == 1 ? "" : "s");
    rc_errs_release(&errs);
    rc_errs_release(&notices);
    rc_desired_release(&want);
    return r == 0 ? 0 : 1;
}

static int load_observed(const char *file, struct rc_observed *have)
{
    struct rc_errs errs = {0};
    struct rc_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    int r;

    if (ctl_read_file(file, CTL_FILE_MAX, &buf, &len, &err) < 0) {
        rc_errs_push(&errs, &err);
        r = -1;
    } else {
        r = rc_observe_arm_text(have, file, buf, len, &errs);
    }
    if (errs.n) {
        /* A plan against a partly understood world could delete or duplicate:
         * refuse it. */
        print_errs(&errs, "");
        r = -1;
    }
    free(buf);
    rc_errs_release(&errs);
    return r;
}

static int64_t wall_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmd_plan(int argc, char **argv)
{
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},
        {"observed", required_argument, NULL, 'O'},
        {"output", required_argument, NULL, 'o'},
        {"now", required_argument, NULL, 'n'},
        {"max-deletions", required_argument, NULL, 'm'},
        {"allow-mass-delete", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    char *paths[MAX_PATHS];
    size_t n_paths = 0;
    const char *observed = NULL;
    int fmt = CTL_PLAN_TEXT;
    int64_t now = 0;
    struct rc_policy pol;
    struct rc_desired want = {0};
    struct rc_observed have = {0};
    struct rc_errs errs = {0}, notices = {0};
    struct ctl_zones zones = {0};
    struct rc_plan plan = {0};
    struct rc_err err = {0};
    int c, rc = 1;

    rc_policy_init(&pol);
    pol.collect_orphans = true; /* the given paths are the whole desired state */
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (n_paths == MAX_PATHS) {
                fprintf(stderr, "azpool plan: at most %d -f paths\n", MAX_PATHS);
                return 1;
            }
            paths[n_paths++] = optarg;
            break;
        case 'O':
            observed = optarg;
            break;
        case 'o':
            fmt = ctl_planfmt_parse(optarg);
            if (fmt < 0) {
                fprintf(stderr, "azpool plan: -o must be text, markdown or json, not \"%s\"\n",
                        optarg);
                return 1;
            }
            break;
        case 'n':
            if (rc_time_parse(optarg, &now, &err) < 0) {
                fprintf(stderr, "azpool plan: --now: %s\n", err.msg);
                return 1;
            }
            break;
        case 'm': {
            char *end;
            long v = strtol(optarg, &end, 10);

            if (*end || v < 0 || v > 1000000) {
                fprintf(stderr, "azpool plan: --max-deletions must be a number >= 0\n");
                return 1;
            }
            pol.max_deletions = (int)v;
            break;
        }
        case 'a':
            pol.allow_mass_delete = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc || n_paths == 0) {
        fprintf(stderr, "azpool plan: give the manifests with -f PATH\n");
        usage(stderr);
        return 1;
    }
    if (ctl_load_manifests(paths, n_paths, &want, &errs, &notices) < 0)
        goto out;
    if (observed && load_observed(observed, &have) < 0)
        goto out;
    if (ctl_zones_load(&want, &zones, &errs) == -RC_ENOMEM)
        goto out;
    pol.zones = zones.zones;
    pol.n_zones = zones.n;
    if (now == 0)
        now = wall_clock_ms();
    if (rc_plan(&want, &have, &pol, now, &plan, &err) < 0) {
        char line[1024];

        rc_err_format(&err, line, sizeof(line));
        fprintf(stderr, "azpool plan: %s\n", line);
        goto out;
    }
    if (ctl_plan_write(stdout, &plan, (enum ctl_planfmt)fmt) < 0) {
        fprintf(stderr, "azpool plan: cannot write the plan\n");
        goto out;
    }
    rc = plan.n_actions ? 2 : 0;
out:
    rc_errs_sort(&errs);
    print_errs(&notices, "notice: ");
    print_errs(&errs, "");
    rc_plan_release(&plan);
    ctl_zones_release(&zones);
    rc_observed_release(&have);
    rc_desired_release(&want);
    rc_errs_release(&errs);
    rc_errs_release(&notices);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"source", required_argument, NULL, 's'},
        {"cloud", required_argument, NULL, 'c'},
        {"arm-endpoint", required_argument, NULL, 'e'},
        {"ca-file", required_argument, NULL, 'C'},
        {"imds-endpoint", required_argument, NULL, 'i'},
        {"state-dir", required_argument, NULL, 'S'},
        {"secrets-dir", required_argument, NULL, 'x'},
        {"listen", required_argument, NULL, 'l'},
        {"resync", required_argument, NULL, 'r'},
        {"events-queue", required_argument, NULL, 'q'},
        {"max-deletions", required_argument, NULL, 'm'},
        {"allow-mass-delete", no_argument, NULL, 'a'},
        {"log-level", required_argument, NULL, 'L'},
        {"kubeconfig", required_argument, NULL, 'k'},
        {"context", required_argument, NULL, 'K'},
        {"namespace", required_argument, NULL, 'n'},
        {"selector", required_argument, NULL, 'z'},
        {0, 0, 0, 0},
    };
    struct ctl_opts o;
    struct rc_err err = {0};
    int c, lvl;
    char *end;
    long v;

    ctl_opts_init(&o);
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (strncmp(optarg, "dir:", 4) == 0 && optarg[4]) {
                o.source_dir = optarg + 4;
                o.source_kube = false;
            } else if (strcmp(optarg, "kube") == 0) {
                o.source_kube = true;
                o.source_dir = NULL;
            } else {
                fprintf(stderr, "azpool run: --source %s: give dir:PATH or kube\n", optarg);
                return 1;
            }
            break;
        case 'k':
            o.kubeconfig = optarg;
            break;
        case 'K':
            o.context = optarg;
            break;
        case 'n':
            o.namespace = optarg;
            break;
        case 'z':
            o.selector = optarg;
            break;
        case 'c':
            o.cloud = optarg;
            break;
        case 'e':
            o.arm_endpoint = optarg;
            break;
        case 'C':
            o.ca_file = optarg;
            break;
        case 'i':
            o.imds_endpoint = optarg;
            break;
        case 'x':
            o.secrets_dir = optarg;
            break;
        case 'l':
            o.listen = optarg;
            break;
        case 'r':
            if (rc_duration_parse(optarg, &o.resync_ms, &err) < 0 || o.resync_ms < 1000) {
                fprintf(stderr, "azpool run: --resync must be a duration of at least 1s\n");
                return 1;
            }
            break;
        case 'm':
            v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 1000000) {
                fprintf(stderr, "azpool run: --max-deletions must be a number >= 0\n");
                return 1;
            }
            o.max_deletions = (int)v;
            break;
        case 'a':
            o.allow_mass_delete = true;
            break;
        case 'L':
            lvl = log_level_parse(optarg);
            if (lvl < 0) {
                fprintf(stderr, "azpool run: --log-level must be debug, info, warn or error\n");
                return 1;
            }
            o.log_level = lvl;
            break;
        case 'S':
            o.state_dir = optarg;
            break;
        case 'q':
            o.events_queue = optarg;
            break;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc || (!o.source_dir && !o.source_kube)) {
        fprintf(stderr, "azpool run: give the source with --source dir:PATH or --source kube\n");
        return 1;
    }
    if (!o.source_kube && (o.kubeconfig || o.context || o.namespace || o.selector)) {
        fprintf(stderr, "azpool run: --kubeconfig, --context, --namespace and --selector "
                        "need --source kube\n");
        return 1;
    }
    return ctl_run(&o);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("azpool %s\n", AZPOOL_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "validate") == 0)
        return cmd_validate(argc - 1, argv + 1);
    if (strcmp(argv[1], "plan") == 0)
        return cmd_plan(argc - 1, argv + 1);
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "get") == 0)
        return ctl_get_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "azpool: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 1;
}
