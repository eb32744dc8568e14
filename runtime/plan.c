/*
 * plan.c — the one planner (plan.h). The kernel for each (model, batch size) is chosen here and
 * nowhere else: the descriptors of kernels/registry.c are walked best first; a usable kernel
 * takes the batch sizes from its min_rows up to where a better kernel already took over, until
 * single rows are covered (the family's scalar reference always can). Derived layouts are built
 * first, only for families and CPUs whose kernels read them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "kernels/cpu.h"
#include "kernels/tree_bits.h"
#include "kernels/tree_perfect.h"
#include "runtime/plan.h"

/* Append "name: why" to the notes (truncated when full). */
static void lm__note(lm__plan *p, const char *name, const char *why, const char *detail) {
  size_t len = strlen(p->notes);
  snprintf(p->notes + len, sizeof p->notes - len, "%s%s: %s%s%s", len ? "; " : "", name, why,
           detail && *detail ? ": " : "", detail ? detail : "");
}

/* LM_KERNEL, a hook for benchmarks and tests (read at every plan, like LM_ISA; not part of the
 * API): "NAME" plans kernel NAME alone, for every batch size, on models of its family — its
 * min_rows and the registry's measured shape threshold (LM_NEED_G64) are ignored, its other
 * needs are not (a model it cannot score fails to open, saying why: linear_margin_blas where
 * OpenBLAS cannot be loaded fails with "OpenBLAS not found (...)"); "-NAME" plans as usual
 * without NAME (the family's scalar reference cannot be excluded). Models of other families are planned as usual. bench/lmbench times the
 * hand-written and the OpenBLAS linear kernels this way, side by side with the plan. Returns
 * 1 if the plan was forced (p->band set), 0 if not, or a negative LM_E* code. */
static int lm__plan_forced(lm__plan *p, const lmf_view *v, int isa, int vbmi, int fam,
                           const char *name, const lm__kernel **skip) {
  const char *env = getenv("LM_KERNEL");
  *skip = NULL;
  if (!env || !*env) return 0;
  const int minus = env[0] == '-';
  const lm__kernel *k = lm__kernels;
  while (k->name && strcmp(k->name, env + minus)) k++;
  if (!k->name) return lm__fail(LM_EINVAL, "%s: LM_KERNEL=%s: no such kernel", name, env);
  if (k->family != fam) return 0;
  if (minus) {
    if (k->isa != LM_ISA_SCALAR) *skip = k; /* the family's reference always stays */
    return 0;
  }
  lm__kernel probe = *k;
  probe.needs &= ~(unsigned)LM_NEED_G64;
  const char *why = NULL;
  if (!lm__kernel_usable(&probe, v, &p->L, isa, vbmi, &why))
    return lm__fail(LM_EINVAL, "%s: LM_KERNEL=%s: %s", name, env, why);
  p->band[0].min_rows = 0;
  p->band[0].k = k;
  p->n_bands = 1;
  p->scratch = lm__kernel_scratch(k, v);
  lm__note(p, "LM_KERNEL", "forced", k->name);
  return 1;
}

