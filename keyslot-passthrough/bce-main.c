// SPDX-License-Identifier: GPL-2.0
/*
 * blk-crypto-emu: a RAM block device with emulated inline encryption.
 *
 * Devices bce0, bce1, ... keep their data in pages, like brd, and expose a
 * blk-crypto profile: requests that carry an encryption context are really
 * encrypted on write and decrypted on read with the kernel's crypto API, so
 * that upper layers (fscrypt with -o inlinecrypt, stacked devices passing
 * inline encryption through) see "native" inline encryption and the backing
 * store holds ciphertext.
 *
 * queue_rq may sleep (BLK_MQ_F_BLOCKING): a request is served in line, and
 * serving it can allocate backing pages, scatterlists and cipher requests,
 * and, for passthrough devices, a cipher for a key not yet cached.  All of
 * these are sleeping allocations made with I/O disabled, which never fail
 * for lack of atomic reserves and never recurse into the block layer.
 */
#define pr_fmt(fmt) "blk-crypto-emu: " fmt

#include <crypto/skcipher.h>
#include <linux/blk-crypto.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "bce.h"

#define BCE_MAX_DEVS		16
#define BCE_MAX_SIZE_MIB	4096
#define BCE_MAX_KEYSLOTS	1024
#define BCE_MAX_CACHE		4096
#define BCE_ALL_MODES		GENMASK(BLK_ENCRYPTION_MODE_MAX - 1, 1)
#define BCE_ALL_DU_SIZES	GENMASK(16, SECTOR_SHIFT)	/* 512..64K */
#define BCE_MAX_DUN_BYTES	(BLK_CRYPTO_DUN_ARRAY_SIZE * sizeof(u64))

static unsigned int nr_devs = 1;
module_param(nr_devs, uint, 0444);
MODULE_PARM_DESC(nr_devs, "Number of devices, 1 to 16 (default 1)");

static unsigned int size_mib = 64;
module_param(size_mib, uint, 0444);
MODULE_PARM_DESC(size_mib, "Size of each device in MiB, 1 to 4096 (default 64)");

/*
 * Per-device settings are arrays: the n-th value is for device n, and devices
 * beyond the values given take the last one.
 */
static unsigned int keyslots[BCE_MAX_DEVS];
static unsigned int nr_keyslots;
module_param_array(keyslots, uint, &nr_keyslots, 0444);
MODULE_PARM_DESC(keyslots, "Per device: number of keyslots, 0 for passthrough hardware taking the key with each request (default 8)");

static unsigned int modes[BCE_MAX_DEVS];
static unsigned int nr_modes;
module_param_array(modes, uint, &nr_modes, 0444);
MODULE_PARM_DESC(modes, "Per device: crypto modes, bit n for blk-crypto mode n: 0x2 AES-256-XTS, 0x4 AES-128-CBC-ESSIV, 0x8 Adiantum, 0x10 SM4-XTS, 0 none (default: those the kernel offers)");

static unsigned int du_sizes[BCE_MAX_DEVS];
static unsigned int nr_du_sizes;
module_param_array(du_sizes, uint, &nr_du_sizes, 0444);
MODULE_PARM_DESC(du_sizes, "Per device: data unit sizes, bit n for 1 << n bytes, n from 9 to 16 (default 0x1e00: 512 to 4096)");

static unsigned int max_dun_bytes[BCE_MAX_DEVS];
static unsigned int nr_max_dun_bytes;
module_param_array(max_dun_bytes, uint, &nr_max_dun_bytes, 0444);
MODULE_PARM_DESC(max_dun_bytes, "Per device: bytes of data unit number supported, 1 to 32 (default 8)");

unsigned int bce_tfm_cache_size = 16;
module_param_named(tfm_cache, bce_tfm_cache_size, uint, 0444);
MODULE_PARM_DESC(tfm_cache, "Passthrough devices: ciphers cached per device, 1 to 4096 (default 16)");

static int bce_major;
static struct bce_dev *bce_devs[BCE_MAX_DEVS];

static unsigned int bce_param(const unsigned int *vals, unsigned int nr,
			      unsigned int i, unsigned int def)
{
	if (!nr)
		return def;
	return vals[min(i, nr - 1)];
}

/* ---- backing store ---------------------------------------------------- */

/**
 * bce_store_page() - a page of the backing store
 * @dev: the device
 * @idx: page index
 * @alloc: allocate the page (zeroed) if it does not exist yet
 *
 * Pages are only freed with the device.
 *
 * Return: the page, or %NULL if it does not exist and was not allocated.
 */
struct page *bce_store_page(struct bce_dev *dev, pgoff_t idx, bool alloc)
{
	struct page *page, *cur;

	page = xa_load(&dev->pages, idx);
	if (page || !alloc)
		return page;

	page = alloc_page(GFP_NOIO | __GFP_ZERO | __GFP_HIGHMEM);
	if (!page)
		return NULL;
	cur = xa_cmpxchg(&dev->pages, idx, NULL, page, GFP_NOIO);
	if (unlikely(cur)) {
		__free_page(page);
		return xa_is_err(cur) ? NULL : cur;
	}
	return page;
}

