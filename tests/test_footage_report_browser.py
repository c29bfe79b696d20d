"""report.html of aitl-reid-track in a real browser (Debian's chromium, headless): every image the page references
loads, checked by the browser itself against a page with a missing image, and the page renders to a screenshot.
Skipped where chromium is not installed (apt-get install chromium)."""
import json
import re
import shutil
import subprocess

import cv2
import pytest


CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

# Each page in an iframe; once it has loaded, the harness's title lists per page its images and the broken ones
# (file:// pages are one origin only with --allow-file-access-from-files).
HARNESS = """<!DOCTYPE html><html><head><title></title></head><body>{frames}<script>
var results = {{}};
Array.from(document.querySelectorAll("iframe")).forEach(function (frame) {{
  frame.onload = function () {{
    var images = Array.from(frame.contentDocument.images);
    results[frame.id] = [images.length, images.filter(function (i) {{ return !(i.complete && i.naturalWidth > 0); }})
                                           .map(function (i) {{ return i.getAttribute("src"); }})];
    document.title = JSON.stringify(results);
  }};
}});
</script></body></html>"""


def chromium(*args, timeout=60):
    return subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=timeout)


def test_every_image_of_the_report_loads_in_chromium(footage_run, tmp_path):
    _, out, _ = footage_run
    (tmp_path / "control.html").write_text("<html><body><img src='crops/missing.jpg'></body></html>")
    frames = "".join(f"<iframe id='{name}' src='{path.as_uri()}'></iframe>"
                     for name, path in (("report", out / "report.html"), ("control", tmp_path / "control.html")))
    (tmp_path / "harness.html").write_text(HARNESS.format(frames=frames))
    result = chromium("--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom",
                      (tmp_path / "harness.html").as_uri())
    title = re.search(r"<title>(.*)</title>", result.stdout)
    assert title, result.stderr[-2000:]
    loaded = json.loads(title.group(1).replace("&quot;", '"'))
    people = json.loads((out / "people.json").read_text())["people"]
    assert loaded["report"] == [sum(len(p["tracklets"]) for p in people), []]
    assert loaded["control"] == [1, ["crops/missing.jpg"]]  # the check sees a broken image


def test_the_report_renders_to_a_screenshot(footage_run, tmp_path):
    _, out, _ = footage_run
    shot = tmp_path / "report.png"
    result = chromium("--window-size=1000,700", f"--screenshot={shot}", (out / "report.html").as_uri())
    assert shot.is_file(), result.stderr[-2000:]
    image = cv2.imread(str(shot))
    assert image.shape[:2] == (700, 1000) and image.std() > 10  # not a blank page
