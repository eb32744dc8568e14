/*
 * joblib.h — joblib's compressed files (formats/import/joblib.c): which compressor wrote them
 * and their decompressed bytes (a pickle stream with joblib's arrays, read by pickle.c).
 */
#ifndef LM_FORMATS_IMPORT_JOBLIB_H
#define LM_FORMATS_IMPORT_JOBLIB_H

#include <stddef.h>
#include <stdint.h>

/* "zlib", "gzip", "bz2", "xz", "lzma" or "lz4" when data starts with that compressor's magic
 * as joblib writes it; NULL otherwise. */
const char *lm__joblib_compressor(const uint8_t *data, size_t len);

/* The decompressed bytes (malloc'd, caller frees) of a compressed joblib file, at most 1 GiB. */
int lm__joblib_decompress(const uint8_t *data, size_t len, const char *name, uint8_t **out,
                          size_t *outn);

#endif
