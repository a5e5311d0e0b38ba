// SPDX-License-Identifier: GPL-2.0
/*
 * blk-crypto-emu: the emulated inline encryption engine.
 *
 * Two flavours of hardware are emulated:
 *
 *  - keyslot hardware: blk-crypto programs keys into a fixed number of slots
 *    (each slot gets its own cipher, allocated and keyed when the slot is
 *    programmed), and every encrypted request arrives holding a slot;
 *  - passthrough hardware: no slots, the key travels with each request (its
 *    crypt context).  The cipher for a key is taken from a small per-device
 *    cache, keyed by the key's contents, and dropped when the key is evicted.
 *
 * Data units are encrypted straight from the request's pages into the
 * backing store on writes, and decrypted from the store into the request's
 * pages on reads.  The IV of a data unit is its DUN as little-endian 64-bit
 * limbs, as blk-crypto-fallback does, so AES-256-XTS ciphertext matches
 * dm-crypt's aes-xts-plain64 for the same key and sector numbering.
 */
#define pr_fmt(fmt) "blk-crypto-emu: " fmt

#include <crypto/algapi.h>
#include <crypto/skcipher.h>
#include <linux/blk-crypto.h>
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/sched/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "bce.h"

const struct bce_mode bce_modes[BLK_ENCRYPTION_MODE_MAX] = {
	[BLK_ENCRYPTION_MODE_AES_256_XTS] = {
		.name = "AES-256-XTS",
		.cipher = "xts(aes)",
		.key_size = 64,
		.iv_size = 16,
	},
	[BLK_ENCRYPTION_MODE_AES_128_CBC_ESSIV] = {
		.name = "AES-128-CBC-ESSIV",
		.cipher = "essiv(cbc(aes),sha256)",
		.key_size = 16,
		.iv_size = 16,
	},
	[BLK_ENCRYPTION_MODE_ADIANTUM] = {
		.name = "Adiantum",
		.cipher = "adiantum(xchacha12,aes)",
		.key_size = 32,
		.iv_size = 32,
	},
	[BLK_ENCRYPTION_MODE_SM4_XTS] = {
		.name = "SM4-XTS",
		.cipher = "xts(sm4)",
		.key_size = 32,
		.iv_size = 16,
	},
};

union bce_iv {
	__le64 dun[BLK_CRYPTO_DUN_ARRAY_SIZE];
	u8 bytes[BLK_CRYPTO_MAX_IV_SIZE];
};

static void bce_dun_inc(u64 dun[BLK_CRYPTO_DUN_ARRAY_SIZE])
{
	unsigned int i;

	/* A multi-limb integer, least significant limb first. */
	for (i = 0; i < BLK_CRYPTO_DUN_ARRAY_SIZE; i++)
		if (++dun[i])
			break;
}

/**
 * bce_alloc_tfm() - allocate a synchronous cipher for a mode
 * @mode: the blk-crypto mode
 * @raw: the key, or %NULL for an unkeyed cipher
 * @size: the key's size
 *
 * Sleeps, but allocates with I/O disabled, so it may be called while
 * preparing I/O.
 *
 * Return: the cipher, or an ERR_PTR().
 */
struct crypto_skcipher *bce_alloc_tfm(enum blk_crypto_mode_num mode,
				      const u8 *raw, unsigned int size)
{
	const struct bce_mode *m = &bce_modes[mode];
	struct crypto_skcipher *tfm;
	unsigned int noio;
	int err;

	if (mode <= BLK_ENCRYPTION_MODE_INVALID ||
	    mode >= BLK_ENCRYPTION_MODE_MAX || !m->cipher)
		return ERR_PTR(-EINVAL);

	noio = memalloc_noio_save();
	/* Synchronous implementations only: requests complete in line. */
	tfm = crypto_alloc_skcipher(m->cipher, 0, CRYPTO_ALG_ASYNC);
	memalloc_noio_restore(noio);
	if (IS_ERR(tfm))
		return tfm;
	if (crypto_skcipher_ivsize(tfm) != m->iv_size) {
		err = -EINVAL;
		goto free;
	}
	crypto_skcipher_set_flags(tfm, CRYPTO_TFM_REQ_FORBID_WEAK_KEYS);
	if (raw) {
		if (size != m->key_size) {
			err = -EINVAL;
			goto free;
		}
		err = crypto_skcipher_setkey(tfm, raw, size);
		if (err)
			goto free;
	}
	return tfm;
free:
	crypto_free_skcipher(tfm);
	return ERR_PTR(err);
}

