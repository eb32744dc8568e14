/*
 * cli.c — the shared command-line helpers of cli.h: argument walking, flags and values in both
 * `--opt VALUE` and `--opt=VALUE` forms, integer ranges, and the one-line error and usage
 * messages every tool prints.
 */
#include "tools/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmrt.h"

static const char *prog = "lmrt";
static const char *help_text = "";
static int no_more_opts;

void cli_init(const char *p, const char *help) {
  prog = p;
  help_text = help;
  no_more_opts = 0;
}

const char *cli_prog(void) { return prog; }

/* s on stderr with line breaks flattened, so that an error stays one line. */
static void put_flat(const char *s) {
  for (; *s; s++) fputc(*s == '\n' || *s == '\r' ? ' ' : *s, stderr);
}

/* "PROG: FILE: message" on stderr (without "FILE: " when file is NULL), the message made from
 * fmt and ap, line breaks flattened; no line end. */
static void put_error(const char *file, const char *fmt, va_list ap) {
  char msg[2048];
  vsnprintf(msg, sizeof msg, fmt, ap);
  fprintf(stderr, "%s: ", prog);
  if (file) {
    put_flat(file);
    fputs(": ", stderr);
  }
  put_flat(msg);
}

void cli_usage(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  put_error(NULL, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (try '%s --help')\n", prog);
  exit(CLI_EXIT_USAGE);
}

void cli_error(const char *file, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  put_error(file, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

void cli_lib_error(const char *file, const char *other, int rc) {
  const char *d = lm_last_error();
  if (!d || !*d) d = lm_strerror(rc);
  else if ((file && strstr(d, file)) || (other && strstr(d, other))) file = NULL;
  cli_error(file, "%s", d);
}

int cli_next(int argc, char **argv, int i, int *is_opt) {
  for (; i < argc; i++) {
    const char *a = argv[i];
    *is_opt = !no_more_opts && a[0] == '-' && a[1] != '\0';
    if (!*is_opt) return i;
    if (!strcmp(a, "--")) {
      no_more_opts = 1;
      continue;
    }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(help_text, stdout);
      exit(fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_BAD);
    }
    if (!strcmp(a, "--version")) {
      printf("%s %s\n", prog, LM_VERSION_STRING);
      exit(fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_BAD);
    }
    return i;
  }
  return argc;
}

int cli_flag(char **argv, int i, const char *name) {
  const char *a = argv[i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0) return 0;
  if (a[n] == '=') cli_usage("option '%s' takes no value", name);
  return a[n] == '\0';
}

const char *cli_value(int argc, char **argv, int *i, const char *shrt, const char *lng,
                      const char *what) {
  const char *a = argv[*i], *v = NULL;
  size_t ln = strlen(lng);
  if ((shrt && !strcmp(a, shrt)) || !strcmp(a, lng)) {
    if (*i + 1 >= argc) cli_usage("option '%s' needs %s", a, what);
    v = argv[++*i];
  } else if (!strncmp(a, lng, ln) && a[ln] == '=') {
    v = a + ln + 1;
  } else if (shrt && !strncmp(a, shrt, 2) && a[2] != '\0' && a[1] != '-') {
    v = a + 2;
  } else {
    return NULL;
  }
  if (!*v) cli_usage("option '%s' needs %s", lng, what);
  return v;
}

unsigned long long cli_count(const char *opt, const char *v, unsigned long long lo,
                             unsigned long long hi) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (errno || end == v || *end || v[0] == '-' || v[0] == '+' || v[0] == ' ' || n < lo || n > hi)
    cli_usage("%s: not a whole number from %llu to %llu: '%s'", opt, lo, hi, v);
  return n;
}
