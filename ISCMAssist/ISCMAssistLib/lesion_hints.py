"""The per-lesion hint rules of ``hints.RULES``: a lesion -> its hints (case rules: ``case_hints.py``).

Every number in a text comes from an :class:`~ISCMAssistLib.evidence.Evidence`, a table row of
``evidence.py`` or a :class:`~ISCMAssistLib.comparative.DiagnosticAccuracy`, formatted here, so the
text and the evidence list cannot disagree. Prevalence texts say "seen in n/N ... in the reference
series; this series had no comparison group"; words such as "likely" appear only inside the
authors' quoted conclusions or in comparative hints.
"""

from __future__ import annotations

import functools

from .comparative import ACCURACY, CENTRAL_DOT_P_VALUE, CENTRAL_DOT_PER_LESION
from .evidence import EVIDENCE, TABLE_2, lower_first, row_evidence, summary_row, value_row
from .hint_model import NO_CONTROLS, RULES, Hint, field_value, make_hint, number, prevalence, seen

EDEMA_SEGMENTS_THRESHOLD = 3  # "often >= 3 segments": 37/69 lesions
_CYST_TEXT = {"intratumoral": "intratumoral", "peritumoral": "peritumoral", "both": "intra- and peritumoral"}
#: Checklist fields whose set value gets its prevalence in the "checklist_prevalence" hint.
CHECKLIST_FIELDS = ("location", "position", "morphology", "cord_expansion", "t2_signal", "t1_signal")
#: (field, value) -> rule of the value's own "uncommon" hint (left out of checklist_prevalence).
UNCOMMON_VALUES = {("morphology", "ill_defined"): "ill_defined", ("t2_signal", "hypointense"): "t2_hypointense"}
#: Table 2 summary rows checked by the "outside_range" rule: field -> (what, unit in the text).
RANGE_FIELDS = {
    "size_mm.si": ("superior-inferior size of the enhancing lesion", "mm"),
    "size_mm.ap": ("anterior-posterior size of the enhancing lesion", "mm"),
    "size_mm.transverse": ("transverse size of the enhancing lesion", "mm"),
    "enhancement_length_segments": ("length of enhancement", "segments"),
    "t2_length_segments": ("length of cord T2 hyperintensity", "segments"),
}


# ------------------------------------------------------------------------------------------------
# Lesion rules


#: The lesion fields the rules read; with the primary tumour they key the cache of a lesion's hints.
RULE_FIELDS = ("id", "location", "position", "origin", "morphology", "cord_expansion", "t2_signal", "t1_signal",
               "cystic_change", "hemorrhage", "enhancement", "enhancement_length_segments", "t2_length_segments",
               "t2_to_enhancement_ratio", "t2_length_mm", "t2_to_enhancement_ratio_mm", "rim_sign", "flame_sign",
               "central_dot_sign")
RANGE_AXES = ("ap", "transverse", "si")


def lesion_hints(lesion: dict, clinical: dict | None = None) -> list[Hint]:
    """Take one lesion dict of a case (and the case's clinical record, for the primary tumour);
    return its hints (each with the lesion's id), in rule order.

    Hints are immutable and depend only on RULE_FIELDS, the SI/AP/transverse sizes and the primary
    tumour, so they are cached by those values: after a markup moves, only the moved lesion's are
    recomputed."""
    sizes = lesion.get("size_mm") if isinstance(lesion.get("size_mm"), dict) else {}
    # Types are part of the key: True == 1 and 2 == 2.0 would otherwise share an entry.
    key = (tuple((type(value), value) for value in (lesion.get(name) for name in RULE_FIELDS)),
           tuple((type(value), value) for value in (sizes.get(axis) for axis in RANGE_AXES)),
           (clinical or {}).get("primary_tumor"))
    try:
        return list(_cached_hints(key))
    except TypeError:  # an unhashable value (bad input): compute without the cache
        return _lesion_hints(lesion, clinical or {})


