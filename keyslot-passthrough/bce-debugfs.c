// SPDX-License-Identifier: GPL-2.0
/*
 * blk-crypto-emu: debugfs interface, one directory per device under
 * /sys/kernel/debug/blk-crypto-emu/:
 *
 *   config  the device's settings
 *   stats   counters, "name value" per line
 *   raw     the backing store, read-only, bypassing the block layer
 *   crypt   write "encrypt|decrypt <mode> <du_size> <dun> <sector>
 *           <nr_sectors> <hex key>" to transform part of the backing store
 *           in place, exactly as requests with that key and DUN would
 */
#define pr_fmt(fmt) "blk-crypto-emu: " fmt

#include <crypto/skcipher.h>
#include <linux/blkdev.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/kernel.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "bce.h"

static struct dentry *bce_debugfs_root;

static const char *const bce_stat_names[BCE_NR_STATS] = {
	[BCE_KEYSLOT_PROGRAMS] = "keyslot_programs",
	[BCE_KEYSLOT_EVICTIONS] = "keyslot_evictions",
	[BCE_KEY_EVICTIONS] = "key_evictions",
	[BCE_TFM_ALLOCS] = "tfm_allocs",
	[BCE_TFM_HITS] = "tfm_hits",
	[BCE_TFM_FREES] = "tfm_frees",
	[BCE_ENC_REQS] = "encrypted_requests",
	[BCE_DEC_REQS] = "decrypted_requests",
	[BCE_ENC_UNITS] = "encrypted_units",
	[BCE_DEC_UNITS] = "decrypted_units",
	[BCE_PLAIN_REQS] = "plain_requests",
	[BCE_ERRORS] = "errors",
};

