/* SPDX-License-Identifier: GPL-2.0 */
/*
 * keyslot-passthrough: inline encryption through stacked block devices.
 *
 * A stacking driver (a device-mapper target, a RAM or emulated device, ...)
 * that wants upper layers to use inline encryption on it registers a crypto
 * profile without keyslots.  blk-crypto then hands the driver bios carrying
 * their key, and the driver forwards them to the devices below it, which do
 * the encryption.  This library provides such a profile:
 *
 *  - ksp_profile_init() sets up a profile with no keyslots whose eviction
 *    operation evicts a key from every device of the profile's device set
 *    (and, optionally, from the driver's own state first);
 *  - a device set (struct ksp_devset) records the underlying block devices
 *    and the intersection of their inline encryption capabilities;
 *  - ksp_profile_check() tells whether a new device set keeps every
 *    capability the profile exposes, so that a reload that would drop one can
 *    be refused before it takes effect; ksp_profile_install() makes a set
 *    live and lets the exposed capabilities grow.
 *
 * See Documentation/keyslot-passthrough.rst for the lifetime rules.
 */
#ifndef KEYSLOT_PASSTHROUGH_H
#define KEYSLOT_PASSTHROUGH_H

#include <linux/blk-crypto-profile.h>
#include <linux/mutex.h>

struct ksp_devset;
struct ksp_profile;

/**
 * struct ksp_ops - optional hooks of a passthrough profile's owner
 * @evict: called first when a key is evicted from the profile, to drop
 *	whatever the owner itself keeps for @key (a cached cipher, say).  Runs
 *	in process context under the profile's lock; may sleep.  Its error, if
 *	any, is what the eviction returns; eviction from the underlying devices
 *	happens regardless.
 */
struct ksp_ops {
	int (*evict)(struct ksp_profile *kp, const struct blk_crypto_key *key);
};

/**
 * struct ksp_profile - a crypto profile without keyslots that passes keys
 *	through to the underlying devices
 * @profile: the block layer's profile; register it with blk_crypto_register()
 *	before add_disk().  Its capabilities are the ones exposed.
 *
 * The remaining fields are private to the library.
 */
struct ksp_profile {
	struct blk_crypto_profile profile;

	/* private: */
	const struct ksp_ops *ops;
	struct mutex devs_lock;		/* protects @devs */
	struct lock_class_key devs_lock_key;	/* profiles nest when stacked */
	struct ksp_devset *devs;	/* evicted from; owned by the profile */
};

static inline struct ksp_profile *
ksp_profile_from_blk(struct blk_crypto_profile *profile)
{
	return container_of(profile, struct ksp_profile, profile);
}

struct ksp_devset *ksp_devset_alloc(unsigned int max_bdevs, gfp_t gfp);
int ksp_devset_add(struct ksp_devset *set, struct block_device *bdev);
unsigned int ksp_devset_count(const struct ksp_devset *set);
const struct blk_crypto_profile *
ksp_devset_caps(const struct ksp_devset *set);
void ksp_devset_free(struct ksp_devset *set);

int ksp_profile_init(struct ksp_profile *kp, const struct ksp_ops *ops);
void ksp_profile_destroy(struct ksp_profile *kp);
bool ksp_profile_has_caps(const struct ksp_profile *kp);
int ksp_profile_check(struct ksp_profile *kp, const struct ksp_devset *set);
int ksp_profile_install(struct ksp_profile *kp, struct ksp_devset *set,
			struct ksp_devset **old);

#endif /* KEYSLOT_PASSTHROUGH_H */
