"""Within-identity variation of attributes (issue 20): the figures of the real MARS release and the rule."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from aitl_reid.data.attribute_variation import identity_variation, main, within_identity_ratio
from aitl_reid.data.attributes_csv import read_attribute_csv
from aitl_reid.schema import MARS_V2

MARS_V2_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "mars_meta" / "mars_attributes_v2.csv"


def write_v2(tmp_path: Path, rows) -> str:
    """A second-release CSV whose 'pose' (angle) and 'gender' cells are given; every other cell 0."""
    angle, gender = MARS_V2.names.index("angle"), MARS_V2.names.index("gender")
    lines = [",".join(MARS_V2.header)]
    for pid, number, angle_value, gender_value in rows:
        cells = [0] * len(MARS_V2.names)
        cells[angle], cells[gender] = angle_value, gender_value
        lines.append(",".join(map(str, [pid, 1, number] + cells)))
    path = tmp_path / "a.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_share_counts_identities_whose_tracklets_disagree_and_skips_single_tracklets(tmp_path):
    rows = [(1, 1, 0, 1), (1, 2, 3, 1), (2, 1, 2, 0), (2, 2, 2, 0), (3, 1, 5, 1)]  # id 3: one tracklet
    result = {r.name: r for r in identity_variation(read_attribute_csv(write_v2(tmp_path, rows)))}
    assert (result["angle"].varying, result["angle"].identities) == (1, 2)
    assert result["gender"].varying == 0 and result["gender"].share == 0.0
    assert result["gender"].within_ratio == 0.0  # fixed per identity, differs across identities


def test_within_ratio_is_one_for_labels_independent_of_identity_and_zero_for_fixed_ones():
    assert within_identity_ratio([[0, 1], [0, 1], [1, 0]]) == pytest.approx(1 / (3 / 5))
    assert within_identity_ratio([[0, 0], [1, 1]]) == 0.0
    assert math.isnan(within_identity_ratio([[2, 2], [2, 2]]))  # no pair of tracklets disagrees anywhere


def test_missing_cells_are_not_values(tmp_path):
    path = write_v2(tmp_path, [(1, 1, 0, 1), (1, 2, 0, 1)])
    text = Path(path).read_text().replace("\n1,1,2,0,0,", "\n1,1,2,-1,0,")  # tracklet 2: action not annotated
    Path(path).write_text(text)
    action = identity_variation(read_attribute_csv(path))[0]
    assert (action.name, action.identities) == ("action", 0) and math.isnan(action.share)


@pytest.mark.skipif(not MARS_V2_CSV.is_file(), reason=f"real MARS attribute CSV not available at {MARS_V2_CSV}")
def test_real_mars_second_release_figures():
    result = {r.name: r for r in identity_variation(read_attribute_csv(str(MARS_V2_CSV)))}
    assert result["angle"].identities == 1255
    shares = {name: round(100 * r.share, 1) for name, r in result.items()}
    assert (shares["angle"], shares["back-dominant"], shares["multi-person"], shares["action"]) == (97.5, 45.7, 26.5, 21.2)
    assert (shares["target-change"], shares["cut"], shares["upcolor"], shares["gender"], shares["handbag"]) == (13.8, 11.2, 2.2, 0.3, 10.8)
    assert result["back-dominant"].within_ratio == pytest.approx(0.98, abs=0.01)
    assert result["gender"].within_ratio < 0.01


def test_cli_prints_one_column_per_file_and_names_a_broken_file(tmp_path, capsys):
    good = write_v2(tmp_path, [(1, 1, 0, 1), (1, 2, 3, 1)])
    assert main([good, good, "--labels", "first", "second"]) == 0
    out = capsys.readouterr().out
    assert "| attribute | stream | first | second |" in out and "| angle | id_irrelevant | 100.0% (1/1), " in out
    broken = tmp_path / "broken.csv"
    broken.write_text("pid,cam\n")
    assert main([str(broken)]) == 2
    assert str(broken) in capsys.readouterr().out
