"""Time from a control-point move to an updated lesion table, 10 lesions, on slicer-core's real MRML.

Builds a headless scene with the whole-spine phantom's level landmarks and 10 lesions (SI, AP,
transverse and edema lines each), then moves one control point of a different lesion per
repetition and times until the move returns: the Logic's observer recomputes synchronously (read,
hints, parameter node, table), so the table is up to date when SetNthControlPointPositionWorld
returns. Prints median, 95th percentile and max in ms (target: median < 5 ms).

    python benchmarks/logic_update.py [--moves 500] [--lesions 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=500)
    parser.add_argument("--lesions", type=int, default=10)
    args = parser.parse_args()

    from ISCMAssistLib.scene.headless import create_headless_context
    from ISCMAssistLib.phantom import make_spine_phantom
    from ISCMAssistLib.scene.logic import ISCMAssistLogic

    phantom = make_spine_phantom("thoracic", noise=0.0, lesion=False)
    context = create_headless_context()
    logic = ISCMAssistLogic(context.scene, context.logics)
    labels = [label for label in phantom.landmarks if label != "conus"]
    centres = np.array([phantom.landmarks[label] for label in labels])
    logic.setLevelLandmarks(labels, centres)
    bodies = [label for label in labels if "/" not in label]
    with logic.batch():
        for index in range(args.lesions):
            lesion_id = logic.addLesion()
            centre = phantom.landmarks[bodies[index % len(bodies)]] + np.array([0.0, -20.0, 0.0])
            logic.addLesionMarkup(lesion_id, "lesion_si", [centre + [0, 0, 8], centre - [0, 0, 8]])
            logic.addLesionMarkup(lesion_id, "lesion_ap", [centre + [0, 3, 0], centre - [0, 3, 0]])
            logic.addLesionMarkup(lesion_id, "lesion_transverse", [centre + [3, 0, 0], centre - [3, 0, 0]])
            logic.addLesionMarkup(lesion_id, "edema_si", [centre + [0, 0, 40], centre - [0, 0, 40]])
    assert len(logic.tableRows()) == args.lesions

    nodes = [logic.lesionNodes(lesion_id)["lesion_si"] for lesion_id in logic.lesionIds()]
    table = logic.tableNode()
    si_column = next(i for i in range(table.GetNumberOfColumns()) if table.GetColumnName(i) == "SI size (mm)")
    times_ms = []
    for move in range(args.moves):
        node = nodes[move % len(nodes)]
        p0 = np.array(node.GetNthControlPointPositionWorld(0))
        up = (move // len(nodes)) % 2 == 0  # each node goes up 1 mm, then back down on the next pass
        step = 1.0 if up else -1.0
        start = time.perf_counter()
        node.SetNthControlPointPositionWorld(0, p0[0], p0[1], p0[2] + step)
        times_ms.append((time.perf_counter() - start) * 1000.0)
        expected = 17.0 if up else 16.0
        row = move % len(nodes)
        assert float(table.GetCellText(row, si_column)) == expected, (table.GetCellText(row, si_column), expected)

    times_ms.sort()
    print(f"lesions: {args.lesions}, moves: {args.moves}, markups nodes: {logic.observedNodeCount()}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"move -> updated table: median {statistics.median(times_ms):.2f} ms, "
          f"p95 {times_ms[int(0.95 * len(times_ms)) - 1]:.2f} ms, max {times_ms[-1]:.2f} ms (target median < 5 ms)")
    logic.cleanup()
    context.close()


if __name__ == "__main__":
    main()
