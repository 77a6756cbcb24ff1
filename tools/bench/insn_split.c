// SPDX-License-Identifier: GPL-2.0
/*
 * insn_split: a QEMU TCG plugin that counts the guest instructions executed
 * at each kernel address, in windows the guest marks, for the instruction
 * split of tools/bench.sh --split (Documentation/benchmark.rst).
 *
 * Counting is per translation block, not per instruction: each block gets
 * one inline 64-bit add when it starts (no callback, no helper call), and
 * a block's instructions are charged its start count at a window's end.
 * A block left early (an exception, an interrupt taken inside it, a fault
 * on one of its loads) is charged in full: the counts are an upper bound,
 * off by the instructions of blocks cut short. -accel tcg,thread=single
 * (tools/vm.sh) runs every vCPU on one host thread, so the plain adds do
 * not race.
 *
 * Windows. The guest ends a window by executing, in user space, the 7-byte
 * NOP "nopl 0x544c5053(%rax)" (tools/bench/insn_mark.c). Each end writes
 * PREFIX.N (N = 1, 2, ...: the Nth mark): a line "user COUNT" (every
 * instruction below the kernel's half of the address space, whatever the
 * process), a line "kernel COUNT", then "ADDRESS COUNT" in hex and decimal
 * for every kernel instruction that ran in the window. An instruction's
 * count at its function's first address is how many times the function was
 * entered (a block starts at every call target), the control the report
 * uses.
 *
 * Argument: out=PREFIX (required).
 */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/* One translated block: where its instructions are, how often it started. */
struct block {
	uint64_t count;		/* the inline add's target */
	uint64_t seen;		/* count at the last window's end */
	uint64_t start;
	size_t n;
	uint64_t addr[];
};

static const uint8_t mark[] = { 0x0f, 0x1f, 0x80, 0x53, 0x50, 0x4c, 0x54 };
#define KERNEL_HALF 0xffff800000000000ULL

static GMutex lock;
static GHashTable *blocks;	/* (start, n) -> struct block */
static char *prefix;
static unsigned int windows;

static guint block_hash(gconstpointer p)
{
	const struct block *b = p;

	return g_int64_hash(&b->start) ^ (guint)b->n;
}

static gboolean block_equal(gconstpointer a, gconstpointer b)
{
	const struct block *x = a, *y = b;

	return x->start == y->start && x->n == y->n &&
	       !memcmp(x->addr, y->addr, x->n * sizeof(x->addr[0]));
}

/* The instructions since the last mark, into PREFIX.N. */
static void window_end(unsigned int vcpu, void *udata)
{
	GHashTable *per_addr = g_hash_table_new(g_int64_hash, g_int64_equal);
	uint64_t user = 0, kernel = 0, *key, *val;
	GHashTableIter it;
	struct block *b;
	char *path;
	FILE *f;

	g_mutex_lock(&lock);
	path = g_strdup_printf("%s.%u", prefix, ++windows);
	g_hash_table_iter_init(&it, blocks);
	while (g_hash_table_iter_next(&it, (gpointer *)&b, NULL)) {
		uint64_t d = b->count - b->seen;

		b->seen = b->count;
		if (!d)
			continue;
		if (b->start < KERNEL_HALF) {
			user += d * b->n;
			continue;
		}
		kernel += d * b->n;
		for (size_t i = 0; i < b->n; i++) {
			val = g_hash_table_lookup(per_addr, &b->addr[i]);
			if (val) {
				*val += d;
				continue;
			}
			val = g_new(uint64_t, 2);
			val[0] = b->addr[i];
			val[1] = d;
			g_hash_table_insert(per_addr, &val[0], &val[1]);
		}
	}
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "user %" PRIu64 "\nkernel %" PRIu64 "\n", user, kernel);
		g_hash_table_iter_init(&it, per_addr);
		while (g_hash_table_iter_next(&it, (gpointer *)&key, (gpointer *)&val))
			fprintf(f, "%" PRIx64 " %" PRIu64 "\n", *key, *val);
		fclose(f);
	} else {
		fprintf(stderr, "insn_split: cannot write %s\n", path);
	}
	g_hash_table_iter_init(&it, per_addr);
	while (g_hash_table_iter_next(&it, (gpointer *)&key, NULL))
		g_free(key);
	g_hash_table_destroy(per_addr);
	g_free(path);
	g_mutex_unlock(&lock);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);
	struct block *b, *old;

	b = g_malloc0(sizeof(*b) + n * sizeof(b->addr[0]));
	b->start = qemu_plugin_tb_vaddr(tb);
	b->n = n;
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

		b->addr[i] = qemu_plugin_insn_vaddr(insn);
		if (b->addr[i] < KERNEL_HALF &&
		    qemu_plugin_insn_size(insn) == sizeof(mark) &&
		    !memcmp(qemu_plugin_insn_data(insn), mark, sizeof(mark)))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, window_end,
					QEMU_PLUGIN_CB_NO_REGS, NULL);
	}
	/* A block translated again (after a flush) keeps counting in one. */
	g_mutex_lock(&lock);
	old = g_hash_table_lookup(blocks, b);
	if (old) {
		g_free(b);
		b = old;
	} else {
		g_hash_table_insert(blocks, b, b);
	}
	g_mutex_unlock(&lock);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &b->count, 1);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4)) {
			prefix = g_strdup(argv[i] + 4);
		} else {
			fprintf(stderr, "insn_split: unknown argument %s\n", argv[i]);
			return -1;
		}
	}
	if (!prefix) {
		fprintf(stderr, "insn_split: out=PREFIX is required\n");
		return -1;
	}
	blocks = g_hash_table_new(block_hash, block_equal);
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	return 0;
}
