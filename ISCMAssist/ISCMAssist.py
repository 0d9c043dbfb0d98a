"""ISCMAssist Slicer module: Module, Widget (thin wiring) and the in-app self-test.
(Over 400 lines: one short wiring method per panel control, and the in-app self-test.)

Every decision lives in the scene layer, ISCMAssistLib/scene/ (tested headless on slicer-core's MRML),
and the parameter node's fields in ISCMAssistLib/scene/names.py; this file only connects the panel
(Resources/UI/ISCMAssist.ui) to them. For research use only; not a diagnostic device.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os

import ctk  # noqa: F401  (ctk widgets in the .ui)
import qt
import slicer
import vtk
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from ISCMAssistLib.scene.names import ISCMAssistParameterNode

#: import name -> pip requirement, for the core's packages Slicer does not ship
REQUIRED_PACKAGES: dict[str, str] = {
    "jsonschema": "jsonschema>=4.18",
    "pydicom": "pydicom>=3.0",
    "nibabel": "nibabel>=5.0",
    "highdicom": "highdicom>=0.28",
    "tqdm": "tqdm>=4.60",
    "pynetdicom": "pynetdicom>=3.0",
    "dicomweb_client": "dicomweb-client>=0.60",
}


def missingPackages() -> list[str]:
    """Return the pip requirements of REQUIRED_PACKAGES whose module cannot be imported here."""
    return [requirement for module, requirement in REQUIRED_PACKAGES.items()
            if importlib.util.find_spec(module) is None]


def ensureDependencies() -> bool:
    """Install missing Python packages with Slicer's pip after the user agrees; return whether all are present."""
    missing = missingPackages()
    if not missing:
        return True
    question = _("ISCMAssist needs these Python packages: {packages}. Install them now?").format(
        packages=", ".join(missing))
    if not slicer.util.confirmOkCancelDisplay(question, windowTitle=_("ISCMAssist dependencies")):
        return False
    with slicer.util.tryWithErrorDisplay(_("Installing the Python packages failed."), waitCursor=True):
        slicer.util.pip_install(missing)
    return not missingPackages()


#
# ISCMAssist
#


