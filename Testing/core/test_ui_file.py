"""Static checks of the Slicer module files (no Slicer needed): the .ui parses, every widget the Widget
uses exists in it, every parameter binding names a parameter of scene/names.py (which the Widget's
parameter node class is built from), and the packaging files list what they must."""

from __future__ import annotations

import ast
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "ISCMAssist"
UI_FILE = MODULE_DIR / "Resources" / "UI" / "ISCMAssist.ui"
MODULE_FILE = MODULE_DIR / "ISCMAssist.py"
SCENE_DIR = MODULE_DIR / "ISCMAssistLib" / "scene"
LOGIC_FILE = SCENE_DIR / "logic.py"


@pytest.fixture(scope="module")
def ui_tree() -> ET.ElementTree:
    return ET.parse(UI_FILE)


@pytest.fixture(scope="module")
def module_ast() -> ast.Module:
    return ast.parse(MODULE_FILE.read_text("utf-8"))


def widget_names(tree: ET.ElementTree) -> set[str]:
    return {widget.get("name") for widget in tree.iter("widget")}


def parameter_fields() -> set[str]:
    """The parameter node's fields: names.PARAMETERS (the one definition the wrapper class is built from)."""
    from ISCMAssistLib.scene.names import PARAMETERS

    return set(PARAMETERS)


def used_ui_names(module: ast.Module) -> set[str]:
    """Every NAME in self.ui.NAME, plus the keys of _PLACE_BUTTONS and the string literals given to
    getattr(self.ui, ...) through a list (the Widget's only indirect uses)."""
    names = set()
    for node in ast.walk(module):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "ui"
                and isinstance(node.value.value, ast.Name) and node.value.value.id == "self"):
            names.add(node.attr)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_PLACE_BUTTONS" for t in node.targets):
            names.update(key.value for key in node.value.keys)
        if isinstance(node, ast.List):
            names.update(element.value for element in node.elts if isinstance(element, ast.Constant)
                         and isinstance(element.value, str) and re.fullmatch(r"[a-z]\w*(Button|Widget|Label)", element.value))
    return names


def test_ui_parses_with_the_module_widget_at_the_top(ui_tree):
    root = ui_tree.getroot()
    assert root.tag == "ui"
    top = root.find("widget")
    assert top.get("class") == "qMRMLWidget" and top.get("name") == "ISCMAssist"
    names = [widget.get("name") for widget in ui_tree.iter("widget")]
    assert len(names) == len(set(names)), "widget names must be unique"


def test_every_widget_the_widget_uses_exists(ui_tree, module_ast):
    used = used_ui_names(module_ast)
    assert {"lesionTableView", "addLesionButton", "placeEdemaButton", "checklistTableWidget", "progressBar"} <= used
    missing = sorted(used - widget_names(ui_tree))
    assert not missing, f"used in ISCMAssist.py but absent from ISCMAssist.ui: {missing}"


def test_every_parameter_binding_names_a_parameter(ui_tree):
    fields = parameter_fields()
    bindings = {}
    for widget in ui_tree.iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bindings[widget.get("name")] = prop.findtext("string")
    assert bindings["t2VolumeSelector"] == "t2Volume"
    assert len(bindings) >= 6
    unknown = {widget: name for widget, name in bindings.items() if name not in fields}
    assert not unknown, f"SlicerParameterName not in ISCMAssistParameterNode: {unknown}"


