/*
 * rc_arm.h - ARM resource ids and request bodies built from a pool spec (pure).
 *
 * The planner decides what to write; this module knows how Azure wants it
 * written (shared/reference/azure-arm.md §4-§8): VMSS model with Manual upgrade
 * policy, VM with deleteOption Delete on NIC and OS disk, NIC, VM extension,
 * hybrid worker group/worker, HybridWorkerExtension, Automation job, image
 * template run. Ownership tags of DESIGN.md §4 rule 1 are added here, in one
 * place (rc_arm_tags).
 *
 * Secrets are never put into bodies: protectedSettings and customData are
 * left out and the executor fills them from the referenced secret at send time
 * (the body carries a placeholder {"$secretRef": {"name":..,"key":..}} at the
 * place where the value goes, see rc_arm_secret_ref()). The executor replaces
 * osProfile.customData with the base64 of the secret value (Azure wants base64)
 * and protectedSettings with the secret value parsed as a JSON object.
 *
 * Returned json_t are new references (caller json_decref's); NULL means the
 * pool lacks a field the body needs, a limit below is broken, or allocation
 * failed. json_t arguments are borrowed (the body takes its own reference).
 * Ids are written into caller buffers (RC_ARM_ID_MAX) and truncation is an
 * error (-RC_ELIMIT); a missing field or a name with '/' is -RC_EINVAL.
 *
 * Decisions (others depend on them):
 *  - Images are passed around as one string: an ARM id (starts with '/':
 *    gallery image version or definition, managed image) or the marketplace
 *    URN "publisher:offer:sku:version" (Azure CLI form). rc_arm_image_string()
 *    gives that string for an inline spec.image; rc_arm_image_reference()
 *    turns it into storageProfile.imageReference. The observer should report
 *    marketplace images in the same URN form.
 *  - Tag values longer than 256 characters are never truncated. The image id
 *    and the owner uid are stored through rc_arm_tag_value(): verbatim when
 *    they fit, else "fnv64:" + 16 hex digits of rc_hash64 of the lowercased
 *    value. Compare an observed azpool.image/azpool.owner tag with
 *    rc_arm_tag_value() of the wanted value (rc_strcasecmp). The pool tag
 *    ("<namespace>/<name>") and spec.tags must fit as they are: otherwise
 *    rc_arm_tags() returns NULL and rc_arm_tags_check() says why.
 *  - spec.tags: at most RC_ARM_USER_TAGS_MAX (50 minus the 11 azpool.* tags
 *    Azpool may set), names 1..512 characters without < > % & \ ? /, values
 *    <= 256, and no name starting with "azpool." (reserved).
 *  - azpool.owner is left out when metadata.uid is NULL; azpool.created-at
 *    when created_ms is 0; azpool.image when no image is given.
 *  - A hybridRunbookWorker registration needs a system-assigned identity:
 *    the bodies add it (None -> SystemAssigned, UserAssigned ->
 *    "SystemAssigned, UserAssigned"), and the spec hash sees the result.
 *  - Linux and Windows VMs always get provisionVMAgent true (extensions and
 *    the hybrid worker need the agent). Windows: with patchMode set,
 *    enableAutomaticUpdates is false for Manual and true otherwise.
 *  - Scale sets: Uniform gets overprovision false; Flexible omits
 *    overprovision (not supported there) and gets platformFaultDomainCount 1,
 *    networkApiVersion "2020-11-01" and deleteOption Delete on the OS disk
 *    and NIC configuration (a Flexible-only property).
 *  - NIC name "<vm>-nic", ip configuration "ipconfig1"; scale-set NIC
 *    configuration "nic". OS host name of a standalone VM: the VM name cut to
 *    15 (Windows) / 64 (Linux) characters without a trailing '-': the planner
 *    should make Windows VM names with max_len 15 so that nothing is cut.
 *  - Hybrid worker and job names are UUIDv5 (rc_uuid_ns_azpool) of the
 *    lowercased VM id, and of "<lowercased VM id>#<attempt>" (Azure ids are
 *    case-insensitive, so both spellings give the same name).
 *  - The afterCreate job passes the VM id as runbook parameter
 *    RC_ARM_JOB_PARAM_VM (overriding a user parameter of that name); other
 *    parameter values that are not strings are sent as compact JSON text
 *    (Automation parameters are string:string). No runOn: the job runs in
 *    Azure, not on a hybrid worker group.
 *  - Windows VMs need an adminPassword that the model has no field for yet:
 *    the bodies carry none (known gap).
 */
#ifndef AZPOOL_RC_ARM_H
#define AZPOOL_RC_ARM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rc_model.h"

#define RC_ARM_ID_MAX 1024

/* Azure tag limits (tag-resources.md) and what is left for spec.tags. */
#define RC_ARM_TAGS_MAX      50
#define RC_ARM_TAG_NAME_MAX  512
#define RC_ARM_TAG_VALUE_MAX 256
#define RC_ARM_OWN_TAGS      11 /* every RC_TAG_* of rc_observed.h */
#define RC_ARM_USER_TAGS_MAX (RC_ARM_TAGS_MAX - RC_ARM_OWN_TAGS)

/* At most this many instance ids in one POST (a scale set holds <= 1000). */
#define RC_ARM_INSTANCE_IDS_MAX 1000

