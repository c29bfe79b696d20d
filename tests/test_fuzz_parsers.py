"""Property-based fuzzing of every parser of user files: any input loads or raises the project's named error.

Targets: the attribute CSV reader and schema detection, the YAML config loader (``_BASE_`` chains and
``KEY VALUE`` overrides) and the MARS ``.mat`` and names readers. Each generated input either loads,
or raises the parser's own error (``AttributeCSVError``, ``SchemaError``, ``ConfigError``,
``MatFileError``, ``DatasetFileError``, all ``ValueError`` subclasses) whose message names the file;
never a ``KeyError``, ``IndexError``, ``UnicodeDecodeError``, numpy or scipy error. Sizes are bounded
and the settings profile (``tests/conftest.py``) makes the runs short and reproducible.
"""
import string
import io
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.io import savemat

from aitl_reid.config import ConfigError, flat_keys, get_default_config, merge_from_file, merge_from_list
from aitl_reid.data.attributes_csv import AttributeCSVError, read_attribute_csv, resolve_schema
from aitl_reid.data.file_checks import DatasetFileError
from aitl_reid.data.mars import FolderCheck, SplitFiles, read_frame_names, read_query_rows, read_track_rows, rows_to_tracklets
from aitl_reid.data.mat_files import MatFileError
from aitl_reid.schema import BUILTIN_SCHEMAS, AttributeSchema, SchemaError, detect_schema

SCHEMAS = list(BUILTIN_SCHEMAS.values())
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
CSV_TEXT = st.text(st.sampled_from(list(string.digits + "-+ _.,\"'\r\n\t\x00aéx٣")), max_size=8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """One folder for every example of a test: each example writes all the files it reads."""
    return tmp_path_factory.mktemp("fuzz")


# ------------------------------------------------------------------ attribute CSV and schema detection
@st.composite
def csv_cells(draw, schema: AttributeSchema):
    """A row that is often valid (in-range class indices), else off by a column, out of range or not a number."""
    width = len(schema.header) + draw(st.sampled_from([0, 0, 0, -1, 1]))
    limits = [10_000] * 3 + [k for k in schema.num_classes]
    cells = []
    for col in range(max(width, 0)):
        top = limits[col] if col < len(limits) else 3
        cells.append(draw(st.one_of(st.integers(-1, top - 1).map(str), st.integers(-2, top + 1).map(str), CSV_TEXT)))
    return cells


@st.composite
def csv_bytes(draw):
    """An attribute CSV: a known or mangled header, rows, some undecodable bytes, or pure noise."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    schema = draw(st.sampled_from(SCHEMAS))
    header = list(schema.header)
    if draw(st.booleans()):
        header = draw(st.lists(st.sampled_from(header + ["", " pid", "x,y"]), max_size=len(header) + 1))
    lines = [",".join(header)]
    for cells in draw(st.lists(csv_cells(schema), max_size=6)):
        lines.append(",".join(cells))
    data = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines).encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


def parsed_or_none(path, data, parse, error):
    """Write ``data`` to ``path`` and parse it: ``parse(str(path))``'s result, or None when it raised ``error`` (the
    project's own) with a message naming the file; any other exception fails the test."""
    path.write_bytes(data)
    try:
        return parse(str(path))
    except error as err:
        assert str(path) in str(err)
        return None


@given(data=csv_bytes(), spec=st.sampled_from(["auto"] + list(BUILTIN_SCHEMAS)))
def test_attribute_csv_loads_or_raises_attribute_csv_error(folder, data, spec):
    table = parsed_or_none(folder / "attributes.csv", data, lambda path: read_attribute_csv(path, spec), AttributeCSVError)
    if table is None:
        return
    for key, attrs in table.rows.items():
        assert len(key) == 3 and len(attrs) == len(table.schema.names)
        assert all(-1 <= value < k for value, k in zip(attrs, table.schema.num_classes))


@given(header=st.one_of(st.lists(TEXT, max_size=30),
                        st.sampled_from(SCHEMAS).flatmap(lambda s: st.permutations(s.header).map(list))),
       spec=st.sampled_from(["auto"] + list(BUILTIN_SCHEMAS)))
def test_schema_detection_finds_a_release_or_raises_its_error(header, spec):
    try:
        schema = detect_schema(header, source="fuzz.csv")
    except SchemaError as err:
        assert "fuzz.csv" in str(err)
    else:
        assert schema.header == [h.strip() for h in header]
    try:
        resolved = resolve_schema(spec, header, "fuzz.csv")
    except AttributeCSVError as err:
        assert "fuzz.csv" in str(err)
    else:
        assert resolved.header == [h.strip() for h in header]


@given(names=st.lists(TEXT, max_size=4), classes=st.lists(st.integers(-3, 50), max_size=4),
       groups=st.lists(st.sampled_from(["id_relevant", "id_irrelevant", "other"]), max_size=4),
       keys=st.lists(TEXT, min_size=2, max_size=4))
def test_custom_schema_is_built_or_raises_schema_error(names, classes, groups, keys):
    try:
        schema = AttributeSchema("custom", tuple(names), tuple(classes), tuple(groups), tuple(keys))
    except SchemaError as err:
        assert "custom" in str(err)
    else:
        assert len(schema.header) == 3 + len(names) and min(schema.num_classes, default=2) >= 2


# ------------------------------------------------------------------ YAML configs and KEY VALUE overrides
KEYS = flat_keys(get_default_config())
SECTIONS = sorted({key.split(".")[0] for key in KEYS})
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True), TEXT,
                    st.dates())


