#!/usr/bin/env python3
"""Turns a Markdown file's runnable shell blocks into one bash script.

A runnable block is a ```sh fence right after a `<!-- runnable -->` line.
Every other ```sh fence must follow `<!-- not run: WHY -->`, so a new
block cannot go untested by being forgotten. In a runnable block, a line
`#> TEXT` says the output of the commands above it (since the previous
`#>` group) contains TEXT; to a reader it is the output, to bash a comment.

The script keeps each block's lines verbatim and in order, so a failure
is reported as FILE:LINE of the command in the Markdown file.
"""
import shlex
import sys

RUNNABLE = "<!-- runnable -->"
NOT_RUN = "<!-- not run:"


def blocks(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    found, errors = [], []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            lang = line.strip()[3:].strip()
            start = i
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                i += 1
            body = lines[start + 1 : i]
            if lang in ("sh", "bash", "shell", "console"):
                prev = next((l.strip() for l in reversed(lines[:start]) if l.strip()), "")
                if prev == RUNNABLE:
                    found.append((start + 2, body))  # 1-based line of the first command
                elif not prev.startswith(NOT_RUN):
                    errors.append(
                        f"{path}:{start + 1}: ```{lang} block is neither `{RUNNABLE}` "
                        f"nor `{NOT_RUN} WHY -->`"
                    )
        i += 1
    return found, errors


def script(path, found):
    out = [
        "set -Eeuo pipefail",
        "__out=$(mktemp)",
        # The ERR trap may run inside a block's redirection: report on the originals.
        "exec 3>&1 4>&2",
        # Background jobs a block started (an upstream) end with the script.
        "trap 'jobs -p | xargs -r kill 2>/dev/null; rm -f \"$__out\"' EXIT",
        "trap '__rc=$?; cat \"$__out\" >&3; "
        f"echo \"{path}:$((__rl + LINENO - __gl)): failed (exit $__rc)\" >&4' ERR",
        "__expect() {",
        '    grep -qF -- "$2" "$__out" || {',
        '        cat "$__out"',
        f'        echo "{path}:$1: output lacks: $2" >&2',
        "        exit 1",
        "    }",
        "}",
    ]
    for first, body in found:
        seg_start = 0
        while seg_start < len(body):
            # A segment: commands, then the `#>` lines that describe their output.
            j = seg_start
            while j < len(body) and not body[j].lstrip().startswith("#>"):
                j += 1
            k = j
            while k < len(body) and body[k].lstrip().startswith("#>"):
                k += 1
            out.append(f"echo '--- {path}:{first + seg_start}' >&2")
            out.append(f"__rl={first + seg_start}; __gl=$((LINENO + 2))")
            out.append("{")
            out.extend(body[seg_start:j])
            out.append('} >"$__out" 2>&1 </dev/null')
            out.append('cat "$__out"')
            for n in range(j, k):
                text = body[n].lstrip()[2:].strip()
                out.append(f"__expect {first + n} {shlex.quote(text)}")
            seg_start = k
    out.append(f"echo '{path}: {len(found)} runnable blocks passed' >&2")
    return "\n".join(out) + "\n"


def main():
    path = sys.argv[1]
    found, errors = blocks(path)
    if errors:
        sys.exit("\n".join(errors))
    if not found:
        sys.exit(f"{path}: no runnable blocks")
    sys.stdout.write(script(path, found))


if __name__ == "__main__":
    main()