/* ---- keyslot flavour ---------------------------------------------------- */

static struct bce_dev *bce_from_slot_profile(struct blk_crypto_profile *p)
{
	return container_of(p, struct bce_dev, slot_profile);
}

/*
 * Called by blk-crypto under the profile's lock, in process context, while no
 * request holds @slot: the slot's cipher can be replaced without further
 * locking, and requests that later get the slot see the new one.
 */
static int bce_keyslot_program(struct blk_crypto_profile *profile,
			       const struct blk_crypto_key *key,
			       unsigned int slot)
{
	struct bce_dev *dev = bce_from_slot_profile(profile);
	struct crypto_skcipher *tfm;

	tfm = bce_alloc_tfm(key->crypto_cfg.crypto_mode, key->raw, key->size);
	if (IS_ERR(tfm))
		return PTR_ERR(tfm);
	crypto_free_skcipher(dev->slots[slot].tfm);
	dev->slots[slot].tfm = tfm;
	bce_count(dev, BCE_KEYSLOT_PROGRAMS, 1);
	return 0;
}

static int bce_keyslot_evict(struct blk_crypto_profile *profile,
			     const struct blk_crypto_key *key,
			     unsigned int slot)
{
	struct bce_dev *dev = bce_from_slot_profile(profile);

	crypto_free_skcipher(dev->slots[slot].tfm);
	dev->slots[slot].tfm = NULL;
	bce_count(dev, BCE_KEYSLOT_EVICTIONS, 1);
	return 0;
}

/* ---- passthrough flavour: ciphers cached per key ------------------------ */

static bool bce_key_matches(const struct bce_cached_key *ck,
			    const struct blk_crypto_key *key)
{
	return ck->mode == key->crypto_cfg.crypto_mode &&
	       ck->size == key->size &&
	       !crypto_memneq(ck->raw, key->raw, key->size);
}

static void bce_key_free(struct bce_dev *dev, struct bce_cached_key *ck)
{
	crypto_free_skcipher(ck->tfm);
	kfree_sensitive(ck);
	bce_count(dev, BCE_TFM_FREES, 1);
}

/* Drop least recently used idle ciphers beyond the cache size. */
static void bce_key_cache_trim(struct bce_dev *dev)
{
	struct bce_cached_key *ck, *tmp;

	lockdep_assert_held(&dev->key_cache_lock);
	list_for_each_entry_safe_reverse(ck, tmp, &dev->key_cache, node) {
		if (dev->nr_cached <= bce_tfm_cache_size)
			break;
		if (ck->users)
			continue;
		list_del(&ck->node);
		dev->nr_cached--;
		bce_key_free(dev, ck);
	}
}

/*
 * Look the key up by contents, not by address: a key object that upper
 * layers freed without evicting it here must never lend its cipher to a new
 * key that happens to be allocated at the same address.
 */
static struct bce_cached_key *bce_key_get(struct bce_dev *dev,
					  const struct blk_crypto_key *key)
{
	struct bce_cached_key *ck;
	struct crypto_skcipher *tfm;

	mutex_lock(&dev->key_cache_lock);
	list_for_each_entry(ck, &dev->key_cache, node) {
		if (bce_key_matches(ck, key)) {
			ck->users++;
			list_move(&ck->node, &dev->key_cache);
			bce_count(dev, BCE_TFM_HITS, 1);
			goto out;
		}
	}

	tfm = bce_alloc_tfm(key->crypto_cfg.crypto_mode, key->raw, key->size);
	if (IS_ERR(tfm)) {
		ck = ERR_CAST(tfm);
		goto out;
	}
	ck = kzalloc(sizeof(*ck), GFP_NOIO);
	if (!ck) {
		crypto_free_skcipher(tfm);
		ck = ERR_PTR(-ENOMEM);
		goto out;
	}
	ck->users = 1;
	ck->mode = key->crypto_cfg.crypto_mode;
	ck->size = key->size;
	memcpy(ck->raw, key->raw, key->size);
	ck->tfm = tfm;
	list_add(&ck->node, &dev->key_cache);
	dev->nr_cached++;
	bce_count(dev, BCE_TFM_ALLOCS, 1);
	bce_key_cache_trim(dev);
out:
	mutex_unlock(&dev->key_cache_lock);
	return ck;
}

static void bce_key_put(struct bce_dev *dev, struct bce_cached_key *ck)
{
	mutex_lock(&dev->key_cache_lock);
	if (!--ck->users) {
		if (ck->evicted)
			bce_key_free(dev, ck);
		else
			bce_key_cache_trim(dev);
	}
	mutex_unlock(&dev->key_cache_lock);
}

