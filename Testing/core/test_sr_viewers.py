"""The SR as the viewers radiologists use read it (issue 16).

- dcmqi's ``tid1500reader`` (pip dcmqi), which 3D Slicer's QuantitativeReporting (QR) runs;
- QR's loading logic, checked for exactly what it requires (read in QIICR/QuantitativeReporting,
  DICOMPlugins/DICOMTID1500Plugin.py: ``hd.sr.srread`` of the file; the table from dcmqi's JSON with
  columns taken from ``Measurements[0]``; one line markup per measurement group whose NUM is
  SRT G-D7FE "Length" with a SCOORD child holding 4 numbers and a SELECTED FROM image; the markup's
  name is the person observer; the point is ImagePositionPatient + column * row-direction * column
  spacing + row * column-direction * row spacing, converted to RAS);
- OHIF's ``@cornerstonejs/adapters`` (npm), ``MeasurementReport.generateToolState``, in node.
Each skips with a clear message when its tool is absent, and fails when CI is set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

from ISCMAssistLib import case as C
from ISCMAssistLib import sr, sr_codes
from ISCMAssistLib.dicom_series import write_series
from ISCMAssistLib.volumes import Volume

VIEWERS = Path(__file__).resolve().parents[1] / "sr_viewers"
FOR_UID = "1.2.826.0.1.3680043.8.498.222"


def require(tool: str, how: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} not found: {how}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _series(folder: Path, ijk_to_ras: np.ndarray, shape: tuple, description: str, number: int) -> list:
    write_series(folder, Volume(np.zeros(shape, np.int16), ijk_to_ras), series_description=description,
                 series_number=number, frame_of_reference_uid=FOR_UID, study_instance_uid="1.2.826.0.1.3680043.8.498.200",
                 seed=f"viewers-{description}")
    return sorted((pydicom.dcmread(p, stop_before_pixels=True) for p in folder.iterdir()),
                  key=lambda d: int(d.InstanceNumber))


def _lps(header, image_points) -> list:
    from highdicom.spatial import ImageToReferenceTransformer

    transform = ImageToReferenceTransformer(header.ImagePositionPatient, header.ImageOrientationPatient, header.PixelSpacing)
    return transform(np.asarray(image_points, dtype=float)).tolist()


@pytest.fixture(scope="module")
def read(tmp_path_factory):
    """A sagittal T2 (9 slices of 64 x 48, 0.8 mm pixels, 3 mm apart) and an axial T2 (5 slices), and a
    two-lesion case whose SI, AP and edema lines lie on the middle sagittal slice, the transverse
    line on an axial slice, and one oblique line on no slice."""
    root = tmp_path_factory.mktemp("viewers")
    sagittal = _series(root / "sag", np.array([[0, 0, 3.0, -12], [-0.8, 0, 0, 20], [0, -0.8, 0, 10], [0, 0, 0, 1]]),
                       (9, 64, 48), "SAG T2", 1)
    axial = _series(root / "ax", np.array([[-0.8, 0, 0, 20], [0, -0.8, 0, 20], [0, 0, 4.0, -30], [0, 0, 0, 1]]),
                    (5, 48, 48), "AX T2", 2)
    mid, ax = sagittal[4], axial[2]
    case = C.new_case("viewer-case", "Doe^Jane")
    case["levels"] = {"landmarks": [{"label": "T4", "position_lps": _lps(mid, [[20.5, 12.5]])[0]},
                                    {"label": "T4/T5", "position_lps": _lps(mid, [[21.5, 20.5]])[0]}],
                      "source": "landmarks"}
    first = C.new_lesion("L1")
    first.update({"levels": "T4-T5", "t2_signal": "hyperintense", "enhancement_length_segments": 2,
                  "t2_length_segments": 4, "t2_to_enhancement_ratio": 2.0,
                  "size_mm": {"ap": 8.0, "transverse": None, "si": 24.0},
                  "lines_lps": {"si": _lps(mid, [[20.5, 10.5], [20.5, 40.5]]),
                                "ap": _lps(mid, [[15.5, 25.5], [25.5, 25.5]]),
                                "transverse": _lps(ax, [[10.25, 24.5], [19.75, 24.5]]),
                                "edema_si": _lps(mid, [[21.0, 2.5], [21.0, 60.5]])}})
    second = C.new_lesion("L2")
    second.update({"levels": "T8", "size_mm": {"ap": None, "transverse": None, "si": 6.0},
                   "lines_lps": {"si": [[1.0, 0.0, -5.0], [-2.0, 0.5, 1.0]]}})  # oblique: on no slice
    case["lesions"] = [first, second]
    path = root / "read.dcm"
    sr.write_sr(case, [root / "sag", root / "ax"], path)
    empty = root / "empty.dcm"
    sr.write_sr(C.new_case("nothing", "Doe^Jane"), [root / "sag"], empty)
    headers = {str(h.SOPInstanceUID): h for h in sagittal + axial}
    return {"path": path, "empty": empty, "case": case, "headers": headers, "mid": mid, "axial": ax}


def test_lines_on_one_image_are_2d_scoords_selected_from_it_and_round_trip(read):
    ds = pydicom.dcmread(read["path"])
    container = [i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "126010"][0]
    kinds = {}
    for group in container.ContentSequence:
        ident = [i.TextValue for i in group.ContentSequence if i.ValueType == "TEXT"][0]
        num = [i for i in group.ContentSequence if i.ValueType == "NUM"][0]
        coords = (num.get("ContentSequence") or [None])[0]
        kinds[ident.removeprefix(sr_codes.OHIF_LENGTH_TRACKING + ":")] = coords
    for name, image in (("L1", "mid"), ("L1 AP", "mid"), ("L1 edema SI", "mid"), ("L1 transverse", "axial")):
        scoord = kinds[name]
        assert scoord.ValueType == "SCOORD" and scoord.GraphicType == "POLYLINE", name
        selected = scoord.ContentSequence[0]
        assert selected.RelationshipType == "SELECTED FROM"
        assert selected.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == read[image].SOPInstanceUID
    # PS3.3 C.18.6.1.2: (column, row), 0.0 at the top left corner of the top left pixel
    assert np.allclose(kinds["L1"].GraphicData, [20.5, 10.5, 20.5, 40.5], atol=1e-4)
    assert np.allclose(kinds["L1 transverse"].GraphicData, [10.25, 24.5, 19.75, 24.5], atol=1e-4)
    assert kinds["L2"].ValueType == "SCOORD3D"
    assert sr.sr_to_case(read["path"]) == read["case"]


def test_an_edited_2d_line_is_placed_back_on_its_image(read, tmp_path):
    ds = pydicom.dcmread(read["path"])
    container = [i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "126010"][0]
    num = [i for i in container.ContentSequence[0].ContentSequence if i.ValueType == "NUM"][0]
    num.ContentSequence[0].GraphicData = [20.5, 10.5, 20.5, 30.5]  # moved by another tool
    back = sr.sr_to_case(ds)
    assert np.allclose(back["lesions"][0]["lines_lps"]["si"], _lps(read["mid"], [[20.5, 10.5], [20.5, 30.5]]), atol=1e-4)


# --- dcmqi and QuantitativeReporting ---------------------------------------------------------


def dcmqi_json(path: Path, tmp_path: Path) -> dict:
    reader = require("tid1500reader", "pip install dcmqi (its tid1500reader reads TID 1500 for QuantitativeReporting)")
    out = tmp_path / f"{path.stem}.json"
    result = subprocess.run([reader, "--inputDICOM", str(path), "--outputMetadata", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


def test_dcmqi_reads_every_lesion_measurement_with_its_finding_site(read, tmp_path):
    data = dcmqi_json(read["path"], tmp_path)
    groups = {g["TrackingIdentifier"].removeprefix(sr_codes.OHIF_LENGTH_TRACKING + ":"): g for g in data["Measurements"]}
    assert list(groups) == ["L1", "L1 AP", "L1 transverse", "L1 edema SI", "L2"]
    for group in groups.values():
        assert group["FindingSite"]["CodeValue"] == "2748008"  # the cord, never a vertebra
    values = {name: [(m["quantity"]["CodeMeaning"], float(m["value"]), m["units"]["CodeValue"]) for m in g["measurementItems"]]
              for name, g in groups.items()}
    assert values["L1"] == [("Length", 24.0, "mm"), ("Length of enhancement in vertebral segments", 2.0, "{segments}"),
                            ("Length of cord T2 signal abnormality in vertebral segments", 4.0, "{segments}"),
                            ("Ratio of T2 signal length to enhancement length", 2.0, "1")]
    assert values["L1 AP"] == [("Length", 8.0, "mm")]
    assert values["L1 transverse"][0][1] == pytest.approx(9.5 * 0.8, abs=1e-3)  # the line's own length
    assert groups["L1 edema SI"]["Finding"]["CodeValue"] == "79654002"
    assert {q["conceptValue"]["CodeMeaning"] for q in groups["L1"]["qualitativeEvaluations"]} >= {
        "Hyperintense relative to spinal cord"}


def qr_table(data: dict) -> list[list[tuple[str, str]]]:
    """QR's table, as (column header, cell) pairs per row: headers from Measurements[0] (QR indexes it)."""
    header = [f"{m['quantity']['CodeMeaning']} [{m['units']['CodeValue']}]" for m in data["Measurements"][0]["measurementItems"]]
    rows = []
    for group in data["Measurements"]:
        cells = [f"{m['quantity']['CodeMeaning']} [{m['units']['CodeValue']}]" for m in group["measurementItems"]]
        rows.append(list(zip(header, cells)) + [("<no column>", c) for c in cells[len(header):]])
    return rows


