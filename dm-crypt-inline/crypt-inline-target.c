// SPDX-License-Identifier: GPL-2.0
/*
 * dm-crypt-inline: whole-device encryption by inline encryption.
 *
 * The target "crypt-inline" encrypts a block device the way dm-crypt does,
 * with the same table and the same ciphertext, but without touching the
 * data: it attaches an inline encryption context (key and data unit number)
 * to every bio and lets the device below encrypt it, or blk-crypto-fallback
 * when the device cannot.
 *
 *	<cipher> <key> <iv_offset> <device> <offset> [<#opts> <opt>...]
 *
 * See Documentation/dm-crypt-inline.rst.
 */
#include <linux/bio.h>
#include <linux/blk-crypto.h>
#include <linux/blk-crypto-profile.h>
#include <linux/ctype.h>
#include <linux/device-mapper.h>
#include <linux/key.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <keys/trusted-type.h>
#include <keys/user-type.h>

#include <compat.h>
#include "blk-crypto-syms.h"

#define DM_MSG_PREFIX "crypt-inline"

/* dm-crypt cipher strings and the blk-crypto mode that computes the same. */
struct cil_cipher {
	const char *name;
	enum blk_crypto_mode_num mode;
	unsigned int key_size;
};

static const struct cil_cipher cil_ciphers[] = {
	{ "aes-xts-plain64", BLK_ENCRYPTION_MODE_AES_256_XTS, 64 },
	{ "capi:xts(aes)-plain64", BLK_ENCRYPTION_MODE_AES_256_XTS, 64 },
	{ "aes-cbc-essiv:sha256", BLK_ENCRYPTION_MODE_AES_128_CBC_ESSIV, 16 },
	{ "capi:adiantum(xchacha12,aes)-plain64", BLK_ENCRYPTION_MODE_ADIANTUM,
	  32 },
	{ "sm4-xts-plain64", DMX_BLK_ENCRYPTION_MODE_SM4_XTS, 32 },
};

/*
 * A key prepared for one device.  Tables with the same key on the same
 * device share it: a reload constructs the new table before the old one is
 * destroyed, and the old one must not evict a key the new one is already
 * using (blk-crypto finds keyslots by key contents).
 */
struct cil_key {
	struct list_head node;
	refcount_t refs;
	struct block_device *bdev;
	struct blk_crypto_key key;
};

static LIST_HEAD(cil_keys);
static DEFINE_MUTEX(cil_keys_lock);

struct cil_c {
	struct dm_dev *dev;
	sector_t start;			/* offset on @dev */
	u64 iv_offset;			/* in 512-byte sectors */
	const struct cil_cipher *cipher;
	unsigned int sector_size;	/* = data unit size */
	unsigned int sector_shift;	/* log2(sector_size / 512) */
	bool iv_large_sectors;
	bool allow_discards;
	bool native;			/* the device itself encrypts */
	unsigned int dun_bytes;
	char *key_string;		/* ":<size>:<type>:<desc>", or NULL */
	struct cil_key *key;
	u8 raw_key[BLK_CRYPTO_MAX_KEY_SIZE];	/* for the table status */
};

static const struct cil_cipher *cil_find_cipher(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cil_ciphers); i++)
		if (cil_ciphers[i].mode != BLK_ENCRYPTION_MODE_INVALID &&
		    !strcmp(cil_ciphers[i].name, name))
			return &cil_ciphers[i];
	return NULL;
}

/* Copy the payload of a logon, user or trusted key of exactly @size bytes. */
static int cil_read_keyring_key(struct key *key, u8 *raw, unsigned int size)
{
	const struct user_key_payload *ukp;
	const struct trusted_key_payload *tkp;

	if (key->type == &key_type_logon || key->type == &key_type_user) {
		ukp = user_key_payload_locked(key);
		if (!ukp)
			return -EKEYREVOKED;
		if (ukp->datalen != size)
			return -EINVAL;
		memcpy(raw, ukp->data, size);
		return 0;
	}
	tkp = key->payload.data[0];
	if (!tkp)
		return -EKEYREVOKED;
	if (tkp->key_len != size)
		return -EINVAL;
	memcpy(raw, tkp->key, size);
	return 0;
}

