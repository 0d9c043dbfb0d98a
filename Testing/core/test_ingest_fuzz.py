"""Fuzz: mutate the headers (and bytes) of a valid series; the loader must either load a volume whose
geometry agrees with every file it used, or raise the project's own VolumeLoadError - never crash,
never drop a file silently."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.config import IGNORE, settings as pydicom_settings

from dicom_factory import oblique_iop, ramp_volume, write_series
from ISCMAssistLib import coords
from ISCMAssistLib.images import load_volume
from ISCMAssistLib.volumes import VolumeLoadError

N_SLICES, ROWS, COLUMNS = 5, 6, 7
TEMPLATE: dict[str, bytes] = {}


def _template() -> dict[str, bytes]:
    """The valid series (file name -> bytes), written once."""
    if not TEMPLATE:
        with tempfile.TemporaryDirectory() as folder:
            paths = write_series(Path(folder), ramp_volume((N_SLICES, ROWS, COLUMNS)),
                                 (oblique_iop(14.0, axis=(0.2, 1.0, 0.1)), (3.0, -40.0, 25.0), (0.9, 0.8, 2.5)),
                                 EchoTime=90.0, RepetitionTime=3000.0)
            TEMPLATE.update({p.name: p.read_bytes() for p in paths})
    return TEMPLATE


finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
odd_float = st.one_of(finite, st.sampled_from([0.0, -0.0, 1e-9, 1e30, float("nan"), float("inf")]))
number_text = st.one_of(odd_float.map(lambda v: f"{v:.10g}"), st.sampled_from(["", "abc", "1\\2", " 3 "]))
value_list = lambda n: st.lists(number_text, min_size=max(0, n - 2), max_size=n + 2)  # noqa: E731

TAG_VALUES = {
    "ImagePositionPatient": value_list(3),
    "ImageOrientationPatient": value_list(6),
    "PixelSpacing": value_list(2),
    "RescaleSlope": number_text,
    "RescaleIntercept": number_text,
    "SliceThickness": number_text,
    "Rows": st.integers(0, 20),
    "Columns": st.integers(0, 20),
    "BitsAllocated": st.sampled_from([1, 8, 12, 16, 32, 64]),
    "BitsStored": st.integers(1, 32),
    "PixelRepresentation": st.integers(0, 1),
    "SamplesPerPixel": st.sampled_from([1, 3]),
    "NumberOfFrames": st.integers(0, 6).map(str),
    "SeriesInstanceUID": st.sampled_from(["1.2.3.4", ""]),
    "SOPClassUID": st.sampled_from(["1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.11.1", "1.2.3"]),
}

mutation = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(sorted(TAG_VALUES))).flatmap(
        lambda pair: st.tuples(st.just(pair[0]), st.just(pair[1]), TAG_VALUES[pair[1]])),
    st.tuples(st.just("nudge"), st.sampled_from(["ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"]),
              st.tuples(st.integers(0, 5), st.floats(-3.0, 3.0))),
    st.tuples(st.just("delete"), st.sampled_from(sorted(TAG_VALUES) + ["PixelData", "SeriesInstanceUID"]), st.none()),
    st.tuples(st.just("syntax"), st.sampled_from(["1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
                                                  "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.5", "1.2.3.4"]), st.none()),
    st.tuples(st.just("truncate"), st.just(""), st.floats(0.0, 0.999)),
    st.tuples(st.just("pixel_bytes"), st.just(""), st.integers(-20, 20)),
)


def _mutate(path: Path, kind: str, keyword: str, value) -> None:
    """Apply one mutation; header mutations of a file already cut short (truncated) are skipped."""
    if kind != "truncate":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path)
            intact = "PixelData" in ds and "TransferSyntaxUID" in ds.file_meta
        except Exception:
            intact = False
        if not intact:
            return
    _apply(path, kind, keyword, value)


def _apply(path: Path, kind: str, keyword: str, value) -> None:
    data = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(data[: int(len(data) * value)])
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        if kind in ("pixel_bytes", "syntax") and "PixelData" not in ds:
            return  # a truncated file that lost its pixels: nothing to change
        if kind == "set":
            if isinstance(value, list):
                value = "\\".join(value)
            _set_raw(ds, keyword, value)
        elif kind == "nudge":
            try:
                values = [float(v) for v in ds.data_element(keyword).value]
            except Exception:  # missing or no longer numbers: nothing to nudge
                values = []
            if values:
                index = value[0] % len(values)
                values[index] += value[1]
                _set_raw(ds, keyword, "\\".join(f"{v:.10g}" for v in values))
        elif kind == "delete":
            if keyword in ds:
                delattr(ds, keyword)
        elif kind == "pixel_bytes":
            pixels = ds.PixelData
            ds.PixelData = pixels[: len(pixels) + value] if value < 0 else pixels + b"\x00" * value
        elif kind == "syntax":
            ds.file_meta.TransferSyntaxUID = keyword
            if keyword in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.5", "1.2.3.4"):
                from pydicom.encaps import encapsulate

                ds.PixelData = encapsulate([ds.PixelData])
                ds["PixelData"].VR = "OB"
        previous = pydicom_settings.writing_validation_mode
        pydicom_settings.writing_validation_mode = IGNORE
        try:
            syntax = ds.file_meta.TransferSyntaxUID
            pydicom.dcmwrite(path, ds, implicit_vr=syntax == "1.2.840.10008.1.2",
                             little_endian=syntax != "1.2.840.10008.1.2.2", force_encoding=True)
        finally:
            pydicom_settings.writing_validation_mode = previous


def _set_raw(ds, keyword: str, value) -> None:
    """Put ``value`` in the dataset as stored bytes, so that invalid text (e.g. DS 'abc') is written as is."""
    from pydicom.datadict import dictionary_VR, tag_for_keyword
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    tag = Tag(tag_for_keyword(keyword))
    vr = dictionary_VR(tag)
    if vr in ("US", "UL"):
        setattr(ds, keyword, int(value))
        return
    data = str(value).encode("latin-1")
    if len(data) % 2:
        data += b"\0" if vr == "UI" else b" "
    ds._dict[tag] = RawDataElement(tag, vr, len(data), data, 0, False, True)


def _check_consistent(volume, folder: Path) -> None:
    """Every file the volume used sits on its grid; every other file is named in its warnings."""
    assert volume.array.ndim == 3 and np.all(np.isfinite(volume.ijk_to_ras))
    spacing = volume.spacing_mm
    assert np.all(spacing > 0)
    used = {Path(f).name for f in volume.files}
    for name in _template():
        if name not in used:
            assert any(name in w for w in volume.warnings), f"{name} dropped silently: {volume.warnings}"
    step = spacing[2]
    for file in volume.files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(file, stop_before_pixels=True, force=True)
        position = coords.lps_to_ras([float(v) for v in ds.ImagePositionPatient])
        ijk = volume.ras_to_voxel(position)
        k = int(round(ijk[2]))
        assert 0 <= k < volume.array.shape[0], (file, ijk)
        # The loader accepts slice positions within POSITION_TOLERANCE (5%) of the step off its regular grid.
        off_grid_mm = np.linalg.norm(volume.voxel_to_ras([0.0, 0.0, k]) - position)
        assert off_grid_mm <= 0.05 * step + 1e-4, (file, ijk, off_grid_mm)
        iop = np.array([float(v) for v in ds.ImageOrientationPatient])
        directions = coords.LPS_TO_RAS[:3, :3] @ volume.directions
        assert np.allclose(directions[:, 0], iop[:3] / np.linalg.norm(iop[:3]), atol=2e-3)
        assert np.allclose(directions[:, 1], iop[3:] / np.linalg.norm(iop[3:]), atol=2e-3)
        row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
        assert spacing[0] == pytest.approx(column_spacing, rel=1e-3) and spacing[1] == pytest.approx(row_spacing, rel=1e-3)
        assert volume.array.shape[1:] == (int(ds.Rows), int(ds.Columns))
        slope = 1.0 if ds.get("RescaleSlope") in (None, "") else float(ds.RescaleSlope)
        intercept = 0.0 if ds.get("RescaleIntercept") in (None, "") else float(ds.RescaleIntercept)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = pydicom.dcmread(file).pixel_array * slope + intercept
        except Exception:
            continue  # pydicom cannot decode it either; geometry was still checked
        np.testing.assert_allclose(volume.array[k], expected, rtol=1e-5, atol=1e-3)


@settings(max_examples=int(os.environ.get("ISCM_FUZZ_EXAMPLES", "400")), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations=st.lists(st.tuples(st.integers(0, N_SLICES - 1), mutation), min_size=1, max_size=3))
def test_mutated_series_load_consistently_or_fail_cleanly(mutations):
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        for name, data in _template().items():
            (folder / name).write_bytes(data)
        names = sorted(_template())
        for index, (kind, keyword, value) in mutations:
            _mutate(folder / names[index], kind, keyword, value)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                volume = load_volume(folder)
        except VolumeLoadError as error:
            assert str(error).startswith(str(folder)) or temp in str(error), str(error)
            return
        _check_consistent(volume, folder)


def test_unmutated_template_loads():
    with tempfile.TemporaryDirectory() as temp:
        for name, data in _template().items():
            (Path(temp) / name).write_bytes(data)
        volume = load_volume(temp)
        _check_consistent(volume, Path(temp))
        np.testing.assert_array_equal(volume.array, ramp_volume((N_SLICES, ROWS, COLUMNS)))


# --- enhanced (multi-frame) MR: mutate the functional groups -------------------------------------------

MULTIFRAME: dict[str, bytes] = {}
N_FRAMES = 5


def _multiframe_template() -> bytes:
    if not MULTIFRAME:
        from dicom_factory import write_multiframe

        with tempfile.TemporaryDirectory() as folder:
            path = write_multiframe(Path(folder) / "enh.dcm", ramp_volume((N_FRAMES, ROWS, COLUMNS)),
                                    (oblique_iop(-22.0, axis=(1.0, 0.2, 0.0)), (-7.0, 12.0, 30.0), (0.7, 0.6, 2.0)),
                                    frame_order=[2, 0, 4, 1, 3], slope=2.0, intercept=-5.0)
            MULTIFRAME["enh.dcm"] = path.read_bytes()
    return MULTIFRAME["enh.dcm"]


nudge_frame = st.tuples(st.just("nudge_position"), st.integers(0, N_FRAMES - 1),
                        st.tuples(st.integers(0, 2), st.one_of(st.floats(-0.08, 0.08), st.floats(-1.5, 1.5))))
frame_mutation = st.one_of(
    nudge_frame, nudge_frame, nudge_frame, nudge_frame, nudge_frame,  # weighted: small moves load, and must load right
    st.tuples(st.just("position"), st.integers(0, N_FRAMES - 1), value_list(3)),
    st.tuples(st.just("drop_position"), st.integers(0, N_FRAMES - 1), st.none()),
    st.tuples(st.just("orientation"), st.just(0), value_list(6)),
    st.tuples(st.just("spacing"), st.just(0), value_list(2)),
    st.tuples(st.just("slope"), st.just(0), number_text),
    st.tuples(st.just("frames"), st.integers(0, 8), st.none()),
    st.tuples(st.just("drop_group"), st.integers(0, N_FRAMES - 1), st.none()),
    st.tuples(st.just("pixel_bytes"), st.just(0), st.integers(-30, 30)),
)


def _mutate_multiframe(path: Path, kind: str, index: int, value) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    groups = ds.PerFrameFunctionalGroupsSequence
    shared = ds.SharedFunctionalGroupsSequence[0]
    if kind in ("position", "nudge_position", "drop_position") and (
        index >= len(groups) or "PlanePositionSequence" not in groups[index]
    ):
        return
    if kind == "position":
        _set_raw(groups[index].PlanePositionSequence[0], "ImagePositionPatient", "\\".join(value))
    elif kind == "nudge_position":
        item = groups[index].PlanePositionSequence[0]
        try:
            values = [float(v) for v in item.ImagePositionPatient]
        except Exception:
            return
        if len(values) != 3:  # an earlier mutation already broke this position: nothing to nudge
            return
        values[value[0]] += value[1]
        _set_raw(item, "ImagePositionPatient", "\\".join(f"{v:.10g}" for v in values))
    elif kind == "drop_position":
        del groups[index].PlanePositionSequence
    elif kind == "orientation":
        _set_raw(shared.PlaneOrientationSequence[0], "ImageOrientationPatient", "\\".join(value))
    elif kind == "spacing":
        _set_raw(shared.PixelMeasuresSequence[0], "PixelSpacing", "\\".join(value))
    elif kind == "slope":
        _set_raw(shared.PixelValueTransformationSequence[0], "RescaleSlope", value)
    elif kind == "frames":
        ds.NumberOfFrames = index
    elif kind == "drop_group" and len(groups) > 1:
        del groups[index % len(groups)]
    elif kind == "pixel_bytes":
        pixels = ds.PixelData
        ds.PixelData = pixels[: len(pixels) + value] if value < 0 else pixels + b"\x00" * value
    previous = pydicom_settings.writing_validation_mode
    pydicom_settings.writing_validation_mode = IGNORE
    try:
        ds.save_as(path, enforce_file_format=True)
    finally:
        pydicom_settings.writing_validation_mode = previous


def _check_multiframe(volume, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
    shared = ds.SharedFunctionalGroupsSequence[0]
    transform = shared.PixelValueTransformationSequence[0]
    slope = 1.0 if transform.get("RescaleSlope") in (None, "") else float(transform.RescaleSlope)
    intercept = 1.0 * float(transform.get("RescaleIntercept") or 0.0)
    step = volume.spacing_mm[2]
    seen = set()
    for frame, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
        position = coords.lps_to_ras([float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient])
        k = int(round(volume.ras_to_voxel(position)[2]))
        assert 0 <= k < volume.array.shape[0] and k not in seen
        seen.add(k)
        assert np.linalg.norm(volume.voxel_to_ras([0.0, 0.0, k]) - position) <= 0.05 * step + 1e-4
        np.testing.assert_allclose(volume.array[k], pixels[frame] * slope + intercept, rtol=1e-5, atol=1e-3)
    assert len(seen) + sum(g.k_last - g.k_first + 1 for g in volume.gaps) == volume.array.shape[0]


@settings(max_examples=int(os.environ.get("ISCM_FUZZ_EXAMPLES", "400")) // 2, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutations=st.lists(frame_mutation, min_size=1, max_size=3))
def test_mutated_multiframe_loads_consistently_or_fails_cleanly(mutations):
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "enh.dcm"
        path.write_bytes(_multiframe_template())
        for kind, index, value in mutations:
            _mutate_multiframe(path, kind, index, value)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                volume = load_volume(path)
        except VolumeLoadError as error:
            assert str(path) in str(error) or temp in str(error), str(error)
            return
        _check_multiframe(volume, path)


def test_regression_non_orthogonal_orientation_is_refused_not_tilted():
    """Found by the fuzz test: a column direction nudged by 0.0078 was orthogonalised into a tilted volume."""
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        for name, data in _template().items():
            (folder / name).write_bytes(data)
        _mutate(folder / sorted(_template())[0], "nudge", "ImageOrientationPatient", (4, 0.0078125))
        try:
            volume = load_volume(folder)
        except VolumeLoadError as error:
            assert "orthogonal" in str(error) or "orientation" in str(error)
        else:
            _check_consistent(volume, folder)
