/* SPDX-License-Identifier: GPL-2.0 */
/*
 * blk-crypto-emu: a RAM block device with emulated inline encryption.
 * Shared definitions of its parts.
 */
#ifndef BCE_H
#define BCE_H

#include <linux/atomic.h>
#include <linux/blk-crypto-profile.h>
#include <linux/blk-mq.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/xarray.h>

#include <keyslot_passthrough.h>

struct crypto_skcipher;
struct dentry;
struct scatterlist;

/* Counters, readable in debugfs <dev>/stats. */
enum bce_stat {
	BCE_KEYSLOT_PROGRAMS,	/* keyslot flavour: keys programmed */
	BCE_KEYSLOT_EVICTIONS,	/* keyslot flavour: slots evicted */
	BCE_KEY_EVICTIONS,	/* passthrough flavour: keys evicted */
	BCE_TFM_ALLOCS,		/* passthrough flavour: cipher cache misses */
	BCE_TFM_HITS,		/* passthrough flavour: cipher cache hits */
	BCE_TFM_FREES,		/* passthrough flavour: ciphers dropped */
	BCE_ENC_REQS,		/* requests encrypted */
	BCE_DEC_REQS,		/* requests decrypted */
	BCE_ENC_UNITS,		/* data units encrypted */
	BCE_DEC_UNITS,		/* data units decrypted */
	BCE_PLAIN_REQS,		/* reads and writes without encryption */
	BCE_ERRORS,		/* requests failed */
	BCE_NR_STATS,
};

/* A keyslot of the keyslot flavour. */
struct bce_slot {
	struct crypto_skcipher *tfm;	/* NULL when the slot is empty */
};

/* A cipher of the passthrough flavour, cached per key. */
struct bce_cached_key {
	struct list_head node;		/* in bce_dev.key_cache, MRU first */
	unsigned int users;		/* requests using @tfm */
	bool evicted;			/* free when the last user is done */
	enum blk_crypto_mode_num mode;
	unsigned int data_unit_size;
	unsigned int size;
	u8 raw[BLK_CRYPTO_MAX_KEY_SIZE];
	struct crypto_skcipher *tfm;
};

struct bce_dev {
	unsigned int id;
	struct gendisk *disk;
	struct blk_mq_tag_set tag_set;
	struct xarray pages;		/* backing store, by page index */
	sector_t nr_sectors;

	/* configuration */
	unsigned int nr_slots;		/* 0: passthrough flavour */
	unsigned int modes;		/* bit n: enum blk_crypto_mode_num n */
	unsigned int du_sizes;		/* bit n: data units of 1 << n */
	unsigned int max_dun_bytes;

	/* keyslot flavour */
	struct blk_crypto_profile slot_profile;
	struct bce_slot *slots;

	/* passthrough flavour */
	struct ksp_profile pt_profile;
	struct mutex key_cache_lock;	/* protects key_cache, nr_cached */
	struct list_head key_cache;
	unsigned int nr_cached;

	/* a cipher per enabled mode, so that algorithm lookups never load */
	struct crypto_skcipher *pin[BLK_ENCRYPTION_MODE_MAX];

	struct dentry *debugfs;
	atomic64_t stats[BCE_NR_STATS];
};

struct bce_mode {
	const char *name;		/* as in sysfs queue/crypto/modes */
	const char *cipher;		/* crypto API name */
	unsigned int key_size;
	unsigned int iv_size;
};

extern const struct bce_mode bce_modes[BLK_ENCRYPTION_MODE_MAX];
extern unsigned int bce_tfm_cache_size;

static inline void bce_count(struct bce_dev *dev, enum bce_stat stat,
			     unsigned int n)
{
	atomic64_add(n, &dev->stats[stat]);
}

/* bce-crypt.c */
struct crypto_skcipher *bce_alloc_tfm(enum blk_crypto_mode_num mode,
				      const u8 *raw, unsigned int size);
int bce_crypto_init(struct bce_dev *dev);
void bce_crypto_exit(struct bce_dev *dev);
struct blk_crypto_profile *bce_profile(struct bce_dev *dev);
blk_status_t bce_crypt_rq(struct bce_dev *dev, struct request *rq);
int bce_crypt_store(struct bce_dev *dev, struct crypto_skcipher *tfm,
		    unsigned int du_size, u64 dun, sector_t sector,
		    unsigned int nr_sectors, bool encrypt);

/* bce-main.c: the backing store */
struct page *bce_store_page(struct bce_dev *dev, pgoff_t idx, bool alloc);

/* bce-debugfs.c */
void bce_debugfs_init(void);
void bce_debugfs_exit(void);
void bce_debugfs_add(struct bce_dev *dev);
void bce_debugfs_remove(struct bce_dev *dev);

#endif /* BCE_H */
