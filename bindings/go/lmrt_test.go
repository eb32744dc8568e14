package lmrt

// Tests over the XGBoost parity fixtures (tests/fixtures/xgb, made by tests/gen_fixtures.py
// with Debian's XGBoost 1.7.4): every case converted with lmconvert, scored through the Go API
// in one batch, one row per call, as float64, in parallel goroutines, compared with XGBoost's
// own values, margins and leaf indices. LM_SRC: the lmrt tree; LM_BIN: its build/bin.

import (
	"bufio"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func srcDir(t testing.TB) string {
	if s := os.Getenv("LM_SRC"); s != "" {
		return s
	}
	s, _ := filepath.Abs("../..")
	return s
}

func binDir(t testing.TB) string {
	if s := os.Getenv("LM_BIN"); s != "" {
		return s
	}
	return filepath.Join(srcDir(t), "build", "bin")
}

// readCSV parses a fixture table: ” / nan / NaN / NA are missing (NaN).
func readCSV(t testing.TB, path string) (vals []float64, rows, cols int) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		cells := strings.Split(line, ",")
		if cols == 0 {
			cols = len(cells)
		} else if len(cells) != cols {
			t.Fatalf("%s line %d: %d cells, expected %d", path, rows+1, len(cells), cols)
		}
		for _, c := range cells {
			switch c {
			case "", "nan", "NaN", "NA":
				vals = append(vals, math.NaN())
			default:
				v, err := strconv.ParseFloat(c, 64)
				if err != nil {
					t.Fatalf("%s line %d: %v", path, rows+1, err)
				}
				vals = append(vals, v)
			}
		}
		rows++
	}
	return
}

// exampleModel: LMRT_EXAMPLE_MODEL, or examples/model.tar.gz converted once into a temp dir.
var exOnce sync.Once
var exPath string

func exampleModel(t testing.TB) string {
	if p := os.Getenv("LMRT_EXAMPLE_MODEL"); p != "" {
		return p
	}
	exOnce.Do(func() {
		d, err := os.MkdirTemp("", "lmrt-go-ex-")
		if err != nil {
			return
		}
		p := filepath.Join(d, "example.lm")
		if exec.Command(filepath.Join(binDir(t), "lmconvert"), "-q", filepath.Join(srcDir(t), "examples", "model.tar.gz"), "-o", p).Run() == nil {
			exPath = p
		}
	})
	if exPath == "" {
		t.Fatal("cannot convert examples/model.tar.gz")
	}
	return exPath
}

type fixture struct {
	name            string
	model           *Model
	booster         string
	x32             []float32
	x64             []float64
	n, nf           int
	value, margin   []float32
	wValue, wMargin int
	leaf            []float64
	hasLeaf         bool
}

var (
	fixOnce sync.Once
	fixAll  []*fixture
	fixErr  error
)

func toF32(v []float64) []float32 {
	r := make([]float32, len(v))
	for i, x := range v {
		r[i] = float32(x)
	}
	return r
}

func loadFixtures(t testing.TB) []*fixture {
	fixOnce.Do(func() {
		src := srcDir(t)
		dir := filepath.Join(src, "tests", "fixtures", "xgb")
		man, err := os.ReadFile(filepath.Join(dir, "MANIFEST"))
		if err != nil {
			fixErr = err
			return
		}
		tmp, err := os.MkdirTemp("", "lmrt-go-")
		if err != nil {
			fixErr = err
			return
		}
		for _, name := range strings.Fields(string(man)) {
			cd := filepath.Join(dir, name)
			lm := filepath.Join(tmp, name+".lm")
			cmd := exec.Command(filepath.Join(binDir(t), "lmconvert"), "-q", filepath.Join(cd, "model.json"), "-o", lm)
			if out, err := cmd.CombinedOutput(); err != nil {
				fixErr = errors.New(name + ": lmconvert: " + err.Error() + ": " + string(out))
				return
			}
			m, err := Open(lm)
			if err != nil {
				fixErr = err
				return
			}
			os.Remove(lm) // the mapping stays valid
			var meta struct {
				Booster string `json:"booster"`
			}
			mb, _ := os.ReadFile(filepath.Join(cd, "meta.json"))
			json.Unmarshal(mb, &meta)
			f := &fixture{name: name, model: m, booster: meta.Booster}
			f.x64, f.n, f.nf = readCSV(t, filepath.Join(cd, "input.csv"))
			f.x32 = toF32(f.x64)
			v, _, wv := readCSV(t, filepath.Join(cd, "expected_value.csv"))
			mg, _, wm := readCSV(t, filepath.Join(cd, "expected_margin.csv"))
			f.value, f.margin, f.wValue, f.wMargin = toF32(v), toF32(mg), wv, wm
			if _, err := os.Stat(filepath.Join(cd, "expected_leaf.csv")); err == nil {
				f.leaf, _, _ = readCSV(t, filepath.Join(cd, "expected_leaf.csv"))
				f.hasLeaf = true
			}
			fixAll = append(fixAll, f)
		}
		os.RemoveAll(tmp)
	})
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	if len(fixAll) < 30 {
		t.Fatalf("only %d fixtures", len(fixAll))
	}
	return fixAll
}