#define RC_ARM_HRW_EXTENSION_NAME "HybridWorkerExtension"
#define RC_ARM_HRW_PUBLISHER      "Microsoft.Azure.Automation.HybridWorker"
#define RC_ARM_JOB_PARAM_VM       "VmResourceId"
#define RC_ARM_FLEX_NETWORK_API   "2020-11-01"

/* Tags every resource Azpool creates carries: managed-by, pool, owner, image,
 * created-at, expires-at (expires_ms 0: tag left out), spec-hash, plus the pool's
 * spec.tags. New object. */
json_t *rc_arm_tags(const struct rc_pool *p, const char *image_id, int64_t created_ms,
                    int64_t expires_ms);

/* Checks that the tags of p fit Azure's limits and the rules above; 0 or
 * -RC_EINVAL / -RC_ELIMIT with err naming the field (err may be NULL). */
int rc_arm_tags_check(const struct rc_pool *p, struct rc_err *err);

/* The stored form of a tag value (see the header comment): value itself when
 * it has <= 256 characters, else "fnv64:<16 hex>". buf >= 257 bytes.
 * Returns 0, -RC_EINVAL (NULL), -RC_ELIMIT (buf too small), -RC_ENOMEM. */
int rc_arm_tag_value(const char *value, char *buf, size_t size);

/* Hash of every spec field baked into a VMSS model or a VM other than the
 * image and the capacity (vmSize, network, identity, osProfile, patchMode,
 * extensions, tags, ...): a change means the model/VMs must be updated.
 * 16 hex chars into buf (>= 17 bytes). */
void rc_arm_spec_hash(const struct rc_pool *p, char *buf, size_t size);

/* ids */
int rc_arm_vmss_id(const struct rc_pool *p, char *buf, size_t size);
int rc_arm_vm_id(const struct rc_pool *p, const char *vm_name, char *buf, size_t size);
int rc_arm_nic_id(const struct rc_pool *p, const char *vm_name, char *buf, size_t size);
int rc_arm_extension_id(const char *vm_id, const char *ext_name, char *buf, size_t size);
int rc_arm_worker_group_id(const struct rc_pool *p, char *buf, size_t size);
/* Worker id: UUIDv5 of the VM id (DESIGN.md §4 rule 2). */
int rc_arm_worker_id(const struct rc_pool *p, const char *vm_id, char *buf, size_t size);
/* Job of the afterCreate hook for one VM and attempt (deterministic job name). */
int rc_arm_job_id(const struct rc_pool *p, const char *vm_id, int attempt, char *buf, size_t size);

/* Name of the hybrid worker of a VM: UUIDv5 of the lowercased VM id (buf >= 37). */
int rc_arm_worker_name(const char *vm_id, char *buf, size_t size);

/* images */
/* The image string of an inline spec.image: its id, or "publisher:offer:sku:version".
 * -RC_EINVAL when neither is complete. */
int rc_arm_image_string(const struct rc_image_src *img, char *buf, size_t size);
/* storageProfile.imageReference for an image string: {"id":..} or the four
 * marketplace fields. NULL when image is neither form. */
json_t *rc_arm_image_reference(const char *image);

/* bodies */
/* PUT VMSS: full model incl. extensions, identity, tags, upgradePolicy Manual.
 * image_id NULL: the inline spec.image. Tags: created-at now_ms, no expiry. */
json_t *rc_arm_vmss_body(const struct rc_pool *p, const char *image_id, int64_t capacity,
                         int64_t now_ms);
/* PATCH VMSS: capacity only ({"sku":{"capacity":N}}), or with image_id set also
 * the model image; tags (when not NULL, borrowed) replace the tag set.
 * capacity < 0 leaves sku out; NULL when there is nothing to patch. */
json_t *rc_arm_vmss_patch(int64_t capacity, const char *image_id, json_t *tags);
/* POST VMSS delete / manualupgrade / reimage: {"instanceIds":[...]}. NULL when
 * n == 0 (never an implicit "all", DESIGN.md §4 rule 9), n > RC_ARM_INSTANCE_IDS_MAX
 * or an id is NULL or empty. */
json_t *rc_arm_instance_ids_body(char *const *instance_ids, size_t n);
/* NIC: tags with created-at now_ms. VM: image_id NULL means the inline
 * spec.image. Extension and HybridWorkerExtension: location and the
 * ownership tags without image and times; NULL hybrid_service_url -> NULL. */
json_t *rc_arm_nic_body(const struct rc_pool *p, const char *vm_name, int64_t now_ms);
json_t *rc_arm_vm_body(const struct rc_pool *p, const char *vm_name, const char *image_id,
                       int64_t created_ms, int64_t expires_ms);
json_t *rc_arm_extension_body(const struct rc_pool *p, const struct rc_extension *ext);
json_t *rc_arm_hrw_extension_body(const struct rc_pool *p, const char *hybrid_service_url);
json_t *rc_arm_worker_group_body(void);
json_t *rc_arm_worker_body(const char *vm_id);
json_t *rc_arm_job_body(const struct rc_pool *p, const char *vm_id);
/* Tags patch for one VM or VMSS instance ({"tags":{...}}); tags borrowed. */
json_t *rc_arm_tags_patch(json_t *tags);

/* The placeholder for a secret value: {"$secretRef":{"name":N,"key":K}}. */
json_t *rc_arm_secret_ref(const struct rc_secret_ref *ref);

#endif
