/*
 * sagemaker.c — finds the model bytes in what SageMaker leaves behind: a model.tar.gz (or a
 * .tar, or one compressed with bzip2/xz/zstd) holding the model as one member, usually
 * `xgboost-model`; a directory (what the serving container sees once it has extracted the
 * archive into /opt/ml/model); or the raw model file itself.
 *
 * A file is read as an archive when it starts with a gzip, bzip2, xz or zstd magic or carries
 * "ustar" at offset 257; anything else is a raw model file. A compressed file with no tar inside
 * (joblib.dump(…, compress='gzip' | 'bz2' | 'xz')) is read raw too: the pickle importer
 * decompresses it (joblib.c). Inside an archive the member is, in
 * this order: the one the caller names, `xgboost-model`, or else the only regular file whose
 * base name does not start with '.' (the serving container ignores dotfiles too, which also
 * drops macOS "._*" companions). Names are compared after stripping a leading "./" (tar -C dir .
 * writes "./xgboost-model"). Several candidates or none is an error listing the members, so
 * the user can pick one.
 *
 * A directory is read as the serving container reads /opt/ml/model (input-formats.md §1,
 * serve_utils.py): its regular files (symbolic links followed) whose names do not start with
 * '.', in sorted order, the first one — or the one the caller names.
 *
 * k-fold training (input-formats.md §1) leaves xgboost-model-0, xgboost-model-1, …: SageMaker's
 * endpoint loads every fold and averages their predictions, which one .lm model cannot hold.
 * Such archives and directories are an error listing the members, with the advice to pick one
 * fold with --member.
 *
 * A raw file or the chosen member over the limit (1 GiB, LM_DEFAULT_MAX_INPUT in import.h, where
 * the figure is justified; lm_convert_options.max_input_bytes, lmconvert --max-input-bytes) is
 * rejected, and so is an archive whose members' declared sizes add up to more than twice the
 * limit, at the header that crosses it, before its bytes are decompressed (a .tar.bz2 of a few
 * kilobytes can expand to terabytes). Buffers grow as bytes actually arrive, so a header claiming
 * a huge size cannot make us allocate it up front; and once the first 64 KiB of the model's bytes
 * have arrived, lm__sniff_head (sniff.c) decides whether they can start a model at all, so an
 * input of a gigabyte of zeros (or /dev/zero) is refused then, not after it was read whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <dirent.h>

#include <archive.h>
#include <archive_entry.h>

#include "formats/import/import.h"
#include "base/cursor.h"
#include "base/error.h"

#define SM_FIRST_CHUNK ((size_t)64 << 20) /* first allocation when the size is announced */
#define SM_LIST_MAX 10                    /* member names shown in a message */

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

/* A growing byte buffer with one spare byte for a terminating NUL, of at most max bytes. */
typedef struct sm_buf {
  uint8_t *p;
  size_t n, cap;
  uint64_t max;
  int head_checked;
} sm_buf;

/* Make room for at least one more byte (cap ≥ n + 1, plus the spare). */
static int buf_grow(sm_buf *b, size_t hint) {
  if (b->n < b->cap) return LM_OK;
  size_t cap = b->cap ? b->cap * 2 : (hint ? hint : 65536);
  if (cap > b->max + 1) cap = (size_t)b->max + 1; /* one past the limit: detects overflow */
  if (cap <= b->n) return LM_ERANGE;
  uint8_t *np = realloc(b->p, cap + 1);
  if (!np) return LM_ENOMEM;
  b->p = np;
  b->cap = cap;
  return LM_OK;
}

/* Once LM_SNIFF_HEAD bytes are in (not at the end: a whole short input is the importer's to
 * judge), can they start a model? */
static int buf_head_check(sm_buf *b, const char *name) {
  if (b->head_checked || b->n < LM_SNIFF_HEAD) return LM_OK;
  b->head_checked = 1;
  return lm__sniff_head(b->p, b->n, name);
}

/* Bytes to ask for next: up to the head's end until it is checked, so that no more than
 * LM_SNIFF_HEAD bytes are read (or decompressed) before the check. */
