"""Speed of retrieving from a PACS: our retrieve against the plain download of the same instances.

Starts a real Orthanc (Debian's orthanc + orthanc-dicomweb, as the tests do: authentication on, in a
private network namespace when allowed, else on 127.0.0.1 only), stores a 60-slice 512 x 512
16-bit MR series, then times, in one run, alternating and taking the median of 5:

- limit HTTP GET: one plain HTTP GET of the series' instances (WADO-RS multipart, as stored) streamed
  into one file, no parsing: the wire speed;
- limit, 60 files: the same GET, the body cut at the boundaries and each instance saved as its own file
  (what a retrieve must at least do; a bare split, no checks);
- ours over DICOMweb: ``pacs.retrieve`` (QIDO-RS listing, WADO-RS, one file per instance, missing check);
- iter_series+save: dicomweb-client's public ``iter_series`` with each Dataset saved by pydicom (the
  obvious way to write it, for comparison);
- ours over C-GET: ``pacs.retrieve`` with a DIMSE config (C-FIND listing, C-GET, one file per instance);
- bare C-GET: pynetdicom's C-GET of the series with a handler that only writes the bytes (the DIMSE peer).

The machine is shared, so besides the median of 7 runs it prints the fastest run of each (the cost with
the least interference). Prints the ratios ours / limit (target < 1.5) and ours C-GET / bare C-GET.

Usage: python benchmarks/pacs.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Testing" / "pacs"))

from orthanc_server import OrthancServer, enter_private_network, orthanc_missing  # noqa: E402

from ISCMAssistLib import pacs  # noqa: E402
from ISCMAssistLib.dicom_series import write_series  # noqa: E402
from ISCMAssistLib.pacs import ServerConfig  # noqa: E402
from ISCMAssistLib.volumes import Volume  # noqa: E402

SLICES, SIZE, RUNS = 60, 512, 7


def write_big_series(folder: Path) -> list[Path]:
    """Write a 60 x 512 x 512 uint16 sagittal series (noise over a ramp: it does not compress) to ``folder``."""
    rng = np.random.default_rng(0)
    array = (rng.integers(0, 400, (SLICES, SIZE, SIZE)) + np.arange(SIZE)[None, None, :]).astype(np.uint16)
    ijk_to_ras = np.diag([0.5, 0.5, 3.0, 1.0])
    return write_series(folder, Volume(array, ijk_to_ras), series_description="SAG T2 BIG", series_number=2,
                        seed="benchmark-pacs", mr_tags={"EchoTime": 100.0, "RepetitionTime": 3000.0})


def plain_download(server: OrthancServer, study: str, series: str, out: Path) -> int:
    """One GET of the series as stored, streamed to one file; return the bytes received."""
    import requests

    url = f"{server.url}/studies/{study}/series/{series}"
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'
    size = 0
    with requests.get(url, auth=(server.user, server.password), headers={"Accept": accept}, stream=True,
                      timeout=60) as response, open(out / "series.multipart", "wb") as handle:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 20):
            handle.write(chunk)
            size += len(chunk)
    return size


def plain_download_files(server: OrthancServer, study: str, series: str, out: Path) -> int:
    """The same GET, its body cut at the multipart boundary and each part's bytes saved as its own file
    (a bare split for the benchmark, no checks); return the files written."""
    import requests

    url = f"{server.url}/studies/{study}/series/{series}"
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'
    response = requests.get(url, auth=(server.user, server.password), headers={"Accept": accept}, timeout=60)
    response.raise_for_status()
    boundary = response.headers["Content-Type"].split("boundary=")[1].split(";")[0].strip('"').encode()
    count = 0
    for part in response.content.split(b"--" + boundary):
        head, separator, body = part.partition(b"\r\n\r\n")
        if separator and body:
            (out / f"{count}.dcm").write_bytes(body[:-2] if body.endswith(b"\r\n") else body)
            count += 1
    return count


def client_iter_series(server: OrthancServer, study: str, series: str, out: Path) -> int:
    """What a dicomweb-client user writes: its public iter_series, each Dataset saved with pydicom; return the count."""
    from ISCMAssistLib.pacs import dicomweb

    web = dicomweb.client(ServerConfig(url=server.url, user=server.user))
    count = 0
    for count, dataset in enumerate(web.iter_series(study, series, media_types=(("application/dicom", "*"),)), 1):
        dataset.save_as(out / f"{dataset.SOPInstanceUID}.dcm", enforce_file_format=True)
    return count


def bare_c_get(server: OrthancServer, study: str, series: str, out: Path) -> int:
    """pynetdicom's C-GET of the series, the handler writing each instance's bytes; return the count."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE, build_role, evt
    from pynetdicom.sop_class import MRImageStorage, StudyRootQueryRetrieveInformationModelGet

    written = []

    def on_store(event):
        path = out / f"{len(written)}.dcm"
        path.write_bytes(event.encoded_dataset())
        written.append(path)
        return 0x0000

    ae = AE(ae_title=server.client_aet)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(MRImageStorage)
    assoc = ae.associate("127.0.0.1", server.dicom_port, ae_title=server.aet,
                         ext_neg=[build_role(MRImageStorage, scp_role=True)],
                         evt_handlers=[(evt.EVT_C_STORE, on_store)])
    query = Dataset()
    query.QueryRetrieveLevel, query.StudyInstanceUID, query.SeriesInstanceUID = "SERIES", study, series
    for _ in assoc.send_c_get(query, StudyRootQueryRetrieveInformationModelGet):
        pass
    assoc.release()
    return len(written)


