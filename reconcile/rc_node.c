/* rc_node.c - see rc_node.h. */
#include "rc_node.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "rc_model.h"
#include "rc_util.h"

/* A mapping with more keys than this is refused: duplicate detection compares
 * key hashes linearly, and no manifest needs that many keys. */
#define NODE_MAX_KEYS 10000

#define TAG_PREFIX "tag:yaml.org,2002:"

const char *rc_node_type_name(enum rc_node_type t)
{
    switch (t) {
    case RC_NODE_NULL:
        return "null";
    case RC_NODE_BOOL:
        return "a boolean";
    case RC_NODE_INT:
        return "an integer";
    case RC_NODE_FLOAT:
        return "a number";
    case RC_NODE_STRING:
        return "a string";
    case RC_NODE_SEQ:
        return "a list";
    case RC_NODE_MAP:
        return "a mapping";
    }
    return "unknown";
}

void rc_node_free(struct rc_node *n)
{
    size_t i;

    if (!n)
        return;
    for (i = 0; i < n->n_items; i++)
        rc_node_free(n->items[i]);
    for (i = 0; i < n->n_pairs; i++) {
        free(n->pairs[i].key);
        rc_node_free(n->pairs[i].value);
    }
    free(n->items);
    free(n->pairs);
    free(n->text);
    free(n);
}

void rc_node_docs_free(struct rc_node_doc *docs, size_t n)
{
    size_t i;

    if (!docs)
        return;
    for (i = 0; i < n; i++)
        rc_node_free(docs[i].root);
    free(docs);
}

const struct rc_node_pair *rc_node_pair_get(const struct rc_node *n, const char *key)
{
    size_t i;

    if (!n || n->type != RC_NODE_MAP)
        return NULL;
    for (i = 0; i < n->n_pairs; i++)
        if (strcmp(n->pairs[i].key, key) == 0)
            return &n->pairs[i];
    return NULL;
}

const struct rc_node *rc_node_get(const struct rc_node *n, const char *key)
{
    const struct rc_node_pair *p = rc_node_pair_get(n, key);

    return p ? p->value : NULL;
}

static struct rc_node *node_new(enum rc_node_type type, int line, int col)
{
    struct rc_node *n = calloc(1, sizeof(*n));

    if (!n)
        return NULL;
    n->type = type;
    n->line = line;
    n->col = col;
    return n;
}

