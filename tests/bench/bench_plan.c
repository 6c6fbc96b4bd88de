/*
 * bench_plan.c - planning 10,000 pools of 10 instances each (issue: make bench).
 *
 * Builds the desired state by decoding 10,000 WorkerPool documents and an
 * observed world in which every pool is converged (a Uniform scale set of 10
 * Ready instances on the target image, tagged as Azpool tags them), then times
 * one rc_plan over everything. A converged world must plan zero actions; the
 * bench says so when it does not (then the figures measure the wrong thing).
 *
 * Prints: total ms (best of 5 runs, wall clock) and ns per instance, the
 * median of the 5 runs, the best run's process CPU time (steadier than wall
 * time on a loaded machine), peak RSS (whole process, inputs included), RSS
 * once the inputs are built and RSS added by planning. Targets: <= 100 ms for
 * 100,000 instances on one core, <= 64 MB peak RSS.
 *
 * Memory notes: the YAML text is freed after decoding and each pool's ARM
 * JSON after rc_observe_arm(), so the inputs held during planning are the two
 * models. rc_decode_yaml() parses every document of a buffer before decoding
 * them (~34 MB of node trees for these 10,000 documents, freed but left in
 * the heap, where the observed model then reuses it); a GitOps tree decoded
 * file by file (ctl_source.c) does not have that peak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rc_arm.h"
#include "rc_model.h"
#include "rc_observed.h"
#include "rc_plan.h"
#include "rc_util.h"

#define POOLS    10000
#define PER_POOL 10
#define NOW_MS   1795428000000LL /* 2026-11-23T10:00:00Z */
#define IMAGE                                                                                      \
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-images/providers/"      \
    "Microsoft.Compute/galleries/g/images/ubuntu/versions/1.5.0"

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static long peak_rss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static long current_rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;

    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * 4;
}

static char *build_manifests(size_t *ret_len)
{
    size_t cap = (size_t)POOLS * 1024, len = 0;
    char *buf = malloc(cap);

    if (!buf)
        return NULL;
    for (int i = 0; i < POOLS; i++) {
        int n =
            snprintf(buf + len, cap - len,
                     "---\napiVersion: azpool.dev/v1alpha1\nkind: WorkerPool\n"
                     "metadata: {name: pool-%05d, namespace: bench}\n"
                     "spec:\n  subscriptionId: 11111111-2222-3333-4444-555555555555\n"
                     "  resourceGroup: rg-bench\n  location: westeurope\n"
                     "  vmSize: Standard_D2s_v5\n  replicas: %d\n  image: {id: %s}\n"
                     "  network: {subnetId: /subscriptions/11111111-2222-3333-4444-555555555555/"
                     "resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v/"
                     "subnets/workers}\n",
                     i, PER_POOL, IMAGE);
        if (n < 0 || (size_t)n >= cap - len) {
            free(buf);
            return NULL;
        }
        len += (size_t)n;
    }
    *ret_len = len;
    return buf;
}

/* One converged pool, as ARM returns it, added through the real decoder. */
static int add_pool_world(struct rc_observed *have, const struct rc_pool *p)
{
    char vmss_id[RC_ARM_ID_MAX], hash[32], ts[RC_TIME_MAX];
    json_t *list, *vmss, *tags;
    struct rc_errs errs = {0};
    int r;

    if (rc_arm_vmss_id(p, vmss_id, sizeof(vmss_id)) < 0)
        return -1;
    rc_arm_spec_hash(p, hash, sizeof(hash));
    rc_time_format(NOW_MS - 3600 * 1000, ts, sizeof(ts));
    tags = rc_arm_tags(p, IMAGE, NOW_MS - 3600 * 1000, 0);
    if (!tags) {
        fprintf(stderr, "bench_plan: rc_arm_tags failed\n");
        return -1;
    }
    json_object_set_new(tags, RC_TAG_SPEC_HASH, json_string(hash));
    vmss = json_pack("{s:s, s:s, s:s, s:s, s:o, s:{s:s, s:s, s:I}, s:{s:s, s:s, s:s, "
                     "s:{s:{s:{s:s}}}}}",
                     "id", vmss_id, "name", strrchr(vmss_id, '/') + 1, "type",
                     "Microsoft.Compute/virtualMachineScaleSets", "location", "westeurope", "tags",
                     tags, "sku", "name", "Standard_D2s_v5", "tier", "Standard", "capacity",
                     (json_int_t)PER_POOL, "properties", "orchestrationMode", "Uniform",
                     "provisioningState", "Succeeded", "timeCreated", ts, "virtualMachineProfile",
                     "storageProfile", "imageReference", "id", IMAGE);
    list = json_pack("{s:[o]}", "value", vmss);
    if (!list) {
        fprintf(stderr, "bench_plan: json_pack of the scale set failed\n");
        return -1;
    }
    for (int i = 0; i < PER_POOL; i++) {
        char id[RC_ARM_ID_MAX + 32], name[160], iid[16];
        json_t *vm;

        snprintf(iid, sizeof(iid), "%d", i);
        snprintf(id, sizeof(id), "%s/virtualMachines/%d", vmss_id, i);
        snprintf(name, sizeof(name), "%s_%d", strrchr(vmss_id, '/') + 1, i);
        vm = json_pack("{s:s, s:s, s:s, s:s, s:{s:b, s:s, s:s, s:{s:{s:s}}, "
                       "s:{s:[{s:s},{s:s}]}}}",
                       "id", id, "name", name, "instanceId", iid, "type",
                       "Microsoft.Compute/virtualMachineScaleSets/virtualMachines", "properties",
                       "latestModelApplied", 1, "provisioningState", "Succeeded", "timeCreated", ts,
                       "storageProfile", "imageReference", "id", IMAGE, "instanceView", "statuses",
                       "code", "ProvisioningState/succeeded", "code", "PowerState/running");
        json_array_append_new(json_object_get(list, "value"), vm);
    }
    r = rc_observe_arm(have, list, &errs);
    if (errs.n) {
        char line[1024];

        rc_err_format(&errs.v[0], line, sizeof(line));
        fprintf(stderr, "bench_plan: observe: %s\n", line);
        r = -1;
    }
    json_decref(list);
    rc_errs_release(&errs);
    return r;
}