def qr_lines(path: Path, headers: dict) -> list[tuple[str, np.ndarray]]:
    """QR's loadAdditionalMeasurements requirements, checked: (markup name, RAS points) per line."""
    import highdicom as hd

    document = hd.sr.srread(path)  # QR reads every SR with highdicom first
    assert not any(g.reference_type == pydicom.sr.codedict.codes.DCM.ImageRegion
                   for g in document.content.get_planar_roi_measurement_groups())  # -> the tid1500reader path
    ds = pydicom.dcmread(path)
    observer = [i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "121008"]
    lines = []
    container = [i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "126010"][0]
    for group in container.ContentSequence:
        for item in group.ContentSequence:
            concept = item.ConceptNameCodeSequence[0]
            if (concept.CodingSchemeDesignator, concept.CodeValue) != ("SRT", "G-D7FE"):
                continue
            (scoord,) = item.ContentSequence  # QR treats every child as the polyline
            col1, row1, col2, row2 = scoord.GraphicData
            (selected,) = [c for c in scoord.ContentSequence if c.RelationshipType == "SELECTED FROM"]
            image = headers[selected.ReferencedSOPSequence[0].ReferencedSOPInstanceUID]
            assert observer, "QR names each line markup after the person observer"
            origin = np.array(image.ImagePositionPatient, dtype=float)
            along_column = np.array(image.ImageOrientationPatient[:3], dtype=float) * float(image.PixelSpacing[1])
            along_row = np.array(image.ImageOrientationPatient[3:], dtype=float) * float(image.PixelSpacing[0])
            to_ras = np.array([-1, -1, 1])
            points = np.array([(origin + c * along_column + r * along_row) * to_ras for c, r in ((col1, row1), (col2, row2))])
            lines.append((str(observer[0].PersonName), points))
    return lines