static int bce_stats_show(struct seq_file *m, void *v)
{
	struct bce_dev *dev = m->private;
	unsigned int i;

	for (i = 0; i < BCE_NR_STATS; i++)
		seq_printf(m, "%s %lld\n", bce_stat_names[i],
			   (long long)atomic64_read(&dev->stats[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bce_stats);

static int bce_config_show(struct seq_file *m, void *v)
{
	struct bce_dev *dev = m->private;
	unsigned int i;

	seq_printf(m, "flavour %s\n", !dev->modes ? "none" :
		   dev->nr_slots ? "keyslot" : "passthrough");
	seq_printf(m, "keyslots %u\n", dev->nr_slots);
	seq_printf(m, "modes %#x\n", dev->modes);
	for (i = 1; i < BLK_ENCRYPTION_MODE_MAX; i++)
		if (dev->modes & BIT(i))
			seq_printf(m, "mode %u %s\n", i, bce_modes[i].name);
	seq_printf(m, "du_sizes %#x\n", dev->du_sizes);
	seq_printf(m, "max_dun_bytes %u\n", dev->max_dun_bytes);
	seq_printf(m, "sectors %llu\n", (u64)dev->nr_sectors);
	seq_printf(m, "tfm_cache %u\n", bce_tfm_cache_size);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bce_config);

static ssize_t bce_raw_read(struct file *file, char __user *buf,
			    size_t count, loff_t *ppos)
{
	struct bce_dev *dev = file->private_data;
	loff_t size = (loff_t)dev->nr_sectors << SECTOR_SHIFT;
	loff_t pos = *ppos;
	size_t done = 0;

	if (pos < 0)
		return -EINVAL;
	if (pos >= size)
		return 0;
	count = min_t(loff_t, count, size - pos);

	while (done < count) {
		unsigned int off = offset_in_page(pos);
		size_t len = min_t(size_t, count - done, PAGE_SIZE - off);
		struct page *page = bce_store_page(dev, pos >> PAGE_SHIFT,
						   false);
		unsigned long left;

		if (page) {
			void *addr = kmap_local_page(page);

			left = copy_to_user(buf + done, addr + off, len);
			kunmap_local(addr);
		} else {
			left = clear_user(buf + done, len);
		}
		if (left) {
			if (!done)
				return -EFAULT;
			break;
		}
		done += len;
		pos += len;
		cond_resched();
	}
	*ppos = pos;
	return done;
}

static const struct file_operations bce_raw_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = bce_raw_read,
	.llseek = default_llseek,
};

#define BCE_CRYPT_CMD_MAX	256

static int bce_crypt_cmd(struct bce_dev *dev, char *cmd)
{
	char op[8], hex[2 * BLK_CRYPTO_MAX_KEY_SIZE + 1];
	u8 key[BLK_CRYPTO_MAX_KEY_SIZE];
	unsigned int mode, du_size, nr_sectors, key_size;
	unsigned long long dun, sector;
	struct crypto_skcipher *tfm;
	bool encrypt;
	int err;

	if (sscanf(cmd, "%7s %u %u %llu %llu %u %128s", op, &mode, &du_size,
		   &dun, &sector, &nr_sectors, hex) != 7)
		return -EINVAL;
	if (!strcmp(op, "encrypt"))
		encrypt = true;
	else if (!strcmp(op, "decrypt"))
		encrypt = false;
	else
		return -EINVAL;
	if (mode <= BLK_ENCRYPTION_MODE_INVALID ||
	    mode >= BLK_ENCRYPTION_MODE_MAX)
		return -EINVAL;
	if (du_size < SECTOR_SIZE || du_size > SZ_64K ||
	    !is_power_of_2(du_size))
		return -EINVAL;
	if (((sector << SECTOR_SHIFT) | ((u64)nr_sectors << SECTOR_SHIFT)) &
	    (du_size - 1))
		return -EINVAL;
	if (sector > dev->nr_sectors || nr_sectors > dev->nr_sectors - sector)
		return -ERANGE;
	key_size = bce_modes[mode].key_size;
	if (strlen(hex) != 2 * key_size || hex2bin(key, hex, key_size))
		return -EINVAL;

	tfm = bce_alloc_tfm(mode, key, key_size);
	memzero_explicit(key, sizeof(key));
	memzero_explicit(hex, sizeof(hex));
	if (IS_ERR(tfm))
		return PTR_ERR(tfm);
	err = bce_crypt_store(dev, tfm, du_size, dun, sector, nr_sectors,
			      encrypt);
	crypto_free_skcipher(tfm);
	return err;
}

static ssize_t bce_crypt_write(struct file *file, const char __user *buf,
			       size_t count, loff_t *ppos)
{
	struct bce_dev *dev = file->private_data;
	char *cmd;
	int err;

	if (count >= BCE_CRYPT_CMD_MAX)
		return -EINVAL;
	cmd = memdup_user_nul(buf, count);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	err = bce_crypt_cmd(dev, cmd);
	kfree_sensitive(cmd);
	return err ? err : count;
}

static const struct file_operations bce_crypt_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = bce_crypt_write,
	.llseek = noop_llseek,
};

void bce_debugfs_add(struct bce_dev *dev)
{
	struct dentry *dir;

	dir = debugfs_create_dir(dev->disk->disk_name, bce_debugfs_root);
	dev->debugfs = dir;
	debugfs_create_file("stats", 0444, dir, dev, &bce_stats_fops);
	debugfs_create_file("config", 0444, dir, dev, &bce_config_fops);
	debugfs_create_file_size("raw", 0400, dir, dev, &bce_raw_fops,
				 (loff_t)dev->nr_sectors << SECTOR_SHIFT);
	debugfs_create_file("crypt", 0200, dir, dev, &bce_crypt_fops);
}

void bce_debugfs_remove(struct bce_dev *dev)
{
	debugfs_remove_recursive(dev->debugfs);
	dev->debugfs = NULL;
}

void bce_debugfs_init(void)
{
	bce_debugfs_root = debugfs_create_dir("blk-crypto-emu", NULL);
}

void bce_debugfs_exit(void)
{
	debugfs_remove_recursive(bce_debugfs_root);
	bce_debugfs_root = NULL;
}
