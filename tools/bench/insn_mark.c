// SPDX-License-Identifier: GPL-2.0
/*
 * insn_mark: ends a window of tools/bench/insn_split.c, the QEMU plugin of
 * tools/bench.sh --split, by executing its marker, a 7-byte NOP. Without
 * the plugin it does nothing.
 */
int main(void)
{
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80, 0x53, 0x50, 0x4c, 0x54" ::: "memory");
	return 0;
}
