"""The web panel's page layout (Vuetify 3 through trame): views left, the read on the right.

Layout only: every control names a controller function or a state variable of ``panel_state``.
"""

from __future__ import annotations

from typing import Any

from trame.ui.vuetify3 import VAppLayout
from trame.widgets import client, html
from trame.widgets import vuetify3 as v

from ISCMAssistLib import RESEARCH_USE_LABEL

#: placement buttons: role -> (button text, tooltip)
PLACE_BUTTONS = {
    "lesion_si": ("SI", "enhancing lesion, superior-inferior diameter: click both ends in the sagittal view"),
    "lesion_ap": ("AP", "enhancing lesion, antero-posterior diameter (sagittal or axial view)"),
    "lesion_transverse": ("Transverse", "enhancing lesion, left-right diameter (axial view)"),
    "edema_si": ("Edema", "cord T2 hyperintensity: click its upper and lower end (sagittal T2)"),
}
#: Hints are coloured by their kind (as in the demo figure), never so that findings look like evidence adding up.
KIND_COLORS = {"prevalence": "grey", "comparative": "purple", "prompt": "blue"}
CSS = """
html { overflow-y: hidden; }
.iscm-table { border-collapse: collapse; font-size: 12px; height: auto; }
.iscm-table th, .iscm-table td { border: 1px solid #555; padding: 2px 6px; vertical-align: top; }
.iscm-table th { background: #333; font-weight: normal; max-width: 90px; vertical-align: bottom; }
#lesion-table td { white-space: nowrap; }
.iscm-scroll { overflow: auto; min-width: 0; }
.iscm-source-reader { color: #ffb74d; font-weight: bold; }
.iscm-source-derived { color: #81c784; }
"""


def build_page(server: Any, layout_manager: Any) -> Any:
    """Build the page on ``server``; the views come from trame-slicer's ``layout_manager``. Returns it."""
    with VAppLayout(server, full_height=True, theme="dark") as page:
        client.Style(CSS)
        with v.VAppBar(density="compact"):
            v.VToolbarTitle("ISCMAssist")
            html.Span(RESEARCH_USE_LABEL, classes="text-caption mr-4", id="research-label")
            html.Span("{{ progress_text }}", classes="text-caption mr-4", id="progress-text")
            html.Span("saved {{ saved_at }}", v_if="saved_at", classes="text-caption mr-4", id="saved-at")
        with v.VNavigationDrawer(location="right", width=470, permanent=True):
            # mounted just after the views' first image (panel_state.SIDE_PANEL_AFTER_S): building it
            # takes the browser about 0.3 s, which would otherwise come before the first image
            with html.Div(v_if="side_panel_ready"):
                _side_panel()
        with v.VMain(), html.Div(classes="d-flex flex-column", style="height: calc(100vh - 48px);"):
            v.VAlert("{{ error }}", v_if="error", type="error", density="compact", id="error-line",
                     closable=True, click_close="error = ''")
            with html.Div(style="flex: 3 1 0; min-height: 300px; position: relative;", id="views"):
                layout_manager.initialize_layout_grid(page)
            with html.Div(classes="d-flex pa-1", style="flex: 2 1 0; min-height: 0;"):
                with html.Div(classes="iscm-scroll", style="flex: 3 1 0;"):
                    _lesion_table()
                with html.Div(classes="iscm-scroll pl-2", style="flex: 2 1 0;"):
                    _hints()
    return page


def _side_panel() -> None:
    with v.VTabs(v_model=("panel_tab", "read"), density="compact", grow=True):
        v.VTab("Read", value="read")
        v.VTab("Checklist", value="checklist", id="tab-checklist")
        v.VTab("Files", value="files", id="tab-files")
        v.VTab("Session", value="session", v_if="session_open", id="tab-session")
    with v.VWindow(v_model=("panel_tab",), classes="pa-2"):
        with v.VWindowItem(value="read"):
            _read_tab()
        with v.VWindowItem(value="checklist"):
            _checklist_tab()
        with v.VWindowItem(value="files"):
            _files_tab()
        with v.VWindowItem(value="session"):
            _session_tab()