def nested(inner: st.SearchStrategy) -> st.SearchStrategy:
    """Lists and mappings of ``inner`` values (YAML's containers)."""
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3))


VALUES = st.recursive(SCALARS, nested, max_leaves=6)


@st.composite
def config_mapping(draw):
    """Known sections and keys with values of any YAML type, plus unknown, dotted and non-string keys."""
    mapping = {}
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=5)):
        *sections, name = key.split(".")
        node = mapping
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = draw(VALUES)
    for _ in range(draw(st.integers(0, 2))):
        mapping[draw(st.one_of(st.sampled_from(SECTIONS + KEYS), TEXT, st.integers(), st.booleans()))] = draw(VALUES)
    return mapping


@st.composite
def config_files(draw):
    """``(main file, files)``: YAML text (valid or mangled), random bytes, and ``_BASE_`` links between them."""
    names = ["a.yaml", "b.yaml"]
    files = {}
    for name in names:
        kind = draw(st.integers(0, 9))
        if kind == 0:
            files[name] = draw(st.binary(max_size=200))
            continue
        if kind == 1:
            files[name] = draw(st.text(st.characters(codec="utf-8"), max_size=200)).encode("utf-8")
            continue
        mapping = draw(config_mapping())
        if draw(st.booleans()):
            mapping["_BASE_"] = draw(st.one_of(st.sampled_from(names + ["missing.yaml", "", ".", "a.yaml/x"]),
                                               SCALARS, st.lists(TEXT, max_size=2)))
        text = yaml.safe_dump(mapping, allow_unicode=True)
        if kind == 2:
            text = text[:draw(st.integers(0, len(text)))]
        files[name] = text.encode("utf-8")
    return files


@given(files=config_files())
def test_config_file_loads_or_raises_config_error(folder, files):
    for name, data in files.items():
        (folder / name).write_bytes(data)
    try:
        merge_from_file(get_default_config(), str(folder / "a.yaml"))
    except ConfigError as err:
        assert str(folder) in str(err)


@given(opts=st.lists(st.one_of(st.sampled_from(KEYS), TEXT), max_size=6).flatmap(
    lambda keys: st.tuples(*[st.tuples(st.just(k), st.one_of(TEXT, SCALARS.map(repr), VALUES.map(str)))
                             for k in keys])),
       odd=st.booleans())