static char *dupn(const char *s, size_t len)
{
    char *p = malloc(len + 1);

    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static int seq_append(struct rc_node *seq, struct rc_node *item)
{
    if (seq->n_items == seq->cap_items) {
        size_t cap = seq->cap_items ? seq->cap_items * 2 : 4;
        struct rc_node **v = realloc(seq->items, cap * sizeof(*v));

        if (!v)
            return -RC_ENOMEM;
        seq->items = v;
        seq->cap_items = cap;
    }
    seq->items[seq->n_items++] = item;
    return 0;
}

/* Takes key and value on success. */
static int map_append(struct rc_node *map, char *key, int line, int col, struct rc_node *value)
{
    if (map->n_pairs == map->cap_pairs) {
        size_t cap = map->cap_pairs ? map->cap_pairs * 2 : 4;
        struct rc_node_pair *v = realloc(map->pairs, cap * sizeof(*v));

        if (!v)
            return -RC_ENOMEM;
        map->pairs = v;
        map->cap_pairs = cap;
    }
    map->pairs[map->n_pairs].key = key;
    map->pairs[map->n_pairs].line = line;
    map->pairs[map->n_pairs].col = col;
    map->pairs[map->n_pairs].value = value;
    map->n_pairs++;
    return 0;
}

/* ---- scalar typing (YAML 1.2 core schema) ---- */

static bool is_null_text(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int bool_text(const char *s)
{
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return 1;
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return 0;
    return -1;
}

static bool all_digits(const char *s, int base)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        char c = *s;
        bool ok = (c >= '0' && c <= '9' && (base != 8 || c <= '7')) ||
                  (base == 16 && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
        if (!ok)
            return false;
    }
    return true;
}

/* Sets n to an integer when s is one. Returns true when s has integer syntax. */
static bool parse_int_text(const char *s, struct rc_node *n)
{
    const char *p = s;
    int base = 10;
    long long v;
    char *end;

    if (s[0] == '0' && s[1] == 'x') {
        base = 16;
        p = s + 2;
    } else if (s[0] == '0' && s[1] == 'o') {
        base = 8;
        p = s + 2;
    } else if (*p == '-' || *p == '+') {
        p++;
    }
    if (!all_digits(p, base))
        return false;
    errno = 0;
    v = strtoll(base == 10 ? s : p, &end, base);
    if (errno == ERANGE) {
        n->type = RC_NODE_FLOAT;
        n->dval = strtod(s, NULL);
        return true;
    }
    n->type = RC_NODE_INT;
    n->ival = (int64_t)v;
    n->dval = (double)v;
    return true;
}

static bool parse_float_text(const char *s, struct rc_node *n)
{
    const char *p = s;
    bool digits = false;

    if (*p == '-' || *p == '+')
        p++;
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
        n->type = RC_NODE_FLOAT;
        n->dval = s[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) {
        n->type = RC_NODE_FLOAT;
        n->dval = NAN;
        return true;
    }
    while (*p >= '0' && *p <= '9') {
        p++;
        digits = true;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return false;
    n->type = RC_NODE_FLOAT;
    n->dval = strtod(s, NULL);
    return true;
}

static void resolve_plain(struct rc_node *n)
{
    int b;

    if (is_null_text(n->text)) {
        n->type = RC_NODE_NULL;
        return;
    }
    b = bool_text(n->text);
    if (b >= 0) {
        n->type = RC_NODE_BOOL;
        n->bval = b;
        return;
    }
    if (parse_int_text(n->text, n))
        return;
    if (parse_float_text(n->text, n))
        return;
    n->type = RC_NODE_STRING;
}

/* Applies an explicit tag. Returns a message on failure, NULL on success. */
static const char *resolve_tagged(struct rc_node *n, const char *tag)
{
    const char *t;
    int b;

    if (!strcmp(tag, "!")) {
        n->type = RC_NODE_STRING;
        return NULL;
    }
    if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0)
        return "unsupported YAML tag";
    t = tag + strlen(TAG_PREFIX);
    if (!strcmp(t, "str")) {
        n->type = RC_NODE_STRING;
    } else if (!strcmp(t, "null")) {
        if (!is_null_text(n->text))
            return "value is not a valid !!null";
        n->type = RC_NODE_NULL;
    } else if (!strcmp(t, "bool")) {
        b = bool_text(n->text);
        if (b < 0)
            return "value is not a valid !!bool";
        n->type = RC_NODE_BOOL;
        n->bval = b;
    } else if (!strcmp(t, "int")) {
        if (!parse_int_text(n->text, n) || n->type != RC_NODE_INT)
            return "value is not a valid !!int";
    } else if (!strcmp(t, "float")) {
        if (parse_int_text(n->text, n)) {
            n->type = RC_NODE_FLOAT;
        } else if (!parse_float_text(n->text, n)) {
            return "value is not a valid !!float";
        }
    } else {
        return "unsupported YAML tag";
    }
    return NULL;
}

/* ---- the YAML builder ---- */

struct frame {
    struct rc_node *n;
    /* how this frame hangs below its parent, for paths */
    const char *key; /* parent is a map */
    size_t index;    /* parent is a sequence */
    bool in_seq;
    /* a mapping's pending key (waiting for its value) */
    char *pending;
    bool pending_dup; /* the pending key is a duplicate: its value is dropped */
    /* hashes of a mapping's keys, parallel to its pairs (duplicate checks) */
    uint64_t *hashes;
    size_t n_hashes, cap_hashes;
    int pline, pcol;
};

struct builder {
    const char *file;
    struct rc_errs *errs;
    int rc;
    struct frame stack[RC_DOC_MAX_DEPTH + 1];
    int depth; /* frames in use */
    struct rc_node *root;
    bool skip;    /* the current document was dropped: wait for its end */
    bool invalid; /* the current document had an error */
    bool in_doc;
    size_t doc_start;
    int doc_line, doc_col;
};

static void path_add(char *buf, size_t size, const struct frame *f)
{
    size_t len = strlen(buf);

    if (len >= size - 1)
        return;
    if (f->in_seq)
        snprintf(buf + len, size - len, "[%zu]", f->index);
    else if (f->key)
        snprintf(buf + len, size - len, "%s%s", len ? "." : "", f->key);
}

/* The path of the frame at depth d (1 = root) plus, optionally, one key. */
static void build_path(const struct builder *b, const char *last_key, char *buf, size_t size)
{
    int i;

    buf[0] = '\0';
    for (i = 1; i < b->depth; i++)
        path_add(buf, size, &b->stack[i]);
    if (last_key) {
        struct frame f = {.key = last_key};
        path_add(buf, size, &f);
    }
}

static void builder_err(struct builder *b, int code, int line, int col, const char *path,
                        const char *msg)
{
    struct rc_err e;

    memset(&e, 0, sizeof(e));
    rc_err_set(&e, code, path, "%s", msg);
    rc_err_at(&e, b->file, line, col);
    rc_errs_push(b->errs, &e);
    if (!b->rc || b->rc == -RC_EINVAL)
        b->rc = code;
    b->invalid = true;
}

static void frame_release(struct frame *f)
{
    free(f->pending);
    free(f->hashes);
    f->pending = NULL;
    f->hashes = NULL;
    f->n_hashes = f->cap_hashes = 0;
}

static void drop_doc(struct builder *b)
{
    int i;

    for (i = 0; i < b->depth; i++)
        frame_release(&b->stack[i]);
    b->depth = 0;
    rc_node_free(b->root);
    b->root = NULL;
    b->skip = true;
}

/* Hangs n below the current frame (or makes it the root) and records, in
 * ret_f (may be NULL), how it hangs. Takes n. */
static int attach(struct builder *b, struct rc_node *n, struct frame *ret_f)
{
    struct frame *top;
    struct frame f = {.n = n};
    int r;

    if (b->depth == 0) {
        b->root = n;
    } else {
        top = &b->stack[b->depth - 1];
        if (top->n->type == RC_NODE_SEQ) {
            f.in_seq = true;
            f.index = top->n->n_items;
            r = seq_append(top->n, n);
        } else {
            r = map_append(top->n, top->pending, top->pline, top->pcol, n);
            if (r == 0) {
                f.key = top->pending;
                top->pending = NULL;
            }
        }
        if (r) {
            rc_node_free(n);
            return r;
        }
    }
    if (ret_f)
        *ret_f = f;
    return 0;
}

static int pos_line(const yaml_mark_t *m)
{
    return (int)m->line + 1;
}

static int pos_col(const yaml_mark_t *m)
{
    return (int)m->column + 1;
}

/* A scalar arrives where a mapping expects a key. */
static int on_key(struct builder *b, const yaml_event_t *ev)
{
    struct frame *top = &b->stack[b->depth - 1];
    const char *val = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    int line = pos_line(&ev->start_mark), col = pos_col(&ev->start_mark);
    char path[RC_ERR_PATH_MAX], msg[RC_ERR_MSG_MAX];
    const struct rc_node_pair *first = NULL;
    uint64_t h = rc_hash64(val, len);
    size_t i;

    if (memchr(val, '\0', len)) {
        builder_err(b, -RC_EINVAL, line, col, "", "keys must not contain NUL characters");
        drop_doc(b);
        return 0;
    }
    top->pending = dupn(val, len);
    if (!top->pending)
        return -RC_ENOMEM;
    top->pline = line;
    top->pcol = col;
    top->pending_dup = false;
    for (i = 0; i < top->n_hashes && !first; i++)
        if (top->hashes[i] == h && !strcmp(top->n->pairs[i].key, top->pending))
            first = &top->n->pairs[i];
    if (first) {
        top->pending_dup = true;
        build_path(b, top->pending, path, sizeof(path));
        snprintf(msg, sizeof(msg), "duplicate key (first at line %d, column %d)", first->line,
                 first->col);
        builder_err(b, -RC_EINVAL, line, col, path, msg);
    } else if (top->n->n_pairs >= NODE_MAX_KEYS) {
        snprintf(msg, sizeof(msg), "a mapping may have at most %d keys", NODE_MAX_KEYS);
        builder_err(b, -RC_ELIMIT, line, col, "", msg);
        drop_doc(b);
    } else {
        if (top->n_hashes == top->cap_hashes) {
            size_t cap = top->cap_hashes ? top->cap_hashes * 2 : 8;
            uint64_t *v = realloc(top->hashes, cap * sizeof(*v));
            if (!v)
                return -RC_ENOMEM;
            top->hashes = v;
            top->cap_hashes = cap;
        }
        top->hashes[top->n_hashes++] = h;
    }
    return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
    const char *val = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    int line = pos_line(&ev->start_mark), col = pos_col(&ev->start_mark);
    struct frame *top = b->depth ? &b->stack[b->depth - 1] : NULL;
    struct rc_node *n;
    const char *problem = NULL;
    char path[RC_ERR_PATH_MAX];
    bool dup;

    if (top && top->n->type == RC_NODE_MAP && !top->pending)
        return on_key(b, ev);
    n = node_new(RC_NODE_STRING, line, col);
    if (!n)
        return -RC_ENOMEM;
    n->text = dupn(val, len);
    if (!n->text) {
        rc_node_free(n);
        return -RC_ENOMEM;
    }
    if (memchr(val, '\0', len))
        problem = "strings must not contain NUL characters";
    else if (tag)
        problem = resolve_tagged(n, tag);
    else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        resolve_plain(n);
    if (problem) {
        build_path(b, top && top->n->type == RC_NODE_MAP ? top->pending : NULL, path, sizeof(path));
        if (top && top->n->type == RC_NODE_SEQ) {
            size_t l = strlen(path);
            snprintf(path + l, sizeof(path) - l, "[%zu]", top->n->n_items);
        }
        builder_err(b, -RC_EINVAL, line, col, path, problem);
    }
    /* the value of a duplicate key is parsed but not kept */
    dup = top && top->n->type == RC_NODE_MAP && top->pending_dup;
    if (dup) {
        free(top->pending);
        top->pending = NULL;
        rc_node_free(n);
        return 0;
    }
    return attach(b, n, NULL);
}

static int on_start(struct builder *b, const yaml_event_t *ev, enum rc_node_type type)
{
    int line = pos_line(&ev->start_mark), col = pos_col(&ev->start_mark);
    struct frame *top = b->depth ? &b->stack[b->depth - 1] : NULL;
    struct rc_node *n;
    struct frame f;
    char path[RC_ERR_PATH_MAX], msg[RC_ERR_MSG_MAX];
    int r;

    if (top && top->n->type == RC_NODE_MAP && !top->pending) {
        builder_err(b, -RC_EINVAL, line, col, "", "mapping keys must be scalars");
        drop_doc(b);
        return 0;
    }
    if (b->depth >= RC_DOC_MAX_DEPTH) {
        build_path(b, top && top->n->type == RC_NODE_MAP ? top->pending : NULL, path, sizeof(path));
        snprintf(msg, sizeof(msg), "document nests deeper than %d levels", RC_DOC_MAX_DEPTH);
        builder_err(b, -RC_ELIMIT, line, col, path, msg);
        drop_doc(b);
        return 0;
    }
    if (top && top->n->type == RC_NODE_MAP && top->pending_dup) {
        /* the value of a duplicate key: the error is reported, drop the document */
        drop_doc(b);
        return 0;
    }
    n = node_new(type, line, col);
    if (!n)
        return -RC_ENOMEM;
    r = attach(b, n, &f);
    if (r)
        return r;
    b->stack[b->depth++] = f;
    return 0;
}

static int yaml_err_code(const yaml_parser_t *p)
{
    return p->error == YAML_MEMORY_ERROR ? -RC_ENOMEM : -RC_EPROTO;
}

static int docs_push(struct rc_node_doc **docs, size_t *n, size_t *cap, const struct builder *b)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct rc_node_doc *v = realloc(*docs, ncap * sizeof(*v));

        if (!v)
            return -RC_ENOMEM;
        *docs = v;
        *cap = ncap;
    }
    (*docs)[*n].root = b->root;
    (*docs)[*n].line = b->doc_line;
    (*docs)[*n].col = b->doc_col;
    (*docs)[*n].invalid = b->invalid;
    (*n)++;
    return 0;
}

