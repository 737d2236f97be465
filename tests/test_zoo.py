"""The model zoo: provenance of every number, committed cards in sync with the template, card metadata."""

import json
import re
import runpy
import shutil
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from arvideo_hf import ARVideoConfig, demo
from arvideo_hf.recipes import FINETUNE_PRESETS, RUN_PRESETS
from arvideo_hf.results import PAPER_RESULTS, Result, dataset_info, readme_block
from arvideo_hf.training import recipe_search
from arvideo_hf.zoo.__main__ import main
from arvideo_hf.zoo.cards import (
    CONSTANT_PIXEL_LEAD,
    ENCODER_NOT_MEASURED,
    NOT_MEASURED,
    TINY_HARD_FINETUNE,
    TINY_HARD_SET_LEAD,
    TINY_HARD_SET_SEEDS,
    config_mismatches,
    count_parameters,
    render_model_card,
    stale_cards,
    target_limit,
    target_text,
)
from arvideo_hf.zoo.entries import (
    PRETRAINED_FIVE_SEED_FINETUNE,
    ZOO,
    Recipe,
    ZooEntry,
    get_entry,
    load_demo_results,
    load_pretrained_run,
    pretraining_budget,
)


CARDS = Path(__file__).resolve().parents[1] / "model_cards"
# docs/method.md, Paper results: the paper's ARVideo top-1 (Tables 2, 3): (dataset, pretraining epochs) -> top-1
PAPER_TOP1 = {("k400", 800): 80.1, ("k400", 1600): 81.2, ("ssv2", 800): 69.8, ("ssv2", 2400): 70.9}


def test_committed_cards_are_up_to_date():
    stale = stale_cards(CARDS)
    assert not stale, f"stale model cards {stale}: run `python -m arvideo_hf.zoo write-cards model_cards/`"
    assert sorted(p.name for p in CARDS.glob("*.md")) == sorted(f"{name}.md" for name in ZOO)


def test_check_command_flags_edited_and_extra_cards(tmp_path, capsys):
    assert main(["write-cards", str(tmp_path)]) == 0
    assert main(["write-cards", str(tmp_path), "--check"]) == 0
    card = tmp_path / "arvideo-vitb-k400.md"
    card.write_text(card.read_text().replace("80.1", "80.9"))
    assert main(["write-cards", str(tmp_path), "--check"]) == 1
    assert "arvideo-vitb-k400.md" in capsys.readouterr().err
    main(["write-cards", str(tmp_path)])
    shutil.copy(card, tmp_path / "arvideo-vitb-k999.md")
    assert stale_cards(tmp_path) == ["arvideo-vitb-k999.md"]


def test_zoo_has_the_issue_entries():
    assert {"arvideo-tiny-demo", "arvideo-tiny-pretrained", "arvideo-vits-k400", "arvideo-vitb-k400",
            "arvideo-vitb-ssv2", "arvideo-vitl-k400"} <= set(ZOO)
    assert get_entry("org/arvideo-vitb-ssv2") is ZOO["arvideo-vitb-ssv2"]
    with pytest.raises(KeyError, match="known entries"):
        get_entry("arvideo-vitb-k401")