int lm__plan_build(lm__plan *p, const lmf_view *v, int isa, const lm__alloc *a, const char *name) {
  memset(p, 0, sizeof *p);
  p->v = v;
  p->isa = isa;
  const int fam = lm__model_family(v), vbmi = isa >= LM_ISA_AVX512 && lm__cpu_has_vbmi();
  char why_perfect[LM__WHY_LEN] = "", why_bits[LM__WHY_LEN] = "";
  if (fam == LM_FAM_TREE && isa >= LM_ISA_AVX2) {
    p->perfect = lm__perfect_build(v, a, why_perfect);
    if (p->perfect && vbmi) p->bits = lm__bits_build(v, p->perfect, a, why_bits);
    else if (p->perfect) snprintf(why_bits, sizeof why_bits, "built only for AVX-512 VBMI");
  }
  if (fam == LM_FAM_LGBM && isa >= LM_ISA_AVX512) { /* records only: no perfect layout */
    if (vbmi) p->bits = lm__bits_build(v, NULL, a, why_bits);
    else snprintf(why_bits, sizeof why_bits, "built only for AVX-512 VBMI");
  }
  p->L.perfect = p->perfect;
  p->L.bits = p->bits;
  const lm__kernel *skip = NULL;
  int forced = lm__plan_forced(p, v, isa, vbmi, fam, name, &skip);
  if (forced < 0) {
    lm__plan_free(p);
    return forced;
  }
  size_t cover = forced ? 1 : SIZE_MAX; /* batch sizes from here up are planned */
  unsigned noted = ~0u;
  int capped = -1;    /* the needs of the last kernel noted: variants of one kernel (its
                              batch and single-row entries) share a note */
  for (const lm__kernel *k = lm__kernels; k->name && cover > 1; k++) {
    const char *why = NULL;
    if (k->family != fam || !k->planned) continue;
    if (k == skip) {
      lm__note(p, k->name, "excluded by LM_KERNEL", NULL);
      continue;
    }
    if (k->isa > isa) { /* one note for all kernels of an ISA the CPU or LM_ISA rules out */
      if (k->isa != capped) lm__note(p, k->isa == LM_ISA_AVX512 ? "AVX-512 kernels" : "AVX2 kernels",
                                     lm__cpu_isa() < k->isa ? "not on this CPU" : "capped by LM_ISA", NULL);
      capped = k->isa;
      continue;
    }
    if (!lm__kernel_usable(k, v, &p->L, isa, vbmi, &why)) {
      const char *detail = (k->needs & LM_NEED_BITS) && !p->bits ? why_bits
                           : (k->needs & (LM_NEED_PERFECT | LM_NEED_TOP)) && !p->perfect ? why_perfect
                                                                                        : NULL;
      if ((cover == SIZE_MAX || k->min_rows < cover) && k->needs != noted)
        lm__note(p, k->name, why, detail);
      noted = k->needs;
      continue;
    }
    if (k->min_rows >= cover) continue;
    p->band[p->n_bands].min_rows = k->min_rows;
    p->band[p->n_bands++].k = k;
    cover = k->min_rows;
    size_t s = lm__kernel_scratch(k, v);
    if (s > p->scratch) p->scratch = s;
  }
  if (!forced && (p->n_bands == 0 || cover > 1)) { /* the registry always ends a family with its reference */
    lm__plan_free(p);
    return lm__fail(LM_EINVAL, "%s: no kernel for this model (registry bug)", name);
  }
  p->band[p->n_bands - 1].min_rows = 0;
  if (fam == LM_FAM_TREE || fam == LM_FAM_LGBM) p->leaf = lm__tree_leaf__scalar;
  /* Linear and FM margins are not bit-identical to the trainer's: their transform may be too (within
   * 1e-6). Trees keep libm's expf, so that their outputs equal XGBoost's bit for bit. */
  int simd_link = (fam == LM_FAM_LINEAR || fam == LM_FAM_FM) && isa >= LM_ISA_AVX2;
  p->link = simd_link ? lm__link_apply__avx2 : lm__link_apply__scalar;
  p->link_name = simd_link ? "link__avx2" : "link__scalar";
  if (getenv("LM_DEBUG")) {
    fprintf(stderr, "lmrt: plan %s (cpu %s, allowed %s):", name, lm__isa_name(lm__cpu_isa()),
            lm__isa_name(isa));
    for (int i = 0; i < p->n_bands; i++)
      fprintf(stderr, " %s%zu+ rows: %s", i ? ", " : "", p->band[i].min_rows ? p->band[i].min_rows : 1,
              p->band[i].k->name);
    fprintf(stderr, "; %s%s%s\n", p->link_name, *p->notes ? "; not planned: " : "", p->notes);
  }
  return LM_OK;
}

void lm__plan_free(lm__plan *p) {
  lm__bits_free(p->bits);
  lm__perfect_free(p->perfect);
  p->bits = NULL, p->perfect = NULL;
  p->L.bits = NULL, p->L.perfect = NULL;
}
