/*
 * ctl_get.h - `azpool get wp|iv|ep [NAME] [-n NS] [-o wide|yaml|json] [--server URL]`:
 * prints what a running controller serves on /api/v1 (DESIGN.md §10), the way
 * kubectl prints custom resources.
 *
 * Kinds: wp|workerpool|workerpools, iv|imageversion|imageversions,
 * ep|expirypolicy|expirypolicies. Namespace defaults to "default"; the server
 * to http://127.0.0.1:9440 (the controller's default --listen).
 * Output: a table (NAME READY UPDATED STATUS AGE-less, since the API has no
 * creation time in GitOps mode; -o wide adds IMAGE and MESSAGE), or the
 * objects as JSON or YAML. Exit 0 on success, 1 on an error (unreachable
 * server, unknown kind, not found), with a one-line reason on stderr.
 */
#ifndef AZPOOL_CTL_GET_H
#define AZPOOL_CTL_GET_H

#include <stdio.h>

#include <jansson.h>

int ctl_get_main(int argc, char **argv);

/* Writes v as YAML (block style; strings quoted when YAML would read them as
 * something else). Exposed for tests. Returns 0 or -1 on a write error. */
int ctl_yaml_write(FILE *out, const json_t *v);

#endif
