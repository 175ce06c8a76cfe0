"""Finding the project's own module an import statement names, by its files, not by importing.

An absolute name (``from mypkg.steps import clean``) is looked up in the flow's folder, then in
the project root (:func:`stepc.projectpaths.search_roots`); a relative one from the importing
file's own folder. What is found carries the dotted name it is imported under at run time, the
name a step's function reference in the IR uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModuleFile:
    """A module of the project: its file and the dotted name ``stepc exec`` imports it by."""

    path: Path
    name: str

    @property
    def package(self) -> str | None:
        """The package its own relative imports start from."""
        if self.path.name == "__init__.py":
            return self.name
        return self.name.rpartition(".")[0] or None


@dataclass(frozen=True)
class NotFound:
    """Why an import names no module of the project; ``certain`` when it cannot be another
    library's either (a relative import), so that saying so is never a false alarm."""

    message: str
    certain: bool


def find_module(
    module: str, level: int, importer: Path, package: str | None, roots: tuple[Path, ...]
) -> ModuleFile | NotFound:
    """The project module ``from <level dots><module> import ...`` in ``importer`` names."""
    parts = module.split(".") if module else []
    if level == 0:
        for root in roots:
            found = _module_file(root, parts)
            if found is not None:
                return ModuleFile(found, module)
        where = " or ".join(f"'{root.name or root}'" for root in roots)
        return NotFound(f"no module '{module}' among the project's files (looked in {where})", certain=False)
    if package is None:
        return NotFound(
            f"'{'.' * level}{module}' is a relative import, but {importer.name} is not in a package under the project "
            "root (a folder below the pyproject.toml, named like an identifier)",
            certain=True,
        )
    base = package.split(".")
    if level - 1 >= len(base):
        return NotFound(f"'{'.' * level}{module}' goes above the top package '{base[0]}'", certain=True)
    base = base[: len(base) - (level - 1)]
    folder = importer.resolve().parent
    for _ in range(level - 1):
        folder = folder.parent
    found = _module_file(folder, parts) if parts else _existing(folder / "__init__.py")
    name = ".".join([*base, *parts])
    if found is None:
        return NotFound(f"no module '{name}': there is no {'/'.join(parts) or '__init__'}.py in '{folder.name}'", True)
    return ModuleFile(found, name)


def _module_file(folder: Path, parts: list[str]) -> Path | None:
    if not parts:
        return None
    base = folder.joinpath(*parts)
    return _existing(base.with_name(base.name + ".py")) or _existing(base / "__init__.py")


def _existing(path: Path) -> Path | None:
    return path.resolve() if path.is_file() else None
