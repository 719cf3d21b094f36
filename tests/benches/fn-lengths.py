#!/usr/bin/env python3
"""Function lengths of a Rust source tree: count, median and p90.

Why it exists: issue 20 asks that the median function length in
`compiler/core/src` go down, measured before and after each change. This
reads the sources as text (comments, strings, raw strings and char
literals skipped, so their braces do not count), finds every `fn` with a
body and measures it in lines, from the line of `fn` to the line of its
closing brace, both included. Functions inside `#[cfg(test)]` modules are
left out unless `--tests` is given; closures are part of the function that
holds them; a nested `fn` counts on its own and in its parent.

    python3 tests/benches/fn-lengths.py [--tests] [--top N] [DIR]

DIR defaults to `compiler/core/src`. Prints `functions N  median M  p90 P
mean X`, then with `--top N` the N longest as `lines path:line name`.
"""

import os
import re
import sys


def strip(text):
    """The text with comments, strings and char literals blanked out (line
    breaks kept, so line numbers stay)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
            continue
        if text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        raw = re.match(r'b?r(#*)"', text[i:i + 260])
        if raw and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = '"' + raw.group(1)
            j = text.find(end, i + raw.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", text[i:j + 1]))
            i = j + 1
            continue
        if c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:i + 12])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
                continue
        out.append(c)
        i += 1
    return "".join(out)


FN = re.compile(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)")
TEST_MOD = re.compile(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{")


def matching(code, open_at):
    """The index of the brace closing the one at `open_at`."""
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


def functions(path, with_tests):
    with open(path, encoding="utf-8") as f:
        code = strip(f.read())
    skipped = []
    if not with_tests:
        for m in TEST_MOD.finditer(code):
            skipped.append((m.start(), matching(code, m.end() - 1)))
    for m in FN.finditer(code):
        if any(a <= m.start() <= b for a, b in skipped):
            continue
        # the body starts at the first `{` outside the signature's brackets
        depth, j = 0, m.end()
        while j < len(code):
            ch = code[j]
            if ch in "(<[":
                depth += 1
            elif ch in ")>]" and not (ch == ">" and code[j - 1] == "-"):
                depth -= 1
            elif ch == ";" and depth <= 0:
                j = -1
                break
            elif ch == "{" and depth <= 0:
                break
            j += 1
        if j < 0 or j >= len(code):
            continue
        end = matching(code, j)
        first = code.count("\n", 0, m.start()) + 1
        last = code.count("\n", 0, end) + 1
        yield last - first + 1, first, m.group(1)


def percentile(sorted_values, p):
    if not sorted_values:
        return 0
    k = max(0, min(len(sorted_values) - 1, round(p * (len(sorted_values) - 1))))
    return sorted_values[k]


def main(argv):
    with_tests = "--tests" in argv
    top = 0
    args = [a for a in argv if a != "--tests"]
    if "--top" in args:
        i = args.index("--top")
        top = int(args[i + 1])
        del args[i:i + 2]
    root = args[0] if args else "compiler/core/src"
    found = []
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            if name.endswith(".rs"):
                path = os.path.join(folder, name)
                for length, line, fn in functions(path, with_tests):
                    found.append((length, f"{path}:{line}", fn))
    lengths = sorted(f[0] for f in found)
    mean = sum(lengths) / len(lengths) if lengths else 0
    print(
        f"functions {len(lengths)}  median {percentile(lengths, 0.5)}  "
        f"p90 {percentile(lengths, 0.9)}  mean {mean:.1f}"
    )
    for length, where, fn in sorted(found, reverse=True)[:top]:
        print(f"{length:5} {where} {fn}")


if __name__ == "__main__":
    main(sys.argv[1:])
