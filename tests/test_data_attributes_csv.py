from pathlib import Path

import pytest

from aitl_reid.config import get_default_config
from aitl_reid.data.attributes_csv import read_attribute_csv
from aitl_reid.data.datamanager import schema_from_config
from aitl_reid.schema import MARS_V1, MARS_V2

V2_HEADER = ",".join(MARS_V2.header)
V2_ROW = "5,2,17," + ",".join(["1"] * 21)  # every class index 1


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "attributes.csv"
    path.write_text(text)
    return str(path)


def test_second_release_header_is_detected_and_rows_keyed_by_tracklet(tmp_path):
    table = read_attribute_csv(write(tmp_path, f"{V2_HEADER}\n{V2_ROW}\n"))
    assert table.schema is MARS_V2
    assert table.lookup((5, 2, 17)) == (1,) * 21


def test_first_release_header_is_detected(tmp_path):
    header = ",".join(MARS_V1.header)
    table = read_attribute_csv(write(tmp_path, f"{header}\n1,2,58,8,0,1,1,1,0,0,0,0,1,1,0\n"))
    assert table.schema is MARS_V1
    assert table.lookup((1, 2, 58)) == (8, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0)


def test_tracklet_without_row_gets_minus_one_for_every_attribute(tmp_path):
    table = read_attribute_csv(write(tmp_path, f"{V2_HEADER}\n{V2_ROW}\n"))
    assert table.lookup((5, 2, 18)) == (-1,) * 21


def test_minus_one_cell_means_not_annotated_and_blank_lines_are_skipped(tmp_path):
    row = "5,2,17,-1," + ",".join(["0"] * 20)
    table = read_attribute_csv(write(tmp_path, f"{V2_HEADER}\n\n{row}\n\n"))
    assert table.lookup((5, 2, 17))[:2] == (-1, 0)


def test_unknown_header_names_the_file_and_the_known_headers(tmp_path):
    path = write(tmp_path, "pid,cam,track,colour\n1,1,1,0\n")
    with pytest.raises(ValueError, match="unknown header") as err:
        read_attribute_csv(path)
    assert path in str(err.value) and "mars_v2" in str(err.value)


def test_explicit_schema_rejects_a_header_of_another_release(tmp_path):
    path = write(tmp_path, f"{V2_HEADER}\n{V2_ROW}\n")
    with pytest.raises(ValueError, match=r"line 1: header .* does not match schema 'mars_v1'"):
        read_attribute_csv(path, "mars_v1")


def test_wrong_column_count_names_file_and_line(tmp_path):
    path = write(tmp_path, f"{V2_HEADER}\n{V2_ROW}\n6,1,1,0\n")
    with pytest.raises(ValueError, match=r"attributes.csv, line 3: 4 columns, expected 24"):
        read_attribute_csv(path)


def test_non_integer_value_names_file_line_and_column(tmp_path):
    row = "5,2,17,1,x" + ",1" * 19
    path = write(tmp_path, f"{V2_HEADER}\n{row}\n")
    with pytest.raises(ValueError, match=r"attributes.csv, line 2, column 5 \('angle'\): 'x' is not an integer"):
        read_attribute_csv(path)


def test_class_index_out_of_range_names_file_line_column_and_classes(tmp_path):
    row = "5,2,17,5" + ",0" * 20  # action has 5 classes: 0..4
    path = write(tmp_path, f"{V2_HEADER}\n{V2_ROW}\n{row.replace('17', '18', 1)}\n")
    expected = r"line 3, column 4 \('action'\): class index 5 out of range; 'action' has 5 classes"
    with pytest.raises(ValueError, match=expected):
        read_attribute_csv(path)


def test_duplicate_tracklet_row_names_both_lines(tmp_path):
    path = write(tmp_path, f"{V2_HEADER}\n{V2_ROW}\n{V2_ROW}\n")
    with pytest.raises(ValueError, match=r"line 3: tracklet \(5, 2, 17\).*already has a row at line 2"):
        read_attribute_csv(path)


def test_empty_file_is_an_error_naming_it(tmp_path):
    path = write(tmp_path, "")
    with pytest.raises(ValueError, match="the file is empty"):
        read_attribute_csv(path)


def test_custom_schema_from_config_reads_a_custom_csv(tmp_path):
    cfg = get_default_config()
    cfg.attributes.schema = "custom"
    cfg.attributes.custom_names = ["colour", "running"]
    cfg.attributes.custom_classes = [3, 2]
    cfg.attributes.custom_groups = ["id_relevant", "id_irrelevant"]
    schema = schema_from_config(cfg.attributes)
    table = read_attribute_csv(write(tmp_path, "person_id,camera_id,tracklets_id,colour,running\n4,1,2,2,1\n"), schema)
    assert table.schema.names == ("colour", "running")
    assert table.lookup((4, 1, 2)) == (2, 1)


def test_inconsistent_custom_schema_config_names_the_config_keys():
    cfg = get_default_config()
    cfg.attributes.schema = "custom"
    cfg.attributes.custom_names = ["colour", "running"]
    cfg.attributes.custom_classes = [3]
    cfg.attributes.custom_groups = ["id_relevant", "id_irrelevant"]
    with pytest.raises(ValueError, match=r"attributes.custom_\*"):
        schema_from_config(cfg.attributes)


def test_builtin_schema_name_from_config_is_passed_through():
    cfg = get_default_config()
    cfg.attributes.schema = "duke_v2"
    assert schema_from_config(cfg.attributes) == "duke_v2"
