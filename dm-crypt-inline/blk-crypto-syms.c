// SPDX-License-Identifier: GPL-2.0
/*
 * The one place where dm-crypt-inline reaches blk-crypto functions that the
 * kernel does not export (bio_crypt_set_ctx, blk_crypto_init_key and
 * blk_crypto_start_using_key on 6.1 and 6.12).
 *
 * kallsyms_lookup_name() itself is not exported either.  Registering a
 * kprobe on it makes the kprobe core look its address up for us; the probe
 * is removed at once.  This needs CONFIG_KPROBES (and so CONFIG_KALLSYMS),
 * which the test kernel and Debian's kernels have.  On kernels with
 * indirect branch tracking (x86 IBT) a function the kernel never calls
 * indirectly may have lost its landing pad, and calling it through a
 * pointer would trap: such a function is refused.
 *
 * If anything is missing the module refuses to load and says what.  Where
 * the kernel exports the functions (DMX_BLK_CRYPTO_EXPORTED, decided at
 * build time), none of this runs and the module links against them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/string.h>

#include <compat.h>
#include "blk-crypto-syms.h"

struct cil_blk_crypto_ops cil_blk_crypto __ro_after_init;

typedef unsigned long (*cil_lookup_fn)(const char *name);

/* endbr64: the landing pad of an indirect branch target under x86 IBT. */
static const u8 cil_endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

static bool cil_has_landing_pad(unsigned long addr)
{
	return !memcmp((const void *)addr, cil_endbr64, sizeof(cil_endbr64));
}

static cil_lookup_fn __init cil_find_kallsyms_lookup_name(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	unsigned long addr;
	int r;

	r = register_kprobe(&kp);
	if (r) {
		pr_err("cannot find kallsyms_lookup_name: register_kprobe: %d%s\n",
		       r, IS_ENABLED(CONFIG_KPROBES) ? "" :
		       " (kernel built without CONFIG_KPROBES)");
		return NULL;
	}
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);
	/* Under IBT the probe sits after the landing pad: step back to it. */
	if (IS_ENABLED(CONFIG_X86_KERNEL_IBT) &&
	    cil_has_landing_pad(addr - sizeof(cil_endbr64)))
		addr -= sizeof(cil_endbr64);
	return (cil_lookup_fn)addr;
}

static void *__init cil_lookup(cil_lookup_fn lookup, const char *name)
{
	unsigned long addr = lookup(name);

	if (!addr) {
		pr_err("the kernel has no %s (built without CONFIG_BLK_INLINE_ENCRYPTION?)\n",
		       name);
		return NULL;
	}
	if (IS_ENABLED(CONFIG_X86_KERNEL_IBT) && !cil_has_landing_pad(addr)) {
		pr_err("%s cannot be called indirectly on this kernel (IBT)\n",
		       name);
		return NULL;
	}
	return (void *)addr;
}

/**
 * cil_blk_crypto_resolve() - fill in cil_blk_crypto
 *
 * Return: 0, or -ENOENT (with a message naming what is missing) when a
 * function cannot be found, in which case the module must not load.
 */
int __init cil_blk_crypto_resolve(void)
{
	cil_lookup_fn lookup;

	if (DMX_BLK_CRYPTO_EXPORTED) {
		cil_blk_crypto.init_key = blk_crypto_init_key;
		cil_blk_crypto.start_using_key = blk_crypto_start_using_key;
		cil_blk_crypto.set_ctx = bio_crypt_set_ctx;
		return 0;
	}

	lookup = cil_find_kallsyms_lookup_name();
	if (!lookup)
		return -ENOENT;
	cil_blk_crypto.init_key = cil_lookup(lookup, "blk_crypto_init_key");
	cil_blk_crypto.start_using_key =
		cil_lookup(lookup, "blk_crypto_start_using_key");
	cil_blk_crypto.set_ctx = cil_lookup(lookup, "bio_crypt_set_ctx");
	if (!cil_blk_crypto.init_key || !cil_blk_crypto.start_using_key ||
	    !cil_blk_crypto.set_ctx) {
		pr_err("refusing to load: blk-crypto functions not found\n");
		return -ENOENT;
	}
	return 0;
}
