/*
 * pickle_text.c — the pickle walker's text parts (formats/import/pickle.c): opcode names for
 * messages, and the operands protocols 0 and 1 write as text lines (quoted or escaped str,
 * float), decoded without Python's help.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/pickle.h"
#include "formats/import/pickle_internal.h"
#include "base/cursor.h"
#include "base/error.h"

const char *lm__pk_op_name(uint8_t op) {
  switch (op) {
  case 0x80: return "PROTO";
  case 0x95: return "FRAME";
  case 'c': return "GLOBAL";
  case 0x93: return "STACK_GLOBAL";
  case '}': return "EMPTY_DICT";
  case ']': return "EMPTY_LIST";
  case ')': return "EMPTY_TUPLE";
  case 0x8f: return "EMPTY_SET";
  case '(': return "MARK";
  case 's': return "SETITEM";
  case 'u': return "SETITEMS";
  case 'a': return "APPEND";
  case 'e': return "APPENDS";
  case 0x90: return "ADDITEMS";
  case 0x91: return "FROZENSET";
  case 't': return "TUPLE";
  case 0x85: return "TUPLE1";
  case 0x86: return "TUPLE2";
  case 0x87: return "TUPLE3";
  case 'l': return "LIST";
  case 'd': return "DICT";
  case 'b': return "BUILD";
  case 0x81: return "NEWOBJ";
  case 0x92: return "NEWOBJ_EX";
  case 'R': return "REDUCE";
  case 0x94: return "MEMOIZE";
  case 'q': return "BINPUT";
  case 'r': return "LONG_BINPUT";
  case 'h': return "BINGET";
  case 'j': return "LONG_BINGET";
  case 'N': return "NONE";
  case 0x88: return "NEWTRUE";
  case 0x89: return "NEWFALSE";
  case 'J': return "BININT";
  case 'K': return "BININT1";
  case 'M': return "BININT2";
  case 0x8a: return "LONG1";
  case 0x8b: return "LONG4";
  case 'G': return "BINFLOAT";
  case 'X': return "BINUNICODE";
  case 0x8c: return "SHORT_BINUNICODE";
  case 0x8d: return "BINUNICODE8";
  case 'B': return "BINBYTES";
  case 'C': return "SHORT_BINBYTES";
  case 0x8e: return "BINBYTES8";
  case 0x96: return "BYTEARRAY8";
  case 'T': return "BINSTRING";
  case 'U': return "SHORT_BINSTRING";
  case '0': return "POP";
  case '1': return "POP_MARK";
  case '2': return "DUP";
  case '.': return "STOP";
  case 'I': return "INT";
  case 'L': return "LONG";
  case 'S': return "STRING";
  case 'V': return "UNICODE";
  case 'F': return "FLOAT";
  case 'g': return "GET";
  case 'p': return "PUT";
  case 'o': return "OBJ";
  case 'i': return "INST";
  /* known, not supported */
  case 'P': return "PERSID";
  case 'Q': return "BINPERSID";
  case 0x82: return "EXT1";
  case 0x83: return "EXT2";
  case 0x84: return "EXT4";
  case 0x97: return "NEXT_BUFFER";
  case 0x98: return "READONLY_BUFFER";
  }
  return NULL;
}

/* ---- text operands ------------------------------------------------------------------------- */