/*
 * <key>: hex digits, or ":<size>:<logon|user|trusted>:<description>".
 * The raw key lands in cc->raw_key.
 */
static int cil_parse_key(struct dm_target *ti, struct cil_c *cc, char *arg)
{
	unsigned int size = cc->cipher->key_size, given;
	struct key_type *type;
	struct key *key;
	char *desc, *p;
	int r;

	if (arg[0] != ':') {
		r = strlen(arg) == 2 * size ? hex2bin(cc->raw_key, arg, size) : 1;
		/* The table's copy of the key is not needed any more. */
		memzero_explicit(arg, strlen(arg));
		if (r > 0) {
			ti->error = "Key length does not match the cipher";
			return -EINVAL;
		}
		if (r) {
			ti->error = "Key is not in hex";
			return -EINVAL;
		}
		return 0;
	}

	p = strchr(arg + 1, ':');
	if (!p) {
		ti->error = "Invalid keyring key: expected :<size>:<type>:<description>";
		return -EINVAL;
	}
	*p = '\0';
	r = kstrtouint(arg + 1, 10, &given);
	*p = ':';
	if (r) {
		ti->error = "Invalid keyring key size";
		return -EINVAL;
	}
	if (given != size) {
		ti->error = "Keyring key size does not match the cipher";
		return -EINVAL;
	}
	desc = strchr(p + 1, ':');
	if (!desc || !desc[1]) {
		ti->error = "Invalid keyring key: expected :<size>:<type>:<description>";
		return -EINVAL;
	}
	if (!strncmp(p + 1, "logon:", desc - p)) {
		type = &key_type_logon;
	} else if (!strncmp(p + 1, "user:", desc - p)) {
		type = &key_type_user;
	} else if (IS_REACHABLE(CONFIG_TRUSTED_KEYS) &&
		   !strncmp(p + 1, "trusted:", desc - p)) {
		type = &key_type_trusted;
	} else {
		ti->error = "Unsupported keyring key type (logon, user or trusted)";
		return -EINVAL;
	}

	key = request_key(type, desc + 1, NULL);
	if (IS_ERR(key)) {
		ti->error = "Keyring key not found";
		return PTR_ERR(key);
	}
	down_read(&key->sem);
	r = cil_read_keyring_key(key, cc->raw_key, size);
	up_read(&key->sem);
	key_put(key);
	if (r) {
		ti->error = r == -EINVAL ? "Keyring key payload size does not match the cipher" :
					   "Keyring key revoked";
		return r;
	}
	cc->key_string = kstrdup(arg, GFP_KERNEL);
	if (!cc->key_string) {
		ti->error = "Cannot allocate the key description";
		return -ENOMEM;
	}
	return 0;
}

static int cil_parse_options(struct dm_target *ti, struct cil_c *cc,
			     struct dm_arg_set *as)
{
	static const struct dm_arg _args[] = {
		{0, 6, "Invalid number of feature arguments"},
	};
	unsigned int n, size;
	const char *opt;
	int r;

	if (!as->argc)
		return 0;
	r = dm_read_arg_group(_args, as, &n, &ti->error);
	if (r)
		return r;
	while (n--) {
		opt = dm_shift_arg(as);
		if (!strcasecmp(opt, "allow_discards")) {
			cc->allow_discards = true;
		} else if (!strcasecmp(opt, "iv_large_sectors")) {
			cc->iv_large_sectors = true;
		} else if (!strncasecmp(opt, "sector_size:", 12)) {
			if (kstrtouint(opt + 12, 10, &size) || size < 512 ||
			    size > 4096 || !is_power_of_2(size)) {
				ti->error = "Invalid sector_size: a power of two from 512 to 4096";
				return -EINVAL;
			}
			cc->sector_size = size;
		} else if (!strcasecmp(opt, "same_cpu_crypt") ||
			   !strcasecmp(opt, "submit_from_crypt_cpus") ||
			   !strcasecmp(opt, "no_read_workqueue") ||
			   !strcasecmp(opt, "no_write_workqueue")) {
			/* dm-crypt's queueing options: no queueing here. */
		} else {
			ti->error = "Invalid or unsupported feature argument";
			return -EINVAL;
		}
	}
	if (as->argc) {
		ti->error = "More arguments than the feature argument count says";
		return -EINVAL;
	}
	return 0;
}

