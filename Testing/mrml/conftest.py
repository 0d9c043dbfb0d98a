"""Fixtures for tests on slicer-core's real MRML: a fresh headless scene per test and the module Logic."""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (real MRML) is not installed")

from ISCMAssistLib.scene.headless import create_headless_context  # noqa: E402
from ISCMAssistLib.scene.logic import ISCMAssistLogic  # noqa: E402


@pytest.fixture
def context():
    """A new headless application context (scene + module logics); the scene is cleared afterwards."""
    ctx = create_headless_context()
    yield ctx
    ctx.close()


@pytest.fixture
def logic(context):
    """ISCMAssistLogic on the test's scene; its observers are removed afterwards."""
    module_logic = ISCMAssistLogic(context.scene, context.logics)
    yield module_logic
    module_logic.cleanup()


@pytest.fixture(scope="session")
def phantom():
    """The synthetic thoracic spine (straight, no noise) with its known lesion (T4-T5, edema T3-T7)."""
    from ISCMAssistLib.phantom import make_spine_phantom

    return make_spine_phantom("thoracic", curvature_mm=0.0, noise=0.0)


def rounded(value, digits: int = 9):
    """Return a copy of a JSON-like value with every float rounded to ``digits`` decimals."""
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(item, digits) for item in value]
    if isinstance(value, float):
        return round(value, digits) + 0.0
    return value


def truth_lines(phantom) -> dict[str, np.ndarray]:
    """The phantom lesion's ground truth as reader lines (RAS mm): SI, AP and transverse diameters
    through the nodule centre along z, y, x, and the edema line between the edema ends."""
    lesion = phantom.lesion
    centre = np.asarray(lesion.nodule_center_ras, dtype=float)
    lines = {}
    for role, axis, size in (("lesion_si", 2, lesion.size_mm["si"]), ("lesion_ap", 1, lesion.size_mm["ap"]),
                             ("lesion_transverse", 0, lesion.size_mm["transverse"])):
        offset = np.zeros(3)
        offset[axis] = size / 2.0
        lines[role] = np.vstack([centre + offset, centre - offset])
    lines["edema_si"] = np.asarray(lesion.edema_ends_ras, dtype=float)
    return lines


def place_phantom_levels(logic, phantom) -> None:
    """Place the phantom's vertebra and disc landmarks (not the conus) as the level point list."""
    labels = [label for label in phantom.landmarks if label != "conus"]
    logic.setLevelLandmarks(labels, np.array([phantom.landmarks[label] for label in labels]))


def place_phantom_lesion(logic, phantom) -> str:
    """Add a lesion with the phantom's ground-truth lines; return its id."""
    lesion_id = logic.addLesion()
    with logic.batch():
        for role, points in truth_lines(phantom).items():
            logic.addLesionMarkup(lesion_id, role, points)
    return lesion_id


@pytest.fixture
def phantom_read(logic, phantom):
    """The logic with the phantom's level landmarks and one lesion placed from ground truth; returns
    (logic, lesion id)."""
    place_phantom_levels(logic, phantom)
    return logic, place_phantom_lesion(logic, phantom)


@pytest.fixture
def dicom_read(logic, phantom, tmp_path):
    """The logic with the phantom's T2 loaded from DICOM (so Export can write an SR), its levels and one
    homogeneously enhancing lesion from ground truth; returns (logic, lesion id)."""
    files = phantom.write_dicom(tmp_path / "dicom")
    logic.loadSeries(files["t2_sagittal"][0].parent, "t2_sagittal")
    place_phantom_levels(logic, phantom)
    lesion_id = place_phantom_lesion(logic, phantom)
    logic.setReaderValue("lesion", "enhancement", "homogeneous", lesion_id)
    return logic, lesion_id


@pytest.fixture
def other_logic():
    """A second, empty scene with its own logic (to open a saved read into)."""
    ctx = create_headless_context()
    module_logic = ISCMAssistLogic(ctx.scene, ctx.logics)
    yield module_logic
    module_logic.cleanup()
    ctx.close()