def test_command_line_overrides_apply_or_raise_config_error(opts, odd):
    flat = [part for pair in opts for part in pair] + (["train.lr"] if odd else [])
    try:
        merge_from_list(get_default_config(), flat)
    except ConfigError as err:
        assert "command line" in str(err)


# ------------------------------------------------------------------ MARS .mat and names files
MAT_ARRAYS = st.one_of(
    st.integers(0, 4).flatmap(lambda ndim: st.tuples(*[st.integers(0, 5)] * ndim)).flatmap(
        lambda shape: st.sampled_from([np.int8, np.uint16, np.int32, np.int64, np.float64, np.float32, np.bool_,
                                       np.complex128]).flatmap(
            lambda dtype: st.lists(st.one_of(st.integers(-3, 40), st.floats(allow_nan=True, width=32)),
                                   min_size=int(np.prod(shape)), max_size=int(np.prod(shape))).map(
                lambda values: _array(values, shape, dtype)))),
    TEXT,
    st.lists(TEXT, min_size=1, max_size=3).map(lambda items: np.array(items, dtype=object)),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 9), min_size=1),
)


def _array(values, shape, dtype):
    with np.errstate(all="ignore"):
        return np.array(values, dtype=np.float64).astype(dtype).reshape(shape)


@st.composite
def mat_files(draw, variable: str):
    """``.mat`` bytes: the right or a wrong variable holding any array, possibly cut short or noise."""
    kind = draw(st.integers(0, 7))
    if kind == 0:
        return draw(st.binary(max_size=400))
    name = variable if draw(st.integers(0, 4)) else draw(st.sampled_from(["other", "x" + variable]))
    content = {name: draw(MAT_ARRAYS)}
    if kind == 1:  # a realistic matrix
        content = {name: np.array(draw(st.lists(st.lists(st.integers(-2, 30), min_size=4, max_size=4), max_size=5)),
                                  dtype=np.int32).reshape(-1, 4)}
    stream = io.BytesIO()
    value = content[name]
    version4 = isinstance(value, np.ndarray) and value.ndim <= 2 and value.dtype.kind in "biuf" and draw(st.booleans())
    try:
        savemat(stream, content, format="4" if version4 else "5", do_compression=draw(st.booleans()))
    except UnicodeEncodeError:  # savemat cannot write every character in a MATLAB char array
        assume(False)
    data = stream.getvalue()
    if kind == 2:
        data = data[:draw(st.integers(0, len(data)))]
    if kind == 3 and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    return data


@given(data=mat_files("track_train_info"))
def test_track_info_reader_gives_integer_rows_or_mat_file_error(folder, data):
    rows = parsed_or_none(folder / "tracks_train_info.mat", data, lambda name: read_track_rows(name, "track_train_info"), MatFileError)
    if rows is None:
        return
    assert rows.dtype == np.int64 and rows.ndim == 2 and rows.shape[1] == 4


@given(data=mat_files("query_IDX"), num_test=st.integers(0, 40))
def test_query_index_reader_gives_rows_in_range_or_mat_file_error(folder, data, num_test):
    rows = parsed_or_none(folder / "query_IDX.mat", data, lambda name: read_query_rows(name, num_test), MatFileError)
    if rows is None:
        return
    assert rows.ndim == 1 and ((0 <= rows) & (rows < num_test)).all()


def test_a_type_code_that_crashes_scipy_is_a_mat_file_error(tmp_path):
    """Found by the fuzzer: scipy.io.loadmat dies with a segmentation fault on this file (never call it here)."""
    path = tmp_path / "tracks_train_info.mat"
    savemat(path, {"track_train_info": np.arange(8, dtype=np.int32).reshape(2, 4)})
    data = path.read_bytes()
    tag = b"\x05\x00\x00\x00\x20\x00\x00\x00"  # miINT32, 32 bytes: the matrix's numbers
    assert data.count(tag) == 1
    path.write_bytes(data.replace(tag, b"\x05\x67\x00\x00\x20\x00\x00\x00"))  # type code 0x6705
    with pytest.raises(MatFileError, match=r"tracks_train_info.mat: matrix at byte 128 .*expected one block of numbers"):
        read_track_rows(str(path), "track_train_info")