def test_quantitative_reporting_draws_one_line_per_measured_line_with_aligned_columns(read, tmp_path):
    data = dcmqi_json(read["path"], tmp_path)
    for row in qr_table(data):
        assert all(header == cell for header, cell in row), f"shifted columns: {row}"
    lines = qr_lines(read["path"], read["headers"])
    lesion = read["case"]["lesions"][0]
    assert len(lines) == 4  # SI, AP, transverse, edema of L1; L2's oblique line lies on no image
    expected = [lesion["lines_lps"][k] for k in ("si", "ap", "transverse", "edema_si")]
    images = [read["mid"], read["mid"], read["axial"], read["mid"]]
    for (name, ras), lps, image in zip(lines, expected, images):
        assert name == "Doe^Jane"
        # QR takes ImagePositionPatient (a pixel centre) as image coordinate 0.0, where the standard
        # (PS3.3 C.18.6.1.2) has the pixel corner: QR draws any SR's 2D line half a pixel further along
        # both image axes than the standard (and OHIF) place it.
        orientation = np.array(image.ImageOrientationPatient, dtype=float)
        spacing = np.array(image.PixelSpacing, dtype=float)
        half_pixel = 0.5 * (orientation[:3] * spacing[1] + orientation[3:] * spacing[0])
        assert np.allclose(ras * [-1, -1, 1], np.asarray(lps) + half_pixel, atol=1e-3)


