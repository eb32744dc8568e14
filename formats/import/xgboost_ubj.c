/*
 * xgboost_ubj.c — the XGBoost UBJSON importer: save_model("model.ubj") (1.6+), the default
 * format of XGBoost 2.1+ and of SageMaker's 3.0 container, and the {"Config", "Model"} snapshot
 * that XGBoost 1.6+ pickles hold (xgboost_pickle.c).
 *
 * The bytes are decoded into the same json-c document the JSON importer builds from text, and
 * that document goes through the JSON importer's walk (lm__xgboost_dom_import): one set of
 * checks, messages and IR for both. Only the decoding is here; every error it reports names the
 * input and the byte offset. Cost, measured with lmconvert on a 1000-tree depth-8 model (403k
 * nodes, 14 MB of UBJSON) on the development machine: 0.25 s in all (the same model from JSON
 * text 0.72 s, from legacy binary 0.05 s), well inside the 1 s budget of the issue, so no
 * separate UBJSON → IR path exists.
 *
 * Layout (input-formats.md §3, from XGBoost's src/common/json.cc UBJWriter / UBJReader): every
 * multi-byte number is big-endian. Values: '{' object, '[' array, 'Z' null, 'T' / 'F' booleans,
 * 'd' float32, 'D' float64, 'S' string, 'i' int8, 'U' uint8, 'I' int16, 'l' int32, 'L' int64,
 * 'C' char (an integer, as XGBoost reads it). Strings and object keys: 'L' int64 length, then
 * the bytes (XGBoost writes and reads only the 'L' form; keys carry no 'S'). Objects run to '}'.
 * Arrays: '[' '#' 'L' count, then count values, NO closing ']'; '[' '$' type '#' 'L' count, then
 * count packed elements (types 'd', 'U', 'l', 'L'; 3.x also 'D', 'i', 'I'), no closing ']'
 * either; or values up to a closing ']'.
 *
 * Choices:
 * - 'F' is false. (XGBoost 1.7.4's reader returns true for 'F' — a bug without effect on
 *   models, whose booleans are written as 0/1 integers; lmrt does not reproduce it.)
 * - Floats: a float32 'd' becomes the json-c double equal to it, which the shared walk turns
 *   back into the same float bit for bit (see num_to_float in xgboost_json.c). A float64 'D' is
 *   rounded to float32 on the spot — every number lmrt reads from a model is a float32 — so it
 *   reaches the IR as XGBoost would round it.
 * - Per-node statistics the IR does not use (base_weights, loss_changes, parents) are decoded
 *   and checked but not built (sum_hessian is: it is the cover TreeSHAP needs); a pickle snapshot's "Config" likewise. This halves
 *   the work on large models and changes nothing the walk sees: it never reads them.
 * - Strictness beyond XGBoost's reader: every count is checked against the bytes left before
 *   anything is allocated; keys and strings must not contain NUL bytes (json-c strings are C
 *   strings), duplicate keys and data after the top-level value are errors, and nesting is
 *   limited to 32 levels (json-c's own limit for JSON text).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "formats/import/import.h"
#include "formats/import/xgboost_json.h"
#include "base/cursor.h"
#include "base/error.h"

#define UBJ_MAX_DEPTH 32
#define UBJ_KPATH 64
#define UBJ_STEP ((size_t)8 << 20) /* progress and page release every this many bytes */

typedef struct ubj {
  lm_cursor c; /* the input (offsets travel as explicit positions through the parser) */
  const char *skip_top_key; /* a key of the top-level object whose value is not built */
  char *key;                /* scratch for NUL-terminated keys */
  size_t key_cap;
  /* Streaming (lm__import_xgboost_ubj, see the file comment): the path of the value being read
   * (".learner.gradient_booster…", "[" for an array level; cut at UBJ_KPATH), the elements of the
   * trees array found there (checked, not built) and the depth they sit at. */
  int stream;
  char kpath[UBJ_KPATH];
  size_t kplen;
  size_t *spans, n_spans, cap;
  int arrays, tdepth;
  const char *tpath;
  size_t built, done;
} ubj;

/* The value at the path being read goes one level down: key k, or an array's element (k NULL).
 * Returns the length to restore. */
static size_t kpath_push(ubj *u, const char *k) {
  size_t old = u->kplen, l = k ? strlen(k) + 1 : 1;
  if (!u->stream) return old;
  if (old + l + 1 > UBJ_KPATH) l = 1, k = NULL; /* too long to be the trees path: mark it */
  if (old + l + 1 > UBJ_KPATH) return old;
  if (k) {
    u->kpath[old] = '.';
    memcpy(u->kpath + old + 1, k, l - 1);
  } else {
    u->kpath[old] = '[';
  }
  u->kplen = old + l;
  u->kpath[u->kplen] = '\0';
  return old;
}