def timed(label: str, action, scratch: Path, times: dict[str, list[float]]) -> None:
    """Run ``action(folder)`` into a fresh folder, add its wall time (s) to ``times[label]``."""
    folder = scratch / label.replace(" ", "_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    start = time.perf_counter()
    action(folder)
    times.setdefault(label, []).append(time.perf_counter() - start)


def main() -> int:
    """Run the benchmark; print the medians and ratios; return 0 (1 when Orthanc is missing)."""
    missing = orthanc_missing()
    if missing:
        print(missing)
        return 1
    private = enter_private_network()
    with tempfile.TemporaryDirectory() as temp:
        temp = Path(temp)
        files = write_big_series(temp / "source")
        megabytes = sum(p.stat().st_size for p in files) / 1e6
        with OrthancServer(temp / "orthanc") as server:
            os.environ["ISCM_PACS_PASSWORD"] = server.password
            web = ServerConfig(url=server.url, user=server.user)
            dimse = ServerConfig(dimse=f"127.0.0.1:{server.dicom_port}", called_aet=server.aet,
                                 calling_aet=server.client_aet)
            stored = pacs.store(web, files)
            assert not stored.failed, stored.failed
            study = pacs.find_studies(web, {})[0]["StudyInstanceUID"]
            series = pacs.find_series(web, study)[0]["SeriesInstanceUID"]
            times: dict[str, list[float]] = {}
            for _ in range(RUNS):
                timed("limit HTTP GET", lambda out: plain_download(server, study, series, out), temp, times)
                timed("limit, 60 files", lambda out: plain_download_files(server, study, series, out), temp, times)
                timed("ours DICOMweb", lambda out: _complete(pacs.retrieve(web, study, out, [series])), temp, times)
                timed("iter_series+save", lambda out: client_iter_series(server, study, series, out), temp, times)
                timed("bare C-GET", lambda out: bare_c_get(server, study, series, out), temp, times)
                timed("ours C-GET", lambda out: _complete(pacs.retrieve(dimse, study, out, [series])), temp, times)
    median = {label: statistics.median(values) for label, values in times.items()}
    best = {label: min(values) for label, values in times.items()}
    print(f"PACS retrieve: {SLICES} slices of {SIZE} x {SIZE} (uint16, {megabytes:.1f} MB) from Orthanc 1.10 on "
          f"loopback{' in a private network namespace' if private else ''}; median and fastest of {RUNS} runs")
    for label in median:
        print(f"  {label:16} median {median[label] * 1000:6.0f} ms ({megabytes / median[label]:4.0f} MB/s)   "
              f"fastest {best[label] * 1000:6.0f} ms ({megabytes / best[label]:4.0f} MB/s)")
    for ours in ("ours DICOMweb", "ours C-GET"):
        for limit in ("limit HTTP GET", "limit, 60 files"):
            print(f"  {ours} / {limit}: median {median[ours] / median[limit]:.2f}x, "
                  f"fastest {best[ours] / best[limit]:.2f}x (target < 1.5x)")
    print(f"  iter_series+save / ours DICOMweb: median {median['iter_series+save'] / median['ours DICOMweb']:.2f}x")
    print(f"  ours C-GET / bare C-GET: median {median['ours C-GET'] / median['bare C-GET']:.2f}x, "
          f"fastest {best['ours C-GET'] / best['bare C-GET']:.2f}x")
    return 0


def _complete(result) -> None:
    if not result.complete or len(result.files) != SLICES:
        raise SystemExit(f"retrieve incomplete: {len(result.files)} files, missing {len(result.missing)}")


if __name__ == "__main__":
    sys.exit(main())
