"""Every coded concept ISCMAssist writes into (and reads back from) its DICOM SR.

Standard codes (SCT, DCM, UCUM, LN) come from pydicom's code dictionary (``pydicom.sr.codedict.codes``)
wherever it holds one; the one SNOMED RT code (``LENGTH``, SRT G-D7FE) comes from pydicom's SNOMED
RT <-> CT mapping (``pydicom.sr._snomed_dict``, the table of DICOM PS3.16 Annex O). Concepts with no
standard code use the private coding scheme ``99ISCM``, declared in every SR by
:func:`private_coding_scheme`. ``Testing/core/test_sr.py`` checks each code here against those sources.

Case-JSON values map to codes through the tables below; the SR writer and reader both use them, so
a value written is always a value read back.
"""

from __future__ import annotations

from typing import Any

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from .vertebrae import LEVEL_NAMES

PRIVATE_SCHEME = "99ISCM"
PRIVATE_SCHEME_NAME = "ISCMAssist private codes for intramedullary spinal cord metastasis reads"


def _private(value: str, meaning: str) -> Code:
    # <= 16 characters, so that it fits Code Value (SH) rather than Long Code Value
    assert len(value) <= 16, value
    return Code(value, PRIVATE_SCHEME, meaning)


def private_coding_scheme() -> Any:
    """Take nothing; return the highdicom CodingSchemeIdentificationItem declaring ``99ISCM``."""
    from highdicom.coding_schemes import CodingSchemeIdentificationItem

    return CodingSchemeIdentificationItem(
        designator=PRIVATE_SCHEME,
        name=PRIVATE_SCHEME_NAME,
        responsible_organization="ISCMAssist project",
    )


# --- document level --------------------------------------------------------------------------
PROCEDURE_REPORTED = codes.LN.MRISpineReport  # LN 18756-7
# TID 1500 row "Qualitative Evaluations" container (DICOM PS3.16); not in pydicom's dictionary.
QUALITATIVE_EVALUATIONS = Code("C0034375", "UMLS", "Qualitative Evaluations")
OBSERVER_PERSON = codes.DCM.Person
OBSERVER_DEVICE = codes.DCM.Device

# --- lesion group -----------------------------------------------------------------------------
FINDING_TYPE = codes.SCT.NeoplasmMetastatic  # SCT 14799000
SITE_SPINAL_CORD = codes.SCT.SpinalCord  # SCT 2748008

EDEMA = codes.SCT.Edema  # SCT 79654002: finding type of the edema (cord T2 signal) line
#: TID 1501 "no lesion" group: Presence of property = Absent, so that a read with no ISCM is explicit.
PRESENCE = codes.DCM.PresenceOfProperty  # DCM 121052
#: Finding site "Spinal cord" HAS CONCEPT MOD this, valued with each vertebra the lesion spans.
TOPOGRAPHICAL_MODIFIER = codes.SCT.TopographicalModifier  # SCT 106233006

#: level number (1 = C1 ... 25 = S1) -> vertebra code; S1 is coded as the sacrum (no S1 code in pydicom).
VERTEBRA_CODES: dict[int, Code] = {
    number: getattr(codes.SCT, f"{name}Vertebra")
    for number, name in enumerate(LEVEL_NAMES, start=1)
    if name != "S1"
}
VERTEBRA_CODES[len(LEVEL_NAMES)] = codes.SCT.Sacrum
#: number of the vertebra above a disc -> "Level of X/Y intervertebral disc" (C2/C3 ... L5/S1).
DISC_CODES: dict[int, Code] = {
    number: getattr(codes.SCT, f"LevelOf{name}{LEVEL_NAMES[number]}IntervertebralDisc")
    for number, name in enumerate(LEVEL_NAMES[:-1], start=1)
    if hasattr(codes.SCT, f"LevelOf{name}{LEVEL_NAMES[number]}IntervertebralDisc")
}
#: report-level landmark: CODE "Vertebral level landmark" = vertebra/disc/conus code, INFERRED FROM a POINT.
LANDMARK = _private("LEVEL-LANDMARK", "Vertebral level landmark")
CONUS_TIP = _private("CONUS-TIP", "Tip of conus medullaris")

UNIT_MM = codes.UCUM.Millimeter
UNIT_SEGMENTS = Code("{segments}", "UCUM", "vertebral segments")
UNIT_ONE = codes.UCUM.NoUnits