FRAME_NAMES = st.one_of(
    st.builds("{:04d}C{}T{:04d}F{:03d}.jpg".format, st.integers(0, 3), st.integers(1, 3), st.integers(1, 2),
              st.integers(1, 9)),
    st.sampled_from(["00-1C1T0001F001.jpg", "0001C1T0001F001.jpg", "0001C7T0001F001.jpg", "0001c1", "٠٠٠١C1T0001F001"]),
    TEXT,
)


@given(names=st.one_of(st.binary(max_size=200), st.lists(FRAME_NAMES, max_size=12).map(
           lambda names: "\n".join(names).encode("utf-8"))),
       rows=st.lists(st.lists(st.integers(-2, 14), min_size=4, max_size=4), max_size=5))
def test_names_and_rows_give_tracklets_or_dataset_file_error(folder, names, rows):
    names_path = folder / "train_name.txt"
    frame_names = parsed_or_none(names_path, names, read_frame_names, DatasetFileError)
    if frame_names is None:
        return
    matrix = np.array(rows, dtype=np.int64).reshape(-1, 4)
    try:
        split = SplitFiles(str(names_path), "fuzz.mat", "track_train_info", str(names_path.parent))
        tracklets = list(rows_to_tracklets(split, frame_names, matrix, FolderCheck()).values())
    except DatasetFileError as err:
        assert str(names_path) in str(err) or "fuzz.mat" in str(err)
        return
    assert len(tracklets) <= len(rows) and all(len(paths) > 0 and cam >= 0 for paths, _, cam, _ in tracklets)


def test_fuzz_targets_still_accept_valid_input(tmp_path):
    """The properties above hold trivially if everything is rejected: valid files must load."""
    schema = SCHEMAS[1]
    (tmp_path / "a.csv").write_text(",".join(schema.header) + "\n1,1,1," + ",".join(["0"] * len(schema.names)) + "\n")
    assert read_attribute_csv(str(tmp_path / "a.csv")).lookup((1, 1, 1)) == (0,) * len(schema.names)
    savemat(tmp_path / "t.mat", {"track_train_info": np.array([[1, 2, 1, 1]], dtype=np.int32)})
    assert read_track_rows(str(tmp_path / "t.mat"), "track_train_info").tolist() == [[1, 2, 1, 1]]
    savemat(tmp_path / "q.mat", {"query_IDX": np.array([[1]], dtype=np.uint16)})
    assert read_query_rows(str(tmp_path / "q.mat"), 1).tolist() == [0]
    (tmp_path / "a.yaml").write_text("train:\n  lr: 0.01\n")
    cfg = get_default_config()
    merge_from_file(cfg, str(tmp_path / "a.yaml"))
    merge_from_list(cfg, ["train.max_epoch", "3"])
    assert (cfg.train.lr, cfg.train.max_epoch) == (0.01, 3)
    (tmp_path / "n.txt").write_text("0001C1T0001F002.jpg\n0001C1T0001F001.jpg\n")
    folders = FolderCheck()
    tracklets = list(rows_to_tracklets(SplitFiles(str(tmp_path / "n.txt"), "t.mat", "v", str(tmp_path)),
                                       read_frame_names(str(tmp_path / "n.txt")), np.array([[1, 2, 1, 1]]), folders).values())
    assert [(len(t[0]), t[1], t[2], t[3]) for t in tracklets] == [(2, 1, 0, (1, 1, 1))]
    assert tracklets[0][0][0].endswith("0001C1T0001F001.jpg") and folders.missing == [str(tmp_path / "0001")]
