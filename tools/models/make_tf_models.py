#!/usr/bin/env python3
"""Optional: models from other converters (TensorFlow/Keras via tf2onnx, and TFLite via
tflite2onnx) into testsuite/models/. Needs a separate virtualenv (tensorflow-cpu, tf2onnx,
tflite2onnx pin protobuf/onnx versions that clash with the reference python):

    python3 -m venv /tmp/qcc-tfvenv
    /tmp/qcc-tfvenv/bin/pip install tensorflow-cpu tf2onnx tflite2onnx scikit-learn
    /tmp/qcc-tfvenv/bin/python tools/models/make_tf_models.py [--only keras_digits_tf2onnx]
    python3 tools/models/reference.py --only keras_digits_tf2onnx --only keras_digits_tflite

The Keras net takes NHWC input (1,16,16,1): digits /16 resized 8x8 -> 16x16 bilinear (same
pixels as lenet_digits, transposed to NHWC). It has an explicit ZeroPadding2D (-> Pad), a
strided 'same' conv (TF's asymmetric padding), BatchNormalization, DepthwiseConv2D, a
ZeroPadding2D before max pooling (an ONNX Pad that cannot be fused) and an NHWC Flatten before Dense, so the ONNX graph has layout Transposes.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROOT = os.path.join(REPO, "testsuite", "models")
SRC = "tools/models/make_tf_models.py"
N_INPUT, N_CALIB = 8, 100


def digits_nhwc():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)

    def up(a):  # bilinear, half-pixel centers == torch align_corners=False (no antialias)
        t = tf.image.resize(a[..., None], (16, 16), method="bilinear", antialias=False)
        return t.numpy().astype(np.float32)

    return up(xtr), up(xte), ytr, yte


def build_keras():
    tf.keras.utils.set_random_seed(0)
    L = tf.keras.layers
    inp = tf.keras.Input((16, 16, 1), batch_size=1, name="input")
    x = L.ZeroPadding2D(((1, 1), (1, 1)))(inp)
    x = L.Conv2D(16, 3, padding="valid", activation="relu")(x)  # 16x16
    x = L.Conv2D(32, 3, strides=2, padding="same", use_bias=False)(x)  # 8x8, asym pad
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.ZeroPadding2D(((0, 1), (0, 1)))(x)  # 9x9: stays a Pad op (not fusable into MaxPool)
    x = L.MaxPooling2D(2)(x)  # 4x4
    x = L.Flatten()(x)
    out = L.Dense(10, name="logits")(x)
    return tf.keras.Model(inp, out)


def write_common(name, x_in, calib, trained_acc, producer, notes, outs, test_x=None,
                 test_y=None):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "input.npy"), x_in)
    np.save(os.path.join(d, "calib.npy"), calib)
    np.savez(os.path.join(d, "torch_ref.npz"), **outs)  # framework reference (TF here)
    if test_x is not None:
        np.save(os.path.join(d, "test_x.npy"), test_x)
        np.save(os.path.join(d, "test_y.npy"), test_y)
    meta = {
        "name": name, "source": SRC, "producer": producer, "trained": True,
        "float_test_accuracy_torch": None, "float_test_accuracy_tf": trained_acc,
        "dataset": "sklearn-digits",
        "preprocessing": "sklearn digits /16 -> [0,1], resized 8x8 -> 16x16 bilinear "
                         "(half-pixel, no antialias), NHWC (16,16,1); same split as "
                         "lenet_digits",
        "layout": "NHWC", "notes": notes,
    }
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    return d


def nchw_if_converted(d):
    """tflite2onnx rewrites the graph input to NCHW (1,1,16,16): store the data likewise."""
    import onnx

    m = onnx.load(os.path.join(d, "model.onnx"))
    shape = [x.dim_value for x in m.graph.input[0].type.tensor_type.shape.dim]
    if shape != [1, 1, 16, 16]:
        return
    for f in ("input.npy", "calib.npy", "test_x.npy"):
        a = np.load(os.path.join(d, f))
        np.save(os.path.join(d, f), np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    meta["layout"] = "NCHW (tflite2onnx moved the layout transposes inside the graph)"
    meta["preprocessing"] = meta["preprocessing"].replace("NHWC (16,16,1)", "NCHW (1,16,16)")
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append",
                    choices=["keras_digits_tf2onnx", "keras_digits_tflite"])
    args = ap.parse_args()
    todo = args.only or ["keras_digits_tf2onnx", "keras_digits_tflite"]
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    xtr, xte, ytr, yte = digits_nhwc()
    # train a batch-free twin (fast, batch 32), then copy its weights into the batch-1 model
    tf.keras.utils.set_random_seed(0)
    free = tf.keras.models.clone_model(build_keras(),
                                       input_tensors=tf.keras.Input((16, 16, 1)))
    free.compile(optimizer=tf.keras.optimizers.Adam(3e-3),
                 loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 metrics=["accuracy"])
    print("training keras digits net")
    free.fit(xtr, ytr, batch_size=32, epochs=25, verbose=0, shuffle=True)
    model = build_keras()
    model.set_weights(free.get_weights())
    logits = np.concatenate([model(xte[i : i + 1], training=False).numpy()
                             for i in range(len(xte))])
    acc = float((logits.argmax(1) == yte).mean())
    print(f"keras float test accuracy {acc:.4f}")
    rng = np.random.RandomState(0)
    calib = xtr[rng.choice(len(xtr), N_CALIB, replace=False)]
    x_in = xte[:N_INPUT]
    ref = np.concatenate([model(x_in[i : i + 1], training=False).numpy()
                          for i in range(N_INPUT)]).astype(np.float32)

    if "keras_digits_tf2onnx" in todo:
        import tf2onnx

        spec = (tf.TensorSpec((1, 16, 16, 1), tf.float32, name="input"),)
        fn = tf.function(lambda x: model(x, training=False))
        name = "keras_digits_tf2onnx"
        d = write_common(name, x_in, calib, acc,
                         f"tf {tf.__version__} keras, tf2onnx {tf2onnx.__version__} "
                         "convert.from_function opset 13",
                         "Keras CNN (NHWC) converted by tf2onnx: layout Transposes, Pad.",
                         {"logits": ref}, test_x=xte, test_y=yte)
        model_proto, _ = tf2onnx.convert.from_function(
            fn, input_signature=spec, opset=13, output_path=None)
        # name the single output "logits" for a stable key in expected.npz
        old = model_proto.graph.output[0].name
        for n in model_proto.graph.node:
            n.output[:] = ["logits" if o == old else o for o in n.output]
        model_proto.graph.output[0].name = "logits"
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(model_proto.SerializeToString())
        print(f"wrote {d}/model.onnx")

    if "keras_digits_tflite" in todo:
        import tflite2onnx

        name = "keras_digits_tflite"
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        tfl = conv.convert()
        tfl_path = f"/tmp/{name}.tflite"
        with open(tfl_path, "wb") as f:
            f.write(tfl)
        d = write_common(name, x_in, calib, acc,
                         f"tf {tf.__version__} TFLiteConverter (float), tflite2onnx "
                         f"{getattr(tflite2onnx, '__version__', '?')}",
                         "Same Keras net via TFLite flatbuffer and tflite2onnx.",
                         {"logits": ref}, test_x=xte, test_y=yte)
        tflite2onnx.convert(tfl_path, os.path.join(d, "model.onnx"))
        nchw_if_converted(d)
        print(f"wrote {d}/model.onnx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
