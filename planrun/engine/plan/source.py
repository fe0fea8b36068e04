"""Reading a plan file into plain data while remembering where each value stood.

PyYAML's composer gives nodes with marks; we build the Python values ourselves so that every
value and every key keeps its line and column, duplicate keys are caught (PyYAML silently keeps
the last one), and ``${VAR}`` / ``${VAR:-default}`` are filled from the environment with an
error that names the variable and its place.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import PlanError, Problem

Path_ = tuple  # a path into the data: keys and list indexes

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class PlanSource:
    """A plan's data, with the marks of every value (``marks``) and every key (``key_marks``)."""

    file: str
    data: Any
    marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def location(self, path: Path_, *, key: bool = False) -> tuple[int, int] | None:
        """Line and column (1-based) of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        if key and path in self.key_marks:
            return self.key_marks[path]
        while path:
            if path in self.marks:
                return self.marks[path]
            path = path[:-1]
        return self.marks.get(())

    def problem(self, path: Path_, message: str, *, key: bool = False) -> Problem:
        mark = self.location(path, key=key)
        line, column = mark if mark else (None, None)
        return Problem(self.file, line, column, format_path(path), message)


def format_path(path: Path_) -> str:
    """``('checks', 'post', 1, 'expect')`` -> ``checks.post[1].expect``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# Limits that keep a hostile or broken plan from costing more than a moment: a plan is a page
# of settings, not data. PLANRUN_MAX_PLAN_BYTES raises the size limit.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 8x faster, same nodes and marks
MAX_PLAN_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_VALUES = 100_000  # values built, aliases expanded: a "billion laughs" stops here
MAX_SCALAR = 64 * 1024  # characters in one value: a check's query is the longest a plan holds


def max_plan_bytes() -> int:
    try:
        return int(os.environ.get("PLANRUN_MAX_PLAN_BYTES", MAX_PLAN_BYTES))
    except ValueError:
        return MAX_PLAN_BYTES


def read_input_file(path: str | os.PathLike, limit: int) -> bytes | None:
    """The bytes of a file planrun reads as input (a plan, a fixture...), never more than
    ``limit``: ``None`` when it holds more. Opened without blocking and refused unless it is a
    regular file, so that a symlink to ``/dev/zero`` or a FIFO is an error, not a hang or
    gigabytes of memory; the size is checked on what is read, so a file that grows while it is
    read is cut too. Raises :class:`OSError` (``FileNotFoundError`` included) to say why not."""
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device"
            raise OSError(f"it is not a regular file ({kind}); planrun reads its input from files only")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
        return None
    finally:
        os.close(fd)


MAX_INPUT_BYTES = 256 << 20  # a fixture or prepare file is data, but not without end


