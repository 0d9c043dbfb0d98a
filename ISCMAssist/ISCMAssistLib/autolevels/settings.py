"""Constants of automatic levels (mm unless named otherwise), in one place: the spacing prior and
every tuned threshold. Where a value was tuned on real scans, the comment says on which."""

from __future__ import annotations

#: Height (mm) of segment n (vertebral body n + one disc: distance between the discs above and
#: below vertebra n), measured on PAM50 by benchmarks/measure_disc_prior.py (2 mm voxels, C2..T11).
PAM50_SEGMENT_MM: dict[int, float] = {
    2: 16.0, 3: 18.0, 4: 18.0, 5: 16.0, 6: 16.0, 7: 18.0, 8: 22.0, 9: 22.0, 10: 24.0, 11: 24.0,
    12: 24.0, 13: 26.0, 14: 28.0, 15: 26.0, 16: 28.0, 17: 28.0, 18: 32.0,
}
#: T12..L5 are outside the PAM50_small field of view; typical adult values (body 24-28 mm + disc
#: 7-11 mm), not measured here.
TYPICAL_LOWER_SEGMENT_MM: dict[int, float] = {19: 33.0, 20: 35.0, 21: 37.0, 22: 38.0, 23: 38.0, 24: 37.0}
SEGMENT_PRIOR_MM: dict[int, float] = {**PAM50_SEGMENT_MM, **TYPICAL_LOWER_SEGMENT_MM}

LATERAL_OFFSETS_MM = (0.0, -10.0, 10.0, -20.0, 20.0)  # slab positions tried, mm right of the middle
STEP_MM = 1.0            # resampling step of the working sagittal image
SLAB_HALF_MM = 4.0       # half thickness of the mid-sagittal slab averaged across R-L
SYMMETRY_SEARCH_MM = 15.0  # the mid-sagittal plane is looked for this far either side of the slab
SYMMETRY_REACH_MM = 8.0    # mirror pairs 1..8 mm from a candidate plane, all inside the volume
SYMMETRY_BOX_MM = 30.0     # around each disc: +-30 mm A-P, +-7.5 mm S-I
T_RANGE_MM = (-8.0, 55.0)  # straightened frame: posterior (-) to anterior (+) of the canal
MAX_SI_STEP_MM = 5.0     # coarser sampling along the spine does not resolve discs (4-10 mm high)
MIN_SEEN_DISCS = 4
MIN_SEEN_DISCS_BESIDE = 6  # ... for a slab beside the middle of the series
MIN_SCORE_BESIDE = 3.0
MIN_SCORE = 2.0          # median disc prominence / profile noise below which no spine is reported
TOLD_MIN_SCORE = 1.5     # ... when the reader gave the contrast
SPACING_LOG_SD = 0.12    # spread of log(observed / prior segment height) within one spine
SCALE_LOG_SD = 0.20      # spread of patient size relative to the prior
T2_CSF_RATIO = 1.25      # canal / column brightness above which the image is read as T2
TOLD_CSF_RATIO = 1.1     # ... when the reader said --contrast t2 (and 1 / this for t1)
EDGE_S_SIGMA = 3.0       # smoothing (mm) along the spine of the edge energy
BAND_T_SIGMA = 5.0       # smoothing (mm) across the column of the edge filter (discs are wide)
PROFILE_T_SIGMA = 2.0    # ... of the edge filter whose strip average is the disc profile
COLUMN_MIN_T_MM = 8.0    # the column path stays at least this far (mm) in front of the canal
STRIP_FROM_WALL_MM = (2.0, 18.0)   # the disc profile averages the column from 2 to 18 mm in front of the canal's anterior wall
WALL_SEARCH_MM = (16.0, 2.0)       # the wall is sought 16 to 2 mm behind the column path
RATIO_RANGE = (0.6, 1.6)   # allowed ratio of consecutive disc spacings in one chain
EXTEND_TOLERANCE = 0.25  # a peak continues the chain within this fraction of the end step ...
EXTEND_MIN_FRACTION = 0.3  # ... and at least this fraction of the end discs' strength
CUE_BONUS = 6.0          # log-likelihood bonus of a hypothesis that agrees with an anatomical cue

# Disc orientation (orientation.py). Tuned on the TUNE half of real_lumbar (odd positions of the
# sorted subjects; benchmarks/real_scans.py): there the L5/S1 disc leaned 22-60 deg, and where it was
# recognised 24-42 deg more than L4/L5; one L4/L5 (sub-37) leaned 24 deg more than L3/L4, with a
# tilted band (the real L5/S1, 22 deg) below it: hence the rule on bands below.
ORIENTATION_STEP_DEG = 2.0
ORIENTATION_MAX_TILT_DEG = 70.0       # tilts searched: +-70 deg from axial; a best tilt at the end is unclear
ORIENTATION_HALF_WIDTH_MM = 10.0      # the plane is averaged +-10 mm A-P around the disc centre
ORIENTATION_HALF_DEPTH_MM = 12.0      # ... giving a profile +-12 mm across it
ORIENTATION_MIN_CLARITY = 0.3         # below this no tilt stands out
ORIENTATION_MAX_FROM_AXIS_DEG = 45.0  # a disc plane's normal within this of the canal's direction
ORIENTATION_WINDOW_PER_SPACING = (0.45, 0.5)  # closer discs: depth and width at most these shares of the spacing
LS_MIN_TILT_DEG = 20.0                # L5/S1 leans at least this much from superior towards anterior
LS_MIN_JUMP_DEG = 20.0                # ... and this much more than the disc above (lumbosacral angle)
LS_BELOW_MARGIN_DEG = 10.0            # no clearly measured band below it leans within this of it
LS_MIN_SEGMENT_MM = 24.0              # the L5 segment (L4/L5 to L5/S1) is at least this long (tune: 30-39)

# Anchor re-fit (propose.py, chain.py): a disc anchor farther than REFIT_FAR_MM along the spine from
# every proposed disc (a body anchor: from every proposed body), or more than REFIT_LATERAL_MM to the
# side of the slab, makes the chain be detected again through the anchor.
REFIT_FAR_MM = 4.0
REFIT_LATERAL_MM = 12.0
REFIT_SNAP_MM = 4.0        # a detected disc this close to a disc anchor is taken as the anchor's disc
REFIT_BONUS = 1000.0       # weight that makes the chain's dynamic programming keep the anchor
REFIT_BODY_REACH_MM = 25.0  # the discs above and below a body anchor are sought this far from it
REFIT_RATIO_RANGE = (0.5, 2.0)  # consecutive spacing ratios allowed in a chain forced through an anchor

# Contrast (detect.best_chain): when the T2 reading is not clear, the T1 reading is tried; the answer
# is "not sure" (the reader is asked) when the losing reading's chain is this strong relative to the winner's.
CONTRAST_RIVAL_SCORE = 0.6

# Names not confirmed by a landmark (naming.name_from_anatomy): each point's confidence is at most this.
UNSURE_NAME_PROBABILITY = 0.5
