#!/usr/bin/env python3
"""Check the relative links of every tracked Markdown file.

Usage: check_links.py [SOURCE_ROOT]   (default: the current directory)

For each `*.md` that git tracks, every inline link or image
(`[text](target)`, `![alt](target)`) and every reference definition
(`[id]: target`) outside code is checked:

- a relative target (anchor stripped) must name a file git tracks, or a
  directory holding one (`git ls-files`): a file that exists but is
  untracked or ignored would be missing from a clone;
- an anchor (`#heading`, `file.md#heading`) into a Markdown file must match
  one of its headings, slugged as GitHub does (lower case, punctuation
  dropped, spaces to hyphens, -1, -2 ... for repeats).

Links with a scheme (https:, mailto: ...) are not checked. Exit 0 when all
resolve, 1 listing each broken link as FILE:LINE: message, 77 (skip) when
SOURCE_ROOT is not a git checkout or git is missing.
"""

import os
import posixpath
import re
import subprocess
import sys
import urllib.parse

SKIP = 77

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
INLINE = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFDEF = re.compile(r"^ {0,3}\[([^\]]+)\]:[ \t]*(<[^>]*>|\S+)", re.M)
HTML_ID = re.compile(r"<a\s[^>]*\b(?:name|id)=\"([^\"]+)\"", re.I)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def git_files(root):
    """The tracked files (with staged ones), or None outside a checkout."""
    try:
        inside = subprocess.run(
            ["git", "-C", root, "rev-parse", "--is-inside-work-tree"],
            capture_output=True, text=True)
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return None
        top = subprocess.run(
            ["git", "-C", root, "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, check=True).stdout.strip()
        out = subprocess.run(
            ["git", "-C", top, "ls-files", "-z"],
            capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    files = {f for f in out.decode("utf-8", "replace").split("\0") if f}
    return top, files


def blank_code(text):
    """Replace fenced blocks and code spans by spaces, keeping newlines."""
    out, fence = [], None
    for line in text.split("\n"):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0] * len(m.group(1))
            out.append("")
        elif fence is not None:
            if m and m.group(1).startswith(fence):
                fence = None
            out.append("")
        else:
            out.append(line)
    text = "\n".join(out)
    return re.sub(r"(`+)(.+?)\1",
                  lambda m: re.sub(r"[^\n]", " ", m.group(0)),
                  text, flags=re.S)


def slug(heading):
    """GitHub's anchor for a heading's text (before de-duplication)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "")
    text = re.sub(r"(\*\*|\*|~~)", "", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text):
    seen, result = {}, set()
    for line in blank_code_keep_headings(text):
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else "%s-%d" % (base, n))
    result.update(HTML_ID.findall(text))
    return result


def blank_code_keep_headings(text):
    """Lines outside fenced blocks (headings keep their code spans)."""
    fence = None
    for line in text.split("\n"):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0] * len(m.group(1))
        elif fence is not None:
            if m and m.group(1).startswith(fence):
                fence = None
        else:
            yield line


def links(text):
    """(line number, target) for every link outside code."""
    clean = blank_code(text)
    for m in INLINE.finditer(clean):
        yield clean.count("\n", 0, m.start(2)) + 1, m.group(2)
    for m in REFDEF.finditer(clean):
        yield clean.count("\n", 0, m.start(2)) + 1, m.group(2)


def self_test():
    cases = {
        "The core's contract (`common/conn.h`)":
            "the-cores-contract-commonconnh",
        "Results: a full run (2026-11-30)": "results-a-full-run-2026-11-30",
        "Which model should I pick?": "which-model-should-i-pick",
        "`--threads N` and SO_REUSEPORT": "--threads-n-and-so_reuseport",
        "Ties, wins & losses": "ties-wins--losses",
    }
    for text, want in cases.items():
        got = slug(text)
        assert got == want, "slug(%r) = %r, want %r" % (text, got, want)
    doc = "# A\n## A\n```\n# not a heading [x](nowhere)\n```\n## C# ##\n"
    assert anchors(doc) == {"a", "a-1", "c"}, anchors(doc)
    assert list(links(doc)) == [], list(links(doc))
    assert list(links("`[x](nowhere)` and [ok](a.md#b \"t\")\n")) == \
        [(1, "a.md#b")]


def main():
    self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    got = git_files(root)
    if got is None:
        print("check_links: %s is not a git checkout (or no git): skipped"
              % root)
        return SKIP
    top, files = got
    dirs = set()
    for f in files:
        d = posixpath.dirname(f)
        while d:
            dirs.add(d)
            d = posixpath.dirname(d)
    docs = sorted(f for f in files if f.lower().endswith(".md"))
    texts, heads = {}, {}

    def text_of(path):
        if path not in texts:
            try:
                with open(os.path.join(top, path), encoding="utf-8") as fh:
                    texts[path] = fh.read()
            except OSError:
                texts[path] = None
        return texts[path]

    def heads_of(path):
        if path not in heads:
            heads[path] = anchors(text_of(path) or "")
        return heads[path]

    bad, checked = [], 0
    for doc in docs:
        text = text_of(doc)
        if text is None:
            bad.append("%s: tracked but not readable" % doc)
            continue
        for line, target in links(text):
            where = "%s:%d" % (doc, line)
            if target.startswith("<") and target.endswith(">"):
                target = target[1:-1]
            if SCHEME.match(target):
                continue
            path, _, frag = target.partition("#")
            path = urllib.parse.unquote(path)
            frag = urllib.parse.unquote(frag)
            if not path and not frag:
                continue  # [x]() or a blanked code span: nothing to check
            checked += 1
            if path:
                if path.startswith("/"):
                    full = posixpath.normpath(path.lstrip("/"))
                else:
                    full = posixpath.normpath(
                        posixpath.join(posixpath.dirname(doc), path))
                if full.startswith("../") or full == "..":
                    bad.append("%s: %s leaves the repository" % (where, target))
                    continue
                if full == ".":
                    full = ""
                if full not in files and full not in dirs and full != "":
                    why = ("exists but git does not track it"
                           if os.path.exists(os.path.join(top, full))
                           else "no such file")
                    bad.append("%s: %s: %s" % (where, target, why))
                    continue
            else:
                full = doc
            if frag and full in files and full.lower().endswith(".md"):
                if frag.lower() not in heads_of(full):
                    bad.append("%s: %s: no heading #%s in %s"
                               % (where, target, frag, full))
    for b in bad:
        print(b)
    print("check_links: %d Markdown files, %d relative links, %d broken"
          % (len(docs), checked, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
