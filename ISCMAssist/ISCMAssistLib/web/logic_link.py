"""The one place where the web panel imports the module Logic.

Everything the web panel calls on the Logic goes through the names below, so a move of the Logic
(into ``ISCMAssistLib/scene/``) changes this file only.
"""

from __future__ import annotations

from ..scene.headless import create_headless_context  # noqa: F401  (benchmark peer)
from ..scene.logic import ISCMAssistLogic  # noqa: F401
from ..scene.names import ACTIVE_LESION_PARAMETER, NEXT_LEVEL_PARAMETER, lesionColor, lesionName  # noqa: F401
from ..scene.session import AUTOSAVE_INTERVAL_S  # noqa: F401