def test_quantitative_reporting_does_not_fail_on_a_read_with_no_lesion(read, tmp_path):
    data = dcmqi_json(read["empty"], tmp_path)
    assert data["Measurements"], "QR indexes Measurements[0]"
    assert qr_table(data) == [[]]
    assert qr_lines(read["empty"], read["headers"]) == []


# --- OHIF: dcmjs + @cornerstonejs/adapters ---------------------------------------------------


def plane_module(position, orientation, spacing, for_uid) -> dict:
    """cornerstone's imagePlaneModule for one image or frame (as its DICOM image loader fills it)."""
    return {"imagePositionPatient": [float(v) for v in position],
            "rowCosines": [float(v) for v in orientation[:3]], "columnCosines": [float(v) for v in orientation[3:]],
            "rowPixelSpacing": float(spacing[0]), "columnPixelSpacing": float(spacing[1]),
            "frameOfReferenceUID": str(for_uid)}


def ohif_tool_state(sr_path: Path, images: dict, tmp_path: Path) -> dict:
    """Run Testing/sr_viewers/ohif_lengths.mjs (dcmjs + @cornerstonejs/adapters) on an SR."""
    node = require("node", "install Node.js (Debian package nodejs) to run OHIF's adapters")
    if not (VIEWERS / "node_modules" / "@cornerstonejs" / "adapters").is_dir():
        message = f"npm packages missing: run 'npm ci' in {VIEWERS}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    (tmp_path / "images.json").write_text(json.dumps(images))
    result = subprocess.run([node, str(VIEWERS / "ohif_lengths.mjs"), str(sr_path), str(tmp_path / "images.json")],
                            capture_output=True, text=True, timeout=300, cwd=VIEWERS)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_ohif_adapters_recognise_every_line_with_its_length(read, tmp_path):
    images = {uid: plane_module(h.ImagePositionPatient, h.ImageOrientationPatient, h.PixelSpacing, h.FrameOfReferenceUID)
              for uid, h in read["headers"].items()}
    output = ohif_tool_state(read["path"], images, tmp_path)
    lengths = output["lengths"]
    assert [entry["tool"] for entry in lengths] == ["Length"] * 5
    lesion, second = read["case"]["lesions"]
    in_image = [entry for entry in lengths if entry["referencedImageId"]]
    assert [round(e["length"], 4) for e in in_image] == [24.0, 8.0, round(9.5 * 0.8, 4), round(58.0 * 0.8, 4)]
    assert all(e["unit"] == "mm" for e in in_image)
    for entry, key in zip(in_image, ("si", "ap", "transverse", "edema_si")):
        # cornerstone's imageToWorldCoords subtracts 0.5 pixel: the standard's convention, so exact
        assert np.allclose(entry["points"], lesion["lines_lps"][key], atol=1e-3)
    (oblique,) = [entry for entry in lengths if not entry["referencedImageId"]]
    assert np.allclose(oblique["points"], second["lines_lps"]["si"], atol=1e-4)  # SCOORD3D: world points
    assert output["warnings"] == 0, "a measurement group the adapters could not read"


