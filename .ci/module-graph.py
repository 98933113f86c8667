#!/usr/bin/env python3
"""The crate's file-level import graph: which source file uses items of which.

Every path into the crate (`use crate::…`, `use super::…`, and paths written inline
such as `crate::record::format_time(…)`) is resolved to the file that defines the item,
following `pub use` re-exports. Test modules (`#[cfg(test)]` to the end of the file)
are left out: a test may look at anything.

    .ci/module-graph.py             the import circles between files, and the files
                                    over the size limit; exits 1 when there is a circle
    .ci/module-graph.py --edges     every edge, "from -> to"
    .ci/module-graph.py --dot       the graph for Graphviz

A file over 800 lines passes only when its first doc comment says why it is one thing
(a line containing "one cohesive").
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
SIZE_LIMIT = 800


def module_files():
    """Map module path tuples (("run", "engine")) to file names (relative to src/)."""
    mods = {}
    for dirpath, _, files in os.walk(ROOT):
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), ROOT)
            parts = rel[:-3].split(os.sep)
            if parts in (["lib"], ["main"]):
                parts = []
            elif parts[-1] == "mod":
                parts = parts[:-1]
            if rel == "main.rs":
                continue
            mods[tuple(parts)] = rel
    return mods


def strip(source):
    """The source without comments, string contents and the trailing test module."""
    m = re.search(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{", source)
    if m:
        source = source[: m.start()]
    out, i, n = [], 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            j = source.find("\n", i)
            i = n if j < 0 else j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == '"' or source.startswith('r"', i) or source.startswith("r#", i):
            # raw strings r"…", r#"…"#, and ordinary strings
            if c == "r":
                hashes = re.match(r"r(#*)\"", source[i:])
                if not hashes:
                    out.append(c)
                    i += 1
                    continue
                end = '"' + hashes.group(1)
                j = source.find(end, i + len(hashes.group(0)))
                i = n if j < 0 else j + len(end)
            else:
                j = i + 1
                while j < n and source[j] != '"':
                    j += 2 if source[j] == "\\" else 1
                i = j + 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", source[i : i + 4]):
            i += len(re.match(r"'(\\.|[^\\'])'", source[i : i + 4]).group(0))
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def use_trees(text):
    """Yield (is_pub, path) for every leaf of every `use` declaration."""
    for m in re.finditer(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", text):
        is_pub = bool(m.group(1))
        tree = re.sub(r"\s+as\s+(\w+)", r"@\1", m.group(2))
        for path in expand(re.sub(r"\s+", "", tree)):
            yield is_pub, path


def expand(tree):
    """`a::{b,c::{d,e}}` → ["a::b", "a::c::d", "a::c::e"]."""
    brace = tree.find("{")
    if brace < 0:
        return [tree]
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    leaves = []
    for p in parts:
        if not p:
            continue
        for leaf in expand(p):
            leaves.append(prefix + leaf if leaf != "self" else prefix.rstrip(":"))
    return leaves


class Crate:
    def __init__(self):
        self.files = module_files()
        self.text = {}
        self.items = {}
        self.reexports = {}
        self.globs = {}
        for mod, rel in self.files.items():
            with open(os.path.join(ROOT, rel)) as f:
                text = strip(f.read())
            self.text[mod] = text
            names = set(
                re.findall(
                    r"\b(?:fn|struct|enum|trait|type|const|static|union|macro_rules!)\s+([A-Za-z_]\w*)",
                    text,
                )
            )
            self.items[mod] = names
            self.reexports[mod] = {}
            self.globs[mod] = []
            for is_pub, path in use_trees(text):
                if not is_pub:
                    continue
                if path.endswith("::*"):
                    self.globs[mod].append(path[:-3])
                else:
                    path, _, alias = path.partition("@")
                    self.reexports[mod][alias or path.split("::")[-1]] = path

    def absolute(self, mod, path):
        """Module path tuple plus remaining segments for a path written in `mod`."""
        segs = [s for s in path.split("::") if s]
        if not segs:
            return None
        if segs[0] == "crate":
            return (), segs[1:]
        if segs[0] in ("super", "self"):
            base = list(mod)
            while segs and segs[0] in ("super", "self"):
                if segs[0] == "super":
                    if not base:
                        return None
                    base.pop()
                segs = segs[1:]
            return tuple(base), segs
        if (mod + (segs[0],)) in self.files:  # a child module named directly
            return mod, segs
        return None

    def resolve(self, mod, path, depth=0):
        """The module (file) that defines what `path`, written in `mod`, names."""
        start = self.absolute(mod, path)
        if start is None or depth > 10:
            return None
        cur, segs = start
        for i, seg in enumerate(segs):
            child = cur + (seg,)
            if child in self.files:
                cur = child
                continue
            if seg in self.reexports.get(cur, {}):
                target = self.resolve(cur, self.reexports[cur][seg], depth + 1)
                return target or cur
            if seg in self.items.get(cur, set()):
                return cur
            for glob in self.globs.get(cur, []):
                target = self.resolve(cur, glob + "::" + seg, depth + 1)
                if target is not None:
                    return target
            return cur
        return cur

    def edges(self):
        edges = set()
        for mod, text in self.text.items():
            paths = [p.partition("@")[0] for _, p in use_trees(text)]
            inline = re.findall(r"(?<![\w:])((?:crate|super|self)(?:::[A-Za-z_]\w*)+)", text)
            # a child module named inline: `composite::run(…)` in run/actions/mod.rs
            children = [m[-1] for m in self.files if len(m) == len(mod) + 1 and m[:-1] == mod]
            for child in children:
                inline += re.findall(r"(?<![\w:])(" + child + r"(?:::[A-Za-z_]\w*)+)", text)
            for path in paths + inline:
                target = self.resolve(mod, path)
                if target is not None and target != mod and target in self.files:
                    edges.add((self.files[mod], self.files[target]))
        return edges


def cycles(nodes, edges):
    """Strongly connected components with more than one file (Tarjan)."""
    graph = {n: [] for n in nodes}
    for a, b in edges:
        graph[a].append(b)
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for n in sorted(nodes):
        if n not in index:
            visit(n)
    return out


def main():
    crate = Crate()
    edges = crate.edges()
    nodes = set(crate.files.values())
    if "--edges" in sys.argv:
        for a, b in sorted(edges):
            print(f"{a} -> {b}")
        return 0
    if "--dot" in sys.argv:
        print("digraph mlci {")
        for a, b in sorted(edges):
            print(f'  "{a}" -> "{b}";')
        print("}")
        return 0
    status = 0
    circles = cycles(nodes, edges)
    for comp in circles:
        print("import circle: " + ", ".join(comp))
        for a, b in sorted(edges):
            if a in comp and b in comp:
                print(f"    {a} -> {b}")
        status = 1
    for rel in sorted(nodes):
        with open(os.path.join(ROOT, rel)) as f:
            source = f.read()
        lines = source.count("\n")
        head = source.split("\n\n")[0]
        if lines > SIZE_LIMIT and "one cohesive" not in head:
            print(f"over {SIZE_LIMIT} lines: {rel} ({lines}), and its doc comment does not say why it is one thing")
            status = 1
    if status == 0:
        print(f"{len(nodes)} files, {len(edges)} imports between them, no import circle")
    return status


if __name__ == "__main__":
    sys.exit(main())
