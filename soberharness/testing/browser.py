"""A run page as headless Chromium (Debian's `chromium`, installed by scripts/setup.sh) lays it
out: a screenshot at a given window width, and measurements taken in the page itself.

`measure_page` copies the page beside itself with a probe script appended. The probe opens
every `<details>`, scrolls the first matrix grid so that its head would leave the window, and
writes what it measured as JSON into `<body data-probe>`; Chromium's `--dump-dom` prints the
DOM after the scripts ran, and the JSON is read back from it. Chromium missing is an error
(`BrowserMissing`), never a skip: the selftest must not pass without it.

Chromium forks renderer, GPU and zygote children: it runs in a process group of its own, gets
SIGTERM when the harness dies (parent-death signal) and is watched by the harness's watchdog;
on a timeout or any error (Ctrl-C included) its whole group is SIGKILLed (`run_in_group`).
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from soberharness.targets.lifecycle import preexec_as
from soberharness.targets.watchdog import WATCHDOG

TIMEOUT_S = 90
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

PROBE = r"""<script>
window.addEventListener('load', function () {
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  var root = document.documentElement, width = root.clientWidth;
  var grids = Array.prototype.map.call(document.querySelectorAll('table.grid'), function (t) {
    var r = t.getBoundingClientRect(), heads = t.querySelectorAll('thead th');
    return {right: r.right, scroll: t.scrollWidth, client: t.clientWidth,
            heads: heads.length,
            cut: Array.prototype.filter.call(heads, function (h) {
              return h.getBoundingClientRect().right > width + 0.5; }).length,
            claims: Array.prototype.map.call(t.querySelectorAll('td.claims'), function (c) {
              return c.offsetWidth > 0 ? c.textContent : ''; })};
  });
  var sticky = null, first = document.querySelector('table.grid');
  if (first) {
    var head = first.querySelector('thead th');
    window.scrollTo(0, first.getBoundingClientRect().top + window.scrollY + 300);
    sticky = {position: getComputedStyle(head).position, top: head.getBoundingClientRect().top,
              tableTop: first.getBoundingClientRect().top};
    window.scrollTo(0, 0);
  }
  var text = function (sel) { var e = document.querySelector(sel);
                              return e ? e.textContent.trim() : null; };
  var all = function (sel) { return Array.prototype.map.call(document.querySelectorAll(sel),
                                 function (e) { return e.textContent.trim(); }); };
  document.body.setAttribute('data-probe', JSON.stringify({
    window: width, page_scroll: root.scrollWidth, grids: grids, sticky: sticky,
    failure_header: text('#failures + .bad-box'), failed_tests: all('li.failed-test').length,
    failing_lints: all('td.failing'), declared_lints: all('td.declared'),
    every_test_rows: all('#every-test tr.case').length,
    filters: all('.outcome-filter').length + all('#test-filter').length
  }));
});
</script>"""


class BrowserMissing(RuntimeError):
    """No Chromium here: scripts/setup.sh installs Debian's `chromium`."""


def chromium() -> str:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserMissing("chromium is not installed: run scripts/setup.sh (it installs Debian's "
                         "`chromium`), or apt-get install chromium")


def _run(page: Path, width: int, height: int, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="soberharness-chromium-") as profile:
        argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
                f"--window-size={width},{height}", "--virtual-time-budget=3000", *args,
                page.resolve().as_uri()]
        env = {**os.environ, "HOME": profile}
        return run_in_group(argv, TIMEOUT_S, env)


def run_in_group(argv: Sequence[str], timeout: float,
                 env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Like subprocess.run(argv, capture_output=True, text=True, timeout=timeout), with the
    child leading a process group of its own: on a timeout (subprocess.TimeoutExpired is
    raised) or any other exception, every process of that group is SIGKILLed and reaped."""
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(env), start_new_session=True,
                            preexec_fn=preexec_as(None, signal.SIGTERM))
    WATCHDOG.watch_process(proc.pid, signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:  # a timeout, Ctrl-C, SIGTERM: the whole group goes
        _kill_group(proc.pid)  # the leader is not reaped yet: its pgid cannot be reused
        proc.wait()  # not communicate(): a process that left the group may hold the pipes
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        raise
    finally:
        WATCHDOG.forget_process(proc.pid)
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def screenshot(page: Path, out: Path, width: int = 1400, height: int = 1000) -> tuple[int, int]:
    """Write a PNG of `page` to `out`; its (width, height) in pixels."""
    done = _run(page, width, height, f"--screenshot={out}")
    if not out.exists():
        raise RuntimeError(f"chromium wrote no screenshot (exit {done.returncode}): "
                           f"{done.stderr.strip()[-400:]}")
    header = out.read_bytes()[:24]
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def measure_page(page: Path, width: int = 1400, height: int = 1000) -> dict[str, Any]:
    """What the probe measured in `page` laid out in a window `width` pixels wide."""
    probe = page.with_name(page.stem + ".probe.html")
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    try:
        done = _run(probe, width, height, "--dump-dom")
    finally:
        probe.unlink(missing_ok=True)
    found = re.search(r'data-probe="([^"]*)"', done.stdout)
    if not found:
        raise RuntimeError(f"the page's probe did not run in chromium (exit {done.returncode}): "
                           f"{done.stderr.strip()[-400:]}")
    return json.loads(html.unescape(found.group(1)))
