/*
 * sagemaker.c — finds the model bytes in what SageMaker leaves behind: a model.tar.gz (or a
 * .tar, or one compressed with bzip2/xz/zstd) holding the model as one member, usually
 * `xgboost-model`, or the raw model file itself.
 *
 * A file is read as an archive when it starts with a gzip, bzip2, xz or zstd magic or carries
 * "ustar" at offset 257; anything else is a raw model file. Inside an archive the member is, in
 * this order: the one the caller names, `xgboost-model`, or else the only regular file whose
 * base name does not start with '.' (the serving container ignores dotfiles too, which also
 * drops macOS "._*" companions). Names are compared after stripping a leading "./" (tar -C dir .
 * writes "./xgboost-model"). Several candidates or none is an error listing the members, so
 * the user can pick one (k-fold training leaves xgboost-model-0, -1, …).
 *
 * Members and raw files over 4 GiB are rejected; buffers grow as bytes actually arrive, so a
 * header claiming a huge size cannot make us allocate it up front.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "formats/import/import.h"
#include "runtime/error.h"

#define SM_MAX_BYTES ((uint64_t)4 << 30)  /* largest model accepted: 4 GiB */
#define SM_FIRST_CHUNK ((size_t)64 << 20) /* first allocation when the size is announced */
#define SM_LIST_MAX 10                    /* member names shown in a message */

