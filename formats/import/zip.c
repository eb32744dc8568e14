/*
 * zip.c — reads the members of a ZIP archive held in memory, for importers of ZIP-packaged
 * models (linear_learner.c). Built on libarchive, which the converter already links for
 * model.tar.gz (sagemaker.c): archive_read_open_memory reads a ZIP straight from the buffer,
 * from its central directory, with stored and deflated members and their CRCs checked, so no
 * ZIP parsing of our own is needed. Only the ZIP reader is enabled (no filters), so nothing
 * else runs on the untrusted bytes.
 *
 * What libarchive does not do for us: with a memory source it reads the central directory
 * when there is one, and otherwise falls back to the local headers (streaming mode), reading
 * the members it finds in a truncated archive without noticing. So the end-of-central-directory
 * record is required first. Declared member sizes are untrusted: buffers grow as data arrives,
 * up to the caller's cap.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "formats/import/zip.h"
#include "base/cursor.h"
#include "base/error.h"

int lm__zip_magic(const uint8_t *data, size_t len) {
  return len >= 4 && (memcmp(data, "PK\3\4", 4) == 0 || memcmp(data, "PK\5\6", 4) == 0);
}

/* A complete end-of-central-directory record ("PK\5\6", 22 bytes + its comment) in the last
 * 64 KiB + 22 bytes. */
static int has_eocd(const uint8_t *d, size_t len) {
  if (len < 22) return 0;
  size_t lo = len > 22 + 65535 ? len - 22 - 65535 : 0;
  for (size_t p = len - 22 + 1; p-- > lo;)
    if (d[p] == 'P' && d[p + 1] == 'K' && d[p + 2] == 5 && d[p + 3] == 6 &&
        p + 22 + ((size_t)d[p + 20] | (size_t)d[p + 21] << 8) <= len)
      return 1;
  return 0;
}

static const char *why(struct archive *a) {
  return archive_error_string(a) ? archive_error_string(a) : "unknown error";
}

static int read_entry_data(const char *name, size_t input_len, struct archive *a,
                           struct archive_entry *e, uint64_t cap, lm_zip_member *m) {
  char p[64];
  lm__printable(p, sizeof p, m->name, strlen(m->name));
  if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > cap)
    return lm__fail(LM_ERANGE, "%s: ZIP member '%s' is %lld bytes (limit %" PRIu64 ")", name, p,
                    (long long)archive_entry_size(e), cap);
  /* Allocate for at most what the input itself could hold (stored members) and grow as data
   * actually arrives. */
  size_t have = 0, alloc = 4096;
  if (archive_entry_size_is_set(e) && archive_entry_size(e) >= 0 &&
      (uint64_t)archive_entry_size(e) < input_len)
    alloc = (size_t)archive_entry_size(e) + 1;
  uint8_t *buf = malloc(alloc);
  int rc = LM_OK;
  if (!buf) return lm__fail(LM_ENOMEM, "%s: out of memory reading ZIP member '%s'", name, p);
  for (;;) {
    if (have == alloc) {
      size_t na = alloc * 2;
      if (na > cap + 1) na = (size_t)cap + 1;
      if (na <= alloc) {
        rc = lm__fail(LM_ERANGE, "%s: ZIP member '%s' exceeds %" PRIu64 " bytes", name, p, cap);
        break;
      }
      uint8_t *nb = realloc(buf, na);
      if (!nb) {
        rc = lm__fail(LM_ENOMEM, "%s: out of memory reading ZIP member '%s'", name, p);
        break;
      }
      buf = nb, alloc = na;
    }
    la_ssize_t r = archive_read_data(a, buf + have, alloc - have);
    if (r < 0) {
      rc = lm__fail(LM_EFORMAT, "%s: ZIP member '%s': cannot read its data at byte %zu: %s", name,
                    p, have, why(a));
      break;
    }
    if (r == 0) break;
    have += (size_t)r;
    if (have > cap) {
      rc = lm__fail(LM_ERANGE, "%s: ZIP member '%s' exceeds %" PRIu64 " bytes", name, p, cap);
      break;
    }
  }
  if (rc) {
    free(buf);
    return rc;
  }
  m->data = buf;
  m->len = have;
  return LM_OK;
}

int lm__zip_read(const uint8_t *data, size_t len, const char *name, size_t max_members,
                 const char *limit_note, lm_zip_want_fn want, lm_zip *z) {
  z->mem = NULL;
  z->n = 0;
  if (!has_eocd(data, len))
    return lm__fail(LM_EFORMAT,
                    "%s: truncated ZIP archive: no end-of-central-directory record (%zu bytes)",
                    name, len);
  z->mem = calloc(max_members ? max_members : 1, sizeof *z->mem);
  struct archive *a = z->mem ? archive_read_new() : NULL;
  if (!a) return lm__fail(LM_ENOMEM, "%s: out of memory", name);
  archive_read_support_format_zip(a);
  int rc = LM_OK;
  if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
    rc = lm__fail(LM_EFORMAT, "%s: not a readable ZIP archive: %s", name, why(a));
    goto out;
  }
  for (size_t idx = 0;; idx++) {
    struct archive_entry *e = NULL;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      rc = lm__fail(LM_EFORMAT, "%s: ZIP archive: cannot read entry %zu: %s", name, idx, why(a));
      goto out;
    }
    if (archive_entry_filetype(e) != AE_IFREG) continue; /* directories */
    const char *nm = archive_entry_pathname(e);
    if (!nm) nm = "";
    if (z->n == max_members) {
      rc = lm__fail(LM_EFORMAT, "%s: ZIP archive has more than %zu members (%s)", name, max_members,
                    limit_note);
      goto out;
    }
    if (lm__zip_find(z, nm)) {
      char p[64];
      rc = lm__fail(LM_EFORMAT, "%s: ZIP member '%s' appears twice", name,
                    lm__printable(p, sizeof p, nm, strlen(nm)));
      goto out;
    }
    lm_zip_member *m = &z->mem[z->n];
    if (!(m->name = strdup(nm))) {
      rc = lm__fail(LM_ENOMEM, "%s: out of memory", name);
      goto out;
    }
    z->n++;
    uint64_t cap = want(nm);
    if (cap && (rc = read_entry_data(name, len, a, e, cap, m))) goto out;
  }
out:
  archive_read_free(a);
  return rc;
}

const lm_zip_member *lm__zip_find(const lm_zip *z, const char *member) {
  for (size_t i = 0; i < z->n; i++)
    if (!strcmp(z->mem[i].name, member)) return &z->mem[i];
  return NULL;
}

const char *lm__zip_list(const lm_zip *z, char *dst, size_t n) {
  size_t k = 0;
  dst[0] = '\0';
  if (z->n == 0) {
    snprintf(dst, n, "none");
    return dst;
  }
  for (size_t i = 0; i < z->n && k + 1 < n; i++) {
    char p[64];
    const char *nm = z->mem[i].name;
    int w =
        snprintf(dst + k, n - k, "%s%s", i ? ", " : "", lm__printable(p, sizeof p, nm, strlen(nm)));
    if (w < 0 || (size_t)w >= n - k) {
      if (n > 4) memcpy(dst + n - 4, "...", 4);
      break;
    }
    k += (size_t)w;
  }
  return dst;
}

void lm__zip_free(lm_zip *z) {
  for (size_t i = 0; i < z->n; i++) {
    free(z->mem[i].name);
    free(z->mem[i].data);
  }
  free(z->mem);
  z->mem = NULL;
  z->n = 0;
}