static size_t buf_room(const sm_buf *b) {
  size_t room = b->cap - b->n;
  if (!b->head_checked && b->n < LM_SNIFF_HEAD && room > LM_SNIFF_HEAD - b->n)
    room = LM_SNIFF_HEAD - b->n;
  return room;
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
                    uint64_t max, uint8_t **data, size_t *len) {
  sm_buf b = {.max = max};
  size_t hint = size > SM_FIRST_CHUNK ? SM_FIRST_CHUNK : (size_t)size + 1;
  int rc = buf_grow(&b, hint > nhead ? hint : nhead + 1);
  if (rc == LM_OK) {
    if (nhead) memcpy(b.p, head, nhead);
    b.n = nhead;
  }
  while (rc == LM_OK) {
    if ((rc = buf_grow(&b, 0))) break;
    ssize_t r = read(fd, b.p + b.n, buf_room(&b));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = lm__fail(LM_EIO, "%s: read failed: %s", path, strerror(errno));
      break;
    }
    if (r == 0) break;
    b.n += (size_t)r;
    if (b.n > max) rc = LM_ERANGE;
    else rc = buf_head_check(&b, path);
  }
  if (rc == LM_OK) rc = buf_finish(&b, data, len);
  if (rc == LM_ERANGE)
    rc = lm__fail(LM_ERANGE, "%s: larger than the limit of %llu bytes (--max-input-bytes)", path,
                  (unsigned long long)max);
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
  if (l->count < SM_LIST_MAX) lm__printable_utf8(l->names[l->count], sizeof l->names[0], name);
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

/* "xgboost-model-<digits>": one fold of a k-fold training job. */
static int is_fold(const char *name) {
  static const char pre[] = "xgboost-model-";
  const char *base = strrchr(name, '/');
  base = base ? base + 1 : name;
  if (strncmp(base, pre, sizeof pre - 1) != 0) return 0;
  const char *d = base + sizeof pre - 1;
  if (!*d) return 0;
  for (; *d; d++)
    if (*d < '0' || *d > '9') return 0;
  return 1;
}

#define KFOLD_NOTE                                                                                 \
  " (k-fold model: SageMaker's endpoint averages the folds' predictions, which one .lm model "     \
  "cannot hold; convert one fold)"

/* ---- large members in bounded memory -------------------------------------------------------
 *
 * For lm__import_any (lm__artifact_read_spill), a member of SM_SPILL bytes or more is
 * decompressed into an unlinked temporary file in $TMPDIR (else /tmp; not a tmpfs, and with room
 * for it) through a 1 MiB buffer and then mapped: the streaming readers (xgboost_stream.c, xgboost_ubj.c) drop its pages behind
 * them, so a large model.tar.gz costs its decompressed size in disk, not in memory. The mapping
 * has the same spare NUL byte after the data as a buffer. When no temporary file can be made, the
 * member is read into memory as before. Mappings are tracked here so that sm_free releases
 * either kind. */
#define SM_SPILL ((uint64_t)16 << 20)
#define SM_STAGE ((size_t)1 << 20)

static _Thread_local int sm_spill_ok;
static _Thread_local struct {
  uint8_t *p;
  size_t len;
} sm_maps[2]; /* at most a candidate and the chosen member at once */

static void sm_free(uint8_t *p) {
  for (int i = 0; i < 2; i++)
    if (p && sm_maps[i].p == p) {
      munmap(p, sm_maps[i].len + 1);
      sm_maps[i].p = NULL;
      return;
    }
  free(p);
}

static int sm_write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w, n -= (size_t)w;
  }
  return 0;
}

/* The member's bytes into a temporary file, then mapped. 1: no temporary file could be made
 * (nothing read yet: read it into memory); else LM_OK or an error as read_member's. */
