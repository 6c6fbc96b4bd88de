/*
 * rc_node.h - a document tree that remembers where every node came from.
 *
 * The decoder works on this tree, not on libyaml events or jansson values, so
 * that YAML files and Kubernetes JSON objects are validated by the same code
 * and every error can name file:line:col (1-based; 0 for JSON input).
 *
 * Scalars are typed as YAML 1.2's core schema types them (what Kubernetes'
 * YAML-to-JSON conversion does for the common cases):
 *   - quoted scalars ('x', "x"), block scalars (|, >) and scalars tagged !!str
 *     are strings: `"3"` is a string, 3 is an integer;
 *   - plain null, Null, NULL, ~ and the empty plain scalar are null;
 *   - plain true/false (also True, TRUE, False, FALSE) are booleans; YAML 1.1's
 *     yes/no/on/off are NOT booleans, they are strings;
 *   - plain [-+]?[0-9]+, 0x.. and 0o.. are integers (outside int64: float);
 *   - plain decimal/exponent numbers and .inf/.nan are floats;
 *   - explicit tags !!str, !!int, !!float, !!bool, !!null force the type (an
 *     impossible one, e.g. !!int abc, is an error); other tags are refused.
 * Mappings keep their key order and the position of every key; keys must be
 * scalars, and a key that appears twice is an error ("duplicate key").
 *
 * Anchors and aliases: an anchor alone is accepted (and ignored); an alias
 * (*name) is REFUSED with "YAML aliases are not supported". This is the
 * simplest defence against alias bombs, and manifests do not need them.
 *
 * Limits (rc_model.h): a document longer than RC_DOC_MAX_BYTES (measured with
 * the parser's mark offsets), nested deeper than RC_DOC_MAX_DEPTH (the root
 * collection is depth 1), or a stream with more than RC_DOCS_MAX documents
 * gives one clear error; the offending document is dropped, later documents
 * are still read (except after RC_DOCS_MAX and after a YAML syntax error,
 * from which libyaml cannot recover: parsing stops there).
 *
 * Ownership: rc_node_parse_yaml() returns an array of documents owned by the
 * caller (rc_node_docs_free); each root owns its whole subtree. Strings are
 * NUL-terminated heap copies. rc_node_from_json() returns a new tree
 * (rc_node_free). rc_node_to_json() returns a new json_t reference.
 */
#ifndef AZPOOL_RC_NODE_H
#define AZPOOL_RC_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rc_err.h"

enum rc_node_type {
    RC_NODE_NULL = 0,
    RC_NODE_BOOL,
    RC_NODE_INT,
    RC_NODE_FLOAT,
    RC_NODE_STRING,
    RC_NODE_SEQ,
    RC_NODE_MAP,
};

struct rc_node;

struct rc_node_pair {
    char *key;
    int line, col; /* position of the key */
    struct rc_node *value;
};

struct rc_node {
    enum rc_node_type type;
    int line, col;          /* position of the value (1-based; 0 when from JSON) */
    char *text;             /* scalars: the text as written ("" for null); NULL for collections */
    bool bval;              /* RC_NODE_BOOL */
    int64_t ival;           /* RC_NODE_INT */
    double dval;            /* RC_NODE_FLOAT (and RC_NODE_INT converted) */
    struct rc_node **items; /* RC_NODE_SEQ */
    size_t n_items, cap_items;
    struct rc_node_pair *pairs; /* RC_NODE_MAP, in document order */
    size_t n_pairs, cap_pairs;
};

/* One document of a stream that was read. Dropped documents (limits,
 * aliases) and empty ones are not returned. invalid: an error was reported for
 * this document (duplicate key, bad tag) but its tree is kept so that the
 * decoder can report its other errors too; it must not be used. */
struct rc_node_doc {
    struct rc_node *root;
    int line, col; /* position of the document start */
    bool invalid;
};

void rc_node_free(struct rc_node *n); /* NULL is fine */
void rc_node_docs_free(struct rc_node_doc *docs, size_t n);

/*
 * Parses every document of buf (len bytes; need not be NUL-terminated). Errors
 * (syntax, limits, duplicate keys, aliases) are appended to errs as
 * "file:line:col: PATH: MESSAGE" (PATH is the dotted path where known). file is
 * borrowed. Returns 0 when no error was added, -RC_EINVAL / -RC_ELIMIT /
 * -RC_EPROTO when one was, -RC_ENOMEM on allocation failure. The documents read
 * are returned in every case (*ret_docs may be NULL when *ret_n is 0).
 */
int rc_node_parse_yaml(const char *file, const char *buf, size_t len, struct rc_node_doc **ret_docs,
                       size_t *ret_n, struct rc_errs *errs);

/* Converts a jansson value (borrowed) into a tree with positions 0. Returns 0,
 * -RC_ELIMIT when nested deeper than RC_DOC_MAX_DEPTH (error added to errs with
 * file), or -RC_ENOMEM. */
int rc_node_from_json(const json_t *v, const char *file, struct rc_node **ret,
                      struct rc_errs *errs);

/* A new json_t reference holding the same value (NULL on ENOMEM). */
json_t *rc_node_to_json(const struct rc_node *n);

/* The value of key in a mapping (borrowed), NULL when absent or n is not a map. */
const struct rc_node *rc_node_get(const struct rc_node *n, const char *key);
/* The pair of key in a mapping, NULL when absent. */
const struct rc_node_pair *rc_node_pair_get(const struct rc_node *n, const char *key);

/* "a mapping", "a list", "a string", "an integer", ... for messages. */
const char *rc_node_type_name(enum rc_node_type t);

#endif
