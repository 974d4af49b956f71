"""Read an operation spec file into an Operation, reporting every problem as FILE:LINE:COL.

All problems of a file come out together in one SpecError: syntax, shape, types, ranges,
cross-field rules, and the files a spec names (which must stay inside the spec's folder tree,
symlinks resolved, because Python files named by a spec are loaded from there).
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aurumplan.algorithms import Algorithm, AlgorithmFileError, UnknownAlgorithm, from_file, resolve
from aurumplan.errors import Diagnostic, SpecError
from aurumplan.spec.failures import read_failure_log
from aurumplan.spec.models import Operation, is_absolute
from aurumplan.yamlpos import YamlDoc, YamlSyntaxError, load_yaml, validation_diagnostics

# spec fields holding paths, per kind, and the function a Python file must define (None: not Python)
PATH_FIELDS: dict[str, dict[str, str | None]] = {
    "Replay": {"migration": "migrate", "transform": "transform"},
    "Reprocess": {"failedRecords": None},
}
SIGNATURES = {"check": "(data: ScriptData) -> float | ScriptResult (docs/quality.md)"}
_DROPPED = ("union_tag_not_found", "union_tag_invalid")  # already reported at `kind`


@dataclass(frozen=True)
class LoadedSpec:
    """A valid spec with where it came from: the plan records sha256 to detect edits."""

    path: Path
    text: str
    sha256: str
    doc: YamlDoc
    op: Operation

    @property
    def folder(self) -> Path:
        return self.path.resolve().parent

    def resolve_path(self, p: str) -> Path:
        """The absolute path of a spec-relative path (symlinks resolved)."""
        return (self.folder / p).resolve()


def _read(path: Path) -> tuple[bytes, str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError([Diagnostic(str(path), 1, 1, "spec file not found")]) from None
    except OSError as exc:
        raise SpecError([Diagnostic(str(path), 1, 1, f"cannot read spec: {exc.strerror or exc}")]) from None
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([Diagnostic(str(path), 1, 1, f"spec is not UTF-8 text: {exc.reason}")]) from None


def _python_diagnostics(file: Path, shown: str, func: str) -> list[Diagnostic]:
    """A Python file a spec names must parse and define func at top level (checked, never run)."""
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=shown)
    except SyntaxError as exc:
        return [Diagnostic(shown, exc.lineno or 1, exc.offset or 1, f"Python syntax error: {exc.msg}")]
    except (OSError, UnicodeDecodeError) as exc:
        return [Diagnostic(shown, 1, 1, f"cannot read: {exc}")]
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    if func not in defined:
        signature = SIGNATURES.get(func, "(record: dict) -> dict | None")
        return [Diagnostic(shown, 1, 1, f"must define {func}{signature}")]
    return []


def path_diagnostics(doc: YamlDoc, folder: Path) -> list[Diagnostic]:
    """Paths named by the spec: relative, inside folder (after resolving symlinks), existing, valid."""
    data = doc.data if isinstance(doc.data, dict) else {}
    spec = data.get("spec")
    fields = PATH_FIELDS.get(str(data.get("kind")), {})
    if not isinstance(spec, dict):
        return []
    out: list[Diagnostic] = []
    root = folder.resolve()
    named: list[tuple[tuple[str | int, ...], str, Any, str | None]] = [
        (("spec", key), f"spec.{key}", spec.get(key), func) for key, func in fields.items()]
    validation = spec.get("validation")
    scripts = validation.get("scripts") if isinstance(validation, dict) else None
    if isinstance(scripts, list):
        named.extend((("spec", "validation", "scripts", i), "spec.validation.scripts", v, "check")
                     for i, v in enumerate(scripts))
    for where, label, value, func in named:
        if not isinstance(value, str) or not value or is_absolute(value):
            continue  # wrong type / absolute: the model reports it
        target = (root / value).resolve()
        if not target.is_relative_to(root):
            out.append(doc.diag(where, f"{label}: '{value}' leads outside the spec's folder ({root}): "
                                       "files a spec names must be inside its folder tree"))
        elif not target.is_file():
            out.append(doc.diag(where, f"{label}: file '{value}' not found (looked for {target})"))
        elif func is not None:
            out.extend(_python_diagnostics(target, str(target), func))
        else:
            try:
                read_failure_log(target)
            except SpecError as err:
                out.extend(err.diagnostics)
    return out


def _file_algorithm(doc: YamlDoc, folder: Path, rel: str, name: str) -> Algorithm | list[Diagnostic]:
    """The algorithm a spec-relative Python file defines, or the diagnostics saying why there is none.

    Unlike migrate/transform files, the file is run here: its Params model is needed to check params."""
    where = ("spec", "algorithm", "file")
    root = folder.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(root):
        return [doc.diag(where, f"spec.algorithm.file: '{rel}' leads outside the spec's folder ({root}): "
                                "files a spec names must be inside its folder tree")]
    if not target.is_file():
        return [doc.diag(where, f"spec.algorithm.file: file '{rel}' not found (looked for {target})")]
    try:
        return from_file(target.read_text(encoding="utf-8"), str(target), name)
    except AlgorithmFileError as exc:
        return [Diagnostic(str(target), exc.line, exc.col, str(exc))]
    except UnknownAlgorithm as exc:
        return [doc.diag(("spec", "algorithm", "name"), f"spec.algorithm.name: {exc}")]
    except (OSError, UnicodeDecodeError) as exc:
        return [doc.diag(where, f"spec.algorithm.file: cannot read '{rel}': {exc}")]


def algorithm_diagnostics(doc: YamlDoc, folder: Path) -> list[Diagnostic]:
    """An algorithm_update's algorithm must resolve (installed, or defined by its spec-relative `file`) and its
    params fit its Params model (docs/replay.md, "Algorithms")."""
    data = doc.data if isinstance(doc.data, dict) else {}
    spec = data.get("spec")
    algo = spec.get("algorithm") if isinstance(spec, dict) else None
    if not isinstance(algo, dict) or not isinstance(algo.get("name"), str):
        return []  # missing or wrong type: the model reports it
    rel = algo.get("file")
    impl: Algorithm
    if rel is not None:
        if not isinstance(rel, str) or not rel or is_absolute(rel):
            return []  # wrong type / absolute: the model reports it
        found = _file_algorithm(doc, folder, rel, algo["name"])
        if isinstance(found, list):
            return found
        impl = found
    else:
        try:
            impl = resolve(algo["name"])
        except UnknownAlgorithm as exc:
            return [doc.diag(("spec", "algorithm", "name"), f"spec.algorithm.name: {exc}")]
    version = str(algo.get("version"))
    if version not in (impl.version, f"v{impl.version}"):
        which = f"{impl.name} in {rel}" if rel is not None else f"installed {impl.name}"
        return [doc.diag(("spec", "algorithm", "version"), f"spec.algorithm.version: '{version}' is not the "
                                                          f"{which}, which is version {impl.version}: "
                                                          f"set version: '{impl.version}'")]
    params = algo.get("params")
    try:
        impl.Params.model_validate(params if params is not None else {})
    except ValidationError as err:
        out = []
        for e in err.errors():
            where: tuple[str | int, ...] = ("spec", "algorithm", "params", *e["loc"][:1])
            if e["type"] == "missing" or not isinstance(params, dict):
                where = ("spec", "algorithm", "params") if isinstance(params, dict) else ("spec", "algorithm")
            field = ".".join(str(x) for x in e["loc"])
            msg = (f"not a parameter: use {', '.join(impl.Params.model_fields)}" if e["type"] == "extra_forbidden"
                   else e["msg"])
            out.append(doc.diag(where, f"spec.algorithm.params.{field}: {msg} "
                                       f"(algorithm {impl.name}@{impl.version}; see docs/replay.md)"))
        return out
    return []


def parse_spec(text: str, file: str, folder: Path) -> tuple[YamlDoc, Operation]:
    """Validate spec text; folder is where its relative paths point."""
    try:
        doc = load_yaml(text, file)
    except YamlSyntaxError as exc:
        raise SpecError(exc.diagnostics) from None
    if doc.data is None:
        raise SpecError([Diagnostic(file, 1, 1, "empty spec: write apiVersion, kind, metadata and spec")])
    if not isinstance(doc.data, dict):
        raise SpecError([doc.diag((), "a spec must be a mapping with apiVersion, kind, metadata and spec")])
    problems: list[Diagnostic] = []
    op: Operation | None = None
    try:
        op = Operation.model_validate(doc.data)
    except ValidationError as err:
        kept = [e for e in err.errors() if e["type"] not in _DROPPED]
        problems.extend(validation_diagnostics(kept, doc, Operation))
    problems.extend(path_diagnostics(doc, folder))
    problems.extend(algorithm_diagnostics(doc, folder))
    if problems or op is None:
        raise SpecError(problems or [Diagnostic(file, 1, 1, "invalid spec")])
    return doc, op


def load_spec(path: str | Path) -> LoadedSpec:
    """Read and validate one spec file; SpecError carries every problem found."""
    file = Path(path)
    raw, text = _read(file)
    doc, op = parse_spec(text, str(path), file.resolve().parent)
    return LoadedSpec(path=file, text=text, sha256=hashlib.sha256(raw).hexdigest(), doc=doc, op=op)
