"""The model zoo and the Hub: named entries with their recipes and results (`entries`), the model cards rendered
from them (`cards`), publishing a checkpoint folder as a Hub repository (`publish`), and the pretrained encoder entry's
folder built from a pretraining run (`pretrained`). `python -m arvideo_hf.zoo` lists the entries, (re)writes the
committed cards and builds that folder."""

from .cards import CARD_TEMPLATE, DEFAULT_ORGANIZATION, config_mismatches, render_model_card, stale_cards, write_cards
from .entries import ZOO, Recipe, ZooEntry, get_entry
from .pretrained import build_pretrained_folder
from .publish import (
    AUTO_MAP,
    REMOTE_CODE_FILES,
    install_in_hub_cache,
    push_checkpoint_to_hub,
    remote_code_files,
    save_hub_folder,
)


__all__ = [
    "AUTO_MAP",
    "CARD_TEMPLATE",
    "DEFAULT_ORGANIZATION",
    "REMOTE_CODE_FILES",
    "Recipe",
    "ZOO",
    "ZooEntry",
    "build_pretrained_folder",
    "config_mismatches",
    "get_entry",
    "install_in_hub_cache",
    "push_checkpoint_to_hub",
    "remote_code_files",
    "render_model_card",
    "save_hub_folder",
    "stale_cards",
    "write_cards",
]
