// SPDX-License-Identifier: GPL-2.0
/*
 * pmem_model: a QEMU TCG plugin that models what an x86 machine with an ADR
 * platform (not eADR) keeps of persistent memory at a power failure, and
 * writes crash points for tools/model/check.py to check on the host.
 *
 * QEMU's TCG has no cache: every guest store reaches the NVDIMM's backing
 * file at once. This plugin watches every store into the backing files it
 * is given (from the kernel and from user space) and keeps, per 64-byte
 * line, what a real machine would have made durable; the rules, with the
 * SDM sections they follow, are in Documentation/persistence-model.rst:
 *
 *   - a store leaves its line dirty in the (volatile) cache;
 *   - CLWB and CLFLUSHOPT queue the line's content of that moment on their
 *     CPU, durable at that CPU's next SFENCE, MFENCE or locked instruction;
 *   - CLFLUSH makes the line's content durable when it executes;
 *   - non-temporal stores (MOVNTI, MOVNTDQ, MOVNTPS/PD, MASKMOV*,
 *     MOVDIR64B, their VEX/EVEX forms) wait in their CPU's write-combining
 *     buffers until its next fence;
 *   - WBINVD and WBNOINVD write back every dirty line.
 *
 * It needs tools/model/qemu-7.2-model.patch: TCG translates the flushes as
 * no-ops, so the patch makes them a byte load of the line they name (which
 * the plugin sees), and it gives a RAM access's host address, which the
 * plugin matches against QEMU's mappings of the backing files.
 *
 * Crash points. The guest's workloads say when they acknowledged a record
 * by one store tagged with a marker (the 7-byte NOP "nopl 0x52504d45(%rax)"
 * just before it, see selftests/records.h): the store's 8 bytes are
 * CHANNEL << 56 | COUNT, COUNT records of CHANNEL (0 to 63) acknowledged. A crash point
 * is taken right after such a store (with probability ack=P) and right
 * before a fence that has something to make durable (fence=P), at most
 * max=N in all; QEMU keeps running. A
 * crash point writes to the log: the acknowledgements so far, the lines
 * whose durable content changed since the last crash point, and every line
 * not yet durable (its content now, what its CPUs have queued for it, and
 * the guest PC of the last store to it). From those and a copy of each
 * backing file as it was at boot, check.py rebuilds the durable image of
 * each crash point (the worst case: every store not yet durable lost) and
 * random images in which each 8-byte word of a line not yet durable was or
 * was not written back.
 *
 * Arguments (-plugin pmem_model.so,ARG=VALUE,...):
 *   pmem=PATH     a backing file to model (repeatable, 8 at most)
 *   log=PATH      the crash-point log to write
 *   ack=P fence=P the probability (0 to 1) of a crash point after an
 *                 acknowledgement, before a fence (default 1 and 0)
 *   max=N         crash points at most (default 1000)
 *   seed=N        the random seed (default 1)
 *   eadr=on       model eADR instead: every store is durable at once (the
 *                 control that shows what the plain SIGKILL loop sees)
 *
 * Log format (little endian), one record after another:
 *   "PMMH" u32 version, u32 targets, then per target u64 size, u64 name
 *          length and the name (the pmem= path)
 *   "PMMC" u32 index, u32 reason (0 ack, 1 before a fence), u64 instructions
 *          executed, u64 acknowledged count per channel (64); entries:
 *          u8 kind, u8 target, u16 len, u32 byte offset within the line,
 *          u64 line offset, u64 pc, then len bytes
 *          kind 1: durable content changed (len 64)
 *          kind 2: not durable, the line's content now (len 64)
 *          kind 3: not durable, queued by a CPU (len <= 64, at offset)
 *          kind 0: end of the crash point (len 0)
 *   "PMMS" at exit, per target: u64 stores, non-temporal stores and
 *          flushes into it
 * A summary goes to QEMU's log (qemu_plugin_outs) at exit.
 */
