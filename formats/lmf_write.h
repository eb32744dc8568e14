/*
 * lmf_write.h — the .lm writer (formats/lmf_write.c): IR in, file image out. Part of the
 * converter library (the runtime reads files, it never writes them), so it is the only formats
 * header that knows the importers' IR.
 */
#ifndef LM_FORMATS_LMF_WRITE_H
#define LM_FORMATS_LMF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "formats/ir.h"
#include "formats/lmf.h"

/* Serialise an IR model into a malloc'd buffer (*out, *out_len). converter: e.g.
 * "lmconvert 0.1.0". Validates what the format requires (errors name the tree and node). */
int lm__lmf_write(const lm_ir_model *m, const char *converter, uint8_t **out, size_t *out_len);
/* Recompute the section and table checksums of a file image in place (used by the writer and
 * by tests that build structurally broken files with valid checksums). */
void lm__lmf_seal(uint8_t *buf, size_t len);
/* The same image, built in bounded memory for lm_convert: each tree's IR nodes are freed once
 * the tree is written (m->trees[t].nodes = NULL; lm_ir_free still releases the rest), and the
 * image is a mapping resident only as it is written, released with lm__lmf_image_free. */
int lm__lmf_write_consume(lm_ir_model *m, const char *converter, uint8_t **out, size_t *out_len);
void lm__lmf_image_free(uint8_t *img, size_t len);
/* The writer as a sink of trees (formats/ir.h, lm_ir_sink) for lm__import_any_sink: each tree
 * handed over is checked, laid out and its records kept (about 28 bytes a node where the IR
 * takes 56), its IR nodes freed; lm__lmf_write_sink then builds the image of m as
 * lm__lmf_write_consume does, byte for byte the same, from those records (or from m's own trees
 * when the sink does not hold them: another format, or a model read without it). The records go
 * as the image is built. NULL on out of memory. */
lm_ir_sink *lm__lmf_sink_new(void);
void lm__lmf_sink_free(lm_ir_sink *sink);
int lm__lmf_write_sink(lm_ir_model *m, lm_ir_sink *sink, const char *converter, uint8_t **out,
                       size_t *out_len);

#endif
