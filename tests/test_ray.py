"""Scale-out on Ray (issue 8): same outputs as the local executor, retries, resume, fsspec inputs.

One real local Ray cluster per module (`ray.init(num_cpus=2)`, ~10-20 s to start on 2 cores);
the real WARC files of ../shared/data/warc are the inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dedup_reference import near_clusters

from conftest import REPO, warc
from curate import InputError, curate, expand_inputs, load_config
from curate.dedup.config import NearDedupConfig
from curate.dedup.lsh import find_clusters
from curate.dedup.minhash import signatures, write_signatures
from curate.exec.ray_executor import RayExecutor
from curate.read import fsio

ASSAY = [sys.executable, "-m", "assay"]
# Small real files: a Common Crawl slice (mixed charsets), the ClueWeb09 duplicate set, two 2024 crawls.
INPUTS = ("cc-2020-34-slice.warc.gz", "clueweb09-ja-quirk.warc.gz",
          "wget-crawl-2024-a.warc.gz", "wget-crawl-2024-b.warc.gz")
COMPARED = ("provenance/*.parquet", "documents/*.parquet", "rejected/*.parquet", "tokens/*.arrow")
# Two reduce partitions per dedup step, so the partitioned paths run on both executors.
OVERRIDES = {"workers": 2, "tokenize.enabled": True, "tokenize.vocab_size": 512, "dedup_partitions": 2}


def tree_digest(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for pattern in COMPARED for p in sorted(out.glob(pattern))
    }


def inputs() -> list[str]:
    return [str(warc(n)) for n in INPUTS]


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> Path:
    """The local executor's output dir over INPUTS (tokenized)."""
    out = tmp_path_factory.mktemp("local")
    curate(inputs(), out, load_config(overrides={**OVERRIDES, "workers": 1}))
    return out


@pytest.fixture(scope="module")
def reference(local_run: Path) -> dict[str, str]:
    """What every Ray run must reproduce, byte for byte."""
    digest = tree_digest(local_run)
    assert any(k.startswith("tokens/") for k in digest) and any(k.startswith("documents/") for k in digest)
    return digest


@pytest.fixture(scope="module")
def ray_cluster():
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def ray_cfg(**extra: object):
    return load_config(overrides={**OVERRIDES, "executor": "ray", **extra})


def _nbytes(obj: object) -> int:
    if isinstance(obj, pa.Table | pa.Array | pa.ChunkedArray | np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, list):
        return sum(_nbytes(x) for x in obj)
    return len(pickle.dumps(obj))


# --------------------------------------------------------------------------- executor


@pytest.mark.slow
def test_ray_and_local_outputs_are_byte_identical(ray_cluster, reference, tmp_path: Path,
                                                  monkeypatch) -> None:
    received: list[int] = []
    real_get = ray_cluster.get

    def counting_get(refs, *args, **kwargs):  # noqa: ANN001, ANN202
        value = real_get(refs, *args, **kwargs)
        received.append(_nbytes(value))
        return value

    monkeypatch.setattr(ray_cluster, "get", counting_get)
    out = tmp_path / "ray"
    manifest = curate(inputs(), out, ray_cfg())
    assert manifest["config"]["executor"] == "ray"
    assert tree_digest(out) == reference
    # Nothing large comes back to the driver: count dicts and MinHash edges only, while the
    # documents and signatures stay in files the workers wrote.
    data = sum(p.stat().st_size for p in (out / "_work").rglob("*.parquet"))
    assert received and sum(received) < 0.05 * data, (sum(received), data)