/* Whether @bdev itself supports the key's configuration. */
static bool cil_native(struct block_device *bdev,
		       const struct blk_crypto_config *cfg)
{
	struct blk_crypto_profile *profile = bdev_get_queue(bdev)->crypto_profile;

	return profile &&
	       (profile->modes_supported[cfg->crypto_mode] & cfg->data_unit_size) &&
	       profile->max_dun_bytes_supported >= cfg->dun_bytes;
}

static void cil_put_key(struct cil_key *k)
{
	mutex_lock(&cil_keys_lock);
	if (!refcount_dec_and_test(&k->refs)) {
		mutex_unlock(&cil_keys_lock);
		return;
	}
	list_del(&k->node);
	mutex_unlock(&cil_keys_lock);
	/* No I/O with the key remains: out of the hardware, then wiped. */
	blk_crypto_evict_key(k->bdev, &k->key);
	kfree_sensitive(k);
}

/* The shared key for @bdev and @key, taking a reference, or NULL. */
static struct cil_key *cil_get_key(struct block_device *bdev,
				   const struct blk_crypto_key *key)
{
	struct cil_key *k;

	mutex_lock(&cil_keys_lock);
	list_for_each_entry(k, &cil_keys, node) {
		if (k->bdev == bdev && !memcmp(&k->key, key, sizeof(*key))) {
			refcount_inc(&k->refs);
			mutex_unlock(&cil_keys_lock);
			return k;
		}
	}
	k = kzalloc(sizeof(*k), GFP_KERNEL);
	if (k) {
		refcount_set(&k->refs, 1);
		k->bdev = bdev;
		memcpy(&k->key, key, sizeof(*key));
		list_add(&k->node, &cil_keys);
	}
	mutex_unlock(&cil_keys_lock);
	return k;
}

/*
 * The last data unit number the device uses, and the bytes it takes.  DUNs
 * are the dm-crypt IV sectors: (iv_offset + sector) in data units with
 * iv_large_sectors, in 512-byte sectors without.
 */
static int cil_setup_dun(struct dm_target *ti, struct cil_c *cc)
{
	u64 last, unit = cc->sector_size >> SECTOR_SHIFT;

	if (check_add_overflow(cc->iv_offset, (u64)ti->len - unit, &last)) {
		ti->error = "IV offset too large for the device size";
		return -EINVAL;
	}
	if (cc->iv_large_sectors)
		last >>= cc->sector_shift;
	cc->dun_bytes = max_t(unsigned int, 1, DIV_ROUND_UP(fls64(last), 8));
	return 0;
}

static int cil_prepare_key(struct dm_target *ti, struct cil_c *cc)
{
	struct blk_crypto_key *key;
	struct block_device *bdev = cc->dev->bdev;
	int r;

	key = kmalloc(sizeof(*key), GFP_KERNEL);
	if (!key) {
		ti->error = "Cannot allocate the key";
		return -ENOMEM;
	}
	r = cil_blk_crypto.init_key(key, cc->raw_key, cc->cipher->mode,
				    cc->dun_bytes, cc->sector_size);
	if (r) {
		ti->error = "Cannot initialize the inline encryption key";
		goto out;
	}
	/*
	 * Native if the device supports the configuration, else make sure
	 * blk-crypto-fallback has the mode ready now, so that no I/O fails
	 * for want of it later.
	 */
	r = cil_blk_crypto.start_using_key(bdev, key);
	if (r) {
		ti->error = "Neither device nor blk-crypto-fallback supports this configuration";
		goto out;
	}
	cc->native = cil_native(bdev, &key->crypto_cfg);
	cc->key = cil_get_key(bdev, key);
	if (!cc->key) {
		ti->error = "Cannot allocate the key";
		r = -ENOMEM;
	}
out:
	kfree_sensitive(key);
	return r;
}