static int bce_pt_evict(struct ksp_profile *kp,
			const struct blk_crypto_key *key)
{
	struct bce_dev *dev = container_of(kp, struct bce_dev, pt_profile);
	struct bce_cached_key *ck, *tmp;

	bce_count(dev, BCE_KEY_EVICTIONS, 1);
	mutex_lock(&dev->key_cache_lock);
	list_for_each_entry_safe(ck, tmp, &dev->key_cache, node) {
		if (!bce_key_matches(ck, key))
			continue;
		list_del_init(&ck->node);
		dev->nr_cached--;
		/* Only another key object with the same bytes can use it. */
		if (ck->users)
			ck->evicted = true;
		else
			bce_key_free(dev, ck);
	}
	mutex_unlock(&dev->key_cache_lock);
	return 0;
}

static const struct ksp_ops bce_pt_ops = {
	.evict = bce_pt_evict,
};

/* ---- data path ---------------------------------------------------------- */

/*
 * Describe @bytes of the backing store from @sector in @sg.  Missing pages are
 * allocated when @alloc, else read as zeroes.
 */
static int bce_store_sg(struct bce_dev *dev, sector_t sector,
			unsigned int bytes, struct scatterlist *sg,
			unsigned int nsg, bool alloc)
{
	unsigned int n = 0;

	sg_init_table(sg, nsg);
	while (bytes) {
		unsigned int off = (sector & (PAGE_SECTORS - 1)) << SECTOR_SHIFT;
		unsigned int len = min_t(unsigned int, bytes, PAGE_SIZE - off);
		struct page *page;

		page = bce_store_page(dev, sector >> PAGE_SECTORS_SHIFT, alloc);
		if (!page) {
			if (alloc)
				return -ENOMEM;
			page = ZERO_PAGE(0);
		}
		if (n == nsg)
			return -EIO;
		sg_set_page(&sg[n++], page, len, off);
		sector += len >> SECTOR_SHIFT;
		bytes -= len;
	}
	sg_mark_end(&sg[n - 1]);
	return 0;
}

static int bce_crypt_one(struct skcipher_request *req,
			 struct scatterlist *src, struct scatterlist *dst,
			 unsigned int du_size,
			 const u64 dun[BLK_CRYPTO_DUN_ARRAY_SIZE], bool encrypt)
{
	union bce_iv iv;
	unsigned int i;

	for (i = 0; i < BLK_CRYPTO_DUN_ARRAY_SIZE; i++)
		iv.dun[i] = cpu_to_le64(dun[i]);
	skcipher_request_set_crypt(req, src, dst, du_size, iv.bytes);
	return encrypt ? crypto_skcipher_encrypt(req) :
			 crypto_skcipher_decrypt(req);
}

/* Store scatterlist entries a data unit may need. */
static unsigned int bce_store_nsg(unsigned int du_size)
{
	return DIV_ROUND_UP(du_size, PAGE_SIZE) + 1;
}

/**
 * bce_crypt_store() - encrypt or decrypt part of the backing store in place
 * @dev: the device
 * @tfm: a keyed cipher
 * @du_size: data unit size
 * @dun: DUN of the first data unit (its lowest 64 bits; the rest are zero)
 * @sector: first sector, a multiple of the data unit size
 * @nr_sectors: number of sectors, a multiple of the data unit size
 * @encrypt: direction
 *
 * The same transformation as a request carrying this key and DUN gets, for
 * the debugfs known-answer interface.
 *
 * Return: 0 or a negative error code.
 */
int bce_crypt_store(struct bce_dev *dev, struct crypto_skcipher *tfm,
		    unsigned int du_size, u64 dun, sector_t sector,
		    unsigned int nr_sectors, bool encrypt)
{
	u64 duns[BLK_CRYPTO_DUN_ARRAY_SIZE] = { dun };
	unsigned int nsg = bce_store_nsg(du_size);
	unsigned int du_sectors = du_size >> SECTOR_SHIFT;
	struct skcipher_request *req;
	struct scatterlist *sg;
	unsigned int done;
	int err = 0;

	req = skcipher_request_alloc(tfm, GFP_KERNEL);
	sg = kmalloc_array(nsg, sizeof(*sg), GFP_KERNEL);
	if (!req || !sg) {
		err = -ENOMEM;
		goto out;
	}
	skcipher_request_set_callback(req, 0, NULL, NULL);
	for (done = 0; done < nr_sectors; done += du_sectors) {
		err = bce_store_sg(dev, sector + done, du_size, sg, nsg, true);
		if (err)
			break;
		err = bce_crypt_one(req, sg, sg, du_size, duns, encrypt);
		if (err)
			break;
		bce_dun_inc(duns);
		cond_resched();
	}
out:
	kfree(sg);
	skcipher_request_free(req);
	return err;
}