@functools.lru_cache(maxsize=1024)
def _cached_hints(key: tuple) -> tuple[Hint, ...]:
    values, sizes, primary = key
    lesion = dict(zip(RULE_FIELDS, (value for _, value in values)),
                  size_mm=dict(zip(RANGE_AXES, (value for _, value in sizes))))
    return tuple(_lesion_hints(lesion, {"primary_tumor": primary}))


def _lesion_hints(lesion: dict, clinical: dict) -> list[Hint]:
    lesion_id = lesion.get("id")
    name = f"Lesion {lesion_id}" if lesion_id else "Lesion"
    hints: list[Hint] = []
    for rule in (_enhancement, _uncommon_values, _checklist, _edema, _edema_ratio, _outside_range,
                 _cystic_or_hemorrhage, _leptomeningeal, _rim_flame, _central_dot):
        hints.extend(rule(lesion, name, clinical))
    hints = [Hint(h.id, h.kind, h.direction, h.text, h.evidence, lesion_id, h.accuracy) for h in hints]
    hints.extend(_mixed_findings(hints, name, lesion_id))
    return hints


def _enhancement(lesion: dict, name: str, _clinical: dict) -> list[Hint]:
    enhancement = lesion.get("enhancement")
    present, absent = EVIDENCE["enhancement_present"], EVIDENCE["enhancement_absent"]
    if enhancement == "absent":
        discussion = EVIDENCE["lack_of_enhancement_discussion"]
        return [make_hint("enhancement_absent", "uncommon", name,
                          f"no enhancement, {prevalence(absent)} (enhancement was seen in {seen(present)}). "
                          f"The authors wrote: {discussion.text.replace(' (the authors)', '')} (Discussion).",
                          [absent, present, discussion])]
    if enhancement in ("homogeneous", "heterogeneous"):
        pattern = EVIDENCE[f"enhancement_{enhancement}"]
        return [make_hint("enhancement_present", "common", name,
                          f"{enhancement} enhancement. Enhancement was seen in {seen(present)} and {enhancement} "
                          f"enhancement in {seen(pattern, 'enhancing ISCMs')} in the reference series; "
                          f"{NO_CONTROLS}.", [present, pattern])]
    if enhancement == "peripheral_ring":
        ring, about_cyst = EVIDENCE["enhancement_ring"], EVIDENCE["ring_about_cyst"]
        return [make_hint("enhancement_ring", "uncommon", name,
                          f"peripheral (ring) enhancement, {prevalence(ring).replace('ISCMs', 'enhancing ISCMs', 1)}"
                          f". That one lesion showed the ring about central cystic/necrotic change "
                          f"(1 of the 2 cystic ISCMs). Enhancement itself was seen in {seen(present)}.",
                          [ring, about_cyst, present])]
    return []


def _uncommon_values(lesion: dict, name: str, _clinical: dict) -> list[Hint]:
    hints = []
    for (field, value), rule in UNCOMMON_VALUES.items():
        if lesion.get(field) == value:
            item = EVIDENCE[rule]
            hints.append(make_hint(rule, "uncommon", name, f"{item.text}, {prevalence(item)}.", [item]))
    return hints


def _checklist(lesion: dict, name: str, _clinical: dict) -> list[Hint]:
    parts, items = [], []
    for field in CHECKLIST_FIELDS:
        value = lesion.get(field)
        if not isinstance(value, (str, bool)) or (field, value) in UNCOMMON_VALUES:  # None or bad input
            continue
        row = value_row(TABLE_2, field, value)
        if row is None:
            continue
        item = row_evidence(row, TABLE_2)
        items.append(item)
        parts.append(f"{lower_first(row.group)} {lower_first(row.label)} in {seen(item)}")
    if not parts:
        return []
    return [make_hint("checklist_prevalence", "context", name,
                      f"the checklist values set, as seen in the reference series: {'; '.join(parts)}; "
                      f"{NO_CONTROLS}.", items)]