def read_input_text(path: str | os.PathLike, what: str, limit: int = MAX_INPUT_BYTES) -> str:
    """The text of an input file other than the plan (a fixture, a prepare file, a target
    list), read as :func:`read_input_file` reads, or a :class:`UsageError` that names it and
    says why not (not a regular file, over ``limit``, not UTF-8)."""
    from ..errors import UsageError

    try:
        data = read_input_file(path, limit)
    except FileNotFoundError:
        raise UsageError(f"{what} {path}: no such file") from None
    except OSError as exc:
        reason = exc.args[0] if len(exc.args) == 1 else (exc.strerror or exc)
        raise UsageError(f"{what} {path}: cannot read it: {reason}") from None
    if data is None:
        raise UsageError(f"{what} {path}: over the limit of {limit:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


def load_plan_source(path: str | os.PathLike, environ: dict[str, str] | None = None) -> PlanSource:
    """Read and parse a plan file; raise :class:`PlanError` for anything YAML itself rejects."""
    file = str(path)
    limit = max_plan_bytes()
    try:
        data = read_input_file(path, limit)
        if data is None:
            raise PlanError(
                [
                    Problem(
                        file,
                        None,
                        None,
                        "",
                        f"the plan is over the limit of {limit:,} bytes "
                        "(a plan is a page of settings; set PLANRUN_MAX_PLAN_BYTES to raise the limit)",
                    )
                ]
            )
        text = data.decode("utf-8-sig")
    except FileNotFoundError:
        raise PlanError([Problem(file, None, None, "", "no such plan file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.args[0] if isinstance(exc, OSError) and len(exc.args) == 1 else exc
        raise PlanError([Problem(file, None, None, "", f"cannot read the plan: {reason}")]) from None
    return parse_plan_text(text, file, os.environ if environ is None else environ)


def _check_shape(text: str, file: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` before composing (PyYAML's composer
    recurses, and a plan 3,000 levels deep crashed it)."""
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise PlanError(
                    [
                        Problem(
                            file, mark.line + 1, mark.column + 1, "", f"the plan nests deeper than {MAX_DEPTH} levels"
                        )
                    ]
                )
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _compose(text: str, file: str) -> list:
    """The documents' nodes, by libyaml. On a YAML error, PyYAML's own parser runs again for
    its message, which says what it found ("expected ',' or ']', but got ':'") where libyaml's
    does not."""
    try:
        _check_shape(text, file)
        return list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.YAMLError as fast:
        error = fast
    try:
        list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as slow:
        error = slow
    except RecursionError:
        pass
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise PlanError([Problem(file, line, column, "", f"YAML syntax error: {error.problem or error}")]) from None
    raise PlanError([Problem(file, None, None, "", f"YAML syntax error: {error}")]) from None


def parse_plan_text(text: str, file: str, environ: Mapping[str, str]) -> PlanSource:
    documents = _compose(text, file)
    if len(documents) > 1:
        second = documents[1].start_mark
        raise PlanError(
            [
                Problem(
                    file, second.line + 1, second.column + 1, "", "a plan file holds one YAML document, found several"
                )
            ]
        )
    if not documents or documents[0] is None:
        raise PlanError(
            [Problem(file, 1, 1, "", "the plan is empty; expected a mapping with version, name and target")]
        )
    root = documents[0]
    if not isinstance(root, yaml.MappingNode):
        found = "a list" if isinstance(root, yaml.SequenceNode) else f"{_scalar_value(root)!r}"
        raise PlanError(
            [
                Problem(
                    file,
                    root.start_mark.line + 1,
                    root.start_mark.column + 1,
                    "",
                    f"expected a mapping at the top of the plan, got {found}",
                )
            ]
        )
    builder = _Builder(file, environ)
    try:
        data = builder.build(root, ())
    except yaml.MarkedYAMLError as exc:  # a tag PyYAML's safe loader will not build (!!python/...)
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise PlanError([Problem(file, line, column, "", f"YAML error: {exc.problem or exc}")]) from None
    if builder.problems:
        raise PlanError(builder.problems)
    return PlanSource(file, data, builder.marks, builder.key_marks)


def _scalar_value(node: yaml.Node) -> Any:
    return yaml.SafeLoader("").construct_object(node, deep=True)


class _Builder:
    def __init__(self, file: str, environ: Mapping[str, str]):
        self.file = file
        self.environ = environ
        self.marks: dict[Path_, tuple[int, int]] = {}
        self.key_marks: dict[Path_, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.built = 0
        self._constructor = yaml.SafeLoader("")

    def _mark(self, node: yaml.Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.built += 1
        if self.built > MAX_VALUES:
            line, column = self._mark(node)
            raise PlanError(
                [
                    Problem(
                        self.file,
                        line,
                        column,
                        format_path(path),
                        f"the plan expands to more than {MAX_VALUES:,} values (YAML aliases repeated "
                        "inside each other?); a plan is a page of settings",
                    )
                ]
            )
        self.marks[path] = self._mark(node)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    line, column = self._mark(key_node)
                    self.problems.append(
                        Problem(
                            self.file, line, column, format_path(path), "a key is a plain word, not a list or mapping"
                        )
                    )
                    continue
                key = self._scalar(key_node, path)
                if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
                    key = key_node.value  # YAML 1.1 reads a key `on:` as True; a plan means the word
                if key in result:
                    first = self.key_marks.get(path + (key,), ("?", "?"))
                    line, column = self._mark(key_node)
                    self.problems.append(
                        Problem(
                            self.file,
                            line,
                            column,
                            _join(path, key),
                            f"duplicate key (first defined at line {first[0]})",
                        )
                    )
                    continue
                self.key_marks[path + (key,)] = self._mark(key_node)
                result[key] = self.build(value_node, path + (key,))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        value = self._scalar(node, path)
        if isinstance(value, str) and "${" in value:
            value = self._substitute(value, node, path)
        return value

    def _scalar(self, node: yaml.Node, path: Path_) -> Any:
        """A scalar's value; one too long, or a number Python will not build (5,000 digits), is a
        located problem (its place kept as an empty string)."""
        if isinstance(node, yaml.ScalarNode) and len(node.value) > MAX_SCALAR:
            message = f"this value is {len(node.value):,} characters long; a plan's values are at most {MAX_SCALAR:,}"
            self._problem(node, path, message)
            return ""
        try:
            return self._constructor.construct_object(node, deep=True)
        except ValueError as exc:
            digits = sum(ch.isdigit() for ch in node.value) if isinstance(node, yaml.ScalarNode) else 0
            message = f"a number of {digits:,} digits is no setting" if "digits" in str(exc) else f"cannot read: {exc}"
            self._problem(node, path, message)
            return ""

    def _problem(self, node: yaml.Node, path: Path_, message: str) -> None:
        line, column = self._mark(node)
        self.problems.append(Problem(self.file, line, column, format_path(path), message))

    def _substitute(self, value: str, node: yaml.Node, path: Path_) -> str:
        def replace(match: re.Match) -> str:
            name, default = match[1], match[2]
            if name in self.environ:
                return self.environ[name]
            if default is not None:
                return default
            self._problem(node, path, f"environment variable {name} is not set (set it, or write ${{{name}:-default}})")
            return ""

        result = _ENV_REFERENCE.sub(replace, value)
        if "${" in _ENV_REFERENCE.sub("", value):
            self._problem(node, path, "a ${ that does not name a variable: write ${NAME} or ${NAME:-default}")
        return result


def _join(path: Path_, key: Any) -> str:
    return format_path(path + (key,))
