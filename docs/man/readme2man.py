#!/usr/bin/python3
"""readme2man.py — render the tools' manual pages under docs/ into man pages, so that
docs/lmconvert.md, docs/lmscore.md, docs/lminfo.md and docs/lmserve.md are the one source of
lmconvert(1), lmscore(1), lminfo(1) and lmserve(8).

    /usr/bin/python3 docs/man/readme2man.py docs build/man/lmscore.1

The page's name and section come from the output file name. The text is DOCS/NAME.md from its
"## NAME" heading up to the next "---" rule (or a "# " title, or the end): each "## TITLE"
becomes .SH TITLE ("### " .SS), paragraphs .PP, indented code blocks .nf/.fi, "`option`"
followed by ": text" lines and tables .TP entries, "- " bullets .IP; `code`, **bold**, *italic*
and [links](...) become \\fB, \\fI and plain text. Added to every page: CONVENTIONS (the
paragraph "Common to all four" of DOCS/tools.md), for lmscore(1) CSV INPUT (DOCS/csv.md after
its title), and SEE ALSO. Standard library only, no network; the output is plain man(7) roff
that `man -l` renders. (The name is historical: the pages were sections of README.md.)
"""
import os
import re
import sys
import time

PAGES = {"lmconvert": "1", "lmscore": "1", "lminfo": "1", "lmserve": "8"}
CHARS = {"—": r"\(em", "–": r"\(en", "…": "...", "≥": r"\(>=", "≤": r"\(<=", "×": r"\(mu",
         "·": r"\(md", "±": r"\(+-", "µ": r"\(mc", "→": r"\(->", "−": r"\-", "▶": r"\(->",
         "’": "'", "“": '"', "”": '"'}


def manual(lines, path):
    """Lines of a manual page: from '## NAME' up to the next '---' rule or '# ' title."""
    try:
        start = lines.index("## NAME")
    except ValueError:
        sys.exit(f"readme2man: {path} has no section '## NAME'")
    return body_until_rule(lines[start:])


def body_until_rule(lines):
    """Lines up to the next '---' rule or '# ' title."""
    out = []
    for line in lines:
        if line.strip() == "---" or line.startswith("# "):
            break
        out.append(line)
    return out


def read_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().split("\n")
    except OSError as e:
        sys.exit(f"readme2man: {path}: {e.strerror}")


def esc(text):
    """Escape plain text for roff (backslashes, characters groff spells otherwise)."""
    text = text.replace("\\", r"\e")
    for k, v in CHARS.items():
        text = text.replace(k, v)
    return text


