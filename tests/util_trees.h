/*
 * util_trees.h — random models for the kernel tests and timings: tree ensembles (test_kernels.c
 * for XGBoost decisions, test_kernels_lgbm.c for LightGBM's), the growth both share, with what
 * differs between them (the random source, how often a node stops or splits on categories, leaf
 * values and numeric splits) given by the caller; and linear models (test_kernels.c,
 * time_linear_blas.c). Header only.
 *
 *   tu_grower                          the caller's choices: rnd (the test's own generator, so
 *                                      each file's sequence and models stay its own), a node
 *                                      below the root is a leaf one time in leaf_one_in and a
 *                                      split is categorical one time in cat_one_in (while the
 *                                      category pool lasts), leaf(n) sets a leaf's value,
 *                                      split(n) a numeric split's threshold.
 *   tu_random_trees(m, g, T, G, maxd,  T trees into m (m->trees, n_trees, the category pool
 *                   cat, dart)         when cat), each of a random depth up to maxd, tree t in
 *                                      output t % G, weight random eighths for dart, else 1.
 *   tu_random_linear(objective, F, G,  a gblinear model (base score 0.5) of F features and G
 *                    rnd)              outputs, its (F + 1) × G weights drawn from rnd.
 */
#ifndef LMRT_TESTS_UTIL_TREES_H
#define LMRT_TESTS_UTIL_TREES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/ir.h"

typedef struct tu_grower {
  uint32_t (*rnd)(void);
  uint32_t leaf_one_in, cat_one_in;
  void (*leaf)(lm_ir_node *n);
  void (*split)(lm_ir_node *n);
} tu_grower;

/* Grow a random subtree rooted at id; returns the next free id. */
static inline uint32_t tu_grow(const tu_grower *g, lm_ir_model *m, lm_ir_tree *t, uint32_t id,
                               uint32_t next, int depth, int maxd, size_t *cat_used) {
  lm_ir_node *n = &t->nodes[id];
  memset(n, 0, sizeof *n);
  if (depth >= maxd || (depth > 0 && g->rnd() % g->leaf_one_in == 0)) {
    n->left = n->right = -1;
    g->leaf(n);
    return next;
  }
  n->feature = g->rnd() % m->num_features;
  n->default_left = g->rnd() & 1;
  if (g->rnd() % g->cat_one_in == 0 && *cat_used + 8 <= m->n_cat_values) {
    n->categorical = 1;
    n->cat_begin = (uint32_t)*cat_used;
    n->cat_count = 1 + g->rnd() % 8;
    uint32_t c = g->rnd() % 4;
    for (uint32_t k = 0; k < n->cat_count; k++)
      m->cat_values[*cat_used + k] = (c += 1 + g->rnd() % 9);
    *cat_used += n->cat_count;
  } else {
    g->split(n);
  }
  n->left = (int32_t)next;
  n->right = (int32_t)next + 1;
  uint32_t l = next, r = next + 1;
  next += 2;
  next = tu_grow(g, m, t, l, next, depth + 1, maxd, cat_used);
  return tu_grow(g, m, t, r, next, depth + 1, maxd, cat_used);
}

static inline void tu_random_trees(lm_ir_model *m, const tu_grower *g, uint32_t T, uint32_t G,
                                   int maxd, int cat, int dart) {
  m->n_trees = T;
  m->trees = calloc(T, sizeof *m->trees);
  m->n_cat_values = cat ? 8u * T * (1u << (maxd < 6 ? maxd : 6)) : 0;
  m->cat_values = calloc(m->n_cat_values + 1, sizeof *m->cat_values);
  size_t used = 0;
  for (uint32_t t = 0; t < T; t++) {
    lm_ir_tree *tr = &m->trees[t];
    int d = maxd ? (int)(g->rnd() % (unsigned)(maxd + 1)) : 0;
    tr->nodes = calloc((size_t)2 << d, sizeof *tr->nodes);
    tr->n_nodes = tu_grow(g, m, tr, 0, 1, 0, d, &used);
    tr->group = t % G;
    tr->weight = dart ? (float)(1 + g->rnd() % 7) / 8.0f : 1.0f;
  }
}

static inline lm_ir_model *tu_random_linear(const char *objective, uint32_t F, uint32_t G,
                                            uint32_t (*rnd)(void)) {
  lm_ir_model *ir = lm_ir_new();
  strcpy(ir->objective, objective);
  ir->booster = LM_BOOSTER_GBLINEAR;
  ir->base_score = 0.5f;
  ir->num_features = F;
  ir->num_outputs = G;
  ir->linear_weights = malloc(sizeof(float) * (F + 1) * G);
  for (size_t k = 0; k < (size_t)(F + 1) * G; k++)
    ir->linear_weights[k] = (float)((int)(rnd() % 2001) - 1000) / 97.0f;
  return ir;
}

#endif