static int read_member_spill(struct archive *a, const char *path, const char *nm,
                             const char *disp, uint64_t size, uint64_t max, uint8_t **data,
                             size_t *len) {
  int slot = sm_maps[0].p ? (sm_maps[1].p ? -1 : 1) : 0;
  const char *td = getenv("TMPDIR");
  int fd = slot < 0 ? -1 : open(td && *td ? td : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return 1;
  /* Not on a memory file system (a tmpfs file is memory too: Kubernetes' emptyDir with medium
   * Memory counts toward the container's limit), and only with room for the member. */
  struct statfs fs;
  if (fstatfs(fd, &fs) != 0 || fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC ||
      (uint64_t)fs.f_bavail * (uint64_t)fs.f_bsize < size + SM_SPILL) {
    close(fd);
    return 1;
  }
  uint8_t *buf = malloc(SM_STAGE);
  if (!buf) {
    close(fd);
    return 1;
  }
  size_t fill = 0;
  uint64_t total = 0;
  int rc = LM_OK, checked = 0;
  for (;;) {
    /* no more than LM_SNIFF_HEAD bytes decompressed before the early check (as buf_room) */
    size_t room = SM_STAGE - fill;
    if (!checked && room > LM_SNIFF_HEAD - total) room = LM_SNIFF_HEAD - (size_t)total;
    la_ssize_t r = archive_read_data(a, buf + fill, room);
    if (r < 0) {
      const char *why = archive_error_string(a);
      rc = lm__fail(LM_EFORMAT, "%s: corrupt archive: member %s: %s", path, nm,
                    why ? why : "read error");
      break;
    }
    fill += (size_t)r;
    total += (uint64_t)r;
    if (total > max) {
      rc = lm__fail(LM_ERANGE, "%s: member larger than the limit of %llu bytes "
                    "(--max-input-bytes)", disp, (unsigned long long)max);
      break;
    }
    /* the early check on the first LM_SNIFF_HEAD bytes, still in the buffer (SM_STAGE > it) */
    if (!checked && total >= LM_SNIFF_HEAD) {
      checked = 1;
      if ((rc = lm__sniff_head(buf, LM_SNIFF_HEAD, disp))) break;
    }
    if (r == 0 || fill == SM_STAGE) {
      if (r == 0) buf[fill++] = '\0'; /* the spare NUL byte */
      if (sm_write_all(fd, buf, fill)) {
        rc = lm__fail(LM_EIO, "%s: cannot write a temporary copy of member %s: %s", path, nm,
                      strerror(errno));
        break;
      }
      fill = 0;
    }
    if (r == 0) break;
  }
  free(buf);
  if (rc == LM_OK) {
    void *m = mmap(NULL, (size_t)total + 1, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      rc = lm__fail(LM_ENOMEM, "%s: cannot map the temporary copy of member %s: %s", path, nm,
                    strerror(errno));
    } else {
      sm_maps[slot].p = m;
      sm_maps[slot].len = (size_t)total;
      *data = m;
      *len = (size_t)total;
    }
  }
  close(fd);
  return rc;
}

static int read_member(struct archive *a, struct archive_entry *e, const char *path,
                       const char *name, uint64_t max, uint8_t **data, size_t *len) {
  char nm[64], disp[800];
  lm__printable_utf8(nm, sizeof nm, name);
  snprintf(disp, sizeof disp, "%s:%s", path, nm);
  size_t hint = 0;
  if (archive_entry_size_is_set(e)) {
    int64_t size = archive_entry_size(e);
    if (size < 0 || (uint64_t)size > max)
      return lm__fail(LM_ERANGE, "%s: member of %lld bytes: larger than the limit of %llu bytes "
                      "(--max-input-bytes)", disp, (long long)size, (unsigned long long)max);
    hint = (uint64_t)size >= SM_FIRST_CHUNK ? SM_FIRST_CHUNK : (size_t)size + 1;
    if (sm_spill_ok && (uint64_t)size >= SM_SPILL) {
      int r = read_member_spill(a, path, nm, disp, (uint64_t)size, max, data, len);
      if (r != 1) return r;
    }
  }
  sm_buf b = {.max = max};
  int rc = LM_OK;
  for (;;) {
    if ((rc = buf_grow(&b, hint))) break;
    la_ssize_t r = archive_read_data(a, b.p + b.n, buf_room(&b));
    if (r < 0) {
      const char *why = archive_error_string(a);
      rc = lm__fail(LM_EFORMAT, "%s: corrupt archive: member %s: %s", path, nm,
                    why ? why : "read error");
      break;
    }
    if (r == 0) break;
    b.n += (size_t)r;
    if (b.n > max) {
      rc = LM_ERANGE;
      break;
    }
    if ((rc = buf_head_check(&b, disp))) break;
  }
  if (rc == LM_OK) rc = buf_finish(&b, data, len);
  if (rc == LM_ERANGE)
    rc = lm__fail(LM_ERANGE, "%s: member larger than the limit of %llu bytes (--max-input-bytes)",
                  disp, (unsigned long long)max);
  if (rc == LM_ENOMEM) rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
  free(b.p);
  return rc;
}

static int read_archive(const char *path, const char *member, uint64_t max, uint8_t **data,
                        size_t *len, char **chosen, int *not_tar) {
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
  size_t ncand = 0, nfolds = 0;
  int found = 0, rc = LM_OK, headers = 0;
  uint64_t declared = 0; /* the members' sizes so far, as their headers declare them */
  *not_tar = 0;
  const char *want = member ? strip_dot_slash(member) : NULL;

  if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
    const char *why = archive_error_string(a);
    /* decompressed fine, but not a tar (libarchive's ARCHIVE_ERRNO_FILE_FORMAT, EILSEQ on
     * Linux; a corrupt stream is ARCHIVE_ERRNO_MISC): e.g. a compressed joblib file */
    *not_tar = archive_errno(a) == EILSEQ;
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
      /* no tar header at all (e.g. a compressed joblib file): the caller reads it raw */
      *not_tar = headers == 0 && archive_errno(a) == EILSEQ;
      rc = lm__fail(LM_EFORMAT, "%s: corrupt archive: %s", path, why ? why : "unknown error");
      goto out;
    }
    headers++;
    /* Reading on decompresses this member's bytes (to skip or to keep them): refuse here when
     * the archive would expand past twice the model limit. */
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0)
      declared += (uint64_t)archive_entry_size(e);
    if (declared > 2 * max) {
      char w[64];
      lm__printable_utf8(w, sizeof w, archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
      rc = lm__fail(LM_ERANGE, "%s: the archive's members add up to more than %llu bytes at member "
                    "\"%s\" (twice the model limit, --max-input-bytes): refused before "
                    "decompressing them", path, (unsigned long long)(2 * max), w);
      goto out;
    }
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    const char *raw = archive_entry_pathname(e);
    const char *name = strip_dot_slash(raw ? raw : "");
    if (!name[0]) continue;
    if (found) {
      /* A second copy of the member taken: extracting the archive (what SageMaker's container
       * does) keeps the last copy, reading it keeps the first; they may differ. */
      if (strcmp(name, *chosen) == 0) {
        char w[64];
        lm__printable_utf8(w, sizeof w, name);
        rc = lm__fail(LM_EFORMAT,
                      "%s: member \"%s\" appears more than once in the archive (extracting it "
                      "would keep the last copy): refusing to guess which one is the model",
                      path, w);
        goto out;
      }
      continue;
    }
    list_add(names, name);
    nfolds += is_fold(name);
    if (want) {
      if (strcmp(name, want) != 0) continue;
    } else if (strcmp(name, "xgboost-model") != 0) {
      const char *base = strrchr(name, '/');
      base = base ? base + 1 : name;
      if (base[0] == '.') continue;
      if (++ncand == 1) {
        /* Probably the model: keep its bytes in case no xgboost-model follows. */
        if ((rc = read_member(a, e, path, name, max, &cand, &cand_len))) goto out;
        if (!(cand_name = strdup(name))) {
          rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
          goto out;
        }
      } else {
        sm_free(cand), cand = NULL;
      }
      continue;
    }
    /* The requested member, or xgboost-model. */
    if ((rc = read_member(a, e, path, name, max, data, len))) goto out;
    if (!(*chosen = strdup(name))) {
      rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
      goto out;
    }
    found = 1; /* read on: a later copy of the same name is refused */
  }
  if (found) goto out;
  if (want) {
    char w[64];
    lm__printable_utf8(w, sizeof w, want);
    rc = lm__fail(LM_ENOMODEL, "%s: member \"%s\" not found in archive (members: %s)", path, w,
                  list_str(names, list, sizeof list));
  } else if (ncand == 1) {
    *data = cand, *len = cand_len, *chosen = cand_name;
    cand = NULL, cand_name = NULL;
  } else if (names->count == 0) {
    rc = lm__fail(LM_ENOMODEL, "%s: no model in archive (it holds no files)", path);
  } else {
    rc = lm__fail(LM_ENOMODEL, "%s: no model in archive (members: %s); choose one with --member%s",
                  path, list_str(names, list, sizeof list), nfolds >= 2 ? KFOLD_NOTE : "");
  }