#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define LINE 64u
#define MAX_TARGETS 8
#define MAX_VCPUS 64
#define MAX_CHANNELS 64
#define ACK_MARKER "\x0f\x1f\x80\x45\x4d\x50\x52"	/* nopl 0x52504d45(%rax) */
#define ACK_MARKER_LEN 7

enum kind { K_STORE, K_NT, K_CLWB, K_CLFLUSH, K_FENCE, K_WBINVD, K_ACK };

/* What an instrumented instruction is, for its callbacks. */
struct insn_info {
	enum kind kind;
	uint64_t pc;
};

/* A line state, per line of a target. */
#define L_DIRTY 1	/* stored to since it was last durable */
#define L_LISTED 2	/* in the dirty list */
#define L_CHANGED 4	/* durable content changed since the last crash point */

struct target {
	char *path;
	uint8_t *cur;		/* QEMU's mapping: the content now */
	uint8_t *durable;	/* what the platform guarantees */
	uint64_t size;
	uint8_t *state;		/* L_* per line */
	uint64_t *pc;		/* last store's PC per line */
	GArray *dirty;		/* lines with L_LISTED, some no longer dirty */
	GArray *changed;	/* lines with L_CHANGED */
	uint64_t stores, nt, flushes;
};

/* A CPU's queue: line write-backs and non-temporal stores not yet fenced. */
struct queued {
	uint8_t target;
	uint8_t off, len;
	uint64_t line;
	uint64_t pc;
	uint8_t data[LINE];
};

static struct target targets[MAX_TARGETS];
static int nr_targets;
static GArray *queues[MAX_VCPUS];
static FILE *logf;
static GRand *rng;
static double p_ack = 1.0, p_fence;
static unsigned int max_points = 1000, nr_points;
static bool eadr, mapped;
static uint64_t insns, fences;
static uint64_t translated[K_ACK + 1];	/* instructions of each kind */
static uint64_t acked[MAX_CHANNELS];

static void put(const void *p, size_t n)
{
	if (fwrite(p, 1, n, logf) != n) {
		fprintf(stderr, "pmem_model: writing the log: %s\n", strerror(errno));
		exit(1);
	}
}

static void put_u32(uint32_t v) { put(&v, 4); }
static void put_u64(uint64_t v) { put(&v, 8); }

static void put_entry(uint8_t kind, int t, uint32_t off, uint16_t len,
		      uint64_t line, uint64_t pc, const void *data)
{
	uint8_t k = kind, tt = t;

	put(&k, 1);
	put(&tt, 1);
	put(&len, 2);
	put_u32(off);
	put_u64(line);
	put_u64(pc);
	put(data, len);
}

/* The target that host address HOST of an access of LEN bytes falls in. */
static struct target *find_target(const uint8_t *host, uint64_t *off)
{
	for (int i = 0; i < nr_targets; i++) {
		struct target *t = &targets[i];

		if (host >= t->cur && host < t->cur + t->size) {
			*off = host - t->cur;
			return t;
		}
	}
	return NULL;
}

static void mark_changed(struct target *t, uint64_t line)
{
	uint8_t *s = &t->state[line / LINE];

	if (!(*s & L_CHANGED)) {
		*s |= L_CHANGED;
		g_array_append_val(t->changed, line);
	}
}

/* After the durable content of LINE changed: is it still dirty? */
static void settle(struct target *t, uint64_t line)
{
	mark_changed(t, line);
	if (!memcmp(t->durable + line, t->cur + line, LINE))
		t->state[line / LINE] &= ~L_DIRTY;
}

static void make_durable(struct target *t, uint64_t line)
{
	memcpy(t->durable + line, t->cur + line, LINE);
	settle(t, line);
}

static void store(struct target *t, uint64_t off, unsigned int len,
		  uint64_t pc)
{
	uint64_t line;

	for (line = off & ~(uint64_t)(LINE - 1); line < off + len; line += LINE) {
		uint8_t *s;

		if (line >= t->size)
			break;
		if (eadr) {
			make_durable(t, line);
			continue;
		}
		s = &t->state[line / LINE];
		*s |= L_DIRTY;
		t->pc[line / LINE] = pc;
		if (!(*s & L_LISTED)) {
			*s |= L_LISTED;
			g_array_append_val(t->dirty, line);
		}
	}
}

