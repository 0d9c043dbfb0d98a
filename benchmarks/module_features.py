"""Time the Slicer module's read-level features on slicer-core's real MRML (headless).

Prints median (and max) wall and CPU time of:
  - loadCaseIntoScene: a 10-lesion case (4 lines each, 40+ level points) rebuilt in the scene;
  - autosaveNow after a point move in a research session (recompute + validated atomic writes);
  - a 50-move drag with the session open, then one autosave (saves counted);
  - nextCase: a session case with a T2 and a T1 post NIfTI series loaded and its read rebuilt;
  - proposeLevels on the whole-spine phantom (the core autolevels plus filling the point list);
  - scanExam + loadProposedSeries on the phantom's DICOM exam (T2 and T1 post, 15 slices each).

    python benchmarks/module_features.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def timed(function, repeat: int) -> tuple[float, float, float]:
    """Run ``function`` ``repeat`` times; return (median wall ms, max wall ms, median CPU ms)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(1000 * (time.perf_counter() - wall))
        cpus.append(1000 * (time.process_time() - cpu))
    return statistics.median(walls), max(walls), statistics.median(cpus)


def report(name: str, figures: tuple[float, float, float], extra: str = "") -> None:
    median, worst, cpu = figures
    print(f"{name:<44} median {median:8.1f} ms  max {worst:8.1f} ms  cpu {cpu:8.1f} ms {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    import nibabel as nib

    from ISCMAssistLib.scene.headless import create_headless_context
    from ISCMAssistLib import session as sessionmod
    from ISCMAssistLib.phantom import make_spine_phantom
    from ISCMAssistLib.scene.logic import ISCMAssistLogic

    whole = make_spine_phantom("whole", noise=0.0, lesion=False)
    context = create_headless_context()
    logic = ISCMAssistLogic(context.scene, context.logics)
    labels = [label for label in whole.landmarks if label != "conus"]
    logic.setLevelLandmarks(labels, np.array([whole.landmarks[label] for label in labels]))
    bodies = [label for label in labels if "/" not in label]
    with logic.batch():
        for index in range(10):
            lesion_id = logic.addLesion()
            centre = whole.landmarks[bodies[3 + 2 * index]] + np.array([0.0, -20.0, 0.0])
            logic.addLesionMarkup(lesion_id, "lesion_si", [centre + [0, 0, 8], centre - [0, 0, 8]])
            logic.addLesionMarkup(lesion_id, "lesion_ap", [centre + [0, 3, 0], centre - [0, 3, 0]])
            logic.addLesionMarkup(lesion_id, "lesion_transverse", [centre + [3, 0, 0], centre - [3, 0, 0]])
            logic.addLesionMarkup(lesion_id, "edema_si", [centre + [0, 0, 30], centre - [0, 0, 30]])
    case = copy.deepcopy(logic.getCase())
    report("loadCaseIntoScene (10 lesions, 47 levels)", timed(lambda: logic.loadCaseIntoScene(case), args.repeat))

    logic.addSeriesVolume(whole.t2, "whole T2", "t2_sagittal")
    report("proposeLevels (whole-spine phantom)", timed(lambda: logic.proposeLevels(), max(3, args.repeat // 3)),
           f"{len(logic.levelLabels())} points")

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        thoracic = make_spine_phantom("thoracic", noise=0.0)
        for name, volume in (("t2", thoracic.t2), ("t1_post", thoracic.t1_post)):
            nib.save(nib.Nifti1Image(np.asarray(volume.array).transpose(2, 1, 0), volume.ijk_to_ras),
                     str(folder / f"{name}.nii.gz"))
        rows = ["case_id,role,path"]
        for number in range(1, 50):
            rows += [f"case-{number:03d},t2_sagittal,{folder / 't2.nii.gz'}",
                     f"case-{number:03d},t1_post,{folder / 't1_post.nii.gz'}"]
        (folder / "cases.csv").write_text("\n".join(rows) + "\n")
        sessionmod.create_session(folder / "sess", folder / "cases.csv", "reader1")
        logic.loadCaseIntoScene(case)
        logic.openSession(folder / "sess", "reader1")

        def next_case() -> None:
            if logic.sessionCaseId():
                logic.markDone()
            logic.nextCase()

        report("nextCase (2 NIfTI series, of 49 cases)", timed(next_case, args.repeat))
        logic.loadCaseIntoScene(dict(case, case_id=logic.sessionCaseId() or "case-001",
                                     reader={"name": "reader1", "read_at": None}))
        node = logic.lesionNodes("L3")["lesion_si"]
        position = np.array(node.GetNthControlPointPositionWorld(0))
        moves = iter(range(10 ** 6))

        def move_and_save() -> None:
            node.SetNthControlPointPositionWorld(0, *(position + [0, 0, 0.1 * (next(moves) % 20)]))
            assert logic.autosaveNow()

        report("point move + autosaveNow (10 lesions)", timed(move_and_save, args.repeat))
        before = logic.sessionSaveCount

        def drag() -> None:
            for step in range(50):
                node.SetNthControlPointPositionWorld(0, *(position + [0, 0, 0.05 * step]))
            logic.autosaveNow()

        figures = timed(drag, args.repeat)
        report("50-move drag + one autosaveNow", figures,
               f"{(logic.sessionSaveCount - before) / args.repeat:.0f} save(s) per drag")
        logic.closeSession()

        exam = folder / "exam"
        thoracic.write_dicom(exam)

        def scan_and_load() -> None:
            logic.scanExam(exam)
            logic.loadProposedSeries()

        report("scanExam + loadProposedSeries (2 x 15 DICOM)", timed(scan_and_load, max(3, args.repeat // 3)))
    logic.cleanup()
    context.close()


if __name__ == "__main__":
    main()
