/*
 * ir.h — the in-memory intermediate representation every importer produces and the .lm writer
 * consumes. It is the trainer's model, normalised: one tree list (with output group and
 * weight per tree), one optional linear block, categorical sets as sorted category lists,
 * objective and base score as the trainer recorded them. Importers never touch the writer; the
 * writer never sees a source format.
 *
 * Ownership: an lm_ir_model owns every array it points to (all from malloc/calloc);
 * lm_ir_free() releases everything. Node ids in an lm_ir_tree are the trainer's own ids (so
 * pred_leaf-style leaf indices can be reported exactly), node 0 is the root.
 */
#ifndef LM_FORMATS_IR_H
#define LM_FORMATS_IR_H

#include <stddef.h>
#include <stdint.h>

#include "formats/lmf.h" /* enum lm_ir_booster: numbers the file stores */

/* Decision semantics of a whole model (formats/SPEC.md, META.decision). */
enum lm_ir_decision {
  LM_DECISION_XGBOOST = 0,  /* float32 inputs; left iff x < threshold; categories in the set go
                               RIGHT; sums in float32 */
  LM_DECISION_LIGHTGBM = 1, /* double inputs; left iff x <= threshold_d (double); missing types;
                               categories in the set go LEFT; sums in double */
};

/* LightGBM missing types (decision_type bits 2–3). */
enum lm_ir_missing { LM_MISSING_NONE = 0, LM_MISSING_ZERO = 1, LM_MISSING_NAN = 2 };

typedef struct lm_ir_node {
  /* (fields ordered for size: 56 bytes, no padding but the tail's) */
  double value_d;        /* LightGBM only (decision LM_DECISION_LIGHTGBM): exact threshold
                            (numeric split) or leaf value, as written (%.17g) */
  double lin_const;      /* LightGBM linear-tree leaf: see lin_begin */
  double cover;          /* the trainer's cover of the node (XGBoost sum_hess, LightGBM data
                            count): TreeSHAP weights; meaningful when the tree's has_cover */
  int32_t left, right;   /* trainer node ids of the children; -1 for both on a leaf */
  uint32_t feature;      /* split feature (internal nodes) */
  float value;           /* threshold (numeric split) or leaf value (leaf); for LightGBM the
                            nearest float of value_d (informational: the writer uses value_d) */
  /* A split's categorical set or a leaf's linear terms, never both (they share the bytes: the
   * IR of a large model read whole, in a format without an lm_ir_sink, is the converter's peak
   * memory): */
  union {
    struct {
      uint32_t cat_begin; /* categorical split: the set is model->cat_values[cat_begin ..
                             +cat_count); 0, 0 on a numeric split */
      uint32_t cat_count;
    };
    struct {
      uint32_t lin_begin; /* LightGBM linear-tree leaf: value = lin_const + Σ
                             lin_coeff[k]·x[lin_feat[k]] over k in [lin_begin, +lin_count); any of
                             those x NaN → value_d; 0, 0 on other leaves */
      uint32_t lin_count;
    };
  };
  uint8_t default_left;  /* missing value goes left */
  uint8_t categorical;   /* categorical split: categories in the set go RIGHT (XGBoost) or LEFT
                            (LightGBM): see the model's decision */
  uint8_t missing_type;  /* LightGBM, numeric splits: enum lm_ir_missing */
} lm_ir_node;

typedef struct lm_ir_tree {
  uint32_t n_nodes;
  lm_ir_node *nodes;     /* n_nodes entries, indexed by trainer node id */
  uint32_t group;        /* output this tree adds to (XGBoost tree_info) */
  float weight;          /* dart weight_drop; 1.0 for gbtree */
  uint8_t linear;        /* LightGBM linear tree: every leaf has lin_* terms */
  uint8_t has_cover;     /* every node's cover is set (the writer adds a COVER section when
                            every tree has it) */
} lm_ir_tree;