#: The length of a line drawn on one image (2D SCOORD). QuantitativeReporting draws a line only for
#: this concept (its loader matches SRT G-D7FE, the SNOMED RT code of SCT 410668003 "Length").
LENGTH = Code("G-D7FE", "SRT", "Length")
#: The length of a line that lies on no single image (SCOORD3D), and of a size with no line: SCT
#: "Length". Not the SRT code, because QuantitativeReporting's line loader fails on a SCOORD3D
#: under G-D7FE.
LENGTH_3D = codes.SCT.Length  # SCT 410668003
LENGTH_CODES = (LENGTH, LENGTH_3D)
#: lines_lps key -> the axis words in the line group's tracking identifier ("L1 AP") and its group.
LINE_LABELS: dict[str, str] = {"si": "SI", "ap": "AP", "transverse": "transverse", "edema_si": "edema SI"}
#: Tracking identifier prefix that @cornerstonejs/adapters (OHIF) map to their Length tool.
OHIF_LENGTH_TRACKING = "Cornerstone3DTools@^0.1.0:Length"
ENHANCEMENT_LENGTH = _private("ENH-LEN-SEG", "Length of enhancement in vertebral segments")
T2_LENGTH = _private("T2-LEN-SEG", "Length of cord T2 signal abnormality in vertebral segments")
T2_TO_ENHANCEMENT_RATIO = _private("T2-ENH-RATIO", "Ratio of T2 signal length to enhancement length")
#: numeric lesion field -> (measurement name, unit), in the lesion group after its SI length
SEGMENT_MEASUREMENTS: dict[str, tuple[Code, Code]] = {
    "enhancement_length_segments": (ENHANCEMENT_LENGTH, UNIT_SEGMENTS),
    "t2_length_segments": (T2_LENGTH, UNIT_SEGMENTS),
    "t2_to_enhancement_ratio": (T2_TO_ENHANCEMENT_RATIO, UNIT_ONE),
    "t2_length_mm": (_private("T2-LEN-MM", "Length of cord T2 signal abnormality in mm"), UNIT_MM),
    "t2_to_enhancement_ratio_mm": (_private("T2-ENH-RATIO-MM", "Ratio of T2 signal length to enhancing length, mm"),
                                   UNIT_ONE),
}

PRESENT = codes.SCT.Present  # SCT 52101004
ABSENT = codes.SCT.Absent  # SCT 272519000
BOOLEAN_VALUES: dict[Any, Code] = {True: PRESENT, False: ABSENT}
_SIGNAL_VALUES = {
    "hyperintense": _private("HYPERINTENSE", "Hyperintense relative to spinal cord"),
    "hypointense": _private("HYPOINTENSE", "Hypointense relative to spinal cord"),
    "isointense": _private("ISOINTENSE", "Isointense relative to spinal cord"),
}