static void kpath_pop(ubj *u, size_t old) {
  u->kplen = old;
  u->kpath[old] = '\0';
}

/* The model object whose trees array is at the current path, or NULL. */
static const char *trees_at(const ubj *u) {
  if (!u->stream) return NULL;
  if (!strcmp(u->kpath, ".learner.gradient_booster.model.trees"))
    return "learner.gradient_booster.model";
  if (!strcmp(u->kpath, ".learner.gradient_booster.gbtree.model.trees"))
    return "learner.gradient_booster.gbtree.model";
  return NULL;
}

/* A marker byte for messages: 'x' or 0xNN. */
static const char *mk(char *buf, size_t n, uint8_t m) {
  if (m >= 0x21 && m < 0x7f)
    snprintf(buf, n, "'%c'", m);
  else
    snprintf(buf, n, "0x%02x", m);
  return buf;
}

/* UBJSON's own truncation message (it names the value being read, then the offset). */
static int need(const ubj *u, size_t pos, size_t k, const char *what) {
  if (u->c.n - pos >= k) return LM_OK;
  return lm__fail(LM_EFORMAT, "%s: truncated UBJSON: %s needs %zu byte%s at byte %zu, %zu left",
                  u->c.name, what, k, k == 1 ? "" : "s", pos, u->c.n - pos);
}

