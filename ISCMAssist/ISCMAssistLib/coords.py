"""The one place that converts between patient coordinate systems.

Slicer scenes are RAS (x to the patient's Right, y Anterior, z Superior); DICOM and Slicer's
``.mrk.json`` files are LPS (Left, Posterior, Superior). Both are in mm. Converting is negating x and y.
"""

from __future__ import annotations

import numpy as np

#: Homogeneous 4x4 matrix mapping LPS to RAS (it is its own inverse).
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
RAS_TO_LPS = LPS_TO_RAS


def lps_to_ras(points_lps: np.ndarray | list) -> np.ndarray:
    """Take points in LPS mm (shape (3,) or (N, 3)); return the same points in RAS mm (float array)."""
    points = np.array(points_lps, dtype=float)
    points[..., :2] *= -1.0
    return points


def ras_to_lps(points_ras: np.ndarray | list) -> np.ndarray:
    """Take points in RAS mm (shape (3,) or (N, 3)); return the same points in LPS mm (float array)."""
    return lps_to_ras(points_ras)


def ijk_to_lps_matrix_to_ras(ijk_to_lps: np.ndarray) -> np.ndarray:
    """Take a 4x4 voxel-index-to-LPS matrix; return the 4x4 voxel-index-to-RAS matrix."""
    return LPS_TO_RAS @ np.asarray(ijk_to_lps, dtype=float)