static void queue(unsigned int vcpu, struct target *t, uint64_t off,
		  unsigned int len, uint64_t pc)
{
	while (len) {
		struct queued q = { .target = t - targets, .pc = pc };
		uint64_t line = off & ~(uint64_t)(LINE - 1);
		unsigned int n = MIN(len, line + LINE - off);

		if (line >= t->size)
			return;
		q.line = line;
		q.off = off - line;
		q.len = n;
		memcpy(q.data, t->cur + off, n);
		g_array_append_val(queues[vcpu], q);
		off += n;
		len -= n;
	}
}

/* A fence on VCPU: what it queued is durable, in order. */
static void drain(unsigned int vcpu)
{
	GArray *qa = queues[vcpu];

	for (guint i = 0; i < qa->len; i++) {
		struct queued *q = &g_array_index(qa, struct queued, i);
		struct target *t = &targets[q->target];

		memcpy(t->durable + q->line + q->off, q->data, q->len);
		settle(t, q->line);
	}
	g_array_set_size(qa, 0);
}

static void crash_point(uint32_t reason)
{
	if (nr_points >= max_points)
		return;
	put("PMMC", 4);
	put_u32(nr_points++);
	put_u32(reason);
	put_u64(insns);
	for (int i = 0; i < MAX_CHANNELS; i++)
		put_u64(acked[i]);
	for (int i = 0; i < nr_targets; i++) {
		struct target *t = &targets[i];
		guint keep = 0;

		for (guint j = 0; j < t->changed->len; j++) {
			uint64_t line = g_array_index(t->changed, uint64_t, j);

			t->state[line / LINE] &= ~L_CHANGED;
			put_entry(1, i, 0, LINE, line, 0, t->durable + line);
		}
		g_array_set_size(t->changed, 0);
		/* The dirty list, compacted on the way. */
		for (guint j = 0; j < t->dirty->len; j++) {
			uint64_t line = g_array_index(t->dirty, uint64_t, j);
			uint8_t *s = &t->state[line / LINE];

			if (!(*s & L_DIRTY)) {
				*s &= ~L_LISTED;
				continue;
			}
			g_array_index(t->dirty, uint64_t, keep++) = line;
			put_entry(2, i, 0, LINE, line, t->pc[line / LINE],
				  t->cur + line);
		}
		g_array_set_size(t->dirty, keep);
	}
	for (int v = 0; v < MAX_VCPUS; v++) {
		GArray *qa = queues[v];

		for (guint j = 0; qa && j < qa->len; j++) {
			struct queued *q = &g_array_index(qa, struct queued, j);

			put_entry(3, q->target, q->off, q->len, q->line, q->pc,
				  q->data);
		}
	}
	put_entry(0, 0, 0, 0, 0, 0, NULL);
}

static void vcpu_mem(unsigned int vcpu, qemu_plugin_meminfo_t info,
		     uint64_t vaddr, void *udata)
{
	struct insn_info *ii = udata;
	struct qemu_plugin_hwaddr *hw = qemu_plugin_get_hwaddr(info, vaddr);
	unsigned int len = 1u << qemu_plugin_mem_size_shift(info);
	uint8_t *host = qemu_plugin_hwaddr_host_addr(hw);
	struct target *t;
	uint64_t off;

	if (!host)
		return;
	/*
	 * 7.2's op_rw() also runs MEM_W callbacks for loads (see tb_trans):
	 * only the flushes' loads count.
	 */
	if ((ii->kind == K_CLWB || ii->kind == K_CLFLUSH) ==
	    qemu_plugin_mem_is_store(info))
		return;
	if (ii->kind == K_ACK && len == 8) {
		uint64_t v, count;
		unsigned int c;

		memcpy(&v, host, 8);
		c = v >> 56;
		count = v & ((1ull << 56) - 1);
		if (c < MAX_CHANNELS && count > acked[c]) {
			acked[c] = count;
			if (g_rand_double(rng) < p_ack)
				crash_point(0);
		}
		return;
	}
	t = find_target(host, &off);
	if (!t)
		return;
	switch (ii->kind) {
	case K_NT:
		t->nt++;
		if (eadr)
			store(t, off, len, ii->pc);
		else
			queue(vcpu, t, off, len, ii->pc);
		break;
	case K_CLWB:
		t->flushes++;
		if (!eadr)
			queue(vcpu, t, off & ~(uint64_t)(LINE - 1), LINE, ii->pc);
		break;
	case K_CLFLUSH:
		t->flushes++;
		off &= ~(uint64_t)(LINE - 1);
		if (!eadr && off < t->size)
			make_durable(t, off);
		break;
	default:
		t->stores++;
		store(t, off, len, ii->pc);
		break;
	}
}

