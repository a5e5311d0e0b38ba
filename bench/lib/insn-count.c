// SPDX-License-Identifier: GPL-2.0
/*
 * insn-count: a QEMU TCG plugin that counts the guest instructions each
 * translation block executes, for bench cases that compare the CPU cost
 * of two configurations by instructions instead of by time (a count does
 * not depend on the host's load or on TCG's speed).
 *
 * Argument (qemu -plugin insn-count.so,out=PREFIX): the counts go to
 * PREFIX.0, PREFIX.1, ... one file per snapshot.  The guest takes a
 * snapshot by running the marker instruction, "movabs $MARK, %rax" with
 * MARK the bytes "DMTINSN1" (bench/lib/insn-mark.c does): the counts since
 * the last snapshot are written to the next file and start again from
 * zero.  An instruction, not an address, so KASLR does not matter.
 *
 * A file holds one line per kernel block that ran, "<vaddr hex>
 * <instructions run>", and "user <instructions run>" for all of user space
 * (its addresses mean nothing without the process).  Built for QEMU's
 * plugin API version 1 (QEMU 7.2, Debian 12), whose few declarations it
 * needs are in qemu-plugin-v1.h (tests/run builds it):
 *   gcc -O2 -shared -fPIC -o insn-count.so insn-count.c
 * Meant for one vCPU: the inline counters are not atomic.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-plugin-v1.h"

/* QEMU checks that a plugin was built for an API version it has. */
DMT_PLUGIN_EXPORT int qemu_plugin_version = 1;

/* One entry per (start address, length) of kernel block ever translated. */
struct block {
	__u64 vaddr;
	__u64 insns;
	__u64 run;		/* instructions run: the inline op adds insns */
	bool used;
};

#define KERNEL_START 0xffff800000000000ull

#define TABLE_BITS 20
#define TABLE_SIZE 0x100000u	/* 2 to the TABLE_BITS */

static struct block *table;
static __u32 *used_list;	/* indexes of used entries, for dumps */
static __u32 nr_used;
static __u64 lost_blocks;	/* translations the full table could not hold */
static __u64 user_run;	/* instructions run in user space */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *out_prefix;
/* movabs $0x314e534e49544d44, %rax: the immediate reads "DMTINSN1". */
static const unsigned char mark_insn[10] = {
	0x48, 0xb8, 'D', 'M', 'T', 'I', 'N', 'S', 'N', '1'
};

static unsigned int nr_snapshots;

static __u32 slot_of(__u64 vaddr, __u64 insns)
{
	__u64 h = (vaddr ^ (insns << 56)) * 0x9e3779b97f4a7c15ull;

	return h >> (64 - TABLE_BITS);
}

/* Under table_lock. */
static struct block *find_block(__u64 vaddr, __u64 insns)
{
	__u32 i = slot_of(vaddr, insns), probes;

	for (probes = 0; probes < TABLE_SIZE / 2; probes++) {
		struct block *b = &table[i];

		if (!b->used) {
			if (nr_used >= TABLE_SIZE / 2)
				return NULL;
			b->used = true;
			b->vaddr = vaddr;
			b->insns = insns;
			used_list[nr_used++] = i;
			return b;
		}
		if (b->vaddr == vaddr && b->insns == insns)
			return b;
		i = (i + 1) & (TABLE_SIZE - 1);
	}
	return NULL;
}

static void snapshot(void)
{
	char path[4096];
	__u32 k;
	FILE *f;

	pthread_mutex_lock(&table_lock);
	snprintf(path, sizeof(path), "%s.%u", out_prefix, nr_snapshots++);
	f = fopen(path, "w");
	if (!f) {
		char msg[4200];

		snprintf(msg, sizeof(msg), "insn-count: cannot write %s: %s\n",
			 path, strerror(errno));
		qemu_plugin_outs(msg);
	}
	for (k = 0; k < nr_used; k++) {
		struct block *b = &table[used_list[k]];

		if (f && b->run)
			fprintf(f, "%llx %llu\n",
				(unsigned long long)b->vaddr,
				(unsigned long long)b->run);
		b->run = 0;
	}
	if (f)
		fprintf(f, "user %llu\n", (unsigned long long)user_run);
	user_run = 0;
	if (f) {
		if (lost_blocks)
			fprintf(f, "# lost %llu blocks\n",
				(unsigned long long)lost_blocks);
		fclose(f);
	}
	pthread_mutex_unlock(&table_lock);
}

static void on_mark(unsigned int vcpu, void *udata)
{
	snapshot();
}

static void on_translate(dmt_plugin_id id, struct qemu_plugin_tb *tb)
{
	__u64 vaddr = qemu_plugin_tb_vaddr(tb);
	__u64 insns = qemu_plugin_tb_n_insns(tb);
	struct block *b;
	size_t i;

	if (vaddr < KERNEL_START) {
		qemu_plugin_register_vcpu_tb_exec_inline(tb,
							 DMT_PLUGIN_INLINE_ADD_U64,
							 &user_run, insns);
	} else {
		pthread_mutex_lock(&table_lock);
		b = find_block(vaddr, insns);
		if (!b)
			lost_blocks++;
		pthread_mutex_unlock(&table_lock);
		if (b)
			qemu_plugin_register_vcpu_tb_exec_inline(tb,
								 DMT_PLUGIN_INLINE_ADD_U64,
								 &b->run, insns);
	}
	for (i = 0; i < insns; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

		if (qemu_plugin_insn_size(insn) == sizeof(mark_insn) &&
		    !memcmp(qemu_plugin_insn_data(insn), mark_insn,
			    sizeof(mark_insn)))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark,
							       DMT_PLUGIN_CB_NO_REGS,
							       NULL);
	}
}

static void at_exit_dump(dmt_plugin_id id, void *udata)
{
	snapshot();
}

DMT_PLUGIN_EXPORT int qemu_plugin_install(dmt_plugin_id id,
					  const struct dmt_qemu_info *info,
					  int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (strncmp(argv[i], "out=", 4)) {
			fprintf(stderr, "insn-count: unknown argument '%s' (want out=PREFIX)\n",
				argv[i]);
			return -1;
		}
		out_prefix = argv[i] + 4;
	}
	if (!out_prefix) {
		fprintf(stderr, "insn-count: out=PREFIX is required\n");
		return -1;
	}
	table = calloc(TABLE_SIZE, sizeof(*table));
	used_list = calloc(TABLE_SIZE / 2, sizeof(*used_list));
	if (!table || !used_list) {
		fprintf(stderr, "insn-count: out of memory\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, at_exit_dump, NULL);
	return 0;
}
