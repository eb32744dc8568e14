package lmrt

// Single-row overhead of the Go binding: BenchmarkPredictOneRow (Model.Predict: pooled session
// and a new output slice), BenchmarkSessionOneRow (own Session, output reused: the cgo call
// alone) and BenchmarkCOneRow (the same lm_predict call made from C in a loop, no cgo per row:
// the reference). LMRT_BENCH_MODEL: the .lm to use (default: build/bindings/example.lm).

import (
	"math/rand"
	"testing"
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
	return m, row
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
	m, row := benchModel(b)
	defer m.Close()
	s, _ := m.NewSession()
	defer s.Close()
	out := make([]float32, m.NumOutputs())
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
	m, row := benchModel(b)
	defer m.Close()
	s, _ := m.NewSession()
	defer s.Close()
	out := make([]float32, m.NumOutputs())
	b.ResetTimer()
	ns := cLoopNs(s, row, out, b.N)
	b.ReportMetric(ns, "c-ns/call")
}
