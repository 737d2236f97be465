"""Finetuning: layer-decay groups, mixup/cutmix on video tensors, clip augmentation, checkpoint loading, Trainer."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from arvideo_hf import ARVideoForPretraining, ARVideoForVideoClassification, ARVideoModel
from arvideo_hf.data.finetune_transforms import (
    FinetuneTransform,
    MixupCollator,
    mix_videos,
    parse_rand_augment,
    soft_targets,
)
from arvideo_hf.training.finetune import (
    ARVideoTrainer,
    build_classifier,
    parse_finetune_args,
    prepare_finetune_output_dir,
    run_finetuning,
)
from arvideo_hf.training.optim import build_layer_decay_param_groups, layer_depth
from arvideo_hf.training.pretrain import reset_accelerate_state as fresh_accelerate_state

from .conftest import DEMO_LABELS, SMALL_ENCODER, tiny_config


# ------------------------------------------------------------------------------------------- layer-wise lr decay
def test_layer_decay_groups_cover_every_parameter_once_with_the_specified_scales():
    model = ARVideoForVideoClassification(tiny_config(num_labels=5))  # 4 layers
    groups = build_layer_decay_param_groups(model, weight_decay=0.05, layer_decay=0.5, learning_rate=1.0)
    seen = [id(p) for group in groups for p in group["params"]]
    assert len(seen) == len(set(seen)) == len(list(model.parameters()))
    num_layers = model.config.num_hidden_layers
    for group in groups:
        for name, param in zip(group["param_names"], group["params"]):
            if name.startswith("arvideo.embeddings."):
                depth = 0
            elif name.startswith("arvideo.encoder.layer."):
                depth = int(name.split(".")[3]) + 1
            else:
                assert name.startswith(("classifier.", "fc_norm.")), name
                depth = num_layers + 1
            assert group["depth"] == depth, name
            assert group["lr"] == pytest.approx(0.5 ** (num_layers + 1 - depth)), name
            no_decay = param.ndim == 1 or name.endswith(".bias")
            assert group["weight_decay"] == (0.0 if no_decay else 0.05), name
    assert groups[0]["depth"] == num_layers + 1 and groups[0]["lr"] == 1.0  # head first: Trainer logs its lr
    assert layer_depth("arvideo.encoder.layer.11.output.dense.weight", 12) == 12


def test_trainer_builds_the_layer_decay_optimizer(tmp_path):
    from transformers import TrainingArguments

    model = ARVideoForVideoClassification(tiny_config(num_labels=3))
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=2e-3, weight_decay=0.05, use_cpu=True)
    trainer = ARVideoTrainer(model=model, args=args, layer_decay=0.75)
    optimizer = trainer.create_optimizer()
    lrs = sorted({round(group["lr"], 12) for group in optimizer.param_groups})
    assert lrs == sorted(round(2e-3 * 0.75**k, 12) for k in range(6))
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))
    assert trainer.model_accepts_loss_kwargs is False


# -------------------------------------------------------------------------------------------------- mixup/cutmix
def _batch(batch=4, frames=3, size=16, num_labels=5):
    generator = torch.Generator().manual_seed(0)
    return torch.randn(batch, frames, 3, size, size, generator=generator), torch.tensor([0, 1, 2, 4])


def test_cutmix_pastes_one_box_into_every_frame_and_conserves_label_mass():
    pixels, labels = _batch()
    for seed in range(10):
        mixed, targets, info = mix_videos(
            pixels, labels, 5, mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.1, rng=np.random.default_rng(seed)
        )
        assert info["mode"] == "cutmix"
        top, bottom, left, right = info["box"]
        inside = torch.zeros(16, 16, dtype=torch.bool)
        inside[top:bottom, left:right] = True
        partner = pixels.flip(0)
        # The same box in every frame (and channel), the partner's pixels inside, ours outside.
        assert torch.equal(mixed[..., inside], partner[..., inside])
        assert torch.equal(mixed[..., ~inside], pixels[..., ~inside])
        lam = 1.0 - inside.float().mean().item()
        assert info["lam"] == pytest.approx(lam)
        expected = soft_targets(labels, 5, 0.1) * lam + soft_targets(labels.flip(0), 5, 0.1) * (1 - lam)
        assert torch.allclose(targets, expected)
        assert torch.allclose(targets.sum(1), torch.ones(4))
        assert targets.min() >= 0.1 / 5 - 1e-6  # smoothing folded into the soft targets


def test_mixup_blends_clips_and_targets_with_the_same_lambda():
    pixels, labels = _batch()
    mixed, targets, info = mix_videos(pixels, labels, 5, mixup_alpha=0.8, cutmix_alpha=0.0, label_smoothing=0.0,
                                      rng=np.random.default_rng(3))
    lam = info["lam"]
    assert info["mode"] == "mixup" and 0 < lam < 1
    assert torch.allclose(mixed, lam * pixels + (1 - lam) * pixels.flip(0))
    assert torch.allclose(targets[0, labels[0]], torch.tensor(lam)) and torch.allclose(targets.sum(1), torch.ones(4))
    # prob=0: untouched clips, label-smoothed one-hot targets
    same, smooth, info = mix_videos(pixels, labels, 5, prob=0.0, label_smoothing=0.1, rng=np.random.default_rng(0))
    assert info["mode"] == "none" and torch.equal(same, pixels)
    assert torch.allclose(smooth[torch.arange(4), labels], torch.full((4,), 0.9 + 0.02))


def test_both_modes_are_used_and_the_collator_returns_soft_labels():
    pixels, labels = _batch()
    modes = {mix_videos(pixels, labels, 5, rng=np.random.default_rng(s))[2]["mode"] for s in range(20)}
    assert modes == {"mixup", "cutmix"}
    samples = [{"pixel_values": pixels[i], "labels": labels[i]} for i in range(4)]
    batch = MixupCollator(5)(samples)
    assert batch["labels"].shape == (4, 5) and torch.allclose(batch["labels"].sum(1), torch.ones(4))
    hard = MixupCollator(5, mixup_alpha=0, cutmix_alpha=0, label_smoothing=0)(samples)
    assert torch.equal(hard["labels"], labels) and torch.equal(hard["pixel_values"], pixels)
    # the soft targets give the model's soft cross-entropy
    model = ARVideoForVideoClassification(tiny_config(num_labels=5, image_size=16, patch_size=8, num_frames=4,
                                                      cluster_size=[1, 1, 1]))
    clips = torch.randn(2, 4, 3, 16, 16)
    targets = soft_targets(torch.tensor([1, 3]), 5, 0.0)
    assert torch.allclose(model(clips, labels=targets).loss, model(clips, labels=torch.tensor([1, 3])).loss, atol=1e-6)


# ------------------------------------------------------------------------------------------- clip augmentation
def test_finetune_transform_applies_the_same_augmentation_to_every_frame():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (1, 40, 56, 3), dtype=np.uint8)
    clip = np.repeat(frame, 6, axis=0)  # six identical frames: any per-frame randomness would show
    transform = FinetuneTransform(32, rand_augment="rand-m9-n4", flip_prob=0.5, erase_prob=1.0)
    outputs = [transform(clip, np.random.default_rng(seed)) for seed in range(8)]
    for out in outputs:
        assert out.shape == (6, 3, 32, 32) and out.dtype == torch.float32
        assert torch.allclose(out, out[:1].expand_as(out), atol=1e-5)
    assert torch.equal(outputs[0], transform(clip, np.random.default_rng(0)))  # seeded: reproducible
    assert not torch.allclose(outputs[0], outputs[1])
    state = torch.random.get_rng_state()
    transform(clip, np.random.default_rng(1))
    assert torch.equal(state, torch.random.get_rng_state())  # kornia ran on a forked generator


def test_finetune_transform_without_augmentation_is_a_normalized_resize():
    transform = FinetuneTransform(16, rand_augment="none", scale=(1.0, 1.0), ratio=(1.0, 1.0), flip_prob=0.0,
                                  erase_prob=0.0, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    clip = np.full((2, 16, 16, 3), 255, dtype=np.uint8)
    assert torch.allclose(transform(clip, 0), torch.ones(2, 3, 16, 16))
    assert parse_rand_augment("rand-m7-n4") == (4, 7) and parse_rand_augment("none") is None
    with pytest.raises(ValueError, match="rand-m7-n4"):
        parse_rand_augment("m7")


def test_full_frame_crop_skips_kornia_with_the_same_result(monkeypatch):
    """The tiny preset's full-area crop of frames already at the model's size is the identity: the fast path gives
    kornia's result exactly, and kornia still crops frames of another size or scale."""
    transform = FinetuneTransform(32, rand_augment="none", scale=(1.0, 1.0), flip_prob=0.0, erase_prob=0.0)
    clip = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    fast = transform(clip, 5)
    monkeypatch.setattr(FinetuneTransform, "_crop_is_identity", lambda self, clip: False)
    assert torch.equal(fast, transform(clip, 5))  # kornia's own crop of the same clip
    monkeypatch.undo()
    calls = []
    zoom = FinetuneTransform(32, rand_augment="none", scale=(0.5, 1.0), flip_prob=0.0, erase_prob=0.0)
    for kind in (transform, zoom):
        monkeypatch.setattr(kind, "crop", lambda clip: calls.append(tuple(clip.shape)) or clip[..., :32, :32])
    transform(np.zeros((4, 40, 40, 3), dtype=np.uint8), 5)  # another size: resized by kornia
    zoom(clip, 5)  # a random scale: cropped by kornia
    assert calls == [(4, 3, 40, 40), (4, 3, 32, 32)]


