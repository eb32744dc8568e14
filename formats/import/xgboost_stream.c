/*
 * xgboost_stream.c — the XGBoost JSON importer in bounded memory (lm__import_xgboost_json).
 *
 * A json-c DOM of a whole model costs about 14 times the text (a 281 MB, 5,000-tree model took
 * 4 GB), nearly all of it in the trees. So the document is read in two passes over the bytes:
 *
 * 1. A scanner finds the trees array, learner.gradient_booster.model.trees (dart:
 *    learner.gradient_booster.gbtree.model.trees), and records the byte span of each element;
 *    every other byte goes to json-c's incremental tokener, which builds the small rest of the
 *    document (the "skeleton") with that array left empty.
 * 2. The skeleton goes through the same walk as every XGBoost document (xgboost_json.c); when
 *    it reaches the trees, each is parsed alone by json-c from its span, turned into IR and
 *    released before the next.
 *
 * The walk needs learner_model_param and the objective before the trees, and XGBoost writes
 * them after (its keys are sorted), hence two passes rather than one. The scanner is
 * hand-written because no Debian JSON library reports byte spans of values without building
 * them (json-c builds, yajl's callbacks give no offsets); it only tracks strings, brackets and
 * object keys, and every byte it does not hand to json-c with the skeleton is parsed by json-c
 * in a tree's span, so json-c still judges the syntax of every byte. Whenever the bytes are not
 * what the fast path expects (a syntax error anywhere, an element that is not an object, a second
 * trees array, anything but white space and commas between elements), the document is read the
 * old way, one DOM of the whole text (lm__import_xgboost_json_whole), so that malformed inputs
 * get exactly the messages they always got. A model error found in the skeleton or a tree is
 * reported as before too: the trees not built yet are first parsed (and dropped) to make sure
 * no syntax error, which the whole-document reader would report first, hides among them.
 *
 * Memory: the skeleton, one tree's DOM and the IR (each tree's nodes go to the import's sink,
 * if any, as soon as the tree is built: lm_ir_sink, formats/ir.h); pages of a mapped input are
 * dropped behind the reader (lm__input_done).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "formats/import/xgboost_json.h"
#include "base/error.h"

#define XS_DEPTH 64          /* nesting tracked by the scanner (json-c's limit is 32) */
#define XS_KEY 24            /* longest key compared with the trees path */
#define XS_STEP ((size_t)8 << 20) /* progress and page release every this many bytes */
#define XS_CHUNK ((size_t)1 << 30) /* json_tokener_parse_ex takes an int length */

typedef struct xs_span {
  size_t begin, end;
} xs_span;

typedef struct xs {
  const uint8_t *d;
  size_t n;
  json_tokener *tok;
  json_object *root; /* the skeleton, once complete */
  size_t fed;        /* bytes [fed, …) not yet handed to the skeleton's tokener */
  int complete;      /* the tokener returned the top-level value */
  size_t end;        /* where it ended */
  xs_span *spans;
  size_t n_spans, cap;
  int arrays;        /* trees arrays elided (more than one: fallback) */
  const char *path;  /* the model object holding the elided array */
  size_t built;      /* trees built by get() so far */
  size_t done;       /* input before this is dropped (lm__input_done) */
  json_tokener *ttok; /* one tree's tokener */
} xs;

/* Hand d[from, to) to the skeleton's tokener. LM_XJ_FALLBACK on a syntax error (the whole
 * document's reader reports it) or when the top-level value ends early. */
static int feed(xs *x, size_t from, size_t to) {
  while (from < to) {
    if (x->complete) return LM_XJ_FALLBACK; /* bytes after the top-level value */
    size_t k = to - from < XS_CHUNK ? to - from : XS_CHUNK;
    json_object *o = json_tokener_parse_ex(x->tok, (const char *)x->d + from, (int)k);
    enum json_tokener_error e = json_tokener_get_error(x->tok);
    if (e == json_tokener_success) {
      x->root = o;
      x->complete = 1;
      x->end = from + json_tokener_get_parse_end(x->tok);
      for (size_t i = x->end; i < to; i++)
        if (!lm__xj_is_space((char)x->d[i])) return LM_XJ_FALLBACK;
      return LM_OK;
    }
    if (e != json_tokener_continue) return LM_XJ_FALLBACK;
    from += k;
  }
  return LM_OK;
}