typedef struct lm_ir_model {
  char source_format[32];   /* "xgboost-json", "xgboost-ubj", "xgboost-binary", "xgboost-pickle",
                               "linear-learner", "sklearn-pickle", "lightgbm-pickle"
                               (formats/SPEC.md, META.source_format) */
  char source_version[32];  /* "1.7.4" */
  char objective[64];       /* trainer's name, e.g. "binary:logistic": the objective table's
                               entry (formats/objective.c), which fixes the id and link */
  char trainer_objective[96]; /* "" or what META's objective string shows (lminfo) instead of
                               objective, when the trainer is not the table's: scikit-learn
                               models use the table's lightgbm:* / linear-learner:* entries for
                               their links but show "sklearn:<class>.<method>" */
  int booster;              /* enum lm_ir_booster */
  float base_score;         /* output space, as stored by the trainer */
  uint32_t n_intercept_trees; /* XGBoost 3.1+ per-output base scores that differ: the first
                               n_intercept_trees trees are one-leaf trees, one per output, whose
                               leaf is that output's base margin, and base_score is the value
                               whose margin is exactly 0 (0 + m = m: the same float sums as
                               XGBoost's per-output start). Not boosting rounds: best_iteration
                               truncation keeps them. 0 otherwise. */
  uint32_t num_features;
  uint32_t num_outputs;     /* max(1, num_class, num_target) */

  uint32_t n_trees;
  lm_ir_tree *trees;
  uint32_t *cat_values;     /* all categorical sets, each sorted ascending, no duplicates */
  size_t n_cat_values;

  float *linear_weights;    /* gblinear: num_features × num_outputs (w(f,g) at f·G+g), then G
                               biases; NULL otherwise */

  /* factorization machine (booster LM_BOOSTER_FM): score = fm_w0 + Σ fm_w[i]·x[i]
   * + ½ Σ_f [(Σ_i v(i,f)·x[i])² − Σ_i v(i,f)²·x[i]²], v(i, f) = fm_v[i·fm_factors + f] */
  uint32_t fm_factors;      /* k */
  float fm_w0;
  float *fm_w;              /* num_features */
  float *fm_v;              /* num_features × fm_factors */

  int decision;             /* enum lm_ir_decision */
  double link_param;        /* LightGBM sigmoid scale (binary, multiclassova); 0 = 1.0 */
  uint32_t average_over;    /* LightGBM average_output: margins are divided by this many
                               iterations; 0 = no averaging */
  uint8_t keep_tiny;        /* decision 1: thresholds are used as they are; 0 = fold LightGBM's
                               reading of non-NaN |x| <= 1e-35 as 0 into them (lmf_write.c).
                               scikit-learn models set it: they compare tiny values as such */
  uint32_t *lin_feat;       /* LightGBM linear-tree terms (see lm_ir_node.lin_*) */
  double *lin_coeff;
  size_t n_lin_terms;

  char **feature_names;     /* NULL or num_features strings */
  char *feature_types;      /* NULL or num_features chars: 'q' numeric, 'c' categorical */

  int64_t best_iteration;   /* -1 if absent */
  int64_t best_ntree_limit; /* -1 if absent (XGBoost counts trees: rounds × num_parallel_tree) */
  uint32_t num_parallel_tree; /* trees per output per boosting round (0 or 1: one) */
  uint32_t n_trees_trained; /* trees before best_ntree_limit/best_iteration truncation (0: n_trees) */
  uint64_t source_hash;     /* XXH64 of the source artifact (set by lm_convert) */

  /* Embedded self-test (optional): selftest_n rows of num_features doubles and the values they
   * must produce (selftest_n × selftest_width floats). */
  uint32_t selftest_n, selftest_width;
  double *selftest_rows;
  float *selftest_expected;
} lm_ir_model;

/* A consumer of finished trees, so that a large model's trees need not all be held as IR: an
 * importer given one (lm__import_sink, import.h) calls put(sink, m, t) once tree t of m is
 * complete (its nodes, group and categorical sets final; t = 0, 1, … in order, t = 0 starting a
 * model afresh). put returns LM_OK, having taken the nodes (m->trees[t].nodes = NULL: the rest
 * of the tree, its n_nodes, group, weight and flags, stays in the IR and may still change), or
 * a negative LM_E* error. The converter's sink is the .lm writer's (lmf_write.h); importers
 * never see more of it than this. */
typedef struct lm_ir_sink {
  int (*put)(struct lm_ir_sink *sink, lm_ir_model *m, uint32_t t);
} lm_ir_sink;

/* A zeroed model with best_* = -1. NULL on out of memory. */
lm_ir_model *lm_ir_new(void);
void lm_ir_free(lm_ir_model *m);

/* Walk a tree from its root (children already range-checked): returns 0 when every reachable
 * node is reached once, 1 with *node reached a second time from *from (a cycle or a shared
 * child), or -1 on out of memory. Importers turn a 1 into an error naming their own field. */
int lm_ir_tree_find_repeat(const lm_ir_tree *t, uint32_t *node, uint32_t *from);

#endif
