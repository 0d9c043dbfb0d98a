"""Issue 12 item 1: an SR cut short or damaged anywhere gives one clear error naming the file, and no read.

Also issue 12 item 6: an absurd lesion count is refused with a clear error instead of a slow export.
"""

from __future__ import annotations

import warnings

import pytest

from ISCMAssistLib import case as C
from ISCMAssistLib import sr
from ISCMAssistLib.cli import main

from test_sr import full_case, make_series


@pytest.fixture(scope="module")
def valid_sr(tmp_path_factory):
    folder = tmp_path_factory.mktemp("damaged")
    series = make_series(folder / "t2")
    path = folder / "r.dcm"
    sr.write_sr(full_case(), [series], path)
    return path


def test_every_cut_of_a_valid_sr_is_refused_with_one_line_naming_the_file(valid_sr, tmp_path, capsys):
    data = valid_sr.read_bytes()
    offsets = sorted(set(range(0, len(data), max(1, len(data) // 150))) | {len(data) - 1, len(data) - 2, 132, 128})
    cut, out = tmp_path / "cut.dcm", tmp_path / "back.json"
    silently_read = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the cut values it reads
        for offset in offsets:
            cut.write_bytes(data[:offset])
            code = main(["import-sr", str(cut), "--out", str(out)])
            err = capsys.readouterr().err
            if code != 2:
                silently_read.append(offset)
                continue
            lines = err.strip().splitlines()
            assert len(lines) == 1 and str(cut) in lines[0], f"cut at {offset}: {err!r}"
            assert "Traceback" not in err
            assert not out.exists(), f"cut at {offset} wrote a read"
    assert not silently_read, f"{len(silently_read)} of {len(offsets)} cuts were imported: {silently_read[:10]}"
    assert main(["import-sr", str(valid_sr), "--out", str(out)]) == 0  # the whole file still reads


def test_a_flipped_byte_in_the_supplement_or_tree_never_gives_a_traceback(valid_sr, tmp_path, capsys):
    data = bytearray(valid_sr.read_bytes())
    damaged = tmp_path / "flip.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for offset in range(200, len(data), max(1, len(data) // 60)):
            copy = bytearray(data)
            copy[offset] ^= 0xFF
            damaged.write_bytes(bytes(copy))
            code = main(["import-sr", str(damaged)])
            captured = capsys.readouterr()
            assert "Traceback" not in captured.err
            assert code in (0, 2)  # a flip inside a text value may still be a valid read


def test_an_absurd_lesion_count_is_refused_at_once(t2_folder_small):
    case = C.new_case("many")
    case["lesions"] = [C.new_lesion(f"L{n}") for n in range(1, sr.MAX_LESIONS + 2)]
    with pytest.raises(sr.SRError, match=f"at most {sr.MAX_LESIONS}"):
        sr.case_to_sr(case, [t2_folder_small])


@pytest.fixture(scope="module")
def t2_folder_small(tmp_path_factory):
    return make_series(tmp_path_factory.mktemp("small") / "t2")


def test_an_sr_of_the_earlier_layout_is_refused_with_a_clear_reason(valid_sr):
    """SRs written before issue 16 carried the case JSON as a TEXT item; their layout is not read silently."""
    import highdicom as hd
    import pydicom

    from ISCMAssistLib import sr_codes

    ds = pydicom.dcmread(valid_sr)
    container = [i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "C0034375"][0]
    container.ContentSequence.append(hd.sr.TextContentItem(
        name=pydicom.sr.coding.Code("CASE-SUPPLEMENT", sr_codes.PRIVATE_SCHEME, "ISCMAssist case JSON supplement"),
        value="{}", relationship_type="CONTAINS"))
    for element in list(ds.group_dataset(0x0009)) + list(ds.group_dataset(0x7FD1)):
        del ds[element.tag]
    with pytest.raises(sr.SRError, match="earlier ISCMAssist"):
        sr.sr_to_case(ds)
