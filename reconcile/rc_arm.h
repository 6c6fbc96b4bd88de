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
 * place where the value goes, see rc_arm_secret_ref()).
 *
 * Returned json_t are new references (caller json_decref's); ids are written
 * into caller buffers (RC_ARM_ID_MAX) and truncation is an error (-RC_ELIMIT).
 */
#ifndef AZPOOL_RC_ARM_H
#define AZPOOL_RC_ARM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rc_model.h"

#define RC_ARM_ID_MAX 1024

/* Tags every resource Azpool creates carries: managed-by, pool, owner, image,
 * created-at, expires-at (expires_ms 0: tag left out), spec-hash, plus the pool's
 * spec.tags. New object. */
json_t *rc_arm_tags(const struct rc_pool *p, const char *image_id, int64_t created_ms,
                    int64_t expires_ms);

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
int rc_arm_job_id(const struct rc_pool *p, const char *vm_id, int attempt, char *buf,
                  size_t size);

/* bodies */
/* PUT VMSS: full model incl. extensions, identity, tags, upgradePolicy Manual. */
json_t *rc_arm_vmss_body(const struct rc_pool *p, const char *image_id, int64_t capacity,
                         int64_t now_ms);
/* PATCH VMSS: capacity only ({"sku":{"capacity":N}}), or with image_id set also
 * the model image; tags (when not NULL) replace the tag set. */
json_t *rc_arm_vmss_patch(int64_t capacity, const char *image_id, json_t *tags);
/* POST VMSS delete / manualupgrade / reimage: {"instanceIds":[...]} (n > 0). */
json_t *rc_arm_instance_ids_body(char *const *instance_ids, size_t n);
json_t *rc_arm_nic_body(const struct rc_pool *p, const char *vm_name, int64_t now_ms);
json_t *rc_arm_vm_body(const struct rc_pool *p, const char *vm_name, const char *image_id,
                       int64_t created_ms, int64_t expires_ms);
json_t *rc_arm_extension_body(const struct rc_pool *p, const struct rc_extension *ext);
json_t *rc_arm_hrw_extension_body(const struct rc_pool *p, const char *hybrid_service_url);
json_t *rc_arm_worker_group_body(void);
json_t *rc_arm_worker_body(const char *vm_id);
json_t *rc_arm_job_body(const struct rc_pool *p, const char *vm_id);
/* Tags patch for one VM or VMSS instance ({"tags":{...}}). */
json_t *rc_arm_tags_patch(json_t *tags);

/* The placeholder for a secret value: {"$secretRef":{"name":N,"key":K}}. */
json_t *rc_arm_secret_ref(const struct rc_secret_ref *ref);

#endif