static float be_f32(const uint8_t *q) {
  uint32_t b = (uint32_t)lm__be_n(q, 4);
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static double be_f64(const uint8_t *q) {
  uint64_t b = lm__be_n(q, 8);
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}

/* Append e to arr (e is released if that fails). */
static int array_add(const ubj *u, json_object *arr, json_object *e) {
  if (!json_object_array_add(arr, e)) return LM_OK;
  json_object_put(e);
  return lm__fail(LM_ENOMEM, "%s: out of memory", u->c.name);
}

/* The end of a container: on error the partial container is released, else handed over (when
 * one is built: out non-NULL). */
static int container_done(int rc, json_object *c, json_object **out) {
  if (rc) {
    json_object_put(c);
    return rc;
  }
  if (out) *out = c;
  return LM_OK;
}

/* Size in bytes of a scalar number marker's payload; 0 if m is not one. */
static int num_size(uint8_t m) {
  switch (m) {
  case 'i':
  case 'U':
  case 'C': return 1;
  case 'I': return 2;
  case 'l':
  case 'd': return 4;
  case 'L':
  case 'D': return 8;
  }
  return 0;
}

/* The number with marker m at q (num_size(m) bytes) as a json-c object (or just checked when
 * out is NULL). */
static int make_num(const ubj *u, uint8_t m, const uint8_t *q, json_object **out) {
  if (!out) return LM_OK;
  json_object *o;
  switch (m) {
  case 'i': o = json_object_new_int64((int8_t)q[0]); break;
  case 'C': o = json_object_new_int64((int8_t)q[0]); break; /* XGBoost: a (signed, x86) char */
  case 'U': o = json_object_new_int64(q[0]); break;
  case 'I': o = json_object_new_int64((int16_t)(uint16_t)lm__be_n(q, 2)); break;
  case 'l': o = json_object_new_int64((int32_t)(uint32_t)lm__be_n(q, 4)); break;
  case 'L': o = json_object_new_int64((int64_t)lm__be_n(q, 8)); break;
  case 'd': o = json_object_new_double((double)be_f32(q)); break;
  default: /* 'D': rounded to float32 (see the file comment) */
    o = json_object_new_double((double)(float)be_f64(q));
    break;
  }
  if (!o) return lm__fail(LM_ENOMEM, "%s: out of memory", u->c.name);
  *out = o;
  return LM_OK;
}

/* An 'L' int64 length or count at *pos that must fit in what is left after it, each unit taking
 * `unit` bytes. */
static int read_count(const ubj *u, size_t *pos, size_t unit, const char *what, size_t *out) {
  char b[8];
  size_t at = *pos;
  int rc = need(u, at, 1, what);
  if (rc) return rc;
  if (u->c.p[at] != 'L')
    return lm__cur_fail_at(&u->c, LM_EFORMAT, at, NULL, "%s: expected the int64 marker 'L', got %s",
                           what, mk(b, sizeof b, u->c.p[at]));
  if ((rc = need(u, at + 1, 8, what))) return rc;
  int64_t v = (int64_t)lm__be_n(u->c.p + at + 1, 8);
  size_t left = u->c.n - (at + 9);
  if (v < 0)
    return lm__cur_fail_at(&u->c, LM_EFORMAT, at, NULL, "%s: negative count %lld", what,
                           (long long)v);
  if ((uint64_t)v > left / unit)
    return lm__cur_fail_at(
        &u->c, LM_EFORMAT, at, NULL,
        "%s: count %lld needs %s%llu bytes, only %zu left (truncated or corrupt)", what,
        (long long)v, (uint64_t)v > UINT64_MAX / unit ? "over " : "",
        (unsigned long long)((uint64_t)v > UINT64_MAX / unit ? UINT64_MAX : (uint64_t)v * unit),
        left);
  *pos = at + 9;
  *out = (size_t)v;
  return LM_OK;
}

/* A string body (after 'S', or an object key): 'L' length + bytes, no NUL inside. */
static int read_str(const ubj *u, size_t *pos, const char *what, const uint8_t **s, size_t *len) {
  size_t at = *pos, n;
  int rc = read_count(u, pos, 1, what, &n);
  if (rc) return rc;
  const uint8_t *q = u->c.p + *pos;
  if (memchr(q, 0, n))
    return lm__cur_fail_at(&u->c, LM_EFORMAT, at, NULL, "%s contains a NUL byte", what);
  *s = q;
  *len = n;
  *pos += n;
  return LM_OK;
}

static int parse_value(ubj *u, size_t *pos, int depth, json_object **out);

/* '[' already consumed at *pos - 1. */
static int parse_array(ubj *u, size_t *pos, int depth, json_object **out) {
  char b[8];
  int rc;
  json_object *arr = NULL;
  if (*pos < u->c.n && u->c.p[*pos] == '$') {
    /* typed array: '$' type '#' 'L' count, packed elements */
    if ((rc = need(u, *pos + 1, 2, "typed array header"))) return rc;
    uint8_t t = u->c.p[*pos + 1];
    int sz = num_size(t);
    if (!sz || t == 'C')
      return lm__cur_fail_at(&u->c, LM_EFORMAT, *pos + 1, NULL,
                             "typed array of %s elements: not supported (d, D, i, U, I, l, L are)",
                             mk(b, sizeof b, t));
    if (u->c.p[*pos + 2] != '#')
      return lm__cur_fail_at(&u->c, LM_EFORMAT, *pos + 2, NULL,
                             "typed array: expected '#' after the type, got %s",
                             mk(b, sizeof b, u->c.p[*pos + 2]));
    *pos += 3;
    size_t n;
    if ((rc = read_count(u, pos, (size_t)sz, "typed array count", &n))) return rc;
    if (out) {
      if (!(arr = json_object_new_array_ext((int)(n < 65536 ? n : 65536))))
        return lm__fail(LM_ENOMEM, "%s: out of memory", u->c.name);
      const uint8_t *q = u->c.p + *pos;
      for (size_t i = 0; i < n; i++, q += sz) {
        json_object *e;
        if ((rc = make_num(u, t, q, &e)) || (rc = array_add(u, arr, e))) break;
      }
      if ((rc = container_done(rc, arr, out))) return rc;
    }
    *pos += n * (size_t)sz;
    return LM_OK;
  }
  int counted = *pos < u->c.n && u->c.p[*pos] == '#';
  size_t n = 0;
  if (counted) {
    *pos += 1;
    if ((rc = read_count(u, pos, 1, "array count", &n))) return rc;
  }
  /* The trees array, streaming: elements checked and their offsets kept, the array left empty. */
  const char *tp = trees_at(u);
  if (tp) {
    u->arrays++;
    u->tpath = tp;
    u->tdepth = depth + 1;
    u->n_spans = 0;
  }
  size_t kp = kpath_push(u, NULL), step = *pos + UBJ_STEP;
  if (out && !(arr = json_object_new_array_ext((int)(!counted ? 16 : n < 65536 ? n : 65536)))) {
    kpath_pop(u, kp);
    return lm__fail(LM_ENOMEM, "%s: out of memory", u->c.name);
  }
  for (size_t i = 0; counted ? i < n : 1; i++) {
    if (!counted) {
      if ((rc = need(u, *pos, 1, "array (no closing ']')"))) break;
      if (u->c.p[*pos] == ']') {
        *pos += 1;
        break;
      }
    }
    json_object *e = NULL;
    if (tp) {
      if (u->n_spans == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 1024, *ns = realloc(u->spans, cap * sizeof *ns);
        if (!ns) {
          rc = lm__fail(LM_ENOMEM, "%s: out of memory", u->c.name);
          break;
        }
        u->spans = ns;
        u->cap = cap;
      }
      u->spans[u->n_spans++] = *pos;
      if ((rc = parse_value(u, pos, depth + 1, NULL))) break;
      if (*pos >= step) {
        lm__import_progress(0, 0, *pos, u->c.n);
        lm__input_done(u->c.p, u->done, *pos);
        u->done = *pos;
        step = *pos + UBJ_STEP;
      }
      continue;
    }
    if ((rc = parse_value(u, pos, depth + 1, out ? &e : NULL))) break;
    if (out && (rc = array_add(u, arr, e))) break;
  }
  kpath_pop(u, kp);
  return container_done(rc, arr, out);
}

/* Values the IR never uses: checked, not built (see the file comment). */
static int skipped_key(const char *k) {
  return !strcmp(k, "base_weights") || !strcmp(k, "loss_changes") || !strcmp(k, "parents");
}

/* '{' already consumed at *pos - 1. */
static int parse_object(ubj *u, size_t *pos, int depth, json_object **out) {
  int rc = LM_OK;
  json_object *obj = NULL;
  if (out && !(obj = json_object_new_object()))
    return lm__fail(LM_ENOMEM, "%s: out of memory", u->c.name);
  for (;;) {
    if ((rc = need(u, *pos, 1, "object (no closing '}')"))) break;
    if (u->c.p[*pos] == '}') {
      *pos += 1;
      break;
    }
    size_t kat = *pos;
    const uint8_t *ks;
    size_t kl;
    if ((rc = read_str(u, pos, "object key", &ks, &kl))) break;
    if (kl + 1 > u->key_cap) {
      size_t cap = kl + 1 < 64 ? 64 : kl + 1;
      char *nk = realloc(u->key, cap);
      if (!nk) {
        rc = lm__fail(LM_ENOMEM, "%s: out of memory", u->c.name);
        break;
      }
      u->key = nk;
      u->key_cap = cap;
    }
    memcpy(u->key, ks, kl);
    u->key[kl] = '\0';
    int build = out && !skipped_key(u->key) &&
                !(depth == 0 && u->skip_top_key && !strcmp(u->key, u->skip_top_key));
    if (out && json_object_object_get_ex(obj, u->key, NULL)) {
      char kb[64];
      snprintf(kb, sizeof kb, "%.40s%s", u->key, kl > 40 ? "..." : "");
      for (char *c = kb; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
      rc = lm__cur_fail_at(&u->c, LM_EFORMAT, kat, NULL, "duplicate key \"%s\"", kb);
      break;
    }
    json_object *v = NULL;
    size_t kp = kpath_push(u, u->key);
    rc = parse_value(u, pos, depth + 1, build ? &v : NULL);
    kpath_pop(u, kp);
    if (rc) break;
    if (!build) continue;
    /* the value's own keys went through u->key: copy this key again */
    memcpy(u->key, ks, kl);
    u->key[kl] = '\0';
    if (json_object_object_add(obj, u->key, v)) {
      json_object_put(v);
      rc = lm__fail(LM_ENOMEM, "%s: out of memory", u->c.name);
      break;
    }
  }
  return container_done(rc, obj, out);
}

/* One value at *pos; *out gets it (NULL for 'Z', as json-c represents null), or nothing is built
 * when out is NULL. */
static int parse_value(ubj *u, size_t *pos, int depth, json_object **out) {
  char b[8];
  int rc = need(u, *pos, 1, "a value");
  if (rc) return rc;
  size_t at = *pos;
  uint8_t m = u->c.p[at];
  *pos += 1;
  if (out) *out = NULL;
  if ((m == '{' || m == '[') && depth >= UBJ_MAX_DEPTH)
    return lm__cur_fail_at(&u->c, LM_EFORMAT, at, NULL, "nested deeper than %d levels",
                           UBJ_MAX_DEPTH);
  switch (m) {
  case '{': return parse_object(u, pos, depth, out);
  case '[': return parse_array(u, pos, depth, out);
  case 'Z': return LM_OK;
  case 'T':
  case 'F':
    if (out && !(*out = json_object_new_boolean(m == 'T')))
      return lm__fail(LM_ENOMEM, "%s: out of memory", u->c.name);
    return LM_OK;
  case 'S': {
    const uint8_t *s;
    size_t n;
    if ((rc = read_str(u, pos, "string", &s, &n))) return rc;
    if (out && !(*out = json_object_new_string_len((const char *)s, (int)n)))
      return lm__fail(LM_ENOMEM, "%s: out of memory", u->c.name);
    return LM_OK;
  }
  case 'H':
    return lm__cur_fail_at(&u->c, LM_EUNSUPPORTED, at, NULL,
                           "high-precision number ('H'): not supported");
  default: break;
  }
  int sz = num_size(m);
  if (!sz)
    return lm__cur_fail_at(&u->c, LM_EFORMAT, at, NULL, "unknown UBJSON marker %s",
                           mk(b, sizeof b, m));
  static const char *const what[] = {
      NULL, "a 1-byte number", "a 2-byte number", NULL, "a 4-byte number", NULL, NULL,
      NULL, "an 8-byte number"};
  if ((rc = need(u, *pos, (size_t)sz, what[sz]))) return rc;
  rc = make_num(u, m, u->c.p + *pos, out);
  *pos += (size_t)sz;
  return rc;
}

/* UBJSON bytes → a json-c document (caller puts it). skip_top_key: a key of the top-level object
 * whose value is checked but not built (NULL: none). */
int lm__xgboost_ubj_parse(const uint8_t *data, size_t len, const char *name,
                          const char *skip_top_key, json_object **root) {
  *root = NULL;
  if (!name) name = "(input)";
  if (!data && len) return lm__fail(LM_EINVAL, "%s: NULL data", name);
  ubj u = {.skip_top_key = skip_top_key};
  lm__cur_init(&u.c, data, len, name);
  size_t pos = 0;
  json_object *doc = NULL;
  int rc = parse_value(&u, &pos, 0, &doc);
  if (rc == LM_OK && pos != len) {
    rc = lm__cur_fail_at(&u.c, LM_EFORMAT, pos, NULL,
                         "unexpected data after the top-level value (%zu bytes)", len - pos);
  }
  free(u.key);
  if (rc) {
    json_object_put(doc);
    return rc;
  }
  *root = doc;
  return LM_OK;
}

/* xj_trees.get: tree i built alone from its offset. */
static int get_tree(void *ctx, size_t i, json_object **out) {
  ubj *u = ctx;
  *out = NULL;
  if (i >= u->n_spans) return LM_XJ_FALLBACK;
  size_t pos = u->spans[i];
  int rc = parse_value(u, &pos, u->tdepth, out);
  if (rc) return rc;
  if (i + 1 > u->built) u->built = i + 1;
  lm__import_progress(i + 1, u->n_spans, pos, u->c.n);
  if (i == 0) u->done = 0; /* pass 2 starts again at the first tree */
  lm__input_done(u->c.p, u->done, u->spans[i]);
  u->done = u->spans[i];
  return LM_OK;
}

/* Bounded memory, as the JSON reader (xgboost_stream.c): pass 1 decodes and checks every byte
 * but builds the trees array empty, keeping the offset of each tree; pass 2 is the shared walk,
 * which builds each tree alone when it reaches it and releases it after. A document with more
 * than one trees array (gbtree's and dart's) is read whole. */
int lm__import_xgboost_ubj(const uint8_t *data, size_t len, const char *name, lm_ir_model **out) {
  *out = NULL;
  if (!name) name = "(input)";
  if (!data && len) return lm__fail(LM_EINVAL, "%s: NULL data", name);
  ubj u = {.stream = 1};
  lm__cur_init(&u.c, data, len, name);
  size_t pos = 0;
  json_object *root = NULL;
  int rc = parse_value(&u, &pos, 0, &root);
  if (rc == LM_OK && pos != len)
    rc = lm__cur_fail_at(&u.c, LM_EFORMAT, pos, NULL,
                         "unexpected data after the top-level value (%zu bytes)", len - pos);
  u.stream = 0;
  if (rc == LM_OK && u.arrays > 1) {
    json_object_put(root);
    free(u.key);
    free(u.spans);
    if ((rc = lm__xgboost_ubj_parse(data, len, name, NULL, &root))) return rc;
    rc = lm__xgboost_dom_import(root, name, "xgboost-ubj", out);
    json_object_put(root);
    return rc;
  }
  if (rc == LM_OK) {
    xj_trees ts = {.path = u.tpath, .n = u.n_spans, .get = get_tree, .ctx = &u};
    rc = lm__xgboost_dom_import_trees(root, name, "xgboost-ubj", u.arrays ? &ts : NULL, out);
    /* A model error: the whole-document reader would have reported a tree's duplicate key (the
     * one check pass 1 does not make) first. */
    for (size_t i = u.built; rc < 0 && u.arrays && i < u.n_spans; i++) {
      json_object *t;
      int r = get_tree(&u, i, &t);
      json_object_put(t);
      if (r) {
        lm_ir_free(*out);
        *out = NULL;
        rc = r;
      }
    }
  }
  json_object_put(root);
  free(u.key);
  free(u.spans);
  return rc;
}