static void cil_dtr(struct dm_target *ti)
{
	struct cil_c *cc = ti->private;

	if (!cc)
		return;
	if (cc->key)
		cil_put_key(cc->key);
	if (cc->dev)
		dm_put_device(ti, cc->dev);
	kfree_sensitive(cc->key_string);
	kfree_sensitive(cc);
	ti->private = NULL;
}

/*
 * <cipher> <key> <iv_offset> <dev> <offset> [<#opts> <opt>...]
 */
static int cil_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as;
	unsigned long long v;
	struct cil_c *cc;
	unsigned int unit;
	int r;

	if (argc < 5) {
		ti->error = "Not enough arguments: <cipher> <key> <iv_offset> <dev> <offset>";
		return -EINVAL;
	}
	cc = kzalloc(sizeof(*cc), GFP_KERNEL);
	if (!cc) {
		ti->error = "Cannot allocate crypt-inline context";
		return -ENOMEM;
	}
	ti->private = cc;
	cc->sector_size = SECTOR_SIZE;

	cc->cipher = cil_find_cipher(argv[0]);
	if (!cc->cipher) {
		ti->error = "Unknown or unsupported cipher";
		r = -EINVAL;
		goto bad;
	}
	r = cil_parse_key(ti, cc, argv[1]);
	if (r)
		goto bad;
	if (kstrtoull(argv[2], 10, &v)) {
		ti->error = "Invalid iv_offset";
		r = -EINVAL;
		goto bad;
	}
	cc->iv_offset = v;
	if (kstrtoull(argv[4], 10, &v) || v != (sector_t)v) {
		ti->error = "Invalid device offset";
		r = -EINVAL;
		goto bad;
	}
	cc->start = v;
	r = dm_get_device(ti, argv[3], dm_table_get_mode(ti->table), &cc->dev);
	if (r) {
		ti->error = "Device lookup failed";
		goto bad;
	}

	as.argc = argc - 5;
	as.argv = argv + 5;
	r = cil_parse_options(ti, cc, &as);
	if (r)
		goto bad;

	unit = cc->sector_size >> SECTOR_SHIFT;
	cc->sector_shift = __ffs(unit);
	if (ti->len & (unit - 1)) {
		ti->error = "Device size is not a multiple of sector_size";
		r = -EINVAL;
		goto bad;
	}
	/* As dm-crypt: IVs start on a sector boundary. */
	if (cc->iv_offset & (unit - 1)) {
		ti->error = "iv_offset is not a multiple of sector_size";
		r = -EINVAL;
		goto bad;
	}
	r = cil_setup_dun(ti, cc);
	if (r)
		goto bad;
	r = cil_prepare_key(ti, cc);
	if (r)
		goto bad;

	/*
	 * Without iv_large_sectors dm-crypt numbers the IVs of large sectors
	 * in 512-byte units, so consecutive data units' DUNs are not
	 * consecutive: each bio may carry one data unit only.
	 */
	if (!cc->iv_large_sectors && unit > 1) {
		r = dm_set_target_max_io_len(ti, unit);
		if (r) {
			ti->error = "Cannot limit bios to one sector";
			goto bad;
		}
	}
	ti->num_flush_bios = 1;
	if (cc->allow_discards)
		ti->num_discard_bios = 1;
	return 0;

bad:
	cil_dtr(ti);
	return r;
}

static int cil_map(struct dm_target *ti, struct bio *bio)
{
	struct cil_c *cc = ti->private;
	u64 dun[BLK_CRYPTO_DUN_ARRAY_SIZE] = { 0 };
	unsigned int unit = cc->sector_size >> SECTOR_SHIFT;
	sector_t offset = dm_target_offset(ti, bio->bi_iter.bi_sector);

	bio_set_dev(bio, cc->dev->bdev);
	if (unlikely(!bio_sectors(bio) || bio_op(bio) == REQ_OP_DISCARD)) {
		if (bio_sectors(bio))
			bio->bi_iter.bi_sector = cc->start + offset;
		return DM_MAPIO_REMAPPED;
	}
	if (unlikely(bio_has_crypt_ctx(bio))) {
		/* An upper layer brought its own key: not ours to override. */
		DMERR_LIMIT("%s: bio at sector %llu already has an encryption context",
			    dm_table_device_name(ti->table),
			    (unsigned long long)bio->bi_iter.bi_sector);
		return DM_MAPIO_KILL;
	}
	if (unlikely((offset | bio_sectors(bio)) & (unit - 1))) {
		DMERR_LIMIT("%s: bio of %u sectors at %llu not aligned to the %u-byte sector size",
			    dm_table_device_name(ti->table), bio_sectors(bio),
			    (unsigned long long)bio->bi_iter.bi_sector,
			    cc->sector_size);
		return DM_MAPIO_KILL;
	}

	dun[0] = cc->iv_offset + offset;
	if (cc->iv_large_sectors)
		dun[0] >>= cc->sector_shift;
	bio->bi_iter.bi_sector = cc->start + offset;
	cil_blk_crypto.set_ctx(bio, &cc->key->key, dun, GFP_NOIO);
	return DM_MAPIO_REMAPPED;
}

