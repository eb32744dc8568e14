/*
 * lmf_reseal.c — a test helper: recompute the section and table checksums of a .lm file in
 * place (lm__lmf_seal), so that tests written in Python can build files that are structurally
 * wrong but carry valid checksums (e.g. server/tests/test_server.py: a self-test whose expected
 * values the model does not give, which lmconvert itself no longer writes).
 *
 *   lmf_reseal FILE
 */
#include <stdio.h>
#include <stdlib.h>

#include "formats/lmf_write.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: lmf_reseal FILE\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "r+b");
  if (!f) return perror(argv[1]), 1;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  rewind(f);
  uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
  if (!b || len < 64 || fread(b, 1, (size_t)len, f) != (size_t)len) {
    fprintf(stderr, "lmf_reseal: %s: cannot read it\n", argv[1]);
    return 1;
  }
  lm__lmf_seal(b, (size_t)len);
  rewind(f);
  int bad = fwrite(b, 1, (size_t)len, f) != (size_t)len;
  bad |= fclose(f) != 0;
  free(b);
  return bad;
}
