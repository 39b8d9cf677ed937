"""Pretrained text encoders from a local folder: checking the folder, its tokenizer, its
weights, and sentence embeddings.

A folder is in Hugging Face format (``config.json``, tokenizer files, weights) or a
sentence-transformers folder (the same plus ``modules.json`` and ``1_Pooling/config.json``).
Everything is read from disk only: offline mode is switched on before ``transformers`` is
imported and every ``from_pretrained`` passes ``local_files_only=True``, so a missing file
is an error, never a download. A folder that is missing, incomplete, or the optional
``encoders`` extra not being installed each end in one :class:`~tuirecipe.errors.ConfigError`
line naming the key (``data.encoder`` or ``model.encoder``).

Torch-free at import (the console reads folders and fingerprints without loading torch):
``transformers`` and ``torch`` are imported inside the functions that need them. The
embedding itself can run in a child process (:func:`embed_in_subprocess`,
``python -m tuirecipe.data.encoders``), so a caller that must stay torch-free (the
console's Data pane) still gets embeddings, with progress, and on disk by their key.

Pooling follows the folder: a sentence-transformers folder names its pooling (mean, CLS,
max, mean/sqrt(length)) and whether it L2-normalises; a plain Hugging Face folder gets mean
pooling over the attention mask.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from tuirecipe.errors import ConfigError

EXTRA_HINT = "pip install 'tuirecipe[encoders]'"
# Any one of these holds the weights (sharded checkpoints name their shards in the index).
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# Any one of these lets a tokenizer be built: a fast tokenizer's JSON, WordPiece's
# vocab.txt, BPE's vocab.json (+ merges.txt), or a SentencePiece model.
TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
)
POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len")
_ST_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
    "pooling_mode_mean_tokens": "mean",
}
Progress = Callable[[int, int], None]  # (texts done, texts in all)


@dataclass(frozen=True)
class EncoderFolder:
    """A checked encoder folder and what the code needs to know about it."""

    path: Path
    weights: str  # the weights file found (one of WEIGHT_FILES)
    pooling: str  # one of POOLING_MODES
    normalize: bool  # a sentence-transformers Normalize module follows the pooling
    hidden_size: int
    max_positions: int  # the longest input the position embeddings allow (0 if unknown)
    fingerprint: str  # sha256 over the config, tokenizer and weights files

    @property
    def name(self) -> str:
        return self.path.name

    def key(self) -> dict[str, str]:
        """What identifies this encoder in a cache key: its path and its files' hash."""
        return {"path": str(self.path), "fingerprint": self.fingerprint}


def offline_mode() -> None:
    """Tell the Hugging Face libraries never to reach the network (read at their import)."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[name] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def extra_installed() -> bool:
    """Whether ``transformers`` (the ``encoders`` extra) can be imported."""
    return importlib.util.find_spec("transformers") is not None


def require_extra(key: str, source: str | None = None) -> None:
    if not extra_installed():
        raise ConfigError(
            f"an encoder needs the 'encoders' extra (transformers), which is not installed: "
            f"{EXTRA_HINT}",
            source=source,
            key=key,
        )


def inspect_folder(
    path: str | Path, *, key: str = "model.encoder", source: str | None = None
) -> EncoderFolder:
    """Check that ``path`` is a complete encoder folder; one ConfigError line if not."""
    folder = Path(path).expanduser()

    def fail(message: str) -> ConfigError:
        return ConfigError(f"encoder folder '{folder}' {message}", source=source, key=key)

    if not str(path).strip():
        raise ConfigError("is empty: give the folder of a local encoder", source=source, key=key)
    if not folder.exists():
        raise fail("does not exist")
    if not folder.is_dir():
        raise fail("is not a folder")
    folder = folder.resolve()
    config = _read_json(folder / "config.json")
    if config is None:
        raise fail("has no readable config.json (not a Hugging Face model folder)")
    weights = next((w for w in WEIGHT_FILES if (folder / w).is_file()), None)
    if weights is None:
        raise fail(f"has no weights (none of {', '.join(WEIGHT_FILES)})")
    if not any((folder / t).is_file() for t in TOKENIZER_FILES):
        raise fail(f"has no tokenizer files (none of {', '.join(TOKENIZER_FILES)})")
    pooling, normalize = _pooling(folder)
    hidden = config.get("hidden_size") or config.get("d_model") or config.get("dim") or 0
    positions = config.get("max_position_embeddings") or config.get("n_positions") or 0
    if not isinstance(hidden, int) or hidden <= 0:
        raise fail("has a config.json without a hidden size (hidden_size, d_model or dim)")
    return EncoderFolder(
        path=folder,
        weights=weights,
        pooling=pooling,
        normalize=normalize,
        hidden_size=int(hidden),
        max_positions=int(positions) if isinstance(positions, int) else 0,
        fingerprint=folder_fingerprint(folder),
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _pooling(folder: Path) -> tuple[str, bool]:
    """``(pooling mode, normalize)`` from a sentence-transformers ``modules.json``; mean
    pooling without normalisation for a plain Hugging Face folder."""
    modules = _read_json(folder / "modules.json")
    if not isinstance(modules, list):
        return "mean", False
    pooling, normalize = "mean", False
    for module in modules:
        kind = str(module.get("type", "")) if isinstance(module, dict) else ""
        if kind.endswith("Pooling"):
            table = _read_json(folder / str(module.get("path", "")) / "config.json") or {}
            chosen = [mode for flag, mode in _ST_POOLING_KEYS.items() if table.get(flag)]
            if chosen:
                pooling = chosen[0]
        elif kind.endswith("Normalize"):
            normalize = True
    return pooling, normalize


def folder_fingerprint(folder: Path) -> str:
    """sha256 over the name and contents of every file the encoder is read from (config,
    tokenizer, pooling and weights files). Cached per file size and modification time, so
    asking again costs a ``stat`` per file."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() != ".md"
    )
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(_file_hash(str(path), stat.st_size, stat.st_mtime_ns).encode())
    return digest.hexdigest()


