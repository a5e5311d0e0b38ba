// SPDX-License-Identifier: GPL-2.0
/*
 * insn-mark: runs the marker instruction of bench/lib/insn-count.c once,
 * so that QEMU writes a snapshot of the guest's instruction counts.  Does
 * nothing else (outside QEMU with that plugin, nothing at all).
 */
int main(void)
{
	/* The immediate's bytes are "DMTINSN1". */
	__asm__ volatile("movabs $0x314e534e49544d44, %%rax" : : : "rax");
	return 0;
}
