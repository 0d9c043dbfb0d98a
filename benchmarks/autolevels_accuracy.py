"""Accuracy and speed of automatic vertebral levels (ISCMAssistLib.autolevels).

Prints, per image, a table of the proposed discs against the truth where there is one:
- synthetic phantoms (every region, straight and curved): 3D distance to the true disc centre; T1 post;
- ../shared/data/pam50_small: distance along the spine (S-I) to PAM50_small_label_disc (PAM50 puts its
  disc labels on the cord, our points are disc centres in front of it), with and without an anchor, and
  3D distances to those labels and to PAM50_small_label_discPosterior (the discs' posterior tips).
  C1/C2 (label value 2) marks the atlanto-axial level, not a disc: it is listed but not counted;
- ../shared/data/tutorial t2_ms and t2_lumbar: no truth; a PNG of the mid-sagittal slab with the
  proposed points for a person to check (docs/autolevels_t2_ms.png, docs/autolevels_t2_lumbar.png,
  docs/autolevels_pam50.png).
Then the time per series (wall and CPU, median of 3 runs; this machine has 2 cores).

Usage: python benchmarks/autolevels_accuracy.py [SHARED_DATA_FOLDER]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from ISCMAssistLib.autolevels import propose_levels
from ISCMAssistLib.phantom import make_spine_phantom
from ISCMAssistLib.vertebrae import disc_name
from ISCMAssistLib.images import load_volume

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def timed(volume, **kwargs):
    """Return (proposal, median wall s, median CPU s) over 3 runs."""
    walls, cpus, proposal = [], [], None
    for _ in range(3):
        w0, c0 = time.perf_counter(), time.process_time()
        proposal = propose_levels(volume, **kwargs)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return proposal, float(np.median(walls)), float(np.median(cpus))


def phantom_table(rows: list) -> None:
    print("\n== Synthetic phantoms (no anchor): discs found / true, names right, max 3D error of discs")
    print(f"{'case':24} {'found':>7} {'named ok':>8} {'max mm':>7} {'confident':>9}  first..last")
    build_s: list[tuple[str, float, float]] = []
    for region in ("cervical", "thoracic", "lumbar", "whole"):
        for curvature in (0.0, 25.0):
            t0 = time.perf_counter()
            phantom = make_spine_phantom(region, curvature_mm=curvature, seed=11)
            build_s.append((f"{region} curve {curvature:.0f} mm", time.perf_counter() - t0,
                            phantom.t2.array.nbytes / 1e6))
            proposal, wall, cpu = timed(phantom.t2)
            truth = {k: v for k, v in phantom.landmarks.items() if "/" in k}
            discs = proposal.discs()
            nearest = [min(truth, key=lambda k: np.linalg.norm(truth[k] - d.position_ras)) for d in discs]
            right = sum(n == d.label for n, d in zip(nearest, discs))
            errors = [np.linalg.norm(truth[n] - d.position_ras) for n, d in zip(nearest, discs)]
            name = f"{region} curve {curvature:.0f} mm"
            span = f"{discs[0].label}..{discs[-1].label}" if discs else "-"
            print(f"{name:24} {len(discs):>3}/{len(truth):<3} {right:>8} {max(errors, default=0):7.1f} "
                  f"{str(proposal.naming_confident):>9}  {span}")
            rows.append((name, phantom.t2.array.shape, wall, cpu))
    print("\n== Phantom generation (make_spine_phantom: T2 + T1 post), wall s and MB per volume (float32)")
    for name, seconds, megabytes in build_s:
        print(f"{name:24} {seconds:6.2f} s {megabytes:6.1f} MB")


def _label_points(path: Path) -> dict[str, np.ndarray]:
    """Return disc label -> RAS point of a PAM50 point-label volume (value = vertebra below the disc)."""
    labels = load_volume(path)
    k, j, i = np.nonzero(labels.array)
    points = labels.voxel_to_ras(np.stack([i, j, k], axis=1))
    pairs = sorted(zip(labels.array[k, j, i], points.tolist()), key=lambda vp: vp[0])
    return {disc_name(int(v) - 1): np.array(p) for v, p in pairs}


def pam50_table(folder: Path, rows: list) -> dict:
    """Compare the proposal with PAM50_small_label_disc (S-I) and _discPosterior (3D); return the figures."""
    volume = load_volume(folder / "PAM50_small_t2.nii.gz")
    truth = _label_points(folder / "PAM50_small_label_disc.nii.gz")
    posterior = _label_points(folder / "PAM50_small_label_discPosterior.nii.gz")
    figures = {}
    for anchor in (None, ("T8/T9", truth["T8/T9"])):
        proposal, wall, cpu = timed(volume, anchor=anchor)
        title = "no anchor" if anchor is None else "anchor T8/T9 (the PAM50 label)"
        print(f"\n== PAM50_small_t2, {title}: naming confident {proposal.naming_confident}")
        for message in proposal.messages:
            print(f"   note: {message}")
        print("   dS: S-I offset to PAM50_small_label_disc (PAM50 puts it on the cord at the disc's posterior tip);")
        print("   3D: distance to the label_disc point (on the cord) and to the _discPosterior point (disc's back)")
        print(f"{'PAM50 disc':>10} {'S mm':>7} | {'proposed':>8} {'dS mm':>6} {'3D disc':>7} {'3D post':>7} {'name':>5}")
        discs = {d.label: d for d in proposal.discs()}
        within, named, d_post, d_disc = 0, 0, [], []
        real = [label for label in posterior if label != "C1/C2"]   # C1/C2 marks no disc
        for label in posterior:
            point = truth.get(label, posterior[label])
            nearest = min(proposal.discs(), key=lambda d: abs(d.position_ras[2] - point[2]), default=None)
            found = nearest is not None and abs(nearest.position_ras[2] - point[2]) <= 8.0
            ok = found and nearest.label == label
            if label in real and label in truth:
                within += bool(found and abs(nearest.position_ras[2] - point[2]) <= 3.0 and ok)
                named += ok
            if ok:
                d_post.append(float(np.linalg.norm(nearest.position_ras - posterior[label])))
                if label in truth:
                    d_disc.append(float(np.linalg.norm(nearest.position_ras - truth[label])))
            source = "" if label in truth else " (posterior label only)"
            if label == "C1/C2":
                source = " (no disc: atlanto-axial level)"
            if not found:
                print(f"{label:>10} {point[2]:7.1f} | {'(none)':>8}{source}")
                continue
            dz = nearest.position_ras[2] - point[2]
            d3 = np.linalg.norm(nearest.position_ras - truth[label]) if label in truth else float("nan")
            print(f"{label:>10} {point[2]:7.1f} | {nearest.label:>8} {dz:6.1f} {d3:7.1f} "
                  f"{np.linalg.norm(nearest.position_ras - posterior[label]):7.1f} {'ok' if ok else 'NO':>5}{source}")
        n_real = sum(label in truth for label in real)
        print(f"   {within}/{n_real} PAM50 discs C2/C3..T11/T12 found, named right and within 3 mm along S-I; "
              f"{named}/{n_real} named right; C1/C2 {'proposed' if 'C1/C2' in discs else 'not proposed'}")
        print(f"   3D distance of right-named discs: to label_disc median {np.median(d_disc):.1f} max {max(d_disc):.1f} mm; "
              f"to discPosterior median {np.median(d_post):.1f} max {max(d_post):.1f} mm "
              f"({len(d_post)} discs; our points are disc centres, in front of both)")
        figures[title] = (within, named, n_real)
        rows.append((f"PAM50 {title}", volume.array.shape, wall, cpu))
        if anchor is None:
            figure(volume, proposal, DOCS / "autolevels_pam50.png", "PAM50_small T2 (no anchor)", truth, posterior)
    return figures


def t1_table() -> None:
    """Synthetic T1 post series without an anchor: found, within 3 mm of the right disc, named right."""
    print("\n== Synthetic T1 post (no anchor): discs found / true, max 3D error to the nearest true disc, named right")
    for region in ("cervical", "thoracic", "lumbar", "whole"):
        phantom = make_spine_phantom(region, seed=11)
        truth = {k: v for k, v in phantom.landmarks.items() if "/" in k}
        proposal = propose_levels(phantom.t1_post)
        discs = proposal.discs()
        errors = [min(np.linalg.norm(v - d.position_ras) for v in truth.values()) for d in discs]
        right = sum(d.label in truth and np.linalg.norm(d.position_ras - truth[d.label]) <= 3.0 for d in discs)
        state = "no spine found" if not proposal.spine_found else f"contrast {proposal.contrast}"
        print(f"{region:10} {len(discs):>3}/{len(truth):<3} max {max(errors, default=0.0):5.1f} mm, "
              f"{right} named right, {state}, naming confident {proposal.naming_confident}")


def tutorial_tables(folder: Path, rows: list) -> None:
    for name in ("t2_ms", "t2_lumbar"):
        volume = load_volume(folder / f"{name}.nii.gz")
        proposal, wall, cpu = timed(volume)
        print(f"\n== tutorial/{name}.nii.gz (no truth; see docs/autolevels_{name}.png): spine found "
              f"{proposal.spine_found}, contrast {proposal.contrast or '-'}, naming confident {proposal.naming_confident}")
        for message in proposal.messages:
            print(f"   note: {message}")
        for point in proposal.points:
            r, a, s = point.position_ras
            print(f"   {point.label:>8} {point.kind:4} R {r:7.1f} A {a:7.1f} S {s:7.1f}  conf {point.confidence:.2f}")
        rows.append((f"tutorial {name}", volume.array.shape, wall, cpu))
        figure(volume, proposal, DOCS / f"autolevels_{name}.png", f"tutorial {name} (no anchor)")


def figure(volume, proposal, path: Path, title: str, truth: dict | None = None,
           posterior: dict | None = None) -> None:
    """Save the sagittal slice through the proposed points (and the reference labels) as a PNG."""
    from ISCMAssistLib.levels_figure import draw_levels_figure

    draw_levels_figure(path, volume, proposal, title, truth=truth, posterior=posterior)
    print(f"   wrote {path.relative_to(REPO)}")


def dicom_row(rows: list) -> None:
    """Time loading a DICOM series (whole-spine phantom, 15 files) plus proposing its levels."""
    import tempfile

    phantom = make_spine_phantom("whole", curvature_mm=15.0, seed=2)
    with tempfile.TemporaryDirectory() as folder:
        phantom.write_dicom(folder)
        walls, cpus = [], []
        for _ in range(3):
            w0, c0 = time.perf_counter(), time.process_time()
            propose_levels(load_volume(Path(folder) / "t2"))
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
    rows.append(("whole phantom DICOM: load + propose", phantom.t2.array.shape,
                 float(np.median(walls)), float(np.median(cpus))))


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data"
    rows: list = []
    phantom_table(rows)
    t1_table()
    if (shared / "pam50_small").is_dir():
        pam50_table(shared / "pam50_small", rows)
        tutorial_tables(shared / "tutorial", rows)
    else:
        print(f"\n(no real data at {shared}; phantoms only)")
    dicom_row(rows)
    print("\n== Time per series (propose_levels, median of 3 runs; 2-core machine, shared)")
    print(f"{'series':40} {'voxels [k,j,i]':>18} {'wall s':>7} {'CPU s':>7}")
    for name, shape, wall, cpu in rows:
        print(f"{name:40} {str(tuple(shape)):>18} {wall:7.2f} {cpu:7.2f}")


if __name__ == "__main__":
    main()
