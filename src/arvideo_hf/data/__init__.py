"""Video data for ARVideo: decoding, annotation sources, frame sampling, transforms, datasets, collators.

The pipeline, for pretraining on a Kinetics-style list:

```python
from torch.utils.data import DataLoader
from arvideo_hf import ARVideoConfig
from arvideo_hf.data import PretrainingCollator, VideoClipDataset, read_kinetics_list

config = ARVideoConfig.from_preset("tiny")
source = read_kinetics_list("train.txt", root="videos/")
dataset = VideoClipDataset.for_pretraining(source, config, stride=2, seed=0)
collator = PretrainingCollator(config, seed=0)
for epoch in range(epochs):
    dataset.set_epoch(epoch); collator.set_epoch(epoch)
    for batch in DataLoader(dataset, batch_size=8, shuffle=True, num_workers=2, collate_fn=collator):
        ...  # batch: pixel_values (B, T, C, H, W), cluster_order (B, C), noise (B, N)
print(dataset.num_bad, "videos could not be decoded")
```

`build_demo_dataset()` writes a small labeled dataset from bundled files (no download).
"""

from .collate import ClassificationCollator, PretrainingCollator, stack_pixel_values
from .dataset import BadVideoLog, TooManyBadVideosError, VideoClipDataset
from .decoding import (
    VideoDecodeError,
    VideoHandle,
    VideoMetadata,
    available_backends,
    decode_frames,
    num_frames,
    open_video,
    probe_video,
)
from .demo_dataset import DEMO_CLASSES, build_demo_dataset, default_demo_root, open_demo_dataset
from .sampling import DenseSampler, FrameSampler, SegmentSampler, clip_starts, dense_indices, segment_indices
from .sources import (
    AnnotationError,
    BadLine,
    VideoRecord,
    VideoSource,
    read_class_folder,
    read_kinetics_list,
    read_label_names,
    read_ssv2_json,
    records_from_hf_dataset,
)
from .transforms import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    MULTISCALE_CROP_SCALES,
    EvalTransform,
    GroupMultiScaleCrop,
    PretrainingTransform,
    as_numpy_rng,
)


__all__ = [
    "AnnotationError",
    "BadLine",
    "BadVideoLog",
    "ClassificationCollator",
    "DEMO_CLASSES",
    "DenseSampler",
    "EvalTransform",
    "FrameSampler",
    "GroupMultiScaleCrop",
    "IMAGENET_DEFAULT_MEAN",
    "IMAGENET_DEFAULT_STD",
    "MULTISCALE_CROP_SCALES",
    "PretrainingCollator",
    "PretrainingTransform",
    "SegmentSampler",
    "TooManyBadVideosError",
    "VideoClipDataset",
    "VideoDecodeError",
    "VideoHandle",
    "VideoMetadata",
    "VideoRecord",
    "VideoSource",
    "as_numpy_rng",
    "available_backends",
    "build_demo_dataset",
    "open_demo_dataset",
    "clip_starts",
    "decode_frames",
    "default_demo_root",
    "dense_indices",
    "num_frames",
    "open_video",
    "probe_video",
    "read_class_folder",
    "read_kinetics_list",
    "read_label_names",
    "read_ssv2_json",
    "records_from_hf_dataset",
    "segment_indices",
    "stack_pixel_values",
]