class ISCMAssist(ScriptedLoadableModule):
    """Module description shown in Slicer (Help & Acknowledgement)."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("ISCM Assist")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Quantification")]
        self.parent.dependencies = []
        self.parent.contributors = ["ISCMAssist project contributors"]
        self.parent.helpText = _(
            "Reads intramedullary spinal cord metastasis (ISCM) on spine MRI: place lesion and edema "
            "lines and vertebral level points; the module counts vertebral segments, measures sizes in "
            "mm, fills the study's 12-feature checklist, shows evidence-based hints and saves/exports "
            "the read (case JSON, .mrk.json, CSV, DICOM SR). "
            "For research use only; not a diagnostic device.")
        self.parent.acknowledgementText = _(
            "The checklist, categories and hint evidence follow Rykken JB, Diehn FE, Hunt CH, et al. "
            "Intramedullary spinal cord metastases: MRI and relevant clinical features from a 13-year "
            "institutional case series. AJNR Am J Neuroradiol 2013;34:2043-2049.")


#
# ISCMAssistWidget
#


_PLACE_BUTTONS = {
    "placeSiButton": "lesion_si", "placeApButton": "lesion_ap", "placeTransverseButton": "lesion_transverse",
    "placeRoiButton": "lesion_roi", "placeEdemaButton": "edema_si",
}


class ISCMAssistWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The panel: wiring between the .ui widgets and ISCMAssistLogic; no decisions here."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._updating = False
        self._shownState = None
        self._checklistKeys: dict[str, list] = {}
        self._examRows: list[dict] = []
        self._autosaveTimer = None
        self._undoTimer = None
        self._lastAutosaveError = None

    def setup(self) -> None:
        """Build the panel from the .ui file and connect it to the Logic."""
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/ISCMAssist.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.ui.progressBar.visible = False

        if not ensureDependencies():
            self.ui.readCollapsibleButton.enabled = False
            self.ui.markupsCollapsibleButton.enabled = False
            slicer.util.warningDisplay(_("ISCMAssist cannot work without its Python packages: {packages}.")
                                       .format(packages=", ".join(missingPackages())))
            return
        from ISCMAssistLib.scene.logic import ISCMAssistLogic

        self.logic = ISCMAssistLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.addLesionButton.connect("clicked(bool)", self.onAddLesion)
        self.ui.removeLesionButton.connect("clicked(bool)", self.onRemoveLesion)
        self.ui.lesionComboBox.connect("currentIndexChanged(int)", self.onLesionSelected)
        for buttonName, role in _PLACE_BUTTONS.items():
            getattr(self.ui, buttonName).connect("clicked(bool)", lambda _checked, role=role: self.onPlaceLesionMarkup(role))
        self.ui.placeLevelsButton.connect("clicked(bool)", self.onPlaceLevels)
        self.ui.placeConusButton.connect("clicked(bool)", self.onPlaceConus)
        for table in (self.ui.checklistTableWidget, self.ui.patientTableWidget):
            table.connect("cellChanged(int,int)", lambda row, column, table=table: self.onCellChanged(table, row, column))
        self.ui.revertButton.connect("clicked(bool)", self.onRevert)
        self.ui.saveButton.connect("clicked(bool)", self.onSave)
        self.ui.openButton.connect("clicked(bool)", self.onOpen)
        self.ui.exportButton.connect("clicked(bool)", self.onExport)
        self.ui.sendToPacsButton.connect("clicked(bool)", self.onSendToPacs)
        self.ui.openSessionButton.connect("clicked(bool)", self.onOpenSession)
        self.ui.nextCaseButton.connect("clicked(bool)", self.onNextCase)
        self.ui.markDoneButton.connect("clicked(bool)", self.onMarkDone)
        self.ui.proposeLevelsButton.connect("clicked(bool)", self.onProposeLevels)
        self.ui.shiftLevelsUpButton.connect("clicked(bool)", lambda _checked: self.onShiftLevels(-1))
        self.ui.shiftLevelsDownButton.connect("clicked(bool)", lambda _checked: self.onShiftLevels(+1))
        self.ui.loadExamButton.connect("clicked(bool)", self.onLoadExam)
        self.ui.loadSeriesButton.connect("clicked(bool)", self.onLoadSeries)
        self.ui.loadSeriesButton.enabled = False
        self.undoButton = qt.QPushButton(_("Undo"))
        self.undoButton.toolTip = _("Undo the last change of the read (markups and checklist).")
        self.ui.markupsCollapsibleButton.layout().addWidget(self.undoButton)
        self.undoButton.connect("clicked(bool)", self.onUndo)

        # The Logic saves only when the read changed (dirty flag); this timer bounds it to one save
        # per interval however fast points are dragged.
        from ISCMAssistLib.scene.session import AUTOSAVE_INTERVAL_S

        self._autosaveTimer = qt.QTimer()
        self._autosaveTimer.setInterval(int(AUTOSAVE_INTERVAL_S * 1000))
        self._autosaveTimer.connect("timeout()", self.onAutosaveTimer)
        # a read that stayed the same between two ticks becomes an undo step (a drag is one step)
        self._undoTimer = qt.QTimer()
        self._undoTimer.setInterval(int(AUTOSAVE_INTERVAL_S * 1000))
        self._undoTimer.connect("timeout()", self.logic.recordUndoStep)
        self._undoTimer.start()
        self._updateSessionControls()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        """Called when the application closes and the module widget is destroyed."""
        self.removeObservers()
        for timer in (self._autosaveTimer, self._undoTimer):
            if timer is not None:
                timer.stop()
        if self.logic is not None:
            self.logic.closeSession()  # flush the session case
            self.logic.cleanup()

    def enter(self) -> None:
        """Called each time the user opens this module."""
        if self.logic is not None:
            self.initializeParameterNode()

    def exit(self) -> None:
        """Called each time the user opens a different module."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGUIFromParameterNode)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()
        self._updateSessionControls()

    def initializeParameterNode(self) -> None:
        """Wrap the Logic's parameter node and select the first volume when none is selected."""
        self.setParameterNode(ISCMAssistParameterNode(self.logic.getParameterNode()))
        if not self._parameterNode.t2Volume:
            self._parameterNode.t2Volume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")

    def setParameterNode(self, inputParameterNode) -> None:
        """Bind the panel to a wrapped parameter node (None unbinds)."""
        if self._parameterNode:
            if self._parameterNodeGuiTag is not None:
                self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
                self._parameterNodeGuiTag = None
            if self.hasObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGUIFromParameterNode):
                self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGUIFromParameterNode)
        self._parameterNode = inputParameterNode
        self._shownState = None
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGUIFromParameterNode)
            self.updateGUIFromParameterNode()

    # -------------------------------------------------------------- GUI from the Logic's results

    def updateGUIFromParameterNode(self, caller=None, event=None) -> None:
        """Show the lesions, checklists, hints and warnings held in the parameter node."""
        if self._parameterNode is None or self._updating:
            return
        node = self._parameterNode
        # Recomputation modifies the parameter node on every point move: redraw only what changed.
        state = (node.caseJson, node.hintsJson, node.warningsJson, node.activeLesionId, node.lesionTable)
        if state == self._shownState:
            return
        self._shownState = state
        self._updating = True
        try:
            self.ui.lesionTableView.setMRMLTableNode(self._parameterNode.lesionTable)
            lesionIds = self.logic.lesionIds()
            active = self._parameterNode.activeLesionId
            combo = self.ui.lesionComboBox
            wasBlocked = combo.blockSignals(True)
            combo.clear()
            for lesionId in lesionIds:
                combo.addItem(_("Lesion {number}").format(number=lesionId[1:]), lesionId)
            combo.setCurrentIndex(lesionIds.index(active) if active in lesionIds else -1)
            combo.blockSignals(wasBlocked)
            hasLesion = active in lesionIds
            for name in list(_PLACE_BUTTONS) + ["removeLesionButton", "revertButton"]:
                getattr(self.ui, name).enabled = hasLesion
            self._fillChecklist(self.ui.checklistTableWidget,
                                [("lesion", row) for row in self.logic.checklistRows("lesion", active)] if hasLesion else [])
            self._fillChecklist(self.ui.patientTableWidget,
                                [(section, row) for section in ("patient_findings", "clinical")
                                 for row in self.logic.checklistRows(section)])
            self._fillHints()
            self._fillLevelPoints()
            self.undoButton.enabled = self.logic.canUndo()
        finally:
            self._updating = False

    def _fillLevelPoints(self) -> None:
        """Show each level point with the confidence of a proposed point and where its disc plane came from."""
        rows = self.logic.levelPointRows()
        table = self.ui.levelPointsTableWidget
        table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            confidence = _("placed") if row["confidence"] is None else f"{row['confidence']:.2f}"
            for column, text in enumerate((row["label"], confidence, row["plane"] or "")):
                item = qt.QTableWidgetItem(text)
                item.setFlags(qt.Qt.ItemIsEnabled)
                if column == 1 and row["confidence"] is not None and row["confidence"] < 0.5:
                    item.setForeground(qt.QBrush(qt.QColor("darkorange")))
                    item.setToolTip(_("Low confidence: check this level on the image."))
                table.setItem(index, column, item)

    def _fillChecklist(self, table, rows) -> None:
        """Show checklist rows [(section, row dict)]; rebuilds the editors only when the fields change
        (point drags change values only, so they just update texts)."""
        keys = [(section, row["field"]) for section, row in rows]
        rebuild = self._checklistKeys.get(table.objectName) != keys
        wasBlocked = table.blockSignals(True)
        if rebuild:
            self._checklistKeys[table.objectName] = keys
            table.clearContents()
            table.setRowCount(len(rows))
        for index, (section, row) in enumerate(rows):
            if rebuild:
                labelItem = qt.QTableWidgetItem(row["label"])
                labelItem.setFlags(qt.Qt.ItemIsEnabled)
                labelItem.setData(qt.Qt.UserRole, json.dumps([section, row["field"]]))
                table.setItem(index, 0, labelItem)
                if row["choices"]:
                    combo = qt.QComboBox()
                    combo.addItems(row["choices"])
                    combo.connect("currentTextChanged(QString)",
                                  lambda text, s=section, f=row["field"]: self.onValueEntered(s, f, text))
                    table.setCellWidget(index, 1, combo)
                else:
                    table.setItem(index, 1, qt.QTableWidgetItem())
                sourceItem = qt.QTableWidgetItem()
                sourceItem.setFlags(qt.Qt.ItemIsEnabled)
                table.setItem(index, 2, sourceItem)
            combo = table.cellWidget(index, 1)
            if combo is not None:
                comboBlocked = combo.blockSignals(True)
                combo.setCurrentText(row["text"])
                combo.blockSignals(comboBlocked)
            else:
                table.item(index, 1).setText(row["text"])
            table.item(index, 2).setText({"derived": _("derived"), "reader": _("reader")}.get(row["source"], ""))
        if rebuild:
            table.resizeColumnsToContents()
        table.blockSignals(wasBlocked)

    def _fillHints(self) -> None:
        # What the numbers are, and that no hint is a probability of disease.
        self.ui.hintsExplanationLabel.text = self.logic.hintsExplanation()
        tree = self.ui.hintsTreeWidget
        tree.clear()
        for hint in self.logic.hints():
            item = qt.QTreeWidgetItem([hint["text"]])  # the text starts with its kind
            for evidence in hint["evidence"]:
                item.addChild(qt.QTreeWidgetItem([evidence["line"]]))
            tree.addTopLevelItem(item)
        self.ui.warningsLabel.text = "\n".join(self.logic.warnings())

    # -------------------------------------------------------------- user actions -> Logic

    def onAddLesion(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to add a lesion."), waitCursor=True):
            self.logic.addLesion()

    def onRemoveLesion(self) -> None:
        lesionId = self._parameterNode.activeLesionId
        with slicer.util.tryWithErrorDisplay(_("Failed to remove the lesion."), waitCursor=True):
            self.logic.removeLesion(lesionId)

    def onLesionSelected(self, index: int) -> None:
        if not self._updating and index >= 0:
            self._parameterNode.activeLesionId = self.ui.lesionComboBox.itemData(index)

    def onPlaceLesionMarkup(self, role: str) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to start placing."), waitCursor=True):
            self.logic.placeMarkup(role, self._parameterNode.activeLesionId)

    def onPlaceLevels(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to start placing levels."), waitCursor=True):
            self.logic.placeMarkup("levels")

    def onPlaceConus(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to start placing the conus tip."), waitCursor=True):
            self.logic.placeMarkup("conus")

    def onUndo(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Undo failed."), waitCursor=True):
            self.logic.undo()

    def _selectedField(self, table, row: int) -> tuple[str, str]:
        return tuple(json.loads(table.item(row, 0).data(qt.Qt.UserRole)))

    def onCellChanged(self, table, row: int, column: int) -> None:
        if self._updating or column != 1:
            return
        section, field = self._selectedField(table, row)
        self.onValueEntered(section, field, table.item(row, 1).text())

    def onValueEntered(self, section: str, field: str, text: str) -> None:
        if self._updating:
            return
        lesionId = self._parameterNode.activeLesionId if section == "lesion" else None
        with slicer.util.tryWithErrorDisplay(_("Value not accepted."), waitCursor=False):
            self.logic.setReaderText(section, field, text, lesionId)
        self._shownState = None  # show the accepted value, or the old one after a refusal
        self.updateGUIFromParameterNode()

    def onRevert(self) -> None:
        table = self.ui.checklistTableWidget
        row = table.currentRow()
        if row < 0:
            return
        section, field = self._selectedField(table, row)
        with slicer.util.tryWithErrorDisplay(_("Failed to restore the derived value."), waitCursor=True):
            self.logic.revertToDerived(section, field, self._parameterNode.activeLesionId)

    def _progress(self, fraction: float, message: str) -> None:
        self.ui.progressBar.visible = fraction < 1.0
        self.ui.progressBar.value = int(round(100 * fraction))
        self.ui.progressBar.setFormat(f"{message} %p%")
        slicer.app.processEvents()

    def _pickFolder(self, title: str) -> str:
        return qt.QFileDialog.getExistingDirectory(slicer.util.mainWindow(), title, os.path.expanduser("~"))

    def onSave(self) -> None:
        folder = self._pickFolder(_("Folder to save the read into"))
        if folder:
            with slicer.util.tryWithErrorDisplay(_("Saving the read failed; the previous save is kept."), waitCursor=True):
                self.logic.saveRead(folder, progress=self._progress)

    def onOpen(self) -> None:
        path = qt.QFileDialog.getOpenFileName(
            slicer.util.mainWindow(), _("Open a read folder (its iscm-assist-read.json), case JSON or DICOM SR"),
            os.path.expanduser("~"),
            _("ISCMAssist reads (iscm-assist-read.json *.json *.dcm);;All files (*)"))
        if path:
            with slicer.util.tryWithErrorDisplay(_("Opening the read failed."), waitCursor=True):
                self.logic.openAny(path, progress=self._progress)
                self.logic.resetUndo()
            self._updateSessionControls()

    def onSendToPacs(self) -> None:
        serverFile = self.ui.pacsServerPathLineEdit.currentPath
        if not serverFile:
            slicer.util.errorDisplay(_("Choose the PACS server file first (below the button)."))
            return
        with slicer.util.tryWithErrorDisplay(_("Sending the SR to the PACS failed."), waitCursor=True):
            slicer.util.showStatusMessage(self.logic.sendSRToPACS(
                serverFile, progress=self._progress, final=self.ui.finalReadCheckBox.checked), 5000)

    def onExport(self) -> None:
        folder = self._pickFolder(_("Folder to export case JSON, CSV and DICOM SR into"))
        if folder:
            with slicer.util.tryWithErrorDisplay(_("Export failed."), waitCursor=True):
                written = self.logic.exportRead(folder, progress=self._progress, final=self.ui.finalReadCheckBox.checked)
                slicer.util.showStatusMessage(_("Exported: {files}").format(
                    files=", ".join(str(path) for path in written.values())), 5000)

    # -------------------------------------------------------------- automatic levels

    def onProposeLevels(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Proposing the levels failed."), waitCursor=True):
            self.logic.proposeLevels("t2_sagittal", progress=self._progress)

    def onShiftLevels(self, by: int) -> None:
        with slicer.util.tryWithErrorDisplay(_("Shifting the level labels failed."), waitCursor=True):
            self.logic.shiftLevelLabels(by)

    # -------------------------------------------------------------- exam folder and series roles

    def onLoadExam(self) -> None:
        folder = self._pickFolder(_("Exam folder (DICOM or NIfTI) to scan"))
        if not folder:
            return
        with slicer.util.tryWithErrorDisplay(_("Scanning the exam folder failed."), waitCursor=True):
            self._examRows = self.logic.scanExam(folder, progress=self._progress)
        self._fillExamTable()

    def _fillExamTable(self) -> None:
        table = self.ui.examTableWidget
        table.clearContents()
        table.setRowCount(len(self._examRows))
        roles = [""] + list(self.logic.examRoles())
        for index, row in enumerate(self._examRows):
            item = qt.QTableWidgetItem(row["label"])
            item.setFlags(qt.Qt.ItemIsEnabled)
            item.setToolTip(f"{row['summary']}\n{row['reason']}")
            table.setItem(index, 0, item)
            combo = qt.QComboBox()
            combo.addItems(roles)
            combo.setCurrentText(row["role"])
            combo.setToolTip(row["reason"])
            table.setCellWidget(index, 1, combo)
        table.resizeColumnsToContents()
        table.visible = bool(self._examRows)
        self.ui.loadSeriesButton.enabled = bool(self._examRows)
        if not self._examRows:
            slicer.util.showStatusMessage(_("No image series found in the folder."), 5000)

    def onLoadSeries(self) -> None:
        table = self.ui.examTableWidget
        assignments = {row["key"]: table.cellWidget(index, 1).currentText for index, row in enumerate(self._examRows)}
        with slicer.util.tryWithErrorDisplay(_("Loading the series failed."), waitCursor=True):
            overrides = self.logic.overridesFromAssignments(self._examRows, assignments)
            self.logic.loadProposedSeries(overrides, progress=self._progress)
            self._showSeries()

    def _showSeries(self) -> None:
        """Show the selected T2 sagittal (else T1 post) series in the slice views, fitted."""
        volume = self._parameterNode.t2Volume or self._parameterNode.t1PostVolume
        if volume is not None:
            slicer.util.setSliceViewerLayers(background=volume, fit=True)

    # -------------------------------------------------------------- research session

    def onOpenSession(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Opening the session failed."), waitCursor=True):
            self.logic.openSession(self.ui.sessionFolderPathLineEdit.currentPath,
                                   self.ui.sessionReaderLineEdit.text.strip())
            self.ui.sessionFolderPathLineEdit.addCurrentPathToHistory()
        self._updateSessionControls()

    def onNextCase(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Loading the next case failed."), waitCursor=True):
            if self.logic.nextCase(progress=self._progress) is None:
                slicer.util.infoDisplay(_("Every case of the session is done for this reader."))
            else:
                self._showSeries()
                self.logic.restoreUiState(self.logic.sessionOpenedUiState())  # after the views' fit
                self.logic.resetUndo()
        self._shownState = None
        self._updateSessionControls()

    def onMarkDone(self) -> None:
        done = False
        with slicer.util.tryWithErrorDisplay(_("Marking the case done failed."), waitCursor=True):
            self.logic.markDone()
            done = True
        if done:  # move on only when the case was saved and marked
            self.onNextCase()

    def onAutosaveTimer(self) -> None:
        try:
            saved = self.logic.autosaveNow()
        except Exception as error:  # keep reading; the next tick retries (logged once per message)
            message = _("Autosave failed: {error}").format(error=error)
            if message != self._lastAutosaveError:
                logging.error(message)
                slicer.util.showStatusMessage(message, 5000)
                self.ui.sessionProgressLabel.text = message
                self._lastAutosaveError = message
            return
        if saved and self._lastAutosaveError:
            self._lastAutosaveError = None
            self._updateSessionControls()
        elif not saved and self.ui.markDoneButton.enabled and self.logic.sessionCaseId() is None:
            self._updateSessionControls()  # autosave stopped (another read opened): say so

    def _updateSessionControls(self) -> None:
        """Enable the session buttons for the Logic's state and show its progress line."""
        if self.logic is None or self._autosaveTimer is None:
            return
        isOpen = self.logic.sessionIsOpen()
        self.ui.nextCaseButton.enabled = isOpen
        self.ui.markDoneButton.enabled = isOpen and self.logic.sessionCaseId() is not None
        if isOpen and not self._autosaveTimer.isActive():
            self._autosaveTimer.start()
        elif not isOpen:
            self._autosaveTimer.stop()
        with slicer.util.tryWithErrorDisplay(_("Reading the session progress failed."), waitCursor=False):
            self.ui.sessionProgressLabel.text = self.logic.sessionProgressText()


#
# ISCMAssistTest
#


class ISCMAssistTest(ScriptedLoadableModuleTest):
    """In-app self-test: a synthetic spine volume with known levels and lesion, markups, counts, save/open."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        self.setUp()
        self.test_ISCMAssist_counts_and_round_trip()
        self.setUp()
        self.test_ISCMAssist_levels_and_case_rebuild()

    def test_ISCMAssist_counts_and_round_trip(self) -> None:
        import tempfile

        import numpy as np

        from ISCMAssistLib.phantom import make_spine_phantom
        from ISCMAssistLib.scene.logic import ISCMAssistLogic

        self.delayDisplay("Building the synthetic spine")
        phantom = make_spine_phantom("thoracic", noise=0.0)
        logic = ISCMAssistLogic()
        logic.addSeriesVolume(phantom.t2, "Phantom T2", "t2_sagittal")
        logic.addSeriesVolume(phantom.t1_post, "Phantom T1 post", "t1_post")
        labels = [label for label in phantom.landmarks if label != "conus"]
        logic.setLevelLandmarks(labels, np.array([phantom.landmarks[label] for label in labels]))

        truth = phantom.lesion
        centre = np.asarray(truth.nodule_center_ras, dtype=float)
        lesionId = logic.addLesion()
        with logic.batch():
            for role, axis, size in (("lesion_si", 2, truth.size_mm["si"]), ("lesion_ap", 1, truth.size_mm["ap"]),
                                     ("lesion_transverse", 0, truth.size_mm["transverse"])):
                offset = np.zeros(3)
                offset[axis] = size / 2.0
                logic.addLesionMarkup(lesionId, role, [centre + offset, centre - offset])
            logic.addLesionMarkup(lesionId, "edema_si", truth.edema_ends_ras)

        self.delayDisplay("Checking counts and sizes")
        lesion = logic.getCase()["lesions"][0]
        self.assertEqual(lesion["levels"], truth.levels)
        self.assertEqual(lesion["enhancement_length_segments"], truth.segments)
        self.assertEqual(lesion["t2_length_segments"], truth.edema_segments)
        self.assertEqual(lesion["location"], truth.location)
        self.assertAlmostEqual(lesion["size_mm"]["si"], truth.size_mm["si"], places=1)
        self.assertEqual(logic.tableNode().GetNumberOfRows(), 1)
        self.assertTrue(logic.hints())

        self.delayDisplay("Save and open round trip")
        logic.setReaderValue("lesion", "t2_signal", "hyperintense", lesionId)
        expected = logic.getCase()
        with tempfile.TemporaryDirectory() as folder:
            logic.saveRead(os.path.join(folder, "read"))
            slicer.mrmlScene.Clear()
            reopened = logic.openRead(os.path.join(folder, "read"))
        self.assertEqual(reopened["lesions"][0]["t2_signal"], "hyperintense")
        self.assertEqual(reopened["lesions"][0]["levels"], expected["lesions"][0]["levels"])
        self.assertEqual(logic.lesionIds(), [lesionId])
        logic.cleanup()
        logging.info("ISCMAssist self-test passed")
        self.delayDisplay("Test passed")

    def test_ISCMAssist_levels_and_case_rebuild(self) -> None:
        """Propose levels on a synthetic cervical spine, shift and rename them, then rebuild the read
        from its case dict in an empty scene."""
        import numpy as np

        from ISCMAssistLib.phantom import make_spine_phantom
        from ISCMAssistLib.scene.logic import ISCMAssistLogic

        self.delayDisplay("Proposing levels")
        phantom = make_spine_phantom("cervical", noise=0.0)
        logic = ISCMAssistLogic()
        logic.addSeriesVolume(phantom.t2, "Phantom T2", "t2_sagittal")
        logic.proposeLevels()
        labels = logic.levelLabels()
        self.assertEqual(labels[:3], ["C2", "C2/C3", "C3"])
        node = logic.levelsNode()
        self.assertLess(np.linalg.norm(np.array(node.GetNthControlPointPositionWorld(0)) - phantom.landmarks["C2"]), 2.0)
        self.assertEqual(logic.shiftLevelLabels(+1)[0], "C3")
        node.SetNthControlPointLabel(0, "C2")  # renaming one point re-fits the others
        self.assertEqual(logic.levelLabels(), labels)

        self.delayDisplay("Rebuilding the read from its case")
        lesionId = logic.addLesion()
        centre = np.array(phantom.landmarks["C4"]) + [0.0, -15.0, 0.0]
        logic.addLesionMarkup(lesionId, "lesion_si", [centre + [0, 0, 8], centre - [0, 0, 8]])
        logic.setReaderValue("lesion", "t2_signal", "hyperintense", lesionId)
        expected = logic.getCase()
        slicer.mrmlScene.Clear()
        rebuilt = logic.loadCaseIntoScene(expected)
        self.assertEqual(rebuilt["lesions"], expected["lesions"])
        self.assertEqual(rebuilt["levels"], expected["levels"])
        self.assertEqual(logic.lesionIds(), [lesionId])
        logic.cleanup()
        self.delayDisplay("Levels and rebuild test passed")