def _edema(lesion: dict, name: str, _clinical: dict) -> list[Hint]:
    t2_length = number(lesion.get("t2_length_segments"))
    if t2_length is None or t2_length < 1:
        return []
    ge3, ge2, often = EVIDENCE["t2_ge_3_segments"], EVIDENCE["t2_ge_2_segments"], EVIDENCE["edema_often_conclusion"]
    if t2_length >= EDEMA_SEGMENTS_THRESHOLD:
        return [make_hint("edema_extensive", "common", name,
                          f"cord T2 hyperintensity over {t2_length:g} segments. Cord T2 hyperintensity over >= 3 "
                          f"segments was {prevalence(ge3)} (\"often >= 3 segments\", in the authors' words).",
                          [ge3, often])]
    unit = "segment" if t2_length == 1 else "segments"
    return [make_hint("edema_length", "context", name,
                      f"cord T2 hyperintensity of {t2_length:g} {unit}. In the reference series it reached "
                      f">= 2 segments in {seen(ge2)} and >= 3 segments in {seen(ge3)}; {NO_CONTROLS}.",
                      [ge2, ge3])]


def _ratios(lesion: dict) -> tuple[float | None, float | None]:
    """(ratio in segments, ratio in mm) of a lesion, from the stored ratios or their parts."""
    ratio = number(lesion.get("t2_to_enhancement_ratio"))
    if ratio is None:
        t2, enhancing = number(lesion.get("t2_length_segments")), number(lesion.get("enhancement_length_segments"))
        ratio = t2 / enhancing if t2 is not None and enhancing else None
    ratio_mm = number(lesion.get("t2_to_enhancement_ratio_mm"))
    if ratio_mm is None:
        t2_mm, si_mm = number(lesion.get("t2_length_mm")), number(field_value(lesion, "size_mm.si"))
        ratio_mm = t2_mm / si_mm if t2_mm is not None and si_mm else None
    return ratio, ratio_mm


def _edema_ratio(lesion: dict, name: str, _clinical: dict) -> list[Hint]:
    ratio, ratio_mm = _ratios(lesion)
    if ratio is None:
        return []
    row = summary_row(TABLE_2, "t2_to_enhancement_ratio")
    if ratio < row.low or ratio > row.high:
        where, direction = f"{'below' if ratio < row.low else 'above'} the series' range", "outside_range"
    else:
        where, direction = f"{'above' if ratio > row.value else 'at or below'} the series' mean, within its range", "context"
    in_mm = ""
    if ratio_mm is not None:
        in_mm = (f"; {ratio_mm:.1f} in mm (T2 {_mm(lesion.get('t2_length_mm'))} / enhancing SI "
                 f"{_mm(field_value(lesion, 'size_mm.si'))}); the study's ratio is in whole vertebral segments, so a short "
                 "lesion straddling a disc counts 2 segments and the two ratios can differ")
    return [make_hint("edema_ratio", direction, name,
                      f"cord T2 hyperintensity {ratio:.1f} times the enhancing length in segments{in_mm}. In the "
                      f"reference series the ratio in segments had {row.statistic} {row.value:g} (range "
                      f"{row.low:g}-{row.high:g}, n = {row.n} ISCMs): this one is {where}; {NO_CONTROLS}, and the "
                      "study sets no threshold for edema large for the lesion.", [row_evidence(row, TABLE_2)])]


def _mm(value) -> str:
    millimetres = number(value)
    return "? mm" if millimetres is None else f"{millimetres:g} mm"


def _outside_range(lesion: dict, name: str, _clinical: dict) -> list[Hint]:
    hints = []
    for field, (what, unit) in RANGE_FIELDS.items():
        value = number(field_value(lesion, field))
        if value is None or value <= 0:  # 0: not a valid size or count
            continue
        row = summary_row(TABLE_2, field)
        if row.low <= value <= row.high:
            continue
        side = "above" if value > row.high else "below"
        hints.append(make_hint("outside_range", "outside_range", name,
                               f"{what} {value:g} {unit} is {side} the range of the reference series "
                               f"({row.low:g}-{row.high:g} {unit}, {row.statistic} {row.value:g}, n = {row.n} "
                               "ISCMs): the series held no ISCM like it in this respect.",
                               [row_evidence(row, TABLE_2)]))
    return hints