// compare: bit-identical for tree models; gblinear within 1e-6 relative (its SIMD dot product
// sums in a different order than XGBoost's, see docs/parity.md).
func compare(t *testing.T, f *fixture, what string, got, want []float32) (bitexact int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s %s: %d values, expected %d", f.name, what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		g, w := got[i], want[i]
		if g == w || (g != g && w != w) {
			bitexact++
			continue
		}
		tol := 1e-6 * math.Max(1, math.Abs(float64(w)))
		if f.booster != "gblinear" || math.Abs(float64(g-w)) > tol {
			if bad++; bad <= 3 {
				t.Errorf("%s %s: value %d: got %.9g, xgboost %.9g", f.name, what, i, g, w)
			}
		}
	}
	return
}

func TestParity(t *testing.T) {
	total, exact := 0, 0
	for _, f := range loadFixtures(t) {
		m := f.model
		if m.NumFeatures() != f.nf || m.OutputWidth(false) != f.wValue || m.OutputWidth(true) != f.wMargin {
			t.Fatalf("%s: shape %d/%d/%d, fixture %d/%d/%d", f.name, m.NumFeatures(), m.OutputWidth(false), m.OutputWidth(true), f.nf, f.wValue, f.wMargin)
		}
		v, err := m.Predict(f.x32, f.n)
		if err != nil {
			t.Fatal(err)
		}
		e0 := exact
		exact += compare(t, f, "value", v, f.value)
		mg, err := m.PredictMargin(f.x32, f.n)
		if err != nil {
			t.Fatal(err)
		}
		exact += compare(t, f, "margin", mg, f.margin)
		v64, err := m.PredictF64(f.x64, f.n, false)
		if err != nil {
			t.Fatal(err)
		}
		exact += compare(t, f, "value(f64)", v64, f.value)
		one := make([]float32, 0, len(f.value))
		for r := 0; r < f.n; r++ {
			o, err := m.Predict(f.x32[r*f.nf:(r+1)*f.nf], 1)
			if err != nil {
				t.Fatal(err)
			}
			one = append(one, o...)
		}
		exact += compare(t, f, "value(1 row/call)", one, f.value)
		total += 3*len(f.value) + len(f.margin)
		if d := 3*len(f.value) + len(f.margin) - (exact - e0); d > 0 {
			t.Logf("%s (%s): %d outputs within 1e-6 relative, not bit-identical", f.name, f.booster, d)
		}
		if f.hasLeaf {
			l, err := m.PredictLeaf(f.x32, f.n)
			if err != nil {
				t.Fatal(err)
			}
			for i := range l {
				if float64(l[i]) != f.leaf[i] {
					t.Fatalf("%s leaf %d: got %d, xgboost %.0f", f.name, i, l[i], f.leaf[i])
				}
			}
		} else if _, err := m.PredictLeaf(f.x32, f.n); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: PredictLeaf on a linear model: %v, want ErrUnsupported", f.name, err)
		}
	}
	t.Logf("parity: %d fixtures, %d outputs, %d bit-identical to XGBoost 1.7.4", len(fixAll), total, exact)
}

