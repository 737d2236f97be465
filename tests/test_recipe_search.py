"""The recipe search's report: easy/hard tables with paired differences, per-layer figures and the README block,
generated from a runs file (never typed)."""

import importlib.util
import json
from pathlib import Path

import pytest

from arvideo_hf.results import readme_block
from arvideo_hf.training import recipe_search


def run(set_name, method, seed, attentive, linear, target="pixels"):
    return {"set": set_name, "method": method, "target": target, "norm_pix": False, "mask": 0.8,
            "cluster": [2, 2, 2], "lr": 3e-4, "seed": seed, "steps": 400, "loss_last": 0.01,
            "probes": {"attentive": attentive, "linear": linear, "attentive_train": [90.0] * len(attentive),
                       "linear_train": [50.0] * len(linear)}, "wall_seconds": 10, "machine": "test"}


def test_report_pairs_seeds_against_random_init_and_writes_the_block(tmp_path):
    runs = [
        run("hard", "random", 0, [40.0, 45.0], [10.0, 12.0]), run("hard", "random", 1, [42.0, 43.0], [11.0, 10.0]),
        run("hard", "arvideo", 0, [48.0, 50.0], [20.0, 30.0], "frame_difference"),
        run("hard", "arvideo", 1, [47.0, 52.0], [22.0, 31.0], "frame_difference"),
        run("hard", "arvideo", 0, [50.0, 9.0], [12.0, 11.0]),
        run("demo", "random", 0, [70.0, 77.0], [20.0, 26.0]), run("demo", "videomae", 0, [70.0, 78.0], [20.0, 17.0]),
    ]
    path = tmp_path / "runs.jsonl"
    stale = run("hard", "random", 0, [1.0, 1.0], [1.0, 1.0])
    path.write_text("".join(json.dumps(item) + "\n" for item in [stale, *runs]))  # a later line replaces it
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- hard-set-table:start -->\nold\n<!-- hard-set-table:end -->\n")
    summary = recipe_search.write_report(path, tmp_path / "out", readme)
    hard = summary["hard@400"]["rows"]
    motion = hard["ARVideo, frame-difference target"]
    assert motion["attentive_per_layer"] == [47.5, 51.0] and motion["seeds"] == [0, 1]
    assert motion["attentive_vs_random"]["differences"] == [5.0, 9.0] and motion["attentive_vs_random"]["mean"] == 7.0
    assert 0 < motion["attentive_vs_random"]["p"] < 0.1  # one-sided paired t-test over 2 seeds
    assert hard["ARVideo, raw pixels"]["attentive_best_layer"] == 0 and hard["random init"]["attentive_last"] == 44.0
    assert hard["ARVideo, raw pixels"]["linear_vs_random"]["p"] is None  # one seed: no test
    table = recipe_search.summary_table(summary)
    assert table.index("easy set") < table.index("hard set")
    assert "| ARVideo, frame-difference target | 2 | 51.0 (90) [L1: 51.0] | +7.0 (+5.0, +9.0; p=" in table
    assert "| ARVideo, raw pixels | 1 | 9.0 (90) [L0: 50.0] | -36.0 |" in table
    assert "Chance 8.3% (12 classes)" in table and "Chance 16.7% (6 classes)" in table
    assert readme_block(readme.read_text(), recipe_search.README_BLOCK) == table
    assert (tmp_path / "out" / "layers-hard-400.png").stat().st_size > 1000
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == summary


def test_unprobed_layers_and_finetunes_reach_the_table(tmp_path):
    """Runs that probe only some layers (`null` elsewhere) and carry a finetune: the best layer is chosen among the
    probed ones, the finetune gets its own paired column."""
    runs = []
    for seed, (random_top1, motion_top1) in enumerate([(10.0, 21.0), (11.0, 19.0)]):
        runs.append({**run("hard", "random", seed, [None, 30.0, None, 25.0], [None, None, None, 9.0]),
                     "finetune": random_top1})
        runs.append({**run("hard", "arvideo", seed, [None, 45.0, None, 40.0], [None, None, None, 9.5],
                           "frame_difference"), "finetune": motion_top1})
        for item, per_time in zip(runs[-2:], (15.0, 20.0 + seed), strict=True):  # the diagnostic, last layer only
            item["probes"]["linear_per_time"] = [None, None, None, per_time]
    runs.append(run("hard", "arvideo", 0, [None, None, None, 30.0], [None, None, None, 9.0]))  # lacks it
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in runs))
    summary = recipe_search.write_report(path, tmp_path / "out")
    motion = summary["hard@400"]["rows"]["ARVideo, frame-difference target"]
    assert motion["attentive_per_layer"] == [None, 45.0, None, 40.0] and motion["attentive_best_layer"] == 1
    assert motion["finetune"] == 20.0 and motion["finetune_vs_random"]["differences"] == [11.0, 8.0]
    table = recipe_search.summary_table(summary)
    assert "| ARVideo, frame-difference target | 2 | 40.0 (90) [L1: 45.0] | +15.0 (+15.0, +15.0) |" in table
    assert "| 20.0 | +9.5 (+11.0, +8.0; p=" in table and "| random init | 2 |" in table
    assert "| 20.5 | +5.5 (+5.0, +6.0; p=" in table  # the per-time-step linear diagnostic, paired the same way
    assert "| ARVideo, raw pixels | 1 | 30.0 (90) [L3: 30.0] | +5.0 | 9.0 [L3: 9.0] | +0.0 | - | - | - | - |" in table
    assert (tmp_path / "out" / "layers-hard-400.png").stat().st_size > 1000
    seed0 = recipe_search.seed0_layer_curves(runs)["hard"]  # every layer the seed-0 encoders were probed at
    assert list(seed0) == ["ARVideo, frame-difference target, 400 steps", "random init"]
    assert seed0["random init"]["attentive"] == [None, 30.0, None, 25.0]
    assert (tmp_path / "out" / "layers-hard-seed0.png").stat().st_size > 1000


