/*
 * simx.h - small helpers shared by the armsim area modules sim_gallery, sim_imagebuilder,
 * sim_automation and sim_eventgrid (built only on armsim.h).
 *
 * Ownership: functions returning json_t * return a NEW reference; ids are written into
 * caller buffers (AS_ID_MAX bytes is always enough for an accepted request). Nothing here keeps
 * state. The gallery hooks at the end are implemented by sim_gallery.c for sim_imagebuilder.c.
 */
#ifndef AZPOOL_SIMX_H
#define AZPOOL_SIMX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "armsim.h"

/* snprintf into buf; returns 0, or -1 when it did not fit. */
int simx_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The current simulated time in Compute's RFC 3339 form into buf (>= 40 bytes). */
void simx_now(const struct armsim *sim, char *buf, size_t size);
/* Deep copies of the direct children of a collection id, in id order: a new json array. */
json_t *simx_children(struct armsim *sim, const char *collection);
/* GET /subscriptions/{sub}/providers/<type>: every stored resource of that type (the "type"
 * field, case-insensitive) in any resource group of {sub}; answers the paged list. */
void simx_list_by_type(struct armsim *sim, struct as_req *r, struct as_resp *w, const char *type);
/* Checks the request body: false (and a 400 answered) when it is not a JSON object. An absent
 * body counts as {} when allow_empty. */
bool simx_body_object(struct as_req *r, struct as_resp *w, bool allow_empty);
/* Checks body "tags" against Azure's limits (tag-resources.md): an object of at most max_tags
 * string values, names 1..512 characters without < > % & \ ? /, values <= 256 characters.
 * Answers 400 InvalidTag and returns false when broken; true when fine or absent. */
bool simx_tags_ok(const struct as_req *r, struct as_resp *w, size_t max_tags);
/* {"id", "name", "type"} skeleton; new object. */
json_t *simx_skeleton(const char *id, const char *name, const char *type);
/* The last path segment of an id (borrowed pointer into id). */
const char *simx_last_seg(const char *id);
/* Copies src[key] into dst when present (deep copy). */
void simx_copy_key(json_t *dst, const json_t *src, const char *key);
/* Module-private state object kept in the store under "/_armsim/state/<name>" (so snapshots
 * carry it); created empty on first use. BORROWED, valid until the next store mutation. */
json_t *simx_state(struct armsim *sim, const char *name);
/* The same without creating it (no store mutation): NULL when absent. */
json_t *simx_state_peek(struct armsim *sim, const char *name);

/* ---- gallery hooks (sim_gallery.c) ---- */

/* Next version name under an image definition id: highest M.m.p + 1 patch, "1.0.0" when none. */
int sim_gallery_next_version(struct armsim *sim, const char *image_id, char *buf, size_t size);
/* "latest" of an image definition as Azure resolves it at deploy time: the highest Major.Minor.
 * Patch among Succeeded versions not excluded from latest (globally, or in the target region
 * named location when location is not NULL) that are replicated to location (any region when
 * NULL). Writes the version name; returns 0, or -1 when there is none. For sim_compute
 * (exactVersion of a scale set whose imageReference.id names a definition). */
int sim_gallery_latest(struct armsim *sim, const char *image_id, const char *location, char *buf,
                       size_t size);
/* Creates a Succeeded image version at once (Image Builder distribution), publishedDate =
 * published_ms (0 = now). source_id may be NULL. Returns 0, -1 when the image definition does
 * not exist or on allocation failure. */
int sim_gallery_add_version(struct armsim *sim, const char *version_id, const char *location,
                            const char *source_id, bool exclude_from_latest, int64_t published_ms);

#endif
