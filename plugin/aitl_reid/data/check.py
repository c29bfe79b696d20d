"""Check a downloaded MARS or DukeMTMC-VideoReID copy against the published protocol before training.

``python -m aitl_reid.data.check mars|duke ROOT`` (or ``aitl-reid-check``), ROOT being the data root
the trainer reads (``data.root``, holding ``mars/`` or ``dukemtmc-vidreid/``); ``aitl-reid-check --layout mars|duke``
prints the layout a copy needs and where each piece is published (the text of datasets/README.md's sections). The adapters stop at
the first kind of problem they meet, without the protocol's counts or where to get what is missing,
and accept a CSV that covers only part of the tracklets (the rest train with every attribute masked).
The check reads the folder with the adapters' own paths and readers (names files, ``.mat`` rows,
folder walks, attribute CSV), so what it calls complete is what training loads. It prints the counts
against the protocol, each missing piece with what it is and where it is published (a count and up
to three examples for frames and folders), and the attribute coverage per split.

Exit status: 0 complete, 1 incomplete (a ROOT that does not exist included: nothing is there yet),
2 usage error (argparse's status, as every command line of the project).
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple, TypeVar

from ..process_exit import as_command
from .attributes_csv import AttributeTable, TrackletKey, attribute_csv_path, read_attribute_csv
from .dataset import RawTracklet
from .duke import DUKE_FRAMES_DIR, DUKE_LAYOUT, SPLITS, DukeMTMCVidReIDAttr, list_split
from .file_checks import layout_hint
from .mars import (MARS_LAYOUT, FolderCheck, MarsAttr, SplitFiles, mars_files, read_frame_names, read_query_rows,
                   read_track_rows, rows_to_tracklets)

EXAMPLES = 3
T = TypeVar("T")

MARS_PAGE = "http://zheng-lab.cecs.anu.edu.au/Project/project_mars.html"
MARS_INFO = "folder info/ of https://github.com/liangzheng06/MARS-evaluation"
SECOND_RELEASE = ("the second release (the paper's): http://irip.buaa.edu.cn/mars_duke_attributes/index.html, as "
                  "given by the authors' code https://github.com/yuange250/Video-based-person-ReID-with-Attribute-"
                  "information (the link is reported dead)")
DUKE_ZIP = ("DukeMTMC-VideoReID.zip, linked from https://github.com/Yu-Wu/DukeMTMC-VideoReID (Wu et al., CVPR 2018), "
            "extracted into dukemtmc-vidreid/; DukeMTMC was withdrawn by its authors in 2019: use only a copy you are "
            "entitled to")


@dataclass(frozen=True)
class Source:
    """What a piece of a dataset is and where it is published: printed beside the piece when it is missing."""

    what: str
    published: str


@dataclass(frozen=True)
class Protocol:
    """The counts a complete copy shows: the published ones by default, smaller ones for a test tree."""

    name: str
    train_ids: int
    train_tracklets: int
    train_frames: Optional[int]  # None where no count is published: reported, not compared
    query: int
    gallery: int
    annotated: Tuple[int, int, int]  # tracklets with an attribute row, in train, query, gallery


MARS_PROTOCOL = Protocol("MARS", train_ids=625, train_tracklets=8298, train_frames=509_914, query=1980, gallery=9330,
                         annotated=(8298, 1980, 6082))  # the gallery's 3248 distractors have no row
DUKE_PROTOCOL = Protocol("DukeMTMC-VideoReID", train_ids=702, train_tracklets=2196, train_frames=None, query=702,
                         gallery=2636, annotated=(2196, 0, 2636))  # the release's rows: train and gallery
COUNTS = (("train_ids", "train identities"), ("train_tracklets", "train tracklets"), ("train_frames", "train frames"),
          ("query", "query tracklets"), ("gallery", "gallery tracklets"))


@dataclass(frozen=True)
class Split:
    """One split as found: the tracklets the dataset defines, those with every frame there, and the frames there."""

    tracklets: List[RawTracklet]
    whole: List[RawTracklet]
    frames: int


@dataclass(frozen=True)
class Missing:
    """A missing file or folder (``count`` 0), or ``count`` missing frames or folders inside ``path``."""

    path: str
    source: Source
    count: int = 0
    noun: str = ""
    examples: Tuple[str, ...] = ()


@dataclass
class Report:
    """What a check found; :attr:`complete` decides the exit status, :meth:`render` is what is printed."""

    protocol: Protocol
    root: str
    layout: str
    check: str  # the command's name for the dataset: mars or duke
    notes: List[str] = field(default_factory=list)
    missing: List[Missing] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)  # files that are there but cannot be used
    splits: Dict[str, Split] = field(default_factory=dict)  # the splits that could be listed
    table: Optional[AttributeTable] = None

    def require(self, pieces: Dict[str, Source]) -> None:
        """Record every piece whose path does not exist."""
        self.missing.extend(Missing(path, source) for path, source in pieces.items() if not osp.exists(path))

    def guard(self, read: Callable[..., T], *args: object) -> Optional[T]:
        """``read(*args)``, or None with the reader's message kept: the file is there but cannot be used."""
        try:
            return read(*args)
        except (ValueError, OSError) as err:  # the adapters' errors (DatasetFileError is a ValueError)
            self.problems.append(str(err))
            return None

    def counts(self) -> Dict[str, Optional[int]]:
        """The protocol's counts as found (a tracklet counts when all its frames are there); None: not listed."""
        train, query, gallery = (self.splits.get(name) for name in SPLITS)
        return {
            "train_ids": None if train is None else len({pid for _, pid, _, _ in train.whole}),
            "train_tracklets": None if train is None else len(train.whole),
            "train_frames": None if train is None else train.frames,
            "query": None if query is None else len(query.whole),
            "gallery": None if gallery is None else len(gallery.whole),
        }

    def annotated(self) -> Dict[str, int]:
        """Per listed split, how many of its tracklets have an attribute row; empty without a readable CSV."""
        if self.table is None:
            return {}
        rows = self.table.rows
        return {name: sum(key in rows for *_, key in split.tracklets) for name, split in self.splits.items()}

    def unmatched_rows(self) -> Optional[List[TrackletKey]]:
        """CSV rows that match no tracklet; None unless the CSV was read and every split listed."""
        if self.table is None or len(self.splits) < len(SPLITS):
            return None
        keys = {key for split in self.splits.values() for *_, key in split.tracklets}
        return [key for key in self.table.rows if key not in keys]

    @property
    def complete(self) -> bool:
        found = self.counts()
        counts_match = all(found[key] is not None and getattr(self.protocol, key) in (None, found[key])
                           for key, _ in COUNTS)
        return (counts_match and not self.missing and not self.problems and self.table is not None
                and self.annotated() == dict(zip(SPLITS, self.protocol.annotated)) and self.unmatched_rows() == [])

    def render(self) -> str:
        complete = self.complete
        lines = [f"{self.protocol.name} in {self.root}: {'complete' if complete else 'INCOMPLETE'}", *self.notes,
                 "", f"{'':<18}{'found':>10}{'expected':>10}"]
        found = self.counts()
        for key, label in COUNTS:
            expected = getattr(self.protocol, key)
            lines.append(f"{label:<18}{_number(found[key]):>10}{_number(expected):>10}{_differs(found[key], expected)}")
        lines += ["(a tracklet counts when all of its frames are there)", "", *self._coverage_lines()]
        if self.missing:
            lines += ["", "Missing:"]
            for piece in self.missing:
                source = piece.source
                lines += [f"  {self._describe(piece)}", f"      {source.what}; published: {source.published}"]
        if self.problems:
            lines += ["", "There but unusable:", *(f"  {problem}" for problem in self.problems)]
        if not complete:
            lines += ["", "Expected layout:", self.layout, layout_hint(self.check)]
        return "\n".join(lines)

    def _coverage_lines(self) -> List[str]:
        if self.table is None:
            return ["Attribute coverage: not computed (no readable attribute CSV)"]
        lines = [f"Attribute coverage ({self._shown(self.table.path)}: schema {self.table.schema.name}, "
                 f"{len(self.table.rows):,} rows):",
                 f"{'':<18}{'tracklets':>10}{'with a row':>12}{'expected':>10}{'without a row':>15}"]
        annotated = self.annotated()
        for name, expected in zip(SPLITS, self.protocol.annotated):
            total = len(self.splits[name].tracklets) if name in self.splits else None
            joined = annotated.get(name)
            without = None if total is None or joined is None else total - joined
            lines.append(f"{name:<18}{_number(total):>10}{_number(joined):>12}{_number(expected):>10}"
                         f"{_number(without):>15}{_differs(joined, expected)}")
        unmatched = self.unmatched_rows()
        if unmatched is None:
            lines.append("rows matching no tracklet: not computed (a split could not be listed)")
        else:
            shown = ", ".join(map(str, unmatched[:EXAMPLES]))
            examples = f", e.g. (person, camera, tracklet) {shown}" if unmatched else ""
            lines.append(f"rows matching no tracklet: {len(unmatched):,}{examples}{_differs(len(unmatched), 0)}")
        return lines

    def _describe(self, piece: Missing) -> str:
        if not piece.count:
            return self._shown(piece.path)
        examples = ", ".join(self._shown(p) for p in piece.examples)
        return f"{self._shown(piece.path)}: {piece.count:,} {piece.noun}, e.g. {examples}"

    def _shown(self, path: str) -> str:
        """A path relative to ROOT when it is inside ROOT (shorter lines), else as it is."""
        inside = osp.commonpath([self.root, osp.abspath(path)]) == self.root
        return osp.relpath(path, self.root) if inside else path


