/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Device-mapper target "integrity": shared definitions.
 *
 * An independent implementation of the on-disk format used by the
 * in-kernel dm-integrity target (superblock, journal, interleaved tag
 * areas), written for out-of-tree builds.
 */
#ifndef DM_INTEGRITY_OOT_H
#define DM_INTEGRITY_OOT_H

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/dm-bufio.h>
#include <linux/list.h>
#include <linux/mempool.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/scatterlist.h>
#include <linux/workqueue.h>
#include <crypto/hash.h>
#include <crypto/skcipher.h>

#include "compat.h"

#define DM_MSG_PREFIX			"integrity"

/* Defaults and limits of the table line. */
#define ITG_DEFAULT_INTERLEAVE		32768
#define ITG_JOURNAL_SIZE_SHIFT		7
#define ITG_MAX_JOURNAL_SECTORS		131072
#define ITG_DEFAULT_SECTORS_PER_BIT	32768
#define ITG_DEFAULT_BUFFER_SECTORS	128
#define ITG_DEFAULT_WATERMARK		50
#define ITG_DEFAULT_COMMIT_MS		10000
#define ITG_DEFAULT_BITMAP_FLUSH_MS	10000
#define ITG_MIN_LOG2_INTERLEAVE		3
#define ITG_MAX_LOG2_INTERLEAVE		31
#define ITG_MAX_SECTORS_PER_BLOCK	8
#define ITG_MAX_TAG_SIZE		255
#define ITG_MAX_OPT_ARGS		18
#define ITG_RECALC_SECTORS		32768
#define ITG_RECALC_SB_EVERY		16
#define ITG_BITMAP_BLOCK_SIZE		4096
#define ITG_DISCARD_FILLER		0xf6

/* On-disk superblock: the first 8 sectors at <start>. */
#define ITG_SB_MAGIC			"integrt"
#define ITG_SB_SECTORS			8
#define ITG_SALT_SIZE			16
#define ITG_SB_VERSION_MAX		6

struct itg_superblock {
	__u8 magic[8];
	__u8 version;
	__u8 log2_interleave_sectors;
	__le16 tag_size;
	__le32 journal_sections;
	__le64 provided_data_sectors;
	__le32 flags;
	__u8 log2_sectors_per_block;
	__u8 log2_blocks_per_bitmap_bit;
	__u8 pad[2];
	__le64 recalc_sector;
	__u8 pad2[8];
	__u8 salt[ITG_SALT_SIZE];
} __packed;

#define ITG_SB_HAVE_JOURNAL_MAC		0x01
#define ITG_SB_RECALCULATING		0x02
#define ITG_SB_DIRTY_BITMAP		0x04
#define ITG_SB_FIXED_PADDING		0x08
#define ITG_SB_FIXED_HMAC		0x10
#define ITG_SB_INLINE			0x20

/*
 * Journal: sections of 8 metadata sectors (entries) followed by the data
 * of those entries.  Every 512-byte sector ends with a commit id.
 */
#define ITG_JOURNAL_META_SECTORS	8
#define ITG_JOURNAL_SECTOR_DATA		(SECTOR_SIZE - 8)
#define ITG_JOURNAL_MAC_PER_SECTOR	8
#define ITG_JOURNAL_ENTRY_ALIGN		8
#define ITG_N_COMMIT_IDS		4
#define ITG_ENTRY_UNUSED_HI		0xffffffffU

/* Alignment padding of a metadata run: legacy 128 KiB or 4 KiB. */
#define ITG_PADDING_LEGACY		(SECTOR_SIZE << 8)
#define ITG_PADDING_FIXED		(SECTOR_SIZE << 3)

struct itg_alg {
	char *name;		/* algorithm, as given */
	char *key_hex;		/* key as given (printed in the table) */
	u8 *key;
	unsigned int key_size;
};

/* The engine of internal_hash: one of shash and ahash, or none. */
struct itg_hash {
	struct crypto_shash *shash;
	struct crypto_ahash *ahash;
	unsigned int hreq_size;		/* itg_hreq + its ahash request */
	unsigned int hreq_offset;	/* of the itg_hreq in per-bio data */
	const char *iface;		/* hash_interface at table load */
};

/*
 * One ahash tag computation: the request follows this struct.  Never on the
 * stack: the scatterlist points into it (sector, digest).
 */
struct itg_hreq {
	struct crypto_wait wait;
	struct scatterlist sg[4];	/* salt, sector, block (<= 2 pages) */
	__le64 sector;
	u8 digest[HASH_MAX_DIGESTSIZE];
};