def test_paper_numbers_are_exactly_the_papers_and_only_on_vit_b():
    paper = {(r.dataset, r.pretrain_epochs): r.top1 for results in PAPER_RESULTS.values() for r in results}
    assert paper == PAPER_TOP1
    for entry in ZOO.values():
        for result in entry.paper_results:
            assert entry.preset == "base" and result.dataset == entry.dataset
            assert PAPER_TOP1[(result.dataset, result.pretrain_epochs)] == result.top1
        for result in entry.measured_results:  # when measurements land, each names the command that produced it
            assert "python" in result.reference or "make" in result.reference


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_number_in_a_card_has_a_source(name):
    """Each results row of the committed card is a known result with its source label, or says it is not measured."""
    entry, text = ZOO[name], (CARDS / f"{name}.md").read_text()
    table = text.split("## Results", 1)[1].split("## Limitations", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| Source")]
    known = {(r.source_label, r.top1) for r in entry.results}
    missing = ENCODER_NOT_MEASURED if entry.pretraining else NOT_MEASURED  # a pretrained encoder has no accuracy
    assert len(rows) == max(len(entry.results), 1)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        if cells[4] == "–":
            assert not entry.results and missing in row
        else:
            assert (cells[0], float(cells[4])) in known, row
    if not entry.measured_results:
        assert missing in " ".join(text.split())


@pytest.mark.parametrize("name", sorted(ZOO))
def test_card_metadata(name):
    entry, card = ZOO[name], ModelCard.load(CARDS / f"{name}.md")
    assert card.data.pipeline_tag == ("video-classification" if entry.is_classifier else None)  # encoders: no task
    assert card.data.library_name == "transformers"
    assert card.data.license == "apache-2.0" and "custom_code" in card.data.tags
    measured = [r for r in entry.results if r.source == "measured"]
    if not measured:
        assert card.data.eval_results is None  # paper numbers never enter model-index
    else:
        top1 = {r.metric_value for r in card.data.eval_results if r.metric_type == "accuracy"}
        assert top1 == {r.top1 for r in measured}
    for section in ("## How to use", "trust_remote_code=True", "## Training recipe", "## Evaluation protocol",
                    "## Results", "## Limitations", "## Citation", "arXiv:2405.15160"):
        assert section in card.text, section
    assert f'"arvideo-hf/{name}"' in card.text
    size, frames = entry.recipe.image_size, entry.recipe.num_frames
    assert f"`(batch, {frames}, 3, {size}, {size})`" in card.text


def test_measured_results_enter_model_index():
    entry = ZOO["arvideo-vitb-ssv2"]
    measured = [Result("ssv2", 68.4, "measured", "python examples/evaluate.py x", views="2x3", top5=91.0,
                       num_videos=24777)]
    card = ModelCard(str(render_model_card(entry, "me/arvideo-vitb-ssv2", measured=measured)))
    results = {r.metric_type: r for r in card.data.eval_results}
    assert results["accuracy"].metric_value == 68.4 and results["top_5_accuracy"].metric_value == 91.0
    assert (results["accuracy"].dataset_type == "something-something-v2"
            and results["accuracy"].task_type == "video-classification")
    assert card.data.model_name == "arvideo-vitb-ssv2"
    assert "measured (this project)" in card.text and "paper-reported" in card.text and NOT_MEASURED not in card.text


def test_entry_configs_match_their_presets():
    assert count_parameters(ZOO["arvideo-vitb-k400"].config()) == pytest.approx(86.5e6, rel=0.01)  # paper: 87M
    for entry in ZOO.values():
        config = entry.config()
        assert (config.num_frames, config.image_size) == (entry.recipe.num_frames, entry.recipe.image_size)
        assert config.architectures == [entry.architecture]
        if entry.is_classifier:
            assert config.num_labels == entry.dataset_info.num_labels
        assert not config_mismatches(entry, config)
    mismatches = config_mismatches(ZOO["arvideo-tiny-demo"], ZOO["arvideo-tiny-demo"].config(hidden_size=64))
    assert mismatches == {"hidden_size": (96, 64)}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(top1=101.0), r"\[0, 100\]"),
        (dict(views="5 by 3"), "views"),
        (dict(source="blog"), "'paper' or 'measured'"),
        (dict(reference="  "), "reference"),
    ],
)
def test_result_validation(kwargs, message):
    fields = {**dict(dataset="k400", top1=80.0, source="measured", reference="python x.py"), **kwargs}
    with pytest.raises(ValueError, match=message):
        Result(**fields)


def test_paper_results_must_cite_a_paper_table():
    with pytest.raises(ValueError, match="must cite"):
        ZooEntry("x", "base", "k400", Recipe(800, 16, 4, 224, 5, 3), "x",
                 results=(Result("k400", 80.1, "paper", "a blog post"),))


def test_dataset_aliases():
    assert dataset_info("Kinetics-400").key == dataset_info("k400").key == "k400"
    assert dataset_info("something-something-v2").num_labels == 174
    custom = dataset_info("UCF 101")
    assert (custom.key, custom.name, custom.num_labels) == ("ucf-101", "UCF 101", None)
    assert re.fullmatch(r"[a-z0-9-]+", custom.hub_type)


