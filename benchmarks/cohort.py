"""Benchmark: `iscm-assist cohort` on 1,000 synthetic case files (target < 2 s). Prints the figures.

Usage: python benchmarks/cohort.py [N]
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ISCMAssistLib import cohort
from ISCMAssistLib.case import new_case, new_lesion
from ISCMAssistLib.case_io import save_case
from ISCMAssistLib.cli import main


def synthetic_case(index: int, rng: random.Random) -> dict:
    """A valid case with 1-4 lesions and every checklist field drawn at random (some None)."""
    case = new_case(f"bench-{index:05d}", reader="bench")
    maybe = lambda *values: rng.choice(values + (None,))  # noqa: E731
    case["clinical"].update(sex=maybe("female", "male"), age_years=rng.randint(7, 80),
                            primary_tumor=maybe("lung", "breast", "melanoma", "cns", "renal_cell", "other"),
                            dominant_symptom=maybe("weakness", "sensory", "bowel_bladder", "pain", "asymptomatic"),
                            symptom_duration_weeks=round(rng.uniform(0.1, 32), 1),
                            primary_known_at_presentation=maybe(True, False),
                            primary_known_at_iscm_diagnosis=maybe(True, False),
                            primary_to_presentation_years=round(rng.uniform(0, 19), 1),
                            primary_to_iscm_diagnosis_years=round(rng.uniform(0, 19), 1))
    count = rng.choice((1, 1, 1, 2, 3, 4))
    case["patient_findings"].update(multiplicity="solitary" if count == 1 else "multiple",
                                    other_cns_or_spinal_metastases=maybe(True, False),
                                    primary_tumor_or_non_cns_metastases=maybe(True, False),
                                    leptomeningeal_metastases=maybe(True, False))
    for number in range(1, count + 1):
        lesion = new_lesion(f"L{number}")
        position = maybe("central", "eccentric", "exophytic")
        enh = rng.randint(1, 4)
        t2 = rng.randint(enh, 15)
        lesion.update(location=maybe("cervical", "cervicothoracic", "thoracic", "thoracic_conus", "conus"),
                      position=position,
                      origin=(None if position in (None, "central")
                              else maybe("intramedullary", "possible_leptomeningeal")),
                      morphology=maybe("well_circumscribed", "ill_defined"), cord_expansion=maybe(True, False),
                      t2_signal=maybe("hyperintense", "hypointense", "isointense"),
                      t1_signal=maybe("hyperintense", "hypointense", "isointense"),
                      cystic_change=maybe("absent", "intratumoral", "peritumoral", "both"),
                      hemorrhage=maybe(True, False),
                      enhancement=maybe("absent", "homogeneous", "heterogeneous", "peripheral_ring"),
                      size_mm={"ap": round(rng.uniform(1, 16), 1), "transverse": round(rng.uniform(2, 23), 1),
                               "si": round(rng.uniform(2, 114), 1)},
                      enhancement_length_segments=enh, t2_length_segments=t2, t2_to_enhancement_ratio=t2 / enh,
                      rim_sign=maybe(True, False), flame_sign=maybe(True, False))
        case["lesions"].append(lesion)
    return case


def main_benchmark(n: int = 1000) -> None:
    rng = random.Random(20261125)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cases"
        folder.mkdir()
        for index in range(n):
            save_case(synthetic_case(index, rng), folder / f"bench-{index:05d}.json")
        out = Path(tmp) / "report"
        timings, cpu = {}, {}
        for figure in (False, True):
            start, start_cpu = time.perf_counter(), time.process_time()
            args = ["cohort", str(folder), "--out", str(out), "--quiet"] + ([] if figure else ["--no-figure"])
            status = main(args)
            timings[figure] = time.perf_counter() - start
            cpu[figure] = time.process_time() - start_cpu
            assert status == 0
        command = [sys.executable, "-m", "ISCMAssistLib.cli", "cohort", str(folder), "--out", str(out), "--quiet"]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        whole = time.perf_counter() - start  # a fresh process: interpreter start and imports included
        start = time.perf_counter()
        paths = cohort.find_case_files(folder)
        cases, _ = cohort.load_cases(paths)
        load = time.perf_counter() - start
        start = time.perf_counter()
        cohort.summarize(cases)
        summarise = time.perf_counter() - start
    print(f"cohort on {n} case files: {timings[False]:.2f} s without the figure, {timings[True]:.2f} s with "
          f"cohort.png (target < 2 s); CPU time {cpu[False]:.2f} s / {cpu[True]:.2f} s")
    print(f"  as a fresh `iscm-assist cohort` process (imports included, with cohort.png): {whole:.2f} s")
    print(f"  of which: load + validate {load:.2f} s ({1000 * load / n:.2f} ms/file), summarise {summarise:.3f} s")


if __name__ == "__main__":
    main_benchmark(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