/* Copy an untrusted name for a message: at most 60 bytes, control characters as '?'. */
static void sm_printable(char *dst, size_t n, const char *src) {
  size_t i = 0, lim = n - 1 < 60 ? n - 1 : 60;
  for (; src[i] && i < lim; i++) {
    unsigned char ch = (unsigned char)src[i];
    dst[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
  }
  dst[i] = '\0';
  if (src[i] && i >= 3) memcpy(dst + i - 3, "...", 4);
}

static const char *strip_dot_slash(const char *s) {
  while (s[0] == '.' && s[1] == '/') s++, s++;
  return s;
}

static int is_archive_magic(const uint8_t *h, size_t n) {
  static const uint8_t gz[] = {0x1f, 0x8b}, bz[] = {'B', 'Z', 'h'},
                       xz[] = {0xfd, '7', 'z', 'X', 'Z', 0x00}, zs[] = {0x28, 0xb5, 0x2f, 0xfd};
  if (n >= sizeof gz && memcmp(h, gz, sizeof gz) == 0) return 1;
  if (n >= sizeof bz && memcmp(h, bz, sizeof bz) == 0) return 1;
  if (n >= sizeof xz && memcmp(h, xz, sizeof xz) == 0) return 1;
  if (n >= sizeof zs && memcmp(h, zs, sizeof zs) == 0) return 1;
  return n >= 262 && memcmp(h + 257, "ustar", 5) == 0;
}

/* A growing byte buffer with one spare byte for a terminating NUL. */
typedef struct sm_buf {
  uint8_t *p;
  size_t n, cap;
} sm_buf;

/* Make room for at least one more byte (cap ≥ n + 1, plus the spare). */
static int buf_grow(sm_buf *b, size_t hint) {
  if (b->n < b->cap) return LM_OK;
  size_t cap = b->cap ? b->cap * 2 : (hint ? hint : 65536);
  if (cap > SM_MAX_BYTES + 1) cap = SM_MAX_BYTES + 1; /* one past the limit: detects overflow */
  if (cap <= b->n) return LM_ERANGE;
  uint8_t *np = realloc(b->p, cap + 1);
  if (!np) return LM_ENOMEM;
  b->p = np;
  b->cap = cap;
  return LM_OK;
}

static int buf_finish(sm_buf *b, uint8_t **data, size_t *len) {
  if (!b->p && !(b->p = malloc(1))) return LM_ENOMEM;
  b->p[b->n] = '\0';
  *data = b->p;
  *len = b->n;
  b->p = NULL;
  return LM_OK;
}

/* ---- raw files --------------------------------------------------------------------------- */

static int read_raw(int fd, const char *path, const uint8_t *head, size_t nhead, uint64_t size,
                    uint8_t **data, size_t *len) {
  sm_buf b = {0};
  size_t hint = size > SM_FIRST_CHUNK ? SM_FIRST_CHUNK : (size_t)size + 1;
  int rc = buf_grow(&b, hint > nhead ? hint : nhead + 1);
  if (rc == LM_OK) {
    memcpy(b.p, head, nhead);
    b.n = nhead;
  }
  while (rc == LM_OK) {
    if ((rc = buf_grow(&b, 0))) break;
    ssize_t r = read(fd, b.p + b.n, b.cap - b.n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = lm__fail(LM_EIO, "%s: read failed: %s", path, strerror(errno));
      break;
    }
    if (r == 0) break;
    b.n += (size_t)r;
    if (b.n > SM_MAX_BYTES) rc = LM_ERANGE;
  }
  if (rc == LM_OK) rc = buf_finish(&b, data, len);
  if (rc == LM_ERANGE) rc = lm__fail(LM_ERANGE, "%s: larger than 4 GiB: not supported", path);
  if (rc == LM_ENOMEM) rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
  free(b.p);
  return rc;
}

/* ---- archives ---------------------------------------------------------------------------- */

/* The regular members seen so far, for messages: the first SM_LIST_MAX names and a count. */
typedef struct sm_list {
  char names[SM_LIST_MAX][64];
  size_t count;
} sm_list;

static void list_add(sm_list *l, const char *name) {
  if (l->count < SM_LIST_MAX) sm_printable(l->names[l->count], sizeof l->names[0], name);
  l->count++;
}

/* "a, b, c" or "a, …, j and 5 more" or "none". */
static const char *list_str(const sm_list *l, char *dst, size_t n) {
  size_t k = 0, shown = l->count < SM_LIST_MAX ? l->count : SM_LIST_MAX;
  dst[0] = '\0';
  if (l->count == 0) return "none";
  for (size_t i = 0; i < shown && k < n; i++) {
    int w = snprintf(dst + k, n - k, "%s%s", i ? ", " : "", l->names[i]);
    if (w < 0) break;
    k += (size_t)w;
  }
  if (l->count > shown && k < n) snprintf(dst + k, n - k, " and %zu more", l->count - shown);
  return dst;
}

static int read_member(struct archive *a, struct archive_entry *e, const char *path,
                       const char *name, uint8_t **data, size_t *len) {
  char nm[64];
  sm_printable(nm, sizeof nm, name);
  size_t hint = 0;
  if (archive_entry_size_is_set(e)) {
    int64_t size = archive_entry_size(e);
    if (size < 0 || (uint64_t)size > SM_MAX_BYTES)
      return lm__fail(LM_ERANGE, "%s:%s: member of %lld bytes: larger than 4 GiB is not supported",
                      path, nm, (long long)size);
    hint = (uint64_t)size >= SM_FIRST_CHUNK ? SM_FIRST_CHUNK : (size_t)size + 1;
  }
  sm_buf b = {0};
  int rc = LM_OK;
  for (;;) {
    if ((rc = buf_grow(&b, hint))) break;
    la_ssize_t r = archive_read_data(a, b.p + b.n, b.cap - b.n);
    if (r < 0) {
      const char *why = archive_error_string(a);
      rc = lm__fail(LM_EFORMAT, "%s: corrupt archive: member %s: %s", path, nm,
                    why ? why : "read error");
      break;
    }
    if (r == 0) break;
    b.n += (size_t)r;
    if (b.n > SM_MAX_BYTES) {
      rc = LM_ERANGE;
      break;
    }
  }
  if (rc == LM_OK) rc = buf_finish(&b, data, len);
  if (rc == LM_ERANGE)
    rc = lm__fail(LM_ERANGE, "%s:%s: member larger than 4 GiB: not supported", path, nm);
  if (rc == LM_ENOMEM) rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
  free(b.p);
  return rc;
}

static int read_archive(const char *path, const char *member, uint8_t **data, size_t *len,
                        char **chosen) {
  char list[800];
  sm_list *names = calloc(1, sizeof *names);
  struct archive *a = archive_read_new();
  if (!names || !a) {
    free(names);
    if (a) archive_read_free(a);
    return lm__fail(LM_ENOMEM, "%s: out of memory", path);
  }
  /* Only the decompressors whose magic sent us here: no external filter program is ever
   * started on untrusted input (archive_read_support_filter_all would allow some). */
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_format_tar(a);

  uint8_t *cand = NULL; /* the first candidate's bytes, while it is the only one */
  size_t cand_len = 0;
  char *cand_name = NULL;
  size_t ncand = 0;
  int found = 0, rc = LM_OK;
  const char *want = member ? strip_dot_slash(member) : NULL;

  if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
    const char *why = archive_error_string(a);
    rc = lm__fail(LM_EFORMAT, "%s: cannot read as an archive: %s", path,
                  why ? why : "unknown error");
    goto out;
  }
  for (;;) {
    struct archive_entry *e;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      const char *why = archive_error_string(a);
      rc = lm__fail(LM_EFORMAT, "%s: corrupt archive: %s", path, why ? why : "unknown error");
      goto out;
    }
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    const char *raw = archive_entry_pathname(e);
    const char *name = strip_dot_slash(raw ? raw : "");
    if (!name[0]) continue;
    list_add(names, name);
    if (want) {
      if (strcmp(name, want) != 0) continue;
    } else if (strcmp(name, "xgboost-model") != 0) {
      const char *base = strrchr(name, '/');
      base = base ? base + 1 : name;
      if (base[0] == '.') continue;
      if (++ncand == 1) {
        /* Probably the model: keep its bytes in case no xgboost-model follows. */
        if ((rc = read_member(a, e, path, name, &cand, &cand_len))) goto out;
        if (!(cand_name = strdup(name))) {
          rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
          goto out;
        }
      } else {
        free(cand), cand = NULL;
      }
      continue;
    }
    /* The requested member, or xgboost-model. */
    if ((rc = read_member(a, e, path, name, data, len))) goto out;
    if (!(*chosen = strdup(name))) {
      rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
      goto out;
    }
    found = 1;
    break;
  }
  if (found) goto out;
  if (want) {
    char w[64];
    sm_printable(w, sizeof w, want);
    rc = lm__fail(LM_ENOMODEL, "%s: member \"%s\" not found in archive (members: %s)", path, w,
                  list_str(names, list, sizeof list));
  } else if (ncand == 1) {
    *data = cand, *len = cand_len, *chosen = cand_name;
    cand = NULL, cand_name = NULL;
  } else if (names->count == 0) {
    rc = lm__fail(LM_ENOMODEL, "%s: no model in archive (it holds no files)", path);
  } else {
    rc = lm__fail(LM_ENOMODEL, "%s: no model in archive (members: %s); choose one with --member",
                  path, list_str(names, list, sizeof list));
  }
