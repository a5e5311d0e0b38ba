// SPDX-License-Identifier: GPL-2.0
/*
 * dm-integrity (out of tree): tags.
 *
 * A tag is H([salt] || le64 sector || block), cut or zero-padded to the tag
 * size.  Without an internal hash the tags come from the bio's integrity
 * payload (dm-crypt AEAD) and the target offers an integrity profile.
 */
#include <linux/blk-integrity.h>
#include <linux/random.h>
#include <linux/string.h>

#include "dm-integrity.h"

static int itg_alloc_shash(struct itg_alg *a, struct crypto_shash **tfm,
			   const char **error, const char *bad_alg,
			   const char *bad_key)
{
	struct crypto_shash *h;
	int r;

	if (!a->name)
		return 0;
	h = crypto_alloc_shash(a->name, 0, CRYPTO_ALG_ALLOCATES_MEMORY);
	if (IS_ERR(h)) {
		*error = bad_alg;
		return PTR_ERR(h);
	}
	*tfm = h;
	if (a->key) {
		r = crypto_shash_setkey(h, a->key, a->key_size);
		if (r) {
			*error = bad_key;
			return r;
		}
	} else if (crypto_shash_get_flags(h) & CRYPTO_TFM_NEED_KEY) {
		*error = bad_key;
		return -ENOKEY;
	}
	return 0;
}

int itg_hash_setup(struct itg_c *ic, const char **error)
{
	int r;

	r = itg_alloc_shash(&ic->hash_alg, &ic->hash, error,
			    "Invalid internal hash",
			    "Error setting internal hash key");
	if (r)
		return r;
	if (ic->hash)
		ic->digest_size = crypto_shash_digestsize(ic->hash);
	return 0;
}

void itg_compute_tag(struct itg_c *ic, sector_t sector, const u8 *data, u8 *tag)
{
	SHASH_DESC_ON_STACK(desc, ic->hash);
	u8 digest[HASH_MAX_DIGESTSIZE];
	__le64 le = cpu_to_le64(sector);
	int r;

	desc->tfm = ic->hash;
	r = crypto_shash_init(desc);
	if (!r && itg_sb_flag(ic, ITG_SB_FIXED_HMAC))
		r = crypto_shash_update(desc, ic->sb->salt, ITG_SALT_SIZE);
	if (!r)
		r = crypto_shash_update(desc, (u8 *)&le, sizeof(le));
	if (!r)
		r = crypto_shash_update(desc, data,
					ic->sectors_per_block << SECTOR_SHIFT);
	if (!r)
		r = crypto_shash_final(desc, digest);
	shash_desc_zero(desc);
	if (unlikely(r)) {
		/* A tag that will not verify rather than a stale one. */
		itg_error(ic, "hash", r);
		get_random_bytes(tag, ic->tag_size);
		return;
	}
	if (ic->digest_size >= ic->tag_size) {
		memcpy(tag, digest, ic->tag_size);
	} else {
		memcpy(tag, digest, ic->digest_size);
		memset(tag + ic->digest_size, 0, ic->tag_size - ic->digest_size);
	}
	memzero_explicit(digest, sizeof(digest));
}

/*
 * Copy @len bytes of tags at byte @byte of the tag space to or from @buf
 * through dm-bufio.
 */
int itg_tags_rw(struct itg_c *ic, u64 byte, u8 *buf, unsigned int len,
		bool write)
{
	unsigned int bsize = itg_buffer_bytes(ic);

	while (len) {
		sector_t block = byte >> (SECTOR_SHIFT + ic->log2_buffer_sectors);
		unsigned int off = byte & (bsize - 1);
		unsigned int n = min(len, bsize - off);
		struct dm_buffer *b;
		u8 *data;

		data = dm_bufio_read(ic->bufio, block, &b);
		if (IS_ERR(data))
			return PTR_ERR(data);
		if (write) {
			if (memcmp(data + off, buf, n)) {
				memcpy(data + off, buf, n);
				dm_bufio_mark_partial_buffer_dirty(b, off, off + n);
			}
		} else {
			memcpy(buf, data + off, n);
		}
		dm_bufio_release(b);
		byte += n;
		buf += n;
		len -= n;
	}
	return 0;
}

/* The profile dm-crypt looks for: opaque tags, one per block. */
void itg_profile_limits(struct itg_c *ic, struct queue_limits *limits)
{
	if (ic->hash)
		return;
	dmx_set_integrity_limits(limits, ic->tag_size,
				 ic->log2_spb + SECTOR_SHIFT);
}

int itg_profile_register(struct itg_c *ic)
{
	if (ic->hash)
		return 0;
	return dmx_register_integrity(ic->ti, ic->tag_size,
				      ic->log2_spb + SECTOR_SHIFT);
}
