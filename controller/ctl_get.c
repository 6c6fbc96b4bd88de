/* ctl_get.c - see ctl_get.h. */
#include "ctl_get.h"

#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "http.h"
#include "rc_err.h"

struct kind {
    const char *names[3];
    const char *resource; /* path segment */
};

static const struct kind kinds[] = {
    {{"wp", "workerpool", "workerpools"}, "workerpools"},
    {{"iv", "imageversion", "imageversions"}, "imageversions"},
    {{"ep", "expirypolicy", "expirypolicies"}, "expirypolicies"},
};

struct fetch {
    bool done;
    long status;
    char *body;
    struct rc_err err;
};

static void on_fetched(void *arg, const struct http_response *resp)
{
    struct fetch *f = arg;

    f->done = true;
    f->status = resp->status;
    f->err = resp->err;
    f->body = strndup(resp->body, resp->body_len);
}

/* GET url on a private loop; returns the body (new) or NULL with err set. */
static char *get_url(const char *url, long *ret_status, struct rc_err *err)
{
    uv_loop_t loop;
    struct http_opts opts = {.timeout_ms = 10000, .connect_timeout_ms = 3000};
    struct http *h;
    struct fetch f = {0};
    static const char *const hdrs[] = {"Accept: application/json"};

    uv_loop_init(&loop);
    h = http_new(&loop, &opts);
    if (!h || http_request(h, "GET", url, hdrs, 1, NULL, 0, on_fetched, &f, err) < 0) {
        if (!h)
            rc_err_set(err, -RC_ENOMEM, "", "cannot start an HTTP client");
        http_free(h);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return NULL;
    }
    while (!f.done)
        uv_run(&loop, UV_RUN_ONCE);
    http_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (f.err.code) {
        *err = f.err;
        free(f.body);
        return NULL;
    }
    *ret_status = f.status;
    return f.body;
}

/* ---- YAML ---- */

static bool plain_ok(const char *s)
{
    static const char *const reserved[] = {"true", "false", "null",  "yes",  "no",  "on", "off",
                                           "~",    "True",  "False", "Null", "Yes", "No", "On",
                                           "Off",  "TRUE",  "FALSE", "NULL", "YES", "NO"};
    char *end;

    if (!*s || isspace((unsigned char)s[0]) || isspace((unsigned char)s[strlen(s) - 1]))
        return false;
    if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
        return false;
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcmp(s, reserved[i]) == 0)
            return false;
    strtod(s, &end);
    if (*end == '\0')
        return false; /* would read back as a number */
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == '#' || (*p == ':' && (p[1] == ' ' || !p[1])))
            return false;
    }
    return true;
}

static void put_scalar(FILE *out, const json_t *v)
{
    if (json_is_string(v)) {
        char *q;

        if (plain_ok(json_string_value(v))) {
            fputs(json_string_value(v), out);
            return;
        }
        q = json_dumps(v, JSON_ENCODE_ANY);
        fputs(q ? q : "\"\"", out);
        free(q);
    } else if (json_is_integer(v)) {
        fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        fprintf(out, "%.17g", json_real_value(v));
    } else if (json_is_true(v)) {
        fputs("true", out);
    } else if (json_is_false(v)) {
        fputs("false", out);
    } else {
        fputs("null", out);
    }
}

static void put_str(FILE *out, const char *s)
{
    json_t *v = json_string(s);

    put_scalar(out, v);
    json_decref(v);
}

static bool is_empty_container(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

static void emit(FILE *out, const json_t *v, int indent, int depth)
{
    const char *k;
    json_t *m;
    size_t i;

    if (depth > 64) {
        fputs("null\n", out);
        return;
    }
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, m)
        {
            fprintf(out, "%*s", indent, "");
            put_str(out, k);
            if ((json_is_object(m) || json_is_array(m)) && !is_empty_container(m)) {
                fputs(":\n", out);
                emit(out, m, json_is_array(m) ? indent : indent + 2, depth + 1);
            } else {
                fputs(": ", out);
                if (is_empty_container(m))
                    fputs(json_is_object(m) ? "{}" : "[]", out);
                else
                    put_scalar(out, m);
                fputc('\n', out);
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m)
        {
            fprintf(out, "%*s- ", indent, "");
            if (json_is_object(m) && json_object_size(m)) {
                /* First key on the dash line, the rest aligned under it. */
                char *buf = NULL;
                size_t len = 0;
                FILE *tmp = open_memstream(&buf, &len);

                if (!tmp)
                    return;
                emit(tmp, m, indent + 2, depth + 1);
                fclose(tmp);
                fputs(buf + indent + 2, out);
                free(buf);
            } else if (json_is_array(m) && json_array_size(m)) {
                fputc('\n', out);
                emit(out, m, indent + 2, depth + 1);
            } else {
                if (is_empty_container(m))
                    fputs(json_is_object(m) ? "{}" : "[]", out);
                else
                    put_scalar(out, m);
                fputc('\n', out);
            }
        }
    } else {
        fprintf(out, "%*s", indent, "");
        put_scalar(out, v);
        fputc('\n', out);
    }
}