@pytest.mark.slow
def test_killed_worker_is_retried_and_output_is_unchanged(ray_cluster, reference, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The Ray worker running part-00001 (the ClueWeb09 file, 29 pages) SIGKILLs itself after its 5th
    record, once (curate/faults.py: a deterministic point, no process watching or signalling another)."""
    out = tmp_path / "killed-worker"
    monkeypatch.setenv("ASSAY_FAULT", "kill-in-task:part-00001:5")
    monkeypatch.setenv("ASSAY_FAULT_DIR", str(tmp_path / "faults"))
    curate(inputs(), out, ray_cfg())
    assert (tmp_path / "faults" / "kill-in-task-part-00001.fired").exists(), "the fault never fired"
    assert tree_digest(out) == reference


@pytest.mark.slow
def test_killed_driver_resumes_to_the_same_output(ray_cluster, reference, tmp_path: Path) -> None:
    out = tmp_path / "killed-driver"
    address = ray_cluster.get_runtime_context().gcs_address
    cmd = [*ASSAY, "curate", *inputs(), "-o", str(out), "--executor", "ray", "--address", address,
           "--workers", "2", "--tokenize", "-c", str(_toml(tmp_path))]
    # the driver SIGKILLs itself once its first file task has finished (curate/faults.py)
    env = {**os.environ, "ASSAY_FAULT": "kill-after-tasks:1"}
    killed = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (out / "run.json").exists()
    finished = len(list((out / "_work" / "extract").glob("*.done")))
    assert 1 <= finished < len(INPUTS)
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["resumed_tasks"] >= finished
    assert tree_digest(out) == reference


def _toml(tmp_path: Path) -> Path:
    path = tmp_path / "tokenize.toml"
    path.write_text("[tokenize]\nvocab_size = 512\n")
    return path


# --------------------------------------------------------------------------- LSH on Ray


@pytest.fixture(scope="module")
def signature_inputs(tmp_path_factory, local_run: Path) -> tuple[list[dict], Path]:
    """Real extracted texts: the kept and rejected pages of the local run over INPUTS."""
    rows = []
    for sub in ("documents", "rejected"):
        for p in sorted((local_run / sub).glob("*.parquet")):
            rows += pq.read_table(p, columns=["doc_id", "text", "warc_date"]).to_pylist()
    assert len(rows) > 40
    return rows, tmp_path_factory.mktemp("sigs")


def _write_files(rows: list[dict], cfg: NearDedupConfig, root: Path, n_files: int) -> list[Path]:
    """Split rows into n_files signature files."""
    root.mkdir(parents=True, exist_ok=True)
    chunks = [list(c) for c in np.array_split(np.arange(len(rows)), n_files)]
    paths = []
    for i, idx in enumerate(chunks):
        part = [rows[j] for j in idx]
        path = root / f"part-{i:05d}.parquet"
        write_signatures(path, [r["doc_id"] for r in part], pa.array([r["warc_date"] for r in part]),
                         signatures([r["text"] for r in part], cfg), cfg)
        paths.append(path)
    return paths


@pytest.mark.slow
@pytest.mark.parametrize(
    ("params", "partitions"),
    [
        ({}, None),  # FineWeb 14x8
        ({"bands": 28, "rows": 4}, 3),  # a looser curve: more buckets collide, more edges
        ({"bands": 28, "rows": 4, "verify": True, "verify_threshold": 0.5}, 2),
        ({"bands": 56, "rows": 2, "verify": True}, 1),
    ],
)
def test_ray_lsh_equals_single_machine(ray_cluster, signature_inputs, params, partitions) -> None:
    rows, root = signature_inputs
    cfg = NearDedupConfig(num_perm=112, **params)
    paths = _write_files(rows, cfg, root / f"{cfg.bands}x{cfg.rows}-{cfg.verify}", n_files=3)
    expected = find_clusters(paths, cfg)
    work = root / f"work-{cfg.bands}x{cfg.rows}-{cfg.verify}"
    got = near_clusters(paths, cfg, RayExecutor(), work, partitions or 1)
    assert got.equals(expected)
    assert len(expected) >= 2  # the ClueWeb09 pages at least form a cluster


# --------------------------------------------------------------------------- fsspec inputs


def test_file_urls_are_local_paths(warc_dir: Path) -> None:
    names = ["wget-crawl-2024-a.warc.gz", "wget-crawl-2024-b.warc.gz"]
    plain = expand_inputs([str(warc(n)) for n in names])
    assert expand_inputs([f"file://{warc_dir}/wget-crawl-2024-*.warc.gz"]) == plain
    assert expand_inputs([f"file://{warc(n)}" for n in names]) == plain
    assert fsio.sha256_of(f"file://{plain[0]}") == fsio.sha256_of(plain[0])


def test_object_store_urls_read_through_fsspec(tmp_path: Path) -> None:
    """A `memory://` bucket stands in for s3:// (same fsspec code path, no network)."""
    import fsspec

    names = ["cc-single-record.warc.gz", "wget-crawl-2024-b.warc.gz"]
    fs = fsspec.filesystem("memory")
    for n in names:
        fs.pipe(f"/bucket/crawl/{n}", warc(n).read_bytes())
    fs.pipe("/bucket/crawl/README.txt", b"not an archive")
    try:
        listed = expand_inputs(["memory://bucket/crawl"])  # a prefix: web-archive names only
        assert listed == [fs.unstrip_protocol(f"/bucket/crawl/{n}") for n in sorted(names)]
        assert expand_inputs(["memory://bucket/crawl/*.warc.gz"]) == listed
        with pytest.raises(InputError, match="nothing matches"):
            expand_inputs(["memory://bucket/none/*.warc.gz"])
        with pytest.raises(InputError, match="outputs must be on a filesystem"):
            curate(listed, "memory://bucket/out")

        cfg = load_config(overrides={"workers": 1, "near_dedup.enabled": False})
        remote = curate(["memory://bucket/crawl/*.warc.gz"], tmp_path / "remote", cfg)
        local = curate([str(warc(n)) for n in names], tmp_path / "local", cfg)
    finally:
        fs.rm("/bucket", recursive=True)
    assert [i["path"] for i in remote["inputs"]] == listed
    assert [i["sha256"] for i in remote["inputs"]] == [i["sha256"] for i in local["inputs"]]
    assert remote["counts"] == local["counts"] and remote["counts"]["kept"] >= 1
    for sub in ("provenance", "documents"):
        a = pq.read_table(tmp_path / "remote" / sub).drop(["source_file"])
        b = pq.read_table(tmp_path / "local" / sub).drop(["source_file"])
        assert a.drop([c for c in a.column_names if c == "run_id"]).equals(
            b.drop([c for c in b.column_names if c == "run_id"]))
    prov = pq.read_table(tmp_path / "remote" / "provenance")
    assert set(prov.column("source_file").to_pylist()) == set(listed)