def _number(value: Optional[int]) -> str:
    return "-" if value is None else f"{value:,}"


def _differs(found: Optional[int], expected: Optional[int]) -> str:
    return "  << differs" if expected is not None and found != expected else ""


def _start(protocol: Protocol, root: str, dataset_folder: str, layout: str, check: str) -> Tuple[Report, str]:
    """A report for ``root`` and the dataset folder in it, with a note when either is absent."""
    root = osp.abspath(osp.expanduser(root))
    report = Report(protocol, root, layout, check)
    dataset_dir = osp.join(root, dataset_folder)
    if not osp.isdir(root):
        report.notes.append(f"ROOT {root} does not exist: every piece below is missing")
    elif not osp.isdir(dataset_dir):
        report.notes.append(f"no {dataset_folder}/ in {root}; ROOT is the data root (data.root) holding it")
    return report, dataset_dir


def _as_split(tracklets: List[RawTracklet], absent_folders: FrozenSet[str] = frozenset(),
              absent_frames: FrozenSet[str] = frozenset()) -> Split:
    """A :class:`Split` from its tracklets and what is absent on disk (folders, frame paths)."""
    present = [0 if osp.dirname(paths[0]) in absent_folders else len(paths) - len(absent_frames.intersection(paths))
               for paths, *_ in tracklets]
    whole = [t for t, n in zip(tracklets, present) if n == len(t[0])]
    return Split(tracklets, whole, sum(present))


