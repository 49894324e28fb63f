#!/usr/bin/env python3
"""Optional: a PaddlePaddle model exported by paddle2onnx into testsuite/models/.

    python3 -m venv /tmp/qcc-paddlevenv
    /tmp/qcc-paddlevenv/bin/pip install paddlepaddle paddle2onnx scikit-learn packaging
    /tmp/qcc-paddlevenv/bin/python tools/models/make_paddle_models.py
    python3 tools/models/reference.py --only paddle_digits

paddle_digits: NCHW (1,1,16,16) digits, same pixels and split as lenet_digits; conv-bn-relu,
AvgPool2D (AveragePool), conv-bn-relu, max pooling, flatten and Linear (MatMul + Add in
paddle2onnx's output), trained a few epochs.
"""

import json
import os
import sys

import numpy as np
import paddle
import paddle.nn as nn

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROOT = os.path.join(REPO, "testsuite", "models")
NAME = "paddle_digits"


def digits_nchw():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)

    def up(a):  # bilinear, align_corners=False (half-pixel), like torch
        t = paddle.to_tensor(a[:, None])
        return nn.functional.interpolate(t, size=(16, 16), mode="bilinear",
                                         align_corners=False).numpy().astype(np.float32)

    return up(xtr), up(xte), ytr, yte


class Net(nn.Layer):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2D(1, 8, 3, padding=1)
        self.b1 = nn.BatchNorm2D(8)
        self.p1 = nn.AvgPool2D(2)
        self.c2 = nn.Conv2D(8, 16, 3, padding=1)
        self.b2 = nn.BatchNorm2D(16)
        self.p2 = nn.MaxPool2D(2)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = self.p1(nn.functional.relu(self.b1(self.c1(x))))
        x = self.p2(nn.functional.relu(self.b2(self.c2(x))))
        return self.fc(paddle.flatten(x, 1))


def main():
    paddle.seed(0)
    np.random.seed(0)
    paddle.set_device("cpu")
    xtr, xte, ytr, yte = digits_nchw()
    net = Net()
    opt = paddle.optimizer.Adam(learning_rate=3e-3, parameters=net.parameters())
    rng = np.random.RandomState(0)
    for _ in range(20):
        net.train()
        perm = rng.permutation(len(xtr))
        for i in range(0, len(xtr), 32):
            idx = perm[i : i + 32]
            loss = nn.functional.cross_entropy(net(paddle.to_tensor(xtr[idx])),
                                               paddle.to_tensor(ytr[idx]))
            loss.backward()
            opt.step()
            opt.clear_grad()
    net.eval()
    logits = net(paddle.to_tensor(xte)).numpy()
    acc = float((logits.argmax(1) == yte).mean())
    print(f"paddle float test accuracy {acc:.4f}")
    d = os.path.join(ROOT, NAME)
    os.makedirs(d, exist_ok=True)
    x_in = xte[:8]
    ref = np.concatenate([net(paddle.to_tensor(x_in[i : i + 1])).numpy() for i in range(8)])
    spec = [paddle.static.InputSpec([1, 1, 16, 16], "float32", "input")]
    paddle.onnx.export(net, os.path.join(d, "model"), input_spec=spec, opset_version=13)
    np.save(os.path.join(d, "input.npy"), x_in)
    np.save(os.path.join(d, "calib.npy"), xtr[np.random.RandomState(0).choice(len(xtr), 100,
                                                                              replace=False)])
    np.save(os.path.join(d, "test_x.npy"), xte)
    np.save(os.path.join(d, "test_y.npy"), yte)
    np.savez(os.path.join(d, "torch_ref.npz"), logits=ref.astype(np.float32))
    import paddle2onnx

    meta = {
        "name": NAME, "source": "tools/models/make_paddle_models.py",
        "producer": f"paddlepaddle {paddle.__version__}, paddle2onnx "
                    f"{paddle2onnx.__version__} via paddle.onnx.export opset 13",
        "trained": True, "float_test_accuracy_torch": None,
        "float_test_accuracy_paddle": acc, "dataset": "sklearn-digits",
        "preprocessing": "sklearn digits /16 -> [0,1], resized 8x8 -> 16x16 bilinear "
                         "(align_corners=False), NCHW (1,16,16); same split as lenet_digits",
        "notes": "PaddlePaddle net exported by paddle2onnx.",
    }
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {d}/model.onnx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
