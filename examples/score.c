/*
 * score.c — the smallest complete use of liblmrt: open a .lm model, make a session, score one
 * row in which every feature is missing, print the value(s). Built by `make check-install`
 * against an installed lmrt with `pkg-config --cflags --libs lmrt`.
 *
 *   cc score.c $(pkg-config --cflags --libs lmrt) -o score && ./score model.lm
 */
#include <lmrt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.lm\n", argv[0]);
    return 2;
  }
  lm_model *m;
  lm_session *s;
  int rc = lm_model_open(argv[1], &m);
  if (rc) {
    fprintf(stderr, "score: %s\n", lm_last_error());
    return 1;
  }
  if ((rc = lm_session_new(m, &s)) != 0) {
    fprintf(stderr, "score: %s\n", lm_strerror(rc));
    lm_model_close(m);
    return 1;
  }
  size_t F = lm_model_num_features(m), G = lm_model_num_outputs(m);
  float *row = malloc(F * sizeof *row), *out = malloc(G * sizeof *out);
  for (size_t f = 0; f < F; f++) row[f] = NAN;
  rc = lm_predict(s, row, 1, 0, out);
  for (size_t g = 0; rc == 0 && g < lm_model_output_width(m, 0); g++)
    printf("%s%.9g", g ? "," : "", out[g]);
  printf("\n");
  free(row);
  free(out);
  lm_session_free(s);
  lm_model_close(m);
  return rc ? 1 : 0;
}
