// SPDX-License-Identifier: GPL-2.0
/*
 * ksp-selftest: exercises the keyslot-passthrough library on real devices,
 * for the test suite only.  Loaded with
 *
 *   devs=<rich>,<narrow>,<none>
 *
 * three block device paths: <narrow> supports a subset of <rich>'s
 * capabilities, <none> has no inline encryption.  The checks run at load;
 * the load fails with a "ksp-selftest: FAIL" message if one does not hold.
 * Eviction fan-out is checked from outside, on the devices' own counters:
 * the module evicts one AES-256-XTS key (4096-byte data units, 4 DUN bytes)
 * through a profile whose set holds all three devices.
 */
#define pr_fmt(fmt) "ksp-selftest: " fmt

#include <linux/blk-crypto.h>
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>

#include <keyslot_passthrough.h>

#define KSP_ST_DEVS	3

static char *devs;
module_param(devs, charp, 0444);
MODULE_PARM_DESC(devs, "<rich>,<narrow>,<none>: three block device paths");

static bool ksp_st_ok(bool cond, const char *what)
{
	if (!cond)
		pr_err("FAIL: %s\n", what);
	return cond;
}

static const struct blk_crypto_profile *ksp_st_prof(struct file *f)
{
	return bdev_get_queue(file_bdev(f))->crypto_profile;
}

static struct ksp_devset *ksp_st_set(struct file **files, unsigned int mask)
{
	struct ksp_devset *set = ksp_devset_alloc(KSP_ST_DEVS, GFP_KERNEL);
	unsigned int i;

	if (!set)
		return NULL;
	for (i = 0; i < KSP_ST_DEVS; i++)
		if (mask & BIT(i))
			WARN_ON(ksp_devset_add(set, file_bdev(files[i])));
	return set;
}

static bool ksp_st_same_caps(const struct blk_crypto_profile *a,
			     const struct blk_crypto_profile *b)
{
	return a->max_dun_bytes_supported == b->max_dun_bytes_supported &&
	       !memcmp(a->modes_supported, b->modes_supported,
		       sizeof(a->modes_supported));
}

static int ksp_st_sets(struct file **files)
{
	const struct blk_crypto_profile *rich = ksp_st_prof(files[0]);
	const struct blk_crypto_profile *narrow = ksp_st_prof(files[1]);
	const struct blk_crypto_profile *caps;
	struct ksp_devset *set;
	unsigned int m;
	bool ok;

	if (!ksp_st_ok(rich && narrow && !ksp_st_prof(files[2]),
		       "rich and narrow have profiles, none has none"))
		return -EINVAL;

	/* One device: its own capabilities. */
	set = ksp_st_set(files, BIT(0));
	if (!ksp_st_ok(set,
		       "allocating a set"))
		return -EINVAL;
	caps = ksp_devset_caps(set);
	ok = caps && ksp_st_same_caps(caps, rich);
	ksp_devset_free(set);
	if (!ksp_st_ok(ok,
		       "a one-device set has the device's capabilities"))
		return -EINVAL;

	/* Two devices (one twice): the intersection. */
	set = ksp_st_set(files, BIT(0) | BIT(1));
	if (!ksp_st_ok(set,
		       "allocating a set"))
		return -EINVAL;
	if (!ksp_st_ok(!ksp_devset_add(set, file_bdev(files[0])),
		       "adding a device twice"))
		return -EINVAL;
	ok = ksp_devset_count(set) == 2;
	caps = ksp_devset_caps(set);
	ok = ok && caps && caps->max_dun_bytes_supported ==
		min(rich->max_dun_bytes_supported,
		    narrow->max_dun_bytes_supported);
	for (m = 0; ok && m < BLK_ENCRYPTION_MODE_MAX; m++)
		ok = caps->modes_supported[m] ==
		     (rich->modes_supported[m] & narrow->modes_supported[m]);
	ksp_devset_free(set);
	if (!ksp_st_ok(ok,
		       "a two-device set has the intersection"))
		return -EINVAL;

	/* A device without inline encryption empties the set. */
	set = ksp_st_set(files, BIT(0) | BIT(2));
	if (!ksp_st_ok(set,
		       "allocating a set"))
		return -EINVAL;
	ok = !ksp_devset_caps(set);
	ksp_devset_free(set);
	if (!ksp_st_ok(ok,
		       "a device without inline encryption empties the set"))
		return -EINVAL;

	/* Empty set: nothing; a full set refuses more. */
	set = ksp_devset_alloc(1, GFP_KERNEL);
	if (!ksp_st_ok(set,
		       "allocating a set"))
		return -EINVAL;
	ok = !ksp_devset_caps(set) &&
	     !ksp_devset_add(set, file_bdev(files[0])) &&
	     ksp_devset_add(set, file_bdev(files[1])) == -ENOSPC;
	ksp_devset_free(set);
	if (!ksp_st_ok(ok,
		       "an empty set has nothing and a full set refuses more"))
		return -EINVAL;
	return 0;
}