def _read_tab() -> None:
    with v.VBtnToggle(v_model=("series_role",), mandatory=True, density="compact", classes="mb-1",
                      id="series-switch"):
        v.VBtn("{{ choice.title }}", v_for="choice in series_choices", key="choice.value",
               value=("choice.value",), size="small")
    v.VSlider(v_model=("wl_window",), min=1, max=("Math.max(1, wl_max - wl_min)",), label="Window",
              density="compact", hide_details=True, id="wl-window")
    v.VSlider(v_model=("wl_level",), min=("wl_min",), max=("wl_max",), label="Level",
              density="compact", hide_details=True, id="wl-level")
    html.Div("Lesions", classes="text-subtitle-2 mt-2")
    with html.Div(classes="d-flex align-center flex-wrap"):
        v.VSelect(v_model=("active_lesion",), items=("lesion_ids",), label="Active lesion",
                  density="compact", hide_details=True, style="max-width: 150px;", id="active-lesion")
        v.VBtn("Add lesion", click="trigger('add_lesion')", size="small", classes="ml-2", id="add-lesion")
        v.VBtn("Remove", click="trigger('remove_lesion')", size="small", classes="ml-1",
               disabled=("!active_lesion",), id="remove-lesion")
        v.VBtn("Centre", click="trigger('focus_lesion')", size="small", classes="ml-1")
    with html.Div(classes="d-flex flex-wrap mt-1"):
        for role, (text, tip) in PLACE_BUTTONS.items():
            with v.VBtn(text, click=f"trigger('place', ['{role}'])", size="small", classes="mr-1 mb-1",
                        id=f"place-{role}", color="primary", variant="tonal"):
                v.VTooltip(tip, activator="parent", location="bottom")
        for role, (text, _tip) in PLACE_BUTTONS.items():
            v.VBtn(f"Delete {text}", click=f"trigger('delete_markup', ['{role}'])", size="x-small",
                   classes="mr-1 mb-1", disabled=("!active_lesion",), variant="outlined",
                   id=f"delete-{role}")
    with html.Div(classes="d-flex align-center mt-1"):
        v.VBtn("Stop placing", click="trigger('stop_placing')", size="small", disabled=("!placing",),
               id="stop-placing")
        v.VBtn("Undo", click="trigger('undo')", size="small", classes="ml-1", disabled=("!can_undo",),
               id="undo", prepend_icon="mdi-undo")
        html.Span("placing: click in a view", v_if="placing", classes="text-caption ml-2 text-warning")
    html.Div("Vertebral levels", classes="text-subtitle-2 mt-3")
    with html.Div(classes="d-flex align-center flex-wrap"):
        v.VTextField(v_model=("next_level_label",), label="Next label", density="compact",
                     hide_details=True, style="width: 120px; flex: none;", id="next-level-label")
        v.VBtn("Place levels", click="trigger('place', ['levels'])", size="small", classes="ml-1",
               id="place-levels", color="primary", variant="tonal")
        v.VBtn("Propose levels", click="trigger('propose_levels')", size="small", classes="ml-1",
               id="propose-levels")
        v.VBtn("Up", click="trigger('shift_levels', [-1])", size="small", classes="ml-1", id="shift-up")
        v.VBtn("Down", click="trigger('shift_levels', [1])", size="small", classes="ml-1", id="shift-down")
    with html.Div(classes="d-flex flex-wrap mt-1", id="level-points"):
        with v.VChip(v_for="point in level_points", key="point.index", size="small", classes="mr-1 mb-1",
                     closable=True, click_close="trigger('delete_level_point', [point.index, point.label])"):
            html.Span("{{ point.label || '?' }}")
    with html.Div(v_if="warnings.length", classes="mt-2", id="warnings"):
        html.Div("{{ w }}", v_for="w in warnings", classes="text-caption text-warning")


