"""numpy <-> VTK, in one place: 4x4 matrices and image data (arrays indexed [k, j, i])."""

from __future__ import annotations

from typing import Any

import numpy as np
import vtk
from vtk.util import numpy_support


def matrixToArray(matrix: Any) -> np.ndarray:
    """Take a vtkMatrix4x4; return it as a (4, 4) float array."""
    return np.array([[matrix.GetElement(row, column) for column in range(4)] for row in range(4)])


def arrayToMatrix(array: Any) -> Any:
    """Take a (4, 4) array-like; return a new vtkMatrix4x4 holding it."""
    matrix = vtk.vtkMatrix4x4()
    for row in range(4):
        for column in range(4):
            matrix.SetElement(row, column, float(array[row][column]))
    return matrix


def fillImage(image: Any, array: np.ndarray) -> Any:
    """Give ``image`` (vtkImageData or a subclass) the dimensions and a deep copy of ``array`` [k, j, i]
    as its scalars; return the image."""
    array = np.ascontiguousarray(array)
    image.SetDimensions(array.shape[2], array.shape[1], array.shape[0])
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(array.ravel(), deep=True))
    return image


def imageToArray(image: Any, dimensions: tuple[int, int, int] | None = None) -> np.ndarray:
    """Take a vtkImageData (first scalar component) and optionally its (i, j, k) dimensions (default:
    GetDimensions()); return a view of its scalars as an array [k, j, i]."""
    dims = dimensions or image.GetDimensions()
    scalars = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
    return scalars.reshape(dims[2], dims[1], dims[0], -1)[..., 0]
