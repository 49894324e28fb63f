/* host_rt.h - the API of hx_rt.h on top of libc, so driver.c also builds for the host
 * (the portable path of the emitted C). */
#ifndef HOST_RT_H
#define HOST_RT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static size_t hx_read_all(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  return got;
}
static void hx_write_all(int fd, const void *buf, size_t n) {
  size_t put = 0;
  while (put < n) {
    ssize_t r = write(fd, (const char *)buf + put, n - put);
    if (r <= 0) break;
    put += (size_t)r;
  }
}
static void out_str(const char *s) { hx_write_all(1, s, strlen(s)); }
static void err_str(const char *s) { hx_write_all(2, s, strlen(s)); }
static void err_u32(uint32_t v) { fprintf(stderr, "%u", v); }
static int hx_streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
static uint32_t hx_atou(const char *s) { return (uint32_t)strtoul(s, 0, 10); }
static uint32_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint32_t)ts.tv_sec * 1000000u + (uint32_t)(ts.tv_nsec / 1000);
}
#endif