#: lesion field -> (evaluation name, {case JSON value: value code}); booleans are present/absent.
LESION_EVALUATIONS: dict[str, tuple[Code, dict[Any, Code]]] = {
    "location": (
        _private("LOCATION", "Location along the spinal cord"),
        {
            "cervical": codes.SCT.CervicalSpine,
            "cervicothoracic": codes.SCT.CervicoThoracicSpine,
            "thoracic": codes.SCT.ThoracicSpine,
            "thoracic_conus": _private("THORACIC-CONUS", "Thoracic spinal cord and conus medullaris"),
            "conus": _private("CONUS", "Conus medullaris"),
        },
    ),
    "position": (
        _private("POSITION", "Position within the spinal cord"),
        {
            "central": codes.SCT.Central,
            "eccentric": codes.SCT.Eccentric,
            "exophytic": _private("EXOPHYTIC", "Exophytic"),
        },
    ),
    "origin": (
        _private("ORIGIN", "Apparent origin of the lesion"),
        {
            "intramedullary": _private("INTRAMEDULLARY", "Intramedullary"),
            "possible_leptomeningeal": _private(
                "POSS-LEPTOMENING", "Possible leptomeningeal origin with cord invasion"
            ),
        },
    ),
    "morphology": (
        codes.DCM.Margins,
        {
            "well_circumscribed": codes.SCT.LesionWithCircumscribedMargin,
            "ill_defined": codes.SCT.LesionWithIndistinctMargin,
        },
    ),
    "cord_expansion": (_private("CORD-EXPANSION", "Spinal cord expansion"), BOOLEAN_VALUES),
    "t2_signal": (codes.DCM.T2WeightedMRSignalIntensity, _SIGNAL_VALUES),
    "t1_signal": (codes.DCM.T1WeightedMRSignalIntensity, _SIGNAL_VALUES),
    "cystic_change": (
        codes.SCT.Cyst,
        {
            "absent": ABSENT,
            "intratumoral": _private("CYST-INTRATUMOR", "Intratumoral cystic change"),
            "peritumoral": _private("CYST-PERITUMORAL", "Peritumoral cyst"),
            "both": _private("CYST-BOTH", "Intratumoral and peritumoral cystic change"),
        },
    ),
    "hemorrhage": (codes.SCT.Hemorrhage, BOOLEAN_VALUES),
    "enhancement": (
        _private("ENHANCEMENT", "Contrast enhancement pattern"),
        {
            "absent": ABSENT,
            "homogeneous": codes.DCM.Homogeneous,
            "heterogeneous": codes.DCM.Inhomogeneous,
            "peripheral_ring": _private("RING-ENHANCEMENT", "Peripheral (ring) enhancement"),
        },
    ),
    "rim_sign": (_private("RIM-SIGN", "Rim sign"), BOOLEAN_VALUES),
    "flame_sign": (_private("FLAME-SIGN", "Flame sign"), BOOLEAN_VALUES),
    "central_dot_sign": (_private("CENTRAL-DOT-SIGN", "Central dot sign"), BOOLEAN_VALUES),
}

# --- patient findings (Table 3), in the report's Qualitative Evaluations container --------------
PATIENT_EVALUATIONS: dict[str, tuple[Code, dict[Any, Code]]] = {
    "multiplicity": (
        _private("MULTIPLICITY", "Number of intramedullary spinal cord metastases"),
        {
            "solitary": _private("SOLITARY", "Solitary"),
            "multiple": codes.SCT.Multifocal,
        },
    ),
    "other_cns_or_spinal_metastases": (
        _private("OTHER-CNS-METS", "Non-cord CNS and/or spinal metastasis"),
        BOOLEAN_VALUES,
    ),
    "primary_tumor_or_non_cns_metastases": (
        _private("PRIMARY-NONCNS", "Primary tumor and/or non-CNS metastasis on the MRI"),
        BOOLEAN_VALUES,
    ),
    "leptomeningeal_metastases": (
        _private("LEPTOMENING-METS", "Leptomeningeal metastasis"),
        BOOLEAN_VALUES,
    ),
    "other_metastases_prior_mr": (_private("OTHER-METS-PRIOR", "Other CNS/spinal metastases, MR within 4 weeks before"),
                                  BOOLEAN_VALUES),
    "other_metastases_subsequent_mr": (_private("OTHER-METS-AFTER", "Other CNS/spinal metastases, MR within 4 weeks after"),
                                       BOOLEAN_VALUES),
    "new_iscm_on_follow_up": (_private("NEW-ISCM-FOLLOW", "New ISCM on follow-up MR"), BOOLEAN_VALUES),
}
LEPTOMENINGEAL_SITE = _private("LEPTOMENING-SITE", "Site of leptomeningeal metastasis")
LEPTOMENINGEAL_SITE_VALUES: dict[str, Code] = {
    "cord_conus": _private("SITE-CORD-CONUS", "Spinal cord or conus medullaris surface"),
    "cauda_equina": _private("SITE-CAUDA", "Cauda equina"),
    "cul_de_sac": _private("SITE-CUL-DE-SAC", "Thecal sac cul-de-sac"),
}


def same_code(a: Any, b: Any) -> bool:
    """Take two codes (pydicom Code or highdicom CodedConcept); return whether value and scheme match."""
    return str(a.value) == str(b.value) and str(a.scheme_designator) == str(b.scheme_designator)


def decode(table: dict[Any, Code], code: Any) -> Any:
    """Take a {case value: code} table and a code read from an SR; return the case value.

    Raises KeyError when the code is not in the table.
    """
    for value, candidate in table.items():
        if same_code(candidate, code):
            return value
    raise KeyError(f"{code.scheme_designator} {code.value} ({code.meaning})")