static void bce_store_free(struct bce_dev *dev)
{
	struct page *page;
	unsigned long idx;

	xa_for_each(&dev->pages, idx, page)
		__free_page(page);
	xa_destroy(&dev->pages);
}

/* A request without encryption context: copy as it is. */
static blk_status_t bce_plain_rq(struct bce_dev *dev, struct request *rq)
{
	bool write = rq_data_dir(rq) == WRITE;
	sector_t sector = blk_rq_pos(rq);
	struct req_iterator iter;
	struct bio_vec bv;

	rq_for_each_segment(bv, rq, iter) {
		unsigned int done = 0;

		while (done < bv.bv_len) {
			unsigned int off = (sector & (PAGE_SECTORS - 1)) <<
					   SECTOR_SHIFT;
			unsigned int len = min_t(unsigned int,
						 bv.bv_len - done,
						 PAGE_SIZE - off);
			struct page *page;

			page = bce_store_page(dev, sector >> PAGE_SECTORS_SHIFT,
					      write);
			if (write) {
				if (!page)
					return BLK_STS_RESOURCE;
				memcpy_page(page, off, bv.bv_page,
					    bv.bv_offset + done, len);
			} else if (page) {
				memcpy_page(bv.bv_page, bv.bv_offset + done,
					    page, off, len);
			} else {
				memzero_page(bv.bv_page, bv.bv_offset + done,
					     len);
			}
			done += len;
			sector += len >> SECTOR_SHIFT;
		}
	}
	bce_count(dev, BCE_PLAIN_REQS, 1);
	return BLK_STS_OK;
}

static blk_status_t bce_queue_rq(struct blk_mq_hw_ctx *hctx,
				 const struct blk_mq_queue_data *bd)
{
	struct bce_dev *dev = hctx->queue->queuedata;
	struct request *rq = bd->rq;
	blk_status_t status;

	blk_mq_start_request(rq);
	switch (req_op(rq)) {
	case REQ_OP_FLUSH:
		status = BLK_STS_OK;
		break;
	case REQ_OP_READ:
	case REQ_OP_WRITE:
		if (!rq->crypt_ctx)
			status = bce_plain_rq(dev, rq);
		else if (WARN_ON_ONCE(!dev->modes))
			status = BLK_STS_IOERR;
		else
			status = bce_crypt_rq(dev, rq);
		break;
	default:
		status = BLK_STS_NOTSUPP;
		break;
	}
	if (status != BLK_STS_OK)
		bce_count(dev, BCE_ERRORS, 1);
	blk_mq_end_request(rq, status);
	return BLK_STS_OK;
}

static const struct blk_mq_ops bce_mq_ops = {
	.queue_rq = bce_queue_rq,
};

static const struct block_device_operations bce_fops = {
	.owner = THIS_MODULE,
};

/* ---- devices ------------------------------------------------------------ */

static void bce_dev_free(struct bce_dev *dev)
{
	bce_store_free(dev);
	kfree(dev);
}

static int bce_dev_create(unsigned int id)
{
	struct queue_limits lim = {
		.logical_block_size = SECTOR_SIZE,
		.physical_block_size = PAGE_SIZE,
		.max_hw_sectors = 2048,
		.max_segments = 256,
	};
	struct bce_dev *dev;
	struct gendisk *disk;
	int err;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	dev->id = id;
	xa_init(&dev->pages);
	dev->nr_sectors = (sector_t)size_mib << (20 - SECTOR_SHIFT);
	dev->nr_slots = bce_param(keyslots, nr_keyslots, id, 8);
	dev->modes = bce_param(modes, nr_modes, id, BCE_ALL_MODES);
	dev->du_sizes = bce_param(du_sizes, nr_du_sizes, id,
				  GENMASK(12, SECTOR_SHIFT));
	dev->max_dun_bytes = bce_param(max_dun_bytes, nr_max_dun_bytes, id, 8);

	err = bce_crypto_init(dev);
	if (err)
		goto free_dev;

	dev->tag_set.ops = &bce_mq_ops;
	dev->tag_set.nr_hw_queues = 1;
	dev->tag_set.queue_depth = 64;
	dev->tag_set.numa_node = NUMA_NO_NODE;
	dev->tag_set.flags = BLK_MQ_F_SHOULD_MERGE | BLK_MQ_F_BLOCKING;
	dev->tag_set.driver_data = dev;
	err = blk_mq_alloc_tag_set(&dev->tag_set);
	if (err)
		goto exit_crypto;

	disk = blk_mq_alloc_disk(&dev->tag_set, &lim, dev);
	if (IS_ERR(disk)) {
		err = PTR_ERR(disk);
		goto free_tag_set;
	}
	dev->disk = disk;
	disk->major = bce_major;
	disk->first_minor = id;
	disk->minors = 1;
	disk->flags |= GENHD_FL_NO_PART;
	disk->fops = &bce_fops;
	disk->private_data = dev;
	snprintf(disk->disk_name, DISK_NAME_LEN, "bce%u", id);
	set_capacity(disk, dev->nr_sectors);

	/* Before add_disk(), which creates queue/crypto in sysfs. */
	if (dev->modes && !blk_crypto_register(bce_profile(dev), disk->queue)) {
		err = -EINVAL;
		goto put_disk;
	}

	err = add_disk(disk);
	if (err)
		goto put_disk;
	bce_debugfs_add(dev);
	bce_devs[id] = dev;
	return 0;

put_disk:
	put_disk(disk);
free_tag_set:
	blk_mq_free_tag_set(&dev->tag_set);
exit_crypto:
	bce_crypto_exit(dev);
free_dev:
	bce_dev_free(dev);
	return err;
}

