/*
 * plan.h — the one planner: for a verified view, the derived layouts it builds and, per batch
 * size, the kernel that scores it. A plan is made once per model (and once per NUMA replica, from
 * the replica's copy of the file) and never changes; the scoring path only looks a kernel up in
 * it (lm__plan_kernel: a compare or two).
 */
#ifndef LM_RUNTIME_PLAN_H
#define LM_RUNTIME_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "formats/lmf.h"
#include "kernels/kernels.h"
#include "kernels/layout_alloc.h"

#define LM__MAX_BANDS 4

/* Calls of at least min_rows rows (and fewer than the previous band's) run k. */
typedef struct lm__band {
  size_t min_rows;
  const lm__kernel *k;
} lm__band;

typedef struct lm__plan {
  const lmf_view *v;          /* the view scored (the mapping's, or a replica's copy) */
  lm__layouts L;              /* derived layouts (owned: perfect and bits below) */
  struct lm__perfect *perfect;
  struct lm__bits *bits;
  lm__band band[LM__MAX_BANDS]; /* min_rows descending; the last band's is 0 */
  int n_bands;
  size_t scratch;             /* kernel scratch bytes a call needs (the largest band's) */
  lm__link_fn link;           /* the output transform */
  const char *link_name;
  lm__leaf_fn leaf;           /* leaf ids (trees), or NULL */
  int isa;                    /* the ISA the plan was allowed (enum lm__isa) */
  char notes[640];            /* why faster kernels of the family were not planned ("" if none) */
} lm__plan;

/* Build the plan of v for ISA isa (lm__isa_allowed()), layouts from a. name prefixes errors and
 * the LM_DEBUG line. Returns 0 or a negative LM_E* code (out of memory). */
int lm__plan_build(lm__plan *p, const lmf_view *v, int isa, const lm__alloc *a, const char *name);
void lm__plan_free(lm__plan *p);

/* The kernel for a call of n rows. */
static inline const lm__kernel *lm__plan_kernel(const lm__plan *p, size_t n) {
  const lm__band *b = p->band;
  while (n < b->min_rows) b++;
  return b->k;
}

#endif