def _checklist_section(title: str, section: str) -> None:
    html.Div(title, classes="text-subtitle-2 mt-2")
    with html.Table(classes="iscm-table", style="width: 100%;", id=f"checklist-{section}"):
        with html.Tr(v_for=f"row in checklist_{section}", key="row.field"):
            html.Td("{{ row.label }}", style="white-space: normal;")
            with html.Td(style="min-width: 150px;"):
                v.VSelect(v_if="row.choices.length", model_value=("row.text",), items=("row.choices",),
                          density="compact", hide_details=True, variant="plain",
                          update_modelValue=f"trigger('set_value', ['{section}', row.field, $event])")
                v.VTextField(v_else=True, model_value=("row.text",), density="compact", hide_details=True,
                             variant="plain",
                             change=f"trigger('set_value', ['{section}', row.field, $event.target.value])")
            with html.Td(classes=("'iscm-source-' + row.source",)):
                html.Span("{{ row.source }}", classes="iscm-source")
                v.VBtn("derive", v_if="row.source === 'reader' && row.derivable", size="x-small",
                       variant="text", click=f"trigger('revert_value', ['{section}', row.field])")


def _checklist_tab() -> None:
    html.Div("Lesion {{ active_lesion }}", v_if="active_lesion", classes="text-caption")
    _checklist_section("Lesion", "lesion")
    _checklist_section("Patient findings", "patient_findings")
    _checklist_section("Clinical", "clinical")


def _files_tab() -> None:
    v.VTextField(v_model=("read_folder",), label="Read folder (or case JSON / DICOM SR to open)",
                 density="compact", hide_details=True, id="read-folder")
    with html.Div(classes="d-flex mt-1"):
        v.VBtn("Save", click="trigger('save_read')", size="small", id="save-read")
        v.VBtn("Open", click="trigger('open_read')", size="small", classes="ml-1", id="open-read")
        v.VBtn("Export", click="trigger('export')", size="small", classes="ml-1", id="export",
               color="primary", variant="tonal")
        v.VBtn("Send SR to PACS", click="trigger('send_sr')", v_if="pacs_open", size="small", classes="ml-1",
               id="send-sr")
        v.VCheckbox(v_model=("read_final",), label="Read is final (SR verified by the reader)",
                    density="compact", hide_details=True, classes="ml-2", id="read-final")
    html.Div("Downloads (case JSON, CSV, DICOM SR, markups)", classes="text-subtitle-2 mt-3")
    with html.Div(id="downloads"):
        with html.Div(v_for="file in files", key="file.url"):
            html.A("{{ file.name }}", href=("file.url",), download=True)


def _session_tab() -> None:
    html.Div("{{ session_progress }}", classes="text-body-2", id="session-progress")
    with html.Div(classes="d-flex mt-1"):
        v.VBtn("Next case", click="trigger('next_case')", size="small", id="next-case")
        v.VBtn("Mark done", click="trigger('mark_done')", size="small", classes="ml-1", id="mark-done",
               disabled=("!session_case",))
    with html.Table(classes="iscm-table mt-2", id="worklist"):
        with html.Tr(v_for="c in session_cases", key="c.id",
                     style=("c.id === session_case ? 'background:#2e4a62' : ''",)):
            html.Td("{{ c.id }}")
            html.Td("{{ c.status }}")
            with html.Td():
                v.VBtn("open", size="x-small", variant="text", click="trigger('open_case', [c.id])")


def _lesion_table() -> None:
    with html.Table(classes="iscm-table", id="lesion-table"):
        with html.Tr():
            html.Th("{{ h }}", v_for="h in table_headers", key="h")
        with html.Tr(v_for="(row, i) in table_rows", key="i",
                     style=("'border-left: 6px solid ' + (lesion_colors[row[1]] || '#888')",)):
            html.Td("{{ cell }}", v_for="(cell, j) in row", key="j")


def _hints() -> None:
    html.Div("Hints (evidence from the reference study)", classes="text-subtitle-2")
    html.Div("{{ hints_explanation }}", id="hints-explanation", classes="text-caption mb-1")
    with html.Div(id="hints"):
        with html.Div(v_for="(hint, k) in hints", key="k", classes="mb-1 hint"):
            v.VChip("{{ hint.kind }}", size="x-small", classes="mr-1 hint-kind",
                    color=(f"({KIND_COLORS!r})[hint.kind] || 'grey'",))
            html.Span("{{ hint.text }}", classes="text-body-2 hint-text")
            html.Div("{{ e }}", v_for="e in hint.evidence", classes="text-caption text-grey ml-4")
