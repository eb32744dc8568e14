package lmrt

// The C reference of the overhead benchmark (bench_test.go; cgo is not allowed in test files):
// n calls of lm_predict on one row timed inside C, so no cgo transition is counted.

/*
#include <lmrt.h>
#include <time.h>
static double lmgo_c_loop(lm_session *s, const float *x, float *out, long n) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) lm_predict(s, x, 1, 0, out);
  clock_gettime(CLOCK_MONOTONIC, &b);
  return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n;
}
static void lmgo_noop(void) {}
*/
import "C"

import "unsafe"

// cLoopNs: ns per lm_predict call of one row, measured in C over n calls (benchmarks only).
func cLoopNs(s *Session, row, out []float32, n int) float64 {
	if n < 1 {
		n = 1
	}
	return float64(C.lmgo_c_loop(s.s, (*C.float)(unsafe.Pointer(&row[0])), (*C.float)(unsafe.Pointer(&out[0])), C.long(n)))
}

// cNoop is an empty cgo call: the floor of any cgo call (benchmarks only).
func cNoop() { C.lmgo_noop() }