/*
 * Encrypt (write) or decrypt (read) a request.  Runs in queue_rq, which may
 * sleep (BLK_MQ_F_BLOCKING).  blk-crypto guarantees that the request starts
 * on a data unit boundary and covers whole data units, and that its crypt
 * context holds the DUN of its first data unit.
 */
blk_status_t bce_crypt_rq(struct bce_dev *dev, struct request *rq)
{
	const struct bio_crypt_ctx *bc = rq->crypt_ctx;
	const struct blk_crypto_key *key = bc->bc_key;
	unsigned int du_size = key->crypto_cfg.data_unit_size;
	bool encrypt = rq_data_dir(rq) == WRITE;
	/* Request pieces per data unit: segments may straddle pages. */
	unsigned int nio = 2 * (du_size >> SECTOR_SHIFT) + 2;
	unsigned int nst = bce_store_nsg(du_size);
	u64 dun[BLK_CRYPTO_DUN_ARRAY_SIZE];
	struct bce_cached_key *ck = NULL;
	struct scatterlist *io_sg = NULL, *st_sg = NULL;
	struct skcipher_request *req = NULL;
	struct crypto_skcipher *tfm;
	unsigned int left = du_size, n = 0, units = 0;
	sector_t sector = blk_rq_pos(rq);
	struct req_iterator iter;
	struct bio_vec bv;
	int err = 0;

	if (((sector << SECTOR_SHIFT) | blk_rq_bytes(rq)) & (du_size - 1)) {
		pr_err_ratelimited("%s: request %llu+%u not aligned to data units of %u bytes\n",
				   dev->disk->disk_name, (u64)sector,
				   blk_rq_bytes(rq), du_size);
		return BLK_STS_IOERR;
	}

	if (dev->nr_slots) {
		if (WARN_ON_ONCE(!rq->crypt_keyslot))
			return BLK_STS_IOERR;
		tfm = dev->slots[blk_crypto_keyslot_index(rq->crypt_keyslot)].tfm;
		if (WARN_ON_ONCE(!tfm))
			return BLK_STS_IOERR;
	} else {
		ck = bce_key_get(dev, key);
		if (IS_ERR(ck))
			return errno_to_blk_status(PTR_ERR(ck));
		tfm = ck->tfm;
	}

	req = skcipher_request_alloc(tfm, GFP_NOIO);
	io_sg = kmalloc_array(nio, sizeof(*io_sg), GFP_NOIO);
	st_sg = kmalloc_array(nst, sizeof(*st_sg), GFP_NOIO);
	if (!req || !io_sg || !st_sg) {
		err = -ENOMEM;
		goto out;
	}
	skcipher_request_set_callback(req, 0, NULL, NULL);
	memcpy(dun, bc->bc_dun, sizeof(dun));
	sg_init_table(io_sg, nio);

	rq_for_each_segment(bv, rq, iter) {
		unsigned int off = bv.bv_offset, len = bv.bv_len;

		while (len) {
			unsigned int take = min(len, left);

			if (n == nio) {
				err = -EIO;
				goto out;
			}
			sg_set_page(&io_sg[n++], bv.bv_page, take, off);
			off += take;
			len -= take;
			left -= take;
			if (left)
				continue;

			sg_mark_end(&io_sg[n - 1]);
			err = bce_store_sg(dev, sector, du_size, st_sg, nst,
					   encrypt);
			if (err)
				goto out;
			if (encrypt)
				err = bce_crypt_one(req, io_sg, st_sg, du_size,
						    dun, true);
			else
				err = bce_crypt_one(req, st_sg, io_sg, du_size,
						    dun, false);
			if (err)
				goto out;
			bce_dun_inc(dun);
			sector += du_size >> SECTOR_SHIFT;
			units++;
			left = du_size;
			n = 0;
			sg_init_table(io_sg, nio);
		}
	}
	if (left != du_size)
		err = -EIO;
out:
	if (units) {
		bce_count(dev, encrypt ? BCE_ENC_UNITS : BCE_DEC_UNITS, units);
		if (!err)
			bce_count(dev, encrypt ? BCE_ENC_REQS : BCE_DEC_REQS, 1);
	}
	kfree(st_sg);
	kfree(io_sg);
	skcipher_request_free(req);
	if (ck)
		bce_key_put(dev, ck);
	if (err)
		pr_err_ratelimited("%s: %s of %llu+%u failed: %d\n",
				   dev->disk->disk_name,
				   encrypt ? "encryption" : "decryption",
				   (u64)blk_rq_pos(rq), blk_rq_bytes(rq), err);
	return errno_to_blk_status(err);
}

