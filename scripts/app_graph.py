#!/usr/bin/env python3
"""App-level import graph of a Django project package, computed with `ast` (nothing is imported).

Usage:
    scripts/app_graph.py /work/main/callops                 # full report
    scripts/app_graph.py /work/main/callops --pairs-only    # two-way pairs and cycle summary only
    scripts/app_graph.py ROOT --map 'callops.calls.batch*=batches'   # as if those modules were app batches
    scripts/app_graph.py ROOT --no-default-map              # take apps literally from the tree
    scripts/app_graph.py ROOT --include-migrations --include-root

An "app" is the first package under ROOT (callops/<app>/...). Modules directly under ROOT
(settings, urls, healthz, wsgi) form the pseudo-app "<root>" and are left out of the pair report
unless --include-root is given (they are the composition root: they may import all). `--map`
counts modules matching a glob as another app (to try a move before making it).

For each import the report says:
  M  module-level (including class bodies and `if`/`try` at module level)
  F  function-level (inside a def/lambda): "hidden" dependencies
  T  under `if TYPE_CHECKING:` (type-only; not counted as an edge, listed for information)
  D  dynamic: importlib.import_module("callops...") / __import__ with a literal string
and flags `try-ImportError` when the import sits in a try whose handler catches ImportError.
Function-level imports are listed with the comment on their line or on the comment lines
directly above them (the "which cycle it breaks" explanation the issue asks for).

String references (e.g. RQ job paths "callops.calls.jobs.place", apps.get_model("calls", ...),
settings strings) are reported with --strings; they are not counted as edges.

Exit status is 0; pipe through `grep` for checks in CI if wanted.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field

DEFAULT_MAP: list[tuple[str, str]] = []


@dataclass
class Imp:
    src_mod: str
    src_app: str
    dst_mod: str
    dst_app: str
    names: list[str]
    path: str
    line: int
    kind: str  # M, F, T, D
    func: str | None = None
    try_importerror: bool = False
    comment: str = ""
    flags: list[str] = field(default_factory=list)
    cls: str | None = None
    verdict: str = ""  # for F imports: why it is (or is not) needed at function level


def module_name(root: str, path: str) -> str:
    pkg = os.path.basename(os.path.normpath(root))
    rel = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
    if rel.endswith(".__init__"):
        rel = rel[: -len(".__init__")]
    elif rel == "__init__":
        return pkg
    return f"{pkg}.{rel}"


class Resolver:
    def __init__(self, root: str, mapping: list[tuple[str, str]]):
        self.root = os.path.normpath(root)
        self.pkg = os.path.basename(self.root)
        self.mapping = mapping
        self.modules: set[str] = set()

    def is_module(self, dotted: str) -> bool:
        return dotted in self.modules

    def app_of(self, dotted: str) -> str | None:
        if dotted != self.pkg and not dotted.startswith(self.pkg + "."):
            return None
        for pattern, app in self.mapping:
            if fnmatch.fnmatchcase(dotted, pattern) or dotted.startswith(pattern + "."):
                return app
        parts = dotted.split(".")
        if len(parts) == 1:
            return "<root>"
        # callops.<app>.x -> <app> if callops/<app> is a package, else the top module is root
        if os.path.isdir(os.path.join(self.root, parts[1])):
            return parts[1]
        return "<root>"


def comment_for(lines: list[str], lineno: int) -> str:
    """Comment on the import's own line, or the block of comment lines directly above it."""
    out = []
    own = lines[lineno - 1]
    m = re.search(r"#(.*)$", own)
    if m and "import" in own.split("#", 1)[0]:
        out.append(m.group(1).strip())
    i = lineno - 2
    above = []
    while i >= 0 and lines[i].strip().startswith("#"):
        above.append(lines[i].strip().lstrip("#").strip())
        i -= 1
    out = list(reversed(above)) + out
    return " ".join(x for x in out if x)


