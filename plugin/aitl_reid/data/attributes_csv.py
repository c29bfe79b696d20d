"""Reading and validating tracklet attribute CSVs (one row per annotated tracklet).

Every cell is checked when the file is read, so a malformed annotation fails at start-up with the
file, line and column to fix (:class:`AttributeCSVError`), instead of surfacing as a wrong class
index during training. A tracklet without a row gets -1 for every attribute: it is masked out,
never trained as class 0.
"""
from __future__ import annotations

import csv
import io
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Tuple, Union

from ..schema import AttributeSchema, SchemaError, clean_header, describe_header, detect_schema, get_schema
from ..serialization import read_text
from .file_checks import DatasetFileError, shorten

TrackletKey = Tuple[int, int, int]  # (person id, camera number as in the CSV, tracklet number)
SchemaSpec = Union[str, AttributeSchema]
MISSING = -1


class AttributeCSVError(DatasetFileError):
    """An attribute CSV cannot be used; the message names the file, line and column to fix."""


@dataclass(frozen=True)
class AttributeTable:
    """The rows of one attribute CSV, keyed by tracklet, with the schema that describes them."""

    path: str
    schema: AttributeSchema
    rows: Dict[TrackletKey, Tuple[int, ...]]

    @property
    def missing(self) -> Tuple[int, ...]:
        """The attribute tuple of a tracklet without annotation: -1 for every attribute."""
        return (MISSING,) * len(self.schema.names)

    def lookup(self, key: TrackletKey) -> Tuple[int, ...]:
        """Class index per attribute for a tracklet, -1 everywhere when the CSV has no row for it."""
        return self.rows.get(key, self.missing)


def attribute_csv_path(given: str, dataset_dir: str, default_name: str) -> str:
    """The configured CSV path (``~`` expanded, made absolute), or the dataset's default file."""
    return osp.abspath(osp.expanduser(given)) if given else osp.join(dataset_dir, default_name)


def resolve_schema(spec: SchemaSpec, header: List[str], path: str) -> AttributeSchema:
    """The schema for a CSV: detected from its header ('auto'), or a given one the header must match."""
    if isinstance(spec, str):
        if spec == "auto":
            try:
                return detect_schema(header, source=f"{path}, line 1")
            except SchemaError as err:
                raise AttributeCSVError(str(err)) from None
        if spec == "custom":
            raise SchemaError(
                f"{path}: schema 'custom' must be passed as an AttributeSchema built from the config "
                "(attributes.custom_*), not as a name"
            )
        spec = get_schema(spec)
    if clean_header(header) != spec.header:
        raise AttributeCSVError(
            f"{path}, line 1: header {describe_header(header)} does not match schema '{spec.name}', which expects "
            f"{','.join(spec.header)!r}. Set attributes.schema to 'auto' to detect the release from the header."
        )
    return spec


def _parse_int(path: str, lineno: int, col: int, name: str, cell: str) -> int:
    try:
        return int(cell)
    except ValueError:
        raise AttributeCSVError(
            f"{path}, line {lineno}, column {col} ('{name}'): {shorten(cell)} is not an integer"
        ) from None


def _parse_row(path: str, lineno: int, row: List[str], schema: AttributeSchema) -> Tuple[TrackletKey, Tuple[int, ...]]:
    header = schema.header
    if len(row) != len(header):
        raise AttributeCSVError(
            f"{path}, line {lineno}: {len(row)} columns, expected {len(header)} ({','.join(header)})"
        )
    values = [_parse_int(path, lineno, col, name, cell.strip()) for col, (name, cell) in enumerate(zip(header, row), 1)]
    for offset, (name, k) in enumerate(zip(schema.columns, schema.num_classes)):
        value = values[3 + offset]
        if not MISSING <= value < k:
            raise AttributeCSVError(
                f"{path}, line {lineno}, column {4 + offset} ('{name}'): class index {value} out of range; "
                f"'{name}' has {k} classes (0..{k - 1}, or -1 for not annotated)"
            )
    key = (values[0], values[1], values[2])
    return key, tuple(values[3:])


def read_attribute_csv(path: str, schema: SchemaSpec = "auto") -> AttributeTable:
    """Read and validate an attribute CSV; errors (:class:`AttributeCSVError`) name the file, line and column."""
    text = read_text(path, "utf-8-sig", AttributeCSVError, "save the file as UTF-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise AttributeCSVError(f"{path}: the file is empty; expected a header line and one row per tracklet")
        resolved = resolve_schema(schema, header, path)
        rows: Dict[TrackletKey, Tuple[int, ...]] = {}
        first_line: Dict[TrackletKey, int] = {}
        for row in reader:
            lineno = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            key, attrs = _parse_row(path, lineno, row, resolved)
            if key in rows:
                raise AttributeCSVError(
                    f"{path}, line {lineno}: tracklet {key} (person, camera, tracklet) already has a row at "
                    f"line {first_line[key]}; keep one row per tracklet"
                )
            rows[key] = attrs
            first_line[key] = lineno
    except csv.Error as err:  # a NUL byte, a stray carriage return, a field over the csv module's size limit
        raise AttributeCSVError(f"{path}, line {reader.line_num + 1}: not readable as CSV ({err})") from None
    return AttributeTable(path=path, schema=resolved, rows=rows)