/* ---- setup -------------------------------------------------------------- */

struct blk_crypto_profile *bce_profile(struct bce_dev *dev)
{
	return dev->nr_slots ? &dev->slot_profile : &dev->pt_profile.profile;
}

/**
 * bce_crypto_init() - set up a device's crypto profile
 * @dev: the device, with its configuration filled in
 *
 * Holds one unkeyed cipher per enabled mode for the device's lifetime, so
 * that the algorithm modules stay loaded and ciphers allocated while
 * preparing I/O never wait for a module load.
 *
 * Return: 0 or a negative error code.
 */
int bce_crypto_init(struct bce_dev *dev)
{
	struct blk_crypto_profile *profile;
	unsigned int m;
	int err;

	INIT_LIST_HEAD(&dev->key_cache);
	mutex_init(&dev->key_cache_lock);
	if (!dev->modes)
		return 0;

	for (m = 1; m < BLK_ENCRYPTION_MODE_MAX; m++) {
		struct crypto_skcipher *tfm;

		if (!(dev->modes & BIT(m)))
			continue;
		tfm = bce_alloc_tfm(m, NULL, 0);
		if (IS_ERR(tfm)) {
			pr_err("bce%u: %s needs the cipher %s: error %ld\n",
			       dev->id, bce_modes[m].name, bce_modes[m].cipher,
			       PTR_ERR(tfm));
			err = PTR_ERR(tfm);
			goto free_pins;
		}
		dev->pin[m] = tfm;
	}

	if (dev->nr_slots) {
		dev->slots = kcalloc(dev->nr_slots, sizeof(*dev->slots),
				     GFP_KERNEL);
		if (!dev->slots) {
			err = -ENOMEM;
			goto free_pins;
		}
		err = blk_crypto_profile_init(&dev->slot_profile,
					      dev->nr_slots);
		if (err)
			goto free_slots;
		dev->slot_profile.ll_ops.keyslot_program = bce_keyslot_program;
		dev->slot_profile.ll_ops.keyslot_evict = bce_keyslot_evict;
	} else {
		err = ksp_profile_init(&dev->pt_profile, &bce_pt_ops);
		if (err)
			goto free_pins;
	}

	profile = bce_profile(dev);
	profile->max_dun_bytes_supported = dev->max_dun_bytes;
	for (m = 1; m < BLK_ENCRYPTION_MODE_MAX; m++)
		if (dev->modes & BIT(m))
			profile->modes_supported[m] = dev->du_sizes;
	return 0;

free_slots:
	kfree(dev->slots);
	dev->slots = NULL;
free_pins:
	for (m = 0; m < BLK_ENCRYPTION_MODE_MAX; m++) {
		crypto_free_skcipher(dev->pin[m]);
		dev->pin[m] = NULL;
	}
	mutex_destroy(&dev->key_cache_lock);
	return err;
}

/**
 * bce_crypto_exit() - tear down a device's crypto profile
 * @dev: the device, whose disk and queue are gone
 */
void bce_crypto_exit(struct bce_dev *dev)
{
	struct bce_cached_key *ck, *tmp;
	unsigned int i;

	if (dev->modes) {
		if (dev->nr_slots) {
			for (i = 0; i < dev->nr_slots; i++)
				crypto_free_skcipher(dev->slots[i].tfm);
			kfree(dev->slots);
			dev->slots = NULL;
			blk_crypto_profile_destroy(&dev->slot_profile);
		} else {
			ksp_profile_destroy(&dev->pt_profile);
		}
	}
	list_for_each_entry_safe(ck, tmp, &dev->key_cache, node) {
		list_del(&ck->node);
		WARN_ON_ONCE(ck->users);
		bce_key_free(dev, ck);
	}
	dev->nr_cached = 0;
	for (i = 0; i < BLK_ENCRYPTION_MODE_MAX; i++) {
		crypto_free_skcipher(dev->pin[i]);
		dev->pin[i] = NULL;
	}
	mutex_destroy(&dev->key_cache_lock);
}
