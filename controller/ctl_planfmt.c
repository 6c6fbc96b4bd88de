/* ctl_planfmt.c - see ctl_planfmt.h. */
#include "ctl_planfmt.h"

#include <string.h>

#include "rc_err.h"

int ctl_planfmt_parse(const char *s)
{
    if (strcmp(s, "text") == 0)
        return CTL_PLAN_TEXT;
    if (strcmp(s, "markdown") == 0 || strcmp(s, "md") == 0)
        return CTL_PLAN_MARKDOWN;
    if (strcmp(s, "json") == 0)
        return CTL_PLAN_JSON;
    return -1;
}

static char verb_sign(enum rc_verb v)
{
    switch (v) {
    case RC_VERB_CREATE:
    case RC_VERB_REGISTER:
        return '+';
    case RC_VERB_DELETE:
    case RC_VERB_DEREGISTER:
        return '-';
    case RC_VERB_RUN:
        return '>';
    default:
        return '~';
    }
}

/* "virtualMachineScaleSets/runners" from a full ARM id: the last type/name pair,
 * or the last two pairs for child resources such as extensions. */
static const char *short_target(const char *id)
{
    const char *p = id + strlen(id);
    int slashes = 0;

    while (p > id) {
        p--;
        if (*p == '/' && ++slashes == 2)
            return p + 1;
    }
    return id;
}

static size_t pool_actions(const struct rc_plan *plan, const char *pool)
{
    size_t n = 0;

    for (size_t i = 0; i < plan->n_actions; i++)
        if (strcmp(plan->actions[i].pool, pool) == 0)
            n++;
    return n;
}

static void write_instances(FILE *out, const struct rc_action *a, const char *sep_open,
                            const char *sep_close)
{
    if (a->n_instances == 0)
        return;
    fputs(sep_open, out);
    for (size_t k = 0; k < a->n_instances; k++)
        fprintf(out, "%s%s", k ? ", " : "", a->instances[k]);
    fputs(sep_close, out);
}

/* Pools with no status entry but with actions (orphans) come after the others. */
static void write_text(FILE *out, const struct rc_plan *plan)
{
    size_t pools_changed = 0;

    for (size_t p = 0; p < plan->n_pools; p++) {
        const struct rc_pool_status *st = &plan->pools[p];
        size_t n = pool_actions(plan, st->pool);

        if (n == 0) {
            fprintf(out, "%s: no changes (%s%s%s)\n", st->pool, st->reason ? st->reason : "Ready",
                    st->message ? ": " : "", st->message ? st->message : "");
            continue;
        }
        pools_changed++;
        fprintf(out, "%s: %zu change%s\n", st->pool, n, n == 1 ? "" : "s");
        for (size_t i = 0; i < plan->n_actions; i++) {
            const struct rc_action *a = &plan->actions[i];

            if (strcmp(a->pool, st->pool) != 0)
                continue;
            fprintf(out, "  %c %-10s %s", verb_sign(a->verb), rc_verb_name(a->verb), a->target);
            if (a->has_count)
                fprintf(out, " count=%lld", (long long)a->count);
            write_instances(out, a, " instances=[", "]");
            fprintf(out, "\n      %s\n", a->reason ? a->reason : "");
        }
        if (st->message)
            fprintf(out, "  status: %s: %s\n", st->reason ? st->reason : "", st->message);
    }
    /* Actions of pools that are not in the desired state (orphan collection). */
    for (size_t i = 0; i < plan->n_actions; i++) {
        const struct rc_action *a = &plan->actions[i];
        int known = 0;

        for (size_t p = 0; p < plan->n_pools && !known; p++)
            known = strcmp(plan->pools[p].pool, a->pool) == 0;
        if (known)
            continue;
        if (i == 0 || strcmp(plan->actions[i - 1].pool, a->pool) != 0) {
            size_t n = pool_actions(plan, a->pool);

            /* Image builds are keyed "ImageVersion/ns/name"; other keys without a
             * status entry are pools whose manifest is gone. */
            if (strncmp(a->pool, "ImageVersion/", 13) != 0)
                pools_changed++;
            fprintf(out, "%s: %zu change%s%s\n", a->pool, n, n == 1 ? "" : "s",
                    strncmp(a->pool, "ImageVersion/", 13) == 0 ? " (image build)"
                                                               : " (no longer declared)");
        }
        fprintf(out, "  %c %-10s %s", verb_sign(a->verb), rc_verb_name(a->verb), a->target);
        write_instances(out, a, " instances=[", "]");
        fprintf(out, "\n      %s\n", a->reason ? a->reason : "");
    }
    if (plan->n_actions == 0)
        fprintf(out, "No changes. Azure matches the manifests.\n");
    else
        fprintf(out, "Plan: %zu change%s in %zu pool%s.\n", plan->n_actions,
                plan->n_actions == 1 ? "" : "s", pools_changed, pools_changed == 1 ? "" : "s");
}

/* Markdown table cells must not contain '|' or newlines. */
static void md_cell(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

static void write_markdown(FILE *out, const struct rc_plan *plan)
{
    const char *last = NULL;

    fprintf(out, "### Azpool plan: %zu change%s\n\n", plan->n_actions,
            plan->n_actions == 1 ? "" : "s");
    if (plan->n_actions == 0) {
        fprintf(out, "No changes. Azure matches the manifests.\n");
        return;
    }
    for (size_t i = 0; i < plan->n_actions; i++) {
        const struct rc_action *a = &plan->actions[i];

        if (!last || strcmp(last, a->pool) != 0) {
            size_t n = pool_actions(plan, a->pool);

            fprintf(out, "%s#### `%s` (%zu change%s)\n\n", last ? "\n" : "", a->pool, n,
                    n == 1 ? "" : "s");
            fprintf(out, "| | verb | target | count | instances | reason |\n");
            fprintf(out, "|---|---|---|---|---|---|\n");
            last = a->pool;
        }
        fprintf(out, "| %c | %s | `", verb_sign(a->verb), rc_verb_name(a->verb));
        md_cell(out, short_target(a->target));
        fputs("` | ", out);
        if (a->has_count)
            fprintf(out, "%lld", (long long)a->count);
        fputs(" | ", out);
        write_instances(out, a, "", "");
        fputs(" | ", out);
        md_cell(out, a->reason);
        fputs(" |\n", out);
    }
}

int ctl_plan_write(FILE *out, const struct rc_plan *plan, enum ctl_planfmt fmt)
{
    json_t *j;
    int r;

    switch (fmt) {
    case CTL_PLAN_TEXT:
        write_text(out, plan);
        break;
    case CTL_PLAN_MARKDOWN:
        write_markdown(out, plan);
        break;
    case CTL_PLAN_JSON:
        j = rc_plan_to_json(plan);
        if (!j)
            return -RC_ENOMEM;
        r = json_dumpf(j, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(j);
        if (r < 0)
            return -RC_EIO;
        fputc('\n', out);
        break;
    }
    return ferror(out) ? -RC_EIO : 0;
}