# ----------------------------------------------------------------------------------------------- model loading
def test_build_classifier_from_every_kind_of_checkpoint(tmp_path, small_encoder_dir):
    id2label = {0: "a", 1: "b", 2: "c"}
    encoder = ARVideoModel.from_pretrained(small_encoder_dir)
    reference = encoder.state_dict()

    def encoder_matches(model):
        return all(torch.equal(model.arvideo.state_dict()[k], v) for k, v in reference.items())

    pretrained = build_classifier(small_encoder_dir, id2label, drop_path=0.1)
    assert encoder_matches(pretrained)
    assert pretrained.config.id2label == id2label and pretrained.config.drop_path_rate == 0.1
    assert pretrained.classifier.out_features == 3
    assert not encoder_matches(build_classifier(small_encoder_dir, id2label, init="random"))

    # a pretraining folder (encoder + decoder): the decoder is dropped, the encoder kept
    pretraining = ARVideoForPretraining(encoder.config)
    pretraining.arvideo.load_state_dict(reference)
    pretraining.save_pretrained(tmp_path / "pretrain_model")
    assert encoder_matches(build_classifier(tmp_path / "pretrain_model", id2label))

    # a classifier with another label set: fresh head, same encoder
    classifier = ARVideoForVideoClassification(tiny_config(**SMALL_ENCODER, num_labels=7))
    classifier.arvideo.load_state_dict(reference)
    classifier.save_pretrained(tmp_path / "classifier")
    assert encoder_matches(build_classifier(tmp_path / "classifier", id2label))

    # an imported VideoMAE folder
    from transformers import VideoMAEConfig, VideoMAEModel

    videomae = VideoMAEModel(VideoMAEConfig(image_size=32, patch_size=8, num_frames=4, hidden_size=32,
                                            num_hidden_layers=2, num_attention_heads=2, intermediate_size=64))
    videomae.save_pretrained(tmp_path / "videomae")
    from_videomae = build_classifier(tmp_path / "videomae", id2label)
    expected = ARVideoModel.from_videomae(str(tmp_path / "videomae")).state_dict()
    assert all(torch.equal(from_videomae.arvideo.state_dict()[k], v) for k, v in expected.items())


