"""Figures (arvideo_hf.viz, examples/visualize.py): right pixels, right ranks, right logs, images of the right size."""

import importlib.util
import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from arvideo_hf import ARVideoForPretraining, viz  # `make test` installs viz's dependencies: a failed import fails
from arvideo_hf.models.clustering import ClusterGeometry, make_cluster_order
from arvideo_hf.models.modeling_arvideo import unnormalized_tubelets
from arvideo_hf.viz import figures

from .conftest import clip, tiny_config


ROOT = Path(__file__).resolve().parents[1]


def _image(path: Path) -> np.ndarray:
    """The image as RGB, after checking it is a real picture and not a blank canvas."""
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20, "the image is (nearly) blank"
    return pixels


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ARVideoForPretraining(tiny_config(attn_implementation="eager")).eval()


def _write_video(path: Path, frames: np.ndarray, fps: int = 10) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.height, stream.width, stream.pix_fmt = frames.shape[1], frames.shape[2], "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


# ------------------------------------------------------------------------------------------------ pixel targets
@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_denormalize_targets_inverts_pixel_targets(model, scale):
    pixel_values = clip(model.config, batch=2, seed=1) * scale
    targets = model.pixel_targets(pixel_values)  # (B, N, t*p*p*C), norm_pix_loss
    pixels = unnormalized_tubelets(pixel_values, model.config)
    restored = viz.denormalize_targets(targets, pixels)
    assert restored.shape == targets.shape
    torch.testing.assert_close(restored, pixels.flatten(2), atol=2e-5, rtol=0)
    # The check is sharp enough to catch the usual slip (biased std): that one is off by far more than the tolerance.
    biased = targets.view_as(pixels) * (pixels.var(dim=-2, unbiased=False, keepdim=True).sqrt() + 1e-6)
    assert (biased + pixels.mean(dim=-2, keepdim=True) - pixels).abs().max() > 1e-3


@pytest.mark.parametrize("norm_pix_loss", [True, False])
@pytest.mark.parametrize("target,decay", [("pixels", 0), ("frame_difference", 0), ("pixels_and_frame_difference", 0),
                                          ("pixels_and_frame_difference", 10)])
