/* shap_quad_avx2.c — the quadrature TreeSHAP kernel (kernels/shap_quad.h) compiled with the avx2 flags of the Makefile (-mavx2 -mfma). */
#define LM__SQ_NAME lm__shap_rows__quad_avx2
#include "kernels/shap_quad.h"