# ---------------------------------------------------------------------------------------------- Trainer round trip
def test_trainer_round_trip_train_save_reload_same_eval(tmp_path, small_demo_root, small_encoder_dir, monkeypatch):
    from transformers import AutoImageProcessor, AutoModelForVideoClassification, Trainer, TrainingArguments

    from arvideo_hf.data import ClassificationCollator, VideoClipDataset
    from arvideo_hf.training.finetune import read_sources
    from arvideo_hf.training.metrics import compute_metrics

    output = tmp_path / "finetuned"
    fresh_accelerate_state()  # before TrainingArguments, which captures the distributed state
    args, training_args = parse_finetune_args([
        "--model_name_or_path", str(small_encoder_dir), "--train_list", str(small_demo_root / "train.txt"),
        "--validation_list", str(small_demo_root / "test.txt"), "--data_root", str(small_demo_root),
        "--class_names", str(small_demo_root / "labels.txt"), "--sampling_rate", "2", "--flip", "False",
        "--output_dir", str(output), "--max_steps", "2", "--per_device_train_batch_size", "4",
        "--per_device_eval_batch_size", "3", "--dataloader_num_workers", "0", "--save_strategy", "no",
        "--use_cpu", "True", "--disable_tqdm", "True", "--push_to_hub", "--hub_model_id", "someone/arvideo-demo",
    ])
    pushed = []
    monkeypatch.setattr("arvideo_hf.zoo.publish.push_checkpoint_to_hub",
                        lambda folder, repo, **kw: pushed.append((folder, repo, kw)) or "https://hub/commit")
    before = ARVideoModel.from_pretrained(small_encoder_dir).state_dict()
    metrics = run_finetuning(args, training_args)
    assert np.isfinite(metrics["train_loss"]) and "eval_top1" in metrics
    assert pushed == [(str(output), "someone/arvideo-demo", {"private": False, "token": None})]
    assert metrics["hub_url"] == "https://hub/commit"
    for name in ("model.safetensors", "config.json", "preprocessor_config.json", "all_results.json",
                 "finetune_args.json"):
        assert (output / name).is_file(), name
    reloaded = AutoModelForVideoClassification.from_pretrained(output)
    assert isinstance(reloaded, ARVideoForVideoClassification)
    assert reloaded.config.id2label == dict(enumerate(DEMO_LABELS))
    assert AutoImageProcessor.from_pretrained(output).crop_size == {"height": 64, "width": 64}
    changed = [k for k, v in before.items() if not torch.equal(v, reloaded.arvideo.state_dict()[k])]
    assert changed, "two optimizer steps should change the encoder"

    # The same evaluation from the reloaded folder gives the same numbers.
    _, validation, _ = read_sources(args)
    eval_dataset = VideoClipDataset.for_evaluation(validation, reloaded.config, stride=2)
    fresh_accelerate_state()
    trainer = Trainer(model=reloaded, args=TrainingArguments(output_dir=str(tmp_path / "eval"), use_cpu=True,
                      per_device_eval_batch_size=3, report_to="none", remove_unused_columns=False),
                      eval_dataset=eval_dataset, data_collator=ClassificationCollator(),
                      compute_metrics=compute_metrics)
    again = trainer.evaluate()
    assert again["eval_top1"] == pytest.approx(metrics["eval_top1"])
    assert again["eval_loss"] == pytest.approx(metrics["eval_loss"], rel=1e-5)
    saved = json.loads((output / "all_results.json").read_text())
    assert saved["eval_top1"] == pytest.approx(metrics["eval_top1"])