def test_demo_table_card_and_entry_come_from_the_committed_results_file():
    """The README's demo table, the demo entry's measured top-1 and its card are generated from one results file."""
    results = load_demo_results()
    assert results is not None, "src/arvideo_hf/demo_results.json (the reference make demo run) is missing"
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert readme_block(readme, demo.README_BLOCK) == demo.results_text(results)
    entry = get_entry("arvideo-tiny-demo")
    run = results["rows"]["arvideo"]["low_label_runs"][0]
    assert (entry.measured_results[0].top1 == pytest.approx(run["top1"], abs=0.01)
            and entry.measured_results[0].views == run["views"])
    assert f"{round(run['top1'], 2)}" in str(render_model_card(entry))


def test_cards_state_the_recipe_their_checkpoint_was_trained_with():
    """The demo checkpoint ran the tiny presets (its target, no mixup...), the ViT entries the paper's recipe."""
    demo_card = " ".join(str(render_model_card(get_entry("arvideo-tiny-demo"))).split())  # wrapping aside
    pretrain, finetune = RUN_PRESETS["tiny"], FINETUNE_PRESETS["tiny"]
    target = " ".join(target_text(ARVideoConfig.from_preset("tiny")).split())
    assert "`tiny` run presets" in demo_card and target in demo_card and "frame-difference" in target
    assert f"learning rate {pretrain['learning_rate']:.0e}".replace("e-0", "e-") in demo_card  # 3e-4
    assert f"{finetune['num_train_epochs']} epochs at batch {finetune['per_device_train_batch_size']}" in demo_card
    assert "Reference hyperparameters (the paper's ViT-B recipe" not in demo_card
    budget = pretraining_budget(load_demo_results()["args"])  # "400 steps" (older runs: "60 s" of wall clock)
    assert f"| Pretraining | the demo videos, self-supervised, {budget}" in demo_card
    paper_card = " ".join(str(render_model_card(get_entry("arvideo-vitb-k400"))).split())
    assert "Reference hyperparameters (the paper's ViT-B recipe" in paper_card
    assert "`tiny` run presets" not in paper_card