struct itg_c {
	struct dm_target *ti;
	struct dm_dev *dev;
	struct dm_dev *meta_dev;
	sector_t start;

	char mode;
	unsigned int tag_size;
	int log2_tag_size;		/* -1 if not a power of two */
	unsigned int sectors_per_block;
	unsigned int log2_spb;

	struct itg_alg hash_alg;
	struct itg_alg jcrypt_alg;
	struct itg_alg jmac_alg;
	struct itg_hash hash;
	unsigned int digest_size;
	unsigned int per_io_size;	/* ti->per_io_data_size */
	struct itg_hreq *recalc_hr;	/* ahash: for the recalculation */
	struct itg_hreq *replay_hr;	/* ahash: for the journal replay */

	bool recalculate;
	bool reset_recalculate;
	bool discard;
	bool fix_padding;
	bool fix_hmac;
	bool legacy_recalculate;
	bool just_formatted;

	/* Superblock (8 sectors in memory) and the copy validated at ctr. */
	struct itg_superblock *sb;
	struct itg_superblock sb_copy;

	/* Layout. */
	sector_t data_device_sectors;
	sector_t meta_device_sectors;
	sector_t provided_data_sectors;
	unsigned int journal_sections;
	unsigned int journal_entry_size;
	unsigned int journal_entries_per_sector;
	unsigned int journal_section_entries;
	unsigned int journal_section_sectors;
	unsigned int journal_entries;
	unsigned int initial_sectors;
	unsigned int metadata_run;
	unsigned int log2_buffer_sectors;
	unsigned int log2_blocks_per_bitmap_bit;

	/* Tunables. */
	unsigned int journal_watermark;
	unsigned int free_sectors_threshold;
	unsigned int commit_msec;
	unsigned int bitmap_flush_msec;

	/* journal_mac and journal_crypt (integrity-journal-crypt.c). */
	__le64 commit_ids[ITG_N_COMMIT_IDS];	/* encrypted by a stream cipher */
	struct crypto_shash *jmac;
	u8 *jxor;			/* stream cipher: keystream of the journal */
	struct crypto_skcipher *jcrypt;	/* block cipher, whole sections */
	struct skcipher_request *jreq;
	struct scatterlist *jsg;	/* one section */
	unsigned int jsg_n;
	u8 *jiv;
	u8 *jivs;			/* the IV of every section */
	unsigned int jivsize;
	struct mutex jcrypt_lock;	/* jreq, jsg, jiv */

	/*
	 * Journal (J mode).  A write is copied into the open section and
	 * completes (a FUA write once it is committed); its blocks stay locked
	 * by a journal range until they are in place.  A commit (area full,
	 * from the commit worker; flush, FUA, commit timer, or a bio waiting
	 * on a journal range, from the bio's or the timer's context) takes
	 * the open area (up to jbatch sections, never across the end of the
	 * ring), writes its sections to the ring in one write, then submits
	 * its data and tags in place and returns: writers fill the next area
	 * and the next commit writes the ring while they are in flight.  The
	 * three buffers rotate open -> commit -> in place -> open.
	 */
	struct mutex journal_lock;	/* the open area: jbatch sections */
	unsigned int jbatch;		/* sections per commit, at most */
	u8 *jbuf;			/* its entries and data as written */
	unsigned int jused;		/* its entries in use */
	unsigned int jopen_sec;		/* where in the ring it will go */
	struct itg_range *jranges;	/* the blocks it holds */
	unsigned int jnranges;
	u64 jopen_gen;			/* its generation (changes under both) */
	wait_queue_head_t jopen_wait;	/* a writer waits for the next area */
	atomic_t jwriters[2];		/* filling entries of area gen & 1 */
	wait_queue_head_t jwriters_wait;
	struct work_struct jcommit_work;	/* commits a full area */
	struct workqueue_struct *jcommit_wq;
	struct mutex commit_lock;	/* the area being committed */
	u8 *jbuf_commit;
	unsigned int jused_commit;
	struct itg_range *jranges_commit;
	unsigned int jnranges_commit;
	u8 *jseal;			/* its on-disk form: commit ids, sealed */
	u8 *jbuf_inplace;		/* the area whose writes are in flight */
	unsigned int jused_inplace;
	struct itg_range *jranges_inplace;
	unsigned int jnranges_inplace;
	bool jinplace_busy;		/* its writes are not all done */
	bool jinplace_failed;
	atomic_t jinplace_pending;
	wait_queue_head_t jinplace_wait;
	struct work_struct jinplace_work;	/* releases its ranges */
	struct workqueue_struct *jinplace_wq;
	unsigned int jsec;		/* next section of the ring to write */
	u8 jseq;			/* its commit sequence */
	unsigned int unflushed_sections;
	bool wrote_to_journal;
	bool journal_uptodate;
	atomic_t inplace_inflight;	/* B mode: writes not yet in place */
	wait_queue_head_t inplace_wait;

