"""The SR's private *case supplement*: what only ISCMAssist needs for an exact round trip.

It lives outside the content tree, in private group 0009 under the private creator
``PRIVATE_CREATOR`` (element (0009,xx01), UT, UTF-8 JSON), so that no SR viewer shows it. It sits
before the content tree in the file and records how many content items the tree holds; a private
end marker (group 7FD1) is the file's last element. So a file cut short anywhere is caught on
import: the supplement, the tree or the end marker is then incomplete.

The supplement holds the case JSON with every value the coded content carries replaced by
``CODED``, and for each line written as a 2D SCOORD the image coordinates written and the image
plane (so an SR whose coordinates were edited by another tool is still placed in LPS).
A tool that strips private elements removes it; what that costs is listed in README (DICOM SR).
"""

from __future__ import annotations

import json
from typing import Any

from .sr_sources import SRError

PRIVATE_GROUP = 0x0009
PRIVATE_CREATOR = "ISCMAssist case supplement"
SUPPLEMENT_ELEMENT = 0x01
SUPPLEMENT_FORMAT = "iscm-assist-sr-supplement"
SUPPLEMENT_VERSION = 2
CODED = "<coded>"
#: A private element after everything else in the file: when the supplement is there and this is
#: not (or not whole), the file was cut short.
END_GROUP = 0x7FD1
END_ELEMENT = 0x01
END_TEXT = "ISCMAssist end of SR"


def count_content_items(item: Any) -> int:
    """Take an SR dataset or content item; return the number of content items below it (recursive)."""
    total = 0
    stack = list(item.get("ContentSequence") or [])
    while stack:
        child = stack.pop()
        total += 1
        stack.extend(child.get("ContentSequence") or [])
    return total


def attach_supplement(dataset: Any, supplement: dict) -> None:
    """Take the SR dataset and the supplement dict; store the supplement (with the dataset's content
    item count) in the private block."""
    record = dict(supplement, format=SUPPLEMENT_FORMAT, version=SUPPLEMENT_VERSION,
                  content_items=count_content_items(dataset))
    block = dataset.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
    block.add_new(SUPPLEMENT_ELEMENT, "UT", json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    dataset.private_block(END_GROUP, PRIVATE_CREATOR, create=True).add_new(END_ELEMENT, "LO", END_TEXT)


def read_supplement(dataset: Any, where: str) -> dict | None:
    """Take an SR dataset; return its supplement dict, or None when it has no private block.

    Raises SRError naming ``where`` when the block is there but damaged, of another version, or
    when the content tree does not hold the number of items the supplement recorded (a file cut
    short, or content removed by another tool).
    """
    try:
        block = dataset.private_block(PRIVATE_GROUP, PRIVATE_CREATOR)
    except KeyError:
        return None
    try:
        text = block[SUPPLEMENT_ELEMENT].value
    except KeyError:
        raise SRError(f"{where}: the ISCMAssist supplement is missing (file cut short or damaged)") from None
    try:
        data = json.loads(str(text))
    except (json.JSONDecodeError, RecursionError) as error:
        raise SRError(f"{where}: the ISCMAssist supplement is not complete JSON (file cut short or damaged: {error})") from None
    if not isinstance(data, dict) or data.get("format") != SUPPLEMENT_FORMAT or not isinstance(data.get("case"), dict):
        raise SRError(f"{where}: the private ISCMAssist block holds no ISCMAssist supplement")
    if data.get("version") != SUPPLEMENT_VERSION:
        raise SRError(f"{where}: ISCMAssist supplement version {data.get('version')!r} is not {SUPPLEMENT_VERSION}")
    try:
        end = str(dataset.private_block(END_GROUP, PRIVATE_CREATOR)[END_ELEMENT].value)
    except KeyError:
        end = None
    if end != END_TEXT:
        raise SRError(f"{where}: the SR ends before its last element (file cut short or damaged)")
    found = count_content_items(dataset)
    if data.get("content_items") != found:
        raise SRError(f"{where}: the SR content tree holds {found} items where {data.get('content_items')} were "
                      "written (file cut short, or content removed by another tool)")
    return data
