/* shap_quad.c — the quadrature TreeSHAP kernel (kernels/shap_quad.h) compiled for baseline x86-64 (LM_ISA=scalar). */
#define LM__SQ_NAME lm__shap_rows__quad
#include "kernels/shap_quad.h"