	/* Bitmap (B mode): dirty regions, kept in the journal area. */
	unsigned int n_bitmap_blocks;
	unsigned long *bitmap;		/* as on disk */
	struct mutex bitmap_lock;
	struct delayed_work bitmap_work;

	struct dm_io_client *io;
	struct dm_bufio_client *bufio;
	struct workqueue_struct *wq;		/* submission (may wait on ranges) */
	struct workqueue_struct *end_wq;	/* completion */
	struct workqueue_struct *recalc_wq;
	struct work_struct recalc_work;
	struct delayed_work commit_work;
	bool suspending;

	/* Range locks. */
	spinlock_t range_lock;
	struct list_head ranges;
	wait_queue_head_t range_wait;

	/*
	 * Inline mode (I): tags in the lower device's own metadata, one tuple
	 * per block.  Each bio's tuples are in a page from inline_pool; a read
	 * whose tags do not match is read again, block by block, into a
	 * recheck_pool buffer (tuple page, then data page) with a bio from
	 * recheck_bs.  Recalculation writes with bios from recalc_bs.
	 */
	unsigned int tuple_size;
	unsigned int inline_max_sectors;	/* the tuples of a bio fit a page */
	mempool_t inline_pool;
	mempool_t recheck_pool;
	struct bio_set recheck_bs;
	struct bio_set recalc_bs;		/* writes of the recalculation */

	atomic64_t mismatches;
	int failed;
};

/* A range of logical sectors locked against conflicting I/O. */
struct itg_range {
	struct list_head entry;
	sector_t sector;
	unsigned int n_sectors;
	bool write;
	bool locked;
	bool journal;		/* held by the journal until in place */
	bool tags;		/* journal: the entries carry tags to write */
};

struct itg_io {
	struct itg_c *ic;
	struct work_struct work;
	struct itg_range range;
	bool fua;		/* J mode: complete once committed */
	bool journalled;	/* B mode: counted in inplace_inflight */
	enum req_op op;
	blk_status_t status;
	/* What is changed while the bio is down at the data device. */
	struct bvec_iter saved_iter;
	bio_end_io_t *saved_end_io;
	void *saved_bip;
	struct block_device *saved_bdev;
	unsigned short saved_flags;
	void *saved_private;
	struct page *tuples;	/* I mode: the bio's tuples */
};

static inline struct bio *itg_io_bio(struct itg_io *dio)
{
	return dm_bio_from_per_bio_data(dio, dio->ic->per_io_size);
}

/* The hash request of the bio (ahash only). */
static inline struct itg_hreq *itg_io_hreq(struct itg_io *dio)
{
	return (struct itg_hreq *)((u8 *)dio + dio->ic->hash.hreq_offset);
}

static inline bool itg_has_hash(struct itg_c *ic)
{
	return ic->hash.shash || ic->hash.ahash;
}

static inline bool itg_sb_flag(struct itg_c *ic, u32 flag)
{
	return ic->sb->flags & cpu_to_le32(flag);
}

static inline struct block_device *itg_meta_bdev(struct itg_c *ic)
{
	return ic->meta_dev ? ic->meta_dev->bdev : ic->dev->bdev;
}

static inline unsigned int itg_buffer_bytes(struct itg_c *ic)
{
	return 1U << (SECTOR_SHIFT + ic->log2_buffer_sectors);
}

static inline size_t itg_section_bytes(struct itg_c *ic)
{
	return (size_t)ic->journal_section_sectors << SECTOR_SHIFT;
}

/*
 * journal_crypt: the journal's on-disk form is not its memory form.  Known
 * from the table, before the cipher is set up.
 */
static inline bool itg_journal_encrypted(struct itg_c *ic)
{
	return ic->jcrypt_alg.name;
}

void itg_error(struct itg_c *ic, const char *what, int err);

/* integrity-sb.c */
void itg_sb_set_version(struct itg_c *ic);
int itg_sb_rw(struct itg_c *ic, blk_opf_t opf);
void itg_journal_geometry(struct itg_c *ic);
int itg_check_layout(struct itg_c *ic);
void itg_compute_provided(struct itg_c *ic);
int itg_sb_format(struct itg_c *ic, unsigned int journal_sectors,
		  unsigned int interleave_sectors);
