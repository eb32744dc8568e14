# docs/man/man.mk — man pages rendered from the manual pages under docs/ (included by the top
# Makefile):
#
#   make man           build/man/lmconvert.1, lmscore.1, lminfo.1, lmserve.8
#                      (docs/man/readme2man.py; docs/lmconvert.md, lmscore.md, lminfo.md and
#                      lmserve.md are the one source, with docs/tools.md and docs/csv.md)
#   make install       also installs them under $(MANDIR) (default $(PREFIX)/share/man)
#   make uninstall     removes exactly what `make install` put there (the files below and the
#                      top Makefile's install list), and no directory
#   make check-man     (run by `make check`) every page renders with man -l and groff without a
#                      warning and has NAME, SYNOPSIS, OPTIONS and EXIT STATUS; install then
#                      uninstall into a scratch DESTDIR (with a LIBDIR other than PREFIX/lib)
#                      leaves no file behind

MANDIR    ?= $(PREFIX)/share/man
MAN_PAGES := $(BUILD)/man/lmconvert.1 $(BUILD)/man/lmscore.1 $(BUILD)/man/lminfo.1 \
             $(BUILD)/man/lmserve.8
# What the top Makefile's install target puts under $(PREFIX) and $(LIBDIR), for uninstall.
INSTALLED := $(PREFIX)/include/lmrt.h $(TOOLS:%=$(PREFIX)/bin/%) $(PREFIX)/bin/lmserve \
             $(addprefix $(LIBDIR)/,liblmrt.a liblmconvert.a liblmrt.so.0 liblmconvert.so.0 \
               liblmrt.so liblmconvert.so pkgconfig/lmrt.pc pkgconfig/lmrt-convert.pc)
DEBS += man-db groff-base

.PHONY: man install-man uninstall check-man
man: $(MAN_PAGES)

MAN_SRC   := docs/lmconvert.md docs/lmscore.md docs/lminfo.md docs/lmserve.md docs/tools.md docs/csv.md
$(BUILD)/man/%: $(MAN_SRC) docs/man/readme2man.py include/lmrt.h
	@mkdir -p $(@D)
	/usr/bin/python3 docs/man/readme2man.py docs $@

install: install-man
install-man: $(MAN_PAGES)
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 644 $(filter %.1,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(filter %.8,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man8/

uninstall:
	rm -f $(INSTALLED:%=$(DESTDIR)%)
	rm -f $(patsubst $(BUILD)/man/%.1,$(DESTDIR)$(MANDIR)/man1/%.1,$(filter %.1,$(MAN_PAGES))) \
	      $(patsubst $(BUILD)/man/%.8,$(DESTDIR)$(MANDIR)/man8/%.8,$(filter %.8,$(MAN_PAGES)))

check: check-man
check-man: $(MAN_PAGES) all
	@for p in $(MAN_PAGES); do \
	  w=$$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l $$p 2>&1 >/dev/null; groff -man -ww -z $$p 2>&1); \
	  if [ -n "$$w" ]; then echo "check-man: $$p: $$w" >&2; exit 1; fi; \
	  t=$$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l $$p 2>/dev/null); \
	  for s in NAME SYNOPSIS OPTIONS 'EXIT STATUS' 'SEE ALSO'; do \
	    printf '%s\n' "$$t" | grep -qx "$$s" || { echo "check-man: $$p has no $$s section" >&2; exit 1; }; \
	  done; \
	done
	@d=$$(mktemp -d) && $(MAKE) -s install DESTDIR=$$d PREFIX=/usr/local LIBDIR=/usr/local/lib/multi-arch >/dev/null && \
	  n=$$(find $$d -type f | wc -l) && \
	  for p in lmconvert.1 lmscore.1 lminfo.1 lmserve.8; do \
	    s=$${p##*.}; [ -f $$d/usr/local/share/man/man$$s/$$p ] || { echo "check-man: make install did not install $$p" >&2; exit 1; }; \
	  done && \
	  grep -qx 'libdir=$${prefix}/lib/multi-arch' $$d/usr/local/lib/multi-arch/pkgconfig/lmrt.pc || \
	    { echo "check-man: LIBDIR not in lmrt.pc" >&2; exit 1; } && \
	  $(MAKE) -s uninstall DESTDIR=$$d PREFIX=/usr/local LIBDIR=/usr/local/lib/multi-arch >/dev/null && \
	  left=$$(find $$d \( -type f -o -type l \) | sed "s|^$$d||") && \
	  if [ -n "$$left" ]; then echo "check-man: make uninstall left:" $$left >&2; rm -rf $$d; exit 1; fi && \
	  rm -rf $$d && echo "check-man: 4 pages render without warnings; install put $$n files, uninstall removed them all"