def test_seed_fixes_the_fresh_weights(tmp_path, small_demo_root, small_encoder_dir):
    """A random-init finetune with the same --seed twice gives the same model; another seed another one."""

    def finetuned(seed: int, name: str) -> dict[str, torch.Tensor]:
        fresh_accelerate_state()
        run_finetuning(*parse_finetune_args([
            "--preset", "tiny", "--init", "random", "--model_name_or_path", str(small_encoder_dir),
            "--train_list", str(small_demo_root / "train.txt"), "--data_root", str(small_demo_root),
            "--class_names", str(small_demo_root / "labels.txt"), "--output_dir", str(tmp_path / name),
            "--seed", str(seed), "--max_steps", "1", "--per_device_train_batch_size", "2", "--cache_mb", "0",
            "--dataloader_num_workers", "0", "--save_strategy", "no", "--use_cpu", "True", "--report_to", "none",
        ]))
        return load_file(tmp_path / name / "model.safetensors")

    first, again, other = finetuned(3, "first"), finetuned(3, "again"), finetuned(4, "other")
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert not torch.equal(first["classifier.weight"], other["classifier.weight"])


def test_head_norm_flag_builds_a_batch_norm_head_that_saves_its_statistics(tmp_path, small_demo_root,
                                                                           small_encoder_dir):
    """--head_norm batch finetunes with a BatchNorm fc_norm whose running statistics are saved with the weights and
    come back from the folder (the evaluation uses them); the default keeps VideoMAE's LayerNorm."""
    from transformers import AutoModelForVideoClassification

    def finetuned(head_norm: str) -> dict[str, torch.Tensor]:
        fresh_accelerate_state()
        run_finetuning(*parse_finetune_args([
            "--preset", "tiny", "--model_name_or_path", str(small_encoder_dir), "--head_norm", head_norm,
            "--train_list", str(small_demo_root / "train.txt"), "--data_root", str(small_demo_root),
            "--class_names", str(small_demo_root / "labels.txt"), "--output_dir", str(tmp_path / head_norm),
            "--max_steps", "1", "--per_device_train_batch_size", "2", "--cache_mb", "0",
            "--dataloader_num_workers", "0", "--save_strategy", "no", "--use_cpu", "True", "--report_to", "none",
        ]))
        return load_file(tmp_path / head_norm / "model.safetensors")

    batch = finetuned("batch")
    assert batch["fc_norm.num_batches_tracked"].item() == 1 and batch["fc_norm.running_mean"].abs().max() > 0
    reloaded = AutoModelForVideoClassification.from_pretrained(tmp_path / "batch")
    assert reloaded.config.head_norm == "batch"
    assert torch.equal(reloaded.fc_norm.running_var, batch["fc_norm.running_var"])
    assert "fc_norm.running_mean" not in finetuned("layer")


