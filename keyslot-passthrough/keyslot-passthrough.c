// SPDX-License-Identifier: GPL-2.0
/*
 * keyslot-passthrough: crypto profiles for stacked block devices.
 *
 * A passthrough profile has no keyslots: blk-crypto never asks it to program
 * a key, and the bios it lets through keep their encryption context, which
 * the stacking driver hands on to the devices below.  The only operation the
 * profile has to implement is eviction, which it fans out to every device of
 * its device set.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blk-crypto.h>
#include <linux/blkdev.h>
#include <linux/lockdep.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/slab.h>

#include <keyslot_passthrough.h>

/*
 * Only the capability fields of @caps are used (modes_supported and
 * max_dun_bytes_supported): it is never initialized with
 * blk_crypto_profile_init(), never registered and never destroyed.
 */
struct ksp_devset {
	struct blk_crypto_profile caps;
	unsigned int nr_bdevs;
	unsigned int max_bdevs;
	struct block_device *bdevs[];
};

static bool ksp_caps_empty(const struct blk_crypto_profile *caps)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(caps->modes_supported); i++)
		if (caps->modes_supported[i])
			return false;
	return true;
}

/**
 * ksp_devset_alloc() - allocate an empty device set
 * @max_bdevs: how many distinct devices the set may hold
 * @gfp: allocation flags
 *
 * Return: the set, or %NULL when out of memory.  Free it with
 * ksp_devset_free() unless ksp_profile_install() took it.
 */
struct ksp_devset *ksp_devset_alloc(unsigned int max_bdevs, gfp_t gfp)
{
	struct ksp_devset *set;

	set = kzalloc(struct_size(set, bdevs, max_bdevs), gfp);
	if (!set)
		return NULL;
	set->max_bdevs = max_bdevs;
	/* The neutral element of the intersection: everything. */
	set->caps.max_dun_bytes_supported = UINT_MAX;
	memset(set->caps.modes_supported, 0xff,
	       sizeof(set->caps.modes_supported));
	return set;
}
EXPORT_SYMBOL_GPL(ksp_devset_alloc);

/**
 * ksp_devset_add() - add an underlying device to a set
 * @set: the set, not yet installed
 * @bdev: the device; the caller keeps it open as long as the set refers to it
 *
 * Intersects the set's capabilities with those of @bdev: a device without
 * inline encryption support leaves the set with none.  Adding a device that
 * is already in the set changes nothing.
 *
 * Context: Process context.
 * Return: 0, or -ENOSPC when the set already holds @max_bdevs devices.
 */
int ksp_devset_add(struct ksp_devset *set, struct block_device *bdev)
{
	unsigned int i;

	for (i = 0; i < set->nr_bdevs; i++)
		if (set->bdevs[i] == bdev)
			return 0;
	if (set->nr_bdevs == set->max_bdevs)
		return -ENOSPC;
	blk_crypto_intersect_capabilities(&set->caps,
					  bdev_get_queue(bdev)->crypto_profile);
	set->bdevs[set->nr_bdevs++] = bdev;
	return 0;
}
EXPORT_SYMBOL_GPL(ksp_devset_add);

/**
 * ksp_devset_count() - number of distinct devices in a set
 * @set: the set, or %NULL
 *
 * Return: the number of devices.
 */
unsigned int ksp_devset_count(const struct ksp_devset *set)
{
	return set ? set->nr_bdevs : 0;
}
EXPORT_SYMBOL_GPL(ksp_devset_count);

/**
 * ksp_devset_caps() - capabilities common to every device of a set
 * @set: the set, or %NULL
 *
 * Return: a profile of which only modes_supported and
 * max_dun_bytes_supported are meaningful, or %NULL when the set is empty or
 * its devices share no capability.  Valid as long as @set is.
 */
const struct blk_crypto_profile *ksp_devset_caps(const struct ksp_devset *set)
{
	if (!set || !set->nr_bdevs || ksp_caps_empty(&set->caps))
		return NULL;
	return &set->caps;
}
EXPORT_SYMBOL_GPL(ksp_devset_caps);

/**
 * ksp_devset_free() - free a device set
 * @set: the set, or %NULL; must not be installed in a profile
 *
 * The devices are not touched: closing them is the caller's business.
 */
void ksp_devset_free(struct ksp_devset *set)
{
	kfree(set);
}
EXPORT_SYMBOL_GPL(ksp_devset_free);

/*
 * The profile's eviction operation.  blk-crypto calls it with the profile's
 * lock held for writing, once the key is no longer used by any I/O on this
 * device, hence on the devices below.  blk_crypto_evict_key() returns
 * nothing (it logs failures itself), so only the owner's hook can report an
 * error; every device is visited either way.
 */
static int ksp_keyslot_evict(struct blk_crypto_profile *profile,
			     const struct blk_crypto_key *key,
			     unsigned int slot)
{
	struct ksp_profile *kp = ksp_profile_from_blk(profile);
	unsigned int i;
	int err = 0;

	if (kp->ops && kp->ops->evict)
		err = kp->ops->evict(kp, key);

	mutex_lock(&kp->devs_lock);
	if (kp->devs)
		for (i = 0; i < kp->devs->nr_bdevs; i++)
			blk_crypto_evict_key(kp->devs->bdevs[i], key);
	mutex_unlock(&kp->devs_lock);
	return err;
}