class Visitor(ast.NodeVisitor):
    def __init__(self, res: Resolver, path: str, mod: str, is_pkg: bool, lines: list[str]):
        self.res, self.path, self.mod, self.is_pkg, self.lines = res, path, mod, is_pkg, lines
        self.src_app = res.app_of(mod)
        self.func_stack: list[str] = []
        self.class_stack: list[str] = []
        self.type_checking = 0
        self.try_ie = 0
        self.out: list[Imp] = []
        self.strings: list[tuple[int, str]] = []
        self.uses_import_module = False
        self.module_strings: list[ast.Constant] = []

    # ---- scope tracking
    def _func(self, node):
        self.func_stack.append(getattr(node, "name", "<lambda>"))
        self.generic_visit(node)
        self.func_stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _func

    def visit_ClassDef(self, node: ast.ClassDef):
        self.class_stack.append(node.name)
        self.generic_visit(node)
        self.class_stack.pop()

    def visit_If(self, node: ast.If):
        test = node.test
        is_tc = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        if is_tc:
            self.type_checking += 1
            for n in node.body:
                self.visit(n)
            self.type_checking -= 1
            for n in node.orelse:
                self.visit(n)
        else:
            self.generic_visit(node)

    def visit_Try(self, node):
        catches = False
        for h in node.handlers:
            t = h.type
            names = []
            if isinstance(t, ast.Name):
                names = [t.id]
            elif isinstance(t, ast.Tuple):
                names = [e.id for e in t.elts if isinstance(e, ast.Name)]
            if {"ImportError", "ModuleNotFoundError"} & set(names):
                catches = True
        if catches:
            self.try_ie += 1
        for n in node.body:
            self.visit(n)
        if catches:
            self.try_ie -= 1
        for n in node.handlers + node.orelse + node.finalbody:
            self.visit(n)

    visit_TryStar = visit_Try

    # ---- imports
    def _kind(self) -> str:
        if self.type_checking:
            return "T"
        return "F" if self.func_stack else "M"

    def _add(self, node, dst_mod: str, names: list[str], kind: str | None = None):
        dst_app = self.res.app_of(dst_mod)
        if dst_app is None:
            return
        kind = kind or self._kind()
        imp = Imp(
            self.mod, self.src_app, dst_mod, dst_app, names, self.path, node.lineno, kind,
            func=".".join(self.func_stack) or None, try_importerror=bool(self.try_ie),
        )
        imp.cls = self.class_stack[-1] if self.class_stack else None
        if kind in ("F", "D"):
            imp.comment = comment_for(self.lines, node.lineno)
        self.out.append(imp)

    def visit_Import(self, node: ast.Import):
        for a in node.names:
            self._add(node, a.name, [a.asname or a.name])

    def visit_ImportFrom(self, node: ast.ImportFrom):
        if node.level:
            base = self.mod.split(".")
            if not self.is_pkg:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        # `from pkg import submodule` -> the submodule is the target
        plain = []
        for a in node.names:
            sub = f"{target}.{a.name}"
            if self.res.is_module(sub):
                self._add(node, sub, [a.name + (f" as {a.asname}" if a.asname else "")])
            else:
                plain.append(a.name + (f" as {a.asname}" if a.asname else ""))
        if plain:
            self._add(node, target, plain)

    def visit_Call(self, node: ast.Call):
        f = node.func
        fname = f.attr if isinstance(f, ast.Attribute) else (f.id if isinstance(f, ast.Name) else "")
        if fname in ("import_module", "__import__"):
            self.uses_import_module = True
        if fname in ("import_module", "__import__") and node.args:
            a0 = node.args[0]
            if isinstance(a0, ast.Constant) and isinstance(a0.value, str):
                self._add(node, a0.value, ["<dynamic>"], kind="D")
            elif isinstance(a0, ast.JoinedStr):
                # f"callops.{x}.y": record the literal prefix
                prefix = "".join(v.value for v in a0.values if isinstance(v, ast.Constant))
                self.strings.append((node.lineno, f"import_module(f'{prefix}...')"))
        if fname == "get_model" and len(node.args) >= 1:
            vals = [a.value for a in node.args if isinstance(a, ast.Constant)]
            self.strings.append((node.lineno, f"get_model{tuple(vals)}"))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant):
        if isinstance(node.value, str) and re.fullmatch(rf"{self.res.pkg}(\.\w+)+", node.value):
            self.strings.append((node.lineno, node.value))
            if self.res.is_module(node.value):
                self.module_strings.append(node)

    def finish(self):
        """A module that calls import_module() with a project module's dotted name held in a
        string elsewhere in the file (e.g. `_attr("callops.webhooks.services", "redeliver")`)
        imports it dynamically: count that as a D edge."""
        if self.uses_import_module:
            seen = {(i.line, i.dst_mod) for i in self.out if i.kind == "D"}
            for node in self.module_strings:
                if (node.lineno, node.value) not in seen:
                    self._add(node, node.value, ["<dynamic via import_module>"], kind="D")


