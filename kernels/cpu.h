/*
 * cpu.h — CPU feature detection (CPUID + XGETBV, once per process) and the LM_ISA cap, which
 * together decide which kernel variants may run. Kernels never test features themselves.
 */
#ifndef LM_KERNELS_CPU_H
#define LM_KERNELS_CPU_H

enum lm__isa { LM_ISA_SCALAR = 0, LM_ISA_AVX2 = 1, LM_ISA_AVX512 = 2 };

/* The best ISA this CPU and OS support (AVX2 means AVX2 + FMA with YMM state enabled; AVX512
 * means F, BW, DQ, VL with ZMM/opmask state enabled). Detected once, thread-safe. */
int lm__cpu_isa(void);
/* The ISA kernels may use: lm__cpu_isa() capped by the environment variable LM_ISA
 * (scalar|avx2|avx512). Returns a negative LM_EINVAL for an unknown LM_ISA value. */
int lm__isa_allowed(void);
const char *lm__isa_name(int isa);
/* 1 if the CPU and OS run AVX-512 VBMI (byte permutes) and VPOPCNTDQ (population counts of
 * 64-bit lanes) on top of LM_ISA_AVX512. Detected once. */
int lm__cpu_has_vbmi(void);

#endif