/* The index of the '"' closing the string whose body starts at i; n if there is none. */
static size_t str_end(const uint8_t *d, size_t n, size_t i) {
  size_t start = i;
  for (;;) {
    const uint8_t *q = memchr(d + i, '"', n - i);
    if (!q) return n;
    size_t k = (size_t)(q - d), b = k;
    while (b > start && d[b - 1] == '\\') b--;
    if (((k - b) & 1) == 0) return k;
    i = k + 1;
  }
}

/* The end (one past the '}') of the object starting at d[i] == '{'; n if it does not end. */
static size_t obj_end(const uint8_t *d, size_t n, size_t i) {
  size_t depth = 0;
  for (; i < n; i++) {
    switch (d[i]) {
    case '"':
      i = str_end(d, n, i + 1);
      if (i == n) return n;
      break;
    case '{':
    case '[': depth++; break;
    case '}':
    case ']':
      if (--depth == 0) return i + 1;
      break;
    default: break;
    }
  }
  return n;
}

static size_t skip_space(const uint8_t *d, size_t n, size_t i) {
  while (i < n && lm__xj_is_space((char)d[i])) i++;
  return i;
}

/* The trees array whose '[' is at d[i]: its elements' spans are recorded and the skeleton gets
 * "[]". Returns the index of the closing ']' (handed to the tokener later), or 0 to fall back. */
static size_t elide(xs *x, size_t i) {
  if (++x->arrays > 1 || feed(x, x->fed, i + 1)) return 0;
  const uint8_t *d = x->d;
  size_t n = x->n, j = skip_space(d, n, i + 1), step = i + XS_STEP;
  if (j < n && d[j] == ']') return j;
  for (;;) {
    if (j >= n || d[j] != '{') return 0;
    size_t e = obj_end(d, n, j);
    if (e >= n) return 0;
    if (x->n_spans == x->cap) {
      size_t cap = x->cap ? x->cap * 2 : 1024;
      xs_span *ns = realloc(x->spans, cap * sizeof *ns);
      if (!ns) return 0;
      x->spans = ns;
      x->cap = cap;
    }
    x->spans[x->n_spans++] = (xs_span){j, e};
    if (e >= step) {
      lm__import_progress(0, 0, e, n);
      lm__input_done(d, x->done, e);
      x->done = e;
      step = e + XS_STEP;
    }
    j = skip_space(d, n, e);
    if (j < n && d[j] == ',') {
      j = skip_space(d, n, j + 1);
      continue;
    }
    if (j < n && d[j] == ']') return j;
    return 0;
  }
}

/* Is the '[' about to open at this depth the trees array? keys[k]: the key whose value is being
 * read in the object at depth k (every enclosing container an object). */
static const char *trees_path(int depth, const uint8_t *kind, char keys[][XS_KEY]) {
  static const char *const a[] = {"learner", "gradient_booster", "model", "trees"};
  static const char *const b[] = {"learner", "gradient_booster", "gbtree", "model", "trees"};
  if (depth != 4 && depth != 5) return NULL;
  for (int k = 0; k < depth; k++)
    if (kind[k] != '{' || strcmp(keys[k], depth == 4 ? a[k] : b[k]) != 0) return NULL;
  return depth == 4 ? "learner.gradient_booster.model" : "learner.gradient_booster.gbtree.model";
}

