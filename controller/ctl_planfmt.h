/*
 * ctl_planfmt.h - renders a plan for people (text, markdown for pull requests)
 * and for scripts (the Plan JSON of DESIGN.md §10).
 *
 * Output goes to a FILE* the caller owns. Plans never hold secret values (the
 * core puts only secret references into bodies), and bodies are not printed.
 */
#ifndef AZPOOL_CTL_PLANFMT_H
#define AZPOOL_CTL_PLANFMT_H

#include <stdio.h>

#include "rc_plan.h"

enum ctl_planfmt { CTL_PLAN_TEXT = 0, CTL_PLAN_MARKDOWN, CTL_PLAN_JSON };

/* Parses "text" | "markdown" | "json"; -1 when unknown. */
int ctl_planfmt_parse(const char *s);
/* Writes the plan; returns 0 or -RC_EIO / -RC_ENOMEM. */
int ctl_plan_write(FILE *out, const struct rc_plan *plan, enum ctl_planfmt fmt);

#endif