int ctl_yaml_write(FILE *out, const json_t *v)
{
    emit(out, v, 0, 0);
    return ferror(out) ? -1 : 0;
}

/* ---- table ---- */

static const char *str_at(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);

    if (b)
        v = json_object_get(v, b);
    return json_is_string(v) ? json_string_value(v) : "";
}

static const json_t *ready_cond(const json_t *obj)
{
    size_t i;
    json_t *c;

    json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, c)
    {
        if (strcmp(str_at(c, "type", NULL), "Ready") == 0)
            return c;
    }
    return NULL;
}

static void print_table(const json_t *items, bool pools, bool wide)
{
    size_t i;
    json_t *it;

    if (pools)
        printf("%-32s %-7s %-8s %-24s%s\n", "NAME", "READY", "UPDATED", "STATUS",
               wide ? " IMAGE MESSAGE" : "");
    else
        printf("%-32s %-24s%s\n", "NAME", "STATUS", wide ? " MESSAGE" : "");
    json_array_foreach(items, i, it)
    {
        const json_t *st = json_object_get(it, "status");
        const json_t *rc = ready_cond(it);
        const char *status = rc ? str_at(rc, "reason", NULL) : "";
        char ready[32];

        if (!*status)
            status = st ? "Unknown" : "Pending";
        if (pools) {
            snprintf(ready, sizeof(ready), "%lld/%lld",
                     (long long)json_integer_value(json_object_get(st, "readyReplicas")),
                     (long long)json_integer_value(json_object_get(st, "desiredReplicas")));
            printf("%-32s %-7s %-8lld %-24s", str_at(it, "metadata", "name"), ready,
                   (long long)json_integer_value(json_object_get(st, "updatedReplicas")), status);
            if (wide)
                printf(" %s %s", str_at(st, "targetImage", NULL),
                       rc ? str_at(rc, "message", NULL) : "");
        } else {
            printf("%-32s %-24s", str_at(it, "metadata", "name"), status);
            if (wide)
                printf(" %s", rc ? str_at(rc, "message", NULL) : "");
        }
        printf("\n");
    }
}

static void usage(FILE *out)
{
    fprintf(out, "usage: azpool get wp|iv|ep [NAME] [-n NAMESPACE] [-o wide|yaml|json] "
                 "[--server URL]\n");
}

int ctl_get_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"namespace", required_argument, NULL, 'n'},
        {"output", required_argument, NULL, 'o'},
        {"server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *ns = "default", *output = "", *server = "http://127.0.0.1:9440";
    const char *kind_arg = NULL, *name = NULL;
    const struct kind *kind = NULL;
    struct rc_err err = {0};
    json_error_t jerr;
    json_t *doc, *items;
    char url[2048], *body;
    long status = 0;
    int c, rc = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "n:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            ns = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc)
        kind_arg = argv[optind++];
    if (optind < argc)
        name = argv[optind++];
    if (!kind_arg || optind < argc) {
        usage(stderr);
        return 1;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && !kind; i++)
        for (int k = 0; k < 3; k++)
            if (strcasecmp(kind_arg, kinds[i].names[k]) == 0)
                kind = &kinds[i];
    if (!kind) {
        fprintf(stderr, "azpool get: unknown kind \"%s\" (wp, iv or ep)\n", kind_arg);
        return 1;
    }
    if (*output && strcmp(output, "wide") && strcmp(output, "yaml") && strcmp(output, "json")) {
        fprintf(stderr, "azpool get: -o must be wide, yaml or json\n");
        return 1;
    }
    snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s/%s%s%s", server, ns, kind->resource,
             name ? "/" : "", name ? name : "");
    body = get_url(url, &status, &err);
    if (!body) {
        fprintf(stderr, "azpool get: %s: %s\n", server, err.msg);
        return 1;
    }
    if (status == 404) {
        fprintf(stderr, "azpool get: %s \"%s\" not found in namespace \"%s\"\n", kind->resource,
                name ? name : "", ns);
        free(body);
        return 1;
    }
    doc = json_loads(body, 0, &jerr);
    free(body);
    if (status != 200 || !json_is_object(doc)) {
        fprintf(stderr, "azpool get: %s answered HTTP %ld\n", server, status);
        json_decref(doc);
        return 1;
    }
    if (strcmp(output, "json") == 0) {
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    } else if (strcmp(output, "yaml") == 0) {
        rc = ctl_yaml_write(stdout, doc) < 0 ? 1 : 0;
    } else {
        items = name ? json_pack("[O]", doc) : json_incref(json_object_get(doc, "items"));
        if (!items || json_array_size(items) == 0)
            fprintf(stderr, "No resources found in %s namespace.\n", ns);
        else
            print_table(items, kind == &kinds[0], strcmp(output, "wide") == 0);
        json_decref(items);
    }
    json_decref(doc);
    return rc;
}