/*
 * INFO: "native" or "fallback".
 * TABLE: as dm-crypt: the key in hex, or its keyring reference.
 */
static void cil_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result,
		       unsigned int maxlen)
{
	struct cil_c *cc = ti->private;
	unsigned int sz = 0, i, nopts;

	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("%s", cc->native ? "native" : "fallback");
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s ", cc->cipher->name);
		if (cc->key_string)
			DMEMIT("%s", cc->key_string);
		else
			for (i = 0; i < cc->cipher->key_size; i++)
				DMEMIT("%02x", cc->raw_key[i]);
		DMEMIT(" %llu %s %llu", (unsigned long long)cc->iv_offset,
		       cc->dev->name, (unsigned long long)cc->start);
		nopts = cc->allow_discards + cc->iv_large_sectors +
			(cc->sector_size != SECTOR_SIZE);
		if (nopts)
			DMEMIT(" %u", nopts);
		if (cc->allow_discards)
			DMEMIT(" allow_discards");
		if (cc->sector_size != SECTOR_SIZE)
			DMEMIT(" sector_size:%u", cc->sector_size);
		if (cc->iv_large_sectors)
			DMEMIT(" iv_large_sectors");
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",cipher_string=%s,key_size=%u,iv_offset=%llu",
		       cc->cipher->name, cc->cipher->key_size,
		       (unsigned long long)cc->iv_offset);
		DMEMIT(",device_name=%s,start=%llu,sector_size=%u",
		       cc->dev->name, (unsigned long long)cc->start,
		       cc->sector_size);
		DMEMIT(",allow_discards=%c,iv_large_sectors=%c,path=%s;",
		       cc->allow_discards ? 'y' : 'n',
		       cc->iv_large_sectors ? 'y' : 'n',
		       cc->native ? "native" : "fallback");
		break;
	}
}

static int cil_iterate_devices(struct dm_target *ti,
			       iterate_devices_callout_fn fn, void *data)
{
	struct cil_c *cc = ti->private;

	return fn(ti, cc->dev, cc->start, ti->len, data);
}

static void cil_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct cil_c *cc = ti->private;
	unsigned int size = cc->sector_size;

	limits->logical_block_size = max(limits->logical_block_size, size);
	limits->physical_block_size = max(limits->physical_block_size, size);
	limits->io_min = max(limits->io_min, size);
	/* Data units must not straddle pages or memory segments. */
	limits->dma_alignment = max(limits->dma_alignment, size - 1);
}

static struct target_type crypt_inline_target = {
	.name = "crypt-inline",
	.version = {1, 0, 0},
	.module = THIS_MODULE,
	.ctr = cil_ctr,
	.dtr = cil_dtr,
	.map = cil_map,
	.status = cil_status,
	.iterate_devices = cil_iterate_devices,
	.io_hints = cil_io_hints,
};

static int __init cil_init(void)
{
	int r;

	r = cil_blk_crypto_resolve();
	if (r)
		return r;
	return dm_register_target(&crypt_inline_target);
}

static void __exit cil_exit(void)
{
	dm_unregister_target(&crypt_inline_target);
}

module_init(cil_init);
module_exit(cil_exit);

MODULE_DESCRIPTION(DM_NAME " target encrypting whole devices with inline encryption");
MODULE_LICENSE("GPL");