int main(void)
{
    struct rc_desired want = {0};
    struct rc_observed have = {0};
    struct rc_errs errs = {0};
    struct rc_policy pol;
    struct rc_plan plan = {0};
    struct rc_err err = {0};
    size_t len = 0;
    char *yaml = build_manifests(&len);
    double t0, t1, c0, best = 1e18, best_cpu = 1e18, runs[5];
    long rss_before;

    if (!yaml || rc_decode_yaml(&want, "bench.yaml", yaml, len, &errs, NULL) < 0 ||
        want.n_pools != POOLS) {
        fprintf(stderr, "bench_plan: decoding the manifests failed (%zu errors, %zu pools)\n",
                errs.n, want.n_pools);
        if (errs.n) {
            char line[1024];

            rc_err_format(&errs.v[0], line, sizeof(line));
            fprintf(stderr, "bench_plan: first error: %s\n", line);
        }
        return 1;
    }
    free(yaml);
    for (size_t i = 0; i < want.n_pools; i++) {
        if (add_pool_world(&have, &want.pools[i]) < 0) {
            fprintf(stderr, "bench_plan: building the observed world failed\n");
            return 1;
        }
    }
    rc_policy_init(&pol);
    pol.collect_orphans = true;
    rss_before = current_rss_kb();
    /* Best of 5 runs: the figure is the planner's cost, not the machine's noise. */
    for (int run = 0; run < 5; run++) {
        rc_plan_release(&plan);
        t0 = now_ms();
        c0 = cpu_ms();
        if (rc_plan(&want, &have, &pol, NOW_MS, &plan, &err) < 0) {
            fprintf(stderr, "bench_plan: rc_plan failed: %s\n", err.msg);
            return 1;
        }
        t1 = now_ms();
        if (cpu_ms() - c0 < best_cpu)
            best_cpu = cpu_ms() - c0;
        runs[run] = t1 - t0;
        if (t1 - t0 < best)
            best = t1 - t0;
    }
    qsort(runs, 5, sizeof(runs[0]), dbl_cmp);
    printf("bench=plan pools=%d instances=%d total_ms=%.1f ns_per_instance=%.0f median_ms=%.1f "
           "cpu_ms=%.1f peak_rss_mb=%.1f inputs_rss_mb=%.1f plan_rss_added_mb=%.1f actions=%zu "
           "target_ms=100 target_rss_mb=64\n",
           POOLS, POOLS * PER_POOL, best, best * 1e6 / (POOLS * PER_POOL), runs[2], best_cpu,
           (double)peak_rss_kb() / 1024.0, (double)rss_before / 1024.0,
           (double)(peak_rss_kb() > rss_before ? peak_rss_kb() - rss_before : 0) / 1024.0,
           plan.n_actions);
    if (plan.n_actions != 0)
        printf("bench=plan warning=\"converged world planned %zu actions; figures are not "
               "steady-state\"\n",
               plan.n_actions);
    rc_plan_release(&plan);
    rc_observed_release(&have);
    rc_desired_release(&want);
    rc_errs_release(&errs);
    return 0;
}
