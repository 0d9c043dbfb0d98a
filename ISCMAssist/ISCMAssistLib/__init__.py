"""ISCMAssist core: reading intramedullary spinal cord metastasis (ISCM) on spine MRI.

Pure Python + numpy; nothing here imports ``slicer`` or Qt, so the core imports anywhere
(Slicer's Python, a plain venv, CI). For research use; not a diagnostic device.
"""

__version__ = "0.1.0"
RESEARCH_USE_LABEL = "For research use only; not a diagnostic device."
