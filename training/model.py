"""MobileNetV2 with a new head: the base weights (a channel, or Keras's download), batch-norm
statistics, and compiling each phase.
"""

import hashlib

import keras
import tensorflow as tf
from job import TrainingError

# Before fine-tuning, the new head learns on the frozen base with a larger step than fine-tuning's.
HEAD_LEARNING_RATE = 1e-3
L2_WEIGHT = 1e-4


def base_weights_file(base_weights, base_weights_dir):
    """The weights file the base_weights channel delivers, or None to let Keras fetch them.

    With the channel the job needs no network: SageMaker copies the file from the models
    bucket, so the job runs under network isolation.

    Args:
        base_weights: "imagenet" or "none" (random weights, for tests).
        base_weights_dir: the channel's folder, or None without the channel.
    """
    if base_weights != "imagenet" or base_weights_dir is None:
        return None
    files = sorted(base_weights_dir.glob("*.h5"))
    if len(files) != 1:
        raise TrainingError(
            f"the base_weights channel ({base_weights_dir}) must hold one .h5 weights file, found "
            f"{len(files)}: run 'pulumi up' to upload the MobileNetV2 weights to the models bucket"
        )
    digest = hashlib.sha256(files[0].read_bytes()).hexdigest()
    print(f"base weights: {files[0].name} sha256={digest}", flush=True)
    return files[0]


def build_model(num_classes, image_size, dropout_rate, base_weights, base_weights_dir):
    """MobileNetV2 (frozen) under a new head: pooling, dropout and a softmax over the classes.

    Args:
        num_classes: the classes, in model-output order.
        image_size: the side of the square input, in pixels.
        dropout_rate: dropout before the head's dense layer.
        base_weights: "imagenet" or "none" (random weights).
        base_weights_dir: the base_weights channel's folder, or None.
    """
    size = image_size
    inputs = keras.Input(shape=(size, size, 3), name="image")
    # MobileNetV2's own preprocessing, inside the model: pixels 0..255 to -1..1.
    x = keras.layers.Rescaling(1 / 127.5, offset=-1, name="mobilenet_v2_preprocess")(inputs)
    weights_file = base_weights_file(base_weights, base_weights_dir)
    base = keras.applications.MobileNetV2(
        input_shape=(size, size, 3),
        include_top=False,
        weights=None if base_weights == "none" else str(weights_file) if weights_file else "imagenet",
    )
    base.trainable = False
    # training=False keeps BatchNormalization in inference mode even when the base is unfrozen,
    # so fine-tuning on a small dataset does not wreck the pretrained statistics.
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pooling")(x)
    x = keras.layers.Dropout(dropout_rate, name="dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", kernel_regularizer=keras.regularizers.L2(L2_WEIGHT), name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name="bootboots_mobilenet_v2")


def calibrate_batch_norm(model, images):
    """Sets BatchNormalization statistics from the training images, for a base without weights.

    Random weights come with placeholder statistics (mean 0, variance 1) under which the
    features vanish in inference mode; one pass with momentum 0 replaces them.
    """
    base = base_of(model)
    layers = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    base.trainable = True
    for layer in layers:
        layer.momentum = 0.0
    pixels = model.get_layer("mobilenet_v2_preprocess")(tf.cast(images[:256], tf.float32))
    base(pixels, training=True)
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    base.trainable = False


def pooled_features(model, images):
    """The pooled base features the head classifies, for each image: what near-copies are measured on."""
    features = keras.Model(model.input, model.get_layer("pooling").output)
    return features.predict(images.astype("float32"), batch_size=64, verbose=0)


def base_of(model):
    return next(layer for layer in model.layers if layer.name.startswith("mobilenetv2"))


def compile_for(model, phase, learning_rate, train_only_top_layer):
    """Compiles the model for a phase: the head alone on the frozen base, or fine-tuning all of it.

    learning_rate is the rate of the last phase: fine-tuning, or the head alone with train_only_top_layer.
    """
    base_of(model).trainable = phase == "fine_tune"
    rate = HEAD_LEARNING_RATE if phase == "head" and not train_only_top_layer else learning_rate
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