def test_every_change_from_the_shipped_recipe_is_named():
    """Runs that differ only in a config override or the loss weighting are other recipes, not the shipped one."""
    shipped = {**run("hard", "arvideo", 0, [1.0], [1.0], "pixels_and_frame_difference"), "pixel_target_scale": 0.1,
               "pixel_decay_steps": 800, "cluster": [8, 2, 2],
               "config": {"cluster_size": [8, 2, 2], "decoder_self_attention": True}}
    assert recipe_search.recipe_name(shipped).endswith("pixels x0.1 falling to 0 by step 800, clusters 8x2x2, "
                                                       "decoder_self_attention True, the shipped tiny recipe")
    constant = recipe_search.recipe_name({**shipped, "pixel_decay_steps": 0})
    assert constant.endswith("pixels x0.1, clusters 8x2x2, decoder_self_attention True, the previous tiny recipe")
    previous = {**run("hard", "arvideo", 0, [1.0], [1.0], "pixels_and_frame_difference"), "pixel_target_scale": 0.25}
    assert recipe_search.recipe_name(previous).endswith("pixels x0.25, the tiny recipe before that")
    without_attention = recipe_search.recipe_name({**shipped, "config": {"cluster_size": [8, 2, 2]}})
    assert without_attention.endswith("by step 800, clusters 8x2x2")  # one knob short of the preset: not shipped
    deeper = recipe_search.recipe_name({**shipped, "config": {"decoder_num_hidden_layers": 4}})
    weighted = recipe_search.recipe_name({**shipped, "motion_weighted": True})
    assert "decoder_num_hidden_layers 4" in deeper and "weighted by motion" in weighted
    assert len({recipe_search.recipe_name(shipped), deeper, weighted}) == 3 and "shipped" not in deeper + weighted
    causal = recipe_search.recipe_name({**shipped, "noncausal": True})
    frames = recipe_search.recipe_name({**previous, "cluster": [2, 4, 4], "config": {"cluster_size": [2, 4, 4]}})
    assert "encoder not causal" in causal and frames.endswith("clusters 2x4x4")  # named once
    videomae = run("hard", "videomae", 0, [30.0], [9.0])
    assert recipe_search.recipe_name({**videomae, "mask": 0.9}) == "VideoMAE (tube 90%)"
    assert recipe_search.recipe_name({**videomae, "mask": 0.75, "random_mask": True}) == "VideoMAE (random 75%)"
    wide_random = {**run("hard", "random", 0, [30.0], [9.0]), "config": {"hidden_size": 192}}
    assert recipe_search.recipe_name(wide_random) == "random init, hidden_size 192"
    rows = recipe_search.summarize([run("hard", "random", 0, [25.0], [9.0]), wide_random])["hard@0"]["rows"]
    assert rows["random init"]["attentive_last"] == 25.0  # the reference stays the preset's own random encoder
    assert rows["random init, hidden_size 192"]["attentive_vs_random"]["mean"] == 5.0


def test_readme_block_is_generated_from_the_committed_runs():
    root = Path(__file__).parents[1]
    runs = root / "reproduce" / "hard_set" / "runs.jsonl"
    if not runs.is_file():
        pytest.fail("reproduce/hard_set/runs.jsonl is missing: the README's hard-set table has no source")
    table = recipe_search.summary_table(recipe_search.summarize(recipe_search.load_runs(runs)))
    assert readme_block((root / "README.md").read_text(), recipe_search.README_BLOCK) == table


