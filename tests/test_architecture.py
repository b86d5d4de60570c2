"""Architecture: every module imports only modules of lower-numbered notebooks (so there is no import cycle), and
every notebook's cells import only lower-numbered notebooks' modules, in the order nbdev and the chapters use."""
import ast
import json
import re
from pathlib import Path

import pytest

from conftest import ROOT

PKG, NBS = ROOT/'crossfit_nb', ROOT/'nbs'


def notebook_key(name: str) -> tuple[int, str]:
    "The order of a notebook: its number, then its letter suffix ('' first): 01_athlete < 01a_rendering < 01b_synthetic."
    m = re.match(r'(\d+)([a-z]?)_', name)
    if not m: raise ValueError(f"{name}: not a numbered notebook")
    return int(m[1]), m[2]


def module_notebooks() -> dict[str, str]:
    "Each exported module and the notebook it is exported from (from nbdev's header)."
    out = {}
    for f in PKG.glob('*.py'):
        m = re.search(r'File to edit: \.\./nbs/([\w.-]+)\.ipynb', f.read_text())
        if m: out[f.stem] = m[1]
    return out


def imported_modules(tree: ast.AST, package_relative: bool) -> set[str]:
    "The crossfit_nb modules imported anywhere in `tree` (at the top or inside functions)."
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level and package_relative: names = [mod] if mod else [a.name for a in node.names]
            elif mod == 'crossfit_nb': names = [a.name for a in node.names]
            elif mod.startswith('crossfit_nb.'): names = [mod.split('.')[1]]
            else: names = []
            found |= {n.split('.')[0] for n in names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split('.')[1] for a in node.names if a.name.startswith('crossfit_nb.')}
    return found


def order_problems(modules: dict[str, str], imports: dict[str, set[str]]) -> list[str]:
    "Each import of a module from a notebook that is not lower than the importer's."
    problems = []
    for importer, deps in sorted(imports.items()):
        for dep in sorted(deps):
            if dep == importer or dep not in modules: continue
            if notebook_key(modules[dep]) >= notebook_key(modules[importer]):
                problems.append(f"{importer} ({modules[importer]}) imports {dep} ({modules[dep]})")
    return problems


def test_order_check_catches_upward_imports_and_cycles():
    mods = {'a': '10_a', 'b': '10a_b', 'c': '20_c'}
    assert order_problems(mods, {'b': {'a'}, 'c': {'a', 'b'}}) == []
    assert order_problems(mods, {'a': {'c'}}) == ['a (10_a) imports c (20_c)']
    assert order_problems(mods, {'a': {'b'}, 'b': {'a'}}) == ['a (10_a) imports b (10a_b)']   # a cycle has an upward edge
    assert imported_modules(ast.parse('def f():\n    from crossfit_nb.video import x\nfrom .core import y\n'), True) == {'video', 'core'}
    assert notebook_key('01_athlete') < notebook_key('01a_rendering') < notebook_key('01b_synthetic') < notebook_key('05_pipeline')


def test_modules_import_only_lower_notebooks():
    modules = module_notebooks()
    assert {'core', 'video', 'artifacts', 'inference'} <= set(modules)
    imports = {m: imported_modules(ast.parse((PKG/f'{m}.py').read_text()), True) for m in modules}
    assert order_problems(modules, imports) == []


def test_notebook_cells_import_only_lower_notebooks():
    modules = module_notebooks()
    problems = []
    for nb_path in sorted(NBS.glob('[0-9]*.ipynb')):
        own = {m for m, n in modules.items() if n == nb_path.stem}
        cells = [''.join(c['source']) for c in json.loads(nb_path.read_text())['cells'] if c['cell_type'] == 'code']
        code = '\n'.join(l for c in cells for l in c.splitlines() if not l.lstrip().startswith(('%', '!')))
        for dep in sorted(imported_modules(ast.parse(code), False) - own):
            if dep in modules and notebook_key(modules[dep]) >= notebook_key(nb_path.stem):
                problems.append(f"{nb_path.name} imports {dep} ({modules[dep]})")
    assert problems == []


def test_no_exported_function_over_50_lines():
    "Long functions are split (a few are listed in the architecture notes when splitting would not help)."
    long = []
    for f in PKG.glob('*.py'):
        if f.name == '_modidx.py': continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 50:
                long.append(f"{f.stem}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert long == []
