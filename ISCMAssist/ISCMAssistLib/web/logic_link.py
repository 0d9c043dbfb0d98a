"""The one place where the web panel imports the module Logic.

Everything the web panel calls on the Logic goes through the names below, so a move of the Logic
(into ``ISCMAssistLib/scene/``) changes this file only.
"""

from __future__ import annotations

from ISCMAssistLogic import (  # noqa: F401  (re-exported for the web panel)
    ACTIVE_LESION_PARAMETER,
    NEXT_LEVEL_PARAMETER,
    ISCMAssistLogic,
    lesionColor,
    lesionName,
    nextLevelLabel,
)
from ISCMAssistHeadless import create_headless_context  # noqa: F401,E402  (benchmark peer)
from ISCMAssistSessionLogic import AUTOSAVE_INTERVAL_S  # noqa: F401,E402