static void bce_dev_destroy(struct bce_dev *dev)
{
	bce_debugfs_remove(dev);
	del_gendisk(dev->disk);
	put_disk(dev->disk);
	blk_mq_free_tag_set(&dev->tag_set);
	bce_crypto_exit(dev);
	bce_dev_free(dev);
}

/* ---- module ------------------------------------------------------------- */

static int bce_check_array(const char *name, const unsigned int *vals,
			   unsigned int nr, unsigned int min, unsigned int max)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (vals[i] < min || vals[i] > max) {
			pr_err("%s: value %u for device %u is out of range %u to %u\n",
			       name, vals[i], i, min, max);
			return -EINVAL;
		}
	}
	return 0;
}

static int bce_check_params(void)
{
	unsigned int i;
	int err;

	if (nr_devs < 1 || nr_devs > BCE_MAX_DEVS) {
		pr_err("nr_devs=%u is out of range 1 to %u\n", nr_devs,
		       BCE_MAX_DEVS);
		return -EINVAL;
	}
	if (size_mib < 1 || size_mib > BCE_MAX_SIZE_MIB) {
		pr_err("size_mib=%u is out of range 1 to %u\n", size_mib,
		       BCE_MAX_SIZE_MIB);
		return -EINVAL;
	}
	if (bce_tfm_cache_size < 1 || bce_tfm_cache_size > BCE_MAX_CACHE) {
		pr_err("tfm_cache=%u is out of range 1 to %u\n",
		       bce_tfm_cache_size, BCE_MAX_CACHE);
		return -EINVAL;
	}
	err = bce_check_array("keyslots", keyslots, nr_keyslots, 0,
			      BCE_MAX_KEYSLOTS);
	if (!err)
		err = bce_check_array("max_dun_bytes", max_dun_bytes,
				      nr_max_dun_bytes, 1, BCE_MAX_DUN_BYTES);
	if (err)
		return err;

	for (i = 0; i < nr_modes; i++) {
		if (modes[i] & ~BCE_ALL_MODES) {
			pr_err("modes: %#x for device %u has unknown mode bits %#lx (known: %#lx)\n",
			       modes[i], i, modes[i] & ~BCE_ALL_MODES,
			       BCE_ALL_MODES);
			return -EINVAL;
		}
	}
	for (i = 0; i < nr_du_sizes; i++) {
		if (!du_sizes[i] || (du_sizes[i] & ~BCE_ALL_DU_SIZES)) {
			pr_err("du_sizes: %#x for device %u is not a set of powers of two from 512 to 65536 (mask %#lx)\n",
			       du_sizes[i], i, BCE_ALL_DU_SIZES);
			return -EINVAL;
		}
	}
	return 0;
}

/* Without an explicit modes=, offer whatever the kernel can do. */
static void bce_default_modes(void)
{
	unsigned int m, avail = 0;

	if (nr_modes)
		return;
	for (m = 1; m < BLK_ENCRYPTION_MODE_MAX; m++) {
		if (crypto_has_skcipher(bce_modes[m].cipher, 0,
					CRYPTO_ALG_ASYNC))
			avail |= BIT(m);
		else
			pr_info("%s left out: no cipher %s in this kernel\n",
				bce_modes[m].name, bce_modes[m].cipher);
	}
	modes[0] = avail;
	nr_modes = 1;
}

static void bce_destroy_all(void)
{
	unsigned int i;

	for (i = 0; i < BCE_MAX_DEVS; i++) {
		if (bce_devs[i]) {
			bce_dev_destroy(bce_devs[i]);
			bce_devs[i] = NULL;
		}
	}
}

static int __init bce_init(void)
{
	unsigned int i;
	int err;

	err = bce_check_params();
	if (err)
		return err;
	bce_default_modes();

	bce_major = register_blkdev(0, "bce");
	if (bce_major < 0)
		return bce_major;
	bce_debugfs_init();

	for (i = 0; i < nr_devs; i++) {
		err = bce_dev_create(i);
		if (err) {
			pr_err("cannot create bce%u: error %d\n", i, err);
			goto destroy;
		}
	}
	return 0;

destroy:
	bce_destroy_all();
	bce_debugfs_exit();
	unregister_blkdev(bce_major, "bce");
	return err;
}

static void __exit bce_exit(void)
{
	bce_destroy_all();
	bce_debugfs_exit();
	unregister_blkdev(bce_major, "bce");
}

module_init(bce_init);
module_exit(bce_exit);

MODULE_DESCRIPTION("RAM block device with emulated inline encryption");
MODULE_LICENSE("GPL");
