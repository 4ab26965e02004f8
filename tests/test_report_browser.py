"""The HTML report in a real browser: headless Chromium loads it offline, every figure decodes,
the summary table is there, and a screenshot can be taken.

Chromium comes from Debian's `chromium` package; the test installs it when missing (root and
apt-get needed) and skips, saying why, only where that is impossible.
"""

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from reports.render import render

FIXTURE = Path(__file__).parent / "fixtures" / "run"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip

PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const result = {
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    summary_table: !!document.querySelector('#summary table'),
    sections: Array.from(document.querySelectorAll('section h2')).map(h => h.textContent),
  };
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script>"""


def _install_chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], env=env, timeout=600, check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, timeout=900,
                       check=True, capture_output=True)  # fmt: skip
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"chromium is not installed and apt-get could not install it: {exc}")
    exe = shutil.which("chromium")
    if not exe:
        pytest.skip("apt-get installed chromium but no chromium executable is on PATH")
    return exe


@pytest.fixture(scope="module")
def chromium():
    return _install_chromium()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    _, html_path = render([FIXTURE], out, [FIXTURE.parent / "external.csv"])
    return html_path


def _run(chromium, args, tmp_path, timeout=120):
    profile = tmp_path / "profile"
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def test_every_figure_loads_and_summary_is_present(chromium, report, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text().replace("</body>", PROBE + "</body>"), encoding="utf-8")
    proc = _run(chromium, ["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], tmp_path)
    match = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert match, f"probe did not run: {proc.stderr[-500:]}"
    result = json.loads(match.group(1).replace("&quot;", '"'))
    assert result["images"] >= 1 and result["broken"] == []
    assert result["summary_table"]
    assert "Summary: which strategy wins" in result["sections"]
    assert "Failures and unsupported cases" in result["sections"]


def test_screenshot(chromium, report, tmp_path):
    shot = tmp_path / "report.png"
    proc = _run(chromium, ["--window-size=1400,2000", f"--screenshot={shot}", report.as_uri()], tmp_path)
    assert shot.exists(), proc.stderr[-500:]
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert (width, height) == (1400, 2000)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
