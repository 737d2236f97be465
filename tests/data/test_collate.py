import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from arvideo_hf.data.collate import ClassificationCollator, PretrainingCollator
from arvideo_hf.models.clustering import ClusterGeometry

from ..conftest import tiny_config


def tiny(**overrides):
    return tiny_config(**overrides)  # 8x64x64 clips, 4x8x8 tokens, 2x4x4 clusters


def samples(config, indices, repeated=None):
    shape = (config.num_frames, 3, config.image_size, config.image_size)
    if repeated:
        shape = (repeated, *shape)
    return [{"pixel_values": torch.full(shape, float(i)), "labels": torch.tensor(i % 3), "index": i} for i in indices]


def test_pretraining_batch_shapes():
    config = tiny()
    geometry = ClusterGeometry.from_config(config)
    batch = PretrainingCollator(config)(samples(config, range(5)))
    assert set(batch) == {"pixel_values", "cluster_order", "noise"}
    assert batch["pixel_values"].shape == (5, 8, 3, 64, 64)
    assert batch["cluster_order"].shape == (5, geometry.num_clusters) and batch["cluster_order"].dtype == torch.long
    assert batch["noise"].shape == (5, geometry.num_tokens) and batch["noise"].dtype == torch.float32
    assert torch.equal(batch["cluster_order"].sort(dim=1).values, torch.arange(geometry.num_clusters).expand(5, -1))
    assert len({tuple(row) for row in batch["cluster_order"].tolist()}) > 1  # random order: one per sample


def test_same_epoch_same_draws_new_epoch_new_draws():
    config = tiny()
    a, b = PretrainingCollator(config, seed=1), PretrainingCollator(config, seed=1)
    batch = samples(config, [3, 7, 11, 2])
    first, second = a(batch), b(batch)
    assert torch.equal(first["cluster_order"], second["cluster_order"]) and torch.equal(first["noise"], second["noise"])
    assert torch.equal(a(batch)["noise"], first["noise"])  # the draw depends on the batch, not on call count
    a.set_epoch(1)
    later = a(batch)
    assert not torch.equal(later["noise"], first["noise"])
    assert not torch.equal(later["cluster_order"], first["cluster_order"])
    assert not torch.equal(PretrainingCollator(config, seed=2)(batch)["noise"], first["noise"])
    assert not torch.equal(a(samples(config, [3, 7, 11, 5]))["noise"], later["noise"])


def test_fixed_orders_and_config_checks():
    config = tiny(prediction_order="temporal_first")
    batch = PretrainingCollator(config)(samples(config, range(2)))
    assert torch.equal(batch["cluster_order"][0], batch["cluster_order"][1])
    spatial = PretrainingCollator(config, order="spatial_first")(samples(config, range(2)))["cluster_order"]
    assert spatial[0].tolist() == list(range(spatial.shape[1]))
    with pytest.raises(ValueError, match="expects"):
        PretrainingCollator(config)(samples(tiny(num_frames=4, cluster_size=[1, 4, 4]), range(2)))


def test_repeated_augmentation_is_flattened():
    config = tiny()
    batch = PretrainingCollator(config)(samples(config, range(3), repeated=2))
    assert batch["pixel_values"].shape == (6, 8, 3, 64, 64)
    assert batch["pixel_values"][:, 0, 0, 0, 0].tolist() == [0, 0, 1, 1, 2, 2]
    assert batch["cluster_order"].shape[0] == 6 and batch["noise"].shape[0] == 6
    labeled = ClassificationCollator()(samples(config, range(3), repeated=2))
    assert labeled["labels"].tolist() == [0, 0, 1, 1, 2, 2]
    assert labeled["pixel_values"].shape == (6, 8, 3, 64, 64)


def test_classification_collator():
    config = tiny()
    batch = ClassificationCollator()(samples(config, [4, 5]))
    assert batch["labels"].tolist() == [1, 2] and batch["labels"].dtype == torch.long
    with pytest.raises(KeyError, match="labels"):
        ClassificationCollator()([{"pixel_values": torch.zeros(8, 3, 64, 64), "index": 0}])


class _Clips(Dataset):
    def __init__(self, config):
        self.items = samples(config, range(12))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def test_worker_count_does_not_change_the_draws():
    config = tiny()
    collator = PretrainingCollator(config, seed=0)
    collator.set_epoch(3)

    def run(workers):
        loader = DataLoader(_Clips(config), batch_size=4, num_workers=workers, collate_fn=collator,
                            multiprocessing_context="fork" if workers else None)
        return [batch["noise"] for batch in loader]

    assert all(torch.equal(x, y) for x, y in zip(run(0), run(2)))
