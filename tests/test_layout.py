"""The folder tree shows the stages, and imports run one way between them (architecture.md)."""

import ast
from pathlib import Path

from utils.paths import ROOT

UTILS = ROOT / "utils"
STAGES = ("text", "datagen", "vision", "lm", "pipeline")
# Which stages each stage may import; every stage may import the shared top-level modules.
ALLOWED = {
    "top": set(),
    "text": {"text"},
    "datagen": {"text", "datagen"},
    "vision": {"vision"},
    "lm": {"text", "lm"},
    "pipeline": {"text", "datagen", "vision", "lm", "pipeline"},
}


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else "top"


def imported_modules(path: Path) -> set[str]:
    """Every ``utils`` module a file imports, at any depth of the file (lazy imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("utils")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("utils"):
            found |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_utils_has_five_stage_packages_and_few_top_level_modules():
    packages = sorted(p.name for p in UTILS.iterdir() if (p / "__init__.py").exists())
    assert packages == sorted(STAGES)
    top_modules = sorted(p.name for p in UTILS.glob("*.py"))
    assert len(top_modules) <= 8, top_modules
    for package in STAGES:
        doc = ast.get_docstring(ast.parse((UTILS / package / "__init__.py").read_text(encoding="utf-8")))
        assert doc and len(doc.splitlines()) >= 3, f"utils/{package}/__init__.py needs a docstring"


def test_no_stage_imports_a_later_one():
    wrong = []
    for path in UTILS.rglob("*.py"):
        here = module_name(path)
        if here == "utils.__main__":  # the command table names modules as strings only
            continue
        for target in imported_modules(path):
            there = stage_of(target)
            if there != "top" and there not in ALLOWED[stage_of(here)]:
                wrong.append(f"{here} imports {target}")
    assert not wrong, wrong


def test_every_module_says_its_job_on_its_first_line():
    for path in UTILS.rglob("*.py"):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc and doc.splitlines()[0].strip(), f"{path.relative_to(ROOT)} has no docstring"


def test_commands_point_at_existing_modules():
    from utils.__main__ import COMMANDS

    for module, _ in COMMANDS.values():
        assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module
