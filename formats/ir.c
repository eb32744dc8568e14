/*
 * ir.c — allocation and release of the intermediate representation (formats/ir.h).
 */
#include <stdlib.h>

#include "formats/ir.h"

lm_ir_model *lm_ir_new(void) {
  lm_ir_model *m = calloc(1, sizeof *m);
  if (m) {
    m->best_iteration = -1;
    m->best_ntree_limit = -1;
  }
  return m;
}

void lm_ir_free(lm_ir_model *m) {
  if (!m) return;
  for (uint32_t t = 0; t < m->n_trees && m->trees; t++) free(m->trees[t].nodes);
  free(m->trees);
  free(m->cat_values);
  free(m->linear_weights);
  free(m->fm_w);
  free(m->fm_v);
  if (m->feature_names)
    for (uint32_t f = 0; f < m->num_features; f++) free(m->feature_names[f]);
  free(m->feature_names);
  free(m->feature_types);
  free(m->selftest_rows);
  free(m->lin_feat);
  free(m->lin_coeff);
  free(m->selftest_expected);
  free(m);
}

int lm_ir_tree_find_repeat(const lm_ir_tree *t, uint32_t *node, uint32_t *from) {
  uint8_t *seen = calloc(t->n_nodes, 1);
  uint32_t *stack = malloc(t->n_nodes * sizeof *stack);
  int rc = 0;
  if (!seen || !stack) {
    rc = -1;
    goto out;
  }
  size_t sp = 0;
  stack[sp++] = 0;
  seen[0] = 1;
  while (sp > 0 && rc == 0) {
    uint32_t k = stack[--sp];
    const lm_ir_node *nd = &t->nodes[k];
    if (nd->left < 0) continue;
    int32_t kids[2] = {nd->left, nd->right};
    for (int i = 0; i < 2 && rc == 0; i++) {
      uint32_t ch = (uint32_t)kids[i];
      if (seen[ch]) {
        *node = ch, *from = k, rc = 1;
      } else {
        seen[ch] = 1;
        stack[sp++] = ch; /* each node is pushed at most once: sp ≤ n_nodes */
      }
    }
  }
out:
  free(seen);
  free(stack);
  return rc;
}
