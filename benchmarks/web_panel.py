"""Speed and memory of the web panel (``iscm-assist web --demo``) driven by Debian's chromium.

Prints four figures against the issue's targets, each with a peer where one exists:
- server start to first image (target < 5 s): process start -> first view image in the browser (the
  demo exam is written beforehand, so this is loading the exam and read plus the server);
- point drag -> updated lesion table, round trip through the browser, p95 (target < 100 ms); peer:
  the Logic's own recomputation for the same point move, timed in this process on slicer-core;
- slice scroll -> new view image, p95 (target < 50 ms);
  both from the browser's input event (``event.timeStamp``: the browser made the event, the page had
  not yet run it) to the change on the page, and also from Playwright's input call;
- server memory (RSS) with one reader connected (target < 1 GB).

Run: ``python benchmarks/web_panel.py [--moves 40]`` (needs chromium, Playwright, trame-slicer).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Testing" / "web"))
sys.path.insert(0, str(ROOT / "ISCMAssist"))

from web_panel_server import CHROMIUM, CHROMIUM_ARGS, start_panel, stop_panel  # noqa: E402

WATCH_JS = """() => {
  // when the table and the sagittal image last changed, and when the browser made the last input event
  // (event.timeStamp: before the page's main thread got to it); waiters resolve on a change, so the
  // benchmark does not poll the page while it measures
  window.__changes = {table: 0, image: 0, input: 0};
  window.__waiters = [];
  const changed = (key) => () => {
    const now = performance.now();
    window.__changes[key] = now;
    window.__waiters = window.__waiters.filter((w) => !(w.key === key && w.since < now && (w.resolve(now), true)));
  };
  new MutationObserver(changed('table'))
    .observe(document.querySelector('#lesion-table'), {subtree: true, characterData: true, childList: true});
  new MutationObserver(changed('image'))
    .observe(document.querySelector('#views img'), {attributes: true, attributeFilter: ['src']});
  for (const type of ['mousemove', 'wheel'])
    window.addEventListener(type, (e) => { window.__changes.input = e.timeStamp; }, {capture: true, passive: true});
  window.__waitChange = (key, since, timeoutMs) => new Promise((resolve) => {
    if (window.__changes[key] > since) return resolve(window.__changes[key]);
    window.__waiters.push({key, since, resolve});
    setTimeout(() => resolve(NaN), timeoutMs);
  });
}"""


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def round_trip(tab, key: str, do_input) -> tuple[float, float]:
    """Run ``do_input()`` (one mouse move or wheel step) and wait for the page's ``key`` change.
    Returns (ms from the input call, ms from the browser's input event) to the change; NaN if none."""
    sent = tab.evaluate("performance.now()")
    do_input()
    seen = tab.evaluate("([key, since]) => window.__waitChange(key, since, 5000)", [key, sent])
    event = tab.evaluate("window.__changes.input")
    return seen - sent, (seen - event if event > sent else float("nan"))


def logic_peer_ms(out: Path, moves: int) -> float:
    """Median ms of the Logic's recomputation for one SI end point move (headless slicer-core)."""
    from ISCMAssistLib.web.logic_link import ISCMAssistLogic, create_headless_context

    context = create_headless_context()
    logic = ISCMAssistLogic(context.scene, context.logics)
    logic.openCaseFile(out / "demo" / "case.json")
    node = logic.lesionNodes("L1")["lesion_si"]
    start = np.array(node.GetNthControlPointPositionWorld(1))
    times = []
    for step in range(moves):
        began = time.perf_counter()
        node.SetNthControlPointPositionWorld(1, *(start + [0, 0, 0.5 * step]))  # observers recompute
        times.append(1000 * (time.perf_counter() - began))
    logic.cleanup()
    context.close()
    return float(np.median(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=40, help="drag steps and scroll steps (default 40)")
    parser.add_argument("--figure", type=Path, help="also write the round trips' distributions as a PNG")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="iscm-web-bench-") as folder:
        out = Path(folder) / "out"
        from ISCMAssistLib.demo import run_demo

        run_demo(out / "demo")  # written beforehand: the panel reuses it
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            tab = browser.new_page(viewport={"width": 1600, "height": 1000})
            began = time.monotonic()
            server = start_panel(["--demo"], out)
            try:
                tab.goto(server.url + "/index.html")
                tab.wait_for_function("() => { const i = document.querySelector('#views img');"
                                      " return i && i.naturalWidth > 0; }", timeout=120_000)
                first_image_s = time.monotonic() - began
                time.sleep(2.0)
                tab.evaluate(WATCH_JS)
                drag = drag_round_trips(tab, args.moves)
                scroll = scroll_round_trips(tab, args.moves)
                memory = rss_mb(server.process.pid)
            finally:
                stop_panel(server)
                browser.close()
        peer = logic_peer_ms(out, args.moves)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} during the run "
          "(figures scale with a loaded machine)")
    figures = {"first_image_s": round(first_image_s, 2), "logic_recompute_ms": round(peer, 2),
               "server_rss_mb": round(memory)}
    print(f"server start to first image:   {first_image_s:6.2f} s   (target < 5 s)")
    for name, target, times in (("drag -> table", 100, drag), ("scroll -> image", 50, scroll)):
        from_call, from_event = np.array(times).T
        p95 = float(np.nanpercentile(from_event, 95))
        print(f"{name + ' p95:':30s} {p95:6.1f} ms  (target < {target} ms; from the browser's input event;"
              f" median {np.nanmedian(from_event):.1f} ms; from Playwright's input call: p95"
              f" {np.nanpercentile(from_call, 95):.1f} ms, median {np.nanmedian(from_call):.1f} ms)")
        figures[name.split()[0] + "_p95_ms"] = round(p95, 1)
        figures[name.split()[0] + "_p95_from_call_ms"] = round(float(np.nanpercentile(from_call, 95)), 1)
    print(f"peer: the Logic's own recomputation of one point move {peer:.1f} ms")
    if args.figure:
        write_figure(args.figure, drag, scroll, first_image_s)
        print(f"figure: {args.figure}")
    print(f"server memory, one reader:     {memory:6.0f} MB  (target < 1024 MB)")
    print(json.dumps(figures))
    return 0


