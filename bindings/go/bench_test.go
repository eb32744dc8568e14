package lmrt

// Single-row overhead of the Go binding: BenchmarkPredictOneRow (Model.Predict: pooled session
// and a new output slice), BenchmarkSessionOneRow (own Session, output reused: the cgo call
// alone) and BenchmarkCOneRow (the same lm_predict call made from C in a loop, no cgo per row:
// the reference). LMRT_EXAMPLE_MODEL: the .lm to use (default: examples/model.tar.gz converted);
// LMRT_BENCH_ROW: the row (raw float32; default: a fixed pseudo-random row).

import (
	"encoding/binary"
	"math"
	"math/rand"
	"os"
	"sort"
	"testing"
	"time"
)

func benchModel(b *testing.B) (*Model, []float32) {
	m, err := Open(exampleModel(b))
	if err != nil {
		b.Skip(err)
	}
	rng := rand.New(rand.NewSource(1))
	row := make([]float32, m.NumFeatures())
	for i := range row {
		row[i] = rng.Float32()
	}
	// LMRT_BENCH_ROW: the row to score, raw little-endian float32 (bench_overhead.py's row).
	if p := os.Getenv("LMRT_BENCH_ROW"); p != "" {
		raw, err := os.ReadFile(p)
		if err != nil || len(raw) < 4*len(row) {
			b.Fatalf("LMRT_BENCH_ROW %s: %v", p, err)
		}
		for i := range row {
			row[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	}
	return m, row
}

// benchSession: benchModel, a session on the model and an output row; the session and the
// model are closed when the benchmark ends.
func benchSession(b *testing.B) (*Model, *Session, []float32, []float32) {
	m, row := benchModel(b)
	s, _ := m.NewSession()
	b.Cleanup(func() {
		s.Close()
		m.Close()
	})
	return m, s, row, make([]float32, m.NumOutputs())
}

func BenchmarkPredictOneRow(b *testing.B) {
	m, row := benchModel(b)
	defer m.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Predict(row, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionOneRow(b *testing.B) {
	_, s, row, out := benchSession(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Predict(row, 1, false, out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPredictParallel(b *testing.B) {
	m, row := benchModel(b)
	defer m.Close()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Predict(row, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCOneRow(b *testing.B) {
	_, s, row, out := benchSession(b)
	b.ResetTimer()
	ns := cLoopNs(s, row, out, b.N)
	b.ReportMetric(ns, "c-ns/call")
}

// BenchmarkCgoNoop: an empty C function called through cgo, the floor of every binding call.
func BenchmarkCgoNoop(b *testing.B) {
	for i := 0; i < b.N; i++ {
		cNoop()
	}
}

// BenchmarkOverhead interleaves short blocks of calls through the binding with blocks of the
// same call made from C (cLoopNs), in a rotating order, so that a noisy shared machine slows
// both alike, and reports medians over rounds: go-ns/call (Model.Predict), session-ns/call
// (Session.Predict into a reused output), c-ns/call, noop-ns/call (an empty cgo call), and the
// overheads (medians of the per-round differences). Run with -benchtime 1x (b.N is ignored:
// the rounds are fixed).
func BenchmarkOverhead(b *testing.B) {
	m, s, row, out := benchSession(b)
	const rounds, block = 301, 2000
	var goNs, sesNs, cNs, goOver, sesOver, noop []float64
	timeBlock := func(f func()) float64 {
		t0 := time.Now()
		for i := 0; i < block; i++ {
			f()
		}
		return float64(time.Since(t0).Nanoseconds()) / block
	}
	predict := func() {
		if _, err := m.Predict(row, 1); err != nil {
			b.Fatal(err)
		}
	}
	session := func() {
		if err := s.Predict(row, 1, false, out); err != nil {
			b.Fatal(err)
		}
	}
	for r := 0; r < rounds; r++ {
		var g, se, c float64
		for k := 0; k < 3; k++ {
			switch (r + k) % 3 {
			case 0:
				g = timeBlock(predict)
			case 1:
				se = timeBlock(session)
			case 2:
				c = cLoopNs(s, row, out, block)
			}
		}
		noop = append(noop, timeBlock(cNoop))
		goNs, sesNs, cNs = append(goNs, g), append(sesNs, se), append(cNs, c)
		goOver, sesOver = append(goOver, g-c), append(sesOver, se-c)
	}
	b.ReportMetric(median(goNs), "go-ns/call")
	b.ReportMetric(median(sesNs), "session-ns/call")
	b.ReportMetric(median(cNs), "c-ns/call")
	b.ReportMetric(median(goOver), "go-overhead-ns")
	b.ReportMetric(median(sesOver), "session-overhead-ns")
	b.ReportMetric(median(noop), "noop-ns/call")
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