static void vcpu_fence(unsigned int vcpu, void *udata)
{
	struct insn_info *ii = udata;

	fences++;
	if (vcpu >= MAX_VCPUS)
		return;
	if (ii->kind == K_WBINVD) {
		for (int i = 0; i < nr_targets; i++) {
			struct target *t = &targets[i];

			for (guint j = 0; j < t->dirty->len; j++) {
				uint64_t line = g_array_index(t->dirty, uint64_t, j);

				if (t->state[line / LINE] & L_DIRTY)
					make_durable(t, line);
			}
		}
	}
	if (!queues[vcpu]->len)
		return;
	/* Just before the fence: what it is about to make durable is not. */
	if (p_fence > 0 && g_rand_double(rng) < p_fence)
		crash_point(1);
	drain(vcpu);
}

/*
 * What instruction BYTES is, for the model. Legacy prefixes and REX, then
 * the opcode; see the SDM, volume 2, for each.
 */
static enum kind decode(const uint8_t *p, size_t n)
{
	bool lock = false, p66 = false, rep = false;
	size_t i = 0;
	uint8_t op, modrm;

	for (; i < n; i++) {
		if (p[i] == 0xf0)
			lock = true;
		else if (p[i] == 0x66)
			p66 = true;
		else if (p[i] == 0xf2 || p[i] == 0xf3)
			rep = true;
		else if (!strchr("\x2e\x36\x3e\x26\x64\x65\x67", p[i]) || !p[i])
			break;
	}
	if (i < n && (p[i] & 0xf0) == 0x40)
		i++;
	if (i >= n)
		return K_STORE;
	op = p[i];
	if (lock)
		return K_FENCE;
	if ((op == 0x86 || op == 0x87) && i + 1 < n && (p[i + 1] >> 6) != 3)
		return K_FENCE;		/* XCHG with memory: locked */
	if (op == 0xc5 && i + 2 < n)	/* 2-byte VEX: map 0F */
		return p[i + 2] == 0x2b || p[i + 2] == 0xe7 ? K_NT : K_STORE;
	if (op == 0xc4 && i + 3 < n)	/* 3-byte VEX */
		return (p[i + 1] & 0x1f) == 1 &&
		       (p[i + 3] == 0x2b || p[i + 3] == 0xe7) ? K_NT : K_STORE;
	if (op == 0x62 && i + 4 < n)	/* EVEX */
		return (p[i + 1] & 0x07) == 1 &&
		       (p[i + 4] == 0x2b || p[i + 4] == 0xe7) ? K_NT : K_STORE;
	if (op != 0x0f || i + 1 >= n)
		return K_STORE;
	switch (p[i + 1]) {
	case 0xc3:	/* MOVNTI */
	case 0x2b:	/* MOVNTPS, MOVNTPD, MOVNTSS, MOVNTSD */
	case 0xe7:	/* MOVNTQ, MOVNTDQ */
	case 0xf7:	/* MASKMOVQ, MASKMOVDQU */
		return K_NT;
	case 0x09:	/* WBINVD, WBNOINVD */
		return K_WBINVD;
	case 0x38:	/* MOVDIR64B */
		return i + 2 < n && p[i + 2] == 0xf8 && p66 && !rep ? K_NT : K_STORE;
	case 0xae:
		if (i + 2 >= n)
			return K_STORE;
		modrm = p[i + 2];
		if (modrm >> 6 == 3)	/* SFENCE, MFENCE (LFENCE orders no store) */
			return (modrm == 0xf8 || modrm == 0xf0) && !p66 && !rep ?
			       K_FENCE : K_STORE;
		if (((modrm >> 3) & 7) == 7)	/* CLFLUSHOPT (66), CLFLUSH */
			return p66 ? K_CLWB : K_CLFLUSH;
		if (((modrm >> 3) & 7) == 6 && p66)	/* CLWB */
			return K_CLWB;
		return K_STORE;
	}
	return K_STORE;
}