// Many goroutines on one model, each checking its results: sessions are pooled, never shared
// (go test -race checks the Go side; the values check the C side).
func TestConcurrent(t *testing.T) {
	fs := loadFixtures(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for it := 0; it < 40; it++ {
				f := fs[(g+it)%len(fs)]
				r := (g*7 + it) % f.n
				n := 1 + (g+it)%4
				if r+n > f.n {
					n = f.n - r
				}
				v, err := f.model.Predict(f.x32[r*f.nf:(r+n)*f.nf], n)
				if err != nil {
					errs <- err
					return
				}
				for i := range v {
					w := f.value[r*f.wValue+i]
					if v[i] != w && !(v[i] != v[i] && w != w) && f.booster != "gblinear" {
						errs <- errors.New(f.name + ": concurrent value differs")
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSession(t *testing.T) {
	for _, f := range loadFixtures(t) {
		s, err := f.model.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, f.n*f.model.NumOutputs())
		for _, margin := range []bool{false, true} {
			if err := s.Predict(f.x32, f.n, margin, out); err != nil {
				t.Fatal(err)
			}
			want := f.value
			if margin {
				want = f.margin
			}
			compare(t, f, "session", out[:len(want)], want)
			if err := s.PredictF64(f.x64, f.n, margin, out); err != nil {
				t.Fatal(err)
			}
			compare(t, f, "session f64", out[:len(want)], want)
		}
		if err := s.Predict(f.x32, f.n, false, out[:f.n*f.model.NumOutputs()-1]); !errors.Is(err, ErrInval) {
			t.Fatalf("short output: %v", err)
		}
		s.Close()
	}
}

func TestErrors(t *testing.T) {
	_, err := Open("/nonexistent/model.lm")
	var le *Error
	if !errors.As(err, &le) || !errors.Is(err, ErrIO) || !strings.Contains(le.Detail, "/nonexistent/model.lm") {
		t.Fatalf("open missing file: %v", err)
	}
	tmp := filepath.Join(t.TempDir(), "bad.lm")
	os.WriteFile(tmp, []byte("this is not a model file, it is text, long enough to be read as a header by the verifier........"), 0o644)
	_, err = Open(tmp)
	if !errors.Is(err, ErrMagic) || !strings.Contains(err.Error(), "MAGIC") {
		t.Fatalf("open text file: %v", err)
	}
	f := loadFixtures(t)[0]
	if _, err := f.model.Predict(f.x32[:3], 1); !errors.Is(err, ErrInval) {
		t.Fatalf("short rows: %v", err)
	}
	info, err := f.model.Info()
	if err != nil || info.NumFeatures != f.nf || len(info.Plan) == 0 || info.Plan[len(info.Plan)-1].MinRows != 1 || info.Objective == "" {
		t.Fatalf("info: %+v %v", info, err)
	}
	// Calls after Close fail cleanly.
	m, err := Open(exampleModel(t))
	if err != nil {
		t.Fatal(err)
	}
	if names := m.FeatureNames(); len(names) != m.NumFeatures() || names[0] != "distance_km" {
		t.Fatalf("feature names: %v", names)
	}
	m.Close()
	if _, err := m.Predict(make([]float32, m.NumFeatures()), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// Close while goroutines are scoring: it waits for the calls in flight, later calls get
// ErrClosed, nothing is used after it is freed (go test -race, and ASan under make check-san).
func TestCloseWhileScoring(t *testing.T) {
	m, err := Open(exampleModel(t))
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]float32, 64*m.NumFeatures())
	var wg, started sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		started.Add(1)
		go func(g int) {
			defer wg.Done()
			for c := 0; ; c++ {
				if _, err := m.Predict(rows, 1+g%64); err != nil {
					if !errors.Is(err, ErrClosed) || c == 0 {
						t.Error(err)
					}
					return
				}
				if c == 0 {
					started.Done()
				}
			}
		}(g)
	}
	started.Wait() // every goroutine is scoring
	time.Sleep(5 * time.Millisecond)
	m.Close()
	wg.Wait()
	if _, err := m.Predict(rows, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