int rc_node_parse_yaml(const char *file, const char *buf, size_t len, struct rc_node_doc **ret_docs,
                       size_t *ret_n, struct rc_errs *errs)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    struct builder b;
    struct rc_node_doc *docs = NULL;
    size_t n_docs = 0, cap_docs = 0, seen = 0;
    char msg[RC_ERR_MSG_MAX];
    bool done = false;
    int r = 0;

    memset(&b, 0, sizeof(b));
    b.file = file;
    b.errs = errs;
    *ret_docs = NULL;
    *ret_n = 0;
    if (!yaml_parser_initialize(&parser))
        return -RC_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            const yaml_mark_t *m = parser.problem ? &parser.problem_mark : &parser.mark;
            r = yaml_err_code(&parser);
            if (r == -RC_ENOMEM)
                break;
            snprintf(msg, sizeof(msg), "YAML syntax error: %s%s%s",
                     parser.problem ? parser.problem : "malformed document",
                     parser.context ? " " : "", parser.context ? parser.context : "");
            if (parser.error == YAML_READER_ERROR)
                snprintf(msg, sizeof(msg), "YAML syntax error: %s (at byte %zu)",
                         parser.problem ? parser.problem : "invalid input", parser.problem_offset);
            builder_err(&b, -RC_EPROTO, pos_line(m), pos_col(m), "", msg);
            drop_doc(&b);
            break;
        }
        if (b.in_doc && !b.skip && ev.end_mark.index - b.doc_start > RC_DOC_MAX_BYTES) {
            snprintf(msg, sizeof(msg), "document is larger than %d bytes", RC_DOC_MAX_BYTES);
            builder_err(&b, -RC_ELIMIT, b.doc_line, b.doc_col, "", msg);
            drop_doc(&b);
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            seen++;
            if (seen > RC_DOCS_MAX) {
                snprintf(msg, sizeof(msg),
                         "more than %d documents in one file; the rest is ignored", RC_DOCS_MAX);
                builder_err(&b, -RC_ELIMIT, pos_line(&ev.start_mark), pos_col(&ev.start_mark), "",
                            msg);
                done = true;
                break;
            }
            b.doc_start = ev.start_mark.index;
            b.doc_line = pos_line(&ev.start_mark);
            b.doc_col = pos_col(&ev.start_mark);
            b.skip = false;
            b.invalid = false;
            b.in_doc = true;
            break;
        case YAML_DOCUMENT_END_EVENT:
            /* documents with non-fatal errors (duplicate keys, bad tags) are
             * kept, marked invalid, so the decoder reports their other errors */
            if (!b.skip && b.root) {
                r = docs_push(&docs, &n_docs, &cap_docs, &b);
                if (r)
                    break;
                b.root = NULL;
            }
            drop_doc(&b);
            b.skip = false;
            b.in_doc = false;
            break;
        case YAML_ALIAS_EVENT:
            if (!b.skip) {
                builder_err(&b, -RC_EINVAL, pos_line(&ev.start_mark), pos_col(&ev.start_mark), "",
                            "YAML aliases are not supported");
                drop_doc(&b);
            }
            break;
        case YAML_SCALAR_EVENT:
            if (!b.skip)
                r = on_scalar(&b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            if (!b.skip)
                r = on_start(&b, &ev, RC_NODE_SEQ);
            break;
        case YAML_MAPPING_START_EVENT:
            if (!b.skip)
                r = on_start(&b, &ev, RC_NODE_MAP);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (!b.skip && b.depth > 0) {
                b.depth--;
                frame_release(&b.stack[b.depth]);
            }
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (r == -RC_ENOMEM)
            break;
    }
    drop_doc(&b);
    yaml_parser_delete(&parser);
    *ret_docs = docs;
    *ret_n = n_docs;
    if (r == -RC_ENOMEM)
        return r;
    return b.rc;
}