def test_batch_norm_head_never_trains_on_a_single_clip(tmp_path, small_demo_root, small_encoder_dir):
    """A BatchNorm head cannot train on one clip: a per-device batch of one is refused before anything is written,
    naming the fix; 12 videos in batches of 11 (a last batch of one) train with each epoch's last batch dropped."""
    base = ["--preset", "tiny", "--model_name_or_path", str(small_encoder_dir), "--train_list",
            str(small_demo_root / "train.txt"), "--data_root", str(small_demo_root), "--class_names",
            str(small_demo_root / "labels.txt"), "--cache_mb", "0", "--dataloader_num_workers", "0",
            "--save_strategy", "no", "--use_cpu", "True", "--report_to", "none"]
    with pytest.raises(ValueError, match="at least 2 clips per device: raise --per_device_train_batch_size"):
        parse_finetune_args([*base, "--output_dir", str(tmp_path / "one"), "--per_device_train_batch_size", "1"])
    assert not (tmp_path / "one").exists()
    parse_finetune_args([*base, "--output_dir", str(tmp_path / "one"), "--per_device_train_batch_size", "1",
                         "--head_norm", "layer"])  # LayerNorm has no such limit
    fresh_accelerate_state()
    args, training_args = parse_finetune_args([*base, "--output_dir", str(tmp_path / "eleven"),
                                               "--per_device_train_batch_size", "11", "--max_steps", "2"])
    metrics = run_finetuning(args, training_args)  # step 2 would be the batch of one clip without the drop
    assert training_args.dataloader_drop_last and metrics["epoch"] == 2