def inline(text):
    """Markdown inline markup to roff fonts."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "`":
            j = text.find("`", i + 1)
            if j > i:
                code = esc(text[i + 1:j]).replace("-", r"\-")
                out.append(r"\fB" + code + r"\fR")
                i = j + 1
                continue
        if text.startswith("**", i):
            j = text.find("**", i + 2)
            if j > i:
                out.append(r"\fB" + inline(text[i + 2:j]) + r"\fR")
                i = j + 2
                continue
        if text[i] == "*" and i + 1 < len(text) and text[i + 1] not in " *":
            j = text.find("*", i + 1)
            if j > i:
                out.append(r"\fI" + inline(text[i + 1:j]) + r"\fR")
                i = j + 1
                continue
        if text[i] == "[":
            m = re.match(r"\[([^\]]*)\]\(([^)]*)\)", text[i:])
            if m:
                label, url = m.group(1), m.group(2)
                out.append(inline(label))
                if url.startswith("http"):
                    out.append(" <" + esc(url) + ">")
                i += m.end()
                continue
        out.append(esc(text[i]))
        i += 1
    return "".join(out)


def text_line(s):
    """A roff text line: never starting with a control character."""
    s = s.strip()
    return ("\\&" + s) if s[:1] in (".", "'") else s


def cells(row):
    """Table row cells, splitting on '|' outside backticks."""
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|"):
        row = row[:-1]
    out, cur, code = [], "", False
    for ch in row:
        if ch == "`":
            code = not code
        if ch == "|" and not code:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return out


def render(lines, out):
    """Markdown lines (a manual page's sections) to roff, appended to out."""
    i, para = 0, []

    def flush():
        if para:
            out.append(".PP")
            out.extend(text_line(inline(p)) for p in para)
            para.clear()

    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            flush()
            out.append(".SH " + esc(line[3:].strip().upper()))
            i += 1
        elif line.startswith("### "):
            flush()
            out.append(".SS " + esc(line[4:].strip()))
            i += 1
        elif not line.strip():
            flush()
            i += 1
        elif line.startswith("    "):
            flush()
            block = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out.extend([".PP", ".RS 4", ".nf"])
            out.extend(("\\&" + esc(b)) if b else "" for b in block)
            out.extend([".fi", ".RE"])
        elif line.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            head, body = rows[0], [r for r in rows[2:]]
            for r in body:
                out.append(".TP")
                out.append(text_line(inline(r[0])) or "\\&")
                rest = r[1:]
                if len(head) >= 3 and head[1].lower() == "default":
                    text = ("Default: " + rest[0] + ". " if rest[0] else "") + " ".join(rest[1:])
                else:
                    text = " ".join(c for c in rest if c)
                out.append(text_line(inline(text)) if text else "\\&")
        elif i + 1 < len(lines) and lines[i + 1].startswith(": "):
            flush()
            out.append(".TP")
            out.append(text_line(inline(line)))
            i += 1
            body = [lines[i][2:]]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                body.append(lines[i].strip())
                i += 1
            out.extend(text_line(inline(b)) for b in body)
        elif line.startswith("- "):
            flush()
            item = [line[2:]]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                item.append(lines[i].strip())
                i += 1
            out.append(".IP \\(bu 2")
            out.extend(text_line(inline(t)) for t in item)
        else:
            para.append(line)
            i += 1
    flush()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: readme2man.py DOCS_DIR OUT/NAME.SECTION")
    docs, dest = sys.argv[1], sys.argv[2]
    name, _, sec = os.path.basename(dest).rpartition(".")
    if PAGES.get(name) != sec:
        sys.exit(f"readme2man: no page {name}({sec}); pages: " +
                 ", ".join(f"{k}({v})" for k, v in PAGES.items()))
    page = os.path.join(docs, name + ".md")
    lines = read_lines(page)
    version = "?"
    here = os.path.dirname(os.path.abspath(docs))
    try:
        with open(os.path.join(here, "include", "lmrt.h"), encoding="utf-8") as f:
            m = re.search(r'#define LM_VERSION_STRING "([^"]*)"', f.read())
            version = m.group(1) if m else "?"
    except OSError:
        pass
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", os.stat(page).st_mtime))
    date = time.strftime("%Y-%m-%d", time.gmtime(epoch))
    body = manual(lines, page)
    out = [f'.\\" Generated from docs/{name}.md by docs/man/readme2man.py: edit that file, not this one.',
           f'.TH {name.upper()} {sec} "{date}" "lmrt {version}" "lmrt manual"']
    render(body, out)
    # NAME must read "name \- description" for whatis and apropos
    for k, l in enumerate(out):
        if l.startswith(name + r" \(em "):
            out[k] = name + r" \- " + l[len(name) + 6:]
    tools = read_lines(os.path.join(docs, "tools.md"))
    common = [l for l in tools if l.startswith("Common to all four")]
    if common:
        start = tools.index(common[0])
        para = []
        for l in tools[start:]:
            if not l.strip():
                break
            para.append(l)
        out.append(".SH CONVENTIONS")
        render(para, out)
    if name == "lmscore":
        csv = read_lines(os.path.join(docs, "csv.md"))
        if csv and csv[0].startswith("# "):
            csv = csv[1:]
        out.append(".SH CSV INPUT")
        render(body_until_rule(csv), out)
    others = [f"\\fB{k}\\fR({v})" for k, v in PAGES.items() if k != name]
    out.append(".SH SEE ALSO")
    out.append(", ".join(others) + ", and the docs/ directory of lmrt (docs/" + name + ".md).")
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    tmp = dest + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    os.replace(tmp, dest)


if __name__ == "__main__":
    main()