out:
  if (rc) {
    free(*data), *data = NULL;
    free(*chosen), *chosen = NULL;
  }
  free(cand);
  free(cand_name);
  free(names);
  archive_read_free(a);
  return rc;
}

/* ---- entry point ------------------------------------------------------------------------- */

int lm__artifact_read(const char *path, const char *member, uint8_t **data, size_t *len,
                      char **display) {
  *data = NULL, *len = 0, *display = NULL;
  if (!path) return lm__fail(LM_EINVAL, "lm__artifact_read: NULL path");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lm__fail(LM_EIO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int rc = lm__fail(LM_EIO, "%s: cannot stat: %s", path, strerror(errno));
    close(fd);
    return rc;
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return lm__fail(LM_EIO, "%s: is a directory", path);
  }
  /* Enough of the head to see a compression magic or "ustar" at offset 257. */
  uint8_t head[512];
  size_t nhead = 0;
  while (nhead < sizeof head) {
    ssize_t r = read(fd, head + nhead, sizeof head - nhead);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int rc = lm__fail(LM_EIO, "%s: read failed: %s", path, strerror(errno));
      close(fd);
      return rc;
    }
    if (r == 0) break;
    nhead += (size_t)r;
  }
  int rc;
  if (!is_archive_magic(head, nhead)) {
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > SM_MAX_BYTES) {
      close(fd);
      return lm__fail(LM_ERANGE, "%s: %lld bytes: larger than 4 GiB is not supported", path,
                      (long long)st.st_size);
    }
    uint64_t size = S_ISREG(st.st_mode) && st.st_size > 0 ? (uint64_t)st.st_size : 0;
    rc = read_raw(fd, path, head, nhead, size, data, len);
    close(fd);
    if (rc) return rc;
    if (!(*display = strdup(path))) {
      free(*data), *data = NULL;
      return lm__fail(LM_ENOMEM, "%s: out of memory", path);
    }
    return LM_OK;
  }
  close(fd);
  if (member && !*strip_dot_slash(member))
    return lm__fail(LM_EINVAL, "%s: empty member name", path);
  char *chosen = NULL;
  if ((rc = read_archive(path, member, data, len, &chosen))) return rc;
  size_t n = strlen(path) + 1 + strlen(chosen) + 1;
  *display = malloc(n);
  if (!*display) {
    free(chosen);
    free(*data), *data = NULL;
    return lm__fail(LM_ENOMEM, "%s: out of memory", path);
  }
  snprintf(*display, n, "%s:%s", path, chosen);
  free(chosen);
  return LM_OK;
}
