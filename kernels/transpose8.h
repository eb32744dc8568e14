/*
 * transpose8.h — an 8 × 8 transpose of floats in AVX registers, for the kernels that turn 8 rows
 * of 8 values into 8 vectors of one value across the rows (kernels/linear_avx2.c: features;
 * kernels/tree_bits_deep_avx512.c: the leaves of 8 trees). Include from files compiled for AVX2 or
 * AVX-512.
 */
#ifndef LM_KERNELS_TRANSPOSE8_H
#define LM_KERNELS_TRANSPOSE8_H

#include <immintrin.h>

/* t[j] ← feature j of the 8 rows r[0..7] (an 8 × 8 transpose). */
static inline __attribute__((always_inline)) void lm__transpose8(const __m256 r[8], __m256 t[8]) {
  __m256 a[8], b[8];
  for (int i = 0; i < 8; i += 2) {
    a[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);     /* rows i, i+1: features 0 1 | 4 5 */
    a[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]); /* features 2 3 | 6 7 */
  }
  for (int i = 0; i < 8; i += 4) { /* b[i + j]: rows i..i+3 of features j | j + 4 */
    b[i] = _mm256_shuffle_ps(a[i], a[i + 2], 0x44);
    b[i + 1] = _mm256_shuffle_ps(a[i], a[i + 2], 0xEE);
    b[i + 2] = _mm256_shuffle_ps(a[i + 1], a[i + 3], 0x44);
    b[i + 3] = _mm256_shuffle_ps(a[i + 1], a[i + 3], 0xEE);
  }
  for (int j = 0; j < 4; j++) {
    t[j] = _mm256_permute2f128_ps(b[j], b[4 + j], 0x20);
    t[4 + j] = _mm256_permute2f128_ps(b[j], b[4 + j], 0x31);
  }
}

#endif
