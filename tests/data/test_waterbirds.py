import cv2
import numpy as np
import pytest

from causal_transforms.data.waterbirds import load_waterbirds


def _write_folder(root, masks_root=None):
    rng = np.random.default_rng(0)
    rows = ["img_id,img_filename,y,split,place,place_filename"]
    for i in range(6):
        rel = f"{i:03d}.Bird_{i % 2}/img_{i}.jpg"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / rel), rng.integers(0, 256, (40 + i, 50, 3), dtype=np.uint8))
        rows.append(f"{i},{rel},{i % 2},{i % 3},{(i // 2) % 2},/x/y.jpg")
        if masks_root is not None:
            (masks_root / rel).parent.mkdir(parents=True, exist_ok=True)
            m = np.zeros((40 + i, 50), np.uint8)
            m[10:30, 10:40] = 255
            cv2.imwrite(str((masks_root / rel).with_suffix(".png")), m)
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")


def test_loads_wilds_layout_with_masks(tmp_path):
    root, masks = tmp_path / "waterbirds", tmp_path / "segmentations"
    root.mkdir()
    masks.mkdir()
    _write_folder(root, masks)
    train = load_waterbirds(root, "train", masks=masks, size=32)
    assert len(train) == 2  # rows 0 and 3
    assert train.images.shape == (2, 32, 32, 3) and train.masks.shape == (2, 32, 32)
    assert train.labels.tolist() == [0, 1] and train.places.tolist() == [0, 1]
    assert set(np.unique(train.masks)) == {0, 1}
    assert train.masks[:, 16, 16].tolist() == [1, 1] and train.masks[:, 0, 0].tolist() == [0, 0]
    test = load_waterbirds(root, "test", size=32)
    assert len(test) == 2 and test.masks.sum() == 0
    assert test.groups.tolist() == [2 * y + p for y, p in zip(test.labels, test.places)]


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"metadata\.csv"):
        load_waterbirds(tmp_path)
    root = tmp_path / "wb"
    root.mkdir()
    _write_folder(root)
    with pytest.raises(ValueError, match="split"):
        load_waterbirds(root, "holdout")
    with pytest.raises(ValueError, match="masks: no mask for"):
        load_waterbirds(root, "train", masks=tmp_path / "nothing")
    with pytest.raises(ValueError, match="size"):
        load_waterbirds(root, "train", size=None)
    (root / "metadata.csv").write_text("img_filename,y\n")
    with pytest.raises(ValueError, match="lacks the columns"):
        load_waterbirds(root)
