/*
 * cpu.c — CPU feature detection and the LM_ISA cap (see cpu.h). x86-64 only so far; other
 * architectures report scalar. CPUID says what the core implements; XGETBV says whether the OS
 * saves the vector state, without which AVX/AVX-512 instructions fault.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "base/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long lm__xgetbv0(void) {
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}

static int lm__detect(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return LM_ISA_SCALAR;
  int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
  if (!osxsave || !avx) return LM_ISA_SCALAR;
  unsigned long long xcr0 = lm__xgetbv0();
  if ((xcr0 & 0x6) != 0x6) return LM_ISA_SCALAR; /* XMM and YMM state */
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return LM_ISA_SCALAR;
  int avx2 = (b >> 5) & 1;
  int avx512 = ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);
  if (avx512 && fma && avx2 && (xcr0 & 0xE6) == 0xE6) return LM_ISA_AVX512; /* + opmask, ZMM */
  if (avx2 && fma) return LM_ISA_AVX2;
  return LM_ISA_SCALAR;
}
static int lm__detect_vbmi(void) {
  unsigned a, b, c, d;
  if (lm__detect() < LM_ISA_AVX512 || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  /* VBMI (bit 1) and VPOPCNTDQ (bit 14): the bin-and-bitmask kernels use both; every CPU with
   * VBMI has VPOPCNTDQ but Cannon Lake, which then keeps the perfect-tree kernels */
  return ((c >> 1) & 1) && ((c >> 14) & 1);
}
#else
static int lm__detect(void) { return LM_ISA_SCALAR; }
static int lm__detect_vbmi(void) { return 0; }
#endif

int lm__cpu_has_vbmi(void) {
  static int vbmi = -1;
  int v = __atomic_load_n(&vbmi, __ATOMIC_RELAXED);
  if (v < 0) {
    v = lm__detect_vbmi();
    __atomic_store_n(&vbmi, v, __ATOMIC_RELAXED);
  }
  return v;
}

int lm__cpu_isa(void) {
  static int isa = -1; /* idempotent: a race only computes the same value twice */
  int v = __atomic_load_n(&isa, __ATOMIC_RELAXED);
  if (v < 0) {
    v = lm__detect();
    __atomic_store_n(&isa, v, __ATOMIC_RELAXED);
  }
  return v;
}

const char *lm__isa_name(int isa) {
  switch (isa) {
  case LM_ISA_AVX2: return "avx2";
  case LM_ISA_AVX512: return "avx512";
  default: return "scalar";
  }
}

int lm__isa_allowed(void) {
  int isa = lm__cpu_isa();
  const char *cap = getenv("LM_ISA");
  if (!cap || !*cap) return isa;
  int c;
  if (strcmp(cap, "scalar") == 0) c = LM_ISA_SCALAR;
  else if (strcmp(cap, "avx2") == 0) c = LM_ISA_AVX2;
  else if (strcmp(cap, "avx512") == 0) c = LM_ISA_AVX512;
  else return lm__fail(LM_EINVAL, "LM_ISA=%s: expected scalar, avx2 or avx512", cap);
  return c < isa ? c : isa;
}
