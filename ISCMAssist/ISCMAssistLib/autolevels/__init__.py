"""Automatic vertebral levels: find the intervertebral discs on a sagittal T2/T1 and name them.

No trained weights and nothing downloaded: classical image analysis with numpy/scipy plus a
statistical prior of segment heights per level measured on the PAM50 template.

Pipeline (all distances in mm on a 1 mm resampled mid-sagittal slab, RAS):
1. resample a slab around the spine's lateral position into a sagittal image (rows S->I, cols A->P);
2. follow the spinal canal (a CSF ridge, bright on T2, dark on T1) top to bottom with dynamic
   programming, choosing the ridge that has periodic disc-like bands in front of it;
3. straighten the image along the canal, follow the vertebral column in front of it and take the
   profile of intensity *changes* along the spine in a strip 2-18 mm in front of the canal's
   anterior wall (the bodies' back halves, where small cervical discs show too): disc faces and
   endplates make its peaks, whether the discs are brighter or darker than the bodies;
4. keep the regular chain of peaks (dynamic programming, spacing measured along the column), then
   extend it cranially with fainter peaks that keep its rhythm; name it from an anchor, or from
   anatomy (no disc above the dens at the top, the fused sacrum at the bottom) weighed with the
   fit of its spacings to the prior.
A volume sampled coarser than 5 mm along S-I (an axial stack) gives "no spine found".

Modules: ``propose`` (the pipeline), ``grid`` (resampling), ``detect`` (canal, profile, chain),
``chain`` (the regular chain of peaks), ``naming`` (anchor and anatomy), ``labels`` (anchor
parsing, shifting and re-fitting names), ``records`` (results), ``settings`` (every constant).
"""

from __future__ import annotations

from .labels import parse_anchor, relabel_from_anchor, shift_labels
from .propose import ProgressCallback, propose_levels
from .records import AutoLevelsError, LevelProposal, ProposedLandmark
from .settings import PAM50_SEGMENT_MM, SEGMENT_PRIOR_MM, TYPICAL_LOWER_SEGMENT_MM

__all__ = [
    "PAM50_SEGMENT_MM", "SEGMENT_PRIOR_MM", "TYPICAL_LOWER_SEGMENT_MM", "AutoLevelsError", "LevelProposal",
    "ProgressCallback", "ProposedLandmark", "parse_anchor", "propose_levels", "relabel_from_anchor", "shift_labels",
]