def _cystic_or_hemorrhage(lesion: dict, name: str, _clinical: dict) -> list[Hint]:
    cystic = lesion.get("cystic_change")
    has_cyst = isinstance(cystic, str) and cystic in _CYST_TEXT
    has_hemorrhage = lesion.get("hemorrhage") is True
    if not (has_cyst or has_hemorrhage):
        return []
    parts, items = [], []
    if has_cyst:
        rows = [EVIDENCE["cystic_intratumoral"]] if cystic != "peritumoral" else []
        rows += [EVIDENCE["cystic_peritumoral"]] if cystic != "intratumoral" else []
        parts += [f"{item.text} was seen in {seen(item)}" for item in rows]
        items += rows + [EVIDENCE["cyst_primaries"]]
    if has_hemorrhage:
        parts.append(f"intratumoral hemorrhage in {seen(EVIDENCE['hemorrhage'])}")
        items += [EVIDENCE["hemorrhage"], EVIDENCE["hemorrhage_primary"]]
    found = " and ".join(text for text, present in ((f"{_CYST_TEXT.get(cystic)} cystic change", has_cyst),
                                                     ("hemorrhage", has_hemorrhage)) if present)
    conclusion = EVIDENCE["cystic_hemorrhage_conclusion"]
    melanoma, renal = EVIDENCE["primary_melanoma"], EVIDENCE["primary_renal_cell"]
    caveat = ("Of its 2 cystic ISCMs one was from renal cell carcinoma and one from lung carcinoma (Fig 4). "
              if has_cyst else "")
    caveat += ("Its only ISCM with hemorrhage was from squamous cell carcinoma of the lung (Fig 5). "
               if has_hemorrhage else "")
    body = (f"{found}. In the reference series {'; '.join(parts)}; {NO_CONTROLS}. From these counts the authors "
            f"concluded that \"presence of cystic change/hemorrhage makes intramedullary spinal cord metastasis "
            f"unlikely\" (Abstract), an inference of theirs without controls. {caveat}Melanoma and "
            f"renal cell carcinoma were few: {seen(melanoma, 'patients')} and {seen(renal, 'patients')}.")
    return [make_hint("cystic_or_hemorrhage", "uncommon", name, body, items + [conclusion, melanoma, renal])]


def _leptomeningeal(lesion: dict, name: str, _clinical: dict) -> list[Hint]:
    if not (lesion.get("origin") == "possible_leptomeningeal" or lesion.get("position") == "exophytic"):
        return []
    which = "surface-dominant" if lesion.get("origin") == "possible_leptomeningeal" else "exophytic"
    origin, exophytic, lepto = (EVIDENCE[key] for key in ("possible_leptomeningeal_origin", "exophytic",
                                                          "leptomeningeal"))
    return [make_hint("possible_leptomeningeal", "search", name,
                      f"{which} lesion: consider a leptomeningeal metastasis invading the cord (possible "
                      f"leptomeningeal origin in {seen(origin, 'lesions')} of the reference series; exophytic "
                      f"{seen(exophytic, 'lesions with axial images')}). Look for leptomeningeal disease along the "
                      f"cord/conus, cauda equina and cul-de-sac (seen in {seen(lepto, 'patients')}).",
                      [origin, exophytic, lepto])]


def _accuracy_text(key: str) -> str:
    accuracy = ACCURACY[key]
    lr = accuracy.likelihood_ratio_positive
    lr_text = (f"positive likelihood ratio about {lr:.0f} (computed here from the rounded percentages)"
               if lr is not None else f"no finite likelihood ratio: {accuracy.likelihood_ratio_note[len('not finite: '):]}")
    return f"sensitivity {accuracy.sensitivity}%, specificity {accuracy.specificity}%, {lr_text}"


