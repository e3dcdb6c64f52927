"""The docs name files and tests that exist: every module path (`src/api/files.py`, `common/d1.py`,
`api.media_routes.decode_cursor`), every test file (`tests/unit/api/test_media_routes.py`, or its bare
basename) and every `file.py::test_name` (and the `::test_name` that continue the last file named)
resolves, so a move or a rename cannot leave the README or docs/ pointing at nothing."""

import ast
import os
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/reliability.md", "docs/hostile-input.md", "docs/benchmarks.md", "docs/scale.md",
        "local_runtime/README.md", "emulator/README.md")
SKIP_DIRS = {".git", ".venv", ".tools", ".local", "node_modules", "__pycache__", ".pytest_cache", ".hypothesis", ".wrangler"}
TEST_ROOTS = ("tests", "local_runtime/tests", "emulator/tests")
# Files the docs name that are not in this repository: workerd's bootstrap module, and the main
# module bench/startup.py writes into a temporary copy of src/.
EXTERNAL = {"introspection.py", "bench_startup.py"}

# A path (folder/…/name.py or folder/), a bare file name (name.py), optionally `::test_name`; or a
# bare `::test_name` continuing the file named last.
PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.py|(?:src|tests|bench|emulator|local_runtime|scripts|docs)/(?:[\w-]+/)*(?![\w.]))"
                  r"(?:::\s*([\w:\[\]-]+))?")
CONTINUED = re.compile(r"(?<![\w.])::\s*(test_\w+)")
DOTTED = re.compile(r"^(api|processor|common)(?:\.\w+)+$")


@cache
def repo_files() -> tuple[str, ...]:
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        relative = Path(folder).relative_to(ROOT)
        found += [(relative / name).as_posix() for name in files]
    return tuple(found)


@cache
def defined_names(relative: str) -> frozenset[str]:
    """Every function, class and assigned name anywhere in a Python file."""
    tree = ast.parse((ROOT / relative).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


def resolve(path: str, doc: str) -> list[str]:
    """The repository files a doc's path names: from the root, from src/, from the doc's folder;
    a bare file name anywhere (test files under the test folders)."""
    files = repo_files()
    folder = str(Path(doc).parent)
    if path.endswith("/"):
        prefixes = [path, f"src/{path}", f"{folder}/{path}"]
        return [p for p in prefixes if any(f.startswith(p) for f in files)][:1]
    candidates = [path, f"src/{path}", f"{folder}/{path}"]
    exact = [c for c in candidates if c in files]
    if exact or "/" in path:
        return exact[:1]
    roots = TEST_ROOTS if path.startswith("test_") else ("",)
    return [f for f in files if f.rsplit("/", 1)[-1] == path and f.startswith(roots)]


def references(doc: str, text: str) -> list[tuple[str, str, str | None]]:
    """(doc, path, test name or None) for each file reference, in order; `::name` continuations get
    the last file named before them."""
    found = []
    # Fenced blocks (the diagram) and inline spans (which may wrap a line), in the doc's order.
    spans = [m.group(1) or m.group(2) for m in re.finditer(r"^```(.*?)^```|`([^`]+)`", text, flags=re.S | re.M)]
    for span in spans:
        span = re.sub(r"::\s+", "::", span)
        if DOTTED.match(span.strip()):
            found.append((doc, span.strip(), "dotted"))
            continue
        if re.search(r"[*<]|\.\.\.", span):  # globs, placeholders, elisions (`src/**/*.py`, `test_<module>.py`)
            continue
        for match in re.finditer(rf"{CONTINUED.pattern}|{PATH.pattern}", span):
            if match.group(1):
                found.append((doc, "::", match.group(1)))
            elif match.group(2):
                found.append((doc, match.group(2), match.group(3)))
    return found


def problems(doc: str, text: str | None = None) -> list[str]:
    """What in `doc` (or `text` as if it were `doc`) names nothing."""
    out = []
    last_file = None
    for _, path, test in references(doc, (ROOT / doc).read_text() if text is None else text):
        if test == "dotted":
            out += dotted_problem(doc, path)
            continue
        if path == "::":
            if last_file is None:
                out.append(f"{doc}: `::{test}` continues no test file")
            elif last_file == []:
                pass  # the file it continues is missing: reported once, there
            elif not any(test in defined_names(f) for f in last_file):
                out.append(f"{doc}: `::{test}` is not in {', '.join(last_file)}")
            continue
        if path in EXTERNAL or not re.match(r"^[\w./-]+$", path):
            continue
        files = resolve(path, doc)
        if path.rsplit("/", 1)[-1].startswith("test_"):
            last_file = files
        if not files:
            out.append(f"{doc}: `{path}` names no file")
            continue
        if test:
            name = test.split("::")[-1].split("[")[0]
            if not any(name in defined_names(f) for f in files):
                out.append(f"{doc}: `{path}::{test}` names no test in {', '.join(files)}")
    return out


def dotted_problem(doc: str, dotted: str) -> list[str]:
    """`api.media_routes`, `processor.webhook_handler.parse_webhook`: the module exists under src/, and
    the name after it is defined there."""
    parts = dotted.split(".")
    for cut in range(len(parts), 1, -1):
        module = "src/" + "/".join(parts[:cut]) + ".py"
        if module in repo_files():
            rest = parts[cut:]
            if rest and rest[0] not in defined_names(module):
                return [f"{doc}: `{dotted}`: {module} defines no {rest[0]}"]
            return []
    return [f"{doc}: `{dotted}` names no module under src/"]


@pytest.mark.parametrize("doc", DOCS)
def test_the_docs_name_only_files_and_tests_that_exist(doc):
    assert problems(doc) == []


def test_the_checker_sees_a_missing_file_a_missing_test_and_a_stale_module():
    doc = "docs/reliability.md"
    fake = (ROOT / doc).read_text() + (
        "\n`tests/unit/processor/test_reconcile.py::test_no_such_test`, `::test_nor_this`, `test_no_such_file.py`,"
        " `src/processor/dead_letters.py`, `processor.r2_notifications`, `api.media_routes.no_such_name`\n")
    found = [problem for problem in problems(doc, fake) if problem not in problems(doc)]
    assert found == [
        f"{doc}: `tests/unit/processor/test_reconcile.py::test_no_such_test` names no test in"
        " tests/unit/processor/test_reconcile.py",
        f"{doc}: `::test_nor_this` is not in tests/unit/processor/test_reconcile.py",
        f"{doc}: `test_no_such_file.py` names no file",
        f"{doc}: `src/processor/dead_letters.py` names no file",
        f"{doc}: `processor.r2_notifications` names no module under src/",
        f"{doc}: `api.media_routes.no_such_name`: src/api/media_routes.py defines no no_such_name",
    ]

