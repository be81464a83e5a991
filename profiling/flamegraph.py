#!/usr/bin/env python3
"""Fold `perf script` output into stacks and draw them as a flame graph.

    flamegraph.py [--title T] [--folded OUT.folded] [--top N] PERF-SCRIPT.txt OUT.svg

The input is the text `perf script` prints for a `perf record -g` run:
one block per sample, a header line (command, pid, time, event) and one
line per frame (address, symbol+offset, object), innermost first, blocks
separated by blank lines.  Folded stacks are "root;...;leaf count" lines.
The SVG is self-contained: no scripts, no fonts or styles fetched from
anywhere; each box carries its full name and sample share in a <title>
tooltip.  With --top N the N functions with the most self samples are
printed to stdout as a Markdown table.
"""

import argparse
import collections
import html
import re
import sys

FRAME = re.compile(r"^\s*[0-9a-fA-F]+\s+(.*?)\s+\((.*)\)\s*$")


def clean_symbol(sym, obj):
    if sym in ("[unknown]", ""):
        base = obj.rsplit("/", 1)[-1]
        return "[%s]" % base if base else "[unknown]"
    sym = re.sub(r"\+0x[0-9a-fA-F]+$", "", sym)
    return sym.replace(";", ":")


def fold(lines):
    stacks = collections.Counter()
    frames = []
    comm = None
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if frames or comm:
                stacks[";".join([comm or "?"] + frames[::-1])] += 1
            frames, comm = [], None
            continue
        if not line[0].isspace():
            comm = line.split()[0] if line.split() else "?"
            frames = []
            continue
        m = FRAME.match(line)
        if m:
            frames.append(clean_symbol(m.group(1), m.group(2)))
    if frames or comm:
        stacks[";".join([comm or "?"] + frames[::-1])] += 1
    return stacks


def self_time(stacks):
    self_counts = collections.Counter()
    for stack, n in stacks.items():
        self_counts[stack.rsplit(";", 1)[-1]] += n
    return self_counts


class Node:
    __slots__ = ("name", "count", "children")

    def __init__(self, name):
        self.name = name
        self.count = 0
        self.children = {}


def build_tree(stacks):
    root = Node("all")
    for stack, n in stacks.items():
        root.count += n
        node = root
        for frame in stack.split(";"):
            child = node.children.get(frame)
            if child is None:
                child = node.children[frame] = Node(frame)
            child.count += n
            node = child
    return root


def color(name):
    h = 0
    for ch in name:
        h = (h * 31 + ord(ch)) & 0xFFFFFFFF
    if name.startswith("mesh_") or name.startswith("meshara_"):
        base = (230, 120 + h % 60, 40 + h % 40)        # the library: orange
    elif name.startswith("["):
        base = (160 + h % 40, 160 + h % 40, 160 + h % 40)  # unknown: grey
    else:
        base = (200 + h % 55, 60 + h % 90, 50 + h % 30)    # others: red
    return "rgb(%d,%d,%d)" % base


def render(root, title, width=1200, row=17):
    depth = [0]

    def measure(node, d):
        depth[0] = max(depth[0], d)
        for c in node.children.values():
            measure(c, d + 1)

    measure(root, 0)
    height = (depth[0] + 1) * row + 60
    total = max(root.count, 1)
    scale = (width - 20) / total
    out = []
    out.append('<?xml version="1.0" standalone="no"?>')
    out.append('<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
               'width="%d" height="%d" viewBox="0 0 %d %d">' % (width, height, width, height))
    out.append('<rect x="0" y="0" width="%d" height="%d" fill="#f8f8f0"/>' % (width, height))
    out.append('<text x="%d" y="24" font-family="monospace" font-size="16" '
               'text-anchor="middle">%s</text>' % (width // 2, html.escape(title)))
    out.append('<text x="10" y="%d" font-family="monospace" font-size="11">'
               '%d samples; width = share of samples, bottom = outermost frame; '
               'hover for names</text>' % (height - 8, root.count))

    def draw(node, x, d):
        w = node.count * scale
        if w < 0.3:
            return
        y = height - 30 - (d + 1) * row
        pct = 100.0 * node.count / total
        label = "%s (%d samples, %.2f%%)" % (node.name, node.count, pct)
        out.append('<g><title>%s</title><rect x="%.2f" y="%d" width="%.2f" height="%d" '
                   'fill="%s" stroke="#f8f8f0" stroke-width="0.5"/>'
                   % (html.escape(label), x, y, w, row - 1, color(node.name)))
        chars = int(w / 7)
        if chars >= 3:
            text = node.name if len(node.name) <= chars else node.name[:chars - 2] + ".."
            out.append('<text x="%.2f" y="%d" font-family="monospace" font-size="11">%s</text>'
                       % (x + 2, y + row - 5, html.escape(text)))
        out.append('</g>')
        cx = x
        for c in sorted(node.children.values(), key=lambda n: n.name):
            draw(c, cx, d + 1)
            cx += c.count * scale

    draw(root, 10, 0)
    out.append('</svg>')
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--title", default="CPU flame graph")
    ap.add_argument("--folded")
    ap.add_argument("--top", type=int, default=0)
    ap.add_argument("input")
    ap.add_argument("output")
    a = ap.parse_args()
    with open(a.input, errors="replace") as f:
        stacks = fold(f)
    if not stacks:
        sys.exit("flamegraph.py: no samples in %s" % a.input)
    if a.folded:
        with open(a.folded, "w") as f:
            for stack, n in sorted(stacks.items()):
                f.write("%s %d\n" % (stack, n))
    with open(a.output, "w") as f:
        f.write(render(build_tree(stacks), a.title))
    if a.top:
        total = sum(stacks.values())
        print("| function | self samples | self % |")
        print("|---|---:|---:|")
        for name, n in self_time(stacks).most_common(a.top):
            print("| `%s` | %d | %.1f |" % (name.replace("|", "/"), n, 100.0 * n / total))


if __name__ == "__main__":
    main()
