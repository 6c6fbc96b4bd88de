/*
 * test_get.c - the YAML writer behind `azpool get -o yaml` (controller/ctl_get.h):
 * whatever it writes reads back, through the project's own YAML parser (YAML
 * 1.2 core schema, reconcile/rc_node.h), as exactly the JSON it was given.
 */
#include "test_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_get.h"
#include "rc_node.h"

static char *to_yaml(const json_t *v)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    assert_int_equal(ctl_yaml_write(f, v), 0);
    fclose(f);
    return buf;
}

static void assert_round_trip(const char *json)
{
    json_t *in = json_loads(json, 0, NULL);
    struct rc_node_doc *docs = NULL;
    struct rc_errs errs = {0};
    size_t n = 0;
    char *yaml;
    json_t *out;

    assert_non_null(in);
    yaml = to_yaml(in);
    assert_int_equal(rc_node_parse_yaml("t.yaml", yaml, strlen(yaml), &docs, &n, &errs), 0);
    assert_int_equal(n, 1);
    out = rc_node_to_json(docs[0].root);
    if (!json_equal(in, out)) {
        char *a = json_dumps(in, JSON_SORT_KEYS), *b = json_dumps(out, JSON_SORT_KEYS);

        print_message("in:  %s\nout: %s\nyaml:\n%s\n", a, b, yaml);
        free(a);
        free(b);
        fail();
    }
    json_decref(in);
    json_decref(out);
    free(yaml);
    rc_node_docs_free(docs, n);
    rc_errs_release(&errs);
}

/* Strings YAML would read as something else are quoted; structure survives. */
static void test_yaml_round_trip(void **state)
{
    (void)state;
    assert_round_trip("{\"status\": {\"conditions\": [{\"type\": \"Ready\", \"status\": "
                      "\"True\"}], \"replicas\": 3, \"ratio\": 0.5}}");
    assert_round_trip("{\"a\": \"3\", \"b\": \"no\", \"c\": \"\", \"d\": \"x: y\", "
                      "\"e\": \"#hash\", \"f\": \"- dash\", \"g\": \"null\", \"h\": \"1e3\", "
                      "\"i\": \" lead\", \"j\": \"multi\\nline\", \"k\": \"caf\\u00e9\", "
                      "\"l\": null, \"m\": true, \"n\": -7}");
    assert_round_trip("{\"empty_map\": {}, \"empty_list\": [], \"nested\": [[1, 2], [], "
                      "[{\"x\": {\"y\": [\"z\"]}}]], \"objs\": [{\"a\": 1, \"b\": {\"c\": 2}}]}");
    assert_round_trip("{\"key with: colon\": 1, \"true\": \"false\", \"0\": \"zero\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_round_trip),
    };
    return az_run_tests("get", tests);
}