out:
  if (rc) {
    sm_free(*data), *data = NULL;
    free(*chosen), *chosen = NULL;
  }
  sm_free(cand);
  free(cand_name);
  free(names);
  archive_read_free(a);
  return rc;
}

/* ---- directories ------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* path/name, malloc'd ("dir/" + name does not double the slash). */
static char *join(const char *dir, const char *name) {
  size_t dl = strlen(dir), nl = strlen(name);
  int slash = dl > 0 && dir[dl - 1] == '/';
  char *p = malloc(dl + nl + 2);
  if (p) snprintf(p, dl + nl + 2, "%s%s%s", dir, slash ? "" : "/", name);
  return p;
}

/* Open path for reading and fstat it into st: the descriptor, or a negative LM_EIO naming
 * path. */
static int open_stat(const char *path, struct stat *st) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lm__fail(LM_EIO, "%s: cannot open: %s", path, strerror(errno));
  if (fstat(fd, st) != 0) {
    int rc = lm__fail(LM_EIO, "%s: cannot stat: %s", path, strerror(errno));
    close(fd);
    return rc;
  }
  return fd;
}

/* Read the file fd (path, of status st) that is no archive, whole: a regular file larger than
 * max is refused (LM_ERANGE) before reading; head[0..nhead) were read from it already. Closes
 * fd. */
