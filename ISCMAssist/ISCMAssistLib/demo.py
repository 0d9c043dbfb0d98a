"""The demo read: synthetic exam -> DICOM -> markups -> read -> files and a figure.

Used by ``iscm-assist demo`` and by the tests; it exercises the same core a reader uses in Slicer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .case import new_case, new_lesion, set_reader_value
from .case_io import save_case, write_lesions_csv
from .coords import ras_to_lps
from .hints import Hint, compute_hints, format_hints
from .levels import LevelModel
from .markups_io import write_line, write_point_list
from .phantom import SpinePhantom, make_spine_phantom
from .read import compute_read, levels_record
from .progress import PanelProgress, no_progress
from .images import load_volume

#: What the simulated reader sees and types (the features no markup can give).
READER_FINDINGS = {
    "position": "central", "morphology": "well_circumscribed", "cord_expansion": True,
    "t2_signal": "hyperintense", "t1_signal": "isointense", "cystic_change": "absent",
    "hemorrhage": False, "enhancement": "heterogeneous", "rim_sign": False, "flame_sign": True,
}
PATIENT_FINDINGS = {"other_cns_or_spinal_metastases": False, "primary_tumor_or_non_cns_metastases": True,
                    "leptomeningeal_metastases": False}
CLINICAL = {"sex": "male", "age_years": 66, "primary_tumor": "lung", "dominant_symptom": "weakness",
            "symptom_duration_weeks": 6.0, "primary_known_at_presentation": False,
            "primary_known_at_iscm_diagnosis": False}


@dataclass
class DemoResult:
    """Where the demo wrote its outputs, the read itself and the phantom's ground truth."""

    out: Path
    case: dict
    hints: list[Hint]
    phantom: SpinePhantom
    files: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Return a human-readable report: measured vs true values, hints, and the files written."""
        lesion, truth = self.case["lesions"][0], self.phantom.lesion
        size = lesion["size_mm"]
        lines = [
            "Lesion 1 (measured | synthetic truth)",
            f"  levels spanned        {lesion['levels']:>8} | {truth.levels}",
            f"  location              {lesion['location']:>8} | {truth.location}",
            f"  enhancing length      {lesion['enhancement_length_segments']:>8} | {truth.segments} segments",
            f"  cord T2 length        {lesion['t2_length_segments']:>8} | {truth.edema_segments} segments",
            f"  T2/enhancement ratio  {lesion['t2_to_enhancement_ratio']:>8} | "
            f"{truth.edema_segments / truth.segments:.2f}",
            f"  size AP/transverse/SI (mm) {size['ap']}/{size['transverse']}/{size['si']} | "
            f"{truth.size_mm['ap']}/{truth.size_mm['transverse']}/{truth.size_mm['si']}",
            "",
            "Hints (recomputed from the read; evidence from the reference study):",
        ]
        lines += [f"  {line}" for line in format_hints(self.hints).splitlines()]
        lines += ["", *[f"warning: {text}" for text in self.warnings], "Files:"]
        lines += [f"  {name:16s} {path}" for name, path in self.files.items()]
        return "\n".join(lines)


def run_demo(out: str | Path, curvature_mm: float = 6.0,
             progress: PanelProgress | None = None) -> DemoResult:
    """Run the demo read into folder ``out`` and return a DemoResult.

    Takes the output folder, the synthetic spine's anterior bow (mm) and an optional progress
    callback (fraction 0..1, step name). Writes dicom/t2, dicom/t1_post, markups/*.mrk.json,
    masks/lesion.nii.gz and masks/edema.nii.gz, case.json, lesions.csv and read.png under ``out``.
    """
    report = progress or no_progress
    out = Path(out)
    markups_dir = out / "markups"
    markups_dir.mkdir(parents=True, exist_ok=True)

    report(0.05, "synthetic exam")
    phantom = make_spine_phantom("thoracic", curvature_mm=curvature_mm, seed=0)
    report(0.15, "writing DICOM")
    series_files = phantom.write_dicom(out / "dicom", seed="iscm-demo")
    report(0.35, "loading DICOM")
    t2 = load_volume(out / "dicom" / "t2")
    t1_post = load_volume(out / "dicom" / "t1_post")

    report(0.5, "placing markups")
    labels, points = zip(*phantom.landmarks.items())
    model = LevelModel.from_landmarks(list(labels), np.array(points))
    lines_ras = reader_lines(phantom, model)
    files = {"levels markups": markups_dir / "levels.mrk.json"}
    write_point_list(files["levels markups"], list(labels), np.array(points), name="Vertebral levels")
    for name, (p0, p1) in lines_ras.items():
        files[f"{name} line"] = markups_dir / f"Lesion1_{name}.mrk.json"
        write_line(files[f"{name} line"], p0, p1, name=f"Lesion 1 {name}")

    report(0.6, "computing the read")
    case = _demo_case(model, lines_ras, [_series_entry(role, paths, out) for role, paths in series_files.items()])
    warnings: list[str] = []
    compute_read(case, model, warnings=warnings)
    hints = compute_hints(case)

    report(0.7, "writing files")
    files["case JSON"] = out / "case.json"
    save_case(case, files["case JSON"])
    files["lesion CSV"] = out / "lesions.csv"
    write_lesions_csv([case], files["lesion CSV"])
    report(0.8, "drawing the figure")
    from .figures import draw_read_figure

    files["figure"] = draw_read_figure(
        out / "read.png", [("Sagittal T2", t2), ("Sagittal T1 post-gadolinium", t1_post)], case,
        model.landmarks, hints, through_ras=phantom.lesion.nodule_center_ras)
    files.update(_write_masks(phantom, t2, out / "masks"))
    files["DICOM T2"] = out / "dicom" / "t2"
    files["DICOM T1 post"] = out / "dicom" / "t1_post"
    report(1.0, "done")
    return DemoResult(out=out, case=case, hints=hints, phantom=phantom, files=files, warnings=warnings)


def _write_masks(phantom: SpinePhantom, t2, folder: Path) -> dict[str, Path]:
    """Write the phantom's lesion (enhancing nodule) and edema (whole cord T2 hyperintensity) masks
    as NIfTI on the grid of the T2 loaded back from DICOM, so ``iscm-assist measure`` takes them
    with that T2 as --volume."""
    from .masks import resample_to_grid
    from .nifti import save_nifti
    from .volumes import Volume

    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, mask in (("lesion", phantom.lesion.nodule_mask), ("edema", phantom.lesion.edema_mask)):
        on_phantom_grid = Volume(mask.astype(np.uint8), phantom.t2.ijk_to_ras)
        on_t2 = resample_to_grid(on_phantom_grid, t2)
        written[f"{name} mask"] = save_nifti(Volume(on_t2.array.astype(np.uint8), t2.ijk_to_ras), folder / f"{name}.nii.gz")
    return written


def _demo_case(model: LevelModel, lines_ras: dict[str, tuple[np.ndarray, np.ndarray]], series: list[dict]) -> dict:
    """The demo reader's case before computing: series, levels, the lesion's lines (LPS mm) and the
    reader's findings."""
    case = new_case("demo-001", reader="demo-reader")
    case["series"] = series
    case["levels"] = levels_record(model, source="landmarks")
    lesion = new_lesion("L1")
    lesion["lines_lps"] = {name: ras_to_lps(np.array(ends)).round(3).tolist() for name, ends in lines_ras.items()}
    for name, value in READER_FINDINGS.items():
        set_reader_value(lesion, name, value)
    case["lesions"].append(lesion)
    for name, value in PATIENT_FINDINGS.items():
        set_reader_value(case["patient_findings"], name, value)
    for name, value in CLINICAL.items():
        set_reader_value(case["clinical"], name, value)
    return case


def reader_lines(phantom: SpinePhantom, model: LevelModel) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Take the phantom and the level model; return the lines a reader draws, name -> two RAS mm points.

    The enhancing nodule's SI diameter along the cord, its AP diameter across it (sagittal plane),
    its transverse diameter (left-right), and the cord T2 hyperintensity from end to end.
    """
    truth = phantom.lesion
    centre = np.asarray(truth.nodule_center_ras, dtype=float)
    along = model.tangent(centre)
    anterior = np.array([0.0, 1.0, 0.0]) - along[1] * along
    anterior /= np.linalg.norm(anterior)
    right = np.array([1.0, 0.0, 0.0])
    half = {axis: size / 2.0 for axis, size in truth.size_mm.items()}
    return {
        "si": (centre - half["si"] * along, centre + half["si"] * along),
        "ap": (centre + half["ap"] * anterior, centre - half["ap"] * anterior),
        "transverse": (centre - half["transverse"] * right, centre + half["transverse"] * right),
        "edema_si": (np.asarray(truth.edema_ends_ras[0]), np.asarray(truth.edema_ends_ras[1])),
    }


def _series_entry(role: str, paths: list[Path], out: Path) -> dict:
    import pydicom

    header = pydicom.dcmread(paths[0], stop_before_pixels=True)
    return {"role": role, "series_uid": str(header.SeriesInstanceUID),
            "file": str(paths[0].parent.relative_to(out)), "description": str(header.SeriesDescription)}