def test_zoo_list_command_prints_every_entry_with_its_numbers_and_their_source(capsys, monkeypatch):
    """`python -m arvideo_hf.zoo list`, run as `__main__`: one line per entry, each result with its source label."""
    monkeypatch.setattr(sys, "argv", ["python -m arvideo_hf.zoo", "list"])
    monkeypatch.delitem(sys.modules, "arvideo_hf.zoo")  # run it afresh, as `python -m` does
    monkeypatch.delitem(sys.modules, "arvideo_hf.zoo.__main__", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("arvideo_hf.zoo", run_name="__main__")
    assert exit_info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(ZOO)
    for line, entry in zip(lines, ZOO.values()):
        assert entry.preset in line.split()
        for result in entry.results:
            assert f"{result.top1:.1f} top-1" in line and f"({result.source_label})" in line, line
        if not entry.results:
            assert (ENCODER_NOT_MEASURED if entry.pretraining else NOT_MEASURED) in line, line


def test_cards_say_how_long_the_combined_target_keeps_the_motion():
    """A checkpoint pretrained with pixels in a motion target states what the hard set measured for its recipe: the
    shipped decaying pixel term keeps the motion at long budgets, a constant one loses it; the paper entries
    (norm-pix pixels, the paper's objective) claim neither."""
    lead = {steps: f"{value:+.1f}" for steps, value in TINY_HARD_SET_LEAD.items()}
    for name in ("arvideo-tiny-demo", "arvideo-tiny-pretrained"):
        card = " ".join(str(render_model_card(get_entry(name))).split())
        assert "The pixel term falls to 0 over the first 800 pretraining steps" in card
        assert f"by {lead[400]} after 400 steps (5 seeds), {lead[1600]} after 1600 steps (2 seeds)" in card
        assert f"and {lead[4000]} after 4000 steps (2 seeds), where a constant pixel term falls below" in card
        assert "the scale falls by a cosine to 0 over the first 800 steps" in card  # the target, in the recipe's words
    assert "random features" not in str(render_model_card(get_entry("arvideo-vitb-k400")))
    constant = " ".join(target_limit(ARVideoConfig.from_preset("tiny", pixel_target_decay_steps=0)).split())
    assert "by +14.4 points after 400 steps, +5.0 after 1600" in constant and "-14.3 after 4000" in constant
    assert "the pixel term takes over" in constant and "pixel_target_decay_steps" in constant
    other_schedule = " ".join(target_limit(ARVideoConfig.from_preset("tiny", pixel_target_decay_steps=1600)).split())
    assert "falls to 0 over the first 1600 pretraining steps" in other_schedule and "unmeasured" in other_schedule
    older = ARVideoConfig.from_preset("tiny", cluster_size=[2, 2, 2], pixel_target_scale=0.25,
                                      pixel_target_decay_steps=0)
    assert "by 1600 steps with 2x2x2 clusters" in " ".join(target_limit(older).split())
    assert target_limit(ARVideoConfig.from_preset("tiny", pretraining_target="frame_difference")) == ""


def test_the_pretrained_cards_five_seed_finetunes_are_the_committed_runs():
    """The zoo checkpoint's card states its 5-seed demo finetunes with each head norm from the committed record."""
    lines = (Path(__file__).parents[1] / "reproduce" / "hard_set" / "head-norm.jsonl").read_text().splitlines()
    runs = [json.loads(line) for line in lines]
    steps = PRETRAINED_FIVE_SEED_FINETUNE["steps"]
    assert steps == load_pretrained_run().steps
    for head in ("batch", "layer"):
        zoo = sorted((run["seed"], run["top1"]) for run in runs
                     if (run["set"], run["encoder"], run["head_norm"]) == ("demo", "zoo", head))
        assert [seed for seed, _ in zoo] == [0, 1, 2, 3, 4], head
        assert tuple(round(top1, 1) for _, top1 in zoo) == PRETRAINED_FIVE_SEED_FINETUNE[head], head
        assert {run["pretraining_steps"] for run in runs if run["encoder"] == "zoo"} == {steps}
    card = " ".join(str(render_model_card(get_entry("arvideo-tiny-pretrained"))).split())
    assert "gave 63.0, 60.7, 64.7, 62.7, 63.7. Keep the tiny recipe's BatchNorm head" in card
    assert "the same seeds gave 50.3, 62.3, 59.3, 19.3, 50.0, and at 19.3% the training loss stayed at chance" in card


def test_the_cards_hard_set_finetune_numbers_are_the_committed_runs():
    """The hard-set finetune the cards state is the tiny preset's (BatchNorm head, no other change), from
    head-norm.jsonl: the 400-step ARVideo encoder and random init, their seed count."""
    lines = (Path(__file__).parents[1] / "reproduce" / "hard_set" / "head-norm.jsonl").read_text().splitlines()
    runs = [json.loads(line) for line in lines]
    for encoder in ("arvideo", "random"):
        top1 = [run["top1"] for run in runs if (run["set"], run["encoder"], run["head_norm"]) == ("hard", encoder,
                "batch") and not run["recipe_changes"]]
        assert len(top1) == TINY_HARD_FINETUNE["seeds"], encoder
        assert round(sum(top1) / len(top1), 1) == TINY_HARD_FINETUNE[encoder], encoder
    card = " ".join(str(render_model_card(get_entry("arvideo-tiny-pretrained"))).split())
    assert "leave chance (8.3%) only with the `tiny` finetune's BatchNorm head (`head_norm`): 21.2%" in card


def test_the_cards_hard_set_numbers_are_the_committed_runs():
    """The hard-set leads the cards state are the recipe search's, from its runs file: the shipped `tiny` recipe's
    and the constant pixel term's it replaced."""
    runs = recipe_search.load_runs(Path(__file__).parents[1] / "reproduce" / "hard_set" / "runs.jsonl")
    summary = recipe_search.summarize(runs)
    for tag, leads in (("the shipped tiny recipe", TINY_HARD_SET_LEAD),
                       ("the previous tiny recipe", CONSTANT_PIXEL_LEAD)):
        for steps, lead in leads.items():
            rows = summary[f"hard@{steps}-probe50"]["rows"]
            recipe = next(row for name, row in rows.items() if name.endswith(tag))
            assert recipe["attentive_vs_random"]["mean"] == lead, (tag, steps)
            if tag == "the shipped tiny recipe":
                assert len(recipe["seeds"]) == TINY_HARD_SET_SEEDS[steps], steps