static int read_whole(int fd, const char *path, const struct stat *st, const uint8_t *head,
                      size_t nhead, uint64_t max, uint8_t **data, size_t *len) {
  if (S_ISREG(st->st_mode) && (uint64_t)st->st_size > max) {
    close(fd);
    return lm__fail(LM_ERANGE, "%s: %lld bytes: larger than the limit of %llu bytes "
                    "(--max-input-bytes)", path, (long long)st->st_size, (unsigned long long)max);
  }
  uint64_t size = S_ISREG(st->st_mode) && st->st_size > 0 ? (uint64_t)st->st_size : 0;
  int rc = read_raw(fd, path, head, nhead, size, max, data, len);
  close(fd);
  return rc;
}

/* Read the regular file at fpath (display name fpath). */
static int read_plain(const char *fpath, uint64_t max, uint8_t **data, size_t *len) {
  struct stat st;
  int fd = open_stat(fpath, &st);
  if (fd < 0) return fd;
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return lm__fail(LM_EIO, "%s: is a directory", fpath);
  }
  return read_whole(fd, fpath, &st, NULL, 0, max, data, len);
}

static int read_directory(const char *path, const char *member, uint64_t max, uint8_t **data,
                          size_t *len,
                          char **display) {
  char list[800];
  if (member) {
    const char *m = strip_dot_slash(member);
    if (!*m) return lm__fail(LM_EINVAL, "%s: empty member name", path);
    char *fp = join(path, m);
    if (!fp) return lm__fail(LM_ENOMEM, "%s: out of memory", path);
    struct stat st;
    if (stat(fp, &st) != 0) {
      char w[64];
      lm__printable_utf8(w, sizeof w, m);
      int rc = lm__fail(LM_ENOMODEL, "%s: member \"%s\" not found in directory: %s", path, w,
                        strerror(errno));
      free(fp);
      return rc;
    }
    int rc = read_plain(fp, max, data, len);
    if (rc) {
      free(fp);
      return rc;
    }
    *display = fp;
    return LM_OK;
  }
  DIR *d = opendir(path);
  if (!d) return lm__fail(LM_EIO, "%s: cannot open directory: %s", path, strerror(errno));
  char **files = NULL, **dots = NULL;
  size_t nfiles = 0, ndots = 0, capf = 0, capd = 0, nfolds = 0;
  int rc = LM_OK;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char *fp = join(path, e->d_name);
    struct stat st;
    if (!fp) {
      rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
      break;
    }
    int regular = stat(fp, &st) == 0 && S_ISREG(st.st_mode);
    free(fp);
    if (!regular) continue;
    int dot = e->d_name[0] == '.';
    char ***arr = dot ? &dots : &files;
    size_t *n = dot ? &ndots : &nfiles, *cap = dot ? &capd : &capf;
    if (*n == *cap) {
      size_t nc = *cap ? *cap * 2 : 16;
      char **na = realloc(*arr, nc * sizeof *na);
      if (!na) {
        rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
        break;
      }
      *arr = na, *cap = nc;
    }
    if (!((*arr)[*n] = strdup(e->d_name))) {
      rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
      break;
    }
    (*n)++;
    nfolds += !dot && is_fold(e->d_name);
  }
  closedir(d);
  if (rc == LM_OK) {
    if (files) qsort(files, nfiles, sizeof *files, cmp_str);
    if (dots) qsort(dots, ndots, sizeof *dots, cmp_str);
    sm_list *names = calloc(1, sizeof *names);
    if (!names) {
      rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
    } else {
      for (size_t i = 0; i < nfiles; i++) list_add(names, files[i]);
      if (nfiles == 0)
        for (size_t i = 0; i < ndots; i++) list_add(names, dots[i]);
      if (nfiles == 0 && ndots == 0) {
        rc = lm__fail(LM_ENOMODEL, "%s: no model in directory (it holds no files)", path);
      } else if (nfiles == 0) {
        rc = lm__fail(LM_ENOMODEL,
                      "%s: no model in directory (members: %s); choose one with --member", path,
                      list_str(names, list, sizeof list));
      } else if (nfolds >= 2) {
        rc =
            lm__fail(LM_ENOMODEL,
                     "%s: no model in directory (members: %s); choose one with --member" KFOLD_NOTE,
                     path, list_str(names, list, sizeof list));
      } else {
        char *fp = join(path, files[0]); /* the first in sorted order, as the container */
        if (!fp)
          rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
        else if ((rc = read_plain(fp, max, data, len)))
          free(fp);
        else
          *display = fp;
      }
      free(names);
    }
  }
  for (size_t i = 0; i < nfiles; i++) free(files[i]);
  for (size_t i = 0; i < ndots; i++) free(dots[i]);
  free(files);
  free(dots);
  return rc;
}

