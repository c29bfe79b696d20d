from pathlib import Path

import pytest

from aitl_reid.config import get_default_config
from aitl_reid.data.attributes_csv import read_attribute_csv
from aitl_reid.data.datamanager import schema_from_config
from aitl_reid.schema import DUKE_V2, MARS_V1, MARS_V2

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
    with pytest.raises(ValueError, match=r"attributes.csv, line 2, column 5 \('pose'\): 'x' is not an integer"):
        read_attribute_csv(path)


def test_class_index_out_of_range_names_file_line_column_and_classes(tmp_path):
    row = "5,2,17,5" + ",0" * 20  # action has 5 classes: 0..4
    path = write(tmp_path, f"{V2_HEADER}\n{V2_ROW}\n{row.replace('17', '18', 1)}\n")
    expected = r"line 3, column 4 \('motion'\): class index 5 out of range; 'motion' has 5 classes"
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


# The released headers, exactly as published (../shared/data/mars_meta/README.md), typed out here so
# the test does not depend on the schema module it checks.
RELEASED_MARS_V2 = (
    "person_id,camera_id,tracklets_id,motion,pose,occlusion,cut-out,multi-person,background-dominant,"
    "target-change,target-miss,wrong-target,top color,bottom color,age,top length,bottom length,"
    "shoulder bag,backpack,hat,hand bag,hair,gender,bottom type"
)
RELEASED_DUKE = (
    "person_id,camera_id,tracklets_id,motion,pose,occlusion,cut-out,muti-person,background-dominant,"
    "target-change,target-miss,wrong-target,backpack,bag,handbag,boots,gender,hat,shoes,top,bottom color,top color"
)


def test_released_mars_second_release_header_reads_with_the_papers_short_names(tmp_path):
    table = read_attribute_csv(write(tmp_path, RELEASED_MARS_V2 + "\n1,2,58,0,3,0,0,0,0,0,0,0,8,0,1,1,1,0,0,0,0,1,1,0\n"))
    assert table.schema is MARS_V2
    assert table.schema.names[:2] == ("action", "angle") and table.schema.names[9:11] == ("upcolor", "downcolor")
    assert dict(zip(table.schema.names, table.lookup((1, 2, 58))))["upcolor"] == 8


def test_released_duke_header_with_its_typo_reads_as_duke_v2(tmp_path):
    row = "148,5,212," + ",".join(["0"] * 17) + ",7,8"  # bottom color has 8 classes, top color 9
    table = read_attribute_csv(write(tmp_path, RELEASED_DUKE + "\n" + row + "\n"))
    assert table.schema is DUKE_V2
    assert table.schema.names[4] == "multi-person" and table.schema.names[-2:] == ("downcolor", "upcolor")
    assert table.lookup((148, 5, 212))[-2:] == (7, 8)


def test_duke_bottom_color_has_eight_classes_named_by_its_released_column(tmp_path):
    row = "148,5,212," + ",".join(["0"] * 17) + ",8,0"
    with pytest.raises(ValueError, match=r"line 2, column 21 \('bottom color'\): class index 8 out of range"):
        read_attribute_csv(write(tmp_path, RELEASED_DUKE + "\n" + row + "\n"))


@pytest.mark.parametrize("spoil", ["bom", "crlf", "spaces"])
def test_released_header_tolerates_bom_crlf_and_spaces_around_names(tmp_path, spoil):
    header, row = RELEASED_MARS_V2, "1,2,58," + ",".join(["1"] * 21)
    if spoil == "spaces":
        header = ", ".join(f" {name} " for name in header.split(","))
    ending = "\r\n" if spoil == "crlf" else "\n"
    data = (header + ending + row + ending).encode("utf-8")
    path = tmp_path / "released.csv"
    path.write_bytes(b"\xef\xbb\xbf" + data if spoil == "bom" else data)
    table = read_attribute_csv(str(path))
    assert table.schema is MARS_V2 and table.lookup((1, 2, 58)) == (1,) * 21


def test_first_release_columns_get_the_same_short_names_as_the_second():
    assert MARS_V1.names == MARS_V2.names[9:]
    assert MARS_V1.num_classes == MARS_V2.num_classes[9:]


def test_unknown_header_lists_the_real_released_headers(tmp_path):
    with pytest.raises(ValueError) as err:
        read_attribute_csv(write(tmp_path, "person_id,camera_id,tracklets_id,action,angle\n"))
    assert RELEASED_MARS_V2 in str(err.value) and RELEASED_DUKE in str(err.value)