def _rim_flame(lesion: dict, name: str, clinical: dict) -> list[Hint]:
    signs = [sign for sign in ("rim", "flame") if lesion.get(f"{sign}_sign") is True]
    if not signs:
        return []
    key = "both" if len(signs) == 2 else signs[0]
    accuracy, both = ACCURACY[key], ACCURACY["both"]
    label = "rim and flame signs" if key == "both" else f"{key} sign"
    evidence = accuracy.evidence() + (both.evidence() if key != "both" else [])
    evidence.append(EVIDENCE["rim_flame_exophytic"])
    if clinical.get("primary_tumor") == "cns":
        return [make_hint("rim_flame_sign", "not_applicable", name,
                          f"{label} recorded, but the recorded primary tumour is of CNS origin: Rykken et al. "
                          "(AJNR 2013) made their claim for metastases of non-CNS primaries, so their sensitivity "
                          "and specificity do not apply to this case.", evidence, accuracy=accuracy)]
    if key == "both":
        figures = (f"both signs together: {_accuracy_text('both')}; rim sign alone {ACCURACY['rim'].sensitivity}%"
                   f"/{ACCURACY['rim'].specificity}%, flame sign alone {ACCURACY['flame'].sensitivity}%/"
                   f"{ACCURACY['flame'].specificity}% (sensitivity/specificity)")
    else:
        figures = f"{label}: {_accuracy_text(key)}; both signs together: {_accuracy_text('both')}"
    return [make_hint("rim_flame_sign", "specific", name,
                      f"{label} present. Rykken et al. (AJNR 2013) compared {accuracy.iscm_group} with "
                      f"{accuracy.comparison}; per patient, {figures}. The claim is for metastases of non-CNS "
                      "primaries.", evidence, accuracy=accuracy)]


def _central_dot(lesion: dict, name: str, _clinical: dict) -> list[Hint]:
    if lesion.get("central_dot_sign") is not True:
        return []
    accuracy = ACCURACY["central_dot"]
    patients, primaries = accuracy.evidence()
    return [make_hint("central_dot_sign", "specific", name,
                      f"central dot sign present. Madhavan et al. (Clin Neuroradiol 2021) compared "
                      f"{accuracy.iscm_group} with {accuracy.comparison}: the sign was seen in "
                      f"{seen(patients, 'ISCM patients')} ({CENTRAL_DOT_PER_LESION.numerator}/"
                      f"{CENTRAL_DOT_PER_LESION.denominator} enhancing ISCMs) and in {primaries.numerator}/"
                      f"{primaries.denominator} primary masses (P = {str(CENTRAL_DOT_P_VALUE)[1:]}, per patient): "
                      f"{_accuracy_text('central_dot')}; specific but rare.",
                      [patients, primaries, CENTRAL_DOT_PER_LESION], accuracy=accuracy)]


def _mixed_findings(hints: list[Hint], name: str, lesion_id: str | None) -> list[Hint]:
    groups = {direction: _unique(RULES[h.id].finding for h in hints if h.direction in directions)
              for direction, directions in (("common", ("common",)), ("specific", ("specific",)),
                                            ("uncommon", ("uncommon", "outside_range")))}
    if not ((groups["common"] or groups["specific"]) and groups["uncommon"]):
        return []
    parts = [f"{label} ({', '.join(groups[key])})" for key, label in (
        ("common", "findings seen in half or more of the reference series' ISCMs"),
        ("specific", "findings more frequent in ISCMs than in primary masses in a comparative study"),
        ("uncommon", "findings uncommon among the series' ISCMs or beyond their range")) if groups[key]]
    evidence = [h.evidence[0] for h in hints if h.direction in ("common", "specific", "uncommon", "outside_range")]
    return [make_hint("mixed_findings", "context", name,
                      f"{'; '.join(parts[:-1])}; and {parts[-1]}. These neither add up nor cancel "
                      "out: a series without a comparison group says how often ISCMs showed each finding, not which "
                      "diagnosis a mix of findings favours.", evidence, lesion_id)]


def _unique(items) -> list[str]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out
