"""Full-scale MARS check against the real metadata in ../shared/data/mars_meta (no images needed).

The tree (``bench.mars_tree``) has the real ``.mat`` files and CSV, frame names rebuilt from them,
and one tiny JPEG hard-linked per frame name (1.19M links). How long loading takes is measured by the
benchmark (``python -m bench.run --only memory``: the metadata-loading row, against torchreid's ``Mars``),
not asserted here, where the machine's load would decide it.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from aitl_reid.data.dataset import count_annotated
from aitl_reid.data.mars import MarsAttr
from aitl_reid.data.transforms import ClipTransform
from bench.mars_tree import MARS_META
from bench.memory import LIMIT_MB, measure_in_fresh_process

META = Path(MARS_META)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not META.is_dir(), reason=f"real MARS metadata not available at {META}"),
]


def test_full_scale_mars_loads_published_protocol_with_every_csv_attribute(full_mars_root: Path) -> None:
    dataset = MarsAttr(root=str(full_mars_root), transform=ClipTransform(16, 8), mode="query", verbose=False)

    assert dataset.attribute_schema.name == "mars_v1"
    assert (dataset.num_train_pids, len(dataset.train)) == (625, 8298)
    assert (len(dataset.query), len(dataset.gallery)) == (1980, 9330)
    assert sum(len(items[0]) for items in dataset.train) == 509_914
    labelled_test = [items for items in dataset.query + dataset.gallery if items[1] > 0]
    distractors = [items for items in dataset.gallery if items[1] == 0]
    assert count_annotated(dataset.train) == 8298
    assert (len(labelled_test), count_annotated(labelled_test)) == (8062, 8062)
    assert (len(distractors), count_annotated(distractors)) == (3248, 0)
    assert dataset[0]["img"].shape[1:] == (4, 3, 16, 8)


def test_full_scale_metadata_and_clip_index_stay_under_the_memory_goal(full_mars_root: Path) -> None:
    """About 160 MB measured (BENCHMARKS.md, memory row); fails only on a regression far beyond that."""
    measured = measure_in_fresh_process("ours", str(full_mars_root))
    print(f"full-scale MARS metadata: {measured['retained_mb']:.0f} MB retained, {measured['peak_mb']:.0f} MB peak")
    assert measured["tracklets"] == 8298 + 1980 + 9330
    assert measured["retained_mb"] < LIMIT_MB and measured["peak_mb"] < LIMIT_MB


def test_full_scale_mars_with_the_released_second_release_csv_as_it_is(full_mars_root: Path) -> None:
    """The paper's annotation file, unmodified: every one of its 16360 rows joins a tracklet, every
    tracklet with a person id gets its row, and each column's classes fit the schema."""
    v2_csv = META / "mars_attributes_v2.csv"
    v1 = MarsAttr(root=str(full_mars_root), transform=ClipTransform(16, 8), mode="query", verbose=False)
    v2 = MarsAttr(root=str(full_mars_root), attributes_csv=str(v2_csv), transform=ClipTransform(16, 8),
                  mode="query", verbose=False)

    assert v2.attribute_schema.name == "mars_v2" and len(v2.attribute_schema.names) == 21
    tracklets = v2.train + v2.query + v2.gallery
    labelled = v2.train + [t for t in v2.query + v2.gallery if t[1] > 0]  # train ids are relabelled from 0
    assert len(labelled) == 8298 + 8062 == 16360 and count_annotated(labelled) == 16360
    assert count_annotated([t for t in v2.gallery if t[1] == 0]) == 0
    for column, k in enumerate(v2.attribute_schema.num_classes):
        values = {t[4][column] for t in labelled}
        assert values == set(range(k)), (v2.attribute_schema.names[column], sorted(values))
    # the twelve identity-relevant columns equal the first release's, tracklet by tracklet
    for old, new in zip(v1.train + v1.query + v1.gallery, tracklets):
        assert new[4][9:] == old[4]