def test_logits_to_pixels_puts_every_prediction_back_in_place(norm_pix_loss, target, decay):
    """Targets fed back as predictions rebuild the clip, whatever the target: a frame difference is added to the
    frame before, the combined target shows its pixel channels, or its frame differences where the pixel term decays
    (here at the end of its decay, where the pixel channels are 0)."""
    torch.manual_seed(0)
    config = tiny_config(norm_pix_loss=norm_pix_loss, pretraining_target=target, pixel_target_scale=0.25,
                         pixel_target_decay_steps=decay)
    model = ARVideoForPretraining(config).eval()
    pixel_values = clip(config, batch=2, seed=2)
    geometry = config.geometry
    order = make_cluster_order(geometry, "random", 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        outputs = model(pixel_values, cluster_order=order, training_step=decay)
    # Feeding the targets as predictions must rebuild the clip exactly where something is predicted.
    rebuilt = viz.logits_to_pixels(outputs.targets, outputs.target_index, pixel_values, config, fill=-7.0)
    mean = torch.tensor(config.image_mean)[:, None, None]
    std = torch.tensor(config.image_std)[:, None, None]
    truth = pixel_values * std + mean
    predicted = torch.zeros(2, geometry.num_tokens, dtype=torch.bool)
    predicted.scatter_(1, outputs.target_index, True)
    t, p = config.tubelet_size, config.patch_size
    where = torch.stack([figures._token_map(row, geometry, t, p) for row in predicted])[:, :, None].expand_as(truth)
    assert predicted.sum(1).tolist() == [geometry.num_queries] * 2
    torch.testing.assert_close(rebuilt[where], truth[where], atol=2e-5, rtol=0)
    assert (rebuilt[~where] == -7.0).all()


# ------------------------------------------------------------------------------------------------------ ranks
@pytest.mark.parametrize("rank", [1, 3, 7])
def test_numerical_rank_matches_matrix_rank_on_low_rank_matrices(rank):
    generator = torch.Generator().manual_seed(rank)
    matrices = torch.randn(4, 24, rank, generator=generator) @ torch.randn(4, rank, 24, generator=generator)
    for rtol in (1e-2, 1e-6):
        ours = viz.numerical_rank(matrices, rtol=rtol)
        assert ours.tolist() == [rank] * 4
        assert ours.tolist() == torch.linalg.matrix_rank(matrices.double(), rtol=rtol).tolist()


def test_numerical_rank_applies_the_stated_tolerance():
    basis, _ = torch.linalg.qr(torch.randn(10, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    singular = torch.tensor([1.0, 0.5, 0.05, 0.02, 0.005, 1e-4, 0, 0, 0, 0], dtype=torch.float64)
    matrix = basis @ torch.diag(singular) @ basis.T
    for rtol, expected in ((0.1, 2), (0.01, 4), (1e-3, 5), (1e-6, 6)):
        assert int(viz.numerical_rank(matrix, rtol)) == expected == int(torch.linalg.matrix_rank(matrix, rtol=rtol))


def _block_attention(tokens: int, blocks: int) -> torch.Tensor:
    """Each query attends uniformly to the tokens of its own block: a row-stochastic matrix of rank `blocks`."""
    block = torch.arange(tokens) * blocks // tokens
    same = (block[:, None] == block[None, :]).double()
    return same / same.sum(-1, keepdim=True)


def test_layer_attention_ranks_averages_matrices_or_ranks():
    tokens = 12
    halves, thirds = _block_attention(tokens, 2), _block_attention(tokens, 3)
    layer = torch.stack([halves, thirds])[None].expand(2, 2, tokens, tokens)  # 2 clips, 2 heads of rank 2 and 3
    identity = torch.eye(tokens).expand(2, 2, tokens, tokens)
    # Mean matrix: the rows fall in 4 groups (half x third), so rank 4; mean of per-head ranks: (2 + 3) / 2.
    assert viz.layer_attention_ranks([layer, identity], average="matrix") == [4.0, float(tokens)]
    assert viz.layer_attention_ranks([layer, identity], average="rank") == [2.5, float(tokens)]
    with pytest.raises(ValueError, match="average"):
        viz.layer_attention_ranks([layer], average="median")


def test_attention_ranks_of_arvideo_and_videomae_objects_and_folders(model, tmp_path):
    from transformers import VideoMAEConfig, VideoMAEModel

    config = model.config
    clips = [clip(config, batch=2, seed=3)]
    rtol = 1e-6  # random-init attention is nearly uniform; a tight tolerance keeps the ranks informative
    ranks = viz.attention_ranks(model, clips, rtol=rtol)
    # Reference: the encoder over all N tokens (no gather, no mask), eager weights averaged over heads and clips.
    with torch.no_grad():
        attentions = model.arvideo(clips[0], output_attentions=True).attentions
    assert attentions[0].shape[-1] == config.geometry.num_tokens
    assert ranks == [float(viz.numerical_rank(a.double().mean(dim=(0, 1)), rtol)) for a in attentions]
    assert len(ranks) == config.num_hidden_layers and all(1 <= r <= config.geometry.num_tokens for r in ranks)
    assert ranks != [1.0] * len(ranks)

    torch.manual_seed(0)
    videomae = VideoMAEModel(VideoMAEConfig(
        image_size=64, patch_size=8, num_frames=8, tubelet_size=2, hidden_size=64, num_hidden_layers=3,
        num_attention_heads=2, intermediate_size=128,
    ))
    assert videomae.config._attn_implementation != "eager"
    videomae_ranks = viz.attention_ranks(videomae, clips, rtol=rtol)
    assert len(videomae_ranks) == 3
    assert videomae.config._attn_implementation != "eager", "the caller's attention implementation is restored"

    videomae.save_pretrained(tmp_path / "videomae")
    model.save_pretrained(tmp_path / "arvideo")
    assert viz.attention_ranks(str(tmp_path / "videomae"), clips, rtol=rtol) == videomae_ranks
    assert type(viz.encoder_of(tmp_path / "arvideo")).__name__ == "ARVideoModel"
    assert viz.attention_ranks(tmp_path / "arvideo", clips, rtol=rtol) == ranks

    path = viz.plot_attention_ranks({"ARVideo": ranks, "VideoMAE": videomae_ranks}, tmp_path / "rank.png",
                                    rtol=rtol, num_tokens=256, figsize=(5, 3), dpi=60)
    assert _image(path).shape == (180, 300, 3)


# ------------------------------------------------------------------------------------------------ predictions
def test_token_steps_follow_the_fixed_orders():
    geometry = ClusterGeometry((4, 4, 6), (2, 2, 3), 0.5)
    (bt, bh, bw) = geometry.blocks
    it, ih, iw = (torch.div(idx, k, rounding_mode="floor") for idx, k in zip(
        torch.meshgrid(*[torch.arange(n) for n in geometry.grid], indexing="ij"), geometry.cluster_size))
    spatial = viz.token_steps(geometry, make_cluster_order(geometry, "spatial_first", 1)[0]).reshape(geometry.grid)
    temporal = viz.token_steps(geometry, make_cluster_order(geometry, "temporal_first", 1)[0]).reshape(geometry.grid)
    assert torch.equal(spatial, (it * bh + ih) * bw + iw)
    assert torch.equal(temporal, (ih * bw + iw) * bt + it)


def test_predict_next_clusters_and_its_figures(model, tmp_path):
    config, geometry = model.config, model.config.geometry
    result = viz.predict_next_clusters(model, viz.synthetic_clip(config, seed=0), order="temporal_first", seed=0)
    t, p = config.tubelet_size, config.patch_size
    frames, size = config.num_frames, config.image_size
    assert result.target.shape == result.prediction.shape == result.inputs.shape == (frames, size, size, 3)
    assert int(result.visible.sum()) == geometry.num_inputs
    assert torch.equal(result.cluster_order, make_cluster_order(geometry, "temporal_first", 1)[0])
    assert not result.visible[result.step == geometry.num_clusters - 1].any(), "the last cluster is never an input"
    hidden = figures._token_map(~result.visible, geometry, t, p)
    assert (result.inputs[hidden] == viz.GREY).all()
    assert torch.equal(result.inputs[~hidden], result.target[~hidden])
    step0 = figures._token_map(result.step == 0, geometry, t, p)
    assert (result.prediction[step0] == viz.GREY).all() and not (result.prediction[~step0] == viz.GREY).all()
    assert 0.0 <= float(result.target.min()) and float(result.target.max()) <= 1.0

    grid = viz.plot_prediction_grid(result, tmp_path / "grid.png", figsize=(6.0, 5.0), dpi=50)
    assert _image(grid).shape == (250, 300, 3)
    gif = viz.animate_prediction_order(result, tmp_path / "order.gif", dpi=40)
    with Image.open(gif) as animation:
        assert animation.n_frames == geometry.num_clusters
        steps = []
        for k in range(geometry.num_clusters):
            animation.seek(k)
            steps.append(np.asarray(animation.convert("RGB")).astype(int))
    assert steps[-1].shape[0] > 50 and steps[-1].std() > 10
    assert all(np.abs(a - b).sum() > 0 for a, b in zip(steps, steps[1:])), "every step fills in another cluster"


def test_plot_prediction_orders_scales_with_dpi(tmp_path):
    geometry = tiny_config().geometry  # the ViT-B default is drawn by the script test and for the README
    small = _image(viz.plot_prediction_orders(tmp_path / "a.png", geometry, dpi=40))
    large = _image(viz.plot_prediction_orders(tmp_path / "b.png", geometry, dpi=80))
    assert large.shape[:2] == (2 * small.shape[0], 2 * small.shape[1])
    one = _image(viz.plot_prediction_orders(tmp_path / "c.png", geometry, orders=["random"], dpi=40))
    assert one.shape[1] == small.shape[1] and one.shape[0] < small.shape[0] / 2, "one row instead of three"


# ------------------------------------------------------------------------------------------------- clips
def test_synthetic_clip_moves_and_is_normalized():
    config = tiny_config()
    synthetic = viz.synthetic_clip(config, seed=0)
    assert synthetic.shape == (1, 8, 3, 64, 64)
    pixels = unnormalized_tubelets(synthetic, config)
    assert 0.0 <= float(pixels.min()) and float(pixels.max()) <= 1.0 + 1e-5
    assert (synthetic[0, 0] - synthetic[0, -1]).abs().mean() > 0.1


def test_load_video_clip_and_lists(tmp_path):
    config = tiny_config()
    frames = np.zeros((20, 48, 80, 3), dtype=np.uint8)
    frames[..., 0] = np.linspace(0, 250, 20, dtype=np.uint8)[:, None, None]  # red ramps over time
    frames[..., 2] = 128
    _write_video(tmp_path / "ramp.mp4", frames)
    loaded = viz.load_video_clip(tmp_path / "ramp.mp4", config)
    assert loaded.shape == (1, 8, 3, 64, 64)
    mean = torch.tensor(config.image_mean)[:, None, None]
    std = torch.tensor(config.image_std)[:, None, None]
    pixels = (loaded[0] * std + mean).mean(dim=(2, 3))  # (T, C)
    expected_red = np.linspace(0, 250, 20)[np.linspace(0, 19, 8).round().astype(int)] / 255
    assert np.abs(pixels[:, 0].numpy() - expected_red).max() < 0.06
    assert np.abs(pixels[:, 2].numpy() - 128 / 255).max() < 0.06
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "list.txt").write_text("../ramp.mp4 3\n\n# comment\nother video.mp4\n")
    assert viz.read_video_list([tmp_path / "sub" / "list.txt", tmp_path / "x.mp4"]) == [
        tmp_path / "sub" / "../ramp.mp4", tmp_path / "sub" / "other video.mp4", tmp_path / "x.mp4"]


# ------------------------------------------------------------------------------------------------ training logs
def _write_logs(root: Path) -> dict[str, Path]:
    jsonl = root / "pretrain"
    jsonl.mkdir()
    with open(jsonl / "metrics.jsonl", "w") as f:
        for step in range(0, 50, 10):
            f.write(json.dumps({"step": step, "epoch": step / 50, "loss": 1 / (step + 1), "lr": step * 1e-5,
                                "clips_per_s": 4.0, "grad_norm": 0.5, "note": "text is skipped"}) + "\n")
    trainer = root / "finetune"
    (trainer / "checkpoint-20").mkdir(parents=True)
    (trainer / "checkpoint-40").mkdir()
    history = [{"step": s, "epoch": s / 40, "loss": 2.0 - s / 40, "learning_rate": 1e-3, "grad_norm": 1.0}
               for s in (10, 20, 30, 40)]
    history += [{"step": 40, "epoch": 1.0, "eval_loss": 1.5, "eval_accuracy": 0.5},
                {"step": 40, "train_runtime": 12.0, "train_loss": 1.2, "total_flos": 3}]
    (trainer / "checkpoint-20" / "trainer_state.json").write_text(json.dumps({"log_history": history[:2]}))
    (trainer / "checkpoint-40" / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    board = root / "board"
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(board / "runs" / "a"))
    for step in range(5):
        writer.add_scalar("train/loss", 3.0 - step, step)
        writer.add_scalar("train/learning_rate", 0.1 * step, step)
    writer.close()
    return {"jsonl": jsonl, "trainer": trainer, "board": board}


def test_training_curves_drop_a_torn_last_line(tmp_path, caplog):
    """A run killed while appending to metrics.jsonl leaves half a line: the figures read the complete records (as
    resuming does) and say what they dropped, instead of failing on the log of the run the user wants to look at."""
    runs = _write_logs(tmp_path)
    with open(runs["jsonl"] / "metrics.jsonl", "a") as f:
        f.write('{"step": 50, "loss": 0.0')
    with caplog.at_level("WARNING"):
        curves, _ = viz.read_training_logs(runs["jsonl"])
    np.testing.assert_allclose(curves["loss"][0], [0, 10, 20, 30, 40])
    assert "dropped line 6" in caplog.text


def test_read_training_logs_from_every_tracker(tmp_path):
    runs = _write_logs(tmp_path)
    curves, source = viz.read_training_logs(runs["jsonl"])
    assert source == "metrics.jsonl" and set(curves) == {"loss", "lr", "clips_per_s", "grad_norm"}
    np.testing.assert_allclose(curves["loss"][0], [0, 10, 20, 30, 40])
    np.testing.assert_allclose(curves["lr"][1], [0, 1e-4, 2e-4, 3e-4, 4e-4])

    curves, source = viz.read_training_logs(runs["trainer"])  # the latest checkpoint's full history
    assert source == "trainer_state.json"
    assert set(curves) == {"loss", "lr", "grad_norm", "eval_loss", "eval_accuracy"}
    np.testing.assert_allclose(curves["loss"][1], [1.75, 1.5, 1.25, 1.0])

    curves, source = viz.read_training_logs(runs["board"])
    assert source == "tensorboard" and set(curves) == {"loss", "lr"}
    np.testing.assert_allclose(curves["loss"][0], range(5))
    np.testing.assert_allclose(curves["loss"][1], [3, 2, 1, 0, -1])
    with pytest.raises(FileNotFoundError):
        viz.read_training_logs(tmp_path / "nowhere")

    figure = viz.plot_training_curves(
        {name: viz.read_training_logs(path)[0] for name, path in runs.items()},
        tmp_path / "curves.png", columns=3, panel_size=(3.0, 2.0), dpi=50,
    )
    assert _image(figure).shape == (2 * 100, 3 * 150, 3)  # 6 metrics: 2 rows of 3 panels


# ------------------------------------------------------------------------------------------------ the command
def test_visualize_script_makes_every_figure(model, tmp_path):
    from transformers import VideoMAEConfig, VideoMAEModel

    spec = importlib.util.spec_from_file_location("visualize_example", ROOT / "examples" / "visualize.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    model.save_pretrained(tmp_path / "checkpoint")
    VideoMAEModel(VideoMAEConfig(image_size=64, patch_size=8, num_frames=8, hidden_size=64, num_hidden_layers=2,
                                 num_attention_heads=2, intermediate_size=128)).save_pretrained(tmp_path / "videomae")
    frames = np.random.default_rng(0).integers(0, 255, (12, 72, 72, 3), dtype=np.uint8)
    _write_video(tmp_path / "noise.mp4", frames)
    runs = _write_logs(tmp_path)
    out = tmp_path / "out"
    written = script.main([
        "--checkpoint", str(tmp_path / "checkpoint"), "--videomae", str(tmp_path / "videomae"),
        "--videos", str(tmp_path / "noise.mp4"), "--logs", str(runs["jsonl"]), str(runs["trainer"]), "--out", str(out),
    ])
    names = {path.name for path in written}
    assert names == {"orders.png", "orders_model.png", "predictions_noise.png", "predictions_noise.gif",
                     "attention_rank.png", "training_curves.png"}
    for path in written:
        assert path.parent == out and path.stat().st_size > 1000
    orders = _image(out / "orders.png")  # ViT-B by default: 8 tubelet panels wide, 3 orders high
    assert orders.shape[1] > 2 * orders.shape[0]

    # Without videos the command still works, on the synthetic clip.
    written = script.main(["--preset", "tiny", "--figures", "predictions", "--no-gif", "--out", str(out / "b")])
    assert [path.name for path in written] == ["predictions_synthetic.png"]


@pytest.mark.parametrize("name", ["orders.png", "predictions_synthetic.png"])
def test_readme_images_are_committed_and_small(name):
    path = ROOT / "docs" / "images" / name
    assert path.is_file(), f"regenerate {path} with the command in the README"
    assert path.stat().st_size < 300_000
    _image(path)


def test_plot_layer_probes_draws_one_panel_per_probe_kind(tmp_path):
    results = {"ARVideo": {"attentive": [48.8, 13.0, 13.0, 9.4], "attentive_train": [98.5, 47.2, 40.0, 26.0],
                           "linear": [12.0, 11.0, 11.0, 14.0]},
               "random init": {"attentive": [40.0, 46.8, 44.0, 43.0], "linear": [11.0, 12.0, 13.0, 12.0]}}
    path = viz.plot_layer_probes(results, tmp_path / "layers.png", chance=10.0, title="hard set")
    image = np.asarray(Image.open(path))
    assert image.shape[1] > image.shape[0] > 200  # two panels side by side
    only_linear = viz.plot_layer_probes({"a": {"linear": [1.0, 2.0]}}, tmp_path / "linear.png", layers=[0, 3])
    assert np.asarray(Image.open(only_linear)).shape[1] < image.shape[1]  # one panel
    with pytest.raises(ValueError, match="no 'attentive' or 'linear'"):
        viz.plot_layer_probes({"a": {"finetune": [1.0]}}, tmp_path / "none.png")


def test_plot_layer_probes_keeps_every_encoder_past_ten(tmp_path, monkeypatch):
    """A search table has more than ten recipes: each gets its own line and legend entry (none silently dropped by
    running out of colors), and one probed layer still sits on a whole-layer axis."""
    figures = []
    monkeypatch.setattr(viz.figures, "_save", lambda figure, path: figures.append(figure) or Path(path))
    results = {f"recipe {i}": {"attentive": [10.0 + i]} for i in range(13)}
    viz.plot_layer_probes(results, tmp_path / "many.png", chance=8.3, layers=[3])
    (legend,) = figures[0].legends
    assert [text.get_text() for text in legend.get_texts()] == [*results, "chance"]
    styles = {(line.get_color(), line.get_marker()) for line in figures[0].axes[0].get_lines()[:13]}
    assert len(styles) == 13
    assert list(figures[0].axes[0].get_xticks()) == [3]