static struct insn_info *info_of(struct qemu_plugin_insn *insn, enum kind k)
{
	struct insn_info *ii = g_new(struct insn_info, 1);

	ii->kind = k;
	ii->pc = qemu_plugin_insn_vaddr(insn);
	return ii;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);
	bool marked = false;

	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &insns, n);
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		const uint8_t *p = qemu_plugin_insn_data(insn);
		size_t len = qemu_plugin_insn_size(insn);
		enum kind k = decode(p, len);

		if (marked) {
			k = K_ACK;
			marked = false;
		} else if (len == ACK_MARKER_LEN && !memcmp(p, ACK_MARKER, len)) {
			marked = true;
			continue;
		}
		translated[k]++;
		switch (k) {
		case K_FENCE:
		case K_WBINVD:
			qemu_plugin_register_vcpu_insn_exec_cb(insn, vcpu_fence,
				QEMU_PLUGIN_CB_NO_REGS, info_of(insn, k));
			if (k == K_FENCE)	/* a locked RMW stores too */
				qemu_plugin_register_vcpu_mem_cb(insn, vcpu_mem,
					QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_W,
					info_of(insn, K_STORE));
			break;
		case K_CLWB:
		case K_CLFLUSH:
			/*
			 * The patched byte load. MEM_RW, not MEM_R: 7.2's
			 * op_rw() (accel/tcg/plugin-gen.c) tests a callback's
			 * flags against rw + 1, so a MEM_R callback never
			 * matches a load (and a MEM_W one matches loads and
			 * stores: vcpu_mem() tells them apart).
			 */
			qemu_plugin_register_vcpu_mem_cb(insn, vcpu_mem,
				QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW,
				info_of(insn, k));
			break;
		default:
			qemu_plugin_register_vcpu_mem_cb(insn, vcpu_mem,
				QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_W,
				info_of(insn, k));
			break;
		}
	}
}

/* QEMU's mapping of each backing file, from /proc/self/maps. */
static void map_targets(void)
{
	char *maps = NULL;
	gchar **lines;

	if (!g_file_get_contents("/proc/self/maps", &maps, NULL, NULL)) {
		fprintf(stderr, "pmem_model: cannot read /proc/self/maps\n");
		exit(1);
	}
	lines = g_strsplit(maps, "\n", -1);
	for (int i = 0; i < nr_targets; i++) {
		struct target *t = &targets[i];

		for (gchar **l = lines; *l; l++) {
			unsigned long lo, hi, off;
			char path[4096];

			if (sscanf(*l, "%lx-%lx %*s %lx %*s %*s %4095s", &lo, &hi,
				   &off, path) != 4 || strcmp(path, t->path) ||
			    off != 0)
				continue;
			t->cur = (uint8_t *)lo;
			t->size = hi - lo;
			break;
		}
		if (!t->cur) {
			fprintf(stderr, "pmem_model: QEMU has no mapping of %s "
				"(is it a memory backend's mem-path?)\n", t->path);
			exit(1);
		}
		t->durable = g_malloc(t->size);
		memcpy(t->durable, t->cur, t->size);
		t->state = g_malloc0(t->size / LINE);
		t->pc = g_malloc0(t->size / LINE * sizeof(uint64_t));
		t->dirty = g_array_new(false, false, sizeof(uint64_t));
		t->changed = g_array_new(false, false, sizeof(uint64_t));
	}
	g_strfreev(lines);
	g_free(maps);
	put("PMMH", 4);
	put_u32(1);
	put_u32(nr_targets);
	for (int i = 0; i < nr_targets; i++) {
		put_u64(targets[i].size);
		put_u64(strlen(targets[i].path));
		put(targets[i].path, strlen(targets[i].path));
	}
}