/* ---- JSON ---- */

static int from_json(const json_t *v, int depth, const char *file, struct rc_node **ret,
                     struct rc_errs *errs)
{
    struct rc_node *n;
    const char *key;
    json_t *val;
    size_t i;
    char buf[64];
    int r = 0;

    *ret = NULL;
    if ((json_is_object(v) || json_is_array(v)) && depth > RC_DOC_MAX_DEPTH) {
        rc_errs_add(errs, file, 0, 0, "", "document nests deeper than %d levels", RC_DOC_MAX_DEPTH);
        return -RC_ELIMIT;
    }
    n = node_new(RC_NODE_NULL, 0, 0);
    if (!n)
        return -RC_ENOMEM;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        n->type = RC_NODE_MAP;
        json_object_foreach((json_t *)v, key, val)
        {
            struct rc_node *child;
            char *k;

            r = from_json(val, depth + 1, file, &child, errs);
            if (r)
                break;
            k = dupn(key, strlen(key));
            if (!k || (r = map_append(n, k, 0, 0, child)) != 0) {
                free(k);
                rc_node_free(child);
                r = -RC_ENOMEM;
                break;
            }
        }
        break;
    case JSON_ARRAY:
        n->type = RC_NODE_SEQ;
        for (i = 0; i < json_array_size(v); i++) {
            struct rc_node *child;

            r = from_json(json_array_get(v, i), depth + 1, file, &child, errs);
            if (r)
                break;
            r = seq_append(n, child);
            if (r) {
                rc_node_free(child);
                break;
            }
        }
        break;
    case JSON_STRING:
        n->type = RC_NODE_STRING;
        /* an embedded NUL (jansson allows "\u0000") truncates the string */
        n->text = dupn(json_string_value(v), strlen(json_string_value(v)));
        if (!n->text)
            r = -RC_ENOMEM;
        break;
    case JSON_INTEGER:
        n->type = RC_NODE_INT;
        n->ival = (int64_t)json_integer_value(v);
        n->dval = (double)n->ival;
        snprintf(buf, sizeof(buf), "%" PRId64, n->ival);
        n->text = dupn(buf, strlen(buf));
        if (!n->text)
            r = -RC_ENOMEM;
        break;
    case JSON_REAL:
        n->type = RC_NODE_FLOAT;
        n->dval = json_real_value(v);
        snprintf(buf, sizeof(buf), "%.17g", n->dval);
        n->text = dupn(buf, strlen(buf));
        if (!n->text)
            r = -RC_ENOMEM;
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        n->type = RC_NODE_BOOL;
        n->bval = json_is_true(v);
        n->text = dupn(n->bval ? "true" : "false", n->bval ? 4 : 5);
        if (!n->text)
            r = -RC_ENOMEM;
        break;
    case JSON_NULL:
        n->text = dupn("", 0);
        if (!n->text)
            r = -RC_ENOMEM;
        break;
    }
    if (r) {
        rc_node_free(n);
        return r;
    }
    *ret = n;
    return 0;
}

