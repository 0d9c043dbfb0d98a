"""Sub-commands of iscm-assist; see ISCMAssistLib.cli."""
