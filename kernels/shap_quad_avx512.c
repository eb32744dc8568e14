/* shap_quad_avx512.c — the quadrature TreeSHAP kernel (kernels/shap_quad.h) compiled with the avx512 flags of the Makefile (-mavx512f …). */
#define LM__SQ_NAME lm__shap_rows__quad_avx512
#include "kernels/shap_quad.h"