/* ---- entry point ------------------------------------------------------------------------- */

int lm__artifact_read(const char *path, const char *member, uint8_t **data, size_t *len,
                      char **display) {
  return lm__artifact_read_ex(path, member, 0, data, len, display);
}

int lm__artifact_read_ex(const char *path, const char *member, uint64_t max, uint8_t **data,
                         size_t *len, char **display) {
  *data = NULL, *len = 0, *display = NULL;
  if (!max) max = LM_DEFAULT_MAX_INPUT;
  if (!path) return lm__fail(LM_EINVAL, "lm__artifact_read: NULL path");
  struct stat st;
  int fd = open_stat(path, &st);
  if (fd < 0) return fd;
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return read_directory(path, member, max, data, len, display);
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
    rc = read_whole(fd, path, &st, head, nhead, max, data, len);
    if (rc) return rc;
    if (!(*display = strdup(path))) {
      free(*data), *data = NULL;
      return lm__fail(LM_ENOMEM, "%s: out of memory", path);
    }
    return LM_OK;
  }
  close(fd);
  if (!S_ISREG(st.st_mode))
    return lm__fail(LM_EUNSUPPORTED,
                    "%s: an archive read from a pipe or device: save it to a file first (the "
                    "archive reader needs to read it again)", path);
  if (member && !*strip_dot_slash(member))
    return lm__fail(LM_EINVAL, "%s: empty member name", path);
  char *chosen = NULL;
  int not_tar = 0;
  if ((rc = read_archive(path, member, max, data, len, &chosen, &not_tar))) {
    /* Compressed, but no tar inside: a compressed raw model file (joblib.dump(…, compress=…)),
     * read as it is; the importer decompresses it (joblib.c). */
    if (!not_tar || member) return rc;
    int fd2 = open(path, O_RDONLY | O_CLOEXEC);
    if (fd2 < 0) return lm__fail(LM_EIO, "%s: cannot open: %s", path, strerror(errno));
    rc = read_raw(fd2, path, NULL, 0, 0, max, data, len);
    close(fd2);
    if (rc) return rc;
    if (!(*display = strdup(path))) {
      free(*data), *data = NULL;
      return lm__fail(LM_ENOMEM, "%s: out of memory", path);
    }
    return LM_OK;
  }
  size_t n = strlen(path) + 1 + strlen(chosen) + 1;
  *display = malloc(n);
  if (!*display) {
    free(chosen);
    sm_free(*data), *data = NULL;
    return lm__fail(LM_ENOMEM, "%s: out of memory", path);
  }
  snprintf(*display, n, "%s:%s", path, chosen);
  free(chosen);
  return LM_OK;
}

int lm__artifact_read_spill(const char *path, const char *member, uint64_t max, uint8_t **data,
                            size_t *len, char **display, int *mapped) {
  sm_spill_ok = 1;
  int rc = lm__artifact_read_ex(path, member, max, data, len, display);
  sm_spill_ok = 0;
  *mapped = 0;
  for (int i = 0; rc == LM_OK && i < 2; i++) *mapped |= *data && sm_maps[i].p == *data;
  return rc;
}

void lm__artifact_free(uint8_t *data) { sm_free(data); }
