// Package lmrt scores XGBoost, LightGBM and linear models from .lm files with liblmrt
// (include/lmrt.h), through cgo.
//
//	m, err := lmrt.Open("model.lm")
//	defer m.Close()
//	out, err := m.Predict(rows, n) // rows: n × m.NumFeatures() float32, row-major, NaN = missing
//
// A *Model is safe for concurrent use by any number of goroutines: each call borrows an
// lm_session (the C scratch arena, which must never be used by two threads at once) from a
// pool owned by the model and returns it afterwards. Callers that manage their own sessions
// (one per worker goroutine, say) use NewSession; a Session is not safe for concurrent use.
//
// Failures are *Error values carrying the LM_E* code and liblmrt's detail (lm_last_error);
// errors.Is(err, lmrt.ErrFormat) and friends match by code.
//
// The library is found with pkg-config (lmrt.pc, installed by `make install`): set
// PKG_CONFIG_PATH (and PKG_CONFIG_SYSROOT_DIR for a DESTDIR install) before `go build`.
package lmrt

/*
#cgo pkg-config: lmrt
#include <stdlib.h>
#include <string.h>
#include <lmrt.h>

// lm_last_error() is thread-local, and a goroutine may move to another OS thread between two
// cgo calls: so every wrapper copies the detail in the same call that failed (malloc'd, only on
// failure; the Go side frees it).
static char *lmgo_detail(int rc) { return rc < 0 ? strdup(lm_last_error()) : NULL; }

static int lmgo_open(const char *path, lm_model **out, char **detail) {
  int rc = lm_model_open(path, out);
  *detail = lmgo_detail(rc);
  return rc;
}
static int lmgo_session_new(const lm_model *m, lm_session **out, char **detail) {
  int rc = lm_session_new(m, out);
  *detail = lmgo_detail(rc);
  return rc;
}
// The scoring wrappers return the code and (on failure only) the detail by value, and take the
// session (C memory) as an integer: then cgo has no pointer of unknown origin to check and the
// call allocates nothing on the Go side (with an lm_session* argument it allocated 8 bytes).
typedef struct { int rc; char *detail; } lmgo_rc;
static lmgo_rc lmgo_predict(uintptr_t s, const float *x, size_t n, unsigned flags, float *out) {
  lmgo_rc r = {lm_predict((lm_session *)s, x, n, flags, out), NULL};
  r.detail = lmgo_detail(r.rc);
  return r;
}
static lmgo_rc lmgo_predict_f64(uintptr_t s, const double *x, size_t n, unsigned flags,
                                float *out) {
  lmgo_rc r = {lm_predict_f64((lm_session *)s, x, n, flags, out), NULL};
  r.detail = lmgo_detail(r.rc);
  return r;
}
static lmgo_rc lmgo_predict_leaf(uintptr_t s, const float *x, size_t n, uint32_t *out) {
  lmgo_rc r = {lm_predict_leaf((lm_session *)s, x, n, out), NULL};
  r.detail = lmgo_detail(r.rc);
  return r;
}
static int lmgo_info(const lm_model *m, lm_model_info *info) { return lm_model_get_info(m, info); }
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Error is a failed liblmrt call: Code is the negative LM_E* code, Name its name ("FORMAT"),
// Message lm_strerror(Code), Detail lm_last_error() of the call (file, field, offset).
type Error struct {
	Code    int
	Name    string
	Message string
	Detail  string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "lmrt: " + e.Name + ": " + e.Message
	}
	return "lmrt: " + e.Name + ": " + e.Message + ": " + e.Detail
}

// Is matches errors with the same code, so errors.Is(err, lmrt.ErrFormat) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func sentinel(code C.int) *Error {
	return &Error{Code: int(code), Name: C.GoString(C.lm_err_name(code)), Message: C.GoString(C.lm_strerror(code))}
}

// Sentinels for errors.Is, one per LM_E* code of lmrt.h.
var (
	ErrInval       = sentinel(C.LM_EINVAL)
	ErrNoMem       = sentinel(C.LM_ENOMEM)
	ErrIO          = sentinel(C.LM_EIO)
	ErrFormat      = sentinel(C.LM_EFORMAT)
	ErrMagic       = sentinel(C.LM_EMAGIC)
	ErrVersion     = sentinel(C.LM_EVERSION)
	ErrChecksum    = sentinel(C.LM_ECHECKSUM)
	ErrUnsupported = sentinel(C.LM_EUNSUPPORTED)
	ErrNoModel     = sentinel(C.LM_ENOMODEL)
	ErrRange       = sentinel(C.LM_ERANGE)
	ErrSelfTest    = sentinel(C.LM_ESELFTEST)
	// ErrClosed is returned by calls on a closed Model (not a liblmrt code).
	ErrClosed = &Error{Code: 0, Name: "CLOSED", Message: "model is closed"}
)

func lmError(rc C.int, detail *C.char) error {
	e := sentinel(rc)
	if detail != nil {
		e.Detail = C.GoString(detail)
		C.free(unsafe.Pointer(detail))
	}
	return e
}

func invalf(format string, args ...interface{}) error {
	e := sentinel(C.LM_EINVAL)
	e.Detail = fmt.Sprintf(format, args...)
	return e
}

// Model is an opened .lm model. Immutable after Open; safe for concurrent use.
type Model struct {
	// Calls count themselves in inflight and check closed; Close sets closed, then waits for
	// inflight to drain before it frees anything (atomics only: no lock on the scoring path).
	inflight atomic.Int64
	closed   atomic.Bool
	closeMu  sync.Mutex
	m        *C.lm_model
	path     string
	nf, nt   int
	no       int // num_outputs: lm_predict needs n × no floats of output room
	wValue   int
	wMargin  int
	// Idle sessions: a call takes one from the first non-empty slot and puts it back into the
	// first empty one; with every slot full a returned session is freed, with none left a call
	// makes one. A session is thus held by one goroutine at a time.
	slots []atomic.Pointer[C.lm_session]
	names []string
	types []byte
}

// Open maps and verifies a .lm file (lm_model_open).
func Open(path string) (*Model, error) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var m *C.lm_model
	var detail *C.char
	if rc := C.lmgo_open(cp, &m, &detail); rc < 0 {
		return nil, lmError(rc, detail)
	}
	md := &Model{
		m:       m,
		path:    path,
		nf:      int(C.lm_model_num_features(m)),
		nt:      int(C.lm_model_num_trees(m)),
		no:      int(C.lm_model_num_outputs(m)),
		wValue:  int(C.lm_model_output_width(m, 0)),
		wMargin: int(C.lm_model_output_width(m, C.LM_PREDICT_MARGIN)),
		// Up to this many idle sessions are kept; more are freed when returned (a burst of
		// goroutines beyond it allocates and frees sessions, it never blocks).
		slots: make([]atomic.Pointer[C.lm_session], 4*runtime.GOMAXPROCS(0)),
	}
	md.types = make([]byte, md.nf)
	for i := 0; i < md.nf; i++ {
		md.types[i] = byte(C.lm_model_feature_type(m, C.size_t(i)))
		if n := C.lm_model_feature_name(m, C.size_t(i)); n != nil {
			if md.names == nil {
				md.names = make([]string, md.nf)
			}
			md.names[i] = C.GoString(n)
		}
	}
	runtime.SetFinalizer(md, func(x *Model) { x.Close() })
	return md, nil
}

// Close frees the pooled sessions and the model; it waits for calls in flight. Sessions made
// with NewSession must be closed first. Calls after Close return ErrClosed.
func (md *Model) Close() error {
	md.closeMu.Lock()
	defer md.closeMu.Unlock()
	if md.m == nil {
		return nil
	}
	md.closed.Store(true)
	for md.inflight.Load() != 0 {
		time.Sleep(20 * time.Microsecond)
	}
	for i := range md.slots {
		if s := md.slots[i].Swap(nil); s != nil {
			C.lm_session_free(s)
		}
	}
	C.lm_model_close(md.m)
	md.m = nil
	runtime.SetFinalizer(md, nil)
	return nil
}

// Path is the file the model was opened from.
func (md *Model) Path() string { return md.path }

// NumFeatures is the number of columns of a row.
func (md *Model) NumFeatures() int { return md.nf }

// NumOutputs is the number of outputs (classes of a multi-class model). Buffers passed to
// PredictInto and Session.Predict need n × NumOutputs floats even when OutputWidth is smaller
// (multi:softmax values: every class's margin is computed in place, then compacted).
func (md *Model) NumOutputs() int { return md.no }

// NumTrees is the number of trees (0: linear model), the columns of PredictLeaf.
func (md *Model) NumTrees() int { return md.nt }

// OutputWidth is the number of values Predict writes per row (margin: with raw margins).
func (md *Model) OutputWidth(margin bool) int {
	if margin {
		return md.wMargin
	}
	return md.wValue
}

// FeatureNames returns the feature names (nil when the model has none).
func (md *Model) FeatureNames() []string { return append([]string(nil), md.names...) }

// FeatureTypes returns 'q' (numeric) or 'c' (categorical) per feature.
func (md *Model) FeatureTypes() []byte { return append([]byte(nil), md.types...) }

// Info is what lm_model_get_info reports, plus the kernel plan (lm_model_plan).
type Info struct {
	SourceFormat, SourceVersion, Converter, Booster, Objective, Link string
	SourceHash, FileSize                                             uint64
	FormatMajor, FormatMinor                                         int
	NumFeatures, NumOutputs, NumTrees, NumNodes, MaxDepth            int
	NumCategoricalSplits, NumTreesTrained                            int
	NumFactors                                                       int // factorization machines: factors per feature
	BaseScore, BaseMargin                                            float32
	Kernel, ISA, LinkKernel                                          string
	BestIteration, BestNTreeLimit                                    int64
	Plan                                                             []PlanBand
	PlanNotes                                                        string
}

// PlanBand: calls of MinRows..MaxRows rows (MaxRows 0: no bound) run Kernel.
type PlanBand struct {
	MinRows, MaxRows int
	Kernel           string
}

// Info describes the model.
func (md *Model) Info() (Info, error) {
	if !md.enter() {
		return Info{}, ErrClosed
	}
	defer md.leave()
	var i C.lm_model_info
	if rc := C.lmgo_info(md.m, &i); rc < 0 {
		return Info{}, sentinel(rc)
	}
	gs := func(s *C.char) string {
		if s == nil {
			return ""
		}
		return C.GoString(s)
	}
	r := Info{
		SourceFormat: gs(i.source_format), SourceVersion: gs(i.source_version),
		Converter: gs(i.converter), Booster: gs(i.booster), Objective: gs(i.objective),
		Link: gs(i.link), SourceHash: uint64(i.source_hash), FileSize: uint64(i.file_size),
		FormatMajor: int(i.format_major), FormatMinor: int(i.format_minor),
		NumFeatures: int(i.num_features), NumOutputs: int(i.num_outputs),
		NumTrees: int(i.num_trees), NumNodes: int(i.num_nodes), MaxDepth: int(i.max_depth),
		NumCategoricalSplits: int(i.num_categorical_splits),
		NumTreesTrained:      int(i.num_trees_trained),
		NumFactors:           int(i.num_factors),
		BaseScore:            float32(i.base_score), BaseMargin: float32(i.base_margin),
		Kernel: gs(i.kernel), ISA: gs(i.isa), LinkKernel: gs(i.link_kernel),
		BestIteration: int64(i.best_iteration), BestNTreeLimit: int64(i.best_ntree_limit),
	}
	var bands [8]C.lm_plan_band
	var notes *C.char
	nb := int(C.lm_model_plan(md.m, &bands[0], 8, &notes))
	if nb > 8 {
		nb = 8
	}
	for b := 0; b < nb; b++ {
		mx := int(bands[b].max_rows)
		if bands[b].max_rows == C.SIZE_MAX {
			mx = 0
		}
		r.Plan = append(r.Plan, PlanBand{MinRows: int(bands[b].min_rows), MaxRows: mx, Kernel: gs(bands[b].kernel)})
	}
	r.PlanNotes = gs(notes)
	return r, nil
}

// enter registers a call; false when the model is closed (then the call must not touch md.m).
func (md *Model) enter() bool {
	md.inflight.Add(1)
	if md.closed.Load() {
		md.inflight.Add(-1)
		return false
	}
	return true
}

func (md *Model) leave() { md.inflight.Add(-1) }

func (md *Model) getSession() (*C.lm_session, error) {
	for i := range md.slots {
		if md.slots[i].Load() != nil {
			if s := md.slots[i].Swap(nil); s != nil {
				return s, nil
			}
		}
	}
	var s *C.lm_session
	var detail *C.char
	if rc := C.lmgo_session_new(md.m, &s, &detail); rc < 0 {
		return nil, lmError(rc, detail)
	}
	return s, nil
}

func (md *Model) putSession(s *C.lm_session) {
	for i := range md.slots {
		if md.slots[i].CompareAndSwap(nil, s) {
			return
		}
	}
	C.lm_session_free(s)
}

// Predict scores n rows (rows: n × NumFeatures float32, row-major, NaN = missing) and returns
// n × OutputWidth(false) transformed values (what XGBoost's predict returns).
func (md *Model) Predict(rows []float32, n int) ([]float32, error) {
	return md.PredictFlags(rows, n, false)
}

// PredictMargin is Predict returning raw margins.
func (md *Model) PredictMargin(rows []float32, n int) ([]float32, error) {
	return md.PredictFlags(rows, n, true)
}

// PredictFlags is Predict (margin false) or PredictMargin (margin true).
func (md *Model) PredictFlags(rows []float32, n int, margin bool) ([]float32, error) {
	out := make([]float32, n*md.no)
	return out[:n*md.OutputWidth(margin)], md.predictInto(rows, nil, n, margin, out)
}

// PredictF64 scores float64 rows (lm_predict_f64: each trainer's own decisions for doubles).
func (md *Model) PredictF64(rows []float64, n int, margin bool) ([]float32, error) {
	out := make([]float32, n*md.no)
	return out[:n*md.OutputWidth(margin)], md.predictInto(nil, rows, n, margin, out)
}

// PredictInto is Predict writing into out: no allocation. len(out) ≥ n × NumOutputs (the
// first n × OutputWidth(margin) values are the result).
func (md *Model) PredictInto(rows []float32, n int, margin bool, out []float32) error {
	return md.predictInto(rows, nil, n, margin, out)
}

func (md *Model) predictInto(r32 []float32, r64 []float64, n int, margin bool, out []float32) error {
	if !md.enter() {
		return ErrClosed
	}
	defer md.leave()
	s, err := md.getSession()
	if err != nil {
		return err
	}
	err = predictSession(s, md.nf, md.no, r32, r64, n, margin, out)
	md.putSession(s)
	return err
}

func predictSession(s *C.lm_session, nf, room int, r32 []float32, r64 []float64, n int, margin bool, out []float32) error {
	if n < 0 {
		return invalf("n = %d rows", n)
	}
	have := len(r32)
	if r64 != nil {
		have = len(r64)
	}
	if have < n*nf {
		return invalf("%d values for %d rows of %d features", have, n, nf)
	}
	if len(out) < n*room {
		return invalf("output has room for %d values, %d rows need %d (rows × outputs)", len(out), n, n*room)
	}
	if n == 0 {
		return nil
	}
	var flags C.uint
	if margin {
		flags = C.LM_PREDICT_MARGIN
	}
	var r C.lmgo_rc
	if r64 != nil {
		r = C.lmgo_predict_f64(C.uintptr_t(uintptr(unsafe.Pointer(s))), (*C.double)(unsafe.Pointer(&r64[0])), C.size_t(n), flags, (*C.float)(unsafe.Pointer(&out[0])))
	} else {
		r = C.lmgo_predict(C.uintptr_t(uintptr(unsafe.Pointer(s))), (*C.float)(unsafe.Pointer(&r32[0])), C.size_t(n), flags, (*C.float)(unsafe.Pointer(&out[0])))
	}
	if r.rc < 0 {
		return lmError(r.rc, r.detail)
	}
	return nil
}

// PredictLeaf returns, for n rows, the leaf reached in every tree (n × NumTrees, the trainer's
// leaf ids). ErrUnsupported for linear models.
func (md *Model) PredictLeaf(rows []float32, n int) ([]uint32, error) {
	if !md.enter() {
		return nil, ErrClosed
	}
	defer md.leave()
	if n < 0 || len(rows) < n*md.nf {
		return nil, invalf("%d values for %d rows of %d features", len(rows), n, md.nf)
	}
	out := make([]uint32, n*md.nt)
	if n == 0 || md.nt == 0 {
		if md.nt == 0 {
			e := sentinel(C.LM_EUNSUPPORTED)
			e.Detail = "predict_leaf: a linear model has no trees"
			return nil, e
		}
		return out, nil
	}
	s, err := md.getSession()
	if err != nil {
		return nil, err
	}
	r := C.lmgo_predict_leaf(C.uintptr_t(uintptr(unsafe.Pointer(s))), (*C.float)(unsafe.Pointer(&rows[0])), C.size_t(n), (*C.uint32_t)(unsafe.Pointer(&out[0])))
	md.putSession(s)
	if r.rc < 0 {
		return nil, lmError(r.rc, r.detail)
	}
	return out, nil
}

// Session is an lm_session for callers that manage their own: one per goroutine (or worker),
// never used by two goroutines at once. It skips the model's pool. Close it before the Model.
type Session struct {
	md *Model
	s  *C.lm_session
}

// NewSession makes a session of the model.
func (md *Model) NewSession() (*Session, error) {
	if !md.enter() {
		return nil, ErrClosed
	}
	defer md.leave()
	var s *C.lm_session
	var detail *C.char
	if rc := C.lmgo_session_new(md.m, &s, &detail); rc < 0 {
		return nil, lmError(rc, detail)
	}
	return &Session{md: md, s: s}, nil
}

// Predict scores n float32 rows into out: no allocation. len(out) ≥ n × NumOutputs (the first
// n × OutputWidth(margin) values are the result).
func (s *Session) Predict(rows []float32, n int, margin bool, out []float32) error {
	if s.s == nil {
		return ErrClosed
	}
	return predictSession(s.s, s.md.nf, s.md.no, rows, nil, n, margin, out)
}

// PredictF64 scores n float64 rows into out.
func (s *Session) PredictF64(rows []float64, n int, margin bool, out []float32) error {
	if s.s == nil {
		return ErrClosed
	}
	return predictSession(s.s, s.md.nf, s.md.no, nil, rows, n, margin, out)
}

// Close frees the session.
func (s *Session) Close() {
	if s.s != nil {
		C.lm_session_free(s.s)
		s.s = nil
	}
}
