/*
 * lmf.h — the on-disk structs of the .lm format (formats/SPEC.md is the normative text; these
 * structs must match it field for field), and the verified view of a mapped file that the
 * runtime and the kernels read from. The writer (lmf_write.c) produces these bytes from the IR;
 * the verifier (lmf_read.c) checks every offset, count and index once, after which kernels trust
 * the view without bounds checks.
 */
#ifndef LM_FORMATS_LMF_H
#define LM_FORMATS_LMF_H

#include <stddef.h>
#include <math.h>
#include <stdint.h>

#include "base/export.h"


#define LMF_MAGIC "\x89LMF\r\n\x1a\n"
#define LMF_MAJOR 1
#define LMF_MINOR 2 /* 1.1: the optional COVER section; 1.2: factorization machines (FM) */
#define LMF_ALIGN 64
#define LM_PAD_BYTES 64
#define LMF_MAX_SECTIONS 64
#define LMF_MAX_DEPTH 1024
#define LMF_MAX_NUM_OUTPUTS (1u << 20) /* as the importers cap num_class / num_target */
#define LMF_NONE 0xFFFFFFFFu

#define LMF_SPLIT_FEATURE_MASK 0x1FFFFFFFu
#define LMF_SPLIT_ZERO_MISSING 0x20000000u
#define LMF_SPLIT_DEFAULT_LEFT 0x40000000u
#define LMF_SPLIT_CATEGORICAL 0x80000000u
/* The stated limit on META.num_features (issue 18 finding 7): 2^24 = 16,777,216 columns, a
 * 64 MiB float32 row. Opening a model costs memory and time per declared feature (per-feature
 * tables of the derived layouts, f64→f32 row scratch; lmserve's metadata and warm-up rows), and a
 * file of a few hundred bytes could otherwise declare 2^29 (the split field's range): lminfo
 * took 69 s and 8.9 GB on such a file. The split field keeps 29 bits; the verifier checks every
 * feature index against num_features. */
#define LMF_MAX_FEATURES (1u << 24)

#define LMF_SECTION_REQUIRED 1u

enum lmf_kind {
  LMF_META = 1,
  LMF_TREES = 2,
  LMF_NODES = 3,
  LMF_LEAF_IDS = 4,
  LMF_CATSETS = 5,
  LMF_LINEAR = 6,
  LMF_SELFTEST = 7,
  LMF_NODE_F64 = 8,
  LMF_LINEAR_LEAVES = 9,
  LMF_COVER = 10, /* 1.1, optional: per-node cover (TreeSHAP) */
  LMF_FM = 11,    /* 1.2: factorization machine weights */
};
#define LMF_KIND_MAX LMF_FM /* the largest kind this reader knows */

/* Fixed numbers: stored in .lm files (META.booster). */
enum lm_ir_booster {
  LM_BOOSTER_GBTREE = 0,
  LM_BOOSTER_DART = 1,
  LM_BOOSTER_GBLINEAR = 2,
  LM_BOOSTER_LINEAR = 3, /* a plain linear model (SageMaker Linear Learner) */
  LM_BOOSTER_FM = 4,     /* a factorization machine (SageMaker Factorization Machines), 1.2 */
};

enum lmf_decision { LMF_DECISION_XGBOOST = 0, LMF_DECISION_LIGHTGBM = 1 };
#define LMF_TREE_LINEAR 1u
/* LightGBM's kZeroThreshold: a float constant (1e-35f) compared as double. */
#define LMF_ZERO_THRESHOLD 1e-35f

enum lmf_model_kind { LMF_MODEL_TREES = 0, LMF_MODEL_LINEAR = 1, LMF_MODEL_FM = 2 /* 1.2 */ };
/* FM: at most this many factors (k) per feature. */
#define LMF_MAX_FM_FACTORS 4096u
enum lmf_source {
  LMF_SRC_XGBOOST_JSON = 1,
  LMF_SRC_XGBOOST_UBJ = 2,
  LMF_SRC_XGBOOST_BINARY = 3,
  LMF_SRC_XGBOOST_PICKLE = 4,
  LMF_SRC_LIGHTGBM_TEXT = 5,
  LMF_SRC_LINEAR_LEARNER = 6,
  LMF_SRC_SKLEARN_PICKLE = 7,  /* lm_predict_leaf reports its trees' node ids (sklearn's apply()) */
  LMF_SRC_LIGHTGBM_PICKLE = 8,
  LMF_SRC_FACTORIZATION_MACHINES = 9,
};
/* Name ↔ number of META.source_format ("xgboost-json" ↔ 1 …); 0 / "unknown" if not listed. */
LM_INTERNAL uint32_t lm__source_format_id(const char *name);
const char *lm__source_format_name(uint32_t id);

typedef struct lmf_header {
  uint8_t magic[8];
  uint16_t major, minor;
  uint32_t header_size;
  uint64_t file_size;
  uint32_t n_sections;
  uint32_t flags;
  uint64_t table_offset;
  uint64_t table_checksum;
  uint8_t reserved[16];
} lmf_header;

typedef struct lmf_section {
  uint32_t kind;
  uint32_t flags;
  uint64_t offset;
  uint64_t size;
  uint64_t checksum;
} lmf_section;