/* Pass 1: the skeleton and the trees' spans. LM_OK, LM_ENOMEM or LM_XJ_FALLBACK. */
static int scan(xs *x) {
  const uint8_t *d = x->d;
  size_t n = x->n, step = XS_STEP;
  uint8_t kind[XS_DEPTH];
  char keys[XS_DEPTH][XS_KEY], key[XS_KEY] = "";
  int depth = 0, expect_key = 0;
  for (size_t i = 0; i < n; i++) {
    if (i >= step) {
      lm__import_progress(0, 0, i, n);
      lm__input_done(d, x->done, i);
      x->done = i;
      step = i + XS_STEP;
    }
    switch (d[i]) {
    case '"': {
      size_t e = str_end(d, n, i + 1);
      if (e == n) return LM_XJ_FALLBACK;
      if (expect_key) {
        size_t l = e - i - 1;
        if (l < XS_KEY) {
          memcpy(key, d + i + 1, l);
          key[l] = '\0';
        } else {
          key[0] = '\0';
        }
      }
      i = e;
      break;
    }
    case ':':
      if (depth > 0 && kind[depth - 1] == '{') memcpy(keys[depth - 1], key, XS_KEY);
      expect_key = 0;
      break;
    case ',': expect_key = depth > 0 && kind[depth - 1] == '{'; break;
    case '{':
    case '[': {
      const char *p = d[i] == '[' ? trees_path(depth, kind, keys) : NULL;
      if (p) {
        size_t close = elide(x, i);
        if (!close) return LM_XJ_FALLBACK;
        x->path = p;
        x->fed = close; /* the ']' and what follows */
        i = close;
        expect_key = 0;
        break;
      }
      if (depth == XS_DEPTH) return LM_XJ_FALLBACK;
      kind[depth] = d[i];
      keys[depth][0] = '\0';
      depth++;
      expect_key = d[i] == '{';
      break;
    }
    case '}':
    case ']':
      if (depth == 0) return LM_XJ_FALLBACK;
      depth--;
      expect_key = 0;
      break;
    default: break;
    }
  }
  int rc = feed(x, x->fed, n);
  if (rc) return rc;
  if (!x->complete) {
    /* the end of the input completes a value that could go on (as in lm__xgboost_json_parse) */
    json_object *o = json_tokener_parse_ex(x->tok, "", 1);
    if (json_tokener_get_error(x->tok) != json_tokener_success) {
      json_object_put(o);
      return LM_XJ_FALLBACK;
    }
    x->root = o;
    x->complete = 1;
  }
  return LM_OK;
}

/* xj_trees.get: tree i parsed alone from its span. */
static int get_tree(void *ctx, size_t i, json_object **out) {
  xs *x = ctx;
  *out = NULL;
  if (i >= x->n_spans) return LM_XJ_FALLBACK;
  xs_span s = x->spans[i];
  if (s.end - s.begin > XS_CHUNK) return LM_XJ_FALLBACK;
  json_tokener_reset(x->ttok);
  json_object *o = json_tokener_parse_ex(x->ttok, (const char *)x->d + s.begin,
                                         (int)(s.end - s.begin));
  if (json_tokener_get_error(x->ttok) != json_tokener_success ||
      (size_t)json_tokener_get_parse_end(x->ttok) != s.end - s.begin) {
    json_object_put(o);
    return LM_XJ_FALLBACK;
  }
  if (i + 1 > x->built) x->built = i + 1;
  lm__import_progress(i + 1, x->n_spans, s.end, x->n);
  if (i == 0) x->done = 0; /* pass 2 starts again at the first tree */
  lm__input_done(x->d, x->done, s.begin);
  x->done = s.begin;
  *out = o;
  return LM_OK;
}

int lm__import_xgboost_json(const uint8_t *data, size_t len, const char *name, lm_ir_model **out) {
  *out = NULL;
  if (!name) name = "(input)";
  if (!data && len) return lm__fail(LM_EINVAL, "%s: NULL data", name);
  xs x = {.d = data, .n = len};
  x.tok = json_tokener_new();
  x.ttok = json_tokener_new();
  if (!x.tok || !x.ttok) {
    if (x.tok) json_tokener_free(x.tok);
    if (x.ttok) json_tokener_free(x.ttok);
    return lm__fail(LM_ENOMEM, "%s: out of memory", name);
  }
  int rc = scan(&x);
  if (rc == LM_OK) {
    xj_trees ts = {.path = x.path, .n = x.n_spans, .get = get_tree, .ctx = &x};
    rc = lm__xgboost_dom_import_trees(x.root, name, "xgboost-json", x.arrays ? &ts : NULL, out);
    /* A model error: would the whole-document reader have found a syntax error first? */
    for (size_t i = x.built; rc < 0 && x.arrays && i < x.n_spans; i++) {
      json_object *t;
      if (get_tree(&x, i, &t) != LM_OK) rc = LM_XJ_FALLBACK;
      json_object_put(t);
    }
  }
  json_object_put(x.root);
  json_tokener_free(x.tok);
  json_tokener_free(x.ttok);
  free(x.spans);
  if (rc == LM_XJ_FALLBACK) {
    lm__clear_error();
    return lm__import_xgboost_json_whole(data, len, name, out);
  }
  return rc;
}
