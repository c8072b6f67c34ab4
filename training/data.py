"""The dataset's channels: the images of each class, and the tf.data pipelines that feed training."""

import keras
import numpy as np
import tensorflow as tf
from job import SEED, TrainingError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def class_files(folder, name):
    class_dir = folder / name
    return sorted(p for p in class_dir.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if class_dir.is_dir() else []


def decode_files(paths, image_size):
    """Decodes and resizes each file; returns the pixels, the paths decoded and the paths that were not."""
    images, kept, skipped = [], [], []
    for path in paths:
        try:
            image = tf.io.decode_image(path.read_bytes(), channels=3, expand_animations=False)
        except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
            skipped.append(str(path))
            continue
        images.append(tf.image.resize(image, (image_size, image_size)).numpy().astype(np.uint8))
        kept.append(path)
    return images, kept, skipped


def load_split(folder, classes, image_size):
    """Decodes every image of every class folder; undecodable files are counted, not fatal.

    Returns the pixels, the class indices, the undecodable paths and the decoded paths."""
    images, labels, skipped, paths = [], [], [], []
    for index, name in enumerate(classes):
        class_dir = folder / name
        files = class_files(folder, name)
        if not files:
            raise TrainingError(
                f"class {name!r} has no images in {class_dir}: every class in 'classes' needs training and "
                f"validation images (prepare a new dataset, or remove the class from the classes config)"
            )
        decoded, kept, failed = decode_files(files, image_size)
        if not decoded:
            raise TrainingError(f"class {name!r} has no decodable images in {class_dir}")
        images.extend(decoded)
        labels.extend([index] * len(decoded))
        paths.extend(kept)
        skipped.extend(failed)
    return np.stack(images), np.array(labels, dtype=np.int32), skipped, paths


def augmentation_layers(enabled, random_flip, random_rotation, random_zoom):
    """Random flip, rotation and zoom, or None when augmentation is off.

    Args:
        enabled: whether to augment at all.
        random_flip: "horizontal", "vertical", "horizontal_and_vertical" or "none".
        random_rotation: the largest rotation, as a fraction of a full turn (0 for none).
        random_zoom: the largest zoom, as a fraction (0 for none).
    """
    if not enabled:
        return None
    layers = []
    if random_flip != "none":
        layers.append(keras.layers.RandomFlip(random_flip, seed=SEED))
    if random_rotation > 0:
        layers.append(keras.layers.RandomRotation(random_rotation, seed=SEED))
    if random_zoom > 0:
        layers.append(keras.layers.RandomZoom(random_zoom, seed=SEED))
    return keras.Sequential(layers, name="augmentation") if layers else None


def as_dataset(images, labels, batch_size, augmentation=None):
    """Batches of float pixels; the training set is shuffled and, if asked, augmented."""
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if augmentation is not None:
        dataset = dataset.shuffle(len(labels), seed=SEED, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y))
    if augmentation is not None:
        # Applied in the input pipeline of the training set only: validation and serving see images as they are.
        dataset = dataset.map(lambda x, y: (augmentation(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def labelled_files(folder, classes):
    """(path, class index) of every image under folder/<Class>/; a class may have none."""
    return [(path, index) for index, name in enumerate(classes) for path in class_files(folder, name)]