def test_dciodvfy_reports_no_errors_on_the_viewer_srs(read):
    from test_sr import dciodvfy_errors

    for path in (read["path"], read["empty"]):
        assert not dciodvfy_errors(path), path.name


# --- real scanner exports (shared data) -------------------------------------------------------


def _real(shared_data: Path, folder: str) -> Path:
    path = shared_data / "real_dicom" / folder / "dicom"
    if not path.is_dir():
        pytest.skip(f"real DICOM series not found at {path}")
    return path


def test_real_series_lines_are_2d_on_their_slice_and_read_by_every_viewer(shared_data, tmp_path):
    folder = _real(shared_data, "dcm_qa_decubitus/HFS_t1_fl2d_sag")
    headers = sorted(sr.read_source_headers([folder]), key=lambda d: int(d.InstanceNumber))
    mid = headers[len(headers) // 2]
    case = C.new_case("real-sag", "Doe^Jane")
    lesion = C.new_lesion("L1")
    lesion.update({"levels": "T4", "size_mm": {"ap": None, "transverse": None, "si": None},
                   "lines_lps": {"si": _lps(mid, [[128.5, 60.5], [128.5, 140.5]]), "ap": _lps(mid, [[100.0, 99.5], [130.0, 99.5]])}})
    case["lesions"] = [lesion]
    path = tmp_path / "real.dcm"
    sr.write_sr(case, [folder], path)
    assert sr.sr_to_case(path) == case
    from test_sr import dciodvfy_errors

    assert not dciodvfy_errors(path)
    lines = qr_lines(path, {str(h.SOPInstanceUID): h for h in headers})
    assert len(lines) == 2
    images = {str(h.SOPInstanceUID): plane_module(h.ImagePositionPatient, h.ImageOrientationPatient, h.PixelSpacing,
                                                  h.FrameOfReferenceUID) for h in headers}
    output = ohif_tool_state(path, images, tmp_path)
    spacing = float(mid.PixelSpacing[0])
    assert [round(e["length"], 3) for e in output["lengths"]] == [round(80 * spacing, 3), round(30 * spacing, 3)]
    assert [e["referencedImageId"] for e in output["lengths"]] == [f"iscm:{mid.SOPInstanceUID}"] * 2


def test_real_enhanced_mr_line_references_its_frame(shared_data, tmp_path):
    from highdicom.spatial import ImageToReferenceTransformer

    folder = _real(shared_data, "dcm_qa_sag/XA30_enhanced_single_0063")
    (header,) = sr.read_source_headers([folder])
    frame = 31
    groups = [header.PerFrameFunctionalGroupsSequence[frame - 1], header.SharedFunctionalGroupsSequence[0]]

    def attribute(sequence: str, keyword: str):
        return next(g[sequence][0].get(keyword) for g in groups if sequence in g)

    orientation = attribute("PlaneOrientationSequence", "ImageOrientationPatient")
    spacing = attribute("PixelMeasuresSequence", "PixelSpacing")
    position = attribute("PlanePositionSequence", "ImagePositionPatient")
    transform = ImageToReferenceTransformer(position, orientation, spacing)
    case = C.new_case("real-enhanced", "Doe^Jane")
    lesion = C.new_lesion("L1")
    lesion["lines_lps"] = {"si": transform(np.array([[40.5, 20.5], [40.5, 60.5]])).tolist()}
    case["lesions"] = [lesion]
    path = tmp_path / "enhanced.dcm"
    sr.write_sr(case, [folder], path)
    ds = pydicom.dcmread(path)
    container = [i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "126010"][0]
    num = [i for i in container.ContentSequence[0].ContentSequence if i.ValueType == "NUM"][0]
    reference = num.ContentSequence[0].ContentSequence[0].ReferencedSOPSequence[0]
    assert reference.ReferencedSOPInstanceUID == header.SOPInstanceUID and int(reference.ReferencedFrameNumber) == frame
    assert np.allclose(num.ContentSequence[0].GraphicData, [40.5, 20.5, 40.5, 60.5], atol=1e-4)
    assert sr.sr_to_case(path) == case
    from test_sr import dciodvfy_errors

    assert not dciodvfy_errors(path)
    images = {f"{header.SOPInstanceUID}:{frame}": plane_module(position, orientation, spacing, header.FrameOfReferenceUID)}
    (entry,) = ohif_tool_state(path, images, tmp_path)["lengths"]
    assert entry["referencedImageId"] == f"iscm:{header.SOPInstanceUID}:{frame}"
    assert entry["length"] == pytest.approx(40 * float(spacing[0]), abs=1e-3)


def _random_line(draw, headers):
    from hypothesis import strategies as st

    image = headers[draw(st.integers(0, len(headers) - 1))]
    coordinate = st.floats(min_value=0, max_value=min(int(image.Rows), int(image.Columns)), allow_nan=False)
    points = _lps(image, [[draw(coordinate), draw(coordinate)], [draw(coordinate), draw(coordinate)]])
    normal = np.cross(np.array(image.ImageOrientationPatient[:3], float), np.array(image.ImageOrientationPatient[3:], float))
    offset = draw(st.floats(min_value=-1.4, max_value=1.4, allow_nan=False))  # within half of the 3 mm / 4 mm slices
    return (np.asarray(points) + offset * normal).tolist()


def test_a_line_drawn_to_the_image_edge_stays_on_the_image():
    """Found by the random test: an end on the last column comes back from LPS a hair past the edge."""
    from ISCMAssistLib.sr_geometry import ImagePlane, PlaneFinder

    plane = ImagePlane("1.2", "1.2.3", None, (0.0, 0.0, 0.0), (0, 1, 0, 0, 0, -1), (0.75, 0.75), 64, 48, 1.5)
    # the image position is the first pixel's centre, (0.5, 0.5): column 48.0 is the right edge
    ends = [[0.0, 0.0, -10.0], [0.0, 47.5 * 0.75 + 7e-15, -10.0]]
    found = PlaneFinder([plane]).place(ends)
    assert found is not None and found[1][1][0] == pytest.approx(48.0)


def test_random_lines_on_the_images_round_trip_exactly(read):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    headers = list(read["headers"].values())

    @st.composite
    def cases(draw):
        case = C.new_case("random-2d", "Doe^Jane")
        lesion = C.new_lesion("L1")
        keys = draw(st.lists(st.sampled_from(C.LINE_NAMES), unique=True, min_size=1))
        lesion["lines_lps"] = {key: _random_line(draw, headers) for key in keys}
        lesion["size_mm"] = {axis: draw(st.none() | st.floats(0, 100, allow_nan=False)) for axis in C.SIZE_AXES}
        case["lesions"] = [lesion]
        return case

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=cases())
    def check(case):
        ds = sr.case_to_sr(case, headers)
        assert any(e.keyword == "ValueType" and e.value == "SCOORD" for e in ds.iterall())  # 2D where it lies on one
        assert sr.sr_to_case(ds) == case

    check()


def test_an_sr_of_another_tool_in_this_layout_gives_numbered_lesions(read):
    """A group named the adapters' way ("Cornerstone3DTools@^0.1.0:Length", as OHIF writes) with no supplement."""
    from ISCMAssistLib import sr_private

    ds = pydicom.dcmread(read["path"])
    for group_number in (sr_private.PRIVATE_GROUP, sr_private.END_GROUP):
        for element in list(ds.group_dataset(group_number)):
            del ds[element.tag]
    container = [i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "126010"][0]
    text = [i for i in container.ContentSequence[-1].ContentSequence if i.ValueType == "TEXT"][0]
    text.TextValue = sr_codes.OHIF_LENGTH_TRACKING
    case = sr.sr_to_case(ds)
    assert [lesion["id"] for lesion in case["lesions"]] == ["L1", "L2"]