/**
 * ksp_profile_init() - initialize a passthrough crypto profile
 * @kp: the profile, typically embedded in the driver's device structure
 * @ops: hooks, or %NULL
 *
 * The profile starts with no capabilities and no device set.  A leaf device
 * sets @kp->profile's capabilities itself; a stacking driver installs a
 * device set with ksp_profile_install().  Register @kp->profile with
 * blk_crypto_register() before add_disk(), once it has capabilities.
 *
 * Context: Process context.
 * Return: 0 or a negative error code.
 */
int ksp_profile_init(struct ksp_profile *kp, const struct ksp_ops *ops)
{
	int err;

	err = blk_crypto_profile_init(&kp->profile, 0);
	if (err)
		return err;
	kp->profile.ll_ops.keyslot_evict = ksp_keyslot_evict;
	kp->ops = ops;
	/*
	 * An eviction holds devs_lock while it evicts from the devices below,
	 * whose own passthrough profiles take theirs: one lock class per
	 * profile, as blk-crypto does for profile->lock.
	 */
	lockdep_register_key(&kp->devs_lock_key);
	__mutex_init(&kp->devs_lock, "&kp->devs_lock", &kp->devs_lock_key);
	kp->devs = NULL;
	return 0;
}
EXPORT_SYMBOL_GPL(ksp_profile_init);

/**
 * ksp_profile_destroy() - tear down a passthrough profile
 * @kp: the profile
 *
 * Frees the installed device set (the devices themselves stay open).  Call
 * it once no request queue can use the profile any more, i.e. after the
 * disk that registered it is gone.
 */
void ksp_profile_destroy(struct ksp_profile *kp)
{
	ksp_devset_free(kp->devs);
	kp->devs = NULL;
	mutex_destroy(&kp->devs_lock);
	lockdep_unregister_key(&kp->devs_lock_key);
	blk_crypto_profile_destroy(&kp->profile);
}
EXPORT_SYMBOL_GPL(ksp_profile_destroy);

/**
 * ksp_profile_has_caps() - whether a profile exposes any capability
 * @kp: the profile
 *
 * Return: %true if at least one crypto mode and data unit size is exposed.
 */
bool ksp_profile_has_caps(const struct ksp_profile *kp)
{
	return !ksp_caps_empty(&kp->profile);
}
EXPORT_SYMBOL_GPL(ksp_profile_has_caps);

static int ksp_check_locked(struct ksp_profile *kp,
			    const struct ksp_devset *set)
{
	lockdep_assert_held(&kp->devs_lock);
	if (ksp_caps_empty(&kp->profile))
		return 0;
	if (!blk_crypto_has_capabilities(ksp_devset_caps(set), &kp->profile))
		return -EINVAL;
	return 0;
}

/**
 * ksp_profile_check() - would a device set keep the exposed capabilities?
 * @kp: the live profile
 * @set: the candidate set
 *
 * Exposed capabilities cannot be withdrawn: upper layers chose to use inline
 * encryption on the strength of them and may have bios in flight.  Call this
 * when a new configuration is loaded, before it replaces the live one.
 *
 * Context: Process context.
 * Return: 0 when @set supports every mode, data unit size and DUN size that
 * @kp exposes (it may support more), else -EINVAL.
 */
int ksp_profile_check(struct ksp_profile *kp, const struct ksp_devset *set)
{
	int err;

	mutex_lock(&kp->devs_lock);
	err = ksp_check_locked(kp, set);
	mutex_unlock(&kp->devs_lock);
	return err;
}
EXPORT_SYMBOL_GPL(ksp_profile_check);

/**
 * ksp_profile_install() - make a device set the live one
 * @kp: the profile
 * @set: the new set; the profile owns it from now on
 * @old: where to return the previous set, or %NULL to free it here
 *
 * Checks @set as ksp_profile_check() does, then makes it the set evictions go
 * to and grows the exposed capabilities to those of @set.  Once this returns,
 * no eviction will touch the devices of the previous set, so the caller may
 * close those that are not in @set, then free the previous set with
 * ksp_devset_free().
 *
 * Context: Process context.
 * Return: 0, or -EINVAL (nothing changed, @set still belongs to the caller)
 * when @set lacks a capability that @kp exposes.
 */
int ksp_profile_install(struct ksp_profile *kp, struct ksp_devset *set,
			struct ksp_devset **old)
{
	const struct blk_crypto_profile *caps = ksp_devset_caps(set);
	struct ksp_devset *prev;
	int err;

	mutex_lock(&kp->devs_lock);
	err = ksp_check_locked(kp, set);
	if (err) {
		mutex_unlock(&kp->devs_lock);
		return err;
	}
	if (caps)
		blk_crypto_update_capabilities(&kp->profile, caps);
	prev = kp->devs;
	kp->devs = set;
	mutex_unlock(&kp->devs_lock);

	if (old)
		*old = prev;
	else
		ksp_devset_free(prev);
	return 0;
}
EXPORT_SYMBOL_GPL(ksp_profile_install);

MODULE_DESCRIPTION("Inline encryption passthrough profiles for stacked block devices");
MODULE_LICENSE("GPL");