int rc_node_from_json(const json_t *v, const char *file, struct rc_node **ret, struct rc_errs *errs)
{
    return from_json(v, 1, file, ret, errs);
}

json_t *rc_node_to_json(const struct rc_node *n)
{
    json_t *j = NULL;
    size_t i;

    if (!n)
        return NULL;
    switch (n->type) {
    case RC_NODE_NULL:
        return json_null();
    case RC_NODE_BOOL:
        return json_boolean(n->bval);
    case RC_NODE_INT:
        return json_integer((json_int_t)n->ival);
    case RC_NODE_FLOAT:
        return json_real(n->dval);
    case RC_NODE_STRING:
        return json_string(n->text);
    case RC_NODE_SEQ:
        j = json_array();
        if (!j)
            return NULL;
        for (i = 0; i < n->n_items; i++) {
            if (json_array_append_new(j, rc_node_to_json(n->items[i])) < 0) {
                json_decref(j);
                return NULL;
            }
        }
        return j;
    case RC_NODE_MAP:
        j = json_object();
        if (!j)
            return NULL;
        for (i = 0; i < n->n_pairs; i++) {
            if (json_object_set_new(j, n->pairs[i].key, rc_node_to_json(n->pairs[i].value)) < 0) {
                json_decref(j);
                return NULL;
            }
        }
        return j;
    }
    return NULL;
}