def test_the_widget_imports_the_parameter_node_class_it_does_not_define_it(module_ast):
    classes = {node.name for node in module_ast.body if isinstance(node, ast.ClassDef)}
    assert "ISCMAssistParameterNode" not in classes
    imported = {(node.module, alias.name) for node in module_ast.body if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    assert ("ISCMAssistLib.scene.names", "ISCMAssistParameterNode") in imported
    names_text = (SCENE_DIR / "names.py").read_text("utf-8")
    assert "parameterNodeWrapper(" in names_text and "PARAMETERS.items()" in names_text
    fields = parameter_fields()
    assert {"t2Volume", "t1PostVolume", "t1PreVolume", "lesionTable", "caseId", "caseJson"} <= fields


def test_module_file_follows_the_scripted_module_template(module_ast):
    text = MODULE_FILE.read_text("utf-8")
    classes = {node.name: [getattr(base, "id", getattr(base, "attr", "")) for base in node.bases]
               for node in module_ast.body if isinstance(node, ast.ClassDef)}
    assert classes["ISCMAssist"] == ["ScriptedLoadableModule"]
    assert classes["ISCMAssistWidget"] == ["ScriptedLoadableModuleWidget", "VTKObservationMixin"]
    assert classes["ISCMAssistTest"] == ["ScriptedLoadableModuleTest"]
    assert "tryWithErrorDisplay" in text and "from slicer.i18n import tr as _" in text
    assert "For research use only; not a diagnostic device." in text
    assert '"Quantification"' in text
    assert "pip_install" in text and "confirmOkCancelDisplay" in text
    # the Widget holds no logic: no core imports besides the scene layer and the self-test's phantom
    imports = {node.module for node in ast.walk(module_ast) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imports if name and name.startswith("ISCMAssistLib")
                and name != "ISCMAssistLib.phantom" and not name.startswith("ISCMAssistLib.scene.")}


def test_module_cmakelists_lists_every_script_and_resource():
    text = (MODULE_DIR / "CMakeLists.txt").read_text("utf-8")
    assert "slicerMacroBuildScriptedModule" in text and "slicer_add_python_unittest" in text
    assert "${MODULE_NAME}.py" in text and (MODULE_DIR / "ISCMAssist.py").is_file()
    # the package is globbed: every .py under ISCMAssistLib and every other file in it as a resource
    assert "ISCMAssistLib/*.py" in text and "ISCMAssistLib/*\n" in text
    assert (MODULE_DIR / "ISCMAssistLib" / "schema" / "case.schema.json").is_file()
    assert "Resources/UI/${MODULE_NAME}.ui" in text and "Resources/Icons/${MODULE_NAME}.png" in text
    assert (MODULE_DIR / "Resources" / "Icons" / "ISCMAssist.png").is_file()


def test_extension_cmakelists_and_catalog_entry():
    text = (REPO / "CMakeLists.txt").read_text("utf-8")
    for key in ("EXTENSION_HOMEPAGE", "EXTENSION_CATEGORY", "EXTENSION_CONTRIBUTORS", "EXTENSION_DESCRIPTION",
                "EXTENSION_ICONURL", "EXTENSION_SCREENSHOTURLS", "add_subdirectory(ISCMAssist)"):
        assert key in text
    entry = json.loads((REPO / "ISCMAssist.json").read_text("utf-8"))
    # slicer-extension-catalog-entry-schema v1.0.2: required keys, no others
    allowed = {"$schema", "category", "scm_url", "scm_revision", "scm_type", "build_dependencies",
               "dicom_support_rule", "build_subdirectory", "enabled", "tier"}
    assert {"$schema", "category", "scm_url"} <= set(entry) <= allowed
    assert entry["$schema"].endswith("slicer-extension-catalog-entry-schema-v1.0.2.json#")
    assert 1 <= entry.get("tier", 1) <= 5
    assert (REPO / "Resources" / "Icons" / "ISCMAssist.png").is_file()


SCENE_FILES = tuple(sorted(path.name for path in SCENE_DIR.glob("*.py")))


def test_session_levels_exam_and_open_controls_are_wired(ui_tree, module_ast):
    used = used_ui_names(module_ast)
    new = {"sessionFolderPathLineEdit", "sessionReaderLineEdit", "openSessionButton", "nextCaseButton",
           "markDoneButton", "sessionProgressLabel", "proposeLevelsButton", "shiftLevelsUpButton",
           "shiftLevelsDownButton", "loadExamButton", "loadSeriesButton", "examTableWidget"}
    assert new <= used, f"not wired in ISCMAssist.py: {sorted(new - used)}"
    assert new <= widget_names(ui_tree)
    classes = {widget.get("name"): widget.get("class") for widget in ui_tree.iter("widget")}
    assert classes["sessionFolderPathLineEdit"] == "ctkPathLineEdit"
    assert classes["sessionCollapsibleButton"] == "ctkCollapsibleButton"
    # the Widget calls these Logic methods; each must exist in the Logic or one of its mixins
    sources = "".join((SCENE_DIR / name).read_text("utf-8") for name in SCENE_FILES)
    called = {node.attr for node in ast.walk(module_ast) if isinstance(node, ast.Attribute)
              and isinstance(node.value, ast.Attribute) and node.value.attr == "logic"}
    assert {"openSession", "nextCase", "markDone", "autosaveNow", "proposeLevels", "shiftLevelLabels",
            "scanExam", "loadProposedSeries", "openAny"} <= called
    missing = sorted(name for name in called if f"def {name}(" not in sources)
    assert not missing, f"the Widget calls Logic methods that do not exist: {missing}"


def test_every_custom_widget_class_is_declared(ui_tree):
    declared = {element.findtext("class") for element in ui_tree.iter("customwidget")}
    used = {widget.get("class") for widget in ui_tree.iter("widget")}
    assert not {cls for cls in used if not cls.startswith("Q")} - declared


def test_the_parameter_node_class_is_built_from_the_one_parameter_table(monkeypatch):
    """Inside Slicer names.py builds the @parameterNodeWrapper class from PARAMETERS; check it with a
    stand-in for slicer.parameterNodeWrapper (the real one exists only in the desktop app)."""
    import sys
    import types
    import typing

    from ISCMAssistLib.scene import names

    class Default:
        def __init__(self, value):
            self.value = value

    wrapped = []
    fake_slicer = types.ModuleType("slicer")
    fake_slicer.vtkMRMLScalarVolumeNode = type("vtkMRMLScalarVolumeNode", (), {})
    fake_slicer.vtkMRMLTableNode = type("vtkMRMLTableNode", (), {})
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.Default = Default
    wrapper.parameterNodeWrapper = lambda cls: wrapped.append(cls) or cls
    monkeypatch.setitem(sys.modules, "slicer", fake_slicer)
    monkeypatch.setitem(sys.modules, "slicer.parameterNodeWrapper", wrapper)
    cls = names._parameterNodeClass()
    assert wrapped == [cls] and cls.__name__ == "ISCMAssistParameterNode"
    hints = typing.get_type_hints(cls, include_extras=True)  # what parameterNodeWrapper reads
    assert list(hints) == list(names.PARAMETERS)
    assert hints["t2Volume"] is fake_slicer.vtkMRMLScalarVolumeNode and hints["lesionTable"] is fake_slicer.vtkMRMLTableNode
    case_id = hints["caseId"]
    assert typing.get_args(case_id)[0] is str and typing.get_args(case_id)[1].value == "case-001"
    assert typing.get_args(hints["nextLevelLabel"])[1].value == "C2" and hints["caseJson"] is str