typedef struct lmf_meta {
  uint32_t model_kind, booster, objective, link;
  uint32_t num_features, num_outputs;
  float base_score, base_margin;
  uint32_t source_format, decision, reserved1;
  uint32_t n_trees, n_nodes, max_depth, n_cat_splits;
  uint32_t reserved0;
  int64_t best_iteration, best_ntree_limit;
  uint64_t source_hash;
  uint32_t str_source_version, str_objective, str_converter, str_feature_names, feature_types;
  uint32_t n_trees_trained;
  double link_param;
  uint32_t average_over;
  uint8_t reserved[4];
} lmf_meta;

typedef struct lmf_tree {
  uint32_t first_node, n_nodes, group, depth;
  float weight;
  uint32_t flags; /* LMF_TREE_LINEAR */
  uint32_t reserved[2];
} lmf_tree;

typedef struct lmf_linear_leaf {
  double constant;
  uint32_t first, count;
} lmf_linear_leaf;

typedef struct lmf_linear_term {
  uint32_t feature, pad;
  double coeff;
} lmf_linear_term;

typedef struct lmf_node {
  uint32_t split;
  float threshold;
  uint32_t left;
  union {
    float leaf;
    uint32_t cat_set;
  } u;
} lmf_node;

typedef struct lmf_catset {
  uint32_t word_offset, n_words;
} lmf_catset;

typedef struct lmf_linear {
  uint32_t num_features, num_outputs;
  uint32_t reserved[14];
} lmf_linear;

/* FM (kind 11, 1.2): the header; then f32 w[num_features] at 64, then f32 v[num_features ×
 * num_factors] at v_offset = 64 + 4·num_features rounded up to 64 (v(i, f) at i·k + f). */
typedef struct lmf_fm {
  uint32_t num_features, num_factors;
  float w0;
  uint32_t reserved0;
  uint64_t v_offset;
  uint32_t reserved[10];
} lmf_fm;

typedef struct lmf_selftest {
  uint32_t n_rows, num_features, width, flags;
  uint32_t reserved[12];
} lmf_selftest;

_Static_assert(sizeof(lmf_selftest) == 64, "selftest header is 64 bytes");
_Static_assert(sizeof(lmf_header) == 64, "header is 64 bytes");
_Static_assert(sizeof(lmf_section) == 32, "section entry is 32 bytes");
_Static_assert(sizeof(lmf_meta) == 128, "meta is 128 bytes");
_Static_assert(sizeof(lmf_tree) == 32, "tree is 32 bytes");
_Static_assert(sizeof(lmf_node) == 16, "node is 16 bytes");
_Static_assert(sizeof(lmf_linear) == 64, "linear header is 64 bytes");
_Static_assert(sizeof(lmf_fm) == 64, "FM header is 64 bytes");

/* A verified file: pointers into the mapping. Everything here has been checked (SPEC.md,
 * "What the verifier checks"). */
typedef struct lmf_view {
  const uint8_t *base;
  size_t size;
  const lmf_header *header;
  const lmf_meta *meta;
  const char *source_version, *objective, *converter; /* NUL-terminated, inside META */
  const char *feature_names;  /* NULL or num_features consecutive NUL-terminated strings */
  const char *feature_types;  /* NULL or num_features bytes */
  const lmf_tree *trees;
  const lmf_node *nodes;
  const uint32_t *leaf_ids;
  const lmf_catset *catsets;
  const uint32_t *cat_words;
  uint32_t n_catsets;
  const float *lin_weights;  /* F × G */
  const float *lin_bias;     /* G */
  const lmf_fm *fm;          /* FM models: the header (w0, k) */
  const float *fm_w;         /* FM: num_features linear weights */
  const float *fm_v;         /* FM: num_features × num_factors factors, row-major */
  const double *node_f64;        /* decision 1: per node, exact threshold / leaf value */
  const lmf_linear_leaf *lin_leaves; /* NULL, or per node (leaves of linear trees) */
  const lmf_linear_term *lin_terms;
  uint32_t n_lin_terms;
  const lmf_selftest *selftest; /* NULL if absent */
  const double *cover;          /* COVER (1.1): n_nodes covers, or NULL when the file has none */
  /* Derived in memory by the planner, not read from the file: the perfect-tree layout
   * (kernels/tree_perfect.h) when the model is eligible, else NULL. */
  const struct lm__perfect *perfect;
  /* Derived by the planner for decision 1 (LightGBM) models: the SIMD kernels the scalar entry
   * points lm__tree_margin_lgbm{,_f64}__scalar hand over to (kernels/kernels.h), or NULL. */
  void (*lgbm_f32)(const struct lmf_view *v, const float *x, size_t n, float *out, double *acc);
  void (*lgbm_f64)(const struct lmf_view *v, const double *x, size_t n, float *out, double *acc);
  const double *selftest_rows;  /* n_rows × num_features */
  const float *selftest_expected; /* n_rows × width */
} lmf_view;

/* Verify buf[0..len) (which must be 64-byte aligned) and fill *v. name prefixes errors. */
LM_INTERNAL int lm__lmf_verify(const uint8_t *buf, size_t len, const char *name, lmf_view *v);


/* Decision 1: the float32 threshold the converter derives from a LightGBM split's double t
 * (SPEC.md): the smallest float32 strictly greater than t (so v >= it <=> v > t for every float32
 * v); t = +inf gives NaN (never right). Shared by the writer and the verifier. */
static inline float lmf_lgb_threshold(double t) {
  if (t == (double)INFINITY) return NAN;
  float f = (float)t;
  if ((double)f <= t) f = nextafterf(f, INFINITY);
  return f;
}

#endif