static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu)
{
	if (vcpu >= MAX_VCPUS) {
		fprintf(stderr, "pmem_model: more than %d vCPUs\n", MAX_VCPUS);
		exit(1);
	}
	queues[vcpu] = g_array_new(false, false, sizeof(struct queued));
	if (!mapped) {
		map_targets();
		mapped = true;
	}
}

static void at_exit(qemu_plugin_id_t id, void *p)
{
	g_autofree gchar *s = g_strdup_printf(
		"pmem_model: %u crash points, %" PRIu64 " instructions, %"
		PRIu64 " fences executed; translated: %" PRIu64 " non-temporal "
		"stores, %" PRIu64 " CLWB/CLFLUSHOPT, %" PRIu64 " CLFLUSH, %"
		PRIu64 " fences, %" PRIu64 " WBINVD, %" PRIu64 " acknowledgements\n",
		nr_points, insns, fences, translated[K_NT], translated[K_CLWB],
		translated[K_CLFLUSH], translated[K_FENCE], translated[K_WBINVD],
		translated[K_ACK]);

	qemu_plugin_outs(s);
	put("PMMS", 4);
	for (int i = 0; i < nr_targets; i++) {
		put_u64(targets[i].stores);
		put_u64(targets[i].nt);
		put_u64(targets[i].flushes);
	}
	if (fclose(logf)) {
		fprintf(stderr, "pmem_model: writing the log: %s\n", strerror(errno));
		exit(1);
	}
}

static int parse_p(const char *s, double *p)
{
	char *end;

	*p = g_ascii_strtod(s, &end);
	return *end || *p < 0 || *p > 1 ? -1 : 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	const char *log = NULL;
	uint64_t seed = 1;

	if (strcmp(info->target_name, "x86_64")) {
		fprintf(stderr, "pmem_model: x86_64 only\n");
		return -1;
	}
	for (int i = 0; i < argc; i++) {
		char *v = strchr(argv[i], '=');
		int bad = !v;

		if (v) {
			*v++ = 0;
			if (!strcmp(argv[i], "pmem") && nr_targets < MAX_TARGETS)
				targets[nr_targets++].path = g_strdup(v);
			else if (!strcmp(argv[i], "log"))
				log = v;
			else if (!strcmp(argv[i], "ack"))
				bad = parse_p(v, &p_ack);
			else if (!strcmp(argv[i], "fence"))
				bad = parse_p(v, &p_fence);
			else if (!strcmp(argv[i], "max"))
				max_points = g_ascii_strtoull(v, NULL, 10);
			else if (!strcmp(argv[i], "seed"))
				seed = g_ascii_strtoull(v, NULL, 10);
			else if (!strcmp(argv[i], "eadr"))
				bad = !qemu_plugin_bool_parse(argv[i], v, &eadr);
			else
				bad = 1;
		}
		if (bad) {
			fprintf(stderr, "pmem_model: bad argument '%s'\n", argv[i]);
			return -1;
		}
	}
	if (!nr_targets || !log) {
		fprintf(stderr, "pmem_model: needs pmem=PATH (1 to %d) and log=PATH\n",
			MAX_TARGETS);
		return -1;
	}
	logf = fopen(log, "w");
	if (!logf) {
		fprintf(stderr, "pmem_model: %s: %s\n", log, strerror(errno));
		return -1;
	}
	setvbuf(logf, NULL, _IOFBF, 1 << 20);
	rng = g_rand_new_with_seed(seed);
	qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
