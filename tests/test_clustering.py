"""Cluster geometry, orders, in-cluster masking and block-causal masks (docs/method.md, Pretraining objective)."""

import pytest
import torch

from arvideo_hf import ARVideoConfig
from arvideo_hf.models.clustering import (
    ClusterGeometry,
    block_causal_mask,
    make_cluster_order,
    noise_from_bool_masked_pos,
    plan_sequence,
)


@pytest.mark.parametrize(
    "cluster_size,clusters,tokens,visible",
    [
        ([2, 7, 7], 16, 98, 20),  # paper default
        ([1, 1, 1], 1568, 1, 1),  # TokenGPT
        ([1, 14, 14], 8, 196, 40),  # spatial
        ([8, 1, 1], 196, 8, 2),  # temporal
        ([4, 7, 7], 8, 196, 40),
    ],
)
def test_counts(cluster_size, clusters, tokens, visible):
    geometry = ARVideoConfig(cluster_size=cluster_size).geometry
    assert (geometry.num_clusters, geometry.cluster_tokens, geometry.num_visible) == (clusters, tokens, visible)
    assert geometry.num_inputs == (clusters - 1) * visible and geometry.num_queries == (clusters - 1) * tokens


def test_cluster_token_index_tiles_grid():
    geometry = ClusterGeometry((4, 6, 6), (2, 3, 3), 0.8)
    index = geometry.cluster_token_index()
    assert index.shape == (8, 18)
    assert torch.equal(index.flatten().sort().values, torch.arange(144))
    assert torch.equal(index, index.sort(dim=1).values)  # ascending within a cluster
    t, h, w = index // 36, (index // 6) % 6, index % 6
    for cluster in range(8):  # cluster id is lexicographic in (it, ih, iw) and covers one 2x3x3 block
        it, ih, iw = cluster // 4, (cluster // 2) % 2, cluster % 2
        assert set(t[cluster].tolist()) == {2 * it, 2 * it + 1}
        assert set(h[cluster].tolist()) == {3 * ih, 3 * ih + 1, 3 * ih + 2}
        assert set(w[cluster].tolist()) == {3 * iw, 3 * iw + 1, 3 * iw + 2}


def test_orders():
    geometry = ClusterGeometry((4, 4, 4), (2, 2, 2), 0.5)  # blocks (2, 2, 2): ids = 4*it + 2*ih + iw
    spatial = make_cluster_order(geometry, "spatial_first", 2)
    temporal = make_cluster_order(geometry, "temporal_first", 2)
    assert spatial[0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]  # finish time block 0 before time block 1
    assert temporal[0].tolist() == [0, 4, 1, 5, 2, 6, 3, 7]  # walk time at each spatial block
    assert torch.equal(make_cluster_order(geometry, "raster", 1), spatial[:1])
    generator = torch.Generator().manual_seed(0)
    random = make_cluster_order(geometry, "random", 64, generator=generator)
    assert torch.equal(random.sort(1).values, torch.arange(8).expand(64, -1))
    assert len({tuple(row) for row in random.tolist()}) > 50  # one fresh permutation per sample
    again = make_cluster_order(geometry, "random", 64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(random, again)
    with pytest.raises(ValueError, match="Unknown prediction order"):
        make_cluster_order(geometry, "zigzag", 1)


def test_plan_sequence_layout():
    geometry = ClusterGeometry((4, 4, 4), (2, 2, 2), 0.75)  # C=8, S=8, V=2
    order = make_cluster_order(geometry, "random", 3, generator=torch.Generator().manual_seed(1))
    noise = torch.rand(3, 64, generator=torch.Generator().manual_seed(2))
    plan = plan_sequence(geometry, order, noise)
    index = geometry.cluster_token_index()
    assert plan.input_index.shape == (3, 7 * 2) and plan.target_index.shape == (3, 7 * 8)
    for b in range(3):
        for step in range(7):
            cluster = order[b, step]
            chosen = plan.input_index[b, 2 * step : 2 * step + 2]
            lowest = index[cluster][noise[b, index[cluster]].argsort()[:2]].sort().values
            assert torch.equal(chosen, lowest)  # the V lowest-noise tokens of the step's cluster
        for step in range(1, 8):
            assert torch.equal(plan.target_index[b, 8 * (step - 1) : 8 * step], index[order[b, step]])
    # the last cluster of the order is never an input
    last_tokens = set(index[order[0, -1]].tolist())
    assert not last_tokens & set(plan.input_index[0].tolist())


def test_plan_rejects_bad_orders_and_noise():
    geometry = ClusterGeometry((4, 4, 4), (2, 2, 2), 0.75)
    noise = torch.rand(2, 64)
    with pytest.raises(ValueError, match="permutation"):
        plan_sequence(geometry, torch.zeros(2, 8, dtype=torch.long), noise)
    with pytest.raises(ValueError, match=r"shape \(2, 8\)"):
        plan_sequence(geometry, torch.arange(7).expand(2, -1), noise)
    with pytest.raises(ValueError, match="noise must have shape"):
        plan_sequence(geometry, torch.arange(8).expand(2, -1), torch.rand(2, 63))


def test_bool_masked_pos_counts():
    geometry = ClusterGeometry((4, 4, 4), (2, 2, 2), 0.75)  # mask 6 of 8 per cluster
    index = geometry.cluster_token_index()
    mask = torch.zeros(1, 64, dtype=torch.bool)
    mask[0, index[:, :6].flatten()] = True
    noise = noise_from_bool_masked_pos(geometry, mask)
    plan = plan_sequence(geometry, torch.arange(8)[None], noise)
    assert not mask[0, plan.input_index[0]].any()
    mask[0, index[3, 6]] = True  # cluster 3 now masks 7
    with pytest.raises(ValueError, match="exactly 6 of the 8 tokens"):
        noise_from_bool_masked_pos(geometry, mask)


def test_block_causal_mask():
    mask = block_causal_mask(3, 2, 1)[0, 0]
    allowed = mask == 0
    expected = torch.tensor([[1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0], [1, 1, 1], [1, 1, 1]], dtype=torch.bool)
    assert torch.equal(allowed, expected)
    assert mask.min() == torch.finfo(torch.float32).min


def test_fit_cluster_size():
    from arvideo_hf.models.clustering import fit_cluster_size

    assert fit_cluster_size((8, 14, 14)) == [2, 7, 7]
    assert fit_cluster_size((8, 4, 4)) == [2, 4, 4]
    assert fit_cluster_size((2, 4, 4)) == [2, 2, 4]  # 2x4x4 would be one cluster of the whole clip
    assert fit_cluster_size((1, 1, 2)) == [1, 1, 1]