def _mars_pieces(split: str, files: SplitFiles) -> Dict[str, Source]:
    """The frames folder and the two info files of one split (``train`` or ``test``), with their sources."""
    content = ("the train split" if split == "train"
               else "the test split (query, gallery; distractors 0000/, junk 00-1/)")
    return {
        files.home: Source(f"frames of {content}, one folder per identity",
                           f"bbox_{split}.zip on the MARS project page {MARS_PAGE}, extracted into mars/"),
        files.names_path: Source(f"the names of the {split} frames, one per line", MARS_INFO),
        files.mat_path: Source(f"the {split} tracklets: start, end, person, camera per row", MARS_INFO),
    }


Absent = Tuple[FrozenSet[str], FrozenSet[str]]  # identity folders, frames
MarsRows = Tuple[int, Dict[int, RawTracklet], Absent]


def _mars_rows(report: Report, files: SplitFiles, source: Source) -> Optional[MarsRows]:
    """The number of ``.mat`` rows of one split, its tracklets by row (junk left out) and what is absent on disk,
    recorded as missing; None when its names or ``.mat`` file is missing or unusable."""
    if not (osp.isfile(files.names_path) and osp.isfile(files.mat_path)):
        return None
    rows = report.guard(read_track_rows, files.mat_path, files.variable)
    names = report.guard(read_frame_names, files.names_path)
    listing = FolderCheck()
    tracklets = None if rows is None or names is None else report.guard(rows_to_tracklets, files, names, rows, listing)
    if tracklets is None:
        return None
    folders = [p for p in listing.missing if osp.dirname(p) == files.home]
    frames = [p for p in listing.missing if osp.dirname(p) != files.home]
    absent = frozenset(folders), frozenset(frames)
    if osp.isdir(files.home):  # otherwise the folder itself is reported
        in_folders = sum(len(paths) for paths, *_ in tracklets.values() if osp.dirname(paths[0]) in absent[0])
        for paths, noun in ((folders, f"identity folders missing ({in_folders:,} frames)"), (frames, "frames missing")):
            if paths:
                report.missing.append(Missing(files.home, source, len(paths), noun, tuple(paths[:EXAMPLES])))
    return len(rows), tracklets, absent


