/*
 * joblib.c — undoes the compression of joblib.dump(obj, path, compress=…): joblib writes the
 * pickle stream (with its arrays, pickle.c) through one of its compressors, each recognised by
 * its magic bytes as joblib's own loader does (joblib/compressor.py): zlib (0x78 and a valid
 * zlib header), gzip (1f 8b), bz2 ("BZh"), xz (fd "7zXZ" 00), lzma (the legacy .lzma header
 * 5d 00 00) and lz4 (the LZ4 frame magic 04 22 4d 18). Debian's zlib, libbz2, liblzma and liblz4
 * decode them; this file is part of the converter library only.
 *
 * The output grows as bytes are actually produced, up to LM_JOBLIB_MAX (1 GiB): a compression
 * bomb stops there with an error; the xz/lzma decoders may use at most 256 MiB (the dictionary
 * size is the stream header's choice: found by fuzzing, a 5-byte header asked for 2 GiB); trailing bytes after the compressed stream are an error too
 * (joblib writes exactly one stream). Errors name the input, the compressor and the input offset
 * the decoder had reached.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bzlib.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>

#include "formats/import/joblib.h"
#include "base/error.h"

#define LM_JOBLIB_MAX ((size_t)1 << 30)
#define LM_JOBLIB_LZMA_MEM ((uint64_t)256 << 20) /* xz/lzma decoder memory (dictionary) */

typedef struct {
  uint8_t *p;
  size_t n, cap;
} obuf;

/* Room for at least one more byte (doubling, capped). */
static int ob_room(obuf *o, const char *name, const char *kind) {
  if (o->n < o->cap) return LM_OK;
  if (o->cap >= LM_JOBLIB_MAX)
    return lm__fail(LM_ERANGE, "%s: %s stream decompresses to more than %zu bytes: not supported",
                    name, kind, LM_JOBLIB_MAX);
  size_t c = o->cap ? o->cap * 2 : 1 << 16;
  if (c > LM_JOBLIB_MAX) c = LM_JOBLIB_MAX;
  uint8_t *np = realloc(o->p, c);
  if (!np) return lm__fail(LM_ENOMEM, "%s: out of memory", name);
  o->p = np, o->cap = c;
  return LM_OK;
}

static int z_run(const uint8_t *d, size_t n, const char *name, int gz, obuf *o) {
  const char *kind = gz ? "gzip" : "zlib";
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, gz ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK)
    return lm__fail(LM_ENOMEM, "%s: out of memory", name);
  int rc = LM_OK, zr = Z_OK;
  size_t in = 0;
  while (zr != Z_STREAM_END) {
    if ((rc = ob_room(o, name, kind))) break;
    size_t chunk_in = n - in > (1u << 30) ? (1u << 30) : n - in;
    size_t chunk_out = o->cap - o->n > (1u << 30) ? (1u << 30) : o->cap - o->n;
    z.next_in = (Bytef *)(uintptr_t)(d + in), z.avail_in = (uInt)chunk_in;
    z.next_out = o->p + o->n, z.avail_out = (uInt)chunk_out;
    zr = inflate(&z, Z_NO_FLUSH);
    in += chunk_in - z.avail_in;
    o->n += chunk_out - z.avail_out;
    if (zr == Z_STREAM_END) break;
    if (zr == Z_BUF_ERROR && in == n) {
      rc = lm__fail(LM_EFORMAT, "%s: byte %zu: %s stream truncated", name, in, kind);
      break;
    }
    if (zr != Z_OK && zr != Z_BUF_ERROR) {
      rc = lm__fail(LM_EFORMAT, "%s: byte %zu: corrupt %s stream: %s", name, in, kind,
                    z.msg ? z.msg : "error");
      break;
    }
  }
  inflateEnd(&z);
  if (!rc && in != n)
    rc = lm__fail(LM_EFORMAT, "%s: byte %zu: %zu bytes after the end of the %s stream", name, in,
                  n - in, kind);
  return rc;
}

static int bz_run(const uint8_t *d, size_t n, const char *name, obuf *o) {
  bz_stream z;
  memset(&z, 0, sizeof z);
  if (BZ2_bzDecompressInit(&z, 0, 0) != BZ_OK) return lm__fail(LM_ENOMEM, "%s: out of memory", name);
  int rc = LM_OK, br = BZ_OK;
  size_t in = 0;
  while (br != BZ_STREAM_END) {
    if ((rc = ob_room(o, name, "bz2"))) break;
    size_t chunk_in = n - in > (1u << 30) ? (1u << 30) : n - in;
    size_t chunk_out = o->cap - o->n > (1u << 30) ? (1u << 30) : o->cap - o->n;
    z.next_in = (char *)(uintptr_t)(d + in), z.avail_in = (unsigned)chunk_in;
    z.next_out = (char *)(o->p + o->n), z.avail_out = (unsigned)chunk_out;
    br = BZ2_bzDecompress(&z);
    in += chunk_in - z.avail_in;
    o->n += chunk_out - z.avail_out;
    if (br == BZ_STREAM_END) break;
    if (br != BZ_OK) {
      rc = lm__fail(LM_EFORMAT, "%s: byte %zu: corrupt bz2 stream (error %d)", name, in, br);
      break;
    }
    if (in == n && z.avail_out) {
      rc = lm__fail(LM_EFORMAT, "%s: byte %zu: bz2 stream truncated", name, in);
      break;
    }
  }
  BZ2_bzDecompressEnd(&z);
  if (!rc && in != n)
    rc = lm__fail(LM_EFORMAT, "%s: byte %zu: %zu bytes after the end of the bz2 stream", name, in,
                  n - in);
  return rc;
}

