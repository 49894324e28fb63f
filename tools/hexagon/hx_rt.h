/* hx_rt.h - freestanding runtime for Hexagon Linux user mode (qemu-hexagon),
 * no libc and no compiler runtime library.
 *
 * Linux/Hexagon syscall ABI: `trap0(#1)`, number in r6, arguments in r0..r5, result in r0;
 * generic table: read=63, write=64, exit_group=94, clock_gettime=113.
 * At entry [r29] holds argc and argv starts at r29+4.
 *
 * Include in exactly one translation unit: it defines _start, memset and memcpy (the
 * compiler may emit calls to those even with -ffreestanding -fno-builtin).
 * Adapted from shared/hexagon/sample/hx_rt.h: adds stdin reading and raw byte output so a
 * driver can stream tensors through pipes. Only constant divisors appear here. */
#ifndef HX_RT_H
#define HX_RT_H

#include <stddef.h>
#include <stdint.h>

#define HX_SYS_read 63
#define HX_SYS_write 64
#define HX_SYS_exit_group 94
#define HX_SYS_clock_gettime 113

static inline long hx_syscall3(long n, long a, long b, long c) {
  register long r0 __asm__("r0") = a;
  register long r1 __asm__("r1") = b;
  register long r2 __asm__("r2") = c;
  register long r6 __asm__("r6") = n;
  __asm__ volatile("trap0(#1)" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r6) : "memory");
  return r0;
}

__asm__(".text\n"
        ".globl _start\n"
        ".type _start,@function\n"
        ".p2align 4\n"
        "_start:\n"
        "  r0 = memw(r29+#0)\n"
        "  r1 = add(r29,#4)\n"
        "  r29 = and(r29,#-128)\n"
        "  r30 = #0\n"
        "  r31 = #0\n"
        "  call main\n"
        "  r6 = #94\n"
        "  trap0(#1)\n"
        ".size _start, .-_start\n");

void *memset(void *d, int c, size_t n) {
  unsigned char *p = d;
  while (n--) *p++ = (unsigned char)c;
  return d;
}
void *memcpy(void *d, const void *s, size_t n) {
  unsigned char *p = d;
  const unsigned char *q = s;
  while (n--) *p++ = *q++;
  return d;
}

/* Reads exactly n bytes from fd (short only at end of file); returns the count. */
static size_t hx_read_all(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    long r = hx_syscall3(HX_SYS_read, fd, (long)((char *)buf + got), (long)(n - got));
    if (r <= 0) break;
    got += (size_t)r;
  }
  return got;
}
static void hx_write_all(int fd, const void *buf, size_t n) {
  size_t put = 0;
  while (put < n) {
    long r = hx_syscall3(HX_SYS_write, fd, (long)((const char *)buf + put), (long)(n - put));
    if (r <= 0) break;
    put += (size_t)r;
  }
}
static size_t hx_strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
static void out_str(const char *s) { hx_write_all(1, s, hx_strlen(s)); }
static void err_str(const char *s) { hx_write_all(2, s, hx_strlen(s)); }
static void err_u32(uint32_t v) {
  char buf[12]; int i = 11; buf[i] = 0;
  do { buf[--i] = (char)('0' + v % 10u); v /= 10u; } while (v);
  err_str(buf + i);
}
static int hx_streq(const char *a, const char *b) {
  while (*a && *a == *b) { a++; b++; }
  return *a == *b;
}
static uint32_t hx_atou(const char *s) {
  uint32_t v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10u + (uint32_t)(*s++ - '0');
  return v;
}
static uint32_t now_us(void) {
  struct { int32_t sec, nsec; } ts;
  hx_syscall3(HX_SYS_clock_gettime, 1, (long)&ts, 0);
  return (uint32_t)ts.sec * 1000000u + (uint32_t)ts.nsec / 1000u;
}
#endif
