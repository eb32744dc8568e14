/*
 * layout_alloc.h — where the derived layouts (tree_perfect.h, tree_bits.h) put their memory. The
 * planner builds a model's layouts with the default (mimalloc, 64-byte aligned) and a NUMA
 * replica's with an allocator bound to its node (runtime/numa.c), so that a replica is a copy of
 * the file plus a re-plan, with no pointer rebasing. A layout remembers its allocator and frees
 * through it.
 */
#ifndef LM_KERNELS_LAYOUT_ALLOC_H
#define LM_KERNELS_LAYOUT_ALLOC_H

#include <stddef.h>

typedef struct lm__alloc {
  void *(*zalloc)(const struct lm__alloc *a, size_t bytes); /* zeroed, 64-byte aligned; NULL:
                                                               out of memory */
  void (*free)(const struct lm__alloc *a, void *p, size_t bytes);
  int node;                                                 /* for allocators bound to a node */
} lm__alloc;

/* mimalloc (mi_zalloc_aligned / mi_free). */
extern const lm__alloc lm__alloc_default;

/* Why a layout was not built, for the planner's notes (lminfo): one line. */
#define LM__WHY_LEN 160

#endif