static int xz_run(const uint8_t *d, size_t n, const char *name, int alone, obuf *o) {
  const char *kind = alone ? "lzma" : "xz";
  lzma_stream z = LZMA_STREAM_INIT;
  /* the header chooses the dictionary size: cap the decoder's memory (joblib's presets need a few
   * MiB, xz -9 64 MiB) so that a 5-byte header cannot make it allocate gigabytes */
  lzma_ret r = alone ? lzma_alone_decoder(&z, LM_JOBLIB_LZMA_MEM)
                     : lzma_stream_decoder(&z, LM_JOBLIB_LZMA_MEM, 0);
  if (r != LZMA_OK) return lm__fail(LM_ENOMEM, "%s: out of memory", name);
  int rc = LM_OK;
  z.next_in = d, z.avail_in = n;
  while (r != LZMA_STREAM_END) {
    if ((rc = ob_room(o, name, kind))) break;
    z.next_out = o->p + o->n, z.avail_out = o->cap - o->n;
    size_t before = z.avail_out;
    r = lzma_code(&z, LZMA_FINISH);
    o->n += before - z.avail_out;
    if (r == LZMA_STREAM_END) break;
    if (r == LZMA_BUF_ERROR || (r == LZMA_OK && z.avail_in == 0 && z.avail_out)) {
      rc = lm__fail(LM_EFORMAT, "%s: byte %zu: %s stream truncated", name, n - z.avail_in, kind);
      break;
    }
    if (r == LZMA_MEMLIMIT_ERROR) {
      rc = lm__fail(LM_EUNSUPPORTED, "%s: byte %zu: %s stream needs more than %llu MiB of "
                    "decoder memory (its dictionary size): not supported", name,
                    n - z.avail_in, kind, (unsigned long long)(LM_JOBLIB_LZMA_MEM >> 20));
      break;
    }
    if (r != LZMA_OK) {
      rc = lm__fail(LM_EFORMAT, "%s: byte %zu: corrupt %s stream (error %d)", name,
                    n - z.avail_in, kind, (int)r);
      break;
    }
  }
  size_t left = z.avail_in;
  lzma_end(&z);
  if (!rc && left)
    rc = lm__fail(LM_EFORMAT, "%s: byte %zu: %zu bytes after the end of the %s stream", name,
                  n - left, left, kind);
  return rc;
}

static int lz4_run(const uint8_t *d, size_t n, const char *name, obuf *o) {
  LZ4F_dctx *z = NULL;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&z, LZ4F_VERSION)))
    return lm__fail(LM_ENOMEM, "%s: out of memory", name);
  int rc = LM_OK;
  size_t in = 0, hint = 1;
  while (hint) {
    if ((rc = ob_room(o, name, "lz4"))) break;
    size_t si = n - in, so = o->cap - o->n;
    hint = LZ4F_decompress(z, o->p + o->n, &so, d + in, &si, NULL);
    in += si;
    o->n += so;
    if (LZ4F_isError(hint)) {
      rc = lm__fail(LM_EFORMAT, "%s: byte %zu: corrupt lz4 frame: %s", name, in,
                    LZ4F_getErrorName(hint));
      break;
    }
    if (hint && in == n && so == 0) {
      rc = lm__fail(LM_EFORMAT, "%s: byte %zu: lz4 frame truncated", name, in);
      break;
    }
  }
  LZ4F_freeDecompressionContext(z);
  if (!rc && in != n)
    rc = lm__fail(LM_EFORMAT, "%s: byte %zu: %zu bytes after the end of the lz4 frame", name, in,
                  n - in);
  return rc;
}

const char *lm__joblib_compressor(const uint8_t *d, size_t n) {
  if (n >= 2 && d[0] == 0x78 && ((unsigned)d[0] << 8 | d[1]) % 31 == 0) return "zlib";
  if (n >= 2 && d[0] == 0x1f && d[1] == 0x8b) return "gzip";
  if (n >= 3 && memcmp(d, "BZh", 3) == 0) return "bz2";
  if (n >= 6 && memcmp(d, "\xfd" "7zXZ\0", 6) == 0) return "xz";
  if (n >= 3 && memcmp(d, "\x5d\0\0", 3) == 0) return "lzma";
  if (n >= 4 && memcmp(d, "\x04\x22\x4d\x18", 4) == 0) return "lz4";
  return NULL;
}

int lm__joblib_decompress(const uint8_t *d, size_t n, const char *name, uint8_t **out,
                          size_t *outn) {
  *out = NULL, *outn = 0;
  const char *kind = lm__joblib_compressor(d, n);
  if (!kind) return lm__fail(LM_EFORMAT, "%s: not a compressed joblib file", name);
  obuf o = {0};
  int rc;
  if (!strcmp(kind, "zlib") || !strcmp(kind, "gzip"))
    rc = z_run(d, n, name, kind[0] == 'g', &o);
  else if (!strcmp(kind, "bz2"))
    rc = bz_run(d, n, name, &o);
  else if (!strcmp(kind, "lz4"))
    rc = lz4_run(d, n, name, &o);
  else
    rc = xz_run(d, n, name, !strcmp(kind, "lzma"), &o);
  if (rc) {
    free(o.p);
    return rc;
  }
  *out = o.p ? o.p : malloc(1);
  *outn = o.n;
  if (!*out) return lm__fail(LM_ENOMEM, "%s: out of memory", name);
  return LM_OK;
}