def mars_sources(dataset_dir: str, csv_path: str) -> Dict[str, Source]:
    """Every piece of a MARS copy in ``dataset_dir`` with what it is and where it is published."""
    train_files, test_files, query_mat = mars_files(dataset_dir)
    return {**_mars_pieces("train", train_files), **_mars_pieces("test", test_files),
            query_mat: Source("the rows of the query tracklets among the test tracklets", MARS_INFO),
            csv_path: Source("the tracklet attributes", f"{SECOND_RELEASE}; the first release (identity-relevant "
                             "attributes only): https://github.com/yuange250/MARS-Attribute")}


def check_mars(root: str, attributes_csv: str = "", protocol: Protocol = MARS_PROTOCOL) -> Report:
    """Check ``root/mars`` (and the attribute CSV: ``attributes_csv``, or the adapter's default file)."""
    report, dataset_dir = _start(protocol, root, MarsAttr.dataset_dir, MARS_LAYOUT, "mars")
    train_files, test_files, query_mat = mars_files(dataset_dir)
    csv_path = attribute_csv_path(attributes_csv, dataset_dir, MarsAttr.default_csv)
    pieces = mars_sources(dataset_dir, csv_path)
    report.require(pieces)
    if osp.isfile(csv_path):
        report.table = report.guard(read_attribute_csv, csv_path)

    train = _mars_rows(report, train_files, pieces[train_files.home])
    if train is not None:
        _, tracklets, absent = train
        report.splits["train"] = _as_split(list(tracklets.values()), *absent)
    test = _mars_rows(report, test_files, pieces[test_files.home])
    if test is not None and osp.isfile(query_mat):
        num_rows, tracklets, absent = test
        query_rows = report.guard(read_query_rows, query_mat, num_rows)
        if query_rows is not None:
            is_query = set(query_rows.tolist())
            report.splits["query"] = _as_split([tracklets[r] for r in query_rows.tolist() if r in tracklets], *absent)
            report.splits["gallery"] = _as_split([t for r, t in tracklets.items() if r not in is_query], *absent)
    return report


def duke_split_dirs(dataset_dir: str) -> Dict[str, str]:
    """The train, query and gallery folders of a DukeMTMC-VideoReID copy in ``dataset_dir``."""
    return {split: osp.join(dataset_dir, DUKE_FRAMES_DIR, split) for split in SPLITS}


def duke_sources(dataset_dir: str, csv_path: str) -> Dict[str, Source]:
    """Every piece of a DukeMTMC-VideoReID copy in ``dataset_dir`` with what it is and where it is published."""
    pieces = {path: Source(f"the {split} tracklets: <pid>/<tracklet>/<frame>.jpg", DUKE_ZIP)
              for split, path in duke_split_dirs(dataset_dir).items()}
    pieces[csv_path] = Source("the tracklet attributes", SECOND_RELEASE)
    return pieces


def check_duke(root: str, attributes_csv: str = "", protocol: Protocol = DUKE_PROTOCOL) -> Report:
    """Check ``root/dukemtmc-vidreid`` (and the attribute CSV: ``attributes_csv``, or the adapter's default file)."""
    report, dataset_dir = _start(protocol, root, DukeMTMCVidReIDAttr.dataset_dir, DUKE_LAYOUT, "duke")
    split_dirs = duke_split_dirs(dataset_dir)
    csv_path = attribute_csv_path(attributes_csv, dataset_dir, DukeMTMCVidReIDAttr.default_csv)
    pieces = duke_sources(dataset_dir, csv_path)
    report.require(pieces)
    if osp.isfile(csv_path):
        report.table = report.guard(read_attribute_csv, csv_path)
    for split, split_dir in split_dirs.items():
        found = report.guard(list_split, split_dir) if osp.isdir(split_dir) else None
        if found is not None:
            tracklets, empty = found
            report.splits[split] = _as_split(tracklets)
            if empty:
                report.missing.append(Missing(split_dir, pieces[split_dir], len(empty),
                                              "tracklet folders without frames", tuple(empty[:EXAMPLES])))
    return report


