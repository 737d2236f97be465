"""Probes and features: linear and attentive probes learn separable synthetic sets; features round-trip."""

import pytest
import torch

from arvideo_hf import ARVideoForVideoClassification, ARVideoModel
from arvideo_hf.training.arguments import parse_feature_args, parse_probe_args
from arvideo_hf.training.features import (
    build_feature_dataset,
    extract_features,
    load_features,
    run_feature_extraction,
    save_features,
)
from arvideo_hf.training.probes import (
    AttentiveProbe,
    LinearProbe,
    evaluate_probe,
    parse_layers,
    run_probe,
    train_probe,
)

from .conftest import SMALL_ENCODER, tiny_config


@pytest.fixture(autouse=True)
def _one_thread():
    """Thousands of tiny steps: one intra-op thread is several times faster than two on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def gaussian_classes(num, dim=16, classes=4, seed=0, offset=50.0):
    """Separable clusters far from the origin with very different scales per dimension (standardization matters)."""
    generator = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, dim, generator=torch.Generator().manual_seed(123)) * 3
    labels = torch.arange(num) % classes
    features = centers[labels] + 0.5 * torch.randn(num, dim, generator=generator)
    return features * torch.logspace(-2, 2, dim) + offset, labels


def needle_tokens(num, tokens=12, dim=16, classes=4, seed=0):
    """Token sets where only one token, at a random position, carries the class; the rest is shared noise."""
    generator = torch.Generator().manual_seed(seed)
    codes = torch.randn(classes, dim, generator=torch.Generator().manual_seed(7)) * 2
    labels = torch.arange(num) % classes
    features = torch.randn(num, tokens, dim, generator=generator)
    features[:, :, 0] = -3.0  # background tokens are marked
    position = torch.randint(0, tokens, (num,), generator=generator)
    features[torch.arange(num), position] = codes[labels]
    features[torch.arange(num), position, 0] = 3.0
    return features, labels


def test_linear_probe_learns_a_separable_set_without_batchnorm():
    train_x, train_y = gaussian_classes(200, seed=0)
    test_x, test_y = gaussian_classes(100, seed=1)
    torch.manual_seed(0)
    probe = LinearProbe(16, 4)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in probe.modules())
    chance = evaluate_probe(probe, test_x, test_y)["top1"]
    history = train_probe(probe, train_x, train_y, epochs=30, batch_size=32, lr=1e-2, progress=False)
    assert history[-1] < history[0] / 5
    assert evaluate_probe(probe, test_x, test_y)["top1"] >= 95.0 > chance + 30
    # the standardization is fixed: a single test sample gets the same logits alone or in a batch
    assert torch.allclose(probe(test_x[:1]), probe(test_x[:8])[:1], atol=1e-5)


def test_attentive_probe_finds_the_informative_token():
    train_x, train_y = needle_tokens(160, seed=0)
    test_x, test_y = needle_tokens(128, seed=1)
    torch.manual_seed(0)
    probe = AttentiveProbe(16, 4, num_heads=2)
    train_probe(probe, train_x, train_y, epochs=25, batch_size=32, lr=3e-3, weight_decay=0.0, progress=False)
    assert evaluate_probe(probe, test_x, test_y)["top1"] >= 90.0
    _, weights = probe.pool(test_x[:16])
    assert weights.shape == (16, 12) and torch.allclose(weights.sum(-1), torch.ones(16), atol=1e-5)
    # the query attends mostly to the needle
    needles = test_x[:16, :, 0].argmax(1)
    assert (weights.argmax(1) == needles).float().mean() >= 0.8


def test_features_are_mean_pooled_tokens_and_layers_and_round_trip(tmp_path, small_demo_root, small_encoder_dir):
    encoder = ARVideoModel.from_pretrained(small_encoder_dir)
    dataset = build_feature_dataset(encoder.config, str(small_demo_root / "test.txt"), data_root=str(small_demo_root),
                                    sampling_rate=2)
    tokens = extract_features(encoder, dataset, pooling="tokens", batch_size=4, progress=False)
    mean = extract_features(encoder, dataset, pooling="mean", layers=[-1, 0], batch_size=4, progress=False)
    assert tokens["features"].shape == (6, 256, 32) and mean["features"].shape == (6, 2, 32)
    assert torch.allclose(mean["features"][:, 0], tokens["features"].mean(1), atol=1e-5)
    assert (tokens["labels"].tolist() == [r.label for r in dataset.records]
            and tokens["index"].tolist() == list(range(6)))
    direct = encoder(pixel_values=dataset[2]["pixel_values"][None]).last_hidden_state.mean(1)
    assert torch.allclose(mean["features"][2, 0], direct[0], atol=1e-5)
    # a classifier's encoder gives the same features
    classifier = ARVideoForVideoClassification(tiny_config(**SMALL_ENCODER, num_labels=6))
    classifier.arvideo.load_state_dict(encoder.state_dict())
    again = extract_features(classifier, dataset, batch_size=3, progress=False)
    assert torch.allclose(again["features"], mean["features"][:, 0], atol=1e-5)

    path = save_features(tmp_path / "f.safetensors", tokens, {"pooling": "tokens", "paths": ["a"]})
    loaded, metadata = load_features(path)
    assert torch.equal(loaded["features"], tokens["features"]) and metadata == {"pooling": "tokens", "paths": ["a"]}


def test_probe_and_feature_scripts_run_on_the_demo_splits(tmp_path, small_demo_root, small_encoder_dir):
    output = run_feature_extraction(parse_feature_args([
        "--model_name_or_path", str(small_encoder_dir), "--demo_root", str(small_demo_root), "--demo_split", "test",
        "--output", str(tmp_path / "test.safetensors"), "--num_workers", "0", "--device", "cpu",
    ]))
    tensors, metadata = load_features(output)
    assert tensors["features"].shape == (6, 32) and len(metadata["paths"]) == 6
    results = run_probe(parse_probe_args([
        "--model_name_or_path", str(small_encoder_dir), "--demo_root", str(small_demo_root), "--probe", "attentive",
        "--num_heads", "2", "--epochs", "3", "--output_dir", str(tmp_path / "probe"), "--device", "cpu",
    ]))
    assert results["num_train"] == 12 and results["num_test"] == 6 and 0.0 <= results["top1"] <= 100.0
    assert (tmp_path / "probe" / "attentive_probe.safetensors").is_file()
    loaded, _ = load_features(tmp_path / "probe" / "train_features.safetensors")
    assert loaded["features"].shape == (12, 256, 32)
    with pytest.raises(ValueError, match="token features"):
        run_probe(parse_probe_args(["--probe", "attentive", "--train_features", str(output), "--test_features",
                                    str(output), "--output_dir", str(tmp_path / "x")]))


def test_layer_all_probes_every_hidden_state_and_plots_them(tmp_path, small_demo_root, small_encoder_dir):
    """`--layer all`: one probe per hidden state (0 = embeddings ... last), each on its own layer's features."""
    results = run_probe(parse_probe_args([
        "--model_name_or_path", str(small_encoder_dir), "--demo_root", str(small_demo_root), "--probe", "linear",
        "--layer", "all", "--epochs", "3", "--output_dir", str(tmp_path / "probe"), "--device", "cpu",
    ]))
    assert [row["layer"] for row in results["per_layer"]] == [0, 1, 2]  # the small encoder has 2 blocks
    assert results["top1"] == results["per_layer"][-1]["top1"] and results["layer"] == 2
    loaded, metadata = load_features(tmp_path / "probe" / "train_features.safetensors")
    assert loaded["features"].shape == (12, 3, 32) and metadata["layers"] == [0, 1, 2]
    encoder = ARVideoModel.from_pretrained(small_encoder_dir)
    dataset = build_feature_dataset(encoder.config, None, demo_root=str(small_demo_root), demo_split="train")
    embeddings = extract_features(encoder, dataset, pooling="mean", layers=[0], progress=False)["features"][:, 0]
    assert torch.allclose(loaded["features"][:, 0], embeddings, atol=1e-5)  # layer 0 is the embedding output
    assert not torch.allclose(loaded["features"][:, 0], loaded["features"][:, 2])
    for layer in (0, 1, 2):
        assert (tmp_path / "probe" / f"linear_probe_layer{layer}.safetensors").is_file()
    assert (tmp_path / "probe" / "linear_per_layer.png").stat().st_size > 1000
    # the saved multi-layer features are probed per layer too, or on one of their layers
    features = {"--train_features": str(tmp_path / "probe" / "train_features.safetensors"),
                "--test_features": str(tmp_path / "probe" / "test_features.safetensors")}
    argv = [item for pair in features.items() for item in pair] + ["--epochs", "3", "--output_dir", str(tmp_path / "x")]
    again = run_probe(parse_probe_args(argv + ["--layer", "all"]))
    assert [row["top1"] for row in again["per_layer"]] == [row["top1"] for row in results["per_layer"]]
    assert run_probe(parse_probe_args(argv + ["--layer", "1"]))["top1"] == results["per_layer"][1]["top1"]
    with pytest.raises(ValueError, match="not in the features file"):
        run_probe(parse_probe_args(argv + ["--layer", "5"]))
    with pytest.raises(ValueError, match="hidden states 0..2"):
        parse_layers("3", 2)
    assert parse_layers("-1", 2) == [2] and parse_layers("0,2", 2) == [0, 2] and parse_layers("all", 3) == [0, 1, 2, 3]


def test_single_layer_features_refuse_layer_all(tmp_path, small_demo_root, small_encoder_dir):
    output = run_feature_extraction(parse_feature_args([
        "--model_name_or_path", str(small_encoder_dir), "--demo_root", str(small_demo_root), "--demo_split", "test",
        "--output", str(tmp_path / "test.safetensors"), "--num_workers", "0", "--device", "cpu",
    ]))
    with pytest.raises(ValueError, match="hold one layer"):
        run_probe(parse_probe_args(["--train_features", str(output), "--test_features", str(output), "--layer", "all",
                                    "--output_dir", str(tmp_path / "x")]))