@lru_cache(maxsize=256)
def _file_hash(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- loading (transformers) -----------------------------------------------------------------


def _transformers(key: str, source: str | None) -> Any:
    require_extra(key, source)
    offline_mode()
    import transformers

    transformers.logging.set_verbosity_error()  # its warnings are not the user's business
    transformers.logging.disable_progress_bar()  # nor its "Loading weights" bars
    return transformers


def load_tokenizer(folder: EncoderFolder, *, key: str = "model.encoder", source: str | None = None):
    """The folder's own tokenizer (fast when the folder allows), read offline."""
    transformers = _transformers(key, source)
    try:
        return transformers.AutoTokenizer.from_pretrained(str(folder.path), local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - as for the weights below
        raise ConfigError(
            f"encoder folder '{folder.path}': its tokenizer cannot be loaded ({_first_line(exc)})",
            source=source,
            key=key,
        ) from None


def load_backbone(folder: EncoderFolder, *, key: str = "model.encoder", source: str | None = None):
    """The folder's encoder network (``AutoModel``, no task head), read offline."""
    transformers = _transformers(key, source)
    try:
        return transformers.AutoModel.from_pretrained(str(folder.path), local_files_only=True)
    # Anything the library raises reading the folder (a damaged weights file raises
    # safetensors' own error class) is the folder's problem, named in one line.
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(
            f"encoder folder '{folder.path}': its weights cannot be loaded ({_first_line(exc)})",
            source=source,
            key=key,
        ) from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def pool(hidden: Any, mask: Any, mode: str) -> Any:
    """Pool token states ``hidden[B, L, D]`` over ``mask[B, L]`` (true = real token).

    A row with no real token pools to zeros (mean, sqrt) or to its first position (CLS).
    """
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        lowest = torch.finfo(hidden.dtype).min
        filled = hidden.masked_fill(~mask.unsqueeze(-1).to(torch.bool), lowest)
        return torch.where(m.sum(1) > 0, filled.amax(1), torch.zeros_like(hidden[:, 0]))
    total = (hidden * m).sum(1)
    count = m.sum(1).clamp(min=1.0)
    return total / (count.sqrt() if mode == "mean_sqrt_len" else count)


def encoder_states(backbone: Any, input_ids: Any, mask: Any) -> Any:
    """The last hidden states for ``input_ids`` under ``mask`` (bool, true = real token).

    A row with no real token attends to its first position instead of nothing (which
    would be a softmax over no keys); its pooled output ignores it anyway.
    """
    attend = mask.clone()
    attend[:, 0] |= ~mask.any(1)
    return backbone(input_ids=input_ids, attention_mask=attend.long()).last_hidden_state


def embed_texts(
    folder: EncoderFolder,
    texts: Sequence[str],
    *,
    max_len: int = 128,
    batch_size: int = 0,
    device: str = "auto",
    progress: Progress | None = None,
) -> np.ndarray:
    """Sentence embeddings ``float32[N, hidden]`` of ``texts``, pooled as the folder says.

    Texts are sorted by length so each batch pads little; batches of 256 on a GPU (when
    there is one and ``device`` is ``auto``), 32 on the CPU.
    """
    import torch

    tokenizer = load_tokenizer(folder, key="data.encoder")
    backbone = load_backbone(folder, key="data.encoder")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    batch_size = batch_size or (256 if device.startswith("cuda") else 32)
    limit = _length_limit(folder, tokenizer, max_len)
    backbone.to(device).eval()
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), folder.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            chunk = order[start : start + batch_size]
            batch = tokenizer(
                [texts[int(i)] for i in chunk],
                truncation=True,
                max_length=limit,
                padding=True,
                return_tensors="pt",
            )
            ids = batch["input_ids"].to(device)
            mask = batch["attention_mask"].to(device).bool()
            pooled = pool(encoder_states(backbone, ids, mask), mask, folder.pooling)
            if folder.normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[chunk] = pooled.float().cpu().numpy()
            if progress is not None:
                progress(min(start + batch_size, len(texts)), len(texts))
    return out


def _length_limit(folder: EncoderFolder, tokenizer: Any, max_len: int) -> int:
    limits = [max_len]
    if folder.max_positions:
        limits.append(folder.max_positions)
    model_max = getattr(tokenizer, "model_max_length", 0)
    if isinstance(model_max, int) and 0 < model_max < 1_000_000:
        limits.append(model_max)
    return min(limits)


# -- embeddings in a child process, cached on disk -----------------------------------------


def embeddings_key(folder: EncoderFolder, texts: Sequence[str], max_len: int) -> str:
    """sha256 over the encoder (path + files), the length limit and the texts in order."""
    digest = hashlib.sha256(json.dumps([folder.key(), max_len]).encode())
    for text in texts:
        encoded = text.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()


def embed_in_subprocess(
    folder: EncoderFolder,
    texts: Sequence[str],
    *,
    cache_dir: Path | None = None,
    max_len: int = 128,
    progress: Progress | None = None,
) -> np.ndarray:
    """:func:`embed_texts` in a child process (so torch and transformers never load in the
    caller), reusing ``cache_dir/emb-<key>.npy`` when the same encoder already embedded
    the same texts. The child's failure comes back as one ConfigError line."""
    require_extra("data.encoder")
    cached = None
    if cache_dir is not None:
        cached = Path(cache_dir) / f"emb-{embeddings_key(folder, texts, max_len)}.npy"
        try:
            vectors = np.load(cached)
            if vectors.shape == (len(texts), folder.hidden_size):
                if progress is not None:
                    progress(len(texts), len(texts))
                return vectors
        except (OSError, ValueError):
            pass
    with tempfile.TemporaryDirectory(prefix="tuirecipe-embed-") as tmp:
        texts_path, out_path = Path(tmp) / "texts.json", Path(tmp) / "vectors.npy"
        texts_path.write_text(json.dumps(list(texts), ensure_ascii=False), encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "tuirecipe.data.encoders",
            str(folder.path),
            str(texts_path),
            str(out_path),
            str(max_len),
        ]
        # The child imports this package as the caller did, installed or from its source.
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        with subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        ) as child:
            assert child.stdout is not None and child.stderr is not None
            for line in child.stdout:
                parts = line.split()
                if len(parts) == 3 and parts[0] == "embedded" and progress is not None:
                    progress(int(parts[1]), int(parts[2]))
            errors = child.stderr.read()
            code = child.wait()
        if code != 0:
            last = [ln for ln in errors.strip().splitlines() if ln.strip()]
            raise ConfigError(
                last[-1] if last else f"embedding texts failed (exit code {code})",
                key="data.encoder",
            )
        vectors = np.load(out_path)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".npy", delete=False) as f:
                np.save(f, vectors)
            os.replace(f.name, cached)
        except OSError:
            pass  # a read-only cache costs a recomputation next time, nothing more
    return vectors


def _child(argv: list[str]) -> int:
    """``python -m tuirecipe.data.encoders FOLDER TEXTS.json OUT.npy MAX_LEN``."""
    offline_mode()
    folder_path, texts_path, out_path, max_len = argv
    try:
        folder = inspect_folder(folder_path, key="data.encoder")
        texts = json.loads(Path(texts_path).read_text(encoding="utf-8"))

        def report(done: int, total: int) -> None:
            print(f"embedded {done} {total}", flush=True)

        vectors = embed_texts(folder, texts, max_len=int(max_len), progress=report)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    np.save(out_path, vectors)
    return 0


if __name__ == "__main__":  # pragma: no cover - run by embed_in_subprocess
    raise SystemExit(_child(sys.argv[1:]))