def scan(root: str, mapping, include_migrations: bool):
    res = Resolver(root, mapping)
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for fn in sorted(filenames):
            if fn.endswith(".py"):
                p = os.path.join(dirpath, fn)
                files.append(p)
                res.modules.add(module_name(root, p))
    imps: list[Imp] = []
    strings: list[tuple[str, int, str, str]] = []
    for p in files:
        rel = os.path.relpath(p, os.path.dirname(os.path.normpath(root)))
        if not include_migrations and f"{os.sep}migrations{os.sep}" in p:
            continue
        src = open(p, encoding="utf-8").read()
        try:
            tree = ast.parse(src, p)
        except SyntaxError as e:
            print(f"!! cannot parse {rel}: {e}", file=sys.stderr)
            continue
        mod = module_name(root, p)
        v = Visitor(res, rel, mod, p.endswith("__init__.py"), src.splitlines())
        v.visit(tree)
        v.finish()
        imps.extend(v.out)
        strings.extend((rel, ln, s, v.src_app or "?") for ln, s in v.strings)
    return res, imps, strings


def sccs(nodes, edges):
    index, low, on, stack, out, i = {}, {}, set(), [], [], [0]

    def strong(v):
        index[v] = low[v] = i[0]
        i[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
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
            out.append(sorted(comp))

    for n in sorted(nodes):
        if n not in index:
            strong(n)
    return [c for c in out if len(c) > 1]


def classify_function_imports(res: Resolver, imps: list[Imp]) -> None:
    """Say of every function-level (F/D) import of a project module whether it has to stay there:
    - "ready()": inside AppConfig.ready, where Django wants model imports (the registry is loading);
    - "breaks cycle a -> b -> a": hoisting it to module level would close that module-level cycle;
    - "hoistable": nothing imports the importer back at module level; move it to the top.
    Only module-level imports (M) form the graph, as only they run at import time."""
    graph: dict[str, set[str]] = defaultdict(set)
    for i in imps:
        if i.kind == "M" and i.src_mod != i.dst_mod:
            graph[i.src_mod].add(i.dst_mod)
    def path(start: str, goal: str) -> list[str] | None:
        prev = {start: None}
        todo = [start]
        while todo:
            cur = todo.pop(0)
            if cur == goal:
                out = []
                while cur is not None:
                    out.append(cur)
                    cur = prev[cur]
                return out[::-1]
            for nxt in sorted(graph.get(cur, ())):
                if nxt not in prev:
                    prev[nxt] = cur
                    todo.append(nxt)
        return None
    def short(m):
        return m.removeprefix(res.pkg + ".")
    for i in imps:
        if i.kind not in ("F", "D") or i.src_mod == i.dst_mod:
            continue
        if i.func and i.func.split(".")[0] == "ready" and (i.cls or "").endswith("Config"):
            i.verdict = "ready(): Django loads models after apps.py; fine, say so in a comment"
            continue
        cyc = path(i.dst_mod, i.src_mod)
        if cyc:
            i.verdict = "breaks cycle " + " -> ".join(short(m) for m in [i.src_mod, *cyc])
        else:
            i.verdict = "hoistable (no module-level path back)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", help="package root, e.g. /work/main/callops")
    ap.add_argument("--map", action="append", default=[], metavar="GLOB=APP",
                    help="assign modules matching GLOB (dotted) to APP; repeatable")
    ap.add_argument("--no-default-map", action="store_true", help="do not simulate the batches app")
    ap.add_argument("--include-migrations", action="store_true")
    ap.add_argument("--include-root", action="store_true", help="report edges of <root> modules too")
    ap.add_argument("--pairs-only", action="store_true")
    ap.add_argument("--strings", action="store_true", help="also list dotted-path string references")
    ap.add_argument("--domain", default="accounts,batches,calls,extraction,providers,webhooks,lib",
                    help="apps that must not import the faces (api, dashboard)")
    ap.add_argument("--faces", default="api,dashboard")
    ap.add_argument("--max-two-way", type=int, default=None, metavar="N",
                    help="exit 1 when more than N two-way app pairs exist (a CI gate)")
    ap.add_argument("--forbid-domain-to-face", action="store_true",
                    help="exit 1 when a domain app imports api or dashboard")
    ap.add_argument("--forbid-uncommented", action="store_true",
                    help="exit 1 when a function-level project import is hoistable or lacks a comment")
    args = ap.parse_args()

    mapping = [] if args.no_default_map else list(DEFAULT_MAP)
    for m in args.map:
        g, a = m.split("=", 1)
        mapping.insert(0, (g, a))
    res, imps, strings = scan(args.root, mapping, args.include_migrations)

    classify_function_imports(res, imps)

    def counted(i: Imp) -> bool:
        if i.src_app == i.dst_app or i.kind == "T":
            return False
        if not args.include_root and "<root>" in (i.src_app, i.dst_app):
            return False
        return True

    pairs: dict[tuple[str, str], list[Imp]] = defaultdict(list)
    for i in imps:
        if counted(i):
            pairs[(i.src_app, i.dst_app)].append(i)

    apps = sorted({a for p in pairs for a in p})
    two_way = sorted({tuple(sorted(p)) for p in pairs if (p[1], p[0]) in pairs})
    two_way_mod = sorted({
        tuple(sorted(p)) for p, v in pairs.items()
        if (p[1], p[0]) in pairs and any(x.kind != "F" for x in v)
        and any(x.kind != "F" for x in pairs[(p[1], p[0])])
    })

    def fmt(i: Imp) -> str:
        extra = []
        if i.func:
            extra.append(f"in {i.func}()")
        if i.try_importerror:
            extra.append("try/except ImportError")
        e = f"  [{'; '.join(extra)}]" if extra else ""
        return f"    {i.kind} {i.path}:{i.line}  {i.dst_mod}: {', '.join(i.names)}{e}"

    if not args.pairs_only:
        print("# Ordered app pairs (M module-level, F function-level, D dynamic import_module)\n")
        for (a, b) in sorted(pairs):
            v = pairs[(a, b)]
            nm = sum(1 for x in v if x.kind == "M")
            nf = sum(1 for x in v if x.kind == "F")
            nd = sum(1 for x in v if x.kind == "D")
            print(f"## {a} -> {b}   ({nm} module-level, {nf} function-level, {nd} dynamic)")
            for x in sorted(v, key=lambda x: (x.path, x.line)):
                print(fmt(x))
            print()
        tc = [i for i in imps if i.kind == "T" and i.src_app != i.dst_app]
        if tc:
            print("## TYPE_CHECKING-only imports (not edges)")
            for x in tc:
                print(fmt(x))
            print()

    print("# Summary")
    matrix_apps = apps
    w = max(len(a) for a in matrix_apps) if matrix_apps else 5
    print("\nEdge matrix (row imports column; cell = module-level/function-level+dynamic):\n")
    print(" " * (w + 2) + " ".join(f"{a[:9]:>9}" for a in matrix_apps))
    for a in matrix_apps:
        cells = []
        for b in matrix_apps:
            v = pairs.get((a, b), [])
            if not v:
                cells.append(f"{'.':>9}")
            else:
                nm = sum(1 for x in v if x.kind == "M")
                nf = sum(1 for x in v if x.kind in ("F", "D"))
                cells.append(f"{f'{nm}/{nf}':>9}")
        print(f"{a:<{w}}  " + " ".join(cells))

    print(f"\nTwo-way app pairs counting every import: {len(two_way)}")
    for a, b in two_way:
        ab = pairs[(a, b)]
        ba = pairs[(b, a)]
        def d(v):
            return f"{sum(1 for x in v if x.kind == 'M')}M+{sum(1 for x in v if x.kind in ('F', 'D'))}F"
        print(f"  {a} <-> {b}   ({a}->{b}: {d(ab)}; {b}->{a}: {d(ba)})")
    print(f"Two-way app pairs counting module-level imports only: {len(two_way_mod)}")
    for a, b in two_way_mod:
        print(f"  {a} <-> {b}")

    edges_all = defaultdict(set)
    edges_mod = defaultdict(set)
    for (a, b), v in pairs.items():
        edges_all[a].add(b)
        if any(x.kind == "M" for x in v):
            edges_mod[a].add(b)
    print("\nCycles (strongly connected components), every import:", sccs(apps, edges_all))
    print("Cycles, module-level imports only:           ", sccs(apps, edges_mod))

    faces = set(args.faces.split(","))
    domain = set(args.domain.split(","))
    bad = [i for (a, b), v in pairs.items() if a in domain and b in faces for i in v]
    print(f"\nDomain -> face imports ({'/'.join(sorted(faces))}): {len(bad)}")
    for x in sorted(bad, key=lambda x: (x.path, x.line)):
        print(fmt(x))

    fl = [i for i in imps if i.kind in ("F", "D") and counted(i)]
    fl_all = [i for i in imps if i.kind in ("F", "D") and i.src_mod != i.dst_mod]
    print(f"\nFunction-level imports of another app: {len(fl)} "
          f"(all function-level imports of project modules, same app included: {len(fl_all)})")
    if not args.pairs_only:
        for x in sorted(fl, key=lambda x: (x.path, x.line)):
            print(fmt(x).replace("    ", "  ", 1) + f"   {x.src_app}->{x.dst_app}")
            print(f"        comment: {x.comment or '(none)'}")
            print(f"        verdict: {x.verdict}")
        same = [i for i in fl_all if i not in fl]
        if same:
            print(f"\nFunction-level imports within one app (or of <root>): {len(same)}")
            for x in sorted(same, key=lambda x: (x.path, x.line)):
                print(fmt(x).replace("    ", "  ", 1))
                print(f"        comment: {x.comment or '(none)'}")
                print(f"        verdict: {x.verdict}")

    needed = [i for i in fl_all if i.verdict.startswith("breaks cycle")]
    uncommented = [i for i in needed if not i.comment]
    hoist = [i for i in fl_all if i.verdict.startswith("hoistable")]
    print(f"\nFunction-level project imports: {len(fl_all)}; breaking a module cycle: {len(needed)} "
          f"({len(uncommented)} without a comment); hoistable: {len(hoist)}; in AppConfig.ready: "
          f"{sum(1 for i in fl_all if i.verdict.startswith('ready'))}")

    failures = []
    if args.max_two_way is not None and len(two_way) > args.max_two_way:
        failures.append(f"{len(two_way)} two-way app pairs (at most {args.max_two_way})")
    if args.forbid_domain_to_face and bad:
        failures.append(f"{len(bad)} domain -> face imports")
    if args.forbid_uncommented:
        offenders = [i for i in fl_all if not i.verdict.startswith("ready") and
                     (i.verdict.startswith("hoistable") or not i.comment)]
        if offenders:
            failures.append(f"{len(offenders)} function-level imports that are hoistable or uncommented")

    if args.strings:
        print("\n# Dotted-path string references and get_model() calls (not edges)")
        for rel, ln, s, app in sorted(strings):
            print(f"  {rel}:{ln}  [{app}]  {s}")

    if failures:
        print("\nFAIL: " + "; ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
