"""A Space-ready folder for a published model: `app.py`, `requirements.txt` and a `README.md` card with the Space
metadata (Gradio SDK, the model it shows). `examples/publish.py --space-dir OUT` writes it next to the upload."""

from __future__ import annotations

import os
from pathlib import Path

from huggingface_hub import SpaceCard, SpaceCardData

from .. import __version__


APP_PY = '''"""ARVideo checkpoint viewer (written by arvideo_hf.app.write_space)."""

from arvideo_hf.app import build_app


build_app({model!r}).launch()
'''


def write_space(model: str, output_dir: str | os.PathLike, requirement: str | None = None) -> Path:
    """Write the Space for `model` (a Hub id, or a folder the Space holds) into `output_dir`, which must be new or
    empty: this function never overwrites. `requirement` is the pip line that installs the app (default: this
    version of the package with its `app` extra)."""
    import gradio  # noqa: PLC0415 - the app extra; only its version is needed, for the card's sdk_version

    output_dir = Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()):
        raise FileExistsError(f"{output_dir} is not empty; write the Space into a new folder.")
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "app.py").write_text(APP_PY.format(model=model))
    (output_dir / "requirements.txt").write_text((requirement or f"arvideo_hf[app]=={__version__}") + "\n")
    name = model.rstrip("/").rsplit("/", 1)[-1]
    data = SpaceCardData(
        title=f"ARVideo {name}"[:60], sdk="gradio", sdk_version=gradio.__version__, app_file="app.py",
        models=[model] if "/" in model and not Path(model).exists() else None, license="apache-2.0",
        short_description="Video in: labels, next-cluster predictions, attention ranks",  # the Hub's limit: 60
    )
    card = SpaceCard.from_template(
        data, template_str=(
            "---\n{{ card_data }}\n---\n\n# ARVideo: what the model sees\n\n"
            f"Upload a video and see what `{model}` makes of it: its top-5 labels (a finetuned classifier), its "
            "next-cluster predictions beside the real clip in the prediction order (a pretraining checkpoint), and "
            "the attention rank per layer of its encoder (any checkpoint). The app says what a checkpoint cannot "
            "show. Run it locally with `python -m arvideo_hf.app " + model + "`.\n"
        ),
    )
    card.save(output_dir / "README.md")
    return output_dir


__all__ = ["write_space"]
