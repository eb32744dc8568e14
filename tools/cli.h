/*
 * cli.h — the one command-line style of lmconvert, lmscore and lminfo (lmserve follows the same
 * rules in server/lmserve.c, which may not include tools/): options before or after the file
 * arguments, `--` ends the options, a value given as `--opt VALUE` or `--opt=VALUE`, a flag
 * given a value is an error, counts are decimal integers in a stated range, `--threads 0` means
 * every CPU this process may use. Errors are one line on stderr, `PROGRAM: FILE: what is wrong`;
 * a usage error is `PROGRAM: what (try 'PROGRAM --help')` and exits 2. The exit statuses are
 * the same for every program (CLI_EXIT_*, CLI_EXIT_HELP).
 */
#ifndef LM_TOOLS_CLI_H
#define LM_TOOLS_CLI_H

#include <stddef.h>

enum {
  CLI_EXIT_OK = 0,    /* success */
  CLI_EXIT_BAD = 1,   /* bad input, model, or an I/O error: one line names the file */
  CLI_EXIT_USAGE = 2, /* bad command line */
  CLI_EXIT_CHECK = 3, /* a check failed: lmscore --check, lminfo --selftest (was 4 in lminfo),
                         lmconvert --selftest with EXPECTED values the model does not give */
};

/* The exit-status section every --help ends with. */
#define CLI_EXIT_HELP                                                                   \
  "Exit status (the same for lmconvert, lmscore, lminfo and lmserve):\n"               \
  "  0  success\n"                                                                     \
  "  1  bad input, model or I/O error (one line on stderr: PROGRAM: FILE: what)\n"    \
  "  2  usage error (one line on stderr: PROGRAM: what (try 'PROGRAM --help'))\n"     \
  "  3  a check failed (lmscore --check, lminfo --selftest, lmconvert --selftest)\n"

/* Name the program (for messages), and the --help text and version printed by cli_arg. */
void cli_init(const char *prog, const char *help);
const char *cli_prog(void);

/* Usage error: one line, exit 2. */
void cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Error about `file` (may be NULL): "PROG: FILE: what", one line (line breaks flattened). */
void cli_error(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The library's error for file: its lm_last_error detail (prefixed with file unless the detail
 * already names file or other), else lm_strerror(rc). */
void cli_lib_error(const char *file, const char *other, int rc);

/* Walk argv. Returns the next argument index to look at, handling -h/--help, --version (print,
 * exit 0) and `--`. *is_opt is set when argv[i] is an option (starts with '-' and is not "-"),
 * 0 for a positional argument. Returns argc at the end. */
int cli_next(int argc, char **argv, int i, int *is_opt);

/* argv[*i] is the flag `name` (also checks that no =VALUE was given: usage error). */
int cli_flag(char **argv, int i, const char *name);
/* argv[*i] is the option `lng` (or `shrt`, may be NULL, also as -sVALUE): returns its value
 * (from =VALUE or the next argument, advancing *i), NULL if argv[*i] is another option.
 * A missing or empty value is a usage error naming `what` ("a file"). */
const char *cli_value(int argc, char **argv, int *i, const char *shrt, const char *lng,
                      const char *what);
/* An integer in [lo, hi] for option opt, else a usage error. */
unsigned long long cli_count(const char *opt, const char *v, unsigned long long lo,
                             unsigned long long hi);

#endif
