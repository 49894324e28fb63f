/* hexcount.c - qcc's Hexagon harness: QEMU TCG plugin (API v1, qemu-hexagon 7.2) that counts
 * executed Hexagon packets, instructions, HVX instructions, and
 * optionally prints the hottest packets with disassembly.
 *
 * In qemu's Hexagon front end one TCG "instruction" is one whole packet,
 * so instructions inside a packet are counted here by decoding the
 * packet words: parse bits [15:14]==00 marks a duplex word (2 insns);
 * ICLASS [31:28]==0000 otherwise is an immext constant extender (0 insns);
 * ICLASS 0001/0010 with bit 27 set is an HVX (CVI) instruction.
 *
 *   cc -O2 -shared -fPIC -o libhexcount.so hexcount.c
 *   qemu-hexagon -plugin ./libhexcount.so[,hot=20][,sym=dot_hvx] ./prog
 *   (report goes to stderr, or to a file with `-d plugin -D file`)
 * Adapted from shared/hexagon/sample/hexcount.c: the hot list merges re-translations of the
 * same packet (one line per PC) and prints machine-readable `hot:` lines
 * (`hot: COUNT PC INSNS DISAS`) that tools/hexagon/hexrun.sh maps to source lines.
 * Options: hot=N  print the N most executed packets;
 *          sym=NAME  also count only packets whose symbol is NAME.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include "qemu_plugin_v1.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

typedef struct { uint64_t packets, insns, hvx, words; } Counts;
static Counts total, insym;
static char *sym_filter;
static int hot_n;

typedef struct { uint64_t pc; uint64_t count; char *disas; unsigned insns; } Pkt;
static Pkt *pkts;  /* one entry per translated packet (re-translations too) */
static size_t npkts, cap;

static void classify(const uint8_t *p, size_t bytes, unsigned *ni, unsigned *nh) {
  unsigned insns = 0, hvx = 0;
  for (size_t o = 0; o + 4 <= bytes; o += 4) {
    uint32_t w; memcpy(&w, p + o, 4);
    unsigned parse = (w >> 14) & 3, iclass = w >> 28;
    if (parse == 0) insns += 2;                      /* duplex */
    else if (iclass == 0) ;                          /* immext */
    else {
      insns++;
      if ((iclass == 1 || iclass == 2) && ((w >> 27) & 1)) hvx++;
    }
  }
  *ni = insns; *nh = hvx;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  size_t n = qemu_plugin_tb_n_insns(tb);
  uint64_t tb_ins = 0, tb_hvx = 0, tb_words = 0, s_p = 0, s_i = 0, s_h = 0, s_w = 0;
  for (size_t i = 0; i < n; i++) {
    struct qemu_plugin_insn *pk = qemu_plugin_tb_get_insn(tb, i);
    size_t sz = qemu_plugin_insn_size(pk);
    unsigned ni, nh;
    classify(qemu_plugin_insn_data(pk), sz, &ni, &nh);
    tb_ins += ni; tb_hvx += nh; tb_words += sz / 4;
    if (sym_filter) {
      const char *s = qemu_plugin_insn_symbol(pk);
      if (s && strcmp(s, sym_filter) == 0) { s_p++; s_i += ni; s_h += nh; s_w += sz / 4; }
    }
    if (hot_n) {
      if (npkts == cap) { cap = cap ? 2 * cap : 1024; pkts = realloc(pkts, cap * sizeof *pkts); }
      Pkt *e = &pkts[npkts++];
      e->pc = qemu_plugin_insn_vaddr(pk); e->count = 0; e->insns = ni;
      e->disas = qemu_plugin_insn_disas(pk);
      /* pkts may be realloc'ed later, so count into a separate cell */
      uint64_t *cell = malloc(sizeof *cell); *cell = 0;
      e->count = (uint64_t)(uintptr_t)cell;
      qemu_plugin_register_vcpu_insn_exec_inline(pk, QEMU_PLUGIN_INLINE_ADD_U64, cell, 1);
    }
  }
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total.packets, n);
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total.insns, tb_ins);
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total.hvx, tb_hvx);
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total.words, tb_words);
  if (s_p) {
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insym.packets, s_p);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insym.insns, s_i);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insym.hvx, s_h);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insym.words, s_w);
  }
}

static uint64_t cnt(const Pkt *p) { return *(uint64_t *)(uintptr_t)p->count; }
static int by_pc(const void *a, const void *b) {
  uint64_t x = ((const Pkt *)a)->pc, y = ((const Pkt *)b)->pc;
  return x < y ? -1 : x > y ? 1 : 0;
}
static int by_count(const void *a, const void *b) {
  uint64_t x = cnt(a), y = cnt(b);
  return x < y ? 1 : x > y ? -1 : 0;
}

static void at_exit(qemu_plugin_id_t id, void *p) {
  (void)id; (void)p;
  char buf[512];
  snprintf(buf, sizeof buf,
           "hexcount: packets=%" PRIu64 " insns=%" PRIu64 " hvx_insns=%" PRIu64
           " words=%" PRIu64 "\n", total.packets, total.insns, total.hvx, total.words);
  qemu_plugin_outs(buf);
  if (sym_filter) {
    snprintf(buf, sizeof buf,
             "hexcount[%s]: packets=%" PRIu64 " insns=%" PRIu64 " hvx_insns=%" PRIu64
             " words=%" PRIu64 "\n", sym_filter, insym.packets, insym.insns, insym.hvx, insym.words);
    qemu_plugin_outs(buf);
  }
  if (hot_n && npkts) {
    /* merge re-translations of one PC into its first entry */
    qsort(pkts, npkts, sizeof *pkts, by_pc);
    size_t m = 0;
    for (size_t i = 0; i < npkts; i++) {
      if (m && pkts[m - 1].pc == pkts[i].pc) {
        *(uint64_t *)(uintptr_t)pkts[m - 1].count += cnt(&pkts[i]);
      } else {
        pkts[m++] = pkts[i];
      }
    }
    qsort(pkts, m, sizeof *pkts, by_count);
    for (size_t i = 0; i < m && i < (size_t)hot_n; i++) {
      snprintf(buf, sizeof buf, "hot: %" PRIu64 " 0x%08" PRIx64 " %u %s\n", cnt(&pkts[i]),
               pkts[i].pc, pkts[i].insns, pkts[i].disas ? pkts[i].disas : "?");
      qemu_plugin_outs(buf);
    }
  }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv) {
  (void)info;
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "hot=", 4) == 0) hot_n = atoi(argv[i] + 4);
    else if (strncmp(argv[i], "sym=", 4) == 0) sym_filter = strdup(argv[i] + 4);
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
  qemu_plugin_register_atexit_cb(id, at_exit, NULL);
  return 0;
}