def test_head_norm_table_pairs_each_head_with_random_init_under_the_same_head(tmp_path):
    """Each lead compares an encoder with random init finetuned with the same head norm, seed by seed; runs with
    another recipe change stay out of the table; RESULTS.md 4.12 holds the table of the committed runs."""
    def line(encoder, head, seed, top1, **changes):
        return json.dumps({"set": "hard", "encoder": encoder, "head_norm": head, "seed": seed, "top1": top1,
                           "recipe_changes": changes})

    runs = tmp_path / "head-norm.jsonl"
    runs.write_text("\n".join([
        line("arvideo", "batch", 0, 20.0), line("arvideo", "batch", 1, 22.0), line("random", "batch", 0, 14.0),
        line("random", "batch", 1, 15.0), line("arvideo", "layer", 0, 11.0), line("random", "layer", 0, 10.0),
        line("arvideo", "batch", 2, 90.0, layer_decay=0.75),
    ]) + "\n")
    rows = {row.split(" | ")[0].strip("| "): row for row in recipe_search.head_norm_table(runs).splitlines()}
    assert rows["hard, ARVideo (400 steps on the hard pool)"].split(" | ")[1:] == [
        "11.0 (11.0)", "+1.0", "**21.0 ± 1.4 (20.0, 22.0)**", "+6.5 (+6.0, +7.0; p=0.024) |"]
    assert rows["hard, VideoMAE (400 steps)"].endswith("| - | - | - | - |")
    root = Path(__file__).parents[1] / "reproduce" / "hard_set"
    committed = recipe_search.head_norm_table(root / "head-norm.jsonl")
    assert readme_block((root / "RESULTS.md").read_text(), recipe_search.HEAD_NORM_BLOCK) == committed


def test_finetune_knob_table_pairs_each_change_with_random_init_under_the_same_change(tmp_path):
    """Each change to the finetune is compared with random init finetuned with the same change, seed by seed, on both
    sets; RESULTS.md 4.13 holds the table of the committed runs."""
    def line(dataset, encoder, seed, top1, **changes):
        return json.dumps({"set": dataset, "encoder": encoder, "head_norm": "batch", "seed": seed, "top1": top1,
                           "recipe_changes": changes})

    knob = recipe_search.KNOB_ENCODER
    runs = tmp_path / "head-norm.jsonl"
    runs.write_text("\n".join([
        line("hard", knob, 0, 20.0), line("hard", knob, 1, 22.0), line("hard", "random", 0, 14.0),
        line("hard", "random", 1, 15.0), line("hard", knob, 0, 30.0, learning_rate=0.002),
        line("hard", knob, 1, 31.0, learning_rate=0.002), line("hard", "random", 0, 10.0, learning_rate=0.002),
        line("hard", "random", 1, 10.0, learning_rate=0.002), line("hard", "arvideo", 0, 90.0),
    ]) + "\n")
    rows = recipe_search.finetune_knob_table(runs).splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == ["| none (the preset)", "| `learning_rate=0.002`"]
    assert rows[0].split(" | ")[1:] == ["-", "-", "-", "21.0 ± 1.4", "14.5 ± 0.7", "+6.5 (+6.0, +7.0; p=0.024) |"]
    assert rows[1].split(" | ")[4:] == ["30.5 ± 0.7", "10.0 ± 0.0", "+20.5 (+20.0, +21.0; p=0.008) |"]
    root = Path(__file__).parents[1] / "reproduce" / "hard_set"
    committed = recipe_search.finetune_knob_table(root / "head-norm.jsonl")
    assert readme_block((root / "RESULTS.md").read_text(), recipe_search.KNOB_BLOCK) == committed


def test_search_runs_of_different_recipes_never_share_a_file_name():
    """`experiments.py` names each encoder's files after its recipe: a tagged random encoder (another width) or a
    VideoMAE with other masking must not overwrite the preset's random or VideoMAE encoder of the same seed."""
    spec = importlib.util.spec_from_file_location(
        "experiments", Path(__file__).parents[1] / "reproduce" / "hard_set" / "experiments.py")
    experiments = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(experiments)
    variants = [["--method", "random"], ["--method", "random", "--tag", "h192", "--config", '{"hidden_size": 192}'],
                ["--method", "videomae"], ["--method", "videomae", "--mask", "0.75"],
                ["--method", "videomae", "--mask", "0.75", "--random_mask"]]
    names = {experiments.run_name(experiments.parse_args(["pretrain", *extra])) for extra in variants}
    assert len(names) == 5 and {"random-s0-400", "videomae-s0-400", "random-h192-s0-400"} <= names
    arvideo = {experiments.run_name(experiments.parse_args(["pretrain", *extra]))
               for extra in ([], ["--tube_mask"], ["--noncausal"], ["--tube_mask", "--noncausal"])}
    assert len(arvideo) == 4
    with pytest.raises(SystemExit):
        experiments.parse_args(["pretrain", "--random_mask"])  # ARVideo masks inside clusters
