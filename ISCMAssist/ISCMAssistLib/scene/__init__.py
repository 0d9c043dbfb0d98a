"""The scene layer: Slicer's MRML nodes <-> the ISCMAssist core (imports slicer and vtk).

Runs inside the Slicer app and headless on the slicer-core wheel's real MRML. Import the parts from
their modules (``from ISCMAssistLib.scene.logic import ISCMAssistLogic``); this package file imports
nothing, so ``import ISCMAssistLib`` never pulls in slicer. docs/architecture.md says which file holds what.
"""