def test_tiny_preset_sets_the_small_scale_recipe_and_explicit_arguments_win():
    args, training = parse_finetune_args(["--preset", "tiny", "--init", "random", "--num_train_epochs", "5"])
    assert (args.mixup, args.cutmix, args.rand_augment, args.erase_prob, args.label_smoothing) == (0, 0, "none", 0, 0)
    assert (args.drop_path, args.layer_decay, args.flip, args.sampling_rate, args.base_lr) == (0, 1, False, 2, 0)
    assert (training.learning_rate, training.per_device_train_batch_size) == (1e-3, 16)
    assert (args.cache_mb, training.dataloader_persistent_workers) == (1024, True)  # decode a small set once
    _, no_workers = parse_finetune_args(["--preset", "tiny", "--init", "random", "--dataloader_num_workers", "0"])
    assert not no_workers.dataloader_persistent_workers  # DataLoader refuses persistent workers without workers
    assert training.num_train_epochs == 5  # given explicitly: the preset's 30 does not override it
    paper, paper_training = parse_finetune_args(["--init", "random"])
    assert (paper.preset, paper.mixup, paper.rand_augment, paper.layer_decay) == ("paper", 0.8, "rand-m7-n4", 0.75)
    with pytest.raises(ValueError, match="--preset must be one of"):
        parse_finetune_args(["--preset", "huge", "--init", "random"])


def write_trainer_checkpoint(folder):
    """The files a Trainer checkpoint holds and resuming loads (plain tensors: they validate)."""
    save_file({"w": torch.zeros(1)}, folder / "model.safetensors")
    for name in ("optimizer.pt", "scheduler.pt"):
        torch.save({}, folder / name)
    (folder / "trainer_state.json").write_text("{}")


def test_used_output_dir_is_refused_resumed_or_overwritten(tmp_path, small_demo_root, small_encoder_dir):
    """As for pretraining (transformers' convention): a folder holding a finetuning run is refused without
    --resume_from_checkpoint or --overwrite_output_dir; `latest` picks the newest complete checkpoint of a run with the
    same model and data; overwriting deletes only what a run writes."""
    fresh_accelerate_state()
    args, training_args = parse_finetune_args([
        "--model_name_or_path", str(small_encoder_dir), "--train_list", str(small_demo_root / "train.txt"),
        "--data_root", str(small_demo_root), "--class_names", str(small_demo_root / "labels.txt"),
        "--output_dir", str(tmp_path), "--max_steps", "1", "--per_device_train_batch_size", "2",
        "--dataloader_num_workers", "0", "--use_cpu", "True", "--report_to", "none",
    ])
    for name in ("checkpoint-2", "checkpoint-10", "checkpoint-4", "runs"):
        (tmp_path / name).mkdir()
    for name in ("checkpoint-2", "checkpoint-4"):  # checkpoint-10 is half-written: no trainer_state.json
        write_trainer_checkpoint(tmp_path / name)
    (tmp_path / "all_results.json").write_text("{}")
    (tmp_path / "finetune_args.json").write_text(json.dumps(dataclasses.asdict(args)))
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="--resume_from_checkpoint latest.*--overwrite_output_dir"):
        run_finetuning(args, training_args)

    training_args.resume_from_checkpoint = "latest"
    assert prepare_finetune_output_dir(args, training_args) == str(tmp_path / "checkpoint-4")
    other_data = dataclasses.replace(args, train_list=str(small_demo_root / "test.txt"))
    with pytest.raises(ValueError, match="other model or data arguments.*train_list"):
        prepare_finetune_output_dir(other_data, training_args)
    with pytest.raises(ValueError, match="other model or data arguments.*head_norm"):  # other weights in the head
        prepare_finetune_output_dir(dataclasses.replace(args, head_norm="batch"), training_args)
    older = {k: v for k, v in dataclasses.asdict(args).items() if k != "head_norm"}  # written before the option
    (tmp_path / "finetune_args.json").write_text(json.dumps(older))
    assert prepare_finetune_output_dir(args, training_args) == str(tmp_path / "checkpoint-4")
    training_args.overwrite_output_dir = True
    with pytest.raises(ValueError, match="pick one"):
        prepare_finetune_output_dir(args, training_args)

    training_args.resume_from_checkpoint = None
    with pytest.raises(FileExistsError, match="not marked as made by this command"):  # not proven ours: kept
        prepare_finetune_output_dir(args, training_args)
    (tmp_path / ".arvideo-owner.json").write_text('{"command": "finetune"}')  # what a finetuning run writes
    assert prepare_finetune_output_dir(args, training_args) is None
    assert sorted(path.name for path in tmp_path.iterdir()) == [".arvideo-owner.json", ".arvideo.lock", "notes.txt"]