CHECKS: Dict[str, Callable[[str, str], Report]] = {"mars": check_mars, "duke": check_duke}


@dataclass(frozen=True)
class DatasetGuide:
    """What ``--layout`` prints for one dataset: the adapter, its layout, its pieces' sources and the CSV keys."""

    protocol: Protocol
    adapter: str
    folder: str
    default_csv: str
    layout: str
    sources: Callable[[str, str], Dict[str, Source]]
    tracklet_key: str  # how the CSV's tracklet column is numbered


GUIDES = {
    "mars": DatasetGuide(MARS_PROTOCOL, "mars_attr", MarsAttr.dataset_dir, MarsAttr.default_csv, MARS_LAYOUT,
                         mars_sources, "the T field of the frame names (T0003 -> 3)"),
    "duke": DatasetGuide(DUKE_PROTOCOL, "dukemtmcvidreid_attr", DukeMTMCVidReIDAttr.dataset_dir,
                         DukeMTMCVidReIDAttr.default_csv, DUKE_LAYOUT, duke_sources,
                         "the tracklet folder's number, unique across the dataset"),
}
LAYOUT_ROOT = "<root>"


def layout_text(dataset: str) -> str:
    """The layout a copy of ``dataset`` (mars or duke) needs, where each piece is published, the CSV's key columns
    and the protocol's counts: what ``--layout`` prints, and datasets/README.md's text."""
    guide = GUIDES[dataset]
    dataset_dir = f"{LAYOUT_ROOT}/{guide.folder}"
    protocol = guide.protocol
    lines = [f"{protocol.name} (data.sources / data.targets: {guide.adapter}), under the data root {LAYOUT_ROOT} "
             "(data.root):", guide.layout, "", "Where each piece is published:"]
    for path, source in guide.sources(dataset_dir, f"{dataset_dir}/{guide.default_csv}").items():
        lines += [f"  {path.replace(dataset_dir, guide.folder, 1)}: {source.what}", f"      {source.published}"]
    frames = "" if protocol.train_frames is None else f" ({protocol.train_frames:,} frames)"
    lines += ["", f"Attribute CSV: one row per tracklet, keyed by the person id as a number (1 for folder 0001), the "
              f"camera number (C1 -> 1) and the tracklet number: {guide.tracklet_key}; then one class index per "
              "attribute, -1 where not annotated (attributes.csv names a file elsewhere).",
              f"Protocol: {protocol.train_ids} train identities with {protocol.train_tracklets:,} tracklets{frames}; "
              f"{protocol.query:,} query and {protocol.gallery:,} gallery tracklets.",
              f"Check a copy before training: aitl-reid-check {dataset} ROOT"]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The options: a dataset (mars or duke) and the data root to check, or a dataset and ``--layout``."""
    parser = argparse.ArgumentParser(prog="aitl-reid-check", description=__doc__.split("\n\n")[0],
                                     epilog="exit status: 0 complete, 1 incomplete, 2 usage error")
    parser.add_argument("dataset", choices=sorted(CHECKS))
    parser.add_argument("root", nargs="?", help="the data root (data.root) that holds mars/ or dukemtmc-vidreid/")
    parser.add_argument("--layout", action="store_true",
                        help="print the layout a copy needs and where each piece is published, then exit")
    parser.add_argument("--attributes-csv", default="",
                        help="the attribute CSV when it is not in the dataset folder (as attributes.csv in the config)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line (``aitl-reid-check``): prints the report; 0 complete, 1 incomplete, 2 usage error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.layout:
        print(layout_text(args.dataset))
        return 0
    if args.root is None:
        parser.error("ROOT is required (the data root holding the dataset), or --layout to print the layout")
    report = CHECKS[args.dataset](args.root, args.attributes_csv)
    print(report.render())
    return 0 if report.complete else 1


command = as_command(main)
"""``aitl-reid-check``, the installed command (setup.py's console scripts); ``python -m`` runs it too."""

if __name__ == "__main__":
    sys.exit(command())
