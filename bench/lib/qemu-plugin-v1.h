/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The parts of QEMU's TCG plugin API, version 1 (QEMU 7.2, Debian 12),
 * that bench/lib/insn-count.c uses, declared from the API's documented
 * signatures so that no QEMU source is needed to build the plugin.  Only
 * the ABI matters: the names of the types here are ours.
 */
#ifndef DMT_QEMU_PLUGIN_V1_H
#define DMT_QEMU_PLUGIN_V1_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define DMT_PLUGIN_EXPORT __attribute__((visibility("default")))

/* qemu_plugin_id_t */
#define dmt_plugin_id __u64

struct qemu_plugin_tb;
struct qemu_plugin_insn;

/* qemu_info_t */
struct dmt_qemu_info {
	const char *target_name;
	struct {
		int min;
		int cur;
	} version;
	bool system_emulation;
	struct {
		int smp_vcpus;
		int max_vcpus;
	} system;
};

enum dmt_plugin_cb_flags { DMT_PLUGIN_CB_NO_REGS };
enum dmt_plugin_op { DMT_PLUGIN_INLINE_ADD_U64 };

void qemu_plugin_register_vcpu_tb_trans_cb(dmt_plugin_id id,
					   void (*cb)(dmt_plugin_id id,
						      struct qemu_plugin_tb *tb));
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
					      enum dmt_plugin_op op,
					      void *ptr, __u64 imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
					    void (*cb)(unsigned int vcpu,
						       void *udata),
					    enum dmt_plugin_cb_flags flags,
					    void *udata);
void qemu_plugin_register_atexit_cb(dmt_plugin_id id,
				    void (*cb)(dmt_plugin_id id, void *udata),
				    void *udata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
__u64 qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb,
						 size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);

#endif /* DMT_QEMU_PLUGIN_V1_H */
