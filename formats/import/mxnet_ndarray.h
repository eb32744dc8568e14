/*
 * mxnet_ndarray.h — MXNet NDArray list files (what mx.nd.save and Module checkpoints' .params
 * write), read in place (formats/import/mxnet_ndarray.c): the arrays' shapes, dtypes, where
 * their data and names lie. Nothing is copied; the caller decodes the data it wants.
 */
#ifndef LM_FORMATS_IMPORT_MXNET_NDARRAY_H
#define LM_FORMATS_IMPORT_MXNET_NDARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "base/cursor.h"

/* MXNet: src/ndarray/ndarray.cc, include/mxnet/c_api.h (kMXAPINDArrayListMagic). */
#define LM_ND_LIST_MAGIC 0x112u
#define LM_ND_MAX_NDIM 32 /* dimensions of one array */

/* One array of an NDArray list, as found in the file. */
typedef struct lm_nd_array {
  size_t offset;  /* byte offset of the array's first field */
  uint32_t magic; /* 0xF993FAC8/9/A (v1/v2/v3), or 0 for the legacy layout */
  int empty;      /* "none" array: no context, dtype or data */
  uint32_t ndim;
  int64_t dims[LM_ND_MAX_NDIM];
  int32_t stype, dev_type, dev_id, dtype;
  uint64_t n_elems;
  size_t data_off;           /* byte offset of the raw data */
  size_t name_off, name_len; /* name bytes (not NUL-terminated); name_len 0 + no names: unnamed */
} lm_nd_array;

typedef struct lm_nd_list {
  uint64_t n;
  lm_nd_array *a; /* malloc'd: free() it */
  int named;
} lm_nd_list;

/* Parse the whole of c's bytes (from its position) as an NDArray list: every count and size is
 * checked against the bytes left, and bytes after the last name are an error. Errors name c's
 * input, the byte offset and the field ("byte 60: array 0: unknown dtype 99"). */
int lm__nd_read_list(lm_cursor *c, lm_nd_list *l);
/* "(20, 1)", "float32", and "arg:fc0_bias (1, 1) float32, …" (d: the file's bytes) into dst. */
const char *lm__nd_shape_str(char *dst, size_t n, const lm_nd_array *a);
const char *lm__nd_dtype_name(int32_t dtype);
const char *lm__nd_summary(const lm_nd_list *l, const uint8_t *d, char *dst, size_t n);

#endif