/* Capabilities may grow, never shrink. */
static int ksp_st_profile(struct file **files)
{
	struct ksp_devset *rich, *narrow, *none, *old;
	struct ksp_profile kp;
	int err = -EINVAL;

	rich = ksp_st_set(files, BIT(0));
	narrow = ksp_st_set(files, BIT(1));
	none = ksp_st_set(files, BIT(2));
	if (!rich || !narrow || !none) {
		err = -ENOMEM;
		goto free_sets;
	}
	err = ksp_profile_init(&kp, NULL);
	if (err)
		goto free_sets;
	err = -EINVAL;

	/* Nothing exposed yet: anything goes. */
	if (ksp_profile_has_caps(&kp) || ksp_profile_check(&kp, none) ||
	    ksp_profile_check(&kp, narrow)) {
		pr_err("FAIL: a fresh profile refuses a set\n");
		goto destroy;
	}
	if (ksp_profile_install(&kp, narrow, &old) || old) {
		pr_err("FAIL: first install\n");
		goto destroy;
	}
	narrow = NULL;
	if (!ksp_profile_has_caps(&kp) ||
	    !ksp_st_same_caps(&kp.profile, ksp_st_prof(files[1]))) {
		pr_err("FAIL: install did not expose the set's capabilities\n");
		goto destroy;
	}
	/* Dropping every capability, at check and at install. */
	if (ksp_profile_check(&kp, none) != -EINVAL) {
		pr_err("FAIL: check accepted a set without capabilities\n");
		goto destroy;
	}
	err = ksp_profile_install(&kp, none, NULL);
	if (!err)
		none = NULL;	/* the profile owns it now */
	if (err != -EINVAL) {
		pr_err("FAIL: install accepted a set without capabilities\n");
		err = -EINVAL;
		goto destroy;
	}
	err = -EINVAL;
	/* Growing. */
	if (ksp_profile_check(&kp, rich) ||
	    ksp_profile_install(&kp, rich, &old) || !old) {
		pr_err("FAIL: a richer set was refused\n");
		goto destroy;
	}
	ksp_devset_free(old);
	rich = NULL;
	if (!ksp_st_same_caps(&kp.profile, ksp_st_prof(files[0]))) {
		pr_err("FAIL: capabilities did not grow\n");
		goto destroy;
	}
	/* And shrinking back is refused. */
	narrow = ksp_st_set(files, BIT(1));
	if (!narrow || ksp_profile_check(&kp, narrow) != -EINVAL) {
		pr_err("FAIL: a narrower set was accepted\n");
		goto destroy;
	}
	err = 0;
destroy:
	ksp_profile_destroy(&kp);
free_sets:
	ksp_devset_free(rich);
	ksp_devset_free(narrow);
	ksp_devset_free(none);
	return err;
}

static int ksp_st_evict_calls;

static int ksp_st_evict_hook(struct ksp_profile *kp,
			     const struct blk_crypto_key *key)
{
	ksp_st_evict_calls++;
	return -EIO;
}

static const struct ksp_ops ksp_st_ops = {
	.evict = ksp_st_evict_hook,
};

/*
 * Evict a key through a profile whose set holds every device: the hook runs
 * once, its error is returned, and every device is still visited (seen from
 * outside on the devices' counters).
 */
static int ksp_st_evict(struct file **files)
{
	struct blk_crypto_key *key;
	struct ksp_devset *set;
	struct ksp_profile kp;
	int err;

	key = kzalloc(sizeof(*key), GFP_KERNEL);
	set = ksp_st_set(files, BIT(0) | BIT(1) | BIT(2));
	if (!key || !set) {
		kfree(key);
		ksp_devset_free(set);
		return -ENOMEM;
	}
	key->crypto_cfg.crypto_mode = BLK_ENCRYPTION_MODE_AES_256_XTS;
	key->crypto_cfg.data_unit_size = 4096;
	key->crypto_cfg.dun_bytes = 4;
	key->data_unit_size_bits = 12;
	key->size = 64;
	get_random_bytes(key->raw, key->size);

	err = ksp_profile_init(&kp, &ksp_st_ops);
	if (err)
		goto out;
	err = ksp_profile_install(&kp, set, NULL);
	if (err)
		goto destroy;
	set = NULL;
	/* As blk-crypto calls it: under the profile's lock. */
	down_write(&kp.profile.lock);
	err = kp.profile.ll_ops.keyslot_evict(&kp.profile, key, -1);
	up_write(&kp.profile.lock);
	if (err != -EIO || ksp_st_evict_calls != 1) {
		pr_err("FAIL: eviction returned %d after %d hook calls\n",
		       err, ksp_st_evict_calls);
		err = -EINVAL;
	} else {
		err = 0;
	}
destroy:
	ksp_profile_destroy(&kp);
out:
	ksp_devset_free(set);
	kfree_sensitive(key);
	return err;
}

static int __init ksp_st_init(void)
{
	struct file *files[KSP_ST_DEVS] = {};
	char *buf, *cur, *path;
	unsigned int i = 0;
	int err = 0;

	if (!devs) {
		pr_err("FAIL: devs=<rich>,<narrow>,<none> is required\n");
		return -EINVAL;
	}
	buf = kstrdup(devs, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	cur = buf;
	while ((path = strsep(&cur, ",")) && i < KSP_ST_DEVS) {
		files[i] = bdev_file_open_by_path(path, BLK_OPEN_READ, NULL,
						  NULL);
		if (IS_ERR(files[i])) {
			err = PTR_ERR(files[i]);
			files[i] = NULL;
			pr_err("FAIL: cannot open %s: %d\n", path, err);
			goto close;
		}
		i++;
	}
	if (i != KSP_ST_DEVS) {
		pr_err("FAIL: devs needs %d paths\n", KSP_ST_DEVS);
		err = -EINVAL;
		goto close;
	}

	err = ksp_st_sets(files);
	if (!err)
		err = ksp_st_profile(files);
	if (!err)
		err = ksp_st_evict(files);
	if (!err)
		pr_info("PASS\n");
close:
	for (i = 0; i < KSP_ST_DEVS; i++)
		if (files[i])
			fput(files[i]);
	kfree(buf);
	return err;
}

static void __exit ksp_st_exit(void)
{
}

module_init(ksp_st_init);
module_exit(ksp_st_exit);

MODULE_DESCRIPTION("Self-test of the keyslot-passthrough library (test suite only)");
MODULE_LICENSE("GPL");