int itg_sb_validate(struct itg_c *ic, const char **error);
u64 itg_data_sector(struct itg_c *ic, sector_t logical);
u64 itg_tag_byte(struct itg_c *ic, sector_t logical);

/* integrity-hash.c */
int itg_hash_setup(struct itg_c *ic, const char **error);
void itg_hash_free(struct itg_c *ic);
unsigned int itg_hash_per_io_size(struct itg_c *ic);
struct itg_hreq *itg_hreq_alloc(struct itg_c *ic);
void itg_hreq_free(struct itg_hreq *hr);
void itg_tag_page(struct itg_c *ic, struct itg_hreq *hr, sector_t sector,
		  struct page *page, unsigned int off, u8 *tag);
void itg_tuple_page(struct itg_c *ic, struct itg_hreq *hr, sector_t sector,
		    struct page *page, unsigned int off, u8 *tuple,
		    unsigned int len);
void itg_tag_buf(struct itg_c *ic, struct itg_hreq *hr, sector_t sector,
		 const u8 *data, u8 *tag);
void itg_hash_info(struct itg_c *ic, char *result, unsigned int maxlen);

/* integrity-tag.c */
int itg_tags_rw(struct itg_c *ic, u64 byte, u8 *buf, unsigned int len,
		bool write);
void itg_profile_limits(struct itg_c *ic, struct queue_limits *limits);
int itg_profile_register(struct itg_c *ic);

/* integrity-io.c */
int itg_map(struct dm_target *ti, struct bio *bio);
bool itg_check_bio(struct itg_c *ic, struct bio *bio, sector_t logical);
struct itg_hreq *itg_dio_hreq(struct itg_io *dio);
int itg_io_init(struct itg_c *ic);
void itg_io_exit(struct itg_c *ic);
void itg_flush_meta(struct itg_c *ic);
void itg_flush_devices(struct itg_c *ic);
void itg_flush_inplace(struct itg_c *ic);
void itg_range_lock(struct itg_c *ic, struct itg_range *r);
void itg_range_unlock(struct itg_c *ic, struct itg_range *r);

/* integrity-inline.c */
int itg_inline_setup(struct itg_c *ic, const char **error);
void itg_inline_free(struct itg_c *ic);
int itg_inline_map(struct itg_io *dio, struct bio *bio);
void itg_recalc_inline_work(struct work_struct *w);

/* integrity-journal.c */
int itg_journal_init_disk(struct itg_c *ic);
int itg_journal_clear(struct itg_c *ic, unsigned int first, unsigned int n,
		      u8 seq);
int itg_journal_io(struct itg_c *ic, blk_opf_t opf, unsigned int first,
		   unsigned int n, u8 *buf);
int itg_journal_area_io(struct itg_c *ic, blk_opf_t opf, sector_t sector,
			unsigned int count, void *buf);
int itg_journal_alloc(struct itg_c *ic);
void itg_journal_free(struct itg_c *ic);
int itg_journal_write_bio(struct itg_io *dio, struct bio *bio);
int itg_journal_commit_open(struct itg_c *ic);
void itg_journal_inplace_done(struct itg_c *ic);
void itg_journal_suspend(struct itg_c *ic);
void itg_journal_replay(struct itg_c *ic);

/* integrity-journal-crypt.c */
int itg_jmac_setup(struct itg_c *ic, const char **error);
int itg_sb_mac(struct itg_c *ic, bool write);
int itg_jcrypt_setup(struct itg_c *ic, const char **error);
void itg_jcrypt_free(struct itg_c *ic);
int itg_journal_seal(struct itg_c *ic, u8 *buf, unsigned int first,
		     unsigned int n);
int itg_journal_unseal(struct itg_c *ic, u8 *buf, unsigned int first,
		       unsigned int n);
bool itg_journal_mac_ok(struct itg_c *ic, u8 *buf, unsigned int section);

/* integrity-bitmap.c */
int itg_bitmap_alloc(struct itg_c *ic);
void itg_bitmap_free(struct itg_c *ic);
int itg_bitmap_mark(struct itg_io *dio);
void itg_bitmap_suspend(struct itg_c *ic);
void itg_bitmap_resume(struct itg_c *ic, bool *write_sb);
bool itg_bitmap_skip(struct itg_c *ic, sector_t sector);

/* integrity-recalc.c */
void itg_recalc_work(struct work_struct *w);
void itg_recalc_start(struct itg_c *ic);

#endif /* DM_INTEGRITY_OOT_H */
