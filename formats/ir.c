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