static size_t put_utf8(uint8_t *o, uint32_t cp) {
  if (cp < 0x80) return o[0] = (uint8_t)cp, 1;
  if (cp < 0x800) return o[0] = (uint8_t)(0xc0 | cp >> 6), o[1] = (uint8_t)(0x80 | (cp & 0x3f)), 2;
  if (cp < 0x10000) {
    o[0] = (uint8_t)(0xe0 | cp >> 12), o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (uint8_t)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (uint8_t)(0xf0 | cp >> 18), o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (uint8_t)(0x80 | (cp & 0x3f));
  return 4;
}

static int hexval(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
  return -1;
}

/* STRING: a quoted Python 2 str literal with backslash escapes (ASCII: what Python 3 reads
 * by default). UNICODE: raw-unicode-escape (latin-1 bytes, \uXXXX, \UXXXXXXXX). Result UTF-8. */
int lm__pk_text_str(pk *k, pv **out) {
  const uint8_t *s;
  size_t n;
  int rc = lm__pk_line(k, &s, &n);
  if (rc) return rc;
  pv *v = lm__pk_pv_new(k, LM_PV_STR);
  if (!v || !(v->owned = malloc(2 * n + 1))) return OOM();
  uint8_t *o = v->owned;
  size_t on = 0;
  if (k->op == 'S') {
    if (n < 2 || (s[0] != '\'' && s[0] != '"') || s[n - 1] != s[0])
      return FAIL(LM_EFORMAT, "pickle opcode STRING: not a quoted string");
    for (size_t i = 1; i + 1 < n; i++) {
      uint8_t c = s[i];
      if (c >= 0x80) return FAIL(LM_EFORMAT, "pickle opcode STRING: a byte >= 0x80 (not ASCII)");
      if (c != '\\' || i + 2 >= n) {
        o[on++] = c;
        continue;
      }
      uint8_t e = s[++i];
      int h1, h2;
      switch (e) {
      case 'n': o[on++] = '\n'; break;
      case 't': o[on++] = '\t'; break;
      case 'r': o[on++] = '\r'; break;
      case 'a': o[on++] = 7; break;
      case 'b': o[on++] = 8; break;
      case 'f': o[on++] = 12; break;
      case 'v': o[on++] = 11; break;
      case '\\': case '\'': case '"': o[on++] = e; break;
      case 'x':
        if (i + 3 >= n || (h1 = hexval(s[i + 1])) < 0 || (h2 = hexval(s[i + 2])) < 0)
          return FAIL(LM_EFORMAT, "pickle opcode STRING: bad \\x escape");
        if (h1 >= 8) return FAIL(LM_EFORMAT, "pickle opcode STRING: a byte >= 0x80 (not ASCII)");
        o[on++] = (uint8_t)(h1 * 16 + h2);
        i += 2;
        break;
      default:
        if (e >= '0' && e <= '7') {
          unsigned val = 0;
          int d = 0;
          while (d < 3 && i + 1 < n && s[i] >= '0' && s[i] <= '7') val = val * 8 + (s[i++] - '0'), d++;
          i--;
          if (val >= 0x80) return FAIL(LM_EFORMAT, "pickle opcode STRING: a byte >= 0x80 (not ASCII)");
          o[on++] = (uint8_t)val;
        } else {
          o[on++] = '\\', o[on++] = e;
        }
      }
    }
  } else { /* 'V' */
    for (size_t i = 0; i < n; i++) {
      if (s[i] == '\\' && i + 1 < n && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
        size_t d = s[i + 1] == 'u' ? 4 : 8;
        if (i + 2 + d > n) return FAIL(LM_EFORMAT, "pickle opcode UNICODE: truncated \\u escape");
        uint32_t cp = 0;
        for (size_t j = 0; j < d; j++) {
          int h = hexval(s[i + 2 + j]);
          if (h < 0) return FAIL(LM_EFORMAT, "pickle opcode UNICODE: bad \\u escape");
          cp = cp * 16 + (uint32_t)h;
        }
        if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
          return FAIL(LM_EFORMAT, "pickle opcode UNICODE: code point 0x%x out of range", cp);
        if (on + 4 > 2 * n + 1) return FAIL(LM_EFORMAT, "pickle opcode UNICODE: bad escape");
        on += put_utf8(o + on, cp);
        i += 1 + d;
      } else {
        on += put_utf8(o + on, s[i]);
      }
    }
  }
  v->s = o, v->len = on;
  *out = v;
  return LM_OK;
}

/* FLOAT: repr() of a double ("1.5", "inf", "nan", "-1e+300"). */
int lm__pk_text_float(pk *k, pv **out) {
  const uint8_t *s;
  size_t n;
  int rc = lm__pk_line(k, &s, &n);
  if (rc) return rc;
  char buf[64];
  if (n == 0 || n >= sizeof buf) return FAIL(LM_EFORMAT, "pickle opcode FLOAT: not a number");
  memcpy(buf, s, n);
  buf[n] = 0;
  char *end = NULL;
  double d = strtod(buf, &end);
  if (end != buf + n) return FAIL(LM_EFORMAT, "pickle opcode FLOAT: not a number");
  pv *v = lm__pk_pv_new(k, LM_PV_FLOAT);
  if (!v) return OOM();
  v->d = d;
  *out = v;
  return LM_OK;
}

