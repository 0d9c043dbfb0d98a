"""The ISCMAssist web panel: a trame-slicer front end on the same Logic as the Slicer module Widget.

Layout, as trame-slicer's own ``app/logic`` beside ``app/ui``:

- ``logic_link.py``  the one place that imports the module Logic (ISCMAssistLogic and its names);
- ``scene_app.py``   the Slicer application on slicer-core (scene, module logics, slice views) + Logic;
- ``panel_state.py`` state wiring: trame state and buttons <-> Logic calls (no reading decision here);
- ``panel_ui.py``    the page layout (Vuetify), bound to that state;
- ``access.py``      password login, and file downloads limited to the exam/session/output folders;
- ``server.py``      builds the trame server and starts it (``iscm-assist web``).

For research use only; not a diagnostic device.
"""
