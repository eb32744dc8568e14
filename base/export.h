/*
 * export.h — LM_INTERNAL: an lm__ function that liblmrt.so exports for the converter library
 * (liblmconvert.so links against liblmrt.so and shares its error state, verifier and reference
 * kernels instead of carrying copies). Not part of the public API: no ABI promise, no header
 * installed; the public API is include/lmrt.h's LM_API.
 */
#ifndef LM_BASE_EXPORT_H
#define LM_BASE_EXPORT_H

#if defined(__GNUC__)
#define LM_INTERNAL __attribute__((visibility("default")))
#else
#define LM_INTERNAL
#endif

#endif