def write_figure(path: Path, drag: list, scroll: list, first_image_s: float) -> None:
    """Write the drag and scroll round trips (ms, from the browser's input event) as histograms with
    their target and p95 to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for axis, (title, target, times) in zip(axes, (("point drag -> updated table", 100, drag),
                                                   ("slice scroll -> new image", 50, scroll))):
        values = np.array(times)[:, 1]
        values = values[np.isfinite(values)]
        axis.hist(values, bins=20, color="#4c78a8")
        p95 = float(np.percentile(values, 95))
        axis.axvline(target, color="#d62728", label=f"target {target} ms")
        axis.axvline(p95, color="black", linestyle="--", label=f"p95 {p95:.0f} ms")
        axis.set(title=title, xlabel="ms from the browser's input event", ylabel="steps")
        axis.legend(frameon=False)
    figure.suptitle(f"Web panel round trips ({os.cpu_count()} cores, software rendering; first image "
                    f"{first_image_s:.1f} s)", fontsize=10)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _ras_to_page(tab, ras) -> tuple[float, float]:
    geometry = tab.evaluate("window.trame.state.get('view_geometry')")["sagittal"]
    box = tab.locator("#views img").first.bounding_box()
    x, y, _z, _w = np.linalg.inv(np.array(geometry["xy_to_ras"]).reshape(4, 4)) @ np.array([*ras, 1.0])
    return box["x"] + x, box["y"] + geometry["height"] - y


def drag_round_trips(tab, moves: int) -> list[tuple[float, float]]:
    """Drag lesion L1's lower SI end 2 px per step; per step, ms to the table's change (round_trip)."""
    case = json.loads(Path(tab.evaluate("window.trame.state.get('read_folder')")).parent.joinpath(
        "demo", "case.json").read_text())
    ends = np.array(case["lesions"][0]["lines_lps"]["si"], dtype=float) * [-1, -1, 1]
    x, y = _ras_to_page(tab, ends[np.argmin(ends[:, 2])])
    tab.mouse.move(x, y)
    time.sleep(0.3)
    tab.mouse.down()
    times = [round_trip(tab, "table", lambda step=step: tab.mouse.move(x, y + 2 * step)) for step in range(1, moves + 1)]
    tab.mouse.up()
    return times


def scroll_round_trips(tab, moves: int) -> list[tuple[float, float]]:
    """Scroll the sagittal view one slice per wheel step; per step, ms to the new image (round_trip)."""
    box = tab.locator("#views img").first.bounding_box()
    tab.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.2)
    time.sleep(0.3)
    return [round_trip(tab, "image", lambda step=step: tab.mouse.wheel(0, 100 if (step // 5) % 2 == 0 else -100))
            for step in range(moves)]


if __name__ == "__main__":
    sys.exit(main())
